/** Read models computed from a study's in-memory state: trial pages, lineage, chart specs, the studies overview. */
import { TuneportError } from "../domain/errors.js";
import { bestTrial } from "../domain/trial.js";
import { workerLabel } from "../domain/worker.js";
import { bestReported, lineageAnswer, noFiniteResult, reportedAt, trialNeededFor } from "./lineage.js";
import type * as S from "./ops/schemas.js";
import { compareStudyKeys, firstK, frontPage, overviewCursor, pageStudyKeys, studiesCursorKey, studiesPageOf } from "./paging.js";
import type { Ownership, OwnershipStore } from "./ownership.js";
import { shareDistributions } from "./plot-job.js";
import { type FrontSource, plotInput } from "./plot-sample.js";
import { type PlotKind, type PlotOptions, type PlotRendering, checkKindFor, parsePlotKind, plotSpec, renderPlot } from "./plots.js";
import { type StudyState, type TrialRecord, bestOf, countsOf, viewOf } from "./study-state.js";
import { trialOf } from "./trial-ops.js";
import { studyImportances } from "./reads-summary.js";
import { ttlOf } from "./leases.js";
import { type ParetoFrontView, paretoFrontView } from "./pareto.js";
import { frontCountsOf, frontRecordsOf } from "./aggregates.js";
import { type LineageView, type StudyView, type TrajectoryView, type TrialView, trialView } from "./views.js";

/**
 * The `best_trials` answer (pareto.ts) from the study's record trials (front-records.ts), or from
 * every trial when it has too many records to keep. @throws INVALID_ARGUMENT.
 */
export function bestTrialsOf(s: StudyState, a: S.BestTrialsArgs, now: number): ParetoFrontView & { n_front: number; next_cursor: string | null } {
  const opts = { ...(a.reference_point ? { referencePoint: a.reference_point } : {}), history: a.history ?? false };
  const fr = frontRecordsOf(s.agg, s.trials);
  // The front is found among the records themselves; only the page's trials become views.
  const view = fr === null ? paretoFrontView(viewOf(s), s.trials, opts) : paretoFrontView(viewOf(s), fr.records, { ...opts, counts: frontCountsOf(s.agg) });
  const page = frontPage(s.study, view.trials, a.cursor, a.limit);
  return { ...view, ...page, trials: page.trials.map((t) => trialView(t, now)) };
}


type PlotResult = { png: Uint8Array; caption: string; width: number; height: number; kind: PlotKind };

/**
 * Rendered plots of studies that have not changed since: a PNG depends only on the study's trials,
 * config and the plot's arguments, all fixed while the study's `version` is, so a repeated read of
 * an idle study (an agent asking again, a dashboard refreshing, a report) costs no rendering. Least
 * recently used first out, at most `PLOT_CACHE_BYTES` of PNGs; an entry of an older version is
 * never read again and ages out.
 */
export const PLOT_CACHE_BYTES = 32 * 1024 * 1024;
const plotCache = new Map<string, PlotResult>();
let plotCacheBytes = 0;
const stateIds = new WeakMap<StudyState, number>();
let nextStateId = 1;

function cachedPlot(key: string): PlotResult | undefined {
  const hit = plotCache.get(key);
  if (hit) {
    plotCache.delete(key);
    plotCache.set(key, hit);
  }
  return hit;
}

function keepPlot(key: string, p: PlotResult): void {
  if (p.png.byteLength > PLOT_CACHE_BYTES / 4 || plotCache.has(key)) return;
  plotCache.set(key, p);
  plotCacheBytes += p.png.byteLength;
  for (const [k, old] of plotCache) {
    if (plotCacheBytes <= PLOT_CACHE_BYTES) break;
    plotCache.delete(k);
    plotCacheBytes -= old.png.byteLength;
  }
}

/**
 * Plots being drawn at once (in this process); more are refused (UNAVAILABLE). Each holds its own
 * copy of the study's trial views until its PNG is drawn, and the renderer draws one at a time:
 * without a bound, a burst of plot calls (100 in one MCP batch) queued gigabytes behind minutes of
 * rendering. Served from the cache, a plot is not counted.
 */
export const MAX_PLOTS_DRAWING = 16;
let plotsDrawing = 0;

/**
 * A chart of the study, on `plots` (a worker thread) when given, else in process; a big study is
 * drawn from a bounded sample chosen before any view is built (plot-sample.ts, said in the caption).
 * An unchanged study's repeated plot is served from the cache above.
 * @throws UNAVAILABLE when `MAX_PLOTS_DRAWING` plots are being drawn.
 */
