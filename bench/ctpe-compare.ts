/**
 * c-TPE against Optuna's feasible-first split (tpe option `constraints_model`), and random search
 * as a floor, on the constrained one-objective problems of src/testing/constrained-problems.ts:
 * best feasible value after each budget, per seed; paired exact Wilcoxon signed-rank test of
 * c-TPE vs Optuna's split. In process (the strategy alone, no server), sequential.
 * Usage: node dist-bench/bench/ctpe-compare.js [seeds=20] [budgets=50,100] [out.json]
 */
import { writeFileSync } from "node:fs";
import type { Trial } from "../src/domain/trial.js";
import type { StrategyFactory } from "../src/domain/plugin.js";
import { randomStrategyFactory } from "../src/strategies/random/random-strategy.js";
import { tpeStrategyFactory } from "../src/strategies/tpe/tpe-strategy.js";
import { CONSTRAINED_PROBLEMS, type ConstrainedProblem } from "../src/testing/constrained-problems.js";
import { makeStudy, makeTrial, suggestRequest } from "../src/testing/fixtures.js";

const seeds = Number(process.argv[2] ?? 20);
const budgets = (process.argv[3] ?? "50,100").split(",").map(Number);
const out = process.argv[4];
const top = Math.max(...budgets);

/** Best feasible value after each budget (Infinity while nothing feasible was seen). */
function run<O>(factory: StrategyFactory<O>, options: O, problem: ConstrainedProblem, seed: number): number[] {
  const strategy = factory.create(options);
  const study = makeStudy(problem.space, { seed, strategy: { name: factory.name, options: {} } });
  const trials: Trial[] = [];
  const bests: number[] = [];
  let best = Infinity;
  for (let i = 0; i < top; i++) {
    const s = strategy.suggest(suggestRequest(study, trials));
    const value = problem.evaluate(s.params);
    const constraints = problem.constraints(s.params);
    if (constraints.every((c) => c <= 0)) best = Math.min(best, value);
    trials.push(makeTrial(i, s.params, problem.space, { value, constraints }));
    if (budgets.includes(i + 1)) bests.push(best);
  }
  return bests;
}

/** Two-sided exact Wilcoxon signed-rank p-value of paired samples (zero differences dropped, mid-ranks for ties). */
function wilcoxon(a: readonly number[], b: readonly number[]): number {
  // "Nothing feasible found" (Infinity) is worse than any value: its difference ranks largest.
  const diff = (x: number, y: number) => (x === y ? 0 : !Number.isFinite(x) ? 1e300 : !Number.isFinite(y) ? -1e300 : x - y);
  const d = a.map((x, i) => diff(x, b[i] as number)).filter((x) => x !== 0);
  const n = d.length;
  if (n === 0) return 1;
  const order = d.map((x, i) => [Math.abs(x), i] as const).sort((p, q) => p[0] - q[0]);
  const rank = new Array<number>(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) rank[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  // Doubled ranks are integers: exact null distribution of 2·W+ by dynamic programming.
  const r2 = rank.map((r) => Math.round(2 * r));
  const total = r2.reduce((s, x) => s + x, 0);
  let dist = new Float64Array(total + 1);
  dist[0] = 1;
  for (const r of r2) {
    const next = new Float64Array(total + 1);
    for (let s = 0; s <= total; s++) if (dist[s]! > 0) {
      next[s] = next[s]! + dist[s]! / 2;
      next[s + r] = next[s + r]! + dist[s]! / 2;
    }
    dist = next;
  }
  const wPlus = d.reduce((s, x, i) => s + (x > 0 ? r2[i]! : 0), 0);
  const lo = Math.min(wPlus, total - wPlus);
  let p = 0;
  for (let s = 0; s <= lo; s++) p += dist[s]!;
  return Math.min(1, 2 * p);
}

const median = (v: readonly number[]) => {
  const s = [...v].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const quart = (v: readonly number[], q: number) => [...v].sort((x, y) => x - y)[Math.floor(q * (v.length - 1))]!;
const fmt = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : "none");

const tpe = (model: "ctpe" | "optuna") => tpeStrategyFactory.options.parse({ constraints_model: model });
const rows: Record<string, unknown>[] = [];
console.log(`| problem | budget | optimizer | median best feasible (IQR) | c-TPE better / worse / tie | Wilcoxon p (c-TPE vs optuna split) |`);
console.log(`| --- | --- | --- | --- | --- | --- |`);
for (const problem of CONSTRAINED_PROBLEMS) {
  const res: Record<string, number[][]> = { "tpe-ctpe": [], "tpe-optuna": [], random: [] };
  for (let seed = 0; seed < seeds; seed++) {
    res["tpe-ctpe"]!.push(run(tpeStrategyFactory, tpe("ctpe"), problem, seed));
    res["tpe-optuna"]!.push(run(tpeStrategyFactory, tpe("optuna"), problem, seed));
    res.random!.push(run(randomStrategyFactory, randomStrategyFactory.options.parse({}), problem, seed));
  }
  budgets.forEach((budget, bi) => {
    const at = (k: string) => res[k]!.map((r) => r[bi]!);
    const c = at("tpe-ctpe");
    const o = at("tpe-optuna");
    for (const k of Object.keys(res)) {
      const v = at(k);
      v.forEach((best, seed) => rows.push({ problem: problem.name, optimizer: k, seed, budget, best_feasible: Number.isFinite(best) ? best : null, f_star: problem.fStar }));
      const cmp = k === "tpe-ctpe" ? `${c.filter((x, i) => x < o[i]!).length} / ${c.filter((x, i) => x > o[i]!).length} / ${c.filter((x, i) => x === o[i]!).length}` : "";
      const p = k === "tpe-ctpe" ? wilcoxon(c, o).toPrecision(2) : "";
      console.log(`| ${problem.name} | ${budget} | ${k} | ${fmt(median(v))} (${fmt(quart(v, 0.25))}–${fmt(quart(v, 0.75))}) | ${cmp} | ${p} |`);
    }
  });
}
if (out) writeFileSync(out, JSON.stringify(rows, null, 1) + "\n");
