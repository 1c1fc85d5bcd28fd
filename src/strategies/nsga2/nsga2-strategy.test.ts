import { describe, expect, it } from "vitest";
import type { SearchSpace } from "../../domain/distributions.js";
import { hypervolumeOf, paretoFront, rankedPoint } from "../../domain/objectives.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { strategyConformance } from "../../testing/strategy.case.js";
import { randomStrategyFactory } from "../random/random-strategy.js";
import type { StrategyFactory } from "../../domain/plugin.js";
import { GENERATION_ATTR, type Nsga2Options, nextGeneration, nsga2StrategyFactory, selectElite } from "./nsga2-strategy.js";

const defaults = nsga2StrategyFactory.options.parse({});
const small = nsga2StrategyFactory.options.parse({ population_size: 8 });

// Several generations inside the simulated budget, with 2 objectives and a constraint; and once
// as a one-objective strategy (NSGA-II is valid there too).
strategyConformance(nsga2StrategyFactory, { options: small, n: 40, objectives: 2 });
strategyConformance(nsga2StrategyFactory, { options: small, n: 30 });

/** ZDT1 (Zitzler, Deb & Thiele 2000) on [0,1]^d: f1 = x1, f2 = g·(1 − √(f1/g)), g = 1 + 9·mean(x2..xd). */
function zdt1(x: number[]): number[] {
  const g = 1 + (9 * x.slice(1).reduce((a, b) => a + b, 0)) / (x.length - 1);
  return [x[0]!, g * (1 - Math.sqrt(x[0]! / g))];
}

const space = (d: number): SearchSpace => Object.fromEntries(Array.from({ length: d }, (_, i) => [`x${i}`, { type: "float", low: 0, high: 1 }]));

/** A sequential loop of `factory` on a problem: values (and constraints) from `evaluate`. */
function run(
  factory: StrategyFactory<any>,
  options: unknown,
  d: number,
  n: number,
  seed: number,
  evaluate: (x: number[]) => { values: number[]; constraints?: number[] },
): Trial[] {
  const strategy = factory.create(options);
  const sp = space(d);
  const directions: Direction[] = ["minimize", "minimize"];
  const study = makeStudy(sp, { seed, directions, strategy: { name: factory.name, options: {} } });
  const trials: Trial[] = [];
  for (let i = 0; i < n; i++) {
    const s = strategy.suggest(suggestRequest(study, trials));
    const x = Array.from({ length: d }, (_, k) => s.params[`x${k}`] as number);
    const r = evaluate(x);
    trials.push(makeTrial(i, s.params, sp, { values: r.values, constraints: r.constraints ?? null, systemAttrs: s.systemAttrs ?? {} }));
  }
  return trials;
}

const hv = (trials: readonly Trial[], ref: number[]) => {
  const dirs: Direction[] = ["minimize", "minimize"];
  return hypervolumeOf(dirs, paretoFront(dirs, trials), ref);
};