export async function plotOf(s: StudyState, a: S.PlotArgs, now: number, plots: PlotRendering | null): Promise<PlotResult> {
  const kind = parsePlotKind(a.kind);
  let id = stateIds.get(s);
  if (id === undefined) stateIds.set(s, (id = nextStateId++));
  const args = `${kind}\u0000${JSON.stringify([a.params ?? null, a.log_y ?? null])}`;
  const keyAt = (version: number) => `${id}\u0000${version}\u0000${args}`;
  const hit = cachedPlot(keyAt(s.version));
  if (hit) return hit;
  const version = s.version;
  const study = viewOf(s);
  checkKindFor(kind, study, a.params, a.log_y);
  if (plotsDrawing >= MAX_PLOTS_DRAWING)
    throw new TuneportError("UNAVAILABLE", `${MAX_PLOTS_DRAWING} plots are being drawn; retry once they are done`, { max_plots_drawing: MAX_PLOTS_DRAWING });
  plotsDrawing++;
  try {
    // Importances (the default axes) as the param_importances op reads them: a big study's are reused.
    const input = plotInput(kind, s.trials, s.study.config.direction, countsOf(s), frontSourceOf(s), () => studyImportances(s));
    // Equal distributions as one object: the renderer's IPC serialiser then sends them once (plot-job.ts).
    const trials = shareDistributions(input.trials.map((t) => trialView(t, now)));
    const opts = { params: a.params, logY: a.log_y, ...input.opts, ...readModelsFor(s, kind, input.trials) };
    const p = plots ? await plots.render(kind, study, trials, opts) : await renderPlot(kind, study, trials, opts);
    const out = { png: p.png, caption: p.caption, width: p.width, height: p.height, kind };
    // Kept under the version it was drawn from, even if the study changed while it rendered.
    keepPlot(keyAt(version), out);
    return out;
  } finally {
    plotsDrawing--;
  }
}

/** What the multi-objective plots read of a study besides its trials (plot-sample.ts). */
function frontSourceOf(s: StudyState): FrontSource {
  return { directions: s.study.config.directions, records: () => frontRecordsOf(s.agg, s.trials)?.records ?? null };
}

/**
 * The hyperparameter schedule that produced a trial's model (PBT): segments `{from_step, params,
 * trial, trial_step}` in model-age order, replayable as a fixed schedule. Without `trial`, the trial
 * with the best finite *reported* value (see `bestReported`), scheduled up to that report; with
 * `trial`, that trial up to its best report. `value` is that report's value (the COMPLETE value of
 * a trial that never reported). A strategy without a `readModels.lineage` gives one segment (the
 * trial's params from step 0). @throws NOT_FOUND; INVALID_ARGUMENT without `trial` on a study of
 * several objectives.
 */
export function lineageView(s: StudyState, trial: number | undefined): LineageView {
  if (trial !== undefined) {
    const t = trialOf(s, trial);
    return lineageAnswer(s.study.name, s.factory.readModels, s.trials, t, reportedAt(s.study.config.direction, t));
  }
  const several = trialNeededFor(s.study.name, s.study.config.directions);
  if (several) throw several;
  const b = bestReported(s.study.config.direction, s.trials);
  if (!b) throw noFiniteResult(s.study.name, s.factory.readModels?.lineage !== undefined);
  return lineageAnswer(s.study.name, s.factory.readModels, s.trials, b.trial, b);
}

/** The best COMPLETE trial, or null when none completed yet. */
export function bestView(s: StudyState, now: number): TrialView | null {
  const b = bestOf(s);
  return b ? trialView(b, now) : null;
}

/** A trial, and its lease (expiry and TTL, never the token) while it runs. @throws NOT_FOUND. */
export function trialWithLease(s: StudyState, number: number, now: number): { trial: TrialView; lease: { expires_at: number; ttl_s: number } | null } {
  const t = trialOf(s, number);
  // The trial's own TTL: ask may have set one (lease_ttl_s) other than the study's.
  const lease = t.state === "RUNNING" && t.lease ? { expires_at: t.lease.expiresAt / 1000, ttl_s: ttlOf(s, t) } : null;
  return { trial: trialView(t, now), lease };
}

