/**
 * The Gaussian-process surrogate of the `gp` strategy: a Matérn-5/2 ARD kernel on the
 * unit cube with Hamming distance on categorical dimensions, MAP hyperparameters, and
 * the posterior with gradients for acquisition search.
 *
 * Sources:
 * - Rasmussen & Williams, "Gaussian Processes for Machine Learning" (MIT Press 2006):
 *   eq. 4.17 (Matérn ν = 5/2), Alg. 2.1 (prediction by Cholesky), eq. 5.8–5.9
 *   (log marginal likelihood and its gradient ½·tr((ααᵀ − K⁻¹)·∂K/∂θ)).
 * - Categorical dimensions enter the squared distance as λ·[x ≠ x'] (a Hamming distance
 *   with its own inverse squared lengthscale λ), as in Optuna 5.0's GPSampler.
 * - Priors (MAP): on the signal variance s², Gamma(2, 1); on the noise variance, Gamma(1.1, 30);
 *   noise ≥ 1e-6 (Optuna 5.0 GPSampler's heuristics: noise small for mostly deterministic
 *   objectives). On each inverse squared lengthscale λ = 1/ℓ², one of (`LengthscalePrior`):
 *   - "optuna" (the default): log p = −(0.1/λ + 0.1·λ), Optuna 5.0's, which keeps ℓ near 1
 *     whatever d;
 *   - "dim-scaled": Hvarfner, Hellsten & Nardi, "Vanilla Bayesian Optimization Performs Great
 *     in High Dimensions" (ICML 2024), §4, BoTorch's default since 0.12:
 *     ℓ ~ LogNormal(√2 + ½·log d, √3), i.e. log λ ~ N(−2√2 − log d, 12), so lengthscales grow
 *     like √d. Not the default: with this Matérn-5/2 model and LogEI it fits ℓ ≈ 10–20 on a
 *     20-D sphere, the posterior mean turns into a near-linear trend, and EI sends 12–19 of 20
 *     coordinates to the bounds (docs/BENCHMARKS.md, GP ablations).
 *
 * Hyperparameters are optimised in log space: θ = [log λ_1..λ_d, log s², log(σ²_n − 1e-6)], followed
 * by the latent coordinates of the categorical choices under `categoricalKernel: "latent"`
 * (gp-categorical.ts; there a categorical's term is λ·‖z_a − z_b‖² instead of λ·[a ≠ b]).
 * Every buffer is preallocated per fit, so the evaluations inside L-BFGS allocate nothing.
 */
import type { LatentEmbedding } from "./gp-categorical.js";
import { NumericalError, cholesky, choleskyInverse, dot, logDetFromCholesky, solveLower, solveUpperT } from "../../math/linalg.js";

export const MIN_NOISE = 1e-6;
const SQRT5 = Math.sqrt(5);
const LOG_2PI = Math.log(2 * Math.PI);

/** Training inputs: n points of d coordinates (row-major), categorical coordinates hold choice indices. */
export interface GpInputs {
  readonly n: number;
  readonly d: number;
  readonly X: Float64Array;
  /** 1 where the dimension is categorical. */
  readonly isCat: Uint8Array;
  /** The latent embedding of the categorical choices (gp-categorical.ts); absent: the Hamming term. */
  readonly latent?: LatentEmbedding | undefined;
}

/** Length of θ for these inputs: d + 2, plus the latent coordinates of any embedding. */
export function thetaLength(inputs: Pick<GpInputs, "d" | "latent">): number {
  return inputs.d + 2 + (inputs.latent?.size ?? 0);
}

/** The prior on the inverse squared lengthscales (see the file header). */
export type LengthscalePrior = "optuna" | "dim-scaled";

/** Mean and variance of log λ under the "dim-scaled" prior for d modelled dimensions. */
export function dimScaledLogLambda(d: number): { mean: number; variance: number } {
  return { mean: -2 * Math.SQRT2 - Math.log(Math.max(1, d)), variance: 12 };
}

/**
 * Default starting hyperparameters: λ = 1, s² = 1, σ²_n = 1e-2 (plus the floor), whatever the
 * prior. Not the dimension-scaled prior's mode: there (ℓ ≈ 4√d) the kernel is nearly flat,
 * the likelihood's gradient in log λ is tiny, and L-BFGS's gradient test stops at the start.
 */
