/**
 * MCP tool input under the limits every transport shares (issue 11 §3): nesting, lone
 * surrogates, the study-name grammar, answered as isError tool results (SEP-1303, issue 14 §4);
 * and shutdown answering the calls in flight (issue 11 §6).
 * Driven through the SDK's real Client over the in-memory transport, which passes JS
 * values as they are (lone surrogates included).
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { type CallToolResult, McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAX_NESTING } from "../../domain/input-limits.js";
import type { StudyService } from "../../service/study-service.js";
import { type MemoryMcp, memoryMcp } from "../../testing/mcp-memory.js";
import type { TuneportMcp } from "./mcp-server.js";
import { MAX_TOOL_CALLS_IN_FLIGHT } from "./tool-calls.js";
import { MAX_CONCURRENT_WAITS } from "./tools/insights.js";

let rig: MemoryMcp;
let service: StudyService;
let mcp: TuneportMcp;
let client: Client;
/** Resolves when a tool first waits for a study to change. */
let waitStarted: Promise<void>;

beforeEach(async () => {
  rig = await memoryMcp({
    prepare: (backend) => {
      const wait = backend.waitForChange;
      waitStarted = new Promise((resolve) => {
        backend.waitForChange = (...a) => {
          resolve();
          return wait(...a);
        };
      });
    },
  });
  ({ service, mcp, client } = rig);
});

afterEach(() => rig.close());

const SPACE = { x: { type: "float", low: 0, high: 1 } };
const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;

/**
 * The text of the isError result a call is refused with (SEP-1303: input validation errors are
 * tool results the model can act on, not JSON-RPC errors), checked for one "Error CODE:" prefix
 * and a "Next step:" line.
 */
async function refusal(name: string, args: Record<string, unknown>): Promise<string> {
  const r = await call(name, args);
  expect(r.isError, `${name} was not refused`).toBe(true);
  const t = r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
  expect(t).toMatch(/^Error INVALID_ARGUMENT: /);
  expect(t.match(/INVALID_ARGUMENT/g)?.length, t).toBe(1);
  expect(t).not.toContain("MCP error");
  expect(t).toMatch(/\nNext step: /);
  return t;
}

/** `{a: {a: ... {}}}` with `levels` objects. */
function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

describe("MCP tool input limits", () => {
  it(`accepts ${MAX_NESTING} levels of nesting, counting the arguments object, and refuses deeper (1,000 too)`, async () => {
    const ok = await call("create_study", { name: "n-ok", space: SPACE, user_attrs: nested(MAX_NESTING - 1) });
    expect(ok.isError).toBeFalsy();
    for (const levels of [MAX_NESTING, 1000]) {
      const e = await refusal("create_study", { name: `n-${levels}`, space: SPACE, user_attrs: nested(levels) });
      expect(e).toMatch(/INVALID_ARGUMENT: .* nest deeper than 32 levels/);
    }
    expect((await service.listStudies()).map((s) => s.name)).toEqual(["n-ok"]);
  });

  it("refuses lone surrogates in any string, keys included, instead of storing U+FFFD", async () => {
    await call("create_study", { name: "s", space: SPACE });
    const cases: [string, Record<string, unknown>][] = [
      ["enqueue_trial", { study: "s", params: { x: 0.5 }, rationale: "half\uD800way" }],
      ["create_study", { name: "t", space: SPACE, user_attrs: { "k\uDC00": 1 } }],
      ["create_study", { name: "t", space: SPACE, user_attrs: { deep: [{ v: "\uDFFF" }] } }],
      ["list_trials", { study: "s\uD800" }],
    ];
    for (const [tool, args] of cases) {
      const e = await refusal(tool, args);
      expect(e, tool).toMatch(/INVALID_ARGUMENT: .*not well-formed Unicode/);
    }
    expect((await service.listStudies()).map((s) => s.name)).toEqual(["s"]);
    expect((await service.getStudy({ study: "s" })).n_trials).toBe(0);
    // Characters outside the BMP are pairs, not lone surrogates.
    expect((await call("enqueue_trial", { study: "s", params: { x: 0.5 }, rationale: "fine 😀" })).isError).toBeFalsy();
  });

  it("applies the study-name grammar to create_study", async () => {
    for (const name of ["evil\u202Egnp", " lead", "trail ", "../etc", "a/b", "line\nbreak", "."]) {
      const e = await refusal("create_study", { name, space: SPACE });
      expect(e, JSON.stringify(name)).toMatch(/name/);
    }
    expect(await service.listStudies()).toEqual([]);
  });
});

describe("MCP wait_for_progress", () => {
  it(`runs at most ${MAX_CONCURRENT_WAITS} at once and refuses more with UNAVAILABLE; a finished one makes room`, async () => {
    await call("create_study", { name: "w", space: SPACE });
    const pending = Array.from({ length: MAX_CONCURRENT_WAITS }, () => call("wait_for_progress", { study: "w", timeout_s: 50 }));
    await waitStarted;
    const extra = await call("wait_for_progress", { study: "w", timeout_s: 50 });
    expect(extra.isError).toBe(true);
    expect(JSON.stringify(extra.content)).toMatch(/Error UNAVAILABLE: 32 wait_for_progress calls are already waiting/);
    // One finished trial ends every wait; then there is room again.
    const a = await service.ask({ study: "w" });
    await service.tell({ study: "w", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 });
    const done = await Promise.all(pending);
    expect(done.filter((r) => !r.isError && (r.structuredContent as { finished?: number }).finished === 1)).toHaveLength(MAX_CONCURRENT_WAITS);
    expect((await call("wait_for_progress", { study: "w", timeout_s: 0 })).isError).toBeFalsy();
  });
});

