/**
 * The GP's view of a search space: each non-constant dimension classified for the acquisition
 * search (continuous, relaxed, discrete, categorical), its unit-cube encoding, and the test that
 * keeps the GP from proposing an earlier trial's configuration (gp-strategy.ts, step 6).
 */
import {
  type Distribution, type NumericDistribution, type ParamValue, type Params, type SearchSpace, cardinality, choiceIndex, contains, fromUnit,
  isSingleValue, toUnit,
} from "../../domain/distributions.js";
import type { Suggestion } from "../../domain/plugin.js";
import { sampleUniform } from "../../domain/sampling.js";
import type { Trial } from "../../domain/trial.js";
import { NumericalError } from "../../math/linalg.js";
import { type Rng, hashString } from "../../math/rng.js";

/** A discrete dimension with at most this many values is searched exhaustively. */
export const EXHAUSTIVE_MAX = 32;
/** How the acquisition search treats a dimension. */
export type DimKind = "cont" | "relaxed" | "discrete" | "cat";

/** One modelled dimension. */
export interface Dim {
  readonly name: string;
  readonly dist: Distribution;
  readonly kind: DimKind;
  /** Number of values (Infinity for continuous floats). */
  readonly card: number;
}

/** A dimension's kind: categorical, continuous, or discrete (exhaustive up to EXHAUSTIVE_MAX values, else relaxed). */
export function classify(name: string, dist: Distribution): Dim {
  const card = cardinality(dist);
  if (dist.type === "categorical") return { name, dist, kind: "cat", card };
  if (card === Infinity) return { name, dist, kind: "cont", card };
  return { name, dist, kind: card <= EXHAUSTIVE_MAX ? "discrete" : "relaxed", card };
}

/** The k-th grid value of a discrete numeric distribution, as a unit coordinate. */
export function gridUnit(d: NumericDistribution, k: number): number {
  const step = d.type === "int" && d.log ? 1 : (d.step ?? 1);
  return toUnit(d, fromUnit(d, toUnit(d, d.low + k * step)));
}

/** Index of the grid value nearest to unit coordinate u. */
export function gridIndex(d: NumericDistribution, u: number): number {
  const step = d.type === "int" && d.log ? 1 : (d.step ?? 1);
  return Math.round((fromUnit(d, u) - d.low) / step);
}

/** Snaps a unit coordinate onto the grid of a discrete numeric distribution. */
export function snapUnit(d: NumericDistribution, u: number): number {
  return toUnit(d, fromUnit(d, u));
}

/**
 * A test of whether a point (unit coordinates) decodes to the configuration of an earlier trial
 * of any state. The GP never proposes such a point on a space with a continuous dimension: a
 * repeat there is the model failing to register an outcome (issue 17), not a choice to
 * re-evaluate; on all-discrete spaces re-evaluating a noisy optimum can be right, so no test.
 */
export function earlierConfigurations(trials: readonly Trial[], dims: Dim[]): (x: Float64Array) => boolean {
  const seen = new Set<string>();
  for (const t of trials) if (hasAll(t, dims)) seen.add(JSON.stringify(dims.map((dim) => t.params[dim.name])));
  return (x) => seen.size > 0 && seen.has(JSON.stringify(dims.map((dim, m) => decodeDim(dim, x[m]!))));
}

/** Whether a trial has a valid value for every modelled dimension. */
export function hasAll(t: Trial, dims: Dim[]): boolean {
  for (const dim of dims) {
    const v = t.params[dim.name];
    if (v === undefined || !contains(dim.dist, v)) return false;
  }
  return true;
}

/** Writes a trial's unit-cube coordinates (categoricals as choice indices) into out[offset..]. */
export function encodeRow(t: Trial, dims: Dim[], out: Float64Array, offset: number): void {
  dims.forEach((dim, m) => {
    const v = t.params[dim.name] as ParamValue;
    out[offset + m] = dim.dist.type === "categorical" ? choiceIndex(dim.dist, v) : toUnit(dim.dist, v as number);
  });
}

/** The parameter value of unit coordinate u (categoricals: the nearest choice index). */
export function decodeDim(dim: Dim, u: number): ParamValue {
  if (dim.dist.type === "categorical") return dim.dist.choices[Math.min(dim.card - 1, Math.max(0, Math.round(u)))] as ParamValue;
  return fromUnit(dim.dist, u);
}

/** The modelled (non-constant) dimensions of a space, and the single-valued parameters, drawn as they are. */
export function modelledDims(space: SearchSpace, rng: Rng): { dims: Dim[]; params: Params } {
  const dims: Dim[] = [];
  const params: Params = {};
  for (const [name, dist] of Object.entries(space)) {
    if (isSingleValue(dist)) params[name] = sampleUniform(dist, rng);
    else dims.push(classify(name, dist));
  }
  return { dims, params };
}

/**
 * The GP strategies' last step: the model's point (unit coordinates) decoded into `params` with
 * its system attributes, or uniform random values for `dims` when the model declines (null) or
 * its numerics fail (a `NumericalError`), so that a suggestion is never NaN.
 */
export function modelOrUniform(
  dims: readonly Dim[],
  params: Params,
  rng: Rng,
  model: () => { x: Float64Array; systemAttrs: Record<string, unknown> } | null,
): Suggestion {
  try {
    const choice = model();
    if (choice !== null) {
      for (let m = 0; m < dims.length; m++) params[dims[m]!.name] = decodeDim(dims[m]!, choice.x[m]!);
      return { params, systemAttrs: choice.systemAttrs };
    }
  } catch (e) {
    if (!(e instanceof NumericalError)) throw e;
  }
  for (const dim of dims) params[dim.name] = sampleUniform(dim.dist, rng);
  return { params };
}

/**
 * Beside a stored θ (`gp_theta`, `ehvi_theta`), what its entries mean: a 32-bit hash of the modelled dimensions (name, kind,
 * number of values, in order) and whether categoricals have latent coordinates. A θ of the right
 * length fitted for other dimensions (a define-by-run space whose modelled set changed, or the
 * categorical kernel switched on a stored study) is then not taken as a warm start. Trials stored
 * before the marker existed carry none and are matched by length, as before.
 */
export const THETA_LAYOUT_ATTR = "gp_theta_layout";

/** The marker stored under {@link THETA_LAYOUT_ATTR}. */
export function thetaLayout(dims: readonly Dim[], latent: boolean): string {
  const text = (latent ? "latent|" : "hamming|") + dims.map((d) => `${d.name.length}:${d.name}:${d.kind}:${d.card}`).join("|");
  return hashString(text).toString(16).padStart(8, "0");
}
