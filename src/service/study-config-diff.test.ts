import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TuneportError } from "../domain/errors.js";
import type { StudyConfig } from "../domain/trial.js";
import { silentLogger } from "../logger.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { BUILTIN_PLUGINS } from "./plugins.js";

const resolveStrategyConfig = BUILTIN_PLUGINS.resolveStrategyConfig.bind(BUILTIN_PLUGINS);
const resolveSchedulerConfig = BUILTIN_PLUGINS.resolveSchedulerConfig.bind(BUILTIN_PLUGINS);
import { configMismatch, studyConfigDiff } from "./study-config-diff.js";
import { StudyService } from "./study-service.js";

const SPACE = {
  lr: { type: "float", low: 1e-4, high: 1, log: true },
  layers: { type: "int", low: 1, high: 4, step: 1 },
} as const;

const STORED: StudyConfig = {
  directions: ["minimize"],
  direction: "minimize",
  space: SPACE,
  strategy: resolveStrategyConfig("tpe"),
  scheduler: resolveSchedulerConfig("median"),
  seed: 7,
  retry: { maxRetries: 2, retryOnFail: false, keepIntermediate: false },
  leaseTtlS: 30,
};

describe("studyConfigDiff", () => {
  it("finds nothing when the request gives nothing or the same settings", () => {
    expect(studyConfigDiff(STORED, {})).toEqual([]);
    expect(
      studyConfigDiff(STORED, {
        directions: ["minimize"],
        space: { layers: SPACE.layers, lr: SPACE.lr },
        strategy: resolveStrategyConfig({ name: "tpe", options: {} }),
        scheduler: resolveSchedulerConfig("median"),
        seed: 7,
        maxRetries: 2,
        retryOnFail: false,
        keepIntermediate: false,
        leaseTtlS: 30,
      }),
    ).toEqual([]);
  });

  it("lists every differing setting, each with the stored and the given value", () => {
    const diffs = studyConfigDiff(STORED, {
      directions: ["maximize"],
      space: { lr: { type: "float", low: 1e-5, high: 1, log: true }, width: { type: "int", low: 8, high: 64 } },
      strategy: resolveStrategyConfig({ name: "tpe", options: { n_startup_trials: 3 } }),
      scheduler: resolveSchedulerConfig("asha"),
      seed: 8,
      maxRetries: 0,
      leaseTtlS: 60,
      maxTrials: 50,
    });
    expect(diffs.map((d) => d.field)).toEqual([
      "direction",
      "space.layers",
      "space.lr",
      "space.width",
      "strategy",
      "scheduler",
      "seed",
      "retry.max_retries",
      "lease_ttl_s",
      "max_trials",
    ]);
    expect(diffs.at(-1)).toEqual({ field: "max_trials", stored: null, given: 50 });
    expect(diffs.find((d) => d.field === "space.layers")).toEqual({ field: "space.layers", stored: SPACE.layers, given: null });
    expect(diffs.find((d) => d.field === "space.width")?.stored).toBeNull();
    expect(diffs.find((d) => d.field === "seed")).toEqual({ field: "seed", stored: 7, given: 8 });
  });

  it("compares plug-in options with defaults filled in, whatever their key order", () => {
    const given = resolveStrategyConfig({ name: "tpe", options: {} });
    const reordered = { name: "tpe", options: Object.fromEntries(Object.entries(given.options).reverse()) };
    expect(studyConfigDiff({ ...STORED, strategy: reordered }, { strategy: given })).toEqual([]);
    // An older stored config that lacks a defaulted option still matches.
    const [firstKey] = Object.keys(given.options);
    const older = { name: "tpe", options: Object.fromEntries(Object.entries(given.options).filter(([k]) => k !== firstKey)) };
    expect(studyConfigDiff({ ...STORED, strategy: older }, { strategy: given })).toEqual([]);
  });

  it("treats an empty space as not given (define-by-run scripts, the MCP default)", () => {
    expect(studyConfigDiff(STORED, { space: {} })).toEqual([]);
  });

  it("says 'none' for a study without a scheduler and lists the differences in the message and data", () => {
    const diffs = studyConfigDiff({ ...STORED, scheduler: null }, { scheduler: resolveSchedulerConfig("median") });
    const err = configMismatch("s", diffs);
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(/study 's' exists with other settings.*scheduler: stored none, given median/);
    expect(err.data).toEqual({ study: "s", differences: [{ field: "scheduler", stored: null, given: resolveSchedulerConfig("median") }] });
  });
});

