import { describe, expect, it } from "vitest";
import type { SearchSpace } from "../../domain/distributions.js";
import { branin, shiftedRosenbrock } from "../../testing/benchmark-functions.js";
import { strategyConformance } from "../../testing/strategy.case.js";
import { bestValue, makeStudy, makeTrial, runOnProblem, suggestRequest } from "../../testing/fixtures.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { GENERATION_ATTR } from "../nsga2/nsga2-strategy.js";
import { ehviStrategyFactory } from "../ehvi/ehvi-strategy.js";
import { paregoStrategyFactory } from "../parego/parego-strategy.js";
import { tpeStrategyFactory } from "../tpe/tpe-strategy.js";
import { AutoStrategy, autoStrategyFactory, type AutoOptions } from "./auto-strategy.js";

const defaults = autoStrategyFactory.options.parse({});
strategyConformance(autoStrategyFactory, { options: { ...defaults, gp_until: 15 }, n: 25 });
// Without the hedge portfolio: GP from trial 10 on.
strategyConformance(autoStrategyFactory, { options: { ...defaults, portfolio: "off" }, n: 25 });
// Multi-objective: MOTPE, then NSGA-II from trial 20 (both phases inside the simulated budget);
// ParEGO (the default model) is in the conformance suite of its own (parego-strategy.test.ts).
strategyConformance(autoStrategyFactory, { options: { ...defaults, mo_model: "tpe", mo_nsga2_from: 20 }, n: 30, objectives: 2 });

const floats = (d: number): SearchSpace => Object.fromEntries(Array.from({ length: d }, (_, i) => [`x${i}`, { type: "float", low: 0, high: 1 }]));

