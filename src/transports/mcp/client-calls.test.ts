/**
 * One client's calls in flight over all its MCP sessions are bounded (client-calls.ts): a real
 * McpHttpServer on a loopback port and the SDK's real clients over HTTP, over a backend whose ops
 * are held until the test lets them go, so that what is in flight is a count, not a time.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { TuneportError } from "../../domain/errors.js";
import { silentLogger } from "../../logger.js";
import type { McpBackend } from "./backend.js";
import { McpHttpServer } from "./http.js";

const TOKEN = "client-calls-token-0123456789abcdef";
let server: McpHttpServer | null = null;
const clients: Client[] = [];
const held: (() => void)[] = [];

afterEach(async () => {
  for (const go of held.splice(0)) go();
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await server?.close();
  server = null;
});

/** Every op waits until the test lets it go, then answers NOT_FOUND; one of study `missing` answers NOT_FOUND at once. */
function heldBackend(): McpBackend {
  const backend: McpBackend = {
    call: (_op, args) =>
      (args as { study?: unknown }).study === "missing"
        ? Promise.reject(new TuneportError("NOT_FOUND", "no such study"))
        : new Promise((_, reject) => held.push(() => reject(new TuneportError("NOT_FOUND", "no such study")))),
    as: () => backend,
    version: async () => 0,
    waitForChange: async () => 0,
    onChange: () => () => undefined,
    close: async () => undefined,
  };
  return backend;
}

