/**
 * The ownership rows of service/ownership.ts on PostgreSQL: `study_owners` (one row per study name)
 * and the id sequences. Every expiry is computed and compared with the database's clock (`now()`),
 * so the servers' clocks never need to agree.
 */
import pg from "pg";
import type { Study } from "../../domain/trial.js";
import type { Claim, OwnershipStore, Renewal } from "../../service/ownership.js";
import type { SummarySource } from "../../service/views.js";
import type { StoredTrial } from "../storage.js";
import { ID_BLOCK } from "./postgres-schema.js";
import { markFull } from "./commit-chunks.js";
import { databaseUnreachable } from "./connection.js";
import type { PostgresStorage } from "./postgres-storage.js";

/** `OwnershipStore` on the tables of a `PostgresStorage`. */
export class PgOwnershipStore implements OwnershipStore {
  readonly blockSize = ID_BLOCK;

  constructor(private readonly storage: PostgresStorage) {}

  /** @throws UNAVAILABLE when the database cannot be reached, as `claim`. */
  readonly summaries: SummarySource = {
    studySummary: (studyId, direction) => unreachableAsUnavailable(this.storage.studySummary(studyId, direction)),
    distinctDistributions: (studyId) => unreachableAsUnavailable(this.storage.distinctDistributions(studyId)),
    studySummaries: (studies) => unreachableAsUnavailable(this.storage.studySummaries(studies)),
  };

  /** @throws UNAVAILABLE (retried by clients) when the database cannot be reached (restarting). */
  claim(name: string, owner: string, endpoint: string, ttlMs: number, takeover = true): Promise<Claim> {
    return unreachableAsUnavailable(
      this.claimOnce(name, owner, endpoint, ttlMs, takeover).catch((err: unknown) => {
        // No room for its row (SQLSTATE 53100: a new name, study_owners' last page full): storage.ts
        // `storageFull`, so the request is answered storage_full, not INTERNAL. Made again, a claim that
        // did commit (a PANIC's unknown outcome) finds the row its own: nothing to undo.
        markFull(err, true);
        throw err;
      }),
    );
  }

  /**
   * Takes `name` in one statement that never waits for another transaction's lock on its row: a free
   * name is inserted; an existing row is locked `FOR NO KEY UPDATE SKIP LOCKED` and updated only when
   * it is ours or (with `takeover`) expired. A row another transaction holds locked (the old owner's
   * commit in flight holds it FOR SHARE, the fence: a long one, or one stalled between its statements)
   * is skipped, so the claim answers at once that the name is not ours (a later scan or request claims
   * it again once that commit ended). The fence is unchanged: the epoch is raised only on a row no
   * commit holds, so a commit that passed its check (under that lock) ends before the takeover. Before
   * 2026-12-06 the claim was an `INSERT … ON CONFLICT DO UPDATE`, which waits for the lock: the claim,
   * every request on the name behind it (`SharedOwnership.ensure`), the takeover scan (one name at a
   * time: a dead owner's other studies) and a pooled connection waited as long as that commit.
   * A row still this owner's but locked (by its own commit) is claimed by a statement that waits, as
   * before: its own commits are short, and a redirect to itself would be wrong.
   */
  private async claimOnce(name: string, owner: string, endpoint: string, ttlMs: number, takeover: boolean): Promise<Claim> {
    const { rows } = await this.storage.pool.query<{ epoch: number }>(
      `WITH ins AS (
         INSERT INTO study_owners (name, owner, endpoint, epoch, expires_at)
           VALUES ($1, $2, $3, 1, now() + $4 * interval '1 millisecond')
         ON CONFLICT (name) DO NOTHING
         RETURNING epoch),
       free AS (
         SELECT name FROM study_owners
          WHERE name = $1 AND (owner = $2 OR ($5 AND expires_at < now()))
          FOR NO KEY UPDATE SKIP LOCKED),
       upd AS (
         UPDATE study_owners o
            SET owner = $2, endpoint = $3,
                epoch = o.epoch + CASE WHEN o.owner = $2 THEN 0 ELSE 1 END,
                expires_at = now() + $4 * interval '1 millisecond'
           FROM free
          WHERE o.name = free.name AND (o.owner = $2 OR ($5 AND o.expires_at < now()))
          RETURNING o.epoch)
       SELECT epoch FROM ins UNION ALL SELECT epoch FROM upd`,
      [name, owner, endpoint, ttlMs, takeover],
    );
    if (rows[0]) return { held: true, epoch: rows[0].epoch };
    const other = await this.storage.pool.query<{ owner: string; endpoint: string; ms: number }>(
      "SELECT owner, endpoint, (EXTRACT(EPOCH FROM expires_at - now()) * 1000)::BIGINT AS ms FROM study_owners WHERE name = $1",
      [name],
    );
    const r = other.rows[0];
    // Released between the two statements: let the caller retry, which then takes it.
    if (!r) return { held: false, endpoint: "", expiresInMs: 0 };
    if (r.owner === owner) {
      // Ours, locked by one of our own commits (skipped above): wait for it, as every claim did before.
      const mine = await this.storage.pool.query<{ epoch: number }>(
        "UPDATE study_owners SET endpoint = $3, expires_at = now() + $4 * interval '1 millisecond' WHERE name = $1 AND owner = $2 RETURNING epoch",
        [name, owner, endpoint, ttlMs],
      );
      if (mine.rows[0]) return { held: true, epoch: mine.rows[0].epoch };
      return { held: false, endpoint: "", expiresInMs: 0 };
    }
    // Expired, not ours, and still not claimed with `takeover`: another transaction holds the row
    // locked (the old owner's commit in flight), or it expired between the two statements. No live
    // server owns it: `locked`, so that the caller does not redirect to the old owner.
    const ms = Number(r.ms);
    return { held: false, endpoint: r.endpoint, expiresInMs: ms, ...(takeover && ms <= 0 ? { locked: true as const } : {}) };
  }

