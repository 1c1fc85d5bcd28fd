/**
 * A study as JSON Lines, for backups and moving studies between databases
 * (`tuneport export` / `tuneport import`).
 *
 * Line 1 is the study header `{"format": "tuneport-study", "version": 1, "name", "config",
 * "as_created"?, "user_attrs", "created_at_ms", "trials"}` (`as_created`: the settings update_study
 * changed, as the study was created, which its workers' scripts still name), where `trials` counts
 * the trial lines that follow, so that a file cut short at a line's end is refused instead of imported in part (files written
 * before it existed have none, and are read as they were); every further line is one trial in number order with
 * every stored field: params, distributions, value (or `values`, one per objective, in a
 * multi-objective study), `constraints` when told, intermediate values, user and system
 * attributes, timestamps (epoch milliseconds, exactly as stored) and the lease token of a
 * RUNNING trial (its worker can carry on after an import, as after a restart; an `export_study` page,
 * which agents read, writes `{"withheld": true}` instead, and its import gives the trial a token
 * nobody holds, so that the lease runs out and the trial is retried as its study says). Non-finite numbers, which JSON cannot hold, are written as the strings "NaN",
 * "Infinity" and "-Infinity" in intermediate values (a trial's result is finite, as tell keeps it:
 * an import refuses another).
 *
 * A one-objective study's lines are those of version 1 before studies had several objectives:
 * `directions`, `reference_point`, `values` and `constraints` appear only when they say more.
 *
 * The format round-trips exactly: export → import → export yields the same bytes (the
 * header's name aside when the import renames the study). Storage-internal ids are not
 * part of it.
 */
import { z } from "zod";
import { type Distribution, MAX_TRIAL_DISTRIBUTION_CHARS, type SearchSpace, checkSpaceSize, contains, distributionChars, roundedPastBound, type ParamValue, distributionSchema, formatZodError, paramNameSchema, parseSearchSpace, validateDistribution } from "../domain/distributions.js";
import { invalidArgument } from "../domain/errors.js";
import { MAX_CONSTRAINTS, MAX_OBJECTIVES } from "../domain/objectives.js";
import { MAX_USER_ATTRS_BYTES, attrsJsonLength } from "./trial-ops.js";
import { MAX_NESTING, duplicateKeyMessage, findForbiddenKey, findIllFormedString, forbiddenKeyMessage, jsonTextDuplicateKey, CONTAINER_ALLOWANCE, JSON_CHARS_PER_CONTAINER, jsonTextShapeProblem, maxJsonContainers } from "../domain/input-limits.js";
import { studyNameProblem } from "../domain/study-name.js";
import { type AsCreated, type OptionsGiven, type PluginConfig, type Study, type StudyConfig, TRIAL_STATES } from "../domain/trial.js";
import type { StoredTrial } from "../storage/storage.js";
import { MAX_DEFINE_BY_RUN_CHARS, type TrialRecord } from "./study-state.js";
import { BUILTIN_PLUGINS, type PluginCatalogue } from "./plugins.js";
import { configView } from "./views.js";
import { leaseToken } from "./leases.js";
import { exportCursor, exportCursorPosition } from "./paging.js";
import { optionsGivenSchema } from "./ops/schemas.js";

/**
 * Maps and arrays one import line may hold beyond its own length's `maxJsonContainers`: as many as
 * the line's user attributes can (MAX_USER_ATTRS_BYTES of JSON, two characters a container at the
 * fewest, `[[…]]`). A line gathers what many requests stored, each checked against its own
 * message's bound (256 plus one per 8 characters on a JSON door; per 4 bytes on ZeroMQ, where a
 * double takes 9 bytes and 3 to 5 characters), so attributes set by a thousand small requests, or
 * `[[0.25],…]` set over ZeroMQ, exported to a line over its own bound, which import then refused
 * (test/import-containers.test.ts). The extra costs at most some 3 MB once parsed.
 */
