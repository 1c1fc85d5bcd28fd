/**
 * A multi-fidelity benchmark: synthetic learning curves over the Hartmann6 box
 * (REFERENCE.md, "Multi-fidelity (learning-curve) synthetic"), minimised.
 *
 *   y(x, t) = y∞(x) + (y0 − y∞(x)) · (1 + t/τ(x))^(−a(x))
 *
 * - y∞(x) = Hartmann6(x) (optimum −3.32237), y0 = 0.5 (every curve starts above every y∞).
 * - Quality q(x) = (y∞(x) − f*) / (0 − f*) ∈ [0, 1], 0 best. τ(x) = 1 + 6 (1 − q(x)) (0.5 + x4):
 *   good configurations learn slowly, so some fast starters plateau worse and early rankings
 *   mislead; a(x) = 1 + 0.5 x5 sets the tail.
 * - Observation noise N(0, σ(t)²), σ(t) = 0.1 / √(1 + t), shrinking with t; deterministic for
 *   (seed, configuration key, t) so that a resumed configuration sees one consistent curve.
 * - Cost per step c(x) = 1 + x3 (for cost-aware reports; the tests count steps).
 */
import type { Params } from "../domain/distributions.js";
import { Rng } from "../math/rng.js";
import { hartmann6 } from "./benchmark-functions.js";

export const LEARNING_CURVE_Y0 = 0.5;

export interface LearningCurveProblem {
  readonly name: string;
  readonly space: typeof hartmann6.space;
  /** Best possible asymptote (Hartmann6's minimum). */
  readonly fStar: number;
  /** Largest step a trial trains to. */
  readonly maxSteps: number;
  /** y∞(x). */
  asymptote(p: Params): number;
  /** Noise-free y(x, t). */
  mean(p: Params, t: number): number;
  /** y(x, t) plus noise, reproducible for (seed, key, t). */
  observe(p: Params, t: number, seed: number, key: number | string): number;
  /** c(x): cost of one step. */
  costPerStep(p: Params): number;
}

const x = (p: Params, i: number): number => p[`x${i}`] as number;

export function learningCurveProblem(maxSteps = 81): LearningCurveProblem {
  const fStar = hartmann6.fStar;
  const shape = (p: Params) => {
    const yInf = hartmann6.evaluate(p);
    const q = Math.min(1, Math.max(0, (yInf - fStar) / -fStar));
    return { yInf, tau: 1 + 6 * (1 - q) * (0.5 + x(p, 4)), a: 1 + 0.5 * x(p, 5) };
  };
  const mean = (p: Params, t: number) => {
    const { yInf, tau, a } = shape(p);
    return yInf + (LEARNING_CURVE_Y0 - yInf) * (1 + t / tau) ** -a;
  };
  return {
    name: "learning-curve-hartmann6",
    space: hartmann6.space,
    fStar,
    maxSteps,
    asymptote: (p) => hartmann6.evaluate(p),
    mean,
    observe: (p, t, seed, key) => mean(p, t) + (0.1 / Math.sqrt(1 + t)) * new Rng(seed, String(key), t, "lc-noise").normal(),
    costPerStep: (p) => 1 + x(p, 3),
  };
}
