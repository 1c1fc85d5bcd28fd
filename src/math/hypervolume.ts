/**
 * Exact hypervolume of a set of points for minimisation: the Lebesgue measure of the region
 * dominated by the points and bounded by the reference point r,
 *   HV(P; r) = λ( ∪_{p ∈ P} [p, r] ).
 * Points not strictly better than r in every objective add nothing and are dropped.
 *
 * Algorithms, by dimension:
 * - d = 1: r − min p.
 * - d = 2: one sweep in increasing first objective (O(n log n)).
 * - d = 3: a sweep in increasing third objective that keeps the 2-D front of the points below
 *   the sweep plane and adds its area times the slab's height (O(n² log n) worst case); the
 *   dimension-sweep idea of Fonseca, Paquete & López-Ibáñez, "An improved dimension-sweep
 *   algorithm for the hypervolume indicator" (CEC 2006), without their balanced tree.
 * - d ≥ 4: WFG (While, Bradstreet & Barone, "A Fast Way of Calculating Exact Hypervolumes",
 *   IEEE TEC 16(1), 2012, §III, eq. 2–4): HV(P) = Σ_k exclhv(P, k), where
 *   exclhv(P, k) = inclhv(p_k) − HV(nds(limitset(P, k))) and limitset(P, k) holds
 *   max(p_k, p_j) for every j > k; points are sorted by their last objective first (§IV), and
 *   the dimension stays the same down the recursion while the sets shrink, ending in `inclhv`
 *   for one point and inclusion–exclusion for two.
 *
 * Every function takes points as arrays of equal length d and a reference of length d, and
 * never modifies its arguments.
 *
 * WFG's cost grows exponentially with d: 60 points on a ten-objective front took 6 s. The read
 * paths of a server cannot wait that long on one request, so `boundedHypervolume` runs WFG within a
 * work budget (HV_MAX_WORK: points built into limit sets plus pairs compared when pruning them,
 * about 20–60 ms here) and past it estimates by Monte Carlo (HV_SAMPLES seeded points in the box
 * between the points' ideal and the reference: a relative standard error of
 * √((1 − f)/(f·N)), under 1 % when the dominated share f of the box is over a tenth), saying which.
 * d ≤ 3 is always exact: its sweeps are polynomial.
 */
import { Rng } from "./rng.js";
import { minOf } from "./extremes.js";

/** WFG's work bound in `boundedHypervolume` (see the file comment). */
export const HV_MAX_WORK = 2_000_000;
/** Monte Carlo samples of an estimate. */
export const HV_SAMPLES = 20_000;

/** Thrown inside WFG when its work budget is spent. */
class OutOfWork extends Error {}

/** What is left of a WFG work budget (share one across calls to bound them together). */
export interface HypervolumeWork {
  left: number;
}

/** Points strictly better than `ref` in every objective (the only ones with a dominated box). */
function inside(points: readonly (readonly number[])[], ref: readonly number[]): number[][] {
  const out: number[][] = [];
  outer: for (const p of points) {
    for (let i = 0; i < ref.length; i++) if (!((p[i] as number) < (ref[i] as number))) continue outer;
    out.push([...p]);
  }
  return out;
}

/**
 * The exact hypervolume of `points` (minimisation) bounded by `ref`; 0 for an empty set.
 * @throws Error when a point's length differs from the reference's or a coordinate is not finite.
 */
export function hypervolume(points: readonly (readonly number[])[], ref: readonly number[]): number {
  const ps = frontInside(points, ref);
  return ps.length === 0 ? 0 : hv(ps, ref);
}

/**
 * The hypervolume of `points` at `ref`, exact within `work` (a number, or a budget shared with
 * other calls and spent by this one; see the file comment), else a seeded Monte Carlo estimate of
 * `samples` points (the same input gives the same estimate). @throws Error as `hypervolume`.
 */
export function boundedHypervolume(
  points: readonly (readonly number[])[],
  ref: readonly number[],
  work: number | HypervolumeWork = HV_MAX_WORK,
  samples = HV_SAMPLES,
): { value: number; exact: boolean } {
  const ps = frontInside(points, ref);
  if (ps.length === 0) return { value: 0, exact: true };
  try {
    return { value: hv(ps, ref, typeof work === "number" ? { left: work } : work), exact: true };
  } catch (err) {
    if (!(err instanceof OutOfWork)) throw err;
  }
  const sampler = new DominatedSampler(ps, ref, samples);
  for (const p of ps) sampler.add(p);
  return { value: sampler.value(), exact: false };
}

/**
 * A Monte Carlo estimate of the region dominated by points added one at a time: `samples` seeded
 * points uniform in the box [min of `span`, ref], each marked once a point added dominates it. The
 * union only grows, so `value()` after each `add` is the hypervolume history's estimate, at
 * O(samples · d) per point. Points must lie in the box (`span` must include every point added).
 */
export class DominatedSampler {
  private readonly xs: Float64Array;
  private readonly covered: Uint8Array;
  private count = 0;
  private readonly volume: number;
  private readonly d: number;

  constructor(span: readonly (readonly number[])[], ref: readonly number[], private readonly samples = HV_SAMPLES) {
    const d = (this.d = ref.length);
    const lo = ref.map((_, i) => minOf(span.map((p) => p[i] as number)));
    this.volume = ref.reduce((v, r, i) => v * (r - (lo[i] as number)), 1);
    this.xs = new Float64Array(samples * d);
    this.covered = new Uint8Array(samples);
    const rng = new Rng(0x68797065, d, span.length); // "hype": fixed, so an estimate is reproducible
    for (let s = 0; s < samples; s++)
      for (let i = 0; i < d; i++) this.xs[s * d + i] = rng.uniform(lo[i] as number, ref[i] as number);
  }

