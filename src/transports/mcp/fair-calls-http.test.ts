/**
 * One MCP-over-HTTP client cannot starve another by keeping many costly calls in flight over many
 * sessions: a real McpHttpServer on a loopback port, the SDK's real clients, in this process, over a
 * backend whose ops each burn 3 ms of CPU and record which client's call they serve.
 *
 * The check is an order, not a time: how many of the flood's ops the backend ran between the moment
 * the other agent sent its call and the moment its op ran. The test, the clients and the server
 * share one thread, so what runs between is a matter of turns of the event loop (one of the flood's
 * ops per turn with the turns, all those read before the call without them), which the machine's
 * load does not change; the ops' cost is CPU time, which it does not change either. A count of the
 * flood's answers seen by a client in another process (test/mcp-fair.test.ts, removed) moved with the
 * load: 39 and 41 with the turns, on a loaded 2-core machine.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { TuneportError } from "../../domain/errors.js";
import { silentLogger } from "../../logger.js";
import type { McpBackend } from "./backend.js";
import { McpHttpServer } from "./http.js";

const TOKEN = "fair-http-token-0123456789abcdef";
let server: McpHttpServer | null = null;
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await server?.close();
  server = null;
});

/** Burns `ms` of this process's CPU time (what FairDispatch measures a slot by). */
function burn(ms: number): void {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const end = cpu() + ms;
  while (cpu() < end);
}

/** Every op burns 3 ms and records its study (the client's name), then answers NOT_FOUND. */
function costlyBackend(ran: string[]): McpBackend {
  const backend: McpBackend = {
    call: async (_op, args) => {
      burn(3);
      ran.push(String((args as { study?: unknown }).study));
      throw new TuneportError("NOT_FOUND", "no such study");
    },
    as: () => backend,
    version: async () => 0,
    waitForChange: async () => 0,
    onChange: () => () => undefined,
    close: async () => undefined,
  };
  return backend;
}

/** `resources/read` requests the server has read and not answered, every session's (its own bookkeeping). */
function readsHeld(s: McpHttpServer): number {
  let n = 0;
  for (const session of (s as unknown as { sessions: Map<string, { unanswered: Map<unknown, string> }> }).sessions.values())
    for (const method of session.unanswered.values()) if (method === "resources/read") n++;
  return n;
}

async function open(url: string, name: string): Promise<Client> {
  const client = new Client({ name, version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
  clients.push(client);
  return client;
}

describe("MCP over HTTP: calls take turns by client", () => {
  it("another agent's op runs behind a few of a flood's costly ops, not all those in flight", async () => {
    const ran: string[] = [];
    server = new McpHttpServer({ backend: costlyBackend(ran), logger: silentLogger(), version: "test", token: TOKEN, port: 0 });
    const url = `http://127.0.0.1:${await server.start()}/mcp`;
    const other = await open(url, "other");
    // The flood: 4 sessions of one client, each keeping 32 calls in flight.
    const flood = await Promise.all(Array.from({ length: 4 }, () => open(url, "flood")));
    let stop = false;
    const failures: string[] = [];
    const loops = flood.flatMap((c) =>
      Array.from({ length: 32 }, async () => {
        while (!stop && failures.length === 0) {
          try {
            await c.callTool({ name: "study_summary", arguments: { study: "flood" } });
          } catch (err) {
            failures.push(String(err));
          }
        }
      }),
    );
    const behind: number[] = [];
    try {
      // Every flood call sent once and answered at least once: 128 in flight from now on.
      while (ran.length < 256 && failures.length === 0) await new Promise((r) => setTimeout(r, 10));
      for (let i = 0; i < 5 && failures.length === 0; i++) {
        const sent = ran.length;
        await other.callTool({ name: "study_summary", arguments: { study: "other" } });
        const at = ran.indexOf("other", sent);
        expect(at).toBeGreaterThanOrEqual(sent);
        behind.push(at - sent);
      }
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(failures).toEqual([]);
    // Without the turns each was behind dozens of the flood's (those read before it).
    expect(Math.max(...behind), `flood ops run before each of the other agent's: ${behind.join(", ")}`).toBeLessThanOrEqual(5);
  }, 120_000);

  it("a resources/read cancelled while its ops wait for their client's turn runs none of them", async () => {
    const ran: string[] = [];
    server = new McpHttpServer({ backend: costlyBackend(ran), logger: silentLogger(), version: "test", token: TOKEN, port: 0 });
    const url = `http://127.0.0.1:${await server.start()}/mcp`;
    // The client's queue kept deep: one session of it keeps 32 costly calls in flight.
    const [busy, reader] = await Promise.all([open(url, "flood"), open(url, "flood")]);
    let stop = false;
    const loops = Array.from({ length: 32 }, async () => {
      while (!stop) await busy.callTool({ name: "study_summary", arguments: { study: "flood" } }).catch(() => undefined);
    });
    try {
      while (ran.length < 64) await new Promise((r) => setTimeout(r, 10));
      // Its other session sends 10 reads and cancels them (notifications/cancelled) once the server holds them all.
      const cancel = new AbortController();
      const reads = Array.from({ length: 10 }, (_, i) => reader.readResource({ uri: `tuneport://studies/cancelled-${i}` }, { signal: cancel.signal }).catch(() => undefined));
      for (let i = 0; i < 6000 && readsHeld(server as McpHttpServer) < 10; i++) await new Promise((r) => setTimeout(r, 1));
      expect(readsHeld(server as McpHttpServer), "a hang guard").toBe(10);
      cancel.abort("the agent moved on");
      await Promise.all(reads);
      // A read sent after them waits behind them in the client's queue.
      await reader.readResource({ uri: "tuneport://studies/after" }).catch(() => undefined);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(ran).toContain("after");
    // Run, each would have looked its study up (and summarised it): 10 to 20 ops.
    expect(ran.filter((s) => s.startsWith("cancelled-"))).toEqual([]);
  }, 120_000);
});
