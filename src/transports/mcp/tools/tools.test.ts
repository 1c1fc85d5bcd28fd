/**
 * Drift guards between the op table and the MCP tool table: every op the table says MCP exposes is
 * called by the tools that claim it (checked by running every tool against a recording backend), and
 * a tool that fails with an unexpected (non-tuneport) error answers isError INTERNAL.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../logger.js";
import { OPS, OP_NAMES, type OpName } from "../../../service/ops/ops.js";
import { StudyService } from "../../../service/study-service.js";
import { SqliteStorage } from "../../../storage/sqlite/sqlite-storage.js";
import { type McpBackend, serviceBackend } from "../backend.js";
import { createTuneportMcp, toolTable } from "../mcp-server.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function connect(backend: McpBackend): Promise<Client> {
  const mcp = createTuneportMcp(backend, { logger: silentLogger(), version: "test" });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "drift", version: "1" });
  await mcp.server.connect(a);
  await client.connect(b);
  closers.push(async () => {
    await client.close();
    mcp.dispose();
  });
  return client;
}

/** A service on a throw-away in-memory SQLite database, closed after the test. */
async function openService(): Promise<StudyService> {
  const storage = new SqliteStorage({ path: ":memory:" });
  const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  closers.push(async () => {
    await service.close();
    await storage.close();
  });
  return service;
}

