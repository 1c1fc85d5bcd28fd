import { describe, expect, it } from "vitest";
import { minimizeLbfgs } from "./lbfgs.js";

function rosenbrock(x: Float64Array, g: Float64Array): number {
  let f = 0;
  g.fill(0);
  for (let i = 0; i < x.length - 1; i++) {
    const a = x[i + 1]! - x[i]! * x[i]!;
    const b = 1 - x[i]!;
    f += 100 * a * a + b * b;
    g[i] = g[i]! - 400 * x[i]! * a - 2 * b;
    g[i + 1] = g[i + 1]! + 200 * a;
  }
  return f;
}

describe("minimizeLbfgs", () => {
  it("finds the Rosenbrock minimum (unbounded, 2-D and 10-D)", () => {
    const r2 = minimizeLbfgs(rosenbrock, [-1.2, 1], { maxIter: 500, pgtol: 1e-8 });
    expect(r2.converged).toBe(true);
    expect(r2.x[0]).toBeCloseTo(1, 4);
    expect(r2.x[1]).toBeCloseTo(1, 4);
    const r10 = minimizeLbfgs(rosenbrock, new Array(10).fill(-0.5), { maxIter: 2000, pgtol: 1e-8 });
    expect(r10.f).toBeLessThan(1e-8);
  });

  it("stops at the box on Rosenbrock when the optimum is outside it", () => {
    // With x ≤ 0.5 the constrained minimum has x0 = 0.5 at the bound and x1 = 0.25.
    const r = minimizeLbfgs(rosenbrock, [-1, -1], { lower: [-2, -2], upper: [0.5, 2], maxIter: 500, pgtol: 1e-9 });
    expect(r.x[0]).toBeCloseTo(0.5, 6);
    expect(r.x[1]).toBeCloseTo(0.25, 4);
  });

  it("solves a bounded quadratic with some bounds active", () => {
    // f = Σ w_i (x_i − c_i)², box [0, 1]: solution clip(c, 0, 1).
    const c = [-0.5, 0.3, 1.7, 0.9, 2];
    const w = [1, 10, 0.1, 100, 3];
    const fg = (x: Float64Array, g: Float64Array) => {
      let f = 0;
      for (let i = 0; i < x.length; i++) {
        f += w[i]! * (x[i]! - c[i]!) ** 2;
        g[i] = 2 * w[i]! * (x[i]! - c[i]!);
      }
      return f;
    };
    const r = minimizeLbfgs(fg, [0.5, 0.5, 0.5, 0.5, 0.5], { lower: new Array(5).fill(0), upper: new Array(5).fill(1) });
    expect(r.converged).toBe(true);
    c.forEach((ci, i) => expect(r.x[i]).toBeCloseTo(Math.min(1, Math.max(0, ci)), 6));
  });

  it("takes a first trial step of length initialStep along the steepest descent", () => {
    const points: number[][] = [];
    const fg = (x: Float64Array, g: Float64Array) => {
      points.push(Array.from(x));
      g[0] = 2 * (x[0]! - 100);
      g[1] = 2 * x[1]!;
      return (x[0]! - 100) ** 2 + x[1]! ** 2;
    };
    minimizeLbfgs(fg, [0, 0], { initialStep: 0.25, maxIter: 1 });
    expect(points[1]![0]).toBeCloseTo(0.25, 12);
    expect(points[1]![1]).toBe(0);
  });

  it("respects the iteration cap and projects the start into the box", () => {
    const r = minimizeLbfgs(rosenbrock, [5, 5], { lower: [-2, -2], upper: [2, 2], maxIter: 3 });
    expect(r.iterations).toBeLessThanOrEqual(3);
    expect(Math.max(...r.x)).toBeLessThanOrEqual(2);
  });

  it("backs off from non-finite regions and reports a non-finite start as NaN", () => {
    // f = x − log(1 − x) is undefined for x ≥ 1 and increasing below it (f' = 1 + 1/(1 − x) > 0),
    // so the first long step lands in NaN territory and the minimum is the lower bound.
    const fg = (x: Float64Array, g: Float64Array) => {
      const v = x[0]!;
      g[0] = 1 + 1 / (1 - v);
      return v >= 1 ? NaN : v - Math.log(1 - v);
    };
    const r = minimizeLbfgs(fg, [0.9], { lower: [-3], upper: [5] });
    expect(r.x[0]).toBeCloseTo(-3, 8);
    const bad = minimizeLbfgs(fg, [2], {});
    expect(Number.isNaN(bad.f)).toBe(true);
  });
});
