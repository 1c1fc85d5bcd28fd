/**
 * A change sent until it is answered, under one request id, by a transport that runs it for someone
 * who cannot resend it with that id himself: an agent over MCP (both backends) and a person on the
 * dashboard. Such a caller told "retry" makes a new request with a new id, which applies the change a
 * second time when the first was applied after all: no reply in time, a reply the server could not
 * send, or a refusal for a full disk whose change was held and committed once space was freed.
 */
import type { Logger } from "pino";
import { randomUUID } from "node:crypto";
import { TuneportError } from "../domain/errors.js";

/** Sends of one change (over ZeroMQ: `tuneport mcp --connect`) that time out before its outcome is reported unknown. */
export const REMOTE_SENDS = 3;
/**
 * Sends of one change that the server answers UNAVAILABLE for a reply it could not send (over its
 * memory ceiling, or a fault of its own) before its outcome is reported unknown; they are spaced
 * 0.1 s, then twice as long each time (3.1 s in all), as the Python client's.
 */
export const REMOTE_REFUSED_SENDS = 6;

/**
 * How long a change that the server refuses for a full disk (UNAVAILABLE `storage_full`) is sent
 * again with its request id, `retry_after_ms` apart, before its outcome is reported unknown. The
 * refusal's change may be held in memory and committed once space is freed (docs/DURABILITY.md): an
 * agent told "retry", whose retry is a new call with a new id, recorded an add_trial or queued an
 * enqueue_trial twice.
 */
export const FULL_WAIT_MS = 20_000;

/**
 * Why a change's reply is worth waiting for under the same request id: no reply in time, or a reply
 * the server handled but could not send (`data.reason` memory or reply_failed: the resend gets the
 * stored reply) or did not take yet (too many requests in flight), or a full disk; null for any other failure.
 */
function resendable(err: unknown): "timeout" | "refused" | "full" | null {
  if (!(err instanceof TuneportError) || err.code !== "UNAVAILABLE") return null;
  if (err.data?.timed_out === true) return "timeout";
  if (err.data?.reason === "storage_full") return "full";
  return err.data?.reason === "memory" || err.data?.reason === "reply_failed" || err.data?.max_inflight !== undefined ? "refused" : null;
}

/**
 * Sends a change (`send(requestId)`) until it is answered: again with the same request id when it
 * gets no reply in time (up to `REMOTE_SENDS` timeouts), when the server could not send or take it
 * (`REMOTE_REFUSED_SENDS` refusals, 0.1 s apart, then twice as long each time) and while its disk is
 * full (for `FULL_WAIT_MS`, each `retry_after_ms` apart). The server applies it once and answers a
 * resend with the first reply. When no send gets the reply the outcome is unknown, and the error says
 * so (`outcome_unknown`).
 */
export async function sendChange<T>(op: string, send: (requestId: string) => Promise<T>, log?: Logger, stop?: AbortSignal): Promise<T> {
  const id = randomUUID();
  const started = Date.now();
  let timeouts = 0;
  let refusals = 0;
  for (let sends = 1; ; sends++) {
    try {
      return await send(id);
    } catch (err) {
      const why = resendable(err);
      if (why === null) throw err;
      if (why === "timeout") timeouts++;
      else if (why === "refused") refusals++;
      if (why === "full" && Date.now() - started >= FULL_WAIT_MS)
        throw new TuneportError(
          "UNAVAILABLE",
          `'${op}' was refused for ${Math.round((Date.now() - started) / 1000)} s because the server's disk is full: it may still be applied once space is freed`,
          { outcome_unknown: true, op, reason: "storage_full" },
        );
      if (timeouts >= REMOTE_SENDS || refusals >= REMOTE_REFUSED_SENDS)
        throw new TuneportError(
          "UNAVAILABLE",
          why === "timeout"
            ? `'${op}' got no reply from the server after ${sends} sends: it may or may not have been applied`
            : `'${op}' got no reply from the server after ${sends} sends, the last refused (${(err as Error).message}): it may or may not have been applied`,
          { outcome_unknown: true, op },
        );
      if (stop?.aborted) throw stopped(op, err);
      log?.warn({ op, send: sends, why }, "no reply to a change; sending it again with the same request id");
      const hint = (err as TuneportError).data?.retry_after_ms;
      if (why === "refused") await pause(100 * 2 ** (refusals - 1), stop);
      else if (why === "full") await pause(typeof hint === "number" && hint > 0 ? Math.min(hint, 5000) : 1000, stop);
      if (stop?.aborted) throw stopped(op, err);
    }
  }
}

/** Waits `ms`, or less once `stop` aborts. */
function pause(ms: number, stop?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop?.addEventListener("abort", done, { once: true });
  });
}

/**
 * A change whose resends a stop ended (`tuneport mcp --connect` ending: stdin closed, SIGTERM): the
 * stop had waited out a full disk's 20 s, so a client that gives a server 2 s to stop (the MCP SDK's
 * stdio client: then SIGTERM, then SIGKILL) killed it.
 */
function stopped(op: string, last: unknown): TuneportError {
  return new TuneportError(
    "UNAVAILABLE",
    `'${op}' was not answered before this MCP server stopped (the last send: ${(last as Error).message}): it may or may not have been applied`,
    { outcome_unknown: true, op, stopped: true },
  );
}
