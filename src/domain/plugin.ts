/**
 * The plug-in contract: what a strategy (decides *what to try next*) and a scheduler (decides
 * *whether a running trial goes on*) receive and return. Both families implement these types;
 * neither imports the other, and the service drives both through them (docs/PLUGINS.md).
 *
 * Contract (shared by every implementation; `src/testing/strategy.case.ts` and
 * `src/testing/scheduler.case.ts` check it):
 * - A plug-in is a function of the study's history. Anything it must remember between calls is
 *   either recomputed from `trials` or written into trial `systemAttrs` through its return
 *   values, so a restarted server makes the same choices. In-memory caches (e.g. a GP's
 *   warm-start hyperparameters) are allowed if they only speed things up: a fresh instance
 *   must decide exactly as a long-lived one.
 * - All randomness comes from `req.rng`, which the service derives from
 *   (study seed, trial number, purpose): same seed + same history → same answer, whichever
 *   thread computes it.
 * - Values returned are valid for their distributions (the service re-checks).
 * - A strategy's `suggest` may be expensive; a factory that sets `offload: true` is run in a
 *   worker thread so the event loop keeps serving heartbeats and tells. A scheduler's calls are
 *   cheap and synchronous: they run on the event loop.
 * (Shape after OSS Vizier's Pythia policies and Optuna's BaseSampler/BasePruner: relative
 * sampling for the declared space and, with `infersSpace`, the intersection search space;
 * independent sampling for the other define-by-run parameters.)
 */
import type { z } from "zod";
import type { Rng } from "../math/rng.js";
import type { Decision } from "./decision.js";
import type { Distribution, ParamValue, Params, SearchSpace } from "./distributions.js";
import type { Direction, PluginConfig, Trial } from "./trial.js";

/** What a plug-in may know about its study. */
export interface StudyContext {
  readonly name: string;
  /**
   * One direction per objective. A trial's `values` follow them and its `constraints` (c ≤ 0
   * feasible) come with it; see domain/objectives.ts. A factory that handles more than one
   * objective says so with `multiObjective`; the others only see one-objective studies.
   */
  readonly directions: readonly Direction[];
  /** `directions[0]`: what a one-objective strategy or scheduler reads. */
  readonly direction: Direction;
  /** The declared space (may be empty for pure define-by-run studies). */
  readonly space: SearchSpace;
  readonly seed: number;
  readonly strategy: PluginConfig;
  readonly scheduler: PluginConfig | null;
}

/** A request for the params of a new trial (strategies) or its budget (schedulers' `beforeSuggest`). */
export interface SuggestRequest {
  readonly study: StudyContext;
  /**
   * Every trial so far, in number order, RUNNING and WAITING included; not the new one. For an
   * `infersSpace` strategy a RUNNING trial may be a copy whose params also hold its stored proposals
   * for the intersection's parameters its objective has not suggested yet (service/trial-params.ts
   * `trialsWithProposals`); `ParamRequest.trials` holds the stored trials.
   */
  readonly trials: readonly Trial[];
  /**
   * The number the new trial will get; for a queued trial that lacks parameters the strategy
   * models (`StrategyFactory.infersSpace`), its own number, the trial WAITING in `trials`.
   */
  readonly trialNumber: number;
  readonly rng: Rng;
}

/** The params and attributes of a new trial. */
export interface Suggestion {
  /**
   * Values for the declared space. Parameters left out are drawn later through
   * `suggestParam` (or uniformly at random when the strategy has none).
   */
  readonly params: Params;
  /** Attributes to store on the new trial (e.g. a bracket, a generation, a budget). */
  readonly systemAttrs?: Record<string, unknown>;
}

/** A request for one define-by-run parameter of a running trial. */
export interface ParamRequest {
  readonly study: StudyContext;
  readonly trials: readonly Trial[];
  /** The trial asking, with the params it already has. */
  readonly trial: Trial;
  readonly name: string;
  readonly distribution: Distribution;
  readonly rng: Rng;
}

/**
 * Statistics of a study kept up to date by the service as trials change, so that a plug-in
 * can read them in O(1) instead of scanning `trials` (which costs O(n) per report).
 */
export interface StudyStats {
  /** How many trials are COMPLETE. */
  readonly completeCount: number;
  /**
   * The values COMPLETE trials reported at exactly `step`, as losses (minimize: the value;
   * maximize: its negation; NaN: +Infinity), ascending. Read-only; do not keep it.
   */
  completeLossesAt(step: number): readonly number[];
}

