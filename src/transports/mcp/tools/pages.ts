/**
 * Trial listings that fit a character budget: one page of the `trials` op, shortened to what fits
 * (then fetched again at that length, so that its cursor continues right after the last trial
 * shown), with the cursor and a "N more, use ..." line for the rest.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { invalidArgument } from "../../../domain/errors.js";
import { trialStateFilter } from "../../../service/ops/schemas.js";
import type { OpArgs } from "../../../service/ops/ops.js";
import type { TrialField } from "../../../service/paging.js";
import { PARAMS_CHARS, paramsWithin } from "../../../service/summary.js";
import { plural } from "../../../domain/format.js";
import { fitPage, overBudgetResult } from "../budget.js";
import type { McpBackend } from "../backend.js";
import { compactTrial, trialLine } from "../format.js";
import { text } from "./tool.js";

/** The fields a listing may keep (compact names); `number` is always shown. */
export const LISTING_FIELDS = ["state", "value", "params", "rationale", "intermediate", "duration_s", "user_attrs"] as const;
type ListingField = (typeof LISTING_FIELDS)[number];

/** The projection arguments of listings. */
export const projectionArgs = {
  // Checked in trialListing (the names listed there), to keep tools/list small.
  fields: z.array(z.string()).min(1).optional(),
  params: z.array(z.string().min(1).max(256)).max(100).optional(),
  cursor: z.string().min(1).max(2000).optional(),
};

/** The structured content of a listing. */
export const listingOutput = z.looseObject({
  total: z.number().int(),
  shown: z.number().int(),
  next_cursor: z.string().nullable(),
  trials: z.array(z.looseObject({ number: z.number().int() })),
});

/** Trial states to list, in any case (`complete` is COMPLETE). */
export const stateFilter = z.array(trialStateFilter).optional();

/** Names of a trial's result that `value` brings. */
const RESULT_FIELDS = new Set(["values", "constraints", "feasible"]);

const OP_FIELDS: Record<ListingField, TrialField[]> = {
  state: ["state"],
  value: ["value"],
  params: ["params"],
  rationale: ["system_attrs"],
  intermediate: ["intermediate"],
  duration_s: ["duration_s"],
  user_attrs: ["user_attrs"],
};

export interface ListingRequest {
  study: string;
  states?: OpArgs<"trials">["states"];
  feasible?: boolean;
  order_by: "number" | "value";
  descending?: boolean;
  limit: number;
  /**
   * `limit` is how many the caller wants (best_trials' k), not a page size: once that many are
   * shown no cursor is offered (the trials after them were not asked for); a page the budget cut
   * still goes on with one, which carries how many of them are still to come (`wantedCursor`).
   */
  wantsOnlyLimit?: boolean;
  cursor?: string;
  fields?: readonly string[];
  params?: string[];
  /** The first line, given the trials shown and the total. */
  head: (shown: number, total: number) => string;
  /** The tool and arguments that continue the listing, for the "more" line. */
  more: string;
  /** Said when nothing matched. */
  empty: string;
}

/**
 * How many of the `limit` wanted are left, and the op's cursor, from a cursor of a listing under
 * wantsOnlyLimit: `<left>.<op cursor>` (an op cursor is base64url, which has no dot). A bare op
 * cursor (of list_trials, or from before the count) leaves all `limit` to come, as it did.
 */
export function wantedCursor(cursor: string | undefined, limit: number): { left: number; cursor: string | undefined } {
  const m = cursor === undefined ? null : /^(\d{1,4})\.(.+)$/s.exec(cursor);
  if (!m) return { left: limit, cursor };
  return { left: Math.max(1, Math.min(limit, Number(m[1]))), cursor: m[2] };
}

