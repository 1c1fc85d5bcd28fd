#!/usr/bin/env node
/**
 * PBT benchmarks, in process through StudyService on in-memory SQLite (no sockets).
 *
 *   npm run build && node bench/pbt.mjs [--seeds 10]
 *
 * Writes bench/results/pbt.json ({"runs": [{problem, optimizer, seed, steps, best}]}, one object
 * per anytime-curve point; `steps` = training steps summed over all members/trials so far),
 * bench/results/pbt-toy.svg and bench/results/pbt-schedule.svg (median curves), and prints the
 * markdown tables of docs/BENCHMARKS.md (## PBT).
 *
 * Problems (src/testing/pbt-problems.ts):
 * - pbt-toy (Jaderberg et al. 2017, Fig. 2): maximise Q; `best` is Q. 40 steps per member.
 * - noisy-quadratic-schedule: minimise the validation loss; the best learning rate decays during
 *   training. 100 steps per member/trial. Baselines at the same total steps (800): TPE with 2
 *   random start-up trials of 8 (25 %; Optuna's default of 10 would make all 8 random), random
 *   search, ASHA+TPE (stopping mode, eta 3, rungs from 4 steps, trials until 800 steps are spent),
 *   and a tuned fixed schedule (cosine decay from a TPE-tuned peak rate).
 *
 * The real-task suite (PBT and PB2 on PyTorch tasks) is bench/pbt_tasks.py; both write their rows
 * into bench/results/pbt.json, each replacing only its own problems.
 */
import "./help.mjs";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../dist-bench/src/logger.js";
import { StudyService } from "../dist-bench/src/service/study-service.js";
import { SqliteStorage } from "../dist-bench/src/storage/sqlite/sqlite-storage.js";
import { runPopulation } from "../dist-bench/src/testing/pbt-population.js";
import { scheduleFixed, scheduleProblem, toyFixed, toyProblem } from "../dist-bench/src/testing/pbt-problems.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, "results");
const argSeeds = process.argv.indexOf("--seeds");
const SEEDS = Array.from({ length: argSeeds > 0 ? Number(process.argv[argSeeds + 1]) : 10 }, (_, i) => i + 1);
const runs = [];

async function withService(fn) {
  let now = 1_000_000;
  const storage = new SqliteStorage({ path: ":memory:" });
  const svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
  try {
    return await fn(svc, (s) => (now += s * 1000));
  } finally {
    await svc.close();
    await storage.close();
  }
}

async function pbtRun(problem, optimizer, seed, options, steps, strategy = "pbt") {
  const run = await withService(async (svc, advance) => {
    await svc.createStudy({ name: "b", space: problem.space, direction: problem.direction, seed, strategy: { name: strategy, options } });
    return runPopulation(svc, problem, { study: "b", workers: options.population_size, stepsPerMember: steps, seed, advance });
  });
  if (run.violations.length > 0) throw new Error(`${optimizer} seed ${seed}: ${run.violations.join("; ")}`);
  for (const p of run.curve) runs.push({ problem: problem.name, optimizer, seed, steps: p.steps, best: p.best });
  return run;
}

/** Fixed configurations trained side by side (one step each per tick): the grid's anytime curve. */
function parallelFixed(problem, optimizer, seed, curves) {
  const better = problem.direction === "minimize" ? Math.min : Math.max;
  let best = problem.direction === "minimize" ? Infinity : -Infinity;
  const T = curves[0].length;
  for (let t = 0; t < T; t++) {
    for (const c of curves) best = better(best, c[t]);
    runs.push({ problem: problem.name, optimizer, seed, steps: curves.length * (t + 1), best });
  }
}

/** Validation loss after each step of a cosine schedule from `peak` down to 0 over `steps` steps. */
function scheduleCosine(peak, steps) {
  let m = scheduleProblem.init();
  const out = [];
  for (let i = 0; i < steps; i++) {
    const lr = Math.max(scheduleProblem.space.lr.low, peak * 0.5 * (1 + Math.cos((Math.PI * i) / steps)));
    m = scheduleProblem.step(m, { lr });
    out.push(scheduleProblem.report(m));
  }
  return out;
}

