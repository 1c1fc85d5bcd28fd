/** Builders for tests of strategies and schedulers: fake histories without a server. */
import type { Distribution, Params, SearchSpace } from "../domain/distributions.js";
import type { Direction, IntermediateValue, Trial, TrialState } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import type { StudyContext, SuggestRequest } from "./strategy.js";

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
