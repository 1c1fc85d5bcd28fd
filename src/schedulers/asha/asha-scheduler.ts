/**
 * Asynchronous successive halving (ASHA; Li et al., "A System for Massively Parallel
 * Hyperparameter Tuning", MLSys 2020), both variants.
 *
 * Rung k sits at resource r_k = min_resource · η^(s + k) (s = `min_early_stopping_rate`).
 *
 * mode "stopping" (default; Ray Tune's `ASHAScheduler` / `AsyncHyperBandScheduler`):
 *   rungs are the r_k below max_resource. When a report's step first reaches a rung (the
 *   highest one reached, if a report jumps several), the trial's value is recorded in
 *   `systemAttrs.asha_rung_<k>` (its resource in `asha_rung_<k>_resource`) and the trial is
 *   stopped (`prune`) when its value is strictly worse than the cut-off: the (1 − 1/η) quantile,
 *   with numpy's linear interpolation, of the values *earlier* trials recorded at that rung's
 *   resource (the better end for the direction). The resource is compared because the ladder
 *   moves when the study is updated (a new max_resource derives a new min_resource): rung 0 at
 *   resource 3 before and at 9 after, and values from two resources are not comparable. A record
 *   without its resource (made before it was kept) counts as at the current ladder's r_k.
 *   An empty rung never stops. Stopped trials' values stay in the rung, as in Ray.
 *
 *   SMALL-RUNG RULE: Ray's — the interpolated quantile even for one or two earlier values.
 *   REFERENCE.md's case (maximise, η = 3, rung holds 0.9 and 0.5, new value 0.6): the cut-off
 *   is 0.5 + (2/3)(0.9 − 0.5) = 0.7667, so 0.6 is stopped. With a single earlier value v a new
 *   trial goes on only if it is at least as good as v. (Syne Tune continues 0.6; we prefer
 *   Ray's rule because it is the most used and it keeps the top-1/η intent on tiny rungs.)
 *
 * mode "promotion" (the paper's Algorithm 2): nothing is stopped early. Every trial trains to
 *   the `budget` in its `systemAttrs` (also sent as continue's `budget`) and completes; it is
 *   then a member of rung `systemAttrs.rung`. The rung ladder is the r_k below max_resource
 *   plus max_resource itself as the top rung. `beforeSuggest` scans the rungs from the
 *   highest-but-one down: the best configuration that is in the top ⌊n/η⌋ of its rung's n
 *   complete members and has not been promoted yet is promoted — the new trial takes its
 *   params, `rung` k+1, `budget` r_(k+1), `resume_from` (the number of the trial it continues;
 *   the worker loads that trial's checkpoint) and `resume_budget` (r_k, where it resumes).
 *   Otherwise a new configuration starts at rung 0 (`params: {}`, the strategy fills them).
 *   A rung with fewer than η members promotes nothing (⌊n/η⌋ = 0, the paper's rule). A
 *   configuration is "promoted" once any trial names it in `resume_from`, whatever that
 *   trial's state (a promotion whose worker died is not re-issued by the scheduler; the
 *   service's retry policy re-queues it). A trial that lacks the attributes (enqueued by hand)
 *   is given rung 0 on its first report.
 *
 * Budget: `max_resource` defaults to the study's budget (create_study `max_resource`, see
 * `withStudyBudget`); Ray's fixed default max_t = 100 is not used. Without either, stopping mode
 * takes max_resource from history as Optuna's "auto" does for its Hyperband: the last step of
 * the first trial to complete (earliest `finishedAt`, then number), so a restarted server sees
 * the same; until a trial completes every r_k is a rung and no `budget` is sent. Promotion mode
 * needs a budget to promote to and refuses to start without one.
 *
 * Rungs: r_k strictly below max_resource. When max_resource is a power of η times
 * min_resource (9, 27, 81 with η = 3) there is no rung at max_resource itself: R = 27 gives
 * rungs 1, 3, 9 (a trial that reached R is done, not judged).
 *
 * Defaults: min_resource = R/η² (at least 1) when max_resource R is known when the study is
 * created (its budget or the option), else 1 (Ray's grace_period); reduction_factor = 3 (Ray and
 * the paper's experiments use 4; 3 is Hyperband's and BOHB's default here and in Optuna, and what
 * bench/multifidelity.py measured — see docs/BENCHMARKS.md for η = 4 beside it);
 * min_early_stopping_rate = 0. With R/η² a trial is judged at R/η² and R/η only, not at 1, 3, ...:
 * rankings after a step or two say little when curves cross, start slowly or diverge late. On
 * bench/multifidelity.py's four learning-curve families (R = 81, 10 seeds, the default strategy),
 * min_resource 9 against 1 had the better final value in 35 of 40 (problem, seed) pairs
 * (learning-curve 6–4, crossing 10–0, slow-start 10–0, diverge 9–1), against 3 in 32 of 40, and
 * promotion mode with 9 against 1 in 33 of 40 (docs/BENCHMARKS.md, "Multi-fidelity and pruning", the reading of 2026-12-01).
 *
 * NaN: a NaN value is the worst value. Both modes prune a trial on any NaN report, at a rung
 * (recorded there as "nan", even on an empty rung: Ray lets NaN through because NaN < cut-off is
 * false) or between rungs (a diverged run will not recover to be promoted or to pass a rung).
 * Ties: the earlier trial ranks first.
 */
