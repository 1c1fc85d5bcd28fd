/**
 * Categorical kernels of the `gp` strategy (option `categoricalKernel`), kept apart from the
 * Matérn model (gp-model.ts), which calls in through `LatentEmbedding`.
 *
 * - "hamming" (the default): a categorical parameter adds λ_m·[a ≠ b] to the Matérn's squared
 *   distance, one inverse squared lengthscale λ_m per parameter (Optuna 5.0's GPSampler). Every
 *   two distinct choices are equally far apart: the kernel is exchangeable within a parameter,
 *   so the model cannot learn that two of five choices behave alike.
 * - "latent": each choice k of a parameter with c ≥ 3 choices is a point z_k ∈ R^{c−1}, and the
 *   parameter adds λ_m·‖z_a − z_b‖² (a Matérn kernel of the embedded inputs, positive definite
 *   for every z). The latent-variable GP of Zhang, Tao, Chen & Apley, "A Latent Variable
 *   Approach to Gaussian Process Modeling with Qualitative and Quantitative Factors"
 *   (Technometrics 62(3), 2020), which fixes z₀ = 0 and learns the other points by maximum
 *   likelihood. Two departures, both for small histories:
 *   - the points live in c − 1 dimensions, not LVGP's 2, so that the regular simplex of unit
 *     edge, where the kernel is exactly "hamming", is reachable for every c;
 *   - each free coordinate has a Gaussian prior N(simplex coordinate, σ_z² = 0.25) and starts
 *     there: with little data the MAP stays at the Hamming kernel, and it moves two choices
 *     together (merging them costs ≈ 2 nats of prior) only when the likelihood pays for it.
 *   z₀ = 0 removes the translation; the rotation left is harmless under the prior. Binary
 *   parameters keep the Hamming term (two points: only their distance matters, and λ_m is it).
 *   Cost: (c − 1)² more hyperparameters per parameter, fitted by the same L-BFGS with the exact
 *   gradient below; the posterior reads a c × c table per parameter instead of a comparison. At
 *   most `MAX_LATENT_COORDINATES` (1,024) are embedded per model; a parameter past them keeps the
 *   Hamming term.
 *
 * θ layout with "latent": [log λ_1..λ_d, log s², log noise, z of the first embedded parameter
 * (choices 1..c−1, c − 1 coordinates each), z of the next, …]. The embedding's entries follow
 * the d + 2 of gp-model.ts, so a model without categoricals has the θ it always had.
 */

/** The categorical kernels of the `gp` strategy (see the file header). */
export const CATEGORICAL_KERNELS = ["hamming", "latent"] as const;
export type CategoricalKernel = (typeof CATEGORICAL_KERNELS)[number];

/** Prior variance of each free latent coordinate (see the file header). */
export const LATENT_PRIOR_VARIANCE = 0.25;
/**
 * Most latent coordinates one model embeds, over all its parameters. A parameter takes (c − 1)²
 * and each evaluation of the fit c²(c − 1) operations for its distances and their gradient, and
 * every model-based trial stores them in `gp_theta`: unbounded, one categorical of 500 choices (a
 * legal space: up to 10,000) made one suggestion 152 s, past the suggestion thread's 120 s
 * deadline (every later ask the same, other studies' asks waiting behind it), and each trial's
 * `gp_theta` 249,005 numbers (2.8 MB); 10,000 choices would be 10⁸ coordinates. Parameters are
 * embedded in the space's order while their (c − 1)² fits in what is left (one of 33 choices at
 * most); one that does not fit keeps the Hamming term, which is what the option would otherwise
 * start from. The suite's categoricals (2–4 choices) are all far inside it.
 */
export const MAX_LATENT_COORDINATES = 1024;
/** Box of each latent coordinate during the fit: wide, the prior keeps the MAP near the simplex. */
const LATENT_BOUND = 10;

/** Coordinates (c × (c − 1), row-major) of the regular simplex of unit edge with vertex 0 at the origin. */
export function unitSimplex(c: number): Float64Array {
  const q = c - 1;
  const z = new Float64Array(c * q);
  for (let k = 1; k < c; k++) {
    // Vertex k: the centroid of vertices 0..k−1 raised along axis k−1 to unit distance from them.
    let r2 = 0;
    for (let j = 0; j < k - 1; j++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += z[i * q + j]!;
      z[k * q + j] = s / k;
      r2 += (s / k) ** 2;
    }
    z[k * q + k - 1] = Math.sqrt(1 - r2);
  }
  return z;
}

/**
 * The latent embedding of the categorical parameters with at least three choices: where their
 * coordinates sit in θ, the c × c squared-distance tables at a θ, and the prior's and the
 * marginal likelihood's gradients in those coordinates.
 */
export class LatentEmbedding {
  /** Per embedded parameter: its modelled dimension, number of choices, and first θ index. */
  readonly dims: readonly number[];
  readonly cards: readonly number[];
  readonly offsets: readonly number[];
  /** Entries this embedding appends to θ. */
  readonly size: number;
  /** The prior means (the simplex), also the default start. */
  readonly init: Float64Array;

