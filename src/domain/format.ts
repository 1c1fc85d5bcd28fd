/** Numbers for people: the one formatter behind the CLI tables, summaries, MCP text and prune reasons. */

/**
 * A compact rendering of `v`: integers as they are; other finite numbers to `digits`
 * significant digits without trailing zeros, in exponent form (`digits − 2` decimals) below
 * 1e-3 or from 1e6 on in magnitude; NaN and ±Infinity as JavaScript spells them; null and
 * undefined as "-"; anything else through `String`.
 */
export function formatNumber(v: unknown, digits = 5): string {
  if (typeof v !== "number") return v === null || v === undefined ? "-" : String(v);
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e6) return v.toExponential(Math.max(0, digits - 2));
  return String(Number(v.toPrecision(digits)));
}

/**
 * A count and its noun, the noun singular for exactly 1: "1 trial", "0 trials", "3 studies" (with
 * `many` for a plural that is not the noun + "s"). Answers said "1 trials" and "1 studies".
 */
export function plural(n: number, noun: string, many = `${noun}s`): string {
  return `${formatNumber(n)} ${n === 1 ? noun : many}`;
}
