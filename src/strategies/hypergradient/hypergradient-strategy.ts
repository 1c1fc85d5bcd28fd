/**
 * Gradient-based HPO as a strategy: the worker computes hypergradients (derivatives of the
 * reported objective with respect to continuous hyperparameters) inside its training loop
 * and sends them with `report`; the server takes one bounded step per report (`step_rule`)
 * and answers `{action: "update", params}`.
 *
 * Sources: Baydin et al., "Online Learning Rate Adaptation with Hypergradient Descent"
 * (ICLR 2018) and Lorraine, Vicol & Duvenaud, "Optimizing Millions of Hyperparameters by
 * Implicit Differentiation" (AISTATS 2020) for where the hypergradients come from (the
 * Python helpers in `tuneport.hypergrad`); Kingma & Ba, "Adam" (ICLR 2015), Algorithm 1,
 * for the step.
 *
 * - Steps are taken in the unit-cube encoding of `distributions.ts`: u = (x − lo)/(hi − lo)
 *   with x = ln p on log dimensions and x = p otherwise. By the chain rule the reported
 *   dL/dp becomes dL/du = dL/dp · p · (ln high − ln low) on log dimensions and
 *   dL/du = dL/dp · (high − low) on linear ones, so `lr` and `max_step` mean the same
 *   fraction of the range for every parameter and a log-scaled rate moves multiplicatively.
 * - `step_rule` picks how a hypergradient becomes a step (each step is clipped to ±`max_step`,
 *   default 0.2, and the result to [0, 1], then mapped back with `fromUnit`, which also snaps
 *   stepped floats onto their grid):
 *   * `"adam"`: Adam per parameter (m, v and its own step count t, since a report may carry
 *     only some gradients) with the paper's β1 = 0.9, β2 = 0.999, ε = 1e-8 and step `lr`
 *     (0.05: 5 % of a range per step; hyperparameters get far fewer updates than weights, so
 *     the paper's 0.001 would barely move them). Scale-free per coordinate: a small but
 *     consistently signed hypergradient moves its parameter a full `lr` every report, which
 *     over-decays a learning rate (the one-step hypergradient's short-horizon bias, Wu et al.
 *     ICLR 2018) and drives unimportant weight decays to a bound.
 *   * `"trust-region"`: the same first moment (β1, bias-corrected), but one step of length `lr`
 *     in the unit cube along −m̂/‖m̂‖₂ over the parameters of the report: the steepest-descent
 *     step inside a ball of radius `lr` on the log (unit-cube) scale, so parameters move in
 *     proportion to their share of the hypergradient and a coordinate with a tiny one stays.
 *   * `"hd-m"`: Baydin et al.'s multiplicative rule (§3, "HD-M") once per report for
 *     *normalised* hypergradients h̃ ∈ [−1, 1] (the mean over an epoch of h/(‖∇f‖‖d‖), i.e. minus
 *     the cosine of consecutive update directions; `tuneport.hypergrad`'s
 *     `pop_hypergradients(normalized=True)`): log parameters become p·exp(−`hd_beta`·h̃) (the
 *     paper's p·(1 − β h̃) to first order, never ≤ 0), linear ones u − `hd_beta`·h̃ in the unit
 *     cube. A rate far too small gives h̃ near −1 (consecutive gradients agree) and grows
 *     geometrically; near a good rate h̃ hovers around 0, so nothing pushes it down steadily.
 * - `confirm_decreases` (default false) guards against that short-horizon bias: a step that
 *   *lowers* a parameter is taken only on a report whose value is worse than the previous
 *   report's (NaN counts as worse); raising steps are always taken. A one-step training-loss
 *   hypergradient says "lower the rate" as soon as minibatch noise dominates, long before a lower
 *   rate helps the loss; the reported (validation) loss still falling is the evidence that it
 *   does not need lowering yet. A held-back report does not count for that parameter (its
 *   moments and step count stay as they were). The learning-rate rescue uses
 *   `{step_rule: "adam", confirm_decreases: true}` (chosen on held-out seeds of
 *   bench/hypergradient.py's LR tasks, where hd-m with β ≤ 4 climbed too slowly on the CNN and
 *   β = 8 diverged on the MLP); the default rule, `trust-region` without the guard, was chosen
 *   on its weight-decay tasks (docs/BENCHMARKS.md, "Hypergradient").
 * - The step descends for `minimize` studies and ascends for `maximize` ones: the
 *   hypergradients are derivatives of the value being reported.
 * - A stepped float keeps its unsnapped unit-cube position in `hg_u`: each step is taken from
 *   there (while the parameter still holds that position's snap), so steps shorter than half
 *   the grid add up instead of each snapping back to the same value (the parameter never moved).
 * - State lives in the reporting trial's `systemAttrs` (`hg_m`, `hg_v`, `hg_t`, `hg_u`), so a restarted
 *   server continues where it stopped, and a retry (the study's retry policy) inherits it: with
 *   `keep_intermediate` it resumes; without, it trains again from step 0 (none of the failed
 *   attempt's reports are its own), so it starts its own moments and trajectory from the params it
 *   was given. Every applied report appends `{step, value, params}`
 *   to `hg_trajectory` (the first entry, step null, holds the starting point); once it
 *   exceeds `trajectory_limit` entries (fewer for many tuned parameters: `trajectoryLimit`) every
 *   other interior entry is dropped, so the record spans the whole run at a coarser grain
 *   (`hg_trajectory_thinned: true`).
 * - Gradients that are NaN/infinite, non-numeric, so large that their square in the unit cube
 *   overflows (Adam's second moment; |dL/du| above ~1e154), or name parameters that are not tuned
 *   (a log range whose ends share one logarithm has no unit cube) are ignored and explained in
 *   `hg_warnings` (the latest 20); training goes on.
 * - Starting points, non-differentiable parameters (int, categorical) and define-by-run
 *   parameters come from the `base` strategy (default qmc), which therefore sees each
 *   finished trial with its final hyperparameters. `suggest` runs in a worker thread exactly
 *   when the base's would (e.g. base gp). A base that answers reports itself (pbt) is refused.
 */
