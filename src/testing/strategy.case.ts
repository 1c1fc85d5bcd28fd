/**
 * The conformance suite every strategy runs (after Optuna's testing/pytest_samplers.py).
 * Call `strategyConformance(factory, conf)` from the strategy's own test file; list any
 * exempt check by name with its reason in `skip` (it runs as an expected failure, see skips.ts).
 *
 * The checks hold a strategy to the contract in src/domain/plugin.ts: valid values,
 * reproducible from (seed, history), a function of history (a fresh instance decides as a
 * long-lived one), the same in a worker thread as in process, and define-by-run answers.
 */
import { afterAll, describe, expect } from "vitest";
import { type SearchSpace, contains } from "../domain/distributions.js";
import { TuneportError } from "../domain/errors.js";
import type { Strategy, StrategyFactory, StudyContext, Suggestion, SuggestRequest } from "../domain/plugin.js";
import { sampleUniform } from "../domain/sampling.js";
import type { Direction, Trial } from "../domain/trial.js";
import { silentLogger } from "../logger.js";
import { Rng } from "../math/rng.js";
import { BUILTIN_PLUGINS } from "../service/plugins.js";
import type { WorkerRunner } from "../service/worker-runner.js";
import { makeStudy, makeTrial, suggestRequest } from "./fixtures.js";
import { conformanceChecks } from "./skips.js";
import { sourceWorkerRunner } from "./source-workers.js";

/** A space with every kind of dimension: log, linear and stepped floats and ints, categoricals. */
export const MIXED_SPACE: SearchSpace = {
  lr: { type: "float", low: 1e-5, high: 1e-1, log: true },
  dropout: { type: "float", low: 0, high: 0.5 },
  momentum: { type: "float", low: 0.5, high: 0.99, step: 0.01 },
  layers: { type: "int", low: 1, high: 6 },
  width: { type: "int", low: 16, high: 512, log: true },
  batch: { type: "int", low: 16, high: 128, step: 16 },
  act: { type: "categorical", choices: ["relu", "gelu", "tanh"] },
  flag: { type: "categorical", choices: [true, false] },
};

/** The checks of the strategy suite, by the name `skip` uses. */
export type ConformanceCheck =
  | "valid-params"
  | "reproducible"
  | "uses-history"
  | "single-value"
  | "suggest-param"
  | "restart"
  | "worker-thread";

/** How to run the suite on one strategy. */
export interface ConformanceOptions<O> {
  /** Validated options (the factory's schema already applied). */
  options: O;
  space?: SearchSpace;
  /** Trials to run through the simulated loop. */
  n?: number;
  /** Trials the restart and worker-thread checks compare (default min(n, 16)); each costs two suggestions. */
  nCompared?: number;
  skip?: Partial<Record<ConformanceCheck, string>>;
  /**
   * Objectives of the simulated study (default 1). With more, every check runs on a study with
   * alternating directions (minimize, maximize, ...) whose trials carry one value per objective and
   * one constraint that about half of them violate: the case for multi-objective strategies.
   */
  objectives?: number;
  /**
   * Whether trials carry the constraint (about half violate it) on a one-objective study too
   * (default: with several objectives only): the case for constraint-aware strategies.
   */
  constrained?: boolean;
  /**
   * For a factory that is not a built-in: a module URL whose `plugins` export (a
   * `PluginCatalogue`) holds it, for the worker-thread check (see `WorkerRunnerOptions`).
   */
  workerCatalogue?: string;
}

/** A deterministic toy objective on the mixed space; `k` shifts it (the k-th objective). */
function objective(p: Record<string, unknown>, k = 0): number {
  let v = 0;
  for (const x of Object.values(p)) v += typeof x === "number" ? Math.sin(x * 3.7 + k) : typeof x === "string" ? x.length : x ? 1 : 0;
  return v;
}

/** Studies of `studyFor` whose trials carry a constraint. */
const constrainedStudies = new WeakSet<StudyContext>();

/** The result of a simulated trial: one value per direction, and a constraint on a constrained study. */
function resultOf(p: Record<string, unknown>, m: number, constrained: boolean): { values: number[]; constraints: number[] | null } {
  const values = Array.from({ length: m }, (_, k) => objective(p, k));
  return { values, constraints: constrained ? [Math.sin(values[0]! * 5)] : null };
}

/** Another way to get a suggestion (a worker thread), compared with `strategy.suggest(req)` in process. */
export type SuggestFn = (strategy: Strategy, req: SuggestRequest) => Suggestion | Promise<Suggestion>;

/** Variants of `simulate`. */
export interface SimulateOptions {
  /** A new strategy instance for every call (a server restarting all the time). */
  fresh?: boolean;
  /** Objectives of the simulated study (see `ConformanceOptions.objectives`). */
  objectives?: number;
  /** Whether trials carry a constraint (see `ConformanceOptions.constrained`; default: objectives > 1). */
  constrained?: boolean;
}

