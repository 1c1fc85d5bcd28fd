/**
 * The answer to a `report`: one mechanism serves pruning, multi-fidelity, PBT and
 * hypergradient updates (docs/ARCHITECTURE.md, "One decision mechanism").
 */
import type { Params } from "./distributions.js";

export type Decision =
  /**
   * Go on training. `budget` (in the client's step units) is how far to train, when a scheduler sets it.
   * `delete_checkpoints` lists checkpoints the reporting trial saved earlier that nobody will load
   * any more (PBT retention); the client may delete them.
   */
  | { readonly action: "continue"; readonly budget?: number; readonly delete_checkpoints?: readonly string[] }
  /** Stop now; the client records the trial as PRUNED. */
  | { readonly action: "prune"; readonly reason: string }
  /**
   * Go on with new hyperparameters. With `restore`, first load the weights of another trial's
   * checkpoint (PBT exploit); without it, keep your own weights (hypergradient step, PBT explore).
   */
  | {
      readonly action: "update";
      readonly params: Params;
      /** `step` is the donor's step when it saved `checkpoint`. */
      readonly restore?: { readonly trial: number; readonly checkpoint: string; readonly step?: number };
      readonly reason?: string;
      readonly budget?: number;
      /** As for `continue`: the reporting trial's own older checkpoints that may be deleted. */
      readonly delete_checkpoints?: readonly string[];
    };

export const CONTINUE: Decision = Object.freeze({ action: "continue" });

/**
 * The decision of a report that both the scheduler (`a`) and the strategy (`b`) answered: the
 * strategy's, except that its `continue` keeps the scheduler's prune or update, and the
 * scheduler's budget carries over to a strategy decision that sets none.
 */
export function mergeDecisions(a: Decision, b: Decision): Decision {
  if (b.action === "continue") {
    if (a.action !== "continue") return a;
    return {
      action: "continue",
      ...((b.budget ?? a.budget) !== undefined ? { budget: b.budget ?? a.budget } : {}),
      ...(b.delete_checkpoints ? { delete_checkpoints: b.delete_checkpoints } : {}),
    };
  }
  if (b.action === "update" && a.action === "continue" && a.budget !== undefined && b.budget === undefined) return { ...b, budget: a.budget };
  return b;
}
