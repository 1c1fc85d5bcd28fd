/**
 * Widening a declared parameter's distribution while a study runs (`update_study`, issue 14 §2).
 *
 * The rule: a study's space may grow, never shrink, so every trial already run stays a point of
 * the new space and the history keeps its meaning for the strategy that reads it. A new
 * distribution widens an old one when it has the same type and scale and
 * - float/int: `low` no higher and `high` no lower, the same `log` and the same `step` (stepped
 *   grids must also keep the old points on the new grid, which `contains` checks per trial value);
 * - categorical: the old choices first, in the same order, then the new ones (strategies that
 *   encode a choice by its index keep reading old trials right).
 * Optuna has no such operation (its distributions are fixed per trial, and a changed
 * `suggest_*` call raises for a conflicting distribution); the prefix rule for categoricals is ours.
 */
import { type Distribution, type ParamValue, contains, distributionsEqual } from "./distributions.js";

/**
 * Why `next` does not widen `old` for parameter `name`, or null when it does (equal counts as
 * widening). `values` are the values trials already hold: each must lie in `next`.
 */
export function wideningProblem(name: string, old: Distribution, next: Distribution, values: Iterable<ParamValue>): string | null {
  const where = `parameter '${name}'`;
  if (distributionsEqual(old, next)) return null;
  if (old.type !== next.type) return `${where} is ${old.type}; a widened distribution keeps its type (got ${next.type})`;
  if (old.type === "categorical" && next.type === "categorical") {
    const prefix = next.choices.slice(0, old.choices.length);
    if (prefix.length < old.choices.length || !prefix.every((c, i) => Object.is(c, old.choices[i])))
      return `${where}: new choices go after the old ones ${JSON.stringify(old.choices)}, in the same order (choices are never removed or reordered)`;
  } else if (old.type !== "categorical" && next.type !== "categorical") {
    if (!!old.log !== !!next.log) return `${where}: the scale (log) cannot change`;
    if ((old.step ?? null) !== (next.step ?? null) && !(old.type === "int" && (old.step ?? 1) === (next.step ?? 1)))
      return `${where}: the step cannot change (${old.step ?? "none"})`;
    if (next.low > old.low || next.high < old.high)
      return `${where}: [${next.low}, ${next.high}] does not contain [${old.low}, ${old.high}]; the space can only be widened, never narrowed`;
  }
  for (const v of values)
    if (!contains(next, v)) return `${where}: the value ${JSON.stringify(v)} of an existing trial is not in the new distribution (the step grid moved)`;
  return null;
}
