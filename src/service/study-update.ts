/**
 * `update_study` (issue 14 §2): changes a running study's scheduler, strategy, declared space,
 * trial budget or notes, keeping its history. One commit (`update-study`: the config JSON, so no
 * storage migration), durable across a restart, which rebuilds the plug-ins from the stored config
 * exactly as this does now.
 *
 * Plug-ins are functions of history (docs/ARCHITECTURE.md): a new strategy or scheduler instance
 * reads the same stored trials and decides from them, so switching is rebuilding. What history does
 * not hold is a strategy's hold on its *running* trials: PBT, PB2 and the hypergradient strategy
 * answer reports (`onReport`) of the trials they started. A switch to or from such a strategy is
 * refused while trials run; every other switch keeps the running trials, which finish as they
 * started. A widened space keeps every existing trial inside it (domain/widen.ts); a strategy whose
 * state is tied to the declared space (`StrategyFactory.fixedSpace`: grid, CMA-ES) refuses it.
 * The study half of `set_user_attrs` (attributes and notes) lives here too.
 */
import { type Distribution, type ParamValue, type SearchSpace, checkSpaceSize, parseDistribution } from "../domain/distributions.js";
import { failedPrecondition, invalidArgument } from "../domain/errors.js";
import { type AsCreated, DEFAULT_RETRY, type OptionsGiven, type PluginConfig, type RetryPolicy, type Study, type StudyConfig } from "../domain/trial.js";
import { wideningProblem } from "../domain/widen.js";
import type { Change } from "../storage/storage.js";
import type { ServiceCore } from "./core.js";
import { checkAttrsSize } from "./trial-ops.js";
import type * as S from "./ops/schemas.js";
import { type PluginCatalogue, type PluginRef, type RetryArgs, checkRetry } from "./plugins.js";
import { type StudyState, viewOf } from "./study-state.js";
import type { StudyView } from "./views.js";

/** The longest study or trial notes, in characters. */
export const MAX_NOTES_CHARS = 20_000;

/**
 * Applies an `update_study` request. Returns the new study view and the settings that changed
 * (`[]` when the request changed nothing). @throws INVALID_ARGUMENT (a narrowing, an unknown or
 * incompatible plug-in), FAILED_PRECONDITION (a switch the running trials forbid, a fixed space),
 * NOT_FOUND.
 */
export async function updateStudy(
  core: ServiceCore,
  plugins: PluginCatalogue,
  a: S.UpdateStudyArgs,
  requestId?: string,
): Promise<{ study: StudyView; changed: string[] }> {
  const s = core.state(a.study);
  // The ask lock first (as ask takes them): no suggestion is computed by the old strategy meanwhile.
  return core.mutate(requestId, "update_study", (rc) =>
    s.askLock.run(() =>
      s.writeLock.run(async () => {
        core.live(s);
        const { config, changed } = nextConfig(s, plugins, a);
        const next: Study = { ...s.study, config };
        if (changed.length === 0) return core.commit([], { study: viewOf(s), changed }, () => undefined, null); // NO_OP_REPLY
        const rebuilt = rebuild(s, plugins, next);
        return core.commit([{ kind: "update-study", study: next }], { study: viewOf({ ...s, ...rebuilt, study: next }), changed }, () => {
          Object.assign(s, rebuilt, { study: next });
          core.bump(s);
          core.log.info({ study: next.name, changed }, "study updated");
        }, rc);
      }),
    ),
  );
}

