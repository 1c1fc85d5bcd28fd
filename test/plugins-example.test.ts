/**
 * docs/PLUGINS.md's example, examples/custom_strategy.ts: a custom strategy registered in
 * process passes the strategy conformance suite (worker thread included, through the example's
 * own catalogue), runs as a script, and is offered only by a service that was given it.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { perturbBestStrategyFactory, run } from "../examples/custom_strategy.js";
import { TuneportError } from "../src/domain/errors.js";
import { silentLogger } from "../src/logger.js";
import { StudyService } from "../src/service/study-service.js";
import { SqliteStorage } from "../src/storage/sqlite/sqlite-storage.js";
import { strategyConformance } from "../src/testing/strategy.case.js";
import { TS_LOADER } from "../src/testing/source-workers.js";

const ROOT = join(import.meta.dirname, "..");
const EXAMPLE = join(ROOT, "examples", "custom_strategy.ts");

strategyConformance(perturbBestStrategyFactory, {
  options: perturbBestStrategyFactory.options.parse({}),
  n: 30,
  workerCatalogue: new URL("../examples/custom_strategy.ts", import.meta.url).href,
});

describe("examples/custom_strategy.ts (docs/PLUGINS.md)", () => {
  it("runs as a script: tunes Branin through a service that registered it in process", () => {
    const r = spawnSync(process.execPath, ["--import", TS_LOADER.href, EXAMPLE, "30", "3"], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const m = /best trial (\d+): value (\d+\.\d+) at x1=/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThanOrEqual(0.397887 - 1e-4); // Branin's minimum bounds every value
  });

  it("beats random search on Branin at 60 trials in >= 7 of 10 seeds (through the service)", async () => {
    let wins = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const mine = await run(60, seed);
      const random = await run(60, seed, "random");
      if (mine.value < random.value) wins++;
    }
    expect(wins).toBeGreaterThanOrEqual(7);
  });

  it("is offered only by a service that was given it, and described by that service's catalogue", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const plain = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    try {
      const refused = await plain.createStudy({ name: "x", strategy: "perturb-best" }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TuneportError);
      expect((refused as TuneportError).code).toBe("INVALID_ARGUMENT");
      expect((refused as TuneportError).message).toMatch(/unknown strategy 'perturb-best'; valid strategies: auto, /);
      expect(plain.plugins.strategy("perturb-best")).toBeUndefined();
    } finally {
      await plain.close();
    }
    const given = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, strategies: [perturbBestStrategyFactory] });
    try {
      expect(given.plugins.describe().filter((p) => p.kind === "strategy").map((p) => p.name)).toEqual(["perturb-best"]);
      expect(given.plugins.defaultStrategy).toBe("perturb-best"); // the only one: a study naming none gets it
      const { study } = await given.createStudy({ name: "y", space: { x: { type: "float", low: 0, high: 1 } } });
      expect(study.strategy).toEqual({ name: "perturb-best", options: { n_startup_trials: 10, sigma: 0.05 } });
      expect(given.plugins.scheduler("asha")).toBeDefined(); // schedulers stay the built-ins
    } finally {
      await given.close();
      await storage.close();
    }
  });
});
