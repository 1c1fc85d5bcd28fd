/** How the page writes values that could be mistaken for others: parameter values, objectives, addresses. */
import { fmt } from "./dom.js";

/** A parameter's distribution, as far as showing its values needs it. */
export interface ParamDist {
  type: string;
  choices?: unknown[];
}

/**
 * How a parameter's values are shown: `null` for a categorical None (the em dash stays for a
 * parameter the trial did not use), strings in quotes when the parameter's choices mix strings
 * with other values (1 and "1" would look the same otherwise), categorical numbers exactly (two
 * choices may differ past `fmt`'s 6 digits), other numbers as `fmt`.
 */
export function paramText(dist: ParamDist | undefined): (v: unknown) => string {
  const choices = dist?.type === "categorical" ? (dist.choices ?? []) : [];
  const mixed = choices.some((c) => typeof c === "string") && choices.some((c) => typeof c !== "string");
  return (v) => {
    if (v === undefined) return "—";
    if (v === null) return "null";
    if (typeof v === "string") return mixed ? JSON.stringify(v) : v;
    if (typeof v === "number" && choices.length > 0) return String(v);
    return fmt(v);
  };
}

/** The user attribute Python's `Study.set_metric_names` keeps the objectives' names in. */
export const METRIC_NAMES_ATTR = "tuneport:metric_names";

/**
 * Labels of a study's objectives: `NAME (direction)` with the names of `set_metric_names`, else
 * `Objective i (direction)`; a one-objective study without a name is `Value`.
 */
export function objectiveLabels(directions: string[], userAttrs: Record<string, unknown> | undefined): string[] {
  const raw = userAttrs?.[METRIC_NAMES_ATTR];
  const names = Array.isArray(raw) && raw.length === directions.length && raw.every((n) => typeof n === "string") ? (raw as string[]) : null;
  if (directions.length === 1 && names === null) return ["Value"];
  return directions.map((d, i) => `${names?.[i] ?? `Objective ${i}`} (${d})`);
}

/** Constraint values in words: `c (holds)` for c ≤ 0, else `c (violated)`. */
export function constraintsText(cs: number[]): string {
  return cs.map((c) => `${fmt(c)} (${c <= 0 ? "holds" : "violated"})`).join(", ");
}

/** A part of the address decoded, or null when it is not valid %-encoding (`%E0%A4%A`). */
export function decodePart(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** A page of the dashboard, from the address's hash. */
export type Address = { kind: "studies" } | { kind: "study"; study: string } | { kind: "trial"; study: string; trial: number };

/** The page `hash` names. @throws Error (shown as "Not available") for malformed %-escapes and trial parts that are not trial numbers. */
export function parseAddress(hash: string): Address {
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodePart);
  if (parts.some((p) => p === null)) throw new Error(`'${hash}' is not a valid address: it has a malformed %-escape`);
  const [kind, study, sub, trial] = parts as string[];
  if (kind !== "study" || !study) return { kind: "studies" };
  if (sub !== "trial" || trial === undefined) return { kind: "study", study };
  const n = Number(trial);
  if (!/^\d+$/.test(trial) || !Number.isSafeInteger(n)) throw new Error(`no trial '${trial}' in study ${study}`);
  return { kind: "trial", study, trial: n };
}
