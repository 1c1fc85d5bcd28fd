// A bare protocol client for the server-CPU benchmarks (server-cpu, server-cpu-ab, server-syscalls):
// one zeromq.js Dealer, msgpack packed as the Python client packs it, and nothing else on the path.
import { randomBytes } from "node:crypto";
import { Packr, Unpackr } from "msgpackr";
import { Dealer } from "zeromq";

const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });

/**
 * Connects a Dealer to `endpoint`; `call(op, args)` sends one request and returns its result (throws
 * on an error reply). Request ids as the Python client makes them (_protocol.py new_request_id): 128
 * random bits in hex. Their order decides where the server's stored replies land in SQLite, so a
 * counter would flatter the commit.
 */
export function rawClient(endpoint) {
  const sock = new Dealer({ linger: 0 });
  sock.connect(endpoint);
  const call = async (op, a) => {
    const id = randomBytes(16).toString("hex");
    await sock.send(packr.pack({ v: 1, id, op, ...a }));
    for (;;) {
      const [f] = await sock.receive();
      const r = unpackr.unpack(f);
      if (r.id !== id) continue;
      if (!r.ok) throw new Error(`${op}: ${r.error.code} ${r.error.message}`);
      return r.result;
    }
  };
  return { sock, call };
}

/**
 * Says hello (queued by ZeroMQ until the server has bound), creates study `name` (6 floats in [0, 1],
 * random strategy, seed 1) and returns `loop(count)`: `count` trials of ask, `reports` reports and a tell.
 */
export async function randomStudyLoop(call, name, reports = 0) {
  await call("hello", { versions: [1] });
  const space = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, { type: "float", low: 0, high: 1 }]));
  await call("create_study", { name, space, strategy: "random", seed: 1 });
  return async (count) => {
    for (let i = 0; i < count; i++) {
      const a = await call("ask", { study: name });
      const at = { study: name, trial: a.trial.number, token: a.lease.token };
      for (let s = 0; s < reports; s++) await call("report", { ...at, step: s, value: 1 / (s + 1) });
      await call("tell", { ...at, state: "COMPLETE", value: 0.5 });
    }
  };
}
