/**
 * Log expected improvement of an augmented Chebyshev scalarisation of independent Gaussian
 * objectives: ParEGO's target (../parego) computed from one GP per objective instead of one GP
 * fitted to the scalarised values.
 *
 * Sources: Zhang, Liu, Tsang & Virginas, "Expensive Multiobjective Optimization by MOEA/D With
 * Gaussian Process Model", IEEE TEC 14(3), 2010, §III-B — the Tchebycheff aggregation of the
 * objectives' GP predictions is approximated by a Gaussian whose first two moments follow
 * Clark, "The Greatest of a Finite Set of Random Variables", Operations Research 9(2), 1961
 * (eqs. 2–5: mean, second moment and covariances of max(X, Y) for jointly Gaussian X, Y, applied
 * pairwise for more terms), and EI is taken of that Gaussian; Daulton, Balandat & Bakshy 2020, §5
 * (qParEGO scalarises the posterior of independent objective models, by Monte Carlo there).
 *
 * The scalarisation, in the models' units y (w_j = λ_j·f̂_j = c_j·y_j + e_j, f̂_j the objective
 * normalised to the feasible trials' range, as ParEGO normalises):
 *   S = max_k w_k + ρ Σ_j w_j = max_k Z_k,  Z_k = w_k + ρ Σ_j w_j  (Knowles 2006, eq. 2).
 * With y_j ~ N(μ_j, σ_j²) independent, Z is jointly Gaussian with
 *   E Z_k = m_k + ρ Σ_j m_j,  Cov(Z_k, Z_l) = δ_kl s_k² + ρ(s_k² + s_l²) + ρ² Σ_j s_j²,
 * m_j = c_j μ_j + e_j, s_j = c_j σ_j. Clark's recursion folds Z_1, …, Z_{m−1} into Z_0, and the
 * acquisition is log EI (../gp/log-ei.ts) of N(E S, Var S) below the incumbent S*. The
 * derivatives with respect to μ and σ, which the local search chains through the GPs, are
 * central differences (2m evaluations of a closed form; relative step 1e-6).
 */
import { normalCdf, normalPdf } from "../../math/special.js";
import { logEi } from "../gp/log-ei.js";

/** Smallest variance of the moment-matched S (keeps log EI finite where every σ is floored). */
const MIN_VAR = 1e-24;

export class LogChebyshevEi {
  /** After `evaluate` with gradients: ∂ log EI/∂μ_j and ∂/∂σ_j. */
  readonly dMu: Float64Array;
  readonly dSigma: Float64Array;
  private readonly m: number;
  // Scratch of `moments`: m_j, s_j², E Z_k, Cov(Z_k, Z_l) and the running Cov(max so far, Z_l).
  private readonly wMean: Float64Array;
  private readonly wVar: Float64Array;
  private readonly zMean: Float64Array;
  private readonly cov: Float64Array;
  private readonly cx: Float64Array;
  // Scratch of `evaluate`'s finite differences: the stepped μ and σ.
  private readonly muStep: Float64Array;
  private readonly sigmaStep: Float64Array;

  /**
   * @param c multipliers and `e` offsets taking model units to λ-weighted normalised objectives
   *   (w_j = c_j·y_j + e_j; c_j > 0)
   * @param rho the augmentation weight ρ
   * @param best the incumbent S* (the smallest scalarised value among feasible trials)
   */
  constructor(
    private readonly c: readonly number[],
    private readonly e: readonly number[],
    private readonly rho: number,
    private readonly best: number,
  ) {
    const m = c.length;
    this.m = m;
    this.dMu = new Float64Array(m);
    this.dSigma = new Float64Array(m);
    this.wMean = new Float64Array(m);
    this.wVar = new Float64Array(m);
    this.zMean = new Float64Array(m);
    this.cov = new Float64Array(m * m);
    this.cx = new Float64Array(m);
    this.muStep = new Float64Array(m);
    this.sigmaStep = new Float64Array(m);
  }

