import { describe, expect, it } from "vitest";
import { erf, erfc, logNormalCdf, normalCdf, normalPpf } from "./special.js";

describe("special functions", () => {
  it("erf matches reference values", () => {
    // Values from Abramowitz & Stegun table 7.1.
    expect(erf(0.5)).toBeCloseTo(0.5204998778, 9);
    expect(erf(1)).toBeCloseTo(0.8427007929, 9);
    expect(erf(2)).toBeCloseTo(0.9953222650, 9);
    expect(erfc(5) / 1.5374597944e-12).toBeCloseTo(1, 6);
  });

  it("normalCdf and normalPpf invert each other", () => {
    for (const p of [1e-10, 1e-4, 0.025, 0.3, 0.5, 0.9, 0.999999]) {
      expect(normalCdf(normalPpf(p)) / p).toBeCloseTo(1, 8);
    }
    expect(normalPpf(0.975)).toBeCloseTo(1.959963985, 8);
  });

  it("logNormalCdf stays finite and accurate deep in the lower tail", () => {
    expect(logNormalCdf(-4)).toBeCloseTo(Math.log(3.167124183e-5), 6);
    // Φ(-10) = 7.619853024e-24
    expect(logNormalCdf(-10)).toBeCloseTo(Math.log(7.619853024e-24), 4);
    expect(Number.isFinite(logNormalCdf(-40))).toBe(true);
    expect(logNormalCdf(-40)).toBeLessThan(logNormalCdf(-39));
    // continuity at the switch point
    expect(Math.abs(logNormalCdf(-5.0000001) - logNormalCdf(-4.9999999))).toBeLessThan(1e-5);
  });
});
