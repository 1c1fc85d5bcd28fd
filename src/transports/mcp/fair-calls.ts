/**
 * Fair turns between the clients of MCP's HTTP door. The server has one thread, and a session runs
 * up to 64 calls at once (`MAX_TOOL_CALLS_IN_FLIGHT`), a client up to 100 sessions: the ops of every
 * call were started the moment their POST was read, so a client that kept many calls cheap to send
 * and costly to answer in flight (`param_importances`, `study_summary` of a 10,000-trial study) had
 * another agent's `list_studies` wait behind every one of them (bench/mcp-fair.mjs, docs/BENCHMARKS.md
 * "Input hardening"). Here each op a session's tools and resources ask of the backend waits for its
 * client's slot in a turn of the event loop (`FairDispatch`, the ZeroMQ door's: one op per slot while
 * the client's ops are slow, more while they are cheap), so another client's op waits behind about
 * one op per busy client, however many that client keeps in flight.
 *
 * A client is the session share's (`clientOf` in http.ts: the remote address, or the client a trusted
 * proxy forwards, and the `clientInfo.name`), both its own to choose: this stops a runaway loop or
 * script from starving the others, not a token holder set on varying them.
 */
import { TuneportError } from "../../domain/errors.js";
import { FairDispatch } from "../fair-dispatch.js";
import type { McpBackend } from "./backend.js";

/** One turn-taking queue for every session of a door. */
export class FairCalls {
  /** An op's start: `false` when it was refused unrun (cancelled), which the turns do not count. */
  private readonly dispatch = new FairDispatch<() => boolean>((start) => start());

  /** Ops waiting for their client's turn (for tests). */
  get queued(): number {
    return this.dispatch.queued;
  }

  /**
   * `backend` whose `call`s wait for `client`'s turn before they run (never in the same turn as
   * they are made); `version`, `waitForChange` and `onChange` are not held (a wait runs no op).
   * A call whose `signal` aborted while it waited (the agent cancelled it, its POST's connection
   * closed, its session ended) is not run: it rejects UNAVAILABLE with `data.not_run` in its turn.
   */
  backendFor(backend: McpBackend, client: string): McpBackend {
    const call: McpBackend["call"] = (op, args, signal) =>
      new Promise((resolve, reject) =>
        this.dispatch.submit(client, () => {
          // Nobody waits for its answer any more (the SDK drops a cancelled request's): a client that
          // left with hundreds of costly calls queued had every one of them run, one a turn, and a
          // cancelled ask still leased a trial that nobody would tell.
          if (signal?.aborted) {
            reject(new TuneportError("UNAVAILABLE", `'${op}' was cancelled before it ran: nothing was done`, { not_run: true, op }));
            return false;
          }
          try {
            backend.call(op, args, signal).then(resolve, reject);
          } catch (err) {
            reject(err);
          }
          return true;
        }),
      );
    return {
      call,
      version: (s) => backend.version(s),
      waitForChange: (s, since, ms, signal) => backend.waitForChange(s, since, ms, signal),
      onChange: (l) => backend.onChange(l),
      close: () => backend.close(),
      ...(backend.heldByAgent ? { heldByAgent: (w: unknown) => backend.heldByAgent?.(w) === true } : {}),
      ...(backend.as ? { as: (who: Parameters<NonNullable<McpBackend["as"]>>[0]) => this.backendFor((backend.as as NonNullable<McpBackend["as"]>)(who), client) } : {}),
    };
  }
}
