/**
 * The Parzen estimators of TPE: a weighted mixture of product kernels over the unit-cube
 * encoding (src/domain/distributions.ts), with batched log-density and sampling.
 *
 * Sources: Bergstra et al., "Algorithms for Hyper-Parameter Optimization" (NeurIPS 2011),
 * §4; Watanabe, "Tree-Structured Parzen Estimator: Understanding Its Algorithm Components
 * and Their Roles for Better Empirical Performance" (arXiv 2304.11127, 2023), §3–4; the
 * Optuna 5.0 TPESampler, whose defaults tuneport follows (../shared/REFERENCE.md).
 *
 * Working in the unit cube makes every numeric dimension look alike: the bounds widened by
 * ±step/2 (int and stepped floats) or taken in log space (log dimensions, log-int widened
 * by ±0.5 first) map to [0, 1], so the "range" of Optuna's formulas is 1 here. Densities in
 * the unit cube differ from those in Optuna's internal space by the same constant factor
 * for every kernel, which cancels in log l(x) − log g(x).
 *
 * Kernels per numeric dimension: a normal truncated to [0, 1]. On a discrete dimension
 * (linear int, stepped float, log-int) the kernel is discretised: the mass of the grid
 * value's cell (value ± step/2, or [log(v − ½), log(v + ½)] for log-int), divided by the
 * mass of [0, 1]. Categorical kernel: `prior_weight/(n+1)` on every choice plus 1 on the
 * observed one, normalised (Optuna 5.0; Watanabe 2023 §3.3).
 */
import { type NumericDistribution, fromUnit, internalBounds } from "../../domain/distributions.js";
import type { Rng } from "../../math/rng.js";
import { logNormalCdf, normalCdf, normalPpf } from "../../math/special.js";

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
/** A mixture term more than this far (in log) below the largest one is left out of the log-sum-exp. */
const LOG_SUM_CUT = 40;
/** Mixtures with at least this many kernels drop, per candidate, the kernels that cannot reach the sum (`logPdf`). */
const PRUNE_FROM = 64;
/** Beyond this many sigmas Φ is 1 to double precision, so the truncation mass needs no erfc. */
const FAR_Z = 8.5;

/** One modelled dimension of the unit cube. */
export type TpeDim =
  | { readonly kind: "continuous" }
  /** A numeric dimension with finitely many values; `d` maps unit values to grid values. */
  | { readonly kind: "discrete"; readonly d: NumericDistribution }
  | { readonly kind: "categorical"; readonly n: number };

/** Knobs of the estimator (Optuna 5.0 defaults: 1.0, true, false). */
export interface ParzenParams {
  readonly priorWeight: number;
  readonly considerMagicClip: boolean;
  readonly considerEndpoints: boolean;
}

/** Size of the good ("below") set: min(⌈0.1 n⌉, 25) (Optuna 5.0 `default_gamma`). */
export function tpeGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/**
 * Kernel weights of n observations, oldest first: ones for n < 25; otherwise a linear ramp
 * from 1/n to 1 over the oldest n − 25 and ones for the newest 25 (Optuna `default_weights`;
 * Bergstra et al. 2011 §4 "recent trials weigh more").
 */
export function tpeWeights(n: number): Float64Array {
  const w = new Float64Array(n).fill(1);
  const m = n - 25;
  if (m > 0) {
    const lo = 1 / n;
    for (let i = 0; i < m; i++) w[i] = m === 1 ? lo : lo + ((1 - lo) * i) / (m - 1);
  }
  return w;
}

/**
 * Bandwidths of the observation kernels of one numeric dimension (unit space, so the
 * widened range is [0, 1]): each point's larger gap to its sorted neighbours with the
 * bounds as sentinels; unless `considerEndpoints`, the outermost points use the gap to
 * their inner neighbour (n ≥ 2). Clipped to [1/min(100, n + 2), 1] with the magic clip
 * (n + 1 kernels counting the prior), else to [1e-12, 1].
 *
 * Tied centres (repeated values of a discrete dimension): only the outermost of a run of equal
 * values gets a non-zero gap; which trial of the run that is follows the sort order. tuneport's
 * sort is stable (the oldest tied trial comes first); Optuna's `np.argsort` is not, so on
 * histories with ties the bandwidths may sit on different trials of the same value (the same
 * multiset of bandwidths, differing kernel weights once the ramp applies). Without ties the two
 * agree to rounding (bench/tpe_compare.py; the Optuna-derived test in tpe-strategy.test.ts).
 */
