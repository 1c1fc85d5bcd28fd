/** Read models computed from a study's in-memory state: trial pages and lineage. */
import { TuneportError, notFound } from "../domain/errors.js";
import { bestReport, bestReported, defaultLineage } from "./lineage.js";
import type * as S from "./ops/schemas.js";
import { type PlotKind, type PlotRendering, parsePlotKind, renderPlot } from "./plots.js";
import { type StudyState, type TrialRecord, viewOf } from "./study-state.js";
import { trialOf } from "./trial-ops.js";
import { type ParetoFrontView, paretoFrontView } from "./pareto.js";
import { type LineageView, type TrialView, trialView } from "./views.js";

/** The `best_trials` answer (pareto.ts) from the study's in-memory trials. @throws INVALID_ARGUMENT. */
export function bestTrialsOf(s: StudyState, a: S.BestTrialsArgs, now: number): ParetoFrontView {
  const trials = s.trials.map((t) => trialView(t, now));
  return paretoFrontView(viewOf(s), trials, { ...(a.reference_point ? { referencePoint: a.reference_point } : {}), history: a.history ?? false });
}

/** A chart of the study from every trial, on `plots` (a worker thread) when given, else in process. */
export async function plotOf(
  s: StudyState,
  a: S.PlotArgs,
  now: number,
  plots: PlotRendering | null,
): Promise<{ png: Uint8Array; caption: string; width: number; height: number; kind: PlotKind }> {
  const kind = parsePlotKind(a.kind);
  const study = viewOf(s);
  const trials = s.trials.map((t) => trialView(t, now));
  const opts = { params: a.params, logY: a.log_y };
  const p = plots ? await plots.render(kind, study, trials, opts) : await renderPlot(kind, study, trials, opts);
  return { png: p.png, caption: p.caption, width: p.width, height: p.height, kind };
}

/** A page of trials, filtered by state and ordered by number or value (best first). */
export function trialsPage(s: StudyState, a: S.TrialsArgs, now: number): { trials: TrialView[]; total: number } {
  let list: TrialRecord[] = s.trials;
  if (a.states && a.states.length > 0) {
    const want = new Set(a.states);
    list = list.filter((t) => want.has(t.state));
  }
  if (a.order_by === "value") {
    const sign = s.study.config.direction === "minimize" ? 1 : -1;
    list = list.filter((t) => t.value !== null).sort((x, y) => sign * ((x.value as number) - (y.value as number)) || x.number - y.number);
  }
  if (a.descending) list = [...list].reverse();
  const offset = a.offset ?? 0;
  const limit = a.limit ?? 1000;
  return { trials: list.slice(offset, offset + limit).map((t) => trialView(t, now)), total: list.length };
}

/**
 * The hyperparameter schedule that produced a trial's model (PBT): segments `{from_step, params,
 * trial, trial_step}` in model-age order, replayable as a fixed schedule. Without `trial`, the trial
 * with the best finite *reported* value (see `bestReported`), scheduled up to that report; with
 * `trial`, that trial up to its best report. `value` is that report's value (the COMPLETE value of
 * a trial that never reported). A strategy without a `readModels.lineage` gives one segment (the
 * trial's params from step 0). @throws NOT_FOUND.
 */
export function lineageView(s: StudyState, trial: number | undefined): LineageView {
  const dir = s.study.config.direction;
  let t: TrialRecord;
  let at: { step: number | null; value: number | null };
  if (trial === undefined) {
    const b = bestReported(dir, s.trials);
    if (!b) throw notFound(`study '${s.study.name}' has no trial with a finite result yet`, { study: s.study.name });
    t = b.trial as TrialRecord;
    at = { step: b.step, value: b.value };
  } else {
    t = trialOf(s, trial);
    at = bestReport(dir, t) ?? { step: null, value: t.value };
  }
  let out: ReturnType<typeof defaultLineage>;
  try {
    out = (s.factory.readModels?.lineage ?? defaultLineage)(s.trials, t.number, at.step ?? undefined);
  } catch (err) {
    throw new TuneportError("INTERNAL", `lineage of trial ${t.number} is inconsistent: ${(err as Error).message}`);
  }
  return { study: s.study.name, trial: t.number, state: t.state, value: at.value, step: at.step, until_step: out.until_step, schedule: out.schedule };
}
