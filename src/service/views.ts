/**
 * The shapes the service hands to every transport (ZeroMQ, MCP, CLI): plain,
 * snake_case, MessagePack- and JSON-safe objects. PROTOCOL.md documents them.
 * Times are epoch seconds (float), as Python's `time.time()`.
 */
import type { Distribution, Params, SearchSpace } from "../domain/distributions.js";
import { feasibility } from "../domain/objectives.js";
import type { TrialStart } from "../domain/start.js";
import type { SummaryReader } from "../storage/storage.js";
import { type Direction, type PluginConfig, type Study, type StudyConfig, TRIAL_STATES, type Trial, type TrialState } from "../domain/trial.js";

export interface TrialView {
  number: number;
  state: TrialState;
  params: Params;
  distributions: Record<string, Distribution>;
  /** `values[0]` in a one-objective study, else null (protocol v1's field). */
  value: number | null;
  /** One value per objective; null without a result. */
  values: number[] | null;
  /** Constraint values told with the result (c ≤ 0 satisfied), or null. */
  constraints: number[] | null;
  /** COMPLETE trials: whether every constraint holds (true without constraints); null otherwise. */
  feasible: boolean | null;
  /** [step, value] pairs in step order. */
  intermediate: [number, number][];
  user_attrs: Record<string, unknown>;
  system_attrs: Record<string, unknown>;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** Seconds from start to finish (or to now while running). */
  duration_s: number | null;
}

/** A trial's hyperparameter trajectory (`trajectory` op). */
export interface TrajectoryView {
  trial: number;
  state: TrialState;
  /** The params in force now. */
  params: Params;
  /** Starting point (step null), then the params after each applied update, in step order. */
  trajectory: { step: number | null; value: number | null; params: Params }[];
  /** True when long trajectories were thinned to every other entry to bound their size. */
  thinned: boolean;
}

export interface LeaseView {
  token: string;
  /** Epoch seconds. */
  expires_at: number;
  ttl_s: number;
}

export interface AskResult {
  trial: TrialView;
  lease: LeaseView;
  /** How far to train, in the client's step units, when a scheduler sets it (also `start.budget`). */
  budget: number | null;
  /** How to start the trial: budget, rung, bracket, a run to resume, a checkpoint to restore. */
  start: TrialStart;
  /** Hyperparameters may change during training (PBT, hypergradient): watch report replies. */
  study: string;
}

export type { TrialStart };

/** A trial's hyperparameter schedule (`lineage` op): PBT's answer to "how was the best model trained". */
export interface LineageView {
  study: string;
  trial: number;
  state: TrialState;
  /** The trial's best finite reported value (its COMPLETE value when it never reported). */
  value: number | null;
  /** The trial's own step of that report (null when it never reported). */
  step: number | null;
  /** The model's training age at that report, in step units (differs from `step` after an exploit). */
  until_step: number;
  /** `params` apply from model age `from_step` on; `trial`/`trial_step` say who trained then. */
  schedule: { from_step: number; params: Params; trial: number; trial_step: number }[];
  /** False when the strategy keeps no lineage (it never changes a running trial's params). */
  tracked: boolean;
}

export interface StudyView {
  name: string;
  /** `directions[0]` (protocol v1). */
  direction: Direction;
  /** One direction per objective. */
  directions: Direction[];
  /** The hypervolume reference point given at creation, or null (derived from the front). */
  reference_point: number[] | null;
  space: SearchSpace;
  strategy: PluginConfig;
  scheduler: PluginConfig | null;
  /** The option names the request that set each plug-in gave (`StudyConfig.optionsGiven`); absent in studies stored before. */
  options_given?: { strategy: string[]; scheduler: string[] | null };
  seed: number;
  retry: { max_retries: number; retry_on_fail: boolean; keep_intermediate: boolean };
  lease_ttl_s: number;
  /** The study-wide trial budget, or null. */
  max_trials: number | null;
  /** The study's budget (how far one trial trains at most), or null. */
  max_resource: number | null;
  /** True after `stop_study`, until `resume_study`. */
  stopped: boolean;
  /** The study's notes (`update_study`), or null. */
  notes: string | null;
  /** Define-by-run parameters seen so far (not declared in `space`), with their distributions. */
  define_by_run: SearchSpace;
  user_attrs: Record<string, unknown>;
  created_at: number;
  n_trials: number;
  counts: Record<TrialState, number>;
  best_trial: TrialView | null;
}

const secs = (ms: number | null): number | null => (ms === null ? null : ms / 1000);

export function trialView(t: Trial, now: number = Date.now()): TrialView {
  return {
    number: t.number,
    state: t.state,
    params: { ...t.params },
    distributions: { ...t.distributions },
    value: t.value,
    values: t.values === null ? null : [...t.values],
    constraints: t.constraints === null ? null : [...t.constraints],
    feasible: feasibility(t),
    intermediate: t.intermediate.map((iv) => [iv.step, iv.value]),
    user_attrs: { ...t.userAttrs },
    system_attrs: { ...t.systemAttrs },
    created_at: t.createdAt / 1000,
    started_at: secs(t.startedAt),
    finished_at: secs(t.finishedAt),
    duration_s: t.startedAt === null ? null : ((t.finishedAt ?? now) - t.startedAt) / 1000,
  };
}

/**
 * A study's configuration in wire form (views and exports share it). `directions` and
 * `reference_point` appear only when they say more than `direction`, so exports of
 * one-objective studies keep their bytes; the study view always carries both.
 */
