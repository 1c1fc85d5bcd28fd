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
import { createRequire } from "node:module";
import type pg from "pg";

/** The driver's own text of a parameter (an array as its PostgreSQL literal), which it otherwise makes when it sends the statement. */
const prepareValue = (createRequire(import.meta.url)("pg/lib/utils.js") as { prepareValue: (v: unknown) => unknown }).prepareValue;

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

/**
 * One `tuneport_commit_rows` call (postgres-schema.ts, migration 7): the chunk's rows as JSON, but its
 * stored replies (`k: "pr"`) and, when the chunk deletes no study, its intermediate values
 * (`k: "ai"`) as arrays that one statement each writes after the rest. Replies keep the first of an
 * id (as the table keeps it), intermediate values the last of a (trial, step), as the rows in order
 * would have left them; an intermediate value cannot move past a study's deletion, whose cascade it
 * would then miss, so a chunk with one keeps its values in the JSON.
 */
export interface CommitCall {
  readonly json: string;
  readonly replies: { ids: string[]; ops: string[]; replies: string[]; at: number[] };
  readonly values: { trials: number[]; steps: number[]; values: (number | string | null)[] };
}

type Row = Record<string, unknown>;

/** `rows` (encoded changes, in order) as the calls of one commit: `commitChunks`'s cut, each chunk split as `CommitCall` says. */
export function commitCalls(rows: readonly Row[], max = COMMIT_CHUNK_CHARS): CommitCall[] {
  const out: CommitCall[] = [];
  let part: Row[] = [];
  let size = 2;
  const close = () => {
    out.push(splitChunk(part));
    part = [];
    size = 2;
  };
  for (const row of rows) {
    const n = JSON.stringify(row).length;
    if (part.length > 0 && size + n + 1 > max) close();
    part.push(row);
    size += n + 1;
  }
  if (part.length > 0 || out.length === 0) close();
  return out;
}

function splitChunk(rows: readonly Row[]): CommitCall {
  const moveValues = !rows.some((r) => r.k === "ds");
  const json: string[] = [];
  const replies: CommitCall["replies"] = { ids: [], ops: [], replies: [], at: [] };
  const seen = new Set<string>();
  const last = new Map<string, Row>();
  for (const r of rows) {
    if (r.k === "pr") {
      const id = r.id as string;
      if (seen.has(id)) continue;
      seen.add(id);
      replies.ids.push(id);
      replies.ops.push(r.op as string);
      replies.replies.push(r.r as string);
      replies.at.push(r.at as number);
    } else if (r.k === "ai" && moveValues) {
      const key = `${r.t as number} ${r.s as number}`;
      last.set(key, r);
    } else json.push(JSON.stringify(r));
  }
  const values: CommitCall["values"] = { trials: [], steps: [], values: [] };
  for (const r of last.values()) {
    values.trials.push(r.t as number);
    values.steps.push(r.s as number);
    values.values.push(r.v as number | string | null);
  }
  return { json: `[${json.join(",")}]`, replies, values };
}

/**
 * The parameters of `c`'s call after the fence's (`$4` on), as the text the driver sends. Made
 * before a transaction begins, not by the driver between its statements: there only PostgreSQL's
 * idle-in-transaction clock runs (`beginSql`), and turning 300,000 intermediate values into text
 * took about a second on a shared CPU, so a serve with a short ownership TTL had the session of
 * its own import ended, and a failed commit stops the server.
 */
export function callValues(c: CommitCall): unknown[] {
  return [c.json, c.replies.ids, c.replies.ops, c.replies.replies, c.replies.at, c.values.trials, c.values.steps, c.values.values].map(prepareValue);
}

/** Default `idleMs` of `beginSql`: the default ownership TTL. */
export const IDLE_IN_TRANSACTION_MS = 10_000;

/**
 * A transaction's first statement: BEGIN, with `idle_in_transaction_session_timeout` for it alone
 * (SET LOCAL: nothing sent at connect, which poolers such as PgBouncer refuse). tuneport sends a
 * transaction's statements back to back, so a session idle inside one belongs to a process that
 * stalled (SIGSTOP, a paused VM, a partition): a batch's transaction held the owner rows it fences
 * FOR SHARE, and another server's takeover waited for as long as the stall lasted (forever under
 * SIGSTOP). PostgreSQL now ends the session after `idleMs`, and the stalled batch fails.
 */
export function beginSql(idleMs: number): string {
  return `BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${Math.max(1, Math.round(idleMs))}`;
}

/** A batch of more rows than this (an import) plans each statement for the rows it sees: see `runChunks`. */
export const CUSTOM_PLAN_ROWS = 2000;

/**
 * The routines (ErrorResponse field R, never translated) of PostgreSQL that grow a table or index file
 * (md.c: `mdextend`, and `mdzeroextend` from PostgreSQL 16). A write refused by a disk quota (EDQUOT)
 * or a file size limit (EFBIG) fails there as XX000 internal_error: `errcode_for_file_access` (elog.c,
 * PostgreSQL 15 and later alike) maps ENOSPC to 53100 and no other errno of a full disk.
 */
