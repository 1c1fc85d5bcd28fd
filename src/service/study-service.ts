/**
 * StudyService: every operation on studies and trials, once. Transports (ZeroMQ, MCP, CLI)
 * translate to and from these calls — through `execute` and the op table (ops/ops.ts) — and nothing
 * else mutates state.
 *
 * The service is a facade over small modules:
 * - commit-pipeline.ts: group commit, visibility (commit before reply) and fail-stop;
 * - idempotency.ts: request ids, stored replies, retries that join a request in flight;
 * - leases.ts: lease tokens, heartbeats, reaping and the retry policy;
 * - study-state.ts: the in-memory copy of each study (the only mutable trials);
 * - trial-ops.ts: ask, suggest, enqueue, report and tell;
 * - read models: summary.ts, importance.ts, plots.ts, and the plug-ins' own `readModels`
 *   (trajectories, lineage).
 *
 * Concurrency: per study, a *write lock* serialises read-modify-commit-apply sequences (short), and
 * an *ask lock* serialises asks among themselves (long when a model is fitted), so a slow GP ask
 * never delays tells, reports or heartbeats. Every mutation re-validates its study under the write
 * lock (`live`): a request that waited while the study was deleted gets NOT_FOUND and queues
 * nothing. Creates and deletes are ordinary queued changes, so they commit in request order.
 */
import type { WorkerIdentity } from "../domain/worker.js";
import { randomInt } from "node:crypto";
import type { Logger } from "pino";
import { checkSpaceSize, formatZodError, parseSearchSpace } from "../domain/distributions.js";
import { checkDirections, checkReferencePoint } from "../domain/objectives.js";
import { TuneportError, invalidArgument, noSuchStudy, notFound } from "../domain/errors.js";
import { DEFAULT_RETRY, type Direction, type PluginConfig, type RetryPolicy, type Study, type StudyConfig } from "../domain/trial.js";
import type { Change, Storage, StoredTrial } from "../storage/storage.js";
import { ChangeFeed, type StudyChange } from "./change-feed.js";
import { CommitPipeline, DEFAULT_LAZY_COMMIT_MS } from "./commit-pipeline.js";
import { type ServiceCore, type SuggestRunner, inProcessRunner, shuttingDown } from "./core.js";
import { Idempotency, type ReplyCtx } from "./idempotency.js";
import { expiryAfterRestart, ttlOf } from "./leases.js";
import * as leaseOps from "./lease-ops.js";
import { type Ownership, SoleOwner } from "./ownership.js";
import { OPS, type OpContext, type OpName, type OpResult } from "./ops/ops.js";
import type * as S from "./ops/schemas.js";
import { BUILTIN_PLUGINS, PluginCatalogue, type PluginCatalogueOptions, type PluginRef } from "./plugins.js";
import { type ConfigDifference, configMismatch, newStudyConfig, requestedConfig, steeredLoad, studyConfigCompare } from "./study-config-diff.js";
import { type ExportPage, exportPage, importedTrials, parseStudyLines, studyHeaderLine, trialLine } from "./study-io.js";
import type { PlotKind, PlotRendering } from "./plots.js";
import { type TrialsPage, trialsPage } from "./paging.js";
import * as reads from "./reads.js";
import { type SampledImportances, importancesFor, summaryOf } from "./reads-summary.js";
import { type StudyState, type TrialRecord, bestOf, countsOf, makeState, readOf, viewOf } from "./study-state.js";
import * as steering from "./steering.js";
import { DEFAULT_MAX_INTERMEDIATE, DEFAULT_MAX_STUDIES, type LimitOptions, checkRoomForStudy } from "./study-limits.js";
import { setStudyAttrs, updateStudy } from "./study-update.js";
import * as trialOps from "./trial-ops.js";
import { fastArgs } from "./ops/fast-args.js";
import { type TrialPage, queryTrials } from "./trial-query.js";
import { type AskResult, type LineageView, type StudyView, type TrajectoryView, type TrialView, studyView, trialView } from "./views.js";
export { type SuggestRunner, inProcessRunner } from "./core.js";
export { expiryAfterRestart } from "./leases.js";
export { MAX_USER_ATTRS_BYTES } from "./trial-ops.js";
export { DEFAULT_RETRY } from "../domain/trial.js";

