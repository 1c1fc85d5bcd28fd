// Load benchmark: N worker processes doing ask → report → tell against one tuneport server
// process; aggregate trials/s, p50/p99 per-op latency, server RSS.
//
//   npm run build && node bench/load.mjs [--clients 32,128] [--strategies random,tpe]
//        [--trials random=100000,tpe=4000] [--out bench/results/load.json] [--cpu-prof DIR]
//        [--seconds S] [--storage-url postgresql://...] [--pg-pid PID] [--durability process|power]
//        [--cli PATH/TO/dist/cli/main.js] [--label NAME] [--warmup N]
//
// Each configuration gets a fresh server on a fresh SQLite file (default --durability
// process), or with --storage-url on a fresh schema of that PostgreSQL database (--pg-pid: the
// postmaster, whose CPU time — its backends' included — is then counted as server CPU too).
// --seconds ends every client's loop after that window (the trial counts become caps). Clients start together at a common instant after connecting and saying hello,
// so process start-up is not timed; before that, each client runs --warmup N trials [30] on a study of
// its own strategy beside the measured one ("load-warmup"), so that its JIT has compiled the loop
// before the window opens (0: none, as before 2026-12-05). RSS is the server's VmRSS from /proc, sampled every 100 ms.
import "./help.mjs";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Packr, Unpackr } from "msgpackr";
import { Dealer, context } from "zeromq";
import { freePort, listening } from "./serve-process.mjs";

context.blocky = false;
const HERE = import.meta.dirname;
const CLI_DEFAULT = join(HERE, "..", "dist", "cli", "main.js");
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const clientCounts = (args.clients ?? "32,128").split(",").map(Number);
const strategies = (args.strategies ?? "random,tpe").split(",");
const trialsFor = Object.fromEntries((args.trials ?? "random=100000,tpe=4000").split(",").map((kv) => kv.split("=")).map(([k, v]) => [k, Number(v)]));
const out = args.out ?? join(HERE, "results", "load.json");
// --cli: another build's CLI (an A/B against an earlier build in the same session).
const CLI = args.cli ? resolve(args.cli) : CLI_DEFAULT;
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });

const SPACE = {
  lr: { type: "float", low: 1e-5, high: 1e-1, log: true },
  dropout: { type: "float", low: 0, high: 0.5 },
  layers: { type: "int", low: 1, high: 8 },
  act: { type: "categorical", choices: ["relu", "gelu", "tanh"] },
};

function rssMiB(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** CPU seconds (user + system) of a process, plus its reaped children's, from /proc. */
function cpuS(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    // fields after "(comm) ": state=0 ... utime=11 stime=12 cutime=13 cstime=14
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of a PostgreSQL server: the postmaster, its reaped backends and its live ones. */
function pgCpuS(postmaster) {
  let total = cpuS(postmaster);
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1].split(" ");
      if (Number(f[1]) === postmaster) total += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      /* gone */
    }
  }
  return total;
}

