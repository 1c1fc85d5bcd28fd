/**
 * Statistical check: on the learning-curve problem (src/testing/learning-curve.ts), ASHA
 * reaches the quality of random search at full budget with fewer total training steps
 * (asserted: under half of them, in at least 8 of 10 seeds; measured ratios 0.1–0.45).
 *
 * Workers are simulated in-process: 4 workers take turns training one step each; the service's
 * behaviour is mimicked (beforeSuggest, report → onReport, attrs merged, prune/complete).
 * Quality of a method at a moment = noise-free value at max budget of the configuration it
 * would return (the best observed value among trials that trained to max budget).
 */
import { describe, expect, it } from "vitest";
import type { Params } from "../../domain/distributions.js";
import type { Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { sampleUniform } from "../../domain/sampling.js";
import { makeStudy, makeTrial } from "../../testing/fixtures.js";
import { learningCurveProblem } from "../../testing/learning-curve.js";
import type { Scheduler } from "../../domain/plugin.js";
import { ashaSchedulerFactory } from "./asha-scheduler.js";

const lc = learningCurveProblem(81);
// Configurations come from one stream per seed, shared by random search and ASHA (a paired comparison).
const draw = (seed: number, n: number): Params =>
  Object.fromEntries(Object.entries(lc.space).map(([k, d]) => [k, sampleUniform(d, new Rng(seed, "lc-config", n, k))]));

/** Random search, every configuration trained to max budget: the quality after `n` configurations. */
function randomFullBudget(seed: number, n: number): { quality: number; steps: number } {
  let best = Infinity;
  let quality = Infinity;
  for (let i = 0; i < n; i++) {
    const p = draw(seed, i);
    const obs = lc.observe(p, lc.maxSteps, seed, i);
    if (obs < best) {
      best = obs;
      quality = lc.mean(p, lc.maxSteps);
    }
  }
  return { quality, steps: n * lc.maxSteps };
}

/** Steps ASHA needs before its returned configuration is at least `target` good (Infinity if never within `limit`). */
function ashaStepsTo(mode: "stopping" | "promotion", seed: number, target: number, limit: number): number {
  const options = ashaSchedulerFactory.options.parse({ mode, min_resource: 1, max_resource: lc.maxSteps, reduction_factor: 3 });
  const scheduler: Scheduler = ashaSchedulerFactory.create(options);
  const study = makeStudy(lc.space, { seed, scheduler: { name: "asha", options } });
  const trials: Trial[] = [];
  const root: number[] = [];
  const workers: (number | null)[] = [null, null, null, null];
  let steps = 0;
  let bestObs = Infinity;
  let quality = Infinity;
  while (steps < limit) {
    for (let w = 0; w < workers.length; w++) {
      if (workers[w] === null) {
        const n = trials.length;
        const sug = scheduler.beforeSuggest!({ study, trials: [...trials], trialNumber: n, rng: Rng.derive(seed, n, "scheduler") })!;
        const from = sug.systemAttrs?.resume_from;
        const params = Object.keys(sug.params).length > 0 ? { ...sug.params } : draw(seed, n);
        root[n] = typeof from === "number" ? (root[from] as number) : n;
        trials.push(makeTrial(n, params, lc.space, { state: "RUNNING", value: null, systemAttrs: { ...sug.systemAttrs } }));
        workers[w] = n;
      }
      const n = workers[w] as number;
      const t = trials[n] as Trial;
      const budget = t.systemAttrs.budget as number;
      const last = t.intermediate[t.intermediate.length - 1];
      const step = last ? last.step + 1 : (typeof t.systemAttrs.resume_budget === "number" ? t.systemAttrs.resume_budget : 0) + 1;
      const value = lc.observe(t.params, step, seed, root[n] as number);
      const updated: Trial = { ...t, intermediate: [...t.intermediate, { step, value }] };
      trials[n] = updated;
      steps++;
      const res = scheduler.onReport({ study, trials: [...trials], trial: updated, step, value, data: {}, rng: new Rng(seed, n, step) });
      const systemAttrs = { ...updated.systemAttrs, ...res?.systemAttrs };
      if (res?.decision.action === "prune") {
        trials[n] = { ...updated, systemAttrs, state: "PRUNED", value, finishedAt: steps };
        workers[w] = null;
      } else if (step >= budget) {
        trials[n] = { ...updated, systemAttrs, state: "COMPLETE", value, finishedAt: steps };
        workers[w] = null;
        if (step >= lc.maxSteps && value < bestObs) {
          bestObs = value;
          quality = lc.mean(t.params, lc.maxSteps);
        }
        if (quality <= target) return steps;
      } else {
        trials[n] = { ...updated, systemAttrs };
      }
    }
  }
  return Infinity;
}

describe("asha on the learning-curve problem (statistical, 10 seeds)", () => {
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const N_RANDOM = 40;

  for (const mode of ["stopping", "promotion"] as const) {
    it(`${mode}: reaches random-full-budget's quality (${N_RANDOM} configurations) with under half the steps in ≥ 8 of 10 seeds`, () => {
      const ratios: number[] = [];
      let wins = 0;
      for (const seed of seeds) {
        const random = randomFullBudget(seed, N_RANDOM); // the same configuration stream ASHA draws from
        const steps = ashaStepsTo(mode, seed, random.quality, random.steps);
        ratios.push(steps / random.steps);
        if (steps < 0.5 * random.steps) wins++;
      }
      expect(wins, `steps ratios ASHA / random: ${ratios.map((r) => r.toFixed(2)).join(", ")}`).toBeGreaterThanOrEqual(8);
    });
  }
});
