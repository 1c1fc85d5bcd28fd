import { describe, expect, it } from "vitest";
import { schedulerConformance } from "../../testing/scheduler.case.js";
import { curveTrial, reportOf } from "../../testing/fixtures.js";
import { medianSchedulerFactory } from "./median-scheduler.js";

schedulerConformance(medianSchedulerFactory, { options: {}, warmupSteps: 0, startupTrials: 5 });
schedulerConformance(
  medianSchedulerFactory,
  { options: { n_warmup_steps: 4, n_startup_trials: 3, interval_steps: 2 }, warmupSteps: 4, startupTrials: 3 },
  "warm-up 4, startup 3, interval 2",
);

const median = (o: Record<string, unknown> = {}) => medianSchedulerFactory.create(medianSchedulerFactory.options.parse(o));
/** Five complete trials whose values at step 1 are 1, 2, 3, 4, 5 (median 3). */
const five = [1, 2, 3, 4, 5].map((v, i) => curveTrial(i, [[0, 10], [1, v], [2, v]]));
const running = (reports: [number, number][]) => curveTrial(9, reports, "RUNNING");

describe("median scheduler (hand-computed)", () => {
  it("prunes a trial whose best so far (3.5) is worse than the median (3) at the step", () => {
    const d = median().onReport(reportOf(running([[0, 10], [1, 3.5]]), five));
    expect(d?.decision.action).toBe("prune");
  });

  it("keeps a trial equal to the median, and judges the best value so far, not the last", () => {
    expect(median().onReport(reportOf(running([[0, 10], [1, 3]]), five))).toBeNull();
    expect(median().onReport(reportOf(running([[0, 2], [1, 10]]), five))).toBeNull();
  });

  it("mirrors for maximisation: the median is the same 3, below it is pruned", () => {
    expect(median().onReport(reportOf(running([[0, 0], [1, 2.5]]), five, "maximize"))?.decision.action).toBe("prune");
    expect(median().onReport(reportOf(running([[0, 0], [1, 3.5]]), five, "maximize"))).toBeNull();
  });

  it("interpolates an even count like numpy: median of 1, 2, 3, 4 is 2.5", () => {
    const four = five.slice(0, 4);
    const m = median({ n_startup_trials: 4 });
    expect(m.onReport(reportOf(running([[1, 2.6]]), four))?.decision.action).toBe("prune");
    expect(m.onReport(reportOf(running([[1, 2.5]]), four))).toBeNull();
  });

  it("waits for n_startup_trials complete trials and n_warmup_steps", () => {
    expect(median().onReport(reportOf(running([[1, 100]]), five.slice(0, 4)))).toBeNull();
    expect(median({ n_warmup_steps: 2 }).onReport(reportOf(running([[1, 100]]), five))).toBeNull();
    expect(median({ n_warmup_steps: 2 }).onReport(reportOf(running([[1, 100], [2, 100]]), five))?.decision.action).toBe("prune");
  });

  it("only compares complete trials, and only at the exact step", () => {
    const pruned = [0, 1, 2, 3, 4].map((i) => curveTrial(10 + i, [[1, 0]], "PRUNED"));
    expect(median().onReport(reportOf(running([[1, 3]]), [...five, ...pruned]))).toBeNull();
    // No complete trial reported step 1.5: nothing to compare with.
    expect(median().onReport(reportOf(running([[1.5, 100]]), five))).toBeNull();
  });

  it("checks once per interval: with interval 2 the report at step 1 is skipped, step 2 is checked", () => {
    const m = median({ interval_steps: 2 });
    expect(m.onReport(reportOf(running([[0, 100], [1, 100]]), five))).toBeNull();
    expect(m.onReport(reportOf(running([[0, 100], [1, 100], [2, 100]]), five))?.decision.action).toBe("prune");
    // Irregular steps: 0 then 3 — the report at 3 is the first at or after boundary 2.
    expect(m.onReport(reportOf(running([[0, 100], [3, 100]]), [...five.map((t) => curveTrial(t.number, [[3, 1]]))]))?.decision.action).toBe("prune");
  });

  it("needs n_min_trials complete trials at the step", () => {
    const two = [curveTrial(0, [[7, 1]]), curveTrial(1, [[7, 2]]), ...five.slice(2)];
    expect(median({ n_min_trials: 3 }).onReport(reportOf(running([[7, 100]]), two))).toBeNull();
    expect(median({ n_min_trials: 2 }).onReport(reportOf(running([[7, 100]]), two))?.decision.action).toBe("prune");
  });

  it("NaN: prunes a NaN report at once, even between good values, before startup and warm-up", () => {
    expect(median().onReport(reportOf(running([[0, NaN], [1, NaN]]), five))?.decision.action).toBe("prune");
    // A run that was the best so far and then diverged (issue 17: median kept such runs alive).
    expect(median().onReport(reportOf(running([[0, 0.1], [1, 0.1], [2, NaN]]), five))?.decision.action).toBe("prune");
    expect(median().onReport(reportOf(running([[0, NaN]]), []))?.decision.action).toBe("prune");
    expect(median({ n_warmup_steps: 50, interval_steps: 10 }).onReport(reportOf(running([[1, 1], [2, NaN]]), five))?.decision.action).toBe("prune");
    // The value reported now decides: an earlier NaN followed by a number is judged as usual.
    expect(median().onReport(reportOf(running([[0, NaN], [1, 2]]), five))).toBeNull();
  });

  it("NaN: counts others' NaN as the worst value", () => {
    // Values at step 1: 1, 2, NaN, NaN, NaN → losses 1, 2, ∞, ∞, ∞ → median ∞: nothing is worse.
    const nan = [1, 2, NaN, NaN, NaN].map((v, i) => curveTrial(i, [[1, v]]));
    expect(median().onReport(reportOf(running([[1, 100]]), nan))).toBeNull();
    expect(median().onReport(reportOf(running([[1, Infinity]]), five))?.decision.action).toBe("prune");
  });
});
