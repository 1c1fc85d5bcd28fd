import { describe, expect, it } from "vitest";
import { toUnit } from "../../domain/distributions.js";
import { simulate, strategyConformance } from "../../testing/strategy.case.js";
import { randomStrategyFactory } from "./random-strategy.js";

strategyConformance(randomStrategyFactory, { options: {}, n: 50 });

describe("random strategy", () => {
  it("is uniform in log space on log dimensions (KS-style check over seeds)", () => {
    const space = { lr: { type: "float" as const, low: 1e-5, high: 1e-1, log: true } };
    for (const seed of [1, 2, 3, 4, 5]) {
      const us = simulate(randomStrategyFactory, {}, space, 400, seed)
        .map((t) => toUnit(space.lr, t.params.lr as number))
        .sort((a, b) => a - b);
      let d = 0;
      us.forEach((u, i) => (d = Math.max(d, Math.abs(u - (i + 1) / us.length), Math.abs(u - i / us.length))));
      // Kolmogorov–Smirnov critical value at alpha = 0.001 for n = 400 is about 1.95/sqrt(n).
      expect(d).toBeLessThan(1.95 / Math.sqrt(us.length));
    }
  });

  it("draws every categorical choice and every int value", () => {
    const space = {
      c: { type: "categorical" as const, choices: ["a", "b", "c"] },
      i: { type: "int" as const, low: 0, high: 4 },
    };
    const trials = simulate(randomStrategyFactory, {}, space, 200);
    expect(new Set(trials.map((t) => t.params.c))).toEqual(new Set(["a", "b", "c"]));
    expect(new Set(trials.map((t) => t.params.i))).toEqual(new Set([0, 1, 2, 3, 4]));
  });
});