/** A trial's hyperparameter trajectory from its strategy's `readModels.trajectory` (empty without one). @throws NOT_FOUND. */
export function trajectoryView(s: StudyState, number: number): TrajectoryView {
  const t = trialOf(s, number);
  const read = s.factory.readModels?.trajectory?.(t) ?? { entries: [], thinned: false };
  return { trial: t.number, state: t.state, params: { ...t.params }, trajectory: read.entries, thinned: read.thinned };
}

/**
 * The strategy's read models a plot kind draws (`lineage`: the population's graph, from every
 * trial; `trajectories`: those of `trials`), or nothing when the strategy records none.
 */
function readModelsFor(s: StudyState, kind: PlotKind, trials: readonly TrialRecord[]): Pick<PlotOptions, "readModels"> {
  const rm = s.factory.readModels;
  if (kind === "lineage" && rm?.lineageGraph) return { readModels: { lineage: rm.lineageGraph(s.trials) } };
  if (kind === "trajectories" && rm?.trajectory) {
    const read = rm.trajectory;
    return { readModels: { trajectories: trials.map((t) => ({ trial: t.number, entries: read(t).entries })) } };
  }
  return {};
}

/**
 * The Vega-Lite spec of a chart, from the same spec functions `plot` renders to PNG (plots.ts);
 * with `trials`, from those trials only, else as `plotOf` (a big study from a bounded sample).
 * @throws INVALID_ARGUMENT (nothing to draw, unknown parameter).
 */
export function plotSpecOf(s: StudyState, a: S.PlotSpecArgs, now: number): { kind: PlotKind; spec: Record<string, unknown>; caption: string } {
  const kind = parsePlotKind(a.kind);
  checkKindFor(kind, viewOf(s), a.params, a.log_y);
  const want = a.trials ? new Set(a.trials) : null;
  // Trials are numbered 0…n−1: a number past them would be left out silently, and a chart of none said "no finished trial yet".
  const missing = a.trials?.filter((n) => n >= s.trials.length) ?? [];
  if (missing.length > 0)
    throw new TuneportError("NOT_FOUND", `study '${s.study.name}' has no trial ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""} (its trials are numbered 0 to ${s.trials.length - 1})`, {
      missing: missing.slice(0, 100),
    });
  const input = want ? { trials: s.trials.filter((t) => want.has(t.number)), opts: {} } : plotInput(kind, s.trials, s.study.config.direction, countsOf(s), frontSourceOf(s), () => studyImportances(s));
  const trials = input.trials.map((t) => trialView(t, now));
  const { spec, caption } = plotSpec(kind, viewOf(s), trials, { params: a.params, logY: a.log_y, ...input.opts, ...readModelsFor(s, kind, input.trials) });
  return { kind, spec, caption };
}

/** One line of the studies overview (`studies_overview` op). */
export interface StudyOverview {
  name: string;
  /** `directions[0]`. */
  direction: "minimize" | "maximize";
  /** One direction per objective. */
  directions: ("minimize" | "maximize")[];
  strategy: string;
  scheduler: string | null;
  stopped: boolean;
  n_trials: number;
  counts: Record<TrialRecord["state"], number>;
  best: { number: number; value: number } | null;
  /** Epoch seconds of the latest trial creation, start or finish, else of the study's creation. */
  last_activity_at: number | null;
  /** RUNNING trials whose lease has not expired: a worker holds each. */
  live_workers: number;
  /** Who holds them (domain/worker.ts `workerLabel`), distinct, sorted, at most `MAX_WORKER_LABELS`. */
  workers: string[];
  /**
   * True when the line is the study as last committed in the database, not this server's memory:
   * another server sharing the database serves it (or this server's hold on it is unsure), as
   * list_studies lists it. Its leases are not read then: `live_workers` 0, `workers` [], `last_activity_at` null.
   */
  from_storage: boolean;
}

/** Distinct worker labels listed per study at most (the count `live_workers` stays exact). */
export const MAX_WORKER_LABELS = 20;

