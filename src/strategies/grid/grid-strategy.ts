/**
 * Grid search: the Cartesian product of the declared space, each point handed out once.
 *
 * The grid is enumerated in a seeded shuffled order (Optuna's GridSampler also shuffles,
 * so that a partial run covers the space evenly). Points already taken by any trial —
 * running, waiting or finished — are skipped, so concurrent workers never receive the same
 * point: the service serialises asks per study, so "taken" is always up to date. Retried
 * trials (re-queued after a lost worker) carry their point with them.
 *
 * Continuous floats have no natural grid: they need `step`, or the `points_per_dim`
 * option (evenly spaced, log-spaced on log dimensions). A study whose declared space has no
 * grid is refused when it is created (`gridSpaceProblem`), not at its first ask.
 */
import { z } from "zod";
import { type Distribution, type NumericDistribution, type ParamValue, type Params, type SearchSpace, cardinality, contains, snap } from "../../domain/distributions.js";
import { TuneportError, invalidArgument } from "../../domain/errors.js";
import { Rng } from "../../math/rng.js";
import type { Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";

const options = z
  .object({
    /** Values per continuous float dimension without a step. */
    points_per_dim: z.number().int().min(2).max(1000).optional(),
    /** Explicit values per parameter; overrides the distribution's own grid. */
    values: z.record(z.string(), z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).min(1)).optional(),
    /** Hand the points out in the order of enumeration rather than shuffled. */
    ordered: z.boolean().default(false),
  })
  .strict();
export type GridOptions = z.infer<typeof options>;

/** Largest grid tuneport will enumerate. */
export const MAX_GRID_POINTS = 1e15;
/**
 * Most values one dimension of a grid may have: each dimension's values are held in memory (an
 * int range of 2^53, or a float step of 1e-300, would otherwise be an array of that length).
 */
export const MAX_GRID_DIM_VALUES = 1_000_000;

/** How many values `gridValues` gives a dimension, without building them. @throws INVALID_ARGUMENT as it. */
export function gridCount(name: string, d: Distribution, opts: GridOptions): number {
  const explicit = opts.values?.[name];
  if (explicit) return explicit.length;
  const n = cardinality(d);
  if (Number.isFinite(n)) return n;
  if (opts.points_per_dim === undefined)
    throw invalidArgument(`grid: parameter '${name}' is a continuous float; give it a step or set the grid option points_per_dim`);
  return opts.points_per_dim;
}

/** The values of one dimension of the grid. @throws INVALID_ARGUMENT for a continuous float without a grid. */
export function gridValues(name: string, d: Distribution, opts: GridOptions): ParamValue[] {
  const explicit = opts.values?.[name];
  if (explicit) return [...explicit];
  if (d.type === "categorical") return [...d.choices];
  const n = cardinality(d);
  if (Number.isFinite(n)) {
    if (d.type === "int" && d.log) {
      const out: number[] = [];
      for (let v = d.low; v <= d.high; v++) out.push(v);
      return out;
    }
    const step = d.step ?? 1;
    return Array.from({ length: n }, (_, i) => snap(d, d.low + i * step));
  }
  const k = gridCount(name, d, opts); // points_per_dim, or INVALID_ARGUMENT
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    // The ends are low and high themselves, the rest clipped (`snap`): exp(log(0.1)) is
    // 0.10000000000000006, above a high of 0.1, and the service stores values inside their
    // distribution exactly (it drew another value for that point).
    out.push(i === 0 ? d.low : i === k - 1 ? d.high : snap(d, formerAxisPoint(d, i, k)));
  }
  return out;
}

/** Point i of k of a points_per_dim axis as servers before exact bounds computed it (unclipped). */
function formerAxisPoint(d: NumericDistribution, i: number, k: number): number {
  const t = i / (k - 1);
  return d.log ? Math.exp(Math.log(d.low) + t * (Math.log(d.high) - Math.log(d.low))) : d.low + t * (d.high - d.low);
}

/**
 * The former values of a points_per_dim axis's ends (exp(log(1e-5)) = 9.999999999999999e-6,
 * exp(log(0.1)) = 0.10000000000000006) mapped to the ends the axis has now (low and high): a trial
 * a server before exact bounds stored there (a database it served, or its export) holds that point,
 * and was handed it out again after the upgrade. Null for other dimensions.
 */
function formerEnds(name: string, d: Distribution, opts: GridOptions): Map<number, number> | null {
  if (opts.values?.[name] || d.type === "categorical" || Number.isFinite(cardinality(d))) return null;
  const k = gridCount(name, d, opts);
  if (!(k >= 2)) return null;
  const ends = new Map<number, number>();
  for (const [i, now] of [[0, d.low], [k - 1, d.high]] as const) {
    const was = formerAxisPoint(d, i, k);
    if (was !== now) ends.set(was, now);
  }
  return ends.size > 0 ? ends : null;
}

function keyOf(params: Params, names: readonly string[], former?: readonly (Map<number, number> | null)[]): string {
  return JSON.stringify(names.map((n, i) => {
    const v = params[n] ?? null;
    return (typeof v === "number" ? former?.[i]?.get(v) : undefined) ?? v;
  }));
}

