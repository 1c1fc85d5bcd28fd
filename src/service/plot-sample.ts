/**
 * The bounded set of a big study's trials a plot is drawn from, chosen on the server from its
 * records before any trial view is built or sent to the plot worker (issue 19, item 5: a history
 * plot of 100,000 trials took 14 s, mostly turning every trial into a view and copying it to the
 * worker, before the spec functions sampled them down anyway).
 *
 * The choice is the one the spec functions make (plot-scales.ts `sampleTrials`: the best quarter
 * by value, the rest evenly spaced by trial number), made earlier and on records, so the chart is
 * the one the full study would give, with these differences, said in the caption:
 * - history: besides its `MAX_HISTORY_POINTS` points, every trial that set a new best (in number
 *   order) is kept, so the best-so-far line is exact; the counts in the caption are the study's;
 *   the y-range's outlier fences are computed from the sample.
 * - parallel coordinates, slice and contour: at most their own limit of COMPLETE trials, and the
 *   default parameters come from the study's importances (reads-summary.ts, a bounded sample),
 *   not from the drawn trials only.
 * - importances: computed on the server (reads-summary.ts); no trial is sent.
 * - Pareto front: past `MAX_PARETO_POINTS` complete trials, every trial on the front and the rest
 *   evenly spaced by trial number (the front of the sample is the study's: a dropped trial's
 *   dominators end at a front trial, which is kept).
 * - hypervolume history: the study's record trials (front-records.ts) and its last COMPLETE trial,
 *   which give the same history (a trial that is not a record never changes it) and plateau; the
 *   caption's count is the study's.
 * - intermediate values: at most `MAX_CURVES` trials with a finite intermediate value (the best
 *   quarter and the rest evenly spaced), each curve's finite values thinned to
 *   `MAX_POINTS_PER_CURVE` as the spec would, the spec told how many values and curves that left
 *   out. Before, every value of every trial was made a view and copied to the plot worker: 100
 *   trials of 50,000 reports held the event loop 10 s.
 * Other kinds (EDF) read every trial.
 */
import { paretoFront } from "../domain/objectives.js";
import type { Direction, TrialState } from "../domain/trial.js";
import { MAX_LINES, MAX_SLICE_POINTS } from "./plot-params.js";
import type { PlotOptions } from "./plot-scales.js";
import { MAX_CURVES, MAX_HISTORY_POINTS, MAX_POINTS_PER_CURVE, thin } from "./plot-trials.js";
import type { PlotKind } from "./plots.js";
import { type SampledImportances, evenlySpaced, importancesOf } from "./reads-summary.js";
import type { TrialRecord } from "./study-state.js";

/** What a plot reads: these trials, and options saying what was left out. */
export interface PlotInput {
  readonly trials: readonly TrialRecord[];
  readonly opts: Pick<PlotOptions, "sampled" | "importances" | "curves">;
}

/** Most complete trials the Pareto-front plot draws; more are sampled (see the file comment). */
export const MAX_PARETO_POINTS = 2000;

/** What the multi-objective plots read besides the trials: the directions and, when kept, the record trials. */
export interface FrontSource {
  readonly directions: readonly Direction[];
  /** The study's record trials (aggregates.ts `frontRecordsOf`), or null when it keeps none. */
  records(): readonly TrialRecord[] | null;
}

const isFinished = (t: TrialRecord) => t.state === "COMPLETE" || t.state === "PRUNED" || t.state === "FAIL";
const hasValue = (t: TrialRecord) => t.state === "COMPLETE" && typeof t.value === "number" && Number.isFinite(t.value);

/**
 * A pool of trials read once into flat arrays, so that choosing among them touches no record again:
 * each pass over 100,000 records cost 5–30 ms of cache misses on a 2-core VM, and a live study's
 * plot chooses again on every request, on the server's thread (issue 19).
 */
interface FlatPool {
  /** Where each of the pool's trials is in the array it was read from (number order). */
  readonly at: Int32Array;
  /** Its value when it is COMPLETE with a finite value, else NaN. */
  readonly value: Float64Array;
  readonly length: number;
}

/** The trials of `trials` that `include` accepts (every one without it), as a `FlatPool`, in one pass. */
function flatten(trials: readonly TrialRecord[], include?: (t: TrialRecord) => boolean): FlatPool {
  const at = new Int32Array(trials.length);
  const value = new Float64Array(trials.length);
  let n = 0;
  for (let i = 0; i < trials.length; i++) {
    const t = trials[i] as TrialRecord;
    if (include !== undefined && !include(t)) continue;
    at[n] = i;
    value[n] = hasValue(t) ? (t.value as number) : NaN;
    n++;
  }
  return { at, value, length: n };
}

/**
 * At most `max` of `pool` (in number order): the best `ceil(max / 4)` COMPLETE trials with a finite
 * value (ties: the lower number), every one of `keep`, and the rest evenly spaced by trial number.
 */
