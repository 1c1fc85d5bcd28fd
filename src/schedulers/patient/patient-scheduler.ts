/**
 * Patience (Optuna 5.0 `PatientPruner`, after Keras' EarlyStopping): a trial may be pruned
 * only once its last `patience + 1` reports are all worse than its best earlier value.
 * Precisely, with the trial's values in step order, "before" = all but the last
 * `patience + 1`, "after" = the last `patience + 1`: the trial is stalled when best(after)
 * is worse than best(before) by more than `min_delta` (minimise:
 * min(before) + min_delta < min(after)), Optuna's rule — `min_delta` is a tolerance for
 * getting worse, unlike Keras where it is the smallest improvement that counts. Nothing
 * happens with `patience + 1` reports or fewer.
 *
 * When stalled, the decision is the `wrapped` scheduler's (or `prune` when there is none,
 * as Optuna with `wrapped_pruner=None`). The wrapped scheduler is consulted on every report,
 * so schedulers that keep bookkeeping in `systemAttrs` (successive halving's rungs) stay
 * consistent; its `prune` is turned into "continue" while the trial is still improving, its
 * other decisions and attributes pass through, and so does its `beforeSuggest`.
 *
 * "Steps" of patience are reports, as in Optuna. NaN: a NaN report prunes at once, patience or
 * not (the rule of every scheduler here, `../common.ts`: a diverged run does not recover, so
 * waiting `patience` reports only spends steps; Optuna's PatientPruner would hold it back while
 * the earlier reports still count as improving). The wrapped scheduler's attributes go with that
 * prune. Earlier NaN values count as the worst value. Defaults: min_delta = 0 (Optuna); patience
 * required.
 */
import { z } from "zod";
import { canonicalOptionNames, withOptionNames } from "../../domain/plugin-options.js";
import type { SearchSpace } from "../../domain/distributions.js";
import type { PluginConfig } from "../../domain/trial.js";
import type { DecisionResult, ReportRequest, Scheduler, SchedulerFactory, Suggestion, SuggestRequest } from "../../domain/plugin.js";
import { lossOf, prune } from "../common.js";

type Lookup = (name: string) => SchedulerFactory<any> | undefined;

const wrappedShape = z
  .object({ name: z.string().min(1), options: z.record(z.string(), z.unknown()).default({}) })
  .strict();
/** A scheduler named as a study names one: a name, or `{name, options}` (as hypergradient's `base`). */
const wrappedRef = z.union([z.string().min(1), wrappedShape]);
const asConfig = (w: string | z.output<typeof wrappedShape>) => (typeof w === "string" ? { name: w, options: {} } : w);

function optionsSchema(lookup: Lookup) {
  return z
    .object({
      /** Reports without improvement before the wrapped scheduler may prune. Required (Optuna). */
      patience: z.number().int().min(0),
      /** Tolerance: recent values may be this much worse than the earlier best (Optuna: 0). */
      min_delta: z.number().min(0).default(0),
      /** The scheduler whose prune decisions are held back (a name or {name, options}); null prunes on patience alone. */
      wrapped: wrappedRef.nullable().default(null),
    })
    .strict()
    .superRefine((o, ctx) => {
      if (o.wrapped === null) return;
      const w = asConfig(o.wrapped);
      const f = lookup(w.name);
      if (!f) {
        ctx.addIssue({ code: "custom", path: ["wrapped", "name"], message: `unknown scheduler '${w.name}'` });
        return;
      }
      const r = f.options.safeParse(canonicalOptionNames(f.options, w.options));
      if (!r.success)
        for (const i of r.error.issues.map((i) => withOptionNames(f.options, i)))
          ctx.addIssue({ code: "custom", path: ["wrapped", "options", ...i.path.map(String)], message: i.message });
    })
    .transform((o) => ({ ...o, wrapped: o.wrapped === null ? null : asConfig(o.wrapped) }));
}
export type PatientOptions = z.output<ReturnType<typeof optionsSchema>>;

