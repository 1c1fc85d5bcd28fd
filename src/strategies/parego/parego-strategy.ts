/**
 * ParEGO: Gaussian-process optimisation of several objectives through random scalarisations, the
 * first GP-based multi-objective strategy of issue 15, and `auto`'s choice for several objectives from 8
 * modelled dimensions: LogEHVI (../ehvi) came later and lost to it on the suite (docs/BENCHMARKS.md,
 * "Multi-objective", run 6).
 *
 * Sources: Knowles, "ParEGO: A Hybrid Algorithm With On-Line Landscape Approximation for
 * Expensive Multiobjective Optimization Problems", IEEE TEC 10(1), 2006, §III-A (each iteration
 * normalises the objectives to [0, 1] by their observed ranges, draws a weight vector λ and
 * scalarises with the augmented Chebyshev function
 *   f_λ(x) = max_j λ_j f̂_j(x) + ρ Σ_j λ_j f̂_j(x),  ρ = 0.05 (eq. 2),
 * then runs single-objective EGO on f_λ); Daulton, Balandat & Bakshy, "Differentiable Expected
 * Hypervolume Improvement for Parallel Multi-Objective Bayesian Optimization" (NeurIPS 2020),
 * §5 — qParEGO draws λ uniformly from the unit simplex rather than from Knowles' fixed lattice
 * (s = 10 for two objectives), which works for any number of objectives; tuneport does that.
 *
 * Here: every suggestion draws λ ~ Uniform(simplex) from the request's generator (so it is a
 * function of seed and trial number, recorded as the `parego_weights` attribute), rewrites the
 * history as a one-objective minimisation of f_λ, and asks the `gp` strategy (Matérn-5/2 ARD,
 * LogEI, its defaults; `gp` passes options) on it. Normalisation: per objective in minimisation
 * form, (v − min) / (max − min) over the feasible COMPLETE trials (range 0 → 1).
 *
 * Options tried in docs/BENCHMARKS.md run 8 and kept off by default: `weights: "sobol"` (point
 * `trialNumber` of a scrambled Sobol sequence, mapped to the simplex by stick breaking, instead of
 * i.i.d. draws; level with "random" on Binh–Korn, 5/10 seeds) and `scalarization: "hypervolume"`
 * (Zhang & Golovin, "Random Hypervolume Scalarizations for Provable Multi-Objective Black Box
 * Optimization", ICML 2020, §3: minus the length of the ray from a reference point, the feasible
 * nadir plus 10 % of each range, along a direction uniform on the unit sphere; worse on Binh–Korn,
 * 1/10). What held ParEGO back there was the model, not the weights: one GP on the scalarised
 * values smooths the Chebyshev kink, and `auto` computes the same scalarisation from per-objective
 * GPs below 8 dimensions (../ehvi, `acquisition: "chebyshev"`).
 *
 * Constraints (c ≤ 0 feasible): ParEGO has none; tuneport passes each COMPLETE trial's constraint
 * vector through to the inner `gp` strategy, which multiplies EI by the probability of
 * feasibility of one GP per constraint with the best FEASIBLE f_λ as incumbent (Gardner et al.
 * 2014, §3; ../gp/gp-constraints.ts), as BoTorch's qParEGO does with its constraint models. An
 * infeasible trial's f_λ is computed like any other (normalised by the feasible trials' ranges,
 * so it may fall outside [0, 1 + ρ]); while no trial is feasible the ranges are those of all
 * COMPLETE trials.
 */
import { z } from "zod";
import { fractionOfRange, isFeasibleVector, minimisationForm } from "../../domain/objectives.js";
import { innerOptions } from "../../domain/plugin-options.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { sobolPoint } from "../../math/sobol.js";
import { normalPpf } from "../../math/special.js";
import { gpStrategyFactory } from "../gp/gp-strategy.js";

