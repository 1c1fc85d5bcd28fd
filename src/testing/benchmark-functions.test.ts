import { describe, expect, it } from "vitest";
import { HARTMANN6_ARGMIN, branin, hartmann3, hartmann6, mixedProblem, shiftedAckley } from "./benchmark-functions.js";

const at = (xs: number[]) => Object.fromEntries(xs.map((v, i) => [`x${i}`, v]));

describe("benchmark functions", () => {
  it("reach their published optima", () => {
    expect(branin.evaluate(at([Math.PI, 2.275]))).toBeCloseTo(0.397887, 5);
    expect(branin.evaluate(at([-Math.PI, 12.275]))).toBeCloseTo(0.397887, 5);
    expect(hartmann3.evaluate(at([0.114614, 0.555649, 0.852547]))).toBeCloseTo(-3.86278, 4);
    expect(hartmann6.evaluate(at(HARTMANN6_ARGMIN))).toBeCloseTo(-3.32237, 4);
    expect(mixedProblem.evaluate({ fn: "b", k: 3, lr: 1e-3, u: 0.3 })).toBeCloseTo(0, 12);
  });

  it("shift their optimum per seed", () => {
    const a = shiftedAckley(3, 1);
    const b = shiftedAckley(3, 2);
    expect(a.evaluate(at([0, 0, 0]))).toBeGreaterThan(0.1);
    expect(a.evaluate(at([0, 0, 0]))).not.toBeCloseTo(b.evaluate(at([0, 0, 0])), 3);
  });
});
