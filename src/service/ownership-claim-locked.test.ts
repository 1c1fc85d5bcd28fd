/**
 * A takeover claim of an expired ownership row that another transaction holds locked (the old
 * owner's commit in flight holds its studies' rows FOR SHARE, the fence: a long one, or one stalled
 * between its statements). The lock is held by the test's own session on the shared test server.
 * The claim must not wait for it: the row is not claimable this round, and is claimed (epoch + 1)
 * once the lock is gone. Before, the claim waited for the lock, and with it every request on that
 * study and the takeover scan (one name at a time: the dead owner's other studies were not taken over).
 */
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { PgOwnershipStore } from "../storage/postgres/pg-ownership.js";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { closers, ownedServer } from "../testing/shared-ownership-server.js";
import { postgresBackend } from "../testing/storage-backends.js";
import { tuneportErrorOf, waitFor } from "../testing/waits.js";

const SPACE = { x: { type: "float", low: -5, high: 5 } };
const TTL = 3000;
/** Catches a hang (the lock is held until the test lets it go): not a timing assertion. */
const HANG_MS = 20_000;
const cleanup = closers();

function notHung<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("still waiting for the row's lock")), HANG_MS)));
  return Promise.race([p, hung]).finally(() => clearTimeout(timer));
}

/** A session of the test's own on the test database, and the schema-qualified ownership table. */
async function session(url: string): Promise<{ db: pg.Client; table: string }> {
  const table = `${/schema=([^&]*)/.exec(url)?.[1]}.study_owners`;
  const db = new pg.Client({ connectionString: url.replace(/[?&]schema=[^&]*/, "") });
  await db.connect();
  cleanup.push(() => db.end());
  return { db, table };
}

/** Expires `name`'s row (an hour ago: before every other row) and holds it as a commit's fence does, until `release`. */
async function expireAndHold(url: string, name: string): Promise<{ db: pg.Client; table: string; release: () => Promise<void> }> {
  const { db, table } = await session(url);
  await db.query(`UPDATE ${table} SET expires_at = now() - interval '1 hour' WHERE name = $1`, [name]);
  await db.query("BEGIN");
  expect((await db.query(`SELECT 1 FROM ${table} WHERE name = $1 FOR SHARE`, [name])).rowCount).toBe(1);
  let open = true;
  const release = async () => {
    if (open) await db.query("ROLLBACK");
    open = false;
  };
  cleanup.push(release);
  return { db, table, release };
}

async function openServer(url: string, id: string) {
  const { svc, ownership, fatal } = await ownedServer(cleanup, url, id, { ttlMs: TTL });
  return { svc, ownership, fatal };
}

describe("claiming an expired ownership row that another transaction holds locked", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("the store answers at once that the row is not claimable, and claims it (epoch + 1) once the lock is gone", async () => {
    const url = backend.location();
    const storage = await PostgresStorage.open({ url, poolSize: 2 });
    cleanup.push(() => storage.close());
    const store = new PgOwnershipStore(storage);
    expect(await store.claim("s", "a", "tcp://a:1", 60_000)).toEqual({ held: true, epoch: 1 });
    const { db, table, release } = await expireAndHold(url, "s");

    // Before: the claim waited for the lock for as long as it was held.
    const locked = await notHung(store.claim("s", "b", "tcp://b:1", 60_000));
    expect(locked).toMatchObject({ held: false, endpoint: "tcp://a:1" });
    // Without takeover, and for a live owner's locked row, the same answer at once.
    expect(await notHung(store.claim("s", "b", "tcp://b:1", 60_000, false))).toMatchObject({ held: false, endpoint: "tcp://a:1" });
    // A free name is still inserted beside the lock; the owner's own locked row is still its own.
    expect(await notHung(store.claim("t", "b", "tcp://b:1", 60_000))).toEqual({ held: true, epoch: 1 });

    await release();
    expect(await store.claim("s", "b", "tcp://b:1", 60_000)).toEqual({ held: true, epoch: 2 });
    const { rows } = await db.query<{ owner: string; epoch: number }>(`SELECT owner, epoch::INT AS epoch FROM ${table} WHERE name = 's'`);
    expect(rows[0]).toEqual({ owner: "b", epoch: 2 });
    // The old owner's claim no longer takes it (the row is live and b's).
    expect(await store.claim("s", "a", "tcp://a:1", 60_000)).toMatchObject({ held: false, endpoint: "tcp://b:1" });
  });

  it("the owner's own locked row is claimed by waiting for its commit, as before", async () => {
    const url = backend.location();
    const storage = await PostgresStorage.open({ url, poolSize: 2 });
    cleanup.push(() => storage.close());
    const store = new PgOwnershipStore(storage);
    expect(await store.claim("s", "a", "tcp://a:1", 60_000)).toEqual({ held: true, epoch: 1 });
    const { db, table } = await session(url);
    await db.query("BEGIN");
    await db.query(`SELECT 1 FROM ${table} WHERE name = 's' FOR SHARE`);
    const mine = store.claim("s", "a", "tcp://a:1", 60_000);
    // Awaited: the claim can answer (the lock gone) before COMMIT's own reply arrives, and the
    // session's end in afterEach then rejected that COMMIT ("Connection terminated", unhandled).
    const committed = new Promise((r) => setTimeout(r, 200)).then(() => db.query("COMMIT"));
    expect(await mine).toEqual({ held: true, epoch: 1 });
    await committed;
  });

  it("a server takes the dead owner's other studies over and answers requests on the locked one while its row stays locked", async () => {
    const url = backend.location();
    const a = await openServer(url, "a");
    await a.svc.execute("create_study", { name: "locked", space: SPACE, seed: 1 });
    await a.svc.execute("create_study", { name: "free", space: SPACE, seed: 1 });
    // 'a' goes (its rows expire now); its commit of 'locked' still holds that row, first in the scan's order.
    await a.svc.close();
    const { db, table, release } = await expireAndHold(url, "locked");
    const b = await openServer(url, "b");
    cleanup.push(release); // let go before b closes (a claim that waits for the lock would hold its close)

    // Before: b's scan waited on 'locked' first and never reached 'free'; a request on 'locked' hung with it.
    await waitFor(async () => b.ownership.heldNames().includes("free"), HANG_MS);
    expect((await b.svc.execute("get_study", { study: "free" })).study.name).toBe("free");
    const refused = await notHung(tuneportErrorOf(b.svc.execute("get_study", { study: "locked" })));
    expect(refused.code).toBe("UNAVAILABLE");
    expect(b.ownership.heldNames()).not.toContain("locked");
    const { rows: during } = await db.query<{ owner: string; epoch: number }>(`SELECT owner, epoch::INT AS epoch FROM ${table} WHERE name = 'locked'`);
    expect(during[0]).toEqual({ owner: "a", epoch: 1 });

    // Let go: taken over at the next round, one epoch on; nothing stopped.
    await release();
    await waitFor(async () => (await b.svc.execute("get_study", { study: "locked" }).then(() => true, () => false)), HANG_MS);
    const { rows } = await db.query<{ owner: string; epoch: number }>(`SELECT owner, epoch::INT AS epoch FROM ${table} WHERE name = 'locked'`);
    expect(rows[0]).toEqual({ owner: "b", epoch: 2 });
    expect(b.fatal).toEqual([]);
  });
});
