/**
 * The lineage read model's plug-in-independent parts: which trial and report a lineage describes
 * (`bestReport`, `bestReported`), and the lineage of a trial whose strategy records none. Strategies
 * that move models between trials (PBT) provide their own through `StrategyFactory.readModels.lineage`.
 */
import { TuneportError, invalidArgument, notFound } from "../domain/errors.js";
import type { Direction, Trial } from "../domain/trial.js";
import type { LineageSchedule, StrategyReadModels } from "../domain/plugin.js";
import type { LineageView } from "./views.js";

/**
 * NOT_FOUND: a study without a finite report or COMPLETE value has no lineage to show. With
 * `keepsLineage` false (a strategy that never moves a model between trials) it says so too: an agent
 * told only to wait came back to learn that there would be no lineage to follow.
 */
export function noFiniteResult(study: string, keepsLineage = true): TuneportError {
  const none = keepsLineage ? "" : "; and its strategy keeps no lineage (only pbt and pb2 move models between trials), so a trial's lineage will be its own params from step 0";
  return notFound(`study '${study}' has no trial with a finite result yet${none}`, { study });
}

/**
 * INVALID_ARGUMENT for a lineage asked without a trial of a study with several objectives: the
 * study's best report is one value's best, which such a study has not ("no trial with a finite
 * result" said the opposite of the truth). Null when the study has one objective.
 */
export function trialNeededFor(study: string, directions: readonly Direction[]): TuneportError | null {
  if (directions.length < 2) return null;
  return invalidArgument(
    `study '${study}' has ${directions.length} objectives (${directions.join(", ")}): no single best trial to follow; name the trial whose lineage you want (e.g. one of best_trials)`,
    { study },
  );
}

/** Where a lineage of trial `t` ends: its best finite report, or its COMPLETE value when it reported none. */
export function reportedAt(direction: Direction, t: Trial): { step: number | null; value: number | null } {
  return bestReport(direction, t) ?? { step: null, value: t.value };
}

/**
 * The `lineage` answer for trial `t` up to `at` (`reportedAt`, or the study's `bestReported`): the
 * schedule from the strategy's read model, or one segment (`defaultLineage`) when it keeps none.
 * `trials` is indexed by number and holds `t` and every trial the model follows from it
 * (`StrategyReadModels.lineageNext`): the whole study in the service, those alone in the CLI.
 * @throws INTERNAL when the recorded lineage is inconsistent.
 */
export function lineageAnswer(
  study: string,
  models: StrategyReadModels | undefined,
  trials: readonly Trial[],
  t: Trial,
  at: { step: number | null; value: number | null },
): LineageView {
  let out: LineageSchedule;
  try {
    out = (models?.lineage ?? defaultLineage)(trials, t.number, at.step ?? undefined);
  } catch (err) {
    throw new TuneportError("INTERNAL", `lineage of trial ${t.number} is inconsistent: ${(err as Error).message}`);
  }
  return {
    study,
    trial: t.number,
    state: t.state,
    value: at.value,
    step: at.step,
    until_step: out.until_step,
    schedule: out.schedule,
    tracked: models?.lineage !== undefined,
  };
}

/**
 * The lineage of a trial whose strategy records none: one segment, the trial's own params from
 * model age 0 up to its step `uptoStep` (default: its latest reported step).
 */
export function defaultLineage(trials: readonly Trial[], number: number, uptoStep?: number): LineageSchedule {
  const t = trials[number];
  if (!t) throw new Error(`no trial ${number}`);
  const last = t.intermediate[t.intermediate.length - 1];
  return { schedule: [{ from_step: 0, params: { ...t.params }, trial: t.number, trial_step: 0 }], until_step: uptoStep ?? last?.step ?? 0 };
}

/** A trial's best finite reported value and the step of that report (the earliest on ties). */
export function bestReport(direction: Direction, t: Trial): { step: number; value: number } | null {
  let best: { step: number; value: number } | null = null;
  for (const iv of t.intermediate) {
    if (!Number.isFinite(iv.value)) continue;
    if (best === null || (direction === "minimize" ? iv.value < best.value : iv.value > best.value)) best = { step: iv.step, value: iv.value };
  }
  return best;
}

/**
 * The trial whose model was best when it reported: the best finite reported value over every
 * trial (ties: the earlier trial, then the earlier step). A trial that never reported counts
 * with its COMPLETE value at step null. Null when nothing finite was reported or completed.
 * (A member's completed value is usually its *last* report, which after a late exploit or a
 * divergence is not its best model; the lineage to replay is that of the best report.)
 */
export function bestReported(direction: Direction, trials: readonly Trial[]): { trial: Trial; step: number | null; value: number } | null {
  let best: { trial: Trial; step: number | null; value: number } | null = null;
  const better = (a: number, b: number) => (direction === "minimize" ? a < b : a > b);
  for (const t of trials) {
    const r = bestReport(direction, t);
    const cand =
      r !== null ? { trial: t, step: r.step, value: r.value }
      : t.state === "COMPLETE" && t.value !== null && Number.isFinite(t.value) ? { trial: t, step: null, value: t.value }
      : null;
    if (cand && (best === null || better(cand.value, best.value))) best = cand;
  }
  return best;
}