import { z } from "zod";
import { type Distribution, type FloatDistribution, type Params, type SearchSpace, fromUnit, internalBounds } from "../../domain/distributions.js";
import type { PluginConfig } from "../../domain/trial.js";
import type {
  DecisionResult,
  ParamRequest,
  ReportRequest,
  Strategy,
  StrategyFactory,
  SuggestRequest,
  Suggestion,
} from "../../domain/plugin.js";

/** Name under which this strategy is registered. */
export const HYPERGRADIENT = "hypergradient";
/** How many warnings `hg_warnings` keeps. */
const MAX_WARNINGS = 20;

const baseRef = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() }).strict(),
]);

const rawOptions = z
  .object({
    /** Strategy for starting points and non-differentiable parameters: a name or {name, options}. */
    base: baseRef.default("qmc"),
    /** How hypergradients become steps (see the file comment). */
    step_rule: z.enum(["adam", "trust-region", "hd-m"]).default("trust-region"),
    /** Step size (adam) or trust-region radius, in unit-cube units (fraction of a parameter's internal range). */
    lr: z.number().positive().max(1).default(0.05),
    /** β of the hd-m rule: a normalised hypergradient of −1 multiplies a log parameter by e^β. */
    hd_beta: z.number().positive().max(100).default(1),
    /** Lower a parameter only on a report whose value is worse than the previous report's. */
    confirm_decreases: z.boolean().default(false),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    eps: z.number().positive().default(1e-8),
    /** Largest change of one parameter per report, in unit-cube units. */
    max_step: z.number().positive().max(1).default(0.2),
    /** Parameters to tune; default: every float parameter the trial has. */
    params: z.array(z.string().min(1)).min(1).optional(),
    /** Most entries kept in `hg_trajectory` before it is thinned (fewer past `MAX_TRAJECTORY_VALUES` values). */
    trajectory_limit: z.number().int().min(4).max(100_000).default(1000),
  })
  .strict();