export function tpeBandwidths(mus: ArrayLike<number>, params: ParzenParams): Float64Array {
  const n = mus.length;
  const sigmas = new Float64Array(n);
  if (n === 0) return sigmas;
  const order = stableArgsort(mus);
  const sorted = new Float64Array(n + 2);
  for (let i = 0; i < n; i++) sorted[i + 1] = mus[order[i] as number] as number;
  sorted[n + 1] = 1;
  const minSigma = params.considerMagicClip ? 1 / Math.min(100, n + 2) : 1e-12;
  const ends = !params.considerEndpoints && n >= 2;
  for (let i = 1; i <= n; i++) {
    let s: number;
    if (ends && i === 1) s = (sorted[2] as number) - (sorted[1] as number);
    else if (ends && i === n) s = (sorted[n] as number) - (sorted[n - 1] as number);
    else s = Math.max((sorted[i] as number) - (sorted[i - 1] as number), (sorted[i + 1] as number) - (sorted[i] as number));
    sigmas[order[i - 1] as number] = Math.min(1, Math.max(minSigma, s));
  }
  return sigmas;
}

/**
 * Stable argsort of finite numbers in O(n) expected time: a counting sort into n buckets over
 * [min, max], then insertion sort inside each bucket. Falls back to a comparison sort when
 * the data are so clustered that the buckets stop being small.
 */
export function stableArgsort(v: ArrayLike<number>): Int32Array {
  const n = v.length;
  const order = new Int32Array(n);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = v[i] as number;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (!(max > min)) {
    for (let i = 0; i < n; i++) order[i] = i;
    return order;
  }
  const scale = n / (max - min);
  const bucket = new Int32Array(n);
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const b = Math.min(n - 1, Math.floor(((v[i] as number) - min) * scale));
    bucket[i] = b;
    (start[b + 1] as number)++;
  }
  for (let b = 0; b < n; b++) (start[b + 1] as number) += start[b] as number;
  const fill = start.slice(0, n);
  for (let i = 0; i < n; i++) order[(fill[bucket[i] as number] as number)++] = i;
  let moves = 0;
  for (let b = 0; b < n; b++) {
    const lo = start[b] as number;
    const hi = start[b + 1] as number;
    for (let k = lo + 1; k < hi; k++) {
      const idx = order[k] as number;
      const x = v[idx] as number;
      let m = k - 1;
      while (m >= lo && (v[order[m] as number] as number) > x) {
        order[m + 1] = order[m] as number;
        m--;
        moves++;
      }
      order[m + 1] = idx;
    }
    if (moves > 32 * n) {
      const idx = Array.from({ length: n }, (_, i) => i).sort((a, c) => (v[a] as number) - (v[c] as number) || a - c);
      return Int32Array.from(idx);
    }
  }
  return order;
}

/** Row-normalised categorical kernels: n observed rows then the prior (uniform) row, each of length k. */
export function categoricalKernels(observed: ArrayLike<number>, k: number, priorWeight: number): Float64Array {
  const n = observed.length;
  const rows = n + 1;
  const p = new Float64Array(rows * k);
  const base = priorWeight / rows;
  for (let r = 0; r < rows; r++) {
    const hit = r < n ? (observed[r] as number) : -1;
    const total = base * k + (hit >= 0 ? 1 : 0);
    for (let c = 0; c < k; c++) p[r * k + c] = (base + (c === hit ? 1 : 0)) / total;
  }
  return p;
}

/** log(1 − e^x) for x ≤ 0, accurate at both ends (Mächler 2012). */
function log1mexp(x: number): number {
  return x > -Math.LN2 ? Math.log(-Math.expm1(x)) : Math.log1p(-Math.exp(x));
}

/** log(Φ(b) − Φ(a)) for a ≤ b, accurate when both lie deep in one tail. */
export function logGaussMass(a: number, b: number): number {
  if (b <= 0) {
    const lb = logPhi(b);
    return lb + log1mexp(logPhi(a) - lb);
  }
  if (a >= 0) {
    const la = logPhi(-a);
    return la + log1mexp(logPhi(-b) - la);
  }
  return Math.log1p(-normalCdf(a) - normalCdf(-b));
}

const logPhi = logNormalCdf;

