/**
 * The constraint-aware GP (gp-constraints.ts: EI × probability of feasibility, Gardner et al.
 * 2014) against the same GP told no constraints, on a problem whose constraint cuts off the
 * unconstrained optimum. Seeded; statistical over several seeds.
 */
import { describe, expect, it } from "vitest";
import type { Params, SearchSpace } from "../../domain/distributions.js";
import type { Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { CONSTRAINT_THETA_ATTR, constraintColumns, dLogPof, logPof } from "./gp-constraints.js";
import { gpStrategyFactory } from "./gp-strategy.js";
import { THETA_LAYOUT_ATTR, modelledDims, thetaLayout } from "./gp-dims.js";

const space: SearchSpace = { x0: { type: "float", low: 0, high: 1 }, x1: { type: "float", low: 0, high: 1 } };
const xs = (p: Params) => [p.x0 as number, p.x1 as number];

/**
 * Minimise (x0 − 0.8)² + (x1 − 0.8)² subject to x0 + x1 − 1 ≤ 0: the unconstrained optimum
 * (0.8, 0.8) is infeasible; the constrained one is (0.5, 0.5) with value 0.18.
 */
function cutBowl(p: Params): { value: number; constraints: number[] } {
  const [a, b] = xs(p);
  return { value: (a! - 0.8) ** 2 + (b! - 0.8) ** 2, constraints: [a! + b! - 1] };
}

/** Best feasible value and number of feasible trials of a GP run; `tell` says whether it sees the constraints. */
function run(seed: number, tell: boolean, budget: number): { best: number; feasible: number } {
  const strategy = gpStrategyFactory.create(gpStrategyFactory.options.parse({}));
  const study = makeStudy(space, { seed, strategy: { name: "gp", options: {} } });
  const trials: Trial[] = [];
  let best = Infinity;
  let feasible = 0;
  for (let i = 0; i < budget; i++) {
    const s = strategy.suggest(suggestRequest(study, trials));
    const r = cutBowl(s.params);
    trials.push(makeTrial(i, s.params, space, { value: r.value, constraints: tell ? r.constraints : null, systemAttrs: s.systemAttrs ?? {} }));
    if (r.constraints[0]! <= 0) {
      feasible++;
      best = Math.min(best, r.value);
    }
  }
  return { best, feasible };
}

describe("gp with constraints", () => {
  it("warm-starts the constraint θ only from a trial fitted for the same modelled dimensions (gp_theta_layout, either kernel), or one without a marker", () => {
    // θ reused as stored (no warm iterations, no full fit due): the suggestion's constraint θ is the warm start.
    const opts = gpStrategyFactory.options.parse({ maxWarmFitIterations: 0, fullFitEvery: 1000 });
    const strategy = gpStrategyFactory.create(opts);
    const study = makeStudy(space, { seed: 5, strategy: { name: "gp", options: {} } });
    const history: Trial[] = [];
    for (let i = 0; i < 12; i++) {
      const s = strategy.suggest(suggestRequest(study, history));
      history.push(makeTrial(i, s.params, space, { ...cutBowl(s.params), systemAttrs: s.systemAttrs ?? {} }));
    }
    const [prev, last] = [history[10]!, history[11]!];
    expect(prev.systemAttrs[CONSTRAINT_THETA_ATTR]).toEqual([expect.any(Array)]);
    const dims = modelledDims(space, new Rng(1)).dims;
    expect(last.systemAttrs[THETA_LAYOUT_ATTR]).toBe(thetaLayout(dims, false));
    const stored = [[0.25, -0.5, 0.125, -4]];
    const ask = (attrs: Record<string, unknown>) => {
      const systemAttrs: Record<string, unknown> = { ...last.systemAttrs, [CONSTRAINT_THETA_ATTR]: stored, ...attrs };
      if (!(THETA_LAYOUT_ATTR in attrs)) delete systemAttrs[THETA_LAYOUT_ATTR];
      return gpStrategyFactory.create(opts).suggest(suggestRequest(study, [...history.slice(0, 11), { ...last, systemAttrs }])).systemAttrs?.[CONSTRAINT_THETA_ATTR];
    };
    expect(ask({ [THETA_LAYOUT_ATTR]: thetaLayout(dims, false) })).toEqual(stored);
    expect(ask({}), "stored before the marker existed: matched by length").toEqual(stored);
    expect(ask({ [THETA_LAYOUT_ATTR]: thetaLayout(dims, true) }), "constraint models keep the Hamming θ under the latent kernel").toEqual(stored);
    expect(ask({ [THETA_LAYOUT_ATTR]: "0badc0de" }), "fitted for other dimensions: passed over").toEqual(prev.systemAttrs[CONSTRAINT_THETA_ATTR]);
  });

  it("log PoF is log Φ((t − μ)/σ) and its derivatives match central differences", () => {
    expect(Math.exp(logPof(0, 1, 0))).toBeCloseTo(0.5, 12);
    expect(Math.exp(logPof(1, 2, 0))).toBeCloseTo(0.3085375387, 8);
    expect(Number.isFinite(logPof(60, 1, 0))).toBe(true); // far tail: no underflow to −∞
    for (const [mu, sigma, t] of [[0.3, 0.7, -0.2], [5, 0.5, 0], [-2, 1.5, 0.4], [40, 1, 0]] as const) {
      const h = 1e-6;
      const d = dLogPof(mu, sigma, t);
      const fdMu = (logPof(mu + h, sigma, t) - logPof(mu - h, sigma, t)) / (2 * h);
      const fdSigma = (logPof(mu, sigma + h, t) - logPof(mu, sigma - h, t)) / (2 * h);
      expect(Math.abs(d.dMean - fdMu)).toBeLessThan(1e-5 * Math.max(1, Math.abs(fdMu)));
      expect(Math.abs(d.dSigma - fdSigma)).toBeLessThan(1e-5 * Math.max(1, Math.abs(fdSigma)));
    }
  });

  it("reads constraint columns only when every row carries a vector of the same length", () => {
    const p = { x0: 0.1, x1: 0.2 };
    const a = makeTrial(0, p, space, { constraints: [1, -2] });
    const b = makeTrial(1, p, space, { constraints: [-1, 3] });
    expect(constraintColumns([a, b])).toEqual([[1, -1], [-2, 3]]);
    expect(constraintColumns([a, makeTrial(2, p, space)])).toBeNull();
    expect(constraintColumns([makeTrial(2, p, space)])).toBeNull();
  });

  it("stores each constraint's θ (null for one never violated) and decides the same from history alone", () => {
    const study = makeStudy(space, { seed: 5, strategy: { name: "gp", options: {} } });
    const long = gpStrategyFactory.create(gpStrategyFactory.options.parse({}));
    const trials: Trial[] = [];
    for (let i = 0; i < 16; i++) {
      const s = long.suggest(suggestRequest(study, trials));
      // A fresh instance (a restarted server) given the same history suggests the same.
      expect(gpStrategyFactory.create(gpStrategyFactory.options.parse({})).suggest(suggestRequest(study, trials))).toEqual(s);
      if (i >= 10) {
        const stored = s.systemAttrs?.[CONSTRAINT_THETA_ATTR] as (number[] | null)[];
        expect(stored).toHaveLength(2);
        expect(stored[0]).toHaveLength(4); // d + 2
        expect(stored[1]).toBeNull(); // −1 − x1 ≤ 0 always holds: skipped
      }
      const r = cutBowl(s.params);
      trials.push(makeTrial(i, s.params, space, { value: r.value, constraints: [r.constraints[0]!, -1 - xs(s.params)[1]!], systemAttrs: s.systemAttrs ?? {} }));
    }
  });

  it("with no feasible trial yet, maximises the probability of feasibility: feasible next point in >= 8 of 10 seeds", () => {
    // Feasible region x0 + x1 <= 0.6 (18% of the square); history: 12 random infeasible points
    // whose objective pulls towards (1, 1), away from it.
    let hits = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const rng = new Rng(seed, "history");
      const trials: Trial[] = [];
      while (trials.length < 12) {
        const p = { x0: rng.random(), x1: rng.random() };
        const c = p.x0 + p.x1 - 0.6;
        if (c > 0) trials.push(makeTrial(trials.length, p, space, { value: 2 - p.x0 - p.x1, constraints: [c] }));
      }
      const strategy = gpStrategyFactory.create(gpStrategyFactory.options.parse({}));
      const s = strategy.suggest(suggestRequest(makeStudy(space, { seed, strategy: { name: "gp", options: {} } }), trials));
      const [a, b] = xs(s.params);
      expect(s.systemAttrs?.gp_theta, "the model made the choice").toBeDefined();
      if (a! + b! - 0.6 <= 0) hits++;
    }
    expect(hits).toBeGreaterThanOrEqual(8);
  });

  it("beats the constraint-blind GP on best feasible value and proposes more feasible points (25 trials, >= 5 of 6 seeds)", () => {
    let better = 0;
    let moreFeasible = 0;
    const bests: number[] = [];
    for (const seed of [11, 12, 13, 14, 15, 16]) {
      const aware = run(seed, true, 25);
      const blind = run(seed, false, 25);
      bests.push(aware.best);
      if (aware.best < blind.best) better++;
      if (aware.feasible > blind.feasible) moreFeasible++;
    }
    expect(better).toBeGreaterThanOrEqual(5);
    expect(moreFeasible).toBeGreaterThanOrEqual(5);
    // And it gets near the constrained optimum 0.18: median regret below 0.01.
    bests.sort((a, b) => a - b);
    expect((bests[2]! + bests[3]!) / 2 - 0.18).toBeLessThan(0.01);
  });
});
