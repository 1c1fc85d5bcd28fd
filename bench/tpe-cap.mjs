// TPE's `max_above_trials` on long studies: quality with g(x) thinned to the cap against the
// full g(x) (cap null), same seeds, in process, and the CPU per suggestion as the history grows.
//
// Problems: shifted sphere, Rastrigin and Rosenbrock in 5 dimensions (the shift drawn per seed)
// and bench/load.mjs's mixed space (log float, float, int, categorical) with a per-seed optimum.
// Each seed runs both variants to the same budget; the report gives the median best regret per
// problem at several budgets and a two-sided sign test over seeds (ties dropped).
//
//   node bench/tpe-cap.mjs [--dist dist] [--budget 3000] [--seeds 10] [--cap 1000] [--problems sphere5,...]
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values: a } = parseArgs({
  options: {
    dist: { type: "string", default: "dist" },
    budget: { type: "string", default: "3000" },
    seeds: { type: "string", default: "10" },
    cap: { type: "string", default: "1000" },
    problems: { type: "string", default: "sphere5,rastrigin5,rosenbrock5,mixed" },
    help: { type: "boolean", default: false },
  },
});
if (a.help) {
  console.log("node bench/tpe-cap.mjs [--dist dist] [--budget 3000] [--seeds 10] [--cap 1000] [--problems sphere5,rastrigin5,rosenbrock5,mixed]");
  process.exit(0);
}
const dist = resolve(a.dist);
const tpe = await import(join(dist, "strategies", "tpe", "tpe-strategy.js"));
const { Rng } = await import(join(dist, "math", "rng.js"));
const budget = Number(a.budget);
const seeds = Number(a.seeds);
const cap = Number(a.cap);
const checkpoints = [1000, 1500, 2000, 3000, 5000, 10000].filter((b) => b <= budget);
if (!checkpoints.includes(budget)) checkpoints.push(budget);

const box = (d, lo, hi) => Object.fromEntries(Array.from({ length: d }, (_, i) => [`x${i}`, { type: "float", low: lo, high: hi }]));
const problems = {
  sphere5: { space: box(5, -5, 5), f: (x, s) => x.reduce((acc, v, i) => acc + (v - s[i]) ** 2, 0) },
  rastrigin5: {
    space: box(5, -5.12, 5.12),
    f: (x, s) => x.reduce((acc, v, i) => acc + (v - s[i]) ** 2 - 10 * Math.cos(2 * Math.PI * (v - s[i])) + 10, 0),
  },
  rosenbrock5: {
    space: box(5, -2, 2),
    f: (x, s) => {
      const z = x.map((v, i) => v - s[i] * 0.4 + 1);
      let acc = 0;
      for (let i = 0; i < z.length - 1; i++) acc += 100 * (z[i + 1] - z[i] ** 2) ** 2 + (1 - z[i]) ** 2;
      return acc;
    },
  },
  mixed: {
    space: {
      lr: { type: "float", low: 1e-5, high: 1e-1, log: true },
      dropout: { type: "float", low: 0, high: 0.5 },
      layers: { type: "int", low: 1, high: 8 },
      act: { type: "categorical", choices: ["relu", "gelu", "tanh"] },
    },
    raw: true,
    f: (p, s) =>
      (Math.log10(p.lr) + 3 + s[0] * 0.3) ** 2 + 4 * (p.dropout - 0.2 - s[1] * 0.02) ** 2 + 0.1 * Math.abs(p.layers - 3) +
      (p.act === "gelu" ? 0 : 0.3) + 0.05 * (1 + Math.sin(40 * p.dropout)),
  },
};
const names = a.problems.split(",");

function run(name, seed, maxAbove) {
  const prob = problems[name];
  const shiftRng = Rng.derive(1000 + seed, 0, "shift");
  const shift = Array.from({ length: 5 }, () => (shiftRng.random() * 2 - 1) * 2);
  const strategy = tpe.tpeStrategyFactory.create(tpe.tpeStrategyFactory.options.parse({ max_above_trials: maxAbove }));
  const study = { name: `cap-${name}`, space: prob.space, seed, strategy: { name: "tpe", options: {} }, scheduler: null, directions: ["minimize"], direction: "minimize" };
  const trials = [];
  let best = Infinity;
  const bestAt = {};
  let cpu = 0;
  for (let i = 0; i < budget; i++) {
    const c0 = process.cpuUsage();
    const { params } = strategy.suggest({ study, trials, trialNumber: i, rng: Rng.derive(seed, i, "suggest") });
    const c = process.cpuUsage(c0);
    if (i >= budget - 100) cpu += (c.user + c.system) / 1000;
    const x = prob.raw ? params : Object.keys(prob.space).map((k) => params[k]);
    const v = prob.f(x, shift);
    best = Math.min(best, v);
    trials.push({ number: i, state: "COMPLETE", params, distributions: prob.space, values: [v], value: v, constraints: null, intermediate: [], userAttrs: {}, systemAttrs: {}, createdAt: 0, startedAt: 0, finishedAt: null, lease: null });
    if (checkpoints.includes(i + 1)) bestAt[i + 1] = best;
  }
  return { bestAt, cpuPerSuggest: cpu / 100 };
}

const median = (v) => {
  const s = [...v].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const binom = (k, n) => {
  // two-sided sign test p-value
  let p = 0;
  const c = (n, k) => { let r = 1; for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i; return r; };
  const lo = Math.min(k, n - k);
  for (let i = 0; i <= lo; i++) p += c(n, i) / 2 ** n;
  return Math.min(1, 2 * p);
};
console.log(`TPE max_above_trials ${cap} against the full g(x), ${seeds} seeds, budget ${budget}, dist ${a.dist}`);
console.log("| problem | budget | median best, cap | median best, full | seeds cap better / worse / tied | sign-test p |");
console.log("| --- | --- | --- | --- | --- | --- |");
const cpuRows = [];
for (const name of names) {
  const rows = [];
  for (let seed = 0; seed < seeds; seed++) {
    const capped = run(name, seed, cap);
    const full = run(name, seed, null);
    rows.push({ capped, full });
    process.stderr.write(`${name} seed ${seed}: cap ${capped.bestAt[budget].toPrecision(4)} full ${full.bestAt[budget].toPrecision(4)}\n`);
  }
  for (const b of checkpoints) {
    const cv = rows.map((r) => r.capped.bestAt[b]);
    const fv = rows.map((r) => r.full.bestAt[b]);
    const better = rows.filter((r) => r.capped.bestAt[b] < r.full.bestAt[b]).length;
    const worse = rows.filter((r) => r.capped.bestAt[b] > r.full.bestAt[b]).length;
    console.log(`| ${name} | ${b} | ${median(cv).toPrecision(4)} | ${median(fv).toPrecision(4)} | ${better} / ${worse} / ${rows.length - better - worse} | ${binom(better, better + worse).toFixed(3)} |`);
  }
  cpuRows.push(`| ${name} | ${median(rows.map((r) => r.capped.cpuPerSuggest)).toFixed(2)} | ${median(rows.map((r) => r.full.cpuPerSuggest)).toFixed(2)} |`);
}
console.log(`\nCPU per suggestion over the last 100 trials of ${budget} (ms, median over seeds)\n\n| problem | cap ${cap} | full |\n| --- | --- | --- |`);
for (const r of cpuRows) console.log(r);
