// TPE's suggestion cost on a big study, two builds, one process, alternating: CPU per
// `suggest` (median) at N finished trials plus RUNNING ones (constant liar), on the search
// space of bench/load.mjs (log float, float, int, categorical), and whether both builds
// propose exactly the same parameters for every seed tried.
//
// The history is TPE's own (the "after" build's strategy run sequentially on a cheap
// objective), so its kernels cluster as a real study's do; trials share the space's
// distribution objects, as the server's in-memory trials do.
//
// --history FILE keeps the history in FILE (written on the first run, read on later ones), so that
// runs with the builds swapped, or another session, measure on the same trials; --warmup W discards
// the first W calls of each build (3 by default) while the code warms up.
//
// --grow 1 moves the study on between seeds as a server's does under constant liar: after both builds
// suggested, the oldest RUNNING trial is told (COMPLETE, the objective) and the proposal joins as a new
// RUNNING trial, so each ask sees a history a little different from the last (strategies that keep
// state between asks pay for what changed). Without it every seed sees the same history.
//
//   node bench/tpe-suggest-ab.mjs --before DIST --after DIST [--n 3000] [--running 32] [--reps 15] [--warmup 3] [--history FILE] [--grow 0|1]
import "./help.mjs";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { abArgs, countArg, median } from "./ab-args.mjs";

const USAGE = "node bench/tpe-suggest-ab.mjs --before DIST --after DIST [--n 3000] [--running 32] [--reps 15] [--warmup 3] [--history FILE] [--grow 0|1]";
const args = abArgs(USAGE, ["before", "after"]);
const n = countArg(args, "n", 3000, 1, USAGE);
const running = countArg(args, "running", 32, 0, USAGE);
const reps = countArg(args, "reps", 15, 1, USAGE);
const warmup = countArg(args, "warmup", 3, 0, USAGE);
const grow = countArg(args, "grow", 0, 0, USAGE) > 0;
const load = async (dist) => {
  const tpe = await import(join(resolve(dist), "strategies", "tpe", "tpe-strategy.js"));
  const { Rng } = await import(join(resolve(dist), "math", "rng.js"));
  return { strategy: tpe.tpeStrategyFactory.create(tpe.tpeStrategyFactory.options.parse({})), Rng };
};
const builds = [["before", await load(args.before)], ["after", await load(args.after)]];
const space = {
  lr: { type: "float", low: 1e-5, high: 1e-1, log: true },
  dropout: { type: "float", low: 0, high: 0.5 },
  layers: { type: "int", low: 1, high: 8 },
  act: { type: "categorical", choices: ["relu", "gelu", "tanh"] },
};
const study = { name: "ab", space, seed: 1, strategy: { name: "tpe", options: {} }, scheduler: null, directions: ["minimize"], direction: "minimize" };
const objective = (p) =>
  (Math.log10(p.lr) + 3) ** 2 + 4 * (p.dropout - 0.2) ** 2 + 0.1 * Math.abs(p.layers - 3) + (p.act === "gelu" ? 0 : 0.3) + 0.05 * Math.sin(40 * p.dropout);
const { strategy, Rng } = builds[1][1];
const trials = [];
const trial = (number, params, state, value) => ({
  number, state, params, distributions: { ...space }, values: value === null ? null : [value], value, constraints: null,
  intermediate: [], userAttrs: {}, systemAttrs: {}, createdAt: 0, startedAt: 0, finishedAt: null, lease: null,
});
const req = (number, seedTag = "suggest") => ({ study, trials, trialNumber: number, rng: Rng.derive(study.seed, number, seedTag) });
const t0 = process.hrtime.bigint();
if (args.history && existsSync(args.history)) {
  for (const t of JSON.parse(readFileSync(args.history, "utf8"))) trials.push(trial(t.number, t.params, t.state, t.value));
  if (trials.length !== n + running) throw new Error(`${args.history} holds ${trials.length} trials, not ${n} + ${running}`);
} else {
  for (let i = 0; i < n + running; i++) {
    const { params } = strategy.suggest(req(i));
    trials.push(i < n ? trial(i, params, "COMPLETE", objective(params)) : trial(i, params, "RUNNING", null));
    if (i % 500 === 499) process.stderr.write(`history: ${i + 1} trials (${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s)\n`);
  }
  if (args.history) writeFileSync(args.history, JSON.stringify(trials.map(({ number, params, state, value }) => ({ number, params, state, value }))));
}
const cpu = { before: [], after: [] };
let same = 0;
for (let r = 0; r < warmup + reps; r++) {
  const out = [];
  let proposed = null;
  for (const [k, m] of builds) {
    const request = req(trials.length, `rep${r}`);
    const c0 = process.cpuUsage();
    proposed = m.strategy.suggest(request).params;
    const c = process.cpuUsage(c0);
    out.push(JSON.stringify(proposed));
    if (r >= warmup) cpu[k].push((c.user + c.system) / 1000); // the first calls warm the code up
  }
  if (r >= warmup && out[0] === out[1]) same++;
  if (grow) {
    // A fresh object for the told trial, as the service replaces a trial's object when it changes.
    const i = trials.findIndex((t) => t.state === "RUNNING");
    if (i >= 0) trials[i] = trial(trials[i].number, trials[i].params, "COMPLETE", objective(trials[i].params));
    trials.push(trial(trials.length, proposed, "RUNNING", null));
  }
}
const history = grow ? `${n} COMPLETE + ${running} RUNNING trials, growing by one per seed` : `${n} COMPLETE + ${running} RUNNING trials`;
for (const [k, v] of Object.entries(cpu)) console.log(`${k}\tTPE suggest CPU ${median(v).toFixed(2)} ms (median of ${v.length}; ${history})`);
console.log(`same parameters proposed: ${same} of ${reps} seeds`);
