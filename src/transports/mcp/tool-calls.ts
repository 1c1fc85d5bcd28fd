/**
 * What every MCP tool call goes through before and around its tool: the input limits shared
 * with the other transports, and the bookkeeping that lets a stopping server answer the calls
 * it has in flight instead of dropping them.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { TuneportError } from "../../domain/errors.js";
import { checkArgumentLimits } from "../../domain/input-limits.js";
import type { CallShare } from "./client-calls.js";
import { errorResult } from "./format.js";

/**
 * Refuses tool arguments that break the limits of `domain/input-limits.ts` (nesting, lone
 * surrogates, a key `__proto__`: `checkArgumentLimits`) before any schema walks them. The server answers the error as an `isError` tool
 * result with a next step (SEP-1303: input validation is the tool's, not the protocol's).
 * @throws TuneportError INVALID_ARGUMENT (`data.max_nesting` for nesting).
 */
export function checkToolArguments(tool: string, args: unknown): void {
  checkArgumentLimits(`'${tool}'`, args);
}

/** The answer to a call that the server's shutdown ended or refused. */
export function stoppingResult(): CallToolResult {
  return errorResult(
    new TuneportError("UNAVAILABLE", "server stopping: the call was ended before it finished; call it again once the server is back"),
  );
}

/**
 * Tool calls one MCP server (a stdio process, or one HTTP session) runs at once; more are answered
 * UNAVAILABLE. An agent runs a few calls in parallel; without a bound one session could queue
 * thousands (20,000 `describe_study` held 350 MB), and answers that become ready together are
 * written in one run of the event loop (100 cached plots held the server's other clients 1–2 s).
 * Room for the 32 `wait_for_progress` one server lets wait at once, and as many other calls.
 */
export const MAX_TOOL_CALLS_IN_FLIGHT = 64;

/** The answer to a call beyond `MAX_TOOL_CALLS_IN_FLIGHT`. */
function busyResult(): CallToolResult {
  return errorResult(
    new TuneportError(
      "UNAVAILABLE",
      `${MAX_TOOL_CALLS_IN_FLIGHT} tool calls and requests are already in flight on this MCP session: wait for some of their results, then call again`,
      { max_in_flight: MAX_TOOL_CALLS_IN_FLIGHT },
    ),
  );
}

/** The refusal of a call beyond its client's share (client-calls.ts), over all its sessions. */
function clientBusy(share: CallShare): TuneportError {
  return new TuneportError(
    "UNAVAILABLE",
    `this client already has ${share.limit} tool calls and requests in flight over its MCP sessions: wait for some of their answers, then send it again`,
    { max_client_calls: share.limit },
  );
}

/**
 * Tool calls in flight on one MCP server, and its stop signal. Long calls (wait_for_progress)
 * race their waits against `stopped`; `stop` resolves once every call has its result.
 */
export class ToolCalls {
  private readonly controller = new AbortController();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Resolves when `stop` is called. */
  readonly stopped: Promise<void>;

  /** `share`: the bound its client's sessions share (client-calls.ts); none over stdio. */
  constructor(private readonly share?: CallShare) {
    this.stopped = new Promise((resolve) => this.controller.signal.addEventListener("abort", () => resolve(), { once: true }));
  }

  get stopping(): boolean {
    return this.controller.signal.aborted;
  }

  /** Runs one call, or answers `stoppingResult` at once when the server is stopping (`busyResult` when too many are in flight). */
  run(call: () => Promise<CallToolResult>): Promise<CallToolResult> {
    if (this.stopping) return Promise.resolve(stoppingResult());
    if (this.inflight.size >= MAX_TOOL_CALLS_IN_FLIGHT) return Promise.resolve(busyResult());
    if (this.share && !this.share.take()) return Promise.resolve(errorResult(clientBusy(this.share)));
    return this.track(call());
  }

  /**
   * Runs a protocol request that reaches the backend (`resources/read`, `resources/list`,
   * `resources/subscribe`) within the same bound as the tool calls. Those had none: one POST of 100
   * `resources/read` of a study whose space held 10,000 choices built an 85 MB answer, and ten such
   * POSTs left unread grew the server by 750 MB.
   * @throws TuneportError UNAVAILABLE when the server is stopping, the session has
   *   MAX_TOOL_CALLS_IN_FLIGHT calls and requests in flight, or its client its share (`data.max_client_calls`).
   */
  admit<T>(request: () => Promise<T>): Promise<T> {
    if (this.stopping) return Promise.reject(new TuneportError("UNAVAILABLE", "server stopping: call again once the server is back"));
    if (this.inflight.size >= MAX_TOOL_CALLS_IN_FLIGHT)
      return Promise.reject(
        new TuneportError(
          "UNAVAILABLE",
          `${MAX_TOOL_CALLS_IN_FLIGHT} tool calls and requests are already in flight on this MCP session: wait for some of their answers, then send it again`,
          { max_in_flight: MAX_TOOL_CALLS_IN_FLIGHT },
        ),
      );
    if (this.share && !this.share.take()) return Promise.reject(clientBusy(this.share));
    return this.track(request());
  }

  /** Counts `p` in flight until it settles (what `stop` waits for), its share taken meanwhile. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p
      .finally(() => {
        this.inflight.delete(p);
        this.share?.release();
      })
      .catch(() => undefined);
    return p;
  }

  /** Signals the stop and waits until every call in flight has its result. */
  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.allSettled([...this.inflight]);
  }
}