export function defaultTheta(d: number, latent?: LatentEmbedding): Float64Array {
  const t = new Float64Array(d + 2);
  t[d + 1] = Math.log(1e-2);
  return latent === undefined ? t : latent.extendTheta(t);
}

/** Box for θ during the fit (log space). Wide; the priors keep the MAP well inside. */
export function thetaBounds(d: number, latent?: LatentEmbedding): { lower: Float64Array; upper: Float64Array } {
  const lower = new Float64Array(d + 2).fill(-12);
  const upper = new Float64Array(d + 2).fill(12);
  lower[d + 1] = -25;
  upper[d + 1] = 2;
  return latent === undefined ? { lower, upper } : latent.extendBounds({ lower, upper });
}

/** Matérn-5/2 correlation as a function of r² (without the signal variance). */
export function matern52(r2: number): number {
  const r = Math.sqrt(r2);
  return (1 + SQRT5 * r + (5 / 3) * r2) * Math.exp(-SQRT5 * r);
}

/** d matern52 / d(r²) = −(5/6)(1 + √5 r)e^{−√5 r}; finite at r = 0. */
export function matern52dR2(r2: number): number {
  const r = Math.sqrt(r2);
  return (-5 / 6) * (1 + SQRT5 * r) * Math.exp(-SQRT5 * r);
}

/**
 * The negative log posterior of θ (negative log marginal likelihood minus log prior,
 * up to a constant) with its analytic gradient, for fixed inputs and standardised targets.
 * Reuses one set of buffers across calls.
 */
export class GpObjective {
  readonly n: number;
  readonly d: number;
  private readonly pairD: Float64Array; // per pair (i > j), per dim: squared difference or Hamming
  private readonly dk: Float64Array; // per pair: s²·dk/d(r²)
  private readonly K: Float64Array;
  readonly L: Float64Array;
  private readonly Kinv: Float64Array;
  private readonly work: Float64Array;
  readonly alpha: Float64Array;
  private readonly lambda: Float64Array;
  /** Jitter added by the last successful factorisation. */
  jitter = 0;
  private readonly factoredAt: Float64Array;
  /** With a latent embedding: per pair and embedded parameter, the choice pair a·c + b; its distance tables and gradient sums. */
  private readonly latentPairs: Int32Array | null = null;
  private readonly latentTables: Float64Array[];
  private readonly latentSums: Float64Array[];

  constructor(
    readonly inputs: GpInputs,
    readonly y: Float64Array,
    readonly prior: LengthscalePrior = "optuna",
  ) {
    const { n, d, X, isCat } = inputs;
    this.n = n;
    this.d = d;
    const pairs = (n * (n - 1)) / 2;
    this.pairD = new Float64Array(pairs * d);
    let p = 0;
    for (let i = 1; i < n; i++)
      for (let j = 0; j < i; j++, p++)
        for (let m = 0; m < d; m++) {
          const a = X[i * d + m]!;
          const b = X[j * d + m]!;
          this.pairD[p * d + m] = isCat[m] ? (a === b ? 0 : 1) : (a - b) * (a - b);
        }
    this.dk = new Float64Array(pairs);
    this.K = new Float64Array(n * n);
    this.L = new Float64Array(n * n);
    this.Kinv = new Float64Array(n * n);
    this.work = new Float64Array(n * n);
    this.alpha = new Float64Array(n);
    this.lambda = new Float64Array(d);
    this.factoredAt = new Float64Array(thetaLength(inputs)).fill(NaN);
    const latent = inputs.latent;
    this.latentTables = latent?.cards.map((c) => new Float64Array(c * c)) ?? [];
    this.latentSums = latent?.cards.map((c) => new Float64Array(c * c)) ?? [];
    if (latent !== undefined) {
      const nl = latent.dims.length;
      this.latentPairs = new Int32Array(pairs * nl);
      let q = 0;
      for (let i = 1; i < n; i++)
        for (let j = 0; j < i; j++, q++)
          for (let l = 0; l < nl; l++) this.latentPairs[q * nl + l] = X[i * d + latent.dims[l]!]! * latent.cards[l]! + X[j * d + latent.dims[l]!]!;
    }
  }

