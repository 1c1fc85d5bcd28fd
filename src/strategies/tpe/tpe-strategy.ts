/**
 * Tree-structured Parzen Estimator (TPE).
 *
 * Sources: Bergstra, Bardenet, Bengio & Kégl, "Algorithms for Hyper-Parameter
 * Optimization" (NeurIPS 2011) §4 — split the history into a good set l(x) and a bad set
 * g(x), propose the candidate that maximises l(x)/g(x) (equivalent to maximising EI);
 * Falkner et al., BOHB (ICML 2018) — multivariate product kernels; Watanabe,
 * "Tree-Structured Parzen Estimator: Understanding Its Algorithm Components and Their
 * Roles for Better Empirical Performance" (arXiv 2304.11127, 2023) — the component
 * choices below; Optuna 5.0 `TPESampler`, whose defaults these are (../shared/REFERENCE.md):
 *
 * - `n_startup_trials = 10`: the first 10 finished (COMPLETE + PRUNED) trials are drawn at
 *   random (`startup: "random"`, Optuna's choice) or from a scrambled Sobol sequence
 *   (`startup: "qmc"`, tuneport's option: better coverage, same marginals).
 * - `n_ei_candidates = 24` candidates sampled from l(x); the one with the largest
 *   log l(x) − log g(x) wins.
 * - Split: the good set holds min(⌈0.1 n⌉, 25) trials, n = finished trials. COMPLETE trials
 *   rank by value; PRUNED trials rank after them, by how far they got (latest step first)
 *   then by their last intermediate value (a PRUNED trial without reports after those), as
 *   Optuna's `_get_pruned_trial_score`, except that a run whose last report is NaN (diverged)
 *   ranks last of all (../fidelity.ts `stoppedRankKey`). Under promotion-mode ASHA a COMPLETE
 *   trial that stopped at a lower rung's budget ranks with the PRUNED ones, and a configuration
 *   that a promotion continues counts once, through the continuation (../fidelity.ts; Optuna
 *   has no such scheduler). With scheduler budgets (`fidelity: "informed"`, the default), a trial
 *   stopped, finite, before a ninth of the largest budget is left out of both sets
 *   (../fidelity.ts `stoppedEarly`): Hyperband's aggressive brackets stop trials after 1 or 3 of 81
 *   steps, where fast starters that later diverge or plateau look best. Optuna instead shows its
 *   TPE only the trials of the asking trial's bracket. ASHA (first rung R/η², a ninth at η = 3) and
 *   median pruning (no budget) are unchanged. docs/BENCHMARKS.md, "Multi-fidelity": under Hyperband,
 *   the default strategy, 30 seeds, four families: 78–42 against "rank", 89–31 against Optuna's
 *   TPE + HyperbandPruner. RUNNING trials always go to the bad set (constant liar, `constant_liar = true`,
 *   the 5.0 default) so parallel workers spread out. WAITING trials are ignored, and so are FAIL
 *   trials in Optuna; here a failed evaluation (../fidelity.ts `failedEvaluation`: the objective
 *   raised or gave NaN/±∞; not a lost lease, an interrupted run or a cancelled proposal) goes to the bad set (γ counts
 *   only the trials that could be good), so that l(x)/g(x) steers away from where the objective
 *   fails; constrained one-objective studies on `constraints_model: "ctpe"` still leave them out (a 2-D problem failing on 40% of its space, tpe-strategy.test.ts: Optuna's rule sent 80%
 *   of the model-based proposals there, this one 32%; docs/BENCHMARKS.md, "Failed trials").
 * - Constraints (a COMPLETE trial told with constraint values, c ≤ 0 satisfied), option
 *   `constraints_model`:
 *   - `"ctpe"` (default on one objective, chosen by measurement: docs/BENCHMARKS.md
 *     "Constrained TPE"): c-TPE (Watanabe & Hutter 2023), a density ratio per constraint split at
 *     the feasibility boundary, times the objective's ratio with a feasible-count quantile. See
 *     ctpe.ts. Multi-objective studies fall back to `"optuna"` (c-TPE is defined for one objective).
 *   - `"optuna"`: an infeasible trial ranks after every feasible COMPLETE and every PRUNED trial,
 *     infeasible ones by their total violation Σ max(0, c_j) — Optuna 5.0
 *     `TPESampler(constraints_func=...)`'s split (`_split_infeasible_trials`).
 *   A study whose trials carry no constraints is plain TPE under both.
 * - Weights: ones for n < 25, else a linear ramp 1/n → 1 over the oldest n − 25.
 * - Several objectives (MOTPE; Ozaki et al. 2020/2022, Optuna 5.0 on multi-objective studies):
 *   the good set holds ⌈0.1 n⌉ trials, the feasible COMPLETE ones split by non-domination rank
 *   with a greedy hypervolume-subset-selection tie-break, and its kernels weigh 1 (option
 *   `mo_below_weights: "hypervolume"`: the paper's hypervolume-contribution weights). PRUNED and
 *   infeasible trials rank after them as above. See motpe.ts.
 * - Prior kernel (μ = centre, σ = range) with `prior_weight = 1.0`; bandwidth = larger gap to
 *   the sorted neighbours, bounds as sentinels, endpoints use their inner gap
 *   (`consider_endpoints = false`), clipped to [range/min(100, n + 2), range]
 *   (`consider_magic_clip = true`). See parzen-estimator.ts.
 * - `multivariate = true` (5.0 default for one objective): one mixture of product kernels
 *   over `req.study.space`: the declared space plus, for a define-by-run study, the parameters
 *   every COMPLETE or PRUNED trial drew from one distribution (Optuna's intersection search
 *   space, `IntersectionSearchSpace(include_pruned=True)` in its TPESampler; the service widens
 *   the space, `infersSpace`, and hands the trial's `suggest` calls the values). Other
 *   define-by-run parameters use univariate TPE in `suggestParam`, as Optuna falls back to
 *   independent sampling outside the intersection search space. A RUNNING trial counts (constant
 *   liar) with the values proposed for it, as Optuna's `_get_params` reads its relative params.
 *   With `multivariate = false` every parameter is univariate (Optuna's default on several
 *   objectives; here `multivariate` defaults to true on them too): the declared ones in `suggest`,
 *   the define-by-run ones in `suggestParam` at the trial's `suggest`, none proposed at its ask
 *   (`inferSpaceFrom` "none"), as Optuna's `TPESampler(multivariate=False)` samples them.
 *
 * Speed: kernels live in Float64Arrays; the log-density of all candidates is one pass per
 * dimension over the kernels with the per-kernel constants folded in beforehand.
 */
