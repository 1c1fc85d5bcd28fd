/**
 * Aggregates of a study maintained on write, so that reads and pruners need not scan every trial:
 *
 * - `counts`: trials by state;
 * - `best`: the best feasible COMPLETE trial (ties: the earlier number, as `bestTrial`); none in a
 *   multi-objective study;
 * - `stepLosses`: per step, the values COMPLETE trials reported at exactly that step, as losses
 *   (`lossOf`: sign-flipped for maximize, NaN as +Infinity) sorted ascending — what the
 *   percentile/median schedulers compare a report with (see `StudyStats` in domain/plugin.ts);
 * - `infeasible`: COMPLETE trials with a violated constraint;
 * - `front`: the record trials (front-records.ts), from which the Pareto front (`best_trials`) and
 *   its hypervolume history are read; built on the first read that needs them (`frontRecordsOf`),
 *   then kept by `putTrial`;
 * - `finishes`: the finished (COMPLETE, PRUNED, FAIL) trials by how they finished: by an
 *   evaluation, or not (a queued trial cancelled, a result recorded with add_trial), which is
 *   what wait_for_progress counts (`finishesOf`).
 *
 * Contract: every change to a study's trial list goes through `putTrial` (replace or append a
 * record), which updates the aggregates in O(1) for counts, finishes and best, and O(steps · log m) for
 * the step losses when a trial enters or leaves COMPLETE. `buildAggregates` computes them from
 * scratch (at load, and in tests to check that `putTrial` never drifts).
 */
import { type Distribution, distributionsEqual } from "../domain/distributions.js";
import { type Direction, TRIAL_STATES, type TrialState, finishHow, isBetter } from "../domain/trial.js";
import type { StudyStats } from "../domain/plugin.js";
import { isFeasibleVector } from "../domain/objectives.js";
import { type FrontRecords, buildRecords, updateRecords } from "./front-records.js";
import type { TrialRecord } from "./study-state.js";

export interface StudyAggregates {
  readonly direction: Direction;
  /** Every objective's direction (one for a one-objective study). */
  readonly directions: readonly Direction[];
  readonly counts: Record<TrialState, number>;
  best: TrialRecord | null;
  /** Per step: the losses of COMPLETE trials at that step, ascending. */
  readonly stepLosses: Map<number, number[]>;
  /** COMPLETE trials with a constraint > 0. */
  infeasible: number;
  /** The record trials once a read asked for them (see the file comment). */
  front: FrontRecords | null;
  /**
   * The parameters every COMPLETE trial has, each with the one distribution they all drew it from
   * (Optuna's IntersectionSearchSpace); null before the first COMPLETE trial. See trial-params.ts.
   */
  intersection: Map<string, Distribution> | null;
  /** The same over COMPLETE and PRUNED trials (`IntersectionSearchSpace(include_pruned=True)`, TPE's). */
  finishedIntersection: Map<string, Distribution> | null;
  /** The finished trials by how they finished (`Finishes`); their sum is COMPLETE + PRUNED + FAIL. */
  readonly finishes: Finishes;
}

/**
 * A study's finished trials (COMPLETE, PRUNED, FAIL) by how they finished, known by their system
 * attributes (service/steering.ts): a queued trial cancelled (cancel_trial: FAIL, `cancelled`) and
 * a result recorded with add_trial (`added`) were never evaluated; every other finish was (a
 * tell, a prune, a lost lease). What wait_for_progress waits for is the first: a cancel or an
 * add_trial raised the finished count too, and ended a wait for one trial with "1 trial finished".
 */
export interface Finishes {
  evaluated: number;
  cancelled: number;
  added: number;
}

/** How trial `t` counts in `Finishes` (domain/trial.ts `finishHow`), or null while it is not finished. */
function finishKind(t: TrialRecord): keyof Finishes | null {
  return finishHow(t.state, t.systemAttrs);
}

/** A copy of the study's `finishes` (O(1)). */
export function finishesOf(agg: StudyAggregates): Finishes {
  return { ...agg.finishes };
}

