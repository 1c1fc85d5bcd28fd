/**
 * Helpers every scheduler shares: the direction-free "loss" view of values, NaN rules,
 * numpy-compatible percentiles, and how rung values travel through `systemAttrs`.
 *
 * NaN rule (all schedulers): a NaN value is the worst possible value. It compares worse
 * than every number, ±Infinity included, for both directions. A report whose value is NaN
 * stops the trial at once, between rungs too (median, percentile, threshold, successive
 * halving, Hyperband, BOHB, ASHA in both modes): a diverged run does not recover, and letting
 * it train to the next rung only spends steps (issue 17). `patient` prunes on NaN without
 * waiting out its patience, and successive halving with "auto" resources before its first
 * completion; `src/testing/scheduler.case.ts` checks the rule for every scheduler.
 */
import { z } from "zod";
import type { Decision } from "../domain/decision.js";
import { formatNumber } from "../domain/format.js";
import type { Direction, Trial } from "../domain/trial.js";

/**
 * The value as a loss (smaller is better) for the study's direction; NaN becomes +Infinity,
 * the worst loss. Note −Infinity on a maximised study becomes +Infinity too (it is worst).
 */
export function lossOf(direction: Direction, v: number): number {
  if (Number.isNaN(v)) return Infinity;
  return direction === "minimize" ? v : -v;
}

