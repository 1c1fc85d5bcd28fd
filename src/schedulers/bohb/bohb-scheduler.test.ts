import { describe, expect, it } from "vitest";
import type { SearchSpace } from "../../domain/distributions.js";
import type { Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { makeStudy, makeTrial } from "../../testing/fixtures.js";
import { schedulerConformance } from "../../testing/scheduler.case.js";
import { BOHB_MAX_KERNEL_TERMS, BohbScheduler, bohbSchedulerFactory, candidateCount } from "./bohb-scheduler.js";
import { ProductKde } from "./kde.js";

schedulerConformance(bohbSchedulerFactory, { options: { max_resource: 27 }, warmupSteps: 1 });

const space: SearchSpace = {
  u: { type: "float", low: 0, high: 1 },
  lr: { type: "float", low: 1e-4, high: 1, log: true },
  c: { type: "categorical", choices: ["a", "b", "c"] },
};
const make = (o: Record<string, unknown>) => new BohbScheduler(bohbSchedulerFactory.options.parse(o));

/** n trials with reports at steps 1 and 3; loss = |u − 0.2| (+0.5 unless c = "b"). */
function history(n: number, upTo: number, seed = 1): Trial[] {
  const rng = new Rng(seed, "bohb-history");
  return Array.from({ length: n }, (_, i) => {
    const p = { u: rng.random(), lr: 10 ** (-4 * rng.random()), c: ["a", "b", "c"][rng.int(3)] as string };
    const loss = Math.abs(p.u - 0.2) + (p.c === "b" ? 0 : 0.5);
    const iv = [1, 3, 9].filter((s) => s <= upTo).map((step) => ({ step, value: loss + 1 / step }));
    return makeTrial(i, p, space, { state: "RUNNING", value: null, intermediate: iv });
  });
}

describe("bohb", () => {
  it("refuses strategies whose choices it would override, and says why", () => {
    const o = bohbSchedulerFactory.options.parse({ max_resource: 9 });
    expect(bohbSchedulerFactory.incompatibleWith!({ name: "random", options: {} }, o)).toBeNull();
    expect(bohbSchedulerFactory.incompatibleWith!({ name: "grid", options: {} }, o)).toMatch(/density model.*grid/);
    expect(bohbSchedulerFactory.incompatibleWith!({ name: "tpe", options: {} }, o)).toMatch(/ignored/);
    expect(bohbSchedulerFactory.options.safeParse({}).success).toBe(false); // max_resource is required
  });

  it("fits the model of the largest budget with more than d points in each of good and bad", () => {
    const s = make({ max_resource: 27 });
    // d = 3 → N_min = 4: good = max(4, ⌊0.15 n⌋), bad = next max(4, ⌊0.85 n⌋); needs n ≥ 8.
    expect(s.fit(space, "minimize", history(7, 9))).toBeNull();
    expect(s.fit(space, "minimize", history(8, 1))?.budget).toBe(1);
    const mixed = [...history(20, 1), ...history(8, 3, 2).map((t) => ({ ...t, number: t.number + 20 }))];
    expect(s.fit(space, "minimize", mixed)?.budget).toBe(3);
    expect(s.fit(space, "minimize", history(30, 9))?.good.points).toHaveLength(4);
  });

  it("proposes near the good region (ρ = 0): u close to 0.2 and c = 'b' most of the time", () => {
    const s = make({ max_resource: 27, random_fraction: 0 });
    const study = makeStudy(space);
    const trials = history(60, 3);
    const us: number[] = [];
    let bs = 0;
    for (let k = 0; k < 40; k++) {
      const sug = s.beforeSuggest({ study, trials, trialNumber: 60 + k, rng: new Rng(k) });
      expect(sug.systemAttrs).toMatchObject({ bohb: "model", bohb_budget: 3, budget: 27 });
      us.push(sug.params.u as number);
      if (sug.params.c === "b") bs++;
    }
    const median = [...us].sort((a, b) => a - b)[20] as number;
    expect(Math.abs(median - 0.2)).toBeLessThan(0.2); // uniform draws would give a median near 0.5
    expect(bs).toBeGreaterThanOrEqual(30);
  });

  it("draws uniformly about a third of the time, and always without a model", () => {
    const s = make({ max_resource: 27 });
    const study = makeStudy(space);
    const trials = history(60, 3);
    let random = 0;
    for (let k = 0; k < 300; k++) if (s.beforeSuggest({ study, trials, trialNumber: 60, rng: new Rng(k) }).systemAttrs?.bohb === "random") random++;
    expect(random).toBeGreaterThan(70);
    expect(random).toBeLessThan(130);
    expect(s.beforeSuggest({ study, trials: [], trialNumber: 0, rng: new Rng(1) }).systemAttrs?.bohb).toBe("random");
  });
});

describe("bohb proposal work", () => {
  it("draws at most BOHB_MAX_KERNEL_TERMS / (model points · d) candidates: num_samples 10,000 at 50 parameters held the event loop seconds", () => {
    const wide: SearchSpace = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`p${i}`, { type: "float", low: 0, high: 1 }]));
    const rng = new Rng(3, "bohb-wide");
    const trials = Array.from({ length: 400 }, (_, i) => {
      const p = Object.fromEntries(Object.keys(wide).map((k) => [k, rng.random()]));
      return makeTrial(i, p, wide, { state: "COMPLETE", value: rng.random(), intermediate: [{ step: 1, value: rng.random() }] });
    });
    const s = make({ max_resource: 1, num_samples: 10_000, random_fraction: 0 });
    const model = s.fit(wide, "minimize", trials);
    expect(model).not.toBeNull();
    let draws = 0;
    const sample = model!.good.sample.bind(model!.good);
    model!.good.sample = (r, f) => (draws++, sample(r, f));
    s.propose(model!, new Rng(5));
    const points = model!.good.points.length + model!.bad.points.length;
    expect(draws).toBe(Math.floor(BOHB_MAX_KERNEL_TERMS / (points * 50)));
    expect(draws).toBeLessThan(10_000);
  });

  it("keeps num_samples on a small model, and one candidate at least on any", () => {
    expect(candidateCount(64, 100, 5)).toBe(64);
    expect(candidateCount(10_000, 10, 2)).toBe(10_000);
    expect(candidateCount(64, 1e6, 1e3)).toBe(1);
  });
});

describe("bohb kde", () => {
  it("is a density: integrates to 1 over a numeric and a categorical dimension", () => {
    const kde = new ProductKde([[0.1, 0], [0.5, 2], [0.55, 2]], [{ kind: "numeric" }, { kind: "categorical", size: 3 }]);
    let total = 0;
    const h = 0.001;
    for (let c = 0; c < 3; c++) for (let x = -3; x <= 4; x += h) total += Math.exp(kde.logPdf([x, c])) * h;
    expect(total).toBeCloseTo(1, 3);
  });

  it("samples stay in the unit cube and on valid categories", () => {
    const kde = new ProductKde([[0.99, 1], [0.01, 0]], [{ kind: "numeric" }, { kind: "categorical", size: 2 }]);
    const rng = new Rng(4);
    for (let i = 0; i < 500; i++) {
      const [x, c] = kde.sample(rng, 3);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(1);
      expect([0, 1]).toContain(c);
    }
  });
});
