import { describe, expect, it } from "vitest";
import { CurvatureMemory, activeSet, armijoSearch, minimizeLbfgs, searchDirection } from "./lbfgs.js";

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

describe("activeSet", () => {
  it("holds a variable at a bound whose gradient pushes outward, and measures the projected gradient", () => {
    const box = { lower: [0, 0, 0, -Infinity], upper: [1, 1, 1, Infinity] };
    const x = Float64Array.from([0, 1, 0.5, 3]);
    const free = new Uint8Array(4);
    // x0 at the lower bound pushed down (g > 0): fixed; x1 at the upper bound pushed up (g < 0): fixed;
    // x2 inside, x3 unbounded: free.
    const pg = activeSet(box, x, Float64Array.from([2, -3, 0.2, -0.7]), free);
    expect(Array.from(free)).toEqual([0, 0, 1, 1]);
    expect(pg).toBeCloseTo(0.7, 15); // the fixed ones project to zero steps
    // At a bound but pulled inward: free, and the projected step counts.
    const inward = activeSet(box, x, Float64Array.from([-0.25, 0.4, 0, 0]), free);
    expect(Array.from(free)).toEqual([1, 1, 1, 1]);
    expect(inward).toBeCloseTo(0.4, 15);
    // Without bounds every variable is free and the measure is ‖g‖∞.
    expect(activeSet({}, x, Float64Array.from([1, -5, 2, 0]), free)).toBe(5);
    expect(Array.from(free)).toEqual([1, 1, 1, 1]);
  });
});

describe("searchDirection (two-loop recursion)", () => {
  const n = 3;
  const allFree = new Uint8Array(n).fill(1);
  const scratch = () => [new Float64Array(n), new Float64Array(n)] as const;

  it("with no curvature pairs is a steepest-descent step of length initialStep, capped at the gradient step", () => {
    const mem = new CurvatureMemory(n, 5);
    const [q, d] = scratch();
    const g = Float64Array.from([3, 0, -4]);
    const dg = searchDirection(g, allFree, mem, 0.5, q, d);
    expect(Array.from(d).map((v) => v / 0.1)).toEqual([-3, 0, 4].map((v) => expect.closeTo(v, 12)));
    expect(dg).toBeCloseTo(-2.5, 12);
    searchDirection(g, allFree, mem, 100, q, d);
    expect(Array.from(d)).toEqual([-3, -0, 4]);
  });

  it("recovers the exact Newton step −A⁻¹g from n A-conjugate pairs of a quadratic", () => {
    const a = [4, 0.5, 10]; // f = ½ Σ a_i x_i²: unit vectors are A-conjugate, y = A s
    const mem = new CurvatureMemory(n, 5);
    const zero = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const s = new Float64Array(n);
      s[k] = 1;
      const y = new Float64Array(n);
      y[k] = a[k]!;
      expect(mem.push(zero, s, zero, y)).toBe(true);
    }
    const g = Float64Array.from([1, -2, 3]);
    const [q, d] = scratch();
    const dg = searchDirection(g, allFree, mem, 1, q, d);
    Array.from(d).forEach((v, i) => expect(v).toBeCloseTo(-g[i]! / a[i]!, 12));
    expect(dg).toBeLessThan(0);
    // A fixed variable gets no move; the others keep their Newton components.
    searchDirection(g, Uint8Array.from([1, 0, 1]), mem, 1, q, d);
    expect(d[1]).toBe(0);
    expect(d[0]).toBeCloseTo(-g[0]! / a[0]!, 12);
  });

  it("refuses pairs without positive curvature, and restarts from steepest descent when the recursion breaks down", () => {
    const mem = new CurvatureMemory(n, 2);
    const zero = new Float64Array(n);
    expect(mem.push(zero, Float64Array.from([1, 0, 0]), zero, Float64Array.from([-1, 0, 0]))).toBe(false);
    expect(mem.push(zero, Float64Array.from([1, 0, 0]), zero, Float64Array.from([0, 1, 0]))).toBe(false); // sᵀy = 0
    expect(mem.count).toBe(0);
    // sᵀy = 1e-200 > 0 is kept, but yᵀy underflows to 0: γ = ∞ and the direction is NaN, not a descent.
    expect(mem.push(zero, Float64Array.from([1, 0, 0]), zero, Float64Array.from([1e-200, 0, 0]))).toBe(true);
    const g = Float64Array.from([3, 0, -4]);
    const [q, d] = scratch();
    const dg = searchDirection(g, allFree, mem, 0.5, q, d);
    expect(mem.count).toBe(0); // the memory was cleared by the restart
    expect(dg).toBeCloseTo(-2.5, 12);
    expect(Array.from(d)).toEqual([expect.closeTo(-0.3, 12), -0, expect.closeTo(0.4, 12)]);
  });

  it("keeps only the m newest pairs", () => {
    const mem = new CurvatureMemory(1, 2);
    const z = new Float64Array(1);
    for (const a of [1, 2, 4]) mem.push(z, Float64Array.from([1]), z, Float64Array.from([a]));
    expect(mem.count).toBe(2);
    expect([mem.rho[mem.slot(0)], mem.rho[mem.slot(1)]]).toEqual([1 / 4, 1 / 2]);
  });
});

describe("armijoSearch", () => {
  const f = (x: Float64Array) => (x[0]! - 1) ** 2;
  const x = Float64Array.from([0]);
  const g = Float64Array.from([-2]);

  it("accepts the full step when it decreases f enough", () => {
    const xn = new Float64Array(1);
    const r = armijoSearch({}, x, 1, g, Float64Array.from([1]), -2, f, () => true, xn);
    expect(r).toEqual({ accepted: true, f: 0, evaluations: 1 });
    expect(xn[0]).toBe(1);
  });

  it("backtracks by the safeguarded quadratic from an overshoot, and halves past non-finite values", () => {
    const xn = new Float64Array(1);
    const tried: number[] = [];
    // d = 10 overshoots: f(10) = 81; quadratic minimiser t = 20/(2·101) ≈ 0.099 → clipped to 0.1.
    const r = armijoSearch({}, x, 1, g, Float64Array.from([10]), -20, (p) => (tried.push(p[0]!), f(p)), () => true, xn);
    expect(r.accepted).toBe(true);
    expect(tried).toEqual([10, 1]);
    const nanTried: number[] = [];
    const nanBeyondHalf = (p: Float64Array) => (nanTried.push(p[0]!), p[0]! > 0.6 ? NaN : f(p));
    armijoSearch({}, x, 1, g, Float64Array.from([1]), -2, nanBeyondHalf, () => true, xn);
    expect(nanTried).toEqual([1, 0.5]);
  });

  it("follows the projection arc, refuses unusable gradients, and gives up after maxSteps", () => {
    const xn = new Float64Array(1);
    const r = armijoSearch({ upper: [0.25] }, x, 1, g, Float64Array.from([1]), -2, f, () => true, xn);
    expect(xn[0]).toBe(0.25); // projected onto the box
    expect(r.f).toBeCloseTo(0.5625, 15);
    const unusable = armijoSearch({}, x, 1, g, Float64Array.from([1]), -2, f, () => false, xn, 5);
    expect(unusable).toMatchObject({ accepted: false, evaluations: 5 });
    const uphill = armijoSearch({}, x, 1, g, Float64Array.from([-1]), 2, f, () => true, xn, 7);
    expect(uphill).toMatchObject({ accepted: false, evaluations: 7 });
  });
});
