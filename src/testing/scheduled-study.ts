/**
 * An in-process study with a strategy *and* a scheduler, for tests of how they work together:
 * the service's ask and report paths mimicked without storage or sockets (scheduler
 * `beforeSuggest` first, the strategy for the params it left out, attributes merged the service's
 * way; every report goes to the scheduler; a prune decision stops the trial, reaching the budget
 * completes it). One worker, one step per report, steps 1, 2, … as a training loop reports epochs;
 * a promoted trial (`resume_from`) continues its run from `resume_budget`.
 */
import type { Params, SearchSpace } from "../domain/distributions.js";
import type { Direction, Trial } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import type { SchedulerFactory, StrategyFactory } from "../domain/plugin.js";
import { makeStudy, makeTrial } from "./fixtures.js";

export interface ScheduledStudyOptions {
  readonly strategy: StrategyFactory<any>;
  readonly strategyOptions?: Record<string, unknown>;
  readonly scheduler: SchedulerFactory<any>;
  readonly schedulerOptions?: Record<string, unknown>;
  readonly space: SearchSpace;
  /** The loss observed at step t for a configuration (NaN allowed). */
  readonly curve: (p: Params, t: number) => number;
  /** The study's budget: the step a trial trains to unless the scheduler says otherwise. */
  readonly maxResource: number;
  /** Stop once this many steps were trained in all. */
  readonly totalSteps: number;
  readonly seed: number;
  readonly direction?: Direction;
}

/** Runs the study; returns its trials (the last one may still be RUNNING when the steps ran out). */
export function runScheduledStudy(o: ScheduledStudyOptions): Trial[] {
  const schedulerOptions = o.scheduler.options.parse(
    o.scheduler.withStudyBudget ? o.scheduler.withStudyBudget(o.schedulerOptions ?? {}, o.maxResource) : (o.schedulerOptions ?? {}),
  ) as Record<string, unknown>;
  const strategyOptions = o.strategy.options.parse(o.strategyOptions ?? {}) as Record<string, unknown>;
  const study = makeStudy(o.space, {
    seed: o.seed,
    direction: o.direction ?? "minimize",
    strategy: { name: o.strategy.name, options: strategyOptions },
    scheduler: { name: o.scheduler.name, options: schedulerOptions },
  });
  const strategy = o.strategy.create(strategyOptions);
  const scheduler = o.scheduler.create(schedulerOptions);
  const trials: Trial[] = [];
  let steps = 0;
  while (steps < o.totalSteps) {
    const number = trials.length;
    const req = { study, trials: [...trials], trialNumber: number, rng: Rng.derive(o.seed, number, "suggest") };
    const fromScheduler = scheduler.beforeSuggest?.(req) ?? null;
    let params: Params = { ...(fromScheduler?.params ?? {}) };
    let systemAttrs: Record<string, unknown> = { ...(fromScheduler?.systemAttrs ?? {}) };
    if (Object.keys(o.space).some((k) => !(k in params))) {
      const s = strategy.suggest(req);
      params = { ...s.params, ...params };
      systemAttrs = { ...(s.systemAttrs ?? {}), ...systemAttrs };
    }
    let t: Trial = makeTrial(number, params, o.space, { state: "RUNNING", value: null, systemAttrs });
    trials.push(t);
    const resume = typeof systemAttrs.resume_budget === "number" ? systemAttrs.resume_budget : 0;
    for (let step = Math.floor(resume) + 1; steps < o.totalSteps; step++) {
      const value = o.curve(params, step);
      steps++;
      t = { ...t, intermediate: [...t.intermediate, { step, value }] };
      trials[number] = t;
      const res = scheduler.onReport({ study, trials: [...trials], trial: t, step, value, data: {}, rng: Rng.derive(o.seed, number, "report", step) });
      t = { ...t, systemAttrs: { ...t.systemAttrs, ...(res?.systemAttrs ?? {}) } };
      const budget = res?.decision.action === "continue" && res.decision.budget !== undefined ? res.decision.budget : (t.systemAttrs.budget as number | undefined) ?? o.maxResource;
      if (res?.decision.action === "prune") t = { ...t, state: "PRUNED", value: Number.isNaN(value) ? null : value, finishedAt: steps };
      else if (step >= budget) t = { ...t, state: "COMPLETE", value, finishedAt: steps };
      trials[number] = t;
      if (t.state !== "RUNNING") break;
    }
  }
  return trials;
}

/** Trials whose params equal an earlier trial's, a promotion's continuation (`resume_from`) excepted. */
export function repeatedConfigurations(trials: readonly Trial[]): Trial[] {
  const seen = new Set<string>();
  const out: Trial[] = [];
  for (const t of trials) {
    if (typeof t.systemAttrs.resume_from === "number") continue;
    const key = JSON.stringify(Object.keys(t.params).sort().map((k) => [k, t.params[k]]));
    if (seen.has(key)) out.push(t);
    seen.add(key);
  }
  return out;
}
