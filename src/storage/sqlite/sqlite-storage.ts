/**
 * Embedded storage on SQLite (better-sqlite3) in WAL mode.
 *
 * Durability is explicit (`durability` option):
 *  - "process" (default): `synchronous=NORMAL`. A commit survives the tuneport process
 *    being killed (SIGKILL, OOM) the instant after it returns; a power loss or kernel
 *    crash may lose the last transactions (never corrupts the file).
 *  - "power": `synchronous=FULL`. Every commit is fsynced before the reply: survives
 *    power loss, at a few hundred commits per second on ordinary disks.
 *
 * Single writer: a writer holds `<path>.lock` and the database's `writer` row (its pid in both; a
 * lock or row left by a dead process is taken over; the row is what a second path to the same
 * file, a hard link, meets), so a second tuneport server on the same file fails fast with a
 * clear error instead of interleaving writes. Readers (`tuneport studies ...`) open the
 * file read-only and may run beside the server: WAL lets them see committed data.
 *
 * Private files: a writer creates the database and its lock with mode 0600 (SQLite gives the
 * `-wal` and `-shm` files it creates the database file's mode), and tightens an existing
 * database, `-wal` or `-shm` that group or others may read to 0600 (`tightenedFiles`): they
 * hold results and lease tokens. Read-only opens change nothing.
 *
 * Schema migrations are versioned through `PRAGMA user_version`; each migration runs in
 * its own transaction, and a database newer than this build is refused.
 */
import { chmodSync, closeSync, existsSync, openSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import type { Distribution } from "../../domain/distributions.js";
import { FrontKeeper } from "../front-keeper.js";
import { BACKFILLS, FEASIBLE, MIGRATIONS, frontRows } from "./sqlite-schema.js";
import { checkDatabaseFile, markFull, newerSchema, openError } from "./open-checks.js";
import { ReplyIndex } from "./reply-index.js";
import { valuePage } from "./sqlite-page-sql.js";
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
  type QuickFront,
  type ObjectiveRow,
  betterReport,
  type TrialPageQuery,
  type TrialRow,
  storedTrialOfRow,
  objectiveRowOf,
  trialPageSql,
  summariesOneByOne,
} from "../storage.js";

export type Durability = "process" | "power";

export interface SqliteStorageOptions {
  /** File path, or ":memory:" for tests. */
  readonly path: string;
  readonly durability?: Durability;
  /** Open for reading only (no lock, no migrations); the file must exist. */
  readonly readonly?: boolean;
  /** Stored replies kept at most, the oldest dropped past it (reply-index.ts); DEFAULT_MAX_STORED_REPLIES. */
  readonly maxStoredReplies?: number;
  /** Told after the oldest replies were dropped for the bound: how many, and how many are kept. */
  readonly onRepliesDropped?: (dropped: number, kept: number) => void;
}

export class SqliteStorage implements Storage, SummaryReader {
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly lockPath: string | null;
  /** The row of each request id in request_log, at most `maxStoredReplies` (reply-index.ts); writers only. */
  private readonly replyIds: ReplyIndex;
  /** Files that existed with group/other permissions and were set to 0600 on open (for the caller to log). */
  readonly tightenedFiles: string[] = [];
  /** Keeps the multi-objective studies' Pareto fronts (writers only). */
  private readonly fronts: FrontKeeper | null;

