/**
 * A server that stalls between two statements of a commit batch for longer than PostgreSQL lets a
 * transaction idle (`idle_in_transaction_session_timeout`, the ownership TTL in `serve`), on the
 * shared test server. PostgreSQL ends the session, so the batch fails with nothing written. Before,
 * the server then stopped (a failed commit is fatal), with every study it served; now it commits the
 * batch again: on a lone server the tell is kept, and after a takeover the fence refuses it, the
 * server gives that study up (its request redirected to the new owner) and serves its others on.
 */
import type pg from "pg";
import { afterEach, describe, expect, inject, it } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import { PgOwnershipStore } from "../storage/postgres/pg-ownership.js";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { postgresBackend } from "../testing/storage-backends.js";
import { type Renewal, SharedOwnership } from "./ownership.js";
import { StudyService } from "./study-service.js";
import { tuneportErrorOf, waitFor } from "../testing/waits.js";

const SPACE = { x: { type: "float", low: -5, high: 5 } };
const IDLE_MS = 300;

/** The real store; while `paused`, renewals write nothing and answer as the last one did (a stopped process's rows expire). */
class PausableStore extends PgOwnershipStore {
  paused = false;
  /** What the last renewal found held (a paused one answers that). */
  last: Renewal = new Map<string, number>();
  override async renew(owner: string, ttlMs: number): Promise<Renewal> {
    if (this.paused) return this.last; // with the rows it found locked: still held, not lost
    return (this.last = await super.renew(owner, ttlMs));
  }
}

interface Server {
  storage: PostgresStorage;
  store: PausableStore;
  ownership: SharedOwnership;
  svc: StudyService;
  fatal: unknown[];
  /** Holds the next batch's second call (or its COMMIT) back until `resume`; resolves with its session's pid. */
  stall(before?: "call" | "commit"): { stalled: Promise<number>; resume: () => void };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    await s.svc.close().catch(() => undefined);
    await s.storage.close().catch(() => undefined);
  }
});

/**
 * A server whose every batch is several statements in one transaction (tiny chunks). Only the
 * stalled batch is idle-ended after IDLE_MS (`stall`); the others keep the default timeout: with
 * IDLE_MS on every batch, a busy machine's scheduling alone ended some between two statements.
 */
async function server(location: string, name: string, ttlMs: number, lazyCommitMs?: number): Promise<Server> {
  const storage = await PostgresStorage.open({ url: location, poolSize: 3, commitChunkChars: 64 });
  const store = new PausableStore(storage);
  const fatal: unknown[] = [];
  const ownership = new SharedOwnership({ store, logger: silentLogger(), serverId: name, endpoint: `tcp://${name}:1`, ttlMs });
  const svc = await StudyService.open({ storage, logger: silentLogger(), ownership, reapIntervalMs: 0, onFatal: (e) => fatal.push(e), lazyCommitMs });
  let armed: { onStall: (pid: number) => void; gate: Promise<void>; before: "call" | "commit" } | null = null;
  const pool = storage.pool as unknown as { connect: (cb?: unknown) => unknown };
  const connect = pool.connect.bind(pool);
  // pg-pool's own `query` connects with a callback (one statement, no transaction): left as it is.
  pool.connect = (cb?: unknown) => (cb ? connect(cb) : stalling());
  const stalling = async () => {
    const client = (await connect()) as pg.PoolClient;
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    let calls = 0;
    (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
      const first = args[0] as { text?: string } | string;
      if (typeof first === "string" && first.startsWith("BEGIN")) calls = 0;
      const call = typeof first === "object" && first.text?.includes("tuneport_commit_rows(") === true && ++calls === 2;
      if (armed && (armed.before === "call" ? call : first === "COMMIT")) {
        const a = armed;
        armed = null;
        await query(`SET LOCAL idle_in_transaction_session_timeout = ${IDLE_MS}`);
        a.onStall((client as unknown as { processID: number }).processID);
        await a.gate;
      }
      return query(...args);
    };
    return client;
  };
  const stall = (before: "call" | "commit" = "call") => {
    let onStall = (_pid: number) => {};
    let resume = () => {};
    const stalled = new Promise<number>((r) => (onStall = r));
    armed = { onStall, gate: new Promise<void>((r) => (resume = r)), before };
    return { stalled, resume };
  };
  const s = { storage, store, ownership, svc, fatal, stall };
  servers.push(s);
  return s;
}

