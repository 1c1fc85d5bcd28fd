/**
 * Lost PBT members through the service: where a lost member's checkpoints are released (to a
 * client that acts on the notice), and a refill whose donor checkpoint could not be loaded.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { SearchSpace } from "../../domain/distributions.js";
import { TuneportError } from "../../domain/errors.js";
import type { Trial } from "../../domain/trial.js";
import { StudyService } from "../../service/study-service.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { clockedService } from "../../testing/clocked-service.js";
import { type PbtOptions, pbtStrategyFactory } from "./pbt-strategy.js";

describe("lost pbt members", () => {
  let svc: StudyService;
  const clock = clockedService((s) => (svc = s));

  beforeEach(async () => {
    await svc.createStudy({
      name: "p", space: { lr: { type: "float", low: 1e-4, high: 1, log: true } }, seed: 1, lease_ttl_s: 5,
      strategy: { name: "pbt", options: { population_size: 2, perturbation_interval: 100 } },
    });
  });

  type Asked = Awaited<ReturnType<StudyService["ask"]>>;
  const rep = (t: Asked, step: number, value: number) =>
    svc.report({ study: "p", trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `ck/${t.trial.number}/${step}` } });
  const deleted = (d: Awaited<ReturnType<typeof rep>>) => (d.decision.action !== "prune" && d.decision.delete_checkpoints) || [];

  it("a member told FAIL does not take its checkpoints' release with it: the next live member's report releases them", async () => {
    const a = await svc.ask({ study: "p" });
    const b = await svc.ask({ study: "p" });
    await rep(a, 1, 1);
    await rep(b, 1, 2);
    // b's training loop raised (the client tells FAIL and deletes nothing: only pbt_complete acts on pbt_released).
    const tb = await svc.tell({ study: "p", trial: b.trial.number, token: b.lease.token, state: "FAIL", reason: "RuntimeError: boom" });
    expect(tb.trial.system_attrs.pbt_released).toBeUndefined();
    // a, alive, is told to delete them at its next report.
    expect(deleted(await rep(a, 2, 0.5))).toEqual(["ck/0/1", "ck/1/1"]);
    const ta = await svc.tell({ study: "p", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    expect(ta.trial.system_attrs.pbt_released).toEqual(["ck/1/1", "ck/0/2"]);
  });

  it("a reaped member's checkpoints go to the next live report, also when it was the last member running (its refill's)", async () => {
    const a = await svc.ask({ study: "p" });
    const b = await svc.ask({ study: "p" });
    await rep(a, 1, 1);
    await rep(b, 1, 2);
    await svc.tell({ study: "p", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 });
    clock.now += 60_000;
    expect(await svc.reap()).toBe(1);
    // No donor runs: the lost slot is refilled with a fresh start, whose first report releases b's checkpoint.
    const r = await svc.ask({ study: "p" });
    expect(r.trial.system_attrs.pbt_refill_of).toBe(b.trial.number);
    expect(r.trial.system_attrs.pbt_restore).toBeUndefined();
    expect(deleted(await rep(r, 1, 3))).toEqual(["ck/1/1"]);
  });

  it("a trial outside the population (enqueued with every slot taken) has its checkpoints released too", async () => {
    const a = await svc.ask({ study: "p" });
    await svc.ask({ study: "p" });
    await svc.enqueue({ study: "p", params: { lr: 0.1 } });
    const c = await svc.ask({ study: "p" });
    expect(c.trial.system_attrs.pbt_member).toBeUndefined();
    // Before: every report answered a bare continue and pbt_complete got nothing: one file per report stayed.
    expect(deleted(await rep(c, 1, 1))).toEqual([]);
    expect(deleted(await rep(c, 2, 1))).toEqual(["ck/2/1"]);
    expect(deleted(await rep(c, 3, 1))).toEqual(["ck/2/2"]);
    const tc = await svc.tell({ study: "p", trial: c.trial.number, token: c.lease.token, state: "COMPLETE", value: 1 });
    expect(tc.trial.system_attrs.pbt_released).toEqual(["ck/2/3"]);
    // Never a donor, and a lost one's latest goes to a member's next report.
    const d = await svc.ask({ study: "p" }).catch(() => null);
    expect(d).toBeNull();
    expect(deleted(await rep(a, 1, 1))).toEqual([]);
  });

  it("a lost trial outside the population has its latest checkpoint released by a member's report", async () => {
    const a = await svc.ask({ study: "p" });
    await svc.ask({ study: "p" });
    await svc.enqueue({ study: "p", params: { lr: 0.1 } });
    const c = await svc.ask({ study: "p" });
    await rep(c, 1, 1);
    await svc.tell({ study: "p", trial: c.trial.number, token: c.lease.token, state: "FAIL" });
    expect(deleted(await rep(a, 1, 1))).toEqual(["ck/2/1"]);
  });

  it("refuses a reaped donor's late report naming its checkpoints that a live recipient has not loaded yet", async () => {
    await svc.createStudy({
      name: "q", space: { lr: { type: "float", low: 1e-4, high: 1, log: true } }, seed: 1, lease_ttl_s: 5,
      strategy: { name: "pbt", options: { population_size: 2, perturbation_interval: 1 } },
    });
    const repQ = (t: Asked, step: number, value: number) =>
      svc.report({ study: "q", trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `q/${t.trial.number}/${step}` } });
    const lateReport = (t: Asked) => repQ(t, 3, 0).then(() => null, (e: TuneportError) => e);
    const donor = await svc.ask({ study: "q" });
    const recipient = await svc.ask({ study: "q" });
    await repQ(donor, 1, 0.2);
    await repQ(donor, 2, 0.1);
    expect((await repQ(recipient, 1, 1)).decision).toMatchObject({ action: "update", restore: { checkpoint: `q/${donor.trial.number}/2` } });
    clock.advance(4);
    await svc.heartbeat({ leases: [{ study: "q", trial: recipient.trial.number, token: recipient.lease.token }] });
    clock.advance(2);
    expect(await svc.reap()).toBe(1);
    // Its worker, back after a stall, must not delete that file (it may have just written it again).
    const refused = await lateReport(donor);
    expect(refused?.code).toBe("LEASE_LOST");
    expect(refused?.data).toMatchObject({ checkpoints_needed: [`q/${donor.trial.number}/2`] });
    // A heartbeat's refusal says it too (a worker often learns of its lost lease there first).
    const [beat] = await svc.heartbeat({ leases: [{ study: "q", trial: donor.trial.number, token: donor.lease.token }] });
    expect(beat).toMatchObject({ ok: false, code: "LEASE_LOST", data: { checkpoints_needed: [`q/${donor.trial.number}/2`] } });
    // Once the recipient reported on the loaded weights, nobody needs it: the refusal names nothing.
    await repQ(recipient, 2, 0.5);
    expect((await lateReport(donor))?.data?.checkpoints_needed).toBeUndefined();
  });

  it("a refill whose donor checkpoint could not be loaded is not pointed at it again", async () => {
    const a = await svc.ask({ study: "p" });
    const b = await svc.ask({ study: "p" });
    await rep(a, 1, 1);
    await rep(b, 1, 2);
    await svc.tell({ study: "p", trial: b.trial.number, token: b.lease.token, state: "FAIL" });
    const r1 = await svc.ask({ study: "p" });
    expect(r1.trial.system_attrs.pbt_restore).toEqual({ trial: a.trial.number, checkpoint: "ck/0/1", step: 1 });
    // ck/0/1 is torn or on a disk this worker cannot read: the refill fails before it reports.
    await svc.tell({ study: "p", trial: r1.trial.number, token: r1.lease.token, state: "FAIL", reason: "FileNotFoundError: ck/0/1" });
    // Before: the next refill was pointed at ck/0/1 again, and so on for as long as a stays at step 1.
    const r2 = await svc.ask({ study: "p" });
    expect(r2.trial.system_attrs.pbt_refill_of).toBe(r1.trial.number);
    expect(r2.trial.system_attrs.pbt_restore).toBeUndefined();
    await svc.tell({ study: "p", trial: r2.trial.number, token: r2.lease.token, state: "FAIL" });
    // A newer checkpoint of the same donor is fine again.
    await rep(a, 2, 0.5);
    const r3 = await svc.ask({ study: "p" });
    expect(r3.trial.system_attrs.pbt_restore).toEqual({ trial: a.trial.number, checkpoint: "ck/0/2", step: 2 });
  });

  it("an exploit does not pick a donor checkpoint that a lost recipient could not load", async () => {
    await svc.createStudy({
      name: "q", space: { lr: { type: "float", low: 1e-4, high: 1, log: true } }, seed: 1, lease_ttl_s: 5,
      strategy: { name: "pbt", options: { population_size: 3, perturbation_interval: 2, quantile_fraction: 0.5 } },
    });
    const r = (t: Asked, step: number, value: number) =>
      svc.report({ study: "q", trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `q/${t.trial.number}/${step}` } });
    const a = await svc.ask({ study: "q" });
    const b = await svc.ask({ study: "q" });
    const c = await svc.ask({ study: "q" });
    await r(a, 1, 1); // best
    await r(b, 1, 2);
    await svc.tell({ study: "q", trial: c.trial.number, token: c.lease.token, state: "FAIL" });
    const r1 = await svc.ask({ study: "q" });
    expect(r1.trial.system_attrs.pbt_restore).toMatchObject({ checkpoint: "q/0/1" });
    await svc.tell({ study: "q", trial: r1.trial.number, token: r1.lease.token, state: "FAIL" });
    // b is the bottom of two ranked members, ready: its donor a's only checkpoint failed to load once.
    const d = await r(b, 2, 3);
    expect(d.decision.action === "update" && d.decision.restore).toBeFalsy();
  });
});

describe("pbt revise and unloadable checkpoints", () => {
  const SPACE: SearchSpace = { lr: { type: "float", low: 1e-4, high: 1, log: true } };
  const study = makeStudy(SPACE, { strategy: { name: "pbt", options: {} } });
  const strategy = pbtStrategyFactory.create(pbtStrategyFactory.options.parse({ population_size: 2 }) as PbtOptions);
  const member = (number: number, slot: number, state: Trial["state"], steps: number, restore: string | null = null): Trial => {
    const params = { lr: 0.01 };
    const origin = { step: 0, donor: restore ? 0 : null, donor_step: restore ? 1 : null, age: 0, params, checkpoint: restore };
    return makeTrial(number, params, SPACE, {
      state,
      intermediate: Array.from({ length: steps }, (_, i) => ({ step: i + 1, value: i + 1 })),
      systemAttrs: {
        pbt_member: slot, pbt_generation: 0, pbt_lineage: [origin],
        pbt_checkpoints: steps > 0 ? [{ path: `ck/${number}/${steps}`, step: steps }] : [],
        ...(restore ? { pbt_restore: { trial: 0, checkpoint: restore, step: 1 } } : {}),
      },
    });
  };

  it("re-points a refill computed before another refill failed to load the same checkpoint", () => {
    const atSuggest = [member(0, 0, "RUNNING", 1), member(1, 1, "FAIL", 1)];
    const s = strategy.suggest(suggestRequest(study, atSuggest));
    expect(s.systemAttrs?.pbt_restore).toMatchObject({ checkpoint: "ck/0/1" });
    // Meanwhile a refill of the slot was committed, pointed at ck/0/1, and failed before it reported.
    const atCommit = [...atSuggest, member(2, 1, "FAIL", 0, "ck/0/1")];
    const revised = strategy.revise!(suggestRequest(study, atCommit), s);
    expect(revised.systemAttrs?.pbt_restore).toBeUndefined();
    expect(revised.systemAttrs?.pbt_refill_of).toBe(2);
  });

  it("does not commit a refill of a slot given up meanwhile (another refill of it failed)", () => {
    const once = pbtStrategyFactory.create(pbtStrategyFactory.options.parse({ population_size: 2, max_failures: 1 }) as PbtOptions);
    const atSuggest = [member(0, 0, "RUNNING", 1), member(1, 1, "FAIL", 1)];
    const s = once.suggest(suggestRequest(study, atSuggest));
    expect(s.systemAttrs?.pbt_member).toBe(1);
    const atCommit = [...atSuggest, member(2, 1, "FAIL", 0)];
    expect(() => once.revise!(suggestRequest(study, atCommit), s)).toThrow(/max_failures \(1\)/);
  });
});

describe("a pbt training script that always fails", () => {
  let svc: StudyService;
  const clock = clockedService((s) => (svc = s));

  const create = (name: string, options: Record<string, unknown>) =>
    svc.createStudy({ name, space: { lr: { type: "float", low: 1e-4, high: 1, log: true } }, seed: 1, lease_ttl_s: 5, strategy: { name: "pbt", options: { perturbation_interval: 100, ...options } } });
  const exhausted = async (study: string) => {
    const err = await svc.ask({ study }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TuneportError);
    return err as TuneportError;
  };

  it("gives each slot up at its (max_failures + 1)th FAIL, also when every trial reported once first, and says why", async () => {
    await create("p", { population_size: 2 });
    // A typo after the first report: every trial, refills included, reports step 1 and raises.
    const asked: number[] = [];
    let err: unknown = null;
    for (let i = 0; i < 40 && err === null; i++) {
      try {
        const t = await svc.ask({ study: "p" });
        asked.push(t.trial.number);
        await svc.report({ study: "p", trial: t.trial.number, token: t.lease.token, step: 1, value: 1, data: { checkpoint: `ck/${t.trial.number}/1` } });
        await svc.tell({ study: "p", trial: t.trial.number, token: t.lease.token, state: "FAIL", reason: "NameError: name 'lss' is not defined" });
      } catch (e) {
        err = e;
      }
    }
    // Before: 40 trials and counting (every ask refilled a slot).
    expect(asked).toHaveLength(8); // 2 slots × (1 + max_failures 3)
    expect(err).toBeInstanceOf(TuneportError);
    const e = err as TuneportError;
    expect(e.code).toBe("SEARCH_SPACE_EXHAUSTED");
    expect(e.data).toMatchObject({ reason: "max_failures", max_failures: 3, given_up: [0, 1], running: 0, last_failed_trial: 7 });
    expect(e.message).toMatch(/every one of the 2 PBT member slots was given up/);
    expect(e.message).toMatch(/NameError: name 'lss' is not defined/);
    // It stays so: the next ask says the same and creates nothing.
    expect((await exhausted("p")).data?.reason).toBe("max_failures");
    expect((await svc.listTrials({ study: "p" })).trials).toHaveLength(8);
  });

  it("counts only the script's failures: a lost lease and PRUNED are refilled without limit", async () => {
    await create("q", { population_size: 2, max_failures: 0 });
    const a = await svc.ask({ study: "q" });
    const b = await svc.ask({ study: "q" });
    await svc.report({ study: "q", trial: a.trial.number, token: a.lease.token, step: 1, value: 1, data: { checkpoint: "q/0/1" } });
    await svc.report({ study: "q", trial: b.trial.number, token: b.lease.token, step: 1, value: 2, data: { checkpoint: "q/1/1" } });
    // b's worker is killed (preempted) after training: the reaper fails it; that is what refills are for.
    clock.now += 4_000;
    await svc.heartbeat({ leases: [{ study: "q", trial: a.trial.number, token: a.lease.token }] });
    clock.now += 2_000;
    expect(await svc.reap()).toBe(1);
    const r1 = await svc.ask({ study: "q" });
    expect(r1.trial.system_attrs.pbt_refill_of).toBe(b.trial.number);
    await svc.tell({ study: "q", trial: r1.trial.number, token: r1.lease.token, state: "PRUNED" });
    const r2 = await svc.ask({ study: "q" });
    expect(r2.trial.system_attrs.pbt_refill_of).toBe(r1.trial.number);
    // The script raises: with max_failures 0 the slot is not refilled; a still runs.
    await svc.tell({ study: "q", trial: r2.trial.number, token: r2.lease.token, state: "FAIL", reason: "RuntimeError: boom" });
    const e = await exhausted("q");
    expect(e.code).toBe("SEARCH_SPACE_EXHAUSTED");
    expect(e.data).toMatchObject({ reason: "max_failures", given_up: [1], running: 1, last_failed_trial: r2.trial.number, last_fail_reason: "RuntimeError: boom" });
    expect(e.message).toMatch(/1 of the 2 PBT member slots \(1\) were given up/);
  });

  it("names the checkpoints a given-up member left when no member runs to release them (a member's report still does)", async () => {
    await create("c", { population_size: 2, max_failures: 0 });
    const a = await svc.ask({ study: "c" });
    const b = await svc.ask({ study: "c" });
    const rep = (t: Awaited<ReturnType<StudyService["ask"]>>, step: number) =>
      svc.report({ study: "c", trial: t.trial.number, token: t.lease.token, step, value: 1, data: { checkpoint: `c/${t.trial.number}/${step}` } });
    const deleted = (d: Awaited<ReturnType<typeof rep>>) => (d.decision.action !== "prune" && d.decision.delete_checkpoints) || [];
    await rep(a, 1);
    await rep(b, 1);
    await svc.tell({ study: "c", trial: b.trial.number, token: b.lease.token, state: "FAIL", reason: "RuntimeError: boom" });
    // a still runs: its next report or completion releases b's checkpoint, so nothing is said to be left.
    expect((await exhausted("c")).data).not.toHaveProperty("checkpoints_left");
    // An enqueued trial takes the given-up slot; a completes; then the enqueued one raises too, last.
    await svc.enqueue({ study: "c", params: { lr: 0.01 } });
    const n = await svc.ask({ study: "c" });
    expect(n.trial.system_attrs.pbt_member).toBe(1);
    expect(deleted(await rep(n, 1))).toEqual(["c/1/1"]);
    await svc.tell({ study: "c", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 });
    await svc.tell({ study: "c", trial: n.trial.number, token: n.lease.token, state: "FAIL", reason: "RuntimeError: boom" });
    // Nobody runs: n's client (it raised) deletes nothing, and no member reports again.
    const e = await exhausted("c");
    expect(e.data).toMatchObject({ running: 0, given_up: [1], checkpoints_left: [`c/${n.trial.number}/1`] });
    expect(e.message).toMatch(/1 checkpoint\(s\) of lost members stay on disk until a member reports again/);
    // A member that reports again (here the next enqueued one) is told to delete it.
    await svc.enqueue({ study: "c", params: { lr: 0.02 } });
    const m = await svc.ask({ study: "c" });
    expect(deleted(await rep(m, 1))).toEqual([`c/${n.trial.number}/1`]);
  });

  /** Lets `keep`'s lease live and every other running trial's lapse, then reaps. */
  const expireAllBut = async (study: string, keep: Awaited<ReturnType<StudyService["ask"]>>) => {
    clock.now += 4_000;
    await svc.heartbeat({ leases: [{ study, trial: keep.trial.number, token: keep.lease.token }] });
    clock.now += 2_000;
    return svc.reap();
  };

  it("counts a lost lease without progress: a script that dies hard before its first report is given up at its (max_failures + 1)th loss", async () => {
    await create("h", { population_size: 2 });
    const a = await svc.ask({ study: "h" });
    // Slot 1's worker segfaults (or is OOM-killed) at start every time: no report, no FAIL, only a lapsed lease.
    const lostTrials: number[] = [];
    let err: unknown = null;
    for (let i = 0; i < 20 && err === null; i++) {
      try {
        const t = await svc.ask({ study: "h" });
        expect(t.trial.system_attrs.pbt_member).toBe(1);
        lostTrials.push(t.trial.number);
        expect(await expireAllBut("h", a)).toBe(1);
      } catch (e) {
        err = e;
      }
    }
    // Before: refilled for ever (20 trials here), a lease's wait at a time.
    expect(lostTrials).toHaveLength(4); // 1 + max_failures 3
    expect(err).toBeInstanceOf(TuneportError);
    const e = err as TuneportError;
    expect(e.code).toBe("SEARCH_SPACE_EXHAUSTED");
    expect(e.data).toMatchObject({ reason: "max_failures", given_up: [1], running: 1, last_fail_reason: "lease_expired", lost_without_progress: 4 });
    expect(e.message).toMatch(/its worker died without reporting: a crash, OOM or SIGKILL/);
    expect(e.message).toMatch(/4 of those failures were lost leases or interrupted runs without progress/);
  });

  it("counts a lost lease that never got past the slot's highest step (a crash at the same step every time)", async () => {
    await create("g", { population_size: 2, max_failures: 1 });
    const a = await svc.ask({ study: "g" });
    const steps = async (t: Awaited<ReturnType<StudyService["ask"]>>, upTo: number) => {
      for (let s = 1; s <= upTo; s++) await svc.report({ study: "g", trial: t.trial.number, token: t.lease.token, step: s, value: 1 });
    };
    // Each trial of slot 1 reaches step 3 and is OOM-killed there; the first one's steps were progress.
    for (let i = 0; i < 3; i++) {
      const t = await svc.ask({ study: "g" });
      await steps(t, 3);
      await expireAllBut("g", a);
    }
    expect((await exhausted("g")).data).toMatchObject({ reason: "max_failures", given_up: [1], lost_without_progress: 2 });
  });

  it("never counts a lost lease that trained further: a slot preempted after progress is refilled without limit", async () => {
    await create("v", { population_size: 2, max_failures: 0 });
    const a = await svc.ask({ study: "v" });
    await svc.ask({ study: "v" });
    // Slot 1's first member dies before its first report: no progress, it counts, and with max_failures 0 the slot is given up.
    await expireAllBut("v", a);
    expect((await exhausted("v")).data).toMatchObject({ given_up: [1], lost_without_progress: 1 });
    // An enqueued trial takes the slot; from here on each trial reports further than the slot had been, then is preempted.
    await svc.enqueue({ study: "v", params: { lr: 0.01 } });
    let highest = 0;
    for (let i = 0; i < 10; i++) {
      const t = await svc.ask({ study: "v" });
      expect(t.trial.system_attrs.pbt_member).toBe(1);
      highest += 2;
      await svc.report({ study: "v", trial: t.trial.number, token: t.lease.token, step: highest, value: 1 });
      expect(await expireAllBut("v", a)).toBe(1);
    }
    // Ten preemptions with max_failures 0, and still refilled.
    expect((await svc.ask({ study: "v" })).trial.system_attrs.pbt_member).toBe(1);
  });

  it("counts lost leases without progress consecutively: a trial that gets further ends the run", async () => {
    await create("w", { population_size: 2, max_failures: 1 });
    const a = await svc.ask({ study: "w" });
    const lose = async (step: number | null) => {
      const t = await svc.ask({ study: "w" });
      if (step !== null) await svc.report({ study: "w", trial: t.trial.number, token: t.lease.token, step, value: 1 });
      await expireAllBut("w", a);
    };
    await lose(null); // 1 (≤ max_failures 1)
    await lose(5); // progress: the run ends
    await lose(null); // 1 again
    await lose(5); // step 5 again, no further: 2 > 1
    expect((await exhausted("w")).data).toMatchObject({ given_up: [1], lost_without_progress: 2 });
  });

  it("max_failures -1 refills for ever (the behaviour before the limit)", async () => {
    await create("r", { population_size: 2, max_failures: -1 });
    for (let i = 0; i < 12; i++) {
      const t = await svc.ask({ study: "r" });
      await svc.tell({ study: "r", trial: t.trial.number, token: t.lease.token, state: "FAIL" });
    }
    expect((await svc.ask({ study: "r" })).trial.number).toBe(12);
  });

  it("comes back once the script is fixed: update_study raises max_failures, or an enqueued trial takes a given-up slot", async () => {
    await create("s", { population_size: 2, max_failures: 0 });
    for (let i = 0; i < 2; i++) {
      const t = await svc.ask({ study: "s" });
      await svc.tell({ study: "s", trial: t.trial.number, token: t.lease.token, state: "FAIL" });
    }
    expect((await exhausted("s")).data).toMatchObject({ reason: "max_failures", given_up: [0, 1] });
    await svc.enqueue({ study: "s", params: { lr: 0.01 } });
    const e = await svc.ask({ study: "s" });
    expect(e.trial.system_attrs).toMatchObject({ pbt_member: 0, pbt_refill_of: 0 });
    expect((await exhausted("s")).data).toMatchObject({ reason: "max_failures", given_up: [1], running: 1 });
    await svc.tell({ study: "s", trial: e.trial.number, token: e.lease.token, state: "COMPLETE", value: 1 });
    // With no trial running the strategy's options can change (update_study refuses while PBT members run).
    await svc.updateStudy({ study: "s", strategy: { name: "pbt", options: { max_failures: 1 } } });
    const r = await svc.ask({ study: "s" });
    expect(r.trial.system_attrs).toMatchObject({ pbt_member: 1, pbt_refill_of: 1 });
  });
});
