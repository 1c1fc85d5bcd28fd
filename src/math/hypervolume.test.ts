import { describe, expect, it } from "vitest";
import { DominatedSampler, boundedHypervolume, hypervolume, nonDominated } from "./hypervolume.js";
import { Rng } from "./rng.js";

/**
 * Exact hypervolume by brute force, independent of the sweeps and WFG: compress the coordinates
 * of every point and the reference point into grid lines per axis; each grid cell is either fully
 * dominated or not at all, decided by its lower corner. O((n+1)^d · n · d).
 */
function bruteForce(points: readonly (readonly number[])[], ref: readonly number[]): number {
  const d = ref.length;
  const axes = ref.map((r, k) => [...new Set([...points.map((p) => p[k] as number).filter((x) => x < r), r])].sort((a, b) => a - b));
  let total = 0;
  const idx = new Array<number>(d).fill(0);
  for (;;) {
    let inBounds = true;
    for (let k = 0; k < d; k++) if ((idx[k] as number) + 1 >= (axes[k] as number[]).length) inBounds = false;
    if (inBounds) {
      const lo = idx.map((i, k) => (axes[k] as number[])[i] as number);
      if (points.some((p) => p.every((x, k) => x <= (lo[k] as number)))) {
        let vol = 1;
        for (let k = 0; k < d; k++) vol *= ((axes[k] as number[])[(idx[k] as number) + 1] as number) - (lo[k] as number);
        total += vol;
      }
    }
    let k = 0;
    while (k < d) {
      idx[k]!++;
      if ((idx[k] as number) < (axes[k] as number[]).length) break;
      idx[k] = 0;
      k++;
    }
    if (k === d) return total;
  }
}

/** n random points in [0,1]^d, a share of them on a curved front so that many are non-dominated. */
function randomPoints(rng: Rng, n: number, d: number, onFront: boolean): number[][] {
  return Array.from({ length: n }, () => {
    const x = Array.from({ length: d }, () => rng.uniform(0, 1));
    if (!onFront) return x;
    const norm = Math.sqrt(x.reduce((a, b) => a + b * b, 0)) || 1;
    return x.map((v) => v / norm); // on the unit sphere's positive part: mutually non-dominated
  });
}

describe("hypervolume", () => {
  it("knows small cases by hand", () => {
    expect(hypervolume([], [1, 1])).toBe(0);
    expect(hypervolume([[0.5]], [2])).toBe(1.5);
    expect(hypervolume([[0, 0]], [1, 1])).toBe(1);
    // Two boxes of 2x1 and 1x2 overlapping in a 1x1 square: 2 + 2 - 1.
    expect(hypervolume([[0, 1], [1, 0]], [2, 2])).toBe(3);
    // A point on or beyond the reference adds nothing.
    expect(hypervolume([[0, 1], [1, 0], [2, 0], [0.5, 3]], [2, 2])).toBe(3);
    // Unit cube minus what no point dominates: [0,1]^3 by (0,0,0).
    expect(hypervolume([[0, 0, 0], [0.5, 0.5, 0.5]], [1, 1, 1])).toBe(1);
    expect(hypervolume([[0, 0, 0, 0]], [2, 1, 1, 3])).toBe(6);
  });

  it.each([
    [2, 40],
    [3, 25],
    [4, 10],
    [5, 7],
  ])("equals the brute-force grid volume in %i-D on random and front-shaped sets (n up to %i)", (d, n) => {
    const rng = new Rng(1000 + d);
    for (let rep = 0; rep < 12; rep++) {
      const pts = randomPoints(rng, 1 + Math.floor(rng.uniform(0, n)), d, rep % 2 === 0);
      const ref = Array.from({ length: d }, () => rng.uniform(0.8, 1.3));
      const want = bruteForce(pts, ref);
      expect(hypervolume(pts, ref)).toBeCloseTo(want, 10);
    }
  });

  it("handles duplicates, ties in a coordinate and dominated points", () => {
    const pts = [
      [0.2, 0.5, 0.3],
      [0.2, 0.5, 0.3],
      [0.2, 0.4, 0.6],
      [0.3, 0.5, 0.3],
      [0.1, 0.9, 0.9],
      [0.2, 0.2, 0.9],
    ];
    expect(hypervolume(pts, [1, 1, 1])).toBeCloseTo(bruteForce(pts, [1, 1, 1]), 12);
    expect(hypervolume(pts.map((p) => p.slice(0, 2)), [1, 1])).toBeCloseTo(bruteForce(pts.map((p) => p.slice(0, 2)), [1, 1]), 12);
  });

  it("refuses mismatched lengths and non-finite input", () => {
    expect(() => hypervolume([[0, 0]], [1, 1, 1])).toThrow(/coordinates/);
    expect(() => hypervolume([[0, Number.NaN]], [1, 1])).toThrow(/finite/);
    expect(() => hypervolume([[0, 0]], [1, Number.POSITIVE_INFINITY])).toThrow(/finite/);
    expect(() => hypervolume([], [])).toThrow(/at least one/);
  });

  it("does not modify its arguments", () => {
    const pts = [[0.3, 0.1], [0.1, 0.3]];
    const ref = [1, 1];
    hypervolume(pts, ref);
    expect(pts).toEqual([[0.3, 0.1], [0.1, 0.3]]);
    expect(ref).toEqual([1, 1]);
  });
});