/** Until PostgreSQL has ended the session `pid` (its idle-in-transaction timeout). */
async function sessionEnded(observer: PostgresStorage, pid: number): Promise<void> {
  await waitFor(async () => (await observer.pool.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rowCount === 0, 30_000);
}

describe("a server stalled between two statements of a commit batch past the idle timeout", () => {
  const backend = postgresBackend(inject("pgUrl"));

  // Before its COMMIT: found with two real `serve` processes, SIGSTOPped inside a batch of 2,000 asks.
  it.each(["call", "commit"] as const)("alone, stalled before a batch's %s: commits the batch again once it wakes up; the tell is kept and the server serves on", async (before) => {
    const loc = backend.location();
    const a = await server(loc, "a", 2000);
    const observer = await PostgresStorage.open({ url: loc, poolSize: 1 });
    servers.push({ storage: observer, svc: { close: async () => undefined } } as unknown as Server);
    await a.svc.execute("create_study", { name: "s", space: SPACE, seed: 3 });
    const q = await a.svc.execute("ask", { study: "s" });
    const stall = a.stall(before);
    const tell = a.svc.execute("tell", { study: "s", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 1 }, { requestId: "t1" });
    tell.catch(() => undefined);
    await sessionEnded(observer, await stall.stalled);
    stall.resume();
    // Before the fix: the commit failed, the tell was answered UNAVAILABLE and the server stopped.
    expect((await tell).trial.state).toBe("COMPLETE");
    expect(a.fatal).toEqual([]);
    expect((await observer.loadTrials(1))[0]?.state).toBe("COMPLETE");
    expect(await observer.getReply("t1")).not.toBeNull();
    expect((await a.svc.execute("ask", { study: "s" })).trial.number).toBe(1);
  });

  it("after another server took the study over: the tell is not written, it is redirected, and the server serves its other studies on", async () => {
    const ttl = 600;
    const loc = backend.location();
    const a = await server(loc, "a", ttl);
    // B's own TTL is long: it scans for expired studies only every 30 s, so it takes "s" on request
    // alone and never "t", whose row also expires while A is stalled (A renews it when it wakes up).
    const b = await server(loc, "b", 60_000);
    await a.svc.execute("create_study", { name: "s", space: SPACE, seed: 3 });
    await a.svc.execute("create_study", { name: "t", space: SPACE, seed: 3 });
    const q = await a.svc.execute("ask", { study: "s" });
    const qt = await a.svc.execute("ask", { study: "t" });
    // A renewal that finds "t": the stalled process's (paused) renewals answer as that one did.
    await waitFor(async () => a.store.last.has("t"), 50 * ttl);
    const stall = a.stall();
    const tell = a.svc.execute("tell", { study: "s", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 1 }, { requestId: "late" });
    tell.catch(() => undefined);
    // In the same batch: a tell on "t", which A still owns when it wakes up.
    const tellT = a.svc.execute("tell", { study: "t", trial: qt.trial.number, token: qt.lease.token, state: "COMPLETE", value: 2 }, { requestId: "late-t" });
    const pid = await stall.stalled;
    a.store.paused = true; // the whole process is stalled: its rows expire
    await sessionEnded(b.storage, pid);
    await waitFor(async () => (await b.svc.execute("get_study", { study: "s" })).study.name === "s", 50 * ttl);
    expect((await b.svc.execute("ask", { study: "s" })).trial.number).toBe(1);
    // A wakes up.
    a.store.paused = false;
    stall.resume();
    const err = await tuneportErrorOf(tell);
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.data).toMatchObject({ reason: "moved", endpoint: "tcp://b:1" });
    // Before the fix A stopped here (a failed commit, then the lost study: both fatal).
    expect(a.fatal).toEqual([]);
    expect(await b.storage.getReply("late")).toBeNull();
    // The rest of the batch was committed once the lost study's change set was dropped, and answered.
    expect((await tellT).trial.state).toBe("COMPLETE");
    expect(await b.storage.getReply("late-t")).not.toBeNull();
    expect((await b.svc.execute("trial", { study: "s", trial: q.trial.number })).trial.state).toBe("RUNNING");
    // A serves its other study on (renewed again: the rows of "t" are A's once more) and redirects "s".
    await waitFor(async () => (await a.svc.execute("ask", { study: "t" })).trial.number >= 0, 50 * ttl);
    expect((await tuneportErrorOf(a.svc.execute("get_study", { study: "s" }))).data).toMatchObject({ reason: "moved", endpoint: "tcp://b:1" });
    // The client resends the tell (same id) to the new owner: applied there, once.
    await b.svc.execute("tell", { study: "s", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 1 }, { requestId: "late" });
    expect((await b.svc.execute("trial", { study: "s", trial: q.trial.number })).trial.state).toBe("COMPLETE");
  });

  it("a change queued before the study was lost is never written, even once this server owns the study again", async () => {
    const ttl = 600;
    const loc = backend.location();
    // A holds reports back for a minute (answered at once, committed later: the group-commit rule).
    const a = await server(loc, "a", ttl, 60_000);
    const b = await server(loc, "b", 60_000, 0);
    await a.svc.execute("create_study", { name: "s", space: SPACE, seed: 3 });
    const q = await a.svc.execute("ask", { study: "s" });
    const report = { study: "s", trial: q.trial.number, token: q.lease.token, step: 1, value: 1 };
    expect((await a.svc.execute("report", report)).decision).toEqual({ action: "continue" });
    // A stalls (its rows expire) and B takes "s" over, records its own value at step 1, and stops.
    a.store.paused = true;
    await waitFor(async () => (await b.svc.execute("get_study", { study: "s" })).study.name === "s", 50 * ttl);
    await b.svc.execute("report", { ...report, value: 7 });
    await b.svc.close();
    // A wakes up: it finds "s" lost, then takes it over again (B handed it back) and loads B's value.
    a.store.paused = false;
    await a.ownership.recheck();
    await waitFor(async () => (await a.svc.execute("get_study", { study: "s" })).study.name === "s", 50 * ttl);
    await a.svc.close();
    // Before the fix A's report, queued under the epoch it lost, was committed under the new one: it
    // overwrote the value B had recorded (and that A's reloaded memory showed).
    const { rows } = await b.storage.pool.query<{ value: number }>(
      "SELECT v.value FROM intermediate_values v JOIN trials t ON t.id = v.trial_id JOIN studies s ON s.id = t.study_id WHERE s.name = 's' AND v.step = 1",
    );
    expect(rows.map((r) => r.value)).toEqual([7]);
    expect(a.fatal).toEqual([]);
  });

  it("a request that waited on the lost study's lock writes nothing from its memory, even once this server owns the study again", async () => {
    const ttl = 600;
    const loc = backend.location();
    const a = await server(loc, "a", ttl);
    const b = await server(loc, "b", 60_000);
    await a.svc.execute("create_study", { name: "s", space: SPACE, seed: 3 });
    const q = await a.svc.execute("ask", { study: "s" });
    const tellArgs = { study: "s", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 1 };
    // A tell waits for the study's write lock (held here, as by a long request before it).
    let unlock = () => {};
    const state = (a.svc as unknown as { studies: Map<string, { writeLock: { run: (f: () => Promise<void>) => Promise<void> } }> }).studies.get("s");
    void state?.writeLock.run(() => new Promise<void>((r) => (unlock = r)));
    const tell = a.svc.execute("tell", tellArgs);
    tell.catch(() => undefined);
    // A stalls; B takes "s" over, tells the trial with its own value, and stops.
    a.store.paused = true;
    await waitFor(async () => (await b.svc.execute("get_study", { study: "s" })).study.name === "s", 50 * ttl);
    await b.svc.execute("tell", { ...tellArgs, value: 7 });
    await b.svc.close();
    // A wakes up, finds "s" lost, takes it back (its memory reloaded); then the tell gets the old lock.
    a.store.paused = false;
    await a.ownership.recheck();
    await waitFor(async () => (await a.svc.execute("get_study", { study: "s" })).study.name === "s", 50 * ttl);
    unlock();
    expect((await tuneportErrorOf(tell)).code).toBe("UNAVAILABLE");
    await a.svc.close();
    // Before the fix the tell ran on the state A had lost and its change was committed under the new
    // epoch: the trial's value became 1, where B had stored 7.
    const { rows } = await b.storage.pool.query<{ value: number }>("SELECT t.value FROM trials t JOIN studies s ON s.id = t.study_id WHERE s.name = 's'");
    expect(rows.map((r) => r.value)).toEqual([7]);
    expect(a.fatal).toEqual([]);
  });
});