/**
 * Sequential trials of `steps` steps each: a fixed learning rate, or a cosine schedule from the
 * suggested peak (`cosine`). With `scheduler` (ASHA) every step is reported and trials run until
 * `budget` steps are spent (a pruned trial costs the steps it trained; the last one is cut).
 */
async function sequentialRun(optimizer, seed, { strategy, nTrials, steps, cosine = false, scheduler = null, budget = nTrials * steps }) {
  await withService(async (svc) => {
    await svc.createStudy({ name: "t", space: scheduleProblem.space, seed, strategy, ...(scheduler ? { scheduler } : {}) });
    let best = Infinity;
    let spent = 0;
    for (let i = 0; spent < budget && (scheduler || i < nTrials); i++) {
      const a = await svc.ask({ study: "t" });
      const curve = cosine ? scheduleCosine(a.trial.params.lr, steps) : scheduleFixed(a.trial.params.lr, steps);
      let pruned = false;
      let last = NaN;
      for (let k = 0; k < curve.length && spent < budget; k++) {
        spent++;
        last = curve[k];
        best = Math.min(best, last);
        if (scheduler) {
          const { decision } = await svc.report({ study: "t", trial: a.trial.number, token: a.lease.token, step: k + 1, value: last });
          if (decision.action === "prune") {
            pruned = true;
            break;
          }
        }
      }
      await svc.tell({ study: "t", trial: a.trial.number, token: a.lease.token, state: pruned ? "PRUNED" : "COMPLETE", value: last });
      runs.push({ problem: scheduleProblem.name, optimizer, seed, steps: spent, best });
    }
  });
}

// ---------------------------------------------------------------- toy
const TOY_STEPS = 40;
for (const seed of SEEDS) {
  await pbtRun(toyProblem, "tuneport-pbt-2", seed, { population_size: 2, perturbation_interval: 2 }, TOY_STEPS);
  await pbtRun(toyProblem, "tuneport-pbt-4", seed, { population_size: 4, perturbation_interval: 2 }, TOY_STEPS);
  await pbtRun(toyProblem, "tuneport-pb2-4", seed, { population_size: 4, perturbation_interval: 2 }, TOY_STEPS, "pb2");
  await pbtRun(toyProblem, "pbt-explore-only", seed, { population_size: 4, perturbation_interval: 2, exploit: false }, TOY_STEPS);
  await pbtRun(toyProblem, "pbt-exploit-only", seed, { population_size: 4, perturbation_interval: 2, explore: false }, TOY_STEPS);
}
// Grid search over h is deterministic: recorded once, with seed 0.
const g2 = [0.25, 0.75].flatMap((a) => [0.25, 0.75].map((b) => toyFixed(a, b, TOY_STEPS)));
const g3 = [0, 0.5, 1].flatMap((a) => [0, 0.5, 1].map((b) => toyFixed(a, b, TOY_STEPS)));
parallelFixed(toyProblem, "grid-2x2", 0, g2);
parallelFixed(toyProblem, "grid-3x3", 0, g3);

