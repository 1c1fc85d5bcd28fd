/**
 * The MCP adapter: the tool table (tools/studies.ts, tools/trials.ts, tools/insights.ts) and the
 * study resources (resources.ts) over an `McpBackend` (the in-process StudyService or a remote
 * server). Thin by design — each tool validates its input (zod), calls ops of the op table through
 * the backend, and formats the answer as text for the model plus `structuredContent`.
 *
 * The server installs its own `tools/list` (tool-list.ts: compact schemas) and `tools/call`.
 *
 * Errors
 * - An unknown tool is a protocol error (JSON-RPC -32602).
 * - Arguments that break the input limits or the tool's schema, and business failures (a
 *   `TuneportError`: unknown study, bad space, finished trial, ...) are `isError: true` results
 *   whose text ends with a "Next step:" line (SEP-1303, MCP 2025-11-25).
 * - A read tool's result over its character budget (budget.ts) becomes an `isError`
 *   RESULT_TOO_LARGE result naming the arguments that ask for less. A tool that changes state
 *   answers whole even over the budget (and logs it): its change is committed by then, and an
 *   error would hide it, so that an agent retrying would create the study, trial or proposal
 *   twice, or strand the trial it was just handed.
 * - Anything else is logged and reported as an `isError` INTERNAL result without details.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type CallToolResult, CallToolRequestSchema, ErrorCode, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import { formatZodError } from "../../domain/distributions.js";
import { ERROR_CODES, TuneportError, invalidArgument } from "../../domain/errors.js";
import { DEFAULT_MAX_CHARS, overBudgetResult, resultChars } from "./budget.js";
import { cancellableBy, type McpBackend } from "./backend.js";
import { errorResult, isTuneportError } from "./format.js";
import { errorMeta } from "./uris.js";
import { registerPrompts } from "./prompts.js";
import { registerStudyResources } from "./resources.js";
import { ToolCalls, checkToolArguments } from "./tool-calls.js";
import type { CallShare } from "./client-calls.js";
import { callInput, toolDefinition } from "./tool-list.js";
import { missingArgumentHint, optunaMcpArgumentHint, unknownToolMessage } from "./optuna-mcp.js";
import { insightTools } from "./tools/insights.js";
import { steeringTools } from "./tools/steering.js";
import { studyTools } from "./tools/studies.js";
import type { Extra, McpTool } from "./tools/tool.js";
import { trialTools } from "./tools/trials.js";

export { STUDY_URI_PREFIX, studyUri } from "./uris.js";

export interface TuneportMcpOptions {
  readonly logger: Logger;
  readonly version: string;
  /** Minimum interval between `resources/updated` notifications for one study [1000]. */
  readonly updateThrottleMs?: number;
  /** Longest `wait_for_progress` timeout in seconds; keep below the client's request timeout [50]. */
  readonly maxWaitS?: number;
  /** The bound on calls in flight this server's client shares with its other sessions (client-calls.ts). */
  readonly clientShare?: CallShare;
}

const INSTRUCTIONS = `tuneport runs hyperparameter-optimization studies (like Optuna) that training workers
evaluate over ZeroMQ. You can create studies, propose configurations (enqueue_trial, with a
rationale), evaluate trials yourself (ask_trial then tell_trial), and read results
(study_summary, best_trials, list_trials, param_importances, plot). Use wait_for_progress
instead of polling while workers run. Studies are also resources: tuneport://studies/{name}.
Coming from optuna-mcp: there is no current study, every tool names its study; ask is ask_trial
(keep the token it answers for tell_trial), tell is tell_trial, best_trial is best_trials with
k 1, get_trials is list_trials, set_sampler is update_study's strategy, plot_* is plot with a kind.`;

/** A live MCP server for one client connection. Call `dispose` when the connection ends. */
export interface TuneportMcp {
  readonly server: McpServer;
  /**
   * Shutdown, first step: pending `wait_for_progress` calls return at once with an UNAVAILABLE
   * result ("server stopping"), new tool calls get the same, and the promise resolves when every
   * tool call in flight has produced its result (the transport then still has to send it).
   */
  stop(): Promise<void>;
  dispose(): void;
}

/**
 * JSON has no NaN or Infinity: a client serialises a diverged loss as null, and tell_trial answered
 * "expected number, received null" with no word of what to do with such a run (Optuna fails it).
 */
