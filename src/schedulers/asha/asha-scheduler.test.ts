import { describe, expect, it } from "vitest";
import type { Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { curveTrial, makeStudy, makeTrial, reportOf } from "../../testing/fixtures.js";
import { runScheduledStudy } from "../../testing/scheduled-study.js";
import { schedulerConformance } from "../../testing/scheduler.case.js";
import { randomStrategyFactory } from "../../strategies/random/random-strategy.js";
import { type AshaScheduler, ashaRungKey, ashaRungResourceKey, ashaSchedulerFactory, stoppingCutoff } from "./asha-scheduler.js";

schedulerConformance(ashaSchedulerFactory, { options: { max_resource: 27, reduction_factor: 3 }, warmupSteps: 1 }, "stopping");
schedulerConformance(
  ashaSchedulerFactory,
  { options: { mode: "promotion", max_resource: 27, reduction_factor: 3 }, warmupSteps: Infinity },
  "promotion",
);

const make = (o: Record<string, unknown>) => ashaSchedulerFactory.create(ashaSchedulerFactory.options.parse(o)) as AshaScheduler;

describe("asha, stopping mode", () => {
  it("small-rung rule (Ray's): maximise, η = 3, rung holds 0.9 and 0.5 → cut-off 0.7667, 0.6 is stopped", () => {
    const s = make({ reduction_factor: 3, min_resource: 1, max_resource: 27 });
    const rung = [0.9, 0.5].map((v, i) => curveTrial(i, [[1, v]], "RUNNING", { [ashaRungKey(0)]: v }));
    // In loss space the cut-off is the 1/η quantile of −0.9, −0.5: −0.9 + (1/3)(0.4).
    expect(-(stoppingCutoff([-0.9, -0.5], 3) as number)).toBeCloseTo(0.5 + (2 / 3) * 0.4, 12);
    const r06 = s.onReport(reportOf(curveTrial(2, [[1, 0.6]], "RUNNING"), rung, "maximize"));
    expect(r06?.decision.action).toBe("prune");
    expect(r06?.decision.action === "prune" && r06.decision.reason).toContain("0.766667");
    expect(r06?.systemAttrs).toEqual({ [ashaRungKey(0)]: 0.6, [ashaRungResourceKey(0)]: 1 });
    expect(s.onReport(reportOf(curveTrial(2, [[1, 0.77]], "RUNNING"), rung, "maximize"))?.decision.action).toBe("continue");
    // The same case minimised with negated values decides the same.
    const neg = [0.9, 0.5].map((v, i) => curveTrial(i, [[1, -v]], "RUNNING", { [ashaRungKey(0)]: -v }));
    expect(s.onReport(reportOf(curveTrial(2, [[1, -0.6]], "RUNNING"), neg))?.decision.action).toBe("prune");
    expect(s.onReport(reportOf(curveTrial(2, [[1, -0.77]], "RUNNING"), neg))?.decision.action).toBe("continue");
  });

  it("lets the first trial of a rung through; with one earlier value a new one must be at least as good", () => {
    const s = make({ reduction_factor: 3, min_resource: 1, max_resource: 27 });
    expect(s.onReport(reportOf(curveTrial(0, [[1, 100]], "RUNNING"), []))?.decision).toEqual({ action: "continue", budget: 27 });
    const one = [curveTrial(0, [[1, 2]], "RUNNING", { [ashaRungKey(0)]: 2 })];
    expect(s.onReport(reportOf(curveTrial(1, [[1, 2]], "RUNNING"), one))?.decision.action).toBe("continue");
    expect(s.onReport(reportOf(curveTrial(1, [[1, 2.1]], "RUNNING"), one))?.decision.action).toBe("prune");
  });

  it("judges each trial once per rung, at the highest rung a report reaches, and never at max_resource", () => {
    const s = make({ reduction_factor: 3, min_resource: 1, max_resource: 27 }); // rungs 1, 3, 9
    const jump = s.onReport(reportOf(curveTrial(0, [[0, 1], [5, 1]], "RUNNING"), []));
    expect(jump?.systemAttrs).toEqual({ [ashaRungKey(1)]: 1, [ashaRungResourceKey(1)]: 3 });
    const done = curveTrial(0, [[5, 1], [6, 1]], "RUNNING", { [ashaRungKey(1)]: 1 });
    const strong = [1, 2, 3].map((i) => curveTrial(i, [[3, -5]], "COMPLETE", { [ashaRungKey(1)]: -5, [ashaRungKey(0)]: -5 }));
    expect(s.onReport(reportOf(done, strong))?.decision.action).toBe("continue");
    expect(s.onReport(reportOf(curveTrial(9, [[27, 1e9]], "RUNNING", { [ashaRungKey(2)]: 1e9 }), strong))?.decision.action).toBe("continue");
  });

  it("compares values recorded at the same resource only, when an update moved the ladder", () => {
    // R = 27 had rungs 3 and 9; updated to R = 81 they are 9 and 27. Keyed by rung number alone, a
    // value at resource 9 was judged against values recorded at 3, and a trial judged at 3 before the
    // update was never judged at 9.
    const before = make({ max_resource: 27 });
    const after = make({ max_resource: 81 });
    const at3 = [0, 1, 2].map((i) => curveTrial(i, [[3, 1]], "RUNNING", before.onReport(reportOf(curveTrial(i, [[3, 1]], "RUNNING"), []))?.systemAttrs));
    expect(at3[0]?.systemAttrs).toEqual({ [ashaRungKey(0)]: 1, [ashaRungResourceKey(0)]: 3 });
    // Worse at 9 than everything recorded at 3: an empty rung at 9 lets it through.
    expect(after.onReport(reportOf(curveTrial(5, [[9, 4]], "RUNNING"), at3))?.decision.action).toBe("continue");
    // Records without their resource (made before it was kept) count as at the current r_k.
    const legacy = at3.map((t) => ({ ...t, systemAttrs: { [ashaRungKey(0)]: 1 } }));
    expect(after.onReport(reportOf(curveTrial(5, [[9, 4]], "RUNNING"), legacy))?.decision.action).toBe("prune");
    // A trial judged at 3 before the update is judged at 9 after it, against values at 9.
    const at9 = [6, 7, 8].map((i) => curveTrial(i, [[9, 1]], "RUNNING", after.onReport(reportOf(curveTrial(i, [[9, 1]], "RUNNING"), []))?.systemAttrs));
    const old = curveTrial(0, [[3, 1], [9, 4]], "RUNNING", at3[0]?.systemAttrs);
    const judged = after.onReport(reportOf(old, at9));
    expect(judged?.decision.action).toBe("prune");
    expect(judged?.systemAttrs).toEqual({ [ashaRungKey(0)]: 4, [ashaRungResourceKey(0)]: 9 });
  });

  it("defaults min_resource to max_resource / η² (at least 1) in both modes, to 1 without max_resource", () => {
    expect(make({ max_resource: 81 }).rungs).toEqual([9, 27]);
    expect(make({ max_resource: 27 }).rungs).toEqual([3, 9]);
    const near = (xs: number[], want: number[]) => {
      expect(xs).toHaveLength(want.length);
      xs.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 9));
    };
    near(make({ max_resource: 81, reduction_factor: 4 }).rungs, [81 / 16, 81 / 4]);
    near(make({ max_resource: 100 }).rungs, [100 / 9, 100 / 3]); // no rung at 99.99999999999999
    expect(make({ max_resource: 5 }).rungs).toEqual([1, 3]);
    expect(ashaSchedulerFactory.options.parse({ max_resource: 81 }).min_resource).toBe(9);
    expect(ashaSchedulerFactory.options.parse({ max_resource: 81, min_resource: 2 }).min_resource).toBe(2);
    expect(ashaSchedulerFactory.options.parse({ mode: "promotion", max_resource: 81 }).min_resource).toBe(9);
    expect(make({ mode: "promotion", max_resource: 81 }).ladder).toEqual([9, 27, 81]);
    expect(ashaSchedulerFactory.options.parse({}).min_resource).toBe(1);
    // The study's budget fills max_resource first, so the default follows it.
    const filled = ashaSchedulerFactory.withStudyBudget!({}, 27);
    expect(ashaSchedulerFactory.options.parse(filled).min_resource).toBe(3);
  });

  it("the default first rung (R/η²) finds better slow starters than min_resource 1 under random search (never worse in 8 seeds, better in at least 3)", () => {
    // Quality u: asymptote u/2 (u = 0 best), time constant 1 + 10 (1 − u): the worst configurations
    // converge within a step or two and look best at steps 1 and 3; from step 9 on the order holds.
    const space = { u: { type: "float" as const, low: 0, high: 1 }, v: { type: "float" as const, low: 0, high: 1 } };
    const curve = (p: Record<string, unknown>, t: number) => {
      const u = p.u as number;
      return 0.5 * u + (1 - 0.5 * u) * Math.exp(-t / (1 + 10 * (1 - u)));
    };
    const bestComplete = (schedulerOptions: Record<string, unknown>, seed: number) => {
      const trials = runScheduledStudy({
        strategy: randomStrategyFactory, scheduler: ashaSchedulerFactory, schedulerOptions, space, curve, maxResource: 81, totalSteps: 81 * 12, seed,
      });
      return Math.min(...trials.filter((t) => t.state === "COMPLETE").map((t) => t.value as number));
    };
    let wins = 0;
    let losses = 0;
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const [rule, one] = [bestComplete({}, seed), bestComplete({ min_resource: 1 }, seed)];
      if (rule < one) wins++;
      if (rule > one) losses++;
    }
    expect(losses).toBe(0);
    expect(wins).toBeGreaterThanOrEqual(3); // 4 when written; the other seeds tie (the first trial completes in both)
  });

  it("has no rung at max_resource when it is a power of η (9, 27, 81), also with trials already there", () => {
    expect(make({ min_resource: 1, max_resource: 9 }).rungs).toEqual([1, 3]);
    expect(make({ min_resource: 1, max_resource: 27 }).rungs).toEqual([1, 3, 9]);
    expect(make({ min_resource: 1, max_resource: 81 }).rungs).toEqual([1, 3, 9, 27]);
    expect(make({ mode: "promotion", min_resource: 1, max_resource: 27 }).ladder).toEqual([1, 3, 9, 27]);
    // Three trials sit at max_resource 27 with value 0 (recorded as if 27 were a rung); a new trial
    // passed rung 2 (step 9) and reports 100 at 27: nothing is judged at 27, it completes.
    const s = make({ min_resource: 1, max_resource: 27 });
    const atMax = [0, 1, 2].map((i) =>
      curveTrial(i, [[27, 0]], "COMPLETE", { [ashaRungKey(0)]: 0, [ashaRungKey(1)]: 0, [ashaRungKey(2)]: 0, [ashaRungKey(3)]: 0 }),
    );
    const late = curveTrial(3, [[9, 0], [27, 100]], "RUNNING", { [ashaRungKey(2)]: 0 });
    expect(s.onReport(reportOf(late, atMax))).toEqual({ decision: { action: "continue", budget: 27 } });
  });

  it("without max_resource takes the last step of the first trial to complete; no budget until then", () => {
    const s = make({});
    const study = makeStudy({});
    const req = (trials: Trial[]) => ({ study, trials, trialNumber: trials.length, rng: new Rng(0) });
    const running = curveTrial(0, [[1, 1]], "RUNNING");
    expect(s.beforeSuggest!(req([running]))).toEqual({ params: {}, systemAttrs: {} });
    expect(s.onReport(reportOf(running, []))?.decision).toEqual({ action: "continue" });
    const first = { ...curveTrial(1, [[27, 1]], "COMPLETE"), finishedAt: 5 };
    const second = { ...curveTrial(2, [[81, 1]], "COMPLETE"), finishedAt: 9 };
    expect(s.beforeSuggest!(req([second, first]))?.systemAttrs).toEqual({ budget: 27 });
    expect(s.rungsFor([second, first])).toEqual([1, 3, 9]);
    // A report at 27 is then past the last rung: continue with the learned budget.
    const t = curveTrial(3, [[9, 0], [27, 5]], "RUNNING", { [ashaRungKey(2)]: 0 });
    expect(s.onReport(reportOf(t, [first, second]))?.decision).toEqual({ action: "continue", budget: 27 });
  });

  it("stops a NaN at a rung even when the rung is empty, and between rungs at once", () => {
    const s = make({ min_resource: 1, max_resource: 81 });
    const atRung = s.onReport(reportOf(curveTrial(0, [[1, NaN]], "RUNNING"), []));
    expect(atRung?.decision.action).toBe("prune");
    expect(atRung?.systemAttrs).toEqual({ [ashaRungKey(0)]: "nan", [ashaRungResourceKey(0)]: 1 });
    expect(s.onReport(reportOf(curveTrial(0, [[0.5, NaN]], "RUNNING"), []))?.decision.action).toBe("prune");
    // Judged at rung 3 already, diverged at step 30 (past the last rung, 27): stopped, not trained to 81.
    const past = curveTrial(0, [[27, 0.1], [30, NaN]], "RUNNING", { [ashaRungKey(3)]: 0.1 });
    expect(s.onReport(reportOf(past, []))?.decision.action).toBe("prune");
  });
});

