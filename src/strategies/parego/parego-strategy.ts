/**
 * ParEGO: Gaussian-process optimisation of several objectives through random scalarisations, the
 * first GP-based multi-objective strategy of issue 15, and `auto`'s choice for several objectives: LogEHVI
 * (../ehvi) came later and lost to it on the suite (docs/BENCHMARKS.md, "Multi-objective", run 6).
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
 * Constraints (c ≤ 0 feasible): ParEGO has none; tuneport passes each COMPLETE trial's constraint
 * vector through to the inner `gp` strategy, which multiplies EI by the probability of
 * feasibility of one GP per constraint with the best FEASIBLE f_λ as incumbent (Gardner et al.
 * 2014, §3; ../gp/gp-constraints.ts), as BoTorch's qParEGO does with its constraint models. An
 * infeasible trial's f_λ is computed like any other (normalised by the feasible trials' ranges,
 * so it may fall outside [0, 1 + ρ]); while no trial is feasible the ranges are those of all
 * COMPLETE trials.
 */
import { z } from "zod";
import { isFeasibleVector, minimisationForm } from "../../domain/objectives.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";
import type { Direction, Trial } from "../../domain/trial.js";
import type { Rng } from "../../math/rng.js";
import { gpStrategyFactory } from "../gp/gp-strategy.js";

const options = z
  .object({
    /** Augmentation weight ρ of the Chebyshev scalarisation (Knowles 2006: 0.05). */
    rho: z.number().min(0).max(1).default(0.05),
    /** Options passed to the inner `gp` strategy. */
    gp: z.record(z.string(), z.unknown()).default({}),
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

/**
 * The scalarised history: COMPLETE trials with a value per objective become one-objective
 * trials whose value is f_λ, keeping their constraints (file header); other trials are passed
 * through without values.
 */
export function scalarise(trials: readonly Trial[], directions: readonly Direction[], lambda: readonly number[], rho: number): Trial[] {
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
      const r = (hi[j] as number) - (lo[j] as number);
      const u = r > 0 ? (x - (lo[j] as number)) / r : 0;
      const w = (lambda[j] as number) * u;
      max = Math.max(max, w);
      sum += w;
    });
    const f = max + rho * sum;
    return { ...t, values: [f], value: f };
  });
}

export class ParegoStrategy implements Strategy {
  private readonly gp: Strategy;

  constructor(private readonly opts: ParegoOptions) {
    this.gp = gpStrategyFactory.create(gpStrategyFactory.options.parse(opts.gp));
  }

  suggest(req: SuggestRequest): Suggestion {
    const { directions } = req.study;
    const lambda = simplexWeights(directions.length, req.rng);
    const trials = scalarise(req.trials, directions, lambda, this.opts.rho);
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
  description:
    "ParEGO (Knowles 2006): Gaussian-process BO on a random augmented-Chebyshev scalarisation of the objectives, a new " +
    "weight vector per suggestion. For expensive multi-objective studies with small budgets; constraints by the GP's " +
    "probability of feasibility.",
  options: options as unknown as z.ZodType<ParegoOptions>,
  multiObjective: true,
  offload: true,
  create: (o) => new ParegoStrategy(options.parse(o)),
};
