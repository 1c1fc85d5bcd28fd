/**
 * A group commit's rows as the JSON text of one or more `tuneport_commit` calls.
 *
 * One call takes the whole batch as one JSON value, and JavaScript strings stop at about 2^29
 * characters: 400 asks in flight on a study whose categorical has 10,000 choices made one batch of
 * 800 rows (each trial row carries its distributions, each stored reply them again), and building
 * its text threw `RangeError: Invalid string length`, which stopped the server (a failed commit is
 * fatal). A batch longer than `COMMIT_CHUNK_CHARS` is cut, in order, into several calls that run in
 * one transaction (postgres-storage.ts `commit`); every other batch stays one call, one round trip.
 */
import type pg from "pg";

/** Most characters of one call's JSON (a single row longer than this travels alone). */
export const COMMIT_CHUNK_CHARS = 32 * 1024 * 1024;

/** `rows` as JSON arrays of at most `max` characters each (one row alone may exceed it), in order; at least one. */
export function commitChunks(rows: readonly unknown[], max = COMMIT_CHUNK_CHARS): string[] {
  const out: string[] = [];
  let part: string[] = [];
  let size = 2;
  for (const row of rows) {
    const json = JSON.stringify(row);
    if (part.length > 0 && size + json.length + 1 > max) {
      out.push(`[${part.join(",")}]`);
      part = [];
      size = 2;
    }
    part.push(json);
    size += json.length + 1;
  }
  if (part.length > 0 || out.length === 0) out.push(`[${part.join(",")}]`);
  return out;
}

/** A batch of more rows than this (an import) plans each statement for the rows it sees: see `runChunks`. */
export const CUSTOM_PLAN_ROWS = 2000;

/**
 * Runs `call` on each chunk: alone on the pool for one chunk of at most CUSTOM_PLAN_ROWS `rows`,
 * else on one connection in one transaction.
 */
export async function runChunks(
  pool: pg.Pool,
  chunks: readonly string[],
  call: (q: pg.Pool | pg.PoolClient, json: string) => Promise<unknown>,
  rows = 0,
): Promise<void> {
  if (chunks.length === 1 && rows <= CUSTOM_PLAN_ROWS) {
    await call(pool, chunks[0] as string);
    return;
  }
  const client = await pool.connect();
  // A connection whose ROLLBACK failed may still be inside the failed transaction: destroyed, not pooled.
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    // Plans made while this batch's tables were small would stay for the whole batch: the foreign-key
    // check of each intermediate value scanned the whole trials table (10,000 trials imported into an
    // analysed small database: 27 s, quadratic; 4.8 s planned per statement).
    if (rows > CUSTOM_PLAN_ROWS) await client.query("SET LOCAL plan_cache_mode = force_custom_plan");
    for (const json of chunks) await call(client, json);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
    throw err;
  } finally {
    client.release(broken);
  }
}
