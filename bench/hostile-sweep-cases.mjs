// The cases of bench/hostile-sweep.mjs: strategies, schedulers, extreme search spaces and extreme
// results, a seeded generator, the in-space check, and a protocol client whose every request has a
// hang guard. Not a benchmark on its own (run bench/hostile-sweep.mjs).
import "./help.mjs";
import { randomBytes } from "node:crypto";
import { Packr, Unpackr } from "msgpackr";
import { Dealer } from "zeromq";
import { Rng } from "../dist/math/rng.js";

/** A seeded generator (the server's own), so a failing case is reproduced by its seed. */
export function seeded(seed) {
  const rng = new Rng(seed, "hostile-sweep");
  return () => rng.random();
}

export const STRATEGIES = ["random", "grid", "qmc", "tpe", "gp", "cmaes", "auto", "nsga2", "ehvi", "parego", "pbt", "pb2", "hypergradient"];

/** Schedulers with options at their extremes; `make` returns the create_study value (null: none). */
export const SCHEDULERS = [
  { name: "none", make: () => null },
  { name: "median", make: (r) => (r() < 0.5 ? "median" : { name: "median", options: { n_startup_trials: 0, n_warmup_steps: 0, interval_steps: 1e-300, n_min_trials: 1 } }) },
  { name: "percentile", make: (r) => ({ name: "percentile", options: { percentile: r() < 0.5 ? 0 : 100, n_startup_trials: 0 } }) },
  { name: "threshold", make: () => ({ name: "threshold", options: { lower: -1e308, upper: 1e308 } }) },
  { name: "patient", make: (r) => ({ name: "patient", options: { patience: 0, wrapped: r() < 0.5 ? "median" : { name: "asha", options: { reduction_factor: 1000 } } } }) },
  { name: "successive-halving", make: (r) => ({ name: "successive-halving", options: r() < 0.5 ? { min_resource: 1e-300, reduction_factor: 2, min_early_stopping_rate: 30 } : {} }) },
  { name: "hyperband", make: (r) => ({ name: "hyperband", options: r() < 0.5 ? { min_resource: 1e-300, max_resource: 1e300, reduction_factor: 2 } : { max_resource: 1, min_resource: 1 } }) },
  { name: "asha", make: (r) => ({ name: "asha", options: r() < 0.5 ? { mode: "promotion", min_resource: 1e-300, max_resource: 1e300, reduction_factor: 2 } : { reduction_factor: 1000, min_early_stopping_rate: 30 } }) },
  { name: "bohb", make: (r) => ({ name: "bohb", options: r() < 0.5 ? { max_resource: 1e300, min_resource: 1e-300, min_points_in_model: 1, top_n_percent: 99.99, num_samples: 10000, min_bandwidth: 1e-300 } : { max_resource: 9, random_fraction: 0, bandwidth_factor: 1e300 } }) },
];

const many = (n, f) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, f(i)]));
const MAXI = Number.MAX_SAFE_INTEGER;

