import { describe, expect, it } from "vitest";
import type { SearchSpace } from "../domain/distributions.js";
import type { Trial, TrialState } from "../domain/trial.js";
import { IMPUTE_MARGIN, RANK_LEVEL_PAIRS, failedEvaluation, fidelityData } from "./fidelity.js";
import { spearman } from "../math/ranks.js";
import { gpStrategyFactory } from "./gp/gp-strategy.js";
import { minOf } from "../math/extremes.js";
import { autoStrategyFactory } from "./auto/auto-strategy.js";
import { failureCounts } from "./pbt/failures.js";
import { makeTrial } from "../testing/fixtures.js";
import { splitTrials, tpeStrategyFactory } from "./tpe/tpe-strategy.js";

const SPACE: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
const all = () => true;

/** A trial with reports `[step, value][]` (value of a COMPLETE one: its last report). */
function tr(n: number, state: TrialState, reports: [number, number][], attrs: Record<string, unknown> = {}, x = n / 100): Trial {
  const last = reports[reports.length - 1];
  return makeTrial(n, { x }, SPACE, {
    state,
    value: state === "COMPLETE" ? (last?.[1] ?? 0) : state === "PRUNED" ? (last?.[1] ?? null) : null,
    intermediate: reports.map(([step, value]) => ({ step, value })),
    systemAttrs: attrs,
  });
}

