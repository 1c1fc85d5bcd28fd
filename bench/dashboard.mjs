// Dashboard benchmark (issue 16): headless Debian chromium through playwright-core against a real
// `tuneport serve --dashboard`. Measures, and prints as one JSON object (also written to
// bench/results/dashboard.json):
//   1. page load: a 10,000-trial study page until its table and history chart are drawn (ms);
//   2. tell-to-pixel: from sending a tell to the frame after its table row appears (ms);
//   3. dashboard cost: server CPU (ms per second) and RSS (MiB, median of samples through the
//      window) with 0, then N (20), then 0 again open study pages while one worker tells steadily;
//   4. tell latency p50/p99 at 16 workers (bench/load-client.mjs) with 0 and 20 open pages.
//   With --load-only, only 1 (and the profile of what the load spent its time on).
// Usage: node bench/dashboard.mjs [--quick] [--load-only]   (make bench-dashboard)
import "./help.mjs";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli/main.js");
const QUICK = process.argv.includes("--quick");
const LOAD_ONLY = process.argv.includes("--load-only");
const { StudyService } = await import(join(ROOT, "dist/service/study-service.js"));
const { SqliteStorage } = await import(join(ROOT, "dist/storage/sqlite/sqlite-storage.js"));
const { silentLogger } = await import(join(ROOT, "dist/logger.js"));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * p;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
};
/** Two-sided Mann-Whitney U test (normal approximation with tie correction): { u, z, p }. */
function mannWhitney(a, b) {
  const all = [...a.map((v) => [v, 0]), ...b.map((v) => [v, 1])].sort((x, y) => x[0] - y[0]);
  const ranks = new Float64Array(all.length);
  let tie = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1][0] === all[i][0]) j++;
    for (let k = i; k <= j; k++) ranks[k] = (i + j) / 2 + 1;
    const t = j - i + 1;
    tie += t ** 3 - t;
    i = j + 1;
  }
  let ra = 0;
  all.forEach((x, i) => (ra += x[1] === 0 ? ranks[i] : 0));
  const [n1, n2] = [a.length, b.length];
  const u = ra - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tie / (n * (n - 1))));
  const z = (u - (n1 * n2) / 2) / sd;
  // erfc via Abramowitz-Stegun 7.1.26
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return { u, z: +z.toFixed(2), p: +erfc.toPrecision(3) };
}
const summary = (xs) => ({ n: xs.length, median: +q(xs, 0.5).toFixed(1), q1: +q(xs, 0.25).toFixed(1), q3: +q(xs, 0.75).toFixed(1), p99: +q(xs, 0.99).toFixed(1) });

async function populate(db, n) {
  const storage = new SqliteStorage({ path: db });
  const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  const space = { lr: { type: "float", low: 1e-4, high: 1, log: true }, layers: { type: "int", low: 1, high: 6 }, act: { type: "categorical", choices: ["relu", "gelu"] } };
  await svc.execute("create_study", { name: "big", space, strategy: "random", seed: 1 });
  for (let i = 0; i < n; i++) {
    const a = await svc.execute("ask", { study: "big" });
    const v = (Math.log10(a.trial.params.lr) + 2) ** 2;
    if (i % 20 === 0) await svc.execute("report", { study: "big", trial: a.trial.number, token: a.lease.token, step: 0, value: v + 1 });
    await svc.execute("tell", { study: "big", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: v });
  }
  await svc.execute("create_study", { name: "live", space, strategy: "random", seed: 2 });
  await svc.execute("create_study", { name: "load", space, strategy: "random", seed: 3 });
  await svc.close();
  await storage.close();
}

function startServer(db, zport, dport) {
  const p = spawn(process.execPath, [CLI, "serve", "--storage", db, "--bind", `tcp://127.0.0.1:${zport}`, "--dashboard", String(dport), "--log-level", "warn", "--log-format", "json"], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const t = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 120_000);
    const check = () => {
      // warn level hides "tuneport ready": poll the port instead.
      fetch(`http://127.0.0.1:${dport}/`).then(
        () => {
          clearTimeout(t);
          resolve(p);
        },
        () => setTimeout(check, 200),
      );
    };
    p.stderr.on("data", (d) => (out += d));
    check();
  });
}

