// Promises per request on the ZeroMQ server's path (issue 19 item 3): random-strategy ask → tell loops
// through `ZmqServer.process` (decode, validate, service, commit) in-process, over a SQLite file, with
// an `async_hooks` count of the promises each request creates. A count, not a time: the machine's load
// does not move it, so it A/Bs a change to the promise plumbing that a CPU A/B (server-cpu-ab.mjs,
// ±1–3 % a round on a busy machine) cannot resolve. The transport's own per-message promises (the
// receive iterator, `answer`, `send`) are not on this path; the count includes them nowhere.
//
//   node bench/request-promises.mjs [--a dist] [--b OTHER/dist] [--trials 1000]
import "./help.mjs";
import { createHook } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Packr, Unpackr } from "msgpackr";
import { abArgs, countArg } from "./ab-args.mjs";

const USAGE = "node bench/request-promises.mjs [--a dist] [--b OTHER/dist] [--trials 1000]";
const args = abArgs(USAGE, []);
const TRIALS = countArg(args, "trials", 1000, 1, USAGE);
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });

let promises = 0;
createHook({
  init(_id, type) {
    if (type === "PROMISE") promises++;
  },
}).enable();

/** Promises per request (ask and tell alike) of `dist`'s server path, after a warm-up. */
async function count(dist) {
  const load = (p) => import(pathToFileURL(join(resolve(dist), p)).href);
  const { SqliteStorage } = await load("storage/sqlite/sqlite-storage.js");
  const { StudyService } = await load("service/study-service.js");
  const { ZmqServer } = await load("transports/zmq/zmq-server.js");
  const { silentLogger } = await load("logger.js");
  const dir = mkdtempSync(join(tmpdir(), "tuneport-promises-"));
  const logger = silentLogger();
  const storage = new SqliteStorage({ path: join(dir, "p.db"), durability: "process" });
  const service = await StudyService.open({ storage, logger, reapIntervalMs: 0 });
  const server = new ZmqServer(service, { bind: [], logger });
  // A random 32-hex id per request, without `attempt`, as bench/raw-client.mjs sends them.
  const call = async (op, a) => {
    const reply = await server.process(packr.pack({ v: 1, id: randomBytes(16).toString("hex"), op, ...a }));
    if (!reply.ok) throw new Error(`${op}: ${reply.error.code} ${reply.error.message}`);
    return unpackr.unpack(packr.pack(reply.result));
  };
  const space = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, { type: "float", low: 0, high: 1 }]));
  await call("create_study", { name: "p", space, strategy: "random", seed: 1 });
  // The harness's own promises (its `call`, the client-side pack) are counted on an empty loop and taken off.
  const loop = async (n, run) => {
    for (let i = 0; i < n; i++) {
      const a = await run("ask", { study: "p" });
      await run("tell", { study: "p", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    }
  };
  await loop(200, call);
  const before = promises;
  await loop(TRIALS, call);
  const measured = promises - before;
  const idle = async (op) => (op === "ask" ? { trial: { number: 0 }, lease: { token: "t" } } : {});
  const before2 = promises;
  await loop(TRIALS, idle);
  const harness = promises - before2;
  await service.close();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
  return Math.round(((measured - harness) / (2 * TRIALS)) * 100) / 100;
}

const out = { trials: TRIALS, a: resolve(args.a ?? join(import.meta.dirname, "..", "dist")) };
out.a_promises_per_request = await count(out.a);
if (args.b) {
  out.b = resolve(args.b);
  out.b_promises_per_request = await count(out.b);
}
console.log(JSON.stringify(out));