/** The loss of `v` for `direction` (as schedulers/common.ts `lossOf`: NaN is the worst). */
function lossOf(direction: Direction, v: number): number {
  if (Number.isNaN(v)) return Infinity;
  return direction === "minimize" ? v : -v;
}

/** The aggregates of `trials` (in number order), from scratch. */
export function buildAggregates(direction: Direction, trials: readonly TrialRecord[], directions: readonly Direction[] = [direction]): StudyAggregates {
  const agg: StudyAggregates = {
    direction,
    directions,
    counts: Object.fromEntries(TRIAL_STATES.map((st) => [st, 0])) as Record<TrialState, number>,
    best: null,
    stepLosses: new Map(),
    infeasible: 0,
    front: null,
    intersection: null,
    finishedIntersection: null,
    finishes: { evaluated: 0, cancelled: 0, added: 0 },
  };
  for (const t of trials) {
    agg.counts[t.state]++;
    const kind = finishKind(t);
    if (kind !== null) agg.finishes[kind]++;
    if (isInfeasible(t)) agg.infeasible++;
    if (isCandidate(t) && (agg.best === null || isBetter(direction, t.value as number, agg.best.value as number))) agg.best = t;
    if (isFinished(t)) agg.finishedIntersection = intersect(agg.finishedIntersection, t);
    if (t.state !== "COMPLETE") continue;
    agg.intersection = intersect(agg.intersection, t);
    for (const iv of t.intermediate) lossesAt(agg, iv.step).push(lossOf(direction, iv.value));
  }
  // One sort per step, not an insertion per value: inserting 100,000 values one by one into a
  // sorted array moves O(n²) elements (0.4 s at a study's load at 100,000 trials). The sort is
  // stable, so equal losses keep the order `putTrial`'s insertions would give them.
  for (const xs of agg.stepLosses.values()) xs.sort((a, b) => a - b);
  return agg;
}

/** `space` (null: none yet) narrowed to the parameters trial `t` drew with the same distribution. */
function intersect(space: Map<string, Distribution> | null, t: TrialRecord): Map<string, Distribution> {
  if (space === null) return new Map(Object.entries(t.distributions));
  for (const [k, d] of space) {
    const own = t.distributions[k];
    if (own === undefined || !distributionsEqual(own, d)) space.delete(k);
  }
  return space;
}

/** COMPLETE or PRUNED: what `finishedIntersection` counts. */
function isFinished(t: TrialRecord): boolean {
  return t.state === "COMPLETE" || t.state === "PRUNED";
}

function isInfeasible(t: TrialRecord): boolean {
  return t.state === "COMPLETE" && !isFeasibleVector(t.constraints);
}

/**
 * A study's record trials (front-records.ts; with one objective, the trials that matched or beat
 * the best before them), built from `trials` on the first call; null when the study has too many
 * to keep (`overflow`).
 */
export function frontRecordsOf(agg: StudyAggregates, trials: readonly TrialRecord[]): FrontRecords | null {
  agg.front ??= buildRecords(agg.directions, trials);
  return agg.front.overflow ? null : agg.front;
}

/** The study's COMPLETE and feasible COMPLETE counts (what a front read from its records reports). */
export function frontCountsOf(agg: StudyAggregates): { complete: number; feasible: number } {
  return { complete: agg.counts.COMPLETE, feasible: agg.counts.COMPLETE - agg.infeasible };
}

/**
 * A trial that may be `best`: COMPLETE, with a value (a multi-objective trial has none: its
 * study's best trials are the Pareto front) and feasible (domain/objectives.ts).
 */
function isCandidate(t: TrialRecord): boolean {
  return t.state === "COMPLETE" && t.value !== null && isFeasibleVector(t.constraints);
}

/** Whether `a` ranks before `b` as the best (better value, or equal and earlier). */
function ranksBefore(direction: Direction, a: TrialRecord, b: TrialRecord): boolean {
  const av = a.value as number;
  const bv = b.value as number;
  return isBetter(direction, av, bv) || (av === bv && a.number < b.number);
}

