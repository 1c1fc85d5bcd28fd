/**
 * `auto`, the default strategy: a rule on what the study looks like picks GP or TPE for each
 * suggestion.
 *
 * The rules and their evidence (docs/BENCHMARKS.md, "The default strategy", issue 17's suite:
 * BBOB-style, mixed, conditional, noisy and real HPO problems, sequential and 4 asynchronous
 * workers). Each default below names the table row that sets it:
 * - no declared space (pure define-by-run) → TPE: GP models the declared space only;
 * - at least `tpe_from_dim` modelled dimensions → TPE;
 * - a categorical share of the modelled dimensions of at least `tpe_from_cat_share` → TPE;
 * - at least `gp_until` COMPLETE trials → TPE (a count switch, off by default: the GP's cost
 *   stops growing beyond `maxModelTrials`, see gp-strategy.ts, so speed alone is no reason);
 * - otherwise GP.
 *
 * Define-by-run parameters always use TPE's univariate model. Both inner strategies are
 * functions of history, so `auto` is too; GP's warm-start state lives in trial attributes
 * and simply stops being read when TPE takes over.
 */
import { z } from "zod";
import { isSingleValue } from "../../domain/distributions.js";
import { gpStrategyFactory } from "../gp/gp-strategy.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";
import { tpeStrategyFactory } from "../tpe/tpe-strategy.js";

const options = z
  .object({
    /** COMPLETE trials from which suggestions come from TPE (0: always TPE). Off by default. */
    gp_until: z.number().int().min(0).max(1_000_000_000).default(1_000_000_000),
    /** Modelled (non-constant) dimensions from which TPE is used instead of GP. */
    tpe_from_dim: z.number().int().min(1).default(1_000_000),
    /** Share of categorical dimensions among the modelled ones from which TPE is used. */
    tpe_from_cat_share: z.number().min(0).max(2).default(2),
    /** Options passed to the GP phase (see the `gp` strategy). */
    gp: z.record(z.string(), z.unknown()).default({}),
    /** Options passed to the TPE phase (see the `tpe` strategy). */
    tpe: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type AutoOptions = z.output<typeof options>;

export class AutoStrategy implements Strategy {
  private readonly gp: Strategy;
  private readonly tpe: Strategy;

  constructor(private readonly opts: AutoOptions) {
    this.gp = gpStrategyFactory.create(gpStrategyFactory.options.parse(opts.gp));
    this.tpe = tpeStrategyFactory.create(tpeStrategyFactory.options.parse(opts.tpe));
  }

  /** Which strategy a request goes to (the rules in the file header, in that order). */
  phase(req: Pick<SuggestRequest, "study" | "trials">): "gp" | "tpe" {
    const dists = Object.values(req.study.space).filter((d) => !isSingleValue(d));
    if (dists.length === 0) return "tpe";
    if (dists.length >= this.opts.tpe_from_dim) return "tpe";
    const cats = dists.filter((d) => d.type === "categorical").length;
    if (cats / dists.length >= this.opts.tpe_from_cat_share) return "tpe";
    let complete = 0;
    for (const t of req.trials) if (t.state === "COMPLETE") complete++;
    return complete < this.opts.gp_until ? "gp" : "tpe";
  }

  suggest(req: SuggestRequest): Suggestion {
    const phase = this.phase(req);
    const s = (phase === "gp" ? this.gp : this.tpe).suggest(req);
    return { params: s.params, systemAttrs: { ...(s.systemAttrs ?? {}), auto_phase: phase } };
  }

  suggestParam(req: ParamRequest) {
    const tpe = this.tpe;
    if (!tpe.suggestParam) throw new Error("tpe strategy lost its define-by-run hook");
    return tpe.suggestParam(req);
  }
}

export const autoStrategyFactory: StrategyFactory<AutoOptions> = {
  name: "auto",
  description:
    "The default: Gaussian-process BO or TPE, chosen by rules on the search space (dimension, categorical share) that " +
    "issue 17's benchmark suite supports (docs/BENCHMARKS.md). Define-by-run parameters use TPE.",
  options: options as unknown as z.ZodType<AutoOptions>,
  // GP fitting must stay off the event loop; TPE in a worker costs one message round trip.
  offload: true,
  create: (o) => new AutoStrategy(options.parse(o)),
};
