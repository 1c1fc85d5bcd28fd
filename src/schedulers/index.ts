/** The scheduler catalogue: every scheduler (pruner) a study can name. */
import { ashaSchedulerFactory } from "./asha/asha-scheduler.js";
import { bohbSchedulerFactory } from "./bohb/bohb-scheduler.js";
import { hyperbandSchedulerFactory } from "./hyperband/hyperband-scheduler.js";
import { medianSchedulerFactory } from "./median/median-scheduler.js";
import { makePatientSchedulerFactory } from "./patient/patient-scheduler.js";
import { percentileSchedulerFactory } from "./percentile/percentile-scheduler.js";
import type { SchedulerFactory } from "../domain/plugin.js";
import { successiveHalvingSchedulerFactory } from "./successive-halving/successive-halving-scheduler.js";
import { thresholdSchedulerFactory } from "./threshold/threshold-scheduler.js";

const catalogue = new Map<string, SchedulerFactory<any>>();

/** `patient` wraps another scheduler by name, so it resolves names through this catalogue. */
export const patientSchedulerFactory = makePatientSchedulerFactory((name) => catalogue.get(name));

for (const f of [
  medianSchedulerFactory,
  percentileSchedulerFactory,
  thresholdSchedulerFactory,
  patientSchedulerFactory,
  successiveHalvingSchedulerFactory,
  hyperbandSchedulerFactory,
  ashaSchedulerFactory,
  bohbSchedulerFactory,
])
  catalogue.set(f.name, f);

export const SCHEDULERS: ReadonlyMap<string, SchedulerFactory<any>> = catalogue;
