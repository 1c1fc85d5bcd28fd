/**
 * Parameter importances without a surrogate model: for each parameter, how much of the
 * variance of the (rank-transformed) objective is explained by the mean objective within
 * bins of that parameter — a first-order sensitivity index, the "correlation ratio" η²
 * (Pearson 1905; see also Saltelli et al., *Global Sensitivity Analysis: The Primer*, 2008,
 * §1.2.3, where the first-order index is Var(E[Y|X_i]) / Var(Y)).
 *
 * Method, per parameter:
 * - Numeric parameters are cut into equal-count (quantile) bins; categorical parameters use
 *   one bin per choice. Quantile bins are invariant to monotone transforms, so log-scaled
 *   parameters need no special case.
 * - The objective is replaced by its ranks (ties averaged) so that one diverged run cannot
 *   dominate the variance. (Optuna's fANOVA uses raw values; ranks are our choice for
 *   robustness with the small trial counts typical of agent-driven studies.)
 * - The between-bin variance is corrected for the number of bins with the ε² estimator
 *   (Kelley 1935): ε² = (SSB − (k−1)·MSW) / SST, clipped at 0, because raw η² of pure noise
 *   grows like (k−1)/(n−1).
 * - Scores are normalised to sum to 1 (when any is positive), like Optuna's importances.
 *
 * It sees each parameter alone: interactions are not attributed. It needs at least
 * `MIN_TRIALS` COMPLETE trials with a finite value.
 */
import { constrainedDominates, nonDominatedRanks, rankedPoint } from "../domain/objectives.js";
import type { Direction, Trial } from "../domain/trial.js";
import type { TrialView } from "./views.js";
import { ranks } from "../math/ranks.js";

/** What importances read of a trial: a view, or the server's own record (reads-summary.ts). */
export type ImportanceTrial = Pick<TrialView, "state" | "value" | "params">;

/** Fewer complete trials than this give no importances. */
export const MIN_TRIALS = 4;
/** Fewer complete trials than this: importances come with a caveat (a hint, not a finding). */
export const FEW_TRIALS = 30;
/**
 * Most COMPLETE trials importances are computed from; more are thinned evenly by trial number
 * (reads-summary.ts). Also the most target values a `param_importances` request may carry.
 */
export const IMPORTANCE_SAMPLE = 5000;
/** Most quantile bins per numeric parameter. */
export const MAX_BINS = 10;
/** Fewest trials per numeric bin on average (bins = min(MAX_BINS, floor(n / this))). */
export const TRIALS_PER_BIN = 4;

export interface ParamImportance {
  param: string;
  /** Normalised share in [0, 1]; all shares sum to 1 unless every score is 0. */
  importance: number;
  /** The unnormalised ε² score in [0, 1]. */
  score: number;
  /** How many trials had the parameter. */
  n: number;
}

export interface Importances {
  /** Sorted, most important first. */
  importances: ParamImportance[];
  /** Complete trials used. */
  n_trials: number;
  method: string;
  /** Set when no importances could be computed, with the reason. */
  note?: string;
  /** What the figures rest on, when it is thin: few complete trials, conditional parameters. */
  caveats: string[];
  /** Set when no parameter's score stands out from noise (NOISE_SPREADS): the shares may be chance. */
  noise?: true;
}

/**
 * A score stands out from noise above this many spreads of ε² under no effect. Under no effect
 * η² is Beta((k−1)/2, (n−k)/2) distributed, so ε² has mean ≈ 0 and standard deviation ≈
 * √(2(k−1))/n (`noiseSpread`); 3 keeps the largest of a few parameters' noise scores below it.
 */
export const NOISE_SPREADS = 3;

/** The standard deviation of ε² for a parameter without effect: n trials in k bins. */
export function noiseSpread(n: number, k: number): number {
  return Math.sqrt(2 * Math.max(1, k - 1)) / n;
}

