/**
 * get_study's `finishes`: a study's finished trials by how they finished (aggregates.ts
 * `Finishes`), what MCP's wait_for_progress counts. Kept on every change, and rebuilt from
 * storage when a server opens it (SQLite and PostgreSQL), so a wait that began before a restart
 * of `tuneport serve` (mcp --connect) or after it counts the same.
 */
import { afterEach, beforeEach, describe, expect, it, inject } from "vitest";
import { silentLogger } from "../logger.js";
import type { Storage } from "../storage/storage.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { StudyService } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };

describe.each(storageBackends(inject("pgUrl")))("a study's finishes by how, on %s", (backend: StorageBackend) => {
  let location: string;
  let now: number;
  let storage: Storage;
  let svc: StudyService;

  const open = async () => {
    storage = await backend.open(location);
    svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
  };
  const restart = async () => {
    await svc.close();
    await storage.close();
    await open();
  };
  /** get_study's answer through the op table, with its finished count by state beside it. */
  const read = async (study: string) => {
    const r = await svc.execute("get_study", { study });
    const { COMPLETE, PRUNED, FAIL } = r.study.counts;
    return { finishes: r.finishes, finished: COMPLETE + PRUNED + FAIL };
  };
  beforeEach(async () => {
    location = backend.location();
    now = 1_000_000;
    await open();
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  it("counts evaluations apart from cancelled queued trials and add_trial results, exactly, across a restart", async () => {
    await svc.execute("create_study", { name: "f", space: SPACE, strategy: "random", seed: 1, lease_ttl_s: 10, retry: { max_retries: 0 } });
    expect(await read("f")).toEqual({ finishes: { evaluated: 0, cancelled: 0, added: 0 }, finished: 0 });

    const a = await svc.execute("ask", { study: "f" });
    await svc.execute("tell", { study: "f", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    // A proposal cancelled while queued: FAIL, never evaluated.
    const cancelled = await svc.execute("enqueue", { study: "f", params: { x: 0.25 } });
    await svc.execute("cancel_trial", { study: "f", trial: cancelled.trial.number, reason: "not worth it" });
    // A result obtained elsewhere.
    await svc.execute("add_trial", { study: "f", params: { x: 0.75 }, value: 0.1 });
    // A proposal queued, then asked and told: an evaluation.
    const queued = await svc.execute("enqueue", { study: "f", params: { x: 0.125 } });
    const q = await svc.execute("ask", { study: "f" });
    expect(q.trial.number).toBe(queued.trial.number);
    await svc.execute("tell", { study: "f", trial: q.trial.number, token: q.lease.token, state: "PRUNED" });
    // A lost lease (the reaper's FAIL) is an evaluation that failed.
    await svc.execute("ask", { study: "f" });
    now += 11_000;
    expect(await svc.reap()).toBe(1);
    // Still queued, and still running: not finished.
    await svc.execute("enqueue", { study: "f", params: { x: 0.875 } });
    await svc.execute("ask", { study: "f", lease_ttl_s: 600 });

    const before = await read("f");
    expect(before).toEqual({ finishes: { evaluated: 3, cancelled: 1, added: 1 }, finished: 5 });
    await restart();
    expect(await read("f")).toEqual(before);

    // Kept on top of the rebuilt counts: a cancel and an add_trial after the restart.
    const later = await svc.execute("enqueue", { study: "f", params: { x: 0.0625 } });
    await svc.execute("cancel_trial", { study: "f", trial: later.trial.number });
    await svc.execute("add_trial", { study: "f", params: { x: 0.5 }, state: "FAIL" });
    expect(await read("f")).toEqual({ finishes: { evaluated: 3, cancelled: 2, added: 2 }, finished: 7 });
    await restart();
    expect(await read("f")).toEqual({ finishes: { evaluated: 3, cancelled: 2, added: 2 }, finished: 7 });
  });
});
