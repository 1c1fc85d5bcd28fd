/** Builders for tests of strategies and schedulers: fake histories without a server. */
import type { Distribution, Params, SearchSpace } from "../domain/distributions.js";
import type { Direction, IntermediateValue, Trial, TrialState } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import type { BenchmarkProblem } from "../testing/benchmark-functions.js";
import type { StrategyFactory, StudyContext, SuggestRequest } from "./strategy.js";

export function makeStudy(space: SearchSpace, over: Partial<StudyContext> = {}): StudyContext {
  return {
    name: "test",
    direction: "minimize" as Direction,
    space,
    seed: 42,
    strategy: { name: "random", options: {} },
    scheduler: null,
    ...over,
  };
}

export function makeTrial(
  number: number,
  params: Params,
  space: Record<string, Distribution>,
  over: Partial<{ state: TrialState; value: number | null; intermediate: IntermediateValue[]; systemAttrs: Record<string, unknown> }> = {},
): Trial {
  const distributions: Record<string, Distribution> = {};
  for (const k of Object.keys(params)) distributions[k] = space[k] as Distribution;
  return {
    id: number + 1,
    number,
    state: over.state ?? "COMPLETE",
    params,
    distributions,
    value: over.value === undefined ? 0 : over.value,
    intermediate: over.intermediate ?? [],
    userAttrs: {},
    systemAttrs: over.systemAttrs ?? {},
    createdAt: number,
    startedAt: number,
    finishedAt: over.state === "RUNNING" ? null : number,
  };
}

export function suggestRequest(study: StudyContext, trials: readonly Trial[]): SuggestRequest {
  const trialNumber = trials.length;
  return { study, trials, trialNumber, rng: Rng.derive(study.seed, trialNumber, "suggest") };
}

/**
 * A sequential ask/tell loop of a strategy on a benchmark problem (no define-by-run);
 * returns the trials, with the strategy's system attributes kept as the service would.
 */
export function runOnProblem<O>(factory: StrategyFactory<O>, options: O, problem: BenchmarkProblem, n: number, seed: number): Trial[] {
  const strategy = factory.create(options);
  const study = makeStudy(problem.space, { seed, strategy: { name: factory.name, options: {} } });
  const trials: Trial[] = [];
  for (let i = 0; i < n; i++) {
    const s = strategy.suggest(suggestRequest(study, trials));
    trials.push(makeTrial(i, s.params, problem.space, { value: problem.evaluate(s.params), systemAttrs: s.systemAttrs ?? {} }));
  }
  return trials;
}

/** The lowest value among trials (every benchmark problem is minimised). */
export const bestValue = (trials: readonly Trial[]): number => Math.min(...trials.map((t) => t.value as number));
