import { describe, expect, it } from "vitest";
import { type SearchSpace, contains } from "../../domain/distributions.js";
import { TuneportError } from "../../domain/errors.js";
import { simulate, strategyConformance } from "../../testing/strategy.case.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { GridStrategy, MAX_GRID_DIM_VALUES, gridSpaceProblem, gridStrategyFactory, gridValues } from "./grid-strategy.js";

const space: SearchSpace = {
  lr: { type: "float", low: 0.1, high: 0.3, step: 0.1 },
  layers: { type: "int", low: 1, high: 4 },
  act: { type: "categorical", choices: ["relu", "gelu"] },
};

strategyConformance(gridStrategyFactory, {
  options: { ordered: false, points_per_dim: 4 },
  n: 30,
  skip: { "suggest-param": "grid only covers the declared space; define-by-run params fall back to random" },
});

describe("grid strategy", () => {
  it("hands out every point exactly once, then says the grid is exhausted", () => {
    const trials = simulate(gridStrategyFactory, { ordered: false }, space, 24);
    const keys = trials.map((t) => JSON.stringify(t.params));
    expect(new Set(keys).size).toBe(24);
    const strategy = new GridStrategy({ ordered: false });
    const study = makeStudy(space);
    expect(() => strategy.suggest(suggestRequest(study, trials))).toThrowError(TuneportError);
    try {
      strategy.suggest(suggestRequest(study, trials));
    } catch (e) {
      expect((e as TuneportError).code).toBe("SEARCH_SPACE_EXHAUSTED");
    }
  });

  it("skips points taken by running trials (concurrent workers)", () => {
    const strategy = new GridStrategy({ ordered: true });
    const study = makeStudy(space);
    const running = [makeTrial(0, { lr: 0.1, layers: 1, act: "relu" }, space, { state: "RUNNING", value: null })];
    const s = strategy.suggest(suggestRequest(study, running));
    expect(s.params).not.toEqual(running[0]!.params);
  });

  it("refuses a continuous float without step or points_per_dim, with a useful message", () => {
    const strategy = new GridStrategy({ ordered: true });
    const study = makeStudy({ x: { type: "float", low: 0, high: 1 } });
    expect(() => strategy.suggest(suggestRequest(study, []))).toThrow(/points_per_dim/);
  });

  it("refuses a dimension of more than MAX_GRID_DIM_VALUES values before building it (typed, not a RangeError)", () => {
    // An int range of 2^53 and a float step of 1e-300 were arrays of that length: INTERNAL errors.
    const huge: SearchSpace[] = [
      { x: { type: "int", low: 0, high: 2 ** 53 } },
      { x: { type: "float", low: 0, high: 1, step: 1e-300 } },
      { x: { type: "int", low: 0, high: 1_000_000 } },
    ];
    for (const space of huge) {
      expect(gridSpaceProblem(space, { ordered: true })).toMatch(/more than the 1000000 one grid dimension may have/);
      const strategy = new GridStrategy({ ordered: true });
      let err: unknown;
      try {
        strategy.suggest(suggestRequest(makeStudy(space), []));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TuneportError);
      expect((err as TuneportError).code).toBe("INVALID_ARGUMENT");
    }
    expect(gridSpaceProblem({ x: { type: "int", low: 1, high: MAX_GRID_DIM_VALUES } }, { ordered: true })).toBeNull();
  });

  it("ends a points_per_dim axis on low and high exactly (exp(log(0.1)) is above 0.1: the service drew another value there)", () => {
    const s: SearchSpace = { x: { type: "float", low: 1e-4, high: 0.1, log: true }, y: { type: "float", low: -0.1, high: 0.7 } };
    const xs = gridValues("x", s.x!, { ordered: true, points_per_dim: 7 }) as number[];
    const ys = gridValues("y", s.y!, { ordered: true, points_per_dim: 7 }) as number[];
    expect([xs[0], xs[6], ys[0], ys[6]]).toEqual([1e-4, 0.1, -0.1, 0.7]);
    for (const t of simulate(gridStrategyFactory, { ordered: true, points_per_dim: 7 }, s, 49))
      for (const [k, d] of Object.entries(s)) expect(contains(d, t.params[k]!), `${k}=${String(t.params[k])}`).toBe(true);
  });

  it("counts a point a server before exact bounds stored at an axis end (exp(log(1e-5)), exp(log(0.1))) as taken, not handing it out again", () => {
    // An upgraded database (or an import of its export): the trials hold the ends as computed before.
    const s: SearchSpace = { x: { type: "float", low: 1e-5, high: 0.1, log: true } };
    const was = [Math.exp(Math.log(1e-5)), Math.exp(Math.log(1e-5) + (Math.log(0.1) - Math.log(1e-5)))];
    expect(was).toEqual([9.999999999999999e-6, 0.10000000000000006]);
    const study = makeStudy(s);
    const strategy = gridStrategyFactory.create({ ordered: true, points_per_dim: 3 });
    const trials = was.map((x, i) => makeTrial(i, { x }, s, { state: "COMPLETE", value: i }));
    const next = strategy.suggest(suggestRequest(study, trials)).params.x as number;
    expect(next).toBeCloseTo(Math.sqrt(1e-5 * 0.1), 12); // the middle point, the only one not run
    trials.push(makeTrial(2, { x: next }, s, { state: "COMPLETE", value: 2 }));
    expect(() => strategy.suggest(suggestRequest(study, trials))).toThrowError(/all 3 points have been handed out/);
  });

  it("refuses explicit values a parameter's distribution cannot hold (the service would draw others in their place)", () => {
    const s: SearchSpace = { x: { type: "float", low: 0, high: 1 }, k: { type: "int", low: 0, high: 4, step: 2 } };
    expect(gridSpaceProblem(s, { ordered: true, values: { x: [0, 1 + 5e-10] } })).toMatch(/values of 'x' hold 1\.0000000005, which its distribution .* cannot produce/);
    expect(gridSpaceProblem(s, { ordered: true, values: { x: [0, 1], k: [1] } })).toMatch(/values of 'k' hold 1/);
    expect(gridSpaceProblem(s, { ordered: true, values: { x: [0, 0.5, 1], k: [0, 4] } })).toBeNull();
  });

  it("goes on asking for a study an earlier server created with values outside (refused at create_study only)", () => {
    const s: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const opts = { ordered: true, values: { x: [0, 2, 1] } };
    expect(gridSpaceProblem(s, opts)).toMatch(/values of 'x' hold 2/);
    const strategy = gridStrategyFactory.create(opts); // a study in an upgraded database
    const firsts = [0, 1, 2].map((n) => strategy.suggest(suggestRequest(makeStudy(s), Array.from({ length: n }, (_, i) => makeTrial(i, { x: [0, 2, 1][i]! }, s)))).params.x);
    expect(firsts).toEqual([0, 2, 1]); // 2 is the service's to replace (fillDeclared), as before
  });

  it("spaces log floats geometrically with points_per_dim", () => {
    const s = { x: { type: "float" as const, low: 1e-4, high: 1, log: true } };
    const trials = simulate(gridStrategyFactory, { ordered: true, points_per_dim: 5 }, s, 5);
    expect(trials.map((t) => t.params.x as number).map((v) => Math.round(Math.log10(v)))).toEqual([-4, -3, -2, -1, 0]);
  });
});
