/**
 * What counts toward PBT's and PB2's `max_failures` (see pbt-strategy.ts's file comment): told
 * FAILs, and lost leases or interrupted runs of trials that made no progress (a script that dies
 * hard never tells FAIL; one that a supervisor restarts and that exits before its first report
 * tells FAIL interrupted every time).
 */
import type { Trial } from "../../domain/trial.js";
import { lineageOf, memberOf } from "./lineage.js";

/**
 * A FAIL that the training script caused: told FAIL by its client (a raised loop, `tell` FAIL).
 * A lost lease is not, nor a run its client told interrupted (`system_attrs.interrupted`: the
 * user's Ctrl-C or a stop signal): both are counted apart, only without progress (`stoppedOutside`,
 * `failureCounts`); nor is a cancelled queued trial.
 */
export function scriptFailure(t: Trial): boolean {
  return t.state === "FAIL" && !stoppedOutside(t) && t.systemAttrs.cancelled !== true;
}

/** The reaper failed the trial: its worker stopped heartbeating (killed, preempted, crashed hard or cut off). */
export function leaseLost(t: Trial): boolean {
  return t.state === "FAIL" && t.systemAttrs.fail_reason === "lease_expired";
}

/**
 * The run was stopped from outside the training script: its lease was lost, or its client told it
 * interrupted (Ctrl-C, a stop signal, a `sys.exit`). Counted toward `max_failures` only in a run of
 * such trials without progress, so a crash loop (or an exit loop under a restarting supervisor) is
 * still given up, and a user's occasional Ctrl-C is not held against the slot.
 */
function stoppedOutside(t: Trial): boolean {
  return leaseLost(t) || (t.state === "FAIL" && t.systemAttrs.interrupted === true);
}

/** The highest step a trial reported (null: none). */
function highestStep(t: Trial): number | null {
  let h: number | null = null;
  for (const iv of t.intermediate) if (h === null || iv.step > h) h = iv.step;
  return h;
}

/**
 * A trial made no progress: it reported no step beyond `before` (the highest step its slot had
 * reached before it started) nor beyond its own start (a refill's restored step). A script that
 * dies before its first report, or at the same step every time, made none.
 */
function noProgress(t: Trial, before: number): boolean {
  const h = highestStep(t);
  return h === null || h <= Math.max(before, lineageOf(t)[0]?.step ?? 0) + 1e-9;
}

/**
 * Each slot's failures toward `max_failures`: its told FAILs (`scriptFailure`) in all, as Ray Tune
 * counts a trial's failures over its life, plus its current run of consecutive lost leases and
 * interrupted runs without progress (`stoppedOutside`; `lost`, also returned alone for the refusal's message). Consecutive, not in all: a slot
 * preempted before its first report now and then over a days-long run must not be given up, and a
 * crash loop is consecutive by nature; any trial of the slot that reports a step beyond the slot's
 * highest so far ends the run (the script works; that worker died for another reason).
 */
export function failureCounts(trials: readonly Trial[], n: number): { failures: number[]; lost: number[] } {
  const told = new Array<number>(n).fill(0);
  const lost = new Array<number>(n).fill(0);
  const highest = new Array<number>(n).fill(0);
  for (const t of trials) {
    const m = memberOf(t);
    if (m === null || m >= n) continue;
    if (scriptFailure(t)) told[m] = (told[m] as number) + 1;
    const stuck = noProgress(t, highest[m] as number);
    if (stoppedOutside(t) && stuck) lost[m] = (lost[m] as number) + 1;
    else if (!stuck) lost[m] = 0;
    highest[m] = Math.max(highest[m] as number, highestStep(t) ?? 0);
  }
  return { failures: told.map((f, m) => f + (lost[m] as number)), lost };
}
