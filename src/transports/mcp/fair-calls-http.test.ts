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
});
