/**
 * The operations on trials: ask, suggest (define-by-run), enqueue, report, tell and trial
 * attributes. Each runs under its study's write lock (ask also under the ask lock while a model is
 * fitted), re-validates the study there (`live`), and commits through the service's pipeline.
 */
import type { WorkerIdentity } from "../domain/worker.js";
import { CONTINUE, type Decision, mergeDecisions } from "../domain/decision.js";
import { type Distribution, type ParamValue, type Params, checkTrialDistributionsSize, contains, distributionsEqual, checkRepeat, nearestGridPoint, parseDistribution, whyNotContained } from "../domain/distributions.js";
import { plural } from "../domain/format.js";
import { TuneportError, invalidArgument, notFound } from "../domain/errors.js";
import { clipText } from "../domain/input-limits.js";
import { checkCompleteValues, checkConstraints, constraintCount } from "../domain/objectives.js";
import { startOf } from "../domain/start.js";
import { type Direction, stepRefusal, valueFields } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import type { SuggestRequest, Suggestion } from "../domain/plugin.js";
import type { Change, Lease } from "../storage/storage.js";
import { type ServiceCore, loadedState, requesterGone } from "./core.js";
import { statsOf } from "./aggregates.js";
import { carriedIntermediate, checkRoomForIntermediate } from "./study-limits.js";
import type { ReplyCtx } from "./idempotency.js";
import { type QueueFacts, findEnqueued, queueFacts, queuedStartAttrs } from "./enqueue-match.js";
import { PROPOSED_PARAMS, drawParam, fillDeclared, proposalsOf, proposedValue, queuedSuggestion, suggestContext, takeQueuedSuggestion, trialsWithProposals } from "./trial-params.js";
import { addWaiting, checkLease, leaseChange, leaseView, newLease, retryOf, ttlOf } from "./leases.js";
import type * as S from "./ops/schemas.js";
import { checkRetry } from "./plugins.js";
import { type StudyState, type TrialRecord, applyFinish, checkNewParams, learnParam, refuseUnreadHypergradients, setTrial } from "./study-state.js";
import { type AskResult, type TrialView, trialView } from "./views.js";

export const MAX_USER_ATTRS_BYTES = 64 * 1024;

/** The trial of that number. @throws INVALID_ARGUMENT, NOT_FOUND. */
export function trialOf(s: StudyState, number: unknown): TrialRecord {
  if (typeof number !== "number" || !Number.isInteger(number) || number < 0)
    throw invalidArgument(`trial must be a non-negative integer trial number`);
  const t = s.trials[number];
  if (!t) throw notFound(`study '${s.study.name}' has no trial ${number}`, { study: s.study.name, trial: number });
  return t;
}

/**
 * The length of user attributes' JSON and the first number in them that JSON cannot hold (NaN or an
 * infinity, which JSON.stringify writes as null), or null when they are not JSON-serialisable.
 */
function attrsJson(attrs: Record<string, unknown>): { length: number; nonFinite: [string, number] | null } | null {
  let nonFinite: [string, number] | null = null;
  try {
    const { length } = JSON.stringify(attrs, (key, v: unknown) => {
      if (nonFinite === null && typeof v === "number" && !Number.isFinite(v)) nonFinite = [key, v];
      return v;
    });
    return { length, nonFinite };
  } catch {
    return null;
  }
}

/** The length of user attributes' JSON, or null when they are not JSON-serialisable. */
export function attrsJsonLength(attrs: Record<string, unknown>): number | null {
  return attrsJson(attrs)?.length ?? null;
}

/**
 * Refuses user attributes that JSON cannot keep as given: not serialisable (a BigInt), a NaN or an
 * infinity (the reply and the stored attribute would differ), or larger than MAX_USER_ATTRS_BYTES.
 * @throws INVALID_ARGUMENT.
 */
export function checkAttrsSize(attrs: Record<string, unknown>): void {
  const json = attrsJson(attrs);
  if (json === null) throw invalidArgument("user attributes must be JSON-serialisable");
  if (json.nonFinite !== null) {
    const [key, v] = json.nonFinite;
    throw invalidArgument(`user attribute '${key}' is ${String(v)}: attributes are stored as JSON, which has no NaN or infinity (store it as a string, or null)`);
  }
  const size = json.length;
  if (size > MAX_USER_ATTRS_BYTES) throw invalidArgument(`user attributes are limited to ${MAX_USER_ATTRS_BYTES} bytes of JSON`);
}

