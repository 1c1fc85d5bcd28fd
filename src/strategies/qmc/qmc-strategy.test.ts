import { describe, expect, it } from "vitest";
import type { SearchSpace } from "../../domain/distributions.js";
import { toUnit } from "../../domain/distributions.js";
import { hartmann6 } from "../../testing/benchmark-functions.js";
import type { BenchmarkProblem } from "../../testing/benchmark-functions.js";
import type { Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { randomStrategyFactory } from "../random/random-strategy.js";
import type { StrategyFactory } from "../../domain/plugin.js";
import { simulate, strategyConformance } from "../../testing/strategy.case.js";
import { bestValue, makeStudy, makeTrial, runOnProblem, suggestRequest } from "../../testing/fixtures.js";
import { qmcStrategyFactory } from "./qmc-strategy.js";

const defaults = qmcStrategyFactory.options.parse({});
strategyConformance(qmcStrategyFactory, { options: defaults, n: 40 });

/** Best value after n sequential trials of a strategy on a problem. */
function bestOf<O>(factory: StrategyFactory<O>, options: O, problem: BenchmarkProblem, n: number, seed: number): number {
  return bestValue(runOnProblem(factory, options, problem, n, seed));
}

describe("qmc strategy", () => {
  it("options default to scrambled, not skipping, and refuse unknown keys", () => {
    expect(defaults).toEqual({ scramble: true, skip_first: false });
    expect(qmcStrategyFactory.options.safeParse({ scrambled: true }).success).toBe(false);
  });

  it("unscrambled trial i gets Sobol point i (and i + 1 with skip_first)", () => {
    const space: SearchSpace = { a: { type: "float", low: 0, high: 8 }, b: { type: "float", low: -1, high: 1 } };
    const plain = simulate(qmcStrategyFactory, { scramble: false, skip_first: false }, space, 4);
    expect(plain.map((t) => [t.params.a, t.params.b])).toEqual([[0, -1], [4, 0], [6, -0.5], [2, 0.5]]);
    const skipped = simulate(qmcStrategyFactory, { scramble: false, skip_first: true }, space, 3);
    expect(skipped.map((t) => [t.params.a, t.params.b])).toEqual([[4, 0], [6, -0.5], [2, 0.5]]);
  });

  it("balances categorical, int and log dimensions over a 2^k prefix", () => {
    const space: SearchSpace = {
      c: { type: "categorical", choices: ["w", "x", "y", "z"] },
      i: { type: "int", low: 1, high: 8 },
      lr: { type: "float", low: 1e-4, high: 1, log: true },
    };
    const trials = simulate(qmcStrategyFactory, defaults, space, 32, 9);
    const count = (k: string) => {
      const m = new Map<unknown, number>();
      for (const t of trials) m.set(t.params[k], (m.get(t.params[k]) ?? 0) + 1);
      return [...m.values()];
    };
    expect(count("c")).toEqual([8, 8, 8, 8]);
    expect(count("i")).toHaveLength(8);
    expect(new Set(count("i"))).toEqual(new Set([4]));
    // Log dimension: each of the 32 equal cells in log space holds one point.
    const cells = new Set(trials.map((t) => Math.floor(toUnit(space.lr as never, t.params.lr as number) * 32)));
    expect(cells.size).toBe(32);
  });

  it("falls back to random draws past the supported dimension", () => {
    const space: SearchSpace = Object.fromEntries(
      Array.from({ length: 1030 }, (_, i) => [`x${i}`, { type: "float" as const, low: 0, high: 1 }]),
    );
    const s = qmcStrategyFactory.create(defaults).suggest({
      study: makeStudy(space), trials: [], trialNumber: 0, rng: new Rng(1),
    });
    expect(Object.keys(s.params)).toHaveLength(1030);
    const tail = s.params.x1029 as number;
    expect(tail).toBeGreaterThanOrEqual(0);
    expect(tail).toBeLessThanOrEqual(1);
  });

  it("matches or beats random search on mean regret over seeds (Hartmann6, 64 trials)", () => {
    const seeds = Array.from({ length: 48 }, (_, i) => (i + 1) * 104729);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const q = mean(seeds.map((s) => bestOf(qmcStrategyFactory, defaults, hartmann6, 64, s) - hartmann6.fStar));
    const r = mean(seeds.map((s) => bestOf(randomStrategyFactory, {}, hartmann6, 64, s) - hartmann6.fStar));
    expect(q, `qmc regret ${q} vs random ${r}`).toBeLessThanOrEqual(r * 1.05);
  });
});
