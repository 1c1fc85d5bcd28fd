/**
 * Text for the model: compact trial lines and tables, and business errors turned into
 * `isError` tool results that say what to do next.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import { ERROR_CODES, TuneportError } from "../../domain/errors.js";
import { plural } from "../../domain/format.js";
import { PARAMS_CHARS, fmt, fmtParamsWithin, paramsWithin } from "../../service/summary.js";
import type { TrialRow } from "../../service/paging.js";
import type { StudyView, TrialView } from "../../service/views.js";
import { clip } from "./budget.js";
import { ERROR_META_KEY, errorMeta, studyUri } from "./uris.js";

/** Longest rationale or fail reason shown in a listing; get_trial shows them whole. */
export const MAX_NOTE_CHARS = 200;

/** A trial without its bulky parts (full intermediate curve, distributions); absent fields were not asked for. */
export interface CompactTrial {
  number: number;
  state?: TrialView["state"];
  value?: number | null;
  /** One value per objective (multi-objective studies), or null. */
  values?: number[] | null;
  /** Constraint values (c <= 0 satisfied) and whether all hold; null without constraints / result. */
  constraints?: number[] | null;
  feasible?: boolean | null;
  params?: TrialView["params"];
  /** Params not shown in `params` (a wide space's trial is cut at PARAMS_CHARS; get_trial has them all). */
  params_left_out?: number;
  rationale?: string | null;
  fail_reason?: string | null;
  n_intermediate?: number;
  last_intermediate?: [number, number] | null;
  duration_s?: number | null;
  user_attrs?: Record<string, unknown>;
}

const note = (t: TrialRow, key: string): string | null | undefined => {
  if (t.system_attrs === undefined) return undefined;
  const v = t.system_attrs[key];
  return typeof v === "string" ? clip(v, MAX_NOTE_CHARS, `get_trial ${t.number}`) : null;
};

/** `params` cut after `paramChars` characters, with how many were left out (`params_left_out`) when any were. */
export function paramsField<T>(params: Record<string, T>, paramChars = PARAMS_CHARS): { params: Record<string, T>; params_left_out?: number } {
  const { shown, left_out } = paramsWithin(params, paramChars);
  return left_out > 0 ? { params: shown, params_left_out: left_out } : { params };
}

/**
 * The compact form of a trial (or of the fields of it that a projection kept); long notes clipped,
 * and params cut after `paramChars` characters (Infinity: whole, as when a caller named them).
 */
export function compactTrial(t: TrialRow, paramChars = PARAMS_CHARS): CompactTrial {
  const c: CompactTrial = { number: t.number };
  if (t.state !== undefined) c.state = t.state;
  if (t.value !== undefined) c.value = t.value;
  if (t.values !== undefined) c.values = t.values;
  if (t.constraints !== undefined) c.constraints = t.constraints;
  if (t.feasible !== undefined) c.feasible = t.feasible;
  if (t.params !== undefined) Object.assign(c, paramsField(t.params, paramChars));
  const rationale = note(t, "rationale");
  if (rationale !== undefined) c.rationale = rationale;
  const fail = note(t, "fail_reason");
  if (fail) c.fail_reason = fail;
  if (t.intermediate !== undefined) {
    c.n_intermediate = t.intermediate.length;
    c.last_intermediate = t.intermediate[t.intermediate.length - 1] ?? null;
  }
  if (t.duration_s !== undefined) c.duration_s = t.duration_s;
  if (t.user_attrs !== undefined) c.user_attrs = t.user_attrs;
  return c;
}

/** One line per trial; long rationales, fail reasons and params are clipped (get_trial shows them whole). */
export function trialLine(t: TrialRow, paramChars = PARAMS_CHARS): string {
  const parts = [`#${t.number}${t.state !== undefined ? ` ${t.state}` : ""}`];
  if (t.value !== undefined && t.value !== null) parts.push(`value=${fmt(t.value)}`);
  else if (t.values) parts.push(`values=[${t.values.map(fmt).join(", ")}]`);
  if (t.constraints) parts.push(`constraints=[${t.constraints.map(fmt).join(", ")}] (${t.feasible ? "feasible" : "infeasible"})`);
  if (t.params !== undefined) parts.push(fmtParamsWithin(t.params, `get_trial ${t.number} shows them all`, paramChars));
  if (t.duration_s !== undefined && t.duration_s !== null) parts.push(`${fmt(t.duration_s)}s`);
  const last = t.intermediate?.[t.intermediate.length - 1];
  if (last && t.intermediate) parts.push(`${plural(t.intermediate.length, "report")}, last step ${fmt(last[0])}=${fmt(last[1])}`);
  const rationale = note(t, "rationale");
  if (rationale) parts.push(`rationale: "${rationale}"`);
  const fail = note(t, "fail_reason");
  if (fail) parts.push(`fail: ${fail}`);
  return parts.join("  ");
}

