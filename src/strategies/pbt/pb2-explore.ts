/**
 * PB2's explore step on tuneport's history: turns the members' reports and lineages into the
 * bandit's data (one point per perturbation interval each member trained with one
 * configuration), asks `pb2Select` for the numeric hyperparameters, and leaves categorical ones
 * to PBT's neighbour move (PB2 as published and as in Ray models continuous hyperparameters
 * only; integers are relaxed into the unit cube and snapped back onto their grid).
 */
import { type Distribution, type NumericDistribution, type ParamValue, type Params, contains, fromUnit, toUnit } from "../../domain/distributions.js";
import type { Direction, Trial } from "../../domain/trial.js";
import type { Rng } from "../../math/rng.js";
import { type BanditPoint, pb2Select } from "./pb2-bandit.js";
import { lineageOf, memberOf } from "./lineage.js";

/** The numeric dimensions PB2 models, in a fixed (name) order. */
export function banditDims(dists: Record<string, Distribution>): [string, NumericDistribution][] {
  return Object.entries(dists)
    .filter((e): e is [string, NumericDistribution] => e[1].type !== "categorical" && e[1].high > e[1].low)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * `params` in the unit cube of `dims`, or null when one of them is not a value of its dimension:
 * a member whose define-by-run range differs (a negative number where this member's range is
 * log-scaled) is a point of another space. Before, it was encoded as NaN (the log of a negative)
 * and, as a pending configuration or a data point, made every fit fail, so PB2 fell back to PBT's
 * perturbation for as long as that member ran.
 */
function unitOf(dims: [string, NumericDistribution][], params: Params): number[] | null {
  const out: number[] = [];
  for (const [name, d] of dims) {
    const v = params[name];
    if (typeof v !== "number" || !contains(d, v)) return null;
    out.push(toUnit(d, v));
  }
  return out;
}

/** The value a trial reported at `step` exactly (NaN when it has none). */
function valueAt(t: Trial, step: number): number {
  const iv = t.intermediate.find((x) => Math.abs(x.step - step) < 1e-9);
  return iv ? iv.value : Number.NaN;
}

/**
 * One bandit point per completed interval of `interval` steps that a member trained with one
 * configuration: from the loaded checkpoint's value (a refill's or exploit's donor value) or
 * the member's first report (a fresh start), to the report at least `interval` steps later.
 */
export function banditData(
  trials: readonly Trial[],
  direction: Direction,
  dims: [string, NumericDistribution][],
  interval: number,
): BanditPoint[] {
  const sign = direction === "minimize" ? 1 : -1;
  const out: (BanditPoint & { order: number })[] = [];
  for (const t of trials) {
    if (memberOf(t) === null) continue;
    const lin = lineageOf(t);
    for (let i = 0; i < lin.length; i++) {
      const e = lin[i]!;
      const x = unitOf(dims, { ...t.params, ...e.params });
      if (!x) continue;
      const until = lin[i + 1]?.step ?? Infinity;
      const reports = t.intermediate.filter((iv) => iv.step > e.step + 1e-9 && iv.step <= until + 1e-9);
      // The starting point of the segment: the loaded model's value, else the first report.
      let start: { step: number; value: number; age: number } | null = null;
      if (e.donor !== null && e.donor_step !== null) {
        const donor = trials[e.donor];
        const v = donor ? valueAt(donor, e.donor_step) : Number.NaN;
        if (Number.isFinite(v)) start = { step: e.step, value: v, age: e.age };
      } else if (i > 0) {
        const v = valueAt(t, e.step);
        if (Number.isFinite(v)) start = { step: e.step, value: v, age: e.age };
      }
      for (const iv of reports) {
        const age = e.age + (iv.step - e.step);
        if (start === null) {
          if (Number.isFinite(iv.value)) start = { step: iv.step, value: iv.value, age };
          continue;
        }
        const span = iv.step - start.step;
        if (span + 1e-9 < interval) continue;
        const y = Number.isFinite(iv.value) ? (sign * (start.value - iv.value)) / span : Number.NaN;
        out.push({ t: start.age, r: start.value, x, y, order: t.startedAt ?? 0 });
        if (!Number.isFinite(iv.value)) break; // diverged: nothing after it is informative
        start = { step: iv.step, value: iv.value, age };
      }
    }
  }
  // Oldest first (by model age), so that the bandit's window keeps the newest.
  return out.sort((a, b) => a.t - b.t || a.order - b.order).map(({ order: _o, ...p }) => p);
}

/**
 * PB2 explore: new values for the numeric parameters of `base` from the bandit (categoricals
 * and anything the bandit cannot decide come from `fallback`, PBT's perturbation).
 * `at`: the age and value of the model the params will train; `others`: the other RUNNING
 * members (their current params are the pending configurations).
 */
export function pb2Explore(
  base: Params,
  dists: Record<string, Distribution>,
  ctx: { trials: readonly Trial[]; direction: Direction; interval: number; at: { t: number; r: number }; others: readonly Trial[] },
  rng: Rng,
  fallback: (p: Params) => Params,
): Params {
  const dims = banditDims(dists).filter(([name]) => name in base);
  const perturbed = fallback(base);
  const x0 = unitOf(dims, base);
  if (!x0 || !Number.isFinite(ctx.at.r)) return perturbed;
  const pending = ctx.others.map((o) => unitOf(dims, o.params)).filter((x): x is number[] => x !== null);
  const data = banditData(ctx.trials, ctx.direction, dims, ctx.interval);
  const chosen = pb2Select(data, pending, ctx.at, x0, dims.length, rng);
  if (!chosen || !chosen.every(Number.isFinite)) return perturbed;
  const out: Params = { ...perturbed };
  dims.forEach(([name, d], k) => {
    out[name] = fromUnit(d, chosen[k] as number) as ParamValue;
  });
  return out;
}
