/**
 * Constraint models of the `gp` strategy: one independent GP per constraint, and the log
 * probability of feasibility (PoF) that multiplies expected improvement.
 *
 * Sources:
 * - Gardner, Kusner, Xu, Weinberger & Cunningham 2014, "Bayesian Optimization with Inequality
 *   Constraints" (ICML), §3: each constraint c_k(x) ≤ 0 gets an independent GP; the acquisition
 *   is EI_C(x) = EI(x)·Π_k Pr[c_k(x) ≤ 0] = EI(x)·Π_k Φ((0 − μ_k(x))/σ_k(x)) (their eq. 4–5),
 *   with EI's incumbent the best FEASIBLE observation; while no observation is feasible the
 *   search maximises the probability of feasibility alone (§3, last paragraph).
 * - BoTorch's constrained (Log)EI and Optuna 5.0's GPSampler (`constraints_func`) do the same;
 *   tuneport works in log space: log EI + Σ_k log Φ(·) (log Φ from `logNormalCdf`, exact in
 *   the tail), so the product never underflows.
 *
 * Defaults and choices: each constraint's values over the modelled trials are standardised
 * (mean 0, standard deviation 1; the threshold 0 moves with them) and its θ is fitted by MAP
 * with the objective's prior on the same subset of rows as the objective's fit (so the cost
 * stays bounded: K extra fits on at most `maxFitTrials` rows), then conditioned on every
 * modelled row. Warm start as for the objective (gp-strategy.ts step 3): the θ of each constraint
 * is stored in the new trial's `systemAttrs.gp_constraint_theta` (one entry per constraint, null
 * when skipped); a later fit starts from it with the warm iteration cap, except on a full-fit
 * suggestion, which runs `maxFitIterations` from the better of it and the default θ. A constraint that no modelled
 * trial violates yet, or whose values are all equal, is skipped (its PoF is taken as 1).
 * Pending trials are not believed into the constraint models.
 */
import type { Trial } from "../../domain/trial.js";
import { minimizeLbfgs } from "../../math/lbfgs.js";
import { logNormalCdf, logNormalPdf } from "../../math/special.js";
import { GpObjective, GpPosterior, type GpInputs, type LengthscalePrior, defaultTheta, thetaBounds } from "./gp-model.js";
import { type Dim, THETA_LAYOUT_ATTR, thetaLayout } from "./gp-dims.js";

/** A fitted constraint: its posterior (standardised units) and where c = 0 lies in them. */
export interface ConstraintModel {
  readonly gp: GpPosterior;
  readonly threshold: number;
}

/** The system attribute holding the constraint models' fitted θ (one entry per constraint). */
export const CONSTRAINT_THETA_ATTR = "gp_constraint_theta";

/** How the constraint fits start and stop (gp-strategy.ts's warm-start rule). */
export interface ConstraintFit {
  readonly prior: LengthscalePrior;
  /** θ per constraint from the latest suggestion that stored them (null: none). */
  readonly warm: readonly (Float64Array | null)[] | null;
  readonly fullFit: boolean;
  readonly maxIter: number;
  readonly maxWarmIter: number;
}

/**
 * The constraint θ stored by the most recent suggestion that has k entries of dimension d + 2 and
 * was fitted for the modelled `dims` (its `gp_theta_layout`, gp-dims.ts, is theirs under either
 * categorical kernel, as constraint models keep the Hamming term; or it has none, as trials stored
 * before the marker).
 */
export function latestConstraintTheta(trials: readonly Trial[], k: number, dims: readonly Dim[]): (Float64Array | null)[] | null {
  const d = dims.length;
  const layouts = [thetaLayout(dims, false), thetaLayout(dims, true)];
  for (let i = trials.length - 1; i >= 0; i--) {
    const marked = trials[i]!.systemAttrs[THETA_LAYOUT_ATTR];
    if (marked !== undefined && !layouts.includes(marked as string)) continue;
    const t = trials[i]!.systemAttrs[CONSTRAINT_THETA_ATTR];
    if (!Array.isArray(t) || t.length !== k) continue;
    const ok = (v: unknown) => v === null || (Array.isArray(v) && v.length === d + 2 && v.every((x) => typeof x === "number" && Number.isFinite(x)));
    if (t.every(ok)) return t.map((v) => (v === null ? null : Float64Array.from(v as number[])));
  }
  return null;
}

/**
 * The constraint vectors of the rows, or null when the rows do not all carry one of the same
 * positive length (unconstrained study, or rows such as imputed stopped trials without them).
 */
export function constraintColumns(rows: readonly Trial[]): number[][] | null {
  const k = rows[0]?.constraints?.length ?? 0;
  if (k === 0) return null;
  const cols = Array.from({ length: k }, () => new Array<number>(rows.length));
  for (let i = 0; i < rows.length; i++) {
    const c = rows[i]!.constraints;
    if (c === null || c.length !== k) return null;
    for (let j = 0; j < k; j++) {
      if (!Number.isFinite(c[j]!)) return null;
      cols[j]![i] = c[j]!;
    }
  }
  return cols;
}

