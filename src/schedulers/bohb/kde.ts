/**
 * A small product-kernel density estimate on the unit cube, the model of BOHB (Falkner et
 * al., ICML 2018, §4.2, after statsmodels' `KDEMultivariate` that HpBandSter uses).
 *
 * Numeric dimensions are encoded by `toUnit` (log and step aware) and use a Gaussian kernel;
 * categorical dimensions use their choice index and an Aitchison–Aitken kernel
 * (1 − λ on the observed choice, λ/(c − 1) on each other one). Bandwidths follow
 * statsmodels' "normal_reference" rule, 1.06 · σ · n^(−1/(4 + d)), clipped below at
 * `minBandwidth` (HpBandSter clips the same way) and, for categoricals, above at (c − 1)/c
 * (the uniform kernel). Densities use the untruncated Gaussian as statsmodels does; samples
 * are drawn from the truncated one (HpBandSter's `truncnorm`).
 */
import type { Rng } from "../../math/rng.js";
import { maxOf } from "../../math/extremes.js";

/** A dimension: numeric on [0, 1], or categorical with `size` choices. */
export type KdeDim = { readonly kind: "numeric" } | { readonly kind: "categorical"; readonly size: number };

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

function std(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const m = xs.reduce((a, b) => a + b, 0) / n;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1));
}

export class ProductKde {
  /** One bandwidth (numeric) or λ (categorical) per dimension. */
  readonly bandwidths: readonly number[];

  /**
   * @param points encoded observations (at least one); each has one coordinate per dimension.
   * @throws RangeError when there is no point.
   */
  constructor(
    readonly points: readonly (readonly number[])[],
    readonly dims: readonly KdeDim[],
    minBandwidth = 1e-3,
  ) {
    if (points.length === 0) throw new RangeError("ProductKde needs at least one point");
    const n = points.length;
    const d = dims.length;
    this.bandwidths = dims.map((dim, j) => {
      const col = points.map((p) => p[j] as number);
      const bw = Math.max(minBandwidth, 1.06 * std(col) * n ** (-1 / (4 + d)));
      return dim.kind === "numeric" ? bw : dim.size <= 1 ? 0 : Math.min(bw, (dim.size - 1) / dim.size);
    });
  }

  /** log density at x (encoded). */
  logPdf(x: readonly number[]): number {
    const logs = this.points.map((p) => {
      let s = 0;
      this.dims.forEach((dim, j) => {
        const bw = this.bandwidths[j] as number;
        const xj = x[j] as number;
        const pj = p[j] as number;
        if (dim.kind === "numeric") {
          const z = (xj - pj) / bw;
          s += -0.5 * z * z - Math.log(bw) - LOG_SQRT_2PI;
        } else if (dim.size > 1) {
          s += Math.log(xj === pj ? 1 - bw : bw / (dim.size - 1));
        }
      });
      return s;
    });
    const m = maxOf(logs);
    if (m === -Infinity) return -Infinity;
    return m + Math.log(logs.reduce((a, l) => a + Math.exp(l - m), 0) / logs.length);
  }

  /**
   * A draw near a random observation, numeric bandwidths multiplied by `factor` (BOHB's
   * bandwidth_factor, which widens exploration around good points).
   */
  sample(rng: Rng, factor: number): number[] {
    const p = this.points[rng.int(this.points.length)] as readonly number[];
    return this.dims.map((dim, j) => {
      const m = p[j] as number;
      const bw = this.bandwidths[j] as number;
      if (dim.kind === "categorical") return rng.random() < 1 - bw ? m : rng.int(dim.size);
      const s = bw * factor;
      for (let tries = 0; tries < 64; tries++) {
        const v = m + s * rng.normal();
        if (v >= 0 && v <= 1) return v;
      }
      return Math.min(1, Math.max(0, m));
    });
  }
}
