/**
 * LogEHVI: Gaussian-process Bayesian optimisation of two or three objectives by expected
 * hypervolume improvement, computed in log space (issue 15's GP-based multi-objective strategy;
 * Optuna 5.0's GPSampler does the same for multi-objective studies).
 *
 * Sources: ehvi.ts (the acquisition: Emmerich et al. 2006; Daulton et al. 2020; Ament et al. 2023);
 * ../gp/gp-strategy.ts for everything per objective (Matérn-5/2 ARD GP, Optuna 5.0's lengthscale
 * prior, MAP fit by L-BFGS with warm starts, Sobol candidates and local searches over the mixed space).
 *
 * Per suggestion:
 * 1. Fewer than `nStartupTrials` (10, as Optuna's GPSampler) COMPLETE trials with every value: uniform random.
 * 2. One independent GP per objective on the COMPLETE trials (values in minimisation form, each
 *    standardised); θ fitted on at most `maxFitTrials` rows (the best half by non-dominated rank
 *    plus a random draw of the rest) and warm-started from the θ stored in the latest trial's
 *    `systemAttrs.ehvi_theta`, with a full fit every `fullFitEvery` trials (gp-strategy.ts step 3).
 *    `auto`'s two-objective hedge sets `maxWarmFitIterations` to 50, so that every fit runs to the
 *    MAP from the stored θ, as Optuna's GPSampler refits on every trial (auto-strategy.ts
 *    `OBJECTIVES_HEDGE`; docs/BENCHMARKS.md run 13).
 * 3. The front: the non-dominated FEASIBLE trials in the standardised units. The reference point
 *    is the worst feasible value per objective plus `referenceMargin` (0.1) times that objective's
 *    range over them (the nadir pushed out by 10 %, so the extreme points of the front still earn
 *    hypervolume; with one feasible trial the margin is 0.1 standard deviation). While no trial is
 *    feasible the front is empty and the reference comes from all trials.
 * 4. Pending trials (RUNNING or WAITING with every parameter): kriging believer, as the `gp`
 *    strategy — each objective's GP conditions on its posterior mean there, and the believed
 *    point joins the front, so a worker is not sent where another already is.
 * 5. Constraints (c ≤ 0 feasible): one GP per constraint and log EHVI + Σ_k log PoF
 *    (../gp/gp-constraints.ts; Gardner et al. 2014), as Optuna's GPSampler.
 * 6. Acquisition search: ../gp/gp-acquisition.ts's `MixedSearch` (2048 Sobol candidates, every
 *    one scored exactly, 10 local searches: `frontStarts` (5) from points of the feasible front —
 *    the one with the smallest sum of standardised objectives and random others, as Optuna's
 *    GPSampler starts half its searches from random Pareto-optimal trials — and the rest from the
 *    best candidates; a Chebyshev proposal starts only the first from the front), never an
 *    earlier configuration on a space with a continuous dimension. Numerical failure falls back to
 *    a uniform random point. EHVI's maxima lie next to the Pareto set; where that set is a small
 *    part of the space (Fonseca–Fleming: a short diagonal segment of [−4, 4]³) few candidates come
 *    near it, and with a single start from the front a quarter fewer trials ended on the final
 *    front (docs/BENCHMARKS.md run 11).
 *
 * With `acquisition: "chebyshev"` step 6 maximises instead log EI of ParEGO's augmented Chebyshev
 * scalarisation of the same models (chebyshev-ei.ts: weights per suggestion, random or Sobol, recorded
 * as `parego_weights`; the objectives normalised by the feasible trials' ranges from an ideal point
 * `referenceMargin` of the range below their minimum; incumbent the best scalarised feasible value).
 * `auto` uses it below 8 modelled dimensions (auto-strategy.ts, docs/BENCHMARKS.md run 8).
 * `acquisition: "alternate"` uses the Chebyshev acquisition on even trial numbers (its Sobol weights
 * then indexed by half the trial number, so they stay one low-discrepancy sequence) and log EHVI on
 * odd ones: the scalarisation extends the front's ends, EHVI fills its gaps. `acquisition: "hedge"`
 * gives each suggestion to one of the two at random, EHVI's share set by how much hypervolume each
 * one's latest proposals added (`ehviShare`), as `auto`'s single-objective hedge does for GP and TPE.
 * With `denseFront` (`auto` sets 1) the hedge gives the suggestion to EHVI whenever that share of its
 * latest proposals each added hypervolume (`frontIsDense`): the models then put their points on the
 * front, and spacing them, which EHVI does and a scalarisation's weights do not, is what is left.
 *
 * Two objectives give |front| + 1 boxes, three give (|front| + 1)²; four or more objectives are
 * handed to `parego` (random Chebyshev scalarisations of one GP), whose cost does not grow with
 * the front. A single-objective study is handed to `gp`.
 */
