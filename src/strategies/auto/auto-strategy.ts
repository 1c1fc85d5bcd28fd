/**
 * `auto`, the default strategy: Gaussian-process BO while the study is small, TPE after.
 *
 * Why (docs/BENCHMARKS.md, quality section): tuneport's `gp` has the best mean rank at 50 and
 * 100 trials over the eight benchmark problems, but its suggestion cost grows as O(n³)
 * (≈ 0.1 s at 300 trials, ≈ 0.5 s at 500), while `tpe` stays near 1 ms at 1000 trials.
 * Optuna's AutoSampler makes the same trade. The switch point, `gp_until` completed trials
 * (default 200), is where GP's cost per suggestion starts to matter for cheap objectives.
 *
 * With a scheduler (pruner, ASHA, Hyperband, ...) most trials stop early. Both phases then learn
 * from stopped trials (../fidelity.ts), PRUNED trials count towards `gp_until` (the GP models
 * them, so its cost grows with them), and `with_scheduler` (default "gp") keeps the same GP-then-TPE
 * policy. Evidence (docs/BENCHMARKS.md, "Which strategy under a scheduler", bench/multifidelity.py,
 * four learning-curve families, 5 seeds): under stopping-mode ASHA the GP phase reached
 * random-full's final quality in 760 / 801 / ∞ / 717 steps against TPE's 1468 / 434 / ∞ / 1829,
 * with the better final value on 3 of 4 problems (TPE won the one whose early rankings invert,
 * "crossing"); under median pruning and promotion-mode ASHA the GP phase also had the better final
 * value on 3 of 4 problems.
 *
 * Studies without a declared space (pure define-by-run) go to TPE from the start: GP models
 * the declared space only. Define-by-run parameters always use TPE's univariate model.
 * Both inner strategies are functions of history, so `auto` is too; GP's warm-start state
 * lives in trial attributes and simply stops being read after the switch.
 */
import { z } from "zod";
import { gpStrategyFactory } from "../gp/gp-strategy.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../strategy.js";
import { tpeStrategyFactory } from "../tpe/tpe-strategy.js";

const options = z
  .object({
    /** Completed trials (finished ones under a scheduler) after which suggestions come from TPE instead of GP. */
    gp_until: z.number().int().min(0).max(100_000).default(200),
    /**
     * What a study with a scheduler (pruner, ASHA, Hyperband...) gets: "gp" (GP until `gp_until`
     * finished trials, then TPE) or "tpe" (TPE throughout). Chosen on bench/multifidelity.py.
     */
    with_scheduler: z.enum(["gp", "tpe"]).default("gp"),
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

  /**
   * Which phase a request is in: GP while few trials finished and the space is declared. Under
   * a scheduler PRUNED trials count too: the GP models them (../fidelity.ts), so its cost grows
   * with them.
   */
  phase(req: Pick<SuggestRequest, "study" | "trials">): "gp" | "tpe" {
    if (Object.keys(req.study.space).length === 0) return "tpe";
    const scheduled = req.study.scheduler !== null;
    if (scheduled && this.opts.with_scheduler === "tpe") return "tpe";
    let n = 0;
    for (const t of req.trials) if (t.state === "COMPLETE" || (scheduled && t.state === "PRUNED")) n++;
    return n < this.opts.gp_until ? "gp" : "tpe";
  }

  suggest(req: SuggestRequest): Suggestion {
    const s = (this.phase(req) === "gp" ? this.gp : this.tpe).suggest(req);
    return { params: s.params, systemAttrs: { ...(s.systemAttrs ?? {}), auto_phase: this.phase(req) } };
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
    "The default: Gaussian-process BO for the first gp_until (200) completed trials (finished ones under a scheduler; " +
    "pruned trials are modelled too), where it ranks best, then TPE, which stays fast on long studies. Define-by-run parameters use TPE.",
  options: options as unknown as z.ZodType<AutoOptions>,
  // GP fitting must stay off the event loop; TPE in a worker costs one message round trip.
  offload: true,
  create: (o) => new AutoStrategy(options.parse(o)),
};
