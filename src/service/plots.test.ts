/**
 * Plots: every kind renders a non-blank PNG within the size cap, and each defect the
 * issue listed is pinned on the spec's data (which is what a dashboard would reuse).
 * Set PLOT_DIR=/some/dir to keep the PNGs for a look.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import type { Distribution, Params } from "../domain/distributions.js";
import { TuneportError } from "../domain/errors.js";
import type { TrialState } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import { decodePng, inkShare, pngSize } from "../testing/png.js";
import { MAX_IMPORTANCE_BARS, chooseParams, paramAxis } from "./plot-params.js";
import { paramImportances } from "./importance.js";
import { logTicks, niceTicks, robustRange, sampleTrials } from "./plot-scales.js";
import { MAX_CURVES } from "./plot-trials.js";
import { MAX_PNG_HEIGHT, MAX_PNG_WIDTH, PLOT_KINDS, type PlotKind, parsePlotKind, plotSpec, renderPlot, renderVegaLite, withoutTooltips } from "./plots.js";
import type { StudyView, TrialView } from "./views.js";

type Rows = Record<string, unknown>[];

function studyView(name: string, space: Record<string, Distribution>, direction: "minimize" | "maximize" = "minimize"): StudyView {
  const counts = { WAITING: 0, RUNNING: 0, COMPLETE: 0, PRUNED: 0, FAIL: 0 };
  return {
    name, direction, directions: [direction], reference_point: null, space, strategy: { name: "random", options: {} }, scheduler: null, seed: 0,
    retry: { max_retries: 0, retry_on_fail: false, keep_intermediate: false }, lease_ttl_s: 30, max_trials: null, max_resource: null, stopped: false, notes: null, define_by_run: {}, user_attrs: {}, created_at: 0,
    n_trials: 0, counts, best_trial: null,
  };
}

function trial(number: number, state: TrialState, params: Params, distributions: Record<string, Distribution>, value: number | null, intermediate: [number, number][] = [], systemAttrs: Record<string, unknown> = {}): TrialView {
  return {
    number, state, params, distributions, value, values: value === null ? null : [value], constraints: null, feasible: state === "COMPLETE" ? true : null, intermediate, user_attrs: {}, system_attrs: systemAttrs,
    created_at: number, started_at: number, finished_at: number + 1, duration_s: 1,
  };
}

const SPACE: Record<string, Distribution> = {
  lr: { type: "float", low: 1e-5, high: 1e-1, log: true },
  layers: { type: "int", low: 1, high: 4 },
  act: { type: "categorical", choices: ["relu", "gelu", "a-very-long-activation-function-name"] },
};
const DROPOUT: Distribution = { type: "float", low: 0, high: 0.5 };

/** A mixed study: complete (some enqueued), pruned, failed trials; a conditional `dropout`; two diverged runs. */
function mixedStudy(n = 60, seed = 1): { study: StudyView; trials: TrialView[] } {
  const rng = new Rng(seed);
  const trials: TrialView[] = [];
  for (let i = 0; i < n; i++) {
    const p: Params = { lr: Math.exp(rng.uniform(Math.log(1e-5), Math.log(1e-1))), layers: 1 + Math.floor(rng.uniform(0, 4)), act: ["relu", "gelu", "a-very-long-activation-function-name"][i % 3] as string };
    const dists: Record<string, Distribution> = { ...SPACE };
    if (p.act === "gelu") {
      p.dropout = rng.uniform(0, 0.5);
      dists.dropout = DROPOUT;
    }
    const base = 0.2 + (Math.log10(p.lr as number) + 3) ** 2 * 0.05 + 0.02 * (p.layers as number) + rng.uniform(0, 0.05);
    const curve: [number, number][] = Array.from({ length: 10 }, (_, s) => [s, base + 1 / (s + 1)]);
    let state: TrialState = "COMPLETE";
    let value: number | null = base;
    if (i % 7 === 3) {
      state = "PRUNED";
      value = null;
      curve.length = 4;
    } else if (i % 11 === 5) {
      state = "FAIL";
      value = null;
      curve.length = 2;
    }
    if (i === 10 || i === 20) value = 1e6; // diverged runs
    if (i === 20) curve.push([10, 5e5]);
    trials.push(trial(i, state, p, dists, value, curve, i % 9 === 0 ? { enqueued: true } : {}));
  }
  return { study: studyView("mixed", SPACE), trials };
}

