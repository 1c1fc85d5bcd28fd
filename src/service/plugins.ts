/**
 * The plug-in catalogue: which strategies and schedulers a service offers, resolving a study's
 * strategy and scheduler by name with their options validated. The catalogue (`describe`)
 * feeds `--help`, MCP and error messages alike.
 *
 * A `StudyService` receives one (`StudyService.open({ strategies, schedulers })`); the
 * built-ins (`BUILTIN_PLUGINS`) are the default. docs/PLUGINS.md shows how to add a strategy.
 */
import { z } from "zod";
import { canonicalOptionNames, likelyPluginName, pluginKey, withOptionNames } from "../domain/plugin-options.js";
import { type SearchSpace, formatZodError } from "../domain/distributions.js";
import { failedPrecondition, invalidArgument } from "../domain/errors.js";
import type { Scheduler, SchedulerFactory, Strategy, StrategyFactory } from "../domain/plugin.js";
import type { OptionsGiven, PluginConfig } from "../domain/trial.js";
import { SCHEDULERS } from "../schedulers/index.js";
import { DEFAULT_STRATEGY, STRATEGIES } from "../strategies/index.js";

/** The retry settings a study or an ask may give (create_study's `retry`, ask's `max_retries`). */
export type RetryArgs = { readonly max_retries?: number; readonly retry_on_fail?: boolean; readonly keep_intermediate?: boolean };

/**
 * Refuses a retry policy (create_study's `retry`, ask's `max_retries`) given for a strategy that
 * replaces lost trials itself (`StrategyFactory.refillsLostTrials`: PBT, PB2): the service never
 * re-queues its failed trials, so the policy would be ignored without a word. A zero or false
 * setting, which asks for nothing, passes. @throws INVALID_ARGUMENT saying what to use instead.
 */
export function checkRetry(factory: StrategyFactory<unknown> | undefined, name: string, retry: RetryArgs | undefined, where: string): void {
  const refills = factory?.refillsLostTrials;
  if (!refills || !retry) return;
  const given = Object.entries(retry).filter(([, v]) => v === true || (typeof v === "number" && v > 0));
  if (given.length === 0) return;
  throw invalidArgument(
    `strategy '${name}' replaces lost trials itself and takes no retries: ${where} ${given.map(([k, v]) => `${k}=${String(v)}`).join(", ")} would be ignored. ${refills.instead}`,
    { strategy: name, retry: Object.fromEntries(given) },
  );
}

/** The description of a stored study's strategy that the catalogue lacks (`loadStrategy`). */
export const MISSING = "a plug-in this server was not started with (--plugins)";

function missingPlugin(kind: "strategy" | "scheduler", name: string) {
  return failedPrecondition(
    `this study's ${kind} '${name}' is not one this server has: it was made by a server started with a plug-in (--plugins MODULE) ` +
      `that this one was not; restart this server with that module to ${kind === "strategy" ? "ask for trials" : "report"}, or switch the study's ${kind} with update_study`,
    { reason: "missing_plugin", [kind]: name },
  );
}

/** A plug-in named on the wire: a bare name or `{name, options}`. */
export const pluginRefSchema = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() }).strict(),
]);
export type PluginRef = z.infer<typeof pluginRefSchema>;

/** One entry of `PluginCatalogue.descriptions()`: `defaults` are the options a study gets when it gives none (null when some are required). */
export type PluginSummary = Pick<PluginDescription, "kind" | "name" | "description"> & { defaults: Record<string, unknown> | null };

/** One entry of `PluginCatalogue.describe()`. */
export interface PluginDescription {
  kind: "strategy" | "scheduler";
  name: string;
  description: string;
  /** JSON Schema of the options (defaults included). */
  options: Record<string, unknown>;
}

// Factories are held type-erased (a catalogue mixes option types); each validates its own
// options before `create`.
type AnyStrategyFactory = StrategyFactory<any>;
type AnySchedulerFactory = SchedulerFactory<any>;

