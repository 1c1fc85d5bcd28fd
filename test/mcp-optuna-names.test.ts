/**
 * An agent that knows Optuna names the sampler or pruner by its class (`TPESampler`,
 * `MedianPruner`) or puts a pruner where the strategy goes: the refusal names the tuneport
 * plug-in it means, over stdio with the SDK's real Client.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { call, connectStdio, tempDir, textOf } from "./mcp-helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("Optuna's sampler and pruner names", () => {
  it("are refused with the plug-in they mean, and the study is not created", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const { client } = await connectStdio(["--storage", join(tmp.dir, "t.db")]);
    cleanups.push(() => client.close());
    const cases: [Record<string, unknown>, string][] = [
      [{ strategy: "TPESampler" }, "unknown strategy 'TPESampler' (did you mean 'tpe'?); valid strategies: auto,"],
      [{ strategy: { name: "CmaEsSampler" } }, "(did you mean 'cmaes'?)"],
      [{ strategy: "NSGAIISampler" }, "(did you mean 'nsga2'?)"],
      [{ strategy: "GP" }, "(did you mean 'gp'?)"],
      [{ scheduler: "MedianPruner" }, "unknown scheduler 'MedianPruner' (did you mean 'median'?); valid schedulers: median,"],
      [{ scheduler: "SuccessiveHalvingPruner" }, "(did you mean 'successive-halving'?)"],
      [{ scheduler: "NopPruner" }, "(no pruning: leave scheduler out)"],
      [{ strategy: "hyperband" }, "('hyperband' is a scheduler (pruner): pass it as scheduler)"],
      [{ scheduler: "RandomSampler" }, "('random' is a strategy (sampler): pass it as strategy)"],
    ];
    for (const [args, hint] of cases) {
      const r = await call(client, "create_study", { name: "s", ...args });
      expect(r.isError, JSON.stringify(args)).toBe(true);
      expect(textOf(r)).toMatch(/^Error INVALID_ARGUMENT: /);
      expect(textOf(r)).toContain(hint);
    }
    const r = await call(client, "list_strategies", { name: "HyperbandPruner" });
    expect(textOf(r)).toContain("no strategy or scheduler named 'HyperbandPruner' (did you mean 'hyperband'?)");
    expect(textOf(await call(client, "list_studies"))).toContain("No studies yet");
  }, 120_000);
});
