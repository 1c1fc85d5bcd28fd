/**
 * The GP's acquisition local search climbs −LogEI with an analytic gradient; a wrong gradient
 * (a sign, a missing chain-rule factor) would climb the wrong function and still pass the
 * quality tests now and then. This checks the gradient L-BFGS is given against central finite
 * differences of the value it is given, at the points the search started from and at random
 * points of the box. The objective is taken from the real suggest path: `minimizeLbfgs` is
 * wrapped (not replaced) and every call with a `stop` hook (the acquisition search; the
 * hyperparameter fit has none) is recorded.
 */
import { describe, expect, it, vi } from "vitest";
import type { Params, SearchSpace } from "../../domain/distributions.js";
import type { LbfgsOptions, ObjectiveWithGradient } from "../../math/lbfgs.js";
import { Rng } from "../../math/rng.js";
import { hartmann3, mixedProblem } from "../../testing/benchmark-functions.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { gpStrategyFactory } from "./gp-strategy.js";

interface Captured {
  fg: ObjectiveWithGradient;
  x0: Float64Array;
  opts: LbfgsOptions;
}
const captured = vi.hoisted(() => [] as Captured[]);

vi.mock("../../math/lbfgs.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../math/lbfgs.js")>();
  return {
    ...real,
    minimizeLbfgs: (fg: ObjectiveWithGradient, x0: ArrayLike<number>, opts: LbfgsOptions = {}) => {
      if (opts.stop !== undefined) captured.push({ fg, x0: Float64Array.from(x0), opts });
      return real.minimizeLbfgs(fg, x0, opts);
    },
  };
});

/** What a problem reports: a value, or a value and constraint values (c ≤ 0 feasible). */
type Outcome = number | { value: number; constraints: number[] };

/** Runs `n` GP suggestions on a problem, recording the acquisition objectives of the last ones. */
function acquisitionObjectives(space: SearchSpace, evaluate: (p: Params) => Outcome, n: number, seed: number): Captured[] {
  const strategy = gpStrategyFactory.create(gpStrategyFactory.options.parse({}));
  const study = makeStudy(space, { seed, strategy: { name: "gp", options: {} } });
  const trials = [];
  for (let i = 0; i < n; i++) {
    captured.length = 0;
    const s = strategy.suggest(suggestRequest(study, trials));
    const r = evaluate(s.params);
    trials.push(makeTrial(i, s.params, space, typeof r === "number" ? { value: r } : r));
  }
  return [...captured];
}

/** Largest mismatch between the analytic gradient and central differences, scaled (1e-7 absolute slack). */
function gradientError(fg: ObjectiveWithGradient, x: Float64Array, lower: ArrayLike<number>, upper: ArrayLike<number>): number {
  const k = x.length;
  const g = new Float64Array(k);
  const f0 = fg(Float64Array.from(x), g);
  expect(Number.isFinite(f0)).toBe(true);
  const analytic = Float64Array.from(g);
  const scratch = new Float64Array(k);
  let worst = 0;
  for (let i = 0; i < k; i++) {
    const h = 1e-6;
    const at = (v: number) => {
      const y = Float64Array.from(x);
      y[i] = v;
      return fg(y, scratch);
    };
    // Stay inside the box: the objective is only defined there. At a bound, the second-order
    // one-sided difference (−3f(x) + 4f(x ± h) − f(x ± 2h))/(±2h): a first-order one is too
    // coarse where log PoF is steep (far in the tail, |∇| in the thousands).
    const fd =
      x[i]! + h > upper[i]! ? (3 * at(x[i]!) - 4 * at(x[i]! - h) + at(x[i]! - 2 * h)) / (2 * h)
      : x[i]! - h < lower[i]! ? (-3 * at(x[i]!) + 4 * at(x[i]! + h) - at(x[i]! + 2 * h)) / (2 * h)
      : (at(x[i]! + h) - at(x[i]! - h)) / (2 * h);
    worst = Math.max(worst, Math.abs(analytic[i]! - fd) / (1e-7 + 1e-4 * Math.max(1, Math.abs(fd))));
  }
  return worst;
}

describe("GP acquisition gradient", () => {
  for (const [label, space, evaluate, n] of [
    ["continuous (Hartmann3)", hartmann3.space, hartmann3.evaluate, 16],
    ["mixed (int, log float, categorical)", mixedProblem.space, mixedProblem.evaluate, 16],
    // EI × probability of feasibility (gp-constraints.ts): two constraints, the second never violated (skipped).
    [
      "constrained Hartmann3 (log EI + log PoF)",
      hartmann3.space,
      (p: Params) => ({ value: hartmann3.evaluate(p), constraints: [(p.x0 as number) + (p.x1 as number) - 0.9, -1 - (p.x2 as number)] }),
      16,
    ],
    // No feasible trial: the search climbs log PoF alone.
    ["never feasible Hartmann3 (log PoF alone)", hartmann3.space, (p: Params) => ({ value: hartmann3.evaluate(p), constraints: [0.2 + (p.x0 as number) ** 2 + (p.x1 as number)] }), 16],
  ] as const) {
    it(`matches central finite differences of the −acquisition: ${label}`, () => {
      const rng = new Rng(7, "fd");
      let checked = 0;
      for (const seed of [1, 2]) {
        const calls = acquisitionObjectives(space, evaluate, n, seed);
        expect(calls.length, "the acquisition search ran L-BFGS").toBeGreaterThan(0);
        for (const c of calls.slice(0, 4)) {
          const lower = c.opts.lower ?? new Array(c.x0.length).fill(0);
          const upper = c.opts.upper ?? new Array(c.x0.length).fill(1);
          const points = [c.x0, ...Array.from({ length: 3 }, () => Float64Array.from(c.x0, (_, i) => lower[i]! + (upper[i]! - lower[i]!) * (0.05 + 0.9 * rng.random())))];
          for (const x of points) {
            expect(gradientError(c.fg, x, lower, upper)).toBeLessThan(1);
            checked++;
          }
        }
      }
      expect(checked).toBeGreaterThanOrEqual(16);
    });
  }
});