  /**
   * Extends every row `owner` holds that no other transaction has locked, in one statement that
   * skips locked rows (`FOR NO KEY UPDATE SKIP LOCKED`), then each row it skipped in a statement of
   * its own that waits for that row's lock at most `lockWaitMs(ttlMs)`. A commit holds its studies'
   * rows (FOR SHARE, the fence) until it ends: one UPDATE of every row waited for the longest of them
   * (a big import, a stalled batch) and renewed none until PostgreSQL ended it at 2/3 of the TTL, so
   * every other study of the server lapsed with that one. A row still locked after its wait is
   * returned in `locked` (still this owner's at that epoch, as the statement's snapshot saw it, but
   * not extended): the caller treats it as at risk, not lost.
   *
   * Each statement is ended by PostgreSQL once it ran `renewalLimitMs(ttlMs)` (`statement_timeout`, set
   * for its transaction alone: nothing at connect, which poolers refuse), and by the driver up to a second
   * later, within the TTL (a connection lost without an error): a renewal that late can no longer extend the hold
   * (SharedOwnership.renew), and one that waited on for ever kept its pooled connection. The rows
   * skipped are retried only until that limit from the start. The text carries its values as
   * literals: a simple query of several statements takes no parameters.
   */
  async renew(owner: string, ttlMs: number): Promise<Renewal> {
    // No room for a row's new version (53100; its pages full, old versions a snapshot still sees): storage.ts
    // `storageFull`, so a request it leaves unsure of its studies is answered storage_full. A renewal may be made again.
    return this.renewRows(owner, ttlMs).catch((err: unknown) => {
      markFull(err, true);
      throw err;
    });
  }

  private async renewRows(owner: string, ttlMs: number): Promise<Renewal> {
    const start = Date.now();
    const limit = renewalLimitMs(ttlMs);
    const ttl = Math.max(1, Math.round(ttlMs));
    const me = pg.escapeLiteral(owner);
    const run = async (sql: string, ms: number, lockMs?: number) => {
      const results = (await this.storage.pool.query({
        text: `BEGIN; SET LOCAL statement_timeout = ${ms};${lockMs === undefined ? "" : ` SET LOCAL lock_timeout = ${lockMs};`} ${sql}; COMMIT`,
        query_timeout: ms + Math.min(1000, Math.round(ttlMs / 3)),
      } as pg.QueryConfig)) as unknown as pg.QueryResult<{ name: string; epoch: number; renewed?: boolean }>[];
      return results.find((r) => r.command === "SELECT" || r.command === "UPDATE")?.rows ?? [];
    };
    // The snapshot's rows of this owner that the UPDATE did not reach were locked (or changed hands
    // meanwhile: then a later renewal finds them lost).
    const rows = await run(
      `WITH free AS (SELECT name FROM study_owners WHERE owner = ${me} FOR NO KEY UPDATE SKIP LOCKED),
            done AS (UPDATE study_owners SET expires_at = now() + ${ttl} * interval '1 millisecond' FROM free
                       WHERE study_owners.name = free.name AND study_owners.owner = ${me} RETURNING study_owners.name, study_owners.epoch)
       SELECT name, epoch, TRUE AS renewed FROM done
       UNION ALL SELECT name, epoch, FALSE FROM study_owners WHERE owner = ${me} AND name NOT IN (SELECT name FROM done)`,
      limit,
    );
    const locked = new Map<string, number>();
    const out: Renewal = Object.assign(new Map<string, number>(), { locked });
    for (const r of rows) (r.renewed ? out : locked).set(r.name, Number(r.epoch));
    for (const name of [...locked.keys()]) {
      const left = limit - (Date.now() - start);
      if (left <= 0) break;
      const one = await run(
        `UPDATE study_owners SET expires_at = now() + ${ttl} * interval '1 millisecond' WHERE name = ${pg.escapeLiteral(name)} AND owner = ${me} RETURNING name, epoch`,
        left,
        Math.min(left, lockWaitMs(ttlMs)),
      ).catch((err: unknown) => {
        // lock_not_available, or its statement_timeout first (the same wait, as the limit nears): still locked, at risk.
        if (["55P03", "57014"].includes((err as { code?: string }).code ?? "")) return null;
        throw err;
      });
      if (one === null) continue;
      locked.delete(name);
      // Gone (taken over meanwhile, or handed back): absent from both, so the caller judges it lost.
      if (one[0]) out.set(name, Number(one[0].epoch));
    }
    return out;
  }

