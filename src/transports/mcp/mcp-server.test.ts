import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { serviceBackend } from "./backend.js";
import { type TuneportMcp, createTuneportMcp } from "./mcp-server.js";

let storage: SqliteStorage;
let service: StudyService;
let mcp: TuneportMcp;
let client: Client;
const notes: { method: string; uri?: string }[] = [];

beforeEach(async () => {
  notes.length = 0;
  storage = new SqliteStorage({ path: ":memory:" });
  service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  mcp = createTuneportMcp(serviceBackend(service), { logger: silentLogger(), version: "test", updateThrottleMs: 50 });
  const [a, b] = InMemoryTransport.createLinkedPair();
  client = new Client({ name: "unit", version: "1" });
  client.setNotificationHandler(ResourceListChangedNotificationSchema, (n) => void notes.push({ method: n.method }));
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void notes.push({ method: n.method, uri: n.params.uri }));
  await mcp.server.connect(a);
  await client.connect(b);
});

afterEach(async () => {
  await client.close();
  mcp.dispose();
  await service.close();
  await storage.close();
});

async function call(name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}
const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : `[${c.type}]`)).join("\n");
const sc = (r: CallToolResult) => r.structuredContent as Record<string, any>;

const SPACE = { x: { type: "float", low: -5, high: 5 }, noise: { type: "float", low: 0, high: 1 }, act: { type: "categorical", choices: ["relu", "gelu"] } };

async function evaluate(study: string, n: number, f: (p: Record<string, any>) => number) {
  for (let i = 0; i < n; i++) {
    const a = sc(await call("ask_trial", { study }));
    const r = await call("tell_trial", { study, trial: a.trial.number, token: a.token, value: f(a.trial.params) });
    expect(r.isError).toBeFalsy();
  }
}