describe("auto strategy", () => {
  it("gp.fullFitSchedule 'since': the hedge's GP fits θ fully once 10 rows were added since its last full fit, though the hedge asks it on some trials only", () => {
    // Under the default ("multiple") the GP fits fully only when it is asked at a multiple of 10
    // rows, so in the hedge most of its suggestions come from one warm L-BFGS iteration after
    // another (docs/BENCHMARKS.md, "The hedge's GP fitted on schedule: tried, not kept").
    const since = autoStrategyFactory.options.parse({ gp: { fullFitSchedule: "since" } });
    const trials = runOnProblem(autoStrategyFactory, since, shiftedRosenbrock(4, 3), 80, 3);
    const byGp = trials.filter((t) => t.systemAttrs.auto_arm === "gp");
    expect(byGp.length).toBeGreaterThan(10);
    expect(trials.some((t) => t.systemAttrs.auto_arm === "tpe")).toBe(true);
    let lastFull = 10;
    const full: number[] = [];
    for (const t of byGp) {
      const fitRows = t.systemAttrs.gp_fit_rows;
      if (t.number - lastFull >= 10) expect(fitRows, `trial ${t.number}`).toBe(t.number);
      if (fitRows === t.number) (lastFull = t.number), full.push(t.number);
    }
    expect(full.length).toBeGreaterThanOrEqual(5);
  });

  it("uses GP while few trials completed, TPE after gp_until, TPE for define-by-run-only studies", () => {
    const auto = new AutoStrategy({ ...defaults, gp_until: 3 });
    const study = makeStudy(branin.space);
    const done = (n: number) => Array.from({ length: n }, (_, i) => makeTrial(i, { x0: 0, x1: i }, branin.space, { value: i }));
    expect(auto.phase({ study, trials: done(2) })).toBe("gp");
    expect(auto.phase({ study, trials: done(3) })).toBe("tpe");
    expect(auto.suggest(suggestRequest(study, done(3))).systemAttrs?.auto_phase).toBe("tpe");
    expect(auto.phase({ study: makeStudy({}), trials: [] })).toBe("tpe");
  });

  it("goes to TPE from tpe_from_dim modelled dimensions; constant dimensions do not count", () => {
    const auto = new AutoStrategy({ ...defaults, tpe_from_dim: 8 });
    expect(auto.phase({ study: makeStudy(floats(7)), trials: [] })).toBe("gp");
    expect(auto.phase({ study: makeStudy(floats(8)), trials: [] })).toBe("tpe");
    const withConstant: SearchSpace = { ...floats(7), c: { type: "float", low: 1, high: 1 } };
    expect(auto.phase({ study: makeStudy(withConstant), trials: [] })).toBe("gp");
  });

  it("goes to TPE from a categorical share of tpe_from_cat_share", () => {
    const auto = new AutoStrategy({ ...defaults, tpe_from_cat_share: 0.5 });
    const cat = { type: "categorical", choices: ["a", "b", "c"] } as const;
    expect(auto.phase({ study: makeStudy({ ...floats(3), c0: cat, c1: cat }), trials: [] })).toBe("gp");
    expect(auto.phase({ study: makeStudy({ ...floats(2), c0: cat, c1: cat }), trials: [] })).toBe("tpe");
  });

  it("multi-objective: mo_model ehvi is LogEHVI's own suggestion", () => {
    const mo = makeStudy(floats(3), { directions: ["minimize", "minimize"] });
    const history = Array.from({ length: 12 }, (_, i) =>
      makeTrial(i, { x0: i / 12, x1: (i * 5) % 12 / 12, x2: 0.5 }, mo.space, { values: [i / 12, 1 - Math.sqrt(i / 12) + ((i * 5) % 12) / 12] }),
    );
    const direct = ehviStrategyFactory.create(ehviStrategyFactory.options.parse({})).suggest(suggestRequest(mo, history));
    const viaAuto = new AutoStrategy({ ...defaults, mo_model: "ehvi" }).suggest(suggestRequest(mo, history));
    expect(viaAuto.params).toEqual(direct.params);
    expect(viaAuto.systemAttrs?.auto_phase).toBe("ehvi");
  });

  it("multi-objective: below mo_objectives_below_dim (8) modelled dimensions, per-objective GPs: two objectives hedge ParEGO's scalarisation (sobol weights) with EHVI, three use the scalarisation", () => {
    expect(defaults.mo_objectives_below_dim).toBe(8);
    expect(defaults.mo_alternate_below_objectives).toBe(3);
    expect(defaults.mo_mix).toBe("hedge");
    const dirs: Direction[] = ["minimize", "minimize"];
    const three: Direction[] = ["minimize", "minimize", "minimize"];
    const auto = new AutoStrategy(defaults);
    expect(auto.phase({ study: makeStudy(floats(7), { directions: dirs }), trials: [] })).toBe("objectives-hedge");
    expect(new AutoStrategy({ ...defaults, mo_mix: "alternate" }).phase({ study: makeStudy(floats(7), { directions: dirs }), trials: [] })).toBe("objectives-alternate");
    expect(auto.phase({ study: makeStudy(floats(7), { directions: three }), trials: [] })).toBe("parego-objectives");
    expect(new AutoStrategy({ ...defaults, mo_alternate_below_objectives: 0 }).phase({ study: makeStudy(floats(7), { directions: dirs }), trials: [] })).toBe("parego-objectives");
    expect(auto.phase({ study: makeStudy(floats(8), { directions: dirs }), trials: [] })).toBe("parego");
    expect(new AutoStrategy({ ...defaults, mo_objectives_below_dim: 0 }).phase({ study: makeStudy(floats(2), { directions: dirs }), trials: [] })).toBe("parego");
    expect(new AutoStrategy({ ...defaults, mo_model: "tpe" }).phase({ study: makeStudy(floats(2), { directions: dirs }), trials: [] })).toBe("tpe");
    const history = (directions: Direction[]) => {
      const mo = makeStudy(floats(3), { directions });
      return { mo, trials: Array.from({ length: 12 }, (_, i) =>
        makeTrial(i, { x0: i / 12, x1: (i * 5) % 12 / 12, x2: 0.5 }, mo.space, { values: [i / 12, 1 - Math.sqrt(i / 12) + ((i * 5) % 12) / 12, 0.3].slice(0, directions.length) }),
      ) };
    };
    for (const [directions, acquisition, phase] of [[dirs, "hedge", "objectives-hedge"], [three, "chebyshev", "parego-objectives"]] as const) {
      const { mo, trials } = history([...directions]);
      const viaAuto = auto.suggest(suggestRequest(mo, trials));
      const refit = acquisition === "hedge" ? { maxWarmFitIterations: 50 } : {};
      const direct = ehviStrategyFactory.create(ehviStrategyFactory.options.parse({ acquisition, weights: "sobol", ...refit })).suggest(suggestRequest(mo, trials));
      expect(viaAuto.params).toEqual(direct.params);
      expect(viaAuto.systemAttrs).toMatchObject({ auto_phase: phase, parego_weights: direct.systemAttrs?.parego_weights });
      expect(viaAuto.systemAttrs?.ehvi_acquisition).toBe(direct.systemAttrs?.ehvi_acquisition);
      expect(viaAuto.systemAttrs?.ehvi_theta).toHaveLength(directions.length);
    }
  });

  it("multi-objective: the two-objective hedge refits its GPs from the stored θ with up to 50 L-BFGS iterations, not 1 (docs/BENCHMARKS.md run 13)", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    const mo = makeStudy(floats(3), { seed: 2, directions: dirs });
    // 25 COMPLETE trials (no full fit: not a multiple of fullFitEvery) whose latest θ is stale.
    const stale = [-2, -2, -2, 1, Math.log(0.05)];
    const trials = Array.from({ length: 25 }, (_, i) => {
      const x = [(i * 7) % 25 / 25, (i * 11) % 25 / 25, (i * 3) % 25 / 25];
      const attrs = i === 24 ? { ehvi_theta: [stale, stale] } : {};
      return makeTrial(i, { x0: x[0]!, x1: x[1]!, x2: x[2]! }, mo.space, { values: [(x[0]! - 0.3) ** 2 + x[1]!, (x[0]! - 0.7) ** 2 + x[2]!], systemAttrs: attrs });
    });
    const theta = (s: { systemAttrs?: Record<string, unknown> }) => s.systemAttrs?.ehvi_theta;
    const viaAuto = new AutoStrategy(defaults).suggest(suggestRequest(mo, trials));
    const hedge = (o: object) => ehviStrategyFactory.create(ehviStrategyFactory.options.parse({ acquisition: "hedge", weights: "sobol", ...o })).suggest(suggestRequest(mo, trials));
    expect(viaAuto.systemAttrs?.auto_phase).toBe("objectives-hedge");
    expect(theta(viaAuto)).toEqual(theta(hedge({ maxWarmFitIterations: 50 })));
    expect(theta(viaAuto)).not.toEqual(theta(hedge({})));
  });

  it("multi-objective: the two-objective hedge goes to log EHVI once its latest 8 proposals each added hypervolume, though the scalarisation leads (docs/BENCHMARKS.md run 14)", () => {
    const dirs: Direction[] = ["minimize", "minimize"];
    // Ten random-start trials on f1 + f2 = 1.2, then 8 EHVI proposals behind that front (dominated) and
    // 8 Chebyshev proposals on f1 + f2 = 1 (each adds area): the hedge gives EHVI its floor.
    const history = (seed: number) => {
      const mo = makeStudy(floats(3), { seed, directions: dirs });
      const at = (i: number, a: number, b: number, arm?: string) =>
        makeTrial(i, { x0: ((i * 7) % 26) / 26, x1: ((i * 11) % 26) / 26, x2: a }, mo.space, { values: [a, b], systemAttrs: arm ? { ehvi_acquisition: arm } : {} });
      const trials = Array.from({ length: 10 }, (_, i) => at(i, i / 9, 1.2 - i / 9));
      for (let k = 0; k < 8; k++) trials.push(at(10 + k, 0.1 + k / 10, 1.3 - k / 10, "ehvi"));
      for (let k = 0; k < 8; k++) trials.push(at(18 + k, 0.05 + k / 10, 0.95 - k / 10, "chebyshev"));
      return suggestRequest(mo, trials);
    };
    const arms = (strategy: { suggest: AutoStrategy["suggest"] }) => [1, 2, 3, 4, 5].map((seed) => strategy.suggest(history(seed)).systemAttrs?.ehvi_acquisition);
    expect(arms(new AutoStrategy(defaults))).toEqual(["ehvi", "ehvi", "ehvi", "ehvi", "ehvi"]);
    // The same hedge without the rule gives most of them to the scalarisation.
    const without = arms(ehviStrategyFactory.create(ehviStrategyFactory.options.parse({ acquisition: "hedge", weights: "sobol", maxWarmFitIterations: 50 })));
    expect(without.filter((a) => a === "chebyshev").length).toBeGreaterThanOrEqual(3);
  });

  it("multi-objective: ParEGO by default from 8 modelled dimensions; with mo_model tpe, MOTPE below mo_nsga2_from COMPLETE trials, NSGA-II from there", () => {
    const mo = makeStudy(floats(8), { directions: ["minimize", "minimize"] });
    expect(new AutoStrategy(defaults).phase({ study: mo, trials: [] })).toBe("parego");
    expect(defaults).toMatchObject({ mo_model: "parego", mo_nsga2_from: 1_000_000_000 });
    const history = Array.from({ length: 12 }, (_, i) =>
      makeTrial(i, { ...Object.fromEntries(Array.from({ length: 8 }, (_, k) => [`x${k}`, 0.5])), x0: i / 12, x1: (i * 5) % 12 / 12 }, mo.space,
        { values: [i / 12, 1 - Math.sqrt(i / 12) + ((i * 5) % 12) / 12] }),
    );
    const viaAuto = new AutoStrategy(defaults).suggest(suggestRequest(mo, history));
    const direct = paregoStrategyFactory.create(paregoStrategyFactory.options.parse({})).suggest(suggestRequest(mo, history));
    expect(viaAuto.params).toEqual(direct.params);
    expect(viaAuto.systemAttrs).toMatchObject({ auto_phase: "parego", parego_weights: direct.systemAttrs?.parego_weights });
    const auto = new AutoStrategy({ ...defaults, mo_model: "tpe", mo_nsga2_from: 60 });
    const directions: Direction[] = ["minimize", "maximize"];
    const study = makeStudy(floats(3), { directions });
    const tpe = tpeStrategyFactory.create(tpeStrategyFactory.options.parse({}));
    const trials: Trial[] = [];
    for (let i = 0; i < 61; i++) {
      const req = suggestRequest(study, trials);
      expect(auto.phase(req)).toBe(i < 60 ? "tpe" : "nsga2");
      const s = auto.suggest(req);
      expect(s.systemAttrs?.auto_phase).toBe(i < 60 ? "tpe" : "nsga2");
      // Before the switch the suggestion is MOTPE's own; after it NSGA-II's (with its generation).
      if (i < 60) expect(s.params).toEqual(tpe.suggest(suggestRequest(study, trials)).params);
      else expect(s.systemAttrs?.[GENERATION_ATTR]).toBe(1); // 60 generation-0 trials ≥ population 50
      const x = [0, 1, 2].map((k) => s.params[`x${k}`] as number);
      trials.push(makeTrial(i, s.params, study.space, { values: [x[0]!, x[1]! - x[2]!], systemAttrs: s.systemAttrs ?? {} }));
    }
    // RUNNING trials do not count towards the switch.
    const running = trials.map((t) => ({ ...t, state: "RUNNING" as const }));
    expect(auto.phase({ study, trials: running })).toBe("tpe");
    expect(autoStrategyFactory.multiObjective).toBe(true);
  });

  it("proposes less into a region where the objective fails than random search does (4-D, x0 > 0.6 fails; 8 seeds, 40 trials)", () => {
    // Failed evaluations left out of both models (Optuna's rule) sent 69% of the model-based
    // proposals into the failing 40% of the space (docs/BENCHMARKS.md, "Failed trials").
    const space = floats(4);
    const study = (seed: number) => makeStudy(space, { seed });
    const centre = [0.55, 0.3, 0.7, 0.4];
    let inRegion = 0;
    let proposals = 0;
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const auto = autoStrategyFactory.create(defaults);
      const trials: Trial[] = [];
      for (let i = 0; i < 40; i++) {
        const s = auto.suggest(suggestRequest(study(seed), trials));
        const x = centre.map((_, j) => s.params[`x${j}`] as number);
        const fails = x[0]! > 0.6;
        if (i >= 10) (proposals++, (inRegion += fails ? 1 : 0));
        const value = fails ? null : x.reduce((acc, v, j) => acc + (v - centre[j]!) ** 2, 0);
        trials.push(makeTrial(i, s.params, space, { state: fails ? "FAIL" : "COMPLETE", value, systemAttrs: s.systemAttrs ?? {} }));
      }
    }
    // Random search: 40% in expectation. With failed evaluations modelled: 32%; left out: 60%.
    expect(inRegion / proposals).toBeLessThan(0.4);
  });

  it("is the default and refuses unknown options", () => {
    expect(defaults).toMatchObject({ gp_until: 1_000_000_000 });
    expect(() => autoStrategyFactory.options.parse({ nope: 1 })).toThrow();
  });

  describe("hedge portfolio", () => {
    const hedge = { ...defaults, portfolio: "hedge" as const };
    const off = { ...defaults, portfolio: "off" as const };
    const study = makeStudy(floats(2));
    // Ten random-start trials valued 10..19, then proposals by arm with the given values.
    const history = (proposals: readonly (readonly ["gp" | "tpe", number, (readonly number[])?])[]): Trial[] => {
      const start = Array.from({ length: 10 }, (_, i) => makeTrial(i, { x0: i / 10, x1: 0.5 }, study.space, { value: 10 + i }));
      return start.concat(
        proposals.map(([arm, value, constraints], k) =>
          makeTrial(10 + k, { x0: 0.05 + k / 40, x1: 0.3 }, study.space, { value, constraints: constraints ?? null, systemAttrs: { auto_arm: arm } }),
        ),
      );
    };

    it("gives the arm whose proposals rank better the larger share, never beyond the floor; ranks, not values", () => {
      const auto = new AutoStrategy(hedge);
      expect(auto.hedgeShare({ study, trials: history([]) })).toBe(0.5);
      const gpAhead = history([["gp", 1], ["tpe", 30], ["gp", 2], ["tpe", 40], ["gp", 0.5], ["tpe", 50]]);
      expect(auto.hedgeShare({ study, trials: gpAhead })).toBe(1 - defaults.portfolio_floor);
      const tpeAhead = history([["gp", 30], ["tpe", 1], ["gp", 40], ["tpe", 2], ["gp", 50], ["tpe", 0.5]]);
      expect(auto.hedgeShare({ study, trials: tpeAhead })).toBe(defaults.portfolio_floor);
      // Scaling the objective changes nothing; maximising mirrors it.
      const scaled = history([["gp", 1e6], ["tpe", 3e7], ["gp", 2e6]]).map((t, i) => (i < 10 ? { ...t, value: (t.value as number) * 1e6, values: [(t.value as number) * 1e6] } : t));
      const plain = history([["gp", 1], ["tpe", 30], ["gp", 2]]);
      expect(auto.hedgeShare({ study, trials: scaled })).toBeCloseTo(auto.hedgeShare({ study, trials: plain }), 12);
      const max = makeStudy(floats(2), { direction: "maximize" });
      expect(auto.hedgeShare({ study: max, trials: gpAhead })).toBe(defaults.portfolio_floor);
    });

    it("scores only the latest portfolio_window proposals of each arm, and an infeasible proposal as beating nothing", () => {
      const auto = new AutoStrategy({ ...hedge, portfolio_window: 2 });
      // GP's early proposals were good, its last two bad; TPE's were middling throughout.
      const turned = history([["gp", 0], ["gp", 0.1], ["tpe", 14.5], ["tpe", 14.5], ["gp", 99], ["gp", 98]]);
      expect(auto.hedgeShare({ study, trials: turned })).toBeLessThan(0.5);
      const infeasible = history([["gp", 0, [1]], ["tpe", 14.5, [-1]], ["gp", 0, [2]], ["tpe", 14.5, [-1]]]);
      expect(auto.hedgeShare({ study, trials: infeasible })).toBeLessThan(0.5);
    });

    it("scores a failed evaluation as beating nothing; a lost lease or a cancelled proposal is not scored", () => {
      const auto = new AutoStrategy({ ...hedge, portfolio_floor: 0 });
      // GP's proposals failed (the objective raised), TPE's were middling.
      const fail = (t: Trial, attrs: Record<string, unknown> = {}): Trial => ({ ...t, state: "FAIL", value: null, values: null, systemAttrs: { ...t.systemAttrs, ...attrs } });
      const base = history([["gp", 0], ["tpe", 14.5], ["gp", 0], ["tpe", 14.5]]);
      const failed = base.map((t) => (t.systemAttrs.auto_arm === "gp" ? fail(t) : t));
      expect(auto.hedgeShare({ study, trials: failed })).toBeLessThan(0.1);
      for (const attrs of [{ fail_reason: "lease_expired" }, { cancelled: true, fail_reason: "cancelled" }]) {
        const lost = base.map((t) => (t.systemAttrs.auto_arm === "gp" ? fail(t, attrs) : t));
        expect(auto.hedgeShare({ study, trials: lost }), JSON.stringify(attrs)).toBe(auto.hedgeShare({ study, trials: history([["tpe", 14.5], ["tpe", 14.5]]) }));
      }
    });

    describe("portfolio_credit", () => {
      const credit = (c: AutoOptions["portfolio_credit"], extra: Partial<AutoOptions> = {}) => new AutoStrategy({ ...hedge, ...extra, portfolio_credit: c });
      // GP explores: three new bests among poor proposals; TPE stays near the good region without passing it.
      const explorerHistory = () =>
        history([["gp", 5], ["tpe", 12], ["gp", 100], ["tpe", 12], ["gp", 4], ["tpe", 12], ["gp", 100], ["tpe", 12], ["gp", 3], ["tpe", 12]]);

      it("is 'blend' by default, and 'earlier' under a scheduler", () => {
        expect(defaults.portfolio_credit).toBe("blend");
        expect(defaults.portfolio_credit_under_scheduler).toBe("earlier");
      });

      it("'blend' scores an arm by the mean of its 'earlier' and 'elite' credits", () => {
        // The history of the 'elite' case below, where the two credits disagree; without a floor the
        // share is the logistic of the score difference, so its logit is the mean of theirs.
        const trials = explorerHistory();
        const logit = (c: AutoOptions["portfolio_credit"]) => {
          const p = credit(c, { portfolio_floor: 0 }).hedgeShare({ study, trials });
          return Math.log(p / (1 - p));
        };
        expect(logit("earlier")).toBeLessThan(0);
        expect(logit("elite")).toBeGreaterThan(0);
        expect(logit("blend")).toBeCloseTo((logit("earlier") + logit("elite")) / 2, 9);
        expect(logit("blend")).not.toBeCloseTo(logit("earlier"), 3);
      });

      it("under a scheduler follows portfolio_credit_under_scheduler, not portfolio_credit", () => {
        const scheduled = makeStudy(floats(2), { scheduler: { name: "median", options: {} } });
        const trials = explorerHistory();
        const share = (o: Partial<AutoOptions>) => new AutoStrategy({ ...hedge, portfolio_floor: 0, ...o }).hedgeShare({ study: scheduled, trials });
        expect(share({})).toBe(share({ portfolio_credit: "earlier", portfolio_credit_under_scheduler: "earlier" }));
        expect(share({ portfolio_credit: "elite" })).toBe(share({}));
        expect(share({ portfolio_credit_under_scheduler: "elite" })).not.toBe(share({}));
        expect(share({})).toBeLessThan(0.5);
      });

      it("'elite' credits the arm whose proposals pass the best trials, not the one whose proposals are merely better than most", () => {
        const trials = explorerHistory();
        expect(credit("earlier").hedgeShare({ study, trials })).toBeLessThan(0.5);
        expect(credit("elite").hedgeShare({ study, trials })).toBeGreaterThan(0.5);
      });

      it("'recent' ranks a proposal against the latest 2 × portfolio_window scored trials only", () => {
        // Ten lucky early trials (0..9), twenty poor ones (50), then two proposals of each arm that pass every poor one.
        const start = Array.from({ length: 30 }, (_, i) => makeTrial(i, { x0: i / 30, x1: 0.5 }, study.space, { value: i < 10 ? i : 50 }));
        const arms = ([["gp", 20], ["gp", 20], ["tpe", 5.5], ["tpe", 5.5]] as const).map(([arm, value], k) =>
          makeTrial(30 + k, { x0: 0.1 + k / 40, x1: 0.3 }, study.space, { value, systemAttrs: { auto_arm: arm } }),
        );
        const trials = start.concat(arms);
        // Against every earlier trial TPE's proposals, better than some lucky ones, rank higher; against the latest four both pass all.
        expect(credit("earlier", { portfolio_window: 2 }).hedgeShare({ study, trials })).toBeLessThan(0.5);
        expect(credit("recent", { portfolio_window: 2 }).hedgeShare({ study, trials })).toBe(0.5);
      });

      it("'other-arm' ranks each arm's proposals against the other's", () => {
        // Every proposal is worse than every trial before it; GP's are mostly better than TPE's.
        const trials = history([["gp", 30], ["tpe", 32], ["gp", 34], ["tpe", 36]]);
        expect(credit("earlier").hedgeShare({ study, trials })).toBe(0.5);
        expect(credit("other-arm").hedgeShare({ study, trials })).toBe(1 - defaults.portfolio_floor);
      });
    });

    it("beats GP alone on a shifted 5-D Rosenbrock, where TPE leads the GP (50 trials, at least 3 of 5 seeds; 4 of 5 when written)", () => {
      let wins = 0;
      for (const seed of [1, 2, 3, 4, 5]) {
        const problem = shiftedRosenbrock(5, seed);
        if (bestValue(runOnProblem(autoStrategyFactory, hedge, problem, 50, seed)) < bestValue(runOnProblem(autoStrategyFactory, off, problem, 50, seed))) wins++;
      }
      expect(wins).toBeGreaterThanOrEqual(3);
    });

    it("is the default; marks each model-based suggestion with its arm; none when off and before the random start ends", () => {
      expect(defaults.portfolio).toBe("hedge");
      const withArms = (opts: AutoOptions, s = study, n = 30) => {
        const trials: Trial[] = [];
        for (let i = 0; i < n; i++) {
          const sug = new AutoStrategy(opts).suggest(suggestRequest(s, trials));
          const x = sug.params as { x0: number; x1: number };
          trials.push(makeTrial(i, sug.params, s.space, { value: (x.x0 - 0.3) ** 2 + (x.x1 - 0.7) ** 2, systemAttrs: sug.systemAttrs ?? {} }));
        }
        return trials.map((t) => t.systemAttrs.auto_arm);
      };
      const arms = withArms(hedge);
      expect(arms.slice(0, 10).every((a) => a === undefined)).toBe(true);
      expect(arms.slice(10).every((a) => a === "gp" || a === "tpe")).toBe(true);
      expect(new Set(arms.slice(10)).size).toBe(2);
      expect(withArms(off, study, 12).every((a) => a === undefined)).toBe(true);
      // Under a scheduler too (portfolio_under_scheduler, default "hedge"); off, GP alone.
      expect(defaults.portfolio_under_scheduler).toBe("hedge");
      const scheduled = makeStudy(floats(2), { scheduler: { name: "median", options: {} } });
      const underScheduler = withArms(hedge, scheduled, 30);
      expect(underScheduler.slice(0, 10).every((a) => a === undefined)).toBe(true);
      expect(underScheduler.slice(10).every((a) => a === "gp" || a === "tpe")).toBe(true);
      expect(withArms({ ...hedge, portfolio_under_scheduler: "off" }, scheduled, 12).every((a) => a === undefined)).toBe(true);
    });

    describe("under a scheduler", () => {
      const scheduled = makeStudy(floats(2), { scheduler: { name: "asha", options: {} } });
      const auto = new AutoStrategy({ ...hedge, portfolio_under_scheduler: "hedge" });
      // A trial stopped after reporting `value` at `step` (PRUNED), or trained to the end (COMPLETE).
      const stopped = (n: number, step: number, value: number, arm?: "gp" | "tpe", extra: Record<string, unknown> = {}) =>
        makeTrial(n, { x0: (n % 37) / 37, x1: 0.5 }, scheduled.space, {
          state: "PRUNED",
          value: null,
          intermediate: [{ step, value }],
          systemAttrs: { ...(arm ? { auto_arm: arm } : {}), ...extra },
        });
      const start = Array.from({ length: 10 }, (_, i) => stopped(i, 1, 10 + i));

      it("scores PRUNED proposals: deeper beats shallower whatever the values, then the value at the same depth", () => {
        // GP's proposals survive to step 3 with poor values; TPE's stop at step 1 with good ones.
        const deeper = start.concat([stopped(10, 3, 50, "gp"), stopped(11, 1, 0, "tpe"), stopped(12, 3, 60, "gp"), stopped(13, 1, 0.5, "tpe")]);
        expect(auto.hedgeShare({ study: scheduled, trials: deeper })).toBeGreaterThan(0.5);
        // Same depth: the better value wins.
        const level = start.concat([stopped(10, 1, 50, "gp"), stopped(11, 1, 0, "tpe"), stopped(12, 1, 60, "gp"), stopped(13, 1, 0.5, "tpe")]);
        expect(auto.hedgeShare({ study: scheduled, trials: level })).toBeLessThan(0.5);
        // A COMPLETE trial (the full budget) beats any stopped one.
        const complete = start.concat([
          makeTrial(10, { x0: 0.1, x1: 0.2 }, scheduled.space, { value: 99, intermediate: [{ step: 9, value: 99 }], systemAttrs: { auto_arm: "tpe" } }),
          stopped(11, 3, 0, "gp"),
        ]);
        expect(auto.hedgeShare({ study: scheduled, trials: complete })).toBeLessThan(0.5);
        // Without the option the same history is not hedged, and a study without a scheduler ignores PRUNED proposals.
        expect(new AutoStrategy(hedge).hedgeShare({ study, trials: deeper })).toBe(0.5);
      });

      it("credits a promoted proposal with its continuation's standing", () => {
        // GP's proposal 10 stopped at step 1 with a poor value but was promoted: 12 continued it to step 9.
        const base = start.concat([stopped(10, 1, 40, "gp"), stopped(11, 1, 5, "tpe")]);
        const promoted = base.concat([stopped(12, 9, 30, undefined, { resume_from: 10 })]);
        expect(auto.hedgeShare({ study: scheduled, trials: base })).toBeLessThan(0.5);
        expect(auto.hedgeShare({ study: scheduled, trials: promoted })).toBeGreaterThan(0.5);
      });
    });
  });
});
