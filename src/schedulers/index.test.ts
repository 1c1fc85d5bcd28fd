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
    // ASHA departs from Ray (max_t = 100, η = 4): the study's budget and η = 3 (asha-scheduler.ts).
    expect(SCHEDULERS.get("asha")!.options.parse({})).toEqual({ mode: "stopping", min_resource: 1, reduction_factor: 3, min_early_stopping_rate: 0 });
  });

  it("takes max_resource from the study's budget unless the options give one", () => {
    for (const name of ["asha", "hyperband", "bohb"]) {
      const f = SCHEDULERS.get(name)!;
      expect(f.options.parse(f.withStudyBudget!({}, 27))).toMatchObject({ max_resource: 27 });
      expect(f.options.parse(f.withStudyBudget!({ max_resource: 9 }, 27))).toMatchObject({ max_resource: 9 });
    }
    const p = SCHEDULERS.get("patient")!;
    expect(p.withStudyBudget!({ patience: 2, wrapped: { name: "hyperband" } }, 27)).toEqual({
      patience: 2, wrapped: { name: "hyperband", options: { max_resource: 27 } },
    });
    expect(SCHEDULERS.get("median")!.withStudyBudget).toBeUndefined();
    // Without any budget: hyperband and promotion-mode ASHA refuse; stopping ASHA learns it from history.
    expect(SCHEDULERS.get("hyperband")!.options.safeParse({}).success).toBe(false);
    expect(SCHEDULERS.get("asha")!.options.safeParse({ mode: "promotion" }).success).toBe(false);
  });

  it("patient passes on the wrapped scheduler's incompatibility", () => {
    const p = SCHEDULERS.get("patient")!;
    const o = p.options.parse({ patience: 1, wrapped: { name: "bohb", options: { max_resource: 9 } } });
    expect(p.incompatibleWith!({ name: "grid", options: {} }, o)).toMatch(/grid/);
    expect(p.incompatibleWith!({ name: "random", options: {} }, o)).toBeNull();
  });
});