function nullValueHint(tool: string, raw: Record<string, unknown>): string {
  if (tool !== "tell_trial" && tool !== "add_trial") return "";
  if (raw.value !== null && !(Array.isArray(raw.values) && raw.values.includes(null))) return "";
  return " (JSON has no NaN or Infinity, so a diverged run's value arrives as null: give state FAIL without a value, or a finite number)";
}

/**
 * Every tool that answers a trial answers it as an object under `trial` (ask_trial, enqueue_trial,
 * add_trial, tell_trial, get_trial): one passed on where a trial number goes (cancel_trial,
 * tell_trial, get_trial) is taken as its `number`, as Optuna's study.tell takes a Trial or its
 * number. It got "expected number, received object" before, and once ask_trial answered the
 * object too, the agent's own ask, tell loop would have got it on every trial.
 */
function withTrialNumber(raw: Record<string, unknown>): Record<string, unknown> {
  const t = raw.trial;
  if (typeof t !== "object" || t === null || Array.isArray(t)) return raw;
  const n = (t as { number?: unknown }).number;
  return Number.isInteger(n) ? { ...raw, trial: n } : raw;
}

/**
 * Why an object given as `trial` was not taken: zod said "expected number, received object", which
 * contradicted the tools that answer trials as objects and this server taking them.
 */
function trialObjectHint(raw: Record<string, unknown>): string {
  const t = raw.trial;
  if (typeof t !== "object" || t === null) return "";
  return Array.isArray(t)
    ? " (trial takes one trial: its number, or the trial object a tool answered)"
    : " (trial takes a trial's number, or the trial object a tool answered, whose 'number' must be an integer: this one's is missing or is not)";
}

/** Builds the MCP server (tools + resources) over a backend. One instance per client connection. */
export function createTuneportMcp(backend: McpBackend, opts: TuneportMcpOptions): TuneportMcp {
  const log = opts.logger.child({ component: "mcp" });
  const maxWaitS = opts.maxWaitS ?? 50;
  const server = new McpServer(
    { name: "tuneport", version: opts.version },
    { capabilities: { resources: { subscribe: true, listChanged: true }, tools: { listChanged: false } }, instructions: INSTRUCTIONS },
  );
  const all: McpTool[] = toolTable(maxWaitS);
  const tools = new Map(all.map((t) => [t.name, t]));
  const calls = new ToolCalls(opts.clientShare);

  /** Runs a tool on parsed arguments; a TuneportError becomes an isError result that names the next step. */
  const guarded = async (t: McpTool, args: Record<string, unknown>, extra: Extra): Promise<CallToolResult> => {
    const { max_chars, ...rest } = args;
    const budget = typeof max_chars === "number" ? max_chars : DEFAULT_MAX_CHARS;
    try {
      const result = await t.run(rest as never, { backend: cancellableBy(backend, extra.signal), extra, log, calls, budget });
      const size = resultChars(result);
      if (size <= budget) return result;
      if (!t.meta.readOnly) {
        log.warn({ tool: t.name, size, budget }, "a write tool's result is over its budget: answered whole, its change is committed");
        return result;
      }
      log.warn({ tool: t.name, size, budget }, "tool result over its budget");
      return overBudgetResult(t.name, size, budget, Object.keys(callInput(t).shape));
    } catch (err) {
      if (isTuneportError(err)) return errorResult(asToolError(t, err));
      log.error({ err, tool: t.name }, "tool failed");
      return {
        isError: true,
        content: [{ type: "text", text: "Error INTERNAL: the server failed (details are in its log); retrying may not help." }],
        _meta: errorMeta("INTERNAL", ERROR_CODES.INTERNAL),
      };
    }
  };

  const inputs = new Map(all.map((t) => [t.name, callInput(t)]));
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: all.map(toolDefinition) }));
  // An unknown tool is a protocol error; arguments that break the input limits or the tool's
  // schema are tool results with isError and a next step (SEP-1303), so the model can correct them.
  server.server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const t = tools.get(req.params.name);
    // A plain error with the code, not McpError: McpError's message already starts "MCP error -32602: ",
    // which went on the wire, and the client adds its own ("MCP error -32602: MCP error -32602: …").
    if (!t) throw Object.assign(new Error(unknownToolMessage(req.params.name, [...tools.keys()])), { code: ErrorCode.InvalidParams });
    const raw = req.params.arguments ?? {};
    try {
      checkToolArguments(req.params.name, raw);
    } catch (err) {
      if (isTuneportError(err)) return errorResult(err);
      throw err;
    }
    const input = inputs.get(t.name) as McpTool["input"];
    const unknown = unknownArguments(t.name, input, raw);
    if (unknown) return errorResult(unknown);
    const parsed = input.safeParse("trial" in input.shape ? withTrialNumber(raw) : raw);
    if (!parsed.success) {
      const hints = `${"trial" in input.shape ? trialObjectHint(raw) : ""}${nullValueHint(t.name, raw)}${missingArgumentHint(t.name, Object.keys(input.shape), raw)}`;
      return errorResult(invalidArgument(`arguments of ${t.name}: ${formatZodError(parsed.error)}${hints}`, { tool: t.name }));
    }
    return calls.run(() => guarded(t, parsed.data as Record<string, unknown>, extra));
  });

  registerPrompts(server);
  const stopResources = registerStudyResources(server, backend, log, opts.updateThrottleMs ?? 1000, calls);

  return {
    server,
    stop: () => calls.stop(),
    dispose: stopResources,
  };
}