/** Sorted ascending copy (losses contain no NaN, so plain numeric order is total). */
export function sortedAsc(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/**
 * The q-quantile (q ∈ [0, 1]) of an ascending array with numpy's default "linear"
 * interpolation. Infinite neighbours dominate the interpolation (the limit of the linear
 * rule), so the result is never NaN for non-NaN input. Returns NaN for an empty array.
 */
export function quantile(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = Math.min(1, Math.max(0, q)) * (n - 1);
  const i = Math.floor(pos);
  const frac = pos - i;
  const lo = sorted[i] as number;
  if (frac === 0 || i + 1 >= n) return lo;
  const hi = sorted[i + 1] as number;
  if (lo === hi) return lo;
  if (lo === -Infinity) return -Infinity;
  if (hi === Infinity) return Infinity;
  return lo + (hi - lo) * frac;
}

/** The step of the trial's last report, or null when it has reported nothing. */
export function lastStep(trial: Trial): number | null {
  const iv = trial.intermediate;
  return iv.length === 0 ? null : (iv[iv.length - 1] as { step: number }).step;
}

/** The value reported at exactly `step`, or undefined. */
export function valueAt(trial: Trial, step: number): number | undefined {
  for (let i = trial.intermediate.length - 1; i >= 0; i--) {
    const iv = trial.intermediate[i] as { step: number; value: number };
    if (iv.step === step) return iv.value;
    if (iv.step < step) return undefined;
  }
  return undefined;
}

/** The first report at or after `step` (the report that crossed a rung at `step`), or undefined. */
export function firstReportAtOrAfter(trial: Trial, step: number): { step: number; value: number } | undefined {
  for (const iv of trial.intermediate) if (iv.step >= step) return iv;
  return undefined;
}

/** The step of the report before the last one, or −Infinity. */
export function previousStep(trial: Trial): number {
  const iv = trial.intermediate;
  return iv.length < 2 ? -Infinity : (iv[iv.length - 2] as { step: number }).step;
}

/**
 * The last reported step of the first trial to complete (earliest `finishedAt`, then number) that
 * reported anything, or null while there is none. Fixed by history, so a restarted server computes
 * the same (Optuna's "auto" resources use the first complete trial too, but cache it in memory).
 */
export function firstCompletedLastStep(trials: readonly Trial[]): number | null {
  let first: Trial | null = null;
  for (const t of trials) {
    if (t.state !== "COMPLETE" || lastStep(t) === null) continue;
    if (first === null) first = t;
    else {
      const fa = first.finishedAt ?? Infinity;
      const ta = t.finishedAt ?? Infinity;
      if (ta < fa || (ta === fa && t.number < first.number)) first = t;
    }
  }
  return first === null ? null : (lastStep(first) as number);
}

/**
 * `SchedulerFactory.withStudyBudget` for schedulers with a `max_resource` option: the study's
 * budget fills it when the options leave it out; an explicit option wins.
 */
export function fillMaxResource(options: Record<string, unknown>, maxResource: number): Record<string, unknown> {
  return options.max_resource === undefined ? { ...options, max_resource: maxResource } : options;
}

/** Count of COMPLETE trials. */
export function completeCount(trials: readonly Trial[]): number {
  let n = 0;
  for (const t of trials) if (t.state === "COMPLETE") n++;
  return n;
}

/**
 * Encodes a number for `systemAttrs`, which are stored as JSON: NaN and ±Infinity become the
 * strings "nan", "inf", "-inf" so that a restarted server reads back the same value.
 */
export function encodeNumber(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

/** Inverse of `encodeNumber`; anything else (missing, null, malformed) gives undefined. */
export function decodeNumber(raw: unknown): number | undefined {
  if (typeof raw === "number") return raw;
  if (raw === "nan") return NaN;
  if (raw === "inf") return Infinity;
  if (raw === "-inf") return -Infinity;
  return undefined;
}

/** A finite number attribute, or undefined. */
export function numberAttr(trial: Trial, key: string): number | undefined {
  const v = trial.systemAttrs[key];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** A `prune` decision. */
export function prune(reason: string): Decision {
  return { action: "prune", reason };
}

/** Formats a value for a prune reason: `formatNumber` with 6 significant digits. */
export function fmt(v: number): string {
  return formatNumber(v, 6);
}

/**
 * The rung table of one successive-halving race (successive halving, each Hyperband bracket,
 * ASHA, BOHB's budgets): rung k sits at `minResource · η^(rate + k)`; rungs at or above
 * `maxResource` are not rungs (a trial that reached it is done).
 */
export interface RungLadder {
  readonly minResource: number;
  readonly eta: number;
  /** Early-stopping rate s: rung k sits at minResource · η^(s + k). */
  readonly rate: number;
  readonly maxResource: number;
}

/**
 * The most rungs a ladder has (and Hyperband brackets): η ≥ 2 makes 64 rungs span a factor of
 * 2⁶⁴ in resource, more than any training run; a ladder of min_resource 5e-324 and max_resource
 * 1.7e308 would otherwise have 2,098 (and a rung loop over a ladder without a top never ended).
 */
export const MAX_RUNGS = 64;

/**
 * Resource of rung k, computed by repeated multiplication (integers stay exact, so R = 81,
 * η = 3 gives exactly 1, 3, 9, 27). May be ≥ maxResource: callers check. k < MAX_RUNGS.
 */
export function rungResource(ladder: RungLadder, k: number): number {
  let r = ladder.minResource * ladder.eta ** ladder.rate;
  for (let i = 0; i < k && i < MAX_RUNGS; i++) r *= ladder.eta;
  return r;
}

/** Resources of the rungs strictly below `limit`, in order (at most MAX_RUNGS). */
export function rungResources(minResource: number, eta: number, rate: number, limit: number): number[] {
  const ladder = { minResource, eta, rate, maxResource: limit };
  const out: number[] = [];
  for (let k = 0; k < MAX_RUNGS; k++) {
    const r = rungResource(ladder, k);
    // Within rounding of the limit counts as the limit: 100/9 · 9 is 99.99999999999999, not a rung.
    if (!(r < limit * (1 - 1e-12))) break;
    out.push(r);
  }
  return out;
}

/** The rungs below maxResource with maxResource itself on top (ASHA's promotion ladder, BOHB's budgets). */
export function rungsWithTop(ladder: RungLadder): number[] {
  return [...rungResources(ladder.minResource, ladder.eta, ladder.rate, ladder.maxResource), ladder.maxResource];
}

/**
 * zod refine: the ladder from min_resource up to max_resource at η fits in MAX_RUNGS rungs (true
 * while either is not known yet). Used as `.refine(ladderFits, LADDER_FITS)`.
 */
export function ladderFits(o: { min_resource?: number | "auto"; max_resource?: number; reduction_factor: number }): boolean {
  if (typeof o.min_resource !== "number" || o.max_resource === undefined) return true;
  return Math.log(o.max_resource / o.min_resource) / Math.log(o.reduction_factor) < MAX_RUNGS - 1e-9;
}
export const LADDER_FITS = `max_resource / min_resource spans more than ${MAX_RUNGS} rungs of the reduction factor: raise min_resource or reduction_factor`;

/** zod: a reduction factor η, an integer ≥ 2 as in Optuna and Ray. */
export const reductionFactor = (dflt: number) => z.number().int().min(2).max(1000).default(dflt);
/** zod: a positive finite resource in the client's step units. */
export const resource = () => z.number().positive().refine(Number.isFinite, "must be finite");

/** Where Ray Tune's option names of every scheduler went: the report carries the metric and the resource. */
const RAY_METRIC_NAMES = {
  metric: "Ray Tune's name; here the value each report carries is the metric",
  mode: "Ray Tune's metric mode ('min'/'max'); here the study's direction (create_study direction='minimize'/'maximize')",
  time_attr: "Ray Tune's name; here the step each report carries is the resource",
} as const;

/**
 * Ray Tune's names for the options of its ASHAScheduler, HyperBandScheduler and HyperBandForBOHB
 * (a refusal of one says where it went: `foreignOptionNames`); `asha` has its own `mode`.
 */
export const RAY_HALVING_NAMES: Readonly<Record<string, string>> = {
  ...RAY_METRIC_NAMES,
  max_t: "Ray Tune's name; here max_resource (or the study's budget: create_study max_resource=...)",
  grace_period: "Ray Tune's name; here min_resource",
  brackets: "Ray Tune's name; asha runs one bracket (min_early_stopping_rate picks which), scheduler 'hyperband' several",
  stop_last_trials: "Ray Tune's name (stop a trial at max_t); here a trial trains to its budget (trial.budget: max_resource) and completes",
};

/** Ray Tune's names for the options of its MedianStoppingRule (`foreignOptionNames`). */
export const RAY_MEDIAN_NAMES: Readonly<Record<string, string>> = {
  ...RAY_METRIC_NAMES,
  grace_period: "Ray Tune's name; here n_warmup_steps (in your steps)",
  min_samples_required: "Ray Tune's name; here n_min_trials",
  hard_stop: "Ray Tune's name; here a pruned trial always stops (no trial is paused)",
  min_time_slice: "Ray Tune's name (how long a paused trial runs before it yields); no counterpart: no trial is paused",
};