// ------------------------------------------------------------------ ask

/**
 * Starts a trial: the oldest WAITING (enqueued or re-queued) one if any, else a new one from the
 * scheduler and the strategy; dropped at its turn once `gone` (OpContext.gone). @throws SEARCH_SPACE_EXHAUSTED, NOT_FOUND.
 */
export async function ask(core: ServiceCore, a: S.AskArgs, requestId?: string, worker?: WorkerIdentity, gone?: () => boolean): Promise<AskResult> {
  const s = loadedState(core, a.study, a.study_created_at);
  // A worker's loop outlives a delete: without this its next ask would run a re-created study's trials.
  if (a.study_created_at !== undefined && Math.abs(a.study_created_at * 1000 - s.study.createdAt) >= 0.5)
    throw new TuneportError("NOT_FOUND", `study '${a.study}' was deleted and created again since this worker loaded it: load it again to work on the new one`, { study: a.study });
  // An evaluator's own lease length and retry budget, kept with the trial (leases.ts `ttlOf`, `retryOf`), and who it is (domain/worker.ts; a re-asked queued trial records its new holder).
  checkRetry(s.factory, s.study.config.strategy.name, { max_retries: a.max_retries }, "ask's");
  const own: Record<string, unknown> = {
    ...(a.lease_ttl_s !== undefined ? { lease_ttl_s: a.lease_ttl_s } : {}),
    ...(a.max_retries !== undefined ? { max_retries: a.max_retries } : {}),
    ...(worker !== undefined ? { worker: { ...worker } } : {}),
  };
  return core.mutate(requestId, "ask", (rc) => s.askLock.run(() => askLocked(core, s, rc, own, gone)));
}

/** @throws STUDY_STOPPED when the study was stopped or its trial budget is spent. */
function checkOpen(s: StudyState): void {
  if (s.study.stopped)
    throw new TuneportError("STUDY_STOPPED", `study '${s.study.name}' is stopped; it hands out no trials until resume_study`, {
      study: s.study.name,
      reason: "stopped",
    });
  const max = s.study.config.maxTrials;
  if (max !== undefined && s.started >= max)
    throw new TuneportError("STUDY_STOPPED", `study '${s.study.name}' has used its budget of ${plural(max, "trial")}`, {
      study: s.study.name,
      reason: "max_trials",
      max_trials: max,
    });
}