  /** Marks the samples `p` dominates. */
  add(p: readonly number[]): void {
    const { d, xs, covered } = this;
    next: for (let s = 0; s < this.samples; s++) {
      if (covered[s]) continue;
      for (let i = 0; i < d; i++) if ((p[i] as number) > (xs[s * d + i] as number)) continue next;
      covered[s] = 1;
      this.count++;
    }
  }

  /** The estimate of the hypervolume of every point added so far. */
  value(): number {
    return (this.volume * this.count) / this.samples;
  }
}

/** The points strictly inside `ref` that no other one dominates. @throws Error for bad input. */
function frontInside(points: readonly (readonly number[])[], ref: readonly number[]): number[][] {
  const d = ref.length;
  if (d === 0) throw new Error("hypervolume needs at least one objective");
  for (const x of ref) if (!Number.isFinite(x)) throw new Error("the reference point must be finite");
  for (const p of points) {
    if (p.length !== d) throw new Error(`a point has ${p.length} coordinates; the reference has ${d}`);
    for (const x of p) if (!Number.isFinite(x)) throw new Error("hypervolume needs finite coordinates");
  }
  return nonDominated(inside(points, ref));
}

function hv(ps: number[][], ref: readonly number[], work?: HypervolumeWork): number {
  const d = ref.length;
  if (ps.length === 1) return inclhv(ps[0] as number[], ref);
  if (d === 1) return (ref[0] as number) - minOf(ps.map((p) => p[0] as number));
  if (d === 2) return hv2(ps, ref);
  if (d === 3) return hv3(ps, ref);
  return wfg(ps, ref, work);
}

/** Volume of the box [p, ref]. */
function inclhv(p: readonly number[], ref: readonly number[]): number {
  let v = 1;
  for (let i = 0; i < ref.length; i++) v *= (ref[i] as number) - (p[i] as number);
  return v;
}

/** 2-D sweep: points sorted by x, each adds the strip between its y and the best y so far. */
function hv2(ps: readonly (readonly number[])[], ref: readonly number[]): number {
  const sorted = [...ps].sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number));
  let area = 0;
  let yBest = ref[1] as number;
  for (const p of sorted) {
    const y = p[1] as number;
    if (y < yBest) {
      area += ((ref[0] as number) - (p[0] as number)) * (yBest - y);
      yBest = y;
    }
  }
  return area;
}

/** 3-D sweep over z: the 2-D front of the points seen so far times each slab's height. */
function hv3(ps: readonly (readonly number[])[], ref: readonly number[]): number {
  const sorted = [...ps].sort((a, b) => (a[2] as number) - (b[2] as number));
  const ref2 = [ref[0] as number, ref[1] as number];
  // The 2-D front sorted by x (then y decreasing along it): insertion keeps it non-dominated.
  let front: number[][] = [];
  let volume = 0;
  for (let i = 0; i < sorted.length; i++) {
    const p = sorted[i] as number[];
    const x = p[0] as number;
    const y = p[1] as number;
    const dominated = front.some((q) => (q[0] as number) <= x && (q[1] as number) <= y);
    if (!dominated) {
      front = front.filter((q) => !(x <= (q[0] as number) && y <= (q[1] as number)));
      front.push([x, y]);
    }
    const zNext = i + 1 < sorted.length ? ((sorted[i + 1] as number[])[2] as number) : (ref[2] as number);
    const height = zNext - (p[2] as number);
    if (height > 0) volume += hv2(front, ref2) * height;
  }
  return volume;
}

/** WFG (see the file comment): the sum of each point's exclusive hypervolume. */
function wfg(ps: number[][], ref: readonly number[], work?: HypervolumeWork): number {
  const d = ref.length;
  if (ps.length === 1) return inclhv(ps[0] as number[], ref);
  if (ps.length === 2) {
    const [a, b] = ps as [number[], number[]];
    const joint = a.map((x, i) => Math.max(x, b[i] as number));
    return inclhv(a, ref) + inclhv(b, ref) - inclhv(joint, ref);
  }
  // Sorting by the last objective, worst first, keeps limit sets small (WFG §IV).
  const sorted = [...ps].sort((a, b) => (b[d - 1] as number) - (a[d - 1] as number));
  let total = 0;
  for (let k = 0; k < sorted.length; k++) {
    const p = sorted[k] as number[];
    let excl = inclhv(p, ref);
    if (k + 1 < sorted.length) {
      if (work) {
        const m = sorted.length - k - 1;
        work.left -= m + m * m;
        if (work.left < 0) throw new OutOfWork();
      }
      const limit = nonDominated(sorted.slice(k + 1).map((q) => q.map((x, i) => Math.max(x, p[i] as number))));
      excl -= hv(limit, ref, work);
    }
    total += excl;
  }
  return total;
}

/**
 * The points no other point weakly dominates (minimisation), duplicates kept once: the sets
 * WFG recurses on and the input of every sweep. O(n² d).
 */
export function nonDominated(points: readonly (readonly number[])[]): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as readonly number[];
    let keep = true;
    for (let j = 0; j < points.length && keep; j++) {
      if (i === j) continue;
      const q = points[j] as readonly number[];
      let le = true;
      let lt = false;
      for (let k = 0; k < p.length; k++) {
        const a = q[k] as number;
        const b = p[k] as number;
        if (a > b) {
          le = false;
          break;
        }
        if (a < b) lt = true;
      }
      // q dominates p, or q equals p and comes first (keep one of equal points).
      if (le && (lt || j < i)) keep = false;
    }
    if (keep) out.push([...p]);
  }
  return out;
}
