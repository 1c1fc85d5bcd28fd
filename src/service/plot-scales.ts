/**
 * Pure helpers shared by the plot specs (`plot-trials.ts`, `plot-params.ts`): a robust value
 * range, tick positions and labels, and the choice of trials when there are too many to draw.
 *
 * Robust range: Tukey's outer fences (J. W. Tukey, *Exploratory Data Analysis*, 1977, ch. 2:
 * values beyond the hinges ± 3 H-spreads are "far out"), with the quartiles standing in for
 * the hinges. The axis spans the values inside the fences plus any value that must stay
 * visible (the best one), padded by 5%; far-out values are drawn on the edge and counted.
 * On a log axis the fences are computed on log10 of the values.
 */
import type { LineageGraph, TrajectoryEntry } from "../domain/plugin.js";
import type { Direction, TrialState } from "../domain/trial.js";
import type { Importances } from "./importance.js";
import type { TrialView } from "./views.js";
import { maxOf, minOf } from "../math/extremes.js";

/** A Vega-Lite spec (kept loose: vega-lite's own types would leak into every caller). */
export type VlSpec = Record<string, unknown>;

/** Options every plot kind understands (each ignores what does not apply to it). */
export interface PlotOptions {
  /** Parameters to draw (parallel coordinates, slice, contour), in this order. */
  readonly params?: readonly string[];
  /** Log-scale objective axis (history, intermediate values, slice; colour in contour and parallel coordinates). */
  readonly logY?: boolean;
  /**
   * What the study's strategy's read models say, for the plots that draw them (`lineage`,
   * `trajectories`; plot-read-models.ts): absent when the strategy records none. Plain data, so
   * it travels to the plot worker thread.
   */
  readonly readModels?: {
    readonly lineage?: LineageGraph;
    readonly trajectories?: readonly { readonly trial: number; readonly entries: readonly TrajectoryEntry[] }[];
  };
  /**
   * Set when the server drew from a bounded sample of a big study (plot-sample.ts): the caption's
   * sentence saying so and, for the history, the study's counts by state.
   */
  readonly sampled?: { readonly note: string; readonly counts?: Readonly<Record<TrialState, number>> };
  /**
   * Set when the server already dropped the non-finite intermediate values and thinned the curves
   * (plot-sample.ts): how many values it dropped and how many curves it thinned, for the caption.
   */
  readonly curves?: { readonly nonFinite: number; readonly thinned: number };
  /** The study's importances (default parameters, the importances chart), when the caller has them. */
  readonly importances?: Importances;
}

/** A chart as a Vega-Lite spec, with one paragraph saying what is drawn (also what was left out). */
export interface PlotSpec {
  readonly spec: VlSpec;
  readonly caption: string;
}

/** Default size of one chart's data rectangle, in CSS pixels (the PNG is rendered at up to 1.5x). */
export const WIDTH = 640;
export const HEIGHT = 320;
export const FONT = "DejaVu Sans";

/** The properties every spec starts with. */
export function baseSpec(title: string): VlSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    background: "white",
    padding: 8,
    title: { text: title, anchor: "start", fontSize: 14 },
    config: { font: FONT, view: { stroke: "#ddd" }, legend: { labelLimit: 260 } },
  };
}

/** Fence width in interquartile ranges (Tukey's outer fences). */
export const FENCE_IQR = 3;
/** Padding added on each side of a range, as a share of its width. */
const PAD = 0.05;

export interface ValueRange {
  readonly lo: number;
  readonly hi: number;
  /** How many of the values lie outside [lo, hi] (drawn on its edge). */
  readonly outside: number;
}

/** Linear-interpolation quantile of sorted values (type 7 in Hyndman & Fan 1996). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = (sorted.length - 1) * q;
  const i = Math.floor(h);
  const a = sorted[i] as number;
  const b = sorted[Math.min(i + 1, sorted.length - 1)] as number;
  return a + (h - i) * (b - a);
}

/** The narrowest linear axis range drawn: far above the subnormal doubles (below 2.2e-308). */
const MIN_SPAN = 1e-290;

