/**
 * The lineage read model of a trial whose strategy records none: one segment, the trial's own params
 * from model age 0 up to its latest reported step. Strategies that move models between trials (PBT)
 * provide their own through `StrategyFactory.readModels.lineage`.
 */
import type { Trial } from "../domain/trial.js";
import type { LineageSchedule } from "../domain/plugin.js";

export function defaultLineage(trials: readonly Trial[], number: number): LineageSchedule {
  const t = trials[number];
  if (!t) throw new Error(`no trial ${number}`);
  const last = t.intermediate[t.intermediate.length - 1];
  return { schedule: [{ from_step: 0, params: { ...t.params }, trial: t.number, trial_step: 0 }], until_step: last?.step ?? 0 };
}