import { z } from "zod";
import {
  type Distribution,
  type ParamValue,
  type Params,
  choiceIndex,
  contains,
  distributionsEqual,
  fromUnit,
  internalBounds,
  isSingleValue,
  toUnit,
} from "../../domain/distributions.js";
import { isFeasibleVector, violation } from "../../domain/objectives.js";
import type { Direction, Trial } from "../../domain/trial.js";
import type { Rng } from "../../math/rng.js";
import { failedEvaluation, isPartial, stoppedEarly, stoppedRankKey, supersededTrials, topBudget } from "../fidelity.js";
import { sobolParams } from "../qmc/qmc-strategy.js";
import { sampleUniform } from "../../domain/sampling.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";
import { type DensityTerm, ctpeLogFactor, ctpeTerms, hasConstraints } from "./ctpe.js";
import { motpeBelowWeights, motpeBest, motpeGamma } from "./motpe.js";
import { ParzenMixture, type ParzenParams, type TpeDim, tpeGamma, tpeWeights } from "./parzen-estimator.js";

const options = z
  .object({
    n_startup_trials: z.number().int().min(0).default(10),
    n_ei_candidates: z.number().int().min(1).max(100_000).default(24),
    startup: z.enum(["random", "qmc"]).default("random"),
    multivariate: z.boolean().default(true),
    constant_liar: z.boolean().default(true),
    prior_weight: z.number().positive().finite().default(1),
    consider_magic_clip: z.boolean().default(true),
    consider_endpoints: z.boolean().default(false),
    /** Several objectives: weights of the good set's kernels (motpe.ts; Optuna 5.0: uniform). */
    mo_below_weights: z.enum(["uniform", "hypervolume"]).default("uniform"),
    /** Constrained one-objective studies: c-TPE's per-constraint densities or Optuna's feasible-first split (ctpe.ts). */
    constraints_model: z.enum(["ctpe", "optuna"]).default("ctpe"),
    /**
     * Under a multi-fidelity scheduler: "informed" (default) leaves out of the split the trials
     * stopped, finite, before a ninth of the largest budget, as the GP's default does; "rank" ranks
     * every stopped trial (Optuna's rule). See the header.
     */
    fidelity: z.enum(["rank", "informed"]).default("informed"),
  })
  .strict();
