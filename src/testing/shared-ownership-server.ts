/**
 * A server of a shared-ownership test on the shared test PostgreSQL: its own storage (`poolSize: 3`)
 * at `url`, an ownership store on it (PgOwnershipStore, or a test's subclass), SharedOwnership as
 * server `id` (endpoint `tcp://<id>:1`) and a StudyService without reaper, whose fatal errors are
 * collected. `closers()` gives the list a test file's afterEach runs (last pushed, first run): each
 * server pushes its storage's and service's closing onto it.
 */
import { afterEach } from "vitest";
import { silentLogger } from "../logger.js";
import { SharedOwnership } from "../service/ownership.js";
import { StudyService } from "../service/study-service.js";
import type { SummarySource } from "../service/views.js";
import { PgOwnershipStore } from "../storage/postgres/pg-ownership.js";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";

export type Closers = (() => Promise<unknown>)[];

/** A list of closers run after each test of the calling file, in reverse, their failures ignored. */
export function closers(): Closers {
  const cleanup: Closers = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  });
  return cleanup;
}

export interface OwnedServerOptions<S extends PgOwnershipStore> {
  ttlMs: number;
  /** The ownership store on the server's storage; PgOwnershipStore when absent. */
  store?: (storage: PostgresStorage) => S;
  /** Replaces the store's summary reads with what this returns from the real ones (to count or hold them). */
  summaries?: (base: SummarySource) => SummarySource;
  /** The service's clock (ms); the database's without it (SharedOwnership.now). */
  clock?: () => number;
}

export async function ownedServer<S extends PgOwnershipStore = PgOwnershipStore>(cleanup: Closers, url: string, id: string, opts: OwnedServerOptions<S>) {
  const storage = await PostgresStorage.open({ url, poolSize: 3 });
  const store = opts.store ? opts.store(storage) : (new PgOwnershipStore(storage) as S);
  if (opts.summaries) Object.assign(store, { summaries: opts.summaries(store.summaries) });
  const ownership = new SharedOwnership({ store, logger: silentLogger(), serverId: id, endpoint: `tcp://${id}:1`, ttlMs: opts.ttlMs });
  const fatal: unknown[] = [];
  const svc = await StudyService.open({ storage, logger: silentLogger(), ownership, reapIntervalMs: 0, onFatal: (e) => fatal.push(e), ...(opts.clock ? { clock: opts.clock } : {}) });
  cleanup.push(() => storage.close(), () => svc.close());
  return { svc, storage, store, ownership, fatal };
}
