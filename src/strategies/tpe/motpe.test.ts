import { describe, expect, it } from "vitest";
import type { Params, SearchSpace } from "../../domain/distributions.js";
import { hypervolumeOf, paretoFront } from "../../domain/objectives.js";
import type { StrategyFactory } from "../../domain/plugin.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { hypervolume } from "../../math/hypervolume.js";
import { Rng } from "../../math/rng.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { nsga2StrategyFactory } from "../nsga2/nsga2-strategy.js";
import { randomStrategyFactory } from "../random/random-strategy.js";
import { greedyHssp, motpeBelowWeights, motpeBest, motpeReferencePoint } from "./motpe.js";
import { splitTrials, tpeStrategyFactory } from "./tpe-strategy.js";

const tpeDefaults = tpeStrategyFactory.options.parse({});
const one: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
const p: Params = { x: 0.5 };

/** The deterministic history of the Optuna-derived cases (same formula as the Python script that made them). */
function refValues(i: number, m: number): number[] {
  const v = [((i * 37) % 101) / 101, ((i * 61) % 103) / 103, ((i * 17) % 107) / 107];
  return [v[0]!, 1 - v[0]! + 0.5 * v[1]!, 0.3 * v[2]! + 0.2 * v[1]!].slice(0, m);
}

describe("MOTPE split (Optuna 5.0's good set, its numbers computed by optuna.samplers._tpe.sampler._split_trials)", () => {
  // Each case takes whole non-domination ranks and cuts the next one by HSSP: the 2-objective
  // history's rank 0 has 17 trials for a good set of 10, the 3-objective one 21 for 12, and the
  // constrained one 9 feasible trials in rank 0 and a tie-break of 1 among rank 1's 6.
  const history = (n: number, m: number, dirs: Direction[], constrained = false): Trial[] =>
    Array.from({ length: n }, (_, i) => {
      const v = refValues(i, m).map((x, k) => (dirs[k] === "maximize" ? -x : x));
      return makeTrial(i, p, one, { values: v, constraints: constrained ? [0.5 - (v[0] as number)] : null });
    });
  const numbers = (ts: Trial[]) => ts.map((t) => t.number);

  it("two objectives: rank 0 cut to ⌈0.1 n⌉ = 10 by greedy hypervolume subset selection", () => {
    const { below, above } = splitTrials(history(95, 2, ["minimize", "minimize"]), ["minimize", "minimize"], true);
    expect(numbers(below)).toEqual([0, 2, 7, 17, 22, 29, 34, 49, 61, 76]);
    expect(above).toHaveLength(85);
  });

  it("a maximised objective is read negated (the same history, the second objective maximised)", () => {
    const dirs: Direction[] = ["minimize", "maximize"];
    expect(numbers(splitTrials(history(95, 2, dirs), dirs, true).below)).toEqual([0, 2, 7, 17, 22, 29, 34, 49, 61, 76]);
  });

  it("three objectives", () => {
    const dirs: Direction[] = ["minimize", "minimize", "minimize"];
    expect(numbers(splitTrials(history(120, 3, dirs), dirs, true).below)).toEqual([0, 7, 22, 34, 39, 51, 66, 76, 83, 98, 103, 115]);
  });

  it("constraints: feasible trials first (c-TPE-lite, Optuna's split), then HSSP inside the first rank that does not fit", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    expect(numbers(splitTrials(history(95, 2, dirs, true), dirs, true).below)).toEqual([2, 7, 24, 29, 49, 51, 56, 73, 76, 86]);
  });

  it("RUNNING trials stay in the bad set and PRUNED ones rank after every COMPLETE one", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    const ts = history(20, 2, dirs);
    ts.push(makeTrial(20, p, one, { state: "RUNNING", values: null }), makeTrial(21, p, one, { state: "PRUNED", values: null }));
    const { below, above } = splitTrials(ts, dirs, true);
    expect(below).toHaveLength(3); // ⌈0.1 · 21⌉ finished
    expect(below.every((t) => t.state === "COMPLETE")).toBe(true);
    expect(numbers(above)).toContain(20);
    expect(numbers(above)).toContain(21);
  });
});

