/**
 * The character budget of MCP tool results (issue 14 §1): every result — its text and its
 * structured content together, which is what lands in a model's context — fits `max_chars`
 * characters, 8,000 unless a call asks for more, up to a hard cap. Tools build results that fit
 * (pages shortened to fit, with a cursor to the rest; long strings clipped with the tool that shows
 * them whole); the server checks every result of a read tool and answers one that still does not
 * fit with an `isError` result naming the next step, never a silently cut one. A tool that changes
 * state answers whole even over the budget: its change is committed by then (mcp-server.ts). Images are bounded by the plot
 * renderer's pixel and byte caps instead (plots.ts) and count here as their caption only.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { plural } from "../../domain/format.js";
import { errorMeta } from "./uris.js";

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

/**
 * A page of `n` items and its `cursor` within `budget`, the cursor included: fitted with room for a
 * cursor, then, when fewer items fit, that many asked for again (`refetch`) to get the real cursor,
 * and one item fewer while it is longer than the room left for it (a cursor names its study and the
 * page's last item, whose length varies). `build(k, cursor)` renders the first k items of the latest
 * page. When not one item fits, `none` answers with the size of one (without it, one item is asked for).
 */
export async function fitPage(
  n: number,
  cursor: string | null,
  build: (k: number, cursor: string | null) => CallToolResult,
  refetch: (k: number) => Promise<{ n: number; cursor: string | null }>,
  budget: number,
  none?: (oneItemChars: number) => CallToolResult,
): Promise<CallToolResult> {
  const placeholder = "x".repeat(Math.max(120, cursor?.length ?? 0));
  let { k } = fitPrefix(n, (m) => build(m, placeholder), budget);
  if (k === n) return build(k, cursor);
  if (k === 0 && none) return none(resultChars(build(1, placeholder)));
  k = Math.max(1, k);
  for (;;) {
    const page = await refetch(k);
    const result = build(page.n, page.cursor);
    if (k <= 1 || resultChars(result) <= budget) return result;
    k--;
  }
}

/** `s` cut to `max` characters, saying how many more there are and where to read them whole. */
export function clip(s: string, max: number, whole: string): string {
  if (s.length <= max) return s;
  return `${s.slice(0, max)}… (${plural(s.length - max, "more character")}, use ${whole})`;
}

/** Arguments that ask a tool for less output, in the order the over-budget answer names them. */
const NARROWING_ARGS = ["fields", "params", "limit", "k"];

/**
 * The answer to a result that does not fit its budget even so; `args` are the tool's argument
 * names, so that the next step names only arguments it takes.
 */
export function overBudgetResult(tool: string, size: number, budget: number, args: readonly string[]): CallToolResult {
  const less = NARROWING_ARGS.filter((a) => args.includes(a));
  const larger = args.includes("max_chars") && budget < HARD_MAX_CHARS ? `a larger max_chars (up to ${HARD_MAX_CHARS})` : "";
  const ways = [less.length > 0 ? `asking for less (${less.join(", ")})` : "", larger].filter((w) => w !== "");
  return {
    isError: true,
    content: [
      {
        type: "text",
        text:
          `Error RESULT_TOO_LARGE: the result of ${tool} has ${size} characters, over this call's budget of ${budget}.\n` +
          (ways.length > 0
            ? `Next step: call it again ${ways.join(" or with ")}.`
            : "Next step: read the same data in parts with list_trials or get_trial."),
      },
    ],
    _meta: errorMeta("RESULT_TOO_LARGE", "fix-input", { chars: size, max_chars: budget }),
  };
}
