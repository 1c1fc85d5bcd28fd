/**
 * Sobol low-discrepancy sequence in base 2 with optional scrambling.
 *
 * - Construction: Sobol (1967) with the direction numbers of Joe & Kuo (2008),
 *   `new-joe-kuo-6.21201` (see sobol-directions.ts), 32-bit digits, up to SOBOL_MAX_DIM
 *   dimensions. Points come in Gray-code order (Antonov & Saleev 1979), the order SciPy's
 *   `scipy.stats.qmc.Sobol` and most libraries use, so unscrambled point i equals theirs:
 *   0, 0.5, (0.75, 0.25), (0.25, 0.75), …
 * - Scrambling: random linear matrix scrambling plus a digital shift (Matoušek 1998,
 *   "On the L2-discrepancy for anchored boxes"; Owen 2003 "Variance with alternative
 *   scramblings of digital nets"). Each dimension j gets a random lower-triangular binary
 *   matrix with unit diagonal and a random 32-bit shift, drawn from (seed, j) only, so the
 *   first k coordinates of a d-dimensional engine equal those of a k-dimensional one. The
 *   scrambled sequence keeps the (t, m, s)-net property: every 2^k prefix still stratifies
 *   each dimension into 2^k equal cells, and each point is uniform on [0, 1)^d.
 */
import { Rng } from "./rng.js";
import { JOE_KUO_ROWS } from "./sobol-directions.js";

/** Bits per coordinate; points are multiples of 2^-32 and indices must be below 2^32. */
export const SOBOL_BITS = 32;
const TWO32 = 2 ** 32;

let parsedRows: { s: number; a: number; m: number[] }[] | null = null;
function rows(): { s: number; a: number; m: number[] }[] {
  if (parsedRows === null) {
    parsedRows = JOE_KUO_ROWS.trim()
      .split("\n")
      .map((line) => {
        const [s, a, ...m] = line.trim().split(/\s+/).map(Number);
        return { s: s as number, a: a as number, m };
      });
  }
  return parsedRows;
}

/** Largest supported dimension (1 plus the rows of the Joe–Kuo table shipped). */
export const SOBOL_MAX_DIM = JOE_KUO_ROWS.trim().split("\n").length + 1;

/** The 32 direction integers of dimension `j` (0-based), most significant bit first in value. */
function directionNumbers(j: number): Uint32Array {
  const v = new Uint32Array(SOBOL_BITS);
  if (j === 0) {
    for (let k = 0; k < SOBOL_BITS; k++) v[k] = 2 ** (SOBOL_BITS - 1 - k);
    return v;
  }
  const row = rows()[j - 1];
  if (row === undefined) throw new RangeError(`Sobol: dimension ${j + 1} exceeds ${SOBOL_MAX_DIM}`);
  const { s, a, m } = row;
  for (let k = 0; k < Math.min(s, SOBOL_BITS); k++) v[k] = ((m[k] as number) * 2 ** (SOBOL_BITS - 1 - k)) >>> 0;
  // Bratley & Fox recurrence: v_k = v_{k-s} ^ (v_{k-s} >> s) ^ XOR_{l<s} a_l v_{k-l}.
  for (let k = s; k < SOBOL_BITS; k++) {
    const vks = v[k - s] as number;
    let x = vks ^ (vks >>> s);
    for (let l = 1; l < s; l++) if ((a >>> (s - 1 - l)) & 1) x ^= v[k - l] as number;
    v[k] = x >>> 0;
  }
  return v;
}

function parity(x: number): number {
  x ^= x >>> 16;
  x ^= x >>> 8;
  x ^= x >>> 4;
  x ^= x >>> 2;
  x ^= x >>> 1;
  return x & 1;
}