export const IMPORTANCE_METHOD =
  "first-order variance share: epsilon-squared of the rank-transformed objective across quantile bins (numeric) or choices (categorical) of each parameter";

/**
 * Importances of every parameter used by COMPLETE trials. Pure; never throws. `method` and `of`
 * (what the values ranked are, for the noise caveat) name another value than the objective's.
 */
export function paramImportances(trials: readonly ImportanceTrial[], method = IMPORTANCE_METHOD, of = "the objective's ranks"): Importances {
  const done = trials.filter((t) => t.state === "COMPLETE" && typeof t.value === "number" && Number.isFinite(t.value));
  if (done.length < MIN_TRIALS) {
    // A target that is NaN everywhere left "has 0 COMPLETE trials" on a study full of them.
    const notFinite = trials.filter((t) => t.state === "COMPLETE").length - done.length;
    return {
      importances: [],
      n_trials: done.length,
      method,
      note: `needs at least ${MIN_TRIALS} COMPLETE trials with a finite value (has ${done.length}${notFinite > 0 ? `; ${notFinite} more have a NaN, infinite or missing value` : ""})`,
      caveats: [],
    };
  }
  const names = [...new Set(done.flatMap((t) => Object.keys(t.params)))];
  const raw: ParamImportance[] = [];
  // Whether some parameter's score stands out from what bins of pure noise give (see NOISE_SPREADS).
  let standsOut = false;
  // The objective's ranks over every complete trial serve each parameter every trial has.
  const allRanks = ranks(done.map((t) => t.value as number));
  for (const name of names) {
    const rows = done.filter((t) => name in t.params);
    if (rows.length < MIN_TRIALS) continue;
    const y = rows.length === done.length ? allRanks : ranks(rows.map((t) => t.value as number));
    const xs = rows.map((t) => t.params[name]);
    const numeric = xs.every((x) => typeof x === "number");
    const groups = numeric ? quantileBins(xs as number[]) : categoryBins(xs);
    const score = epsilonSquared(y, groups);
    if (score > NOISE_SPREADS * noiseSpread(rows.length, new Set(groups).size)) standsOut = true;
    raw.push({ param: name, importance: 0, score, n: rows.length });
  }
  const total = raw.reduce((a, r) => a + r.score, 0);
  for (const r of raw) r.importance = total > 0 ? r.score / total : 0;
  raw.sort((a, b) => b.importance - a.importance || a.param.localeCompare(b.param));
  const caveats: string[] = [];
  if (done.length < FEW_TRIALS)
    caveats.push(`rests on only ${done.length} complete trials (of ${trials.length}): a hint, not a finding`);
  for (const r of raw)
    if (r.n < done.length) caveats.push(`'${r.param}' is conditional (set in ${r.n} of ${done.length} complete trials): its share compares those only`);
  const noise = raw.length > 0 && !standsOut;
  if (noise)
    caveats.push(
      `no parameter's effect stands out from noise: together they explain ${(100 * total).toFixed(1)}% of the variance of ${of}, and each score is within what a parameter without effect gives, so the shares above may be chance`,
    );
  return { importances: raw, n_trials: done.length, method, caveats, ...(noise ? { noise: true } : {}) };
}

// ------------------------------------------------------------ several objectives: reaching the front

/** What front importances read of a trial: its values and constraints, not one value. */
export type FrontTrial = Pick<Trial, "state" | "values" | "constraints" | "params">;

export const FRONT_IMPORTANCE_METHOD =
  "first-order variance share of reaching the Pareto front: epsilon-squared of each COMPLETE trial's non-domination rank (non-dominated sorting under constrained domination: 0 on the front, infeasible trials after every feasible one) across quantile bins (numeric) or choices (categorical) of each parameter";

/** Whether a trial has a front rank: COMPLETE, with one value per objective. */
export function hasFrontRank(directions: readonly Direction[], t: FrontTrial): boolean {
  return t.state === "COMPLETE" && t.values !== null && t.values.length === directions.length;
}