/** Options after validation: `base` normalised to `{name, options}` with the base's defaults filled in. */
export interface HypergradientOptions {
  readonly base: PluginConfig;
  readonly step_rule: "adam" | "trust-region" | "hd-m";
  readonly lr: number;
  readonly hd_beta: number;
  readonly confirm_decreases: boolean;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly max_step: number;
  readonly params?: readonly string[];
  readonly trajectory_limit: number;
}

/** One point of a trial's hyperparameter trajectory as stored in `hg_trajectory`. */
export interface TrajectoryEntry {
  /** The report's step, or null for the starting point. */
  readonly step: number | null;
  readonly value: number | null;
  /** The tuned parameters in force *after* this report. */
  readonly params: Params;
}

type Catalogue = () => ReadonlyMap<string, StrategyFactory<any>>;

function numberMap(x: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (x && typeof x === "object")
    for (const [k, v] of Object.entries(x as Record<string, unknown>)) if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
  return out;
}

/**
 * A float distribution with a non-empty range, or null when the parameter cannot be tuned by
 * gradient. A log range whose ends have the same logarithm (1e308..1.00000000000001e308) has no
 * unit cube to step in: every coordinate would be 0/0.
 */
function tunable(d: Distribution | undefined): FloatDistribution | null {
  if (!d || d.type !== "float" || !(d.high > d.low)) return null;
  const [lo, hi] = internalBounds(d);
  return hi > lo ? d : null;
}

/** Derivative of the parameter with respect to its unit-cube coordinate, at value p. */
export function unitJacobian(d: FloatDistribution, p: number): number {
  const [lo, hi] = internalBounds(d);
  return d.log ? p * (hi - lo) : hi - lo;
}

/** The unit-cube coordinate of p, unclipped (the service guarantees p lies in range). */
function unitOf(d: FloatDistribution, p: number): number {
  const [lo, hi] = internalBounds(d);
  return ((d.log ? Math.log(p) : p) - lo) / (hi - lo);
}

export class HypergradientStrategy implements Strategy {
  constructor(
    private readonly opts: HypergradientOptions,
    private readonly base: Strategy,
  ) {}

  suggest(req: SuggestRequest): Suggestion {
    return this.base.suggest({ ...req, study: { ...req.study, strategy: this.opts.base } });
  }

  suggestParam(req: ParamRequest) {
    if (this.base.suggestParam) return this.base.suggestParam({ ...req, study: { ...req.study, strategy: this.opts.base } });
    // The service draws uniformly when a strategy has no suggestParam; do the same.
    const d = req.distribution;
    if (d.type === "categorical") return d.choices[Math.floor(req.rng.random() * d.choices.length)] ?? null;
    return fromUnit(d, req.rng.random());
  }