/** The new configuration and the names of the settings it changes. */
function nextConfig(s: StudyState, plugins: PluginCatalogue, a: S.UpdateStudyArgs): { config: StudyConfig; changed: string[] } {
  const old = s.study.config;
  const changed: string[] = [];
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  let strategy = old.strategy;
  if (a.strategy !== undefined) {
    strategy = plugins.resolveStrategyConfig(mergeRef(a.strategy as PluginRef, old.strategy));
    if (!same(strategy, old.strategy)) changed.push("strategy");
  }
  let scheduler = old.scheduler;
  if (a.scheduler !== undefined) {
    const derived = old.scheduler ? plugins.scheduler(old.scheduler.name)?.derivedOptions : undefined;
    scheduler =
      a.scheduler === null ? null : plugins.resolveSchedulerConfig(mergeRef(a.scheduler as PluginRef, old.scheduler, derived), old.maxResource);
    if (!same(scheduler, old.scheduler)) changed.push("scheduler");
  }
  // A switch to a strategy that refills lost trials itself (PBT, PB2) would leave the study's retry
  // policy ignored without a word, as create_study refuses (checkRetry). Only on a switch of name:
  // a study stored before that rule keeps its option updates.
  if (old.strategy.name !== strategy.name)
    checkRetry(plugins.strategy(strategy.name), strategy.name, retryArgs(old.retry), "the study's retry (set by create_study)");
  plugins.checkCompatible(strategy, scheduler);
  plugins.checkObjectives(strategy, scheduler, old.directions.length);
  if (changed.includes("strategy")) checkSwitch(s, plugins, old.strategy, strategy);
  const space = a.space === undefined ? old.space : widen(s, plugins, strategy, a.space);
  if (!same(space, old.space)) changed.push("space");
  // Only on a change: a study stored before its strategy's or scheduler's rule existed keeps its other updates.
  if (changed.includes("strategy") || changed.includes("space")) plugins.checkSpaceFor(strategy, space);
  if (changed.includes("scheduler")) plugins.checkSchedulerSpace(scheduler, space);
  let maxTrials = old.maxTrials;
  if (a.max_trials !== undefined && (a.max_trials ?? undefined) !== old.maxTrials) {
    maxTrials = a.max_trials ?? undefined;
    changed.push("max_trials");
  }
  if (a.notes !== undefined && (a.notes || undefined) !== old.notes) changed.push("notes");
  const { maxTrials: _m, asCreated: before, ...rest } = a.notes === undefined ? old : withNotes(old, a.notes);
  // What the study was created with, for the workers' load_if_exists (study-config-diff.ts).
  const asCreated: AsCreated = {
    ...(changed.includes("space") ? { space: old.space } : {}),
    ...(changed.includes("strategy") ? { strategy: old.strategy } : {}),
    ...(changed.includes("scheduler") ? { scheduler: old.scheduler } : {}),
    ...(changed.includes("max_trials") ? { maxTrials: old.maxTrials ?? null } : {}),
    ...before,
  };
  const kept = Object.keys(asCreated).length > 0 ? { asCreated } : {};
  const given = optionsGivenAfter(plugins, old, a, scheduler);
  const config: StudyConfig = { ...rest, strategy, scheduler, space, ...(maxTrials !== undefined ? { maxTrials } : {}), ...kept, ...(given ? { optionsGiven: given } : {}) };
  return { config, changed };
}

/**
 * Merges user attributes into a study and, with `notes`, replaces its notes ('' clears them): the
 * `set_user_attrs` op without `trial`. @throws NOT_FOUND, INVALID_ARGUMENT (size, nothing to set).
 */
export async function setStudyAttrs(
  core: ServiceCore,
  a: { study: string; attrs?: Record<string, unknown>; notes?: string },
  requestId?: string,
): Promise<StudyView> {
  if (a.attrs === undefined && a.notes === undefined) throw invalidArgument("set_user_attrs needs attrs, notes or both");
  const s = core.state(a.study);
  return core.mutate(requestId, "set_user_attrs", (rc) =>
    s.writeLock.run(async () => {
      core.live(s);
      const merged = { ...s.study.userAttrs, ...(a.attrs ?? {}) };
      checkAttrsSize(merged);
      const next: Study = { ...s.study, userAttrs: merged, ...(a.notes === undefined ? {} : { config: withNotes(s.study.config, a.notes) }) };
      const change: Change =
        a.notes === undefined ? { kind: "set-study-user-attrs", studyId: s.study.id, userAttrs: merged } : { kind: "update-study", study: next };
      return core.commit([change], viewOf({ ...s, study: next }), () => {
        s.study = next;
        core.bump(s);
      }, rc);
    }),
  );
}