async function askLocked(core: ServiceCore, s: StudyState, rc: ReplyCtx | null, own: Record<string, unknown>, gone?: () => boolean): Promise<AskResult> {
  core.taking();
  if (gone?.() === true) throw requesterGone(s.study.name); // its client left (OpContext.gone)
  checkOpen(s);
  // 1. Enqueued or re-queued trials first; one lacking parameters the strategy models gets its values for them (trial-params.ts).
  const queued = await queuedSuggestion(core, s);
  const fromQueue = await s.writeLock.run(async () => {
    core.live(s);
    checkOpen(s);
    const n = s.waiting[0];
    if (n === undefined) return null;
    const prev = s.trials[n] as TrialRecord;
    const t: TrialRecord = { ...prev, params: { ...prev.params }, distributions: { ...prev.distributions }, systemAttrs: { ...queuedStartAttrs(s, prev), ...prev.systemAttrs, ...own } };
    t.state = "RUNNING";
    t.startedAt = core.now();
    t.lease = newLease(s, core.now(), t);
    if (queued?.trial === prev) takeQueuedSuggestion(s, queued, t); // computed for this record, unchanged since
    fillDeclared(core, s, t);
    return core.commit([{ kind: "update-trial", trial: t }], askResult(core, s, t), () => {
      setTrial(s, t);
      s.waiting.shift();
      s.running.add(n);
      s.started++;
      core.bump(s);
    }, rc);
  });
  if (fromQueue) return fromQueue;

  // 2. A new trial from the scheduler and the strategy, computed outside the write lock.
  const trialNumber = s.trials.length;
  const ctx = suggestContext(s); // the declared space, with the intersection's define-by-run parameters for `infersSpace` strategies (trial-params.ts)
  const req: SuggestRequest = { study: ctx, trials: trialsWithProposals(s, ctx), trialNumber, rng: Rng.derive(s.study.config.seed, trialNumber, "suggest") };
  const fromScheduler = s.scheduler?.beforeSuggest?.(req) ?? null;
  let params: Params = { ...(fromScheduler?.params ?? {}) };
  let systemAttrs: Record<string, unknown> = { ...(fromScheduler?.systemAttrs ?? {}) };
  const needsStrategy = Object.keys(ctx.space).some((k) => !(k in params));
  if (needsStrategy) {
    let suggestion: Suggestion;
    try {
      suggestion = await core.runner.suggest(s.factory, s.strategy, req);
    } catch (err) {
      if (err instanceof TuneportError) throw err;
      core.log.error({ err, study: s.study.name, strategy: s.ctx.strategy.name }, "strategy failed; falling back to random");
      suggestion = { params: {} };
    }
    params = { ...suggestion.params, ...params };
    systemAttrs = { ...(suggestion.systemAttrs ?? {}), ...systemAttrs };
  }

  return s.writeLock.run(async () => {
    // The study may have been deleted or stopped (or trials added) while the suggestion was computed.
    core.live(s);
    checkOpen(s);
    const number = s.trials.length;
    if (needsStrategy && s.strategy.revise) {
      const fresh: SuggestRequest = { study: ctx, trials: s.trials, trialNumber: number, rng: Rng.derive(s.study.config.seed, number, "revise") };
      const revised = s.strategy.revise(fresh, { params, systemAttrs });
      params = { ...revised.params, ...(fromScheduler?.params ?? {}) };
      systemAttrs = { ...(revised.systemAttrs ?? {}), ...(fromScheduler?.systemAttrs ?? {}) };
    }
    const now = core.now();
    const t: TrialRecord = {
      id: core.allocTrialId(),
      studyId: s.study.id,
      number,
      state: "RUNNING",
      params: {},
      distributions: {},
      values: null,
      value: null,
      constraints: null,
      intermediate: [],
      userAttrs: {},
      systemAttrs: { ...systemAttrs, ...own },
      createdAt: now,
      startedAt: now,
      finishedAt: null,
      lease: null,
    };
    t.lease = newLease(s, now, t);
    // The scheduler's define-by-run params too (an ASHA promotion continues its trial's configuration): fixed
    // as an enqueued trial's are, so its objective's suggest returns them. A strategy's are proposals (below).
    const fixed = fromScheduler?.params ?? {};
    for (const [k, v] of Object.entries(params)) if (k in s.study.config.space || k in fixed) t.params[k] = v;
    const proposed = proposalsOf(s, ctx, params, fixed);
    if (proposed) t.systemAttrs[PROPOSED_PARAMS] = proposed;
    fillDeclared(core, s, t);
    return core.commit([{ kind: "insert-trial", trial: t }], askResult(core, s, t), () => {
      setTrial(s, t);
      s.running.add(number);
      s.started++;
      core.bump(s);
    }, rc);
  });
}

function askResult(core: ServiceCore, s: StudyState, t: TrialRecord): AskResult {
  core.log.debug({ study: s.study.name, trial: t.number, params: t.params }, "trial started");
  const start = startOf(t);
  return { study: s.study.name, trial: trialView(t, core.now()), lease: leaseView(s, t.lease as Lease, t), budget: start.budget, start };
}

// ------------------------------------------------------------------ suggest, enqueue, attributes

/**
 * Define-by-run: the value of one parameter of a running trial. Returns the existing value when the
 * trial already has it (the first call's, under Optuna's rule for a repeat: `checkRepeat`). A
 * parameter the study does not declare may take another distribution in another trial (Optuna's
 * dynamic search space, e.g. `suggest_int("skip", 0, n_layers)`): each trial keeps its own, and
 * models learn a parameter only from trials that drew it from the same distribution (TPE's
 * encoder skips the others). @throws INVALID_ARGUMENT for a declared parameter with another
 * distribution than the declared one, the trial's or the one the study was created with.
 */