/**
 * One GP per constraint column that some row violates (see the header). `fitRows` (indices
 * into the rows, or null for all) is the subset the hyperparameters are fitted on. Returns
 * null when a factorisation fails; the caller then falls back as for the objective.
 */
export function fitConstraintModels(
  inputs: GpInputs,
  columns: readonly number[][],
  fitRows: readonly number[] | null,
  how: ConstraintFit,
): { models: ConstraintModel[]; thetas: (number[] | null)[] } | null {
  const models: ConstraintModel[] = [];
  const thetas: (number[] | null)[] = [];
  for (const [j, col] of columns.entries()) {
    thetas.push(null);
    if (!col.some((c) => c > 0)) continue;
    const n = col.length;
    let mean = 0;
    for (const c of col) mean += c;
    mean /= n;
    let sq = 0;
    for (const c of col) sq += (c - mean) ** 2;
    const std = Math.sqrt(sq / n);
    if (!(std > 1e-12) || !Number.isFinite(std)) continue;
    const y = Float64Array.from(col, (c) => (c - mean) / std);
    const fitted = fitColumn(inputs, y, fitRows, how.warm?.[j] ?? null, how);
    if (fitted === null) return null;
    thetas[j] = Array.from(fitted.theta);
    models.push({ gp: fitted.gp, threshold: -mean / std });
  }
  return { models, thetas };
}

/**
 * MAP fit of one GP on targets y (already standardised) over `inputs`, θ fitted on `fitRows`
 * (null: all rows) and warm-started from `warm` as gp-strategy.ts step 3 describes (the default θ
 * is tried too on a full fit or when `warm` is unusable), then conditioned on every row. Null when
 * a factorisation fails.
 */
export function fitColumn(
  inputs: GpInputs,
  y: Float64Array,
  fitRows: readonly number[] | null,
  warm: Float64Array | null,
  how: Omit<ConstraintFit, "warm">,
): { gp: GpPosterior; theta: Float64Array } | null {
  const { d } = inputs;
  const { prior } = how;
  let fitObjective = new GpObjective(inputs, y, prior);
  if (fitRows !== null) {
    const Xf = new Float64Array(fitRows.length * d);
    fitRows.forEach((r, i) => Xf.set(inputs.X.subarray(r * d, r * d + d), i * d));
    fitObjective = new GpObjective({ ...inputs, n: fitRows.length, X: Xf }, Float64Array.from(fitRows, (r) => y[r]!), prior);
  }
  let start = warm ?? defaultTheta(d);
  let fStart = fitObjective.value(start);
  if (warm !== null && (how.fullFit || !Number.isFinite(fStart))) {
    const fDefault = fitObjective.value(defaultTheta(d));
    if (!(fStart <= fDefault)) [start, fStart] = [defaultTheta(d), fDefault];
  }
  if (!Number.isFinite(fStart)) return null;
  const { lower, upper } = thetaBounds(d);
  const maxIter = warm === null || how.fullFit ? how.maxIter : Math.min(how.maxWarmIter, how.maxIter);
  const fit =
    maxIter === 0 ? { x: start, f: fStart }
    : minimizeLbfgs((t, g) => fitObjective.evaluate(t, g), start, {
        value: (t) => fitObjective.value(t), lower, upper, maxIter, pgtol: 0.1, ftol: 1e-4, initialStep: 0.1,
      });
  const theta = Number.isFinite(fit.f) ? fit.x : start;
  const full = fitRows === null ? fitObjective : new GpObjective(inputs, y, prior);
  if (!full.isFactoredAt(theta) && !full.factor(theta)) return null;
  return { gp: new GpPosterior(inputs, theta, full.L, full.alpha, full.jitter), theta: Float64Array.from(theta) };
}

/** log Pr[c ≤ threshold] = log Φ((threshold − μ)/σ) under N(μ, σ²); σ > 0. */
export function logPof(mean: number, sigma: number, threshold: number): number {
  return logNormalCdf((threshold - mean) / sigma);
}

/**
 * Derivatives of `logPof` with respect to μ and σ: with u = (t − μ)/σ and r = φ(u)/Φ(u)
 * (computed in log space), ∂/∂μ = −r/σ and ∂/∂σ = −r·u/σ.
 */
export function dLogPof(mean: number, sigma: number, threshold: number): { dMean: number; dSigma: number } {
  const u = (threshold - mean) / sigma;
  const r = Math.exp(logNormalPdf(u) - logNormalCdf(u));
  return { dMean: -r / sigma, dSigma: (-r * u) / sigma };
}
