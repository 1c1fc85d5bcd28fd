/**
 * The trial table's query (`query_trials` op): filter a study's trials by state and parameter
 * ranges, sort by any column, return one page of slim rows. Built for the dashboard's table at
 * 100,000 trials: one pass to filter, one sort of the survivors on precomputed keys (numbers in a
 * Float64Array, so the comparator reads no objects), and only the page's rows are built.
 *
 * Sort keys: `number`, `value`, `values.<i>` (objective i), `state`, `started_at`, `finished_at`, `duration`, `worker`,
 * `params.<name>` and `user_attrs.<name>`. A trial without the key (no value yet, a parameter it
 * did not use) sorts last in either direction; ties go by trial number, ascending.
 * Categorical and string keys sort by their text, an object's or list's by its JSON, each by its
 * first `TEXT_KEY_CHARS` characters (then by trial number); states in lifecycle order.
 */
import { invalidArgument } from "../domain/errors.js";
import { feasibility } from "../domain/objectives.js";
import { TRIAL_STATES, type TrialState } from "../domain/trial.js";
import { workerLabel } from "../domain/worker.js";
import type * as S from "./ops/schemas.js";
import type { StudyState, TrialRecord } from "./study-state.js";

/** One row of the trial table: what a table shows, without curves or attributes. */
export interface TrialRow {
  number: number;
  state: TrialState;
  value: number | null;
  /** One value per objective (multi-objective studies: one table column each); null without a result. */
  values: number[] | null;
  /** COMPLETE trials: whether every constraint holds (true without constraints); null otherwise. */
  feasible: boolean | null;
  params: Record<string, string | number | boolean | null>;
  started_at: number | null;
  finished_at: number | null;
  duration_s: number | null;
  /** How many intermediate values were reported. */
  n_intermediate: number;
  /** Queued with fixed params by `enqueue` (an agent's or a person's proposal). */
  enqueued: boolean;
  /** Who asked the trial (domain/worker.ts `workerLabel`), or null when not recorded. */
  worker: string | null;
}

/** A page of the table. */
export interface TrialPage {
  rows: TrialRow[];
  /** Trials in the study. */
  total: number;
  /** Trials that pass the filters. */
  matched: number;
  /** Every parameter name the study has used, in first-use order (the table's columns). */
  params: string[];
  /** Whether any trial of the study was told constraints (the table then shows feasibility). */
  constrained: boolean;
}

/**
 * Characters of a text sort key that are compared. A user attribute may be 64 KiB: sorting 5,000
 * trials by one holding a 60 KB object wrote each one's JSON (300 MB) and compared them, 1.4-7 s on the
 * server's one thread per query; strings alike but for their ends 0.56-0.61 s (to compare them).
 */
export const TEXT_KEY_CHARS = 1000;

/**
 * The first `max` characters of `JSON.stringify(v)`, written only that far (a string cut at `max`
 * characters before it is quoted: what is cut lies past the prefix).
 */
export function jsonPrefix(v: unknown, max: number): string {
  const out: string[] = [];
  let n = 0;
  const put = (t: string) => {
    out.push(t);
    n += t.length;
  };
  const walk = (x: unknown, inArray: boolean): void => {
    if (n >= max) return;
    if (typeof x === "object" && x !== null && typeof (x as { toJSON?: unknown }).toJSON === "function") x = (x as { toJSON(): unknown }).toJSON();
    if (typeof x === "string") put(JSON.stringify(x.length > max ? x.slice(0, max) : x));
    else if (typeof x === "number") put(Number.isFinite(x) ? String(x) : "null");
    else if (typeof x === "boolean" || typeof x === "bigint") put(String(x));
    else if (typeof x !== "object" || x === null) put(inArray || x === null ? "null" : "");
    else if (Array.isArray(x)) {
      put("[");
      for (let i = 0; i < x.length && n < max; i++) {
        if (i > 0) put(",");
        walk(x[i], true);
      }
      put("]");
    } else {
      put("{");
      let first = true;
      // Its keys, and only the values written: Object.entries read every value of a wide object
      // (5,000 keys: twice JSON.stringify's time, so a sort by it was slower than writing it whole).
      const keys = Object.keys(x);
      for (let i = 0; i < keys.length && n < max; i++) {
        const k = keys[i] as string;
        const e = (x as Record<string, unknown>)[k];
        if (e === undefined || typeof e === "function" || typeof e === "symbol") continue;
        if (!first) put(",");
        first = false;
        put(JSON.stringify(k.length > max ? k.slice(0, max) : k));
        put(":");
        walk(e, false);
      }
      put("}");
    }
  };
  walk(v, false);
  const text = out.join("");
  return text.length > max ? text.slice(0, max) : text;
}

