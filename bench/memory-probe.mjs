// What a client can make the server hold (docs/SECURITY.md): starts `CLI serve` on SQLite at
// 127.0.0.1:PORT (extra serve flags after `--`), runs one probe with real DEALERs and prints one JSON
// line: the server's RSS (VmRSS from /proc) before and after, the requests sent and refused, how long
// they took, whether the server is still up and answers a `hello`, and the rows of its request log.
//   node bench/memory-probe.mjs CLI PORT PROBE N [-- SERVE_FLAGS...]     (CLI: a dist/cli/main.js)
// PROBE:
//   replies  N `set_user_attrs` of one trial (the same key, so the trial does not grow), each under a
//            new request id, pipelined 500 at a time by one client: every mutation's reply is stored
//            for resends (24 h), and its request id kept in the server's memory with it.
//   trials   N `ask`s, each told at once (FAIL), pipelined 500 at a time on one study: every trial
//            stays in the server's memory for as long as its study exists.
import "./help.mjs";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Dealer } from "zeromq";
import { Packr, Unpackr } from "msgpackr";
import Database from "better-sqlite3";

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const [cli, port, probe, nArg] = dash < 0 ? argv : argv.slice(0, dash);
const serveFlags = dash < 0 ? [] : argv.slice(dash + 1);
const n = Number(nArg);
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });
const dir = mkdtempSync(join(tmpdir(), "memory-probe-"));
const db = join(dir, "p.db");
const ep = `tcp://127.0.0.1:${port}`;
const srv = spawn(process.execPath, [cli, "serve", "--storage", db, "--bind", ep, ...serveFlags], { stdio: ["ignore", "pipe", "pipe"] });
process.on("exit", () => srv.kill("SIGKILL"));
let log = "";
srv.stderr.on("data", (d) => (log += d.toString()));
srv.stdout.on("data", (d) => (log += d.toString())); // the JSON log
await new Promise((r) => srv.stdout.on("data", (d) => d.toString().includes("zmq listening") && r()));
const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${srv.pid}/status`, "utf8"))?.[1]) / 1024;

const c = new Dealer({ linger: 0, receiveTimeout: 60_000 });
c.connect(ep);
let k = 0;
let sending = Promise.resolve();
const waiting = new Map();
(async () => {
  for (;;) {
    let f;
    try { [f] = await c.receive(); } catch { return; }
    const r = unpackr.unpack(f);
    waiting.get(r.id)?.(r);
    waiting.delete(r.id);
  }
})();
const send = (op, args) => {
  const id = `p${k++}-${"x".repeat(100)}`; // ids of 1–128 characters are legal: a long one costs the server most
  const frame = packr.pack({ v: 1, id, op, ...args });
  const reply = new Promise((resolve) => waiting.set(id, resolve));
  sending = sending.then(() => c.send(frame)); // a DEALER takes one send at a time (EBUSY otherwise)
  return reply;
};
const call = async (op, args) => { const r = await send(op, args); if (!r.ok) throw new Error(`${op}: ${JSON.stringify(r.error)}`); return r.result; };

await call("create_study", { name: "m", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1 });
const before = rssMiB();
const t0 = performance.now();
let refused = 0;
const codes = {};
const tally = (r) => { if (!r.ok) { refused++; codes[r.error.code] = (codes[r.error.code] ?? 0) + 1; } };
if (probe === "replies") {
  const a = await call("ask", { study: "m" });
  for (let done = 0; done < n; ) {
    const batch = Math.min(500, n - done);
    const rs = await Promise.all(Array.from({ length: batch }, (_, i) => send("set_user_attrs", { study: "m", trial: a.trial.number, attrs: { k: done + i } })));
    rs.forEach(tally);
    done += batch;
  }
} else if (probe === "trials") {
  for (let done = 0; done < n; ) {
    const batch = Math.min(500, n - done);
    const asks = await Promise.all(Array.from({ length: batch }, () => send("ask", { study: "m" })));
    asks.forEach(tally);
    const tells = await Promise.all(asks.filter((r) => r.ok).map((r) => send("tell", { study: "m", trial: r.result.trial.number, token: r.result.lease.token, state: "FAIL" })));
    tells.forEach(tally);
    done += batch;
  }
} else {
  console.error(`unknown probe '${probe}' (replies, trials)`);
  process.exit(2);
}
const seconds = (performance.now() - t0) / 1000;
global.gc?.();
await new Promise((r) => setTimeout(r, 2000));
const after = rssMiB();
const hello = await Promise.race([send("hello", { versions: [1] }), new Promise((r) => setTimeout(() => r(null), 10_000))]);
const rows = new Database(db, { readonly: true }).prepare("SELECT count(*) AS n FROM request_log").get().n;
console.log(JSON.stringify({
  cli, probe, n, serve_flags: serveFlags.join(" "), seconds: Math.round(seconds * 10) / 10, per_second: Math.round(n / seconds),
  refused, codes, rss_mib_before: Math.round(before), rss_mib_after: Math.round(after), up: hello?.ok === true, request_log_rows: rows,
  log_lines: log.split("\n").filter((l) => /stored replies|max_trials/.test(l)).length,
}));
srv.kill("SIGTERM");
c.close();
process.exit(0);
