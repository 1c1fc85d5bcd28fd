import { describe, expect, it } from "vitest";
import { TuneportError } from "./errors.js";
import {
  checkCompleteValues,
  checkConstraints,
  checkDirections,
  constrainedDominates,
  crowdingDistances,
  dominates,
  feasibility,
  boundedHypervolumeHistory,
  frontHypervolume,
  hypervolumeHistory,
  hypervolumeOf,
  nonDominatedRanks,
  paretoFront,
  paretoFrontWithin,
  referencePointOf,
} from "./objectives.js";
import type { Direction, Trial } from "./trial.js";
import { Rng } from "../math/rng.js";

type T = Pick<Trial, "number" | "state" | "values" | "constraints">;
const t = (number: number, values: number[] | null, constraints: number[] | null = null, state: Trial["state"] = "COMPLETE"): T => ({
  number,
  state,
  values,
  constraints,
});

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TuneportError);
    return (e as TuneportError).code;
  }
  return "none";
}

describe("dominance", () => {
  it("is Pareto dominance in minimisation form", () => {
    expect(dominates([1, 2], [2, 2])).toBe(true);
    expect(dominates([1, 2], [1, 2])).toBe(false);
    expect(dominates([1, 3], [2, 2])).toBe(false);
  });

  it("constrained: feasible beats infeasible, then smaller violation, then Pareto (Deb et al. 2002, §VI)", () => {
    const feasibleBad = { values: [9, 9], violation: 0 };
    const infeasibleGood = { values: [0, 0], violation: 0.1 };
    const infeasibleWorse = { values: [0, 0], violation: 0.5 };
    expect(constrainedDominates(feasibleBad, infeasibleGood)).toBe(true);
    expect(constrainedDominates(infeasibleGood, feasibleBad)).toBe(false);
    expect(constrainedDominates(infeasibleGood, infeasibleWorse)).toBe(true);
    expect(constrainedDominates(infeasibleWorse, infeasibleGood)).toBe(false);
    expect(constrainedDominates({ values: [1, 1], violation: 0 }, { values: [1, 2], violation: 0 })).toBe(true);
  });

  it("ranks fronts by fast non-dominated sorting", () => {
    const pts = [[1, 1], [2, 2], [0, 3], [3, 3], [2, 0.5]];
    expect(nonDominatedRanks(pts, dominates)).toEqual([0, 1, 0, 2, 0]);
  });

  // Deb et al.'s definition, directly: a point's rank is one more than the highest rank of the points that dominate it.
  function referenceRanks<P>(points: readonly P[], dom: (a: P, b: P) => boolean): number[] {
    const rank = points.map(() => -1);
    for (let r = 0, left = points.length; left > 0; r++) {
      const front = points.flatMap((p, i) => (rank[i] === -1 && !points.some((q, j) => rank[j] === -1 && dom(q, p)) ? [i] : []));
      for (const i of front) rank[i] = r;
      left -= front.length;
    }
    return rank;
  }

  it("ranks exactly as the definition, with ties, duplicates and constrained domination", () => {
    for (let seed = 0; seed < 40; seed++) {
      const rng = new Rng(seed, "ranks");
      const m = 1 + (seed % 4);
      const pts = Array.from({ length: 1 + rng.int(60) }, () => ({
        values: Array.from({ length: m }, () => rng.int(5)),
        violation: rng.random() < 0.3 ? rng.int(3) : 0,
      }));
      expect(nonDominatedRanks(pts, constrainedDominates)).toEqual(referenceRanks(pts, constrainedDominates));
      const plain = pts.map((p) => p.values);
      expect(nonDominatedRanks(plain, dominates)).toEqual(referenceRanks(plain, dominates));
    }
  });

  it("stops ranking once enough points are ranked, and compares each point with one front only", () => {
    // A chain: every trial dominates the next. Deb's fast sort compared all n²/2 pairs and kept
    // n²/2 dominated indices (1.1 GB of heap at 15,000 trials); the best 10 need about 10·n comparisons.
    const n = 2000;
    const chain = Array.from({ length: n }, (_, i) => [i, i]);
    let calls = 0;
    const counted = (a: number[], b: number[]) => (calls++, dominates(a, b));
    const ranks = nonDominatedRanks(chain, counted, 10);
    expect(ranks.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(ranks.slice(10))).toEqual(new Set([10]));
    expect(calls).toBeLessThan(30 * n);
  });

  it("gives extremes infinite crowding and interior points their normalised gaps", () => {
    const d = crowdingDistances([[0, 4], [1, 2], [4, 0], [2, 1]]);
    expect(d[0]).toBe(Infinity);
    expect(d[2]).toBe(Infinity);
    // point [1,2]: x-neighbours 0 and 2 (gap 2/4), y-neighbours 1 and 4 (gap 3/4).
    expect(d[1]).toBeCloseTo(0.5 + 0.75, 12);
    expect(d[3]).toBeCloseTo((4 - 1) / 4 + (2 - 0) / 4, 12);
  });

  it("gives interior points finite distances when values reach ±Number.MAX_VALUE (∞ / ∞ was NaN), the same as for the values halved", () => {
    const M = Number.MAX_VALUE;
    const points = [[-M, M], [0, 0], [M, -M], [M / 2, -M / 4]];
    const d = crowdingDistances(points);
    expect(d[1]).toBe(0.75 + 0.625);
    expect(d[3]).toBe(0.5 + 0.5);
    expect(crowdingDistances(points.map((q) => q.map((x) => x / 4)))).toEqual(d);
  });
});

