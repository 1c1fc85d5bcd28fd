/**
 * Plots of trials over time: the optimization history and the intermediate values (learning
 * curves), after Optuna's `plot_optimization_history` and `plot_intermediate_values`.
 * Pure functions returning Vega-Lite specs (see plots.ts for rendering).
 *
 * Both use a robust value range (plot-scales.ts): a couple of diverged runs do not squash the
 * band where the study is working; values beyond it are drawn on its edge and counted in the
 * caption. Every finished trial appears in the history (pruned at its last reported value,
 * failed ones as ticks along the bottom), and a study with too many curves is sampled, never
 * cut silently.
 */
import { plural } from "../domain/format.js";
import { invalidArgument } from "../domain/errors.js";
import type { TrialState } from "../domain/trial.js";
import {
  HEIGHT,
  type PlotOptions,
  type PlotSpec,
  type ValueRange,
  WIDTH,
  baseSpec,
  clampTo,
  drawableScale,
  drawnValue,
  robustRange,
  sampleNote,
  sampleTrials,
} from "./plot-scales.js";
import type { StudyView, TrialView } from "./views.js";
import { maxOf } from "../math/extremes.js";

/**
 * Most trials drawn as points in the history; more are sampled (best and evenly spaced, every
 * new best kept). 2,000 rather than 5,000: at the chart's 1,200 px the cloud looks the same, and
 * the PNG renders in ~130 rather than ~230 ms and the browser's spec is 2.5x smaller (issue 19).
 */
export const MAX_HISTORY_POINTS = 2000;
/** Most curves drawn by the intermediate-values plot; more are sampled (best and evenly spaced). */
export const MAX_CURVES = 200;
/** Most points drawn per curve; longer curves are thinned evenly (first and last kept). */
export const MAX_POINTS_PER_CURVE = 300;
/** Point markers are drawn on curves only while the plot has at most this many points. */
const MAX_MARKED_POINTS = 2000;

const SERIES = ["complete", "complete (enqueued)", "pruned", "failed"] as const;
const SERIES_COLOURS: Record<(typeof SERIES)[number], string> = {
  complete: "#4c78a8",
  "complete (enqueued)": "#f58518",
  pruned: "#9d9d9d",
  failed: "#e45756",
};
const STATE_ORDER = ["COMPLETE", "PRUNED", "RUNNING", "FAIL", "WAITING"] as const;
const STATE_COLOURS: Record<string, string> = { COMPLETE: "#4c78a8", PRUNED: "#9d9d9d", RUNNING: "#54a24b", FAIL: "#e45756", WAITING: "#b279a2" };
const BEYOND = "off the scale (at edge)";

function yScale(range: ValueRange, log: boolean) {
  return { type: log ? "log" : "linear", domain: [range.lo, range.hi], nice: false, clamp: true };
}

function checkPositive(values: readonly number[], what: string): void {
  const bad = values.filter((v) => !(v > 0)).length;
  if (bad > 0) throw invalidArgument(`log_y needs positive ${what}: ${bad} of ${values.length} are zero or negative; plot without log_y`);
}

function outsideNote(r: ValueRange, what: string): string {
  return r.outside > 0 ? ` ${r.outside} ${what} beyond the y-range (Tukey's outer fences) are drawn on its edge${what === "trials" ? " as triangles" : ""}.` : "";
}

/**
 * Objective by trial number for every finished trial, with the best-so-far line over COMPLETE
 * ones. @throws INVALID_ARGUMENT when no trial has finished, or with `logY` and a value ≤ 0.
 */
