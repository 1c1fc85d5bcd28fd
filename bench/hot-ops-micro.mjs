// What one ask/tell request spends in argument validation and reply packing (issue 19 item 3), per
// call, best of 15 batches of 20,000 (the minimum is what a loaded machine disturbs least):
// - zod's parse of ask and tell arguments against the fast path (src/service/ops/fast-args.ts);
// - packing an ask reply for the wire (`encode`) against sending the bytes already packed for its
//   stored reply (`encodeOkReply`), and the stored reply's own pack, which stays.
//
//   node bench/hot-ops-micro.mjs [--dist dist]
import "./help.mjs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Packr } from "msgpackr";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const DIST = resolve(args.dist ?? join(import.meta.dirname, "..", "dist"));
const load = (p) => import(pathToFileURL(join(DIST, p)).href);
const { OPS } = await load("service/ops/ops.js");
const { fastArgs } = await load("service/ops/fast-args.js");
const { encode, encodeOkReply } = await load("transports/zmq/codec.js");

const stored = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
const best = (f, n = 20_000) => {
  let min = Number.POSITIVE_INFINITY;
  for (let b = 0; b < 15; b++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) f();
    min = Math.min(min, (performance.now() - t) / n);
  }
  return Math.round(min * 100_000) / 100; // µs, two decimals
};
const askArgs = { study: "cpu" };
const tellArgs = { study: "cpu", trial: 12, token: "LFJbTaSrdmUTQVGV", state: "COMPLETE", value: 0.5 };
// An ask reply of bench/server-cpu.mjs's study (six float parameters): ~600 bytes.
const params = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, (i + 1) / 7]));
const distributions = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, { type: "float", low: 0, high: 1 }]));
const askResult = {
  study: "cpu",
  trial: { number: 12, state: "RUNNING", params, distributions, value: null, values: null, constraints: null, feasible: null, intermediate: [], user_attrs: {}, system_attrs: {}, created_at: 1796494456.157, started_at: 1796494456.157, finished_at: null, duration_s: 0 },
  lease: { token: "LFJbTaSrdmUTQVGV", expires_at: 1796494486.157, ttl_s: 30 },
  budget: null,
  start: { budget: null, rung: null, bracket: null, resume_from: null, restore: null },
};
const id = "0123456789abcdef0123456789abcdef";
const packed = Buffer.from(stored.pack(askResult));
console.log(
  JSON.stringify({
    dist: DIST,
    us_per_call: {
      zod_ask: best(() => OPS.ask.args.safeParse(askArgs)),
      fast_ask: best(() => fastArgs("ask", askArgs)),
      zod_tell: best(() => OPS.tell.args.safeParse(tellArgs)),
      fast_tell: best(() => fastArgs("tell", tellArgs)),
      encode_ask_reply: best(() => encode({ v: 1, id, ok: true, result: askResult })),
      encode_ok_reply_prepacked: best(() => encodeOkReply(1, id, packed)),
      stored_reply_pack: best(() => stored.pack(askResult)),
    },
  }),
);
