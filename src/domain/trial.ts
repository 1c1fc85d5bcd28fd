/**
 * Trials and studies as plain, immutable-by-convention data. The service owns the only
 * mutable copies; everything handed to strategies, schedulers and transports is read-only.
 */
import { z } from "zod";
import type { Distribution, Params, SearchSpace } from "./distributions.js";

export const TRIAL_STATES = ["WAITING", "RUNNING", "COMPLETE", "PRUNED", "FAIL"] as const;
export type TrialState = (typeof TRIAL_STATES)[number];

/** States a trial never leaves. */
export const FINISHED_STATES: ReadonlySet<TrialState> = new Set(["COMPLETE", "PRUNED", "FAIL"]);
export const isFinished = (s: TrialState): boolean => FINISHED_STATES.has(s);

/**
 * How a finished trial finished, known by its system attributes (service/steering.ts): a queued
 * trial cancelled with cancel_trial (FAIL, `cancelled`) and a result recorded with add_trial
 * (`added`) were never evaluated; every other finish was (a tell, a prune, a lost lease). Null
 * while the trial is not finished. The one rule behind get_study's `finishes` (service/aggregates.ts)
 * and the trials wait_for_progress lists as finished.
 */
export type FinishHow = "evaluated" | "cancelled" | "added";
export function finishHow(state: TrialState, systemAttrs: Readonly<Record<string, unknown>>): FinishHow | null {
  if (!isFinished(state)) return null;
  if (systemAttrs.added === true) return "added";
  if (systemAttrs.cancelled === true) return "cancelled";
  return "evaluated";
}

/**
 * Whether a trial counts against its study's trial budget (`max_trials`): every asked trial, but
 * not a queued one, a cancelled proposal or a result recorded with add_trial (never asked), nor a
 * failed trial whose retry was queued (the retry counts when it is asked).
 */
export function countsAgainstBudget(state: TrialState, systemAttrs: Readonly<Record<string, unknown>>): boolean {
  return state !== "WAITING" && systemAttrs.retried_as === undefined && systemAttrs.cancelled === undefined && systemAttrs.added === undefined;
}

export type Direction = "minimize" | "maximize";

/** One intermediate result reported during training. */
export interface IntermediateValue {
  readonly step: number;
  readonly value: number;
}

/** A trial as strategies, schedulers and readers see it. */
export interface Trial {
  /** Storage-wide unique id. */
  readonly id: number;
  /** 0-based, dense, unique within its study; never reused. */
  readonly number: number;
  readonly state: TrialState;
  /** Values chosen so far (declared space and define-by-run). */
  readonly params: Params;
  /** The distribution each param was drawn from. Same keys as `params`. */
  readonly distributions: Record<string, Distribution>;
  /**
   * The objective values, one per study direction (domain/objectives.ts); set for COMPLETE, and
   * for PRUNED in a one-objective study (the last intermediate value, or the value told).
   */
  readonly values: readonly number[] | null;
  /** `values[0]` in a one-objective study; null in a multi-objective one (protocol v1's field). */
  readonly value: number | null;
  /** Constraint values told with the result (c ≤ 0 satisfied), or null when none were told. */
  readonly constraints: readonly number[] | null;
  /** Ordered by step; at most one value per step. */
  readonly intermediate: readonly IntermediateValue[];
  readonly userAttrs: Record<string, unknown>;
  /** Attributes owned by the server, strategies and schedulers (budget, bracket, retry_of, ...). */
  readonly systemAttrs: Record<string, unknown>;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

/** Named plug-in selection with its options, as stored with the study. */
export interface PluginConfig {
  readonly name: string;
  readonly options: Record<string, unknown>;
}

/** What to do with trials whose worker disappeared. */
export interface RetryPolicy {
  /** How many times a trial's params are re-queued after its lease expired. */
  readonly maxRetries: number;
  /** Whether re-queued trials also retry after an explicit `fail` tell. */
  readonly retryOnFail: boolean;
  /**
   * Whether a re-queued trial starts with the failed attempt's intermediate values (for
   * workers that resume from a checkpoint). Absent in studies stored before it existed: false.
   */
  readonly keepIntermediate?: boolean;
}

/** The retry policy of a study created without `retry`. */
export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 2, retryOnFail: false, keepIntermediate: false };

