/**
 * The service's in-memory copy of a study: its trials (the only mutable copies), the indexes the
 * hot paths need, its plug-ins and its locks. Handed out read-only to everything else.
 */
import { type Distribution, MAX_TRIAL_DISTRIBUTION_CHARS, type Params, contains, distributionChars } from "../domain/distributions.js";
import { invalidArgument } from "../domain/errors.js";
import { type Study, type TrialState, countsAgainstBudget as trialCountsAgainstBudget } from "../domain/trial.js";
import type { Scheduler, Strategy, StrategyFactory, StudyContext } from "../domain/plugin.js";
import type { Lease } from "../storage/storage.js";
import { type Finishes, type StudyAggregates, buildAggregates, finishesOf, putTrial } from "./aggregates.js";
import { Mutex } from "./mutex.js";
import type { PluginCatalogue } from "./plugins.js";
import { type StudyView, studyView } from "./views.js";

/** The mutable in-memory trial the service owns; handed out read-only. */
export interface TrialRecord {
  id: number;
  studyId: number;
  number: number;
  state: TrialState;
  params: Params;
  distributions: Record<string, Distribution>;
  /** The objective values (see domain/trial.ts); `value` is `values[0]` in a one-objective study. */
  values: readonly number[] | null;
  value: number | null;
  constraints: readonly number[] | null;
  intermediate: { step: number; value: number }[];
  userAttrs: Record<string, unknown>;
  systemAttrs: Record<string, unknown>;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  lease: Lease | null;
  /** The lease expiry last written to storage (see leases.ts); memory may be ahead. */
  persistedExpiry?: number;
}

export interface StudyState {
  study: Study;
  trials: TrialRecord[];
  /** Numbers of WAITING trials, oldest first. */
  waiting: number[];
  running: Set<number>;
  /** Every distribution a parameter name was used with (the declared space included); add with `learnParam`. */
  paramDists: Map<string, Distribution>;
  /** Characters of JSON of the define-by-run entries of `paramDists` (see `checkNewParams`). */
  defineByRunChars: number;
  ctx: StudyContext;
  strategy: Strategy;
  factory: StrategyFactory<unknown>;
  scheduler: Scheduler | null;
  /** Serialises asks among themselves (long when a model is fitted). */
  askLock: Mutex;
  /** Serialises read-modify-commit-apply sequences (short). */
  writeLock: Mutex;
  /** Set under the write lock by a delete; every later mutation of this state must refuse. */
  deleted: boolean;
  /** Bumped on every change; `waitForChange` listeners compare it. */
  version: number;
  /**
   * Trials started by `ask` that count against `maxTrials`: every trial that left WAITING, except
   * one that was re-queued after a lost lease (its retry counts when it is asked).
   */
  started: number;
  /** Counts, best and per-step statistics, maintained by `setTrial` (see aggregates.ts). */
  agg: StudyAggregates;
}

/**
 * The one way to change a study's trial list: puts `t` at `s.trials[t.number]` (replacing, or
 * appending the next number) and keeps `s.agg` up to date. Callers hold the write lock.
 */
export function setTrial(s: StudyState, t: TrialRecord): void {
  putTrial(s.agg, s.trials, t);
}

/** Whether a trial counts against the study's trial budget (see `StudyState.started`). */
export function countsAgainstBudget(t: TrialRecord): boolean {
  // Cancelled proposals and trials recorded with add_trial were never asked (steering.ts).
  return trialCountsAgainstBudget(t.state, t.systemAttrs);
}

/**
 * Refuses a report whose `data` carries `hypergradients` to a study whose strategy does not read
 * them (`StrategyFactory.readsHypergradients`): taken, they would be ignored, and the
 * hyperparameters the training loop means to tune would never move without a word. Called under
 * the write lock (update_study may switch the strategy). @throws INVALID_ARGUMENT naming the strategy.
 */
export function refuseUnreadHypergradients(s: StudyState, trial: number, data: Record<string, unknown> | undefined): void {
  if (data?.hypergradients == null || s.factory.readsHypergradients === true) return;
  const strategy = s.study.config.strategy.name;
  throw invalidArgument(
    `hypergradients reported for trial ${trial} of '${s.study.name}' would be ignored: the study's strategy '${strategy}' ` +
      "does not read them (strategy='hypergradient' does); create the study with strategy='hypergradient', or report without hypergradients",
    { study: s.study.name, trial, strategy },
  );
}

/**
 * Most characters of JSON a study's define-by-run parameters take together (each name and the
 * distribution it was first drawn from: the study view's `define_by_run`). A trial's are bounded
 * (MAX_TRIAL_DISTRIBUTION_CHARS), but a new name per trial grew them without end, and every view of
 * the study carries them all: 12 trials that each drew a 1 MB categorical of their own made every
 * get_study, stop_study and update_study reply 12 MB (the changes' stored for resends), and more would
 * have made them too big to send.
 */