describe("Pareto front", () => {
  const dirs: Direction[] = ["minimize", "maximize"];

  it("keeps the feasible COMPLETE trials nothing dominates, with maximised objectives", () => {
    const trials = [
      t(0, [1, 1]),
      t(1, [2, 3]), // trades: worse first objective than 2, better second
      t(2, [1, 2]), // dominates 0
      t(3, [0, 0], [0.5]), // would dominate, but infeasible
      t(4, [3, 3]), // dominated by 1
      t(5, [1, 2]), // equal to 2: both stay
      t(6, [0.5, 9], null, "PRUNED"),
      t(7, [5, 5], [0, -1]), // c <= 0: feasible
    ];
    expect(paretoFront(dirs, trials).map((x) => x.number)).toEqual([1, 2, 5, 7]);
    expect(feasibility(t(3, [0, 0], [0.5]))).toBe(false);
    expect(feasibility(t(7, [5, 5], [0, -1]))).toBe(true);
    expect(feasibility(t(8, null, null, "RUNNING"))).toBeNull();
  });

  it("is every trial no other dominates, as the pairwise definition says, with ties, constraints and 1–4 objectives", () => {
    // Coarse values make ties and duplicates common; near-front points make the front large.
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const m of [1, 2, 3, 4]) {
      for (const shape of ["coarse", "near-front"] as const) {
        const dirs: Direction[] = Array.from({ length: m }, (_, k) => (k % 2 === 0 ? "minimize" : "maximize"));
        const trials = Array.from({ length: 300 }, (_, i) => {
          const x = rand();
          const values = dirs.map((d, k) => {
            const v = shape === "coarse" ? Math.floor(rand() * 6) : k === 0 ? x : (1 - x) / m + 0.01 * Math.floor(rand() * 3);
            return d === "maximize" ? -v : v;
          });
          return t(i, values, i % 7 === 0 ? [rand() - 0.5] : null, i % 11 === 0 ? "PRUNED" : "COMPLETE");
        });
        const min = (x: T) => (x.values as number[]).map((v, k) => (dirs[k] === "maximize" ? -v : v));
        for (const n of [2, 3, 5, 8, 13, 300]) {
          const some = trials.slice(0, n);
          const candidates = some.filter((x) => x.state === "COMPLETE" && feasibility(x) === true);
          const expected = candidates.filter((a) => !candidates.some((b) => b !== a && dominates(min(b), min(a)))).map((x) => x.number);
          expect(paretoFront(dirs, some).map((x) => x.number)).toEqual(expected);
          // Bounded: the same front within the limit, null past it.
          expect(paretoFrontWithin(dirs, some, expected.length)?.map((x) => x.number)).toEqual(expected);
          if (expected.length > 0) expect(paretoFrontWithin(dirs, some, expected.length - 1)).toBeNull();
          if (n === 300) expect(expected.length).toBeGreaterThan(shape === "near-front" && m > 1 ? 10 : 0);
        }
      }
    }
  });

  it("is the best trials of a one-objective study", () => {
    const front = paretoFront(["maximize"], [t(0, [1]), t(1, [3]), t(2, [3]), t(3, [9], [1])]);
    expect(front.map((x) => x.number)).toEqual([1, 2]);
  });
});

