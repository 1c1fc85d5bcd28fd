// One MCP-over-HTTP client's latency while another floods the same `tuneport serve --mcp-http` with
// calls that are cheap to send and costly to answer (param_importances and study_summary of a
// 10,000-trial study), over many sessions at once.
//   A (the flood): SESSIONS sessions, each keeping PER calls in flight (a new one as each returns).
//   The defaults (16 × 16) keep the flood at the server's per-client cap of calls in flight (--mcp-max-client-calls, 256).
//   B (the other agent): one session calling `list_studies` every 100 ms: its latency (ms: p50, p99, max);
//   W (a worker): a ZeroMQ DEALER sending `get_study` every 100 ms meanwhile: its latency alike.
//   The server's RSS (MiB, peak and last), and the flood's answered and refused calls.
// Prints one JSON object. Usage: node bench/mcp-fair.mjs [--cli PATH/dist/cli/main.js] [--port P]
//   [--sessions S] [--per N] [--seconds T] [--trials K] [--tools a,b]   (PATH defaults to this checkout;
//   the flood's tools default to study_summary,param_importances, called in turn)
import "./help.mjs";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { randomUUID } from "node:crypto";
import { Dealer } from "zeromq";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const CLI = resolve(arg("--cli", join(ROOT, "dist/cli/main.js")));
const PORT = Number(arg("--port", "64270"));
const SESSIONS = Number(arg("--sessions", "16"));
const PER = Number(arg("--per", "16"));
const SECONDS = Number(arg("--seconds", "10"));
const TRIALS = Number(arg("--trials", "10000"));
const TOOLS = arg("--tools", "study_summary,param_importances").split(",");
const TOKEN = "bench-token-0123456789abcdef";

const dir = mkdtempSync(join(tmpdir(), "tuneport-mcpfair-"));
const db = join(dir, "big.sqlite");
{
  const now = Date.now();
  const dist = { a: { type: "float", low: 0, high: 1 }, b: { type: "float", low: 0, high: 1 }, c: { type: "int", low: 1, high: 8 }, d: { type: "categorical", choices: ["x", "y", "z"] } };
  const config = { direction: "minimize", space: dist, strategy: { name: "random", options: {} }, scheduler: null, seed: 1, lease_ttl_s: 30, retry: { max_retries: 0, retry_on_fail: false, keep_intermediate: false } };
  const lines = [JSON.stringify({ format: "tuneport-study", version: 1, name: "big", config, user_attrs: {}, created_at_ms: now, trials: TRIALS })];
  let s = 1;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  for (let i = 0; i < TRIALS; i++) {
    const p = { a: rnd(), b: rnd(), c: 1 + Math.floor(rnd() * 8), d: ["x", "y", "z"][Math.floor(rnd() * 3)] };
    const value = (p.a - 0.3) ** 2 + 0.1 * p.b + 0.01 * p.c + (p.d === "y" ? 0.05 : 0);
    lines.push(JSON.stringify({ number: i, state: "COMPLETE", params: p, distributions: dist, value, intermediate: [], user_attrs: {}, system_attrs: {}, created_at_ms: now, started_at_ms: now, finished_at_ms: now, lease: null }));
  }
  writeFileSync(join(dir, "big.jsonl"), `${lines.join("\n")}\n`);
  const imp = spawnSync(process.execPath, [CLI, "import", join(dir, "big.jsonl"), "--storage", db], { encoding: "utf8" });
  if (imp.status !== 0) throw new Error(imp.stderr);
}

let server;
process.on("exit", () => {
  server?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});
server = spawn(process.execPath, [CLI, "serve", "--storage", db, "--bind", `tcp://127.0.0.1:${PORT + 1}`, "--mcp-http", String(PORT), "--log-level", "warn", "--log-format", "json"], {
  stdio: ["ignore", "ignore", "inherit"],
  env: { ...process.env, TUNEPORT_MCP_TOKEN: TOKEN },
});
const rss = () => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
};
const url = new URL(`http://127.0.0.1:${PORT}/mcp`);
async function open(name) {
  const client = new Client({ name, version: "1" });
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
  return client;
}
let b;
for (let i = 0; ; i++) {
  try {
    b = await open("other-agent");
    break;
  } catch (e) {
    if (i > 300) throw e;
    await new Promise((r) => setTimeout(r, 100));
  }
}
const { encode, decode } = await import(join(dirname(CLI), "..", "transports", "zmq", "codec.js"));
const sock = new Dealer({ linger: 0 });
sock.connect(`tcp://127.0.0.1:${PORT + 1}`);
async function zcall(op, args) {
  const id = randomUUID();
  await sock.send(encode({ v: 1, id, op, ...args }));
  for (;;) {
    const [frame] = await sock.receive();
    if (decode(frame).id === id) return;
  }
}
await zcall("hello", {});
async function zprobe(ms) {
  const lat = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t = performance.now();
    await zcall("get_study", { study: "big" });
    lat.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 100));
  }
  lat.sort((x, y) => x - y);
  return { n: lat.length, p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: pct(lat, 1) };
}
const pct = (xs, q) => (xs.length === 0 ? null : Math.round(xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] * 10) / 10);
async function probe(ms) {
  const lat = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t = performance.now();
    await b.callTool({ name: "list_studies", arguments: {} }, undefined, { timeout: 600_000 });
    lat.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 100));
  }
  lat.sort((x, y) => x - y);
  return { n: lat.length, p50: pct(lat, 0.5), p99: pct(lat, 0.99), max: pct(lat, 1) };
}
const cost = [];
for (const name of ["param_importances", "study_summary"]) {
  const t = performance.now();
  await b.callTool({ name, arguments: { study: "big" } }, undefined, { timeout: 600_000 });
  cost.push({ tool: name, ms: Math.round(performance.now() - t) });
}
const [idle, zidle] = await Promise.all([probe(2000), zprobe(2000)]);
const rss0 = rss();
// The flood: its own sessions, all under one client name.
const flood = [];
let opened = 0;
for (let i = 0; i < SESSIONS; i++) {
  try {
    flood.push(await open("flood"));
    opened++;
  } catch {
    break;
  }
}
let answered = 0, refused = 0, failed = 0, stop = false;
const loops = [];
for (const c of flood)
  for (let k = 0; k < PER; k++)
    loops.push((async () => {
      let j = k;
      while (!stop) {
        try {
          const r = await c.callTool({ name: TOOLS[j++ % TOOLS.length], arguments: { study: "big" } }, undefined, { timeout: 600_000 });
          if (r.isError) refused++;
          else answered++;
        } catch {
          failed++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })());
let peak = rss0;
const sampler = setInterval(() => (peak = Math.max(peak, rss())), 200);
await new Promise((r) => setTimeout(r, 500));
const [busy, zbusy] = await Promise.all([probe(SECONDS * 1000), zprobe(SECONDS * 1000)]);
stop = true;
const rssEnd = rss();
clearInterval(sampler);
await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 120_000))]);
console.log(JSON.stringify({ cli: CLI, trials: TRIALS, sessions: opened, per: PER, tools: TOOLS, cost, idle, busy, worker: { idle: zidle, busy: zbusy }, flood: { answered, refused, failed }, rss_mib: { before: Math.round(rss0), peak: Math.round(peak), end: Math.round(rssEnd) } }));
process.exit(0);
