/**
 * An agent on a study whose plug-in the server lacks (made by a server started with `--plugins`,
 * served by one that was not: `PluginCatalogue.loadStrategy`'s stand-in). The refusals' next step
 * says what lifts them (the module, or a switch with update_study), not what other
 * FAILED_PRECONDITIONs need ("call update_study again" after an ask; "the trial is finished" after a
 * report of a running trial). Driven through the SDK's real Client over the in-memory transport.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, expect, it } from "vitest";
import { z } from "zod";
import type { SchedulerFactory, StrategyFactory } from "../../domain/plugin.js";
import { silentLogger } from "../../logger.js";
import { BUILTIN_SCHEDULERS, BUILTIN_STRATEGIES } from "../../service/plugins.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { type MemoryMcp, memoryMcp } from "../../testing/mcp-memory.js";

const dirs: string[] = [];
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const corner: StrategyFactory<Record<string, never>> = {
  name: "corner",
  description: "Every parameter's lower end (a test plug-in).",
  options: z.object({}).strict(),
  create: () => ({ suggest: (req) => ({ params: Object.fromEntries(Object.entries(req.study.space).map(([k, d]) => [k, d.type === "categorical" ? (d.choices[0] ?? null) : d.low])) }) }),
};
const never: SchedulerFactory<Record<string, never>> = {
  name: "never",
  description: "Prunes nothing (a test plug-in).",
  options: z.object({}).strict(),
  create: () => ({ onReport: () => null }),
};

/** A service on the database at `path`, with the test plug-ins or without; closed after the test. */
async function service(path: string, withPlugins: boolean): Promise<StudyService> {
  const storage = new SqliteStorage({ path });
  open.push(storage);
  const plugins = withPlugins ? { strategies: [...BUILTIN_STRATEGIES.values(), corner], schedulers: [...BUILTIN_SCHEDULERS.values(), never] } : {};
  const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, ...plugins });
  open.push(svc);
  return svc;
}

it("an ask and a report refused for a plug-in this server lacks say to restart with it or switch it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tuneport-missing-"));
  dirs.push(dir);
  const path = join(dir, "s.db");
  const made = await service(path, true);
  await made.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "corner", scheduler: "never" });
  const running = await made.ask({ study: "s" });
  for (const o of open.splice(0).reverse()) await o.close();

  const rig: MemoryMcp = await memoryMcp({ service: await service(path, false) });
  open.push(rig);
  const call = async (name: string, args: Record<string, unknown>) => (await rig.client.callTool({ name, arguments: args })) as CallToolResult;
  const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");

  const asked = textOf(await call("ask_trial", { study: "s" }));
  expect(asked).toContain("strategy 'corner' is not one this server has");
  expect(asked).toMatch(/\nNext step: .*--plugins.*update_study.*strategy/);
  const reported = textOf(await call("report_intermediate", { study: "s", trial: running.trial.number, token: running.lease.token, step: 1, value: 0.5 }));
  expect(reported).toContain("scheduler 'never' is not one this server has");
  expect(reported).toMatch(/\nNext step: .*--plugins.*update_study.*scheduler/);
  expect(reported).not.toContain("already finished");
  // The study's briefing says so before any ask (it named the plug-ins without a word).
  const summary = textOf(await call("study_summary", { study: "s" }));
  expect(summary).toMatch(/corner.*a plug-in this server was not started with \(--plugins\)/);
  expect(summary).toMatch(/never.*a plug-in this server was not started with \(--plugins\)/);
  // describe_study too (it showed "strategy: corner {}" as if it ran), with what to do.
  const described = await call("describe_study", { study: "s" });
  expect(textOf(described)).toContain("strategy: corner {} (MISSING: a plug-in this server was not started with, so ask_trial and workers' asks are refused: restart the server with --plugins FILE");
  expect(textOf(described)).toContain("scheduler: never {} (MISSING: a plug-in this server was not started with, so reports are refused");
  expect(described.structuredContent?.missing_plugins).toEqual([{ kind: "strategy", name: "corner" }, { kind: "scheduler", name: "never" }]);
  await call("create_study", { name: "plain", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", scheduler: "median" });
  const plain = await call("describe_study", { study: "plain" });
  expect(textOf(plain)).not.toContain("MISSING");
  expect(plain.structuredContent).not.toHaveProperty("missing_plugins");
});
