/**
 * Where the acquisition's local searches start (issue 17's comparison with Optuna 5.0's GPSampler):
 * Optuna's roulette (`rouletteStarts`) and the `incumbentStart` switch.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../math/rng.js";
import { hartmann6 } from "../../testing/benchmark-functions.js";
import { makeStudy, runOnProblem, suggestRequest } from "../../testing/fixtures.js";
import { rouletteStarts } from "./gp-acquisition.js";
import { gpStrategyFactory } from "./gp-strategy.js";

describe("rouletteStarts (Optuna's start selection)", () => {
  // Log scores of 6 candidates, ranked best first: 0 (index 3), log 0.5 (1), log 0.25 (4), −∞ (0, 2, 5).
  const score = Float64Array.from([-Infinity, Math.log(0.5), -Infinity, 0, Math.log(0.25), -Infinity]);
  const ranked = [3, 1, 4, 0, 2, 5];

  it("takes the best first, never a candidate of zero acquisition, never one twice, deterministically", () => {
    for (let s = 0; s < 50; s++) {
      const a = rouletteStarts(ranked, score, 5, new Rng(s));
      expect(a[0]).toBe(3);
      // Only two others have a positive weight: the draw stops when they are used up.
      expect([...a].sort()).toEqual([1, 3, 4]);
      expect(rouletteStarts(ranked, score, 5, new Rng(s))).toEqual(a);
    }
  });

  it("draws in proportion to the acquisition (exp of the log score)", () => {
    // Second pick: candidate 1 (weight 0.5) against 4 (weight 0.25), so 2:1.
    let ones = 0;
    const runs = 3000;
    for (let s = 0; s < runs; s++) if (rouletteStarts(ranked, score, 2, new Rng(s, "roulette"))[1] === 1) ones++;
    // P = 2/3; 5 standard deviations (≈ 0.043) either side.
    expect(Math.abs(ones / runs - 2 / 3)).toBeLessThan(0.05);
  });
});

describe("incumbentStart", () => {
  it("without a local search from the best point, the stuck hartmann6 run (seed 0, trial 80) stops refining it", () => {
    // From trial ~60 this run proposes points within 1e-2..1e-5 of earlier ones (issue 17); the point
    // it proposes comes from the local search started at the incumbent.
    const history = runOnProblem(gpStrategyFactory, gpStrategyFactory.options.parse({}), hartmann6, 80, 0);
    const req = suggestRequest(makeStudy(hartmann6.space, { seed: 0, strategy: { name: "gp", options: {} } }), history);
    const keys = Object.keys(hartmann6.space);
    const nearest = (p: Record<string, unknown>) =>
      Math.min(...history.map((t) => Math.max(...keys.map((k) => Math.abs((p[k] as number) - (t.params[k] as number))))));
    const withStart = gpStrategyFactory.create(gpStrategyFactory.options.parse({})).suggest(req);
    const without = gpStrategyFactory.create(gpStrategyFactory.options.parse({ incumbentStart: false })).suggest(req);
    expect(nearest(withStart.params)).toBeLessThan(1e-2);
    expect(nearest(without.params)).toBeGreaterThan(0.05);
  });
});
