/**
 * The per-kernel arithmetic of TPE's Parzen estimators (parzen-estimator.ts): the stable argsort
 * behind the bandwidths, categorical kernel rows, log Gaussian masses of the unit interval and of
 * a discrete value's cell, the grouping of a discrete dimension's kernels by (μ, σ), and the
 * sampling helper. Kept apart so that the mixture file holds the mixture.
 */
import { type NumericDistribution, fromUnit, internalBounds } from "../../domain/distributions.js";
import { logNormalCdf, normalCdf } from "../../math/special.js";
/** Beyond this many sigmas Φ is 1 to double precision, so the truncation mass needs no erfc. */
const FAR_Z = 8.5;

/** `stableArgsort`'s buckets, bucket starts and fill pointers, kept between calls (it is not reentrant). */
let sortScratch = new Int32Array(0);

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
  if (sortScratch.length < 3 * n + 1) sortScratch = new Int32Array(2 * (3 * n + 1));
  const bucket = sortScratch.subarray(0, n);
  const start = sortScratch.subarray(n, 2 * n + 1).fill(0);
  for (let i = 0; i < n; i++) {
    const b = Math.min(n - 1, Math.floor(((v[i] as number) - min) * scale));
    bucket[i] = b;
    (start[b + 1] as number)++;
  }
  for (let b = 0; b < n; b++) (start[b + 1] as number) += start[b] as number;
  const fill = sortScratch.subarray(2 * n + 1, 3 * n + 1);
  fill.set(start.subarray(0, n));
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
export function log1mexp(x: number): number {
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
export function logUnitMass(mu: number, sigma: number): number {
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
 * The log of a categorical dimension's kernel rows (`categoricalKernels`; with no observations the
 * one uniform row), transposed: one K-long column per choice. Every observed row holds the same
 * two values (the observed choice's and the others'), and the prior row one, computed here by
 * `categoricalKernels`' expressions without building the rows: three logarithms.
 */
export function logColumns(observed: ArrayLike<number>, n: number, k: number, priorWeight: number): Float64Array[] {
  const K = n + 1;
  const cols = Array.from({ length: k }, () => new Float64Array(K));
  if (n === 0) {
    for (let c = 0; c < k; c++) (cols[c] as Float64Array)[0] = Math.log(1 / k);
    return cols;
  }
  const base = priorWeight / K;
  const total = base * k + 1;
  const logHit = Math.log((base + 1) / total);
  const logMiss = k > 1 ? Math.log(base / total) : 0;
  for (let c = 0; c < k; c++) (cols[c] as Float64Array).fill(logMiss, 0, n);
  for (let r = 0; r < n; r++) (cols[observed[r] as number] as Float64Array)[r] = logHit;
  const logPrior = Math.log(base / (base * k));
  for (let c = 0; c < k; c++) (cols[c] as Float64Array)[n] = logPrior;
  return cols;
}

/** The distinct (μ, σ) pairs among a discrete dimension's kernels, and each kernel's pair. */
export interface KernelPairs {
  readonly mu: Float64Array;
  readonly sigma: Float64Array;
  /** Kernel k's pair is `of[k]`. */
  readonly of: Int32Array;
}

/** Map's key equality (SameValueZero): NaN equals NaN, −0 equals 0. */
function sameValueZero(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

/**
 * Groups the kernels of a discrete dimension by (μ, σ). Their centres sit on the few grid
 * values and, with the magic clip, most bandwidths are the clip (a run of tied centres has gaps
 * only at its ends), so a study of thousands of trials has a few dozen pairs: the truncation
 * and cell masses, each a pair of log-CDFs, are computed per pair instead of per kernel, with
 * the same arguments and so the same results.
 */
export function kernelPairs(mu: Float64Array, sigma: Float64Array): KernelPairs {
  const K = mu.length;
  const of = new Int32Array(K);
  // Per centre its first pair; the pairs of one centre are chained by `next` (a centre has a few
  // bandwidths: the clip and its runs' ends), so one Map lookup per kernel. Pairs are numbered in
  // order of first occurrence.
  const first = new Map<number, number>();
  const next: number[] = [];
  const pm: number[] = [];
  const ps: number[] = [];
  for (let k = 0; k < K; k++) {
    const m = mu[k] as number;
    const s = sigma[k] as number;
    let p = first.get(m);
    if (p === undefined) {
      first.set(m, (p = pm.length));
      pm.push(m);
      ps.push(s);
      next.push(-1);
    } else {
      while (!sameValueZero(ps[p] as number, s)) {
        const q = next[p] as number;
        if (q >= 0) {
          p = q;
          continue;
        }
        next[p] = pm.length;
        p = pm.length;
        pm.push(m);
        ps.push(s);
        next.push(-1);
      }
    }
    of[k] = p;
  }
  return { mu: Float64Array.from(pm), sigma: Float64Array.from(ps), of };
}

/** Smallest k with cum[k] > r (binary search over a cumulative weight array). */
export function pick(cum: Float64Array, r: number): number {
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cum[mid] as number) > r) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
