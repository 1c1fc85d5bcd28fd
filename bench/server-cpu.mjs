// Server CPU per request (issue 19, item 3): one client runs random-strategy ask → tell loops
// against `node --cpu-prof dist/cli/main.js serve`; the server's CPU time (utime + stime from
// /proc) divided by the requests gives µs of server CPU per request, and the CPU profile, each
// sample charged to the nearest frame of a known layer, gives the breakdown:
//
//   decode     msgpackr unpack + the byte-level input check (msgpack-scan)
//   validate   zod (op argument schemas)
//   service    src/service, src/domain, src/strategies, src/schedulers, src/math
//   commit     src/storage (better-sqlite3 included: native time is charged to its JS caller)
//   encode     msgpackr pack
//   transport  src/transports/zmq and zeromq.js (socket reads/writes, the event loop glue)
//   logging    pino
//   gc / other (garbage collector), (program), node internals
//
//   node bench/server-cpu.mjs [--trials 3000] [--reports 0] [--out DIR] [--cli dist/cli/main.js] [--prof 0] [--prof-interval 1000]
//
// `--prof 0` runs the server without --cpu-prof (V8's sampling thread costs CPU too): the CPU
// figures without the breakdown. Either way `threads_us_per_request` splits the process's CPU by
// thread name (/proc/PID/task/*/comm: the JS thread, ZeroMQ's I/O thread, V8's GC workers...).
//
// Prints a JSON line with the figures and keeps the .cpuprofile in --out (open it in Chrome
// DevTools or speedscope).
import "./help.mjs";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, mkdirSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { rawClient, randomStudyLoop } from "./raw-client.mjs";
import { freePort } from "./serve-process.mjs";

const ROOT = join(import.meta.dirname, "..");
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const TRIALS = Number(args.trials ?? 3000);
const REPORTS = Number(args.reports ?? 0);
const PROFILE = (args.prof ?? "1") !== "0";
/** µs between the profiler's samples (V8's default 1000): 100 gives ten times the samples, and costs the server more CPU. */
const PROF_INTERVAL = Number(args["prof-interval"] ?? 1000);
const CLI = resolve(args.cli ?? join(ROOT, "dist", "cli", "main.js"));
mkdirSync(args.out ?? tmpdir(), { recursive: true });
const OUT = mkdtempSync(join(args.out ?? tmpdir(), "tuneport-cpuprof-"));

function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100; // utime + stime, 100 ticks/s
}

/** CPU ms of each of the process's threads, by thread id, with the thread's name. */
function threadCpu(pid) {
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = f.slice(f.indexOf("(") + 1, f.lastIndexOf(")"));
      const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
      out.set(tid, { name, ms: ((Number(rest[11]) + Number(rest[12])) * 1000) / 100 });
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return out;
}

const port = await freePort();
const endpoint = `tcp://127.0.0.1:${port}`;
const db = join(mkdtempSync(join(tmpdir(), "tuneport-cpu-")), "cpu.db");
const proc = spawn(process.execPath, [...(PROFILE ? ["--cpu-prof", "--cpu-prof-dir", OUT, `--cpu-prof-interval=${PROF_INTERVAL}`] : []), CLI, "serve", "--storage", db, "--bind", endpoint, "--lease-ttl", "600"], {
  stdio: ["ignore", "pipe", "inherit"],
});
proc.stdout.resume(); // the log goes to a pipe, as under a supervisor; read and dropped
proc.once("exit", (c) => {
  if (c !== 0 && c !== null) console.error(`server exited ${c}`);
});
const { sock, call } = rawClient(endpoint);
const loop = await randomStudyLoop(call, "cpu", REPORTS);
await loop(Math.min(300, TRIALS)); // warm-up (JIT)
const requests = TRIALS * (2 + REPORTS);
const c0 = cpuMs(proc.pid);
const th0 = threadCpu(proc.pid);
const t0 = performance.now();
const client0 = process.cpuUsage();
// V8 stamps profile samples with the monotonic clock in µs, as process.hrtime here: the window of the loop.
const w0 = Number(process.hrtime.bigint() / 1000n);
await loop(TRIALS);
const w1 = Number(process.hrtime.bigint() / 1000n);
const wall = performance.now() - t0;
const clientCpu = process.cpuUsage(client0);
const cpu = cpuMs(proc.pid) - c0;
const byThread = {};
for (const [tid, { name, ms }] of threadCpu(proc.pid)) {
  const key = tid === String(proc.pid) ? "main (JS)" : name;
  byThread[key] = (byThread[key] ?? 0) + ms - (th0.get(tid)?.ms ?? 0);
}
const cpuMain = byThread["main (JS)"];
const threadsUs = Object.fromEntries(
  Object.entries(byThread)
    .filter(([, ms]) => ms > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, ms]) => [k, Math.round((ms * 1000) / requests)]),
);
sock.close();
proc.kill("SIGTERM");
await new Promise((r) => proc.once("exit", r));