/** Longest user attributes shown whole in study results; larger ones are named by key. */
export const MAX_ATTRS_CHARS = 1500;

/**
 * A study for a tool result: its best trial compact, its user attributes whole when short, else
 * their keys and where to read them (the study resource, which has no budget).
 */
export function boundedStudy(s: StudyView): Record<string, unknown> {
  const json = JSON.stringify(s.user_attrs);
  const user_attrs =
    json.length <= MAX_ATTRS_CHARS
      ? s.user_attrs
      : { clipped: `${json.length} characters; read the resource ${studyUri(s.name)} for them whole`, keys: Object.keys(s.user_attrs) };
  const notes = s.notes === null ? null : clip(s.notes, MAX_ATTRS_CHARS, `the resource ${studyUri(s.name)}`);
  return { ...s, user_attrs, notes, best_trial: s.best_trial ? compactTrial(s.best_trial) : null };
}

export function studyLine(s: StudyView): string {
  const c = s.counts;
  const multi = s.directions.length > 1;
  const best = multi ? "Pareto front: see pareto_front" : s.best_trial ? `best ${fmt(s.best_trial.value)} (trial ${s.best_trial.number})` : "no result yet";
  return `${s.name}: ${multi ? s.directions.join("/") : s.direction}, strategy ${s.strategy.name}${s.scheduler ? ` + ${s.scheduler.name}` : ""}, ${plural(s.n_trials, "trial")} (${c.COMPLETE} complete, ${c.RUNNING} running, ${c.WAITING} queued), ${best}${s.stopped ? "; STOPPED (resume_study hands out trials again)" : ""}`;
}

/**
 * A study for a result that lists only the first `k` of its parameters (declared, then
 * define-by-run; `spaceText`'s lines): its structured space cut the same way, with the count of
 * the rest (`space_left_out`), so that a wide space fits a result's budget in both forms.
 */
export function studyWithSpacePrefix(s: StudyView, k: number): { study: Record<string, unknown>; space_left_out?: number } {
  const declared = Object.entries(s.space);
  const seen = Object.entries(s.define_by_run ?? {});
  const all = declared.length + seen.length;
  if (k >= all) return { study: boundedStudy(s) };
  const study = { ...boundedStudy(s), space: Object.fromEntries(declared.slice(0, k)), define_by_run: Object.fromEntries(seen.slice(0, Math.max(0, k - declared.length))) };
  return { study, space_left_out: all - k };
}

/** The declared space, one line per parameter, then the define-by-run parameters seen so far. */
export function spaceText(s: StudyView): string {
  const line = ([k, d]: [string, StudyView["space"][string]], tag = "") =>
    d.type === "categorical"
      ? `  ${k}: one of ${JSON.stringify(d.choices)}${tag}`
      : `  ${k}: ${d.type} in [${d.low}, ${d.high}]${d.log ? " log scale" : ""}${d.step !== undefined ? ` step ${d.step}` : ""}${tag}`;
  const declared = Object.entries(s.space).map((e) => line(e));
  const seen = Object.entries(s.define_by_run ?? {}).map((e) => line(e, " (define-by-run)"));
  if (declared.length === 0 && seen.length === 0) return "  (no declared parameters: define-by-run only)";
  return [...declared, ...seen].join("\n");
}

