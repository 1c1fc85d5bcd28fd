/**
 * A precompiled check of the commonest argument shapes of the hot ops — `ask {study}`,
 * `tell {study, trial, token, state, value?}` and `report {study, trial, token, step, value}` —
 * that skips zod for them (issue 19 item 3: zod's object parse cost about 5 % of the server's
 * JS-thread CPU per ask/tell request).
 *
 * It is a filter, never a judge: it accepts only arguments that the op's zod schema (schemas.ts)
 * accepts too, and returns what zod would return for them (a fresh object with the same keys in
 * the schema's order). Anything else — another key, an optional argument it does not know, a
 * value of another type, a string out of bounds — returns null, and the caller runs zod, which
 * accepts or refuses it with its usual message. src/service/ops/fast-args.test.ts holds it to
 * zod's verdict over generated arguments.
 */
import { STUDY_NAME_MAX_CODE_POINTS } from "../../domain/study-name.js";

/** studyRefSchema: a string of 1 to 400 UTF-16 units without NUL. */
function studyRef(x: unknown): x is string {
  return typeof x === "string" && x.length >= 1 && x.length <= 2 * STUDY_NAME_MAX_CODE_POINTS && !x.includes("\u0000");
}

/** trialNumber: a safe integer ≥ 0. */
function trialNumber(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

/** leaseToken: a string of 1 to 200 UTF-16 units. */
function leaseToken(x: unknown): x is string {
  return typeof x === "string" && x.length >= 1 && x.length <= 200;
}

/** The arguments as a plain object whose own keys are all among `allowed` (strict schemas), or null. */
function plain(raw: unknown, allowed: ReadonlySet<string>): Record<string, unknown> | null {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return null;
  const proto = Object.getPrototypeOf(raw) as unknown;
  if (proto !== Object.prototype && proto !== null) return null;
  const a = raw as Record<string, unknown>;
  for (const k in a) if (!allowed.has(k) || a[k] === undefined) return null;
  return a;
}

const ASK_KEYS: ReadonlySet<string> = new Set(["study"]);
const TELL_KEYS: ReadonlySet<string> = new Set(["study", "trial", "token", "state", "value"]);
const REPORT_KEYS: ReadonlySet<string> = new Set(["study", "trial", "token", "step", "value"]);

function ask(raw: unknown): object | null {
  const a = plain(raw, ASK_KEYS);
  return a !== null && studyRef(a.study) ? { study: a.study } : null;
}

function tell(raw: unknown): object | null {
  const a = plain(raw, TELL_KEYS);
  if (a === null || !studyRef(a.study) || !trialNumber(a.trial) || !leaseToken(a.token)) return null;
  if (a.state !== "COMPLETE" && a.state !== "FAIL" && a.state !== "PRUNED") return null;
  // anyNumber.nullable().optional(): any double (NaN and ±infinity too), null, or absent.
  if ("value" in a) return typeof a.value === "number" || a.value === null ? { study: a.study, trial: a.trial, token: a.token, state: a.state, value: a.value } : null;
  return { study: a.study, trial: a.trial, token: a.token, state: a.state };
}

function report(raw: unknown): object | null {
  const a = plain(raw, REPORT_KEYS);
  if (a === null || !studyRef(a.study) || !trialNumber(a.trial) || !leaseToken(a.token)) return null;
  // reportStepNumber: a finite number ≥ 0; value: any double.
  if (typeof a.step !== "number" || !Number.isFinite(a.step) || a.step < 0 || typeof a.value !== "number") return null;
  return { study: a.study, trial: a.trial, token: a.token, step: a.step, value: a.value };
}

const FAST: ReadonlyMap<string, (raw: unknown) => object | null> = new Map([
  ["ask", ask],
  ["tell", tell],
  ["report", report],
]);

/** What `OPS[op].args.safeParse(raw)` returns for arguments of a common shape; null for every other. */
export function fastArgs(op: string, raw: unknown): { success: true; data: unknown } | null {
  const check = FAST.get(op);
  const data = check === undefined ? null : check(raw);
  return data === null ? null : { success: true, data };
}
