/**
 * Several servers whose clocks disagree: leases are kept on the database's clock, so a takeover by a
 * server whose clock runs far ahead (or behind) of the dead owner's treats running trials as that
 * owner did.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { silentLogger } from "../logger.js";
import { PgOwnershipStore } from "../storage/postgres/pg-ownership.js";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { postgresBackend } from "../testing/storage-backends.js";
import { SharedOwnership } from "./ownership.js";
import { StudyService } from "./study-service.js";

const TTL_MS = 400;
const SPACE = { x: { type: "float", low: -5, high: 5 } };
const open: { storage: PostgresStorage; svc: StudyService; dead: boolean }[] = [];

async function server(location: string, name: string) {
  const storage = await PostgresStorage.open({ url: location, poolSize: 3 });
  const ownership = new SharedOwnership({ store: new PgOwnershipStore(storage), logger: silentLogger(), serverId: name, endpoint: `tcp://${name}:1`, ttlMs: TTL_MS });
  const svc = await StudyService.open({ storage, logger: silentLogger(), ownership, reapIntervalMs: 0, onFatal: () => undefined });
  const s = { storage, svc, dead: false };
  open.push(s);
  return s;
}

afterEach(async () => {
  for (const s of open.splice(0)) {
    if (s.dead) continue;
    await s.svc.close().catch(() => undefined);
    await s.storage.close().catch(() => undefined);
  }
});

describe("clock skew between servers", () => {
  const backend = postgresBackend(inject("pgUrl"));
  it("keeps a running lease through a takeover by a server whose clock is an hour ahead", async () => {
    const loc = backend.location();
    const a = await server(loc, "a");
    await a.svc.execute("create_study", { name: "s", space: SPACE, seed: 1 });
    const q = await a.svc.execute("ask", { study: "s" });
    a.dead = true;
    await a.storage.close();
    // B's machine clock runs an hour ahead (both servers live in this process: B is started, and
    // takes A's study over, while Date.now is an hour ahead).
    const real = Date.now;
    Date.now = () => real() + 3_600_000;
    try {
      const b = await server(loc, "b");
      const t0 = real();
      for (;;) {
        try {
          await b.svc.execute("get_study", { study: "s" });
          break;
        } catch {
          if (real() - t0 > 20_000) throw new Error("not taken over");
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      // Before the fix B's reaper failed the trial at once: its lease (A's clock) ended an hour ago.
      await b.svc.reap();
      expect((await b.svc.execute("trial", { study: "s", trial: q.trial.number })).trial.state).toBe("RUNNING");
      await b.svc.execute("tell", { study: "s", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 1 });
    } finally {
      Date.now = real;
    }
  });
});
