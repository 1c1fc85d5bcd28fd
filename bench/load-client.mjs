// One load-bench worker process (bench/load.mjs starts N of them): a DEALER running
// ask → report → tell loops as fast as the server answers, one request at a time, like a
// training worker with a zero-cost objective. Prints its latencies (ms) as one JSON line.
//
// Usage: node load-client.mjs ENDPOINT STUDY TRIALS GO_AT_EPOCH_MS [STOP_AT_EPOCH_MS]
// (with STOP_AT, the loop also ends at that instant: a fixed time window instead of a trial count).
// GO_AT "stdin": after hello, print "ready" and read "GO_AT STOP_AT" from stdin (a start barrier
// that waits for the slowest client to start, however loaded the machine is).
import "./help.mjs";
import { randomBytes } from "node:crypto";
import { Packr, Unpackr } from "msgpackr";
import { Dealer, context } from "zeromq";

context.blocky = false;
const [endpoint, study, trialsArg, goAtArg] = process.argv.slice(2);
const trials = Number(trialsArg);
let goAt = Number(goAtArg);
let stopAt = Number(process.argv[6] ?? Number.POSITIVE_INFINITY);
// the codec options of src/transports/zmq/codec.ts
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });
const sock = new Dealer({ linger: 0 });
sock.connect(endpoint);

/** The envelope's attempt, once hello says the server reads it. */
let attempt = {};

async function call(op, args) {
  // As the Python client (_protocol.py new_request_id): 128 random bits in hex; their order
  // decides where the server's stored replies land in SQLite.
  const id = randomBytes(16).toString("hex");
  // attempt 0: the first (and, here, only) send of this id, as the Python client says it to a server
  // that reads it (hello's envelope; PROTOCOL.md).
  await sock.send(packr.pack({ v: 1, id, op, ...args, ...attempt }));
  for (;;) {
    const [f] = await sock.receive();
    const r = unpackr.unpack(f);
    if (r.id !== id) continue;
    if (!r.ok) throw new Error(`${op}: ${r.error.code} ${r.error.message}`);
    return r.result;
  }
}

const lat = { ask: new Float64Array(trials), report: new Float64Array(trials), tell: new Float64Array(trials) };
if ((await call("hello", {})).envelope?.includes("attempt")) attempt = { attempt: 0 };

/** One ask → report → tell on `name`: the three latencies (ms), or null once the space is exhausted. */
async function oneTrial(name) {
  let t = performance.now();
  let a;
  try {
    a = await call("ask", { study: name });
  } catch (err) {
    if (String(err).includes("SEARCH_SPACE_EXHAUSTED")) return null;
    throw err;
  }
  let u = performance.now();
  const askMs = u - t;
  const p = a.trial.params;
  const value = Object.values(p).reduce((s, v) => s + (typeof v === "number" ? v * v : 0.5), 0);
  t = u;
  await call("report", { study: name, trial: a.trial.number, token: a.lease.token, step: 0, value: value + 1 });
  u = performance.now();
  const reportMs = u - t;
  t = u;
  await call("tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value });
  return [askMs, reportMs, performance.now() - t];
}

// Warm-up (TUNEPORT_LOAD_WARMUP=STUDY:N, set by bench/load.mjs): N trials on another study before
// "ready", so that this process's JIT has compiled its loop before the window opens. Without it a
// 32-worker window spent about a fifth of the workers' CPU in V8's compilers (perf, issue 18): a
// start-up cost of a 20 s process, not of a worker that runs for hours.
const [warmStudy, warmN] = (process.env.TUNEPORT_LOAD_WARMUP ?? "").split(":");
if (warmStudy && Number(warmN) > 0) for (let i = 0; i < Number(warmN); i++) if ((await oneTrial(warmStudy)) === null) break;
if (goAtArg === "stdin") {
  process.stdout.write("ready\n");
  const line = await new Promise((resolve) => {
    let buf = "";
    process.stdin.on("data", (d) => {
      buf += d;
      if (buf.includes("\n")) resolve(buf.split("\n")[0]);
    });
  });
  [goAt, stopAt] = line.split(" ").map(Number);
  process.stdin.destroy();
}
const wait = goAt - Date.now();
if (wait > 0) await new Promise((r) => setTimeout(r, wait));
const t0 = Date.now();
let done = 0;
for (let i = 0; i < trials && Date.now() < stopAt; i++) {
  const ms = await oneTrial(study);
  if (ms === null) break;
  lat.ask[i] = ms[0];
  lat.report[i] = ms[1];
  lat.tell[i] = ms[2];
  done++;
}
const end = Date.now();
sock.close();
const r = (a) => Array.from(a.subarray(0, done), (x) => Math.round(x * 1000) / 1000);
process.stdout.write(`${JSON.stringify({ done, start: t0, end, ask: r(lat.ask), report: r(lat.report), tell: r(lat.tell) })}\n`);