export function configView(c: StudyConfig) {
  return {
    direction: c.direction,
    ...(c.directions.length > 1 ? { directions: [...c.directions] } : {}),
    ...(c.referencePoint !== undefined ? { reference_point: [...c.referencePoint] } : {}),
    space: c.space,
    strategy: c.strategy,
    scheduler: c.scheduler,
    seed: c.seed,
    retry: { max_retries: c.retry.maxRetries, retry_on_fail: c.retry.retryOnFail, keep_intermediate: c.retry.keepIntermediate ?? false },
    lease_ttl_s: c.leaseTtlS,
    // Only when set, so exports of studies without a budget keep their bytes.
    ...(c.maxTrials !== undefined ? { max_trials: c.maxTrials } : {}),
    ...(c.maxResource !== undefined ? { max_resource: c.maxResource } : {}),
    ...(c.notes !== undefined ? { notes: c.notes } : {}),
    // The option names given for the plug-ins (describe_study's "set"); absent in studies stored before.
    ...(c.optionsGiven !== undefined ? { options_given: { strategy: [...c.optionsGiven.strategy], scheduler: c.optionsGiven.scheduler && [...c.optionsGiven.scheduler] } } : {}),
  };
}

export function studyView(
  s: Study,
  counts: Record<TrialState, number>,
  best: Trial | null,
  seen: ReadonlyMap<string, Distribution> = new Map(),
): StudyView {
  const defineByRun: SearchSpace = {};
  for (const [k, d] of seen) if (!(k in s.config.space)) defineByRun[k] = d;
  return {
    name: s.name,
    ...configView(s.config),
    directions: [...s.config.directions],
    reference_point: s.config.referencePoint ? [...s.config.referencePoint] : null,
    max_trials: s.config.maxTrials ?? null,
    max_resource: s.config.maxResource ?? null,
    stopped: s.stopped ?? false,
    notes: s.config.notes ?? null,
    define_by_run: defineByRun,
    user_attrs: s.userAttrs,
    created_at: s.createdAt / 1000,
    n_trials: Object.values(counts).reduce((a, b) => a + b, 0),
    counts,
    best_trial: best ? trialView(best) : null,
  };
}

/** What `summaryView` and `summaryViews` read. */
export type SummarySource = Pick<SummaryReader, "studySummary" | "distinctDistributions" | "studySummaries">;

/** A study's view as `get_study` answers it, from SQL: summary, counts and define-by-run parameters, no trial loaded (`summaryViews` of one). */
export async function summaryView(storage: SummarySource, study: Study): Promise<StudyView> {
  return (await summaryViews(storage, [study]))[0] as StudyView;
}

/** `summaryView` of each of `studies`, in their order, read together (storage.ts `studySummaries`: a constant number of statements). */
export async function summaryViews(storage: SummarySource, studies: readonly Study[]): Promise<StudyView[]> {
  if (studies.length === 0) return [];
  const read = await storage.studySummaries(studies.map((s) => ({ id: s.id, direction: s.config.direction })));
  const none = Object.fromEntries(TRIAL_STATES.map((st) => [st, 0])) as Record<TrialState, number>;
  return studies.map((s) => {
    const r = read.get(s.id);
    return r ? viewOfSummary(s, r.counts, r.best, r.distributions) : viewOfSummary(s, { ...none }, null, []);
  });
}

function viewOfSummary(study: Study, counts: Record<TrialState, number>, best: Trial | null, distributions: readonly Record<string, Distribution>[]): StudyView {
  // Define-by-run parameters, first use wins (as the service's paramDists).
  const seen = new Map<string, Distribution>(Object.entries(study.config.space));
  for (const list of distributions) for (const [k, d] of Object.entries(list)) if (!seen.has(k)) seen.set(k, d);
  return studyView(study, counts, best, seen);
}

/**
 * The views (`summaryViews`: all of them read together) of those of `studies` that `here` says are not
 * in memory here (several servers: ownership.ts `foreignStudies`). `here` is asked again once they are
 * read: a study it named that was given up during that read (a renewal found it lost) is gone from
 * memory by then, and is read too (again until none is); before, it was in neither list
 * (listing-lost-meanwhile.test.ts). Read one at a time (two statements each), 1,000 studies of another
 * server took 770-990 ms to list (docs/BENCHMARKS.md "Listing another server's studies").
 */
export async function storedViews(storage: SummarySource, studies: readonly Study[], here: (name: string) => boolean): Promise<StudyView[]> {
  let skipped = studies.filter((s) => here(s.name));
  const out = await summaryViews(storage, studies.filter((s) => !here(s.name)));
  for (let gone = skipped.filter((s) => !here(s.name)); gone.length > 0; gone = skipped.filter((s) => !here(s.name))) {
    skipped = skipped.filter((s) => here(s.name));
    out.push(...(await summaryViews(storage, gone)));
  }
  return out;
}

/** The study user attribute where the Python client's `set_metric_names` keeps the objectives' names. */
export const METRIC_NAMES_ATTR = "tuneport:metric_names";

/**
 * The objectives' names given to `set_metric_names`: one distinct string per objective, else null
 * (plots and tables then say `objective i` / `values_i`, as Optuna does without names).
 */
export function metricNamesOf(userAttrs: Readonly<Record<string, unknown>>, objectives: number): string[] | null {
  const names = userAttrs[METRIC_NAMES_ATTR];
  if (!Array.isArray(names) || names.length !== objectives || !names.every((n) => typeof n === "string" && n !== "")) return null;
  return new Set(names).size === names.length ? (names as string[]) : null;
}
