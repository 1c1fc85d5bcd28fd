/**
 * The read models of the strategies that keep a lineage, by strategy name, importable without
 * loading the strategies themselves: `tuneport studies lineage` reads a study from SQL, and the PBT
 * strategy's module alone takes ~150 ms to load. The factories in index.ts name these same objects
 * (lineage-models.test.ts checks it).
 */
import type { StrategyReadModels } from "../domain/plugin.js";
import { PBT_READ_MODELS } from "./pbt/read-models.js";

export const LINEAGE_READ_MODELS: Readonly<Record<string, StrategyReadModels>> = { pbt: PBT_READ_MODELS, pb2: PBT_READ_MODELS };