const figures = {
  trials: TRIALS,
  reports_per_trial: REPORTS,
  requests,
  profiled: PROFILE,
  wall_us_per_request: Math.round((wall * 1000) / requests),
  server_cpu_us_per_request: Math.round((cpu * 1000) / requests),
  main_thread_cpu_us_per_request: Math.round((cpuMain * 1000) / requests),
  threads_us_per_request: threadsUs,
  // This one Dealer client (zeromq.js, as bench/load-client.mjs): what each of the load bench's clients spends per request.
  client_cpu_us_per_request: Math.round((clientCpu.user + clientCpu.system) / requests),
  load_avg_1m: Math.round(loadavg()[0] * 10) / 10,
};
if (!PROFILE) {
  console.log(JSON.stringify(figures, null, 1));
  process.exit(0);
}

// ------------------------------------------------------------------ the profile
// One profile per thread (the plot and suggest workers too); the main thread's is the ".0." one.
const file = readdirSync(OUT).find((f) => f.endsWith(".cpuprofile") && f.split(".")[4] === "0");
const prof = JSON.parse(readFileSync(join(OUT, file), "utf8"));
const byId = new Map(prof.nodes.map((x) => [x.id, x]));
const parent = new Map();
for (const x of prof.nodes) for (const c of x.children ?? []) parent.set(c, x.id);

function layerOf(node) {
  const { url, functionName } = node.callFrame;
  if (functionName === "(garbage collector)") return "gc";
  if (functionName === "(idle)") return "idle";
  if (url.includes("msgpackr")) return /pack|encode|write/i.test(functionName) && !/unpack/i.test(functionName) ? "encode" : "decode";
  if (url.includes("msgpack-scan")) return "decode";
  if (url.includes("/zod/")) return "validate";
  if (url.includes("/pino") || url.includes("sonic-boom") || url.includes("/logger.js")) return "logging";
  if (url.includes("/storage/") || url.includes("better-sqlite3")) return "commit";
  if (url.includes("/service/") || url.includes("/domain/") || url.includes("/strategies/") || url.includes("/schedulers/") || url.includes("/math/"))
    return "service";
  if (url.includes("/transports/zmq/") || url.includes("zeromq")) return "transport";
  return null;
}

const perLayer = {};
let total = 0;
const times = prof.timeDeltas;
const leafSelf = new Map();
let at = prof.startTime;
for (let i = 0; i < prof.samples.length; i++) {
  const dt = times[i] ?? 0;
  at += dt;
  if (at < w0 || at > w1) continue; // start-up, warm-up and shutdown are not requests
  let id = prof.samples[i];
  const leaf = byId.get(id);
  let layer = null;
  while (id !== undefined) {
    layer = layerOf(byId.get(id));
    if (layer) break;
    id = parent.get(id);
  }
  layer ??= "other";
  if (layer === "idle") continue;
  perLayer[layer] = (perLayer[layer] ?? 0) + dt;
  total += dt;
  const key = `${leaf.callFrame.functionName || "(anonymous)"} ${leaf.callFrame.url.split("/").slice(-2).join("/")}:${leaf.callFrame.lineNumber + 1}`;
  leafSelf.set(key, (leafSelf.get(key) ?? 0) + dt);
}
// The shares of the loop's samples are applied to the CPU the process used during the loop.
const share = Object.fromEntries(Object.entries(perLayer).map(([k, v]) => [k, v / total]));
// Charged to the main thread's CPU (the profile samples the JS thread; the ZeroMQ I/O thread is the rest).
const usMain = (cpuMain * 1000) / requests;
const breakdown = Object.fromEntries(Object.entries(share).map(([k, s]) => [k, Math.round(s * usMain * 10) / 10]));
const top = [...leafSelf.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => ({ frame: k, share: Math.round((v / total) * 1000) / 10 }));
console.log(JSON.stringify({ ...figures, breakdown_us: breakdown, top_self_frames_pct: top, profile: join(OUT, file), loop_window_us: [w0, w1] }, null, 1));
