/**
 * Time per GP suggestion on 6-D Hartmann at a given history size, in a realistic ask/tell
 * loop: the history holds n − reps uniform random trials plus the GP's own suggestions,
 * each carrying the θ its suggestion fitted (the warm start of the next fit). Only the
 * optimizer's work is timed. Usage: node <compiled>/bench/gp-speed.js [n=100,300] [reps=10]
 */
import { performance } from "node:perf_hooks";
import type { Trial } from "../src/domain/trial.js";
import { Rng } from "../src/math/rng.js";
import { gpStrategyFactory } from "../src/strategies/gp/gp-strategy.js";
import { sampleUniform } from "../src/domain/sampling.js";
import { makeStudy, makeTrial, suggestRequest } from "../src/testing/fixtures.js";
import { hartmann6 } from "../src/testing/benchmark-functions.js";

const sizes = (process.argv[2] ?? "100,300").split(",").map(Number);
const reps = Number(process.argv[3] ?? 10);
const space = hartmann6.space;
const study = makeStudy(space, { strategy: { name: "gp", options: {} } });
for (const n of sizes) {
  const strategy = gpStrategyFactory.create(gpStrategyFactory.options.parse({}));
  const rng = new Rng(n, "bench");
  const trials: Trial[] = [];
  for (let i = 0; i < n - reps; i++) {
    const p = Object.fromEntries(Object.entries(space).map(([k, d]) => [k, sampleUniform(d, rng)]));
    trials.push(makeTrial(i, p, space, { value: hartmann6.evaluate(p) }));
  }
  // One untimed suggestion so that the timed ones start warm, as in a running study.
  let s = strategy.suggest(suggestRequest(study, trials));
  const times: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < reps; r++) {
    trials.push(makeTrial(trials.length, s.params, space, { value: hartmann6.evaluate(s.params), systemAttrs: s.systemAttrs ?? {} }));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    s = strategy.suggest(suggestRequest(study, trials));
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  // CPU time is less sensitive than wall time to other processes on a shared machine.
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(
    `n=${n} d=6: median ${median(times).toFixed(1)} ms/suggest wall, ${median(cpu).toFixed(1)} ms CPU ` +
      `(wall min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)})\n`,
  );
}