import { z } from "zod";
import type { ParamValue } from "../../domain/distributions.js";
import { fractionOfRange, isFeasibleVector, minimisationForm, nonDominatedRanks, dominates, violation } from "../../domain/objectives.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";
import { sampleUniform } from "../../domain/sampling.js";
import type { Rng } from "../../math/rng.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { hypervolume, nonDominated } from "../../math/hypervolume.js";
import { CONSTRAINT_THETA_ATTR, type ConstraintModel, constraintColumns, fitColumn, fitConstraintModels, latestConstraintTheta } from "../gp/gp-constraints.js";
import { type Dim, THETA_LAYOUT_ATTR, earlierConfigurations, encodeRow, hasAll, modelOrUniform, modelledDims, thetaLayout } from "../gp/gp-dims.js";
import { GpObjective, GpPosterior, type GpInputs } from "../gp/gp-model.js";
import { MAX_MODEL_TRIALS, gpOptions, gpStrategyFactory } from "../gp/gp-strategy.js";
import { modelSubset } from "../gp/gp-targets.js";
import { WEIGHTS_ATTR, paregoStrategyFactory, simplexWeights, sobolWeights } from "../parego/parego-strategy.js";
import { HEDGE_TEMPERATURE, HEDGE_WINDOW, hedgeSplit, latestProposals } from "../hedge.js";
import { LogChebyshevEi } from "./chebyshev-ei.js";
import { EhviSearch, type ObjectivesAcquisition } from "./ehvi-acquisition.js";
import { LogEhvi, nonDominatedBoxes } from "./ehvi.js";
import { maxOf, minOf } from "../../math/extremes.js";

/**
 * The smallest share either acquisition keeps under "hedge": half the single-objective hedge's
 * `HEDGE_FLOOR`. At the old 0.2 the two-objective hedge sat at its ceiling (EHVI 0.8) for a third to
 * a half of a traced Fonseca–Fleming run's suggestions, so a fifth or more of the trials went to the Chebyshev acquisition late in
 * the run, when it added nothing in most of them; a lagging acquisition still gets about 9 of 90
 * model-based trials, enough to renew its window of 8 once and come back. The one value tried (not
 * searched): 10 seeds, paired with 0.2, ahead on Binh–Korn, Chankong–Haimes, Osyczka–Kravanis,
 * Tanaka (p ≤ 0.05) and Fonseca–Fleming (7/10, p = 0.08), level on the digits MLP (5 seeds)
 * (docs/BENCHMARKS.md run 12).
 */
export const EHVI_HEDGE_FLOOR = 0.1;

