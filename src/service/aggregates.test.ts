import { describe, expect, it } from "vitest";
import type { Distribution } from "../domain/distributions.js";
import type { Direction, TrialState } from "../domain/trial.js";
import { bestTrial } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import { percentileSchedulerFactory } from "../schedulers/percentile/percentile-scheduler.js";
import { curveTrial, reportOf } from "../testing/fixtures.js";
import { type StudyAggregates, buildAggregates, putTrial, statsOf } from "./aggregates.js";
import type { TrialRecord } from "./study-state.js";

function record(number: number, state: TrialState, value: number | null, reports: [number, number][]): TrialRecord {
  return {
    id: number + 1,
    studyId: 1,
    number,
    state,
    params: { x: number },
    distributions: distributionsOf(number),
    value,
    values: value === null ? null : [value],
    constraints: null,
    intermediate: reports.map(([step, v]) => ({ step, value: v })),
    userAttrs: {},
    systemAttrs: {},
    createdAt: 0,
    startedAt: 0,
    finishedAt: null,
    lease: null,
  };
}

const U = { type: "float", low: 0, high: 1 } as const;
const V = { type: "float", low: 0, high: 2 } as const;

/** The distributions of trial `number`: `a` always, `b` on most, `c` on most and from V on some (so `c` leaves an intersection). */
function distributionsOf(number: number): Record<string, Distribution> {
  return { a: U, ...(number % 3 !== 0 ? { b: U } : {}), ...(number % 4 !== 0 ? { c: number % 7 === 0 ? V : U } : {}) };
}

/** A value drawn from a few levels (ties happen) or NaN now and then. */
function draw(rng: Rng): number {
  const u = rng.random();
  return u < 0.05 ? NaN : Math.round(rng.random() * 8) / 4;
}

/** The aggregates as comparable plain data. */
function plain(a: StudyAggregates): unknown {
  return {
    counts: a.counts,
    best: a.best?.number ?? null,
    steps: [...a.stepLosses.entries()].sort((x, y) => x[0] - y[0]).map(([s, xs]) => [s, xs.map(String)]),
    intersection: a.intersection === null ? null : [...a.intersection.entries()].sort(),
    finishedIntersection: a.finishedIntersection === null ? null : [...a.finishedIntersection.entries()].sort(),
    finishes: a.finishes,
  };
}

/**
 * A random life of a study: trials appended (RUNNING or WAITING), reporting, finishing in every
 * state, attributes rewritten on finished ones, and now and then a finished record turned back
 * (what a repair or an import could do): after every step the maintained aggregates must equal
 * the ones computed from scratch.
 */
function randomLife(seed: number, direction: Direction, steps: number): void {
  const rng = new Rng(seed, "aggregates");
  const trials: TrialRecord[] = [];
  const agg = buildAggregates(direction, trials);
  for (let i = 0; i < steps; i++) {
    const u = rng.random();
    const n = trials.length === 0 ? 0 : Math.floor(rng.random() * trials.length);
    const t = trials[n];
    let next: TrialRecord;
    if (u < 0.05 && t) next = { ...record(trials.length, "COMPLETE", 1, []), systemAttrs: { added: true } }; // add_trial
    else if (u < 0.25 || !t) next = record(trials.length, rng.random() < 0.8 ? "RUNNING" : "WAITING", null, []);
    else if (t.state === "WAITING" && u < 0.35) next = { ...t, state: "FAIL", systemAttrs: { cancelled: true } }; // cancel_trial
    else if (t.state === "WAITING") next = { ...t, state: "RUNNING" };
    else if (t.state === "RUNNING" && u < 0.6) {
      const last = t.intermediate[t.intermediate.length - 1]?.step ?? -1;
      next = { ...t, intermediate: [...t.intermediate, { step: last + 1 + Math.floor(rng.random() * 2), value: draw(rng) }] };
    } else if (t.state === "RUNNING") {
      const r = rng.random();
      const state: TrialState = r < 0.6 ? "COMPLETE" : r < 0.8 ? "PRUNED" : "FAIL";
      const v = Math.round(rng.random() * 8) / 4;
      next = { ...t, state, value: state === "FAIL" ? null : v };
    } else if (u < 0.9) next = { ...t, userAttrs: { touched: i } };
    else if (u < 0.93) next = { ...t, state: "WAITING", value: null, systemAttrs: {} }; // a finished record turned back
    else next = { ...t, state: "FAIL", value: null };
    putTrial(agg, trials, next);
    expect(plain(agg)).toEqual(plain(buildAggregates(direction, trials)));
    expect(agg.best).toBe(bestTrial([direction], trials));
  }
}

