// A flood of tiny pipelined HTTP requests against a running HTTP door (the dashboard of
// `tuneport serve --dashboard PORT`, or `tuneport mcp --http`), and how long another client waits
// meanwhile (helper 35's audit: 380 connections x 1,800 `GET /` each, not read, held another client
// ~19 s).
//   - the flood: C connections (380) each write N requests (1,800 `GET PATH`) at once and read
//     nothing; with --rounds R each connection, once closed by the server, opens again, R times.
//   - the other client: from the moment the flood starts, a fresh connection every 100 ms sends one
//     `GET PATH` and waits for the status line; its latency (ms: median, p99, max) and how many
//     were answered. The first one is sent while the flood's bytes are still arriving.
// Prints one JSON object (with the server's peak RSS from /proc when --pid is given).
// Usage: node bench/http-pipeline-flood.mjs --port P [--host 127.0.0.1] [--path /]
//   [--connections 380] [--requests 1800] [--rounds 1] [--seconds 30] [--pid SERVER_PID]
//   [--header 'authorization: Bearer TOKEN'] (sent by the other client and the flood)
//   [--flood-from ADDRESS] [--flood-host HOST] (the flood's local address, and the address it connects to [--host]:
//   a flood from another address than the other client's, e.g. the machine's own non-loopback one)
import "./help.mjs";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { performance } from "node:perf_hooks";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const HOST = arg("--host", "127.0.0.1");
const PORT = Number(arg("--port", "0"));
const PATH = arg("--path", "/");
const CONNS = Number(arg("--connections", "380"));
const REQS = Number(arg("--requests", "1800"));
const ROUNDS = Number(arg("--rounds", "1"));
const SECONDS = Number(arg("--seconds", "30"));
const PID = arg("--pid", undefined);
const HEADER = arg("--header", undefined);
const FROM = arg("--flood-from", undefined);
const FLOOD_HOST = arg("--flood-host", HOST);
if (!PORT) {
  console.error("--port is required (see --help)");
  process.exit(2);
}
const extra = HEADER ? `${HEADER}\r\n` : "";
const one = `GET ${PATH} HTTP/1.1\r\nhost: ${HOST}:${PORT}\r\n${extra}\r\n`;
const burst = Buffer.from(one.repeat(REQS));

const rss = () => {
  if (!PID) return null;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${PID}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
};

let stop = false;
let floodOpened = 0;
let floodClosedByServer = 0;
let floodBytesBack = 0;
function flood(roundsLeft) {
  if (stop || roundsLeft <= 0) return;
  floodOpened++;
  const s = connect({ port: PORT, host: FLOOD_HOST, ...(FROM ? { localAddress: FROM } : {}) }, () => s.write(burst));
  s.on("data", (d) => {
    floodBytesBack += d.length;
    s.pause(); // reads nothing more: the answers pile up in the kernel
  });
  s.on("error", () => undefined);
  s.on("close", () => {
    floodClosedByServer++;
    flood(roundsLeft - 1);
  });
}

const latencies = [];
let unanswered = 0;
function probe() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = connect(PORT, HOST, () => s.write(one.replace("\r\n\r\n", "\r\nconnection: close\r\n\r\n")));
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      if (ok) latencies.push(performance.now() - t0);
      else unanswered++;
      s.destroy();
      resolve();
    };
    s.on("data", (d) => finish(d.toString("latin1").startsWith("HTTP/1.1 ")));
    s.on("error", () => finish(false));
    s.on("close", () => finish(false));
  });
}

let peak = rss();
const rssBefore = peak;
const sampler = setInterval(() => {
  const r = rss();
  if (r !== null && (peak === null || r > peak)) peak = r;
}, 200);
const t0 = performance.now();
for (let i = 0; i < CONNS; i++) flood(ROUNDS);
const probes = [];
while (performance.now() - t0 < SECONDS * 1000) {
  probes.push(probe());
  await new Promise((r) => setTimeout(r, 100));
}
stop = true;
await Promise.race([Promise.all(probes), new Promise((r) => setTimeout(r, 60_000))]);
clearInterval(sampler);
const sorted = [...latencies].sort((a, b) => a - b);
const q = (p) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]) : null);
console.log(
  JSON.stringify({
    flood: { connections: CONNS, requests_each: REQS, rounds: ROUNDS, opened: floodOpened, closed: floodClosedByServer, bytes_back: floodBytesBack },
    other_client: { sent: probes.length, answered: latencies.length, unanswered, median_ms: q(0.5), p99_ms: q(0.99), max_ms: sorted.length ? Math.round(sorted[sorted.length - 1]) : null, first_ms: latencies.length ? Math.round(latencies[0]) : null },
    server_rss_mib: { before: rssBefore, peak },
  }),
);
process.exit(0);