/** An intermediate value reported by a running trial. */
export interface ReportRequest {
  readonly study: StudyContext;
  readonly trials: readonly Trial[];
  /** The reporting trial, with this report's value already in `intermediate`. */
  readonly trial: Trial;
  readonly step: number;
  readonly value: number;
  /** Extra data sent with the report (checkpoint location, hypergradients, ...). */
  readonly data: Record<string, unknown>;
  readonly rng: Rng;
  /** The study's statistics (absent where a caller has none, e.g. some tests: scan `trials`). */
  readonly stats?: StudyStats;
}

/** A trial that has just been finished by `tell`. */
export interface FinishRequest {
  readonly study: StudyContext;
  /** Every trial, with the finished one (`trial`) in its new state. */
  readonly trials: readonly Trial[];
  readonly trial: Trial;
}

/**
 * A decision plus attributes to merge into the reporting trial's `systemAttrs`. An `update`
 * decision's params are merged into the trial by the service.
 */
export interface DecisionResult {
  readonly decision: Decision;
  readonly systemAttrs?: Record<string, unknown>;
}

/** A strategy instance: one per study, created by its factory from validated options. */
export interface Strategy {
  /** Values for a new trial. May throw TuneportError SEARCH_SPACE_EXHAUSTED. */
  suggest(req: SuggestRequest): Suggestion;
  /** One define-by-run parameter the trial did not get from `suggest`. */
  suggestParam?(req: ParamRequest): ParamValue;
  /** Strategies that steer running trials (PBT, hypergradient) answer reports too. */
  onReport?(req: ReportRequest): DecisionResult | null;
  /**
   * A last, cheap look at a suggestion under the study's write lock, with the history as it is
   * when the new trial is committed (`suggest` ran outside the lock, so trials may have reported
   * since). PBT re-checks that the donor checkpoint a refill points at still exists.
   */
  revise?(req: SuggestRequest, suggestion: Suggestion): Suggestion;
  /**
   * Attributes for a trial asked from the queue with params of its own (enqueued), under the write
   * lock: `req.trialNumber` is its number, `params` those it was enqueued with (declared ones it
   * lacks are drawn after). The trial's own attributes win. PBT makes it a member of a free slot.
   */
  startAttrs?(req: SuggestRequest, params: Params): Record<string, unknown>;
  /**
   * Called by `tell` once the trial's new state (COMPLETE, FAIL or PRUNED) is decided, and by the
   * reaper for a trial whose lease expired; the returned attributes are merged into the finished
   * trial's `systemAttrs` in the same commit (and so appear in the tell reply). PBT lists the
   * checkpoints nobody needs any more. `params` (declared values inside their distributions, others
   * ignored) replace the trial's: PBT puts back those in force before an exploit that took effect on
   * nothing the trial reported or was told with.
   */
  onFinish?(req: FinishRequest): { readonly systemAttrs?: Record<string, unknown>; readonly params?: Params } | null;
  /**
   * Files of `trial`, which lost its lease (the reaper failed it), that live trials still need: a
   * recipient told to load one has not confirmed it yet. A report, tell or heartbeat of that trial is
   * refused with `LEASE_LOST` naming them (`data.checkpoints_needed`), so the lost worker's clean-up
   * of its own files spares them. PBT: its checkpoints pinned for a live recipient.
   */
  neededFiles?(req: FinishRequest): string[];
  /**
   * When true `tell` accepts COMPLETE with a NaN or infinite value (a diverged run): the trial
   * becomes COMPLETE with value null, which ranks below every finite value, and
   * `system_attrs.diverged` holds the value told ("NaN", "Infinity" or "-Infinity"). Other
   * strategies keep refusing it (their models need finite values; tell FAIL instead).
   */
  readonly completesDiverged?: boolean;
  /**
   * When true the service does not re-queue the params of a trial that failed (lease expired,
   * or FAIL with `retry_on_fail`): the strategy replaces lost trials itself on the next ask
   * (PBT refills the member's slot from a donor).
   */
  readonly refillsLostTrials?: boolean;
}

/** One point of a trial's hyperparameter trajectory: the params in force after the report at `step` (null: the start). */
export interface TrajectoryEntry {
  readonly step: number | null;
  readonly value: number | null;
  readonly params: Params;
}

/** A replayable schedule: segment `params` apply from model age `from_step`, trained by `trial` from its `trial_step`. */
export interface LineageSchedule {
  readonly schedule: { from_step: number; params: Params; trial: number; trial_step: number }[];
  /** The model's training age at the trial's report at `uptoStep` (default: its latest), in step units. */
  readonly until_step: number;
}

