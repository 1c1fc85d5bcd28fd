/**
 * How model-based strategies read a history made under a pruner or a multi-fidelity scheduler.
 *
 * Under median pruning or ASHA most trials stop early: PRUNED (stopped at a rung) or, in
 * promotion-mode ASHA, COMPLETE at a rung's budget below the top. A model that reads only
 * COMPLETE final values then learns almost nothing (issue 17: a GP stayed in its random start
 * for 845 trials) and, worse, never learns that a configuration it proposed was stopped, so it
 * proposes it again. This module turns such a history into training data; plain studies
 * (no reports, no scheduler attributes) come out exactly as before, but for their failed
 * evaluations (below).
 *
 * Terms
 * - depth of a trial: the step of its last report. A COMPLETE trial that trained to the study's
 *   full budget has depth +∞ (its told value is final); one that stopped at a lower rung's budget
 *   (`partial`, see below) has the depth of its last report. A trial without reports has no depth
 *   unless it is COMPLETE (then +∞).
 * - partial: a COMPLETE trial whose scheduler budget (`systemAttrs.budget`) is below the largest
 *   budget any trial of the study was given (promotion-mode ASHA's lower rungs).
 * - superseded: a trial that a later trial continues (`systemAttrs.resume_from`, ASHA promotion)
 *   once the continuation finished: the configuration is then represented by the continuation
 *   alone, so no configuration appears twice with contradicting values. While the continuation
 *   runs, the trial it continues stands for the configuration and the continuation is left out
 *   (it is neither pending nor, for TPE, a constant-liar "bad" trial).
 *
 * TPE (`splitTrials`) ranks partial COMPLETE trials with the PRUNED ones — deepest first, then by
 * the value at that depth — which is Optuna 5.0's rule for pruned trials
 * (`optuna/samplers/_tpe/sampler.py`, `_get_pruned_trial_score`), except for diverged runs
 * (`stoppedRankKey`) — and skips superseded trials; by default it also leaves out the trials
 * that "informed" leaves out of the GP's rows (`stoppedEarly`, below).
 *
 * The GP (`fidelityData`) gets values at one fidelity level plus imputed losses, chosen on
 * bench/multifidelity.py (docs/BENCHMARKS.md, "Which training data for the GP"):
 * - level L: the largest depth that at least `minObserved` trials reached (BOHB's rule, Falkner
 *   et al. 2018 §4.1, "the largest budget with enough observations", with the GP's start-up size
 *   as "enough"); +∞ when that many trials completed their full budget.
 * - observed rows: trials of depth ≥ L, with the value of their first report at a step ≥ L (at
 *   L = +∞, or without reports, the told value). RUNNING trials that passed L count too.
 * - imputed rows: finished trials that stopped below L (or whose value at L is NaN/±∞). They were
 *   stopped for being worse than their peers, so each gets a loss just above the worst observed
 *   one, ordered among themselves by Optuna's pruned-trial rank:
 *   loss = worst + IMPUTE_MARGIN · spread · (1 + rank / m), spread = worst − best observed loss.
 *   The model so learns where stopped configurations lie and does not propose them again.
 *   Except (mode "informed", the GP's default): a trial stopped, finite, before a ninth of the
 *   largest scheduler budget is left out, not imputed (`early`). Hyperband's aggressive brackets
 *   stop after 1 or 3 of 81 steps, where rankings say little when curves cross or start slowly;
 *   ASHA's first rung is at R/η² (a ninth at η = 3), so under ASHA nothing changes. On
 *   bench/multifidelity.py under Hyperband, 30 seeds, against "level": slow-start 25–5,
 *   diverge 19–10, crossing 17–13, learning-curve 13–17 (docs/BENCHMARKS.md, "Multi-fidelity").
 * - pending: RUNNING and WAITING trials that are not rows (the GP's kriging believers), and failed
 *   evaluations (`failedEvaluation`: FAIL trials whose objective raised or gave NaN/±∞), in plain
 *   studies too. Left out, as Optuna's GPSampler leaves out FAIL trials, they taught the model
 *   nothing: a region where the objective fails kept its prior variance, and EI proposed into it
 *   again and again (a 4-D problem failing on 40% of its space: 89% of the GP's proposals went
 *   there, random search's 38%; docs/BENCHMARKS.md, "Failed trials"). As believers they collapse
 *   the variance where they lie, so the GP moves on (56%), without the cliff that imputing the
 *   worst loss (SMAC's rule for crashed runs) puts into the model: imputed, they sent the GP's
 *   proposals there 8% of the time but, where a quarter of all evaluations failed at random,
 *   left its best value 1000× worse (2.5e-2 against 7e-6 ignored, 1.5e-5 as believers). TPE ranks
 *   them worst (tpe-strategy.ts), where such noise costs little.
 *
 * Three alternatives stay selectable (`FidelityMode`) because the benchmark compares them:
 * "level" imputes every stopped trial;
 * "common" takes the values at the highest level every trial with reports reached (the lowest
 * depth: under ASHA the first rung), so nothing is imputed; "observed" is "level" without the
 * imputed rows (BOHB's model of one budget sees only that budget's observations).
 */
