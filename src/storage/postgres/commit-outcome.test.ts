/**
 * Which failed commits the pipeline may commit again (storage.ts `committed`), on the shared test
 * server: only one known to have written nothing. A COMMIT that reached PostgreSQL and whose answer
 * never came back (the session ended while it ran) has an unknown outcome: committed again, a batch
 * that did commit would be written twice (its intermediate values overwritten, its trials inserted
 * again, refused, and the server stopped), and one acknowledged on the retry's answer may be
 * acknowledged for a write that another server's takeover then never saw. It must stay fatal.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { committed } from "../storage.js";
import { postgresBackend } from "../../testing/storage-backends.js";
import { storedStudy, storedTrial } from "../../testing/stored-records.js";
import { PostgresStorage } from "./postgres-storage.js";
import { waitFor } from "../../testing/waits.js";


const LOCK_KEY = 58_058_062;
const opened: PostgresStorage[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
});

describe("a commit whose session ends", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("after its COMMIT was sent: the outcome is unknown, never taken for 'nothing written'", async () => {
    const url = backend.location();
    // Tiny chunks: the batch is several statements in one transaction, then a COMMIT of its own.
    const a = await PostgresStorage.open({ url, poolSize: 2, commitChunkChars: 64 });
    const b = await PostgresStorage.open({ url, poolSize: 2 });
    opened.push(a, b);
    await a.commit([{ kind: "insert-study", study: storedStudy(1, "s") }]);
    // A deferred trigger runs inside COMMIT: it waits there on a lock this test holds.
    await b.pool.query(
      `CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(${LOCK_KEY}); RETURN NULL; END $$;
       CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON trials DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit()`,
    );
    const holder = await b.pool.connect();
    await holder.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
    try {
      const batch = a.commit([1, 2, 3, 4].map((i) => ({ kind: "insert-trial" as const, trial: storedTrial(i, i - 1) })));
      batch.catch(() => undefined);
      let pid = 0;
      await waitFor(async () => {
        const { rows } = await b.pool.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query = 'COMMIT' AND wait_event = 'advisory'");
        pid = rows[0]?.pid ?? 0;
        return pid !== 0;
      }, 30_000);
      await b.pool.query("SELECT pg_terminate_backend($1)", [pid]);
      const err = await batch.then(
        () => new Error("the batch committed"),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).not.toBe("the batch committed");
      // Committing it again is not safe: the pipeline stops instead (commitKeeping).
      expect(committed(err)).toBe(true);
    } finally {
      await holder.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]);
      holder.release();
    }
  }, 60_000);

  it("before its COMMIT was sent: known to have written nothing, so the batch may be committed again", async () => {
    const url = backend.location();
    const a = await PostgresStorage.open({ url, poolSize: 2, commitChunkChars: 64 });
    const b = await PostgresStorage.open({ url, poolSize: 2 });
    opened.push(a, b);
    await a.commit([{ kind: "insert-study", study: storedStudy(1, "s") }]);
    // The same wait, in a statement of the transaction instead of its COMMIT.
    await b.pool.query(
      `CREATE FUNCTION hold_call() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(${LOCK_KEY}); RETURN NULL; END $$;
       CREATE TRIGGER hold_call AFTER INSERT ON trials FOR EACH ROW EXECUTE FUNCTION hold_call()`,
    );
    const holder = await b.pool.connect();
    await holder.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
    try {
      const batch = a.commit([1, 2, 3, 4].map((i) => ({ kind: "insert-trial" as const, trial: storedTrial(i, i - 1) })));
      batch.catch(() => undefined);
      let pid = 0;
      await waitFor(async () => {
        const { rows } = await b.pool.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query LIKE '%tuneport_commit_rows(%' AND wait_event = 'advisory'");
        pid = rows[0]?.pid ?? 0;
        return pid !== 0;
      }, 30_000);
      await b.pool.query("SELECT pg_terminate_backend($1)", [pid]);
      const err = await batch.then(
        () => new Error("the batch committed"),
        (e: unknown) => e,
      );
      expect((err as Error).message).not.toBe("the batch committed");
      expect(committed(err)).toBe(false);
      expect(await b.loadTrials(1)).toEqual([]);
    } finally {
      await holder.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]);
      holder.release();
    }
  }, 60_000);
});
