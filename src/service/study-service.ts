/**
 * StudyService: every operation on studies and trials, once. Transports (ZeroMQ, MCP,
 * CLI) translate to and from these calls; nothing else mutates state.
 *
 * Concurrency model
 * - The service holds the authoritative in-memory copy of every study; storage gets
 *   atomic change sets and a reply is produced only after its commit resolved.
 * - Group commit: a mutation applies its change in memory under the study's write lock and
 *   appends its change set to the open batch; every batch is committed in one storage
 *   transaction on the next turn of the event loop, in order. A mutating call resolves only
 *   after its batch committed, and a read resolves only after every change it may show
 *   committed, so nothing uncommitted is ever revealed. A failed batch leaves memory ahead
 *   of storage: the service then stops (fail-stop, `onFatal`) and a restart reloads the
 *   committed state; no request of that batch was acknowledged.
 * - Per study, a *write lock* serialises read-modify-commit-apply sequences (short), and
 *   an *ask lock* serialises asks among themselves (long when a model is fitted), so a
 *   slow GP ask never delays tells, reports or heartbeats.
 * - Request ids make mutations idempotent: the first reply of a mutating call is stored in
 *   the same transaction as its effect, and a retry with the same id gets that reply back
 *   and changes nothing (also after a restart). A retry that arrives while the first is
 *   still in flight waits for it.
 *
 * Leases
 * - `ask` hands out a lease token. Heartbeats and reports extend it in memory only: after a
 *   restart every RUNNING trial gets a fresh grace period of one TTL, so lease expiries need
 *   not be written on each heartbeat.
 * - The reaper fails trials whose lease expired (a pruned-but-not-told trial becomes PRUNED)
 *   and re-queues their params as a WAITING trial under the study's retry policy.
 */
import { randomBytes, randomInt } from "node:crypto";
import { pack, unpack } from "msgpackr";
import type { Logger } from "pino";
import { z } from "zod";
import { CONTINUE, type Decision } from "../domain/decision.js";
import {
  type Distribution,
  type ParamValue,
  type Params,
  type SearchSpace,
  contains,
  distributionsEqual,
  parseDistribution,
  parseSearchSpace,
} from "../domain/distributions.js";
import { TuneportError, failedPrecondition, invalidArgument, notFound } from "../domain/errors.js";
import {
  type Direction,
  type PluginConfig,
  type RetryPolicy,
  type Study,
  type StudyConfig,
  TRIAL_STATES,
  type TrialState,
  bestTrial,
  isFinished,
} from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import type { Scheduler } from "../schedulers/scheduler.js";
import { DEFAULT_STRATEGY } from "../strategies/index.js";
import { readTrajectory } from "../strategies/hypergradient/hypergradient-strategy.js";
import { sampleUniform } from "../strategies/sampling.js";
import type { Strategy, StrategyFactory, StudyContext, Suggestion, SuggestRequest } from "../strategies/strategy.js";
import type { Change, Lease, Storage, StoredTrial } from "../storage/storage.js";
import { bestReport, bestReported, scheduleOf } from "../strategies/pbt/lineage.js";
import { Mutex } from "./mutex.js";
import {
  type PluginRef,
  checkCompatible,
  createScheduler,
  createStrategy,
  resolveSchedulerConfig,
  resolveStrategyConfig,
} from "./plugins.js";
import { parseStudyLines, studyHeaderLine, trialLine } from "./study-io.js";
import { type AskResult, type LineageView, type StudyView, type TrajectoryView, type TrialView, studyView, trialView } from "./views.js";

/** The request a commit answers, so its reply is stored in the same transaction. */
interface ReplyCtx {
  readonly requestId: string;
  readonly op: string;
}

/** Runs a strategy's `suggest`, in process or in a worker thread. */
export interface SuggestRunner {
  suggest(factory: StrategyFactory<unknown>, strategy: Strategy, req: SuggestRequest): Promise<Suggestion>;
  close(): Promise<void>;
}

/** Runs every suggestion on the calling thread. */
export const inProcessRunner: SuggestRunner = {
  suggest: async (_f, strategy, req) => strategy.suggest(req),
  close: async () => undefined,
};

export interface StudyServiceOptions {
  readonly storage: Storage;
  readonly logger: Logger;
  /** Epoch milliseconds; injectable for tests. */
  readonly clock?: () => number;
  readonly runner?: SuggestRunner;
  /** How often the reaper looks for expired leases. 0 disables the timer (tests call `reap`). */
  readonly reapIntervalMs?: number;
  readonly defaultLeaseTtlS?: number;
  /** Replies kept for de-duplication this long (ms). */
  readonly replyRetentionMs?: number;
  /** Readers (CLI over a live database): no reaper, no clean-up writes. */
  readonly readOnly?: boolean;
  /**
   * Called once when a storage commit fails: memory is then ahead of storage and the process
   * should exit (a restart reloads the committed state). The service refuses every further
   * call with UNAVAILABLE either way.
   */
  readonly onFatal?: (err: unknown) => void;
}

/** Change sets waiting for the next group commit. */
interface Batch {
  readonly changes: Change[];
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

/** The mutable in-memory trial the service owns; handed out read-only. */
interface TrialRecord {
  id: number;
  studyId: number;
  number: number;
  state: TrialState;
  params: Params;
  distributions: Record<string, Distribution>;
  value: number | null;
  intermediate: { step: number; value: number }[];
  userAttrs: Record<string, unknown>;
  systemAttrs: Record<string, unknown>;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  lease: Lease | null;
}

interface StudyState {
  study: Study;
  trials: TrialRecord[];
  /** Numbers of WAITING trials, oldest first. */
  waiting: number[];
  running: Set<number>;
  /** Every distribution a parameter name was used with (the declared space included). */
  paramDists: Map<string, Distribution>;
  ctx: StudyContext;
  strategy: Strategy;
  factory: StrategyFactory<unknown>;
  scheduler: Scheduler | null;
  askLock: Mutex;
  writeLock: Mutex;
  deleted: boolean;
  /** Bumped on every change; `waitForProgress` listeners. */
  version: number;
}

export const createStudyArgsSchema = z
  .object({
    name: z.string().min(1).max(200).regex(/^[^\u0000-\u001f]+$/, "must not contain control characters"),
    direction: z.enum(["minimize", "maximize"]).optional(),
    space: z.record(z.string(), z.unknown()).optional(),
    strategy: z.unknown().optional(),
    scheduler: z.unknown().optional(),
    seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
    load_if_exists: z.boolean().optional(),
    user_attrs: z.record(z.string(), z.unknown()).optional(),
    retry: z
      .object({
        max_retries: z.number().int().min(0).max(100).optional(),
        retry_on_fail: z.boolean().optional(),
        keep_intermediate: z.boolean().optional(),
      })
      .strict()
      .optional(),
    lease_ttl_s: z.number().min(1).max(7 * 24 * 3600).optional(),
  })
  .strict();
export type CreateStudyArgs = z.infer<typeof createStudyArgsSchema>;

export type TellState = "COMPLETE" | "FAIL" | "PRUNED";

export interface TrialsQuery {
  states?: TrialState[];
  /** "number" (default) or "value" (best first for the study's direction). */
  order_by?: "number" | "value";
  descending?: boolean;
  offset?: number;
  limit?: number;
}

/** A change to one study, as `onChange` listeners see it (after the change was committed). */
export interface StudyChange {
  readonly study: string;
  readonly kind: "created" | "updated" | "deleted";
  /** The study's version after the change (see `versionOf`). */
  readonly version: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 2, retryOnFail: false, keepIntermediate: false };
export const MAX_USER_ATTRS_BYTES = 64 * 1024;

export class StudyService {
  private readonly storage: Storage;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly runner: SuggestRunner;
  private readonly defaultLeaseTtlS: number;
  private readonly replyRetentionMs: number;
  private readonly studies = new Map<string, StudyState>();
  private readonly inflight = new Map<string, Promise<unknown>>();
  /**
   * Storage-wide trial ids. Taken (incremented) when a trial record is built, not when its
   * commit is applied: commits of different studies interleave at their awaits, so an id read
   * and bumped later could be handed to two trials. A failed commit just leaves a gap.
   */
  private nextTrialId = 1;
  private reapTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly progressWaiters = new Set<() => void>();
  private readonly changeListeners = new Set<(change: StudyChange) => void>();
  private closed = false;
  /** The batch that new change sets join; null when none is open. */
  private openBatch: Batch | null = null;
  /** Resolves when every change set handed to storage so far is committed. */
  private durable: Promise<void> = Promise.resolve();
  private fatal: unknown = null;
  private readonly onFatal: (err: unknown) => void;

