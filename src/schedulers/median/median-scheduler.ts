/**
 * Median pruning (Optuna 5.0 `MedianPruner`, the rule of Google Vizier's "median stopping
 * rule", Golovin et al. KDD 2017): prune a trial whose best value so far is worse than the
 * median of the complete trials' values at the same step. It is the percentile pruner at 50;
 * see `../percentile/percentile-scheduler.ts` for the mechanics and the NaN rule.
 *
 * Defaults (Optuna 5.0): n_startup_trials = 5, n_warmup_steps = 0, interval_steps = 1,
 * n_min_trials = 1.
 */
import { z } from "zod";
import { PercentileScheduler, pruningWindowShape } from "../percentile/percentile-scheduler.js";
import type { SchedulerFactory } from "../../domain/plugin.js";
import { foreignOptionNames } from "../../domain/plugin-options.js";
import { RAY_MEDIAN_NAMES } from "../common.js";

const options = foreignOptionNames(z.object(pruningWindowShape).strict(), RAY_MEDIAN_NAMES);
export type MedianOptions = z.output<typeof options>;

export const medianSchedulerFactory: SchedulerFactory<MedianOptions> = {
  name: "median",
  description:
    "Prunes a trial whose best value so far is worse than the median of complete trials at the same step (Optuna's MedianPruner).",
  options,
  create: (o) => new PercentileScheduler({ ...o, percentile: 50 }, "median"),
};
