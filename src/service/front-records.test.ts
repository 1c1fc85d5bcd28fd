import { describe, expect, it } from "vitest";
import { dominates, isFeasibleVector, minimisationForm } from "../domain/objectives.js";
import type { Direction, TrialState } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import { buildAggregates, frontCountsOf, frontRecordsOf, putTrial } from "./aggregates.js";
import { MAX_RECORDS, buildRecords } from "./front-records.js";
import { paretoFrontView } from "./pareto.js";
import type { TrialRecord } from "./study-state.js";

function record(number: number, state: TrialState, values: number[] | null, constraints: number[] | null = null): TrialRecord {
  return {
    id: number + 1, studyId: 1, number, state, params: { x: number }, distributions: {},
    value: values !== null && values.length === 1 ? (values[0] as number) : null, values, constraints,
    intermediate: [], userAttrs: {}, systemAttrs: {}, createdAt: 0, startedAt: 0, finishedAt: null, lease: null,
  };
}

/** The records by their definition: COMPLETE feasible trials no lower-numbered one dominates. */
function recordsByDefinition(directions: readonly Direction[], trials: readonly TrialRecord[]): number[] {
  const ok = trials.filter((t) => t.state === "COMPLETE" && t.values !== null && isFeasibleVector(t.constraints));
  const pt = (t: TrialRecord) => minimisationForm(directions, t.values as number[]);
  return ok.filter((t) => !ok.some((s) => s.number < t.number && dominates(pt(s), pt(t)))).map((t) => t.number);
}

/**
 * A random life of a study (trials appended, finished in every state, feasible or not, on a coarse
 * grid so that equal points occur, attributes rewritten, records turned back or given other values):
 * after every step the kept records equal their definition, and the front, hypervolume, history and
 * counts read from them equal those read from every trial.
 */
function randomLife(seed: number, directions: Direction[], steps: number): void {
  const rng = new Rng(seed, "front-records");
  const trials: TrialRecord[] = [];
  const agg = buildAggregates(directions[0] as Direction, trials, directions);
  const study = { name: "s", directions, reference_point: null };
  const point = () => directions.map(() => Math.round(rng.random() * 6) / 2);
  let checked = 0;
  for (let i = 0; i < steps; i++) {
    const u = rng.random();
    const t = trials[Math.floor(rng.random() * trials.length)];
    let next: TrialRecord;
    if (u < 0.3 || !t) next = record(trials.length, "RUNNING", null);
    else if (t.state === "RUNNING") {
      const r = rng.random();
      next = r < 0.7 ? { ...t, state: "COMPLETE", values: point(), constraints: rng.random() < 0.2 ? [1] : [-1] } : { ...t, state: r < 0.85 ? "PRUNED" : "FAIL" };
    } else if (u < 0.8) next = { ...t, userAttrs: { touched: i } };
    else if (u < 0.9 && t.state === "COMPLETE") next = { ...t, values: point() };
    else next = { ...t, state: "FAIL", values: null, constraints: null };
    putTrial(agg, trials, next);
    // The records are built on the first read, part-way through the life.
    if (i < steps / 4) continue;
    const fr = frontRecordsOf(agg, trials);
    expect(fr).not.toBeNull();
    expect(fr?.records.map((r) => r.number)).toEqual(recordsByDefinition(directions, trials));
    expect(fr?.records.every((r) => r === trials[r.number])).toBe(true);
    for (const ref of [undefined, directions.map((d) => (d === "minimize" ? 2.5 : 0.5))]) {
      const opts = { history: true, ...(ref ? { referencePoint: ref } : {}) };
      const fromAll = paretoFrontView(study, trials, opts);
      const fromRecords = paretoFrontView(study, fr?.records ?? [], { ...opts, counts: frontCountsOf(agg) });
      expect({ ...fromRecords, trials: fromRecords.trials.map((x) => x.number) }).toEqual({ ...fromAll, trials: fromAll.trials.map((x) => x.number) });
      if (fromAll.trials.length > (directions.length > 1 ? 1 : 0) && (fromAll.history?.length ?? 0) > 2) checked++;
    }
  }
  // Not vacuous: fronts (of several trials, with several objectives) with a history were compared.
  expect(checked).toBeGreaterThan(steps / 8);
}

describe("record trials kept on write (front-records.ts)", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`two objectives (minimize, maximize), seed ${seed}`, () => randomLife(seed, ["minimize", "maximize"], 400));
    it(`three objectives, seed ${seed}`, () => randomLife(seed, ["minimize", "minimize", "maximize"], 300));
  }
  it("one objective: the trials that matched or beat the best before them", () => randomLife(9, ["maximize"], 300));

  it("drops the set past MAX_RECORDS (reads then visit every trial) and stops following it", () => {
    // Every trial on one exact trade-off line: each is a record.
    const trials = Array.from({ length: MAX_RECORDS + 1 }, (_, i) => record(i, "COMPLETE", [i, MAX_RECORDS - i]));
    const agg = buildAggregates("minimize", trials, ["minimize", "minimize"]);
    expect(frontRecordsOf(agg, trials)).toBeNull();
    expect(agg.front?.overflow).toBe(true);
    putTrial(agg, trials, record(trials.length, "COMPLETE", [-1, -1]));
    expect(agg.front?.records).toEqual([]);
    expect(buildRecords(["minimize", "minimize"], trials.slice(0, MAX_RECORDS)).overflow).toBe(false);
  });
});
