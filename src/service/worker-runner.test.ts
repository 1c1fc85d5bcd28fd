/**
 * WorkerRunner under vitest: its threads run the TypeScript sources (src/testing/source-workers.ts).
 * Which factories go to a thread, and how errors come back. The equivalence of suggestions is
 * the strategy conformance suite's worker-thread check.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SearchSpace } from "../domain/distributions.js";
import { TuneportError } from "../domain/errors.js";
import type { StrategyFactory } from "../domain/plugin.js";
import { silentLogger } from "../logger.js";
import { cmaesStrategyFactory } from "../strategies/cmaes/cmaes-strategy.js";
import { gpStrategyFactory } from "../strategies/gp/gp-strategy.js";
import { gridStrategyFactory } from "../strategies/grid/grid-strategy.js";
import { nsga2StrategyFactory } from "../strategies/nsga2/nsga2-strategy.js";
import { tpeStrategyFactory } from "../strategies/tpe/tpe-strategy.js";
import { randomStrategyFactory } from "../strategies/random/random-strategy.js";
import { makeStudy, makeTrial, suggestRequest } from "../testing/fixtures.js";
import { sourceWorkerRunner } from "../testing/source-workers.js";
import type { WorkerRunner } from "./worker-runner.js";

let runner: WorkerRunner | null = null;
afterEach(async () => {
  vi.useRealTimers();
  await runner?.close();
  runner = null;
});

describe("WorkerRunner", () => {
  it("offloads the built-ins that ask for it, and no factory its worker would build differently", () => {
    runner = sourceWorkerRunner(silentLogger());
    const gp = gpStrategyFactory as StrategyFactory<unknown>;
    expect(runner.offloads(gp, {})).toBe(true);
    expect(runner.offloads(randomStrategyFactory as StrategyFactory<unknown>, {})).toBe(false);
    // A custom factory under a built-in's name: the worker would build the built-in instead.
    expect(runner.offloads({ ...gp }, {})).toBe(false);
    // TPE: in process at its defaults, in a worker when candidates × declared dimensions are many.
    const tpe = tpeStrategyFactory as StrategyFactory<unknown>;
    const floats = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x${i}`, { type: "float" as const, low: 0, high: 1 }]));
    const defaults = tpeStrategyFactory.options.parse({});
    expect(runner.offloads(tpe, defaults, floats(6))).toBe(false);
    expect(runner.offloads(tpe, defaults, floats(200))).toBe(false);
    expect(runner.offloads(tpe, defaults, floats(201))).toBe(true);
    expect(runner.offloads(tpe, tpeStrategyFactory.options.parse({ n_ei_candidates: 100_000 }), floats(1))).toBe(true);
    // Several objectives: MOTPE's split and NSGA-II's parents sort the history by non-domination,
    // O(n²) at worst (seconds per ask at 15,000 trials on one front), so never on the event loop.
    expect(runner.offloads(tpe, defaults, floats(6), 1)).toBe(false);
    expect(runner.offloads(tpe, defaults, floats(6), 2)).toBe(true);
    // Many categorical choices: each kernel weighs every choice (trials × choices per suggestion).
    const cat = (n: number) => ({ c: { type: "categorical" as const, choices: Array.from({ length: n }, (_, i) => i) } });
    expect(runner.offloads(tpe, defaults, cat(1000))).toBe(false);
    expect(runner.offloads(tpe, defaults, cat(1001))).toBe(true);
    expect(runner.offloads(nsga2StrategyFactory as StrategyFactory<unknown>, nsga2StrategyFactory.options.parse({}), floats(2), 2)).toBe(true);
    // CMA-ES at any dimension: a fresh instance replays every generation, O(generations · n³).
    expect(runner.offloads(cmaesStrategyFactory as StrategyFactory<unknown>, {}, floats(2))).toBe(true);
  });

  it("runs a suggestion in a thread and brings back a TuneportError with its code", async () => {
    runner = sourceWorkerRunner(silentLogger(), { offloadAll: true });
    const grid = gridStrategyFactory as StrategyFactory<unknown>;
    const space: SearchSpace = { k: { type: "int", low: 1, high: 2 } };
    const options = gridStrategyFactory.options.parse({});
    const study = makeStudy(space, { strategy: { name: "grid", options: options as Record<string, unknown> } });
    const strategy = grid.create(options);
    const first = await runner.suggest(grid, strategy, suggestRequest(study, []));
    const second = await runner.suggest(grid, strategy, suggestRequest(study, [makeTrial(0, first.params, space)]));
    expect(new Set([first.params.k, second.params.k])).toEqual(new Set([1, 2]));
    const done = [makeTrial(0, first.params, space), makeTrial(1, second.params, space)];
    const err = await runner.suggest(grid, strategy, suggestRequest(study, done)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TuneportError);
    expect((err as TuneportError).code).toBe("SEARCH_SPACE_EXHAUSTED");
  });

  it("abandons a suggestion past its deadline, replaces its thread and answers the requests queued behind it", { timeout: 120_000 }, async () => {
    // Every offloaded study shares the threads: one suggestion that never returned held them all for good.
    // The deadlines run on a clock this test holds: a thread's start-up (the TypeScript loader compiling
    // the sources) counts against its first request's deadline, and on a loaded machine the real 10 s
    // ran out on the legitimate asks before and behind the stuck one. The clock moves only below.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const catalogue = new URL("../../test/fixtures/spin-catalogue.ts", import.meta.url).href;
    runner = sourceWorkerRunner(silentLogger(), { offloadAll: true, catalogue, deadlineMs: 10_000 });
    const random = randomStrategyFactory as StrategyFactory<unknown>;
    const space: SearchSpace = { x: { type: "float", low: 0, high: 1 } };
    const plain = makeStudy(space, { strategy: { name: "random", options: {} } });
    const ask = () => (runner as WorkerRunner).suggest(random, random.create({}), suggestRequest(plain, []));
    expect(typeof (await ask()).params.x).toBe("number");
    const spin = makeStudy(space, { strategy: { name: "spin", options: {} } });
    let settled = false;
    const stuck = runner.suggest(random, random.create({}), suggestRequest(spin, [])).catch((e: unknown) => e).finally(() => (settled = true));
    const behind = ask();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(settled, "abandoned before its deadline").toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(((await stuck) as Error).message).toMatch(/took longer than 10 s \(its thread was stopped\)/);
    expect(typeof (await behind).params.x).toBe("number");
    expect(typeof (await ask()).params.x).toBe("number");
  });

  it("keeps a thread's strategy copy per study state, and a bounded number of them", async () => {
    // Keyed by study name and options, a deleted study's copy stayed for good (memory grew with every
    // uniquely named study), and a study created again under the name got the old one's caches.
    const catalogue = new URL("../../test/fixtures/spin-catalogue.ts", import.meta.url).href;
    runner = sourceWorkerRunner(silentLogger(), { offloadAll: true, catalogue, keptStrategies: 2 });
    const random = randomStrategyFactory as StrategyFactory<unknown>;
    const study = makeStudy({ x: { type: "float", low: 0, high: 1 } }, { strategy: { name: "count", options: {} } });
    const ask = async (instance: object) => (await (runner as WorkerRunner).suggest(random, instance as never, suggestRequest(study, []))).params.x;
    const [a, b, c] = [{}, {}, {}];
    expect([await ask(a), await ask(a), await ask(a)]).toEqual([0, 1, 2]);
    expect(await ask(b)).toBe(0); // the same study, created again: a fresh copy
    expect(await ask(a)).toBe(3); // a is now the most recently asked
    expect(await ask(c)).toBe(0); // a third copy drops the least recently asked (b)
    expect(await ask(a)).toBe(4);
    expect(await ask(b)).toBe(0); // rebuilt
  });

  it("reports a catalogue module without a 'plugins' export on each request", async () => {
    runner = sourceWorkerRunner(silentLogger(), { offloadAll: true, catalogue: new URL("../testing/fixtures.ts", import.meta.url).href });
    const random = randomStrategyFactory as StrategyFactory<unknown>;
    const study = makeStudy({ x: { type: "float", low: 0, high: 1 } });
    const err = await runner.suggest(random, random.create({}), suggestRequest(study, [])).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/exports no 'plugins' catalogue/);
  });
});
