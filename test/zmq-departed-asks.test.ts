/**
 * Asks of a client that left are dropped at their turn, not suggested for nobody: asks queue per
 * study, one suggestion at a time, and a client that pipelined asks on a GP study and closed its
 * connection had every one of them suggested (seconds each) before anyone else's ask, until the
 * server stopped. A real `tuneport serve` with a plug-in strategy that counts its suggestions and
 * waits for a gate file; real DEALER sockets.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Dealer } from "zeromq";
import { afterEach, describe, expect, it } from "vitest";
import { decode, encode } from "../src/transports/zmq/codec.js";
import { waitFor } from "../src/testing/waits.js";
import { type ServerProcess, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

const ZOD = pathToFileURL(join(import.meta.dirname, "..", "node_modules", "zod", "index.js")).href;
const DIST = pathToFileURL(join(import.meta.dirname, "..", "dist", "index.js")).href;

/** A module whose strategy "gated" writes a line to `counter` per suggestion, then waits until `gate` exists. */
function gatedModule(dir: string, counter: string, gate: string): string {
  const path = join(dir, "gated.mjs");
  writeFileSync(
    path,
    `import { appendFileSync, existsSync } from "node:fs";
import { z } from ${JSON.stringify(ZOD)};
import { BUILTIN_PLUGINS } from ${JSON.stringify(DIST)};
const pause = new Int32Array(new SharedArrayBuffer(4));
export const gated = {
  name: "gated", description: "Counts its suggestions; each waits for a gate file (a test plug-in).", options: z.object({}).strict(), offload: true,
  create: () => ({
    suggest(req) {
      appendFileSync(${JSON.stringify(counter)}, req.trialNumber + "\\n");
      while (!existsSync(${JSON.stringify(gate)})) Atomics.wait(pause, 0, 0, 10);
      return { params: { x: 0.5 } };
    },
  }),
};
export const plugins = BUILTIN_PLUGINS.with({ strategies: [gated] });
`,
  );
  return path;
}

afterEach(stopServers);

/** What `withGatedServer` hands its test: the server, a client of it, and the gated strategy's counter and gate files. */
interface Gated {
  server: ServerProcess;
  other: TestClient;
  counter: string;
  gate: string;
}

/**
 * Runs `test` against a real server with the "gated" plug-in whose study "g" uses it, and a client
 * `other` that created it; then closes the client and stops the server (exit code 0).
 */
async function withGatedServer(test: (g: Gated) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const counter = join(dir, "suggestions.txt");
  const gate = join(dir, "gate");
  const server = await startServer(join(dir, "t.db"), ["--plugins", gatedModule(dir, counter, gate), "--log-level", "debug"]);
  const other = new TestClient(server.endpoint);
  try {
    await other.call("create_study", { name: "g", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "gated" });
    await test({ server, other, counter, gate });
  } finally {
    await other.close();
  }
  expect(await server.stop()).toBe(0);
}

