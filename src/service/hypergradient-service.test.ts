/** The hypergradient strategy through the service: report → update, stored params, trajectory read-back. */
import { afterEach, beforeEach, describe, expect, it, inject } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import type { Storage } from "../storage/storage.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
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
});
