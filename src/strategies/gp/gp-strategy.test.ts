import { describe, expect, it } from "vitest";
import { type SearchSpace, contains } from "../../domain/distributions.js";
import type { Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { type BenchmarkProblem, branin, hartmann6, mixedProblem } from "../../testing/benchmark-functions.js";
import { randomStrategyFactory } from "../random/random-strategy.js";
import { strategyConformance } from "../../testing/strategy.case.js";
import type { StrategyFactory } from "../../domain/plugin.js";
import { bestValue, makeStudy, makeTrial, runOnProblem, suggestRequest } from "../../testing/fixtures.js";
import { gpStrategyFactory } from "./gp-strategy.js";

const defaults = gpStrategyFactory.options.parse({});

strategyConformance(gpStrategyFactory, { options: defaults, n: 20 });

/** Sequential ask/tell on a benchmark; returns the trials. */
const run = runOnProblem;
const best = bestValue;
/** Ten fixed seeds for the statistical tests. */
const SEEDS = Array.from({ length: 10 }, (_, k) => (k + 1) * 1024);

describe("gp strategy", () => {
  it("parses options strictly with Optuna-like defaults", () => {
    expect(defaults).toEqual({
      nStartupTrials: 10, nCandidates: 2048, nLocalSearches: 10, maxFitIterations: 50, maxWarmFitIterations: 1, fullFitEvery: 10, eiXi: 0,
      incumbentStart: true, startSelection: "top", maxAcqIterations: 30, lengthscalePrior: "optuna", outputTransform: "standardise", trustRegionFromDim: 0,
      maxModelTrials: 200, maxFitTrials: 100, believerIncumbent: true, fidelity: "informed", fidelityLevel: "count", fullFitSchedule: "multiple", categoricalKernel: "hamming",
    });
    expect(() => gpStrategyFactory.options.parse({ bogus: 1 })).toThrow();
    expect(gpStrategyFactory.offload).toBe(true);
  });

  it("never proposes an earlier trial's configuration on a continuous space (a lost lease is not modelled)", () => {
    // A trial whose worker vanished at the GP's proposal tells the model nothing: asked again with
    // the same randomness, the search ends at the same point, which must then be refused.
    for (const k of [1, 2, 3]) {
      const history = run(gpStrategyFactory, defaults, branin, 14, 40 + k);
      const study = makeStudy(branin.space);
      const gp = gpStrategyFactory.create(defaults);
      const first = gp.suggest({ study, trials: history, trialNumber: history.length, rng: new Rng(k) });
      const failed = makeTrial(history.length, first.params, branin.space, { state: "FAIL", value: null, systemAttrs: { fail_reason: "lease_expired" } });
      const again = gp.suggest({ study, trials: [...history, failed], trialNumber: history.length + 1, rng: new Rng(k) });
      expect(again.systemAttrs?.gp_theta, "still a model-based suggestion").toBeDefined();
      expect(again.params).not.toEqual(first.params);
      for (const t of history) expect(again.params).not.toEqual(t.params);
    }
  });

  it("is uniform random for the first nStartupTrials and records the fitted θ afterwards", () => {
    const trials = run(gpStrategyFactory, defaults, branin, 12, 3);
    for (const t of trials.slice(0, 10)) expect(t.systemAttrs.gp_theta).toBeUndefined();
    for (const t of trials.slice(10)) {
      const theta = t.systemAttrs.gp_theta as number[];
      expect(theta).toHaveLength(4);
      expect(theta.every(Number.isFinite)).toBe(true);
    }
  });

  it("warm-starts only from a θ fitted for the same modelled dimensions (gp_theta_layout), or from one stored without a marker", () => {
    // θ reused as stored (no warm iterations, no full fit due): the suggestion's θ is the warm start.
    const opts = { ...defaults, maxWarmFitIterations: 0, fullFitEvery: 1000 };
    const history = run(gpStrategyFactory, opts, branin, 12, 5);
    const marker = history[11]!.systemAttrs.gp_theta_layout;
    expect(typeof marker).toBe("string");
    expect(history[10]!.systemAttrs.gp_theta_layout).toBe(marker);
    const stored = [0.25, -0.5, 0.125, -4];
    const ask = (attrs: Record<string, unknown>) => {
      const last = { ...history[11]!, systemAttrs: { ...history[11]!.systemAttrs, gp_theta: stored, ...attrs } };
      const trials = [...history.slice(0, 11), last];
      if (attrs.gp_theta_layout === undefined) delete (last.systemAttrs as Record<string, unknown>).gp_theta_layout;
      return gpStrategyFactory.create(opts).suggest({ study: makeStudy(branin.space), trials, trialNumber: 12, rng: new Rng(9) });
    };
    expect(ask({ gp_theta_layout: marker }).systemAttrs?.gp_theta).toEqual(stored);
    expect(ask({}).systemAttrs?.gp_theta, "stored before the marker existed: matched by length").toEqual(stored);
    // Fitted for other dimensions of the same count: passed over for the one before it.
    expect(ask({ gp_theta_layout: "0badc0de" }).systemAttrs?.gp_theta).toEqual(history[10]!.systemAttrs.gp_theta);
  });

  it("fullFitSchedule 'since': a GP asked on every third trial still fits θ fully every fullFitEvery rows", () => {
    // `auto`'s hedge asks the GP on some trials only. Under "multiple" (the default) its full fits
    // come only when such a trial falls on a multiple of 10 rows (here rows 10 and 40 of 10..49); in
    // between, one warm L-BFGS iteration per suggestion.
    const fullFitRows = (): number[] => {
      const options = gpStrategyFactory.options.parse({ fullFitSchedule: "since" });
      const gp = gpStrategyFactory.create(options);
      const random = randomStrategyFactory.create(randomStrategyFactory.options.parse({}));
      const study = makeStudy(branin.space, { seed: 5 });
      const trials: Trial[] = [];
      const full: number[] = [];
      for (let i = 0; i < 50; i++) {
        const byGp = i >= 10 && i % 3 === 1;
        const s = (byGp ? gp : random).suggest(suggestRequest(study, trials));
        if (byGp && s.systemAttrs?.gp_fit_rows === i) full.push(i);
        trials.push(makeTrial(i, s.params, branin.space, { value: branin.evaluate(s.params), systemAttrs: s.systemAttrs ?? {} }));
      }
      return full;
    };
    expect(fullFitRows()).toEqual([10, 22, 34, 46]);
  });

  it("fullFitSchedule: a GP asked on every trial makes the same proposals under either schedule", () => {
    const multiple = run(gpStrategyFactory, defaults, branin, 35, 7);
    const since = run(gpStrategyFactory, gpStrategyFactory.options.parse({ fullFitSchedule: "since" }), branin, 35, 7);
    expect(since.map((t) => t.params)).toEqual(multiple.map((t) => t.params));
    expect(since.slice(10).map((t) => t.systemAttrs.gp_fit_rows)).toEqual(since.slice(10).map((t) => 10 * Math.floor(t.number / 10)));
    expect(multiple.some((t) => "gp_fit_rows" in t.systemAttrs), "the default's trials are as before").toBe(false);
  });

  it("eiXi: an improvement threshold stops the refinement of a point sampled to death (hartmann6, seed 0, trial 80)", () => {
    // Found by issue 17's suite: from trial 60 this run proposes points within 1e-2..1e-5 of
    // earlier ones around a local optimum (-1.61; the global one is -3.32).
    const history = run(gpStrategyFactory, defaults, hartmann6, 80, 0);
    const req = suggestRequest(makeStudy(hartmann6.space, { seed: 0, strategy: { name: "gp", options: {} } }), history);
    const keys = Object.keys(hartmann6.space);
    const nearest = (p: Record<string, unknown>) =>
      Math.min(...history.map((t) => Math.max(...keys.map((k) => Math.abs((p[k] as number) - (t.params[k] as number))))));
    expect(nearest(gpStrategyFactory.create(defaults).suggest(req).params)).toBeLessThan(1e-2);
    expect(nearest(gpStrategyFactory.create({ ...defaults, eiXi: 0.01 }).suggest(req).params)).toBeGreaterThan(0.1);
  });

  for (const problem of [branin, hartmann6]) {
    it(`beats random search (lower best value) on ${problem.name} at 60 trials in >= 8 of 10 seeds`, () => {
      let wins = 0;
      for (const seed of SEEDS) {
        const gp = best(run(gpStrategyFactory, defaults, problem, 60, seed));
        const rnd = best(run(randomStrategyFactory, {}, problem, 60, seed));
        if (gp < rnd) wins++;
      }
      expect(wins).toBeGreaterThanOrEqual(8);
    });
  }

  it("gets close to the optimum of Branin within 40 trials (median regret over 5 seeds < 0.05)", () => {
    const regrets = SEEDS.slice(0, 5).map((s) => best(run(gpStrategyFactory, defaults, branin, 40, s)) - branin.fStar).sort((a, b) => a - b);
    expect(regrets[2]).toBeLessThan(0.05);
  });

  it("handles int, log and categorical dimensions (mixed problem: finds the right category and k)", () => {
    let right = 0;
    for (const seed of SEEDS.slice(0, 3)) {
      const trials = run(gpStrategyFactory, defaults, mixedProblem, 40, seed);
      for (const t of trials) for (const [k, d] of Object.entries(mixedProblem.space)) expect(contains(d, t.params[k]!)).toBe(true);
      const b = trials.reduce((a, t) => ((t.value as number) < (a.value as number) ? t : a));
      if (b.params.fn === "b" && Math.abs((b.params.k as number) - 3) <= 1) right++;
    }
    expect(right).toBeGreaterThanOrEqual(2);
  });

  it("steers away from pending (RUNNING) trials: the kriging believer", () => {
    const space = branin.space;
    const study = makeStudy(space, { seed: 5 });
    const trials = run(gpStrategyFactory, defaults, branin, 15, 5);
    const strategy = gpStrategyFactory.create(defaults);
    const first = strategy.suggest(suggestRequest(study, trials));
    const again = strategy.suggest(suggestRequest(study, trials));
    expect(again.params).toEqual(first.params);
    const withPending = [...trials, makeTrial(15, first.params, space, { state: "RUNNING", value: null })];
    const second = strategy.suggest({ ...suggestRequest(study, withPending), rng: Rng.derive(study.seed, 15, "suggest") });
    const dist = Math.hypot(
      ((second.params.x0 as number) - (first.params.x0 as number)) / 15,
      ((second.params.x1 as number) - (first.params.x1 as number)) / 15,
    );
    expect(dist).toBeGreaterThan(0.01);
  });

  it("steers away from a failed evaluation as from a pending trial; a lost lease changes nothing", () => {
    // The objective raised (or gave NaN) at the GP's choice: the next choice must not be beside it.
    let moved = 0;
    for (const k of [1, 2, 3, 4, 5]) {
      const history = run(gpStrategyFactory, defaults, branin, 15, 60 + k);
      const study = makeStudy(branin.space, { seed: 60 + k });
      const gp = gpStrategyFactory.create(defaults);
      const at = (trials: Trial[]) => gp.suggest({ study, trials, trialNumber: 16, rng: new Rng(k) }).params;
      const first = at(history);
      const failed = makeTrial(15, first, branin.space, { state: "FAIL", value: null, systemAttrs: { fail_reason: "ValueError" } });
      const lost = { ...failed, systemAttrs: { fail_reason: "lease_expired" } };
      const cancelled = { ...failed, systemAttrs: { cancelled: true, fail_reason: "cancelled" } };
      const retried = { ...failed, systemAttrs: { retried_as: 16 } };
      // Those say nothing about the configuration: without the exclusion of earlier configurations
      // (which a lost lease's configuration is still subject to), the same search.
      const baseline = at([...history, makeTrial(15, first, branin.space, { state: "FAIL", value: null, systemAttrs: { cancelled: true } })]);
      for (const t of [lost, cancelled, retried]) expect(at([...history, t])).toEqual(baseline);
      const second = at([...history, failed]);
      const dist = Math.hypot(((second.x0 as number) - (first.x0 as number)) / 15, ((second.x1 as number) - (first.x1 as number)) / 15);
      if (dist > 0.01) moved++;
    }
    expect(moved).toBe(5);
  });

  it("never hands out NaN on pathological histories (huge, tied and duplicated values)", () => {
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 }, k: { type: "int", low: 0, high: 3 } };
    const study = makeStudy(space);
    const histories: Trial[][] = [
      // Values at the edge of the double range.
      Array.from({ length: 14 }, (_, i) => makeTrial(i, { x: (i % 7) / 7, k: i % 4 }, space, { value: i % 2 ? 1.7e308 : -1.7e308 })),
      // Every point identical with identical values.
      Array.from({ length: 14 }, (_, i) => makeTrial(i, { x: 0.5, k: 2 }, space, { value: 1 })),
      // Duplicated points with contradicting values.
      Array.from({ length: 14 }, (_, i) => makeTrial(i, { x: 0.25, k: 1 }, space, { value: i })),
      // Infinite values are ignored (not modelled).
      Array.from({ length: 14 }, (_, i) => makeTrial(i, { x: i / 14, k: 0 }, space, { value: i < 5 ? Infinity : i })),
    ];
    for (const trials of histories) {
      const s = gpStrategyFactory.create(defaults).suggest(suggestRequest(study, trials));
      expect(contains(space.x!, s.params.x!)).toBe(true);
      expect(contains(space.k!, s.params.k!)).toBe(true);
    }
  });

  it("maximises when the study direction says so", () => {
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const study = makeStudy(space, { direction: "maximize", seed: 11 });
    const strategy = gpStrategyFactory.create(defaults);
    const trials: Trial[] = [];
    for (let i = 0; i < 20; i++) {
      const s = strategy.suggest(suggestRequest(study, trials));
      const x = s.params.x as number;
      trials.push(makeTrial(i, s.params, space, { value: -((x - 0.8) ** 2), systemAttrs: s.systemAttrs ?? {} }));
    }
    const bestX = trials.reduce((a, t) => ((t.value as number) > (a.value as number) ? t : a)).params.x as number;
    expect(Math.abs(bestX - 0.8)).toBeLessThan(0.02);
  });

  it("fidelityLevel 'rank' reaches the model: a deeper level when the lower one ranks it poorly, else the same proposals", () => {
    // Stopping ASHA: eleven trials stopped at step 9, five trained to 81 whose step-9 values rank
    // their final values in reverse (ρ = −1) or in order.
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const study = makeStudy(space);
    const history = (agree: boolean) => [
      ...Array.from({ length: 11 }, (_, i) =>
        makeTrial(i, { x: 0.05 + i * 0.04 }, space, { state: "PRUNED", value: null, intermediate: [{ step: 9, value: 1 + i / 10 }], systemAttrs: { budget: 81 } }),
      ),
      ...Array.from({ length: 5 }, (_, i) => {
        const final = agree ? 0.1 * i : 0.1 * (5 - i);
        const intermediate = [{ step: 9, value: 0.1 * i }, { step: 81, value: final }];
        return makeTrial(11 + i, { x: 0.55 + i * 0.1 }, space, { value: final, intermediate, systemAttrs: { budget: 81 } });
      }),
    ];
    const count = gpStrategyFactory.create(defaults);
    const rank = gpStrategyFactory.create(gpStrategyFactory.options.parse({ fidelityLevel: "rank" }));
    const ask = (gp: typeof count, trials: Trial[]) => gp.suggest({ study, trials, trialNumber: trials.length, rng: new Rng(5) }).params;
    expect(ask(rank, history(true))).toEqual(ask(count, history(true)));
    expect(ask(rank, history(false))).not.toEqual(ask(count, history(false)));
  });
});

