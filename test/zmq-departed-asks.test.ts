/**
 * Asks of a client that left are dropped at their turn, not suggested for nobody: asks queue per
 * study, one suggestion at a time, and a client that pipelined asks on a GP study and closed its
 * connection had every one of them suggested (seconds each) before anyone else's ask, until the
 * server stopped. A real `tuneport serve` with a plug-in strategy that counts its suggestions and
 * waits for a gate file; real DEALER sockets.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Dealer } from "zeromq";
import { afterEach, describe, expect, it } from "vitest";
import { decode, encode } from "../src/transports/zmq/codec.js";
import { waitFor } from "../src/testing/waits.js";
import { type ServerProcess, TestClient, startServer, stopServers, tempDir } from "./helpers.js";
import { gatedModule, tcpProxy } from "./fixtures/gated-strategy.js";

afterEach(stopServers);

/** The replies a DEALER receives, by request id ("null" for those without one). */
class Replies {
  private readonly byId = new Map<string, Record<string, any>[]>();
  private readonly loop: Promise<void>;
  private wanted = new Map<string, number>();

  constructor(private readonly socket: Dealer) {
    this.loop = (async () => {
      for await (const [f] of socket) {
        const r = decode(f as Buffer) as Record<string, any>;
        const id = String(r.id);
        this.byId.set(id, [...(this.byId.get(id) ?? []), r]);
      }
    })().catch(() => undefined);
  }

  /** Waits for one more reply to `id` than the last `next` of it waited for. */
  async next(id: string): Promise<void> {
    const n = (this.wanted.get(id) ?? 0) + 1;
    this.wanted.set(id, n);
    await waitFor(async () => this.all(id).length >= n, 60_000);
  }