/** Extreme search spaces; `dbr` (define-by-run) suggests further parameters through `suggest(name, distribution)`. */
export const CASE_SPACES = [
  { name: "point", make: () => ({ a: { type: "float", low: 3, high: 3 }, b: { type: "int", low: -7, high: -7 }, c: { type: "categorical", choices: ["only"] }, d: { type: "float", low: 0.5, high: 0.5, log: true } }) },
  { name: "int53", make: () => ({ a: { type: "int", low: 0, high: MAXI }, b: { type: "int", low: -MAXI, high: 0 }, c: { type: "int", low: MAXI - 10, high: MAXI }, d: { type: "int", low: 1, high: MAXI, log: true } }) },
  { name: "int31", make: () => ({ a: { type: "int", low: -(2 ** 31) - 3, high: 2 ** 31 + 3 }, b: { type: "int", low: 2 ** 31 - 2, high: 2 ** 31 + 2, step: 3 }, c: { type: "int", low: -(2 ** 32), high: 2 ** 32, step: 2 ** 31 - 1 } }) },
  { name: "log300", make: () => ({ a: { type: "float", low: 1e-300, high: 1e300, log: true }, b: { type: "float", low: 5e-324, high: 1.7e308, log: true }, c: { type: "int", low: 1, high: 2 ** 40, log: true } }) },
  { name: "subnormal", make: () => ({ a: { type: "float", low: 5e-324, high: 1e-323 }, b: { type: "float", low: -1e-320, high: 1e-320 }, c: { type: "float", low: 5e-324, high: 2e-323, step: 5e-324 }, d: { type: "float", low: 1e-310, high: 1e-308, log: true } }) },
  { name: "wide", make: () => ({ a: { type: "float", low: -8e307, high: 8e307 }, b: { type: "float", low: -1e308, high: 0 }, c: { type: "float", low: 0, high: 1.7e308, step: 1e307 } }) },
  { name: "oddstep", make: () => ({ a: { type: "float", low: 0, high: 1, step: 0.3 }, b: { type: "int", low: 0, high: 10, step: 3 }, c: { type: "float", low: -1, high: 1e9, step: 7.77 }, d: { type: "float", low: 0.1, high: 0.3, step: 0.1 } }) },
  { name: "cat1", make: () => ({ a: { type: "categorical", choices: [null] }, x: { type: "float", low: 0, high: 1 } }) },
  { name: "cat5000", make: () => ({ a: { type: "categorical", choices: Array.from({ length: 5000 }, (_, i) => `c${i}`) }, b: { type: "categorical", choices: Array.from({ length: 5000 }, (_, i) => i * 1e-300) } }) },
  { name: "mixed", make: () => ({ a: { type: "categorical", choices: [null, true, false, 0, -0.5, 1e308, -1e308, 5e-324, "", "0", "null", "true", "ü"] }, b: { type: "categorical", choices: [-0, 1] }, x: { type: "float", low: -1, high: 1 } }) },
  { name: "empty", make: () => ({}) },
  { name: "p120", make: () => many(120, (i) => (i % 3 === 0 ? { type: "float", low: -i, high: i + 1 } : i % 3 === 1 ? { type: "int", low: 0, high: i + 1, step: 1 } : { type: "categorical", choices: ["a", "b", i] })) },
  {
    name: "dbr",
    make: () => ({ base: { type: "float", low: 0, high: 1 } }),
    dbr: async (r, suggest) => {
      const kind = await suggest("kind", { type: "categorical", choices: ["lin", "log", "cat", null] });
      if (kind === "lin") await suggest("lin_x", { type: "float", low: -1e308, high: 1e308 * r() });
      else if (kind === "log") await suggest("log_x", { type: "float", low: 1e-300, high: 1e300, log: true });
      else if (kind === "cat") await suggest("cat_x", { type: "categorical", choices: [1, "1", true] });
      // A range that depends on an earlier choice (Optuna's dynamic space), and one point.
      await suggest("dyn", { type: "int", low: 0, high: 1 + Math.floor(r() * 2 ** 40) });
      await suggest("pt", { type: "float", low: 2, high: 2 });
      await suggest("base", { type: "float", low: 0, high: 1 }); // declared, suggested again
    },
  },
  {
    name: "dbr-empty",
    make: () => ({}),
    dbr: async (r, suggest) => {
      await suggest("i", { type: "int", low: -(2 ** 31), high: 2 ** 31, step: 7 });
      await suggest("s", { type: "float", low: 5e-324, high: 1e-323 });
    },
  },
];

const finiteEdge = [1e308, -1e308, 5e-324, -5e-324, 0, -0, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308];