const STATE_RANK: Record<TrialState, number> = Object.fromEntries(TRIAL_STATES.map((s, i) => [s, i])) as Record<TrialState, number>;

type Key = (t: TrialRecord, now: number) => number | string | null;

function keyOf(sort: string, s: StudyState): Key {
  switch (sort) {
    case "number":
      return (t) => t.number;
    case "value":
      return (t) => (t.value !== null && !Number.isNaN(t.value) ? t.value : null);
    case "state":
      return (t) => STATE_RANK[t.state];
    case "started_at":
      return (t) => t.startedAt;
    case "finished_at":
      return (t) => t.finishedAt;
    case "duration":
      return (t, now) => (t.startedAt === null ? null : (t.finishedAt ?? now) - t.startedAt);
    case "worker":
      return (t) => workerLabel(t.systemAttrs.worker);
  }
  const obj = /^values\.(\d+)$/.exec(sort);
  if (obj) {
    const i = Number(obj[1]);
    const n = s.study.config.directions.length;
    if (i >= n) throw invalidArgument(`sort ${JSON.stringify(sort)}: study '${s.study.name}' has ${n} objective(s), values.0 to values.${n - 1}`);
    return (t) => {
      const v = t.values?.[i];
      return v === undefined || Number.isNaN(v) ? null : v;
    };
  }
  const m = /^(params|user_attrs)\.(.+)$/.exec(sort);
  if (!m) throw invalidArgument(`sort must be number, value, values.I, state, started_at, finished_at, duration, worker, params.NAME or user_attrs.NAME; got ${JSON.stringify(sort)}`);
  const name = m[2] as string;
  // A parameter the study has never seen sorted nothing, in no stated order. (User attributes may be set on any trial at any time.)
  if (m[1] === "params" && !s.paramDists.has(name))
    throw invalidArgument(`sort ${JSON.stringify(sort)}: study '${s.study.name}' has no parameter ${JSON.stringify(name)}; its parameters are ${[...s.paramDists.keys()].join(", ")}`);
  const from = m[1] === "params" ? (t: TrialRecord) => t.params[name] : (t: TrialRecord) => t.userAttrs[name];
  return (t) => {
    const v = from(t);
    if (typeof v === "number") return Number.isNaN(v) ? null : v;
    if (typeof v === "boolean") return v ? 1 : 0;
    if (typeof v === "string") return v.length > TEXT_KEY_CHARS ? v.slice(0, TEXT_KEY_CHARS) : v;
    return v === undefined || v === null ? null : jsonPrefix(v, TEXT_KEY_CHARS);
  };
}

/** A query's filters, built once: the choices as sets (a scan of 1,000 allowed values per parameter per trial held the event loop 0.9 s at 5,000 trials of 200 parameters). */
interface Filters {
  readonly states: ReadonlySet<string> | null;
  readonly ranges: readonly (readonly [string, { readonly min?: number; readonly max?: number }])[];
  readonly choices: readonly (readonly [string, ReadonlySet<unknown>])[];
}

