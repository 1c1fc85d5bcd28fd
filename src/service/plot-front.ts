/**
 * Plots of multi-objective studies, after Optuna's `plot_pareto_front` and
 * `plot_hypervolume_history`: the trials in objective space with the Pareto front, dominated
 * and infeasible trials told apart, and the hypervolume after each trial. Two objectives get
 * one scatter with the front's step line; three or more get a scatter matrix of every pair of
 * the first four objectives (Vega-Lite has no 3-D marks; Optuna draws a 3-D scatter, which a
 * static PNG shows from one angle only), the caption saying which. Pure functions
 * returning Vega-Lite specs (see plots.ts for rendering); the front, feasibility and hypervolume
 * are domain/objectives.ts's.
 */
import { plural } from "../domain/format.js";
import { invalidArgument } from "../domain/errors.js";
import { boundedHypervolumeHistory, paretoFront, referencePointOf } from "../domain/objectives.js";
import { HEIGHT, type PlotOptions, type PlotSpec, WIDTH, baseSpec, drawableScale } from "./plot-scales.js";
import type { StudyView, TrialView } from "./views.js";
import { maxOf } from "../math/extremes.js";

const KINDS = ["Pareto front", "dominated", "infeasible"] as const;
const COLOURS: Record<(typeof KINDS)[number], string> = { "Pareto front": "#e45756", dominated: "#4c78a8", infeasible: "#bab0ac" };

/** COMPLETE trials with a value per objective. */
function withValues(study: StudyView, trials: readonly TrialView[]): TrialView[] {
  return trials.filter((t) => t.state === "COMPLETE" && t.values !== null && t.values.length === study.directions.length);
}

/** Objectives a scatter matrix shows (the first ones): more would shrink each cell below use. */
export const MATRIX_OBJECTIVES = 4;

/**
 * An objective axis: Vega's own (not from zero, nice), except over a span of subnormal doubles
 * (objectives told 0, ±5e-324, 1e-323), where Vega's tick code threw and `pareto_front` failed
 * INTERNAL (hostile sweep seed 35 case 65); that span is widened as `drawableScale` widens one.
 */
function objectiveScale(values: readonly number[]): Record<string, unknown> {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  if (lo > hi) return { zero: false, nice: true };
  const drawn = drawableScale(lo, hi);
  return drawn.domain[0] === lo && drawn.domain[1] === hi ? { zero: false, nice: true } : { zero: false, nice: false, domain: drawn.domain };
}

/**
 * The trials of a study with two or more objectives, coloured front / dominated / infeasible:
 * two objectives in one plane with the front joined by a step line; three or more as a scatter
 * matrix of the first MATRIX_OBJECTIVES (`matrixSpec`). @throws INVALID_ARGUMENT for a
 * one-objective study, or before any trial completed.
 */
export function paretoFrontSpec(study: StudyView, trials: readonly TrialView[], opts: Pick<PlotOptions, "sampled"> = {}): PlotSpec {
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
  if (m > 2) return withNote(matrixSpec(study, done, front), opts);
  const present = KINDS.filter((k) => rows.some((r) => r.kind === k));
  const axis = (i: number) => ({ field: `v${i}`, type: "quantitative", title: `objective ${i} (${study.directions[i]})`, scale: objectiveScale(rows.map((r) => r[i === 0 ? "v0" : "v1"] as number)) });
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
    `Pareto front of '${study.name}' (${study.directions.join(", ")}): ${front.size} of ${plural(rows.length, "complete trial")} ${front.size === 1 ? "is" : "are"} on the front (red), ` +
    `${rows.length - front.size - nInfeasible} dominated (blue), ${nInfeasible} infeasible (grey: a constraint c > 0).`;
  return withNote({ spec, caption }, opts);
}

/** The caption with the sample's note (plot-sample.ts) when the trials were sampled. */
function withNote(p: PlotSpec, opts: Pick<PlotOptions, "sampled">): PlotSpec {
  return opts.sampled?.note ? { ...p, caption: p.caption + opts.sampled.note } : p;
}

/**
 * Scatter matrix of a study with three or more objectives: one cell per ordered pair of the
 * first MATRIX_OBJECTIVES objectives (the diagonal plots an objective against itself), the
 * front computed in all objectives.
 */