describe("MCP wait_for_progress across sessions", () => {
  it(`counts the waits of every MCP server of the process against one ${MAX_CONCURRENT_WAITS} (over HTTP each session has its own)`, async () => {
    const second = await memoryMcp({ service });
    try {
      await call("create_study", { name: "w2", space: SPACE });
      const call2 = async (name: string, args: Record<string, unknown>) => (await second.client.callTool({ name, arguments: args })) as CallToolResult;
      const half = MAX_CONCURRENT_WAITS / 2;
      const pending = [
        ...Array.from({ length: half }, () => call("wait_for_progress", { study: "w2", timeout_s: 50 })),
        ...Array.from({ length: half }, () => call2("wait_for_progress", { study: "w2", timeout_s: 50 })),
      ];
      await waitStarted;
      // Every wait has started once the next one is refused; give them the turns they need.
      let refused: CallToolResult | null = null;
      for (let i = 0; i < 200 && refused === null; i++) {
        const r = await call2("wait_for_progress", { study: "w2", timeout_s: 0.01 });
        if (r.isError) refused = r;
      }
      expect(JSON.stringify(refused?.content)).toMatch(/Error UNAVAILABLE: 32 wait_for_progress calls are already waiting/);
      const a = await service.ask({ study: "w2" });
      await service.tell({ study: "w2", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 });
      const done = await Promise.all(pending);
      expect(done.filter((r) => !r.isError)).toHaveLength(MAX_CONCURRENT_WAITS);
    } finally {
      await second.close();
    }
  });
});

describe("MCP tool calls in flight", () => {
  it(`runs at most ${MAX_TOOL_CALLS_IN_FLIGHT} on one session and answers more with UNAVAILABLE; finished ones make room`, async () => {
    await call("create_study", { name: "f", space: SPACE });
    // A second server on the same service whose get_study is held until released: its
    // describe_study calls stay in flight.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = 0;
    const busy = await memoryMcp({
      service,
      prepare: (backend) => {
        const call0 = backend.call.bind(backend);
        backend.call = (async (op: string, args: unknown) => {
          if (op === "get_study") {
            held++;
            await gate;
          }
          return call0(op as never, args as never);
        }) as typeof backend.call;
      },
    });
    const c = busy.client;
    try {
      const describe = () => c.callTool({ name: "describe_study", arguments: { study: "f" } }) as Promise<CallToolResult>;
      const pending = Array.from({ length: MAX_TOOL_CALLS_IN_FLIGHT }, describe);
      while (held < MAX_TOOL_CALLS_IN_FLIGHT) await new Promise((r) => setImmediate(r));
      const extra = await describe();
      expect(extra.isError).toBe(true);
      expect(JSON.stringify(extra.content)).toMatch(/Error UNAVAILABLE: 64 tool calls and requests are already in flight on this MCP session/);
      release();
      const done = await Promise.all(pending);
      expect(done.filter((r) => !r.isError)).toHaveLength(MAX_TOOL_CALLS_IN_FLIGHT);
      expect((await describe()).isError).toBeFalsy();
    } finally {
      release();
      await busy.close();
    }
  });
});

describe("MCP resource requests in flight", () => {
  it(`count against the session's ${MAX_TOOL_CALLS_IN_FLIGHT}: one more resources/read is answered UNAVAILABLE at once, not run`, async () => {
    await call("create_study", { name: "r", space: SPACE });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = 0;
    const busy = await memoryMcp({
      service,
      prepare: (backend) => {
        const call0 = backend.call.bind(backend);
        backend.call = (async (op: string, args: unknown) => {
          if (op === "get_study") {
            held++;
            await gate;
          }
          return call0(op as never, args as never);
        }) as typeof backend.call;
      },
    });
    try {
      const read = () => busy.client.readResource({ uri: "tuneport://studies/r" });
      const pending = Array.from({ length: MAX_TOOL_CALLS_IN_FLIGHT }, read);
      while (held < MAX_TOOL_CALLS_IN_FLIGHT) await new Promise((r) => setImmediate(r));
      // Before, a read had no bound: this one ran too (held went past the limit), and 100 of one
      // POST built an 85 MB answer.
      let outcome: unknown = null;
      void read().then(
        () => (outcome = "read"),
        (e: unknown) => (outcome = e),
      );
      while (outcome === null && held === MAX_TOOL_CALLS_IN_FLIGHT) await new Promise((r) => setImmediate(r));
      expect(held).toBe(MAX_TOOL_CALLS_IN_FLIGHT);
      expect(outcome).toBeInstanceOf(McpError);
      expect((outcome as McpError).code).toBe(-32000);
      expect((outcome as McpError).data).toMatchObject({ code: "UNAVAILABLE", retry: "retry", data: { max_in_flight: MAX_TOOL_CALLS_IN_FLIGHT } });
      release();
      expect((await Promise.all(pending)).every((r) => r.contents.length === 1)).toBe(true);
      expect((await read()).contents).toHaveLength(1);
    } finally {
      release();
      await busy.close();
    }
  });
});

describe("MCP shutdown", () => {
  it("answers a pending wait_for_progress with 'server stopping', and later calls too", async () => {
    await call("create_study", { name: "w", space: SPACE });
    const pending = call("wait_for_progress", { study: "w", timeout_s: 50 });
    await waitStarted;
    await mcp.stop();
    const r = await pending;
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r.content)).toMatch(/Error UNAVAILABLE: server stopping/);
    const after = await call("list_studies", {});
    expect(after.isError).toBe(true);
    expect(JSON.stringify(after.content)).toMatch(/Error UNAVAILABLE/);
  });
});