/** A study with `m` objectives (min, max, min...) and one constraint x <= 0.8; 30 trials on a grid of x. */
function moStudy(m: number): { study: StudyView; trials: TrialView[] } {
  const space: Record<string, Distribution> = { x: { type: "float", low: 0, high: 1 } };
  const directions = Array.from({ length: m }, (_, k) => (k % 2 === 0 ? "minimize" : "maximize") as "minimize" | "maximize");
  const study = { ...studyView("mo", space), directions, direction: directions[0] as "minimize" };
  const trials = Array.from({ length: 30 }, (_, i) => {
    const x = ((i * 7) % 30) / 29;
    // Objective 0 = x (min), objective 1 = x^2 + noise (max): a trade-off; odd trials dominated.
    const values = Array.from({ length: m }, (_, k) => (k === 0 ? x : k === 1 ? x * x - (i % 2) * 0.2 : 1 - x));
    const t = trial(i, "COMPLETE", { x }, space, null);
    return { ...t, value: null, values, constraints: [x - 0.8], feasible: x <= 0.8 };
  });
  return { study, trials };
}

/** What PBT's and hypergradient's read models give the `lineage` and `trajectories` plots: a small tree and two trajectories. */
const READ_MODELS = {
  lineage: {
    nodes: [
      { id: "0:0", trial: 0, member: 0, generation: 0, step: 0, params: { lr: 0.1 } },
      { id: "1:0", trial: 1, member: 1, generation: 0, step: 0, params: { lr: 0.01 } },
      { id: "1:1", trial: 1, member: 1, generation: 1, step: 4, params: { lr: 0.12 } },
      { id: "0:1", trial: 0, member: 0, generation: 2, step: 8, params: { lr: 0.15 } },
    ],
    edges: [
      { from: "0:0", to: "1:1", kind: "exploit" as const },
      { from: "1:1", to: "0:1", kind: "exploit" as const },
    ],
  },
  trajectories: [0, 1].map((trial) => ({
    trial,
    entries: [{ step: null, value: null, params: { lr: 0.1 * (trial + 1) } }, ...[1, 2, 3].map((step) => ({ step, value: 1 / step, params: { lr: 0.1 * (trial + 1) * 0.9 ** step } }))],
  })),
};

const dataOf = (spec: Record<string, unknown>): Rows => (spec.data as { values: Rows }).values;

