/**
 * tuneport's side of bench/gp_compare.py (issue 17): the GP strategy's internals on a given history,
 * so that they can be set beside Optuna 5.0's GPSampler internals on the same history.
 *
 * Reads one JSON request (file argument, or stdin):
 *   { space, trials: [{params, value}], n, points: [[unit coords]], thetas: {label: θ}, acqSeeds, chain, options }
 * and writes one JSON answer to stdout:
 * - `X`, `y`: the modelled inputs (unit cube, categoricals as indices) and standardised targets of the
 *   first n trials, in the space's key order;
 * - `fits.cold`: a full MAP fit from the default θ (`maxFitIterations`, as a suggestion without a stored θ);
 *   `fits.chain` (with `chain`): the θ the strategy itself holds at trial n, replaying its warm-start chain
 *   (each suggestion from trial nStartupTrials on stores gp_theta in the next trial, as the service does);
 *   `fits.deep`: a fit from the default θ run to a tight tolerance (no iteration cap to speak of);
 * - `objective`: tuneport's negative log posterior (without the 0.5·n·log 2π constant, as Optuna's) at
 *   every θ (its own and the `thetas` given), so that the two objectives can be compared at one θ;
 * - `predict`: posterior mean, variance and LogEI (threshold: best standardised value) at `points`, per θ;
 * - `acq`: per θ and per seed, the acquisition search's chosen point and its LogEI;
 * - `suggestion`: what the strategy proposes for trial n (unit coordinates) and the θ it stores.
 * θ is [log λ_1..λ_d, log s², log(σ²_n − 1e-6)] (Optuna's raw parameters are the same).
 *
 * Usage: node dist-bench/bench/gp-fidelity.js request.json
 */
import { readFileSync } from "node:fs";
import type { SearchSpace, Params } from "../src/domain/distributions.js";
import type { Trial } from "../src/domain/trial.js";
import { minimizeLbfgs } from "../src/math/lbfgs.js";
import { Rng } from "../src/math/rng.js";
import { AcquisitionSearch } from "../src/strategies/gp/gp-acquisition.js";
import { encodeRow, modelledDims } from "../src/strategies/gp/gp-dims.js";
import { GpObjective, GpPosterior, defaultTheta, thetaBounds } from "../src/strategies/gp/gp-model.js";
import { gpOptions, gpStrategyFactory } from "../src/strategies/gp/gp-strategy.js";
import { standardise } from "../src/strategies/gp/gp-targets.js";
import { logEi } from "../src/strategies/gp/log-ei.js";
import { makeStudy, makeTrial, suggestRequest } from "../src/testing/fixtures.js";

interface Request {
  space: SearchSpace;
  trials: { params: Params; value: number }[];
  n: number;
  points?: number[][];
  thetas?: Record<string, number[]>;
  acqSeeds?: number;
  chain?: boolean;
  options?: Record<string, unknown>;
  seed?: number;
}

const req = JSON.parse(readFileSync(process.argv[2] ?? 0, "utf8")) as Request;
const opts = gpOptions.parse(req.options ?? {});
const space = req.space;
const trials: Trial[] = req.trials.slice(0, req.n).map((t, i) => makeTrial(i, t.params, space, { value: t.value }));
const n = trials.length;
const { dims } = modelledDims(space, new Rng(0));
const d = dims.length;
const isCat = Uint8Array.from(dims, (dim) => (dim.kind === "cat" ? 1 : 0));
const X = new Float64Array(n * d);
trials.forEach((t, i) => encodeRow(t, dims, X, i * d));
const y = standardise(trials.map((t) => t.value as number))!;
const inputs = { n, d, X, isCat };
const LOG_2PI_HALF = 0.5 * Math.log(2 * Math.PI);

function fitFrom(start: Float64Array, maxIter: number, pgtol: number, ftol: number, initialStep: number) {
  const obj = new GpObjective(inputs, y);
  const { lower, upper } = thetaBounds(d);
  const r = minimizeLbfgs((t, g) => obj.evaluate(t, g), start, { value: (t) => obj.value(t), lower, upper, maxIter, pgtol, ftol, initialStep });
  return { theta: Array.from(r.x), f: r.f - n * LOG_2PI_HALF, iterations: r.iterations, evaluations: r.evaluations, converged: r.converged };
}

