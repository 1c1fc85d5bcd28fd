/**
 * Builders for tests of strategies and schedulers: fake histories without a server (the
 * analogue of Optuna's `optuna/testing/` helpers). Part of the testing kit, not of `dist`.
 */
import type { Distribution, Params, SearchSpace } from "../domain/distributions.js";
import type { ReportRequest, StrategyFactory, StudyContext, SuggestRequest } from "../domain/plugin.js";
import type { Direction, IntermediateValue, Trial, TrialState } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import type { BenchmarkProblem } from "./benchmark-functions.js";
import { minOf } from "../math/extremes.js";

/**
 * A study context over `space` (seed 42, strategy random, no scheduler, one objective to
 * minimise) with overrides; `directions` wins over `direction`, and `direction` is kept equal to
 * its first entry.
 */
export function makeStudy(space: SearchSpace, over: Partial<StudyContext> = {}): StudyContext {
  const directions: readonly Direction[] = over.directions ?? [over.direction ?? "minimize"];
  return {
    name: "test",
    space,
    seed: 42,
    strategy: { name: "random", options: {} },
    scheduler: null,
    ...over,
    directions,
    direction: directions[0] as Direction,
  };
}

/**
 * A trial of `number` with `params` (COMPLETE with value 0 unless overridden); distributions from
 * `space`. `values` (several objectives) wins over `value`; `constraints` default to none.
 */
export function makeTrial(
  number: number,
  params: Params,
  space: Record<string, Distribution>,
  over: Partial<{
    state: TrialState;
    value: number | null;
    values: readonly number[] | null;
    constraints: readonly number[] | null;
    intermediate: IntermediateValue[];
    systemAttrs: Record<string, unknown>;
  }> = {},
): Trial {
  const distributions: Record<string, Distribution> = {};
  for (const k of Object.keys(params)) distributions[k] = space[k] as Distribution;
  const value = over.value === undefined ? 0 : over.value;
  const values = over.values !== undefined ? over.values : value === null ? null : [value];
  return {
    id: number + 1,
    number,
    state: over.state ?? "COMPLETE",
    params,
    distributions,
    values,
    value: values !== null && values.length === 1 ? (values[0] as number) : null,
    constraints: over.constraints ?? null,
    intermediate: over.intermediate ?? [],
    userAttrs: {},
    systemAttrs: over.systemAttrs ?? {},
    createdAt: number,
    startedAt: number,
    finishedAt: over.state === "RUNNING" ? null : number,
  };
}

/** The request for the next trial after `trials`, with the RNG the service would derive. */
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
export const bestValue = (trials: readonly Trial[]): number => minOf(trials.map((t) => t.value as number));

// ---------------------------------------------------------------- scheduler histories

/** The one-dimensional space of `curveTrial`s. */
const CURVE_SPACE = { x: { type: "float" as const, low: 0, high: 1 } };

/** A trial with the given reports `[step, value][]`; COMPLETE trials get the last value. */
export function curveTrial(
  number: number,
  reports: readonly (readonly [number, number])[],
  state: TrialState = "COMPLETE",
  systemAttrs: Record<string, unknown> = {},
): Trial {
  const intermediate: IntermediateValue[] = reports.map(([step, value]) => ({ step, value }));
  const last = intermediate[intermediate.length - 1];
  return makeTrial(number, { x: number / 1000 }, CURVE_SPACE, {
    state,
    value: state === "RUNNING" ? null : (last?.value ?? null),
    intermediate,
    systemAttrs,
  });
}

/** The request for `trial`'s last report, with `others` as the rest of the study. */
export function reportOf(trial: Trial, others: readonly Trial[], direction: Direction = "minimize"): ReportRequest {
  const last = trial.intermediate[trial.intermediate.length - 1];
  if (!last) throw new Error("reportOf: the trial has no report");
  return {
    study: makeStudy(CURVE_SPACE, { direction }),
    trials: [...others, trial].sort((a, b) => a.number - b.number),
    trial,
    step: last.step,
    value: last.value,
    data: {},
    rng: new Rng(1, trial.number, last.step),
  };
}
