/** Limits on what one server holds, whatever the clients send (docs/SECURITY.md). */
import { plural } from "../domain/format.js";
import { TuneportError } from "../domain/errors.js";

/**
 * Studies one server holds at most by default. Each study is kept in memory for as long as it exists
 * (about 10 KB before its trials: 20,000 one-parameter studies grew a server from 71 to 286 MiB), so
 * a client creating studies in a loop (≈ 1,600 a second) would otherwise grow the server until it
 * is killed for memory, stopping every study. A create or import beyond it is refused
 * (FAILED_PRECONDITION, `data.reason: "max_studies"`); studies already stored all load at a start.
 */
export const DEFAULT_MAX_STUDIES = 10_000;

/** @throws FAILED_PRECONDITION when `studies` already holds `max` live studies and `name` would be one more. */
export function checkRoomForStudy(studies: ReadonlyMap<string, { readonly deleted?: boolean }>, max: number, name: string): void {
  // A deleted study leaves the map once its deletion commits; one still in it does not count.
  if (studies.size < max) return;
  let live = 0;
  for (const s of studies.values()) if (!s.deleted) live++;
  if (live < max) return;
  throw new TuneportError(
    "FAILED_PRECONDITION",
    `this server already holds ${plural(live, "study", "studies")}, its limit (serve --max-studies ${max}): delete studies you no longer need (delete_study), or restart the server with a larger --max-studies; '${name}' was not created`,
    { reason: "max_studies", max_studies: max, study: name },
  );
}
