/** The report → decision path through the real service and storage, and its restart safety. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, inject } from "vitest";
import type { Decision } from "../domain/decision.js";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { StudyService } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };

async function open(backend: StorageBackend, location = backend.location()) {
  const storage = await backend.open(location);
  const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  return { svc, close: async () => (await svc.close(), await storage.close()) };
}

/** Trial i's learning curve: value at step s = (i mod 7) + 1/(s+1) — later numbers mod 7 are worse. */
const curve = (i: number, s: number) => (i % 7) + 1 / (s + 1);

/** Runs `n` sequential trials for `steps` steps; returns every decision in order. */
async function run(svc: StudyService, study: string, n: number, steps: number): Promise<Decision["action"][]> {
  const out: Decision["action"][] = [];
  for (let i = 0; i < n; i++) {
    const a = await svc.ask({ study });
    let pruned = false;
    for (let s = 0; s < steps && !pruned; s++) {
      const { decision } = await svc.report({ study, trial: a.trial.number, token: a.lease.token, step: s, value: curve(a.trial.number, s) });
      out.push(decision.action);
      pruned = decision.action === "prune";
    }
    if (pruned) await svc.tell({ study, trial: a.trial.number, token: a.lease.token, state: "PRUNED", value: undefined });
    else await svc.tell({ study, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: curve(a.trial.number, steps - 1) });
  }
  return out;
}