/** The GP settings are the `gp` strategy's (same defaults), plus the reference point's margin. */
const options = gpOptions
  .pick({
    nStartupTrials: true, nCandidates: true, nLocalSearches: true, maxAcqIterations: true, maxFitIterations: true,
    maxWarmFitIterations: true, fullFitEvery: true, maxFitTrials: true, lengthscalePrior: true,
  })
  .extend({
    /**
     * At most this many COMPLETE trials are modelled: beyond it the best half by non-dominated rank
     * plus a random draw of the rest (as the `gp` strategy's option, whose default is 200), and the
     * kriging believer conditions on the latest this many pending trials. Every GP conditions on all
     * its rows, O(n³) per objective: a default `auto` two-objective study of 3,000 trials took 24–33 s
     * per ask of the one suggestion thread and +500 MB, growing with the cube.
     */
    maxModelTrials: z.number().int().min(10).max(MAX_MODEL_TRIALS).default(500),
    /** The reference point's distance beyond the feasible nadir, as a share of each objective's range. */
    referenceMargin: z.number().min(0).max(10).default(0.1),
    /**
     * "ehvi" (log EHVI, the header), "chebyshev": log EI of ParEGO's augmented Chebyshev
     * scalarisation (weights per suggestion as `weights` says, recorded as `parego_weights`) of the
     * same per-objective models, moment-matched (chebyshev-ei.ts), "alternate": "chebyshev" on
     * even trial numbers, "ehvi" on odd ones, or "hedge": each suggestion to one of the two by how
     * much hypervolume each one's recent proposals added (`ehviShare`; the header).
     */
    acquisition: z.enum(["ehvi", "chebyshev", "alternate", "hedge"]).default("ehvi"),
    /** The "hedge": how many of each acquisition's latest COMPLETE proposals score it. */
    hedgeWindow: z.number().int().min(1).default(HEDGE_WINDOW),
    /** The "hedge": the smallest share either acquisition keeps (`EHVI_HEDGE_FLOOR`). */
    hedgeFloor: z.number().min(0).max(0.5).default(EHVI_HEDGE_FLOOR),
    /**
     * The "hedge": whether the floor falls with the number k of earlier hedge proposals, to
     * `hedgeFloor`·√(10 / max(10, k)) ("sqrt"; `fallingFloor`), or stays ("none"). docs/BENCHMARKS.md run 13.
     */
    hedgeFloorDecay: z.enum(["none", "sqrt"]).default("none"),
    /** The "hedge": temperature of the logistic map from the score to EHVI's share. */
    hedgeTemperature: z.number().positive().default(HEDGE_TEMPERATURE),
    /**
     * The "hedge": how the proposals' added hypervolumes score the two acquisitions (`ehviShare`):
     * "pairs" (every pair of an EHVI and a Chebyshev proposal, ties half), "gain-pairs" (only the
     * pairs in which at least one proposal added hypervolume) or "mean-gain" (EHVI's share of the
     * two acquisitions' mean hypervolume added per proposal). docs/BENCHMARKS.md run 12.
     */
    hedgeScore: z.enum(["pairs", "gain-pairs", "mean-gain"]).default("pairs"),
    /**
     * The "hedge": once at least this share of the latest `hedgeWindow` hedge proposals (either
     * acquisition's) each added hypervolume to the front before it, the model is placing its points
     * on the front and what is left is the gaps between them, which log EHVI fills: the suggestion
     * goes to EHVI (`frontIsDense`). Above 1: never.
     */
    denseFront: z.number().min(0).max(2).default(2),
    /** How the "chebyshev" acquisition draws its weights (as the `parego` strategy's `weights`). */
    weights: z.enum(["random", "sobol"]).default("random"),
    /**
     * How many points of the feasible front start the local searches of a log EHVI proposal (the
     * header, step 6): the best-balanced one and up to `frontStarts − 1` others drawn at random; the
     * rest of the `nLocalSearches` start from the best candidates. Chebyshev proposals start from
     * the best-balanced point only. Optuna 5.0's GPSampler starts half its local
     * searches from random Pareto-optimal trials (docs/BENCHMARKS.md run 11).
     */
    frontStarts: z.number().int().min(1).default(5),
    /**
     * A local acquisition search stops once within this ∞-norm distance (unit cube) of an earlier
     * one's end point (../gp/gp-acquisition.ts `NEAR_FOUND`, 0.01); 0 runs every search to its end,
     * as Optuna's GPSampler. docs/BENCHMARKS.md run 13.
     */
    nearFound: z.number().min(0).max(1).default(0.01),
    /**
     * The feasible row that starts a Chebyshev proposal's local search: the best-balanced one
     * ("balanced", the smallest sum of standardised objectives) or the best under that proposal's
     * scalarisation ("weighted"). docs/BENCHMARKS.md run 13.
     */
    chebyshevStart: z.enum(["balanced", "weighted"]).default("balanced"),
    /** ρ of the "chebyshev" acquisition (Knowles 2006: 0.05). */
    rho: z.number().min(0).max(1).default(0.05),
  })
  .strict();
export type EhviOptions = z.output<typeof options>;

/** The system attribute naming the acquisition ("ehvi" or "chebyshev") that proposed a trial under "hedge". */
export const ACQUISITION_ATTR = "ehvi_acquisition";

