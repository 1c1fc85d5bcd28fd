/**
 * The answer to a request on a study this server could not claim (service/ownership.ts `acquire`):
 * UNAVAILABLE `{reason: "moved", study, endpoint, owner_expires_in_s}`, which clients follow.
 */
import { TuneportError } from "../domain/errors.js";
import type { Claim } from "./ownership.js";

/**
 * Why `name` is not served here. Held by a live server: a redirect to its endpoint. A row whose lease
 * ran out but that a commit of its old owner still holds locked (a takeover in progress, skipped by the
 * claim) has no live owner: the empty endpoint, "resend later, to any server" (PROTOCOL.md), with a
 * short `retry_after_s`; the row is claimed, here or by another server's scan, once that commit ends
 * (a dead server's at once, a stalled one's within the TTL: PostgreSQL's idle-in-transaction timeout).
 * Before 2026-12-07 that answer named the old owner's endpoint, a dead or stalled server: a client
 * waited on it for a whole timeout, or went back and forth between the two, instead of asking again.
 * No endpoint otherwise: a `tuneport import` holds the name while it writes the study (or the name
 * changed hands between two statements).
 */
export function notHeldError(name: string, claim: Claim & { held: false }, ttlMs: number): TuneportError {
  if (claim.locked)
    return new TuneportError("UNAVAILABLE", `study '${name}' is changing hands (its owner's lease ran out; a commit of that owner still holds it); retry shortly (same id)`, {
      reason: "moved",
      study: name,
      endpoint: "",
      owner_expires_in_s: 0,
      retry_after_s: Math.min(1, Math.max(0.05, ttlMs / 10_000)),
    });
  return new TuneportError(
    "UNAVAILABLE",
    claim.endpoint
      ? `study '${name}' is served by ${claim.endpoint}; resend the request there (same id)`
      : `study '${name}' is held by a process that serves no requests (a 'tuneport import' writing it) or is changing hands; retry (same id)`,
    { reason: "moved", study: name, endpoint: claim.endpoint, owner_expires_in_s: Math.max(0, claim.expiresInMs) / 1000 },
  );
}
