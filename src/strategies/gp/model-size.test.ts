/**
 * The GP-based strategies condition on a bounded number of trials, whatever the history: a
 * suggestion costs O(n³) in the rows of its GPs, and runs on the one suggestion thread every
 * offloaded study shares. Every GpObjective built is recorded (its n is the matrix order).
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { SearchSpace } from "../../domain/distributions.js";
import type { Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { ehviStrategyFactory } from "../ehvi/ehvi-strategy.js";
import { MAX_COORDINATE_TERMS, MixedSearch } from "./gp-acquisition.js";
import { MAX_FIT_TRIALS, MAX_ITERATIONS, MAX_MODEL_TRIALS, gpStrategyFactory } from "./gp-strategy.js";

const seen = vi.hoisted(() => ({ largest: 0 }));
vi.mock("./gp-model.js", async (importOriginal) => {
  const mod = await importOriginal<typeof import("./gp-model.js")>();
  class Recording extends mod.GpObjective {
    constructor(...args: ConstructorParameters<typeof mod.GpObjective>) {
      super(...args);
      seen.largest = Math.max(seen.largest, args[0].n);
    }
  }
  return { ...mod, GpObjective: Recording };
});

const SPACE: SearchSpace = { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } };

/** `complete` COMPLETE trials with `m` objectives, then `pending` RUNNING ones. */
function history(complete: number, pending: number, m: number): Trial[] {
  const rng = new Rng(7, "history");
  return Array.from({ length: complete + pending }, (_, i) => {
    const params = { x: rng.random(), y: rng.random() };
    if (i >= complete) return makeTrial(i, params, SPACE, { state: "RUNNING", value: null });
    const values = m === 1 ? [params.x + params.y] : [params.x, 1 - params.x + params.y];
    return makeTrial(i, params, SPACE, { values });
  });
}

beforeEach(() => {
  seen.largest = 0;
});

describe("GP model size", () => {
  it("gp: conditions on at most maxModelTrials pending trials (kriging believer)", () => {
    const gp = gpStrategyFactory.create(gpStrategyFactory.options.parse({ maxModelTrials: 40, nCandidates: 16, nLocalSearches: 1 }));
    gp.suggest(suggestRequest(makeStudy(SPACE, { strategy: { name: "gp", options: {} } }), history(30, 300, 1)));
    expect(seen.largest).toBeGreaterThan(0);
    expect(seen.largest).toBeLessThanOrEqual(30 + 40);
  });

  it("ehvi: models at most maxModelTrials COMPLETE trials and as many pending ones", () => {
    const options = ehviStrategyFactory.options.parse({ maxModelTrials: 40, nCandidates: 16, nLocalSearches: 1 });
    const study = makeStudy(SPACE, { directions: ["minimize", "minimize"], strategy: { name: "ehvi", options: {} } });
    ehviStrategyFactory.create(options).suggest(suggestRequest(study, history(300, 0, 2)));
    expect(seen.largest).toBeGreaterThan(0);
    expect(seen.largest).toBeLessThanOrEqual(40);
    seen.largest = 0;
    ehviStrategyFactory.create(options).suggest(suggestRequest(study, history(30, 300, 2)));
    expect(seen.largest).toBeLessThanOrEqual(30 + 40);
  });

  it("refuses options that size the model beyond the bounds", () => {
    for (const [key, max] of [
      ["maxModelTrials", MAX_MODEL_TRIALS],
      ["maxFitTrials", MAX_FIT_TRIALS],
      ["maxFitIterations", MAX_ITERATIONS],
      ["maxWarmFitIterations", MAX_ITERATIONS],
      ["maxAcqIterations", MAX_ITERATIONS],
    ] as const) {
      expect(gpStrategyFactory.options.safeParse({ [key]: max }).success, key).toBe(true);
      expect(gpStrategyFactory.options.safeParse({ [key]: max + 1 }).success, key).toBe(false);
    }
    expect(ehviStrategyFactory.options.safeParse({ maxModelTrials: MAX_MODEL_TRIALS + 1 }).success).toBe(false);
  });
});

describe("GP coordinate searches", () => {
  it("spend a bounded number of kernel terms per suggestion, however many choices the categoricals have", () => {
    // 40 categoricals of 200 choices: every round of every local search tried all 7,960 other
    // choices (over 200 of 1,000: 48 s per ask at 11 trials, the 120 s deadline from 30 on).
    const choices = Array.from({ length: 200 }, (_, i) => `c${i}`);
    const space: SearchSpace = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, { type: "categorical", choices }]));
    const rng = new Rng(3, "cats");
    const trials = (m: number) =>
      Array.from({ length: 11 }, (_, i) => {
        const params = Object.fromEntries(Object.keys(space).map((k) => [k, choices[Math.floor(rng.random() * choices.length)]!]));
        return makeTrial(i, params, space, { values: m === 1 ? [i % 5] : [i % 5, (i * 7) % 3] });
      });
    expect(MixedSearch.coordinateTerms).toBe(MAX_COORDINATE_TERMS);
    // The bound scaled down with the space, so that the test takes milliseconds.
    const budget = 5e6;
    MixedSearch.coordinateTerms = budget;
    const run = vi.spyOn(MixedSearch.prototype, "run");
    try {
      for (const [name, m] of [["gp", 1], ["ehvi", 2]] as const) {
        const study = makeStudy(space, { strategy: { name, options: {} }, ...(m === 2 ? { directions: ["minimize", "minimize"] } : {}) });
        const strategy = m === 1 ? gpStrategyFactory.create(gpStrategyFactory.options.parse({})) : ehviStrategyFactory.create(ehviStrategyFactory.options.parse({}));
        strategy.suggest(suggestRequest(study, trials(m)));
        const search = run.mock.contexts.at(-1) as MixedSearch;
        // Each evaluation costs at least (rows + 10) × (dimensions + rows) terms, with rows ≥ 11 per objective.
        const cheapest = (11 * m + 10) * (40 + 11 * m);
        expect(search.coordinateEvaluations, name).toBeGreaterThan(budget / cheapest / 4);
        expect(search.coordinateEvaluations, name).toBeLessThanOrEqual(budget / cheapest);
      }
    } finally {
      MixedSearch.coordinateTerms = MAX_COORDINATE_TERMS;
      run.mockRestore();
    }
  });
});
