import { describe, expect, it } from "vitest";
import { curveTrial, makeStudy, reportOf } from "../../testing/fixtures.js";
import { Rng } from "../../math/rng.js";
import { schedulerConformance } from "../../testing/scheduler.case.js";
import { rungKey, rungResourceKey } from "../successive-halving/successive-halving-scheduler.js";
import { ashaSchedulerFactory } from "../asha/asha-scheduler.js";
import { bohbSchedulerFactory } from "../bohb/bohb-scheduler.js";
import { MAX_RUNGS } from "../common.js";
import {
  bracketBudgets,
  bracketOf,
  hyperbandSchedulerFactory,
  hyperbandTable,
  maxBracketIndex,
} from "./hyperband-scheduler.js";

schedulerConformance(hyperbandSchedulerFactory, { options: { max_resource: 27 }, warmupSteps: 1 });

const make = (o: Record<string, unknown>) => hyperbandSchedulerFactory.create(hyperbandSchedulerFactory.options.parse(o));

describe("hyperband", () => {
  it("reproduces the R = 81, η = 3 table of Li et al. (REFERENCE.md)", () => {
    const table = hyperbandTable(81, 3).map((b) => [b.s, b.rounds.map((r) => [r.n, r.r])]);
    expect(table).toEqual([
      [4, [[81, 1], [27, 3], [9, 9], [3, 27], [1, 81]]],
      [3, [[34, 3], [11, 9], [3, 27], [1, 81]]],
      [2, [[15, 9], [5, 27], [1, 81]]],
      [1, [[8, 27], [2, 81]]],
      [0, [[5, 81]]],
    ]);
  });

  it("refuses ladders of more than MAX_RUNGS rungs, in Hyperband, BOHB and ASHA, and bounds the bracket count", () => {
    const extreme = { min_resource: 5e-324, max_resource: 1.7e308, reduction_factor: 2 };
    for (const f of [hyperbandSchedulerFactory, bohbSchedulerFactory, ashaSchedulerFactory]) {
      const r = f.options.safeParse(extreme);
      expect(r.success, f.name).toBe(false);
      expect(JSON.stringify(r.error?.issues)).toMatch(/more than 64 rungs/);
      // 2^63 at η 2 still fits (63 rungs); the issue's R = 81 at η 3 of course too.
      expect(f.options.safeParse({ min_resource: 1, max_resource: 2 ** 63, reduction_factor: 2 }).success, f.name).toBe(true);
    }
    expect(maxBracketIndex(1.7e308, 2, 5e-324)).toBe(MAX_RUNGS - 1); // the table's own bound
    expect(bracketBudgets(2 ** 63, 2, 1)).toHaveLength(64);
  });

  it("counts brackets without log rounding errors", () => {
    expect(maxBracketIndex(243, 3)).toBe(5);
    expect(maxBracketIndex(242, 3)).toBe(4);
    expect(maxBracketIndex(1000, 10)).toBe(3);
    expect(maxBracketIndex(100, 3, 1)).toBe(4);
    expect(maxBracketIndex(1, 3)).toBe(0);
    expect(bracketBudgets(81, 3)).toEqual([81, 34, 15, 8, 5]);
  });

  it("spreads trials over brackets in proportion to the budgets", () => {
    const budgets = bracketBudgets(81, 3);
    const counts = [0, 0, 0, 0, 0];
    const n = 14_300;
    for (let i = 0; i < n; i++) counts[bracketOf(42, i, budgets)]!++;
    budgets.forEach((b, i) => expect(Math.abs(counts[i]! / n - b / 143)).toBeLessThan(0.02));
  });

  it("gives a seed the same brackets whatever the study's name, and another seed other brackets", () => {
    const s = make({ max_resource: 81 });
    const brackets = (name: string, seed: number) =>
      Array.from({ length: 60 }, (_, n) => s.beforeSuggest!({ study: makeStudy({}, { name, seed }), trials: [], trialNumber: n, rng: new Rng(n) })?.systemAttrs?.bracket);
    expect(brackets("renamed-study", 7)).toEqual(brackets("study", 7));
    expect(brackets("study", 8)).not.toEqual(brackets("study", 7));
  });

  it("assigns the bracket in beforeSuggest, deterministically by seed and trial number", () => {
    const s = make({ max_resource: 81 });
    const study = makeStudy({});
    const req = (n: number) => ({ study, trials: [], trialNumber: n, rng: new Rng(n) });
    const a = s.beforeSuggest!(req(17));
    expect(a).toEqual({ params: {}, systemAttrs: { bracket: bracketOf(42, 17, [81, 34, 15, 8, 5]), budget: 81 } });
    expect(make({ max_resource: 81 }).beforeSuggest!(req(17))).toEqual(a);
  });

  it("races trials only within their bracket, with rungs at min·η^(bracket+k) below max_resource", () => {
    const s = make({ max_resource: 81 });
    // Bracket 1: rungs at 3, 9, 27. A strong bracket-0 peer at rung 0 of *its* bracket does not count.
    const b0 = curveTrial(0, [[3, 0]], "RUNNING", { bracket: 0, [rungKey(0)]: 0, [rungKey(1)]: 0 });
    const b1 = curveTrial(1, [[3, 1]], "RUNNING", { bracket: 1, [rungKey(0)]: 1 });
    const t = curveTrial(2, [[1, 9], [3, 2]], "RUNNING", { bracket: 1 });
    expect(s.onReport(reportOf(curveTrial(2, [[1, 9]], "RUNNING", { bracket: 1 }), [b0, b1]))).toBeNull();
    expect(s.onReport(reportOf(t, [b0, b1]))?.decision.action).toBe("prune");
    const good = curveTrial(2, [[1, 9], [3, 0.5]], "RUNNING", { bracket: 1 });
    expect(s.onReport(reportOf(good, [b0, b1]))?.decision.action).toBe("continue");
    // Bracket 4 has its first rung at 81 = max_resource: it never prunes.
    const last = curveTrial(3, [[80, 1e9], [81, 1e9]], "RUNNING", { bracket: 4 });
    expect(s.onReport(reportOf(last, [b0, b1]))).toBeNull();
  });

  it("compares a bracket's values recorded at the same resource only, when an update moved the ladder", () => {
    // min_resource 1 → 3 with max_resource 27 → 81 keeps the brackets; bracket 1's rungs 3, 9 become 9, 27.
    const before = make({ min_resource: 1, max_resource: 27 });
    const after = make({ min_resource: 3, max_resource: 81 });
    const at3 = [0, 1, 2].map((i) => {
      const t = curveTrial(i, [[3, 1]], "RUNNING", { bracket: 1 });
      return { ...t, systemAttrs: { ...t.systemAttrs, ...before.onReport(reportOf(t, []))?.systemAttrs } };
    });
    expect(at3[0]?.systemAttrs).toEqual({ bracket: 1, [rungKey(0)]: 1, [rungResourceKey(0)]: 3 });
    // Worse at 9 than everything recorded at 3: an empty rung at 9 lets it through.
    expect(after.onReport(reportOf(curveTrial(5, [[9, 4]], "RUNNING", { bracket: 1 }), at3))?.decision.action).toBe("continue");
    // Judged at 3 before the update, judged again at 9 against the bracket's values at 9.
    const at9 = [6, 7, 8].map((i) => curveTrial(i, [[9, 1]], "RUNNING", { bracket: 1, [rungKey(0)]: 1, [rungResourceKey(0)]: 9 }));
    const old = curveTrial(0, [[3, 1], [9, 4]], "RUNNING", at3[0]?.systemAttrs);
    const judged = after.onReport(reportOf(old, [...at3.slice(1), ...at9]));
    expect(judged?.decision.action).toBe("prune");
    expect(judged?.systemAttrs).toEqual({ [rungKey(0)]: 4, [rungResourceKey(0)]: 9 });
  });

  it("derives the bracket of a trial created without one and records it", () => {
    const s = make({ max_resource: 81 });
    const t = curveTrial(5, [[0, 1]], "RUNNING");
    expect(s.onReport(reportOf(t, []))?.systemAttrs).toEqual({ bracket: bracketOf(42, 5, [81, 34, 15, 8, 5]) });
  });
});
