/**
 * get_study's `finishes`: a study's finished trials by how they finished (aggregates.ts
 * `Finishes`), what MCP's wait_for_progress counts. Kept on every change, and rebuilt from storage
 * when a server opens it (SQLite and PostgreSQL), so a wait that began before a restart of
 * `tuneport serve` (mcp --connect) or after it counts the same. Checked through a trial's whole
 * life against a count made from the stored trials themselves (`fromTrials`, independent of the
 * aggregates): retries re-queued by the retry policy, a lease expiring, a tell after the lease was
 * lost, a refused cancel of a running trial, update_study, an export/import round trip, a study
 * deleted and recreated under its name, a restart, and a takeover by another server.
 */
import { afterEach, beforeEach, describe, expect, it, inject } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import type { Storage } from "../storage/storage.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { PgOwnershipStore } from "../storage/postgres/pg-ownership.js";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { SharedOwnership } from "./ownership.js";
import { StudyService } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TuneportError) return e.code;
    throw e;
  }
  return "OK";
}

describe.each(storageBackends(inject("pgUrl")))("a study's finishes through its trials' lives, on %s", (backend: StorageBackend) => {
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
  /** The finishes counted from the study's trials as the `trials` op lists them (not from the aggregates). */
  const fromTrials = async (study: string) => {
    const out = { evaluated: 0, cancelled: 0, added: 0 };
    const { trials } = await svc.execute("trials", { study, limit: 10_000 });
    for (const t of trials) {
      if (t.state !== "COMPLETE" && t.state !== "PRUNED" && t.state !== "FAIL") continue;
      const sa = (t.system_attrs ?? {}) as Record<string, unknown>;
      if (sa.added === true) out.added++;
      else if (sa.cancelled === true) out.cancelled++;
      else out.evaluated++;
    }
    return out;
  };
  const finishes = async (study: string) => (await svc.execute("get_study", { study })).finishes;
  /** The study's finishes, checked against its trials and summing to its finished counts. */
  const checked = async (study: string) => {
    const r = await svc.execute("get_study", { study });
    const { COMPLETE, PRUNED, FAIL } = r.study.counts;
    expect(r.finishes.evaluated + r.finishes.cancelled + r.finishes.added).toBe(COMPLETE + PRUNED + FAIL);
    expect(r.finishes).toEqual(await fromTrials(study));
    return r.finishes;
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

  it("counts each attempt of a retried trial once, a lost lease's late tell not at all, and a refused cancel of a running trial not at all", async () => {
    await svc.execute("create_study", { name: "r", space: SPACE, strategy: "random", seed: 1, lease_ttl_s: 10, retry: { max_retries: 2, retry_on_fail: true } });
    // A FAIL told: re-queued by the retry policy (the failed attempt is finished, its copy queued).
    const a = await svc.execute("ask", { study: "r" });
    await svc.execute("tell", { study: "r", trial: a.trial.number, token: a.lease.token, state: "FAIL" });
    expect(await checked("r")).toEqual({ evaluated: 1, cancelled: 0, added: 0 });
    // The copy asked, and its lease lost: FAIL by the reaper, re-queued again.
    const b = await svc.execute("ask", { study: "r" });
    expect(b.trial.number).toBe(1);
    now += 11_000;
    expect(await svc.reap()).toBe(1);
    expect(await checked("r")).toEqual({ evaluated: 2, cancelled: 0, added: 0 });
    // Its worker's tell after the lease was lost changes nothing.
    expect(await codeOf(svc.execute("tell", { study: "r", trial: b.trial.number, token: b.lease.token, state: "COMPLETE", value: 1 }))).toBe("LEASE_LOST");
    expect(await checked("r")).toEqual({ evaluated: 2, cancelled: 0, added: 0 });
    // The last copy (max_retries 2) asked: a running trial cannot be cancelled.
    const c = await svc.execute("ask", { study: "r" });
    expect(c.trial.number).toBe(2);
    expect(await codeOf(svc.execute("cancel_trial", { study: "r", trial: c.trial.number }))).toBe("FAILED_PRECONDITION");
    expect(await checked("r")).toEqual({ evaluated: 2, cancelled: 0, added: 0 });
    await svc.execute("tell", { study: "r", trial: c.trial.number, token: c.lease.token, state: "COMPLETE", value: 0.5 });
    expect(await checked("r")).toEqual({ evaluated: 3, cancelled: 0, added: 0 });
    // A retry copy cancelled while queued is a cancel, not an evaluation.
    const d = await svc.execute("ask", { study: "r" });
    await svc.execute("tell", { study: "r", trial: d.trial.number, token: d.lease.token, state: "FAIL" });
    const copy = (await svc.execute("trials", { study: "r", states: ["WAITING"] })).trials[0];
    expect(copy?.system_attrs).toMatchObject({ retry_of: d.trial.number });
    await svc.execute("cancel_trial", { study: "r", trial: copy!.number });
    expect(await checked("r")).toEqual({ evaluated: 4, cancelled: 1, added: 0 });
    await restart();
    expect(await checked("r")).toEqual({ evaluated: 4, cancelled: 1, added: 0 });
  });

  it("keeps the counts through update_study and an export/import round trip; a study recreated under its name starts from none", async () => {
    await svc.execute("create_study", { name: "e", space: SPACE, strategy: "random", seed: 1, lease_ttl_s: 10 });
    const a = await svc.execute("ask", { study: "e" });
    await svc.execute("tell", { study: "e", trial: a.trial.number, token: a.lease.token, state: "PRUNED" });
    const q = await svc.execute("enqueue", { study: "e", params: { x: 0.25 } });
    await svc.execute("cancel_trial", { study: "e", trial: q.trial.number });
    await svc.execute("add_trial", { study: "e", params: { x: 0.75 }, value: 0.1 });
    await svc.execute("ask", { study: "e" }); // still running: not finished
    const before = await checked("e");
    expect(before).toEqual({ evaluated: 1, cancelled: 1, added: 1 });

    await svc.execute("update_study", { study: "e", strategy: "tpe", max_trials: 100, notes: "switched" });
    expect(await checked("e")).toEqual(before);

    await svc.importStudy([...svc.exportStudy("e")].join("\n"), "e2");
    expect(await checked("e2")).toEqual(before);
    await restart();
    expect(await checked("e2")).toEqual(before);

    await svc.execute("delete_study", { study: "e" });
    await svc.execute("create_study", { name: "e", space: SPACE, strategy: "random", seed: 1 });
    expect(await finishes("e")).toEqual({ evaluated: 0, cancelled: 0, added: 0 });
    const b = await svc.execute("ask", { study: "e" });
    await svc.execute("tell", { study: "e", trial: b.trial.number, token: b.lease.token, state: "COMPLETE", value: 2 });
    expect(await checked("e")).toEqual({ evaluated: 1, cancelled: 0, added: 0 });
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

describe("a study's finishes after a takeover by another server on PostgreSQL", () => {
  const backend = storageBackends(inject("pgUrl"))[1] as StorageBackend;
  const open: { storage: PostgresStorage; svc: StudyService }[] = [];
  const server = async (location: string, name: string) => {
    const storage = await PostgresStorage.open({ url: location, poolSize: 3 });
    const ownership = new SharedOwnership({ store: new PgOwnershipStore(storage), logger: silentLogger(), serverId: name, endpoint: `tcp://${name}:1`, ttlMs: 400 });
    const svc = await StudyService.open({ storage, logger: silentLogger(), ownership, reapIntervalMs: 0, onFatal: () => undefined });
    open.push({ storage, svc });
    return { storage, svc };
  };
  afterEach(async () => {
    for (const s of open.splice(0)) {
      await s.svc.close().catch(() => undefined);
      await s.storage.close().catch(() => undefined);
    }
  });

  it("the new owner answers the counts the dead one did", async () => {
    const location = backend.location();
    const a = await server(location, "a");
    const b = await server(location, "b");
    await a.svc.execute("create_study", { name: "t", space: SPACE, strategy: "random", seed: 1, retry: { max_retries: 1, retry_on_fail: true } });
    for (const state of ["COMPLETE", "PRUNED", "FAIL"] as const) {
      const q = await a.svc.execute("ask", { study: "t" });
      await a.svc.execute("tell", { study: "t", trial: q.trial.number, token: q.lease.token, state, ...(state === "COMPLETE" ? { value: 1 } : {}) });
    }
    const retry = (await a.svc.execute("trials", { study: "t", states: ["WAITING"] })).trials[0];
    await a.svc.execute("cancel_trial", { study: "t", trial: retry!.number });
    await a.svc.execute("add_trial", { study: "t", params: { x: 0.5 }, value: 0.2 });
    await a.svc.execute("ask", { study: "t" });
    const before = await a.svc.execute("get_study", { study: "t" });
    expect(before.finishes).toEqual({ evaluated: 3, cancelled: 1, added: 1 });
    await a.storage.close(); // a dies: its ownership lapses, b takes the study over on its next request
    const t0 = Date.now();
    for (;;) {
      const got = await b.svc.execute("get_study", { study: "t" }).catch((e: unknown) => {
        if (e instanceof TuneportError && e.code === "UNAVAILABLE") return null;
        throw e;
      });
      if (got) {
        expect(got.finishes).toEqual(before.finishes);
        expect(got.study.counts).toEqual(before.study.counts);
        break;
      }
      if (Date.now() - t0 > 20_000) throw new Error("not taken over within 20 s (a hang guard)");
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});