/** One step of the sequential loop: the suggestion for trial `i`, completed as the service would. */
function completeTrial(strategyFor: () => Strategy, study: StudyContext, space: SearchSpace, trials: Trial[], s: Suggestion): Trial {
  const i = trials.length;
  const params = { ...s.params };
  const running = makeTrial(i, params, space, { state: "RUNNING", value: null, systemAttrs: s.systemAttrs ?? {} });
  for (const [name, d] of Object.entries(space)) {
    if (name in params) continue;
    // As the service: the strategy's hook with the (seed, trial, "param", name) RNG, else uniform.
    const rng = Rng.derive(study.seed, i, "param", name);
    const strategy = strategyFor();
    params[name] = strategy.suggestParam
      ? strategy.suggestParam({ study, trials, trial: { ...running, params: { ...params } }, name, distribution: d, rng })
      : sampleUniform(d, rng);
  }
  return makeTrial(i, params, space, { ...resultOf(params, study.directions.length, constrainedStudies.has(study)), systemAttrs: s.systemAttrs ?? {} });
}

function studyFor<O>(factory: StrategyFactory<O>, options: O, space: SearchSpace, seed: number, objectives = 1, constrained = objectives > 1): StudyContext {
  const directions = Array.from({ length: objectives }, (_, k) => (k % 2 === 0 ? "minimize" : "maximize") as Direction);
  const study = makeStudy(space, { seed, strategy: { name: factory.name, options: options as Record<string, unknown> }, directions });
  if (constrained) constrainedStudies.add(study);
  return study;
}

/**
 * Runs a sequential ask/tell loop against the strategy in process, as the service would: params
 * the suggestion leaves out come from `suggestParam` (or uniform draws), values from a toy
 * objective. Stops early when the strategy says SEARCH_SPACE_EXHAUSTED.
 */
export function simulate<O>(factory: StrategyFactory<O>, options: O, space: SearchSpace, n: number, seed = 42, sim: SimulateOptions = {}): Trial[] {
  let kept: Strategy | null = null;
  const strategyFor = () => (sim.fresh ? factory.create(options) : (kept ??= factory.create(options)));
  const study = studyFor(factory, options, space, seed, sim.objectives, sim.constrained);
  const trials: Trial[] = [];
  for (let i = 0; i < n; i++) {
    let s: Suggestion;
    try {
      s = strategyFor().suggest(suggestRequest(study, trials));
    } catch (e) {
      if (e instanceof TuneportError && e.code === "SEARCH_SPACE_EXHAUSTED") break;
      throw e;
    }
    trials.push(completeTrial(strategyFor, study, space, trials, s));
  }
  return trials;
}

/**
 * The loop of `simulate`, asking `other` for each suggestion as well: returns the pairs
 * (in-process, other) of every trial; the history follows the in-process suggestions.
 */
async function compareSuggestions<O>(
  factory: StrategyFactory<O>, options: O, space: SearchSpace, n: number, seed: number, other: SuggestFn, objectives = 1, constrained = objectives > 1,
): Promise<{ mine: Suggestion; theirs: Suggestion | string }[]> {
  const strategy = factory.create(options);
  const study = studyFor(factory, options, space, seed, objectives, constrained);
  const trials: Trial[] = [];
  const out: { mine: Suggestion; theirs: Suggestion | string }[] = [];
  for (let i = 0; i < n; i++) {
    const req = suggestRequest(study, trials);
    let mine: Suggestion;
    try {
      mine = strategy.suggest(req);
    } catch (e) {
      if (e instanceof TuneportError && e.code === "SEARCH_SPACE_EXHAUSTED") break;
      throw e;
    }
    let theirs: Suggestion | string;
    try {
      theirs = await other(strategy, suggestRequest(study, trials));
    } catch (e) {
      theirs = `threw: ${(e as Error).message}`;
    }
    out.push({ mine, theirs });
    trials.push(completeTrial(() => strategy, study, space, trials, mine));
  }
  return out;
}

/** Suggestion fields as they would travel (JSON: the service stores systemAttrs as JSON). */
const wire = (s: Suggestion | string) => (typeof s === "string" ? s : JSON.parse(JSON.stringify({ params: s.params, systemAttrs: s.systemAttrs ?? {} })));