describe("nonDominated", () => {
  it("keeps the non-dominated points and one of equal ones", () => {
    expect(nonDominated([[1, 2], [2, 1], [2, 2], [1, 2], [3, 0]])).toEqual([[1, 2], [2, 1], [3, 0]]);
  });
});

/** `n` points on the positive orthant of the unit sphere in `d` dimensions: all mutually non-dominated. */
function sphereFront(n: number, d: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const v = Array.from({ length: d }, () => Math.abs(rng.normal()) + 1e-9);
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

describe("boundedHypervolume", () => {
  it("is exact (and equal to hypervolume) within its work bound, in every dimension", () => {
    for (const [n, d] of [[40, 2], [40, 3], [12, 4], [8, 6]] as const) {
      const ps = sphereFront(n, d, n + d);
      const ref = new Array<number>(d).fill(1.1);
      expect(boundedHypervolume(ps, ref)).toEqual({ value: hypervolume(ps, ref), exact: true });
    }
    // 2 and 3 objectives never estimate: their sweeps are polynomial.
    expect(boundedHypervolume(sphereFront(300, 3, 1), [1.1, 1.1, 1.1], 0).exact).toBe(true);
  });

  it("past its work bound estimates within a few per cent, the same value every time", () => {
    for (const seed of [1, 2, 3]) {
      const ps = sphereFront(14, 5, seed);
      const ref = [1.1, 1.1, 1.1, 1.1, 1.1];
      const exact = hypervolume(ps, ref);
      const est = boundedHypervolume(ps, ref, 0);
      expect(est.exact).toBe(false);
      expect(Math.abs(est.value - exact) / exact).toBeLessThan(0.04); // ~5 standard errors at 20,000 samples
      expect(boundedHypervolume(ps, ref, 0)).toEqual(est);
    }
  });

  it("gives a many-objective front a bounded answer instead of an exponential computation", () => {
    // 60 points on a ten-objective front: exact WFG took 6 s on a request path (the test's timeout catches a hang).
    const r = boundedHypervolume(sphereFront(60, 10, 7), new Array<number>(10).fill(1.1));
    expect(r.exact).toBe(false);
    expect(r.value).toBeGreaterThan(0);
    expect(r.value).toBeLessThan(1.1 ** 10);
  });

  it("shares one budget across calls: a spent budget estimates at once", () => {
    const ps = sphereFront(10, 4, 5);
    const ref = [1.1, 1.1, 1.1, 1.1];
    const work = { left: 1_000_000 };
    expect(boundedHypervolume(ps, ref, work).exact).toBe(true);
    expect(work.left).toBeLessThan(1_000_000);
    expect(boundedHypervolume(ps, ref, { left: 0 }).exact).toBe(false);
  });
});

describe("DominatedSampler", () => {
  it("only grows as points are added, and ends at the one-shot estimate", () => {
    const ps = sphereFront(12, 4, 11);
    const ref = [1.1, 1.1, 1.1, 1.1];
    const s = new DominatedSampler(ps, ref);
    let last = 0;
    for (const p of ps) {
      s.add(p);
      expect(s.value()).toBeGreaterThanOrEqual(last);
      last = s.value();
    }
    expect(last).toBe(boundedHypervolume(ps, ref, 0).value);
    expect(Math.abs(last - hypervolume(ps, ref)) / hypervolume(ps, ref)).toBeLessThan(0.04);
  });
});