/** The system attribute holding the objectives' fitted θ (one array per objective). */
export const EHVI_THETA_ATTR = "ehvi_theta";

/** What the models chose: a point in unit coordinates and the θ to store. */
interface Choice {
  readonly x: Float64Array;
  readonly thetas: number[][];
  readonly constraintTheta: (number[] | null)[] | null;
  /** The "chebyshev" acquisition's weights (null under "ehvi"). */
  readonly weights: number[] | null;
  /** Under "hedge", the acquisition used. */
  readonly arm: "ehvi" | "chebyshev" | null;
}

/** Non-domination ranks with every feasible row before every infeasible one (losses in minimisation form). */
function feasibleFirstRanks(losses: readonly number[][], feasible: readonly boolean[], enough?: number): number[] {
  return nonDominatedRanks(
    losses.map((_, i) => i),
    (a, b) => (feasible[a] && !feasible[b]) || (feasible[a] === feasible[b] && dominates(losses[a]!, losses[b]!)),
    enough,
  );
}

/** `max` of the rows: the best half by `feasibleFirstRanks`, then a random draw of the rest (gp-targets.ts `modelSubset`). */
function modelledRows(rows: readonly Trial[], directions: readonly Direction[], max: number, rng: Rng): Trial[] {
  const losses = rows.map((t) => minimisationForm(directions, t.values as number[]));
  const ranks = feasibleFirstRanks(losses, rows.map((t) => isFeasibleVector(t.constraints)), Math.ceil(max / 2));
  return modelSubset(ranks, max, rng).map((i) => rows[i]!);
}

export class EhviStrategy implements Strategy {
  private readonly single: Strategy;
  private readonly many: Strategy;

  constructor(private readonly opts: EhviOptions) {
    const gpOpts = {
      nStartupTrials: opts.nStartupTrials, nCandidates: opts.nCandidates, nLocalSearches: opts.nLocalSearches,
      maxAcqIterations: opts.maxAcqIterations, maxFitIterations: opts.maxFitIterations, lengthscalePrior: opts.lengthscalePrior,
    };
    this.single = gpStrategyFactory.create(gpStrategyFactory.options.parse(gpOpts));
    this.many = paregoStrategyFactory.create(paregoStrategyFactory.options.parse({ gp: gpOpts }));
  }

  suggest(req: SuggestRequest): Suggestion {
    const m = req.study.directions.length;
    if (m < 2) return this.single.suggest(req);
    if (m > 3) return this.many.suggest(req);
    const { dims, params } = modelledDims(req.study.space, req.rng);
    if (dims.length === 0) return { params };
    const complete = req.trials.filter(
      (t) => t.state === "COMPLETE" && t.values !== null && t.values.length === m && t.values.every(Number.isFinite) && hasAll(t, dims),
    );
    const rows = complete.length > this.opts.maxModelTrials ? modelledRows(complete, req.study.directions, this.opts.maxModelTrials, req.rng) : complete;
    return modelOrUniform(dims, params, req.rng, () => {
      const choice = rows.length >= this.opts.nStartupTrials ? this.modelSuggest(req, dims, rows) : null;
      if (choice === null) return null;
      const systemAttrs: Record<string, unknown> = { [EHVI_THETA_ATTR]: choice.thetas, [THETA_LAYOUT_ATTR]: thetaLayout(dims, false) };
      if (choice.constraintTheta !== null) systemAttrs[CONSTRAINT_THETA_ATTR] = choice.constraintTheta;
      if (choice.weights !== null) systemAttrs[WEIGHTS_ATTR] = choice.weights;
      if (choice.arm !== null) systemAttrs[ACQUISITION_ATTR] = choice.arm;
      return { x: choice.x, systemAttrs };
    });
  }

  /** Define-by-run parameters are outside the models: uniform, like the `gp` strategy. */
  suggestParam(req: ParamRequest): ParamValue {
    return sampleUniform(req.distribution, req.rng);
  }