export type TpeOptions = z.infer<typeof options>;

/** Ranking key of a trial inside its group: smaller is better. */
function signed(direction: Direction, v: number | null): number {
  if (v === null || Number.isNaN(v)) return Infinity;
  return direction === "minimize" ? v : -v;
}

/**
 * Splits the history into the good and the bad set (each sorted by trial number).
 * Uses COMPLETE and PRUNED trials, plus RUNNING ones (always bad) when `constantLiar`;
 * `exclude` is the number of the asking trial, if it is in the list. With several directions
 * the feasible COMPLETE trials are split by MOTPE's rule (motpe.ts); the rest is the same.
 */
export function splitTrials(
  trials: readonly Trial[],
  directions: Direction | readonly Direction[],
  constantLiar: boolean,
  exclude = -1,
  leaveOutEarly = false,
): { below: Trial[]; above: Trial[] } {
  const dirs: readonly Direction[] = typeof directions === "string" ? [directions] : directions;
  const direction = dirs[0] as Direction;
  const used: Trial[] = [];
  const complete: Trial[] = [];
  const stopped: Trial[] = [];
  const infeasible: Trial[] = [];
  // Under a multi-fidelity scheduler (fidelity.ts): a COMPLETE trial that stopped at a lower
  // rung's budget ranks as a stopped trial, and a configuration continued by a later trial
  // counts once, through the continuation. Without scheduler attributes both sets are empty.
  const top = topBudget(trials);
  const superseded = supersededTrials(trials);
  const anySuperseded = superseded.size > 0;
  for (const t of trials) {
    if (t.number === exclude || (anySuperseded && superseded.has(t.number)) || (leaveOutEarly && stoppedEarly(t, top))) continue;
    if (t.state === "COMPLETE" && violation(t.constraints) > 0) infeasible.push(t);
    else if (t.state === "COMPLETE") (isPartial(t, top) || !hasValues(t, dirs) ? stopped : complete).push(t);
    else if (t.state === "PRUNED") stopped.push(t);
    // A failed evaluation is never good: in the bad set, outside γ's count (below).
    else if (!failedEvaluation(t) && !(t.state === "RUNNING" && constantLiar)) continue;
    used.push(t);
  }
  // γ counts the trials that can be good: failed evaluations are only ever bad, and counting them
  // would grow the good set with the failure rate until, at most trials failing, it held every
  // success and l/g learned where the objective succeeds rather than where it is low.
  const scored = complete.length + stopped.length + infeasible.length;
  let nBelow = dirs.length > 1 ? motpeGamma(scored) : tpeGamma(scored);
  const good = new Set<Trial>();
  if (dirs.length > 1) for (const t of motpeBest(complete, dirs, nBelow)) good.add(t);
  else for (const i of bestIndices(complete, direction, nBelow)) good.add(complete[i] as Trial);
  nBelow -= good.size;
  if (nBelow > 0 && stopped.length > 0) {
    const keyed = stopped.map((t) => ({ t, k: stoppedRankKey(t, direction) }));
    keyed.sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.t.number - b.t.number);
    for (let i = 0; i < Math.min(nBelow, keyed.length); i++) good.add((keyed[i] as { t: Trial }).t);
    nBelow -= Math.min(nBelow, keyed.length);
  }
  if (nBelow > 0 && infeasible.length > 0) {
    const byViolation = [...infeasible].sort((a, b) => violation(a.constraints) - violation(b.constraints) || a.number - b.number);
    for (const t of byViolation.slice(0, nBelow)) good.add(t);
  }
  // Trials arrive in number order (SuggestRequest contract); sort only if they did not.
  let ordered = true;
  for (let i = 1; i < used.length && ordered; i++) ordered = (used[i - 1] as Trial).number < (used[i] as Trial).number;
  if (!ordered) used.sort((a, b) => a.number - b.number);
  const below: Trial[] = [];
  const above: Trial[] = [];
  // `used` is in number order: walk the good trials' numbers beside it instead of a Set lookup per trial.
  const goodNumbers = Array.from(good, (t) => t.number).sort((a, b) => a - b);
  let g = 0;
  for (const t of used) {
    while (g < goodNumbers.length && (goodNumbers[g] as number) < t.number) g++;
    (goodNumbers[g] === t.number && good.has(t) ? below : above).push(t);
  }
  return { below, above };
}

