/**
 * Issue 17's GP failure mode on multimodal problems: how often the GP's proposals sit on a bound
 * of the box, and what that costs in best value, for GP option variants side by side (an
 * in-process ablation, no server: the strategy is called on the history directly).
 *
 * Problems (8-D unless `--dim`, each shifted and rotated per seed so that no optimum sits at the
 * box centre or on a grid): Rastrigin, Ackley, Levy and Griewank (multimodal); ellipsoid and
 * Rosenbrock (unimodal controls: a change that helps the former must not hurt these).
 * "bound" = a proposal with at least one coordinate within 1e-6 of 0 or 1 in the unit cube,
 * counted after the random start-up.
 *
 * `--dump FILE` writes each (problem, seed)'s shift and rotation as JSON lines instead of running,
 * for bench/gp_bounds_optuna.py (Optuna's GPSampler on the same problems).
 * Usage: node dist-bench/bench/gp-bounds.js [--seeds 5] [--trials 80] [--dim 8]
 *          [--variants '{"default":{},"full-fit":{"maxWarmFitIterations":50}}'] [--problems rastrigin,ackley]
 * Prints one row per (problem, variant): median [IQR] best value, median share on a bound, and
 * wins against the first variant per seed; random search is the first row of each problem.
 */
import { appendFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { SearchSpace, Params } from "../src/domain/distributions.js";
import type { Trial } from "../src/domain/trial.js";
import { sampleUniform } from "../src/domain/sampling.js";
import { Rng } from "../src/math/rng.js";
import { gpStrategyFactory } from "../src/strategies/gp/gp-strategy.js";
import { makeStudy, makeTrial, suggestRequest } from "../src/testing/fixtures.js";

const { values: args } = parseArgs({
  options: {
    seeds: { type: "string", default: "5" },
    trials: { type: "string", default: "80" },
    dim: { type: "string", default: "8" },
    variants: { type: "string", default: '{"default":{}}' },
    problems: { type: "string", default: "rastrigin,ackley,levy,griewank,ellipsoid,rosenbrock" },
    dump: { type: "string" },
  },
});
const seeds = Number(args.seeds);
const nTrials = Number(args.trials);
const d = Number(args.dim);
const variants = JSON.parse(args.variants!) as Record<string, Record<string, unknown>>;

type F = (z: number[]) => number;
const FUNCS: Record<string, { f: F; half: number }> = {
  rastrigin: { half: 5, f: (z) => 10 * z.length + z.reduce((s, v) => s + v * v - 10 * Math.cos(2 * Math.PI * v), 0) },
  ackley: {
    half: 32,
    f: (z) => {
      const n = z.length;
      const a = Math.sqrt(z.reduce((s, v) => s + v * v, 0) / n);
      const b = z.reduce((s, v) => s + Math.cos(2 * Math.PI * v), 0) / n;
      return -20 * Math.exp(-0.2 * a) - Math.exp(b) + 20 + Math.E;
    },
  },
  levy: {
    half: 10,
    f: (z) => {
      const w = z.map((v) => 1 + v / 4);
      let s = Math.sin(Math.PI * w[0]!) ** 2;
      for (let i = 0; i < w.length - 1; i++) s += (w[i]! - 1) ** 2 * (1 + 10 * Math.sin(Math.PI * w[i]! + 1) ** 2);
      const l = w[w.length - 1]!;
      return s + (l - 1) ** 2 * (1 + Math.sin(2 * Math.PI * l) ** 2);
    },
  },
  griewank: {
    half: 60,
    f: (z) => 1 + z.reduce((s, v) => s + (v * v) / 4000, 0) - z.reduce((p, v, i) => p * Math.cos(v / Math.sqrt(i + 1)), 1),
  },
  ellipsoid: { half: 5, f: (z) => z.reduce((s, v, i) => s + 10 ** ((6 * i) / Math.max(1, z.length - 1)) * v * v, 0) },
  rosenbrock: {
    half: 5,
    f: (z) => {
      let s = 0;
      for (let i = 0; i < z.length - 1; i++) s += 100 * (z[i + 1]! - z[i]! ** 2) ** 2 + (1 - z[i]!) ** 2;
      return s;
    },
  },
};

/** A random rotation (Gram–Schmidt on Gaussian columns) and a shift within 80 % of the half-width. */
function transform(rng: Rng, half: number): { shift: number[]; rot: number[][] } {
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.random())) * Math.cos(2 * Math.PI * rng.random());
  const rot: number[][] = [];
  for (let i = 0; i < d; i++) {
    const v = Array.from({ length: d }, gauss);
    for (const u of rot) {
      const p = u.reduce((s, x, k) => s + x * v[k]!, 0);
      for (let k = 0; k < d; k++) v[k] = v[k]! - p * u[k]!;
    }
    const n = Math.hypot(...v);
    rot.push(v.map((x) => x / n));
  }
  return { shift: Array.from({ length: d }, () => (rng.random() * 2 - 1) * 0.8 * half), rot };
}

