/**
 * How a new trial's parameters are filled, besides the strategy's `suggest`: declared ones it left
 * out (`fillDeclared`), and define-by-run ones (`drawParam`, `suggest` op).
 *
 * Define-by-run parameters for strategies that model `study.space` (`StrategyFactory.infersSpace`:
 * GP, CMA-ES, NSGA-II, ParEGO, EHVI, TPE and the default `auto`). Optuna's samplers sample
 * "relative" parameters over the intersection search space (the parameters every COMPLETE trial
 * drew from one distribution) and the rest independently; here those strategies drew every
 * parameter outside the declared space uniformly, so an Optuna objective moved over unchanged
 * (`trial.suggest_float(...)` with no `space=`) ran a random search under `strategy="gp"` or
 * `"nsga2"`, without a word. TPE and `auto` drew them with independent (univariate) TPE, so the
 * default strategy never used its GP on such a study, and TPE differed from Optuna's multivariate
 * TPESampler (docs/BENCHMARKS.md, "Define-by-run studies: the default strategy models the
 * intersection space").
 *
 * Now `ask` hands such a strategy the declared space plus the intersection's other parameters
 * (names sorted, so a restarted server, which rebuilds the intersection in number order, sees
 * the same space), and keeps its values for them in the new trial's
 * `system_attrs.proposed_params`. A `suggest` of one of those names with a distribution that
 * holds the proposal returns it; any other is drawn by the strategy's `suggestParam` (TPE's
 * univariate model; uniform for the others). The trial's params hold only what its objective
 * suggested, as in Optuna. A study that declares every parameter it suggests sees none of this.
 *
 * Which trials the intersection counts follows Optuna's sampler of the same algorithm
 * (`StrategyFactory.inferSpaceFrom`): COMPLETE ones by default (GPSampler, CmaEsSampler,
 * NSGAIISampler), COMPLETE and PRUNED ones for TPE (TPESampler's `include_pruned=True`) and `auto`
 * (whose GP learns from PRUNED trials too), none for TPE's `multivariate: false`. `gp` and `cmaes`
 * learn from PRUNED trials as well, but counting them for the intersection did not improve either
 * under ASHA or Hyperband (measured; their factories' `inferSpaceFrom`), so they keep Optuna's rule. Under a scheduler
 * with several workers few trials complete early on: under ASHA with 8 simulated workers 30 trials
 * (Hyperband: 59) were asked before the first one completed, and `auto` drew all of their
 * define-by-run parameters with univariate TPE.
 *
 * A queued trial (enqueued with some parameters, or a retry) lacking parameters of that space gets
 * the strategy's values for them at its ask (`queuedSuggestion`), as Optuna's enqueued trials get
 * their sampler's relative parameters; before, they were drawn independently.
 */
import { type Distribution, type ParamValue, type Params, type SearchSpace, contains, isSingleValue, roundedPastBound } from "../domain/distributions.js";
import { TuneportError } from "../domain/errors.js";
import { sampleUniform } from "../domain/sampling.js";
import type { StudyContext } from "../domain/plugin.js";
import { Rng } from "../math/rng.js";
import type { ServiceCore } from "./core.js";
import type { StudyState, TrialRecord } from "./study-state.js";
import type { Trial } from "../domain/trial.js";

/**
 * Fills declared parameters the trial lacks, through the strategy's define-by-run hook. A value
 * it holds that its distribution does not (a strategy's or scheduler's proposal off its range; an
 * enqueued value was checked) is drawn anew, and logged: replaced silently, a plug-in's defect
 * would only show as worse search (a grid's point exp(log(0.1)) above a high of 0.1).
 */
export function fillDeclared(core: ServiceCore, s: StudyState, t: TrialRecord): void {
  for (const [name, d] of Object.entries(s.study.config.space)) {
    if (name in t.params && contains(d, t.params[name] as ParamValue)) {
      t.distributions[name] = d;
      continue;
    }
    // A float's rounding past a bound (exp(log(0.1)); a grid point a server before exact bounds
    // stored, re-queued after its lease was lost) is the bound meant, not a reason to draw at random.
    const bound = name in t.params ? roundedPastBound(d, t.params[name] as ParamValue) : null;
    if (bound !== null) {
      t.params[name] = bound;
      t.distributions[name] = d;
      continue;
    }
    if (name in t.params)
      core.log.error({ study: s.study.name, trial: t.number, param: name, value: String(t.params[name]), strategy: s.ctx.strategy.name }, "a proposed value lies outside its distribution; drawing another");
    t.params[name] = drawParam(core, s, t, name, d);
    t.distributions[name] = d;
  }
}

