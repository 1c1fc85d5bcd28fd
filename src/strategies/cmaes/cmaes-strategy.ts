/**
 * (μ/μ_w, λ)-CMA-ES with IPOP restarts on the unit cube of the numeric dimensions.
 *
 * Sources:
 * - N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772 (2016/2023):
 *   sampling (eq. 38–40), recombination (eq. 41–42), step-size control (eq. 43–44),
 *   covariance adaptation with rank-one and rank-μ updates (eq. 45–47) and every default
 *   strategy parameter of Table 1 (λ = 4 + ⌊3 ln N⌋, μ = ⌊λ/2⌋, positive log weights,
 *   c_σ, d_σ, c_c, c_1, c_μ); h_σ per Appendix A.
 * - A. Auger & N. Hansen, "A restart CMA evolution strategy with increasing population
 *   size" (CEC 2005): IPOP — on stagnation restart with λ doubled.
 *
 * Choices and defaults (with reasons):
 * - Search space: numeric dimensions mapped to [0, 1] by `toUnit` (log/step aware).
 *   Initial mean: the centre for the first run, a uniform point (derived from the study
 *   seed and the restart index) for every restart (Auger & Hansen). σ0 = 1/6 of the unit
 *   range (Optuna's CmaEsSampler: min range / 6).
 * - Box: a sample outside [0, 1] is redrawn up to 100 times, then clipped (as Optuna does);
 *   the update uses the point actually evaluated (clipped), in the continuous encoding.
 * - Integers and stepped floats: the continuous sample is rounded onto the grid for the
 *   evaluation (the update keeps the continuous value), and after each update the
 *   marginal standard deviation σ·√C_ii of such a dimension is kept ≥ half a grid cell by
 *   rescaling row and column i of C (a congruence, so C stays positive definite). This is
 *   the "rounding + minimum std" fallback, not Hamano et al.'s (2022) margin correction:
 *   it keeps integer dimensions from freezing on one value.
 * - Categorical dimensions are drawn uniformly at random for every trial (CMA-ES has no
 *   natural model for unordered choices; Optuna also samples them independently).
 * - Stopping (then IPOP restart with λ ×2): σ·max √C_ii < 1e-8 (TolX), flat fitness —
 *   the range of the generation's values and of the best values of the last
 *   10 + ⌈30N/λ⌉ generations below 1e-12 (TolFun; Hansen's tutorial, Appendix B.3) —
 *   condition number of C above 1e14, or any non-finite state.
 *
 * Statelessness: each suggestion stores `{cma_restart, cma_gen, cma_idx, cma_x}` in the
 * trial's `systemAttrs` (cma_x: the continuous unit-cube sample). The state is rebuilt by
 * replaying completed generations from history; an in-memory cache keyed by study name,
 * validated against the trials it consumed, makes the replay incremental. A generation
 * is complete when members 0..λ−1 are all finished; FAIL and PRUNED members (or ones
 * without a finite value) rank after the COMPLETE ones, among themselves as Optuna's TPE ranks
 * pruned trials — deepest report first, then its value (../fidelity.ts) — so a generation that
 * a pruner stopped entirely still moves the distribution (issue 17); a generation with no
 * finite value and no report at all is skipped. While a generation still has members out, new asks
 * get the next unissued member; once all are out, extra samples from the same
 * distribution are handed out with `cma_idx ≥ λ` and are not used in the update.
 */
import { z } from "zod";
import {
  type Distribution, type NumericDistribution, type ParamValue, type Params, cardinality, fromUnit, isSingleValue,
} from "../../domain/distributions.js";
import type { Trial } from "../../domain/trial.js";
import { NumericalError, symmetricEigen } from "../../math/linalg.js";
import { Rng } from "../../math/rng.js";
import { sampleUniform } from "../../domain/sampling.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";
import { stoppedRankKey } from "../fidelity.js";
import { maxOf, minOf } from "../../math/extremes.js";

const options = z
  .object({
    /** Initial step size in unit-cube coordinates. */
    sigma0: z.number().positive().max(1).default(1 / 6),
    /**
     * Population size of the first run; default 4 + ⌊3 ln N⌋. At most 10,000: a generation's state
     * is O(λ) and rebuilt on the event loop (λ = 5e7 held the server 16 s and 1.4 GB in a probe).
     */
    popsize: z.number().int().min(2).max(10_000).optional(),
    /** IPOP restarts on stagnation (population doubled each time); false: restart at the same size. */
    restart: z.boolean().default(true),
  })
  .strict();

