/**
 * Opening a storage for one-off commands (`studies`, `export`, `import`) without loading the
 * service: `tuneport studies list` starts, reads summaries and exits, so what it imports is
 * most of what it costs (issue 19 item 5).
 */
import { isPostgresUrl } from "../storage/postgres/url.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import type { Storage, SummaryReader } from "../storage/storage.js";

/**
 * How long a one-off command, or a server (`serve`, `mcp`) for each connection it opens or takes
 * from its pool, waits for PostgreSQL before it gives up (UNAVAILABLE): a database that accepts
 * and never answers hung them.
 */
export const PG_CONNECT_TIMEOUT_MS = 20_000;

/** Opens SQLite (a file path) or PostgreSQL (a `postgresql://` URL); both read summaries. */
export async function openStorage(path: string, opts: { readonly?: boolean } = {}): Promise<Storage & SummaryReader> {
  // Imported only for a PostgreSQL URL: loading `pg` costs a SQLite command ~60 ms of its start.
  if (isPostgresUrl(path)) {
    const { PostgresStorage } = await import("../storage/postgres/postgres-storage.js");
    return PostgresStorage.open({ url: path, readonly: opts.readonly, poolSize: 2, connectTimeoutMs: PG_CONNECT_TIMEOUT_MS });
  }
  return new SqliteStorage({ path, readonly: opts.readonly });
}
