/**
 * Threshold pruning (Optuna 5.0 `ThresholdPruner`): prune a trial whose latest value is
 * below `lower` or above `upper`, or is NaN. Bounds are on the raw value, whatever the
 * direction (they catch divergence: a loss above 1e3, an accuracy below chance).
 *
 * Defaults (Optuna 5.0): n_warmup_steps = 0, interval_steps = 1; at least one bound is
 * required. ±Infinity compares as a number (Infinity > any finite upper bound).
 */
import { z } from "zod";
import type { DecisionResult, ReportRequest, Scheduler, SchedulerFactory } from "../../domain/plugin.js";
import { fmt, prune } from "../common.js";
import { isFirstInInterval } from "../percentile/percentile-scheduler.js";

const bound = z.number().refine((v) => !Number.isNaN(v), "must be a number");
const options = z
  .object({
    /** Prune when the latest value is smaller than this. */
    lower: bound.optional(),
    /** Prune when the latest value is larger than this. */
    upper: bound.optional(),
    /** Reports at steps below this are never pruned (Optuna: 0). */
    n_warmup_steps: z.number().min(0).default(0),
    /** Check at most once per this many steps after the warm-up (Optuna: 1). */
    interval_steps: z.number().positive().default(1),
  })
  .strict()
  .refine((o) => o.lower !== undefined || o.upper !== undefined, "give lower, upper or both")
  .refine((o) => o.lower === undefined || o.upper === undefined || o.lower <= o.upper, "lower must be <= upper");
export type ThresholdOptions = z.output<typeof options>;

export class ThresholdScheduler implements Scheduler {
  constructor(private readonly opts: ThresholdOptions) {}

  onReport(req: ReportRequest): DecisionResult | null {
    const o = this.opts;
    const { step, value } = req;
    if (step < o.n_warmup_steps) return null;
    if (!isFirstInInterval(req.trial, step, o.n_warmup_steps, o.interval_steps)) return null;
    if (Number.isNaN(value)) return { decision: prune(`threshold: value at step ${step} is NaN`) };
    if (o.lower !== undefined && value < o.lower)
      return { decision: prune(`threshold: value ${fmt(value)} at step ${step} is below ${fmt(o.lower)}`) };
    if (o.upper !== undefined && value > o.upper)
      return { decision: prune(`threshold: value ${fmt(value)} at step ${step} is above ${fmt(o.upper)}`) };
    return null;
  }
}

export const thresholdSchedulerFactory: SchedulerFactory<ThresholdOptions> = {
  name: "threshold",
  description: "Prunes a trial whose latest value leaves [lower, upper] or is NaN (Optuna's ThresholdPruner).",
  options,
  create: (o) => new ThresholdScheduler(o),
};
