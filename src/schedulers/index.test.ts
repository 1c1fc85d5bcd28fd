import { describe, expect, it } from "vitest";
import { SCHEDULERS } from "./index.js";

describe("scheduler catalogue", () => {
  it("lists every scheduler under its own kebab-case name", () => {
    expect([...SCHEDULERS.keys()].sort()).toEqual(
      ["asha", "bohb", "hyperband", "median", "patient", "percentile", "successive-halving", "threshold"].sort(),
    );
    for (const [name, f] of SCHEDULERS) {
      expect(f.name).toBe(name);
      expect(f.description.length).toBeGreaterThan(20);
    }
  });

  it("refuses unknown option keys everywhere", () => {
    for (const [, f] of SCHEDULERS) expect(f.options.safeParse({ surely_not_an_option: 1 }).success).toBe(false);
  });

  it("documents Optuna's defaults", () => {
    expect(SCHEDULERS.get("median")!.options.parse({})).toEqual({ n_startup_trials: 5, n_warmup_steps: 0, interval_steps: 1, n_min_trials: 1 });
    expect(SCHEDULERS.get("successive-halving")!.options.parse({})).toEqual({ min_resource: "auto", reduction_factor: 4, min_early_stopping_rate: 0 });
    expect(SCHEDULERS.get("hyperband")!.options.parse({ max_resource: 81 })).toEqual({ min_resource: 1, max_resource: 81, reduction_factor: 3 });
    expect(SCHEDULERS.get("asha")!.options.parse({})).toMatchObject({ mode: "stopping", min_resource: 1, max_resource: 100, reduction_factor: 4 });
  });

  it("patient passes on the wrapped scheduler's incompatibility", () => {
    const p = SCHEDULERS.get("patient")!;
    const o = p.options.parse({ patience: 1, wrapped: { name: "bohb", options: { max_resource: 9 } } });
    expect(p.incompatibleWith!({ name: "grid", options: {} }, o)).toMatch(/grid/);
    expect(p.incompatibleWith!({ name: "random", options: {} }, o)).toBeNull();
  });
});