export class GridStrategy implements Strategy {
  private cache: {
    space: string;
    names: string[];
    axes: ParamValue[][];
    former: (Map<number, number> | null)[];
    total: number;
    perm: (i: number) => number;
  } | null = null;

  constructor(private readonly opts: GridOptions) {}

  private grid(req: SuggestRequest) {
    const spaceKey = JSON.stringify(req.study.space) + req.study.seed;
    if (this.cache?.space === spaceKey) return this.cache;
    const names = Object.keys(req.study.space);
    const problem = gridProblem(req.study.space, this.opts, false); // never build an axis it refuses
    if (problem !== null) throw invalidArgument(problem);
    const axes = names.map((n) => gridValues(n, req.study.space[n] as Distribution, this.opts));
    const total = axes.reduce((p, a) => p * a.length, 1); // at most MAX_GRID_POINTS (gridSpaceProblem)
    const former = names.map((n) => formerEnds(n, req.study.space[n] as Distribution, this.opts));
    this.cache = { space: spaceKey, names, axes, former, total, perm: this.permutation(total, req.study.seed) };
    return this.cache;
  }

  /**
   * A seeded bijection of [0, total): i ↦ (a·i + c) mod total with gcd(a, total) = 1.
   * It spreads consecutive hand-outs over the grid like a shuffle without materialising
   * one, so grids of billions of points cost no memory.
   */
  private permutation(total: number, seed: number): (i: number) => number {
    if (this.opts.ordered || total <= 1) return (i) => i;
    const rng = new Rng(seed, "grid-order");
    const n = BigInt(total);
    let a = BigInt(1 + rng.int(Math.min(total, 2 ** 31)));
    while (gcd(a, n) !== 1n) a += 1n;
    const c = BigInt(rng.int(Math.min(total, 2 ** 31)));
    return (i) => Number((a * BigInt(i) + c) % n);
  }

  suggest(req: SuggestRequest): Suggestion {
    const { names, axes, former, total, perm } = this.grid(req);
    const taken = new Set<string>();
    for (const t of req.trials) taken.add(keyOf(t.params, names, former));
    // Skipping over taken points costs O(taken) per ask: cheap next to the training a grid point costs.
    for (let i = 0; i < total; i++) {
      const flat = perm(i);
      const params: Params = {};
      let rest = flat;
      for (let i = names.length - 1; i >= 0; i--) {
        const axis = axes[i] as ParamValue[];
        params[names[i] as string] = axis[rest % axis.length] as ParamValue;
        rest = Math.floor(rest / axis.length);
      }
      if (!taken.has(keyOf(params, names))) return { params, systemAttrs: { grid_index: flat } };
    }
    throw new TuneportError("SEARCH_SPACE_EXHAUSTED", `grid: all ${total} points have been handed out`, {
      grid_size: total,
    });
  }
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

export const gridStrategyFactory: StrategyFactory<GridOptions> = {
  name: "grid",
  // Draws ignore the values told, so several objectives (and constraints) change nothing.
  multiObjective: true,
  description:
    "Exhaustive Cartesian grid over the declared space, each point handed out once (shuffled by seed). " +
    "Continuous floats need a step or points_per_dim.",
  options: options as z.ZodType<GridOptions>,
  spaceProblem: gridSpaceProblem,
  fixedSpace: "the grid is the Cartesian product of the space given at creation; a wider space is another grid (create a new study)",
  create: (o) => new GridStrategy(o),
};

/**
 * Why `grid` cannot enumerate `space` (no declared parameter, a continuous float without a
 * step or `points_per_dim`, more than MAX_GRID_POINTS points, explicit values its distribution
 * cannot hold), or null when it can.
 */
export function gridSpaceProblem(space: SearchSpace, opts: GridOptions): string | null {
  return gridProblem(space, opts, true);
}

/**
 * `gridSpaceProblem`, with the values' check when `checkValues`. Not at an ask: a study an earlier
 * server created with values outside (it drew other values for those points) failed every ask
 * INVALID_ARGUMENT after the upgrade, and its strategy's options cannot be changed.
 */
function gridProblem(space: SearchSpace, opts: GridOptions, checkValues: boolean): string | null {
  const names = Object.keys(space);
  if (names.length === 0) return "grid needs a declared search space (it cannot enumerate define-by-run parameters)";
  let total = 1;
  for (const name of names) {
    const d = space[name] as Distribution;
    // A value the distribution cannot hold is never stored: the service drew another in its place.
    const outside = checkValues ? opts.values?.[name]?.find((v) => !contains(d, v)) : undefined;
    if (outside !== undefined)
      return `grid: values of '${name}' hold ${JSON.stringify(outside)}, which its distribution ${JSON.stringify(d)} cannot produce; give values inside it (or widen the distribution)`;
    try {
      const n = gridCount(name, d, opts);
      if (!(n <= MAX_GRID_DIM_VALUES))
        return `grid: parameter '${name}' has ${n} values, more than the ${MAX_GRID_DIM_VALUES} one grid dimension may have: give it a coarser step, or values`;
      total *= n;
    } catch (err) {
      if (err instanceof TuneportError) return err.message;
      throw err;
    }
  }
  return total > MAX_GRID_POINTS ? `grid: ${total} points is more than the ${MAX_GRID_POINTS} tuneport enumerates` : null;
}
