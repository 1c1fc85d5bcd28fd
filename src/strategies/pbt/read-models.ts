/**
 * What PBT and PB2 studies answer to the `lineage` op and draw as a tree (lineage.ts), as one
 * object: the strategies' factories name it, and so does `LINEAGE_READ_MODELS`
 * (strategies/lineage-models.ts), which the CLI imports without loading the strategies.
 */
import type { StrategyReadModels } from "../../domain/plugin.js";
import type { Trial } from "../../domain/trial.js";
import { lineageGraph, nextDonor, scheduleOf } from "./lineage.js";

export const PBT_READ_MODELS: StrategyReadModels = {
  lineage: (trials: readonly Trial[], number: number, uptoStep?: number) => scheduleOf(trials, number, uptoStep),
  lineageGraph,
  lineageNext: nextDonor,
};
