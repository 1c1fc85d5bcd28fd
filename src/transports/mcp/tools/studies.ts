/** MCP tools about studies: list, create, describe, delete, the plug-in catalogue, user attributes. */
import { z } from "zod";
import { distributionSchema } from "../../../domain/distributions.js";
import { studyNameSchema, studyRefSchema } from "../../../domain/study-name.js";
import { pluginRefSchema } from "../../../service/plugins.js";
import { spaceText, studyLine, trialLine } from "../format.js";
import { studyUri } from "../uris.js";
import { type McpTool, defineTool, text } from "./tool.js";

export const studyArg = studyRefSchema.describe("Study name (case-sensitive).");

export const studyTools: McpTool[] = [
  defineTool({
    name: "list_studies",
    meta: { title: "List studies", description: "List every study with its direction, strategy, trial counts and best value so far.", readOnly: true },
    input: z.object({}),
    ops: ["list_studies"],
    async run(_a, { backend }) {
      const { studies } = await backend.call("list_studies", {});
      const lines = studies.length === 0 ? ["No studies yet. Create one with create_study."] : studies.map(studyLine);
      return text(lines.join("\n"), {
        studies: studies.map((s) => ({
          name: s.name,
          uri: studyUri(s.name),
          direction: s.direction,
          strategy: s.strategy.name,
          scheduler: s.scheduler?.name ?? null,
          n_trials: s.n_trials,
          counts: s.counts,
          best_value: s.best_trial?.value ?? null,
        })),
      });
    },
  }),

  defineTool({
    name: "create_study",
    meta: {
      title: "Create (or load) a study",
      description:
        "Create an optimization study: a named objective to minimize or maximize over a search space. " +
        "Each parameter is {type:'float'|'int', low, high, log?, step?} or {type:'categorical', choices:[...]}. " +
        "Workers and agents then ask for trials and tell results. With load_if_exists: true an existing study of that name is returned instead (loading it).",
    },
    input: z.object({
      name: studyNameSchema.describe(`Unique study name. ${studyNameSchema.description ?? ""}`),
      direction: z.enum(["minimize", "maximize"]).optional().describe("Whether lower or higher objective values are better (default minimize)."),
      directions: z
        .array(z.enum(["minimize", "maximize"]))
        .min(1)
        .max(16)
        .optional()
        .describe("Several objectives (e.g. [\"maximize\", \"minimize\"] for accuracy vs size): a multi-objective study; tell_trial then takes values, and pareto_front reads the result. Give direction or directions."),
      reference_point: z.array(z.number()).optional().describe("Multi-objective: the hypervolume reference point, one number per objective (default: derived from the front)."),
      space: z
        .record(z.string().min(1).max(256), distributionSchema)
        .default({})
        .describe('Parameter name → distribution, e.g. {"lr": {"type":"float","low":1e-5,"high":0.1,"log":true}, "layers": {"type":"int","low":1,"high":4}}.'),
      strategy: pluginRefSchema.optional().describe("Strategy name or {name, options}; see list_strategies. Default: auto (GP for the first 200 completed trials, then TPE)."),
      scheduler: pluginRefSchema.optional().describe("Scheduler (pruner) name or {name, options}; see list_strategies. Default: none."),
      seed: z.number().int().min(0).max(2 ** 32 - 1).optional().describe("Root random seed, for reproducible suggestions."),
      load_if_exists: z.boolean().default(false).describe("Return the existing study of this name instead of failing."),
      user_attrs: z.record(z.string(), z.unknown()).optional().describe("Free-form notes stored with the study."),
      max_resource: z
        .number()
        .positive()
        .max(1e15)
        .optional()
        .describe("The study's budget: how far one trial trains at most (epochs, steps). asha, hyperband and bohb use it as their max_resource."),
    }),
    ops: ["create_study"],
    async run(a, { backend }) {
      const { study, created } = await backend.call("create_study", {
        name: a.name,
        ...(a.directions ? { directions: a.directions } : { direction: a.direction ?? "minimize" }),
        reference_point: a.reference_point,
        space: a.space as Record<string, unknown>,
        strategy: a.strategy,
        scheduler: a.scheduler,
        seed: a.seed,
        load_if_exists: a.load_if_exists,
        user_attrs: a.user_attrs,
        max_resource: a.max_resource,
      });
      return text(
        `${created ? "Created" : "Loaded existing"} study '${study.name}' (${study.directions.join("/")}, strategy ${study.strategy.name}${study.scheduler ? `, scheduler ${study.scheduler.name}` : ""}, ${study.n_trials} trials).\nSearch space:\n${spaceText(study)}\nResource: ${studyUri(study.name)}`,
        { created, study: study as unknown as Record<string, unknown> },
      );
    },
  }),

  defineTool({
    name: "describe_study",
    meta: { title: "Describe a study", description: "Show one study's configuration (search space, strategy, scheduler, seed), trial counts and best trial.", readOnly: true },
    input: z.object({ study: studyArg }),
    ops: ["get_study"],
    async run(a, { backend }) {
      const { study: s } = await backend.call("get_study", { study: a.study });
      const lines = [
        studyLine(s),
        `strategy: ${s.strategy.name} ${JSON.stringify(s.strategy.options)}`,
        `scheduler: ${s.scheduler ? `${s.scheduler.name} ${JSON.stringify(s.scheduler.options)}` : "none"}`,
        `seed: ${s.seed}; lease ttl ${s.lease_ttl_s}s; retries ${s.retry.max_retries}`,
        "search space:",
        spaceText(s),
      ];
      if (s.best_trial) lines.push(`best: ${trialLine(s.best_trial)}`);
      if (Object.keys(s.user_attrs).length > 0) lines.push(`user_attrs: ${JSON.stringify(s.user_attrs)}`);
      return text(lines.join("\n"), { study: s as unknown as Record<string, unknown> });
    },
  }),

  defineTool({
    name: "delete_study",
    meta: {
      title: "Delete a study",
      description: "Permanently delete a study and all its trials. Irreversible: requires confirm: true. Workers still running its trials will get errors.",
      destructive: true,
    },
    input: z.object({
      study: studyArg,
      confirm: z.boolean().default(false).describe("Must be true: confirms the permanent deletion of the study and every trial."),
    }),
    ops: ["get_study", "delete_study"],
    async run(a, { backend }) {
      const { study: s } = await backend.call("get_study", { study: a.study });
      if (!a.confirm)
        return {
          isError: true,
          content: [
            {
              type: "text",
              text: `Not deleted: deleting '${s.name}' permanently removes its ${s.n_trials} trials (${s.counts.RUNNING} running). If that is intended, call delete_study again with confirm: true.`,
            },
          ],
          structuredContent: { deleted: false, study: s.name, n_trials: s.n_trials },
        };
      await backend.call("delete_study", { study: a.study });
      return text(`Deleted study '${a.study}' and its ${s.n_trials} trials.`, { deleted: true, study: a.study, n_trials: s.n_trials });
    },
  }),

  defineTool({
    name: "list_strategies",
    meta: {
      title: "Strategy and scheduler catalogue",
      description: "List the search strategies (what to try next) and schedulers (whether a running trial goes on), with a description and the JSON Schema of their options.",
      readOnly: true,
    },
    input: z.object({}),
    ops: ["catalogue"],
    async run(_a, { backend }) {
      const { plugins } = await backend.call("catalogue", {});
      const block = (kind: "strategy" | "scheduler") => {
        const list = plugins.filter((p) => p.kind === kind);
        if (list.length === 0) return [`${kind === "strategy" ? "Strategies" : "Schedulers"}: none available.`];
        return [
          `${kind === "strategy" ? "Strategies" : "Schedulers"}:`,
          ...list.map((p) => `- ${p.name}: ${p.description}\n  options: ${JSON.stringify((p.options as { properties?: unknown }).properties ?? {})}`),
        ];
      };
      return text([...block("strategy"), ...block("scheduler")].join("\n"), { plugins } as unknown as Record<string, unknown>);
    },
  }),

  defineTool({
    name: "set_user_attrs",
    meta: {
      title: "Annotate a study or trial",
      description: "Merge free-form attributes (notes, tags, links) into a study, or into one trial when `trial` is given. Existing keys are overwritten.",
    },
    input: z.object({
      study: studyArg,
      trial: z.number().int().min(0).optional().describe("Trial number; omit to annotate the study."),
      attrs: z.record(z.string(), z.unknown()).describe('Attributes to merge, e.g. {"note": "lr above 0.05 diverges"}.'),
    }),
    ops: ["set_user_attrs"],
    async run(a, { backend }) {
      const r = await backend.call("set_user_attrs", { study: a.study, trial: a.trial, attrs: a.attrs });
      const where = a.trial === undefined ? `study '${a.study}'` : `trial ${a.trial} of '${a.study}'`;
      const merged = "trial" in r ? r.trial.user_attrs : r.study.user_attrs;
      return text(`Updated the attributes of ${where}: ${JSON.stringify(merged)}`, { user_attrs: merged });
    },
  }),
];