describe("asks of a client that left", () => {
  it("are dropped at their turn, nothing applied; one resent on another connection still runs, and so does everyone else's", async () => {
    await withGatedServer(async ({ server, other, counter, gate }) => {
      // A client pipelines 12 asks and leaves while the first is being suggested.
      const leaver = new Dealer({ linger: 0 });
      leaver.connect(server.endpoint);
      for (let i = 0; i < 12; i++) await leaver.send(encode({ v: 1, id: `a${i}`, op: "ask", study: "g" }));
      await waitFor(async () => existsSync(counter), 60_000);
      // Its second ask resent on another connection (a client that timed out and reconnected) joins the run in flight.
      const resent = other.request("ask", { study: "g" }, "a1", 120_000);
      await other.call("list_studies"); // answered after the resend arrived (one connection's requests are read in order)
      leaver.close();
      await waitFor(async () => server.lines.some((l) => l.includes('"connection closed"')), 60_000);
      const own = other.request("ask", { study: "g" }, "b0", 120_000);
      writeFileSync(gate, "");
      const [r1, r2] = [await resent, await own];
      expect([r1.ok, r2.ok]).toEqual([true, true]);
      // a0 (under way when its client left), a1 (resent) and b0: not the 10 others.
      const suggested = readFileSync(counter, "utf8").trim().split("\n");
      expect(suggested).toEqual(["0", "1", "2"]);
      expect([r1.result.trial.number, r2.result.trial.number]).toEqual([1, 2]);
      expect((await other.call("get_study", { study: "g" })).study.n_trials).toBe(3);
    });
  }, 180_000);

  it("are not dropped by the client's own empty message, which is answered as a malformed request", async () => {
    await withGatedServer(async ({ server, counter, gate }) => {
      // ZMQ_ROUTER_NOTIFY's notice of a closed connection is an empty message: this one was taken for it.
      const client = new Dealer({ linger: 0 });
      client.connect(server.endpoint);
      const replies = new Map<string, Record<string, any>>();
      const loop = (async () => {
        for await (const [f] of client) {
          const r = decode(f as Buffer) as Record<string, any>;
          replies.set(String(r.id), r);
        }
      })().catch(() => undefined);
      for (let i = 0; i < 2; i++) await client.send(encode({ v: 1, id: `a${i}`, op: "ask", study: "g" }));
      await waitFor(async () => existsSync(counter), 60_000); // a0 under way, a1 waiting its turn
      await client.send(Buffer.alloc(0));
      await waitFor(async () => replies.has("null"), 60_000);
      expect(replies.get("null")).toMatchObject({ ok: false, error: { code: "MALFORMED_MESSAGE" } });
      writeFileSync(gate, "");
      await waitFor(async () => replies.has("a1"), 60_000);
      expect([replies.get("a0")?.ok, replies.get("a1")]).toMatchObject([true, { ok: true, result: { trial: { number: 1 } } }]);
      expect(readFileSync(counter, "utf8").trim().split("\n")).toEqual(["0", "1"]);
      expect(server.lines.some((l) => l.includes('"connection closed"'))).toBe(false);
      client.close();
      await loop;
    });
  }, 180_000);

  it("reach a client that chose its own routing id and connected again; the same id resent is applied once, the refusal never kept as its reply", async () => {
    await withGatedServer(async ({ server, other, counter, gate }) => {
      const first = new Dealer({ linger: 0, routingId: "worker-7" });
      first.connect(server.endpoint);
      for (let i = 0; i < 2; i++) await first.send(encode({ v: 1, id: `a${i}`, op: "ask", study: "g" }));
      await waitFor(async () => existsSync(counter), 60_000);
      first.close();
      await waitFor(async () => server.lines.some((l) => l.includes('"connection closed"')), 60_000);
      // The same client on a new connection (its routing id its own): a1's reply comes to it there.
      const again = new Dealer({ linger: 0, routingId: "worker-7" });
      again.connect(server.endpoint);
      const replies = new Map<string, Record<string, any>>();
      const loop = (async () => {
        for await (const [f] of again) {
          const r = decode(f as Buffer) as Record<string, any>;
          replies.set(`${String(r.id)}#${[...replies.keys()].filter((k) => k.startsWith(`${String(r.id)}#`)).length}`, r);
        }
      })().catch(() => undefined);
      await again.send(encode({ v: 1, id: "l0", op: "list_studies" }));
      await waitFor(async () => replies.has("l0#0"), 60_000);
      writeFileSync(gate, "");
      await waitFor(async () => replies.has("a1#0"), 60_000);
      expect(replies.get("a1#0")).toMatchObject({ ok: false, error: { code: "UNAVAILABLE", data: { reason: "requester_gone", study: "g" } } });
      // Resent with the same id: run now (the refusal was not stored), then answered from its stored reply.
      await again.send(encode({ v: 1, id: "a1", op: "ask", study: "g", attempt: 1 }));
      await waitFor(async () => replies.has("a1#1"), 60_000);
      await again.send(encode({ v: 1, id: "a1", op: "ask", study: "g", attempt: 2 }));
      await waitFor(async () => replies.has("a1#2"), 60_000);
      expect(replies.get("a1#1")).toMatchObject({ ok: true, result: { trial: { number: 1 } } });
      expect(replies.get("a1#2")).toEqual(replies.get("a1#1"));
      expect(readFileSync(counter, "utf8").trim().split("\n")).toEqual(["0", "1"]);
      expect((await other.call("get_study", { study: "g" })).study.n_trials).toBe(2);
      again.close();
      await loop;
    });
  }, 180_000);
});
