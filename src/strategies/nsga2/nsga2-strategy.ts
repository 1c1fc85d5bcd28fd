/**
 * NSGA-II (Deb, Pratap, Agarwal & Meyarivan, "A Fast and Elitist Multiobjective Genetic
 * Algorithm: NSGA-II", IEEE TEC 6(2), 2002) with constrained domination (ibid. §VI), as Optuna
 * 5.0's `NSGAIISampler` runs it, with its defaults:
 *   population_size = 50, mutation_prob = None (→ 1 / max(1, number of params)),
 *   crossover = UniformCrossover, crossover_prob = 0.9, swapping_prob = 0.5.
 *
 * Generations (Optuna's BaseGASampler): every suggested trial records `nsga2_generation`. The new
 * trial's generation is the highest generation g among COMPLETE trials, or g + 1 once
 * `population_size` COMPLETE trials have g (trials without the attribute count as generation 0).
 * Generation 0 is drawn uniformly at random.
 *
 * Parent population of generation g ≥ 1 (elitist selection, Deb et al. §III-C): the parent
 * population of g − 1 together with the COMPLETE trials of generation g − 1, sorted into fronts by
 * fast non-dominated sorting (§III-A) under constrained domination (domain/objectives.ts:
 * feasible beats infeasible, smaller total violation Σ max(0, c_j) beats larger, Pareto dominance
 * among feasible ones); whole fronts are taken while they fit, and the front that does not fit is
 * cut by crowding distance (§III-B, largest first; ties in random order from a generator seeded by
 * (study seed, generation), so the population is a function of the history).
 *
 * A child (Optuna's NSGAIIChildGenerationStrategy): with probability crossover_prob, two parents
 * are chosen by binary tournament (two members drawn at random, the one that constrained-dominates
 * the other wins, else the second; the second parent is chosen among the others) and uniform
 * crossover takes each parameter from the second parent with probability swapping_prob, else from
 * the first; otherwise the child copies one parent drawn at random. Each parameter is then dropped
 * with probability mutation_prob, and the dropped ones (with define-by-run parameters) are drawn
 * uniformly at random, as Optuna's independent RandomSampler does. Only the declared space is
 * crossed; trials' values are read in minimisation form (maximised objectives negated).
 */
import { z } from "zod";
import type { Params } from "../../domain/distributions.js";
import { constrainedDominates, crowdingDistances, nonDominatedRanks, rankedPoint, type RankedPoint } from "../../domain/objectives.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";
import { sampleUniform } from "../../domain/sampling.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { maxOf } from "../../math/extremes.js";

const options = z
  .object({
    /** Individuals per generation (Optuna: 50). */
    population_size: z.number().int().min(2).max(100_000).default(50),
    /** Per-parameter mutation probability; null: 1 / max(1, number of params) (Optuna: None). */
    mutation_prob: z.number().min(0).max(1).nullable().default(null),
    /** Probability that a child comes from crossover rather than a copy of one parent (Optuna: 0.9). */
    crossover_prob: z.number().min(0).max(1).default(0.9),
    /** Uniform crossover: probability of taking a parameter from the second parent (Optuna: 0.5). */
    swapping_prob: z.number().min(0).max(1).default(0.5),
  })
  .strict();
export type Nsga2Options = z.output<typeof options>;

/** The system attribute holding a trial's generation. */
export const GENERATION_ATTR = "nsga2_generation";

interface Member {
  readonly trial: Trial;
  readonly point: RankedPoint;
}

/** A trial's generation (0 when it has none: enqueued, or suggested by another strategy). */
function generationOf(t: Trial): number {
  const g = t.systemAttrs[GENERATION_ATTR];
  return typeof g === "number" && Number.isInteger(g) && g >= 0 ? g : 0;
}

/** COMPLETE trials with a value per objective, grouped by generation. */
function completeByGeneration(trials: readonly Trial[], directions: readonly Direction[]): Map<number, Member[]> {
  const out = new Map<number, Member[]>();
  for (const t of trials) {
    if (t.state !== "COMPLETE" || t.values === null || t.values.length !== directions.length) continue;
    const g = generationOf(t);
    let list = out.get(g);
    if (!list) out.set(g, (list = []));
    list.push({ trial: t, point: rankedPoint(directions, t) });
  }
  return out;
}

/** The generation of the next trial (see the file comment). */
export function nextGeneration(byGen: ReadonlyMap<number, readonly Member[]>, populationSize: number): number {
  if (byGen.size === 0) return 0;
  const g = maxOf(byGen.keys());
  return (byGen.get(g)?.length ?? 0) >= populationSize ? g + 1 : g;
}

/**
 * Elitist selection of `size` members: whole fronts under constrained domination while they fit,
 * the last one cut by crowding distance (ties shuffled by `rng`).
 */