export async function suggest(core: ServiceCore, a: S.SuggestArgs, requestId?: string): Promise<{ value: ParamValue }> {
  const s = core.state(a.study);
  const dist = parseDistribution(a.name, a.distribution);
  return core.mutate(requestId, "suggest", (rc) =>
    s.writeLock.run(async () => {
      core.live(s);
      const t = trialOf(s, a.trial);
      checkLease(s, t, a.token);
      const known = s.paramDists.get(a.name);
      const declared = s.study.config.space[a.name];
      // Also as the trial drew it (widened since its ask) or as the study was created (the worker's script; update_study widened it).
      const agrees = (d: Distribution | undefined) => d !== undefined && distributionsEqual(d, dist);
      if (declared && !agrees(declared) && !agrees(t.distributions[a.name]) && !agrees(s.study.config.asCreated?.space?.[a.name]))
        throw invalidArgument(
          `parameter '${a.name}' is declared in study '${s.study.name}' as ${JSON.stringify(declared)}; it cannot be suggested as ${JSON.stringify(dist)}`,
          { param: a.name, existing: declared as unknown as Record<string, unknown> },
        );
      const first = t.distributions[a.name];
      // A declared parameter was checked above (its space may have been widened since the ask).
      if (first !== undefined && !declared) checkRepeat(a.name, t.number, first, dist);
      if (first !== undefined) return { value: t.params[a.name] as ParamValue };
      checkTrialDistributionsSize(a.name, t.distributions, dist);
      if (!known) checkNewParams(s, { [a.name]: dist });
      // An enqueued value: as given when the distribution holds it, its nearest grid point when it falls
      // between the step points (the closest a stored value's rule allows), else drawn.
      const fixed = t.params[a.name];
      const value =
        fixed === undefined ? (proposedValue(t, a.name, dist) ?? drawParam(core, s, t, a.name, dist)) : contains(dist, fixed) ? fixed : (nearestGridPoint(dist, fixed) ?? drawParam(core, s, t, a.name, dist));
      const next: TrialRecord = { ...t, params: { ...t.params, [a.name]: value }, distributions: { ...t.distributions, [a.name]: dist } };
      return core.commit([{ kind: "update-trial", trial: next }], { value }, () => {
        setTrial(s, next);
        learnParam(s, a.name, dist);
        core.bump(s);
      }, rc);
    }),
  );
}

/**
 * Queues a trial with fixed params, served by `ask` before the strategy's own suggestions.
 * Declared parameters must fit their distributions; others are checked when suggested.
 * With `skip_if_exists`, params equal to an existing trial's (the same names and values, numbers
 * within a relative 1e-5 as in Optuna) return that trial instead. @throws INVALID_ARGUMENT for a name a declared space does not know, or a value outside.
 */
export async function enqueue(core: ServiceCore, a: S.EnqueueArgs, requestId?: string): Promise<{ trial: TrialView; created: boolean } & QueueFacts> {
  const s = core.state(a.study);
  const params = a.params;
  // A study with a declared space knows its names: one it neither declares nor has seen
  // (define-by-run) is a typo, refused with the names it knows. A pure define-by-run study cannot tell.
  const declared = Object.keys(s.study.config.space);
  const unknown = declared.length > 0 ? Object.keys(params).filter((k) => !s.paramDists.has(k)) : [];
  if (unknown.length > 0)
    throw invalidArgument(`unknown parameter(s) ${unknown.map((k) => `'${k}'`).join(", ")}; the study's parameters are ${[...s.paramDists.keys()].join(", ")}`, {
      unknown,
      known: [...s.paramDists.keys()],
    });
  for (const [k, v] of Object.entries(params)) {
    const d = s.paramDists.get(k);
    const why = d ? whyNotContained(d, v) : null;
    if (d && why !== null) throw invalidArgument(`enqueued value ${JSON.stringify(v)} for '${k}' is ${why}: '${k}' is ${JSON.stringify(d)}`, { param: k });
  }
  if (a.user_attrs) checkAttrsSize(a.user_attrs);
  return core.mutate(requestId, "enqueue", (rc) =>
    s.writeLock.run(async () => {
      core.live(s);
      if (a.skip_if_exists) {
        const same = findEnqueued(s.trials, params);
        if (same) return { trial: trialView(same, core.now()), created: false, ...queueFacts(s, same) };
      }
      const now = core.now();
      const distributions: Record<string, Distribution> = {};
      for (const k of Object.keys(params)) {
        const d = s.paramDists.get(k);
        if (d) distributions[k] = d;
      }
      const t: TrialRecord = {
        id: core.allocTrialId(),
        studyId: s.study.id,
        number: s.trials.length,
        state: "WAITING",
        params: { ...params },
        distributions,
        values: null,
        value: null,
        constraints: null,
        intermediate: [],
        userAttrs: { ...(a.user_attrs ?? {}) },
        systemAttrs: { enqueued: true, fixed_params: { ...params }, ...(a.rationale ? { rationale: clipText(a.rationale, 4000) } : {}) },
        createdAt: now,
        startedAt: null,
        finishedAt: null,
        lease: null,
      };
      const result = { trial: trialView(t, now), created: true, ...queueFacts(s, t, true) };
      return core.commit([{ kind: "insert-trial", trial: t }], result, () => {
        addWaiting(s, t);
        core.bump(s);
      }, rc);
    }),
  );
}

