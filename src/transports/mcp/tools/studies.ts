/** MCP tools about studies: list, create, describe, delete, the plug-in catalogue, user attributes. */
import { z } from "zod";
import { ERROR_CODES, invalidArgument } from "../../../domain/errors.js";
import { likelyPluginName } from "../../../domain/plugin-options.js";
import { studyRefSchema } from "../../../domain/study-name.js";
import { firstSentence } from "../../../service/summary.js";
import { plural } from "../../../domain/format.js";
import { boundedStudy, spaceText, studyLine, studyWithSpacePrefix, trialLine } from "../format.js";
import { errorMeta, studyUri } from "../uris.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { clip, fitPage, fitPrefix } from "../budget.js";
import { projectionArgs } from "./pages.js";
import { type McpTool, defineTool, text } from "./tool.js";
import { type PluginBrief, pluginBrief, pluginLine } from "../plugin-brief.js";
import type { StudyView } from "../../../service/views.js";

export const studyArg = studyRefSchema;
/** A strategy or scheduler: a name, or {name, options} (the service checks both). */
const pluginArg = z.unknown();

/** A plug-in's description in the catalogue listing: its first sentence, at most 120 characters. */
function catalogueLine(d: string): string {
  const first = firstSentence(d);
  return first.length <= 120 ? first : `${first.slice(0, 119)}…`;
}

type PluginKind = "strategy" | "scheduler";

/**
 * The study's plug-ins that the server's catalogue lacks (a study made by a server started with
 * --plugins, served by one that was not: its asks or reports are refused), as the service's
 * `PluginCatalogue.missingOf` finds them, from the catalogue op so that a --connect server's counts.
 */
function missingPlugins(
  s: { strategy: { name: string }; scheduler: { name: string } | null },
  plugins: readonly { kind: string; name: string }[],
): { kind: PluginKind; name: string }[] {
  const has = (kind: PluginKind, name: string) => plugins.some((p) => p.kind === kind && p.name === name);
  const out: { kind: PluginKind; name: string }[] = [];
  if (!has("strategy", s.strategy.name)) out.push({ kind: "strategy", name: s.strategy.name });
  if (s.scheduler !== null && !has("scheduler", s.scheduler.name)) out.push({ kind: "scheduler", name: s.scheduler.name });
  return out;
}

/** describe_study's word on a missing plug-in: it showed the name as if it ran, with nothing of what to do. */
function missingNote(missing: readonly { kind: PluginKind }[], kind: PluginKind): string {
  if (!missing.some((m) => m.kind === kind)) return "";
  return ` (MISSING: a plug-in this server was not started with, so ${kind === "strategy" ? "ask_trial and workers' asks" : "reports"} are refused: restart the server with --plugins FILE, the module that provides it, or switch the ${kind} with update_study)`;
}

