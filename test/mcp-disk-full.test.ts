/**
 * A disk that fills under `tuneport mcp --storage <file.db>`, with the SDK's real Client over stdio.
 * The server holds the commit that found no room and answers its requests UNAVAILABLE storage_full;
 * the held change is committed once space is freed (docs/DURABILITY.md). The MCP tool passed that
 * refusal on with "retry in a few seconds", and the agent's retry, a new call, recorded the result a
 * second time (add_trial: one measurement, two trials). Now a change carries a request id and a
 * storage_full refusal is sent again with it until the disk has room (transports/mcp/backend.ts
 * `sendChange`): the call answers once, and nothing is recorded twice.
 *
 * The probe (fixtures/mcp-disk-full-probe.mjs) runs in a user and mount namespace on an 8 MiB tmpfs,
 * as test/disk-full.test.ts's does, with a PID namespace of its own so that a probe killed on its
 * timeout leaves no process behind.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, tempDir } from "./helpers.js";

function probe(dir: string, timeoutMs: number): Promise<{ status: number | null; stdout: string; stderr: string; killed: boolean }> {
  const setup = 'set -e; mount -t tmpfs -o size=8m tmpfs "$1"; shift; exec "$0" "$@"';
  return new Promise((resolve, reject) => {
    const child = spawn("unshare", ["-rm", "--pid", "--kill-child", "sh", "-c", setup, process.execPath, dir, join(import.meta.dirname, "fixtures", "mcp-disk-full-probe.mjs"), CLI, dir], { stdio: ["ignore", "pipe", "pipe"] });
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

describe("a disk that fills under tuneport mcp --storage (SQLite)", () => {
  it("waits out the full disk in the tool call, so a result is recorded once, not again by the agent's retry", async () => {
    const r = await probe(tempDir(), 180_000);
    expect(r.status, `the probe (needs unshare -rm --pid, user namespaces allowed, and tmpfs mounts in them)${r.killed ? ", killed after 180 s" : ""}: ${r.stderr}`).toBe(0);
    const seen = JSON.parse(r.stdout.trim().split("\n").pop() as string);
    expect(seen.full).toBe(true);
    expect(seen.freed).toBe(true);
    // No call failed: the one that met the full disk answered once space was freed.
    expect(seen.failure).toBeUndefined();
    expect(seen.twice).toEqual([]);
    expect(seen.trials).toBe(seen.ok);
  }, 240_000);
});