/** One define-by-run value: the strategy's `suggestParam`, uniform without one (or when it gives a value `d` does not hold). */
export function drawParam(core: ServiceCore, s: StudyState, t: TrialRecord, name: string, d: Distribution): ParamValue {
  const rng = Rng.derive(s.study.config.seed, t.number, "param", name);
  const v = s.strategy.suggestParam
    ? s.strategy.suggestParam({ study: s.ctx, trials: s.trials, trial: t, name, distribution: d, rng })
    : sampleUniform(d, rng);
  if (!contains(d, v)) {
    const bound = roundedPastBound(d, v);
    if (bound !== null) return bound;
    core.log.error({ study: s.study.name, param: name, strategy: s.ctx.strategy.name }, "strategy produced an invalid value; sampling uniformly");
    return sampleUniform(d, rng);
  }
  return v;
}

/** The system attribute holding a trial's proposals for define-by-run parameters. */
export const PROPOSED_PARAMS = "proposed_params";

/**
 * The context a strategy's `suggest` sees: `s.ctx`, its space widened by the intersection for
 * `infersSpace` strategies: of the COMPLETE trials, or of the COMPLETE and PRUNED ones where the
 * factory says so for the study's options (`inferSpaceFrom`: TPE and `auto`); none for "none".
 */
export function suggestContext(s: StudyState): StudyContext {
  if (s.factory.infersSpace !== true) return s.ctx;
  const from = s.factory.inferSpaceFrom?.(s.study.config.strategy.options) ?? "complete";
  const inter = from === "finished" ? s.agg.finishedIntersection : from === "complete" ? s.agg.intersection : null;
  if (inter === null || inter.size === 0) return s.ctx;
  const declared = s.study.config.space;
  const extra: [string, Distribution][] = [];
  for (const [k, d] of inter) if (!(k in declared) && !isSingleValue(d)) extra.push([k, d]);
  if (extra.length === 0) return s.ctx;
  extra.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const space: SearchSpace = { ...declared, ...Object.fromEntries(extra) };
  // A widened space the strategy would refuse to be declared with (CMA-ES past its dimensions) stays unwidened.
  if (s.factory.spaceProblem?.(space, s.study.config.strategy.options) != null) return s.ctx;
  return { ...s.ctx, space };
}

/**
 * The values of `params` for the define-by-run parameters of `ctx`'s space (those its distribution
 * holds), or null for none; `fixed` (a scheduler's, already the trial's params) are left out.
 */
export function proposalsOf(s: StudyState, ctx: StudyContext, params: Params, fixed: Params = {}): Params | null {
  if (ctx === s.ctx) return null;
  let out: Record<string, ParamValue> | null = null;
  for (const [k, d] of Object.entries(ctx.space)) {
    const v = params[k];
    if (k in s.study.config.space || k in fixed || v === undefined || !contains(d, v)) continue;
    (out ??= {})[k] = v;
  }
  return out;
}

/**
 * The trials a strategy's `suggest` sees under `ctx`: `s.trials`, with each RUNNING trial's
 * proposals (`proposed_params`) for parameters of `ctx`'s space that its objective has not suggested
 * yet taken as its params, so that the pending trial counts as a point already being evaluated
 * (TPE's constant liar, the GP's kriging believer) from its ask on, not only from its objective's
 * first `suggest`. Optuna's TPESampler reads its relative params of a running trial the same way
 * (`_get_params`). The stored trials are unchanged; `s.trials` itself when nothing is added.
 */
export function trialsWithProposals(s: StudyState, ctx: StudyContext): readonly Trial[] {
  if (ctx === s.ctx) return s.trials;
  let out: Trial[] | null = null;
  for (const n of s.running) {
    const t = s.trials[n];
    if (t === undefined) continue;
    let params: Record<string, ParamValue> | null = null;
    let dists: Record<string, Distribution> | null = null;
    for (const [k, d] of Object.entries(ctx.space)) {
      if (k in t.params || k in s.study.config.space) continue;
      const v = proposedValue(t, k, d);
      if (v === undefined) continue;
      (params ??= { ...t.params })[k] = v;
      (dists ??= { ...t.distributions })[k] = d;
    }
    if (params === null) continue;
    (out ??= [...s.trials])[n] = { ...t, params, distributions: dists ?? t.distributions };
  }
  return out ?? s.trials;
}

