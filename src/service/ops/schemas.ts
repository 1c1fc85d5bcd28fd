/**
 * The zod schemas of every op's arguments and result: the single source of the wire shapes.
 * The op table (ops.ts) pairs them with each op's flags and service call; protocol/schema/*.json,
 * the typed TypeScript client and the MCP backend are derived from them.
 *
 * Result schemas describe what the service returns; `views.ts` keeps the TypeScript interfaces the
 * code passes around, and the assertions at the end of this file keep the two in step.
 */
import { z } from "zod";
import { distributionSchema, paramNameSchema, searchSpaceSchema } from "../../domain/distributions.js";
import { studyNameSchema, studyRefSchema } from "../../domain/study-name.js";
import { MAX_CONSTRAINTS, MAX_OBJECTIVES } from "../../domain/objectives.js";
import { TRIAL_STATES, reportStepNumber } from "../../domain/trial.js";
import { TRIAL_FIELDS } from "../paging.js";
import { IMPORTANCE_SAMPLE } from "../importance.js";
import { MAX_INTERMEDIATE_CAP } from "../study-limits.js";
import { PLOT_KINDS, PLOT_KIND_NAMES } from "../plots.js";
import type { DeepReadonly } from "./ops.js";
export { helloArgs, helloResultSchema } from "./hello-schema.js";
import type { AskResult, LeaseView, LineageView, StudyView, TrajectoryView, TrialStart, TrialView } from "../views.js";

// ------------------------------------------------------------------ shared pieces

/** A study named in a request: any name a study might have been given (see domain/study-name.ts). */
export const studyName = studyRefSchema;
export const trialNumber = z.number().int().min(0);
export const leaseToken = z.string().min(1).max(200);
export const attrs = z.record(z.string(), z.unknown());
export const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export const trialStateSchema = z.enum(TRIAL_STATES);
/**
 * A trial state named by a caller, in any case (`complete` is COMPLETE, as the CLI's --state takes it):
 * the advertised JSON Schema still lists the canonical upper-case names, and a wrong name is refused
 * with a message that lists them.
 */
export function anyCaseState<const S extends readonly [string, ...string[]]>(names: S) {
  return z.preprocess((v) => (typeof v === "string" ? v.toUpperCase() : v), z.enum(names));
}
/** A state filter entry: any of TRIAL_STATES in any case. */
export const trialStateFilter = anyCaseState(TRIAL_STATES);
/** The state of a finished trial, in any case. */
export const finishedStateSchema = anyCaseState(["COMPLETE", "FAIL", "PRUNED"] as const);
export const directionSchema = z.enum(["minimize", "maximize"]);
const infinity = z.custom<number>((v) => v === Infinity || v === -Infinity, "expected a number");
/** A number that may be NaN or ±infinity on the wire, so the service refuses it with a precise message. */
const numberOrNaN = z.union([z.number(), z.nan(), infinity]);
/** Any double: NaN and ±infinity mark a diverged run (zod's number alone refuses them). */
export const anyNumber = z.union([z.number(), z.nan(), infinity]).describe("a double; NaN and ±Infinity (MessagePack floats) mark a diverged run");
/** A plug-in named on the wire: a bare name or `{name, options}`. */
export const pluginRefSchema = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() }).strict(),
]);

// ------------------------------------------------------------------ arguments

export const createStudyArgs = z
  .object({
    name: studyNameSchema,
    direction: directionSchema.optional().describe("one objective's direction (protocol v1); same as directions: [direction]"),
    directions: z
      .array(directionSchema)
      .min(1)
      .max(MAX_OBJECTIVES)
      .optional()
      .describe("one direction per objective: a multi-objective study when there are several"),
    reference_point: z
      .array(z.number())
      .min(1)
      .max(MAX_OBJECTIVES)
      .optional()
      .describe("hypervolume reference point, one coordinate per objective in its units; default: derived from the Pareto front"),
    space: z.record(z.string(), z.unknown()).optional(),
    strategy: z.unknown().optional(),
    scheduler: z.unknown().optional(),
    seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
    load_if_exists: z.boolean().optional(),
    user_attrs: attrs.optional(),
    retry: z
      .object({
        max_retries: z.number().int().min(0).max(100).optional(),
        retry_on_fail: z.boolean().optional(),
        keep_intermediate: z.boolean().optional(),
      })
      .strict()
      .optional(),
    lease_ttl_s: z.number().min(1).max(7 * 24 * 3600).optional(),
    max_trials: z
      .number()
      .int()
      .min(1)
      .max(1e9)
      .optional()
      .describe("study-wide trial budget: at most this many trials are started by ask, across all workers"),
    max_resource: z.number().positive().max(1e15).optional().describe(
        "the study's budget: how far one trial trains at most, in the client's step units; asha, hyperband and bohb take it as their max_resource unless their options give one",
      ),
  })
  .strict();