/**
 * Merges user attributes into one trial and, with `notes`, replaces its notes (`system_attrs.notes`;
 * '' removes them). @throws NOT_FOUND, INVALID_ARGUMENT (size).
 */
export async function setTrialUserAttrs(
  core: ServiceCore,
  a: { study: string; trial: number; attrs?: Record<string, unknown>; notes?: string },
  requestId?: string,
): Promise<{ trial: TrialView }> {
  if (a.attrs === undefined && a.notes === undefined) throw invalidArgument("set_user_attrs needs attrs, notes or both");
  const s = core.state(a.study);
  return core.mutate(requestId, "set_user_attrs", (rc) =>
    s.writeLock.run(async () => {
      core.live(s);
      const t = trialOf(s, a.trial);
      const merged = { ...t.userAttrs, ...(a.attrs ?? {}) };
      checkAttrsSize(merged);
      let systemAttrs = t.systemAttrs;
      if (a.notes !== undefined) {
        const { notes: _old, ...rest } = t.systemAttrs;
        systemAttrs = a.notes === "" ? rest : { ...rest, notes: a.notes };
      }
      const next = { ...t, userAttrs: merged, systemAttrs };
      const result = { trial: trialView(next, core.now()) };
      return core.commit([{ kind: "update-trial", trial: next }], result, () => {
        setTrial(s, next);
        core.bump(s);
      }, rc);
    }),
  );
}

// ------------------------------------------------------------------ report and tell

/**
 * Records an intermediate value and returns the scheduler's (and strategy's) decision. Steps must
 * increase (the last step again with the same value: a fresh decision, nothing stored); NaN is stored,
 * the worst value for schedulers. @throws INVALID_ARGUMENT for hypergradients the strategy ignores.
 */
export async function report(core: ServiceCore, a: S.ReportArgs, requestId?: string): Promise<{ decision: Decision }> {
  const s = core.state(a.study);
  const { step, value } = a;
  if (!Number.isFinite(step) || step < 0) throw invalidArgument(`report: step: ${stepRefusal(step)}`);
  return core.mutate(requestId, "report", (rc) =>
    s.writeLock.run(async () => {
      core.live(s);
      const t = trialOf(s, a.trial);
      checkLease(s, t, a.token);
      refuseUnreadHypergradients(s, t.number, a.data);
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
      if (!repeat) checkRoomForIntermediate(s.study.name, t.number, t.intermediate.length, 1, core.maxIntermediate, carriedIntermediate(s.trials, t));
      // Appended in place: a copy per report made a trial's reports O(n²) (10,000 reports took 45 s
      // once it held 200,000, and the server's thread with them). The record that replaces `t`
      // shares the list; the entry is taken back if anything below throws before the commit is
      // queued (a commit that fails stops the process: memory is then ahead of storage).
      const intermediate = t.intermediate;
      if (!repeat) intermediate.push({ step, value });
      try {
        return decideReport(core, s, a, rc, { ...t, intermediate, lease: { token: (t.lease as Lease).token, expiresAt: core.now() + ttlOf(s, t) * 1000 } }, repeat);
      } catch (err) {
        if (!repeat) intermediate.pop();
        throw err;
      }
    }),
  );
}

/**
 * The rest of `report` once `next` holds its value: the scheduler's and the strategy's decision,
 * then the commit (queued before this returns; lazy for a decision that decides nothing).
 */