  constructor(opts: SqliteStorageOptions) {
    const file = opts.path !== ":memory:";
    let lock: string | null = null;
    let opened: Database.Database | null = null;
    // A path that is not a tuneport database is refused before anything is changed (open-checks.ts), and
    // a failure past that point closes what was opened and gives the lock back.
    try {
      if (file) checkDatabaseFile(opts.path, opts.readonly === true, MIGRATIONS.length);
      if (opts.readonly) {
        opened = new Database(opts.path, { readonly: true, fileMustExist: true, timeout: 5000 });
        // Reads map the file instead of copying each page through read(2): the first scan of a big
        // study's rows (a short-lived CLI process starts cold) took 2-3× longer through the page copies.
        opened.pragma("mmap_size = 1073741824");
        const version = opened.pragma("user_version", { simple: true }) as number;
        if (version > MIGRATIONS.length) throw newerSchema(version, MIGRATIONS.length);
        if (version !== MIGRATIONS.length)
          throw new TuneportError(
            "FAILED_PRECONDITION",
            `database schema version ${version} differs from this tuneport's ${MIGRATIONS.length}; open it with 'tuneport serve' once to migrate`,
          );
      } else {
        // Beside the file a symbolic link names, so that the link and the file share one lock (a
        // hard link still has a lock of its own: it cannot be told from another file by its path).
        lock = file ? acquireLock(`${existsSync(opts.path) ? realpathSync(opts.path) : opts.path}.lock`) : null;
        if (file) this.tightenedFiles.push(...makePrivate(opts.path));
        opened = new Database(opts.path, { timeout: 5000 });
        opened.pragma("journal_mode = WAL");
        opened.pragma(`synchronous = ${opts.durability === "power" ? "FULL" : "NORMAL"}`);
        opened.pragma("foreign_keys = ON");
        this.db = opened;
        this.migrate();
        claimWriter(opened, opts.path);
      }
    } catch (err) {
      if (opened?.open) opened.close();
      if (lock) rmSync(lock, { force: true });
      throw openError(err, opts.path);
    }
    this.db = opened;
    this.lockPath = lock;
    const db = this.db;
    this.stmts = {
      insertStudy: db.prepare(
        "INSERT INTO studies (id, name, config, user_attrs, created_at, stopped) VALUES (@id, @name, @config, @user_attrs, @created_at, @stopped)",
      ),
      updateStudy: db.prepare("UPDATE studies SET config = @config, user_attrs = @user_attrs, stopped = @stopped WHERE id = @id"),
      maxStudyId: db.prepare("SELECT COALESCE(MAX(id), 0) AS m FROM studies"),
      studySeq: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'studies'"),
      setLease: db.prepare("UPDATE trials SET lease_token = ?, lease_expires = ? WHERE id = ?"),
      listStudies: db.prepare("SELECT * FROM studies ORDER BY id"),
      deleteStudy: db.prepare("DELETE FROM studies WHERE id = ?"),
      setStudyAttrs: db.prepare("UPDATE studies SET user_attrs = ? WHERE id = ?"),
      trialsOf: db.prepare("SELECT * FROM trials WHERE study_id = ? ORDER BY number"),
      intermediatesOf: db.prepare(
        "SELECT iv.trial_id, iv.step, iv.value FROM intermediate_values iv JOIN trials t ON t.id = iv.trial_id WHERE t.study_id = ? ORDER BY iv.trial_id, iv.step",
      ),
      maxTrialId: db.prepare("SELECT COALESCE(MAX(id), 0) AS m FROM trials"),
      distinctDistributions: db.prepare("SELECT name, distribution FROM study_param_distributions WHERE study_id = ? ORDER BY first_number, name"),
      countsOf: db.prepare("SELECT state, n, valued FROM study_state_counts WHERE study_id = ?"),
      completeObjectives: db.prepare(
        `SELECT ${OBJECTIVE_COLUMNS} FROM trials WHERE study_id = ? AND state = 'COMPLETE' ORDER BY number`,
      ),
      trialByNumber: db.prepare("SELECT * FROM trials WHERE study_id = ? AND number = ?"),
      // The best feasible COMPLETE trial (ties: the lower number), walking the trials_by_value index.
      bestMin: db.prepare(`SELECT * FROM trials WHERE study_id = ? AND state = 'COMPLETE' AND value IS NOT NULL AND ${FEASIBLE} ORDER BY value ASC, number LIMIT 1`),
      bestMax: db.prepare(`SELECT * FROM trials WHERE study_id = ? AND state = 'COMPLETE' AND value IS NOT NULL AND ${FEASIBLE} ORDER BY value DESC, number LIMIT 1`),
      intermediatesOfTrial: db.prepare("SELECT step, value FROM intermediate_values WHERE trial_id = ? ORDER BY step"),
      // Positional parameters in trialValues' order (named ones looked each of 16 names up per row).
      insertTrial: db.prepare(`INSERT INTO trials (state, params, distributions, value, objective_values, constraint_values,
          user_attrs, system_attrs, started_at, finished_at, lease_token, lease_expires, id, study_id, number, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      updateTrial: db.prepare(`UPDATE trials SET state = ?, params = ?, distributions = ?, value = ?, objective_values = ?,
          constraint_values = ?, user_attrs = ?, system_attrs = ?, started_at = ?, finished_at = ?, lease_token = ?, lease_expires = ?
        WHERE id = ?`),
      addIntermediate: db.prepare("INSERT OR REPLACE INTO intermediate_values (trial_id, step, value) VALUES (?, ?, ?)"),
      putReply: db.prepare("INSERT INTO request_log (request_id, op, reply, at) VALUES (?, ?, ?, ?)"),
      getReply: db.prepare("SELECT reply FROM request_log WHERE seq = ?"),
      findReply: db.prepare("SELECT reply FROM request_log WHERE request_id = ? ORDER BY seq DESC LIMIT 1"),
      replyIds: db.prepare("SELECT request_id, seq FROM request_log ORDER BY seq").raw(),
      pruneReplies: db.prepare("DELETE FROM request_log WHERE at < ? RETURNING request_id, seq").raw(),
      countReplies: db.prepare("SELECT count(*) FROM request_log").pluck(),
      dropOldestReplies: db.prepare("DELETE FROM request_log WHERE seq IN (SELECT seq FROM request_log ORDER BY seq LIMIT ?) RETURNING request_id, seq").raw(),
      // CROSS JOIN: the front's few rows drive the join (without statistics the planner would scan the trials).
      frontOf: db.prepare("SELECT t.* FROM pareto_front f CROSS JOIN trials t ON t.study_id = f.study_id AND t.number = f.number WHERE f.study_id = ? ORDER BY f.number"),
      infeasibleOf: db.prepare("SELECT n FROM study_infeasible WHERE study_id = ?").pluck(),
      frontDropped: db.prepare("SELECT 1 FROM pareto_front_dropped WHERE study_id = ?").pluck(),
    };
    const { countReplies, replyIds, dropOldestReplies } = this.stmts;
    const table = { count: () => countReplies.get() as number, rows: () => replyIds.all() as [string, number][], dropOldest: (n: number) => dropOldestReplies.all(n) as [string, number][] };
    this.replyIds = new ReplyIndex(table, opts.maxStoredReplies, opts.onRepliesDropped);
    this.fronts = db.readonly ? null : new FrontKeeper(frontRows(db));
  }

  private migrate(): void {
    const current = this.db.pragma("user_version", { simple: true }) as number;
    if (current > MIGRATIONS.length) throw newerSchema(current, MIGRATIONS.length);
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v] as string);
        BACKFILLS[v + 1]?.(this.db);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  async listStudies(): Promise<Study[]> {
    type Row = { id: number; name: string; config: string; user_attrs: string; created_at: number; stopped: number };
    return (this.stmts.listStudies.all() as Row[]).map((r) => ({
      id: r.id,
      name: r.name,
      config: upgradeStudyConfig(JSON.parse(r.config) as StudyConfig),
      userAttrs: JSON.parse(r.user_attrs) as Record<string, unknown>,
      createdAt: r.created_at,
      ...(r.stopped ? { stopped: true } : {}),
    }));
  }

  async loadTrials(studyId: number): Promise<StoredTrial[]> {
    // One read transaction: a reader beside a live server sees trials and intermediates of
    // the same commit.
    const [rows, ivs] = this.db.transaction(
      () =>
        [
          this.stmts.trialsOf.all(studyId) as TrialRow[],
          this.stmts.intermediatesOf.all(studyId) as { trial_id: number; step: number; value: number | null }[],
        ] as const,
    )();
    const inter = new Map<number, { step: number; value: number }[]>();
    for (const r of ivs) {
      let list = inter.get(r.trial_id);
      if (!list) inter.set(r.trial_id, (list = []));
      list.push({ step: r.step, value: r.value ?? Number.NaN });
    }
    return rows.map((r) => storedTrialOfRow(r, inter.get(r.id) ?? []));
  }

  /**
   * A study's counts by state and its best COMPLETE trial (ties: the lower number), read in one
   * transaction without loading the other trials: what `tuneport studies list` shows (storage.ts
   * `SummaryReader`).
   */
  async studySummary(studyId: number, direction: "minimize" | "maximize"): Promise<StudySummaryRow> {
    return this.db.transaction((): StudySummaryRow => {
      const counts = this.countsOf(studyId);
      const row = (direction === "minimize" ? this.stmts.bestMin : this.stmts.bestMax).get(studyId) as TrialRow | undefined;
      return { counts, best: row ? this.withIntermediates(row) : null };
    })();
  }

  /** A stored trial from its row and its intermediate values (read in the caller's transaction). */
  private withIntermediates(r: TrialRow): StoredTrial {
    const ivs = this.stmts.intermediatesOfTrial.all(r.id) as { step: number; value: number | null }[];
    return storedTrialOfRow(r, ivs.map((iv) => ({ step: iv.step, value: iv.value ?? Number.NaN })));
  }

  /** A study's trial counts by state (study_state_counts, kept by triggers). */
  private countsOf(studyId: number): Record<TrialState, number> {
    const counts = Object.fromEntries(TRIAL_STATES.map((st) => [st, 0])) as Record<TrialState, number>;
    for (const r of this.stmts.countsOf.all(studyId) as { state: TrialState; n: number }[]) counts[r.state] = r.n;
    return counts;
  }

  async trialPage(studyId: number, q: TrialPageQuery): Promise<{ trials: StoredTrial[]; total: number; withoutValue?: number }> {
    // By value, every state is named: one walk of the (study, state, value, number) index each (valuePageSql).
    const query: TrialPageQuery = q.orderBy === "value" && !q.states?.length ? { ...q, states: TRIAL_STATES } : q;
    const { where, order } = trialPageSql(query, () => "?");
    const states: TrialState[] = [...new Set(query.states ?? [])];
    const args = [studyId, ...states];
    const byNumber = () => this.db.prepare(`SELECT * FROM trials WHERE study_id = ?${where} ORDER BY ${order} LIMIT ?`).all(...args, q.limit);
    return this.db.transaction(() => {
      const rows = (q.orderBy === "value" ? valuePage(this.db, studyId, states, q.direction, q.limit) : byNumber()) as TrialRow[];
      // The counts table answers the total: trials by state, or by value those of them with a value
      // (schema 9; a COUNT(*) of the value index read every entry).
      let matching = 0;
      let valued = 0;
      for (const r of this.stmts.countsOf.all(studyId) as { state: TrialState; n: number; valued: number }[])
        if (states.length === 0 || states.includes(r.state)) (matching += r.n), (valued += r.valued);
      const trials = rows.map((r) => this.withIntermediates(r));
      return q.orderBy === "number" ? { trials, total: matching } : { trials, total: valued, withoutValue: matching - valued };
    })();
  }

  /** One study after another (storage.ts `summariesOneByOne`): in this process, a read costs no round trip. */
  readonly studySummaries: SummaryReader["studySummaries"] = (studies) => summariesOneByOne(this, studies);

  async distinctDistributions(studyId: number): Promise<Record<string, Distribution>[]> {
    const rows = this.stmts.distinctDistributions.all(studyId) as { name: string; distribution: string }[];
    return rows.map((r) => ({ [r.name]: JSON.parse(r.distribution) as Distribution }));
  }

  async completeObjectives(studyId: number): Promise<ObjectiveRow[]> {
    return (this.stmts.completeObjectives.all(studyId) as TrialRow[]).map(objectiveRowOf);
  }

  async bestReported(studyId: number, direction: "minimize" | "maximize"): Promise<BestReportRow | null> {
    const ord = direction === "minimize" ? "ASC" : "DESC";
    // Finite: SQLite stores NaN as NULL, and 9e999 reads as infinity.
    const finite = (c: string) => `${c} IS NOT NULL AND ${c} > -9e999 AND ${c} < 9e999`;
    return this.db.transaction((): BestReportRow | null => {
      const reported = this.db
        .prepare(`SELECT t.number, iv.step, iv.value FROM trials t JOIN intermediate_values iv ON iv.trial_id = t.id
          WHERE t.study_id = ? AND ${finite("iv.value")} ORDER BY iv.value ${ord}, t.number, iv.step LIMIT 1`)
        .get(studyId) as BestReportRow | undefined;
      // A trial that reported nothing finite counts with its COMPLETE value; only values at least as
      // good as the best report can win, so the value index is walked from the best end that far.
      const completed = this.db
        .prepare(`SELECT number, NULL AS step, value FROM trials t WHERE study_id = ? AND state = 'COMPLETE' AND ${finite("value")}
          ${reported ? `AND value ${direction === "minimize" ? "<=" : ">="} ?` : ""}
          AND NOT EXISTS (SELECT 1 FROM intermediate_values iv WHERE iv.trial_id = t.id AND ${finite("iv.value")})
          ORDER BY value ${ord}, number LIMIT 1`)
        .get(...(reported ? [studyId, reported.value] : [studyId])) as BestReportRow | undefined;
      return betterReport(direction, reported ?? null, completed ?? null);
    })();
  }

  async quickFront(studyId: number, directions: readonly Direction[]): Promise<QuickFront | null> {
    if (directions.length < 2) return null;
    return this.db.transaction((): QuickFront | null => {
      if (this.stmts.frontDropped.get(studyId) !== undefined) return null;
      const rows = this.stmts.frontOf.all(studyId) as TrialRow[];
      return {
        trials: rows.map((r) => this.withIntermediates(r)),
        complete: this.countsOf(studyId).COMPLETE,
        infeasible: (this.stmts.infeasibleOf.get(studyId) as number | undefined) ?? 0,
      };
    })();
  }

  async trialsByNumber(studyId: number, numbers: readonly number[]): Promise<StoredTrial[]> {
    return this.db.transaction(() =>
      [...numbers]
        .sort((a, b) => a - b)
        .flatMap((n) => {
          const r = this.stmts.trialByNumber.get(studyId, n) as TrialRow | undefined;
          return r ? [this.withIntermediates(r)] : [];
        }),
    )();
  }

  async maxTrialId(): Promise<number> {
    return (this.stmts.maxTrialId.get() as { m: number }).m;
  }

  async maxStudyId(): Promise<number> {
    // AUTOINCREMENT's high-water mark survives deletes, so a deleted study's id is never reused.
    const seq = this.stmts.studySeq.get() as { seq: number } | undefined;
    return Math.max(seq?.seq ?? 0, (this.stmts.maxStudyId.get() as { m: number }).m);
  }

  private readonly applyAll = (changes: readonly Change[]): void => {
    for (const c of changes) {
      switch (c.kind) {
        case "insert-trial":
          this.fronts?.prepare(c.trial.studyId);
          this.stmts.insertTrial.run(trialValues(c.trial, true));
          for (const iv of c.trial.intermediate) this.stmts.addIntermediate.run(c.trial.id, iv.step, nanToNull(iv.value));
          this.fronts?.onTrial(c.trial);
          break;
        case "update-trial": {
          this.fronts?.prepare(c.trial.studyId);
          this.stmts.updateTrial.run(trialValues(c.trial, false));
          this.fronts?.onTrial(c.trial);
          break;
        }
        case "add-intermediate":
          this.stmts.addIntermediate.run(c.trialId, c.step, nanToNull(c.value));
          break;
        case "insert-study":
          this.stmts.insertStudy.run({
            id: c.study.id,
            name: c.study.name,
            config: JSON.stringify(c.study.config),
            user_attrs: JSON.stringify(c.study.userAttrs),
            created_at: c.study.createdAt,
            stopped: c.study.stopped ? 1 : 0,
          });
          this.fronts?.onStudy(c.study.id, c.study.config.directions);
          break;
        case "update-study":
          this.stmts.updateStudy.run({
            id: c.study.id,
            config: JSON.stringify(c.study.config),
            user_attrs: JSON.stringify(c.study.userAttrs),
            stopped: c.study.stopped ? 1 : 0,
          });
          break;
        case "delete-study":
          this.stmts.deleteStudy.run(c.studyId);
          this.fronts?.forget(c.studyId);
          break;
        case "set-lease":
          this.stmts.setLease.run(c.lease.token, c.lease.expiresAt, c.trialId);
          break;
        case "set-study-user-attrs":
          this.stmts.setStudyAttrs.run(JSON.stringify(c.userAttrs), c.studyId);
          break;
        case "put-reply": {
          // The first reply of an id stays (storage.ts, "put-reply").
          if (this.pendingIds.has(c.requestId) || this.replyIds.has(c.requestId)) break;
          const { lastInsertRowid } = this.stmts.putReply.run(c.requestId, c.op, Buffer.from(c.reply.buffer, c.reply.byteOffset, c.reply.byteLength), c.at);
          this.pendingIds.set(c.requestId, Number(lastInsertRowid));
          break;
        }
      }
    }
  };

  /** Built once: better-sqlite3 wraps the function on every `transaction()` call. */
  private txFn: ((changes: readonly Change[]) => void) | null = null;
  private readonly tx = (changes: readonly Change[]) => (this.txFn ??= this.db.transaction(this.applyAll))(changes);

  /** Replies stored by the transaction in progress (request id → seq), known once it commits. */
  private pendingIds = new Map<string, number>();

  async commit(changes: readonly Change[]): Promise<void> {
    if (changes.length === 0) return;
    this.pendingIds = new Map();
    try {
      this.tx(changes);
    } catch (err) {
      const e = markFull(this.db, err); // the rows rolled back (made sure of on a full disk); the fronts kept in memory may have moved with them
      this.fronts?.reset();
      throw e;
    }
    // Only after the transaction committed: a rolled-back reply must stay unknown.
    this.replyIds.committed(this.pendingIds);
  }

  knowsReply(requestId: string): boolean {
    return !this.db.readonly && this.replyIds.has(requestId);
  }

  async getReply(requestId: string): Promise<Uint8Array | null> {
    let row: { reply: Buffer } | undefined;
    if (this.db.readonly) row = this.stmts.findReply.get(requestId) as { reply: Buffer } | undefined;
    else {
      const seq = this.replyIds.get(requestId);
      if (seq === undefined) return null;
      row = this.stmts.getReply.get(seq) as { reply: Buffer } | undefined;
    }
    return row ? new Uint8Array(row.reply) : null;
  }

  async pruneReplies(olderThan: number): Promise<number> {
    const gone = this.stmts.pruneReplies.all(olderThan) as [string, number][];
    // The map follows without a rebuild (a scan of the whole log on the next request).
    this.replyIds.forget(gone);
    return gone.length;
  }

  async checkIntegrity(): Promise<string[]> {
    try {
      const rows = this.db.pragma("quick_check") as { quick_check: string }[];
      const problems = rows.map((r) => r.quick_check).filter((m) => m !== "ok");
      const fk = this.db.pragma("foreign_key_check") as unknown[];
      if (fk.length > 0) problems.push(`${fk.length} rows violate foreign keys`);
      return problems;
    } catch (err) {
      // A damaged page makes the check itself fail (SQLITE_CORRUPT): that is its finding.
      const e = err as { code?: string; message?: string };
      return [`${e.message ?? String(err)}${e.code ? ` (${e.code})` : ""}`];
    }
  }

  async close(): Promise<void> {
    if (this.db.open && !this.db.readonly) {
      // The writer record goes first, so that the checkpoint below folds its removal in too.
      try {
        this.db.prepare("DELETE FROM writer WHERE id = 1 AND pid = ?").run(process.pid);
      } catch {
        /* a row left behind names a dead process: the next writer takes it over */
      }
      // Fold the WAL into the main file so the database is one self-contained file at rest.
      try {
        this.db.pragma("wal_checkpoint(TRUNCATE)");
      } catch {
        /* a checkpoint is an optimisation; closing still commits nothing new */
      }
    }
    if (this.db.open) this.db.close();
    if (this.lockPath) rmSync(this.lockPath, { force: true });
  }
}

/**
 * Records this process as the database's writer (schema 8's \`writer\` row), or throws UNAVAILABLE
 * when a live process other than this one holds it: a server that opened the same file through a
 * hard link, whose \`.lock\` sits beside another name. A row naming a dead process (a crash) is
 * taken over, as a stale \`.lock\` is. One immediate transaction: two writers starting at once
 * cannot both see it free.
 */
function claimWriter(db: Database.Database, path: string): void {
  db.transaction(() => {
    const row = db.prepare("SELECT pid FROM writer WHERE id = 1").get() as { pid: number } | undefined;
    if (row && row.pid !== process.pid && isAlive(row.pid) && mayHoldFile(row.pid, path))
      throw new TuneportError(
        "UNAVAILABLE",
        `storage ${path} is in use by another tuneport process (pid ${row.pid}), which opened it by another name (a hard link?); one server per database file`,
        { pid: row.pid },
      );
    db.prepare("INSERT OR REPLACE INTO writer (id, pid, started_at) VALUES (1, ?, ?)").run(process.pid, Date.now() / 1000);
  }).immediate();
  // Into the main file: SQLite names the WAL after the path opened, so a server opening the file
  // by another name reads another (empty) WAL and would not see a row left in this one.
  db.pragma("wal_checkpoint(TRUNCATE)");
}

/**
 * Takes the writer lock file, or throws UNAVAILABLE naming the live holder. A lock whose pid
 * is no longer alive (the holder was killed) is taken over.
 */
function acquireLock(lockPath: string): string {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: "wx", mode: PRIVATE_MODE });
      return lockPath;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number.parseInt(readFileSync(lockPath, "utf8"), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder))
        throw new TuneportError(
          "UNAVAILABLE",
          `storage ${lockPath.slice(0, -5)} is in use by another tuneport process (pid ${holder}); one server per database file`,
          { pid: holder },
        );
      rmSync(lockPath, { force: true });
    }
  }
  throw new TuneportError("UNAVAILABLE", `could not take the lock ${lockPath}`);
}

/** Owner read/write only: the mode of every file a writer creates or opens. */
export const PRIVATE_MODE = 0o600;

/**
 * Creates the database file with mode 0600 when it is missing (SQLite then gives its `-wal`
 * and `-shm` the same mode) and sets an existing database, `-wal` or `-shm` that group or
 * others can access to 0600. Returns the paths it tightened.
 */
function makePrivate(dbPath: string): string[] {
  closeSync(openSync(dbPath, "a", PRIVATE_MODE));
  const tightened: string[] = [];
  for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
    let mode: number;
    try {
      mode = statSync(f).mode;
    } catch {
      continue; // not there (yet)
    }
    if ((mode & 0o077) === 0) continue;
    try {
      chmodSync(f, PRIVATE_MODE);
      tightened.push(f);
    } catch {
      // Not ours to change (another owner): the file stays as its owner set it.
    }
  }
  return tightened;
}

/**
 * Whether process `pid` may have the file at `path` open: false only when its open files can be
 * read (Linux's /proc/PID/fd) and none of them is this file (same device and inode). A copy of a
 * live server's database (a backup, `sqlite3 .backup`) carries that server's writer row; the
 * server has the original open, not the copy, so the copy is no hard link and may be served.
 */
function mayHoldFile(pid: number, path: string): boolean {
  let target: { dev: number; ino: number };
  let fds: string[];
  try {
    target = statSync(path);
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return true; // not Linux, or not allowed to look: assume it may
  }
  for (const fd of fds) {
    try {
      const st = statSync(`/proc/${pid}/fd/${fd}`);
      if (st.dev === target.dev && st.ino === target.ino) return true;
    } catch {
      // closed meanwhile, or not a file
    }
  }
  return false;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function nanToNull(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}

/** A trial's columns as updateTrial binds them; an insert's (`insert`) go on with study_id, number, created_at. */
function trialValues(t: StoredTrial, insert: boolean): unknown[] {
  const values: unknown[] = [
    t.state,
    JSON.stringify(t.params),
    JSON.stringify(t.distributions),
    t.value,
    t.values === null ? null : JSON.stringify(t.values),
    t.constraints === null ? null : JSON.stringify(t.constraints),
    JSON.stringify(t.userAttrs),
    JSON.stringify(t.systemAttrs),
    t.startedAt,
    t.finishedAt,
    t.lease?.token ?? null,
    t.lease?.expiresAt ?? null,
    t.id,
  ];
  if (insert) values.push(t.studyId, t.number, t.createdAt);
  return values;
}
