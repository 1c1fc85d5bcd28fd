// The dashboard under a crowd (helper 35's audit, fixed by helper 42): a real `tuneport serve
// --dashboard` on a 1,000-trial study, driven over real sockets.
//   1. ops: C clients (100) each asking the 5 `plot_spec` slices of the study one after another,
//      in a loop, while one other client asks `studies_overview` every 50 ms: that client's
//      latency (ms: median, p99, max), and the crowd's answered and refused (503) ops.
//   0. the normal case first: an idle server's studies_overview (ms), and 5 clients (tabs) each
//      asking the 5 slices at once, 10 rounds (ms per round);
//   2. live streams: one client opens 256 `GET /api/events` and holds them (reading), then a newcomer
//      opens one: its status line.
// Prints one JSON object. Usage: node bench/dashboard-busy.mjs [--cli PATH/dist/cli/main.js]
//   [--port P] [--clients C] [--seconds S]   (PATH defaults to this checkout)
import "./help.mjs";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request, Agent } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const CLI = arg("--cli", join(ROOT, "dist/cli/main.js"));
const PORT = Number(arg("--port", "64250"));
const CLIENTS = Number(arg("--clients", "100"));
const SECONDS = Number(arg("--seconds", "10"));
const { StudyService } = await import(join(ROOT, "dist/service/study-service.js"));
const { SqliteStorage } = await import(join(ROOT, "dist/storage/sqlite/sqlite-storage.js"));
const { silentLogger } = await import(join(ROOT, "dist/logger.js"));

const dir = mkdtempSync(join(tmpdir(), "tuneport-busy-"));
const db = join(dir, "busy.db");
{
  const storage = new SqliteStorage({ path: db });
  const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  const space = { lr: { type: "float", low: 1e-4, high: 1, log: true }, layers: { type: "int", low: 1, high: 6 }, act: { type: "categorical", choices: ["relu", "gelu"] }, d: { type: "float", low: 0, high: 1 }, e: { type: "float", low: 0, high: 1 } };
  await svc.execute("create_study", { name: "big", space, strategy: "random", seed: 1 });
  for (let i = 0; i < 1000; i++) {
    const a = await svc.execute("ask", { study: "big" });
    await svc.execute("tell", { study: "big", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: Math.log10(a.trial.params.lr) ** 2 });
  }
  await svc.close();
  await storage.close();
}

// The server goes with this script, whatever ends it.
let server;
process.on("exit", () => server?.kill("SIGKILL"));
process.on("uncaughtException", (err) => {
  console.error(err);
  process.exit(1);
});
server = spawn(process.execPath, [CLI, "serve", "--storage", db, "--bind", `tcp://127.0.0.1:${PORT + 1}`, "--dashboard", String(PORT), "--log-level", "warn", "--log-format", "json"], { stdio: ["ignore", "ignore", "inherit"] });
for (let i = 0; ; i++) {
  const up = await fetch(`http://127.0.0.1:${PORT}/`).then(() => true, () => false);
  if (up) break;
  if (i > 600) throw new Error("server did not start");
  await new Promise((r) => setTimeout(r, 200));
}

/** POSTs op `name` on its own keep-alive agent; resolves with the status. */
function post(agent, name, args) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(args);
    const req = request({ host: "127.0.0.1", port: PORT, path: `/api/op/${name}`, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const slices = ["lr", "layers", "act", "d", "e"];
const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))];
const out = { cli: CLI, clients: CLIENTS, seconds: SECONDS };

// 0. the normal case: an idle server, one client reading the overview, then 5 clients (tabs)
// asking the 5 slices each at once.
{
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const idle = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await post(agent, "studies_overview", {});
    idle.push(performance.now() - t);
  }
  agent.destroy();
  out.idle_overview_ms = { n: idle.length, median: +q(idle, 0.5).toFixed(2), p99: +q(idle, 0.99).toFixed(2) };
  const tabs = [];
  for (let round = 0; round < 10; round++) {
    const t = performance.now();
    const statuses = await Promise.all(Array.from({ length: 5 }, async () => {
      const a = new Agent({ keepAlive: true, maxSockets: 1 });
      const s = await Promise.all(slices.map((p) => post(a, "plot_spec", { study: "big", kind: "slice", params: [p] })));
      a.destroy();
      return s;
    }));
    tabs.push(performance.now() - t);
    if (statuses.flat().some((s) => s !== 200)) throw new Error(`a tab's chart was not answered: ${statuses}`);
  }
  out.five_tabs_25_charts_ms = { n: tabs.length, median: +q(tabs, 0.5).toFixed(1), max: +Math.max(...tabs).toFixed(1) };
}

// 1. ops
const deadline = Date.now() + SECONDS * 1000;
const crowd = { ok: 0, refused: 0, other: 0 };
const crowdRuns = Array.from({ length: CLIENTS }, async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  while (Date.now() < deadline) {
    for (const p of slices) {
      const s = await post(agent, "plot_spec", { study: "big", kind: "slice", params: [p] });
      if (s === 200) crowd.ok++;
      else if (s === 503) {
        crowd.refused++;
        await new Promise((r) => setTimeout(r, 1000)); // as the page does: Retry-After
      } else crowd.other++;
    }
  }
  agent.destroy();
});
const lat = [];
const overview = { ok: 0, refused: 0 };
const probe = (async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  await new Promise((r) => setTimeout(r, Math.min(1000, SECONDS * 250)));
  while (Date.now() < deadline) {
    const t = performance.now();
    const s = await post(agent, "studies_overview", {});
    lat.push(performance.now() - t);
    if (s === 200) overview.ok++;
    else overview.refused++;
    await new Promise((r) => setTimeout(r, 50));
  }
  agent.destroy();
})();
await Promise.all([...crowdRuns, probe]);
out.overview_ms = { n: lat.length, median: +q(lat, 0.5).toFixed(1), p99: +q(lat, 0.99).toFixed(1), max: +Math.max(...lat).toFixed(1) };
out.overview = overview;
out.crowd = crowd;

// 2. live streams
const openStream = () =>
  new Promise((resolve) => {
    const s = connect(PORT, "127.0.0.1");
    let all = "";
    s.on("data", (d) => void (all += d.toString("latin1")));
    s.once("data", (d) => resolve({ s, head: d.toString("latin1").split("\r\n")[0], ended: () => all.includes("\r\n0\r\n\r\n") }));
    s.on("error", () => undefined);
    s.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\n\r\n`);
  });
const held = [];
for (let i = 0; i < 256; i++) held.push(await openStream());
const newcomer = await openStream();
out.streams = { held_ok: held.filter((h) => h.head.includes(" 200")).length, newcomer: newcomer.head };
await new Promise((r) => setTimeout(r, 200));
out.streams.held_ended_by_server = held.filter((h) => h.ended()).length;
for (const h of [...held, newcomer]) h.s.destroy();

server.kill("SIGTERM");
await new Promise((r) => server.once("exit", r));
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(out));
