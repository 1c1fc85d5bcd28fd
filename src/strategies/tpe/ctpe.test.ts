import { describe, expect, it } from "vitest";
import type { Params, SearchSpace } from "../../domain/distributions.js";
import type { Trial } from "../../domain/trial.js";
import { strategyConformance } from "../../testing/strategy.case.js";
import { type ConstrainedProblem, gramacy, hartmann6L1 } from "../../testing/constrained-problems.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { ctpeLogFactor, ctpeTerms } from "./ctpe.js";
import { type TpeOptions, tpeStrategyFactory } from "./tpe-strategy.js";

const ctpe = tpeStrategyFactory.options.parse({});
const optunaSplit = tpeStrategyFactory.options.parse({ constraints_model: "optuna" });
strategyConformance(tpeStrategyFactory, { options: ctpe, n: 30, constrained: true });
strategyConformance(tpeStrategyFactory, { options: { ...ctpe, multivariate: false }, n: 24, constrained: true });

const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
const numbers = (ts: readonly Trial[]) => ts.map((t) => t.number);

describe("c-TPE terms (ctpe.ts)", () => {
  it("is the default of tpe, and `optuna` keeps the feasible-first split", () => {
    expect(ctpe.constraints_model).toBe("ctpe");
    expect(tpeStrategyFactory.options.safeParse({ constraints_model: "other" }).success).toBe(false);
  });

  it("splits the objective at the shortest prefix holding n_f feasible trials, infeasible better ones included", () => {
    // 30 trials, value = number; trials 0-9 infeasible, the rest feasible: n_f = ⌈0.1·30⌉ = 3.
    const trials = Array.from({ length: 30 }, (_, i) => makeTrial(i, { x: i / 30 }, space, { value: i, constraints: [i < 10 ? 1 : -1] }));
    const [obj, con] = ctpeTerms(trials, "minimize", true);
    expect(numbers(obj!.below)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(obj!.gamma).toBeCloseTo(13 / 30, 12);
    expect(numbers(con!.below)).toEqual(numbers(trials.slice(10)));
    expect(con!.gamma).toBeCloseTo(20 / 30, 12);
    // Maximising reverses the order: the best values are the feasible 29, 28, 27.
    expect(numbers(ctpeTerms(trials, "maximize", true)[0]!.below)).toEqual([27, 28, 29]);
  });

  it("drops the objective (γ = 1) while too few trials are feasible, and relaxes the constraint's threshold", () => {
    // 30 trials, only trial 29 feasible; c = 1 + (number mod 7) / 10 for the others.
    const trials = Array.from({ length: 30 }, (_, i) =>
      makeTrial(i, { x: i / 30 }, space, { value: i, constraints: [i === 29 ? -1 : 1 + (i % 7) / 10] }),
    );
    const [obj, con] = ctpeTerms(trials, "minimize", true);
    expect(obj!.gamma).toBe(1);
    // n_f = 3 good: trial 29 and the two least violating (c = 1 at 0, 7, ...; ties are all kept).
    expect(numbers(con!.below)).toEqual([0, 7, 14, 21, 28, 29]);
    expect(con!.gamma).toBeCloseTo(6 / 30, 12);
  });

  it("puts RUNNING (constant liar) and PRUNED trials in the objective's bad set only, and skips the asking trial", () => {
    const trials = [
      ...Array.from({ length: 20 }, (_, i) => makeTrial(i, { x: i / 20 }, space, { value: i, constraints: [-1, i % 2 === 0 ? -1 : 1] })),
      makeTrial(20, { x: 0.5 }, space, { state: "PRUNED", value: null }),
      makeTrial(21, { x: 0.5 }, space, { state: "RUNNING", value: null }),
      makeTrial(22, { x: 0.5 }, space, { state: "RUNNING", value: null }),
    ];
    const terms = ctpeTerms(trials, "minimize", true, 22);
    expect(terms).toHaveLength(3);
    // n = 22 (20 COMPLETE, 1 PRUNED, 1 RUNNING; the asking 22 skipped): n_f = 3 feasible (even numbers) → 0-4 good.
    expect(numbers(terms[0]!.below)).toEqual([0, 1, 2, 3, 4]);
    expect(numbers(terms[0]!.above)).toEqual([...Array.from({ length: 15 }, (_, i) => i + 5), 20, 21]);
    for (const t of terms.slice(1)) expect([...t.below, ...t.above].every((x) => x.state === "COMPLETE")).toBe(true);
    expect(terms[1]!.gamma).toBe(1);
    expect(terms[2]!.gamma).toBeCloseTo(0.5, 12);
    expect(numbers(ctpeTerms(trials, "minimize", false)[0]!.above)).not.toContain(21);
  });

  it("scores −log(γ + (1 − γ) g/l), stable at the ends", () => {
    for (const [gamma, ll, lg] of [[0.3, -1, 2], [0.9, 5, -5], [0.01, 0, 0]] as const)
      expect(ctpeLogFactor(gamma, ll, lg)).toBeCloseTo(-Math.log(gamma + (1 - gamma) * Math.exp(lg - ll)), 12);
    expect(ctpeLogFactor(0, -3, 4)).toBe(-7);
    expect(ctpeLogFactor(1, -3, 4)).toBe(0);
    expect(Number.isFinite(ctpeLogFactor(0.5, -800, 800))).toBe(true);
  });

  it("proposes what plain TPE proposes when every constraint holds", () => {
    const sp: SearchSpace = { x: space.x!, y: { type: "float", low: -2, high: 2 } };
    const f = (p: Params) => ((p.x as number) - 0.3) ** 2 + (p.y as number) ** 2;
    const study = makeStudy(sp, { seed: 5, strategy: { name: "tpe", options: {} } });
    const plain = tpeStrategyFactory.create(ctpe);
    const constrained = tpeStrategyFactory.create(ctpe);
    const a: Trial[] = [];
    const b: Trial[] = [];
    for (let i = 0; i < 40; i++) {
      const sa = plain.suggest(suggestRequest(study, a));
      const sb = constrained.suggest(suggestRequest(study, b));
      expect(sb.params).toEqual(sa.params);
      a.push(makeTrial(i, sa.params, sp, { value: f(sa.params) }));
      b.push(makeTrial(i, sb.params, sp, { value: f(sb.params), constraints: [-1, -0.5] }));
    }
  });
});

/** Best feasible value after `n` sequential trials (Infinity if none was feasible). */
function bestFeasible(options: TpeOptions, problem: ConstrainedProblem, n: number, seed: number): number {
  const strategy = tpeStrategyFactory.create(options);
  const study = makeStudy(problem.space, { seed, strategy: { name: "tpe", options: {} } });
  const trials: Trial[] = [];
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    const s = strategy.suggest(suggestRequest(study, trials));
    const value = problem.evaluate(s.params);
    const constraints = problem.constraints(s.params);
    if (constraints.every((c) => c <= 0)) best = Math.min(best, value);
    trials.push(makeTrial(i, s.params, problem.space, { value, constraints }));
  }
  return best;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1] as number;

describe("c-TPE against Optuna's feasible-first split (10 seeds each)", () => {
  it("finds a better feasible value on Gramacy's toy problem at 50 trials in at least 7 of 10 seeds", () => {
    let wins = 0;
    for (let seed = 0; seed < 10; seed++) if (bestFeasible(ctpe, gramacy, 50, seed) < bestFeasible(optunaSplit, gramacy, 50, seed)) wins++;
    expect(wins).toBeGreaterThanOrEqual(7);
  });

  it("keeps up where few points are feasible (Hartmann-6, ‖x‖₁ ≤ 1.5, 100 trials): median within 0.15, feasible every seed", () => {
    const c: number[] = [];
    const o: number[] = [];
    for (let seed = 0; seed < 10; seed++) {
      c.push(bestFeasible(ctpe, hartmann6L1, 100, seed));
      o.push(bestFeasible(optunaSplit, hartmann6L1, 100, seed));
    }
    expect(c.every(Number.isFinite)).toBe(true);
    expect(median(c)).toBeLessThanOrEqual(median(o) + 0.15);
  });
});