const options = z
  .object({
    /** Augmentation weight ρ of the Chebyshev scalarisation (Knowles 2006: 0.05). */
    rho: z.number().min(0).max(1).default(0.05),
    /**
     * How a suggestion's weight vector is drawn: "random" (i.i.d. uniform, qParEGO) or "sobol" (point
     * `trialNumber` of a Sobol sequence scrambled from the study's seed, mapped to the same
     * distribution; see `weightsFromUnit`).
     */
    weights: z.enum(["random", "sobol"]).default("random"),
    /**
     * "chebyshev" (Knowles' augmented Chebyshev function from the ideal point, weights on the simplex)
     * or "hypervolume" (Zhang & Golovin's hypervolume scalarisation from a reference point,
     * directions on the unit sphere; see `scalarise`).
     */
    scalarization: z.enum(["chebyshev", "hypervolume"]).default("chebyshev"),
    /** Options passed to the inner `gp` strategy. */
    gp: innerOptions(gpStrategyFactory.options),
  })
  .strict();
export type ParegoOptions = z.output<typeof options>;

/** The system attribute holding the weight vector a suggestion used. */
export const WEIGHTS_ATTR = "parego_weights";

/** A point drawn uniformly from the unit simplex of dimension m (normalised exponentials). */
export function simplexWeights(m: number, rng: Rng): number[] {
  const e = Array.from({ length: m }, () => -Math.log(1 - rng.random()));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** The reference point of the hypervolume scalarisation: the feasible nadir pushed out by this share of each range (as `ehvi`'s `referenceMargin`). */
export const HV_REFERENCE_MARGIN = 0.1;

/**
 * A weight vector from a point u of [0, 1)^(m−1) by a measure-preserving map, so that a
 * low-discrepancy u gives evenly spread weights:
 * - "simplex": uniform on the unit simplex, by stick breaking with the inverse CDF of each
 *   Beta(1, m − 1 − j) share, λ_j = (1 − Σ_{i<j} λ_i)(1 − (1 − u_j)^{1/(m−1−j)});
 * - "sphere": uniform on the unit sphere's positive orthant, by the angle (π/2)u₀ for m = 2 and
 *   Archimedes' map (z = u₀ uniform, azimuth (π/2)u₁) for m = 3; for m ≥ 4 the (m−1) coordinates
 *   and one more from `extra` are made half-normal and normalised.
 */
export function weightsFromUnit(u: ArrayLike<number>, m: number, kind: "simplex" | "sphere", extra: () => number): number[] {
  if (kind === "simplex") {
    const w: number[] = [];
    let rest = 1;
    for (let j = 0; j < m - 1; j++) {
      const share = rest * (1 - Math.pow(1 - (u[j] as number), 1 / (m - 1 - j)));
      w.push(share);
      rest -= share;
    }
    w.push(Math.max(rest, 0));
    return w;
  }
  if (m === 2) {
    const a = ((u[0] as number) * Math.PI) / 2;
    return [Math.cos(a), Math.sin(a)];
  }
  if (m === 3) {
    const z = u[0] as number;
    const a = ((u[1] as number) * Math.PI) / 2;
    const r = Math.sqrt(Math.max(1 - z * z, 0));
    return [r * Math.cos(a), r * Math.sin(a), z];
  }
  const g = Array.from({ length: m }, (_, j) => Math.abs(normalPpf((1 + (j < m - 1 ? (u[j] as number) : extra())) / 2)));
  const norm = Math.hypot(...g);
  return g.map((x) => x / norm);
}

/** The weights of point `index` (default the trial number) of a Sobol sequence scrambled from the study's seed (`weightsFromUnit`). */
export function sobolWeights(req: SuggestRequest, kind: "simplex" | "sphere", index = req.trialNumber): number[] {
  const m = req.study.directions.length;
  // One objective has one weight (a Sobol sequence of 0 dimensions does not exist: the strategy threw).
  if (m === 1) return [1];
  const u = sobolPoint(index % 2 ** 32, m - 1, new Rng(req.study.seed, "parego-weights").int(2 ** 31));
  return weightsFromUnit(u, m, kind, () => req.rng.random());
}

/**
 * The scalarised history: COMPLETE trials with a value per objective become one-objective
 * trials whose value is f_λ, keeping their constraints (file header); other trials are passed
 * through without values.
 */
export function scalarise(
  trials: readonly Trial[],
  directions: readonly Direction[],
  lambda: readonly number[],
  rho: number,
  scalarization: "chebyshev" | "hypervolume" = "chebyshev",
): Trial[] {
  const m = directions.length;
  const lo = new Array<number>(m).fill(Infinity);
  const hi = new Array<number>(m).fill(-Infinity);
  const done = (t: Trial) => t.state === "COMPLETE" && t.values !== null && t.values.length === m;
  const anyFeasible = trials.some((t) => done(t) && isFeasibleVector(t.constraints));
  for (const t of trials) {
    if (!done(t) || (anyFeasible && !isFeasibleVector(t.constraints))) continue;
    minimisationForm(directions, t.values as number[]).forEach((v, j) => {
      lo[j] = Math.min(lo[j] as number, v);
      hi[j] = Math.max(hi[j] as number, v);
    });
  }
  return trials.map((t) => {
    if (!done(t)) return { ...t, values: null, value: null, constraints: null };
    const v = minimisationForm(directions, t.values as number[]);
    let max = -Infinity;
    let sum = 0;
    v.forEach((x, j) => {
      const u = fractionOfRange(x, lo[j] as number, hi[j] as number);
      // Hypervolume: the ray from the reference 1 + margin along −λ leaves the region u dominates
      // after min_j (1 + margin − u_j)/λ_j; minimise its negative.
      const w = scalarization === "chebyshev" ? (lambda[j] as number) * u : (u - 1 - HV_REFERENCE_MARGIN) / Math.max(lambda[j] as number, 1e-12);
      max = Math.max(max, w);
      sum += w;
    });
    const f = scalarization === "chebyshev" ? max + rho * sum : max;
    return { ...t, values: [f], value: f };
  });
}

export class ParegoStrategy implements Strategy {
  private readonly gp: Strategy;

  constructor(private readonly opts: ParegoOptions) {
    this.gp = gpStrategyFactory.create(gpStrategyFactory.options.parse(opts.gp));
  }

  /** The weight vector (Chebyshev) or direction (hypervolume) of a suggestion (see the options). */
  weightsFor(req: SuggestRequest): number[] {
    const m = req.study.directions.length;
    const { weights, scalarization } = this.opts;
    if (weights === "random" && scalarization === "chebyshev") return simplexWeights(m, req.rng);
    const kind = scalarization === "chebyshev" ? "simplex" : "sphere";
    if (weights === "sobol") return sobolWeights(req, kind);
    return weightsFromUnit(Array.from({ length: m - 1 }, () => req.rng.random()), m, kind, () => req.rng.random());
  }

  suggest(req: SuggestRequest): Suggestion {
    const { directions } = req.study;
    const lambda = this.weightsFor(req);
    const trials = scalarise(req.trials, directions, lambda, this.opts.rho, this.opts.scalarization);
    const study = { ...req.study, directions: ["minimize"] as Direction[], direction: "minimize" as Direction };
    const s = this.gp.suggest({ ...req, study, trials });
    return { params: s.params, systemAttrs: { ...(s.systemAttrs ?? {}), [WEIGHTS_ATTR]: lambda } };
  }

  /** Define-by-run parameters are outside the model: the GP's uniform fallback. */
  suggestParam(req: ParamRequest) {
    const gp = this.gp;
    if (!gp.suggestParam) throw new Error("gp strategy lost its define-by-run hook");
    return gp.suggestParam(req);
  }
}

export const paregoStrategyFactory: StrategyFactory<ParegoOptions> = {
  name: "parego",
  infersSpace: true,
  description:
    "ParEGO (Knowles 2006): Gaussian-process BO on a random augmented-Chebyshev scalarisation of the objectives, a new " +
    "weight vector per suggestion. For expensive multi-objective studies with small budgets; constraints by the GP's " +
    "probability of feasibility.",
  options: options as unknown as z.ZodType<ParegoOptions>,
  multiObjective: true,
  offload: true,
  create: (o) => new ParegoStrategy(options.parse(o)),
};