export const studyArgs = z.object({ study: studyName }).strict();

export const paramImportancesArgs = z
  .object({
    study: studyName,
    params: z
      .array(z.string().min(1).max(256))
      .max(1000)
      .optional()
      .describe("assess only these parameters (shares of 1 among them); each must be set in a COMPLETE trial"),
    objective: z
      .number()
      .int()
      .min(0)
      .max(MAX_OBJECTIVES - 1)
      .optional()
      .describe("rank this objective (from 0) of several; without it (and target_values) a multi-objective study's importances are those of reaching its Pareto front"),
    target_values: z
      .array(z.tuple([trialNumber, z.number()]))
      .max(IMPORTANCE_SAMPLE)
      .optional()
      .describe(
        `rank these [trial number, finite value] pairs of COMPLETE trials instead of the objective (at most ${IMPORTANCE_SAMPLE}, e.g. an evenly spaced sample; the Python client's target=); not with objective`,
      ),
  })
  .strict();
export const askArgs = z
  .object({
    study: studyName,
    lease_ttl_s: z.number().min(1).max(7 * 24 * 3600).optional().describe("this trial's lease length (default: the study's); heartbeats and reports renew it"),
    max_retries: z.number().int().min(0).max(100).optional().describe("re-queue this trial's params at most this many times if its lease expires (default: the study's)"),
    study_created_at: z.number().optional().describe("the created_at of the study as the worker loaded it: NOT_FOUND if the name now holds another study"),
  })
  .strict();
export const cancelTrialArgs = z
  .object({ study: studyName, trial: trialNumber, reason: z.string().max(2000).optional().describe("why; stored as the fail reason") })
  .strict();
export const addTrialArgs = z
  .object({
    study: studyName,
    params: z.record(paramNameSchema, scalar).describe("a value for every declared parameter (others need a distribution in distributions)"),
    distributions: z.record(paramNameSchema, z.unknown()).optional().describe("distributions of parameters the study has not declared or seen"),
    state: finishedStateSchema.optional().describe("default COMPLETE"),
    value: z.number().nullable().optional(),
    values: z.array(z.number()).min(1).max(MAX_OBJECTIVES).optional().describe("one value per objective (multi-objective studies)"),
    constraints: z.array(numberOrNaN).max(MAX_CONSTRAINTS).optional().describe("constraint values, c <= 0 satisfied (COMPLETE only)"),
    intermediate: z.array(z.tuple([z.number(), z.number()])).max(MAX_INTERMEDIATE_CAP).optional().describe("[step, value] pairs, steps increasing; more than serve --max-intermediate [100000] are refused (data.reason max_intermediate)"),
    user_attrs: attrs.optional(),
    rationale: z.string().max(4000).optional(),
    started_at: z.number().min(0).max(1e11).optional().describe("when it started, epoch seconds (a copied trial's; default: finished_at, or now)"),
    finished_at: z.number().min(0).max(1e11).optional().describe("when it finished, epoch seconds (default: now)"),
  })
  .strict();
export const updateStudyArgs = z
  .object({
    study: studyName,
    scheduler: pluginRefSchema
      .nullable()
      .optional()
      .describe("the scheduler (null: none); naming the current one merges the given options over its own, e.g. {name: 'median', options: {n_warmup_steps: 5}}"),
    strategy: pluginRefSchema.optional().describe("switch strategy; it learns from the whole history (refused while trials run under pbt, pb2, hypergradient)"),
    space: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("widen declared parameters: wider bounds, or categorical choices appended; never narrowed"),
    max_trials: z.number().int().min(1).max(1e9).nullable().optional().describe("the trial budget (null: none)"),
    notes: z.string().max(20_000).optional().describe("the study's notes, replaced ('' clears)"),
  })
  .strict();
