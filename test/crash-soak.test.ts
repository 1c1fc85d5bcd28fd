/**
 * Crash soak: 16 worker processes on two studies (grid and random) while the server is
 * SIGKILLed at random moments 20 times and restarted on the same port and database; victim
 * workers are SIGKILLed mid-trial; normal workers drop replies on purpose and retry with the
 * same request id. At the end the invariants of issue 7 are checked against the workers'
 * logs of acknowledged asks and tells.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type ServerProcess, TestClient, freePort, startServer, tempDir, stopServers } from "./helpers.js";

// A failed assertion or hook must not leave a server running.
afterAll(stopServers);

const WORKER = join(import.meta.dirname, "fixtures", "crash-worker.mjs");
const KILLS = 20;
const WORKERS_PER_STUDY = 8;
const GRID = { x: { type: "int", low: 0, high: 29 }, y: { type: "int", low: 0, high: 29 } }; // 900 points

function objective(p: Record<string, number>): number {
  if (p.y !== undefined) return ((p.x as number) - 7.3) ** 2 + (p.y - 11.6) ** 2;
  return ((p.x as number) - 0.123) ** 2 + Math.abs(p.z ?? 0) / 10;
}

type LogRec = { ev: string; study?: string; trial?: number; params?: Record<string, number>; state?: string; value?: number | null; message?: string };

function readLog(file: string): LogRec[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as LogRec);
}

function exited(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve(p.exitCode);
    p.once("exit", (code) => resolve(code));
  });
}

describe("crash soak: server SIGKILLed 20 times under 16 workers", () => {
  const dir = tempDir("tuneport-soak-");
  const db = join(dir, "soak.sqlite");
  const stopFile = join(dir, "STOP");
  const procs: ChildProcess[] = [];
  let server: ServerProcess | null = null;
  let client: TestClient | null = null;

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    await Promise.all(procs.map(exited));
    await client?.close();
    if (server) await server.stop("SIGKILL");
  });

  it("keeps every acknowledged tell, hands nothing out twice, and ends with every trial terminal", async () => {
    const port = await freePort();
    const endpoint = `tcp://127.0.0.1:${port}`;
    // Server logs of every incarnation land in DIR/server.log (kept for a failing run).
    const start = async () => {
      if (server) appendFileSync(join(dir, "server.log"), `${server.lines.join("\n")}\n`);
      return startServer(db, ["--lease-ttl", "3"], endpoint);
    };
    server = await start();
    client = new TestClient(endpoint);
    await client.call("create_study", { name: "grid", strategy: "grid", space: GRID, lease_ttl_s: 2, retry: { max_retries: 5, retry_on_fail: true } });
    await client.call("create_study", {
      name: "rand",
      // Explicitly random (the default became `auto`, i.e. GP): a GP fit per ask under 16 workers
      // made the outcome depend on machine speed (asks queued past the workers' give-up time).
      strategy: "random",
      space: { x: { type: "float", low: -5, high: 5 }, z: { type: "int", low: -3, high: 3 } },
      lease_ttl_s: 2,
      retry: { max_retries: 3, retry_on_fail: true, keep_intermediate: true },
    });
    await client.close();
    client = null;

    const logs: string[] = [];
    const spawnWorker = (study: string, mode: "normal" | "victim", n: number): ChildProcess => {
      const log = join(dir, `${mode}-${study}-${n}.jsonl`);
      logs.push(log);
      const p = spawn(process.execPath, [WORKER, endpoint, study, log, stopFile, mode, String(1000 + n)], { stdio: ["ignore", "ignore", "pipe"] });
      procs.push(p);
      return Object.assign(p, { logFile: log });
    };
    const normal: ChildProcess[] = [];
    for (let i = 0; i < WORKERS_PER_STUDY; i++) normal.push(spawnWorker("grid", "normal", i), spawnWorker("rand", "normal", 100 + i));

    // Victims: each asks a trial, reports once, and is SIGKILLed while it hangs mid-trial. One that
    // has no trial yet when the STOP file appears (its asks lost to the restarts) exits instead:
    // waiting for it to hang ran out the 120 s guard, most of this test's time (146 s -> 36 s).
    const victimKills: Promise<number>[] = [];
    const spawnVictim = (n: number) => {
      const p = spawnWorker(n % 2 === 0 ? "rand" : "grid", "victim", 200 + n) as ChildProcess & { logFile: string };
      const running = () => p.exitCode === null && p.signalCode === null;
      victimKills.push(
        (async () => {
          const deadline = Date.now() + 120_000; // hang guard
          while (Date.now() < deadline && running() && !readLog(p.logFile).some((r) => r.ev === "hang")) await new Promise((r) => setTimeout(r, 50));
          p.kill("SIGKILL");
          await exited(p);
          return readLog(p.logFile).filter((r) => r.ev === "hang").length;
        })(),
      );
    };

    // 20 SIGKILLs at random moments, each followed by a restart on the same port and file.
    let rng = 42;
    const rand = () => ((rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, 250 + rand() * 900));
      if (k % 3 === 0) spawnVictim(k);
      server.proc.kill("SIGKILL");
      await server.stop();
      server = await start();
    }

    // Wind down: workers finish their trial and exit; victims are all killed.
    writeFileSync(stopFile, "");
    const codes = await Promise.all(normal.map(exited));
    const hung = await Promise.all(victimKills);
    expect(codes, "normal workers exit cleanly").toEqual(normal.map(() => 0));
    expect(hung.filter((h) => h === 1).length, "victims died mid-trial").toBeGreaterThanOrEqual(5);

    // The reaper fails the victims' trials (lease 2 s) and re-queues them; drain the queue.
    client = new TestClient(endpoint);
    const c = client;
    const drained: { study: string; trial: number; value: number }[] = [];
    const deadline = Date.now() + 120_000; // hang guard: the reaper needs a few lease TTLs, longer on a loaded machine
    for (;;) {
      const counts = await Promise.all(["grid", "rand"].map(async (s) => (await c.call("get_study", { study: s })).study.counts));
      if (counts.every((x) => x.RUNNING === 0 && x.WAITING === 0)) {
        // the grid must also be finished: ask until exhausted
        const r = await c.request("ask", { study: "grid" });
        if (!r.ok && r.error?.code === "SEARCH_SPACE_EXHAUSTED") break;
        if (r.ok) {
          await c.call("tell", { study: "grid", trial: r.result.trial.number, token: r.result.lease.token, state: "COMPLETE", value: objective(r.result.trial.params) });
          drained.push({ study: "grid", trial: r.result.trial.number, value: objective(r.result.trial.params) });
        }
        continue;
      }
      for (const [i, s] of ["grid", "rand"].entries()) {
        for (let w = 0; w < (counts[i] as { WAITING: number }).WAITING; w++) {
          const a = await c.call("ask", { study: s });
          const value = objective(a.trial.params);
          await c.call("tell", { study: s, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value });
          drained.push({ study: s, trial: a.trial.number, value });
        }
      }
      expect(Date.now() < deadline, "queue drains").toBe(true);
      await new Promise((r) => setTimeout(r, 200));
    }

    // ---- invariants
    const recs = logs.flatMap((f) => readLog(f).map((r) => ({ ...r, file: f })));
    expect(recs.filter((r) => r.ev === "error")).toEqual([]);
    for (const study of ["grid", "rand"]) {
      const { trials } = await c.call("trials", { study, limit: 100_000 });
      type T = { number: number; state: string; value: number | null; params: Record<string, number>; system_attrs: Record<string, unknown> };
      const stored = trials as T[];
      const byNumber = new Map(stored.map((t) => [t.number, t]));
      expect(stored.map((t) => t.number)).toEqual(stored.map((_, i) => i)); // dense, never reused

      // every trial ends in a terminal state
      expect(stored.filter((t) => !["COMPLETE", "FAIL", "PRUNED"].includes(t.state))).toEqual([]);

      // no trial number handed out twice: each asked number went to one worker (or the drain)
      const asks = recs.filter((r) => r.ev === "ask" && r.study === study);
      const owner = new Map<number, string>();
      for (const a of asks) {
        const prev = owner.get(a.trial as number);
        expect(prev === undefined || prev === a.file, `trial ${a.trial} of ${study} handed to two workers`).toBe(true);
        owner.set(a.trial as number, a.file);
      }
      for (const d of drained.filter((x) => x.study === study)) {
        expect(owner.has(d.trial), `drained trial ${d.trial} was also handed to a worker`).toBe(false);
        owner.set(d.trial, "drain");
      }
      // and every stored trial was handed to someone: a lost or retried ask created no orphan
      const orphans = stored.filter((t) => t.state !== "WAITING" && !owner.has(t.number) && t.system_attrs.retried_as === undefined);
      expect(orphans.map((t) => t.number)).toEqual([]);

      // every acknowledged tell is stored, exactly
      const tells = [...recs.filter((r) => r.ev === "tell" && r.study === study), ...drained.filter((d) => d.study === study).map((d) => ({ ...d, state: "COMPLETE" }))];
      for (const t of tells) {
        const s = byNumber.get(t.trial as number);
        expect(s?.state, `acknowledged tell of trial ${t.trial}`).toBe(t.state);
        if (t.state === "COMPLETE") expect(s?.value).toBe(t.value);
      }
      // ... and nothing COMPLETE is stored that nobody was told about
      const acked = new Set(tells.filter((t) => t.state === "COMPLETE").map((t) => t.trial));
      expect(stored.filter((t) => t.state === "COMPLETE" && !acked.has(t.number)).map((t) => t.number)).toEqual([]);

      // the best value equals the best acknowledged one
      const bestAcked = Math.min(...tells.filter((t) => t.state === "COMPLETE").map((t) => t.value as number));
      expect((await c.call("best", { study })).trial.value).toBe(bestAcked);

      // re-queued params come only from failed trials, each retry names its origin
      for (const t of stored.filter((x) => x.system_attrs.retry_of !== undefined)) {
        const origin = byNumber.get(t.system_attrs.retry_of as number);
        expect(origin?.state).toBe("FAIL");
        expect(origin?.params).toEqual(t.params);
        expect(origin?.system_attrs.retried_as).toBe(t.number);
      }
      if (study === "grid") {
        // no grid point twice, apart from retries of a failed attempt; every point covered
        const first = stored.filter((t) => t.system_attrs.retry_of === undefined);
        const keys = first.map((t) => `${t.params.x},${t.params.y}`);
        expect(new Set(keys).size).toBe(keys.length);
        expect(keys.length).toBe(900);
        // Synthetic FAILs are retried (retry_on_fail), so the optimum point always completes in the end.
        expect((await c.call("best", { study })).trial.params).toEqual({ x: 7, y: 12 });
      }
    }
    // the run did exercise what it claims to
    expect(recs.filter((r) => r.ev === "lost-reply").length).toBeGreaterThan(0);
    const reaped = (await c.call("trials", { study: "rand", states: ["FAIL"], limit: 100_000 })).trials.filter(
      (t: { system_attrs: Record<string, unknown> }) => t.system_attrs.fail_reason === "lease_expired",
    );
    expect(reaped.length).toBeGreaterThan(0);
    expect(await server.stop()).toBe(0);
    const integrity = await startServer(db, ["--log-level", "info"]);
    expect(await integrity.stop()).toBe(0);
  }, 600_000);
});