/** What a model should do after each business failure. */
function nextStep(err: TuneportError): string {
  const d = err.data ?? {};
  switch (err.code) {
    case "NOT_FOUND":
      return "trial" in d
        ? "Call list_trials to see this study's trial numbers."
        : /keeps no lineage/.test(err.message)
          ? "No lineage will come of this study's strategy: get_trial shows a trial's params, wait_for_progress its results."
          : /no trial with a finite result/.test(err.message)
          ? "The study exists but no trial has a result yet: wait_for_progress, then call again."
          : "Call list_studies to see the existing study names (they are case-sensitive), or create_study to make it.";
    case "ALREADY_EXISTS":
      return "Pass load_if_exists: true to reuse that study, or choose another name.";
    case "INVALID_ARGUMENT":
      return d.reason === "max_intermediate"
        ? "This trial holds as many intermediate values as the server allows: stop reporting it (tell_trial its result), and report every k-th step in later trials; its operator may raise serve --max-intermediate."
        : "tool" in d
        ? "Fix the argument named above and call again (tools/list shows each tool's arguments)."
        : /no trial has one value to rank by/.test(err.message)
        ? "Nothing to fix in the arguments: call pareto_front for a multi-objective study's best trials."
        : /unknown (strategy|scheduler)|bad options for (strategy|scheduler)|cannot be combined with scheduler|a (strategy|scheduler) is a name|Unrecognized key/.test(err.message)
        ? "Call list_strategies for valid names and their options, then call again."
        : /takes no params/.test(err.message)
        ? "Call plot again without params (or with a kind that draws parameters)."
        : /no objective axis that log_y/.test(err.message)
        ? "Call plot again without log_y (or with a kind that has an objective axis)."
        : /to plot yet/.test(err.message)
        ? "The arguments are fine: the study has no result to draw yet; wait_for_progress, then plot again."
        : /no strategy or scheduler named/.test(err.message)
        ? "Call list_strategies with one of the names listed above, or without a name for the whole catalogue."
        : /cursor|lease_ttl|notes|max_trials|max_retries|max_resource|limit|token|timeout|request id|rationale|reference_point/.test(err.message)
        ? "Fix the argument named above and call again."
        : /param|space|distribution|choice|enqueued/.test(err.message)
        ? "Fix the argument named above and call again; describe_study shows the study's search space."
        : "Fix the argument named above and call again.";
    case "FAILED_PRECONDITION":
      return d.reason === "max_studies"
        ? "The server holds as many studies as it allows: delete_study one that is no longer needed (list_studies shows them) and call again, or ask its operator to raise serve --max-studies."
        : d.reason === "missing_plugin"
        ? // A study made on a server started with a plug-in module that this one lacks (PluginCatalogue.loadStrategy).
          `This server lacks the study's ${"scheduler" in d ? "scheduler" : "strategy"}: its operator restarts it with --plugins and the module that has it, or switch it with update_study (${"scheduler" in d ? "scheduler: one list_strategies shows, or null for none" : "strategy: one list_strategies shows"}), then call again.`
        : "running" in d || "strategy" in d
        ? "Do what the message says the study needs first, then call update_study again."
        : "lineage" in d
          ? "get_trial shows the trial's params, which held for its whole run."
          : d.state === "RUNNING"
            ? "That trial is being evaluated: whoever holds its token ends it with tell_trial (state FAIL or PRUNED to drop it); stop_study keeps new trials from starting."
            : d.state === "WAITING"
              ? "That trial is queued, not started: ask_trial hands it out (queued trials come first), then tell_trial with the token it gives."
              : "That trial is already finished and cannot change; call ask_trial to get a new one.";
    case "LEASE_LOST":
      // A trial running under another lease: the trial number or the token is wrong, and the
      // caller's own trial (if any) is still running; only an expired lease loses the caller's.
      return typeof d.token_trial === "number"
        ? `Nothing was recorded; your trial ${d.token_trial} is still running: call again with trial ${d.token_trial}.`
        : /leased to another worker/.test(err.message)
          ? "Nothing was recorded: that trial is running under another lease. Pass the trial number and token that ask_trial returned together (a trial you hold keeps running); if you hold none, call ask_trial."
          : "The trial's lease expired or the token is wrong, so the result was not recorded; call ask_trial for a new trial (its parameters may have been re-queued). An evaluation longer than the lease needs renew_lease during it, or ask_trial with a longer lease_ttl_s.";
    case "STUDY_STOPPED":
      return d.reason === "max_trials"
        ? "The study used its trial budget (max_trials): raise it with update_study (max_trials: a larger number, or null for none) to go on, or read the results (study_summary, best_trials)."
        : "The study was stopped (stop_study); call resume_study to hand out trials again.";
    case "SEARCH_SPACE_EXHAUSTED":
      // PBT/PB2 slots given up after max_failures: the training script fails, not the space.
      // data.lost_without_progress: workers that died without a word (no error to name).
      return d.reason === "max_failures"
        ? (typeof d.lost_without_progress === "number" && d.lost_without_progress > 0
            ? "The population's trials kept failing or their workers died without reporting further (a crash, CUDA OOM or SIGKILL: the server saw no error, so read the workers' logs), so their slots are not refilled: "
            : "The population's trials kept failing (the message names the last error), so their slots are not refilled: ") +
          "fix the training script, then enqueue_trial fills a given-up slot, or, once no trial runs, update_study raises the strategy's max_failures."
        : d.reason === "population_full"
          ? // Not the space: PBT hands out population_size members, which its workers train; a wider space changes nothing.
            "Every PBT member slot is taken: the members train in their workers, and a slot whose member fails or loses its lease is handed out again by a later ask_trial. Follow them with list_trials or get_lineage; to train more members once they have finished, raise population_size with update_study."
          : "Every point of the search space was handed out; create a new study with a wider space, or stop.";
    case "MESSAGE_TOO_LARGE":
      if (d.outcome_unknown) return "The change may have been applied: check first (describe_study, list_trials or get_trial), and call again, smaller, only if it is not there.";
      // Through `mcp --connect`: the server refused a change whose reply it could not send (nothing applied), or a read's reply over its ceiling.
      return /nothing was applied/.test(err.message)
        ? "Nothing was applied: make the change smaller (the message names the largest parts of its reply), or leave it."
        : /was applied once/.test(err.message)
          ? "The change was applied, once: read it back (describe_study, get_trial) instead of calling again."
          : "Ask for less: a smaller limit, or fields and params to narrow the trials.";
    case "UNAVAILABLE":
      if (d.outcome_unknown) return "The change may have been applied: check first (describe_study, list_trials or get_trial), and call again only if it is not there.";
      // Several servers on one PostgreSQL database: "resend it (same id)" is the protocol clients'
      // redirect, which MCP does not follow (docs/SCALING.md); an agent repeats its call.
      if (d.reason === "moved" && typeof d.endpoint === "string" && d.endpoint !== "")
        return `Another server serves this study now: call again (it may come back here once that server is gone), or work on it through that server (tuneport mcp --connect ${d.endpoint}).`;
      return "The server is busy, starting, unreachable or changing hands with another server; retry in a few seconds.";
    default:
      return "This is a server problem; retrying may not help.";
  }
}

