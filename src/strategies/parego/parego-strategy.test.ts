import { describe, expect, it } from "vitest";
import type { Params, SearchSpace } from "../../domain/distributions.js";
import { hypervolumeOf, paretoFront } from "../../domain/objectives.js";
import type { StrategyFactory } from "../../domain/plugin.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { strategyConformance } from "../../testing/strategy.case.js";
import { randomStrategyFactory } from "../random/random-strategy.js";
import { HV_REFERENCE_MARGIN, WEIGHTS_ATTR, paregoStrategyFactory, scalarise, simplexWeights, weightsFromUnit } from "./parego-strategy.js";

const defaults = paregoStrategyFactory.options.parse({});
strategyConformance(paregoStrategyFactory, { options: defaults, n: 20, objectives: 2 });

describe("parego", () => {
  it("has Knowles' ρ = 0.05 and refuses unknown options", () => {
    expect(defaults).toEqual({ rho: 0.05, weights: "random", scalarization: "chebyshev", gp: {} });
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

  it("maps the unit cube onto the simplex and the sphere's positive orthant uniformly (4000 draws)", () => {
    const rng = new Rng(9, "weights-map");
    for (const m of [2, 3, 4]) {
      const simplexMean = new Array<number>(m).fill(0);
      const sphereMean = new Array<number>(m).fill(0);
      for (let i = 0; i < 4000; i++) {
        const u = Array.from({ length: m - 1 }, () => rng.random());
        const w = weightsFromUnit(u, m, "simplex", () => rng.random());
        const v = weightsFromUnit(u, m, "sphere", () => rng.random());
        expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
        expect(Math.hypot(...v)).toBeCloseTo(1, 12);
        expect([...w, ...v].every((x) => x >= 0)).toBe(true);
        w.forEach((x, j) => (simplexMean[j]! += x / 4000));
        v.forEach((x, j) => (sphereMean[j]! += x / 4000));
      }
      // Uniform on the simplex: each weight averages 1/m. Uniform on the sphere's orthant: every
      // coordinate has the same mean (2/π for m = 2, 1/2 for m = 3).
      for (const x of simplexMean) expect(x).toBeCloseTo(1 / m, 1);
      for (const x of sphereMean) expect(x).toBeCloseTo(sphereMean[0]!, 1);
      if (m === 2) expect(sphereMean[0]).toBeCloseTo(2 / Math.PI, 1);
      if (m === 3) expect(sphereMean[2]).toBeCloseTo(0.5, 1);
    }
  });

  it("with weights: sobol, the first 16 suggestions' weights fall one in each sixteenth of [0, 1]; random ones do not (10 seeds)", () => {
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const dirs: Direction[] = ["minimize", "minimize"];
    const strata = (options: typeof defaults, seed: number) => {
      const strategy = paregoStrategyFactory.create(options);
      const study = makeStudy(space, { seed, directions: dirs, strategy: { name: "parego", options: {} } });
      const trials: Trial[] = [];
      for (let i = 0; i < 16; i++) {
        const s = strategy.suggest(suggestRequest(study, trials));
        const x = s.params.x as number;
        trials.push(makeTrial(i, s.params, space, { values: [x, 1 - x], systemAttrs: s.systemAttrs ?? {} }));
      }
      return new Set(trials.map((t) => Math.floor(16 * (t.systemAttrs[WEIGHTS_ATTR] as number[])[0]!))).size;
    };
    const sobol = paregoStrategyFactory.options.parse({ weights: "sobol" });
    let randomFull = 0;
    for (let seed = 0; seed < 10; seed++) {
      expect(strata(sobol, seed)).toBe(16);
      if (strata(defaults, seed) === 16) randomFull++;
    }
    // 16 i.i.d. draws hit 16 distinct sixteenths with probability 16!/16^16 ≈ 1e-6.
    expect(randomFull).toBe(0);
  });

  it("with weights: sobol on one objective, weighs it 1 and models it (a 0-dimensional Sobol sequence threw: every ask fell back to random; hostile-sweep seed 13)", () => {
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    for (const scalarization of ["chebyshev", "hypervolume"] as const) {
      const strategy = paregoStrategyFactory.create(paregoStrategyFactory.options.parse({ weights: "sobol", scalarization }));
      const study = makeStudy(space, { seed: 4, directions: ["minimize"], strategy: { name: "parego", options: {} } });
      const trials: Trial[] = [];
      for (let i = 0; i < 14; i++) {
        const s = strategy.suggest(suggestRequest(study, trials));
        const x = s.params.x as number;
        trials.push(makeTrial(i, s.params, space, { values: [(x - 0.3) ** 2], systemAttrs: s.systemAttrs ?? {} }));
      }
      expect(trials.map((t) => t.systemAttrs[WEIGHTS_ATTR])).toEqual(trials.map(() => [1]));
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

  it("scalarises objectives spanning −Number.MAX_VALUE to Number.MAX_VALUE (their range was ∞ and the scalarised values NaN)", () => {
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const M = Number.MAX_VALUE;
    const trials = [[-M, M], [M, -M], [0, 0]].map((values, i) => makeTrial(i, { x: 0.5 }, space, { values }));
    expect(scalarise(trials, ["minimize", "minimize"], [0.5, 0.5], 0).map((t) => t.value)).toEqual([0.5, 0.5, 0.25]);
  });

  it("scalarises by the hypervolume scalarisation: minus the length of the ray from the reference along −λ", () => {
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const p: Params = { x: 0.5 };
    const dirs: Direction[] = ["minimize", "minimize"];
    const trials = [makeTrial(0, p, space, { values: [0, 10] }), makeTrial(1, p, space, { values: [4, 0] }), makeTrial(2, p, space, { values: [1, 5] })];
    const r = 1 + HV_REFERENCE_MARGIN;
    const v = [0.6, 0.8];
    const s = scalarise(trials, dirs, v, 0.05, "hypervolume").map((t) => t.value);
    // Normalised (0, 1), (1, 0), (0.25, 0.5): value max_j (u_j − r) / v_j.
    expect(s[0]).toBeCloseTo(Math.max(-r / 0.6, (1 - r) / 0.8), 12);
    expect(s[1]).toBeCloseTo(Math.max((1 - r) / 0.6, -r / 0.8), 12);
    expect(s[2]).toBeCloseTo(Math.max((0.25 - r) / 0.6, (0.5 - r) / 0.8), 12);
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