describe("MCP tools and the op table", () => {
  it("every tool the table names exists and declares the op", () => {
    const tools = new Map(toolTable().map((t) => [t.name, t]));
    for (const op of OP_NAMES) {
      const e = OPS[op].mcp;
      if (!("via" in e)) continue;
      for (const name of e.via) {
        const tool = tools.get(name);
        expect(tool, `${op} -> ${name}`).toBeDefined();
        expect(tool?.ops, `${name} declares ${op}`).toContain(op);
      }
    }
  });

  it("running every tool reaches every op the table exposes on MCP, and only declared ones", async () => {
    const service = await openService();
    const inner = serviceBackend(service);
    const called = new Map<string, Set<OpName>>();
    let current = "";
    const recording: McpBackend = {
      ...inner,
      call: (op, args) => {
        if (!called.has(current)) called.set(current, new Set());
        called.get(current)?.add(op);
        return inner.call(op, args);
      },
    };
    const client = await connect(recording);
    let lastText = "";
    const run = async (name: string, args: Record<string, unknown>) => {
      current = name;
      const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
      expect(r.isError, `${name}: ${JSON.stringify(r.content)}`).toBeFalsy();
      lastText = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
      return r.structuredContent as Record<string, any>;
    };
    /** A tool whose answer here is a business error (isError with a next step); it still reaches its ops. */
    const refused = async (name: string, args: Record<string, unknown>) => {
      current = name;
      const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
      expect(r.isError, `${name}: ${JSON.stringify(r.content)}`).toBe(true);
      return r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
    };
    const space = { x: { type: "float", low: 0, high: 1 } };
    await run("list_strategies", {});
    await run("create_study", { name: "d", space, strategy: "random", seed: 1 });
    await run("list_studies", {});
    await run("describe_study", { study: "d" });
    const q = await run("enqueue_trial", { study: "d", params: { x: 0.9 }, rationale: "withdrawn" });
    await run("cancel_trial", { study: "d", trial: q.trial.number });
    await run("add_trial", { study: "d", params: { x: 0.1 }, value: 0.4 });
    await run("enqueue_trial", { study: "d", params: { x: 0.5 }, rationale: "the middle" });
    const { trial: { number: trial }, token } = await run("ask_trial", { study: "d", lease_ttl_s: 120 });
    await run("renew_lease", { study: "d", trial, token });
    const drawn = await run("suggest", { study: "d", trial, token, name: "y", distribution: { type: "int", low: 1, high: 3 } });
    expect([1, 2, 3]).toContain(drawn.value);
    await run("report_intermediate", { study: "d", trial, token, step: 1, value: 0.3 });
    await run("tell_trial", { study: "d", trial, token, value: 0.2 });
    await run("set_user_attrs", { study: "d", trial, attrs: { note: "fine" }, notes: "a worked example" });
    const updated = await run("update_study", { study: "d", space: { x: { type: "float", low: 0, high: 2 } }, notes: "widened" });
    expect(updated.changed).toEqual(["space", "notes"]);
    const exported = await run("export_study", { study: "d" });
    expect([exported.n_lines, exported.next_cursor]).toEqual([exported.total_lines, null]);
    await run("best_trials", { study: "d", k: 1 });
    await run("pareto_front", { study: "d", history: true });
    await run("list_trials", { study: "d" });
    const got = await run("get_trial", { study: "d", trial });
    expect(got.trial.system_attrs.notes).toBe("a worked example");
    expect(lastText).toMatch(/^notes: a worked example$/m);
    await run("describe_study", { study: "d" });
    expect(lastText).toMatch(/^notes: widened$/m);
    expect(await refused("get_lineage", { study: "d" })).toMatch(/^Error FAILED_PRECONDITION: study 'd' keeps no lineage/);
    await run("get_trajectory", { study: "d", trial });
    await run("param_importances", { study: "d" });
    await run("study_summary", { study: "d" });
    await run("wait_for_progress", { study: "d", timeout_s: 0 });
    await run("plot", { study: "d", kind: "history" });
    await run("stop_study", { study: "d" });
    await run("resume_study", { study: "d" });
    await run("delete_study", { study: "d", confirm: true });

    const tools = new Map(toolTable().map((t) => [t.name, t]));
    expect([...called.keys()].sort()).toEqual([...tools.keys()].sort());
    for (const [name, ops] of called) for (const op of ops) expect(tools.get(name)?.ops, `${name} calls ${op}`).toContain(op);
    for (const op of OP_NAMES) {
      const e = OPS[op].mcp;
      if (!("via" in e)) continue;
      for (const name of e.via) expect([...(called.get(name) ?? [])], `${name} reaches ${op}`).toContain(op);
    }
  });

  it("runs a multi-objective, constrained study: create with directions, tell values, the front, summary and wait", async () => {
    const service = await openService();
    const client = await connect(serviceBackend(service));
    const call = async (name: string, args: Record<string, unknown>) => {
      const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
      const t = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
      return { r, t, s: r.structuredContent as Record<string, any> };
    };
    const created = await call("create_study", { name: "m", directions: ["maximize", "minimize"], space: { x: { type: "float", low: 0, high: 1 } }, seed: 2 });
    expect(created.t).toMatch(/maximize\/minimize, strategy auto/);
    const told: [number[], number[]][] = [[[0.9, 10], [-1]], [[0.8, 5], [0]], [[0.95, 1], [3]], [[0.7, 8], [-1]]];
    for (const [values, constraints] of told) {
      const a = await call("ask_trial", { study: "m" });
      const r = await call("tell_trial", { study: "m", trial: a.s.trial.number, token: a.s.token, values, constraints });
      expect(r.r.isError, r.t).toBeFalsy();
      expect(r.t).toContain(`values=[`);
    }
    const bad = await call("ask_trial", { study: "m" });
    const refused = await call("tell_trial", { study: "m", trial: bad.s.trial.number, token: bad.s.token, values: [0.5] });
    expect(refused.r.isError).toBe(true);
    expect(refused.t).toMatch(/INVALID_ARGUMENT/);
    const front = await call("pareto_front", { study: "m", reference_point: [0.5, 20], history: true });
    expect(front.s.front.map((t: { number: number }) => t.number)).toEqual([0, 1]);
    expect(front.s.hypervolume).toBeCloseTo(0.4 * 10 + 0.3 * 15 - 0.3 * 10, 12);
    expect(front.t).toMatch(/infeasible|hypervolume/);
    const summary = await call("study_summary", { study: "m" });
    expect(summary.t).toMatch(/Pareto front: 2 trials \(3 feasible, 1 infeasible\)/);
    const waited = await call("wait_for_progress", { study: "m", timeout_s: 0 });
    expect(waited.s.front_size).toBe(2);
    expect(waited.s.hypervolume).toBeGreaterThan(0);
  });

  it("pages a Pareto front larger than the largest budget with cursors (the hint was 'a larger max_chars', which could not show it)", async () => {
    const service = await openService();
    const client = await connect(serviceBackend(service));
    await service.createStudy({ name: "f", directions: ["minimize", "minimize"], space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
    const n = 600; // every trial trades off with every other: all are on the front
    for (let i = 0; i < n; i++) await service.addTrial({ study: "f", params: { x: i / n }, values: [i, n - i] });
    const seen: number[] = [];
    let cursor: string | undefined;
    for (let calls = 0; calls < 50; calls++) {
      const r = (await client.callTool({ name: "pareto_front", arguments: { study: "f", max_chars: 60_000, ...(cursor ? { cursor } : {}) } })) as CallToolResult;
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      const s = r.structuredContent as { front: { number: number }[]; next_cursor: string | null; front_size: number };
      expect(s.front_size).toBe(n);
      expect(s.front.length).toBeGreaterThan(0);
      seen.push(...s.front.map((t) => t.number));
      if (s.next_cursor === null) break;
      expect(r.content.map((c) => (c.type === "text" ? c.text : "")).join("")).toContain(`call pareto_front with cursor "${s.next_cursor}"`);
      cursor = s.next_cursor;
    }
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it("pages export_study within the budget: the pages joined are the export, and a line over the budget names the way on", async () => {
    const service = await openService();
    const client = await connect(serviceBackend(service));
    await service.createStudy({ name: "x", space: { a: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1 });
    for (let i = 0; i < 30; i++) await service.addTrial({ study: "x", params: { a: i / 30 }, value: i, rationale: "why ".repeat(60) });
    await service.addTrial({ study: "x", params: { a: 0.5 }, value: 1, user_attrs: { log: "z".repeat(3000) } });
    const lines: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      // 32 lines: a page that does not move on (the same cursor again) ends the test, not a hang.
      expect(pages).toBeLessThan(40);
      const r = (await client.callTool({ name: "export_study", arguments: { study: "x", cursor, max_chars: 2000 } })) as CallToolResult;
      const text = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
      const sc = r.structuredContent as { n_lines: number; next_cursor: string | null };
      expect(text.length + JSON.stringify(sc ?? {}).length).toBeLessThanOrEqual(2000);
      pages++;
      if (r.isError) {
        // The 3,000-character attribute makes the last line longer than this budget.
        expect(r._meta?.["tuneport/error"]).toMatchObject({ code: "RESULT_TOO_LARGE", retry: "fix-input" });
        expect(text).toMatch(new RegExp(`line 32 of the export has \\d+ characters, over this call's budget of 2000.\nNext step: call export_study with cursor "${cursor}" and a larger max_chars`));
        const big = (await client.callTool({ name: "export_study", arguments: { study: "x", cursor, max_chars: 8000 } })) as CallToolResult;
        lines.push(...(big.content[0] as { text: string }).text.split("\n").slice(0, 1));
        expect((big.structuredContent as { next_cursor: string | null }).next_cursor).toBeNull();
        break;
      }
      lines.push(...text.split("\n").slice(0, sc.n_lines));
      if (sc.next_cursor === null) break;
      cursor = sc.next_cursor;
    }
    expect(pages).toBeGreaterThan(5);
    expect(lines).toEqual([...service.exportStudy("x")]);
  });

  it("answers export_study RESULT_TOO_LARGE when its first line is over the budget (it answered an empty page with no next cursor, which reads as an empty export)", async () => {
    const service = await openService();
    const client = await connect(serviceBackend(service));
    await service.createStudy({ name: "x", space: { a: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1 });
    await service.setStudyUserAttrs({ study: "x", notes: "n".repeat(3000) });
    const r = (await client.callTool({ name: "export_study", arguments: { study: "x", max_chars: 2000 } })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(r._meta?.["tuneport/error"]).toMatchObject({ code: "RESULT_TOO_LARGE", retry: "fix-input", data: { max_chars: 2000, from_line: 0 } });
    expect((r.content[0] as { text: string }).text).toContain("Next step: call export_study without a cursor and a larger max_chars");
    const big = (await client.callTool({ name: "export_study", arguments: { study: "x", max_chars: 20000 } })) as CallToolResult;
    expect(big.isError).toBeFalsy();
    expect((big.content[0] as { text: string }).text.split("\n").slice(0, (big.structuredContent as { n_lines: number }).n_lines)).toEqual([...service.exportStudy("x")]);
  });

  it("lists integer bounds nowhere in tools/list, and a call outside them is refused with the bound named", async () => {
    const service = await openService();
    const client = await connect(serviceBackend(service));
    const { tools } = await client.listTools();
    expect(tools.find((t) => t.name === "list_trials")?.inputSchema.properties?.max_chars).toEqual({ type: "integer" });
    for (const [args, bound] of [[{ max_chars: 100 }, /max_chars.*2000/], [{ max_chars: 100_000 }, /max_chars.*60000/], [{ limit: 5000 }, /limit.*200/]] as const) {
      const r = (await client.callTool({ name: "list_trials", arguments: { study: "nope", ...args } })) as CallToolResult;
      const t = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
      expect([r.isError, t]).toEqual([true, expect.stringMatching(bound)]);
    }
  });

  it("wait_for_progress reads one page of the latest finished trials, never the whole study", async () => {
    const service = await openService();
    await service.execute("create_study", { name: "big", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 3 });
    const early = await service.execute("ask", { study: "big" }); // finishes during the wait, below 300 newer trials
    for (let i = 0; i < 300; i++) {
      const t = await service.execute("ask", { study: "big" });
      await service.execute("tell", { study: "big", trial: t.trial.number, token: t.lease.token, state: "COMPLETE", values: [i] });
    }
    const inner = serviceBackend(service);
    const limits: (number | undefined)[] = [];
    // The trials finish only once the wait has read its starting count (its first get_study), not
    // after a fixed sleep that a busy machine could outlast.
    let baselineRead!: () => void;
    const baseline = new Promise<void>((r) => (baselineRead = r));
    const recording: McpBackend = {
      ...inner,
      call: async (op, args) => {
        if (op === "trials") limits.push((args as { limit?: number }).limit);
        const out = await inner.call(op, args);
        if (op === "get_study") baselineRead();
        return out;
      },
    };
    const client = await connect(recording);
    const waiting = client.callTool({ name: "wait_for_progress", arguments: { study: "big", timeout_s: 50, min_finished: 3 } });
    await baseline;
    const late = [await service.execute("ask", { study: "big" }), await service.execute("ask", { study: "big" })];
    for (const t of [early, ...late]) await service.execute("tell", { study: "big", trial: t.trial.number, token: t.lease.token, state: "COMPLETE", values: [-1] });
    const r = (await waiting) as CallToolResult;
    const sc = r.structuredContent as { finished: number; new_trials: { number: number }[] };
    expect(sc.finished).toBe(3);
    // Trial 0 finished too, but 300 newer trials put it outside the page read: counted, not listed.
    expect(sc.new_trials.map((t) => t.number)).toEqual(late.map((t) => t.trial.number));
    const text = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
    expect(text).toMatch(/\(1 earlier one not shown/);
    expect(limits.length).toBeGreaterThan(0);
    for (const l of limits) expect(l).toBeLessThanOrEqual(1000);
  });

  it("answers an unexpected error inside a tool with isError INTERNAL and no details", async () => {
    const failing: McpBackend = {
      call: async () => {
        throw new TypeError("secret internal detail");
      },
      version: async () => 0,
      waitForChange: async () => 0,
      onChange: () => () => undefined,
      close: async () => undefined,
    };
    const client = await connect(failing);
    const r = (await client.callTool({ name: "list_studies", arguments: {} })) as CallToolResult;
    expect(r.isError).toBe(true);
    const t = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
    expect(t).toMatch(/INTERNAL/);
    expect(t).not.toMatch(/secret/);
  });
});