export const IMPORT_ATTRS_CONTAINERS = MAX_USER_ATTRS_BYTES / 2;

/** The most maps and arrays an import line of `chars` characters may hold (`IMPORT_ATTRS_CONTAINERS`). */
export function maxImportLineContainers(chars: number): number {
  return maxJsonContainers(chars) + IMPORT_ATTRS_CONTAINERS;
}

export const EXPORT_FORMAT = "tuneport-study";
export const EXPORT_VERSION = 1;

/** A study and its trials read back from JSON Lines; trial ids and study ids are left to storage. */
export interface ImportedStudy {
  readonly name: string;
  readonly config: StudyConfig;
  readonly userAttrs: Record<string, unknown>;
  readonly createdAt: number;
  readonly stopped: boolean;
  /** In number order, dense from 0; `id`, `studyId` and lease expiries are placeholders (0). */
  readonly trials: StoredTrial[];
}

/** An import's trials as the new study's: fresh ids, their own copies, RUNNING trials' leases expiring at `graceUntil`. */
export function importedTrials(imp: ImportedStudy, studyId: number, graceUntil: number, nextTrialId: () => number): TrialRecord[] {
  return imp.trials.map((t) => ({
    ...t,
    id: nextTrialId(),
    studyId,
    params: { ...t.params },
    intermediate: [...t.intermediate],
    lease: t.lease ? { token: t.lease.token, expiresAt: graceUntil } : null,
  }));
}

