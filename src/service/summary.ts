/**
 * A study summary written for a reader with little room: an LLM agent's context window,
 * a CLI line, a dashboard tile. Pure: it reads views and returns facts plus prose, so the
 * embedded service and a remote (ZeroMQ) reader compute the same thing.
 */
import { formatNumber, plural } from "../domain/format.js";
import { countsAgainstBudget, isBetter } from "../domain/trial.js";
import { type Importances, frontImportances, paramImportances } from "./importance.js";
import type { PluginDescription } from "./plugins.js";
import { type FrontFacts, frontFacts } from "./pareto.js";
import type { StudyView, TrialView } from "./views.js";

/** Completions without a new best after which a study is called a plateau. */
export const PLATEAU_AFTER = 10;
/** Queued proposals listed in a summary; the rest are counted (list_trials shows them). */
export const SUMMARY_QUEUED = 5;
/** Running trial numbers listed in a summary. */
export const SUMMARY_RUNNING = 20;
/** Longest rationale quoted in a summary. */
export const SUMMARY_NOTE_CHARS = 200;

export interface StudySummary {
  study: string;
  direction: "minimize" | "maximize";
  /** One direction per objective. */
  directions: ("minimize" | "maximize")[];
  /** True after stop_study, until resume_study: no trial is handed out. */
  stopped: boolean;
  /** The study-wide trial budget and how much of it asks have used; null without one. */
  budget: { max_trials: number; used: number } | null;
  counts: StudyView["counts"];
  n_trials: number;
  best: { trial: number; value: number; params: Record<string, unknown> } | null;
  trend: {
    /** "no-data" | "improving" | "plateau" */
    status: "no-data" | "improving" | "plateau";
    /** COMPLETE trials since the best one finished. */
    completions_since_best: number;
    /** Best value after the first half of the completions, to compare with `best`. */
    best_at_half: number | null;
    /** Best value after each completion, at most 20 points, evenly thinned. */
    best_so_far: number[];
  };
  /** Finished trials per minute over the last (at most 20) finishes; null with fewer than 2. */
  throughput_per_min: number | null;
  /** Epoch seconds of the latest finish; null before any. A rate says nothing of when it stopped. */
  last_finished_at: number | null;
  strategy: { name: string; options: Record<string, unknown>; description: string | null };
  scheduler: { name: string; options: Record<string, unknown>; description: string | null } | null;
  /** The oldest SUMMARY_QUEUED trials still waiting, with their rationale clipped to SUMMARY_NOTE_CHARS. */
  queued: { trial: number; params: Record<string, unknown>; rationale: string | null }[];
  /** All waiting trials, listed or not. */
  queued_total: number;
  /** The first SUMMARY_RUNNING running trial numbers. */
  running: number[];
  running_total: number;
  /** The three most important parameters, when enough trials completed (several objectives: for reaching the Pareto front). */
  top_params: { param: string; importance: number }[];
  pruned_share: number | null;
  /** Multi-objective studies: the Pareto front's size, hypervolume and its trend (pareto.ts); null otherwise. */
  front: FrontFacts | null;
  text: string;
}

/** What a summary reads of a trial view (the server reads its records in place instead: `SummaryAccess`). */
export type SummaryTrial = Pick<TrialView, "number" | "state" | "value" | "feasible" | "finished_at" | "params" | "system_attrs">;

/** How a summary reads a trial: a view's fields, or the server's record without a copy (reads-summary.ts). */
export interface SummaryAccess<T> {
  number(t: T): number;
  state(t: T): SummaryTrial["state"];
  value(t: T): number | null;
  feasible(t: T): boolean | null;
  /** Unix seconds, or null while unfinished. */
  finishedAt(t: T): number | null;
  params(t: T): Record<string, unknown>;
  systemAttrs(t: T): Record<string, unknown>;
}

/** `SummaryAccess` of trial views. */
export const VIEW_ACCESS: SummaryAccess<SummaryTrial> = {
  number: (t) => t.number,
  state: (t) => t.state,
  value: (t) => t.value,
  feasible: (t) => t.feasible,
  finishedAt: (t) => t.finished_at,
  params: (t) => t.params,
  systemAttrs: (t) => t.system_attrs,
};