export const exportStudyArgs = z
  .object({
    study: studyName,
    cursor: z.string().min(1).max(1000).optional().describe("next_cursor of the previous page"),
    max_chars: z.number().int().min(1000).max(1_000_000).optional().describe("at most this many characters of lines per page [200000]; a page holds at least one line"),
  })
  .strict();
export const noArgs = z.object({}).strict();
export const trialArgs = z.object({ study: studyName, trial: trialNumber }).strict();

export const suggestArgs = z
  .object({ study: studyName, trial: trialNumber, token: leaseToken, name: paramNameSchema, distribution: z.unknown() })
  .strict();

export const reportArgs = z
  .object({
    study: studyName,
    trial: trialNumber,
    token: leaseToken,
    step: reportStepNumber.describe("the trial's progress in the client's units (epoch, iteration, seconds…): finite, >= 0, increasing"),
    // NaN and infinity are allowed: they mark a diverged run, and schedulers treat NaN as the worst value.
    value: anyNumber,
    data: attrs
      .optional()
      .describe("extra data for the plug-ins (a checkpoint location, ...); hypergradients only where the strategy reads them (hypergradient), else INVALID_ARGUMENT"),
  })
  .strict();

export const tellArgs = z
  .object({
    study: studyName,
    trial: trialNumber,
    token: leaseToken,
    state: finishedStateSchema,
    // Non-finite only where the strategy completes diverged runs (PBT); the service decides.
    value: anyNumber.nullable().optional(),
    values: z
      .array(numberOrNaN)
      .min(1)
      .max(MAX_OBJECTIVES)
      .optional()
      .describe("one value per objective, in the order of the study's directions (for one objective, value works too)"),
    constraints: z
      .array(numberOrNaN)
      .max(MAX_CONSTRAINTS)
      .optional()
      .describe("constraint values with a COMPLETE result: c <= 0 is satisfied; the study's first COMPLETE trial fixes how many"),
    reason: z.string().max(2000).optional(),
    interrupted: z.boolean().optional().describe("FAIL only: stopped from outside (Ctrl-C), not failed by its configuration: system_attrs.interrupted, which GP, TPE and auto do not learn from"),
    user_attrs: attrs.optional(),
  })
  .strict();

export const heartbeatArgs = z
  .object({ leases: z.array(z.object({ study: studyName, trial: trialNumber, token: leaseToken }).strict()).max(10_000) })
  .strict();

export const enqueueArgs = z
  .object({
    study: studyName,
    params: z.record(paramNameSchema, scalar),
    user_attrs: attrs.optional(),
    skip_if_exists: z.boolean().optional(),
    rationale: z.string().max(4000).optional(),
  })
  .strict();

export const trialsArgs = z
  .object({
    study: studyName,
    states: z.array(trialStateFilter).optional(),
    order_by: z.enum(["number", "value"]).optional(),
    descending: z.boolean().optional(),
    feasible: z.boolean().optional().describe("only COMPLETE trials that satisfy every constraint (true; one without constraints does) or violate one (false)"),
    offset: z.number().int().min(0).optional(),
    limit: z.number().int().min(1).max(100_000).optional().describe("at most this many trials [1000]; a page also ends at 5,000 trials, and before the trial that would take its intermediate values past 100,000 or the reply past about 8 MiB (next_cursor continues)"),
    cursor: z.string().min(1).max(2000).optional().describe("next_cursor of the previous page: continues after its last trial (same study, order_by, descending, states, feasible)"),
    fields: z.array(z.enum(TRIAL_FIELDS)).max(TRIAL_FIELDS.length).optional().describe("only these fields of each trial (number is always kept; value brings values and constraints where the trial has several objectives or constraints)"),
    params: z.array(z.string().min(1).max(256)).max(1000).optional().describe("only these parameters in params and distributions"),
  })
  .strict();

export const listStudiesArgs = z
  .object({
    limit: z.number().int().min(1).max(100_000).optional().describe("at most this many studies (default: all), in creation order; a page also ends before the reply would pass about 8 MiB (next_cursor continues)"),
    cursor: z.string().min(1).max(2000).optional().describe("next_cursor of the previous page"),
  })
  .strict();

export const studiesOverviewArgs = z
  .object({
    limit: z.number().int().min(1).max(100_000).optional().describe("at most this many studies (default: all), in creation order (then name), as list_studies pages them"),
    cursor: z.string().min(1).max(2000).optional().describe("next_cursor of the previous page"),
  })
  .strict();