/** Result patterns: `values(r, n)` one value per trial, `reports(r, v)` [step, value] pairs, `tell(...)` the tell's fields. */
export const VALUE_MODES = [
  { name: "huge", values: (r, n) => Array.from({ length: n }, () => finiteEdge[Math.floor(r() * finiteEdge.length)]), reports: (r, v) => [[0, v], [1, v], [2 ** 53, -v], [1e300, v]], tell: complete },
  { name: "equal", values: (r, n) => Array(n).fill(1), reports: (r, v) => [[0, v], [0, v], [1, v]], tell: complete },
  { name: "subnormal", values: (r, n) => Array.from({ length: n }, (_, i) => (i % 2 ? 5e-324 : -0) * (1 + (i % 3))), reports: (r, v) => [[5e-324, v], [1e-300, v], [1, v]], tell: complete },
  { name: "failonly", values: (r, n) => Array(n).fill(0), reports: (r, v) => [[3, v], [2, v]], tell: () => ({ state: "FAIL", reason: "x".repeat(100) }) },
  { name: "prunedonly", values: (r, n) => Array.from({ length: n }, () => r()), reports: (r, v) => [[0, v], [1, Number.NaN]], tell: () => ({ state: "PRUNED" }) },
  { name: "onecomplete", values: (r, n) => Array.from({ length: n }, () => r()), reports: () => [], tell: (r, v, i, nObj) => (i === 3 ? complete(r, v, i, nObj) : { state: "FAIL" }) },
  { name: "constraints", values: (r, n) => Array.from({ length: n }, () => r() * 1e308), reports: (r, v) => [[1, v], [1, v + 1]], tell: (r, v, i, nObj) => ({ ...complete(r, v, i, nObj), constraints: [1e308, -1e308, r() < 0.5 ? 0 : -0, 5e-324] }) },
  { name: "steps", values: (r, n) => Array.from({ length: n }, () => r() - 0.5), reports: (r, v) => Array.from({ length: 12 }, (_, s) => [s * 1e20 + 1e300 * (s > 10 ? 1 : 0), v * (12 - s)]), tell: complete },
];

function complete(r, v, i, nObj) {
  if (nObj === 1) return { state: "COMPLETE", value: v };
  return { state: "COMPLETE", values: Array.from({ length: nObj }, (_, j) => (j === 0 ? v : finiteEdge[(i + j) % finiteEdge.length])) };
}

/** Why `v` is not a value of the stored distribution `d` (strict bounds), or null. */
export function inSpace(d, v) {
  if (d.type === "categorical") return d.choices.some((c) => Object.is(c, v) || (typeof c === "number" && c === v)) ? null : "not a choice";
  if (typeof v !== "number" || !Number.isFinite(v)) return "not a finite number";
  if (v < d.low || v > d.high) return "outside [low, high]";
  if (d.type === "int" && !Number.isInteger(v)) return "not an integer";
  const step = d.type === "int" ? (d.log ? null : (d.step ?? 1)) : d.step;
  if (step) {
    const k = (v - d.low) / step;
    if (d.type === "int" ? (v - d.low) % step !== 0 : Math.abs(k - Math.round(k)) > 1e-6) return "not on the step grid";
  }
  return null;
}

const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });

/** A Dealer whose `request(op, args)` resolves with the whole reply, or rejects after `timeoutMs` (a hang). */
export function rawReplyClient(endpoint, timeoutMs) {
  const sock = new Dealer({ linger: 0 });
  sock.connect(endpoint);
  const waiting = new Map();
  void (async () => {
    try {
      for await (const [f] of sock) {
        const r = unpackr.unpack(f);
        waiting.get(r.id)?.(r);
        waiting.delete(r.id);
      }
    } catch {
      // closed
    }
  })();
  return {
    request: (op, args) =>
      new Promise((resolve, reject) => {
        const id = randomBytes(16).toString("hex");
        const t = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`no reply to ${op} in ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, (r) => {
          clearTimeout(t);
          resolve(r);
        });
        void sock.send(packr.pack({ v: 1, id, op, ...args }));
      }),
    close: () => sock.close(),
  };
}