  onReport(req: ReportRequest): DecisionResult | null {
    const raw = req.data.hypergradients;
    if (raw === undefined) return null;
    const t = req.trial;
    const attrs = t.systemAttrs;
    const warnings: string[] = Array.isArray(attrs.hg_warnings) ? (attrs.hg_warnings as unknown[]).map(String) : [];
    const warn = (msg: string) => warnings.push(`step ${req.step}: ${msg}`);
    const tuned = this.tunedParams(req);
    const stored: TrajectoryEntry[] = Array.isArray(attrs.hg_trajectory) ? (attrs.hg_trajectory as TrajectoryEntry[]) : [];
    const storedLast = stored[stored.length - 1];
    // A retry re-queued without keep_intermediate inherits the failed attempt's hg_* state but none
    // of its reports: it trains again from step 0, and each of its reports below the attempt's
    // last step was taken for a repeat (no step, nothing said). Such a run starts its own
    // trajectory and moments from the params it was given.
    const restarted = storedLast !== undefined && storedLast.step !== null && !t.intermediate.some((iv) => iv.step === storedLast.step);
    const state = restarted ? {} : attrs;
    const trajectory: TrajectoryEntry[] = restarted ? [] : [...stored];
    const last = trajectory[trajectory.length - 1];
    // A repeated report of the same step (a retry without its request id) must not step twice.
    if (last && last.step !== null && req.step <= last.step) return { decision: { action: "update", params: pickParams(t.params, tuned) } };

    const grads: Record<string, number> = {};
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      warn("data.hypergradients must be a map of parameter name to number; ignored");
    } else {
      for (const [name, g] of Object.entries(raw as Record<string, unknown>)) {
        if (!tuned.has(name)) {
          warn(`'${name}' is not a tuned continuous parameter of this trial; ignored`);
        } else if (typeof g !== "number") {
          warn(`hypergradient of '${name}' is not a number; ignored`);
        } else if (!Number.isFinite(g)) {
          warn(`hypergradient of '${name}' is ${String(g)}; ignored`);
        } else if (this.opts.step_rule !== "hd-m" && !Number.isFinite((g * unitJacobian(tuned.get(name)!, t.params[name] as number)) ** 2)) {
          // Its moments (m, and v = its square) would overflow to Infinity and every step become NaN.
          warn(`hypergradient of '${name}' is ${String(g)}, too large for the moments of a step in the unit cube; ignored`);
        } else {
          grads[name] = g;
        }
      }
    }

    const m = numberMap(state.hg_m);
    const v = numberMap(state.hg_v);
    const steps = numberMap(state.hg_t);
    const before = { m: { ...m }, v: { ...v }, steps: { ...steps } };
    const sign = req.study.direction === "minimize" ? -1 : 1;
    const deltas = this.steps(grads, tuned, t.params, m, v, steps);
    // confirm_decreases: lower a parameter only when this report is worse than the previous one.
    const prev = t.intermediate[t.intermediate.length - 2]?.value;
    const worse = prev === undefined || !Number.isFinite(req.value) || (sign < 0 ? req.value > prev : req.value < prev);
    const params: Params = {};
    // Stepped floats: the continuous position, so that steps smaller than half the grid add up.
    const positions = numberMap(state.hg_u);
    let positionsChanged = false;
    for (const [name, delta] of Object.entries(deltas)) {
      const d = tuned.get(name) as FloatDistribution;
      if (this.opts.confirm_decreases && sign * delta < 0 && !worse) {
        // Held back: this report does not count for the parameter at all (its moments stay).
        for (const [map, old] of [[m, before.m], [v, before.v], [steps, before.steps]] as const) {
          if (name in old) map[name] = old[name] as number;
          else delete map[name];
        }
        continue;
      }
      const clipped = Math.max(-this.opts.max_step, Math.min(this.opts.max_step, delta));
      const current = t.params[name] as number;
      const kept = positions[name];
      // The kept position counts while the value is still its snap (not set since, by an agent).
      const from = d.step !== undefined && kept !== undefined && fromUnit(d, kept) === current ? kept : unitOf(d, current);
      const u = Math.max(0, Math.min(1, from + sign * clipped));
      params[name] = fromUnit(d, u);
      if (d.step !== undefined) {
        positions[name] = u;
        positionsChanged = true;
      }
    }

    const out: Record<string, unknown> = {};
    if (warnings.length > 0) out.hg_warnings = warnings.slice(-MAX_WARNINGS);
    if (Object.keys(params).length === 0) return { decision: { action: "continue" }, systemAttrs: out };
    out.hg_m = m;
    out.hg_v = v;
    out.hg_t = steps;
    if (positionsChanged || restarted) out.hg_u = positions;