export const plotArgs = z
  .object({
    study: studyName,
    kind: z.enum(PLOT_KIND_NAMES as [string, ...string[]]).describe(`one of ${PLOT_KIND_NAMES.join(", ")}`),
    params: z.array(z.string().min(1).max(256)).max(16).optional().describe("parameters to draw (parallel, slice, contour); default: the most important"),
    log_y: z.boolean().optional().describe("objective on a log scale (history, intermediate_values, edf, parallel, slice, contour; the others refuse it)"),
  })
  .strict();
export type PlotArgs = z.output<typeof plotArgs>;

export const bestTrialsArgs = z
  .object({
    study: studyName,
    reference_point: z
      .array(z.number())
      .min(1)
      .max(MAX_OBJECTIVES)
      .optional()
      .describe("hypervolume reference point for this answer; default: the study's, else derived from the front"),
    history: z.boolean().optional().describe("also return the hypervolume after each trial that changed it"),
    cursor: z.string().max(1000).optional().describe("next_cursor of the previous answer (same study): the front's next trials (a page ends before about 8 MiB)"),
    limit: z.number().int().min(1).max(100_000).optional().describe("at most this many of the front's trials in this page (default: as many as fit)"),
  })
  .strict();
export type BestTrialsArgs = z.output<typeof bestTrialsArgs>;

/** The same chart as `plot`, as its Vega-Lite spec (the dashboard renders it in the browser). */
export const plotSpecArgs = plotArgs
  .extend({ trials: z.array(trialNumber).min(1).max(1000).optional().describe("draw only these trials (e.g. one trial's learning curve)") })
  .strict();
export type PlotSpecArgs = z.output<typeof plotSpecArgs>;

const paramRange = z.object({ min: z.number().optional(), max: z.number().optional() }).strict();
export const queryTrialsArgs = z
  .object({
    study: studyName,
    states: z.array(trialStateFilter).optional(),
    ranges: z.record(z.string(), paramRange).optional().describe("numeric parameters within [min, max] (bounds inclusive, either optional)"),
    choices: z.record(z.string(), z.array(scalar).max(1000)).optional().describe("categorical parameters among these values"),
    sort: z
      .string()
      .min(1)
      .max(300)
      .optional()
      .describe("number (default), value, values.I (objective I, from 0), state, started_at, finished_at, duration, worker, params.NAME or user_attrs.NAME; missing values last"),
    descending: z.boolean().optional(),
    offset: z.number().int().min(0).optional(),
    limit: z.number().int().min(1).max(1000).optional().describe("rows per page [50]"),
  })
  .strict();
export type QueryTrialsArgs = z.output<typeof queryTrialsArgs>;

export const setUserAttrsArgs = z
  .object({
    study: studyName,
    trial: trialNumber.optional(),
    attrs: attrs.optional().describe("merged into the user attributes"),
    notes: z.string().max(20_000).optional().describe("replaces the notes of the trial (system_attrs.notes) or study ('' clears)"),
  })
  .strict();
export const lineageArgs = z.object({ study: studyName, trial: trialNumber.optional() }).strict();

/** Parsed argument types, as the service methods take them. */
export type CreateStudyInput = z.input<typeof createStudyArgs>;
export type StudyArgs = z.output<typeof studyArgs>;
export type ParamImportancesArgs = z.output<typeof paramImportancesArgs>;
export type AskArgs = z.output<typeof askArgs>;
export type CancelTrialArgs = z.output<typeof cancelTrialArgs>;
export type AddTrialArgs = z.output<typeof addTrialArgs>;
export type TrialArgs = z.output<typeof trialArgs>;
export type SuggestArgs = z.output<typeof suggestArgs>;
export type ReportArgs = z.output<typeof reportArgs>;
export type TellArgs = z.output<typeof tellArgs>;
export type HeartbeatArgs = z.output<typeof heartbeatArgs>;
export type EnqueueArgs = z.output<typeof enqueueArgs>;
export type TrialsArgs = z.output<typeof trialsArgs>;
export type ListStudiesArgs = z.output<typeof listStudiesArgs>;
export type StudiesOverviewArgs = z.output<typeof studiesOverviewArgs>;
export type LineageArgs = z.output<typeof lineageArgs>;
export type UpdateStudyArgs = z.output<typeof updateStudyArgs>;
export type ExportStudyArgs = z.output<typeof exportStudyArgs>;