/** The trial's proposal for define-by-run parameter `name` when `dist` holds it, else undefined. */
export function proposedValue(t: TrialRecord, name: string, dist: Distribution): ParamValue | undefined {
  const proposed = t.systemAttrs[PROPOSED_PARAMS];
  if (proposed === null || typeof proposed !== "object" || Array.isArray(proposed)) return undefined;
  const v = (proposed as Record<string, unknown>)[name];
  if (typeof v !== "number" && typeof v !== "string" && typeof v !== "boolean" && v !== null) return undefined;
  return contains(dist, v) ? v : undefined;
}

/** The strategy's values for the parameters a queued trial lacks (`queuedSuggestion`), with the record they were computed for. */
export interface QueuedSuggestion {
  readonly trial: TrialRecord;
  readonly ctx: StudyContext;
  readonly params: Params;
}

/**
 * For the next queued trial `t` (enqueued with some parameters, or a retry): the strategy's suggestion when
 * it models the study's space (`infersSpace`) and `t` lacks parameters of that space, a declared one
 * or one of the intersection's without a proposal; else null (the trial is then filled as before:
 * declared parameters by `suggestParam`, the others at their `suggest`). Optuna samples an enqueued
 * trial's relative parameters the same way (`Trial.relative_params`, the fixed ones overriding them):
 * before, a partial enqueue drew the rest independently (uniformly under the GP). The suggestion is
 * the one a new trial of that number would get, from the same history; the queued trial itself is
 * in `trials`, WAITING. A strategy that fails is logged and leaves the trial as before.
 */
export async function queuedSuggestion(core: ServiceCore, s: StudyState): Promise<QueuedSuggestion | null> {
  const t = s.waiting[0] === undefined ? undefined : s.trials[s.waiting[0]];
  if (t === undefined || s.factory.infersSpace !== true) return null;
  const ctx = suggestContext(s);
  const declared = s.study.config.space;
  const lacks = ([k, d]: [string, Distribution]) =>
    !isSingleValue(d) && (k in declared ? !(k in t.params && contains(d, t.params[k] as ParamValue)) : !(k in t.params) && proposedValue(t, k, d) === undefined);
  if (!Object.entries(ctx.space).some(lacks)) return null;
  const req = { study: ctx, trials: trialsWithProposals(s, ctx), trialNumber: t.number, rng: Rng.derive(s.study.config.seed, t.number, "suggest") };
  try {
    return { trial: t, ctx, params: (await core.runner.suggest(s.factory, s.strategy, req)).params };
  } catch (err) {
    if (err instanceof TuneportError) throw err;
    core.log.error({ err, study: s.study.name, strategy: s.ctx.strategy.name }, "strategy failed on a queued trial; filling it as without one");
    return null;
  }
}

/**
 * Gives queued trial `t` (a fresh copy of `q.trial`) the suggestion's values: the declared
 * parameters it lacks, and proposals (`proposed_params`) for the intersection's others it has no
 * value or proposal for. Only values: the strategy's system attributes describe its own proposal
 * (the hedge's arm, a CMA-ES sample), which an enqueued trial's fixed values are not.
 */
export function takeQueuedSuggestion(s: StudyState, q: QueuedSuggestion, t: TrialRecord): void {
  const declared = s.study.config.space;
  for (const [k, d] of Object.entries(declared)) {
    const v = q.params[k];
    if (v !== undefined && contains(d, v) && !(k in t.params && contains(d, t.params[k] as ParamValue))) t.params[k] = v;
  }
  const proposed = proposalsOf(s, q.ctx, q.params, t.params);
  if (proposed === null) return;
  const own = t.systemAttrs[PROPOSED_PARAMS];
  const kept = own !== null && typeof own === "object" && !Array.isArray(own) ? (own as Params) : {};
  t.systemAttrs[PROPOSED_PARAMS] = { ...proposed, ...kept };
}
