/**
 * A study as an Optuna JournalStorage log (`tuneport export --format optuna`), so that Optuna
 * (`optuna.load_study(storage=JournalStorage(JournalFileBackend(path)))`) and optuna-dashboard
 * open tuneport studies.
 *
 * The format is Optuna 5.0's journal (`optuna/storages/journal/_storage.py`, read to learn it):
 * one JSON object per line, each an operation `{op_code, worker_id, ...}` replayed in order.
 * We write CREATE_STUDY (0), SET_STUDY_USER_ATTR (2) and SET_STUDY_SYSTEM_ATTR (3) once per
 * key (the replay asserts one key per line), then one CREATE_TRIAL (4) per trial carrying its
 * whole record, as Optuna does for a trial created from a template: state, value, start and
 * completion times, distributions (each a JSON *string*, `distribution_to_json`), params in
 * Optuna's internal representation (floats; a categorical's choice index), user and system
 * attributes, and intermediate values keyed by step. The study gets id 0 and the trials
 * Optuna ids 0.. in number order, so Optuna's trial numbers equal tuneport's.
 *
 * Mapping decisions:
 * - States: WAITING 4, RUNNING 0, COMPLETE 1, PRUNED 2, FAIL 3 (`optuna.trial.TrialState`).
 *   A WAITING trial is written like Optuna's `enqueue_trial`: no params, its params in
 *   `system_attrs.fixed_params`, so Optuna evaluates it next if the study is continued.
 *   RUNNING trials stay RUNNING (Optuna has no lease to expire them).
 * - Directions: minimize 1, maximize 2 (`optuna.study.StudyDirection`), one per objective; a
 *   multi-objective trial's result is Optuna's `values`. Constraints go to the trial's system
 *   attribute `constraints` (a list, which Optuna reads as its constraint values).
 * - Times: ISO 8601 in UTC with microseconds, as Optuna writes them.
 * - Non-finite numbers are written as Python's `json` writes them (`NaN`, `Infinity`), which
 *   Optuna's reader accepts; floats keep a decimal point so Python reads them as float.
 * - tuneport's system attributes go under `tuneport:<key>` (Optuna's samplers own the plain
 *   keys), except `fail_reason`, which means the same in both. The study's configuration
 *   (strategy, scheduler, seed, space) is kept in the study's system attribute `tuneport:config`.
 * - Optuna's intermediate steps are integers: values at other steps are left out of
 *   `intermediate_values` and kept, with the rest of the curve, in `tuneport:intermediate`.
 */
import type { Distribution, ParamValue } from "../domain/distributions.js";
import { choiceIndex } from "../domain/distributions.js";
import type { TrialState } from "../domain/trial.js";
import type { ImportedStudy } from "./study-io.js";
import { configView } from "./views.js";

/** The study user attribute holding the Python client's `set_metric_names` names (python-client/src/tuneport/_study.py). */
const METRIC_NAMES_ATTR = "tuneport:metric_names";
/** Optuna's `JournalOperation` codes. */
export const JOURNAL_OP = { CREATE_STUDY: 0, SET_STUDY_USER_ATTR: 2, SET_STUDY_SYSTEM_ATTR: 3, CREATE_TRIAL: 4 } as const;
/** Optuna's `TrialState` values. */
export const OPTUNA_STATE: Record<TrialState, number> = { RUNNING: 0, COMPLETE: 1, PRUNED: 2, FAIL: 3, WAITING: 4 };
/** The `worker_id` on every line we write (Optuna only compares it with its own). */
export const EXPORT_WORKER_ID = "tuneport-export";

/** What could not be carried over exactly (the CLI reports it). */
export interface JournalNotes {
  /** Intermediate values at non-integer steps (kept in `tuneport:intermediate` only). */
  nonIntegerSteps: number;
  /** Params without a distribution or outside their categorical choices (left out). */
  droppedParams: number;
}

/** A number Python's `json` reads back as a float (`1.0`, `NaN`, `-Infinity`). */
class PyFloat {
  constructor(readonly v: number) {}
  toJson(): string {
    if (Number.isNaN(this.v)) return "NaN";
    if (!Number.isFinite(this.v)) return this.v > 0 ? "Infinity" : "-Infinity";
    const s = JSON.stringify(this.v);
    return /[.eE]/.test(s) ? s : `${s}.0`;
  }
}

