// Extras of bench/hostile-sweep.mjs a case may add (off with --no-extras, which replays the cases of
// runs before them): trials enqueued (`enqueue`) and recorded (`add_trial`) with values at the edges
// of the stored space (and now and then just outside it, within the bounds' old tolerance) and
// results at the ends of the double (±1.8e308, ±Infinity, subnormals, -0, NaN constraints,
// intermediate values at steps up to 1e308), and now and then leases that expire
// mid-run: some pending trials asked with lease_ttl_s 1, then one pause long enough for the reaper,
// so later reports, suggests and tells meet LEASE_LOST while other trials run on and the retries
// are handed out again. Drawn from a generator of their own (seed and case), so that the
// main sequence of cases stays the one earlier seeds ran. Not a benchmark on its own.
import "./help.mjs";
import { Rng } from "../dist/math/rng.js";

const ENDS = [1.7976931348623157e308, -1.7976931348623157e308, 1e308, -1e308, 5e-324, -5e-324, 0, -0, 2.2250738585072014e-308, Infinity, -Infinity];
const ODD = [1e308, -1e308, 5e-324, -0, "", null, true, "ü".repeat(100)];

/** How long a case with short leases pauses: past a 1 s lease and the reaper's next pass (about once a second). */
export const LEASE_PAUSE_MS = 2500;

/**
 * The extras of case `k` of seed `seed`: `rnd` (their own generator), `shortLeases` (about one case
 * in 16: asks may take lease_ttl_s 1) and `pauseAfter` (the number of told trials after which the
 * case pauses once, LEASE_PAUSE_MS).
 */
export function caseExtras(seed, k) {
  const rng = new Rng(seed, `hostile-sweep-extras-${k}`);
  const rnd = () => rng.random();
  const shortLeases = rnd() < 1 / 16;
  // Values just outside the space come from a generator of their own, so the draws above (and the
  // cases of the runs before them) stay as they were.
  const outside = new Rng(seed, `hostile-sweep-outside-${k}`);
  return { rnd, shortLeases, pauseAfter: Math.floor(rnd() * 6), paused: false, added: rnd() < 0.4, outsideRnd: () => outside.random() };
}

/**
 * A number just outside the numeric distribution `d`, within the tolerance the server's bounds once
 * had (1e-9 of the range, at least 1e-9): below low or above high by 5e-10 of the range, or 0 or a
 * negative for a log range. None may be stored (`enqueue` and `add_trial` refuse them).
 */
function justOutside(r, d) {
  if (d.log && r() < 0.5) return pick(r, [0, -5e-10, d.low * (1 - 1e-12)]);
  const by = d.type === "int" ? Math.max(1, Math.round((d.high - d.low) * 5e-10)) : Math.max(1, d.high - d.low) * 5e-10;
  return r() < 0.5 ? d.low - by : d.high + by;
}

/** A value at an edge of the stored distribution `d`: low or high, a categorical's first or last choice. */
function edge(r, d) {
  if (d.type === "categorical") return d.choices[r() < 0.5 ? 0 : d.choices.length - 1];
  return r() < 0.5 ? d.low : d.high;
}

const pick = (r, xs) => xs[Math.floor(r() * xs.length)];

/**
 * Enqueues a trial or two at the edges of `space` (some declared parameters left to be drawn, now
 * and then an undeclared one with an odd value) and records one with `add_trial` at the ends of the
 * double, through `call(op, args)` (the sweep's checked request). Refusals are the server's to make;
 * the sweep fails only on INTERNAL, a hang or an exit.
 */
export async function extraTrials(ex, call, study, space, nObj) {
  const r = ex.rnd;
  const entries = Object.entries(space);
  const params = {};
  for (const [n, d] of entries) if (r() < 0.8) params[n] = edge(r, d);
  if (r() < 0.4) params.zz_undeclared = pick(r, ODD);
  await call("enqueue", { study, params, ...(r() < 0.5 ? { skip_if_exists: true } : {}) });
  if (r() < 0.4) await call("enqueue", { study, params, skip_if_exists: true });
  const full = Object.fromEntries(entries.map(([n, d]) => [n, edge(r, d)]));
  const state = pick(r, ["COMPLETE", "COMPLETE", "COMPLETE", "FAIL", "PRUNED"]);
  const args = { study, params: full, state };
  if (state === "COMPLETE") {
    if (nObj === 1 && r() < 0.5) args.value = pick(r, ENDS);
    else args.values = Array.from({ length: nObj }, () => pick(r, ENDS));
    if (r() < 0.4) args.constraints = [pick(r, ENDS), Number.NaN, pick(r, ENDS)];
  }
  if (r() < 0.5) args.intermediate = [[0, pick(r, ENDS)], [5e-324, pick(r, ENDS)], [2 ** 53, pick(r, ENDS)], [1e308, pick(r, ENDS)]];
  if (r() < 0.3) Object.assign(args, { started_at: 0, finished_at: 1e11 });
  await call("add_trial", args);
  // Now and then a value just outside a numeric parameter: enqueued (an ask would hand it out) and
  // added (the trials read after the case would list it), were either stored.
  const o = ex.outsideRnd;
  const numeric = entries.filter(([, d]) => d.type !== "categorical" && d.low < d.high);
  if (numeric.length === 0 || o() >= 0.5) return;
  const [n, d] = pick(o, numeric);
  await call("enqueue", { study, params: { ...params, [n]: justOutside(o, d) } });
  await call("add_trial", { ...args, params: { ...full, [n]: justOutside(o, d) } });
}