  /** The scalarisation S of a point in model units (for the incumbent). */
  static scalarise(y: readonly number[], c: readonly number[], e: readonly number[], rho: number): number {
    let max = -Infinity;
    let sum = 0;
    y.forEach((v, j) => {
      const w = (c[j] as number) * v + (e[j] as number);
      max = Math.max(max, w);
      sum += w;
    });
    return max + rho * sum;
  }

  /** Clark's moments of S at posterior means `mu` and standard deviations `sigma`: [mean, variance]. */
  moments(mu: ArrayLike<number>, sigma: ArrayLike<number>): [number, number] {
    const { m, c, e, rho, wMean: mean, wVar: s2, zMean, cov, cx } = this;
    let sumM = 0;
    let sumS2 = 0;
    for (let j = 0; j < m; j++) {
      const mj = (c[j] as number) * (mu[j] as number) + (e[j] as number);
      const sj = (c[j] as number) * (sigma[j] as number);
      mean[j] = mj;
      s2[j] = sj * sj;
      sumM += mj;
      sumS2 += sj * sj;
    }
    for (let k = 0; k < m; k++) {
      for (let l = 0; l < m; l++) cov[k * m + l] = (k === l ? s2[k]! : 0) + rho * (s2[k]! + s2[l]!) + rho * rho * sumS2;
      zMean[k] = mean[k]! + rho * sumM;
    }
    // Fold Z_1 … Z_{m−1} into X = Z_0, keeping Cov(X, Z_l) for the terms still to come in row 0.
    let a = zMean[0]!;
    let va = cov[0]!;
    cx.set(cov.subarray(0, m));
    for (let k = 1; k < m; k++) {
      const b = zMean[k]!;
      const vb = cov[k * m + k]!;
      const theta2 = va + vb - 2 * cx[k]!;
      if (!(theta2 > 1e-300)) {
        if (b > a) {
          a = b;
          va = vb;
          for (let l = k + 1; l < m; l++) cx[l] = cov[k * m + l]!;
        }
        continue;
      }
      const theta = Math.sqrt(theta2);
      const alpha = (a - b) / theta;
      const pa = normalCdf(alpha);
      const pb = 1 - pa;
      const phi = normalPdf(alpha);
      const ex = a * pa + b * pb + theta * phi;
      const ex2 = (a * a + va) * pa + (b * b + vb) * pb + (a + b) * theta * phi;
      for (let l = k + 1; l < m; l++) cx[l] = cx[l]! * pa + cov[k * m + l]! * pb;
      a = ex;
      va = Math.max(ex2 - ex * ex, 0);
    }
    return [a, va];
  }

  private logEiAt(mu: ArrayLike<number>, sigma: ArrayLike<number>): number {
    const [mean, variance] = this.moments(mu, sigma);
    return logEi(mean, Math.sqrt(Math.max(variance, MIN_VAR)), this.best);
  }

  /** log EI of S at posterior means `mu` and standard deviations `sigma` (> 0); with `gradient`, fills dMu/dSigma. */
  evaluate(mu: ArrayLike<number>, sigma: ArrayLike<number>, gradient = false): number {
    const v = this.logEiAt(mu, sigma);
    if (!gradient) return v;
    const { m, muStep: mus, sigmaStep: sig } = this;
    mus.set(mu);
    sig.set(sigma);
    // Central differences in one coordinate of `at` (mus or sig), stepped back afterwards.
    const central = (at: Float64Array, j: number, h: number): number => {
      at[j] = at[j]! + h;
      const up = this.logEiAt(mus, sig);
      at[j] = at[j]! - 2 * h;
      const down = this.logEiAt(mus, sig);
      at[j] = at[j]! + h;
      return (up - down) / (2 * h);
    };
    for (let j = 0; j < m; j++) {
      this.dMu[j] = central(mus, j, 1e-6 * Math.max(1, Math.abs(mus[j]!)));
      this.dSigma[j] = central(sig, j, 1e-6 * sig[j]!);
    }
    return v;
  }
}