export function bestAndSpaced(pool: readonly TrialRecord[], max: number, direction: Direction, keep: readonly TrialRecord[] = []): TrialRecord[] {
  if (pool.length <= max) return [...pool];
  const kept: number[] = [];
  for (const t of keep) {
    // `pool` is in number order: a binary search finds each kept trial.
    let lo = 0;
    let hi = pool.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = (pool[mid] as TrialRecord).number;
      if (m === t.number) {
        kept.push(mid);
        break;
      }
      if (m < t.number) lo = mid + 1;
      else hi = mid - 1;
    }
  }
  return pick(pool, flatten(pool), max, direction, kept);
}

/**
 * `bestAndSpaced` on a flat pool of `trials`: `keep` holds positions in the pool. A mask and typed
 * arrays rather than Sets of numbers and an array sort: 35 -> ~14 ms at 100,000 trials.
 */
function pick(trials: readonly TrialRecord[], pool: FlatPool, max: number, direction: Direction, keep: Iterable<number>): TrialRecord[] {
  const n = pool.length;
  const chosen = new Uint8Array(n);
  let nChosen = 0;
  const mark = (i: number) => {
    if (chosen[i] === 0) {
      chosen[i] = 1;
      nChosen++;
    }
  };
  for (const i of keep) mark(i);
  const sign = direction === "minimize" ? 1 : -1;
  const valuedAt = new Int32Array(n);
  let nValued = 0;
  for (let i = 0; i < n; i++) if (!Number.isNaN(pool.value[i] as number)) valuedAt[nValued++] = i;
  const nBest = Math.min(nValued, Math.ceil(max / 4));
  if (nBest > 0) {
    const keys = new Float64Array(nValued);
    for (let j = 0; j < nValued; j++) keys[j] = sign * (pool.value[valuedAt[j] as number] as number);
    const cut = kthSmallest(keys, nBest);
    let below = 0;
    for (let j = 0; j < nValued; j++) if ((keys[j] as number) < cut) below++;
    let atCut = nBest - below; // how many at the cut value may join, the lower numbers first
    for (let j = 0; j < nValued; j++) {
      const k = keys[j] as number;
      if (k < cut) mark(valuedAt[j] as number);
      else if (k === cut && atCut > 0) {
        mark(valuedAt[j] as number);
        atCut--;
      }
    }
  }
  // The rest evenly spaced among the positions not chosen yet (a typed array: no 100,000-element push).
  const rest = new Int32Array(n - nChosen);
  let nRest = 0;
  for (let i = 0; i < n; i++) if (chosen[i] === 0) rest[nRest++] = i;
  for (const i of evenlySpaced(rest, Math.max(0, max - nChosen))) chosen[i] = 1;
  const out: TrialRecord[] = [];
  for (let i = 0; i < n; i++) if (chosen[i] === 1) out.push(trials[pool.at[i] as number] as TrialRecord);
  return out;
}

/**
 * The k-th smallest of `xs` (1 ≤ k ≤ xs.length), by a max-heap of the k smallest seen: O(n log k)
 * on any order of values, and close to O(n) on most, since a value above the heap's top is
 * rejected with one comparison (~1 ms for k = 500 of 100,000, against ~10 ms for sorting them all).
 * A middle-pivot selection, tried first, went quadratic on values that rise to one peak and fall
 * again in trial order. Exported for tests.
 */
export function kthSmallest(xs: Float64Array, k: number): number {
  const heap = new Float64Array(k);
  let size = 0;
  const siftDown = (i: number) => {
    const v = heap[i] as number;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const c = r < size && (heap[r] as number) > (heap[l] as number) ? r : l;
      if ((heap[c] as number) <= v) break;
      heap[i] = heap[c] as number;
      i = c;
    }
    heap[i] = v;
  };
  for (let j = 0; j < xs.length; j++) {
    const x = xs[j] as number;
    if (size < k) {
      // Sift up.
      let i = size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if ((heap[parent] as number) >= x) break;
        heap[i] = heap[parent] as number;
        i = parent;
      }
      heap[i] = x;
    } else if (x < (heap[0] as number)) {
      heap[0] = x;
      siftDown(0);
    }
  }
  return heap[0] as number;
}

/**
 * The trials and options a plot of `kind` reads from a study's records (in number order), with
 * `counts` its counts by state, and `importances` the study's (the caller may reuse a sampled result:
 * reads-summary.ts `studyImportances`). Small studies, and kinds not listed above, give every trial.
 */
