import { describe, expect, it } from "vitest";
import { SCHEDULERS, patientSchedulerFactory } from "../index.js";
import { schedulerConformance } from "../../testing/scheduler.case.js";
import { curveTrial, reportOf } from "../../testing/fixtures.js";

schedulerConformance(patientSchedulerFactory, {
  options: { patience: 2, wrapped: { name: "median", options: {} } },
  warmupSteps: 0,
  startupTrials: 5,
});
schedulerConformance(
  patientSchedulerFactory,
  { options: { patience: 1, wrapped: { name: "successive-halving", options: { min_resource: 1, reduction_factor: 2 } } }, warmupSteps: 1 },
  "wrapping successive halving",
);

const make = (o: Record<string, unknown>) => patientSchedulerFactory.create(patientSchedulerFactory.options.parse(o));
const five = [1, 2, 3, 4, 5].map((v, i) => curveTrial(i, [0, 1, 2, 3, 4, 5].map((s) => [s, v] as [number, number])));
const run = (vals: number[]) => curveTrial(9, vals.map((v, s) => [s, v] as [number, number]), "RUNNING");

describe("patient scheduler", () => {
  it("is in the catalogue and validates the wrapped scheduler's name and options", () => {
    expect(SCHEDULERS.get("patient")).toBe(patientSchedulerFactory);
    expect(patientSchedulerFactory.options.safeParse({ patience: 1, wrapped: { name: "nope" } }).success).toBe(false);
    expect(patientSchedulerFactory.options.safeParse({ patience: 1, wrapped: { name: "percentile", options: {} } }).success).toBe(false);
    expect(patientSchedulerFactory.options.safeParse({ patience: 1, wrapped: { name: "percentile", options: { percentile: 10 } } }).success).toBe(true);
  });

  it("takes the wrapped scheduler by name too, as a study names one (and hypergradient its base)", () => {
    expect(patientSchedulerFactory.options.parse({ patience: 1, wrapped: "median" })).toEqual(
      patientSchedulerFactory.options.parse({ patience: 1, wrapped: { name: "median", options: {} } }),
    );
    expect(patientSchedulerFactory.options.safeParse({ patience: 1, wrapped: "nope" }).success).toBe(false);
    // The study's budget reaches a wrapped scheduler named so.
    const budgeted = patientSchedulerFactory.withStudyBudget!({ patience: 1, wrapped: "hyperband" }, 27);
    expect(patientSchedulerFactory.options.parse(budgeted).wrapped).toMatchObject({ name: "hyperband", options: { max_resource: 27 } });
  });

  it("holds back the median's prune while the trial still improves", () => {
    const s = make({ patience: 2, wrapped: { name: "median", options: {} } });
    // Worse than the median (3) at every step but improving each report: not stalled.
    expect(s.onReport(reportOf(run([10, 9, 8, 7]), five))).toBeNull();
    // Best before the last 3 reports is 8; best of the last 3 is 8 — not strictly worse: still improving enough.
    expect(s.onReport(reportOf(run([10, 8, 9, 8, 9]), five))).toBeNull();
    // Best before (8) is better than best of the last 3 (8.5): stalled, and the median prunes.
    expect(s.onReport(reportOf(run([10, 8, 9, 8.5, 9]), five))?.decision.action).toBe("prune");
  });

  it("does not prune a stalled trial the wrapped scheduler keeps", () => {
    const s = make({ patience: 1, wrapped: { name: "median", options: {} } });
    expect(s.onReport(reportOf(run([1, 2, 2]), five))).toBeNull();
  });

  it("min_delta (Optuna's tolerance): recent values may be that much worse than the earlier best", () => {
    expect(make({ patience: 1, min_delta: 0.5 }).onReport(reportOf(run([10, 10.3, 10.4]), []))).toBeNull();
    expect(make({ patience: 1, min_delta: 0.2 }).onReport(reportOf(run([10, 10.3, 10.4]), []))?.decision.action).toBe("prune");
  });

  it("prunes a NaN report at once, before its patience and before the wrapped median's start-up", () => {
    const nan = run([3, 2, NaN]); // still improving, and only 3 reports: patience 2 would hold a prune back
    for (const o of [{ patience: 2 }, { patience: 2, wrapped: { name: "median", options: {} } }]) {
      expect(make(o).onReport(reportOf(nan, []))?.decision).toMatchObject({ action: "prune", reason: expect.stringMatching(/NaN/) });
      expect(make(o).onReport(reportOf(nan, [], "maximize"))?.decision.action).toBe("prune");
    }
  });

  it("without a wrapped scheduler prunes on patience alone; mirrors for maximisation", () => {
    const s = make({ patience: 2 });
    expect(s.onReport(reportOf(run([3, 4, 5]), []))).toBeNull(); // only patience + 1 reports
    expect(s.onReport(reportOf(run([3, 2, 1, 1.5]), []))).toBeNull();
    expect(s.onReport(reportOf(run([3, 2, 1, 1.5, 1.5, 1.5]), []))?.decision.action).toBe("prune");
    const series = [1, 0.5, 0.2, 0.8, 0.9, 2]; // minimise: stalled since 0.2; maximise: 2 beats 1
    expect(s.onReport(reportOf(run(series), []))?.decision.action).toBe("prune");
    expect(s.onReport(reportOf(run(series), [], "maximize"))).toBeNull();
    expect(s.onReport(reportOf(run(series.map((v) => -v)), [], "maximize"))?.decision.action).toBe("prune");
  });
});
