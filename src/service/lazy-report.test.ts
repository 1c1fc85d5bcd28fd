/**
 * Reports answered before their commit (docs/DURABILITY.md "Intermediate values"): which replies
 * may overtake their commit, what brings a held commit forward, and that a retry in the window
 * between reply and commit is not applied twice. Real SQLite files; commits are held by a gate
 * (a slow database) instead of timing anything.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../logger.js";
import type { Change, Storage } from "../storage/storage.js";
import { sqliteBackend } from "../testing/storage-backends.js";
import { StudyService } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };

/** Records every committed change; while `hold()` is on, commits wait until `release()`. */
function watchCommits(storage: Storage) {
  const committed: Change[] = [];
  let gate: Promise<void> | null = null;
  let open: () => void = () => undefined;
  const waiters: (() => void)[] = [];
  const commit = storage.commit.bind(storage);
  storage.commit = async (changes) => {
    if (gate) await gate;
    await commit(changes);
    committed.push(...changes);
    for (const w of waiters.splice(0)) w();
  };
  return {
    committed,
    hold: () => void (gate = new Promise<void>((r) => (open = r))),
    release: () => {
      gate = null;
      open();
    },
    /** Resolves after the next commit. */
    next: () => new Promise<void>((r) => waiters.push(r)),
  };
}

/** Whether `p` settled before the event loop went idle for a few turns. */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  return done;
}

describe("reports answered before their commit", () => {
  let storage: Storage;
  let svc: StudyService;
  let watch: ReturnType<typeof watchCommits>;
  afterEach(async () => {
    vi.useRealTimers();
    watch.release(); // a failed assertion must not leave commits held
    await svc.close();
    await storage.close();
  });

  async function open(lazyCommitMs?: number, reapIntervalMs = 0) {
    storage = await sqliteBackend.open(sqliteBackend.location());
    watch = watchCommits(storage);
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs, ...(lazyCommitMs === undefined ? {} : { lazyCommitMs }) });
    return watch;
  }

  async function running(scheduler?: unknown) {
    await svc.createStudy({ name: "s", space: SPACE, strategy: "random", seed: 3, ...(scheduler ? { scheduler } : {}) } as never);
    const a = await svc.ask({ study: "s" } as never);
    return { trial: a.trial.number, token: a.lease.token };
  }

  it("answers a continue report while its commit is held, and a prune only once committed", async () => {
    await open(60_000);
    // One complete trial, so that the median scheduler prunes a worse one after step 0 (warm-up).
    const first = await running({ name: "median", options: { n_startup_trials: 1, n_warmup_steps: 1 } });
    for (const step of [0, 1]) await svc.report({ study: "s", ...first, step, value: 1 } as never);
    await svc.tell({ study: "s", ...first, state: "COMPLETE", value: 1 } as never);
    const t = await svc.ask({ study: "s" } as never);
    const tt = { trial: t.trial.number, token: t.lease.token };
    watch.hold();
    const cont = svc.report({ study: "s", ...tt, step: 0, value: 5 } as never, "c1");
    expect(await settles(cont), "continue answered before its commit").toBe(true);
    expect((await cont).decision.action).toBe("continue");
    const prune = svc.report({ study: "s", ...tt, step: 1, value: 9 } as never, "p1");
    expect(await settles(prune), "a prune waits for its commit").toBe(false);
    watch.release();
    expect((await prune).decision.action).toBe("prune");
    // The prune's commit carried the continue report queued before it.
    const adds = watch.committed.filter((c) => c.kind === "add-intermediate" && [5, 9].includes((c as { value: number }).value));
    expect(adds.map((c) => (c as { step: number }).step)).toEqual([0, 1]);
  });

  it("with lazyCommitMs 0 every report waits for its commit", async () => {
    await open(0);
    const t = await running();
    watch.hold();
    const r = svc.report({ study: "s", ...t, step: 0, value: 0.5 } as never);
    expect(await settles(r)).toBe(false);
    watch.release();
    expect((await r).decision.action).toBe("continue");
  });

  it("applies a retry that arrives between reply and commit once, answering it the same", async () => {
    await open(60_000);
    const t = await running();
    watch.hold();
    const first = await svc.report({ study: "s", ...t, step: 0, value: 0.5 } as never, "same-id");
    const retry = await svc.report({ study: "s", ...t, step: 0, value: 0.5 } as never, "same-id");
    expect(retry).toEqual(first);
    watch.release();
    await svc.getStudy({ study: "s" } as never); // brings the commit forward
    expect(watch.committed.filter((c) => c.kind === "put-reply" && (c as { requestId: string }).requestId === "same-id")).toHaveLength(1);
  });

  it("commits a held report as soon as a read, another change or the timer needs it", async () => {
    await open(60_000);
    const t = await running();
    const inCommit = (step: number) => watch.committed.some((c) => c.kind === "add-intermediate" && (c as { step: number }).step === step);
    await svc.report({ study: "s", ...t, step: 0, value: 0.5 } as never);
    expect(inCommit(0)).toBe(false);
    // A read: answered only once what it shows is committed (the 60 s timer would time the test out).
    const view = await svc.getTrial({ study: "s", trial: t.trial } as never);
    expect(view.intermediate).toEqual([[0, 0.5]]);
    expect(inCommit(0)).toBe(true);
    // Another change: an ask is committed before its reply, with the report queued before it.
    await svc.report({ study: "s", ...t, step: 1, value: 0.4 } as never);
    expect(inCommit(1)).toBe(false);
    await svc.ask({ study: "s" } as never);
    expect(inCommit(1)).toBe(true);
  });

  it("commits a held report after lazyCommitMs without anything else happening", async () => {
    await open(5);
    const t = await running();
    const committed = watch.next();
    await svc.report({ study: "s", ...t, step: 0, value: 0.5 } as never);
    await committed; // the timer's commit (a hang here is the failure)
    expect(watch.committed.some((c) => c.kind === "add-intermediate")).toBe(true);
  });

  it("leaves a held report to its timer while the reaper ticks (--report-commit-ms above the reaper's 250 ms probe)", async () => {
    // The reaper's timer only: its ticks run at will, the lazy commit's 60 s timer stays real.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    await open(60_000, 1000);
    const t = await running();
    await svc.report({ study: "s", ...t, step: 0, value: 0.5 } as never);
    vi.advanceTimersByTime(3000); // 12 probes of the reaper (each looks whether the storage is full), 3 reaps
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    // Each probe awaited `visible`, which brings the open batch's commit forward: the report was committed within 250 ms.
    expect(watch.committed.some((c) => c.kind === "add-intermediate")).toBe(false);
    await svc.getTrial({ study: "s", trial: t.trial } as never); // a read still brings it forward
    expect(watch.committed.some((c) => c.kind === "add-intermediate")).toBe(true);
  });
});