  /** Refreshes the embedded parameters' entries of `pairD` (‖z_a − z_b‖²) at θ. */
  private embed(theta: ArrayLike<number>): void {
    const [latent, lp, table] = [this.inputs.latent!, this.latentPairs!, this.latentTables];
    const nl = latent.dims.length;
    for (let l = 0; l < nl; l++) {
      latent.distances(theta, l, table[l]!);
      const m = latent.dims[l]!;
      for (let p = 0; p < this.dk.length; p++) this.pairD[p * this.d + m] = table[l]![lp[p * nl + l]!]!;
    }
  }

  /**
   * Builds K(θ) and factors it into `this.L`, `this.alpha` (nothing to do when they already
   * hold θ's). Returns false when the factorisation fails (the caller treats θ as infeasible).
   */
  factor(theta: ArrayLike<number>): boolean {
    if (this.isFactoredAt(theta)) return true;
    const { n, d, K, pairD, dk, lambda } = this;
    this.factoredAt.fill(NaN);
    if (this.latentPairs !== null) this.embed(theta);
    for (let m = 0; m < d; m++) lambda[m] = Math.exp(theta[m]!);
    const s2 = Math.exp(theta[d]!);
    const noise = MIN_NOISE + Math.exp(theta[d + 1]!);
    let p = 0;
    for (let i = 1; i < n; i++) {
      const ri = i * n;
      for (let j = 0; j < i; j++, p++) {
        let r2 = 0;
        const o = p * d;
        for (let m = 0; m < d; m++) r2 += lambda[m]! * pairD[o + m]!;
        const r = Math.sqrt(r2);
        const e = Math.exp(-SQRT5 * r);
        const kv = s2 * (1 + SQRT5 * r + (5 / 3) * r2) * e;
        K[ri + j] = kv;
        K[j * n + i] = kv;
        dk[p] = s2 * (-5 / 6) * (1 + SQRT5 * r) * e;
      }
      K[ri + i] = s2 + noise;
    }
    if (n > 0) K[0] = s2 + noise;
    try {
      this.jitter = cholesky(K, n, this.L);
    } catch (e) {
      if (e instanceof NumericalError) return false;
      throw e;
    }
    solveLower(this.L, n, this.y, this.alpha);
    solveUpperT(this.L, n, this.alpha, this.alpha);
    for (let k = 0; k < this.factoredAt.length; k++) this.factoredAt[k] = theta[k]!;
    return true;
  }

  /** Whether `L` and `alpha` currently hold the factorisation at exactly this θ. */
  isFactoredAt(theta: ArrayLike<number>): boolean {
    for (let k = 0; k < this.factoredAt.length; k++) if (!(this.factoredAt[k] === theta[k])) return false;
    return true;
  }

  /** Negative log posterior at θ without its gradient (one factorisation, no inverse). */
  value(theta: Float64Array): number {
    if (!this.factor(theta)) return NaN;
    return this.nll() - logPrior(theta, this.d, this.prior) + (this.inputs.latent?.negLogPrior(theta) ?? 0);
  }

  private nll(): number {
    const { n, y, alpha } = this;
    let yAlpha = 0;
    for (let i = 0; i < n; i++) yAlpha += y[i]! * alpha[i]!;
    return 0.5 * yAlpha + 0.5 * logDetFromCholesky(this.L, n) + 0.5 * n * LOG_2PI;
  }