import { z } from "zod";
import type { Trial } from "../../domain/trial.js";
import type { DecisionResult, ReportRequest, Scheduler, SchedulerFactory, Suggestion, SuggestRequest } from "../../domain/plugin.js";
import {
  decodeNumber,
  encodeNumber,
  fillMaxResource,
  firstCompletedLastStep,
  fmt,
  LADDER_FITS,
  ladderFits,
  lossOf,
  numberAttr,
  prune,
  quantile,
  reductionFactor,
  resource,
  rungResources,
  RAY_HALVING_NAMES,
  rungsWithTop,
  sortedAsc,
} from "../common.js";
import { foreignOptionNames } from "../../domain/plugin-options.js";

const options = z
  .object({
    /** "stopping" (Ray's ASHA, default) or "promotion" (the paper's Algorithm 2). */
    mode: z
      .enum(["stopping", "promotion"], {
        error: (iss) =>
          iss.input === "min" || iss.input === "max"
            ? "mode here is 'stopping' (the default, Ray Tune's ASHA) or 'promotion'; Ray Tune's mode 'min'/'max' is the study's direction (create_study direction='minimize'/'maximize')"
            : undefined,
      })
      .default("stopping"),
    /**
     * Resource of rung 0 before η^s (Ray's grace_period). Default: with a known max_resource R,
     * R / η² (at least 1), so trials are judged at R/η² and R/η only, in both modes; otherwise 1.
     * See the header for the evidence.
     */
    min_resource: resource().optional(),
    /** Resource a trial trains to at most. Default: the study's max_resource (see the header). */
    max_resource: resource().optional(),
    /** η (Ray: 4; 3 here, see the header). */
    reduction_factor: reductionFactor(3),
    /** s: rung 0 at min_resource · η^s (paper: 0). */
    min_early_stopping_rate: z.number().int().min(0).max(30).default(0),
  })
  .strict()
  .transform((o) => ({ ...o, min_resource: o.min_resource ?? defaultMinResource(o.max_resource, o.reduction_factor) }))
  .refine((o) => o.max_resource === undefined || o.max_resource >= o.min_resource, "max_resource must be >= min_resource")
  .refine(ladderFits, LADDER_FITS)
  .refine((o) => o.mode === "stopping" || o.max_resource !== undefined, {
    message: "promotion mode needs a budget: give the study a max_resource (create_study) or the scheduler one",
    path: ["max_resource"],
  });
foreignOptionNames(options, RAY_HALVING_NAMES);
export type AshaOptions = z.output<typeof options>;