/** log mass of N(mu, sigma) on [0, 1]. */
function logUnitMass(mu: number, sigma: number): number {
  const a = -mu / sigma;
  const b = (1 - mu) / sigma;
  if (a < -FAR_Z && b > FAR_Z) return 0;
  return logGaussMass(a, b);
}

/** The [lo, hi] unit-space cell of the grid value nearest `u` on a discrete dimension. */
export function unitCell(d: NumericDistribution, u: number): [number, number] {
  const [lo, hi] = internalBounds(d);
  const v = fromUnit(d, u);
  const width = hi - lo;
  if (!(width > 0)) return [0, 1];
  if (d.log) return [(Math.log(v - 0.5) - lo) / width, (Math.log(v + 0.5) - lo) / width];
  const h = (d.type === "int" ? (d.step ?? 1) : (d.step as number)) / 2;
  return [(v - h - lo) / width, (v + h - lo) / width];
}

/** The unit coordinate of the grid value nearest `u` (where an observation of it sits). */
export function snapUnit(d: NumericDistribution, u: number): number {
  const [lo, hi] = internalBounds(d);
  if (!(hi > lo)) return 0.5;
  const v = fromUnit(d, u);
  return ((d.log ? Math.log(v) : v) - lo) / (hi - lo);
}

/**
 * A mixture of product kernels: kernel k has weight w_k and, per dimension, a truncated
 * (possibly discretised) normal or a categorical row. The last kernel is the prior
 * (μ = ½, σ = 1, uniform categorical) unless there are no observations, when it is the only one.
 */
export class ParzenMixture {
  /** Number of kernels (observations + prior). */
  readonly size: number;
  readonly weights: Float64Array;
  /** Per dimension: kernel centres (numeric) or null. */
  readonly mus: (Float64Array | null)[];
  readonly sigmas: (Float64Array | null)[];
  /** Per categorical dimension: kernel rows (size × n), else null. */
  readonly catProbs: (Float64Array | null)[];
  /** Per categorical dimension: per choice, the K kernels' log probabilities of it. */
  private readonly catColumns: (Float64Array[] | null)[];
  /** Per continuous dimension: 1 / (2σ²) of each kernel. */
  private readonly halfPrecision: (Float64Array | null)[];
  /** Per discrete dimension: its kernels' distinct (μ, σ) pairs (see `kernelPairs`), else null. */
  private readonly pairs: (KernelPairs | null)[];
  /** log w_k plus the constant terms of every continuous dimension. */
  private readonly base: Float64Array;
  private scratch = new Float64Array(0);
  private live = new Int32Array(0);

  /**
   * @param obs observations, row-major n × dims.length: unit coordinates for numeric
   *   dimensions (discrete ones at their grid value), choice indices for categoricals.
   * @param weights one non-negative weight per observation, oldest first.
   */
  constructor(
    readonly dims: readonly TpeDim[],
    obs: Float64Array,
    n: number,
    weights: ArrayLike<number>,
    params: ParzenParams,
  ) {
    const D = dims.length;
    const K = n + 1;
    this.size = K;
    const w = new Float64Array(K);
    if (n === 0) w[0] = 1;
    else {
      let total = params.priorWeight;
      for (let i = 0; i < n; i++) total += w[i] = weights[i] as number;
      w[n] = params.priorWeight;
      for (let i = 0; i < K; i++) (w[i] as number) /= total;
    }
    this.weights = w;
    this.base = new Float64Array(K);
    for (let k = 0; k < K; k++) this.base[k] = Math.log(w[k] as number);
    this.mus = [];
    this.sigmas = [];
    this.catProbs = [];
    this.catColumns = [];
    this.halfPrecision = [];
    this.pairs = [];
    const col = new Float64Array(n);
    for (let j = 0; j < D; j++) {
      const dim = dims[j] as TpeDim;
      for (let i = 0; i < n; i++) col[i] = obs[i * D + j] as number;
      if (dim.kind === "categorical") {
        const p = n === 0 ? new Float64Array(dim.n).fill(1 / dim.n) : categoricalKernels(col, dim.n, params.priorWeight);
        this.catProbs.push(p);
        this.catColumns.push(logColumns(p, col, n, dim.n));
        this.mus.push(null);
        this.sigmas.push(null);
        this.halfPrecision.push(null);
        this.pairs.push(null);
        continue;
      }
      const mu = new Float64Array(K);
      mu.set(col);
      mu[n] = 0.5;
      const sigma = new Float64Array(K);
      sigma.set(tpeBandwidths(col, params));
      sigma[n] = 1;
      if (dim.kind === "continuous") {
        // Most bandwidths are the clip's one value: take its logarithm once.
        let lastSigma = Number.NaN;
        let logSigma = Number.NaN;
        for (let k = 0; k < K; k++) {
          const sk = sigma[k] as number;
          if (sk !== lastSigma) logSigma = Math.log((lastSigma = sk));
          (this.base[k] as number) -= logSigma + LOG_SQRT_2PI + logUnitMass(mu[k] as number, sk);
        }
        this.pairs.push(null);
      } else {
        const pairs = kernelPairs(mu, sigma);
        const lm = new Float64Array(pairs.mu.length);
        for (let p = 0; p < lm.length; p++) lm[p] = logUnitMass(pairs.mu[p] as number, pairs.sigma[p] as number);
        for (let k = 0; k < K; k++) (this.base[k] as number) -= lm[pairs.of[k] as number] as number;
        this.pairs.push(pairs);
      }
      this.mus.push(mu);
      this.sigmas.push(sigma);
      this.halfPrecision.push(sigma.map((sg) => 0.5 / (sg * sg)));
      this.catProbs.push(null);
      this.catColumns.push(null);
    }
  }

