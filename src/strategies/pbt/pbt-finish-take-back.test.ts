/**
 * What a PBT member's record says about an exploit decided at its last report once the member
 * finishes, on SQLite through the service (stored, read back after a restart):
 *
 * - lost (told FAIL or PRUNED, or reaped) before it reported anything on the donor's weights: the
 *   exploit trained nothing, so it leaves `pbt_lineage` (into `pbt_not_loaded`) as it does for a
 *   COMPLETE member, and the lineage read models (the lineage op, the dashboard's tree) and the
 *   trial's params and generation say so; the donor checkpoint it never confirmed is still avoided;
 * - COMPLETE with a value other than its last report's: a measurement taken after that report,
 *   on the weights the exploit loaded, so the exploit took effect on the told value and stays; one it
 *   never loaded (held by blind reports, or decided at a non-blocking last report, `pbt_nowait`) is
 *   taken back whatever the value.
 */
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import type { Storage } from "../../storage/storage.js";
import { sqliteBackend } from "../../testing/storage-backends.js";
import { toyProblem } from "../../testing/pbt-problems.js";

describe("pbt: an exploit at a member's last report, at its finish (sqlite)", () => {
  let storage: Storage;
  let svc: StudyService;
  let location: string;
  let now = 1_000_000;
  const open = async () => {
    storage = await sqliteBackend.open(location);
    svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
  };
  const reopen = async () => {
    await svc.close();
    await storage.close();
    await open();
  };
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  type Asked = Awaited<ReturnType<StudyService["ask"]>>;
  const rep = (t: Asked, step: number, value: number, data: Record<string, unknown> = {}) =>
    svc.report({ study: "p", trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `ck/${t.trial.number}/${step}`, ...data } });

  /** b (0.9) is the donor; a (0.1) is exploited at its report of step 2, the last it makes. */
  const exploitedAtLastReport = async (data: Record<string, unknown> = {}, options: Record<string, unknown> = {}) => {
    location = sqliteBackend.location();
    now = 1_000_000;
    await open();
    await svc.createStudy({
      name: "p", space: toyProblem.space, direction: "maximize", seed: 3, lease_ttl_s: 5,
      strategy: { name: "pbt", options: { population_size: 2, perturbation_interval: 2, resample_probability: 0, ...options } },
    });
    const a = await svc.ask({ study: "p" });
    const b = await svc.ask({ study: "p" });
    await rep(b, 1, 0.9);
    await rep(b, 2, 0.9);
    await rep(a, 1, 0.1);
    const exploit = await rep(a, 2, 0.1, data);
    expect(exploit.decision.action).toBe("update");
    return { a, b };
  };

  /** What the stored record and the read models say about a's exploit. */
  const record = async (a: Asked) => {
    const t = await svc.getTrial({ study: "p", trial: a.trial.number });
    const lin = t.system_attrs.pbt_lineage as { donor: number | null }[];
    const tree = await svc.plotSpec({ study: "p", kind: "lineage" });
    const schedule = (await svc.lineage({ study: "p", trial: a.trial.number })).schedule;
    return {
      entries: lin.length,
      notLoaded: t.system_attrs.pbt_not_loaded !== undefined,
      generation: t.system_attrs.pbt_generation,
      params: t.params,
      stretches: Number(/(\d+) stretch/.exec(tree.caption)?.[1]),
      scheduleTrials: schedule.map((s) => s.trial),
    };
  };

  const takenBack = (a: Asked) => ({ entries: 1, notLoaded: true, generation: 0, params: a.trial.params, stretches: 2, scheduleTrials: [a.trial.number] });

  for (const how of ["FAIL", "PRUNED", "reaped"] as const) {
    it(`lost (${how}) before any report on the donor's weights: the exploit leaves its lineage, params and generation`, async () => {
      const { a, b } = await exploitedAtLastReport();
      if (how === "reaped") {
        now += 4_000;
        await svc.heartbeat({ leases: [{ study: "p", trial: b.trial.number, token: b.lease.token }] });
        now += 4_000;
        expect(await svc.reap()).toBe(1);
      } else await svc.tell({ study: "p", trial: a.trial.number, token: a.lease.token, state: how });
      await reopen();
      expect(await record(a)).toEqual(takenBack(a));
      // The donor checkpoint it never confirmed loading is still one no refill is pointed at.
      const refill = await svc.ask({ study: "p" });
      expect(refill.trial.system_attrs.pbt_refill_of).toBe(a.trial.number);
      expect(refill.trial.system_attrs.pbt_restore).toBeUndefined();
    });
  }

  it("COMPLETE with its last report's value: taken back (that value is the old weights')", async () => {
    const { a } = await exploitedAtLastReport();
    await svc.tell({ study: "p", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.1 });
    await reopen();
    expect(await record(a)).toEqual(takenBack(a));
  });

  it("COMPLETE with another value, measured after the report that loaded the donor's weights: the exploit stays", async () => {
    const { a, b } = await exploitedAtLastReport();
    const explored = (await svc.getTrial({ study: "p", trial: a.trial.number })).params;
    await svc.tell({ study: "p", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.88 });
    await reopen();
    // (The lineage op follows the trial's best *report*, step 1's, made before the exploit.)
    expect(await record(a)).toEqual({ entries: 2, notLoaded: false, generation: 1, params: explored, stretches: 3, scheduleTrials: [a.trial.number] });
  });

  it("COMPLETE with another value after a non-blocking last report that decided the exploit: taken back (the loop never saw it)", async () => {
    const { a } = await exploitedAtLastReport({ pbt_nowait: true });
    await svc.tell({ study: "p", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.88 });
    await reopen();
    expect(await record(a)).toEqual(takenBack(a));
  });

  it("COMPLETE with another value after an explore-only change (exploit: false) at its last report: taken back (no weights were loaded)", async () => {
    // The explore-only ablation changes params on the member's own weights: a value told after the
    // report that decided it measured those weights, trained with the params before it, whatever it is.
    const { a } = await exploitedAtLastReport({}, { exploit: false });
    const lin = (await svc.getTrial({ study: "p", trial: a.trial.number })).system_attrs.pbt_lineage as { donor: number | null }[];
    expect(lin.map((e) => e.donor)).toEqual([null, null]);
    await svc.tell({ study: "p", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.88 });
    await reopen();
    const t = await svc.getTrial({ study: "p", trial: a.trial.number });
    expect(t.system_attrs.pbt_not_loaded).toMatchObject({ donor: null, step: 2 });
    expect((t.system_attrs.pbt_lineage as unknown[]).length).toBe(1);
    expect(t.params).toEqual(a.trial.params);
  });

  it("COMPLETE with another value after blind reports that never confirmed the load: taken back all the same", async () => {
    const { a } = await exploitedAtLastReport();
    // A non-blocking client's reports made before it saw the exploit: it never loaded the donor's weights.
    await rep(a, 3, 0.15, { pbt_blind: true });
    await svc.tell({ study: "p", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.2 });
    await reopen();
    expect(await record(a)).toEqual(takenBack(a));
  });
});
