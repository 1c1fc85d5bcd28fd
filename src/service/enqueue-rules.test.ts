/**
 * Issue 14 §5: enqueue treats only identical parameter sets as duplicates (as Optuna does), and a
 * study with a declared space refuses names it does not know, listing the ones it does.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { StudyService } from "./study-service.js";

let storage: SqliteStorage;
let svc: StudyService;
beforeEach(async () => {
  storage = new SqliteStorage({ path: ":memory:" });
  svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  await svc.execute("create_study", {
    name: "e",
    space: { x: { type: "int", low: 0, high: 9 }, c: { type: "categorical", choices: ["a", "b"] }, n: { type: "int", low: 1, high: 4 } },
    strategy: "random",
  });
});
afterEach(async () => {
  await svc.close();
  await storage.close();
});

describe("enqueue", () => {
  it("treats only the same names with the same values as a duplicate", async () => {
    const full = await svc.execute("enqueue", { study: "e", params: { x: 1, c: "a", n: 2 }, rationale: "full", skip_if_exists: true });
    const partial = await svc.execute("enqueue", { study: "e", params: { x: 1 }, rationale: "only x", skip_if_exists: true });
    expect([full.created, partial.created]).toEqual([true, true]);
    expect(partial.trial.system_attrs.rationale).toBe("only x");
    const again = await svc.execute("enqueue", { study: "e", params: { n: 2, c: "a", x: 1 }, rationale: "same again", skip_if_exists: true });
    expect([again.created, again.trial.number]).toEqual([false, full.trial.number]);
    const partialAgain = await svc.execute("enqueue", { study: "e", params: { x: 1 }, skip_if_exists: true });
    expect([partialAgain.created, partialAgain.trial.number]).toEqual([false, partial.trial.number]);
  });

  it("answers a duplicate with a queued or running match before a finished one, and a finished before a failed one", async () => {
    // A noisy objective: x=1 evaluated, then queued again on purpose (skip_if_exists false). The
    // next proposal of it was answered with the COMPLETE trial and "pass skip_if_exists: false to
    // queue it again", which queued it a third time: the queued trial is the one to name.
    const params = { x: 1, c: "a", n: 2 };
    const first = await svc.execute("enqueue", { study: "e", params, rationale: "a guess" });
    const asked = await svc.execute("ask", { study: "e" });
    expect(asked.trial.number).toBe(first.trial.number);
    await svc.execute("tell", { study: "e", trial: asked.trial.number, token: asked.lease.token, state: "COMPLETE", value: 0.5 });
    const second = await svc.execute("enqueue", { study: "e", params, rationale: "once more: noisy", skip_if_exists: false });
    const dup = await svc.execute("enqueue", { study: "e", params, rationale: "a third time?", skip_if_exists: true });
    expect([dup.created, dup.trial.number, dup.trial.state]).toEqual([false, second.trial.number, "WAITING"]);
    const running = await svc.execute("ask", { study: "e" });
    expect(running.trial.number).toBe(second.trial.number);
    const whileRunning = await svc.execute("enqueue", { study: "e", params, rationale: "a third time?", skip_if_exists: true });
    expect([whileRunning.trial.number, whileRunning.trial.state]).toEqual([second.trial.number, "RUNNING"]);
    // Both finished (one of them failed): the COMPLETE one, whatever their order.
    await svc.execute("tell", { study: "e", trial: running.trial.number, token: running.lease.token, state: "FAIL" });
    const done = await svc.execute("enqueue", { study: "e", params, rationale: "a third time?", skip_if_exists: true });
    expect([done.trial.number, done.trial.state]).toEqual([first.trial.number, "COMPLETE"]);
  });

  it("treats numbers within Optuna's relative tolerance as the same value, other values exactly", async () => {
    await svc.execute("create_study", { name: "d", strategy: "random" });
    const a = await svc.execute("enqueue", { study: "d", params: { lr: 0.3, act: "relu" }, skip_if_exists: true });
    const close = await svc.execute("enqueue", { study: "d", params: { lr: 0.1 + 0.2, act: "relu" }, skip_if_exists: true });
    expect([close.created, close.trial.number]).toEqual([false, a.trial.number]);
    const far = await svc.execute("enqueue", { study: "d", params: { lr: 0.30001, act: "relu" }, skip_if_exists: true });
    const otherChoice = await svc.execute("enqueue", { study: "d", params: { lr: 0.3, act: "tanh" }, skip_if_exists: true });
    expect([far.created, otherChoice.created]).toEqual([true, true]);
  });

  it("drops from a finished trial's params an enqueued value it never suggested, keeping it in fixed_params", async () => {
    await svc.execute("create_study", { name: "d", strategy: "random" });
    await svc.execute("enqueue", { study: "d", params: { x: 0.5, unused: 7 } });
    await svc.execute("enqueue", { study: "d", params: { x: 0.25, unused: 8 } });
    const dist = { type: "float", low: 0, high: 1 };
    const told = [];
    for (const state of ["COMPLETE", "FAIL"] as const) {
      const a = await svc.execute("ask", { study: "d" });
      await svc.execute("suggest", { study: "d", trial: a.trial.number, token: a.lease.token, name: "x", distribution: dist });
      told.push((await svc.execute("tell", { study: "d", trial: a.trial.number, token: a.lease.token, state, ...(state === "COMPLETE" ? { value: 1 } : {}) })).trial);
    }
    expect(told[0]?.params).toEqual({ x: 0.5 });
    expect(told[0]?.system_attrs.fixed_params).toEqual({ x: 0.5, unused: 7 });
    expect(told[1]?.params).toEqual({ x: 0.25, unused: 8 }); // a FAIL keeps them for its retry
  });

  it("uses an enqueued value between the step points as its nearest grid point, and draws one outside the range", async () => {
    await svc.execute("create_study", { name: "d", strategy: "random", seed: 1 });
    await svc.execute("enqueue", { study: "d", params: { dropout: 0.33, layers: 4, wd: 7 } });
    const a = await svc.execute("ask", { study: "d" });
    const got = async (name: string, distribution: Record<string, unknown>) =>
      (await svc.execute("suggest", { study: "d", trial: a.trial.number, token: a.lease.token, name, distribution })).value;
    expect(await got("dropout", { type: "float", low: 0, high: 0.5, step: 0.1 })).toBeCloseTo(0.3, 12);
    expect(await got("layers", { type: "int", low: 1, high: 7, step: 2 })).toBe(5); // 4 is halfway between 3 and 5
    const wd = await got("wd", { type: "float", low: 0, high: 1 }); // 7 is outside: drawn
    expect(wd).toBeGreaterThanOrEqual(0);
    expect(wd).toBeLessThanOrEqual(1);
  });

  it("refuses a name the declared space does not know, listing the known ones; accepts a define-by-run name once seen", async () => {
    const err = await svc.execute("enqueue", { study: "e", params: { x: 1, typo_param: 3 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TuneportError);
    expect((err as TuneportError).message).toMatch(/unknown parameter\(s\) 'typo_param'; the study's parameters are x, c, n/);
    expect((await svc.execute("get_study", { study: "e" })).study.counts.WAITING).toBe(0);
    const a = await svc.execute("ask", { study: "e" });
    await svc.execute("suggest", { study: "e", trial: a.trial.number, token: a.lease.token, name: "momentum", distribution: { type: "float", low: 0, high: 1 } });
    expect((await svc.execute("enqueue", { study: "e", params: { momentum: 0.9 } })).created).toBe(true);
    const outside = await svc.execute("enqueue", { study: "e", params: { momentum: 5 } }).catch((e: unknown) => e);
    expect((outside as TuneportError).message).toMatch(/outside/);
  });
});
