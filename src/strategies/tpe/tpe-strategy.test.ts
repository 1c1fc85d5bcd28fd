import { describe, expect, it } from "vitest";
import { type NumericDistribution, type Params, type SearchSpace, toUnit } from "../../domain/distributions.js";
import type { Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { type BenchmarkProblem, branin, hartmann6, mixedProblem } from "../../testing/benchmark-functions.js";
import { randomStrategyFactory } from "../random/random-strategy.js";
import type { StrategyFactory } from "../../domain/plugin.js";
import { strategyConformance } from "../../testing/strategy.case.js";
import { bestValue, makeStudy, makeTrial, runOnProblem, suggestRequest } from "../../testing/fixtures.js";
import { ParzenMixture, type ParzenParams, type TpeDim, tpeWeights } from "./parzen-estimator.js";
import { TpeStrategy, splitTrials, tpeStrategyFactory } from "./tpe-strategy.js";

const defaults = tpeStrategyFactory.options.parse({});
strategyConformance(tpeStrategyFactory, { options: defaults, n: 40 });
strategyConformance(tpeStrategyFactory, { options: { ...defaults, multivariate: false, startup: "qmc" }, n: 30 });
// MOTPE: two objectives (one maximised) with a constraint, both weightings.
strategyConformance(tpeStrategyFactory, { options: defaults, n: 40, objectives: 2 });
strategyConformance(tpeStrategyFactory, { options: { ...defaults, mo_below_weights: "hypervolume" }, n: 30, objectives: 3 });

/** Ten fixed seeds for the statistical tests. */
const SEEDS = Array.from({ length: 10 }, (_, i) => (i + 1) * 104729);

/** Best value after n sequential trials of a strategy on a problem. */
function bestOf<O>(factory: StrategyFactory<O>, options: O, problem: BenchmarkProblem, n: number, seed: number): number {
  return bestValue(runOnProblem(factory, options, problem, n, seed));
}

describe("tpe strategy", () => {
  it("fills Optuna 5.0 defaults and refuses unknown options", () => {
    expect(defaults).toEqual({
      n_startup_trials: 10,
      n_ei_candidates: 24,
      startup: "random",
      multivariate: true,
      constant_liar: true,
      prior_weight: 1,
      consider_magic_clip: true,
      consider_endpoints: false,
      mo_below_weights: "uniform",
      constraints_model: "ctpe",
      fidelity: "informed",
    });
    expect(tpeStrategyFactory.options.safeParse({ n_ei_candidate: 3 }).success).toBe(false);
    expect(tpeStrategyFactory.options.safeParse({ prior_weight: 0 }).success).toBe(false);
  });

  it("reuses finished trials' encodings and proposes what a fresh strategy proposes", () => {
    // A kept strategy caches the encoded rows of finished trials across suggestions. It must agree
    // with a fresh strategy at every step while RUNNING trials gain parameters in place
    // (define-by-run) and finish, and after the space redefines one parameter.
    const first: SearchSpace = {
      x: { type: "float", low: 0, high: 1 },
      n: { type: "int", low: 1, high: 8 },
      c: { type: "categorical", choices: ["a", "b", "c"] },
    };
    const second: SearchSpace = { ...first, n: { type: "int", low: 1, high: 16 } };
    const kept = tpeStrategyFactory.create(defaults);
    const trials: Trial[] = [];
    const rng = new Rng(3);
    const f = (p: Params) => ((p.x as number) - 0.3) ** 2 + 0.01 * (p.n as number) + (p.c === "b" ? 0 : 0.2);
    for (let i = 0; i < 80; i++) {
      const space = i < 40 ? first : second;
      const study = makeStudy(space, { seed: 5, strategy: { name: "tpe", options: {} } });
      const req = suggestRequest(study, trials);
      const proposed = kept.suggest(req).params;
      expect(proposed).toEqual(tpeStrategyFactory.create(defaults).suggest(suggestRequest(study, trials)).params);
      // Every fourth trial starts without `c` and gets it two trials later, when it also finishes.
      if (i % 4 === 0) {
        const { c: _c, ...partial } = proposed;
        trials.push(makeTrial(i, partial, space, { state: "RUNNING", value: null }));
      } else trials.push(makeTrial(i, proposed, space, { value: f(proposed) + 0.01 * rng.random() }));
      const late = trials[i - 2];
      if (i >= 2 && late?.state === "RUNNING") {
        const t = late as { -readonly [K in keyof Trial]: Trial[K] } & { params: Params; distributions: Record<string, unknown> };
        t.params.c = "b";
        (t.distributions as Record<string, unknown>).c = space.c;
        t.state = "COMPLETE";
        t.values = [f(t.params)];
        t.value = f(t.params);
      }
    }
  });

  it("proposes on a big history, with its kept buffers and pruned log-densities, what the plain kernel sum proposes", () => {
    // The fast path (encodings and row buffer kept across suggestions, categorical rows built only
    // for sampling, the bad set's kernels pruned per candidate) must propose exactly what a fresh
    // strategy summing every kernel proposes, seed after seed while the history grows. The history
    // clusters as TPE's does, so that pruning drops kernels; 40 trials stay RUNNING (constant liar).
    const space: SearchSpace = {
      lr: { type: "float", low: 1e-5, high: 1e-1, log: true },
      dropout: { type: "float", low: 0, high: 0.5 },
      layers: { type: "int", low: 1, high: 8 },
      act: { type: "categorical", choices: ["relu", "gelu", "tanh"] },
      width: { type: "float", low: 0, high: 1, step: 0.125 },
    };
    const rng = new Rng(11);
    const near = (c: number, s: number) => Math.min(1, Math.max(0, c + s * rng.normal()));
    const trials: Trial[] = [];
    const grow = (count: number) => {
      for (let i = 0; i < count; i++) {
        const number = trials.length;
        const p: Params = {
          lr: 10 ** (-5 + 4 * near(0.5, 0.15)),
          dropout: 0.5 * near(0.4, 0.1),
          layers: 1 + Math.round(7 * near(0.3, 0.2)),
          act: ["relu", "gelu", "tanh"][Math.floor(rng.random() * 3)] as string,
          width: Math.round(8 * rng.random()) / 8,
        };
        const v = (Math.log10(p.lr as number) + 3) ** 2 + 4 * ((p.dropout as number) - 0.2) ** 2 + (p.act === "gelu" ? 0 : 0.3);
        trials.push(makeTrial(number, p, space, number % 25 === 0 ? { state: "RUNNING", value: null } : { value: v }));
      }
    };
    const kept = tpeStrategyFactory.create(defaults);
    const fast = ParzenMixture.prototype.logPdf;
    grow(900);
    for (let seed = 1; seed <= 8; seed++) {
      grow(7);
      const study = makeStudy(space, { seed, strategy: { name: "tpe", options: {} } });
      const proposed = kept.suggest(suggestRequest(study, trials)).params;
      ParzenMixture.prototype.logPdf = ParzenMixture.prototype.logPdfPlain;
      try {
        expect(proposed).toEqual(tpeStrategyFactory.create(defaults).suggest(suggestRequest(study, trials)).params);
      } finally {
        ParzenMixture.prototype.logPdf = fast;
      }
    }
  });

  describe("split into good and bad sets", () => {
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const p: Params = { x: 0.5 };
    const steps = (pairs: [number, number][]) => pairs.map(([step, value]) => ({ step, value }));
    // One COMPLETE trial, ten PRUNED ones and a failed evaluation (12, in the bad set): n = 12 → gamma = 2,
    // so the best pruned trial joins the good set.
    const trials: Trial[] = [
      makeTrial(0, p, space, { value: 4 }),
      makeTrial(1, p, space, { state: "PRUNED", value: null, intermediate: steps([[1, 9], [5, 0.5]]) }),
      makeTrial(2, p, space, { state: "PRUNED", value: null, intermediate: steps([[1, 9], [9, 2.0]]) }),
      makeTrial(3, p, space, { state: "PRUNED", value: null, intermediate: steps([[9, 1.0]]) }),
      makeTrial(4, p, space, { state: "PRUNED", value: null, intermediate: [] }),
      ...[5, 6, 7, 8, 9, 10].map((i) => makeTrial(i, p, space, { state: "PRUNED", value: null, intermediate: steps([[2, i]]) })),
      makeTrial(11, p, space, { state: "RUNNING", value: null }),
      makeTrial(12, p, space, { state: "FAIL", value: null }),
      makeTrial(13, p, space, { state: "WAITING", value: null }),
    ];
    const numbers = (ts: Trial[]) => ts.map((t) => t.number);

    it("ranks COMPLETE first, then PRUNED by last step (further is better) then last value", () => {
      const { below, above } = splitTrials(trials, "minimize", true);
      expect(numbers(below)).toEqual([0, 3]);
      expect(numbers(above)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    });

    it("flips the value order when maximising and leaves RUNNING out without constant liar", () => {
      const { below, above } = splitTrials(trials, "maximize", false);
      expect(numbers(below)).toEqual([0, 2]);
      expect(numbers(above)).toEqual([1, 3, 4, 5, 6, 7, 8, 9, 10, 12]);
    });

    it("sizes the good set by the trials that can be good: failed evaluations go to the bad set only", () => {
      // 10 COMPLETE and 90 failed: gamma of 10, not of 100 (which would put every success in the good set).
      const ts = Array.from({ length: 100 }, (_, i) => makeTrial(i, p, space, i < 10 ? { value: i } : { state: "FAIL", value: null }));
      const { below, above } = splitTrials(ts, "minimize", true);
      expect(numbers(below)).toEqual([0]);
      expect(above).toHaveLength(99);
    });

    it("never puts RUNNING trials in the good set and ranks COMPLETE by value", () => {
      const ts = Array.from({ length: 30 }, (_, i) =>
        makeTrial(i, p, space, i % 3 === 0 ? { state: "RUNNING", value: null } : { value: 100 - i }),
      );
      const { below, above } = splitTrials(ts, "minimize", true);
      expect(numbers(below)).toEqual([28, 29]); // 20 finished → gamma 2; best values are the latest
      expect(above.filter((t) => t.state === "RUNNING")).toHaveLength(10);
      expect(numbers(splitTrials(ts, "minimize", true, 29).below)).toEqual([26, 28]);
    });
  });

  describe("parallel workers (constant liar)", () => {
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const history: Trial[] = Array.from({ length: 30 }, (_, i) => {
      const x = ((i * 0.618034) % 1 + 0.01) % 1;
      return makeTrial(i, { x }, space, { value: (x - 0.3) ** 2 });
    });
    const running = [0.29, 0.3, 0.31, 0.295, 0.305, 0.3].map((x, i) =>
      makeTrial(30 + i, { x }, space, { state: "RUNNING", value: null }),
    );
    const suggestX = (opts: typeof defaults, trials: Trial[], seed: number) => {
      const study = makeStudy(space);
      return new TpeStrategy(opts).suggest({ study, trials, trialNumber: 40, rng: new Rng(seed, "pending") }).params.x as number;
    };

    it("RUNNING trials change the suggestion and push it away from the pending points", () => {
      let changed = 0;
      let distWith = 0;
      let distWithout = 0;
      for (let s = 0; s < 40; s++) {
        const a = suggestX(defaults, history, s);
        const b = suggestX(defaults, [...history, ...running], s);
        if (a !== b) changed++;
        distWithout += Math.abs(a - 0.3);
        distWith += Math.abs(b - 0.3);
      }
      expect(changed).toBeGreaterThanOrEqual(36);
      expect(distWith).toBeGreaterThan(1.5 * distWithout);
    });

    it("ignores RUNNING trials when constant_liar is off", () => {
      const off = { ...defaults, constant_liar: false };
      for (let s = 0; s < 10; s++) expect(suggestX(off, [...history, ...running], s)).toBe(suggestX(off, history, s));
    });
  });

  it("define-by-run parameters get univariate TPE from the trials that have them", () => {
    const declared: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const y = { type: "float" as const, low: 0, high: 1 };
    const space: SearchSpace = { ...declared, y };
    const rng = new Rng(77);
    const trials: Trial[] = Array.from({ length: 40 }, (_, i) => {
      const params = { x: rng.random(), y: rng.random() };
      return makeTrial(i, params, space, { value: (params.y - 0.8) ** 2 });
    });
    const strategy = new TpeStrategy(defaults);
    const study = makeStudy(declared);
    const asking = makeTrial(40, { x: 0.5 }, space, { state: "RUNNING", value: null });
    const dists = Array.from({ length: 30 }, (_, s) => {
      const v = strategy.suggestParam({ study, trials: [...trials, asking], trial: asking, name: "y", distribution: y, rng: new Rng(s) });
      return Math.abs((v as number) - 0.8);
    }).sort((a, b) => a - b);
    // Uniform draws would have a median distance of about 0.25.
    expect(dists[15]).toBeLessThan(0.1);
    // A distribution that no trial used falls back to the prior: still valid values.
    const z = { type: "int" as const, low: 1, high: 5 };
    const v = strategy.suggestParam({ study, trials, trial: asking, name: "z", distribution: z, rng: new Rng(1) });
    expect([1, 2, 3, 4, 5]).toContain(v);
  });

  it("startup: random draws before n_startup_trials finished trials, qmc follows the Sobol sequence", () => {
    const space: SearchSpace = { a: { type: "float", low: 0, high: 1 }, b: { type: "float", low: 0, high: 1 } };
    const strategy = new TpeStrategy({ ...defaults, startup: "qmc" });
    const study = makeStudy(space, { seed: 3 });
    const trials: Trial[] = [];
    for (let i = 0; i < 8; i++) {
      const s = strategy.suggest(suggestRequest(study, trials));
      trials.push(makeTrial(i, s.params, space, { value: 0 }));
    }
    // A scrambled Sobol prefix of 8 points puts one point in each eighth of each axis.
    for (const k of ["a", "b"]) expect(new Set(trials.map((t) => Math.floor((t.params[k] as number) * 8))).size).toBe(8);
  });

  it("beats random search on Branin and Hartmann6 at 60 trials in at least 8 of 10 seeds", () => {
    for (const problem of [branin, hartmann6]) {
      let wins = 0;
      for (const seed of SEEDS) {
        if (bestOf(tpeStrategyFactory, defaults, problem, 60, seed) < bestOf(randomStrategyFactory, {}, problem, 60, seed)) wins++;
      }
      expect(wins, problem.name).toBeGreaterThanOrEqual(8);
    }
  });

  it("beats random search on a mixed int/log/categorical problem at 60 trials in at least 8 of 10 seeds", () => {
    let wins = 0;
    for (const seed of SEEDS) {
      if (bestOf(tpeStrategyFactory, defaults, mixedProblem, 60, seed) < bestOf(randomStrategyFactory, {}, mixedProblem, 60, seed)) wins++;
    }
    expect(wins).toBeGreaterThanOrEqual(8);
  });
});

describe("agreement with Optuna 5.0.0's TPESampler on a fixed history", () => {
  // 30 COMPLETE trials on x ∈ [−5, 10], lr ∈ [1e-5, 1] (log), c ∈ {a, b, z}. Reference values from
  // Optuna 5.0.0: `_split_trials(study, trials, default_gamma(30))`, then
  // `TPESampler()._build_parzen_estimator(...)` for each set and `log_pdf(below) − log_pdf(above)`
  // at the points below (script: bench/tpe_compare.py does the same comparison on bench histories).
  // The bad set has 27 trials, so the weight ramp, the prior kernel, the gap bandwidths, the magic
  // clip and the truncation all enter. No ties, so argsort order cannot matter.
  const space: SearchSpace = {
    x: { type: "float", low: -5, high: 10 },
    lr: { type: "float", low: 1e-5, high: 1, log: true },
    c: { type: "categorical", choices: ["a", "b", "z"] },
  };
  const xs = [4.554, -0.953, -4.385, -4.752, 7.199, 8.691, 4.1, 5.942, 3.154, 9.026, 7.238, -4.959, 7.861, -4.496, 5.945,
    -2.365, 7.948, 3.122, -0.504, 1.34, -4.575, -3.136, 5.059, 4.708, 4.231, 0.755, 9.958, 9.713, 5.283, 4.757];
  const lrs = [0.0276843, 0.0008803, 4.74e-5, 0.0404988, 0.0042342, 0.0003558, 0.0026864, 0.2801813, 0.4679695, 0.0006151,
    0.0072053, 0.0004068, 0.0093648, 0.0004893, 0.000908, 0.2827299, 0.0001367, 0.0130598, 2.63e-5, 0.1456199, 0.0861969,
    0.0001573, 0.2412244, 1.96e-5, 0.0004793, 5.64e-5, 0.0017852, 0.0958565, 0.0001423, 1.82e-5];
  const cs = [1, 1, 2, 0, 2, 0, 1, 1, 2, 0, 2, 2, 2, 0, 2, 2, 0, 1, 1, 0, 1, 1, 2, 2, 1, 1, 1, 2, 0, 1];
  const vs = [9.103, 9.2233, 43.5218, 48.1734, 28.4224, 44.9709, 5.0942, 22.0293, 9.4618, 49.4092, 29.1722, 49.5803, 36.2951,
    42.2944, 16.5648, 26.0624, 36.1256, 3.0042, 9.2666, 5.1151, 47.4768, 27.5237, 16.0334, 11.2497, 5.5794, 3.6093, 63.8931,
    64.4172, 11.4952, 11.1284];
  const choices = ["a", "b", "z"];
  const trials = xs.map((x, i) =>
    makeTrial(i, { x, lr: lrs[i] as number, c: choices[cs[i] as number] as string }, space, { value: vs[i] as number }),
  );
  const params: ParzenParams = { priorWeight: 1, considerMagicClip: true, considerEndpoints: false };
  const dims: TpeDim[] = [{ kind: "continuous" }, { kind: "continuous" }, { kind: "categorical", n: 3 }];
  const encode = (ts: readonly Trial[]) =>
    Float64Array.from(
      ts.flatMap((t) => [
        toUnit(space.x as NumericDistribution, t.params.x as number),
        toUnit(space.lr as NumericDistribution, t.params.lr as number),
        choices.indexOf(t.params.c as string),
      ]),
    );
  const { below, above } = splitTrials(trials, "minimize", true);
  const l = new ParzenMixture(dims, encode(below), below.length, tpeWeights(below.length), params);
  const g = new ParzenMixture(dims, encode(above), above.length, tpeWeights(above.length), params);

  it("same good set, weights and bandwidths (Optuna's internal space: x linear, lr in log space)", () => {
    expect(below.map((t) => t.number)).toEqual([6, 17, 25]);
    const wg = Array.from(g.weights.slice(0, 3));
    [0.00136986301369863, 0.036986301369863014, 0.036986301369863014].forEach((w, i) => expect(wg[i]).toBeCloseTo(w, 14));
    const sx = Array.from((g.sigmas[0] as Float64Array).slice(0, 5), (s) => s * 15);
    [0.5172413793103449, 1.412, 1.249, 0.5172413793103449, 1.254].forEach((s, i) => expect(sx[i]).toBeCloseTo(s, 12));
    const logRange = Math.log(1) - Math.log(1e-5);
    const slr = Array.from(l.sigmas[1] as Float64Array, (s) => s * logRange);
    [3.863488127819263, 2.302585092994046, 3.863488127819263, 11.512925464970229].forEach((s, i) => expect(slr[i]).toBeCloseTo(s, 12));
  });

  it("same log l(x) − log g(x) at four points", () => {
    const pts = [
      [2.0, 1e-3, 0],
      [-4.9, 1e-5, 1],
      [9.5, 0.5, 2],
      [0.3, 2e-2, 0],
    ];
    const x = Float64Array.from(
      pts.flatMap(([a, b, c]) => [toUnit(space.x as NumericDistribution, a as number), toUnit(space.lr as NumericDistribution, b as number), c as number]),
    );
    const ll = l.logPdf(x, 4);
    const lg = g.logPdf(x, 4);
    const optuna = [2.7381829495565224, 1.5181223333445066, 1.7267682017880936, 2.970955600035105];
    optuna.forEach((v, i) => expect((ll[i] as number) - (lg[i] as number)).toBeCloseTo(v, 10));
  });
});

describe("tpe with failed evaluations", () => {
  const space: SearchSpace = { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } };
  const fail = (t: Trial, systemAttrs: Record<string, unknown> = { fail_reason: "ValueError" }): Trial => ({ ...t, state: "FAIL", value: null, values: null, systemAttrs });

  it("puts a failed evaluation in the bad set, never the good one; a lost lease, a cancelled proposal or a retried trial stays out", () => {
    const trials = Array.from({ length: 20 }, (_, i) => makeTrial(i, { x: i / 20, y: 0 }, space, { value: i }));
    const withFails = trials.map((t, i) => (i < 5 ? fail(t) : t));
    const { below, above } = splitTrials(withFails, "minimize", true);
    // gamma(20) = 2 good: the two best COMPLETE trials (5, 6); the failed ones rank after every finished one.
    expect(below.map((t) => t.number)).toEqual([5, 6]);
    expect(above.map((t) => t.number)).toEqual([0, 1, 2, 3, 4, ...Array.from({ length: 13 }, (_, i) => 7 + i)]);
    for (const attrs of [{ fail_reason: "lease_expired" }, { cancelled: true, fail_reason: "cancelled" }, { retried_as: 30 }]) {
      const lost = trials.map((t, i) => (i < 5 ? fail(t, attrs) : t));
      expect(splitTrials(lost, "minimize", true).above.map((t) => t.number), JSON.stringify(attrs)).toEqual(Array.from({ length: 13 }, (_, i) => 7 + i));
    }
  });

  it("proposes less into a region where the objective fails than random search does (x > 0.6 fails; 8 seeds, 40 trials)", () => {
    let inRegion = 0;
    let proposals = 0;
    for (const seed of SEEDS.slice(0, 8)) {
      const tpe = tpeStrategyFactory.create(defaults);
      const study = makeStudy(space, { seed });
      const trials: Trial[] = [];
      for (let i = 0; i < 40; i++) {
        const s = tpe.suggest(suggestRequest(study, trials));
        const [x, y] = [s.params.x as number, s.params.y as number];
        const fails = x > 0.6;
        if (i >= 10) (proposals++, (inRegion += fails ? 1 : 0));
        trials.push(makeTrial(i, s.params, space, { state: fails ? "FAIL" : "COMPLETE", value: fails ? null : (x - 0.55) ** 2 + (y - 0.3) ** 2 }));
      }
    }
    // Random search: 40% in expectation. Failed evaluations in the bad set: 32%; left out (Optuna's rule): 80%.
    expect(inRegion / proposals).toBeLessThan(0.4);
  });
});

describe("tpe with constraints (Optuna's split: infeasible trials rank last, by violation)", () => {
  const space: SearchSpace = { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } };

  it("puts feasible trials in the good set first, then the least violating infeasible ones", () => {
    const trials = Array.from({ length: 30 }, (_, i) =>
      makeTrial(i, { x: i / 30, y: 0 }, space, { value: i, constraints: i < 10 ? [0.1 * (10 - i)] : [-1] }),
    );
    // gamma(30) = 3 good: the three best *feasible* values (10, 11, 12), not trials 0-2.
    expect(splitTrials(trials, "minimize", true).below.map((t) => t.number)).toEqual([10, 11, 12]);
    const mostlyInfeasible = trials.map((t, i) => (i < 28 ? { ...t, constraints: [1 + (i % 5)] } : t));
    // Two feasible (28, 29), then the least violation: 1 at trials 0, 5, 10... (the lowest numbers first).
    expect(splitTrials(mostlyInfeasible, "minimize", true).below.map((t) => t.number)).toEqual([0, 28, 29]);
  });

  it("finds a better feasible optimum than TPE blind to the constraint (min (x-.9)^2+(y-.9)^2, x+y <= 1; 8 seeds, 60 trials)", () => {
    const f = (p: Params) => ((p.x as number) - 0.9) ** 2 + ((p.y as number) - 0.9) ** 2;
    const c = (p: Params) => (p.x as number) + (p.y as number) - 1;
    const run = (seed: number, informed: boolean) => {
      const strategy = tpeStrategyFactory.create(defaults);
      const study = makeStudy(space, { seed, strategy: { name: "tpe", options: {} } });
      const seen: Trial[] = [];
      let best = Infinity;
      for (let i = 0; i < 60; i++) {
        const s = strategy.suggest(suggestRequest(study, seen));
        const cons = [c(s.params)];
        if (cons[0]! <= 0) best = Math.min(best, f(s.params));
        seen.push(makeTrial(i, s.params, space, { value: f(s.params), constraints: informed ? cons : null }));
      }
      return best;
    };
    let wins = 0;
    for (let seed = 1; seed <= 8; seed++) if (run(seed, true) < run(seed, false)) wins++;
    expect(wins).toBeGreaterThanOrEqual(6);
  });
});
