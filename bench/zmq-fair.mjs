// Fair dispatch probe (fair-dispatch.ts): client A pipelines N `trials` pages sorted by value at a
// deep offset of a 100,000-trial study (~100-200 ms of the server's thread each); once A's first
// reply is in, client B sends `hello`, then `ask` and `tell` on a small study. Prints, for each of
// B's requests, how long it took and how many of A's replies A had by then.
//
//   npm run build && node bench/zmq-fair.mjs [--dist dist] [--n 200] [--trials 100000]
//
// The study is filled in process first (bench/reads-fill.mjs, ~17 s for 100,000 trials); the server
// is `tuneport serve` of --dist on a port from BENCH_PORTS (a free one without it).
import "./help.mjs";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Dealer } from "zeromq";
import { fill } from "./reads-fill.mjs";
import { freePort, listening } from "./serve-process.mjs";

const { values: args } = parseArgs({ options: { dist: { type: "string", default: "dist" }, n: { type: "string", default: "200" }, trials: { type: "string", default: "100000" } } });
const dist = resolve(args.dist);
const N = Number(args.n);
const { encode, decode } = await import(join(dist, "transports", "zmq", "codec.js"));
const dir = mkdtempSync(join(tmpdir(), "tuneport-fair-"));
const seed = join(tmpdir(), `tuneport-fair-${args.trials}.db`);
if (!existsSync(seed)) await fill(seed, Number(args.trials), dist);
const db = join(dir, "fair.db");
copyFileSync(seed, db);
const port = await freePort();
const ep = `tcp://127.0.0.1:${port}`;
const srv = spawn(process.execPath, [join(dist, "cli", "main.js"), "serve", "--storage", db, "--bind", ep], { stdio: ["ignore", "pipe", "inherit"] });
try {
  await listening(srv);
  const a = new Dealer({ linger: 0 });
  const b = new Dealer({ linger: 0 });
  a.connect(ep);
  b.connect(ep);
  const rq = async (s, m) => {
    await s.send(encode({ v: 1, ...m }));
    return decode((await s.receive())[0]);
  };
  await rq(b, { id: "h0", op: "hello" });
  await rq(b, { id: "c0", op: "create_study", name: "small", space: { x: { type: "float", low: 0, high: 1 } } });
  const page = { op: "trials", study: "big", order_by: "value", offset: Math.floor(Number(args.trials) * 0.9), limit: 100 };
  let t = performance.now();
  await rq(a, { id: "one", ...page });
  const pageMs = performance.now() - t;
  for (let i = 0; i < N; i++) await a.send(encode({ v: 1, id: `a${i}`, ...page }));
  let got = 0;
  const done = (async () => {
    while (got < N) {
      await a.receive();
      got++;
    }
  })();
  while (got === 0) await new Promise((r) => setTimeout(r, 1));
  const out = [];
  t = performance.now();
  const h = await rq(b, { id: "b1", op: "hello" });
  out.push({ op: "hello", ok: h.ok, ms: Math.round(performance.now() - t), a_answered: got });
  t = performance.now();
  const asked = await rq(b, { id: "b2", op: "ask", study: "small" });
  out.push({ op: "ask", ok: asked.ok, ms: Math.round(performance.now() - t), a_answered: got });
  t = performance.now();
  const told = await rq(b, { id: "b3", op: "tell", study: "small", trial: asked.result.trial.number, token: asked.result.lease.token, state: "COMPLETE", value: 1 });
  out.push({ op: "tell", ok: told.ok, ms: Math.round(performance.now() - t), a_answered: got });
  await done;
  console.log(JSON.stringify({ dist: args.dist, n: N, page_ms: Math.round(pageMs), b: out }));
  a.close();
  b.close();
} finally {
  srv.kill("SIGTERM");
}
