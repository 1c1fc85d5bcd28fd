/**
 * Constrained one-objective benchmark problems (minimised, constraints c ≤ 0 satisfied), each with
 * its unconstrained optimum cut off by the constraints. Used by the c-TPE tests and by
 * bench/ctpe-compare.ts. Part of the testing kit, not of `dist`.
 */
import type { Params, SearchSpace } from "../domain/distributions.js";
import { hartmann6 } from "./benchmark-functions.js";

/** A constrained problem: objective, constraint vector, and the best feasible value known. */
export interface ConstrainedProblem {
  readonly name: string;
  readonly space: SearchSpace;
  /** Best feasible value (from the cited source or the analytic solution), null where unknown. */
  readonly fStar: number | null;
  evaluate(p: Params): number;
  constraints(p: Params): number[];
}

const num = (p: Params, k: string): number => p[k] as number;
const unitBox = (d: number): SearchSpace =>
  Object.fromEntries(Array.from({ length: d }, (_, i) => [`x${i}`, { type: "float" as const, low: 0, high: 1 }]));

/**
 * Rosenbrock on [-1.5, 1.5] × [-0.5, 2.5] restricted to the unit disk x² + y² ≤ 1, which cuts off
 * the unconstrained optimum (1, 1); constrained optimum ≈ (0.7864, 0.6177), f ≈ 0.045678
 * (Simionescu & Beale's "Rosenbrock constrained to a disk", with radius 1 instead of √2).
 */
export const rosenbrockDisk: ConstrainedProblem = {
  name: "rosenbrock-disk",
  space: { x: { type: "float", low: -1.5, high: 1.5 }, y: { type: "float", low: -0.5, high: 2.5 } },
  fStar: 0.045678,
  evaluate: (p) => (1 - num(p, "x")) ** 2 + 100 * (num(p, "y") - num(p, "x") ** 2) ** 2,
  constraints: (p) => [num(p, "x") ** 2 + num(p, "y") ** 2 - 1],
};

/**
 * Gramacy et al., "Modeling an Augmented Lagrangian for Blackbox Constrained Optimization"
 * (Technometrics 2016), §4.1 toy problem: min x + y on [0, 1]² s.t.
 * c₁ = 1.5 − x − 2y − 0.5 sin(2π(x² − 2y)) ≤ 0 and c₂ = x² + y² − 1.5 ≤ 0; best ≈ 0.5998.
 */
export const gramacy: ConstrainedProblem = {
  name: "gramacy",
  space: unitBox(2),
  fStar: 0.5998,
  evaluate: (p) => num(p, "x0") + num(p, "x1"),
  constraints: (p) => {
    const x = num(p, "x0");
    const y = num(p, "x1");
    return [1.5 - x - 2 * y - 0.5 * Math.sin(2 * Math.PI * (x * x - 2 * y)), x * x + y * y - 1.5];
  },
};

/**
 * A 4-D shifted sphere Σ (x_i − 0.8)² on [0, 1]⁴ under the linear budget Σ x_i ≤ 1.5, whose optimum
 * is the projection x_i = 0.375, f = 4 · 0.425² = 0.7225; about 1/3 of the box is feasible.
 */
export const sphereBudget4: ConstrainedProblem = {
  name: "sphere4-budget",
  space: unitBox(4),
  fStar: 0.7225,
  evaluate: (p) => [0, 1, 2, 3].reduce((s, i) => s + (num(p, `x${i}`) - 0.8) ** 2, 0),
  constraints: (p) => [[0, 1, 2, 3].reduce((s, i) => s + num(p, `x${i}`), 0) - 1.5],
};

/**
 * Hartmann-6 under ‖x‖₁ ≤ 1.5, which cuts off its optimum (‖x*‖₁ ≈ 2.09); the feasible set is
 * 1.5⁶/6! ≈ 1.6 % of the box, the few-feasible-points case (the constrained-Hartmann-6 setting of
 * the constrained-BO literature, e.g. BoTorch's tutorials, with a tighter budget). Best feasible
 * value unknown.
 */
export const hartmann6L1: ConstrainedProblem = {
  name: "hartmann6-l1",
  space: hartmann6.space,
  fStar: null,
  evaluate: (p) => hartmann6.evaluate(p),
  constraints: (p) => [[0, 1, 2, 3, 4, 5].reduce((s, i) => s + num(p, `x${i}`), 0) - 1.5],
};

/** Every constrained problem, in the benchmark's order. */
export const CONSTRAINED_PROBLEMS: readonly ConstrainedProblem[] = [rosenbrockDisk, gramacy, sphereBudget4, hartmann6L1];
