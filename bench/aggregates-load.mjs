// buildAggregates (src/service/aggregates.ts) on a study's records, as the server does when it
// loads a study: N COMPLETE trials with STEPS reports each, random values; two builds compared.
//
//   node bench/aggregates-load.mjs --before DIST --after DIST [--n 100000] [--steps 2] [--reps 5]
import "./help.mjs";
import { join, resolve } from "node:path";
import { abArgs, median } from "./ab-args.mjs";

const args = abArgs("node bench/aggregates-load.mjs --before DIST --after DIST [--n 100000] [--steps 2] [--reps 5]", ["before", "after"]);
const n = Number(args.n ?? 100_000);
const steps = Number(args.steps ?? 2);
const reps = Number(args.reps ?? 5);
let s = 42;
const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const trials = Array.from({ length: n }, (_, number) => {
  const value = rand();
  return {
    number, state: "COMPLETE", value, values: [value], constraints: null, params: {},
    intermediate: Array.from({ length: steps }, (_, step) => ({ step, value: value * (1 + 1 / (step + 1)) })),
  };
});
const builds = [];
for (const k of ["before", "after"]) builds.push([k, (await import(join(resolve(args[k]), "service", "aggregates.js"))).buildAggregates]);
const times = { before: [], after: [] };
for (let r = 0; r < reps; r++) {
  for (const [k, build] of builds) {
    const t0 = performance.now();
    build("minimize", trials);
    times[k].push(performance.now() - t0);
  }
}
for (const [k, v] of Object.entries(times)) console.log(`${k}\t${median(v).toFixed(1)} ms (median of ${reps}; ${n} trials, ${steps} reports each)`);