describe("create_study against the service", () => {
  let storage: SqliteStorage;
  let svc: StudyService;

  beforeEach(async () => {
    storage = new SqliteStorage({ path: ":memory:" });
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  async function refusal(p: Promise<unknown>): Promise<TuneportError> {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TuneportError);
    expect((err as TuneportError).code).toBe("INVALID_ARGUMENT");
    return err as TuneportError;
  }

  it("load_if_exists refuses other settings with every difference listed, and loads on equal or omitted ones", async () => {
    await svc.createStudy({ name: "s", space: SPACE, strategy: "tpe", scheduler: "median", seed: 3 });
    const err = await refusal(
      svc.createStudy({ name: "s", load_if_exists: true, space: { lr: SPACE.lr }, strategy: "random", scheduler: "asha", seed: 3 }),
    );
    expect((err.data?.differences as { field: string }[]).map((d) => d.field)).toEqual(["space.layers", "strategy", "scheduler"]);
    expect(err.message).toMatch(/strategy: stored tpe .*given random/);
    const loaded = await svc.createStudy({ name: "s", load_if_exists: true, space: SPACE, strategy: "tpe", scheduler: "median" });
    expect(loaded.created).toBe(false);
    expect((await svc.createStudy({ name: "s", load_if_exists: true })).created).toBe(false);
    expect(await svc.listStudies()).toHaveLength(1);
  });

  it("a load that gives the space as created, widened since by update_study, says which parameter changed", async () => {
    const opt = { type: "categorical", choices: ["adam", "sgd"] } as const;
    await svc.createStudy({ name: "w", space: { ...SPACE, opt }, strategy: "random" });
    expect((await svc.createStudy({ name: "w", load_if_exists: true, space: { ...SPACE, opt } })).changed_since_created).toBeUndefined();
    const wide = { type: "categorical", choices: ["adam", "sgd", "rmsprop"] } as const;
    await svc.updateStudy({ study: "w", space: { ...SPACE, opt: wide } });
    const loaded = await svc.createStudy({ name: "w", load_if_exists: true, space: { ...SPACE, opt } });
    expect(loaded.created).toBe(false);
    expect(loaded.changed_since_created).toEqual([{ field: "space.opt", stored: wide, given: opt }]);
    // Given as it is now, or not given: nothing to say.
    expect((await svc.createStudy({ name: "w", load_if_exists: true, space: { ...SPACE, opt: wide } })).changed_since_created).toBeUndefined();
    expect((await svc.createStudy({ name: "w", load_if_exists: true })).changed_since_created).toBeUndefined();
  });

  it("refuses a grid over a continuous float without a step at creation, and creates nothing", async () => {
    const err = await refusal(
      svc.createStudy({ name: "g", strategy: "grid", space: { x: { type: "float", low: 0, high: 1 }, k: { type: "int", low: 0, high: 3 } } }),
    );
    expect(err.message).toMatch(/strategy 'grid' cannot search this space: .*'x' is a continuous float; give it a step or set the grid option points_per_dim/);
    await refusal(svc.createStudy({ name: "g", strategy: "grid" }));
    expect(await svc.listStudies()).toHaveLength(0);
    // A step, or points_per_dim, makes it a grid.
    await svc.createStudy({ name: "g1", strategy: "grid", space: { x: { type: "float", low: 0, high: 1, step: 0.25 } } });
    await svc.createStudy({ name: "g2", strategy: { name: "grid", options: { points_per_dim: 3 } }, space: { x: { type: "float", low: 0, high: 1 } } });
    expect((await svc.ask({ study: "g2" })).trial.params.x).toBeTypeOf("number");
  });
});
