import { describe, expect, it } from "vitest";
import { Rng } from "./rng.js";

const stream = (r: Rng, n = 8) => Array.from({ length: n }, () => r.nextUint32());

describe("Rng", () => {
  it("is reproducible", () => {
    expect(stream(new Rng(42, 3, "suggest"))).toEqual(stream(new Rng(42, 3, "suggest")));
  });

  it("gives unrelated streams for neighbouring seeds and parts", () => {
    const seen = new Set<string>();
    for (let seed = 1000; seed < 1010; seed++)
      for (let n = 0; n < 10; n++) seen.add(JSON.stringify(stream(new Rng(seed, n, "x"), 2)));
    expect(seen.size).toBe(100);
    expect(stream(new Rng(1, 2, 3))).not.toEqual(stream(new Rng(1, 3, 2)));
  });

  it("draws uniforms in [0, 1) with the right mean and normals with the right moments", () => {
    const r = new Rng(7);
    let s = 0;
    let s2 = 0;
    let m = 0;
    let lo = 1;
    let hi = 0;
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const u = r.random();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      m += u;
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(m / n).toBeCloseTo(0.5, 2);
    expect(s / n).toBeCloseTo(0, 1);
    expect(s2 / n).toBeCloseTo(1, 1);
  });
});
