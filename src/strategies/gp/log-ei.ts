/**
 * Logarithm of expected improvement, stable far into the tails.
 *
 * For minimisation with incumbent f*, posterior N(μ, σ²) and z = (f* − μ)/σ:
 *   EI = σ·h(z),  h(z) = z·Φ(z) + φ(z).
 * For z ≪ 0 both terms of h nearly cancel and underflow; following Ament et al. 2023,
 * "Unexpected Improvements to Expected Improvement for Bayesian Optimization" (NeurIPS,
 * §4.1, eq. 9), write h(z) = φ(z)·(1 − |z|·M(|z|)) with the Mills ratio
 * M(a) = Φ(−a)/φ(a), taking M from `logNormalCdf` so it never underflows. Where
 * 1 − a·M(a) itself cancels (a > 40) the asymptotic series
 * 1 − a·M(a) = a⁻²·(1 − 3a⁻² + 15a⁻⁴ − 105a⁻⁶ + 945a⁻⁸ − …) (Abramowitz & Stegun 26.2.12)
 * is used; at a = 40 its truncation error (≈ 10395·a⁻¹⁰) is about 1e-13 relative, and the
 * direct form's cancellation error (≈ ε·a²) is about 4e-13.
 */
import { logNormalCdf, logNormalPdf, normalCdf, normalPdf } from "../../math/special.js";

/** log h(z) = log(z·Φ(z) + φ(z)); finite for every finite z. */
export function logH(z: number): number {
  if (z > -1) return Math.log(z * normalCdf(z) + normalPdf(z));
  const a = -z;
  if (a > 40) {
    const ia2 = 1 / (a * a);
    const series = ia2 * (1 - ia2 * (3 - ia2 * (15 - ia2 * (105 - ia2 * 945))));
    return logNormalPdf(z) + Math.log(series);
  }
  const mills = Math.exp(logNormalCdf(z) - logNormalPdf(z));
  return logNormalPdf(z) + Math.log1p(-a * mills);
}

/**
 * d log h / dz = Φ(z)/h(z), computed in log space (positive, ≈ |z| for z ≪ 0).
 * Pass `lh = logH(z)` when already known.
 */
export function dLogH(z: number, lh: number = logH(z)): number {
  return Math.exp(logNormalCdf(z) - lh);
}

/** log EI for minimisation: log σ + log h((f* − μ)/σ). σ must be > 0. */
export function logEi(mu: number, sigma: number, best: number): number {
  return Math.log(sigma) + logH((best - mu) / sigma);
}
