/**
 * The conformance suite every strategy runs (after Optuna's testing/pytest_samplers.py).
 * Call `strategyConformance(factory, options)` from the strategy's own test file; list any
 * skipped check by name with its reason in `skip`.
 */
import { describe, expect, it } from "vitest";
import { type SearchSpace, contains } from "../domain/distributions.js";
import { TuneportError } from "../domain/errors.js";
import type { Trial } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import type { StrategyFactory } from "./strategy.js";
import { makeStudy, makeTrial, suggestRequest } from "./test-helpers.js";

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

export type ConformanceCheck = "valid-params" | "reproducible" | "uses-history" | "single-value" | "suggest-param";

export interface ConformanceOptions<O> {
  options: O;
  space?: SearchSpace;
  /** Trials to run through the simulated loop. */
  n?: number;
  skip?: Partial<Record<ConformanceCheck, string>>;
}

/** A deterministic toy objective on the mixed space. */
function objective(p: Record<string, unknown>): number {
  let v = 0;
  for (const x of Object.values(p)) v += typeof x === "number" ? Math.sin(x * 3.7) : typeof x === "string" ? x.length : x ? 1 : 0;
  return v;
}

/** Runs a sequential ask/tell loop against the strategy in-process. */
export function simulate<O>(factory: StrategyFactory<O>, options: O, space: SearchSpace, n: number, seed = 42): Trial[] {
  const strategy = factory.create(options);
  const study = makeStudy(space, { seed, strategy: { name: factory.name, options: options as Record<string, unknown> } });
  const trials: Trial[] = [];
  for (let i = 0; i < n; i++) {
    let s;
    try {
      s = strategy.suggest(suggestRequest(study, trials));
    } catch (e) {
      if (e instanceof TuneportError && e.code === "SEARCH_SPACE_EXHAUSTED") break;
      throw e;
    }
    const params = { ...s.params };
    for (const [name, d] of Object.entries(space)) {
      if (name in params) continue;
      const req = {
        study, trials, trial: makeTrial(i, params, space, { state: "RUNNING", value: null }), name, distribution: d,
        rng: Rng.derive(seed, i, "param", name),
      };
      params[name] = strategy.suggestParam ? strategy.suggestParam(req) : (d.type === "categorical" ? d.choices[0]! : d.low);
    }
    trials.push(makeTrial(i, params, space, { value: objective(params), systemAttrs: s.systemAttrs ?? {} }));
  }
  return trials;
}

export function strategyConformance<O>(factory: StrategyFactory<O>, conf: ConformanceOptions<O>): void {
  const space = conf.space ?? MIXED_SPACE;
  const n = conf.n ?? 30;
  const skip = conf.skip ?? {};
  const check = (name: ConformanceCheck, title: string, fn: () => void) => {
    if (skip[name] === undefined) it(title, fn);
  };

  describe(`strategy conformance: ${factory.name}`, () => {
    check("valid-params", "hands out only values inside each distribution", () => {
      for (const t of simulate(factory, conf.options, space, n)) {
        for (const [name, d] of Object.entries(space)) {
          expect(contains(d, t.params[name] ?? null), `${name}=${String(t.params[name])}`).toBe(true);
        }
      }
    });

    check("reproducible", "same seed and same history give the same suggestions", () => {
      const a = simulate(factory, conf.options, space, n, 7);
      const b = simulate(factory, conf.options, space, n, 7);
      expect(b.map((t) => t.params)).toEqual(a.map((t) => t.params));
    });

    check("uses-history", "different seeds give different suggestions", () => {
      const a = simulate(factory, conf.options, space, Math.min(n, 12), 1);
      const b = simulate(factory, conf.options, space, Math.min(n, 12), 2);
      expect(b.map((t) => t.params)).not.toEqual(a.map((t) => t.params));
    });

    check("single-value", "copes with single-value dimensions", () => {
      const tiny: SearchSpace = {
        a: { type: "float", low: 1, high: 1 },
        b: { type: "int", low: 3, high: 3 },
        c: { type: "categorical", choices: ["only"] },
        x: { type: "float", low: 0, high: 1 },
      };
      for (const t of simulate(factory, conf.options, tiny, 15)) {
        expect(t.params).toMatchObject({ a: 1, b: 3, c: "only" });
      }
    });

    check("suggest-param", "answers define-by-run parameters validly", () => {
      const strategy = factory.create(conf.options);
      if (!strategy.suggestParam) return;
      const study = makeStudy({}, { strategy: { name: factory.name, options: {} } });
      const trials = simulate(factory, conf.options, space, 12);
      for (const [name, d] of Object.entries(space)) {
        const v = strategy.suggestParam({
          study, trials, trial: makeTrial(99, {}, space, { state: "RUNNING", value: null }), name, distribution: d,
          rng: new Rng(3, name),
        });
        expect(contains(d, v), `${name}=${String(v)}`).toBe(true);
      }
    });
  });
}
