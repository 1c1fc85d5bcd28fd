/**
 * MCP tools that steer a study while workers run it (issue 14 §2): stop and resume handing out
 * trials, cancel a queued proposal, record a result obtained elsewhere, change the study's
 * plug-ins, space, budget or notes, and export it. Each is one op of the table.
 */
import { z } from "zod";
import { finishedStateSchema } from "../../../service/ops/schemas.js";
import { fmt, fmtParams } from "../../../service/summary.js";
import { plural } from "../../../domain/format.js";
import { exportCursor, exportCursorLine } from "../../../service/paging.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { fitPage } from "../budget.js";
import { errorMeta } from "../uris.js";
import type { McpBackend } from "../backend.js";
import { boundedStudy, compactTrial, spaceText } from "../format.js";
import { studyArg } from "./studies.js";
import { type McpTool, defineTool, text } from "./tool.js";

const studyOut = z.looseObject({ study: z.string(), stopped: z.boolean(), counts: z.looseObject({}) });
const trialOut = z.looseObject({ trial: z.looseObject({ number: z.number().int() }) });

export const steeringTools: McpTool[] = [
  defineTool({
    name: "stop_study",
    meta: { title: "Stop a study", description: "No new trials; workers end cleanly, results kept." },
    input: z.object({ study: studyArg }),
    output: studyOut,
    ops: ["stop_study"],
    async run(a, { backend }) {
      const { study: s } = await backend.call("stop_study", { study: a.study });
      return text(
        `Study '${s.name}' is stopped: asks get STUDY_STOPPED, so workers end their loops; ${plural(s.counts.RUNNING, "running trial")} may still finish. resume_study hands out trials again.`,
        { study: s.name, stopped: s.stopped, counts: s.counts },
      );
    },
  }),

  defineTool({
    name: "resume_study",
    meta: { title: "Resume a study", description: "Hand out trials again after stop_study." },
    input: z.object({ study: studyArg }),
    output: studyOut,
    ops: ["resume_study"],
    async run(a, { backend }) {
      const { study: s } = await backend.call("resume_study", { study: a.study });
      const budget = s.max_trials !== null ? ` Its budget of max_trials ${s.max_trials} still applies: once it is spent asks are refused until update_study raises it (study_summary says how much is used).` : "";
      return text(`Study '${s.name}' hands out trials again; workers whose loops ended must be started again.${budget}`, {
        study: s.name,
        stopped: s.stopped,
        counts: s.counts,
      });
    },
  }),

  defineTool({
    name: "cancel_trial",
    meta: { title: "Cancel a queued trial", description: "Withdraw a queued (WAITING) proposal." },
    input: z.object({ study: studyArg, trial: z.number().int().min(0), reason: z.string().max(2000).optional() }),
    output: trialOut,
    ops: ["cancel_trial"],
    async run(a, { backend }) {
      const { trial } = await backend.call("cancel_trial", { study: a.study, trial: a.trial, reason: a.reason });
      return text(`Cancelled trial ${trial.number} of '${a.study}' (${fmtParams(trial.params)}); no worker will get it.`, { trial: compactTrial(trial) });
    },
  }),

  defineTool({
    name: "add_trial",
    meta: { title: "Record a known result", description: "Record a result obtained elsewhere." },
    input: z.object({
      study: studyArg,
      params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
      value: z.number().optional(),
      values: z.array(z.number()).optional(),
      constraints: z.array(z.number()).optional(),
      state: finishedStateSchema.default("COMPLETE"),
      rationale: z.string().max(4000).optional(),
      // A parameter the study neither declares nor has seen needs its distribution, as a space entry.
      distributions: z.record(z.string(), z.looseObject({})).optional().describe("{name: space entry} for params outside the study's space"),
    }),
    output: trialOut,
    ops: ["add_trial"],
    async run(a, { backend }) {
      const { trial } = await backend.call("add_trial", {
        study: a.study,
        params: a.params,
        value: a.value,
        values: a.values,
        constraints: a.constraints,
        state: a.state,
        rationale: a.rationale,
        distributions: a.distributions as Record<string, unknown> | undefined,
      });
      const result = (trial.value !== null ? ` ${fmt(trial.value)}` : trial.values ? ` [${trial.values.map(fmt).join(", ")}]` : "") +
        // As tell_trial says: an agent that recorded c > 0 learns the trial cannot be on the front or best.
        (trial.constraints ? ` constraints=[${trial.constraints.map(fmt).join(", ")}] (${trial.feasible ? "feasible" : "infeasible"})` : "");
      return text(`Recorded trial ${trial.number} of '${a.study}': ${trial.state}${result} at ${fmtParams(trial.params)}.`, { trial: compactTrial(trial) });
    },
  }),

  defineTool({
    name: "update_study",
    meta: {
      title: "Change a running study",
      description:
        "Same-name scheduler merges options; strategy keeps history; space only widens.",
    },
    input: z.object({
      study: studyArg,
      scheduler: z.unknown().optional(),
      strategy: z.unknown().optional(),
      space: z.record(z.string(), z.looseObject({})).optional(),
      max_trials: z.number().int().nullable().optional(),
      notes: z.string().optional(),
    }),
    output: z.looseObject({ changed: z.array(z.string()), study: z.looseObject({ name: z.string() }) }),
    ops: ["update_study", "study_summary"],
    async run(a, { backend }) {
      const { study: s, changed } = await backend.call("update_study", {
        study: a.study,
        ...(a.scheduler !== undefined ? { scheduler: a.scheduler as string } : {}),
        ...(a.strategy !== undefined ? { strategy: a.strategy as string } : {}),
        space: a.space as Record<string, unknown> | undefined,
        max_trials: a.max_trials,
        notes: a.notes,
      });
      const plug = (p: { name: string; options: Record<string, unknown> } | null) => (p ? `${p.name} ${JSON.stringify(p.options)}` : "none");
      // Notes and max_trials take effect as they are; the plug-ins and the space shape the trials asked next.
      const shaping = changed.some((c) => c === "strategy" || c === "scheduler" || c === "space");
      const lines = [changed.length === 0 ? `Nothing changed in '${s.name}'.` : `Updated ${changed.join(", ")} of '${s.name}'${shaping ? "; trials asked from now on use it" : ""}.`];
      if (changed.includes("strategy")) lines.push(`strategy: ${plug(s.strategy)} (learns from ${s.n_trials === 1 ? "the study's 1 trial" : `all ${s.n_trials} trials`})`);
      if (changed.includes("scheduler")) lines.push(`scheduler: ${plug(s.scheduler)}`);
      if (changed.includes("space")) lines.push(`search space:\n${spaceText({ ...s, define_by_run: {} })}`);
      if (changed.includes("max_trials")) lines.push(`max_trials: ${s.max_trials ?? "none"}${await budgetNote(backend, s.name, s.max_trials)}`);
      return text(lines.join("\n"), {
        changed,
        // The space only when it changed: a wide study's space is larger than the budget of a
        // result, and describe_study shows it whole.
        study: { name: s.name, strategy: s.strategy, scheduler: s.scheduler, ...(changed.includes("space") ? { space: s.space } : {}), max_trials: s.max_trials, notes: boundedStudy(s).notes },
      });
    },
  }),

  defineTool({
    name: "export_study",
    meta: {
      title: "Export a study",
      description: "JSON Lines for `tuneport import`.",
      readOnly: true,
      sized: true,
    },
    input: z.object({ study: studyArg, cursor: z.string().optional() }),
    output: z.looseObject({ n_lines: z.number().int(), next_cursor: z.string().nullable() }),
    ops: ["export_study"],
    async run(a, { backend, budget }) {
      // The lines are the text (once: structuredContent says where the page is); room for the tail
      // line and the cursor, twice (tail and structuredContent). A cursor quotes up to 40 characters
      // of the study's name, so it is measured for this name, with the longest creation time and line:
      // without that room a long name's page did not fit, and the shorter page asked for then was
      // under the op's least max_chars (1,000) and refused.
      const room = 2 * exportCursor({ name: a.study, createdAt: -Number.MAX_VALUE }, Number.MAX_SAFE_INTEGER).length;
      const ask = (max: number) => backend.call("export_study", { study: a.study, cursor: a.cursor, max_chars: max });
      let page = await ask(Math.max(1000, budget - 600 - room));
      const from = exportCursorLine(a.cursor);
      const build = (k: number, cursor: string | null) => {
        const more = k < page.lines.length || cursor !== null;
        const tail = more ? `(lines ${from + 1}-${from + k} of ${page.total_lines}; call export_study with cursor "${cursor ?? "…"}" for more)` : `(end of export: ${plural(page.total_lines, "line")})`;
        return text([...page.lines.slice(0, k), tail].join("\n"), { format: page.format, from_line: from, n_lines: k, total_lines: page.total_lines, next_cursor: more ? cursor : null });
      };
      // Fewer lines than the op gave fit: asked again for just those, so that the cursor (made by the
      // op: it names the study's identity too) continues right after the last one shown.
      const refetch = async (k: number) => {
        page = await ask(Math.max(1, page.lines.slice(0, k).reduce((n, l) => n + l.length, 0)));
        return { n: page.lines.length, cursor: page.next_cursor };
      };
      // A line longer than the budget is RESULT_TOO_LARGE, as the other sized tools answer: a page of
      // no lines with next_cursor null (no cursor given) read as an empty export to a client paging on it.
      const tooLong = (chars: number): CallToolResult => ({
        isError: true,
        content: [
          {
            type: "text",
            text:
              `Error RESULT_TOO_LARGE: line ${from + 1} of the export has ${page.lines[0]?.length ?? 0} characters, over this call's budget of ${budget}.\n` +
              `Next step: call export_study ${a.cursor === undefined ? "without a cursor" : `with cursor "${a.cursor}"`} and a larger max_chars.`,
          },
        ],
        _meta: errorMeta("RESULT_TOO_LARGE", "fix-input", { chars, max_chars: budget, from_line: from }),
      });
      return fitPage(page.lines.length, page.next_cursor, build, refetch, budget, tooLong);
    },
  }),
];

/**
 * What a new max_trials means for the workers: a budget already spent ends their loops at their next
 * ask; a loop that ended on a spent budget does not come back when it is raised.
 */
async function budgetNote(backend: McpBackend, study: string, max: number | null): Promise<string> {
  const used = max === null ? null : (await backend.call("study_summary", { study })).budget?.used;
  if (max !== null && used !== undefined && used !== null && used >= max)
    return ` (already spent: ${plural(used, "trial")} asked). No trial is handed out; workers' loops end at their next ask. Raise it (or null: none) to go on.`;
  return `${used === undefined || used === null ? "" : ` (${used} used)`}. Workers whose loops ended on a spent budget must be started again.`;
}