export function selectElite(pool: readonly Member[], size: number, rng: Rng): Member[] {
  if (pool.length <= size) return [...pool];
  // Fronts past the one that fills the elite are never used: stop ranking there.
  const ranks = nonDominatedRanks(pool, (a, b) => constrainedDominates(a.point, b.point), size);
  const fronts: Member[][] = [];
  ranks.forEach((r, i) => (fronts[r] ??= []).push(pool[i] as Member));
  const elite: Member[] = [];
  for (const front of fronts) {
    if (elite.length === size) break;
    if (elite.length + front.length <= size) {
      for (const m of front) elite.push(m);
      continue;
    }
    const shuffled = [...front];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j] as Member, shuffled[i] as Member];
    }
    const dist = crowdingDistances(shuffled.map((m) => m.point.values));
    const order = shuffled.map((m, i) => ({ m, d: dist[i] as number })).sort((a, b) => (a.d === b.d ? 0 : b.d > a.d ? 1 : -1));
    for (const x of order.slice(0, size - elite.length)) elite.push(x.m);
    break;
  }
  return elite;
}

/** The parent population of `generation` (empty for generation 0), rebuilt from the history. */
export function parentPopulation(byGen: ReadonlyMap<number, readonly Member[]>, generation: number, size: number, seed: number): Member[] {
  let parents: Member[] = [];
  for (let g = 1; g <= generation; g++) {
    const pool = [...parents, ...(byGen.get(g - 1) ?? [])];
    parents = selectElite(pool, size, new Rng(seed, "nsga2-elite", g));
  }
  return parents;
}

/** Binary tournament under constrained domination (Optuna's `_select_parent`). */
function tournament(pop: readonly Member[], rng: Rng): Member {
  const a = pop[rng.int(pop.length)] as Member;
  const b = pop[rng.int(pop.length)] as Member;
  return constrainedDominates(a.point, b.point) ? a : b;
}

export class Nsga2Strategy implements Strategy {
  constructor(private readonly opts: Nsga2Options) {}

  suggest(req: SuggestRequest): Suggestion {
    const { study, rng } = req;
    const names = Object.keys(study.space);
    const byGen = completeByGeneration(req.trials, study.directions);
    const generation = nextGeneration(byGen, this.opts.population_size);
    const parents = parentPopulation(byGen, generation, this.opts.population_size, study.seed);
    const params: Params = {};
    const attrs: Record<string, unknown> = { [GENERATION_ATTR]: generation };
    if (parents.length === 0) {
      for (const name of names) params[name] = sampleUniform(study.space[name]!, rng);
      return { params, systemAttrs: attrs };
    }
    let child: Params;
    if (parents.length >= 2 && rng.random() < this.opts.crossover_prob) {
      const p0 = tournament(parents, rng);
      const p1 = tournament(
        parents.filter((m) => m !== p0),
        rng,
      );
      child = {};
      for (const name of names) {
        const from = rng.random() < this.opts.swapping_prob ? p1 : p0;
        const v = from.trial.params[name] ?? (from === p0 ? p1 : p0).trial.params[name];
        if (v !== undefined) child[name] = v;
      }
      attrs.nsga2_parents = [p0.trial.number, p1.trial.number];
    } else {
      const p = parents[rng.int(parents.length)] as Member;
      child = {};
      for (const name of names) if (p.trial.params[name] !== undefined) child[name] = p.trial.params[name] as Params[string];
      attrs.nsga2_parents = [p.trial.number];
    }
    const mutationProb = this.opts.mutation_prob ?? 1 / Math.max(1, names.length);
    for (const name of names) {
      const keep = name in child && rng.random() >= mutationProb;
      params[name] = keep ? (child[name] as Params[string]) : sampleUniform(study.space[name]!, rng);
    }
    return { params, systemAttrs: attrs };
  }

  /** Define-by-run parameters are drawn uniformly (Optuna's independent RandomSampler). */
  suggestParam(req: ParamRequest) {
    return sampleUniform(req.distribution, req.rng);
  }
}

export const nsga2StrategyFactory: StrategyFactory<Nsga2Options> = {
  name: "nsga2",
  infersSpace: true,
  description:
    "NSGA-II (Deb et al. 2002) with constrained domination: elitist genetic search for multi-objective (and constrained) " +
    "studies, with Optuna's NSGAIISampler defaults (population 50, uniform crossover 0.9/0.5, mutation 1/#params).",
  options: options as unknown as z.ZodType<Nsga2Options>,
  multiObjective: true,
  // Each ask rebuilds the parents by non-dominated sorting of every generation, O(pool²) at worst
  // (a population of 10,000 on one Pareto front: 5 s per ask): off the event loop.
  offload: true,
  create: (o) => new Nsga2Strategy(options.parse(o)),
};