  private modelSuggest(req: SuggestRequest, dims: Dim[], rows: readonly Trial[]): Choice | null {
    const { directions } = req.study;
    const m = directions.length;
    const d = dims.length;
    const n = rows.length;
    const isCat = Uint8Array.from(dims, (dim) => (dim.kind === "cat" ? 1 : 0));
    const X = new Float64Array(n * d);
    rows.forEach((t, i) => encodeRow(t, dims, X, i * d));
    const inputs: GpInputs = { n, d, X, isCat };
    const losses = rows.map((t) => minimisationForm(directions, t.values as number[]));
    const acq = this.opts.acquisition;
    let chebyshev = acq === "chebyshev" || (acq === "alternate" && req.trialNumber % 2 === 0);
    let index = acq === "alternate" ? Math.floor(req.trialNumber / 2) : req.trialNumber;
    if (acq === "hedge") {
      let floor = this.opts.hedgeFloor;
      if (this.opts.hedgeFloorDecay === "sqrt") floor = fallingFloor(floor, req.trials.reduce((k, t) => k + (t.systemAttrs[ACQUISITION_ATTR] === undefined ? 0 : 1), 0));
      // One memo of the proposals' gains: the dense check scores the same latest proposals again.
      const gain = hypervolumeGain(directions, req.trials);
      const share = ehviShare(directions, req.trials, this.opts.hedgeWindow, floor, this.opts.hedgeTemperature, this.opts.hedgeScore, gain);
      chebyshev = req.rng.random() >= share && !frontIsDense(directions, req.trials, this.opts.hedgeWindow, this.opts.denseFront, gain);
      // The Chebyshev proposals' weights stay one low-discrepancy sequence: indexed by how many came before.
      index = req.trials.reduce((k, t) => k + (t.systemAttrs[ACQUISITION_ATTR] === "chebyshev" ? 1 : 0), 0);
    }
    const arm = acq === "hedge" ? (chebyshev ? "chebyshev" : "ehvi") : null;
    const weights = !chebyshev ? null : this.opts.weights === "random" ? simplexWeights(m, req.rng) : sobolWeights(req, "simplex", index);
    // Standardised columns, one per objective.
    const ys = Array.from({ length: m }, (_, j) => {
      const col = losses.map((v) => v[j]!);
      const mean = col.reduce((a, b) => a + b, 0) / n;
      const sd = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
      return Float64Array.from(col, (v) => (v - mean) / (sd > 1e-12 ? sd : 1));
    });
    const feasible = rows.map((t) => isFeasibleVector(t.constraints));
    const ranks = feasibleFirstRanks(losses, feasible);
    const fitRows = n > this.opts.maxFitTrials ? modelSubset(ranks, this.opts.maxFitTrials, req.rng) : null;
    const warm = latestThetas(req.trials, m, d, thetaLayout(dims, false));
    const how = {
      prior: this.opts.lengthscalePrior, fullFit: warm === null || n % this.opts.fullFitEvery === 0,
      maxIter: this.opts.maxFitIterations, maxWarmIter: this.opts.maxWarmFitIterations,
    };
    const gps: GpPosterior[] = [];
    const thetas: number[][] = [];
    for (let j = 0; j < m; j++) {
      const fitted = fitColumn(inputs, ys[j]!, fitRows, warm?.[j] ?? null, how);
      if (fitted === null) return null;
      gps.push(fitted.gp);
      thetas.push(Array.from(fitted.theta));
    }
    const columns = constraintColumns(rows);
    let constraints: ConstraintModel[] = [];
    let constraintTheta: (number[] | null)[] | null = null;
    if (columns !== null) {
      const fitted = fitConstraintModels(inputs, columns, fitRows, { ...how, warm: latestConstraintTheta(req.trials, columns.length, dims) });
      if (fitted === null) return null;
      [constraints, constraintTheta] = [fitted.models, fitted.thetas];
    }

    // Front and reference point in standardised units (header, step 3).
    const point = (i: number) => ys.map((y) => y[i]!);
    const anyFeasible = feasible.some(Boolean);
    const base = rows.map((_, i) => i).filter((i) => !anyFeasible || feasible[i]);
    const ranges = ys.map((y) => {
      let lo = Infinity;
      let hi = -Infinity;
      for (const i of base) [lo, hi] = [Math.min(lo, y[i]!), Math.max(hi, y[i]!)];
      return [lo, hi] as const;
    });
    const ref = ranges.map(([lo, hi]) => hi + this.opts.referenceMargin * (hi > lo ? hi - lo : 1));
    const front: number[][] = anyFeasible ? base.map(point) : [];

    // Kriging believer (step 4).
    const pending = req.trials.filter((t) => (t.state === "RUNNING" || t.state === "WAITING") && hasAll(t, dims)).slice(-this.opts.maxModelTrials);
    if (pending.length > 0) {
      const np = n + pending.length;
      const Xa = new Float64Array(np * d);
      Xa.set(X);
      pending.forEach((t, k) => encodeRow(t, dims, Xa, (n + k) * d));
      const believed = pending.map(() => new Array<number>(m));
      for (let j = 0; j < m; j++) {
        const ya = new Float64Array(np);
        ya.set(ys[j]!);
        for (let k = 0; k < pending.length; k++) {
          gps[j]!.predict(Xa, (n + k) * d);
          ya[n + k] = believed[k]![j] = gps[j]!.mean;
        }
        const aug: GpInputs = { n: np, d, X: Xa, isCat };
        const obj = new GpObjective(aug, ya, this.opts.lengthscalePrior);
        if (!obj.factor(thetas[j]!)) return null;
        gps[j] = new GpPosterior(aug, Float64Array.from(thetas[j]!), obj.L, obj.alpha, obj.jitter);
      }
      if (anyFeasible) front.push(...believed);
    }

    let acquisition: ObjectivesAcquisition;
    let scalarised: ((y: number[]) => number) | null = null;
    if (weights === null) acquisition = new LogEhvi(nonDominatedBoxes(nonDominated(front), ref));
    else {
      // w_j = λ_j (y_j − z_j)/(hi_j − lo_j): ParEGO's normalisation, in the models' units, from an
      // ideal point z pushed below the feasible minimum by `referenceMargin` of the range (as the
      // reference point is pushed beyond the nadir). From z = lo itself a point beyond the front's
      // extreme (y_j < lo_j) barely scores, and the front's ends are never extended.
      const c = ranges.map(([lo, hi], j) => weights[j]! / (hi > lo ? hi - lo : 1));
      const e = ranges.map(([lo, hi], j) => -c[j]! * (lo - this.opts.referenceMargin * (hi > lo ? hi - lo : 1)));
      scalarised = (y) => LogChebyshevEi.scalarise(y, c, e, this.opts.rho);
      const values = (anyFeasible ? front : rows.map((_, i) => point(i))).map(scalarised);
      // While nothing is feasible every point may improve: the worst scalarised value is the incumbent.
      const best = anyFeasible ? minOf(values) : maxOf(values);
      acquisition = new LogChebyshevEi(c, e, this.opts.rho, best);
    }
    // The local search also starts from the best-balanced feasible row (or the least violating one).
    let start = -1;
    let bestKey = Infinity;
    for (let i = 0; i < n; i++) {
      const weighted = scalarised !== null && this.opts.chebyshevStart === "weighted" ? scalarised : null;
      const key = !anyFeasible ? violation(rows[i]!.constraints) : !feasible[i] ? Infinity : weighted !== null ? weighted(point(i)) : point(i).reduce((a, b) => a + b, 0);
      if (key < bestKey) [bestKey, start] = [key, i];
    }
    if (start < 0) start = 0;
    // EHVI's maxima lie in the gaps all along the front, so its searches also start from random front
    // points; a Chebyshev EI's lie near the one front point its weights favour (run 11: random
    // front starts lost DTLZ2's Chebyshev-only acquisition).
    const startRows = anyFeasible && weights === null ? frontStarts(start, base.filter((i) => ranks[i] === 0), this.opts.frontStarts, req.rng) : [start];
    const exclude = dims.some((dim) => dim.kind === "cont") ? earlierConfigurations(req.trials, dims) : undefined;
    const search = new EhviSearch(gps, acquisition, dims, this.opts, null, constraints);
    const x = search.run(req.rng, startRows.map((i) => X.subarray(i * d, i * d + d)), exclude);
    if (x === null || !x.every(Number.isFinite)) return null;
    return { x, thetas, constraintTheta, weights, arm };
  }
}