export type CmaesOptions = z.infer<typeof options>;

interface NumDim {
  readonly name: string;
  readonly dist: NumericDistribution;
  /** Half a grid cell in unit coordinates (0 for continuous dimensions). */
  readonly minStd: number;
}

/** The distribution and evolution paths of one run (one restart). */
class CmaState {
  readonly n: number;
  readonly lambda: number;
  readonly mu: number;
  readonly weights: Float64Array;
  readonly muEff: number;
  readonly cSigma: number;
  readonly dSigma: number;
  readonly cc: number;
  readonly c1: number;
  readonly cMu: number;
  readonly chiN: number;
  mean: Float64Array;
  sigma: number;
  C: Float64Array;
  B: Float64Array;
  D: Float64Array;
  pSigma: Float64Array;
  pc: Float64Array;
  generation = 0;
  bestHistory: number[] = [];
  stopped = false;

  constructor(
    readonly restart: number,
    n: number,
    lambda: number,
    mean: Float64Array,
    sigma: number,
  ) {
    this.n = n;
    this.lambda = lambda;
    this.mu = Math.floor(lambda / 2);
    const raw = Array.from({ length: this.mu }, (_, i) => Math.log((lambda + 1) / 2) - Math.log(i + 1));
    const sum = raw.reduce((a, b) => a + b, 0);
    this.weights = Float64Array.from(raw, (w) => w / sum);
    let sq = 0;
    for (const w of this.weights) sq += w * w;
    this.muEff = 1 / sq;
    const me = this.muEff;
    this.cSigma = (me + 2) / (n + me + 5);
    this.dSigma = 1 + 2 * Math.max(0, Math.sqrt((me - 1) / (n + 1)) - 1) + this.cSigma;
    this.cc = (4 + me / n) / (n + 4 + (2 * me) / n);
    this.c1 = 2 / ((n + 1.3) ** 2 + me);
    this.cMu = Math.min(1 - this.c1, (2 * (me - 2 + 1 / me)) / ((n + 2) ** 2 + me));
    this.chiN = Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));
    this.mean = mean;
    this.sigma = sigma;
    this.C = new Float64Array(n * n);
    this.B = new Float64Array(n * n);
    this.D = new Float64Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      this.C[i * n + i] = 1;
      this.B[i * n + i] = 1;
    }
    this.pSigma = new Float64Array(n);
    this.pc = new Float64Array(n);
  }

  /** One draw of N(m, σ²C) inside the unit box (redrawn up to 100 times, then clipped). */
  sample(rng: Rng): Float64Array {
    const { n, B, D, mean, sigma } = this;
    const z = new Float64Array(n);
    const x = new Float64Array(n);
    for (let attempt = 0; attempt < 100; attempt++) {
      for (let i = 0; i < n; i++) z[i] = D[i]! * rng.normal();
      let inside = true;
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += B[i * n + k]! * z[k]!;
        x[i] = mean[i]! + sigma * s;
        if (!(x[i]! >= 0 && x[i]! <= 1)) inside = false;
      }
      if (inside) return x;
    }
    for (let i = 0; i < n; i++) x[i] = Math.min(1, Math.max(0, Number.isFinite(x[i]!) ? x[i]! : mean[i]!));
    return x;
  }

  /**
   * The update of Hansen's tutorial from one generation: `xs` sorted best first (only the
   * first μ are used), `fitness` the sorted values (for the stopping tests).
   */
  update(xs: Float64Array[], fitness: number[], dims: NumDim[]): void {
    const { n, mu, weights, mean, sigma, C, B, D, pSigma, pc } = this;
    const old = Float64Array.from(mean);
    const ys = xs.slice(0, mu).map((x) => Float64Array.from(x, (v, i) => (v - old[i]!) / sigma));
    const yw = new Float64Array(n);
    for (let k = 0; k < mu; k++) for (let i = 0; i < n; i++) yw[i] = yw[i]! + weights[k]! * ys[k]![i]!;
    for (let i = 0; i < n; i++) mean[i] = old[i]! + sigma * yw[i]!;

    // C^{-1/2}·yw = B·D⁻¹·Bᵀ·yw
    const t = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += B[i * n + k]! * yw[i]!;
      t[k] = s / D[k]!;
    }
    const cs = this.cSigma;
    const csFactor = Math.sqrt(cs * (2 - cs) * this.muEff);
    let psNorm2 = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += B[i * n + k]! * t[k]!;
      pSigma[i] = (1 - cs) * pSigma[i]! + csFactor * s;
      psNorm2 += pSigma[i]! * pSigma[i]!;
    }
    const psNorm = Math.sqrt(psNorm2);
    const g = this.generation + 1;
    const hSigma = psNorm / Math.sqrt(1 - (1 - cs) ** (2 * g)) < (1.4 + 2 / (n + 1)) * this.chiN ? 1 : 0;
    const ccFactor = Math.sqrt(this.cc * (2 - this.cc) * this.muEff);
    for (let i = 0; i < n; i++) pc[i] = (1 - this.cc) * pc[i]! + hSigma * ccFactor * yw[i]!;
    const deltaH = (1 - hSigma) * this.cc * (2 - this.cc);
    const decay = 1 + this.c1 * deltaH - this.c1 - this.cMu;
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        let rankMu = 0;
        for (let k = 0; k < mu; k++) rankMu += weights[k]! * ys[k]![i]! * ys[k]![j]!;
        const v = decay * C[i * n + j]! + this.c1 * pc[i]! * pc[j]! + this.cMu * rankMu;
        C[i * n + j] = v;
        C[j * n + i] = v;
      }
    this.sigma = sigma * Math.exp((cs / this.dSigma) * (psNorm / this.chiN - 1));
    // Integer dimensions keep a marginal std of at least half a grid cell.
    for (let i = 0; i < n; i++) {
      const floor = dims[i]!.minStd;
      const sd = this.sigma * Math.sqrt(C[i * n + i]!);
      if (floor > 0 && sd < floor) {
        const f = floor / sd;
        for (let k = 0; k < n; k++) {
          C[i * n + k] = C[i * n + k]! * f;
          C[k * n + i] = C[k * n + i]! * f;
        }
      }
    }
    this.generation = g;
    this.decompose();

    // Stopping tests (IPOP restarts when any holds).
    const finite = fitness.filter(Number.isFinite);
    if (finite.length > 0) this.bestHistory.push(finite[0]!);
    const hist = 10 + Math.ceil((30 * n) / this.lambda);
    const recent = this.bestHistory.slice(-hist);
    const all = [...finite, ...(recent.length >= hist ? recent : [])];
    const range = all.length > 1 ? maxOf(all) - minOf(all) : Infinity;
    const scale = Math.max(1, maxOf(all.map(Math.abs)));
    let maxSd = 0;
    let contDims = 0;
    for (let i = 0; i < n; i++) {
      if (dims[i]!.minStd > 0) continue;
      contDims++;
      maxSd = Math.max(maxSd, this.sigma * Math.sqrt(C[i * n + i]!));
    }
    let dMax = 0;
    let dMin = Infinity;
    for (let i = 0; i < n; i++) {
      dMax = Math.max(dMax, D[i]!);
      dMin = Math.min(dMin, D[i]!);
    }
    const finiteState = Number.isFinite(this.sigma) && this.sigma > 0 && mean.every(Number.isFinite) && C.every(Number.isFinite);
    if (!finiteState || (contDims > 0 && maxSd < 1e-8) || range < 1e-12 * scale || (dMax / dMin) ** 2 > 1e14) this.stopped = true;
  }

  /** B, D from C (C = B·diag(D²)·Bᵀ); marks the run stopped when C is not positive definite. */
  decompose(): void {
    const { n } = this;
    const w = new Float64Array(n);
    try {
      symmetricEigen(this.C, n, w, this.B);
    } catch (e) {
      if (!(e instanceof NumericalError)) throw e;
      this.stopped = true;
      return;
    }
    for (let i = 0; i < n; i++) {
      if (!(w[i]! > 0)) this.stopped = true;
      this.D[i] = Math.sqrt(Math.max(w[i]!, 1e-300));
    }
  }
}

