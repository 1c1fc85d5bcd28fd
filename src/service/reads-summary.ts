/**
 * The study summary and the parameter importances computed where the trials live (the server), so
 * that a reader — `tuneport mcp --connect`, the dashboard — receives the answer instead of every
 * trial (issue 19, item 5: reads that stay fast at 100,000 trials).
 *
 * Bounded work and memory per read:
 * - the summary makes a few passes over the study's in-memory records with light copies (no trial
 *   view, no copy of params or intermediates), the rest comes from summary.ts unchanged;
 * - importances (importance.ts) read an evenly spaced sample, by trial number, of at most
 *   `IMPORTANCE_SAMPLE` COMPLETE trials (with several objectives, the non-dominated sorting that
 *   ranks them for the front's importances runs within a sample of `FRONT_IMPORTANCE_SAMPLE`), and say
 *   so (`sampled`, and a caveat); a result is reused while no trial completed, and a sampled one
 *   until the study has 1 % more COMPLETE trials (`studyImportances`). The ε² estimate's
 *   standard error at 5,000 trials is well below the 1 % the MCP text rounds to, so the sample
 *   changes what a reader sees only for parameters near a tie.
 * - a multi-objective study's front facts are computed from its COMPLETE trials' views (pareto.ts
 *   needs views); that part is still O(complete trials).
 */
import { feasibility } from "../domain/objectives.js";
import { invalidArgument } from "../domain/errors.js";
import type { Direction } from "../domain/trial.js";
import {
  IMPORTANCE_SAMPLE,
  type FrontTrial,
  type ImportanceTrial,
  type Importances,
  frontImportances,
  hasFrontRank,
  paramImportances,
} from "./importance.js";
import { frontCountsOf, frontRecordsOf } from "./aggregates.js";
import { type FrontFacts, frontFacts } from "./pareto.js";
import { type StudyState, type TrialRecord, countsOf, viewOf } from "./study-state.js";
import type { PluginCatalogue } from "./plugins.js";
import { type StudySummary, type SummaryAccess, summarizeFrom } from "./summary.js";
import { type StudyView, trialView } from "./views.js";

export { IMPORTANCE_SAMPLE };

/** Importances with what they were computed from. */
export interface SampledImportances extends Importances {
  /** COMPLETE trials with a finite value in the study (`n_trials` of them were used). */
  n_complete: number;
  /** True when `n_trials < n_complete`: an evenly spaced sample by trial number. */
  sampled: boolean;
}

/** At most `max` of `xs` (in their order), evenly spaced, the first and last kept. */
export function evenlySpaced<T>(xs: ArrayLike<T>, max: number): T[] {
  if (xs.length <= max) return Array.from(xs);
  if (max <= 1) return Array.from({ length: Math.max(0, max) }, (_, i) => xs[i] as T);
  return Array.from({ length: max }, (_, i) => xs[Math.round((i * (xs.length - 1)) / (max - 1))] as T);
}

/**
 * Parameter importances of a study's trials (in number order) from at most `max` COMPLETE ones.
 * `only`: the parameters to assess (the others are left out before computing, so shares,
 * caveats and the noise flag are those of these parameters alone). Never throws.
 */
export function importancesOf(trials: readonly ImportanceTrial[], max = IMPORTANCE_SAMPLE, only?: readonly string[]): SampledImportances {
  const done: ImportanceTrial[] = [];
  for (const t of trials) if (t.state === "COMPLETE" && typeof t.value === "number" && Number.isFinite(t.value)) done.push(t);
  const sample = evenlySpaced(done, max);
  const imp = paramImportances(only === undefined ? sample : sample.map((t) => ({ state: t.state, value: t.value, params: pick(t.params, only) })));
  return sampledFrom(imp, sample.length, done.length);
}

/**
 * Most COMPLETE trials the front's importances rank (fewer than `IMPORTANCE_SAMPLE`): the
 * non-dominated sort is quadratic, and at 5,000 trials with every trial on one front, or each its
 * own, it held the server's thread for 0.3-0.6 s per read (bench/front-importances.mjs); at 1,000 it
 * is 25x less. The ε² of 1,000 ranks is as steady as the summary's rounding needs.
 */
export const FRONT_IMPORTANCE_SAMPLE = 1000;

/**
 * Importances of reaching the Pareto front (importance.ts `frontImportances`) of a study with
 * `directions` (several), from at most `max` of its COMPLETE trials evenly spaced by number: the
 * ranks are those within the sample, so the sort stays O(max²) however big the study (measured in
 * docs/BENCHMARKS.md). `only` as `importancesOf`. Never throws.
 */