// ------------------------------------------------------------------ results

export const nullableNumber = z.number().nullable();

export const trialViewSchema = z.object({
  number: trialNumber,
  state: trialStateSchema,
  params: z.record(z.string(), scalar),
  distributions: z.record(z.string(), distributionSchema),
  value: nullableNumber.describe("values[0] in a one-objective study; null in a multi-objective one"),
  values: z.array(z.number()).nullable().describe("one value per objective (study directions); null without a result"),
  constraints: z.array(z.number()).nullable().describe("constraint values told with the result (c <= 0 satisfied), or null"),
  feasible: z.boolean().nullable().describe("COMPLETE trials: whether every constraint holds (true without constraints); null otherwise"),
  intermediate: z.array(z.tuple([z.number(), z.number()])).describe("[step, value] pairs in step order; value may be NaN"),
  user_attrs: attrs,
  system_attrs: attrs,
  created_at: z.number().describe("epoch seconds"),
  started_at: nullableNumber,
  finished_at: nullableNumber,
  duration_s: nullableNumber,
});

export const leaseViewSchema = z.object({ token: leaseToken, expires_at: z.number().describe("epoch seconds"), ttl_s: z.number() });

export const trialStartSchema = z
  .object({
    budget: nullableNumber.describe("how far to train, in the client's step units (multi-fidelity schedulers)"),
    rung: z.number().int().nullable(),
    bracket: z.number().int().nullable(),
    resume_from: z
      .object({ trial: trialNumber, budget: nullableNumber })
      .nullable()
      .describe("continue the run of this trial (promotion-mode ASHA): load its checkpoint"),
    restore: z
      .object({ trial: trialNumber, checkpoint: z.string(), step: nullableNumber })
      .nullable()
      .describe("load this checkpoint of another trial before training (PBT refill)"),
  })
  .describe("how a worker starts the trial; every field null when there is nothing special to do");

export const askResultSchema = z.object({
  study: studyName,
  trial: trialViewSchema,
  lease: leaseViewSchema,
  budget: nullableNumber.describe("same as start.budget (kept for protocol v1 clients)"),
  start: trialStartSchema,
});

export const pluginConfigSchema = z.object({ name: z.string(), options: attrs });

/** `StudyConfig.optionsGiven` on the wire (views and exports). */
export const optionsGivenSchema = z.object({ strategy: z.array(z.string().max(200)).max(500), scheduler: z.array(z.string().max(200)).max(500).nullable() }).strict();

export const studyViewSchema = z.object({
  name: studyName,
  direction: directionSchema.describe("directions[0] (protocol v1)"),
  directions: z.array(directionSchema).describe("one direction per objective"),
  reference_point: z.array(z.number()).nullable().describe("the hypervolume reference point given at creation, or null (derived)"),
  space: searchSpaceSchema,
  strategy: pluginConfigSchema,
  scheduler: pluginConfigSchema.nullable(),
  options_given: optionsGivenSchema.optional().describe("the option names the request that set each plug-in gave; absent in studies stored before"),
  seed: z.number().int(),
  retry: z.object({ max_retries: z.number().int(), retry_on_fail: z.boolean(), keep_intermediate: z.boolean() }),
  lease_ttl_s: z.number(),
  max_trials: z.number().int().nullable(),
  max_resource: z.number().nullable().describe("the study's budget (how far one trial trains at most), or null"),
  stopped: z.boolean(),
  notes: z.string().nullable().describe("the study's notes (update_study), or null"),
  define_by_run: searchSpaceSchema.describe("define-by-run parameters seen so far (not declared in space), with their distributions"),
  user_attrs: attrs,
  created_at: z.number(),
  n_trials: z.number().int(),
  counts: z.record(trialStateSchema, z.number().int()),
  best_trial: trialViewSchema.nullable().describe("the best feasible COMPLETE trial; null for a multi-objective study (see pareto_front)"),
});

export const decisionSchema = z.discriminatedUnion("action", [
  z.object({ action: z.literal("continue"), budget: z.number().optional(), delete_checkpoints: z.array(z.string()).optional() }),
  z.object({ action: z.literal("prune"), reason: z.string() }),
  z.object({
    action: z.literal("update"),
    params: z.record(z.string(), scalar),
    restore: z.object({ trial: trialNumber, checkpoint: z.string(), step: z.number().optional() }).optional(),
    reason: z.string().optional(),
    budget: z.number().optional(),
    delete_checkpoints: z.array(z.string()).optional(),
  }),
]);