/** `min_resource` when the options give none (see the option and the header). */
export function defaultMinResource(maxResource: number | undefined, eta: number): number {
  return maxResource !== undefined ? Math.max(1, maxResource / (eta * eta)) : 1;
}

/** The attribute holding a trial's value at rung k (stopping mode). */
export const ashaRungKey = (k: number): string => `asha_rung_${k}`;
/** The attribute holding the resource that value was recorded at (see the header). */
export const ashaRungResourceKey = (k: number): string => `asha_rung_${k}_resource`;

/**
 * The stopping-mode cut-off in loss space: the 1/η quantile of earlier losses (the (1 − 1/η)
 * quantile of scores), or null for an empty rung.
 */
export function stoppingCutoff(earlierLosses: readonly number[], eta: number): number | null {
  return earlierLosses.length === 0 ? null : quantile(sortedAsc(earlierLosses), 1 / eta);
}

export class AshaScheduler implements Scheduler {
  /** Stopping rungs: r_k below max_resource (empty when max_resource comes from history). */
  readonly rungs: number[];
  /** Promotion rungs: the stopping rungs plus max_resource on top. */
  readonly ladder: number[];

  constructor(private readonly opts: AshaOptions) {
    const max = opts.max_resource;
    this.ladder =
      max === undefined
        ? []
        : rungsWithTop({ minResource: opts.min_resource, eta: opts.reduction_factor, rate: opts.min_early_stopping_rate, maxResource: max });
    this.rungs = this.ladder.slice(0, -1);
  }

  private rungsBelow(limit: number): number[] {
    return rungResources(this.opts.min_resource, this.opts.reduction_factor, this.opts.min_early_stopping_rate, limit);
  }

  /** max_resource: the option, or the last step of the first trial to complete, or null while none has. */
  maxResource(trials: readonly Trial[]): number | null {
    return this.opts.max_resource ?? firstCompletedLastStep(trials);
  }

  /** Stopping rungs for a history: r_k below max_resource (every r_k while it is unknown). */
  rungsFor(trials: readonly Trial[]): number[] {
    if (this.opts.max_resource !== undefined) return this.rungs;
    return this.rungsBelow(this.maxResource(trials) ?? Infinity);
  }

  beforeSuggest(req: SuggestRequest): Suggestion {
    if (this.opts.mode === "stopping") {
      const max = this.maxResource(req.trials);
      return { params: {}, systemAttrs: max === null ? {} : { budget: max } };
    }
    const p = this.promotion(req.study.direction, req.trials);
    if (p === null) return { params: {}, systemAttrs: { rung: 0, budget: this.ladder[0] } };
    return {
      params: { ...p.trial.params },
      systemAttrs: {
        rung: p.rung,
        budget: this.ladder[p.rung],
        resume_from: p.trial.number,
        resume_budget: this.ladder[p.rung - 1],
      },
    };
  }

  /** An enqueued trial is a new configuration: rung 0 (promotion), the budget when known. */
  startAttrs(req: SuggestRequest): Record<string, unknown> {
    if (this.opts.mode === "promotion") return { rung: 0, budget: this.ladder[0] };
    const max = this.maxResource(req.trials);
    return max === null ? {} : { budget: max };
  }

  /** The promotion Algorithm 2 would make now, or null for "start a new configuration". */
  promotion(direction: "minimize" | "maximize", trials: readonly Trial[]): { trial: Trial; rung: number } | null {
    const promoted = new Set<number>();
    const members: { t: Trial; loss: number }[][] = this.ladder.map(() => []);
    for (const t of trials) {
      const from = numberAttr(t, "resume_from");
      if (from !== undefined) promoted.add(from);
    }
    for (const t of trials) {
      const k = numberAttr(t, "rung");
      if (t.state !== "COMPLETE" || k === undefined || !Number.isInteger(k) || k < 0 || k >= this.ladder.length) continue;
      const last = t.intermediate[t.intermediate.length - 1];
      const v = t.value ?? last?.value ?? NaN;
      members[k]!.push({ t, loss: lossOf(direction, v) });
    }
    for (let k = this.ladder.length - 2; k >= 0; k--) {
      const rung = members[k]!.sort((a, b) => a.loss - b.loss || a.t.number - b.t.number);
      const top = Math.floor(rung.length / this.opts.reduction_factor);
      for (let i = 0; i < top; i++) {
        const m = rung[i]!;
        if (!promoted.has(m.t.number)) return { trial: m.t, rung: k + 1 };
      }
    }
    return null;
  }

