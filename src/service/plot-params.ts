/**
 * Plots of parameters against the objective, after Optuna's `plot_param_importances`,
 * `plot_parallel_coordinate`, `plot_slice` and `plot_contour`. Pure functions returning
 * Vega-Lite specs (see plots.ts for rendering).
 *
 * - Which parameters: the caller's `params`, else the most important ones (importance.ts), so
 *   a study with 30 parameters still gives a readable chart; the caption says what was left out.
 * - Axes show real values: numeric parameters on their own scale (log when the distribution is
 *   log), categorical ones with one labelled position per choice.
 * - A parameter a trial did not use (define-by-run, conditional spaces) is absent, never 0.
 * - Objective colours use viridis, reversed when maximizing, so darker is better either way.
 *
 * The contour plot estimates the objective on a grid over two parameters by Nadaraya–Watson
 * kernel regression (E. A. Nadaraya, 1964; G. S. Watson, 1964) with a Gaussian product kernel
 * on the unit-scaled numeric axes and an exact-match kernel on categorical ones. Bandwidth per
 * numeric axis: Scott's rule for two dimensions, h = σ · n^(−1/6) (D. W. Scott, *Multivariate
 * Density Estimation*, 1992, eq. 6.42), with σ the standard deviation of the trials' unit
 * positions, floored at 0.05 so that clustered late trials do not give a needle kernel.
 * Optuna interpolates linearly between trials instead; a kernel estimate needs no
 * triangulation and does not extrapolate: cells more than two bandwidths from every trial
 * are left blank.
 */
import { plural } from "../domain/format.js";
import type { Distribution, ParamValue } from "../domain/distributions.js";
import { choiceIndex } from "../domain/distributions.js";
import { invalidArgument } from "../domain/errors.js";
import { type Importances, paramImportances } from "./importance.js";
import {
  HEIGHT,
  type PlotOptions,
  type PlotSpec,
  type ValueRange,
  type VlSpec,
  WIDTH,
  baseSpec,
  clampTo,
  drawableScale,
  logTicks,
  niceTicks,
  robustRange,
  sampleNote,
  sampleTrials,
  shortNumber,
  truncate,
} from "./plot-scales.js";
import type { StudyView, TrialView } from "./views.js";
import { maxOf, minOf } from "../math/extremes.js";

/** Most lines in parallel coordinates and most points in a slice plot; more are sampled. */
export const MAX_LINES = 200;
export const MAX_SLICE_POINTS = 2000;
/** Parameters drawn when the caller names none: the most important ones. */
export const DEFAULT_PARAMS = { parallel_coordinates: 8, slice: 6, contour: 2 } as const;
/** Most parameters a caller may name. */
export const MAX_PARAMS = { parallel_coordinates: 16, slice: 12, contour: 4 } as const;
/** Grid cells per numeric axis of a contour panel. */
export const CONTOUR_CELLS = 32;
/** Cells whose nearest trial is farther than this many bandwidths are blank. */
const CONTOUR_REACH = 2;
const MAX_CHOICE_LABELS = 12;

type ParamPlot = keyof typeof DEFAULT_PARAMS;

/** One parameter's axis: where a value sits in [0, 1] and the labelled ticks. */
export interface ParamAxis {
  readonly name: string;
  readonly dist: Distribution;
  /** Position in [0, 1], or null when the value is not one the axis can place. */
  pos(v: ParamValue | undefined): number | null;
  /** Inverse of `pos` for numeric axes (grid cells). */
  at(u: number): number;
  readonly ticks: { u: number; label: string }[];
}

