/**
 * Random search: every parameter drawn independently and uniformly (log-uniform on log
 * dimensions). Bergstra & Bengio (JMLR 2012) — the baseline every other strategy must beat.
 */
import { z } from "zod";
import type { Params } from "../../domain/distributions.js";
import { sampleUniform } from "../../domain/sampling.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";

export class RandomStrategy implements Strategy {
  suggest(req: SuggestRequest): Suggestion {
    const params: Params = {};
    for (const [name, d] of Object.entries(req.study.space)) params[name] = sampleUniform(d, req.rng);
    return { params };
  }

  suggestParam(req: ParamRequest) {
    return sampleUniform(req.distribution, req.rng);
  }
}

const options = z.object({}).strict();

export const randomStrategyFactory: StrategyFactory<z.infer<typeof options>> = {
  name: "random",
  // Draws ignore the values told, so several objectives (and constraints) change nothing.
  multiObjective: true,
  description: "Independent uniform (log-uniform on log scales) draws. Fast, embarrassingly parallel baseline.",
  options,
  create: () => new RandomStrategy(),
};
