/**
 * A disk that fills under the doors that make changes for someone who cannot resend them under their
 * request id: an agent over MCP (`tuneport mcp --storage`, the SDK's real Client over stdio) and a
 * person on the dashboard (`tuneport serve --dashboard`, its HTTP API). The server holds the commit
 * that found no room and answers its requests UNAVAILABLE storage_full; the held change is committed
 * once space is freed (docs/DURABILITY.md). Both doors passed the refusal on (MCP: "retry in a few
 * seconds"), and the retry, a new request, made the change a second time: add_trial recorded one
 * measurement as two trials, the dashboard queued one trial twice. Now a change carries a request id
 * and a storage_full refusal is sent again with it until the disk has room (transports/change-resend.ts
 * `sendChange`): the call answers once, and nothing is made twice.
 *
 * The probe (fixtures/change-disk-full-probe.mjs) runs in a user and mount namespace on an 8 MiB tmpfs,
 * as test/disk-full.test.ts's does, with a PID namespace of its own so that a probe killed on its
 * timeout leaves no process behind.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, tempDir } from "./helpers.js";

function probe(dir: string, door: string, timeoutMs: number, fixture = "change-disk-full-probe.mjs"): Promise<{ status: number | null; stdout: string; stderr: string; killed: boolean }> {
  const setup = 'set -e; mount -t tmpfs -o size=8m tmpfs "$1"; shift; exec "$0" "$@"';
  return new Promise((resolve, reject) => {
    const child = spawn("unshare", ["-rm", "--pid", "--kill-child", "sh", "-c", setup, process.execPath, dir, join(import.meta.dirname, "fixtures", fixture), CLI, dir, door], { stdio: ["ignore", "pipe", "pipe"] });
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

describe("a disk that fills under the doors that change for an agent or a person (SQLite)", () => {
  for (const door of ["mcp", "dashboard"])
    it(`${door}: waits out the full disk in the call, so a change is made once, not again by a retry`, async () => {
      const r = await probe(tempDir(), door, 180_000);
      expect(r.status, `the probe (needs unshare -rm --pid, user namespaces allowed, and tmpfs mounts in them)${r.killed ? ", killed after 180 s" : ""}: ${r.stderr}`).toBe(0);
      const seen = JSON.parse(r.stdout.trim().split("\n").pop() as string);
      expect(seen.full).toBe(true);
      expect(seen.freed).toBe(true);
      // No call failed: the one that met the full disk answered once space was freed.
      expect(seen.failure).toBeUndefined();
      expect(seen.twice).toEqual([]);
      expect(seen.trials).toBe(seen.ok);
    }, 240_000);

  // `tuneport mcp --connect` stopped (SIGTERM) while a change waits out the full disk: the stop waited
  // out the disk's 20 s too, sending the change again every second (18 sends after the SIGTERM), so a
  // client that gives a server 2 s before SIGTERM and 2 s more before SIGKILL (the MCP SDK's stdio
  // client) killed it. The stop now ends the wait at once: no send after it, and a clean exit.
  // The agent's cancel of such a change (`notifications/cancelled`) went on being sent for the
  // disk's 20 s too, holding one of the session's 64 tool-call slots: its sends now end with the cancel
  // (counted 3.5 s after it, the disk still full).
  for (const [mode, what] of [["", "a stop ends a change's wait for the disk"], ["cancel", "a cancelled change stops being sent"]])
    it(`mcp --connect: ${what}`, async () => {
      const r = await probe(tempDir(), mode as string, 180_000, "mcp-connect-stop-probe.mjs");
      expect(r.status, `the probe${r.killed ? ", killed after 180 s" : ""}: ${r.stderr}`).toBe(0);
      const seen = JSON.parse(r.stdout.trim().split("\n").pop() as string);
      expect(seen.full).toBe(true);
      expect(seen.answered_before_stop).toBe(false);
      expect(seen.resends_before_stop).toBeGreaterThan(0);
      // At most the send under way when the stop or cancel came.
      expect(seen.resends_after_stop).toBeLessThanOrEqual(1);
      expect(seen.exit).toEqual({ code: 0, signal: null });
    }, 240_000);
});