/** Summarises a study from its view and every trial. `catalogue` supplies plug-in descriptions. */
export function summarizeStudy(study: StudyView, trials: readonly TrialView[], catalogue: readonly CatalogueEntry[] = []): StudySummary {
  let used = 0;
  for (const t of trials) if (countsAgainstBudget(t.state, t.system_attrs)) used++;
  const multi = study.directions.length > 1;
  const imp = multi ? frontImportances(study.directions, trials) : paramImportances(trials);
  return summarizeFrom(study, trials, VIEW_ACCESS, catalogue, imp, multi ? frontFacts(study, trials) : null, used);
}

/**
 * `summarizeStudy` with the importances, the Pareto-front facts and the trials counted against
 * the budget computed by the caller (the server computes importances on a bounded sample, the
 * front from its COMPLETE trials only, and keeps the count: `StudyState.started`).
 */
export function summarizeFrom<T>(
  study: StudyView,
  trials: readonly T[],
  access: SummaryAccess<T>,
  catalogue: readonly CatalogueEntry[],
  imp: Importances,
  front: FrontFacts | null,
  used: number,
): StudySummary {
  // One pass, no copies: at 100,000 trials the summary is an agent's most frequent read (issue 19).
  const complete: T[] = [];
  const waiting: T[] = [];
  const runningAll: number[] = [];
  const recent = new Latest(20);
  for (const t of trials) {
    const state = access.state(t);
    if (state === "COMPLETE") {
      if (typeof access.value(t) === "number" && access.feasible(t) !== false) complete.push(t);
    } else if (state === "WAITING") waiting.push(t);
    else if (state === "RUNNING") runningAll.push(access.number(t));
    const f = access.finishedAt(t);
    if (f !== null) recent.add(f);
  }
  const finish = (t: T) => access.finishedAt(t) ?? 0;
  complete.sort((a, b) => finish(a) - finish(b) || access.number(a) - access.number(b));
  const bestSeq: number[] = [];
  let best: T | null = null;
  let bestValue = 0;
  let sinceBest = 0;
  for (const t of complete) {
    const v = access.value(t) as number;
    if (best === null || isBetter(study.direction, v, bestValue)) {
      best = t;
      bestValue = v;
      sinceBest = 0;
    } else sinceBest++;
    bestSeq.push(bestValue);
  }
  const half = complete.length >= 2 ? (bestSeq[Math.floor(complete.length / 2) - 1] ?? null) : null;
  const status = complete.length === 0 ? "no-data" : sinceBest >= PLATEAU_AFTER ? "plateau" : "improving";

  const span = recent.times.length >= 2 ? (recent.times[recent.times.length - 1] as number) - (recent.times[0] as number) : 0;
  const throughput = recent.times.length >= 2 && span > 0 ? ((recent.times.length - 1) / span) * 60 : null;

  const describe = (kind: "strategy" | "scheduler", name: string) =>
    catalogue.find((p) => p.kind === kind && p.name === name)?.description ?? null;
  const queued = waiting.slice(0, SUMMARY_QUEUED).map((t) => {
    const rationale = access.systemAttrs(t).rationale;
    return { trial: access.number(t), params: access.params(t), rationale: typeof rationale === "string" ? clipNote(rationale, access.number(t)) : null };
  });
  // A parameter that rounds to 0% influences nothing worth naming.
  // Shares of noise name no parameter as influential (param_importances shows them, with the caveat).
  const top = imp.noise ? [] : imp.importances.filter((i) => i.importance >= 0.005).slice(0, 3).map((i) => ({ param: i.param, importance: i.importance }));
  const nFinished = study.counts.COMPLETE + study.counts.PRUNED + study.counts.FAIL;
  const prunedShare = study.scheduler && nFinished > 0 ? study.counts.PRUNED / nFinished : null;

  const s: Omit<StudySummary, "text"> = {
    study: study.name,
    direction: study.direction,
    directions: [...study.directions],
    stopped: study.stopped,
    budget: study.max_trials === null ? null : { max_trials: study.max_trials, used },
    counts: study.counts,
    n_trials: study.n_trials,
    best: best ? { trial: access.number(best), value: bestValue, params: access.params(best) } : null,
    trend: { status, completions_since_best: sinceBest, best_at_half: half, best_so_far: thin(bestSeq, 20) },
    throughput_per_min: throughput === null ? null : roundRate(throughput),
    last_finished_at: recent.times.length > 0 ? (recent.times[recent.times.length - 1] as number) : null,
    strategy: { ...study.strategy, description: describe("strategy", study.strategy.name) },
    scheduler: study.scheduler ? { ...study.scheduler, description: describe("scheduler", study.scheduler.name) } : null,
    queued,
    queued_total: waiting.length,
    running: runningAll.slice(0, SUMMARY_RUNNING),
    running_total: runningAll.length,
    top_params: top,
    pruned_share: prunedShare,
    front,
  };
  const defaults = (kind: "strategy" | "scheduler", name: string) => catalogue.find((p) => p.kind === kind && p.name === name)?.defaults ?? null;
  return { ...s, text: summaryText(s, defaults) };
}