function decideReport(core: ServiceCore, s: StudyState, a: S.ReportArgs, rc: ReplyCtx | null, next: TrialRecord, repeat: boolean): { decision: Decision } {
  const { step, value } = a;
  const data = a.data ?? {};
  // The trial list with this report applied is O(n) to build, and the seeded generator costs a
  // hash: both only for plug-ins that read them (most reports reach neither).
  let withReport: TrialRecord[] | null = null;
  let rng: Rng | null = null;
  const rreq = {
    study: s.ctx,
    get trials(): TrialRecord[] {
      return (withReport ??= s.trials.map((x) => (x.number === next.number ? next : x)));
    },
    trial: next,
    step,
    value,
    data,
    get rng(): Rng {
      return (rng ??= Rng.derive(s.study.config.seed, next.number, "report", step));
    },
    stats: statsOf(s.agg),
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
    // The reply says what is stored: a value the plug-in got wrong (a NaN step) is neither kept
    // nor sent; the client goes on with the trial's current value of that parameter.
    const params = { ...next.params };
    const sent: Params = {};
    for (const [k, v] of Object.entries(decision.params)) {
      const d = next.distributions[k] ?? s.paramDists.get(k);
      if (!d || !contains(d, v)) {
        core.log.error({ study: s.study.name, param: k }, "plug-in proposed an invalid update; ignored");
        if (Object.hasOwn(next.params, k)) sent[k] = next.params[k] as ParamValue;
        continue;
      }
      params[k] = v;
      sent[k] = v;
    }
    next.params = params;
    decision = { ...decision, params: sent };
  }
  if (decision.action === "prune") attrs = { ...attrs, pruned_at_step: step };
  if (Object.keys(attrs).length > 0) next.systemAttrs = { ...next.systemAttrs, ...attrs };
  const changes: Change[] = [];
  if (!repeat) changes.push({ kind: "add-intermediate", trialId: next.id, step, value });
  if (Object.keys(attrs).length > 0 || decision.action === "update") changes.push({ kind: "update-trial", trial: next });
  else {
    const lease = leaseChange(s, next);
    if (lease) changes.push(lease);
  }
  // A report that decides nothing (a continue that stores no attribute and asks for no
  // deletion) is acknowledged before its commit (docs/DURABILITY.md "Intermediate values"):
  // losing it in a crash contradicts no decision. A continue's `budget` qualifies: schedulers
  // derive it from what is already stored (ASHA: the trial's `budget` attribute), so a restart
  // answers the same. Any other answer (prune, update, checkpoints to delete, a rung reached)
  // is committed before it is sent.
  const lazy = decision.action === "continue" && decision.delete_checkpoints === undefined && Object.keys(attrs).length === 0;
  return core.commit(changes, { decision }, () => {
    setTrial(s, next);
    core.bump(s);
  }, rc, lazy);
}

/**
 * Finishes a trial. COMPLETE needs one finite value per objective (`values`, or protocol v1's
 * `value` in a one-objective study) and may carry constraint values (c ≤ 0 feasible) whose count
 * the study's first COMPLETE trial fixed; in a one-objective study a NaN/infinite `value` marks a
 * diverged run where the strategy has `completesDiverged` (values null, `system_attrs.diverged`).
 * PRUNED takes optional values (default in a one-objective study: the last finite intermediate);
 * FAIL takes an optional reason and `interrupted` (the run was stopped, not failed: `failAttrs`;
 * refused with another state). The strategy's `onFinish` attributes are stored in the same commit.
 * Nothing is stored when a check fails. @throws LEASE_LOST, FAILED_PRECONDITION, INVALID_ARGUMENT.
 */
