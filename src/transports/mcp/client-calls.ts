/**
 * A bound on the calls one client keeps in flight over all its MCP sessions. A session runs up to 64
 * calls (`MAX_TOOL_CALLS_IN_FLIGHT`) and a client may hold every one of the door's 100 sessions while
 * no other client asks for one: 6,400 costly calls (a `study_summary` of a big study each) queued for
 * one client, tens of ms each, minutes of work kept alive behind its turns (fair-calls.ts). Beyond
 * `limit` calls and resource requests in flight, a client's next is refused UNAVAILABLE
 * (`data.max_client_calls`), before anything runs: safe to send again once some are answered.
 * A client is the session share's (http.ts `clientOf`: the address, or the client a trusted proxy
 * forwards, and the `clientInfo.name`).
 */

/** Calls and resource requests one client may have in flight over all its sessions [256]: four sessions' worth. */
export const DEFAULT_MAX_CLIENT_CALLS = 256;

/** One client's share, taken by each call of each of its sessions while it is in flight. */
export interface CallShare {
  readonly limit: number;
  /** Counts one more call in flight; false (nothing counted) when the client already has `limit`. */
  take(): boolean;
  release(): void;
}

/** The largest `limit` taken (as `--mcp-max-client-calls` takes): past it the bound bounds nothing a door could hold. */
export const MAX_CLIENT_CALLS_LIMIT = 100_000;

/** The shares of a door's clients. */
export class ClientCalls {
  private readonly inFlight = new Map<string, number>();

  /**
   * @throws RangeError for a `limit` that is not an integer from 1 to MAX_CLIENT_CALLS_LIMIT, as the
   * CLI's flag refuses it: before, a library user's 0 or a negative refused every call, and NaN or
   * Infinity bounded nothing (`n >= NaN` is false), without a word.
   */
  constructor(readonly limit = DEFAULT_MAX_CLIENT_CALLS) {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_CLIENT_CALLS_LIMIT)
      throw new RangeError(`maxClientCalls must be an integer from 1 to ${MAX_CLIENT_CALLS_LIMIT}, not ${String(limit)}`);
  }

  /** Calls in flight of `client`, for tests. */
  of(client: string): number {
    return this.inFlight.get(client) ?? 0;
  }

  share(client: string): CallShare {
    return {
      limit: this.limit,
      take: () => {
        const n = this.inFlight.get(client) ?? 0;
        if (n >= this.limit) return false;
        this.inFlight.set(client, n + 1);
        return true;
      },
      release: () => {
        const n = (this.inFlight.get(client) ?? 1) - 1;
        if (n <= 0) this.inFlight.delete(client);
        else this.inFlight.set(client, n);
      },
    };
  }
}
