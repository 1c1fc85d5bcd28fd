/**
 * Issue 14 §1 at the issue's scale: a study of 500 finished trials with 30 parameters, 300 more
 * studies (301 in all), and 200 queued proposals with 4,000-character rationales. Every tool's
 * result must fit its character budget (8,000 by default, `max_chars` up to the hard cap), pages
 * must continue by cursor without losing or repeating anything, plots must stay within 1600x1000
 * pixels and 1 MB, and `tools/list` must stay under 12,000 characters without `$schema` lines or
 * ±9007199254740991 bounds. `PRINT_SIZES=1` prints the measured sizes (docs/BENCHMARKS.md).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { serviceBackend } from "./backend.js";
import { DEFAULT_MAX_CHARS, HARD_MAX_CHARS, resultChars } from "./budget.js";
import { type TuneportMcp, createTuneportMcp } from "./mcp-server.js";
import { textOf } from "../../testing/mcp-session.js";

const N_PARAMS = 30;
const N_TRIALS = 500;
const N_OTHER_STUDIES = 300;
const N_QUEUED = 200;
const RATIONALE = `${"Explore the corner where the learning rate is high and the batch is small, because ".repeat(50)}`.slice(0, 4000);

let storage: SqliteStorage;
let service: StudyService;
let mcp: TuneportMcp;
let client: Client;
const sizes: [string, number, number][] = [];

beforeAll(async () => {
  storage = new SqliteStorage({ path: ":memory:" });
  service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  const space = Object.fromEntries(Array.from({ length: N_PARAMS }, (_, i) => [`param_${String(i).padStart(2, "0")}`, { type: "float", low: 0, high: 1 }]));
  await service.execute("create_study", { name: "big", space, strategy: "random", scheduler: "median", seed: 14 });
  for (let i = 0; i < N_TRIALS; i++) {
    const a = await service.execute("ask", { study: "big" });
    const p = a.trial.params as Record<string, number>;
    const v = Object.entries(p).reduce((s, [k, x]) => s + (k < "param_03" ? 10 : 0.1) * (x - 0.3) ** 2, 0);
    const trial = a.trial.number;
    const token = a.lease.token;
    for (let step = 1; step <= 3; step++) await service.execute("report", { study: "big", trial, token, step, value: v + 1 / step });
    if (i % 50 === 49) await service.execute("tell", { study: "big", trial, token, state: "FAIL", reason: `out of memory: ${"x".repeat(1900)}` });
    else await service.execute("tell", { study: "big", trial, token, state: "COMPLETE", value: v, user_attrs: { epochs: 3, host: `gpu-${i % 8}` } });
  }
  for (let i = 0; i < N_QUEUED; i++) await service.execute("enqueue", { study: "big", params: { param_00: (i + 0.5) / N_QUEUED }, rationale: RATIONALE });
  for (let i = 0; i < N_OTHER_STUDIES; i++)
    await service.execute("create_study", { name: `other-${String(i).padStart(3, "0")}`, space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
  mcp = createTuneportMcp(serviceBackend(service), { logger: silentLogger(), version: "test" });
  const [a, b] = InMemoryTransport.createLinkedPair();
  client = new Client({ name: "budget", version: "1" });
  await mcp.server.connect(a);
  await client.connect(b);
}, 600_000);

afterAll(async () => {
  if (process.env.PRINT_SIZES)
    process.stdout.write(`\n| call | characters | budget |\n|---|---|---|\n${sizes.map(([c, n, b]) => `| ${c} | ${n} | ${b} |`).join("\n")}\n`);
  await client.close();
  mcp.dispose();
  await service.close();
  await storage.close();
});

/** Calls a tool, checks its result fits the budget and is no error, and records its size. */
async function sized(label: string, name: string, args: Record<string, unknown>, record = true): Promise<CallToolResult> {
  const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const budget = typeof args.max_chars === "number" ? args.max_chars : DEFAULT_MAX_CHARS;
  const n = resultChars(r);
  if (record) sizes.push([label, n, budget]);
  expect(r.isError, `${label}: ${JSON.stringify(r.content).slice(0, 300)}`).toBeFalsy();
  expect(n, label).toBeLessThanOrEqual(budget);
  return r;
}
const sc = (r: CallToolResult) => r.structuredContent as Record<string, any>;

