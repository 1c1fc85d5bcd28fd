/**
 * Protocol v1 operations: each op's argument schema (zod) and its translation to one
 * StudyService call. The schemas are the source of protocol/schema/*.json
 * (see ops-schema.test.ts, which fails when the files drift).
 */
import { z } from "zod";
import { formatZodError } from "../../domain/distributions.js";
import { invalidArgument } from "../../domain/errors.js";
import { TRIAL_STATES } from "../../domain/trial.js";
import type { PlotRenderer } from "../../service/plot-renderer.js";
import { PLOT_KIND_NAMES, parsePlotKind, renderPlot } from "../../service/plots.js";
import { describePlugins } from "../../service/plugins.js";
import { type StudyService, createStudyArgsSchema } from "../../service/study-service.js";
import type { TrialView } from "../../service/views.js";

export const PROTOCOL_VERSIONS = [1] as const;

const studyName = z.string().min(1).max(200);
const trialNumber = z.number().int().min(0);
const token = z.string().min(1).max(200);
const attrs = z.record(z.string(), z.unknown());

export const OP_SCHEMAS = {
  hello: z.object({ versions: z.array(z.number().int()).min(1).optional(), client: attrs.optional() }).strict(),
  create_study: createStudyArgsSchema,
  get_study: z.object({ study: studyName }).strict(),
  list_studies: z.object({}).strict(),
  delete_study: z.object({ study: studyName }).strict(),
  catalogue: z.object({}).strict(),
  ask: z.object({ study: studyName }).strict(),
  suggest: z
    .object({ study: studyName, trial: trialNumber, token, name: z.string().min(1).max(256), distribution: z.unknown() })
    .strict(),
  report: z
    .object({
      study: studyName,
      trial: trialNumber,
      token,
      step: z.number(),
      // NaN is allowed: it marks a diverged run, and schedulers treat it as the worst value.
      value: z.union([z.number(), z.nan()]),
      data: attrs.optional(),
    })
    .strict(),
  tell: z
    .object({
      study: studyName,
      trial: trialNumber,
      token,
      state: z.enum(["COMPLETE", "FAIL", "PRUNED"]),
      value: z.number().nullable().optional(),
      reason: z.string().max(2000).optional(),
      user_attrs: attrs.optional(),
    })
    .strict(),
  heartbeat: z
    .object({ leases: z.array(z.object({ study: studyName, trial: trialNumber, token }).strict()).max(10_000) })
    .strict(),
  enqueue: z
    .object({
      study: studyName,
      params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
      user_attrs: attrs.optional(),
      skip_if_exists: z.boolean().optional(),
      rationale: z.string().max(4000).optional(),
    })
    .strict(),
  trials: z
    .object({
      study: studyName,
      states: z.array(z.enum(TRIAL_STATES)).optional(),
      order_by: z.enum(["number", "value"]).optional(),
      descending: z.boolean().optional(),
      offset: z.number().int().min(0).optional(),
      limit: z.number().int().min(1).max(100_000).optional(),
    })
    .strict(),
  trial: z.object({ study: studyName, trial: trialNumber }).strict(),
  trajectory: z.object({ study: studyName, trial: trialNumber }).strict(),
  best: z.object({ study: studyName }).strict(),
  set_user_attrs: z.object({ study: studyName, trial: trialNumber.optional(), attrs }).strict(),
  lineage: z.object({ study: studyName, trial: trialNumber.optional() }).strict(),
  plot: z
    .object({
      study: studyName,
      kind: z.enum(PLOT_KIND_NAMES as [string, ...string[]]),
      params: z.array(z.string().min(1).max(256)).max(16).optional(),
      log_y: z.boolean().optional(),
    })
    .strict(),
} as const;

export type OpName = keyof typeof OP_SCHEMAS;
export const OP_NAMES = Object.keys(OP_SCHEMAS) as OpName[];

/** Ops whose effects are de-duplicated by request id (they change state). */
export const MUTATING_OPS: ReadonlySet<OpName> = new Set([
  "create_study",
  "delete_study",
  "ask",
  "suggest",
  "report",
  "tell",
  "enqueue",
  "set_user_attrs",
]);