  private constructor(opts: StudyServiceOptions) {
    this.storage = opts.storage;
    this.log = opts.logger.child({ component: "service" });
    this.now = opts.clock ?? Date.now;
    this.runner = opts.runner ?? inProcessRunner;
    this.defaultLeaseTtlS = opts.defaultLeaseTtlS ?? 30;
    this.replyRetentionMs = opts.replyRetentionMs ?? 24 * 3600 * 1000;
    this.onFatal = opts.onFatal ?? (() => undefined);
  }

  /** Loads every study from storage and starts the reaper. */
  static async open(opts: StudyServiceOptions): Promise<StudyService> {
    const svc = new StudyService(opts);
    await svc.load(opts.readOnly ?? false);
    const every = opts.readOnly ? 0 : (opts.reapIntervalMs ?? 1000);
    if (every > 0) {
      svc.reapTimer = setInterval(() => {
        svc.reap().catch((err: unknown) => svc.log.error({ err }, "reaper failed"));
      }, every);
      svc.reapTimer.unref();
      svc.pruneTimer = setInterval(() => {
        svc.storage.pruneReplies(svc.now() - svc.replyRetentionMs).catch((err: unknown) => svc.log.error({ err }, "reply pruning failed"));
      }, 3600_000);
      svc.pruneTimer.unref();
    }
    return svc;
  }

  private async load(readOnly: boolean): Promise<void> {
    this.nextTrialId = (await this.storage.maxTrialId()) + 1;
    const now = this.now();
    let regranted = 0;
    for (const study of await this.storage.listStudies()) {
      const trials = (await this.storage.loadTrials(study.id)) as TrialRecord[];
      const state = this.makeState(study, trials);
      for (const n of state.running) {
        const t = trials[n] as TrialRecord;
        // Grace after a restart: workers get one TTL to reconnect and heartbeat.
        if (t.lease) t.lease = { token: t.lease.token, expiresAt: Math.max(t.lease.expiresAt, now + study.config.leaseTtlS * 1000) };
        regranted++;
      }
      this.studies.set(study.name, state);
    }
    if (!readOnly) await this.storage.pruneReplies(now - this.replyRetentionMs);
    this.log.info({ studies: this.studies.size, running: regranted }, "storage loaded");
  }

  private makeState(study: Study, trials: TrialRecord[]): StudyState {
    const { strategy, factory } = createStrategy(study.config.strategy);
    const paramDists = new Map<string, Distribution>(Object.entries(study.config.space));
    const waiting: number[] = [];
    const running = new Set<number>();
    for (const t of trials) {
      for (const [k, d] of Object.entries(t.distributions)) if (!paramDists.has(k)) paramDists.set(k, d);
      if (t.state === "WAITING") waiting.push(t.number);
      if (t.state === "RUNNING") running.add(t.number);
    }
    return {
      study,
      trials,
      waiting,
      running,
      paramDists,
      ctx: {
        name: study.name,
        direction: study.config.direction,
        space: study.config.space,
        seed: study.config.seed,
        strategy: study.config.strategy,
        scheduler: study.config.scheduler,
      },
      strategy,
      factory,
      scheduler: createScheduler(study.config.scheduler),
      askLock: new Mutex(),
      writeLock: new Mutex(),
      deleted: false,
      version: 0,
    };
  }

  /** Stops the reaper and waits for in-flight operations; storage is left for the caller to close. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reapTimer) clearInterval(this.reapTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await Promise.allSettled([...this.inflight.values()]);
    for (const s of this.studies.values()) await s.writeLock.run(() => undefined);
    await this.durable.catch(() => undefined);
    await this.runner.close();
  }

  // ---------------------------------------------------------------- idempotency

  /**
   * Runs a mutating operation at most once per request id. `body` returns the result and the
   * changes to commit; its `apply` runs only after the commit succeeded.
   */
  private async once<T>(requestId: string | undefined, op: string, body: (rc: ReplyCtx | null) => Promise<T>): Promise<T> {
    if (this.closed || this.fatal) throw new TuneportError("UNAVAILABLE", "the server is shutting down; retry against the next one");
    if (requestId === undefined) return this.visible(await body(null));
    const pending = this.inflight.get(requestId);
    if (pending) return pending as Promise<T>;
    const p = (async () => {
      const stored = await this.storage.getReply(requestId);
      if (stored) {
        const r = unpack(stored) as { op: string; result: T };
        if (r.op !== op)
          throw invalidArgument(`request id ${requestId} was already used for a '${r.op}' request`);
        return r.result;
      }
      // Resolve (and leave `inflight`) only once the batch holding the effect and its reply committed.
      return this.visible(await body({ requestId, op }));
    })();
    this.inflight.set(requestId, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(requestId);
    }
  }

