/**
 * MCP tools about trials: an agent evaluating trials itself (ask, report, tell), proposing them
 * (enqueue), and reading them (best, list, get, lineage, trajectory).
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { type ErrorCode, TuneportError, invalidArgument } from "../../../domain/errors.js";
import { fmt, fmtHypervolume, fmtParams } from "../../../service/summary.js";
import { type EnqueueResult, finishedStateSchema } from "../../../service/ops/schemas.js";
import { plural } from "../../../domain/format.js";
import type { Scalar } from "../../../domain/distributions.js";
import { reportStepNumber } from "../../../domain/trial.js";
import { HARD_MAX_CHARS, clip, fitPage, fitPrefix, overBudgetResult, resultChars } from "../budget.js";
import type { McpBackend } from "../backend.js";
import { compactTrial, trialLine } from "../format.js";
import { listingOutput, projectionArgs, stateFilter, trialListing } from "./pages.js";
import { studyArg } from "./studies.js";
import { type McpTool, defineTool, hypervolumeFields, text } from "./tool.js";

const paramValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const trialArg = z.number().int().min(0);
const tokenArg = z.string().min(1).max(200);

type TrialStart = { resume_from: { trial: number; budget: number | null } | null; restore: { trial: number; checkpoint: string; step: number | null } | null };

/**
 * How to start a trial from ask: how far to train (a multi-fidelity scheduler's budget), and the
 * run it continues (promotion-mode ASHA) or the checkpoint it loads first (PBT), which a worker
 * gets from the ask too and an agent would otherwise never see.
 */
function startLines(budget: number | null, resume: TrialStart["resume_from"], restore: TrialStart["restore"]): string {
  const lines: string[] = [];
  if (budget !== null) lines.push(`budget: ${fmt(budget)} (train up to step ${fmt(budget)} in your step units, with report_intermediate along the way)`);
  if (resume)
    lines.push(
      `resume_from: trial ${resume.trial}${resume.budget !== null ? ` (trained to step ${fmt(resume.budget)})` : ""}: this promotes its configuration; continue that run from its last step if you kept its state, else train from the start.`,
    );
  if (restore)
    lines.push(`restore: load checkpoint ${JSON.stringify(restore.checkpoint)} of trial ${restore.trial}${restore.step !== null ? ` (step ${fmt(restore.step)})` : ""} before training.`);
  return lines.map((l) => `${l}\n`).join("");
}

/** The order a listing is in, said in its first line: `descending` on values is worst first, whatever the direction. */
const listOrder = (sort: "number" | "value", descending: boolean): string =>
  sort === "value" ? (descending ? "worst first (descending reverses best-first)" : "best first") : descending ? "newest first" : "oldest first";

/**
 * What enqueue_trial adds to its answer: the declared parameters the proposal leaves to the
 * strategy (an agent took a proposal for the whole configuration), why no worker gets it yet
 * when the study hands out no trials, and on a define-by-run study (nothing declared, so the op
 * takes any name, as Optuna's enqueue_trial does) the names its trials never suggested: a typo
 * ('lrr') was queued without a word, and a trial uses an enqueued value only where its objective
 * suggests that name. A study that has suggested nothing yet cannot tell, and says nothing.
 */
async function enqueueNotes(backend: McpBackend, study: string, params: Record<string, unknown>, placed: Placement): Promise<{ rest: string; held: string; unseen: string[] }> {
  const { space, stopped, define_by_run } = (await backend.call("get_study", { study })).study;
  // Whether it was stopped as the trial was queued, from enqueue's reply (read under the study's
  // lock with the queue and the budget): this later read may see a stop or a resume made since.
  // get_study's only for a server whose reply does not say (mcp --connect to an older one).
  const held = heldNote({ ...placed, stopped: placed.stopped ?? stopped });
  const drawn = Object.keys(space).filter((k) => !(k in params));
  const seen = Object.keys(define_by_run ?? {});
  const unseen = Object.keys(space).length === 0 && seen.length > 0 ? Object.keys(params).filter((k) => !seen.includes(k)) : [];
  const rest =
    (drawn.length === 0 ? "" : ` ${drawn.length > 8 ? `${drawn.length} declared parameters` : drawn.join(", ")} ${drawn.length === 1 ? "is" : "are"} not given: the strategy draws ${drawn.length === 1 ? "it" : "them"} when a worker asks for the trial.`) +
    (unseen.length === 0
      ? ""
      : ` Warning: ${unseen.slice(0, 8).map((k) => `'${k}'`).join(", ")}${unseen.length > 8 ? ", ..." : ""} never suggested in this study (a typo?; the names so far: ${seen.slice(0, 8).join(", ")}${seen.length > 8 ? ", ..." : ""}): a trial uses an enqueued value only where its objective suggests that name.`);
  return { rest, held, unseen };
}