function passes(t: TrialRecord, f: Filters): boolean {
  if (f.states !== null && !f.states.has(t.state)) return false;
  for (const [name, r] of f.ranges) {
    const v = t.params[name];
    if (typeof v !== "number") return false;
    if (r.min !== undefined && v < r.min) return false;
    if (r.max !== undefined && v > r.max) return false;
  }
  for (const [name, allowed] of f.choices) {
    const v = t.params[name];
    if (v === undefined || !allowed.has(v)) return false;
  }
  return true;
}

function rowOf(t: TrialRecord, now: number): TrialRow {
  return {
    number: t.number,
    state: t.state,
    value: t.value,
    values: t.values === null ? null : [...t.values],
    feasible: feasibility(t),
    params: { ...t.params },
    started_at: t.startedAt === null ? null : t.startedAt / 1000,
    finished_at: t.finishedAt === null ? null : t.finishedAt / 1000,
    duration_s: t.startedAt === null ? null : ((t.finishedAt ?? now) - t.startedAt) / 1000,
    n_intermediate: t.intermediate.length,
    enqueued: t.systemAttrs.enqueued === true,
    worker: workerLabel(t.systemAttrs.worker),
  };
}

/**
 * One page of the study's trials that pass every filter (states; numeric parameters within
 * `ranges`, bounds inclusive; categorical parameters among `choices` — a trial without the
 * parameter fails its filter), in `sort` order. @throws INVALID_ARGUMENT for an unknown sort key.
 */
export function queryTrials(s: StudyState, a: S.QueryTrialsArgs, now: number): TrialPage {
  const sort = a.sort ?? "number";
  const key = keyOf(sort, s);
  const states = a.states && a.states.length > 0 ? new Set<string>(a.states) : null;
  const filtering = states !== null || a.ranges !== undefined || a.choices !== undefined;
  const filters: Filters = {
    states,
    ranges: Object.entries(a.ranges ?? {}),
    choices: Object.entries(a.choices ?? {}).map(([name, allowed]) => [name, new Set(allowed)] as const),
  };
  const matched = filtering ? s.trials.filter((t) => passes(t, filters)) : s.trials;
  const offset = a.offset ?? 0;
  const limit = a.limit ?? 50;
  let page: TrialRecord[];
  if (sort === "number") {
    // Trials are stored in number order: no sort needed.
    const ordered = a.descending ? matched.slice().reverse() : matched;
    page = ordered.slice(offset, offset + limit);
  } else {
    page = sortedPage(matched, key, a.descending === true, offset, limit, now);
  }
  const constrained = s.trials.some((t) => t.constraints !== null && t.constraints.length > 0);
  return { rows: page.map((t) => rowOf(t, now)), total: s.trials.length, matched: matched.length, params: [...s.paramDists.keys()], constrained };
}

function sortedPage(list: readonly TrialRecord[], key: Key, descending: boolean, offset: number, limit: number, now: number): TrialRecord[] {
  const n = list.length;
  const nums = new Float64Array(n);
  const texts: (string | null)[] = new Array<string | null>(n).fill(null);
  /** 0: number key, 1: text key, 2: missing (always last). */
  const kind = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = key(list[i] as TrialRecord, now);
    if (k === null) kind[i] = 2;
    else if (typeof k === "number") nums[i] = k;
    else {
      kind[i] = 1;
      texts[i] = k;
    }
  }
  const sign = descending ? -1 : 1;
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((i, j) => {
    const ki = kind[i] as number;
    const kj = kind[j] as number;
    if (ki === 2 || kj === 2) return ki === kj ? i - j : ki === 2 ? 1 : -1;
    if (ki !== kj) return sign * (ki - kj); // numbers before text
    const d = ki === 0 ? (nums[i] as number) - (nums[j] as number) : (texts[i] as string) < (texts[j] as string) ? -1 : (texts[i] as string) > (texts[j] as string) ? 1 : 0;
    return d !== 0 ? sign * d : i - j;
  });
  return idx.slice(offset, offset + limit).map((i) => list[i] as TrialRecord);
}
