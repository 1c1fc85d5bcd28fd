/**
 * A disk that fills under `tuneport serve --storage <file.db>` (legal writes: trials with large user
 * attributes). Before, the first commit that found no room (SQLITE_FULL) stopped the server (exit 70)
 * without answering the requests of its batch, and every client lost it until someone freed space and
 * restarted it. Now the commit is held and tried again every second (service/commit-pipeline.ts): the
 * batch's requests, new changes and reads are answered UNAVAILABLE `data.reason: "storage_full"` with a
 * `retry_after_ms`, nothing unacknowledged is acknowledged, and once space is freed the same server
 * commits the held batch and goes on; running leases get the time back (heartbeats were refused); a
 * stop while full gives it up (exit 70, fail-stop); `tuneport import` into a full disk imports nothing
 * and says why.
 *
 * A full disk needs a small filesystem of its own: the probe (fixtures/disk-full-probe.mjs) runs in a
 * user and mount namespace (`unshare -rm`, which needs user namespaces allowed) on an 8 MiB tmpfs,
 * against real `tuneport serve` processes and real ZeroMQ clients, with a PID namespace of its own
 * (`--pid --kill-child`) so that a probe killed on its timeout leaves no server behind.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, freePort, tempDir } from "./helpers.js";

/** Runs the probe on a fresh tmpfs mounted at `dir` in the namespace; SIGKILLs it after `timeoutMs`. */
function probe(dir: string, port: number, timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string; killed: boolean }> {
  const setup = 'set -e; mount -t tmpfs -o size=8m tmpfs "$1"; shift; exec "$0" "$@"';
  return new Promise((resolve, reject) => {
    const child = spawn("unshare", ["-rm", "--pid", "--kill-child", "sh", "-c", setup, process.execPath, dir, join(import.meta.dirname, "fixtures", "disk-full-probe.mjs"), CLI, dir, String(port)], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let killed = false;
    const timer = setTimeout(() => ((killed = true), child.kill("SIGKILL")), timeoutMs);
    child.stdout.on("data", (d: Buffer) => void (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => void (stderr += d.toString()));
    child.once("error", (err) => (clearTimeout(timer), reject(err)));
    child.once("close", (status) => (clearTimeout(timer), resolve({ status, stdout, stderr, killed })));
  });
}

const FULL = { code: "UNAVAILABLE", reason: "storage_full", retry_after_ms: 1000 };

describe("a disk that fills under serve --storage (SQLite)", () => {
  it("refuses writes and reads with UNAVAILABLE storage_full, loses nothing acknowledged, and goes on once space is freed", async () => {
    const r = await probe(tempDir(), await freePort(), 240_000);
    expect(r.status, `the probe (needs unshare -rm --pid, user namespaces allowed, and tmpfs mounts in them)${r.killed ? ", killed after 240 s" : ""}: ${r.stderr}`).toBe(0);
    const seen = JSON.parse(r.stdout.trim().split("\n").pop() as string);
    // The write whose commit found no room, a write and a read while full: typed, retryable; the server runs on.
    expect(seen.failure?.reply).toEqual(FULL);
    expect(seen.writeWhileFull).toEqual(FULL);
    expect(seen.readWhileFull).toEqual(FULL);
    expect(seen.aliveWhileFull).toBe(true);
    // Heartbeats are refused too, with nothing to write or not: one that needed none was answered ok
    // (the lease renewed in memory only), and a refused one counted its lease as written, so the next was.
    expect(seen.heartbeatsWhileFull).toEqual([FULL, FULL, FULL]);
    // Each refusal names its outage by when the storage became full: one value for the whole outage
    // (what the Python client tells one outage from the next by), a later one for the next outage.
    expect(seen.fullSince).toHaveLength(6);
    expect(typeof seen.fullSince[0]).toBe("number");
    expect(new Set(seen.fullSince).size).toBe(1);
    expect(seen.fullSince2).toBeGreaterThan(seen.fullSince[0]);
    // Space freed: the same server reads and writes again; the failed tell, resent with its id, is answered from the commit.
    expect(seen.pollsUntilReadable).toBeGreaterThan(0);
    expect(seen.resentTell).toBe("ok");
    // A lease that ran out while full (heartbeats refused) is given that time back, as a restart would: its tell is accepted.
    expect(seen.keeperTell).toBe("ok");
    expect(seen.writeAfterFreed).toBe(true);
    expect(seen.ackedMissingBeforeRestart).toEqual([]);
    expect(seen.phase1Exit).toEqual({ code: 0, sig: null });
    const phase1 = seen.phase1Log.filter((l: { msg: string }) => !l.msg.startsWith("the server did not run for a while")); // a loaded machine's stall
    expect(phase1.map((l: { msg: string }) => l.msg)).toEqual([expect.stringMatching(/^storage full: /), "storage has room again: commits resumed"]);
    // Stopped while full: the held commit is given up (fail-stop, exit 70), none of it acknowledged.
    expect(seen.failure2?.reply).toEqual(FULL);
    expect(seen.phase2Exit).toEqual({ code: 70, sig: null });
    expect(seen.phase2Log.at(-1)).toMatchObject({ level: 60, reason: "storage_full", err: "SQLITE_FULL" });
    // Restarted while still full: refused in one line; with space: every acknowledged tell is there, the file sound.
    expect(seen.restartWhileFull).toBe(false);
    expect(seen.restartWhileFullStderr).toMatch(/database or disk is full/);
    expect(seen.restarted).toBe(true);
    expect(seen.acked).toBeGreaterThan(3);
    expect(seen.ackedMissing).toEqual([]);
    expect(seen.writeAfterRestart).toBe(true);
    // `tuneport import` into the full disk: says so, nothing imported.
    expect(seen.importWhileFull).toEqual({ status: 1, stderr: "tuneport: the import's commit failed: nothing was imported (no space left on the device) (UNAVAILABLE)" });
    expect(seen.studiesAfterImport).toEqual(["k", "s"]);
    expect(seen.integrity).toBe("ok");
  }, 300_000);
});