  onReport(req: ReportRequest): DecisionResult | null {
    return this.opts.mode === "stopping" ? this.stopping(req) : this.promotionReport(req);
  }

  private promotionReport(req: ReportRequest): DecisionResult {
    const { trial, step, value } = req;
    if (Number.isNaN(value)) return { decision: prune(`asha: value at step ${step} is NaN`) };
    const budget = numberAttr(trial, "budget");
    if (budget === undefined || numberAttr(trial, "rung") === undefined) {
      const b = this.ladder[0] as number;
      return { decision: { action: "continue", budget: b }, systemAttrs: { rung: 0, budget: b } };
    }
    return { decision: { action: "continue", budget } };
  }

  private stopping(req: ReportRequest): DecisionResult {
    const { trial, step, value } = req;
    const dir = req.study.direction;
    const max = this.maxResource(req.trials);
    const goOn: DecisionResult = { decision: max === null ? { action: "continue" } : { action: "continue", budget: max } };
    const rungs = this.rungsFor(req.trials);
    for (let k = rungs.length - 1; k >= 0; k--) {
      const r = rungs[k] as number;
      if (step < r) continue;
      const key = ashaRungKey(k);
      const at = ashaRungResourceKey(k);
      // The resource a trial's record at rung k was made at (absent: the current r_k, see the header).
      const recordedAt = (t: Trial) => (typeof t.systemAttrs[at] === "number" ? t.systemAttrs[at] : r);
      if (key in trial.systemAttrs && recordedAt(trial) === r) break; // judged at this rung already
      const attrs = { [key]: encodeNumber(value), [at]: r };
      if (Number.isNaN(value)) return { decision: prune(`asha: value is NaN at rung ${k} (resource ${fmt(r)})`), systemAttrs: attrs };
      const earlier: number[] = [];
      for (const t of req.trials) {
        if (t.number === trial.number || recordedAt(t) !== r) continue;
        const v = decodeNumber(t.systemAttrs[key]);
        if (v !== undefined) earlier.push(lossOf(dir, v));
      }
      const cut = stoppingCutoff(earlier, this.opts.reduction_factor);
      const own = lossOf(dir, value);
      if (cut !== null && own > cut) {
        const sign = dir === "minimize" ? 1 : -1;
        return {
          decision: prune(
            `asha: value ${fmt(value)} at rung ${k} (resource ${fmt(r)}) is worse than the cut-off ${fmt(sign * cut)} ` +
              `of ${earlier.length} earlier trials`,
          ),
          systemAttrs: attrs,
        };
      }
      return { ...goOn, systemAttrs: attrs };
    }
    if (Number.isNaN(value)) return { decision: prune(`asha: value at step ${fmt(step)} is NaN`) };
    return goOn;
  }
}

export const ashaSchedulerFactory: SchedulerFactory<AshaOptions> = {
  name: "asha",
  description:
    "Asynchronous successive halving: stop trials below the top 1/η at each rung (mode 'stopping', Ray's ASHA) or promote the best configurations to larger budgets (mode 'promotion', Li et al. 2020). max_resource defaults to the study's, min_resource to max_resource/η².",
  options,
  withStudyBudget: fillMaxResource,
  /** min_resource when it is the default for the stored max_resource and η (see `defaultMinResource`). */
  derivedOptions: (o) =>
    typeof o.reduction_factor === "number" &&
    o.min_resource === defaultMinResource(typeof o.max_resource === "number" ? o.max_resource : undefined, o.reduction_factor)
      ? ["min_resource"]
      : [],
  create: (o) => new AshaScheduler(o),
};