export interface StudyConfig {
  /** One direction per objective; a single-objective study has one (domain/objectives.ts). */
  readonly directions: readonly Direction[];
  /** `directions[0]`, kept for one-objective readers and protocol v1 (stored configs have it). */
  readonly direction: Direction;
  /**
   * The hypervolume reference point given at creation, in the objectives' units; absent: derived
   * from the Pareto front (domain/objectives.ts `referencePointOf`).
   */
  readonly referencePoint?: readonly number[];
  /** Declared space; define-by-run parameters are added per trial. */
  readonly space: SearchSpace;
  readonly strategy: PluginConfig;
  readonly scheduler: PluginConfig | null;
  /** Root seed: every random choice of the study derives from it. */
  readonly seed: number;
  readonly retry: RetryPolicy;
  /** Lease time-to-live in seconds; workers heartbeat well within it. */
  readonly leaseTtlS: number;
  /**
   * The study's budget: how far one trial trains at most, in the client's step units (epochs,
   * steps). Schedulers that race trials over resources (asha, hyperband, bohb, and patient
   * wrapping one) take it as their `max_resource` unless their options name one. Absent: the
   * study has no budget (and in studies stored before it existed).
   */
  readonly maxResource?: number;
  /**
   * The study-wide trial budget: at most this many trials are ever started by `ask`, across all
   * workers (a trial re-queued after its worker vanished counts once). Absent: no budget.
   */
  readonly maxTrials?: number;
  /**
   * Free-text notes on the study (an agent's or operator's log of what was tried and why), set by
   * `update_study`; absent when none. Not configuration: `load_if_exists` never compares them.
   */
  readonly notes?: string;
  /**
   * The settings `update_study` has changed, as the study was created (the first change of each
   * keeps it): every worker's script creates the study with `load_if_exists` and these values,
   * and still loads it once an agent has steered it. Not configuration: never shown; exported (as
   * `as_created`, service/study-io.ts) so that a moved study still loads for them.
   */
  readonly asCreated?: AsCreated;
  /**
   * The option names the request that set the strategy and the scheduler gave (create_study, or
   * update_study for the plug-in it set), so that describe_study tells an option given at its
   * default from one left out, and one derived from others (ASHA's min_resource, the study's
   * budget) from one given. Absent in studies stored before it existed.
   */
  readonly optionsGiven?: OptionsGiven;
}

/** See `StudyConfig.optionsGiven`: `scheduler` is null when the study has none. */
export interface OptionsGiven {
  readonly strategy: readonly string[];
  readonly scheduler: readonly string[] | null;
}

/** See `StudyConfig.asCreated`: a key is present once update_study changed that setting. */
export interface AsCreated {
  readonly space?: SearchSpace;
  readonly strategy?: PluginConfig;
  readonly scheduler?: PluginConfig | null;
  readonly maxTrials?: number | null;
}

export interface Study {
  readonly id: number;
  readonly name: string;
  readonly config: StudyConfig;
  readonly userAttrs: Record<string, unknown>;
  readonly createdAt: number;
  /** Stopped by `stop_study`: `ask` hands out nothing until `resume_study`. Absent: false. */
  readonly stopped?: boolean;
}

/**
 * A stored configuration in today's shape: configs written before studies had several objectives
 * carry only `direction`, and get `directions: [direction]`. Every storage applies it on load.
 */
export function upgradeStudyConfig(c: StudyConfig): StudyConfig {
  const raw = c as StudyConfig & { directions?: readonly Direction[] };
  if (Array.isArray(raw.directions) && raw.directions.length > 0) return c;
  return { ...c, directions: [c.direction] };
}

/**
 * The values of a one-objective result as the vector `values` holds (null for no value), so
 * every writer derives `value` and `values` the same way.
 */
export function valueFields(nObjectives: number, values: readonly number[] | null): { values: readonly number[] | null; value: number | null } {
  return { values, value: nObjectives === 1 && values !== null ? (values[0] ?? null) : null };
}

/** Objective sign: better(a, b) is true when a is strictly better than b for the direction. */
export function isBetter(direction: Direction, a: number, b: number): boolean {
  return direction === "minimize" ? a < b : a > b;
}

/**
 * The best feasible COMPLETE trial of a one-objective study, or null (also for a
 * multi-objective study, which has a Pareto front instead). Ties go to the earlier trial.
 */
export function bestTrial(directions: readonly Direction[], trials: Iterable<Trial>): Trial | null {
  if (directions.length !== 1) return null;
  const direction = directions[0] as Direction;
  let best: Trial | null = null;
  for (const t of trials) {
    if (t.state !== "COMPLETE" || t.value === null) continue;
    if (t.constraints !== null && t.constraints.some((c) => c > 0)) continue;
    if (best === null || isBetter(direction, t.value, best.value as number)) best = t;
  }
  return best;
}

/** A value as a refusal names it: the number itself, else its kind (`a string`, `nil`). */
function shownValue(v: unknown): string {
  if (typeof v === "number") return String(v);
  if (v === null) return "nil";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "a map" : `a ${typeof v}`;
}
/**
 * Why a report's `step` is refused, naming what is allowed (zod's own words were "expected number,
 * received NaN"). Fractions are allowed: steps are in the client's units, seconds included.
 */
export function stepRefusal(step: unknown): string {
  const allowed = "a finite number >= 0, the trial's progress in your units (epochs, iterations, seconds; fractions allowed)";
  return step === undefined ? `is required: ${allowed}` : `must be ${allowed}, not ${shownValue(step)}`;
}
/** A report's step (see `stepRefusal`), without a description (MCP's tool list has a size budget). */
export const reportStepNumber = z.number({ error: (issue) => stepRefusal(issue.input) }).min(0, { error: (issue) => stepRefusal(issue.input) });
