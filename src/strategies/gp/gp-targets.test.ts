import { describe, expect, it } from "vitest";
import { Rng } from "../../math/rng.js";
import {
  fitYeoJohnson, modelSubset, standardise, transformTargets, trustRegionBox, trustRegionLength, yeoJohnson,
} from "./gp-targets.js";

function skewness(y: Float64Array): number {
  const n = y.length;
  const mean = y.reduce((a, b) => a + b, 0) / n;
  let m2 = 0;
  let m3 = 0;
  for (const v of y) {
    m2 += (v - mean) ** 2;
    m3 += (v - mean) ** 3;
  }
  return m3 / n / (m2 / n) ** 1.5;
}

describe("GP target transforms", () => {
  it("Yeo–Johnson is the identity at λ = 1, log1p at λ = 0, continuous and increasing in y", () => {
    for (const y of [-3, -0.5, 0, 0.7, 5]) expect(yeoJohnson(y, 1)).toBeCloseTo(y, 12);
    expect(yeoJohnson(2, 0)).toBeCloseTo(Math.log(3), 12);
    expect(yeoJohnson(-2, 2)).toBeCloseTo(-Math.log(3), 12);
    for (const lambda of [-2, -0.5, 0, 0.5, 1, 2, 3]) {
      let prev = -Infinity;
      for (let y = -4; y <= 4; y += 0.05) {
        const v = yeoJohnson(y, lambda);
        expect(v).toBeGreaterThan(prev);
        prev = v;
      }
      expect(yeoJohnson(1e-9, lambda)).toBeCloseTo(yeoJohnson(-1e-9, lambda), 7);
    }
  });

  it("makes heavy-tailed targets nearly symmetric, keeps their order, and leaves Gaussian ones nearly alone", () => {
    const rng = new Rng(3);
    for (let rep = 0; rep < 5; rep++) {
      // A Rosenbrock-like spread: log-normal values over several orders of magnitude.
      const values = Array.from({ length: 60 }, () => Math.exp(2.5 * rng.normal()));
      const plain = standardise(values)!;
      const warped = transformTargets(values, "yeo-johnson")!;
      const ranked = transformTargets(values, "copula")!;
      expect(skewness(plain)).toBeGreaterThan(2);
      expect(Math.abs(skewness(warped))).toBeLessThan(skewness(plain) / 2);
      expect(Math.abs(skewness(ranked))).toBeLessThan(1e-9);
      const order = (y: ArrayLike<number>) => Array.from(y, (_, i) => i).sort((a, b) => y[a]! - y[b]!);
      expect(order(warped)).toEqual(order(plain));
      expect(order(ranked)).toEqual(order(plain));
      // The copula spreads the best values: the two best are as far apart as any neighbours in the middle.
      const sorted = [...ranked].sort((a, b) => a - b);
      expect(sorted[1]! - sorted[0]!).toBeGreaterThan(sorted[31]! - sorted[30]!);
      const gauss = Float64Array.from({ length: 200 }, () => rng.normal());
      expect(Math.abs(fitYeoJohnson(standardise(gauss)!) - 1)).toBeLessThanOrEqual(0.5);
    }
    expect(transformTargets([1, Infinity], "yeo-johnson")).toBeNull();
    const tied = transformTargets([3, 1, 3, 2], "copula")!;
    expect(tied[0]).toBe(tied[2]);
    expect(tied[1]!).toBeLessThan(tied[3]!);
    expect(tied[3]!).toBeLessThan(tied[0]!);
  });
});

describe("GP model subset", () => {
  it("keeps everything up to m, else the best half plus a seeded draw of the rest", () => {
    const values = Array.from({ length: 50 }, (_, i) => (i * 37) % 50);
    expect(modelSubset(values, 60, new Rng(1))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const a = modelSubset(values, 20, new Rng(1));
    expect(a).toEqual(modelSubset(values, 20, new Rng(1)));
    expect(new Set(a).size).toBe(20);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    const kept = new Set(a.map((i) => values[i]));
    for (let v = 0; v < 10; v++) expect(kept.has(v)).toBe(true);
    // The random half differs between seeds.
    const draws = new Set(Array.from({ length: 5 }, (_, s) => modelSubset(values, 20, new Rng(s)).join(",")));
    expect(draws.size).toBeGreaterThan(1);
  });
});

describe("TuRBO trust region", () => {
  it("doubles after 3 successes, halves after max(4, d) failures, restarts below 2^-7", () => {
    const start = [10];
    const counted = (k: number) => [false, ...Array.from({ length: k }, () => true)];
    expect(trustRegionLength([...start, 9, 8, 7], counted(3), 8)).toBeCloseTo(1.6, 12);
    expect(trustRegionLength([...start, 9, 8], counted(2), 8)).toBeCloseTo(0.8, 12);
    const fails = (k: number) => Array.from({ length: k }, () => 11);
    expect(trustRegionLength([...start, ...fails(8)], counted(8), 8)).toBeCloseTo(0.4, 12);
    expect(trustRegionLength([...start, ...fails(7)], counted(7), 8)).toBeCloseTo(0.8, 12);
    expect(trustRegionLength([...start, ...fails(4)], counted(4), 2)).toBeCloseTo(0.4, 12);
    // 0.8 / 2^7 < 2^-7: back to 0.8 after the 7th halving.
    expect(trustRegionLength([...start, ...fails(56)], counted(56), 8)).toBeCloseTo(0.8, 12);
    expect(trustRegionLength([...start, ...fails(48)], counted(48), 8)).toBeCloseTo(0.8 / 64, 12);
    // Random-start trials only set the best value.
    expect(trustRegionLength([10, 9, 8, 7, 11], [false, false, false, false, true], 8)).toBeCloseTo(0.8, 12);
  });

  it("is a box around the centre with sides proportional to the lengthscales, clipped to the cube", () => {
    const lambda = Float64Array.from([1, 4, 1, 100]); // ℓ = 1, 0.5, 1, 0.1
    const mask = Uint8Array.from([1, 1, 1, 0]);
    const { lower, upper } = trustRegionBox([0.5, 0.5, 0.95, 0.3], lambda, mask, 0.4);
    const w = [1, 0.5, 1].map((l) => l / Math.cbrt(0.5));
    expect(upper[0]! - lower[0]!).toBeCloseTo(0.4 * w[0]!, 12);
    expect(upper[1]! - lower[1]!).toBeCloseTo(0.4 * w[1]!, 12);
    expect(upper[2]).toBe(1);
    expect(lower[2]).toBeCloseTo(0.95 - 0.2 * w[2]!, 12);
    expect([lower[3], upper[3]]).toEqual([0, 1]);
  });
});