/** One page of trials as a result that fits `budget`. */
export async function trialListing(backend: McpBackend, r: ListingRequest, budget: number, tool: string): Promise<CallToolResult> {
  // number is always there; a multi-objective or constrained result comes with value.
  const named = r.fields?.filter((f) => f !== "number").map((f) => (RESULT_FIELDS.has(f) ? "value" : f));
  const unknown = named?.filter((f) => !(LISTING_FIELDS as readonly string[]).includes(f)) ?? [];
  if (unknown.length > 0)
    throw invalidArgument(`unknown fields ${unknown.join(", ")}; fields are ${LISTING_FIELDS.join(", ")} (number is always shown; value brings values and constraints)`);
  const fields = named && named.length > 0 ? [...new Set(named.flatMap((f) => OP_FIELDS[f as ListingField]))] : r.fields && ["number" as const];
  if (r.params !== undefined) {
    // Names the study has never seen were projected to {} without a word (plot refuses them).
    const { study } = await backend.call("get_study", { study: r.study });
    const known = [...Object.keys(study.space), ...Object.keys(study.define_by_run ?? {})];
    const unknownParams = r.params.filter((p) => !known.includes(p));
    if (unknownParams.length > 0)
      throw invalidArgument(`unknown ${unknownParams.length === 1 ? "parameter" : "parameters"} ${unknownParams.map((p) => `'${p}'`).join(", ")} in params; the study's parameters are ${known.join(", ") || "(none yet)"}`);
  }
  // Under wantsOnlyLimit the cursor says how many of the `limit` wanted are left, so that the pages
  // after a cut one stop at the k-th best (each asked for k again, walking on past it).
  // Another listing's cursor is unwrapped too, so that the op refuses it saying which listing it continues.
  const { left: wanted, cursor: opCursor } = wantedCursor(r.cursor, r.limit);
  const left = r.wantsOnlyLimit ? wanted : r.limit;
  const ask = (limit: number) =>
    backend.call("trials", {
      study: r.study,
      states: r.states,
      feasible: r.feasible,
      order_by: r.order_by,
      descending: r.descending,
      limit,
      cursor: opCursor,
      fields,
      params: r.params,
    });
  let page = await ask(left);
  // A value order ranks the trials that have a value; the others (RUNNING, FAIL, PRUNED without
  // a report, ...) are counted by the page, so that the listing does not read as the whole study.
  const withoutValue = page.without_value ?? 0;
  const unranked = `${plural(withoutValue, "trial")}${r.states ? ` in ${r.states.join("/")}` : ""} without a value ${withoutValue === 1 ? "is" : "are"} not ranked by value: sort "number" lists ${withoutValue === 1 ? "it" : "them"}.`;
  if (page.trials.length === 0 && page.total === 0) {
    // In a multi-objective study no trial has the one value a value order ranks by: say so
    // rather than "no trial has completed"; likewise when every COMPLETE trial is infeasible.
    if (r.order_by === "value" || r.feasible) {
      const { study } = await backend.call("get_study", { study: r.study });
      if (study.directions.length > 1 && r.order_by === "value")
        throw invalidArgument(
          `study '${r.study}' has ${study.directions.length} objectives (${study.directions.join(", ")}), so no trial has one value to rank by: call pareto_front for the best trials, or list_trials with sort "number"`,
        );
      const complete = study.counts.COMPLETE ?? 0;
      if (r.feasible && complete > 0)
        return text(`No trial of '${r.study}' is feasible yet: ${complete === 1 ? "its COMPLETE trial violates" : `all ${complete} COMPLETE trials violate`} a constraint (list_trials shows them).`, {
          total: 0,
          shown: 0,
          next_cursor: null,
          trials: [],
        });
    }
    if (withoutValue > 0) return text(`No trial to rank by value in '${r.study}': ${unranked}`, { total: 0, shown: 0, next_cursor: null, trials: [], without_value: withoutValue });
    return text(r.empty, { total: 0, shown: 0, next_cursor: null, trials: [] });
  }
  // Params the caller named are shown whole; otherwise a wide space's are cut per trial (get_trial has them all).
  const paramChars = r.params !== undefined ? Infinity : PARAMS_CHARS;
  const leftOut = page.trials.some((t) => t.params !== undefined && paramsWithin(t.params).left_out > 0);
  // The trials after this page (and before the cursor) are not counted; `total` is the whole listing.
  const build = (k: number, next: string | null): CallToolResult => {
    const shown = page.trials.slice(0, k);
    const cursor = !r.wantsOnlyLimit || next === null ? next : shown.length >= left ? null : `${left - shown.length}.${next}`;
    const rest = k < page.trials.length || cursor !== null;
    const lines = [r.head(shown.length, page.total), ...shown.map((t) => trialLine(t, paramChars))];
    if (rest) lines.push(`More trials follow: call ${r.more} with cursor "${cursor ?? "…"}".`);
    if (withoutValue > 0) lines.push(`(${unranked})`);
    // "best first" above an infeasible trial with the lowest loss read as "this is the best": say what ranks them.
    if (r.order_by === "value" && shown.some((t) => t.feasible === false))
      lines.push("(Ranked by value alone, infeasible trials too (a constraint c > 0): best_trials ranks the feasible ones.)");
    if (leftOut && paramChars !== Infinity) lines.push("(Params cut to fit: pass params with the names you want to see them whole, or call get_trial for one trial.)");
    return text(lines.join("\n"), {
      total: page.total,
      shown: shown.length,
      next_cursor: cursor,
      trials: shown.map((t) => compactTrial(t, paramChars)),
      ...(withoutValue > 0 ? { without_value: withoutValue } : {}),
    });
  };
  const refetch = async (k: number) => {
    page = await ask(k);
    return { n: page.trials.length, cursor: page.next_cursor };
  };
  return fitPage(page.trials.length, page.next_cursor, build, refetch, budget, (one) => overBudgetResult(tool, one, budget, ["fields", "params", "max_chars"]));
}
