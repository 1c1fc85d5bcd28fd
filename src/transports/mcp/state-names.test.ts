/**
 * Trial states are named in any case on every surface that takes them, as the CLI's --state does
 * (`complete` is COMPLETE): list_trials' filter and tell_trial's / add_trial's state over MCP (the
 * SDK's real Client), the ZeroMQ `trials`, `query_trials` and `tell` ops (a real Dealer socket).
 * A name that is no state is refused with the valid names.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Dealer, context } from "zeromq";
import { type MemoryMcp, memoryMcp } from "../../testing/mcp-memory.js";
import { textOf } from "../../testing/mcp-session.js";
import { decode, encode } from "../zmq/codec.js";
import { ZmqServer } from "../zmq/zmq-server.js";
import { silentLogger } from "../../logger.js";

context.blocky = false;

let rig: MemoryMcp;
let client: Client;
const cleanup: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  rig = await memoryMcp();
  ({ client } = rig);
  cleanup.push(() => rig.close());
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;

/** Asks one trial and tells it in `state` (as the agent spells it). */
async function finish(study: string, state: string, value?: number): Promise<CallToolResult> {
  const asked = await call("ask_trial", { study });
  const { trial: { number: trial }, token } = asked.structuredContent as { trial: { number: number }; token: string };
  return call("tell_trial", { study, trial, token, state, ...(value === undefined ? {} : { value }) });
}

describe("MCP", () => {
  it("takes lower-case states in list_trials, tell_trial and add_trial, and lists the valid ones for a wrong name", async () => {
    expect((await call("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } } })).isError).toBeFalsy();
    expect((await finish("s", "complete", 0.5)).isError).toBeFalsy();
    expect((await finish("s", "Pruned")).isError).toBeFalsy();
    expect((await call("add_trial", { study: "s", params: { x: 0.25 }, state: "fail" })).isError).toBeFalsy();

    const listed = await call("list_trials", { study: "s", states: ["complete", "pruned"], sort: "number" });
    expect(listed.isError).toBeFalsy();
    expect((listed.structuredContent as { trials: { number: number; state: string }[] }).trials.map((t) => t.state)).toEqual(["COMPLETE", "PRUNED"]);
    const failed = await call("list_trials", { study: "s", states: ["fail"] });
    expect((failed.structuredContent as { trials: { state: string }[] }).trials.map((t) => t.state)).toEqual(["FAIL"]);

    const wrong = await call("list_trials", { study: "s", states: ["done"] });
    expect(wrong.isError).toBe(true);
    for (const st of ["WAITING", "RUNNING", "COMPLETE", "PRUNED", "FAIL"]) expect(textOf(wrong)).toContain(st);
    // The advertised schema still names the canonical states.
    const { tools } = await client.listTools();
    const schema = JSON.stringify(tools.find((t) => t.name === "list_trials")?.inputSchema);
    expect(schema).toContain('"enum":["WAITING","RUNNING","COMPLETE","PRUNED","FAIL"]');
  });
});

describe("ZeroMQ", () => {
  it("trials and query_trials filters and tell take lower-case states; a wrong one is refused with the valid names", async () => {
    const { service } = rig;
    await service.createStudy({ name: "z", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const d = new Dealer({ linger: 0, receiveTimeout: 30_000 });
    d.connect(endpoint as string);
    cleanup.push(() => d.close());
    let n = 0;
    const req = async (body: Record<string, unknown>) => {
      await d.send(encode({ v: 1, id: `r${n++}`, ...body }));
      return decode((await d.receive())[0] as Buffer) as { ok: boolean; result?: Record<string, unknown>; error?: { code: string; message: string } };
    };
    for (const state of ["complete", "pruned"]) {
      const asked = await req({ op: "ask", study: "z" });
      const { trial, lease } = asked.result as { trial: { number: number }; lease: { token: string } };
      const told = await req({ op: "tell", study: "z", trial: trial.number, token: lease.token, state, ...(state === "complete" ? { value: 1 } : {}) });
      expect(told.ok, JSON.stringify(told.error)).toBe(true);
    }
    // add_trial's op schema folds too (MCP's add_trial folds in its own input first, so only this reaches it lower-case).
    const added = await req({ op: "add_trial", study: "z", params: { x: 0.3 }, state: "fail" });
    expect(added.ok, JSON.stringify(added.error)).toBe(true);
    expect((added.result as { trial: { state: string } }).trial.state).toBe("FAIL");
    const page = await req({ op: "trials", study: "z", states: ["complete"] });
    expect(page.ok, JSON.stringify(page.error)).toBe(true);
    expect((page.result as { trials: { state: string }[] }).trials.map((t) => t.state)).toEqual(["COMPLETE"]);
    const queried = await req({ op: "query_trials", study: "z", states: ["Pruned"] });
    expect(queried.ok, JSON.stringify(queried.error)).toBe(true);
    expect(JSON.stringify(queried.result)).not.toContain("COMPLETE");
    expect(JSON.stringify(queried.result)).toContain("PRUNED");
    const wrong = await req({ op: "trials", study: "z", states: ["done"] });
    expect(wrong.ok).toBe(false);
    expect(wrong.error?.code).toBe("INVALID_ARGUMENT");
    for (const st of ["WAITING", "RUNNING", "COMPLETE", "PRUNED", "FAIL"]) expect(wrong.error?.message).toContain(st);
  });
});
