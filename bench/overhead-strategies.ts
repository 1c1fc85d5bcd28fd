/**
 * Suggestion time per trial of every tuneport strategy against history size and dimension:
 * the optimizer's own work only (`strategy.suggest` on an in-memory history, no server, no
 * objective). Prints one JSON object per line:
 * {"optimizer", "dim", "n_trials", "ms_per_suggest" (CPU), "wall_ms_per_suggest", "reps"}.
 *
 * History: for random, grid, qmc, tpe and cmaes the strategy's own ask/tell loop (so that
 * CMA-ES and grid see the state they record in `systemAttrs`); the time at history size n is
 * the mean over the suggestions made with n … n + reps − 1 trials in the history. For gp the
 * history is n − 1 uniform random trials, one untimed suggestion, then `GP_REPS` (10) timed
 * ones fed back: ten consecutive suggestions hold exactly one full hyperparameter fit (every
 * 10th, see gp-strategy.ts), so the mean is the amortised cost.
 *
 * Objective (unit box [0, 1]^d): a shifted sphere plus a ripple, cheap and not separable-trivial.
 * Usage: node dist-bench/bench/overhead-strategies.js [dims=2,6,20] [ns=10,30,100,300,1000] [gpNs=10,30,100,300,500] [strategies]
 * GP_OPTIONS='{"categoricalKernel":"latent"}' times the `gp` strategy with those options (an ablation variant),
 * labelled `tuneport-gp <options>`.
 */
import { performance } from "node:perf_hooks";
import type { Params, SearchSpace } from "../src/domain/distributions.js";
import type { Trial } from "../src/domain/trial.js";
import { Rng } from "../src/math/rng.js";
import { STRATEGIES } from "../src/strategies/index.js";
import { sampleUniform } from "../src/domain/sampling.js";
import { makeStudy, makeTrial, suggestRequest } from "../src/testing/fixtures.js";

const dims = (process.argv[2] ?? "2,6,20").split(",").map(Number);
const ns = (process.argv[3] ?? "10,30,100,300,1000").split(",").map(Number);
const gpNs = (process.argv[4] ?? "10,30,100,300,500").split(",").map(Number);
const names = (process.argv[5] ?? "random,grid,qmc,tpe,cmaes,gp").split(",");
const REPS = 20;
const GP_REPS = 10;
const GP_OPTIONS = process.env.GP_OPTIONS;

const space = (d: number): SearchSpace =>
  Object.fromEntries(Array.from({ length: d }, (_, i) => [`x${i}`, { type: "float" as const, low: 0, high: 1 }]));
const objective = (p: Params): number => {
  let f = 0;
  for (const [k, v] of Object.entries(p)) {
    const i = Number(k.slice(1));
    const z = (v as number) - 0.3 - 0.04 * (i % 5);
    f += z * z + 0.05 * Math.sin(12 * z);
  }
  return f;
};

function emit(optimizer: string, dim: number, n: number, cpu: number[], wall: number[]): void {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  process.stdout.write(
    JSON.stringify({ optimizer, dim, n_trials: n, ms_per_suggest: mean(cpu), wall_ms_per_suggest: mean(wall), reps: cpu.length }) + "\n",
  );
}

function timed<T>(f: () => T): { value: T; cpu: number; wall: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, cpu: (c.user + c.system) / 1000, wall };
}

for (const name of names) {
  const factory = STRATEGIES.get(name);
  if (factory === undefined) throw new Error(`unknown strategy ${name}`);
  for (const d of dims) {
    // A grid large enough not to run out before the largest history size.
    const options =
      name === "grid" ? { points_per_dim: Math.max(2, Math.ceil((Math.max(...ns) + REPS + 1) ** (1 / d))) }
      : name === "gp" && GP_OPTIONS !== undefined ? (JSON.parse(GP_OPTIONS) as Record<string, unknown>)
      : {};
    const sp = space(d);
    const study = makeStudy(sp, { strategy: { name, options } });
    const strategy = factory.create(factory.options.parse(options));
    const trials: Trial[] = [];
    const tell = (params: Params, systemAttrs: Record<string, unknown> | undefined) =>
      trials.push(makeTrial(trials.length, params, sp, { value: objective(params), systemAttrs: systemAttrs ?? {} }));
    if (name === "gp") {
      const rng = new Rng(d, "overhead");
      for (const n of gpNs) {
        while (trials.length < n - 1) tell(Object.fromEntries(Object.entries(sp).map(([k, dist]) => [k, sampleUniform(dist, rng)])), {});
        trials.length = n - 1;
        let s = strategy.suggest(suggestRequest(study, trials));
        const cpu: number[] = [];
        const wall: number[] = [];
        for (let r = 0; r < GP_REPS; r++) {
          tell(s.params, s.systemAttrs);
          const t = timed(() => strategy.suggest(suggestRequest(study, trials)));
          s = t.value;
          cpu.push(t.cpu);
          wall.push(t.wall);
        }
        emit(GP_OPTIONS === undefined ? `tuneport-${name}` : `tuneport-${name} ${GP_OPTIONS}`, d, n, cpu, wall);
        // The next size starts from random trials again (drop the GP's own ones beyond n − 1).
        trials.length = n - 1;
      }
      continue;
    }
    const maxN = Math.max(...ns) + REPS;
    const cpuAt: number[] = [];
    const wallAt: number[] = [];
    while (trials.length < maxN) {
      const t = timed(() => strategy.suggest(suggestRequest(study, trials)));
      cpuAt.push(t.cpu);
      wallAt.push(t.wall);
      const params = { ...t.value.params };
      for (const [k, dist] of Object.entries(sp)) if (params[k] === undefined) params[k] = sampleUniform(dist, new Rng(trials.length, k));
      tell(params, t.value.systemAttrs);
    }
    for (const n of ns) emit(`tuneport-${name}`, d, n, cpuAt.slice(n, n + REPS), wallAt.slice(n, n + REPS));
  }
}