/** What a summary reads of the plug-in catalogue: descriptions, and the options a plug-in gets by default where known. */
export type CatalogueEntry = Pick<PluginDescription, "kind" | "name" | "description"> & { defaults?: Record<string, unknown> | null };

/**
 * A plug-in in the summary's text: its name, the options that differ from its defaults (all of
 * them when the defaults are unknown) and the first sentence of its description — the whole
 * description and every option are in the structured result and `catalogue`, not repeated on
 * every read of a study.
 */
function pluginLine(p: { name: string; options: Record<string, unknown>; description: string | null }, defaults: Record<string, unknown> | null): string {
  const changed = Object.entries(p.options).filter(([k, v]) => defaults === null || JSON.stringify(v) !== JSON.stringify(defaults[k]));
  const opts = changed.length > 0 ? ` ${JSON.stringify(Object.fromEntries(changed))}` : "";
  return `${p.name}${opts}${p.description ? ` — ${firstSentence(p.description)}` : ""}`;
}

/** The first sentence of a plug-in's description: up to the first full stop before a capital or the end. */
export function firstSentence(d: string): string {
  return d.match(/^[\s\S]*?[.!?](?=\s+[A-Z]|\s*$)/)?.[0] ?? d;
}

/** The `k` latest finish times seen, ascending (no sort of every trial). */
/** Epoch seconds as ISO 8601 UTC to the second. */
function isoSeconds(t: number): string {
  return new Date(Math.round(t) * 1000).toISOString().replace(".000Z", "Z");
}

class Latest {
  readonly times: number[] = [];
  constructor(private readonly k: number) {}

  add(f: number): void {
    const top = this.times;
    if (top.length === this.k) {
      if (f <= (top[0] as number)) return;
      top.shift();
    }
    let i = top.length;
    while (i > 0 && (top[i - 1] as number) > f) i--;
    top.splice(i, 0, f);
  }
}

/**
 * The queued trials a budget with room left will never hand out (the queue is served in order):
 * "Budget: 48 of max_trials 50" beside "4 queued" left the agent to work out that two never run.
 */
function beyondBudget(budget: { used: number; max_trials: number }, queued: number, andResume: string): string {
  const room = budget.max_trials - budget.used;
  const held = queued - room;
  if (held <= 0) return "";
  return `; room for ${room} more, so ${held} of the ${queued} queued trials ${held === 1 ? "is" : "are"} not handed out unless update_study raises max_trials${andResume}`;
}