  /** Negative log posterior at θ; writes its gradient into `grad`. NaN when K is not factorable. */
  evaluate(theta: Float64Array, grad: Float64Array): number {
    const { n, d, K, Kinv, pairD, dk, alpha, lambda } = this;
    if (!this.factor(theta)) {
      grad.fill(NaN);
      return NaN;
    }
    const s2 = Math.exp(theta[d]!);
    const en = Math.exp(theta[d + 1]!);
    const noise = MIN_NOISE + en;
    const nll = this.nll();

    choleskyInverse(this.L, n, Kinv, this.work);
    // d(LML)/dθ = ½·Σ_ij W_ij ∂K_ij/∂θ with W = ααᵀ − K⁻¹; pairs count twice (symmetry).
    grad.fill(0);
    let trW = 0;
    let sumWK = 0;
    for (let i = 0; i < n; i++) trW += alpha[i]! * alpha[i]! - Kinv[i * n + i]!;
    let p = 0;
    for (let i = 1; i < n; i++) {
      const ri = i * n;
      const ai = alpha[i]!;
      for (let j = 0; j < i; j++, p++) {
        const w = ai * alpha[j]! - Kinv[ri + j]!;
        sumWK += w * K[ri + j]!;
        const c = w * dk[p]!;
        const o = p * d;
        for (let m = 0; m < d; m++) grad[m] = grad[m]! + c * pairD[o + m]!;
      }
    }
    if (this.latentPairs !== null) this.latentGradient(theta, grad);
    // grad holds Σ_pairs W·dk·D; the chain rule through log λ multiplies by λ; sign flips for the nll.
    for (let m = 0; m < d; m++) grad[m] = -grad[m]! * lambda[m]!;
    grad[d] = -0.5 * (trW * s2 + 2 * sumWK);
    grad[d + 1] = -0.5 * trW * en;

    // Log priors (added to the log likelihood, so subtracted here), differentiated in θ.
    if (this.prior === "dim-scaled") {
      const { mean, variance } = dimScaledLogLambda(d);
      for (let m = 0; m < d; m++) grad[m] = grad[m]! + (theta[m]! - mean) / variance;
    } else {
      for (let m = 0; m < d; m++) {
        const l = lambda[m]!;
        grad[m] = grad[m]! - (0.1 / l - 0.1 * l);
      }
    }
    grad[d] = grad[d]! - (1 - s2);
    grad[d + 1] = grad[d + 1]! - (0.1 / noise - 30) * en;
    return nll - logPrior(theta, d, this.prior) + (this.inputs.latent?.negLogPrior(theta) ?? 0);
  }

  /** The latent coordinates' gradient (gp-categorical.ts): Σ W·dk summed per choice pair, after `evaluate`'s inverse. */
  private latentGradient(theta: Float64Array, grad: Float64Array): void {
    const { n, Kinv, alpha, dk, lambda } = this;
    const latent = this.inputs.latent!;
    const nl = latent.dims.length;
    const lp = this.latentPairs!;
    for (const s of this.latentSums) s.fill(0);
    let p = 0;
    for (let i = 1; i < n; i++)
      for (let j = 0; j < i; j++, p++) {
        const c = (alpha[i]! * alpha[j]! - Kinv[i * n + j]!) * dk[p]!;
        for (let l = 0; l < nl; l++) {
          const s = this.latentSums[l]!;
          const k = lp[p * nl + l]!;
          s[k] = s[k]! + c;
        }
      }
    latent.addGradient(theta, lambda, this.latentSums, grad);
  }
}

/** log p(θ) up to a constant: the priors named in the file header. */
function logPrior(theta: ArrayLike<number>, d: number, prior: LengthscalePrior): number {
  let lp = 0;
  if (prior === "dim-scaled") {
    const { mean, variance } = dimScaledLogLambda(d);
    for (let m = 0; m < d; m++) lp -= (theta[m]! - mean) ** 2 / (2 * variance);
  } else {
    for (let m = 0; m < d; m++) {
      const l = Math.exp(theta[m]!);
      lp += -(0.1 / l + 0.1 * l);
    }
  }
  const s2 = Math.exp(theta[d]!);
  const noise = MIN_NOISE + Math.exp(theta[d + 1]!);
  return lp + Math.log(s2) - s2 + 0.1 * Math.log(noise) - 30 * noise;
}

/**
 * The posterior of a fitted GP at fixed θ, over training points plus any "believed"
 * pending points (their targets set to the posterior mean: the kriging believer).
 * `predict` and `predictWithGradient` allocate nothing.
 */
/** Row counts at which `predictBatch` offers its points to `prune` (see there). */
const PRUNE_ROWS = [32, 64, 128, 256, 512];

