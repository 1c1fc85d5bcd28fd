/**
 * `tuneport import` into PostgreSQL beside running servers, its study name lost to one of them mid-way
 * (the import's process stalled past its ownership TTL), on the shared test server. The import runs
 * as the command does (cli/export-import.ts): a service of its own under a `SharedOwnership` with
 * an `import-…` id and no endpoint. Whatever the moment of the loss, the database holds the whole
 * import or none of it, once, and the import says which.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, inject, it } from "vitest";
import { silentLogger } from "../logger.js";
import { PgOwnershipStore } from "../storage/postgres/pg-ownership.js";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import type { Change } from "../storage/storage.js";
import { postgresBackend } from "../testing/storage-backends.js";
import { tuneportErrorOf, waitFor } from "../testing/waits.js";
import { type Renewal, SharedOwnership } from "./ownership.js";
import { StudyService } from "./study-service.js";

const TTL_MS = 600;
const SPACE = { x: { type: "float", low: -5, high: 5 } };

/** The real store; while `paused`, renewals write nothing and answer as the last one did (a stopped process's rows expire). */
class PausableStore extends PgOwnershipStore {
  paused = false;
  last: Renewal = new Map<string, number>();
  /** Held back: the next `findStudy`'s answer (the import's, once it holds the name) until this resolves. */
  findGate: Promise<void> | null = null;
  found = false;
  override async renew(owner: string, ttlMs: number) {
    if (this.paused) return this.last; // with the rows it found locked: still held, not lost
    return (this.last = await super.renew(owner, ttlMs));
  }
  override async findStudy(name: string) {
    const gate = this.findGate;
    this.findGate = null;
    const found = await super.findStudy(name); // read before the stall: no study of that name yet
    this.found = true;
    if (gate) await gate;
    return found;
  }
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** A running server. */
async function server(url: string, id: string) {
  const storage = await PostgresStorage.open({ url, poolSize: 3 });
  const ownership = new SharedOwnership({ store: new PgOwnershipStore(storage), logger: silentLogger(), serverId: id, endpoint: `tcp://${id}:1`, ttlMs: TTL_MS });
  const fatal: unknown[] = [];
  const svc = await StudyService.open({ storage, logger: silentLogger(), ownership, reapIntervalMs: 0, onFatal: (e) => fatal.push(e) });
  cleanup.push(() => storage.close(), () => svc.close());
  return { svc, fatal };
}

/** The import command's service; `afterCommit` holds each commit's answer back (once written) while set. */
async function importer(url: string) {
  const storage = await PostgresStorage.open({ url, poolSize: 3 });
  const store = new PausableStore(storage);
  const ownership = new SharedOwnership({ store, logger: silentLogger(), serverId: `import-${randomUUID()}`, ttlMs: TTL_MS });
  const fatal: unknown[] = [];
  const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, maxStudies: Number.POSITIVE_INFINITY, onFatal: (e) => fatal.push(e), ownership });
  cleanup.push(() => storage.close(), () => svc.close());
  const hooks: { afterCommit: Promise<void> | null; committed: boolean } = { afterCommit: null, committed: false };
  const commit = storage.commit.bind(storage);
  storage.commit = async (changes: readonly Change[]) => {
    await commit(changes);
    hooks.committed = true;
    if (hooks.afterCommit) await hooks.afterCommit;
  };
  return { svc, store, ownership, fatal, hooks, storage };
}

describe("an import whose study name another server takes over mid-way", () => {
  const backend = postgresBackend(inject("pgUrl"));

  /** A study of 5 finished trials on `svc`, as 'tuneport export' writes it. */
  async function exported(svc: StudyService): Promise<string> {
    await svc.execute("create_study", { name: "src", space: SPACE, seed: 1 });
    for (let i = 0; i < 5; i++) {
      const t = await svc.execute("ask", { study: "src" });
      await svc.execute("tell", { study: "src", trial: t.trial.number, token: t.lease.token, state: "COMPLETE", value: i });
    }
    return [...svc.exportStudy("src")].join("\n");
  }

  /** The trials stored under study `name`, per study row (one row per name, by the schema). */
  async function stored(storage: PostgresStorage, name: string): Promise<number[]> {
    const { rows } = await storage.pool.query<{ n: number }>(
      "SELECT COUNT(t.id)::INTEGER AS n FROM studies s LEFT JOIN trials t ON t.study_id = s.id WHERE s.name = $1 GROUP BY s.id",
      [name],
    );
    return rows.map((r) => r.n);
  }

  it("before its commit: nothing of it is written, and it says the name is taken", async () => {
    const url = backend.location();
    const b = await server(url, "b");
    const text = await exported(b.svc);
    const imp = await importer(url);
    const held = gate();
    imp.store.findGate = held.wait;
    const importing = imp.svc.importStudy(text, "moved");
    await waitFor(async () => imp.store.found, 30_000);
    // The import holds the name and stalls: its row expires; a client creates that study on 'b'.
    imp.store.paused = true;
    await waitFor(async () => (await b.svc.execute("create_study", { name: "moved", space: SPACE, seed: 2 })).study.name === "moved", 30_000);
    imp.store.paused = false;
    held.open();
    const err = await tuneportErrorOf(importing);
    expect(err.code).toBe("ALREADY_EXISTS");
    expect(await stored(imp.storage, "moved")).toEqual([0]); // b's study, none of the import's trials
    expect([...imp.fatal, ...b.fatal]).toEqual([]);
  });

  it("after its commit, before its answer: the study is imported once, and the import says so", async () => {
    const url = backend.location();
    const b = await server(url, "b");
    const text = await exported(b.svc);
    const imp = await importer(url);
    const held = gate();
    imp.hooks.afterCommit = held.wait;
    const importing = imp.svc.importStudy(text, "moved");
    await waitFor(async () => imp.hooks.committed, 30_000);
    // Written; the import stalls before it answers: its row expires and 'b' takes the study over.
    imp.store.paused = true;
    await waitFor(async () => (await b.svc.execute("get_study", { study: "moved" })).study.n_trials === 5, 30_000);
    imp.store.paused = false;
    await waitFor(async () => !imp.ownership.heldNames().includes("moved"), 30_000); // it knows it lost the name
    held.open();
    // Before the fix: ALREADY_EXISTS ("import it under another --name"), for the study it had imported itself.
    const view = await importing;
    expect(view.n_trials).toBe(5);
    expect(await stored(imp.storage, "moved")).toEqual([5]);
    expect([...imp.fatal, ...b.fatal]).toEqual([]);
  });
});
