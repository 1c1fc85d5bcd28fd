/**
 * Expected hypervolume improvement under independent Gaussian posteriors, in log space, with its
 * gradient: the acquisition of the `ehvi` strategy.
 *
 * Sources:
 * - Emmerich, Giannakoglou & Naujoks, "Single- and Multiobjective Evolutionary Optimization
 *   Assisted by Gaussian Random Field Metamodels", IEEE TEC 10(4), 2006, and Yang, Emmerich, Deutz
 *   & Bäck, "Computing 3-D Expected Hypervolume Improvement and Related Integrals in Asymptotically
 *   Optimal Time" (EMO 2017): EHVI as a sum over boxes of the non-dominated region, each a product
 *   of one-dimensional integrals when the objectives' posteriors are independent.
 * - Daulton, Balandat & Bakshy, "Differentiable Expected Hypervolume Improvement for Parallel
 *   Multi-Objective Bayesian Optimization" (NeurIPS 2020), §3 and App. A: the box-decomposition
 *   form HVI(y) = Σ_k Π_j [u_kj − max(l_kj, y_j)]⁺ (minimisation here), which BoTorch's analytic
 *   `ExpectedHypervolumeImprovement` evaluates in expectation.
 * - Ament et al., "Unexpected Improvements to Expected Improvement for Bayesian Optimization"
 *   (NeurIPS 2023), §4 and App. for qLogEHVI: compute the acquisition in log space so that it
 *   never underflows to a flat zero far from the front.
 *
 * The one-dimensional integral. For Y ~ N(μ, σ²), a box side [l, u] (l may be −∞),
 * a = (l − μ)/σ, b = (u − μ)/σ and h(z) = zΦ(z) + φ(z) (LogEI's h, whose derivative is Φ):
 *   ψ = E[(u − max(l, Y))⁺] = σ·(h(b) − h(a)),
 *   ∂ψ/∂μ = −(Φ(b) − Φ(a)),   ∂ψ/∂σ = φ(b) − φ(a).
 * With l = −∞ this is EI with incumbent u. log ψ = log σ + log h(b) + log(1 − e^{log h(a) − log h(b)}),
 * each log h from `logH` (stable far into the tails), so log EHVI = logsumexp_k Σ_j log ψ_kj.
 *
 * The boxes. Minimisation, front P (mutually non-dominated, every point strictly below the
 * reference r): each objective's grid g_j = (−∞, sorted distinct p_j, r_j). The cells of the grid
 * over the first m − 1 objectives are taken one by one; for a cell with lower corner L, the
 * non-dominated part of its column along the last objective is (−∞, t] with t the smallest
 * p_m among the points whose first m − 1 coordinates are ≤ L (r_m when there is none). That gives
 * (|P| + 1)^(m − 1) boxes: |P| + 1 for two objectives, (|P| + 1)² for three.
 * Because every box side is a grid interval, ψ is computed once per grid interval and candidate
 * (O(m·|P|) transcendental calls), and a box only adds m of those logs.
 */
import { logNormalCdf, logNormalPdf } from "../../math/special.js";
import { logH } from "../gp/log-ei.js";

/** The box decomposition of the region a front does not dominate, bounded by the reference point. */
export interface Boxes {
  readonly m: number;
  /** Per objective the grid (−∞, sorted distinct front coordinates, reference). */
  readonly grid: readonly Float64Array[];
  /** Box k, objective j < m − 1: the index i of its side [grid[j][i], grid[j][i + 1]] (`cell[k·(m−1) + j]`). */
  readonly cell: Int32Array;
  /** Box k: the index of its upper end along the last objective (lower end −∞). */
  readonly top: Int32Array;
  readonly count: number;
}

/**
 * The boxes of the region within `ref` that no point of `front` dominates (minimisation). Points
 * not strictly below `ref` in every objective and dominated points are ignored.
 */
export function nonDominatedBoxes(front: readonly (readonly number[])[], ref: readonly number[]): Boxes {
  const m = ref.length;
  if (m < 2) throw new Error("EHVI needs at least two objectives");
  const inside = front.filter((p) => p.length === m && p.every((v, j) => v < ref[j]!));
  const grid = ref.map((r, j) => Float64Array.from([-Infinity, ...[...new Set(inside.map((p) => p[j]!))].sort((a, b) => a - b), r]));
  const last = m - 1;
  const lastIndex = new Map<number, number>();
  grid[last]!.forEach((v, i) => lastIndex.set(v, i));
  const cells: number[] = [];
  const tops: number[] = [];
  // Odometer over the cells of the first m − 1 objectives.
  const idx = new Array<number>(last).fill(0);
  const sizes = grid.slice(0, last).map((g) => g.length - 1);
  for (;;) {
    let t = ref[last]!;
    for (const p of inside) {
      let below = true;
      for (let j = 0; j < last && below; j++) below = p[j]! <= grid[j]![idx[j]!]!;
      if (below && p[last]! < t) t = p[last]!;
    }
    cells.push(...idx);
    tops.push(lastIndex.get(t)!);
    let j = 0;
    while (j < last && ++idx[j]! === sizes[j]!) idx[j++] = 0;
    if (j === last) break;
  }
  return { m, grid, cell: Int32Array.from(cells), top: Int32Array.from(tops), count: tops.length };
}

