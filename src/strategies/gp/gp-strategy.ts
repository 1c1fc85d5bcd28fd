/**
 * Gaussian-process Bayesian optimisation with log expected improvement (after Optuna
 * 5.0's GPSampler; see ../../../shared/REFERENCE.md, "GP").
 *
 * Sources:
 * - Snoek, Larochelle & Adams 2012, "Practical Bayesian Optimization of Machine Learning
 *   Algorithms" (NeurIPS): Matérn-5/2 ARD GP with EI, pending evaluations handled by
 *   conditioning on them (§3.3; they integrate over fantasies, we use one: the mean).
 * - Rasmussen & Williams 2006, ch. 4–5: kernel, marginal likelihood, gradients
 *   (see gp-model.ts).
 * - Ament et al. 2023, "Unexpected Improvements to Expected Improvement for Bayesian
 *   Optimization" (NeurIPS): LogEI, computed stably in the tails (see log-ei.ts).
 *
 * What it does per suggestion:
 * 1. Fewer than `nStartupTrials` (default 10, as Optuna) trials with a result: uniform random.
 * 2. Inputs: the declared space's non-constant dimensions in the unit cube (`toUnit`: log
 *    and step aware; categoricals as choice indices). Targets: losses (values negated when
 *    maximising), standardised (`outputTransform` "yeo-johnson": then power-transformed,
 *    gp-targets.ts). In a plain study these are the COMPLETE values; under a pruner or
 *    multi-fidelity scheduler, values at the highest fidelity level that `nStartupTrials`
 *    trials reached, with losses imputed for the trials stopped below it (../fidelity.ts;
 *    Optuna's GPSampler ignores PRUNED trials). FAIL trials are not modelled, but a failed
 *    evaluation (its objective raised or gave NaN/±∞; not a lost lease, an interrupted run or a cancelled proposal)
 *    is a kriging believer (step 4), so the GP does not keep proposing where the objective fails
 *    (../fidelity.ts). Beyond
 *    `maxModelTrials` (200) such rows only a subset is modelled (the best half plus a random
 *    draw of the rest), and beyond `maxFitTrials` (100) modelled points the hyperparameters are
 *    fitted on such a subset of them (subset of data for θ, Rasmussen & Williams §8.3.3), so
 *    that a suggestion's cost stops growing with the history (issue 17's speed goals). Up to 100
 *    trials both are exact.
 * 3. MAP fit of θ (log inverse squared lengthscales, log signal variance, log excess noise; with
 *    `categoricalKernel: "latent"` also the choices' latent coordinates, gp-categorical.ts;
 *    lengthscale prior `lengthscalePrior`, by default Optuna 5.0's; Hvarfner et al.'s dimension-scaled one is an option, see gp-model.ts) by L-BFGS with analytic gradients (at most `maxFitIterations`, default 50; at most
 *    `maxWarmFitIterations`, default 1, when warm-started, except once every `fullFitEvery`
 *    (10) modelled rows — Optuna always runs the full warm-started fit). The warm
 *    start is deterministic from history: the θ fitted for a suggestion is stored in the
 *    new trial's `systemAttrs.gp_theta`, and the next fit starts from the latest stored θ
 *    or from the default θ, whichever has the lower objective. A restarted server
 *    therefore makes the same choices; no in-memory cache is involved.
 * 4. Pending trials (RUNNING or WAITING with every modelled parameter, and failed evaluations): kriging believer —
 *    each is added to the data with its posterior mean as target, and (`believerIncumbent`)
 *    a believed value below the best observed becomes EI's incumbent. The mean surface is then
 *    unchanged but the variance collapses around pending points, steering the next
 *    suggestion away from them. Chosen over qLogEI with fantasies (Optuna's choice) for
 *    speed: it costs one extra factorisation instead of 128 fantasy models.
 * 5. Acquisition search: `nCandidates` (2048) scrambled Sobol points (as Optuna; discrete
 *    dimensions snapped to their grid, categoricals by cell) ranked by LogEI — exactly, but
 *    most candidates are ruled out by a cheap upper bound on their variance before the O(n²)
 *    exact one is computed (see `topCandidates`). The best observed point plus the best
 *    `nLocalSearches − 1` (9) candidates start a local search (options `incumbentStart` and
 *    `startSelection: "roulette"` give Optuna's effective starts instead: its L-BFGS-B never moves
 *    from the best observed point, and it draws the other starts ∝ EI; neither changed the suite,
 *    docs/BENCHMARKS.md issue 17 "fidelity") that alternates L-BFGS on
 *    continuous dimensions (at most `maxAcqIterations`, default 30) with an exhaustive
 *    search over each categorical and each discrete dimension of ≤ 32 values; discrete
 *    dimensions with more values are relaxed to continuous during L-BFGS, rounded onto
 *    their grid, then line-searched at ±1, ±2, ±4, … grid steps. A search whose iterate comes
 *    within `NEAR_FOUND` of an earlier search's end point stops there (same basin); on an
 *    all-continuous space one L-BFGS run per start suffices.
 *    With `trustRegionFromDim` > 0 and at least that many non-categorical dimensions, the
 *    candidates and the L-BFGS bounds are confined to TuRBO-1's trust region around the
 *    incumbent (gp-targets.ts); categorical and exhaustively searched discrete dimensions are not.
 *    Constraints (c ≤ 0 feasible, when every modelled trial carries a constraint vector):
 *    one independent GP per violated constraint on the same inputs and fit subset, and the
 *    acquisition becomes log EI + Σ_k log Pr[c_k ≤ 0] with EI's incumbent the best FEASIBLE
 *    value, or the log probability of feasibility alone while no trial is feasible (Gardner
 *    et al. 2014, "Bayesian Optimization with Inequality Constraints", ICML, §3; BoTorch's
 *    constrained EI; Optuna's GPSampler). Their θ are warm-started like the objective's (stored
 *    as `systemAttrs.gp_constraint_theta`). See gp-constraints.ts and gp-acquisition.ts.
 *    EI's incumbent is lowered by `eiXi` (ξ, standard deviations of the modelled losses; the
 *    "xi"/"jitter" of Lizotte's 2008 thesis, scikit-optimize and GPyOpt, 0.01 there; Optuna uses none):
 *    an improvement below ξ earns nothing. Without it a GP whose lengthscales call a basin
 *    explored keeps refining the best point to 1e-5 (hartmann6, issue 17's suite).
 * 6. On a space with a continuous dimension the chosen point is never an earlier trial's
 *    configuration (the next best local-search end point or candidate is taken instead).
 * 7. Any numerical failure (non-factorable kernel, non-finite output) falls back to a
 *    uniform random point: the strategy never hands out NaN.
 */