/** What enqueue's reply says of the queue, the max_trials budget and a stop, read by the service with the enqueue. */
type Placement = Pick<EnqueueResult, "queue" | "trial_budget" | "stopped">;

/** Why no worker gets the queued trial yet, from enqueue's reply: a stopped study, else the budget. */
function heldNote(placed: Placement): string {
  return placed.stopped ? " The study is stopped: no worker gets it until resume_study." : budgetNote(placed);
}

/**
 * Why the max_trials budget never reaches the queued trial, from enqueue's reply: the budget is
 * spent, or more queued trials are handed out before it than the budget has room for, though "it
 * will be evaluated" said otherwise. The service counts them with the enqueue, under the study's
 * lock: the tool's own reads afterwards took another agent's proposals queued behind it for ones
 * ahead, and past the first 1,000 queued guessed. Nothing without a budget, or from a server
 * whose reply does not say (`mcp --connect` to an older one).
 */
function budgetNote({ queue, trial_budget: b }: Placement): string {
  if (!b) return "";
  if (b.used >= b.max_trials) return ` The study's max_trials budget is spent (${b.used} of ${b.max_trials}): no worker gets it until update_study raises max_trials.`;
  const room = b.max_trials - b.used;
  if (!queue || queue.ahead < room) return "";
  return ` But the study's max_trials budget has room for ${plural(room, "more trial", "more trials")} (${b.used} of ${b.max_trials} asked) and ${plural(queue.ahead, "queued trial goes", "queued trials go")} before this one: no worker gets it unless update_study raises max_trials (or cancel_trial withdraws queued ones ahead of it).`;
}

/**
 * What a proposal that matched an existing trial can do: skip_if_exists (default true) matches
 * trials in every state, so a cancelled proposal or a failed run could not be queued again, and
 * the answer did not say how.
 */
function againHint(state: string): string {
  const how = "pass skip_if_exists: false to queue it again";
  if (state === "WAITING") return "It is queued already and runs before the strategy's own suggestions.";
  if (state === "RUNNING") return `It is being evaluated now; ${how} (a second evaluation).`;
  if (state === "FAIL") return `enqueue_trial skips a configuration that any trial has, a cancelled or failed one too: ${how}.`;
  return `enqueue_trial skips a configuration that any trial has: ${how} (a second evaluation, e.g. of a noisy objective).`;
}

/** pareto_front's answer without a front: "no feasible trial (2 complete)" hid that both were infeasible, and said nothing to do. */
function noFront(study: string, complete: number, feasible: number): string {
  const infeasible = complete - feasible;
  if (infeasible > 0)
    return `No feasible trial of '${study}' has completed yet (${complete} complete, all ${infeasible} infeasible: a constraint c > 0), so there is no Pareto front; list_trials shows their constraints: tell more trials (ask_trial/tell_trial) or wait_for_progress for workers'.`;
  return `No trial of '${study}' has completed yet (${complete} complete), so there is no Pareto front: tell trials (ask_trial/tell_trial) or wait_for_progress for workers'.`;
}

