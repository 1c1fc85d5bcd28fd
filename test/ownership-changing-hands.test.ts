/**
 * A study whose owner stalled (SIGSTOP) while a commit of its holds the study's ownership row: the
 * row's lease runs out, but the takeover claim skips the locked row (FOR NO KEY UPDATE SKIP LOCKED).
 * The server asked must not redirect to the old owner (a stalled or dead server): it answers
 * UNAVAILABLE with no endpoint and a short `retry_after_s`, and serves the request (same id) once
 * the commit ended. The Python client, knowing only that server, asks it again until then. Before
 * 2026-12-07 the answer named the old owner's endpoint: clients waited on it for a whole timeout.
 * Two `tuneport serve` processes on ipc endpoints; the commit's lock is held by the test's own
 * session (as src/service/ownership-claim-locked.test.ts does).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, inject, it } from "vitest";
import { postgresBackend } from "../src/testing/storage-backends.js";
import { waitFor } from "../src/testing/waits.js";
import { type ServerProcess, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

const ROOT = join(import.meta.dirname, "..");
const PYTHON = join(ROOT, ".venv", "bin", "python");
const SPACE = { x: { type: "float", low: -5, high: 5 } };
/** Catches a hang: not a timing assertion. */
const HANG_MS = 60_000;

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  await stopServers();
});

/** Asks `get_study` with the Python client knowing only `endpoint`; prints the endpoints it learnt. */
const PY_CLIENT = `
import json, logging, sys
import tuneport as tp
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
with tp.connect([sys.argv[1]], timeout=5.0, retries=3, heartbeat=False) as client:
    study = client.call("get_study", study="s")
    print(json.dumps({"name": study["study"]["name"], "endpoints": client._endpoints.all}), flush=True)
`;

function python(endpoint: string): { proc: ChildProcess; out: Promise<{ code: number | null; stdout: string; stderr: string }>; stderr: () => string } {
  const proc = spawn(PYTHON, ["-c", PY_CLIENT, endpoint], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PYTHONPATH: join(ROOT, "python-client", "src") },
  });
  let stdout = "";
  let stderr = "";
  proc.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  cleanup.push(async () => void (proc.exitCode === null && proc.kill("SIGKILL")));
  const out = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) => proc.once("exit", (code) => r({ code, stdout, stderr })));
  return { proc, out, stderr: () => stderr };
}

describe("a takeover in progress (the expired owner's commit holds the row)", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("is answered UNAVAILABLE with no endpoint, not a redirect to the stalled owner, and served once the commit ends; the Python client waits for it", async () => {
    expect(existsSync(PYTHON), "make venv creates the Python client's virtualenv").toBe(true);
    const url = backend.location();
    const dir = tempDir();
    const ttl = ["--ownership-ttl", "2"];
    const a: ServerProcess = await startServer(url, ttl, `ipc://${dir}/a.sock`);
    const b: ServerProcess = await startServer(url, ttl, `ipc://${dir}/b.sock`);
    const ca = new TestClient(a.endpoint);
    const cb = new TestClient(b.endpoint);
    cleanup.push(() => ca.close(), () => cb.close());
    await ca.call("create_study", { name: "s", space: SPACE, seed: 1 });
    const moved = await cb.request("get_study", { study: "s" });
    expect(moved.error?.data).toMatchObject({ reason: "moved", endpoint: a.endpoint });

    // 'a' stalls while a commit of its holds the row (the test's session holds it as the fence does).
    const table = `${/schema=([^&]*)/.exec(url)?.[1]}.study_owners`;
    const db = new pg.Client({ connectionString: url.replace(/[?&]schema=[^&]*/, "") });
    await db.connect();
    cleanup.push(() => db.end());
    a.proc.kill("SIGSTOP");
    cleanup.push(async () => void a.proc.kill("SIGCONT"));
    await db.query("BEGIN");
    expect((await db.query(`SELECT 1 FROM ${table} WHERE name = 's' FOR SHARE`)).rowCount).toBe(1);
    let open = true;
    const release = async () => {
      if (open) await db.query("ROLLBACK");
      open = false;
    };
    cleanup.push(release);
    await waitFor(async () => (await db.query(`SELECT expires_at < clock_timestamp() AS gone FROM ${table} WHERE name = 's'`)).rows[0].gone === true, HANG_MS);

    // Before: UNAVAILABLE {reason: "moved", endpoint: a's}, a server that answers nothing.
    const id = "changing-hands-1";
    const during = await cb.request("get_study", { study: "s" }, id);
    expect(during.ok).toBe(false);
    expect(during.error?.code).toBe("UNAVAILABLE");
    expect(during.error?.data).toMatchObject({ reason: "moved", study: "s", endpoint: "", owner_expires_in_s: 0 });
    expect((during.error?.data as { retry_after_s: number }).retry_after_s).toBeGreaterThan(0);
    expect((await db.query(`SELECT epoch::INT AS epoch FROM ${table} WHERE name = 's'`)).rows[0]).toEqual({ epoch: 1 });

    // The Python client, knowing only 'b', says it waits and asks 'b' again; the lock goes meanwhile.
    const py = python(b.endpoint);
    await waitFor(async () => py.proc.exitCode !== null || /no live owner now \(changing hands\)/.test(py.stderr()), HANG_MS);
    await release();
    const done = await py.out;
    expect(done.code, done.stderr).toBe(0);
    // It never learnt the stalled owner's endpoint (a redirect would have added it).
    expect(JSON.parse(done.stdout)).toEqual({ name: "s", endpoints: [b.endpoint] });

    // The same request id, resent, is served by 'b' now, one epoch on.
    const after = await cb.request("get_study", { study: "s" }, id);
    expect(after.ok, JSON.stringify(after.error)).toBe(true);
    expect((await db.query(`SELECT epoch::INT AS epoch FROM ${table} WHERE name = 's'`)).rows[0]).toEqual({ epoch: 2 });
  });
});
