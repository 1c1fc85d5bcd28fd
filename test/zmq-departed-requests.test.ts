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
import { pathToFileURL } from "node:url";
import { Dealer } from "zeromq";
import { afterEach, describe, expect, it } from "vitest";
import { encode } from "../src/transports/zmq/codec.js";
import { waitFor } from "../src/testing/waits.js";
import { TestClient, startServer, stopServers, tempDir } from "./helpers.js";

const ZOD = pathToFileURL(join(import.meta.dirname, "..", "node_modules", "zod", "index.js")).href;
const DIST = pathToFileURL(join(import.meta.dirname, "..", "dist", "index.js")).href;
/** Ports of this file (TUNEPORT_TEST_PORTS, else 63200-63299): the server's, and the proxy's. */
const [LO] = (process.env.TUNEPORT_TEST_PORTS ?? "63200-63299").split("-").map(Number) as [number];

/**
 * "gated": each suggestion appends its trial number to `counter`, waits `ms` on the server's main
 * thread (not offloaded), then until `gate` exists; each trajectory read appends a line to `reads`.
 */
function gatedModule(dir: string, counter: string, reads: string, gate: string, ms: number): string {
  const path = join(dir, "gated.mjs");
  writeFileSync(
    path,
    `import { appendFileSync, existsSync } from "node:fs";
import { z } from ${JSON.stringify(ZOD)};
import { BUILTIN_PLUGINS } from ${JSON.stringify(DIST)};
const pause = new Int32Array(new SharedArrayBuffer(4));
export const gated = {
  name: "gated", description: "Counts its suggestions and trajectory reads (a test plug-in).", options: z.object({}).strict(), offload: false,
  readModels: { trajectory: () => (appendFileSync(${JSON.stringify(reads)}, "r\\n"), { entries: [], thinned: false }) },
  create: () => ({
    suggest(req) {
      appendFileSync(${JSON.stringify(counter)}, req.trialNumber + "\\n");
      Atomics.wait(pause, 0, 0, ${ms});
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

const lines = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean) : []);

afterEach(stopServers);

describe("requests of a client that left while they waited for their turn", () => {
  it("reads are dropped, not run for nobody", async () => {
    const dir = tempDir();
    const [counter, reads, gate] = ["suggestions.txt", "reads.txt", "gate"].map((f) => join(dir, f)) as [string, string, string];
    writeFileSync(gate, "");
    const server = await startServer(join(dir, "t.db"), ["--plugins", gatedModule(dir, counter, reads, gate, 0), "--log-level", "debug"], `tcp://127.0.0.1:${LO}`);
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
});
