/**
 * Parameter distributions and the unit-cube encoding every model-based strategy shares.
 *
 * A distribution is plain data (it travels on the wire and is stored as JSON):
 *   float        {type: "float", low, high, log?, step?}
 *   int          {type: "int", low, high, log?, step?}
 *   categorical  {type: "categorical", choices: [scalar, ...]}
 *
 * Encoding: a float/int maps to [0, 1] (log dimensions in log space; int and stepped
 * dimensions widen the interval by ±step/2 so that every grid value owns an equal
 * share of the cube, as Optuna's `_transform` does). A categorical maps to its index.
 */
import { z } from "zod";
import { invalidArgument } from "./errors.js";
import { optunaDistributionHint, optunaSpaceHint } from "./optuna-distribution-json.js";

/** A categorical choice: any msgpack scalar. */
export type Scalar = string | number | boolean | null;
export type ParamValue = Scalar;
export type Params = Record<string, ParamValue>;

export interface FloatDistribution {
  readonly type: "float";
  readonly low: number;
  readonly high: number;
  readonly log?: boolean;
  readonly step?: number;
}
export interface IntDistribution {
  readonly type: "int";
  readonly low: number;
  readonly high: number;
  readonly log?: boolean;
  readonly step?: number;
}
export interface CategoricalDistribution {
  readonly type: "categorical";
  readonly choices: readonly Scalar[];
}
export type Distribution = FloatDistribution | IntDistribution | CategoricalDistribution;
export type NumericDistribution = FloatDistribution | IntDistribution;
/** A declared search space: parameter name → distribution. Order of keys is kept. */
export type SearchSpace = Record<string, Distribution>;

const finite = z.number().refine(Number.isFinite, "must be a finite number");
const scalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const floatDistributionSchema = z
  .object({
    type: z.literal("float"),
    low: finite,
    high: finite,
    log: z.boolean().optional(),
    step: finite.optional(),
  })
  .strict();
export const intDistributionSchema = z
  .object({
    type: z.literal("int"),
    low: z.number().int(),
    high: z.number().int(),
    log: z.boolean().optional(),
    step: z.number().int().optional(),
  })
  .strict();
export const categoricalDistributionSchema = z
  .object({ type: z.literal("categorical"), choices: z.array(scalarSchema) })
  .strict();
export const distributionSchema = z.discriminatedUnion("type", [
  floatDistributionSchema,
  intDistributionSchema,
  categoricalDistributionSchema,
]);
/**
 * Names every JavaScript object already answers to (`({}).toString`, `constructor`, ...). As a
 * parameter name each one was confused with the member in lookups of a space or a trial's params:
 * an undeclared `toString` was stored with a null distribution, a declared `constructor` refused its
 * own value. They are refused as parameter names, as `__proto__` is refused as any key.
 */
export const RESERVED_PARAM_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * A parameter name: 1 to 256 characters, not one of RESERVED_PARAM_NAMES, without U+0000 (NUL):
 * PostgreSQL's text cannot hold NUL, and its storage reads every name out of the trial's
 * distributions as text, so a NUL name failed the commit there and stopped the server.
 */
export const paramNameSchema = z
  .string()
  .min(1)
  .max(256)
  .refine((n) => !RESERVED_PARAM_NAMES.has(n), {
    message: `a parameter may not be named after a member every JavaScript object has (${[...RESERVED_PARAM_NAMES].sort().join(", ")}); rename it`,
  })
  .refine((n) => !n.includes("\u0000"), { message: "a parameter name may not contain U+0000 (NUL); rename it" });
export const searchSpaceSchema = z.record(paramNameSchema, distributionSchema);

/**
 * Most choices one categorical may have. Every trial carries its distributions, so each trial read
 * (`trials`, exports, plots) and every TPE or GP suggestion costs the choices over again: a probe's
 * 200,000 choices (a 1 MiB request) made each trial 590 KB in `trials` (300 trials: 177 MB, 2.8 s on
 * the event loop), TPE asks 1–1.7 s, and the slice and contour plots overflow the stack. Optuna has no
 * limit; thousands of choices stay fine, and a larger set is better searched as an int index.
 */
export const MAX_CHOICES = 10_000;

/**
 * Most characters of JSON one trial's distributions take together. A trial's stored row carries all
 * of them and define-by-run rewrites the row at each `suggest`, so a trial of k suggests writes its
 * distributions k times over: 60 categoricals of 10,000 80-character choices (each a legal request)
 * grew a 51 MB row, each suggest held the event loop ~2 s and another client's ask waited 4 s. At
 * this size one suggest's commit stays near 0.15 s; 30 categoricals of 10,000 short choices fit.
 * Checked by `suggest`, the only path that grows a trial's map one request at a time: a declared
 * space or an added trial arrives whole, bounded by the request's size.
 */