async function keep(name: string, png: Buffer): Promise<void> {
  const dir = process.env.PLOT_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.png`), png);
}

// Generous limits: they only catch hangs (rendering takes seconds on a busy machine).
describe("renderPlot", { timeout: 240_000 }, () => {
  it("renders every kind as a non-blank PNG within the size cap", async () => {
    const { study, trials } = mixedStudy();
    const mo = moStudy(2);
    for (const kind of PLOT_KINDS) {
      // The Pareto front and the hypervolume history need two objectives; every other kind draws the one-objective study.
      const plot = kind === "pareto_front" || kind === "hypervolume_history" ? await renderPlot(kind, mo.study, mo.trials) : await renderPlot(kind, study, trials, { readModels: READ_MODELS });
      await keep(kind, plot.png);
      const size = pngSize(plot.png);
      expect(size, kind).toEqual({ width: plot.width, height: plot.height });
      expect(size.width, kind).toBeLessThanOrEqual(MAX_PNG_WIDTH);
      expect(size.height, kind).toBeLessThanOrEqual(MAX_PNG_HEIGHT);
      expect(size.width, kind).toBeGreaterThan(300);
      const ink = inkShare(decodePng(plot.png));
      expect(ink, kind).toBeGreaterThan(0.01);
      expect(ink, kind).toBeLessThan(0.9);
      expect(plot.caption.length, kind).toBeGreaterThan(40);
    }
  });

  it("keeps parallel coordinates and slices of a 30-parameter study within 1600 x 1000", async () => {
    const rng = new Rng(3);
    const space: Record<string, Distribution> = {};
    for (let k = 0; k < 30; k++) space[`param_${k}`] = { type: "float", low: 0, high: 1 };
    const trials = Array.from({ length: 80 }, (_, i) => {
      const p: Params = {};
      for (const k of Object.keys(space)) p[k] = rng.uniform(0, 1);
      return trial(i, "COMPLETE", p, space, (p.param_7 as number) * 3 + (p.param_21 as number) + rng.uniform(0, 0.1));
    });
    const study = studyView("wide", space);
    for (const kind of ["parallel_coordinates", "slice"] as const) {
      const { caption } = plotSpec(kind, study, trials);
      expect(caption).toMatch(/most important of 30 parameters/);
      const plot = await renderPlot(kind, study, trials);
      await keep(`wide-${kind}`, plot.png);
      expect(plot.width).toBeLessThanOrEqual(MAX_PNG_WIDTH);
      expect(plot.height).toBeLessThanOrEqual(MAX_PNG_HEIGHT);
    }
    // The default axes are the important parameters.
    const { axes } = chooseParams("parallel_coordinates", study, trials, {});
    expect(axes.slice(0, 2).map((a) => a.name).sort()).toEqual(["param_21", "param_7"]);
    const sixteen = await renderPlot("parallel_coordinates", study, trials, { params: Object.keys(space).slice(0, 16) });
    expect(sixteen.width).toBeLessThanOrEqual(MAX_PNG_WIDTH);
  });

  it("tells the Pareto front, dominated and infeasible trials apart, and draws the hypervolume history", async () => {
    const { study, trials } = moStudy(2);
    const { spec, caption } = plotSpec("pareto_front", study, trials);
    const rows = dataOf(spec);
    const kindOf = (n: number) => rows.find((r) => r.trial === n)?.kind;
    for (const t of trials) {
      if (t.feasible === false) expect(kindOf(t.number), `trial ${t.number}`).toBe("infeasible");
      else if (t.number % 2 === 1) expect(kindOf(t.number), `trial ${t.number}`).toBe("dominated");
      else expect(kindOf(t.number), `trial ${t.number}`).toBe("Pareto front");
    }
    expect(caption).toMatch(/infeasible/);
    const h = plotSpec("hypervolume_history", study, trials);
    const levels = dataOf(h.spec).map((r) => r.hv as number);
    expect(levels.length).toBeGreaterThan(2);
    for (let i = 1; i < levels.length; i++) expect(levels[i]).toBeGreaterThanOrEqual(levels[i - 1] as number);
    expect(h.caption).toMatch(/derived reference point/);
    // Three objectives: a scatter matrix of every pair; the front is the one in all three
    // objectives (objective 2 = 1 − x trades off against objective 0 = x, so every feasible
    // trial is on it, though the odd ones look dominated in the plane of objectives 0 and 1).
    const three = plotSpec("pareto_front", moStudy(3).study, moStudy(3).trials);
    expect(three.caption).toMatch(/scatter matrix of every pair of its 3 objectives/);
    const names = ["objective 0 (minimize)", "objective 1 (maximize)", "objective 2 (minimize)"];
    const cells = (three.spec.vconcat as { hconcat: { encoding: { x: { field: string }; y: { field: string } } }[] }[]).map((r) => r.hconcat.map((c) => [c.encoding.y.field, c.encoding.x.field]));
    expect(cells).toEqual(names.map((row) => names.map((column) => [row, column])));
    const rows3 = dataOf(three.spec);
    const feasible3 = moStudy(3).trials.filter((t) => t.feasible);
    expect(rows3.filter((r) => r.kind === "Pareto front").map((r) => r.trial)).toEqual(feasible3.map((t) => t.number));
    expect(rows3.filter((r) => r.kind === "dominated")).toHaveLength(0);
    expect(rows3.find((r) => r.trial === 5)?.["objective 2 (minimize)"]).toBe((moStudy(3).trials[5] as TrialView).values?.[2]);
    const five = plotSpec("pareto_front", moStudy(5).study, moStudy(5).trials);
    expect(five.caption).toMatch(/objectives 0 to 3 \(of 5\)/);
    expect(five.spec.vconcat as unknown[]).toHaveLength(4);
    const plot = await renderPlot("pareto_front", moStudy(3).study, moStudy(3).trials);
    await keep("pareto_front_3", plot.png);
    expect(inkShare(decodePng(plot.png))).toBeGreaterThan(0.01);
    expect(plot.width).toBeLessThanOrEqual(MAX_PNG_WIDTH);
    expect(() => plotSpec("pareto_front", mixedStudy().study, mixedStudy().trials)).toThrow(/one objective/);
    // Optuna's plot_hypervolume_history refuses one objective: its "hypervolume" is the best value so far.
    expect(() => plotSpec("hypervolume_history", mixedStudy().study, mixedStudy().trials)).toThrow(/has one objective \(\w+\): a hypervolume history needs two or more .* plot history \(the optimization history\) instead/);
  });

  it("refuses, on a study with several objectives, the kinds that draw one value per trial, naming those that do draw it", () => {
    const mo = moStudy(2);
    for (const kind of PLOT_KINDS) {
      const draw = () => plotSpec(kind, mo.study, mo.trials, { readModels: READ_MODELS });
      if (["history", "parallel_coordinates", "slice", "contour", "edf", "importances"].includes(kind))
        expect(draw, kind).toThrow(
          new RegExp(`has 2 objectives \\(.*\\): ${["edf", "importances"].includes(kind) ? "an" : "a"} ${kind} plot draws one value per trial; plot pareto_front, hypervolume_history or intermediate_values`),
        );
      else if (kind === "pareto_front" || kind === "hypervolume_history") expect(draw().caption, kind).toContain("mo");
    }
  });

  it("accepts the short kind names and refuses unknown ones", () => {
    expect(parsePlotKind("parallel")).toBe("parallel_coordinates");
    expect(parsePlotKind("intermediate")).toBe("intermediate_values");
    expect(() => parsePlotKind("pie")).toThrow(/valid kinds: history/);
  });
});

describe("withoutTooltips", () => {
  it("drops every tooltip of a spec for a PNG and leaves its data alone", () => {
    const rows = [{ trial: 1, tooltip: "a field of the data" }];
    const spec = {
      data: { values: rows },
      mark: { type: "point", tooltip: true },
      encoding: { x: { field: "trial" }, tooltip: [{ field: "trial" }] },
      layer: [{ encoding: { y: { field: "v" }, tooltip: { field: "v" } } }],
      config: { mark: { tooltip: true } },
    };
    const png = withoutTooltips(spec);
    expect(JSON.stringify(png)).not.toMatch(/"tooltip":(true|\[|\{)/);
    expect(png).toEqual({
      data: { values: rows },
      mark: { type: "point" },
      encoding: { x: { field: "trial" } },
      layer: [{ encoding: { y: { field: "v" } } }],
      config: { mark: {} },
    });
    expect((png.data as { values: unknown }).values).toBe(rows);
    expect(spec.encoding.tooltip).toHaveLength(1); // the spec given is not changed
  });
});

describe("history", () => {
  it("shows pruned and failed trials, each in its own series", () => {
    const { study, trials } = mixedStudy();
    const rows = dataOf(plotSpec("history", study, trials).spec);
    const pruned = trials.find((t) => t.state === "PRUNED") as TrialView;
    const failed = trials.find((t) => t.state === "FAIL") as TrialView;
    const pr = rows.find((r) => r.trial === pruned.number && r.layer === "point");
    expect(pr?.series).toBe("pruned");
    // Drawn at its last report, since it has no value.
    expect(pr?.value).toBe(pruned.intermediate.at(-1)?.[1]);
    expect(rows.find((r) => r.trial === failed.number)).toMatchObject({ layer: "rug", series: "failed" });
    const finished = trials.filter((t) => t.state !== "RUNNING").length;
    expect(new Set(rows.filter((r) => r.layer !== "best").map((r) => r.trial)).size).toBe(finished);
  });

  it("keeps the y-range on the interesting band despite two diverged runs, and says so", () => {
    const { study, trials } = mixedStudy();
    const { spec, caption } = plotSpec("history", study, trials);
    const layer0 = (spec.layer as Record<string, any>[])[0];
    const [lo, hi] = layer0?.encoding.y.scale.domain as [number, number];
    expect(hi).toBeLessThan(10);
    const ok = trials.filter((t) => t.state === "COMPLETE" && (t.value as number) < 100).map((t) => t.value as number);
    expect(lo).toBeLessThanOrEqual(Math.min(...ok));
    expect(caption).toMatch(/2 trials beyond the y-range/);
    const far = dataOf(spec).filter((r) => r.value === 1e6);
    expect(far.map((r) => r.position)).toEqual(["off the scale (at edge)", "off the scale (at edge)"]);
    expect(far.every((r) => r.y === hi)).toBe(true);
  });

  it("has a log-scale option that refuses non-positive values", () => {
    const { study, trials } = mixedStudy();
    const { spec } = plotSpec("history", study, trials, { logY: true });
    expect((spec.layer as Record<string, any>[])[0]?.encoding.y.scale.type).toBe("log");
    const neg = trials.map((t) => (t.number === 0 ? { ...t, value: -1 } : t));
    expect(() => plotSpec("history", study, neg, { logY: true })).toThrow(/log_y needs positive/);
  });

  it("lists only the series that occur", () => {
    const { study, trials } = mixedStudy();
    const complete = trials.filter((t) => t.state === "COMPLETE" && t.system_attrs.enqueued !== true);
    const spec = plotSpec("history", study, complete).spec;
    expect((spec.layer as Record<string, any>[])[0]?.encoding.color.scale.domain).toEqual(["complete"]);
  });
});

describe("intermediate values", { timeout: 240_000 }, () => {
  it("has a robust y-range, integer step ticks and a legend of the states present", () => {
    const { study, trials } = mixedStudy();
    const { spec, caption } = plotSpec("intermediate_values", study, trials);
    const enc = spec.encoding as Record<string, any>;
    expect(enc.y.scale.domain[1]).toBeLessThan(10);
    expect(caption).toMatch(/1 values beyond the y-range/);
    expect(enc.x.axis).toEqual({ tickMinStep: 1, format: "d" });
    expect(enc.color.scale.domain).toEqual(["COMPLETE", "PRUNED", "FAIL"]);
    const frac = trials.map((t) => ({ ...t, intermediate: t.intermediate.map(([s, v]) => [s + 0.5, v] as [number, number]) }));
    expect((plotSpec("intermediate_values", study, frac).spec.encoding as Record<string, any>).x.axis).toBeUndefined();
  });

  it("samples studies with more than 200 curves and says so instead of dropping trials silently", () => {
    const { study, trials } = mixedStudy(500);
    const { spec, caption } = plotSpec("intermediate_values", study, trials);
    const drawn = new Set(dataOf(spec).map((r) => r.trial));
    expect(drawn.size).toBe(MAX_CURVES);
    expect(caption).toMatch(/Showing 200 of 500 trials: the 50 best and 150 evenly spaced/);
    // The best trial and the first and last trials are among them.
    const best = trials.filter((t) => t.state === "COMPLETE").sort((a, b) => (a.value as number) - (b.value as number))[0] as TrialView;
    expect(drawn.has(best.number)).toBe(true);
    expect(drawn.has(0) && drawn.has(499)).toBe(true);
  });
});

describe("parallel coordinates", () => {
  it("labels axes with real values, categorical choices included, and skips absent conditional params", () => {
    const { study, trials } = mixedStudy();
    const { spec, caption } = plotSpec("parallel_coordinates", study, trials, { params: ["lr", "dropout", "act", "layers"] });
    const rows = dataOf(spec);
    const ticks = (x: number) => rows.filter((r) => r.layer === "tick" && r.x === x).map((r) => r.label);
    expect(ticks(0)).toEqual(["1e-5", "1e-4", "1e-3", "0.01", "0.1"]);
    expect(ticks(2)).toEqual(["relu", "gelu", "a-very-long-a…"]);
    expect(ticks(3)).toEqual(["1", "2", "3", "4"]);
    expect(rows.filter((r) => r.layer === "axis").map((r) => r.title)).toEqual(["lr", "dropout", "act", "layers", "objective"]);
    // A trial without dropout has no point on its axis: its line jumps from lr to act, dashed.
    const without = trials.find((t) => t.state === "COMPLETE" && t.params.dropout === undefined) as TrialView;
    const segs = rows.filter((r) => r.layer === "line" && r.trial === without.number);
    expect(segs.map((s) => [s.x, s.x2])).toEqual([[0, 2], [2, 3], [3, 4]]);
    expect(segs[0]?.gap).toBe("skips an unused parameter");
    expect(segs.some((s) => s.x === 1 || s.x2 === 1)).toBe(false);
    expect(caption).toMatch(/Dashed segments skip a parameter/);
    // Solid segments carry no dash array at all (a "1,0" one made resvg draw them dash by dash,
    // twice the render time), and only layers with segments exist (an empty one fails axe).
    const lineLayers = (spec.layer as { transform: { filter: string }[]; mark: Record<string, unknown> }[]).filter((l) => l.transform[0]?.filter.includes("'line'"));
    expect(lineLayers.map((l) => l.mark.strokeDash ?? null)).toEqual([null, [4, 3]]);
    const solidOnly = plotSpec("parallel_coordinates", study, trials, { params: ["lr", "act", "layers"] }).spec;
    expect((solidOnly.layer as { transform: { filter: string }[]; mark: Record<string, unknown> }[]).filter((l) => l.transform[0]?.filter.includes("'line'")).map((l) => l.mark.strokeDash ?? null)).toEqual([null]);
  });

  it("flags importances that rest on few trials, and only those", () => {
    const few = mixedStudy(20);
    const fewSpec = plotSpec("importances", few.study, few.trials);
    expect(fewSpec.caption).toMatch(/Few trials \(under 30\)/);
    expect(JSON.stringify(fewSpec.spec)).toMatch(/only \d+ trials/);
    const many = mixedStudy(80);
    expect(plotSpec("importances", many.study, many.trials).caption).not.toMatch(/Few trials/);
  });

  it("draws the most important parameters only, and says how many there are", () => {
    const many = mixedStudy(80);
    const n = MAX_IMPORTANCE_BARS + 25;
    const imp = {
      ...paramImportances(many.trials),
      importances: Array.from({ length: n }, (_, i) => ({ param: `p${i}`, importance: (n - i) / (n * n), score: (n - i) / (n * n), n: 80 })),
    };
    const { spec, caption } = plotSpec("importances", many.study, many.trials, {}, imp);
    const rows = (spec.data as { values: { param: string }[] }).values;
    expect(rows.map((r) => r.param)).toEqual(imp.importances.slice(0, MAX_IMPORTANCE_BARS).map((i) => i.param));
    expect(caption).toMatch(new RegExp(`The ${MAX_IMPORTANCE_BARS} most important of ${n} parameters are shown`));
    expect(plotSpec("importances", many.study, many.trials).caption).not.toMatch(/most important of/);
  });

  it("refuses unknown parameters, naming the known ones", () => {
    const { study, trials } = mixedStudy();
    expect(() => plotSpec("parallel_coordinates", study, trials, { params: ["nope"] })).toThrow(/unknown parameter\(s\) nope; the study has lr, layers, act, dropout/);
  });
});

describe("slice and contour", { timeout: 240_000 }, () => {
  it("slice draws one panel per parameter with the trials that used it", () => {
    const { study, trials } = mixedStudy();
    const { spec } = plotSpec("slice", study, trials, { params: ["lr", "dropout"] });
    expect((spec.concat as unknown[]).length).toBe(2);
    const rows = dataOf(spec);
    const withDropout = trials.filter((t) => t.state === "COMPLETE" && t.params.dropout !== undefined).length;
    expect(rows.filter((r) => r.param === "dropout").length).toBe(withDropout);
    expect(rows.filter((r) => r.param === "lr").length).toBe(trials.filter((t) => t.state === "COMPLETE").length);
  });

  it("renders slice and contour of a categorical parameter with 10,000 choices (the most a space may declare)", async () => {
    const space: Record<string, Distribution> = { c: { type: "categorical", choices: Array.from({ length: 10_000 }, (_, i) => i) }, x: { type: "float", low: 0, high: 1 } };
    const trials = [0, 1, 2, 3, 4].map((i) => trial(i, "COMPLETE", { c: i * 37, x: i / 5 }, space, i));
    for (const kind of ["slice", "contour"] as const) {
      // A `sort` of every choice compiled to an expression whose parser overflowed the stack.
      const plot = await renderPlot(kind, studyView("wide-categorical", space), trials);
      expect(pngSize(plot.png).width, kind).toBeGreaterThan(300);
    }
  });

  it("contour of two 10,000-choice categoricals has a cell exactly where a trial sits", () => {
    // Their kernels are exact matches: the cells are the trials' (c, d) pairs. Every choice pair
    // was visited before (10^8 cells × the trials: over a minute on the server's thread).
    const many = (prefix: string) => ({ type: "categorical" as const, choices: Array.from({ length: 10_000 }, (_, i) => `${prefix}${i}`) });
    const space: Record<string, Distribution> = { c: many("c"), d: many("d") };
    const trials = Array.from({ length: 30 }, (_, i) => trial(i, "COMPLETE", { c: `c${(i * 337) % 10_000}`, d: `d${(i * 7) % 5}` }, space, i));
    const { spec } = plotSpec("contour", studyView("two-wide", space), trials);
    const cellsDrawn = dataOf(spec).filter((r) => r.layer === "cell").map((r) => `${r.xc}|${r.yc}`);
    expect(new Set(cellsDrawn)).toEqual(new Set(trials.map((t) => `${t.params.c}|${t.params.d}`)));
  });

  it("contour smooths toward the trials' values and leaves cells far from every trial blank", () => {
    const space: Record<string, Distribution> = { a: { type: "float", low: 0, high: 1 }, b: { type: "float", low: 0, high: 1 } };
    // Trials only in the left half, objective = b.
    const rng = new Rng(5);
    const trials = Array.from({ length: 40 }, (_, i) => {
      const p = { a: rng.uniform(0, 0.3), b: rng.uniform(0, 1) };
      return trial(i, "COMPLETE", p, space, p.b);
    });
    const { spec } = plotSpec("contour", studyView("c", space), trials, { params: ["a", "b"] });
    const cells = dataOf(spec).filter((r) => r.layer === "cell") as { x0: number; y0: number; y1: number; value: number }[];
    expect(cells.some((c) => c.x0 > 0.9)).toBe(false);
    expect(cells.some((c) => c.x0 < 0.1)).toBe(true);
    const low = cells.filter((c) => c.y1 <= 0.25).map((c) => c.value);
    const high = cells.filter((c) => c.y0 >= 0.75).map((c) => c.value);
    expect(Math.max(...low)).toBeLessThan(Math.min(...high));
  });

  it("contour draws every pair of the named parameters, categorical ones included", async () => {
    const { study, trials } = mixedStudy();
    const { spec } = plotSpec("contour", study, trials, { params: ["lr", "layers", "act"] });
    expect((spec.concat as unknown[]).length).toBe(3);
    const plot = await renderPlot("contour", study, trials, { params: ["lr", "layers", "act"] });
    await keep("contour-3", plot.png);
    expect(inkShare(decodePng(plot.png))).toBeGreaterThan(0.05);
  });
});

describe("helpers", () => {
  it("robustRange keeps the best value and fences off far-out ones", () => {
    const r = robustRange([1, 1.1, 1.2, 1.3, 1.25, 1.15, 1.05, 1.22, 1.08, 1.18, 1000, 2000], { keep: [0.5] });
    expect(r.lo).toBeLessThan(0.5);
    expect(r.hi).toBeLessThan(2);
    expect(r.outside).toBe(2);
  });

  it("ticks and ranges stay finite and few at the ends of the doubles", () => {
    const M = Number.MAX_VALUE;
    const cases: [number, number][] = [[2 ** 53, 2 ** 53 + 4], [0.95 * M, M], [-M, M], [5e-324, 123.456], [1, 1 + 2 ** -52], [0, 5e-324]];
    for (const [lo, hi] of cases) {
      for (const ticks of [niceTicks(lo, hi), niceTicks(lo, hi, 5, true), logTicks(Math.max(lo, 5e-324), hi)]) {
        expect(ticks.length, `${lo}..${hi}`).toBeGreaterThan(0);
        expect(ticks.length, `${lo}..${hi}`).toBeLessThanOrEqual(50);
        for (const t of ticks) expect(Number.isFinite(t), `${lo}..${hi}: ${t}`).toBe(true);
      }
    }
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]); // the usual case unchanged
    expect(logTicks(1e-5, 1e-1).map((t) => Math.round(Math.log10(t)))).toEqual([-5, -4, -3, -2, -1]);
    for (const values of [[M], [M, -M], [-M, 1, 2, 3, 4]]) {
      const r = robustRange(values);
      expect(Number.isFinite(r.lo) && Number.isFinite(r.hi) && r.hi > r.lo, String(values)).toBe(true);
    }
  });

  it("draws a spread of subnormal values as one value, which vega's ticks can handle", async () => {
    const r = robustRange(Array.from({ length: 2000 }, (_, k) => k * 5e-324));
    expect(r.hi - r.lo).toBeGreaterThanOrEqual(1e-290);
    // vega threw "Invalid array length" on such an axis and printed its stack trace.
    const logged = [vi.spyOn(console, "error"), vi.spyOn(console, "warn"), vi.spyOn(console, "log")];
    try {
      const space: Record<string, Distribution> = { x: { type: "float", low: 0, high: 1 } };
      const curve = Array.from({ length: 2000 }, (_, k) => [k, k * 5e-324] as [number, number]);
      const plot = await renderPlot("intermediate_values", studyView("tiny", space), [trial(0, "COMPLETE", { x: 0.5 }, space, 1, curve)]);
      expect(pngSize(plot.png).width).toBeGreaterThan(300);
      for (const spy of logged) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of logged) spy.mockRestore();
    }
  });

  it("draws slice and contour charts of a parameter declared over a subnormal span, log or not", async () => {
    for (const log of [false, true]) {
      const space: Record<string, Distribution> = { x: { type: "float", low: 5e-324, high: 1e-323, log }, y: { type: "float", low: 0, high: 1 } };
      const trials = Array.from({ length: 12 }, (_, i) => trial(i, "COMPLETE", { x: i % 2 ? 5e-324 : 1e-323, y: (i * 0.37) % 1 }, space, i % 7));
      for (const kind of ["slice", "contour"] as const) {
        const plot = await renderPlot(kind, studyView("subnormal", space), trials);
        expect(pngSize(plot.png).width, `${kind} log=${log}`).toBeGreaterThan(300);
      }
    }
  });

  it("refuses to rasterise a chart Vega failed to lay out", async () => {
    // Vega logs the failed step and writes an SVG anyway; resvg panicked on one (an abort of the
    // whole process). A domain this narrow, given explicitly, still makes Vega fail.
    const spec = {
      data: { values: [{ x: 5e-324, y: 1 }, { x: 1e-323, y: 2 }] },
      mark: "point",
      encoding: { x: { field: "x", type: "quantitative", scale: { domain: [5e-324, 1e-323], nice: false } }, y: { field: "y", type: "quantitative" } },
    };
    const err = await renderVegaLite(spec).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TuneportError);
    expect((err as TuneportError).code).toBe("INVALID_ARGUMENT");
    expect((err as TuneportError).message).toMatch(/cannot be drawn.*Invalid array length/);
  });

  it("builds every kind's spec for studies of extreme values", () => {
    const M = Number.MAX_VALUE;
    const space: Record<string, Distribution> = { x: { type: "float", low: 2 ** 53, high: 2 ** 53 + 4 }, y: { type: "float", low: -M / 2, high: M / 2 } };
    for (const values of [[M], [M, -M], [5e-324, 123.456, 1], [1e308, -1e308, 0], [1, 1 + 2 ** -52, 1]]) {
      const trials = values.map((v, i) => trial(i, "COMPLETE", { x: 2 ** 53 + (i % 3), y: i * 1e300 }, space, v, [[1, v]]));
      for (const kind of PLOT_KINDS.filter((k) => !["pareto_front", "hypervolume_history", "lineage", "trajectories"].includes(k)))
        for (const logY of [false, true]) {
          // A TuneportError (too few trials for importances, no positive value on a log axis) is an
          // answer; anything else would reach the client as INTERNAL.
          try {
            JSON.stringify(plotSpec(kind, studyView("extreme", space), trials, { logY }));
          } catch (e) {
            expect(e, `${kind} ${values} logY=${logY}`).toBeInstanceOf(TuneportError);
          }
        }
    }
  });

  it("sampleTrials keeps every trial while they fit", () => {
    const { study, trials } = mixedStudy(30);
    expect(sampleTrials(trials, 200, study.direction).trials.length).toBe(30);
  });

  it("paramAxis places categorical choices in slots and numeric values by their scale", () => {
    const a = paramAxis("lr", SPACE.lr as Distribution);
    expect(a.pos(1e-3)).toBeCloseTo(0.5, 10);
    expect(a.pos(undefined)).toBeNull();
    const c = paramAxis("act", SPACE.act as Distribution);
    expect(c.pos("gelu")).toBeCloseTo(0.5, 10);
    expect(c.pos("swish")).toBeNull();
  });
});

// Not a test of values: makes sure `PlotKind` and `PLOT_KINDS` stay in step.
const _kinds: readonly PlotKind[] = PLOT_KINDS;
void _kinds;
