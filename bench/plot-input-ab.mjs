// The server-side sample of a history plot (plot-sample.ts `plotInput`), two builds, one process,
// alternating: CPU per call (median) at N COMPLETE trials with random values, and whether both
// builds choose the same trials.
//
//   node bench/plot-input-ab.mjs --before DIST --after DIST [--n 100000] [--kind history] [--reps 15]
import "./help.mjs";
import { join, resolve } from "node:path";
import { abArgs, median } from "./ab-args.mjs";

const args = abArgs("node bench/plot-input-ab.mjs --before DIST --after DIST [--n 100000] [--kind history] [--reps 15]", ["before", "after"]);
const n = Number(args.n ?? 100_000);
const kind = args.kind ?? "history";
const reps = Number(args.reps ?? 15);
const load = async (dist) => import(join(resolve(dist), "service", "plot-sample.js"));
const builds = [["before", await load(args.before)], ["after", await load(args.after)]];
let s = 7;
const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const trials = Array.from({ length: n }, (_, number) => {
  const value = rand();
  return { number, state: "COMPLETE", value, values: [value], constraints: null, params: { x: rand(), y: rand() }, intermediate: [] };
});
const counts = { COMPLETE: n, RUNNING: 0, WAITING: 0, PRUNED: 0, FAIL: 0 };
const cpu = { before: [], after: [] };
for (let r = 0; r < reps; r++) {
  for (const [k, m] of builds) {
    const c0 = process.cpuUsage();
    m.plotInput(kind, trials, "minimize", counts);
    const c = process.cpuUsage(c0);
    if (r >= 3) cpu[k].push((c.user + c.system) / 1000); // the first calls warm the code up
  }
}
const chosen = builds.map(([, m]) => JSON.stringify(m.plotInput(kind, trials, "minimize", counts).trials.map((t) => t.number)));
for (const [k, v] of Object.entries(cpu)) console.log(`${k}\tplotInput(${kind}) CPU ${median(v).toFixed(1)} ms (median of ${v.length}; ${n} trials)`);
console.log(`same trials chosen: ${chosen[0] === chosen[1]}`);
