/** The study-wide trial budget (`max_trials`) and stop_study / resume_study. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, inject } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import type { Storage } from "../storage/storage.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { StudyService } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };

async function stopped(p: Promise<unknown>): Promise<Record<string, unknown> | null> {
  try {
    await p;
    return null;
  } catch (e) {
    if (e instanceof TuneportError && e.code === "STUDY_STOPPED") return e.data ?? {};
    throw e;
  }
}

describe.each(storageBackends(inject("pgUrl")))("trial budget and stop/resume on %s", (backend: StorageBackend) => {
  let dir: string;
  let now: number;
  let storage: Storage;
  let svc: StudyService;

  const open = async () => {
    storage = await backend.open(dir);
    svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
  };
  beforeEach(async () => {
    dir = backend.location();
    now = 1_000_000;
    await open();
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  it("hands out at most max_trials trials to concurrent askers, enqueued ones included, across a restart", async () => {
    await svc.createStudy({ name: "b", space: SPACE, strategy: "random", max_trials: 7 });
    await svc.enqueue({ study: "b", params: { x: 0.5 } });
    const asks = await Promise.allSettled(Array.from({ length: 5 }, () => svc.ask({ study: "b" })));
    expect(asks.filter((r) => r.status === "fulfilled")).toHaveLength(5);
    await svc.close();
    await storage.close();
    await open();
    const more = await Promise.allSettled(Array.from({ length: 6 }, () => svc.ask({ study: "b" })));
    expect(more.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    const refusals = more.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as TuneportError);
    expect(refusals.map((e) => [e.code, e.data?.reason])).toEqual(Array(4).fill(["STUDY_STOPPED", "max_trials"]));
    const view = (await svc.getStudy({ study: "b" }));
    expect(view.max_trials).toBe(7);
    expect(view.n_trials).toBe(7);
  });

  it("enqueue's reply says how many queued trials ask hands out before the new one, and the budget's room, as asks take them", async () => {
    await svc.createStudy({ name: "q", space: SPACE, strategy: "random", max_trials: 6 });
    let req = 0;
    const enqueue = (x: number, skip = false) => svc.execute("enqueue", { study: "q", params: { x }, skip_if_exists: skip }, { requestId: `enq-${++req}` });
    const placed = async (x: number, skip = false) => {
      const { trial, created, queue, trial_budget } = await enqueue(x, skip);
      return { n: trial.number, created, queue, used: trial_budget?.used };
    };
    for (let i = 0; i < 5; i++) expect(await placed(0.1 * (i + 1))).toEqual({ n: i, created: true, queue: { ahead: i, queued: i + 1 }, used: 0 });
    expect((await svc.ask({ study: "q" })).trial.number).toBe(0);
    await svc.cancelTrial({ study: "q", trial: 2 });
    // Queued: 1, 3, 4 (0 was taken, 2 cancelled).
    expect(await placed(0.6)).toEqual({ n: 5, created: true, queue: { ahead: 3, queued: 4 }, used: 1 });
    expect((await svc.ask({ study: "q" })).trial.number).toBe(1);
    expect((await svc.ask({ study: "q" })).trial.number).toBe(3);
    // A duplicate answers where the queued trial it matched stands; one that left the queue, none.
    expect(await placed(0.6, true)).toEqual({ n: 5, created: false, queue: { ahead: 1, queued: 2 }, used: 3 });
    expect(await placed(0.2, true)).toEqual({ n: 1, created: false, queue: null, used: 3 });
    expect(await placed(0.7)).toEqual({ n: 6, created: true, queue: { ahead: 2, queued: 3 }, used: 3 });
    await svc.close();
    await storage.close();
    await open();
    // Room for 3 more and 3 queued ahead: the budget never reaches trial 7, and asks bear it out.
    const last = await enqueue(0.8);
    expect([last.trial.number, last.queue, last.trial_budget]).toEqual([7, { ahead: 3, queued: 4 }, { max_trials: 6, used: 3 }]);
    const taken = [];
    for (let i = 0; i < 3; i++) taken.push((await svc.ask({ study: "q" })).trial.number);
    expect(taken).toEqual([4, 5, 6]);
    expect(await stopped(svc.ask({ study: "q" }))).toMatchObject({ reason: "max_trials" });
    expect(await placed(0.9)).toEqual({ n: 8, created: true, queue: { ahead: 1, queued: 2 }, used: 6 });
    await svc.createStudy({ name: "free", space: SPACE, strategy: "random" });
    expect((await svc.execute("enqueue", { study: "free", params: { x: 0.5 } }, { requestId: "free-1" })).trial_budget).toBeNull();
  });

  it("counts a trial re-queued after a lost lease once", async () => {
    await svc.createStudy({ name: "r", space: SPACE, strategy: "random", max_trials: 2, lease_ttl_s: 10 });
    const a = await svc.ask({ study: "r" });
    now += 11_000;
    expect(await svc.reap()).toBe(1);
    const retry = await svc.ask({ study: "r" });
    expect(retry.trial.system_attrs.retry_of).toBe(a.trial.number);
    await svc.ask({ study: "r" });
    expect(await stopped(svc.ask({ study: "r" }))).toMatchObject({ reason: "max_trials" });
  });

  it("stop_study refuses asks but lets running trials report and tell; resume_study reopens; both survive a restart", async () => {
    await svc.createStudy({ name: "s", space: SPACE, strategy: "random" });
    const a = await svc.ask({ study: "s" });
    const view = await svc.execute("stop_study", { study: "s" }, { requestId: "stop-1" });
    expect(view.study.stopped).toBe(true);
    expect(await stopped(svc.ask({ study: "s" }))).toMatchObject({ reason: "stopped", study: "s" });
    await svc.report({ study: "s", trial: a.trial.number, token: a.lease.token, step: 1, value: 0.4 });
    await svc.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.3 });
    await svc.close();
    await storage.close();
    await open();
    expect((await svc.getStudy({ study: "s" })).stopped).toBe(true);
    expect(await stopped(svc.ask({ study: "s" }))).toMatchObject({ reason: "stopped" });
    expect((await svc.execute("resume_study", { study: "s" })).study.stopped).toBe(false);
    expect((await svc.ask({ study: "s" })).trial.number).toBe(1);
    expect((await svc.getStudy({ study: "s" })).best_trial?.value).toBe(0.3);
  });

  it("an ask whose suggestion was computing when the study stopped gets STUDY_STOPPED", async () => {
    await svc.createStudy({ name: "race", space: SPACE, strategy: "random" });
    const ask = svc.ask({ study: "race" });
    const stop = svc.setStopped({ study: "race" }, true);
    const [askR, stopR] = await Promise.allSettled([ask, stop]);
    expect(stopR.status).toBe("fulfilled");
    // Either the ask completed before the stop, or it was refused: never a trial started after it.
    if (askR.status === "rejected") expect((askR.reason as TuneportError).code).toBe("STUDY_STOPPED");
    expect(await stopped(svc.ask({ study: "race" }))).toMatchObject({ reason: "stopped" });
  });

  it("exports and imports the budget and the stopped flag exactly", async () => {
    await svc.createStudy({ name: "e", space: SPACE, strategy: "random", max_trials: 3, seed: 1 });
    await svc.setStopped({ study: "e" }, true);
    const lines = [...svc.exportStudy("e")];
    const view = await svc.importStudy(`${lines.join("\n")}\n`, "e2");
    expect([view.max_trials, view.stopped]).toEqual([3, true]);
    expect([...svc.exportStudy("e2")].slice(1)).toEqual(lines.slice(1));
  });
});