function summaryText(s: Omit<StudySummary, "text">, defaults: (kind: "strategy" | "scheduler", name: string) => Record<string, unknown> | null): string {
  const c = s.counts;
  const lines: string[] = [];
  lines.push(
    `Study '${s.study}' (${s.directions.join("/")}): ${plural(s.n_trials, "trial")} — ${c.COMPLETE} complete, ${c.RUNNING} running, ${c.WAITING} queued, ${c.PRUNED} pruned, ${c.FAIL} failed.`,
  );
  // Why no trial is handed out, when none is: workers' loops have ended and ask_trial is refused.
  if (s.stopped) lines.push("Stopped (stop_study): no trial is handed out until resume_study; running trials may still finish.");
  // Stopped as well: lifting the budget alone hands out nothing, so its line says both.
  const andResume = s.stopped ? " and resume_study resumes the study" : "";
  if (s.budget)
    lines.push(
      s.budget.used >= s.budget.max_trials
        ? `Budget spent: ${s.budget.used} of max_trials ${plural(s.budget.max_trials, "trial")} asked; no trial is handed out until update_study raises max_trials (or sets it to null)${andResume}.`
        : `Budget: ${s.budget.used} of max_trials ${plural(s.budget.max_trials, "trial")} asked${beyondBudget(s.budget, c.WAITING, andResume)}.`,
    );
  if (s.front) {
    const f = s.front;
    lines.push(
      f.size === 0
        ? `No feasible trial has completed yet, so there is no Pareto front (${f.n_infeasible} infeasible).`
        : `Pareto front: ${plural(f.size, "trial")} (${f.n_feasible} feasible, ${f.n_infeasible} infeasible); hypervolume ${fmtHypervolume(f.hypervolume)}${f.hypervolume_exact ? "" : " (estimate)"} at [${(f.reference_point ?? []).map(fmt).join(", ")}] (${f.reference_point_source === "derived" ? "derived from the current front, which moves it: compare values over time with pareto_front's history" : f.reference_point_source}); ` +
            `${plural(f.completions_since_improvement, "completion")} since it last grew${f.completions_since_improvement >= PLATEAU_AFTER ? " (plateau)" : ""}. Read it with pareto_front.`,
    );
  } else if (s.best) {
    lines.push(`Best so far: trial ${s.best.trial} with value ${fmt(s.best.value)} at ${fmtParamsWithin(s.best.params, `get_trial ${s.best.trial} shows them all`)}.`);
    if (s.trend.status === "plateau")
      lines.push(`Trend: plateau — no improvement in the last ${plural(s.trend.completions_since_best, "completed trial")}; consider proposing trials in unexplored regions or stopping.`);
    else if (s.trend.best_at_half !== null && s.trend.best_at_half !== s.best.value)
      lines.push(`Trend: improving — best was ${fmt(s.trend.best_at_half)} halfway through the completed trials, now ${fmt(s.best.value)} (${plural(s.trend.completions_since_best, "completion")} since the last new best).`);
    else lines.push(`Trend: ${plural(s.trend.completions_since_best, "completed trial")} since the last new best.`);
  } else
    lines.push(
      s.counts.COMPLETE > 0
        ? `No COMPLETE trial has a usable value yet (each of the ${s.counts.COMPLETE} violates its constraints or diverged), so there is no best value.`
        : "No trial has completed yet, so there is no best value.",
    );
  // The rate of the last finishes, and when the last was: a rate alone reads the same long after
  // every worker has stopped.
  if (s.throughput_per_min !== null && s.last_finished_at !== null)
    lines.push(`Throughput: about ${fmt(s.throughput_per_min)} finished trials per minute over the last finishes; the latest at ${isoSeconds(s.last_finished_at)}.`);
  lines.push(`Strategy: ${pluginLine(s.strategy, defaults("strategy", s.strategy.name))}`);
  if (s.scheduler)
    lines.push(
      `Scheduler: ${pluginLine(s.scheduler, defaults("scheduler", s.scheduler.name))}${s.pruned_share !== null ? ` (${Math.round(s.pruned_share * 100)}% of finished trials pruned)` : ""}`,
    );
  if (s.queued_total > 0) {
    lines.push(`Queued proposals (served before the strategy's own suggestions): ${s.queued_total}`);
    for (const q of s.queued) lines.push(`  - trial ${q.trial}: ${fmtParamsWithin(q.params, `get_trial ${q.trial} shows them all`)}${q.rationale ? ` — "${q.rationale}"` : ""}`);
    if (s.queued_total > s.queued.length) lines.push(`  … and ${s.queued_total - s.queued.length} more, use list_trials with states ["WAITING"]`);
  }
  if (s.running_total > 0) {
    const more = s.running_total - s.running.length;
    lines.push(`Running now: trials ${s.running.join(", ")}${more > 0 ? ` and ${more} more, use list_trials with states ["RUNNING"]` : ""}.`);
  }
  if (s.top_params.length > 0)
    lines.push(`Most influential parameters${s.directions.length > 1 ? " for reaching the Pareto front" : ""}: ${s.top_params.map((p) => `${p.param} (${Math.round(p.importance * 100)}%)`).join(", ")}.`);
  return lines.join("\n");
}