import { z } from "zod";
import type { ParamValue } from "../../domain/distributions.js";
import { violation } from "../../domain/objectives.js";
import type { Trial } from "../../domain/trial.js";
import { minimizeLbfgs } from "../../math/lbfgs.js";
import { sampleUniform } from "../../domain/sampling.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";
import { type FidelityData, fidelityData } from "../fidelity.js";
import { AcquisitionSearch, type SearchBox } from "./gp-acquisition.js";
import { CATEGORICAL_KERNELS, latentEmbedding } from "./gp-categorical.js";
import { CONSTRAINT_THETA_ATTR, type ConstraintModel, constraintColumns, fitConstraintModels, latestConstraintTheta } from "./gp-constraints.js";
import { type Dim, THETA_LAYOUT_ATTR, earlierConfigurations, encodeRow, hasAll, modelOrUniform, modelledDims, thetaLayout } from "./gp-dims.js";
import { GpObjective, GpPosterior, type GpInputs, defaultTheta, thetaBounds, thetaLength } from "./gp-model.js";
import { isModelBased, modelSubset, transformTargets, trustRegionBox, trustRegionLength } from "./gp-targets.js";

/**
 * Upper bounds of the options that size the model (a suggestion costs O(n³) in the modelled and
 * pending trials, times the fit's iterations): a client's options must not hold the one suggestion
 * thread, which every offloaded study shares, for hours. maxModelTrials 10⁹ and maxFitTrials 10⁹
 * made one ask at 3,000 trials take 182 s of it (and +400 MB), growing with the cube; at these
 * bounds one ask costs minutes at worst, not hours, and its matrices tens of MB.
 */
export const MAX_MODEL_TRIALS = 2000;
export const MAX_FIT_TRIALS = 500;
export const MAX_ITERATIONS = 500;

