/**
 * Quasi-Monte Carlo search: trial i takes point i of a scrambled Sobol sequence
 * (src/math/sobol.ts), mapped through the unit-cube encoding. Space-filling like a grid,
 * any prefix usable like random search. After Optuna's QMCSampler (which defaults to an
 * unscrambled Sobol sequence); tuneport scrambles by default because scrambled points are
 * each uniform, so the results average like random search and stay unbiased (Owen 2003).
 *
 * - The point index is the trial number (plus one with `skip_first`), so a restarted
 *   server continues the sequence; the scrambling is seeded from the study seed.
 * - Numeric dimensions use `fromUnit` (log, int and step aware); a categorical with k
 *   choices takes choice ⌊u·k⌋.
 * - Dimensions beyond SOBOL_MAX_DIM and define-by-run parameters are drawn uniformly at
 *   random (a low-discrepancy sequence needs a fixed dimension).
 */
import { z } from "zod";
import { type Distribution, type ParamValue, type Params, fromUnit } from "../../domain/distributions.js";
import { SOBOL_MAX_DIM, sobolPoint } from "../../math/sobol.js";
import { sampleUniform } from "../../domain/sampling.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";

const options = z
  .object({
    /** Linear matrix scrambling + digital shift seeded from the study seed. */
    scramble: z.boolean().default(true),
    /** Skip point 0 (the origin of the unscrambled sequence). */
    skip_first: z.boolean().default(false),
  })
  .strict();
export type QmcOptions = z.infer<typeof options>;

/** Maps u ∈ [0, 1) to a value of `d`: `fromUnit` for numbers, choice ⌊u·k⌋ for categoricals. */
export function valueFromUnit(d: Distribution, u: number): ParamValue {
  if (d.type === "categorical") {
    const k = d.choices.length;
    return d.choices[Math.min(k - 1, Math.floor(u * k))] as ParamValue;
  }
  return fromUnit(d, u);
}

/**
 * Params for point `index` of the Sobol sequence over the declared space (in key order).
 * Coordinates past SOBOL_MAX_DIM come from `fallback`.
 */
export function sobolParams(
  space: Record<string, Distribution>,
  index: number,
  seed: number,
  scramble: boolean,
  fallback: () => number,
): Params {
  const names = Object.keys(space);
  const params: Params = {};
  if (names.length === 0) return params;
  const dim = Math.min(names.length, SOBOL_MAX_DIM);
  const u = sobolPoint(index % 2 ** 32, dim, seed, scramble);
  names.forEach((name, j) => {
    params[name] = valueFromUnit(space[name] as Distribution, j < dim ? (u[j] as number) : fallback());
  });
  return params;
}

export class QmcStrategy implements Strategy {
  constructor(private readonly opts: QmcOptions) {}

  suggest(req: SuggestRequest): Suggestion {
    const index = req.trialNumber + (this.opts.skip_first ? 1 : 0);
    return { params: sobolParams(req.study.space, index, req.study.seed, this.opts.scramble, () => req.rng.random()) };
  }

  suggestParam(req: ParamRequest): ParamValue {
    return sampleUniform(req.distribution, req.rng);
  }
}

export const qmcStrategyFactory: StrategyFactory<QmcOptions> = {
  name: "qmc",
  // Draws ignore the values told, so several objectives (and constraints) change nothing.
  multiObjective: true,
  description:
    "Scrambled Sobol sequence (Joe–Kuo directions): trial i takes point i. Space-filling, reproducible, no model.",
  options,
  create: (o) => new QmcStrategy(o),
};
