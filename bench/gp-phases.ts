/**
 * Per-phase CPU time of GP suggestions on 6-D Hartmann (same loop as gp-speed.ts): the fit
 * (GpObjective.value/evaluate), candidate scoring (meanAndVarianceBound + predictBatch) and
 * local search (predictWithGradient + predict), by wrapping the model's prototype methods
 * with CPU timers (process.cpuUsage, about a microsecond per call).
 * Usage: node dist-bench/bench/gp-phases.js [n=100,300] [reps=10]
 */
import { performance } from "node:perf_hooks";
import type { Trial } from "../src/domain/trial.js";
import { Rng } from "../src/math/rng.js";
import { GpObjective, GpPosterior } from "../src/strategies/gp/gp-model.js";
import { gpStrategyFactory } from "../src/strategies/gp/gp-strategy.js";
import { sampleUniform } from "../src/domain/sampling.js";
import { makeStudy, makeTrial, suggestRequest } from "../src/testing/fixtures.js";
import { hartmann6 } from "../src/testing/benchmark-functions.js";

const acc: Record<string, number> = {};
const calls: Record<string, number> = {};
function wrap(proto: object, method: string, phase: string): void {
  const p = proto as Record<string, (...a: unknown[]) => unknown>;
  const f = p[method];
  if (typeof f !== "function") return;
  p[method] = function (this: unknown, ...a: unknown[]) {
    const c0 = process.cpuUsage();
    try {
      return f.apply(this, a);
    } finally {
      const c = process.cpuUsage(c0);
      acc[phase] = (acc[phase] ?? 0) + (c.user + c.system) / 1000;
      calls[method] = (calls[method] ?? 0) + 1;
    }
  };
}
wrap(GpObjective.prototype, "value", "fit");
wrap(GpObjective.prototype, "evaluate", "fit");
wrap(GpPosterior.prototype, "meanAndVarianceBound", "cands");
wrap(GpPosterior.prototype, "predictBatch", "cands");
wrap(GpPosterior.prototype, "predictWithGradient", "local");
wrap(GpPosterior.prototype, "predict", "local");
wrap(GpPosterior.prototype, "prepare", "prep");

const sizes = (process.argv[2] ?? "100,300").split(",").map(Number);
const reps = Number(process.argv[3] ?? 10);
const space = hartmann6.space;
const study = makeStudy(space, { strategy: { name: "gp", options: {} } });
for (const n of sizes) {
  const strategy = gpStrategyFactory.create(gpStrategyFactory.options.parse(JSON.parse(process.env.GP_OPTS ?? "{}")));
  const rng = new Rng(n, "bench");
  const trials: Trial[] = [];
  for (let i = 0; i < n - reps; i++) {
    const p = Object.fromEntries(Object.entries(space).map(([k, d]) => [k, sampleUniform(d, rng)]));
    trials.push(makeTrial(i, p, space, { value: hartmann6.evaluate(p) }));
  }
  let s = strategy.suggest(suggestRequest(study, trials));
  for (const k of Object.keys(acc)) delete acc[k];
  for (const k of Object.keys(calls)) delete calls[k];
  let total = 0;
  let cpu = 0;
  let best = Infinity;
  const fits: string[] = [];
  for (let r = 0; r < reps; r++) {
    const fit0 = acc.fit ?? 0;
    const ev0 = calls.evaluate ?? 0;
    trials.push(makeTrial(trials.length, s.params, space, { value: hartmann6.evaluate(s.params), systemAttrs: s.systemAttrs ?? {} }));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    s = strategy.suggest(suggestRequest(study, trials));
    total += performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu += (c.user + c.system) / 1000;
    best = Math.min(best, hartmann6.evaluate(s.params));
    fits.push(`${((acc.fit ?? 0) - fit0).toFixed(0)}/${(calls.evaluate ?? 0) - ev0}`);
  }
  const per = (x: number) => (x / reps).toFixed(1);
  const phases = Object.entries(acc).map(([k, v]) => `${k} ${per(v)}`).join(", ");
  const cs = Object.entries(calls).map(([k, v]) => `${k} ${(v / reps).toFixed(0)}`).join(", ");
  process.stdout.write(`n=${n}: mean ${per(total)} ms wall, ${per(cpu)} ms CPU; ${phases}; rest ${per(cpu - Object.values(acc).reduce((a, b) => a + b, 0))}\n  calls/suggest: ${cs}; last value ${hartmann6.evaluate(s.params).toFixed(4)}\n  fit ms/evaluations per suggestion: ${fits.join(" ")}\n`);
}
