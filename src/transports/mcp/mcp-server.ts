/**
 * The MCP adapter: the tool table (tools/studies.ts, tools/trials.ts, tools/insights.ts) and the
 * study resources (resources.ts) over an `McpBackend` (the in-process StudyService or a remote
 * server). Thin by design — each tool validates its input (zod), calls ops of the op table through
 * the backend, and formats the answer as text for the model plus `structuredContent`.
 *
 * Errors
 * - Malformed calls are protocol errors (JSON-RPC -32602): an unknown tool, or arguments that do
 *   not match the tool's input schema. (SDK 1.x's McpServer would turn these into `isError`
 *   results; we install our own `tools/call` handler to keep them apart.)
 * - Business failures (a `TuneportError`: unknown study, bad space, finished trial, ...) are
 *   `isError: true` results whose text names the next step.
 * - Anything else is logged and reported as an `isError` INTERNAL result without details.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type CallToolResult, CallToolRequestSchema, ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import { formatZodError } from "../../domain/distributions.js";
import type { McpBackend } from "./backend.js";
import { errorResult, isTuneportError } from "./format.js";
import { registerStudyResources } from "./resources.js";
import { ToolCalls, checkToolArguments } from "./tool-calls.js";
import { insightTools } from "./tools/insights.js";
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
}

const INSTRUCTIONS = `tuneport runs hyperparameter-optimization studies (like Optuna) that training workers
evaluate over ZeroMQ. You can create studies, propose configurations (enqueue_trial, with a
rationale), evaluate trials yourself (ask_trial then tell_trial), and read results
(study_summary, best_trials, list_trials, param_importances, plot). Use wait_for_progress
instead of polling while workers run. Studies are also resources: tuneport://studies/{name}.`;

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

/** Builds the MCP server (tools + resources) over a backend. One instance per client connection. */
export function createTuneportMcp(backend: McpBackend, opts: TuneportMcpOptions): TuneportMcp {
  const log = opts.logger.child({ component: "mcp" });
  const maxWaitS = opts.maxWaitS ?? 50;
  const server = new McpServer(
    { name: "tuneport", version: opts.version },
    { capabilities: { resources: { subscribe: true, listChanged: true }, tools: {} }, instructions: INSTRUCTIONS },
  );
  const all: McpTool[] = toolTable(maxWaitS);
  const tools = new Map(all.map((t) => [t.name, t]));
  const calls = new ToolCalls();

  /** Runs a tool on parsed arguments; a TuneportError becomes an isError result that names the next step. */
  const guarded = async (t: McpTool, args: unknown, extra: Extra): Promise<CallToolResult> => {
    try {
      return await t.run(args as never, { backend, extra, log, calls });
    } catch (err) {
      if (isTuneportError(err)) return errorResult(err);
      log.error({ err, tool: t.name }, "tool failed");
      return { isError: true, content: [{ type: "text", text: "Error INTERNAL: the server failed (details are in its log); retrying may not help." }] };
    }
  };

  for (const t of all)
    server.registerTool(
      t.name,
      {
        title: t.meta.title,
        description: t.meta.description,
        inputSchema: t.input,
        annotations: { readOnlyHint: t.meta.readOnly ?? false, destructiveHint: t.meta.destructive ?? false, openWorldHint: false },
      },
      ((args: unknown, extra: Extra) => calls.run(() => guarded(t, args, extra))) as never,
    );

  // Malformed calls are protocol errors (see the file comment): replace McpServer's handler.
  server.server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const t = tools.get(req.params.name);
    if (!t) throw new McpError(ErrorCode.InvalidParams, `Unknown tool '${req.params.name}'. Tools: ${[...tools.keys()].join(", ")}`);
    checkToolArguments(req.params.name, req.params.arguments ?? {});
    const parsed = t.input.safeParse(req.params.arguments ?? {});
    if (!parsed.success) throw new McpError(ErrorCode.InvalidParams, `Invalid arguments for tool '${req.params.name}': ${formatZodError(parsed.error)}`);
    return calls.run(() => guarded(t, parsed.data, extra));
  });

  const stopResources = registerStudyResources(server, backend, log, opts.updateThrottleMs ?? 1000);

  return {
    server,
    stop: () => calls.stop(),
    dispose: stopResources,
  };
}

/** Every tool, in the order `tools/list` shows them. */
export function toolTable(maxWaitS = 50): McpTool[] {
  return [...studyTools, ...trialTools, ...insightTools(maxWaitS)];
}