  /**
   * log density of each of the `m` rows of `x` (row-major m × dims.length, same encoding
   * as the observations; discrete coordinates must sit on grid values), into `out`.
   *
   * One candidate at a time: its per-kernel terms accumulate in one K-long row (base, then each
   * dimension in order, so the sums are the same as dimension by dimension over all candidates)
   * that stays in cache, then a log-sum-exp.
   */
  logPdf(x: Float64Array, m: number, out: Float64Array = new Float64Array(m)): Float64Array {
    const D = this.dims.length;
    const K = this.size;
    if (this.scratch.length < K) this.scratch = new Float64Array(K);
    const acc = this.scratch;
    // Per dimension and candidate, the column of per-kernel terms: a categorical choice's column of
    // log kernel probabilities, or a discrete value's cell masses per (μ, σ) pair, computed once
    // per distinct value. Continuous dimensions are computed inline.
    const columns: (Float64Array[] | null)[] = [];
    for (let j = 0; j < D; j++) {
      const dim = this.dims[j] as TpeDim;
      if (dim.kind === "continuous") {
        columns.push(null);
        continue;
      }
      const perCandidate: Float64Array[] = [];
      if (dim.kind === "categorical") {
        const cols = this.catColumns[j] as Float64Array[];
        for (let c = 0; c < m; c++) perCandidate.push(cols[x[c * D + j] as number] as Float64Array);
        columns.push(perCandidate);
        continue;
      }
      const pairs = this.pairs[j] as KernelPairs;
      const P = pairs.mu.length;
      const seen: number[] = [];
      const rows: Float64Array[] = [];
      for (let c = 0; c < m; c++) {
        const xv = x[c * D + j] as number;
        let r = seen.indexOf(xv);
        if (r < 0) {
          const [lo, hi] = unitCell(dim.d, xv);
          const lm = new Float64Array(P);
          for (let p = 0; p < P; p++) {
            const mp = pairs.mu[p] as number;
            const sp = pairs.sigma[p] as number;
            lm[p] = logGaussMass((lo - mp) / sp, (hi - mp) / sp);
          }
          seen.push(xv);
          rows.push(lm);
          r = seen.length - 1;
        }
        perCandidate.push(rows[r] as Float64Array);
      }
      columns.push(perCandidate);
    }
    const live = this.liveScratch(K);
    const prune = K >= PRUNE_FROM && D > 1;
    for (let c = 0; c < m; c++) {
      acc.set(this.base);
      let n = K; // kernels still live: all of them, or the first n of `live` (increasing)
      let all = true;
      let threshold = -Infinity;
      for (let j = 0; j < D; j++) {
        this.addTerms(j, c, x, columns, acc, all ? null : live, n);
        if (!prune || j === D - 1) continue;
        if (all) threshold = this.kernelBound(c, x, columns, acc, j) - LOG_SUM_CUT;
        // Every later term is ≤ 0, so a kernel already below the bound minus the cut stays below
        // the final maximum minus the cut, where the sum below drops it anyway: same result.
        let kept = 0;
        if (all) {
          for (let k = 0; k < K; k++) if ((acc[k] as number) >= threshold) live[kept++] = k;
        } else {
          for (let i = 0; i < n; i++) {
            const k = live[i] as number;
            if ((acc[k] as number) >= threshold) live[kept++] = k;
          }
        }
        all = false;
        n = kept;
      }
      let max = -Infinity;
      for (let i = 0; i < n; i++) {
        const a = acc[all ? i : (live[i] as number)] as number;
        if (a > max) max = a;
      }
      if (max === -Infinity) {
        out[c] = -Infinity;
        continue;
      }
      let s = 0;
      // Terms more than e^-40 below the largest cannot change the sum in double precision.
      const cut = max - LOG_SUM_CUT;
      for (let i = 0; i < n; i++) {
        const a = acc[all ? i : (live[i] as number)] as number;
        if (a > cut) s += Math.exp(a - max);
      }
      out[c] = max + Math.log(s);
    }
    return out;
  }

