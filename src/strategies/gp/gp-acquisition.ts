/**
 * The acquisition search over the mixed space (step 5 of gp-strategy.ts's header): `MixedSearch`
 * owns the candidates and local searches and adds the constraint models' log probability of
 * feasibility (gp-constraints.ts; Gardner et al. 2014, §3); `AcquisitionSearch` is the `gp`
 * strategy's LogEI on it, and the `ehvi` strategy's LogEHVI (../ehvi/ehvi-acquisition.ts) is another.
 */
import type { NumericDistribution } from "../../domain/distributions.js";
import { minimizeLbfgs } from "../../math/lbfgs.js";
import type { Rng } from "../../math/rng.js";
import { SOBOL_MAX_DIM, SobolEngine } from "../../math/sobol.js";
import { type ConstraintModel, dLogPof, logPof } from "./gp-constraints.js";
import { type Dim, gridIndex, gridUnit, snapUnit } from "./gp-dims.js";
import type { GpPosterior } from "./gp-model.js";
import { dLogH, logH } from "./log-ei.js";

/** Floor on the posterior variance (standardised units) so that σ and its log stay finite. */
export const VAR_FLOOR = 1e-12;
/** A local search stops once within this distance (∞-norm, unit cube) of an earlier one's end point. */
const NEAR_FOUND = 1e-2;
/** Candidates scored exactly per `predictBatch` call. */
const block0 = 32;
/**
 * Kernel terms (`evalTerms`: about the rows of the GPs an acquisition evaluation consults times the
 * dimensions) that the exhaustive and line searches over categorical and discrete coordinates may
 * spend per suggestion, shared evenly among its local searches; a local search whose share is spent
 * keeps the point it has. Those searches try every choice of every such coordinate, round after
 * round, so their cost grew with Σ choices × dimensions × trials: a default `auto` (or `gp`) study
 * over 200 categoricals of 1,000 choices (a legal request under 1 MiB) spent 48 s per ask at 11
 * trials and ran into the 120 s suggestion deadline from 30 on, and every other study asking the
 * one suggestion thread waited behind it (121 s). Now 1–3 s of such evaluations at most (measured
 * from 11 to 200 rows and 50 to 1,000 dimensions, gp and ehvi, on an idle machine); three full
 * rounds over 20 dimensions of 32 values at 200 model rows fit in one local search's share.
 */
export const MAX_COORDINATE_TERMS = 1_000_000_000;

/** The options of the `gp` strategy the search reads (gp-strategy.ts documents them). */
export interface AcquisitionOptions {
  readonly nCandidates: number;
  readonly nLocalSearches: number;
  readonly maxAcqIterations: number;
  /** Whether the best observed point starts a local search (default true; see gp-strategy.ts `incumbentStart`). */
  readonly incumbentStart?: boolean;
  /** How the candidates that start local searches are picked (default "top"; see gp-strategy.ts `startSelection`). */
  readonly startSelection?: "top" | "roulette";
  /** A local search stops within this ∞-norm distance of an earlier one's end point (default `NEAR_FOUND`). */
  readonly nearFound?: number;
}

/**
 * Optuna 5.0's start selection (optim_mixed.optimize_acqf_mixed): the best candidate, then k − 1 more
 * drawn without replacement with probability ∝ exp(a_c − a_max) (a: the log acquisition), i.e. in
 * proportion to the acquisition itself. `ranked` holds every scored candidate, best first.
 */
export function rouletteStarts(ranked: readonly number[], score: Float64Array, k: number, rng: Rng): number[] {
  if (ranked.length === 0) return [];
  const top = score[ranked[0]!]!;
  const pool = ranked.slice(1);
  const w = pool.map((c) => Math.exp(score[c]! - top));
  const out = [ranked[0]!];
  let left = w.filter((v) => v > 0).length;
  for (; out.length < k && left > 0; left--) {
    const j = rng.choiceWeighted(w);
    out.push(pool[j]!);
    w[j] = 0;
  }
  return out;
}

/** Bounds of the acquisition search in unit coordinates (categorical dimensions ignore them). */
export interface SearchBox {
  readonly lower: Float64Array;
  readonly upper: Float64Array;
}