describe("asha, promotion mode", () => {
  it("follows a hand-worked trace of Algorithm 2 (η = 3, rungs 1, 3, 9, minimise)", () => {
    // ask | rung 0 (complete, value)          | rung 1           | decision
    //  0  | —                                 | —                | new (rung 0) → 5
    //  1  | t0 5                 top ⌊1/3⌋=0  |                  | new → 3
    //  2  | 5, 3                 top 0        |                  | new → 4
    //  3  | 5, 3, 4              top 1 = t1   |                  | promote t1 to rung 1 → 2.5
    //  4  | top 1 = t1 (done)                 | t3 2.5  top 0    | new → 1
    //  5  | 5,3,4,1              top 1 = t4   | top 0            | promote t4 to rung 1 → 0.8
    //  6  | top 1 = t4 (done)                 | 2.5, 0.8 top 0   | new → 6
    //  7  | 5,3,4,1,6            top 1 = t4   | top 0            | new → 2
    //  8  | 5,3,4,1,6,2          top 2 = t4,t7| top 0            | promote t7 to rung 1 → 2.0
    //  9  |                                   | 2.5,0.8,2.0 top 1 = t5 | promote t5 to rung 2 (t4's config)
    // 10  | top 2 = t4, t7 both promoted      | top 1 = t5 done  | new
    const s = make({ mode: "promotion", reduction_factor: 3, min_resource: 1, max_resource: 9 });
    const space = { x: { type: "float" as const, low: 0, high: 1 } };
    const study = makeStudy(space);
    const values = [5, 3, 4, 2.5, 1, 0.8, 6, 2, 2.0, 1.5];
    const expected = [
      { rung: 0, budget: 1 }, { rung: 0, budget: 1 }, { rung: 0, budget: 1 },
      { rung: 1, budget: 3, resume_from: 1, resume_budget: 1 },
      { rung: 0, budget: 1 },
      { rung: 1, budget: 3, resume_from: 4, resume_budget: 1 },
      { rung: 0, budget: 1 }, { rung: 0, budget: 1 },
      { rung: 1, budget: 3, resume_from: 7, resume_budget: 1 },
      { rung: 2, budget: 9, resume_from: 5, resume_budget: 3 },
      { rung: 0, budget: 1 },
    ];
    const trials: Trial[] = [];
    expected.forEach((want, n) => {
      const sug = s.beforeSuggest!({ study, trials, trialNumber: n, rng: new Rng(n) })!;
      const from = (want as { resume_from?: number }).resume_from;
      expect(sug.systemAttrs, `ask ${n}`).toEqual(want);
      const params = from !== undefined ? trials[from]!.params : { x: n / 100 };
      expect(sug.params).toEqual(from !== undefined ? params : {});
      const v = values[n] ?? 0;
      trials.push(makeTrial(n, params, space, { value: v, intermediate: [{ step: want.budget, value: v }], systemAttrs: sug.systemAttrs! }));
    });
    expect(trials[9]!.params).toEqual(trials[4]!.params);
  });

  it("promotes nothing from a rung with fewer than η members, and ignores running ones", () => {
    const s = make({ mode: "promotion", reduction_factor: 3, max_resource: 9 });
    const study = makeStudy({});
    const done = (n: number, v: number) => curveTrial(n, [[1, v]], "COMPLETE", { rung: 0, budget: 1 });
    const two = [done(0, 0.9), done(1, 0.5)];
    const req = (trials: Trial[]) => ({ study, trials, trialNumber: trials.length, rng: new Rng(0) });
    expect(s.beforeSuggest!(req(two))!.systemAttrs).toEqual({ rung: 0, budget: 1 });
    const running = curveTrial(2, [[1, 0.1]], "RUNNING", { rung: 0, budget: 1 });
    expect(s.beforeSuggest!(req([...two, running]))!.systemAttrs).toEqual({ rung: 0, budget: 1 });
    // Maximise: with a third member the best (0.9, trial 0) goes up.
    expect(s.beforeSuggest!({ ...req([...two, done(2, 0.6)]), study: makeStudy({}, { direction: "maximize" }) })!.systemAttrs)
      .toMatchObject({ rung: 1, resume_from: 0 });
    expect(s.beforeSuggest!(req([...two, done(2, 0.6)]))!.systemAttrs).toMatchObject({ rung: 1, resume_from: 1 });
  });

  it("tells a trial its budget, gives rung 0 to trials without one, prunes NaN", () => {
    const s = make({ mode: "promotion", reduction_factor: 3, max_resource: 9 });
    expect(s.onReport(reportOf(curveTrial(0, [[0, 1]], "RUNNING", { rung: 1, budget: 3 }), []))?.decision).toEqual({ action: "continue", budget: 3 });
    expect(s.onReport(reportOf(curveTrial(0, [[0, 1]], "RUNNING"), []))).toEqual({
      decision: { action: "continue", budget: 1 },
      systemAttrs: { rung: 0, budget: 1 },
    });
    expect(s.onReport(reportOf(curveTrial(0, [[0, NaN]], "RUNNING", { rung: 0, budget: 1 }), []))?.decision.action).toBe("prune");
  });
});

describe("asha derivedOptions (update_study's merge)", () => {
  const stored = (o: Record<string, unknown>) => ashaSchedulerFactory.options.parse(o) as unknown as Record<string, unknown>;
  it("names min_resource only while it is the default for the stored max_resource and η", () => {
    const derived = ashaSchedulerFactory.derivedOptions!;
    expect(derived(stored({ max_resource: 27 }))).toEqual(["min_resource"]); // 27/9 = 3
    expect(derived(stored({}))).toEqual(["min_resource"]); // no budget: 1
    expect(derived(stored({ max_resource: 27, min_resource: 1 }))).toEqual([]);
    expect(derived(stored({ max_resource: 27, reduction_factor: 4 }))).toEqual(["min_resource"]);
  });
});