const EXTEND_ROUTINES: ReadonlySet<string> = new Set(["mdextend", "mdzeroextend"]);

/**
 * Whether `err` is PostgreSQL saying it found no room for a write: SQLSTATE 53100 (disk_full: a table
 * or index file it could not extend, ENOSPC), or XX000 from a routine that extends a file
 * (`EXTEND_ROUTINES`: a disk quota, a file size limit). Read from the error's code and routine, which
 * no `lc_messages` translates: its message was matched before 2026-12-07 ("could not extend file"
 * and "quota"), and a server speaking German ("konnte Datei »base/5/16384« nicht erweitern: Die
 * Datei ist zu gross") stopped tuneport (a failed commit is fatal) where an English one was waited
 * out. Not 53000 (too many open files) nor 53200 (out of memory): no disk to free. Whether the batch
 * committed is a separate question (`markFull`).
 */
export function diskFull(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const { code, routine } = err as { code?: unknown; routine?: unknown };
  return code === "53100" || (code === "XX000" && typeof routine === "string" && EXTEND_ROUTINES.has(routine));
}

/**
 * Marks `err` as storage.ts `storageFull` (and not committed) when it is `diskFull` and the batch is
 * certain to have written nothing: `certain` says so (a statement before COMMIT failed), or the session
 * that answered it answered another statement since (`alive`). An ERROR ends its transaction, aborted,
 * and leaves the session open; what may have committed is answered by a PANIC (the WAL's disk full
 * while writing a commit record, whose bytes may be on disk) or FATAL, which end the session.
 */
export function markFull(err: unknown, certain: boolean, alive = false): void {
  if (diskFull(err) && (certain || alive)) Object.assign(err as object, { storageFull: true, notCommitted: true });
}

/**
 * Runs `call` on each chunk: alone (`alone`, no BEGIN: one implicit transaction) for one chunk of at
 * most CUSTOM_PLAN_ROWS `rows`, else in one transaction, on one pooled connection either way.
 */
export async function runChunks<C = string>(
  pool: pg.Pool,
  chunks: readonly C[],
  call: (q: pg.PoolClient, chunk: C, alone: boolean) => Promise<unknown>,
  rows = 0,
  idleMs = IDLE_IN_TRANSACTION_MS,
): Promise<void> {
  const client = await pool.connect();
  // A connection whose ROLLBACK failed may still be inside the failed transaction: destroyed, not pooled.
  let broken: Error | undefined;
  const breaks = (e: unknown) => (broken = e instanceof Error ? e : new Error(String(e)));
  const rollback = () => client.query("ROLLBACK").catch(breaks);
  // A session that ends between two statements (PostgreSQL restarting, or ending a transaction left
  // idle) is reported as an 'error' event, which pg-pool listens to only while the client is in the
  // pool: unheard, it was an uncaught exception that killed the process (exit 1, a driver stack)
  // instead of failing this commit. The next statement fails with it.
  const unheard = () => undefined;
  client.on("error", unheard);
  const done = () => (client.off("error", unheard), client.release(broken));
  if (chunks.length === 1 && rows <= CUSTOM_PLAN_ROWS) {
    try {
      await call(client, chunks[0] as C, true);
    } catch (err) {
      // Its own transaction: a disk-full ERROR rolled it back; whether it was an ERROR, the session says.
      if (diskFull(err)) await client.query("SELECT 1").catch(breaks);
      else breaks(err);
      markFull(err, false, broken === undefined);
      throw err;
    } finally {
      done();
    }
    return;
  }
  try {
    await client.query(beginSql(idleMs));
    // Plans made while this batch's tables were small would stay for the whole batch: the foreign-key
    // check of each intermediate value scanned the whole trials table (10,000 trials imported into an
    // analysed small database: 27 s, quadratic; 4.8 s planned per statement).
    if (rows > CUSTOM_PLAN_ROWS) await client.query("SET LOCAL plan_cache_mode = force_custom_plan");
    for (const json of chunks) await call(client, json, false);
  } catch (err) {
    // Before its COMMIT: nothing of the batch is written (storage.ts `committed`), whatever ended it.
    if (typeof err === "object" && err !== null) (err as { notCommitted?: boolean }).notCommitted = true;
    markFull(err, true);
    await rollback();
    done();
    throw err;
  }
  try {
    await client.query("COMMIT");
  } catch (err) {
    // Refused by the driver before it was sent (the session had ended: a process stopped between
    // its last statement and its COMMIT), it committed nothing either; any other failure may have,
    // but a disk-full ERROR (the session answers the ROLLBACK after it), which aborted it.
    if (err instanceof Error && /is not queryable/.test(err.message)) (err as { notCommitted?: boolean }).notCommitted = true;
    await rollback();
    markFull(err, false, broken === undefined);
    throw err;
  } finally {
    done();
  }
}
