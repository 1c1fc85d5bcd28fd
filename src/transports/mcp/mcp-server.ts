/**
 * The MCP adapter: tools and resources over an `McpBackend` (the in-process StudyService or
 * a remote server). Thin by design — each tool validates its input (zod), makes one or two
 * backend calls, and formats the answer as text for the model plus `structuredContent`.
 *
 * Errors
 * - Malformed calls are protocol errors (JSON-RPC -32602): an unknown tool, or arguments
 *   that do not match the tool's input schema. (SDK 1.x's McpServer would turn these into
 *   `isError` results; we install our own `tools/call` handler to keep them apart.)
 * - Business failures (a `TuneportError`: unknown study, bad space, finished trial, ...) are
 *   `isError: true` results whose text names the next step.
 * - Anything else is logged and reported as an `isError` INTERNAL result without details.
 *
 * Resources: `tuneport://studies/{name}` for each study (JSON: the study view and its
 * summary). `notifications/resources/list_changed` follows creations and deletions;
 * `notifications/resources/updated` follows changes of subscribed studies, at most once
 * per `updateThrottleMs` per study (the last change is always delivered).
 */
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  type CallToolResult,
  CallToolRequestSchema,
  ErrorCode,
  McpError,
  type ServerNotification,
  type ServerRequest,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import { z } from "zod";
import { distributionSchema, formatZodError } from "../../domain/distributions.js";
import { TRIAL_STATES, isFinished } from "../../domain/trial.js";
import { paramImportances } from "../../service/importance.js";
import { PLOT_KINDS, renderPlot } from "../../service/plots.js";
import { pluginRefSchema } from "../../service/plugins.js";
import { fmt, fmtParams, summarizeStudy } from "../../service/summary.js";
import type { McpBackend } from "./backend.js";
import { compactTrial, errorResult, isTuneportError, spaceText, studyLine, trialLine } from "./format.js";

