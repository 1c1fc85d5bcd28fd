// System calls per request of `tuneport serve` (issue 19 item 3): one client runs random-strategy
// ask → tell loops (after a 300-loop warm-up) while `strace -c` counts the calls of the server's
// JS thread and of ZeroMQ's I/O thread, each on its own. Prints, per thread, the calls per request
// (those at 0.05 or more) and their total. strace slows the server down, so the counts, not times,
// are the figures: a call made once per 5 ms (the memory check before a reply) shows up more often
// than at full speed.
//
//   node bench/server-syscalls.mjs [--trials 1500] [--cli dist/cli/main.js]
//
// Needs strace and the right to attach to a child process (ptrace_scope 0 or 1). BENCH_PORTS=LO-HI
// keeps the server's port in that range (bench/serve-process.mjs).
import "./help.mjs";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Packr, Unpackr } from "msgpackr";
import { Dealer } from "zeromq";
import { freePort } from "./serve-process.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const N = Number(args.trials ?? 1500);
const CLI = resolve(args.cli ?? join(import.meta.dirname, "..", "dist", "cli", "main.js"));
const endpoint = `tcp://127.0.0.1:${await freePort()}`;
const dir = mkdtempSync(join(tmpdir(), "tuneport-syscalls-"));
const proc = spawn(process.execPath, [CLI, "serve", "--storage", join(dir, "s.db"), "--bind", endpoint, "--lease-ttl", "600"], { stdio: ["ignore", "ignore", "inherit"] });
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });
const sock = new Dealer({ linger: 0 });
sock.connect(endpoint);
async function call(op, a) {
  const id = randomBytes(16).toString("hex"); // as the Python client makes them
  await sock.send(packr.pack({ v: 1, id, op, ...a }));
  for (;;) {
    const [f] = await sock.receive();
    const r = unpackr.unpack(f);
    if (r.id !== id) continue;
    if (!r.ok) throw new Error(`${op}: ${r.error.code} ${r.error.message}`);
    return r.result;
  }
}
await call("hello", { versions: [1] });
const SPACE = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, { type: "float", low: 0, high: 1 }]));
await call("create_study", { name: "sys", space: SPACE, strategy: "random", seed: 1 });
const loop = async (n) => {
  for (let i = 0; i < n; i++) {
    const a = await call("ask", { study: "sys" });
    await call("tell", { study: "sys", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
  }
};
await loop(300);
const threads = readdirSync(`/proc/${proc.pid}/task`).map((tid) => [tid, readFileSync(`/proc/${proc.pid}/task/${tid}/comm`, "utf8").trim()]);
const io = threads.find(([, name]) => name.startsWith("ZMQbg/IO"))?.[0];
const traced = [[String(proc.pid), "main (JS)"], ...(io ? [[io, "ZMQbg/IO"]] : [])].map(([tid, name]) => {
  const out = join(dir, `strace-${tid}.txt`);
  return { name, out, p: spawn("strace", ["-c", "-o", out, "-p", tid], { stdio: "ignore" }) };
});
await new Promise((r) => setTimeout(r, 1500)); // strace attached
await loop(N);
for (const t of traced) t.p.kill("SIGINT");
await Promise.all(traced.map((t) => new Promise((r) => (t.p.exitCode !== null ? r() : t.p.once("exit", r)))));
const requests = 2 * N;
const result = { trials: N, requests, per_request: {} };
for (const t of traced) {
  const rows = readFileSync(t.out, "utf8")
    .split("\n")
    .filter((l) => /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+/.test(l))
    .map((l) => l.trim().split(/\s+/))
    .map((f) => ({ call: f[f.length - 1], calls: Number(f[3]) }))
    .filter((r) => r.call !== "total");
  const calls = Object.fromEntries(rows.filter((r) => r.calls / requests >= 0.05).map((r) => [r.call, Math.round((r.calls / requests) * 100) / 100]));
  result.per_request[t.name] = { total: Math.round((rows.reduce((a, r) => a + r.calls, 0) / requests) * 10) / 10, calls };
}
sock.close();
proc.kill("SIGTERM");
console.log(JSON.stringify(result, null, 1));
