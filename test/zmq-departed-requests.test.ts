/**
 * Requests of a client that left while they waited for their turn (fair-dispatch.ts). Reads are
 * dropped, not run: before, a client that pipelined reads and closed its socket had every one of
 * them run, for replies nobody could receive. A connection's `hello` identity stays with the
 * requests it sent: before, it was forgotten as soon as the connection closed, and the asks it had
 * queued, answered on the connection libzmq made again under the routing id the client chose,
 * started trials recorded as anonymous. A real `tuneport serve` with a plug-in strategy (it counts
 * its suggestions and its trajectory reads, and waits for a gate file); real DEALER sockets.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Dealer } from "zeromq";
import { afterEach, describe, expect, it } from "vitest";
import { decode, encode } from "../src/transports/zmq/codec.js";
import { waitFor } from "../src/testing/waits.js";
import { TestClient, startServer, stopServers, tempDir } from "./helpers.js";
import { gatedModule, tcpProxy } from "./fixtures/gated-strategy.js";

const lines = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean) : []);

afterEach(stopServers);

describe("requests of a client that left while they waited for their turn", () => {
  it("reads are dropped, not run for nobody", async () => {
    const dir = tempDir();
    const [counter, reads, gate] = ["suggestions.txt", "reads.txt", "gate"].map((f) => join(dir, f)) as [string, string, string];
    writeFileSync(gate, "");
    const server = await startServer(join(dir, "t.db"), ["--plugins", gatedModule(dir, { counter, gate, offload: false, reads }), "--log-level", "debug"]);
    const other = new TestClient(server.endpoint);
    await other.call("create_study", { name: "g", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "gated" });
    await other.call("ask", { study: "g" }); // trial 0, whose trajectory is read
    // Another client's ask holds the server's main thread until the gate is back.
    rmSync(gate);
    const held = other.request("ask", { study: "g" }, "o1", 120_000);
    await waitFor(async () => lines(counter).length === 2, 60_000);
    // Meanwhile a client pipelines reads and leaves: libzmq takes them (its own thread) with the connection's end.
    const leaver = new Dealer({ linger: 5000 });
    leaver.connect(server.endpoint);
    const N = 40;
    for (let i = 0; i < N; i++) await leaver.send(encode({ v: 1, id: `r${i}`, op: "trajectory", study: "g", trial: 0 }));
    leaver.close();
    await new Promise((r) => setTimeout(r, 500)); // the connection's end reaches the server's libzmq (not asserted on)
    writeFileSync(gate, "");
    expect(await held).toMatchObject({ ok: true, result: { trial: { number: 1 } } });
    // Reads of a client that is still here run as before.
    expect(await other.request("trajectory", { study: "g", trial: 0 })).toMatchObject({ ok: true });
    await other.close();
    // A stop starts every request still queued (close waits for the fair queue to drain): the count is final.
    expect(await server.stop()).toBe(0);
    // Its first read starts at once (a client's only request in flight is not queued); the queued ones are dropped.
    const ran = lines(reads).length - 1;
    expect(ran).toBeLessThanOrEqual(1);
    expect(server.lines.some((l) => l.includes('"connection closed"'))).toBe(true);
  }, 180_000);

  it("asks queued by a connection that broke keep its hello's identity when they start on the next connection of its routing id", async () => {
    const dir = tempDir();
    const files = ["g.txt", "o.txt", "reads.txt", "gate"].map((f) => join(dir, f)) as [string, string, string, string];
    const [counterG, counterO, reads, gate] = files;
    writeFileSync(gate, "");
    // Two strategies: "gated" holds the main thread 5 ms a suggestion (the client's asks then start one a turn), "slow" 20 ms.
    const mod = gatedModule(dir, { counter: counterG, gate, offload: false, ms: 5, reads });
    writeFileSync(mod, readFileSync(mod, "utf8").replace("strategies: [gated]", `strategies: [gated, { ...gated, name: "slow", create: () => ({ suggest(req) { appendFileSync(${JSON.stringify(counterO)}, "o\\n"); Atomics.wait(pause, 0, 0, 20); return { params: { x: 0.5 } }; } }) }]`));
    const server = await startServer(join(dir, "t.db"), ["--plugins", mod, "--log-level", "debug"]);
    const other = new TestClient(server.endpoint);
    for (const [name, strategy] of [["g", "gated"], ["o", "slow"]]) await other.call("create_study", { name, space: { x: { type: "float", low: 0, high: 1 } }, strategy });
    const proxy = await tcpProxy(Number(new URL(server.endpoint).port));
    const client = new Dealer({ linger: 0, routingId: "worker-7" });
    client.connect(`tcp://127.0.0.1:${proxy.port}`);
    const replies = new Map<string, Record<string, any>>();
    const loop = (async () => {
      for await (const [f] of client) {
        const r = decode(f as Buffer) as Record<string, any>;
        replies.set(String(r.id), r);
      }
    })().catch(() => undefined);
    await client.send(encode({ v: 1, id: "h", op: "hello", client: { name: "first" } }));
    await waitFor(async () => replies.has("h"), 60_000);
    const hex = Buffer.from("worker-7").toString("hex");
    const logged = (what: string) => server.lines.filter((l) => l.includes(`"connection ${what}"`) && l.includes(hex)).length;
    // Another client's slow asks take 20 ms of every turn: the client's queue drains slowly, also while it is away.
    const slow = Array.from({ length: 150 }, (_, i) => other.request("ask", { study: "o" }, `o${i}`, 120_000));
    const N = 200;
    for (let i = 0; i < N; i++) await client.send(encode({ v: 1, id: `a${i}`, op: "ask", study: "g" }));
    await waitFor(async () => lines(counterG).length >= 5, 60_000);
    // The connection breaks while most asks wait for their turn; libzmq connects the socket again, under the same routing id.
    proxy.cut();
    const atCut = lines(counterG).length;
    await waitFor(async () => logged("closed") === 1 && logged("opened") === 2, 60_000);
    // Sent on the new connection, behind the asks in the client's own queue: answered once they have all started.
    await client.send(encode({ v: 1, id: "fin", op: "get_study", study: "g" }));
    await waitFor(async () => replies.has("fin"), 120_000);
    const page = await other.call("trials", { study: "g", limit: 1000 });
    const names = (page.trials as { system_attrs?: { worker?: { name?: string } } }[]).map((t) => t.system_attrs?.worker?.name ?? "(anonymous)");
    // Asks that started after the connection's end was read are among them.
    expect(names.length).toBeGreaterThan(atCut + 5);
    expect(new Set(names)).toEqual(new Set(["first"]));
    client.close();
    await loop;
    await proxy.close();
    await Promise.all(slow);
    await other.close();
    expect(await server.stop()).toBe(0);
  }, 180_000);
});