/** The `gp` strategy's options (the `ehvi` strategy picks its GP settings from these). */
export const gpOptions = z
  .object({
    /** COMPLETE trials before the model is used (uniform random before). Optuna: 10. */
    nStartupTrials: z.number().int().min(1).default(10),
    /** Random candidates scored before local search. Optuna: 2048 (Sobol). */
    nCandidates: z.number().int().min(1).max(1_000_000).default(2048),
    /** Local searches (best observed point + best candidates). Optuna: up to 10. */
    nLocalSearches: z.number().int().min(0).max(1000).default(10),
    /** L-BFGS iteration cap of the hyperparameter fit. */
    maxFitIterations: z.number().int().min(1).max(MAX_ITERATIONS).default(50),
    /**
     * L-BFGS iteration cap of a fit warm-started from the previous suggestion's θ, which
     * moves little when one observation is added; 0 reuses it as stored. Once every `fullFitEvery`
     * modelled rows (COMPLETE trials in a plain study; `fullFitSchedule`) and every fit without a
     * stored θ gets `maxFitIterations` and also tries the default θ as its start.
     */
    maxWarmFitIterations: z.number().int().min(0).max(MAX_ITERATIONS).default(1),
    /** See `maxWarmFitIterations`. */
    fullFitEvery: z.number().int().min(1).default(10),
    /**
     * When the full fit runs: "multiple" (the default) when the modelled rows are a multiple of
     * `fullFitEvery`; "since" once `fullFitEvery` rows were added since the latest full fit
     * (recorded in `gp_fit_rows` beside `gp_theta`; a history without it falls back to "multiple").
     * The two agree for a GP asked on every trial. A GP asked on some trials only (`auto`'s hedge)
     * misses most multiples under "multiple" and runs on one warm L-BFGS iteration per suggestion
     * in between; "since" fits it on schedule. For `auto` that was better on the public suite and
     * worse on the held-out problems, so not the default (docs/BENCHMARKS.md, "The hedge's GP
     * fitted on schedule: tried, not kept").
     */
    fullFitSchedule: z.enum(["multiple", "since"]).default("multiple"),
    /** EI's improvement threshold ξ in standard deviations of the modelled losses (see the header). */
    eiXi: z.number().min(0).max(10).default(0),
    /** Whether the best observed point starts one of the local acquisition searches (issue 17 ablation). */
    incumbentStart: z.boolean().default(true),
    /**
     * The candidates that start local searches: the best `nLocalSearches − 1` ("top"), or Optuna's roulette
     * (the best, then draws ∝ EI; gp-acquisition.ts `rouletteStarts`).
     */
    startSelection: z.enum(["top", "roulette"]).default("top"),
    /** L-BFGS iteration cap of each local acquisition search. */
    maxAcqIterations: z.number().int().min(1).max(MAX_ITERATIONS).default(30),
    /** Prior on the lengthscales (gp-model.ts): Hvarfner et al.'s dimension-scaled one, or Optuna 5.0's. */
    lengthscalePrior: z.enum(["dim-scaled", "optuna"]).default("optuna"),
    /**
     * The categorical parameters' kernel (gp-categorical.ts): "hamming", one lengthscale per parameter
     * and every two choices equally far apart (Optuna 5.0's), or "latent", the choices of a parameter
     * with ≥ 3 of them as learnt points (Zhang et al. 2020's latent-variable GP), so that choices
     * that behave alike share what is learnt about them. The objective's GP only; constraint models
     * keep "hamming", and so does a parameter past the embedding's budget of 1,024 latent coordinates
     * ((c − 1)² each, so at most 33 choices; `MAX_LATENT_COORDINATES`).
     */
    categoricalKernel: z.enum(CATEGORICAL_KERNELS).default("hamming"),
    /** Target transform before the fit (gp-targets.ts). */
    outputTransform: z.enum(["standardise", "yeo-johnson", "copula"]).default("standardise"),
    /**
     * TuRBO-1 trust region for the acquisition search (gp-targets.ts): on from this many
     * modelled (non-categorical) dimensions; 0 turns it off.
     */
    trustRegionFromDim: z.number().int().min(0).default(0),
    /**
     * At most this many trials are modelled (COMPLETE ones; under a scheduler the stopped ones
     * too, ../fidelity.ts): beyond it the best half plus a random draw of the rest (gp-targets.ts
     * `modelSubset`, imputed losses ranking as the worst), so a suggestion's cost stops growing.
     * The kriging believer likewise conditions on the latest this many pending trials only: 2,000
     * trials asked and not yet told made every ask take 3.4 s, growing with the cube.
     */
    maxModelTrials: z.number().int().min(10).max(MAX_MODEL_TRIALS).default(200),
    /**
     * At most this many of the modelled trials enter the hyperparameter fit (each of its
     * gradients inverts K: O(n³)); the posterior then conditions on all of them at the fitted θ.
     */
    maxFitTrials: z.number().int().min(10).max(MAX_FIT_TRIALS).default(100),
    /**
     * Kriging believer: also lower EI's incumbent to a pending trial's believed value when that
     * is better than the best observed (the textbook believer); false keeps the observed best.
     */
    believerIncumbent: z.boolean().default(true),
    /**
     * Training data under a pruner or multi-fidelity scheduler (../fidelity.ts): "informed"
     * (default, chosen on bench/multifidelity.py), or the alternatives it was compared with.
     */
    fidelity: z.enum(["level", "common", "observed", "informed"]).default("informed"),
    /**
     * How the fidelity level is chosen (../fidelity.ts `LevelRule`): "count" (default), or "rank",
     * which moves to a deeper depth once the lower one ranks it poorly on the study's own trials.
     */
    fidelityLevel: z.enum(["count", "rank"]).default("count"),
  })
  .strict();

