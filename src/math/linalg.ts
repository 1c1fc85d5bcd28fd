/**
 * Dense symmetric-positive-definite linear algebra on row-major Float64Arrays: Cholesky
 * with adaptive jitter, triangular solves, log-determinant and the inverse from the factor.
 *
 * Algorithms: Golub & Van Loan, "Matrix Computations" (4th ed.), §4.2 (Cholesky, the
 * dot-product form — both operands of the inner loop are contiguous rows in row-major
 * storage) and §3.1 (triangular systems). Jitter follows common GP practice
 * (Rasmussen & Williams 2006, §A.4; GPyTorch's `psd_safe_cholesky`): try the matrix as
 * is, then add 1e-10·trace(A) to the diagonal and grow it ×10 per failure, a bounded
 * number of times.
 *
 * Every function writes into caller-provided buffers where that matters for speed, so
 * callers in inner loops allocate nothing.
 */

/** A failure of a numerical routine (never crosses the wire; strategies fall back on it). */
export class NumericalError extends Error {
  override readonly name = "NumericalError";
}

export interface CholeskyOptions {
  /** Jitter tries after the plain attempt. Default 8 (1e-10·tr … 1e-3·tr). */
  readonly maxTries?: number;
  /** First jitter as a fraction of the trace. Default 1e-10. */
  readonly initialJitter?: number;
}

/**
 * Factorises the n×n symmetric matrix `a` (only the lower triangle is read) as L·Lᵀ.
 * Writes L into `out` (the strict upper triangle is zeroed) and returns the jitter that
 * was added to the diagonal (0 when none was needed). `a` is not modified.
 * @throws NumericalError when the matrix stays non-positive-definite after every try
 *   (including when it contains NaN).
 */
export function cholesky(a: Float64Array, n: number, out: Float64Array = new Float64Array(n * n), opts: CholeskyOptions = {}): number {
  if (a.length < n * n || out.length < n * n) throw new RangeError("cholesky: buffer too small");
  const maxTries = opts.maxTries ?? 8;
  let trace = 0;
  for (let i = 0; i < n; i++) trace += a[i * n + i]!;
  if (!Number.isFinite(trace)) throw new NumericalError("cholesky: non-finite diagonal");
  const base = (opts.initialJitter ?? 1e-10) * Math.max(Math.abs(trace), Number.MIN_VALUE);
  let jitter = 0;
  for (let attempt = 0; attempt <= maxTries; attempt++) {
    if (attempt > 0) jitter = base * 10 ** (attempt - 1);
    if (tryCholesky(a, n, out, jitter)) return jitter;
  }
  throw new NumericalError(`cholesky: not positive definite after jitter ${jitter}`);
}

