/**
 * Hyperband (Li et al., JMLR 2018) as a pruner, in the asynchronous form of Optuna 5.0's
 * `HyperbandPruner`: several successive-halving races ("brackets") of different
 * aggressiveness run side by side, and each trial belongs to one bracket.
 *
 * - Brackets: ⌊log_η(max_resource / min_resource)⌋ + 1. Bracket b (0 = most aggressive) is
 *   successive halving with early-stopping rate s = b, i.e. rungs at min_resource · η^(b + k)
 *   below max_resource; trials compete only within their bracket, with the values recorded at
 *   the rung's resource (`completed_rung_<k>` and `completed_rung_<k>_resource`, see
 *   ../successive-halving: an update of min_resource or reduction_factor moves the rungs).
 * - Assignment: in `beforeSuggest`, trial number → bracket by a hash of the study's seed and
 *   the trial number modulo the total of the brackets' trial budgets, laid out in bracket
 *   order. Optuna hashes the study name (crc32 of `<name>_<number>`); the seed is used here so
 *   that a given seed gives the same brackets whatever the study is called (issue 17). Bracket b's budget is the paper's n for
 *   s = s_max − b: ⌈(s_max + 1) η^s / (s + 1)⌉ (81, 34, 15, 8, 5 for R = 81, η = 3), so the
 *   brackets receive trials in the paper's proportions. The bracket is stored in the trial's
 *   `systemAttrs.bracket` (with `budget` = max_resource); a trial without it (enqueued,
 *   created before the scheduler was set) gets the same hash-derived bracket in `onReport`.
 * - Rung placement follows Optuna (min_resource · η^(b+k)); the paper places bracket s at
 *   r = R η^−s. The two agree when max_resource / min_resource is a power of η, which is what
 *   `hyperbandTable` (the paper's arithmetic, checked against REFERENCE.md) assumes.
 *
 * Defaults (Optuna 5.0): min_resource = 1, reduction_factor = 3. max_resource defaults to the
 * study's budget (create_study `max_resource`) and is required when the study has none (Optuna's
 * "auto" guesses it from the first complete trial; brackets need it from the first trial on).
 */