describe("reference point and hypervolume", () => {
  it("derives the nadir moved out by 10% of the front's range, in the objectives' units", () => {
    const front = [t(0, [1, 10]), t(1, [3, 30])];
    const r = referencePointOf(["minimize", "maximize"], front);
    expect(r?.source).toBe("derived");
    expect(r?.point[0]).toBeCloseTo(3.2, 12);
    expect(r?.point[1]).toBeCloseTo(8, 12);
    expect(referencePointOf(["minimize"], [t(0, [5])])?.point[0]).toBeCloseTo(5.5, 12);
    expect(referencePointOf(["minimize"], [])).toBeNull();
    expect(referencePointOf(["minimize", "minimize"], [], [1, 2])).toEqual({ point: [1, 2], source: "given" });
  });

  it("derives a finite point for values at the ends of the doubles", () => {
    const M = Number.MAX_VALUE;
    for (const [dirs, fronts] of [
      [["minimize", "maximize"], [[M, 0]]],
      [["minimize", "maximize"], [[1e308, -1e308], [-1e308, -1.5e308]]],
      [["minimize"], [[M]]],
      [["maximize", "minimize"], [[-M, -M], [M, M]]],
    ] as [Direction[], number[][]][]) {
      const front = fronts.map((v, i) => t(i, v));
      const r = referencePointOf(dirs, front);
      for (const x of r?.point ?? [Number.NaN]) expect(Number.isFinite(x), `${dirs} ${JSON.stringify(fronts)}`).toBe(true);
      // The front reads that used it threw "the reference point must be finite".
      expect(() => frontHypervolume(dirs, front, r?.point as number[])).not.toThrow();
      expect(() => hypervolumeHistory(dirs, front, r?.point as number[])).not.toThrow();
    }
  });

  it("measures maximised objectives by negation", () => {
    // max accuracy, min size: (0.9, 10) and (0.8, 5) against ref (0.5, 20).
    const hv = hypervolumeOf(["maximize", "minimize"], [t(0, [0.9, 10]), t(1, [0.8, 5])], [0.5, 20]);
    expect(hv).toBeCloseTo(0.4 * 10 + 0.3 * 5, 12);
  });

  it("records the history only when the hypervolume changes, never decreasing", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    const trials = [t(0, [3, 3]), t(1, [4, 4]), t(2, [1, 3]), t(3, [0, 0], [1]), t(4, [3, 1]), t(5, [2, 2])];
    const h = hypervolumeHistory(dirs, trials, [5, 5]);
    expect(h.map(([n]) => n)).toEqual([0, 2, 4, 5]);
    expect(h.map(([, v]) => v)).toEqual([4, 8, 12, 13]);
  });

  it("bounds a many-objective history's work: past it the whole history is one growing estimate", () => {
    const dirs: Direction[] = ["minimize", "minimize", "maximize", "minimize"];
    const rng = new Rng(3);
    // Points on a sphere's orthant (the third objective maximised): every one enters the front.
    const trials = Array.from({ length: 14 }, (_, i) => {
      const v = [0, 1, 2, 3].map(() => Math.abs(rng.normal()) + 1e-9);
      const n = Math.hypot(...v);
      return t(i, v.map((x, k) => (k === 2 ? -x / n : x / n)));
    });
    const ref = [1.1, 1.1, -1.1, 1.1];
    const exact = boundedHypervolumeHistory(dirs, trials, ref);
    expect(exact.exact).toBe(true);
    expect(exact.points).toEqual(hypervolumeHistory(dirs, trials, ref));
    const est = boundedHypervolumeHistory(dirs, trials, ref, 0);
    expect(est.exact).toBe(false);
    expect(est.points.map(([n]) => n)).toEqual(exact.points.map(([n]) => n).slice(0, est.points.length));
    for (let i = 1; i < est.points.length; i++) expect(est.points[i]![1]).toBeGreaterThan(est.points[i - 1]![1]);
    const last = (h: [number, number][]) => h[h.length - 1]![1];
    expect(Math.abs(last(est.points) - last(exact.points)) / last(exact.points)).toBeLessThan(0.04);
    // The front's own value estimates the same way: frontHypervolume with the default bound is exact here.
    expect(frontHypervolume(dirs, trials, ref)).toEqual({ value: last(exact.points), exact: true });
  });
});

