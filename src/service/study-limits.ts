/** Limits on what one server holds, whatever the clients send (docs/SECURITY.md). */
import { plural } from "../domain/format.js";
import { TuneportError, invalidArgument } from "../domain/errors.js";

/** The limits a `StudyService` is opened with (serve --max-studies, --max-intermediate). */
export interface LimitOptions {
  /** Studies this server holds at most; more are refused (`DEFAULT_MAX_STUDIES`). */
  readonly maxStudies?: number;
  /** Intermediate values one trial holds at most; more are refused (`DEFAULT_MAX_INTERMEDIATE`). */
  readonly maxIntermediate?: number;
}

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

/**
 * Intermediate values one trial holds at most by default. Every value is kept in memory with its
 * trial for as long as the study exists, stored, and carried by the trial's views: one worker that
 * reported every step of a long run (300,000 non-blocking reports, a probe of 2026-12-06) grew the
 * server from 122 to 342 MiB RSS and its SQLite file to 35 MB, and nothing stopped it going on. A
 * report past it (and an `add_trial` carrying more) is refused INVALID_ARGUMENT
 * (`data.reason: "max_intermediate"`), nothing stored; the trial itself goes on (tell it as usual).
 * A report that repeats the last step stores nothing and is not refused.
 */
export const DEFAULT_MAX_INTERMEDIATE = 100_000;

/**
 * The largest --max-intermediate serve accepts, and the bound `add_trial`'s schema puts on
 * `intermediate`: a schema bound below a cap serve accepts would refuse with zod's "Too big" what
 * the cap allows, and one at the default cap would answer a list past it with zod's message instead
 * of the documented `data.reason: "max_intermediate"`.
 */
export const MAX_INTERMEDIATE_CAP = 100_000_000;

/**
 * The values a retry (`retryOf`, the study's `keep_intermediate`) started with: its failed attempt's,
 * when `t` is a retry whose first values are all of that attempt's; else null. A retry of a trial
 * that reached the cap starts full, and its every report was refused with "it has N already" and
 * nothing saying that none of them were its own.
 */
export function carriedIntermediate(
  trials: readonly ({ readonly intermediate: readonly { readonly step: number }[] } | undefined)[],
  t: { readonly intermediate: readonly { readonly step: number }[]; readonly systemAttrs: Readonly<Record<string, unknown>> },
): { readonly from: number; readonly count: number } | null {
  const from = t.systemAttrs.retry_of;
  const parent = typeof from === "number" ? trials[from] : undefined;
  const n = parent?.intermediate.length ?? 0;
  if (parent === undefined || n === 0 || t.intermediate.length < n || t.intermediate[n - 1]!.step !== parent.intermediate[n - 1]!.step) return null;
  return { from: from as number, count: n };
}

/**
 * @throws INVALID_ARGUMENT (`data.reason: "max_intermediate"`) when a trial holding `held` values would get `adding` more, past `max`.
 * `carried`: how many of `held` a retry started with (`carriedIntermediate`), said in the message and `data`.
 */
export function checkRoomForIntermediate(
  study: string,
  trial: number | null,
  held: number,
  adding: number,
  max: number,
  carried: { readonly from: number; readonly count: number } | null = null,
): void {
  if (held + adding <= max) return;
  const which = trial === null ? "a trial" : `trial ${trial}`;
  const had = trial === null ? `; this one has ${adding.toLocaleString("en-US")}` : `; it has ${held.toLocaleString("en-US")} already`;
  const why =
    carried === null
      ? ""
      : `, ${carried.count.toLocaleString("en-US")} of them carried over from trial ${carried.from}, the failed attempt it retries ` +
        `(the study keeps a failed attempt's values for its retry: keep_intermediate)${carried.count >= max ? ", so it has no room for a value of its own" : ""}`;
  const fix = carried === null ? "" : " or create the study without keep_intermediate,";
  throw invalidArgument(
    `${which} of '${study}' holds at most ${max.toLocaleString("en-US")} intermediate values (serve --max-intermediate ${max})${had}${why}` +
      `: report every k-th step (the server keeps, stores and sends every value),${fix} or restart the server with a larger --max-intermediate; nothing was stored`,
    {
      reason: "max_intermediate",
      max_intermediate: max,
      study,
      ...(trial === null ? {} : { trial }),
      ...(carried === null ? {} : { retry_of: carried.from, carried: carried.count }),
    },
  );
}