describe("study aggregates maintained on write", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    for (const direction of ["minimize", "maximize"] as const) {
      it(`equal the aggregates computed from scratch after every write (seed ${seed}, ${direction})`, () => {
        randomLife(seed, direction, 400);
      });
    }
  }

  it("counts, best and step losses of a small study", () => {
    const trials: TrialRecord[] = [];
    const agg = buildAggregates("maximize", trials);
    putTrial(agg, trials, record(0, "RUNNING", null, [[1, 3]]));
    putTrial(agg, trials, record(1, "COMPLETE", 5, [[1, 2], [2, 5]]));
    putTrial(agg, trials, record(2, "COMPLETE", 7, [[1, NaN]]));
    expect(agg.counts).toMatchObject({ RUNNING: 1, COMPLETE: 2, WAITING: 0 });
    expect(agg.best?.number).toBe(2);
    expect(statsOf(agg).completeCount).toBe(2);
    expect(statsOf(agg).completeLossesAt(1)).toEqual([-2, Infinity]); // maximize: negated; NaN: worst
    expect(statsOf(agg).completeLossesAt(9)).toEqual([]);
    putTrial(agg, trials, { ...(trials[2] as TrialRecord), state: "FAIL", value: null });
    expect(agg.best?.number).toBe(1);
    expect(statsOf(agg).completeLossesAt(1)).toEqual([-2]);
  });

  it("keeps the intersection of COMPLETE trials and that of COMPLETE and PRUNED ones (TPE's)", () => {
    const trials: TrialRecord[] = [];
    const agg = buildAggregates("minimize", trials);
    putTrial(agg, trials, { ...record(0, "PRUNED", 1, [[1, 1]]), distributions: { a: U, b: U } });
    expect(agg.intersection).toBeNull();
    expect([...agg.finishedIntersection!.keys()]).toEqual(["a", "b"]);
    putTrial(agg, trials, { ...record(1, "COMPLETE", 2, []), distributions: { a: U, b: V, c: U } });
    putTrial(agg, trials, { ...record(2, "FAIL", null, []), distributions: { c: U } });
    expect([...agg.intersection!.keys()].sort()).toEqual(["a", "b", "c"]);
    expect([...agg.finishedIntersection!.keys()]).toEqual(["a"]); // b drawn from another distribution; a FAIL does not count
    putTrial(agg, trials, { ...(trials[0] as TrialRecord), state: "FAIL" }); // a PRUNED trial turned FAIL: rebuilt without it
    expect([...agg.finishedIntersection!.keys()].sort()).toEqual(["a", "b", "c"]);
  });

  it("counts finished trials by how they finished: evaluated, cancelled while queued, added", () => {
    const trials: TrialRecord[] = [];
    const agg = buildAggregates("minimize", trials);
    putTrial(agg, trials, record(0, "WAITING", null, []));
    putTrial(agg, trials, record(1, "RUNNING", null, []));
    expect(agg.finishes).toEqual({ evaluated: 0, cancelled: 0, added: 0 });
    putTrial(agg, trials, { ...(trials[0] as TrialRecord), state: "FAIL", systemAttrs: { cancelled: true } });
    putTrial(agg, trials, { ...record(2, "COMPLETE", 1, []), systemAttrs: { added: true } });
    putTrial(agg, trials, { ...record(3, "FAIL", null, []), systemAttrs: { added: true } });
    expect(agg.finishes).toEqual({ evaluated: 0, cancelled: 1, added: 2 });
    putTrial(agg, trials, { ...(trials[1] as TrialRecord), state: "FAIL", systemAttrs: { retried_as: 4 } }); // a lost lease
    expect(agg.finishes).toEqual({ evaluated: 1, cancelled: 1, added: 2 });
    expect(buildAggregates("minimize", trials).finishes).toEqual(agg.finishes);
  });

  it("refuses to leave a hole in the trial list", () => {
    const trials: TrialRecord[] = [];
    expect(() => putTrial(buildAggregates("minimize", trials), trials, record(3, "RUNNING", null, []))).toThrow(/neither present nor next/);
  });
});

describe("the percentile scheduler with the service's statistics", () => {
  it("decides as it does from the trial list, on random histories (5 seeds x 200 reports)", () => {
    let prunes = 0;
    for (const seed of [11, 12, 13, 14, 15]) {
      const rng = new Rng(seed, "percentile-stats");
      for (const direction of ["minimize", "maximize"] as const) {
        const complete = Array.from({ length: 8 }, (_, i) =>
          curveTrial(i, Array.from({ length: 1 + Math.floor(rng.random() * 6) }, (_, s) => [s, draw(rng)] as const)),
        );
        const agg = buildAggregates(direction, complete as TrialRecord[]);
        const sched = percentileSchedulerFactory.create(percentileSchedulerFactory.options.parse({ percentile: 25 + Math.floor(rng.random() * 50), n_startup_trials: 3 }));
        for (let r = 0; r < 20; r++) {
          const steps = 1 + Math.floor(rng.random() * 6);
          const running = curveTrial(100 + r, Array.from({ length: steps }, (_, s) => [s, draw(rng)] as const), "RUNNING");
          const req = reportOf(running, complete, direction);
          const without = sched.onReport(req);
          const withStats = sched.onReport({ ...req, stats: statsOf(agg) });
          expect(withStats?.decision).toEqual(without?.decision);
          if (without?.decision.action === "prune") prunes++;
        }
      }
    }
    expect(prunes).toBeGreaterThan(20); // the comparison covered both outcomes
    expect(prunes).toBeLessThan(180);
  });
});
