/**
 * `enqueue(skip_if_exists)`'s duplicate rule, as Optuna's: only the same parameter names are a
 * duplicate ({x: 1} is not one of {x: 1, c: "a"}, which the strategy would complete differently),
 * numbers within a relative 1e-5 (numpy's `isclose` with atol 0: 0.1 + 0.2 is 0.3), anything else
 * equal. An enqueued trial is compared by the params it was enqueued with (Optuna's fixed_params),
 * not by those the strategy filled in when it was asked.
 */
import type { Params } from "../domain/distributions.js";
import { Rng } from "../math/rng.js";
import type { StudyState, TrialRecord } from "./study-state.js";

/**
 * The attributes the study's scheduler gives a new configuration (budget, bracket, ASHA
 * promotion's rung 0: `Scheduler.startAttrs`) and its strategy an enqueued trial (PBT: a member
 * slot, `Strategy.startAttrs`), for trial `t` asked from the queue; the caller lays
 * the trial's own over them. An enqueued trial had none at ask (`trial.budget` None), so a loop
 * sized by it trained to its own fallback, in ASHA promotion past rung 0's budget.
 */
export function queuedStartAttrs(s: StudyState, t: TrialRecord): Record<string, unknown> {
  const { scheduler, strategy } = s;
  if (!scheduler?.startAttrs && !strategy.startAttrs) return {};
  const req = { study: s.ctx, trials: s.trials, trialNumber: t.number, rng: Rng.derive(s.study.config.seed, t.number, "start") };
  return { ...strategy.startAttrs?.(req, t.params), ...scheduler?.startAttrs?.(req) };
}

/**
 * The existing trial `params` duplicates, or undefined: a queued or running one first, then a
 * finished one, then a FAIL one, and in each an exact match before a close one. The answer names
 * it with what to do: a proposal cancelled (FAIL) and queued again with skip_if_exists false was
 * still reported as the cancelled trial, and a noisy one evaluated (COMPLETE) and queued again as
 * the COMPLETE trial; each time "pass skip_if_exists: false" then queued it once more.
 */
export function findEnqueued(trials: readonly TrialRecord[], params: Params): TrialRecord | undefined {
  const key = canonical(params);
  const names = namesKey(params);
  // best[rank * 2 + (exact ? 0 : 1)]: the first match of each kind.
  const best: (TrialRecord | undefined)[] = [];
  for (const t of trials) {
    const keys = enqueueKeys(t);
    if (keys.names !== names) continue;
    const rank = t.state === "WAITING" || t.state === "RUNNING" ? 0 : t.state === "FAIL" ? 2 : 1;
    const slot = rank * 2 + (keys.key === key ? 0 : 1);
    if (best[slot] !== undefined) continue;
    if (slot % 2 === 1 && !closeEnough(enqueueParams(t), params)) continue;
    best[slot] = t;
    if (slot === 0) return t;
  }
  return best.find((t) => t !== undefined);
}

/**
 * The params a trial is compared by for `skip_if_exists` (its enqueued ones, else its own) as a
 * canonical string, and their sorted names, computed once per trial record (records are replaced,
 * not changed, on update): recomputing them for every trial on every enqueue made a flood of them
 * quadratic (0.9 s per enqueue at 3,000 trials of 200 params in a probe).
 */
function enqueueKeys(t: TrialRecord): { key: string; names: string } {
  let keys = keysOf.get(t);
  if (keys === undefined) {
    const p = enqueueParams(t);
    keysOf.set(t, (keys = { key: canonical(p), names: namesKey(p) }));
  }
  return keys;
}
const keysOf = new WeakMap<TrialRecord, { key: string; names: string }>();

function enqueueParams(t: TrialRecord): Params {
  return (t.systemAttrs.fixed_params as Params | undefined) ?? t.params;
}

function namesKey(p: Params): string {
  return JSON.stringify(Object.keys(p).sort());
}

/** Optuna's duplicate rule for params of the same names: numbers within a relative 1e-5 (numpy's `isclose` with atol 0), anything else equal. */
function closeEnough(existing: Params, params: Params): boolean {
  return Object.keys(params).every((k) => {
    const a = params[k];
    const b = existing[k];
    return typeof a === "number" && typeof b === "number" ? Math.abs(a - b) <= 1e-5 * Math.abs(b) : a === b;
  });
}

function canonical(p: Params): string {
  return JSON.stringify(Object.keys(p).sort().map((k) => [k, p[k]]));
}

/** enqueue's reply's `queue`, `trial_budget` and `stopped` (ops/schemas.ts `enqueueResult`). */
export type QueueFacts = { queue: { ahead: number; queued: number } | null; trial_budget: { max_trials: number; used: number } | null; stopped: boolean };

/**
 * Where queued trial `t` stands, for enqueue's reply: how many queued trials ask hands out before
 * it (`s.waiting` is in the order ask serves, oldest first), the study's max_trials budget and
 * whether it is stopped, read together under the study's write lock, so the enqueue_trial tool can say whether the
 * budget reaches it (`pending`: the trial is about to join the queue's end).
 */
export function queueFacts(s: StudyState, t: TrialRecord, pending = false): QueueFacts {
  const at = pending ? s.waiting.length : t.state === "WAITING" ? s.waiting.indexOf(t.number) : -1;
  const max = s.study.config.maxTrials;
  return {
    queue: at < 0 ? null : { ahead: at, queued: s.waiting.length + (pending ? 1 : 0) },
    trial_budget: max === undefined ? null : { max_trials: max, used: s.started },
    stopped: s.study.stopped ?? false,
  };
}