  /** Adds dimension j's terms of candidate c to `acc`: every kernel (`live` null) or the first n of `live`. */
  private addTerms(j: number, c: number, x: Float64Array, columns: (Float64Array[] | null)[], acc: Float64Array, live: Int32Array | null, n: number): void {
    const D = this.dims.length;
    const dim = this.dims[j] as TpeDim;
    if (dim.kind === "continuous") {
      const mu = this.mus[j] as Float64Array;
      const inv = this.halfPrecision[j] as Float64Array;
      const xv = x[c * D + j] as number;
      if (live === null) {
        for (let k = 0; k < n; k++) {
          const z = xv - (mu[k] as number);
          (acc[k] as number) -= z * z * (inv[k] as number);
        }
      } else {
        for (let i = 0; i < n; i++) {
          const k = live[i] as number;
          const z = xv - (mu[k] as number);
          (acc[k] as number) -= z * z * (inv[k] as number);
        }
      }
    } else if (dim.kind === "categorical") {
      const col = (columns[j] as Float64Array[])[c] as Float64Array;
      if (live === null) for (let k = 0; k < n; k++) (acc[k] as number) += col[k] as number;
      else for (let i = 0; i < n; i++) (acc[live[i] as number] as number) += col[live[i] as number] as number;
    } else {
      const lm = (columns[j] as Float64Array[])[c] as Float64Array;
      const of = (this.pairs[j] as KernelPairs).of;
      if (live === null) for (let k = 0; k < n; k++) (acc[k] as number) += lm[of[k] as number] as number;
      else
        for (let i = 0; i < n; i++) {
          const k = live[i] as number;
          (acc[k] as number) += lm[of[k] as number] as number;
        }
    }
  }

  /**
   * A lower bound on candidate c's largest kernel term, once dimensions 0..j are in `acc`: the
   * larger complete term of two kernels, the one that leads so far and the prior (the last kernel,
   * broad, so never far below the maximum). Each kernel's remaining dimensions are added in the
   * same order as in `logPdf`, so each bound is exactly that kernel's final term.
   */
  private kernelBound(c: number, x: Float64Array, columns: (Float64Array[] | null)[], acc: Float64Array, j: number): number {
    let lead = 0;
    for (let k = 1; k < this.size; k++) if ((acc[k] as number) > (acc[lead] as number)) lead = k;
    return Math.max(this.completeTerm(lead, c, x, columns, acc, j), this.completeTerm(this.size - 1, c, x, columns, acc, j));
  }

  /** Kernel k's term for candidate c: `acc[k]` (dimensions 0..j) plus dimensions j+1.. in order. */
  private completeTerm(k: number, c: number, x: Float64Array, columns: (Float64Array[] | null)[], acc: Float64Array, j: number): number {
    const D = this.dims.length;
    let t = acc[k] as number;
    for (let r = j + 1; r < D; r++) {
      const dim = this.dims[r] as TpeDim;
      if (dim.kind === "continuous") {
        const z = (x[c * D + r] as number) - ((this.mus[r] as Float64Array)[k] as number);
        t -= z * z * ((this.halfPrecision[r] as Float64Array)[k] as number);
      } else if (dim.kind === "categorical") t += ((columns[r] as Float64Array[])[c] as Float64Array)[k] as number;
      else t += ((columns[r] as Float64Array[])[c] as Float64Array)[(this.pairs[r] as KernelPairs).of[k] as number] as number;
    }
    return t;
  }

