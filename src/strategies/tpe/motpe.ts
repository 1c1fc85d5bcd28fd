/**
 * Multi-objective TPE (MOTPE): how TPE splits a history with several objectives into the good
 * and the bad set, and how it weights the good set's kernels.
 *
 * Sources: Ozaki, Tanigaki, Watanabe & Onishi, "Multiobjective Tree-Structured Parzen Estimator
 * for Computationally Expensive Optimization Problems" (GECCO 2020), §3, and its journal version
 * "Multiobjective Tree-Structured Parzen Estimator" (JAIR 75, 2022), §3.2–3.3 (the split by
 * non-domination rank with a hypervolume-subset-selection tie-break; the good set's kernels
 * weighted by hypervolume contribution); Optuna 5.0 `TPESampler` on multi-objective studies
 * (`_split_complete_trials_multi_objective`, `_get_reference_point`,
 * `default_gamma_multiobjective`, `_build_parzen_estimator`), whose defaults these are:
 *
 * - Split: the good set holds k = ⌈0.1 n⌉ trials, n = finished trials (Optuna 5.0's
 *   `default_gamma_multiobjective`: no cap at 25, unlike one objective). Among the feasible
 *   COMPLETE trials it takes whole non-domination ranks (Deb et al. 2002, §III-A, on
 *   minimisation form) while they fit; the rank that does not fit is cut by greedy hypervolume
 *   subset selection (HSSP): repeatedly take the point whose hypervolume contribution to the
 *   points taken so far is largest (ties to the earlier trial), a (1 − 1/e)-approximation of the
 *   best subset (Guerreiro, Fonseca & Paquete, "Greedy Hypervolume Subset Selection in Low
 *   Dimensions", Evol. Comput. 24(3), 2016), as Optuna's `_solve_hssp`. Its reference point is
 *   that rank's `max(1.1 w, 0.9 w)` per objective, w its worst value, and 1e-12 where that is 0.
 * - Weights of the good set's kernels, option `mo_below_weights`:
 *   - `"uniform"` (default): every good trial weighs 1, as Optuna 5.0 builds l(x) for several
 *     objectives (`np.ones(n_below)` in `_build_parzen_estimator`).
 *   - `"hypervolume"`: the paper's weighting (JAIR 2022 §3.3; Optuna 3.x–4.x): a feasible good
 *     trial on the good set's own Pareto front weighs its exclusive hypervolume contribution
 *     (HV(front) − HV(front without it)) divided by the largest contribution; every other good
 *     trial (dominated, infeasible, PRUNED) weighs 1e-12. The reference point is
 *     `max(1.1 w, 0.9 w)` over the good feasible trials; with at most one good feasible trial it
 *     weighs 1.
 *   The bad set keeps TPE's usual weights in both cases.
 *
 * PRUNED trials and infeasible ones are ranked after the feasible COMPLETE ones exactly as for
 * one objective (tpe-strategy.ts), which is Optuna's feasible-first split.
 */
import { dominates, minimisationForm, nonDominatedRanks } from "../../domain/objectives.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { hypervolume, nonDominated } from "../../math/hypervolume.js";
import { maxOf } from "../../math/extremes.js";

/** Optuna's `EPS` for weights and reference points. */
const EPS = 1e-12;

/** Size of the good set of a multi-objective study: ⌈0.1 n⌉ (Optuna 5.0 `default_gamma_multiobjective`). */
export function motpeGamma(n: number): number {
  return Math.ceil(0.1 * n);
}

/** `max(1.1 w, 0.9 w)` per objective over the points' worst values w, 1e-12 where 0 (Optuna `_get_reference_point`). */
export function motpeReferencePoint(points: readonly (readonly number[])[]): number[] {
  const m = (points[0] as readonly number[]).length;
  const ref: number[] = [];
  for (let i = 0; i < m; i++) {
    let w = -Infinity;
    for (const p of points) w = Math.max(w, p[i] as number);
    const r = Math.max(1.1 * w, 0.9 * w);
    ref.push(r === 0 ? EPS : r);
  }
  return ref;
}

/** x · 2^e, exact wherever the result is a normal number (2^e itself may not be a double). */
function scaleByPowerOfTwo(x: number, e: number): number {
  const half = Math.trunc(e / 2);
  return x * 2 ** half * 2 ** (e - half);
}

/**
 * The points with each objective multiplied by the power of two that brings its largest magnitude
 * into [0.5, 1), so that `motpeReferencePoint` (1.1 × the worst value: ∞ for a value near
 * Number.MAX_VALUE) and the boxes' volumes (a product over objectives of spans up to 2 × 10³⁰⁸)
 * stay finite. Hypervolume selection is unchanged by it: a power of two scales every coordinate,
 * reference and difference exactly (barring values below the largest one by more than 2¹⁰⁷⁴, which
 * no subtraction from the reference could see either), and every volume by one common factor.
 */
export function scaledForHypervolume(points: readonly (readonly number[])[]): number[][] {
  if (points.length === 0) return [];
  const m = (points[0] as readonly number[]).length;
  const e: number[] = [];
  for (let i = 0; i < m; i++) {
    let big = 0;
    for (const p of points) big = Math.max(big, Math.abs(p[i] as number));
    e.push(big === 0 || !Number.isFinite(big) ? 0 : -(Math.floor(Math.log2(big)) + 1));
  }
  return points.map((p) => p.map((x, i) => scaleByPowerOfTwo(x, e[i] as number)));
}

