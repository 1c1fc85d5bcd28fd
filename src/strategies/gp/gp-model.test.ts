import { describe, expect, it } from "vitest";
import { Rng } from "../../math/rng.js";
import { GpObjective, GpPosterior, type GpInputs, defaultTheta, dimScaledLogLambda, matern52, matern52dR2 } from "./gp-model.js";

function randomInputs(n: number, seed: number): { inputs: GpInputs; y: Float64Array } {
  const rng = new Rng(seed);
  const d = 3;
  const isCat = Uint8Array.from([0, 1, 0]);
  const X = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    X[i * d] = rng.random();
    X[i * d + 1] = rng.int(3);
    X[i * d + 2] = rng.random();
  }
  const y = Float64Array.from({ length: n }, (_, i) => Math.sin(6 * X[i * d]!) + 0.5 * X[i * d + 1]! - X[i * d + 2]! ** 2);
  return { inputs: { n, d, X, isCat }, y };
}

/** A posterior at `theta` over `randomInputs(n, seed)`, and `count` query points of the same kind (Rng(`pointSeed`)). */
function fittedWithPoints(n: number, seed: number, theta: number[], count: number, pointSeed: number): { inputs: GpInputs; post: GpPosterior; xs: Float64Array } {
  const { inputs, y } = randomInputs(n, seed);
  const t = Float64Array.from(theta);
  const obj = new GpObjective(inputs, y);
  obj.factor(t);
  const rng = new Rng(pointSeed);
  const xs = Float64Array.from({ length: count * 3 }, (_, i) => (i % 3 === 1 ? rng.int(3) : rng.random()));
  return { inputs, post: new GpPosterior(inputs, t, obj.L, obj.alpha, obj.jitter), xs };
}

