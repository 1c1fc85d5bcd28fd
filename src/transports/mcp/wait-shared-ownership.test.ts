/**
 * wait_for_progress on a server sharing PostgreSQL with others (`tuneport mcp --storage
 * postgresql://…`), where a study is loaded on its first request (ownership.ts `use`). The tool
 * reads the study's version first, and that read went around the ownership module: a study not yet
 * loaded here (this server just started, or it serves the study since a takeover) was answered
 * "no study named 's' (there are no studies)", and one another server owns the same, where every
 * other tool names the owner (the redirect). A study this server lost mid-wait (taken over after a
 * stall: no longer fatal) left the wait asleep until its timeout.
 */
import { afterEach, expect, inject, it } from "vitest";
import { TuneportError } from "../../domain/errors.js";
import { silentLogger } from "../../logger.js";
import { PgOwnershipStore } from "../../storage/postgres/pg-ownership.js";
import { PostgresStorage } from "../../storage/postgres/postgres-storage.js";
import { postgresBackend } from "../../testing/storage-backends.js";
import { type Renewal, SharedOwnership } from "../../service/ownership.js";
import { StudyService } from "../../service/study-service.js";
import { serviceBackend } from "./backend.js";
import { errorResult } from "./format.js";
import { tuneportErrorOf } from "../../testing/waits.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };

/** The real store; while `paused`, renewals write nothing and answer as the last one did (a stalled process's rows expire). */
class PausableStore extends PgOwnershipStore {
  paused = false;
  last: Renewal = new Map<string, number>();
  override async renew(owner: string, ttlMs: number): Promise<Renewal> {
    if (this.paused) return this.last; // with the rows it found locked: still held, not lost
    return (this.last = await super.renew(owner, ttlMs));
  }
}
const open: { svc: StudyService; storage: PostgresStorage }[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) {
    await s.svc.close().catch(() => undefined);
    await s.storage.close().catch(() => undefined);
  }
});

async function server(location: string, name: string, ttlMs = 60_000): Promise<{ svc: StudyService; store: PausableStore }> {
  const storage = await PostgresStorage.open({ url: location, poolSize: 3 });
  const store = new PausableStore(storage);
  const ownership = new SharedOwnership({ store, logger: silentLogger(), serverId: name, endpoint: `tcp://${name}:1`, ttlMs });
  const svc = await StudyService.open({ storage, logger: silentLogger(), ownership, reapIntervalMs: 0 });
  open.push({ svc, storage });
  return { svc, store };
}

it("the version wait_for_progress reads first loads a study stored but not yet served here, and names the owner of one served elsewhere", async () => {
  const location = postgresBackend(inject("pgUrl")).location();
  const a = await server(location, "a");
  await a.svc.execute("create_study", { name: "s", space: SPACE, strategy: "random", seed: 1 });
  // Another server holds 's': the answer names it, as get_study's does, not "no study named 's'".
  const b = await server(location, "b");
  const moved = await tuneportErrorOf(serviceBackend(b.svc).version("s"));
  expect(moved.code).toBe("UNAVAILABLE");
  expect(moved.data?.reason).toBe("moved");
  // What an agent reads: MCP follows no redirect, so not the protocol's "resend it (same id)" alone.
  const text = (errorResult(moved).content[0] as { text: string }).text;
  expect(text).toMatch(/\nNext step: Another server serves this study now: call again .*tuneport mcp --connect tcp:\/\/a:1\)/);
  // Once 'a' hands it back (it stops), 'b' serves it from its first read, the version included.
  await a.svc.close();
  const v = await serviceBackend(b.svc).version("s");
  expect(typeof v).toBe("number");
  // A study that does not exist is still NOT_FOUND.
  expect((await tuneportErrorOf(serviceBackend(b.svc).version("nope"))).code).toBe("NOT_FOUND");
});

it("a wait on a study this server loses ends then, naming the new owner, not at its timeout", async () => {
  const location = postgresBackend(inject("pgUrl")).location();
  const a = await server(location, "a", 600);
  await a.svc.execute("create_study", { name: "s", space: SPACE, strategy: "random", seed: 1 });
  const backend = serviceBackend(a.svc);
  const v = await backend.version("s");
  // A 10-minute wait: it ends only because the study is lost (the test's own timeout catches a hang).
  const waiting = tuneportErrorOf(backend.waitForChange("s", v, 600_000));
  // 'a' stalls (its renewals write nothing), its row expires, and 'b' takes the study over. Once a
  // renewal found 's': a paused one answers as the last did (one made before 's' would lose it at once).
  while (!a.store.last.has("s")) await new Promise((r) => setTimeout(r, 20));
  a.store.paused = true;
  const b = await server(location, "b", 600);
  for (const t0 = Date.now(); ; ) {
    const err = await b.svc.execute("get_study", { study: "s" }).then(() => null, (e: unknown) => e);
    if (err === null) break;
    if (!(err instanceof TuneportError && err.code === "UNAVAILABLE") || Date.now() - t0 > 20_000) throw err;
    await new Promise((r) => setTimeout(r, 20));
  }
  // 'a' renews again, finds 's' lost and gives it up: the wait ends with the redirect.
  a.store.paused = false;
  const err = await waiting;
  expect(err.code).toBe("UNAVAILABLE");
  expect(err.data).toMatchObject({ reason: "moved", endpoint: "tcp://b:1" });
});