export type GpOptions = z.infer<typeof gpOptions>;

/** What the model chose: the point in unit coordinates and the θ to store for warm starts. */
interface ModelChoice {
  readonly x: Float64Array;
  readonly theta: Float64Array;
  readonly constraintTheta: (number[] | null)[] | null;
  /** Modelled rows at the latest full fit (`gp_fit_rows`; null when unknown). */
  readonly fullFitRows: number | null;
  /** What θ's entries mean (`gp_theta_layout`). */
  readonly layout: string;
}

export class GpStrategy implements Strategy {
  constructor(private readonly opts: GpOptions) {}

  suggest(req: SuggestRequest): Suggestion {
    const { dims, params } = modelledDims(req.study.space, req.rng);
    if (dims.length === 0) return { params };
    const data = fidelityData(req.trials, req.study.direction, this.opts.nStartupTrials, (t) => hasAll(t, dims), this.opts.fidelity, this.opts.fidelityLevel);
    return modelOrUniform(dims, params, req.rng, () => {
      const result = data === null ? null : this.modelSuggest(req, dims, data);
      if (result === null) return null;
      const systemAttrs: Record<string, unknown> = { gp_theta: Array.from(result.theta), [THETA_LAYOUT_ATTR]: result.layout };
      // Only "since" reads it: under the default the trials stay as they were.
      if (this.opts.fullFitSchedule === "since") systemAttrs.gp_fit_rows = result.fullFitRows;
      if (result.constraintTheta !== null) systemAttrs[CONSTRAINT_THETA_ATTR] = result.constraintTheta;
      return { x: result.x, systemAttrs };
    });
  }

  /** Define-by-run parameters outside the intersection search space (`infersSpace`): uniform, like Optuna's independent fallback. */
  suggestParam(req: ParamRequest): ParamValue {
    return sampleUniform(req.distribution, req.rng);
  }