function clipNote(s: string, trial: number): string {
  return s.length <= SUMMARY_NOTE_CHARS ? s : `${s.slice(0, SUMMARY_NOTE_CHARS)}… (${plural(s.length - SUMMARY_NOTE_CHARS, "more character")}, use get_trial ${trial})`;
}

/** A rate to two significant digits (10588 → 11000, 3.14159 → 3.1): the last 20 finishes say no more. */
export function roundRate(v: number): number {
  return v === 0 ? 0 : Number(v.toPrecision(2));
}

function thin(v: readonly number[], max: number): number[] {
  if (v.length <= max) return [...v];
  return Array.from({ length: max }, (_, i) => v[Math.round((i * (v.length - 1)) / (max - 1))] as number);
}

/** `formatNumber` (domain/format.ts) under its older name, for the MCP transport's imports. */
export const fmt = (v: unknown): string => formatNumber(v);

/**
 * A hypervolume for a reader. One past a float's range (objectives far from the reference point
 * multiply to Infinity, which JSON carries as null) says it overflowed rather than "Infinity"; null
 * (no front, so no reference point) says so rather than 0.
 */
export const fmtHypervolume = (hv: number | null): string =>
  hv === null ? "none (no Pareto front yet)" : Number.isFinite(hv) ? fmt(hv) : "overflowed (too large for a 64-bit float: give a reference_point nearer the front, or rescale the objectives)";

const paramText = ([k, v]: [string, unknown]): string => `${k}=${typeof v === "string" ? JSON.stringify(v) : fmt(v)}`;

export function fmtParams(p: Record<string, unknown>): string {
  return `{${Object.entries(p).map(paramText).join(", ")}}`;
}

/**
 * How much of a trial's params a briefing shows: 70 parameters with a transformer's dotted names
 * are ~4,000 characters a trial, so that one trial filled an agent's default result budget.
 */
export const PARAMS_CHARS = 600;

/**
 * The first of `p`'s params (in their order) whose `fmtParams` text fits `maxChars` (at least
 * one), and how many are left out.
 */
export function paramsWithin<T>(p: Record<string, T>, maxChars = PARAMS_CHARS): { shown: Record<string, T>; left_out: number } {
  const entries = Object.entries(p);
  let used = 2;
  let k = 0;
  for (const e of entries) {
    used += paramText(e).length + (k > 0 ? 2 : 0);
    if (used > maxChars && k > 0) break;
    k++;
  }
  return k === entries.length ? { shown: p, left_out: 0 } : { shown: Object.fromEntries(entries.slice(0, k)), left_out: entries.length - k };
}

/** `fmtParams` of the params that fit `maxChars`, then how many more there are and where to read them (`whole`). */
export function fmtParamsWithin(p: Record<string, unknown>, whole: string, maxChars = PARAMS_CHARS): string {
  const { shown, left_out } = paramsWithin(p, maxChars);
  return left_out === 0 ? fmtParams(p) : `${fmtParams(shown).slice(0, -1)}, …} (${plural(left_out, "more parameter")}: ${whole})`;
}