describe("bounded MCP outputs on the issue's study", () => {
  it("keeps tools/list under 12,000 characters without $schema or ±2^53-1 bounds", async () => {
    const list = await client.listTools();
    const json = JSON.stringify(list);
    sizes.push(["tools/list", json.length, 12_000]);
    expect(json.length).toBeLessThanOrEqual(12_000);
    expect(json).not.toContain("$schema");
    expect(json).not.toContain("9007199254740991");
    // An enum keeps its type: JSON Schema validates the enum alone, but clients that translate tool
    // schemas into OpenAPI-style function declarations (Gemini's) require a type on every property.
    expect(json).toContain('"sort":{"type":"string","enum":["number","value"]}');
    for (const t of list.tools) expect(t.outputSchema, `${t.name} has an outputSchema`).toBeDefined();
  });

  it("fits every tool's result in the default budget on the big study", async () => {
    const lt = await sized("list_trials limit 200", "list_trials", { study: "big", limit: 200 });
    expect(sc(lt).total).toBe(N_TRIALS + N_QUEUED);
    expect(sc(lt).shown).toBeGreaterThan(0);
    expect(sc(lt).next_cursor).toEqual(expect.any(String));
    expect(textOf(lt)).toMatch(/More trials follow: call list_trials .* with cursor "/);
    await sized("list_trials by value", "list_trials", { study: "big", sort: "value", limit: 200 });
    await sized("list_trials WAITING", "list_trials", { study: "big", states: ["WAITING"], limit: 200 });
    await sized("list_trials FAIL", "list_trials", { study: "big", states: ["FAIL"], limit: 200 });
    const bt = await sized("best_trials k=50", "best_trials", { study: "big", k: 50 });
    expect(sc(bt).trials[0].state).toBe("COMPLETE");
    await sized("best_trials k=50 params 3", "best_trials", { study: "big", k: 50, params: ["param_00", "param_01", "param_02"] });
    const sum = await sized("study_summary", "study_summary", { study: "big" });
    expect(sc(sum).queued_total).toBe(N_QUEUED);
    expect(sc(sum).queued.length).toBeLessThanOrEqual(5);
    expect(textOf(sum)).toContain(`and ${N_QUEUED - 5} more, use list_trials with states ["WAITING"]`);
    await sized("list_studies", "list_studies", {});
    await sized("describe_study", "describe_study", { study: "big" });
    await sized("get_trial (failed, long reason)", "get_trial", { study: "big", trial: 49 });
    await sized("get_trial (queued, 4,000-char rationale)", "get_trial", { study: "big", trial: N_TRIALS });
    await sized("param_importances", "param_importances", { study: "big" });
    await sized("wait_for_progress", "wait_for_progress", { study: "big", timeout_s: 0 });
    await sized("list_strategies", "list_strategies", {});
    await sized("export_study", "export_study", { study: "big" });
    await sized("update_study (notes)", "update_study", { study: "big", notes: RATIONALE });
    await sized("get_trajectory", "get_trajectory", { study: "big", trial: 1 });
    await sized("enqueue_trial", "enqueue_trial", { study: "big", params: { param_01: 0.5 }, rationale: RATIONALE });
    const ask = sc(await sized("ask_trial", "ask_trial", { study: "big" }));
    await sized("report_intermediate", "report_intermediate", { study: "big", trial: ask.trial.number, token: ask.token, step: 1, value: 1 });
    await sized("tell_trial", "tell_trial", { study: "big", trial: ask.trial.number, token: ask.token, value: 1 });
    await sized("set_user_attrs", "set_user_attrs", { study: "big", attrs: { note: "x".repeat(20_000) } });
    await sized("create_study (load_if_exists)", "create_study", { name: "big", load_if_exists: true });
    const d = await sized("describe_study (a 20,000-character study note)", "describe_study", { study: "big" });
    expect(sc(d).study.user_attrs.keys).toEqual(["note"]);
  });

  it("honours max_chars per call up to the hard cap, and refuses more", async () => {
    const small = await sized("list_trials max_chars 3000", "list_trials", { study: "big", limit: 200, max_chars: 3000 });
    const large = await sized(`list_trials max_chars ${HARD_MAX_CHARS}`, "list_trials", { study: "big", limit: 200, max_chars: HARD_MAX_CHARS });
    expect(sc(large).shown).toBeGreaterThan(sc(small).shown);
    const over = (await client.callTool({ name: "list_trials", arguments: { study: "big", max_chars: HARD_MAX_CHARS + 1 } })) as CallToolResult;
    expect(over.isError).toBe(true);
    expect(textOf(over)).toMatch(/max_chars[\s\S]*Next step:/);
  });

  it("pages through every trial and every study by cursor, each page within budget", async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const r = await sized("list_trials limit 200 fields [state, value], any page", "list_trials", { study: "big", limit: 200, fields: ["state", "value"], cursor }, page === 0);
      for (const t of sc(r).trials) {
        expect(Object.keys(t).sort()).toEqual(["number", "state", "value"]);
        seen.push(t.number);
      }
      cursor = sc(r).next_cursor ?? undefined;
      if (!cursor) break;
    }
    const total = (await service.execute("get_study", { study: "big" })).study.n_trials;
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));

    const names: string[] = [];
    cursor = undefined;
    for (let page = 0; page < 1000; page++) {
      const r = await sized("list_studies limit 500, any page", "list_studies", { limit: 500, cursor }, page === 0);
      names.push(...sc(r).studies.map((s: { name: string }) => s.name));
      cursor = sc(r).next_cursor ?? undefined;
      if (!cursor) break;
    }
    expect(names.length).toBe(1 + N_OTHER_STUDIES);
    expect(new Set(names).size).toBe(names.length);
  });

  it("draws parallel coordinates of the top parameters within 1600x1000 px and 1 MB", async () => {
    const r = await sized("plot parallel_coordinates", "plot", { study: "big", kind: "parallel_coordinates" });
    const img = r.content.find((c) => c.type === "image");
    expect(img?.type).toBe("image");
    const png = Buffer.from(img?.type === "image" ? img.data : "", "base64");
    expect(png.length).toBeLessThanOrEqual(1024 * 1024);
    sizes.push(["plot parallel_coordinates PNG bytes", png.length, 1024 * 1024]);
    expect(png.readUInt32BE(16)).toBeLessThanOrEqual(1600);
    expect(png.readUInt32BE(20)).toBeLessThanOrEqual(1000);
  }, 120_000);
});
