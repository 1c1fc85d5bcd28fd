/**
 * The op table: every operation of protocol v1, declared once. Each entry names its argument and
 * result schemas, whether it mutates (then a retry with the same request id gets the first reply
 * and applies nothing twice), where MCP and the Python client expose it (or why not), and the one
 * service call that runs it. Derived from it:
 * - the ZeroMQ dispatcher (`StudyService.execute` is a lookup, not a switch);
 * - the typed `ZmqClient.call(op, args)` and the MCP backend, embedded and `--connect`;
 * - protocol/schema/<op>.request.json and <op>.reply.json, and the op list in PROTOCOL.md;
 * - the coverage checks of the shared vectors and of the Python client (protocol/ops.json).
 *
 * Adding an op is one entry here and one service method.
 */
import type { WorkerIdentity } from "../../domain/worker.js";
import type { z } from "zod";
import type { StudyService } from "../study-service.js";
import * as R from "./read-schemas.js";
import * as S from "./schemas.js";

/** Protocol versions this build speaks (PROTOCOL.md, "Versioning"). */
export const PROTOCOL_VERSIONS = [1] as const;

/** Who a request comes from, as far as the service needs to know. */
export interface OpContext {
  /** The request id: mutations are de-duplicated by it, and an id names one request. */
  readonly requestId?: string;
  /** Who sent the request, as its transport knows it (domain/worker.ts); `ask` records it with the trial. */
  readonly worker?: WorkerIdentity;
  /**
   * The envelope's `attempt`: 0 when the client says this is the first send of `requestId`, so no
   * earlier reply can be stored for it (a mutation then skips looking for one); n on its n-th resend.
   */
  readonly attempt?: number;
  /**
   * True once nobody waits for this request's reply (every connection that sent its id has closed,
   * as the transport knows it): an `ask` still waiting its turn behind the study's other asks is then
   * dropped (UNAVAILABLE, `data.reason: "requester_gone"`), nothing applied. Called at its turn.
   */
  readonly gone?: () => boolean;
}

/** `T` with every array and object read-only, so views with read-only fields satisfy a result schema. */
export type DeepReadonly<T> = T extends Uint8Array
  ? T
  : T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** Where an op is reachable besides ZeroMQ: a list of names, or why it is not. */
export type Exposure = { readonly via: readonly string[] } | { readonly hidden: string };

export interface OpSpec<A extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  /** One sentence for PROTOCOL.md and the schemas. */
  readonly summary: string;
  readonly args: A;
  readonly result: R;
  /**
   * Changes stored state. Mutating ops are idempotent by request id: the first reply is stored with
   * the effect, and a retry gets it back. Other ops are safe to repeat as they are.
   */
  readonly mutating: boolean;
  /** MCP tools that call it. */
  readonly mcp: Exposure;
  /** Python client members that send it (checked by python-client/tests/test_op_coverage.py). */
  readonly python: Exposure;
  /** Runs the op; absent for `hello`, which the transport answers (it knows its own limits). */
  readonly run?: (svc: StudyService, args: z.output<A>, ctx: OpContext) => Promise<DeepReadonly<z.input<R>>>;
}

const op = <A extends z.ZodType, R extends z.ZodType>(spec: OpSpec<A, R>): OpSpec<A, R> => spec;
const hidden = (why: string): Exposure => ({ hidden: why });
const via = (...names: string[]): Exposure => ({ via: names });

