/**
 * Pages of trials and studies with opaque keyset cursors, and projections of trial views.
 *
 * A cursor names the last item of a page by its sort key (trial number, or value then number; a
 * study's creation time then name), not by position, so a page boundary does not shift when trials
 * are added or finish meanwhile (the usual keyset pagination, as in the MCP spec's `nextCursor`);
 * an `export_study` cursor names the export line to resume at (the export is in trial number order).
 * A cursor also records what it pages: its kind (`k`), the study (a digest of the name, the
 * name's first characters for the refusal, and the study's creation time in ms, which tells a study
 * deleted and created again under its name from the one the cursor paged) and, for trials, the order
 * and filter. Passed to another study, order or filter, or to another op, it is refused with what it
 * was made for (INVALID_ARGUMENT), as is one that does not decode or comes from a version whose
 * cursors named no study or no creation time; passed for a study re-created under its name, it is
 * refused with `data.reason: "study_recreated"` (start again without a cursor).
 */
import { createHash } from "node:crypto";
import { invalidArgument } from "../domain/errors.js";
import { feasibility } from "../domain/objectives.js";
import type { TrialState } from "../domain/trial.js";
import type * as S from "./ops/schemas.js";
import type { StudyState, TrialRecord } from "./study-state.js";
import { type StudyView, type TrialView, trialView } from "./views.js";

/** Trials per page when a request names no limit. */
export const DEFAULT_TRIALS_LIMIT = 1000;

/**
 * Most intermediate values one page of trials carries: a page ends early (with a `next_cursor`)
 * before the trial that would pass it, though it always holds one trial. 100 trials of 50,000
 * reports each made one 61 MB reply that held the server's thread 6–8 s; a page of 100,000 values
 * is about 1.2 MB of msgpack and ~0.13 s.
 */
export const MAX_PAGE_INTERMEDIATES = 100_000;

/**
 * Most trials one page carries, whatever `limit` says (a page then ends with a `next_cursor`): a
 * page is built and encoded on the server's one thread, which answers nobody meanwhile, at ~15 µs
 * a trial here. `limit: 100000` on a study of 100,000 trials held it 1.1–1.4 s per page, so every
 * ask and tell of every worker waited that long; a page of 5,000 takes ~75 ms.
 */
export const MAX_PAGE_TRIALS = 5_000;

/**
 * About the most bytes one page of trials or studies carries: a page ends (with a `next_cursor`)
 * before the item that would pass it, one item at least. The counts above do not bound bytes: 2,000
 * trials with 60 KB of user attributes each (legal) made one 120 MB reply, and every trial's
 * `distributions` repeats a categorical's choices (10,000 choices of ~100 characters: 1 MB per
 * trial); list_studies sent every study's space in one reply (200 such studies: 5 s, +350 MB). The
 * size is estimated (`approxBytes`) from the fields the page carries.
 */
export const MAX_PAGE_BYTES = 8 * 1024 * 1024;

/**
 * The longest prefix of `page` (one trial at least) whose intermediate values stay within
 * `MAX_PAGE_INTERMEDIATES` and whose estimated size stays within `MAX_PAGE_BYTES`.
 */
function withinValueBudget(page: TrialRecord[], fields?: readonly TrialField[]): TrialRecord[] {
  const has = (f: TrialField) => !fields || fields.includes(f);
  const values = has("intermediate");
  let count = 0;
  let bytes = 0;
  for (let i = 0; i < page.length; i++) {
    const t = page[i] as TrialRecord;
    if (values) count += t.intermediate.length;
    bytes += trialBytes(t, has);
    if ((count > MAX_PAGE_INTERMEDIATES || bytes > MAX_PAGE_BYTES) && i > 0) return page.slice(0, i);
  }
  return page;
}