/** `config` with its notes replaced by `notes` ('' removes them). */
export function withNotes(config: StudyConfig, notes: string): StudyConfig {
  const { notes: _old, ...rest } = config;
  return notes === "" ? rest : { ...rest, notes };
}

/**
 * A reference naming the plug-in in place keeps its current options, the given ones merged over
 * them (relax a median pruner by giving only `n_warmup_steps`); another name starts from defaults.
 * Options that `derived` names (defaults computed from other options) are dropped unless given,
 * so the new options derive them again (ASHA's min_resource after a new max_resource or η).
 */
function mergeRef(ref: PluginRef, current: PluginConfig | null, derived?: (o: Record<string, unknown>) => readonly string[]): PluginRef {
  if (typeof ref === "string" || current === null || ref.name !== current.name) return ref;
  const given = ref.options ?? {};
  const kept: Record<string, unknown> = { ...current.options };
  for (const k of derived?.(current.options) ?? []) if (!(k in given)) delete kept[k];
  return { name: ref.name, options: { ...kept, ...given } };
}

/**
 * The option names given for the plug-ins after an update (`StudyConfig.optionsGiven`): a plug-in
 * the update names again with options merges them over the current one's (as `mergeRef` merges
 * the values), less those `mergeRef` dropped to derive again (ASHA's min_resource given at its
 * derived value, then η changed: the new value is derived, not given), one it names bare or
 * replaces keeps only what it gives. Undefined for a study stored before the names were kept:
 * describe_study then tells them by their defaults.
 */
function optionsGivenAfter(
  plugins: PluginCatalogue,
  old: StudyConfig,
  a: S.UpdateStudyArgs,
  scheduler: PluginConfig | null,
): OptionsGiven | undefined {
  const was = old.optionsGiven;
  if (was === undefined) return undefined;
  const after = (kind: "strategy" | "scheduler", ref: unknown, current: PluginConfig | null, before: readonly string[] | null): string[] => {
    const names = plugins.givenOptionNames(kind, ref as PluginRef);
    const merged = typeof ref === "object" && ref !== null && current !== null && (ref as { name?: unknown }).name === current.name;
    if (!merged) return names;
    const rederived = kind === "scheduler" && current !== null ? (plugins.scheduler(current.name)?.derivedOptions?.(current.options) ?? []) : [];
    return [...new Set([...(before ?? []).filter((k) => !rederived.includes(k)), ...names])];
  };
  return {
    strategy: a.strategy === undefined ? was.strategy : after("strategy", a.strategy, old.strategy, was.strategy),
    scheduler: a.scheduler === undefined ? was.scheduler : scheduler === null ? null : after("scheduler", a.scheduler, old.scheduler, was.scheduler),
  };
}

/**
 * What a stored retry policy asks for beyond the default one (which every study created without
 * `retry` holds, `max_retries` 2 included), as create_study's `retry` gives it (`checkRetry`).
 */
function retryArgs(r: RetryPolicy): RetryArgs {
  return {
    ...(r.maxRetries !== DEFAULT_RETRY.maxRetries ? { max_retries: r.maxRetries } : {}),
    ...(r.retryOnFail !== DEFAULT_RETRY.retryOnFail ? { retry_on_fail: r.retryOnFail } : {}),
    ...((r.keepIntermediate ?? false) !== DEFAULT_RETRY.keepIntermediate ? { keep_intermediate: r.keepIntermediate } : {}),
  };
}