function insertSorted(xs: number[], x: number): void {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((xs[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  xs.splice(lo, 0, x);
}

/** The losses list of `step`, created empty when the step has none yet. */
function lossesAt(agg: StudyAggregates, step: number): number[] {
  let xs = agg.stepLosses.get(step);
  if (!xs) agg.stepLosses.set(step, (xs = []));
  return xs;
}

function addLosses(agg: StudyAggregates, t: TrialRecord): void {
  for (const iv of t.intermediate) insertSorted(lossesAt(agg, iv.step), lossOf(agg.direction, iv.value));
}

function removeLosses(agg: StudyAggregates, t: TrialRecord): void {
  for (const iv of t.intermediate) {
    const xs = agg.stepLosses.get(iv.step);
    if (!xs) continue;
    const i = xs.indexOf(lossOf(agg.direction, iv.value));
    if (i >= 0) xs.splice(i, 1);
    if (xs.length === 0) agg.stepLosses.delete(iv.step);
  }
}

/**
 * Puts `next` at `trials[next.number]` (replacing the record there, or appending when
 * `next.number === trials.length`) and updates `agg`. When the best trial stops being a
 * candidate (a rare event: its record changes state), the best is found again by one scan.
 */
export function putTrial(agg: StudyAggregates, trials: TrialRecord[], next: TrialRecord): void {
  const prev = trials[next.number];
  if (prev === undefined && next.number !== trials.length)
    throw new Error(`putTrial: trial ${next.number} is neither present nor next (${trials.length} trials)`);
  trials[next.number] = next;
  if (agg.front !== null) updateRecords(agg.front, trials, prev, next);
  if (prev && isInfeasible(prev)) agg.infeasible--;
  if (isInfeasible(next)) agg.infeasible++;
  if (prev) {
    agg.counts[prev.state]--;
    if (prev.state === "COMPLETE" && (next.state !== "COMPLETE" || next.intermediate !== prev.intermediate)) removeLosses(agg, prev);
  }
  agg.counts[next.state]++;
  const was = prev ? finishKind(prev) : null;
  const is = finishKind(next);
  if (was !== null) agg.finishes[was]--;
  if (is !== null) agg.finishes[is]++;
  if (next.state === "COMPLETE" && (!prev || prev.state !== "COMPLETE" || next.intermediate !== prev.intermediate)) addLosses(agg, next);
  if (next.state === "COMPLETE" && prev?.state !== "COMPLETE") agg.intersection = intersect(agg.intersection, next);
  else if (prev?.state === "COMPLETE" && next.state !== "COMPLETE") {
    // A COMPLETE trial left that state (never through the ops today): the intersection can only widen, so rebuild it.
    agg.intersection = null;
    for (const t of trials) if (t.state === "COMPLETE") agg.intersection = intersect(agg.intersection, t);
  }
  if (isFinished(next) && !(prev && isFinished(prev))) agg.finishedIntersection = intersect(agg.finishedIntersection, next);
  else if (prev && isFinished(prev) && !isFinished(next)) {
    agg.finishedIntersection = null;
    for (const t of trials) if (isFinished(t)) agg.finishedIntersection = intersect(agg.finishedIntersection, t);
  }

  const wasBest = agg.best !== null && agg.best.number === next.number;
  if (wasBest && (!isCandidate(next) || next.value !== (agg.best as TrialRecord).value)) {
    agg.best = null;
    for (const t of trials) if (isCandidate(t) && (agg.best === null || ranksBefore(agg.direction, t, agg.best))) agg.best = t;
    return;
  }
  if (wasBest) agg.best = next; // same value, newer record (attributes changed)
  else if (isCandidate(next) && (agg.best === null || ranksBefore(agg.direction, next, agg.best))) agg.best = next;
}

/** The statistics the plug-ins read instead of scanning the trials (domain/plugin.ts `StudyStats`). */
export function statsOf(agg: StudyAggregates): StudyStats {
  return {
    completeCount: agg.counts.COMPLETE,
    completeLossesAt: (step: number) => agg.stepLosses.get(step) ?? EMPTY,
  };
}

const EMPTY: readonly number[] = Object.freeze([]);
