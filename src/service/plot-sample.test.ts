import { describe, expect, it } from "vitest";
import type { Direction, TrialState } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import { MAX_LINES } from "./plot-params.js";
import { MAX_CURVES, MAX_HISTORY_POINTS, MAX_POINTS_PER_CURVE } from "./plot-trials.js";
import { paretoFront } from "../domain/objectives.js";
import { buildAggregates, frontRecordsOf } from "./aggregates.js";
import { MAX_PARETO_POINTS, bestAndSpaced, kthSmallest, plotInput } from "./plot-sample.js";
import { plotSpec } from "./plots.js";
import type { TrialRecord } from "./study-state.js";
import { type StudyView, trialView } from "./views.js";

const DIST = { type: "float", low: 0, high: 1 } as const;

/** `n` records of a 2-parameter study: mostly COMPLETE, some PRUNED (with a report) and FAIL. */
function records(n: number, seed: number): TrialRecord[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, (_, number) => {
    const u = r.random();
    const state: TrialState = u < 0.1 ? "FAIL" : u < 0.2 ? "PRUNED" : "COMPLETE";
    const x = r.random();
    const y = r.random();
    const value = state === "COMPLETE" ? (x - 0.3) ** 2 + 0.1 * y + 0.05 * r.random() : null;
    return {
      id: number + 1, studyId: 1, number, state, params: { x, y }, distributions: { x: DIST, y: DIST },
      values: value === null ? null : [value], value, constraints: null,
      intermediate: state === "PRUNED" ? [{ step: 0, value: 1 + r.random() }] : [],
      userAttrs: {}, systemAttrs: {}, createdAt: number * 1000, startedAt: number * 1000, finishedAt: number * 1000 + 500, lease: null,
    };
  });
}

function countsOf(ts: readonly TrialRecord[]): Record<TrialState, number> {
  const c: Record<TrialState, number> = { WAITING: 0, RUNNING: 0, COMPLETE: 0, PRUNED: 0, FAIL: 0 };
  for (const t of ts) c[t.state]++;
  return c;
}

const study = (n: number, counts: Record<TrialState, number>) =>
  ({
    name: "big", direction: "minimize", directions: ["minimize"], reference_point: null, space: { x: DIST, y: DIST },
    strategy: { name: "random", options: {} }, scheduler: null, seed: 1, retry: { max_retries: 0, retry_on_fail: false, keep_intermediate: false },
    lease_ttl_s: 60, max_trials: null, max_resource: null, stopped: false, user_attrs: {}, created_at: 0, n_trials: n, counts, best_trial: null,
  }) as unknown as StudyView;

/** Every trial, in number order, whose value is a new best among the COMPLETE trials before it (the reference the history sample must keep). */
function recordSetters(trials: readonly TrialRecord[], direction: Direction): TrialRecord[] {
  const out: TrialRecord[] = [];
  let best: number | null = null;
  for (const t of trials) {
    if (t.state !== "COMPLETE" || typeof t.value !== "number" || !Number.isFinite(t.value)) continue;
    const v = t.value as number;
    if (best === null || (direction === "minimize" ? v < best : v > best)) {
      best = v;
      out.push(t);
    }
  }
  return out;
}