export class GpPosterior {
  readonly n: number;
  readonly d: number;
  readonly lambda: Float64Array;
  readonly s2: number;
  private readonly kx: Float64Array;
  private readonly sqrtLambda: Float64Array;
  private readonly catIdx: number[];
  /** Per categorical (in `catIdx` order): λ·‖z_a − z_b‖² by a·c + b under a latent embedding, null for the Hamming term. */
  private readonly catTables: (Float64Array | null)[];
  private readonly catCards: number[];
  private readonly Xs: Float64Array;
  private readonly xq: Float64Array;
  private readonly dkx: Float64Array;
  private readonly v: Float64Array;
  private readonly block: Float64Array;
  /** Posterior mean and variance of the last `predict*` call (latent f, without noise). */
  mean = 0;
  variance = 0;

  /** K_ii: signal variance + noise + any jitter the factorisation added. */
  readonly diag: number;
  private readonly LT: Float64Array;

  /**
   * @param inputs the n×d inputs the factor `L` (of K(θ) plus `jitter` on the diagonal) belongs to; `alpha` = K⁻¹y.
   * @throws nothing; callers check the values they read back for finiteness.
   */
  constructor(
    readonly inputs: GpInputs,
    theta: ArrayLike<number>,
    readonly L: Float64Array,
    readonly alpha: Float64Array,
    jitter: number,
  ) {
    this.n = inputs.n;
    this.d = inputs.d;
    this.lambda = new Float64Array(this.d);
    for (let m = 0; m < this.d; m++) this.lambda[m] = Math.exp(theta[m]!);
    this.s2 = Math.exp(theta[this.d]!);
    this.diag = this.s2 + MIN_NOISE + Math.exp(theta[this.d + 1]!) + jitter;
    // Lᵀ by rows, so that the back substitution is a contiguous dot product per row.
    const n = this.n;
    this.LT = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let k = 0; k <= i; k++) this.LT[k * n + i] = L[i * n + k]!;
    // Scaled continuous inputs √λ_m·x_m; categorical columns are zero here (their term is added apart).
    const { d, isCat, X } = inputs;
    this.sqrtLambda = new Float64Array(d);
    for (let m = 0; m < d; m++) this.sqrtLambda[m] = isCat[m] ? 0 : Math.sqrt(this.lambda[m]!);
    this.catIdx = [];
    for (let m = 0; m < d; m++) if (isCat[m]) this.catIdx.push(m);
    this.catTables = this.catIdx.map(() => null);
    this.catCards = this.catIdx.map(() => 0);
    const latent = inputs.latent;
    if (latent !== undefined)
      latent.dims.forEach((m, l) => {
        const c = latent.cards[l]!;
        const table = new Float64Array(c * c);
        latent.distances(theta, l, table, this.lambda[m]!);
        const at = this.catIdx.indexOf(m);
        this.catTables[at] = table;
        this.catCards[at] = c;
      });
    this.Xs = new Float64Array(n * d);
    for (let i = 0; i < n * d; i++) this.Xs[i] = X[i]! * this.sqrtLambda[i % d]!;
    this.xq = new Float64Array(d);
    this.kx = new Float64Array(this.n);
    this.dkx = new Float64Array(this.n);
    this.v = new Float64Array(this.n);
    this.block = new Float64Array(this.n * 4);
  }

  /**
   * k(x, X_i) for every training row into `kx` and, when asked, s²·dk/d(r²) into `dkx`.
   * Continuous coordinates are compared in the scaled space √λ·x (`Xs`, precomputed), so
   * the inner loop is a plain sum of squares; categorical ones add λ·[x ≠ x'].
   */
  private kernelRow(x: ArrayLike<number>, xo: number, kx: Float64Array, ko: number, dkx: Float64Array | null): void {
    const { n, d, lambda, s2, Xs, xq, catIdx } = this;
    const X = this.inputs.X;
    for (let m = 0; m < d; m++) xq[m] = x[xo + m]! * this.sqrtLambda[m]!;
    const nCat = catIdx.length;
    for (let i = 0; i < n; i++) {
      let r2 = 0;
      const o = i * d;
      for (let m = 0; m < d; m++) {
        const t = xq[m]! - Xs[o + m]!;
        r2 += t * t;
      }
      for (let c = 0; c < nCat; c++) {
        const m = catIdx[c]!;
        const table = this.catTables[c];
        if (table) r2 += table[x[xo + m]! * this.catCards[c]! + X[o + m]!]!;
        else if (x[xo + m] !== X[o + m]) r2 += lambda[m]!;
      }
      const t = SQRT5 * Math.sqrt(r2);
      const e = s2 * Math.exp(-t);
      kx[ko + i] = (1 + t + (t * t) / 3) * e;
      if (dkx) dkx[i] = (-5 / 6) * (1 + t) * e;
    }
  }

  /** Posterior mean and variance at x (sets `mean`, `variance`). */
  predict(x: ArrayLike<number>, offset = 0): void {
    const { n, kx, v } = this;
    this.kernelRow(x, offset, kx, 0, null);
    let mu = 0;
    for (let i = 0; i < n; i++) mu += this.alpha[i]! * kx[i]!;
    solveLower(this.L, n, kx, v);
    let vv = 0;
    for (let i = 0; i < n; i++) vv += v[i]! * v[i]!;
    this.mean = mu;
    this.variance = this.s2 - vv;
  }

  /**
   * Posterior means of `count` points (row-major in `xs`) and, instead of their variances,
   * the cheap upper bound s² − max_i k(x, x_i)²/K_ii: the variance given only the most
   * correlated training point, which conditioning on all of them can only lower.
   * Costs n·d per point instead of the n²/2 of the exact variance. With `rows` (count × n), each
   * point's kernel row k(x, X) is kept there, for `predictBatch`.
   */
  meanAndVarianceBound(xs: Float64Array, count: number, means: Float64Array, bounds: Float64Array, rows?: Float64Array): void {
    const { n, d, alpha } = this;
    const kx = this.kx;
    for (let c = 0; c < count; c++) {
      this.kernelRow(xs, c * d, kx, 0, null);
      if (rows !== undefined) rows.set(kx, c * n);
      let mu = 0;
      let kmax = 0;
      for (let i = 0; i < n; i++) {
        const k = kx[i]!;
        mu += alpha[i]! * k;
        if (k > kmax) kmax = k;
      }
      means[c] = mu;
      bounds[c] = this.s2 - (kmax * kmax) / this.diag;
    }
  }

  /**
   * Posterior means and variances of `count` points stored row-major in `xs`, four at a
   * time so that each row of L is read once per four right-hand sides.
   *
   * With `prune`, a point may be given up part-way: its variance is s² − ‖v‖² with v = L⁻¹k
   * found row by row, so after the first r rows s² − ‖v₁..ᵣ‖² bounds it from above (the rest
   * of the sum only adds non-negative terms, in floating point too). At a few row counts
   * (`PRUNE_ROWS`) each point still open is offered `prune(index, mean, varianceBound)`; a
   * block of four stops once all four are pruned, and then their variances are NaN. Means are
   * always exact, and so is every variance that is not NaN. `rows` (count × n), when given,
   * holds the points' kernel rows already computed (`meanAndVarianceBound`).
   */
  predictBatch(
    xs: Float64Array,
    count: number,
    means: Float64Array,
    variances: Float64Array,
    prune?: (index: number, mean: number, varianceBound: number) => boolean,
    rows?: Float64Array,
  ): void {
    const { n, d, L, block, alpha } = this;
    const s2v = this.s2;
    let c0 = 0;
    for (; c0 + 4 <= count; c0 += 4) {
      for (let c = 0; c < 4; c++) {
        const kx = rows ?? this.kx;
        const ko = rows === undefined ? 0 : (c0 + c) * n;
        if (rows === undefined) this.kernelRow(xs, (c0 + c) * d, kx, 0, null);
        let mu = 0;
        for (let i = 0; i < n; i++) {
          const k = kx[ko + i]!;
          mu += alpha[i]! * k;
          block[i * 4 + c] = k;
        }
        means[c0 + c] = mu;
      }
      let q0 = 0;
      let q1 = 0;
      let q2 = 0;
      let q3 = 0;
      // Bit c set: point c0 + c was pruned.
      let pruned = 0;
      let stage = prune === undefined ? PRUNE_ROWS.length : 0;
      let i = 0;
      for (; i < n; i++) {
        const ri = i * n;
        let s0 = block[i * 4]!;
        let s1 = block[i * 4 + 1]!;
        let s2 = block[i * 4 + 2]!;
        let s3 = block[i * 4 + 3]!;
        for (let k = 0; k < i; k++) {
          const l = L[ri + k]!;
          const b = k * 4;
          s0 -= l * block[b]!;
          s1 -= l * block[b + 1]!;
          s2 -= l * block[b + 2]!;
          s3 -= l * block[b + 3]!;
        }
        const inv = 1 / L[ri + i]!;
        s0 *= inv;
        s1 *= inv;
        s2 *= inv;
        s3 *= inv;
        block[i * 4] = s0;
        block[i * 4 + 1] = s1;
        block[i * 4 + 2] = s2;
        block[i * 4 + 3] = s3;
        q0 += s0 * s0;
        q1 += s1 * s1;
        q2 += s2 * s2;
        q3 += s3 * s3;
        if (stage < PRUNE_ROWS.length && i + 1 === PRUNE_ROWS[stage] && i + 1 < n) {
          stage++;
          if (!(pruned & 1) && prune!(c0, means[c0]!, s2v - q0)) pruned |= 1;
          if (!(pruned & 2) && prune!(c0 + 1, means[c0 + 1]!, s2v - q1)) pruned |= 2;
          if (!(pruned & 4) && prune!(c0 + 2, means[c0 + 2]!, s2v - q2)) pruned |= 4;
          if (!(pruned & 8) && prune!(c0 + 3, means[c0 + 3]!, s2v - q3)) pruned |= 8;
          if (pruned === 15) break;
        }
      }
      // Stopped early only when all four were pruned; otherwise every variance is exact.
      const done = i >= n;
      variances[c0] = done ? s2v - q0 : NaN;
      variances[c0 + 1] = done ? s2v - q1 : NaN;
      variances[c0 + 2] = done ? s2v - q2 : NaN;
      variances[c0 + 3] = done ? s2v - q3 : NaN;
    }
    for (; c0 < count; c0++) {
      this.predict(xs, c0 * d);
      means[c0] = this.mean;
      variances[c0] = this.variance;
    }
  }

  /**
   * Mean and variance at x, with their gradients with respect to the coordinates flagged
   * in `wrt` (continuous ones; categorical coordinates have no gradient) written into
   * `dMean` and `dVar` (zero elsewhere).
   */
  predictWithGradient(x: ArrayLike<number>, wrt: Uint8Array, dMean: Float64Array, dVar: Float64Array): void {
    const { n, d, kx, dkx, v, lambda, alpha } = this;
    const { X } = this.inputs;
    this.kernelRow(x, 0, kx, 0, dkx);
    let mu = 0;
    for (let i = 0; i < n; i++) mu += alpha[i]! * kx[i]!;
    solveLower(this.L, n, kx, v);
    let vv = 0;
    for (let i = 0; i < n; i++) vv += v[i]! * v[i]!;
    this.mean = mu;
    this.variance = this.s2 - vv;
    // w = K⁻¹ kx; dσ²/dx = −2 wᵀ ∂kx/∂x; ∂kx_i/∂x_m = dk_i · 2λ_m (x_m − X_im).
    // Back substitution Lᵀw = v in place, by rows of Lᵀ.
    const LT = this.LT;
    for (let i = n - 1; i >= 0; i--) {
      const ri = i * n;
      v[i] = (v[i]! - dot(LT, ri + i + 1, v, i + 1, n - i - 1)) / LT[ri + i]!;
    }
    for (let m = 0; m < d; m++) {
      dMean[m] = 0;
      dVar[m] = 0;
      if (!wrt[m]) continue;
      const xm = x[m]!;
      let gm = 0;
      let gv = 0;
      for (let i = 0; i < n; i++) {
        const t = dkx[i]! * (xm - X[i * d + m]!);
        gm += alpha[i]! * t;
        gv += v[i]! * t;
      }
      dMean[m] = 2 * lambda[m]! * gm;
      dVar[m] = -4 * lambda[m]! * gv;
    }
  }
}
