/**
 * BOHB (Falkner, Klein & Hutter, "BOHB: Robust and Efficient Hyperparameter Optimization at
 * Scale", ICML 2018): Hyperband's brackets decide how long trials run, and a TPE-like density
 * model chooses the configurations.
 *
 * - Brackets and pruning: exactly `../hyperband` (shared `HyperbandBrackets`).
 * - Configurations (`beforeSuggest`, which takes over the declared space's params): with
 *   probability `random_fraction` a uniform draw (§4.2, "a constant fraction ρ of random
 *   configurations" keeps the convergence guarantee); otherwise the model of the largest
 *   budget that has enough observations. An observation at budget b is the value a trial
 *   reported first at a step ≥ b (the value with which it passed rung b), any state; the
 *   budgets are Hyperband's rung resources plus max_resource. At budget b with n observations
 *   sorted best first, good = the first n_good = max(N_min, ⌊q·n/100⌋), bad = the next
 *   n_bad = max(N_min, ⌊(100 − q)·n/100⌋); the model exists when each has more than d points
 *   (HpBandSter's rule). `num_samples` candidates are drawn from the good KDE with bandwidths
 *   × `bandwidth_factor`, and the one maximising l(x)/g(x) is returned (Algorithm 2).
 *   Without a model the draw is uniform.
 * - Defaults (the paper / HpBandSter): min_points_in_model N_min = d + 1, top_n_percent q = 15,
 *   random_fraction ρ = 1/3, bandwidth_factor b_w = 3, min_bandwidth = 1e-3, num_samples = 64,
 *   reduction_factor η = 3, min_resource = 1; max_resource: the study's, required without one.
 * - The KDE lives in `./kde.ts` on the unit cube (`toUnit`/`fromUnit`). Parameters outside the
 *   declared space (define-by-run) are left to the strategy. NaN values are the worst loss.
 * - A study that declares no space is refused (`spaceProblem`), at creation and on a switch to
 *   bohb: the model has nothing to model, every parameter would be drawn at random, and the
 *   study would be Hyperband with random search under another name, forever (`update_study`
 *   widens a space, it adds no names). Optuna's "BOHB" for define-by-run code is TPE with the
 *   Hyperband pruner, which the message points to.
 */
import { z } from "zod";
import {
  type Distribution,
  type NumericDistribution,
  type ParamValue,
  type Params,
  type SearchSpace,
  choiceIndex,
  fromUnit,
  toUnit,
} from "../../domain/distributions.js";
import type { Direction, PluginConfig, Trial } from "../../domain/trial.js";
import type { Rng } from "../../math/rng.js";
import { sampleUniform } from "../../domain/sampling.js";
import type { DecisionResult, ReportRequest, Scheduler, SchedulerFactory, Suggestion, SuggestRequest } from "../../domain/plugin.js";
import { LADDER_FITS, RAY_HALVING_NAMES, fillMaxResource, firstReportAtOrAfter, ladderFits, lossOf, rungsWithTop } from "../common.js";
import { foreignOptionNames } from "../../domain/plugin-options.js";
import { HyperbandBrackets, hyperbandShape } from "../hyperband/hyperband-scheduler.js";
import { type KdeDim, ProductKde } from "./kde.js";

const options = z
  .object({
    ...hyperbandShape,
    /** N_min: observations each of l and g needs (null = number of parameters + 1, the paper's). */
    min_points_in_model: z.number().int().min(1).nullable().default(null),
    /** q: percentage of observations that make the good density (15). */
    top_n_percent: z.number().gt(0).lt(100).default(15),
    /** ρ: fraction of uniformly random configurations (1/3). */
    random_fraction: z.number().min(0).max(1).default(1 / 3),
    /** b_w: widening of the good density's bandwidths when sampling candidates (3). */
    bandwidth_factor: z.number().positive().default(3),
    /** Smallest bandwidth of any dimension (1e-3, HpBandSter). */
    min_bandwidth: z.number().positive().default(1e-3),
    /** Candidates drawn from l(x) per suggestion (64, HpBandSter); fewer on a big model (`BOHB_MAX_KERNEL_TERMS`). */
    num_samples: z.number().int().min(1).max(10_000).default(64),
  })
  .strict()
  .refine((o) => o.max_resource >= o.min_resource, "max_resource must be >= min_resource")
  .refine(ladderFits, LADDER_FITS);
