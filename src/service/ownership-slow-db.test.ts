/**
 * Ownership renewals against a slow database (the shared test server): each renewal's UPDATE is
 * held in a statement-level trigger (no row is locked yet) on an advisory lock this test holds, so
 * every renewal takes as long as the test says, while the server's commits and reads, which update
 * no ownership row, are not slowed by the database at all.
 */
import pg from "pg";
import { afterEach, describe, expect, inject, it } from "vitest";
import { silentLogger } from "../logger.js";
import { PgOwnershipStore } from "../storage/postgres/pg-ownership.js";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { postgresBackend } from "../testing/storage-backends.js";
import { SharedOwnership } from "./ownership.js";
import { StudyService } from "./study-service.js";
import { waitFor } from "../testing/waits.js";

const SPACE = { x: { type: "float", low: -5, high: 5 } };
const LOCK_KEY = 58_058_001;
const RENEWAL = "UPDATE study_owners SET expires_at";

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

describe("ownership renewals on a slow database", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("keeps one renewal in flight at a time, and the pool's other connections free for requests", async () => {
    const ttl = 600;
    const url = backend.location();
    const storage = await PostgresStorage.open({ url, poolSize: 3 });
    cleanup.push(() => storage.close());
    const ownership = new SharedOwnership({ store: new PgOwnershipStore(storage), logger: silentLogger(), serverId: "a", endpoint: "tcp://a:1", ttlMs: ttl });
    const svc = await StudyService.open({ storage, logger: silentLogger(), ownership, reapIntervalMs: 0 });
    cleanup.push(() => svc.close());
    await svc.execute("create_study", { name: "s", space: SPACE, seed: 1 });

    // The test's own session, outside the server's pool: it holds the lock renewals wait on.
    const db = new pg.Client({ connectionString: url.replace(/[?&]schema=[^&]*/, "") });
    await db.connect();
    cleanup.push(() => db.end());
    await storage.pool.query(
      `CREATE FUNCTION slow_renewal() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(${LOCK_KEY}); RETURN NULL; END $$;
       CREATE TRIGGER slow_renewal BEFORE UPDATE ON study_owners FOR EACH STATEMENT EXECUTE FUNCTION slow_renewal()`,
    );
    await db.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
    let locked = true;
    const unlock = async () => {
      if (locked) await db.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]);
      locked = false;
    };
    cleanup.push(unlock);

    // Renewals waiting on the lock, sampled for four TTLs (twelve renewal periods).
    const waiting = async () => {
      const { rows } = await db.query<{ n: number }>(
        "SELECT COUNT(*)::INTEGER AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND query LIKE $1",
        [`%${RENEWAL}%`],
      );
      return rows[0]?.n ?? 0;
    };
    await waitFor(async () => (await waiting()) > 0, 30_000);
    let most = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 4 * ttl) {
      most = Math.max(most, await waiting());
      await new Promise((r) => setTimeout(r, 10));
    }
    // Before the fix the timer started one more every TTL/3 while the last waited: three here, the
    // whole pool, and any statement of the server's then waited for a connection.
    expect(most).toBe(1);
    const answered = await Promise.race([
      storage.pool.query("SELECT 1 AS one").then((r) => r.rows[0]?.one as number),
      new Promise<string>((r) => setTimeout(() => r("no connection within 10 s"), 10_000)),
    ]);
    expect(answered).toBe(1);

    // The database answers again: renewals go through, and the study is this server's still.
    await unlock();
    await storage.pool.query("DROP TRIGGER slow_renewal ON study_owners");
    await waitFor(async () => {
      const { rows } = await db.query<{ left: number }>(
        `SELECT EXTRACT(EPOCH FROM expires_at - now()) * 1000 AS left FROM ${/schema=([^&]*)/.exec(url)?.[1]}.study_owners WHERE name = 's'`,
      );
      return Number(rows[0]?.left) > ttl / 2;
    }, 30_000);
    expect((await svc.execute("get_study", { study: "s" })).study.name).toBe("s");
  });

  it("leaves no statement_timeout on the pooled connection after a renewal, answered or ended by it", async () => {
    const url = backend.location();
    // One connection: every statement after a renewal runs on the connection the renewal used.
    const storage = await PostgresStorage.open({ url, poolSize: 1 });
    cleanup.push(() => storage.close());
    const store = new PgOwnershipStore(storage);
    const setting = async () => (await storage.pool.query<{ statement_timeout: string }>("SHOW statement_timeout")).rows[0]?.statement_timeout;
    const before = await setting();
    await store.renew("a", 600);
    expect(await setting()).toBe(before);
    // A renewal that waits past its limit (the lock the trigger takes): PostgreSQL ends it.
    const db = new pg.Client({ connectionString: url.replace(/[?&]schema=[^&]*/, "") });
    await db.connect();
    cleanup.push(() => db.end());
    await storage.pool.query(
      `CREATE FUNCTION slow_renewal() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(${LOCK_KEY}); RETURN NULL; END $$;
       CREATE TRIGGER slow_renewal BEFORE UPDATE ON study_owners FOR EACH STATEMENT EXECUTE FUNCTION slow_renewal()`,
    );
    await db.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
    cleanup.push(() => db.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]));
    await expect(store.renew("a", 600)).rejects.toThrow();
    expect(await setting()).toBe(before);
    const { rows } = await storage.pool.query<{ state: string }>("SELECT state FROM pg_stat_activity WHERE pid = pg_backend_pid()");
    expect(rows[0]?.state).toBe("active"); // not left inside the renewal's failed transaction
  });
});