describe("nsga2", () => {
  it("has Optuna's NSGAIISampler defaults", () => {
    expect(defaults).toEqual({ population_size: 50, mutation_prob: null, crossover_prob: 0.9, swapping_prob: 0.5 } satisfies Nsga2Options);
  });

  it("advances a generation once population_size COMPLETE trials have the current one", () => {
    const sp = space(2);
    const study = makeStudy(sp, { directions: ["minimize", "minimize"], strategy: { name: "nsga2", options: {} } });
    const strategy = nsga2StrategyFactory.create(small);
    const trials: Trial[] = [];
    for (let i = 0; i < 8; i++) {
      const s = strategy.suggest(suggestRequest(study, trials));
      expect(s.systemAttrs?.[GENERATION_ATTR]).toBe(0);
      // Failed trials do not count toward the population.
      trials.push(makeTrial(i, s.params, sp, { state: i === 3 ? "FAIL" : "COMPLETE", values: [i, -i], systemAttrs: s.systemAttrs ?? {} }));
    }
    expect(strategy.suggest(suggestRequest(study, trials)).systemAttrs?.[GENERATION_ATTR]).toBe(0);
    trials.push(makeTrial(8, { x0: 0.5, x1: 0.5 }, sp, { values: [1, 1], systemAttrs: { [GENERATION_ATTR]: 0 } }));
    const child = strategy.suggest(suggestRequest(study, trials));
    expect(child.systemAttrs?.[GENERATION_ATTR]).toBe(1);
    expect(child.systemAttrs?.nsga2_parents).toBeDefined();
  });

  it("keeps feasible members over infeasible ones, then the least violation, and cuts the last front by crowding", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    const member = (n: number, values: number[], constraints: number[] | null) => {
      const trial = makeTrial(n, {}, {}, { values, constraints });
      return { trial, point: rankedPoint(dirs, trial) };
    };
    const pool = [
      member(0, [0, 0], [2]), // the best values, but infeasible
      member(1, [5, 5], [-1]),
      member(2, [1, 9], [0.5]),
      member(3, [0, 10], [-1]),
      member(4, [10, 0], [-1]),
      member(5, [4, 6], [-1]),
      member(6, [6, 4], [0]),
    ];
    const elite = selectElite(pool, 4, new Rng(1));
    // Front 0 among the feasible: 3, 4, 5, 6 and 1 (five non-dominated points); crowding keeps the
    // extremes 3 and 4 first, then two of the interior ones; no infeasible member gets in.
    const numbers = elite.map((m) => m.trial.number).sort();
    expect(numbers).toContain(3);
    expect(numbers).toContain(4);
    expect(numbers).not.toContain(0);
    expect(numbers).not.toContain(2);
    const withInfeasible = selectElite(pool, 6, new Rng(1)).map((m) => m.trial.number);
    expect(withInfeasible).toContain(2); // violation 0.5 beats violation 2
    expect(withInfeasible).not.toContain(0);
  });

  it("counts trials without a generation as generation 0", () => {
    const byGen = new Map([[0, Array.from({ length: 3 }, (_, i) => ({ trial: makeTrial(i, {}, {}), point: { values: [i], violation: 0 } }))]]);
    expect(nextGeneration(byGen, 3)).toBe(1);
    expect(nextGeneration(byGen, 4)).toBe(0);
    expect(nextGeneration(new Map(), 4)).toBe(0);
  });

  it("beats random search on ZDT1 (d = 6, 300 trials, Optuna's defaults) on most of 8 seeds", () => {
    const ref = [1.1, 7];
    let wins = 0;
    const ratios: number[] = [];
    for (let seed = 1; seed <= 8; seed++) {
      const ga = hv(run(nsga2StrategyFactory, defaults, 6, 300, seed, (x) => ({ values: zdt1(x) })), ref);
      const rnd = hv(run(randomStrategyFactory, {}, 6, 300, seed, (x) => ({ values: zdt1(x) })), ref);
      if (ga > rnd) wins++;
      ratios.push(ga / rnd);
    }
    ratios.sort((a, b) => a - b);
    expect(wins).toBeGreaterThanOrEqual(6);
    expect((ratios[3]! + ratios[4]!) / 2).toBeGreaterThan(1.02);
  });

  it("with constraints, finds more feasible trials than random and a feasible front (6 seeds)", () => {
    // ZDT1 with a constraint that only a sliver of the cube satisfies: x1 + x2 <= 0.3.
    const evaluate = (x: number[]) => ({ values: zdt1(x), constraints: [x[1]! + x[2]! - 0.3] });
    let more = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const ga = run(nsga2StrategyFactory, small, 6, 160, seed, evaluate);
      const rnd = run(randomStrategyFactory, {}, 6, 160, seed, evaluate);
      const share = (ts: Trial[]) => ts.slice(80).filter((t) => (t.constraints as number[])[0]! <= 0).length;
      if (share(ga) > share(rnd)) more++;
      for (const t of paretoFront(["minimize", "minimize"], ga)) expect((t.constraints as number[])[0]).toBeLessThanOrEqual(0);
    }
    expect(more).toBeGreaterThanOrEqual(5);
  });
});
