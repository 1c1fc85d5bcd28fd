/**
 * Plots of multi-objective studies, after Optuna's `plot_pareto_front` and
 * `plot_hypervolume_history`: the trials in objective space with the Pareto front, dominated
 * and infeasible trials told apart (two objectives; with three or more, the first two as a
 * projection, said in the caption), and the hypervolume after each trial. Pure functions
 * returning Vega-Lite specs (see plots.ts for rendering); the front, feasibility and hypervolume
 * are domain/objectives.ts's.
 */
import { invalidArgument } from "../domain/errors.js";
import { hypervolumeHistory, paretoFront, referencePointOf } from "../domain/objectives.js";
import { HEIGHT, type PlotSpec, WIDTH, baseSpec } from "./plot-scales.js";
import type { StudyView, TrialView } from "./views.js";

const KINDS = ["Pareto front", "dominated", "infeasible"] as const;
const COLOURS: Record<(typeof KINDS)[number], string> = { "Pareto front": "#e45756", dominated: "#4c78a8", infeasible: "#bab0ac" };

/** COMPLETE trials with a value per objective. */
function withValues(study: StudyView, trials: readonly TrialView[]): TrialView[] {
  return trials.filter((t) => t.state === "COMPLETE" && t.values !== null && t.values.length === study.directions.length);
}

/**
 * The trials of a study with two or more objectives in the plane of its first two, coloured
 * front / dominated / infeasible, the front joined by a step line. @throws INVALID_ARGUMENT for a
 * one-objective study, or before any trial completed.
 */
export function paretoFrontSpec(study: StudyView, trials: readonly TrialView[]): PlotSpec {
  const m = study.directions.length;
  if (m < 2) throw invalidArgument(`study '${study.name}' has one objective: a Pareto front plot needs two or more; plot history instead`);
  const done = withValues(study, trials);
  if (done.length === 0) throw invalidArgument(`study '${study.name}' has no COMPLETE trial to plot yet; wait for results first`);
  const front = new Set(paretoFront(study.directions, done).map((t) => t.number));
  const rows = done.map((t) => ({
    trial: t.number,
    v0: (t.values as number[])[0],
    v1: (t.values as number[])[1],
    kind: t.feasible === false ? "infeasible" : front.has(t.number) ? "Pareto front" : "dominated",
  }));
  const present = KINDS.filter((k) => rows.some((r) => r.kind === k));
  const axis = (i: number) => ({ field: `v${i}`, type: "quantitative", title: `objective ${i} (${study.directions[i]})`, scale: { zero: false, nice: true } });
  const frontRows = rows.filter((r) => r.kind === "Pareto front").sort((a, b) => (a.v0 as number) - (b.v0 as number));
  const spec = {
    ...baseSpec(`Pareto front of ${study.name}`),
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [
      {
        mark: { type: "point", filled: true, size: 50, opacity: 0.85 },
        encoding: {
          x: axis(0),
          y: axis(1),
          color: { field: "kind", type: "nominal", title: "trial", scale: { domain: present, range: present.map((k) => COLOURS[k]) } },
          tooltip: [{ field: "trial" }, { field: "v0" }, { field: "v1" }, { field: "kind" }],
        },
      },
      ...(m === 2 && frontRows.length > 1
        ? [
            {
              transform: [{ filter: "datum.kind === 'Pareto front'" }],
              mark: { type: "line", interpolate: study.directions[1] === "minimize" ? "step-after" : "step-before", color: COLOURS["Pareto front"], strokeWidth: 1 },
              encoding: { x: axis(0), y: axis(1), order: { field: "v0" } },
            },
          ]
        : []),
    ],
  };
  const nInfeasible = rows.filter((r) => r.kind === "infeasible").length;
  const caption =
    `Pareto front of '${study.name}' (${study.directions.join(", ")}): ${front.size} of ${rows.length} complete trials are on the front (red), ` +
    `${rows.length - front.size - nInfeasible} dominated (blue), ${nInfeasible} infeasible (grey: a constraint c > 0).` +
    (m > 2 ? ` The study has ${m} objectives: this is the projection on objectives 0 and 1, so front trials may look dominated here.` : "");
  return { spec, caption };
}

/**
 * The hypervolume of the front after each COMPLETE feasible trial that changed it, at one
 * reference point (the study's, else derived from today's front). @throws INVALID_ARGUMENT
 * before any feasible trial completed.
 */
export function hypervolumeHistorySpec(study: StudyView, trials: readonly TrialView[]): PlotSpec {
  const done = withValues(study, trials);
  const ref = referencePointOf(study.directions, paretoFront(study.directions, done), study.reference_point);
  if (ref === null) throw invalidArgument(`study '${study.name}' has no feasible COMPLETE trial yet: no hypervolume to plot`);
  const history = hypervolumeHistory(study.directions, done, ref.point);
  const last = done.length > 0 ? Math.max(...done.map((t) => t.number)) : 0;
  const rows = history.map(([trial, hv]) => ({ trial, hv }));
  // Extend the last level to the last trial, so the plateau shows.
  if (rows.length > 0 && (rows[rows.length - 1] as { trial: number }).trial < last) rows.push({ trial: last, hv: (rows[rows.length - 1] as { hv: number }).hv });
  const x = { field: "trial", type: "quantitative", title: "trial number", axis: { tickMinStep: 1, format: "d" } };
  const spec = {
    ...baseSpec(`Hypervolume of ${study.name}`),
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [
      { mark: { type: "line", interpolate: "step-after", color: "#4c78a8", strokeWidth: 1.5 }, encoding: { x, y: { field: "hv", type: "quantitative", title: "hypervolume" } } },
      { mark: { type: "point", filled: true, size: 30, color: "#4c78a8" }, encoding: { x, y: { field: "hv", type: "quantitative" }, tooltip: [{ field: "trial" }, { field: "hv" }] } },
    ],
  };
  const caption =
    `Hypervolume of '${study.name}' (${study.directions.join(", ")}) after each trial that enlarged the front (${history.length} of ${done.length} complete trials), ` +
    `at the ${ref.source} reference point [${ref.point.map((x) => Number(x.toPrecision(6))).join(", ")}]` +
    (ref.source === "derived" ? " (derived from today's front, so earlier levels are measured against it too)." : ".");
  return { spec, caption };
}