export const MAX_TRIAL_DISTRIBUTION_CHARS = 4 * 1024 * 1024;

/** JSON length of a distribution, kept per object: a trial's map keeps its objects from suggest to suggest. */
const jsonChars = new WeakMap<Distribution, number>();

/** The characters of `d`'s JSON (kept per object). */
export function distributionChars(d: Distribution): number {
  let n = jsonChars.get(d);
  if (n === undefined) jsonChars.set(d, (n = JSON.stringify(d).length));
  return n;
}

/** @throws INVALID_ARGUMENT when adding `name`'s distribution takes a trial's over MAX_TRIAL_DISTRIBUTION_CHARS. */
export function checkTrialDistributionsSize(name: string, existing: Readonly<Record<string, Distribution>>, added: Distribution): void {
  let total = distributionChars(added);
  for (const d of Object.values(existing)) total += distributionChars(d);
  if (total > MAX_TRIAL_DISTRIBUTION_CHARS)
    throw invalidArgument(
      `parameter '${name}': a trial's distributions take at most ${MAX_TRIAL_DISTRIBUTION_CHARS.toLocaleString("en-US")} characters of JSON together ` +
        `(with this one, this trial's would take ${total.toLocaleString("en-US")}); search a large categorical as an int parameter indexing its choices`,
      { param: name, max_chars: MAX_TRIAL_DISTRIBUTION_CHARS, chars: total },
    );
}

/**
 * Most characters of JSON a study's declared space takes (names and distributions). Every trial
 * carries the declared space (its `distributions`, filled in at ask), and every reply that holds a
 * trial or the study carries it again: widening a categorical by 1 MB per update_study made each
 * update's reply, stored for resends, and each later ask's 1 MB larger, without end, until one
 * could not be sent. The bound a trial's distributions have (`MAX_TRIAL_DISTRIBUTION_CHARS`).
 */
export const MAX_SPACE_CHARS = MAX_TRIAL_DISTRIBUTION_CHARS;

/** `space`, checked. @throws INVALID_ARGUMENT when it takes more than MAX_SPACE_CHARS characters of JSON. */
export function checkSpaceSize<T extends Readonly<Record<string, Distribution>>>(space: T): T {
  let chars = 0;
  for (const [name, d] of Object.entries(space)) chars += name.length + distributionChars(d);
  if (chars > MAX_SPACE_CHARS)
    throw invalidArgument(
      `the search space takes at most ${MAX_SPACE_CHARS.toLocaleString("en-US")} characters of JSON (this one would take ${chars.toLocaleString("en-US")}): ` +
        "every trial and every reply that holds one carries it; search a large categorical as an int parameter indexing its choices",
      { max_chars: MAX_SPACE_CHARS, chars },
    );
  return space;
}

/**
 * Checks the semantic rules zod cannot express and returns a normalised copy
 * (`log`/`step` omitted when unset, int `step` defaulting to 1).
 * @throws TuneportError INVALID_ARGUMENT naming the parameter and the rule broken.
 */
