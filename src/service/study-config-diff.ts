/**
 * What `create_study` with `load_if_exists` compares: the settings a request gives against the
 * stored study's configuration.
 *
 * The rule is "nothing you pass is silently ignored": every setting the request gives must
 * equal the stored one, and a setting left out is not compared (a worker may load a study by
 * name alone). Directions (the number of objectives included), reference point, declared space,
 * strategy and scheduler (with their options, defaults filled in) and seed decide what the study
 * *is*, the `max_resource` budget too; retry policy, lease TTL and the `max_trials` budget decide
 * how it runs; both kinds are compared when given, because a loaded study keeps its stored values and
 * a differing request would otherwise believe it changed them. An empty space counts as "not
 * given" (define-by-run scripts and the MCP tool's default send `{}`). User attributes are
 * notes, not configuration: never compared (change them with `set_user_attrs`). A setting that
 * `update_study` changed also agrees when given as the study was created (`StudyConfig.asCreated`):
 * the workers' script still names those values after an agent steered the study.
 */
import { distributionsEqual, type Distribution, type SearchSpace } from "../domain/distributions.js";
import { invalidArgument, type TuneportError } from "../domain/errors.js";
import type { AsCreated, Direction, OptionsGiven, PluginConfig, RetryPolicy, StudyConfig } from "../domain/trial.js";
import type { z } from "zod";
import type { createStudyArgs } from "./ops/schemas.js";
import { BUILTIN_PLUGINS, type PluginCatalogue } from "./plugins.js";

type CreateStudyArgsParsed = z.output<typeof createStudyArgs>;

/** The settings a `create_study` request gave; `undefined` means "not given, not compared". */
export interface RequestedStudyConfig {
  /** From `directions`, or protocol v1's `direction` as a one-element list. */
  readonly directions?: readonly Direction[];
  readonly referencePoint?: readonly number[];
  readonly space?: SearchSpace;
  /** Resolved (defaults filled in), as `resolveStrategyConfig` returns it. */
  readonly strategy?: PluginConfig;
  readonly scheduler?: PluginConfig;
  readonly seed?: number;
  readonly maxRetries?: number;
  readonly retryOnFail?: boolean;
  readonly keepIntermediate?: boolean;
  readonly leaseTtlS?: number;
  readonly maxTrials?: number;
  readonly maxResource?: number;
}

/**
 * The settings a parsed `create_study` request gives, with its strategy and scheduler as resolved
 * (defaults filled in) and its directions (from `directions`, or `direction` as a one-element
 * list); a setting the request leaves out is not compared.
 */
export function requestedConfig(
  a: CreateStudyArgsParsed,
  space: SearchSpace,
  strategy: PluginConfig,
  scheduler: PluginConfig | null,
  directions: readonly Direction[],
): RequestedStudyConfig {
  return {
    directions: a.directions === undefined && a.direction === undefined ? undefined : directions,
    referencePoint: a.reference_point,
    space,
    strategy: a.strategy == null ? undefined : strategy,
    scheduler: a.scheduler == null ? undefined : (scheduler ?? undefined),
    seed: a.seed,
    maxRetries: a.retry?.max_retries,
    retryOnFail: a.retry?.retry_on_fail,
    keepIntermediate: a.retry?.keep_intermediate,
    leaseTtlS: a.lease_ttl_s,
    maxTrials: a.max_trials,
    maxResource: a.max_resource,
  };
}

/** One setting that differs: its wire name (`space.lr`, `strategy`, `retry.max_retries` …). */
export interface ConfigDifference {
  readonly field: string;
  readonly stored: unknown;
  readonly given: unknown;
}

/** Every difference between `stored` and what `given` asks for, in a stable order; [] when they agree. */
export function studyConfigDiff(stored: StudyConfig, given: RequestedStudyConfig, plugins: PluginCatalogue = BUILTIN_PLUGINS): ConfigDifference[] {
  return studyConfigCompare(stored, given, plugins).differences;
}