import { z } from "zod";
import type { Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import type { DecisionResult, ReportRequest, Scheduler, SchedulerFactory, Suggestion, SuggestRequest } from "../../domain/plugin.js";
import { LADDER_FITS, MAX_RUNGS, RAY_HALVING_NAMES, fillMaxResource, ladderFits, numberAttr, reductionFactor, resource } from "../common.js";
import { foreignOptionNames } from "../../domain/plugin-options.js";
import { halvingDecision } from "../successive-halving/successive-halving-scheduler.js";

/** One round of a bracket: n configurations at resource r. */
export interface HyperbandRound {
  readonly n: number;
  readonly r: number;
}
/** A bracket of the paper's Algorithm 1, s = s_max … 0. */
export interface HyperbandBracket {
  readonly s: number;
  readonly rounds: readonly HyperbandRound[];
}

/**
 * s_max = ⌊log_η(R / r_min)⌋, by integer powers to avoid log rounding (log(243)/log(3) < 5); at
 * most MAX_RUNGS − 1 (the options refuse more).
 */
export function maxBracketIndex(maxResource: number, eta: number, minResource = 1): number {
  let s = 0;
  let p = minResource * eta;
  while (p <= maxResource * (1 + 1e-12) && s < MAX_RUNGS - 1) {
    s++;
    p *= eta;
  }
  return s;
}

/**
 * The paper's bracket arithmetic (Li et al. 2018, Algorithm 1): s_max = ⌊log_η R⌋,
 * B = (s_max + 1) R; bracket s: n = ⌈(B/R) η^s / (s + 1)⌉, r = R η^−s; round i:
 * n_i = ⌊n η^−i⌋, r_i = r η^i, i = 0 … s. Resources are in units of `minResource`·(R/r_min).
 * Pure; brackets are listed from s = s_max down to 0.
 */
export function hyperbandTable(maxResource: number, eta: number, minResource = 1): HyperbandBracket[] {
  const sMax = maxBracketIndex(maxResource, eta, minResource);
  const out: HyperbandBracket[] = [];
  for (let s = sMax; s >= 0; s--) {
    const n = Math.ceil(((sMax + 1) * eta ** s) / (s + 1) - 1e-9);
    const r = maxResource / eta ** s;
    const rounds: HyperbandRound[] = [];
    for (let i = 0; i <= s; i++) rounds.push({ n: Math.floor(n / eta ** i + 1e-9), r: r * eta ** i });
    out.push({ s, rounds });
  }
  return out;
}

/** Trial budgets per bracket id b = 0 … s_max (b = s_max − s): the paper's n of each bracket. */
export function bracketBudgets(maxResource: number, eta: number, minResource = 1): number[] {
  return hyperbandTable(maxResource, eta, minResource).map((b) => (b.rounds[0] as HyperbandRound).n);
}

/** The bracket id of a trial number, from a hash of the study's seed and the number (see header). */
export function bracketOf(seed: number, trialNumber: number, budgets: readonly number[]): number {
  const total = budgets.reduce((a, b) => a + b, 0);
  let pos = new Rng(seed, "hyperband-bracket", trialNumber).nextUint32() % total;
  for (let b = 0; b < budgets.length; b++) {
    pos -= budgets[b] as number;
    if (pos < 0) return b;
  }
  return budgets.length - 1;
}

export const hyperbandShape = {
  /** Resource of the first rung of the most aggressive bracket (Optuna: 1). */
  min_resource: resource().default(1),
  /** Resource a trial trains to at most (R). Default: the study's max_resource; required without one. */
  max_resource: resource(),
  /** η (Optuna: 3). */
  reduction_factor: reductionFactor(3),
};
const options = z
  .object(hyperbandShape)
  .strict()
  .refine((o) => o.max_resource >= o.min_resource, "max_resource must be >= min_resource")
  .refine(ladderFits, LADDER_FITS);
foreignOptionNames(options, RAY_HALVING_NAMES);
export type HyperbandOptions = z.output<typeof options>;

/** Bracket bookkeeping shared with BOHB. */
export class HyperbandBrackets {
  readonly budgets: number[];
  constructor(readonly opts: { min_resource: number; max_resource: number; reduction_factor: number }) {
    this.budgets = bracketBudgets(opts.max_resource, opts.reduction_factor, opts.min_resource);
  }

  /** The bracket of a trial: its stored attribute when valid, else the hash-derived one. */
  bracketOfTrial(seed: number, t: Trial): number {
    const b = numberAttr(t, "bracket");
    if (b !== undefined && Number.isInteger(b) && b >= 0 && b < this.budgets.length) return b;
    return bracketOf(seed, t.number, this.budgets);
  }

  /** Attributes for a new trial. */
  newTrialAttrs(req: SuggestRequest): Record<string, unknown> {
    return { bracket: bracketOf(req.study.seed, req.trialNumber, this.budgets), budget: this.opts.max_resource };
  }

  decide(req: ReportRequest, label: string): DecisionResult | null {
    const seed = req.study.seed;
    const bracket = this.bracketOfTrial(seed, req.trial);
    const ladder = {
      minResource: this.opts.min_resource,
      eta: this.opts.reduction_factor,
      rate: bracket,
      maxResource: this.opts.max_resource,
    };
    const res = halvingDecision(req, ladder, (t) => this.bracketOfTrial(seed, t) === bracket, `${label} bracket ${bracket}`);
    if (numberAttr(req.trial, "bracket") === bracket) return res;
    // Record the derived bracket so readers see it (the decision does not depend on it).
    return { decision: res?.decision ?? { action: "continue" }, systemAttrs: { ...res?.systemAttrs, bracket } };
  }
}

export class HyperbandScheduler implements Scheduler {
  private readonly brackets: HyperbandBrackets;
  constructor(opts: HyperbandOptions) {
    this.brackets = new HyperbandBrackets(opts);
  }

  beforeSuggest(req: SuggestRequest): Suggestion {
    return { params: {}, systemAttrs: this.brackets.newTrialAttrs(req) };
  }

  startAttrs(req: SuggestRequest): Record<string, unknown> {
    return this.brackets.newTrialAttrs(req);
  }

  onReport(req: ReportRequest): DecisionResult | null {
    return this.brackets.decide(req, "hyperband");
  }
}

export const hyperbandSchedulerFactory: SchedulerFactory<HyperbandOptions> = {
  name: "hyperband",
  description:
    "Hyperband: trials are spread over ⌊log_η(max/min)⌋+1 successive-halving brackets of different aggressiveness (Optuna's HyperbandPruner). max_resource defaults to the study's.",
  options,
  withStudyBudget: fillMaxResource,
  create: (o) => new HyperbandScheduler(o),
};