describe("GP model", () => {
  it("Matérn-5/2 is 1 at r = 0, decreasing, and its r² derivative matches finite differences", () => {
    expect(matern52(0)).toBe(1);
    expect(matern52(1)).toBeLessThan(matern52(0.5));
    for (const r2 of [1e-4, 0.3, 2, 9]) {
      const h = 1e-6 * r2;
      expect(matern52dR2(r2) / ((matern52(r2 + h) - matern52(r2 - h)) / (2 * h))).toBeCloseTo(1, 5);
    }
  });

  it.each(["optuna", "dim-scaled"] as const)("has an analytic negative-log-posterior gradient that matches central finite differences (%s prior)", (prior) => {
    const { inputs, y } = randomInputs(25, 1);
    const obj = new GpObjective(inputs, y, prior);
    for (const theta of [[0, 0, 0, 0, Math.log(1e-2)], [1.2, -0.7, 2.1, -0.4, -6], [-2, 1, 0.3, 0.9, 0.5]]) {
      const t = Float64Array.from(theta);
      const g = new Float64Array(t.length);
      obj.evaluate(t, g);
      const scratch = new Float64Array(t.length);
      for (let k = 0; k < t.length; k++) {
        const h = 1e-5;
        const tp = Float64Array.from(t);
        const tm = Float64Array.from(t);
        tp[k] = tp[k]! + h;
        tm[k] = tm[k]! - h;
        const fd = (obj.evaluate(tp, scratch) - obj.evaluate(tm, scratch)) / (2 * h);
        expect(Math.abs(g[k]! - fd), `θ${k}: ${g[k]} vs ${fd}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(fd)));
      }
    }
  });

  it("interpolates the data at low noise, and its mean/variance gradients match finite differences", () => {
    const { inputs, y } = randomInputs(30, 2);
    const theta = Float64Array.from([1, 0, 1, 0, Math.log(1e-5)]);
    const obj = new GpObjective(inputs, y);
    expect(obj.factor(theta)).toBe(true);
    const post = new GpPosterior(inputs, theta, obj.L, obj.alpha, obj.jitter);
    post.predict(inputs.X, 3 * inputs.d);
    expect(post.mean).toBeCloseTo(y[3]!, 3);
    expect(post.variance).toBeLessThan(1e-3);

    const x = Float64Array.from([0.37, 2, 0.81]);
    const wrt = Uint8Array.from([1, 0, 1]);
    const dM = new Float64Array(3);
    const dV = new Float64Array(3);
    post.predictWithGradient(x, wrt, dM, dV);
    const m0 = post.mean;
    const v0 = post.variance;
    post.predict(x);
    expect(post.mean).toBeCloseTo(m0, 12);
    expect(post.variance).toBeCloseTo(v0, 12);
    for (const m of [0, 2]) {
      const h = 1e-6;
      const xp = Float64Array.from(x);
      const xm = Float64Array.from(x);
      xp[m] = xp[m]! + h;
      xm[m] = xm[m]! - h;
      post.predict(xp);
      const [mp, vp] = [post.mean, post.variance];
      post.predict(xm);
      expect(dM[m]).toBeCloseTo((mp - post.mean) / (2 * h), 5);
      expect(dV[m]).toBeCloseTo((vp - post.variance) / (2 * h), 5);
    }
    expect(dM[1]).toBe(0);
  });

  it("predicts a batch exactly as point by point (blocked solve, odd count)", () => {
    const count = 11;
    const { post, xs } = fittedWithPoints(20, 3, [0.5, -0.2, 0.1, 0.3, -4], count, 9);
    const means = new Float64Array(count);
    const vars = new Float64Array(count);
    post.predictBatch(xs, count, means, vars);
    for (let c = 0; c < count; c++) {
      post.predict(xs, c * 3);
      expect(means[c]).toBeCloseTo(post.mean, 12);
      expect(vars[c]).toBeCloseTo(post.variance, 12);
    }
  });

  it("bounds the variance from above cheaply (the pruning of candidate scoring relies on it) and is tight at data", () => {
    const count = 200;
    const { inputs, post, xs } = fittedWithPoints(40, 4, [1.5, 0.2, 2, 0.1, -5], count, 5);
    xs.set(inputs.X.subarray(0, 3), 0); // a training point: the bound is s²·noise/(s² + noise)
    const means = new Float64Array(count);
    const bounds = new Float64Array(count);
    const vars = new Float64Array(count);
    post.meanAndVarianceBound(xs, count, means, bounds);
    post.predictBatch(xs, count, new Float64Array(count), vars);
    let strictlyLooser = 0;
    for (let c = 0; c < count; c++) {
      post.predict(xs, c * 3);
      expect(means[c]).toBeCloseTo(post.mean, 12);
      expect(bounds[c]! + 1e-12).toBeGreaterThanOrEqual(vars[c]!);
      if (bounds[c]! > vars[c]! + 1e-6) strictlyLooser++;
    }
    const [s2, noise] = [Math.exp(0.1), 1e-6 + Math.exp(-5)];
    expect(bounds[0]).toBeCloseTo((s2 * noise) / (s2 + noise), 8);
    expect(strictlyLooser).toBeGreaterThan(100);
  });

  it("gives up on a batch's points part-way only on an upper bound of their variance, and reuses kernel rows", () => {
    // 150 training points: the batch is offered to `prune` after 32, 64 and 128 rows.
    const count = 64;
    const { post, xs } = fittedWithPoints(150, 11, [0.4, -0.3, 0.2, 0.5, -4], count, 12);
    const exactM = new Float64Array(count);
    const exactV = new Float64Array(count);
    post.predictBatch(xs, count, exactM, exactV);
    const rows = new Float64Array(count * 150);
    post.meanAndVarianceBound(xs, count, new Float64Array(count), new Float64Array(count), rows);
    // Blocks 0, 3, 6, …: every point pruned at once; blocks 1, 4, …: two of four; the rest: none.
    const wants = (j: number) => (j >> 2) % 3 === 0 || ((j >> 2) % 3 === 1 && j % 4 < 2);
    const offered: number[][] = Array.from({ length: count }, () => []);
    const means = new Float64Array(count);
    const vars = new Float64Array(count);
    post.predictBatch(xs, count, means, vars, (j, mean, bound) => {
      expect(mean).toBe(exactM[j]);
      offered[j]!.push(bound);
      return wants(j);
    }, rows);
    for (let c = 0; c < count; c++) {
      expect(means[c]).toBe(exactM[c]);
      // Each bound offered is at least the exact variance, in floating point, and they tighten.
      for (const b of offered[c]!) expect(b).toBeGreaterThanOrEqual(exactV[c]!);
      for (let k = 1; k < offered[c]!.length; k++) expect(offered[c]![k]!).toBeLessThanOrEqual(offered[c]![k - 1]!);
      // Offered after 32, 64 and 128 rows until pruned; NaN only where the whole block was.
      expect(offered[c]!.length).toBe(wants(c) ? 1 : 3);
      if ((c >> 2) % 3 === 0) expect(vars[c]).toBeNaN();
      else expect(vars[c]).toBe(exactV[c]);
    }
    // The partial bound is a real bound, not the exact value: looser for most points.
    expect(offered.filter((o, c) => o[0]! > exactV[c]! + 1e-9).length).toBeGreaterThan(count / 2);
  });

  it("centres the dimension-scaled prior at a lengthscale that grows like √d (Hvarfner et al. 2024)", () => {
    for (const d of [2, 8, 32]) expect(Math.exp(-0.5 * dimScaledLogLambda(d).mean)).toBeCloseTo(Math.exp(Math.SQRT2) * Math.sqrt(d), 10);
    expect(Array.from(defaultTheta(3))).toEqual([0, 0, 0, 0, Math.log(1e-2)]);
  });

  it("has the prior's pull: with no data its MAP lengthscales sit at the prior mode", () => {
    // One point carries no information on lengthscales, so the gradient there is the prior's alone.
    const inputs: GpInputs = { n: 1, d: 4, X: Float64Array.from([0.1, 0.2, 0.3, 0.4]), isCat: new Uint8Array(4) };
    const obj = new GpObjective(inputs, Float64Array.from([0]), "dim-scaled");
    const t = defaultTheta(4);
    t.fill(dimScaledLogLambda(4).mean, 0, 4);
    const g = new Float64Array(6);
    obj.evaluate(t, g);
    for (let m = 0; m < 4; m++) expect(Math.abs(g[m]!)).toBeLessThan(1e-12);
    t[0] = t[0]! + 1;
    obj.evaluate(t, g);
    expect(g[0]).toBeCloseTo(1 / 12, 12);
  });
});
