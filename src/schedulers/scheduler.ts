/**
 * The scheduler plug-in family: schedulers decide *whether a running trial goes on*
 * (pruners, successive halving, Hyperband, ASHA, BOHB's bracket logic).
 *
 * Contract (checked by `scheduler.case.ts`):
 * - A scheduler is a function of the study's history: its state is recomputed from
 *   `trials` (and what it stored in trial `systemAttrs`), so a restarted server makes
 *   the same decisions it would have made.
 * - `onReport` is cheap and synchronous; it runs on the event loop.
 * - All randomness comes from `req.rng`.
 */
import type { z } from "zod";
import type { PluginConfig } from "../domain/trial.js";
import type { DecisionResult, ReportRequest, Suggestion, SuggestRequest } from "../strategies/strategy.js";

export interface Scheduler {
  /** Decide on a report. Return null for "no opinion" (treated as continue). */
  onReport(req: ReportRequest): DecisionResult | null;
  /**
   * Called before the strategy for each new trial. A scheduler may take the trial over
   * (e.g. promote an earlier configuration to a higher budget: return its params) or
   * only add attributes such as the budget and bracket (return params `{}` plus attrs;
   * the strategy then fills the params). Return null to leave the trial to the strategy.
   */
  beforeSuggest?(req: SuggestRequest): Suggestion | null;
}

export interface SchedulerFactory<O = unknown> {
  readonly name: string;
  readonly description: string;
  readonly options: z.ZodType<O>;
  /** Reason the combination with a strategy makes no sense, or null. */
  incompatibleWith?(strategy: PluginConfig, options: O): string | null;
  /**
   * The study's budget (create_study `max_resource`: how far one trial trains at most, in the
   * client's step units) applied to raw options before they are validated: schedulers that race
   * trials over resources take it as their `max_resource` when their options leave it out
   * (`fillMaxResource`). Pure; called once, when the study is created.
   */
  withStudyBudget?(options: Record<string, unknown>, maxResource: number): Record<string, unknown>;
  create(options: O): Scheduler;
}