/** Factories given as a list or as a map by name. */
export type FactoryList<F> = Iterable<F> | ReadonlyMap<string, F>;

/** What a catalogue is built from; each omitted part is the built-ins'. */
export interface PluginCatalogueOptions {
  /** Every strategy a study may name (default: the built-ins). */
  readonly strategies?: FactoryList<AnyStrategyFactory>;
  /** Every scheduler a study may name (default: the built-ins). */
  readonly schedulers?: FactoryList<AnySchedulerFactory>;
  /**
   * The strategy of a study that names none (default `auto` when the catalogue has it, else the
   * first strategy). @throws Error from the constructor when it is not in the catalogue.
   */
  readonly defaultStrategy?: string;
}

function byName<F extends { readonly name: string }>(list: FactoryList<F>): Map<string, F> {
  if (list instanceof Map) return new Map(list as ReadonlyMap<string, F>);
  const out = new Map<string, F>();
  for (const f of list as Iterable<F>) {
    if (out.has(f.name)) throw new Error(`two plug-ins are named '${f.name}'`);
    out.set(f.name, f);
  }
  return out;
}

/**
 * A plug-in reference checked against `pluginRefSchema` (create_study's arguments take any value
 * there): `{name: "tpe", n_startup_trials: 5}` is refused, naming `options`, instead of creating
 * the study with the defaults. @throws INVALID_ARGUMENT.
 */
function normalise(kind: string, ref: unknown): { name: string; options: Record<string, unknown> } {
  const parsed = pluginRefSchema.safeParse(ref);
  if (!parsed.success) {
    const stray = ref && typeof ref === "object" && !Array.isArray(ref) ? Object.keys(ref).filter((k) => k !== "name" && k !== "options") : [];
    throw invalidArgument(
      stray.length > 0
        ? `a ${kind} is a name or {name, options}: put ${stray.map((k) => `'${k}'`).join(", ")} under options, e.g. {name: ${JSON.stringify((ref as { name?: unknown }).name ?? "…")}, options: {${stray.map((k) => `${k}: …`).join(", ")}}}`
        : `a ${kind} is a name or {name, options}, e.g. "tpe" or {name: "tpe", options: {n_startup_trials: 5}}; got ${JSON.stringify(ref)?.slice(0, 100)}`,
    );
  }
  const r = parsed.data;
  return typeof r === "string" ? { name: r, options: {} } : { name: r.name, options: r.options ?? {} };
}

function jsonSchemaOf(schema: z.ZodType<unknown>): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}

function parseOptions(
  kind: string,
  factory: { name: string; options: z.ZodType<unknown>; withStudyBudget?: unknown },
  raw: Record<string, unknown>,
) {
  const parsed = factory.options.safeParse(raw);
  // A scheduler that takes the study's budget, given none: say what it is and both places to give it.
  if (!parsed.success && factory.withStudyBudget && raw.max_resource === undefined && parsed.error.issues.some((i) => i.path[0] === "max_resource"))
    throw invalidArgument(
      `scheduler '${factory.name}' needs a max_resource: how far one trial trains at most, in your step units (epochs, say); ` +
        `give the study's (create_study max_resource: 27, say) or the scheduler's (options: {max_resource: 27})`,
      { options_schema: jsonSchemaOf(factory.options) },
    );
  if (!parsed.success)
    throw invalidArgument(`bad options for ${kind} '${factory.name}': ${formatZodError(new z.ZodError(parsed.error.issues.map((i) => withOptionNames(factory.options, i))))}`, {
      options_schema: jsonSchemaOf(factory.options),
    });
  return parsed.data as Record<string, unknown>;
}

/**
 * An immutable set of strategy and scheduler factories, looked up by name. Every method that
 * takes a name refuses one it does not hold with INVALID_ARGUMENT listing the valid names.
 */
export class PluginCatalogue {
  private readonly strategies: ReadonlyMap<string, AnyStrategyFactory>;
  private readonly schedulers: ReadonlyMap<string, AnySchedulerFactory>;
  /** The strategy of a study that names none (see `defaultStrategyFor`). */
  readonly defaultStrategy: string;