describe("plots of big studies read a bounded sample chosen on the server", () => {
  it("history: at most MAX_HISTORY_POINTS trials, every new best kept, so the best-so-far line is the full study's (3 seeds)", () => {
    for (const seed of [1, 2, 3]) {
      const all = records(3 * MAX_HISTORY_POINTS, seed);
      const counts = countsOf(all);
      const input = plotInput("history", all, "minimize", counts);
      expect(input.trials.length).toBeLessThanOrEqual(MAX_HISTORY_POINTS);
      const kept = new Set(input.trials.map((t) => t.number));
      const setters = recordSetters(all, "minimize");
      expect(setters.length).toBeGreaterThan(3);
      for (const t of setters) expect(kept.has(t.number)).toBe(true);
      const bestLine = (ts: readonly TrialRecord[], opts = {}) => {
        const p = plotSpec("history", study(all.length, counts), ts.map((t) => trialView(t, 0)), opts);
        const rows = (p.spec.data as { values: { layer: string; trial: number; best?: number }[] }).values;
        return { caption: p.caption, line: rows.filter((r) => r.layer === "best").map((r) => [r.trial, r.best]).slice(0, -1) };
      };
      const full = bestLine(all);
      const part = bestLine(input.trials, input.opts);
      // The line's steps (all but its closing point, the last complete trial drawn) are the same.
      expect(part.line).toEqual(full.line);
      expect(part.caption).toContain(`${counts.COMPLETE} complete trials`);
      expect(part.caption).toContain(`Drawn from ${input.trials.length} of the study's ${counts.COMPLETE + counts.PRUNED + counts.FAIL} finished trials`);
    }
  });

  it("parallel coordinates: the same lines as sampling every trial's view, and the caption says so", () => {
    const all = records(4 * MAX_LINES, 7);
    const counts = countsOf(all);
    const input = plotInput("parallel_coordinates", all, "minimize", counts);
    expect(input.trials.length).toBe(MAX_LINES);
    const opts = { params: ["x", "y"] };
    const full = plotSpec("parallel_coordinates", study(all.length, counts), all.map((t) => trialView(t, 0)), opts);
    const part = plotSpec("parallel_coordinates", study(all.length, counts), input.trials.map((t) => trialView(t, 0)), { ...opts, ...input.opts });
    expect(part.spec.data).toEqual(full.spec.data);
    expect(part.caption).toContain(`Drawn from ${MAX_LINES} of the study's ${counts.COMPLETE} complete trials`);
  });

  it("small studies and other kinds read every trial; importances send none", () => {
    const all = records(300, 2);
    const counts = countsOf(all);
    expect(plotInput("history", all, "minimize", counts)).toEqual({ trials: all.filter((t) => t.state !== "RUNNING" && t.state !== "WAITING"), opts: {} });
    expect(plotInput("edf", all, "minimize", counts).trials).toBe(all);
    const imp = plotInput("importances", all, "minimize", counts);
    expect(imp.trials).toEqual([]);
    expect(imp.opts.importances?.importances[0]?.param).toBe("x");
  });

  it("bestAndSpaced: the best quarter (ties: lower number), the kept ones, the rest evenly spaced; maximize flips", () => {
    const mk = (values: number[]) => records(values.length, 1).map((t, i) => ({ ...t, state: "COMPLETE" as const, value: values[i] as number }));
    const pool = mk([5, 1, 1, 1, 9, 8, 7, 6, 5, 4, 3, 2]);
    const lo = bestAndSpaced(pool, 4, "minimize").map((t) => t.number);
    expect(lo).toContain(1); // the best quarter of 4 is 1 trial: the first of the three 1s
    expect(lo).not.toContain(2);
    expect(lo.length).toBe(4);
    expect(lo).toContain(0); // evenly spaced over the rest keeps its ends
    expect(lo).toContain(11);
    const hi = bestAndSpaced(pool, 4, "maximize").map((t) => t.number);
    expect(hi).toContain(4);
    const kept = bestAndSpaced(pool, 4, "minimize", [pool[6] as TrialRecord]).map((t) => t.number);
    expect(kept).toContain(6);
    expect(kept.length).toBe(4);
  });

  it("intermediate values: at most MAX_CURVES curves of at most MAX_POINTS_PER_CURVE points reach the renderer, and the chart is the full study's", () => {
    // 100 trials of 50,000 reports were all made views and copied to the plot worker: 10 s on the event loop.
    const r = new Rng(5);
    const all = records(3 * MAX_CURVES, 4).map((t, i) => {
      const n = i % 7 === 0 ? 0 : i % 3 === 0 ? 40 : 2 * MAX_POINTS_PER_CURVE + i;
      const intermediate = Array.from({ length: n }, (_, step) => ({ step, value: step % 97 === 5 ? NaN : 1 / (1 + step) + r.random() }));
      return { ...t, intermediate };
    });
    const counts = countsOf(all);
    const input = plotInput("intermediate_values", all, "minimize", counts);
    expect(input.trials.length).toBe(MAX_CURVES);
    for (const t of input.trials) expect(t.intermediate.length).toBeLessThanOrEqual(MAX_POINTS_PER_CURVE);
    const spec = (ts: readonly TrialRecord[], opts = {}) => plotSpec("intermediate_values", study(all.length, counts), ts.map((t) => trialView(t, 0)), opts);
    const full = spec(all);
    const sampled = spec(input.trials, input.opts);
    expect(sampled.caption).toBe(full.caption);
    expect(full.caption).toMatch(/Showing 200 of \d+ trials.*curves longer than 300 points are thinned.*non-finite values/);
    expect(sampled.spec).toEqual(full.spec);
  });
});

