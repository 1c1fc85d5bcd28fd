// The first charts after a server starts (issue 19 item 5): serves a copy of DB (a file made by
// bench/reads-fill.mjs, study "big"), waits WAIT seconds after it listens, tells one trial (so that
// the plot cache cannot answer; --no-tell to leave the study unchanged), then times its first
// history and parallel-coordinates charts over ZeroMQ. With --live N it then times N more of each
// with one tell before every request (so each is drawn, as bench/reads.mjs's "live" rows), and
// prints their per-request times, the CPU time the server and its children (the chart renderer, a
// process since f39f37b) spent per chart, their RSS (both from /proc), and the load average. Alternate builds to compare them:
//   node bench/first-chart.mjs --db /tmp/rb.db --cli dist/cli/main.js [--wait 9] [--no-tell] [--live N]
//   (a 100,000-trial DB: node -e 'import("./bench/reads-fill.mjs").then((m) => m.fill("/tmp/rb.db", 100000))')
import "./help.mjs";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Packr, Unpackr } from "msgpackr";
import { Dealer } from "zeromq";

const { values: args } = parseArgs({ options: { db: { type: "string" }, cli: { type: "string", default: "dist/cli/main.js" }, wait: { type: "string", default: "9" }, "no-tell": { type: "boolean", default: false }, live: { type: "string", default: "0" } } });
if (!args.db) throw new Error("--db FILE is required (see the header)");
const dir = mkdtempSync(join(tmpdir(), "tuneport-first-chart-"));
const db = join(dir, "copy.db");
copyFileSync(args.db, db);
const proc = spawn(process.execPath, [args.cli, "serve", "--storage", db, "--bind", "tcp://127.0.0.1:0", "--log-format", "json"], { stdio: ["ignore", "pipe", "inherit"] });
const endpoint = await new Promise((resolve, reject) => {
  let buf = "";
  const onData = (d) => {
    buf += d;
    const line = buf.split("\n").slice(0, -1).find((l) => l.includes('"zmq listening"'));
    if (line) {
      proc.stdout.off("data", onData);
      proc.stdout.resume();
      resolve(JSON.parse(line).endpoints[0]);
    }
  };
  proc.stdout.on("data", onData);
  proc.once("exit", (code) => reject(new Error(`serve exited with ${code}`)));
});
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });
const sock = new Dealer({ linger: 0 });
sock.connect(endpoint);
let seq = 0;
async function call(op, a) {
  const t0 = performance.now();
  await sock.send(packr.pack({ v: 1, id: `c${seq++}`, op, ...a }));
  const r = unpackr.unpack((await sock.receive()).at(-1));
  if (!r.ok) throw new Error(`${op}: ${JSON.stringify(r.error)}`);
  return { ms: performance.now() - t0, result: r.result };
}
try {
  await call("hello", { versions: [1] });
  await new Promise((r) => setTimeout(r, Number(args.wait) * 1000));
  if (!args["no-tell"]) {
    const { result } = await call("ask", { study: "big" });
    await call("tell", { study: "big", trial: result.trial.number, token: result.lease.token, state: "COMPLETE", value: Math.random() });
  }
  const load0 = loadavg()[0];
  const history = await call("plot", { study: "big", kind: "history" });
  const parallel = await call("plot", { study: "big", kind: "parallel_coordinates" });
  console.log(`${args.cli}\tfirst history ${history.ms.toFixed(0)} ms\tfirst parallel coordinates ${parallel.ms.toFixed(0)} ms`);
  const live = Number(args.live);
  if (live > 0) {
    const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
    const children = () => {
      const task = `/proc/${proc.pid}/task/${proc.pid}/children`;
      return existsSync(task) ? readFileSync(task, "utf8").trim().split(/\s+/).filter(Boolean) : [];
    };
    // CPU ms (user + system, all threads) of the server and of its children, from /proc/PID/stat (ticks of 10 ms).
    const cpu = (pid) => {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      return (Number(f[11]) + Number(f[12])) * 10;
    };
    const cpuAll = () => new Map([proc.pid, ...children()].map((p) => [String(p), cpu(p)]));
    for (const kind of ["history", "parallel_coordinates"]) {
      const ms = [];
      const before = cpuAll();
      for (let i = 0; i < live; i++) {
        const { result } = await call("ask", { study: "big" });
        await call("tell", { study: "big", trial: result.trial.number, token: result.lease.token, state: "COMPLETE", value: Math.random() });
        ms.push((await call("plot", { study: "big", kind })).ms);
      }
      const after = cpuAll();
      const spent = (pid) => (after.get(pid) ?? 0) - (before.get(pid) ?? 0);
      const server = spent(String(proc.pid)) / live;
      const kids = [...after.keys()].filter((p) => p !== String(proc.pid)).reduce((s, p) => s + spent(p), 0) / live;
      console.log(`${args.cli}\tlive ${kind} p50 ${p50(ms).toFixed(0)} ms\t[${ms.map((x) => x.toFixed(0)).join(", ")}]\tCPU per chart: server ${server.toFixed(0)} ms, children ${kids.toFixed(0)} ms`);
    }
    // RSS in MiB of the server and of each process it started (the renderer, since f39f37b; none before).
    const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;
    const kidRss = children().map((k) => `${k}:${rss(k).toFixed(0)}`).join(" ") || "none";
    console.log(`${args.cli}\tserver RSS ${rss(proc.pid).toFixed(0)} MiB\tchildren RSS ${kidRss} MiB\tload ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`);
  }
} finally {
  sock.close();
  proc.kill("SIGTERM");
  await new Promise((r) => proc.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