import type { Direction, Trial } from "../domain/trial.js";
import { spearman } from "../math/ranks.js";

/** Imputed losses lie within (worst, worst + 2·IMPUTE_MARGIN·spread] of the observed ones. */
export const IMPUTE_MARGIN = 0.1;

/** The loss (smaller is better) of a value; NaN stays NaN. */
function lossOf(direction: Direction, v: number): number {
  return direction === "minimize" ? v : -v;
}

/** The budget attribute a scheduler gave a trial, or undefined. */
function budgetOf(t: Trial): number | undefined {
  const b = t.systemAttrs.budget;
  return typeof b === "number" && Number.isFinite(b) ? b : undefined;
}

/** The largest scheduler budget given to any trial, or undefined when no trial has one. */
export function topBudget(trials: readonly Trial[]): number | undefined {
  let top: number | undefined;
  for (const t of trials) {
    const b = budgetOf(t);
    if (b !== undefined && (top === undefined || b > top)) top = b;
  }
  return top;
}

/** Whether a COMPLETE trial stopped at a budget below the study's largest one (see the header). */
export function isPartial(t: Trial, top: number | undefined): boolean {
  if (t.state !== "COMPLETE" || top === undefined) return false;
  const b = budgetOf(t);
  return b !== undefined && b < top;
}

/**
 * Numbers of the trials to leave out (see the header): those a finished continuation supersedes,
 * and continuations still running or waiting.
 */
export function supersededTrials(trials: readonly Trial[]): Set<number> {
  const out = new Set<number>();
  for (const t of trials) {
    const from = t.systemAttrs.resume_from;
    if (typeof from !== "number") continue;
    out.add(t.state === "COMPLETE" || t.state === "PRUNED" ? from : t.number);
  }
  return out;
}

/** The depth of a trial (see the header), or null when it has none. */
export function depthOf(t: Trial, top: number | undefined): number | null {
  if (t.state === "COMPLETE" && !isPartial(t, top)) return Infinity;
  const last = t.intermediate[t.intermediate.length - 1];
  return last === undefined ? null : last.step;
}

/**
 * The ranking key of a stopped trial, smaller first. Optuna's (`_get_pruned_trial_score`): deeper
 * first, then better last value; a trial without reports after those. One departure: a trial whose
 * last report is NaN (a run that diverged) ranks after every other trial, deeper divergences first.
 * Optuna ranks it last within its depth only, so a run that blew up at step 20 outranked one that a
 * scheduler stopped, finite, at step 9, and a model put the diverging region among its good trials
 * (docs/BENCHMARKS.md, "Multi-fidelity and pruning", "Diverged runs rank last").
 */
export function stoppedRankKey(t: Trial, direction: Direction): [number, number] {
  const last = t.intermediate[t.intermediate.length - 1];
  if (last === undefined) return [1, 0];
  return diverged(t) ? [Infinity, -last.step] : [-last.step, lossOf(direction, last.value)];
}

/**
 * Whether a trial is a failed evaluation: FAIL after its configuration was evaluated (the objective
 * raised, or gave NaN or ±∞, or the worker told `fail`). Not one whose worker vanished (lease
 * expired), one its client told interrupted (`system_attrs.interrupted`: the user's Ctrl-C or a stop
 * signal), a cancelled proposal, nor one whose retry was queued (the retry stands for it): those
 * say nothing about their configuration.
 */
