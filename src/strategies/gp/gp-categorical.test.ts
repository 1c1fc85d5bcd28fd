import { describe, expect, it } from "vitest";
import { minimizeLbfgs } from "../../math/lbfgs.js";
import { Rng } from "../../math/rng.js";
import { LATENT_PRIOR_VARIANCE, MAX_LATENT_COORDINATES, latentEmbedding, unitSimplex } from "./gp-categorical.js";
import { GpObjective, GpPosterior, type GpInputs, defaultTheta, thetaBounds, thetaLength } from "./gp-model.js";
import { contains } from "../../domain/distributions.js";
import { type BenchmarkProblem, mixedProblem } from "../../testing/benchmark-functions.js";
import { runOnProblem } from "../../testing/fixtures.js";
import { gpOptions, gpStrategyFactory } from "./gp-strategy.js";

/** n points of [x ∈ [0, 1], a 5-choice categorical, a 3-choice categorical, a binary one], and f. */
function mixedInputs(n: number, seed: number, f: (x: number, a: number, b: number, c: number) => number): { inputs: GpInputs; y: Float64Array } {
  const rng = new Rng(seed);
  const d = 4;
  const X = new Float64Array(n * d);
  for (let i = 0; i < n; i++) [X[i * d], X[i * d + 1], X[i * d + 2], X[i * d + 3]] = [rng.random(), rng.int(5), rng.int(3), rng.int(2)];
  const y = Float64Array.from({ length: n }, (_, i) => f(X[i * d]!, X[i * d + 1]!, X[i * d + 2]!, X[i * d + 3]!));
  const latent = latentEmbedding("latent", [0, 5, 3, 2]);
  return { inputs: { n, d, X, isCat: Uint8Array.from([0, 1, 1, 1]), latent }, y };
}

const smooth = (x: number, a: number, b: number, c: number) => Math.sin(5 * x) + 0.3 * a - 0.5 * b * x + 0.2 * c;

