/** The page's only way to the server: ops of the op table over POST /api/op/NAME, and the live feed. */

/** An op's failure, with the server's stable code. */
export class OpError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The error's `data` (a redirect's `{reason: "moved", endpoint}`). */
    readonly data?: Record<string, unknown>,
    /** Answered 503 with Retry-After (the server too busy to take it) after `op`'s own tries, its waits grown to `BUSY_MOST_MS`. */
    readonly busy = false,
  ) {
    super(message);
  }
}

/** Tries of an op the server is too busy to take (503 with Retry-After) before its error is shown. */
const BUSY_TRIES = 6;
/** The longest of those waits (before its spread of up to half again). */
export const BUSY_MOST_MS = 16_000;

/**
 * Calls op `name` with `args`; resolves with its result. An op the server is too busy to take
 * (503 with `Retry-After`: it never ran, so a write too is safe to send again) is sent again after
 * the time asked, then twice as long each time (up to 16 s), each wait spread by up to half again
 * so that the pages refused together do not come back together. @throws OpError
 */
export async function op<T = any>(name: string, args: Record<string, unknown> = {}): Promise<T> {
  const send = () => fetch(`/api/op/${name}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(args), credentials: "same-origin" });
  let res = await send();
  for (let tries = 1; res.status === 503 && res.headers.has("retry-after") && tries < BUSY_TRIES; tries++) {
    const asked = Number(res.headers.get("retry-after"));
    const wait = Math.min((Number.isFinite(asked) && asked > 0 ? asked : 1) * 1000 * 2 ** (tries - 1), BUSY_MOST_MS);
    await res.body?.cancel();
    await new Promise((r) => window.setTimeout(r, wait * (1 + Math.random() / 2)));
    res = await send();
  }
  const body = await res.json().catch(() => ({ error: { code: "INTERNAL", message: `HTTP ${res.status}` } }));
  if (!res.ok) throw new OpError(body?.error?.code ?? "INTERNAL", body?.error?.message ?? `HTTP ${res.status}`, body?.error?.data, res.status === 503 && res.headers.has("retry-after"));
  return body as T;
}

/** A committed change, from the service's change feed. */
export interface Change {
  study: string;
  kind: "created" | "updated" | "deleted";
  version: number;
}

/**
 * Subscribes to the change feed over SSE; `status` hears connected/reconnecting, and `resync`
 * runs each time the stream opens: the server sends only the changes committed after that, so
 * the page must read again what it may have read before. That is the first open too (the page's
 * first reads run beside the stream's connection and may answer before it is open: a change
 * committed between the two was never sent), and every open after the stream was lost (the server
 * restarted, or ended a stream its client did not read: the changes of the gap were never sent).
 * A stream the server refused (an HTTP error, which browsers do not retry) is opened again after
 * 1 s, then twice as long each time, up to 30 s.
 */
export function liveChanges(onChange: (c: Change) => void, status: (connected: boolean) => void, resync: () => void): void {
  let wait = 1000;
  const connect = () => {
    const es = new EventSource("/api/events");
    es.addEventListener("open", () => {
      wait = 1000;
      status(true);
      resync();
    });
    es.addEventListener("error", () => {
      status(false);
      // The browser retries a dropped stream itself, but gives up for good on an HTTP error (a
      // 503 while the server holds its most streams, a 401 after a restart): open another, later.
      if (es.readyState !== EventSource.CLOSED) return;
      window.setTimeout(connect, wait);
      wait = Math.min(wait * 2, 30_000);
    });
    es.addEventListener("change", (e) => onChange(JSON.parse((e as MessageEvent<string>).data) as Change));
  };
  connect();
}