/**
 * The rows whose configurations start local acquisition searches: `first` (the best-balanced front
 * point), then up to k − 1 others of `front` (row indices of the feasible front) drawn without
 * replacement. EHVI's maxima lie in the gaps and at the ends of the front, i.e. next to the Pareto
 * set, which on a problem whose Pareto set is a small part of the space (Fonseca–Fleming: a segment
 * of the diagonal) few Sobol candidates come near; a search started on the set finds them (run 11).
 * Exported for tests.
 */
export function frontStarts(first: number, front: readonly number[], k: number, rng: Rng): number[] {
  const rest = front.filter((i) => i !== first);
  const out = [first];
  while (out.length < k && rest.length > 0) out.push(rest.splice(Math.floor(rng.random() * rest.length), 1)[0]!);
  return out;
}

/**
 * The hedge's floor after k earlier proposals under `hedgeFloorDecay: "sqrt"`: `floor` for the first
 * 10, then floor·√(10 / k) (0.1 → 0.05 at k = 40, 0.033 at k = 90), so a lagging acquisition's
 * share falls as the run goes on, as an ε-greedy ε_t ∝ 1/√t. Exported for tests.
 */
export function fallingFloor(floor: number, k: number): number {
  return floor * Math.sqrt(10 / Math.max(10, k));
}