  private liveScratch(K: number): Int32Array {
    if (this.live.length < K) this.live = new Int32Array(K);
    return this.live;
  }

  /** `m` draws (row-major m × dims.length) from the mixture, discrete coordinates on grid values. */
  sample(rng: Rng, m: number): Float64Array {
    const D = this.dims.length;
    const x = new Float64Array(m * D);
    const cum = new Float64Array(this.size);
    let acc = 0;
    for (let k = 0; k < this.size; k++) cum[k] = acc += this.weights[k] as number;
    for (let c = 0; c < m; c++) {
      const k = pick(cum, rng.random() * acc);
      for (let j = 0; j < D; j++) {
        const dim = this.dims[j] as TpeDim;
        if (dim.kind === "categorical") {
          const p = this.catProbs[j] as Float64Array;
          let r = rng.random();
          let idx = dim.n - 1;
          for (let i = 0; i < dim.n; i++) {
            r -= p[k * dim.n + i] as number;
            if (r < 0) {
              idx = i;
              break;
            }
          }
          x[c * D + j] = idx;
          continue;
        }
        const mu = (this.mus[j] as Float64Array)[k] as number;
        const sigma = (this.sigmas[j] as Float64Array)[k] as number;
        const pa = normalCdf(-mu / sigma);
        const pb = normalCdf((1 - mu) / sigma);
        const v = Math.min(1, Math.max(0, mu + sigma * normalPpf(pa + rng.random() * (pb - pa))));
        x[c * D + j] = dim.kind === "discrete" ? snapUnit(dim.d, v) : v;
      }
    }
    return x;
  }
}

/**
 * The log of a categorical dimension's kernel rows (`categoricalKernels`), transposed: one K-long
 * column per choice. Every observed row holds the same two values (the observed choice's and the
 * others'), so the n·k logarithms reduce to two plus the prior row's k.
 */
function logColumns(p: Float64Array, observed: ArrayLike<number>, n: number, k: number): Float64Array[] {
  const K = n + 1;
  const cols = Array.from({ length: k }, () => new Float64Array(K));
  if (n > 0) {
    const hit0 = observed[0] as number;
    const logHit = Math.log(p[hit0] as number);
    const logMiss = k > 1 ? Math.log(p[hit0 === 0 ? 1 : 0] as number) : 0;
    for (let c = 0; c < k; c++) (cols[c] as Float64Array).fill(logMiss, 0, n);
    for (let r = 0; r < n; r++) (cols[observed[r] as number] as Float64Array)[r] = logHit;
  }
  for (let c = 0; c < k; c++) (cols[c] as Float64Array)[n] = Math.log(p[n * k + c] as number);
  return cols;
}

/** The distinct (μ, σ) pairs among a discrete dimension's kernels, and each kernel's pair. */
interface KernelPairs {
  readonly mu: Float64Array;
  readonly sigma: Float64Array;
  /** Kernel k's pair is `of[k]`. */
  readonly of: Int32Array;
}

/**
 * Groups the kernels of a discrete dimension by (μ, σ). Their centres sit on the few grid
 * values and, with the magic clip, most bandwidths are the clip (a run of tied centres has gaps
 * only at its ends), so a study of thousands of trials has a few dozen pairs: the truncation
 * and cell masses, each a pair of log-CDFs, are computed per pair instead of per kernel, with
 * the same arguments and so the same results.
 */
function kernelPairs(mu: Float64Array, sigma: Float64Array): KernelPairs {
  const K = mu.length;
  const of = new Int32Array(K);
  const index = new Map<number, Map<number, number>>();
  const pm: number[] = [];
  const ps: number[] = [];
  for (let k = 0; k < K; k++) {
    const m = mu[k] as number;
    const s = sigma[k] as number;
    let bySigma = index.get(m);
    if (bySigma === undefined) index.set(m, (bySigma = new Map()));
    let p = bySigma.get(s);
    if (p === undefined) {
      p = pm.length;
      bySigma.set(s, p);
      pm.push(m);
      ps.push(s);
    }
    of[k] = p;
  }
  return { mu: Float64Array.from(pm), sigma: Float64Array.from(ps), of };
}

/** Smallest k with cum[k] > r (binary search over a cumulative weight array). */
function pick(cum: Float64Array, r: number): number {
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cum[mid] as number) > r) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
