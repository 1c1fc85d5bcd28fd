/**
 * Protocol v1 operations: each op's argument schema (zod) and its translation to one
 * StudyService call. The schemas are the source of protocol/schema/*.json
 * (see ops-schema.test.ts, which fails when the files drift).
 */
import { z } from "zod";
import { formatZodError } from "../../domain/distributions.js";
import { invalidArgument } from "../../domain/errors.js";
import { TRIAL_STATES } from "../../domain/trial.js";
import { describePlugins } from "../../service/plugins.js";
import { type StudyService, createStudyArgsSchema } from "../../service/study-service.js";

export const PROTOCOL_VERSIONS = [1] as const;

const studyName = z.string().min(1).max(200);
const trialNumber = z.number().int().min(0);
const token = z.string().min(1).max(200);
const attrs = z.record(z.string(), z.unknown());
/** Any double: NaN and ±infinity mark a diverged run (zod's number alone refuses them). */
const anyNumber = z.union([z.number(), z.nan(), z.custom<number>((v) => v === Infinity || v === -Infinity, "expected a number")]);

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
      // NaN and infinity are allowed: they mark a diverged run, and schedulers treat NaN as the worst value.
      value: anyNumber,
      data: attrs.optional(),
    })
    .strict(),
  tell: z
    .object({
      study: studyName,
      trial: trialNumber,
      token,
      state: z.enum(["COMPLETE", "FAIL", "PRUNED"]),
      // Non-finite only where the strategy completes diverged runs (PBT); the service decides.
      value: anyNumber.nullable().optional(),
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

/** Executes one parsed op against the service. `hello` is answered by the transport itself. */
export async function dispatch(service: StudyService, op: Exclude<OpName, "hello">, raw: unknown, requestId: string): Promise<unknown> {
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
    case "set_user_attrs": {
      const a = parseArgs(op, raw);
      if (a.trial === undefined) return { study: await service.setStudyUserAttrs(a.study, a.attrs, requestId) };
      return service.setTrialUserAttrs(a.study, a.trial, a.attrs, requestId);
    }
  }
}
