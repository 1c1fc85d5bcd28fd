// Cost of the byte-level request checks (transports/zmq/msgpack-scan.ts) next to msgpackr's
// decode of the same frames: ns per frame, median and IQR of 15 repetitions.
// Usage: node bench/frame-scan.mjs [--reps 15] [--n 20000]   (needs `make build`)
// Prints one JSON object (bench/input_check.py embeds it in its results).
import "./help.mjs";
import { decode, encode } from "../dist/transports/zmq/codec.js";
import { peekRequestId, scanFrame } from "../dist/transports/zmq/msgpack-scan.js";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const REPS = arg("reps", 15);
const N = arg("n", 20000);

const FRAMES = {
  ask: encode({ v: 1, id: "4f1c2d0e9a7b4c3d8e6f5a4b3c2d1e0f", op: "ask", study: "mlp-digits" }),
  tell: encode({ v: 1, id: "5a1c2d0e9a7b4c3d8e6f5a4b3c2d1e0f", op: "tell", study: "mlp-digits", trial: 1234, token: "t".repeat(32), state: "COMPLETE", value: 0.123, user_attrs: { worker: "gpu-07", epochs: 20 } }),
  report: encode({ v: 1, id: "6a1c2d0e9a7b4c3d8e6f5a4b3c2d1e0f", op: "report", study: "mlp-digits", trial: 1234, token: "t".repeat(32), step: 17, value: 0.25 }),
  create_study: encode({
    v: 1,
    id: "7a1c2d0e9a7b4c3d8e6f5a4b3c2d1e0f",
    op: "create_study",
    name: "mlp-digits",
    space: { lr: { type: "float", low: 1e-5, high: 1e-1, log: true }, layers: { type: "int", low: 1, high: 4 }, act: { type: "categorical", choices: ["relu", "gelu", "tanh"] } },
    strategy: "tpe",
    scheduler: "asha",
  }),
  "enqueue-64KiB-non-ascii": encode({ v: 1, id: "8a1c2d0e9a7b4c3d8e6f5a4b3c2d1e0f", op: "enqueue", study: "mlp-digits", params: { lr: 0.01 }, rationale: "é".repeat(2000), user_attrs: { note: "学習率".repeat(10_000) } }),
  // A map over 16 keys: its keys are checked for duplicates through a hash table, not pairwise.
  "attrs-1000-keys": encode({ v: 1, id: "9a1c2d0e9a7b4c3d8e6f5a4b3c2d1e0f", op: "set_user_attrs", study: "mlp-digits", attrs: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`key_${i}`, i])) }),
};

const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  const k = (s.length - 1) * p;
  const lo = Math.floor(k);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (k - lo);
};

const out = {};
for (const [name, frame] of Object.entries(FRAMES)) {
  const n = frame.length > 4096 ? Math.max(200, N / 100) : N;
  const scan = (f) => scanFrame(f, 32);
  const peek = (f) => peekRequestId(f);
  const dec = (f) => decode(f);
  const runs = { decode: [], scan: [], peek: [] };
  for (let r = 0; r < REPS; r++) {
    // interleaved, so that drift on a shared machine hits all three alike
    for (const [k, fn] of [["decode", dec], ["scan", scan], ["peek", peek]]) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn(frame);
      runs[k].push(Number(process.hrtime.bigint() - t0) / n);
    }
  }
  out[name] = {
    bytes: frame.length,
    decode_ns: { median: q(runs.decode, 0.5), iqr: [q(runs.decode, 0.25), q(runs.decode, 0.75)] },
    scan_ns: { median: q(runs.scan, 0.5), iqr: [q(runs.scan, 0.25), q(runs.scan, 0.75)] },
    peek_ns: { median: q(runs.peek, 0.5), iqr: [q(runs.peek, 0.25), q(runs.peek, 0.75)] },
  };
}
process.stdout.write(`${JSON.stringify({ reps: REPS, n: N, frames: out })}\n`);