const space: SearchSpace = Object.fromEntries(Array.from({ length: d }, (_, i) => [`x${i}`, { type: "float", low: 0, high: 1 }]));
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)]!;
const q = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.round(p * (a.length - 1))]!;

for (const name of args.problems!.split(",")) {
  const { f, half } = FUNCS[name]!;
  const rows: Record<string, { best: number[]; bound: number[] }> = {};
  for (let seed = 0; seed < seeds; seed++) {
    const { shift, rot } = transform(new Rng(seed, `gp-bounds:${name}`), half);
    if (args.dump !== undefined) {
      appendFileSync(args.dump, JSON.stringify({ problem: name, seed, half, shift, rot }) + "\n");
      continue;
    }
    const evaluate = (p: Params) => {
      const x = Array.from({ length: d }, (_, i) => ((p[`x${i}`] as number) * 2 - 1) * half - shift[i]!);
      return f(rot.map((r) => r.reduce((s, v, k) => s + v * x[k]!, 0)));
    };
    const study = makeStudy(space, { strategy: { name: "gp", options: {} }, seed });
    const runs: Record<string, Record<string, unknown> | null> = { random: null, ...variants };
    for (const [label, opts] of Object.entries(runs)) {
      const strategy = opts === null ? null : gpStrategyFactory.create(gpStrategyFactory.options.parse(opts));
      const rng = new Rng(seed, `gp-bounds:${label}`);
      const trials: Trial[] = [];
      let best = Infinity;
      let onBound = 0;
      for (let i = 0; i < nTrials; i++) {
        const s = strategy === null ? { params: Object.fromEntries(Object.entries(space).map(([k, dist]) => [k, sampleUniform(dist, rng)])), systemAttrs: {} } : strategy.suggest(suggestRequest(study, trials));
        const v = evaluate(s.params);
        best = Math.min(best, v);
        if (i >= 10 && Object.values(s.params).some((u) => (u as number) < 1e-6 || (u as number) > 1 - 1e-6)) onBound++;
        trials.push(makeTrial(i, s.params, space, { value: v, systemAttrs: s.systemAttrs ?? {} }));
      }
      (rows[label] ??= { best: [], bound: [] }).best.push(best);
      rows[label]!.bound.push(onBound / Math.max(1, nTrials - 10));
    }
  }
  if (args.dump !== undefined) continue;
  const ref = rows[Object.keys(variants)[0]!]!;
  for (const [label, r] of Object.entries(rows)) {
    const wins = r.best.filter((b, i) => b < ref.best[i]!).length;
    process.stdout.write(
      `${name.padEnd(11)} ${label.padEnd(14)} best ${median(r.best).toPrecision(4)} [${q(r.best, 0.25).toPrecision(4)}, ${q(r.best, 0.75).toPrecision(4)}]` +
        `  on a bound ${(100 * median(r.bound)).toFixed(0)} %  better than ${Object.keys(variants)[0]} in ${wins}/${seeds}\n`,
    );
  }
}