describe("tuneport MCP tools", () => {
  it("lists every tool with an input schema and a description", async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    expect(names).toEqual(
      [
        "add_trial", "ask_trial", "best_trials", "cancel_trial", "create_study", "delete_study", "describe_study", "enqueue_trial", "export_study", "get_lineage", "get_trajectory",
        "get_trial", "list_strategies", "list_studies", "list_trials", "pareto_front", "param_importances", "plot", "renew_lease", "report_intermediate", "resume_study",
        "set_user_attrs", "stop_study", "study_summary", "suggest", "tell_trial", "update_study", "wait_for_progress",
      ].sort(),
    );
    for (const t of tools) {
      expect(t.description?.length).toBeGreaterThan(20);
      expect(t.inputSchema.type).toBe("object");
    }
    const create = tools.find((t) => t.name === "create_study");
    expect(Object.keys(create?.inputSchema.properties ?? {})).toContain("space");
  });

  it("creates, loads, describes and lists studies", async () => {
    const r = await call("create_study", { name: "s1", direction: "minimize", space: SPACE, seed: 1 });
    expect(r.isError).toBeFalsy();
    expect(sc(r).created).toBe(true);
    expect(textOf(r)).toContain("x: float in [-5, 5]");
    const again = await call("create_study", { name: "s1", load_if_exists: true });
    expect(sc(again).created).toBe(false);
    const dup = await call("create_study", { name: "s1" });
    expect(dup.isError).toBe(true);
    expect(textOf(dup)).toContain("load_if_exists");
    expect(textOf(await call("describe_study", { study: "s1" }))).toContain("strategy: auto");
    expect(sc(await call("list_studies")).studies.map((s: any) => s.name)).toEqual(["s1"]);
  });

  it("answers business failures with isError and a next step", async () => {
    const r = await call("describe_study", { study: "nope" });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/NOT_FOUND.*\n.*list_studies/);
    const bad = await call("create_study", { name: "b", space: { lr: { type: "float", low: 1, high: 0 } } });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/^Error INVALID_ARGUMENT: /);
    const strat = await call("create_study", { name: "b", strategy: "nonesuch" });
    expect(textOf(strat)).toContain("list_strategies");
  });

  it("answers an unknown tool with a protocol error, and bad arguments with an isError result (SEP-1303)", async () => {
    await expect(client.callTool({ name: "no_such_tool", arguments: {} })).rejects.toSatisfy(
      (e: unknown) => e instanceof McpError && e.code === ErrorCode.InvalidParams,
    );
    // The client adds "MCP error -32602: " itself: the wire message must not carry it too (docs/MCP.md).
    await expect(client.callTool({ name: "no_such_tool", arguments: {} })).rejects.toThrow(/^MCP error -32602: Unknown tool 'no_such_tool'\. Tools: list_studies, /);
    for (const args of [{ study: 3 }, { study: "s", limit: 10_000 }]) {
      const r = await call("list_trials", args);
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/^Error INVALID_ARGUMENT: arguments of list_trials: .*(study|limit).*\nNext step: /s);
      expect(textOf(r)).not.toMatch(/MCP error/);
    }
  });

  it("deletes only with an explicit confirmation", async () => {
    await call("create_study", { name: "d", space: SPACE });
    const no = await call("delete_study", { study: "d" });
    expect(no.isError).toBe(true);
    expect(textOf(no)).toContain("confirm: true");
    expect((await service.listStudies()).length).toBe(1);
    const yes = await call("delete_study", { study: "d", confirm: true });
    expect(yes.isError).toBeFalsy();
    expect((await service.listStudies()).length).toBe(0);
  });

  it("lets an agent be the evaluator; a finished trial cannot be told twice", async () => {
    await call("create_study", { name: "e", space: SPACE, seed: 3 });
    const a = sc(await call("ask_trial", { study: "e" }));
    expect(Object.keys(a.trial.params).sort()).toEqual(["act", "noise", "x"]);
    const t = await call("tell_trial", { study: "e", trial: a.trial.number, token: a.token, value: 1.5 });
    expect(sc(t).is_best).toBe(true);
    const twice = await call("tell_trial", { study: "e", trial: a.trial.number, token: a.token, value: 1.0 });
    expect(twice.isError).toBe(true);
    expect(textOf(twice)).toContain("ask_trial");
    const noValue = await call("tell_trial", { study: "e", trial: a.trial.number, token: a.token });
    expect(noValue.isError).toBe(true);
  });

  it("stores an enqueued proposal's rationale and serves it first", async () => {
    await call("create_study", { name: "q", space: SPACE });
    const e = await call("enqueue_trial", { study: "q", params: { x: 0.5, act: "gelu" }, rationale: "centre of the range, smoother activation" });
    expect(sc(e).created).toBe(true);
    const dup = await call("enqueue_trial", { study: "q", params: { x: 0.5, act: "gelu" }, rationale: "again" });
    expect(sc(dup).created).toBe(false);
    const outside = await call("enqueue_trial", { study: "q", params: { x: 50 }, rationale: "too far" });
    expect(outside.isError).toBe(true);
    expect(textOf(await call("study_summary", { study: "q" }))).toContain("centre of the range");
    const a = sc(await call("ask_trial", { study: "q" }));
    expect(a.trial.params.x).toBe(0.5);
    expect(a.trial.params.act).toBe("gelu");
    const listed = await call("list_trials", { study: "q" });
    expect(textOf(listed)).toContain('rationale: "centre of the range');
  });

  it("pages, filters and sorts trials, and reports the best ones", async () => {
    await call("create_study", { name: "p", space: SPACE, seed: 5 });
    await evaluate("p", 12, (p) => p.x * p.x);
    const first = await call("list_trials", { study: "p", limit: 5 });
    const page = await call("list_trials", { study: "p", limit: 5, cursor: sc(first).next_cursor });
    expect(sc(page).total).toBe(12);
    expect(sc(page).trials.map((t: any) => t.number)).toEqual([5, 6, 7, 8, 9]);
    const last = sc(await call("list_trials", { study: "p", limit: 5, cursor: sc(page).next_cursor }));
    expect(last.trials.map((t: any) => t.number)).toEqual([10, 11]);
    expect(last.next_cursor).toBeNull();
    const wrong = await call("list_trials", { study: "p", sort: "value", cursor: sc(first).next_cursor });
    expect(textOf(wrong)).toMatch(/^Error INVALID_ARGUMENT: cursor was made for sort number, ascending, any state, and this call asks for sort value, ascending, any state: /);
    const byValue = sc(await call("list_trials", { study: "p", sort: "value", limit: 3 })).trials.map((t: any) => t.value);
    expect(byValue).toEqual([...byValue].sort((a: number, b: number) => a - b));
    const best = sc(await call("best_trials", { study: "p", k: 3 })).trials;
    expect(best[0].value).toBe(byValue[0]);
    expect(sc(await call("list_trials", { study: "p", states: ["RUNNING"] })).total).toBe(0);
  });

  it("finds the parameter that matters and summarises the study", async () => {
    await call("create_study", { name: "imp", space: SPACE, seed: 7 });
    await evaluate("imp", 40, (p) => p.x * p.x);
    const imp = sc(await call("param_importances", { study: "imp" }));
    expect(imp.importances[0].param).toBe("x");
    expect(imp.importances[0].importance).toBeGreaterThan(0.6);
    const s = await call("study_summary", { study: "imp" });
    expect(textOf(s)).toMatch(/40 trials — 40 complete/);
    expect(textOf(s)).toContain("Most influential parameters: x");
    expect(sc(s).best.value).toBe((await service.best({ study: "imp" }))?.value);
  });

  it("waits for progress instead of polling, and times out within a turn", async () => {
    await call("create_study", { name: "w", space: SPACE });
    const a = await service.ask({ study: "w" });
    const quiet = await call("wait_for_progress", { study: "w", timeout_s: 0.3 });
    expect(sc(quiet).timed_out).toBe(true);
    expect(sc(quiet).finished).toBe(0);
    // Tell once the tool is waiting (not after a fixed delay, which a slow machine could outrun).
    const wait = service.waitForChange.bind(service);
    const spy = vi.spyOn(service, "waitForChange").mockImplementation((...args) => {
      spy.mockRestore();
      const waiting = wait(...args);
      void service.tell({ study: "w", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 4.2 });
      return waiting;
    });
    const r = await call("wait_for_progress", { study: "w", timeout_s: 50 });
    expect(sc(r).timed_out).toBe(false);
    expect(sc(r).new_trials.map((t: any) => t.value)).toEqual([4.2]);
  });

  it("returns plots as PNG images", async () => {
    await call("create_study", { name: "pl", space: SPACE, seed: 2 });
    const none = await call("plot", { study: "pl" });
    expect(none.isError).toBe(true);
    await evaluate("pl", 8, (p) => p.x);
    for (const kind of ["history", "parallel_coordinates", "importances"]) {
      const r = await call("plot", { study: "pl", kind });
      expect(r.isError, textOf(r)).toBeFalsy();
      const img = r.content[0];
      expect(img?.type).toBe("image");
      if (img?.type !== "image") continue;
      expect(img.mimeType).toBe("image/png");
      expect(Buffer.from(img.data, "base64").subarray(1, 4).toString()).toBe("PNG");
    }
  });
});