/** A trial view's estimated size in a reply, counting only the fields `has` keeps. */
function trialBytes(t: TrialRecord, has: (f: TrialField) => boolean): number {
  let n = 64;
  if (has("params")) n += approxBytes(t.params);
  if (has("distributions")) for (const [k, d] of Object.entries(t.distributions)) n += k.length + distributionBytes(d);
  if (has("intermediate")) n += 18 * t.intermediate.length;
  if (has("user_attrs")) n += approxBytes(t.userAttrs);
  if (has("system_attrs")) n += approxBytes(t.systemAttrs);
  return n;
}

/** Distributions never change once made (a suggest sets a new one), so their sizes are kept. */
const distributionSizes = new WeakMap<object, number>();

function distributionBytes(d: object): number {
  let n = distributionSizes.get(d);
  if (n === undefined) distributionSizes.set(d, (n = approxBytes(d)));
  return n;
}

/** A JSON-like value's size in MessagePack, roughly (strings by their length). */
function approxBytes(v: unknown): number {
  if (typeof v === "string") return v.length + 2;
  if (typeof v !== "object" || v === null) return 9;
  let n = 3;
  if (Array.isArray(v)) for (const x of v) n += approxBytes(x);
  else for (const [k, x] of Object.entries(v)) n += k.length + 2 + approxBytes(x);
  return n;
}

/** The fields of a trial view a projection may name (`number` is always kept). */
export const TRIAL_FIELDS = [
  "number",
  "state",
  "params",
  "distributions",
  "value",
  "intermediate",
  "user_attrs",
  "system_attrs",
  "created_at",
  "started_at",
  "finished_at",
  "duration_s",
] as const;
export type TrialField = (typeof TRIAL_FIELDS)[number];

/** A trial view reduced to some fields; `number` is always there. */
export type TrialRow = Partial<TrialView> & { number: number };

/** A page of the `trials` op (schemas.ts `trialsResult`). */
export interface TrialsPage<T = TrialRow> {
  trials: T[];
  total: number;
  next_cursor: string | null;
  /** By value: the trials of the filter that have no value, which the page cannot rank. */
  without_value?: number;
}

/** What a cursor says of its study: `sh` (the name's digest) and `ca` (its creation, ms) must match the study paged; `st` is quoted when they do not. */
interface StudyMark {
  st: string;
  sh: string;
  ca: number;
}

/** The study a cursor pages: its name and its identity among the studies that held that name (`Study.createdAt`, ms). */
export interface PagedStudy {
  name: string;
  createdAt: number;
}

/** A `trials` cursor: the listing it continues and the last trial it showed. */
interface TrialCursor extends StudyMark {
  k: "trials";
  o: "number" | "value";
  d: boolean;
  s: string;
  n: number;
  v: number | null;
}

/** The characters of a study name a cursor quotes: a name may be 200 code points of 4 bytes each, and a cursor is at most 1,000 characters. */
const CURSOR_NAME_CHARS = 40;

function studyMark({ name, createdAt }: PagedStudy): StudyMark {
  const chars = Array.from(name);
  const st = chars.length > CURSOR_NAME_CHARS ? `${chars.slice(0, CURSOR_NAME_CHARS - 1).join("")}…` : name;
  return { st, sh: createHash("sha256").update(name, "utf8").digest("base64url").slice(0, 16), ca: createdAt };
}

/** Why a cursor of another study, order or filter is refused, and what to do instead. */
const CONTINUES_ONLY = "a next_cursor continues only the listing of the call that returned it (call again with its arguments, or without a cursor for a first page)";

const encode = (c: object): string => Buffer.from(JSON.stringify(c), "utf8").toString("base64url");

/**
 * The fields of a cursor of kind `kind` (`what` names its op) made for study `study`.
 * @throws INVALID_ARGUMENT for a cursor that does not decode, of another kind or format, or of another study.
 */