describe("input checks (typed errors)", () => {
  it("directions", () => {
    expect(checkDirections(undefined, undefined)).toEqual(["minimize"]);
    expect(checkDirections(undefined, "maximize")).toEqual(["maximize"]);
    expect(checkDirections(["minimize", "maximize"], undefined)).toEqual(["minimize", "maximize"]);
    expect(code(() => checkDirections(["minimize", "maximize"], "minimize"))).toBe("INVALID_ARGUMENT");
    expect(code(() => checkDirections([], undefined))).toBe("INVALID_ARGUMENT");
  });

  it("values: count, NaN, infinity, value/values disagreeing", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    expect(checkCompleteValues(dirs, undefined, [1, 2])).toEqual([1, 2]);
    expect(checkCompleteValues(["minimize"], 3, undefined)).toEqual([3]);
    expect(checkCompleteValues(["minimize"], 3, [3])).toEqual([3]);
    expect(code(() => checkCompleteValues(dirs, undefined, [1]))).toBe("INVALID_ARGUMENT");
    expect(code(() => checkCompleteValues(dirs, 1, undefined))).toBe("INVALID_ARGUMENT");
    expect(code(() => checkCompleteValues(dirs, undefined, [1, Number.NaN]))).toBe("INVALID_ARGUMENT");
    expect(code(() => checkCompleteValues(dirs, undefined, [1, Number.POSITIVE_INFINITY]))).toBe("INVALID_ARGUMENT");
    expect(code(() => checkCompleteValues(["minimize"], 2, [3]))).toBe("INVALID_ARGUMENT");
    expect(code(() => checkCompleteValues(dirs, undefined, undefined))).toBe("INVALID_ARGUMENT");
  });

  it("constraints: the first COMPLETE trial fixes the count", () => {
    expect(checkConstraints(undefined, null)).toBeNull();
    expect(checkConstraints([], 0)).toBeNull();
    expect(checkConstraints([0.1, -2], null)).toEqual([0.1, -2]);
    expect(checkConstraints([0.1, -2], 2)).toEqual([0.1, -2]);
    expect(code(() => checkConstraints([0.1], 2))).toBe("INVALID_ARGUMENT");
    expect(code(() => checkConstraints(undefined, 1))).toBe("INVALID_ARGUMENT");
    expect(code(() => checkConstraints([1], 0))).toBe("INVALID_ARGUMENT");
    expect(code(() => checkConstraints([Number.NaN], null))).toBe("INVALID_ARGUMENT");
    expect(code(() => checkConstraints([Number.POSITIVE_INFINITY], null))).toBe("INVALID_ARGUMENT");
  });
});
