/** The scheduler catalogue: every scheduler (pruner) a study can name. */
import type { SchedulerFactory } from "./scheduler.js";

export const SCHEDULERS: ReadonlyMap<string, SchedulerFactory<any>> = new Map<string, SchedulerFactory<any>>(
  ([] as SchedulerFactory<any>[]).map((f) => [f.name, f]),
);