export function frontImportancesOf(directions: readonly Direction[], trials: readonly FrontTrial[], max = FRONT_IMPORTANCE_SAMPLE, only?: readonly string[]): SampledImportances {
  const done: FrontTrial[] = [];
  for (const t of trials) if (hasFrontRank(directions, t)) done.push(t);
  const sample = evenlySpaced(done, max);
  const imp = frontImportances(directions, only === undefined ? sample : sample.map((t) => ({ ...t, params: pick(t.params, only) })));
  return sampledFrom(imp, sample.length, done.length);
}

/** `imp`, computed on `used` of `complete` trials, with the caveat a sample takes. */
function sampledFrom(imp: Importances, used: number, complete: number): SampledImportances {
  const sampled = used < complete;
  if (sampled)
    imp.caveats.push(
      `computed on ${used} of ${complete} COMPLETE trials, evenly spaced by trial number (a bounded sample keeps this read fast on big studies)`,
    );
  return { ...imp, n_complete: complete, sampled };
}

/** The trial's own values of `names` (Object.prototype's members, `toString` or `__proto__`, are no parameter). */
function pick(params: ImportanceTrial["params"], names: readonly string[]): ImportanceTrial["params"] {
  return Object.fromEntries(names.filter((n) => Object.hasOwn(params, n)).map((n) => [n, params[n]])) as ImportanceTrial["params"];
}

/** What a `param_importances` request may ask besides the study (schemas.ts `paramImportancesArgs`). */
export interface ImportanceQuery {
  readonly params?: readonly string[] | undefined;
  readonly objective?: number | undefined;
  readonly target_values?: readonly (readonly [number, number])[] | undefined;
}

/**
 * The importances a study's `param_importances` op answers: `studyImportances` (for a study with
 * several objectives, those of reaching its Pareto front: `frontImportancesOf`, Optuna 5's default
 * there). `q.objective` ranks that objective of several instead; `q.target_values` ranks the given
 * values of COMPLETE trials (the Python client's `target=`); `q.params` assesses those parameters
 * only. @throws INVALID_ARGUMENT (`importanceQueryError`).
 */
export function importancesFor(s: StudyState, q: ImportanceQuery = {}): SampledImportances {
  const dirs = s.study.config.directions;
  const err = importanceQueryError(s, q);
  if (err !== null) throw invalidArgument(err);
  const only = q.params === undefined ? undefined : [...new Set(q.params)];
  if (q.target_values !== undefined) return importancesOf(targetTrials(s, q.target_values), IMPORTANCE_SAMPLE, only);
  if (dirs.length > 1 && q.objective === undefined) return only === undefined ? studyImportances(s) : frontImportancesOf(dirs, s.trials, FRONT_IMPORTANCE_SAMPLE, only);
  if (dirs.length > 1) {
    const k = q.objective as number;
    const trials: ImportanceTrial[] = [];
    for (const t of s.trials) if (t.state === "COMPLETE") trials.push({ state: t.state, value: t.values?.[k] ?? null, params: t.params });
    return importancesOf(trials, IMPORTANCE_SAMPLE, only);
  }
  return only === undefined ? studyImportances(s) : importancesOf(s.trials, IMPORTANCE_SAMPLE, only);
}

/**
 * Why a `param_importances` request cannot be answered, or null: an objective the study does not
 * have, both `objective` and `target_values`, target values of a trial that is not COMPLETE or of one
 * trial twice, or `params` naming a parameter no COMPLETE trial has (Optuna's ValueError for it).
 */
export function importanceQueryError(s: StudyState, q: ImportanceQuery): string | null {
  const dirs = s.study.config.directions;
  if (q.objective !== undefined && q.target_values !== undefined)
    return "pass objective or target_values, not both: target_values replace the objective's values";
  if (q.objective !== undefined && q.objective >= dirs.length)
    return `objective ${q.objective} is out of range: study '${s.study.name}' has ${dirs.length} objective${dirs.length > 1 ? "s" : ""} (0 to ${dirs.length - 1})`;
  if (q.target_values !== undefined) {
    const seen = new Set<number>();
    for (const [i, [n]] of q.target_values.entries()) {
      const t = s.trials[n];
      if (t === undefined) return `target_values[${i}] names trial ${n}, and study '${s.study.name}' has ${s.trials.length} trials (0 to ${s.trials.length - 1})`;
      if (t.state !== "COMPLETE") return `target_values[${i}] names trial ${n}, which is ${t.state}: only COMPLETE trials have target values`;
      if (seen.has(n)) return `target_values names trial ${n} twice`;
      seen.add(n);
    }
  }
  if (q.params !== undefined && q.params.length > 0) {
    // Each trial's own parameters are looked up (`toString` is no parameter), the fewer of them
    // and the names still missing: 1,000 names by 100,000 trials held the event loop 1.8 s.
    const missing = new Set(q.params);
    for (const t of s.trials) {
      if (t.state !== "COMPLETE") continue;
      const own = Object.keys(t.params);
      if (own.length < missing.size) for (const n of own) missing.delete(n);
      else for (const n of missing) if (Object.hasOwn(t.params, n)) missing.delete(n);
      if (missing.size === 0) break;
    }
    if (missing.size > 0)
      return `Study must contain at least one completed trial for each specified parameter. Missing parameters: ${JSON.stringify([...missing])} (study '${s.study.name}')`;
  }
  return null;
}