/** Whether a COMPLETE trial of a multi-objective study has a value per objective (one-objective trials always count). */
function hasValues(t: Trial, dirs: readonly Direction[]): boolean {
  return dirs.length === 1 || (t.values !== null && t.values.length === dirs.length);
}

/** Whether a good trial of a multi-objective study gets a hypervolume weight (motpe.ts): COMPLETE, feasible, valued. */
function weighable(dirs: readonly Direction[]): (t: Trial) => boolean {
  return (t) => t.state === "COMPLETE" && t.values !== null && t.values.length === dirs.length && isFeasibleVector(t.constraints);
}

/**
 * Indices of the `k` best COMPLETE trials (ties to the lower trial number), in O(n·k)
 * worst case and O(n) typically: k ≤ 25, so no full sort of the history is needed.
 */
function bestIndices(complete: readonly Trial[], direction: Direction, k: number): number[] {
  const keys = complete.map((t) => signed(direction, t.value));
  const worse = (i: number, j: number) =>
    (keys[i] as number) > (keys[j] as number) ||
    ((keys[i] as number) === (keys[j] as number) && (complete[i] as Trial).number > (complete[j] as Trial).number);
  const best: number[] = [];
  if (k <= 0) return best;
  for (let i = 0; i < complete.length; i++) {
    if (best.length === k && !worse(best[k - 1] as number, i)) continue;
    let pos = best.length === k ? k - 1 : best.length;
    while (pos > 0 && worse(best[pos - 1] as number, i)) pos--;
    best.splice(pos, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

function tpeDim(d: Distribution): TpeDim {
  if (d.type === "categorical") return { kind: "categorical", n: d.choices.length };
  return d.type === "int" || d.step !== undefined ? { kind: "discrete", d } : { kind: "continuous" };
}

/** An encoder of one parameter: unit coordinate or choice index, NaN for a value the distribution cannot produce. */
function encoder(d: Distribution): (v: ParamValue | undefined) => number {
  if (d.type === "categorical")
    return (v) => {
      const i = v === undefined ? -1 : choiceIndex(d, v);
      return i < 0 ? Number.NaN : i;
    };
  if (d.type === "int" || d.step !== undefined)
    return (v) => (v !== undefined && contains(d, v) ? toUnit(d, v as number) : Number.NaN);
  // Continuous floats: the hot path, inlined (the exact bounds of `contains`).
  const [lo, hi] = internalBounds(d);
  const width = hi - lo;
  const { low: min, high: max } = d;
  const log = d.log === true;
  return (v) => {
    if (typeof v !== "number" || !(v >= min && v <= max)) return Number.NaN;
    if (!(width > 0)) return 0.5;
    const u = ((log ? Math.log(v) : v) - lo) / width;
    return u < 0 ? 0 : u > 1 ? 1 : u;
  };
}

/** Marks a cached trial that cannot be encoded (a parameter missing, or from another distribution). */
const NOT_ENCODABLE: readonly number[] = [];

/**
 * Encoded rows of finished trials for one list of dimensions, kept across suggestions: a
 * COMPLETE, PRUNED or FAIL trial's parameters no longer change, so each is encoded once
 * instead of at every suggestion. Indexed by trial number and checked by identity (the
 * service replaces a trial's object when it changes, and a trial list from elsewhere simply
 * misses); a RUNNING trial, which define-by-run may still extend, is encoded afresh each time.
 */
class EncodingCache {
  private readonly trials: (Trial | undefined)[] = [];
  private readonly rows: (readonly number[] | undefined)[] = [];
  private buffer = new Float64Array(0);
  constructor(readonly dims: readonly (readonly [string, Distribution])[]) {}

  /**
   * A buffer of at least `size` numbers, the same one on every call while it is big enough:
   * `encodeTrials`' rows, which a mixture reads only while it is constructed.
   */
  scratch(size: number): Float64Array {
    if (this.buffer.length < size) this.buffer = new Float64Array(Math.max(size, 2 * this.buffer.length));
    return this.buffer;
  }

  /** The cached row of this trial object (NOT_ENCODABLE when it has none), or undefined. */
  get(t: Trial): readonly number[] | undefined {
    return this.trials[t.number] === t ? this.rows[t.number] : undefined;
  }

  set(t: Trial, row: readonly number[]): void {
    if (!Number.isInteger(t.number) || t.number < 0) return;
    this.trials[t.number] = t;
    this.rows[t.number] = row;
  }

  /** Whether this cache was built for exactly these dimensions (names and distributions). */
  fits(dims: readonly (readonly [string, Distribution])[]): boolean {
    if (dims.length !== this.dims.length) return false;
    for (let j = 0; j < dims.length; j++) {
      const [name, d] = dims[j] as readonly [string, Distribution];
      const [cachedName, cached] = this.dims[j] as readonly [string, Distribution];
      if (name !== cachedName || (d !== cached && !distributionsEqual(d, cached))) return false;
    }
    return true;
  }
}

const isFinal = (t: Trial): boolean => t.state === "COMPLETE" || t.state === "PRUNED" || t.state === "FAIL";

/**
 * Encodes the trials that carry every parameter of `dims` (same distribution, valid value)
 * as rows of unit-cube coordinates / choice indices; `ok[i]` says whether trial i has a row.
 * Finished trials' rows come from `cache` (built for these `dims`) and go into it. The rows live in
 * the cache's scratch buffer: valid until the next call with the same cache.
 */
function encodeTrials(
  trials: readonly Trial[],
  dims: readonly (readonly [string, Distribution])[],
  cache: EncodingCache,
): { obs: Float64Array; n: number; ok: Uint8Array } {
  const D = dims.length;
  const T = trials.length;
  const raw = cache.scratch(T * D);
  const ok = new Uint8Array(T).fill(1);
  // Trials the cache does not hold: encoded below.
  const todo: number[] = [];
  for (let i = 0; i < T; i++) {
    const row = cache.get(trials[i] as Trial);
    if (row === undefined) todo.push(i);
    else if (row === NOT_ENCODABLE) ok[i] = 0;
    else for (let j = 0; j < D; j++) raw[i * D + j] = row[j] as number;
  }
  // Dimension-major so each property lookup sees one key (monomorphic inline caches).
  for (let j = 0; j < D; j++) {
    const [name, d] = dims[j] as readonly [string, Distribution];
    const encode = encoder(d);
    for (const i of todo) {
      if (ok[i] === 0) continue;
      const t = trials[i] as Trial;
      const td = t.distributions[name];
      const u = td !== undefined && td !== d && !distributionsEqual(td, d) ? Number.NaN : encode(t.params[name]);
      if (Number.isNaN(u)) ok[i] = 0;
      else raw[i * D + j] = u;
    }
  }
  for (const i of todo) {
    const t = trials[i] as Trial;
    if (isFinal(t)) cache.set(t, ok[i] === 0 ? NOT_ENCODABLE : Array.from(raw.subarray(i * D, i * D + D)));
  }
  let n = 0;
  for (let i = 0; i < T; i++) {
    if (ok[i] === 0) continue;
    if (n !== i) raw.copyWithin(n * D, i * D, i * D + D);
    n++;
  }
  return { obs: raw, n, ok };
}

export class TpeStrategy implements Strategy {
  private readonly parzen: ParzenParams;
  /** Finished trials' encodings, per list of modelled dimensions (names joined). */
  private readonly encodings = new Map<string, EncodingCache>();

  constructor(private readonly opts: TpeOptions) {
    this.parzen = {
      priorWeight: opts.prior_weight,
      considerMagicClip: opts.consider_magic_clip,
      considerEndpoints: opts.consider_endpoints,
    };
  }

  suggest(req: SuggestRequest): Suggestion {
    const params: Params = {};
    const modelled: [string, Distribution][] = [];
    for (const [name, d] of Object.entries(req.study.space)) {
      if (isSingleValue(d)) params[name] = d.type === "categorical" ? (d.choices[0] as ParamValue) : d.low;
      else modelled.push([name, d]);
    }
    if (modelled.length === 0) return { params };
    if (finishedCount(req.trials) < this.opts.n_startup_trials) {
      if (this.opts.startup === "qmc") {
        Object.assign(params, sobolParams(Object.fromEntries(modelled), req.trialNumber, req.study.seed, true, () => req.rng.random()));
      } else {
        for (const [name, d] of modelled) params[name] = sampleUniform(d, req.rng);
      }
      return { params };
    }
    const { terms, weights } = this.densityTerms(req.trials, req.study.directions);
    if (this.opts.multivariate) {
      const values = this.sampleTpe(modelled, terms, req.rng, weights);
      modelled.forEach(([name], j) => (params[name] = values[j] as ParamValue));
    } else {
      for (const dim of modelled) params[dim[0]] = this.sampleTpe([dim], terms, req.rng, weights)[0] as ParamValue;
    }
    return { params };
  }

  suggestParam(req: ParamRequest): ParamValue {
    const d = req.distribution;
    if (isSingleValue(d)) return d.type === "categorical" ? (d.choices[0] as ParamValue) : d.low;
    if (finishedCount(req.trials) < this.opts.n_startup_trials) return sampleUniform(d, req.rng);
    const { terms, weights } = this.densityTerms(req.trials, req.study.directions, req.trial.number);
    return this.sampleTpe([[req.name, d]], terms, req.rng, weights)[0] as ParamValue;
  }

  /**
   * The density ratios of the acquisition: c-TPE's terms (ctpe.ts) on a constrained
   * one-objective study under `constraints_model: "ctpe"`, else the one split of `splitTrials`
   * with MOTPE's good-set weights (null: TPE's ramp).
   */
  private densityTerms(
    trials: readonly Trial[],
    directions: readonly Direction[],
    exclude = -1,
  ): { terms: DensityTerm[]; weights: Float64Array | null } {
    if (this.opts.constraints_model === "ctpe" && directions.length === 1 && hasConstraints(trials))
      return { terms: ctpeTerms(trials, directions[0] as Direction, this.opts.constant_liar, exclude), weights: null };
    const { below, above } = splitTrials(trials, directions, this.opts.constant_liar, exclude, this.opts.fidelity === "informed");
    return { terms: [{ below, above, gamma: null }], weights: this.belowWeights(below, directions) };
  }

  /**
   * Weights of the good set in a multi-objective study (motpe.ts): ones (`"uniform"`, Optuna
   * 5.0) or hypervolume contributions; null for one objective (TPE's ramp).
   */
  private belowWeights(below: readonly Trial[], directions: readonly Direction[]): Float64Array | null {
    if (directions.length === 1) return null;
    if (this.opts.mo_below_weights === "uniform") return new Float64Array(below.length).fill(1);
    return motpeBelowWeights(below, directions, weighable(directions));
  }

  /** The encoding cache of these dimensions, replaced when a name's distribution changed. */
  private encodingCache(dims: readonly (readonly [string, Distribution])[]): EncodingCache {
    const key = dims.map(([name]) => name).join("\u0000");
    let cache = this.encodings.get(key);
    if (cache === undefined || !cache.fits(dims)) this.encodings.set(key, (cache = new EncodingCache(dims)));
    return cache;
  }

  /**
   * One TPE proposal over `dims`: n_ei_candidates candidates from each term's l(x), keep the argmax
   * of Σ over terms of log l − log g (γ null) or c-TPE's factor (ctpe.ts). `belowWeights`
   * (aligned with the first term's `below`; MOTPE's) replaces the default weights of its l(x).
   * One plain term is Optuna's TPE exactly (same candidates, same random draws).
   */
  private sampleTpe(
    dims: readonly (readonly [string, Distribution])[],
    terms: readonly DensityTerm[],
    rng: Rng,
    belowWeights: Float64Array | null,
  ): ParamValue[] {
    const kinds = dims.map(([, d]) => tpeDim(d));
    const D = dims.length;
    const m = this.opts.n_ei_candidates;
    const cache = this.encodingCache(dims);
    const models = terms.map((term, i) => {
      // Each mixture is built before the next encoding reuses the rows' buffer.
      const b = encodeTrials(term.below, dims, cache);
      const wl = i === 0 && belowWeights !== null ? belowWeights.filter((_, k) => b.ok[k] === 1) : tpeWeights(b.n);
      const l = new ParzenMixture(kinds, b.obs, b.n, wl, this.parzen);
      const a = encodeTrials(term.above, dims, cache);
      const g = new ParzenMixture(kinds, a.obs, a.n, tpeWeights(a.n), this.parzen);
      return { l, g, gamma: term.gamma };
    });
    // Candidates from the first term's l(x) and every informative (γ < 1) further term's (ctpe.ts).
    const sources = models.filter((mod, i) => i === 0 || mod.gamma === null || mod.gamma < 1);
    const M = m * sources.length;
    const x = sources.length === 1 ? (sources[0] as (typeof models)[0]).l.sample(rng, m) : new Float64Array(M * D);
    if (sources.length > 1) sources.forEach((mod, i) => x.set(mod.l.sample(rng, m), i * m * D));
    const score = new Float64Array(M);
    for (const { l, g, gamma } of models) {
      if (gamma !== null && gamma >= 1) continue;
      const ll = l.logPdf(x, M);
      const lg = g.logPdf(x, M);
      for (let c = 0; c < M; c++)
        score[c] = (score[c] as number) + (gamma === null ? (ll[c] as number) - (lg[c] as number) : ctpeLogFactor(gamma, ll[c] as number, lg[c] as number));
    }
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < M; c++) {
      if ((score[c] as number) > bestScore) {
        bestScore = score[c] as number;
        best = c;
      }
    }
    return dims.map(([, d], j) => {
      const u = x[best * D + j] as number;
      return d.type === "categorical" ? (d.choices[u] as ParamValue) : fromUnit(d, u);
    });
  }
}

/** COMPLETE and PRUNED trials: what TPE's (and `auto`'s hedge's) random start counts. */
export function finishedCount(trials: readonly Trial[]): number {
  let n = 0;
  for (const t of trials) if (t.state === "COMPLETE" || t.state === "PRUNED") n++;
  return n;
}

/** Candidates × declared dimensions above which TPE suggests in a worker thread (see `offloadFor`). */
export const TPE_INLINE_WORK = 24 * 200;
/** Categorical choices (summed over the declared space) above which TPE suggests in a worker thread. */
export const TPE_INLINE_CHOICES = 1000;

export const tpeStrategyFactory: StrategyFactory<TpeOptions> = {
  name: "tpe",
  description:
    "Tree-structured Parzen Estimator (Optuna 5.0 defaults: multivariate, constant liar, 10 random startup trials). " +
    "Strong default for mixed, conditional and parallel searches. Multi-objective studies get MOTPE (non-domination rank split); " +
    "constrained one-objective studies get c-TPE (a density ratio per constraint; constraints_model: \"optuna\" for Optuna's split).",
  options,
  multiObjective: true,
  // Define-by-run parameters every COMPLETE or PRUNED trial drew alike join the multivariate mixture
  // (Optuna's intersection search space, which its TPESampler builds with include_pruned=True); the
  // rest go through `suggestParam`, univariate, and all of them with `multivariate: false` (see the header).
  infersSpace: true,
  inferSpaceFrom: (o) => (o.multivariate === false ? "none" : "finished"),
  /**
   * In process by default (a TPE suggestion costs about a millisecond, less than the trip to a
   * worker), but in a worker when its options or space make one expensive: its cost grows with
   * candidates × dimensions × trials, and a probe's n_ei_candidates 100,000 over 100 parameters held
   * the event loop 18 s per ask. The bound is the defaults' 24 candidates at 200 dimensions.
   * Multi-objective studies always: MOTPE's split ranks the history by non-domination and cuts a rank
   * by greedy hypervolume subset selection, O(n²) in the trials at worst (15,000 trials all on one
   * Pareto front: 11 s per ask, motpe.ts). And when the space's categoricals have over
   * `TPE_INLINE_CHOICES` choices in all: each kernel weighs every choice, so a suggestion costs
   * trials × choices (10,000 choices at 1,000 trials: 0.5–1.7 s per ask).
   */
  offloadFor: (o, space, objectives = 1) =>
    objectives > 1 ||
    o.n_ei_candidates * Math.max(1, Object.keys(space ?? {}).length) > TPE_INLINE_WORK ||
    Object.values(space ?? {}).reduce((k, d) => k + (d.type === "categorical" ? d.choices.length : 0), 0) > TPE_INLINE_CHOICES,
  create: (o) => new TpeStrategy(o),
};