export const trajectoryViewSchema = z.object({
  trial: trialNumber,
  state: trialStateSchema,
  params: z.record(z.string(), scalar),
  trajectory: z.array(z.object({ step: nullableNumber, value: nullableNumber, params: z.record(z.string(), scalar) })),
  thinned: z.boolean(),
});

export const lineageViewSchema = z.object({
  study: studyName,
  trial: trialNumber,
  state: trialStateSchema,
  value: nullableNumber.describe("the trial's best finite reported value (its COMPLETE value when it never reported)"),
  step: nullableNumber.describe("the trial's own step of that report (null when it never reported)"),
  until_step: z.number().describe("the model's training age at that report (differs from step after an exploit)"),
  schedule: z.array(z.object({ from_step: z.number(), params: z.record(z.string(), scalar), trial: trialNumber, trial_step: z.number() })),
  tracked: z.boolean().describe("false when the study's strategy never changes a running trial's params (not PBT/PB2): the schedule is then the trial's params from step 0"),
});

export const pluginDescriptionSchema = z.object({
  kind: z.enum(["strategy", "scheduler"]),
  name: z.string(),
  description: z.string(),
  options: attrs.describe("JSON Schema of the options (defaults included)"),
});

export const heartbeatEntrySchema = z.object({
  study: studyName,
  trial: trialNumber,
  ok: z.boolean(),
  expires_at: z.number().optional(),
  ttl_s: z
    .number()
    .optional()
    .describe("with ok: the lease runs this many seconds from the renewal (expires_at is on the server's clock, which a client's may differ from); absent from a server older than 2026-12-06"),
  code: z.string().optional(),
  message: z.string().optional(),
  data: z.record(z.string(), z.unknown()).optional().describe("with UNAVAILABLE: the redirect {reason: 'moved', endpoint} of a study served elsewhere; with LEASE_LOST of a reaped trial whose files live trials still need: {checkpoints_needed}"),
});

// ------------------------------------------------------------------ op results

