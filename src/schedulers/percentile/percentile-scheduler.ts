/**
 * Percentile pruning (Optuna 5.0 `PercentilePruner`; `MedianPruner` is percentile = 50).
 *
 * At a report at step t the trial is pruned when its best value so far is worse than the
 * `percentile`-th best of the values that COMPLETE trials reported at exactly step t
 * (numpy's linear interpolation; for maximisation the (100 − p)-th percentile of the raw
 * values, i.e. the same rank counted from the good end).
 *
 * Nothing is pruned while fewer than `n_startup_trials` trials are COMPLETE, before step
 * `n_warmup_steps`, when fewer than `n_min_trials` complete trials reported step t, or on a
 * report that is not the first at or after an `interval_steps` boundary counted from
 * `n_warmup_steps` (Optuna's `_is_first_in_interval_step`, which copes with irregular steps).
 *
 * NaN: a report whose value is NaN prunes the trial at once, before any of the checks above
 * (startup trials, warm-up, interval). Optuna prunes only when every value so far is NaN and
 * only after those checks, so a run that diverged between rungs kept training (issue 17: 1,539
 * of 3,240 steps of one benchmark run were NaN); a diverged run does not recover. Other trials'
 * NaN values at step t count as the worst value (Optuna's `nanpercentile` drops them instead; we
 * keep them because a diverged run is a real, bad observation and dropping it makes the
 * cut-off stricter on the survivors).
 */
import { z } from "zod";
import type { Trial } from "../../domain/trial.js";
import type { DecisionResult, ReportRequest, Scheduler, SchedulerFactory } from "../../domain/plugin.js";
import { completeCount, fmt, lossOf, previousStep, prune, quantile, sortedAsc, valueAt } from "../common.js";

/** Options shared by the median and percentile pruners; defaults are Optuna 5.0's. */
export const pruningWindowShape = {
  /** Complete trials needed before anything is pruned (Optuna: 5). */
  n_startup_trials: z.number().int().min(0).default(5),
  /** Reports at steps below this are never pruned (Optuna: 0). */
  n_warmup_steps: z.number().min(0).default(0),
  /** Check at most once per this many steps after the warm-up (Optuna: 1). */
  interval_steps: z.number().positive().default(1),
  /** Complete trials that must have reported the step for a comparison (Optuna: 1). */
  n_min_trials: z.number().int().min(1).default(1),
};

const options = z
  .object({
    /** Keep trials whose best value is within the best `percentile` %. Required, as in Optuna. */
    percentile: z.number().min(0).max(100),
    ...pruningWindowShape,
  })
  .strict();
export type PercentileOptions = z.output<typeof options>;

/** Whether `step` is the first report at or after an interval boundary (Optuna's rule). */
export function isFirstInInterval(trial: Trial, step: number, warmup: number, interval: number): boolean {
  const boundary = Math.floor((step - warmup) / interval) * interval + warmup;
  return previousStep(trial) < boundary;
}

export class PercentileScheduler implements Scheduler {
  constructor(private readonly opts: PercentileOptions, private readonly label = "percentile") {}

  onReport(req: ReportRequest): DecisionResult | null {
    const o = this.opts;
    const { trial, step } = req;
    const dir = req.study.direction;
    if (Number.isNaN(req.value)) return { decision: prune(`${this.label}: value at step ${step} is NaN`) };
    if (trial.intermediate.length === 0) return null;
    // With the service's statistics, no scan of the trials (O(1) instead of O(n) per report).
    const stats = req.stats;
    const completed = stats ? null : req.trials.filter((t) => t.state === "COMPLETE" && t.number !== trial.number);
    const nComplete = stats ? stats.completeCount - (trial.state === "COMPLETE" ? 1 : 0) : (completed as Trial[]).length;
    if (nComplete === 0 || (stats ? stats.completeCount : completeCount(req.trials)) < o.n_startup_trials) return null;
    if (step < o.n_warmup_steps) return null;
    if (!isFirstInInterval(trial, step, o.n_warmup_steps, o.interval_steps)) return null;

    let best = Infinity;
    for (const iv of trial.intermediate) if (!Number.isNaN(iv.value)) best = Math.min(best, lossOf(dir, iv.value));

    let others: readonly number[];
    if (stats) others = stats.completeLossesAt(step);
    else {
      const losses: number[] = [];
      for (const t of completed as Trial[]) {
        const v = valueAt(t, step);
        if (v !== undefined) losses.push(lossOf(dir, v));
      }
      others = sortedAsc(losses);
    }
    if (others.length < o.n_min_trials) return null;
    const cut = quantile(others, o.percentile / 100);
    if (best > cut) {
      const sign = dir === "minimize" ? 1 : -1;
      return {
        decision: prune(
          `${this.label}: best value ${fmt(sign * best)} is worse than the ${o.percentile}th percentile ` +
            `${fmt(sign * cut)} of ${others.length} complete trials at step ${step}`,
        ),
      };
    }
    return null;
  }
}

export const percentileSchedulerFactory: SchedulerFactory<PercentileOptions> = {
  name: "percentile",
  description:
    "Prunes a trial whose best value is outside the best `percentile` % of complete trials at the same step (Optuna's PercentilePruner).",
  options,
  create: (o) => new PercentileScheduler(o),
};
