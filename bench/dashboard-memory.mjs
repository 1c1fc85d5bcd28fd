// Dashboard cost in server memory (issue 16): what one connected dashboard keeps alive on the
// server. In process, so the heap can be collected before each reading (node --expose-gc): a
// real StudyService on a SQLite file and a real DashboardServer on loopback; each "dashboard" is
// what an open page holds — its SSE stream (/api/events) — after it read its study page once
// (get_study, query_trials); then tells fan a change out to every stream. Readings after gc():
// heap used and RSS, with 0, N/2 and N connected; the per-dashboard cost is the growth from N/2
// to N per dashboard (and the least-squares slope over all three). Prints one JSON object (also bench/results/dashboard-memory.json).
// Usage: node --expose-gc bench/dashboard-memory.mjs [N]   (make bench-dashboard runs it)
import "./help.mjs";
import { request } from "node:http";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
const N = Number(process.argv[2] ?? 200);
const { StudyService } = await import(join(ROOT, "dist/service/study-service.js"));
const { SqliteStorage } = await import(join(ROOT, "dist/storage/sqlite/sqlite-storage.js"));
const { DashboardServer } = await import(join(ROOT, "dist/transports/http/dashboard.js"));
const { silentLogger } = await import(join(ROOT, "dist/logger.js"));

const dir = mkdtempSync(join(tmpdir(), "tp-dash-mem-"));
const storage = new SqliteStorage({ path: join(dir, "m.db") });
const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
const dash = new DashboardServer({ source: svc, logger: silentLogger(), port: 0 });
const streams = [];
const results = { connected: N, readings: [] };
try {
  const space = { lr: { type: "float", low: 1e-4, high: 1, log: true }, layers: { type: "int", low: 1, high: 6 } };
  await svc.execute("create_study", { name: "m", space, strategy: "random", seed: 1 });
  for (let i = 0; i < 1000; i++) {
    const a = await svc.execute("ask", { study: "m" });
    await svc.execute("tell", { study: "m", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: Math.random() });
  }
  const port = await dash.start();
  const base = `http://127.0.0.1:${port}`;
  const opCall = async (name, args) => (await fetch(`${base}/api/op/${name}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(args) })).json();
  /** One dashboard: its page's first reads, then its open change stream (resolves once the stream answered). */
  const connect = async () => {
    await opCall("get_study", { study: "m" });
    await opCall("query_trials", { study: "m", limit: 50 });
    await new Promise((resolve, reject) => {
      const req = request(`${base}/api/events`, { headers: { accept: "text/event-stream" } }, (res) => {
        res.on("data", () => undefined);
        streams.push(req);
        resolve();
      });
      req.on("error", reject);
      req.end();
    });
  };
  const reading = async (connected) => {
    // Changes reach every stream, as a live study's do.
    for (let i = 0; i < 5; i++) {
      const a = await svc.execute("ask", { study: "m" });
      await svc.execute("tell", { study: "m", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: Math.random() });
    }
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 3; i++) globalThis.gc();
    const m = process.memoryUsage();
    results.readings.push({ connected, heap_used_mib: +(m.heapUsed / 2 ** 20).toFixed(2), rss_mib: +(m.rss / 2 ** 20).toFixed(2) });
  };
  await reading(0);
  for (const target of [N / 2, N]) {
    while (streams.length < target) await connect();
    await reading(streams.length);
  }
  const slope = (key) => {
    const xs = results.readings.map((r) => r.connected);
    const ys = results.readings.map((r) => r[key]);
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    const num = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0);
    const den = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    return +((num / den) * 1024).toFixed(1);
  };
  // From N/2 to N: the first connections also warm up code paths (one-time), so this marginal
  // cost is the one to quote; the slope over all three readings is an upper bound.
  const [, half, full] = results.readings;
  const marginal = (key) => +(((full[key] - half[key]) / (full.connected - half.connected)) * 1024).toFixed(1);
  results.per_dashboard_kib = { heap_used: marginal("heap_used_mib"), rss: marginal("rss_mib") };
  results.per_dashboard_kib_slope = { heap_used: slope("heap_used_mib"), rss: slope("rss_mib") };
} finally {
  for (const s of streams) s.destroy();
  await dash.close();
  await svc.close();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
}
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/dashboard-memory.json"), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