// ---------------------------------------------------------------- schedule
const SCH_STEPS = 100;
const POP = 8;
for (const seed of SEEDS) {
  await pbtRun(scheduleProblem, "tuneport-pbt", seed, { population_size: POP, perturbation_interval: 5 }, SCH_STEPS);
  await pbtRun(scheduleProblem, "tuneport-pbt-sync", seed, { population_size: POP, perturbation_interval: 5, mode: "synchronous" }, SCH_STEPS);
  await pbtRun(scheduleProblem, "tuneport-pb2", seed, { population_size: POP, perturbation_interval: 5 }, SCH_STEPS, "pb2");
  const tpe = (n) => ({ name: "tpe", options: { n_startup_trials: n } });
  await sequentialRun("tuneport-tpe", seed, { strategy: tpe(POP / 4), nTrials: POP, steps: SCH_STEPS });
  await sequentialRun("random", seed, { strategy: "random", nTrials: POP, steps: SCH_STEPS });
  await sequentialRun("asha-tpe", seed, {
    strategy: tpe(5), nTrials: Infinity, steps: SCH_STEPS, budget: POP * SCH_STEPS,
    scheduler: { name: "asha", options: { min_resource: 4, max_resource: SCH_STEPS, reduction_factor: 3 } },
  });
  await sequentialRun("cosine-tpe", seed, { strategy: tpe(POP / 4), nTrials: POP, steps: SCH_STEPS, cosine: true });
  await sequentialRun("tuneport-tpe-4x", seed, { strategy: tpe(POP), nTrials: 4 * POP, steps: SCH_STEPS });
}
// The best fixed learning rate, found by a dense log grid (an oracle no tuner beats with fixed lr).
let oracle = { lr: NaN, loss: Infinity };
for (let i = 0; i <= 400; i++) {
  const lr = 1e-3 * (1.5 / 1e-3) ** (i / 400);
  const c = scheduleFixed(lr, SCH_STEPS);
  const m = Math.min(...c);
  if (m < oracle.loss) oracle = { lr, loss: m };
}

let cosineOracle = { peak: NaN, loss: Infinity };
for (let i = 0; i <= 400; i++) {
  const peak = 1e-3 * (1.5 / 1e-3) ** (i / 400);
  const m = Math.min(...scheduleCosine(peak, SCH_STEPS));
  if (m < cosineOracle.loss) cosineOracle = { peak, loss: m };
}

mkdirSync(OUT, { recursive: true });
// Keep the real-task suite's rows (bench/pbt_tasks.py); replace only this script's problems.
const mine = new Set([toyProblem.name, scheduleProblem.name]);
let previous = {};
try {
  previous = JSON.parse(readFileSync(join(OUT, "pbt.json"), "utf8"));
} catch {
  previous = {};
}
const kept = (previous.runs ?? []).filter((r) => !mine.has(r.problem));
writeFileSync(join(OUT, "pbt.json"), `${JSON.stringify({ ...previous, runs: [...kept, ...runs] })}\n`);

// ---------------------------------------------------------------- summaries
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const groups = new Map();
for (const r of runs) {
  const k = `${r.problem}|${r.optimizer}`;
  if (!groups.has(k)) groups.set(k, new Map());
  const bySeed = groups.get(k);
  if (!bySeed.has(r.seed)) bySeed.set(r.seed, []);
  bySeed.get(r.seed).push(r);
}
const lines = [];
const fmt = (x, d = 4) => (Number.isFinite(x) ? x.toFixed(d) : "–");
lines.push("| optimizer | seeds | total steps | final best: median [IQR] | seeds reaching Q ≥ 1.19 | median steps to Q ≥ 1.19 |");
lines.push("| --- | --- | --- | --- | --- | --- |");
for (const [k, bySeed] of groups) {
  const [problem, opt] = k.split("|");
  if (problem !== toyProblem.name) continue;
  const finals = [...bySeed.values()].map((c) => c[c.length - 1].best);
  const reach = [...bySeed.values()].map((c) => c.find((p) => p.best >= 1.19)?.steps ?? Infinity);
  const hit = reach.filter(Number.isFinite);
  const total = [...bySeed.values()][0].at(-1).steps;
  lines.push(`| ${opt} | ${bySeed.size} | ${total} | ${fmt(median(finals))} [${fmt(q(finals, 0.25))}, ${fmt(q(finals, 0.75))}] | ${hit.length}/${bySeed.size} | ${hit.length > bySeed.size / 2 ? median(reach) : "–"} |`);
}
lines.push("");
const baselines = ["tuneport-tpe", "asha-tpe", "random", "cosine-tpe"];
lines.push(`| optimizer | seeds | total steps | final best val. loss: median [IQR] | ${baselines.map((b) => `wins vs ${b}`).join(" | ")} |`);
lines.push(`| --- | --- | --- | --- | ${baselines.map(() => "---").join(" | ")} |`);
const finalOf = (opt) => new Map([...(groups.get(`${scheduleProblem.name}|${opt}`) ?? [])].map(([s, c]) => [s, c.at(-1).best]));
for (const [k, bySeed] of groups) {
  const [problem, opt] = k.split("|");
  if (problem !== scheduleProblem.name) continue;
  const finals = [...bySeed.entries()].map(([, c]) => c.at(-1).best);
  const total = [...bySeed.values()][0].at(-1).steps;
  const winCells = baselines.map((b) => {
    if (b === opt) return "–";
    const other = finalOf(b);
    return `${[...bySeed.entries()].filter(([s, c]) => c.at(-1).best < other.get(s)).length}/${bySeed.size}`;
  });
  lines.push(`| ${opt} | ${bySeed.size} | ${total} | ${fmt(median(finals), 5)} [${fmt(q(finals, 0.25), 5)}, ${fmt(q(finals, 0.75), 5)}] | ${winCells.join(" | ")} |`);
}
lines.push(`| best fixed lr (dense grid, oracle) | – | – | ${fmt(oracle.loss, 5)} (lr = ${oracle.lr.toPrecision(3)}) | ${baselines.map(() => "–").join(" | ")} |`);
lines.push(`| best cosine peak (dense grid, oracle) | – | – | ${fmt(cosineOracle.loss, 5)} (peak = ${cosineOracle.peak.toPrecision(3)}) | ${baselines.map(() => "–").join(" | ")} |`);