async function open(url: string, name: string): Promise<Client> {
  const client = new Client({ name, version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
  clients.push(client);
  return client;
}

/** Polls (a hang guard, not a clock: what it waits for is a count) until `done`. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 6000 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
}

describe("MCP over HTTP: one client's calls in flight over all its sessions", () => {
  it("are refused UNAVAILABLE past --mcp-max-client-calls, while another client's are taken", async () => {
    server = new McpHttpServer({ backend: heldBackend(), logger: silentLogger(), version: "test", token: TOKEN, port: 0, maxClientCalls: 8 });
    const url = `http://127.0.0.1:${await server.start()}/mcp`;
    // Three sessions of one client, four calls each: 12 sent, 8 taken (each under the session's own 64).
    const flood = await Promise.all(Array.from({ length: 3 }, () => open(url, "flood")));
    const calls = flood.flatMap((c) => Array.from({ length: 4 }, () => c.callTool({ name: "study_summary", arguments: { study: "s" } }) as Promise<CallToolResult>));
    const refused: CallToolResult[] = [];
    for (const p of calls) void p.then((r) => refused.push(r));
    for (let i = 0; i < 6000 && (held.length < 8 || refused.length < 4); i++) await new Promise((r) => setTimeout(r, 5));
    expect([held.length, refused.length], "a hang guard").toEqual([8, 4]);
    for (const r of refused) {
      expect(r.isError).toBe(true);
      expect(JSON.stringify(r)).toContain("max_client_calls");
      expect(JSON.stringify(r.content)).toMatch(/UNAVAILABLE.*8 tool calls and requests in flight over its MCP sessions/);
    }
    // A resource read of the same client is refused alike, with a typed JSON-RPC error.
    const read = await flood[0]?.readResource({ uri: "tuneport://studies/s" }).catch((e: unknown) => e);
    expect(String((read as Error).message)).toContain("in flight over its MCP sessions");
    // Another client is not held back by it: its call reaches the backend.
    const other = await open(url, "other");
    const answered = other.callTool({ name: "study_summary", arguments: { study: "s" } });
    for (let i = 0; i < 6000 && held.length < 9; i++) await new Promise((r) => setTimeout(r, 5));
    expect(held.length).toBe(9);
    // Once the client's calls are answered, its share is free again.
    for (const go of held.splice(0)) go();
    await Promise.all([...calls, answered]);
    expect(server.clientCalls.of(JSON.stringify(["127.0.0.1", "flood"]))).toBe(0);
    const again = flood[2]?.callTool({ name: "study_summary", arguments: { study: "s" } });
    for (let i = 0; i < 6000 && held.length < 1; i++) await new Promise((r) => setTimeout(r, 5));
    expect(held.length).toBe(1);
    held.splice(0)[0]?.();
    expect(JSON.stringify(await again)).not.toContain("max_client_calls");
  }, 120_000);

  it("give each place back however its call ends: failed, cancelled, or its session ended", async () => {
    server = new McpHttpServer({ backend: heldBackend(), logger: silentLogger(), version: "test", token: TOKEN, port: 0, maxClientCalls: 4 });
    const url = `http://127.0.0.1:${await server.start()}/mcp`;
    const key = JSON.stringify(["127.0.0.1", "agent"]);
    const agent = await open(url, "agent");
    // Failed: reads and subscriptions of a study that is not there (-32002, their request rejected)
    // and tool calls answered NOT_FOUND, three times the bound one after the other.
    for (let i = 0; i < 12; i++) {
      expect(String(((await agent.readResource({ uri: "tuneport://studies/missing" }).catch((e: unknown) => e)) as Error).message)).toContain("no study named");
      expect(String(((await agent.subscribeResource({ uri: "tuneport://studies/missing" }).catch((e: unknown) => e)) as Error).message)).toContain("names no study");
      expect(JSON.stringify(await agent.callTool({ name: "study_summary", arguments: { study: "missing" } }))).toContain("NOT_FOUND");
    }
    expect(server.clientCalls.of(key)).toBe(0);
    // Cancelled by the agent while its ops run: counted until they end, then given back.
    const cancel = new AbortController();
    const cancelled = [
      agent.callTool({ name: "study_summary", arguments: { study: "s" } }, undefined, { signal: cancel.signal }).catch(() => undefined),
      agent.readResource({ uri: "tuneport://studies/s" }, { signal: cancel.signal }).catch(() => undefined),
    ];
    await until(() => held.length === 2);
    // A call that ends meanwhile gives back its own place only (never one of theirs).
    expect(JSON.stringify(await agent.callTool({ name: "study_summary", arguments: { study: "missing" } }))).toContain("NOT_FOUND");
    expect(server.clientCalls.of(key)).toBe(2);
    cancel.abort("the agent moved on");
    await Promise.all(cancelled);
    expect(server.clientCalls.of(key)).toBe(2);
    for (const go of held.splice(0)) go();
    await until(() => server?.clientCalls.of(key) === 0);
    expect(server.clientCalls.of(key)).toBe(0);
    // Its session ended (DELETE) with the bound taken: the ops still running count, then give it back.
    const ending = await open(url, "agent");
    const pending = Array.from({ length: 4 }, () => ending.callTool({ name: "study_summary", arguments: { study: "s" } }).catch((e: unknown) => e));
    await until(() => held.length === 4);
    await (ending.transport as StreamableHTTPClientTransport).terminateSession();
    await Promise.all(pending);
    expect(server.clientCalls.of(key)).toBe(4);
    expect(JSON.stringify(await agent.callTool({ name: "study_summary", arguments: { study: "s" } }))).toContain("max_client_calls");
    for (const go of held.splice(0)) go();
    await until(() => server?.clientCalls.of(key) === 0);
    expect(server.clientCalls.of(key)).toBe(0);
    const after = agent.callTool({ name: "study_summary", arguments: { study: "s" } });
    await until(() => held.length === 1);
    held.splice(0)[0]?.();
    expect(JSON.stringify(await after)).not.toContain("max_client_calls");
  }, 120_000);
});

describe("McpHttpServer's maxClientCalls", () => {
  it("refuses a bound the CLI's --mcp-max-client-calls refuses (0 or below refused every call; NaN and Infinity bounded nothing)", async () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 100_001])
      expect(() => new McpHttpServer({ backend: heldBackend(), logger: silentLogger(), version: "test", token: TOKEN, port: 0, maxClientCalls: bad }), String(bad)).toThrow(
        new RangeError(`maxClientCalls must be an integer from 1 to 100000, not ${String(bad)}`),
      );
    for (const good of [1, 100_000]) {
      const ok = new McpHttpServer({ backend: heldBackend(), logger: silentLogger(), version: "test", token: TOKEN, port: 0, maxClientCalls: good });
      await ok.start();
      await ok.close();
    }
  });
});
