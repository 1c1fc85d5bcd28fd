/**
 * Seeded pseudo-random numbers. xoshiro128** (Blackman & Vigna, 2018) seeded through
 * splitmix32: fast, 128-bit state, good statistical quality, and trivially reproducible
 * across platforms because it uses only 32-bit integer arithmetic.
 *
 * Reproducibility rule used throughout tuneport: a random decision derives its stream
 * from (study seed, trial number, purpose) through `Rng.derive`, so the same seed and
 * history give the same suggestion no matter how many other asks happened in between
 * or whether the server restarted.
 */

/** 32-bit FNV-1a of a string, for mixing names into seeds. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;

  /**
   * @param seed any integer; `parts` (numbers or strings) are mixed in. Every part goes
   * through a full avalanche with its position, so (1001, 3) and (1002, 0) — or (a, b) and
   * (b, a) — give unrelated streams.
   */
  constructor(seed: number, ...parts: (number | string)[]) {
    let mixed = fmix32((seed >>> 0) ^ fmix32((Math.floor(seed / 2 ** 32) + 0x3c6ef372) | 0));
    parts.forEach((p, i) => {
      const h = typeof p === "string" ? hashString(p) : (p >>> 0) ^ fmix32(Math.floor(p / 2 ** 32) | 0);
      mixed = fmix32((Math.imul(mixed, 0x85ebca6b) ^ fmix32((h + Math.imul(i + 1, 0x9e3779b9)) | 0)) + 0xe6546b64);
    });
    const st = { s: mixed | 0 };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** A fresh independent stream for a sub-purpose. */
  static derive(seed: number, ...parts: (number | string)[]): Rng {
    return new Rng(seed, ...parts);
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 bits of precision. */
  random(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.random();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (n <= 0) throw new RangeError("Rng.int needs n > 0");
    return Math.floor(this.random() * n);
  }

  /** Standard normal (Marsaglia polar method). */
  normal(): number {
    if (this.spareNormal !== null) {
      const s = this.spareNormal;
      this.spareNormal = null;
      return s;
    }
    for (;;) {
      const u = 2 * this.random() - 1;
      const v = 2 * this.random() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        this.spareNormal = v * m;
        return u * m;
      }
    }
  }

  /**
   * Index drawn with probability proportional to `weights` (non-negative, not all zero); never an
   * index of weight zero, even when rounding leaves the draw past the running sum's end.
   */
  choiceWeighted(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i] as number;
    let r = this.random() * total;
    let last = weights.length - 1;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      if (!(w > 0)) continue;
      last = i;
      r -= w;
      if (r < 0) return i;
    }
    return last;
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = xs[i] as T;
      xs[i] = xs[j] as T;
      xs[j] = t;
    }
    return xs;
  }
}

/** MurmurHash3's 32-bit finaliser: every input bit affects every output bit. */
function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
