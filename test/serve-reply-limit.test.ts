/**
 * `tuneport serve` wires the service's limit on a change's reply to its ZeroMQ reply ceiling (a
 * quarter of --max-reply-mib): a change whose reply the door could not send is refused before it
 * is applied, with the limit named.
 *
 * The refusal itself is small, but measuring the refused reply (~23 MB) leaves ~117 MB of dead
 * ArrayBuffers (msgpackr's buffer grown to 4x the reply, the reply's copy), over the 80 MiB under
 * which small replies go. The door's full collection frees them on a background thread, and the
 * count it read right after still held them whenever that thread had not run yet: on a loaded
 * machine the refusal was itself refused UNAVAILABLE "memory" (3 of 20 runs in CI; 7 of 8 tries
 * with the server and a CPU hog on one core), which this test then resent around. Here the server
 * runs on one core beside a busy process, each round after the door's once-a-second collection
 * may run again: every round must get its MESSAGE_TOO_LARGE at once.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TestClient, startServer, stopServers, tempDir } from "./helpers.js";

afterAll(stopServers);

/** A core this process may run on, where `taskset` (util-linux) can pin processes; null without it (the test then runs unpinned, the race rarer). */
function pinnableCore(): string | null {
  try {
    const out = execFileSync("taskset", ["-c", "-p", String(process.pid)], { encoding: "utf8" });
    return /:\s*(\d+)/.exec(out)?.[1] ?? null;
  } catch {
    return null;
  }
}

describe("serve --max-reply-mib", () => {
  it("refuses, before applying it, a change whose reply would be over a quarter of the ceiling", async () => {
    const server = await startServer(join(tempDir(), "db.sqlite"), ["--max-reply-mib", "64", "--max-message-bytes", String(32 * 1024 * 1024)]);
    const client = new TestClient(server.endpoint);
    const core = pinnableCore();
    let hog: ChildProcess | null = null;
    try {
      await client.call("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
      // 3.9 M characters of 3 UTF-8 bytes each, within the define-by-run bound (4 Mi characters),
      // echoed twice in the reply (the trial's params and distributions): ~23 MB, over 16 MiB.
      const big = "€".repeat(3_900_000);
      const args = { study: "s", params: { x: 0.5, c: big }, distributions: { c: { type: "categorical", choices: [big] } }, value: 1 };
      if (core !== null) {
        // Every thread of the server on one core, beside a process that keeps that core busy.
        execFileSync("taskset", ["-a", "-p", "-c", core, String(server.proc.pid)], { stdio: "ignore" });
        hog = spawn("taskset", ["-c", core, process.execPath, "-e", "for (;;);"], { stdio: "ignore" });
      }
      for (let round = 0; round < 3; round++) {
        // More than a second apart: the door collects garbage once a second at most (zmq-server.ts `heldNow`).
        if (round > 0) await new Promise((done) => setTimeout(done, 1_100));
        const r = await client.request("add_trial", args, `big${round}`, 60_000);
        expect(r.error).toMatchObject({ code: "MESSAGE_TOO_LARGE", data: { op: "add_trial", max_reply_bytes: 16 * 1024 * 1024 } });
      }
      hog?.kill("SIGKILL");
      expect((await client.call("get_study", { study: "s" })).study.n_trials).toBe(0);
    } finally {
      hog?.kill("SIGKILL");
      await client.close();
      await server.stop();
    }
  }, 120_000);
});