const fits: Record<string, { theta: number[]; f: number; iterations?: number; evaluations?: number; converged?: boolean }> = {};
// The strategy's own settings for a fit without a stored θ.
fits.cold = fitFrom(defaultTheta(d), opts.maxFitIterations, 0.1, 1e-4, 0.1);
// Close to Optuna's tolerance (scipy L-BFGS-B, gtol 1e-2, factr 1e7 ≈ ftol 2.2e-9, 15000 iterations).
fits.deep = fitFrom(defaultTheta(d), 15000, 1e-2, 2.2e-9, 0.1);

const study = makeStudy(space, { seed: req.seed ?? 0, strategy: { name: "gp", options: req.options ?? {} } });
let suggestion: { x: number[]; theta: number[] | null } | null = null;
if (req.chain) {
  // Replay the warm-start chain: the suggestion for trial k stores its θ in trial k.
  const strategy = gpStrategyFactory.create(opts);
  const replay: Trial[] = [];
  let last: number[] | null = null;
  for (let k = 0; k <= n; k++) {
    if (k >= opts.nStartupTrials) {
      const s = strategy.suggest(suggestRequest(study, replay));
      const th = (s.systemAttrs?.gp_theta as number[] | undefined) ?? null;
      if (th !== null) last = th;
      if (k === n) {
        const x = new Float64Array(d);
        const t = makeTrial(n, s.params, space);
        encodeRow(t, dims, x, 0);
        suggestion = { x: Array.from(x), theta: th };
      }
    }
    if (k < n) replay.push(makeTrial(k, trials[k]!.params, space, { value: trials[k]!.value, systemAttrs: k >= opts.nStartupTrials && last ? { gp_theta: last } : {} }));
  }
  if (last !== null) fits.chain = { theta: last, f: NaN };
}

const thetas: Record<string, number[]> = { ...Object.fromEntries(Object.entries(fits).map(([k, v]) => [k, v.theta])), ...(req.thetas ?? {}) };
const objective: Record<string, number> = {};
const predict: Record<string, { mean: number[]; variance: number[]; logEi: number[] }> = {};
const acq: Record<string, { x: number[]; logEi: number }[]> = {};
let best = Infinity;
let bestRow = 0;
for (let i = 0; i < n; i++) if (y[i]! < best) [best, bestRow] = [y[i]!, i];
for (const [label, th] of Object.entries(thetas)) {
  const theta = Float64Array.from(th);
  const obj = new GpObjective(inputs, y);
  objective[label] = obj.value(theta) - n * LOG_2PI_HALF;
  if (!obj.factor(theta)) continue;
  const post = new GpPosterior(inputs, theta, obj.L, obj.alpha, obj.jitter);
  const p = { mean: [] as number[], variance: [] as number[], logEi: [] as number[] };
  for (const pt of req.points ?? []) {
    post.predict(pt);
    p.mean.push(post.mean);
    p.variance.push(post.variance);
    p.logEi.push(logEi(post.mean, Math.sqrt(Math.max(post.variance, 1e-12)), best));
  }
  predict[label] = p;
  acq[label] = [];
  for (let s = 0; s < (req.acqSeeds ?? 0); s++) {
    const search = new AcquisitionSearch(post, dims, best, opts);
    const x = search.run(new Rng(s, "gp-fidelity"), X.subarray(bestRow * d, bestRow * d + d));
    if (x === null) continue;
    acq[label]!.push({ x: Array.from(x), logEi: search.value(x) });
  }
}
if (fits.chain) fits.chain.f = objective.chain!;

process.stdout.write(JSON.stringify({ names: dims.map((dim) => dim.name), X: Array.from(X), y: Array.from(y), fits, objective, predict, acq, suggestion }) + "\n");