  /** @throws Error when two factories share a name, or `defaultStrategy` is not among the strategies. */
  constructor(opts: PluginCatalogueOptions = {}) {
    this.strategies = byName(opts.strategies ?? STRATEGIES);
    this.schedulers = byName(opts.schedulers ?? SCHEDULERS);
    const first = this.strategies.keys().next();
    this.defaultStrategy = opts.defaultStrategy ?? (this.strategies.has(DEFAULT_STRATEGY) || first.done ? DEFAULT_STRATEGY : first.value);
    if (!this.strategies.has(this.defaultStrategy))
      throw new Error(`the default strategy '${this.defaultStrategy}' is not in the catalogue`);
  }

  /**
   * This catalogue plus `more` (a factory named like an existing one replaces it). The default
   * strategy stays unless `more` names another.
   */
  with(more: PluginCatalogueOptions): PluginCatalogue {
    return new PluginCatalogue({
      strategies: new Map([...this.strategies, ...byName(more.strategies ?? [])]),
      schedulers: new Map([...this.schedulers, ...byName(more.schedulers ?? [])]),
      defaultStrategy: more.defaultStrategy ?? this.defaultStrategy,
    });
  }

  /** The strategy factory of that name, or undefined. */
  strategy(name: string): StrategyFactory<unknown> | undefined {
    return this.strategies.get(name);
  }

  /** The scheduler factory of that name, or undefined. */
  scheduler(name: string): SchedulerFactory<unknown> | undefined {
    return this.schedulers.get(name);
  }

  /** Names of every strategy, in catalogue order. */
  strategyNames(): string[] {
    return [...this.strategies.keys()];
  }

  /** Names of every scheduler, in catalogue order. */
  schedulerNames(): string[] {
    return [...this.schedulers.keys()];
  }

  /** Validates a strategy reference and fills in option defaults. @throws INVALID_ARGUMENT listing valid names. */
  resolveStrategyConfig(ref: PluginRef): PluginConfig {
    const { name, options } = normalise("strategy", ref);
    const factory = this.strategies.get(name);
    if (!factory)
      throw invalidArgument(`unknown strategy '${name}'${this.nameHint("strategy", name)}; valid strategies: ${this.strategyNames().join(", ")}`, {
        valid: this.strategyNames(),
      });
    return { name, options: parseOptions("strategy", factory, canonicalOptionNames(factory.options, options)) };
  }

  /**
   * The option names a plug-in reference gives, in the plug-in's own spelling (`nStartupTrials`
   * given for `n_startup_trials` is `n_startup_trials`); [] for a bare name or a plug-in this
   * catalogue lacks. Call after resolving the reference (which refuses a bad one).
   */
  givenOptionNames(kind: "strategy" | "scheduler", ref: PluginRef): string[] {
    const { name, options } = normalise(kind, ref);
    const factory = kind === "strategy" ? this.strategies.get(name) : this.schedulers.get(name);
    return factory ? Object.keys(canonicalOptionNames(factory.options, options)) : [];
  }

  /** The option names a create_study request gives its strategy (none when left to the default) and scheduler (null: none). */
  optionsGivenAtCreation(strategy: unknown, scheduler: unknown): OptionsGiven {
    return {
      strategy: strategy == null ? [] : this.givenOptionNames("strategy", strategy as PluginRef),
      scheduler: scheduler == null ? null : this.givenOptionNames("scheduler", scheduler as PluginRef),
    };
  }

  /**
   * Validates a scheduler reference and fills in option defaults, the study's budget
   * (`maxResource`, create_study `max_resource`) included where the scheduler takes one
   * (`SchedulerFactory.withStudyBudget`). @throws INVALID_ARGUMENT listing valid names.
   */
  resolveSchedulerConfig(ref: PluginRef, maxResource?: number): PluginConfig {
    const { name, options } = normalise("scheduler", ref);
    const factory = this.schedulers.get(name);
    if (!factory)
      throw invalidArgument(`unknown scheduler '${name}'${this.nameHint("scheduler", name)}; valid schedulers: ${this.schedulerNames().join(", ") || "(none)"}`, {
        valid: this.schedulerNames(),
      });
    const given = canonicalOptionNames(factory.options, options);
    const raw = maxResource !== undefined && factory.withStudyBudget ? factory.withStudyBudget(given, maxResource) : given;
    return { name, options: parseOptions("scheduler", factory, raw) };
  }