export async function tell(core: ServiceCore, a: S.TellArgs, requestId?: string): Promise<{ trial: TrialView }> {
  const s = core.state(a.study);
  const { state, value } = a;
  const directions = s.study.config.directions;
  const diverged =
    state === "COMPLETE" && directions.length === 1 && a.values === undefined && typeof value === "number" && !Number.isFinite(value) &&
    s.strategy.completesDiverged === true;
  const told = diverged ? null : toldValues(directions, a);
  if (a.constraints !== undefined && state !== "COMPLETE")
    throw invalidArgument(`constraints are told with a COMPLETE result only (this tell is ${state})`);
  if (a.interrupted === true && state !== "FAIL")
    throw invalidArgument(`interrupted is told with a FAIL only (this tell is ${state}): a COMPLETE or PRUNED trial has its result`);
  if (a.user_attrs) checkAttrsSize(a.user_attrs);
  return core.mutate(requestId, "tell", (rc) =>
    s.writeLock.run(async () => {
      core.live(s);
      const t = trialOf(s, a.trial);
      checkLease(s, t, a.token);
      // Under the lock: the first COMPLETE trial fixes the constraint count for all later ones.
      const constraints = state === "COMPLETE" ? checkConstraints(a.constraints, constraintCount(s.trials)) : null;
      const now = core.now();
      let values = told;
      if (state === "PRUNED" && values === null && directions.length === 1) {
        const lastFinite = [...t.intermediate].reverse().find((iv) => Number.isFinite(iv.value));
        values = lastFinite ? [lastFinite.value] : null;
      }
      const next: TrialRecord = {
        ...t,
        params: state === "FAIL" ? t.params : suggestedParams(t),
        state,
        ...valueFields(directions.length, values),
        constraints,
        finishedAt: now,
        lease: null,
        userAttrs: a.user_attrs ? { ...t.userAttrs, ...a.user_attrs } : t.userAttrs,
        systemAttrs: state === "FAIL" ? failAttrs(t.systemAttrs, a) : t.systemAttrs,
      };
      if (diverged) next.systemAttrs = { ...next.systemAttrs, diverged: String(value) };
      applyFinish(s, next);
      const changes: Change[] = [{ kind: "update-trial", trial: next }];
      const retry = state === "FAIL" && s.study.config.retry.retryOnFail ? retryOf(s, next, () => core.allocTrialId(), now) : null;
      if (retry) {
        next.systemAttrs = { ...next.systemAttrs, retried_as: retry.number };
        changes.push({ kind: "insert-trial", trial: retry });
      }
      const result = { trial: trialView(next, now) };
      return core.commit(changes, result, () => {
        setTrial(s, next);
        s.running.delete(t.number);
        if (retry) {
          addWaiting(s, retry);
          s.started--; // the retry counts when it is asked
        }
        core.bump(s);
        // One objective logs `value` as before; several log the vector.
        const logged = values && values.length === 1 ? { value: values[0] } : { values };
        core.log.info({ study: s.study.name, trial: t.number, state, ...logged }, "trial finished");
      }, rc);
    }),
  );
}

/**
 * A FAIL trial's system attributes: the reason told as `fail_reason`, and an interrupted run (the
 * client's Ctrl-C or stop signal, not its configuration) marked `interrupted: true`, with
 * `fail_reason` "interrupted" when no reason came. GP, TPE and auto do not learn from an interrupted
 * trial (../strategies/fidelity.ts `failedEvaluation`), as from a lost lease.
 */
function failAttrs(attrs: Record<string, unknown>, a: S.TellArgs): Record<string, unknown> {
  const reason = a.reason ? clipText(String(a.reason), 2000) : a.interrupted === true ? "interrupted" : undefined;
  if (reason === undefined) return attrs;
  return { ...attrs, fail_reason: reason, ...(a.interrupted === true ? { interrupted: true } : {}) };
}

/**
 * A finished trial's params are those it drew (Optuna's rule): an enqueued value the objective
 * never suggested is dropped, and stays in `system_attrs.fixed_params`. A FAIL keeps them all,
 * for its retry to run the same enqueued values.
 */
function suggestedParams(t: TrialRecord): Params {
  const entries = Object.entries(t.params);
  if (entries.every(([k]) => k in t.distributions)) return t.params;
  return Object.fromEntries(entries.filter(([k]) => k in t.distributions));
}

/**
 * The objective values a tell carries, checked before anything is locked: COMPLETE needs them
 * all finite; PRUNED's are optional (all finite when given); FAIL's are ignored.
 * @throws INVALID_ARGUMENT.
 */
function toldValues(directions: readonly Direction[], a: S.TellArgs): number[] | null {
  if (a.state === "COMPLETE") return checkCompleteValues(directions, a.value, a.values);
  if (a.state === "PRUNED") {
    const given = a.values !== undefined || (a.value !== undefined && a.value !== null);
    if (!given) return null;
    try {
      return checkCompleteValues(directions, a.value, a.values);
    } catch (err) {
      throw invalidArgument(`a PRUNED trial's values must be finite when given: ${(err as Error).message}`);
    }
  }
  return null; // a FAIL tell's values are ignored, as in protocol v1
}