/** bestAndSpaced as first written (Sets and a full sort): the reference the typed-array version must match. */
function referenceBestAndSpaced(pool: readonly TrialRecord[], max: number, direction: "minimize" | "maximize", keep: readonly TrialRecord[]): TrialRecord[] {
  if (pool.length <= max) return [...pool];
  const sign = direction === "minimize" ? 1 : -1;
  const valued = pool.filter((t) => t.state === "COMPLETE" && typeof t.value === "number" && Number.isFinite(t.value));
  const nBest = Math.min(valued.length, Math.ceil(max / 4));
  const chosen = new Set<number>(keep.map((t) => t.number));
  const sorted = valued.map((t) => sign * (t.value as number)).sort((a, b) => a - b);
  if (nBest > 0) {
    const cut = sorted[nBest - 1] as number;
    let atCut = nBest - sorted.indexOf(cut);
    for (const t of valued) {
      const v = sign * (t.value as number);
      if (v < cut) chosen.add(t.number);
      else if (v === cut && atCut-- > 0) chosen.add(t.number);
    }
  }
  const rest = pool.filter((t) => !chosen.has(t.number));
  const m = Math.max(0, max - chosen.size);
  const spaced = rest.length <= m ? rest : m <= 1 ? rest.slice(0, m) : Array.from({ length: m }, (_, i) => rest[Math.round((i * (rest.length - 1)) / (m - 1))] as TrialRecord);
  for (const t of spaced) chosen.add(t.number);
  return pool.filter((t) => chosen.has(t.number));
}

describe("bestAndSpaced", () => {
  it("chooses exactly what the Set-and-sort reference chooses: ties at the cut, kept trials, both directions (300 random cases)", () => {
    const r = new Rng(5);
    let sampled = 0;
    for (let c = 0; c < 300; c++) {
      const n = 1 + Math.floor(r.random() * 2500);
      const pool = records(n, c).map((t) => (t.value !== null && r.random() < 0.3 ? { ...t, value: Math.floor(t.value * 20) / 20 } : t)); // ties
      const max = 1 + Math.floor(r.random() * 500);
      const keep = pool.filter(() => r.random() < 0.02);
      const dir = c % 2 === 0 ? "minimize" : "maximize";
      const got = bestAndSpaced(pool, max, dir, keep).map((t) => t.number);
      expect(got, `case ${c}`).toEqual(referenceBestAndSpaced(pool, max, dir, keep).map((t) => t.number));
      if (n > max) sampled++;
    }
    expect(sampled).toBeGreaterThan(200); // most cases exercise the sampling, not the small-pool copy
  });

  it("kthSmallest is the k-th value of the sorted array, for random, sorted, reversed and tied inputs", () => {
    const r = new Rng(11);
    for (let c = 0; c < 200; c++) {
      const n = 1 + Math.floor(r.random() * 3000);
      const shape = c % 4;
      const xs = Float64Array.from({ length: n }, (_, i) =>
        shape === 0 ? r.random() : shape === 1 ? i : shape === 2 ? -i : Math.floor(r.random() * 5) - (r.random() < 0.1 ? 0 : 0.5));
      const k = 1 + Math.floor(r.random() * n);
      expect(kthSmallest(xs, k), `case ${c}`).toBe(xs.slice().sort()[k - 1]);
    }
  });

  it("matches the reference on values that rise to one peak and fall again (a shape that makes middle-pivot selections quadratic)", () => {
    const pool = records(20_000, 9).map((t, i) => (t.value === null ? t : { ...t, value: Math.sin((Math.PI * i) / 20_000) }));
    for (const dir of ["minimize", "maximize"] as const)
      expect(bestAndSpaced(pool, 2000, dir).map((t) => t.number)).toEqual(referenceBestAndSpaced(pool, 2000, dir, []).map((t) => t.number));
  });
});

