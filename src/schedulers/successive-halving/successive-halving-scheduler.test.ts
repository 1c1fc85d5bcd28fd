import { describe, expect, it } from "vitest";
import type { Trial } from "../../domain/trial.js";
import { schedulerConformance } from "../../testing/scheduler.case.js";
import { curveTrial, reportOf } from "../../testing/fixtures.js";
import { MAX_RUNGS } from "../common.js";
import { autoMinResource, rungKey, rungResourceKey, successiveHalvingSchedulerFactory } from "./successive-halving-scheduler.js";

// auto: nothing before the first completion; the case curves run 27 steps → min_resource 1.
schedulerConformance(successiveHalvingSchedulerFactory, { options: {}, warmupSteps: 1, startupTrials: 1 });
schedulerConformance(
  successiveHalvingSchedulerFactory,
  { options: { min_resource: 2, reduction_factor: 2, min_early_stopping_rate: 1 }, warmupSteps: 4 },
  "min_resource 2, η 2, s 1",
);

const make = (o: Record<string, unknown>) =>
  successiveHalvingSchedulerFactory.create(successiveHalvingSchedulerFactory.options.parse(o));

describe("successive halving", () => {
  it("promotes by Optuna's rule on a hand-worked rung (η = 2, rung 0 at step 1)", () => {
    // Trials reach step 1 in turn with the values below; n competitors, promotable index
    // max(⌊n/2⌋ − 1, 0) of the sorted values:
    //   t0: 5   → [5]               idx 0 → 5 ≤ 5     promoted
    //   t1: 6   → [5, 6]            idx 0 → 6 ≤ 5?    pruned
    //   t2: 4   → [4, 5, 6]         idx 0 → 4 ≤ 4     promoted
    //   t3: 4.5 → [4, 4.5, 5, 6]    idx 1 → 4.5 ≤ 4.5 promoted
    //   t4: 5.5 → [4, 4.5, 5, 5.5, 6] idx 1 → 5.5 ≤ 4.5? pruned
    const s = make({ min_resource: 1, reduction_factor: 2 });
    const history: Trial[] = [];
    const expected = ["continue", "prune", "continue", "continue", "prune"];
    [5, 6, 4, 4.5, 5.5].forEach((v, i) => {
      const t = curveTrial(i, [[0, 10], [1, v]], "RUNNING");
      const res = s.onReport(reportOf(t, history));
      expect(res?.decision.action, `trial ${i}`).toBe(expected[i]);
      expect(res?.systemAttrs).toEqual({ [rungKey(0)]: v, [rungResourceKey(0)]: 1 });
      history.push({ ...t, systemAttrs: { ...res?.systemAttrs }, state: res?.decision.action === "prune" ? "PRUNED" : "RUNNING" });
    });
    // Step 0 is below rung 0 (resource 1): no opinion.
    expect(s.onReport(reportOf(curveTrial(9, [[0, 100]], "RUNNING"), history))).toBeNull();
  });

  it("mirrors for maximisation", () => {
    const s = make({ min_resource: 1, reduction_factor: 2 });
    const history = [5, 4].map((v, i) => curveTrial(i, [[1, v]], "RUNNING", { [rungKey(0)]: v }));
    expect(s.onReport(reportOf(curveTrial(5, [[1, 4.5]], "RUNNING"), history, "maximize"))?.decision.action).toBe("prune");
    expect(s.onReport(reportOf(curveTrial(5, [[1, 5]], "RUNNING"), history, "maximize"))?.decision.action).toBe("continue");
  });

  it("passes several rungs in one report, and never re-judges a passed rung", () => {
    const s = make({ min_resource: 1, reduction_factor: 2 });
    const res = s.onReport(reportOf(curveTrial(0, [[4, 1]], "RUNNING"), []));
    expect(res?.systemAttrs).toEqual({
      [rungKey(0)]: 1,
      [rungResourceKey(0)]: 1,
      [rungKey(1)]: 1,
      [rungResourceKey(1)]: 2,
      [rungKey(2)]: 1,
      [rungResourceKey(2)]: 4,
    });
    // A trial that passed rung 0 earlier is not judged there again, however good the others became.
    const better = [0, 0, 0, 0].map((v, i) => curveTrial(i + 1, [[1, v]], "COMPLETE", { [rungKey(0)]: v }));
    const t = curveTrial(9, [[1, 5], [1.5, 5]], "RUNNING", { [rungKey(0)]: 5 });
    expect(s.onReport(reportOf(t, better))).toBeNull();
  });

  it("compares values recorded at the same resource only, when an update moved the ladder", () => {
    // min_resource 1 → 3 at η 3: rungs 1, 3, 9 become 3, 9, 27. Keyed by rung number alone, a value
    // at resource 3 was judged against values recorded at 1, and a trial judged at 1 before the
    // update was never judged at 3.
    const before = make({ min_resource: 1, reduction_factor: 3 });
    const after = make({ min_resource: 3, reduction_factor: 3 });
    const at1 = [0, 1, 2].map((i) => curveTrial(i, [[1, 1]], "RUNNING", before.onReport(reportOf(curveTrial(i, [[1, 1]], "RUNNING"), []))?.systemAttrs));
    expect(at1[0]?.systemAttrs).toEqual({ [rungKey(0)]: 1, [rungResourceKey(0)]: 1 });
    // Worse at 3 than everything recorded at 1: an empty rung at 3 lets it through.
    expect(after.onReport(reportOf(curveTrial(5, [[3, 4]], "RUNNING"), at1))?.decision.action).toBe("continue");
    // Records without their resource (made before it was kept) count as at the current rung's.
    const legacy = at1.map((t) => ({ ...t, systemAttrs: { [rungKey(0)]: 1 } }));
    expect(after.onReport(reportOf(curveTrial(5, [[3, 4]], "RUNNING"), legacy))?.decision.action).toBe("prune");
    expect(after.onReport(reportOf(curveTrial(0, [[1, 1], [3, 4]], "RUNNING", legacy[0]?.systemAttrs), legacy))).toBeNull();
    // A trial judged at 1 before the update is judged at 3 after it, against values at 3.
    const at3 = [6, 7, 8].map((i) => curveTrial(i, [[3, 1]], "RUNNING", after.onReport(reportOf(curveTrial(i, [[3, 1]], "RUNNING"), []))?.systemAttrs));
    const old = curveTrial(0, [[1, 1], [3, 4]], "RUNNING", at1[0]?.systemAttrs);
    const judged = after.onReport(reportOf(old, [...at1.slice(1), ...at3]));
    expect(judged?.decision.action).toBe("prune");
    expect(judged?.decision.action === "prune" && judged.decision.reason).toContain("of 4 at rung 0 (resource 3)");
    expect(judged?.systemAttrs).toEqual({ [rungKey(0)]: 4, [rungResourceKey(0)]: 3 });
  });

  it("passes at most MAX_RUNGS rungs, however small min_resource is (one report never loops for ever)", () => {
    // min_resource 5e-324 at η 2 has no top rung: step 1 passed over 1,000 rungs before the bound
    // (rung resources stopped growing after 64 doublings and the loop never ended).
    const s = make({ min_resource: 5e-324, reduction_factor: 2, min_early_stopping_rate: 30 });
    const res = s.onReport(reportOf(curveTrial(0, [[1, 1]], "RUNNING"), []));
    expect(Object.keys(res?.systemAttrs ?? {}).filter((k) => !k.endsWith("_resource"))).toHaveLength(MAX_RUNGS);
    const done = curveTrial(0, [[1, 1], [2 ** 53, 1]], "RUNNING", res?.systemAttrs);
    expect(s.onReport(reportOf(done, []))).toBeNull(); // every rung passed: nothing left to judge
  });

  it("competes only with recorded values, of trials in any state", () => {
    const s = make({ min_resource: 1, reduction_factor: 2 });
    // Reports at step 1 without the rung attribute (never judged) do not count.
    const unrecorded = [0, 0, 0].map((v, i) => curveTrial(i, [[1, v]], "COMPLETE"));
    expect(s.onReport(reportOf(curveTrial(5, [[1, 3]], "RUNNING"), unrecorded))?.decision.action).toBe("continue");
    const pruned = [curveTrial(0, [[1, 1]], "PRUNED", { [rungKey(0)]: 1 })];
    expect(s.onReport(reportOf(curveTrial(5, [[1, 3]], "RUNNING"), pruned))?.decision.action).toBe("prune");
  });

  it("auto min_resource: waits for a completion, then uses the first one's last step / 100", () => {
    const s = make({});
    const running = curveTrial(9, [[1, 100]], "RUNNING");
    expect(s.onReport(reportOf(running, []))).toBeNull();
    const first = { ...curveTrial(0, [[250, 1]]), finishedAt: 5 };
    const later = { ...curveTrial(1, [[1000, 1]]), finishedAt: 9 };
    expect(autoMinResource([later, first])).toBe(2);
    expect(autoMinResource([curveTrial(0, [[30, 1]])])).toBe(1);
    expect(autoMinResource([curveTrial(0, [], "COMPLETE")])).toBeNull();
    // min_resource 2: step 1 is below rung 0; step 2 is judged (and, being worse, pruned: 100 vs 1 at rung 0).
    const peer = curveTrial(2, [[2, 1]], "RUNNING", { [rungKey(0)]: 1 });
    expect(s.onReport(reportOf(running, [first, later, peer]))).toBeNull();
    const at2 = curveTrial(9, [[1, 100], [2, 100]], "RUNNING");
    expect(s.onReport(reportOf(at2, [first, later, peer]))?.decision.action).toBe("prune");
  });

  it("prunes NaN at a rung and between rungs, and stores ±Infinity so that JSON keeps it", () => {
    const s = make({ min_resource: 1 });
    expect(s.onReport(reportOf(curveTrial(0, [[1, NaN]], "RUNNING"), []))?.decision.action).toBe("prune");
    // Passed rung 0 (step 1); diverged at step 2, before rung 1 (step 4): stopped at once.
    expect(s.onReport(reportOf(curveTrial(0, [[1, 0.5], [2, NaN]], "RUNNING", { [rungKey(0)]: 0.5 }), []))?.decision.action).toBe("prune");
    const inf = s.onReport(reportOf(curveTrial(0, [[1, -Infinity]], "RUNNING"), []));
    expect(inf?.systemAttrs).toEqual({ [rungKey(0)]: "-inf", [rungResourceKey(0)]: 1 });
    // A recorded −∞ is unbeatable for a minimised study.
    const h = [curveTrial(0, [[1, -Infinity]], "RUNNING", inf?.systemAttrs)];
    expect(s.onReport(reportOf(curveTrial(1, [[1, -1e300]], "RUNNING"), h))?.decision.action).toBe("prune");
  });
});
