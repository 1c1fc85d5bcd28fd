/**
 * A custom strategy registered in process (docs/PLUGINS.md walks through it).
 *
 * "perturb-best" is a (1+1)-style local search: uniform random trials first, then a Gaussian
 * step in the unit cube around the best complete trial (Rechenberg 1973; Schumer & Steiglitz
 * 1968 — without step-size adaptation, to stay short). Defaults: 10 random trials (Optuna's
 * TPE startup), step σ = 0.05 of each range (twice that lost to random search on Branin
 * in a quarter of the seeds; see test/plugins-example.test.ts).
 *
 * Run it (from the repository root):
 *   node --import ./src/testing/ts-loader.mjs examples/custom_strategy.ts [trials=40] [seed=1]
 * It tunes Branin (optimum 0.397887) with the new strategy through a StudyService and prints
 * the best trial. In your own project, import from "tuneport" instead of "../src/index.js".
 */
import { pino } from "pino";
import { z } from "zod";
import {
  BUILTIN_PLUGINS,
  BUILTIN_STRATEGIES,
  type Params,
  type ParamRequest,
  type ParamValue,
  SqliteStorage,
  type Strategy,
  type StrategyFactory,
  StudyService,
  type Suggestion,
  type SuggestRequest,
  type Trial,
  fromUnit,
  sampleUniform,
  toUnit,
} from "../src/index.js";

const options = z
  .object({
    /** Uniform random trials before the search perturbs the best one (10). */
    n_startup_trials: z.number().int().min(1).default(10),
    /** Standard deviation of the step, as a fraction of each dimension's range (0.05). */
    sigma: z.number().positive().max(1).default(0.05),
  })
  .strict();
export type PerturbBestOptions = z.infer<typeof options>;

/** The best COMPLETE trial for the direction, or undefined. Ties go to the earlier trial. */
function bestOf(trials: readonly Trial[], direction: "minimize" | "maximize"): Trial | undefined {
  let best: Trial | undefined;
  for (const t of trials) {
    if (t.state !== "COMPLETE" || t.value === null) continue;
    if (best === undefined || (direction === "minimize" ? t.value < best.value! : t.value > best.value!)) best = t;
  }
  return best;
}

/** A function of the history: no state of its own, every draw from `req.rng`. */
export class PerturbBestStrategy implements Strategy {
  constructor(private readonly opts: PerturbBestOptions) {}

  suggest(req: SuggestRequest): Suggestion {
    const complete = req.trials.filter((t) => t.state === "COMPLETE").length;
    const best = complete >= this.opts.n_startup_trials ? bestOf(req.trials, req.study.direction) : undefined;
    const params: Params = {};
    for (const [name, d] of Object.entries(req.study.space)) {
      const centre = best?.params[name];
      if (centre === undefined || d.type === "categorical" || typeof centre !== "number") {
        // Categoricals: keep the best's choice, resampling with probability σ.
        params[name] = centre !== undefined && d.type === "categorical" && req.rng.random() >= this.opts.sigma ? centre : sampleUniform(d, req.rng);
        continue;
      }
      const u = toUnit(d, centre) + this.opts.sigma * req.rng.normal();
      params[name] = fromUnit(d, Math.min(1, Math.max(0, u)));
    }
    return { params, ...(best ? { systemAttrs: { perturbed_from: best.number } } : {}) };
  }

  /** Define-by-run parameters are outside the search: uniform, like Optuna's independent sampling. */
  suggestParam(req: ParamRequest): ParamValue {
    return sampleUniform(req.distribution, req.rng);
  }
}

/** What a catalogue holds: a name, a description, an options schema and a constructor. */
export const perturbBestStrategyFactory: StrategyFactory<PerturbBestOptions> = {
  name: "perturb-best",
  description: "Local search: uniform random trials, then Gaussian steps (σ of each range) around the best complete trial.",
  options,
  create: (o) => new PerturbBestStrategy(o),
};

/**
 * The built-ins plus perturb-best. A module exporting its catalogue as `plugins` can also be
 * given to `new WorkerRunner(logger, { catalogue })`, so that a worker thread builds the strategy.
 */
export const plugins = BUILTIN_PLUGINS.with({ strategies: [perturbBestStrategyFactory] });

/** Branin (REFERENCE.md): minimum 0.397887 at three points. */
export function branin(p: Params): number {
  const x1 = p.x1 as number;
  const x2 = p.x2 as number;
  const b = 5.1 / (4 * Math.PI ** 2);
  return (x2 - b * x1 ** 2 + (5 / Math.PI) * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x1) + 10;
}

/** Tunes Branin through a real service (perturb-best unless told otherwise); resolves to the best trial. */
export async function run(trials: number, seed: number, strategy = "perturb-best"): Promise<{ number: number; value: number; params: Params }> {
  const storage = new SqliteStorage({ path: ":memory:" });
  const service = await StudyService.open({
    storage,
    logger: pino({ level: "warn" }),
    reapIntervalMs: 0,
    // Registered in process: the built-ins stay available beside it.
    strategies: [...BUILTIN_STRATEGIES.values(), perturbBestStrategyFactory],
  });
  try {
    await service.createStudy({
      name: "branin",
      strategy,
      seed,
      space: { x1: { type: "float", low: -5, high: 10 }, x2: { type: "float", low: 0, high: 15 } },
    });
    for (let i = 0; i < trials; i++) {
      const a = await service.ask({ study: "branin" });
      await service.tell({ study: "branin", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: branin(a.trial.params) });
    }
    const best = await service.best({ study: "branin" });
    if (best === null || best.value === null) throw new Error("no complete trial");
    return { number: best.number, value: best.value, params: best.params };
  } finally {
    await service.close();
    await storage.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const best = await run(Number(process.argv[2] ?? 40), Number(process.argv[3] ?? 1));
  process.stdout.write(`best trial ${best.number}: value ${best.value.toFixed(4)} at x1=${(best.params.x1 as number).toFixed(3)}, x2=${(best.params.x2 as number).toFixed(3)}\n`);
}