    const after = { ...pickParams(t.params, tuned), ...params };
    if (trajectory.length === 0) trajectory.push({ step: null, value: null, params: pickParams(t.params, tuned) });
    trajectory.push({ step: req.step, value: Number.isFinite(req.value) ? req.value : null, params: after });
    if (trajectory.length > trajectoryLimit(this.opts.trajectory_limit, tuned.size)) {
      out.hg_trajectory = thin(trajectory);
      out.hg_trajectory_thinned = true;
    } else {
      out.hg_trajectory = trajectory;
    }
    return { decision: { action: "update", params: after, reason: "hypergradient step" }, systemAttrs: out };
  }

  /**
   * Unclipped ascent steps in the unit cube (the caller applies the direction's sign), per the
   * step rule; updates the moment maps `m`, `v` and step counts `steps` in place.
   */
  private steps(
    grads: Record<string, number>,
    tuned: Map<string, FloatDistribution>,
    params: Params,
    m: Record<string, number>,
    v: Record<string, number>,
    steps: Record<string, number>,
  ): Record<string, number> {
    const { step_rule, lr, beta1, beta2, eps, hd_beta } = this.opts;
    const out: Record<string, number> = {};
    if (step_rule === "hd-m") {
      for (const [name, g] of Object.entries(grads)) {
        const d = tuned.get(name) as FloatDistribution;
        const [lo, hi] = internalBounds(d);
        // Log dimensions: Δ ln p = β·h̃, i.e. Δu = β·h̃ / (ln high − ln low); linear: Δu = β·h̃.
        out[name] = d.log ? (hd_beta * g) / (hi - lo) : hd_beta * g;
        steps[name] = (steps[name] ?? 0) + 1;
      }
      return out;
    }
    const mhat: Record<string, number> = {};
    for (const [name, g] of Object.entries(grads)) {
      const d = tuned.get(name) as FloatDistribution;
      const gu = g * unitJacobian(d, params[name] as number);
      const k = (steps[name] ?? 0) + 1;
      const mk = beta1 * (m[name] ?? 0) + (1 - beta1) * gu;
      const vk = beta2 * (v[name] ?? 0) + (1 - beta2) * gu * gu;
      m[name] = mk;
      v[name] = vk;
      steps[name] = k;
      mhat[name] = mk / (1 - beta1 ** k);
      if (step_rule === "adam") out[name] = (lr * (mhat[name] as number)) / (Math.sqrt(vk / (1 - beta2 ** k)) + eps);
    }
    if (step_rule === "trust-region") {
      const norm = Math.hypot(...Object.values(mhat)); // no overflow of the squares' sum
      for (const [name, x] of Object.entries(mhat)) out[name] = norm > 0 ? (lr * x) / norm : 0;
    }
    return out;
  }

  /** The trial's tunable parameters (name → float distribution). */
  private tunedParams(req: ReportRequest): Map<string, FloatDistribution> {
    const out = new Map<string, FloatDistribution>();
    const names = this.opts.params ?? Object.keys(req.trial.params);
    for (const name of names) {
      const d = tunable(req.trial.distributions[name]);
      if (d && typeof req.trial.params[name] === "number") out.set(name, d);
    }
    return out;
  }
}

/** The trajectory stored in a trial's system attributes (entries of the wrong shape are skipped). */
export function readTrajectory(systemAttrs: Record<string, unknown>): TrajectoryEntry[] {
  const raw = systemAttrs.hg_trajectory;
  if (!Array.isArray(raw)) return [];
  const out: TrajectoryEntry[] = [];
  for (const e of raw as unknown[]) {
    if (!e || typeof e !== "object") continue;
    const { step, value, params } = e as Record<string, unknown>;
    if (!params || typeof params !== "object") continue;
    out.push({
      step: typeof step === "number" ? step : null,
      value: typeof value === "number" ? value : null,
      params: { ...(params as Params) },
    });
  }
  return out;
}

function pickParams(p: Params, keys: Map<string, unknown>): Params {
  const out: Params = {};
  for (const k of keys.keys()) if (k in p) out[k] = p[k] ?? null;
  return out;
}

