/**
 * Ownership renewals while another transaction holds one study's row locked (a long commit of that
 * study: a big import, a batch stalled between its statements). The lock is the one a commit's
 * fence takes (`FOR SHARE` of the row), held by the test's own session on the shared test server.
 * The renewal must extend the server's other rows meanwhile, and leave that one at risk, not lost.
 */
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { PgOwnershipStore } from "../storage/postgres/pg-ownership.js";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { closers, ownedServer } from "../testing/shared-ownership-server.js";
import { postgresBackend } from "../testing/storage-backends.js";
import { tuneportErrorOf, waitFor } from "../testing/waits.js";

const SPACE = { x: { type: "float", low: -5, high: 5 } };
const cleanup = closers();

/** A session of the test's own holding `name`'s ownership row as a commit's fence does, until `release`. */
async function holdRow(url: string, name: string): Promise<{ db: pg.Client; table: string; release: () => Promise<void> }> {
  const table = `${/schema=([^&]*)/.exec(url)?.[1]}.study_owners`;
  const db = new pg.Client({ connectionString: url.replace(/[?&]schema=[^&]*/, "") });
  await db.connect();
  await db.query("BEGIN");
  const { rowCount } = await db.query(`SELECT 1 FROM ${table} WHERE name = $1 FOR SHARE`, [name]);
  expect(rowCount).toBe(1);
  let open = true;
  const release = async () => {
    if (open) await db.query("ROLLBACK");
    open = false;
  };
  cleanup.push(() => db.end(), release);
  return { db, table, release };
}

/** Renewals every TTL/3: a busy CI machine must not delay one past a TTL (900 ms was tight). */
const TTL = 3000;

/** A service owning studies as server `id` on the test database, with what it reported fatal. */
async function openServer(url: string, id: string) {
  const { svc, ownership, fatal } = await ownedServer(cleanup, url, id, { ttlMs: TTL });
  return { svc, ownership, fatal };
}