describe("multi-objective plots of big studies", () => {
  const DIRS = ["minimize", "maximize"] as const;
  /** `n` COMPLETE two-objective records on a noisy trade-off, one in ten infeasible, some FAIL. */
  function moRecords(n: number, seed: number): TrialRecord[] {
    const r = new Rng(seed, "mo");
    return Array.from({ length: n }, (_, number) => {
      const failed = r.random() < 0.05;
      const x = r.random();
      const values = failed ? null : [x, -(1 - x) * (1 + r.random())]; // maximised: the second is negated
      return {
        id: number + 1, studyId: 1, number, state: failed ? "FAIL" : "COMPLETE", params: { x, y: r.random() }, distributions: { x: DIST, y: DIST },
        values, value: null, constraints: failed ? null : [r.random() < 0.1 ? 1 : -1],
        intermediate: [], userAttrs: {}, systemAttrs: {}, createdAt: number, startedAt: number, finishedAt: number + 1, lease: null,
      } satisfies TrialRecord;
    });
  }
  const moStudy = (n: number, counts: Record<TrialState, number>) => ({ ...study(n, counts), name: "mo", direction: "minimize", directions: [...DIRS] }) as unknown as StudyView;

  for (const seed of [1, 2, 3]) {
    it(`Pareto front: every front trial and an even sample of the rest; the same front as the whole study (seed ${seed})`, () => {
      const all = moRecords(3 * MAX_PARETO_POINTS, seed);
      const counts = countsOf(all);
      const agg = buildAggregates("minimize", all, [...DIRS]);
      const src = { directions: [...DIRS], records: () => frontRecordsOf(agg, all)?.records ?? null };
      const input = plotInput("pareto_front", all, "minimize", counts, src);
      const front = paretoFront([...DIRS], all).map((t) => t.number);
      expect(input.trials.length).toBeLessThanOrEqual(MAX_PARETO_POINTS);
      expect(input.trials.length).toBeGreaterThan(MAX_PARETO_POINTS - 10);
      const drawn = plotSpec("pareto_front", moStudy(all.length, counts), input.trials.map((t) => trialView(t)), input.opts);
      const full = plotSpec("pareto_front", moStudy(all.length, counts), all.map((t) => trialView(t)));
      const onFront = (spec: Record<string, unknown>) =>
        ((spec.data as { values: { trial: number; kind: string }[] }).values).filter((v) => v.kind === "Pareto front").map((v) => v.trial).sort((a, b) => a - b);
      expect(onFront(drawn.spec)).toEqual(front);
      expect(onFront(full.spec)).toEqual(front);
      expect(drawn.caption).toContain(`Drawn from ${input.trials.length} of the study's ${counts.COMPLETE} complete trials: the ${front.length} on the Pareto front`);
      // Infeasible trials are drawn too (grey), from the even sample.
      expect(input.trials.some((t) => (t.constraints?.[0] ?? 0) > 0)).toBe(true);
    });
  }

  it("hypervolume history: drawn from the record trials and the last complete one, the same chart and caption as from every trial", () => {
    for (const seed of [4, 5]) {
      const all = moRecords(5000, seed);
      const counts = countsOf(all);
      const agg = buildAggregates("minimize", all, [...DIRS]);
      const src = { directions: [...DIRS], records: () => frontRecordsOf(agg, all)?.records ?? null };
      const input = plotInput("hypervolume_history", all, "minimize", counts, src);
      expect(input.trials.length).toBeLessThan(all.length / 10);
      const drawn = plotSpec("hypervolume_history", moStudy(all.length, counts), input.trials.map((t) => trialView(t)), input.opts);
      const full = plotSpec("hypervolume_history", moStudy(all.length, counts), all.map((t) => trialView(t)));
      expect(drawn).toEqual(full);
    }
  });
});
