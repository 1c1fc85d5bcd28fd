/**
 * Plug-in option names as users write them. Optuna's are snake_case (`n_startup_trials`) and most
 * plug-ins' are too, but some are camelCase (`gp`'s `nStartupTrials`): a name written in the other
 * case is renamed to the plug-in's before its schema checks it, here and in the options one
 * strategy passes to another (`auto`'s `gp`, `tpe`, ...). Plug-in names written as Optuna's classes
 * (`TPESampler`) are not renamed, but a refusal names the plug-in they mean (`likelyPluginName`).
 */
import { z } from "zod";

/** Each schema's option names by folded name, looked up once per schema. */
const namesOf = new WeakMap<z.ZodType<unknown>, ReadonlyMap<string, string>>();

/** `nStartupTrials`, `n_startup_trials` and `n-startup-trials` fold to the same key. */
const fold = (name: string) => name.toLowerCase().replace(/[_-]/g, "");

function optionNames(schema: z.ZodType<unknown>): ReadonlyMap<string, string> {
  let names = namesOf.get(schema);
  if (!names) {
    const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as { properties?: Record<string, unknown> };
    names = new Map(Object.keys(json.properties ?? {}).map((k) => [fold(k), k]));
    namesOf.set(schema, names);
  }
  return names;
}

/**
 * `raw` with every option name that differs from one of `schema`'s only by case, `_` or `-`
 * renamed to the schema's. A name given in both spellings is left for the schema to refuse.
 */
export function canonicalOptionNames(schema: z.ZodType<unknown>, raw: Record<string, unknown>): Record<string, unknown> {
  const names = optionNames(schema);
  let out = raw;
  for (const key of Object.keys(raw)) {
    const canonical = names.get(fold(key));
    if (canonical === undefined || canonical === key || canonical in raw) continue;
    if (out === raw) out = { ...raw };
    out[canonical] = raw[key];
    delete out[key];
  }
  return out;
}

/** Per schema, what option names of the library a plug-in follows (Ray Tune's) are here (`foreignOptionNames`). */
const foreignOf = new WeakMap<z.ZodType<unknown>, Readonly<Record<string, string>>>();

/**
 * Registers, for `schema`, where option names of the library its plug-in follows went (Ray Tune's
 * PBT `hyperparam_mutations`: the study's space): a refusal of such a name says so. Returns `schema`.
 */
export function foreignOptionNames<T extends z.ZodType<unknown>>(schema: T, hints: Readonly<Record<string, string>>): T {
  foreignOf.set(schema, hints);
  return schema;
}

/**
 * An issue of `schema`'s with the options it takes named when the issue is an option name it
 * does not know ("Unrecognized key: \"n_startup_trials\"" alone leaves the caller guessing: parego's
 * start-up count is under its `gp`), and where a name of another library went (`foreignOptionNames`).
 */
export function withOptionNames(schema: z.ZodType<unknown>, issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== "unrecognized_keys" || issue.path.length > 0) return issue;
  const names = [...optionNames(schema).values()];
  const hints = foreignOf.get(schema) ?? {};
  const known = issue.keys.filter((k) => Object.hasOwn(hints, k)).map((k) => `; ${k}: ${hints[k]}`);
  return { ...issue, message: `${issue.message}; ${names.length > 0 ? `its options are ${names.join(", ")}` : "it takes no options"}${known.join("")}` };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The options one strategy passes to another (`auto`'s `gp: {...}`): kept as given, with names
 * made canonical, and checked against the inner strategy's `schema` when the outer one's options
 * are, so that a bad inner option is refused at create_study like any other (it was a crash when
 * the strategy was built).
 */
export function innerOptions(schema: z.ZodType<unknown>) {
  return z
    .preprocess((v) => (isRecord(v) ? canonicalOptionNames(schema, v) : v), z.record(z.string(), z.unknown()))
    .superRefine((v, ctx) => {
      const r = schema.safeParse(v);
      if (r.success) return;
      for (const issue of r.error.issues.map((i) => withOptionNames(schema, i)))
        ctx.addIssue({ code: "custom", message: issue.message, path: issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)) });
    })
    .default({});
}

/** A plug-in name reduced to compare spellings: lower case, letters and digits, without Optuna's class suffix. */
export const pluginKey = (s: string): string =>
  s
    .toLowerCase()
    .replace(/(sampler|pruner)$/, "")
    .replace(/[^a-z0-9]/g, "")
    .replace(/^nsgaii$/, "nsga2");

/**
 * The name in `names` that `name` most likely means: Optuna's class name (`TPESampler`, `MedianPruner`,
 * `NSGAIISampler`) or another spelling (`TPE`, `successive_halving`), or null.
 */
export function likelyPluginName(name: string, names: readonly string[]): string | null {
  const k = pluginKey(name);
  return k === "" ? null : (names.find((n) => pluginKey(n) === k) ?? null);
}
