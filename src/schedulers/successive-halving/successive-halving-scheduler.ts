/**
 * Successive halving as a pruner (Jamieson & Talwalkar, AISTATS 2016; asynchronous form of
 * Optuna 5.0 `SuccessiveHalvingPruner`, itself after ASHA, Li et al. MLSys 2020).
 *
 * Rung k sits at resource `min_resource · η^(s + k)` (s = `min_early_stopping_rate`). When a
 * report's step reaches a rung the trial has not passed yet, its current value is recorded
 * in its `systemAttrs` under `completed_rung_<k>` (the rung's resource in
 * `completed_rung_<k>_resource`) and compared with the values every other trial recorded at
 * that rung's resource (any state: running, pruned and complete trials all compete). The
 * resource is compared because the ladder moves when the study is updated (a new min_resource,
 * reduction_factor or min_early_stopping_rate; Hyperband's brackets likewise): rung 0 at
 * resource 1 before and at 3 after, and values from two resources are not comparable. A trial
 * whose record at rung k was made at another resource has not passed the current rung k and is
 * judged there again. A record without its resource (made before it was kept) counts as at the
 * current ladder's resource.
 * The trial is promoted when it is in the top ⌊n/η⌋ of the n values (itself included), or,
 * while n < η, when it is the best so far (Optuna's rule: without pausing, the first η − 1
 * trials cannot wait for peers); otherwise it is pruned. One report may pass several rungs.
 *
 * State is the recorded rung values, so a restarted server decides the same. Recorded values
 * are encoded with `encodeNumber` (JSON keeps no NaN/Infinity).
 *
 * Defaults (Optuna 5.0): reduction_factor = 4, min_early_stopping_rate = 0,
 * min_resource = "auto". Optuna's "auto" is max(⌊last step / 100⌋, 1) over the complete
 * trials when first needed and then cached in memory, which a restarted server would compute
 * differently; here it is fixed by the *first* trial to complete (earliest `finishedAt`, then
 * number) that reported something, which every restart sees the same. Until a trial
 * completes nothing is pruned. Optuna's `bootstrap_count` is not offered.
 *
 * NaN: a NaN report prunes at once, at a rung or between rungs, and also while "auto" still waits
 * for the first completion; recorded NaN (from servers before that rule) counts as the worst value.
 */
import { z } from "zod";
import type { Trial } from "../../domain/trial.js";
import type { DecisionResult, ReportRequest, Scheduler, SchedulerFactory } from "../../domain/plugin.js";
import {
  type RungLadder,
  decodeNumber,
  encodeNumber,
  MAX_RUNGS,
  firstCompletedLastStep,
  fmt,
  lossOf,
  prune,
  reductionFactor,
  resource,
  rungResource,
  sortedAsc,
} from "../common.js";

/** The attribute holding a trial's value at rung k. */
export const rungKey = (k: number): string => `completed_rung_${k}`;
/** The attribute holding the resource that value was recorded at (see the file header). */
export const rungResourceKey = (k: number): string => `completed_rung_${k}_resource`;

/** The resource trial t's record at rung k was made at; absent, the current ladder's `r` (see the file header). */
function recordedAt(t: Trial, k: number, r: number): number {
  const at = t.systemAttrs[rungResourceKey(k)];
  return typeof at === "number" ? at : r;
}

/** The rung ladder of one successive-halving instance (the shared rung table). */
export type HalvingLadder = RungLadder;

/**
 * Optuna's promotion rule: is `loss` in the top ⌊n/η⌋ of `losses` (which include it), with
 * at least the single best promoted.
 */
export function isPromotable(loss: number, losses: readonly number[], eta: number): boolean {
  const sorted = sortedAsc(losses);
  const idx = Math.max(Math.floor(sorted.length / eta) - 1, 0);
  return loss <= (sorted[idx] as number);
}

/**
 * One successive-halving decision for a report. `competes(t)` says whether trial t is in the
 * same race (Hyperband: the same bracket). Returns null when the report passed no rung.
 */
