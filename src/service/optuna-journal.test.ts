import { describe, expect, it } from "vitest";
import type { StoredTrial } from "../storage/storage.js";
import { EXPORT_WORKER_ID, optunaDistributionJson, optunaJournal, pyJson } from "./optuna-journal.js";
import type { ImportedStudy } from "./study-io.js";

const config: ImportedStudy["config"] = {
  directions: ["minimize"],
  direction: "minimize",
  space: { x: { type: "float", low: 0, high: 2 } },
  strategy: { name: "random", options: {} },
  scheduler: null,
  seed: 1,
  retry: { maxRetries: 0, retryOnFail: false },
  leaseTtlS: 30,
};

function stored(number: number, state: StoredTrial["state"], extra: Partial<StoredTrial> = {}): StoredTrial {
  return {
    id: number, studyId: 0, number, state, params: { x: 1 }, distributions: { x: { type: "float", low: 0, high: 2 } }, value: null, values: null, constraints: null,
    intermediate: [], userAttrs: {}, systemAttrs: {}, createdAt: 0, startedAt: 1_700_000_000_000, finishedAt: null, lease: null, ...extra,
  };
}

describe("Optuna journal", () => {
  it("writes numbers as Python's json does", () => {
    expect(pyJson({ a: Number.NaN, b: [Number.POSITIVE_INFINITY, -Infinity], c: 2 })).toBe('{"a":NaN,"b":[Infinity,-Infinity],"c":2}');
    expect(optunaDistributionJson({ type: "float", low: 0, high: 2, step: 0.5 })).toBe('{"name":"FloatDistribution","attributes":{"step":0.5,"low":0.0,"high":2.0,"log":false}}');
    expect(optunaDistributionJson({ type: "int", low: 1, high: 9, log: true })).toBe('{"name":"IntDistribution","attributes":{"log":true,"step":1,"low":1,"high":9}}');
    expect(optunaDistributionJson({ type: "categorical", choices: ["a", null, 1] })).toBe('{"name":"CategoricalDistribution","attributes":{"choices":["a",null,1]}}');
  });

  it("writes the Python client's metric names where Optuna reads them (they were only a user attribute)", () => {
    const mo = { ...config, directions: ["minimize", "maximize"] as ImportedStudy["config"]["directions"] };
    const { lines } = optunaJournal({ name: "m", config: mo, userAttrs: { "tuneport:metric_names": ["loss", "acc"] }, createdAt: 0, stopped: false, trials: [] });
    const ops = lines.map((l) => JSON.parse(l) as Record<string, any>);
    expect(ops.filter((o) => o.op_code === 3).map((o) => o.system_attr)).toContainEqual({ "study:metric_names": ["loss", "acc"] });
    // Names that are not one string per objective are left as the user attribute only.
    const odd = optunaJournal({ name: "m", config: mo, userAttrs: { "tuneport:metric_names": ["loss"] }, createdAt: 0, stopped: false, trials: [] });
    expect(odd.lines.join("\n")).not.toContain("study:metric_names");
  });

  it("writes one operation per line: the study, its attributes, then one CREATE_TRIAL per trial with its state", () => {
    const trials = [
      stored(0, "COMPLETE", { value: 1, finishedAt: 1_700_000_001_500, intermediate: [{ step: 0, value: 3 }], userAttrs: { u: 1 } }),
      stored(1, "RUNNING", { lease: { token: "t", expiresAt: 0 } }),
      stored(2, "WAITING", { startedAt: null }),
      stored(3, "FAIL", { finishedAt: 1_700_000_002_000, systemAttrs: { fail_reason: "oom", budget: 3 } }),
    ];
    const { lines, notes } = optunaJournal({ name: "s", config, userAttrs: { a: 1, b: "x" }, createdAt: 0, stopped: false, trials });
    const ops = lines.map((l) => JSON.parse(l) as Record<string, any>);
    expect(ops.map((o) => o.op_code)).toEqual([0, 2, 2, 3, 4, 4, 4, 4]);
    expect(ops.every((o) => o.worker_id === EXPORT_WORKER_ID)).toBe(true);
    expect(ops[0]).toMatchObject({ study_name: "s", directions: [1] });
    const [complete, running, waiting, failed] = ops.slice(4);
    expect(complete).toMatchObject({ state: 1, value: 1, params: { x: 1 }, intermediate_values: { "0": 3 }, user_attrs: { u: 1 } });
    expect(complete?.datetime_start).toBe("2023-11-14T22:13:20.000000+00:00");
    expect(complete?.datetime_complete).toBe("2023-11-14T22:13:21.500000+00:00");
    expect(lines[4]).toContain('"value":1.0');
    expect(running).toMatchObject({ state: 0, value: null });
    expect(running && "datetime_complete" in running).toBe(false);
    expect(waiting).toMatchObject({ state: 4, params: {}, datetime_start: null, system_attrs: { fixed_params: { x: 1 } } });
    expect(failed).toMatchObject({ state: 3, value: null, system_attrs: { fail_reason: "oom", "tuneport:budget": 3 } });
    expect(notes).toEqual({ nonIntegerSteps: 0, droppedParams: 0 });
  });
});