export class PatientScheduler implements Scheduler {
  constructor(private readonly opts: PatientOptions, private readonly inner: Scheduler | null) {
    if (inner?.beforeSuggest) this.beforeSuggest = (req) => inner.beforeSuggest!(req);
    if (inner?.startAttrs) this.startAttrs = (req) => inner.startAttrs!(req);
  }

  beforeSuggest?: (req: SuggestRequest) => Suggestion | null;
  startAttrs?: (req: SuggestRequest) => Record<string, unknown>;

  /** Whether the trial has gone `patience` reports without a `min_delta` improvement. */
  stalled(req: ReportRequest): boolean {
    const iv = req.trial.intermediate;
    const p = this.opts.patience;
    if (iv.length <= p + 1) return false;
    const dir = req.study.direction;
    let before = Infinity;
    let after = Infinity;
    iv.forEach((x, i) => {
      const l = lossOf(dir, x.value);
      if (i < iv.length - p - 1) before = Math.min(before, l);
      else after = Math.min(after, l);
    });
    return before + this.opts.min_delta < after;
  }

  onReport(req: ReportRequest): DecisionResult | null {
    const inner = this.inner ? this.inner.onReport(req) : { decision: prune("") };
    if (Number.isNaN(req.value)) {
      const why = inner?.decision.action === "prune" && inner.decision.reason ? inner.decision.reason : `patient: value at step ${req.step} is NaN`;
      return { ...(inner?.systemAttrs ? { systemAttrs: inner.systemAttrs } : {}), decision: prune(why) };
    }
    const stalled = this.stalled(req);
    if (inner === null) return null;
    if (inner.decision.action !== "prune") return inner;
    const reason = `patient: no improvement beyond ${this.opts.min_delta} in ${this.opts.patience} reports`;
    if (stalled)
      return { ...inner, decision: prune(inner.decision.reason ? `${reason}; ${inner.decision.reason}` : reason) };
    return inner.systemAttrs ? { decision: { action: "continue" }, systemAttrs: inner.systemAttrs } : null;
  }
}

/** Builds the factory; `lookup` resolves the wrapped scheduler's name (the catalogue). */
export function makePatientSchedulerFactory(lookup: Lookup): SchedulerFactory<PatientOptions> {
  const wrappedFactory = (o: PatientOptions) => {
    if (o.wrapped === null) return null;
    const f = lookup(o.wrapped.name);
    if (!f) throw new Error(`patient: unknown wrapped scheduler '${o.wrapped.name}'`);
    return { f, opts: f.options.parse(canonicalOptionNames(f.options, o.wrapped.options)) };
  };
  return {
    name: "patient",
    description:
      "Lets a wrapped scheduler prune only after `patience` reports without improvement beyond `min_delta` (Optuna's PatientPruner).",
    options: optionsSchema(lookup),
    /** The study's budget goes to the wrapped scheduler. */
    withStudyBudget(options, maxResource) {
      const given = options.wrapped;
      const w = (typeof given === "string" ? { name: given, options: {} } : given) as { name?: unknown; options?: unknown } | null | undefined;
      if (w === null || typeof w !== "object" || typeof w.name !== "string") return options;
      const f = lookup(w.name);
      if (!f?.withStudyBudget) return options;
      const inner = w.options !== null && typeof w.options === "object" ? (w.options as Record<string, unknown>) : {};
      return { ...options, wrapped: { ...w, options: f.withStudyBudget(inner, maxResource) } };
    },
    incompatibleWith(strategy: PluginConfig, o: PatientOptions) {
      const w = wrappedFactory(o);
      return w?.f.incompatibleWith ? w.f.incompatibleWith(strategy, w.opts) : null;
    },
    spaceProblem(space: SearchSpace, o: PatientOptions) {
      const w = wrappedFactory(o);
      const reason = w?.f.spaceProblem ? w.f.spaceProblem(space, w.opts) : null;
      return reason === null ? null : `wrapping '${w?.f.name}': ${reason}`;
    },
    create(o) {
      const w = wrappedFactory(o);
      return new PatientScheduler(o, w ? w.f.create(w.opts) : null);
    },
  };
}
