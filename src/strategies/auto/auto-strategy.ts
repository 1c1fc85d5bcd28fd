/**
 * `auto`, the default strategy: rules on what the study looks like, and on how each model's
 * proposals have fared, pick GP or TPE for each suggestion.
 *
 * The rules and their evidence (docs/BENCHMARKS.md, "The default strategy", issue 17's suite:
 * BBOB-style, mixed, conditional, noisy and real HPO problems, sequential and 4 asynchronous
 * workers). Each default below names the table row that sets it:
 * - no modelled space → TPE (its univariate `suggestParam` draws every parameter). The space is the
 *   declared one plus, for define-by-run parameters, the intersection search space (the ones every
 *   COMPLETE or PRUNED trial drew from one distribution, as Optuna's TPESampler counts them; both
 *   arms learn from PRUNED trials; `infersSpace`, service/trial-params.ts), so a pure define-by-run
 *   study (an Optuna objective moved over unchanged) gets TPE's `suggestParam` until a trial
 *   finishes and the rules below from then on, as if it had declared what its objective suggests
 *   (docs/BENCHMARKS.md, "Define-by-run studies: the default strategy models the intersection
 *   space": before, every define-by-run parameter went to univariate TPE and the GP never ran);
 * - at least `tpe_from_dim` modelled dimensions → TPE;
 * - a categorical share of the modelled dimensions of at least `tpe_from_cat_share` → TPE;
 * - at least `gp_until` COMPLETE trials → TPE (a count switch, off by default: the GP's cost
 *   stops growing beyond `maxModelTrials`, see gp-strategy.ts, so speed alone is no reason);
 * - otherwise GP — and, for a single-objective study, once 10 trials have a result (COMPLETE or
 *   PRUNED), the hedge portfolio (`portfolio` and, under a scheduler, `portfolio_under_scheduler`:
 *   "hedge", the defaults; `hedgeShare`): each suggestion
 *   goes to GP or TPE, GP's share the logistic of how much better its latest 8 proposals ranked
 *   than TPE's (temperature 0.1), kept within [0.2, 0.8]. Both arms model every trial. A proposal's
 *   credit is the mean of the share of every earlier trial it beat and the share of the best 8
 *   earlier trials it beat (`portfolio_credit: "blend"`): the first alone paid the arm whose typical
 *   proposal was good (TPE, exploiting near the incumbent) and starved the one that found the new
 *   bests (the GP, exploring), the second alone lost where TPE leads (the option's doc, and
 *   docs/BENCHMARKS.md "The blended credit"). Under a scheduler a proposal is ranked against every
 *   earlier trial (`portfolio_credit_under_scheduler: "earlier"`, the rule measured there).
 *
 * Why a hedge (docs/BENCHMARKS.md "The hedge portfolio"): GP leads TPE on the public suite (107
 * to 47 pairs), but on issue 17's problems kept outside the repository tuneport's TPE was ahead of
 * the GP default on three of six, and no rule on the space separates the two. On six held-out
 * problems written before the hedge was first run (suite.py `HOLDOUT`: Ackley 8, Levy 6,
 * Styblinski–Tang 8, bent cigar 6, Schaffer F7 8, an SGD classifier; 10 seeds, 100 trials) the hedge
 * beat GP-only in 47 of 60 (problem, seed) pairs (sign test p = 10⁻⁵) and Optuna's GPSampler in 46,
 * was level with Optuna's TPE (32–28), was significantly worse than the best Optuna sampler on none
 * (GP-only: 3 of 6), and ranked first of 9 optimizers by mean rank of medians (2.17 against GP-only's
 * 6.00; at 50 trials 2.83 against 4.50; with 4 workers first at 100 trials too). On the public suite
 * it is level with GP-only (66–66 pairs sequentially, 5–6 seeds; 36–40 with 4 workers, 3 seeds),
 * fixes the two Rosenbrocks where TPE led, loses ellipsoid10, rastrigin10 and heavy-tail-ellipsoid5,
 * and moves the mean rank over 11 optimizers at 100 trials from 3.19 to 3.04 (4 workers: 2.85 to
 * 2.60), but at 50 trials from 3.31 to 3.65 (4 workers: 3.06 to 3.15): with fewer trials, splitting
 * them costs the GP more.
 *
 * Under a scheduler (pruner, ASHA, Hyperband, ...) most trials stop early. Both strategies then
 * learn from stopped trials (../fidelity.ts), and PRUNED trials count towards `gp_until` (the GP
 * models them too). `with_scheduler` (default "gp") keeps the rules above for such studies; "tpe"
 * sends them to TPE throughout. Evidence for "gp" (docs/BENCHMARKS.md "Multi-fidelity and
 * pruning", run of 2026-11-30: four learning-curve families, 10 seeds, stopping-mode ASHA): the GP
 * had the better final value in 22 of 37 decided (problem, seed) pairs against TPE (learning-curve
 * 9–1, diverge 8–2, slow-start 4–3; TPE won "crossing", whose early rankings invert, 9–1). An
 * earlier 5-seed run (the GP before bench17's options) also favoured the GP under median pruning
 * and promotion-mode ASHA on 3 of 4 problems.
 * `portfolio_under_scheduler` ("hedge"; docs/BENCHMARKS.md "Multi-fidelity and pruning", the reading
 * of 2026-12-01): the GP/TPE hedge
 * runs under a scheduler too, each arm's proposals ranked as Optuna ranks pruned trials (deeper
 * first, then the value there), so stopped proposals count. Same four families, 10 seeds,
 * stopping-mode ASHA, against the GP alone: 22–15 pooled at min_resource 1 (crossing 10–0, p =
 * 0.002; the rest level) and 22–18 at ASHA's default min_resource R/η² (crossing 9–1, p = 0.02;
 * learning-curve 3–7, slow-start 4–6, diverge 6–4, none significant); against Optuna's TPE +
 * SuccessiveHalvingPruner 34–6 (the GP alone: 32–8). It also costs a fraction of the GP's time
 * (half the suggestions are TPE's).
 * Each arm alone against the hedge (docs/BENCHMARKS.md "Each arm alone under each scheduler",
 * 2026-12-03; pooled over the four families): TPE alone 10–30 under stopping ASHA, 8–32 under
 * promotion ASHA and 50–58 under median pruning (30 seeds); the GP alone 18–21 under promotion
 * ASHA. No arm alone beats the hedge under any of them, so it runs under every scheduler.
 *
 * Several objectives (issue 15): GP and CMA-ES optimise one objective, so a multi-objective study
 * goes to `mo_model` — `parego` (default: the GP on a random Chebyshev scalarisation per
 * suggestion, ../parego), `tpe` (MOTPE, ../tpe/motpe.ts) or `ehvi` (LogEHVI) — and, from `mo_nsga2_from` COMPLETE
 * trials on, to NSGA-II (../nsga2), whose first generation is then the best `population_size`
 * trials of the earlier history (trials without a generation count as generation 0). Evidence
 * (docs/BENCHMARKS.md, "Multi-objective", 2026-11-30):
 * - `--seeds 5 --budgets 100 --tuneport parego` against the 10-seed run of MOTPE and Optuna 5.0's
 *   samplers: ParEGO's median hypervolume is 0.997 / 0.996 / 0.976 / 0.966 of the true front's on
 *   ZDT1 / ZDT2 / ZDT3 / DTLZ2, against MOTPE's 0.866 / 0.842 / 0.827 / 0.874 and the best Optuna
 *   sampler's 0.834 / 0.809 / 0.836 / 0.882; level with both TPEs on Binh–Korn (5894 vs 5893 /
 *   5889). So `mo_model` defaults to `parego`; it costs about 0.1 s per suggestion (MOTPE: 9 ms).
 * - `--seeds 5 --budgets 100,200,400 --tuneport tpe,nsga2`: MOTPE ahead of NSGA-II on ZDT1/2/3 and
 *   Binh–Korn at every budget, level on DTLZ2; NSGA-II never led, so `mo_nsga2_from` defaults to
 *   "never" (10⁹) and stays an option for budgets beyond the measured 400.
 * - `mo_model: "ehvi"` (LogEHVI, ../ehvi) lost to ParEGO on 5 of 6 problems (run 6), and alternating
 *   the two per trial lost to ParEGO alone on ZDT1, ZDT2 and DTLZ2 (10 seeds, p ≤ 0.027), won only
 *   Binh–Korn (run 6's last paragraph); so ParEGO stays the default and `ehvi` an option.
 * - `mo_objectives_below_dim` (8; run 8): one GP on the scalarised values cannot place its points on
 *   a front it models through the Chebyshev kink (Binh–Korn: a third of ParEGO's trials off the
 *   front), while the same scalarisation computed from one GP per objective (MOEA/D-EGO's moment
 *   matching, ../ehvi/chebyshev-ei.ts) with Sobol weights put 85 of 90 on it. Against ParEGO, 10
 *   seeds, paired Wilcoxon: ahead on Binh–Korn, Chankong–Haimes, Fonseca–Fleming and DTLZ2 (d = 2, 2,
 *   3, 7; 10/10 seeds each, p = 0.002), level on digits (d = 3, 7/10, p = 0.16), Osyczka–Kravanis (d = 6, 5/10,
 *   p = 0.70), Tanaka (d = 2, 2/10, p = 0.19) and ZDT3, behind on ZDT1 and ZDT2 (d = 10, 0/10, p = 0.002; per-objective
 *   models keep uncertain about ZDT's nine irrelevant dimensions, run 6) — so below 8 dimensions only.
 * - `mo_alternate_below_objectives` (3; run 9): with two objectives, alternating that Chebyshev
 *   acquisition (even trials) with log EHVI of the same models (odd trials) beats the Chebyshev
 *   acquisition alone on Binh–Korn, Chankong–Haimes, Fonseca–Fleming and Osyczka–Kravanis (10/10
 *   seeds each, paired Wilcoxon p = 0.002) and is level on Tanaka and digits (5/10); EHVI fills the
 *   gaps a scalarisation leaves between its weights, the scalarisation extends the front's ends
 *   (EHVI alone lost Tanaka, 0.46 against 0.60). With three objectives (DTLZ2) it loses (0/10,
 *   p = 0.002; LogEHVI alone lost there too), so three or more keep the scalarisation.
 * - `mo_mix` ("hedge"; run 10): instead of alternating by trial number, each suggestion goes to one
 *   of the two acquisitions at random, EHVI's share set by how much hypervolume each one's latest 8
 *   proposals added (../ehvi `ehviShare`; the constants of the single-objective hedge below). Against
 *   the alternation, 10 seeds, paired: 44 of 60 (problem, seed) pairs on the six two-objective
 *   problems (sign test p = 0.0004): ahead on Binh–Korn and Chankong–Haimes (10/10), Fonseca–Fleming
 *   and Osyczka–Kravanis (8/10), Tanaka (7/10, n.s.), behind on the digits MLP (1/10, p = 0.014, by
 *   0.3 % of the hypervolume). On DTLZ2 it beats the alternation but not the scalarisation alone
 *   (1/10), so three objectives keep the scalarisation. Since run 12 either acquisition keeps at
 *   least 10 % of the suggestions, not 20 % (../ehvi `EHVI_HEDGE_FLOOR`): 10 seeds, paired, ahead on
 *   Binh–Korn (9/10), Chankong–Haimes (10/10), Osyczka–Kravanis (8/10), Tanaka (7/10; p ≤ 0.05
 *   each) and Fonseca–Fleming (7/10, p = 0.08), level on the digits MLP (5 seeds). Since run 13 its GPs
 *   are refitted to the MAP on every suggestion (`OBJECTIVES_HEDGE`): 10 seeds, paired, 8/10 on
 *   Fonseca–Fleming (p = 0.06; 14/20 on seeds 0–19, p = 0.006), Binh–Korn (p = 0.13; 12/20, level)
 *   and Chankong–Haimes (p = 0.01), level on Osyczka–Kravanis, Tanaka and the digits MLP (5/10).
 *   Since run 14 the hedge gives the suggestion to EHVI alone while each of its latest 8 proposals
 *   added hypervolume (`denseFront: 1`, ../ehvi `frontIsDense`): on Binh–Korn nearly every trial lands
 *   on the front, and the Chebyshev proposals' even spacing in weight space left wider gaps along it
 *   than EHVI's. 10 seeds, paired with the hedge before: Binh–Korn 9/10 (p = 0.004), Chankong–Haimes
 *   10/10 (p = 0.002), Tanaka 5–1, Osyczka–Kravanis 5–4, Fonseca–Fleming 1–1 and the digits MLP 1–0
 *   (the other seeds identical). EHVI alone throughout lost Tanaka (2–8) and the digits MLP (3–7).
 *
 * Failed evaluations (a trial whose objective raised or gave NaN/±∞; ../fidelity.ts
 * `failedEvaluation`): in one-objective studies without constraints both arms learn from them (the
 * GP as kriging believers, TPE in its bad set; c-TPE and the multi-objective models other than
 * ParEGO still leave them out) and the hedge scores one as beating nothing. Before, both ignored them as Optuna does, and on a
 * 4-D problem failing on 40% of its space 69% of `auto`'s model-based proposals went there (random
 * search: 37%); now 29%, with a better best value in 8 of 10 seeds (docs/BENCHMARKS.md, "Failed trials").
 *
 * Define-by-run parameters outside the intersection search space use TPE's univariate model. Both inner strategies are
 * functions of history, so `auto` is too; GP's warm-start state lives in trial attributes
 * and simply stops being read when TPE takes over.
 */