/** Greedy HSSP recomputing every contribution in every round (the reference the lazy version must equal). */
function plainGreedy(points: number[][], k: number, ref: number[]): number[] {
  const chosen: number[] = [];
  while (chosen.length < k) {
    const base = hypervolume(chosen.map((i) => points[i]!), ref);
    let best = -1;
    let bestValue = -Infinity;
    points.forEach((q, i) => {
      if (chosen.includes(i)) return;
      const c = hypervolume([...chosen.map((j) => points[j]!), q], ref) - base;
      if (c > bestValue) [best, bestValue] = [i, c];
    });
    chosen.push(best);
  }
  return chosen.sort((a, b) => a - b);
}

describe("greedy hypervolume subset selection", () => {
  it("equals the plain greedy on random mutually non-dominated sets (2 and 3 objectives, 8 seeds each)", () => {
    for (const m of [2, 3])
      for (let seed = 1; seed <= 8; seed++) {
        const rng = new Rng(seed, "hssp");
        // Points on a noisy simplex-like surface: mostly mutually non-dominated.
        const pts = Array.from({ length: 30 }, () => {
          const u = Array.from({ length: m }, () => rng.random() + 0.05);
          const s = u.reduce((a, b) => a + b, 0);
          return u.map((x) => x / s + 0.02 * rng.random());
        });
        const ref = motpeReferencePoint(pts);
        expect(greedyHssp(pts, 7, ref)).toEqual(plainGreedy(pts, 7, ref));
      }
  });

  it("takes the largest box first (ties to the lower index), then the largest contribution; everything when k ≥ n", () => {
    // Front (0,4) (1,2) (2,1) (4,0) at ref (5,5): boxes 5, 12, 12, 5 → (1,2) first.
    const pts = [
      [0, 4],
      [1, 2],
      [2, 1],
      [4, 0],
    ];
    // After (1,2): contributions (0,4): 1·1 = 1, (2,1): 3·1 = 3, (4,0): 1·2 = 2 → (2,1).
    expect(greedyHssp(pts, 2, [5, 5])).toEqual([1, 2]);
    expect(greedyHssp(pts, 4, [5, 5])).toEqual([0, 1, 2, 3]);
  });

  it("reference point max(1.1 w, 0.9 w) per objective, 1e-12 where 0", () => {
    expect(motpeReferencePoint([[1, -2, 0], [3, -4, 0]])).toEqual([3 * 1.1, -2 * 0.9, 1e-12]);
  });
});

describe("hypervolume weights of the good set (option mo_below_weights: 'hypervolume')", () => {
  const dirs: Direction[] = ["minimize", "minimize"];
  it("weigh each front point by its exclusive contribution over the largest, the rest 1e-12", () => {
    const below = [
      makeTrial(0, p, one, { values: [0, 4] }),
      makeTrial(1, p, one, { values: [1, 2] }),
      makeTrial(2, p, one, { values: [2, 2] }), // dominated by 1
      makeTrial(3, p, one, { values: [4, 0] }),
      makeTrial(4, p, one, { values: [0.5, 0.5], constraints: [1] }), // infeasible
    ];
    const feasible = (t: Trial) => t.constraints === null;
    const w = motpeBelowWeights(below, dirs, feasible);
    // Reference over the feasible good trials: worst (4, 4) → (4.4, 4.4). Exclusive contributions:
    // (0,4): 1·0.4 = 0.4; (1,2): 3·2 = 6; (4,0): 0.4·2 = 0.8.
    expect(w[0]).toBeCloseTo(0.4 / 6, 12);
    expect(w[1]).toBeCloseTo(1, 12);
    expect(w[2]).toBe(1e-12);
    expect(w[3]).toBeCloseTo(0.8 / 6, 12);
    expect(w[4]).toBe(1e-12);
    expect(Array.from(motpeBelowWeights(below.slice(0, 1), dirs, feasible))).toEqual([1]);
  });
});

