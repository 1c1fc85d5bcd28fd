/**
 * Optuna's distribution JSON (`optuna.distributions.distribution_to_json`: `{"name":
 * "FloatDistribution", "attributes": {"low": …, "high": …, "log": …, "step": …}}`), which
 * optuna-mcp's `ask` and `add_trial` take and which agents bring here, written as tuneport's space
 * entry. Not accepted in its place (a space has one spelling on every transport): a refused space
 * entry in Optuna's form is answered with its translation, so the agent's next call is right.
 */

type Attrs = Record<string, unknown>;

const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** The tuneport space entry that an Optuna distribution JSON object means, or null when `raw` is none. */
export function fromOptunaDistributionJson(raw: unknown): Record<string, unknown> | null {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return null;
  const { name, attributes: a } = raw as { name?: unknown; attributes?: unknown };
  if (typeof name !== "string" || typeof a !== "object" || a === null || Array.isArray(a)) return null;
  const attrs = a as Attrs;
  if (name === "CategoricalDistribution") return Array.isArray(attrs.choices) ? { type: "categorical", choices: attrs.choices } : null;
  const type = name === "FloatDistribution" ? "float" : name === "IntDistribution" ? "int" : null;
  if (type === null || !num(attrs.low) || !num(attrs.high)) return null;
  const step = num(attrs.step) && !(type === "int" && attrs.step === 1) ? { step: attrs.step } : {};
  return { type, low: attrs.low, high: attrs.high, ...(attrs.log === true ? { log: true } : {}), ...step };
}

/**
 * The most characters of translation one refusal carries, as `formatZodError` names 5 issues at
 * most: a space of hundreds of categorical entries was answered with all of it again (870 KB).
 */
export const MAX_OPTUNA_HINT_CHARS = 2_000;

/** Every form, for what does not fit `MAX_OPTUNA_HINT_CHARS`. */
const FORMS = `{"type": "float", "low": …, "high": …} (log, step), {"type": "int", "low": …, "high": …} or {"type": "categorical", "choices": […]}`;

/**
 * " (…)" naming the translation of every entry of `space` written as Optuna's distribution JSON
 * (those that fit `MAX_OPTUNA_HINT_CHARS`, with how many more), or "" when none is.
 */
export function optunaSpaceHint(space: unknown): string {
  if (typeof space !== "object" || space === null || Array.isArray(space)) return "";
  const found = Object.entries(space as Attrs).flatMap(([k, v]) => {
    const d = fromOptunaDistributionJson(v);
    return d ? [`${JSON.stringify(k)}: ${JSON.stringify(d)}`] : [];
  });
  if (found.length === 0) return "";
  const shown: string[] = [];
  let chars = 0;
  for (const f of found) {
    if (chars + f.length > MAX_OPTUNA_HINT_CHARS) break;
    shown.push(f);
    chars += f.length + 2;
  }
  const more = found.length - shown.length;
  const entries = (n: number) => `${n} ${n === 1 ? "entry" : "entries"}`;
  if (shown.length === 0) return ` (that is Optuna's distribution JSON, in ${entries(found.length)}; a space entry here is written ${FORMS})`;
  const rest = more === 0 ? "" : `, and ${entries(more)} more the same way`;
  return ` (that is Optuna's distribution JSON; a space entry here is written {${shown.join(", ")}}${rest})`;
}

/** As `optunaSpaceHint`, for one distribution (suggest's). */
export function optunaDistributionHint(raw: unknown): string {
  const d = fromOptunaDistributionJson(raw);
  if (!d) return "";
  const written = JSON.stringify(d);
  return ` (that is Optuna's distribution JSON; here it is written ${written.length <= MAX_OPTUNA_HINT_CHARS ? written : FORMS})`;
}