  /**
   * Applies the in-memory effects and queues the changes plus, when the call carries a request
   * id, its reply for the next group commit. Must run under the study's write lock; the caller's
   * reply waits for durability in `once`/`visible`.
   */
  private async commit<T>(changes: Change[], result: T, apply: () => void, rc: ReplyCtx | null = null): Promise<T> {
    if (this.fatal) throw new TuneportError("UNAVAILABLE", "the server is stopping after a storage failure; retry against the next one");
    const all = rc
      ? [...changes, { kind: "put-reply" as const, requestId: rc.requestId, op: rc.op, reply: pack({ op: rc.op, result }), at: this.now() }]
      : changes;
    apply();
    if (all.length > 0) this.queueChanges(all);
    return result;
  }

  private queueChanges(changes: Change[]): void {
    let b = this.openBatch;
    if (!b) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      done.catch(() => undefined); // observed by waiters; never an unhandled rejection
      const batch: Batch = { changes: [], done, resolve, reject };
      b = this.openBatch = batch;
      // Commit on the next turn of the event loop: requests that arrive meanwhile join the batch.
      const prev = this.durable;
      this.durable = prev.then(
        () => new Promise<void>((r) => setImmediate(r)).then(() => this.flush(batch)),
        () => this.flush(batch),
      );
      this.durable.catch(() => undefined);
    }
    for (const c of changes) b.changes.push(c);
  }

  private async flush(b: Batch): Promise<void> {
    if (this.openBatch === b) this.openBatch = null;
    try {
      if (this.fatal) throw this.fatal;
      await this.storage.commit(b.changes);
      b.resolve();
    } catch (err) {
      if (!this.fatal) {
        this.fatal = err;
        this.log.fatal({ err, changes: b.changes.length }, "storage commit failed; memory is ahead of storage, stopping");
        this.onFatal(err);
      }
      b.reject(err);
      throw err;
    }
  }

  /**
   * Resolves with `value` once every change applied in memory so far is committed, so a reply
   * never shows (or acknowledges) an uncommitted state. @throws UNAVAILABLE after a failed commit.
   */
  private async visible<T>(value: T): Promise<T> {
    const b = this.openBatch;
    await (b ? b.done : this.durable).catch(() => undefined);
    if (this.fatal) throw new TuneportError("UNAVAILABLE", "the server is stopping after a storage failure; retry against the next one");
    return value;
  }

  // ---------------------------------------------------------------- studies

  private getState(name: string): StudyState {
    const s = this.studies.get(name);
    if (!s || s.deleted) throw notFound(`no study named '${name}'`, { study: name });
    return s;
  }