interface Member {
  readonly trial: Trial;
  readonly x: Float64Array;
}

/** Cached replay: the state after `consumed` generations and a fingerprint of what it consumed. */
interface ReplayCache {
  state: CmaState;
  fingerprint: string[];
}

export class CmaesStrategy implements Strategy {
  private readonly cache = new Map<string, ReplayCache>();

  constructor(private readonly opts: CmaesOptions) {}

  suggest(req: SuggestRequest): Suggestion {
    const params: Params = {};
    const dims: NumDim[] = [];
    const cats: [string, Distribution][] = [];
    for (const [name, dist] of Object.entries(req.study.space)) {
      if (isSingleValue(dist)) params[name] = sampleUniform(dist, req.rng);
      else if (dist.type === "categorical") cats.push([name, dist]);
      else {
        const card = cardinality(dist);
        dims.push({ name, dist, minStd: card === Infinity ? 0 : 0.5 / card });
      }
    }
    for (const [name, dist] of cats) params[name] = sampleUniform(dist, req.rng);
    if (dims.length === 0) return { params };

    const state = this.replay(req, dims);
    const members = this.membersOf(req.trials, state.restart, state.generation, dims.length);
    let idx = 0;
    while (idx < state.lambda && members.has(idx)) idx++;
    if (idx >= state.lambda) {
      idx = state.lambda;
      for (const k of members.keys()) if (k >= idx) idx = k + 1;
    }
    const x = state.sample(req.rng);
    dims.forEach((dim, i) => (params[dim.name] = fromUnit(dim.dist, x[i]!)));
    return {
      params,
      systemAttrs: { cma_restart: state.restart, cma_gen: state.generation, cma_idx: idx, cma_x: Array.from(x) },
    };
  }

