import { describe, expect, it } from "vitest";
import { type FloatDistribution, type Params, type SearchSpace, contains, fromUnit, toUnit } from "../../domain/distributions.js";
import type { Direction, Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { STRATEGIES } from "../index.js";
import { MIXED_SPACE, simulate, strategyConformance } from "../../testing/strategy.case.js";
import type { StrategyFactory } from "../../domain/plugin.js";
import { makeStudy, makeTrial } from "../../testing/fixtures.js";
import { type HypergradientOptions, MAX_TRAJECTORY_VALUES, readTrajectory, trajectoryLimit, unitJacobian } from "./hypergradient-strategy.js";

const factory = STRATEGIES.get("hypergradient") as StrategyFactory<HypergradientOptions>;
const defaults = factory.options.parse({});

strategyConformance(factory, { options: defaults, n: 30 });
strategyConformance(factory, { options: factory.options.parse({ base: "tpe" }), n: 20 });

const SPACE: SearchSpace = {
  lr: { type: "float", low: 1e-4, high: 1, log: true },
  wd: { type: "float", low: 0, high: 0.1 },
  q: { type: "float", low: 0, high: 1, step: 0.25 },
  layers: { type: "int", low: 1, high: 4 },
  act: { type: "categorical", choices: ["relu", "gelu"] },
};

/** A running trial plus a helper that reports to the strategy and applies the result as the service does. */
function harness(opts: Partial<Record<string, unknown>> = {}, params: Params = { lr: 0.01, wd: 0.05, q: 0.5, layers: 2, act: "relu" }, direction: Direction = "minimize") {
  const o = factory.options.parse(opts);
  const strategy = factory.create(o);
  const study = makeStudy(SPACE, { direction, strategy: { name: "hypergradient", options: o as unknown as Record<string, unknown> } });
  let trial: Trial = makeTrial(0, params, SPACE, { state: "RUNNING", value: null });
  const report = (step: number, hypergradients: unknown, value = 1) => {
    // As the service does: the reporting trial already holds this report.
    trial = { ...trial, intermediate: [...trial.intermediate, { step, value }] };
    const res = strategy.onReport!({
      study, trials: [trial], trial, step, value, data: hypergradients === undefined ? {} : { hypergradients }, rng: new Rng(1),
    });
    if (res) {
      const p = res.decision.action === "update" ? { ...trial.params, ...res.decision.params } : trial.params;
      for (const [k, v] of Object.entries(p)) expect(contains(SPACE[k]!, v), `${k}=${String(v)}`).toBe(true);
      trial = { ...trial, params: p, systemAttrs: { ...trial.systemAttrs, ...(res.systemAttrs ?? {}) } };
    }
    return res;
  };
  return { report, get trial() { return trial; }, set trial(t: Trial) { trial = t; } };
}

describe("hypergradient strategy: options", () => {
  it("defaults to qmc with its defaults filled in, Adam constants, every float param", () => {
    expect(defaults).toEqual({
      base: { name: "qmc", options: { scramble: true, skip_first: false } },
      step_rule: "trust-region", lr: 0.05, hd_beta: 1, confirm_decreases: false, beta1: 0.9, beta2: 0.999, eps: 1e-8, max_step: 0.2, trajectory_limit: 1000,
    });
    // Parsed options are valid input again (stored configs are re-read after a restart).
    expect(factory.options.parse(defaults)).toEqual(defaults);
  });

  it("validates the base against the catalogue, refusing itself and bad base options", () => {
    expect(factory.options.safeParse({ base: "nope" }).success).toBe(false);
    expect(factory.options.safeParse({ base: "hypergradient" }).success).toBe(false);
    expect(factory.options.safeParse({ base: "pbt" }).success).toBe(false);
    expect(factory.options.safeParse({ base: "gp" }).success).toBe(true);
    // Offloaded to a worker thread exactly when the base is.
    expect(factory.offloadFor?.(factory.options.parse({ base: "gp" }))).toBe(true);
    expect(factory.offloadFor?.(defaults)).toBe(false);
    expect(factory.options.safeParse({ base: { name: "tpe", options: { n_startup_trials: -1 } } }).success).toBe(false);
    expect(factory.options.safeParse({ lr: 0 }).success).toBe(false);
    expect(factory.options.safeParse({ unknown: 1 }).success).toBe(false);
    const tpe = factory.options.parse({ base: { name: "tpe", options: { n_startup_trials: 3 } }, params: ["lr"] });
    expect(tpe.base.name).toBe("tpe");
    expect(tpe.base.options.n_startup_trials).toBe(3);
    expect(tpe.params).toEqual(["lr"]);
  });

  it("takes starting points (categoricals and ints included) from the base strategy", () => {
    const ours = simulate(factory, defaults, MIXED_SPACE, 8, 5).map((t) => t.params);
    const qmc = simulate(STRATEGIES.get("qmc")!, defaults.base.options, MIXED_SPACE, 8, 5).map((t) => t.params);
    expect(ours).toEqual(qmc);
  });
});

describe("hypergradient strategy: updates", () => {
  it("converts gradients to the unit cube: the Jacobian matches a finite difference of fromUnit", () => {
    const dists: FloatDistribution[] = [
      { type: "float", low: 1e-4, high: 1, log: true },
      { type: "float", low: -3, high: 5 },
    ];
    for (const d of dists) {
      for (const u of [0.1, 0.5, 0.9]) {
        const h = 1e-6;
        const fd = (fromUnit(d, u + h) - fromUnit(d, u - h)) / (2 * h);
        expect(unitJacobian(d, fromUnit(d, u))).toBeCloseTo(fd, 4);
      }
    }
  });

  it("first step moves lr in log space and linear params linearly, by lr × range, downhill", () => {
    const h = harness({ lr: 0.1, step_rule: "adam" });
    const r = h.report(1, { lr: 2.0, wd: -3.0 });
    expect(r?.decision.action).toBe("update");
    const lr = SPACE.lr as FloatDistribution;
    // Adam's first bias-corrected step is lr · g/(|g| + ε) ≈ lr · sign(g), whatever the gradient's scale.
    expect(toUnit(lr, h.trial.params.lr as number)).toBeCloseTo(toUnit(lr, 0.01) - 0.1, 7);
    expect(Math.log(h.trial.params.lr as number)).toBeCloseTo(Math.log(0.01) - 0.1 * Math.log(1e4), 6);
    expect(h.trial.params.wd).toBeCloseTo(0.05 + 0.1 * 0.1, 8);
    expect(h.trial.params.layers).toBe(2);
  });

  it("ascends for maximize studies", () => {
    const h = harness({ lr: 0.1, step_rule: "adam" }, undefined, "maximize");
    h.report(1, { wd: -3.0 });
    expect(h.trial.params.wd).toBeCloseTo(0.05 - 0.01, 8);
  });

  it("follows Adam over several reports with its state kept in systemAttrs", () => {
    const h = harness({ lr: 0.02, params: ["wd"], step_rule: "adam" });
    const gs = [1.0, 0.5, -0.25, 2.0];
    let m = 0, v = 0, u = toUnit(SPACE.wd as FloatDistribution, 0.05);
    gs.forEach((g, i) => {
      const gu = g * 0.1;
      m = 0.9 * m + 0.1 * gu;
      v = 0.999 * v + 0.001 * gu * gu;
      const k = i + 1;
      u -= (0.02 * (m / (1 - 0.9 ** k))) / (Math.sqrt(v / (1 - 0.999 ** k)) + 1e-8);
      h.report(k, { wd: g });
      expect(h.trial.params.wd).toBeCloseTo(u * 0.1, 12);
    });
    expect(h.trial.systemAttrs.hg_t).toEqual({ wd: 4 });
  });

  it("clips each step to max_step and the result to the bounds", () => {
    const h = harness({ lr: 1, max_step: 0.05, step_rule: "adam" });
    h.report(1, { wd: -1 });
    expect(h.trial.params.wd).toBeCloseTo(0.05 + 0.005, 12);
    const top = harness({ lr: 0.5, step_rule: "adam" }, { lr: 0.5, wd: 0.09, q: 0.5, layers: 1, act: "relu" });
    for (let s = 1; s <= 5; s++) top.report(s, { wd: -1, lr: -10 });
    expect(top.trial.params.wd).toBe(0.1);
    expect(top.trial.params.lr).toBe(1);
  });

  it("snaps stepped floats onto their grid", () => {
    const h = harness({ lr: 0.3, step_rule: "adam" });
    h.report(1, { q: 1 });
    expect(h.trial.params.q).toBe(0.25);
  });

  it("accumulates steps smaller than a stepped float's grid, so such a parameter still moves", () => {
    // Each trust-region step (0.05 of the range) snapped back to q = 0.5 (grid 0.25): q never moved.
    const h = harness();
    const seen: number[] = [];
    for (let s = 1; s <= 10; s++) {
      h.report(s, { q: 1 });
      seen.push(h.trial.params.q as number);
    }
    expect(seen.every((q, i) => i === 0 || q <= (seen[i - 1] as number))).toBe(true);
    expect([...new Set(seen)]).toEqual([0.5, 0.25, 0]);
    // A value that no longer matches the accumulated position (set by an agent) is the new start.
    const moved = harness();
    moved.report(1, { q: -1 });
    moved.trial = { ...moved.trial, params: { ...moved.trial.params, q: 0 } };
    moved.report(2, { q: -1 });
    expect(moved.trial.params.q).toBe(0);
    for (let s = 3; s <= 5; s++) moved.report(s, { q: -1 });
    expect(moved.trial.params.q).toBe(0.25);
  });

  it("ignores NaN/inf gradients, non-numbers and unknown names with a recorded warning", () => {
    const h = harness();
    const r = h.report(1, { wd: Number.NaN, lr: Number.POSITIVE_INFINITY, nope: 1, layers: 1, act: 1, q: "x" });
    expect(r?.decision).toEqual({ action: "continue" });
    expect(h.trial.params).toMatchObject({ lr: 0.01, wd: 0.05 });
    const w = h.trial.systemAttrs.hg_warnings as string[];
    expect(w.join("\n")).toMatch(/'wd' is NaN/);
    expect(w.join("\n")).toMatch(/'lr' is Infinity/);
    expect(w.join("\n")).toMatch(/'nope' is not a tuned/);
    expect(w.join("\n")).toMatch(/'layers' is not a tuned/);
    expect(w.join("\n")).toMatch(/'q' is not a number/);
    expect(h.trial.systemAttrs.hg_t).toBeUndefined();
    // A malformed payload is a warning too, and reports without hypergradients are left alone.
    expect(h.report(2, [1, 2])?.decision.action).toBe("continue");
    expect(h.report(3, undefined)).toBeNull();
  });

  it("records the trajectory, does not step twice for a repeated step, and thins long records", () => {
    const h = harness({ params: ["wd"], trajectory_limit: 8 });
    h.report(1, { wd: 1 }, 0.9);
    h.report(2, { wd: 1 }, 0.8);
    const before = h.trial.params.wd;
    const again = h.report(2, { wd: 1 }, 0.8);
    expect(again?.decision).toEqual({ action: "update", params: { wd: before } });
    let tr = readTrajectory(h.trial.systemAttrs);
    expect(tr.map((e) => e.step)).toEqual([null, 1, 2]);
    expect(tr[0]?.params).toEqual({ wd: 0.05 });
    expect(tr[2]?.params).toEqual({ wd: before });
    expect(tr[1]?.value).toBe(0.9);
    for (let s = 3; s <= 20; s++) h.report(s, { wd: 1 });
    tr = readTrajectory(h.trial.systemAttrs);
    expect(tr.length).toBeLessThanOrEqual(8);
    expect(tr[0]?.step).toBeNull();
    expect(tr[tr.length - 1]?.step).toBe(20);
    expect(h.trial.systemAttrs.hg_trajectory_thinned).toBe(true);
  });

  for (const rule of ["adam", "trust-region"]) {
    it(`${rule}: descends a quadratic in log space to its optimum from gradients alone`, () => {
      // L(lr) = (ln lr − ln 0.003)²: dL/dlr = 2 (ln lr − ln 0.003) / lr.
      const h = harness({ lr: 0.05, params: ["lr"], step_rule: rule }, { lr: 0.5, wd: 0, q: 0, layers: 1, act: "gelu" });
      for (let s = 1; s <= 200; s++) {
        const lr = h.trial.params.lr as number;
        h.report(s, { lr: (2 * (Math.log(lr) - Math.log(0.003))) / lr });
      }
      // A constant radius leaves a limit cycle of about one radius around the optimum (in ln, 0.05·ln 1e4 ≈ 0.46).
      expect(Math.abs(Math.log(h.trial.params.lr as number) - Math.log(0.003))).toBeLessThan(rule === "adam" ? 0.1 : 0.5);
    });
  }

  it("trust-region: one step of length lr along the first moment, shared by the parameters", () => {
    const h = harness({ lr: 0.1 });
    h.report(1, { lr: 2.0, wd: -3.0 });
    const lr = SPACE.lr as FloatDistribution;
    const wd = SPACE.wd as FloatDistribution;
    // Unit-cube gradients: lr 2·0.01·ln(1e4), wd −3·0.1 (the first moment's bias correction cancels).
    const gl = 2 * 0.01 * Math.log(1e4);
    const gw = -3 * 0.1;
    const n = Math.hypot(gl, gw);
    expect(toUnit(lr, h.trial.params.lr as number)).toBeCloseTo(toUnit(lr, 0.01) - (0.1 * gl) / n, 7);
    expect(toUnit(wd, h.trial.params.wd as number)).toBeCloseTo(toUnit(wd, 0.05) - (0.1 * gw) / n, 7);
    // A parameter whose hypergradient is 100× smaller than another's barely moves (Adam would move it fully).
    const t = harness({ lr: 0.1 });
    t.report(1, { lr: 0.01 * 2.0, wd: -3.0 });
    expect(Math.abs(toUnit(lr, t.trial.params.lr as number) - toUnit(lr, 0.01))).toBeLessThan(0.01);
    const a = harness({ lr: 0.1, step_rule: "adam" });
    a.report(1, { lr: 0.01 * 2.0, wd: -3.0 });
    expect(Math.abs(toUnit(lr, a.trial.params.lr as number) - toUnit(lr, 0.01))).toBeCloseTo(0.1, 5);
  });

  it("confirm_decreases: lowers a parameter only on a report worse than the previous one", () => {
    const h = harness({ step_rule: "adam", lr: 0.1, params: ["lr"], confirm_decreases: true });
    const lr0 = h.trial.params.lr as number;
    h.report(1, { lr: 1.0 }, 1.0); // no previous report: the decrease is taken
    const lr1 = h.trial.params.lr as number;
    expect(lr1).toBeLessThan(lr0);
    h.report(2, { lr: 1.0 }, 0.8); // better than before: the hypergradient's decrease is refused
    expect(h.trial.params.lr).toBe(lr1);
    h.report(3, { lr: -50.0 }, 0.7); // increases are always taken (the first moment turns negative)
    const lr3 = h.trial.params.lr as number;
    expect(lr3).toBeGreaterThan(lr1);
    h.report(4, { lr: 500.0 }, 0.9); // worse: now it may decrease
    expect(h.trial.params.lr as number).toBeLessThan(lr3);
    // The held-back report 2 did not count: 4 of the 5 reports moved the moments (NaN counts as worse).
    h.report(5, { lr: 5.0 }, Number.NaN);
    expect(h.trial.systemAttrs.hg_t).toEqual({ lr: 4 });
  });

  it("hd-m: multiplies a log parameter by exp(−β·h̃) and moves a linear one by β·h̃ of its range", () => {
    const h = harness({ step_rule: "hd-m", hd_beta: 0.5 });
    h.report(1, { lr: -0.8, wd: 0.1 });
    expect(h.trial.params.lr as number).toBeCloseTo(0.01 * Math.exp(0.5 * 0.8), 10);
    expect(h.trial.params.wd as number).toBeCloseTo(0.05 - 0.5 * 0.1 * 0.1, 10);
    // Near-zero normalised hypergradients (a good rate) barely move it; Adam's first step would be a full lr.
    const q = harness({ step_rule: "hd-m", hd_beta: 1 });
    for (let s = 1; s <= 10; s++) q.report(s, { lr: 0.02 });
    expect(q.trial.params.lr as number).toBeCloseTo(0.01 * Math.exp(-0.2), 10);
    // Each step is still clipped to max_step of the unit range.
    const c = harness({ step_rule: "hd-m", hd_beta: 10, max_step: 0.05 });
    c.report(1, { lr: -1 });
    expect(Math.log(c.trial.params.lr as number)).toBeCloseTo(Math.log(0.01) + 0.05 * Math.log(1e4), 8);
  });
});

describe("hypergradient strategy: extreme ranges and hypergradients", () => {
  const EXTREME: SearchSpace = {
    big: { type: "float", low: -8e307, high: 8e307 },
    lr: { type: "float", low: 1e-5, high: 1, log: true },
    flat: { type: "float", low: 1e308, high: 1.00000000000001e308, log: true }, // ln high === ln low
  };
  const report = (rule: string, hypergradients: Record<string, number>) => {
    const o = factory.options.parse({ step_rule: rule });
    const study = makeStudy(EXTREME, { strategy: { name: "hypergradient", options: o as unknown as Record<string, unknown> } });
    const trial = makeTrial(0, { big: 1e307, lr: 0.01, flat: 1e308 }, EXTREME, { state: "RUNNING", value: null, intermediate: [{ step: 1, value: 1 }] });
    return factory.create(o).onReport!({ study, trials: [trial], trial, step: 1, value: 1, data: { hypergradients }, rng: new Rng(1) })!;
  };

  it.each(["trust-region", "adam"])("%s: a hypergradient whose unit-cube step overflows is ignored with a warning, never a NaN param", (rule) => {
    // 1e300 · (high − low) = 1.6e607: its moments were Infinity, the step NaN, the update sent nil.
    const res = report(rule, { big: 1e300, lr: 1, flat: 1 });
    const params = (res.decision as { params: Params }).params;
    for (const [k, v] of Object.entries(params)) expect(contains(EXTREME[k]!, v), `${k}=${String(v)}`).toBe(true);
    expect(params.lr).toBeLessThan(0.01);
    expect(params.big).toBe(1e307);
    expect(res.systemAttrs?.hg_warnings).toEqual([
      expect.stringMatching(/'big' is 1e\+300, too large/),
      "step 1: 'flat' is not a tuned continuous parameter of this trial; ignored",
    ]);
    for (const key of ["hg_m", "hg_v"]) for (const v of Object.values(res.systemAttrs?.[key] as Record<string, number>)) expect(Number.isFinite(v)).toBe(true);
  });
});

describe("hypergradient strategy: trajectory size", () => {
  it("thins a trajectory of many tuned parameters at MAX_TRAJECTORY_VALUES values, whatever trajectory_limit says", () => {
    // 200 tuned parameters with trajectory_limit 100,000: every report rewrote a record that grew without a bound.
    const WIDE: SearchSpace = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`p${i}`, { type: "float", low: 0, high: 1 }]));
    const o = factory.options.parse({ trajectory_limit: 100_000 });
    const strategy = factory.create(o);
    const study = makeStudy(WIDE, { strategy: { name: "hypergradient", options: o as unknown as Record<string, unknown> } });
    const hypergradients = Object.fromEntries(Object.keys(WIDE).map((k) => [k, 1]));
    let trial = makeTrial(0, Object.fromEntries(Object.keys(WIDE).map((k) => [k, 0.5])), WIDE, { state: "RUNNING", value: null });
    const limit = trajectoryLimit(100_000, 200);
    expect(limit).toBe(MAX_TRAJECTORY_VALUES / 200);
    for (let step = 1; step <= limit + 1; step++) {
      trial = { ...trial, intermediate: [...trial.intermediate, { step, value: 1 }] };
      const res = strategy.onReport!({ study, trials: [trial], trial, step, value: 1, data: { hypergradients }, rng: new Rng(1) })!;
      trial = { ...trial, systemAttrs: { ...trial.systemAttrs, ...res.systemAttrs } };
    }
    const entries = readTrajectory(trial.systemAttrs);
    expect(entries.length).toBeLessThanOrEqual(limit);
    expect(entries.length * 200).toBeLessThanOrEqual(MAX_TRAJECTORY_VALUES);
    expect(trial.systemAttrs.hg_trajectory_thinned).toBe(true);
    // Few parameters keep the option's own limit.
    expect(trajectoryLimit(1000, 3)).toBe(1000);
    expect(trajectoryLimit(100_000, 1_000_000)).toBe(4);
  });
});
