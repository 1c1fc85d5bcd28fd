import { describe, expect, it } from "vitest";
import { TuneportError } from "./errors.js";
import { silentLogger } from "../logger.js";
import { BUILTIN_PLUGINS } from "../service/plugins.js";
import { StudyService } from "../service/study-service.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";

const strategy = (ref: unknown) => BUILTIN_PLUGINS.resolveStrategyConfig(ref as never);
const refusal = (f: () => unknown): TuneportError => {
  try {
    f();
  } catch (err) {
    return err as TuneportError;
  }
  throw new Error("not refused");
};

describe("plug-in option names in the other case", () => {
  it("takes Optuna's snake_case for a camelCase option and camelCase for a snake_case one", () => {
    expect(strategy({ name: "gp", options: { n_startup_trials: 5 } }).options).toMatchObject({ nStartupTrials: 5 });
    expect(strategy({ name: "gp", options: { n_startup_trials: 5 } }).options).not.toHaveProperty("n_startup_trials");
    expect(strategy({ name: "tpe", options: { nStartupTrials: 7 } }).options).toMatchObject({ n_startup_trials: 7 });
    expect(strategy({ name: "tpe", options: { "n-startup-trials": 8 } }).options).toMatchObject({ n_startup_trials: 8 });
    const asha = BUILTIN_PLUGINS.resolveSchedulerConfig({ name: "asha", options: { maxResource: 27, reductionFactor: 3 } } as never);
    expect(asha.options).toMatchObject({ max_resource: 27, reduction_factor: 3 });
  });

  it("refuses one option given in both spellings, and names that match none", () => {
    const both = refusal(() => strategy({ name: "tpe", options: { n_startup_trials: 5, nStartupTrials: 6 } }));
    expect(both).toBeInstanceOf(TuneportError);
    expect(both.code).toBe("INVALID_ARGUMENT");
    expect(both.message).toContain("nStartupTrials");
    expect(refusal(() => strategy({ name: "gp", options: { n_startup: 5 } })).code).toBe("INVALID_ARGUMENT");
  });
});

describe("the options one strategy passes to another", () => {
  it("are checked when the study is created: a bad one is INVALID_ARGUMENT naming where it is", () => {
    const bad = refusal(() => strategy({ name: "auto", options: { gp: { nStartupTrials: 0 }, tpe: { bogus: 1 } } }));
    expect(bad).toBeInstanceOf(TuneportError);
    expect(bad.code).toBe("INVALID_ARGUMENT");
    expect(bad.message).toMatch(/gp\.nStartupTrials/);
    expect(bad.message).toMatch(/tpe: .*bogus/);
    expect(refusal(() => strategy({ name: "parego", options: { gp: { nCandidates: -1 } } })).message).toMatch(/gp\.nCandidates/);
  });

  it("take either case too, stored in the inner strategy's", () => {
    const auto = strategy({ name: "auto", options: { gp: { n_startup_trials: 3 }, tpe: { nStartupTrials: 4 } } });
    expect(auto.options).toMatchObject({ gp: { nStartupTrials: 3 }, tpe: { n_startup_trials: 4 } });
    expect(strategy({ name: "parego", options: { gp: { n_candidates: 64 } } }).options).toMatchObject({ gp: { nCandidates: 64 } });
    // patient's wrapped scheduler: its options in either case too (median's n_startup_trials).
    const patient = { name: "patient", options: { patience: 2, wrapped: { name: "median", options: { nStartupTrials: 3 } } } };
    const config = BUILTIN_PLUGINS.resolveSchedulerConfig(patient as never);
    expect(() => BUILTIN_PLUGINS.scheduler("patient")!.create(config.options)).not.toThrow();
  });

  it("over the service: the study is refused and nothing is stored, or created and asks work", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    try {
      const space = { x: { type: "float", low: 0, high: 1 } };
      await expect(service.execute("create_study", { name: "bad", space, strategy: { name: "auto", options: { gp: { bad: 1 } } } })).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
      });
      expect(((await service.execute("list_studies", {})) as { studies: unknown[] }).studies).toEqual([]);
      await service.execute("create_study", { name: "ok", space, strategy: { name: "auto", options: { gp: { n_startup_trials: 2 } } } });
      const a = (await service.execute("ask", { study: "ok" })) as { trial: { number: number } };
      expect(a.trial.number).toBe(0);
    } finally {
      await service.close();
      await storage.close();
    }
  });
});