describe("ownership renewal with one row locked by a long transaction", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("the store extends the other rows and returns the locked one as still held, not extended", async () => {
    const url = backend.location();
    const storage = await PostgresStorage.open({ url, poolSize: 2 });
    cleanup.push(() => storage.close());
    const store = new PgOwnershipStore(storage);
    for (const name of ["busy", "idle"]) expect((await store.claim(name, "a", "tcp://a:1", 1000)).held).toBe(true);
    const { db, table } = await holdRow(url, "busy");
    const expiry = async (name: string) =>
      Number((await db.query<{ ms: string }>(`SELECT (EXTRACT(EPOCH FROM expires_at - now()) * 1000)::BIGINT AS ms FROM ${table} WHERE name = $1`, [name])).rows[0]?.ms);

    // Before: one UPDATE of both rows waited for the lock until PostgreSQL ended it (statement_timeout), renewing neither.
    const got = await store.renew("a", 6000);
    expect([...got]).toEqual([["idle", 1]]);
    expect([...(got.locked ?? [])]).toEqual([["busy", 1]]);
    // Read in the holding session's transaction: its snapshot is older than the renewal, so ask
    // from a fresh statement after ending it.
    await db.query("COMMIT");
    expect(await expiry("idle")).toBeGreaterThan(3000);
    expect(await expiry("busy")).toBeLessThan(1000);
    // Unlocked, the next renewal extends it too.
    const after = await store.renew("a", 6000);
    expect(new Map(after)).toEqual(new Map([["idle", 1], ["busy", 1]]));
    expect([...(after.locked ?? [])]).toEqual([]);
  });

  it("keeps the server's other studies served (not taken over) while one row stays locked past the TTL", async () => {
    const url = backend.location();
    const open = (id: string) => openServer(url, id);
    const a = await open("a");
    await a.svc.execute("create_study", { name: "busy", space: SPACE, seed: 1 });
    await a.svc.execute("create_study", { name: "idle", space: SPACE, seed: 1 });
    const b = await open("b");
    const { db, table, release } = await holdRow(url, "busy");

    // Three TTLs with the lock held (a delay, not a timing assertion): before the fix every renewal of
    // 'a' waited on that row until PostgreSQL ended it, 'idle' expired too, and 'a' answered its
    // reads UNAVAILABLE (or 'b' took it over).
    await new Promise((r) => setTimeout(r, 3 * TTL));
    expect((await a.svc.execute("get_study", { study: "idle" })).study.name).toBe("idle");
    const { rows } = await db.query<{ owner: string; live: boolean }>(`SELECT owner, expires_at > clock_timestamp() AS live FROM ${table} WHERE name = 'idle'`);
    expect(rows[0]).toEqual({ owner: "a", live: true });
    const moved = await tuneportErrorOf(b.svc.execute("get_study", { study: "idle" }));
    expect(moved.data?.endpoint).toBe("tcp://a:1");
    // The locked one is at risk: past a TTL of its last renewal 'a' no longer answers it from memory,
    // but still holds it (not judged lost: nothing was taken from it).
    const risky = await tuneportErrorOf(a.svc.execute("get_study", { study: "busy" }));
    expect(risky.code).toBe("UNAVAILABLE");
    expect(a.ownership.heldNames().sort()).toEqual(["busy", "idle"]);

    // Let go: the study is served again, by 'a' (renewed first) or by 'b' (took the expired row),
    // never by both, and no server stopped.
    await release();
    let servedBy: string[] = [];
    await waitFor(async () => {
      servedBy = [];
      for (const [id, s] of [["a", a], ["b", b]] as const) if (await s.svc.execute("get_study", { study: "busy" }).then(() => true, () => false)) servedBy.push(id);
      return servedBy.length > 0;
    }, 30_000);
    expect(servedBy).toHaveLength(1);
    expect([...a.fatal, ...b.fatal]).toEqual([]);
  });

  it("lists every study, the locked one as last committed, while that one row is past its own hold", async () => {
    const url = backend.location();
    const open = (id: string) => openServer(url, id);
    const a = await open("a");
    await a.svc.execute("create_study", { name: "busy", space: SPACE, seed: 1 });
    await a.svc.execute("create_study", { name: "idle", space: SPACE, seed: 1 });
    const trial = await a.svc.execute("ask", { study: "busy" });
    await a.svc.execute("tell", { study: "busy", trial: trial.trial.number, token: trial.lease.token, state: "COMPLETE", value: 2 });
    const b = await open("b");
    await b.svc.execute("create_study", { name: "other", space: SPACE, seed: 1 });
    const { table } = await holdRow(url, "busy");
    // Storage ahead of 'a''s memory (as a takeover's commits would leave it), written beside the lock: listed as committed.
    const other = new pg.Client({ connectionString: url.replace(/[?&]schema=[^&]*/, "") });
    await other.connect();
    cleanup.push(() => other.end());
    await other.query(`UPDATE ${table.replace("study_owners", "studies")} SET user_attrs = '{"k": 1}' WHERE name = 'busy'`);

    // Three TTLs with the lock held (a delay, not a timing assertion): 'busy' is at risk on 'a'.
    await new Promise((r) => setTimeout(r, 3 * TTL));
    expect((await tuneportErrorOf(a.svc.execute("get_study", { study: "busy" }))).code).toBe("UNAVAILABLE");
    // Before: the listing judged the oldest hold of all, and answered UNAVAILABLE for every study.
    const { studies } = await a.svc.execute("list_studies", {});
    expect(studies.map((s) => s.name)).toEqual(["busy", "idle", "other"]);
    expect(studies[0]?.n_trials).toBe(1);
    expect(studies[0]?.best_trial?.values).toEqual([2]);
    expect(studies[0]?.user_attrs).toEqual({ k: 1 });
    expect(studies[1]?.user_attrs).toEqual({});
    expect(a.ownership.heldNames().sort()).toEqual(["busy", "idle"]);
  });
});
