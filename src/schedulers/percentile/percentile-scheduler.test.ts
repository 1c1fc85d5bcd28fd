import { describe, expect, it } from "vitest";
import { schedulerConformance } from "../../testing/scheduler.case.js";
import { curveTrial, reportOf } from "../../testing/fixtures.js";
import { percentileSchedulerFactory } from "./percentile-scheduler.js";

schedulerConformance(percentileSchedulerFactory, { options: { percentile: 25 }, warmupSteps: 0, startupTrials: 5 });

const five = [1, 2, 3, 4, 5].map((v, i) => curveTrial(i, [[1, v]]));
const running = (v: number) => curveTrial(9, [[1, v]], "RUNNING");
const make = (percentile: number) => percentileSchedulerFactory.create(percentileSchedulerFactory.options.parse({ percentile }));

describe("percentile scheduler", () => {
  it("requires the percentile option and refuses unknown keys", () => {
    expect(percentileSchedulerFactory.options.safeParse({}).success).toBe(false);
    expect(percentileSchedulerFactory.options.safeParse({ percentile: 25, typo: 1 }).success).toBe(false);
  });

  it("cuts at the 25th percentile (2 of 1…5) when minimising", () => {
    expect(make(25).onReport(reportOf(running(2.01), five))?.decision.action).toBe("prune");
    expect(make(25).onReport(reportOf(running(2), five))).toBeNull();
  });

  it("cuts at the 75th percentile of raw values (4 of 1…5) when maximising", () => {
    expect(make(25).onReport(reportOf(running(3.99), five, "maximize"))?.decision.action).toBe("prune");
    expect(make(25).onReport(reportOf(running(4), five, "maximize"))).toBeNull();
  });

  it("percentile 100 prunes only what is worse than every complete trial; 0 keeps only the best", () => {
    expect(make(100).onReport(reportOf(running(5), five))).toBeNull();
    expect(make(100).onReport(reportOf(running(5.1), five))?.decision.action).toBe("prune");
    expect(make(0).onReport(reportOf(running(1.1), five))?.decision.action).toBe("prune");
  });
});