  /** The model's choice in unit coordinates, or null when the numerics failed. */
  private modelSuggest(req: SuggestRequest, dims: Dim[], data: FidelityData): ModelChoice | null {
    const d = dims.length;
    const { lengthscalePrior: prior } = this.opts;
    const isCat = Uint8Array.from(dims, (dim) => (dim.kind === "cat" ? 1 : 0));
    const modelled = modelSubset(data.losses, this.opts.maxModelTrials, req.rng);
    const modelledRows = modelled.map((i) => data.rows[i]!);
    const n = modelledRows.length;
    const X = new Float64Array(n * d);
    modelledRows.forEach((t, i) => encodeRow(t, dims, X, i * d));
    const y = transformTargets(modelled.map((i) => data.losses[i]!), this.opts.outputTransform);
    if (y === null) return null;
    const latent = latentEmbedding(this.opts.categoricalKernel, dims.map((dim) => (dim.kind === "cat" ? dim.card : 0)));
    const inputs: GpInputs = { n, d, X, isCat, latent };

    // MAP fit, warm-started from the latest θ recorded in history when that is better; on at
    // most `maxFitTrials` of the modelled points (the best half plus a random draw of the rest).
    let objective = new GpObjective(inputs, y, prior);
    const fitRows = n > this.opts.maxFitTrials ? modelSubset(y, this.opts.maxFitTrials, req.rng) : null;
    if (fitRows !== null) {
      const rows = fitRows;
      const Xf = new Float64Array(rows.length * d);
      rows.forEach((r, i) => Xf.set(X.subarray(r * d, r * d + d), i * d));
      objective = new GpObjective({ n: rows.length, d, X: Xf, isCat, latent }, Float64Array.from(rows, (r) => y[r]!), prior);
    }
    // The fit dominates the cost at a few hundred trials (each gradient inverts K). A warm
    // start needs only a few steps, so a warm-started fit is capped at
    // `maxWarmFitIterations` (0: θ reused as stored), with a full fit — which also checks
    // the default θ — every `fullFitEvery` COMPLETE trials (`fullFitSchedule`) so that a drift
    // of θ is followed. Deterministic from history, like the warm start itself.
    const layout = thetaLayout(dims, latent !== undefined);
    const { theta: warm, fitRows: lastFull } = latestTheta(req.trials, thetaLength(inputs), layout);
    const since = this.opts.fullFitSchedule === "since" && lastFull !== null;
    const fullFit = warm === null ||
      (since ? data.rows.length - lastFull >= this.opts.fullFitEvery : data.rows.length % this.opts.fullFitEvery === 0);
    let start = warm ?? defaultTheta(d, latent);
    let fStart = objective.value(start);
    if (fullFit && warm !== null) {
      const fDefault = objective.value(defaultTheta(d, latent));
      if (!(fStart <= fDefault)) {
        start = defaultTheta(d, latent);
        fStart = fDefault;
      }
    } else if (!Number.isFinite(fStart)) {
      start = defaultTheta(d, latent);
      fStart = objective.value(start);
    }
    if (!Number.isFinite(fStart)) return null;
    const { lower, upper } = thetaBounds(d, latent);
    const maxIter = fullFit ? this.opts.maxFitIterations : Math.min(this.opts.maxWarmFitIterations, this.opts.maxFitIterations);
    const fit =
      maxIter === 0 ? { x: start, f: fStart }
      : minimizeLbfgs((t, g) => objective.evaluate(t, g), start, {
          // The last iteration's trial points need no gradient (an inverse of K each).
          value: (t) => objective.value(t),
          // Log-likelihood changes of 1e-4·|f| (≈ 0.02 at n = 300) do not move the posterior
          // visibly; the short first step suits a warm start, whose optimum moved little.
          lower, upper, maxIter, pgtol: 0.1, ftol: 1e-4, initialStep: 0.1,
        });
    const theta = Number.isFinite(fit.f) ? fit.x : start;
    if (objective.n !== n) objective = new GpObjective(inputs, y, prior);
    if (!objective.isFactoredAt(theta) && !objective.factor(theta)) return null;
    let posterior = new GpPosterior(inputs, theta, objective.L, objective.alpha, objective.jitter);

    // Constraints (Gardner et al. 2014, gp-constraints.ts): EI's incumbent is the best feasible
    // row; with none feasible, EI is dropped (best = +∞) and the search starts from the least
    // violating row.
    const columns = constraintColumns(modelledRows);
    let constraints: ConstraintModel[] = [];
    let constraintTheta: (number[] | null)[] | null = null;
    if (columns !== null) {
      // Constraint models keep the Hamming term (and a θ of d + 2).
      const fitted = fitConstraintModels({ n, d, X, isCat }, columns, fitRows, {
        prior, warm: latestConstraintTheta(req.trials, columns.length, dims), fullFit,
        maxIter: this.opts.maxFitIterations, maxWarmIter: this.opts.maxWarmFitIterations,
      });
      if (fitted === null) return null;
      [constraints, constraintTheta] = [fitted.models, fitted.thetas];
    }
    const feasible = (i: number) => columns === null || columns.every((col) => col[i]! <= 0);
    let best = Infinity;
    let bestRow = -1;
    for (let i = 0; i < n; i++) if (feasible(i) && y[i]! < best) [best, bestRow] = [y[i]!, i];
    if (bestRow < 0) {
      let least = Infinity;
      for (let i = 0; i < n; i++) {
        const v = violation(modelledRows[i]!.constraints);
        if (v < least) [least, bestRow] = [v, i];
      }
    }

    // Kriging believer for trials still being evaluated.
    const pending = data.pending.slice(-this.opts.maxModelTrials);
    if (pending.length > 0) {
      const np = n + pending.length;
      const Xa = new Float64Array(np * d);
      Xa.set(X);
      const ya = new Float64Array(np);
      ya.set(y);
      pending.forEach((t, k) => {
        encodeRow(t, dims, Xa, (n + k) * d);
        posterior.predict(Xa, (n + k) * d);
        ya[n + k] = posterior.mean;
        // The believer treats its fantasies as observations, the incumbent included
        // (Ginsbourger, Le Riche & Carraro 2010, §3.2): a pending point believed better than
        // the best observed raises the bar, so the next worker does not pile into its basin.
        // A failed evaluation (../fidelity.ts) is known not to have improved: it never raises the bar.
        if (this.opts.believerIncumbent && t.state !== "FAIL" && Number.isFinite(best) && posterior.mean < best) best = posterior.mean;
      });
      const augmented: GpInputs = { n: np, d, X: Xa, isCat, latent };
      const believer = new GpObjective(augmented, ya, prior);
      if (!believer.factor(theta)) return null;
      posterior = new GpPosterior(augmented, theta, believer.L, believer.alpha, believer.jitter);
    }

    const incumbent = X.subarray(bestRow * d, bestRow * d + d);
    const box = this.trustRegion(dims, data, incumbent, posterior.lambda);
    const exclude = dims.some((dim) => dim.kind === "cont") ? earlierConfigurations(req.trials, dims) : undefined;
    // EI's threshold ξ (in standard deviations of the modelled losses): an improvement smaller than
    // it earns nothing, so the search stops refining a point it has already sampled to death.
    const threshold = Number.isFinite(best) ? best - this.opts.eiXi : best;
    const x = new AcquisitionSearch(posterior, dims, threshold, this.opts, box, constraints).run(req.rng, incumbent, exclude);
    if (x === null) return null;
    for (let m = 0; m < d; m++) if (!Number.isFinite(x[m]!)) return null;
    return { x, theta: Float64Array.from(theta), constraintTheta, fullFitRows: fullFit ? data.rows.length : lastFull, layout };
  }