async function startServer(db, port, cpuProf) {
  const nodeArgs = cpuProf ? ["--cpu-prof", "--cpu-prof-dir", cpuProf] : [];
  const durability = args.durability ? ["--durability", args.durability] : [];
  const proc = spawn(process.execPath, [...nodeArgs, CLI, "serve", "--storage", db, "--bind", `tcp://127.0.0.1:${port}`, "--lease-ttl", "600", ...durability], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await listening(proc);
  return proc;
}

async function admin(endpoint, op, a) {
  const s = new Dealer({ linger: 0, receiveTimeout: 30_000 });
  s.connect(endpoint);
  await s.send(packr.pack({ v: 1, id: `admin-${Math.random()}`, op, ...a }));
  const [f] = await s.receive();
  s.close();
  const r = unpackr.unpack(f);
  if (!r.ok) throw new Error(`${op}: ${r.error.code} ${r.error.message}`);
  return r.result;
}

async function runOne(strategy, clients, totalTrials) {
  const dir = mkdtempSync(join(tmpdir(), "tuneport-load-"));
  const port = await freePort();
  const endpoint = `tcp://127.0.0.1:${port}`;
  const pgUrl = args["storage-url"];
  const location = pgUrl ? `${pgUrl}${pgUrl.includes("?") ? "&" : "?"}schema=load_${strategy}_${clients}_${process.pid}` : join(dir, "load.db");
  const server = await startServer(location, port, args["cpu-prof"]);
  const killServer = () => server.kill("SIGKILL");
  process.once("exit", killServer);
  await admin(endpoint, "create_study", { name: "load", space: SPACE, strategy, seed: 1 });
  const warmup = Number(args.warmup ?? 30);
  if (warmup > 0) await admin(endpoint, "create_study", { name: "load-warmup", space: SPACE, strategy, seed: 2 });
  const per = Math.ceil(totalTrials / clients);
  const pgPid = args["pg-pid"] ? Number(args["pg-pid"]) : null;
  let cpu0 = null;
  let startCpu = null;
  // Start barrier: every client connects and says hello, prints "ready", and waits for the go line.
  let ready = 0;
  const procs = [];
  const allReady = new Promise((resolve) => {
    procs.onReady = () => ++ready === clients && resolve();
  });
  const rss = [];
  const sampler = setInterval(() => rss.push(rssMiB(server.pid)), 100);
  const results = await Promise.all(
    Array.from(
      { length: clients },
      () =>
        new Promise((resolve, reject) => {
          const p = spawn(process.execPath, [join(HERE, "load-client.mjs"), endpoint, "load", String(per), "stdin"], {
            stdio: ["pipe", "pipe", "inherit"],
            env: { ...process.env, TUNEPORT_LOAD_WARMUP: warmup > 0 ? `load-warmup:${warmup}` : "" },
          });
          procs.push(p);
          let s = "";
          let announced = false;
          p.stdout.on("data", (d) => {
            s += d;
            if (!announced && s.startsWith("ready\n")) {
              announced = true;
              s = s.slice(6);
              procs.onReady();
            }
          });
          // "close", not "exit": stdout may still hold data when the process has exited
          p.once("close", (code) => (code === 0 ? resolve(JSON.parse(s)) : reject(new Error(`client exited ${code}`))));
        }),
    ).concat([
      allReady.then(() => {
        const goAt = Date.now() + 300;
        const stopAt = args.seconds ? goAt + Number(args.seconds) * 1000 : Number.POSITIVE_INFINITY;
        for (const p of procs) p.stdin.end(`${goAt} ${stopAt}\n`);
        startCpu = setTimeout(() => (cpu0 = { server: cpuS(server.pid), pg: pgPid ? pgCpuS(pgPid) : 0 }), 300);
        return null;
      }),
    ]),
  ).then((all) => all.filter((r) => r !== null));
  clearInterval(sampler);
  if (startCpu) clearTimeout(startCpu);
  const cpu1 = { server: cpuS(server.pid), pg: pgPid ? pgCpuS(pgPid) : 0 };
  const rssAtEnd = rssMiB(server.pid);
  const study = (await admin(endpoint, "get_study", { study: "load" })).study;
  process.off("exit", killServer);
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  const done = results.reduce((s, r) => s + r.done, 0);
  const start = Math.min(...results.map((r) => r.start));
  const end = Math.max(...results.map((r) => r.end));
  const ops = {};
  for (const op of ["ask", "report", "tell"]) {
    const all = results.flatMap((r) => r[op]).sort((a, b) => a - b);
    ops[op] = { p50_ms: pct(all, 50), p99_ms: pct(all, 99), max_ms: all[all.length - 1] };
  }
  const askTell = results.flatMap((r) => r.ask.map((a, i) => a + (r.tell[i] ?? 0))).sort((a, b) => a - b);
  const cpu = cpu0 ? { server: cpu1.server - cpu0.server, pg: cpu1.pg - cpu0.pg } : null;
  const row = {
    system: "tuneport",
    storage: pgUrl ? "postgresql" : `sqlite (${args.durability ?? "process"})`,
    ask_tell: { p50_ms: pct(askTell, 50), p99_ms: pct(askTell, 99) },
    server_cpu_ms_per_trial: cpu && done > 0 ? { tuneport: (cpu.server * 1000) / done, postgres: (cpu.pg * 1000) / done } : null,
    strategy,
    clients,
    trials: done,
    stored_complete: study.counts.COMPLETE,
    seconds: (end - start) / 1000,
    trials_per_s: done / ((end - start) / 1000),
    ops,
    server_rss_mib: { at_end: Math.round(rssAtEnd), max: Math.round(Math.max(...rss.filter(Number.isFinite))) },
  };
  process.stderr.write(`${JSON.stringify(row)}\n`);
  return row;
}

const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, mem_gib: Math.round(totalmem() / 2 ** 30), node: process.version, note: "shared with other jobs; noisy" };
const label = args.label ?? "tuneport";
/** Appends a row to OUT[label].rows (written after every configuration, so a later failure loses nothing). */
function save(row) {
  let data = {};
  try {
    data = JSON.parse(readFileSync(out, "utf8"));
  } catch {
    /* first run */
  }
  const entry = data[label] ?? { machine, rows: [] };
  entry.rows.push({ ...row, at: new Date().toISOString(), command: `node bench/load.mjs ${process.argv.slice(2).join(" ")}`, load_avg: loadavg().map((x) => Math.round(x * 10) / 10) });
  data[label] = { ...entry, machine };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(data, null, 2)}\n`);
}
for (const strategy of strategies)
  for (const clients of clientCounts) {
    const loadBefore = loadavg()[0];
    const row = await runOne(strategy, clients, trialsFor[strategy] ?? 10_000);
    save({ ...row, load_avg_before: Math.round(loadBefore * 10) / 10 });
  }
process.stderr.write(`wrote ${out} [${label}]\n`);