/**
 * Parameter values `hg_trajectory` holds at most. Every report rewrites the trial's attributes, the
 * whole trajectory included, on the event loop and into storage: a probe's 200 tuned parameters
 * with trajectory_limit 100,000 made each report cost more than the one before (300 ms and 0.8 s of
 * event loop at 2,000 reports, heading for 20 MB a report). 50,000 values is about 1 MB of JSON.
 */
export const MAX_TRAJECTORY_VALUES = 50_000;

/** Entries a trajectory keeps before it is thinned: `trajectory_limit`, fewer when each entry holds many parameters (4 at least). */
export function trajectoryLimit(limit: number, tunedParams: number): number {
  return Math.max(4, Math.min(limit, Math.floor(MAX_TRAJECTORY_VALUES / Math.max(1, tunedParams))));
}

/** Keeps the first and last entries and every other one between. */
function thin(entries: TrajectoryEntry[]): TrajectoryEntry[] {
  return entries.filter((_, i) => i === 0 || i === entries.length - 1 || i % 2 === 0);
}

/**
 * Builds the factory. `catalogue` returns the strategy catalogue lazily, so this module
 * need not import `strategies/index.ts` (which registers it): no import cycle.
 */
export function makeHypergradientFactory(catalogue: Catalogue): StrategyFactory<HypergradientOptions> {
  const options = rawOptions.transform((o, ctx): HypergradientOptions => {
    const ref = typeof o.base === "string" ? { name: o.base, options: {} } : { name: o.base.name, options: o.base.options ?? {} };
    const all = catalogue();
    const factory = all.get(ref.name);
    const bases = [...all.keys()].filter((k) => k !== HYPERGRADIENT);
    let base: PluginConfig = { name: ref.name, options: ref.options };
    if (ref.name === HYPERGRADIENT || !factory) {
      ctx.addIssue({ code: "custom", path: ["base"], message: `unknown base strategy '${ref.name}'; valid: ${bases.join(", ")}` });
    } else {
      const parsed = factory.options.safeParse(ref.options);
      if (!parsed.success)
        ctx.addIssue({ code: "custom", path: ["base", "options"], message: `bad options for base '${ref.name}': ${parsed.error.issues[0]?.message ?? "invalid"}` });
      else if (factory.create(parsed.data).onReport)
        // Its own report answers would be ignored (only this strategy's onReport runs), so refuse it.
        ctx.addIssue({ code: "custom", path: ["base"], message: `base '${ref.name}' steers running trials itself; pick one of the other strategies` });
      else base = { name: ref.name, options: parsed.data as Record<string, unknown> };
    }
    const { base: _b, params, ...rest } = o;
    return { base, ...rest, ...(params ? { params } : {}) };
  });
  return {
    name: HYPERGRADIENT,
    description:
      "Gradient-based HPO: takes bounded steps (log-aware, in the unit cube: a trust region by default, Adam, or the multiplicative HD-M rule for normalised learning-rate hypergradients) on continuous hyperparameters from hypergradients sent with report; starting points and other parameters come from a base strategy (default qmc).",
    options: options as unknown as z.ZodType<HypergradientOptions>,
    readsHypergradients: true,
    offloadFor(o: HypergradientOptions, space?: SearchSpace, objectives?: number): boolean {
      const base = catalogue().get(o.base.name);
      if (!base) return false;
      return base.offloadFor ? base.offloadFor(o.base.options, space, objectives) : base.offload === true;
    },
    readModels: {
      trajectory: (t) => ({ entries: readTrajectory(t.systemAttrs), thinned: t.systemAttrs.hg_trajectory_thinned === true }),
    },
    create(o: HypergradientOptions): Strategy {
      const factory = catalogue().get(o.base.name);
      if (!factory || o.base.name === HYPERGRADIENT) throw new Error(`hypergradient: unknown base strategy '${o.base.name}'`);
      return new HypergradientStrategy(o, factory.create(o.base.options));
    },
  };
}