function tryCholesky(a: Float64Array, n: number, L: Float64Array, jitter: number): boolean {
  // Columns in pairs (j, j+1) and rows in pairs (i, i+1): the four dot products over k < j
  // share their loads (four multiply-adds per four loads instead of per eight); the k = j
  // term of column j+1 is added afterwards.
  let j = 0;
  for (; j + 1 < n; j += 2) {
    const r0 = j * n;
    const r1 = r0 + n;
    const s00 = a[r0 + j]! + jitter - dot(L, r0, L, r0, j);
    if (!(s00 > 0)) return false;
    const d0 = Math.sqrt(s00);
    L[r0 + j] = d0;
    for (let k = j + 1; k < n; k++) L[r0 + k] = 0;
    const inv0 = 1 / d0;
    const l10 = (a[r1 + j]! - dot(L, r1, L, r0, j)) * inv0;
    L[r1 + j] = l10;
    const s11 = a[r1 + j + 1]! + jitter - dot(L, r1, L, r1, j + 1);
    if (!(s11 > 0)) return false;
    const d1 = Math.sqrt(s11);
    L[r1 + j + 1] = d1;
    for (let k = j + 2; k < n; k++) L[r1 + k] = 0;
    const inv1 = 1 / d1;
    let i = j + 2;
    for (; i + 1 < n; i += 2) {
      const ra = i * n;
      const rb = ra + n;
      let sa0 = 0;
      let sa1 = 0;
      let sb0 = 0;
      let sb1 = 0;
      for (let k = 0; k < j; k++) {
        const x0 = L[r0 + k]!;
        const x1 = L[r1 + k]!;
        const ya = L[ra + k]!;
        const yb = L[rb + k]!;
        sa0 += ya * x0;
        sa1 += ya * x1;
        sb0 += yb * x0;
        sb1 += yb * x1;
      }
      const la = (a[ra + j]! - sa0) * inv0;
      const lb = (a[rb + j]! - sb0) * inv0;
      L[ra + j] = la;
      L[rb + j] = lb;
      L[ra + j + 1] = (a[ra + j + 1]! - sa1 - la * l10) * inv1;
      L[rb + j + 1] = (a[rb + j + 1]! - sb1 - lb * l10) * inv1;
    }
    for (; i < n; i++) {
      const ri = i * n;
      const li = (a[ri + j]! - dot(L, ri, L, r0, j)) * inv0;
      L[ri + j] = li;
      L[ri + j + 1] = (a[ri + j + 1]! - dot(L, ri, L, r1, j) - li * l10) * inv1;
    }
  }
  for (; j < n; j++) {
    const rj = j * n;
    const s = a[rj + j]! + jitter - dot(L, rj, L, rj, j);
    // `!(s > 0)` also catches NaN.
    if (!(s > 0)) return false;
    const d = Math.sqrt(s);
    L[rj + j] = d;
    for (let k = j + 1; k < n; k++) L[rj + k] = 0;
    const inv = 1 / d;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      L[ri + j] = (a[ri + j]! - dot(L, ri, L, rj, j)) * inv;
    }
  }
  return true;
}

/** Solves L·x = b (L lower triangular, row-major) into `out` (may alias `b`). */
export function solveLower(L: Float64Array, n: number, b: ArrayLike<number>, out: Float64Array): Float64Array {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    out[i] = (b[i]! - dot(L, ri, out, 0, i)) / L[ri + i]!;
  }
  return out;
}

/**
 * Solves Lᵀ·x = b (L lower triangular) into `out` (may alias `b`). Column-oriented so that
 * the inner loop walks a contiguous row of L.
 */
export function solveUpperT(L: Float64Array, n: number, b: ArrayLike<number>, out: Float64Array): Float64Array {
  if (out !== b) for (let i = 0; i < n; i++) out[i] = b[i]!;
  for (let i = n - 1; i >= 0; i--) {
    const ri = i * n;
    const xi = out[i]! / L[ri + i]!;
    out[i] = xi;
    for (let k = 0; k < i; k++) out[k] = out[k]! - L[ri + k]! * xi;
  }
  return out;
}

/** Solves (L·Lᵀ)·x = b into `out` (may alias `b`). */
export function choleskySolve(L: Float64Array, n: number, b: ArrayLike<number>, out: Float64Array): Float64Array {
  solveLower(L, n, b, out);
  return solveUpperT(L, n, out, out);
}

/** log det(L·Lᵀ) = 2·Σ log L_ii. */
export function logDetFromCholesky(L: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.log(L[i * n + i]!);
  return 2 * s;
}

/**
 * (L·Lᵀ)⁻¹ into `out` (full symmetric matrix). `work` (n×n) holds Uᵀ = (L⁻¹)ᵀ stored by
 * rows, so both inner loops are contiguous dot products. About n³/3 multiply-adds.
 */
export function choleskyInverse(L: Float64Array, n: number, out: Float64Array, work: Float64Array = new Float64Array(n * n)): Float64Array {
  invertLowerTransposed(L, n, work);
  return gramOfRows(work, n, out);
}

