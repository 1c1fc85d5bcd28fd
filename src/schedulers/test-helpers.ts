/** Builders for scheduler unit tests: hand-made histories and report requests. */
import type { IntermediateValue, Direction, Trial, TrialState } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import type { ReportRequest } from "../strategies/strategy.js";
import { makeStudy, makeTrial } from "../strategies/test-helpers.js";

const SPACE = { x: { type: "float" as const, low: 0, high: 1 } };

/** A trial with the given reports `[step, value][]`; COMPLETE trials get the last value. */
export function curveTrial(
  number: number,
  reports: readonly (readonly [number, number])[],
  state: TrialState = "COMPLETE",
  systemAttrs: Record<string, unknown> = {},
): Trial {
  const intermediate: IntermediateValue[] = reports.map(([step, value]) => ({ step, value }));
  const last = intermediate[intermediate.length - 1];
  return makeTrial(number, { x: number / 1000 }, SPACE, {
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
    study: makeStudy(SPACE, { direction }),
    trials: [...others, trial].sort((a, b) => a.number - b.number),
    trial,
    step: last.step,
    value: last.value,
    data: {},
    rng: new Rng(1, trial.number, last.step),
  };
}