/**
 * The scale of an axis from `lo` to `hi` (a parameter's declared bounds) that Vega can tick: a span
 * below MIN_SPAN is drawn on a linear scale widened as `robustRange` widens one. Vega's tick code
 * threw "Invalid array length" on a float parameter declared from 5e-324 to 1e-323 (log or not) and
 * wrote a broken chart. Any other span keeps its scale and bounds.
 */
export function drawableScale(lo: number, hi: number, log = false): { type: "log" | "linear"; domain: [number, number] } {
  if (!(hi - lo > 0) || hi - lo >= MIN_SPAN) return { type: log ? "log" : "linear", domain: [lo, hi] };
  const half = Math.max(Math.abs(lo) * 0.05 || 0.5, MIN_SPAN);
  return { type: "linear", domain: [lo - half, hi + half] };
}

/**
 * The axis range for `values` (finite ones; on a log axis positive ones): Tukey's outer fences
 * from the quartiles, widened to keep every value of `keep` visible, padded by 5%. With fewer
 * than 4 values the range spans them all. Never empty: a single value gets a small band.
 */
export function robustRange(values: readonly number[], opts: { log?: boolean; keep?: readonly number[] } = {}): ValueRange {
  const log = opts.log === true;
  const fwd = (v: number) => (log ? Math.log10(v) : v);
  const back = (v: number) => (log ? 10 ** v : v);
  const ok = (v: number) => Number.isFinite(v) && (!log || v > 0);
  const xs = values.filter(ok).map(fwd).sort((a, b) => a - b);
  const keep = (opts.keep ?? []).filter(ok).map(fwd);
  if (xs.length === 0 && keep.length === 0) return { lo: log ? 0.1 : 0, hi: log ? 10 : 1, outside: 0 };
  let inside = xs;
  if (xs.length >= 4) {
    const q1 = quantile(xs, 0.25);
    const q3 = quantile(xs, 0.75);
    const iqr = q3 - q1;
    if (iqr > 0) inside = xs.filter((x) => x >= q1 - FENCE_IQR * iqr && x <= q3 + FENCE_IQR * iqr);
  }
  const span = [...inside, ...keep];
  let lo = minOf(span);
  let hi = maxOf(span);
  // A spread below ~1e-290 is drawn as one value: vega's tick code threw "Invalid array length" on
  // subnormal steps (values k·5e-324) and logged its stack trace from the chart renderer.
  if (hi - lo <= 0 || (!log && hi - lo < MIN_SPAN)) {
    const half = log ? 0.1 : Math.max(Math.abs(lo) * 0.05 || 0.5, MIN_SPAN);
    lo -= half;
    hi += half;
  } else {
    const pad = (hi - lo) * PAD;
    lo -= pad;
    hi += pad;
  }
  // Values near ±1.8e308 overflow the band or the padding: the axis ends at the largest double.
  lo = Math.max(lo, -Number.MAX_VALUE);
  hi = Math.min(hi, Number.MAX_VALUE);
  const outside = xs.filter((x) => x < lo || x > hi).length;
  return { lo: back(lo), hi: back(hi), outside };
}

/** Clamps `v` into the range. */
export function clampTo(r: ValueRange, v: number): number {
  return Math.min(r.hi, Math.max(r.lo, v));
}

/**
 * Ticks at most: a step below the spacing of doubles near the range (a float parameter on
 * [2^53, 2^53 + 4]) never advanced the loop, which grew its array until V8 killed the server.
 */
const MAX_TICKS = 50;

/**
 * "Nice" tick values (1, 2, 5 × 10^k steps) inside [lo, hi], about `count` of them (none when no
 * integer lies inside an `integer` range); just the finite ends when no step fits (a range too wide
 * for doubles, or too narrow for them).
 */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [lo, hi].filter(Number.isFinite);
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  if (!Number.isFinite(raw) || raw <= 0) return [lo, hi];
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = ([1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) as number | undefined) ?? 10 * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const start = Math.ceil(lo / step - 1e-9) * step;
  const end = Math.min(hi + step * 1e-9, Number.MAX_VALUE); // hi + a little overflowed at the top
  const out: number[] = [];
  for (let i = 0; i < MAX_TICKS; i++) {
    const v = start + i * step;
    if (!(v <= end)) break;
    const tick = Number(v.toPrecision(12));
    if (Number.isFinite(tick) && (out.length === 0 || tick > (out[out.length - 1] as number))) out.push(tick);
  }
  return out;
}

