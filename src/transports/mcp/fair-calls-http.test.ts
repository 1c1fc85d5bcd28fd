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
import { burnCpu } from "../../testing/cpu.js";
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

/** Every op burns 3 ms and records its study (the client's name), then answers NOT_FOUND. */
function costlyBackend(ran: string[]): McpBackend {
  return backendOf(async (_op, args) => {
    burnCpu(3);
    ran.push(String((args as { study?: unknown }).study));
    throw new TuneportError("NOT_FOUND", "no such study");
  });
}

/** A backend of `call` alone (as itself for every agent, with no changes to wait for). */
function backendOf(call: McpBackend["call"]): McpBackend {
  const backend: McpBackend = {
    call,
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

/**
 * A backend whose ops record, as they start, the study they were called for and the synchronous run
 * (one slot of a turn) that started them; an op of a study named `costly…` then burns `ms` of CPU
 * after a microtask, one of `head…` 25 ms (as an op that awaits a lock or a database first does: the slot's
 * loop does not see its cost, only the slot's measure does), any other answers at once.
 */
function batchedBackend(starts: { study: string; batch: number }[], ms: number): McpBackend {
  let batch = 0;
  let open = false;
  return backendOf(async (_op, args) => {
    const study = String((args as { study?: unknown }).study);
    if (!open) {
      open = true;
      batch++;
      queueMicrotask(() => void (open = false));
    }
    starts.push({ study, batch });
    await null;
    if (study.startsWith("costly")) burnCpu(ms);
    else if (study.startsWith("head")) burnCpu(25);
    throw new TuneportError("NOT_FOUND", "no such study");
  });
}

/** Requests of `method` the server has read from `client`'s session and not answered. */
function held(s: McpHttpServer, client: Client, method: string): number {
  const id = (client.transport as StreamableHTTPClientTransport).sessionId as string;
  const session = (s as unknown as { sessions: Map<string, { unanswered: Map<unknown, string> }> }).sessions.get(id);
  return [...(session?.unanswered.values() ?? [])].filter((m) => m === method).length;
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

  it("a burst of calls cancelled while they wait does not let the client's next costly ops start together", async () => {
    const starts: { study: string; batch: number }[] = [];
    server = new McpHttpServer({ backend: batchedBackend(starts, 4), logger: silentLogger(), version: "test", token: TOKEN, port: 0 });
    const s = server;
    const url = `http://127.0.0.1:${await s.start()}/mcp`;
    const [head, canceller, costly, other] = await Promise.all([open(url, "flood"), open(url, "flood"), open(url, "flood"), open(url, "other")]);
    const ran = (prefix: string) => starts.filter((x) => x.study.startsWith(prefix)).length;
    const fair = (s as unknown as { fair: { queued: number } }).fair;
    const settled: Promise<unknown>[] = [];
    // The HTTP client's connections opened first (one a turn otherwise, too slow to queue anything
    // behind calls that take a turn each): 64 cheap calls of each session at once, kept alive.
    await Promise.all([head, canceller, costly].flatMap((c) => Array.from({ length: 64 }, () => c.callTool({ name: "study_summary", arguments: { study: "warm" } }))));
    // Another agent calls, one call after another, until the end.
    let stop = false;
    const otherLoop = (async () => {
      while (!stop) await other.callTool({ name: "study_summary", arguments: { study: "other" } }).catch(() => undefined);
    })();
    try {
      // The client's queue made deep: 64 costly calls, started one a turn (each costs 25 ms).
      for (let i = 0; i < 64; i++) settled.push(head.callTool({ name: "study_summary", arguments: { study: `head-${i}` } }).catch(() => undefined));
      for (let i = 0; i < 6000 && ran("head") + fair.queued < 64; i++) await new Promise((r) => setTimeout(r, 1));
      // Behind them 63 reads, cancelled (notifications/cancelled) once the server holds them, and behind
      // those 64 costly calls (4 ms each).
      const cancel = new AbortController();
      for (let i = 0; i < 63; i++) settled.push(canceller.readResource({ uri: `tuneport://studies/cancelled-${i}` }, { signal: cancel.signal }).catch(() => undefined));
      for (let i = 0; i < 6000 && held(s, canceller, "resources/read") < 63; i++) await new Promise((r) => setTimeout(r, 1));
      for (let i = 0; i < 64; i++) settled.push(costly.callTool({ name: "study_summary", arguments: { study: `costly-${i}` } }).catch(() => undefined));
      const waiting = () => held(s, canceller, "resources/read") + held(s, costly, "tools/call");
      for (let i = 0; i < 6000 && waiting() < 127; i++) await new Promise((r) => setTimeout(r, 1));
      expect(waiting(), "a hang guard").toBe(127);
      cancel.abort("the agent moved on");
      for (let i = 0; i < 12000 && ran("costly") < 64; i++) await new Promise((r) => setTimeout(r, 5));
      expect(ran("costly"), "a hang guard").toBe(64);
    } finally {
      stop = true;
      await otherLoop;
      await Promise.all(settled);
    }
    // The rig's premise: the reads were cancelled before their turn (run, each looks its study up), and
    // the costly calls were all queued behind them, while the other agent waited (its ops ran before and after).
    expect(ran("cancelled-")).toBe(0);
    const first = starts.findIndex((x) => x.study.startsWith("costly"));
    const last = starts.length - 1 - [...starts].reverse().findIndex((x) => x.study.startsWith("costly"));
    expect(starts.slice(0, first).some((x) => x.study === "other")).toBe(true);
    expect(starts.slice(last).some((x) => x.study === "other")).toBe(true);
    // How many costly ops one slot started (one synchronous run of starts): 3 to 6 at once (review 172's
    // runs) when the refused reads doubled the client's allowance slot after slot (1, 2, 4 ... until a
    // slot of them measured costly: each one's SDK reply costs some 55 us after the slot's loop), the
    // other agent's op behind them. Now a slot of refusals leaves the allowance as it was (1).
    const perBatch = new Map<number, number>();
    for (const x of starts) if (x.study.startsWith("costly")) perBatch.set(x.batch, (perBatch.get(x.batch) ?? 0) + 1);
    const sizes = [...perBatch.values()];
    expect(Math.max(...sizes), `costly ops started in one slot: ${sizes.join(", ")}`).toBeLessThanOrEqual(2);
  }, 120_000);
});