export const studyTools: McpTool[] = [
  defineTool({
    name: "list_studies",
    meta: {
      title: "List studies",
      description: "Studies with counts and best value.",
      readOnly: true,
      sized: true,
    },
    input: z.object({ limit: z.number().int().min(1).max(500).default(50), cursor: projectionArgs.cursor }),
    output: z.looseObject({ shown: z.number().int(), next_cursor: z.string().nullable(), studies: z.array(z.looseObject({ name: z.string() })) }),
    ops: ["list_studies"],
    async run(a, { backend, budget }) {
      const ask = (limit: number) => backend.call("list_studies", { limit, cursor: a.cursor });
      let page = await ask(a.limit);
      if (page.studies.length === 0 && a.cursor === undefined) return text("No studies yet. Create one with create_study.", { shown: 0, next_cursor: null, studies: [] });
      // The studies after the cursor's were deleted meanwhile: an empty text read as no answer at all.
      if (page.studies.length === 0 && page.next_cursor === null)
        return text("No more studies: none follows the cursor's page (the ones after it were deleted meanwhile). Call list_studies without a cursor to list them all again.", {
          shown: 0,
          next_cursor: null,
          studies: [],
        });
      const build = (k: number, cursor: string | null): CallToolResult => {
        const shown = page.studies.slice(0, k);
        const lines = shown.map(studyLine);
        if (k < page.studies.length || cursor !== null) lines.push(`More studies follow: call list_studies with cursor "${cursor ?? "…"}".`);
        return text(lines.join("\n"), {
          shown: k,
          next_cursor: cursor,
          studies: shown.map((s) => ({
            name: s.name,
            direction: s.direction,
            strategy: s.strategy.name,
            scheduler: s.scheduler?.name ?? null,
            stopped: s.stopped,
            n_trials: s.n_trials,
            counts: s.counts,
            best_value: s.best_trial?.value ?? null,
          })),
        });
      };
      // A cursor holds the last study's whole name (up to about 1,100 characters).
      const refetch = async (k: number) => {
        page = await ask(k);
        return { n: page.studies.length, cursor: page.next_cursor };
      };
      return fitPage(page.studies.length, page.next_cursor, build, refetch, budget);
    },
  }),

  defineTool({
    name: "create_study",
    meta: {
      title: "Create (or load) a study",
      description:
        "New study. space: {name: {type: float|int, low, high, log?, step?} | {type: categorical, choices}}",
    },
    input: z.object({
      // The service validates the name, the space and the plug-ins and names what is wrong; the
      // schemas here stay loose so that tools/list stays small (issue 14 §1).
      name: z.string(),
      direction: z.enum(["minimize", "maximize"]).optional(),
      directions: z.array(z.enum(["minimize", "maximize"])).optional(),
      reference_point: z.array(z.number()).optional(),
      space: z.record(z.string(), z.looseObject({})).default({}),
      strategy: pluginArg.optional().describe("Name or {name, options}; default auto."),
      scheduler: pluginArg.optional().describe("Pruner; default none."),
      seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
      load_if_exists: z.boolean().default(false),
      user_attrs: z.record(z.string(), z.unknown()).optional(),
      lease_ttl_s: z.number().optional(),
      max_retries: z.number().int().optional(),
      max_trials: z.number().int().optional(),
      max_resource: z.number().optional(),
    }),
    output: z.looseObject({ created: z.boolean(), study: z.looseObject({ name: z.string() }) }),
    ops: ["create_study"],
    async run(a, { backend, budget }) {
      const { study, created, changed_since_created: steered } = await backend.call("create_study", {
        name: a.name,
        // Both as given: the service defaults to minimize, refuses a direction that disagrees with
        // directions, and with load_if_exists accepts the stored direction when none is given.
        direction: a.direction,
        directions: a.directions,
        reference_point: a.reference_point,
        space: a.space as Record<string, unknown>,
        strategy: a.strategy,
        scheduler: a.scheduler,
        seed: a.seed,
        load_if_exists: a.load_if_exists,
        user_attrs: a.user_attrs,
        lease_ttl_s: a.lease_ttl_s,
        retry: a.max_retries !== undefined ? { max_retries: a.max_retries } : undefined,
        max_trials: a.max_trials,
        max_resource: a.max_resource,
      });
      // The space is echoed as far as the budget allows (a 300-parameter one was 70,000 characters
      // of what the agent had just sent); describe_study lists it whole with a larger max_chars.
      const space = spaceText(study).split("\n");
      // Settings given as the study was created that update_study has changed since: it runs the stored ones.
      const changed = steered?.length ? ` Changed by update_study since it was created (it runs the stored settings listed here, not those given): ${steered.map((d) => d.field).join(", ")}.` : "";
      const build = (k: number) =>
        text(
          `${created ? "Created" : "Loaded existing"} study '${study.name}' (${study.directions.join("/")}, strategy ${study.strategy.name}${study.scheduler ? `, scheduler ${study.scheduler.name}` : ""}, ${plural(study.n_trials, "trial")}).${changed}\n` +
            `Search space${k < space.length ? ` (${k} of ${plural(space.length, "parameter")} listed; describe_study with a larger max_chars lists them all)` : ""}:\n${space.slice(0, k).join("\n")}\nResource: ${studyUri(study.name)}`,
          { created, ...(steered?.length ? { changed_since_created: steered.map((d) => d.field) } : {}), ...studyWithSpacePrefix(study, k) },
        );
      // Never an error: the study exists now (a write answers even when nothing fits).
      return fitPrefix(space.length, build, budget).result;
    },
  }),

  defineTool({
    name: "describe_study",
    meta: { title: "Describe a study", description: "Config, space, counts, best trial.", readOnly: true, sized: true },
    input: z.object({
      study: studyArg,
      // Named in the text's hint; no description, to keep tools/list within its size.
      full_options: z.boolean().default(false),
    }),
    output: z.looseObject({ study: z.looseObject({ name: z.string(), space: z.looseObject({}) }) }),
    ops: ["get_study", "catalogue"],
    async run(a, { backend, budget }) {
      const [{ study: s }, { plugins }] = await Promise.all([backend.call("get_study", { study: a.study }), backend.call("catalogue", {})]);
      const missing = missingPlugins(s, plugins);
      const space = spaceText(s).split("\n");
      const strategy = pluginBrief(s.strategy, "strategy", plugins, s.options_given?.strategy);
      const scheduler = s.scheduler && pluginBrief(s.scheduler, "scheduler", plugins, s.options_given?.scheduler);
      const plug = (p: StudyView["strategy"], b: PluginBrief) => (a.full_options ? `${p.name} ${JSON.stringify(p.options)}` : pluginLine(p, b));
      // The structured content holds the same: the options set, and how many were left out.
      const brief = (p: StudyView["strategy"], b: PluginBrief) => {
        const derived = Object.keys(b.derived).length > 0 ? { derived: b.derived } : {};
        return a.full_options || (b.atDefault === 0 && !("derived" in derived)) ? p : { name: p.name, options: b.set, ...derived, options_at_default: b.atDefault };
      };
      // A wide space (hundreds of parameters) is listed as far as the budget allows, in the text
      // and the structured content alike (define-by-run parameters after the declared ones).
      const build = (k: number) => {
        const lines = [
          studyLine(s),
          `strategy: ${plug(s.strategy, strategy)}${missingNote(missing, "strategy")}`,
          `scheduler: ${s.scheduler && scheduler ? `${plug(s.scheduler, scheduler)}${missingNote(missing, "scheduler")}` : "none"}`,
          `seed: ${s.seed}; lease ttl ${s.lease_ttl_s}s; retries ${s.retry.max_retries}${s.max_trials !== null ? `; max_trials ${s.max_trials} (study_summary says how many are used)` : ""}${s.max_resource !== null ? `; max_resource ${s.max_resource}` : ""}`,
          `search space${k < space.length ? ` (${k} of ${plural(space.length, "parameter")} listed to fit this call's budget; call again with a larger max_chars for them all)` : ""}:`,
          ...space.slice(0, k),
        ];
        if (s.best_trial) lines.push(`best: ${trialLine(s.best_trial)}`);
        if (s.notes) lines.push(`notes: ${clip(s.notes, 500, `structuredContent.study.notes`)}`);
        if (Object.keys(s.user_attrs).length > 0) lines.push(`user_attrs: ${JSON.stringify(boundedStudy(s).user_attrs)}`);
        const shaped = studyWithSpacePrefix(s, k);
        shaped.study = { ...shaped.study, strategy: brief(s.strategy, strategy), scheduler: s.scheduler && scheduler ? brief(s.scheduler, scheduler) : null };
        return text(lines.join("\n"), { ...shaped, ...(missing.length > 0 ? { missing_plugins: missing } : {}) });
      };
      return fitPrefix(space.length, build, budget).result;
    },
  }),

  defineTool({
    name: "delete_study",
    meta: {
      title: "Delete a study",
      description: "Delete with its trials (confirm: true); prefer stop_study.",
      destructive: true,
    },
    input: z.object({
      study: studyArg,
      confirm: z.boolean().default(false),
    }),
    output: z.looseObject({ deleted: z.boolean(), study: z.string(), n_trials: z.number().int() }),
    ops: ["get_study", "delete_study"],
    async run(a, { backend }) {
      const { study: s } = await backend.call("get_study", { study: a.study });
      if (!a.confirm)
        return {
          isError: true,
          content: [
            {
              type: "text",
              text: `Not deleted: deleting '${s.name}' permanently removes its ${plural(s.n_trials, "trial")} (${s.counts.RUNNING} running). If that is intended, call delete_study again with confirm: true.`,
            },
          ],
          structuredContent: { deleted: false, study: s.name, n_trials: s.n_trials },
          // As every refusal (format.ts errorResult): the code for programs.
          _meta: errorMeta("INVALID_ARGUMENT", ERROR_CODES.INVALID_ARGUMENT, { confirm: false }),
        };
      await backend.call("delete_study", { study: a.study });
      return text(`Deleted study '${a.study}' and its ${plural(s.n_trials, "trial")}.`, { deleted: true, study: a.study, n_trials: s.n_trials });
    },
  }),

  defineTool({
    name: "list_strategies",
    meta: {
      title: "Strategy and scheduler catalogue",
      description: "Strategies and pruners; with name, one's option schema.",
      readOnly: true,
      sized: true,
    },
    input: z.object({ name: z.string().optional() }),
    output: z.looseObject({ plugins: z.array(z.looseObject({ kind: z.string(), name: z.string() })) }),
    ops: ["catalogue"],
    async run(a, { backend, budget }) {
      const { plugins } = await backend.call("catalogue", {});
      const props = (p: (typeof plugins)[number]) => ((p.options as { properties?: Record<string, unknown> }).properties ?? {}) as Record<string, unknown>;
      if (a.name !== undefined) {
        const one = plugins.filter((p) => p.name === a.name);
        if (one.length === 0) {
          const likely = likelyPluginName(a.name, plugins.map((p) => p.name));
          throw invalidArgument(`no strategy or scheduler named '${a.name}'${likely ? ` (did you mean '${likely}'?)` : ""}; known: ${plugins.map((p) => p.name).join(", ")}`);
        }
        // Without JavaScript's ±9007199254740991 integer bounds, which say nothing (as in tools/list).
        const clean = one.map((p) => JSON.parse(JSON.stringify(p, (k, v) => ((k === "maximum" || k === "minimum") && Math.abs(v) === Number.MAX_SAFE_INTEGER ? undefined : v))) as typeof p);
        return text(clean.map((p) => `${p.kind} ${p.name}: ${p.description}\noptions (JSON Schema): ${JSON.stringify(props(p))}`).join("\n"), { plugins: clean });
      }
      // The catalogue: each plug-in's first sentence, so that every strategy and scheduler fits the
      // default budget (whole descriptions and option lists cut it off before the schedulers);
      // list_strategies with a name has the whole description and the option schema.
      const rows = plugins.map((p) => ({ kind: p.kind, name: p.name, summary: catalogueLine(p.description), n_options: Object.keys(props(p)).length }));
      const build = (k: number) => {
        const shown = rows.slice(0, k);
        const lines = shown.map((p) => `- ${p.kind} ${p.name}: ${p.summary}${p.n_options === 0 ? " No options." : ""}`);
        lines.push(`${k < rows.length ? `${rows.length - k} more: call with a larger max_chars. ` : ""}Call list_strategies with a name for its whole description and option schema.`);
        return text(lines.join("\n"), { plugins: shown });
      };
      return fitPrefix(rows.length, build, budget).result;
    },
  }),

  defineTool({
    name: "set_user_attrs",
    meta: {
      title: "Annotate a study or trial",
      description: "Merge attrs into a study or trial; notes replaces notes.",
    },
    input: z.object({
      study: studyArg,
      trial: z.number().int().min(0).optional(),
      attrs: z.record(z.string(), z.unknown()).optional(),
      notes: z.string().optional(),
    }),
    output: z.looseObject({ set: z.array(z.string()), keys: z.array(z.string()) }),
    ops: ["set_user_attrs"],
    async run(a, { backend }) {
      const r = await backend.call("set_user_attrs", { study: a.study, trial: a.trial, attrs: a.attrs, notes: a.notes });
      const where = a.trial === undefined ? `study '${a.study}'` : `trial ${a.trial} of '${a.study}'`;
      const merged = "trial" in r ? r.trial.user_attrs : r.study.user_attrs;
      // Attributes may hold up to 64 KB: name them rather than echo them (get_trial/describe_study show them).
      const set = [...Object.keys(a.attrs ?? {}), ...(a.notes !== undefined ? ["notes"] : [])];
      const keys = Object.keys(merged);
      return text(`Set ${set.map((k) => JSON.stringify(k)).join(", ")} on ${where}; it has ${plural(keys.length, "user attribute")}.`, { set, keys });
    },
  }),
];
