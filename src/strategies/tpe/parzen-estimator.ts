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
import type { NumericDistribution } from "../../domain/distributions.js";
import type { Rng } from "../../math/rng.js";
import { normalCdf, normalPpf } from "../../math/special.js";
import {
  type KernelPairs,
  categoricalKernels,
  kernelPairs,
  logColumns,
  logGaussMass,
  logUnitMass,
  pick,
  snapUnit,
  stableArgsort,
  unitCell,
} from "./kernel-math.js";

export { categoricalKernels, logGaussMass, snapUnit, stableArgsort, unitCell } from "./kernel-math.js";

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
/** A mixture term more than this far (in log) below the largest one is left out of the log-sum-exp. */
const LOG_SUM_CUT = 40;
/** Mixtures with at least this many kernels drop, per candidate, the kernels that cannot reach the sum (`logPdf`). */
const PRUNE_FROM = 64;
/** Kernels on each side of a candidate's coordinate whose complete terms bound the largest one (`nearBound`). */
const NEAR_KERNELS = 4;

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
 * `out` (length ≥ n), when given, receives them in its first n entries and is returned;
 * `sortedOrder`, when given, is `stableArgsort(mus)`.
 */
export function tpeBandwidths(mus: ArrayLike<number>, params: ParzenParams, out?: Float64Array, sortedOrder?: Int32Array): Float64Array {
  const n = mus.length;
  const sigmas = out ?? new Float64Array(n);
  if (n === 0) return sigmas;
  const order = sortedOrder ?? stableArgsort(mus);
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
  /** Per categorical dimension: the observed choices (oldest first), else null. */
  private readonly catObserved: (Float64Array | null)[];
  /** `catProbs`, once asked for (sampling; the bad set's mixture is only evaluated). */
  private probs: (Float64Array | null)[] | null = null;
  private readonly priorWeight: number;
  /** Per categorical dimension: per choice, the K kernels' log probabilities of it. */
  private readonly catColumns: (Float64Array[] | null)[];
  /** Per continuous dimension: 1 / (2σ²) of each kernel. */
  private readonly halfPrecision: (Float64Array | null)[];
  /** Per discrete dimension: its kernels' distinct (μ, σ) pairs (see `kernelPairs`), else null. */
  private readonly pairs: (KernelPairs | null)[];
  /** log w_k plus the constant terms of every continuous dimension. */
  private readonly base: Float64Array;
  /**
   * A continuous dimension 0 of a mixture that `logPdf` prunes: its observations' kernel indices in
   * increasing centre order, and those centres (for the kernels nearest a candidate); else null.
   */
  private order0: Int32Array | null = null;
  private sorted0: Float64Array | null = null;
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
    this.catObserved = [];
    this.priorWeight = params.priorWeight;
    this.catColumns = [];
    this.halfPrecision = [];
    this.pairs = [];
    for (let j = 0; j < D; j++) {
      const dim = dims[j] as TpeDim;
      if (dim.kind === "categorical") {
        const col = new Float64Array(n);
        for (let i = 0; i < n; i++) col[i] = obs[i * D + j] as number;
        this.catObserved.push(col);
        this.catColumns.push(logColumns(col, n, dim.n, params.priorWeight));
        this.mus.push(null);
        this.sigmas.push(null);
        this.halfPrecision.push(null);
        this.pairs.push(null);
        continue;
      }
      const mu = new Float64Array(K);
      for (let i = 0; i < n; i++) mu[i] = obs[i * D + j] as number;
      mu[n] = 0.5;
      const sigma = new Float64Array(K);
      let order: Int32Array | undefined;
      if (j === 0 && dim.kind === "continuous" && K >= PRUNE_FROM && D > 1) {
        order = stableArgsort(mu.subarray(0, n));
        this.order0 = order;
        this.sorted0 = new Float64Array(n);
        for (let i = 0; i < n; i++) this.sorted0[i] = mu[order[i] as number] as number;
      }
      tpeBandwidths(mu.subarray(0, n), params, sigma, order);
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
      const inv = new Float64Array(K);
      for (let k = 0; k < K; k++) inv[k] = 0.5 / ((sigma[k] as number) * (sigma[k] as number));
      this.halfPrecision.push(inv);
      this.catObserved.push(null);
      this.catColumns.push(null);
    }
  }

  /** Per categorical dimension: kernel rows (size × n, `categoricalKernels`), else null. */
  get catProbs(): readonly (Float64Array | null)[] {
    this.probs ??= this.dims.map((dim, j) => {
      const observed = this.catObserved[j] as Float64Array | null;
      if (dim.kind !== "categorical" || observed === null) return null;
      return observed.length === 0 ? new Float64Array(dim.n).fill(1 / dim.n) : categoricalKernels(observed, dim.n, this.priorWeight);
    });
    return this.probs;
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
    const columns = this.candidateColumns(x, m);
    const live = this.liveScratch(K);
    if (K < PRUNE_FROM || D <= 1) {
      for (let c = 0; c < m; c++) {
        acc.set(this.base);
        for (let j = 0; j < D; j++) this.addTerms(j, c, x, columns, acc, null, K);
        out[c] = logSumExp(acc, null, K);
      }
      return out;
    }
    for (let c = 0; c < m; c++) {
      // A lower bound on the largest final term: the complete term of a few kernels, among them the
      // prior (the last kernel, broad, so never far below the maximum). Every term after dimension 0
      // is ≤ 0, so a kernel already below the bound minus the cut after dimension 0 stays below the
      // final maximum minus the cut, where `logSumExp` drops it anyway: the live kernels (increasing,
      // as in the plain sum) give the same result as all of them (`logPdfPlain`).
      let n = 0;
      let threshold: number;
      if (this.sorted0 !== null) {
        // Dimension 0 is continuous: the bound comes first, from the prior and the kernels whose
        // centres lie nearest the candidate's coordinate, so one pass adds and filters.
        threshold = this.nearBound(c, x, columns) - LOG_SUM_CUT;
        const mu = this.mus[0] as Float64Array;
        const inv = this.halfPrecision[0] as Float64Array;
        const base = this.base;
        const xv = x[c * D] as number;
        for (let k = 0; k < K; k++) {
          const z = xv - (mu[k] as number);
          const a = (base[k] as number) - z * z * (inv[k] as number);
          acc[k] = a;
          live[n] = k;
          n += a >= threshold ? 1 : 0;
        }
      } else {
        // A categorical or discrete dimension 0: its terms over every kernel first, then the bound
        // from the prior and the kernel that leads after them.
        const lead = this.firstTerms(c, x, columns, acc);
        const bound = largerTerm(this.completeTerm(lead, c, x, columns, acc[lead] as number, 0), this.completeTerm(K - 1, c, x, columns, acc[K - 1] as number, 0));
        threshold = bound - LOG_SUM_CUT;
        for (let k = 0; k < K; k++) {
          live[n] = k;
          n += (acc[k] as number) >= threshold ? 1 : 0;
        }
      }
      for (let j = 1; j < D - 1; j++) n = this.addLive(j, c, x, columns, acc, live, n, threshold);
      this.addTerms(D - 1, c, x, columns, acc, live, n);
      out[c] = logSumExp(acc, live, n);
    }
    return out;
  }

  /**
   * `logPdf` without skipping kernels: every kernel's term, then the log-sum-exp over all of them.
   * The reference that `logPdf`'s pruned path must match bit for bit (parzen-estimator.test.ts).
   */
  logPdfPlain(x: Float64Array, m: number, out: Float64Array = new Float64Array(m)): Float64Array {
    const K = this.size;
    const acc = new Float64Array(K);
    const columns = this.candidateColumns(x, m);
    for (let c = 0; c < m; c++) {
      acc.set(this.base);
      for (let j = 0; j < this.dims.length; j++) this.addTerms(j, c, x, columns, acc, null, K);
      out[c] = logSumExp(acc, null, K);
    }
    return out;
  }

  /**
   * Sets `acc` to every kernel's base plus dimension 0's term of candidate c (`addTerms`), and
   * returns the first kernel with the largest of them.
   */
  private firstTerms(c: number, x: Float64Array, columns: (Float64Array[] | null)[], acc: Float64Array): number {
    const K = this.size;
    acc.set(this.base);
    this.addTerms(0, c, x, columns, acc, null, K);
    let lead = 0;
    for (let k = 1; k < K; k++) if ((acc[k] as number) > (acc[lead] as number)) lead = k;
    return lead;
  }

  /** `addTerms` over the first n of `live`, keeping in `live` (in order) the kernels whose sum is ≥ threshold; returns their count. */
  private addLive(j: number, c: number, x: Float64Array, columns: (Float64Array[] | null)[], acc: Float64Array, live: Int32Array, n: number, threshold: number): number {
    const dim = this.dims[j] as TpeDim;
    let kept = 0;
    if (dim.kind === "continuous") {
      const mu = this.mus[j] as Float64Array;
      const inv = this.halfPrecision[j] as Float64Array;
      const xv = x[c * this.dims.length + j] as number;
      for (let i = 0; i < n; i++) {
        const k = live[i] as number;
        const z = xv - (mu[k] as number);
        const a = (acc[k] as number) - z * z * (inv[k] as number);
        acc[k] = a;
        live[kept] = k;
        kept += a >= threshold ? 1 : 0;
      }
      return kept;
    }
    this.addTerms(j, c, x, columns, acc, live, n);
    for (let i = 0; i < n; i++) {
      const k = live[i] as number;
      live[kept] = k;
      kept += (acc[k] as number) >= threshold ? 1 : 0;
    }
    return kept;
  }

  /**
   * Per dimension and candidate, the column of per-kernel terms: a categorical choice's column of
   * log kernel probabilities, or a discrete value's cell masses per (μ, σ) pair, computed once
   * per distinct value; null for continuous dimensions, computed inline.
   */
  private candidateColumns(x: Float64Array, m: number): (Float64Array[] | null)[] {
    const D = this.dims.length;
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
      // By value, in a map: a search through the values seen so far was O(m²) where the grid has
      // as many points as candidates (n_ei_candidates 100,000 on an int over ±2^31: 40 s an ask).
      const rows = new Map<number, Float64Array>();
      for (let c = 0; c < m; c++) {
        const xv = x[c * D + j] as number;
        let lm = rows.get(xv);
        if (lm === undefined) {
          const [lo, hi] = unitCell(dim.d, xv);
          lm = new Float64Array(P);
          for (let p = 0; p < P; p++) {
            const mp = pairs.mu[p] as number;
            const sp = pairs.sigma[p] as number;
            lm[p] = logGaussMass((lo - mp) / sp, (hi - mp) / sp);
          }
          rows.set(xv, lm);
        }
        perCandidate.push(lm);
      }
      columns.push(perCandidate);
    }
    return columns;
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

  /** Kernel k's term for candidate c: `partial` (its sum over dimensions 0..j) plus dimensions j+1.. in order. */
  private completeTerm(k: number, c: number, x: Float64Array, columns: (Float64Array[] | null)[], partial: number, j: number): number {
    const D = this.dims.length;
    let t = partial;
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

  /**
   * The largest complete term, for candidate c, among the prior and the NEAR_KERNELS kernels on each
   * side of the candidate's dimension-0 coordinate (a continuous dimension, `sorted0`): each summed
   * in `logPdf`'s order, so it is exactly one kernel's final term and no more than the largest.
   */
  private nearBound(c: number, x: Float64Array, columns: (Float64Array[] | null)[]): number {
    const sorted = this.sorted0 as Float64Array;
    const order = this.order0 as Int32Array;
    const mu = this.mus[0] as Float64Array;
    const inv = this.halfPrecision[0] as Float64Array;
    const xv = x[c * this.dims.length] as number;
    const term = (k: number): number => {
      const z = xv - (mu[k] as number);
      return this.completeTerm(k, c, x, columns, (this.base[k] as number) - z * z * (inv[k] as number), 0);
    };
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((sorted[mid] as number) < xv) lo = mid + 1;
      else hi = mid;
    }
    // A NaN term is left out, as `logSumExp` leaves it out (a bound of NaN would drop every kernel).
    let best = -Infinity;
    const prior = term(this.size - 1);
    if (prior > best) best = prior;
    const end = Math.min(sorted.length, lo + NEAR_KERNELS);
    for (let i = Math.max(0, lo - NEAR_KERNELS); i < end; i++) {
      const t = term(order[i] as number);
      if (t > best) best = t;
    }
    return best;
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
 * The larger of two kernel terms, a NaN one left out as `logSumExp` leaves it out (−∞ when both are):
 * a subnormal prior_weight makes the prior's categorical probabilities 0/0, so its term NaN, and
 * `Math.max` would make the bound NaN and drop every kernel.
 */
function largerTerm(a: number, b: number): number {
  return a >= b || b !== b ? (a === a ? a : -Infinity) : b;
}

/**
 * log Σ exp over `acc`'s first n entries (`live` null) or the entries `live` lists, in that order.
 * Terms more than LOG_SUM_CUT below the largest cannot change the sum in double precision and are
 * left out; so any list holding every kernel above that cut, in increasing order, gives the same bits.
 */
function logSumExp(acc: Float64Array, live: Int32Array | null, n: number): number {
  let max = -Infinity;
  if (live === null) for (let k = 0; k < n; k++) max = (acc[k] as number) > max ? (acc[k] as number) : max;
  else for (let i = 0; i < n; i++) max = (acc[live[i] as number] as number) > max ? (acc[live[i] as number] as number) : max;
  if (max === -Infinity) return -Infinity;
  const cut = max - LOG_SUM_CUT;
  let s = 0;
  if (live === null) {
    for (let k = 0; k < n; k++) if ((acc[k] as number) > cut) s += Math.exp((acc[k] as number) - max);
  } else {
    for (let i = 0; i < n; i++) {
      const a = acc[live[i] as number] as number;
      if (a > cut) s += Math.exp(a - max);
    }
  }
  return max + Math.log(s);
}