function matrixSpec(study: StudyView, done: readonly TrialView[], front: ReadonlySet<number>): PlotSpec {
  const m = study.directions.length;
  const k = Math.min(m, MATRIX_OBJECTIVES);
  const names = Array.from({ length: k }, (_, i) => `objective ${i} (${study.directions[i]})`);
  const rows = done.map((t) => {
    const row: Record<string, unknown> = { trial: t.number, kind: t.feasible === false ? "infeasible" : front.has(t.number) ? "Pareto front" : "dominated" };
    names.forEach((name, i) => (row[name] = (t.values as number[])[i]));
    return row;
  });
  const present = KINDS.filter((kd) => rows.some((r) => r.kind === kd));
  const cell = Math.floor(Math.min(WIDTH, 900) / k);
  // One cell per pair, each axis with its objective's own scale: a `repeat` shares one scale
  // definition across its cells, and Vega's ticks threw on an objective whose values spanned only
  // subnormal doubles (told 5e-324 .. 2e-323), so a study with 3+ such objectives failed to plot.
  const scales = names.map((name) => objectiveScale(rows.map((r) => r[name] as number)));
  const cellSpec = (row: number, column: number) => ({
    width: cell,
    height: cell,
    mark: { type: "point", filled: true, size: 30, opacity: 0.8 },
    encoding: {
      x: { field: names[column], type: "quantitative", scale: scales[column] },
      y: { field: names[row], type: "quantitative", scale: scales[row] },
      color: { field: "kind", type: "nominal", title: "trial", scale: { domain: present, range: present.map((kd) => COLOURS[kd]) } },
      tooltip: [{ field: "trial" }, ...names.map((field) => ({ field })), { field: "kind" }],
    },
  });
  const spec = {
    ...baseSpec(`Pareto front of ${study.name}`),
    data: { values: rows },
    vconcat: names.map((_, row) => ({ hconcat: names.map((_, column) => cellSpec(row, column)) })),
  };
  const nFront = rows.filter((r) => r.kind === "Pareto front").length;
  const nInfeasible = rows.filter((r) => r.kind === "infeasible").length;
  const caption =
    `Pareto front of '${study.name}' (${study.directions.join(", ")}) as a scatter matrix of every pair of ` +
    (k < m ? `objectives 0 to ${k - 1} (of ${m})` : `its ${m} objectives`) +
    `: ${nFront} of ${plural(rows.length, "complete trial")} ${nFront === 1 ? "is" : "are"} on the front in all ${m} objectives (red), ${rows.length - nFront - nInfeasible} dominated (blue), ` +
    `${nInfeasible} infeasible (grey: a constraint c > 0). Each cell is a 2-D projection, so front trials may look dominated in it.`;
  return { spec, caption };
}

/**
 * The hypervolume of the front after each COMPLETE feasible trial that changed it, at one
 * reference point (the study's, else derived from today's front). @throws INVALID_ARGUMENT
 * before any feasible trial completed.
 */
export function hypervolumeHistorySpec(study: StudyView, trials: readonly TrialView[], opts: Pick<PlotOptions, "sampled"> = {}): PlotSpec {
  const done = withValues(study, trials);
  const ref = referencePointOf(study.directions, paretoFront(study.directions, done), study.reference_point);
  if (ref === null) throw invalidArgument(`study '${study.name}' has no feasible COMPLETE trial yet: no hypervolume to plot`);
  const { points: history, exact } = boundedHypervolumeHistory(study.directions, done, ref.point);
  const last = done.length > 0 ? maxOf(done.map((t) => t.number)) : 0;
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
    `Hypervolume of '${study.name}' (${study.directions.join(", ")}) after each trial that enlarged the front (${history.length} of ${plural(opts.sampled?.counts?.COMPLETE ?? done.length, "complete trial")}), ` +
    `at the ${ref.source} reference point [${ref.point.map((x) => Number(x.toPrecision(6))).join(", ")}]` +
    (ref.source === "derived" ? " (derived from today's front, so earlier levels are measured against it too)." : ".") +
    (exact ? "" : " With this many objectives the levels are Monte Carlo estimates (about 1 %), not exact.");
  return { spec, caption };
}