/**
 * `studyConfigDiff`'s `differences`, and apart from them the settings given as the study was created
 * that update_study has changed since (`steered`): they agree, yet the loading script's view of
 * the study is out of date, e.g. a widened space hands its trials values (a new category) its
 * code does not expect, which the load said nothing about.
 */
export function studyConfigCompare(
  stored: StudyConfig,
  given: RequestedStudyConfig,
  plugins: PluginCatalogue = BUILTIN_PLUGINS,
): { differences: ConfigDifference[]; steered: ConfigDifference[] } {
  const out: ConfigDifference[] = [];
  const differ = (field: string, a: unknown, b: unknown) => {
    if (b !== undefined && canonical(a) !== canonical(b)) out.push({ field, stored: a ?? null, given: b });
  };
  if (given.directions !== undefined) {
    // One objective on both sides keeps protocol v1's field name in the message.
    if (given.directions.length === 1 && stored.directions.length === 1) differ("direction", stored.direction, given.directions[0]);
    else differ("directions", stored.directions, given.directions);
  }
  differ("reference_point", stored.referencePoint ?? null, given.referencePoint);
  if (given.space !== undefined && Object.keys(given.space).length > 0) {
    const names = [...new Set([...Object.keys(stored.space), ...Object.keys(given.space)])].sort();
    for (const name of names) {
      const a = stored.space[name];
      const b = given.space[name];
      if (a && b && distributionsEqual(a, b)) continue;
      out.push({ field: `space.${name}`, stored: a ?? null, given: b ?? null });
    }
  }
  if (given.strategy !== undefined) differ("strategy", withDefaults(stored.strategy, (r) => plugins.resolveStrategyConfig(r)), given.strategy);
  if (given.scheduler !== undefined)
    differ("scheduler", stored.scheduler && withDefaults(stored.scheduler, (r) => plugins.resolveSchedulerConfig(r)), given.scheduler);
  differ("seed", stored.seed, given.seed);
  differ("retry.max_retries", stored.retry.maxRetries, given.maxRetries);
  differ("retry.retry_on_fail", stored.retry.retryOnFail, given.retryOnFail);
  differ("retry.keep_intermediate", stored.retry.keepIntermediate ?? false, given.keepIntermediate);
  differ("lease_ttl_s", stored.leaseTtlS, given.leaseTtlS);
  differ("max_trials", stored.maxTrials ?? null, given.maxTrials);
  differ("max_resource", stored.maxResource ?? null, given.maxResource);
  // A setting update_study changed may also be given as the study was created: each worker's
  // script creates the study with those values and loads it once an agent has steered it.
  const steered = out.filter((d) => asCreatedAgrees(stored.asCreated, d.field, given, plugins));
  return { differences: out.filter((d) => !steered.includes(d)), steered };
}

/**
 * What a load with `steered` settings (see `studyConfigCompare`) adds to create_study's reply, and
 * the server's log line about it: the script that loaded the study names the settings it had
 * before update_study changed them.
 */
export function steeredLoad(log: { info(obj: object, msg: string): void }, study: string, steered: readonly ConfigDifference[]): { changed_since_created?: ConfigDifference[] } {
  if (steered.length === 0) return {};
  const fields = steered.map((d) => d.field);
  log.info({ study, fields }, "a load_if_exists gave settings update_study has changed since (the study runs the stored ones)");
  return { changed_since_created: steered.map((d) => ({ ...d })) };
}

