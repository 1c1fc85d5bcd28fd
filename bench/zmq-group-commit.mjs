// Group commit of a pipelining client (fair-dispatch.ts, commit-pipeline.ts): each of C clients
// sends `hello`, then pipelines N `ask`s on its own study (random strategy) without waiting, and
// reads the N replies. Counts the SQLite transactions the asks took (the server's debug line
// "batch committed", one per transaction) and prints, per round, the commits and the change sets
// per commit. Fairness between clients is bench/zmq-fair.mjs's.
//
//   npm run build && node bench/zmq-group-commit.mjs [--dist dist] [--n 400] [--clients 1] [--rounds 5]
//
// The server is `tuneport serve` of --dist (SQLite in a temporary directory, `--log-level debug`) on
// a port from BENCH_PORTS (a free one without it).
import "./help.mjs";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Dealer } from "zeromq";
import { freePort, listening } from "./serve-process.mjs";

const { values: args } = parseArgs({
  options: { dist: { type: "string", default: "dist" }, n: { type: "string", default: "400" }, clients: { type: "string", default: "1" }, rounds: { type: "string", default: "5" } },
});
const dist = resolve(args.dist);
const [N, C, ROUNDS] = [Number(args.n), Number(args.clients), Number(args.rounds)];
const { encode, decode } = await import(join(dist, "transports", "zmq", "codec.js"));
const dir = mkdtempSync(join(tmpdir(), "tuneport-group-commit-"));
const ep = `tcp://127.0.0.1:${await freePort()}`;
const srv = spawn(process.execPath, [join(dist, "cli", "main.js"), "serve", "--storage", join(dir, "g.db"), "--bind", ep, "--log-level", "debug"], { stdio: ["ignore", "pipe", "inherit"] });
try {
  await listening(srv);
  let commits = 0;
  let sets = 0;
  let buf = "";
  srv.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.includes('"batch committed"')) continue;
      commits++;
      sets += JSON.parse(line).sets;
    }
  });
  const socks = Array.from({ length: C }, () => new Dealer({ linger: 0 }));
  const rq = async (s, m) => {
    await s.send(encode({ v: 1, ...m }));
    return decode((await s.receive())[0]);
  };
  for (const [c, s] of socks.entries()) {
    s.connect(ep);
    await rq(s, { id: "h", op: "hello" });
    const made = await rq(s, { id: `c${c}`, op: "create_study", name: `s${c}`, space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    if (!made.ok) throw new Error(`create_study failed: ${JSON.stringify(made.error)}`);
  }
  const settle = async () => {
    // The last reply can come before the log line of its commit is read: wait until no line comes for 200 ms.
    for (let seen = -1; seen !== commits; ) {
      seen = commits;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    await settle();
    const [c0, s0] = [commits, sets];
    const t = performance.now();
    await Promise.all(
      socks.map(async (s, c) => {
        for (let i = 0; i < N; i++) await s.send(encode({ v: 1, id: `r${round}-${c}-${i}`, op: "ask", study: `s${c}` }));
        for (let i = 0; i < N; i++) {
          const r = decode((await s.receive())[0]);
          if (!r.ok) throw new Error(`ask failed: ${JSON.stringify(r.error)}`);
        }
      }),
    );
    const ms = performance.now() - t;
    await settle();
    const n = commits - c0;
    console.log(JSON.stringify({ round, clients: C, n_per_client: N, commits: n, sets_per_commit: Math.round(((sets - s0) / n) * 10) / 10, ms: Math.round(ms) }));
  }
  for (const s of socks) s.close();
} finally {
  srv.kill("SIGTERM");
}