  /**
   * The TuRBO-1 box around the incumbent when the space has at least `trustRegionFromDim`
   * non-categorical dimensions (gp-targets.ts); null (the whole cube) otherwise.
   */
  private trustRegion(dims: Dim[], data: FidelityData, incumbent: Float64Array, lambda: Float64Array): SearchBox | null {
    const mask = Uint8Array.from(dims, (dim) => (dim.kind === "cat" ? 0 : 1));
    let k = 0;
    for (const v of mask) k += v;
    if (this.opts.trustRegionFromDim === 0 || k < this.opts.trustRegionFromDim) return null;
    const L = trustRegionLength([...data.losses], data.rows.map(isModelBased), k);
    return trustRegionBox(incumbent, lambda, mask, L);
  }
}

/** The latest stored θ of `length` entries and this `layout` (or none recorded), and the modelled rows at the full fit it descends from (null when not recorded). */
function latestTheta(trials: readonly Trial[], length: number, layout: string): { theta: Float64Array | null; fitRows: number | null } {
  for (let i = trials.length - 1; i >= 0; i--) {
    const attrs = trials[i]!.systemAttrs;
    const t = attrs.gp_theta;
    const marked = attrs[THETA_LAYOUT_ATTR];
    if (marked !== undefined && marked !== layout) continue;
    if (Array.isArray(t) && t.length === length && t.every((v) => typeof v === "number" && Number.isFinite(v))) {
      const rows = attrs.gp_fit_rows;
      return { theta: Float64Array.from(t as number[]), fitRows: typeof rows === "number" && Number.isInteger(rows) ? rows : null };
    }
  }
  return { theta: null, fitRows: null };
}

export const gpStrategyFactory: StrategyFactory<GpOptions> = {
  name: "gp",
  infersSpace: true,
  /**
   * Define-by-run parameters join the modelled space once every COMPLETE trial drew them (Optuna's
   * GPSampler), although the GP learns from PRUNED trials too (../fidelity.ts). Counting PRUNED
   * trials as well ("finished", as `tpe` and `auto` do) was measured and not kept: under ASHA and
   * Hyperband with 8 simulated workers the GP then modelled them from trial 10–14 on instead of
   * 19–36 (ASHA), but the best found was no better (finished against complete, per (problem,
   * seed) on the four learning-curve problems × 10 seeds: ASHA 17–21, Hyperband 19–19;
   * docs/BENCHMARKS.md, "Define-by-run under a scheduler"). Pinned by trial-params.test.ts.
   */
  inferSpaceFrom: () => "complete",
  description:
    "Gaussian-process Bayesian optimisation (Matérn-5/2 ARD, LogEI, MAP hyperparameters). Sample-efficient for " +
    "expensive objectives up to a few hundred trials; suggestions cost tens of milliseconds or more.",
  options: gpOptions,
  offload: true,
  create: (o) => new GpStrategy(gpOptions.parse(o)),
};
