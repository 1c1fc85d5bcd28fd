import { describe, expect, it } from "vitest";
import { Rng } from "./rng.js";
import {
  NumericalError, cholesky, choleskyInverse, choleskySolve, logDetFromCholesky, solveLower, solveUpperT, symmetricEigen,
} from "./linalg.js";

/** A random SPD matrix B·Bᵀ + n·I. */
function randomSpd(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const b = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? n : 0;
      for (let k = 0; k < n; k++) s += b[i * n + k]! * b[j * n + k]!;
      a[i * n + j] = s;
    }
  return a;
}

function matVec(a: Float64Array, n: number, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) out[i] = out[i]! + a[i * n + k]! * x[k]!;
  return out;
}

describe("cholesky", () => {
  it("reconstructs an SPD matrix without jitter and zeroes the upper triangle", () => {
    const n = 7;
    const a = randomSpd(n, 1);
    const L = new Float64Array(n * n).fill(99);
    expect(cholesky(a, n, L)).toBe(0);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (j > i) expect(L[i * n + j]).toBe(0);
        let s = 0;
        for (let k = 0; k < n; k++) s += L[i * n + k]! * L[j * n + k]!;
        expect(s).toBeCloseTo(a[i * n + j]!, 10);
      }
  });

  it("solves, inverts and takes the log-determinant consistently", () => {
    const n = 6;
    const a = randomSpd(n, 2);
    const L = new Float64Array(n * n);
    cholesky(a, n, L);
    const b = Float64Array.from({ length: n }, (_, i) => i - 2.5);
    const x = choleskySolve(L, n, b, new Float64Array(n));
    const back = matVec(a, n, x);
    for (let i = 0; i < n; i++) expect(back[i]).toBeCloseTo(b[i]!, 10);
    // Lᵀ solve after L solve is the same as choleskySolve; aliasing in == out works.
    const y = Float64Array.from(b);
    solveLower(L, n, y, y);
    solveUpperT(L, n, y, y);
    for (let i = 0; i < n; i++) expect(y[i]).toBeCloseTo(x[i]!, 12);
    // Odd and even sizes exercise the 2×2 blocking and its remainders.
    for (const m of [1, 2, 5, 6, 7]) {
      const am = randomSpd(m, 20 + m);
      const Lm = new Float64Array(m * m);
      cholesky(am, m, Lm);
      const inv = choleskyInverse(Lm, m, new Float64Array(m * m));
      for (let i = 0; i < m; i++)
        for (let j = 0; j < m; j++) {
          let s = 0;
          for (let k = 0; k < m; k++) s += am[i * m + k]! * inv[k * m + j]!;
          expect(s).toBeCloseTo(i === j ? 1 : 0, 10);
        }
    }
    // det of a diagonal matrix diag(1, 2, ..., n) is n!.
    const dg = new Float64Array(n * n);
    for (let i = 0; i < n; i++) dg[i * n + i] = i + 1;
    const Ld = new Float64Array(n * n);
    cholesky(dg, n, Ld);
    expect(logDetFromCholesky(Ld, n)).toBeCloseTo(Math.log(720), 12);
  });

  it("adds growing jitter to a near-singular (rank-deficient) matrix and still factors it", () => {
    // Kernel matrix of duplicated points: exactly rank 1 in exact arithmetic.
    const n = 5;
    const a = new Float64Array(n * n).fill(1);
    const L = new Float64Array(n * n);
    const jitter = cholesky(a, n, L);
    expect(jitter).toBeGreaterThan(0);
    expect(jitter).toBeLessThan(1e-3 * n);
    for (let i = 0; i < n * n; i++) expect(Number.isFinite(L[i]!)).toBe(true);
    // The factor reproduces A + jitter·I.
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += L[i * n + k]! * L[j * n + k]!;
        expect(s).toBeCloseTo(a[i * n + j]! + (i === j ? jitter : 0), 8);
      }
  });

  it("handles an ill-conditioned squared-exponential Gram matrix of close points", () => {
    const n = 30;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = Math.exp(-0.5 * ((i - j) * 0.01) ** 2);
    const L = new Float64Array(n * n);
    const jitter = cholesky(a, n, L);
    expect(jitter).toBeGreaterThan(0);
    expect(Number.isFinite(logDetFromCholesky(L, n))).toBe(true);
  });

  it("throws NumericalError for an indefinite matrix or NaN after bounded tries", () => {
    const a = Float64Array.from([1, 0, 0, -1]);
    expect(() => cholesky(a, 2, new Float64Array(4))).toThrow(NumericalError);
    expect(() => cholesky(Float64Array.from([NaN, 0, 0, 1]), 2)).toThrow(NumericalError);
    expect(() => cholesky(Float64Array.from([1, NaN, NaN, 1]), 2)).toThrow(NumericalError);
  });
});

describe("symmetricEigen", () => {
  it("decomposes a random symmetric matrix: A·v = w·v with orthonormal V", () => {
    for (const n of [1, 2, 5, 9]) {
      const a = randomSpd(n, n + 10);
      for (let i = 0; i < n; i++) a[i * n + i] = a[i * n + i]! - 1.5 * n; // make it indefinite too
      const w = new Float64Array(n);
      const v = new Float64Array(n * n);
      symmetricEigen(a, n, w, v);
      for (let k = 0; k < n; k++) {
        const col = Array.from({ length: n }, (_, i) => v[i * n + k]!);
        const av = matVec(a, n, col);
        for (let i = 0; i < n; i++) expect(av[i]).toBeCloseTo(w[k]! * col[i]!, 8);
        for (let l = 0; l < n; l++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += v[i * n + k]! * v[i * n + l]!;
          expect(s).toBeCloseTo(k === l ? 1 : 0, 12);
        }
      }
    }
  });
});