/** `work` row j = column j of L⁻¹ (zeros left of the diagonal): Uᵀ = (L⁻¹)ᵀ stored by rows. */
function invertLowerTransposed(L: Float64Array, n: number, work: Float64Array): void {
  // work row j = column j of L⁻¹: X[i][j] for i ≥ j, by forward substitution on e_j; two
  // columns at a time so that each load of a row of L feeds both.
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    for (let i = 0; i < j; i++) work[rj + i] = 0;
    work[rj + j] = 1 / L[rj + j]!;
  }
  let j = 0;
  for (; j + 3 < n; j += 4) {
    // Four columns: the entries inside the 4×4 diagonal block one by one, then the rows
    // below it with one load of L's row feeding four multiply-adds.
    const r0 = j * n;
    for (let c = j; c < j + 4; c++) {
      const rc = c * n;
      for (let i = c + 1; i < j + 4; i++) {
        const ri = i * n;
        work[rc + i] = -dot(L, ri + c, work, rc + c, i - c) / L[ri + i]!;
      }
    }
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    for (let i = j + 4; i < n; i++) {
      const ri = i * n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = j; k < i; k++) {
        const l = L[ri + k]!;
        s0 += l * work[r0 + k]!;
        s1 += l * work[r1 + k]!;
        s2 += l * work[r2 + k]!;
        s3 += l * work[r3 + k]!;
      }
      const inv = 1 / L[ri + i]!;
      work[r0 + i] = -s0 * inv;
      work[r1 + i] = -s1 * inv;
      work[r2 + i] = -s2 * inv;
      work[r3 + i] = -s3 * inv;
    }
  }
  for (; j + 1 < n; j += 2) {
    const r0 = j * n;
    const r1 = r0 + n;
    work[r0 + j + 1] = (-L[r1 + j]! * work[r0 + j]!) / L[r1 + j + 1]!;
    for (let i = j + 2; i < n; i++) {
      const ri = i * n;
      let s0 = 0;
      let s1 = 0;
      for (let k = j; k < i; k++) {
        const l = L[ri + k]!;
        s0 += l * work[r0 + k]!;
        s1 += l * work[r1 + k]!;
      }
      const inv = 1 / L[ri + i]!;
      work[r0 + i] = -s0 * inv;
      work[r1 + i] = -s1 * inv;
    }
  }
  for (; j < n; j++) {
    const rj = j * n;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      work[rj + i] = -dot(L, ri + j, work, rj + j, i - j) / L[ri + i]!;
    }
  }
}

/**
 * out = W·Wᵀ for the upper-triangular-by-rows `work` W (full symmetric result):
 * (L⁻ᵀ L⁻¹)_{ij} = Σ_{k ≥ max(i,j)} X[k][i]·X[k][j] = Σ_k work[i][k]·work[j][k], in 2×2
 * blocks so that each load feeds two multiply-adds (work[r][k] = 0 for k < r, so a block
 * may start its sum at its smaller column).
 */