/** The axis of a parameter: numeric on its (log) range, categorical with one slot per choice. */
export function paramAxis(name: string, dist: Distribution): ParamAxis {
  if (dist.type === "categorical") {
    const k = dist.choices.length;
    const every = Math.ceil(k / MAX_CHOICE_LABELS);
    return {
      name,
      dist,
      pos: (v) => {
        const i = v === undefined ? -1 : choiceIndex(dist, v);
        return i < 0 ? null : (i + 0.5) / k;
      },
      at: (u) => u,
      ticks: dist.choices.flatMap((c, i) => (i % every === 0 ? [{ u: (i + 0.5) / k, label: truncate(String(c), 14) }] : [])),
    };
  }
  const log = dist.log === true && dist.low > 0;
  const f = (v: number) => (log ? Math.log(v) : v);
  const lo = f(dist.low);
  const hi = f(dist.high);
  const pos = (v: ParamValue | undefined) => {
    if (typeof v !== "number" || !Number.isFinite(v) || (log && v <= 0)) return null;
    return hi > lo ? Math.min(1, Math.max(0, (f(v) - lo) / (hi - lo))) : 0.5;
  };
  const at = (u: number) => (log ? Math.exp(lo + u * (hi - lo)) : lo + u * (hi - lo));
  const ticks = hi > lo ? axisTicks(dist.low, dist.high, log, dist.type === "int", (v) => pos(v) as number) : [{ u: 0.5, label: shortNumber(dist.low) }];
  return { name, dist, pos, at, ticks };
}

/** Labelled ticks of a numeric axis from `lo` to `hi`: both ends and the nice values between them that are not too close to an end. */
function axisTicks(lo: number, hi: number, log: boolean, integer: boolean, pos: (v: number) => number): { u: number; label: string }[] {
  const interior = (log ? logTicks(lo, hi) : niceTicks(lo, hi, 5, integer)).filter((v) => pos(v) > 0.07 && pos(v) < 0.93);
  return [lo, ...interior, hi].map((v) => ({ u: pos(v), label: shortNumber(v) }));
}

function completeTrials(study: StudyView, trials: readonly TrialView[]): TrialView[] {
  const done = trials.filter((t) => t.state === "COMPLETE" && typeof t.value === "number" && Number.isFinite(t.value));
  if (done.length === 0) throw invalidArgument(`study '${study.name}' has no COMPLETE trial to plot yet; wait for results first`);
  return done;
}

/** Every parameter seen, declared ones first, each with its distribution. */
function knownParams(study: StudyView, trials: readonly TrialView[]): Map<string, Distribution> {
  const out = new Map<string, Distribution>(Object.entries(study.space));
  for (const t of trials) for (const [k, d] of Object.entries(t.distributions)) if (!out.has(k)) out.set(k, d);
  return out;
}

/**
 * The parameters to draw: the caller's (checked), else the `DEFAULT_PARAMS[kind]` most
 * important ones, with a caption note when some were left out. @throws INVALID_ARGUMENT.
 */
export function chooseParams(
  kind: ParamPlot,
  study: StudyView,
  trials: readonly TrialView[],
  opts: PlotOptions,
  importances: Importances = paramImportances(trials),
): { axes: ParamAxis[]; note: string } {
  const known = knownParams(study, trials);
  if (known.size === 0) throw invalidArgument(`study '${study.name}' has no parameters to plot`);
  if (opts.params && opts.params.length > 0) {
    const names = [...new Set(opts.params)];
    const unknown = names.filter((n) => !known.has(n));
    if (unknown.length > 0) throw invalidArgument(`unknown parameter(s) ${unknown.join(", ")}; the study has ${[...known.keys()].join(", ")}`);
    if (names.length > MAX_PARAMS[kind]) throw invalidArgument(`${kind} draws at most ${MAX_PARAMS[kind]} parameters (got ${names.length})`);
    if (kind === "contour" && names.length < 2) throw invalidArgument("contour needs at least two parameters");
    return { axes: names.map((n) => paramAxis(n, known.get(n) as Distribution)), note: "" };
  }
  const ranked = importances.importances.map((i) => i.param).filter((p) => known.has(p));
  const order = [...ranked, ...[...known.keys()].filter((k) => !ranked.includes(k))];
  const k = DEFAULT_PARAMS[kind];
  if (kind === "contour" && order.length < 2) throw invalidArgument(`contour needs two parameters; study '${study.name}' has one`);
  const names = order.slice(0, k);
  const why = ranked.length > 0 ? "most important" : "first";
  const note = order.length > k ? ` Drawn: the ${k} ${why} of ${order.length} parameters (choose others with params).` : "";
  return { axes: names.map((n) => paramAxis(n, known.get(n) as Distribution)), note };
}