  async expired(): Promise<string[]> {
    const { rows } = await this.storage.pool.query<{ name: string }>(
      "SELECT o.name FROM study_owners o JOIN studies s ON s.name = o.name WHERE o.expires_at < now() ORDER BY o.expires_at",
    );
    return rows.map((r) => r.name);
  }

  async release(owner: string): Promise<void> {
    await this.storage.pool.query("UPDATE study_owners SET expires_at = now() - interval '1 second' WHERE owner = $1", [owner]);
  }

  /** @throws UNAVAILABLE when the database cannot be reached, as `claim`. */
  async existing(names: readonly string[]): Promise<Set<string>> {
    const { rows } = await unreachableAsUnavailable(this.storage.pool.query<{ name: string }>("SELECT name FROM studies WHERE name = ANY($1::TEXT[])", [names]));
    return new Set(rows.map((r) => r.name));
  }

  async unclaim(name: string, owner: string, epoch: number): Promise<void> {
    await this.storage.pool.query(
      "DELETE FROM study_owners o WHERE o.name = $1 AND o.owner = $2 AND o.epoch = $3 AND NOT EXISTS (SELECT 1 FROM studies s WHERE s.name = $1)",
      [name, owner, epoch],
    );
  }

  /** @throws UNAVAILABLE when the database cannot be reached, as `claim`. */
  async dbNowMs(): Promise<number> {
    const { rows } = await unreachableAsUnavailable(this.storage.pool.query<{ ms: string }>("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS ms"));
    return Number((rows[0] as { ms: string }).ms);
  }

  /** @throws UNAVAILABLE when the database cannot be reached, as `claim` (requests wait on it: SharedOwnership.withIds). */
  reserveIds(kind: "trial" | "study"): Promise<number> {
    return unreachableAsUnavailable(this.storage.reserveIds(kind));
  }

  /** @throws UNAVAILABLE when the database cannot be reached, as `claim`. */
  findStudy(name: string): Promise<Study | null> {
    return unreachableAsUnavailable(this.storage.findStudy(name));
  }

  /** @throws UNAVAILABLE when the database cannot be reached, as `claim`. */
  loadTrials(studyId: number): Promise<StoredTrial[]> {
    return unreachableAsUnavailable(this.storage.loadTrials(studyId));
  }

  /** @throws UNAVAILABLE when the database cannot be reached, as `claim`. */
  studyKeys(fromS?: number | null, count?: number): Promise<{ name: string; createdAt: number }[]> {
    return unreachableAsUnavailable(this.storage.studyKeys(fromS, count));
  }

  /** @throws UNAVAILABLE when the database cannot be reached, as `claim`. */
  studiesNamed(names: readonly string[]): Promise<Study[]> {
    return unreachableAsUnavailable(this.storage.studiesNamed(names));
  }

  /** @throws UNAVAILABLE when the database cannot be reached, as `claim`. */
  listStudies(): Promise<Study[]> {
    return unreachableAsUnavailable(this.storage.listStudies());
  }

  setFence(owner: string, held: ReadonlyMap<string, number>): void {
    this.storage.fence = { owner, held };
  }
}

/** How long a renewal waits for one row another transaction holds locked (a commit of its study) before it leaves that row at risk (ms). */
export function lockWaitMs(ttlMs: number): number {
  return Math.max(1, Math.round(ttlMs / 10));
}

/** How long one renewal may run (ms): two thirds of the TTL, after which a fresh one extends the hold further than its answer could. */
export function renewalLimitMs(ttlMs: number): number {
  return Math.max(1, Math.round((ttlMs * 2) / 3));
}

/** `p`, failing UNAVAILABLE (which clients retry) instead of with the driver's error when the database is unreachable. */
async function unreachableAsUnavailable<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw databaseUnreachable(err) ?? err;
  }
}
