/**
 * PBT's take-back of an exploit that trained nothing (lineage.ts `unappliedAtFinish`) changes a
 * COMPLETE trial's params at `tell` (study-state.ts `applyFinish`), the one place a tell writes
 * params other than those the trial ran with: on SQLite and PostgreSQL, the stored trial, the tell
 * reply, its resend under the same request id after a restart, and an export/import round trip
 * all hold the params the told value was trained with.
 */
import { afterEach, describe, expect, it, inject } from "vitest";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import type { Storage } from "../../storage/storage.js";
import { type StorageBackend, storageBackends } from "../../testing/storage-backends.js";
import { toyProblem } from "../../testing/pbt-problems.js";

describe.each(storageBackends(inject("pgUrl")))("pbt: params taken back at completion, on %s", (backend: StorageBackend) => {
  let storage: Storage;
  let svc: StudyService;
  let location: string;
  const open = async () => {
    storage = await backend.open(location);
    svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => 1_000_000, reapIntervalMs: 0 });
  };
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  it("are stored with the tell, survive a restart and a resend of the tell, and round-trip through export/import", async () => {
    location = backend.location();
    await open();
    await svc.createStudy({ name: "p", space: toyProblem.space, direction: "maximize", seed: 3, strategy: { name: "pbt", options: { population_size: 2, perturbation_interval: 2, resample_probability: 0 } } });
    const a = await svc.ask({ study: "p" });
    const b = await svc.ask({ study: "p" });
    const rep = (t: typeof a, step: number, value: number) =>
      svc.report({ study: "p", trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `ck/${t.trial.number}/${step}` } });
    await rep(b, 1, 0.9);
    await rep(b, 2, 0.9);
    await rep(a, 1, 0.1);
    // The exploit at a's last report: the loop ends right after it, and a is told its own weights' value.
    const exploit = await rep(a, 2, 0.1);
    expect(exploit.decision.action).toBe("update");
    const explored = (await svc.getTrial({ study: "p", trial: a.trial.number })).params;
    const before = a.trial.params;
    expect(explored).not.toEqual(before);
    const tell = { study: "p", trial: a.trial.number, token: a.lease.token, state: "COMPLETE" as const, value: 0.1 };
    expect((await svc.tell(tell, "tell-a")).trial.params).toEqual(before);

    await svc.close();
    await storage.close();
    await open();
    const stored = await svc.getTrial({ study: "p", trial: a.trial.number });
    expect(stored.params).toEqual(before);
    expect(stored.system_attrs.pbt_generation).toBe(0);
    expect((await svc.best({ study: "p" }))?.params).toEqual(before);
    // The resend gets the stored reply (the lease is gone: run again, it would be refused).
    expect((await svc.tell(tell, "tell-a")).trial.params).toEqual(before);

    const lines = [...svc.exportStudy("p")];
    await svc.importStudy(lines.join("\n"), "copy");
    expect((await svc.getTrial({ study: "copy", trial: a.trial.number })).params).toEqual(before);
    expect([...svc.exportStudy("copy")].slice(1)).toEqual(lines.slice(1));
    const schedule = (await svc.lineage({ study: "copy", trial: a.trial.number })).schedule;
    expect(schedule.map((s) => [s.from_step, s.trial, s.params])).toEqual([[0, a.trial.number, before]]);
  });
});
