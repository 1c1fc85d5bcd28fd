// Side-by-side TPE internals (see bench/tpe_compare.py): reads a JSON history on stdin and prints
// tuneport's good/bad split, kernels (numeric: centres and bandwidths in the distribution's
// internal space, i.e. log space for log dimensions and ±step/2-widened bounds for int ones;
// categorical: the kernel rows), log l − log g at given points, samples of l(x) and the points
// the full strategy chooses over many RNG streams. Needs `npm run build`.
import "./help.mjs";
import { readFileSync } from "node:fs";
import { choiceIndex, internalBounds, toUnit } from "../dist/domain/distributions.js";
import { Rng } from "../dist/math/rng.js";
import { ParzenMixture, snapUnit, tpeWeights } from "../dist/strategies/tpe/parzen-estimator.js";
import { TpeStrategy, splitTrials, tpeStrategyFactory } from "../dist/strategies/tpe/tpe-strategy.js";

const inp = JSON.parse(readFileSync(0, "utf8"));
const space = inp.space; // name -> tuneport Distribution
const names = Object.keys(space);
const D = names.length;
const trials = inp.trials.map((t, i) => ({
  id: i, number: i, state: "COMPLETE", params: t.params, distributions: space, value: t.value,
  intermediate: [], userAttrs: {}, systemAttrs: {}, createdAt: 0, startedAt: 0, finishedAt: 0,
}));
const { below, above } = splitTrials(trials, "minimize", true);
const params = { priorWeight: 1, considerMagicClip: true, considerEndpoints: false };
const dims = names.map((n) => {
  const d = space[n];
  if (d.type === "categorical") return { kind: "categorical", n: d.choices.length };
  return d.type === "int" || d.step !== undefined ? { kind: "discrete", d } : { kind: "continuous" };
});
const encode = (n, v) => (space[n].type === "categorical" ? choiceIndex(space[n], v) : toUnit(space[n], v));
const enc = (rows) => {
  const obs = new Float64Array(rows.length * D);
  rows.forEach((p, i) => names.forEach((n, j) => (obs[i * D + j] = encode(n, p[n]))));
  return obs;
};
const l = new ParzenMixture(dims, enc(below.map((t) => t.params)), below.length, tpeWeights(below.length), params);
const g = new ParzenMixture(dims, enc(above.map((t) => t.params)), above.length, tpeWeights(above.length), params);
const toInternal = (mix) => ({
  weights: Array.from(mix.weights),
  kernels: names.map((n, j) => {
    const d = space[n];
    if (d.type === "categorical") return { probs: Array.from(mix.catProbs[j]) };
    const [lo, hi] = internalBounds(d);
    return { mus: Array.from(mix.mus[j], (u) => lo + u * (hi - lo)), sigmas: Array.from(mix.sigmas[j], (s) => s * (hi - lo)) };
  }),
});
const pts = inp.points ?? [];
const xu = enc(pts);
const ll = l.logPdf(xu, pts.length);
const lg = g.logPdf(xu, pts.length);
const fromU = (n, u) => {
  const d = space[n];
  if (d.type === "categorical") return d.choices[u];
  const [lo, hi] = internalBounds(d);
  const x = lo + snapUnit(d, u) * (hi - lo);
  return d.log ? Math.exp(x) : x;
};
const ns = inp.n_samples ?? 0;
const su = l.sample(new Rng(inp.seed ?? 1, "cmp"), ns);
const samples = [];
for (let c = 0; c < ns; c++) samples.push(names.map((n, j) => fromU(n, su[c * D + j])));
const strat = new TpeStrategy(tpeStrategyFactory.options.parse({}));
const study = { name: "cmp", space, direction: "minimize", seed: 1, strategy: { name: "tpe", options: {} }, scheduler: null };
const chosen = [];
for (let r = 0; r < (inp.n_chosen ?? 0); r++) {
  const s = strat.suggest({ study, trials, trialNumber: trials.length, rng: new Rng(r, "chosen") });
  chosen.push(names.map((n) => s.params[n]));
}
process.stdout.write(JSON.stringify({
  below: below.map((t) => t.number), above: above.map((t) => t.number),
  l: toInternal(l), g: toInternal(g), acq: Array.from(ll, (v, i) => v - lg[i]), samples, chosen,
}));
