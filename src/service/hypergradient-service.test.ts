/** The hypergradient strategy through the service: report → update, stored params, trajectory read-back. */
import { afterEach, beforeEach, describe, expect, it, inject } from "vitest";
import { TuneportError } from "../domain/errors.js";
import type { StrategyFactory } from "../domain/plugin.js";
import { silentLogger } from "../logger.js";
import type { Storage } from "../storage/storage.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { STRATEGIES } from "../strategies/index.js";
import { StudyService } from "./study-service.js";

const SPACE = {
  lr: { type: "float", low: 1e-4, high: 1, log: true },
  wd: { type: "float", low: 0, high: 0.1 },
  act: { type: "categorical", choices: ["relu", "gelu"] },
};

describe.each(storageBackends(inject("pgUrl")))("hypergradient strategy in the service on %s", (backend: StorageBackend) => {
  let storage: Storage;
  let svc: StudyService;

  beforeEach(async () => {
    storage = await backend.open(backend.location());
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  it("refuses an unknown base strategy at study creation", async () => {
    await expect(svc.createStudy({ name: "bad", space: SPACE, strategy: { name: "hypergradient", options: { base: "nope" } } }))
      .rejects.toSatisfy((e: unknown) => e instanceof TuneportError && e.code === "INVALID_ARGUMENT" && /unknown base strategy 'nope'/.test(e.message));
  });

  it.each(["tpe", undefined])("refuses hypergradients a study's strategy (%s) would ignore, storing nothing", async (strategy) => {
    // Taken, they were ignored with a continue: the rates the loop meant to tune never moved, and
    // only the Python client (with its own list of built-in names) said so.
    await svc.createStudy({ name: "plain", space: SPACE, seed: 3, ...(strategy ? { strategy } : {}) });
    const { trial, lease } = await svc.ask({ study: "plain" });
    const named = strategy ?? "auto";
    for (const hypergradients of [{ lr: 1.0 }, {}]) {
      const err = await svc.report({ study: "plain", trial: trial.number, token: lease.token, step: 1, value: 0.7, data: { hypergradients } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TuneportError);
      expect((err as TuneportError).code).toBe("INVALID_ARGUMENT");
      expect((err as TuneportError).message).toMatch(new RegExp(`trial ${trial.number} of 'plain' would be ignored: the study's strategy '${named}' does not read them.*strategy='hypergradient'.*report without hypergradients`));
      expect((err as TuneportError).data).toMatchObject({ study: "plain", trial: trial.number, strategy: named });
    }
    const view = await svc.getTrial({ study: "plain", trial: trial.number });
    expect(view.state).toBe("RUNNING");
    expect(view.intermediate).toEqual([]);
    // The same step without them goes through; so does other data.
    const r = await svc.report({ study: "plain", trial: trial.number, token: lease.token, step: 1, value: 0.7, data: { checkpoint: "c1", hypergradients: null } });
    expect(r.decision.action).toBe("continue");
    expect((await svc.getTrial({ study: "plain", trial: trial.number })).intermediate).toEqual([[1, 0.7]]);
  });

  it("takes hypergradients once the study switched to the hypergradient strategy", async () => {
    await svc.createStudy({ name: "sw", space: SPACE, seed: 3, strategy: "tpe" });
    await svc.updateStudy({ study: "sw", strategy: "hypergradient" });
    const { trial, lease } = await svc.ask({ study: "sw" });
    const r = await svc.report({ study: "sw", trial: trial.number, token: lease.token, step: 1, value: 0.7, data: { hypergradients: { lr: 1.0 } } });
    expect(r.decision.action).toBe("update");
  });

  it("answers reports with updates, stores the new params and the trajectory", async () => {
    await svc.createStudy({ name: "hg", space: SPACE, seed: 3, strategy: { name: "hypergradient", options: { base: "tpe", lr: 0.1 } } });
    const { trial, lease } = await svc.ask({ study: "hg" });
    const start = { ...trial.params };
    const r1 = await svc.report({ study: "hg", trial: trial.number, token: lease.token, step: 1, value: 0.7, data: { hypergradients: { lr: 1.0, wd: -2.0 } } });
    expect(r1.decision.action).toBe("update");
    const p1 = (r1.decision as { params: Record<string, number> }).params;
    expect(p1.lr).toBeLessThan(start.lr as number);
    expect(p1.wd).toBeGreaterThanOrEqual(start.wd as number);
    expect(Object.keys(p1).sort()).toEqual(["lr", "wd"]);
    const r2 = await svc.report({ study: "hg", trial: trial.number, token: lease.token, step: 2, value: 0.6, data: { hypergradients: { lr: 1.0, bogus: 3 } } });
    const p2 = (r2.decision as { params: Record<string, number> }).params;
    expect(p2.lr).toBeLessThan(p1.lr as number);
    expect(p2.wd).toBe(p1.wd);

    const view = await svc.getTrial({ study: "hg", trial: trial.number });
    expect(view.params).toMatchObject({ ...p2, act: start.act });
    expect(view.system_attrs.hg_warnings).toEqual(["step 2: 'bogus' is not a tuned continuous parameter of this trial; ignored"]);

    const tr = await svc.execute("trajectory", { study: "hg", trial: trial.number }, { requestId: "req-1" });
    expect(tr.trajectory).toEqual([
      { step: null, value: null, params: { lr: start.lr, wd: start.wd } },
      { step: 1, value: 0.7, params: p1 },
      { step: 2, value: 0.6, params: p2 },
    ]);
    expect(tr.thinned).toBe(false);
    expect(tr.params).toEqual(view.params);

    await svc.tell({ study: "hg", trial: trial.number, token: lease.token, state: "COMPLETE", value: 0.6 });
    // The next trial's starting point comes from the base strategy as usual.
    const next = await svc.ask({ study: "hg" });
    expect(Object.keys(next.trial.params).sort()).toEqual(["act", "lr", "wd"]);
    expect((await svc.trajectory({ study: "hg", trial: next.trial.number })).trajectory).toEqual([]);
  });

  it.each([false, true])("tunes a retried trial from its first report (keep_intermediate %s)", async (keep) => {
    // Re-queued without keep_intermediate, the retry trains again from step 0 but inherited the
    // failed attempt's trajectory: every report up to that attempt's last step was taken for a
    // repeat, and nothing moved. With keep_intermediate it resumes: the record goes on.
    const name = `retry-${keep}`;
    await svc.createStudy({ name, space: SPACE, seed: 3, strategy: "hypergradient", retry: { max_retries: 1, retry_on_fail: true, keep_intermediate: keep } });
    const first = await svc.ask({ study: name });
    for (const step of [1, 2, 3])
      await svc.report({ study: name, trial: first.trial.number, token: first.lease.token, step, value: 1 / step, data: { hypergradients: { lr: 1.0 } } });
    await svc.tell({ study: name, trial: first.trial.number, token: first.lease.token, state: "FAIL" });
    const retry = await svc.ask({ study: name });
    expect(retry.trial.system_attrs.retry_of).toBe(first.trial.number);
    const step = keep ? 4 : 1;
    const r = await svc.report({ study: name, trial: retry.trial.number, token: retry.lease.token, step, value: 0.9, data: { hypergradients: { lr: 1.0 } } });
    const lr = (r.decision as { params: Record<string, number> }).params.lr as number;
    expect(lr).toBeLessThan(retry.trial.params.lr as number);
    const steps = (await svc.trajectory({ study: name, trial: retry.trial.number })).trajectory.map((e) => e.step);
    expect(steps).toEqual(keep ? [null, 1, 2, 3, 4] : [null, 1]);
  });
});

describe("hypergradients and a plug-in strategy", () => {
  // A plug-in's onReport may read them: it says so with readsHypergradients, else they are refused.
  const plugin = (name: string, reads: boolean): StrategyFactory<unknown> => ({
    ...(STRATEGIES.get("random") as StrategyFactory<unknown>),
    name,
    ...(reads ? { readsHypergradients: true } : {}),
  });

  it.each([
    ["reader", true],
    ["ignorer", false],
  ])("a plug-in strategy %s gets them only when it declares it reads them", async (name, reads) => {
    const backend = storageBackends(inject("pgUrl"))[0] as StorageBackend;
    const storage = await backend.open(backend.location());
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, strategies: [...STRATEGIES.values(), plugin(name as string, reads as boolean)] });
    try {
      await svc.createStudy({ name: "p", space: SPACE, strategy: name as string });
      const { trial, lease } = await svc.ask({ study: "p" });
      const reply = svc.report({ study: "p", trial: trial.number, token: lease.token, step: 1, value: 0.5, data: { hypergradients: { lr: 1 } } });
      if (reads) expect((await reply).decision.action).toBe("continue");
      else await expect(reply).rejects.toSatisfy((e: unknown) => e instanceof TuneportError && e.code === "INVALID_ARGUMENT" && e.message.includes(`strategy '${name}'`));
    } finally {
      await svc.close();
      await storage.close();
    }
  });
});
