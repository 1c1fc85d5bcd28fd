/**
 * What the `gp` strategy fits besides the plain history: target transforms, the subset of
 * trials it models once the history is large, and a trust region for high dimensions.
 *
 * Sources and defaults:
 * - Output transform "yeo-johnson": Yeo & Johnson, "A new family of power transformations to
 *   improve normality or symmetry" (Biometrika 2000), eq. 2.1, λ by maximum likelihood (eq. 3.1
 *   profile likelihood, on a grid of λ in [−2, 3] step 0.125), applied to the standardised targets
 *   and standardised again; as HEBO (Cowen-Rivers et al., JAIR 2022, §4.1) warps outputs.
 *   Heavy-tailed objectives (Rosenbrock, ellipsoids, diverging training runs) then stop
 *   flattening every good point to the same standardised value. Monotone, so the incumbent and
 *   EI's notion of improvement are unchanged.
 * - Output transform "copula": the Gaussian copula of Salinas, Shen & Perrone, "A Quantile-based
 *   Approach for Hyperparameter Transfer Learning" (ICML 2020), §3: Φ⁻¹ of the empirical CDF.
 *   A power transform cannot spread the best values apart when one outlier dominates the scale;
 *   ranks can, at the price of the magnitudes.
 * - Trust region: TuRBO-1 (Eriksson, Pearce, Gardner, Turner & Poloczek, "Scalable Global
 *   Optimization via Local Bayesian Optimization", NeurIPS 2019, §2): a box around the incumbent
 *   whose side L doubles after τ_succ = 3 consecutive successes and halves after
 *   τ_fail = ⌈max(4, d)/q⌉ (q = 1) consecutive failures, L₀ = 0.8, L_max = 1.6, restarted at L₀
 *   when it falls below L_min = 2⁻⁷; per-dimension sides L·ℓ_m / (Π ℓ)^{1/d} (eq. in §2). A
 *   success improves the best value by more than 1e-3·|best| (TuRBO's threshold). Stateless: the
 *   counters are replayed from the history of model-based trials in number order, so a restarted
 *   server derives the same box. tuneport keeps EI inside the box (TuRBO uses Thompson sampling).
 */
import type { Trial } from "../../domain/trial.js";
import type { Rng } from "../../math/rng.js";
import { normalPpf } from "../../math/special.js";

/** How targets are transformed before the fit (see the file header). */
export type OutputTransform = "standardise" | "yeo-johnson" | "copula";

/** Zero mean, unit variance (scale-first so that huge values cannot overflow); null if not finite. */
export function standardise(values: ArrayLike<number>): Float64Array | null {
  let scale = 0;
  for (let i = 0; i < values.length; i++) scale = Math.max(scale, Math.abs(values[i]!));
  if (!Number.isFinite(scale)) return null;
  if (scale === 0) scale = 1;
  const y = Float64Array.from(values, (v) => v / scale);
  let mean = 0;
  for (const v of y) mean += v;
  mean /= y.length;
  let sq = 0;
  for (const v of y) sq += (v - mean) ** 2;
  const std = Math.sqrt(sq / y.length);
  const s = std > 1e-12 ? std : 1;
  for (let i = 0; i < y.length; i++) y[i] = (y[i]! - mean) / s;
  for (const v of y) if (!Number.isFinite(v)) return null;
  return y;
}

/** The Yeo–Johnson transform ψ(λ, y) (eq. 2.1). */
export function yeoJohnson(y: number, lambda: number): number {
  if (y >= 0) return Math.abs(lambda) < 1e-12 ? Math.log1p(y) : ((y + 1) ** lambda - 1) / lambda;
  const l2 = 2 - lambda;
  return Math.abs(l2) < 1e-12 ? -Math.log1p(-y) : -((1 - y) ** l2 - 1) / l2;
}

/** λ maximising the Gaussian profile log likelihood of the transformed data (grid search). */
export function fitYeoJohnson(y: Float64Array): number {
  const n = y.length;
  let jac = 0;
  for (const v of y) jac += Math.sign(v) * Math.log1p(Math.abs(v));
  let bestL = 1;
  let bestLl = -Infinity;
  const t = new Float64Array(n);
  for (let k = 0; k <= 40; k++) {
    const lambda = -2 + k * 0.125;
    let mean = 0;
    for (let i = 0; i < n; i++) {
      t[i] = yeoJohnson(y[i]!, lambda);
      mean += t[i]!;
    }
    mean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (t[i]! - mean) ** 2;
    v /= n;
    if (!(v > 0) || !Number.isFinite(v)) continue;
    const ll = -0.5 * n * Math.log(v) + (lambda - 1) * jac;
    if (ll > bestLl) [bestLl, bestL] = [ll, lambda];
  }
  return bestL;
}

