/**
 * Objectives as vectors. A study has directions d_1..d_m (m ≥ 1); a finished trial has values
 * v_1..v_m and, when the worker told them, constraint values c_1..c_k. A single-objective study
 * is the case m = 1: every function here takes vectors, and `Trial.value` is only `values[0]`
 * kept for one-objective readers.
 *
 * Conventions (Optuna 5.0's, so that users' `constraints_func` carries over unchanged):
 * - c_j ≤ 0 means constraint j is satisfied; a trial is *feasible* when every c_j ≤ 0. A trial
 *   told without constraints is feasible.
 * - Comparisons work on *minimisation form*: values of maximised objectives are negated.
 * - Pareto dominance: a dominates b when a ≤ b in every objective and a < b in at least one.
 * - Constrained domination (Deb, Pratap, Agarwal & Meyarivan, "A Fast and Elitist Multiobjective
 *   Genetic Algorithm: NSGA-II", IEEE TEC 6(2), 2002, §VI, Definition 1): a feasible trial
 *   dominates an infeasible one; of two infeasible trials the one with the smaller total
 *   violation Σ_j max(0, c_j) dominates; of two feasible trials Pareto dominance decides.
 * - The *Pareto front* of a study (`best_trials`) is the set of COMPLETE, feasible trials that no
 *   other COMPLETE, feasible trial dominates. Trials with equal values are all on it.
 *
 * Reference point of the hypervolume (`referencePointOf`): the study's own when one was given
 * at creation (in the objectives' units: for a maximised objective a value *below* every value
 * of interest), else derived from the Pareto front: per objective, in minimisation form, the
 * front's worst value w plus 10 % of the front's range (w − best), or plus 0.1·max(|w|, 1) when
 * the range is 0 (one point). The front's nadir moved outward, as BoTorch's
 * `infer_reference_point` does (with its default scale 0.1), so that every front point adds a
 * box. A derived point moves as the front moves: compare hypervolumes only at one reference
 * point (the history below uses the current one for every prefix).
 */
import { invalidArgument } from "./errors.js";
import { DominatedSampler, HV_MAX_WORK, boundedHypervolume, hypervolume } from "../math/hypervolume.js";
import type { Direction, Trial } from "./trial.js";
import { maxOf, minOf } from "../math/extremes.js";

/** What the functions below read of a trial (domain trials and wire views both have it). */
export type ObjectiveTrial = Pick<Trial, "number" | "state" | "values" | "constraints">;

/** Objectives a study may have. */
export const MAX_OBJECTIVES = 16;
/** Constraint values a trial may carry. */
export const MAX_CONSTRAINTS = 64;

/** A value vector in minimisation form: maximised objectives negated. */
export function minimisationForm(directions: readonly Direction[], values: readonly number[]): number[] {
  return values.map((v, i) => (directions[i] === "maximize" ? -v : v));
}

/**
 * Where x lies in [lo, hi], as a fraction (0 when the range is a point). A range from near
 * −Number.MAX_VALUE to near Number.MAX_VALUE spans ∞: its fractions are taken on halves, exactly
 * for normal numbers (the plain quotient there was ∞ / ∞ = NaN).
 */
export function fractionOfRange(x: number, lo: number, hi: number): number {
  const r = hi - lo;
  if (Number.isFinite(r)) return r > 0 ? (x - lo) / r : 0;
  return (x / 2 - lo / 2) / (hi / 2 - lo / 2);
}

/** Whether two value vectors are the same, element by element (`Object.is`: NaN equals NaN, −0 differs from 0). */
export function sameValues(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

/** Whether a dominates b (both in minimisation form, equal lengths). */
export function dominates(a: readonly number[], b: readonly number[]): boolean {
  let strict = false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x > y) return false;
    if (x < y) strict = true;
  }
  return strict;
}

/** Total violation Σ max(0, c_j); 0 for a trial without constraints. */
export function violation(constraints: readonly number[] | null | undefined): number {
  if (!constraints) return 0;
  let v = 0;
  for (const c of constraints) if (c > 0) v += c;
  return v;
}

