/**
 * The Pareto-front read model (op `pareto_front`, `best_trials` in the clients, MCP summaries):
 * a pure function of the study view and trial views, so `tuneport mcp --connect` computes the
 * same as the embedded service. The rules (feasibility, dominance, the reference point) are
 * domain/objectives.ts's; a one-objective study's front is its best feasible trials and its
 * hypervolume the distance from the best value to the reference point.
 */
import {
  type ObjectiveTrial,
  type ReferenceSource,
  boundedHypervolumeHistory,
  checkReferencePoint,
  frontHypervolume,
  isFeasibleVector,
  paretoFront,
  referencePointOf,
} from "../domain/objectives.js";
import type { Direction } from "../domain/trial.js";
import type { StudyView, TrialView } from "./views.js";

/** The answer of `pareto_front`. */
export interface ParetoFrontView {
  study: string;
  directions: Direction[];
  /** COMPLETE feasible trials no other one dominates, in number order. */
  trials: TrialView[];
  hypervolume: number | null;
  /**
   * False when `hypervolume` (and `history`) are Monte Carlo estimates: 4 or more objectives whose
   * exact hypervolume would take longer than a request may (domain/objectives.ts `frontHypervolume`).
   */
  hypervolume_exact: boolean;
  reference_point: number[] | null;
  reference_point_source: ReferenceSource | null;
  /** `[trial number, hypervolume]` whenever a trial changed it (at `reference_point`), when asked for. */
  history: [number, number][] | null;
  n_complete: number;
  n_feasible: number;
}

/** The study's COMPLETE and feasible COMPLETE counts, when `trials` are not all of its trials. */
export interface FrontCounts {
  readonly complete: number;
  readonly feasible: number;
}

/**
 * The front of `study` from `trials`, its hypervolume at the reference point (`referencePoint`,
 * else the study's, else derived) and, with `history`, the hypervolume after each trial that
 * changed it. `trials` may be the study's record trials alone (service/front-records.ts), which
 * give the same front and history; `counts` then gives `n_complete` and `n_feasible`.
 * @throws INVALID_ARGUMENT for a reference point of the wrong length.
 */
export function paretoFrontView<T extends ObjectiveTrial = TrialView>(
  study: Pick<StudyView, "name" | "directions" | "reference_point">,
  trials: readonly T[],
  opts: { referencePoint?: readonly number[]; history?: boolean; counts?: FrontCounts } = {},
): Omit<ParetoFrontView, "trials"> & { trials: T[] } {
  const directions = study.directions;
  checkReferencePoint(opts.referencePoint, directions);
  const front = paretoFront(directions, trials);
  const ref = referencePointOf(directions, front, opts.referencePoint ?? study.reference_point);
  let nComplete = opts.counts?.complete ?? 0;
  let nFeasible = opts.counts?.feasible ?? 0;
  if (!opts.counts)
    for (const t of trials)
      if (t.state === "COMPLETE") {
        nComplete++;
        if (isFeasibleVector(t.constraints)) nFeasible++;
      }
  const hv = ref === null ? null : frontHypervolume(directions, front, ref.point);
  const history = opts.history && ref !== null ? boundedHypervolumeHistory(directions, trials, ref.point) : null;
  return {
    study: study.name,
    directions: [...directions],
    trials: front,
    hypervolume: hv?.value ?? null,
    hypervolume_exact: (hv?.exact ?? true) && (history?.exact ?? true),
    reference_point: ref?.point ?? null,
    reference_point_source: ref?.source ?? null,
    history: history?.points ?? null,
    n_complete: nComplete,
    n_feasible: nFeasible,
  };
}

/** What a summary says about the front: its size, hypervolume and how it moved lately. */
export interface FrontFacts {
  size: number;
  hypervolume: number | null;
  /** False when the hypervolume and its history are estimates (see `ParetoFrontView`). */
  hypervolume_exact: boolean;
  reference_point: number[] | null;
  reference_point_source: ReferenceSource | null;
  /** Hypervolume after each change, at most 20 points, evenly thinned. */
  hypervolume_history: number[];
  /** COMPLETE trials since the hypervolume last grew (trend: plateau after 10). */
  completions_since_improvement: number;
  n_feasible: number;
  n_infeasible: number;
}

/**
 * The front facts of a study (see `FrontFacts`) from its trials, or from its record trials with
 * `all`: its counts and how many COMPLETE trials have a number above a given one.
 */
export function frontFacts<T extends ObjectiveTrial>(
  study: Pick<StudyView, "name" | "directions" | "reference_point">,
  trials: readonly T[],
  all?: FrontCounts & { completeAfter(number: number): number },
): FrontFacts {
  const v = paretoFrontView(study, trials, { history: true, ...(all ? { counts: all } : {}) });
  const history = v.history ?? [];
  const lastChange = history.length > 0 ? (history[history.length - 1] as [number, number])[0] : -1;
  let since = 0;
  if (all) since = all.completeAfter(lastChange);
  else for (const t of trials) if (t.state === "COMPLETE" && t.number > lastChange) since++;
  return {
    size: v.trials.length,
    hypervolume: v.hypervolume,
    hypervolume_exact: v.hypervolume_exact,
    reference_point: v.reference_point,
    reference_point_source: v.reference_point_source,
    hypervolume_history: thin(history.map(([, hv]) => hv), 20),
    completions_since_improvement: since,
    n_feasible: v.n_feasible,
    n_infeasible: v.n_complete - v.n_feasible,
  };
}

function thin(v: readonly number[], max: number): number[] {
  if (v.length <= max) return [...v];
  return Array.from({ length: max }, (_, i) => v[Math.round((i * (v.length - 1)) / (max - 1))] as number);
}