describe.each(storageBackends(inject("pgUrl")))("schedulers through the service on %s", (backend: StorageBackend) => {
  it("prunes with the median rule and records pruned trials", async () => {
    const { svc, close } = await open(backend);
    await svc.createStudy({ name: "m", space: SPACE, scheduler: { name: "median", options: { n_startup_trials: 3 } } });
    const actions = await run(svc, "m", 14, 5);
    expect(actions).toContain("prune");
    const pruned = await svc.listTrials({ study: "m", states: ["PRUNED"] });
    expect(pruned.total).toBeGreaterThan(0);
    for (const t of pruned.trials) expect(t.system_attrs.pruned_at_step).toBeTypeOf("number");
    await close();
  });

  it("makes the same decisions after a restart as without one", async () => {
    const straight = await open(backend);
    await straight.svc.createStudy({ name: "h", space: SPACE, seed: 5, scheduler: { name: "asha", options: { min_resource: 1, max_resource: 27, reduction_factor: 3 } } });
    const expected = await run(straight.svc, "h", 16, 9);
    expect(expected).toContain("prune"); // the comparison below must cover real decisions
    await straight.close();

    const path = backend.location();
    let part = await open(backend, path);
    await part.svc.createStudy({ name: "h", space: SPACE, seed: 5, scheduler: { name: "asha", options: { min_resource: 1, max_resource: 27, reduction_factor: 3 } } });
    const first = await run(part.svc, "h", 8, 9);
    await part.close();
    part = await open(backend, path); // fresh process state: the scheduler rebuilds from storage
    const second = await run(part.svc, "h", 8, 9);
    await part.close();
    expect([...first, ...second]).toEqual(expected);
  });

  it("judges ASHA rungs by resource after update_study moves the ladder (its max_resource 27 → 81)", async () => {
    const { svc, close } = await open(backend);
    await svc.createStudy({ name: "moved", space: SPACE, seed: 3, scheduler: "asha", max_resource: 27, strategy: "random" }); // rungs 3, 9
    const report = async (a: { trial: { number: number }; lease: { token: string } }, step: number, value: number) =>
      (await svc.report({ study: "moved", trial: a.trial.number, token: a.lease.token, step, value })).decision.action;
    const early = [];
    for (let i = 0; i < 3; i++) {
      const a = await svc.ask({ study: "moved" });
      expect(await report(a, 3, 1)).toBe("continue");
      early.push(a);
    }
    await svc.updateStudy({ study: "moved", scheduler: { name: "asha", options: { max_resource: 81 } } }); // rungs 9, 27 (min_resource derived again)
    expect((await svc.getStudy({ study: "moved" })).scheduler?.options).toMatchObject({ max_resource: 81, min_resource: 9 });
    for (let i = 0; i < 3; i++) expect(await report(await svc.ask({ study: "moved" }), 9, 1)).toBe("continue");
    // Judged at 3 before the update, it is judged again at 9 against the values recorded at 9.
    expect(await report(early[0] as (typeof early)[number], 9, 4)).toBe("prune");
    await close();
  });

  it("judges successive-halving rungs by resource after update_study moves the ladder (its min_resource 1 → 3)", async () => {
    const { svc, close } = await open(backend);
    const scheduler = { name: "successive-halving", options: { min_resource: 1, reduction_factor: 3 } }; // rungs 1, 3, 9, …
    await svc.createStudy({ name: "sha", space: SPACE, seed: 3, scheduler, strategy: "random" });
    const report = async (a: { trial: { number: number }; lease: { token: string } }, step: number, value: number) =>
      (await svc.report({ study: "sha", trial: a.trial.number, token: a.lease.token, step, value })).decision.action;
    const early = [];
    for (let i = 0; i < 3; i++) {
      const a = await svc.ask({ study: "sha" });
      expect(await report(a, 1, 1)).toBe("continue");
      early.push(a);
    }
    await svc.updateStudy({ study: "sha", scheduler: { name: "successive-halving", options: { min_resource: 3 } } }); // rungs 3, 9, 27, …
    // Worse at 3 than every value recorded at 1: rung 0 at 3 is empty, so it goes on.
    expect(await report(await svc.ask({ study: "sha" }), 3, 4)).toBe("continue");
    for (let i = 0; i < 3; i++) expect(await report(await svc.ask({ study: "sha" }), 3, 1)).toBe("continue");
    // Judged at 1 before the update, it is judged again at 3 against the values recorded at 3.
    expect(await report(early[0] as (typeof early)[number], 3, 4)).toBe("prune");
    await close();
  });

  it("judges Hyperband rungs by resource after update_study moves the ladder (min_resource 1 → 3, max_resource 27 → 81)", async () => {
    // Both move together so the brackets (and each trial's) stay; bracket 0's rungs move from 1, 3, 9 to 3, 9, 27.
    const { svc, close } = await open(backend);
    await svc.createStudy({ name: "hbm", space: SPACE, seed: 3, scheduler: { name: "hyperband", options: { min_resource: 1, max_resource: 27 } } });
    const report = async (a: { trial: { number: number }; lease: { token: string } }, step: number, value: number) =>
      (await svc.report({ study: "hbm", trial: a.trial.number, token: a.lease.token, step, value })).decision.action;
    const inBracket0 = async () => {
      for (;;) {
        const a = await svc.ask({ study: "hbm" });
        if (a.trial.system_attrs.bracket === 0) return a;
        await svc.tell({ study: "hbm", trial: a.trial.number, token: a.lease.token, state: "FAIL", value: undefined });
      }
    };
    const early = [];
    for (let i = 0; i < 3; i++) {
      const a = await inBracket0();
      expect(await report(a, 1, 1)).toBe("continue");
      early.push(a);
    }
    await svc.updateStudy({ study: "hbm", scheduler: { name: "hyperband", options: { min_resource: 3, max_resource: 81 } } });
    expect(await report(await inBracket0(), 3, 4)).toBe("continue"); // rung 0 at 3 was empty
    for (let i = 0; i < 3; i++) expect(await report(await inBracket0(), 3, 1)).toBe("continue");
    expect(await report(early[0] as (typeof early)[number], 3, 4)).toBe("prune");
    await close();
  });

  it("promotes a define-by-run configuration with its own params (ASHA promotion mode)", async () => {
    // The promoted trial's undeclared params were dropped at ask, so its objective drew new ones and
    // trained another configuration from the promoted trial's checkpoint.
    const { svc, close } = await open(backend);
    await svc.createStudy({ name: "dbr", strategy: "random", seed: 1, scheduler: { name: "asha", options: { mode: "promotion", min_resource: 1, max_resource: 9 } } });
    const xs: number[] = [];
    let promoted = 0;
    for (let i = 0; i < 12; i++) {
      const a = await svc.ask({ study: "dbr" });
      const x = (await svc.suggest({ study: "dbr", trial: a.trial.number, token: a.lease.token, name: "x", distribution: { type: "float", low: 0, high: 1 } }))
        .value as number;
      xs.push(x);
      const from = a.trial.system_attrs.resume_from;
      if (typeof from === "number") {
        promoted++;
        expect(x).toBe(xs[from]);
      }
      await svc.report({ study: "dbr", trial: a.trial.number, token: a.lease.token, step: a.budget ?? 1, value: x });
      await svc.tell({ study: "dbr", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values: [x] });
    }
    expect(promoted).toBeGreaterThan(2);
    await close();
  });

  it("hands the scheduler's budget out with the trial", async () => {
    const { svc, close } = await open(backend);
    await svc.createStudy({ name: "hb", space: SPACE, scheduler: { name: "hyperband", options: { min_resource: 1, max_resource: 9, reduction_factor: 3 } } });
    const a = await svc.ask({ study: "hb" });
    expect(typeof a.trial.system_attrs.bracket === "number" || a.budget !== null).toBe(true);
    await close();
  });

  it("hands an enqueued trial the budget (and bracket, rung) a new configuration gets, at ask", async () => {
    // It had none until its first report: a loop sized by trial.budget trained an enqueued trial to
    // its fallback, in ASHA promotion mode past rung 0's budget, as a rung-0 member.
    const { svc, close } = await open(backend);
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ name: "asha", options: { mode: "promotion" } }, { rung: 0, budget: 3 }],
      [{ name: "asha" }, { budget: 27 }],
      [{ name: "hyperband" }, { budget: 27 }],
      [{ name: "bohb" }, { budget: 27 }],
    ];
    for (const [i, [scheduler, expected]] of cases.entries()) {
      const study = `enq${i}`;
      await svc.createStudy({ name: study, space: SPACE, seed: 4, scheduler, max_resource: 27, strategy: scheduler.name === "bohb" ? "random" : "tpe" });
      await svc.enqueue({ study, params: { x: 0.5 } });
      const a = await svc.ask({ study });
      expect(a.trial.params).toEqual({ x: 0.5 });
      expect(a.budget, JSON.stringify(scheduler)).toBe(expected.budget);
      expect(a.trial.system_attrs).toMatchObject(expected);
      const { decision } = await svc.report({ study, trial: a.trial.number, token: a.lease.token, step: 1, value: 1 });
      expect(decision.action).toBe("continue");
      const [after] = (await svc.listTrials({ study })).trials;
      // The bracket handed out is the one its reports are judged in.
      if (scheduler.name !== "asha") expect(after?.system_attrs.bracket).toBe(a.trial.system_attrs.bracket);
      expect(after?.system_attrs).toMatchObject(expected);
    }
    await close();
  });

  it("refuses combinations that make no sense, saying why", async () => {
    const { svc, close } = await open(backend);
    try {
      await svc.createStudy({ name: "b", space: SPACE, strategy: "grid", scheduler: { name: "bohb", options: { max_resource: 9 } } });
      throw new Error("should have been refused");
    } catch (e) {
      expect((e as TuneportError).code).toBe("INVALID_ARGUMENT");
      expect((e as TuneportError).message).toMatch(/cannot be combined/);
    }
    await close();
  });

  it("refuses bohb on a study that declares no space (it ran as Hyperband with random search without a word), keeping such a stored study working", async () => {
    const { svc, close } = await open(backend);
    const refused = async (p: Promise<unknown>, pattern: RegExp) => {
      const e = await p.then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(TuneportError);
      expect((e as TuneportError).code).toBe("INVALID_ARGUMENT");
      expect((e as TuneportError).message).toMatch(pattern);
    };
    const noSpace = /needs a declared space: .*declares none.*use scheduler 'hyperband' with strategy 'tpe'/;
    await refused(svc.createStudy({ name: "b0", scheduler: "bohb", max_resource: 9 }), new RegExp(`^scheduler 'bohb' ${noSpace.source}`));
    await refused(svc.createStudy({ name: "b1", scheduler: { name: "patient", options: { patience: 2, wrapped: { name: "bohb" } } }, max_resource: 9 }), /^scheduler 'patient' wrapping 'bohb': needs a declared space/);
    expect((await svc.listStudies()).map((st) => st.name)).toEqual([]);
    // What it points to is accepted, and so is bohb with a declared space.
    await svc.createStudy({ name: "hb-tpe", scheduler: "hyperband", strategy: "tpe", max_resource: 9 });
    await svc.createStudy({ name: "b2", space: SPACE, scheduler: "bohb", max_resource: 9 });
    // A switch to bohb is refused the same way; a study stored with it before (an import) still updates.
    await svc.createStudy({ name: "hb", strategy: "random", scheduler: "hyperband", max_resource: 9 });
    await refused(svc.execute("update_study", { study: "hb", scheduler: "bohb" }), noSpace);
    const legacy = { format: "tuneport-study", version: 1, name: "legacy", config: { direction: "minimize", space: {}, strategy: { name: "random", options: {} }, scheduler: { name: "bohb", options: { max_resource: 9 } }, seed: 1, retry: { max_retries: 0, retry_on_fail: false, keep_intermediate: false }, lease_ttl_s: 30 }, user_attrs: {}, created_at_ms: 1 };
    await svc.importStudy(`${JSON.stringify(legacy)}\n`);
    expect(await svc.execute("update_study", { study: "legacy", notes: "kept" })).toMatchObject({ changed: ["notes"] });
    await close();
  });
});