export function plotInput(
  kind: PlotKind,
  trials: readonly TrialRecord[],
  direction: Direction,
  counts: Readonly<Record<TrialState, number>>,
  front?: FrontSource,
  importances: () => SampledImportances = () => importancesOf(trials),
): PlotInput {
  if (front && (kind === "pareto_front" || kind === "hypervolume_history")) return frontPlotInput(kind, trials, counts, front);
  const limit = kind === "history" ? MAX_HISTORY_POINTS : kind === "parallel_coordinates" ? MAX_LINES : kind === "slice" || kind === "contour" ? MAX_SLICE_POINTS : null;
  if (kind === "importances") return { trials: [], opts: { importances: importances() } };
  if (kind === "intermediate_values") return curvesInput(trials, direction);
  if (limit === null) return { trials, opts: {} };
  if (kind === "history") {
    const finished = flatten(trials, isFinished);
    if (finished.length <= limit) return { trials: Array.from(finished.at.subarray(0, finished.length), (i) => trials[i] as TrialRecord), opts: {} };
    // Every new best keeps the line exact; past a quarter of the points (a study improving at
    // nearly every trial) they are thinned evenly, and the line is drawn through those kept.
    const setters: number[] = [];
    let best = NaN;
    for (let j = 0; j < finished.length; j++) {
      const v = finished.value[j] as number;
      if (!Number.isNaN(v) && (setters.length === 0 || (direction === "minimize" ? v < best : v > best))) {
        best = v;
        setters.push(j);
      }
    }
    const records = evenlySpaced(setters, Math.ceil(limit / 4));
    const chosen = pick(trials, finished, limit, direction, records);
    const note =
      ` Drawn from ${chosen.length} of the study's ${finished.length} finished trials: the ${records.length} that set a new best, ` +
      `the ${Math.ceil(limit / 4)} best by value and the rest evenly spaced by trial number.`;
    return { trials: chosen, opts: { sampled: { note, counts } } };
  }
  const imp = importances();
  const done = flatten(trials, hasValue);
  if (done.length <= limit) return { trials, opts: { importances: imp } };
  const chosen = pick(trials, done, limit, direction, []);
  const note = ` Drawn from ${chosen.length} of the study's ${done.length} complete trials: the ${Math.ceil(limit / 4)} best and the rest evenly spaced by trial number.`;
  return { trials: chosen, opts: { sampled: { note }, importances: imp } };
}

/** `plotInput` of the intermediate-values plot (see the file comment). */
function curvesInput(trials: readonly TrialRecord[], direction: Direction): PlotInput {
  const finite = (p: { value: number }) => Number.isFinite(p.value);
  const withCurves = trials.filter((t) => t.intermediate.some(finite));
  // None: the spec says why there is nothing to draw.
  if (withCurves.length === 0) return { trials, opts: {} };
  const chosen = bestAndSpaced(withCurves, MAX_CURVES, direction);
  let nonFinite = 0;
  let thinned = 0;
  const curves = chosen.map((t) => {
    const points = t.intermediate.filter(finite);
    nonFinite += t.intermediate.length - points.length;
    if (points.length > MAX_POINTS_PER_CURVE) thinned++;
    return points.length === t.intermediate.length && points.length <= MAX_POINTS_PER_CURVE ? t : { ...t, intermediate: thin(points, MAX_POINTS_PER_CURVE) };
  });
  if (chosen.length === withCurves.length) return { trials: curves, opts: { curves: { nonFinite, thinned } } };
  const best = Math.min(Math.ceil(MAX_CURVES / 4), withCurves.filter(hasValue).length);
  const note = ` Showing ${chosen.length} of ${withCurves.length} trials: the ${best} best and ${chosen.length - best} evenly spaced by trial number.`;
  return { trials: curves, opts: { curves: { nonFinite, thinned }, sampled: { note } } };
}

/** `plotInput` of the two multi-objective kinds (see the file comment). */
function frontPlotInput(kind: "pareto_front" | "hypervolume_history", trials: readonly TrialRecord[], counts: Readonly<Record<TrialState, number>>, src: FrontSource): PlotInput {
  const m = src.directions.length;
  const withValues = (t: TrialRecord) => t.state === "COMPLETE" && t.values !== null && t.values.length === m;
  const records = src.records();
  if (kind === "hypervolume_history") {
    if (records === null) return { trials, opts: {} };
    let last: TrialRecord | undefined;
    for (let i = trials.length - 1; i >= 0 && last === undefined; i--) if (withValues(trials[i] as TrialRecord)) last = trials[i];
    const chosen = last !== undefined && !records.includes(last) ? [...records, last] : [...records];
    return { trials: chosen, opts: { sampled: { note: "", counts } } };
  }
  const done = trials.filter(withValues);
  if (done.length <= MAX_PARETO_POINTS) return { trials, opts: {} };
  const onFront = paretoFront(src.directions, records ?? done);
  const chosen = bestAndSpaced(done, MAX_PARETO_POINTS, src.directions[0] as Direction, onFront);
  const note = ` Drawn from ${chosen.length} of the study's ${done.length} complete trials: the ${onFront.length} on the Pareto front and the rest evenly spaced by trial number.`;
  return { trials: chosen, opts: { sampled: { note, counts } } };
}