function decode(cursor: string, kind: string, what: string, study?: PagedStudy): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
  } catch {
    // refused below
  }
  const c = v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  if (c === null || c.k !== kind || (study !== undefined && (typeof c.sh !== "string" || typeof c.st !== "string" || typeof c.ca !== "number")))
    throw invalidArgument(`cursor is not a ${what} cursor: pass the next_cursor of the previous page unchanged, or start again without a cursor (cursors of earlier versions are not read)`);
  if (study !== undefined) {
    const here = studyMark(study);
    if (c.sh !== here.sh)
      throw invalidArgument(`cursor was made for study '${String(c.st)}', not '${here.st}': ${CONTINUES_ONLY}`, { cursor_study: c.st });
    // Same name, another study: the one the cursor paged was deleted and this one created under its
    // name. Its trial numbers start again at 0, so the cursor's position means nothing here.
    // (Within 0.5 ms, as ask's study_created_at is compared.)
    if (Math.abs((c.ca as number) - study.createdAt) >= 0.5)
      throw invalidArgument(
        `cursor was made for study '${here.st}' created at ${isoOf(c.ca as number)}, which was deleted; the study now named '${here.st}' was created at ${isoOf(study.createdAt)}, so the cursor does not continue it: start again without a cursor`,
        { cursor_study: c.st, reason: "study_recreated", cursor_created_at: (c.ca as number) / 1000, created_at: study.createdAt / 1000 },
      );
  }
  return c;
}

/**
 * The `next_cursor` of an `export_study` page that starts at line `line` of study `study`: it names
 * the study (name and creation, as every cursor does) and the line, so that it continues only that
 * study's export: not another study's, nor one created again under its name (its lines from that
 * index on would follow the deleted study's header).
 */
export function exportCursor(study: PagedStudy, line: number): string {
  return encode({ k: "export", ...studyMark(study), l: line });
}

