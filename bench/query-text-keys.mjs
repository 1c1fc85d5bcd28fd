// query_trials (the dashboard's table) sorted by a user attribute, over a real `tuneport serve` on
// SQLite and its ZeroMQ socket, in a study of --trials COMPLETE trials whose attribute `blob` is
// --shape object: {a: "<i mod 97>xxx…"} of 60,000 characters (its JSON differs early), or tail: a
// 60,000-character string of x ending in i mod 97 (strings alike but for their ends), or wide: an
// object of 4,500 keys k0..k4499 (about 60 KB of JSON), k0 being i mod 97. The study is
// written by `tuneport import` of a generated export. Each query (ascending, then descending) is
// asked --reps times, one at a time; the median (ms, request to reply) is printed. With --before CLI
// (another build's dist/cli/main.js) that build's server is timed too, on a copy of the database.
//
//   node bench/query-text-keys.mjs [--cli dist/cli/main.js] [--before CLI] [--trials 5000] [--shape object|tail|wide] [--reps 5] [--port 62391]
//
// docs/BENCHMARKS.md "query_trials sorted by a long user attribute" has the figures.
import "./help.mjs";
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Dealer } from "zeromq";
import { median } from "./ab-args.mjs";

const argv = process.argv.slice(2);
const opt = (k, d) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const cli = resolve(opt("cli", "dist/cli/main.js"));
const trials = Number(opt("trials", 5000));
const shape = opt("shape", "object");
const reps = Number(opt("reps", 5));
const port = Number(opt("port", 62391));
const builds = [["after", cli]];
if (opt("before", undefined)) builds.push(["before", resolve(opt("before"))]);
const { encode, decode } = await import(join(dirname(cli), "..", "transports", "zmq", "codec.js"));

const dir = mkdtempSync(join(tmpdir(), "query-text-keys-"));
try {
  const now = Date.now();
  const dist = { x: { type: "float", low: 0, high: 1 } };
  const config = { direction: "minimize", space: dist, strategy: { name: "random", options: {} }, scheduler: null, seed: 1, lease_ttl_s: 30, retry: { max_retries: 0, retry_on_fail: false, keep_intermediate: false } };
  const lines = [JSON.stringify({ format: "tuneport-study", version: 1, name: "big", config, user_attrs: {}, created_at_ms: now, trials })];
  for (let i = 0; i < trials; i++) {
    const blob =
      shape === "object"
        ? { a: String(i % 97).padEnd(60_000, "x") }
        : shape === "wide"
          ? Object.fromEntries(Array.from({ length: 4500 }, (_, j) => [`k${j}`, j === 0 ? i % 97 : j]))
          : String(i % 97).padStart(60_000, "x");
    lines.push(JSON.stringify({ number: i, state: "COMPLETE", params: { x: 0.5 }, distributions: dist, value: i, intermediate: [], user_attrs: { blob }, system_attrs: {}, created_at_ms: now, started_at_ms: now, finished_at_ms: now, lease: null }));
  }
  writeFileSync(join(dir, "big.jsonl"), `${lines.join("\n")}\n`);
  const db = join(dir, "big.sqlite");
  const imp = spawnSync(process.execPath, [cli, "import", join(dir, "big.jsonl"), "--storage", db], { encoding: "utf8" });
  if (imp.status !== 0) throw new Error(imp.stderr);
  console.log(`${trials} trials, blob ${shape}; median of ${reps} (ms)`);
  for (const [label, bin] of builds) {
    const copy = join(dir, `${label}.sqlite`);
    copyFileSync(db, copy);
    const srv = spawn(process.execPath, [bin, "serve", "--storage", copy, "--bind", `tcp://127.0.0.1:${port}`, "--log-level", "error"], { stdio: ["ignore", "pipe", "inherit"] });
    const sock = new Dealer({ linger: 0 });
    sock.connect(`tcp://127.0.0.1:${port}`);
    const call = async (op, args) => {
      const id = randomUUID();
      await sock.send(encode({ v: 1, id, op, ...args }));
      for (;;) {
        const [frame] = await sock.receive();
        const r = decode(frame);
        if (r.id === id) return r;
      }
    };
    // Ready once a hello is answered (the DEALER holds it until the server, the study loaded, binds).
    await call("hello", {});
    for (const descending of [false, true]) {
      const ms = [];
      for (let i = 0; i < reps; i++) {
        const t = performance.now();
        const r = await call("query_trials", { study: "big", sort: "user_attrs.blob", descending });
        if (!r.ok) throw new Error(JSON.stringify(r.error));
        ms.push(performance.now() - t);
      }
      console.log(`${label.padEnd(7)} ${descending ? "descending" : "ascending "} ${median(ms).toFixed(0).padStart(6)}`);
    }
    sock.close();
    srv.kill("SIGKILL");
    await new Promise((r) => srv.once("exit", r));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
