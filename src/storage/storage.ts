/**
 * The storage plug-in family: where studies and trials persist.
 *
 * The service keeps the authoritative in-memory copy of every open study and sends
 * storage *change sets*: each `commit` applies a batch atomically (all or nothing) and
 * resolves only once the batch is durable at the configured level. A reply that
 * acknowledges a change is sent only after its commit resolves. The interface is
 * asynchronous so that a network database (PostgreSQL) can implement it unchanged;
 * the embedded SQLite implementation completes synchronously underneath.
 */
import type { Distribution, Params } from "../domain/distributions.js";
import type { Direction, Study, Trial, TrialState } from "../domain/trial.js";

/** A trial as stored: the domain trial plus its lease. */
export interface StoredTrial extends Trial {
  readonly studyId: number;
  readonly lease: Lease | null;
}

export interface Lease {
  readonly token: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

export type Change =
  | { readonly kind: "insert-trial"; readonly trial: StoredTrial }
  /** Rewrites every column of the trial except intermediates (stored separately). */
  | { readonly kind: "update-trial"; readonly trial: StoredTrial }
  | { readonly kind: "add-intermediate"; readonly trialId: number; readonly step: number; readonly value: number }
  | { readonly kind: "set-study-user-attrs"; readonly studyId: number; readonly userAttrs: Record<string, unknown> }
  /** Creates a study with the id the service allocated. Fails (a storage fault) if the id or name is taken. */
  | { readonly kind: "insert-study"; readonly study: Study }
  /** Rewrites a study's config, user attributes and stopped flag (the name and id never change). */
  | { readonly kind: "update-study"; readonly study: Study }
  /** Deletes a study with all its trials, intermediates included. */
  | { readonly kind: "delete-study"; readonly studyId: number }
  /**
   * Moves a running trial's lease expiry forward. The service writes it only when the stored expiry
   * lags the one in memory by half a TTL or more (see service/leases.ts), not on every heartbeat.
   */
  | { readonly kind: "set-lease"; readonly trialId: number; readonly lease: Lease }
  /**
   * Remembers the reply to a request id so a retry is answered without re-applying it. The first
   * reply stored for an id stays (until pruned): a later put for the same id is ignored, so a
   * client that reuses an id cannot replace the reply that a retry of the first request gets.
   */
  | { readonly kind: "put-reply"; readonly requestId: string; readonly op: string; readonly reply: Uint8Array; readonly at: number };

/**
 * Every write is a `Change` in a `commit`, in the order the service produced them, so the service
 * alone decides what exists (a create, a delete and a late tell of the same study cannot reorder).
 */
export interface Storage {
  listStudies(): Promise<Study[]>;
  /** Every trial of a study, in number order, with intermediates. */
  loadTrials(studyId: number): Promise<StoredTrial[]>;
  /**
   * The largest trial id in use (0 when none). The service is the single writer and
   * allocates ids from there on; storages must refuse a second writer (see `open`).
   */
  maxTrialId(): Promise<number>;
  /** The largest study id ever used (0 when none); the service allocates study ids from there on. */
  maxStudyId(): Promise<number>;
  /**
   * Applies the changes in one transaction, all or nothing, durable when it resolves. An error that
   * says `committed(err) === false` left nothing written (the batch may be committed again).
   */
  commit(changes: readonly Change[]): Promise<void>;
  /**
   * With several servers (a fence; PostgreSQL): the name of a study `changes` write that this server
   * no longer holds (taken over by another), so that `commit` would refuse them; else null. Absent:
   * one writer, nothing is ever refused so. A name in `gone` counts as not held (lost since the
   * changes were made, though held again now).
   */
  fencedOut?(changes: readonly Change[], gone?: ReadonlySet<string>): string | null;
  /** A stored reply for a request id, or null. */
  getReply(requestId: string): Promise<Uint8Array | null>;
  /**
   * Whether a reply is stored for this id, answered from memory without a query; a storage that
   * cannot answer so leaves it out. The service then looks up even a request that says it is its
   * id's first send (`attempt: 0`), which a client reusing an id after a restart could misstate.
   */
  knowsReply?(requestId: string): boolean;
  /** Forgets replies older than the cut-off (epoch ms). Returns how many were dropped. */
  pruneReplies(olderThan: number): Promise<number>;
  /** Verifies the database's integrity; resolves to a list of problems (empty when sound). */
  checkIntegrity(): Promise<string[]>;
  close(): Promise<void>;
}

/** A study's counts by state and its best feasible COMPLETE trial (ties: the lower number). */
export interface StudySummaryRow {
  counts: Record<TrialState, number>;
  best: StoredTrial | null;
}

/** A study whose summary `SummaryReader.studySummaries` reads. */
export interface SummaryKey {
  readonly id: number;
  readonly direction: "minimize" | "maximize";
}

/** What `SummaryReader.studySummaries` reads of one study: its `studySummary` and `distinctDistributions`. */
export interface StudySummaryWithParams extends StudySummaryRow {
  distributions: Record<string, Distribution>[];
}

/** `SummaryReader.studySummaries` one study at a time: for a storage in this process (SQLite), where a read costs no round trip. */
export async function summariesOneByOne(reader: Pick<SummaryReader, "studySummary" | "distinctDistributions">, studies: readonly SummaryKey[]): Promise<Map<number, StudySummaryWithParams>> {
  const out = new Map<number, StudySummaryWithParams>();
  for (const s of studies) out.set(s.id, { ...(await reader.studySummary(s.id, s.direction)), distributions: await reader.distinctDistributions(s.id) });
  return out;
}

/**
 * A storage that answers `studySummary` from SQL without loading a study's trials: what
 * `tuneport studies list` reads (SQLite and PostgreSQL both implement it; not part of `Storage`,
 * which the service drives).
 */
export interface SummaryReader {
  listStudies(): Promise<Study[]>;
  /** Counts and best trial in one snapshot, reading O(states + 1) rows' worth of results. */
  studySummary(studyId: number, direction: "minimize" | "maximize"): Promise<StudySummaryRow>;
  /**
   * The first `limit` trials of a study in the order of the `trials` op's first page (service/paging.ts):
   * by number, or by value best first then number with unvalued trials left out; only `states`
   * when given. `total` counts every trial that matched; by value, `withoutValue` the trials of
   * `states` that have no value (from the kept counts, not a scan). One snapshot; the page's rows only.
   */
  trialPage(studyId: number, q: TrialPageQuery): Promise<{ trials: StoredTrial[]; total: number; withoutValue?: number }>;
  /**
   * The distinct (parameter, distribution) pairs of a study's trials in order of first use (the trial
   * number that first held each), as one-entry maps: what the service's `paramDists` (define-by-run
   * parameters, first use wins) is built from, without reading every row's lists into memory.
   */
  distinctDistributions(studyId: number): Promise<Record<string, Distribution>[]>;
  /**
   * `studySummary` and `distinctDistributions` of several studies (by id, each with its direction) in a
   * constant number of statements, keyed by study id; a study id with no row is answered as one with
   * no trial (zero counts, no best, no parameter). What a listing of many studies reads
   * (service/views.ts `summaryViews`): read one study after another, 1,000 studies on PostgreSQL took
   * 2,000 round trips (docs/BENCHMARKS.md "Listing another server's studies").
   */
  studySummaries(studies: readonly SummaryKey[]): Promise<Map<number, StudySummaryWithParams>>;
  /** Number, objective values and constraints of every COMPLETE trial (what a Pareto front is computed from), by number. */
  completeObjectives(studyId: number): Promise<ObjectiveRow[]>;
  /** The trials with these numbers, with intermediates, in number order. */
  trialsByNumber(studyId: number, numbers: readonly number[]): Promise<StoredTrial[]>;
  /**
   * A multi-objective study's Pareto front (its trials in number order, with intermediates) and its
   * counts of COMPLETE and infeasible COMPLETE trials, in one snapshot, read without every COMPLETE trial's
   * objectives where the storage can: SQLite keeps the front on write (front-keeper.ts; unless it
   * dropped a study's front as too big), PostgreSQL computes a two-objective front in SQL. Null
   * otherwise: the front is then computed from `completeObjectives`.
   */
  quickFront(studyId: number, directions: readonly Direction[]): Promise<QuickFront | null>;
  /**
   * The study's best finite reported value as service/lineage.ts `bestReported` finds it, from SQL:
   * the best report (ties: the lower trial number, then the earlier step), or the best COMPLETE value
   * of a trial that reported nothing finite (step null) when that is better or equal with a lower
   * number. Null when neither exists.
   */
  bestReported(studyId: number, direction: "minimize" | "maximize"): Promise<BestReportRow | null>;
}

/** What `SummaryReader.bestReported` finds. */
export interface BestReportRow {
  readonly number: number;
  readonly step: number | null;
  readonly value: number;
}

/** The better of a best report and a best unreported COMPLETE value (`SummaryReader.bestReported`'s rule). */
export function betterReport(direction: "minimize" | "maximize", a: BestReportRow | null, b: BestReportRow | null): BestReportRow | null {
  if (a === null || b === null) return a ?? b;
  if (a.value !== b.value) return (direction === "minimize" ? a.value < b.value : a.value > b.value) ? a : b;
  return a.number <= b.number ? a : b;
}

/** What `SummaryReader.quickFront` reads, in one snapshot: the front's trials in number order, and how many COMPLETE trials there are and are infeasible. */
export interface QuickFront {
  readonly trials: StoredTrial[];
  readonly complete: number;
  readonly infeasible: number;
}

/** A COMPLETE trial's objectives as `SummaryReader.completeObjectives` reads them. */
export interface ObjectiveRow {
  readonly number: number;
  readonly state: "COMPLETE";
  readonly values: number[] | null;
  readonly constraints: number[] | null;
}

/** SQL columns of `completeObjectives` (both storages). */
export const OBJECTIVE_COLUMNS = "number, value, objective_values, constraint_values";

/** An `ObjectiveRow` from those columns. */
export function objectiveRowOf(r: Pick<TrialRow, "number" | "value" | "objective_values" | "constraint_values">): ObjectiveRow {
  return {
    number: r.number,
    state: "COMPLETE",
    values: valuesOfRow(r),
    constraints: r.constraint_values === null ? null : (JSON.parse(r.constraint_values) as number[]),
  };
}

/** What `SummaryReader.trialPage` reads. */
export interface TrialPageQuery {
  readonly states?: readonly TrialState[];
  readonly orderBy: "number" | "value";
  readonly direction: "minimize" | "maximize";
  readonly limit: number;
}

/** SQL of a `TrialPageQuery` after `WHERE study_id = <p>`: the filter and the ORDER BY (placeholders from `param`). */
export function trialPageSql(q: TrialPageQuery, param: (i: number) => string): { where: string; order: string } {
  const states = q.states ? [...new Set(q.states)] : [];
  const where = [
    ...(states.length > 0 ? [`state IN (${states.map((_, i) => param(i + 2)).join(", ")})`] : []),
    ...(q.orderBy === "value" ? ["value IS NOT NULL"] : []),
  ];
  return {
    where: where.map((w) => ` AND ${w}`).join(""),
    order: q.orderBy === "value" ? `value ${q.direction === "minimize" ? "ASC" : "DESC"}, number` : "number",
  };
}

/**
 * A stored row's objective values: its vector (JSON text), or `[value]` for a row written before
 * the vector column existed (one-objective studies only had `value`). SQLite and PostgreSQL read
 * their rows the same way.
 */
export function valuesOfRow(r: { value: number | null; objective_values: string | null }): number[] | null {
  if (r.objective_values !== null) return JSON.parse(r.objective_values) as number[];
  return r.value === null ? null : [r.value];
}

/** A `trials` row as both SQL storages hold it (numbers as numbers, JSON columns as text). */
export interface TrialRow {
  id: number;
  study_id: number;
  number: number;
  state: TrialState;
  params: string;
  distributions: string;
  value: number | null;
  objective_values: string | null;
  constraint_values: string | null;
  user_attrs: string;
  system_attrs: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  lease_token: string | null;
  lease_expires: number | null;
}

/** A stored trial from its row and its intermediate values (SQLite and PostgreSQL alike). */
export function storedTrialOfRow(r: TrialRow, intermediate: { step: number; value: number }[]): StoredTrial {
  return {
    id: r.id,
    studyId: r.study_id,
    number: r.number,
    state: r.state,
    params: JSON.parse(r.params) as Params,
    distributions: JSON.parse(r.distributions) as Record<string, Distribution>,
    value: r.value,
    values: valuesOfRow(r),
    constraints: r.constraint_values === null ? null : (JSON.parse(r.constraint_values) as number[]),
    intermediate,
    userAttrs: JSON.parse(r.user_attrs) as Record<string, unknown>,
    systemAttrs: JSON.parse(r.system_attrs) as Record<string, unknown>,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    lease: r.lease_token === null ? null : { token: r.lease_token, expiresAt: r.lease_expires ?? 0 },
  };
}

/**
 * False when `err`, thrown by `Storage.commit`, is known to have left nothing written: the fence
 * refused the batch, or its transaction failed before its COMMIT was sent (the session ended between
 * two statements: a process stalled past `idle_in_transaction_session_timeout`). True otherwise,
 * where the outcome is unknown.
 */
export function committed(err: unknown): boolean {
  return !(typeof err === "object" && err !== null && (err as { notCommitted?: unknown }).notCommitted === true);
}

/**
 * True when `err`, thrown by `Storage.commit`, says the storage had no room for the batch (a full
 * disk: SQLite's SQLITE_FULL, PostgreSQL's 53100) and left nothing written: the batch may be
 * committed again once space is freed (commit-pipeline.ts holds it so).
 */
export function storageFull(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { storageFull?: unknown }).storageFull === true && !committed(err);
}
