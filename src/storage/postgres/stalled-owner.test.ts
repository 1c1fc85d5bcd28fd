/**
 * A server that stalls inside a commit's transaction (SIGSTOP, a paused VM, a network partition)
 * while another takes its study over, on the shared test server. A batch of several
 * `tuneport_commit_rows` calls is one transaction whose first call fences the study's owner row
 * FOR SHARE; the takeover's UPDATE of that row waits for the transaction. Before tuneport set
 * `idle_in_transaction_session_timeout` in its transactions, it waited for as long as the stall lasted:
 * forever for a stopped process (probed beside two real `serve` processes with a session holding
 * the row as such a batch does: the takeover, and the request for the study on the surviving
 * server, waited until that session ended).
 */
import { type Server, connect, createServer } from "node:net";
import type pg from "pg";
import { afterEach, describe, expect, inject, it } from "vitest";
import { postgresBackend } from "../../testing/storage-backends.js";
import { waitFor } from "../../testing/waits.js";
import { storedStudy, storedTrial } from "../../testing/stored-records.js";
import { PgOwnershipStore } from "./pg-ownership.js";
import { PostgresStorage } from "./postgres-storage.js";


const opened: PostgresStorage[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
});

/**
 * Makes `storage`'s pooled connections stop before the second `tuneport_commit_rows` call of a
 * batch until `resume()`: the state of a process stopped between two statements of its transaction.
 */
function stallSecondCall(storage: PostgresStorage): { stalled: Promise<number>; resume: () => void } {
  let onStall = (_pid: number) => {};
  let resume = () => {};
  const stalled = new Promise<number>((r) => (onStall = r));
  const gate = new Promise<void>((r) => (resume = r));
  const pool = storage.pool as unknown as { connect: (cb?: unknown) => unknown };
  const connect = pool.connect.bind(pool);
  let calls = 0;
  // pg-pool's own `query` connects with a callback (one statement, no transaction): left as it is.
  pool.connect = (cb?: unknown) => (cb ? connect(cb) : stalling());
  const stalling = async () => {
    const client = (await connect()) as pg.PoolClient;
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
      const first = args[0] as { text?: string } | string;
      if (typeof first === "object" && first.text?.includes("tuneport_commit_rows(") === true && ++calls === 2) {
        onStall((client as unknown as { processID: number }).processID);
        await gate;
      }
      return query(...args);
    };
    return client;
  };
  return { stalled, resume };
}

/** Records each statement `storage` sends on a connection it took out of its pool (a transaction's), with its parameters as handed to the driver. */
function recordTransactionCalls(storage: PostgresStorage): { text: string; values: unknown[] }[] {
  const out: { text: string; values: unknown[] }[] = [];
  const pool = storage.pool as unknown as { connect: (cb?: unknown) => unknown };
  const connect = pool.connect.bind(pool);
  pool.connect = (cb?: unknown) => (cb ? connect(cb) : recording());
  const recording = async () => {
    const client = (await connect()) as pg.PoolClient;
    const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
    (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args: unknown[]) => {
      const first = args[0] as { text?: string; values?: unknown[] } | string;
      if (typeof first === "object") out.push({ text: first.text ?? "", values: [...(first.values ?? [])] });
      return query(...args);
    };
    return client;
  };
  return out;
}