export function historySpec(study: StudyView, trials: readonly TrialView[], opts: PlotOptions = {}): PlotSpec {
  const log = opts.logY === true;
  const finished = trials.filter((t) => t.state === "COMPLETE" || t.state === "PRUNED" || t.state === "FAIL").sort((a, b) => a.number - b.number);
  if (finished.length === 0) throw invalidArgument(`study '${study.name}' has no finished trial to plot yet; wait for results first`);
  const seriesOf = (t: TrialView): (typeof SERIES)[number] =>
    t.state === "FAIL" ? "failed" : t.state === "PRUNED" ? "pruned" : t.system_attrs.enqueued === true ? "complete (enqueued)" : "complete";
  const valued = finished.filter((t) => t.state !== "FAIL" && drawnValue(t) !== null);
  const values = valued.map((t) => drawnValue(t) as number);
  if (log) checkPositive(values, "objective values");
  let best: number | null = null;
  const bestAt: { trial: number; best: number }[] = [];
  for (const t of finished) {
    if (t.state !== "COMPLETE" || typeof t.value !== "number" || !Number.isFinite(t.value)) continue;
    if (best === null || (study.direction === "minimize" ? t.value < best : t.value > best)) best = t.value;
    bestAt.push({ trial: t.number, best });
  }
  const range = robustRange(values, { log, keep: best === null ? [] : [best] });
  const sample = sampleTrials(finished, MAX_HISTORY_POINTS, study.direction);
  const rows: Record<string, unknown>[] = [];
  for (const t of sample.trials) {
    const v = t.state === "FAIL" ? null : drawnValue(t);
    if (v === null) rows.push({ layer: "rug", trial: t.number, series: seriesOf(t), state: t.state });
    else {
      const outside = v < range.lo || v > range.hi;
      rows.push({ layer: "point", trial: t.number, value: v, y: clampTo(range, v), series: seriesOf(t), state: t.state, position: outside ? BEYOND : "in range" });
    }
  }
  // The line needs only the trials where the best changed, and the last one.
  bestAt.forEach((b, i) => {
    if (i === 0 || i === bestAt.length - 1 || b.best !== (bestAt[i - 1] as { best: number }).best)
      rows.push({ layer: "best", trial: b.trial, best: b.best, y: clampTo(range, b.best) });
  });
  const present = SERIES.filter((s) => rows.some((r) => r.series === s));
  const colour = { field: "series", type: "nominal", title: "trial", scale: { domain: present, range: present.map((s) => SERIES_COLOURS[s]) } };
  const x = { field: "trial", type: "quantitative", title: "trial number", axis: { tickMinStep: 1, format: "d" }, scale: { nice: false, padding: 8 } };
  const counts = (s: TrialState) => opts.sampled?.counts?.[s] ?? finished.filter((t) => t.state === s).length;
  const nRug = rows.filter((r) => r.layer === "rug").length;
  const pointLayer: Record<string, unknown> = {
    transform: [{ filter: "datum.layer === 'point'" }],
    mark: { type: "point", filled: true, size: 40, opacity: 0.85 },
    encoding: {
      x,
      y: { field: "y", type: "quantitative", title: `objective (${study.direction})`, scale: yScale(range, log) },
      color: colour,
      ...(range.outside > 0
        ? { shape: { field: "position", type: "nominal", title: "value", scale: { domain: ["in range", BEYOND], range: ["circle", "triangle-up"] } } }
        : {}),
      tooltip: [{ field: "trial" }, { field: "value" }, { field: "state" }],
    },
  };
  const layer: Record<string, unknown>[] = [pointLayer];
  if (bestAt.length > 0)
    layer.push({
      transform: [{ filter: "datum.layer === 'best'" }],
      mark: { type: "line", interpolate: "step-after", color: "#333333", strokeWidth: 1.5 },
      encoding: { x, y: { field: "y", type: "quantitative" } },
    });
  if (nRug > 0)
    layer.push({
      transform: [{ filter: "datum.layer === 'rug'" }],
      mark: { type: "tick", orient: "vertical", thickness: 2, size: 14 },
      encoding: { x, y: { value: HEIGHT - 7 }, color: colour },
    });
  const caption =
    `Optimization history of '${study.name}': ${plural(counts("COMPLETE"), "complete trial")} (dots; orange = enqueued proposals), ` +
    `${counts("PRUNED")} pruned (grey, at their value or last report) and ${counts("FAIL")} failed` +
    `${nRug > 0 ? ` (${plural(nRug, "trial")} without a value as ticks along the bottom)` : ""}; the line is the best value so far` +
    `${log ? "; log-scale y" : ""}.${sampleNote(sample)}${opts.sampled?.note ?? ""}${outsideNote(range, "trials")}`;
  return {
    caption,
    spec: { ...baseSpec(`Optimization history — ${study.name}`), width: WIDTH, height: HEIGHT, data: { values: rows }, layer },
  };
}

/** At most `max` of `xs`, evenly spaced, the first and last kept. */
export function thin<T>(xs: readonly T[], max: number): T[] {
  if (xs.length <= max) return [...xs];
  return Array.from({ length: max }, (_, i) => xs[Math.round((i * (xs.length - 1)) / (max - 1))] as T);
}

/**
 * Learning curves: each trial's intermediate values by step, coloured by the trial's state.
 * @throws INVALID_ARGUMENT when no trial has reported, or with `logY` and a value ≤ 0.
 */