/**
 * A failed tool call the model can act on: "Error CODE: message" and a "Next step:" line. The
 * code, its retry meaning and the error's data are also in `_meta["tuneport/error"]` for programs,
 * which need not parse the text. No structured content: it would have to match the tool's
 * outputSchema, which describes success (the SDK client validates it on errors too).
 */
export function errorResult(err: TuneportError): CallToolResult {
  return {
    isError: true,
    content: [{ type: "text", text: `Error ${err.code}: ${err.message}\nNext step: ${nextStep(err)}` }],
    _meta: errorMeta(err.code, err.retry, err.data),
  };
}

/**
 * The JSON-RPC error for a failed protocol request that has no `isError` result (`resources/read`,
 * `resources/list`, `resources/subscribe`): message "CODE: message Next step: …", `data` the same
 * object as a failed tool's `_meta["tuneport/error"]` (`{code, retry, data?}`), and a numeric
 * code: -32602 for input to fix, -32603 for INTERNAL, -32000 for the rest (UNAVAILABLE, …).
 * Anything but a TuneportError is logged and answered INTERNAL without its text. Thrown from a
 * request handler, the SDK sends its `code`, `message` and `data` as they are; a TuneportError
 * thrown as it is went out as -32603 with the backend's bare message and no code.
 */
export function rpcError(err: unknown, log: Logger, method: string): Error {
  if (!isTuneportError(err)) {
    log.error({ err, method }, "mcp request failed");
    const message = "INTERNAL: the server failed (details are in its log); retrying may not help.";
    return Object.assign(new Error(message), { code: -32603, data: errorMeta("INTERNAL", ERROR_CODES.INTERNAL)[ERROR_META_KEY] });
  }
  const code = err.code === "INTERNAL" ? -32603 : err.retry === "fix-input" ? -32602 : -32000;
  return Object.assign(new Error(`${err.code}: ${err.message} Next step: ${nextStep(err)}`), {
    code,
    data: errorMeta(err.code, err.retry, err.data)[ERROR_META_KEY],
  });
}

export function isTuneportError(err: unknown): err is TuneportError {
  return err instanceof TuneportError;
}

/**
 * A study summary without its plug-ins' descriptions, which are `list_strategies`' (the summary's
 * text keeps their first sentence): not repeated on every look at a study.
 */
export function withoutDescriptions<T extends { strategy: PluginBrief; scheduler: PluginBrief | null }>(
  s: T,
): Omit<T, "strategy" | "scheduler"> & { strategy: PluginBrief; scheduler: PluginBrief | null } {
  return { ...s, strategy: { name: s.strategy.name, options: s.strategy.options }, scheduler: s.scheduler && { name: s.scheduler.name, options: s.scheduler.options } };
}
/** A plug-in as a summary names it, without its description. */
interface PluginBrief {
  name: string;
  options: Record<string, unknown>;
}