/** Volume of the box [p, ref]. */
function box(p: readonly number[], ref: readonly number[]): number {
  let v = 1;
  for (let i = 0; i < ref.length; i++) v *= (ref[i] as number) - (p[i] as number);
  return v;
}

/**
 * Exclusive hypervolume of p against `taken` (every point strictly inside `ref`):
 * box(p) − HV({max(p, q) : q ∈ taken}) (While et al. 2012, eq. 3).
 */
function contribution(p: readonly number[], taken: readonly (readonly number[])[], ref: readonly number[]): number {
  if (taken.length === 0) return box(p, ref);
  const limit = taken.map((q) => q.map((x, i) => Math.max(x, p[i] as number)));
  return box(p, ref) - hypervolume(nonDominated(limit), ref);
}

/**
 * Greedy hypervolume subset selection: indices of `k` of `points` (minimisation form, all
 * strictly inside `ref`), each chosen for the largest contribution to those chosen before,
 * ties to the lower index. Contributions only shrink as the chosen set grows (submodularity),
 * so a stale contribution bounds the fresh one and candidates whose bound cannot win are
 * skipped (lazy greedy); the result is the plain greedy's.
 */
export function greedyHssp(points: readonly (readonly number[])[], k: number, ref: readonly number[]): number[] {
  const n = points.length;
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  const bound = points.map((p) => box(p, ref));
  const free = new Array<boolean>(n).fill(true);
  const taken: (readonly number[])[] = [];
  const chosen: number[] = [];
  while (chosen.length < k) {
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < n; i++) {
      if (!free[i] || (bound[i] as number) <= bestValue) continue;
      const c = taken.length === 0 ? (bound[i] as number) : contribution(points[i] as number[], taken, ref);
      bound[i] = c;
      if (c > bestValue) {
        bestValue = c;
        best = i;
      }
    }
    // Every remaining bound ≤ −∞ cannot happen (contributions are ≥ 0), but stay total.
    if (best < 0) best = free.indexOf(true);
    free[best] = false;
    chosen.push(best);
    taken.push(points[best] as number[]);
  }
  return chosen.sort((a, b) => a - b);
}

/**
 * The good set among feasible COMPLETE trials of a multi-objective study: `k` trials taken by
 * whole non-domination ranks, the first rank that does not fit cut by greedy HSSP (file header).
 */
export function motpeBest<T extends Pick<Trial, "values">>(complete: readonly T[], directions: readonly Direction[], k: number): T[] {
  if (k <= 0) return [];
  if (k >= complete.length) return [...complete];
  const points = complete.map((t) => minimisationForm(directions, t.values as number[]));
  // Only the ranks up to the k-th point matter: the rest are never in the good set.
  const ranks = nonDominatedRanks(points, dominates, k);
  const count = new Map<number, number>();
  for (const r of ranks) count.set(r, (count.get(r) ?? 0) + 1);
  // The last rank that fits whole.
  let last = -1;
  let taken = 0;
  while (taken + (count.get(last + 1) ?? Infinity) <= k) taken += count.get(++last) as number;
  const good = complete.filter((_, i) => (ranks[i] as number) <= last);
  if (good.length < k) {
    const tie = complete.map((_, i) => i).filter((i) => ranks[i] === last + 1);
    const tiePoints = scaledForHypervolume(tie.map((i) => points[i] as number[]));
    for (const j of greedyHssp(tiePoints, k - good.length, motpeReferencePoint(tiePoints))) good.push(complete[tie[j] as number] as T);
  }
  return good;
}

/**
 * `"hypervolume"` kernel weights of the good set, aligned with `below` (file header: hypervolume contribution
 * over the good feasible trials' front, normalised to a largest of 1; 1e-12 for the others).
 * `usable(t)` says whether a trial takes part: COMPLETE, feasible, with every value.
 */
export function motpeBelowWeights(below: readonly Trial[], directions: readonly Direction[], usable: (t: Trial) => boolean): Float64Array {
  const w = new Float64Array(below.length).fill(EPS);
  const idx: number[] = [];
  for (let i = 0; i < below.length; i++) if (usable(below[i] as Trial)) idx.push(i);
  if (idx.length <= 1) {
    for (const i of idx) w[i] = 1;
    return w;
  }
  const pts = scaledForHypervolume(idx.map((i) => minimisationForm(directions, (below[i] as Trial).values as number[])));
  const ref = motpeReferencePoint(pts);
  const onFront = pts.map((p) => !pts.some((q) => dominates(q, p)));
  const front = pts.filter((_, i) => onFront[i]);
  const total = hypervolume(front, ref);
  const contribs = pts.map((p, i) => {
    if (!onFront[i]) return 0;
    const rest = front.filter((q) => q !== p);
    return total - hypervolume(rest, ref);
  });
  const max = Math.max(EPS, maxOf(contribs));
  idx.forEach((i, j) => (w[i] = Math.max((contribs[j] as number) / max, EPS)));
  return w;
}
