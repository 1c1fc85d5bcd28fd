// What the one-big-study benches share (bench/value-pages.mjs, bench/query-text-keys.mjs): a study
// of generated COMPLETE trials written by `tuneport import` into a SQLite file, and a `tuneport
// serve` of each build timed on its own copy of that file, spoken to over its ZeroMQ socket.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { randomUUID } from "node:crypto";
import { Dealer } from "zeromq";

/**
 * Imports study "big" (minimised, one float `x`) of `trials` COMPLETE trials into `dir`/big.sqlite
 * with `cli`; `trial(i)` gives trial i's `value` and `user_attrs`. Returns the database's path.
 */
export function importBigStudy(cli, dir, trials, trial) {
  const now = Date.now();
  const dist = { x: { type: "float", low: 0, high: 1 } };
  const config = { direction: "minimize", space: dist, strategy: { name: "random", options: {} }, scheduler: null, seed: 1, lease_ttl_s: 30, retry: { max_retries: 0, retry_on_fail: false, keep_intermediate: false } };
  const lines = [JSON.stringify({ format: "tuneport-study", version: 1, name: "big", config, user_attrs: {}, created_at_ms: now, trials })];
  for (let i = 0; i < trials; i++) {
    const { value, user_attrs = {} } = trial(i);
    lines.push(JSON.stringify({ number: i, state: "COMPLETE", params: { x: 0.5 }, distributions: dist, value, intermediate: [], user_attrs, system_attrs: {}, created_at_ms: now, started_at_ms: now, finished_at_ms: now, lease: null }));
  }
  writeFileSync(join(dir, "big.jsonl"), `${lines.join("\n")}\n`);
  const db = join(dir, "big.sqlite");
  const imp = spawnSync(process.execPath, [cli, "import", join(dir, "big.jsonl"), "--storage", db], { encoding: "utf8" });
  if (imp.status !== 0) throw new Error(imp.stderr);
  return db;
}

/**
 * Serves a copy of `db` (named `label`) with build `bin` on `port` and resolves, once a hello is
 * answered (the DEALER holds it until the server, the study loaded, binds), with `call(op, args)`
 * (the reply) and `stop()`.
 */
export async function serveCopy(bin, db, label, port, logLevel) {
  const copy = join(dirname(db), `${label}.sqlite`);
  copyFileSync(db, copy);
  const srv = spawn(process.execPath, [bin, "serve", "--storage", copy, "--bind", `tcp://127.0.0.1:${port}`, "--log-level", logLevel], { stdio: ["ignore", "pipe", "inherit"] });
  const { encode, decode } = await import(join(dirname(bin), "..", "transports", "zmq", "codec.js"));
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
  await call("hello", {});
  const stop = async () => {
    sock.close();
    srv.kill("SIGKILL");
    await new Promise((r) => srv.once("exit", r));
  };
  return { call, stop };
}