export function validateDistribution(name: string, d: Distribution): Distribution {
  const where = `parameter '${name}'`;
  if (d.type === "categorical") {
    if (d.choices.length === 0) throw invalidArgument(`${where}: categorical needs at least one choice`);
    if (d.choices.length > MAX_CHOICES)
      throw invalidArgument(
        `${where}: a categorical has at most ${MAX_CHOICES.toLocaleString("en-US")} choices (this one has ${d.choices.length.toLocaleString("en-US")}); ` +
          "search a larger set as an int parameter indexing it",
      );
    const seen = new Set<string>();
    for (const c of d.choices) {
      if (typeof c === "number" && !Number.isFinite(c))
        throw invalidArgument(`${where}: categorical choices must be finite`);
      // PostgreSQL's storage parses each trial's distributions, and its JSON text cannot hold NUL.
      if (typeof c === "string" && c.includes("\u0000"))
        throw invalidArgument(`${where}: a categorical choice may not contain U+0000 (NUL)`);
      const key = `${typeof c}:${String(c)}`;
      if (seen.has(key)) throw invalidArgument(`${where}: duplicate categorical choice ${JSON.stringify(c)}`);
      seen.add(key);
    }
    return { type: "categorical", choices: [...d.choices] };
  }
  if (!(d.low <= d.high)) throw invalidArgument(`${where}: low (${d.low}) must be <= high (${d.high})`);
  // A range wider than the largest double (-1.7e308 to 1.7e308) overflows every computation on it:
  // a stepped one stored high = Infinity and handed out inf and NaN, lost on the next restart.
  if (!Number.isFinite(d.high - d.low)) throw invalidArgument(`${where}: high − low must be a finite number (got ${d.low} to ${d.high})`);
  if (d.log) {
    if (d.low <= 0) throw invalidArgument(`${where}: log scale needs low > 0 (got ${d.low})`);
    if (d.step !== undefined && !(d.type === "int" && d.step === 1))
      throw invalidArgument(`${where}: step cannot be combined with log scale`);
  }
  if (d.step !== undefined && !(d.step > 0)) throw invalidArgument(`${where}: step must be > 0 (got ${d.step})`);
  if (d.type === "int") {
    if (!Number.isSafeInteger(d.low) || !Number.isSafeInteger(d.high))
      throw invalidArgument(`${where}: int bounds must be safe integers`);
    // Beyond 2^53 − 1 the grid arithmetic rounds: -(2^53 − 1) to 2^53 − 1 by 3 was stored with
    // high = 2^53 (above the high given, not a safe integer), its own export could not be imported,
    // and strategies' values fell off the grid.
    if (!Number.isSafeInteger(d.high - d.low))
      throw invalidArgument(`${where}: an int range may span at most 2^53 − 1 (${Number.MAX_SAFE_INTEGER}); got ${d.low} to ${d.high}`);
    const step = d.step ?? 1;
    // Like Optuna, shrink high onto the grid rather than refusing a range that is not a multiple.
    const high = d.low + Math.floor((d.high - d.low) / step) * step;
    return d.log ? { type: "int", low: d.low, high, log: true } : { type: "int", low: d.low, high, step };
  }
  if (d.step !== undefined) {
    if (!Number.isFinite((d.high - d.low) / d.step)) throw invalidArgument(`${where}: (high − low) / step must be finite (step ${d.step})`);
    // Strategies model a stepped float on its cells, [low − step/2, high + step/2]: 0 to 1.7e308 by
    // 1e307 spans 1.8e308, beyond the largest double, and TPE and ParEGO proposed NaN on it.
    if (!Number.isFinite(d.high + d.step / 2 - (d.low - d.step / 2)))
      throw invalidArgument(`${where}: high − low + step must be a finite number (got ${d.low} to ${d.high} by ${d.step}); its grid's cells span more than the largest double`);
    const n = Math.floor((d.high - d.low) / d.step + 1e-9);
    const high = roundToStep(d.low + n * d.step, d.low, d.step);
    return { type: "float", low: d.low, high, step: d.step };
  }
  return d.log ? { type: "float", low: d.low, high: d.high, log: true } : { type: "float", low: d.low, high: d.high };
}

/** Parses and validates a whole space. @throws TuneportError INVALID_ARGUMENT */
export function parseSearchSpace(raw: unknown): SearchSpace {
  const parsed = searchSpaceSchema.safeParse(raw);
  if (!parsed.success) throw invalidArgument(`invalid search space: ${formatZodError(parsed.error)}${optunaSpaceHint(raw)}`);
  const out: SearchSpace = {};
  for (const [name, d] of Object.entries(parsed.data)) out[name] = validateDistribution(name, d as Distribution);
  return out;
}

/** Parses and validates one distribution. @throws TuneportError INVALID_ARGUMENT */
export function parseDistribution(name: string, raw: unknown): Distribution {
  const parsed = distributionSchema.safeParse(raw);
  if (!parsed.success)
    throw invalidArgument(`invalid distribution for parameter '${name}': ${formatZodError(parsed.error)}${optunaDistributionHint(raw)}`);
  return validateDistribution(name, parsed.data as Distribution);
}

