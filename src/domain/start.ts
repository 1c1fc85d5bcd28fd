/**
 * How a worker starts a trial: the one typed `start` field of the `ask` reply.
 *
 * Plug-ins keep their own bookkeeping in trial `systemAttrs`; the few keys below are the contract
 * between a plug-in that wants the worker to start in a special way and the service that tells the
 * worker. A plug-in writes them through `Suggestion.systemAttrs` (or a scheduler's `beforeSuggest`);
 * clients read only `start`, never `system_attrs`.
 *
 * | key             | written by                        | meaning                                        |
 * | --------------- | --------------------------------- | ---------------------------------------------- |
 * | `budget`        | successive halving, hyperband, asha, bohb | train this far (client step units)     |
 * | `rung`          | asha, successive halving          | the rung the trial starts in                    |
 * | `bracket`       | hyperband, bohb                   | the bracket the trial belongs to               |
 * | `resume_from`   | promotion-mode asha               | continue this trial's run (load its checkpoint) |
 * | `resume_budget` | promotion-mode asha               | the budget `resume_from` trained to             |
 * | `pbt_restore`   | pbt                               | `{trial, checkpoint, step}` to load first       |
 */
import type { Trial } from "./trial.js";

export interface TrialStart {
  /** How far to train, in the client's step units, when a scheduler sets it. */
  budget: number | null;
  rung: number | null;
  bracket: number | null;
  /** Continue the run of this trial (load its checkpoint), which trained to `budget`. */
  resume_from: { trial: number; budget: number | null } | null;
  /** Load this checkpoint of another trial before training (PBT). */
  restore: { trial: number; checkpoint: string; step: number | null } | null;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const int = (v: unknown): number | null => (typeof v === "number" && Number.isInteger(v) ? v : null);

/** The start instructions recorded on a trial (see the table above). */
export function startOf(t: Pick<Trial, "systemAttrs">): TrialStart {
  const a = t.systemAttrs;
  const from = int(a.resume_from);
  const r = a.pbt_restore;
  let restore: TrialStart["restore"] = null;
  if (r && typeof r === "object") {
    const { trial, checkpoint, step } = r as Record<string, unknown>;
    const n = int(trial);
    if (n !== null && typeof checkpoint === "string") restore = { trial: n, checkpoint, step: num(step) };
  }
  return {
    budget: num(a.budget),
    rung: int(a.rung),
    bracket: int(a.bracket),
    resume_from: from === null ? null : { trial: from, budget: num(a.resume_budget) },
    restore,
  };
}