export interface StudyServiceOptions extends LimitOptions {
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
  /** Every strategy a study may name (default: the built-ins); see docs/PLUGINS.md. `plugins`, a whole catalogue, wins over both lists. */
  readonly plugins?: PluginCatalogue;
  readonly strategies?: PluginCatalogueOptions["strategies"];
  /** Every scheduler a study may name (default: the built-ins). */
  readonly schedulers?: PluginCatalogueOptions["schedulers"];
  /** Renders plots (the `plot` op) off the event loop; without it they render in process. */
  readonly plots?: PlotRendering;
  /**
   * Called once when a storage commit fails: memory is then ahead of storage and the process
   * should exit (a restart reloads the committed state). The service refuses every further
   * call with UNAVAILABLE either way.
   */
  readonly onFatal?: (err: unknown) => void;
  /**
   * Which studies this server serves and where ids come from (ownership.ts): by default every study,
   * ids from the largest stored (one server per database); `SharedOwnership` for several servers.
   */
  readonly ownership?: Ownership;
  /** How long a `continue` report may wait for its commit after its reply (ms) [20]; 0: none (docs/DURABILITY.md). */
  readonly lazyCommitMs?: number;
  /** The largest reply a change with a request id may have, in packed bytes (idempotency.ts `replyChange`). */
  readonly maxReplyBytes?: number;
}

export type CreateStudyArgs = S.CreateStudyInput;
export type TellState = S.TellArgs["state"];
export type TrialsQuery = Omit<S.TrialsArgs, "study">;
export type { StudyChange } from "./change-feed.js";

export class StudyService {
  private readonly storage: Storage;
  private readonly log: Logger;
  private readonly now: () => number;
  private lastCreatedAt = 0;
  private readonly runner: SuggestRunner;
  private readonly plots: PlotRendering | null;
  /** The strategies and schedulers this service offers. */
  readonly plugins: PluginCatalogue;
  private readonly defaultLeaseTtlS: number;
  private readonly maxStudies: number;
  private readonly replyRetentionMs: number;
  private readonly studies = new Map<string, StudyState>();
  private readonly pipeline: CommitPipeline;
  private readonly idem: Idempotency;
  /** Also the source of storage-wide ids, taken when a record is built (commits interleave; a failed one leaves a gap). */
  private readonly ownership: Ownership;
  private readonly onFatal: (err: unknown) => void;
  private stopReaper: (() => void) | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly feed: ChangeFeed;
  private closed = false;
  /** What trial-ops.ts may use of this service. */
  private readonly core: ServiceCore;
  /** Intermediate values one trial holds at most (serve --max-intermediate): hello's `limits.max_intermediate`. */ get maxIntermediate(): number { return this.core.maxIntermediate; } // prettier-ignore

  private constructor(opts: StudyServiceOptions) {
    this.storage = opts.storage;
    this.log = opts.logger.child({ component: "service" });
    // Several servers keep lease times on the database's clock (ownership.ts `SharedOwnership.now`).
    const own = opts.ownership;
    this.now = opts.clock ?? own?.now?.bind(own) ?? Date.now;
    this.runner = opts.runner ?? inProcessRunner;
    this.plots = opts.plots ?? null;
    const { strategies, schedulers } = opts;
    this.plugins = opts.plugins ?? (strategies === undefined && schedulers === undefined ? BUILTIN_PLUGINS : new PluginCatalogue({ strategies, schedulers }));
    this.defaultLeaseTtlS = opts.defaultLeaseTtlS ?? 30;
    this.maxStudies = opts.maxStudies ?? DEFAULT_MAX_STUDIES;
    this.replyRetentionMs = opts.replyRetentionMs ?? 24 * 3600 * 1000;
    this.ownership = opts.ownership ?? new SoleOwner();
    let fatal = false;
    this.onFatal = (err) => {
      if (!fatal) (fatal = true), (opts.onFatal ?? (() => undefined))(err);
    };
    this.pipeline = new CommitPipeline(this.storage, this.log, this.onFatal, opts.lazyCommitMs ?? DEFAULT_LAZY_COMMIT_MS, async () => this.ownership.recheck?.());
    this.idem = new Idempotency(this.storage, () => this.now(), () => this.pipeline.committed(), opts.maxReplyBytes);
    this.feed = new ChangeFeed(this.log, () => this.pipeline.committed());
    this.core = {
      log: this.log,
      runner: this.runner,
      maxIntermediate: opts.maxIntermediate ?? DEFAULT_MAX_INTERMEDIATE,
      now: () => this.now(),
      allocTrialId: () => this.ownership.nextTrialId(),
      state: (name) => this.getState(name),
      live: (s) => this.live(s),
      mutate: (id, op, body) => this.mutate(id, op, body),
      taking: () => { if (this.closed) throw shuttingDown(); },
      commit: (changes, result, apply, rc, lazy) => this.commit(changes, result, apply, rc, lazy),
      bump: (s, kind) => this.bump(s, kind),
      visible: (v) => this.pipeline.visible(v), storageFull: () => this.pipeline.holding, // prettier-ignore
      studies: () => [...this.studies.values()],
    };
  }

