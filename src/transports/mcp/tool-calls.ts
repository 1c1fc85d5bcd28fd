/**
 * What every MCP tool call goes through before and around its tool: the input limits shared
 * with the other transports, and the bookkeeping that lets a stopping server answer the calls
 * it has in flight instead of dropping them.
 */
import { type CallToolResult, ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { TuneportError } from "../../domain/errors.js";
import { MAX_NESTING, findIllFormedString, nestingExceeds } from "../../domain/input-limits.js";
import { errorResult } from "./format.js";

/**
 * Refuses tool arguments that break the limits of `domain/input-limits.ts` (nesting, lone
 * surrogates) before any schema walks them. @throws McpError -32602 whose message starts with
 * `INVALID_ARGUMENT:` and whose `data.code` is `INVALID_ARGUMENT`.
 */
export function checkToolArguments(tool: string, args: unknown): void {
  if (nestingExceeds(args, MAX_NESTING))
    throw new McpError(ErrorCode.InvalidParams, `INVALID_ARGUMENT: the arguments of '${tool}' nest deeper than ${MAX_NESTING} levels`, {
      code: "INVALID_ARGUMENT",
      max_nesting: MAX_NESTING,
    });
  const illFormed = findIllFormedString(args, "arguments");
  if (illFormed !== null)
    throw new McpError(
      ErrorCode.InvalidParams,
      `INVALID_ARGUMENT: ${illFormed} of '${tool}' is not well-formed Unicode (a lone surrogate); strings are refused, never repaired`,
      { code: "INVALID_ARGUMENT" },
    );
}

/** The answer to a call that the server's shutdown ended or refused. */
export function stoppingResult(): CallToolResult {
  return errorResult(
    new TuneportError("UNAVAILABLE", "server stopping: the call was ended before it finished; call it again once the server is back"),
  );
}

/**
 * Tool calls in flight on one MCP server, and its stop signal. Long calls (wait_for_progress)
 * race their waits against `stopped`; `stop` resolves once every call has its result.
 */
export class ToolCalls {
  private readonly controller = new AbortController();
  private readonly inflight = new Set<Promise<CallToolResult>>();
  /** Resolves when `stop` is called. */
  readonly stopped: Promise<void>;

  constructor() {
    this.stopped = new Promise((resolve) => this.controller.signal.addEventListener("abort", () => resolve(), { once: true }));
  }

  get stopping(): boolean {
    return this.controller.signal.aborted;
  }

  /** Runs one call, or answers `stoppingResult` at once when the server is stopping. */
  run(call: () => Promise<CallToolResult>): Promise<CallToolResult> {
    if (this.stopping) return Promise.resolve(stoppingResult());
    const p = call();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Signals the stop and waits until every call in flight has its result. */
  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.allSettled([...this.inflight]);
  }
}