/**
 * Maximises an acquisition over the mixed space; every buffer is allocated once per suggestion.
 * Subclasses give the acquisition (`value`, `negAt` with its gradient over the continuous
 * coordinates, `topCandidates`); this class owns the search: Sobol candidates, local searches
 * that alternate L-BFGS on continuous dimensions with exhaustive or line searches on the others,
 * and the constraint models' log probability of feasibility, which every acquisition adds
 * (Gardner et al. 2014, §3).
 */
export abstract class MixedSearch {
  protected readonly d: number;
  protected readonly contMask: Uint8Array;
  protected readonly contIdx: number[];
  /** Whether any dimension is searched outside L-BFGS (discrete, relaxed or categorical). */
  private readonly mixed: boolean;
  protected readonly full: Float64Array;
  private readonly sub: Float64Array;
  private readonly lower: Float64Array;
  private readonly upper: Float64Array;
  private readonly cDMean: Float64Array[];
  private readonly cDVar: Float64Array[];

  constructor(
    protected readonly dims: Dim[],
    protected readonly opts: AcquisitionOptions,
    private readonly box: SearchBox | null,
    protected readonly constraints: readonly ConstraintModel[],
  ) {
    this.cDMean = constraints.map(() => new Float64Array(dims.length));
    this.cDVar = constraints.map(() => new Float64Array(dims.length));
    this.d = dims.length;
    this.contMask = Uint8Array.from(dims, (dim) => (dim.kind === "cont" || dim.kind === "relaxed" ? 1 : 0));
    this.contIdx = dims.flatMap((dim, m) => (dim.kind === "cont" || dim.kind === "relaxed" ? [m] : []));
    this.mixed = dims.some((dim) => dim.kind !== "cont");
    this.full = new Float64Array(this.d);
    this.sub = new Float64Array(this.contIdx.length);
    this.lower = Float64Array.from(this.contIdx, (m) => box?.lower[m] ?? 0);
    this.upper = Float64Array.from(this.contIdx, (m) => box?.upper[m] ?? 1);
  }

  /** The acquisition at x (log scale; −∞ where it vanishes). */
  abstract value(x: Float64Array): number;

  /** −(the acquisition without the constraint terms) at `full`; its gradient over the continuous coordinates into g. */
  protected abstract negAt(g: Float64Array): number;

  /** The rows of the objective GPs one `value` consults (the constraint models' are added here). */
  protected abstract objectiveRows(): number;

  /**
   * What one `value` costs, in kernel terms: the consulted GPs' rows times the dimensions (the kernel
   * row) and the rows (the variance's solve), and a little per evaluation besides (measured: 2–3 ns
   * a term from 11 to 200 rows and 50 to 1,000 dimensions).
   */
  private evalTerms(): number {
    let rows = this.objectiveRows();
    for (const c of this.constraints) rows += c.gp.n;
    return (rows + 10) * (this.d + rows);
  }

  /** `MAX_COORDINATE_TERMS`; a test lowers it to see the bound at work on a small space. */
  static coordinateTerms = MAX_COORDINATE_TERMS;

  /** Kernel terms the current local search may still spend on coordinate searches (`MAX_COORDINATE_TERMS`). */
  private termsLeft = Infinity;
  /** Its share of `MAX_COORDINATE_TERMS`, set by `run`. */
  private termsPerSearch = Infinity;
  /** How many acquisition evaluations the coordinate searches made in the last `run` (tests). */
  coordinateEvaluations = 0;

  /**
   * Indices of the k best of the nc candidates (rows of `cands`), best first, with their exact
   * values in `exact` (NaN for candidates not scored).
   */
  protected abstract topCandidates(cands: Float64Array, nc: number, k: number): number[];

  /** log PoF of one constraint at a predicted mean and variance. */
  protected static pof(c: ConstraintModel, mean: number, variance: number): number {
    return logPof(mean, Math.sqrt(variance > VAR_FLOOR ? variance : VAR_FLOOR), c.threshold);
  }

