/**
 * Storage on PostgreSQL (node-postgres, `pg`), for several tuneport servers on one database.
 *
 * - One group commit is one statement, `SELECT tuneport_commit_rows(...)` (postgres-schema.ts): one round
 *   trip and one transaction whatever the batch holds (its replies and intermediate values as arrays), durable when it resolves (PostgreSQL's
 *   `synchronous_commit` decides against what: the default survives a power loss).
 * - Fencing: when `fence` is set (several servers; service/ownership.ts), every commit first checks,
 *   in the same transaction, that this server still owns — at the epoch it took — each study the
 *   batch touches, and fails with `OwnershipLostError` otherwise. A server that lost a study can
 *   therefore never write to it, however late its commit arrives.
 * - Ids are storage-wide: with several servers they come in blocks from sequences
 *   (`reserveIds`); `maxTrialId`/`maxStudyId` serve the single-writer mode.
 * - Reads: `loadTrials` is one statement (one snapshot) with the intermediates aggregated per trial.
 *
 * Connection: `postgresql://user@host:port/db` or `postgresql://user@/db?host=/socket/dir`; an extra
 * `schema=NAME` parameter keeps tuneport's tables in that schema (created when missing), so one
 * database can hold several independent tuneport installations (the tests use one per suite).
 */
import pg from "pg";
import type { Distribution } from "../../domain/distributions.js";
import { TuneportError } from "../../domain/errors.js";
import { type Direction, type Study, type StudyConfig, TRIAL_STATES, type TrialState, upgradeStudyConfig } from "../../domain/trial.js";
import {
  type Change,
  type Storage,
  type StoredTrial,
  type StudySummaryRow,
  type SummaryReader,
  OBJECTIVE_COLUMNS,
  type BestReportRow,
  type ObjectiveRow,
  type QuickFront,
  type TrialPageQuery,
  type TrialRow,
  storedTrialOfRow,
  objectiveRowOf,
  trialPageSql,
  betterReport,
} from "../storage.js";
import { COMMIT_CHUNK_CHARS, IDLE_IN_TRANSACTION_MS, beginSql, callValues, commitCalls, runChunks } from "./commit-chunks.js";
import { ClosingClient, databaseUnreachable, encodingRefusal } from "./connection.js";
import { OwnershipLostError, fencedOutName } from "./fence.js";
import { openFailure, parseUrl } from "./url.js";
import { ID_BLOCK, MIGRATION_LOCK, PARAM_PAIRS_FROM_TRIALS, PG_MIGRATIONS } from "./postgres-schema.js";
import { BEST_REPORT_SQL, QUICK_FRONT_SQL, STUDY_KEYS_SQL, SUMMARY_SQL, maximizedPageSql, studyKeysParams } from "./postgres-read-sql.js";
import { type PgSummaryRow, type PgTrialRow, intermediatesOf, readSummaries, summaryOfRow } from "./pg-summaries.js";

export interface PostgresStorageOptions {
  /** A `postgresql://` or `postgres://` URL, optionally with `schema=NAME`. */
  readonly url: string;
  /** Connections in the pool [4]: one commits, the others read concurrently. */
  readonly poolSize?: number;
  /** Open for reading only (no migrations); the schema must be current. */
  readonly readonly?: boolean;
  /**
   * How long to wait for a connection (pg's connectionTimeoutMillis: also for a free one in the pool)
   * before failing [no limit]. The one-off commands set it: a server that accepts and never answers hung them.
   * The URL's `connect_timeout` (seconds, as libpq reads it) or else `PGCONNECT_TIMEOUT` overrides it.
   */
  readonly connectTimeoutMs?: number;
  /**
   * `synchronous_commit` of tuneport's sessions: "off" (`--durability process`) acknowledges a
   * commit once PostgreSQL has it in memory, which survives any tuneport server being killed but
   * not a crash of PostgreSQL itself within its WAL writer's delay (by default about 0.6 s);
   * "on" (`--durability power`) waits for the WAL flush. Absent: the database's own setting.
   */
  readonly synchronousCommit?: "on" | "off";
  /** Longest JSON text of one `tuneport_commit` call (commit-chunks.ts) [COMMIT_CHUNK_CHARS]; tests cut batches small. */
  readonly commitChunkChars?: number;
  /**
   * `idle_in_transaction_session_timeout` of tuneport's transactions (a batch of several calls, an
   * import, a migration), ms [IDLE_IN_TRANSACTION_MS]; `serve` sets its ownership TTL (see `beginSql`, commit-chunks.ts).
   */
  readonly idleInTransactionMs?: number;
}

