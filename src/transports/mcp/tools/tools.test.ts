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
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    closers.push(async () => {
      await service.close();
      await storage.close();
    });
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
    const run = async (name: string, args: Record<string, unknown>) => {
      current = name;
      const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
      expect(r.isError, `${name}: ${JSON.stringify(r.content)}`).toBeFalsy();
      return r.structuredContent as Record<string, any>;
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
    const a = await run("ask_trial", { study: "d", lease_ttl_s: 120 });
    await run("renew_lease", { study: "d", trial: a.trial, token: a.token });
    await run("report_intermediate", { study: "d", trial: a.trial, token: a.token, step: 1, value: 0.3 });
    await run("tell_trial", { study: "d", trial: a.trial, token: a.token, value: 0.2 });
    await run("set_user_attrs", { study: "d", trial: a.trial, attrs: { note: "fine" } });
    await run("best_trials", { study: "d", k: 1 });
    await run("pareto_front", { study: "d", history: true });
    await run("list_trials", { study: "d" });
    await run("get_trial", { study: "d", trial: a.trial });
    await run("get_lineage", { study: "d" });
    await run("get_trajectory", { study: "d", trial: a.trial });
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
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    closers.push(async () => {
      await service.close();
      await storage.close();
    });
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
      const r = await call("tell_trial", { study: "m", trial: a.s.trial, token: a.s.token, values, constraints });
      expect(r.r.isError, r.t).toBeFalsy();
      expect(r.t).toContain(`values=[`);
    }
    const bad = await call("ask_trial", { study: "m" });
    const refused = await call("tell_trial", { study: "m", trial: bad.s.trial, token: bad.s.token, values: [0.5] });
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

  it("answers an unexpected error inside a tool with isError INTERNAL and no details", async () => {
    const failing: McpBackend = {
      call: async () => {
        throw new TypeError("secret internal detail");
      },
      allTrials: async () => [],
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