/** CPU ms (user+system) and RSS bytes of a process, from /proc. */
function usage(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const tick = 100; // USER_HZ
  const cpuMs = ((Number(stat[11]) + Number(stat[12])) * 1000) / tick;
  const rss = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4096;
  return { cpuMs, rss };
}

function workers(endpoint, study, n, trials) {
  return Promise.all(
    Array.from({ length: n }, () => {
      const p = spawn(process.execPath, [join(ROOT, "bench/load-client.mjs"), endpoint, study, String(trials), String(Date.now() + 1500)], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      p.stdout.on("data", (d) => (out += d));
      return new Promise((resolve) => p.once("close", () => resolve(JSON.parse(out.trim().split("\n").at(-1)))));
    }),
  );
}

const dir = mkdtempSync(join(tmpdir(), "tp-dash-bench-"));
const db = join(dir, "bench.db");
const N = 10000;
const results = { trials: N, quick: QUICK, machine: `${(await import("node:os")).cpus().length} cpus, load ${(await import("node:os")).loadavg()[0].toFixed(1)}` };
let server;
let browser;
try {
  await populate(db, N);
  const [zport, dport] = [await freePort(), await freePort()];
  server = await startServer(db, zport, dport);
  const base = `http://127.0.0.1:${dport}`;
  const endpoint = `tcp://127.0.0.1:${zport}`;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });

  // 1. Page load at N trials.
  const loads = [];
  for (let i = 0; i < (QUICK ? 3 : 7); i++) {
    const page = await browser.newPage();
    const t0 = performance.now();
    await page.goto(`${base}/#/study/big`);
    await page.locator("#trials tbody tr").first().waitFor({ timeout: 120_000 });
    const tableMs = performance.now() - t0;
    // Where the load went, from the page's own timeline (ms from navigation start): the script's
    // download, the module's evaluation (DOMContentLoaded waits for it), each op's round trip.
    const profile = await page.evaluate(() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const res = performance.getEntriesByType("resource");
      const js = res.filter((r) => r.name.endsWith(".js"));
      const ops = res.filter((r) => r.name.includes("/api/op/"));
      return {
        js_bytes: js.reduce((n, r) => n + (r.encodedBodySize || 0), 0),
        js_done_ms: Math.max(0, ...js.filter((r) => r.name.endsWith("/dashboard.js")).map((r) => r.responseEnd)),
        dom_content_loaded_ms: nav ? nav.domContentLoadedEventEnd : null,
        ops: ops.map((r) => ({ op: r.name.split("/api/op/")[1], start: Math.round(r.startTime), ms: Math.round(r.duration), bytes: r.encodedBodySize })),
      };
    });
    const scrolledAt = await page.evaluate(() => performance.now());
    await page.locator('.chart[data-kind="history"]').scrollIntoViewIfNeeded();
    await page.locator('.chart[data-kind="history"][data-state="drawn"]').waitFor({ timeout: 120_000 });
    // What the charts waited for after the scroll: each spec's round trip, the chart chunk's download.
    profile.after_scroll = await page.evaluate((t) => ({
      drawn_ms: Math.round(performance.now() - t),
      fetched: performance.getEntriesByType("resource").filter((r) => r.startTime >= t - 5 || r.responseEnd >= t).map((r) => ({ what: r.name.split("/").pop(), start: Math.round(r.startTime - t), ms: Math.round(r.duration), bytes: r.encodedBodySize })),
    }), scrolledAt);
    loads.push({ tableMs, historyMs: performance.now() - t0, profile });
    await page.close();
  }
  results.page_load_table_ms = summary(loads.map((l) => l.tableMs));
  results.page_load_history_ms = summary(loads.map((l) => l.historyMs));
  results.page_load_profile = {
    js_bytes: loads[0].profile.js_bytes,
    js_done_ms: summary(loads.map((l) => l.profile.js_done_ms)),
    dom_content_loaded_ms: summary(loads.map((l) => l.profile.dom_content_loaded_ms)),
    first_load_ops: loads[0].profile.ops,
    after_scroll: loads.map((l) => l.profile.after_scroll),
  };
  if (LOAD_ONLY) throw Object.assign(new Error("load only"), { loadOnly: true });

  // 2. Tell-to-pixel on the 'live' study.
  const { ZmqClient } = await import(join(ROOT, "dist/transports/zmq/zmq-client.js"));
  const client = new ZmqClient(endpoint);
  await client.connect();
  const page = await browser.newPage();
  await page.goto(`${base}/#/study/live`);
  await page.locator("#trials").waitFor();
  await page.locator("#conn", { hasText: "live" }).waitFor();
  const lat = [];
  for (let i = 0; i < (QUICK ? 5 : 20); i++) {
    const a = await client.call("ask", { study: "live" });
    const n = a.trial.number;
    const seen = page.evaluate(
      (num) =>
        new Promise((resolve) => {
          const look = () => document.querySelector(`#trials tr[data-trial="${num}"] .state.COMPLETE`);
          const done = () => requestAnimationFrame(() => resolve(performance.timeOrigin + performance.now()));
          if (look()) return done();
          const mo = new MutationObserver(() => {
            if (look()) {
              mo.disconnect();
              done();
            }
          });
          mo.observe(document.body, { subtree: true, childList: true });
        }),
      n,
    );
    const t0 = performance.timeOrigin + performance.now();
    await client.call("tell", { study: "live", trial: n, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    lat.push((await seen) - t0);
    await new Promise((r) => setTimeout(r, 300));
  }
  results.tell_to_pixel_ms = summary(lat);
  await page.close();

  // 3. Server cost per open dashboard, with one worker telling steadily (~10 tells/s).
  const measure = async (pages, seconds) => {
    const open = [];
    for (let i = 0; i < pages; i++) {
      const p = await browser.newPage();
      await p.goto(`${base}/#/study/live`);
      await p.locator("#trials").waitFor({ timeout: 120_000 });
      open.push(p);
    }
    await new Promise((r) => setTimeout(r, 2000));
    const before = usage(server.pid);
    const stopAt = Date.now() + seconds * 1000;
    // RSS sampled through the window (GC makes one reading noisy): its median is the level.
    const rss = [];
    while (Date.now() < stopAt) {
      const a = await client.call("ask", { study: "live" });
      await client.call("tell", { study: "live", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: Math.random() });
      rss.push(usage(server.pid).rss);
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = usage(server.pid);
    for (const p of open) await p.close();
    return { pages, cpu_ms_per_s: +((after.cpuMs - before.cpuMs) / seconds).toFixed(1), rss_mib: +(q(rss, 0.5) / 2 ** 20).toFixed(1), rss_mib_iqr: [+(q(rss, 0.25) / 2 ** 20).toFixed(1), +(q(rss, 0.75) / 2 ** 20).toFixed(1)] };
  };
  const seconds = QUICK ? 5 : 15;
  const many = QUICK ? 5 : 20;
  results.cost = [await measure(0, seconds), await measure(many, seconds), await measure(0, seconds)];
  const [c0, cN, c0b] = results.cost;
  results.cost_per_dashboard = {
    cpu_ms_per_s: +((cN.cpu_ms_per_s - (c0.cpu_ms_per_s + c0b.cpu_ms_per_s) / 2) / many).toFixed(2),
    rss_mib: +((cN.rss_mib - (c0.rss_mib + c0b.rss_mib) / 2) / many).toFixed(2),
  };
  await client.close();

  // 4. Tell latency at 16 workers, with 0 and 20 open dashboards (on the study the workers tell).
  const trials = QUICK ? 100 : 400;
  const tellRun = async (pages) => {
    const open = [];
    for (let i = 0; i < pages; i++) {
      const p = await browser.newPage();
      await p.goto(`${base}/#/study/load`);
      await p.locator("#trials").waitFor({ timeout: 120_000 });
      open.push(p);
    }
    const runs = await workers(endpoint, "load", 16, trials);
    for (const p of open) await p.close();
    return runs.flatMap((r) => r.tell);
  };
  const none = await tellRun(0);
  const twenty = await tellRun(20);
  const none2 = await tellRun(0);
  const base0 = [...none, ...none2];
  results.tell_ms_16_workers = {
    dashboards_0: summary(base0),
    dashboards_20: summary(twenty),
    p99_ratio: +(q(twenty, 0.99) / q(base0, 0.99)).toFixed(2),
    median_ratio: +(q(twenty, 0.5) / q(base0, 0.5)).toFixed(2),
    mann_whitney: mannWhitney(twenty, base0),
  };
} catch (err) {
  if (!err.loadOnly) throw err;
} finally {
  await browser?.close();
  server?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, LOAD_ONLY ? "bench/results/dashboard-load.json" : "bench/results/dashboard.json"), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