/**
 * Importances of reaching the Pareto front of a study with several objectives: what Optuna 5's
 * default evaluator answers there without a target (PED-ANOVA, on the top trials as MOTPE splits
 * them by non-dominated sorting; here the whole rank is explained, not a top-quantile split). Each COMPLETE trial's value is its non-domination rank among `trials` (domain/objectives.ts
 * `nonDominatedRanks` with `constrainedDominates`: directions respected, infeasible trials ranked
 * after every feasible one, by total violation), and the rank is what `paramImportances` explains.
 * A lower rank is better, as a minimised objective's value. O(n²) comparisons at worst: the callers
 * pass a bounded sample (reads-summary.ts). Pure; never throws.
 */
export function frontImportances(directions: readonly Direction[], trials: readonly FrontTrial[]): Importances {
  const ranked = frontRanked(directions, trials);
  const imp = paramImportances(ranked, FRONT_IMPORTANCE_METHOD, "the non-domination ranks");
  if (imp.importances.length > 0) {
    const fronts = ranked.reduce((a, t) => Math.max(a, (t.value as number) + 1), 0);
    imp.caveats.unshift(
      `importances of reaching the Pareto front of the ${directions.length} objectives (${directions.join(", ")}): each trial's value is its non-domination rank ` +
        `(${fronts} front${fronts === 1 ? "" : "s"}; 0 is the front, infeasible trials come after every feasible one); ` +
        `pass objective (0 to ${directions.length - 1}) for one objective's importances`,
    );
  }
  return imp;
}

/** The trials with a front rank (`hasFrontRank`), in their order, each with that rank as its value (0: on the front). */
export function frontRanked(directions: readonly Direction[], trials: readonly FrontTrial[]): ImportanceTrial[] {
  const done = trials.filter((t) => hasFrontRank(directions, t));
  const rank = nonDominatedRanks(
    done.map((t) => rankedPoint(directions, t)),
    constrainedDominates,
  );
  return done.map((t, i) => ({ state: "COMPLETE", value: rank[i] as number, params: t.params }));
}

/** Bin index of each value: equal-count bins over the sorted values; equal values share a bin. */
function quantileBins(xs: readonly number[]): number[] {
  const k = Math.max(2, Math.min(MAX_BINS, Math.floor(xs.length / TRIALS_PER_BIN)));
  const sorted = Float64Array.from(xs).sort();
  // Upper edges at the k-quantiles; a value goes to the first bin whose edge is >= it.
  const edges: number[] = [];
  for (let b = 1; b < k; b++) edges.push(sorted[Math.min(sorted.length - 1, Math.floor((b * sorted.length) / k))] as number);
  return xs.map((x) => {
    let b = 0;
    while (b < edges.length && x >= (edges[b] as number)) b++;
    return b;
  });
}

function categoryBins(xs: readonly unknown[]): number[] {
  const ids = new Map<string, number>();
  return xs.map((x) => {
    const key = JSON.stringify(x);
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = ids.size));
    return id;
  });
}

/** ε² = (SSB − (k−1)·MSW) / SST clipped to [0, 1]; 0 when there is one group or no variance. */
export function epsilonSquared(y: readonly number[], groups: readonly number[]): number {
  const n = y.length;
  const mean = y.reduce((a, b) => a + b, 0) / n;
  const sums = new Map<number, { s: number; c: number }>();
  y.forEach((v, i) => {
    const g = groups[i] as number;
    const e = sums.get(g) ?? { s: 0, c: 0 };
    e.s += v;
    e.c += 1;
    sums.set(g, e);
  });
  const k = sums.size;
  let sst = 0;
  for (const v of y) sst += (v - mean) ** 2;
  if (k < 2 || sst <= 0 || n <= k) return 0;
  let ssb = 0;
  for (const { s, c } of sums.values()) ssb += c * (s / c - mean) ** 2;
  const msw = (sst - ssb) / (n - k);
  return Math.min(1, Math.max(0, (ssb - (k - 1) * msw) / sst));
}