/** The study's COMPLETE trials named in `values` (checked by `importanceQueryError`), in number order, each with its given value. */
function targetTrials(s: StudyState, values: readonly (readonly [number, number])[]): ImportanceTrial[] {
  return [...values]
    .sort((a, b) => a[0] - b[0])
    .map(([n, value]) => ({ state: "COMPLETE", value, params: (s.trials[n] as TrialRecord).params }));
}

/** COMPLETE-count growth after which a sampled importances result is computed again. */
export const IMPORTANCE_REFRESH = 0.01;

const importanceCache = new WeakMap<StudyState, { complete: number; imp: SampledImportances }>();

/**
 * `importancesOf` for a study, reusing a sampled result until its COMPLETE count grows by
 * `IMPORTANCE_REFRESH` (1 %): past `IMPORTANCE_SAMPLE` trials a few more completions cannot move a
 * 5,000-trial estimate, and a big study's reads then cost nothing. An unsampled result is reused
 * only while no trial completed, so a small study's importances are always current.
 */
export function studyImportances(s: StudyState): SampledImportances {
  const complete = countsOf(s).COMPLETE;
  const hit = importanceCache.get(s);
  // Nothing completed since: the same COMPLETE trials (a COMPLETE trial's params and values never
  // change), so the same result, sampled or not.
  if (hit && complete === hit.complete) return hit.imp;
  if (hit && hit.imp.sampled && complete > hit.complete && complete < hit.complete * (1 + IMPORTANCE_REFRESH)) return hit.imp;
  const dirs = s.study.config.directions;
  const imp = dirs.length > 1 ? frontImportancesOf(dirs, s.trials) : importancesOf(s.trials);
  importanceCache.set(s, { complete, imp });
  return imp;
}

/** How the summary reads the server's records: in place, no copy per trial (at 100,000 trials the copies and their collection were most of the read). */
const RECORD_ACCESS: SummaryAccess<TrialRecord> = {
  number: (t) => t.number,
  state: (t) => t.state,
  value: (t) => t.value,
  feasible: feasibility,
  finishedAt: (t) => (t.finishedAt === null ? null : t.finishedAt / 1000),
  params: (t) => t.params,
  systemAttrs: (t) => t.systemAttrs,
};

/** The front facts from the study's record trials (front-records.ts), or from every COMPLETE trial when it has too many to keep. */
function studyFrontFacts(s: StudyState, study: StudyView): FrontFacts {
  const fr = frontRecordsOf(s.agg, s.trials);
  if (fr === null) return frontFacts(study, s.trials.filter((t) => t.state === "COMPLETE").map((t) => trialView(t)));
  const completeAfter = (number: number) => {
    let n = 0;
    for (let i = number + 1; i < s.trials.length; i++) if ((s.trials[i] as TrialRecord).state === "COMPLETE") n++;
    return n;
  };
  return frontFacts(study, fr.records, { ...frontCountsOf(s.agg), completeAfter });
}

/**
 * The study summary of summary.ts from the server's records, with importances on a bounded sample
 * (`importances_sampled` says when). `plugins` supplies the plug-in descriptions (one it lacks: `descriptionsFor`).
 */
export function summaryOf(s: StudyState, plugins: PluginCatalogue): StudySummary & { importances_sampled: boolean } {
  const catalogue = plugins.descriptionsFor(s.study.config);
  const study = viewOf(s);
  const imp = studyImportances(s);
  const front = study.directions.length > 1 ? studyFrontFacts(s, study) : null;
  const sum = summarizeFrom(study, s.trials, RECORD_ACCESS, catalogue, imp, front, s.started);
  const note = imp.sampled && sum.top_params.length > 0 ? `\n(Influence estimated from ${imp.n_trials} of ${imp.n_complete} complete trials, evenly spaced.)` : "";
  return { ...sum, text: sum.text + note, importances_sampled: imp.sampled };
}