  all(id: string): Record<string, any>[] {
    return this.byId.get(id) ?? [];
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.loop;
  }
}

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
async function withGatedServer(test: (g: Gated) => Promise<void>, offload = true): Promise<void> {
  const dir = tempDir();
  const counter = join(dir, "suggestions.txt");
  const gate = join(dir, "gate");
  const server = await startServer(join(dir, "t.db"), ["--plugins", gatedModule(dir, { counter, gate, offload }), "--log-level", "debug"]);
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
      const replies = new Replies(client);
      for (let i = 0; i < 2; i++) await client.send(encode({ v: 1, id: `a${i}`, op: "ask", study: "g" }));
      await waitFor(async () => existsSync(counter), 60_000); // a0 under way, a1 waiting its turn
      await client.send(Buffer.alloc(0));
      await replies.next("null");
      writeFileSync(gate, "");
      await replies.next("a1");
      // One reply without an id: the empty message's (the notice of its connection opening gets none).
      expect(replies.all("null")).toMatchObject([{ ok: false, error: { code: "MALFORMED_MESSAGE" } }]);
      expect([replies.all("a0")[0]?.ok, replies.all("a1")]).toMatchObject([true, [{ ok: true, result: { trial: { number: 1 } } }]]);
      expect(readFileSync(counter, "utf8").trim().split("\n")).toEqual(["0", "1"]);
      expect(server.lines.some((l) => l.includes('"connection closed"'))).toBe(false);
      await replies.close();
    });
  }, 180_000);

  it("wait for a client that chose its own routing id and whose connection broke: back by their turn, it gets their answers", async () => {
    await withGatedServer(async ({ server, counter, gate }) => {
      const proxy = await tcpProxy(Number(new URL(server.endpoint).port));
      const client = new Dealer({ linger: 0, routingId: "worker-9" });
      client.connect(`tcp://127.0.0.1:${proxy.port}`);
      const replies = new Replies(client);
      const logged = (what: string) => server.lines.filter((l) => l.includes(`"connection ${what}"`) && l.includes(Buffer.from("worker-9").toString("hex"))).length;
      for (let i = 0; i < 2; i++) await client.send(encode({ v: 1, id: `a${i}`, op: "ask", study: "g" }));
      await waitFor(async () => existsSync(counter), 60_000); // a0 under way, a1 waiting its turn
      // The connection breaks; libzmq connects the same socket again (its routing id the same), which sends nothing more.
      proxy.cut();
      await waitFor(async () => logged("closed") === 1 && logged("opened") === 2, 60_000);
      writeFileSync(gate, "");
      await replies.next("a1");
      expect([replies.all("a0"), replies.all("a1")]).toMatchObject([[{ ok: true, result: { trial: { number: 0 } } }], [{ ok: true, result: { trial: { number: 1 } } }]]);
      expect(readFileSync(counter, "utf8").trim().split("\n")).toEqual(["0", "1"]);
      await replies.close();
      await proxy.close();
    });
  }, 180_000);

  it("are dropped for a client that chose its own routing id and is back after their turn; the same id resent is applied once, the refusal never kept as its reply", async () => {
    await withGatedServer(async ({ server, other, counter, gate }) => {
      const first = new Dealer({ linger: 0, routingId: "worker-7" });
      first.connect(server.endpoint);
      for (let i = 0; i < 2; i++) await first.send(encode({ v: 1, id: `a${i}`, op: "ask", study: "g" }));
      await waitFor(async () => existsSync(counter), 60_000);
      first.close();
      await waitFor(async () => server.lines.some((l) => l.includes('"connection closed"')), 60_000);
      // Another client's ask queued behind a1: answered once a1's turn has passed (a1 dropped, nobody to answer).
      const own = other.request("ask", { study: "g" }, "b0", 120_000);
      writeFileSync(gate, "");
      expect(await own).toMatchObject({ ok: true, result: { trial: { number: 1 } } });
      // The same client on a new connection (its routing id its own) resends a1: run now (the refusal was not stored), then answered from its stored reply.
      const again = new Dealer({ linger: 0, routingId: "worker-7" });
      again.connect(server.endpoint);
      const replies = new Replies(again);
      await again.send(encode({ v: 1, id: "a1", op: "ask", study: "g", attempt: 1 }));
      await replies.next("a1");
      await again.send(encode({ v: 1, id: "a1", op: "ask", study: "g", attempt: 2 }));
      await replies.next("a1");
      const [r1, r2] = replies.all("a1");
      expect(r1).toMatchObject({ ok: true, result: { trial: { number: 2 } } });
      expect(r2).toEqual(r1);
      expect(readFileSync(counter, "utf8").trim().split("\n")).toEqual(["0", "1", "2"]);
      expect((await other.call("get_study", { study: "g" })).study.n_trials).toBe(3);
      await replies.close();
    });
  }, 180_000);

  it("are not answered on a connection libzmq made again while the server was busy: the ROUTER ignores it (documented for clients that choose their routing id)", async () => {
    await withGatedServer(async ({ server, other, counter, gate }) => {
      const proxy = await tcpProxy(Number(new URL(server.endpoint).port));
      const client = new Dealer({ linger: 0, routingId: "worker-5" });
      client.connect(`tcp://127.0.0.1:${proxy.port}`);
      const replies = new Replies(client);
      await client.send(encode({ v: 1, id: "p0", op: "list_studies" }));
      await replies.next("p0");
      // Another client's ask holds the server's main thread (the strategy is not offloaded) until the gate opens.
      const asked = other.request("ask", { study: "g" }, "o0", 120_000);
      await waitFor(async () => existsSync(counter), 60_000);
      proxy.cut();
      // libzmq connects the client again; the handshake (the server's greeting and READY) is done on libzmq's I/O thread.
      await waitFor(async () => (proxy.toClient[1] ?? 0) > 80, 60_000);
      writeFileSync(gate, "");
      expect(await asked).toMatchObject({ ok: true });
      await client.send(encode({ v: 1, id: "p1", op: "list_studies" }));
      await other.call("list_studies");
      await new Promise((r) => setTimeout(r, 2000));
      // Until then the closing connection held the routing id: libzmq's ROUTER (no ZMQ_ROUTER_HANDOVER) reads nothing of the new one.
      const worker = Buffer.from("worker-5").toString("hex");
      const logged = (what: string) => server.lines.filter((l) => l.includes(`"connection ${what}"`) && l.includes(worker)).length;
      expect([replies.all("p1"), logged("opened"), logged("closed")]).toEqual([[], 1, 1]);
      await replies.close();
      // A new socket (what a client does after a timeout) is heard, under the same routing id.
      const again = new Dealer({ linger: 0, routingId: "worker-5" });
      again.connect(server.endpoint);
      const fresh = new Replies(again);
      await again.send(encode({ v: 1, id: "p1", op: "list_studies" }));
      await fresh.next("p1");
      expect(fresh.all("p1")).toMatchObject([{ ok: true }]);
      await fresh.close();
      await proxy.close();
    }, false);
  }, 180_000);
});
