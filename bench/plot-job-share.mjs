// The real history job of the 100,000-trial study (2,000 trial views) sent to the real chart
// renderer (dist's plot-worker.js, a child process, advanced serialisation), as trialView makes the
// views (each its own distributions) and shared (plot-job.ts shareDistributions), alternated in blocks.
// Per job: round trip wall, the parent's CPU (serialising; process.cpuUsage) and the child's CPU (/proc, 10 ms ticks).
//   node bench/plot-job-share.mjs --db /tmp/rb.db [--dist dist] [--blocks 8]
// (DB: bench/reads-fill.mjs, study "big"; DIST: a build with service/plot-job.js, its child-process renderer and its sharing)
import "./help.mjs";
import { fork } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import v8 from "node:v8";

const { values: args } = parseArgs({ options: { db: { type: "string" }, dist: { type: "string", default: "dist" }, blocks: { type: "string", default: "8" } } });
if (!args.db) throw new Error("--db FILE is required (see the header)");
const dist = resolve(args.dist);
const { StudyService, SqliteStorage } = await import(join(dist, "index.js"));
const { silentLogger } = await import(join(dist, "logger.js"));
const { PlotRenderer } = await import(join(dist, "service/plot-renderer.js"));
const { shareDistributions } = await import(join(dist, "service/plot-job.js"));
const dir = mkdtempSync(join(tmpdir(), "tuneport-plot-job-"));
copyFileSync(args.db, join(dir, "c.db"));
let job;
PlotRenderer.prototype.render = async function (kind, study, trials, opts) { job = { kind, study, trials, opts }; throw new Error("x"); };
const storage = new SqliteStorage({ path: join(dir, "c.db"), durability: "process" });
const service = await StudyService.open({ storage, logger: silentLogger(), plots: new PlotRenderer(silentLogger()) });
await service.execute("plot", { study: "big", kind: "history" }).catch(() => {});
await service.close();
await storage.close();
rmSync(dir, { recursive: true, force: true });
const shared = job.trials;
const unshared = shared.map((t) => ({ ...t, distributions: structuredClone(t.distributions) }));
console.log(`distinct distributions objects: shared ${new Set(shared.map((t) => t.distributions)).size}, unshared ${new Set(unshared.map((t) => t.distributions)).size}; v8 bytes ${v8.serialize({ ...job, trials: shared }).length} vs ${v8.serialize({ ...job, trials: unshared }).length}`);
const keep = setInterval(() => {}, 1000);
const w = fork(join(dist, "service/plot-worker.js"), [], { serialization: "advanced", execArgv: [], stdio: ["ignore", "ignore", "inherit", "ipc"] });
const cpu = () => { const f = readFileSync(`/proc/${w.pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
let id = 0;
const rt = (m) => new Promise((r) => { w.once("message", r); w.send({ id: ++id, ...m }); });
await rt({ warm: true });
for (let i = 0; i < 3; i++) await rt({ ...job, trials: unshared });
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const res = { unshared: [], shared: [] };
for (let block = 0; block < Number(args.blocks); block++) {
  for (const [name, trials] of block % 2 ? [["shared", shared], ["unshared", unshared]] : [["unshared", unshared], ["shared", shared]]) {
    const wall = [], parent = [];
    const c0 = cpu();
    for (let i = 0; i < 10; i++) {
      const u0 = process.cpuUsage(), t0 = performance.now();
      await rt({ ...job, trials });
      wall.push(performance.now() - t0); const u = process.cpuUsage(u0); parent.push((u.user + u.system) / 1000);
    }
    const child = (cpu() - c0) / 10;
    res[name].push({ wall: med(wall), parent: med(parent), child });
    console.log(`block ${block} ${name.padEnd(8)} round trip p50 ${med(wall).toFixed(0)} ms, parent CPU p50 ${med(parent).toFixed(1)} ms, child CPU ${child.toFixed(0)} ms per chart, load ${readFileSync("/proc/loadavg", "utf8").split(" ")[0]}`);
  }
}
w.disconnect();
clearInterval(keep);