  /** Loads every study from storage (those it owns: see ownership.ts) and starts the reaper. */
  static async open(opts: StudyServiceOptions): Promise<StudyService> {
    const svc = new StudyService(opts);
    await svc.ownership.start(
      {
        adopt: (study, trials) => svc.feed.announce({ study: study.name, kind: "updated", version: svc.adopt(study, trials as TrialRecord[], svc.now()).version }), // served here (again): an open dashboard re-reads it (and drops its "moved" line)
        lost: (name, err) => {
          // Memory is no longer the truth for it: forgotten, not fatal (that stopped every other study too); its queued changes are never written (pipeline `lose`), requests holding its state find it gone (`live`).
          svc.log.warn({ study: name, reason: err.message }, "gave up a study another server took over");
          const s = svc.studies.get(name);
          if (s) (s.deleted = true), svc.studies.delete(name), svc.feed.announce({ study: name, kind: "updated", version: s.version + 1 }); // dashboards, MCP subscribers re-read it now: told where it went
          svc.pipeline.lose(name), svc.feed.wake(); // a wait on it ends (ownership `use` then names the new owner)
        },
        serves: (name) => svc.studies.has(name),
      },
      svc.storage,
      opts.readOnly ?? false,
    );
    if (svc.ownership.everything) await svc.load(opts.readOnly ?? false);
    const every = opts.readOnly ? 0 : (opts.reapIntervalMs ?? 1000);
    if (every > 0) {
      // A stall of the server itself is given back to the leases before the reaper looks (lease-ops.ts).
      svc.stopReaper = leaseOps.startReaper(svc.core, every, () => svc.reap());
      svc.pruneTimer = setInterval(() => {
        svc.storage.pruneReplies(svc.now() - svc.replyRetentionMs).catch((err: unknown) => svc.log.error({ err }, "reply pruning failed"));
      }, 3600_000);
      svc.pruneTimer.unref();
    }
    return svc;
  }

  private async load(readOnly: boolean): Promise<void> {
    const now = this.now();
    let regranted = 0;
    for (const study of await this.storage.listStudies())
      regranted += this.adopt(study, (await this.storage.loadTrials(study.id)) as TrialRecord[], now).running.size;
    if (!readOnly) await this.storage.pruneReplies(now - this.replyRetentionMs);
    this.log.info({ studies: this.studies.size, running: regranted }, "storage loaded");
  }

  /**
   * Installs a study read from storage (at start, or taken over from another server): running
   * trials keep their lease tokens, with expiries bounded as after a restart (leases.ts). A plug-in
   * this server lacks gets a stand-in that refuses asks (`PluginCatalogue.loadStrategy`), logged. */
  private adopt(study: Study, trials: TrialRecord[], now: number): StudyState {
    const state = makeState(study, trials, this.plugins);
    const missing = this.plugins.missingOf(study.config).map((m) => `${m.kind} '${m.name}'`);
    if (missing.length > 0) this.log.warn({ study: study.name, missing }, "a study's plug-in is not in this server's catalogue: its asks are refused until a restart with --plugins");
    for (const n of state.running) {
      const t = trials[n] as TrialRecord;
      if (t.lease) {
        t.persistedExpiry = t.lease.expiresAt;
        t.lease = { token: t.lease.token, expiresAt: expiryAfterRestart(t.lease.expiresAt, now, ttlOf(state, t) * 1000) };
      }
    }
    this.studies.set(study.name, state);
    return state;
  }