foreignOptionNames(options, RAY_HALVING_NAMES);
export type BohbOptions = z.output<typeof options>;

/** Encodes params on the unit cube (categoricals by index), or null if a value is missing or foreign. */
function encodeParams(names: readonly string[], space: SearchSpace, params: Params): number[] | null {
  const out: number[] = [];
  for (const n of names) {
    const d = space[n] as Distribution;
    const v = params[n];
    if (v === undefined) return null;
    if (d.type === "categorical") {
      const i = choiceIndex(d, v);
      if (i < 0) return null;
      out.push(i);
    } else {
      if (typeof v !== "number" || !Number.isFinite(v)) return null;
      out.push(toUnit(d as NumericDistribution, v));
    }
  }
  return out;
}

function decodeParams(names: readonly string[], space: SearchSpace, x: readonly number[]): Params {
  const out: Params = {};
  names.forEach((n, j) => {
    const d = space[n] as Distribution;
    const v = x[j] as number;
    out[n] = d.type === "categorical" ? (d.choices[v] as ParamValue) : fromUnit(d, v);
  });
  return out;
}

/**
 * Kernel terms one proposal may evaluate. Scoring a candidate costs one term per model point and
 * dimension (l and g together: (|good| + |bad|) · d), and a scheduler runs on the event loop: a
 * probe's num_samples 10,000 over 50 parameters and 400 trials held the server 5–9 s per ask. A
 * proposal draws `candidateCount` candidates instead, so it stays near 0.3 s; the defaults (64
 * candidates) reach the bound only past about 150,000 point·dimensions (e.g. 1,500 trials at 100
 * parameters), where fewer candidates cost little against HpBandSter's 64.
 */
export const BOHB_MAX_KERNEL_TERMS = 10_000_000;

/** Candidates a proposal draws: `numSamples`, cut to `BOHB_MAX_KERNEL_TERMS`, at least one. */
export function candidateCount(numSamples: number, modelPoints: number, dims: number): number {
  return Math.max(1, Math.min(numSamples, Math.floor(BOHB_MAX_KERNEL_TERMS / Math.max(1, modelPoints * dims))));
}

/** The fitted l(x) and g(x) of one budget. */
export interface BohbModel {
  readonly budget: number;
  readonly good: ProductKde;
  readonly bad: ProductKde;
}

export class BohbScheduler implements Scheduler {
  private readonly brackets: HyperbandBrackets;
  /** Budgets at which observations are collected, ascending. */
  readonly budgets: number[];

  constructor(private readonly opts: BohbOptions) {
    this.brackets = new HyperbandBrackets(opts);
    this.budgets = rungsWithTop({ minResource: opts.min_resource, eta: opts.reduction_factor, rate: 0, maxResource: opts.max_resource });
  }

  /** The model of the largest budget with enough observations, or null. */
  fit(space: SearchSpace, direction: Direction, trials: readonly Trial[]): BohbModel | null {
    const names = Object.keys(space);
    const d = names.length;
    if (d === 0) return null;
    const dims: KdeDim[] = names.map((n) => {
      const dist = space[n] as Distribution;
      return dist.type === "categorical" ? { kind: "categorical", size: dist.choices.length } : { kind: "numeric" };
    });
    const encoded = trials.map((t) => encodeParams(names, space, t.params));
    const nMin = this.opts.min_points_in_model ?? d + 1;
    for (let bi = this.budgets.length - 1; bi >= 0; bi--) {
      const b = this.budgets[bi] as number;
      const obs: { x: number[]; loss: number; number: number }[] = [];
      trials.forEach((t, i) => {
        const x = encoded[i];
        if (!x) return;
        let v = firstReportAtOrAfter(t, b)?.value;
        if (v === undefined && b === this.opts.max_resource && t.state === "COMPLETE" && t.value !== null) v = t.value;
        if (v !== undefined) obs.push({ x, loss: lossOf(direction, v), number: t.number });
      });
      const n = obs.length;
      const nGood = Math.max(nMin, Math.floor((this.opts.top_n_percent * n) / 100));
      const nBad = Math.max(nMin, Math.floor(((100 - this.opts.top_n_percent) * n) / 100));
      obs.sort((a, b2) => a.loss - b2.loss || a.number - b2.number);
      const good = obs.slice(0, nGood);
      const bad = obs.slice(nGood, nGood + nBad);
      if (good.length <= d || bad.length <= d) continue;
      return {
        budget: b,
        good: new ProductKde(good.map((o) => o.x), dims, this.opts.min_bandwidth),
        bad: new ProductKde(bad.map((o) => o.x), dims, this.opts.min_bandwidth),
      };
    }
    return null;
  }

