/**
 * Requests that race a delete, request ids reused across ops, and lease reaping across restarts
 * (issue 11 §1, §2, §3, §5). Real SQLite files; the clock is injected so the lease bounds are
 * checked exactly, not against the wall clock.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, inject } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import type { Storage } from "../storage/storage.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { type SuggestRunner, StudyService, expiryAfterRestart, inProcessRunner } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof TuneportError) return e.code;
    throw e;
  }
}

/** A runner that holds every suggestion until `release` is called: an ask parked mid-computation. */
function gatedRunner(): SuggestRunner & { release(): void; started: Promise<void> } {
  let release!: () => void;
  let started!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const startedP = new Promise<void>((r) => (started = r));
  return {
    started: startedP,
    release,
    async suggest(f, s, req) {
      started();
      await gate;
      return inProcessRunner.suggest(f, s, req);
    },
    close: async () => undefined,
  };
}

/** Holds every commit of `storage` until `release` (a slow database), then lets them through in order. */
function gateCommits(storage: Storage): { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const commit = storage.commit.bind(storage);
  storage.commit = async (changes) => {
    await gate;
    return commit(changes);
  };
  return { release };
}

describe.each(storageBackends(inject("pgUrl")))("on %s", (backend: StorageBackend) => {
  describe("requests racing delete_study", () => {
    let dir: string;
    let storage: Storage;
    let svc: StudyService;
    let fatal: unknown[];

    beforeEach(() => {
      dir = backend.location();
      fatal = [];
    });
    afterEach(async () => {
      await svc.close();
      await storage.close();
    });

    async function open(runner?: SuggestRunner): Promise<void> {
      storage = await backend.open(dir);
      svc = await StudyService.open({
        storage,
        logger: silentLogger(),
        reapIntervalMs: 0,
        onFatal: (e) => fatal.push(e),
        ...(runner ? { runner } : {}),
      });
    }

    it("an ask computing while its study is deleted gets NOT_FOUND, and the server keeps committing", async () => {
      const runner = gatedRunner();
      await open(runner);
      await svc.createStudy({ name: "victim", space: SPACE, strategy: "random", seed: 1 });
      const ask = svc.ask({ study: "victim" }, "r1");
      await runner.started;
      expect(await svc.deleteStudy({ study: "victim" }, "r2")).toEqual({ deleted: true });
      runner.release();
      expect(await codeOf(ask)).toBe("NOT_FOUND");
      expect(fatal).toEqual([]);
      // The service still works, the name is free again, and the database is sound.
      await svc.createStudy({ name: "victim", space: SPACE, strategy: "random" });
      const a = await svc.ask({ study: "victim" });
      expect(a.trial.number).toBe(0);
      expect(await storage.checkIntegrity()).toEqual([]);
    });

    it.each(["enqueue", "report", "tell", "suggest", "set_user_attrs", "set_trial_attrs", "ask"])(
      "%s sent right after a delete gets NOT_FOUND and stores nothing",
      async (op) => {
        await open();
        await svc.createStudy({ name: "v", space: SPACE, strategy: "random", seed: 2 });
        const a = await svc.ask({ study: "v" });
        const tok = a.lease.token;
        const del = svc.deleteStudy({ study: "v" });
        const calls: Record<string, () => Promise<unknown>> = {
          enqueue: () => svc.enqueue({ study: "v", params: { x: 0.5 } }),
          report: () => svc.report({ study: "v", trial: 0, token: tok, step: 1, value: 0.3 }),
          tell: () => svc.tell({ study: "v", trial: 0, token: tok, state: "COMPLETE", value: 0.2 }),
          suggest: () => svc.suggest({ study: "v", trial: 0, token: tok, name: "y", distribution: { type: "int", low: 0, high: 3 } }),
          set_user_attrs: () => svc.setStudyUserAttrs({ study: "v", attrs: { a: 1 } }),
          set_trial_attrs: () => svc.setTrialUserAttrs({ study: "v", trial: 0, attrs: { a: 1 } }),
          ask: () => svc.ask({ study: "v" }),
        };
        const after = codeOf((calls[op] as () => Promise<unknown>)());
        await del;
        expect(await after).toBe("NOT_FOUND");
        expect(fatal).toEqual([]);
        expect(await storage.listStudies()).toEqual([]);
        expect(await storage.checkIntegrity()).toEqual([]);
      },
    );

    it("an ask naming the created_at of the study a worker loaded is refused once that name was deleted and created again", async () => {
      storage = await backend.open(dir);
      const now = 1_000_000;
      svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, onFatal: (e) => fatal.push(e), clock: () => now });
      const loaded = (await svc.createStudy({ name: "again", space: SPACE, strategy: "random", seed: 1 })).study;
      expect((await svc.ask({ study: "again", study_created_at: loaded.created_at })).trial.number).toBe(0);
      await svc.deleteStudy({ study: "again" });
      // Created again within the same millisecond (the clock does not move): still another study.
      const fresh = (await svc.createStudy({ name: "again", space: SPACE, strategy: "random", seed: 2 })).study;
      // The old worker's next ask would otherwise run the new study's trial 0 with its own objective.
      await expect(svc.ask({ study: "again", study_created_at: loaded.created_at })).rejects.toMatchObject({
        code: "NOT_FOUND",
        message: expect.stringMatching(/deleted and created again.*load it again/),
      });
      expect((await svc.listTrials({ study: "again" })).total).toBe(0);
      expect((await svc.ask({ study: "again", study_created_at: fresh.created_at })).trial.number).toBe(0);
      expect(fatal).toEqual([]);
    });

    it("a create of a deleted name is committed after the delete, even while the delete's commit is slow", async () => {
      await open();
      await svc.createStudy({ name: "n", space: SPACE, seed: 3 });
      const gate = gateCommits(storage);
      const del = svc.deleteStudy({ study: "n" });
      while ((await codeOf(svc.getStudy({ study: "n" }))) !== "NOT_FOUND") await new Promise((r) => setImmediate(r));
      const create = svc.createStudy({ name: "n", space: SPACE, seed: 4 });
      gate.release();
      expect(await del).toEqual({ deleted: true });
      expect((await create).created).toBe(true);
      const stored = await storage.listStudies();
      expect(stored.map((s) => [s.name, s.config.seed])).toEqual([["n", 4]]);
      expect(fatal).toEqual([]);
    });

    it("two concurrent creates of one name: one creates, the other gets ALREADY_EXISTS", async () => {
      await open();
      const codes = await Promise.all([
        codeOf(svc.createStudy({ name: "twin", space: SPACE })),
        codeOf(svc.createStudy({ name: "twin", space: SPACE })),
      ]);
      expect(codes.sort()).toEqual(["ALREADY_EXISTS", "ok"]);
      expect(fatal).toEqual([]);
    });

    it("refuses a request id reused by another op, whether the first use was a read or a mutation", async () => {
      await open();
      await svc.createStudy({ name: "ids", space: SPACE }, "c1");
      svc.claimRequestId("read-1", "get_study");
      expect(await codeOf(svc.enqueue({ study: "ids", params: { x: 0.1 } }, "read-1"))).toBe("INVALID_ARGUMENT");
      expect((await svc.listTrials({ study: "ids" })).total).toBe(0);
      expect(() => svc.claimRequestId("c1", "get_study")).toThrow(/already used for a 'create_study'/);
      // The same op with the same id is a retry, not a reuse.
      svc.claimRequestId("read-2", "get_study");
      svc.claimRequestId("read-2", "get_study");
    });
  });

  describe("lease reaping across restarts", () => {
    const TTL_S = 10;
    const TTL = TTL_S * 1000;
    let dir: string;
    let now: number;
    let storage: Storage | null = null;
    let svc: StudyService | null = null;

    beforeEach(() => {
      dir = backend.location();
      now = 1_000_000;
    });
    afterEach(async () => {
      await svc?.close();
      await storage?.close();
      svc = null;
      storage = null;
    });

    async function restart(): Promise<StudyService> {
      await svc?.close();
      await storage?.close();
      storage = await backend.open(dir);
      svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
      return svc;
    }

    it("reaps a dead worker's trial within 2 x TTL of its last heartbeat with a restart every TTL/2", async () => {
      let s = await restart();
      await s.createStudy({ name: "l", space: SPACE, lease_ttl_s: TTL_S, strategy: "random" });
      const { lease } = await s.ask({ study: "l" });
      const lastBeat = now + 3 * TTL; // the worker heartbeats every TTL/3 for a while, then dies
      for (; now <= lastBeat; now += TTL / 3) await s.heartbeat({ leases: [{ study: "l", trial: 0, token: lease.token }] });
      now -= TTL / 3;
      let reapedAt: number | null = null;
      while (reapedAt === null) {
        now += TTL / 2;
        s = await restart();
        if ((await s.reap()) > 0) reapedAt = now;
        expect(now).toBeLessThan(lastBeat + 10 * TTL); // a hang guard, not the property
      }
      expect(reapedAt - lastBeat).toBeLessThanOrEqual(2 * TTL);
      // The property holds at the first reap that can see it, not just eventually.
      expect((await s.getTrial({ study: "l", trial: 0 })).state).toBe("FAIL");
    });

    it("never reaps a live worker that keeps heartbeating across restarts", async () => {
      let s = await restart();
      await s.createStudy({ name: "l", space: SPACE, lease_ttl_s: TTL_S, strategy: "random" });
      const { lease } = await s.ask({ study: "l" });
      for (let i = 0; i < 30; i++) {
        now += TTL / 3;
        if (i % 2 === 1) s = await restart();
        expect(await s.reap()).toBe(0);
        const [hb] = await s.heartbeat({ leases: [{ study: "l", trial: 0, token: lease.token }] });
        expect(hb?.ok).toBe(true);
      }
      await s.tell({ study: "l", trial: 0, token: lease.token, state: "COMPLETE", value: 1 });
    });

    it("bounds the restart expiry between the true expiry and two TTLs after the last heartbeat", () => {
      // stored expiry E lags memory by < TTL/2: the true expiry is < E + TTL/2, the last beat >= E - TTL.
      for (const stored of [0, 5_000, 123_456]) {
        for (const restartAt of [stored - TTL, stored, stored + TTL / 4, stored + TTL, stored + 5 * TTL]) {
          const e = expiryAfterRestart(stored, restartAt, TTL);
          expect(e).toBeGreaterThanOrEqual(stored + TTL / 2);
          expect(e).toBeLessThanOrEqual(stored + TTL);
        }
      }
    });
  });

  describe("commit before reply with a slow storage", () => {
    it("resolves a mutation only after its commit resolved, and never acknowledges one whose commit failed", async () => {
      const storage = await backend.open(backend.location());
      const fatal: unknown[] = [];
      const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, onFatal: (e) => fatal.push(e) });
      try {
        await svc.createStudy({ name: "slow", space: SPACE, strategy: "random" });
        const a = await svc.ask({ study: "slow" });
        // A commit that succeeds, but only when released: the reply must wait for it.
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const commit = storage.commit.bind(storage);
        let committed = false;
        storage.commit = async (changes) => {
          await gate;
          await commit(changes);
          committed = true;
        };
        let replied = false;
        const tell = svc.tell({ study: "slow", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 }).then((r) => {
          replied = true;
          expect(committed).toBe(true);
          return r;
        });
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
        expect(replied).toBe(false);
        release();
        expect((await tell).trial.state).toBe("COMPLETE");
        // A commit that fails after a delay: the request is refused, and the service stops.
        storage.commit = async () => {
          await new Promise((r) => setTimeout(r, 20));
          throw new Error("disk I/O error");
        };
        const b = svc.enqueue({ study: "slow", params: { x: 0.5 } });
        expect(await codeOf(b)).toBe("UNAVAILABLE");
        expect(fatal).toHaveLength(1);
      } finally {
        await svc.close();
        await storage.close();
      }
    });
  });

  describe("the reaper at the lease's exact expiry", () => {
    it("reaps when now equals expiresAt, not a millisecond before", async () => {
      let now = 5_000_000;
      const storage = await backend.open(backend.location());
      const svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
      try {
        await svc.createStudy({ name: "edge", space: SPACE, strategy: "random", lease_ttl_s: 10 });
        const a = await svc.ask({ study: "edge" });
        const expiresAt = a.lease.expires_at * 1000;
        now = expiresAt - 1;
        expect(await svc.reap()).toBe(0);
        now = expiresAt;
        expect(await svc.reap()).toBe(1);
        expect((await svc.getTrial({ study: "edge", trial: 0 })).system_attrs.fail_reason).toBe("lease_expired");
      } finally {
        await svc.close();
        await storage.close();
      }
    });
  });
});
