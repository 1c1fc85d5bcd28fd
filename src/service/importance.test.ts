import { describe, expect, it } from "vitest";
import { paretoFront } from "../domain/objectives.js";
import type { Direction } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import { FRONT_IMPORTANCE_METHOD, type FrontTrial, epsilonSquared, frontImportances, frontRanked, paramImportances } from "./importance.js";
import { ranks } from "../math/ranks.js";
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

  it("says when the COMPLETE trials are there but their values are not finite", () => {
    const r = paramImportances(Array.from({ length: 6 }, (_, i) => trial(i, { a: i }, i < 2 ? i : Number.NaN)));
    expect(r.note).toBe("needs at least 4 COMPLETE trials with a finite value (has 2; 4 more have a NaN, infinite or missing value)");
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

describe("frontImportances: several objectives, the importances of reaching the Pareto front", () => {
  /**
   * Trials whose front rank x alone decides: values (x + 10y, x + 10(1 − y)), so y moves a trial
   * along the front and x away from it (each objective alone is mostly y's); k matters to nothing.
   * `negate` gives the second value negated (for a maximised second objective).
   */
  function alongTheFront(n: number, seed: number, negate = false, constraint?: (p: { x: number; y: number; z: number }) => number): FrontTrial[] {
    const r = new Rng(seed, "front-importances");
    return Array.from({ length: n }, (_, i) => {
      const p = { x: r.random(), y: r.random(), z: r.random(), k: "abc"[i % 3] as string };
      const second = p.x + 10 * (1 - p.y);
      return { state: "COMPLETE", params: p, values: [p.x + 10 * p.y, negate ? -second : second], constraints: constraint ? [constraint(p)] : null };
    });
  }
  const MIN: Direction[] = ["minimize", "minimize"];
  const order = (imp: { importances: { param: string }[] }) => imp.importances.map((i) => i.param);

  it("ranks first the parameter that decides whether a trial reaches the front, though another drives each objective", () => {
    for (const seed of [1, 2, 3]) {
      const trials = alongTheFront(200, seed);
      const imp = frontImportances(MIN, trials);
      expect(imp.importances[0]?.param, `seed ${seed}`).toBe("x");
      expect(imp.importances[0]?.importance).toBeGreaterThan(0.7);
      expect(imp.method).toBe(FRONT_IMPORTANCE_METHOD);
      expect(imp.caveats[0]).toMatch(/^importances of reaching the Pareto front of the 2 objectives \(minimize, minimize\): each trial's value is its non-domination rank \(\d+ fronts; .*pass objective \(0 to 1\)/);
      expect(imp.noise).toBeUndefined();
      // Each objective alone is y's: the front's importances are not one objective's.
      const first = paramImportances(trials.map((t) => ({ state: t.state, value: (t.values as number[])[0] as number, params: t.params })));
      expect(order(first)[0]).toBe("y");
    }
  });

  it("gives rank 0 to the front's trials, ranks only COMPLETE trials with values, and needs 4 of them", () => {
    const trials = alongTheFront(60, 4);
    const ranked = frontRanked(MIN, [...trials, { state: "RUNNING", params: { x: 0 }, values: null, constraints: null }]);
    expect(ranked).toHaveLength(60);
    const front = new Set(paretoFront(MIN, trials.map((t, number) => ({ ...t, number }))).map((t) => t.number));
    expect(ranked.flatMap((t, i) => (t.value === 0 ? [i] : []))).toEqual([...front].sort((a, b) => a - b));
    // Every trial off the front has a dominating trial one rank lower.
    expect(ranked.every((t) => t.value === 0 || ranked.some((u) => u.value === (t.value as number) - 1))).toBe(true);
    const few = frontImportances(MIN, trials.slice(0, 3));
    expect(few.importances).toEqual([]);
    expect(few.note).toBe("needs at least 4 COMPLETE trials with a finite value (has 3)");
    expect(few.method).toBe(FRONT_IMPORTANCE_METHOD);
  });

  it("respects the directions: a maximised objective's larger values are the better ones", () => {
    const minimised = alongTheFront(200, 5);
    const maximised = alongTheFront(200, 5, true);
    const dirs: Direction[] = ["minimize", "maximize"];
    // The second objective negated and maximised: the same front ranks, so x first again.
    expect(frontRanked(dirs, maximised).map((t) => t.value)).toEqual(frontRanked(MIN, minimised).map((t) => t.value));
    expect(order(frontImportances(dirs, maximised))[0]).toBe("x");
    // Maximising x + 10(1 − y) as it is: both objectives then want a small y, which decides the front.
    expect(order(frontImportances(dirs, minimised))[0]).toBe("y");
  });

  it("ranks infeasible trials after every feasible one, the less violated first (constrained domination)", () => {
    // Infeasible when z > 0.6, and then the best values: a rank by values alone would put them first.
    const trials = alongTheFront(200, 6, false, (p) => (p.z > 0.6 ? p.z - 0.6 : -1)).map((t) =>
      (t.constraints?.[0] as number) > 0 ? { ...t, values: (t.values as number[]).map((v) => v - 20) } : t,
    );
    const ranked = frontRanked(MIN, trials);
    const feasible = ranked.filter((_, i) => (trials[i]?.constraints?.[0] as number) <= 0).map((t) => t.value as number);
    const infeasible = ranked.filter((_, i) => (trials[i]?.constraints?.[0] as number) > 0).map((t) => t.value as number);
    expect(feasible.length).toBeGreaterThan(50);
    expect(infeasible.length).toBeGreaterThan(50);
    expect(Math.max(...feasible)).toBeLessThan(Math.min(...infeasible));
    const byViolation = trials.map((t, i) => [t.constraints?.[0] as number, ranked[i]?.value as number]).filter(([c]) => (c as number) > 0).sort((a, b) => (a[0] as number) - (b[0] as number));
    for (let i = 1; i < byViolation.length; i++) expect(byViolation[i]?.[1]).toBeGreaterThan(byViolation[i - 1]?.[1] as number);
    // What decides feasibility now decides the most.
    expect(order(frontImportances(MIN, trials))[0]).toBe("z");
  });
});