/** The hypervolume improvement of one point y: Σ_k Π_j [u_kj − max(l_kj, y_j)]⁺ (used by tests and checks). */
export function hypervolumeImprovement(boxes: Boxes, y: readonly number[]): number {
  const { m, grid, cell, top, count } = boxes;
  let total = 0;
  for (let k = 0; k < count; k++) {
    let v = 1;
    for (let j = 0; j < m && v > 0; j++) {
      const lo = j < m - 1 ? grid[j]![cell[k * (m - 1) + j]!]! : -Infinity;
      const hi = j < m - 1 ? grid[j]![cell[k * (m - 1) + j]! + 1]! : grid[j]![top[k]!]!;
      v *= Math.max(0, hi - Math.max(lo, y[j]!));
    }
    total += v;
  }
  return total;
}

/**
 * Evaluates log EHVI and, on request, its derivatives with respect to each objective's posterior
 * mean and standard deviation. Buffers are allocated once per front.
 */
export class LogEhvi {
  /** log ψ per objective and grid interval [grid[i], grid[i + 1]] (objectives 0 … m − 2). */
  private readonly cellLog: Float64Array[];
  private readonly cellDMu: Float64Array[];
  private readonly cellDSigma: Float64Array[];
  /** log ψ per upper grid index of the last objective (side (−∞, grid[i]]). */
  private readonly topLog: Float64Array;
  private readonly topDMu: Float64Array;
  private readonly topDSigma: Float64Array;
  private readonly s: Float64Array;
  /** After `evaluate` with gradients: ∂ log EHVI/∂μ_j and ∂/∂σ_j. */
  readonly dMu: Float64Array;
  readonly dSigma: Float64Array;

  constructor(readonly boxes: Boxes) {
    const { m, grid } = boxes;
    this.cellLog = grid.slice(0, m - 1).map((g) => new Float64Array(g.length - 1));
    this.cellDMu = grid.slice(0, m - 1).map((g) => new Float64Array(g.length - 1));
    this.cellDSigma = grid.slice(0, m - 1).map((g) => new Float64Array(g.length - 1));
    const gl = grid[m - 1]!.length;
    this.topLog = new Float64Array(gl);
    this.topDMu = new Float64Array(gl);
    this.topDSigma = new Float64Array(gl);
    this.s = new Float64Array(boxes.count);
    this.dMu = new Float64Array(m);
    this.dSigma = new Float64Array(m);
  }

  /** log EHVI at posterior means `mu` and standard deviations `sigma` (> 0); with `gradient`, fills dMu/dSigma. */
  evaluate(mu: ArrayLike<number>, sigma: ArrayLike<number>, gradient = false): number {
    const { m, grid, cell, top, count } = this.boxes;
    for (let j = 0; j < m - 1; j++) {
      const g = grid[j]!;
      for (let i = 0; i + 1 < g.length; i++) {
        side(g[i]!, g[i + 1]!, mu[j]!, sigma[j]!, gradient, this.cellLog[j]!, this.cellDMu[j]!, this.cellDSigma[j]!, i);
      }
    }
    const gl = grid[m - 1]!;
    for (let i = 1; i < gl.length; i++) side(-Infinity, gl[i]!, mu[m - 1]!, sigma[m - 1]!, gradient, this.topLog, this.topDMu, this.topDSigma, i);
    let max = -Infinity;
    const s = this.s;
    for (let k = 0; k < count; k++) {
      let v = this.topLog[top[k]!]!;
      for (let j = 0; j < m - 1; j++) v += this.cellLog[j]![cell[k * (m - 1) + j]!]!;
      s[k] = v;
      if (v > max) max = v;
    }
    if (max === -Infinity) {
      this.dMu.fill(0);
      this.dSigma.fill(0);
      return -Infinity;
    }
    let sum = 0;
    for (let k = 0; k < count; k++) sum += Math.exp(s[k]! - max);
    const log = max + Math.log(sum);
    if (gradient) {
      this.dMu.fill(0);
      this.dSigma.fill(0);
      for (let k = 0; k < count; k++) {
        const w = Math.exp(s[k]! - log);
        if (w === 0) continue;
        for (let j = 0; j < m - 1; j++) {
          const i = cell[k * (m - 1) + j]!;
          this.dMu[j]! += w * this.cellDMu[j]![i]!;
          this.dSigma[j]! += w * this.cellDSigma[j]![i]!;
        }
        const t = top[k]!;
        this.dMu[m - 1]! += w * this.topDMu[t]!;
        this.dSigma[m - 1]! += w * this.topDSigma[t]!;
      }
    }
    return log;
  }
}

/** log ψ of one side [l, u] at N(μ, σ²) into out[i] (see the header), and its derivatives on request. */
function side(l: number, u: number, mu: number, sigma: number, gradient: boolean, out: Float64Array, dMu: Float64Array, dSigma: Float64Array, i: number): void {
  const b = (u - mu) / sigma;
  const lb = logH(b);
  let logD = lb;
  let a = -Infinity;
  let la = -Infinity;
  if (l !== -Infinity) {
    a = (l - mu) / sigma;
    la = logH(a);
    const r = la - lb;
    logD = r < 0 ? lb + Math.log1p(-Math.exp(r)) : -Infinity;
  }
  out[i] = Math.log(sigma) + logD;
  if (!gradient) return;
  if (logD === -Infinity) {
    dMu[i] = 0;
    dSigma[i] = 0;
    return;
  }
  // ∂ log ψ/∂μ = −(Φ(b) − Φ(a))/(σ·D), ∂ log ψ/∂σ = (φ(b) − φ(a))/(σ·D), D = h(b) − h(a), in log space.
  const cdf = Math.exp(logNormalCdf(b) - logD) - (a === -Infinity ? 0 : Math.exp(logNormalCdf(a) - logD));
  const pdf = Math.exp(logNormalPdf(b) - logD) - (a === -Infinity ? 0 : Math.exp(logNormalPdf(a) - logD));
  dMu[i] = -cdf / sigma;
  dSigma[i] = pdf / sigma;
}
