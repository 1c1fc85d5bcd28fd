/**
 * PB2's explore step: a time-varying Gaussian-process bandit that picks the hyperparameters a
 * member continues with after an exploit, in place of PBT's random perturbation.
 *
 * Sources:
 * - Parker-Holder, Nguyen & Roberts, "Provably Efficient Online Hyperparameter Optimization
 *   with Population-Based Bandits" (NeurIPS 2020), Algorithm 2 (PB2) and §3.2: the reward of a
 *   member over one interval is the *change* of its objective, modelled by a GP over (time,
 *   hyperparameters) whose kernel forgets old data; the next hyperparameters maximise UCB with
 *   the other members' pending configurations counted as in GP-BUCB.
 * - Bogunovic, Scarlett & Cevher, "Time-Varying Gaussian Process Bandit Optimization"
 *   (AISTATS 2016), eq. 3: k((t, z), (t', z')) = k_SE(z, z') · (1 − ε)^{|t − t'|/2}.
 * - Desautels, Krause & Burdick, "Parallelizing Exploration-Exploitation Tradeoffs in Gaussian
 *   Process Bandit Optimization" (JMLR 2014): the posterior variance does not depend on the
 *   targets, so pending points shrink it without a label ("hallucination").
 * - Srinivas et al., "Gaussian Process Optimization in the Bandit Setting" (ICML 2010): UCB
 *   μ + √β_t · σ.
 * - Ray Tune's `PB2` (../shared/REFERENCE.md) is the reference implementation this follows in
 *   its practical choices (nothing is copied):
 *   * inputs are (time, value before the interval, hyperparameters), time and value scaled to
 *     [0, 1] by their range in the data, hyperparameters in the unit cube; the squared-
 *     exponential part covers value and hyperparameters, the time part is the forgetting factor;
 *   * targets are the per-step improvement over an interval, standardised and clipped to
 *     [−2, 2] (improvements are heavy-tailed early in training);
 *   * β_t = 0.2 + max(0, ln(0.4 · n)) for n data points (Ray's heuristic; the theoretical β_t is
 *     far too conservative for a handful of intervals).
 *   Where tuneport differs: the acquisition is μ + √β_t · σ (Ray adds the *variance*, not the
 *   standard deviation); the kernel hyperparameters (lengthscale, ε, noise) are chosen by
 *   maximum likelihood over a fixed 4 × 4 × 2 grid (lengthscale 0.15–1.2 of the unit range,
 *   ε 0–0.5 as Ray caps it, noise 5 % or 30 % of the signal) with the signal variance profiled out (Ray runs
 *   GPy's L-BFGS-B from one start), which is deterministic and bounded in cost; the data keep
 *   the newest `MAX_POINTS` = 80 intervals (Ray keeps 1000 and then selects a window by
 *   likelihood; 32 grid points × one Cholesky of that size keep one decision at a few tens of
 *   milliseconds on the server's event loop; the time kernel discounts old intervals anyway); the improvement after an exploit is measured
 *   from the donor's value at the loaded checkpoint (Ray's bookkeeping drops that interval).
 * - The acquisition is maximised over `N_RANDOM` = 512 uniform points, the base (donor's)
 *   configuration and the pending ones, then `N_LOCAL` = 32 Gaussian steps around each of the
 *   best 3 with a shrinking scale (0.1 → 0.01 of the unit range); deterministic given the rng.
 */
import { NumericalError, cholesky, choleskySolve, logDetFromCholesky, solveLower } from "../../math/linalg.js";
import type { Rng } from "../../math/rng.js";
import { maxOf, minOf } from "../../math/extremes.js";

/** One observed interval of one member. */
export interface BanditPoint {
  /** Model age (steps trained, across donors) at the interval's start. */
  readonly t: number;
  /** The objective reported at the interval's start (finite). */
  readonly r: number;
  /** The hyperparameters in force, in the unit cube (continuous and integer ones). */
  readonly x: readonly number[];
  /** Improvement per step over the interval (larger is better); NaN for a diverged interval. */
  readonly y: number;
}

/** Where the chosen configuration will be used: the loaded model's age and value. */
export interface BanditQuery {
  readonly t: number;
  readonly r: number;
}

