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
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { rawClient, randomStudyLoop } from "./raw-client.mjs";
import { freePort } from "./serve-process.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const N = Number(args.trials ?? 1500);
const CLI = resolve(args.cli ?? join(import.meta.dirname, "..", "dist", "cli", "main.js"));
const endpoint = `tcp://127.0.0.1:${await freePort()}`;
const dir = mkdtempSync(join(tmpdir(), "tuneport-syscalls-"));
const proc = spawn(process.execPath, [CLI, "serve", "--storage", join(dir, "s.db"), "--bind", endpoint, "--lease-ttl", "600"], { stdio: ["ignore", "ignore", "inherit"] });
const { sock, call } = rawClient(endpoint);
const loop = await randomStudyLoop(call, "sys");
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