/** JSON like Python's `json.dumps(separators=(",", ":"))`: PyFloat and non-finite numbers as Python writes them. */
export function pyJson(v: unknown): string {
  if (v instanceof PyFloat) return v.toJson();
  if (typeof v === "number") return Number.isFinite(v) ? JSON.stringify(v) : new PyFloat(v).toJson();
  if (Array.isArray(v)) return `[${v.map(pyJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    if (v instanceof Uint8Array) return JSON.stringify(Array.from(v));
    return `{${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}:${pyJson(x)}`)
      .join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}

/** Optuna's `distribution_to_json` for one of our distributions (a JSON string). */
export function optunaDistributionJson(d: Distribution): string {
  if (d.type === "categorical") return JSON.stringify({ name: "CategoricalDistribution", attributes: { choices: d.choices } });
  if (d.type === "int")
    return pyJson({ name: "IntDistribution", attributes: { log: d.log === true, step: d.log ? 1 : (d.step ?? 1), low: d.low, high: d.high } });
  return pyJson({
    name: "FloatDistribution",
    attributes: { step: d.step === undefined ? null : new PyFloat(d.step), low: new PyFloat(d.low), high: new PyFloat(d.high), log: d.log === true },
  });
}

/** A param's internal representation in Optuna (float; a choice index for categoricals), or null when it has none. */
function internal(d: Distribution, v: ParamValue): PyFloat | null {
  if (d.type === "categorical") {
    const i = choiceIndex(d, v);
    return i < 0 ? null : new PyFloat(i);
  }
  return typeof v === "number" && Number.isFinite(v) ? new PyFloat(v) : null;
}

function isoTime(ms: number): string {
  // toISOString has milliseconds and "Z"; Optuna writes microseconds and "+00:00".
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000+00:00");
}

/**
 * The journal lines (without newlines) of a study read back from its tuneport export, and
 * notes on what could not be carried over exactly. Pure.
 */
export function optunaJournal(imp: ImportedStudy): { lines: string[]; notes: JournalNotes } {
  const notes: JournalNotes = { nonIntegerSteps: 0, droppedParams: 0 };
  const head = { op_code: 0, worker_id: EXPORT_WORKER_ID };
  const directions = imp.config.directions.map((d) => (d === "minimize" ? 1 : 2));
  const lines = [pyJson({ ...head, op_code: JOURNAL_OP.CREATE_STUDY, study_name: imp.name, directions })];
  for (const [k, v] of Object.entries(imp.userAttrs))
    lines.push(pyJson({ ...head, op_code: JOURNAL_OP.SET_STUDY_USER_ATTR, study_id: 0, user_attr: { [k]: v } }));
  lines.push(pyJson({ ...head, op_code: JOURNAL_OP.SET_STUDY_SYSTEM_ATTR, study_id: 0, system_attr: { "tuneport:config": configView(imp.config) } }));
  // The Python client's set_metric_names keeps the names in this user attribute; Optuna reads them
  // (plots, optuna-dashboard, trials_dataframe) from the study system attribute `study:metric_names`.
  const names = imp.userAttrs[METRIC_NAMES_ATTR];
  if (Array.isArray(names) && names.length === directions.length && names.every((n) => typeof n === "string"))
    lines.push(pyJson({ ...head, op_code: JOURNAL_OP.SET_STUDY_SYSTEM_ATTR, study_id: 0, system_attr: { "study:metric_names": names } }));
  for (const t of imp.trials) {
    const distributions: Record<string, string> = {};
    const params: Record<string, PyFloat> = {};
    for (const [k, v] of Object.entries(t.params)) {
      const d = t.distributions[k];
      const x = d ? internal(d, v) : null;
      if (!d || x === null) {
        notes.droppedParams++;
        continue;
      }
      distributions[k] = optunaDistributionJson(d);
      params[k] = x;
    }
    const systemAttrs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(t.systemAttrs)) systemAttrs[k === "fail_reason" ? k : `tuneport:${k}`] = v;
    const intermediate: Record<string, PyFloat> = {};
    let fractional = 0;
    for (const { step, value } of t.intermediate) {
      if (Number.isInteger(step)) intermediate[String(step)] = new PyFloat(value);
      else fractional++;
    }
    if (fractional > 0) {
      notes.nonIntegerSteps += fractional;
      systemAttrs["tuneport:intermediate"] = t.intermediate.map(({ step, value }) => [step, new PyFloat(value)]);
    }
    const waiting = t.state === "WAITING";
    if (waiting) systemAttrs.fixed_params = t.params;
    // Optuna's constraints: a list under system_attrs["constraints"] (what constraints_func's
    // values are stored as; Optuna 5 still reads it), c <= 0 feasible as in tuneport.
    if (t.constraints !== null) systemAttrs.constraints = t.constraints.map((c) => new PyFloat(c));
    // A diverged PBT member is COMPLETE without a value (trial-ops.ts): Optuna's COMPLETE needs one,
    // so it gets the NaN or infinity it was told with (`system_attrs.diverged`).
    const diverged = t.state === "COMPLETE" && t.value === null && typeof t.systemAttrs.diverged === "string" ? Number(t.systemAttrs.diverged) : null;
    const unfinished = t.state === "FAIL" || waiting || t.state === "RUNNING";
    const value = diverged !== null ? new PyFloat(diverged) : t.value === null || unfinished ? null : new PyFloat(t.value);
    // Several objectives: Optuna's `values`, with `value` null (a FrozenTrial takes one or the other).
    const values = directions.length > 1 && t.values !== null && !unfinished ? t.values.map((v) => new PyFloat(v)) : null;
    lines.push(
      pyJson({
        ...head,
        op_code: JOURNAL_OP.CREATE_TRIAL,
        study_id: 0,
        datetime_start: t.startedAt === null ? null : isoTime(t.startedAt),
        state: OPTUNA_STATE[t.state],
        value: values === null ? value : null,
        values,
        ...(t.finishedAt !== null && !waiting && t.state !== "RUNNING" ? { datetime_complete: isoTime(t.finishedAt) } : {}),
        distributions: waiting ? {} : distributions,
        params: waiting ? {} : params,
        user_attrs: t.userAttrs,
        system_attrs: systemAttrs,
        intermediate_values: intermediate,
      }),
    );
  }
  return { lines, notes };
}
