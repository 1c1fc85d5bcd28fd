/**
 * Model-based strategies under pruners and multi-fidelity schedulers (issue 17): they learn from
 * stopped trials, and they never propose the same configuration twice on a continuous space.
 * Runs in process (src/testing/scheduled-study.ts) on the learning-curve problem with a region that
 * diverges to NaN; three seeds per pair.
 */
import { describe, expect, it } from "vitest";
import type { Params } from "../domain/distributions.js";
import type { Trial } from "../domain/trial.js";
import { ashaSchedulerFactory } from "../schedulers/asha/asha-scheduler.js";
import { medianSchedulerFactory } from "../schedulers/median/median-scheduler.js";
import { learningCurveProblem } from "../testing/learning-curve.js";
import { repeatedConfigurations, runScheduledStudy } from "../testing/scheduled-study.js";
import { AutoStrategy, autoStrategyFactory } from "./auto/auto-strategy.js";
import { DEFAULT_STRATEGY, STRATEGIES } from "./index.js";
import type { SchedulerFactory, StrategyFactory } from "../domain/plugin.js";
import { makeStudy, makeTrial, suggestRequest } from "../testing/fixtures.js";

const R = 9;
const lc = learningCurveProblem(R);
/** The learning curve, except that configurations with x5 > 0.8 diverge to NaN after step 2. */
const curveFor = (seed: number) => (p: Params, t: number) =>
  (p.x5 as number) > 0.8 && t > 2 ? NaN : lc.observe(p, t, seed, JSON.stringify(p));

const runs = new Map<string, Trial[]>();
/** One study of 30 full budgets (cached: two tests read the median runs). */
function run(strategy: StrategyFactory<any>, scheduler: SchedulerFactory<any>, schedulerOptions: Record<string, unknown>, seed: number): Trial[] {
  const key = JSON.stringify([strategy.name, scheduler.name, schedulerOptions, seed]);
  let trials = runs.get(key);
  if (trials === undefined) {
    trials = runScheduledStudy({
      strategy, scheduler, schedulerOptions, space: lc.space, curve: curveFor(seed), maxResource: R, totalSteps: R * 30, seed,
    });
    runs.set(key, trials);
  }
  return trials;
}

describe("strategies under schedulers", () => {
  const auto = STRATEGIES.get(DEFAULT_STRATEGY)!;
  const tpe = STRATEGIES.get("tpe")!;
  const cases: [string, SchedulerFactory<any>, Record<string, unknown>][] = [
    ["median", medianSchedulerFactory, {}],
    ["asha stopping", ashaSchedulerFactory, {}],
    ["asha promotion", ashaSchedulerFactory, { mode: "promotion" }],
  ];
  for (const [label, scheduler, options] of cases) {
    it(`no repeated configuration: the default strategy and tpe with ${label}, 3 seeds`, () => {
      for (const seed of [1, 2, 3]) {
        for (const strategy of [auto, tpe]) {
          const trials = run(strategy, scheduler, options, seed);
          const stopped = trials.filter((t) => t.state === "PRUNED" || t.systemAttrs.rung === 0).length;
          expect(stopped, `${strategy.name} seed ${seed}: the scheduler stopped trials`).toBeGreaterThan(10);
          const repeats = repeatedConfigurations(trials);
          expect(repeats.map((t) => t.number), `${strategy.name} seed ${seed}, ${trials.length} trials`).toEqual([]);
        }
      }
    });
  }

  it("the default strategy models stopped trials: under median it leaves its random start before 10 trials complete", () => {
    for (const seed of [1, 2, 3]) {
      const trials = run(auto, medianSchedulerFactory, {}, seed);
      const firstModelled = trials.findIndex((t) => Array.isArray(t.systemAttrs.gp_theta));
      expect(firstModelled, `seed ${seed}`).toBeGreaterThan(0);
      const completeBefore = trials.slice(0, firstModelled).filter((t) => t.state === "COMPLETE").length;
      expect(completeBefore, `seed ${seed}: COMPLETE trials before the first model-based suggestion`).toBeLessThan(10);
    }
  });

  it("auto with a scheduler follows with_scheduler; PRUNED trials count towards gp_until", () => {
    const space = lc.space;
    const p = Object.fromEntries(Object.keys(space).map((k) => [k, 0.5]));
    const history = [
      makeTrial(0, p, space, { value: 1 }),
      makeTrial(1, p, space, { state: "PRUNED", value: 2, intermediate: [{ step: 1, value: 2 }] }),
      makeTrial(2, p, space, { state: "PRUNED", value: 3, intermediate: [{ step: 1, value: 3 }] }),
    ];
    const defaults = autoStrategyFactory.options.parse({});
    expect(defaults.with_scheduler).toBe("gp");
    const scheduled = makeStudy(space, { scheduler: { name: "median", options: {} } });
    const plain = makeStudy(space);
    const a = new AutoStrategy({ ...defaults, gp_until: 3 });
    expect(a.phase({ study: scheduled, trials: history })).toBe("tpe");
    expect(a.phase({ study: plain, trials: history })).toBe("gp");
    expect(new AutoStrategy({ ...defaults, with_scheduler: "tpe" }).phase({ study: scheduled, trials: [] })).toBe("tpe");
    expect(new AutoStrategy(defaults).suggest(suggestRequest(scheduled, history)).systemAttrs?.auto_phase).toBe("gp");
  });
});
