/**
 * The results of the read-model ops (plots, trial queries, the studies overview, importances and the
 * study briefing), as the op table declares them: split from schemas.ts, whose shared pieces they use.
 */
import { z } from "zod";
import { PLOT_KINDS } from "../plots.js";
import { anyNumber, attrs, directionSchema, nullableNumber, pluginConfigSchema, scalar, studyName, trialNumber, trialStateSchema } from "./schemas.js";

export const plotSpecResult = z.object({
  kind: z.enum(PLOT_KINDS),
  spec: attrs.describe("the Vega-Lite spec (the one `plot` renders to PNG)"),
  caption: z.string().describe("what the chart shows, and what it left out"),
});
export const trialRowSchema = z.object({
  number: trialNumber,
  state: trialStateSchema,
  value: nullableNumber,
  values: z.array(z.number()).nullable().describe("one value per objective; null without a result"),
  feasible: z.boolean().nullable().describe("COMPLETE trials: whether every constraint holds (true without constraints); null otherwise"),
  params: z.record(z.string(), scalar),
  started_at: nullableNumber,
  finished_at: nullableNumber,
  duration_s: nullableNumber,
  n_intermediate: z.number().int(),
  enqueued: z.boolean(),
  worker: z.string().nullable().describe("who asked the trial: host:pid (client), an MCP session, or the transport; null when not recorded"),
});
export const queryTrialsResult = z.object({
  rows: z.array(trialRowSchema),
  total: z.number().int().describe("trials in the study"),
  matched: z.number().int().describe("trials that pass the filters"),
  params: z.array(z.string()).describe("every parameter name the study has used"),
  constrained: z.boolean().describe("whether any trial of the study was told constraints"),
});
export const studyOverviewSchema = z.object({
  name: studyName,
  direction: z.enum(["minimize", "maximize"]).describe("the first objective's direction (directions[0])"),
  directions: z.array(z.enum(["minimize", "maximize"])).describe("one direction per objective"),
  strategy: z.string(),
  scheduler: z.string().nullable(),
  stopped: z.boolean(),
  n_trials: z.number().int(),
  counts: z.record(trialStateSchema, z.number().int()),
  best: z.object({ number: trialNumber, value: z.number() }).nullable(),
  last_activity_at: nullableNumber.describe("epoch seconds of the latest created, started or finished trial (or the study's creation)"),
  live_workers: z.number().int().describe("RUNNING trials whose lease has not expired: workers at work"),
  workers: z.array(z.string()).describe("who holds those trials (host:pid (client), or an MCP session), distinct, at most 20"),
  from_storage: z
    .boolean()
    .describe("true when the line is the study as last committed in the database (another server sharing it serves the study, or this server's hold on it is unsure), as list_studies lists it: live_workers 0, workers [] and last_activity_at null then (not read)"),
});
export const studiesOverviewResult = z.object({
  studies: z.array(studyOverviewSchema),
  next_cursor: z.string().nullable().describe("pass as cursor for the next page; null on the last page"),
});
export const plotResult = z.object({
  png: z.custom<Uint8Array>((v) => v instanceof Uint8Array).describe("the PNG image (MessagePack bin)"),
  caption: z.string().describe("what the chart shows, and what it left out (downsampling, clipped outliers)"),
  width: z.number().int(),
  height: z.number().int(),
  kind: z.enum(PLOT_KINDS),
});
const importanceSchema = z.object({ param: z.string(), importance: z.number(), score: z.number(), n: z.number().int() });
export const paramImportancesResult = z.object({
  importances: z.array(importanceSchema).describe("most important first; shares sum to 1 unless every score is 0"),
  n_trials: z.number().int().describe("COMPLETE trials the figures were computed from"),
  n_complete: z.number().int().describe("COMPLETE trials with a finite value in the study when computed (a sampled result is reused until 1% more complete)"),
  sampled: z.boolean().describe("true when n_trials < n_complete: an evenly spaced sample by trial number"),
  method: z.string(),
  note: z.string().optional().describe("why there are no importances, when there are none"),
  caveats: z.array(z.string()),
  noise: z.boolean().optional().describe("true when no parameter's score stands out from noise: the shares may be chance (a caveat says so)"),
});
const summaryPlugin = pluginConfigSchema.extend({ description: z.string().nullable() });
export const studySummaryResult = z.object({
  study: z.string(),
  direction: directionSchema,
  directions: z.array(directionSchema),
  stopped: z.boolean().describe("true after stop_study, until resume_study"),
  budget: z
    .object({ max_trials: z.number().int(), used: z.number().int().describe("trials asked so far that count against max_trials") })
    .nullable()
    .describe("the study-wide trial budget; null without one"),
  counts: z.record(trialStateSchema, z.number().int()),
  n_trials: z.number().int(),
  best: z.object({ trial: trialNumber, value: anyNumber, params: attrs }).nullable(),
  trend: z.object({
    status: z.enum(["no-data", "improving", "plateau"]),
    completions_since_best: z.number().int(),
    best_at_half: anyNumber.nullable(),
    best_so_far: z.array(anyNumber).describe("best value after each completion, at most 20 points, evenly thinned"),
  }),
  throughput_per_min: nullableNumber,
  last_finished_at: nullableNumber.describe("epoch seconds of the latest finished trial; null before any"),
  strategy: summaryPlugin,
  scheduler: summaryPlugin.nullable(),
  queued: z.array(z.object({ trial: trialNumber, params: attrs, rationale: z.string().nullable() })),
  queued_total: z.number().int(),
  running: z.array(trialNumber),
  running_total: z.number().int(),
  top_params: z.array(z.object({ param: z.string(), importance: z.number() })),
  importances_sampled: z.boolean().describe("true when top_params rest on a sample of the COMPLETE trials (see param_importances)"),
  pruned_share: nullableNumber,
  front: z
    .object({
      size: z.number().int(),
      hypervolume: nullableNumber,
      hypervolume_exact: z.boolean().describe("false when hypervolume and its history are Monte Carlo estimates (4+ objectives)"),
      reference_point: z.array(z.number()).nullable(),
      reference_point_source: z.enum(["given", "derived"]).nullable(),
      hypervolume_history: z.array(z.number()).describe("hypervolume after each change, at most 20 points, evenly thinned"),
      completions_since_improvement: z.number().int(),
      n_feasible: z.number().int(),
      n_infeasible: z.number().int(),
    })
    .nullable()
    .describe("multi-objective studies: the Pareto front's size, hypervolume and trend; null otherwise"),
  text: z.string().describe("the same facts as prose, for a reader with little room"),
});