/** A node of a population's lineage graph: one stretch of a member's training with one set of params. */
export interface LineageNode {
  /** `${trial}:${index}`: the trial and the index of the change that began the stretch. */
  readonly id: string;
  readonly trial: number;
  /** The population slot the trial fills. */
  readonly member: number;
  /** 0 for a fresh start; a donor's generation + 1 after an exploit or a refill from it. */
  readonly generation: number;
  /** The trial's own step at which the stretch began. */
  readonly step: number;
  readonly params: Params;
}

/** The lineage of a whole population: stretches, and who gave whom their weights. */
export interface LineageGraph {
  readonly nodes: LineageNode[];
  /** `exploit`: `to` loaded `from`'s checkpoint (an exploit or a refill); `explore`: new params, own weights. */
  readonly edges: { readonly from: string; readonly to: string; readonly kind: "exploit" | "explore" }[];
}

/**
 * Read models only the plug-in can compute, because they read its own `systemAttrs` bookkeeping.
 * The service asks the study's factory for them (the `trajectory` and `lineage` ops) and never reads
 * a plug-in's attributes itself.
 */
export interface StrategyReadModels {
  /** A trial's hyperparameter trajectory: the starting point, then the params after each applied update. */
  trajectory?(trial: Trial): { entries: TrajectoryEntry[]; thinned: boolean };
  /**
   * The schedule that produced trial `number`'s model as it was at the trial's own step `uptoStep`
   * (default: its latest report). @throws Error when the bookkeeping is inconsistent.
   */
  lineage?(trials: readonly Trial[], number: number, uptoStep?: number): LineageSchedule;
  /**
   * The trial `lineage` reads after `trial`, and the step there: for the trial asked about at its
   * `uptoStep` (as `lineage`'s), for a later one at the `donorStep` it was reached at; null where the
   * chain ends. A reader that fetches trials by number (the CLI, from SQL) reads the chain one trial
   * per hop and gives `lineage` exactly the trials it follows.
   */
  lineageNext?(trial: Trial, at: { uptoStep?: number } | { donorStep: number }): { trial: number; donorStep: number } | null;
  /** The whole population's lineage (PBT): what the dashboard draws as a tree. */
  lineageGraph?(trials: readonly Trial[]): LineageGraph;
  /**
   * A trial's `systemAttrs` that the server did not write (an imported study), checked where the
   * readers above trust them: why the plug-in's bookkeeping there cannot be read (null when it can),
   * and the trial numbers it names, which the study must hold.
   */
  importedAttrs?(systemAttrs: Record<string, unknown>): { readonly problem: string | null; readonly trials: readonly number[] };
}

/** A named strategy with its options schema; what a catalogue holds and a study names. */
export interface StrategyFactory<O = unknown> {
  readonly name: string;
  /** One or two sentences for `--help`, the MCP catalogue and error messages. */
  readonly description: string;
  /** zod schema of the options; unknown keys are refused. Defaults fill in what is missing. */
  readonly options: z.ZodType<O>;
  /** Run `suggest` in a worker thread (heavy model fitting). */
  readonly offload?: boolean;
  /**
   * Its strategies replace lost trials themselves (`Strategy.refillsLostTrials`), so the study's
   * retry policy never applies: create_study refuses `retry` (`max_retries` > 0, `retry_on_fail`,
   * `keep_intermediate`) and ask refuses `max_retries` > 0 with INVALID_ARGUMENT, `instead` saying
   * what to use. Absent: retries apply.
   */
  readonly refillsLostTrials?: { readonly instead: string };
  /**
   * Per-study override of `offload` from the validated options, the study's declared space and its
   * number of objectives (a strategy that delegates to another offloads when that one does; TPE when
   * its options or space make a suggestion expensive, or the study has several objectives).
   */
  offloadFor?(options: O, space?: SearchSpace, objectives?: number): boolean;
  /**
   * Handles studies with several objectives (reads `values` and `directions`). Absent or false:
   * multi-objective studies cannot name it (refused at creation with the reason). Constraints
   * need nothing declared: a strategy that ignores them still works, it only searches blindly.
   */
  readonly multiObjective?: boolean;
  /**
   * The strategy's `onReport` reads `data.hypergradients` (the hypergradient strategy). Absent or
   * false: the service refuses a report carrying them (INVALID_ARGUMENT naming the strategy), since
   * they would be ignored and the hyperparameters the training loop means to tune would never move.
   */
  readonly readsHypergradients?: boolean;
  /**
   * The service widens the space the strategy's `suggest` sees with the define-by-run parameters
   * every COMPLETE trial (`inferSpaceFrom`) drew from one distribution (Optuna's intersection search
   * space) and offers its values for them to the trial's `suggest` calls (service/trial-params.ts), so that it models
   * them jointly with the declared ones, as Optuna's relative sampling does; its `suggestParam`
   * (uniform without one) then draws only the other define-by-run parameters. A study whose
   * define-by-run parameters are all declared sees no difference. A queued trial (enqueued with
   * some parameters, or a retry) gets the strategy's values for those it lacks the same way.
   */
  readonly infersSpace?: boolean;
  /**
   * With `infersSpace`, for a study with these options: which finished trials the intersection
   * counts. "complete" (absent: the default) as Optuna's GPSampler, CmaEsSampler and NSGAIISampler;
   * "finished", COMPLETE and PRUNED, as Optuna's TPESampler (`IntersectionSearchSpace(include_pruned=True)`);
   * "none" models no define-by-run parameter jointly (Optuna's `TPESampler(multivariate=False)`):
   * every one goes to `suggestParam`, at the trial's `suggest`.
   */
  inferSpaceFrom?(options: O): "complete" | "finished" | "none";
  /** Reason the combination with a scheduler makes no sense, or null when it is fine. */
  incompatibleWith?(scheduler: PluginConfig, options: O): string | null;
  /**
   * Reason the strategy cannot search a study's declared space at all (checked when the study
   * is created), or null when it can. Define-by-run parameters are not known yet then.
   */
  spaceProblem?(space: SearchSpace, options: O): string | null;
  /** Read models of the plug-in's own bookkeeping (see StrategyReadModels). */
  readonly readModels?: StrategyReadModels;
  /**
   * Why a study run by this strategy cannot have its declared space widened (`update_study`),
   * e.g. a grid fixed at creation. Absent: the strategy reads each trial's params afresh, so a
   * wider space only widens its later suggestions.
   */
  readonly fixedSpace?: string;
  create(options: O): Strategy;
}