describe("a server stalled inside a commit's transaction", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("fails its batch, and only its batch, when PostgreSQL ends its session between two statements (a restart)", async () => {
    const url = backend.location();
    const a = await PostgresStorage.open({ url, poolSize: 2, commitChunkChars: 64 });
    const b = await PostgresStorage.open({ url, poolSize: 2 });
    opened.push(a, b);
    await a.commit([{ kind: "insert-study", study: storedStudy(1, "s") }]);
    const stall = stallSecondCall(a);
    const batch = a.commit([1, 2, 3, 4].map((i) => ({ kind: "insert-trial" as const, trial: storedTrial(i, i - 1) })));
    batch.catch(() => undefined);
    const pid = await stall.stalled;
    // Before the fix the session's end was an 'error' event nobody listened to: an uncaught
    // exception (vitest reports it and fails the run; `serve` died with exit 1 and a driver stack).
    await b.pool.query("SELECT pg_terminate_backend($1)", [pid]);
    await new Promise((r) => setTimeout(r, 200)); // the FATAL message reaches A's idle connection
    stall.resume();
    await expect(batch).rejects.toThrow();
    expect(await b.loadTrials(1)).toEqual([]);
    // A's pool works on: the broken connection was dropped, not handed out again.
    await a.commit([{ kind: "insert-trial", trial: storedTrial(9, 0) }]);
    expect((await b.loadTrials(1)).map((t) => t.id)).toEqual([9]);
  });

  it("holds off another server's takeover of its study for one idle timeout, not for as long as it is stalled; its batch never commits", async () => {
    const url = backend.location();
    // Tiny chunks: the batch below is several calls, so one transaction (commit-chunks.ts runChunks).
    const a = await PostgresStorage.open({ url, poolSize: 2, commitChunkChars: 64, idleInTransactionMs: 1000 });
    const b = await PostgresStorage.open({ url, poolSize: 2 });
    opened.push(a, b);
    const [sa, sb] = [new PgOwnershipStore(a), new PgOwnershipStore(b)];
    const held = new Map<string, number>();
    sa.setFence("A", held);
    expect(await sa.claim("s", "A", "tcp://a:1", 60_000)).toEqual({ held: true, epoch: 1 });
    held.set("s", 1);
    await a.commit([{ kind: "insert-study", study: storedStudy(1, "s") }]);

    const stall = stallSecondCall(a);
    const batch = a.commit([1, 2, 3, 4].map((i) => ({ kind: "insert-trial" as const, trial: storedTrial(i, i - 1) })));
    batch.catch(() => undefined);
    await stall.stalled; // the first call ran: A's transaction holds the owner row FOR SHARE
    // A's lease on the name runs out (as it does while A is stopped), and B takes the study over.
    await b.pool.query("UPDATE study_owners SET expires_at = now() - interval '1 second'");
    expect(await sb.claim("s", "B", "tcp://b:1", 60_000)).toEqual({ held: true, epoch: 2 });
    // A wakes up: its session was ended, so the stalled batch fails and nothing of it was written.
    stall.resume();
    await expect(batch).rejects.toThrow();
    expect(await b.loadTrials(1)).toEqual([]);
  });

  it("does its own work on a batch before the transaction, not between its statements (an import of many intermediate values)", async () => {
    // Between two statements only PostgreSQL's idle-in-transaction clock runs. The driver turned
    // each call's arrays (here 200,000 intermediate values) into text there, after the previous
    // statement's answer: about a second on a shared CPU, so a serve with --ownership-ttl 1 had its
    // import's session ended by its own timeout, and a failed commit stops the server. Checked by
    // what the driver is handed inside the transaction: text only (no arrays left to convert), not
    // by a short timeout, which a busy machine's scheduling alone could reach.
    const url = backend.location();
    const st = await PostgresStorage.open({ url, poolSize: 1 });
    opened.push(st);
    await st.commit([{ kind: "insert-study", study: storedStudy(1, "s") }, { kind: "insert-trial", trial: storedTrial(1, 0) }]);
    const handed = recordTransactionCalls(st);
    const n = 200_000;
    await st.commit(Array.from({ length: n }, (_, i) => ({ kind: "add-intermediate" as const, trialId: 1, step: i, value: i / 7 })));
    const calls = handed.filter((c) => c.text.includes("tuneport_commit_rows("));
    expect(calls.length).toBeGreaterThan(0);
    // $1-$3 are the fence (owner, a few names and epochs); the rest is the batch.
    for (const c of calls) expect(c.values.slice(3).map((v) => (v === null ? "null" : typeof v))).toEqual(Array(c.values.length - 3).fill("string"));
    const [t] = await st.loadTrials(1);
    expect(t?.intermediate.length).toBe(n);
    expect(t?.intermediate[n - 1]).toEqual({ step: n - 1, value: (n - 1) / 7 });
  }, 120_000);

  it("keeps a batch whose statements take longer to send than the idle timeout (a slow link to the database)", async () => {
    // PostgreSQL's idle-in-transaction clock runs while its session reports 'idle in transaction' (it
    // waits for a message), and stops when a message has been received whole. A named statement
    // already prepared on the connection (tuneport_commit_rows) is sent as its Bind first, all of
    // its chunk's rows: up to 32 MB, whose transfer counted as idle, so a link slower than a chunk per
    // TTL had every big batch (an import) ended. A Parse of a few bytes comes first now. Checked with
    // the link stopped in the middle of the batch's call: the session must not be idle there. (A
    // short idle timeout checked it before, which a busy machine's scheduling alone could reach.)
    const url = backend.location();
    const proxy = await stoppingProxy(url);
    const app = `slow-link-${Date.now()}`;
    const st = await PostgresStorage.open({ url: `${url.replace(/host=[^&]*/, "host=127.0.0.1").replace(/port=[0-9]+/, `port=${proxy.port}`)}&application_name=${app}`, poolSize: 1 });
    opened.push(st);
    const watcher = await PostgresStorage.open({ url, poolSize: 1 });
    opened.push(watcher);
    try {
      await st.commit([{ kind: "insert-study", study: storedStudy(1, "s") }, { kind: "insert-trial", trial: storedTrial(1, 0) }]);
      await st.commit([{ kind: "add-intermediate", trialId: 1, step: 0, value: 0 }]); // the named statement is prepared
      const n = 60_000; // about 1.2 MB of parameters
      proxy.stopAtBig();
      const batch = st.commit(Array.from({ length: n }, (_, i) => ({ kind: "add-intermediate" as const, trialId: 1, step: i, value: i / 7 })));
      batch.catch(() => undefined);
      await proxy.stopped;
      // Part of the call's messages reached PostgreSQL, the rest waits in the link: the session runs
      // the call's statement (its Parse came whole), not idle in its transaction. Before the fix it
      // stayed idle there (a Bind cut short), so this waited out its hang guard.
      const session = async () =>
        (await watcher.pool.query<{ state: string; query: string }>("SELECT state, query FROM pg_stat_activity WHERE application_name = $1", [app])).rows;
      await waitFor(async () => (await session()).some((r) => r.query.includes("tuneport_commit_rows(")), 20_000);
      expect((await session()).map((r) => r.state)).toEqual(["active"]);
      proxy.go();
      await batch;
      expect((await st.loadTrials(1))[0]?.intermediate.length).toBe(n);
    } finally {
      proxy.go();
      await st.close();
      proxy.server.close();
    }
  }, 60_000);

  it("fails its opening, not the process, when PostgreSQL ends its session while it waits to repair the counts (a restart)", async () => {
    const url = backend.location();
    const a = await PostgresStorage.open({ url, poolSize: 2 });
    opened.push(a);
    await a.pool.query("INSERT INTO tuneport_pending_repair VALUES ('counts')");
    // A transaction older than the repair's start: the opening waits for it between two polls,
    // holding its connection outside the pool, where pg-pool hears no 'error' event.
    const older = await a.pool.connect();
    await older.query("BEGIN; SELECT 1");
    try {
      const app = `repair-${Date.now()}`;
      const opening = PostgresStorage.open({ url: `${url}${url.includes("?") ? "&" : "?"}application_name=${app}`, poolSize: 1 });
      opening.catch(() => undefined);
      let ended = 0;
      for (let i = 0; i < 400 && ended === 0; i++) {
        await new Promise((r) => setTimeout(r, 25));
        const { rows } = await a.pool.query<{ n: number }>(
          "SELECT COUNT(pg_terminate_backend(pid))::INTEGER AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle' AND query LIKE '%pg_stat_activity%'",
          [app],
        );
        ended = rows[0]?.n ?? 0;
      }
      expect(ended).toBe(1);
      // Before: an uncaught exception (vitest fails the run; serve died with a driver stack).
      await expect(opening).rejects.toThrow();
    } finally {
      await older.query("ROLLBACK");
      older.release();
    }
  });

  it("sets the timeout inside its transactions only: nothing extra at connect, which poolers such as PgBouncer refuse", async () => {
    const url = backend.location();
    const st = await PostgresStorage.open({ url, poolSize: 1, idleInTransactionMs: 2500 });
    opened.push(st);
    const { rows } = await st.pool.query<{ setting: string; source: string }>(
      "SELECT setting, source FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'",
    );
    expect(rows[0]?.source).not.toBe("client");
  });
});