describe("values at the ends of the double range (hostile-sweep seed 11, case 28: ask answered INTERNAL)", () => {
  const dirs: Direction[] = ["minimize", "minimize", "minimize"];
  /** 40 trials on a noisy simplex (mostly one non-domination rank), their values times 2^k. */
  const scaledHistory = (seed: number, k: number): Trial[] => {
    const rng = new Rng(seed, "hssp-scale");
    return Array.from({ length: 40 }, (_, i) => {
      const u = Array.from({ length: 3 }, () => rng.random() + 0.05);
      const s = u.reduce((a, b) => a + b, 0);
      const v = u.map((x) => (x / s + 0.02 * rng.random()) * 2 ** (k / 2) * 2 ** (k - k / 2));
      return makeTrial(i, p, one, { values: v });
    });
  };
  const numbers = (ts: readonly Trial[]) => ts.map((t) => t.number);

  it("choose the same good set and weights whatever power of two scales the values (volumes that overflow or underflow included)", () => {
    for (let seed = 1; seed <= 6; seed++) {
      const base = scaledHistory(seed, 0);
      const good = numbers(motpeBest(base, dirs, 9));
      const weights = Array.from(motpeBelowWeights(base, dirs, () => true));
      for (const k of [-1000, -400, 400, 1000]) {
        const scaled = scaledHistory(seed, k);
        expect(numbers(motpeBest(scaled, dirs, 9)), `seed ${seed}, 2^${k}`).toEqual(good);
        expect(Array.from(motpeBelowWeights(scaled, dirs, () => true)), `seed ${seed}, 2^${k}`).toEqual(weights);
      }
    }
  });

  it("split five objectives valued at ±Number.MAX_VALUE, ±1e308 and subnormals without throwing", () => {
    const ends = [-Number.MAX_VALUE, -1e308, -5e-324, 0, 5e-324, 2.2250738585072014e-308, 1e308, Number.MAX_VALUE];
    const rng = new Rng(11, "ends");
    const trials = Array.from({ length: 30 }, (_, i) =>
      makeTrial(i, p, one, { values: Array.from({ length: 5 }, () => ends[Math.floor(rng.random() * ends.length)] as number) }),
    );
    const five: Direction[] = ["minimize", "maximize", "minimize", "maximize", "minimize"];
    expect(motpeBest(trials, five, 3)).toHaveLength(3);
    const w = Array.from(motpeBelowWeights(trials, five, () => true));
    for (const x of w) expect(x >= 1e-12 && x <= 1, `weight ${x}`).toBe(true);
    expect(Math.max(...w)).toBe(1);
  });
});

// ---------------------------------------------------------------- statistical behaviour

/** ZDT1 (Zitzler, Deb & Thiele 2000) on [0,1]^d. */
function zdt1(x: number[]): number[] {
  const g = 1 + (9 * x.slice(1).reduce((a, b) => a + b, 0)) / (x.length - 1);
  return [x[0]!, g * (1 - Math.sqrt(x[0]! / g))];
}

/**
 * A constrained front: f = (x0, 1 − x0 + x1 + x2) on [0,1]^3, feasible when x1 + x2 ≥ 0.6
 * (c = 0.6 − x1 − x2 ≤ 0). The unconstrained front (x1 = x2 = 0) is infeasible; the feasible one
 * lies on x1 + x2 = 0.6 (hypervolume 1.04 at the reference (1.1, 2)).
 */
function cutFront(x: number[]): { values: number[]; constraints: number[] } {
  return { values: [x[0]!, 1 - x[0]! + x[1]! + x[2]!], constraints: [0.6 - x[1]! - x[2]!] };
}

