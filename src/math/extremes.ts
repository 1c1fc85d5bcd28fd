/**
 * The largest and smallest of many numbers. `Math.max(...xs)` passes every element as an argument
 * and throws RangeError ("Maximum call stack size exceeded") past about 120,000 of them, so a
 * study grown that large (trials, a Pareto front, constraint rows) answered INTERNAL where the
 * code spread its trials into it; a `hello` listing 200,000 versions did too. These fold instead,
 * with Math.max's and Math.min's results (NaN wins, −Infinity and Infinity for none).
 */

/** `Math.max(...xs)` for any number of values. */
export function maxOf(xs: Iterable<number>): number {
  let m = -Infinity;
  for (const x of xs) m = Math.max(m, x);
  return m;
}

/** `Math.min(...xs)` for any number of values. */
export function minOf(xs: Iterable<number>): number {
  let m = Infinity;
  for (const x of xs) m = Math.min(m, x);
  return m;
}