function objectiveColour(study: StudyView, range: ValueRange, log: boolean, title = "objective") {
  return {
    field: "value",
    type: "quantitative",
    title,
    scale: { scheme: "viridis", reverse: study.direction === "maximize", domain: [range.lo, range.hi], clamp: true, type: log ? "log" : "linear" },
  };
}

function bestValue(study: StudyView, values: readonly number[]): number {
  return study.direction === "minimize" ? minOf(values) : maxOf(values);
}

function checkLog(log: boolean, values: readonly number[]): void {
  const bad = values.filter((v) => !(v > 0)).length;
  if (log && bad > 0) throw invalidArgument(`log_y needs positive objective values: ${bad} of ${values.length} are zero or negative; plot without log_y`);
}

/**
 * Importances from fewer complete trials than this are flagged in the title and caption: with a
 * handful of trials per bin the variance shares swing from one trial to the next (our choice, not
 * a published threshold; importance.ts needs at least MIN_TRIALS to compute any).
 */
export const FEW_IMPORTANCE_TRIALS = 30;

/**
 * Most bars of the importances chart: the most important parameters, the rest named in the caption
 * (a study of 20,000 parameters overflowed the renderer's stack, and its bars were unreadable).
 */
export const MAX_IMPORTANCE_BARS = 40;

/** Bar chart of parameter importances, flagged when they rest on few trials. @throws INVALID_ARGUMENT while there are too few trials. */
export function importancesSpec(study: StudyView, trials: readonly TrialView[], imp: Importances = paramImportances(trials)): PlotSpec {
  if (imp.importances.length === 0) throw invalidArgument(`no importances for '${study.name}' yet: ${imp.note ?? "not enough complete trials"}`);
  const shown = imp.importances.slice(0, MAX_IMPORTANCE_BARS); // most important first (importance.ts)
  const rows = shown.map((i) => ({ param: truncate(i.param, 40), importance: i.importance }));
  const order = rows.map((r) => r.param);
  const few = imp.n_trials < FEW_IMPORTANCE_TRIALS;
  const flag = few ? ` Few trials (under ${FEW_IMPORTANCE_TRIALS}): these shares are unstable and may change much as the study grows.` : "";
  const cut = shown.length < imp.importances.length ? ` The ${shown.length} most important of ${imp.importances.length} parameters are shown.` : "";
  return {
    caption: `Parameter importances of '${study.name}' from ${plural(imp.n_trials, "complete trial")} (${imp.method}).${cut}${flag}`,
    spec: {
      ...baseSpec(`Parameter importances — ${study.name}${few ? ` (only ${plural(imp.n_trials, "trial")})` : ""}`),
      width: WIDTH,
      height: Math.min(640, Math.max(80, 24 * rows.length)),
      data: { values: rows },
      layer: [
        {
          mark: { type: "bar", color: "#4c78a8" },
          encoding: {
            y: { field: "param", type: "nominal", sort: order, title: null, axis: { labelLimit: 220 } },
            x: { field: "importance", type: "quantitative", title: "share of explained variance", axis: { format: ".0%" }, scale: { domain: [0, 1] } },
          },
        },
        {
          mark: { type: "text", align: "left", dx: 4 },
          encoding: { y: { field: "param", type: "nominal", sort: order }, x: { field: "importance", type: "quantitative" }, text: { field: "importance", type: "quantitative", format: ".0%" } },
        },
      ],
    },
  };
}

/**
 * Parallel coordinates: one vertical axis per parameter (real values as tick labels) and one
 * for the objective; each trial is a polyline coloured by its objective. A trial that did not
 * use a parameter skips that axis with a dashed segment. @throws INVALID_ARGUMENT.
 */