export function halvingDecision(
  req: ReportRequest,
  ladder: HalvingLadder,
  competes: (t: Trial) => boolean,
  label: string,
): DecisionResult | null {
  const { trial, step, value } = req;
  const dir = req.study.direction;
  if (Number.isNaN(value)) return { decision: prune(`${label}: value at step ${fmt(step)} is NaN`) };
  // The first rung not passed at its current resource: a record made at another (before an update moved the ladder) is judged again.
  const passed = (k: number) => rungKey(k) in trial.systemAttrs && recordedAt(trial, k, rungResource(ladder, k)) === rungResource(ladder, k);
  let rung = 0;
  while (rung < MAX_RUNGS && passed(rung)) rung++;
  const attrs: Record<string, unknown> = {};
  // At most MAX_RUNGS rungs: a ladder without a top (successive halving) and a tiny min_resource
  // would otherwise pass rungs for ever in one report.
  for (; rung < MAX_RUNGS; ) {
    const r = rungResource(ladder, rung);
    if (!(r < ladder.maxResource) || step < r) break;
    const key = rungKey(rung);
    const own = lossOf(dir, value);
    const losses = [own];
    for (const t of req.trials) {
      if (t.number === trial.number || !competes(t) || recordedAt(t, rung, r) !== r) continue;
      const v = decodeNumber(t.systemAttrs[key]);
      if (v !== undefined) losses.push(lossOf(dir, v));
    }
    attrs[key] = encodeNumber(value);
    attrs[rungResourceKey(rung)] = r;
    if (!isPromotable(own, losses, ladder.eta))
      return {
        decision: prune(
          `${label}: value ${fmt(value)} is not in the top 1/${ladder.eta} of ${losses.length} at rung ${rung} (resource ${fmt(r)})`,
        ),
        systemAttrs: attrs,
      };
    rung++;
  }
  return Object.keys(attrs).length > 0 ? { decision: { action: "continue" }, systemAttrs: attrs } : null;
}

/**
 * "auto" min_resource: max(⌊L / 100⌋, 1) where L is the last step of the first trial to
 * complete (see the file header), or null while no trial has completed.
 */
export function autoMinResource(trials: readonly Trial[]): number | null {
  const last = firstCompletedLastStep(trials);
  return last === null ? null : Math.max(Math.floor(last / 100), 1);
}

const options = z
  .object({
    /** Resource of rung 0 (before η^s), in step units, or "auto" (Optuna's default). */
    min_resource: z.union([z.literal("auto"), resource()]).default("auto"),
    /** η: the top 1/η of a rung goes on (Optuna: 4). */
    reduction_factor: reductionFactor(4),
    /** s: rung 0 at min_resource · η^s (Optuna: 0). */
    min_early_stopping_rate: z.number().int().min(0).max(30).default(0),
  })
  .strict();
export type SuccessiveHalvingOptions = z.output<typeof options>;

export class SuccessiveHalvingScheduler implements Scheduler {
  constructor(private readonly opts: SuccessiveHalvingOptions) {}

  onReport(req: ReportRequest): DecisionResult | null {
    const o = this.opts;
    // Before the ladder exists too ("auto" waits for a completion): a NaN stops the trial at once.
    if (Number.isNaN(req.value)) return { decision: prune(`successive-halving: value at step ${fmt(req.step)} is NaN`) };
    const min = o.min_resource === "auto" ? autoMinResource(req.trials) : o.min_resource;
    if (min === null) return null;
    const ladder = { minResource: min, eta: o.reduction_factor, rate: o.min_early_stopping_rate, maxResource: Infinity };
    return halvingDecision(req, ladder, () => true, "successive-halving");
  }
}

export const successiveHalvingSchedulerFactory: SchedulerFactory<SuccessiveHalvingOptions> = {
  name: "successive-halving",
  description:
    "Asynchronous successive halving: at each rung min_resource·η^(s+k) a trial goes on only if in the top 1/η of its rung (Optuna's SuccessiveHalvingPruner).",
  options,
  create: (o) => new SuccessiveHalvingScheduler(o),
};
