import { describe, expect, it } from "vitest";
import { maxOf, minOf } from "./extremes.js";

describe("maxOf and minOf", () => {
  it("take any number of values (Math.max(...xs) throws RangeError past about 120,000)", () => {
    const xs = Array.from({ length: 500_000 }, (_, i) => (i * 7919) % 500_000);
    expect(() => Math.max(...xs)).toThrow(RangeError);
    expect(maxOf(xs)).toBe(499_999);
    expect(minOf(xs)).toBe(0);
    expect(maxOf(new Set([3, 9, 1]).values())).toBe(9);
  });

  it("give Math.max's and Math.min's answers: NaN wins, ±Infinity for none, signed zeros", () => {
    for (const xs of [[], [NaN, 1], [1, NaN], [-0, 0], [0, -0], [-Infinity], [2, 5, -3]]) {
      expect(Object.is(maxOf(xs), Math.max(...xs)), JSON.stringify(xs)).toBe(true);
      expect(Object.is(minOf(xs), Math.min(...xs)), JSON.stringify(xs)).toBe(true);
    }
  });
});
