import { describe, expect, it } from "vitest";
import { StudyService } from "../../service/study-service.js";
import { toyProblem } from "../../testing/pbt-problems.js";
import { clockedService } from "../../testing/clocked-service.js";

describe("pbt: an exploit loaded one report late (non-blocking reports)", () => {
  let svc: StudyService;
  clockedService((s) => (svc = s));

  async function population(name: string) {
    await svc.createStudy({ name, space: toyProblem.space, direction: "maximize", seed: 3, strategy: { name: "pbt", options: { population_size: 2, perturbation_interval: 2, resample_probability: 0 } } });
    const a = await svc.ask({ study: name });
    const b = await svc.ask({ study: name });
    const rep = (t: typeof a, step: number, value: number, extra: Record<string, unknown> = {}) =>
      svc.report({ study: name, trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `ck/${t.trial.number}/${step}`, ...extra } });
    await rep(b, 1, 0.9);
    await rep(b, 2, 0.9);
    await rep(a, 1, 0.1);
    const d = await rep(a, 2, 0.1); // exploit decided at a's step 2: load b's step-2 checkpoint
    expect(d.decision).toMatchObject({ action: "update", restore: { trial: b.trial.number, checkpoint: `ck/${b.trial.number}/2` } });
    return { a, b, rep };
  }

  it("records the exploit at the step after whose report it was loaded, as a blocking report does, and counts the interval from there", async () => {
    const { a, b, rep } = await population("late");
    const donor = `ck/${b.trial.number}/2`;
    // The non-blocking client got that decision with its step-3 report and loaded b's checkpoint after it.
    const d3 = await rep(a, 3, 0.2, { pbt_loaded: { checkpoint: donor, after_step: 3 } });
    expect(d3.decision.action).toBe("continue");
    // Not loaded before the step-3 report was answered: the donor checkpoint stays pinned until a later report.
    expect(d3.decision.action !== "prune" && (d3.decision.delete_checkpoints ?? []).includes(donor)).toBe(false);
    const t3 = await svc.getTrial({ study: "late", trial: a.trial.number });
    const lin = t3.system_attrs.pbt_lineage as { step: number; donor: number | null; donor_step: number | null }[];
    expect(lin.map((e) => [e.step, e.donor, e.donor_step])).toEqual([[0, null, null], [3, b.trial.number, 2]]);
    expect((lin[1] as { decided_step?: number }).decided_step).toBe(2);
    expect(t3.system_attrs.pbt_ready_step).toBe(3);
    // The step-3 report again (a new request id, the Python client's resend of the last step for a
    // fresh decision): the entry moved to step 3 was decided at step 2, not by this step's report,
    // which was answered continue; it was once answered update with a second restore of the donor.
    const again = await rep(a, 3, 0.2);
    expect(again.decision.action).toBe("continue");
    // Step 4 is one step after the load, not an interval after it: no exploit yet (it was one with ready at 2).
    expect((await rep(a, 4, 0.1)).decision.action).toBe("continue");
    // Its best value (step 3) came from its own weights: the schedule is a's own from the start (it
    // was b's, then a's from age 2, with the exploit recorded at step 2).
    const l = await svc.lineage({ study: "late", trial: a.trial.number });
    expect([l.step, l.until_step]).toEqual([3, 3]);
    expect(l.schedule.map((s) => [s.from_step, s.trial, s.trial_step])).toEqual([[0, a.trial.number, 0]]);
  });

  it("leaves a blocking report's exploit where it was decided, and refuses a malformed marker", async () => {
    const { a, b, rep } = await population("marker");
    const donor = `ck/${b.trial.number}/2`;
    await expect(rep(a, 3, 0.2, { pbt_loaded: donor })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(rep(a, 3, 0.2, { pbt_loaded: { checkpoint: donor, after_step: 4 } })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: /at most this report's step/ });
    // Loaded right after the step-2 report (blocking): a marker saying so changes nothing.
    await rep(a, 3, 0.2, { pbt_loaded: { checkpoint: donor, after_step: 2 } });
    const t = await svc.getTrial({ study: "marker", trial: a.trial.number });
    expect((t.system_attrs.pbt_lineage as { step: number }[]).map((e) => e.step)).toEqual([0, 2]);
    expect(t.system_attrs.pbt_ready_step).toBe(2);
  });

  it("keeps a blocking report's exploit pinned for blind reports only until a report that was not blind confirmed it", async () => {
    const { a, b, rep } = await population("blind");
    const donor = `ck/${b.trial.number}/2`;
    const unconfirmed = async () => (await svc.getTrial({ study: "blind", trial: a.trial.number })).system_attrs.pbt_unconfirmed ?? null;
    // The first report after the exploit is blind: the client may not know of it yet.
    await rep(a, 2.5, 0.95, { pbt_blind: true });
    expect(await unconfirmed()).toBe(donor);
    await rep(a, 2.6, 0.96, { pbt_blind: true });
    expect(await unconfirmed()).toBe(donor);
    // Not blind: every answer was in, so it was loaded. Later blind reports are no reason to keep it
    // (they kept it for as long as the client reported without waiting).
    await rep(a, 2.7, 0.97);
    expect(await unconfirmed()).toBe(null);
    await rep(a, 2.8, 0.98, { pbt_blind: true });
    expect(await unconfirmed()).toBe(null);
    const released = await rep(b, 3, 0.99);
    expect(released.decision.action !== "prune" && released.decision.delete_checkpoints).toContain(donor);
  });

  it("synchronous: the report that loads an exploit late decides nothing, and the rounds its old weights reported in are skipped", async () => {
    await svc.createStudy({ name: "sync", space: toyProblem.space, direction: "maximize", seed: 3, strategy: { name: "pbt", options: { population_size: 2, perturbation_interval: 1, resample_probability: 0, mode: "synchronous" } } });
    const a = await svc.ask({ study: "sync" });
    const b = await svc.ask({ study: "sync" });
    const rep = (t: typeof a, step: number, value: number, extra: Record<string, unknown> = {}) =>
      svc.report({ study: "sync", trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `ck/${t.trial.number}/${step}`, ...extra } });
    await rep(b, 1, 0.9);
    expect((await rep(a, 1, 0.1)).decision).toMatchObject({ action: "update", restore: { checkpoint: `ck/${b.trial.number}/1` } });
    await rep(b, 2, 0.9);
    await rep(b, 3, 0.9);
    // a, worst at boundary 3 too, loads that exploit only after its report of step 3.5: no second
    // exploit in the same answer (its client loads the last restore only), and none at boundary 3,
    // whose value was its old weights'.
    expect((await rep(a, 3.5, 0.1, { pbt_loaded: { checkpoint: `ck/${b.trial.number}/1`, after_step: 3.5 } })).decision.action).toBe("continue");
    const t = await svc.getTrial({ study: "sync", trial: a.trial.number });
    expect((t.system_attrs.pbt_lineage as { step: number }[]).map((e) => e.step)).toEqual([0, 3.5]);
    expect(t.system_attrs.pbt_ready_step).toBe(3);
    await rep(b, 4, 0.9);
    expect((await rep(a, 4, 0.1)).decision).toMatchObject({ action: "update", restore: { checkpoint: `ck/${b.trial.number}/4` } });
  });

  describe("an exploit that took effect on nothing the member reported is not recorded as one at its completion", () => {
    const lineageSteps = (t: { system_attrs: Record<string, unknown> }) => (t.system_attrs.pbt_lineage as { step: number }[]).map((e) => e.step);

    it("decided by its last (blocking) report: the loop ended right after it", async () => {
      const { a, b } = await population("last");
      const before = a.trial.params;
      const done = await svc.tell({ study: "last", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.1 });
      const t = await svc.getTrial({ study: "last", trial: a.trial.number });
      // The told value is the old weights', trained with the old params: not the donor's, nor the explored ones.
      expect(lineageSteps(t)).toEqual([0]);
      expect(t.system_attrs.pbt_not_loaded).toMatchObject({ step: 2, donor: b.trial.number, checkpoint: `ck/${b.trial.number}/2` });
      expect(t.params).toEqual(before);
      expect(t.system_attrs.pbt_generation).toBe(0);
      expect(done.trial.params).toEqual(before);
      // Its model's schedule is its own: it named b's, from b's step 2 on, at age 2 with nothing trained after.
      const l = await svc.lineage({ study: "last", trial: a.trial.number });
      expect(l.schedule.map((x) => [x.from_step, x.trial, x.trial_step])).toEqual([[0, a.trial.number, 0]]);
    });

    it("held unconfirmed by blind reports (a non-blocking client got it with its last answers), but kept once a report confirmed it", async () => {
      const { a, b, rep } = await population("held");
      const before = a.trial.params;
      await rep(a, 2.5, 0.2, { pbt_blind: true });
      await svc.tell({ study: "held", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.2 });
      const t = await svc.getTrial({ study: "held", trial: a.trial.number });
      expect(lineageSteps(t)).toEqual([0]);
      expect(t.params).toEqual(before);
      expect(t.system_attrs.pbt_unconfirmed ?? null).toBe(null);

      const c = await population("loaded");
      await c.rep(c.a, 3, 0.5); // not blind: it loaded the exploit after its step-2 report and trained on
      await svc.tell({ study: "loaded", trial: c.a.trial.number, token: c.a.lease.token, state: "COMPLETE", value: 0.5 });
      const kept = await svc.getTrial({ study: "loaded", trial: c.a.trial.number });
      expect(lineageSteps(kept)).toEqual([0, 2]);
      expect(kept.system_attrs.pbt_not_loaded).toBeUndefined();
      expect(kept.system_attrs.pbt_generation).toBe(1);
      expect(kept.params).not.toEqual(c.a.trial.params);
      expect(b.trial.number).not.toBe(a.trial.number);
    });
  });

  it("a member lost while blind reports held its exploit never confirmed loading it: its slot's refill is not pointed at that checkpoint", async () => {
    const { a, b, rep } = await population("lost-held");
    const donor = `ck/${b.trial.number}/2`;
    await rep(a, 2.5, 0.2, { pbt_blind: true }); // after the exploit's step, but blind: the load is unconfirmed
    await svc.tell({ study: "lost-held", trial: a.trial.number, token: a.lease.token, state: "FAIL", reason: "RuntimeError: checkpoint could not be read" });
    // b's latest checkpoint is still that one: the refill loaded it (and failed the same way) until b saved another.
    const refill = await svc.ask({ study: "lost-held" });
    expect(refill.trial.system_attrs.pbt_refill_of).toBe(a.trial.number);
    expect(refill.trial.system_attrs.pbt_restore).toBeUndefined();
    await rep(b, 3, 0.9);
    const next = await svc.tell({ study: "lost-held", trial: refill.trial.number, token: refill.lease.token, state: "FAIL", reason: "RuntimeError: boom" });
    expect(next.trial.state).toBe("FAIL");
    expect((await svc.ask({ study: "lost-held" })).trial.system_attrs.pbt_restore).toMatchObject({ checkpoint: `ck/${b.trial.number}/3` });
    expect(donor).not.toBe(`ck/${b.trial.number}/3`);
  });

  it("a member whose blind reports hold its exploit is a donor of its old weights: the recipient gets the params, age and generation they trained with", async () => {
    await svc.createStudy({ name: "held-donor", space: toyProblem.space, direction: "maximize", seed: 3, strategy: { name: "pbt", options: { population_size: 3, perturbation_interval: 2, explore: false } } });
    const [a, b, c] = [await svc.ask({ study: "held-donor" }), await svc.ask({ study: "held-donor" }), await svc.ask({ study: "held-donor" })];
    const rep = (t: typeof a, step: number, value: number, extra: Record<string, unknown> = {}) =>
      svc.report({ study: "held-donor", trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `ck/${t.trial.number}/${step}`, ...extra } });
    await rep(b, 1, 0.9);
    await rep(b, 3, 0.9); // b's model is 3 steps old when a is told to load it
    await rep(a, 1, 0.1);
    expect((await rep(a, 2, 0.1)).decision).toMatchObject({ action: "update", restore: { checkpoint: `ck/${b.trial.number}/3` } });
    await rep(c, 1, 0.5);
    expect((await rep(c, 2, 0.5)).decision.action).toBe("continue");
    // Blind: a has not heard of the exploit; its step-2.5 checkpoint is its own weights, trained with its own params.
    await rep(a, 2.5, 0.99, { pbt_blind: true });
    await rep(c, 3, 0.2);
    const d = await rep(c, 4, 0.2); // c is the worst, a the best: c loads a's step-2.5 checkpoint
    expect(d.decision).toMatchObject({ action: "update", restore: { trial: a.trial.number, checkpoint: `ck/${a.trial.number}/2.5` } });
    // explore: false copies the donor's params as they were when that checkpoint was saved (they were b's).
    expect(d.decision.action === "update" && d.decision.params).toEqual(a.trial.params);
    const t = await svc.getTrial({ study: "held-donor", trial: c.trial.number });
    expect(t.system_attrs.pbt_generation).toBe(1);
    expect((t.system_attrs.pbt_lineage as { age: number }[])[1]?.age).toBe(2.5); // a's own 2.5 steps (b's 3 + 0.5 before)
    // Its model at its best report (step 5): a's own weights, trained with a's params throughout (it
    // was b's from age 0, then a's from age 2 with b's params).
    await rep(c, 5, 0.95);
    const l = await svc.lineage({ study: "held-donor", trial: c.trial.number });
    expect(l.step).toBe(5);
    expect(l.schedule.map((x) => [x.from_step, x.trial, x.params])).toEqual([[0, a.trial.number, a.trial.params]]);
  });
});
