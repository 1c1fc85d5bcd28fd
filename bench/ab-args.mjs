// Command-line options of the small before/after benchmarks (bench/*-ab.mjs, aggregates-load.mjs):
// `--name value` pairs; exits with the usage line when a required one is missing. Also the median
// they report.

/** The `--name value` options of this process; prints `usage` and exits 2 when one of `required` is missing. */
export function abArgs(usage, required) {
  const args = Object.fromEntries(
    process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
  );
  if (required.some((k) => !args[k])) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return args;
}

/** Option `name` of `args` as a whole number of at least `least` (`fallback` when absent); prints `usage` and exits 2 otherwise. */
export function countArg(args, name, fallback, least, usage) {
  const v = args[name] === undefined ? fallback : Number(args[name]);
  if (!Number.isInteger(v) || v < least) {
    console.error(`--${name} must be a whole number of at least ${least} (got ${args[name]})\nusage: ${usage}`);
    process.exit(2);
  }
  return v;
}

/** The median (upper middle for an even count) of numbers. */
export const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