export const MAX_POINTS = 80;
const N_RANDOM = 512;
const N_LOCAL = 32;
const LENGTHSCALES = [0.15, 0.3, 0.6, 1.2];
const EPSILONS = [0, 0.1, 0.3, 0.5];
const NOISE_RATIOS = [0.05, 0.3];

/** The fitted model: everything the acquisition needs. */
interface Fit {
  alpha: Float64Array;
  lengthscale: number;
  epsilon: number;
  noise: number;
  signal: number;
}

function kernel(a: Float64Array, ai: number, b: Float64Array, bi: number, w: number, ls: number, eps: number): number {
  let d2 = 0;
  for (let k = 1; k < w; k++) {
    const d = (a[ai + k] as number) - (b[bi + k] as number);
    d2 += d * d;
  }
  const dt = Math.abs((a[ai] as number) - (b[bi] as number));
  return Math.exp(-d2 / (2 * ls * ls) + (eps > 0 ? (dt / 2) * Math.log(1 - eps) : 0));
}

/** Pairwise squared distances (value and hyperparameters) and time gaps, lower triangle. */
function distances(Z: Float64Array, n: number, w: number): { d2: Float64Array; dt: Float64Array } {
  const d2 = new Float64Array(n * n);
  const dt = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = 1; k < w; k++) {
        const d = (Z[i * w + k] as number) - (Z[j * w + k] as number);
        s += d * d;
      }
      d2[i * n + j] = s;
      dt[i * n + j] = Math.abs((Z[i * w] as number) - (Z[j * w] as number));
    }
  return { d2, dt };
}

function gram(dist: { d2: Float64Array; dt: Float64Array }, n: number, ls: number, eps: number, noise: number): Float64Array {
  const K = new Float64Array(n * n);
  const a = -1 / (2 * ls * ls);
  const b = eps > 0 ? 0.5 * Math.log(1 - eps) : 0;
  for (let i = 0; i < n; i++) {
    K[i * n + i] = 1 + noise;
    for (let j = 0; j < i; j++) {
      const k = Math.exp(a * (dist.d2[i * n + j] as number) + b * (dist.dt[i * n + j] as number));
      K[i * n + j] = k;
      K[j * n + i] = k;
    }
  }
  return K;
}

/** Standardised targets, clipped to [−2, 2]; diverged intervals get the lowest value. */
export function standardiseTargets(ys: readonly number[]): Float64Array {
  const finite = ys.filter(Number.isFinite);
  const mean = finite.reduce((a, b) => a + b, 0) / Math.max(1, finite.length);
  const sd = Math.sqrt(finite.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, finite.length));
  return Float64Array.from(ys, (y) => (Number.isFinite(y) ? Math.max(-2, Math.min(2, (y - mean) / (sd + 1e-8))) : -2));
}

/** Maximum-likelihood grid fit (signal variance profiled out); null when nothing is usable. */
function fit(Z: Float64Array, n: number, w: number, y: Float64Array): Fit | null {
  const dist = distances(Z, n, w);
  let best: Fit | null = null;
  let bestLl = -Infinity;
  const L = new Float64Array(n * n);
  for (const ls of LENGTHSCALES)
    for (const eps of EPSILONS)
      for (const noise of NOISE_RATIOS) {
        try {
          cholesky(gram(dist, n, ls, eps, noise), n, L);
        } catch (err) {
          if (err instanceof NumericalError) continue;
          throw err;
        }
        const alpha = choleskySolve(L, n, y, new Float64Array(n));
        let q = 0;
        for (let i = 0; i < n; i++) q += (y[i] as number) * (alpha[i] as number);
        const signal = Math.max(q / n, 1e-12);
        const ll = -0.5 * n * Math.log(signal) - 0.5 * logDetFromCholesky(L, n);
        if (ll > bestLl) {
          bestLl = ll;
          best = { alpha, lengthscale: ls, epsilon: eps, noise, signal };
        }
      }
  return best;
}

/**
 * Picks the next configuration (unit-cube coordinates, `dim` of them) by UCB on the
 * time-varying GP, or null when the data cannot support a model (fewer than 3 intervals, or
 * no spread in the improvements): the caller then perturbs as PBT does.
 * `pending`: configurations other members are training with right now (unit cube), counted
 * at the query's time and value. `base`: the donor's configuration, always a candidate.
 */