/** Applies a random lower-triangular (unit-diagonal) binary matrix to every direction integer. */
function scrambleDimension(v: Uint32Array, rng: Rng): void {
  // Row r (r = 0 is the most significant output digit) mixes input digits 0..r.
  const masks = new Uint32Array(SOBOL_BITS);
  for (let r = 0; r < SOBOL_BITS; r++) {
    const p = SOBOL_BITS - 1 - r;
    const above = p === SOBOL_BITS - 1 ? 0 : (0xffffffff << (p + 1)) >>> 0;
    masks[r] = ((rng.nextUint32() & above) | (1 << p)) >>> 0;
  }
  for (let k = 0; k < SOBOL_BITS; k++) {
    const x = v[k] as number;
    let y = 0;
    for (let r = 0; r < SOBOL_BITS; r++) if (parity((masks[r] as number) & x)) y |= 1 << (SOBOL_BITS - 1 - r);
    v[k] = y >>> 0;
  }
}

/** Options of a Sobol engine. */
export interface SobolOptions {
  /** Linear matrix scrambling + digital shift (default true). */
  readonly scramble?: boolean;
  /** Seed of the scrambling; ignored when `scramble` is false. */
  readonly seed?: number;
}

/**
 * A d-dimensional Sobol sequence with random access: `point(i)` costs O(d · 32) and needs
 * no state, so the i-th trial can take the i-th point after a server restart.
 */
export class SobolEngine {
  /** Direction integers, dimension-major: v[j * 32 + k]. */
  private readonly v: Uint32Array;
  private readonly shift: Uint32Array;

  /** @throws RangeError when `dim` is not in [1, SOBOL_MAX_DIM]. */
  constructor(
    readonly dim: number,
    readonly options: SobolOptions = {},
  ) {
    if (!Number.isInteger(dim) || dim < 1 || dim > SOBOL_MAX_DIM)
      throw new RangeError(`Sobol: dimension must be an integer in [1, ${SOBOL_MAX_DIM}], got ${dim}`);
    const scramble = options.scramble ?? true;
    const seed = options.seed ?? 0;
    this.v = new Uint32Array(dim * SOBOL_BITS);
    this.shift = new Uint32Array(dim);
    for (let j = 0; j < dim; j++) {
      const v = directionNumbers(j);
      if (scramble) {
        const rng = new Rng(seed, "sobol-scramble", j);
        scrambleDimension(v, rng);
        this.shift[j] = rng.nextUint32();
      }
      this.v.set(v, j * SOBOL_BITS);
    }
  }

  /**
   * Point number `index` (0-based) in [0, 1)^dim, written into `out` when given.
   * @throws RangeError for an index outside [0, 2^32).
   */
  point(index: number, out: Float64Array = new Float64Array(this.dim)): Float64Array {
    if (!Number.isInteger(index) || index < 0 || index >= TWO32)
      throw new RangeError(`Sobol: index must be an integer in [0, 2^32), got ${index}`);
    const gray = (index ^ (index >>> 1)) >>> 0;
    for (let j = 0; j < this.dim; j++) {
      let x = this.shift[j] as number;
      const base = j * SOBOL_BITS;
      for (let k = 0, g = gray; g !== 0; k++, g >>>= 1) if (g & 1) x ^= this.v[base + k] as number;
      out[j] = (x >>> 0) / TWO32;
    }
    return out;
  }

  /** Points [start, start + n) as rows. */
  points(n: number, start = 0): Float64Array[] {
    const out: Float64Array[] = [];
    for (let i = 0; i < n; i++) out.push(this.point(start + i));
    return out;
  }
}

const engineCache = new Map<string, SobolEngine>();
const ENGINE_CACHE_SIZE = 16;

/**
 * Point `index` of the `dim`-dimensional Sobol sequence scrambled from `seed` (or the plain
 * sequence when `scramble` is false). Engines are cached, so repeated calls are cheap.
 * @throws RangeError for a dimension or index out of range.
 */
export function sobolPoint(index: number, dim: number, seed: number, scramble = true): Float64Array {
  const key = `${dim}:${scramble ? seed : "plain"}`;
  let engine = engineCache.get(key);
  if (engine === undefined) {
    engine = new SobolEngine(dim, { seed, scramble });
    if (engineCache.size >= ENGINE_CACHE_SIZE) engineCache.delete(engineCache.keys().next().value as string);
    engineCache.set(key, engine);
  }
  return engine.point(index);
}