/**
 * A TCP port that forwards to the test server's unix socket (`url`'s host and port). After
 * `stopAtBig()`, the first piece the client sends of 16 KB or more (a batch's call) is passed on
 * only in part, and the rest held (`stopped` resolves) until `go()`: a link that stalls mid-message.
 */
async function stoppingProxy(url: string): Promise<{ server: Server; port: number; stopAtBig: () => void; stopped: Promise<void>; go: () => void }> {
  const dir = decodeURIComponent(/host=([^&]*)/.exec(url)?.[1] ?? "");
  const path = `${dir}/.s.PGSQL.${/port=([0-9]+)/.exec(url)?.[1] ?? "5432"}`;
  let armed = false;
  let onStopped = () => {};
  const stopped = new Promise<void>((r) => (onStopped = r));
  let go = () => {};
  const going = new Promise<void>((r) => (go = r));
  const server = createServer((c) => {
    const s = connect(path);
    s.pipe(c);
    c.on("data", (d: Buffer) => {
      if (!armed || d.length < 16_384) {
        s.write(d);
        return;
      }
      armed = false;
      c.pause();
      s.write(d.subarray(0, d.length >> 1));
      // Written: the part is on its way to PostgreSQL; it is read once the watcher's query sees it.
      onStopped();
      void going.then(() => {
        s.write(d.subarray(d.length >> 1));
        c.resume();
      });
    });
    c.on("close", () => s.destroy());
    s.on("close", () => c.destroy());
    c.on("error", () => undefined);
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { server, port: (server.address() as { port: number }).port, stopAtBig: () => (armed = true), stopped, go };
}