export const MAX_DEFINE_BY_RUN_CHARS = MAX_TRIAL_DISTRIBUTION_CHARS;

/**
 * @throws INVALID_ARGUMENT when the parameters of `added` that the study has not seen yet would take its
 * define-by-run ones over MAX_DEFINE_BY_RUN_CHARS. Before the change is applied (`learnParam` after).
 */
export function checkNewParams(s: StudyState, added: Readonly<Record<string, Distribution>>): void {
  let chars = s.defineByRunChars;
  for (const [name, d] of Object.entries(added)) if (!s.paramDists.has(name)) chars += name.length + distributionChars(d);
  if (chars <= MAX_DEFINE_BY_RUN_CHARS) return;
  const names = Object.keys(added).filter((k) => !s.paramDists.has(k));
  throw invalidArgument(
    `parameter ${names.map((k) => `'${k}'`).join(", ")}: the define-by-run parameters of study '${s.study.name}' take at most ` +
      `${MAX_DEFINE_BY_RUN_CHARS.toLocaleString("en-US")} characters of JSON together (with ${names.length === 1 ? "this one" : "these"}, ${chars.toLocaleString("en-US")}), ` +
      "and every view of the study carries them: reuse parameter names across trials, or search a large categorical as an int parameter indexing its choices",
    { param: names[0], max_chars: MAX_DEFINE_BY_RUN_CHARS, chars },
  );
}

/** Records the first distribution `name` is used with in the study (`paramDists`). */
export function learnParam(s: StudyState, name: string, d: Distribution): void {
  if (s.paramDists.has(name)) return;
  s.paramDists.set(name, d);
  if (!Object.hasOwn(s.study.config.space, name)) s.defineByRunChars += name.length + distributionChars(d);
}

/** Builds the state of a study from its stored trials (in number order). */
export function makeState(study: Study, trials: TrialRecord[], plugins: PluginCatalogue): StudyState {
  const { strategy, factory } = plugins.loadStrategy(study.config.strategy);
  const paramDists = new Map<string, Distribution>(Object.entries(study.config.space));
  const waiting: number[] = [];
  const running = new Set<number>();
  let started = 0;
  let defineByRunChars = 0;
  for (const t of trials) {
    if (countsAgainstBudget(t)) started++;
    for (const [k, d] of Object.entries(t.distributions))
      if (!paramDists.has(k)) {
        paramDists.set(k, d);
        defineByRunChars += k.length + distributionChars(d);
      }
    if (t.state === "WAITING") waiting.push(t.number);
    if (t.state === "RUNNING") running.add(t.number);
  }
  return {
    study,
    trials,
    waiting,
    running,
    paramDists,
    defineByRunChars,
    ctx: {
      name: study.name,
      directions: study.config.directions,
      direction: study.config.direction,
      space: study.config.space,
      seed: study.config.seed,
      strategy: study.config.strategy,
      scheduler: study.config.scheduler,
    },
    strategy,
    factory,
    scheduler: plugins.loadScheduler(study.config.scheduler),
    askLock: new Mutex(),
    writeLock: new Mutex(),
    deleted: false,
    version: 0,
    started,
    agg: buildAggregates(study.config.direction, trials, study.config.directions),
  };
}

/** Trial counts by state (a copy of the aggregate: O(1)). */
export function countsOf(s: StudyState): Record<TrialState, number> {
  return { ...s.agg.counts };
}

/** The best COMPLETE trial (ties: the earlier one), from the aggregate: O(1). */
export function bestOf(s: StudyState): TrialRecord | null {
  return s.agg.best;
}

/** The study's wire view: config, counts and best trial, from the aggregates (O(1) in the trials). */
export function viewOf(s: StudyState): StudyView {
  return studyView(s.study, countsOf(s), s.agg.best, s.paramDists);
}

/**
 * get_study's answer: the view, and the finished trials by how they finished (aggregates.ts
 * `Finishes`: what wait_for_progress counts), from one snapshot, O(1) in the trials.
 */
export function readOf(s: StudyState): { study: StudyView; finishes: Finishes } {
  return { study: viewOf(s), finishes: finishesOf(s.agg) };
}

/**
 * The strategy's look at a trial that `tell` or the reaper finishes (`Strategy.onFinish`): its
 * attributes merged into `next` (the finished record), and its params over the trial's (declared
 * ones inside their distributions only).
 */
export function applyFinish(s: StudyState, next: TrialRecord): void {
  const finish = s.strategy.onFinish?.({ study: s.ctx, trials: s.trials.map((x) => (x.number === next.number ? next : x)), trial: next });
  if (finish?.systemAttrs) next.systemAttrs = { ...next.systemAttrs, ...finish.systemAttrs };
  if (!finish?.params) return;
  const params = { ...next.params };
  for (const [k, v] of Object.entries(finish.params)) {
    const d = next.distributions[k];
    if (d && contains(d, v)) params[k] = v;
  }
  next.params = params;
}
