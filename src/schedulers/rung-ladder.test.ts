import { describe, expect, it } from "vitest";
import { rungResource, rungResources, rungsWithTop } from "./common.js";

describe("the shared rung table (schedulers/common.ts)", () => {
  it("places rung k at min·η^(s+k) exactly, strictly below the limit", () => {
    expect(rungResources(1, 3, 0, 81)).toEqual([1, 3, 9, 27]);
    expect(rungResources(1, 3, 0, 82)).toEqual([1, 3, 9, 27, 81]);
    expect(rungResources(1, 3, 1, 81)).toEqual([3, 9, 27]);
    expect(rungResources(2, 2, 1, 64)).toEqual([4, 8, 16, 32]);
    expect(rungResources(0.1, 3, 0, 1)).toEqual([0.1, 0.1 * 3, 0.1 * 3 * 3]);
    expect(rungResources(5, 3, 0, 5)).toEqual([]);
  });

  it("gives one answer whichever helper asks (successive halving, ASHA, BOHB)", () => {
    const ladder = { minResource: 1, eta: 4, rate: 1, maxResource: 100 };
    const rungs = rungResources(1, 4, 1, 100);
    rungs.forEach((r, k) => expect(rungResource(ladder, k)).toBe(r));
    expect(rungResource(ladder, rungs.length)).toBeGreaterThanOrEqual(100);
    expect(rungsWithTop(ladder)).toEqual([...rungs, 100]);
    expect(rungsWithTop({ minResource: 1, eta: 3, rate: 0, maxResource: 27 })).toEqual([1, 3, 9, 27]);
  });
});