/** A study in one line, for a list of many studies: no trial views, no search space. */
export function overviewOf(s: StudyState, now: number): StudyOverview {
  let last = s.study.createdAt;
  for (const t of s.trials) last = Math.max(last, t.finishedAt ?? t.startedAt ?? t.createdAt);
  let live = 0;
  const workers = new Set<string>();
  for (const n of s.running) {
    const t = s.trials[n] as TrialRecord;
    if (!t.lease || t.lease.expiresAt <= now) continue;
    live++;
    const label = workerLabel(t.systemAttrs.worker);
    if (label !== null && workers.size < MAX_WORKER_LABELS) workers.add(label);
  }
  const best = bestOf(s);
  const counts = countsOf(s);
  return {
    name: s.study.name,
    direction: s.study.config.direction,
    directions: [...s.study.config.directions],
    strategy: s.study.config.strategy.name,
    scheduler: s.study.config.scheduler?.name ?? null,
    stopped: s.study.stopped ?? false,
    n_trials: s.trials.length,
    counts,
    best: best && best.value !== null ? { number: best.number, value: best.value } : null,
    last_activity_at: last / 1000,
    live_workers: live,
    workers: [...workers].sort(),
    from_storage: false,
  };
}

/** A study served elsewhere in one line, from its view as last committed (ownership.ts `foreignStudies`): what a summary has. */
export function overviewOfView(v: StudyView): StudyOverview {
  const best = v.best_trial;
  return {
    name: v.name,
    direction: v.direction,
    directions: [...v.directions],
    strategy: v.strategy.name,
    scheduler: v.scheduler?.name ?? null,
    stopped: v.stopped,
    n_trials: v.n_trials,
    counts: { ...v.counts },
    best: best && best.value !== null ? { number: best.number, value: best.value } : null,
    last_activity_at: null,
    live_workers: 0,
    workers: [],
    from_storage: true,
  };
}

/**
 * One page of `list_studies` (study-service.ts `listStudies`, paged): the page is cut from the
 * studies' names and creation times (`studies`: this server's memory; and, where several servers
 * share storage, a window of its rows from the cursor on: ownership.ts `foreignStudies`' `pick`,
 * `pickStudies`), then only its studies are viewed,
 * from memory or, served elsewhere, from SQL summaries. Viewing every study to cut one page took
 * 0.15-2 s a page with 10,000 studies on PostgreSQL, and 22-160 ms on SQLite (docs/BENCHMARKS.md
 * "A page of list_studies among 10,000 studies"). `here`: a live study in memory here.
 */
export async function listingPage(
  a: S.ListStudiesArgs,
  ownership: Ownership,
  here: (name: string) => boolean,
  studies: ReadonlyMap<string, StudyState>,
  visible: (views: StudyView[]) => Promise<StudyView[]>,
): Promise<{ studies: StudyView[]; next_cursor: string | null }> {
  const picked = await pickStudies(a.cursor === undefined ? null : studiesCursorKey(a.cursor), a.limit, ownership, here, studies);
  const views: StudyView[] = [];
  for (const name of picked.names) {
    const v = picked.foreign.get(name) ?? (here(name) ? viewOf(studies.get(name) as StudyState) : undefined);
    // Deleted since the cut (on PostgreSQL the page's rows are read after it), or deleted and created
    // again under its name: that one, created later, belongs to a later page (shown here, its cursor
    // skipped the studies created between the two).
    if (v && v.created_at === picked.keys.get(name)) views.push(v);
  }
  return studiesPageOf(await visible(views), picked.more, picked.last ?? undefined);
}

/**
 * One page of `studies_overview`, as `listingPage` cuts one of `list_studies` (same order: creation,
 * then name; its own kind of cursor): only the page's studies are summed up, from memory or, served
 * elsewhere, from their SQL summaries. The whole overview summed every study up on each read, which
 * the dashboard makes on every change and every 5 s: at 10,000 studies 75 ms (SQLite) to 1.1 s and
 * +53 MiB of heap (PostgreSQL, another server's studies), a 3 MiB reply (docs/BENCHMARKS.md
 * "studies_overview among 10,000 studies"). Without `limit`, every study (as before).
 */
export async function overviewPage(
  a: S.StudiesOverviewArgs,
  ownership: Ownership,
  here: (name: string) => boolean,
  studies: ReadonlyMap<string, StudyState>,
  now: number,
): Promise<{ studies: StudyOverview[]; next_cursor: string | null }> {
  const picked = await pickStudies(a.cursor === undefined ? null : studiesCursorKey(a.cursor, "overview"), a.limit, ownership, here, studies);
  const lines: StudyOverview[] = [];
  for (const name of picked.names) {
    const v = picked.foreign.get(name);
    const s = v === undefined && here(name) ? studies.get(name) : undefined;
    // As listingPage: one deleted since the cut is left out, and one deleted and created again (served
    // elsewhere, or here: its memory is the new study's) belongs to a later page (summed up here too,
    // it was listed twice: the cursor is the cut's).
    const createdAt = v ? v.created_at : s ? s.study.createdAt / 1000 : undefined;
    if (createdAt === undefined || createdAt !== picked.keys.get(name)) continue;
    lines.push(v ? overviewOfView(v) : overviewOf(s as StudyState, now));
  }
  // The cursor names the page's last study even when it went meanwhile (deleted): the next page follows it.
  const last = picked.last;
  return { studies: lines, next_cursor: picked.more && last ? overviewCursor(last) : null };
}

