// How far exact shortcuts can cut TPE's log-density of the bad set on a big study: per candidate,
// how many of the bad set's kernels survive dimension 0's cut in `ParzenMixture.logPdf` (its
// largest near term − LOG_SUM_CUT), how many survive every dimension's, and how many terms lie within
// LOG_SUM_CUT of the largest (those the log-sum-exp adds); and per ask, how far apart the candidates'
// scores log l − log g lie, and how many candidates a best-first search must still score exactly when
// it skips a candidate whose bound log l − (its largest near term) is below the best exact score.
// Last, the CPU of one `structuredClone` of the history (the trials shaped as in tpe-suggest-ab.mjs):
// what the main thread pays per ask to hand a suggestion to a worker thread as src/service/worker-runner.ts
// does today (the whole request per message).
//
// The history is a `--history` file of bench/tpe-suggest-ab.mjs (its space: log float, float, int,
// categorical); the split is TPE's default (constant liar, `fidelity: "informed"`), the candidates
// are 24 draws of l(x) per ask, `--draws` asks. The script reads `ParzenMixture`'s private fields
// (base, mus, halfPrecision, nearBound, completeTerm, candidateColumns), so it follows that file.
//
//   node bench/tpe-prune-bounds.mjs --dist DIST --history FILE [--draws 100]
import "./help.mjs";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { abArgs, countArg, median } from "./ab-args.mjs";

const USAGE = "node bench/tpe-prune-bounds.mjs --dist DIST --history FILE [--draws 100]";
const args = abArgs(USAGE, ["dist", "history"]);
const draws = countArg(args, "draws", 100, 1, USAGE);
const dist = resolve(args.dist);
const { splitTrials } = await import(join(dist, "strategies", "tpe", "tpe-strategy.js"));
const { ParzenMixture, tpeWeights } = await import(join(dist, "strategies", "tpe", "parzen-estimator.js"));
const { toUnit, choiceIndex } = await import(join(dist, "domain", "distributions.js"));
const { Rng } = await import(join(dist, "math", "rng.js"));

const space = {
  lr: { type: "float", low: 1e-5, high: 1e-1, log: true },
  dropout: { type: "float", low: 0, high: 0.5 },
  layers: { type: "int", low: 1, high: 8 },
  act: { type: "categorical", choices: ["relu", "gelu", "tanh"] },
};
const dims = Object.entries(space);
const kinds = dims.map(([, d]) => (d.type === "categorical" ? { kind: "categorical", n: d.choices.length } : d.type === "int" ? { kind: "discrete", d } : { kind: "continuous" }));
const trials = JSON.parse(readFileSync(args.history, "utf8")).map((t) => ({
  number: t.number, state: t.state, params: t.params, distributions: space, values: t.value === null ? null : [t.value], value: t.value,
  constraints: null, intermediate: [], userAttrs: {}, systemAttrs: {},
}));
const { below, above } = splitTrials(trials, ["minimize"], true, -1, true);
const encode = (t) => dims.map(([name, d]) => (d.type === "categorical" ? choiceIndex(d, t.params[name]) : toUnit(d, t.params[name])));
const parzen = { priorWeight: 1, considerMagicClip: true, considerEndpoints: false };
const mixture = (ts) => new ParzenMixture(kinds, Float64Array.from(ts.flatMap(encode)), ts.length, tpeWeights(ts.length), parzen);
const l = mixture(below);
const g = mixture(above);
const K = g.size;
const D = dims.length;
const M = 24;
const CUT = 40; // parzen-estimator.ts LOG_SUM_CUT
const afterFirst = [], afterAll = [], inSum = [], gaps = [], close = [], scored = [];
for (let s = 0; s < draws; s++) {
  const x = l.sample(Rng.derive(1, trials.length, `draw${s}`), M);
  const columns = g.candidateColumns(x, M);
  const ll = l.logPdf(x, M);
  const lg = g.logPdf(x, M);
  const bound = new Float64Array(M);
  for (let c = 0; c < M; c++) {
    const near = g.nearBound(c, x, columns);
    bound[c] = ll[c] - near;
    const threshold = near - CUT;
    const full = new Float64Array(K);
    let max = -Infinity;
    let first = 0, all = 0, sum = 0;
    for (let k = 0; k < K; k++) {
      const z = x[c * D] - g.mus[0][k];
      if (g.base[k] - z * z * g.halfPrecision[0][k] >= threshold) first++;
      full[k] = g.completeTerm(k, c, x, columns, g.base[k], -1);
      if (full[k] >= threshold) all++;
      if (full[k] > max) max = full[k];
    }
    for (let k = 0; k < K; k++) if (full[k] > max - CUT) sum++;
    afterFirst.push(first), afterAll.push(all), inSum.push(sum);
  }
  const score = Array.from(ll, (v, c) => v - lg[c]);
  const sorted = [...score].sort((a, b) => b - a);
  gaps.push(sorted[0] - sorted[1]);
  close.push(score.filter((v) => v > sorted[0] - 7).length);
  let best = -Infinity, n = 0;
  for (const c of [...bound.keys()].sort((a, b) => bound[b] - bound[a])) {
    if (bound[c] < best) break;
    n++;
    if (score[c] > best) best = score[c];
  }
  scored.push(n);
}
const cloneMs = [];
const request = { trials: trials.map((t) => ({ ...t, distributions: { ...space }, createdAt: 0, startedAt: 0, finishedAt: null, lease: null })) };
for (let r = 0; r < 20; r++) {
  const c0 = process.cpuUsage();
  structuredClone(request);
  const c = process.cpuUsage(c0);
  cloneMs.push((c.user + c.system) / 1000);
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))];
console.log(`${trials.length} trials; bad set ${K} kernels (prior included), good set ${l.size}; ${draws} asks × ${M} candidates`);
console.log(`kernels per candidate: ${mean(afterFirst).toFixed(0)} survive dimension 0's cut, ${mean(afterAll).toFixed(0)} every dimension's, ${mean(inSum).toFixed(0)} within ${CUT} of the largest term`);
console.log(`score gap best − second: median ${median(gaps).toPrecision(3)}, 10th percentile ${pct(gaps, 0.1).toPrecision(3)}; candidates within 7 of the best: median ${median(close)} of ${M}`);
console.log(`structuredClone of the history: ${median(cloneMs).toFixed(2)} ms CPU (median of 20)`);
console.log(`best-first with the near-term bound: ${mean(scored).toFixed(1)} of ${M} candidates scored exactly (mean)`);