/**
 * Names an agent brings from Optuna or from another tool, and what each tool calls them: the
 * first of the candidates that the tool takes is suggested.
 */
const ARGUMENT_ALIASES: Record<string, readonly string[]> = {
  study_name: ["study", "name"],
  name: ["study"],
  study: ["name"],
  n_trials: ["max_trials", "min_finished", "k", "limit"],
  sampler: ["strategy"],
  pruner: ["scheduler"],
  search_space: ["space"],
  param_distributions: ["space"],
  distributions: ["space", "distribution"],
  timeout: ["timeout_s"],
  trial_id: ["trial"],
  trial_number: ["trial"],
  number: ["trial"],
  objective: ["value"],
  objective_value: ["value"],
  order_by: ["sort"],
  state: ["states"],
  n: ["k", "limit"],
  top_k: ["k"],
  page_size: ["limit"],
  reason: ["rationale"],
  rationale: ["reason"],
};

/**
 * The arguments a tool does not take, refused rather than dropped: a silently ignored
 * `n_trials` on create_study leaves the study without the budget the agent meant to set (the
 * ops of the op table are strict the same way). Null when every argument is known.
 */
function unknownArguments(tool: string, input: McpTool["input"], raw: Record<string, unknown>) {
  const known = Object.keys(input.shape);
  const extra = Object.keys(raw).filter((k) => !known.includes(k));
  if (extra.length === 0) return null;
  const hints = extra.map((k) => {
    const alias = ARGUMENT_ALIASES[k]?.find((c) => known.includes(c));
    const optuna = optunaMcpArgumentHint(tool, k);
    return alias ? `'${k}' (did you mean ${alias}?)` : optuna ? `'${k}' (${optuna})` : `'${k}'`;
  });
  return invalidArgument(`${tool} takes no argument ${hints.join(", ")}; its arguments are ${known.join(", ")}`, { tool, unknown: extra });
}

/** Every tool, in the order `tools/list` shows them. */
export function toolTable(maxWaitS = 50): McpTool[] {
  return [...studyTools, ...steeringTools, ...trialTools, ...insightTools(maxWaitS)];
}

/**
 * The service names the op whose arguments it refused ("ask: lease_ttl_s …", "cursor is not a
 * best_trials cursor"); an agent called a tool (ask_trial, pareto_front), so the refusal names the
 * tool it can call again, and a cursor's listing by the tool's argument (list_trials' sort is the op's order_by).
 */
function asToolError(t: McpTool, err: TuneportError): TuneportError {
  if (err.code !== "INVALID_ARGUMENT") return err;
  if (err.message.startsWith("cursor was made for ") && "sort" in t.input.shape)
    return new TuneportError(err.code, err.message.replace(/\border_by\b/g, "sort"), err.data);
  const cursorOp = t.ops.find((o) => err.message.startsWith(`cursor is not a ${o} cursor`));
  if (cursorOp !== undefined && cursorOp !== t.name)
    return new TuneportError(err.code, err.message.replace(`a ${cursorOp} cursor`, `a ${t.name} cursor`), err.data);
  const op = t.ops.find((o) => err.message.startsWith(`${o}: `));
  if (op === undefined || op === t.name) return err;
  return new TuneportError(err.code, `${t.name}: ${err.message.slice(op.length + 2)}`, err.data);
}