// ---------------------------------------------------------------- SVG curves (median over seeds)
function svg(problem, file, title, yLabel, ylo, yhi, log) {
  const W = 640, H = 360, L = 60, R = 170, T = 30, B = 40;
  const colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];
  const series = [];
  let xmax = 0;
  for (const [k, bySeed] of groups) {
    const [p, opt] = k.split("|");
    if (p !== problem) continue;
    const curves = [...bySeed.values()];
    const pts = curves[0].map((_, i) => ({ x: curves[0][i].steps, y: median(curves.map((c) => c[Math.min(i, c.length - 1)].best)) }));
    xmax = Math.max(xmax, pts.at(-1).x);
    series.push({ opt, pts });
  }
  const fy = (y) => (log ? Math.log10(y) : y);
  const X = (x) => L + ((W - L - R) * x) / xmax;
  const Y = (y) => T + (H - T - B) * (1 - (fy(Math.min(yhi, Math.max(ylo, y))) - fy(ylo)) / (fy(yhi) - fy(ylo)));
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`];
  out.push(`<rect width="${W}" height="${H}" fill="white"/><text x="${L}" y="18" font-size="13">${title}</text>`);
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`);
  for (let i = 0; i <= 4; i++) {
    const yv = log ? 10 ** (fy(ylo) + ((fy(yhi) - fy(ylo)) * i) / 4) : ylo + ((yhi - ylo) * i) / 4;
    out.push(`<text x="${L - 4}" y="${Y(yv) + 4}" text-anchor="end">${yv.toPrecision(3)}</text>`);
    const xv = Math.round((xmax * i) / 4);
    out.push(`<text x="${X(xv)}" y="${H - B + 14}" text-anchor="middle">${xv}</text>`);
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">total training steps</text>`);
  out.push(`<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">${yLabel}</text>`);
  series.forEach((s, i) => {
    const c = colours[i % colours.length];
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="1.6" points="${s.pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(" ")}"/>`);
    out.push(`<line x1="${W - R + 10}" y1="${T + 10 + i * 16}" x2="${W - R + 30}" y2="${T + 10 + i * 16}" stroke="${c}" stroke-width="2"/><text x="${W - R + 34}" y="${T + 14 + i * 16}">${s.opt}</text>`);
  });
  out.push("</svg>");
  writeFileSync(join(OUT, file), `${out.join("\n")}\n`);
}
svg(toyProblem.name, "pbt-toy.svg", "PBT toy (Jaderberg et al. 2017): median best Q over seeds", "best Q", 0.9, 1.2, false);
svg(scheduleProblem.name, "pbt-schedule.svg", "Noisy quadratic, lr schedule: median best validation loss", "best val. loss", 1e-3, 3, true);

process.stdout.write(`${lines.join("\n")}\n`);