describe("latent categorical kernel (gp-categorical.ts)", () => {
  it("starts from the regular simplex of unit edge, where it is the Hamming kernel", () => {
    for (const c of [2, 3, 4, 7]) {
      const z = unitSimplex(c);
      for (let a = 0; a < c; a++)
        for (let b = 0; b < a; b++) {
          let s = 0;
          for (let j = 0; j < c - 1; j++) s += (z[a * (c - 1) + j]! - z[b * (c - 1) + j]!) ** 2;
          expect(s).toBeCloseTo(1, 12);
        }
    }
    const { inputs, y } = mixedInputs(30, 3, smooth);
    const latent = inputs.latent!;
    // Binary parameters are not embedded: (5 − 1)² + (3 − 1)² coordinates.
    expect(latent.dims).toEqual([1, 2]);
    expect(thetaLength(inputs)).toBe(4 + 2 + 16 + 4);
    const hamming: GpInputs = { ...inputs, latent: undefined };
    const base = Float64Array.from([0.4, -0.3, 0.8, 0.1, 0.2, -5]);
    const t = latent.extendTheta(base);
    const objL = new GpObjective(inputs, y);
    const objH = new GpObjective(hamming, y);
    expect(objL.value(t)).toBeCloseTo(objH.value(base), 10);
    const postL = new GpPosterior(inputs, t, objL.L, objL.alpha, objL.jitter);
    const postH = new GpPosterior(hamming, base, objH.L, objH.alpha, objH.jitter);
    for (const x of [[0.3, 4, 1, 0], [0.9, 0, 2, 1]]) {
      postL.predict(x);
      postH.predict(x);
      expect(postL.mean).toBeCloseTo(postH.mean, 10);
      expect(postL.variance).toBeCloseTo(postH.variance, 10);
    }
  });

  it("has an exact negative-log-posterior gradient in every θ entry, latent coordinates included (central differences)", () => {
    const { inputs, y } = mixedInputs(25, 1, smooth);
    const obj = new GpObjective(inputs, y);
    const rng = new Rng(7);
    const start = defaultTheta(4, inputs.latent);
    for (let trial = 0; trial < 3; trial++) {
      const t = Float64Array.from(start, (v, k) => v + (trial === 0 ? 0 : (rng.random() - 0.5) * (k < 6 ? 1.5 : 0.8)));
      const g = new Float64Array(t.length);
      obj.evaluate(t, g);
      const scratch = new Float64Array(t.length);
      for (let k = 0; k < t.length; k++) {
        const h = 1e-5;
        const [tp, tm] = [Float64Array.from(t), Float64Array.from(t)];
        tp[k] = tp[k]! + h;
        tm[k] = tm[k]! - h;
        const fd = (obj.evaluate(tp, scratch) - obj.evaluate(tm, scratch)) / (2 * h);
        expect(Math.abs(g[k]! - fd), `θ${k}: ${g[k]} vs ${fd}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(fd)));
      }
      // value() agrees with evaluate() (the prior is in both).
      expect(obj.value(t)).toBeCloseTo(obj.evaluate(t, scratch), 10);
    }
  });

  it("has the prior's pull: N(simplex, σ²) per latent coordinate", () => {
    const latent = latentEmbedding("latent", [3])!;
    const t = latent.extendTheta(new Float64Array(3));
    expect(latent.negLogPrior(t)).toBe(0);
    t[5] = t[5]! + 1;
    expect(latent.negLogPrior(t)).toBeCloseTo(1 / (2 * LATENT_PRIOR_VARIANCE), 12);
    expect(latentEmbedding("hamming", [3])).toBeUndefined();
    expect(latentEmbedding("latent", [0, 2, 2])).toBeUndefined();
  });

  it("is a validated option of the gp strategy, off by default", () => {
    expect(gpOptions.parse({}).categoricalKernel).toBe("hamming");
    expect(gpOptions.parse({ categoricalKernel: "latent" }).categoricalKernel).toBe("latent");
    expect(() => gpOptions.parse({ categoricalKernel: "one-hot" })).toThrow();
    expect(() => gpOptions.parse({ categoricalKernel: 1 })).toThrow();
  });

  it("runs in the strategy: valid suggestions, θ stored with the latent coordinates and warm-started from them", () => {
    // mixedProblem: a 3-choice categorical among 3 numeric parameters, so θ = 4 + 2 + (3 − 1)².
    const trials = runOnProblem(gpStrategyFactory, gpOptions.parse({ categoricalKernel: "latent" }), mixedProblem, 25, 2);
    for (const t of trials) for (const [name, dist] of Object.entries(mixedProblem.space)) expect(contains(dist, t.params[name]!)).toBe(true);
    const thetas = trials.slice(10).map((t) => t.systemAttrs.gp_theta as number[]);
    for (const theta of thetas) {
      expect(theta).toHaveLength(10);
      expect(theta.every(Number.isFinite)).toBe(true);
    }
    // The fit moved the embedding off the simplex it starts from (the warm start carries it on).
    const simplex = Array.from(latentEmbedding("latent", [3])!.init);
    expect(thetas.at(-1)!.slice(6)).not.toEqual(simplex);
  });

  it("embeds at most MAX_LATENT_COORDINATES coordinates; a parameter past them keeps the Hamming term", () => {
    // (c − 1)²: 40 choices take 1,521 (skipped), 5 take 16, 33 take 1,024 (past the 1,008 left: skipped), 3 take 4.
    const e = latentEmbedding("latent", [0, 40, 5, 33, 3])!;
    expect(e.dims).toEqual([2, 4]);
    expect(e.size).toBe(20);
    expect(latentEmbedding("latent", [33])!.size).toBe(MAX_LATENT_COORDINATES);
    expect(latentEmbedding("latent", [34])).toBeUndefined();
    expect(latentEmbedding("latent", [10_000])).toBeUndefined();
  });

  it("is the Hamming kernel's strategy, suggestion for suggestion, on a categorical too large to embed", () => {
    // Unbounded, 500 choices took one suggestion 152 s and stored 249,005 numbers per trial; 60 already 3,485.
    const big: BenchmarkProblem = {
      name: "big-categorical",
      space: { x: { type: "float", low: 0, high: 1 }, c: { type: "categorical", choices: Array.from({ length: 60 }, (_, i) => i) } },
      fStar: 0,
      evaluate: (p) => ((p.x as number) - 0.3) ** 2 + (((p.c as number) * 7) % 13) / 13,
    };
    const run = (kernel: "hamming" | "latent") => runOnProblem(gpStrategyFactory, gpOptions.parse({ categoricalKernel: kernel }), big, 14, 3);
    const latent = run("latent");
    for (const t of latent.slice(10)) expect(t.systemAttrs.gp_theta).toHaveLength(4);
    expect(latent.map((t) => [t.params, t.systemAttrs])).toEqual(run("hamming").map((t) => [t.params, t.systemAttrs]));
  });

  it("predicts held-out points better than the Hamming kernel when two of five choices behave alike (10 seeds)", () => {
    // Choices 1 and 3 share one response curve; the other three each have their own.
    const curve = (x: number, a: number) => (a === 1 || a === 3 ? Math.sin(6 * x) : a === 0 ? Math.cos(4 * x) : a === 2 ? 2 * x - 1 : (x - 0.5) ** 2 * 4 - 1);
    const f = (x: number, a: number) => curve(x, a);
    let wins = 0;
    const errs: string[] = [];
    for (let seed = 0; seed < 10; seed++) {
      const { inputs: all, y: yAll } = mixedInputs(80, 100 + seed, f);
      // Only the 5-choice parameter matters; the others are embedded too but carry no signal.
      const nTrain = 40;
      const train: GpInputs = { ...all, n: nTrain, X: all.X.subarray(0, nTrain * 4) };
      const mse = (latent: boolean): number => {
        const inputs: GpInputs = latent ? train : { ...train, latent: undefined };
        const y = yAll.subarray(0, nTrain);
        const obj = new GpObjective(inputs, y);
        const start = defaultTheta(4, inputs.latent);
        const { lower, upper } = thetaBounds(4, inputs.latent);
        const fit = minimizeLbfgs((t, g) => obj.evaluate(t, g), start, { lower, upper, maxIter: 200, pgtol: 1e-3 });
        obj.factor(fit.x);
        const post = new GpPosterior(inputs, fit.x, obj.L, obj.alpha, obj.jitter);
        let s = 0;
        for (let i = nTrain; i < all.n; i++) {
          post.predict(all.X, i * 4);
          s += (post.mean - yAll[i]!) ** 2;
        }
        return s / (all.n - nTrain);
      };
      const [h, l] = [mse(false), mse(true)];
      errs.push(`${seed}: ${h.toFixed(4)} vs ${l.toFixed(4)}`);
      if (l < h) wins++;
    }
    // Under no difference, ≥ 9 of 10 has probability 11/1024 (one-sided sign test).
    expect(wins, errs.join("; ")).toBeGreaterThanOrEqual(9);
  });
});