export function failedEvaluation(t: Trial): boolean {
  return (
    t.state === "FAIL" &&
    t.systemAttrs.fail_reason !== "lease_expired" &&
    t.systemAttrs.interrupted !== true &&
    t.systemAttrs.cancelled === undefined &&
    t.systemAttrs.retried_as === undefined
  );
}

/** Whether a trial's last report is NaN: a run that diverged. */
function diverged(t: Trial): boolean {
  const last = t.intermediate[t.intermediate.length - 1];
  return last !== undefined && Number.isNaN(last.value);
}

/**
 * Whether "informed" leaves a stopped trial out: it stopped, finite, before INFORMED_STOP_SHARE of
 * the largest scheduler budget (Hyperband's aggressive brackets stop after 1 or 3 of 81 steps, where
 * rankings say little when curves cross or start slowly). A run that diverged stays imputed.
 */
function early(t: Trial, depth: number | null, top: number | undefined): boolean {
  return depth !== null && top !== undefined && depth < top * INFORMED_STOP_SHARE && !diverged(t);
}

/**
 * Whether a finished trial stopped, finite, before INFORMED_STOP_SHARE of the largest scheduler
 * budget: what "informed" leaves out of the GP's rows (`early`) and TPE's `fidelity: "informed"`
 * out of its split.
 */
export function stoppedEarly(t: Trial, top: number | undefined): boolean {
  if (t.state !== "PRUNED" && !(t.state === "COMPLETE" && isPartial(t, top))) return false;
  return early(t, depthOf(t, top), top);
}

/** The value of the first report at a step ≥ level, or undefined. */
function valueAtLevel(t: Trial, level: number): number | undefined {
  for (const iv of t.intermediate) if (iv.step >= level) return iv.value;
  return undefined;
}

/** How `fidelityData` picks the level and treats trials stopped below it (see the header). */
export type FidelityMode = "level" | "common" | "observed" | "informed";

/**
 * How the level is chosen (not under "common"): "count", the largest depth that `minObserved`
 * trials reached (the header); "rank", that level L unless the study's own data says L ranks a
 * deeper depth poorly: L' = the largest depth RANK_LEVEL_PAIRS trials reached, and when L' > L and
 * the values at L of those trials rank their values at L' (their told values at L' = +∞) with
 * Spearman's ρ below RANK_LEVEL_RHO, the level is L'. Not the default: on bench/multifidelity.py
 * under stopping ASHA, 30 seeds, crossing's steps to random-full's quality fell from 1,080 to 860,
 * but diverge's rose from 954 to 968 (one seed fewer reaching it) and the final best was level,
 * 12–12 pooled (docs/BENCHMARKS.md, "Crossing and the ≤ 1/3 goal", C).
 */
export type LevelRule = "count" | "rank";

/** "rank": the pairs needed before a deeper depth's ranking is trusted, and the ρ below which it wins. */
export const RANK_LEVEL_PAIRS = 5;
export const RANK_LEVEL_RHO = 0.5;

/** The value of a trial at a depth: its first report at a step ≥ it, or at +∞ (or without reports) its told value. */
function valueAt(t: Trial, level: number): number {
  return level === Infinity || t.intermediate.length === 0 ? (t.value ?? NaN) : (valueAtLevel(t, level) ?? t.value ?? NaN);
}

/**
 * "rank" (see `LevelRule`): the deeper level L' when at least RANK_LEVEL_PAIRS trials reached it
 * with finite values at both L and L' and those rank each other with ρ < RANK_LEVEL_RHO; else L.
 */
function rankLevel(candidates: readonly { t: Trial; depth: number | null }[], depths: readonly number[], level: number): number {
  const deeper = depths[RANK_LEVEL_PAIRS - 1];
  if (deeper === undefined || deeper <= level) return level;
  const low: number[] = [];
  const high: number[] = [];
  for (const { t, depth } of candidates) {
    if (depth === null || depth < deeper) continue;
    const a = valueAt(t, level);
    const b = valueAt(t, deeper);
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    low.push(a);
    high.push(b);
  }
  if (low.length < RANK_LEVEL_PAIRS) return level;
  const rho = spearman(low, high);
  return rho < RANK_LEVEL_RHO ? deeper : level;
}