/** A scheduler instance: one per study, created by its factory from validated options. */
export interface Scheduler {
  /** Decide on a report. Return null for "no opinion" (treated as continue). */
  onReport(req: ReportRequest): DecisionResult | null;
  /**
   * Called before the strategy for each new trial. A scheduler may take the trial over
   * (e.g. promote an earlier configuration to a higher budget: return its params) or
   * only add attributes such as the budget and bracket (return params `{}` plus attrs;
   * the strategy then fills the params). Return null to leave the trial to the strategy.
   */
  beforeSuggest?(req: SuggestRequest): Suggestion | null;
  /**
   * The attributes a new configuration gets (its budget, bracket; ASHA promotion's rung 0), for a
   * trial asked from the queue with params of its own (enqueued): `req.trialNumber` is its number.
   * The trial's own attributes win (a re-queued trial keeps its rung). Chooses no params, promotes
   * nothing. Absent: such a trial gets its attributes from its first report, if at all.
   */
  startAttrs?(req: SuggestRequest): Record<string, unknown>;
}

/** A named scheduler with its options schema; what a catalogue holds and a study names. */
export interface SchedulerFactory<O = unknown> {
  readonly name: string;
  /** One or two sentences for `--help`, the MCP catalogue and error messages. */
  readonly description: string;
  /** zod schema of the options; unknown keys are refused. Defaults fill in what is missing. */
  readonly options: z.ZodType<O>;
  /** Reason the combination with a strategy makes no sense, or null. */
  incompatibleWith?(strategy: PluginConfig, options: O): string | null;
  /**
   * Reason the scheduler cannot work with a study's declared space, or null when it can: checked
   * when a study is created with it and when `update_study` switches to it (a study stored
   * before keeps loading). Define-by-run parameters are not known then.
   */
  spaceProblem?(space: SearchSpace, options: O): string | null;
  /**
   * The study's budget (create_study `max_resource`: how far one trial trains at most, in the
   * client's step units) applied to raw options before they are validated: schedulers that race
   * trials over resources take it as their `max_resource` when their options leave it out
   * (`fillMaxResource` in schedulers/common.ts). Pure; called once, when the study is created.
   */
  withStudyBudget?(options: Record<string, unknown>, maxResource: number): Record<string, unknown>;
  /**
   * The names among stored (parsed) options whose value is a default derived from other options
   * (ASHA's min_resource = max_resource/η²). `update_study` merging new options over the stored
   * ones drops these unless given, so the default is derived again from the new values instead
   * of keeping the old one as if the user had chosen it. Pure.
   */
  derivedOptions?(options: Record<string, unknown>): readonly string[];
  create(options: O): Scheduler;
}
