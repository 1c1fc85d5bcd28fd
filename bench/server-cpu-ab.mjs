// Server CPU per request, two builds side by side (issue 19 item 3): an A/B that the machine's load
// does not drown. Two servers run at once, one per build, each on its own SQLite file; one client
// sends random-strategy ask → tell loops in batches, alternating between them (A, B, A, B, ...), so
// both builds see the same background load at nearly the same moments. Each batch's server CPU is
// read from /proc/PID/task/TID/schedstat (nanoseconds of run time, not 10 ms ticks): the main (JS)
// thread's and the whole process's. Prints per-build medians, quartiles and means of µs per request over
// the batches, their ratio, the two-sided Mann-Whitney p over batches (normal approximation), and
// the paired view (batch i of A against batch i of B: median ratio, Wilcoxon signed-rank p).
//
//   node bench/server-cpu-ab.mjs --a OLD/dist --b dist [--batches 30] [--trials 150] [--warmup 400] [--page N [--page-reports 5]]
//
// --a / --b: a build's dist/ folder (its cli/main.js is started). --trials: ask → tell loops per batch.
// --page N: each batch reads --trials pages of a study of N trials instead (the trials op, limit N;
// each trial with --page-reports reports, default 5), the CPU per read of a big reply.
// --a-node / --b-node: node's own flags for that side's server, space-separated (e.g.
// "--max-semi-space-size=32"), to compare a V8 setting on one build.
//
// On a machine whose cores other work loads unevenly, each server keeps its own place for the run,
// and an A/A round came out 2.5-5.9 % apart (p down to 5e-8); under `taskset -c 1 node
// bench/server-cpu-ab.mjs ...` (the client and both servers on one core) A/A rounds stayed within
// 1.7 %, and a 2 % cut showed (docs/BENCHMARKS.md, 2026-12-07 h125). Swap --a and --b between rounds.
import "./help.mjs";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { rawClient, randomStudyLoop } from "./raw-client.mjs";
import { freePort } from "./serve-process.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const BATCHES = Number(args.batches ?? 30);
const TRIALS = Number(args.trials ?? 150);
const WARMUP = Number(args.warmup ?? 400);
const PAGE = args.page === undefined ? 0 : Number(args.page);
const PAGE_REPORTS = Number(args["page-reports"] ?? 5);
/** Requests a loop of `--trials` makes: ask and tell per trial, or one read per page. */
const PER_BATCH = PAGE > 0 ? TRIALS : 2 * TRIALS;

/** Run time (ns) of each of the process's threads, by thread id. */
function runNs(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(tid, Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]));
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return out;
}

let stopping = false;