  /**
   * What an unknown plug-in name likely means, as " (…)" to follow it, or "": Optuna's class name
   * or another spelling of one of `kind` (`likelyPluginName`), one of the other kind, or no pruning.
   */
  private nameHint(kind: "strategy" | "scheduler", name: string): string {
    const [mine, theirs] = kind === "strategy" ? [this.strategyNames(), this.schedulerNames()] : [this.schedulerNames(), this.strategyNames()];
    const same = likelyPluginName(name, mine);
    if (same !== null) return ` (did you mean '${same}'?)`;
    const other = likelyPluginName(name, theirs);
    if (other !== null) return kind === "strategy" ? ` ('${other}' is a scheduler (pruner): pass it as scheduler)` : ` ('${other}' is a strategy (sampler): pass it as strategy)`;
    return kind === "scheduler" && pluginKey(name) === "nop" ? " (no pruning: leave scheduler out)" : "";
  }

  /**
   * Refuses strategy/scheduler pairs that make no sense, and a `retry` the strategy ignores
   * (`checkRetry`; create_study passes it). A plug-in this catalogue lacks (a stored
   * study's, kept by update_study: `loadStrategy`) has no say; it had when it was set.
   * @throws INVALID_ARGUMENT with the reason.
   */
  checkCompatible(strategy: PluginConfig, scheduler: PluginConfig | null, retry?: RetryArgs): void {
    checkRetry(this.strategies.get(strategy.name), strategy.name, retry, "create_study's retry");
    if (!scheduler) return;
    const sf = this.strategies.get(strategy.name);
    const cf = this.schedulers.get(scheduler.name);
    const reason = sf?.incompatibleWith?.(scheduler, strategy.options) ?? cf?.incompatibleWith?.(strategy, scheduler.options) ?? null;
    if (reason) throw invalidArgument(`strategy '${strategy.name}' cannot be combined with scheduler '${scheduler.name}': ${reason}`);
  }

  /**
   * Refuses plug-ins that cannot run a study with `nObjectives` objectives: a strategy whose
   * factory is not `multiObjective`, and every scheduler. Schedulers prune or stretch trials by
   * comparing one intermediate value, and a multi-objective study has no single value to rank
   * (Optuna 5.0 refuses `trial.report` in multi-objective studies for the same reason), so the
   * combination is refused at creation rather than given a meaning nobody asked for.
   * A strategy this catalogue lacks (a stored study's) is not checked (`checkCompatible`).
   * @throws INVALID_ARGUMENT with the reason and the strategies that would do.
   */
  checkObjectives(strategy: PluginConfig, scheduler: PluginConfig | null, nObjectives: number): void {
    if (nObjectives <= 1) return;
    const sf = this.strategies.get(strategy.name);
    if (sf !== undefined && !sf.multiObjective) {
      const able = [...this.strategies.values()].filter((f) => f.multiObjective).map((f) => f.name);
      throw invalidArgument(
        `strategy '${strategy.name}' optimises one objective; a study with ${nObjectives} objectives can use: ${able.join(", ") || "(none)"}`,
        { valid: able },
      );
    }
    if (scheduler)
      throw invalidArgument(
        `scheduler '${scheduler.name}' cannot run a study with ${nObjectives} objectives: pruning and multi-fidelity schedulers rank trials by one ` +
          "intermediate value, and several objectives give no single value to rank. Create the study without a scheduler, or optimise one objective " +
          "(for example a weighted sum) with the scheduler.",
      );
  }

