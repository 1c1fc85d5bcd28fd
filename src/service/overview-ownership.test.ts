/**
 * `studies_overview` (the dashboard's list of every study) on servers sharing the test PostgreSQL:
 * as list_studies, a study another server serves is listed as last committed (`from_storage`), and
 * a study this server gave up is listed with the figures its new owner committed. Before, the line
 * came from this server's memory alone: other servers' studies were missing, and a study taken over
 * from it was listed with its stale figures (or not at all once it was given up).
 */
import { describe, expect, inject, it } from "vitest";
import { PgOwnershipStore } from "../storage/postgres/pg-ownership.js";
import { closers, ownedServer } from "../testing/shared-ownership-server.js";
import { postgresBackend } from "../testing/storage-backends.js";
import { waitFor } from "../testing/waits.js";
import type { Renewal } from "./ownership.js";

const TTL_MS = 600;
const SPACE = { x: { type: "float", low: -5, high: 5 } };

/** The real store; while `paused`, renewals wait (a stalled process renews nothing: its rows expire), and run once let go. */
class PausableStore extends PgOwnershipStore {
  private gate: Promise<void> | null = null;
  private open: () => void = () => undefined;
  pause(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  resume(): void {
    this.gate = null;
    this.open();
  }
  override async renew(owner: string, ttlMs: number): Promise<Renewal> {
    if (this.gate) await this.gate;
    return super.renew(owner, ttlMs);
  }
}

const cleanup = closers();

async function server(url: string, id: string) {
  const { svc, store, ownership, fatal } = await ownedServer(cleanup, url, id, { ttlMs: TTL_MS, store: (storage) => new PausableStore(storage) });
  return { svc, store, ownership, fatal };
}

/** `run`, again while it answers UNAVAILABLE (a hold being confirmed), as clients do. */
async function unavailableRetried<T>(run: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await run();
    } catch (err) {
      if (i >= 100 || (err as { code?: string }).code !== "UNAVAILABLE") throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe("studies_overview on servers sharing one database", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("lists other servers' studies as last committed, and a study taken over with its new owner's figures", async () => {
    const url = backend.location();
    const a = await server(url, "a");
    await a.svc.execute("create_study", { name: "s", space: SPACE, seed: 1 });
    await a.svc.execute("create_study", { name: "mine", space: SPACE, seed: 1 });
    const b = await server(url, "b");
    await b.svc.execute("create_study", { name: "theirs", space: SPACE, seed: 1 });
    const t0 = await b.svc.execute("ask", { study: "theirs" });
    await b.svc.execute("tell", { study: "theirs", trial: t0.trial.number, token: t0.lease.token, state: "COMPLETE", value: 3 });

    // Before: 'theirs' was missing from a's list.
    const first = (await a.svc.execute("studies_overview", {})).studies;
    expect(first.map((s) => [s.name, s.from_storage])).toEqual([["s", false], ["mine", false], ["theirs", true]]);
    expect(first[2]).toMatchObject({ n_trials: 1, best: { number: 0, value: 3 }, live_workers: 0, workers: [], last_activity_at: null });

    // 'a' stalls past its TTL: 'b' takes its studies over and runs a trial of 's'.
    a.store.pause();
    await waitFor(async () => (await b.svc.execute("get_study", { study: "s" }).then(() => true, () => false)), 30_000);
    const t1 = await b.svc.execute("ask", { study: "s" });
    await b.svc.execute("tell", { study: "s", trial: t1.trial.number, token: t1.lease.token, state: "COMPLETE", value: 7 });
    a.store.resume();

    // Before: 's' was listed from a's memory (no trial), or left out once a had given it up.
    const after = (await unavailableRetried(() => a.svc.execute("studies_overview", {}))).studies;
    const s = after.find((x) => x.name === "s");
    expect(s).toMatchObject({ from_storage: true, n_trials: 1, best: { number: 0, value: 7 } });
    expect(after.map((x) => x.name).sort()).toEqual(["mine", "s", "theirs"]);
    // The same lines list_studies gives.
    const listed = (await unavailableRetried(() => a.svc.execute("list_studies", {}))).studies;
    expect(listed.map((x) => [x.name, x.n_trials])).toEqual(after.map((x) => [x.name, x.n_trials]));
    expect([...a.fatal, ...b.fatal]).toEqual([]);
  });
});