/** "informed": finite stops below this share of the largest scheduler budget are not imputed (see `early`). */
const INFORMED_STOP_SHARE = 1 / 9;

/** GP training data from a history (see the header). */
export interface FidelityData {
  /** Rows in trial-number order. */
  readonly rows: readonly Trial[];
  /** Loss of each row (finite). */
  readonly losses: readonly number[];
  /** How many rows carry an imputed loss. */
  readonly imputed: number;
  /** The fidelity level of the observed rows (+∞: final values). */
  readonly level: number;
  /** RUNNING/WAITING trials that are not rows, and failed evaluations (`failedEvaluation`), first. */
  readonly pending: readonly Trial[];
}

/**
 * Training data for a regression model over configurations, or null while fewer than
 * `minObserved` usable trials have a depth. `usable` filters trials the model can encode (for
 * the GP: every declared parameter present and valid). Pure; trials must be in number order.
 */
export function fidelityData(
  trials: readonly Trial[],
  direction: Direction,
  minObserved: number,
  usable: (t: Trial) => boolean,
  mode: FidelityMode = "level",
  levelRule: LevelRule = "count",
): FidelityData | null {
  const top = topBudget(trials);
  const superseded = supersededTrials(trials);
  const candidates: { t: Trial; depth: number | null }[] = [];
  const failed: Trial[] = [];
  const depths: number[] = [];
  for (const t of trials) {
    if (t.state === "FAIL") {
      if (failedEvaluation(t) && usable(t)) failed.push(t);
      continue;
    }
    if (superseded.has(t.number) || !usable(t)) continue;
    const depth = t.state === "WAITING" ? null : depthOf(t, top);
    candidates.push({ t, depth });
    if (depth !== null) depths.push(depth);
  }
  if (depths.length < Math.max(1, minObserved)) return null;
  depths.sort((a, b) => b - a);
  const counted = (mode === "common" ? depths[depths.length - 1] : depths[Math.max(1, minObserved) - 1]) as number;
  const level = mode !== "common" && levelRule === "rank" ? rankLevel(candidates, depths, counted) : counted;

  const rows: Trial[] = [];
  const losses: number[] = [];
  const stopped: { index: number; t: Trial }[] = [];
  const pending: Trial[] = [...failed];
  let worst = -Infinity;
  let best = Infinity;
  for (const { t, depth } of candidates) {
    const running = t.state === "RUNNING" || t.state === "WAITING";
    if (depth === null || depth < level) {
      if (running) pending.push(t);
      else if (mode === "informed" && early(t, depth, top)) continue;
      else if (mode !== "observed") {
        stopped.push({ index: rows.length, t });
        rows.push(t);
        losses.push(NaN);
      }
      continue;
    }
    const loss = lossOf(direction, valueAt(t, level));
    if (Number.isFinite(loss)) {
      worst = Math.max(worst, loss);
      best = Math.min(best, loss);
    } else if (running) {
      // A running trial that diverged at the level: it is being stopped; impute nothing yet.
      pending.push(t);
      continue;
    } else if (mode === "observed") {
      continue;
    } else {
      stopped.push({ index: rows.length, t });
    }
    rows.push(t);
    losses.push(loss);
  }
  if (stopped.length > 0) {
    if (!Number.isFinite(worst)) return null; // nothing observed to place the stopped trials against
    const spread = worst > best ? worst - best : Math.max(Math.abs(worst), 1);
    const keys = new Map(stopped.map(({ t }) => [t.number, stoppedRankKey(t, direction)]));
    // Trials whose value at the level is not finite rank after every trial stopped below it.
    const key = (t: Trial): [number, number] => {
      const k = keys.get(t.number) as [number, number];
      const d = depthOf(t, top);
      return d !== null && d >= level ? [Infinity, 0] : k;
    };
    const order = [...stopped].sort((a, b) => {
      const ka = key(a.t);
      const kb = key(b.t);
      return ka[0] - kb[0] || ka[1] - kb[1] || a.t.number - b.t.number;
    });
    const m = order.length;
    order.forEach(({ index }, rank) => (losses[index] = worst + IMPUTE_MARGIN * spread * (1 + rank / m)));
  }
  return { rows, losses, imputed: stopped.length, level, pending };
}