  /**
   * The strategy of a study that names none: `defaultStrategy`, unless the scheduler refuses it
   * (bohb refuses every model-based strategy), where `random` (when present) only answers what
   * the scheduler leaves. A multi-objective study (`nObjectives` > 1) gets the default when its
   * factory is `multiObjective`, else `nsga2`, else `random`.
   */
  defaultStrategyFor(scheduler: PluginConfig | null, nObjectives = 1): string {
    if (nObjectives > 1) {
      // A multi-objective study takes the default when it can, else the first strategy that can.
      if (this.strategies.get(this.defaultStrategy)?.multiObjective) return this.defaultStrategy;
      for (const name of ["nsga2", "random"]) if (this.strategies.get(name)?.multiObjective) return name;
      return this.defaultStrategy; // refused by checkObjectives with the list of those that can
    }
    if (!scheduler) return this.defaultStrategy;
    try {
      this.checkCompatible(this.resolveStrategyConfig(this.defaultStrategy), scheduler);
      return this.defaultStrategy;
    } catch {
      return this.strategies.has("random") ? "random" : this.defaultStrategy;
    }
  }

  /**
   * Refuses a declared space the strategy cannot search (e.g. `grid` with a continuous float and
   * no step), at study creation rather than at every worker's first ask.
   * @throws INVALID_ARGUMENT with the strategy's reason.
   */
  checkSpaceFor(strategy: PluginConfig, space: SearchSpace): void {
    const reason = this.strategies.get(strategy.name)?.spaceProblem?.(space, strategy.options) ?? null;
    if (reason) throw invalidArgument(`strategy '${strategy.name}' cannot search this space: ${reason}`);
  }

  /**
   * Refuses a declared space the scheduler cannot work with (`bohb` with none), when a study is
   * created with it or switched to it. @throws INVALID_ARGUMENT with the scheduler's reason.
   */
  checkSchedulerSpace(scheduler: PluginConfig | null, space: SearchSpace): void {
    if (scheduler === null) return;
    const reason = this.schedulers.get(scheduler.name)?.spaceProblem?.(space, scheduler.options) ?? null;
    if (reason) throw invalidArgument(`scheduler '${scheduler.name}' ${reason}`);
  }

  /** A strategy instance for a resolved config, with its factory. @throws INVALID_ARGUMENT for an unknown name. */
  createStrategy(cfg: PluginConfig): { strategy: Strategy; factory: StrategyFactory<unknown> } {
    const factory = this.requireStrategy(cfg.name);
    return { strategy: factory.create(cfg.options), factory };
  }

  /** A scheduler instance for a resolved config (null for none). @throws INVALID_ARGUMENT for an unknown name. */
  createScheduler(cfg: PluginConfig | null): Scheduler | null {
    if (!cfg) return null;
    return this.requireScheduler(cfg.name).create(cfg.options);
  }

  /**
   * `createStrategy` for a stored study: a strategy this catalogue lacks (the study was made by a
   * server started with a plug-in, `--plugins`, that this one was not) gets a stand-in that refuses
   * every suggestion with FAILED_PRECONDITION naming it. The server then starts, every other study
   * runs, and this one's trials can still be read, reported and told; creating a study with the
   * name is still refused. A missing plug-in stopped the whole server before.
   */
  loadStrategy(cfg: PluginConfig): { strategy: Strategy; factory: StrategyFactory<unknown> } {
    if (this.strategies.has(cfg.name)) return this.createStrategy(cfg);
    const refuse = (): never => {
      throw missingPlugin("strategy", cfg.name);
    };
    return { strategy: { suggest: refuse, suggestParam: refuse }, factory: { name: cfg.name, description: MISSING, options: z.unknown(), create: () => ({ suggest: refuse }) } };
  }

  /** The plug-ins a study's configuration names that this catalogue lacks (`loadStrategy`'s stand-ins). */
  missingOf(c: { strategy: PluginConfig; scheduler: PluginConfig | null }): { kind: "strategy" | "scheduler"; name: string }[] {
    const out: { kind: "strategy" | "scheduler"; name: string }[] = [];
    if (!this.strategies.has(c.strategy.name)) out.push({ kind: "strategy", name: c.strategy.name });
    if (c.scheduler !== null && !this.schedulers.has(c.scheduler.name)) out.push({ kind: "scheduler", name: c.scheduler.name });
    return out;
  }

