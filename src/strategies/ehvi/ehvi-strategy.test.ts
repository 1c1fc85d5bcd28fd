import { describe, expect, it, vi } from "vitest";
import type { SearchSpace } from "../../domain/distributions.js";
import { hypervolumeOf, paretoFront } from "../../domain/objectives.js";
import type { StrategyFactory } from "../../domain/plugin.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { strategyConformance } from "../../testing/strategy.case.js";
import { paregoStrategyFactory } from "../parego/parego-strategy.js";
import { randomStrategyFactory } from "../random/random-strategy.js";
import { Rng } from "../../math/rng.js";
import { HEDGE_FLOOR } from "../hedge.js";
import { GpObjective, type GpInputs } from "../gp/gp-model.js";
import { EhviSearch } from "./ehvi-acquisition.js";
import { ACQUISITION_ATTR, EHVI_THETA_ATTR, ehviShare, ehviStrategyFactory, fallingFloor, frontIsDense, frontStarts } from "./ehvi-strategy.js";

const defaults = ehviStrategyFactory.options.parse({});
strategyConformance(ehviStrategyFactory, { options: defaults, n: 20, objectives: 2 });
strategyConformance(ehviStrategyFactory, { options: defaults, n: 16, objectives: 3 });

const cube = (d: number): SearchSpace => Object.fromEntries(Array.from({ length: d }, (_, k) => [`x${k}`, { type: "float", low: 0, high: 1 }]));
const xs = (p: Record<string, unknown>, d: number) => Array.from({ length: d }, (_, k) => p[`x${k}`] as number);

/** Runs `factory` for n trials on f (values per objective; optional constraints) and returns the trials. */
function run(factory: StrategyFactory<any>, options: unknown, seed: number, d: number, dirs: Direction[], n: number,
  f: (x: number[]) => { values: number[]; constraints?: number[] }): Trial[] {
  const space = cube(d);
  const strategy = factory.create(options);
  const study = makeStudy(space, { seed, directions: dirs, strategy: { name: factory.name, options: {} } });
  const trials: Trial[] = [];
  for (let i = 0; i < n; i++) {
    const s = strategy.suggest(suggestRequest(study, trials));
    trials.push(makeTrial(i, s.params, space, { ...f(xs(s.params, d)), systemAttrs: s.systemAttrs ?? {} }));
  }
  return trials;
}

const zdt1 = (x: number[]) => {
  const g = 1 + (9 * x.slice(1).reduce((a, b) => a + b, 0)) / (x.length - 1);
  return { values: [x[0]!, g * (1 - Math.sqrt(x[0]! / g))] };
};