export function intermediateSpec(study: StudyView, trials: readonly TrialView[], opts: PlotOptions = {}): PlotSpec {
  const log = opts.logY === true;
  const withCurves = trials.filter((t) => t.intermediate.some(([, v]) => Number.isFinite(v)));
  if (withCurves.length === 0)
    throw invalidArgument(`study '${study.name}' has no intermediate values; they appear once trials report(value, step) during training`);
  const sample = sampleTrials(withCurves, MAX_CURVES, study.direction);
  let nonFinite = opts.curves?.nonFinite ?? 0;
  let thinned = opts.curves?.thinned ?? 0;
  const rows: { trial: number; step: number; value: number; y: number; state: string }[] = [];
  for (const t of sample.trials) {
    const finite = t.intermediate.filter(([, v]) => Number.isFinite(v));
    nonFinite += t.intermediate.length - finite.length;
    if (finite.length > MAX_POINTS_PER_CURVE) thinned++;
    for (const [step, value] of thin(finite, MAX_POINTS_PER_CURVE)) rows.push({ trial: t.number, step, value, y: value, state: t.state });
  }
  if (log) checkPositive(rows.map((r) => r.value), "intermediate values");
  const range = robustRange(rows.map((r) => r.value), { log });
  for (const r of rows) r.y = clampTo(range, r.value);
  const integerSteps = rows.every((r) => Number.isInteger(r.step));
  // Steps that all lie below ~1e-290 (a PBT perturbation_interval of 5e-324): vega's ticks threw on
  // the axis from 0 as they did on subnormal values, and the chart failed INTERNAL; drawn as one step.
  const lastStep = maxOf(rows.map((r) => r.step));
  const stepAxis = drawableScale(0, lastStep);
  const stepScale = lastStep > 0 && stepAxis.domain[1] !== lastStep ? { scale: stepAxis } : {};
  const present = STATE_ORDER.filter((s) => sample.trials.some((t) => t.state === s));
  const caption =
    `Learning curves of '${study.name}': intermediate values by step for ${plural(sample.trials.length, "trial")}; colour = the trial's state` +
    `${log ? "; log-scale y" : ""}.${sampleNote(sample)}${opts.sampled?.note ?? ""}` +
    `${thinned > 0 ? ` ${plural(thinned, "curve")} longer than ${MAX_POINTS_PER_CURVE} points ${thinned === 1 ? "is" : "are"} thinned evenly.` : ""}` +
    `${nonFinite > 0 ? ` ${nonFinite} non-finite values (NaN, ±Infinity) are not drawn.` : ""}${outsideNote(range, "values")}`;
  return {
    caption,
    spec: {
      ...baseSpec(`Intermediate values — ${study.name}`),
      width: WIDTH,
      height: HEIGHT,
      data: { values: rows },
      mark: { type: "line", opacity: 0.7, strokeWidth: 1.2, ...(rows.length <= MAX_MARKED_POINTS ? { point: { size: 14 } } : {}) },
      encoding: {
        x: { field: "step", type: "quantitative", title: "step", ...stepScale, ...(integerSteps ? { axis: { tickMinStep: 1, format: "d" } } : {}) },
        y: { field: "y", type: "quantitative", title: "intermediate value", scale: yScale(range, log) },
        detail: { field: "trial", type: "nominal" },
        color: { field: "state", type: "nominal", title: "state", scale: { domain: present, range: present.map((s) => STATE_COLOURS[s]) } },
      },
    },
  };
}

/** Most points of the EDF's step line; more values are thinned to evenly spaced ranks (ends kept). */
export const MAX_EDF_POINTS = 2000;

/**
 * Empirical distribution function of the objective over COMPLETE trials, after Optuna's
 * `plot_edf`: for each value v, the share of trials whose objective is ≤ v. A study whose curve
 * rises early (minimizing) found good values often. The x-range is robust (plot-scales.ts);
 * values beyond it are counted in the caption, and the curve is drawn from every value.
 * @throws INVALID_ARGUMENT when no trial completed with a finite value, or with `logY` and a value ≤ 0.
 */
export function edfSpec(study: StudyView, trials: readonly TrialView[], opts: PlotOptions = {}): PlotSpec {
  const log = opts.logY === true;
  const values = trials
    .filter((t) => t.state === "COMPLETE" && typeof t.value === "number" && Number.isFinite(t.value))
    .map((t) => t.value as number)
    .sort((a, b) => a - b);
  if (values.length === 0) throw invalidArgument(`study '${study.name}' has no complete trial with a finite value to plot yet`);
  if (log) checkPositive(values, "objective values");
  const range = robustRange(values, { log });
  const n = values.length;
  const ranks = thin(values.map((_, i) => i), MAX_EDF_POINTS);
  const rows = ranks.map((i) => ({ value: values[i] as number, x: clampTo(range, values[i] as number), share: (i + 1) / n }));
  const caption =
    `Empirical distribution of the objective of '${study.name}' over ${plural(n, "complete trial")}: the share of trials with an objective ` +
    `at most x (${study.direction === "minimize" ? "the earlier the curve rises, the more trials found low values" : "the later the curve rises, the more trials found high values"})` +
    `${log ? "; log-scale x" : ""}.${rows.length < n ? ` The step line passes through ${rows.length} of the ${n} values, evenly spaced by rank.` : ""}` +
    `${outsideNote(range, "trials")}`;
  return {
    caption,
    spec: {
      ...baseSpec(`Empirical distribution (EDF) — ${study.name}`),
      width: WIDTH,
      height: HEIGHT,
      data: { values: rows },
      mark: { type: "line", interpolate: "step-after", color: "#4c78a8", strokeWidth: 1.5 },
      encoding: {
        x: { field: "x", type: "quantitative", title: `objective (${study.direction})`, scale: yScale(range, log) },
        y: { field: "share", type: "quantitative", title: "share of trials ≤ x", scale: { domain: [0, 1] }, axis: { format: "%" } },
        tooltip: [{ field: "value", title: "objective" }, { field: "share", format: ".1%" }],
      },
    },
  };
}