/** A compact, single-line rendering of a zod error for wire messages. */
export function formatZodError(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    // A refused record key says why (zod's own message is "Invalid key in record").
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.code === "invalid_key" && i.issues[0] ? i.issues[0].message : i.message}`)
    .join("; ");
}

function roundToStep(v: number, low: number, step: number): number {
  const k = Math.round((v - low) / step);
  const exact = low + k * step;
  // Limit float noise (0.1 + 2*0.1 = 0.30000000000000004) to what the step can express.
  const decimals = Math.min(15, Math.max(0, -Math.floor(Math.log10(step)) + 6));
  const rounded = Number(exact.toFixed(decimals));
  // toFixed keeps at most 15 decimals: below that a step's grid point was rounded away (a float from
  // 5e-324 to 2e-323 by 5e-324 was stored with high 0, below its low, and handed out 0).
  return Math.abs(rounded - exact) <= step * 1e-6 ? rounded : exact;
}

/** Deep equality of two (validated) distributions. */
export function distributionsEqual(a: Distribution, b: Distribution): boolean {
  if (a.type !== b.type) return false;
  if (a.type === "categorical" && b.type === "categorical")
    return a.choices.length === b.choices.length && a.choices.every((c, i) => Object.is(c, b.choices[i]));
  const x = a as NumericDistribution;
  const y = b as NumericDistribution;
  return x.low === y.low && x.high === y.high && !!x.log === !!y.log && (x.step ?? null) === (y.step ?? null);
}

/**
 * Optuna's `check_distribution_compatibility` for a parameter trial `trial` already has, suggested
 * again from `next` (its first value is then returned): another range is fine; another kind, log
 * scale or list of choices is refused with Optuna's message. @throws INVALID_ARGUMENT.
 */
export function checkRepeat(name: string, trial: number, first: Distribution, next: Distribution): void {
  let why: string | null = null;
  if (first.type !== next.type) why = "Cannot set different distribution kind to the same parameter name.";
  else if (first.type !== "categorical" && next.type !== "categorical" && !!first.log !== !!next.log)
    why = "Cannot set different log configuration to the same parameter name.";
  else if (first.type === "categorical" && !distributionsEqual(first, next)) why = "CategoricalDistribution does not support dynamic value space.";
  if (why !== null)
    throw invalidArgument(
      `${why} Parameter '${name}' was suggested as ${JSON.stringify(first)} in trial ${trial}, now as ${JSON.stringify(next)}: suggest it as before (another range is fine), or use another name`,
      { param: name, existing: first as unknown as Record<string, unknown> },
    );
}

/** True when the distribution has exactly one possible value. */
export function isSingleValue(d: Distribution): boolean {
  return d.type === "categorical" ? d.choices.length === 1 : d.low === d.high;
}

/** Index of a categorical value, or -1. Numbers compare by value, others by identity. */
export function choiceIndex(d: CategoricalDistribution, v: ParamValue): number {
  return d.choices.findIndex((c) => Object.is(c, v) || (typeof c === "number" && c === v));
}

/**
 * Whether `v` is a value this distribution can produce: Optuna's `_contains`. The bounds are exact
 * (`low <= v <= high`); only a stepped float's grid allows float noise (`(v − low) / step` within
 * 1e-6 of a whole number: 0.1 + 0.2 is on the grid of 0 to 1 by 0.1). Every value the server
 * stores passes it. Before, the bounds allowed 1e-9 of the range (at least 1e-9), so `enqueue`,
 * `add_trial`, `suggest` and plug-in updates stored 0 or -5e-10 for a log range of
 * [1e-12, 1e-10], and 2^40 + 1000 for an int up to 2^40.
 */
export function contains(d: Distribution, v: ParamValue): boolean {
  if (d.type === "categorical") return choiceIndex(d, v) >= 0;
  if (typeof v !== "number" || !Number.isFinite(v)) return false;
  if (v < d.low || v > d.high) return false;
  if (d.type === "int") {
    if (!Number.isInteger(v)) return false;
    const step = d.step ?? 1;
    return (v - d.low) % step === 0;
  }
  if (d.step !== undefined) {
    const k = (v - d.low) / d.step;
    return Math.abs(k - Math.round(k)) < 1e-6;
  }
  return true;
}

/**
 * The bound of float distribution `d` that `v` lies past by float rounding only (within 1e-12 of
 * it, relative), or null: a number computed in a transformed space (exp(log(0.1)) is
 * 0.10000000000000006), which servers before exact bounds stored and a plug-in may still propose.
 * Moved onto the bound it stays the point meant; a number farther out is not this (null).
 */
export function roundedPastBound(d: Distribution, v: ParamValue): number | null {
  if (d.type !== "float" || typeof v !== "number" || !Number.isFinite(v) || contains(d, v)) return null;
  for (const bound of [d.low, d.high]) if (Math.abs(v - bound) <= 1e-12 * Math.abs(bound) && contains(d, bound)) return bound;
  return null;
}

/**
 * The grid point of a stepped or integer distribution nearest to `v`, when `v` is a number within
 * its bounds but between grid points (an enqueued dropout 0.33 for a step of 0.1: 0.3); null
 * otherwise (outside the bounds, not a number, a categorical, or already on the grid).
 */
export function nearestGridPoint(d: Distribution, v: ParamValue): number | null {
  if (d.type === "categorical" || typeof v !== "number" || !Number.isFinite(v) || contains(d, v)) return null;
  if (v < d.low || v > d.high) return null;
  const snapped = snap(d, v);
  return contains(d, snapped) ? snapped : null;
}

/**
 * Why `v` is not a value of `d` ("a string, not a number", "not an integer", "outside [low, high]",
 * "not on the step grid"), for an error message; null when it is one (`contains`).
 */
export function whyNotContained(d: Distribution, v: ParamValue): string | null {
  if (contains(d, v)) return null;
  if (d.type === "categorical") return `not one of the choices ${JSON.stringify(d.choices)}`;
  if (typeof v !== "number") return `${v === null ? "null" : `a ${typeof v}`}, not a number (${d.type} parameter)`;
  if (!Number.isFinite(v)) return "not a finite number";
  if (v < d.low || v > d.high) return `outside [${d.low}, ${d.high}]${d.log && v <= 0 ? " (a log range holds positive numbers only)" : ""}`;
  if (d.type === "int" && !Number.isInteger(v)) return "not an integer (int parameter)";
  return `not on the grid low + k·step (low ${d.low}, step ${d.step ?? 1})`;
}

/** Number of distinct values, or Infinity for a continuous float. */
export function cardinality(d: Distribution): number {
  if (d.type === "categorical") return d.choices.length;
  if (d.type === "int") return d.log ? d.high - d.low + 1 : Math.floor((d.high - d.low) / (d.step ?? 1)) + 1;
  if (d.step !== undefined) return Math.floor((d.high - d.low) / d.step + 1e-9) + 1;
  return d.low === d.high ? 1 : Infinity;
}

/** The effective grid step of a numeric distribution in *internal* space, or 0 if continuous. */
function internalStep(d: NumericDistribution): number {
  if (d.type === "int") return d.log ? 0 : (d.step ?? 1);
  return d.step ?? 0;
}

/**
 * The internal interval [lo, hi] of a numeric distribution: log-transformed when `log`,
 * widened by ±step/2 for int (linear) and stepped dimensions, and by ±0.5 in the
 * original scale for log-int before the log is taken.
 */
export function internalBounds(d: NumericDistribution): [number, number] {
  if (d.log) {
    if (d.type === "int") return [Math.log(d.low - 0.5 > 0 ? d.low - 0.5 : d.low * 0.5), Math.log(d.high + 0.5)];
    return [Math.log(d.low), Math.log(d.high)];
  }
  const h = internalStep(d) / 2;
  return [d.low - h, d.high + h];
}

/** Maps a value of a numeric distribution to [0, 1]. A single-value range maps to 0.5. */
export function toUnit(d: NumericDistribution, v: number): number {
  const [lo, hi] = internalBounds(d);
  if (hi <= lo) return 0.5;
  const x = d.log ? Math.log(v) : v;
  return Math.min(1, Math.max(0, (x - lo) / (hi - lo)));
}

/** Maps u ∈ [0, 1] back to a valid value of the distribution (rounded onto its grid and clipped). */
export function fromUnit(d: NumericDistribution, u: number): number {
  const [lo, hi] = internalBounds(d);
  const x = lo + Math.min(1, Math.max(0, u)) * (hi - lo);
  let v = d.log ? Math.exp(x) : x;
  return snap(d, v);
}

/** Rounds a raw number onto the distribution's grid and clips it to [low, high]. */
export function snap(d: NumericDistribution, v: number): number {
  let out = v;
  if (d.type === "int") {
    const step = d.log ? 1 : (d.step ?? 1);
    out = d.low + Math.round((out - d.low) / step) * step;
  } else if (d.step !== undefined) {
    out = roundToStep(out, d.low, d.step);
  }
  out = Math.min(d.high, Math.max(d.low, out));
  return out;
}

/**
 * Encodes a parameter value as one unit-cube coordinate: numeric → [0,1];
 * categorical → its index (strategies treat that dimension as categorical).
 */
export function encode(d: Distribution, v: ParamValue): number {
  if (d.type === "categorical") return choiceIndex(d, v);
  return toUnit(d, v as number);
}

/** Inverse of `encode`. */
export function decode(d: Distribution, x: number): ParamValue {
  if (d.type === "categorical") {
    const i = Math.min(d.choices.length - 1, Math.max(0, Math.round(x)));
    return d.choices[i] as ParamValue;
  }
  return fromUnit(d, x);
}