/** The live studies in memory past `after` in list order, the first `limit` + 1 of them (all without `limit`). */
function firstStudies(studies: ReadonlyMap<string, StudyState>, after: [number, string] | null, limit: number | undefined): StudyState[] {
  const live = (s: StudyState) => !s.deleted && (after === null || compareStudyKeys([s.study.createdAt / 1000, s.study.name], after) > 0);
  if (limit === undefined) return [...studies.values()].filter(live);
  const cmp = (x: StudyState, y: StudyState) => compareStudyKeys([x.study.createdAt / 1000, x.study.name], [y.study.createdAt / 1000, y.study.name]);
  return firstK([...studies.values()], limit + 1, live, cmp).first;
}

/**
 * The names of one page of live studies (creation order, then name; after `after`, at most `limit`),
 * whether more follow, the last one's key (where the next page starts), the creation times of the
 * studies it was cut from (`keys`: a study viewed with another was deleted and created again since,
 * and belongs to a later page), and the views of those served elsewhere (read from storage for the
 * page's studies only: ownership.ts `foreignStudies`' `pick`). Of the stored studies only a window
 * from the cursor's creation time on is read (`OwnershipStore.studyKeys`): every stored study's key
 * took 25-190 ms a page at 10,000 studies on PostgreSQL (docs/BENCHMARKS.md "A page of list_studies
 * among 10,000 studies").
 */
async function pickStudies(
  after: [number, string] | null,
  limit: number | undefined,
  ownership: Ownership,
  here: (name: string) => boolean,
  studies: ReadonlyMap<string, StudyState>,
): Promise<{ names: string[]; more: boolean; last: [number, string] | null; keys: Map<string, number>; foreign: Map<string, StudyView> }> {
  let picked: { names: string[]; more: boolean } = { names: [], more: false };
  let last: [number, string] | null = null;
  let keys = new Map<string, number>();
  const pick = async (read: OwnershipStore["studyKeys"]): Promise<string[]> => {
    // A window of the stored keys from the cursor's creation time on, enough for the page and one more
    // (the cursor's own study and its ties come first in it): a study past the window is then past the
    // page. A window short of that (keys that memory holds for a study created again, ties before the
    // cursor) is read again, larger.
    for (let count = limit === undefined ? undefined : limit + 2; ; ) {
      const stored = await read(after?.[0] ?? null, count);
      keys = new Map(stored.map((s) => [s.name, s.createdAt / 1000]));
      // Memory's key wins (a study created again here, not yet committed); of the others in memory
      // only the first limit + 1 past the cursor can be on the page.
      for (const { name } of stored) {
        const s = studies.get(name);
        if (s && !s.deleted) keys.set(name, s.study.createdAt / 1000);
      }
      for (const s of firstStudies(studies, after, limit)) keys.set(s.study.name, s.study.createdAt / 1000);
      if (count === undefined || limit === undefined || stored.length < count) break;
      const past = stored.filter((s) => keys.get(s.name) === s.createdAt / 1000 && (after === null || compareStudyKeys([s.createdAt / 1000, s.name], after) > 0));
      if (past.length > limit) break;
      // Past every key read (the window holds all of the last one's ties, beyond `count`): growing
      // `count` alone read the same tie group again and again, one read per study short (40 studies
      // imported from one file: 39 reads of 40 keys for one page).
      count = stored.length + limit + 1 - past.length;
    }
    picked = pageStudyKeys(keys, after, limit);
    const name = picked.names[picked.names.length - 1];
    last = name === undefined ? null : [keys.get(name) as number, name];
    return picked.names;
  };
  const foreign = new Map((await ownership.foreignStudies(here, pick)).map((v) => [v.name, v]));
  if (ownership.everything) await pick(async () => []); // one server: every study is here, and storage was not listed
  return { ...picked, last, keys, foreign };
}
