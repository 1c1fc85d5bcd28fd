import { describe, expect, it } from "vitest";
import { Rng } from "../math/rng.js";
import { epsilonSquared, paramImportances, ranks } from "./importance.js";
import type { TrialView } from "./views.js";

function trial(number: number, params: Record<string, number | string>, value: number | null, state: TrialView["state"] = "COMPLETE"): TrialView {
  return {
    number, state, params, distributions: {}, value, values: value === null ? null : [value], constraints: null, feasible: state === "COMPLETE" ? true : null, intermediate: [], user_attrs: {}, system_attrs: {},
    created_at: 0, started_at: 0, finished_at: 1, duration_s: 1,
  };
}

describe("paramImportances", () => {
  it("needs a few complete trials and says so", () => {
    const r = paramImportances([trial(0, { a: 1 }, 1), trial(1, { a: 2 }, 2, "FAIL")]);
    expect(r.importances).toEqual([]);
    expect(r.note).toMatch(/at least 4/);
  });

  it("ranks the parameter that drives the objective first, over several seeds", () => {
    let wins = 0;
    for (let seed = 0; seed < 10; seed++) {
      const rng = new Rng(seed);
      const trials = Array.from({ length: 40 }, (_, i) => {
        const p = { x: rng.uniform(-5, 5), noise: rng.uniform(0, 1), c: rng.uniform(0, 1) < 0.5 ? "a" : "b" };
        return trial(i, p, p.x * p.x + 0.1 * rng.uniform(0, 1));
      });
      const r = paramImportances(trials);
      expect(r.importances.reduce((a, b) => a + b.importance, 0)).toBeCloseTo(1, 10);
      if (r.importances[0]?.param === "x" && (r.importances[0]?.importance ?? 0) > 0.6) wins++;
    }
    expect(wins).toBeGreaterThanOrEqual(9);
  });

  it("says when it rests on few complete trials or on a conditional parameter, and not otherwise", () => {
    const few = Array.from({ length: 13 }, (_, i) => trial(i, { x: i, ...(i % 2 ? { y: i } : {}) }, i));
    const pending = Array.from({ length: 37 }, (_, i) => ({ ...trial(13 + i, { x: 0 }, 0), state: "RUNNING" as const, value: null }));
    const r = paramImportances([...few, ...pending]);
    expect(r.caveats).toEqual([
      "rests on only 13 complete trials (of 50): a hint, not a finding",
      "'y' is conditional (set in 6 of 13 complete trials): its share compares those only",
    ]);
    const many = Array.from({ length: 40 }, (_, i) => trial(i, { x: i }, i));
    expect(paramImportances(many).caveats).toEqual([]);
  });

  it("sees a categorical effect", () => {
    const trials = Array.from({ length: 20 }, (_, i) => trial(i, { c: i % 2 ? "good" : "bad", u: (i * 7) % 11 }, i % 2 ? 0 : 1));
    expect(paramImportances(trials).importances[0]?.param).toBe("c");
  });
});

describe("helpers", () => {
  it("ranks ties by their average", () => expect(ranks([3, 1, 3, 2])).toEqual([3.5, 1, 3.5, 2]));
  it("epsilon-squared is 1 for a perfect split and ~0 without groups", () => {
    expect(epsilonSquared([1, 1, 5, 5], [0, 0, 1, 1])).toBe(1);
    expect(epsilonSquared([1, 2, 3, 4], [0, 0, 0, 0])).toBe(0);
  });
});
