// What `param_importances` (and `study_summary`'s top parameters) spend on a study with several
// objectives and no `objective`: the importances of reaching the Pareto front, on the op's bound of
// 5,000 COMPLETE trials (src/service/reads-summary.ts `frontImportancesOf`, which sorts an evenly spaced 1,000 of them: non-dominated sorting of
// the sample, then the ε² of the ranks). Median and range of 7 runs after one warm-up, per shape:
// - random: three noisy objectives, each driven by its own parameter (a few dozen fronts);
// - one front: every trial on it (points on the plane v0 + v1 + v2 = 1), the sort's worst case
//   with one front (each trial compared with the whole front so far);
// - chain: every trial its own front (v0 = v1 = v2 = trial number), the worst case with many;
// then independent uniform objectives, 2 to 5 of them (more objectives, fewer and bigger fronts);
// and the one-objective importances on the same number of trials, for scale.
//
//   node bench/front-importances.mjs [--dist dist] [--trials 5000]
import "./help.mjs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const DIST = resolve(args.dist ?? join(import.meta.dirname, "..", "dist"));
const N = Number(args.trials ?? 5000);
const load = (p) => import(pathToFileURL(join(DIST, p)).href);
const { frontImportancesOf, importancesOf } = await load("service/reads-summary.js");
const { Rng } = await load("math/rng.js");

const rng = new Rng(1);
const rnd = () => rng.random();
const DIRS = ["minimize", "minimize", "minimize"];

function trials(shape) {
  return Array.from({ length: N }, (_, i) => {
    const params = { x: rnd(), y: rnd(), z: rnd(), k: "abc"[i % 3] };
    let values;
    if (shape === "random") values = [params.x + 0.3 * rnd(), params.y + 0.3 * rnd(), params.z + 0.3 * rnd()];
    else if (shape === "one front") {
      const a = rnd();
      const b = rnd() * (1 - a);
      values = [a, b, 1 - a - b];
    } else values = [i, i, i];
    return { state: "COMPLETE", values, value: values[0], constraints: null, params };
  });
}

function time(f) {
  f();
  const ms = [];
  for (let r = 0; r < 7; r++) {
    const t = performance.now();
    f();
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  return `median ${ms[3].toFixed(0)} ms [${ms[0].toFixed(0)}, ${ms[6].toFixed(0)}]`;
}

for (const shape of ["random", "one front", "chain"]) {
  const ts = trials(shape);
  const fronts = (frontImportancesOf(DIRS, ts).caveats[0] ?? "").match(/\((\d+) fronts?;/)?.[1] ?? "?";
  console.log(`${shape.padEnd(9)} ${N} trials x 3 objectives (fronts: ${fronts}): ${time(() => frontImportancesOf(DIRS, ts))}`);
}
for (const m of [2, 3, 4, 5]) {
  const dirs = Array.from({ length: m }, () => "minimize");
  const ts = Array.from({ length: N }, () => ({ state: "COMPLETE", values: Array.from({ length: m }, rnd), constraints: null, params: { x: rnd(), y: rnd() } }));
  const fronts = (frontImportancesOf(dirs, ts).caveats[0] ?? "").match(/\((\d+) fronts?;/)?.[1] ?? "?";
  console.log(`uniform   ${N} trials x ${m} objectives (fronts: ${fronts}): ${time(() => frontImportancesOf(dirs, ts))}`);
}
const one = trials("random").map((t) => ({ ...t, values: [t.values[0]] }));
console.log(`one objective, ${N} trials: ${time(() => importancesOf(one))}`);