describe("fidelityData (GP training data)", () => {
  it("is the COMPLETE values in a plain study: no level, nothing imputed, failed evaluations and running trials pending", () => {
    const trials = [
      makeTrial(0, { x: 0.1 }, SPACE, { value: 3 }),
      makeTrial(1, { x: 0.2 }, SPACE, { state: "FAIL", value: null }),
      makeTrial(2, { x: 0.3 }, SPACE, { value: 1 }),
      makeTrial(3, { x: 0.4 }, SPACE, { state: "RUNNING", value: null }),
      makeTrial(4, { x: 0.5 }, SPACE, { value: 2 }),
    ];
    const d = fidelityData(trials, "minimize", 3, all)!;
    expect(d.level).toBe(Infinity);
    expect(d.rows.map((t) => t.number)).toEqual([0, 2, 4]);
    expect(d.losses).toEqual([3, 1, 2]);
    expect(d.imputed).toBe(0);
    expect(d.pending.map((t) => t.number)).toEqual([1, 3]);
    // A lost lease, a cancelled proposal and a trial whose retry was queued say nothing of their configuration.
    for (const systemAttrs of [{ fail_reason: "lease_expired" }, { cancelled: true }, { retried_as: 5 }]) {
      const lost = trials.map((t) => (t.number === 1 ? { ...t, systemAttrs } : t));
      expect(fidelityData(lost, "minimize", 3, all)!.pending.map((t) => t.number)).toEqual([3]);
    }
    expect(fidelityData(trials, "minimize", 4, all)).toBeNull();
    expect(fidelityData(trials, "maximize", 3, all)!.losses).toEqual([-3, -1, -2]);
  });

  it("leaves out a trial its client told interrupted (Ctrl-C): not a failed evaluation, not a believer, not in TPE's bad set, not a PBT failure", () => {
    // What the Python client tells when Ctrl-C ends the objective: FAIL, its reason, and interrupted.
    const interrupted = { fail_reason: "KeyboardInterrupt: ", interrupted: true };
    const raised = { fail_reason: "ValueError: diverged" };
    expect(failedEvaluation(tr(1, "FAIL", [], raised))).toBe(true);
    expect(failedEvaluation(tr(1, "FAIL", [], interrupted))).toBe(false);
    const trials = (attrs: Record<string, unknown>) => [tr(0, "COMPLETE", [[1, 3]]), tr(1, "FAIL", [], attrs), tr(2, "COMPLETE", [[1, 1]]), tr(3, "COMPLETE", [[1, 2]])];
    expect(fidelityData(trials(raised), "minimize", 3, all)!.pending.map((t) => t.number)).toEqual([1]);
    expect(fidelityData(trials(interrupted), "minimize", 3, all)!.pending).toEqual([]);
    const above = (attrs: Record<string, unknown>) => splitTrials(trials(attrs), "minimize", true).above.map((t) => t.number);
    expect(above(raised)).toContain(1);
    expect(above(interrupted)).not.toContain(1);
    // PBT's max_failures: a slot's Ctrl-C after progress is not the training script failing; a run of
    // interrupts without progress (an exit loop under a restarting supervisor) counts as lost leases do.
    const member = (attrs: Record<string, unknown>, ivs: [number, number][]) => [tr(0, "FAIL", ivs, { ...attrs, pbt_member: 0 })];
    expect(failureCounts(member(raised, [[1, 3]]), 1).failures).toEqual([1]);
    expect(failureCounts(member(interrupted, [[1, 3]]), 1).failures).toEqual([0]);
    expect(failureCounts(member(interrupted, []), 1).failures).toEqual([1]);
  });

  it("under a scheduler: values at the deepest level enough trials reached, stopped trials imputed just above the worst", () => {
    // ASHA-like: two complete at 9, three stopped at 3, three stopped at 1, one running past 3, one running at 1.
    const trials = [
      tr(0, "COMPLETE", [[1, 5], [3, 4], [9, 2]], { budget: 9 }),
      tr(1, "PRUNED", [[1, 6]]),
      tr(2, "COMPLETE", [[1, 4], [3, 3], [9, 1]], { budget: 9 }),
      tr(3, "PRUNED", [[1, 5], [3, 4.5]]),
      tr(4, "PRUNED", [[1, 7]]),
      tr(5, "PRUNED", [[1, 4.5], [3, 3.5]]),
      tr(6, "RUNNING", [[1, 3], [3, 2.5], [4, 2.4]]),
      tr(7, "PRUNED", [[1, NaN]]),
      tr(8, "RUNNING", [[1, 9]]),
      tr(9, "PRUNED", [[1, 4], [3, 4.2]]),
    ];
    // Depths: ∞, ∞ (complete), 4, 3, 3, 3, 1, 1, 1, 1 → the 4th deepest is 3.
    const d = fidelityData(trials, "minimize", 4, all)!;
    expect(d.level).toBe(3);
    const byNumber = new Map(d.rows.map((t, i) => [t.number, d.losses[i]!]));
    // Observed at step 3: complete trials' reports at 3, the running one's, the stopped-at-3 ones'.
    expect([0, 2, 3, 5, 6, 9].map((n) => byNumber.get(n))).toEqual([4, 3, 4.5, 3.5, 2.5, 4.2]);
    // Imputed: the stopped-at-1 trials, ranked by value (NaN last), above the worst observed (4.5).
    const spread = 4.5 - 2.5;
    expect(byNumber.get(1)).toBeCloseTo(4.5 + IMPUTE_MARGIN * spread * 1, 12);
    expect(byNumber.get(4)).toBeCloseTo(4.5 + IMPUTE_MARGIN * spread * (1 + 1 / 3), 12);
    expect(byNumber.get(7)).toBeCloseTo(4.5 + IMPUTE_MARGIN * spread * (1 + 2 / 3), 12);
    expect(d.imputed).toBe(3);
    expect(d.pending.map((t) => t.number)).toEqual([8]);
    expect(d.rows.map((t) => t.number)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 9]);
  });

  it("ranks imputed trials as Optuna ranks pruned ones (deeper first, then value, no reports after), diverged runs last", () => {
    const trials = [
      ...Array.from({ length: 3 }, (_, i) => tr(i, "COMPLETE", [[9, i]], { budget: 9 })),
      tr(3, "PRUNED", [[1, 0.5]]),
      tr(4, "PRUNED", [[3, 8]]),
      tr(5, "PRUNED", [[1, NaN]]),
      tr(6, "PRUNED", []),
      tr(7, "PRUNED", [[1, 0.1]]),
      // Diverged at step 5, deeper than every finite stopped trial: Optuna would rank it first of them.
      tr(8, "PRUNED", [[1, 0.05], [5, NaN]]),
    ];
    const d = fidelityData(trials, "minimize", 3, all)!;
    expect(d.level).toBe(Infinity);
    const imputed = d.rows.map((t, i) => [t.number, d.losses[i]!] as const).filter(([n]) => n >= 3);
    const order = [...imputed].sort((a, b) => a[1] - b[1]).map(([n]) => n);
    expect(order).toEqual([4, 7, 3, 6, 8, 5]);
    for (const [, l] of imputed) expect(l).toBeGreaterThan(2);
  });

  it("keeps diverged runs out of TPE's good set, however deep they diverged", () => {
    // Nothing COMPLETE: the good set is the best stopped trials. Trials 0-2 diverged at step 27;
    // the finite ones were stopped at step 9.
    const trials = [
      ...[0, 1, 2].map((n) => tr(n, "PRUNED", [[9, 0.1], [27, NaN]])),
      ...Array.from({ length: 17 }, (_, i) => tr(3 + i, "PRUNED", [[9, 1 + i]])),
    ];
    const { below } = splitTrials(trials, "minimize", false);
    expect(below.length).toBeGreaterThan(0);
    expect(below.map((t) => t.number)).toEqual(Array.from({ length: below.length }, (_, i) => 3 + i));
  });

  it("promotion mode: a lower rung's COMPLETE trial is partial, a continued configuration counts once", () => {
    const rung0 = (n: number, v: number, x: number) => tr(n, "COMPLETE", [[1, v]], { rung: 0, budget: 1 }, x);
    const trials = [
      rung0(0, 5, 0.1), rung0(1, 3, 0.2), rung0(2, 4, 0.3), rung0(3, 6, 0.4),
      // Trial 1's configuration promoted to rung 1 (budget 3), reporting steps 2 and 3.
      tr(4, "COMPLETE", [[2, 2.5], [3, 2]], { rung: 1, budget: 3, resume_from: 1, resume_budget: 1 }, 0.2),
      rung0(5, 7, 0.5),
      // Trial 2's configuration being promoted: while it runs, trial 2 stands for it.
      tr(6, "RUNNING", [[2, 3.9]], { rung: 1, budget: 3, resume_from: 2, resume_budget: 1 }, 0.3),
    ];
    const d = fidelityData(trials, "minimize", 1, all)!;
    expect(d.pending).toEqual([]);
    expect(d.level).toBe(Infinity); // trial 4 trained to the largest budget given: its value is final
    expect(d.rows.map((t) => t.number)).toEqual([0, 2, 3, 4, 5]); // trial 1 is superseded by 4
    expect(d.losses[3]).toBe(2);
    expect(d.imputed).toBe(4);
    // The same history with min 5 observed: level 1, values at step 1 (the continuation's first report is step 2).
    const low = fidelityData(trials, "minimize", 5, all)!;
    expect(low.level).toBe(1);
    expect(low.losses).toEqual([5, 4, 6, 2.5, 7]);

    const { below, above } = splitTrials(trials, "minimize", true);
    // Five modelled trials (gamma = 1): only trial 4 trained to the largest budget, so it is the good set.
    expect(below.map((t) => t.number)).toEqual([4]);
    expect(above.map((t) => t.number)).toEqual([0, 2, 3, 5]);
  });

  it("'common' takes the lowest depth and imputes nothing; 'observed' drops the stopped trials", () => {
    const trials = [
      tr(0, "COMPLETE", [[1, 5], [3, 4], [9, 2]], { budget: 9 }),
      tr(1, "PRUNED", [[1, 6]]),
      tr(2, "COMPLETE", [[1, 4], [3, 3], [9, 1]], { budget: 9 }),
      tr(3, "PRUNED", [[1, 5], [3, 4.5]]),
    ];
    const common = fidelityData(trials, "minimize", 2, all, "common")!;
    expect(common.level).toBe(1);
    expect(common.losses).toEqual([5, 6, 4, 5]);
    expect(common.imputed).toBe(0);
    const observed = fidelityData(trials, "minimize", 2, all, "observed")!;
    expect(observed.level).toBe(Infinity);
    expect(observed.rows.map((t) => t.number)).toEqual([0, 2]);
    expect(observed.losses).toEqual([2, 1]);
  });

  it("'informed' imputes only stops from a ninth of the largest budget on, and every diverged run", () => {
    const trials = [
      ...Array.from({ length: 3 }, (_, i) => tr(i, "COMPLETE", [[81, i]], { budget: 81 })),
      tr(3, "PRUNED", [[1, 0.5]], { budget: 81 }), // stopped after 1 of 81 steps: left out
      tr(4, "PRUNED", [[1, 0.9], [3, 0.4]], { budget: 81 }), // after 3: left out
      tr(5, "PRUNED", [[9, 0.7]], { budget: 81 }), // after 9 = 81/9: imputed
      tr(6, "PRUNED", [[1, 0.5], [2, NaN]], { budget: 81 }), // diverged early: imputed
    ];
    const informed = fidelityData(trials, "minimize", 3, all, "informed")!;
    expect(informed.rows.map((t) => t.number)).toEqual([0, 1, 2, 5, 6]);
    expect(informed.imputed).toBe(2);
    expect(fidelityData(trials, "minimize", 3, all, "level")!.imputed).toBe(4);
    // Without scheduler budgets there is no largest budget to measure against: as "level".
    const plain = trials.map((t) => ({ ...t, systemAttrs: {} }));
    expect(fidelityData(plain, "minimize", 3, all, "informed")!.imputed).toBe(4);
  });

  it("TPE's 'informed' split (its default) leaves out the same early stops; 'rank' ranks them all", () => {
    const trials = [
      ...Array.from({ length: 3 }, (_, i) => tr(i, "COMPLETE", [[81, i]], { budget: 81 })),
      tr(3, "PRUNED", [[1, 0.5]], { budget: 81 }), // after 1 of 81 steps: left out
      tr(4, "PRUNED", [[1, 0.9], [3, 0.4]], { budget: 81 }), // after 3: left out
      tr(5, "COMPLETE", [[3, 0.2]], { budget: 3 }), // told at a bracket's budget of 3: left out
      tr(6, "PRUNED", [[9, 0.7]], { budget: 81 }), // after 9 = 81/9: kept
      tr(7, "PRUNED", [[1, 0.5], [2, NaN]], { budget: 81 }), // diverged early: kept, last
    ];
    const numbers = (s: { below: Trial[]; above: Trial[] }) => [...s.below, ...s.above].map((t) => t.number).sort((a, b) => a - b);
    expect(numbers(splitTrials(trials, "minimize", false, -1, true))).toEqual([0, 1, 2, 6, 7]);
    expect(numbers(splitTrials(trials, "minimize", false))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Without scheduler budgets nothing is early.
    const plain = trials.map((t) => ({ ...t, systemAttrs: {} }));
    expect(numbers(splitTrials(plain, "minimize", false, -1, true))).toHaveLength(8);
    expect(tpeStrategyFactory.options.parse({}).fidelity).toBe("informed");
  });

  it("the 'rank' level rule moves past a depth that ranks the deeper one poorly on the study's own trials", () => {
    // Stopping ASHA, rungs 9, 27, 81: eleven trials stopped at rung 9, `done` trained to 81.
    const stopped = Array.from({ length: 11 }, (_, i) => tr(i, "PRUNED", [[9, 1 + i / 10]], { budget: 81 }));
    const history = (done: number, agree: boolean) => [
      ...stopped,
      // At step 9 trial 11 leads, 12 next, ...; at 81 the order is the same (agree) or reversed.
      ...Array.from({ length: done }, (_, i) =>
        tr(11 + i, "COMPLETE", [[9, 0.1 * i], [27, 0.05 * i], [81, agree ? 0.01 * i : 0.01 * (done - i)]], { budget: 81 }),
      ),
    ];
    const level = (trials: Trial[], rule?: "count" | "rank") => fidelityData(trials, "minimize", 10, all, "informed", rule)!.level;
    // Reversed: ρ = −1 < 0.5 on 5 pairs, so "rank" models the final values; "count" waits for 10.
    expect(level(history(RANK_LEVEL_PAIRS, false), "rank")).toBe(Infinity);
    expect(level(history(RANK_LEVEL_PAIRS, false), "count")).toBe(9);
    expect(level(history(RANK_LEVEL_PAIRS, false))).toBe(9);
    // Concordant: the rule keeps the counted level.
    expect(level(history(RANK_LEVEL_PAIRS, true), "rank")).toBe(9);
    // Too few pairs to judge.
    expect(level(history(RANK_LEVEL_PAIRS - 1, false), "rank")).toBe(9);
    // A pair without finite values at both depths does not count.
    const nanPair = history(RANK_LEVEL_PAIRS, false).map((t) => (t.number === 11 ? tr(11, "COMPLETE", [[9, NaN], [81, 0.05]], { budget: 81 }) : t));
    expect(level(nanPair, "rank")).toBe(9);
    // At the deeper level, the rows are the values there, the rest imputed worse than the worst.
    const d = fidelityData(history(RANK_LEVEL_PAIRS, false), "minimize", 10, all, "informed", "rank")!;
    expect(d.imputed).toBe(11);
    expect(d.losses.slice(11)).toEqual([0.05, 0.04, 0.03, 0.02, 0.01]);
    expect(minOf(d.losses.slice(0, 11))).toBeGreaterThan(0.05);
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    expect(spearman([1, 1, 2], [3, 3, 1])).toBeCloseTo(-1, 12);
    // An option of the GP, and through `auto`'s inner options; "count" by default.
    expect(gpStrategyFactory.options.parse({}).fidelityLevel).toBe("count");
    expect(autoStrategyFactory.options.parse({ gp: { fidelityLevel: "rank" } }).gp).toMatchObject({ fidelityLevel: "rank" });
  });
});