export interface TuneportMcpOptions {
  readonly logger: Logger;
  readonly version: string;
  /** Minimum interval between `resources/updated` notifications for one study [1000]. */
  readonly updateThrottleMs?: number;
  /** Longest `wait_for_progress` timeout in seconds; keep below the client's request timeout [50]. */
  readonly maxWaitS?: number;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

interface ToolEntry {
  readonly schema: z.ZodObject;
  readonly run: (args: never, extra: Extra) => Promise<CallToolResult>;
}

export const STUDY_URI_PREFIX = "tuneport://studies/";
export const studyUri = (name: string): string => `${STUDY_URI_PREFIX}${encodeURIComponent(name)}`;

const INSTRUCTIONS = `tuneport runs hyperparameter-optimization studies (like Optuna) that training workers
evaluate over ZeroMQ. You can create studies, propose configurations (enqueue_trial, with a
rationale), evaluate trials yourself (ask_trial then tell_trial), and read results
(study_summary, best_trials, list_trials, param_importances, plot). Use wait_for_progress
instead of polling while workers run. Studies are also resources: tuneport://studies/{name}.`;

const studyArg = z.string().min(1).max(200).describe("Study name (case-sensitive).");
const paramValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** A live MCP server for one client connection. Call `dispose` when the connection ends. */
export interface TuneportMcp {
  readonly server: McpServer;
  dispose(): void;
}

/** Builds the MCP server (tools + resources) over a backend. One instance per client connection. */
export function createTuneportMcp(backend: McpBackend, opts: TuneportMcpOptions): TuneportMcp {
  const log = opts.logger.child({ component: "mcp" });
  const maxWaitS = opts.maxWaitS ?? 50;
  const server = new McpServer(
    { name: "tuneport", version: opts.version },
    { capabilities: { resources: { subscribe: true, listChanged: true }, tools: {} }, instructions: INSTRUCTIONS },
  );
  const tools = new Map<string, ToolEntry>();

  /** Registers a tool; `run` gets parsed arguments and may throw TuneportError. */
  function tool<S extends z.ZodObject>(
    name: string,
    meta: { title: string; description: string; readOnly?: boolean; destructive?: boolean },
    schema: S,
    run: (args: z.infer<S>, extra: Extra) => Promise<CallToolResult>,
  ): void {
    const guarded = async (args: z.infer<S>, extra: Extra): Promise<CallToolResult> => {
      try {
        return await run(args, extra);
      } catch (err) {
        if (isTuneportError(err)) return errorResult(err);
        log.error({ err, tool: name }, "tool failed");
        return { isError: true, content: [{ type: "text", text: "Error INTERNAL: the server failed (details are in its log); retrying may not help." }] };
      }
    };
    tools.set(name, { schema, run: guarded as ToolEntry["run"] });
    server.registerTool(
      name,
      {
        title: meta.title,
        description: meta.description,
        inputSchema: schema,
        annotations: { readOnlyHint: meta.readOnly ?? false, destructiveHint: meta.destructive ?? false, openWorldHint: false },
      },
      guarded as never,
    );
  }

  const text = (t: string, structured?: Record<string, unknown>): CallToolResult => ({
    content: [{ type: "text", text: t }],
    ...(structured ? { structuredContent: structured } : {}),
  });

  // ------------------------------------------------------------------ studies

  tool(
    "list_studies",
    { title: "List studies", description: "List every study with its direction, strategy, trial counts and best value so far.", readOnly: true },
    z.object({}),
    async () => {
      const studies = await backend.listStudies();
      const lines = studies.length === 0 ? ["No studies yet. Create one with create_study."] : studies.map(studyLine);
      return text(lines.join("\n"), {
        studies: studies.map((s) => ({
          name: s.name,
          uri: studyUri(s.name),
          direction: s.direction,
          strategy: s.strategy.name,
          scheduler: s.scheduler?.name ?? null,
          n_trials: s.n_trials,
          counts: s.counts,
          best_value: s.best_trial?.value ?? null,
        })),
      });
    },
  );

  tool(
    "create_study",
    {
      title: "Create (or load) a study",
      description:
        "Create an optimization study: a named objective to minimize or maximize over a search space. " +
        "Each parameter is {type:'float'|'int', low, high, log?, step?} or {type:'categorical', choices:[...]}. " +
        "Workers and agents then ask for trials and tell results. With load_if_exists: true an existing study of that name is returned instead (loading it).",
    },
    z.object({
      name: z.string().min(1).max(200).describe("Unique study name."),
      direction: z.enum(["minimize", "maximize"]).default("minimize").describe("Whether lower or higher objective values are better."),
      space: z
        .record(z.string().min(1).max(256), distributionSchema)
        .default({})
        .describe("Parameter name → distribution, e.g. {\"lr\": {\"type\":\"float\",\"low\":1e-5,\"high\":0.1,\"log\":true}, \"layers\": {\"type\":\"int\",\"low\":1,\"high\":4}}."),
      strategy: pluginRefSchema.optional().describe("Strategy name or {name, options}; see list_strategies. Default: auto (GP for the first 200 completed trials, then TPE)."),
      scheduler: pluginRefSchema.optional().describe("Scheduler (pruner) name or {name, options}; see list_strategies. Default: none."),
      seed: z.number().int().min(0).max(2 ** 32 - 1).optional().describe("Root random seed, for reproducible suggestions."),
      load_if_exists: z.boolean().default(false).describe("Return the existing study of this name instead of failing."),
      user_attrs: z.record(z.string(), z.unknown()).optional().describe("Free-form notes stored with the study."),
    }),
    async (a) => {
      const { study, created } = await backend.createStudy({
        name: a.name,
        direction: a.direction,
        space: a.space as Record<string, unknown>,
        ...(a.strategy !== undefined ? { strategy: a.strategy } : {}),
        ...(a.scheduler !== undefined ? { scheduler: a.scheduler } : {}),
        ...(a.seed !== undefined ? { seed: a.seed } : {}),
        load_if_exists: a.load_if_exists,
        ...(a.user_attrs !== undefined ? { user_attrs: a.user_attrs } : {}),
      });
      return text(
        `${created ? "Created" : "Loaded existing"} study '${study.name}' (${study.direction}, strategy ${study.strategy.name}${study.scheduler ? `, scheduler ${study.scheduler.name}` : ""}, ${study.n_trials} trials).\nSearch space:\n${spaceText(study)}\nResource: ${studyUri(study.name)}`,
        { created, study: study as unknown as Record<string, unknown> },
      );
    },
  );

  tool(
    "describe_study",
    { title: "Describe a study", description: "Show one study's configuration (search space, strategy, scheduler, seed), trial counts and best trial.", readOnly: true },
    z.object({ study: studyArg }),
    async (a) => {
      const s = await backend.getStudy(a.study);
      const lines = [
        studyLine(s),
        `strategy: ${s.strategy.name} ${JSON.stringify(s.strategy.options)}`,
        `scheduler: ${s.scheduler ? `${s.scheduler.name} ${JSON.stringify(s.scheduler.options)}` : "none"}`,
        `seed: ${s.seed}; lease ttl ${s.lease_ttl_s}s; retries ${s.retry.max_retries}`,
        "search space:",
        spaceText(s),
      ];
      if (s.best_trial) lines.push(`best: ${trialLine(s.best_trial)}`);
      if (Object.keys(s.user_attrs).length > 0) lines.push(`user_attrs: ${JSON.stringify(s.user_attrs)}`);
      return text(lines.join("\n"), { study: s as unknown as Record<string, unknown> });
    },
  );

  tool(
    "delete_study",
    {
      title: "Delete a study",
      description: "Permanently delete a study and all its trials. Irreversible: requires confirm: true. Workers still running its trials will get errors.",
      destructive: true,
    },
    z.object({
      study: studyArg,
      confirm: z.boolean().default(false).describe("Must be true: confirms the permanent deletion of the study and every trial."),
    }),
    async (a) => {
      const s = await backend.getStudy(a.study);
      if (!a.confirm)
        return {
          isError: true,
          content: [
            {
              type: "text",
              text: `Not deleted: deleting '${s.name}' permanently removes its ${s.n_trials} trials (${s.counts.RUNNING} running). If that is intended, call delete_study again with confirm: true.`,
            },
          ],
          structuredContent: { deleted: false, study: s.name, n_trials: s.n_trials },
        };
      await backend.deleteStudy(a.study);
      return text(`Deleted study '${a.study}' and its ${s.n_trials} trials.`, { deleted: true, study: a.study, n_trials: s.n_trials });
    },
  );

  tool(
    "list_strategies",
    {
      title: "Strategy and scheduler catalogue",
      description: "List the search strategies (what to try next) and schedulers (whether a running trial goes on), with a description and the JSON Schema of their options.",
      readOnly: true,
    },
    z.object({}),
    async () => {
      const plugins = await backend.catalogue();
      const block = (kind: "strategy" | "scheduler") => {
        const list = plugins.filter((p) => p.kind === kind);
        if (list.length === 0) return [`${kind === "strategy" ? "Strategies" : "Schedulers"}: none available.`];
        return [
          `${kind === "strategy" ? "Strategies" : "Schedulers"}:`,
          ...list.map((p) => `- ${p.name}: ${p.description}\n  options: ${JSON.stringify((p.options as { properties?: unknown }).properties ?? {})}`),
        ];
      };
      return text([...block("strategy"), ...block("scheduler")].join("\n"), { plugins: plugins as unknown as Record<string, unknown>[] } as Record<string, unknown>);
    },
  );

  // ------------------------------------------------------------------ trials

  tool(
    "ask_trial",
    {
      title: "Ask for a trial to evaluate",
      description:
        "Start a trial so that you evaluate it yourself: returns its number, parameters and a lease token. " +
        "Queued proposals (enqueue_trial) are served first. Finish it with tell_trial (same study, trial and token) before the lease expires.",
    },
    z.object({ study: studyArg }),
    async (a) => {
      const r = await backend.ask(a.study);
      return text(
        `Trial ${r.trial.number} of '${r.study}' is yours: ${fmtParams(r.trial.params)}\n` +
          `token: ${r.lease.token} (lease ${r.lease.ttl_s}s)${r.budget !== null ? `\nbudget: ${r.budget}` : ""}\n` +
          `Evaluate these parameters, then call tell_trial with study, trial ${r.trial.number}, this token and the objective value.`,
        {
          study: r.study,
          trial: r.trial.number,
          params: r.trial.params,
          token: r.lease.token,
          lease_expires_at: r.lease.expires_at,
          lease_ttl_s: r.lease.ttl_s,
          budget: r.budget,
        },
      );
    },
  );

  tool(
    "report_intermediate",
    {
      title: "Report an intermediate value",
      description: "While evaluating a trial from ask_trial, report a value at a step (epoch); the reply says whether to continue or stop (prune).",
    },
    z.object({
      study: studyArg,
      trial: z.number().int().min(0),
      token: z.string().min(1).max(200).describe("The token from ask_trial."),
      step: z.number().min(0),
      value: z.number(),
    }),
    async (a) => {
      const r = await backend.report(a.study, a.trial, a.token, a.step, a.value);
      const act = r.decision.action;
      return text(
        act === "prune"
          ? `Stop: the scheduler pruned trial ${a.trial}. Call tell_trial with state PRUNED.`
          : `Recorded step ${a.step} = ${fmt(a.value)}; decision: ${act}.`,
        { decision: r.decision as unknown as Record<string, unknown> },
      );
    },
  );

  tool(
    "tell_trial",
    {
      title: "Tell a trial's result",
      description:
        "Finish a trial you got from ask_trial: state COMPLETE with the objective value, FAIL (with a reason) when the evaluation broke, or PRUNED when told to stop.",
    },
    z.object({
      study: studyArg,
      trial: z.number().int().min(0).describe("Trial number from ask_trial."),
      token: z.string().min(1).max(200).describe("The token from ask_trial."),
      state: z.enum(["COMPLETE", "FAIL", "PRUNED"]).default("COMPLETE"),
      value: z.number().optional().describe("Objective value; required for COMPLETE."),
      reason: z.string().max(2000).optional().describe("Why the trial failed (FAIL only)."),
    }),
    async (a) => {
      const { trial } = await backend.tell(a.study, a.trial, a.token, a.state, a.value, a.reason !== undefined ? { reason: a.reason } : {});
      const s = await backend.getStudy(a.study);
      const isBest = s.best_trial?.number === trial.number;
      return text(
        `Recorded ${trialLine(trial)}.${isBest ? " It is the new best." : s.best_trial ? ` Best remains trial ${s.best_trial.number} (${fmt(s.best_trial.value)}).` : ""}`,
        { trial: compactTrial(trial) as unknown as Record<string, unknown>, is_best: isBest, best_value: s.best_trial?.value ?? null },
      );
    },
  );

  tool(
    "enqueue_trial",
    {
      title: "Propose a trial",
      description:
        "Queue a configuration you want evaluated, with your reasoning. It is handed to the next worker (or ask_trial) before the strategy's own suggestions; " +
        "parameters you omit are filled by the strategy. The rationale is stored with the trial and shown in summaries and listings.",
    },
    z.object({
      study: studyArg,
      params: z.record(z.string(), paramValue).describe("Parameter values, e.g. {\"lr\": 0.003, \"layers\": 2}."),
      rationale: z.string().min(1).max(4000).describe("Why this configuration is worth trying (one or two sentences)."),
      skip_if_exists: z.boolean().default(true).describe("Return the existing trial instead when one already has these exact values."),
    }),
    async (a) => {
      const { trial, created } = await backend.enqueue(a.study, a.params, { rationale: a.rationale, skipIfExists: a.skip_if_exists });
      return text(
        created
          ? `Queued trial ${trial.number} of '${a.study}': ${fmtParams(trial.params)}. It will be evaluated before the strategy's own suggestions.`
          : `Not queued: trial ${trial.number} already has these values (${trial.state}${trial.value !== null ? `, value ${fmt(trial.value)}` : ""}).`,
        { created, trial: compactTrial(trial) as unknown as Record<string, unknown> },
      );
    },
  );

  tool(
    "best_trials",
    { title: "Best trials", description: "The k best COMPLETE trials of a study, best first.", readOnly: true },
    z.object({ study: studyArg, k: z.number().int().min(1).max(50).default(1).describe("How many (1-50).") }),
    async (a) => {
      const page = await backend.listTrials(a.study, { states: ["COMPLETE"], order_by: "value", limit: a.k });
      if (page.trials.length === 0) return text(`No trial of '${a.study}' has completed yet. wait_for_progress waits for results.`, { trials: [] });
      return text(page.trials.map(trialLine).join("\n"), { trials: page.trials.map(compactTrial) as unknown as Record<string, unknown>[] } as Record<string, unknown>);
    },
  );

  tool(
    "list_trials",
    {
      title: "List trials",
      description: "One page of a study's trials, optionally filtered by state and sorted by number or by value (best first). Use offset/limit to page; at most 200 per call.",
      readOnly: true,
    },
    z.object({
      study: studyArg,
      states: z.array(z.enum(TRIAL_STATES)).optional().describe("Only these states (WAITING, RUNNING, COMPLETE, PRUNED, FAIL)."),
      sort: z.enum(["number", "value"]).default("number").describe("number: oldest first; value: best first (trials without a value are left out)."),
      descending: z.boolean().default(false).describe("Reverse the order (newest first, or worst first)."),
      offset: z.number().int().min(0).default(0),
      limit: z.number().int().min(1).max(200).default(20),
    }),
    async (a) => {
      const page = await backend.listTrials(a.study, {
        ...(a.states ? { states: a.states } : {}),
        order_by: a.sort,
        descending: a.descending,
        offset: a.offset,
        limit: a.limit,
      });
      const next = a.offset + page.trials.length < page.total ? a.offset + page.trials.length : null;
      const head = `Trials ${page.total === 0 ? 0 : a.offset + 1}-${a.offset + page.trials.length} of ${page.total}${next !== null ? ` (next page: offset ${next})` : ""}:`;
      return text([head, ...page.trials.map(trialLine)].join("\n"), {
        total: page.total,
        offset: a.offset,
        next_offset: next,
        trials: page.trials.map(compactTrial),
      } as unknown as Record<string, unknown>);
    },
  );

  tool(
    "get_trial",
    { title: "Get one trial", description: "Everything about one trial, including its intermediate values (the last 100) and attributes.", readOnly: true },
    z.object({ study: studyArg, trial: z.number().int().min(0) }),
    async (a) => {
      const t = await backend.getTrial(a.study, a.trial);
      const curve = t.intermediate.slice(-100);
      const lines = [trialLine(t)];
      if (curve.length > 0) lines.push(`intermediate (step=value): ${curve.map(([s, v]) => `${fmt(s)}=${fmt(v)}`).join(", ")}`);
      if (Object.keys(t.user_attrs).length > 0) lines.push(`user_attrs: ${JSON.stringify(t.user_attrs)}`);
      return text(lines.join("\n"), { trial: { ...t, intermediate: curve } } as unknown as Record<string, unknown>);
    },
  );

  tool(
    "get_lineage",
    {
      title: "PBT lineage of a trial",
      description:
        "The hyperparameter schedule that produced a population-based-training member's model: which params applied from which training step, " +
        "following exploits back through donors, up to the trial's best report. Without `trial`, the trial with the best report. Replay it as a fixed schedule for a final run.",
      readOnly: true,
    },
    z.object({ study: studyArg, trial: z.number().int().min(0).optional() }),
    async (a) => {
      const l = await backend.lineage(a.study, a.trial);
      const lines = [
        `Trial ${l.trial} of '${l.study}' (${l.state}): best report ${fmt(l.value)} at its step ${fmt(l.step)}, model trained for ${fmt(l.until_step)} steps:`,
        ...l.schedule.map((seg) => `- from step ${fmt(seg.from_step)}: ${JSON.stringify(seg.params)} (trained by trial ${seg.trial})`),
      ];
      return text(lines.join("\n"), l as unknown as Record<string, unknown>);
    },
  );

  // ------------------------------------------------------------------ analysis

  tool(
    "param_importances",
    {
      title: "Parameter importances",
      description: "Which parameters matter most for the objective, as shares summing to 1, from the COMPLETE trials (needs at least 4).",
      readOnly: true,
    },
    z.object({ study: studyArg }),
    async (a) => {
      await backend.getStudy(a.study);
      const imp = paramImportances(await backend.allTrials(a.study));
      const t =
        imp.importances.length === 0
          ? `No importances for '${a.study}' yet: ${imp.note ?? "no parameters"}.`
          : [`Importances from ${imp.n_trials} complete trials (${imp.method}):`, ...imp.importances.map((i) => `- ${i.param}: ${Math.round(i.importance * 100)}%`)].join("\n");
      return text(t, imp as unknown as Record<string, unknown>);
    },
  );

  tool(
    "study_summary",
    {
      title: "Study summary",
      description: "A short briefing on a study: progress, best so far, trend (improving or plateau), what the strategy and scheduler are doing, queued proposals and the most influential parameters.",
      readOnly: true,
    },
    z.object({ study: studyArg }),
    async (a) => {
      const [study, trials, catalogue] = await Promise.all([backend.getStudy(a.study), backend.allTrials(a.study), backend.catalogue()]);
      const s = summarizeStudy(study, trials, catalogue);
      const { text: t, ...facts } = s;
      return text(t, facts as unknown as Record<string, unknown>);
    },
  );

  tool(
    "wait_for_progress",
    {
      title: "Wait for progress",
      description:
        `Block until at least min_finished more trials of the study finish (or it is deleted), or until timeout_s passes (at most ${maxWaitS}s, sized for one turn). ` +
        "Use it instead of polling while workers run; it returns the newly finished trials and the best so far.",
      readOnly: true,
    },
    z.object({
      study: studyArg,
      timeout_s: z.number().min(0).max(maxWaitS).default(Math.min(20, maxWaitS)).describe(`Seconds to wait at most (0-${maxWaitS}).`),
      min_finished: z.number().int().min(1).max(1000).default(1).describe("How many more finished trials to wait for."),
    }),
    async (a, extra) => {
      const started = Date.now();
      const deadline = started + a.timeout_s * 1000;
      const finishedCount = (s: { counts: Record<string, number> }) => (s.counts.COMPLETE ?? 0) + (s.counts.PRUNED ?? 0) + (s.counts.FAIL ?? 0);
      const first = await backend.getStudy(a.study);
      const startFinished = finishedCount(first);
      let version = await backend.version(a.study);
      let current = first;
      let deleted = false;
      const progressToken = extra._meta?.progressToken;
      while (!extra.signal.aborted) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        version = await backend.waitForChange(a.study, version, remaining);
        try {
          current = await backend.getStudy(a.study);
        } catch (err) {
          if (isTuneportError(err) && err.code === "NOT_FOUND") {
            deleted = true;
            break;
          }
          throw err;
        }
        const done = finishedCount(current) - startFinished;
        if (progressToken !== undefined)
          await extra
            .sendNotification({ method: "notifications/progress", params: { progressToken, progress: Math.max(0, done), total: a.min_finished } })
            .catch(() => undefined);
        if (done >= a.min_finished) break;
      }
      if (deleted) return text(`Study '${a.study}' was deleted while waiting.`, { deleted: true });
      const newly = (await backend.allTrials(a.study)).filter((t) => isFinished(t.state) && t.finished_at !== null && t.finished_at * 1000 >= started - 1);
      const n = finishedCount(current) - startFinished;
      const timedOut = n < a.min_finished;
      const waited = (Date.now() - started) / 1000;
      const lines = [
        timedOut
          ? `No ${n === 0 ? "" : "further "}progress within ${fmt(waited)}s: ${n} trial(s) finished (wanted ${a.min_finished}). ${current.counts.RUNNING} running, ${current.counts.WAITING} queued.`
          : `${n} trial(s) finished in ${fmt(waited)}s.`,
        ...newly.slice(-20).map(trialLine),
        current.best_trial ? `Best so far: ${trialLine(current.best_trial)}` : "No complete trial yet.",
      ];
      if (timedOut && current.counts.RUNNING === 0 && current.counts.WAITING === 0)
        lines.push("Nothing is running or queued: are workers connected? You can evaluate trials yourself with ask_trial/tell_trial.");
      return text(lines.join("\n"), {
        timed_out: timedOut,
        waited_s: waited,
        finished: n,
        new_trials: newly.slice(-20).map(compactTrial),
        counts: current.counts,
        best_value: current.best_trial?.value ?? null,
        best_trial: current.best_trial?.number ?? null,
      } as unknown as Record<string, unknown>);
    },
  );