  /** Σ log PoF over the constraint models at x. */
  protected constraintValue(x: Float64Array): number {
    let v = 0;
    for (const c of this.constraints) {
      c.gp.predict(x);
      v += MixedSearch.pof(c, c.gp.mean, c.gp.variance);
    }
    return v;
  }

  /** −acquisition at `full` with the continuous coordinates taken from z; gradient into g. */
  private negWithGradient = (z: Float64Array, g: Float64Array): number => {
    const { full, contIdx } = this;
    for (let k = 0; k < contIdx.length; k++) full[contIdx[k]!] = z[k]!;
    let f = this.negAt(g);
    this.constraints.forEach((c, j) => {
      const dMean = this.cDMean[j]!;
      const dVar = this.cDVar[j]!;
      c.gp.predictWithGradient(full, this.contMask, dMean, dVar);
      const floored = !(c.gp.variance > VAR_FLOOR);
      const sigma = Math.sqrt(floored ? VAR_FLOOR : c.gp.variance);
      const dp = dLogPof(c.gp.mean, sigma, c.threshold);
      for (let k = 0; k < contIdx.length; k++) {
        const m = contIdx[k]!;
        const dS = floored ? 0 : dVar[m]! / (2 * sigma);
        g[k] = g[k]! - (dp.dMean * dMean[m]! + dp.dSigma * dS);
      }
      f -= logPof(c.gp.mean, sigma, c.threshold);
    });
    return f;
  };

  /**
   * The best point found: the best of the local searches' end points and the top candidate. Local
   * searches start from each incumbent and from the best `nLocalSearches − #incumbents` candidates.
   * `exclude` (when given) refuses points that repeat an earlier trial's configuration.
   */
  run(rng: Rng, incumbent: Float64Array | readonly Float64Array[], exclude?: (x: Float64Array) => boolean): Float64Array | null {
    // Each incumbent (the `ehvi` strategy passes several front points) starts a local search, at most `nLocalSearches`.
    const incumbents = (incumbent instanceof Float64Array ? [incumbent] : incumbent).slice(0, Math.max(1, this.opts.nLocalSearches));
    const { d, dims, opts } = this;
    const nc = opts.nCandidates;
    const cands = new Float64Array(nc * d);
    // Scrambled Sobol points (as Optuna's GPSampler), the scrambling seeded from the request's
    // RNG so that a suggestion stays a function of (seed, history). Categoricals take the
    // cell of their coordinate, so every choice gets its share of the candidates.
    // Beyond the Sobol table's dimensions: uniform points.
    const engine = d <= SOBOL_MAX_DIM ? new SobolEngine(d, { seed: rng.nextUint32() }) : null;
    const u = new Float64Array(d);
    for (let c = 0; c < nc; c++) {
      if (engine !== null) engine.point(c, u);
      else for (let m = 0; m < d; m++) u[m] = rng.random();
      if (this.box !== null) for (let m = 0; m < d; m++) if (dims[m]!.kind !== "cat") u[m] = this.box.lower[m]! + u[m]! * (this.box.upper[m]! - this.box.lower[m]!);
      for (let m = 0; m < d; m++) {
        const dim = dims[m]!;
        cands[c * d + m] =
          dim.kind === "cont" ? u[m]!
          : dim.kind === "cat" ? Math.min(dim.card - 1, Math.floor(u[m]! * dim.card))
          : snapUnit(dim.dist as NumericDistribution, u[m]!);
      }
    }
    const k = Math.max(1, opts.nLocalSearches - incumbents.length);
    const order = opts.startSelection === "roulette" ? rouletteStarts(this.topCandidates(cands, nc, nc), this.exact, k, rng) : this.topCandidates(cands, nc, k);
    if (order.length === 0) return null;
    const scores = this.exact;

    let bestX: Float64Array | null = null;
    let bestV = -Infinity;
    for (const c of order) {
      const x = cands.slice(c * d, c * d + d);
      if (exclude?.(x)) continue;
      bestX = x;
      bestV = scores[c]!;
      break;
    }
    const starts: Float64Array[] = [];
    if (opts.nLocalSearches > 0 && opts.incumbentStart !== false) for (const inc of incumbents) starts.push(Float64Array.from(inc));
    for (let k = 0; k < Math.min(opts.nLocalSearches - incumbents.length, order.length); k++) {
      const c = order[k]!;
      starts.push(cands.slice(c * d, c * d + d));
    }
    this.found.length = 0;
    this.coordinateEvaluations = 0;
    this.termsPerSearch = MixedSearch.coordinateTerms / Math.max(1, starts.length);
    for (const s of starts) {
      const v = this.localSearch(s);
      this.found.push(s);
      if ((v > bestV || bestX === null) && !exclude?.(s)) {
        bestV = v;
        bestX = s;
      }
    }
    return bestX;
  }