export function pb2Select(
  data: readonly BanditPoint[],
  pending: readonly (readonly number[])[],
  query: BanditQuery,
  base: readonly number[],
  dim: number,
  rng: Rng,
): number[] | null {
  if (dim === 0) return null;
  const pts = data.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.r) && p.x.length === dim).slice(-MAX_POINTS);
  const finiteY = pts.filter((p) => Number.isFinite(p.y)).map((p) => p.y);
  if (pts.length < 3 || finiteY.length < 2 || maxOf(finiteY) - minOf(finiteY) <= 0) return null;

  // Scale time and value to [0, 1] over the data and the query.
  const ts = [...pts.map((p) => p.t), query.t];
  const rs = [...pts.map((p) => p.r), query.r];
  const [t0, t1, r0, r1] = [minOf(ts), maxOf(ts), minOf(rs), maxOf(rs)];
  const st = (t: number) => (t1 > t0 ? (t - t0) / (t1 - t0) : 0);
  const sr = (r: number) => (r1 > r0 ? (r - r0) / (r1 - r0) : 0);
  const w = dim + 2;
  const n = pts.length;
  const Z = new Float64Array(n * w);
  pts.forEach((p, i) => {
    Z[i * w] = st(p.t);
    Z[i * w + 1] = sr(p.r);
    for (let k = 0; k < dim; k++) Z[i * w + 2 + k] = p.x[k] as number;
  });
  const model = fit(Z, n, w, standardiseTargets(pts.map((p) => p.y)));
  if (!model) return null;

  // Variance model: the data plus the pending configurations (GP-BUCB).
  const qt = st(query.t);
  const qr = sr(query.r);
  const m = n + pending.length;
  const Zv = new Float64Array(m * w);
  Zv.set(Z);
  pending.forEach((x, i) => {
    const o = (n + i) * w;
    Zv[o] = qt;
    Zv[o + 1] = qr;
    for (let k = 0; k < dim; k++) Zv[o + 2 + k] = Math.min(1, Math.max(0, x[k] ?? 0.5));
  });
  const Lv = new Float64Array(m * m);
  try {
    cholesky(gram(distances(Zv, m, w), m, model.lengthscale, model.epsilon, model.noise), m, Lv);
  } catch (err) {
    if (err instanceof NumericalError) return null;
    throw err;
  }
  const beta = 0.2 + Math.max(0, Math.log(0.4 * n));
  const sqrtBeta = Math.sqrt(beta);
  const zq = new Float64Array(w);
  const kq = new Float64Array(m);
  const v = new Float64Array(m);
  const ucb = (x: readonly number[]): number => {
    zq[0] = qt;
    zq[1] = qr;
    for (let k = 0; k < dim; k++) zq[2 + k] = x[k] as number;
    let mu = 0;
    for (let i = 0; i < m; i++) {
      const k = kernel(zq, 0, Zv, i * w, w, model.lengthscale, model.epsilon);
      kq[i] = k;
      if (i < n) mu += k * (model.alpha[i] as number);
    }
    solveLower(Lv, m, kq, v);
    let s = 0;
    for (let i = 0; i < m; i++) s += (v[i] as number) ** 2;
    const variance = Math.max(0, 1 - s) * model.signal;
    return mu + sqrtBeta * Math.sqrt(variance);
  };

  const clip = (u: number) => Math.min(1, Math.max(0, u));
  const candidates: number[][] = [base.map(clip), ...pending.map((x) => x.map(clip))];
  for (let i = 0; i < N_RANDOM; i++) candidates.push(Array.from({ length: dim }, () => rng.random()));
  const scored = candidates.map((x) => ({ x, a: ucb(x) })).sort((p, q) => q.a - p.a);
  let best = scored[0] as { x: number[]; a: number };
  for (const start of scored.slice(0, 3)) {
    let cur = start;
    for (let j = 0; j < N_LOCAL; j++) {
      const scale = 0.1 * 0.1 ** (j / (N_LOCAL - 1));
      const x = cur.x.map((u) => clip(u + scale * rng.normal()));
      const a = ucb(x);
      if (a > cur.a) cur = { x, a };
    }
    if (cur.a > best.a) best = cur;
  }
  return best.x;
}