  tool(
    "plot",
    {
      title: "Plot a study",
      description:
        "Render a chart of a study as a PNG image: history (objective by trial with the best-so-far line), parallel_coordinates (parameters vs objective), importances (bar chart), intermediate_values (learning curves).",
      readOnly: true,
    },
    z.object({ study: studyArg, kind: z.enum(PLOT_KINDS).default("history") }),
    async (a) => {
      const [study, trials] = await Promise.all([backend.getStudy(a.study), backend.allTrials(a.study)]);
      const plot = await renderPlot(a.kind, study, trials, a.kind === "importances" ? paramImportances(trials) : undefined);
      return {
        content: [
          { type: "image", data: plot.png.toString("base64"), mimeType: "image/png" },
          { type: "text", text: plot.caption },
        ],
        structuredContent: { study: a.study, kind: a.kind, caption: plot.caption, mime_type: "image/png", bytes: plot.png.length },
      };
    },
  );

  // Malformed calls are protocol errors (see the file comment): replace McpServer's handler.
  server.server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const entry = tools.get(req.params.name);
    if (!entry) throw new McpError(ErrorCode.InvalidParams, `Unknown tool '${req.params.name}'. Tools: ${[...tools.keys()].join(", ")}`);
    const parsed = entry.schema.safeParse(req.params.arguments ?? {});
    if (!parsed.success)
      throw new McpError(ErrorCode.InvalidParams, `Invalid arguments for tool '${req.params.name}': ${formatZodError(parsed.error)}`);
    return entry.run(parsed.data as never, extra);
  });

  // ------------------------------------------------------------------ resources

  server.registerResource(
    "study",
    new ResourceTemplate(`${STUDY_URI_PREFIX}{name}`, {
      list: async () => ({
        resources: (await backend.listStudies()).map((s) => ({
          uri: studyUri(s.name),
          name: s.name,
          title: `Study ${s.name}`,
          description: studyLine(s),
          mimeType: "application/json",
        })),
      }),
    }),
    { title: "tuneport study", description: "A study's configuration, counts, best trial and summary (JSON).", mimeType: "application/json" },
    async (uri, vars) => {
      const raw = vars.name;
      const name = decodeURIComponent(Array.isArray(raw) ? (raw[0] ?? "") : (raw ?? ""));
      let study;
      try {
        study = await backend.getStudy(name);
      } catch (err) {
        if (isTuneportError(err) && err.code === "NOT_FOUND") throw new McpError(-32002, `Resource not found: no study named '${name}'`, { uri: uri.href });
        throw err;
      }
      const summary = summarizeStudy(study, await backend.allTrials(name), await backend.catalogue());
      return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify({ study, summary }, null, 2) }] };
    },
  );

  const subscribed = new Set<string>();
  server.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    subscribed.add(req.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    subscribed.delete(req.params.uri);
    return {};
  });

  // Notifications, throttled: list changes coalesce within 200 ms; updates per study at most once per throttle window.
  const throttleMs = opts.updateThrottleMs ?? 1000;
  let listTimer: NodeJS.Timeout | null = null;
  const cooldown = new Map<string, { timer: NodeJS.Timeout; dirty: boolean }>();
  const connected = () => server.isConnected();
  const sendUpdated = (uri: string) => {
    if (!connected()) return;
    server.server.sendResourceUpdated({ uri }).catch((err: unknown) => log.debug({ err }, "resources/updated not sent"));
    const timer = setTimeout(() => {
      const c = cooldown.get(uri);
      cooldown.delete(uri);
      if (c?.dirty && subscribed.has(uri)) sendUpdated(uri);
    }, throttleMs);
    timer.unref();
    cooldown.set(uri, { timer, dirty: false });
  };
  const off = backend.onChange((change) => {
    if (change.kind !== "updated" && !listTimer) {
      listTimer = setTimeout(() => {
        listTimer = null;
        if (connected()) server.sendResourceListChanged();
      }, 200);
      listTimer.unref();
    }
    const uri = studyUri(change.study);
    if (!subscribed.has(uri)) return;
    const c = cooldown.get(uri);
    if (c) c.dirty = true;
    else sendUpdated(uri);
  });

  return {
    server,
    dispose() {
      off();
      if (listTimer) clearTimeout(listTimer);
      for (const c of cooldown.values()) clearTimeout(c.timer);
      cooldown.clear();
    },
  };
}
