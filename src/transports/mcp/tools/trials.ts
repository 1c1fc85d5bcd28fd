/**
 * MCP tools about trials: an agent evaluating trials itself (ask, report, tell), proposing them
 * (enqueue), and reading them (best, list, get, lineage, trajectory).
 */
import { z } from "zod";
import { TRIAL_STATES } from "../../../domain/trial.js";
import { fmt, fmtParams } from "../../../service/summary.js";
import { compactTrial, trialLine } from "../format.js";
import { studyArg } from "./studies.js";
import { type McpTool, defineTool, text } from "./tool.js";

const paramValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const trialArg = z.number().int().min(0);
const tokenArg = z.string().min(1).max(200).describe("The token from ask_trial.");

export const trialTools: McpTool[] = [
  defineTool({
    name: "ask_trial",
    meta: {
      title: "Ask for a trial to evaluate",
      description:
        "Start a trial so that you evaluate it yourself: returns its number, parameters and a lease token. " +
        "Queued proposals (enqueue_trial) are served first. Finish it with tell_trial (same study, trial and token) before the lease expires.",
    },
    input: z.object({ study: studyArg }),
    ops: ["ask"],
    async run(a, { backend }) {
      const r = await backend.call("ask", { study: a.study });
      return text(
        `Trial ${r.trial.number} of '${r.study}' is yours: ${fmtParams(r.trial.params)}\n` +
          `token: ${r.lease.token} (lease ${r.lease.ttl_s}s)${r.budget !== null ? `\nbudget: ${r.budget}` : ""}\n` +
          `Evaluate these parameters, then call tell_trial with study, trial ${r.trial.number}, this token and the objective value.`,
        {
          study: r.study,
          trial: r.trial.number,
          params: r.trial.params,
          token: r.lease.token,
          lease_expires_at: r.lease.expires_at,
          lease_ttl_s: r.lease.ttl_s,
          budget: r.budget,
        },
      );
    },
  }),

  defineTool({
    name: "report_intermediate",
    meta: {
      title: "Report an intermediate value",
      description: "While evaluating a trial from ask_trial, report a value at a step (epoch); the reply says whether to continue or stop (prune).",
    },
    input: z.object({ study: studyArg, trial: trialArg, token: tokenArg, step: z.number().min(0), value: z.number() }),
    ops: ["report"],
    async run(a, { backend }) {
      const r = await backend.call("report", { study: a.study, trial: a.trial, token: a.token, step: a.step, value: a.value });
      const act = r.decision.action;
      return text(
        act === "prune" ? `Stop: the scheduler pruned trial ${a.trial}. Call tell_trial with state PRUNED.` : `Recorded step ${a.step} = ${fmt(a.value)}; decision: ${act}.`,
        { decision: r.decision as unknown as Record<string, unknown> },
      );
    },
  }),

  defineTool({
    name: "tell_trial",
    meta: {
      title: "Tell a trial's result",
      description:
        "Finish a trial you got from ask_trial: state COMPLETE with the objective value, FAIL (with a reason) when the evaluation broke, or PRUNED when told to stop.",
    },
    input: z.object({
      study: studyArg,
      trial: trialArg.describe("Trial number from ask_trial."),
      token: tokenArg,
      state: z.enum(["COMPLETE", "FAIL", "PRUNED"]).default("COMPLETE"),
      value: z.number().optional().describe("Objective value; required for COMPLETE in a one-objective study."),
      values: z.array(z.number()).optional().describe("Multi-objective study: one value per objective, in the study's directions order."),
      constraints: z.array(z.number()).optional().describe("Constraint values with a COMPLETE result: c <= 0 is satisfied (Optuna's convention)."),
      reason: z.string().max(2000).optional().describe("Why the trial failed (FAIL only)."),
    }),
    ops: ["tell", "get_study"],
    async run(a, { backend }) {
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
      description:
        "Queue a configuration you want evaluated, with your reasoning. It is handed to the next worker (or ask_trial) before the strategy's own suggestions; " +
        "parameters you omit are filled by the strategy. The rationale is stored with the trial and shown in summaries and listings.",
    },
    input: z.object({
      study: studyArg,
      params: z.record(z.string(), paramValue).describe('Parameter values, e.g. {"lr": 0.003, "layers": 2}.'),
      rationale: z.string().min(1).max(4000).describe("Why this configuration is worth trying (one or two sentences)."),
      skip_if_exists: z.boolean().default(true).describe("Return the existing trial instead when one already has these exact values."),
    }),
    ops: ["enqueue"],
    async run(a, { backend }) {
      const { trial, created } = await backend.call("enqueue", { study: a.study, params: a.params, rationale: a.rationale, skip_if_exists: a.skip_if_exists });
      return text(
        created
          ? `Queued trial ${trial.number} of '${a.study}': ${fmtParams(trial.params)}. It will be evaluated before the strategy's own suggestions.`
          : `Not queued: trial ${trial.number} already has these values (${trial.state}${trial.value !== null ? `, value ${fmt(trial.value)}` : ""}).`,
        { created, trial: compactTrial(trial) as unknown as Record<string, unknown> },
      );
    },
  }),

  defineTool({
    name: "best_trials",
    meta: { title: "Best trials", description: "The k best COMPLETE trials of a study, best first.", readOnly: true },
    input: z.object({ study: studyArg, k: z.number().int().min(1).max(50).default(1).describe("How many (1-50).") }),
    ops: ["trials"],
    async run(a, { backend }) {
      const page = await backend.call("trials", { study: a.study, states: ["COMPLETE"], order_by: "value", limit: a.k });
      if (page.trials.length === 0) return text(`No trial of '${a.study}' has completed yet. wait_for_progress waits for results.`, { trials: [] });
      return text(page.trials.map(trialLine).join("\n"), { trials: page.trials.map(compactTrial) } as unknown as Record<string, unknown>);
    },
  }),

  defineTool({
    name: "pareto_front",
    meta: {
      title: "Pareto front",
      description:
        "The trade-off frontier of a (multi-objective) study: the feasible COMPLETE trials no other trial beats on every objective, " +
        "with the exact hypervolume (how much of the objective space the front dominates, larger is better) and optionally its history.",
      readOnly: true,
    },
    input: z.object({
      study: studyArg,
      reference_point: z.array(z.number()).optional().describe("Hypervolume reference point, one number per objective (default: the study's, else derived from the front)."),
      history: z.boolean().default(false).describe("Also list the hypervolume after each trial that changed it."),
    }),
    ops: ["best_trials"],
    async run(a, { backend }) {
      const f = await backend.call("best_trials", { study: a.study, reference_point: a.reference_point, history: a.history });
      if (f.trials.length === 0) return text(`No feasible trial of '${a.study}' has completed yet (${f.n_complete} complete).`, { front: [] });
      const head =
        `Pareto front of '${a.study}' (${f.directions.join("/")}): ${f.trials.length} trials of ${f.n_feasible} feasible (${f.n_complete} complete); ` +
        `hypervolume ${fmt(f.hypervolume ?? 0)} at reference point [${(f.reference_point ?? []).map(fmt).join(", ")}] (${f.reference_point_source}).`;
      const lines = [head, ...f.trials.map(trialLine)];
      if (f.history) lines.push(`hypervolume history: ${f.history.map(([n, hv]) => `#${n}:${fmt(hv)}`).join(" ")}`);
      return text(lines.join("\n"), {
        front: f.trials.map(compactTrial),
        hypervolume: f.hypervolume,
        reference_point: f.reference_point,
        reference_point_source: f.reference_point_source,
        history: f.history,
      } as unknown as Record<string, unknown>);
    },
  }),

  defineTool({
    name: "list_trials",
    meta: {
      title: "List trials",
      description: "One page of a study's trials, optionally filtered by state and sorted by number or by value (best first). Use offset/limit to page; at most 200 per call.",
      readOnly: true,
    },
    input: z.object({
      study: studyArg,
      states: z.array(z.enum(TRIAL_STATES)).optional().describe("Only these states (WAITING, RUNNING, COMPLETE, PRUNED, FAIL)."),
      sort: z.enum(["number", "value"]).default("number").describe("number: oldest first; value: best first (trials without a value are left out)."),
      descending: z.boolean().default(false).describe("Reverse the order (newest first, or worst first)."),
      offset: z.number().int().min(0).default(0),
      limit: z.number().int().min(1).max(200).default(20),
    }),
    ops: ["trials"],
    async run(a, { backend }) {
      const page = await backend.call("trials", {
        study: a.study,
        states: a.states,
        order_by: a.sort,
        descending: a.descending,
        offset: a.offset,
        limit: a.limit,
      });
      const next = a.offset + page.trials.length < page.total ? a.offset + page.trials.length : null;
      const head = `Trials ${page.total === 0 ? 0 : a.offset + 1}-${a.offset + page.trials.length} of ${page.total}${next !== null ? ` (next page: offset ${next})` : ""}:`;
      return text([head, ...page.trials.map(trialLine)].join("\n"), {
        total: page.total,
        offset: a.offset,
        next_offset: next,
        trials: page.trials.map(compactTrial),
      } as unknown as Record<string, unknown>);
    },
  }),

  defineTool({
    name: "get_trial",
    meta: { title: "Get one trial", description: "Everything about one trial, including its intermediate values (the last 100) and attributes.", readOnly: true },
    input: z.object({ study: studyArg, trial: trialArg }),
    ops: ["trial"],
    async run(a, { backend }) {
      const { trial: t } = await backend.call("trial", { study: a.study, trial: a.trial });
      const curve = t.intermediate.slice(-100);
      const lines = [trialLine(t)];
      if (curve.length > 0) lines.push(`intermediate (step=value): ${curve.map(([s, v]) => `${fmt(s)}=${fmt(v)}`).join(", ")}`);
      if (Object.keys(t.user_attrs).length > 0) lines.push(`user_attrs: ${JSON.stringify(t.user_attrs)}`);
      return text(lines.join("\n"), { trial: { ...t, intermediate: curve } } as unknown as Record<string, unknown>);
    },
  }),

  defineTool({
    name: "get_lineage",
    meta: {
      title: "PBT lineage of a trial",
      description:
        "The hyperparameter schedule that produced a population-based-training member's model: which params applied from which training step, " +
        "following exploits back through donors, up to the trial's best report. Without `trial`, the trial with the best report. Replay it as a fixed schedule for a final run.",
      readOnly: true,
    },
    input: z.object({ study: studyArg, trial: trialArg.optional() }),
    ops: ["lineage"],
    async run(a, { backend }) {
      const { lineage: l } = await backend.call("lineage", { study: a.study, trial: a.trial });
      const lines = [
        `Trial ${l.trial} of '${l.study}' (${l.state}): best report ${fmt(l.value)} at its step ${fmt(l.step)}, model trained for ${fmt(l.until_step)} steps:`,
        ...l.schedule.map((seg) => `- from step ${fmt(seg.from_step)}: ${JSON.stringify(seg.params)} (trained by trial ${seg.trial})`),
      ];
      return text(lines.join("\n"), l as unknown as Record<string, unknown>);
    },
  }),

  defineTool({
    name: "get_trajectory",
    meta: {
      title: "Hyperparameter trajectory of a trial",
      description:
        "How a strategy that tunes during training (hypergradient) moved a trial's hyperparameters: the starting point, then the params after each applied report. Empty for other strategies.",
      readOnly: true,
    },
    input: z.object({ study: studyArg, trial: trialArg }),
    ops: ["trajectory"],
    async run(a, { backend }) {
      const tr = await backend.call("trajectory", { study: a.study, trial: a.trial });
      if (tr.trajectory.length === 0)
        return text(`Trial ${tr.trial} of '${a.study}' has no recorded trajectory (its strategy does not change params during training).`, tr as unknown as Record<string, unknown>);
      const shown = tr.trajectory.slice(-50);
      const lines = [
        `Trial ${tr.trial} (${tr.state}): ${tr.trajectory.length} points${tr.thinned ? " (thinned)" : ""}${shown.length < tr.trajectory.length ? `, the last ${shown.length} shown` : ""}:`,
        ...shown.map((p) => `- ${p.step === null ? "start" : `step ${fmt(p.step)}`}${p.value !== null ? ` (value ${fmt(p.value)})` : ""}: ${fmtParams(p.params)}`),
      ];
      return text(lines.join("\n"), { ...tr, trajectory: shown } as unknown as Record<string, unknown>);
    },
  }),
];
