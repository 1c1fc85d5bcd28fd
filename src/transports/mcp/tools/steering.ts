/**
 * MCP tools that steer a study while workers run it (issue 14 §2): stop and resume handing out
 * trials, cancel a queued proposal, record a result obtained elsewhere. Each is one op of the table.
 */
import { z } from "zod";
import { fmt, fmtParams } from "../../../service/summary.js";
import { compactTrial } from "../format.js";
import { studyArg } from "./studies.js";
import { type McpTool, defineTool, text } from "./tool.js";

const studyOut = z.looseObject({ study: z.string(), stopped: z.boolean(), counts: z.looseObject({}) });
const trialOut = z.looseObject({ trial: z.looseObject({ number: z.number().int() }) });

export const steeringTools: McpTool[] = [
  defineTool({
    name: "stop_study",
    meta: { title: "Stop a study", description: "Stop handing out trials; workers end cleanly, results kept." },
    input: z.object({ study: studyArg }),
    output: studyOut,
    ops: ["stop_study"],
    async run(a, { backend }) {
      const { study: s } = await backend.call("stop_study", { study: a.study });
      return text(
        `Study '${s.name}' is stopped: asks get STUDY_STOPPED, so workers end their loops; ${s.counts.RUNNING} running trial(s) may still finish. resume_study hands out trials again.`,
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
      return text(`Study '${s.name}' hands out trials again; workers whose loops ended must be started again.`, {
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
      state: z.enum(["COMPLETE", "FAIL", "PRUNED"]).default("COMPLETE"),
      rationale: z.string().max(4000).optional(),
    }),
    output: trialOut,
    ops: ["add_trial"],
    async run(a, { backend }) {
      const { trial } = await backend.call("add_trial", { study: a.study, params: a.params, value: a.value, state: a.state, rationale: a.rationale });
      return text(`Recorded trial ${trial.number} of '${a.study}': ${trial.state}${trial.value !== null ? ` ${fmt(trial.value)}` : ""} at ${fmtParams(trial.params)}.`, {
        trial: compactTrial(trial),
      });
    },
  }),
];