/** Ticks for a log axis: the powers of ten inside [lo, hi], or nice linear ticks when fewer than two fit. */
export function logTicks(lo: number, hi: number): number[] {
  if (!(lo > 0) || !(hi > lo) || !Number.isFinite(hi)) return niceTicks(lo, hi, 4);
  const out: number[] = [];
  // From 10^-324 to 10^308 at most: a bounded loop whatever the range.
  const last = Math.floor(Math.log10(hi) + 1e-9);
  for (let k = Math.ceil(Math.log10(lo) - 1e-9); k <= last; k++) out.push(10 ** k);
  if (out.length >= 2) return out.length > 8 ? out.filter((_, i) => i % Math.ceil(out.length / 8) === 0) : out;
  return niceTicks(lo, hi, 4);
}

/** A short label for a number: 3 significant digits, exponent form outside [0.01, 10^4). */
export function shortNumber(v: number): string {
  if (v !== 0 && (Math.abs(v) < 1e-2 || Math.abs(v) >= 1e4)) {
    const [m, e] = v.toExponential(1).split("e");
    return `${m?.replace(/\.0$/, "")}e${e}`;
  }
  return String(Number(v.toPrecision(3)));
}

/** `s` cut to `max` characters with an ellipsis. */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(1, max - 1))}…`;
}

/** A trial's objective for drawing: its value, or for a PRUNED trial without one its last finite report. */
export function drawnValue(t: TrialView): number | null {
  if (typeof t.value === "number" && Number.isFinite(t.value)) return t.value;
  if (t.state !== "PRUNED") return null;
  for (let i = t.intermediate.length - 1; i >= 0; i--) {
    const v = (t.intermediate[i] as [number, number])[1];
    if (Number.isFinite(v)) return v;
  }
  return null;
}

export interface TrialSample {
  /** The chosen trials in number order. */
  readonly trials: TrialView[];
  /** How many trials there were to choose from. */
  readonly total: number;
  /** How many of the chosen are the best by value (the rest are evenly spaced by number). */
  readonly best: number;
}

/**
 * At most `max` of `trials`: all of them when they fit; else the best quarter of `max` by
 * `drawnValue` (the ones a reader looks for) and the rest evenly spaced by trial number (the
 * course of the study), so nothing is dropped silently: the caller says so in its caption.
 */
export function sampleTrials(trials: readonly TrialView[], max: number, direction: Direction): TrialSample {
  const sorted = [...trials].sort((a, b) => a.number - b.number);
  if (sorted.length <= max) return { trials: sorted, total: sorted.length, best: 0 };
  const sign = direction === "minimize" ? 1 : -1;
  const valued = sorted.filter((t) => t.state === "COMPLETE" && drawnValue(t) !== null);
  const best = valued.sort((a, b) => sign * ((drawnValue(a) as number) - (drawnValue(b) as number))).slice(0, Math.ceil(max / 4));
  const chosen = new Set(best.map((t) => t.number));
  const rest = sorted.filter((t) => !chosen.has(t.number));
  const need = max - chosen.size;
  for (let i = 0; i < need; i++) {
    const j = need === 1 ? 0 : Math.round((i * (rest.length - 1)) / (need - 1));
    chosen.add((rest[j] as TrialView).number);
  }
  return { trials: sorted.filter((t) => chosen.has(t.number)), total: sorted.length, best: best.length };
}

/** Caption text for a sample: "" when every trial is drawn. */
export function sampleNote(s: TrialSample, what = "trials"): string {
  if (s.trials.length === s.total) return "";
  return ` Showing ${s.trials.length} of ${s.total} ${what}: the ${s.best} best and ${s.trials.length - s.best} evenly spaced by trial number.`;
}
