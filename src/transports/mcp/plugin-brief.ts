/**
 * A study's plug-in as describe_study shows it to an agent: the options the user set (those that
 * differ from the plug-in's defaults, read from the catalogue's JSON Schema) and a count of the
 * rest, instead of every resolved option (an `auto` study printed 23 of them, all defaults, in the
 * text and again in the structured content).
 */
import { firstSentence } from "../../service/summary.js";
import type { StudyView } from "../../service/views.js";

type Plugin = NonNullable<StudyView["scheduler"]>;

/** The catalogue entries this needs: a plug-in's kind, name, description and options' JSON Schema. */
export interface CatalogueEntry {
  kind: string;
  name: string;
  description: string;
  options: Record<string, unknown>;
}

export interface PluginBrief {
  /** The options that differ from the plug-in's defaults (all of them when its schema is unknown). */
  set: Record<string, unknown>;
  /** How many options are left out as defaults. */
  atDefault: number;
  /** The first sentence of the plug-in's description: what it does with these options. */
  does: string | null;
}

/**
 * Splits `p.options` into those set and those at their default. An option with no default in the
 * schema counts as set unless it is an empty object (a nested plug-in's options left empty).
 */
export function pluginBrief(p: Plugin, kind: "strategy" | "scheduler", catalogue: readonly CatalogueEntry[]): PluginBrief {
  const entry = catalogue.find((c) => c.kind === kind && c.name === p.name);
  const props = (entry?.options.properties ?? undefined) as Record<string, { default?: unknown }> | undefined;
  if (!props) return { set: p.options, atDefault: 0, does: null };
  const set: Record<string, unknown> = {};
  let atDefault = 0;
  for (const [k, v] of Object.entries(p.options)) {
    const d = props[k];
    const isDefault =
      d !== undefined && "default" in d ? JSON.stringify(d.default) === JSON.stringify(v) : v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0;
    if (isDefault) atDefault++;
    else set[k] = v;
  }
  return { set, atDefault, does: entry ? firstSentence(entry.description) : null };
}

/** One line: `auto, set: {...} (22 options at their defaults: full_options true lists them)`. */
export function pluginLine(p: Plugin, b: PluginBrief): string {
  // A plug-in this server lacks: its options as stored (no defaults to tell them from).
  if (b.does === null) return `${p.name} ${JSON.stringify(p.options)}`;
  const set = Object.keys(b.set).length > 0 ? ` set: ${JSON.stringify(b.set)}` : b.atDefault > 0 ? " with its defaults" : "";
  const rest = b.atDefault > 0 ? ` (${b.atDefault} ${b.atDefault === 1 ? "option" : "options"} at ${b.atDefault === 1 ? "its default" : "their defaults"}: describe_study with full_options true lists them)` : "";
  return `${p.name}${set}${rest}${b.does ? `. ${b.does}` : ""}`;
}