/**
 * The Gaussian copula transform Φ⁻¹((r − ½)/n) of the values' ranks r (ties share their mean
 * rank): only the order is kept, so one huge value cannot flatten the rest.
 */
export function copula(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const out = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]!] === values[order[i]!]) j++;
    const z = normalPpf(((i + j) / 2 + 0.5) / n);
    for (let k = i; k <= j; k++) out[order[k]!] = z;
    i = j + 1;
  }
  return out;
}

/** Targets as the GP models them: standardised, then optionally transformed and standardised again. */
export function transformTargets(values: ArrayLike<number>, kind: OutputTransform): Float64Array | null {
  const y = standardise(values);
  if (y === null || kind === "standardise" || y.length < 3) return y;
  if (kind === "copula") return standardise(copula(y));
  const lambda = fitYeoJohnson(y);
  return standardise(Float64Array.from(y, (v) => yeoJohnson(v, lambda)));
}

/**
 * Indices of at most `m` of the `values` (minimised) to model: the best ⌈m/2⌉, then a uniform
 * random draw from the rest (so the model keeps a global picture), in increasing index order.
 * All of them when there are no more than `m`.
 */
export function modelSubset(values: ArrayLike<number>, m: number, rng: Rng): number[] {
  const n = values.length;
  if (n <= m) return Array.from({ length: n }, (_, i) => i);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
  const keep = order.slice(0, Math.ceil(m / 2));
  const rest = order.slice(keep.length);
  // Partial Fisher–Yates: the first (m − keep) entries of `rest` become a uniform sample.
  const draw = m - keep.length;
  for (let i = 0; i < draw; i++) {
    const j = i + rng.int(rest.length - i);
    [rest[i], rest[j]] = [rest[j]!, rest[i]!];
    keep.push(rest[i]!);
  }
  return keep.sort((a, b) => a - b);
}

/** TuRBO-1's constants (see the file header). */
const TR = { init: 0.8, max: 1.6, min: 2 ** -7, succ: 3 } as const;

/**
 * Side length L of the trust region after replaying the COMPLETE trials' `values` (minimised,
 * in trial order); only those flagged in `counted` (the model-based ones) move the counters,
 * the others (the random start) only set the best value.
 */
export function trustRegionLength(values: readonly number[], counted: readonly boolean[], d: number): number {
  const failTol = Math.ceil(Math.max(4, d));
  let L: number = TR.init;
  let best = Infinity;
  let succ = 0;
  let fail = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!counted[i]) {
      if (v < best) best = v;
      continue;
    }
    if (v < best - 1e-3 * Math.abs(best)) {
      succ++;
      fail = 0;
    } else {
      fail++;
      succ = 0;
    }
    if (v < best) best = v;
    if (succ === TR.succ) {
      L = Math.min(2 * L, TR.max);
      succ = 0;
    } else if (fail === failTol) {
      L /= 2;
      fail = 0;
    }
    if (L < TR.min) L = TR.init;
  }
  return L;
}

/**
 * The trust region's box in unit coordinates around `centre`, for the dimensions flagged in
 * `mask` (the others get [0, 1]): sides L·w_m with w_m = ℓ_m / (Π ℓ)^{1/k} over the k masked
 * dimensions, ℓ_m = λ_m^{−1/2}.
 */
export function trustRegionBox(
  centre: ArrayLike<number>,
  lambda: ArrayLike<number>,
  mask: Uint8Array,
  L: number,
): { lower: Float64Array; upper: Float64Array } {
  const d = centre.length;
  const lower = new Float64Array(d);
  const upper = new Float64Array(d).fill(1);
  let logSum = 0;
  let k = 0;
  for (let m = 0; m < d; m++)
    if (mask[m]) {
      logSum += -0.5 * Math.log(lambda[m]!);
      k++;
    }
  if (k === 0) return { lower, upper };
  const logMean = logSum / k;
  for (let m = 0; m < d; m++) {
    if (!mask[m]) continue;
    const w = Math.exp(-0.5 * Math.log(lambda[m]!) - logMean);
    const half = Math.min(0.5, (L * w) / 2);
    lower[m] = Math.max(0, centre[m]! - half);
    upper[m] = Math.min(1, centre[m]! + half);
  }
  return { lower, upper };
}

/** Whether a trial was proposed by the GP model (it records the θ it fitted). */
export function isModelBased(t: Trial): boolean {
  return Array.isArray(t.systemAttrs.gp_theta);
}