describe("ehvi", () => {
  it("has Optuna's start-up and candidate counts and refuses unknown options", () => {
    expect(defaults.nStartupTrials).toBe(10);
    expect(defaults.nCandidates).toBe(2048);
    expect(defaults.referenceMargin).toBe(0.1);
    expect(ehviStrategyFactory.options.safeParse({ nStartup: 1 }).success).toBe(false);
  });

  it("beats random search on ZDT1 (d = 3, 30 trials) on at least 4 of 5 seeds and stores one θ per objective", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    let wins = 0;
    for (const seed of [3, 4, 5, 6, 7]) {
      const mine = run(ehviStrategyFactory, defaults, seed, 3, dirs, 30, zdt1);
      expect(mine[29]!.systemAttrs[EHVI_THETA_ATTR]).toHaveLength(2);
      const other = run(randomStrategyFactory, {}, seed, 3, dirs, 30, zdt1);
      if (hypervolumeOf(dirs, paretoFront(dirs, mine), [1.1, 11]) > hypervolumeOf(dirs, paretoFront(dirs, other), [1.1, 11])) wins++;
    }
    expect(wins).toBeGreaterThanOrEqual(4);
  });

  it("spreads along the front: more hypervolume than ParEGO on ZDT1 (d = 4, 40 trials) on at least 3 of 5 seeds", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    let wins = 0;
    for (const seed of [11, 12, 13, 14, 15]) {
      const a = hypervolumeOf(dirs, paretoFront(dirs, run(ehviStrategyFactory, defaults, seed, 4, dirs, 40, zdt1)), [1.1, 11]);
      const b = hypervolumeOf(dirs, paretoFront(dirs, run(paregoStrategyFactory, paregoStrategyFactory.options.parse({}), seed, 4, dirs, 40, zdt1)), [1.1, 11]);
      if (a > b) wins++;
    }
    expect(wins).toBeGreaterThanOrEqual(3);
  });

  it("uses the constraints: beats itself told no constraints on feasible hypervolume (>= 4 of 5 seeds)", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    const f = (x: number[]) => ({ values: [x[0]!, 1 - x[0]! + x[1]! + x[2]!], constraints: [0.6 - x[1]! - x[2]!] });
    const feasibleHv = (trials: Trial[]) => {
      const truth = trials.map((t) => ({ ...t, constraints: f(xs(t.params, 3)).constraints }));
      return hypervolumeOf(dirs, paretoFront(dirs, truth), [1.1, 3.1]);
    };
    let wins = 0;
    for (const seed of [21, 22, 23, 24, 25]) {
      const told = run(ehviStrategyFactory, defaults, seed, 3, dirs, 25, f);
      const blind = run(ehviStrategyFactory, defaults, seed, 3, dirs, 25, (x) => ({ values: f(x).values }));
      if (feasibleHv(told) > feasibleHv(blind)) wins++;
    }
    expect(wins).toBeGreaterThanOrEqual(4);
  });

  it("does not send a second worker to a pending trial's configuration or its close neighbourhood", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    const space = cube(2);
    const done = run(ehviStrategyFactory, defaults, 9, 2, dirs, 15, zdt1);
    const strategy = ehviStrategyFactory.create(defaults);
    const study = makeStudy(space, { seed: 9, directions: dirs, strategy: { name: "ehvi", options: {} } });
    const first = strategy.suggest(suggestRequest(study, done));
    const pending = makeTrial(15, first.params, space, { state: "RUNNING", values: null });
    const second = strategy.suggest(suggestRequest(study, [...done, pending]));
    const dist = Math.max(...xs(first.params, 2).map((v, k) => Math.abs(v - xs(second.params, 2)[k]!)));
    expect(dist).toBeGreaterThan(1e-3);
  });

  it("acquisition chebyshev (auto's ParEGO below 8 dimensions) beats ParEGO's one GP on the scalarised values on Binh–Korn (30 trials) on at least 4 of 5 seeds", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    const binhKorn = (x: number[]) => {
      const [u, v] = [5 * x[0]!, 3 * x[1]!];
      return { values: [4 * u * u + 4 * v * v, (u - 5) ** 2 + (v - 5) ** 2], constraints: [(u - 5) ** 2 + v * v - 25, 7.7 - (u - 8) ** 2 - (v + 3) ** 2] };
    };
    const cheb = ehviStrategyFactory.options.parse({ acquisition: "chebyshev", weights: "sobol" });
    let wins = 0;
    for (const seed of [31, 32, 33, 34, 35]) {
      const mine = run(ehviStrategyFactory, cheb, seed, 2, dirs, 30, binhKorn);
      expect(mine[29]!.systemAttrs.parego_weights).toHaveLength(2);
      const other = run(paregoStrategyFactory, paregoStrategyFactory.options.parse({}), seed, 2, dirs, 30, binhKorn);
      if (hypervolumeOf(dirs, paretoFront(dirs, mine), [140, 55]) > hypervolumeOf(dirs, paretoFront(dirs, other), [140, 55])) wins++;
    }
    expect(wins).toBeGreaterThanOrEqual(4);
  });

  it("acquisition alternate: the Chebyshev acquisition (Sobol weights by half the trial number) on even trials, EHVI's own suggestion on odd ones", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    const alt = ehviStrategyFactory.options.parse({ acquisition: "alternate", weights: "sobol" });
    const trials = run(ehviStrategyFactory, alt, 7, 3, dirs, 14, zdt1);
    for (const t of trials.slice(10)) expect(t.systemAttrs.parego_weights === undefined).toBe(t.number % 2 === 1);
    const study = makeStudy(cube(3), { seed: 7, directions: dirs, strategy: { name: "ehvi", options: {} } });
    const odd = trials.slice(0, 11);
    const plain = ehviStrategyFactory.create(defaults).suggest(suggestRequest(study, odd));
    expect(ehviStrategyFactory.create(alt).suggest(suggestRequest(study, odd)).params).toEqual(plain.params);
    const w12 = trials[12]!.systemAttrs.parego_weights as number[];
    const w10 = trials[10]!.systemAttrs.parego_weights as number[];
    expect(w12).not.toEqual(w10);
  });

  describe("acquisition hedge", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    const space = cube(1);
    // A front on f2 = 1 − f1 from ten random-start trials, then proposals by acquisition.
    const history = (proposals: readonly (readonly ["ehvi" | "chebyshev", number, number])[], scale = 1): Trial[] => {
      const start = Array.from({ length: 10 }, (_, i) => makeTrial(i, { x0: i / 10 }, space, { values: [scale * (i / 9), scale * (1.2 - i / 9)] }));
      return start.concat(proposals.map(([arm, a, b], k) =>
        makeTrial(10 + k, { x0: 0.05 + k / 40 }, space, { values: [scale * a, scale * b], systemAttrs: { [ACQUISITION_ATTR]: arm } })));
    };
    const share = (t: Trial[]) => ehviShare(dirs, t, 8, 0.2, 0.1);

    it("gives the acquisition whose proposals added more hypervolume the larger share, whatever the objectives' scale", () => {
      expect(share(history([]))).toBe(0.5);
      // EHVI's proposals land below the front (they add area), Chebyshev's behind it (dominated: none).
      const ehviAhead = history([["ehvi", 0.3, 0.5], ["chebyshev", 0.9, 0.9], ["ehvi", 0.6, 0.3], ["chebyshev", 0.8, 1.0]]);
      expect(share(ehviAhead)).toBe(0.8);
      const chebAhead = history([["chebyshev", 0.3, 0.5], ["ehvi", 0.9, 0.9], ["chebyshev", 0.6, 0.3], ["ehvi", 0.8, 1.0]]);
      expect(share(chebAhead)).toBe(0.2);
      const scaled = history([["ehvi", 0.3, 0.5], ["chebyshev", 0.9, 0.9]], 1e6);
      expect(share(scaled)).toBeCloseTo(share(history([["ehvi", 0.3, 0.5], ["chebyshev", 0.9, 0.9]])), 12);
      // Both dominated: a tie.
      expect(share(history([["ehvi", 0.9, 0.9], ["chebyshev", 0.9, 0.9]]))).toBeCloseTo(0.5, 12);
    });

    it("scores objectives spanning −Number.MAX_VALUE to Number.MAX_VALUE as any others (their range was ∞, the gains NaN, and the ask threw; hostile-sweep seed 11)", () => {
      const M = Number.MAX_VALUE;
      const rows = [["ehvi", 0.3, 0.5], ["chebyshev", 0.9, 0.9], ["ehvi", 0.6, 0.3], ["chebyshev", 0.8, 1.0]] as const;
      const wide = history(rows).map((t) => ({ ...t, values: t.values!.map((v) => ((v - 0.6) / 0.6) * M) }));
      expect(Math.min(...wide.flatMap((t) => t.values!))).toBe(-M);
      expect(share(wide)).toBeCloseTo(share(history(rows)), 12);
    });

    it("gain-pairs: pairs in which neither proposal added hypervolume do not pull the score to a tie", () => {
      // One EHVI proposal added area, every other proposal of both was dominated.
      const mostlyNothing = history([
        ["ehvi", 0.3, 0.5], ["chebyshev", 0.9, 0.9], ["ehvi", 0.9, 0.95], ["chebyshev", 0.95, 0.9],
        ["ehvi", 0.8, 1.0], ["chebyshev", 1.0, 0.8], ["ehvi", 0.85, 0.85], ["chebyshev", 0.9, 1.0],
      ]);
      // All 16 pairs: 4 EHVI wins, 12 ties at zero → (4 + 6 + ½) / 17, a share of about 0.76.
      expect(share(mostlyNothing)).toBeCloseTo(1 / (1 + Math.exp(-(10.5 / 17 - 0.5) / 0.1)), 12);
      // The 4 pairs with a gain: EHVI wins all → (4 + ½) / 5, the ceiling.
      expect(ehviShare(dirs, mostlyNothing, 8, 0.2, 0.1, "gain-pairs")).toBe(0.8);
      // Where every pair has a gain the two scores agree; where none has, both are ½.
      const allGain = history([["ehvi", 0.3, 0.5], ["chebyshev", 0.5, 0.65], ["ehvi", 0.7, 0.4], ["chebyshev", 0.05, 1.0]]);
      expect(ehviShare(dirs, allGain, 8, 0.2, 0.1, "gain-pairs")).toBeCloseTo(share(allGain), 12);
      const none = history([["ehvi", 0.9, 0.9], ["chebyshev", 0.9, 0.95]]);
      expect(ehviShare(dirs, none, 8, 0.2, 0.1, "gain-pairs")).toBe(0.5);
    });

    it("mean-gain: one large gain outweighs several small ones, which the pairwise scores rank the other way", () => {
      // EHVI: one proposal far below the front, three dominated; Chebyshev: four just below it.
      const t = history([
        ["chebyshev", 0.6, 0.58], ["ehvi", 0.9, 0.95], ["chebyshev", 0.8, 0.39], ["ehvi", 0.95, 0.9],
        ["chebyshev", 0.4, 0.79], ["ehvi", 0.9, 0.9], ["chebyshev", 0.2, 0.99], ["ehvi", 0.1, 0.2],
      ]);
      expect(share(t)).toBeLessThan(0.5);
      expect(ehviShare(dirs, t, 8, 0.2, 0.1, "gain-pairs")).toBeLessThan(0.5);
      expect(ehviShare(dirs, t, 8, 0.2, 0.1, "mean-gain")).toBeGreaterThan(0.5);
      expect(ehviShare(dirs, history([["ehvi", 0.9, 0.9], ["chebyshev", 0.9, 0.95]]), 8, 0.2, 0.1, "mean-gain")).toBe(0.5);
      expect(ehviShare(dirs, history([["ehvi", 0.3, 0.5]]), 8, 0.2, 0.1, "mean-gain")).toBe(0.5);
    });

    it("frontIsDense: true once the given share of the latest window's proposals each added hypervolume", () => {
      // Eight proposals on f1 + f2 = 1, below the start's front f1 + f2 = 1.2 and not dominating each other: each adds area.
      const onFront = (k: number) => [k % 2 === 0 ? "ehvi" : "chebyshev", 0.05 + k / 10, 0.95 - k / 10] as const;
      const all = history(Array.from({ length: 8 }, (_, k) => onFront(k)));
      expect(frontIsDense(dirs, all, 8, 1)).toBe(true);
      expect(frontIsDense(dirs, all, 8, 2)).toBe(false); // above 1: never
      // Seven proposals are too few for a window of eight.
      expect(frontIsDense(dirs, history(Array.from({ length: 7 }, (_, k) => onFront(k))), 8, 0.5)).toBe(false);
      // One of the eight is dominated: not all of them added, but three quarters did.
      const oneBehind = history([...Array.from({ length: 7 }, (_, k) => onFront(k)), ["ehvi", 0.9, 0.9]]);
      expect(frontIsDense(dirs, oneBehind, 8, 1)).toBe(false);
      expect(frontIsDense(dirs, oneBehind, 8, 0.75)).toBe(true);
      // Only the latest eight count: a dominated proposal before them does not.
      const earlierBehind = history([["ehvi", 0.9, 0.9], ...Array.from({ length: 8 }, (_, k) => onFront(k))]);
      expect(frontIsDense(dirs, earlierBehind, 8, 1)).toBe(true);
    });

    it("by default leaves the lagging acquisition 10 % of the suggestions, half the single-objective hedge's floor", () => {
      const o = ehviStrategyFactory.options.parse({ acquisition: "hedge" });
      const ehviAhead = history([["ehvi", 0.3, 0.5], ["chebyshev", 0.9, 0.9], ["ehvi", 0.6, 0.3], ["chebyshev", 0.8, 1.0]]);
      const chebAhead = history([["chebyshev", 0.3, 0.5], ["ehvi", 0.9, 0.9], ["chebyshev", 0.6, 0.3], ["ehvi", 0.8, 1.0]]);
      expect(ehviShare(dirs, ehviAhead, o.hedgeWindow, o.hedgeFloor, o.hedgeTemperature, o.hedgeScore)).toBeCloseTo(0.9, 12);
      expect(ehviShare(dirs, chebAhead, o.hedgeWindow, o.hedgeFloor, o.hedgeTemperature, o.hedgeScore)).toBeCloseTo(0.1, 12);
      expect(HEDGE_FLOOR).toBe(0.2);
    });

    it("marks each model-based suggestion with its acquisition, Chebyshev weights only on Chebyshev's", () => {
      const hedge = ehviStrategyFactory.options.parse({ acquisition: "hedge", weights: "sobol" });
      const trials = run(ehviStrategyFactory, hedge, 3, 3, dirs, 22, zdt1);
      const arms = trials.slice(10).map((t) => t.systemAttrs[ACQUISITION_ATTR]);
      expect(trials.slice(0, 10).every((t) => t.systemAttrs[ACQUISITION_ATTR] === undefined)).toBe(true);
      expect(new Set(arms)).toEqual(new Set(["ehvi", "chebyshev"]));
      for (const t of trials.slice(10)) expect(t.systemAttrs.parego_weights !== undefined).toBe(t.systemAttrs[ACQUISITION_ATTR] === "chebyshev");
    });
  });

  it("frontStarts: the best-balanced front row first, then distinct others of the front, at most k, a function of the RNG", () => {
    const front = [4, 9, 2, 7, 5, 11];
    for (let seed = 0; seed < 20; seed++) {
      const rows = frontStarts(7, front, 4, new Rng(seed));
      expect(rows).toHaveLength(4);
      expect(rows[0]).toBe(7);
      expect(new Set(rows).size).toBe(4);
      for (const r of rows) expect(front).toContain(r);
      expect(frontStarts(7, front, 4, new Rng(seed))).toEqual(rows);
    }
    expect(frontStarts(7, front, 1, new Rng(0))).toEqual([7]);
    expect([...frontStarts(7, front, 10, new Rng(0))].sort((a, b) => a - b)).toEqual([2, 4, 5, 7, 9, 11]);
  });

  it("starts local searches from several front points: on Fonseca–Fleming (d = 3, Pareto set a short diagonal segment) more hypervolume than from one, 3 of 3 seeds", () => {
    // The problem of bench/multiobjective.py on [-4, 4]³ (docs/BENCHMARKS.md run 11): the maxima of
    // EHVI lie next to the Pareto set, which few Sobol candidates come near.
    const dirs: Direction[] = ["minimize", "minimize"];
    const s = 1 / Math.sqrt(3);
    const ff = (x: number[]) => {
      const u = x.map((v) => 8 * v - 4);
      return { values: [1 - Math.exp(-u.reduce((a, v) => a + (v - s) ** 2, 0)), 1 - Math.exp(-u.reduce((a, v) => a + (v + s) ** 2, 0))] };
    };
    const hv = (t: Trial[]) => hypervolumeOf(dirs, paretoFront(dirs, t), [1.1, 1.1]);
    const one = ehviStrategyFactory.options.parse({ frontStarts: 1 });
    for (const seed of [1, 2, 3]) expect(hv(run(ehviStrategyFactory, defaults, seed, 3, dirs, 40, ff))).toBeGreaterThan(hv(run(ehviStrategyFactory, one, seed, 3, dirs, 40, ff)));
  });

  it("frontStarts: EHVI proposals start searches from 5 front points, Chebyshev proposals from one", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    // Every trial on the front (f2 = 1 − f1), so there are front points to draw.
    const history = run(ehviStrategyFactory, defaults, 5, 3, dirs, 14, (x) => ({ values: [x[0]!, 1 - x[0]!] }));
    const study = makeStudy(cube(3), { seed: 5, directions: dirs, strategy: { name: "ehvi", options: {} } });
    const spy = vi.spyOn(EhviSearch.prototype, "run");
    try {
      const starts = (options: unknown) => {
        spy.mockClear();
        ehviStrategyFactory.create(ehviStrategyFactory.options.parse(options)).suggest(suggestRequest(study, history));
        expect(spy).toHaveBeenCalledTimes(1);
        const incumbents = spy.mock.calls[0]![1];
        return incumbents instanceof Float64Array ? 1 : incumbents.length;
      };
      expect(starts({})).toBe(5);
      expect(starts({ frontStarts: 1 })).toBe(1);
      expect(starts({ acquisition: "chebyshev", weights: "sobol" })).toBe(1);
    } finally {
      spy.mockRestore();
    }
  });

  it("maxWarmFitIterations 50 (auto's two-objective hedge) refits to the MAP: from a stale stored θ between full fits, the stored θ's posterior is a full fit's", () => {
    // docs/BENCHMARKS.md run 13: with one warm iteration (the default, as the `gp` strategy's) the θ
    // between full fits stayed near the stale start on Fonseca–Fleming; Optuna's GPSampler refits on every trial.
    const dirs: Direction[] = ["minimize", "minimize"];
    const s = 1 / Math.sqrt(3);
    const ff = (x: number[]) => {
      const u = x.map((v) => 8 * v - 4);
      return { values: [1 - Math.exp(-u.reduce((a, v) => a + (v - s) ** 2, 0)), 1 - Math.exp(-u.reduce((a, v) => a + (v + s) ** 2, 0))] };
    };
    const history = run(ehviStrategyFactory, defaults, 2, 3, dirs, 25, ff);
    // The latest θ as if fitted long ago: lengthscales 2.7, signal variance e, noise 0.05.
    const stale = [-2, -2, -2, 1, Math.log(0.05)];
    history[24] = { ...history[24]!, systemAttrs: { ...history[24]!.systemAttrs, [EHVI_THETA_ATTR]: [stale, stale] } };
    const study = makeStudy(cube(3), { seed: 2, directions: dirs, strategy: { name: "ehvi", options: {} } });
    // 25 COMPLETE rows: not a multiple of fullFitEvery (10), so this is a warm fit.
    const stored = (options: unknown) =>
      ehviStrategyFactory.create(ehviStrategyFactory.options.parse(options)).suggest(suggestRequest(study, history)).systemAttrs![EHVI_THETA_ATTR] as number[][];
    const inputs: GpInputs = { n: 25, d: 3, X: Float64Array.from(history.flatMap((t) => xs(t.params, 3))), isCat: new Uint8Array(3) };
    const logPosterior = (j: number, theta: number[]) => {
      const col = history.map((t) => t.values![j]!);
      const mean = col.reduce((a, b) => a + b, 0) / col.length;
      const sd = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / col.length);
      return new GpObjective(inputs, Float64Array.from(col, (v) => (v - mean) / sd)).value(Float64Array.from(theta));
    };
    const [refit, full, once] = [stored({ maxWarmFitIterations: 50 }), stored({ fullFitEvery: 1 }), stored({})];
    for (let j = 0; j < 2; j++) {
      expect(logPosterior(j, refit[j]!)).toBeLessThan(logPosterior(j, full[j]!) + 0.5);
      expect(logPosterior(j, once[j]!)).toBeGreaterThan(logPosterior(j, full[j]!) + 5);
    }
  });

  it("fallingFloor: the floor for the first 10 proposals, then floor·√(10/k)", () => {
    expect(fallingFloor(0.1, 0)).toBe(0.1);
    expect(fallingFloor(0.1, 10)).toBe(0.1);
    expect(fallingFloor(0.1, 40)).toBeCloseTo(0.05, 12);
  });

  it("chebyshevStart weighted: a Chebyshev proposal's search starts from the front row its weights favour, not the best-balanced one", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    const history = run(ehviStrategyFactory, defaults, 5, 3, dirs, 14, (x) => ({ values: [x[0]!, 1 - x[0]!] }));
    const study = makeStudy(cube(3), { seed: 5, directions: dirs, strategy: { name: "ehvi", options: {} } });
    const spy = vi.spyOn(EhviSearch.prototype, "run");
    try {
      const start = (chebyshevStart: string) => {
        spy.mockClear();
        const s = ehviStrategyFactory.create(ehviStrategyFactory.options.parse({ acquisition: "chebyshev", chebyshevStart })).suggest(suggestRequest(study, history));
        const starts = spy.mock.calls[0]![1] as readonly Float64Array[];
        return { x0: starts[0]![0]!, w: s.systemAttrs!.parego_weights as number[] };
      };
      const f1s = history.map((t) => t.values![0]!);
      const balanced = start("balanced");
      const weighted = start("weighted");
      expect(weighted.w).toEqual(balanced.w);
      // On f2 = 1 − f1 the scalarisation max_j w_j·(f_j − z_j)/range_j is smallest where the two terms meet.
      const [lo, hi] = [Math.min(...f1s), Math.max(...f1s)];
      const z = lo - 0.1 * (hi - lo);
      const key = (f1: number) => Math.max(weighted.w[0]! * (f1 - z), weighted.w[1]! * (1 - f1 - (1 - hi - 0.1 * (hi - lo))));
      const best = f1s.reduce((a, b) => (key(b) < key(a) ? b : a));
      expect(weighted.x0).toBeCloseTo(best, 12);
      expect(balanced.x0).not.toBeCloseTo(best, 6);
    } finally {
      spy.mockRestore();
    }
  });

  it("warm-starts the objectives' θ only from ones fitted for the same modelled dimensions (gp_theta_layout), or stored without a marker", () => {
    const opts = { ...defaults, maxWarmFitIterations: 0, fullFitEvery: 1000 };
    const history = run(ehviStrategyFactory, opts, 3, 2, ["minimize", "minimize"], 13, zdt1);
    const [prev, last] = [history[11]!, history[12]!];
    expect(prev.systemAttrs[EHVI_THETA_ATTR]).toBeDefined();
    const marker = last.systemAttrs.gp_theta_layout;
    expect(typeof marker).toBe("string");
    const stored = [[0.25, -0.5, 0.125, -4], [-0.25, 0.5, 0.375, -5]];
    const ask = (attrs: Record<string, unknown>) => {
      const systemAttrs: Record<string, unknown> = { ...last.systemAttrs, [EHVI_THETA_ATTR]: stored, ...attrs };
      if (!("gp_theta_layout" in attrs)) delete systemAttrs.gp_theta_layout;
      const study = makeStudy(cube(2), { seed: 3, directions: ["minimize", "minimize"], strategy: { name: "ehvi", options: {} } });
      return ehviStrategyFactory.create(opts).suggest(suggestRequest(study, [...history.slice(0, 12), { ...last, systemAttrs }]));
    };
    expect(ask({ gp_theta_layout: marker }).systemAttrs?.[EHVI_THETA_ATTR]).toEqual(stored);
    expect(ask({}).systemAttrs?.[EHVI_THETA_ATTR], "stored before the marker existed: matched by length").toEqual(stored);
    expect(ask({ gp_theta_layout: "0badc0de" }).systemAttrs?.[EHVI_THETA_ATTR]).toEqual(prev.systemAttrs[EHVI_THETA_ATTR]);
  });

  it("hands one objective to gp and four to parego", () => {
    const one = run(ehviStrategyFactory, defaults, 1, 2, ["minimize"], 12, (x) => ({ values: [x[0]! + x[1]!] }));
    expect(one[11]!.systemAttrs.gp_theta).toBeDefined();
    const four = run(ehviStrategyFactory, defaults, 1, 2, ["minimize", "minimize", "minimize", "minimize"], 12,
      (x) => ({ values: [x[0]!, x[1]!, 1 - x[0]!, 1 - x[1]!] }));
    expect(four[11]!.systemAttrs.parego_weights).toHaveLength(4);
  });
});