  /** Stops the reaper and waits for in-flight operations; storage is left for the caller to close. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopReaper?.();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await Promise.allSettled(this.idem.pending());
    for (const s of this.studies.values()) await s.writeLock.run(() => undefined);
    await this.pipeline.drain();
    await this.runner.close();
    if (!this.pipeline.failed) await this.ownership.close();
  }

  // ---------------------------------------------------------------- the op table

  /**
   * Runs one op of the table with raw (unvalidated) arguments: validates them, claims the request
   * id, and calls the op's service method. `hello` is the transport's own.
   * @throws TuneportError (INVALID_ARGUMENT for bad arguments, and whatever the op throws).
   */
  async execute<K extends OpName>(op: K, raw: unknown, ctx: OpContext = {}): Promise<OpResult<K>> {
    const spec = OPS[op];
    if (!spec.run) throw invalidArgument(`'${op}' is answered by the transport, not the service`);
    const parsed = fastArgs(op, raw) ?? spec.args.safeParse(raw); // common ask/tell/report shapes skip zod
    if (!parsed.success) throw invalidArgument(`${op}: ${formatZodError(parsed.error)}`);
    if (!spec.mutating && ctx.requestId !== undefined) this.idem.claim(ctx.requestId, op);
    const args = parsed.data as { study?: unknown; name?: unknown };
    const study = op === "create_study" ? args.name : args.study;
    const run = spec.run as (svc: StudyService, a: unknown, c: OpContext) => Promise<unknown>;
    const id = spec.mutating ? ctx.requestId : undefined;
    const go = () => run(this, parsed.data, ctx);
    const answer = () => this.idem.sending(id, ctx.attempt, spec.mutating ? () => this.ownership.withIds(go) : go);
    return (await (typeof study === "string" ? this.ownership.use(study, op === "create_study", answer) : answer())) as OpResult<K>;
  }

  // ---------------------------------------------------------------- mutation plumbing

  /** From now on, mutations not yet started and asks still queued are answered UNAVAILABLE (core.ts `taking`); `close` implies it. */
  stopTaking = (): void => void (this.closed = true);
  private async mutate<T>(requestId: string | undefined, op: string, body: (rc: ReplyCtx | null) => Promise<T>): Promise<T> {
    if (this.closed) throw shuttingDown();
    this.pipeline.assertHealthy();
    // The body returns once its changes are queued (the lock is free again); the reply waits for the
    // commit, unless the body queued them lazily (then it is answered now, see `commit`).
    return this.idem.once(requestId, op, async (rc) => this.pipeline.answer(await body(rc)));
  }

  private commit<T>(changes: Change[], result: T, apply: () => void, rc: ReplyCtx | null = null, lazy = false): T {
    this.pipeline.assertHealthy();
    // The stored reply first: one that cannot be packed or is too big to send throws before anything is applied.
    const reply = rc ? this.idem.replyChange(rc, result) : null;
    for (const c of changes)
      if (c.kind === "insert-trial" || c.kind === "update-trial") (c.trial as TrialRecord).persistedExpiry = c.trial.lease?.expiresAt;
    apply();
    this.pipeline.queue(reply ? [...changes, reply] : changes, lazy, result);
    return result;
  }

  /** Records that `requestId` names an `op` request (see idempotency.ts). @throws INVALID_ARGUMENT on reuse. */
  claimRequestId(requestId: string, op: string): void {
    this.idem.claim(requestId, op);
  }

  private getState(name: string): StudyState {
    const s = this.studies.get(name);
    if (!s || s.deleted) throw noSuchStudy(name, [...this.studies.values()].filter((x) => !x.deleted).map((x) => x.study.name));
    return s;
  }

  /** Re-validates, under the study's write lock, that the study a request resolved before waiting for the lock still exists (a delete may have run). @throws NOT_FOUND. */
  private live(s: StudyState): void {
    if (s.deleted) throw notFound(`no study named '${s.study.name}' (it was deleted)`, { study: s.study.name });
  }

  // ---------------------------------------------------------------- studies