/** An added hypervolume (normalised objectives, total at most 1.21) at or below this is none. */
const NO_GAIN = 1e-12;

/**
 * EHVI's share of the next suggestion under `acquisition: "hedge"`. Each of the latest `window`
 * COMPLETE proposals of each acquisition (trials whose `ehvi_acquisition` names it) is scored by the
 * hypervolume it added to the feasible front of the COMPLETE trials numbered before it (0 when
 * infeasible or dominated), in objectives normalised by the feasible COMPLETE trials' ranges with
 * the reference point 10 % of the range beyond their nadir, so the score does not depend on the
 * objectives' scales. The share is the logistic, at `temperature`, of how much EHVI's score exceeds
 * ½, kept within [floor, 1 − floor]; the score (`how`):
 * - "pairs": the probability that an EHVI proposal added more than a Chebyshev one (ties count
 *   half, one prior pair at ½);
 * - "gain-pairs": the same over the pairs in which at least one of the two added hypervolume. A
 *   pair of proposals that both added nothing says only that both wasted their trial, not which
 *   acquisition adds more; counted as a tie it pulls the score towards ½. Still by ranks, so the
 *   decline of the gains over a run weighs no more than under "pairs" when the two windows reach
 *   back unequally;
 * - "mean-gain": EHVI's mean added hypervolume over the sum of the two means (½ when both are 0).
 * Neither alternative beat "pairs" (docs/BENCHMARKS.md run 12: "gain-pairs" level on all five
 * two-objective problems, identical on Binh–Korn and Chankong–Haimes; "mean-gain" lost Binh–Korn):
 * on Fonseca–Fleming the zero-gain ties moved EHVI's mean share by under 0.02, while the share sat
 * at its ceiling 1 − floor for much of the run. Both acquisitions use the same models, so the score
 * measures the acquisition. Exported for tests.
 */
export function ehviShare(
  directions: readonly Direction[], trials: readonly Trial[], window: number, floor: number, temperature: number,
  how: "pairs" | "gain-pairs" | "mean-gain" = "pairs",
  added: (i: number) => number = hypervolumeGain(directions, trials),
): number {
  const scored = scoredBy(directions.length);
  const picked = latestProposals(trials, ACQUISITION_ATTR, ["ehvi", "chebyshev"], window, (i) => scored(trials[i]!));
  if (picked.ehvi.length === 0 && picked.chebyshev.length === 0) return 0.5;
  const e = picked.ehvi.map(added);
  const c = picked.chebyshev.map(added);
  if (how === "mean-gain") {
    const mean = (v: readonly number[]) => v.reduce((a, b) => a + Math.max(0, b), 0) / Math.max(1, v.length);
    const [me, mc] = [mean(e), mean(c)];
    return hedgeSplit(e.length === 0 || c.length === 0 || me + mc <= NO_GAIN ? 0 : me / (me + mc) - 0.5, temperature, floor);
  }
  let wins = 0.5;
  let pairs = 1;
  for (const a of e) {
    for (const b of c) {
      if (how === "gain-pairs" && a <= NO_GAIN && b <= NO_GAIN) continue;
      wins += a > b ? 1 : a === b ? 0.5 : 0;
      pairs++;
    }
  }
  return hedgeSplit(wins / pairs - 0.5, temperature, floor);
}

