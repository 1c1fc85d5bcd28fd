import { describe, expect, it } from "vitest";
import { Rng } from "../math/rng.js";
import { sampleUniform } from "../domain/sampling.js";
import { HARTMANN6_ARGMIN } from "./benchmark-functions.js";
import { LEARNING_CURVE_Y0, learningCurveProblem } from "./learning-curve.js";

const lc = learningCurveProblem();
const at = (xs: number[]) => Object.fromEntries(xs.map((v, i) => [`x${i}`, v]));
const draw = (rng: Rng) => Object.fromEntries(Object.entries(lc.space).map(([k, d]) => [k, sampleUniform(d, rng)]));

describe("learning-curve problem", () => {
  it("starts at y0, decreases monotonically and tends to the Hartmann6 value", () => {
    const rng = new Rng(1);
    for (let i = 0; i < 50; i++) {
      const p = draw(rng);
      expect(lc.mean(p, 0)).toBeCloseTo(LEARNING_CURVE_Y0, 12);
      for (let t = 1; t <= 81; t++) expect(lc.mean(p, t)).toBeLessThanOrEqual(lc.mean(p, t - 1));
      expect(lc.mean(p, 1e9)).toBeCloseTo(lc.asymptote(p), 3);
    }
    expect(lc.asymptote(at(HARTMANN6_ARGMIN))).toBeCloseTo(lc.fStar, 4);
  });

  it("misleads early: some configurations lead at step 1 but finish worse", () => {
    const rng = new Rng(2);
    const ps = Array.from({ length: 200 }, () => draw(rng));
    let crossings = 0;
    for (let i = 0; i < ps.length; i += 2) {
      const a = ps[i]!;
      const b = ps[i + 1]!;
      if (Math.sign(lc.mean(a, 1) - lc.mean(b, 1)) !== Math.sign(lc.mean(a, 81) - lc.mean(b, 81))) crossings++;
    }
    expect(crossings).toBeGreaterThan(5);
    expect(crossings).toBeLessThan(50);
  });

  it("has noise that shrinks with t and repeats for the same (seed, key, t)", () => {
    const p = draw(new Rng(3));
    expect(lc.observe(p, 5, 1, 7)).toBe(lc.observe(p, 5, 1, 7));
    const spread = (t: number) => {
      const xs = Array.from({ length: 400 }, (_, k) => lc.observe(p, t, 1, k) - lc.mean(p, t));
      return Math.sqrt(xs.reduce((s, v) => s + v * v, 0) / xs.length);
    };
    expect(spread(0)).toBeGreaterThan(0.08);
    expect(spread(80)).toBeLessThan(0.02);
    expect(lc.costPerStep(p)).toBeGreaterThanOrEqual(1);
  });
});