export function parallelSpec(study: StudyView, trials: readonly TrialView[], opts: PlotOptions = {}): PlotSpec {
  const log = opts.logY === true;
  const done = completeTrials(study, trials);
  const { axes, note } = chooseParams("parallel_coordinates", study, trials, opts, opts.importances);
  const sample = sampleTrials(done, MAX_LINES, study.direction);
  const values = sample.trials.map((t) => t.value as number);
  checkLog(log, values);
  const range = robustRange(values, { log, keep: [bestValue(study, values)] });
  const f = (v: number) => (log ? Math.log10(v) : v);
  const objPos = (v: number) => Math.min(1, Math.max(0, (f(clampTo(range, v)) - f(range.lo)) / (f(range.hi) - f(range.lo))));
  const objTicks = axisTicks(range.lo, range.hi, log, false, objPos);
  const n = axes.length;
  const rows: Record<string, unknown>[] = [];
  let absent = 0;
  for (const t of sample.trials) {
    const pts = [...axes.map((a, i) => [i, a.pos(t.params[a.name])] as const), [n, objPos(t.value as number)] as const].filter(
      (p): p is readonly [number, number] => p[1] !== null,
    );
    absent += n + 1 - pts.length;
    for (let k = 1; k < pts.length; k++) {
      const [x, y] = pts[k - 1] as readonly [number, number];
      const [x2, y2] = pts[k] as readonly [number, number];
      rows.push({ layer: "line", trial: t.number, x, x2, y, y2, value: t.value, gap: x2 - x > 1 ? "skips an unused parameter" : "adjacent" });
    }
  }
  const allAxes = [...axes.map((a) => ({ title: a.name, ticks: a.ticks })), { title: `objective${log ? " (log)" : ""}`, ticks: objTicks }];
  allAxes.forEach((a, i) => {
    rows.push({ layer: "axis", x: i, title: truncate(a.title, 18) });
    for (const tk of a.ticks) rows.push({ layer: "tick", x: i, y: tk.u, label: tk.label });
  });
  const width = Math.min(1040, Math.max(420, 120 * n + 80));
  const x = { field: "x", type: "quantitative", axis: null, title: null, scale: { domain: [-0.08, n + 0.5], nice: false, zero: false } };
  const y = { field: "y", type: "quantitative", axis: null, title: null, scale: { domain: [0, 1], nice: false } };
  const caption =
    `Parallel coordinates of '${study.name}': ${plural(sample.trials.length, "complete trial")}, each a line across ${plural(n, "parameter")} and the objective ` +
    `(axes labelled with real values; categorical parameters one slot per choice); colour = objective, darker is better.` +
    `${note}${sampleNote(sample)}${opts.sampled?.note ?? ""}${absent > 0 ? ` Dashed segments skip a parameter the trial did not use (${plural(absent, "absent value")}).` : ""}` +
    `${range.outside > 0 ? ` ${plural(range.outside, "objective value")} beyond the range (Tukey's outer fences) ${range.outside === 1 ? "sits" : "sit"} at the axis ends.` : ""}`;
  return {
    caption,
    spec: {
      ...baseSpec(`Parallel coordinates — ${study.name}`),
      width,
      height: HEIGHT + 40,
      data: { values: rows },
      layer: [
        // Two layers, solid and dashed, rather than a strokeDash encoding: that gave every solid
        // segment a dash array of "1,0", which resvg draws dash by dash (200 lines: 200 -> 100 ms).
        // Only the layers that have segments: an empty mark container fails axe's svg-img-alt in the browser.
        ...(["adjacent", "skips an unused parameter"] as const).filter((gap) => rows.some((r) => r.gap === gap)).map((gap) => ({
          transform: [{ filter: `datum.layer === 'line' && datum.gap === '${gap}'` }],
          // strokeOpacity, not opacity: the same look for a line, but resvg renders an element with
          // opacity through a layer of its own (1,200 layers for 200 lines: ~1.7x slower here).
          mark: { type: "rule", strokeOpacity: 0.55, strokeWidth: 1.2, ...(gap === "adjacent" ? {} : { strokeDash: [4, 3] }) },
          encoding: {
            x,
            x2: { field: "x2" },
            y,
            y2: { field: "y2" },
            color: objectiveColour(study, range, log),
            detail: { field: "trial", type: "nominal" },
          },
        })),
        { transform: [{ filter: "datum.layer === 'axis'" }], mark: { type: "rule", color: "#555" }, encoding: { x, y: { datum: 0, type: "quantitative", axis: null, title: null }, y2: { datum: 1 } } },
        {
          transform: [{ filter: "datum.layer === 'axis'" }],
          mark: { type: "text", fontWeight: "bold", fontSize: 11, baseline: "bottom" },
          encoding: { x, y: { value: -8 }, text: { field: "title" } },
        },
        { transform: [{ filter: "datum.layer === 'tick'" }], mark: { type: "tick", orient: "horizontal", size: 7, color: "#555" }, encoding: { x, y } },
        {
          transform: [{ filter: "datum.layer === 'tick'" }],
          mark: { type: "text", align: "left", dx: 6, fontSize: 10, color: "#222" },
          encoding: { x, y, text: { field: "label" } },
        },
      ],
    },
  };
}

function axisEncoding(a: ParamAxis, numericField: string, catField: string, extra: Record<string, unknown> = {}) {
  const d = a.dist;
  if (d.type === "categorical")
    // The domain alone orders the slots: a `sort` array became an expression of every choice, whose
    // parser recursed past the stack with 10,000 of them (the chart answered INTERNAL).
    return { field: catField, type: "ordinal", title: truncate(a.name, 30), scale: { domain: d.choices.map((c) => String(c)) }, axis: { labelLimit: 90 }, ...extra };
  return {
    field: numericField,
    type: "quantitative",
    title: truncate(a.name, 30),
    scale: { ...drawableScale(d.low, d.high, d.log === true), nice: false },
    ...(d.type === "int" ? { axis: { tickMinStep: 1, format: "d" } } : {}),
    ...extra,
  };
}

/**
 * One small scatter plot per parameter: objective against the parameter's value, coloured by
 * trial number (later trials darker). @throws INVALID_ARGUMENT.
 */
export function sliceSpec(study: StudyView, trials: readonly TrialView[], opts: PlotOptions = {}): PlotSpec {
  const log = opts.logY === true;
  const done = completeTrials(study, trials);
  const { axes, note } = chooseParams("slice", study, trials, opts, opts.importances);
  const sample = sampleTrials(done, MAX_SLICE_POINTS, study.direction);
  const values = sample.trials.map((t) => t.value as number);
  checkLog(log, values);
  const range = robustRange(values, { log, keep: [bestValue(study, values)] });
  const rows: Record<string, unknown>[] = [];
  for (const a of axes)
    for (const t of sample.trials) {
      const v = t.params[a.name];
      if (v === undefined || a.pos(v) === null) continue;
      rows.push({ param: a.name, trial: t.number, x: typeof v === "number" ? v : null, cat: String(v), value: t.value, y: clampTo(range, t.value as number) });
    }
  const columns = Math.min(3, axes.length);
  const panels: VlSpec[] = axes.map((a) => ({
    width: 240,
    height: 180,
    title: { text: truncate(a.name, 36), fontSize: 12 },
    transform: [{ filter: { field: "param", equal: a.name } }],
    mark: { type: "point", filled: true, size: 30, opacity: 0.8 },
    encoding: {
      x: axisEncoding(a, "x", "cat", { title: null }),
      y: { field: "y", type: "quantitative", title: "objective", scale: { type: log ? "log" : "linear", domain: [range.lo, range.hi], nice: false, clamp: true } },
      color: { field: "trial", type: "quantitative", title: "trial number", scale: { scheme: "blues" } },
    },
  }));
  const caption =
    `Slice plot of '${study.name}': the objective of ${plural(sample.trials.length, "complete trial")} against ${axes.length === 1 ? "its 1 parameter" : `each of ${axes.length} parameters`} ` +
    `(one panel each; a trial appears only in the panels of the parameters it used); colour = trial number.${note}${sampleNote(sample)}${opts.sampled?.note ?? ""}` +
    `${range.outside > 0 ? ` ${plural(range.outside, "value")} beyond the y-range (Tukey's outer fences) ${range.outside === 1 ? "is" : "are"} drawn on its edge.` : ""}`;
  return {
    caption,
    spec: { ...baseSpec(`Slice — ${study.name}`), data: { values: rows }, columns, concat: panels, resolve: { scale: { x: "independent", y: "shared", color: "shared" } } },
  };
}

function sd(xs: readonly number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
}

/** Grid cells of one axis: unit-space centres, and the real-value edges (numeric) or the label (categorical). */
function cells(a: ParamAxis): { u: number; lo: number | null; hi: number | null; cat: string | null }[] {
  if (a.dist.type === "categorical") return a.dist.choices.map((c, i, all) => ({ u: (i + 0.5) / all.length, lo: null, hi: null, cat: String(c) }));
  // Neighbouring cells overlap by a hair so that anti-aliasing leaves no seams between them.
  const edge = (u: number) => a.at(Math.min(1, Math.max(0, u)));
  return Array.from({ length: CONTOUR_CELLS }, (_, k) => ({
    u: (k + 0.5) / CONTOUR_CELLS,
    lo: edge(k / CONTOUR_CELLS - 0.002),
    hi: edge((k + 1) / CONTOUR_CELLS + 0.002),
    cat: null,
  }));
}

/**
 * Objective over pairs of parameters: a kernel-regression surface on a grid with the trials
 * on top, one panel per pair (the top two parameters unless `params` names 2–4). Cells far
 * from every trial are blank. @throws INVALID_ARGUMENT.
 */
export function contourSpec(study: StudyView, trials: readonly TrialView[], opts: PlotOptions = {}): PlotSpec {
  const log = opts.logY === true;
  const done = completeTrials(study, trials);
  const { axes, note } = chooseParams("contour", study, trials, opts, opts.importances);
  const sample = sampleTrials(done, MAX_SLICE_POINTS, study.direction);
  const values = sample.trials.map((t) => t.value as number);
  checkLog(log, values);
  const range = robustRange(values, { log, keep: [bestValue(study, values)] });
  const g = (v: number) => (log ? Math.log10(clampTo(range, v)) : clampTo(range, v));
  const gInv = (v: number) => (log ? 10 ** v : v);
  const rows: Record<string, unknown>[] = [];
  const panels: VlSpec[] = [];
  const skipped: string[] = [];
  for (let i = 0; i < axes.length; i++)
    for (let j = i + 1; j < axes.length; j++) {
      const ax = axes[i] as ParamAxis;
      const ay = axes[j] as ParamAxis;
      const pts = sample.trials
        .map((t) => ({ t, u: ax.pos(t.params[ax.name]), w: ay.pos(t.params[ay.name]) }))
        .filter((p): p is { t: TrialView; u: number; w: number } => p.u !== null && p.w !== null);
      const panel = `${ax.name} × ${ay.name}`;
      if (pts.length < 3) {
        skipped.push(panel);
        continue;
      }
      const bw = (a: ParamAxis, us: number[]) => (a.dist.type === "categorical" ? 0 : Math.max(0.05, sd(us)) * pts.length ** (-1 / 6));
      const hx = bw(ax, pts.map((p) => p.u));
      const hy = bw(ay, pts.map((p) => p.w));
      const kern = (h: number, a: number, b: number) => (h === 0 ? (Math.abs(a - b) < 1e-9 ? 1 : 0) : Math.exp(-0.5 * ((a - b) / h) ** 2));
      const reach = Math.exp(-0.5 * CONTOUR_REACH ** 2);
      // A categorical axis's kernel is an exact match, so only the choices some trial took can get
      // a cell: iterating all of them cost 10,000 × 10,000 cells × the trials for two categoricals
      // of 10,000 choices (over a minute on the server's thread), for the same rows.
      const taken = (a: ParamAxis, us: number[]) => (a.dist.type === "categorical" ? cells(a).filter((c) => us.some((u) => Math.abs(u - c.u) < 1e-9)) : cells(a));
      const cellsY = taken(ay, pts.map((p) => p.w));
      for (const cx of taken(ax, pts.map((p) => p.u)))
        for (const cy of cellsY) {
          let sw = 0;
          let swy = 0;
          let wmax = 0;
          for (const p of pts) {
            const w = kern(hx, cx.u, p.u) * kern(hy, cy.u, p.w);
            sw += w;
            swy += w * g(p.t.value as number);
            if (w > wmax) wmax = w;
          }
          if (wmax < reach || sw === 0) continue;
          rows.push({ panel, layer: "cell", x0: cx.lo, x1: cx.hi, xc: cx.cat, y0: cy.lo, y1: cy.hi, yc: cy.cat, value: gInv(swy / sw) });
        }
      for (const p of pts) {
        const vx = p.t.params[ax.name];
        const vy = p.t.params[ay.name];
        rows.push({ panel, layer: "point", trial: p.t.number, x: typeof vx === "number" ? vx : null, xc: String(vx), y: typeof vy === "number" ? vy : null, yc: String(vy), value: p.t.value });
      }
      const xEnc = (point: boolean) => axisEncoding(ax, point ? "x" : "x0", "xc");
      const yEnc = (point: boolean) => axisEncoding(ay, point ? "y" : "y0", "yc");
      panels.push({
        width: 300,
        height: 260,
        title: { text: truncate(panel, 48), fontSize: 12 },
        transform: [{ filter: { field: "panel", equal: panel } }],
        layer: [
          {
            transform: [{ filter: "datum.layer === 'cell'" }],
            mark: { type: "rect" },
            encoding: {
              x: xEnc(false),
              ...(ax.dist.type === "categorical" ? {} : { x2: { field: "x1" } }),
              y: yEnc(false),
              ...(ay.dist.type === "categorical" ? {} : { y2: { field: "y1" } }),
              color: objectiveColour(study, range, log, "objective (smoothed)"),
            },
          },
          {
            transform: [{ filter: "datum.layer === 'point'" }],
            mark: { type: "point", shape: "circle", size: 22, color: "#111", strokeWidth: 1, filled: false },
            encoding: { x: xEnc(true), y: yEnc(true) },
          },
        ],
      });
    }
  if (panels.length === 0) throw invalidArgument(`contour needs at least 3 complete trials that used both parameters; none of ${skipped.join(", ")} has them`);
  const caption =
    `Contour plot of '${study.name}': the objective over ${panels.length === 1 ? "two parameters" : `${panels.length} pairs of parameters`}, ` +
    `smoothed from ${plural(sample.trials.length, "complete trial")} by Gaussian-kernel regression (Scott's-rule bandwidth; blank cells are more than ` +
    `${CONTOUR_REACH} bandwidths from any trial); circles = trials; colour darker is better.${note}${sampleNote(sample)}${opts.sampled?.note ?? ""}` +
    `${skipped.length > 0 ? ` Not drawn (fewer than 3 trials used both): ${skipped.join(", ")}.` : ""}`;
  const spec: VlSpec =
    panels.length === 1
      ? { ...baseSpec(`Contour — ${study.name}`), data: { values: rows }, ...(panels[0] as VlSpec), title: { text: `Contour — ${study.name}`, anchor: "start", fontSize: 14 } }
      : { ...baseSpec(`Contour — ${study.name}`), data: { values: rows }, columns: Math.min(3, panels.length), concat: panels, resolve: { scale: { x: "independent", y: "independent", color: "shared" } } };
  return { caption, spec };
}