/** Which trials the hedge scores: COMPLETE ones with m finite values. */
function scoredBy(m: number): (t: Trial) => boolean {
  return (t) => t.state === "COMPLETE" && t.values !== null && t.values.length === m && t.values.every(Number.isFinite);
}

/**
 * The hypervolume trial i added to the feasible front of the scored trials numbered before it (0 when
 * infeasible or dominated), in objectives normalised by the feasible scored trials' ranges with the
 * reference point 10 % of the range beyond their nadir, so that it does not depend on the objectives'
 * scales. Each trial's gain is computed once per returned function.
 */
function hypervolumeGain(directions: readonly Direction[], trials: readonly Trial[]): (i: number) => number {
  const m = directions.length;
  const scored = scoredBy(m);
  const losses = trials.map((t) => (scored(t) && isFeasibleVector(t.constraints) ? minimisationForm(directions, t.values as number[]) : null));
  const lo = new Array<number>(m).fill(Infinity);
  const hi = new Array<number>(m).fill(-Infinity);
  for (const v of losses) if (v !== null) for (let j = 0; j < m; j++) [lo[j], hi[j]] = [Math.min(lo[j]!, v[j]!), Math.max(hi[j]!, v[j]!)];
  const norm = (v: readonly number[]) => v.map((x, j) => fractionOfRange(x, lo[j]!, hi[j]!));
  const ref = new Array<number>(m).fill(1.1);
  const memo = new Map<number, number>();
  return (i: number): number => {
    const p = losses[i];
    if (p === null || p === undefined) return 0;
    let gain = memo.get(i);
    if (gain === undefined) {
      const before: number[][] = [];
      for (let j = 0; j < i; j++) if (losses[j] !== null) before.push(norm(losses[j]!));
      const front = nonDominated(before);
      memo.set(i, (gain = hypervolume([...front, norm(p)], ref) - hypervolume(front, ref)));
    }
    return gain;
  };
}

/**
 * Whether at least `share` of the latest `window` hedge proposals (COMPLETE, either acquisition)
 * each added hypervolume (`hypervolumeGain`); false while fewer than `window` are scored.
 */
export function frontIsDense(
  directions: readonly Direction[], trials: readonly Trial[], window: number, share: number,
  added: (i: number) => number = hypervolumeGain(directions, trials),
): boolean {
  if (share > 1) return false;
  const scored = scoredBy(directions.length);
  const latest: number[] = [];
  for (let i = trials.length - 1; i >= 0 && latest.length < window; i--) {
    if (trials[i]!.systemAttrs[ACQUISITION_ATTR] !== undefined && scored(trials[i]!)) latest.push(i);
  }
  if (latest.length < window) return false;
  return latest.filter((i) => added(i) > NO_GAIN).length >= share * window;
}

/** The objectives' θ stored by the most recent suggestion with m entries of dimension d + 2 fitted for this `layout` (or none recorded; gp-dims.ts). */
function latestThetas(trials: readonly Trial[], m: number, d: number, layout: string): Float64Array[] | null {
  for (let i = trials.length - 1; i >= 0; i--) {
    const marked = trials[i]!.systemAttrs[THETA_LAYOUT_ATTR];
    if (marked !== undefined && marked !== layout) continue;
    const t = trials[i]!.systemAttrs[EHVI_THETA_ATTR];
    if (!Array.isArray(t) || t.length !== m) continue;
    const ok = (v: unknown) => Array.isArray(v) && v.length === d + 2 && v.every((x) => typeof x === "number" && Number.isFinite(x));
    if (t.every(ok)) return t.map((v) => Float64Array.from(v as number[]));
  }
  return null;
}

export const ehviStrategyFactory: StrategyFactory<EhviOptions> = {
  name: "ehvi",
  infersSpace: true,
  description:
    "LogEHVI: Gaussian-process BO of 2 or 3 objectives by expected hypervolume improvement (one GP per objective, " +
    "probability of feasibility for constraints); 4+ objectives go to parego. For expensive multi-objective studies.",
  options: options as unknown as z.ZodType<EhviOptions>,
  multiObjective: true,
  offload: true,
  create: (o) => new EhviStrategy(options.parse(o)),
};