  /**
   * Creates a study, or loads it with `load_if_exists` (then every setting given must match what is
   * stored: `studyConfigDiff`). Validates its raw arguments itself. @throws ALREADY_EXISTS, INVALID_ARGUMENT.
   */
  async createStudy(raw: CreateStudyArgs, requestId?: string): Promise<{ study: StudyView; created: boolean; changed_since_created?: ConfigDifference[] }> {
    const parsed = OPS.create_study.args.safeParse(raw);
    if (!parsed.success) throw invalidArgument(`create_study: ${formatZodError(parsed.error)}`);
    const a = parsed.data;
    const directions = checkDirections(a.directions, a.direction);
    checkReferencePoint(a.reference_point, directions);
    const space = checkSpaceSize(parseSearchSpace(a.space ?? {}));
    // The study's budget fills the scheduler's max_resource (SchedulerFactory.withStudyBudget).
    const resolveScheduler = (budget: number | undefined) =>
      a.scheduler === undefined || a.scheduler === null ? null : this.plugins.resolveSchedulerConfig(a.scheduler as PluginRef, budget);
    const scheduler = resolveScheduler(a.max_resource);
    const strategy = this.plugins.resolveStrategyConfig((a.strategy ?? this.plugins.defaultStrategyFor(scheduler, directions.length)) as PluginRef);
    this.plugins.checkCompatible(strategy, scheduler, a.retry);
    this.plugins.checkObjectives(strategy, scheduler, directions.length);
    return this.mutate(requestId, "create_study", async (rc) => {
      const existing = this.studies.get(a.name);
      if (existing && !existing.deleted) {
        if (!a.load_if_exists)
          throw new TuneportError("ALREADY_EXISTS", `a study named '${a.name}' already exists (pass load_if_exists to reuse it)`, { study: a.name });
        const stored = existing.study.config;
        // A scheduler given without max_resource is compared as the stored budget filled it in.
        const given = a.max_resource === undefined && stored.maxResource !== undefined ? resolveScheduler(stored.maxResource) : scheduler;
        const { differences, steered } = studyConfigCompare(stored, requestedConfig(a, space, strategy, given, directions), this.plugins);
        if (differences.length > 0) throw configMismatch(a.name, differences);
        // A load changes nothing, so no reply is stored (NO_OP_REPLY).
        return this.commit([], { study: viewOf(existing), created: false, ...steeredLoad(this.log, a.name, steered) }, () => undefined, null);
      }
      checkRoomForStudy(this.studies, this.maxStudies, a.name);
      this.plugins.checkSpaceFor(strategy, space);
      this.plugins.checkSchedulerSpace(scheduler, space);
      const optionsGiven = this.plugins.optionsGivenAtCreation(a.strategy, a.scheduler);
      const config = newStudyConfig(a, { directions, space, strategy, scheduler, optionsGiven }, {
        seed: randomInt(0, 2 ** 32 - 1), leaseTtlS: this.defaultLeaseTtlS, retry: DEFAULT_RETRY,
      });
      trialOps.checkAttrsSize(a.user_attrs ?? {});
      // No await between the name check above and taking the name here: two concurrent creates of
      // one name cannot both pass. The insert is an ordinary queued change, ordered after a delete
      // of the same name that is still in the open batch.
      // Each later than the last: ask's study_created_at tells a re-created study from the deleted one of its name.
      const createdAt = (this.lastCreatedAt = Math.max(this.now(), this.lastCreatedAt + 1));
      const study: Study = { id: this.ownership.nextStudyId(), name: a.name, config, userAttrs: a.user_attrs ?? {}, createdAt };
      const state = makeState(study, [], this.plugins);
      return this.commit([{ kind: "insert-study", study }], { study: viewOf(state), created: true }, () => {
        this.studies.set(a.name, state);
        this.log.info({ study: a.name, strategy: strategy.name, scheduler: scheduler?.name ?? null }, "study created");
        this.bump(state, "created");
      }, rc);
    });
  }

  async getStudy(a: S.StudyArgs): Promise<StudyView> { return (await this.readStudy(a)).study; }

  /** get_study's answer: the view and the finished trials by how (study-state.ts `readOf`), with the server's clock (`now`): a client under another clock (mcp --connect) compares trials' times with it. */
  async readStudy(a: S.StudyArgs): Promise<ReturnType<typeof readOf> & { now: number }> {
    return this.pipeline.visible({ ...readOf(this.getState(a.study)), now: this.now() / 1000 });
  }

  private readonly servedHere = (name: string): boolean => this.studies.get(name)?.deleted === false; // a live study in memory here (ownership.ts `foreignStudies` asks once the hold is sure)
  /** Every study; with several servers, those served elsewhere (or here on an unsure hold: ownership.ts `foreignStudies`) as last committed. */
  async listStudies(): Promise<StudyView[]> {
    const foreign = await this.ownership.foreignStudies(this.servedHere);
    const fromStorage = new Set(foreign.map((v) => v.name));
    const views = [...this.studies.values()].filter((s) => !s.deleted && !fromStorage.has(s.study.name)).map((s) => viewOf(s));
    views.push(...foreign);
    if (foreign.length > 0) views.sort((x, y) => x.created_at - y.created_at);
    return this.pipeline.visible(views);
  }

  /** One page of `listStudies`, only its studies viewed (reads.ts `listingPage`). */
  async studiesPage(a: S.ListStudiesArgs): Promise<{ studies: StudyView[]; next_cursor: string | null }> {
    return reads.listingPage(a, this.ownership, this.servedHere, this.studies, (views) => this.pipeline.visible(views));
  }