export const createStudyResult = z.object({
  study: studyViewSchema,
  created: z.boolean(),
  changed_since_created: z
    .array(z.object({ field: z.string(), stored: z.unknown(), given: z.unknown() }))
    .optional()
    .describe("a load_if_exists that gave settings as the study was created which update_study has changed since (field, stored, given): the study runs the stored ones"),
});
export const studyResult = z.object({ study: studyViewSchema });
export const getStudyResult = z.object({
  study: studyViewSchema,
  finishes: z
    .object({
      evaluated: z.number().int().describe("finished by an evaluation: a tell, a prune, a lost lease"),
      cancelled: z.number().int().describe("queued trials cancelled with cancel_trial (FAIL)"),
      added: z.number().int().describe("results recorded with add_trial"),
    })
    .describe("the COMPLETE, PRUNED and FAIL trials by how they finished (their sum); what wait_for_progress counts"),
  now: z
    .number()
    .optional()
    .describe("the server's clock as it read the study, epoch seconds: compare the trials' times (finished_at, ...) with it, not with the client's clock; absent from a server older than 2026-12-06"),
});
export const listStudiesResult = z.object({
  studies: z.array(studyViewSchema),
  next_cursor: z.string().nullable().describe("pass as cursor for the next page; null on the last page"),
});
export const deleteStudyResult = z.object({ deleted: z.boolean() });
export const catalogueResult = z.object({ plugins: z.array(pluginDescriptionSchema) });
export const suggestResult = z.object({ value: scalar });
export const reportResult = z.object({ decision: decisionSchema });
export const tellResult = z.object({ trial: trialViewSchema });
export const heartbeatResult = z.object({ leases: z.array(heartbeatEntrySchema) });
export const enqueueResult = z.object({
  trial: trialViewSchema,
  created: z.boolean(),
  // Added fields (servers before them answer {trial, created}); both read under the study's lock with the enqueue.
  queue: z
    .object({
      ahead: z.number().int().describe("queued trials that ask hands out before this one (0: the next ask takes it)"),
      queued: z.number().int().describe("queued (WAITING) trials of the study, this one included"),
    })
    .nullable()
    .optional()
    .describe("where the trial stands in the queue, which ask serves oldest first; null when it is not queued (skip_if_exists matched a trial that left the queue)"),
  trial_budget: z
    .object({ max_trials: z.number().int(), used: z.number().int().describe("trials asks have started that count against max_trials") })
    .nullable()
    .optional()
    .describe("the study's max_trials budget: the queued trial runs only if ahead < max_trials - used (while the study is not stopped); null without max_trials"),
  stopped: z
    .boolean()
    .optional()
    .describe("whether the study was stopped (stop_study) as the trial was queued: no ask gets it until resume_study; absent from a server older than 2026-12-06"),
});
export type EnqueueResult = z.output<typeof enqueueResult>;
/** A trial view reduced by a `fields`/`params` projection; `number` is always there. */
export const projectedTrialSchema = trialViewSchema.partial().required({ number: true });
export const trialsResult = z.object({
  trials: z.array(projectedTrialSchema),
  total: z.number().int().describe("trials matching the filter, on every page"),
  next_cursor: z.string().nullable().describe("pass as cursor for the next page; null on the last page"),
  without_value: z.number().int().optional().describe("order_by value only: trials matching the states and feasible filter that have no value, so are not ranked or counted in total"),
});
export const trialResult = z.object({
  trial: trialViewSchema,
  lease: z
    .object({ expires_at: z.number().describe("epoch seconds"), ttl_s: z.number() })
    .nullable()
    .optional()
    .describe("a RUNNING trial's lease (without its token)"),
});
export const bestResult = z.object({ trial: trialViewSchema.nullable() });
export const setUserAttrsResult = z.union([z.object({ study: studyViewSchema }), z.object({ trial: trialViewSchema })]);
export const lineageResult = z.object({ lineage: lineageViewSchema });
export const updateStudyResult = z.object({ study: studyViewSchema, changed: z.array(z.string()).describe("the settings this request changed ([] when none)") });
export const exportStudyResult = z.object({
  study: studyName,
  format: z.literal("tuneport-study").describe("JSON Lines: a header, then one trial per line (tuneport export writes it; tuneport import reads it)"),
  lines: z.array(z.string()).describe("this page's lines, without newlines; the header is the first line of the first page"),
  total_lines: z.number().int(),
  next_cursor: z.string().nullable().describe("pass as cursor for the next page; null on the last page"),
});
export const bestTrialsResult = z.object({
  study: studyName,
  directions: z.array(directionSchema),
  trials: z.array(trialViewSchema).describe("the Pareto front: COMPLETE feasible trials no other one dominates, in number order"),
  hypervolume: nullableNumber.describe("hypervolume of the front at reference_point (exact unless hypervolume_exact is false); null without a feasible COMPLETE trial"),
  hypervolume_exact: z
    .boolean()
    .describe("false when hypervolume and history are seeded Monte Carlo estimates (about 1 %): 4+ objectives whose exact value would hold the server too long"),
  reference_point: z.array(z.number()).nullable(),
  reference_point_source: z.enum(["given", "derived"]).nullable().describe("given (request or study) or derived from the front (nadir + 10% of its range)"),
  history: z
    .array(z.tuple([trialNumber, z.number()]))
    .nullable()
    .describe("[trial number, hypervolume] for each trial that changed it, at reference_point; null unless asked for"),
  n_complete: z.number().int(),
  n_feasible: z.number().int(),
  n_front: z.number().int().describe("trials on the whole front (trials holds this page of them)"),
  next_cursor: z.string().nullable().describe("pass as cursor for the front's next trials; null on its last page"),
});

// ------------------------------------------------------------------ drift guards (compile time)

type Assignable<T extends DeepReadonly<U>, U> = T;
export type _ViewsMatchSchemas = [
  Assignable<TrialView, z.input<typeof trialViewSchema>>,
  Assignable<LeaseView, z.input<typeof leaseViewSchema>>,
  Assignable<TrialStart, z.input<typeof trialStartSchema>>,
  Assignable<AskResult, z.input<typeof askResultSchema>>,
  Assignable<StudyView, z.input<typeof studyViewSchema>>,
  Assignable<TrajectoryView, z.input<typeof trajectoryViewSchema>>,
  Assignable<LineageView, z.input<typeof lineageViewSchema>>,
];
