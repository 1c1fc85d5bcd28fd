/**
 * An MCP tool as one table entry: `{ name, meta, input, ops, run }`. The tool files (studies.ts,
 * trials.ts, insights.ts) hold the entries by topic; mcp-server.ts registers them all the same way.
 * `ops` names the op-table ops a tool calls, so the drift test can check that every op the table
 * says is exposed on MCP really is (src/transports/mcp/tools/tools.test.ts).
 */
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { CallToolResult, ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import type { z } from "zod";
import type { OpName } from "../../../service/ops/ops.js";
import type { McpBackend } from "../backend.js";
import type { ToolCalls } from "../tool-calls.js";

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What a tool's `run` gets besides its arguments. */
export interface ToolContext {
  readonly backend: McpBackend;
  readonly extra: Extra;
  readonly log: Logger;
  /** The server's calls in flight and its stop signal (long tools end early when it stops). */
  readonly calls: Pick<ToolCalls, "stopped" | "stopping">;
  /** This call's result budget in characters (budget.ts): the tool builds a result that fits. */
  readonly budget: number;
}

export interface ToolMeta {
  readonly title: string;
  readonly description: string;
  readonly readOnly?: boolean;
  readonly destructive?: boolean;
  /** Output grows with the data: the tool takes `max_chars` (budget.ts). */
  readonly sized?: boolean;
}

export interface McpTool<S extends z.ZodObject = z.ZodObject> {
  readonly name: string;
  readonly meta: ToolMeta;
  readonly input: S;
  /**
   * The shape of `structuredContent` (its `outputSchema`): the top-level fields, loose below, so
   * that clients can rely on them and `tools/list` stays small.
   */
  readonly output: z.ZodObject;
  /** The ops of the op table this tool calls. */
  readonly ops: readonly OpName[];
  /** Runs the tool; may throw TuneportError (turned into an `isError` result that names the next step). */
  run(args: z.infer<S>, ctx: ToolContext): Promise<CallToolResult>;
}

/** Declares a tool with its argument types inferred from `input`. */
export function defineTool<S extends z.ZodObject>(tool: McpTool<S>): McpTool {
  return tool as unknown as McpTool;
}

/** A text result with optional structured content. */
export const text = (t: string, structured?: Record<string, unknown>): CallToolResult => ({
  content: [{ type: "text", text: t }],
  ...(structured ? { structuredContent: structured } : {}),
});

/**
 * A hypervolume in structured content: JSON has no Infinity, so one that overflowed a float is
 * null and flagged `hypervolume_overflowed`, as the text (summary.ts `fmtHypervolume`) says.
 */
export const hypervolumeFields = (hv: number | null): { hypervolume: number | null; hypervolume_overflowed?: true } =>
  hv !== null && !Number.isFinite(hv) ? { hypervolume: null, hypervolume_overflowed: true } : { hypervolume: hv };