/** Whether every constraint is satisfied (c ≤ 0); true without constraints. */
export function isFeasibleVector(constraints: readonly number[] | null | undefined): boolean {
  return violation(constraints) === 0;
}

/** A trial's feasibility: null until it is COMPLETE, then whether its constraints hold. */
export function feasibility(t: Pick<Trial, "state" | "constraints">): boolean | null {
  return t.state === "COMPLETE" ? isFeasibleVector(t.constraints) : null;
}

/** A point of the constrained order: minimisation-form values and the total violation. */
export interface RankedPoint {
  readonly values: readonly number[];
  readonly violation: number;
}

/** Constrained domination (Deb et al. 2002, §VI): see the file comment. */
export function constrainedDominates(a: RankedPoint, b: RankedPoint): boolean {
  if (a.violation === 0 && b.violation > 0) return true;
  if (a.violation > 0 && b.violation === 0) return false;
  if (a.violation > 0) return a.violation < b.violation;
  return dominates(a.values, b.values);
}

/** The constrained-order point of a COMPLETE trial. */
export function rankedPoint(directions: readonly Direction[], t: Pick<Trial, "values" | "constraints">): RankedPoint {
  return { values: minimisationForm(directions, t.values ?? []), violation: violation(t.constraints) };
}

/**
 * Non-dominated sorting: the front index of every point, 0 for the non-dominated ones. `dom(a, b)`
 * says whether a dominates b and must be a strict partial order (irreflexive, transitive), as
 * Pareto and constrained domination are. Fronts are peeled one at a time, each found with a list of
 * candidates (Kung, Luccio & Preparata 1975): a point is compared with the front so far only, so
 * memory is O(n) and a front F costs O(|rest| · |F|) comparisons, O(n²) in all at worst. Deb et al.'s
 * fast sort (2002, §III-A), used before, kept every dominated point of every point: n²/2 entries
 * on a chain of trials, 1.1 GB of heap and 10 s on the event loop at 15,000 trials of a
 * multi-objective TPE study.
 *
 * With `enough`, peeling stops once at least that many points are ranked (the callers keep the best
 * k); the others all get the next rank, after every computed front.
 */
export function nonDominatedRanks<P>(points: readonly P[], dom: (a: P, b: P) => boolean, enough = points.length): number[] {
  const rank = new Array<number>(points.length).fill(-1);
  let rest = Array.from({ length: points.length }, (_, i) => i);
  let r = 0;
  let ranked = 0;
  while (rest.length > 0 && ranked < enough) {
    const front: number[] = [];
    for (const i of rest) {
      const p = points[i] as P;
      if (front.some((f) => dom(points[f] as P, p))) continue;
      // Nothing in the front dominates p, so (transitivity) p dominates no point a member dominates:
      // dropping the members p dominates keeps the front exactly the non-dominated points seen.
      let w = 0;
      for (const f of front) if (!dom(p, points[f] as P)) front[w++] = f;
      front.length = w;
      front.push(i);
    }
    for (const i of front) rank[i] = r;
    ranked += front.length;
    rest = rest.filter((i) => rank[i] === -1);
    r++;
  }
  for (const i of rest) rank[i] = r;
  return rank;
}

/**
 * Crowding distance of each point of one front (Deb et al. 2002, §III-B): per objective, the
 * normalised gap between its neighbours, the extremes infinite. Objectives with zero range add 0.
 */
export function crowdingDistances(values: readonly (readonly number[])[]): number[] {
  const n = values.length;
  const dist = new Array<number>(n).fill(0);
  if (n === 0) return dist;
  const m = (values[0] as readonly number[]).length;
  for (let k = 0; k < m; k++) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (values[a]![k] as number) - (values[b]![k] as number) || a - b);
    const lo = values[order[0]!]![k] as number;
    const hi = values[order[n - 1]!]![k] as number;
    dist[order[0]!] = Infinity;
    dist[order[n - 1]!] = Infinity;
    if (!(hi > lo)) continue;
    // Halves, so that values at ±Number.MAX_VALUE do not make ∞ / ∞ = NaN; exact for normal numbers.
    const span = hi / 2 - lo / 2;
    for (let p = 1; p < n - 1; p++) {
      const i = order[p]!;
      dist[i]! += ((values[order[p + 1]!]![k] as number) / 2 - (values[order[p - 1]!]![k] as number) / 2) / span;
    }
  }
  return dist;
}