/** Whether `given` names, for the setting `field`, the value the study had before update_study changed it. */
function asCreatedAgrees(was: AsCreated | undefined, field: string, given: RequestedStudyConfig, plugins: PluginCatalogue): boolean {
  const same = (a: unknown, b: unknown) => b !== undefined && canonical(a) === canonical(b);
  if (was?.space !== undefined && given.space !== undefined && field.startsWith("space.")) {
    const names = new Set([...Object.keys(was.space), ...Object.keys(given.space)]);
    return [...names].every((n) => was.space?.[n] && given.space?.[n] && distributionsEqual(was.space[n], given.space[n]));
  }
  if (field === "strategy" && was?.strategy !== undefined) return same(withDefaults(was.strategy, (r) => plugins.resolveStrategyConfig(r)), given.strategy);
  if (field === "scheduler" && was?.scheduler !== undefined)
    return same(was.scheduler && withDefaults(was.scheduler, (r) => plugins.resolveSchedulerConfig(r)), given.scheduler);
  return field === "max_trials" && was?.maxTrials !== undefined && same(was.maxTrials, given.maxTrials);
}

/** The INVALID_ARGUMENT a `load_if_exists` request with `differences` gets; `data.differences` lists them. */
export function configMismatch(study: string, differences: readonly ConfigDifference[]): TuneportError {
  const lines = differences.map((d) => `${d.field}: stored ${show(d.stored)}, given ${show(d.given)}`);
  return invalidArgument(
    `study '${study}' exists with other settings (load_if_exists compares every setting given; leave a setting out to accept the stored one, or use another name): ${lines.join("; ")}`,
    { study, differences: differences.map((d) => ({ ...d })) },
  );
}

/**
 * A stored plug-in config as a request would resolve it today, so options whose defaults were
 * filled in by an older version still compare equal. A config that no longer resolves is
 * compared as stored.
 */
function withDefaults(cfg: PluginConfig, resolve: (ref: { name: string; options: Record<string, unknown> }) => PluginConfig): PluginConfig {
  try {
    return resolve({ name: cfg.name, options: { ...cfg.options } });
  } catch {
    return cfg;
  }
}

function show(v: unknown): string {
  if (v === null || v === undefined) return "none";
  if (isPlugin(v)) return Object.keys(v.options).length ? `${v.name} ${JSON.stringify(v.options)}` : v.name;
  if (isDistribution(v)) return JSON.stringify(v);
  return typeof v === "string" ? v : JSON.stringify(v);
}

function isPlugin(v: unknown): v is PluginConfig {
  return typeof v === "object" && v !== null && "name" in v && "options" in v;
}

function isDistribution(v: unknown): v is Distribution {
  return typeof v === "object" && v !== null && "type" in v;
}

/** JSON with object keys sorted, so that option maps compare by content. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

/**
 * The configuration of a new study from a parsed `create_study` request, what the service
 * resolved from it, and the defaults for what it leaves out (a fresh random seed, the server's
 * lease TTL, the default retry policy).
 */
export function newStudyConfig(
  a: CreateStudyArgsParsed,
  r: { directions: readonly Direction[]; space: SearchSpace; strategy: PluginConfig; scheduler: PluginConfig | null; optionsGiven: OptionsGiven },
  defaults: { seed: number; leaseTtlS: number; retry: RetryPolicy },
): StudyConfig {
  return {
    directions: [...r.directions],
    direction: r.directions[0] as Direction,
    ...(a.reference_point !== undefined ? { referencePoint: [...a.reference_point] } : {}),
    space: r.space,
    strategy: r.strategy,
    scheduler: r.scheduler,
    seed: a.seed ?? defaults.seed,
    retry: {
      maxRetries: a.retry?.max_retries ?? defaults.retry.maxRetries,
      retryOnFail: a.retry?.retry_on_fail ?? defaults.retry.retryOnFail,
      keepIntermediate: a.retry?.keep_intermediate ?? defaults.retry.keepIntermediate,
    },
    leaseTtlS: a.lease_ttl_s ?? defaults.leaseTtlS,
    ...(a.max_trials !== undefined ? { maxTrials: a.max_trials } : {}),
    ...(a.max_resource !== undefined ? { maxResource: a.max_resource } : {}),
    optionsGiven: r.optionsGiven,
  };
}