export function parseArgs<K extends OpName>(op: K, args: unknown): z.infer<(typeof OP_SCHEMAS)[K]> {
  const parsed = OP_SCHEMAS[op].safeParse(args);
  if (!parsed.success) throw invalidArgument(`${op}: ${formatZodError(parsed.error)}`);
  return parsed.data as z.infer<(typeof OP_SCHEMAS)[K]>;
}

/** What ops need besides the service. */
export interface OpContext {
  /** Renders `plot` off the event loop; without it plots render in process. */
  readonly plots?: PlotRenderer;
}

/** Every trial of a study, read a page at a time (a plot must not drop the newest trials). */
async function allTrials(service: StudyService, study: string): Promise<TrialView[]> {
  const out: TrialView[] = [];
  for (;;) {
    const page = await service.listTrials(study, { offset: out.length, limit: 100_000 });
    out.push(...page.trials);
    if (page.trials.length === 0 || out.length >= page.total) return out;
  }
}

/** Executes one parsed op against the service. `hello` is answered by the transport itself. */
export async function dispatch(service: StudyService, op: Exclude<OpName, "hello">, raw: unknown, requestId: string, ctx: OpContext = {}): Promise<unknown> {
  switch (op) {
    case "create_study":
      return service.createStudy(parseArgs(op, raw), requestId);
    case "get_study":
      return { study: await service.getStudy(parseArgs(op, raw).study) };
    case "list_studies":
      parseArgs(op, raw);
      return { studies: await service.listStudies() };
    case "delete_study":
      return service.deleteStudy(parseArgs(op, raw).study, requestId);
    case "catalogue":
      parseArgs(op, raw);
      return { plugins: describePlugins() };
    case "ask":
      return service.ask(parseArgs(op, raw).study, requestId);
    case "suggest": {
      const a = parseArgs(op, raw);
      return service.suggest(a.study, a.trial, a.token, a.name, a.distribution, requestId);
    }
    case "report": {
      const a = parseArgs(op, raw);
      return service.report(a.study, a.trial, a.token, a.step, a.value, a.data ?? {}, requestId);
    }
    case "tell": {
      const a = parseArgs(op, raw);
      return service.tell(a.study, a.trial, a.token, a.state, a.value, { reason: a.reason, userAttrs: a.user_attrs }, requestId);
    }
    case "heartbeat":
      return { leases: await service.heartbeat(parseArgs(op, raw).leases) };
    case "enqueue": {
      const a = parseArgs(op, raw);
      return service.enqueue(a.study, a.params, { userAttrs: a.user_attrs, skipIfExists: a.skip_if_exists, rationale: a.rationale }, requestId);
    }
    case "trials": {
      const { study, ...q } = parseArgs(op, raw);
      return service.listTrials(study, q);
    }
    case "trial": {
      const a = parseArgs(op, raw);
      return { trial: await service.getTrial(a.study, a.trial) };
    }
    case "trajectory": {
      const a = parseArgs(op, raw);
      return service.trajectory(a.study, a.trial);
    }
    case "best":
      return { trial: await service.best(parseArgs(op, raw).study) };
    case "lineage": {
      const a = parseArgs(op, raw);
      return { lineage: await service.lineage(a.study, a.trial) };
    }
    case "plot": {
      const a = parseArgs(op, raw);
      const kind = parsePlotKind(a.kind);
      const [study, trials] = await Promise.all([service.getStudy(a.study), allTrials(service, a.study)]);
      const opts = { params: a.params, logY: a.log_y };
      const p = ctx.plots ? await ctx.plots.render(kind, study, trials, opts) : await renderPlot(kind, study, trials, opts);
      return { png: p.png, caption: p.caption, width: p.width, height: p.height, kind };
    }
    case "set_user_attrs": {
      const a = parseArgs(op, raw);
      if (a.trial === undefined) return { study: await service.setStudyUserAttrs(a.study, a.attrs, requestId) };
      return service.setTrialUserAttrs(a.study, a.trial, a.attrs, requestId);
    }
  }
}
