/** Uniform draws in the unit-cube encoding, shared by strategies, schedulers and the service. */
import type { Rng } from "../math/rng.js";
import { type Distribution, type ParamValue, fromUnit } from "./distributions.js";

/**
 * A uniform draw from a distribution: uniform in log space for log dimensions, each grid
 * value equally likely for int and stepped dimensions, each choice equally likely.
 * Consumes exactly one draw of `rng`.
 */
export function sampleUniform(d: Distribution, rng: Rng): ParamValue {
  if (d.type === "categorical") return d.choices[rng.int(d.choices.length)] as ParamValue;
  return fromUnit(d, rng.random());
}
