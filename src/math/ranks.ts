/** Rank statistics: average ranks with ties, and Spearman's rank correlation. */

/** Ranks 1..n, ties get their average rank. One native sort and two binary searches per value. */
export function ranks(v: readonly number[]): number[] {
  const sorted = Float64Array.from(v).sort();
  const bound = (x: number, upper: boolean) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = sorted[mid] as number;
      if (m < x || (upper && m === x)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // Ties occupy sorted[first, end): their average rank is (first + end - 1) / 2 + 1.
  return v.map((x) => (bound(x, false) + bound(x, true) - 1) / 2 + 1);
}

/** Spearman's ρ of paired samples (Pearson's on average ranks); NaN when either side is constant. */
export function spearman(a: readonly number[], b: readonly number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = ra.length;
  const ma = ra.reduce((s, x) => s + x, 0) / n;
  const mb = rb.reduce((s, x) => s + x, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = (ra[i] as number) - ma;
    const db = (rb[i] as number) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}
