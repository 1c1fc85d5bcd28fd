import { describe, expect, it } from "vitest";
import type { Params, SearchSpace } from "../../domain/distributions.js";
import type { Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { type BenchmarkProblem, branin, hartmann6, mixedProblem } from "../../testing/benchmark-functions.js";
import { randomStrategyFactory } from "../random/random-strategy.js";
import type { StrategyFactory } from "../strategy.js";
import { strategyConformance } from "../strategy.case.js";
import { bestValue, makeStudy, makeTrial, runOnProblem, suggestRequest } from "../test-helpers.js";
import { TpeStrategy, splitTrials, tpeStrategyFactory } from "./tpe-strategy.js";

const defaults = tpeStrategyFactory.options.parse({});
strategyConformance(tpeStrategyFactory, { options: defaults, n: 40 });
strategyConformance(tpeStrategyFactory, { options: { ...defaults, multivariate: false, startup: "qmc" }, n: 30 });

/** Ten fixed seeds for the statistical tests. */
const SEEDS = Array.from({ length: 10 }, (_, i) => (i + 1) * 104729);

/** Best value after n sequential trials of a strategy on a problem. */
function bestOf<O>(factory: StrategyFactory<O>, options: O, problem: BenchmarkProblem, n: number, seed: number): number {
  return bestValue(runOnProblem(factory, options, problem, n, seed));
}

describe("tpe strategy", () => {
  it("fills Optuna 5.0 defaults and refuses unknown options", () => {
    expect(defaults).toEqual({
      n_startup_trials: 10,
      n_ei_candidates: 24,
      startup: "random",
      multivariate: true,
      constant_liar: true,
      prior_weight: 1,
      consider_magic_clip: true,
      consider_endpoints: false,
    });
    expect(tpeStrategyFactory.options.safeParse({ n_ei_candidate: 3 }).success).toBe(false);
    expect(tpeStrategyFactory.options.safeParse({ prior_weight: 0 }).success).toBe(false);
  });

  describe("split into good and bad sets", () => {
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const p: Params = { x: 0.5 };
    const steps = (pairs: [number, number][]) => pairs.map(([step, value]) => ({ step, value }));
    // One COMPLETE trial and ten PRUNED ones: n = 11 → gamma = 2, so the best pruned trial joins the good set.
    const trials: Trial[] = [
      makeTrial(0, p, space, { value: 4 }),
      makeTrial(1, p, space, { state: "PRUNED", value: null, intermediate: steps([[1, 9], [5, 0.5]]) }),
      makeTrial(2, p, space, { state: "PRUNED", value: null, intermediate: steps([[1, 9], [9, 2.0]]) }),
      makeTrial(3, p, space, { state: "PRUNED", value: null, intermediate: steps([[9, 1.0]]) }),
      makeTrial(4, p, space, { state: "PRUNED", value: null, intermediate: [] }),
      ...[5, 6, 7, 8, 9, 10].map((i) => makeTrial(i, p, space, { state: "PRUNED", value: null, intermediate: steps([[2, i]]) })),
      makeTrial(11, p, space, { state: "RUNNING", value: null }),
      makeTrial(12, p, space, { state: "FAIL", value: null }),
      makeTrial(13, p, space, { state: "WAITING", value: null }),
    ];
    const numbers = (ts: Trial[]) => ts.map((t) => t.number);

    it("ranks COMPLETE first, then PRUNED by last step (further is better) then last value", () => {
      const { below, above } = splitTrials(trials, "minimize", true);
      expect(numbers(below)).toEqual([0, 3]);
      expect(numbers(above)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10, 11]);
    });

    it("flips the value order when maximising and leaves RUNNING out without constant liar", () => {
      const { below, above } = splitTrials(trials, "maximize", false);
      expect(numbers(below)).toEqual([0, 2]);
      expect(numbers(above)).toEqual([1, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it("never puts RUNNING trials in the good set and ranks COMPLETE by value", () => {
      const ts = Array.from({ length: 30 }, (_, i) =>
        makeTrial(i, p, space, i % 3 === 0 ? { state: "RUNNING", value: null } : { value: 100 - i }),
      );
      const { below, above } = splitTrials(ts, "minimize", true);
      expect(numbers(below)).toEqual([28, 29]); // 20 finished → gamma 2; best values are the latest
      expect(above.filter((t) => t.state === "RUNNING")).toHaveLength(10);
      expect(numbers(splitTrials(ts, "minimize", true, 29).below)).toEqual([26, 28]);
    });
  });

  describe("parallel workers (constant liar)", () => {
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const history: Trial[] = Array.from({ length: 30 }, (_, i) => {
      const x = ((i * 0.618034) % 1 + 0.01) % 1;
      return makeTrial(i, { x }, space, { value: (x - 0.3) ** 2 });
    });
    const running = [0.29, 0.3, 0.31, 0.295, 0.305, 0.3].map((x, i) =>
      makeTrial(30 + i, { x }, space, { state: "RUNNING", value: null }),
    );
    const suggestX = (opts: typeof defaults, trials: Trial[], seed: number) => {
      const study = makeStudy(space);
      return new TpeStrategy(opts).suggest({ study, trials, trialNumber: 40, rng: new Rng(seed, "pending") }).params.x as number;
    };

    it("RUNNING trials change the suggestion and push it away from the pending points", () => {
      let changed = 0;
      let distWith = 0;
      let distWithout = 0;
      for (let s = 0; s < 40; s++) {
        const a = suggestX(defaults, history, s);
        const b = suggestX(defaults, [...history, ...running], s);
        if (a !== b) changed++;
        distWithout += Math.abs(a - 0.3);
        distWith += Math.abs(b - 0.3);
      }
      expect(changed).toBeGreaterThanOrEqual(36);
      expect(distWith).toBeGreaterThan(1.5 * distWithout);
    });

    it("ignores RUNNING trials when constant_liar is off", () => {
      const off = { ...defaults, constant_liar: false };
      for (let s = 0; s < 10; s++) expect(suggestX(off, [...history, ...running], s)).toBe(suggestX(off, history, s));
    });
  });

  it("define-by-run parameters get univariate TPE from the trials that have them", () => {
    const declared: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const y = { type: "float" as const, low: 0, high: 1 };
    const space: SearchSpace = { ...declared, y };
    const rng = new Rng(77);
    const trials: Trial[] = Array.from({ length: 40 }, (_, i) => {
      const params = { x: rng.random(), y: rng.random() };
      return makeTrial(i, params, space, { value: (params.y - 0.8) ** 2 });
    });
    const strategy = new TpeStrategy(defaults);
    const study = makeStudy(declared);
    const asking = makeTrial(40, { x: 0.5 }, space, { state: "RUNNING", value: null });
    const dists = Array.from({ length: 30 }, (_, s) => {
      const v = strategy.suggestParam({ study, trials: [...trials, asking], trial: asking, name: "y", distribution: y, rng: new Rng(s) });
      return Math.abs((v as number) - 0.8);
    }).sort((a, b) => a - b);
    // Uniform draws would have a median distance of about 0.25.
    expect(dists[15]).toBeLessThan(0.1);
    // A distribution that no trial used falls back to the prior: still valid values.
    const z = { type: "int" as const, low: 1, high: 5 };
    const v = strategy.suggestParam({ study, trials, trial: asking, name: "z", distribution: z, rng: new Rng(1) });
    expect([1, 2, 3, 4, 5]).toContain(v);
  });

  it("startup: random draws before n_startup_trials finished trials, qmc follows the Sobol sequence", () => {
    const space: SearchSpace = { a: { type: "float", low: 0, high: 1 }, b: { type: "float", low: 0, high: 1 } };
    const strategy = new TpeStrategy({ ...defaults, startup: "qmc" });
    const study = makeStudy(space, { seed: 3 });
    const trials: Trial[] = [];
    for (let i = 0; i < 8; i++) {
      const s = strategy.suggest(suggestRequest(study, trials));
      trials.push(makeTrial(i, s.params, space, { value: 0 }));
    }
    // A scrambled Sobol prefix of 8 points puts one point in each eighth of each axis.
    for (const k of ["a", "b"]) expect(new Set(trials.map((t) => Math.floor((t.params[k] as number) * 8))).size).toBe(8);
  });

  it("beats random search on Branin and Hartmann6 at 60 trials in at least 8 of 10 seeds", () => {
    for (const problem of [branin, hartmann6]) {
      let wins = 0;
      for (const seed of SEEDS) {
        if (bestOf(tpeStrategyFactory, defaults, problem, 60, seed) < bestOf(randomStrategyFactory, {}, problem, 60, seed)) wins++;
      }
      expect(wins, problem.name).toBeGreaterThanOrEqual(8);
    }
  });

  it("beats random search on a mixed int/log/categorical problem at 60 trials in at least 8 of 10 seeds", () => {
    let wins = 0;
    for (const seed of SEEDS) {
      if (bestOf(tpeStrategyFactory, defaults, mixedProblem, 60, seed) < bestOf(randomStrategyFactory, {}, mixedProblem, 60, seed)) wins++;
    }
    expect(wins).toBeGreaterThanOrEqual(8);
  });
});
