/**
 * Benchmark objectives (all minimised) used by the statistical tests and by bench/.
 * Definitions and optima follow ../shared/REFERENCE.md (SFU/BoTorch definitions).
 * Functions whose optimum sits at the centre are shifted by a per-seed offset so that
 * grid search and centre-biased strategies get no free win.
 */
import type { Params, SearchSpace } from "../domain/distributions.js";
import { Rng } from "../math/rng.js";

export interface BenchmarkProblem {
  readonly name: string;
  readonly space: SearchSpace;
  readonly fStar: number;
  evaluate(p: Params): number;
}

const num = (p: Params, k: string): number => p[k] as number;
const box = (d: number, low: number, high: number): SearchSpace =>
  Object.fromEntries(Array.from({ length: d }, (_, i) => [`x${i}`, { type: "float" as const, low, high }]));
const vec = (p: Params, d: number): number[] => Array.from({ length: d }, (_, i) => num(p, `x${i}`));

export const branin: BenchmarkProblem = {
  name: "branin",
  space: { x0: { type: "float", low: -5, high: 10 }, x1: { type: "float", low: 0, high: 15 } },
  fStar: 0.397887,
  evaluate(p) {
    const x1 = num(p, "x0");
    const x2 = num(p, "x1");
    const b = 5.1 / (4 * Math.PI * Math.PI);
    const c = 5 / Math.PI;
    const t = 1 / (8 * Math.PI);
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
  },
};

const ALPHA = [1.0, 1.2, 3.0, 3.2];
const A3 = [[3, 10, 30], [0.1, 10, 35], [3, 10, 30], [0.1, 10, 35]];
const P3 = [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]].map((r) => r.map((v) => v * 1e-4));
const A6 = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const P6 = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((r) => r.map((v) => v * 1e-4));

function hartmann(x: number[], A: number[][], P: number[][]): number {
  let outer = 0;
  for (let i = 0; i < 4; i++) {
    let inner = 0;
    for (let j = 0; j < x.length; j++) inner += (A[i]![j] as number) * ((x[j] as number) - (P[i]![j] as number)) ** 2;
    outer += (ALPHA[i] as number) * Math.exp(-inner);
  }
  return -outer;
}

export const hartmann3: BenchmarkProblem = {
  name: "hartmann3",
  space: box(3, 0, 1),
  fStar: -3.86278,
  evaluate: (p) => hartmann(vec(p, 3), A3, P3),
};

export const hartmann6: BenchmarkProblem = {
  name: "hartmann6",
  space: box(6, 0, 1),
  fStar: -3.32237,
  evaluate: (p) => hartmann(vec(p, 6), A6, P6),
};

/** A per-seed offset inside the middle half of each dimension's range, so the optimum stays inside the box. */
function shiftFor(d: number, low: number, high: number, seed: number): number[] {
  const rng = new Rng(seed, "shift");
  return Array.from({ length: d }, () => rng.uniform(-0.25, 0.25) * (high - low));
}

/** Rosenbrock: optimum 0 at (1,…,1) + shift. Domain [−5, 10]^d. */
export function shiftedRosenbrock(d: number, seed: number): BenchmarkProblem {
  const s = shiftFor(d, -5, 10, seed).map((v) => Math.max(-5, Math.min(8, v)));
  return {
    name: `rosenbrock${d}`,
    space: box(d, -5, 10),
    fStar: 0,
    evaluate(p) {
      const x = vec(p, d).map((v, i) => v - (s[i] as number));
      let f = 0;
      for (let i = 0; i < d - 1; i++) f += 100 * ((x[i + 1] as number) - (x[i] as number) ** 2) ** 2 + (1 - (x[i] as number)) ** 2;
      return f;
    },
  };
}

/** Ackley: optimum 0 at the shift. Domain [−32.768, 32.768]^d. */
export function shiftedAckley(d: number, seed: number): BenchmarkProblem {
  const s = shiftFor(d, -32.768, 32.768, seed);
  return {
    name: `ackley${d}`,
    space: box(d, -32.768, 32.768),
    fStar: 0,
    evaluate(p) {
      const x = vec(p, d).map((v, i) => v - (s[i] as number));
      const sq = x.reduce((a, v) => a + v * v, 0) / d;
      const cs = x.reduce((a, v) => a + Math.cos(2 * Math.PI * v), 0) / d;
      return -20 * Math.exp(-0.2 * Math.sqrt(sq)) - Math.exp(cs) + 20 + Math.E;
    },
  };
}

/**
 * A mixed problem: an integer, a log float and a categorical that picks one of three
 * shifted bowls. Optimum 0 with fn="b", k=3, lr=1e-3 (log10 distance), u=0.3.
 */
export const mixedProblem: BenchmarkProblem = {
  name: "mixed",
  space: {
    fn: { type: "categorical", choices: ["a", "b", "c"] },
    k: { type: "int", low: 0, high: 10 },
    lr: { type: "float", low: 1e-5, high: 1, log: true },
    u: { type: "float", low: 0, high: 1 },
  },
  fStar: 0,
  evaluate(p) {
    const penalty = { a: 1.5, b: 0, c: 0.7 }[p.fn as "a" | "b" | "c"];
    const k = num(p, "k");
    const lr = Math.log10(num(p, "lr"));
    const u = num(p, "u");
    return penalty + 0.1 * (k - 3) ** 2 + (lr + 3) ** 2 * 0.5 + 4 * (u - 0.3) ** 2;
  },
};

export const HARTMANN6_ARGMIN = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573];
