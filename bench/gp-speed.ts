/**
 * Time per GP suggestion on 6-D Hartmann at a given history size (the optimizer's own
 * work only). Usage: node <compiled>/bench/gp-speed.js [n=100,300] [reps=5]
 */
import { performance } from "node:perf_hooks";
import type { Trial } from "../src/domain/trial.js";
import { Rng } from "../src/math/rng.js";
import { gpStrategyFactory } from "../src/strategies/gp/gp-strategy.js";
import { sampleUniform } from "../src/strategies/sampling.js";
import { makeStudy, makeTrial, suggestRequest } from "../src/strategies/test-helpers.js";
import { hartmann6 } from "../src/testing/benchmark-functions.js";

const sizes = (process.argv[2] ?? "100,300").split(",").map(Number);
const reps = Number(process.argv[3] ?? 5);
const strategy = gpStrategyFactory.create(gpStrategyFactory.options.parse({}));
const space = hartmann6.space;
const study = makeStudy(space, { strategy: { name: "gp", options: {} } });
for (const n of sizes) {
  // History: GP-driven history would be the realistic case; warm-start θ comes from the previous suggestion.
  const rng = new Rng(n, "bench");
  const trials: Trial[] = [];
  for (let i = 0; i < n; i++) {
    const p = Object.fromEntries(Object.entries(space).map(([k, d]) => [k, sampleUniform(d, rng)]));
    trials.push(makeTrial(i, p, space, { value: hartmann6.evaluate(p) }));
  }
  // One untimed suggestion to record θ (the warm start of the timed ones), as in a running study.
  const first = strategy.suggest(suggestRequest(study, trials));
  const last = trials[n - 1]!;
  trials[n - 1] = { ...last, systemAttrs: first.systemAttrs ?? {} };
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    strategy.suggest(suggestRequest(study, trials));
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  process.stdout.write(`n=${n} d=6: median ${times[Math.floor(reps / 2)]!.toFixed(1)} ms/suggest (min ${times[0]!.toFixed(1)}, cold first ${"-"})\n`);
}