async function start(dist, nodeFlags) {
  const port = await freePort();
  const endpoint = `tcp://127.0.0.1:${port}`;
  const db = join(mkdtempSync(join(tmpdir(), "tuneport-cpu-ab-")), "cpu.db");
  const proc = spawn(process.execPath, [...(nodeFlags ? nodeFlags.split(" ") : []), join(resolve(dist), "cli", "main.js"), "serve", "--storage", db, "--bind", endpoint, "--lease-ttl", "600"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  proc.stdout.resume(); // the log goes to a pipe, as under a supervisor; read and dropped
  // A server that cannot start (a dist outside the repository finds no node_modules) must end the
  // run, not leave the client waiting for a hello nobody answers.
  proc.once("exit", (code, signal) => {
    if (!stopping) {
      console.error(`the server of ${dist} exited (${code ?? signal}) during the run`);
      process.exit(1);
    }
  });
  const { sock, call } = rawClient(endpoint);
  let loop = await randomStudyLoop(call, "cpu");
  if (PAGE > 0) {
    await (await randomStudyLoop(call, "page", PAGE_REPORTS))(PAGE);
    loop = async (count) => {
      for (let i = 0; i < count; i++) if ((await call("trials", { study: "page", limit: PAGE })).trials.length !== PAGE) throw new Error("a short page");
    };
  }
  return { dist, proc, sock, loop, main: [], whole: [] };
}

const sides = [await start(args.a ?? "dist", args["a-node"]), await start(args.b ?? "dist", args["b-node"])];
for (const s of sides) await s.loop(WARMUP);
const load0 = loadavg()[0];
for (let b = 0; b < BATCHES; b++) {
  for (const s of b % 2 === 0 ? sides : [...sides].reverse()) {
    const n0 = runNs(s.proc.pid);
    await s.loop(TRIALS);
    const n1 = runNs(s.proc.pid);
    let whole = 0;
    for (const [tid, ns] of n1) whole += ns - (n0.get(tid) ?? 0);
    const main = (n1.get(String(s.proc.pid)) ?? 0) - (n0.get(String(s.proc.pid)) ?? 0);
    s.main.push(main / 1000 / PER_BATCH);
    s.whole.push(whole / 1000 / PER_BATCH);
  }
}
stopping = true;
for (const s of sides) {
  s.sock.close();
  s.proc.kill("SIGTERM");
}
await Promise.all(sides.map((s) => new Promise((r) => (s.proc.exitCode !== null ? r() : s.proc.once("exit", r)))));

const q = (xs, p) => {
  const s = [...xs].sort((x, y) => x - y);
  const i = (s.length - 1) * p;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i));
};
/** Two-sided Mann-Whitney U p, normal approximation with ties averaged in the ranks (no tie correction of the variance). */
function mannWhitney(a, b) {
  const all = [...a.map((v) => [v, 0]), ...b.map((v) => [v, 1])].sort((x, y) => x[0] - y[0]);
  const rank = new Array(all.length);
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1][0] === all[i][0]) j++;
    for (let k = i; k <= j; k++) rank[k] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let ra = 0;
  all.forEach(([, side], i) => side === 0 && (ra += rank[i]));
  const u = ra - (a.length * (a.length + 1)) / 2;
  const mu = (a.length * b.length) / 2;
  const sd = Math.sqrt((a.length * b.length * (a.length + b.length + 1)) / 12);
  const z = Math.abs(u - mu) / sd;
  // erfc via Abramowitz-Stegun 7.1.26
  const t = 1 / (1 + 0.3275911 * (z / Math.SQRT2));
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-(z * z) / 2);
  return erfc;
}
/**
 * The pairs' view: batch i of A and batch i of B ran one after the other, so their ratio cancels the
 * load's slow drift. Median of the ratios, and the two-sided Wilcoxon signed-rank p of their logs
 * (normal approximation).
 */
function paired(a, b) {
  const d = a.map((x, i) => Math.log(b[i] / x)).filter((x) => x !== 0);
  const order = d.map((x, i) => [Math.abs(x), i]).sort((x, y) => x[0] - y[0]);
  let w = 0;
  order.forEach(([, i], r) => (w += d[i] > 0 ? r + 1 : 0));
  const n = d.length;
  const mu = (n * (n + 1)) / 4;
  const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24);
  const z = Math.abs(w - mu) / sd;
  const t = 1 / (1 + 0.3275911 * (z / Math.SQRT2));
  const p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-(z * z) / 2);
  return { median_ratio: Math.round(Math.exp(q(d.length ? d : [0], 0.5)) * 1000) / 1000, p: Number(p.toPrecision(2)) };
}
// The mean too: a cost that comes every few batches (a WAL checkpoint, a major GC) moves it, not the median.
const summary = (xs) => ({ median: Math.round(q(xs, 0.5)), q1: Math.round(q(xs, 0.25)), q3: Math.round(q(xs, 0.75)), mean: Math.round(xs.reduce((a, x) => a + x, 0) / xs.length) });
const [A, B] = sides;
console.log(
  JSON.stringify({
    a: A.dist,
    b: B.dist,
    ...(args["a-node"] ? { a_node: args["a-node"] } : {}),
    ...(args["b-node"] ? { b_node: args["b-node"] } : {}),
    batches: BATCHES,
    ...(PAGE > 0 ? { page_trials: PAGE, page_reports: PAGE_REPORTS } : {}),
    requests_per_batch: PER_BATCH,
    main_us_per_request: { a: summary(A.main), b: summary(B.main), b_over_a: Math.round((q(B.main, 0.5) / q(A.main, 0.5)) * 1000) / 1000, p: Number(mannWhitney(A.main, B.main).toPrecision(2)), paired: paired(A.main, B.main) },
    whole_us_per_request: { a: summary(A.whole), b: summary(B.whole), b_over_a: Math.round((q(B.whole, 0.5) / q(A.whole, 0.5)) * 1000) / 1000, p: Number(mannWhitney(A.whole, B.whole).toPrecision(2)), paired: paired(A.whole, B.whole) },
    load_avg_1m: [Math.round(load0 * 10) / 10, Math.round(loadavg()[0] * 10) / 10],
  }),
);