export const trialTools: McpTool[] = [
  defineTool({
    name: "ask_trial",
    meta: {
      title: "Ask for a trial to evaluate",
      description: "Start a trial to evaluate yourself; then tell_trial.",
    },
    input: z.object({ study: studyArg, lease_ttl_s: z.number().optional(), max_retries: z.number().int().optional() }),
    // The trial as an object under `trial` (number, state, params), as every other tool answers it.
    output: z.looseObject({ study: z.string(), trial: z.looseObject({ number: z.number().int(), params: z.looseObject({}) }), token: z.string(), lease_ttl_s: z.number() }),
    ops: ["ask", "get_study"],
    async run(a, { backend }) {
      const r = await backend.call("ask", { study: a.study, lease_ttl_s: a.lease_ttl_s, max_retries: a.max_retries });
      const { resume_from, restore } = r.start;
      const { directions, space, define_by_run } = (await backend.call("get_study", { study: r.study })).study;
      const result = directions.length > 1
        ? `values: a list of ${directions.length} numbers, one per objective in this order (${directions.join(", ")})`
        : "the objective value";
      // A define-by-run study hands out {}: "evaluate these parameters" left the agent nothing to evaluate.
      const seen = Object.keys(define_by_run ?? {});
      const evaluate = Object.keys(space).length === 0
        ? `This study declares no parameters: draw each parameter with suggest (study, trial ${r.trial.number}, this token, name, distribution)${seen.length > 0 ? `, with the distributions used so far (${seen.slice(0, 8).join(", ")}${seen.length > 8 ? ", ..." : ""}: describe_study shows them)` : ""}, evaluate`
        : "Evaluate these parameters";
      return text(
        `Trial ${r.trial.number} of '${r.study}' is yours: ${fmtParams(r.trial.params)}\n` +
          // optuna-mcp's ask has no lease: an agent that knows it learnt of one only when its tell was refused.
          `token: ${r.lease.token} (lease ${r.lease.ttl_s}s: tell_trial within it, or keep it with renew_lease; ask_trial's lease_ttl_s asks for longer)\n` +
          startLines(r.budget, resume_from, restore) +
          `${evaluate}, then call tell_trial with study, trial ${r.trial.number}, this token and ${result}.`,
        {
          study: r.study,
          trial: { number: r.trial.number, state: r.trial.state, params: r.trial.params },
          token: r.lease.token,
          lease_expires_at: r.lease.expires_at,
          lease_ttl_s: r.lease.ttl_s,
          budget: r.budget,
          ...(resume_from ? { resume_from } : {}),
          ...(restore ? { restore } : {}),
        },
      );
    },
  }),

  defineTool({
    name: "suggest",
    meta: {
      title: "Draw a define-by-run parameter",
      description: "Define-by-run trial.suggest_*; distribution: a create_study space entry.",
    },
    input: z.object({ study: studyArg, trial: trialArg, token: tokenArg, name: z.string().min(1).max(256), distribution: z.looseObject({}) }),
    output: z.looseObject({ value: paramValue }),
    ops: ["suggest"],
    async run(a, { backend }) {
      const { value } = await backend.call("suggest", { study: a.study, trial: a.trial, token: a.token, name: a.name, distribution: a.distribution });
      return text(`Trial ${a.trial}: ${a.name} = ${JSON.stringify(value)}. Evaluate with it, then tell_trial.`, { value });
    },
  }),

  defineTool({
    name: "report_intermediate",
    meta: {
      title: "Report an intermediate value",
      description: "A step's value (renews the lease); answers continue or prune.",
    },
    input: z.object({ study: studyArg, trial: trialArg, token: tokenArg, step: reportStepNumber, value: z.number() }),
    output: z.looseObject({ decision: z.looseObject({ action: z.string() }) }),
    ops: ["report"],
    async run(a, { backend }) {
      const r = await backend.call("report", { study: a.study, trial: a.trial, token: a.token, step: a.step, value: a.value });
      const act = r.decision.action;
      // An update (a PBT exploit, a hypergradient step) changes the trial's params: "decision: update" alone left them unsaid.
      const update = act === "update" ? ` Go on with ${fmtParams(r.decision.params ?? {})}${r.decision.reason ? ` (${r.decision.reason})` : ""}.` : "";
      const restore = act === "update" && r.decision.restore ? `\n${startLines(null, null, { ...r.decision.restore, step: r.decision.restore.step ?? null }).trimEnd()}` : "";
      return text(
        act === "prune" ? `Stop: the scheduler pruned trial ${a.trial}. Call tell_trial with state PRUNED.` : `Recorded step ${a.step} = ${fmt(a.value)}; decision: ${act}.${update}${restore}`,
        { decision: r.decision as unknown as Record<string, unknown> },
      );
    },
  }),

  defineTool({
    name: "renew_lease",
    meta: { title: "Renew a trial's lease", description: "Extend your trial's lease." },
    input: z.object({ study: studyArg, trial: trialArg, token: tokenArg }),
    output: z.looseObject({ expires_at: z.number(), expires_in_s: z.number() }),
    ops: ["heartbeat"],
    async run(a, { backend }) {
      const { leases } = await backend.call("heartbeat", { leases: [{ study: a.study, trial: a.trial, token: a.token }] });
      const l = leases[0];
      // The heartbeat op answers each lease on its own; one refused lease is this call's error.
      if (!l?.ok) throw new TuneportError((l?.code ?? "INTERNAL") as ErrorCode, l?.message ?? "the lease was not renewed", { study: a.study, trial: a.trial });
      // From the server's answer: expires_at is on its clock, which under mcp --connect may differ from
      // this process's (an hour behind read "expires in 0s" for a lease just renewed).
      const inS = l.ttl_s ?? Math.max(0, (l.expires_at as number) - Date.now() / 1000);
      return text(`Lease of trial ${a.trial} renewed: it expires in ${Math.round(inS)}s.`, { expires_at: l.expires_at as number, expires_in_s: inS });
    },
  }),

  defineTool({
    name: "tell_trial",
    meta: {
      title: "Tell a trial's result",
      description: "COMPLETE (default) with value, FAIL with reason, or PRUNED.",
    },
    input: z.object({
      study: studyArg,
      trial: trialArg,
      token: tokenArg,
      state: finishedStateSchema.default("COMPLETE"),
      value: z.number().optional(),
      values: z.array(z.number()).optional(),
      constraints: z.array(z.number()).optional().describe("c <= 0 is satisfied."),
      reason: z.string().max(2000).optional(),
    }),
    output: z.looseObject({ trial: z.looseObject({ number: z.number().int() }), is_best: z.boolean() }),
    ops: ["tell", "get_study"],
    async run(a, { backend }) {
      // The op ignores a FAIL tell's values (protocol v1, where workers send the diverged value);
      // an agent that gives one expects it kept, so it is refused here, as Optuna's tell refuses it.
      if (a.state === "FAIL" && (a.value !== undefined || a.values !== undefined))
        throw invalidArgument("tell_trial: a FAIL trial has no value; leave value out (give the reason instead), or tell it COMPLETE with its value", { tool: "tell_trial" });
      // Only a FAIL keeps its reason (as fail_reason): the op drops one given with another state.
      if (a.state !== "FAIL" && a.reason !== undefined)
        throw invalidArgument(
          `tell_trial: reason is kept only with state FAIL (as the fail reason), not ${a.state}; leave it out, and note why with set_user_attrs (trial, notes) after the tell`,
          { tool: "tell_trial" },
        );
      const { trial } = await backend.call("tell", {
        study: a.study, trial: a.trial, token: a.token, state: a.state, value: a.value, values: a.values, constraints: a.constraints, reason: a.reason,
      });
      const { study: s } = await backend.call("get_study", { study: a.study });
      const isBest = s.best_trial?.number === trial.number;
      return text(
        `Recorded ${trialLine(trial)}.${isBest ? " It is the new best." : s.best_trial ? ` Best remains trial ${s.best_trial.number} (${fmt(s.best_trial.value)}).` : ""}`,
        { trial: compactTrial(trial) as unknown as Record<string, unknown>, is_best: isBest, best_value: s.best_trial?.value ?? null },
      );
    },
  }),

  defineTool({
    name: "enqueue_trial",
    meta: {
      title: "Propose a trial",
      description: "Queue params (omitted ones drawn) to run before the strategy's.",
    },
    input: z.object({
      study: studyArg,
      params: z.record(z.string(), paramValue),
      rationale: z.string().min(1).max(4000),
      skip_if_exists: z.boolean().default(true),
    }),
    output: z.looseObject({ created: z.boolean(), trial: z.looseObject({ number: z.number().int() }) }),
    ops: ["enqueue", "get_study"],
    async run(a, { backend }) {
      const { trial, created, queue, trial_budget, stopped } = await backend.call("enqueue", { study: a.study, params: a.params, rationale: a.rationale, skip_if_exists: a.skip_if_exists });
      const placed = { queue, trial_budget, stopped };
      // Notes read after the enqueue committed: when a read fails (the study deleted meanwhile, a
      // --connect timeout) they are left out, never an error for a change that was made, which
      // the agent would retry into a second proposal; what the reply says is kept.
      const { rest, held, unseen } = await enqueueNotes(backend, a.study, a.params, placed).catch(() => ({ rest: "", held: heldNote(placed), unseen: [] as string[] }));
      return text(
        created
          ? `Queued trial ${trial.number} of '${a.study}': ${fmtParams(trial.params)}. It will be evaluated before the strategy's own suggestions.${rest}${held}`
          : `Not queued: trial ${trial.number} already has these values (${trial.state}${trial.value !== null ? `, value ${fmt(trial.value)}` : ""}). ${againHint(trial.state)}`,
        { created, trial: compactTrial(trial) as unknown as Record<string, unknown>, ...(created && unseen.length > 0 ? { unseen_params: unseen } : {}) },
      );
    },
  }),

  defineTool({
    name: "best_trials",
    meta: {
      title: "Best trials",
      description: "k (default 5) best feasible complete trials.",
      readOnly: true,
      sized: true,
    },
    input: z.object({ study: studyArg, k: z.number().int().min(1).max(200).default(5), ...projectionArgs }),
    output: listingOutput,
    ops: ["trials", "get_study"],
    async run(a, { backend, budget }) {
      return trialListing(
        backend,
        {
          study: a.study,
          states: ["COMPLETE"],
          // The best are feasible ones (as the study's best trial): an infeasible trial's value ranks nothing.
          feasible: true,
          order_by: "value",
          limit: a.k,
          wantsOnlyLimit: true,
          cursor: a.cursor,
          fields: a.fields,
          params: a.params,
          head: (n, total) => `The ${n === 1 ? "best trial" : `${n} best trials`}${a.cursor ? " after the cursor" : ""} of ${total} feasible complete:`,
          more: "best_trials",
          empty: `No trial of '${a.study}' has completed yet. wait_for_progress waits for results.`,
        },
        budget,
        "best_trials",
      );
    },
  }),

  defineTool({
    name: "pareto_front",
    meta: {
      title: "Pareto front",
      description: "Multi-objective: Pareto front and hypervolume.",
      readOnly: true,
      sized: true,
    },
    input: z.object({
      study: studyArg,
      reference_point: z.array(z.number()).optional(),
      history: z.boolean().default(false),
      cursor: projectionArgs.cursor,
    }),
    output: z.looseObject({ front: z.array(z.looseObject({})), hypervolume: z.number().nullable() }),
    ops: ["best_trials"],
    async run(a, { backend, budget }) {
      const ask = (limit?: number) =>
        backend.call("best_trials", { study: a.study, reference_point: a.reference_point, history: a.history, cursor: a.cursor, limit });
      let f = await ask();
      if (f.trials.length === 0 && a.cursor === undefined)
        return text(noFront(a.study, f.n_complete, f.n_feasible), { front: [], next_cursor: null });
      const head =
        `Pareto front of '${a.study}' (${f.directions.join("/")}): ${plural(f.n_front, "trial")} of ${f.n_feasible} feasible (${f.n_complete} complete)${a.cursor ? ", after the cursor" : ""}; ` +
        `hypervolume ${fmtHypervolume(f.hypervolume)}${f.hypervolume_exact ? "" : " (Monte Carlo estimate)"} at reference point [${(f.reference_point ?? []).map(fmt).join(", ")}] (${f.reference_point_source}).`;
      // A front larger than any budget is read page by page: the cursor continues after the last trial shown
      // (the hint was "a larger max_chars", which at the cap could never show the rest).
      const build = (k: number, cursor: string | null) => {
        const lines = [head, ...f.trials.slice(0, k).map((t) => trialLine(t))];
        // A wide space's trials fit a few to a page: 65 calls to read a front of 257 at the default budget, when 4 would do.
        if (cursor !== null)
          lines.push(`More front trials follow (${f.n_front} on the front): call pareto_front with cursor "${cursor}"${budget < HARD_MAX_CHARS ? `, and a larger max_chars (up to ${HARD_MAX_CHARS}) for more a page` : ""}.`);
        if (f.history) lines.push(`hypervolume history: ${f.history.slice(-50).map(([n, hv]) => `#${n}:${Number.isFinite(hv) ? fmt(hv) : "overflowed"}`).join(" ")}`);
        return text(lines.join("\n"), {
          front: f.trials.slice(0, k).map((t) => compactTrial(t)),
          front_size: f.n_front,
          next_cursor: cursor,
          ...hypervolumeFields(f.hypervolume),
          hypervolume_exact: f.hypervolume_exact,
          reference_point: f.reference_point,
          reference_point_source: f.reference_point_source,
          history: f.history ? f.history.slice(-50).map(([n, hv]) => [n, Number.isFinite(hv) ? hv : null]) : null,
        } as unknown as Record<string, unknown>);
      };
      const refetch = async (k: number) => {
        f = await ask(k);
        return { n: f.trials.length, cursor: f.next_cursor };
      };
      return fitPage(f.trials.length, f.next_cursor, build, refetch, budget, (one) => overBudgetResult("pareto_front", one, budget, ["max_chars"]));
    },
  }),

  defineTool({
    name: "list_trials",
    meta: {
      title: "List trials",
      description: "By number or value (best first), 20 a page; fields/params shrink rows.",
      readOnly: true,
      sized: true,
    },
    input: z.object({
      study: studyArg,
      states: stateFilter,
      sort: z.enum(["number", "value"]).default("number"),
      descending: z.boolean().default(false).describe("newest first; with sort value, worst first"),
      limit: z.number().int().min(1).max(200).default(20),
      ...projectionArgs,
    }),
    output: listingOutput,
    ops: ["trials", "get_study"],
    async run(a, { backend, budget }) {
      return trialListing(
        backend,
        {
          study: a.study,
          states: a.states,
          order_by: a.sort,
          descending: a.descending,
          limit: a.limit,
          cursor: a.cursor,
          fields: a.fields,
          params: a.params,
          head: (n, total) => `${n} of ${plural(total, "trial")}${a.cursor ? " (after the cursor)" : ""}, ${listOrder(a.sort, a.descending)}:`,
          more: "list_trials with the same study, states, sort and descending",
          empty: `No trials${a.states ? ` in ${a.states.join("/")}` : ""} in '${a.study}' yet.`,
        },
        budget,
        "list_trials",
      );
    },
  }),

  defineTool({
    name: "get_trial",
    meta: {
      title: "Get one trial",
      description: "A whole trial and its latest reports.",
      readOnly: true,
      sized: true,
    },
    input: z.object({ study: studyArg, trial: trialArg }),
    output: z.looseObject({ trial: z.looseObject({ number: z.number().int() }), intermediate_shown: z.number().int(), intermediate_total: z.number().int() }),
    ops: ["trial"],
    async run(a, { backend, budget }) {
      const { trial: t } = await backend.call("trial", { study: a.study, trial: a.trial });
      // The notes are whole in structuredContent (system_attrs); the text quotes them up to `notes` characters.
      // `dists` false leaves out the distributions: a wide space of categoricals is most of a trial,
      // and describe_study has the declared ones (a larger max_chars shows them here).
      // `m` < all: only the first m params (a space of hundreds of long names is over any budget).
      const names = Object.keys(t.params);
      const build = (k: number, notes = Infinity, dists = true, m = names.length) => {
        const curve = k === 0 ? [] : t.intermediate.slice(-k);
        const params = m < names.length ? Object.fromEntries(names.slice(0, m).map((p) => [p, t.params[p] as Scalar])) : t.params;
        const lines = [trialLine({ ...t, params, system_attrs: {} }, Infinity)];
        if (m < names.length) lines.push(`params: the first ${m} of ${names.length}, to fit this call's budget; a larger max_chars (up to ${HARD_MAX_CHARS}) shows them all`);
        if (!dists) lines.push(`distributions: left out to fit this call's budget (describe_study lists the study's space; a larger max_chars shows them here)`);
        for (const key of ["rationale", "fail_reason", "notes"] as const)
          if (typeof t.system_attrs[key] === "string") lines.push(`${key}: ${clip(t.system_attrs[key] as string, notes, `structuredContent.trial.system_attrs.${key}`)}`);
        if (curve.length > 0)
          lines.push(
            `intermediate (step=value)${curve.length < t.intermediate.length ? `, the last ${curve.length} of ${t.intermediate.length}` : ""}: ${curve.map(([s, v]) => `${fmt(s)}=${fmt(v)}`).join(", ")}`,
          );
        if (Object.keys(t.user_attrs).length > 0) lines.push(`user_attrs: ${JSON.stringify(t.user_attrs)}`);
        const { distributions, ...rest } = t;
        const trial = dists ? { ...t, params, intermediate: curve } : { ...rest, params, intermediate: curve };
        return text(lines.join("\n"), {
          trial, intermediate_shown: curve.length, intermediate_total: t.intermediate.length, ...(dists ? {} : { distributions_left_out: Object.keys(distributions).length }),
          ...(m < names.length ? { params_left_out: names.length - m } : {}),
        });
      };
      // The whole trial with as much of its curve as fits; else without the distributions; else with
      // the notes clipped too; else the last 3 reports and as many params as fit. A form counts when
      // it fits and shows some of the curve (if any).
      const n = t.intermediate.length;
      const ok = (r: { k: number; result: CallToolResult }) => (n === 0 || r.k > 0) && resultChars(r.result) <= budget;
      const whole = fitPrefix(n, (k) => build(k), budget);
      if (ok(whole)) return whole.result;
      const lean = fitPrefix(n, (k) => build(k, Infinity, false), budget);
      if (ok(lean)) return lean.result;
      const clipped = fitPrefix(n, (k) => build(k, 300, false), budget);
      return ok(clipped) ? clipped.result : fitPrefix(names.length, (m) => build(Math.min(n, 3), 300, false, m), budget).result;
    },
  }),

  defineTool({
    name: "get_lineage",
    meta: {
      title: "PBT lineage of a trial",
      description: "PBT: the param schedule behind a trial (default the best).",
      readOnly: true,
      sized: true,
    },
    input: z.object({ study: studyArg, trial: trialArg.optional() }),
    output: z.looseObject({ trial: z.number().int(), until_step: z.number(), segments_total: z.number().int(), schedule: z.array(z.looseObject({})) }),
    ops: ["lineage"],
    async run(a, { backend, budget }) {
      const { lineage: l } = await backend.call("lineage", { study: a.study, trial: a.trial });
      if (!l.tracked)
        throw new TuneportError(
          "FAILED_PRECONDITION",
          `study '${l.study}' keeps no lineage: its strategy never changes a running trial's params (only pbt and pb2 do), so trial ${l.trial} trained with its own params from step 0`,
          { study: l.study, trial: l.trial, lineage: false },
        );
      const build = (k: number) => {
        const shown = l.schedule.slice(0, k);
        const lines = [
          `Trial ${l.trial} of '${l.study}' (${l.state}): best report ${fmt(l.value)} at its step ${fmt(l.step)}, model trained for ${plural(l.until_step, "step")}:`,
          ...shown.map((seg) => `- from step ${fmt(seg.from_step)}: ${fmtParams(seg.params)} (trained by trial ${seg.trial})`),
        ];
        if (k < l.schedule.length) lines.push(`… ${plural(l.schedule.length - k, "more segment")}: call get_lineage with a larger max_chars.`);
        return text(lines.join("\n"), { ...l, schedule: shown, segments_total: l.schedule.length });
      };
      return fitPrefix(l.schedule.length, build, budget).result;
    },
  }),

  defineTool({
    name: "get_trajectory",
    meta: {
      title: "Hyperparameter trajectory of a trial",
      description: "Hypergradient: a trial's params over training.",
      readOnly: true,
      sized: true,
    },
    input: z.object({ study: studyArg, trial: trialArg }),
    output: z.looseObject({ trial: z.number().int(), points_total: z.number().int(), trajectory: z.array(z.looseObject({})) }),
    ops: ["trajectory"],
    async run(a, { backend, budget }) {
      const tr = await backend.call("trajectory", { study: a.study, trial: a.trial });
      if (tr.trajectory.length === 0)
        return text(`Trial ${tr.trial} of '${a.study}' has no recorded trajectory (its strategy does not change params during training).`, {
          ...tr,
          points_total: 0,
        });
      const build = (k: number) => {
        const shown = tr.trajectory.slice(tr.trajectory.length - k);
        const lines = [
          `Trial ${tr.trial} (${tr.state}): ${plural(tr.trajectory.length, "point")}${tr.thinned ? " (thinned)" : ""}${shown.length < tr.trajectory.length ? `, the last ${shown.length} shown (a larger max_chars shows more)` : ""}:`,
          ...shown.map((p) => `- ${p.step === null ? "start" : `step ${fmt(p.step)}`}${p.value !== null ? ` (value ${fmt(p.value)})` : ""}: ${fmtParams(p.params)}`),
        ];
        return text(lines.join("\n"), { ...tr, trajectory: shown, points_total: tr.trajectory.length });
      };
      return fitPrefix(tr.trajectory.length, build, budget).result;
    },
  }),
];