  /** `createScheduler` for a stored study; a scheduler this catalogue lacks refuses each report as `loadStrategy`'s stand-in does each ask. */
  loadScheduler(cfg: PluginConfig | null): Scheduler | null {
    if (cfg === null || this.schedulers.has(cfg.name)) return this.createScheduler(cfg);
    return {
      onReport: () => {
        throw missingPlugin("scheduler", cfg.name);
      },
    };
  }

  /** The whole catalogue, for `tuneport strategies`, MCP and docs. */
  describe(): PluginDescription[] {
    const out: PluginDescription[] = [];
    for (const f of this.strategies.values())
      out.push({ kind: "strategy", name: f.name, description: f.description, options: jsonSchemaOf(f.options) });
    for (const f of this.schedulers.values())
      out.push({ kind: "scheduler", name: f.name, description: f.description, options: jsonSchemaOf(f.options) });
    return out;
  }

  /**
   * Kind, name, description and option defaults of every plug-in, without the option schemas
   * `describe` converts (cheap: read on every summary).
   */
  descriptions(): PluginSummary[] {
    return [
      ...[...this.strategies.values()].map((f) => ({ kind: "strategy" as const, name: f.name, description: f.description, defaults: this.defaultsOf(f) })),
      ...[...this.schedulers.values()].map((f) => ({ kind: "scheduler" as const, name: f.name, description: f.description, defaults: this.defaultsOf(f) })),
    ];
  }

  /**
   * `descriptions()` for a study's summary: a plug-in the study names that this catalogue lacks
   * (`loadStrategy`'s stand-in) is described as `MISSING`, so the briefing says why its asks are
   * refused before any ask.
   */
  descriptionsFor(c: { strategy: PluginConfig; scheduler: PluginConfig | null }): PluginSummary[] {
    return [...this.descriptions(), ...this.missingOf(c).map((m) => ({ ...m, description: MISSING, defaults: null }))];
  }

  private readonly defaults = new Map<object, Record<string, unknown> | null>();

  /** A plug-in's options when none is given (its schema's defaults), once per factory; null when it needs some. */
  private defaultsOf(f: { options: z.ZodType<unknown> }): Record<string, unknown> | null {
    let d = this.defaults.get(f);
    if (d === undefined) {
      const r = f.options.safeParse({});
      d = r.success && typeof r.data === "object" && r.data !== null ? (r.data as Record<string, unknown>) : null;
      this.defaults.set(f, d);
    }
    return d;
  }

  private requireStrategy(name: string): StrategyFactory<unknown> {
    const f = this.strategies.get(name);
    if (!f) throw invalidArgument(`unknown strategy '${name}'; valid strategies: ${this.strategyNames().join(", ")}`);
    return f;
  }

  private requireScheduler(name: string): SchedulerFactory<unknown> {
    const f = this.schedulers.get(name);
    if (!f) throw invalidArgument(`unknown scheduler '${name}'; valid schedulers: ${this.schedulerNames().join(", ") || "(none)"}`);
    return f;
  }
}

/** The built-in strategies by name (pass `[...BUILTIN_STRATEGIES.values(), mine]` to add one). */
export const BUILTIN_STRATEGIES: ReadonlyMap<string, StrategyFactory<any>> = STRATEGIES;
/** The built-in schedulers by name. */
export const BUILTIN_SCHEDULERS: ReadonlyMap<string, SchedulerFactory<any>> = SCHEDULERS;
/** The built-in strategies and schedulers: what a service offers unless it is given others. */
export const BUILTIN_PLUGINS = new PluginCatalogue();

/** The built-in catalogue's `describe()` (for callers that have no service at hand). */
export function describePlugins(): PluginDescription[] {
  return BUILTIN_PLUGINS.describe();
}