function gramOfRows(work: Float64Array, n: number, out: Float64Array): Float64Array {
  let j = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const r0 = i * n;
    const r1 = r0 + n;
    j = i;
    for (; j + 3 < n; j += 4) {
      // 2×4 blocks: six loads feed eight multiply-adds.
      const c0 = j * n;
      const c1 = c0 + n;
      const c2 = c1 + n;
      const c3 = c2 + n;
      let s00 = 0;
      let s01 = 0;
      let s02 = 0;
      let s03 = 0;
      let s10 = 0;
      let s11 = 0;
      let s12 = 0;
      let s13 = 0;
      for (let k = j; k < n; k++) {
        const a0 = work[r0 + k]!;
        const a1 = work[r1 + k]!;
        const b0 = work[c0 + k]!;
        const b1 = work[c1 + k]!;
        const b2 = work[c2 + k]!;
        const b3 = work[c3 + k]!;
        s00 += a0 * b0;
        s01 += a0 * b1;
        s02 += a0 * b2;
        s03 += a0 * b3;
        s10 += a1 * b0;
        s11 += a1 * b1;
        s12 += a1 * b2;
        s13 += a1 * b3;
      }
      out[r0 + j] = s00;
      out[c0 + i] = s00;
      out[r0 + j + 1] = s01;
      out[c1 + i] = s01;
      out[r0 + j + 2] = s02;
      out[c2 + i] = s02;
      out[r0 + j + 3] = s03;
      out[c3 + i] = s03;
      out[r1 + j] = s10;
      out[c0 + i + 1] = s10;
      out[r1 + j + 1] = s11;
      out[c1 + i + 1] = s11;
      out[r1 + j + 2] = s12;
      out[c2 + i + 1] = s12;
      out[r1 + j + 3] = s13;
      out[c3 + i + 1] = s13;
    }
    for (; j + 1 < n; j += 2) {
      const c0 = j * n;
      const c1 = c0 + n;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let k = j; k < n; k++) {
        const a0 = work[r0 + k]!;
        const a1 = work[r1 + k]!;
        const b0 = work[c0 + k]!;
        const b1 = work[c1 + k]!;
        s00 += a0 * b0;
        s01 += a0 * b1;
        s10 += a1 * b0;
        s11 += a1 * b1;
      }
      out[r0 + j] = s00;
      out[c0 + i] = s00;
      out[r0 + j + 1] = s01;
      out[c1 + i] = s01;
      out[r1 + j] = s10;
      out[c0 + i + 1] = s10;
      out[r1 + j + 1] = s11;
      out[c1 + i + 1] = s11;
    }
    if (j < n) {
      const c0 = j * n;
      const s0 = dot(work, r0 + j, work, c0 + j, n - j);
      const s1 = dot(work, r1 + j, work, c0 + j, n - j);
      out[r0 + j] = s0;
      out[c0 + i] = s0;
      out[r1 + j] = s1;
      out[c0 + i + 1] = s1;
    }
  }
  if (i < n) {
    const r0 = i * n;
    const s = dot(work, r0 + i, work, r0 + i, n - i);
    out[r0 + i] = s;
  }
  return out;
}

/** Σ_{k<len} x[xo+k]·y[yo+k] with four accumulators (the dependency chain, not the loads, bounds a single-sum loop). */
export function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 4 <= len; k += 4) {
    s0 += x[xo + k]! * y[yo + k]!;
    s1 += x[xo + k + 1]! * y[yo + k + 1]!;
    s2 += x[xo + k + 2]! * y[yo + k + 2]!;
    s3 += x[xo + k + 3]! * y[yo + k + 3]!;
  }
  for (; k < len; k++) s0 += x[xo + k]! * y[yo + k]!;
  return s0 + s1 + (s2 + s3);
}

/**
 * Eigen-decomposition of the n×n symmetric matrix `a` (not modified) by cyclic Jacobi
 * rotations (Golub & Van Loan §8.5; Rutishauser's stable rotation formulas): A = V·diag(w)·Vᵀ.
 * Writes eigenvalues into `w` and eigenvectors into the columns of `v` (row-major).
 * Meant for small n (CMA-ES covariance matrices); cost ≈ 10·n³ per sweep, converging in
 * a handful of sweeps. Eigenvalues are not sorted.
 * @throws NumericalError when `a` contains a non-finite entry.
 */
export function symmetricEigen(a: Float64Array, n: number, w: Float64Array, v: Float64Array): void {
  const m = Float64Array.from(a.subarray(0, n * n));
  for (let i = 0; i < n * n; i++) if (!Number.isFinite(m[i]!)) throw new NumericalError("symmetricEigen: non-finite entry");
  v.fill(0, 0, n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += m[i * n + i]! * m[i * n + i]!;
      for (let j = i + 1; j < n; j++) off += m[i * n + j]! * m[i * n + j]!;
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < n - 1; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // Columns p and q of M, then rows p and q (M ← JᵀMJ).
          const mkp = m[k * n + p]!;
          const mkq = m[k * n + q]!;
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k]!;
          const mqk = m[q * n + k]!;
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  for (let i = 0; i < n; i++) w[i] = m[i * n + i]!;
}
