import { describe, expect, it } from "vitest";
import { branin } from "../../testing/benchmark-functions.js";
import { strategyConformance } from "../../testing/strategy.case.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { AutoStrategy, autoStrategyFactory } from "./auto-strategy.js";

const defaults = autoStrategyFactory.options.parse({});
strategyConformance(autoStrategyFactory, { options: { ...defaults, gp_until: 15 }, n: 25 });

describe("auto strategy", () => {
  it("uses GP while few trials completed, TPE after gp_until, TPE for define-by-run-only studies", () => {
    const auto = new AutoStrategy({ ...defaults, gp_until: 3 });
    const study = makeStudy(branin.space);
    const done = (n: number) => Array.from({ length: n }, (_, i) => makeTrial(i, { x0: 0, x1: i }, branin.space, { value: i }));
    expect(auto.phase({ study, trials: done(2) })).toBe("gp");
    expect(auto.phase({ study, trials: done(3) })).toBe("tpe");
    expect(auto.suggest(suggestRequest(study, done(3))).systemAttrs?.auto_phase).toBe("tpe");
    expect(auto.phase({ study: makeStudy({}), trials: [] })).toBe("tpe");
  });

  it("is the default and refuses unknown options", () => {
    expect(defaults.gp_until).toBe(200);
    expect(() => autoStrategyFactory.options.parse({ nope: 1 })).toThrow();
  });
});