/** COMPLETE trials with values for every objective. */
function completeWithValues<T extends ObjectiveTrial>(directions: readonly Direction[], trials: Iterable<T>): T[] {
  const out: T[] = [];
  for (const t of trials) if (t.state === "COMPLETE" && t.values !== null && t.values.length === directions.length) out.push(t);
  return out;
}

/**
 * The Pareto front (see the file comment), in trial-number order.
 *
 * The points are visited in lexicographic order (Kung, Luccio & Preparata 1975): a point can only be
 * dominated by one before it, and a dominated point is dominated by a point of the front (dominance is
 * transitive), so each is checked against the front found so far only: O(n log n + n·|front|). With
 * two objectives the front so far has falling second values, so only its last point can dominate
 * the next one: O(n log n) even when most points are on the front.
 */
export function paretoFront<T extends ObjectiveTrial>(directions: readonly Direction[], trials: Iterable<T>): T[] {
  return paretoFrontWithin(directions, trials, Infinity) as T[];
}

/**
 * `paretoFront`, or null as soon as the front is known to have more than `limit` trials: in
 * lexicographic order every point kept is on the final front, so the scan stops there, and a big
 * front of three or more objectives costs O(n · limit) instead of O(n · |front|).
 */
export function paretoFrontWithin<T extends ObjectiveTrial>(directions: readonly Direction[], trials: Iterable<T>, limit: number): T[] | null {
  const feasible = completeWithValues(directions, trials).filter((t) => isFeasibleVector(t.constraints));
  const points = feasible.map((t) => minimisationForm(directions, t.values as number[]));
  const order = Array.from({ length: points.length }, (_, i) => i).sort((a, b) => lexicographic(points[a] as number[], points[b] as number[]) || a - b);
  const kept: number[] = [];
  const two = directions.length === 2;
  for (const i of order) {
    const p = points[i] as number[];
    let dominated = false;
    if (two) {
      const last = kept[kept.length - 1];
      dominated = last !== undefined && dominates(points[last] as number[], p);
    } else for (let k = 0; k < kept.length && !dominated; k++) dominated = dominates(points[kept[k] as number] as number[], p);
    if (!dominated) kept.push(i);
    if (kept.length > limit) return null;
  }
  return kept.map((i) => feasible[i] as T).sort((a, b) => a.number - b.number);
}