  suggestParam(req: ParamRequest): ParamValue {
    return sampleUniform(req.distribution, req.rng);
  }

  /** The first distribution of run `restart` (λ doubled per restart when `grow`). */
  private initialState(seed: number, restart: number, n: number, grow = true): CmaState {
    const lambda0 = this.opts.popsize ?? 4 + Math.floor(3 * Math.log(n));
    const mean = new Float64Array(n).fill(0.5);
    if (restart > 0) {
      const rng = new Rng(seed, "cmaes-restart", restart);
      for (let i = 0; i < n; i++) mean[i] = rng.random();
    }
    // The doubling is capped (λ ≤ 2^10·λ0): beyond that a run never finishes a generation.
    return new CmaState(restart, n, lambda0 * 2 ** (grow ? Math.min(restart, 10) : 0), mean, this.opts.sigma0);
  }

  /** Members of one generation by index, first trial per index (retries share an index). */
  private membersOf(trials: readonly Trial[], restart: number, gen: number, n: number): Map<number, Member> {
    const out = new Map<number, Member>();
    for (const t of trials) {
      const a = t.systemAttrs;
      if (a.cma_restart !== restart || a.cma_gen !== gen || typeof a.cma_idx !== "number") continue;
      const x = a.cma_x;
      if (!Array.isArray(x) || x.length !== n || !x.every((v) => typeof v === "number" && Number.isFinite(v))) continue;
      const prev = out.get(a.cma_idx);
      // Prefer a COMPLETE copy when an index appears twice (e.g. a retried trial).
      if (prev === undefined || (prev.trial.state !== "COMPLETE" && t.state === "COMPLETE"))
        out.set(a.cma_idx, { trial: t, x: Float64Array.from(x as number[]) });
    }
    return out;
  }

  /** Rebuilds the current run's state by replaying completed generations (incrementally via the cache). */
  private replay(req: SuggestRequest, dims: NumDim[]): CmaState {
    const n = dims.length;
    const key = req.study.name;
    let cached = this.cache.get(key);
    if (cached !== undefined && (cached.state.n !== n || !this.stillValid(cached, req.trials))) cached = undefined;
    if (cached === undefined) {
      const state = this.initialState(req.study.seed, 0, n);
      state.decompose();
      cached = { state, fingerprint: [] };
    }
    const sign = req.study.direction === "maximize" ? -1 : 1;
    for (;;) {
      const state: CmaState = cached.state;
      const members = this.membersOf(req.trials, state.restart, state.generation, n);
      const counted: Member[] = [];
      for (let k = 0; k < state.lambda; k++) {
        const m = members.get(k);
        if (m === undefined || !isFinishedState(m.trial.state)) break;
        counted.push(m);
      }
      if (counted.length < state.lambda) break;
      const scored = counted.map((m) => ({
        m,
        f: m.trial.state === "COMPLETE" && m.trial.value !== null && Number.isFinite(m.trial.value) ? sign * m.trial.value : Infinity,
        k: stoppedRankKey(m.trial, req.study.direction),
      }));
      const stoppedOrder = (a: (typeof scored)[number], b: (typeof scored)[number]) =>
        a.f === Infinity && b.f === Infinity ? a.k[0] - b.k[0] || a.k[1] - b.k[1] : 0;
      scored.sort((a, b) => a.f - b.f || stoppedOrder(a, b) || a.m.trial.number - b.m.trial.number);
      const fingerprint = counted.map((m) => `${m.trial.number}:${m.trial.state}:${m.trial.value}`).join(",");
      if (scored[0]!.f !== Infinity || scored.some((x) => x.m.trial.intermediate.length > 0)) {
        state.update(scored.map((s) => s.m.x), scored.map((s) => s.f), dims);
      } else {
        state.generation++;
      }
      let next: CmaState = state;
      if (state.stopped) {
        if (this.opts.restart) {
          next = this.initialState(req.study.seed, state.restart + 1, n);
        } else {
          // Without IPOP a stopped run starts afresh at the same population size; generation
          // numbers continue so that membership keys stay unique.
          next = this.initialState(req.study.seed, state.restart, n, false);
          next.generation = state.generation;
        }
        next.decompose();
      }
      cached = { state: next, fingerprint: [...cached.fingerprint, fingerprint] };
    }
    this.cache.set(key, cached);
    return cached.state;
  }