/** Refuses a strategy switch the running trials cannot survive (see the module comment). */
function checkSwitch(s: StudyState, plugins: PluginCatalogue, from: PluginConfig, to: PluginConfig): void {
  const running = s.running.size;
  if (running === 0) return;
  // A strategy this server lacks (loadStrategy's stand-in) steers nothing here: its trials lost that already.
  const steers = (cfg: PluginConfig) => typeof plugins.loadStrategy(cfg).strategy.onReport === "function";
  // The same strategy with other options (a larger PBT population_size) is no switch: say what it is.
  if (from.name === to.name && steers(to))
    throw failedPrecondition(
      `cannot change the options of strategy '${to.name}' while ${running} trial(s) run: it steers its running trials at their reports ` +
        "(exploit, explore, hypergradient steps) by the options they started with. " +
        "Call stop_study, let the running trials finish (wait_for_progress), then change them and resume_study.",
      { study: s.study.name, running, strategy: to.name },
    );
  for (const [cfg, side] of [[from, "from"], [to, "to"]] as const)
    if (steers(cfg))
      throw failedPrecondition(
        `cannot switch ${side} strategy '${cfg.name}' while ${running} trial(s) run: it steers its running trials at their reports ` +
          `(exploit, explore, hypergradient steps), so they would ${side === "from" ? "lose their steering" : "never have had it"}. ` +
          "Call stop_study, let the running trials finish (wait_for_progress), then switch and resume_study.",
        { study: s.study.name, running, strategy: cfg.name },
      );
}

/** The declared space with `given` distributions widened in. @throws INVALID_ARGUMENT, FAILED_PRECONDITION. */
function widen(s: StudyState, plugins: PluginCatalogue, strategy: PluginConfig, given: Record<string, unknown>): SearchSpace {
  const old = s.study.config.space;
  const out: Record<string, Distribution> = { ...old };
  let widened = false;
  for (const [name, raw] of Object.entries(given)) {
    const prev = old[name];
    if (!prev)
      throw invalidArgument(
        `parameter '${name}' is not declared in '${s.study.name}'; update_study only widens declared parameters (${Object.keys(old).join(", ") || "none"}). ` +
          "Existing trials have no value for a new one: draw it define-by-run (suggest) instead.",
        { param: name, declared: Object.keys(old) },
      );
    const next = parseDistribution(name, raw);
    const problem = wideningProblem(name, prev, next, valuesOf(s, name));
    if (problem) throw invalidArgument(`cannot change the space of '${s.study.name}': ${problem}`, { param: name });
    out[name] = next;
    widened ||= JSON.stringify(next) !== JSON.stringify(prev);
  }
  if (widened) checkSpaceSize(out);
  const factory = plugins.strategy(strategy.name);
  // A strategy this server lacks (a --plugins module it was not started with) cannot say whether its state survives.
  if (widened && factory === undefined && s.trials.length > 0)
    throw failedPrecondition(
      `cannot widen the space of '${s.study.name}': its strategy '${strategy.name}' is not one this server has, so whether it takes a wider space ` +
        "once trials exist is unknown; restart this server with the --plugins module that has it, or switch the strategy in the same update_study",
      { study: s.study.name, strategy: strategy.name },
    );
  const fixed = factory?.fixedSpace;
  if (widened && fixed && s.trials.length > 0)
    throw failedPrecondition(`strategy '${strategy.name}' cannot take a wider space once trials exist: ${fixed}`, { study: s.study.name, strategy: strategy.name });
  return out;
}

function* valuesOf(s: StudyState, name: string): Generator<ParamValue> {
  for (const t of s.trials) if (name in t.params) yield t.params[name] as ParamValue;
}

/** The state's plug-in parts rebuilt for the updated study (the history stays). */
function rebuild(s: StudyState, plugins: PluginCatalogue, study: Study): Pick<StudyState, "strategy" | "factory" | "scheduler" | "ctx" | "paramDists"> {
  const c = study.config;
  // A plug-in this server lacks and the update kept gets its stand-in again (as at start: makeState).
  const { strategy, factory } = plugins.loadStrategy(c.strategy);
  const paramDists = new Map(s.paramDists);
  for (const [k, d] of Object.entries(c.space)) paramDists.set(k, d);
  return {
    strategy,
    factory,
    scheduler: plugins.loadScheduler(c.scheduler),
    ctx: { ...s.ctx, space: c.space, strategy: c.strategy, scheduler: c.scheduler },
    paramDists,
  };
}
