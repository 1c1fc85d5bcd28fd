// What JSON bodies of empty containers cost a running MCP-over-HTTP door (`tuneport serve --mcp-http
// PORT`, its token in TUNEPORT_MCP_TOKEN): R rounds of N concurrent POSTs of a body of S MiB of
// `[[{}],[{}],…]` (the costliest shape once parsed: 24 times its size), while another client POSTs a
// small message every 50 ms and times its answer (a 400 "no session": the door reads, checks and
// answers it). Prints the server's RSS before and its peak (VmHWM, /proc/PID/status: Linux only), the
// flood's statuses, and the other client's median / max ms.
// Usage: TUNEPORT_MCP_TOKEN=T node bench/json-body-flood.mjs --port P --pid SERVER_PID [--n 4] [--rounds 5] [--mib 4]
import "./help.mjs";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const PORT = Number(arg("--port", "0"));
const PID = arg("--pid", "");
const N = Number(arg("--n", "4"));
const ROUNDS = Number(arg("--rounds", "5"));
const MIB = Number(arg("--mib", "4"));
const TOKEN = process.env.TUNEPORT_MCP_TOKEN ?? "";
if (!PORT || !PID || !TOKEN) {
  console.error("--port, --pid and TUNEPORT_MCP_TOKEN are required (see --help)");
  process.exit(2);
}
const kib = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${PID}/status`, "utf8"))?.[1] ?? NaN);
const url = `http://127.0.0.1:${PORT}/mcp`;
const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
// Just under the 4 MiB body limit at --mib 4.
const body = `[${new Array(Math.floor((MIB * 1024 * 1024 - 16) / 5)).fill("[{}]").join(",")}]`;
const probe = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" });

const rssBefore = kib("VmRSS");
const waits = [];
let flooding = true;
const other = (async () => {
  while (flooding) {
    const t = performance.now();
    const r = await fetch(url, { method: "POST", headers, body: probe });
    await r.text();
    waits.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 50));
  }
})();
const statuses = new Map();
for (let round = 0; round < ROUNDS; round++) {
  const replies = await Promise.all(Array.from({ length: N }, () => fetch(url, { method: "POST", headers, body }).then(async (r) => (await r.text(), r.status), (e) => String(e.cause?.code ?? e))));
  for (const s of replies) statuses.set(s, (statuses.get(s) ?? 0) + 1);
}
flooding = false;
await other;
waits.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    body_bytes: body.length,
    concurrent: N,
    rounds: ROUNDS,
    statuses: Object.fromEntries(statuses),
    rss_before_mib: +(rssBefore / 1024).toFixed(0),
    rss_peak_mib: +(kib("VmHWM") / 1024).toFixed(0),
    other_client: { answered: waits.length, median_ms: +waits[Math.floor(waits.length / 2)].toFixed(1), max_ms: +waits[waits.length - 1].toFixed(1) },
  }),
);
