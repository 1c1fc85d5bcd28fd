/**
 * GP suggestion time on a space with categoricals (issue 17 item 4 beside item 2's categorical
 * kernels): 2 floats and 4 categoricals of 4 choices (6-D), n − 1 uniform random trials, one untimed
 * suggestion, then 10 timed ones fed back (one full hyperparameter fit among them, as
 * overhead-strategies.ts times the all-float GP), per `categoricalKernel`. Driven by
 * bench/gp_categorical_speed.py, which times Optuna's GPSampler on the same space in the same run.
 * Prints one JSON line per kernel: {"optimizer", "n_trials", "ms_per_suggest" (CPU), "wall_ms_per_suggest", "reps"}.
 * Usage: node dist-bench/bench/gp-categorical-speed.js [n=300] [kernels=hamming,latent]
 */
import { performance } from "node:perf_hooks";
import type { Params, SearchSpace } from "../src/domain/distributions.js";
import { sampleUniform } from "../src/domain/sampling.js";
import type { Trial } from "../src/domain/trial.js";
import { Rng } from "../src/math/rng.js";
import { gpStrategyFactory } from "../src/strategies/gp/gp-strategy.js";
import { makeStudy, makeTrial, suggestRequest } from "../src/testing/fixtures.js";

const n = Number(process.argv[2] ?? 300);
const kernels = (process.argv[3] ?? "hamming,latent").split(",");
const CHOICES = ["a", "b", "c", "d"];
const space: SearchSpace = {
  x0: { type: "float", low: 0, high: 1 },
  x1: { type: "float", low: 0, high: 1 },
  ...Object.fromEntries([0, 1, 2, 3].map((i) => [`c${i}`, { type: "categorical" as const, choices: CHOICES }])),
};
/** The same objective as bench/gp_categorical_speed.py: a shifted sphere in the floats plus a per-choice offset. */
const objective = (p: Params): number => {
  let f = ((p.x0 as number) - 0.3) ** 2 + ((p.x1 as number) - 0.6) ** 2;
  for (let i = 0; i < 4; i++) f += [0, 0.3, 0.05, 0.6][CHOICES.indexOf(p[`c${i}`] as string)]! * (1 + 0.2 * i);
  return f;
};

for (const kernel of kernels) {
  const strategy = gpStrategyFactory.create(gpStrategyFactory.options.parse({ categoricalKernel: kernel }));
  const study = makeStudy(space, { strategy: { name: "gp", options: { categoricalKernel: kernel } } });
  const trials: Trial[] = [];
  const tell = (params: Params, systemAttrs: Record<string, unknown> | undefined) =>
    trials.push(makeTrial(trials.length, params, space, { value: objective(params), systemAttrs: systemAttrs ?? {} }));
  const rng = new Rng(6, "categorical-speed");
  while (trials.length < n - 1) tell(Object.fromEntries(Object.entries(space).map(([k, dist]) => [k, sampleUniform(dist, rng)])), {});
  let s = strategy.suggest(suggestRequest(study, trials));
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < 10; r++) {
    tell(s.params, s.systemAttrs);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    s = strategy.suggest(suggestRequest(study, trials));
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  process.stdout.write(JSON.stringify({ optimizer: `tuneport-gp:${kernel}`, n_trials: n, ms_per_suggest: mean(cpu), wall_ms_per_suggest: mean(wall), reps: 10 }) + "\n");
}