/** Declares the suite for one strategy and its options (see the file comment). */
export function strategyConformance<O>(factory: StrategyFactory<O>, conf: ConformanceOptions<O>): void {
  const space = conf.space ?? MIXED_SPACE;
  const n = conf.n ?? 30;
  const nCompared = conf.nCompared ?? Math.min(n, 16);
  const check = conformanceChecks<ConformanceCheck>(conf.skip ?? {});
  const m = conf.objectives ?? 1;
  const constrained = conf.constrained ?? m > 1;
  const sim = (s: SimulateOptions = {}): SimulateOptions => ({ ...s, objectives: m, constrained });
  const label = [m > 1 ? `${m} objectives` : "", constrained ? "constrained" : ""].filter((x) => x).join(", ");

  describe(`strategy conformance: ${factory.name}${label ? ` (${label})` : ""}`, () => {
    check("valid-params", "hands out only values inside each distribution", () => {
      for (const t of simulate(factory, conf.options, space, n, 42, sim())) {
        for (const [name, d] of Object.entries(space)) {
          expect(contains(d, t.params[name] ?? null), `${name}=${String(t.params[name])}`).toBe(true);
        }
      }
    });

    check("reproducible", "same seed and same history give the same suggestions", () => {
      const a = simulate(factory, conf.options, space, n, 7, sim());
      const b = simulate(factory, conf.options, space, n, 7, sim());
      expect(b.map((t) => t.params)).toEqual(a.map((t) => t.params));
    });

    check("uses-history", "different seeds give different suggestions", () => {
      const a = simulate(factory, conf.options, space, Math.min(n, 12), 1, sim());
      const b = simulate(factory, conf.options, space, Math.min(n, 12), 2, sim());
      expect(b.map((t) => t.params)).not.toEqual(a.map((t) => t.params));
    });

    check("single-value", "copes with single-value dimensions", () => {
      const tiny: SearchSpace = {
        a: { type: "float", low: 1, high: 1 },
        b: { type: "int", low: 3, high: 3 },
        c: { type: "categorical", choices: ["only"] },
        x: { type: "float", low: 0, high: 1 },
      };
      for (const t of simulate(factory, conf.options, tiny, 15, 42, sim())) {
        expect(t.params).toMatchObject({ a: 1, b: 3, c: "only" });
      }
    });

    check("suggest-param", "answers define-by-run parameters validly and reproducibly, not as constants", () => {
      const strategy = factory.create(conf.options);
      expect(
        strategy.suggestParam,
        `${factory.name} has no suggestParam hook: the service draws its define-by-run params uniformly; list "suggest-param" in skip with the reason`,
      ).toBeTypeOf("function");
      const hook = strategy.suggestParam!.bind(strategy);
      const study = makeStudy({}, { strategy: { name: factory.name, options: conf.options as Record<string, unknown> } });
      const trials = simulate(factory, conf.options, space, 12, 42, sim());
      const ask = (name: string, seed: number) =>
        hook({
          study, trials, trial: makeTrial(99, {}, space, { state: "RUNNING", value: null }), name, distribution: space[name]!,
          rng: new Rng(seed, name),
        });
      let varied = 0;
      for (const [name, d] of Object.entries(space)) {
        const draws = [3, 4, 5, 6, 7, 8, 9, 10].map((seed) => ask(name, seed));
        for (const v of draws) expect(contains(d, v), `${name}=${String(v)}`).toBe(true);
        expect(ask(name, 3), `${name}: same RNG, same answer`).toEqual(draws[0]);
        if (new Set(draws.map(String)).size > 1) varied++;
      }
      // A model may settle on one value of a dimension, but not of every one (a constant stub would).
      expect(varied, "every parameter got one value whatever the RNG").toBeGreaterThan(0);
    });

    check("restart", "a fresh instance for every call decides as one long-lived instance (caches only speed up)", () => {
      const kept = simulate(factory, conf.options, space, nCompared, 11, sim());
      const fresh = simulate(factory, conf.options, space, nCompared, 11, sim({ fresh: true }));
      expect(fresh.map((t) => [t.params, t.systemAttrs])).toEqual(kept.map((t) => [t.params, t.systemAttrs]));
    });

    let runner: WorkerRunner | null = null;
    afterAll(async () => {
      await runner?.close();
    });
    check("worker-thread", "suggests the same in a worker thread (WorkerRunner) as in process", async () => {
      const builtin = BUILTIN_PLUGINS.strategy(factory.name) === (factory as StrategyFactory<unknown>);
      expect(
        builtin || conf.workerCatalogue !== undefined,
        `${factory.name} is not a built-in: give workerCatalogue (a module exporting 'plugins') or skip "worker-thread" with the reason`,
      ).toBe(true);
      runner = sourceWorkerRunner(silentLogger(), { offloadAll: true, ...(conf.workerCatalogue ? { catalogue: conf.workerCatalogue } : {}) });
      const worker = runner;
      const f = factory as StrategyFactory<unknown>;
      expect(worker.offloads(f, conf.options as Record<string, unknown>)).toBe(true);
      const pairs = await compareSuggestions(factory, conf.options, space, nCompared, 13, (s, req) => worker.suggest(f, s, req), m, constrained);
      expect(pairs.length).toBeGreaterThan(0);
      expect(pairs.map((p) => wire(p.theirs))).toEqual(pairs.map((p) => wire(p.mine)));
    });
  });
}