describe("tuneport MCP resources", () => {
  it("lists and reads each study as a resource", async () => {
    await call("create_study", { name: "r one", space: SPACE });
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(["tuneport://studies/r%20one"]);
    const read = await client.readResource({ uri: "tuneport://studies/r%20one" });
    const body = JSON.parse((read.contents[0] as { text: string }).text);
    expect(body.study.name).toBe("r one");
    expect(body.summary.text).toContain("Study 'r one'");
    // Compact, and the strategy's description left to list_strategies (its first sentence is in the text).
    const text = (read.contents[0] as { text: string }).text;
    expect(text).not.toContain("\n  ");
    expect(body.summary.strategy).toEqual({ name: "auto", options: body.study.strategy.options });
    expect(body.summary.text).toMatch(/Strategy: auto — The default: /);
    await expect(client.readResource({ uri: "tuneport://studies/missing" })).rejects.toBeInstanceOf(McpError);
  });

  it("notifies list changes and updates of subscribed studies", async () => {
    // A throttle window far longer than the burst below takes, so the count does not depend on machine speed.
    await client.close();
    mcp.dispose();
    mcp = createTuneportMcp(serviceBackend(service), { logger: silentLogger(), version: "test", updateThrottleMs: 3000 });
    const [a, b] = InMemoryTransport.createLinkedPair();
    client = new Client({ name: "unit", version: "1" });
    client.setNotificationHandler(ResourceListChangedNotificationSchema, (n) => void notes.push({ method: n.method }));
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void notes.push({ method: n.method, uri: n.params.uri }));
    await mcp.server.connect(a);
    await client.connect(b);
    await call("create_study", { name: "n", space: SPACE });
    await expect.poll(() => notes.filter((n) => n.method === "notifications/resources/list_changed").length).toBe(1);
    await client.subscribeResource({ uri: "tuneport://studies/n" });
    await evaluate("n", 3, () => 1);
    // Six changes arrive as far fewer notifications: the first at once, the last after the window.
    await expect.poll(() => notes.filter((n) => n.uri === "tuneport://studies/n").length, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    expect(notes.filter((n) => n.uri === "tuneport://studies/n").length).toBeLessThan(6);
    await client.unsubscribeResource({ uri: "tuneport://studies/n" });
    // No sleep can show an absence: a subscribed control study is the barrier. n changes first
    // (its window, if still open, closes first: timers of one length fire in order), then m
    // changes twice; once m's second notification is in, any notification n's changes could
    // cause has been sent before it, over the same ordered transport.
    const updatesOf = (uri: string) => notes.filter((x) => x.method === "notifications/resources/updated" && x.uri === uri).length;
    const before = updatesOf("tuneport://studies/n");
    await call("create_study", { name: "m", space: SPACE });
    await client.subscribeResource({ uri: "tuneport://studies/m" });
    await evaluate("n", 1, () => 1);
    await evaluate("m", 1, () => 1);
    await expect.poll(() => updatesOf("tuneport://studies/m"), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    expect(updatesOf("tuneport://studies/n")).toBe(before);
  });
});

describe("tuneport MCP lineage", () => {
  it("says a study outside PBT keeps no lineage instead of a trivial schedule", async () => {
    await call("create_study", { name: "lin", space: SPACE, strategy: "random" });
    await evaluate("lin", 3, (p) => (p.x as number) ** 2);
    const r = await call("get_lineage", { study: "lin" });
    expect(r.isError).toBe(true);
    const best = sc(await call("best_trials", { study: "lin", k: 1 }));
    expect(textOf(r)).toMatch(
      new RegExp(`^Error FAILED_PRECONDITION: study 'lin' keeps no lineage: .*only pbt and pb2 do.*trial ${best.trials[0].number} trained with its own params[\\s\\S]*Next step: get_trial`),
    );
    const missing = await call("get_lineage", { study: "nope" });
    expect(missing.isError).toBe(true);
  });
});