  /** Exact acquisition values of the candidates `topCandidates` scored (NaN for those it pruned). */
  protected exact = new Float64Array(0);

  /** End points of the local searches so far (continuous coordinates in `full`'s layout). */
  private readonly found: Float64Array[] = [];

  /**
   * Whether the L-BFGS iterate z (with `full`'s other coordinates) is within `NEAR_FOUND`
   * (∞-norm, unit cube) of an earlier local search's end point: many starts climb into the
   * same basin, and the rest of such a search would only rediscover that end point.
   */
  private nearFound = (z: Float64Array): boolean => {
    const { contIdx, full, found, d } = this;
    outer: for (const f of found) {
      for (let m = 0; m < d; m++) if (this.contMask[m] === 0 && f[m] !== full[m]) continue outer;
      for (let k = 0; k < contIdx.length; k++) if (Math.abs(f[contIdx[k]!]! - z[k]!) > (this.opts.nearFound ?? NEAR_FOUND)) continue outer;
      return true;
    }
    return false;
  };

  /** Improves x in place; returns its acquisition value. */
  private localSearch(x: Float64Array): number {
    const { d, dims, contIdx, sub, full } = this;
    let v = this.value(x);
    if (!Number.isFinite(v)) return -Infinity;
    this.termsLeft = this.termsPerSearch;
    for (let round = 0; round < 3; round++) {
      const before = v;
      if (contIdx.length > 0) {
        full.set(x);
        for (let k = 0; k < contIdx.length; k++) sub[k] = x[contIdx[k]!]!;
        const r = minimizeLbfgs(this.negWithGradient, sub, {
          lower: this.lower, upper: this.upper, maxIter: this.opts.maxAcqIterations, pgtol: 1e-5, ftol: 1e-9,
          stop: this.nearFound,
        });
        if (Number.isFinite(r.f) && -r.f > v) {
          for (let k = 0; k < contIdx.length; k++) {
            const m = contIdx[k]!;
            const dim = dims[m]!;
            x[m] = dim.kind === "relaxed" ? snapUnit(dim.dist as NumericDistribution, r.x[k]!) : r.x[k]!;
          }
          v = this.value(x);
        }
      }
      for (let m = 0; m < d && this.termsLeft > 0; m++) {
        const dim = dims[m]!;
        if (dim.kind === "cont") continue;
        v = this.searchDim(x, m, dim, v);
      }
      // Another round only helps when the non-continuous search can move x: from L-BFGS's own
      // optimum a second L-BFGS run only spends evaluations.
      if (!this.mixed || !(v > before + 1e-10)) break;
    }
    return v;
  }

  /** Best value of coordinate m with the others fixed: exhaustive or a doubling line search. */
  private searchDim(x: Float64Array, m: number, dim: Dim, current: number): number {
    let bestU = x[m]!;
    let bestV = current;
    const cost = this.evalTerms();
    const tryU = (u: number) => {
      // The local search's share of MAX_COORDINATE_TERMS is spent: x keeps what it has.
      if (this.termsLeft < cost) {
        this.termsLeft = 0;
        return;
      }
      this.termsLeft -= cost;
      this.coordinateEvaluations++;
      x[m] = u;
      const val = this.value(x);
      if (val > bestV) {
        bestV = val;
        bestU = u;
      }
    };
    if (dim.kind === "cat") {
      const cur = x[m]!;
      for (let k = 0; k < dim.card; k++) if (k !== cur) tryU(k);
    } else {
      const nd = dim.dist as NumericDistribution;
      const cur = gridIndex(nd, x[m]!);
      if (dim.kind === "discrete") {
        for (let k = 0; k < dim.card; k++) if (k !== cur) tryU(gridUnit(nd, k));
      } else {
        for (let step = 1; step < dim.card; step *= 2) {
          if (cur + step < dim.card) tryU(gridUnit(nd, cur + step));
          if (cur - step >= 0) tryU(gridUnit(nd, cur - step));
        }
      }
    }
    x[m] = bestU;
    return bestV;
  }
}

