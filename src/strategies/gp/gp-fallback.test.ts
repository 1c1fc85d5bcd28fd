import { describe, expect, it, vi } from "vitest";
import { contains } from "../../domain/distributions.js";
import { Rng } from "../../math/rng.js";
import { branin } from "../../testing/benchmark-functions.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";

// Every factorisation fails: the strategy must fall back to a valid random point.
vi.mock("../../math/linalg.js", async (importOriginal) => {
  const mod = await importOriginal<typeof import("../../math/linalg.js")>();
  return {
    ...mod,
    cholesky: () => {
      throw new mod.NumericalError("injected failure");
    },
  };
});

const { gpStrategyFactory } = await import("./gp-strategy.js");

describe("gp strategy numerical fallback", () => {
  it("returns a valid uniform point (no NaN, no throw) when the kernel cannot be factored", () => {
    const space = branin.space;
    const study = makeStudy(space);
    const trials = Array.from({ length: 15 }, (_, i) => {
      const p = { x0: -5 + i, x1: i };
      return makeTrial(i, p, space, { value: branin.evaluate(p) });
    });
    const xs = new Set<number>();
    for (let k = 0; k < 5; k++) {
      const strategy = gpStrategyFactory.create(gpStrategyFactory.options.parse({}));
      const s = strategy.suggest({ ...suggestRequest(study, trials), rng: new Rng(k) });
      expect(contains(space.x0!, s.params.x0!)).toBe(true);
      expect(contains(space.x1!, s.params.x1!)).toBe(true);
      expect(s.systemAttrs?.gp_theta).toBeUndefined();
      xs.add(s.params.x0 as number);
    }
    expect(xs.size).toBe(5);
  });
});
