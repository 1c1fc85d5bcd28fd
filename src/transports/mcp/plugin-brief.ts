/**
 * A study's plug-in as describe_study shows it to an agent: the options the user gave when the
 * plug-in was set (an explicit default included), those derived from them, and a count of the
 * rest (defaults read from the catalogue's JSON Schema), instead of every resolved option (an
 * `auto` study printed 23 of them, all defaults, in the text and again in the structured content).
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
  /**
   * The options given by the request that set the plug-in (create_study, or update_study), at
   * their default or not; for a study stored before those names were kept, the options that differ
   * from the plug-in's defaults (all of them when its schema is unknown).
   */
  set: Record<string, unknown>;
  /** Options not given whose value is not the schema's default: derived from other options or the study's budget. */
  derived: Record<string, unknown>;
  /** How many options are left out as defaults. */
  atDefault: number;
  /** The first sentence of the plug-in's description: what it does with these options. */
  does: string | null;
}

/**
 * Splits `p.options` into those set (named in `given`, the names the request that set the plug-in
 * gave: `StudyView.options_given`), those derived (not given, yet not at the schema's default) and
 * those at their default. Without `given` (a study stored before it was kept) an option is set when
 * it differs from its default. An option with no default in the schema counts as at its default
 * only when it is an empty object (a nested plug-in's options left empty).
 */
export function pluginBrief(p: Plugin, kind: "strategy" | "scheduler", catalogue: readonly CatalogueEntry[], given?: readonly string[] | null): PluginBrief {
  const entry = catalogue.find((c) => c.kind === kind && c.name === p.name);
  const props = (entry?.options.properties ?? undefined) as Record<string, { default?: unknown }> | undefined;
  if (!props) return { set: p.options, derived: {}, atDefault: 0, does: null };
  const set: Record<string, unknown> = {};
  const derived: Record<string, unknown> = {};
  let atDefault = 0;
  for (const [k, v] of Object.entries(p.options)) {
    const d = props[k];
    const isDefault =
      d !== undefined && "default" in d ? JSON.stringify(d.default) === JSON.stringify(v) : v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0;
    if (given ? given.includes(k) : !isDefault) set[k] = v;
    else if (isDefault) atDefault++;
    else derived[k] = v;
  }
  return { set, derived, atDefault, does: entry ? firstSentence(entry.description) : null };
}

/** One line: `auto, set: {...} (22 options at their defaults: full_options true lists them)`. */
export function pluginLine(p: Plugin, b: PluginBrief): string {
  // A plug-in this server lacks: its options as stored (no defaults to tell them from).
  if (b.does === null) return `${p.name} ${JSON.stringify(p.options)}`;
  const hasDerived = Object.keys(b.derived).length > 0;
  const set = Object.keys(b.set).length > 0 ? ` set: ${JSON.stringify(b.set)}` : b.atDefault > 0 && !hasDerived ? " with its defaults" : "";
  const derived = hasDerived ? ` derived: ${JSON.stringify(b.derived)} (not given: from other options or the study's budget)` : "";
  const rest = b.atDefault > 0 ? ` (${b.atDefault} ${b.atDefault === 1 ? "option" : "options"} at ${b.atDefault === 1 ? "its default" : "their defaults"}: describe_study with full_options true lists them)` : "";
  return `${p.name}${set}${derived}${rest}${b.does ? `. ${b.does}` : ""}`;
}