function numOut(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

const jsonNumber = z.union([z.number(), z.enum(["NaN", "Infinity", "-Infinity"]).transform((s) => Number(s))]);
/**
 * A time the server itself could have written: now, or `add_trial`'s `started_at`/`finished_at`
 * (epoch seconds in [0, 1e11]). Any integer used to pass: 9e15 is past what a JavaScript Date
 * holds (8.64e15), so `export --format optuna-journal` of the study failed (RangeError), and past
 * 2.5e14 Python's datetime could not hold the trial's time.
 */
const epochMs = z.number().int().min(0).max(1e14);
const attrs = z.record(z.string(), z.unknown());
/**
 * User attributes as the ops take them: at most MAX_USER_ATTRS_BYTES of JSON. An import used to
 * accept a 200 MB one, which every later read of the study then carried (29 s on the event loop).
 */
const userAttrs = attrs.refine((a) => (attrsJsonLength(a) ?? Infinity) <= MAX_USER_ATTRS_BYTES, `user attributes are limited to ${MAX_USER_ATTRS_BYTES} bytes of JSON`);
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const pluginSchema = z.object({ name: z.string(), options: attrs }).strict();

/**
 * The settings update_study changed, as the study was created (`StudyConfig.asCreated`): present
 * only when it changed some. Without them an imported study refused its workers' own
 * `create_study(..., load_if_exists=True)` and `suggest_*` with the settings their script names.
 */
const asCreatedSchema = z
  .object({
    space: z.record(z.string(), z.unknown()).optional(),
    strategy: pluginSchema.optional(),
    scheduler: pluginSchema.nullable().optional(),
    max_trials: z.number().int().min(1).nullable().optional(),
  })
  .strict();

function asCreatedView(a: AsCreated): z.input<typeof asCreatedSchema> {
  return {
    ...(a.space !== undefined ? { space: a.space } : {}),
    ...(a.strategy !== undefined ? { strategy: a.strategy } : {}),
    ...(a.scheduler !== undefined ? { scheduler: a.scheduler } : {}),
    ...(a.maxTrials !== undefined ? { max_trials: a.maxTrials } : {}),
  };
}

const headerSchema = z
  .object({
    format: z.literal(EXPORT_FORMAT),
    version: z.literal(EXPORT_VERSION),
    name: z.string().min(1).max(200),
    config: z
      .object({
        direction: z.enum(["minimize", "maximize"]),
        directions: z.array(z.enum(["minimize", "maximize"])).min(2).max(MAX_OBJECTIVES).optional(),
        reference_point: z.array(z.number()).min(1).max(MAX_OBJECTIVES).optional(),
        space: z.record(z.string(), z.unknown()),
        strategy: pluginSchema,
        scheduler: pluginSchema.nullable(),
        seed: z.number().int().min(0).max(2 ** 32 - 1),
        retry: z
          .object({ max_retries: z.number().int().min(0).max(100), retry_on_fail: z.boolean(), keep_intermediate: z.boolean() })
          .strict(),
        lease_ttl_s: z.number().min(1).max(7 * 24 * 3600),
        max_trials: z.number().int().min(1).optional(),
        // Absent in exports of studies without one, and in exports made before it existed.
        max_resource: z.number().positive().nullable().optional(),
        notes: z.string().max(20_000).optional(),
        // Absent in exports made before it existed.
        options_given: optionsGivenSchema.optional(),
      })
      .strict(),
    // Absent when update_study changed nothing, and in exports made before it was written.
    as_created: asCreatedSchema.optional(),
    user_attrs: userAttrs,
    created_at_ms: epochMs,
    stopped: z.literal(true).optional(),
    // The number of trial lines written after the header; absent in exports made before it existed.
    trials: z.number().int().min(0).optional(),
  })
  .strict();

const trialSchema = z
  .object({
    number: z.number().int().min(0),
    state: z.enum(TRIAL_STATES),
    params: z.record(paramNameSchema, scalar),
    distributions: z.record(paramNameSchema, distributionSchema),
    value: jsonNumber.nullable(),
    values: z.array(z.number()).min(2).max(MAX_OBJECTIVES).optional(),
    constraints: z.array(z.number()).min(1).max(MAX_CONSTRAINTS).optional(),
    intermediate: z.array(z.tuple([z.number(), jsonNumber])),
    user_attrs: userAttrs,
    system_attrs: attrs,
    created_at_ms: epochMs,
    started_at_ms: epochMs.nullable(),
    finished_at_ms: epochMs.nullable(),
    // PostgreSQL's text cannot hold NUL (a commit that fails stops the server).
    // `withheld`: an `export_study` page (the op, MCP) names no token; the import gives the trial one nobody holds.
    lease: z
      .union([z.object({ token: z.string().min(1).max(200).refine((t) => !t.includes("\u0000"), "a lease token may not contain U+0000 (NUL)") }).strict(), z.object({ withheld: z.literal(true) }).strict()])
      .nullable(),
  })
  .strict();

/** The header line (no newline) of a study's export, announcing `trials` trial lines after it. */
export function studyHeaderLine(study: Study, trials: number, name: string = study.name): string {
  return JSON.stringify({
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    name,
    config: configView(study.config),
    ...(study.config.asCreated !== undefined ? { as_created: asCreatedView(study.config.asCreated) } : {}),
    user_attrs: study.userAttrs,
    created_at_ms: study.createdAt,
    ...(study.stopped ? { stopped: true } : {}),
    trials,
  });
}

/** One trial's line (no newline). */
export function trialLine(t: StoredTrial, withholdToken = false): string {
  return JSON.stringify({
    number: t.number,
    state: t.state,
    params: t.params,
    distributions: t.distributions,
    value: t.value === null ? null : numOut(t.value),
    // A multi-objective trial (value null) writes its vector; a one-objective one's is [value].
    ...(t.values !== null && t.value === null ? { values: t.values } : {}),
    ...(t.constraints !== null ? { constraints: t.constraints } : {}),
    intermediate: t.intermediate.map((iv) => [iv.step, numOut(iv.value)]),
    user_attrs: t.userAttrs,
    system_attrs: t.systemAttrs,
    created_at_ms: t.createdAt,
    started_at_ms: t.startedAt,
    finished_at_ms: t.finishedAt,
    // The expiry is left out: it lives in memory (heartbeats) and an imported or restarted
    // RUNNING trial gets a fresh TTL anyway.
    lease: t.lease ? (withholdToken ? { withheld: true } : { token: t.lease.token }) : null,
  });
}

/** The header line's study (line 1 of an export): @throws through `fail` what it does not hold or the plug-ins refuse. */
function parseHeader(
  json: unknown,
  rename: string | undefined,
  plugins: PluginCatalogue | null,
  fail: (msg: string) => never,
): { header: z.infer<typeof headerSchema>; config: StudyConfig } {
  if (typeof json === "object" && json !== null && "op_code" in json)
    fail(
      "this is an Optuna journal (export --format optuna, or Optuna's JournalStorage), which Optuna reads; import reads the default format: export the study again without --format optuna " +
        "(a study of Optuna's own: copy its trials into a tuneport study with study.add_trials(optuna.load_study(...).trials), docs/MIGRATING-FROM-OPTUNA.md)",
    );
  const version = (json as { format?: unknown; version?: unknown } | null)?.version;
  if ((json as { format?: unknown } | null)?.format === EXPORT_FORMAT && version !== EXPORT_VERSION)
    fail(
      `the file is ${EXPORT_FORMAT} version ${JSON.stringify(version)}; this tuneport reads version ${EXPORT_VERSION}${typeof version === "number" && version > EXPORT_VERSION ? " (a newer tuneport wrote it: import it with that one)" : ""}; nothing was imported`,
    );
  const h = headerSchema.safeParse(json);
  if (!h.success) fail(`not a ${EXPORT_FORMAT} v${EXPORT_VERSION} header: ${formatZodError(h.error)}`);
  const header = (h as { data: z.infer<typeof headerSchema> }).data;
  // The grammar binds the name the study will get: the file's, unless renamed.
  const problem = studyNameProblem(rename ?? header.name);
  if (problem !== null && rename !== undefined) throw invalidArgument(`the new name ${JSON.stringify(rename)} is not valid: ${problem}`);
  if (problem !== null) fail(`${problem}; import the study under another name (--name)`);
  const c = header.config;
  let space: SearchSpace = {};
  let asCreated: AsCreated | undefined;
  // A study made with a plug-in module's strategy (serve --plugins) names one the catalogue lacks: its refusal says how to import it.
  const lacking = (plugins?.missingOf({ strategy: c.strategy, scheduler: c.scheduler ?? null }).length ?? 0) > 0;
  try {
    // The bound create_study and update_study hold a declared space to (checkSpaceSize).
    space = checkSpaceSize(parseSearchSpace(c.space));
    const was = header.as_created;
    if (was !== undefined)
      asCreated = {
        ...(was.space !== undefined ? { space: checkSpaceSize(parseSearchSpace(was.space)) } : {}),
        ...(was.strategy !== undefined ? { strategy: was.strategy } : {}),
        ...(was.scheduler !== undefined ? { scheduler: was.scheduler } : {}),
        ...(was.max_trials !== undefined ? { maxTrials: was.max_trials } : {}),
      };
    plugins?.resolveStrategyConfig(c.strategy);
    if (c.scheduler) plugins?.resolveSchedulerConfig(c.scheduler);
  } catch (err) {
    fail(`${(err as Error).message}${lacking ? "; a study made with a plug-in module's (serve --plugins) imports with --plugins and that module" : ""}`);
  }
  const directions = c.directions ?? [c.direction];
  if (directions[0] !== c.direction) fail(`direction '${c.direction}' disagrees with directions ${JSON.stringify(c.directions)}`);
  if (c.reference_point !== undefined && c.reference_point.length !== directions.length)
    fail(`reference_point has ${c.reference_point.length} coordinates; the study has ${directions.length} objectives`);
  const config: StudyConfig = {
    directions,
    direction: c.direction,
    ...(c.reference_point !== undefined ? { referencePoint: c.reference_point } : {}),
    space,
    strategy: c.strategy,
    scheduler: c.scheduler,
    seed: c.seed,
    retry: { maxRetries: c.retry.max_retries, retryOnFail: c.retry.retry_on_fail, keepIntermediate: c.retry.keep_intermediate },
    leaseTtlS: c.lease_ttl_s,
    ...(c.max_trials !== undefined ? { maxTrials: c.max_trials } : {}),
    ...(c.max_resource !== undefined && c.max_resource !== null ? { maxResource: c.max_resource } : {}),
    ...(c.notes !== undefined ? { notes: c.notes } : {}),
    ...(asCreated !== undefined && Object.keys(asCreated).length > 0 ? { asCreated } : {}),
    ...(c.options_given !== undefined ? { optionsGiven: givenOptionsOf(c.options_given, c.strategy, c.scheduler) } : {}),
  };
  return { header, config };
}

/**
 * An export's `options_given` held to the options its plug-ins have, each name once: describe_study
 * reads no other, and an edited file's 500 names of 200 characters (what the schema lets through)
 * went into every view of the study, its describe_study over the call's budget (RESULT_TOO_LARGE).
 */
function givenOptionsOf(g: z.infer<typeof optionsGivenSchema>, strategy: PluginConfig, scheduler: PluginConfig | null): OptionsGiven {
  const keep = (names: readonly string[], options: Record<string, unknown>) => [...new Set(names)].filter((k) => Object.hasOwn(options, k));
  return { strategy: keep(g.strategy, strategy.options), scheduler: scheduler !== null && g.scheduler !== null ? keep(g.scheduler, scheduler.options) : null };
}

/**
 * What the live ops refuse of a trial's distributions, for an imported trial (an edited file, or
 * one written by another program): more than MAX_TRIAL_DISTRIBUTION_CHARS of JSON on one trial
 * (`suggest`'s bound), or define-by-run parameters (those `space` does not declare) taking the
 * study's past MAX_DEFINE_BY_RUN_CHARS together (`suggest`'s and `add_trial`'s, `checkNewParams`);
 * `seen` carries the study's define-by-run parameters from trial to trial. Null when within both.
 * Without it an import made a study that every view carried megabytes of, and that ask and tell
 * would have refused to grow so.
 */
function distributionSizeProblem(trial: number, dists: Readonly<Record<string, Distribution>>, space: SearchSpace, seen: { names: Set<string>; chars: number }): string | null {
  let chars = 0;
  for (const [name, d] of Object.entries(dists)) {
    chars += distributionChars(d);
    if (Object.hasOwn(space, name) || seen.names.has(name)) continue;
    seen.names.add(name);
    seen.chars += name.length + distributionChars(d);
    if (seen.chars > MAX_DEFINE_BY_RUN_CHARS)
      return (
        `trial ${trial}: parameter '${name}': the define-by-run parameters of a study take at most ${MAX_DEFINE_BY_RUN_CHARS.toLocaleString("en-US")} characters of JSON together ` +
        `(with this trial's, ${seen.chars.toLocaleString("en-US")}), as suggest and add_trial hold them; reuse parameter names across trials, or search a large categorical as an int parameter indexing its choices`
      );
  }
  if (chars > MAX_TRIAL_DISTRIBUTION_CHARS)
    return (
      `trial ${trial}: a trial's distributions take at most ${MAX_TRIAL_DISTRIBUTION_CHARS.toLocaleString("en-US")} characters of JSON together (this one's take ` +
      `${chars.toLocaleString("en-US")}), as suggest holds them; search a large categorical as an int parameter indexing its choices`
    );
  return null;
}

/**
 * Parses an export. Blank lines are ignored. @throws INVALID_ARGUMENT naming the 1-based line
 * of the first problem: bad JSON, a field missing or mistyped, an invalid search space or
 * plug-in (one `plugins` does not hold), trial numbers not dense from 0 in order, a RUNNING
 * trial without a lease, a space or distributions past the ops' size limits (`distributionSizeProblem`), a trial with more
 * than `maxIntermediate` intermediate values (`data.reason: "max_intermediate"`). `plugins` null reads the study's plug-ins unchecked (`export --format
 * optuna` converts an export, whose plug-in may be one of a --plugins module the CLI lacks).
 */
export function parseStudyLines(text: string, rename?: string, plugins: PluginCatalogue | null = BUILTIN_PLUGINS, maxIntermediate = Number.POSITIVE_INFINITY): ImportedStudy {
  const lines = text.split("\n");
  let header: z.infer<typeof headerSchema> | null = null;
  let config: StudyConfig | null = null;
  const trials: StoredTrial[] = [];
  const attrRefs: { line: number; trial: number }[] = [];
  const defineByRun = { names: new Set<string>(), chars: 0 };
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).trim();
    if (raw === "") continue;
    const lineNo = i + 1;
    const fail = (msg: string): never => {
      throw invalidArgument(`line ${lineNo}: ${msg}`, { line: lineNo });
    };
    // Before the parser: JSON.parse of a 50 MB line of `[[[[…` took 18 s (and memory in proportion),
    // and of `[{},{},…]` holds about 21 times the line (input-limits.ts; a 100 MB line of empty maps, some 2 GB by that ratio):
    // bounded as the JSON doors bound a message (maxJsonContainers), plus what one line's user attributes may hold
    // (IMPORT_ATTRS_CONTAINERS): a line gathers what many requests stored, each within its own message's allowance.
    const maxContainers = maxImportLineContainers(raw.length);
    const shape = jsonTextShapeProblem(raw, MAX_NESTING, maxContainers);
    if (shape === "too-deep") fail(`nests deeper than ${MAX_NESTING} levels`);
    if (shape === "too-many-containers")
      fail(
        `the line holds more maps and arrays than its ${raw.length} characters allow (at most ${maxContainers}: ${CONTAINER_ALLOWANCE} plus one per ${JSON_CHARS_PER_CONTAINER} characters, ` +
          `plus ${IMPORT_ATTRS_CONTAINERS} for its user attributes); an export never holds that many (its attributes are bounded as the ops bound them); nothing was imported`,
      );
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      // Every export ends with a newline: a last line without one is a copy cut off inside it.
      const cut = i === lines.length - 1 && header?.trials !== undefined && trials.length < header.trials;
      fail(`not valid JSON (${(err as Error).message})${cut ? "; the file ends inside this line: it was cut short (an interrupted copy?); nothing was imported" : ""}`);
    }
    const duplicate = jsonTextDuplicateKey(raw);
    if (duplicate !== null) fail(duplicateKeyMessage("the line", duplicate).message);
    const illFormed = findIllFormedString(json, "the line");
    if (illFormed !== null) fail(`${illFormed.replace(/^the line\./, "field ")} is not well-formed Unicode (a lone surrogate escape); strings are refused, never repaired`);
    const forbidden = findForbiddenKey(json, "the line");
    if (forbidden !== null) fail(forbiddenKeyMessage(forbidden));
    if (header === null) {
      ({ header, config } = parseHeader(json, rename, plugins, fail));
      continue;
    }
    const p = trialSchema.safeParse(json);
    if (!p.success) fail(`not a trial: ${formatZodError(p.error)}`);
    const t = (p as { data: z.infer<typeof trialSchema> }).data;
    if (t.number !== trials.length) fail(`trial number ${t.number} out of order (expected ${trials.length})`);
    if ((t.state === "RUNNING") !== (t.lease !== null)) fail(`a ${t.state} trial ${t.state === "RUNNING" ? "needs" : "cannot have"} a lease`);
    const m = (config as StudyConfig).directions.length;
    if (t.values !== undefined && (m === 1 || t.values.length !== m || t.value !== null))
      fail(`values must hold one number per objective (${m}) in a multi-objective study, with value null`);
    const values = t.values ?? (t.value === null ? null : [t.value]);
    // A diverged member of a PBT study is COMPLETE without values (trial-ops.ts, `system_attrs.diverged`).
    const diverged = values === null && typeof t.system_attrs.diverged === "string";
    if (t.state === "COMPLETE" && !diverged && (values === null || values.length !== m)) fail(`a COMPLETE trial needs ${m} value${m === 1 ? "" : "s"}`);
    // tell stores finite values only (a diverged run: value null and system_attrs.diverged); a
    // COMPLETE "Infinity" made best_trials INTERNAL ("hypervolume needs finite coordinates").
    if (values !== null && !values.every(Number.isFinite))
      fail(`a ${t.state} trial's values must be finite (got ${values.map(String).join(", ")}); a diverged run is stored with value null and system_attrs.diverged`);
    // What the live server never stores (an edited file): a result on a trial that has not run,
    // or constraint vectors of different lengths (told ones must keep one length).
    if ((t.state === "WAITING" || t.state === "RUNNING") && (values !== null || t.constraints !== undefined))
      fail(`a ${t.state} trial has no result: it cannot have values or constraints`);
    if (t.constraints !== undefined) {
      const first = trials.find((u) => u.constraints !== null)?.constraints;
      if (first && first.length !== t.constraints.length)
        fail(`constraints has ${t.constraints.length} values; earlier trials have ${first.length} (a study's constraints keep one length)`);
    }
    // A distribution the ops would refuse (an edited file: no choice, NUL in a choice, ...) is refused here too.
    for (const [name, d] of Object.entries(t.distributions)) {
      try {
        validateDistribution(name, d as Distribution);
      } catch (err) {
        fail((err as Error).message);
      }
    }
    const tooBig = distributionSizeProblem(t.number, t.distributions as Record<string, Distribution>, (config as StudyConfig).space, defineByRun);
    if (tooBig !== null) fail(tooBig);
    // A value its distribution cannot produce (an edited file) would reach the strategies and plots.
    // One a float's rounding put a hair past a bound is moved onto it: servers before exact bounds stored
    // `grid`'s points_per_dim ends as exp(log(high)), 0.10000000000000006 for 0.1 (`roundedPastBound`).
    const params = { ...t.params };
    for (const [name, v] of Object.entries(t.params)) {
      const d = t.distributions[name] ?? (config as StudyConfig).space[name];
      if (d === undefined || contains(d, v)) continue;
      const near = roundedPastBound(d as Distribution, v as ParamValue);
      if (near === null) fail(`parameter '${name}' is ${JSON.stringify(v)}, which its distribution ${JSON.stringify(d)} cannot produce`);
      params[name] = near as number;
    }
    // Bookkeeping that the study's strategy reads back without checking it (it wrote it itself).
    const imported = plugins?.strategy((config as StudyConfig).strategy.name)?.readModels?.importedAttrs?.(t.system_attrs);
    if (imported?.problem) fail(`system_attrs: ${imported.problem} (the ${(config as StudyConfig).strategy.name} strategy's bookkeeping, which the server writes)`);
    for (const r of imported?.trials ?? []) attrRefs.push({ line: lineNo, trial: r });
    // The importing service's --max-intermediate: a trial holding more was imported whole, and a
    // server serving it kept every value in memory, past the bound its clients are held to.
    if (t.intermediate.length > maxIntermediate)
      throw invalidArgument(
        `line ${lineNo}: trial ${t.number} has ${t.intermediate.length.toLocaleString("en-US")} intermediate values, more than the ` +
          `${maxIntermediate.toLocaleString("en-US")} a trial holds (--max-intermediate ${maxIntermediate}); nothing was imported: ` +
          `import with a larger --max-intermediate and serve the database with it too`,
        { line: lineNo, reason: "max_intermediate", max_intermediate: maxIntermediate, trial: t.number, intermediate: t.intermediate.length },
      );
    const steps = t.intermediate.map(([s]) => s);
    if (steps.some((s, k) => k > 0 && s <= (steps[k - 1] as number))) fail("intermediate steps must increase");
    trials.push({
      id: 0,
      studyId: 0,
      number: t.number,
      state: t.state,
      params,
      // Validated above; kept as written so that the bytes round-trip.
      distributions: (json as { distributions: StoredTrial["distributions"] }).distributions,
      value: t.value,
      values,
      constraints: t.constraints ?? null,
      intermediate: t.intermediate.map(([step, value]) => ({ step, value })),
      userAttrs: t.user_attrs,
      systemAttrs: t.system_attrs,
      createdAt: t.created_at_ms,
      startedAt: t.started_at_ms,
      finishedAt: t.finished_at_ms,
      lease: t.lease ? { token: "token" in t.lease ? t.lease.token : leaseToken(), expiresAt: 0 } : null,
    });
  }
  if (header === null || config === null) throw invalidArgument("line 1: the file is empty; expected a study header", { line: 1 });
  // More lines than announced is an export of a study that gained trials between its pages.
  if (header.trials !== undefined && trials.length < header.trials)
    throw invalidArgument(
      `the file ends after ${trials.length} of the ${header.trials} trials its header announces: it was cut short (an interrupted copy?); nothing was imported`,
      { trials: trials.length, announced: header.trials },
    );
  const dangling = attrRefs.find((r) => r.trial >= trials.length);
  if (dangling)
    throw invalidArgument(`line ${dangling.line}: system_attrs name trial ${dangling.trial}, which the file does not hold (the strategy's bookkeeping, which the server writes)`, { line: dangling.line });
  return { name: rename ?? header.name, config, userAttrs: header.user_attrs, createdAt: header.created_at_ms, stopped: header.stopped === true, trials };
}