/** How long `close` waits for statements still running (a silent database) before it gives up on them. */
const CLOSE_WAIT_MS = 5000;

/** The `options` (server settings) of each session: the schema to work in, and `synchronous_commit`. */
function sessionOptions(schema: string | null, synchronousCommit: "on" | "off" | undefined): string {
  return [schema ? `-c search_path=${schema}` : "", synchronousCommit ? `-c synchronous_commit=${synchronousCommit}` : ""].filter(Boolean).join(" ");
}

export { OwnershipLostError } from "./fence.js";

/** Who writes, and which studies (by name, with the epoch taken) it holds; see service/ownership.ts. */
export interface Fence {
  readonly owner: string;
  readonly held: ReadonlyMap<string, number>;
}

interface StudyRow {
  id: number;
  name: string;
  config: string;
  user_attrs: string;
  created_at: number;
  stopped: boolean;
}

/** Attempts at a migration that meets a deadlock or a lock timeout (an older server's batch). */
const MIGRATION_ATTEMPTS = 20;
/** How long the repair after migration 3 waits for older transactions: polls × ms (then repairs anyway). */
const REPAIR_WAIT_POLLS = 600;
const REPAIR_WAIT_MS = 50;

/** BIGINT as number: ids and epoch milliseconds stay far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

export class PostgresStorage implements Storage, SummaryReader {
  /** Set (by the ownership module) when several servers share the database: commits are fenced. */
  fence: Fence | null = null;
  /** Study id → name and trial id → study id, for fencing batches whose changes name only a trial. */
  private readonly studyNames = new Map<number, string>();
  private readonly trialStudy = new Map<number, number>();

  private constructor(
    readonly pool: pg.Pool,
    readonly schema: string | null,
    private readonly chunkChars = COMMIT_CHUNK_CHARS,
    private readonly idleMs = IDLE_IN_TRANSACTION_MS,
  ) {}

  /** Connects, migrates (unless read-only) and returns the storage. @throws FAILED_PRECONDITION on a newer schema. */
  static async open(opts: PostgresStorageOptions): Promise<PostgresStorage> {
    const { connectionString, schema, connectTimeoutMs: fromUrl } = parseUrl(opts.url);
    const connectTimeoutMs = fromUrl ?? opts.connectTimeoutMs;
    const pool = new pg.Pool({
      connectionString,
      Client: ClosingClient,
      max: opts.poolSize ?? 4,
      types,
      ...(connectTimeoutMs ? { connectionTimeoutMillis: connectTimeoutMs } : {}),
      ...(sessionOptions(schema, opts.synchronousCommit) ? { options: sessionOptions(schema, opts.synchronousCommit) } : {}),
    });
    // An idle connection that the server drops must not crash the process; the next query reconnects.
    pool.on("error", () => undefined);
    const storage = new PostgresStorage(pool, schema, opts.commitChunkChars, opts.idleInTransactionMs);
    try {
      await storage.migrate(opts.readonly ?? false);
    } catch (err) {
      await storage.close(); // bounded: a connection the driver never finished would hold pool.end() for ever
      throw openFailure(err, opts.url, connectTimeoutMs);
    }
    return storage;
  }

  private async migrate(readonly: boolean): Promise<void> {
    const client = await this.pool.connect();
    // As in runChunks: PostgreSQL ending this session between statements (a restart while `repair`
    // waits between its polls) is an 'error' event pg-pool does not hear while the client is out of
    // the pool, so it was an uncaught exception (a driver stack, exit 1); the next statement fails with it.
    const unheard = () => undefined;
    client.on("error", unheard);
    try {
      // Not served (connection.ts): refused before anything is created, or once tables already there are migrated (so `export` reads them).
      const refused = readonly ? null : await encodingRefusal(client);
      for (let attempt = 1; ; attempt++) {
        await client.query(beginSql(this.idleMs));
        try {
          await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK.toString()]);
          if (this.schema && !readonly) await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
          const exists = await client.query("SELECT to_regclass('tuneport_schema') IS NOT NULL AS e");
          if (refused !== null && !(exists.rows[0] as { e: boolean }).e) throw refused;
          let version = 0;
          if ((exists.rows[0] as { e: boolean }).e)
            version = (await client.query("SELECT version FROM tuneport_schema")).rows[0]?.version ?? 0;
          else if (!readonly) await client.query("CREATE TABLE tuneport_schema (version INTEGER NOT NULL); INSERT INTO tuneport_schema VALUES (0)");
          if (version > PG_MIGRATIONS.length)
            throw new TuneportError(
              "FAILED_PRECONDITION",
              `database schema version ${version} is newer than this tuneport (${PG_MIGRATIONS.length}); upgrade tuneport`,
            );
          if (version === PG_MIGRATIONS.length || readonly) {
            await client.query("COMMIT");
            if (readonly && version !== PG_MIGRATIONS.length)
              throw new TuneportError(
                "FAILED_PRECONDITION",
                `database schema version ${version} differs from this tuneport's ${PG_MIGRATIONS.length}; open it with 'tuneport serve' once to migrate`,
              );
            if (refused !== null) throw refused;
            if (!readonly) await this.repair(client);
            return;
          }
          await client.query(PG_MIGRATIONS[version] as string);
          await client.query("UPDATE tuneport_schema SET version = $1", [version + 1]);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => undefined);
          // A migration's locks can meet an older server's batch in the other order: start again.
          const code = (err as { code?: string }).code;
          if ((code === "40P01" || code === "55P03") && attempt < MIGRATION_ATTEMPTS) continue;
          throw err;
        }
      }
    } finally {
      client.off("error", unheard);
      client.release();
    }
  }

  /**
   * The pending repair of migration 3 (postgres-schema.ts): once every transaction that began
   * before it had been recorded is over (a batch of an older server running the old
   * tuneport_commit, which counts nothing), recomputes the counts and distribution lists from the
   * trials, with writers held off, and clears the mark in the same transaction.
   */
  private async repair(client: pg.PoolClient): Promise<void> {
    const pending = await client.query("SELECT 1 FROM tuneport_pending_repair WHERE what = 'counts'");
    if (pending.rows.length === 0) return;
    // Every transaction open now may be running the old body; later ones run the new one.
    const since = (await client.query<{ t: string }>("SELECT clock_timestamp()::TEXT AS t")).rows[0]!.t;
    for (let i = 0; i < REPAIR_WAIT_POLLS; i++) {
      const { rows } = await client.query<{ n: number }>(
        `SELECT COUNT(*)::INTEGER AS n FROM pg_stat_activity
          WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
            AND xact_start IS NOT NULL AND xact_start < $1::TIMESTAMPTZ`,
        [since],
      );
      if ((rows[0]?.n ?? 0) === 0) break;
      await new Promise((r) => setTimeout(r, REPAIR_WAIT_MS));
    }
    await client.query(beginSql(this.idleMs));
    try {
      await client.query("LOCK TABLE trials IN SHARE ROW EXCLUSIVE MODE");
      const still = await client.query("DELETE FROM tuneport_pending_repair WHERE what = 'counts' RETURNING 1");
      if (still.rows.length > 0)
        await client.query(`
          DELETE FROM study_state_counts;
          INSERT INTO study_state_counts (study_id, state, n, valued)
            SELECT study_id, state, COUNT(*), COUNT(value) FROM trials GROUP BY study_id, state;
          DELETE FROM study_param_distributions;
          INSERT INTO study_param_distributions (study_id, digest, name, distribution, first_number)
            ${PARAM_PAIRS_FROM_TRIALS};`);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    }
  }

  async listStudies(): Promise<Study[]> {
    const { rows } = await this.pool.query<StudyRow>("SELECT * FROM studies ORDER BY id");
    return rows.map((r) => this.studyOf(r));
  }

  /** A window of the studies' names and creation times (ms), what a listing's page is cut from (ownership.ts `OwnershipStore.studyKeys`; STUDY_KEYS_SQL). */
  async studyKeys(fromS: number | null = null, count?: number): Promise<{ name: string; createdAt: number }[]> {
    const { rows } = await this.pool.query<{ name: string; created_at: number }>(STUDY_KEYS_SQL, studyKeysParams(fromS, count));
    return rows.map((r) => ({ name: r.name, createdAt: Number(r.created_at) }));
  }

  /** The studies of those names (those that exist), by id. */
  async studiesNamed(names: readonly string[]): Promise<Study[]> {
    const { rows } = await this.pool.query<StudyRow>("SELECT * FROM studies WHERE name = ANY($1::TEXT[]) ORDER BY id", [names]);
    return rows.map((r) => this.studyOf(r));
  }

  /** The study of that name, or null. */
  async findStudy(name: string): Promise<Study | null> {
    const { rows } = await this.pool.query<StudyRow>("SELECT * FROM studies WHERE name = $1", [name]);
    return rows[0] ? this.studyOf(rows[0]) : null;
  }

  private studyOf(r: StudyRow): Study {
    this.studyNames.set(r.id, r.name);
    return {
      id: r.id,
      name: r.name,
      config: upgradeStudyConfig(JSON.parse(r.config) as StudyConfig),
      userAttrs: JSON.parse(r.user_attrs) as Record<string, unknown>,
      createdAt: r.created_at,
      ...(r.stopped ? { stopped: true } : {}),
    };
  }

  async loadTrials(studyId: number): Promise<StoredTrial[]> {
    // One statement, one snapshot: trials and intermediates of the same commit.
    const { rows } = await this.pool.query<PgTrialRow>(
      `SELECT t.*, (SELECT json_agg(json_build_array(i.step, i.value) ORDER BY i.step) FROM intermediate_values i WHERE i.trial_id = t.id) AS iv
         FROM trials t WHERE t.study_id = $1 ORDER BY t.number`,
      [studyId],
    );
    return rows.map((r) => {
      this.trialStudy.set(r.id, r.study_id);
      return storedTrialOfRow(
        r,
        intermediatesOf(r.iv),
      );
    });
  }

  /**
   * A study's counts by state and its best COMPLETE trial, in one statement (one snapshot) that
   * never loads the other trials: what `tuneport studies list` shows (storage.ts `SummaryReader`).
   */
  async studySummary(studyId: number, direction: "minimize" | "maximize"): Promise<StudySummaryRow> {
    const { rows } = await this.pool.query<PgSummaryRow>(SUMMARY_SQL[direction], [studyId]);
    return summaryOfRow(rows[0] as PgSummaryRow);
  }

  /** In one statement (pg-summaries.ts `readSummaries`). */
  readonly studySummaries: SummaryReader["studySummaries"] = (studies) => readSummaries(this.pool, studies);

  async trialPage(studyId: number, q: TrialPageQuery): Promise<{ trials: StoredTrial[]; total: number; withoutValue?: number }> {
    // By value, every state is named so that the (study, state, value, number) index serves the filter.
    const query: TrialPageQuery = q.orderBy === "value" && !q.states?.length ? { ...q, states: TRIAL_STATES } : q;
    const { where, order } = trialPageSql(query, (i) => `$${i}`);
    const states = [...new Set(query.states ?? [])];
    const args: unknown[] = [studyId, ...states];
    // The counts table answers the total: trials by state, or by value those of them with a value
    // (and the others, without one).
    const sum = (n: string) => `(SELECT COALESCE(SUM(${n}), 0) FROM study_state_counts WHERE study_id = $1${
      states.length > 0 ? ` AND state IN (${states.map((_, i) => `$${i + 2}`).join(", ")})` : ""
    })`;
    const counts = `${sum(q.orderBy === "number" ? "n" : "valued")} AS total, ${q.orderBy === "value" ? sum("n - valued") : "NULL"} AS without_value`;
    const limit = `$${args.length + 1}`;
    // By value over several states, one walk of the (study, state, value, number) index per state,
    // merged: the index is ordered by value within a state only, and a single scan of them all
    // would read and sort every row. Maximizing, each state's walk is `maximizedPageSql`'s.
    const byState = (st: string) => q.direction === "maximize" ? maximizedPageSql(st, limit)
        : `(SELECT * FROM trials WHERE study_id = $1 AND state = ${st} AND value IS NOT NULL ORDER BY ${order} LIMIT ${limit})`;
    const page =
      q.orderBy === "value" && (states.length > 1 || q.direction === "maximize")
        ? `SELECT * FROM (${states.map((_, i) => byState(`$${i + 2}`)).join(" UNION ALL ")}) u ORDER BY ${order} LIMIT ${limit}`
        : `SELECT * FROM trials WHERE study_id = $1${where} ORDER BY ${order} LIMIT ${limit}`;
    // One statement, one snapshot: the page with its intermediates, and the count. (Not a CTE
    // read twice: PostgreSQL would materialise it, scanning every row instead of walking an index.)
    const { rows } = await this.pool.query<PgTrialRow & { total: string; without_value: string | null }>(
      `SELECT p.*, ${counts},
         (SELECT json_agg(json_build_array(i.step, i.value) ORDER BY i.step) FROM intermediate_values i WHERE i.trial_id = p.id) AS iv
       FROM (${page}) p ORDER BY ${order}`,
      [...args, q.limit],
    );
    const counted = rows[0] ?? (await this.pool.query<{ total: string; without_value: string | null }>(`SELECT ${counts}`, args)).rows[0];
    const trials = rows.map((r) => storedTrialOfRow(r, intermediatesOf(r.iv)));
    const total = Number(counted?.total ?? 0);
    return q.orderBy === "number" ? { trials, total } : { trials, total, withoutValue: Number(counted?.without_value ?? 0) };
  }

  async completeObjectives(studyId: number): Promise<ObjectiveRow[]> {
    const { rows } = await this.pool.query<TrialRow>(
      `SELECT ${OBJECTIVE_COLUMNS} FROM trials WHERE study_id = $1 AND state = 'COMPLETE' ORDER BY number`,
      [studyId],
    );
    return rows.map(objectiveRowOf);
  }

  async bestReported(studyId: number, direction: "minimize" | "maximize"): Promise<BestReportRow | null> {
    const { rows } = await this.pool.query<BestReportRow & { k: "r" | "c" }>(BEST_REPORT_SQL[direction], [studyId]);
    const pick = (k: "r" | "c") => {
      const r = rows.find((x) => x.k === k);
      return r ? { number: r.number, step: r.step, value: r.value } : null;
    };
    return betterReport(direction, pick("r"), pick("c"));
  }

  /** PostgreSQL keeps no front on write: a two-objective one is computed in one statement (`QUICK_FRONT_SQL`), others on read. */
  async quickFront(studyId: number, directions: readonly Direction[]): Promise<QuickFront | null> {
    if (directions.length !== 2) return null;
    const sign = (d: Direction) => (d === "minimize" ? 1 : -1);
    const { rows } = await this.pool.query<{ infeasible: string; complete: string } & PgTrialRow>(
      QUICK_FRONT_SQL,
      [studyId, sign(directions[0] as Direction), sign(directions[1] as Direction)],
    );
    const first = rows[0];
    return {
      trials: rows.filter((r) => r.id !== null).map((r) => storedTrialOfRow(r, intermediatesOf(r.iv))),
      infeasible: Number(first?.infeasible ?? 0),
      complete: Number(first?.complete ?? 0),
    };
  }

  async trialsByNumber(studyId: number, numbers: readonly number[]): Promise<StoredTrial[]> {
    const { rows } = await this.pool.query<PgTrialRow>(
      `SELECT t.*, (SELECT json_agg(json_build_array(i.step, i.value) ORDER BY i.step) FROM intermediate_values i WHERE i.trial_id = t.id) AS iv
         FROM trials t WHERE t.study_id = $1 AND t.number = ANY($2::int[]) ORDER BY t.number`,
      [studyId, [...numbers]],
    );
    return rows.map((r) =>
      storedTrialOfRow(r, intermediatesOf(r.iv)),
    );
  }

  async distinctDistributions(studyId: number): Promise<Record<string, Distribution>[]> {
    const { rows } = await this.pool.query<{ name: string; distribution: string }>(
      "SELECT name, distribution FROM study_param_distributions WHERE study_id = $1 ORDER BY first_number, name",
      [studyId],
    );
    return rows.map((r) => ({ [r.name]: JSON.parse(r.distribution) as Distribution }));
  }

  async maxTrialId(): Promise<number> {
    const { rows } = await this.pool.query<{ m: number; s: number }>(
      "SELECT COALESCE((SELECT MAX(id) FROM trials), 0) AS m, (SELECT CASE WHEN is_called THEN last_value + $1 - 1 ELSE 0 END FROM tuneport_trial_ids) AS s",
      [ID_BLOCK],
    );
    const r = rows[0] as { m: number; s: number };
    return Math.max(r.m, r.s);
  }

  async maxStudyId(): Promise<number> {
    const { rows } = await this.pool.query<{ m: number; s: number }>(
      `SELECT GREATEST(COALESCE((SELECT MAX(id) FROM studies), 0), (SELECT id FROM study_id_high_water)) AS m,
         (SELECT CASE WHEN is_called THEN last_value + $1 - 1 ELSE 0 END FROM tuneport_study_ids) AS s`,
      [ID_BLOCK],
    );
    const r = rows[0] as { m: number; s: number };
    return Math.max(r.m, r.s);
  }

  /**
   * Takes the next block of `ID_BLOCK` ids of a kind, never handed to anyone else (several servers).
   * Returns its first id.
   */
  async reserveIds(kind: "trial" | "study"): Promise<number> {
    const seq = kind === "trial" ? "tuneport_trial_ids" : "tuneport_study_ids";
    const { rows } = await this.pool.query<{ v: number }>(`SELECT nextval('${seq}') AS v`);
    return (rows[0] as { v: number }).v;
  }

  async commit(changes: readonly Change[]): Promise<void> {
    if (changes.length === 0) return;
    const names = new Set<string>();
    const rows = changes.map((c) => this.encode(c, names));
    const fence = this.fence;
    const held = fence ? [...names] : [];
    const epochs = held.map((n) => {
      const e = fence?.held.get(n);
      if (e === undefined) throw new OwnershipLostError(`this server does not own study '${n}'`);
      return e;
    });
    try {
      // Replies and intermediate values as arrays, one statement each (commit-chunks.ts `commitCalls`).
      // Each call's parameters as text now, before its transaction begins (`callValues`). In a
      // transaction the statement is unnamed, so that its Parse (a few bytes) reaches PostgreSQL before
      // the Bind (the chunk, up to 32 MB) and stops the idle-in-transaction clock: a named statement
      // already prepared is sent as its Bind alone, whose transfer on a slow link counted as idle.
      await runChunks(this.pool, commitCalls(rows, this.chunkChars).map(callValues), (q, values, alone) =>
        q.query({
          ...(alone ? { name: "tuneport_commit_rows" } : {}),
          text: "SELECT tuneport_commit_rows($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
          values: [fence?.owner ?? null, held, epochs, ...values],
        }),
        rows.length,
        this.idleMs,
      );
    } catch (err) {
      if ((err as { code?: string }).code === "TP001") throw new OwnershipLostError((err as Error).message);
      throw err;
    }
  }

  fencedOut(changes: readonly Change[], gone?: ReadonlySet<string>): string | null {
    return this.fence ? fencedOutName(changes, this.fence.held, this.studyNames, this.trialStudy, gone) : null;
  }

  /** One change as the JSON row `tuneport_commit` reads; adds the study name it touches to `names`. */
  private encode(c: Change, names: Set<string>): Record<string, unknown> {
    const touch = (studyId: number | undefined) => {
      if (!this.fence) return; // one writer: nothing to check
      const name = studyId === undefined ? undefined : this.studyNames.get(studyId);
      // The service loads (or creates) a study before it writes to it, so the name is known.
      if (name === undefined) throw new OwnershipLostError(`a change names study id ${studyId}, which this server does not serve`);
      names.add(name);
    };
    switch (c.kind) {
      case "insert-trial":
      case "update-trial": {
        const t = c.trial;
        touch(t.studyId);
        if (c.kind === "insert-trial") this.trialStudy.set(t.id, t.studyId);
        return {
          k: c.kind === "insert-trial" ? "it" : "ut",
          id: t.id,
          sid: t.studyId,
          n: t.number,
          st: t.state,
          p: JSON.stringify(t.params),
          d: JSON.stringify(t.distributions),
          v: num(t.value),
          ov: t.values === null ? null : JSON.stringify(t.values),
          cv: t.constraints === null ? null : JSON.stringify(t.constraints),
          ua: JSON.stringify(t.userAttrs),
          sa: JSON.stringify(t.systemAttrs),
          ca: t.createdAt,
          sta: t.startedAt,
          fa: t.finishedAt,
          lt: t.lease?.token ?? null,
          le: t.lease?.expiresAt ?? null,
          iv: c.kind === "insert-trial" ? t.intermediate.map((iv) => [iv.step, num(iv.value)]) : [],
        };
      }
      case "add-intermediate":
        touch(this.trialStudy.get(c.trialId));
        return { k: "ai", t: c.trialId, s: c.step, v: num(c.value) };
      case "set-lease":
        touch(this.trialStudy.get(c.trialId));
        return { k: "sl", t: c.trialId, lt: c.lease.token, le: c.lease.expiresAt };
      case "insert-study":
        if (this.fence) names.add(c.study.name);
        this.studyNames.set(c.study.id, c.study.name);
        return {
          k: "is",
          id: c.study.id,
          name: c.study.name,
          cfg: JSON.stringify(c.study.config),
          ua: JSON.stringify(c.study.userAttrs),
          ca: c.study.createdAt,
          stp: c.study.stopped ?? false,
        };
      case "update-study":
        touch(c.study.id);
        return { k: "us", id: c.study.id, cfg: JSON.stringify(c.study.config), ua: JSON.stringify(c.study.userAttrs), stp: c.study.stopped ?? false };
      case "set-study-user-attrs":
        touch(c.studyId);
        return { k: "sa", id: c.studyId, ua: JSON.stringify(c.userAttrs) };
      case "delete-study":
        touch(c.studyId);
        return { k: "ds", id: c.studyId };
      case "put-reply":
        return { k: "pr", id: c.requestId, op: c.op, r: Buffer.from(c.reply.buffer, c.reply.byteOffset, c.reply.byteLength).toString("base64"), at: c.at };
    }
  }

  /**
   * A mutating request looks its id up before it runs (unless it says it is the id's first send:
   * the envelope's `attempt: 0`, see service/idempotency.ts), and another server may have stored the
   * reply (a retry after a takeover), so the lookup cannot be answered from memory: lookups made in
   * the same turn of the event loop share one query.
   */
  getReply(requestId: string): Promise<Uint8Array | null> {
    return new Promise((resolve, reject) => {
      let batch = this.lookups;
      if (!batch) {
        const b = (batch = this.lookups = new Map());
        setImmediate(() => {
          this.lookups = null;
          this.lookupBatch(b).catch((err: unknown) => {
            const e = databaseUnreachable(err) ?? err;
            for (const waiters of b.values()) for (const w of waiters) w.reject(e);
          });
        });
      }
      let waiters = batch.get(requestId);
      if (!waiters) batch.set(requestId, (waiters = []));
      waiters.push({ resolve, reject });
    });
  }

  private lookups: Map<string, { resolve(r: Uint8Array | null): void; reject(e: unknown): void }[]> | null = null;

  private async lookupBatch(batch: NonNullable<typeof this.lookups>): Promise<void> {
    // Unnamed, so planned with its values each time (parsing it costs little). A named statement
    // settles on a generic plan after five runs, and one made while request_log was still small
    // scanned the whole table: PostgreSQL's CPU per trial grew with the study (issue 18's profile).
    const { rows } = await this.pool.query<{ request_id: string; reply: Buffer }>(
      "SELECT request_id, reply FROM request_log WHERE request_id = ANY($1)",
      [[...batch.keys()]],
    );
    const found = new Map(rows.map((r) => [r.request_id, new Uint8Array(r.reply)]));
    for (const [id, waiters] of batch) for (const w of waiters) w.resolve(found.get(id) ?? null);
  }

  async pruneReplies(olderThan: number): Promise<number> {
    return (await this.pool.query("DELETE FROM request_log WHERE at < $1", [olderThan])).rowCount ?? 0;
  }

  async checkIntegrity(): Promise<string[]> {
    // PostgreSQL checks its own pages (and foreign keys on every write); what is left to check is
    // that trial numbers are dense per study, as the service assumes when it loads them.
    const { rows } = await this.pool.query<{ name: string }>(
      "SELECT s.name FROM studies s JOIN trials t ON t.study_id = s.id GROUP BY s.id, s.name HAVING MAX(t.number) + 1 <> COUNT(*)",
    );
    return rows.map((r) => `study '${r.name}' has gaps in its trial numbers`);
  }

  /**
   * Ends the pool: its idle connections at once, a checked-out one once its statement returns. A
   * statement left running on a database that stopped answering (an abandoned hand-back of owner
   * rows) held this for as long as the database was silent: after `CLOSE_WAIT_MS` its connection is
   * left to the process's exit.
   */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.pool.end(), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
  }
}

/** A float for the JSON batch: NaN as null (as SQLite stores it), ±Infinity as text PostgreSQL casts. */
function num(v: number | null): number | string | null {
  if (v === null || Number.isNaN(v)) return null;
  return Number.isFinite(v) ? v : String(v);
}