  /** Deletes a study with its trials (see docs/DURABILITY.md for requests racing it). @throws NOT_FOUND. */
  async deleteStudy(a: S.StudyArgs, requestId?: string): Promise<{ deleted: boolean }> {
    const name = a.study;
    return this.mutate(requestId, "delete_study", async (rc) => {
      const s = this.getState(name);
      return s.writeLock.run(async () => {
        this.live(s);
        // Queued after every change already made to the study, so they commit (or fail) first; once
        // `deleted` is set under the lock, no later mutation of this study can queue anything.
        return this.commit([{ kind: "delete-study", studyId: s.study.id }], { deleted: true }, () => {
          s.deleted = true;
          if (this.studies.get(name) === s) this.studies.delete(name);
          this.bump(s, "deleted");
          this.log.info({ study: name }, "study deleted");
        }, rc);
      });
    });
  }

  /** See study-update.ts `setStudyAttrs`. */
  setStudyUserAttrs = (a: { study: string; attrs?: Record<string, unknown>; notes?: string }, requestId?: string): Promise<StudyView> => setStudyAttrs(this.core, a, requestId);

  /** Stops (or resumes) handing out trials; running trials may still report and tell. Idempotent. @throws NOT_FOUND. */
  async setStopped(a: S.StudyArgs, stopped: boolean, requestId?: string): Promise<StudyView> {
    const s = this.getState(a.study);
    return this.mutate(requestId, stopped ? "stop_study" : "resume_study", (rc) =>
      s.writeLock.run(async () => {
        this.live(s);
        const next: Study = { ...s.study, stopped };
        const view = studyView(next, countsOf(s), bestOf(s), s.paramDists);
        if ((s.study.stopped ?? false) === stopped) return this.commit([], view, () => undefined, null); // NO_OP_REPLY
        return this.commit([{ kind: "update-study", study: next }], view, () => {
          s.study = next;
          this.bump(s);
          this.log.info({ study: s.study.name }, stopped ? "study stopped" : "study resumed");
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
    yield studyHeaderLine(s.study, trials.length);
    for (const t of trials) yield trialLine(t);
  }

  /**
   * Recreates a study from `exportStudy` lines (under `rename`): trials exactly as written, in one transaction;
   * RUNNING ones keep their lease token with one TTL of grace. @throws ALREADY_EXISTS, INVALID_ARGUMENT (the bad line, one past `maxIntermediate` too).
   */
  async importStudy(text: string, rename?: string): Promise<StudyView> {
    if (this.closed) throw new TuneportError("UNAVAILABLE", "the server is shutting down");
    const imp = parseStudyLines(text, rename, this.plugins, this.core.maxIntermediate);
    if (rename !== undefined && !OPS.create_study.args.shape.name.safeParse(rename).success)
      throw invalidArgument(`study name ${JSON.stringify(rename)} is not valid`);
    const exists = () => new TuneportError("ALREADY_EXISTS", `a study named '${imp.name}' already exists; import it under another --name`, { study: imp.name });
    // Served elsewhere (a redirect): the study exists; unless it is this one, written before the name was lost.
    let landed: StudyView | undefined;
    return this.ownership.use(imp.name, true, async () => (landed = await this.importAs(imp, exists))).catch(async (err: unknown) => {
      if (landed) return landed;
      throw err instanceof TuneportError && err.data?.reason === "moved" && (await this.storage.listStudies()).some((s) => s.name === imp.name) ? exists() : err;
    });
  }

  private async importAs(imp: ReturnType<typeof parseStudyLines>, exists: () => TuneportError): Promise<StudyView> {
    await this.ownership.reserve(imp.trials.length + 1);
    const existing = this.studies.get(imp.name);
    if (existing && !existing.deleted) throw exists();
    checkRoomForStudy(this.studies, this.maxStudies, imp.name);
    const { name, config, userAttrs, createdAt } = imp;
    const study: Study = { id: this.ownership.nextStudyId(), name, config, userAttrs, createdAt, ...(imp.stopped ? { stopped: true } : {}) };
    const trials: TrialRecord[] = importedTrials(imp, study.id, this.now() + imp.config.leaseTtlS * 1000, () => this.ownership.nextTrialId());
    const state = makeState(study, trials, this.plugins);
    const changes: Change[] = [{ kind: "insert-study", study }, ...trials.map((trial) => ({ kind: "insert-trial" as const, trial }))];
    // `state` names the change set: one dropped (its name lost first) is refused by `visible`, not acknowledged.
    this.commit(changes, state, () => {
      this.studies.set(imp.name, state);
      this.bump(state);
      this.log.info({ study: imp.name, trials: trials.length }, "study imported");
    });
    return viewOf(await this.pipeline.visible(state));
  }

  // ---------------------------------------------------------------- trials (trial-ops.ts)

  /** The trial operations: see trial-ops.ts `ask`, `suggest`, `enqueue`, `report`, `tell`, `setTrialUserAttrs`; steering.ts `cancelTrial`, `addTrial`; study-update.ts `updateStudy`. */
  ask = (a: S.AskArgs, requestId?: string, worker?: WorkerIdentity, gone?: () => boolean): Promise<AskResult> => trialOps.ask(this.core, a, requestId, worker, gone);
  suggest = (a: S.SuggestArgs, requestId?: string) => trialOps.suggest(this.core, a, requestId);
  enqueue = (a: S.EnqueueArgs, requestId?: string) => trialOps.enqueue(this.core, a, requestId);
  report = (a: S.ReportArgs, requestId?: string) => trialOps.report(this.core, a, requestId);
  tell = (a: S.TellArgs, requestId?: string) => trialOps.tell(this.core, a, requestId);
  setTrialUserAttrs = (a: { study: string; trial: number; attrs?: Record<string, unknown>; notes?: string }, requestId?: string) => trialOps.setTrialUserAttrs(this.core, a, requestId);
  cancelTrial = (a: S.CancelTrialArgs, requestId?: string) => steering.cancelTrial(this.core, a, requestId);
  addTrial = (a: S.AddTrialArgs, requestId?: string) => steering.addTrial(this.core, a, requestId);
  updateStudy = (a: S.UpdateStudyArgs, requestId?: string) => updateStudy(this.core, this.plugins, a, requestId);

  /** See study-io.ts `exportPage`: one page of `exportStudy`'s lines. @throws NOT_FOUND, INVALID_ARGUMENT (a bad cursor). */
  async exportPage(a: S.ExportStudyArgs): Promise<ExportPage> {
    const s = this.getState(a.study);
    return this.pipeline.visible(exportPage(s.study, s.trials, a));
  }

  // ---------------------------------------------------------------- leases (lease-ops.ts)

  /** See lease-ops.ts `heartbeat`. */
  async heartbeat(a: S.HeartbeatArgs) {
    // Each study of the batch is taken over or found served elsewhere; its entries alone say so.
    const elsewhere = await this.ownership.ensureEach([...new Set(a.leases.map((l) => l.study))]);
    return leaseOps.heartbeat(this.core, a, elsewhere);
  }

  /** See lease-ops.ts `reap`. */
  async reap(): Promise<number> {
    // An id for every retry it may insert, beside the asks in flight (lease-ops.ts `expiring`).
    return this.ownership.withIds(() => leaseOps.reap(this.core), leaseOps.expiring(this.core) + 64);
  }

  // ---------------------------------------------------------------- reads

  async getTrial(a: S.TrialArgs): Promise<TrialView> {
    return (await this.trialWithLease(a)).trial;
  }

  /** A trial, and its lease (expiry, no token) while RUNNING. @throws NOT_FOUND. */
  async trialWithLease(a: S.TrialArgs): Promise<{ trial: TrialView; lease: { expires_at: number; ttl_s: number } | null }> {
    return this.pipeline.visible(reads.trialWithLease(this.getState(a.study), a.trial, this.now()));
  }

  /** See reads.ts `trajectoryView` (a strategy's `readModels.trajectory`; empty without one). @throws NOT_FOUND. */
  async trajectory(a: S.TrialArgs): Promise<TrajectoryView> {
    return this.pipeline.visible(reads.trajectoryView(this.getState(a.study), a.trial));
  }

  /** See paging.ts `trialsPage` (whole views without a projection). @throws NOT_FOUND, INVALID_ARGUMENT (a cursor of another order). */
  async listTrials(a: S.TrialsArgs & { fields?: undefined; params?: undefined }): Promise<TrialsPage<TrialView>>;
  async listTrials(a: S.TrialsArgs): Promise<TrialsPage>;
  async listTrials(a: S.TrialsArgs): Promise<TrialsPage> {
    return this.pipeline.visible(trialsPage(this.getState(a.study), a, this.now()));
  }

  /** The best COMPLETE trial, or null when none completed yet. */
  async best(a: S.StudyArgs): Promise<TrialView | null> {
    return this.pipeline.visible(reads.bestView(this.getState(a.study), this.now()));
  }

  /** The Pareto front with its hypervolume (reads.ts `bestTrialsOf`). @throws NOT_FOUND, INVALID_ARGUMENT. */
  async bestTrials(a: S.BestTrialsArgs): Promise<ReturnType<typeof reads.bestTrialsOf>> {
    return this.pipeline.visible(reads.bestTrialsOf(this.getState(a.study), a, this.now()));
  }

  /** See reads-summary.ts `summaryOf`: a briefing computed here, importances on a bounded sample. @throws NOT_FOUND. */
  async studySummary(a: S.StudyArgs): Promise<ReturnType<typeof summaryOf>> {
    return this.pipeline.visible(summaryOf(this.getState(a.study), this.plugins));
  }

  /** See reads-summary.ts `importancesFor` (at most IMPORTANCE_SAMPLE COMPLETE trials; of one objective, or given values). @throws NOT_FOUND, INVALID_ARGUMENT. */
  async paramImportances(a: S.ParamImportancesArgs): Promise<SampledImportances> {
    return this.pipeline.visible(importancesFor(this.getState(a.study), a));
  }

  /** See reads.ts `lineageView`. @throws NOT_FOUND. */
  async lineage(a: S.LineageArgs): Promise<LineageView> {
    return this.pipeline.visible(reads.lineageView(this.getState(a.study), a.trial));
  }

  /** A chart of the study as PNG from every trial (see plots.ts). @throws NOT_FOUND, INVALID_ARGUMENT. */
  async plot(a: S.PlotArgs): Promise<{ png: Uint8Array; caption: string; width: number; height: number; kind: PlotKind }> {
    const s = this.getState(a.study);
    await this.pipeline.visible(null);
    return reads.plotOf(s, a, this.now(), this.plots);
  }

  /** See reads.ts `plotSpecOf`: the chart `plot` renders, as its Vega-Lite spec. @throws NOT_FOUND, INVALID_ARGUMENT. */
  async plotSpec(a: S.PlotSpecArgs): Promise<{ kind: PlotKind; spec: Record<string, unknown>; caption: string }> {
    return this.pipeline.visible(reads.plotSpecOf(this.getState(a.study), a, this.now()));
  }

  /** See trial-query.ts: one page of table rows. @throws NOT_FOUND, INVALID_ARGUMENT (sort key). */
  async queryTrials(a: S.QueryTrialsArgs): Promise<TrialPage> {
    return this.pipeline.visible(queryTrials(this.getState(a.study), a, this.now()));
  }

  /** A page of the studies in one line each (reads.ts `overviewPage`); with several servers, as `listStudies`. */
  async studiesOverview(a: S.StudiesOverviewArgs = {}): Promise<{ studies: reads.StudyOverview[]; next_cursor: string | null }> {
    return this.pipeline.visible(await reads.overviewPage(a, this.ownership, this.servedHere, this.studies, this.now()));
  }

  /** Read-only access for plug-in-aware readers (importances, plots, summaries). */
  trialsOf(studyName: string): readonly StoredTrial[] {
    return this.getState(studyName).trials;
  }

  // ---------------------------------------------------------------- the change feed
  /**
   * Resolves when the study changed since `sinceVersion` (or was deleted), after `timeoutMs`, or
   * when `signal` aborts (a cancelled wait leaves nothing behind): the current version. Served here
   * first as every op is (ownership `use`): a study lost meanwhile ends it naming its owner.
   */
  async waitForChange(studyName: string, sinceVersion: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    return this.ownership.use(studyName, false, async () => {
      const s = this.getState(studyName);
      await this.feed.waitUntil(() => s.version !== sinceVersion || s.deleted, timeoutMs, signal);
      return s.version;
    });
  }

  /** The study's version; served here first as every op is (several servers: loaded, or UNAVAILABLE naming its owner). */
  async versionOf(studyName: string): Promise<number> { return this.ownership.use(studyName, false, async () => this.getState(studyName).version); } // prettier-ignore

  /** Calls `listener` after every committed change to any study. Returns the function that unsubscribes. */
  onChange(listener: (change: StudyChange) => void): () => void {
    return this.feed.subscribe(listener);
  }

  /** Records a change to a study; the feed announces it once committed. */
  private bump(s: StudyState, kind: StudyChange["kind"] = "updated"): void {
    s.version++;
    this.feed.announce({ study: s.study.name, kind, version: s.version });
  }
}
