/**
 * Text for the model: compact trial lines and tables, and business errors turned into
 * `isError` tool results that say what to do next.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { TuneportError } from "../../domain/errors.js";
import { fmt, fmtParams } from "../../service/summary.js";
import type { StudyView, TrialView } from "../../service/views.js";

/** A trial without its bulky parts (full intermediate curve, distributions). */
export interface CompactTrial {
  number: number;
  state: TrialView["state"];
  value: number | null;
  /** One value per objective (multi-objective studies), or null. */
  values: number[] | null;
  /** Constraint values (c <= 0 satisfied) and whether all hold; null without constraints / result. */
  constraints: number[] | null;
  feasible: boolean | null;
  params: TrialView["params"];
  rationale: string | null;
  n_intermediate: number;
  last_intermediate: [number, number] | null;
  duration_s: number | null;
  user_attrs: Record<string, unknown>;
}

export function compactTrial(t: TrialView): CompactTrial {
  return {
    number: t.number,
    state: t.state,
    value: t.value,
    values: t.values,
    constraints: t.constraints,
    feasible: t.feasible,
    params: t.params,
    rationale: typeof t.system_attrs.rationale === "string" ? t.system_attrs.rationale : null,
    n_intermediate: t.intermediate.length,
    last_intermediate: t.intermediate[t.intermediate.length - 1] ?? null,
    duration_s: t.duration_s,
    user_attrs: t.user_attrs,
  };
}

export function trialLine(t: TrialView): string {
  const parts = [`#${t.number} ${t.state}`];
  if (t.value !== null) parts.push(`value=${fmt(t.value)}`);
  else if (t.values) parts.push(`values=[${t.values.map(fmt).join(", ")}]`);
  if (t.constraints) parts.push(`constraints=[${t.constraints.map(fmt).join(", ")}] (${t.feasible ? "feasible" : "infeasible"})`);
  parts.push(fmtParams(t.params));
  if (t.duration_s !== null) parts.push(`${fmt(t.duration_s)}s`);
  const last = t.intermediate[t.intermediate.length - 1];
  if (last) parts.push(`${t.intermediate.length} reports, last step ${fmt(last[0])}=${fmt(last[1])}`);
  if (typeof t.system_attrs.rationale === "string") parts.push(`rationale: "${t.system_attrs.rationale}"`);
  if (typeof t.system_attrs.fail_reason === "string") parts.push(`fail: ${t.system_attrs.fail_reason}`);
  return parts.join("  ");
}

export function studyLine(s: StudyView): string {
  const c = s.counts;
  const multi = s.directions.length > 1;
  const best = multi ? "Pareto front: see pareto_front" : s.best_trial ? `best ${fmt(s.best_trial.value)} (trial ${s.best_trial.number})` : "no result yet";
  return `${s.name}: ${multi ? s.directions.join("/") : s.direction}, strategy ${s.strategy.name}${s.scheduler ? ` + ${s.scheduler.name}` : ""}, ${s.n_trials} trials (${c.COMPLETE} complete, ${c.RUNNING} running, ${c.WAITING} queued), ${best}`;
}

export function spaceText(s: StudyView): string {
  const entries = Object.entries(s.space);
  if (entries.length === 0) return "  (no declared parameters: define-by-run only)";
  return entries
    .map(([k, d]) =>
      d.type === "categorical"
        ? `  ${k}: one of ${JSON.stringify(d.choices)}`
        : `  ${k}: ${d.type} in [${d.low}, ${d.high}]${d.log ? " log scale" : ""}${d.step !== undefined ? ` step ${d.step}` : ""}`,
    )
    .join("\n");
}

/** What a model should do after each business failure. */
function nextStep(err: TuneportError): string {
  const d = err.data ?? {};
  switch (err.code) {
    case "NOT_FOUND":
      return "trial" in d
        ? "Call list_trials to see this study's trial numbers."
        : "Call list_studies to see the existing study names (they are case-sensitive), or create_study to make it.";
    case "ALREADY_EXISTS":
      return "Pass load_if_exists: true to reuse that study, or choose another name.";
    case "INVALID_ARGUMENT":
      return /strateg|scheduler/.test(err.message)
        ? "Call list_strategies for valid names and their options, then call again."
        : "Fix the argument named above and call again; describe_study shows the study's search space.";
    case "FAILED_PRECONDITION":
      return "That trial is already finished and cannot change; call ask_trial to get a new one.";
    case "LEASE_LOST":
      return "The trial's lease expired or the token is wrong, so the result was not recorded; call ask_trial for a new trial (its parameters may have been re-queued).";
    case "SEARCH_SPACE_EXHAUSTED":
      return "Every point of the search space was handed out; create a new study with a wider space, or stop.";
    case "UNAVAILABLE":
      return "The server is busy, starting or unreachable; retry in a few seconds.";
    default:
      return "This is a server problem; retrying may not help.";
  }
}

/** A failed tool call the model can act on. */
export function errorResult(err: TuneportError): CallToolResult {
  return {
    isError: true,
    content: [{ type: "text", text: `Error ${err.code}: ${err.message}\nNext step: ${nextStep(err)}` }],
    structuredContent: { error: { code: err.code, message: err.message, ...(err.data ? { data: err.data } : {}) } },
  };
}

export function isTuneportError(err: unknown): err is TuneportError {
  return err instanceof TuneportError;
}