  /** The cache is used only if every generation it consumed is still in history unchanged. */
  private stillValid(cached: ReplayCache, trials: readonly Trial[]): boolean {
    const byNumber = new Map<number, Trial>();
    for (const t of trials) byNumber.set(t.number, t);
    for (const gen of cached.fingerprint) {
      if (gen === "") continue;
      for (const item of gen.split(",")) {
        const [num, st, val] = item.split(":");
        const t = byNumber.get(Number(num));
        if (t === undefined || t.state !== st || String(t.value) !== val) return false;
      }
    }
    return true;
  }
}

function isFinishedState(s: Trial["state"]): boolean {
  return s === "COMPLETE" || s === "PRUNED" || s === "FAIL";
}

/**
 * Most numeric dimensions CMA-ES models. Its covariance is n×n (two such matrices per study) and
 * each generation decomposes it in O(n³): a probe's 3,000 parameters held the server 512 s, 20,000
 * took 9 GiB. 300 costs 0.1–1 s per generation (Jacobi sweeps); TPE and random have no such limit.
 */
export const CMAES_MAX_DIMS = 300;

export const cmaesStrategyFactory: StrategyFactory<CmaesOptions> = {
  name: "cmaes",
  infersSpace: true,
  /**
   * Define-by-run parameters join the modelled space once every COMPLETE trial drew them (Optuna's
   * CmaEsSampler), although a generation's PRUNED members rank in its update. Counting PRUNED trials
   * as well ("finished", as `tpe` and `auto` do) was measured and not kept: under ASHA and Hyperband
   * with 8 simulated workers CMA-ES then sampled them from trial 8 on instead of 19–36 (ASHA), but
   * the best found was no better (finished against complete, per (problem, seed) on the four
   * learning-curve problems × 10 seeds: ASHA 14–20, Hyperband 13–18; docs/BENCHMARKS.md,
   * "Define-by-run under a scheduler"). Pinned by trial-params.test.ts.
   */
  inferSpaceFrom: () => "complete",
  spaceProblem: (space) => {
    const n = Object.values(space).filter((d) => d.type !== "categorical").length;
    return n > CMAES_MAX_DIMS
      ? `cmaes models at most ${CMAES_MAX_DIMS} numeric parameters (its covariance is n×n, O(n³) per generation); this space has ${n}: use tpe or random`
      : null;
  },
  description:
    "CMA-ES with IPOP restarts on the numeric dimensions (categoricals drawn at random). Strong for continuous " +
    "problems with budgets of hundreds of trials and many parallel workers.",
  options,
  /**
   * In a worker thread, whatever the dimension: a generation costs O(n³) (1 s per ask at 300
   * parameters and popsize 2), and a fresh instance (a restart, or a switch back to cmaes through
   * update_study) replays every generation of the history on its first ask, O(generations · n³ +
   * generations · trials): 300 trials at 120 parameters held the event loop 10 s, 2,000 at 20
   * parameters 0.4 s, growing with the study. The worker keeps the instance, so the replay happens once.
   */
  offload: true,
  fixedSpace:
    "CMA-ES keeps its mean and step size in the unit cube of the declared bounds (system_attrs of each generation); new bounds would move them (switch the strategy, e.g. to tpe, first)",
  create: (o) => new CmaesStrategy(options.parse(o)),
};
