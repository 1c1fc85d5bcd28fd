/**
 * The character budget of MCP tool results (issue 14 §1): every result — its text and its
 * structured content together, which is what lands in a model's context — fits `max_chars`
 * characters, 8,000 unless a call asks for more, up to a hard cap. Tools build results that fit
 * (pages shortened to fit, with a cursor to the rest; long strings clipped with the tool that shows
 * them whole); the server checks every result and answers one that still does not fit with an
 * `isError` result naming the next step, never a silently cut one. Images are bounded by the plot
 * renderer's pixel and byte caps instead (plots.ts) and count here as their caption only.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

/** The budget of a call that names none, in characters. */
export const DEFAULT_MAX_CHARS = 8000;
/** The largest budget a call may ask for. */
export const HARD_MAX_CHARS = 60_000;
/** The smallest: room for one listed trial of a wide study and the hints. */
export const MIN_MAX_CHARS = 2000;

/** The `max_chars` argument every tool with data-sized output takes. */
export const maxCharsArg = z
  .number()
  .int()
  .min(MIN_MAX_CHARS)
  .max(HARD_MAX_CHARS)
  .optional();

/** Characters a result puts in a model's context: text content and structured content (images count 0). */
export function resultChars(r: CallToolResult): number {
  let n = 0;
  for (const c of r.content) if (c.type === "text") n += c.text.length;
  if (r.structuredContent) n += JSON.stringify(r.structuredContent).length;
  return n;
}

/**
 * The largest `k ≤ n` whose result `build(k)` fits `budget` (at least 0), found by bisection,
 * with that result. `build` must grow with `k`.
 */
export function fitPrefix(n: number, build: (k: number) => CallToolResult, budget: number): { k: number; result: CallToolResult } {
  const all = build(n);
  if (resultChars(all) <= budget) return { k: n, result: all };
  let lo = 0;
  let hi = n; // build(lo) is taken to fit, build(hi) does not
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (resultChars(build(mid)) <= budget) lo = mid;
    else hi = mid;
  }
  return { k: lo, result: build(lo) };
}

/** `s` cut to `max` characters, saying how many more there are and where to read them whole. */
export function clip(s: string, max: number, whole: string): string {
  if (s.length <= max) return s;
  return `${s.slice(0, max)}… (${s.length - max} more characters, use ${whole})`;
}

/** The answer to a result that does not fit its budget even so. */
export function overBudgetResult(tool: string, size: number, budget: number): CallToolResult {
  const more = budget < HARD_MAX_CHARS ? ` or a larger max_chars (up to ${HARD_MAX_CHARS})` : "";
  return {
    isError: true,
    content: [
      {
        type: "text",
        text:
          `Error RESULT_TOO_LARGE: the result of ${tool} has ${size} characters, over this call's budget of ${budget}.\n` +
          `Next step: call it again asking for less (fields, params, a smaller limit or k)${more}.`,
      },
    ],
  };
}
