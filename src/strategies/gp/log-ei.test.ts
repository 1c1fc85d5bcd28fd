import { describe, expect, it } from "vitest";
import { normalCdf, normalPdf } from "../../math/special.js";
import { dLogH, logEi, logH } from "./log-ei.js";

describe("log EI", () => {
  it("matches the direct formula where that is accurate", () => {
    for (const z of [-3, -1.5, -1, -0.5, 0, 0.7, 2, 5]) {
      expect(logH(z)).toBeCloseTo(Math.log(z * normalCdf(z) + normalPdf(z)), 10);
    }
    expect(logEi(0, 2, 1)).toBeCloseTo(Math.log(2) + logH(0.5), 14);
  });

  it("is finite and strictly increasing far into the lower tail (where EI underflows)", () => {
    let prev = -Infinity;
    for (let z = -1e4; z <= 10; z += z < -100 ? 37.3 : 0.0173) {
      const v = logH(z);
      expect(Number.isFinite(v), `z=${z}`).toBe(true);
      expect(v, `z=${z}`).toBeGreaterThan(prev);
      prev = v;
    }
    // EI itself underflows to 0 here; its log is still usable: log h(z) ≈ log φ(z) − 2 log|z| + log(1 − 3/z²).
    expect(-60 * normalCdf(-60) + normalPdf(-60)).toBe(0);
    expect(logH(-60)).toBeCloseTo(-0.5 * 3600 - 0.5 * Math.log(2 * Math.PI) - 2 * Math.log(60) + Math.log(1 - 3 / 3600), 5);
  });

  it("is continuous at the switch points z = -1 and z = -40", () => {
    for (const z0 of [-1, -40]) expect(Math.abs(logH(z0 - 1e-9) - logH(z0 + 1e-9))).toBeLessThan(1e-7);
  });

  it("has the derivative Φ(z)/h(z), matching finite differences, also in the tail", () => {
    for (const z of [-200, -35, -8, -2, -0.3, 0, 1.5]) {
      const h = 1e-6 * Math.max(1, Math.abs(z));
      const fd = (logH(z + h) - logH(z - h)) / (2 * h);
      expect(dLogH(z) / fd).toBeCloseTo(1, 5);
    }
  });
});