/**
 * The most doubles kept for kernel rows (32 MiB; the defaults need 2,048 × ~200 ≈ 3.3 MiB): beyond,
 * as with a million candidates allowed by the options, the rows are recomputed instead.
 */
const ROW_SCRATCH_MAX = 4 * 1024 * 1024;

let rowScratch = new Float64Array(0);

/**
 * A buffer of at least `size` doubles for the candidates' kernel rows, reused from one
 * suggestion to the next: a fresh multi-megabyte array costs more in page faults and zeroing
 * than the kernel rows it saves recomputing. Single-threaded use only (as all strategies);
 * undefined above `ROW_SCRATCH_MAX`.
 */
function kernelRowScratch(size: number): Float64Array | undefined {
  if (size > ROW_SCRATCH_MAX) return undefined;
  if (rowScratch.length < size) rowScratch = new Float64Array(size);
  return rowScratch;
}

/**
 * The `gp` strategy's acquisition: log EI(x) + Σ_k log Φ((t_k − μ_k(x))/σ_k(x)) over the
 * constraint models (none: plain LogEI); with `best` = +∞ (no feasible observation yet) the EI
 * term is dropped and the search maximises the log probability of feasibility alone (Gardner et
 * al. 2014, §3).
 */
export class AcquisitionSearch extends MixedSearch {
  private readonly dMean: Float64Array;
  private readonly dVar: Float64Array;
  /** Whether the EI term is used (some observation is feasible). */
  private readonly withEi: boolean;

  constructor(
    private readonly gp: GpPosterior,
    dims: Dim[],
    private readonly best: number,
    opts: AcquisitionOptions,
    box: SearchBox | null = null,
    constraints: readonly ConstraintModel[] = [],
  ) {
    super(dims, opts, box, constraints);
    this.withEi = Number.isFinite(best);
    this.dMean = new Float64Array(dims.length);
    this.dVar = new Float64Array(dims.length);
  }

  /** The EI term: LogEI, or 0 without a feasible incumbent. Increases with the variance. */
  private score(mean: number, variance: number): number {
    if (!this.withEi) return 0;
    const sigma = Math.sqrt(variance > VAR_FLOOR ? variance : VAR_FLOOR);
    return Math.log(sigma) + logH((this.best - mean) / sigma);
  }

  protected objectiveRows(): number {
    return this.gp.n;
  }

  /** The acquisition at x. */
  value(x: Float64Array): number {
    this.gp.predict(x);
    return this.score(this.gp.mean, this.gp.variance) + this.constraintValue(x);
  }

  protected negAt(g: Float64Array): number {
    if (this.withEi) return this.negLogEi(g);
    g.fill(0);
    return 0;
  }

  /** −LogEI at `full`; its gradient over the continuous coordinates into g. */
  private negLogEi(g: Float64Array): number {
    const { full, contIdx, dMean, dVar, gp } = this;
    gp.predictWithGradient(full, this.contMask, dMean, dVar);
    const floored = !(gp.variance > VAR_FLOOR);
    const sigma = Math.sqrt(floored ? VAR_FLOOR : gp.variance);
    const zz = (this.best - gp.mean) / sigma;
    const lh = logH(zz);
    const r = dLogH(zz, lh);
    const dMu = -r / sigma;
    const dSigma = (1 - r * zz) / sigma;
    for (let k = 0; k < contIdx.length; k++) {
      const m = contIdx[k]!;
      const dS = floored ? 0 : dVar[m]! / (2 * sigma);
      g[k] = -(dMu * dMean[m]! + dSigma * dS);
    }
    return -(Math.log(sigma) + lh);
  }