/** The line an export cursor resumes at, its study unchecked (0 without a cursor; NaN for one that is not an export cursor). */
export function exportCursorLine(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  try {
    const l = decode(cursor, "export", "study export").l;
    return typeof l === "number" ? l : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * The line an `export_study` cursor of study `study` resumes at.
 * @throws INVALID_ARGUMENT for a cursor that does not decode, of another op or study, or of a study
 * deleted since and created again under its name (`data.reason: "study_recreated"`).
 */
export function exportCursorPosition(cursor: string, study: PagedStudy): number {
  const l = decode(cursor, "export", "study export", study).l;
  if (typeof l !== "number" || !Number.isSafeInteger(l) || l < 0)
    throw invalidArgument("cursor is not a study export cursor: pass the next_cursor of the previous page unchanged, or start again without a cursor");
  return l;
}

/** An epoch-ms time as ISO 8601 (a garbled one as its number), as a refused cursor names a study's creation. */
export function isoOf(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** Keeps the named fields (and `number`) of a view, and of `params`/`distributions` the named parameters. */
export function projectTrial(t: TrialView, fields?: readonly TrialField[], params?: readonly string[]): TrialRow {
  const keep = (p: Record<string, unknown>) => (params ? Object.fromEntries(params.filter((k) => Object.hasOwn(p, k)).map((k) => [k, p[k]])) : p);
  const full: TrialView = params ? { ...t, params: keep(t.params) as TrialView["params"], distributions: keep(t.distributions) as TrialView["distributions"] } : t;
  if (!fields) return full;
  const out: Record<string, unknown> = { number: t.number };
  for (const f of fields) out[f] = full[f];
  if (fields.includes("value")) {
    // A multi-objective trial's value is null: its result is `values`, and a constrained one's
    // `constraints`; "value" names the result, so they come with it.
    if (t.values !== null && t.values.length > 1) out.values = t.values;
    if (t.constraints !== null) Object.assign(out, { constraints: t.constraints, feasible: t.feasible });
  }
  return out as TrialRow;
}

/**
 * A page of trials, filtered by state (and feasibility) and ordered by number or value (best first; trials without a
 * value are left out), after `cursor` and then `offset`, at most `limit` (fewer past
 * `MAX_PAGE_TRIALS`, or once they carry `MAX_PAGE_INTERMEDIATES` intermediate values), projected by `fields` and `params`. `next_cursor` continues after the page's last trial; null when nothing follows.
 * By value, `without_value` counts the trials of the filter left out for having no value (from the
 * same scan), so that a listing does not read as the whole study.
 * @throws INVALID_ARGUMENT for a cursor of another study, order or filter.
 */
export function trialsPage(s: StudyState, a: S.TrialsArgs, now: number): TrialsPage {
  const order = a.order_by ?? "number";
  const desc = a.descending ?? false;
  const filter = filterKey(a);
  let list: TrialRecord[] = s.trials;
  if (a.states?.length) {
    const want = new Set<TrialState>(a.states);
    list = list.filter((t) => want.has(t.state));
  }
  if (a.feasible !== undefined) list = list.filter((t) => feasibility(t) === a.feasible);
  const sign = s.study.config.direction === "minimize" ? 1 : -1;
  // Ascending sort key comparison; `descending` reverses it.
  const cmp = (x: { n: number; v: number | null }, y: { n: number; v: number | null }) =>
    order === "value" ? sign * ((x.v as number) - (y.v as number)) || x.n - y.n : x.n - y.n;
  const last = a.cursor === undefined ? null : cursorPosition(a.cursor, s.study, order, desc, filter);
  const dir = desc ? -1 : 1;
  const offset = a.offset ?? 0;
  const limit = Math.min(a.limit ?? DEFAULT_TRIALS_LIMIT, MAX_PAGE_TRIALS);
  const cursorOf = (t: TrialRecord) => trialCursor(s.study, a, t);
  if (order === "value") {
    // First and later pages alike keep only the first offset + limit while scanning (O(n log k),
    // O(k) memory): no sort of every trial, however deep the cursor.
    const ordered = (x: TrialRecord, y: TrialRecord) => dir * cmp({ n: x.number, v: x.value }, { n: y.number, v: y.value });
    const after = last === null ? (t: TrialRecord) => t.value !== null : (t: TrialRecord) => t.value !== null && dir * cmp({ n: t.number, v: t.value }, last) > 0;
    const { first, total: remaining } = firstK(list, offset + limit, after, ordered);
    let total = remaining;
    if (last !== null) {
      total = 0;
      for (const t of list) if (t.value !== null) total++;
    }
    const page = withinValueBudget(first.slice(offset), a.fields);
    const lastShown = page[page.length - 1];
    const next_cursor = offset + page.length < remaining && lastShown ? cursorOf(lastShown) : null;
    const trials = page.map((t) => projectTrial(trialView(t, now), a.fields, a.params));
    return { trials, total, next_cursor, without_value: list.length - total };
  }
  if (desc) list = [...list].reverse();
  const total = list.length;
  if (last !== null) list = list.filter((t) => dir * cmp({ n: t.number, v: t.value }, last) > 0);
  const page = withinValueBudget(list.slice(offset, offset + limit), a.fields);
  const lastShown = page[page.length - 1];
  const next_cursor = offset + page.length < list.length && lastShown ? cursorOf(lastShown) : null;
  return { trials: page.map((t) => projectTrial(trialView(t, now), a.fields, a.params)), total, next_cursor };
}

/** The `next_cursor` of a `trials` page of study `study` whose last trial is `t` (also what `tuneport studies trials --json` prints). */
export function trialCursor(
  study: PagedStudy,
  a: Pick<S.TrialsArgs, "order_by" | "descending" | "states" | "feasible">,
  t: { number: number; value: number | null },
): string {
  const order = a.order_by ?? "number";
  return encode({ k: "trials", ...studyMark(study), o: order, d: a.descending ?? false, s: filterKey(a), n: t.number, v: order === "value" ? t.value : null } satisfies TrialCursor);
}

/** What a cursor records of the listing's filter: the states, sorted, and the feasibility asked for. */
function filterKey(a: Pick<S.TrialsArgs, "states" | "feasible">): string {
  const states = [...new Set(a.states ?? [])].sort().join(",");
  return a.feasible === undefined ? states : `${states};feasible=${a.feasible}`;
}

/** A listing's order and filter in the op's words, as a refusal names them. */
function listingWords(o: unknown, d: unknown, filter: unknown): string {
  const [states = "", feasible] = String(filter).split(";feasible=");
  return [`order_by ${String(o)}`, d === true ? "descending" : "ascending", states ? `states ${states}` : "any state", ...(feasible ? [`feasible ${feasible}`] : [])].join(", ");
}

/** The last trial a `trials` cursor showed. @throws INVALID_ARGUMENT for a cursor of another study, order, direction or filter. */
function cursorPosition(cursor: string, study: PagedStudy, order: string, desc: boolean, filter: string): { n: number; v: number | null } {
  const c = decode(cursor, "trials", "trials", study);
  if (typeof c.n !== "number") throw invalidArgument("cursor is not a trials cursor: pass the next_cursor of the previous page unchanged");
  if (c.o !== order || c.d !== desc || c.s !== filter)
    throw invalidArgument(
      `cursor was made for ${listingWords(c.o, c.d, c.s)}, and this call asks for ${listingWords(order, desc, filter)}: ${CONTINUES_ONLY}`,
      { cursor_order_by: c.o ?? null },
    );
  return { n: c.n, v: typeof c.v === "number" ? c.v : null };
}

/**
 * The study a `list_studies` cursor (`kind` "studies") or a `studies_overview` cursor ("overview")
 * names: its creation time (s) and name. @throws INVALID_ARGUMENT for another kind of cursor (one
 * op's cursor passed to the other included).
 */
export function studiesCursorKey(cursor: string, kind: "studies" | "overview" = "studies"): [number, string] {
  const what = kind === "studies" ? "list_studies" : "studies_overview";
  const c = decode(cursor, kind, what);
  if (typeof c.c !== "number" || typeof c.n !== "string") throw invalidArgument(`cursor is not a ${what} cursor: pass the next_cursor of the previous page unchanged`);
  return [c.c, c.n];
}

/** The `next_cursor` of a `studies_overview` page whose last study is `last` (creation time in s, name). */
export function overviewCursor(last: [number, string]): string {
  return encode({ k: "overview", c: last[0], n: last[1] });
}

/** The order list_studies and studies_overview page in: creation time (s), then name (JavaScript's order, UTF-16 code units). */
export function compareStudyKeys(x: readonly [number, string], y: readonly [number, string]): number {
  return x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0);
}

/**
 * Of the studies `keys` (name → creation time, s), the names of one page in creation order (then
 * name): those after `after`, at most `limit` (all by default), and whether more follow. Only the
 * page's studies are then viewed (reads.ts `listingPage`): viewing every study to cut one page
 * took 0.7-2 s at 10,000 studies on PostgreSQL (docs/BENCHMARKS.md "A page of list_studies").
 */
export function pageStudyKeys(keys: ReadonlyMap<string, number>, after: [number, string] | null, limit?: number): { names: string[]; more: boolean } {
  const cmp = compareStudyKeys;
  let list = [...keys].map(([n, c]): [number, string] => [c, n]);
  if (after !== null) list = list.filter((k) => cmp(k, after) > 0);
  // The first `limit` by selection when few of many, else a sort of them all.
  const page = limit !== undefined && limit * 8 < list.length ? firstK(list, limit, () => true, cmp).first : list.sort(cmp).slice(0, limit);
  return { names: page.map((k) => k[1]), more: page.length < list.length };
}

/**
 * The page of `views` (one page's studies, in order) that fits the byte budget, with a cursor when it
 * was cut or `more` follow. `cut`: the key of the last study the page was cut at (`pageStudyKeys`),
 * where the next page starts when every view fits: a study of the page deleted before it was viewed
 * is not among `views`, and the page ended at the last study shown, or (none shown: limit 1) with no
 * cursor, as if no study followed.
 */
export function studiesPageOf(views: StudyView[], more: boolean, cut?: [number, string]): { studies: StudyView[]; next_cursor: string | null } {
  const page = withinStudyBudget(views);
  const lastShown = page[page.length - 1];
  const at: [number, string] | undefined =
    page.length < views.length || cut === undefined ? (lastShown ? [lastShown.created_at, lastShown.name] : undefined) : cut;
  return { studies: page, next_cursor: (page.length < views.length || more) && at ? encode({ k: "studies", c: at[0], n: at[1] }) : null };
}

/** The longest prefix of `page` (one study at least) whose estimated size stays within `MAX_PAGE_BYTES`. */
function withinStudyBudget(page: StudyView[]): StudyView[] {
  let bytes = 0;
  for (let i = 0; i < page.length; i++) {
    const v = page[i] as StudyView;
    bytes += 1024 + approxBytes(v.user_attrs) + (v.notes?.length ?? 0);
    for (const space of [v.space, v.define_by_run]) for (const [k, d] of Object.entries(space)) bytes += k.length + distributionBytes(d);
    if (bytes > MAX_PAGE_BYTES && i > 0) return page.slice(0, i);
  }
  return page;
}

/**
 * The first `k` items of `items` that pass `keep`, in `cmp` order (ties in input order), and how
 * many passed. O(n log k) time, O(k) memory: candidates are appended to a buffer, which is sorted
 * and cut to `k` whenever it holds `2k`; the k-th item then bounds what can still enter. It used to
 * insert each candidate in a sorted array (`splice`), which moves the items behind it: with a deep
 * `offset` (`k` = offset + limit, up to the whole study) one page by value of 100,000 trials held the
 * server's thread a median 0.45–0.7 s (up to 3 s), 11–99 ms now, and a study whose values improve
 * trial by trial (each one a new best, inserted first) was the worst case (docs/BENCHMARKS.md "A page
 * of trials by value deep in a big study").
 */
export function firstK<T>(items: readonly T[], k: number, keep: (x: T) => boolean, cmp: (a: T, b: T) => number): { first: T[]; total: number } {
  const first: T[] = [];
  let total = 0;
  let bound: T | undefined;
  for (const x of items) {
    if (!keep(x)) continue;
    total++;
    if (k === 0) continue;
    if (bound !== undefined && cmp(x, bound) >= 0) continue;
    first.push(x);
    if (first.length >= 2 * k) {
      first.sort(cmp); // stable: ties keep input order
      first.length = k;
      bound = first[k - 1];
    }
  }
  first.sort(cmp);
  if (first.length > k) first.length = k;
  return { first, total };
}

/**
 * One page of the Pareto front of study `study` (`best_trials`, trials in number order): those after `cursor`, at most
 * `limit` of them, cut as a page of `trials` is (`withinValueBudget`). A front of 2,000 tied trials
 * with 60 KB of user attributes each was one 120 MB answer. @throws INVALID_ARGUMENT for a cursor of another op or study.
 */
export function frontPage(
  study: PagedStudy,
  front: TrialRecord[],
  cursor: string | undefined,
  limit = Infinity,
): { trials: TrialRecord[]; n_front: number; next_cursor: string | null } {
  let from = 0;
  if (cursor !== undefined) {
    const c = decode(cursor, "front", "best_trials", study);
    if (typeof c.n !== "number") throw invalidArgument("cursor is not a best_trials cursor: pass the next_cursor of the previous answer unchanged");
    const after = c.n;
    from = front.findIndex((t) => t.number > after);
    if (from < 0) from = front.length;
  }
  const page = withinValueBudget(front.slice(from, from + Math.min(limit, front.length)));
  const last = page[page.length - 1];
  const more = from + page.length < front.length;
  return { trials: page, n_front: front.length, next_cursor: more && last ? encode({ k: "front", ...studyMark(study), n: last.number }) : null };
}