/** Lexicographic comparison of two points (negative: a first). */
function lexicographic(a: readonly number[], b: readonly number[]): number {
  for (let k = 0; k < a.length; k++) {
    const x = a[k] as number;
    const y = b[k] as number;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

/** Where a study's hypervolume reference point came from. */
export type ReferenceSource = "given" | "derived";

/**
 * The reference point in the objectives' units (see the file comment): the given one, or one
 * derived from the front; null when there is neither (no feasible COMPLETE trial yet).
 */
export function referencePointOf(
  directions: readonly Direction[],
  front: readonly Pick<Trial, "values">[],
  given?: readonly number[] | null,
): { point: number[]; source: ReferenceSource } | null {
  if (given && given.length > 0) return { point: [...given], source: "given" };
  if (front.length === 0) return null;
  const point = directions.map((dir, i) => {
    const vs = front.map((t) => (dir === "maximize" ? -1 : 1) * (t.values as number[])[i]!);
    const worst = maxOf(vs);
    const best = minOf(vs);
    // In tenths, so that a range of ±1.8e308 values does not overflow; a point beyond the largest
    // double ends there (a told value of 1.8e308 made the point infinite, and every front read INTERNAL).
    const margin = worst > best ? 0.1 * worst - 0.1 * best : 0.1 * Math.max(Math.abs(worst), 1);
    const r = Math.min(worst + margin, Number.MAX_VALUE);
    return dir === "maximize" ? -r : r;
  });
  return { point, source: "derived" };
}

/** The hypervolume of the trials' values (the front's points suffice) at `ref` (objective units). */
export function hypervolumeOf(directions: readonly Direction[], trials: readonly Pick<Trial, "values">[], ref: readonly number[]): number {
  return hypervolume(
    trials.map((t) => minimisationForm(directions, t.values as number[])),
    minimisationForm(directions, ref),
  );
}

/**
 * The hypervolume of the front's points at `ref` for a read path: exact, except with 4 or more
 * objectives past WFG's work bound, where it is a seeded Monte Carlo estimate (`exact` false;
 * math/hypervolume.ts `boundedHypervolume`), so that no request holds the server for seconds.
 */
export function frontHypervolume(
  directions: readonly Direction[],
  trials: readonly Pick<Trial, "values">[],
  ref: readonly number[],
): { value: number; exact: boolean } {
  return boundedHypervolume(
    trials.map((t) => minimisationForm(directions, t.values as number[])),
    minimisationForm(directions, ref),
  );
}

/**
 * The hypervolume after each COMPLETE feasible trial, in trial-number order, at one reference
 * point: `[trial number, hypervolume]` for every trial that changed it (the first included).
 * Recomputed only when a trial enters the front.
 */
export function hypervolumeHistory(directions: readonly Direction[], trials: readonly ObjectiveTrial[], ref: readonly number[]): [number, number][] {
  return boundedHypervolumeHistory(directions, trials, ref, Infinity).points;
}

/**
 * `hypervolumeHistory` within `maxWork` of exact computation in all (4+ objectives; see
 * `frontHypervolume`): past it, the whole history is a Monte Carlo estimate from one set of
 * samples that each new front point marks (`exact` false), so it still only grows.
 */
export function boundedHypervolumeHistory(
  directions: readonly Direction[],
  trials: readonly ObjectiveTrial[],
  ref: readonly number[],
  maxWork = HV_MAX_WORK,
): { points: [number, number][]; exact: boolean } {
  const refMin = minimisationForm(directions, ref);
  const entries: { number: number; p: number[] }[] = [];
  for (const t of completeWithValues(directions, trials)) {
    if (!isFeasibleVector(t.constraints)) continue;
    const p = minimisationForm(directions, t.values as number[]);
    if (p.every((x, i) => x < (refMin[i] as number))) entries.push({ number: t.number, p });
  }
  entries.sort((a, b) => a.number - b.number);
  let front: number[][] = [];
  let current = 0;
  const work = { left: maxWork }; // shared by every step; 2 and 3 objectives never spend it
  const out: [number, number][] = [];
  for (const { number, p } of entries) {
    if (front.some((q) => dominates(q, p) || q.every((x, i) => x === p[i]))) continue;
    front = front.filter((q) => !dominates(p, q));
    front.push(p);
    const r = boundedHypervolume(front, refMin, work);
    // Out of work: start over with one estimate for the whole history (not a mix of the two).
    if (!r.exact) return { points: estimatedHistory(entries, new DominatedSampler(entries.map((e) => e.p), refMin)), exact: false };
    const hv = r.value;
    if (out.length === 0 || hv !== current) out.push([number, hv]);
    current = hv;
  }
  return { points: out, exact: true };
}

/** The history from `estimate` alone (see `boundedHypervolumeHistory`). */
function estimatedHistory(entries: readonly { number: number; p: number[] }[], estimate: DominatedSampler): [number, number][] {
  const out: [number, number][] = [];
  let current = 0;
  for (const { number, p } of entries) {
    estimate.add(p); // a dominated point marks nothing new: the value does not change
    const hv = estimate.value();
    if (out.length === 0 || hv !== current) out.push([number, hv]);
    current = hv;
  }
  return out;
}

// ---------------------------------------------------------------- input checks (typed errors)

/**
 * Checks a study's directions. @throws INVALID_ARGUMENT when there are none, more than
 * MAX_OBJECTIVES, or `direction` (protocol v1's one-objective field) disagrees with them.
 */
export function checkDirections(directions: readonly Direction[] | undefined, direction: Direction | undefined): Direction[] {
  if (directions === undefined) return [direction ?? "minimize"];
  if (directions.length === 0 || directions.length > MAX_OBJECTIVES)
    throw invalidArgument(`directions must list 1 to ${MAX_OBJECTIVES} objectives (got ${directions.length})`);
  if (direction !== undefined && (directions.length !== 1 || directions[0] !== direction))
    throw invalidArgument(`direction '${direction}' disagrees with directions ${JSON.stringify(directions)}: give one of them`);
  return [...directions];
}

/** Checks a given reference point against the directions. @throws INVALID_ARGUMENT. */
export function checkReferencePoint(point: readonly number[] | undefined, directions: readonly Direction[]): void {
  if (point === undefined) return;
  if (point.length !== directions.length)
    throw invalidArgument(`reference_point has ${point.length} coordinates; the study has ${directions.length} objectives`);
  if (!point.every(Number.isFinite)) throw invalidArgument("reference_point must hold finite numbers");
}

/**
 * The objective values of a COMPLETE tell, from `values` or protocol v1's `value`.
 * @throws INVALID_ARGUMENT for the wrong number of values, both fields disagreeing, or a
 * NaN/infinite value (tell a diverged run as FAIL).
 */
export function checkCompleteValues(directions: readonly Direction[], value: number | null | undefined, values: readonly number[] | undefined): number[] {
  const m = directions.length;
  let vs: number[];
  if (values !== undefined) {
    if (value !== undefined && value !== null && !(values.length === 1 && Object.is(values[0], value)))
      throw invalidArgument(`value ${String(value)} disagrees with values ${JSON.stringify(values)}: give one of them`);
    vs = [...values];
  } else if (value !== undefined && value !== null) vs = [value];
  else throw invalidArgument(`a COMPLETE trial needs ${m === 1 ? "a value" : `values for its ${m} objectives`}`);
  if (vs.length !== m)
    throw invalidArgument(
      `the study has ${m} objective${m === 1 ? "" : "s"} (${directions.join(", ")}); got ${vs.length} value${vs.length === 1 ? "" : "s"}` +
        (m > 1 ? `: pass values, one number per objective in that order (values: [${directions.map((d) => `value to ${d}`).join(", ")}])` : ""),
      { expected: m, got: vs.length },
    );
  const bad = vs.findIndex((v) => typeof v !== "number" || !Number.isFinite(v));
  if (bad >= 0)
    throw invalidArgument(
      `a COMPLETE trial needs finite values (got ${String(vs[bad])}${m > 1 ? ` for objective ${bad}` : ""}); tell a diverged run as FAIL`,
      { objective: bad },
    );
  return vs;
}

/**
 * Checks a tell's constraint vector against the length the study's earlier trials fixed
 * (`expected`: null when no COMPLETE trial exists yet). @throws INVALID_ARGUMENT for a
 * non-finite constraint, too many, or a length that changes between trials (none told where
 * earlier trials told some counts as a change).
 */
export function checkConstraints(constraints: readonly number[] | undefined, expected: number | null): number[] | null {
  const given = constraints === undefined ? 0 : constraints.length;
  if (given > MAX_CONSTRAINTS) throw invalidArgument(`at most ${MAX_CONSTRAINTS} constraint values (got ${given})`);
  if (constraints !== undefined) {
    const bad = constraints.findIndex((c) => typeof c !== "number" || Number.isNaN(c));
    if (bad >= 0) throw invalidArgument(`constraint ${bad} is ${String(constraints[bad])}; constraint values must be numbers (c <= 0 is feasible)`, { constraint: bad });
    const inf = constraints.findIndex((c) => !Number.isFinite(c));
    if (inf >= 0) throw invalidArgument(`constraint ${inf} is not finite; give a large finite violation instead`, { constraint: inf });
  }
  if (expected !== null && given !== expected)
    throw invalidArgument(
      `this study's trials carry ${expected} constraint value${expected === 1 ? "" : "s"}; got ${given} (the constraint vector's length cannot change between trials)`,
      { expected, got: given },
    );
  return constraints === undefined || constraints.length === 0 ? null : [...constraints];
}

/** The constraint-vector length the study's COMPLETE trials fixed, or null before the first one. */
export function constraintCount(trials: Iterable<Pick<Trial, "state" | "constraints">>): number | null {
  for (const t of trials) if (t.state === "COMPLETE") return t.constraints?.length ?? 0;
  return null;
}
