import { describe, expect, it } from "vitest";
import { hypervolume, nonDominated } from "../../math/hypervolume.js";
import { Rng } from "../../math/rng.js";
import { LogEhvi, hypervolumeImprovement, nonDominatedBoxes } from "./ehvi.js";

/** A random mutually non-dominated front of n points in [0, 1]^m. */
function randomFront(rng: Rng, n: number, m: number): number[][] {
  const pts = Array.from({ length: n * 4 }, () => Array.from({ length: m }, () => rng.random()));
  return nonDominated(pts).slice(0, n);
}

/** A standard normal draw (Box–Muller). */
function gauss(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.random())) * Math.cos(2 * Math.PI * rng.random());
}

describe("nonDominatedBoxes", () => {
  for (const m of [2, 3]) {
    it(`gives HV(front ∪ {y}) − HV(front) for any y (${m} objectives)`, () => {
      const rng = new Rng(7 + m);
      for (let rep = 0; rep < 20; rep++) {
        const front = randomFront(rng, 1 + Math.floor(rng.random() * 8), m);
        const ref = Array.from({ length: m }, () => 1.1);
        const boxes = nonDominatedBoxes(front, ref);
        expect(boxes.count).toBe((front.length + 1) ** (m - 1));
        for (let k = 0; k < 20; k++) {
          const y = Array.from({ length: m }, () => rng.random() * 1.4 - 0.2);
          const want = hypervolume([...front, y], ref) - hypervolume(front, ref);
          expect(hypervolumeImprovement(boxes, y)).toBeCloseTo(want, 10);
        }
      }
    });
  }

  it("ignores points outside the reference and refuses one objective", () => {
    const boxes = nonDominatedBoxes([[0.5, 0.5], [2, 0.1]], [1, 1]);
    expect(hypervolumeImprovement(boxes, [0, 0])).toBeCloseTo(1 - 0.25, 12);
    expect(() => nonDominatedBoxes([[0]], [1])).toThrow(/two objectives/);
  });
});

describe("LogEhvi", () => {
  for (const m of [2, 3]) {
    it(`matches a Monte-Carlo estimate of E[HVI] (${m} objectives)`, () => {
      const rng = new Rng(100 + m);
      for (let rep = 0; rep < 6; rep++) {
        const front = randomFront(rng, 5, m);
        const ref = Array.from({ length: m }, () => 1.2);
        const boxes = nonDominatedBoxes(front, ref);
        const mu = Array.from({ length: m }, () => rng.random());
        const sigma = Array.from({ length: m }, () => 0.05 + rng.random() * 0.4);
        const exact = Math.exp(new LogEhvi(boxes).evaluate(mu, sigma));
        const draws = 40_000;
        let sum = 0;
        let sq = 0;
        for (let s = 0; s < draws; s++) {
          const v = hypervolumeImprovement(boxes, mu.map((x, j) => x + sigma[j]! * gauss(rng)));
          sum += v;
          sq += v * v;
        }
        const mean = sum / draws;
        const se = Math.sqrt((sq / draws - mean * mean) / draws);
        // Five standard errors (plus a hair for a mean of exactly zero).
        expect(Math.abs(exact - mean)).toBeLessThan(5 * se + 1e-9);
      }
    });

    it(`has the gradient its finite differences say (${m} objectives)`, () => {
      const rng = new Rng(200 + m);
      for (let rep = 0; rep < 10; rep++) {
        const front = randomFront(rng, 6, m);
        const boxes = nonDominatedBoxes(front, Array.from({ length: m }, () => 1.1));
        const f = new LogEhvi(boxes);
        // Means up to far beyond the reference: the tail must stay finite and differentiable.
        const mu = Array.from({ length: m }, () => rng.random() * (rep < 5 ? 1 : 6));
        const sigma = Array.from({ length: m }, () => 0.02 + rng.random() * 0.3);
        const v = f.evaluate(mu, sigma, true);
        expect(Number.isFinite(v)).toBe(true);
        const dMu = Array.from(f.dMu);
        const dSigma = Array.from(f.dSigma);
        const h = 1e-6;
        for (let j = 0; j < m; j++) {
          const up = [...mu];
          const dn = [...mu];
          up[j]! += h;
          dn[j]! -= h;
          const fd = (f.evaluate(up, sigma) - f.evaluate(dn, sigma)) / (2 * h);
          expect(Math.abs(dMu[j]! - fd)).toBeLessThan(1e-4 * Math.max(1, Math.abs(fd)));
          const su = [...sigma];
          const sd = [...sigma];
          su[j]! += h;
          sd[j]! -= h;
          const fds = (f.evaluate(mu, su) - f.evaluate(mu, sd)) / (2 * h);
          expect(Math.abs(dSigma[j]! - fds)).toBeLessThan(1e-4 * Math.max(1, Math.abs(fds)));
        }
      }
    });
  }

  it("is the product of per-objective EIs against the reference for an empty front", () => {
    // EHVI = Π_j E[(r_j − Y_j)⁺] = Π_j σ_j h((r_j − μ_j)/σ_j).
    const boxes = nonDominatedBoxes([], [1, 2]);
    const mu = [0.3, 1.5];
    const sigma = [0.2, 0.7];
    const h = (z: number) => z * 0.5 * (1 + erfApprox(z / Math.SQRT2)) + Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI);
    const want = Math.log(0.2 * h((1 - 0.3) / 0.2)) + Math.log(0.7 * h((2 - 1.5) / 0.7));
    expect(new LogEhvi(boxes).evaluate(mu, sigma)).toBeCloseTo(want, 5);
  });
});

/** erf to 1e-7 (Abramowitz & Stegun 7.1.26 is 1.5e-7; this uses the series for |x| < 3). */
function erfApprox(x: number): number {
  let sum = x;
  let term = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