export const OPS = {
  hello: op({
    summary: "Negotiates the protocol version; returns the server's identity, limits and op list.",
    args: S.helloArgs,
    result: S.helloResultSchema,
    mutating: false,
    mcp: hidden("MCP negotiates its own version in `initialize`"),
    python: via("Client.__init__"),
  }),
  create_study: op({
    summary: "Creates a study, or with load_if_exists returns the existing one of that name.",
    args: S.createStudyArgs,
    result: S.createStudyResult,
    mutating: true,
    mcp: via("create_study"),
    python: via("Client.create_study"),
    run: (svc, a, ctx) => svc.createStudy(a, ctx.requestId),
  }),
  get_study: op({
    summary: "One study: configuration, trial counts and best trial, and its finished trials by how they finished.",
    args: S.studyArgs,
    result: S.getStudyResult,
    mutating: false,
    mcp: via("describe_study"),
    python: via("Client.load_study"),
    run: (svc, a) => svc.readStudy(a),
  }),
  list_studies: op({
    summary: "Studies with their counts and best trial, in creation order; a page with limit and cursor.",
    args: S.listStudiesArgs,
    result: S.listStudiesResult,
    mutating: false,
    mcp: via("list_studies"),
    python: via("Client.list_studies"),
    run: (svc, a) => svc.studiesPage(a),
  }),
  delete_study: op({
    summary: "Deletes a study and all its trials; requests racing it get NOT_FOUND or complete first.",
    args: S.studyArgs,
    result: S.deleteStudyResult,
    mutating: true,
    mcp: via("delete_study"),
    python: via("Client.delete_study"),
    run: (svc, a, ctx) => svc.deleteStudy(a, ctx.requestId),
  }),
  plot: op({
    summary: "A chart of the study rendered as PNG (history, parallel, importances, intermediate, slice, contour, edf, pareto_front, hypervolume_history, lineage, trajectories).",
    args: S.plotArgs,
    result: R.plotResult,
    mutating: false,
    mcp: via("plot"),
    python: via("Study.plot"),
    run: (svc, a) => svc.plot(a),
  }),
  plot_spec: op({
    summary: "The Vega-Lite spec of a chart (the one `plot` renders), for a browser to draw.",
    args: S.plotSpecArgs,
    result: R.plotSpecResult,
    mutating: false,
    mcp: hidden("MCP clients get the same chart rendered, as an image, from the plot tool"),
    python: hidden("Study.plot returns the rendered chart; the spec is for browsers (the dashboard)"),
    run: (svc, a) => svc.plotSpec(a),
  }),
  query_trials: op({
    summary: "One page of a study's trials as table rows: filtered by state and parameter ranges, sorted by any column.",
    args: S.queryTrialsArgs,
    result: R.queryTrialsResult,
    mutating: false,
    mcp: hidden("the dashboard's table; agents page through list_trials and best_trials"),
    python: hidden("Study.trials returns whole trials; the table rows are the dashboard's"),
    run: (svc, a) => svc.queryTrials(a),
  }),
  studies_overview: op({
    summary: "Every study (or a page of them: limit, cursor) in one line: counts by state, best value, last activity and live workers.",
    args: S.studiesOverviewArgs,
    result: R.studiesOverviewResult,
    mutating: false,
    mcp: hidden("list_studies answers agents with the full study views"),
    python: hidden("Client.list_studies returns the full study views"),
    run: (svc, a) => svc.studiesOverview(a),
  }),
  stop_study: op({
    summary: "Stops handing out trials: asks get STUDY_STOPPED; running trials may still report and tell.",
    args: S.studyArgs,
    result: S.studyResult,
    mutating: true,
    mcp: via("stop_study"),
    python: via("Study.stop"),
    run: async (svc, a, ctx) => ({ study: await svc.setStopped(a, true, ctx.requestId) }),
  }),
  resume_study: op({
    summary: "Hands out trials again after stop_study.",
    args: S.studyArgs,
    result: S.studyResult,
    mutating: true,
    mcp: via("resume_study"),
    python: via("Study.resume"),
    run: async (svc, a, ctx) => ({ study: await svc.setStopped(a, false, ctx.requestId) }),
  }),
  catalogue: op({
    summary: "The strategies and schedulers with their descriptions and option schemas.",
    args: S.noArgs,
    result: S.catalogueResult,
    mutating: false,
    mcp: via("list_strategies"),
    python: via("Client.catalogue"),
    run: async (svc) => ({ plugins: svc.plugins.describe() }),
  }),
  ask: op({
    summary: "Starts a trial (a queued one first) and hands out its params, lease and start instructions; lease_ttl_s and max_retries override the study's for this trial.",
    args: S.askArgs,
    result: S.askResultSchema,
    mutating: true,
    mcp: via("ask_trial"),
    python: via("Study.ask"),
    run: (svc, a, ctx) => svc.ask(a, ctx.requestId, ctx.worker, ctx.gone),
  }),
  suggest: op({
    summary: "Define-by-run: the value of one more parameter of a running trial.",
    args: S.suggestArgs,
    result: S.suggestResult,
    mutating: true,
    mcp: via("suggest"),
    python: via("Trial.suggest_float", "Trial.suggest_int", "Trial.suggest_categorical"),
    run: (svc, a, ctx) => svc.suggest(a, ctx.requestId),
  }),
  report: op({
    summary: "Records an intermediate value and returns the scheduler's and strategy's decision.",
    args: S.reportArgs,
    result: S.reportResult,
    mutating: true,
    mcp: via("report_intermediate"),
    python: via("Trial.report"),
    run: (svc, a, ctx) => svc.report(a, ctx.requestId),
  }),
  tell: op({
    summary: "Finishes a trial: COMPLETE with a value, PRUNED, or FAIL with a reason.",
    args: S.tellArgs,
    result: S.tellResult,
    mutating: true,
    mcp: via("tell_trial"),
    python: via("Trial.complete", "Trial.fail", "Trial.prune"),
    run: (svc, a, ctx) => svc.tell(a, ctx.requestId),
  }),
  heartbeat: op({
    summary: "Extends the leases of running trials; each entry answers ok or its own error code.",
    args: S.heartbeatArgs,
    result: S.heartbeatResult,
    mutating: false,
    mcp: via("renew_lease"),
    python: via("_Background.wake"),
    run: async (svc, a) => ({ leases: await svc.heartbeat(a) }),
  }),
  enqueue: op({
    summary: "Queues a trial with fixed params (and a rationale), served before the strategy's own suggestions.",
    args: S.enqueueArgs,
    result: S.enqueueResult,
    mutating: true,
    mcp: via("enqueue_trial"),
    python: via("Study.enqueue"),
    run: (svc, a, ctx) => svc.enqueue(a, ctx.requestId),
  }),
  cancel_trial: op({
    summary: "Cancels a queued (WAITING) trial: it becomes FAIL with fail_reason 'cancelled' and is never handed out.",
    args: S.cancelTrialArgs,
    result: S.trialResult,
    mutating: true,
    mcp: via("cancel_trial"),
    python: via("Study.cancel_trial"),
    run: (svc, a, ctx) => svc.cancelTrial(a, ctx.requestId),
  }),
  add_trial: op({
    summary: "Records a finished trial evaluated elsewhere (Optuna's add_trial): params, state, value, intermediate values.",
    args: S.addTrialArgs,
    result: S.trialResult,
    mutating: true,
    mcp: via("add_trial"),
    python: via("Study.add_trial"),
    run: (svc, a, ctx) => svc.addTrial(a, ctx.requestId),
  }),
  trials: op({
    summary: "A page of a study's trials, filtered by state, ordered by number or value, continued by cursor, projected by fields and params.",
    args: S.trialsArgs,
    result: S.trialsResult,
    mutating: false,
    mcp: via("list_trials", "best_trials"),
    python: via("Study.trials", "Study.get_trials"),
    run: (svc, a) => svc.listTrials(a),
  }),
  trial: op({
    summary: "One trial with its intermediate values and attributes.",
    args: S.trialArgs,
    result: S.trialResult,
    mutating: false,
    mcp: via("get_trial"),
    python: via("Study.trial"),
    run: (svc, a) => svc.trialWithLease(a),
  }),
  trajectory: op({
    summary: "A trial's hyperparameter trajectory as recorded by a strategy that steers running trials.",
    args: S.trialArgs,
    result: S.trajectoryViewSchema,
    mutating: false,
    mcp: via("get_trajectory"),
    python: via("Study.trajectory"),
    run: (svc, a) => svc.trajectory(a),
  }),
  best: op({
    summary: "The best COMPLETE trial, or null.",
    args: S.studyArgs,
    result: S.bestResult,
    mutating: false,
    mcp: hidden("best_trials answers it, with the k best, through the trials op"),
    python: via("Study.best_trial"),
    run: async (svc, a) => ({ trial: await svc.best(a) }),
  }),
  best_trials: op({
    summary:
      "The Pareto front (COMPLETE feasible trials no other one dominates; a one-objective study's best ones) with its exact hypervolume and, on request, the hypervolume history.",
    args: S.bestTrialsArgs,
    result: S.bestTrialsResult,
    mutating: false,
    mcp: via("pareto_front"),
    python: via("Study.best_trials", "Study.pareto_front"),
    run: (svc, a) => svc.bestTrials(a),
  }),
  study_summary: op({
    summary: "A study briefing computed on the server: progress, best, trend, queue, throughput and the most influential parameters, with the same facts as prose.",
    args: S.studyArgs,
    result: R.studySummaryResult,
    mutating: false,
    mcp: via("study_summary"),
    python: hidden("an agent's briefing (MCP); Python code reads Study.best_trial and Study.trials"),
    run: (svc, a) => svc.studySummary(a),
  }),
  param_importances: op({
    summary:
      "First-order parameter importances (shares of 1) computed on the server, on an evenly spaced sample of at most 5,000 COMPLETE trials: of the objective, of reaching the Pareto front (several objectives; non-dominated sorting ranks a sample of at most 1,000), one objective of several, or values the caller gives per trial.",
    args: S.paramImportancesArgs,
    result: R.paramImportancesResult,
    mutating: false,
    mcp: via("param_importances"),
    python: via("importance.get_param_importances"),
    run: (svc, a) => svc.paramImportances(a),
  }),
  set_user_attrs: op({
    summary: "Merges user attributes into a study or, with `trial`, into one trial; `notes` replaces its notes.",
    args: S.setUserAttrsArgs,
    result: S.setUserAttrsResult,
    mutating: true,
    mcp: via("set_user_attrs"),
    python: via("Study.set_user_attrs", "Trial.set_user_attrs", "Study.set_notes"),
    run: async (svc, a, ctx) =>
      a.trial === undefined
        ? { study: await svc.setStudyUserAttrs({ study: a.study, attrs: a.attrs, notes: a.notes }, ctx.requestId) }
        : svc.setTrialUserAttrs({ study: a.study, trial: a.trial, attrs: a.attrs, notes: a.notes }, ctx.requestId),
  }),
  update_study: op({
    summary: "Changes a study's scheduler, strategy (history kept), declared space (widened only), trial budget or notes.",
    args: S.updateStudyArgs,
    result: S.updateStudyResult,
    mutating: true,
    mcp: via("update_study"),
    python: via("Study.update"),
    run: (svc, a, ctx) => svc.updateStudy(a, ctx.requestId),
  }),
  export_study: op({
    summary: "A page of the study's export (JSON Lines, as `tuneport export` writes it, but running trials' lease tokens withheld), bounded by max_chars.",
    args: S.exportStudyArgs,
    result: S.exportStudyResult,
    mutating: false,
    mcp: via("export_study"),
    python: via("Study.export"),
    run: (svc, a) => svc.exportPage(a),
  }),
  lineage: op({
    summary: "The hyperparameter schedule behind a trial's model up to its best report (PBT); by default the trial with the best report.",
    args: S.lineageArgs,
    result: S.lineageResult,
    mutating: false,
    mcp: via("get_lineage"),
    python: via("Study.lineage"),
    run: async (svc, a) => ({ lineage: await svc.lineage(a) }),
  }),
} as const satisfies Record<string, OpSpec>;

export type OpName = keyof typeof OPS;
export const OP_NAMES = Object.keys(OPS) as OpName[];
/** The arguments of an op as a caller writes them (defaults may be left out). */
export type OpArgs<K extends OpName> = z.input<(typeof OPS)[K]["args"]>;
/** The arguments of an op after validation. */
export type ParsedArgs<K extends OpName> = z.output<(typeof OPS)[K]["args"]>;
/** The result of an op. */
export type OpResult<K extends OpName> = z.output<(typeof OPS)[K]["result"]>;

/** Ops whose effects are de-duplicated by request id (they change state). */
export const MUTATING_OPS: ReadonlySet<OpName> = new Set(OP_NAMES.filter((n) => OPS[n].mutating));