import { z } from "zod";
import { isSingleValue } from "../../domain/distributions.js";
import { innerOptions } from "../../domain/plugin-options.js";
import { isFeasibleVector } from "../../domain/objectives.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { failedEvaluation, isPartial, stoppedRankKey, topBudget } from "../fidelity.js";
import { HEDGE_FLOOR, HEDGE_TEMPERATURE, HEDGE_WINDOW, hedgeSplit, latestProposals } from "../hedge.js";
import { gpStrategyFactory } from "../gp/gp-strategy.js";
import { nsga2StrategyFactory } from "../nsga2/nsga2-strategy.js";
import { ehviStrategyFactory } from "../ehvi/ehvi-strategy.js";
import { paregoStrategyFactory } from "../parego/parego-strategy.js";
import type { ParamRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";
import { finishedCount, tpeStrategyFactory } from "../tpe/tpe-strategy.js";

/** What the hedge ranks a proposal against (`portfolio_credit`, `portfolio_credit_under_scheduler`). */
const HEDGE_CREDIT = z.enum(["earlier", "recent", "other-arm", "elite", "blend"]);
/** Default of `mo_nsga2_from` (see the header). */
const MO_NSGA2_FROM = 1_000_000_000;
/** Default of `mo_objectives_below_dim` (see the header): per-objective models on DTLZ2 (d = 7), not on ZDT (d = 10). */
const MO_OBJECTIVES_BELOW_DIM = 8;
/** Trials that must have a result before the hedge starts (the GP's and TPE's random start). */
const PORTFOLIO_START = 10;
/** System attribute naming the arm that proposed a trial while the hedge ran. */
export const PORTFOLIO_ARM_ATTR = "auto_arm";
/** The `ehvi` options of the "parego-objectives" phase. */
const PAREGO_OBJECTIVES = { acquisition: "chebyshev", weights: "sobol" } as const;
/** The `ehvi` options of the "objectives-alternate" and "objectives-hedge" phases. */
const OBJECTIVES_ALTERNATE = { acquisition: "alternate", weights: "sobol" } as const;
/**
 * "objectives-hedge" also refits its GPs to the MAP on every suggestion: `maxWarmFitIterations` as
 * many as a full fit (50), started from the previous suggestion's θ, as Optuna's GPSampler refits on
 * every trial (the `ehvi` default, the `gp` strategy's, is one iteration with a full fit every 10
 * trials). In a traced Fonseca–Fleming run the one-iteration θ between full fits had a negative log
 * posterior up to about 250 above GPSampler's fit of the same trials in trials 11–59 (lengthscales
 * off by a factor of up to 10); the refitted θ stayed within 0.4 of it. docs/BENCHMARKS.md run 13.
 */
const OBJECTIVES_HEDGE = { acquisition: "hedge", weights: "sobol", maxWarmFitIterations: 50, denseFront: 1 } as const;
/** Default of `mo_alternate_below_objectives` (see the header): two objectives alternate, three do not. */
const MO_ALTERNATE_BELOW_OBJECTIVES = 3;

const options = z
  .object({
    /**
     * COMPLETE trials (under a scheduler: COMPLETE and PRUNED) from which suggestions come from
     * TPE (0: always TPE). Off by default.
     */
    gp_until: z.number().int().min(0).max(1_000_000_000).default(1_000_000_000),
    /** Modelled (non-constant) dimensions from which TPE is used instead of GP. */
    tpe_from_dim: z.number().int().min(1).default(1_000_000),
    /** Share of categorical dimensions among the modelled ones from which TPE is used. */
    tpe_from_cat_share: z.number().min(0).max(2).default(2),
    /**
     * What a study with a scheduler (pruner, ASHA, Hyperband...) gets: "gp" (the rules above) or
     * "tpe" (TPE throughout). Chosen on bench/multifidelity.py (see the header).
     */
    with_scheduler: z.enum(["gp", "tpe"]).default("gp"),
    /**
     * Single-objective studies without a scheduler, once the GP phase is model-based: "hedge" gives
     * each suggestion to GP or TPE by how well each one's recent proposals ranked (see `hedgeShare`);
     * "off" keeps GP. See the header for the evidence behind the default.
     */
    portfolio: z.enum(["off", "hedge"]).default("hedge"),
    /**
     * The same for studies with a scheduler (under `with_scheduler: "gp"`): "hedge" scores each arm's
     * finished proposals, PRUNED ones included, by Optuna's pruned-trial rank (deeper first, then the
     * value at that depth; see `hedgeShare`); "off" keeps GP. See the header for the evidence.
     */
    portfolio_under_scheduler: z.enum(["off", "hedge"]).default("hedge"),
    /** The hedge: how many of each arm's latest COMPLETE proposals score it. */
    portfolio_window: z.number().int().min(1).default(HEDGE_WINDOW),
    /** The hedge: the smallest share either arm keeps, so a lagging arm can come back. */
    portfolio_floor: z.number().min(0).max(0.5).default(HEDGE_FLOOR),
    /** The hedge: temperature of the logistic map from the score difference to GP's share. */
    portfolio_temperature: z.number().positive().default(HEDGE_TEMPERATURE),
    /**
     * The hedge, without a scheduler: what a proposal is ranked against (see `hedgeShare`).
     * "earlier": every earlier-numbered scored trial (the default until 2026-12-04). "recent": the
     * latest 2 × `portfolio_window` of them, the search's current front. "other-arm": the other arm's
     * latest `portfolio_window` scored proposals (a pairwise contest of the arms). "elite": the best
     * `portfolio_window` earlier-numbered scored trials, so that only a proposal near or past the
     * incumbent earns credit (an extreme-value credit, as in Fialho et al., "Extreme value based
     * adaptive operator selection", PPSN 2008). "blend" (the default): the mean of the "earlier" and
     * "elite" credits, so an arm is paid both for how good its typical proposal is and for passing
     * the incumbent.
     * Evidence (docs/BENCHMARKS.md, issue 17, "The hedge's credit" and "The blended credit", 10 seeds,
     * paired with the default of the time): "elite" led on the suite at 100 trials (141–103 pairs) but
     * not on the held-out problems (25–31, 2 of 6 significantly worse against none) nor with 4
     * workers (5 of 26 against 2); "other-arm" and "recent" were level in pairs and worse on the count
     * at 50 trials. "blend" was ahead of "earlier" on the four problems where that lost to Optuna's
     * GPSampler (23–9 pairs at 100 trials, p = 0.02), level on the other 22 (97–101), held out (25–28)
     * and with 4 workers (81–80). With it the default was first in mean rank at 100 trials
     * sequentially and with 4 and 8 workers (10 seeds each), significantly worse than the best
     * Optuna sampler on 1, 2 and 2 of the 26 (sequentially before: 4). A sequential rerun on
     * another machine (same code, GP runs diverging on float differences; "The suite at 200
     * trials") put it third at 100 trials (3.46 against 3.29 and 3.37) with 3 of 26 worse, first at
     * 50, second at 200; rerun to 200 with 4 and 8 workers (10 seeds each), first at 100 (2.62
     * against 2.83; 2.46 against 2.85) and at 200 (2.38; 2.30). Among the default and the two GPs
     * the mean rank moves more between runs than it differs; paired per seed it is level with GP
     * alone on the suite in every mode at 100 trials, ahead of Optuna's GP with workers (153–103
     * and 147–108 at 100 trials), and ahead of GP alone on the held-out problems (45–15).
     */
    portfolio_credit: HEDGE_CREDIT.default("blend"),
    /**
     * The same under a scheduler, where proposals rank by Optuna's pruned-trial rank: "earlier", the
     * rule the multi-fidelity benchmark measured the hedge with. "blend" there was level on final
     * quality (pooled 54–41 over stopping ASHA, promotion ASHA and median, no family significant) and
     * slower to reach random-full's median on diverge under ASHA (1294 steps against 994), so not
     * kept (docs/BENCHMARKS.md, "the blended credit under a scheduler").
     */
    portfolio_credit_under_scheduler: HEDGE_CREDIT.default("earlier"),
    /** Options passed to the GP phase (see the `gp` strategy). */
    gp: innerOptions(gpStrategyFactory.options),
    /** Options passed to the TPE phase (see the `tpe` strategy). */
    tpe: innerOptions(tpeStrategyFactory.options),
    /**
     * Multi-objective studies: COMPLETE trials from which NSGA-II takes over from `mo_model` (see the
     * header for the evidence behind the default).
     */
    mo_nsga2_from: z.number().int().min(0).max(1_000_000_000).default(MO_NSGA2_FROM),
    /** Multi-objective studies: the model-based strategy before NSGA-II (see the header for the evidence). */
    mo_model: z.enum(["parego", "tpe", "ehvi"]).default("parego"),
    /**
     * Multi-objective studies under `mo_model: "parego"` with fewer modelled dimensions than this:
     * ParEGO's scalarisation computed from one GP per objective (the `ehvi` strategy with
     * `acquisition: "chebyshev"`, `weights: "sobol"`; phase "parego-objectives") instead of one GP
     * fitted to the scalarised values. 0 turns it off. See the header for the evidence.
     */
    mo_objectives_below_dim: z.number().int().min(0).default(MO_OBJECTIVES_BELOW_DIM),
    /**
     * Of those studies, the ones with fewer objectives than this alternate the Chebyshev acquisition
     * (even trial numbers) with log EHVI of the same per-objective models (odd ones): the `ehvi`
     * strategy's `acquisition: "alternate"`, phase "objectives-alternate". 0 turns it off. See the
     * header for the evidence.
     */
    mo_alternate_below_objectives: z.number().int().min(0).default(MO_ALTERNATE_BELOW_OBJECTIVES),
    /**
     * How those studies mix the two acquisitions: "hedge" (the `ehvi` strategy's `acquisition:
     * "hedge"`: each suggestion to one of the two by the hypervolume their recent proposals added;
     * phase "objectives-hedge") or "alternate" (by trial number; phase "objectives-alternate"). See
     * the header for the evidence.
     */
    mo_mix: z.enum(["hedge", "alternate"]).default("hedge"),
    /** Options passed to the `parego` phase of a multi-objective study. */
    parego: innerOptions(paregoStrategyFactory.options),
    /** Options passed to the `ehvi` phase of a multi-objective study. */
    ehvi: innerOptions(ehviStrategyFactory.options),
    /** Options passed to the NSGA-II phase of a multi-objective study (see the `nsga2` strategy). */
    nsga2: innerOptions(nsga2StrategyFactory.options),
  })
  .strict();
export type AutoOptions = z.output<typeof options>;

export class AutoStrategy implements Strategy {
  private readonly gp: Strategy;
  private readonly tpe: Strategy;
  private readonly nsga2: Strategy;
  private readonly parego: Strategy;
  private readonly ehvi: Strategy;
  private readonly paregoObjectives: Strategy;
  private readonly objectivesAlternate: Strategy;
  private readonly objectivesHedge: Strategy;

  constructor(private readonly opts: AutoOptions) {
    this.gp = gpStrategyFactory.create(gpStrategyFactory.options.parse(opts.gp));
    this.tpe = tpeStrategyFactory.create(tpeStrategyFactory.options.parse(opts.tpe));
    this.nsga2 = nsga2StrategyFactory.create(nsga2StrategyFactory.options.parse(opts.nsga2));
    this.parego = paregoStrategyFactory.create(paregoStrategyFactory.options.parse(opts.parego));
    this.ehvi = ehviStrategyFactory.create(ehviStrategyFactory.options.parse(opts.ehvi));
    this.paregoObjectives = ehviStrategyFactory.create(ehviStrategyFactory.options.parse(PAREGO_OBJECTIVES));
    this.objectivesAlternate = ehviStrategyFactory.create(ehviStrategyFactory.options.parse(OBJECTIVES_ALTERNATE));
    this.objectivesHedge = ehviStrategyFactory.create(ehviStrategyFactory.options.parse(OBJECTIVES_HEDGE));
  }

  /**
   * Which strategy a request goes to (the rules in the file header, in that order). Under a
   * scheduler `with_scheduler: "tpe"` sends every request to TPE, and PRUNED trials count towards
   * `gp_until`: the GP models them (../fidelity.ts), so its cost grows with them.
   */
  phase(req: Pick<SuggestRequest, "study" | "trials">): "gp" | "tpe" | "nsga2" | "parego" | "parego-objectives" | "objectives-alternate" | "objectives-hedge" | "ehvi" {
    const dists = Object.values(req.study.space).filter((d) => !isSingleValue(d));
    if (req.study.directions.length > 1) {
      let complete = 0;
      for (const t of req.trials) if (t.state === "COMPLETE") complete++;
      if (complete >= this.opts.mo_nsga2_from) return "nsga2";
      const few = dists.length > 0 && dists.length < this.opts.mo_objectives_below_dim;
      if (this.opts.mo_model !== "parego" || !few) return this.opts.mo_model;
      if (req.study.directions.length >= this.opts.mo_alternate_below_objectives) return "parego-objectives";
      return this.opts.mo_mix === "hedge" ? "objectives-hedge" : "objectives-alternate";
    }
    if (dists.length === 0) return "tpe";
    const scheduled = req.study.scheduler !== null;
    if (scheduled && this.opts.with_scheduler === "tpe") return "tpe";
    if (dists.length >= this.opts.tpe_from_dim) return "tpe";
    const cats = dists.filter((d) => d.type === "categorical").length;
    if (cats / dists.length >= this.opts.tpe_from_cat_share) return "tpe";
    let n = 0;
    for (const t of req.trials) if (t.state === "COMPLETE" || (scheduled && t.state === "PRUNED")) n++;
    return n < this.opts.gp_until ? "gp" : "tpe";
  }

  /**
   * GP's share of the next suggestion under the hedge. Each arm's score is the mean, over its latest
   * `portfolio_window` scored proposals (trials whose `auto_arm` names it), of the share of its
   * rivals that proposal beat: by default the earlier-numbered scored trials, otherwise those
   * `portfolio_credit` names (an infeasible or failed proposal beats none; a feasible one beats
   * every infeasible or failed one), with a prior of one proposal at ½. Scored: COMPLETE
   * trials by value without a scheduler; under one, COMPLETE and PRUNED trials by Optuna's
   * pruned-trial rank (`stoppedKey`), so that the many stopped proposals count. GP's share is the
   * logistic of the score difference over `portfolio_temperature`, kept within [floor, 1 − floor].
   * Both arms model every trial, so a proposal's rank measures the arm, not its data. A rank, not a
   * value: invariant to the objective's scale.
   */
  hedgeShare(req: Pick<SuggestRequest, "study" | "trials">): number {
    const key = req.study.scheduler === null ? completeKey(req.study.direction) : stoppedKey(req.study.direction, req.trials);
    const keys: (Key | null)[] = req.trials.map(key);
    const picked = latestProposals(req.trials, PORTFOLIO_ARM_ATTR, ["gp", "tpe"], this.opts.portfolio_window, (i) => keys[i] !== null);
    const window = this.opts.portfolio_window;
    const defaultCredit = req.study.scheduler === null ? this.opts.portfolio_credit : this.opts.portfolio_credit_under_scheduler;
    // The trials proposal i of `arm` is ranked against (`portfolio_credit`).
    const rivals = (i: number, arm: "gp" | "tpe", credit: AutoOptions["portfolio_credit"]): Key[] => {
      if (credit === "other-arm") return picked[arm === "gp" ? "tpe" : "gp"].map((j) => keys[j]!);
      const earlier: Key[] = [];
      for (let j = i - 1; j >= 0 && (credit !== "recent" || earlier.length < 2 * window); j--) {
        const o = keys[j];
        if (o !== null && o !== undefined) earlier.push(o);
      }
      return credit === "elite" ? earlier.sort(compareKeys).slice(0, window) : earlier;
    };
    // The share of its rivals that proposal i beat; null when it has none.
    const beat = (i: number, arm: "gp" | "tpe", credit = defaultCredit): number | null => {
      if (credit === "blend") {
        const typical = beat(i, arm, "earlier");
        const elite = beat(i, arm, "elite");
        return typical === null || elite === null ? null : (typical + elite) / 2;
      }
      const k = keys[i]!;
      const against = rivals(i, arm, credit);
      if (against.length === 0) return null;
      if (k[0] >= 1) return 0; // an infeasible or failed proposal beats none, not even another one
      let beaten = 0;
      for (const o of against) {
        const c = compareKeys(k, o);
        beaten += c < 0 ? 1 : c === 0 ? 0.5 : 0;
      }
      return beaten / against.length;
    };
    const score = (arm: "gp" | "tpe"): number => {
      let sum = 0.5;
      let n = 1;
      for (const i of picked[arm]) {
        const u = beat(i, arm);
        if (u !== null) (sum += u), n++;
      }
      return sum / n;
    };
    return hedgeSplit(score("gp") - score("tpe"), this.opts.portfolio_temperature, this.opts.portfolio_floor);
  }

  /** Whether the hedge decides this GP-phase request (single objective, its portfolio option on, past the random start). */
  private hedging(req: Pick<SuggestRequest, "study" | "trials">): boolean {
    const mode = req.study.scheduler === null ? this.opts.portfolio : this.opts.portfolio_under_scheduler;
    if (mode === "off") return false;
    return finishedCount(req.trials) >= PORTFOLIO_START;
  }

  suggest(req: SuggestRequest): Suggestion {
    const phase = this.phase(req);
    if (phase === "gp" && this.hedging(req)) {
      const arm = req.rng.random() < this.hedgeShare(req) ? "gp" : "tpe";
      const s = (arm === "gp" ? this.gp : this.tpe).suggest(req);
      return { params: s.params, systemAttrs: { ...(s.systemAttrs ?? {}), auto_phase: arm, [PORTFOLIO_ARM_ATTR]: arm } };
    }
    const strategies = { gp: this.gp, tpe: this.tpe, nsga2: this.nsga2, parego: this.parego, "parego-objectives": this.paregoObjectives,
      "objectives-alternate": this.objectivesAlternate, "objectives-hedge": this.objectivesHedge, ehvi: this.ehvi };
    const s = strategies[phase].suggest(req);
    return { params: s.params, systemAttrs: { ...(s.systemAttrs ?? {}), auto_phase: phase } };
  }

  suggestParam(req: ParamRequest) {
    const tpe = this.tpe;
    if (!tpe.suggestParam) throw new Error("tpe strategy lost its define-by-run hook");
    return tpe.suggestParam(req);
  }
}

/**
 * A trial's standing for the hedge's ranks, smaller first: [infeasible, depth rank, loss]. Null for a
 * trial that is not scored (unfinished, or without a value).
 */
type Key = readonly [number, number, number];

/** A failed evaluation's key: after every infeasible trial. */
const FAILED_KEY: Key = [2, 0, 0];

function compareKeys(a: Key, b: Key): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

/**
 * Without a scheduler: COMPLETE trials by their value; an infeasible one after every feasible one, and
 * a failed evaluation (../fidelity.ts `failedEvaluation`) after those, so that an arm whose proposals
 * fail loses share instead of going unscored.
 */
function completeKey(direction: Direction): (t: Trial) => Key | null {
  const sign = direction === "minimize" ? 1 : -1;
  return (t) => {
    if (failedEvaluation(t)) return FAILED_KEY;
    if (t.state !== "COMPLETE" || t.value === null) return null;
    return isFeasibleVector(t.constraints) ? [0, 0, sign * t.value] : [1, 0, 0];
  };
}

/**
 * Under a scheduler: finished trials (COMPLETE or PRUNED) by Optuna's pruned-trial rank — a trial
 * trained to the full budget before any stopped one, deeper stopped ones first, then the value at
 * that depth (`stoppedRankKey`). A trial that a finished continuation superseded (promotion-mode
 * ASHA) stands as its continuation did, so promoting a proposal counts for the arm that made it.
 */
function stoppedKey(direction: Direction, trials: readonly Trial[]): (t: Trial) => Key | null {
  const sign = direction === "minimize" ? 1 : -1;
  const top = topBudget(trials);
  const continuedBy = new Map<number, Trial>();
  for (const t of trials) {
    const from = t.systemAttrs.resume_from;
    if (typeof from === "number" && (t.state === "COMPLETE" || t.state === "PRUNED")) continuedBy.set(from, t);
  }
  const own = (t: Trial): Key | null => {
    if (failedEvaluation(t)) return FAILED_KEY;
    if (t.state !== "COMPLETE" && t.state !== "PRUNED") return null;
    if (!isFeasibleVector(t.constraints)) return [1, 0, 0];
    if (t.state === "COMPLETE" && !isPartial(t, top)) return t.value === null ? null : [0, -Infinity, sign * t.value];
    const [depth, loss] = stoppedRankKey(t, direction);
    return [0, depth, loss];
  };
  return (t) => {
    let last = t;
    for (let hops = 0; hops < trials.length; hops++) {
      const next = continuedBy.get(last.number);
      if (next === undefined) break;
      last = next;
    }
    return own(last);
  };
}

export const autoStrategyFactory: StrategyFactory<AutoOptions> = {
  name: "auto",
  description:
    "The default: Gaussian-process BO and TPE as a hedge portfolio, each suggestion going to the model whose recent proposals " +
    "ranked better (portfolio), after rules on the search space (docs/BENCHMARKS.md, issue 17); under a scheduler too, both learning from pruned trials. " +
    "Define-by-run parameters every finished (complete or pruned) trial drew alike are modelled with the declared ones (Optuna's intersection search space), the rest by TPE. Multi-objective studies get ParEGO (from per-objective GPs below 8 dimensions; or MOTPE/LogEHVI: " +
    "mo_model), then NSGA-II from mo_nsga2_from trials.",
  options: options as unknown as z.ZodType<AutoOptions>,
  multiObjective: true,
  // The GP, the TPE and the multi-objective models all see the intersection search space (header),
  // of the COMPLETE and PRUNED trials: TPE's (Optuna's TPESampler), and the GP models PRUNED trials too.
  infersSpace: true,
  inferSpaceFrom: () => "finished",
  // GP fitting must stay off the event loop; TPE in a worker costs one message round trip.
  offload: true,
  create: (o) => new AutoStrategy(options.parse(o)),
};
