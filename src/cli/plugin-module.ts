/**
 * `--plugins FILE` of `serve` and `mcp`: a JavaScript module whose `plugins` export is the
 * catalogue the server offers (docs/PLUGINS.md: `BUILTIN_PLUGINS.with({ strategies: [mine] })`).
 * The service takes the catalogue, and the suggestion threads import the same module by URL, so
 * an offloaded custom strategy is built the same way on both sides.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import type { PluginCatalogue } from "../service/plugins.js";
import { UsageError, fileProblem } from "./command.js";
import { terminalSafe } from "./terminal.js";

export interface PluginModule {
  readonly catalogue: PluginCatalogue;
  /** The module's file URL, for the suggestion threads (`WorkerRunnerOptions.catalogue`). */
  readonly url: string;
}

/** The --plugins line of a command's help, its description starting at column `col`. */
export function pluginsHelp(col: number): string {
  const pad = (text: string) => `${" ".repeat(col)}${text}`;
  return [
    `  --plugins FILE`.padEnd(col) + "a JavaScript module whose 'plugins' export is the strategies",
    pad("and schedulers studies may name: BUILTIN_PLUGINS.with({ strategies:"),
    pad("[yours] }) (docs/PLUGINS.md) [the built-ins]"),
  ].join("\n");
}

/** Imports `path` and checks its `plugins` export. @throws UsageError saying what is wrong with the file. */
export async function loadPluginModule(path: string): Promise<PluginModule> {
  const abs = resolve(path);
  const where = `--plugins ${terminalSafe(path)}`;
  if (!existsSync(abs)) throw new UsageError(`${where}: no such file`);
  if (!statSync(abs).isFile()) throw new UsageError(`${where}: not a file (give the module's .js or .mjs file)`);
  const url = pathToFileURL(abs).href;
  let m: { plugins?: Partial<PluginCatalogue> };
  try {
    m = (await import(url)) as typeof m;
  } catch (err) {
    const why = fileProblem(err) ?? (err instanceof Error ? err.message : String(err));
    throw new UsageError(`${where}: the module failed to load: ${terminalSafe(why.split("\n")[0] ?? "")}`);
  }
  const p = m.plugins;
  if (typeof p?.createStrategy !== "function" || typeof p.strategyNames !== "function" || typeof p.describe !== "function")
    throw new UsageError(
      `${where}: the module has no 'plugins' export holding a catalogue; write export const plugins = BUILTIN_PLUGINS.with({ strategies: [yourFactory] }) (import { BUILTIN_PLUGINS } from "tuneport"; docs/PLUGINS.md)`,
    );
  const catalogue = p as PluginCatalogue;
  // Every option schema is described now: one that is not a zod schema made the catalogue op
  // answer INTERNAL to every client, and `create` never reached it.
  for (const name of catalogue.strategyNames()) describable(where, "strategy", name, () => catalogue.strategy(name)?.options);
  for (const name of catalogue.schedulerNames()) describable(where, "scheduler", name, () => catalogue.scheduler(name)?.options);
  return { catalogue, url };
}

function describable(where: string, kind: string, name: string, options: () => unknown): void {
  try {
    z.toJSONSchema(options() as z.ZodType, { unrepresentable: "any", io: "input" });
  } catch (err) {
    throw new UsageError(`${where}: ${kind} '${terminalSafe(name)}' has options that are not a zod schema (${terminalSafe(err instanceof Error ? err.message : String(err))}); see docs/PLUGINS.md`);
  }
}