/** Feasible-front hypervolume of a sequential run of `factory` (2 objectives, minimised). */
function runHv(
  factory: StrategyFactory<any>,
  options: unknown,
  d: number,
  n: number,
  seed: number,
  evaluate: (x: number[]) => { values: number[]; constraints?: number[] },
  ref: number[],
  tellConstraints = true,
): number {
  const strategy = factory.create(options);
  const space: SearchSpace = Object.fromEntries(Array.from({ length: d }, (_, i) => [`x${i}`, { type: "float", low: 0, high: 1 }]));
  const directions: Direction[] = ["minimize", "minimize"];
  const study = makeStudy(space, { seed, directions, strategy: { name: factory.name, options: {} } });
  const trials: Trial[] = [];
  const truth: Trial[] = [];
  for (let i = 0; i < n; i++) {
    const s = strategy.suggest(suggestRequest(study, trials));
    const r = evaluate(Array.from({ length: d }, (_, k) => s.params[`x${k}`] as number));
    const c = r.constraints ?? null;
    trials.push(makeTrial(i, s.params, space, { values: r.values, constraints: tellConstraints ? c : null, systemAttrs: s.systemAttrs ?? {} }));
    truth.push(makeTrial(i, s.params, space, { values: r.values, constraints: c }));
  }
  return hypervolumeOf(directions, paretoFront(directions, truth), ref);
}

const SEEDS = [11, 22, 33, 44, 55, 66, 77, 88];

describe("MOTPE behaviour (8 seeds each)", () => {
  const zdt = (x: number[]) => ({ values: zdt1(x) });

  it("beats random search on ZDT1 (d = 5, 80 trials) on at least 7 of 8 seeds", () => {
    let wins = 0;
    for (const seed of SEEDS)
      if (runHv(tpeStrategyFactory, tpeDefaults, 5, 80, seed, zdt, [1.1, 11]) > runHv(randomStrategyFactory, {}, 5, 80, seed, zdt, [1.1, 11])) wins++;
    expect(wins).toBeGreaterThanOrEqual(7);
  });

  it("beats NSGA-II (population 50) at 80 trials on ZDT1 on at least 6 of 8 seeds: the model pays off on small budgets", () => {
    const nsga = nsga2StrategyFactory.options.parse({});
    let wins = 0;
    for (const seed of SEEDS)
      if (runHv(tpeStrategyFactory, tpeDefaults, 5, 80, seed, zdt, [1.1, 11]) > runHv(nsga2StrategyFactory, nsga, 5, 80, seed, zdt, [1.1, 11])) wins++;
    expect(wins).toBeGreaterThanOrEqual(6);
  });

  it("with the hypervolume weights also beats random search on ZDT1 on at least 7 of 8 seeds", () => {
    const hvw = tpeStrategyFactory.options.parse({ mo_below_weights: "hypervolume" });
    let wins = 0;
    for (const seed of SEEDS)
      if (runHv(tpeStrategyFactory, hvw, 5, 80, seed, zdt, [1.1, 11]) > runHv(randomStrategyFactory, {}, 5, 80, seed, zdt, [1.1, 11])) wins++;
    expect(wins).toBeGreaterThanOrEqual(7);
  });

  it("told the constraints, finds a larger feasible hypervolume than blind to them (front cut by a constraint), on at least 7 of 8 seeds", () => {
    let wins = 0;
    for (const seed of SEEDS) {
      const informed = runHv(tpeStrategyFactory, tpeDefaults, 3, 60, seed, cutFront, [1.1, 2.0], true);
      const blind = runHv(tpeStrategyFactory, tpeDefaults, 3, 60, seed, cutFront, [1.1, 2.0], false);
      if (informed > blind) wins++;
    }
    expect(wins).toBeGreaterThanOrEqual(7);
  });
});
