import { describe, expect, it } from "vitest";
import type { Params, SearchSpace } from "../../domain/distributions.js";
import { hypervolumeOf, paretoFront } from "../../domain/objectives.js";
import type { StrategyFactory } from "../../domain/plugin.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { strategyConformance } from "../../testing/strategy.case.js";
import { randomStrategyFactory } from "../random/random-strategy.js";
import { WEIGHTS_ATTR, paregoStrategyFactory, scalarise, simplexWeights } from "./parego-strategy.js";

const defaults = paregoStrategyFactory.options.parse({});
strategyConformance(paregoStrategyFactory, { options: defaults, n: 20, objectives: 2 });

describe("parego", () => {
  it("has Knowles' ρ = 0.05 and refuses unknown options", () => {
    expect(defaults).toEqual({ rho: 0.05, gp: {} });
    expect(paregoStrategyFactory.options.safeParse({ rh: 1 }).success).toBe(false);
  });

  it("draws weights uniformly from the simplex: they sum to 1 and average 1/m (2000 draws)", () => {
    const rng = new Rng(5, "simplex");
    for (const m of [2, 3]) {
      const mean = new Array<number>(m).fill(0);
      for (let i = 0; i < 2000; i++) {
        const w = simplexWeights(m, rng);
        expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
        expect(w.every((x) => x >= 0)).toBe(true);
        w.forEach((x, j) => (mean[j]! += x / 2000));
      }
      for (const x of mean) expect(x).toBeCloseTo(1 / m, 1);
    }
  });

  it("scalarises by the augmented Chebyshev function of objectives normalised over the feasible trials; constraints pass through", () => {
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const p: Params = { x: 0.5 };
    const dirs: Direction[] = ["minimize", "maximize"];
    const trials = [
      makeTrial(0, p, space, { values: [0, 0] }), // normalised (0, 1): objective 1 maximised, 0 is its worst
      makeTrial(1, p, space, { values: [10, 4] }), // (1, 0)
      makeTrial(2, p, space, { values: [5, 2] }), // (0.5, 0.5)
      makeTrial(3, p, space, { values: [-100, 100], constraints: [2, -1] }), // infeasible: not in the ranges
      makeTrial(4, p, space, { state: "RUNNING", values: null }),
    ];
    const s = scalarise(trials, dirs, [0.25, 0.75], 0.05).map((t) => t.value);
    expect(s[0]).toBeCloseTo(0.75 + 0.05 * 0.75, 12);
    expect(s[1]).toBeCloseTo(0.25 + 0.05 * 0.25, 12);
    expect(s[2]).toBeCloseTo(0.375 + 0.05 * 0.5, 12);
    // Infeasible: minimisation form (−100, −100), normalised by the feasible ranges to (−10, −24).
    expect(s[3]).toBeCloseTo(-2.5 + 0.05 * (-2.5 - 18), 12);
    expect(s[4]).toBeNull();
    const out = scalarise(trials, dirs, [0.25, 0.75], 0.05);
    expect(out.map((t) => t.constraints)).toEqual([null, null, null, [2, -1], null]);
    // No feasible trial: normalised over all COMPLETE trials.
    const none = [makeTrial(0, p, space, { values: [0, 0], constraints: [1] }), makeTrial(1, p, space, { values: [10, 4], constraints: [2] })];
    expect(scalarise(none, dirs, [0.5, 0.5], 0).map((t) => t.value)).toEqual([0.5, 0.5]);
  });

  it("uses the constraints (GP × probability of feasibility): beats ParEGO told no constraints on feasible hypervolume (>= 4 of 5 seeds)", () => {
    // Two objectives (x0, 1 − x0 + x1 + x2) whose unconstrained front (x1 = x2 = 0) is cut off by
    // 0.6 − x1 − x2 ≤ 0; the constrained front is f2 = 1.6 − f1.
    const space: SearchSpace = { x0: { type: "float", low: 0, high: 1 }, x1: { type: "float", low: 0, high: 1 }, x2: { type: "float", low: 0, high: 1 } };
    const dirs: Direction[] = ["minimize", "minimize"];
    const run = (tell: boolean, seed: number) => {
      const strategy = paregoStrategyFactory.create(defaults);
      const study = makeStudy(space, { seed, directions: dirs, strategy: { name: "parego", options: {} } });
      const trials: Trial[] = [];
      const truth: Trial[] = [];
      for (let i = 0; i < 25; i++) {
        const s = strategy.suggest(suggestRequest(study, trials));
        const [a, b, c] = [0, 1, 2].map((k) => s.params[`x${k}`] as number) as [number, number, number];
        const r = { values: [a, 1 - a + b + c], constraints: [0.6 - b - c] };
        trials.push(makeTrial(i, s.params, space, { values: r.values, constraints: tell ? r.constraints : null, systemAttrs: s.systemAttrs ?? {} }));
        truth.push(makeTrial(i, s.params, space, r));
      }
      return hypervolumeOf(dirs, paretoFront(dirs, truth), [1.1, 3.1]);
    };
    let wins = 0;
    for (const seed of [21, 22, 23, 24, 25]) if (run(true, seed) > run(false, seed)) wins++;
    expect(wins).toBeGreaterThanOrEqual(4);
  });

  it("records its weights and beats random search on ZDT1 (d = 3, 30 trials) on at least 4 of 5 seeds", () => {
    const zdt1 = (x: number[]) => {
      const g = 1 + (9 * (x[1]! + x[2]!)) / 2;
      return [x[0]!, g * (1 - Math.sqrt(x[0]! / g))];
    };
    const space: SearchSpace = { x0: { type: "float", low: 0, high: 1 }, x1: { type: "float", low: 0, high: 1 }, x2: { type: "float", low: 0, high: 1 } };
    const dirs: Direction[] = ["minimize", "minimize"];
    const run = (factory: StrategyFactory<any>, options: unknown, seed: number) => {
      const strategy = factory.create(options);
      const study = makeStudy(space, { seed, directions: dirs, strategy: { name: factory.name, options: {} } });
      const trials: Trial[] = [];
      for (let i = 0; i < 30; i++) {
        const s = strategy.suggest(suggestRequest(study, trials));
        if (factory === paregoStrategyFactory) expect(s.systemAttrs?.[WEIGHTS_ATTR]).toHaveLength(2);
        trials.push(makeTrial(i, s.params, space, { values: zdt1([0, 1, 2].map((k) => s.params[`x${k}`] as number)), systemAttrs: s.systemAttrs ?? {} }));
      }
      return hypervolumeOf(dirs, paretoFront(dirs, trials), [1.1, 11]);
    };
    let wins = 0;
    for (const seed of [3, 4, 5, 6, 7]) if (run(paregoStrategyFactory, defaults, seed) > run(randomStrategyFactory, {}, seed)) wins++;
    expect(wins).toBeGreaterThanOrEqual(4);
  });
});
