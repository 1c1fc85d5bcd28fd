/**
 * What PBT and PB2 studies answer to the `lineage` op and draw as a tree (lineage.ts), as one
 * object: the strategies' factories name it, and so does `LINEAGE_READ_MODELS`
 * (strategies/lineage-models.ts), which the CLI imports without loading the strategies.
 */
import type { StrategyReadModels } from "../../domain/plugin.js";
import type { Trial } from "../../domain/trial.js";
import { formatZodError } from "../../domain/distributions.js";
import { lineageGraph, nextDonor, pbtSystemAttrsSchema, pbtTrialRefs, scheduleOf } from "./lineage.js";

export const PBT_READ_MODELS: StrategyReadModels = {
  lineage: (trials: readonly Trial[], number: number, uptoStep?: number) => scheduleOf(trials, number, uptoStep),
  lineageGraph,
  lineageNext: nextDonor,
  importedAttrs(systemAttrs) {
    const parsed = pbtSystemAttrsSchema.safeParse(systemAttrs);
    return parsed.success ? { problem: null, trials: pbtTrialRefs(systemAttrs) } : { problem: formatZodError(parsed.error), trials: [] };
  },
};