  /** Algorithm 2 of the paper: the candidate from l(x) with the largest l(x)/g(x), among `candidateCount` draws. */
  propose(model: BohbModel, rng: Rng): number[] {
    let best: number[] | null = null;
    let bestScore = -Infinity;
    const n = candidateCount(this.opts.num_samples, model.good.points.length + model.bad.points.length, model.good.dims.length);
    for (let i = 0; i < n; i++) {
      const x = model.good.sample(rng, this.opts.bandwidth_factor);
      const score = model.good.logPdf(x) - Math.max(model.bad.logPdf(x), -745);
      if (best === null || score > bestScore) {
        best = x;
        bestScore = score;
      }
    }
    return best as number[];
  }

  beforeSuggest(req: SuggestRequest): Suggestion {
    const space = req.study.space;
    const names = Object.keys(space);
    const attrs = this.brackets.newTrialAttrs(req);
    const rng = req.rng;
    const random = (): Params => Object.fromEntries(names.map((n) => [n, sampleUniform(space[n] as Distribution, rng)]));
    if (names.length === 0) return { params: {}, systemAttrs: attrs };
    if (rng.random() < this.opts.random_fraction) return { params: random(), systemAttrs: { ...attrs, bohb: "random" } };
    const model = this.fit(space, req.study.direction, req.trials);
    if (model === null) return { params: random(), systemAttrs: { ...attrs, bohb: "random" } };
    const x = this.propose(model, rng);
    return { params: decodeParams(names, space, x), systemAttrs: { ...attrs, bohb: "model", bohb_budget: model.budget } };
  }

  /** An enqueued trial's params are given: only its bracket and budget. */
  startAttrs(req: SuggestRequest): Record<string, unknown> {
    return this.brackets.newTrialAttrs(req);
  }

  onReport(req: ReportRequest): DecisionResult | null {
    return this.brackets.decide(req, "bohb");
  }
}

export const bohbSchedulerFactory: SchedulerFactory<BohbOptions> = {
  name: "bohb",
  description:
    "BOHB: Hyperband brackets with configurations from a per-budget kernel density model (Falkner et al. 2018). Chooses the params of the declared space itself (a study must declare one).",
  options,
  withStudyBudget: fillMaxResource,
  spaceProblem(space: SearchSpace) {
    if (Object.keys(space).length > 0) return null;
    return (
      "needs a declared space: it proposes configurations from a density model over the declared parameters, and this study declares none, " +
      "so every parameter would be drawn at random (Hyperband with random search). Declare the parameters in create_study's space, or, for " +
      "define-by-run parameters, use scheduler 'hyperband' with strategy 'tpe' (Optuna's BOHB: TPESampler with HyperbandPruner)"
    );
  },
  incompatibleWith(strategy: PluginConfig) {
    if (strategy.name === "random") return null;
    if (strategy.name === "grid")
      return "bohb chooses every trial's params from its own density model, so a grid strategy would neither be followed nor know which points were tried; use strategy 'random'";
    return `bohb chooses every trial's params from its own density model, so strategy '${strategy.name}' would be ignored; use strategy 'random' (it answers define-by-run parameters)`;
  },
  create: (o) => new BohbScheduler(o),
};