  /**
   * Creates a study, or loads it with `load_if_exists` (then any explicitly given direction
   * or space must match what is stored). @throws ALREADY_EXISTS, INVALID_ARGUMENT.
   */
  async createStudy(raw: unknown, requestId?: string): Promise<{ study: StudyView; created: boolean }> {
    const parsed = createStudyArgsSchema.safeParse(raw);
    if (!parsed.success) throw invalidArgument(`create_study: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
    const a = parsed.data;
    const space: SearchSpace = parseSearchSpace(a.space ?? {});
    const scheduler = a.scheduler === undefined || a.scheduler === null ? null : resolveSchedulerConfig(a.scheduler as PluginRef);
    const strategy = resolveStrategyConfig((a.strategy ?? defaultStrategyFor(scheduler)) as PluginRef);
    checkCompatible(strategy, scheduler);
    return this.once(requestId, "create_study", async (rc) => {
      const existing = this.studies.get(a.name);
      if (existing && !existing.deleted) {
        if (!a.load_if_exists)
          throw new TuneportError("ALREADY_EXISTS", `a study named '${a.name}' already exists (pass load_if_exists to reuse it)`, {
            study: a.name,
          });
        const c = existing.study.config;
        if (a.direction !== undefined && a.direction !== c.direction)
          throw invalidArgument(`study '${a.name}' exists with direction ${c.direction}, not ${a.direction}`);
        if (a.space !== undefined) {
          for (const [k, d] of Object.entries(space)) {
            const have = c.space[k];
            if (have && !distributionsEqual(have, d))
              throw invalidArgument(`study '${a.name}' exists and declares '${k}' as ${JSON.stringify(have)}, not ${JSON.stringify(d)}`);
          }
        }
        return this.commit([], { study: this.viewOf(existing), created: false }, () => undefined, rc);
      }
      const config: StudyConfig = {
        direction: (a.direction ?? "minimize") as Direction,
        space,
        strategy,
        scheduler,
        seed: a.seed ?? randomInt(0, 2 ** 32 - 1),
        retry: {
          maxRetries: a.retry?.max_retries ?? DEFAULT_RETRY.maxRetries,
          retryOnFail: a.retry?.retry_on_fail ?? DEFAULT_RETRY.retryOnFail,
          keepIntermediate: a.retry?.keep_intermediate ?? DEFAULT_RETRY.keepIntermediate,
        },
        leaseTtlS: a.lease_ttl_s ?? this.defaultLeaseTtlS,
      };
      checkAttrsSize(a.user_attrs ?? {});
      const study = await this.storage.createStudy({ name: a.name, config, userAttrs: a.user_attrs ?? {}, createdAt: this.now() });
      const state = this.makeState(study, []);
      this.studies.set(a.name, state);
      this.log.info({ study: a.name, strategy: strategy.name, scheduler: scheduler?.name ?? null }, "study created");
      this.bump(state, "created");
      return this.commit([], { study: this.viewOf(state), created: true }, () => undefined, rc);
    });
  }

  async getStudy(name: string): Promise<StudyView> {
    return this.visible(this.viewOf(this.getState(name)));
  }

  async listStudies(): Promise<StudyView[]> {
    return this.visible([...this.studies.values()].filter((s) => !s.deleted).map((s) => this.viewOf(s)));
  }

  async deleteStudy(name: string, requestId?: string): Promise<{ deleted: boolean }> {
    return this.once(requestId, "delete_study", async (rc) => {
      const s = this.studies.get(name);
      if (!s || s.deleted) throw notFound(`no study named '${name}'`, { study: name });
      return s.writeLock.run(async () => {
        await this.visible(null); // the study's queued changes first (foreign keys)
        await this.storage.deleteStudy(s.study.id);
        s.deleted = true;
        this.studies.delete(name);
        this.bump(s, "deleted");
        this.log.info({ study: name }, "study deleted");
        return this.commit([], { deleted: true }, () => undefined, rc);
      });
    });
  }

  async setStudyUserAttrs(name: string, attrs: Record<string, unknown>, requestId?: string): Promise<StudyView> {
    const s = this.getState(name);
    return this.once(requestId, "set_user_attrs", (rc) =>
      s.writeLock.run(async () => {
        const merged = { ...s.study.userAttrs, ...attrs };
        checkAttrsSize(merged);
        const next = { ...s.study, userAttrs: merged };
        const view = studyView(next, this.counts(s), bestTrial(next.config.direction, s.trials));
        return this.commit([{ kind: "set-study-user-attrs", studyId: s.study.id, userAttrs: merged }], view, () => {
          s.study = next;
          this.bump(s);
        }, rc);
      }),
    );
  }

  /**
   * The study as JSON Lines (see study-io.ts): a header line, then one line per trial in number
   * order, each without its newline. A snapshot of the trials when the iteration starts.
   * @throws NOT_FOUND.
   */
  *exportStudy(name: string): Generator<string> {
    const s = this.getState(name);
    const trials = s.trials.slice();
    yield studyHeaderLine(s.study);
    for (const t of trials) yield trialLine(t);
  }

  /**
   * Recreates a study from `exportStudy` lines, under `rename` when given: trial numbers,
   * states, values, intermediates, attributes, timestamps and leases exactly as written, in one
   * transaction. RUNNING trials keep their lease token with one TTL of grace, as after a restart.
   * @throws ALREADY_EXISTS when the name is taken; INVALID_ARGUMENT naming the bad line.
   */
  async importStudy(text: string, rename?: string): Promise<StudyView> {
    if (this.closed) throw new TuneportError("UNAVAILABLE", "the server is shutting down");
    const imp = parseStudyLines(text, rename);
    if (rename !== undefined && !createStudyArgsSchema.shape.name.safeParse(rename).success)
      throw invalidArgument(`study name ${JSON.stringify(rename)} is not valid`);
    const existing = this.studies.get(imp.name);
    if (existing && !existing.deleted)
      throw new TuneportError("ALREADY_EXISTS", `a study named '${imp.name}' already exists; import it under another --name`, { study: imp.name });
    const firstId = this.nextTrialId;
    this.nextTrialId += imp.trials.length; // reserved before the await (see nextTrialId)
    // RUNNING trials get one TTL for their worker to (re)connect, as after a restart.
    const graceUntil = this.now() + imp.config.leaseTtlS * 1000;
    const trials: TrialRecord[] = imp.trials.map((t, i) => ({
      ...t,
      id: firstId + i,
      params: { ...t.params },
      intermediate: [...t.intermediate],
      lease: t.lease ? { token: t.lease.token, expiresAt: graceUntil } : null,
    }));
    await this.visible(null);
    const study = await this.storage.importStudy(
      { name: imp.name, config: imp.config, userAttrs: imp.userAttrs, createdAt: imp.createdAt },
      trials,
    );
    for (const t of trials) t.studyId = study.id;
    const state = this.makeState(study, trials);
    this.studies.set(imp.name, state);
    this.bump(state);
    this.log.info({ study: imp.name, trials: trials.length }, "study imported");
    return this.viewOf(state);
  }

  private counts(s: StudyState): Record<TrialState, number> {
    const counts = Object.fromEntries(TRIAL_STATES.map((st) => [st, 0])) as Record<TrialState, number>;
    for (const t of s.trials) counts[t.state]++;
    return counts;
  }

  private viewOf(s: StudyState): StudyView {
    return studyView(s.study, this.counts(s), bestTrial(s.study.config.direction, s.trials));
  }

  // ---------------------------------------------------------------- trials

  private newLease(s: StudyState): Lease {
    return { token: randomBytes(12).toString("base64url"), expiresAt: this.now() + s.study.config.leaseTtlS * 1000 };
  }

  private leaseView(s: StudyState, lease: Lease) {
    return { token: lease.token, expires_at: lease.expiresAt / 1000, ttl_s: s.study.config.leaseTtlS };
  }

  /** Fills declared parameters the trial lacks, through the strategy's define-by-run hook. */
  private fillDeclared(s: StudyState, t: TrialRecord): void {
    for (const [name, d] of Object.entries(s.study.config.space)) {
      if (name in t.params && contains(d, t.params[name] as ParamValue)) {
        t.distributions[name] = d;
        continue;
      }
      t.params[name] = this.drawParam(s, t, name, d);
      t.distributions[name] = d;
    }
  }

  private drawParam(s: StudyState, t: TrialRecord, name: string, d: Distribution): ParamValue {
    const rng = Rng.derive(s.study.config.seed, t.number, "param", name);
    const v = s.strategy.suggestParam
      ? s.strategy.suggestParam({ study: s.ctx, trials: s.trials, trial: t, name, distribution: d, rng })
      : sampleUniform(d, rng);
    if (!contains(d, v)) {
      this.log.error({ study: s.study.name, param: name, strategy: s.ctx.strategy.name }, "strategy produced an invalid value; sampling uniformly");
      return sampleUniform(d, rng);
    }
    return v;
  }

  /**
   * Starts a trial: the oldest WAITING (enqueued or re-queued) one if any, else a new one
   * from the scheduler and the strategy. @throws SEARCH_SPACE_EXHAUSTED, NOT_FOUND.
   */
  async ask(studyName: string, requestId?: string): Promise<AskResult> {
    const s = this.getState(studyName);
    return this.once(requestId, "ask", (rc) => s.askLock.run(() => this.askLocked(s, rc)));
  }

  private async askLocked(s: StudyState, rc: ReplyCtx | null): Promise<AskResult> {
    // 1. Enqueued or re-queued trials first.
    const fromQueue = await s.writeLock.run(async () => {
      const n = s.waiting[0];
      if (n === undefined) return null;
      const prev = s.trials[n] as TrialRecord;
      const t: TrialRecord = { ...prev, params: { ...prev.params }, distributions: { ...prev.distributions }, systemAttrs: { ...prev.systemAttrs } };
      t.state = "RUNNING";
      t.startedAt = this.now();
      t.lease = this.newLease(s);
      this.fillDeclared(s, t);
      const result = this.askResult(s, t);
      return this.commit([{ kind: "update-trial", trial: t }], result, () => {
        s.trials[n] = t;
        s.waiting.shift();
        s.running.add(n);
        this.bump(s);
      }, rc);
    });
    if (fromQueue) return fromQueue;

    // 2. A new trial from the scheduler and the strategy, computed outside the write lock.
    const trialNumber = s.trials.length;
    const req: SuggestRequest = {
      study: s.ctx,
      trials: s.trials,
      trialNumber,
      rng: Rng.derive(s.study.config.seed, trialNumber, "suggest"),
    };
    const fromScheduler = s.scheduler?.beforeSuggest?.(req) ?? null;
    let params: Params = { ...(fromScheduler?.params ?? {}) };
    let systemAttrs: Record<string, unknown> = { ...(fromScheduler?.systemAttrs ?? {}) };
    const needsStrategy = Object.keys(s.study.config.space).some((k) => !(k in params));
    if (needsStrategy) {
      let suggestion: Suggestion;
      try {
        suggestion = await this.runner.suggest(s.factory, s.strategy, req);
      } catch (err) {
        if (err instanceof TuneportError) throw err;
        this.log.error({ err, study: s.study.name, strategy: s.ctx.strategy.name }, "strategy failed; falling back to random");
        suggestion = { params: {} };
      }
      params = { ...suggestion.params, ...params };
      systemAttrs = { ...(suggestion.systemAttrs ?? {}), ...systemAttrs };
    }

    return s.writeLock.run(async () => {
      const number = s.trials.length;
      if (needsStrategy && s.strategy.revise) {
        const fresh: SuggestRequest = { study: s.ctx, trials: s.trials, trialNumber: number, rng: Rng.derive(s.study.config.seed, number, "revise") };
        const revised = s.strategy.revise(fresh, { params, systemAttrs });
        params = { ...revised.params, ...(fromScheduler?.params ?? {}) };
        systemAttrs = { ...(revised.systemAttrs ?? {}), ...(fromScheduler?.systemAttrs ?? {}) };
      }
      const now = this.now();
      const t: TrialRecord = {
        id: this.nextTrialId++,
        studyId: s.study.id,
        number,
        state: "RUNNING",
        params: {},
        distributions: {},
        value: null,
        intermediate: [],
        userAttrs: {},
        systemAttrs,
        createdAt: now,
        startedAt: now,
        finishedAt: null,
        lease: this.newLease(s),
      };
      for (const [k, v] of Object.entries(params)) if (k in s.study.config.space) t.params[k] = v;
      this.fillDeclared(s, t);
      const result = this.askResult(s, t);
      return this.commit([{ kind: "insert-trial", trial: t }], result, () => {
        s.trials.push(t);
        s.running.add(number);
        this.bump(s);
      }, rc);
    });
  }

  private askResult(s: StudyState, t: TrialRecord): AskResult {
    const budget = t.systemAttrs.budget;
    return {
      study: s.study.name,
      trial: trialView(t, this.now()),
      lease: this.leaseView(s, t.lease as Lease),
      budget: typeof budget === "number" ? budget : null,
    };
  }

  private trialOf(s: StudyState, number: unknown): TrialRecord {
    if (typeof number !== "number" || !Number.isInteger(number) || number < 0)
      throw invalidArgument(`trial must be a non-negative integer trial number`);
    const t = s.trials[number];
    if (!t) throw notFound(`study '${s.study.name}' has no trial ${number}`, { study: s.study.name, trial: number });
    return t;
  }

  /** Checks that the caller holds the trial's live lease. @throws LEASE_LOST, FAILED_PRECONDITION. */
  private checkLease(s: StudyState, t: TrialRecord, token: unknown): void {
    if (t.state === "RUNNING") {
      if (t.lease && typeof token === "string" && token === t.lease.token) return;
      throw new TuneportError("LEASE_LOST", `trial ${t.number} of '${s.study.name}' is leased to another worker (stale or missing token)`, {
        study: s.study.name,
        trial: t.number,
      });
    }
    if (t.state === "FAIL" && t.systemAttrs.fail_reason === "lease_expired")
      throw new TuneportError("LEASE_LOST", `trial ${t.number} of '${s.study.name}' was failed because its lease expired`, {
        study: s.study.name,
        trial: t.number,
        retried_as: t.systemAttrs.retried_as ?? null,
      });
    throw failedPrecondition(`trial ${t.number} of '${s.study.name}' is ${t.state}, not RUNNING`, {
      study: s.study.name,
      trial: t.number,
      state: t.state,
    });
  }

  /**
   * Define-by-run: the value of one parameter of a running trial. Returns the existing value
   * when the trial already has it. @throws INVALID_ARGUMENT when the name was used with
   * another distribution in this study.
   */
  async suggest(studyName: string, trialNumber: number, token: string, name: string, rawDist: unknown, requestId?: string): Promise<{ value: ParamValue }> {
    const s = this.getState(studyName);
    if (typeof name !== "string" || name.length === 0 || name.length > 256) throw invalidArgument("name must be a non-empty string");
    const dist = parseDistribution(name, rawDist);
    return this.once(requestId, "suggest", (rc) =>
      s.writeLock.run(async () => {
        const t = this.trialOf(s, trialNumber);
        this.checkLease(s, t, token);
        const known = s.paramDists.get(name);
        if (known && !distributionsEqual(known, dist))
          throw invalidArgument(
            `parameter '${name}' was already used in study '${s.study.name}' with ${JSON.stringify(known)}; it cannot change to ${JSON.stringify(dist)}`,
            { param: name, existing: known as unknown as Record<string, unknown> },
          );
        if (name in t.distributions) return { value: t.params[name] as ParamValue };
        const fixed = t.params[name];
        const value = fixed !== undefined && contains(dist, fixed) ? fixed : this.drawParam(s, t, name, dist);
        const next: TrialRecord = { ...t, params: { ...t.params, [name]: value }, distributions: { ...t.distributions, [name]: dist } };
        return this.commit([{ kind: "update-trial", trial: next }], { value }, () => {
          s.trials[t.number] = next;
          if (!known) s.paramDists.set(name, dist);
          this.bump(s);
        }, rc);
      }),
    );
  }

  /**
   * Records an intermediate value and returns the scheduler's (and strategy's) decision.
   * Steps must increase; repeating the last step with the same value returns a fresh decision
   * without storing anything; NaN is stored and treated as the worst value by schedulers.
   */
  async report(
    studyName: string,
    trialNumber: number,
    token: string,
    step: number,
    value: number,
    data: Record<string, unknown> = {},
    requestId?: string,
  ): Promise<{ decision: Decision }> {
    const s = this.getState(studyName);
    if (typeof step !== "number" || !Number.isFinite(step) || step < 0) throw invalidArgument("step must be a finite number >= 0");
    if (typeof value !== "number") throw invalidArgument("value must be a number (NaN allowed for a diverged run)");
    return this.once(requestId, "report", (rc) =>
      s.writeLock.run(async () => {
        const t = this.trialOf(s, trialNumber);
        this.checkLease(s, t, token);
        const last = t.intermediate[t.intermediate.length - 1];
        let repeat = false;
        if (last && step <= last.step) {
          const same = last.step === step && (Object.is(last.value, value) || last.value === value);
          if (!same)
            throw invalidArgument(
              `trial ${t.number} already reported step ${last.step}; steps must increase (got ${step}${last.step === step ? " with a different value" : ""})`,
              { last_step: last.step },
            );
          repeat = true;
        }
        const next: TrialRecord = {
          ...t,
          intermediate: repeat ? t.intermediate : [...t.intermediate, { step, value }],
          lease: { token: (t.lease as Lease).token, expiresAt: this.now() + s.study.config.leaseTtlS * 1000 },
        };
        const rng = Rng.derive(s.study.config.seed, t.number, "report", step);
        // The trial list with this report applied is O(n) to build: only for plug-ins that read it.
        let withReport: TrialRecord[] | null = null;
        const rreq = {
          study: s.ctx,
          get trials(): TrialRecord[] {
            return (withReport ??= s.trials.map((x) => (x.number === t.number ? next : x)));
          },
          trial: next,
          step,
          value,
          data,
          rng,
        };
        let decision: Decision = CONTINUE;
        let attrs: Record<string, unknown> = {};
        const fromScheduler = s.scheduler?.onReport(rreq) ?? null;
        if (fromScheduler) {
          decision = fromScheduler.decision;
          attrs = { ...attrs, ...(fromScheduler.systemAttrs ?? {}) };
        }
        if (decision.action !== "prune" && s.strategy.onReport) {
          const fromStrategy = s.strategy.onReport(rreq);
          if (fromStrategy) {
            decision = mergeDecisions(decision, fromStrategy.decision);
            attrs = { ...attrs, ...(fromStrategy.systemAttrs ?? {}) };
          }
        }
        if (decision.action === "update") {
          const params = { ...next.params };
          for (const [k, v] of Object.entries(decision.params)) {
            const d = next.distributions[k] ?? s.paramDists.get(k);
            if (!d || !contains(d, v)) {
              this.log.error({ study: s.study.name, param: k }, "plug-in proposed an invalid update; ignored");
              continue;
            }
            params[k] = v;
          }
          next.params = params;
        }
        if (decision.action === "prune") attrs = { ...attrs, pruned_at_step: step };
        if (Object.keys(attrs).length > 0) next.systemAttrs = { ...next.systemAttrs, ...attrs };
        const changes: Change[] = [];
        if (!repeat) changes.push({ kind: "add-intermediate", trialId: t.id, step, value });
        if (Object.keys(attrs).length > 0 || decision.action === "update") changes.push({ kind: "update-trial", trial: next });
        return this.commit(changes, { decision }, () => {
          s.trials[t.number] = next;
          this.bump(s);
        }, rc);
      }),
    );
  }

  /**
   * Finishes a trial. COMPLETE needs a finite value (NaN/infinite marks a diverged run where the
   * strategy has `completesDiverged`: value null, `system_attrs.diverged`); PRUNED takes an
   * optional value (default: the last finite intermediate); FAIL takes an optional reason. The
   * strategy's `onFinish` attributes are stored in the same commit. @throws LEASE_LOST,
   * FAILED_PRECONDITION, INVALID_ARGUMENT.
   */
  async tell(
    studyName: string,
    trialNumber: number,
    token: string,
    state: TellState,
    value: number | null | undefined,
    opts: { reason?: string; userAttrs?: Record<string, unknown> } = {},
    requestId?: string,
  ): Promise<{ trial: TrialView }> {
    const s = this.getState(studyName);
    if (state !== "COMPLETE" && state !== "FAIL" && state !== "PRUNED")
      throw invalidArgument(`state must be COMPLETE, FAIL or PRUNED (got ${JSON.stringify(state)})`);
    const diverged = state === "COMPLETE" && typeof value === "number" && !Number.isFinite(value) && s.strategy.completesDiverged === true;
    if (state === "COMPLETE" && !diverged && (typeof value !== "number" || !Number.isFinite(value)))
      throw invalidArgument(`a COMPLETE trial needs a finite value (got ${String(value)}); tell a diverged run as FAIL`);
    if (state === "PRUNED" && value !== undefined && value !== null && (typeof value !== "number" || !Number.isFinite(value)))
      throw invalidArgument(`a PRUNED trial's value must be finite when given (got ${String(value)})`);
    if (opts.userAttrs) checkAttrsSize(opts.userAttrs);
    return this.once(requestId, "tell", (rc) =>
      s.writeLock.run(async () => {
        const t = this.trialOf(s, trialNumber);
        this.checkLease(s, t, token);
        const now = this.now();
        let finalValue: number | null = null;
        if (state === "COMPLETE") finalValue = diverged ? null : (value as number);
        if (state === "PRUNED") {
          if (typeof value === "number") finalValue = value;
          else {
            const lastFinite = [...t.intermediate].reverse().find((iv) => Number.isFinite(iv.value));
            finalValue = lastFinite?.value ?? null;
          }
        }
        const next: TrialRecord = {
          ...t,
          state,
          value: finalValue,
          finishedAt: now,
          lease: null,
          userAttrs: opts.userAttrs ? { ...t.userAttrs, ...opts.userAttrs } : t.userAttrs,
          systemAttrs: state === "FAIL" && opts.reason ? { ...t.systemAttrs, fail_reason: String(opts.reason).slice(0, 2000) } : t.systemAttrs,
        };
        if (diverged) next.systemAttrs = { ...next.systemAttrs, diverged: String(value) };
        const finish = s.strategy.onFinish?.({ study: s.ctx, trials: s.trials.map((x) => (x.number === t.number ? next : x)), trial: next });
        if (finish?.systemAttrs) next.systemAttrs = { ...next.systemAttrs, ...finish.systemAttrs };
        const changes: Change[] = [{ kind: "update-trial", trial: next }];
        const retry = state === "FAIL" && s.study.config.retry.retryOnFail ? this.retryOf(s, next) : null;
        if (retry) {
          next.systemAttrs = { ...next.systemAttrs, retried_as: retry.number };
          changes.push({ kind: "insert-trial", trial: retry });
        }
        const result = { trial: trialView(next, now) };
        return this.commit(changes, result, () => {
          s.trials[t.number] = next;
          s.running.delete(t.number);
          if (retry) this.addRetry(s, retry);
          this.bump(s);
        }, rc);
      }),
    );
  }

  /**
   * A WAITING copy of a failed trial's params when the retry policy allows one more attempt.
   * With `keepIntermediate` the copy starts with the failed attempt's intermediate values, so a
   * worker resuming from a checkpoint reports only later steps (steps must still increase).
   */
  private retryOf(s: StudyState, failed: TrialRecord): TrialRecord | null {
    if (s.strategy.refillsLostTrials) return null;
    const count = typeof failed.systemAttrs.retry_count === "number" ? failed.systemAttrs.retry_count : 0;
    if (count >= s.study.config.retry.maxRetries) return null;
    const now = this.now();
    const { retried_as: _r, fail_reason: _f, pruned_at_step: _p, ...inherited } = failed.systemAttrs;
    return {
      id: this.nextTrialId++,
      studyId: s.study.id,
      number: s.trials.length,
      state: "WAITING",
      params: { ...failed.params },
      distributions: { ...failed.distributions },
      value: null,
      intermediate: s.study.config.retry.keepIntermediate ? failed.intermediate.map((iv) => ({ ...iv })) : [],
      userAttrs: { ...failed.userAttrs },
      systemAttrs: { ...inherited, retry_of: failed.number, retry_count: count + 1 },
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      lease: null,
    };
  }

  private addRetry(s: StudyState, retry: TrialRecord): void {
    s.trials.push(retry);
    s.waiting.push(retry.number);
  }

  /**
   * Extends the leases of running trials. Each entry answers `ok` with the new expiry, or the
   * error code (`LEASE_LOST`, `NOT_FOUND`, `FAILED_PRECONDITION`) for that trial alone.
   */
  async heartbeat(leases: { study: string; trial: number; token: string }[]): Promise<
    { study: string; trial: number; ok: boolean; expires_at?: number; code?: string; message?: string }[]
  > {
    const now = this.now();
    return leases.map((l) => {
      try {
        const s = this.getState(l.study);
        const t = this.trialOf(s, l.trial);
        this.checkLease(s, t, l.token);
        const expiresAt = now + s.study.config.leaseTtlS * 1000;
        // Memory only: a restart re-grants every lease a full TTL (see class comment).
        t.lease = { token: (t.lease as Lease).token, expiresAt };
        return { study: l.study, trial: l.trial, ok: true, expires_at: expiresAt / 1000 };
      } catch (err) {
        if (!(err instanceof TuneportError)) throw err;
        return { study: l.study, trial: l.trial, ok: false, code: err.code, message: err.message };
      }
    });
  }

  /** Fails every trial whose lease expired, re-queueing params per the retry policy. Returns how many were reaped. */
  async reap(): Promise<number> {
    const now = this.now();
    let reaped = 0;
    for (const s of [...this.studies.values()]) {
      const expired = [...s.running].filter((n) => {
        const t = s.trials[n];
        return t !== undefined && t.lease !== null && t.lease.expiresAt <= now;
      });
      if (expired.length === 0) continue;
      await s.writeLock.run(async () => {
        for (const n of expired) {
          const t = s.trials[n] as TrialRecord;
          if (t.state !== "RUNNING" || !t.lease || t.lease.expiresAt > this.now()) continue;
          const pruned = typeof t.systemAttrs.pruned_at_step === "number";
          const lastFinite = [...t.intermediate].reverse().find((iv) => Number.isFinite(iv.value));
          const next: TrialRecord = {
            ...t,
            state: pruned ? "PRUNED" : "FAIL",
            value: pruned ? (lastFinite?.value ?? null) : null,
            finishedAt: this.now(),
            lease: null,
            systemAttrs: pruned ? t.systemAttrs : { ...t.systemAttrs, fail_reason: "lease_expired" },
          };
          const retry = pruned ? null : this.retryOf(s, next);
          if (retry) next.systemAttrs = { ...next.systemAttrs, retried_as: retry.number };
          const changes: Change[] = [{ kind: "update-trial", trial: next }];
          if (retry) changes.push({ kind: "insert-trial", trial: retry });
          await this.commit(changes, null, () => {
            s.trials[n] = next;
            s.running.delete(n);
            if (retry) this.addRetry(s, retry);
            this.bump(s);
          });
          reaped++;
          this.log.warn({ study: s.study.name, trial: n, retried_as: retry?.number ?? null }, "lease expired; trial reaped");
        }
      });
    }
    return reaped;
  }

  /**
   * Queues a trial with fixed params, served by `ask` before the strategy's own suggestions.
   * Declared parameters must fit their distributions; others are checked when suggested.
   * With `skip_if_exists`, params equal to an existing trial's return that trial instead.
   */
  async enqueue(
    studyName: string,
    params: Record<string, unknown>,
    opts: { userAttrs?: Record<string, unknown>; skipIfExists?: boolean; rationale?: string } = {},
    requestId?: string,
  ): Promise<{ trial: TrialView; created: boolean }> {
    const s = this.getState(studyName);
    if (typeof params !== "object" || params === null || Array.isArray(params)) throw invalidArgument("params must be a map");
    for (const [k, v] of Object.entries(params)) {
      if (!(v === null || ["string", "number", "boolean"].includes(typeof v)))
        throw invalidArgument(`enqueued param '${k}' must be a scalar`);
      const d = s.paramDists.get(k);
      if (d && !contains(d, v as ParamValue))
        throw invalidArgument(`enqueued value ${JSON.stringify(v)} for '${k}' is outside ${JSON.stringify(d)}`, { param: k });
    }
    if (opts.userAttrs) checkAttrsSize(opts.userAttrs);
    return this.once(requestId, "enqueue", (rc) =>
      s.writeLock.run(async () => {
        if (opts.skipIfExists) {
          const key = canonical(params as Params);
          const same = s.trials.find((t) => canonical(pick(t.params, Object.keys(params))) === key);
          if (same) return { trial: trialView(same, this.now()), created: false };
        }
        const now = this.now();
        const distributions: Record<string, Distribution> = {};
        for (const k of Object.keys(params)) {
          const d = s.paramDists.get(k);
          if (d) distributions[k] = d;
        }
        const t: TrialRecord = {
          id: this.nextTrialId++,
          studyId: s.study.id,
          number: s.trials.length,
          state: "WAITING",
          params: { ...(params as Params) },
          distributions,
          value: null,
          intermediate: [],
          userAttrs: { ...(opts.userAttrs ?? {}) },
          systemAttrs: { enqueued: true, ...(opts.rationale ? { rationale: opts.rationale.slice(0, 4000) } : {}) },
          createdAt: now,
          startedAt: null,
          finishedAt: null,
          lease: null,
        };
        const result = { trial: trialView(t, now), created: true };
        return this.commit([{ kind: "insert-trial", trial: t }], result, () => {
          this.addRetry(s, t);
          this.bump(s);
        }, rc);
      }),
    );
  }

  async setTrialUserAttrs(studyName: string, trialNumber: number, attrs: Record<string, unknown>, requestId?: string): Promise<{ trial: TrialView }> {
    const s = this.getState(studyName);
    return this.once(requestId, "set_user_attrs", (rc) =>
      s.writeLock.run(async () => {
        const t = this.trialOf(s, trialNumber);
        const merged = { ...t.userAttrs, ...attrs };
        checkAttrsSize(merged);
        const next = { ...t, userAttrs: merged };
        const result = { trial: trialView(next, this.now()) };
        return this.commit([{ kind: "update-trial", trial: next }], result, () => {
          s.trials[t.number] = next;
          this.bump(s);
        }, rc);
      }),
    );
  }

  async getTrial(studyName: string, trialNumber: number): Promise<TrialView> {
    const s = this.getState(studyName);
    return this.visible(trialView(this.trialOf(s, trialNumber), this.now()));
  }

  /**
   * A trial's hyperparameter trajectory as recorded by a strategy that steers running trials
   * (`system_attrs.hg_trajectory`, written by the hypergradient strategy): the starting point
   * (step null) and the params in force after each applied report. Empty when none was recorded.
   * @throws NOT_FOUND
   */
  async trajectory(studyName: string, trialNumber: number): Promise<TrajectoryView> {
    const s = this.getState(studyName);
    const t = this.trialOf(s, trialNumber);
    return {
      trial: t.number,
      state: t.state,
      params: { ...t.params },
      trajectory: readTrajectory(t.systemAttrs),
      thinned: t.systemAttrs.hg_trajectory_thinned === true,
    };
  }

  /** A page of trials with optional state filter and ordering. */
  async listTrials(studyName: string, q: TrialsQuery = {}): Promise<{ trials: TrialView[]; total: number }> {
    const s = this.getState(studyName);
    let list: TrialRecord[] = s.trials;
    if (q.states && q.states.length > 0) {
      for (const st of q.states) if (!TRIAL_STATES.includes(st)) throw invalidArgument(`unknown trial state ${JSON.stringify(st)}`);
      const want = new Set(q.states);
      list = list.filter((t) => want.has(t.state));
    }
    if (q.order_by === "value") {
      const sign = s.study.config.direction === "minimize" ? 1 : -1;
      list = list
        .filter((t) => t.value !== null)
        .sort((a, b) => sign * ((a.value as number) - (b.value as number)) || a.number - b.number);
    } else if (q.order_by !== undefined && q.order_by !== "number") {
      throw invalidArgument(`order_by must be "number" or "value"`);
    }
    if (q.descending) list = [...list].reverse();
    const offset = q.offset ?? 0;
    const limit = q.limit ?? 1000;
    if (!Number.isInteger(offset) || offset < 0) throw invalidArgument("offset must be a non-negative integer");
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw invalidArgument("limit must be an integer in [1, 100000]");
    const now = this.now();
    return this.visible({ trials: list.slice(offset, offset + limit).map((t) => trialView(t, now)), total: list.length });
  }

  /** The best COMPLETE trial, or null when none completed yet. */
  async best(studyName: string): Promise<TrialView | null> {
    const s = this.getState(studyName);
    const b = bestTrial(s.study.config.direction, s.trials);
    return this.visible(b ? trialView(b, this.now()) : null);
  }

  /**
   * The hyperparameter schedule that produced a trial's model (PBT): segments `{from_step,
   * params, trial, trial_step}` in model-age order, following the donors of every exploit back
   * to a fresh start, replayable as a fixed schedule for a final training run. Without `trial`,
   * the trial with the best finite *reported* value (see `bestReported`), scheduled up to that
   * report; with `trial`, that trial up to its best report. `value` is that report's value.
   * A trial outside PBT has one segment (its params from step 0). @throws NOT_FOUND.
   */
  async lineage(studyName: string, trialNumber?: number): Promise<LineageView> {
    const s = this.getState(studyName);
    const dir = s.study.config.direction;
    let t: TrialRecord;
    let at: { step: number | null; value: number | null };
    if (trialNumber === undefined) {
      const b = bestReported(dir, s.trials);
      if (!b) throw notFound(`study '${studyName}' has no trial with a finite result yet`, { study: studyName });
      t = b.trial as TrialRecord;
      at = { step: b.step, value: b.value };
    } else {
      t = this.trialOf(s, trialNumber);
      const r = bestReport(dir, t);
      at = r ?? { step: null, value: t.value };
    }
    let out: ReturnType<typeof scheduleOf>;
    try {
      out = scheduleOf(s.trials, t.number, at.step ?? undefined);
    } catch (err) {
      throw new TuneportError("INTERNAL", `lineage of trial ${t.number} is inconsistent: ${(err as Error).message}`);
    }
    return { study: studyName, trial: t.number, state: t.state, value: at.value, step: at.step, until_step: out.until_step, schedule: out.schedule };
  }

  /** Read-only access for plug-in-aware readers (importances, plots, summaries). */
  trialsOf(studyName: string): readonly StoredTrial[] {
    return this.getState(studyName).trials;
  }

  /** Resolves when the study changed since `sinceVersion` or after `timeoutMs`. Returns the current version. */
  async waitForChange(studyName: string, sinceVersion: number, timeoutMs: number): Promise<number> {
    const s = this.getState(studyName);
    if (s.version !== sinceVersion) return s.version;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.progressWaiters.delete(check);
        resolve();
      };
      const check = () => {
        if (s.version !== sinceVersion || s.deleted) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.progressWaiters.add(check);
    });
    return s.version;
  }

  versionOf(studyName: string): number {
    return this.getState(studyName).version;
  }

  /**
   * Calls `listener` after every committed change to any study (creation, deletion, trials,
   * attributes). Listeners run synchronously inside the mutating call: keep them cheap and
   * never throw. Returns the function that unsubscribes.
   */
  onChange(listener: (change: StudyChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /**
   * Records a change to a study. Progress waiters and change listeners hear of it only once
   * the change is committed (group commit applies in memory first), so nobody announces a
   * state the database does not have.
   */
  private bump(s: StudyState, kind: StudyChange["kind"] = "updated"): void {
    s.version++;
    const change: StudyChange = { study: s.study.name, kind, version: s.version };
    void this.visible(undefined).then(
      () => {
        for (const w of [...this.progressWaiters]) w();
        for (const l of [...this.changeListeners]) {
          try {
            l(change);
          } catch (err) {
            this.log.error({ err }, "change listener failed");
          }
        }
      },
      () => undefined, // a failed commit stops the server; there is nothing to announce
    );
  }
}

/**
 * The strategy of a study that names none: `auto`, unless the scheduler picks configurations
 * itself (bohb refuses every model-based strategy), where `random` only answers what it leaves.
 */
function defaultStrategyFor(scheduler: PluginConfig | null): string {
  if (!scheduler) return DEFAULT_STRATEGY;
  try {
    checkCompatible(resolveStrategyConfig(DEFAULT_STRATEGY), scheduler);
    return DEFAULT_STRATEGY;
  } catch {
    return "random";
  }
}

function mergeDecisions(a: Decision, b: Decision): Decision {
  if (b.action === "continue") {
    if (a.action !== "continue") return a;
    return {
      action: "continue",
      ...((b.budget ?? a.budget) !== undefined ? { budget: b.budget ?? a.budget } : {}),
      ...(b.delete_checkpoints ? { delete_checkpoints: b.delete_checkpoints } : {}),
    };
  }
  if (b.action === "update" && a.action === "continue" && a.budget !== undefined && b.budget === undefined)
    return { ...b, budget: a.budget };
  return b;
}

function checkAttrsSize(attrs: Record<string, unknown>): void {
  let size: number;
  try {
    size = JSON.stringify(attrs).length;
  } catch {
    throw invalidArgument("user attributes must be JSON-serialisable");
  }
  if (size > MAX_USER_ATTRS_BYTES) throw invalidArgument(`user attributes are limited to ${MAX_USER_ATTRS_BYTES} bytes of JSON`);
}

function canonical(p: Params): string {
  return JSON.stringify(Object.keys(p).sort().map((k) => [k, p[k]]));
}

function pick(p: Params, keys: string[]): Params {
  const out: Params = {};
  for (const k of keys) if (k in p) out[k] = p[k] as ParamValue;
  return out;
}