/** One page of a study's export (the `export_study` op). */
export interface ExportPage {
  study: string;
  format: typeof EXPORT_FORMAT;
  lines: string[];
  total_lines: number;
  next_cursor: string | null;
}

/**
 * One page of the export lines (`studyHeaderLine`, then `trialLine` per trial): from the line the
 * cursor names (`exportCursor`; the first line without one), at most `max_chars` characters of lines
 * (default 200,000) but at least one. A page reads the trials as they are when it is read.
 * @throws INVALID_ARGUMENT for a cursor that names no line of this export, or one of a study
 * deleted since and created again under its name (`data.reason: "study_recreated"`).
 */
export function exportPage(study: Study, trials: readonly StoredTrial[], a: { cursor?: string; max_chars?: number }): ExportPage {
  // The cursor's study (name and creation) first: one of a study re-created with fewer lines is
  // refused as re-created (study_recreated), not as a line of no export.
  const from = a.cursor === undefined ? 0 : exportCursorPosition(a.cursor, study);
  const total = trials.length + 1;
  if (from >= total)
    throw invalidArgument(
      `export_study: cursor ${JSON.stringify(a.cursor)} is not a cursor of this study's export: pass the next_cursor of the previous page unchanged, or start again without a cursor`,
    );
  const max = a.max_chars ?? 200_000;
  const lines: string[] = [];
  let chars = 0;
  for (let i = from; i < total; i++) {
    // A running trial's lease token lets whoever holds it tell the trial: the op's readers (agents over MCP) get none.
    const line = i === 0 ? studyHeaderLine(study, trials.length) : trialLine(trials[i - 1] as StoredTrial, true);
    if (lines.length > 0 && chars + line.length > max) break;
    lines.push(line);
    chars += line.length;
  }
  const end = from + lines.length;
  return { study: study.name, format: EXPORT_FORMAT, lines, total_lines: total, next_cursor: end < total ? exportCursor(study, end) : null };
}
