import { afterEach, beforeEach, describe, expect, it, vi, inject } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import type { Storage } from "../storage/storage.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { StudyService } from "./study-service.js";

const SPACE = {
  lr: { type: "float", low: 1e-4, high: 1, log: true },
  layers: { type: "int", low: 1, high: 4 },
  act: { type: "categorical", choices: ["relu", "gelu"] },
};

async function expectCode(p: Promise<unknown>, code: string): Promise<TuneportError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TuneportError);
    expect((e as TuneportError).code).toBe(code);
    return e as TuneportError;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

describe.each(storageBackends(inject("pgUrl")))("StudyService on %s", (backend: StorageBackend) => {
  let now = 1_000_000;
  let storage: Storage;
  let svc: StudyService;

  beforeEach(async () => {
    now = 1_000_000;
    storage = await backend.open(backend.location());
    svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  it("creates, loads and refuses duplicate studies", async () => {
    const { created } = await svc.createStudy({ name: "s", space: SPACE, seed: 1 });
    expect(created).toBe(true);
    await expectCode(svc.createStudy({ name: "s" }), "ALREADY_EXISTS");
    const again = await svc.createStudy({ name: "s", load_if_exists: true });
    expect(again.created).toBe(false);
    await expectCode(svc.createStudy({ name: "s", load_if_exists: true, direction: "maximize" }), "INVALID_ARGUMENT");
  });

  it.each([
    [{ x: { type: "float", low: 2, high: 1 } }, /low \(2\) must be <= high/],
    [{ x: { type: "float", low: 0, high: 1, log: true } }, /log scale needs low > 0/],
    [{ x: { type: "categorical", choices: [] } }, /at least one choice/],
    [{ x: { type: "float", low: 0, high: Number.POSITIVE_INFINITY } }, /x.high.*Infinity/],
    [{ x: { type: "uniform", low: 0, high: 1 } }, /invalid search space/],
    // Ranges wider than the largest double: stored high = Infinity, inf and NaN params, lost after a restart.
    [{ x: { type: "float", low: -1.7e308, high: 1.7e308, step: 1 } }, /high − low must be a finite number/],
    [{ x: { type: "float", low: -1.7e308, high: 1.7e308 } }, /high − low must be a finite number/],
    [{ x: { type: "float", low: 0, high: 1e308, step: 1e-300 } }, /\(high − low\) \/ step must be finite/],
    // An int span past 2^53 − 1 rounded its grid: stored high 2^53, above the high given.
    [{ x: { type: "int", low: -(2 ** 53 - 1), high: 2 ** 53 - 1, step: 3 } }, /an int range may span at most 2\^53 − 1/],
    [{ x: { type: "int", low: -1, high: 2 ** 53 - 1 } }, /an int range may span at most 2\^53 − 1/],
  ])("refuses a bad space %j with a clear message", async (space, msg) => {
    const err = await expectCode(svc.createStudy({ name: "bad", space }), "INVALID_ARGUMENT");
    expect(err.message).toMatch(msg);
    expect(await svc.listStudies()).toHaveLength(0);
  });

  it("refuses a categorical of more than 10,000 choices, on create and on define-by-run suggest", async () => {
    // Every trial carries its distributions: 200,000 choices made each trial 590 KB in `trials`.
    const choices = Array.from({ length: 10_001 }, (_, i) => i);
    const err = await expectCode(svc.createStudy({ name: "many", space: { x: { type: "categorical", choices } } }), "INVALID_ARGUMENT");
    expect(err.message).toMatch(/'x': a categorical has at most 10,000 choices \(this one has 10,001\); search a larger set as an int/);
    await svc.createStudy({ name: "dbr", space: { x: { type: "categorical", choices: choices.slice(1) } }, strategy: "random" });
    const a = await svc.ask({ study: "dbr" });
    const dist = { type: "categorical", choices };
    await expectCode(svc.execute("suggest", { study: "dbr", trial: a.trial.number, token: a.lease.token, name: "y", distribution: dist }), "INVALID_ARGUMENT");
  });

  it("refuses a suggest that takes a trial's distributions over 4 MiB of JSON, and stores none of it", async () => {
    // Each suggest rewrites the trial's row with every distribution: 60 such categoricals grew a 51 MB row.
    await svc.createStudy({ name: "wide", strategy: "random" });
    const a = await svc.ask({ study: "wide" });
    const big = (j: number) => ({ type: "categorical", choices: Array.from({ length: 10_000 }, (_, i) => `${j}${"x".repeat(90)}${i}`) });
    const at = { study: "wide", trial: a.trial.number, token: a.lease.token };
    for (let j = 0; j < 4; j++) await svc.suggest({ ...at, name: `p${j}`, distribution: big(j) });
    const err = await expectCode(svc.suggest({ ...at, name: "p4", distribution: big(4) }), "INVALID_ARGUMENT");
    expect(err.message).toMatch(/'p4': a trial's distributions take at most 4,194,304 characters of JSON together \(with this one, this trial's would take 4,894,620\)/);
    await svc.suggest({ ...at, name: "small", distribution: { type: "float", low: 0, high: 1 } });
    const t = await svc.getTrial({ study: "wide", trial: a.trial.number });
    expect(Object.keys(t.params).sort()).toEqual(["p0", "p1", "p2", "p3", "small"]);
  });

  it("gives the study's budget (max_resource) to schedulers that take one, unless their options name one", async () => {
    const asha = await svc.createStudy({ name: "a", space: SPACE, scheduler: "asha", max_resource: 27 });
    expect(asha.study.max_resource).toBe(27);
    expect(asha.study.scheduler).toEqual({ name: "asha", options: { mode: "stopping", min_resource: 3, max_resource: 27, reduction_factor: 3, min_early_stopping_rate: 0 } }); // min_resource: R/η²
    const own = await svc.createStudy({ name: "h", space: SPACE, scheduler: { name: "hyperband", options: { max_resource: 9 } }, max_resource: 27 });
    expect(own.study.scheduler?.options.max_resource).toBe(9);
    const median = await svc.createStudy({ name: "m", space: SPACE, scheduler: "median", max_resource: 27 });
    expect(median.study.scheduler?.options).not.toHaveProperty("max_resource");
    expect((await svc.createStudy({ name: "plain", space: SPACE })).study.max_resource).toBeNull();
    // Without any budget hyperband cannot start; loading with another budget is refused.
    await expectCode(svc.createStudy({ name: "h2", space: SPACE, scheduler: "hyperband" }), "INVALID_ARGUMENT");
    const other = await expectCode(svc.createStudy({ name: "a", load_if_exists: true, max_resource: 81 }), "INVALID_ARGUMENT");
    expect(other.data?.differences).toEqual([{ field: "max_resource", stored: 27, given: 81 }]);
    expect((await svc.createStudy({ name: "a", load_if_exists: true, max_resource: 27 })).created).toBe(false);
    // A worker naming the scheduler alone loads it: compared as the stored budget filled it in.
    expect((await svc.createStudy({ name: "a", load_if_exists: true, scheduler: "asha" })).created).toBe(false);
    const eta = await expectCode(svc.createStudy({ name: "a", load_if_exists: true, scheduler: { name: "asha", options: { reduction_factor: 4 } } }), "INVALID_ARGUMENT");
    expect((eta.data?.differences as { field: string }[]).map((d) => d.field)).toEqual(["scheduler"]);
  });

  it("lists valid strategies when one is unknown", async () => {
    const err = await expectCode(svc.createStudy({ name: "s", strategy: "nope" }), "INVALID_ARGUMENT");
    expect(err.message).toMatch(/valid strategies: .*random/);
    await expectCode(svc.createStudy({ name: "s", strategy: { name: "grid", options: { bogus: 1 } } }), "INVALID_ARGUMENT");
  });

  it("runs ask/tell, tracks the best trial and refuses a second tell", async () => {
    await svc.createStudy({ name: "s", space: SPACE, seed: 1 });
    const values = [3, 1, 2];
    for (const v of values) {
      const a = await svc.ask({ study: "s" });
      expect(Object.keys(a.trial.params).sort()).toEqual(["act", "layers", "lr"]);
      await svc.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: v });
      await expectCode(svc.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: v }), "FAILED_PRECONDITION");
    }
    expect((await svc.best({ study: "s" }))?.value).toBe(1);
    const view = await svc.getStudy({ study: "s" });
    expect(view.counts.COMPLETE).toBe(3);
  });

  it("refuses NaN and infinite results without changing anything", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    const a = await svc.ask({ study: "s" });
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, undefined]) {
      await expectCode(svc.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: bad as number }), "INVALID_ARGUMENT");
    }
    expect((await svc.getTrial({ study: "s", trial: a.trial.number })).state).toBe("RUNNING");
  });

  it("refuses a stale token with LEASE_LOST and unknown trials with NOT_FOUND", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    const a = await svc.ask({ study: "s" });
    await expectCode(svc.tell({ study: "s", trial: a.trial.number, token: "wrong", state: "COMPLETE", value: 1 }), "LEASE_LOST");
    await expectCode(svc.tell({ study: "s", trial: 99, token: a.lease.token, state: "COMPLETE", value: 1 }), "NOT_FOUND");
    await expectCode(svc.ask({ study: "nope" }), "NOT_FOUND");
  });

  it("de-duplicates retried asks and tells by request id", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    const a1 = await svc.ask({ study: "s" }, "req-1");
    const a2 = await svc.ask({ study: "s" }, "req-1");
    expect(a2).toEqual(a1);
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(1);
    const t1 = await svc.tell({ study: "s", trial: a1.trial.number, token: a1.lease.token, state: "COMPLETE", value: 5 }, "req-2");
    const t2 = await svc.tell({ study: "s", trial: a1.trial.number, token: a1.lease.token, state: "COMPLETE", value: 5 }, "req-2");
    expect(t2).toEqual(t1);
    // concurrent duplicates share one execution
    const [c1, c2] = await Promise.all([svc.ask({ study: "s" }, "req-3"), svc.ask({ study: "s" }, "req-3")]);
    expect(c1.trial.number).toBe(c2.trial.number);
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(2);
    await expectCode(svc.tell({ study: "s", trial: c1.trial.number, token: c1.lease.token, state: "COMPLETE", value: 1 }, "req-3"), "INVALID_ARGUMENT");
  });

  it("remembers replies across a restart", async () => {
    const path = backend.location();
    const st1 = await backend.open(path);
    const s1 = await StudyService.open({ storage: st1, logger: silentLogger(), reapIntervalMs: 0 });
    await s1.createStudy({ name: "s", space: SPACE });
    const a = await s1.ask({ study: "s" }, "ask-1");
    await s1.close();
    await st1.close();
    const st2 = await backend.open(path);
    const s2 = await StudyService.open({ storage: st2, logger: silentLogger(), reapIntervalMs: 0 });
    expect(await s2.ask({ study: "s" }, "ask-1")).toEqual(a);
    // the lease survived too: the same worker can finish its trial
    await s2.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    expect((await s2.best({ study: "s" }))?.number).toBe(a.trial.number);
    await s2.close();
    await st2.close();
  });

  it("says why a study with COMPLETE trials has no best value (all infeasible), instead of 'none completed'", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    const a = await svc.ask({ study: "s" });
    await svc.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1, constraints: [1] });
    const prose = JSON.stringify(await svc.execute("study_summary", { study: "s" }));
    expect(prose).toContain("No COMPLETE trial has a usable value yet (each of the 1 violates its constraints or diverged)");
    expect(prose).not.toContain("No trial has completed yet");
  });

  it("refuses user attributes JSON cannot keep as given (NaN, infinities), at any depth and on every path", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    const a = await svc.ask({ study: "s" });
    for (const attrs of [{ x: Number.NaN }, { deep: [1, { y: Number.POSITIVE_INFINITY }] }, { z: Number.NEGATIVE_INFINITY }]) {
      await expectCode(svc.execute("set_user_attrs", { study: "s", trial: a.trial.number, attrs }), "INVALID_ARGUMENT");
      await expectCode(svc.execute("set_user_attrs", { study: "s", attrs }), "INVALID_ARGUMENT");
      await expectCode(svc.createStudy({ name: "t", space: SPACE, user_attrs: attrs }), "INVALID_ARGUMENT");
      await expectCode(svc.addTrial({ study: "s", params: { lr: 0.01, layers: 2, act: "relu" }, value: 1, user_attrs: attrs }), "INVALID_ARGUMENT");
    }
    expect((await svc.getStudy({ study: "s" })).user_attrs).toEqual({});
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(1);
    await svc.execute("set_user_attrs", { study: "s", trial: a.trial.number, attrs: { ok: 1e308, tiny: 5e-324, s: "NaN" } });
  });

  it("keeps an id's first reply when a client reuses the id after a restart, and on SQLite answers with it", async () => {
    const path = backend.location();
    const st1 = await backend.open(path);
    const s1 = await StudyService.open({ storage: st1, logger: silentLogger(), reapIntervalMs: 0 });
    await s1.execute("create_study", { name: "s", space: SPACE }, { requestId: "create-r", attempt: 0 });
    const a = await s1.execute("ask", { study: "s" }, { requestId: "ask-r", attempt: 0 });
    await s1.close();
    await st1.close();
    const st2 = await backend.open(path);
    const s2 = await StudyService.open({ storage: st2, logger: silentLogger(), reapIntervalMs: 0 });
    // The same ids again, each wrongly claiming a first send (a client that reused them).
    const again = await s2.execute("ask", { study: "s" }, { requestId: "ask-r", attempt: 0 });
    // Either way the retry of the first request still gets its first reply...
    expect(await s2.execute("ask", { study: "s" }, { requestId: "ask-r", attempt: 1 })).toEqual(a);
    const reused = s2.execute("delete_study", { study: "s" }, { requestId: "create-r", attempt: 0 });
    if (st2.knowsReply) {
      // ...and SQLite, which knows its stored ids in memory, applies nothing twice.
      expect(again).toEqual(a);
      await expectCode(reused, "INVALID_ARGUMENT");
      expect((await s2.getStudy({ study: "s" })).n_trials).toBe(1);
      const created = await s2.execute("create_study", { name: "s", space: SPACE }, { requestId: "create-r", attempt: 1 });
      expect((created as { study: { name: string } }).study.name).toBe("s");
    } else {
      // PostgreSQL takes attempt 0 at its word (no query per first send): the reused id runs, and
      // the first request's retry then gets an error naming the clash, never another reply.
      await reused;
      await expectCode(s2.execute("create_study", { name: "s", space: SPACE }, { requestId: "create-r", attempt: 1 }), "INVALID_ARGUMENT");
    }
    await s2.close();
    await st2.close();
  });

  it("skips the stored-reply lookup for a first send (attempt 0), and answers a repeated id with its first reply all the same", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    const lookups = vi.spyOn(storage, "getReply");
    const a = await svc.execute("ask", { study: "s" }, { requestId: "first-1", attempt: 0 });
    expect(lookups).not.toHaveBeenCalled();
    // The same id again, wrongly claiming a first send, then as a resend: the first reply, applied once.
    expect(await svc.execute("ask", { study: "s" }, { requestId: "first-1", attempt: 0 })).toEqual(a);
    expect(await svc.execute("ask", { study: "s" }, { requestId: "first-1", attempt: 1 })).toEqual(a);
    // Two first sends of one id at once: one execution.
    const [d1, d2] = await Promise.all([0, 0].map((attempt) => svc.execute("ask", { study: "s" }, { requestId: "dup-1", attempt })));
    expect(d2).toEqual(d1);
    // A first send and a resend at once: one execution.
    const [r1, r2] = await Promise.all([0, 1].map((attempt) => svc.execute("ask", { study: "s" }, { requestId: "dup-2", attempt })));
    expect(r2).toEqual(r1);
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(3);
    // Without the claim, the id is looked up as before.
    await svc.execute("ask", { study: "s" }, { requestId: "plain-1" });
    expect(lookups.mock.calls.map(([id]) => id)).toContain("plain-1");
  });

  it("stores no reply for a mutation that changes nothing, and a retry of it applies nothing twice", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    await svc.execute("resume_study", { study: "s" }, { requestId: "noop-resume" });
    await svc.execute("update_study", { study: "s", max_trials: null }, { requestId: "noop-update" });
    await svc.execute("create_study", { name: "s", space: SPACE, load_if_exists: true }, { requestId: "noop-load" });
    const stop = await svc.execute("stop_study", { study: "s" }, { requestId: "real-stop" });
    await svc.execute("stop_study", { study: "s" }, { requestId: "noop-stop" });
    for (const id of ["noop-resume", "noop-update", "noop-load", "noop-stop"]) expect(await storage.getReply(id), id).toBeNull();
    // A real change keeps its reply: its retry gets it back, and changes nothing.
    expect(await storage.getReply("real-stop")).not.toBeNull();
    await svc.execute("resume_study", { study: "s" }, { requestId: "real-resume" });
    expect(await svc.execute("stop_study", { study: "s" }, { requestId: "real-stop" })).toEqual(stop);
    expect((await svc.getStudy({ study: "s" })).stopped).toBe(false);
  });

  it("serves enqueued trials first, filling missing params", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    await expectCode(svc.enqueue({ study: "s", params: { lr: 5 } }), "INVALID_ARGUMENT");
    await svc.enqueue({ study: "s", params: { lr: 0.01, act: "gelu" }, rationale: "a hunch" });
    const a = await svc.ask({ study: "s" });
    expect(a.trial.params).toMatchObject({ lr: 0.01, act: "gelu" });
    expect(typeof a.trial.params.layers).toBe("number");
    expect(a.trial.system_attrs.rationale).toBe("a hunch");
    const dup = await svc.enqueue({ study: "s", params: { lr: 0.01, act: "gelu" }, skip_if_exists: true });
    expect(dup.created).toBe(false);
  });

  it("supports define-by-run with Optuna's dynamic ranges; a declared parameter keeps its distribution", async () => {
    await svc.createStudy({ name: "s" });
    const a = await svc.ask({ study: "s" });
    const { value } = await svc.suggest({ study: "s", trial: a.trial.number, token: a.lease.token, name: "x", distribution: { type: "float", low: 0, high: 1 } });
    expect(value).toBeGreaterThanOrEqual(0);
    expect((await svc.suggest({ study: "s", trial: a.trial.number, token: a.lease.token, name: "x", distribution: { type: "float", low: 0, high: 1 } })).value).toBe(value);
    // A repeat in the same trial with another range: the first value (Optuna's rule).
    expect((await svc.suggest({ study: "s", trial: a.trial.number, token: a.lease.token, name: "x", distribution: { type: "float", low: 0, high: 2 } })).value).toBe(value);
    await svc.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 });
    // Another trial may draw it from another distribution (suggest_int("skip", 0, n_layers)), and keeps that one.
    for (const high of [2, 5, 2]) {
      const b = await svc.ask({ study: "s" });
      const dist = { type: "int" as const, low: 0, high };
      const got = (await svc.suggest({ study: "s", trial: b.trial.number, token: b.lease.token, name: "x", distribution: dist })).value as number;
      expect(Number.isInteger(got) && got >= 0 && got <= high).toBe(true);
      await svc.tell({ study: "s", trial: b.trial.number, token: b.lease.token, state: "COMPLETE", value: got });
      expect((await svc.execute("trial", { study: "s", trial: b.trial.number })).trial.distributions.x).toMatchObject(dist);
    }
    expect((await svc.execute("get_study", { study: "s" })).study.define_by_run?.x).toEqual({ type: "float", low: 0, high: 1 }); // first seen
    // add_trial follows the same rule: a define-by-run value with its own distribution.
    const added = await svc.execute("add_trial", { study: "s", params: { x: 7 }, distributions: { x: { type: "int", low: 0, high: 9 } }, value: 3 });
    expect(added.trial.distributions.x).toMatchObject({ type: "int", low: 0, high: 9 });
    // A declared parameter's distribution is the study's.
    await svc.createStudy({ name: "d", space: { y: { type: "float", low: 0, high: 1 } } });
    const c = await svc.ask({ study: "d" });
    const e = await expectCode(svc.suggest({ study: "d", trial: c.trial.number, token: c.lease.token, name: "y", distribution: { type: "float", low: 0, high: 2 } }), "INVALID_ARGUMENT");
    expect(e.message).toMatch(/is declared in study 'd'/);
    await expectCode(svc.execute("add_trial", { study: "d", params: { y: 1.5 }, distributions: { y: { type: "float", low: 0, high: 2 } }, value: 1 }), "INVALID_ARGUMENT");
  });

  it("checks report steps and values", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    const a = await svc.ask({ study: "s" });
    const r = await svc.report({ study: "s", trial: a.trial.number, token: a.lease.token, step: 1, value: 0.5 });
    expect(r.decision.action).toBe("continue");
    await svc.report({ study: "s", trial: a.trial.number, token: a.lease.token, step: 1, value: 0.5 }); // exact repeat is harmless
    await expectCode(svc.report({ study: "s", trial: a.trial.number, token: a.lease.token, step: 1, value: 0.4 }), "INVALID_ARGUMENT");
    await expectCode(svc.report({ study: "s", trial: a.trial.number, token: a.lease.token, step: 0, value: 0.4 }), "INVALID_ARGUMENT");
    await expectCode(svc.report({ study: "s", trial: a.trial.number, token: a.lease.token, step: -1, value: 0.4 }), "INVALID_ARGUMENT");
    await svc.report({ study: "s", trial: a.trial.number, token: a.lease.token, step: 2, value: Number.NaN });
    const t = await svc.getTrial({ study: "s", trial: a.trial.number });
    expect(t.intermediate.map(([s]) => s)).toEqual([1, 2]);
    await svc.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "PRUNED", value: undefined });
    expect((await svc.getTrial({ study: "s", trial: a.trial.number })).value).toBe(0.5);
    await expectCode(svc.report({ study: "s", trial: a.trial.number, token: a.lease.token, step: 3, value: 0.4 }), "FAILED_PRECONDITION");
  });

  it("refuses a bad report step naming the field and what is allowed, through the op table and directly", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    const a = await svc.ask({ study: "s" });
    const args = { study: "s", trial: a.trial.number, token: a.lease.token, value: 0.5 };
    const allowed = "a finite number >= 0, the trial's progress in your units (epochs, iterations, seconds; fractions allowed)";
    // zod's own words were "step: Invalid input: expected number, received NaN".
    for (const [step, shown] of [[Number.NaN, "NaN"], [Infinity, "Infinity"], [-1, "-1"], [-0.5, "-0.5"], ["3", "a string"], [true, "a boolean"], [null, "nil"], [[1], "an array"]] as const) {
      const e = await expectCode(svc.execute("report", { ...args, step }), "INVALID_ARGUMENT");
      expect(e.message, String(step)).toBe(`report: step: must be ${allowed}, not ${shown}`);
    }
    expect((await expectCode(svc.execute("report", args), "INVALID_ARGUMENT")).message).toBe(`report: step: is required: ${allowed}`);
    expect((await expectCode(svc.report({ ...args, step: Number.NaN }), "INVALID_ARGUMENT")).message).toBe(`report: step: must be ${allowed}, not NaN`);
    // A fraction is a step in the client's units (seconds, say), as the protocol says.
    expect(await svc.execute("report", { ...args, step: 1.5 })).toMatchObject({ decision: { action: "continue" } });
  });

  it("reaps expired leases, re-queues params, and refuses the late tell", async () => {
    await svc.createStudy({ name: "s", space: SPACE, lease_ttl_s: 10, retry: { max_retries: 1 } });
    const a = await svc.ask({ study: "s" });
    now += 5_000;
    const hb = await svc.heartbeat({ leases: [{ study: "s", trial: a.trial.number, token: a.lease.token }] });
    expect(hb[0]?.ok).toBe(true);
    now += 9_000;
    expect(await svc.reap()).toBe(0);
    now += 2_000;
    expect(await svc.reap()).toBe(1);
    const failed = await svc.getTrial({ study: "s", trial: a.trial.number });
    expect(failed.state).toBe("FAIL");
    expect(failed.system_attrs.fail_reason).toBe("lease_expired");
    await expectCode(svc.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 }), "LEASE_LOST");
    const hb2 = await svc.heartbeat({ leases: [{ study: "s", trial: a.trial.number, token: a.lease.token }] });
    expect(hb2[0]).toMatchObject({ ok: false, code: "LEASE_LOST" });
    // the retry carries the same params and is served next
    const b = await svc.ask({ study: "s" });
    expect(b.trial.params).toEqual(a.trial.params);
    expect(b.trial.system_attrs.retry_of).toBe(a.trial.number);
    now += 20_000;
    await svc.reap();
    // max_retries = 1: no third attempt
    expect((await svc.listTrials({ study: "s", states: ["WAITING"] })).total).toBe(0);
  });

  it("stores a FAIL told interrupted (the client's Ctrl-C) as system_attrs.interrupted; a bad flag, or one on another state, is refused and stores nothing", async () => {
    await svc.createStudy({ name: "i", space: SPACE, retry: { retry_on_fail: true } });
    const a = await svc.ask({ study: "i" });
    const ref = { study: "i", trial: a.trial.number, token: a.lease.token };
    // Through the op table, as every transport sends it.
    const typed = await expectCode(svc.execute("tell", { ...ref, state: "FAIL", reason: "KeyboardInterrupt: ", interrupted: "yes" }), "INVALID_ARGUMENT");
    expect(typed.message).toMatch(/interrupted/);
    const other = await expectCode(svc.execute("tell", { ...ref, state: "PRUNED", interrupted: true }), "INVALID_ARGUMENT");
    expect(other.message).toMatch(/interrupted is told with a FAIL only/);
    const still = await svc.getTrial(ref);
    expect(still.state).toBe("RUNNING");
    expect(still.system_attrs.interrupted).toBeUndefined();
    const { trial } = await svc.execute("tell", { ...ref, state: "FAIL", reason: "KeyboardInterrupt: ", interrupted: true });
    expect(trial.system_attrs).toMatchObject({ fail_reason: "KeyboardInterrupt: ", interrupted: true });
    expect((await svc.getTrial(ref)).system_attrs.interrupted).toBe(true);
    // Its retry (retry_on_fail) runs the same params afresh: it does not inherit the mark.
    const b = await svc.ask({ study: "i" });
    expect(b.trial.system_attrs.retry_of).toBe(a.trial.number);
    expect(b.trial.system_attrs.interrupted).toBeUndefined();
    // Without a reason the fail reason says it; interrupted: false is a plain FAIL.
    const told = await svc.execute("tell", { study: "i", trial: b.trial.number, token: b.lease.token, state: "FAIL", interrupted: true });
    expect(told.trial.system_attrs).toMatchObject({ fail_reason: "interrupted", interrupted: true });
    const c = await svc.ask({ study: "i" });
    const plain = await svc.execute("tell", { study: "i", trial: c.trial.number, token: c.lease.token, state: "FAIL", reason: "oom", interrupted: false });
    expect(plain.trial.system_attrs.fail_reason).toBe("oom");
    expect(plain.trial.system_attrs.interrupted).toBeUndefined();
  });

  it.each([
    [true, [[0, 0.9], [1, 0.7]]],
    [false, []],
  ])("re-queues with keep_intermediate=%s carrying %j", async (keep, expected) => {
    await svc.createStudy({ name: "k", space: SPACE, lease_ttl_s: 10, retry: { max_retries: 2, retry_on_fail: true, keep_intermediate: keep } });
    expect((await svc.getStudy({ study: "k" })).retry).toEqual({ max_retries: 2, retry_on_fail: true, keep_intermediate: keep });
    const a = await svc.ask({ study: "k" });
    await svc.report({ study: "k", trial: a.trial.number, token: a.lease.token, step: 0, value: 0.9 });
    await svc.report({ study: "k", trial: a.trial.number, token: a.lease.token, step: 1, value: 0.7 });
    now += 11_000;
    expect(await svc.reap()).toBe(1);
    const b = await svc.ask({ study: "k" });
    expect(b.trial.system_attrs.retry_of).toBe(a.trial.number);
    expect(b.trial.intermediate).toEqual(expected);
    // a resumed worker continues after the kept steps; an earlier step is refused
    if (keep) await expectCode(svc.report({ study: "k", trial: b.trial.number, token: b.lease.token, step: 1, value: 0.5 }), "INVALID_ARGUMENT");
    await svc.report({ study: "k", trial: b.trial.number, token: b.lease.token, step: 2, value: 0.5 });
    // an explicit FAIL tell also re-queues (retry_on_fail) with the same rule
    await svc.tell({ study: "k", trial: b.trial.number, token: b.lease.token, state: "FAIL", value: null, reason: "oom" });
    const c = await svc.ask({ study: "k" });
    expect(c.trial.intermediate).toEqual(keep ? [[0, 0.9], [1, 0.7], [2, 0.5]] : []);
    // defaults: false
    await svc.createStudy({ name: "d", space: SPACE });
    expect((await svc.getStudy({ study: "d" })).retry.keep_intermediate).toBe(false);
  });

  it("gives trials of concurrently written studies distinct ids", async () => {
    // Commits of different studies interleave at their awaits: ids must be taken up front.
    await svc.createStudy({ name: "a", space: SPACE, retry: { retry_on_fail: true } });
    await svc.createStudy({ name: "b", space: SPACE, retry: { retry_on_fail: true } });
    const asks = await Promise.all(Array.from({ length: 40 }, (_, i) => svc.ask({ study: i % 2 ? "a" : "b" })));
    await Promise.all(asks.map((x) => svc.tell({ study: x.study, trial: x.trial.number, token: x.lease.token, state: "FAIL", value: null })));
    await Promise.all([...Array.from({ length: 20 }, () => svc.enqueue({ study: "a", params: {} })), ...Array.from({ length: 20 }, () => svc.enqueue({ study: "b", params: {} }))]);
    const ids = [...svc.trialsOf("a"), ...svc.trialsOf("b")].map((t) => t.id);
    expect(ids).toHaveLength(120);
    expect(new Set(ids).size).toBe(120);
  });

  it("group-commits concurrent mutations and resolves each only after its batch committed", async () => {
    await svc.createStudy({ name: "g", space: SPACE });
    const asks = await Promise.all(Array.from({ length: 30 }, () => svc.ask({ study: "g" })));
    const commit = vi.spyOn(storage, "commit");
    const tells = asks.map((a, i) => svc.tell({ study: "g", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i }, `t-${i}`));
    await Promise.all(tells);
    expect(commit.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(commit.mock.calls.length).toBeLessThan(30 / 5);
    const reopened = await storage.loadTrials((await storage.listStudies())[0]!.id);
    expect(reopened.filter((t) => t.state === "COMPLETE")).toHaveLength(30);
    expect(await storage.getReply("t-29")).not.toBeNull();
  });

  it("stops (UNAVAILABLE, onFatal) when a batch fails to commit, acknowledging none of it", async () => {
    const fatal = vi.fn();
    const st = await backend.open(backend.location());
    const s2 = await StudyService.open({ storage: st, logger: silentLogger(), reapIntervalMs: 0, onFatal: fatal });
    try {
      await s2.createStudy({ name: "f", space: SPACE });
      const a = await s2.ask({ study: "f" });
      vi.spyOn(st, "commit").mockRejectedValueOnce(new Error("disk I/O error"));
      await expect(s2.tell({ study: "f", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 }, "r1")).rejects.toThrow();
      expect(fatal).toHaveBeenCalledTimes(1);
      await expectCode(s2.ask({ study: "f" }), "UNAVAILABLE");
      await expectCode(s2.getStudy({ study: "f" }), "UNAVAILABLE");
      expect(await st.getReply("r1")).toBeNull();
      expect((await st.loadTrials((await st.listStudies())[0]!.id))[0]?.state).toBe("RUNNING");
    } finally {
      await s2.close();
      await st.close();
    }
  });

  it("hands out each grid point once to concurrent askers, then says exhausted", async () => {
    await svc.createStudy({
      name: "g",
      strategy: "grid",
      space: { a: { type: "int", low: 0, high: 3 }, b: { type: "categorical", choices: ["x", "y"] } },
    });
    const asks = await Promise.all(Array.from({ length: 8 }, () => svc.ask({ study: "g" })));
    const keys = new Set(asks.map((a) => JSON.stringify(a.trial.params)));
    expect(keys.size).toBe(8);
    await expectCode(svc.ask({ study: "g" }), "SEARCH_SPACE_EXHAUSTED");
  });

  it("pages, filters and sorts trials", async () => {
    await svc.createStudy({ name: "s", space: SPACE, direction: "maximize" });
    for (let i = 0; i < 10; i++) {
      const a = await svc.ask({ study: "s" });
      if (i % 3 === 0) await svc.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "FAIL", value: null, reason: "oom" });
      else await svc.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i });
    }
    const page = await svc.listTrials({ study: "s", states: ["COMPLETE"], order_by: "value", limit: 2 });
    expect(page.total).toBe(6);
    expect(page.trials.map((t) => t.value)).toEqual([8, 7]);
    const fails = await svc.listTrials({ study: "s", states: ["FAIL"] });
    expect(fails.trials[0]?.system_attrs.fail_reason).toBe("oom");
  });

  it("deletes studies", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    await svc.deleteStudy({ study: "s" });
    await expectCode(svc.getStudy({ study: "s" }), "NOT_FOUND");
    await svc.createStudy({ name: "s", space: SPACE });
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(0);
  });

  it("wakes progress waiters on change and times out otherwise", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    const v0 = await svc.versionOf("s");
    let settled = false;
    const quiet = svc.waitForChange("s", v0, 50).finally(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false); // it waits instead of answering at once
    expect(await quiet).toBe(v0);
    const waiting = svc.waitForChange("s", v0, 5_000);
    await svc.ask({ study: "s" });
    expect(await waiting).toBeGreaterThan(v0);
  });
});
