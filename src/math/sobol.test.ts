import { describe, expect, it } from "vitest";
import { SOBOL_MAX_DIM, SobolEngine, sobolPoint } from "./sobol.js";

describe("Sobol sequence", () => {
  it("matches the published unscrambled points (first 8, 4 dims)", () => {
    // scipy.stats.qmc.Sobol(d=4, scramble=False).random(8), Joe–Kuo new-joe-kuo-6.21201.
    const expected = [
      [0, 0, 0, 0],
      [0.5, 0.5, 0.5, 0.5],
      [0.75, 0.25, 0.25, 0.25],
      [0.25, 0.75, 0.75, 0.75],
      [0.375, 0.375, 0.625, 0.875],
      [0.875, 0.875, 0.125, 0.375],
      [0.625, 0.125, 0.875, 0.625],
      [0.125, 0.625, 0.375, 0.125],
    ];
    const e = new SobolEngine(4, { scramble: false });
    expected.forEach((row, i) => expect(Array.from(e.point(i))).toEqual(row));
  });

  it("matches SciPy deep in the table (dimension 1024, indices 1000 and 123456)", () => {
    // scipy.stats.qmc.Sobol(d=1024, scramble=False, bits=32) after fast_forward(i).
    const e = new SobolEngine(1024, { scramble: false });
    const dims = [0, 1, 5, 20, 99, 500, 1023];
    const at1000 = [0.2197265625, 0.0966796875, 0.9072265625, 0.5224609375, 0.1865234375, 0.7255859375, 0.7138671875];
    const at123456 = [
      0.02649688720703125, 0.18274688720703125, 0.20325469970703125, 0.11809539794921875, 0.9257736206054688,
      0.20032501220703125, 0.44696807861328125,
    ];
    const p = e.point(1000);
    const q = e.point(123456);
    dims.forEach((j, k) => {
      expect(p[j]).toBe(at1000[k]);
      expect(q[j]).toBe(at123456[k]);
    });
    expect(SOBOL_MAX_DIM).toBe(1024);
  });

  it("refuses dimensions and indices out of range", () => {
    expect(() => new SobolEngine(0)).toThrow(RangeError);
    expect(() => new SobolEngine(SOBOL_MAX_DIM + 1)).toThrow(RangeError);
    expect(() => new SobolEngine(2).point(-1)).toThrow(RangeError);
    expect(() => new SobolEngine(2).point(2 ** 32)).toThrow(RangeError);
  });

  for (const scramble of [false, true]) {
    it(`every 2^k prefix stratifies each dimension (scramble=${scramble})`, () => {
      const d = 21;
      const e = new SobolEngine(d, { scramble, seed: 11 });
      const pts = e.points(256);
      for (let k = 1; k <= 8; k++) {
        const n = 2 ** k;
        for (let j = 0; j < d; j++) {
          const cells = new Set(pts.slice(0, n).map((p) => Math.floor((p[j] as number) * n)));
          expect(cells.size, `k=${k} dim=${j}`).toBe(n);
        }
      }
    });

    it(`2-D projections of the first 256 points are (t,m,s)-nets with small t (scramble=${scramble})`, () => {
      // Dims 1 and 2 form a (0, m, 2)-net: every 16×16 elementary box of area 1/256 holds one point.
      const e = new SobolEngine(3, { scramble, seed: 5 });
      const boxes = new Set(e.points(256).map((p) => `${Math.floor((p[0] as number) * 16)},${Math.floor((p[1] as number) * 16)}`));
      expect(boxes.size).toBe(256);
    });
  }

  it("scrambled points are uniform: each point's coordinate over seeds passes a KS test", () => {
    for (const index of [0, 1, 7]) {
      const us = Array.from({ length: 400 }, (_, s) => sobolPoint(index, 3, 1000 + s, true)[2] as number).sort((a, b) => a - b);
      let dmax = 0;
      us.forEach((u, i) => (dmax = Math.max(dmax, Math.abs(u - (i + 1) / us.length), Math.abs(u - i / us.length))));
      expect(dmax).toBeLessThan(1.95 / Math.sqrt(us.length));
    }
  });

  it("scrambling depends on the seed and is reproducible; leading dimensions do not depend on d", () => {
    const a = sobolPoint(5, 4, 1);
    expect(Array.from(sobolPoint(5, 4, 1))).toEqual(Array.from(a));
    expect(Array.from(sobolPoint(5, 4, 2))).not.toEqual(Array.from(a));
    expect(Array.from(sobolPoint(5, 2, 1))).toEqual(Array.from(a.slice(0, 2)));
    expect(Array.from(sobolPoint(5, 4, 1, false))).toEqual(Array.from(sobolPoint(5, 4, 2, false)));
  });

  it("integrates a smooth function better than the Monte Carlo error scale", () => {
    // ∫ Π_j (1 + (x_j − 0.5)) dx = 1 over [0,1]^5; QMC error at n = 1024 is far below 1/sqrt(n).
    const e = new SobolEngine(5, { seed: 3 });
    let s = 0;
    for (let i = 0; i < 1024; i++) {
      const p = e.point(i);
      let f = 1;
      for (let j = 0; j < 5; j++) f *= 1 + ((p[j] as number) - 0.5);
      s += f;
    }
    expect(Math.abs(s / 1024 - 1)).toBeLessThan(0.002);
  });
});