  /**
   * @param d modelled dimensions (θ's first d + 2 entries belong to gp-model.ts)
   * @param cards per modelled dimension, its number of choices when categorical, else 0
   */
  constructor(readonly d: number, cards: ArrayLike<number>) {
    const dims: number[] = [];
    const cs: number[] = [];
    const offsets: number[] = [];
    let at = d + 2;
    for (let m = 0; m < d; m++) {
      const c = cards[m]!;
      if (c < 3 || at - (d + 2) + (c - 1) * (c - 1) > MAX_LATENT_COORDINATES) continue;
      dims.push(m);
      cs.push(c);
      offsets.push(at);
      at += (c - 1) * (c - 1);
    }
    [this.dims, this.cards, this.offsets] = [dims, cs, offsets];
    this.size = at - (d + 2);
    this.init = new Float64Array(this.size);
    for (let l = 0; l < dims.length; l++) {
      const c = cs[l]!;
      this.init.set(unitSimplex(c).subarray(c - 1), offsets[l]! - (d + 2));
    }
  }

  /** Appends the embedding's start (the simplex) to a θ of length d + 2. */
  extendTheta(theta: Float64Array): Float64Array {
    const out = new Float64Array(theta.length + this.size);
    out.set(theta);
    out.set(this.init, theta.length);
    return out;
  }

  /** Appends the embedding's box to bounds of length d + 2. */
  extendBounds(b: { lower: Float64Array; upper: Float64Array }): { lower: Float64Array; upper: Float64Array } {
    const lower = new Float64Array(b.lower.length + this.size).fill(-LATENT_BOUND);
    const upper = new Float64Array(b.upper.length + this.size).fill(LATENT_BOUND);
    lower.set(b.lower);
    upper.set(b.upper);
    return { lower, upper };
  }

  /** z_k of embedded parameter l at θ (z₀ = 0), coordinate j. */
  private coord(theta: ArrayLike<number>, l: number, k: number, j: number): number {
    return k === 0 ? 0 : theta[this.offsets[l]! + (k - 1) * (this.cards[l]! - 1) + j]!;
  }

  /** Writes ‖z_a − z_b‖² · scale at [a·c + b] of `table` (c × c) for embedded parameter l. */
  distances(theta: ArrayLike<number>, l: number, table: Float64Array, scale = 1): void {
    const c = this.cards[l]!;
    for (let a = 0; a < c; a++)
      for (let b = 0; b <= a; b++) {
        let s = 0;
        for (let j = 0; j < c - 1; j++) {
          const t = this.coord(theta, l, a, j) - this.coord(theta, l, b, j);
          s += t * t;
        }
        table[a * c + b] = s * scale;
        table[b * c + a] = s * scale;
      }
  }

  /** −log prior of the latent coordinates, up to a constant. */
  negLogPrior(theta: ArrayLike<number>): number {
    let s = 0;
    const o = this.d + 2;
    for (let i = 0; i < this.size; i++) s += (theta[o + i]! - this.init[i]!) ** 2;
    return s / (2 * LATENT_PRIOR_VARIANCE);
  }

  /**
   * Adds to `grad` the gradient in the latent coordinates of −Σ_pairs g_p·λ_m·D_m(a_p, b_p) plus
   * the −log prior, where `sums[l]` (c × c) holds Σ g_p over the pairs with choices (a, b) of
   * parameter l. gp-model.ts passes g_p = w_p·s²·dk/d(r²) (W = ααᵀ − K⁻¹, R&W eq. 5.9), so the
   * first term is the negative log marginal likelihood's: ∂D(a, b)/∂z_a = 2(z_a − z_b).
   */
  addGradient(theta: ArrayLike<number>, lambda: ArrayLike<number>, sums: readonly Float64Array[], grad: Float64Array): void {
    const o = this.d + 2;
    for (let i = 0; i < this.size; i++) grad[o + i] = grad[o + i]! + (theta[o + i]! - this.init[i]!) / LATENT_PRIOR_VARIANCE;
    for (let l = 0; l < this.dims.length; l++) {
      const c = this.cards[l]!;
      const q = c - 1;
      const lm = lambda[this.dims[l]!]!;
      const G = sums[l]!;
      for (let k = 1; k < c; k++)
        for (let b = 0; b < c; b++) {
          if (b === k) continue;
          const w = G[k * c + b]! + G[b * c + k]!;
          if (w === 0) continue;
          for (let j = 0; j < q; j++) {
            const idx = this.offsets[l]! + (k - 1) * q + j;
            grad[idx] = grad[idx]! - 2 * lm * w * (this.coord(theta, l, k, j) - this.coord(theta, l, b, j));
          }
        }
    }
  }
}

/** The embedding for a model's dimensions under `kernel`, or undefined when it has nothing to embed. */
export function latentEmbedding(kernel: CategoricalKernel, cards: ArrayLike<number>): LatentEmbedding | undefined {
  if (kernel !== "latent") return undefined;
  const e = new LatentEmbedding(cards.length, cards);
  return e.size > 0 ? e : undefined;
}