  /**
   * Indices of the k best candidates by the acquisition, best first (ties by index). Exact: LogEI
   * increases with σ (and each constraint's log PoF is bounded likewise), so a candidate whose score at the variance bound of
   * `meanAndVarianceBound` is below the k-th best exact score cannot be in the top k and
   * its exact variance is never computed. Candidates are scored exactly in decreasing order
   * of their bound, in blocks for `predictBatch`, until the next bound falls below the
   * k-th best exact score; within a block, `predictBatch` gives up on a candidate as soon as a
   * partial variance (an upper bound too) puts it below that score.
   */
  protected topCandidates(cands: Float64Array, nc: number, k: number): number[] {
    const { d, gp } = this;
    const means = new Float64Array(nc);
    const bounds = new Float64Array(nc);
    const n = gp.n;
    const rows = kernelRowScratch(nc * n);
    gp.meanAndVarianceBound(cands, nc, means, bounds, rows);
    const ub = new Float64Array(nc);
    // The constraints' share of each bound: log PoF is at most 0, and for μ above the threshold
    // it increases with σ, so it is bounded by its value at the variance bound.
    const conUb = new Float64Array(nc);
    for (const con of this.constraints) {
      const cMean = new Float64Array(nc);
      const cBound = new Float64Array(nc);
      con.gp.meanAndVarianceBound(cands, nc, cMean, cBound);
      for (let c = 0; c < nc; c++) if (cMean[c]! > con.threshold) conUb[c] = conUb[c]! + MixedSearch.pof(con, cMean[c]!, cBound[c]!);
    }
    for (let c = 0; c < nc; c++) ub[c] = this.score(means[c]!, bounds[c]!) + conUb[c]!;
    const cm = new Float64Array(block0);
    const cv = new Float64Array(block0);
    const byBound = Array.from({ length: nc }, (_, c) => c)
      .filter((c) => !Number.isNaN(ub[c]!))
      .sort((a, b) => ub[b]! - ub[a]! || a - b);
    this.exact = new Float64Array(nc).fill(NaN);
    const top: number[] = [];
    const block = block0;
    const xs = new Float64Array(block * d);
    const m = new Float64Array(block);
    const v = new Float64Array(block);
    const blockRows = rows === undefined ? undefined : new Float64Array(block * n);
    for (let start = 0; start < byBound.length; start += block) {
      // A margin so that rounding in the bound can only make us score more, never fewer.
      if (top.length >= k && ub[byBound[start]!]! < this.exact[top[k - 1]!]! - 1e-9) break;
      const count = Math.min(block, byBound.length - start);
      for (let j = 0; j < count; j++) {
        const c = byBound[start + j]!;
        xs.set(cands.subarray(c * d, c * d + d), j * d);
        if (rows !== undefined) blockRows!.set(rows.subarray(c * n, c * n + n), j * n);
      }
      // A candidate whose score is already below the k-th best at an upper bound of its
      // variance (its constraint terms at their bounds, as in `ub`) cannot enter the top k.
      const kth = top.length >= k ? this.exact[top[k - 1]!]! - 1e-9 : -Infinity;
      gp.predictBatch(xs, count, m, v, kth === -Infinity ? undefined : (j, mean, varBound) => {
        const c = byBound[start + j]!;
        return this.score(mean, varBound) + conUb[c]! < kth;
      }, blockRows);
      for (let j = 0; j < count; j++) m[j] = this.score(m[j]!, v[j]!);
      for (const con of this.constraints) {
        con.gp.predictBatch(xs, count, cm, cv);
        for (let j = 0; j < count; j++) m[j] = m[j]! + MixedSearch.pof(con, cm[j]!, cv[j]!);
      }
      for (let j = 0; j < count; j++) {
        if (Number.isNaN(v[j]!)) continue; // pruned part-way: not in the top k, left unscored
        const c = byBound[start + j]!;
        const sc = m[j]!;
        this.exact[c] = sc;
        if (!Number.isFinite(sc)) continue;
        top.push(c);
      }
      top.sort((a, b) => this.exact[b]! - this.exact[a]! || a - b);
      if (top.length > k) top.length = k;
    }
    return top;
  }
}
