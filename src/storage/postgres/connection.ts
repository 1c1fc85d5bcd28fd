/**
 * Connection failures of PostgreSQL as tuneport reports them: a database that cannot be reached
 * (restarting) as a retryable UNAVAILABLE, and pg's Client closing what it leaves open; and the
 * database encodings tuneport writes to (`encodingRefusal`).
 */
import pg from "pg";
import { TuneportError } from "../../domain/errors.js";

/**
 * A failure to reach the database (PostgreSQL restarting or shutting down, a connection refused or
 * cut) as UNAVAILABLE, which clients retry with the same request id, instead of INTERNAL, which
 * ends a worker; null for any other error. Only for work that has not written anything yet (the
 * reply lookup before a request runs): a failed commit still stops the server.
 */
export function databaseUnreachable(err: unknown): TuneportError | null {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  const message = typeof e?.message === "string" ? e.message : String(err);
  const unreachable =
    code.startsWith("08") || // connection exceptions
    code === "57P01" || // admin_shutdown
    code === "57P02" || // crash_shutdown
    code === "57P03" || // cannot_connect_now (starting up or shutting down)
    ["ECONNREFUSED", "ECONNRESET", "ENOENT", "EPIPE", "ETIMEDOUT"].includes(code) ||
    /Connection terminated|timeout exceeded when trying to connect/.test(message);
  return unreachable ? new TuneportError("UNAVAILABLE", `the database is unreachable (${message}); retry`, { reason: "database" }) : null;
}

/**
 * pg's Client, except that a connection that fails while authenticating is closed. pg leaves the
 * socket open when it gives up on its own side (no password to answer the server's SCRAM challenge),
 * so the process lived on until the server's authentication_timeout (60 s) closed it: a CLI command
 * printed its error and then hung for a minute.
 */
export class ClosingClient extends pg.Client {
  override connect(): Promise<pg.Client>;
  override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
  override connect(callback?: (...args: any[]) => void): Promise<pg.Client> | void {
    const close = () => (this as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    if (callback)
      return super.connect((...args: unknown[]) => {
        if (args[0]) close();
        callback(...args);
      });
    return super.connect().catch((err: unknown) => {
      close();
      throw err;
    });
  }
}

/**
 * The server encodings that hold every string tuneport accepts: UTF8, and SQL_ASCII, which stores
 * the bytes it is sent without converting them (the driver always speaks UTF-8: pg-protocol sends
 * `client_encoding=UTF8` at connect). Every other encoding converts from UTF-8 on the way in and has
 * no equivalent for some characters: on a LATIN1 database a `tell` whose user attribute held "😀"
 * failed its group commit ("character with byte sequence 0xf0 0x9f 0x98 0x80 in encoding UTF8 has
 * no equivalent in encoding LATIN1"), the other clients' writes of that batch were never
 * acknowledged, and the server stopped (a failed commit is fatal).
 */
export const WRITABLE_ENCODINGS: readonly string[] = ["UTF8", "SQL_ASCII"];

/**
 * The refusal of a database whose encoding cannot hold every string a client may send
 * (`WRITABLE_ENCODINGS`), or null: the storage throws it at open (postgres-storage.ts `migrate`),
 * before creating anything in an empty database, so that no client can make a commit fail this way.
 * Reading one stays possible (`export` moves its studies to a UTF8 database), so tuneport's own
 * tables there are still migrated first: a read-only open refuses an older schema.
 * @returns FAILED_PRECONDITION naming the encoding and the remedy, or null.
 */
export async function encodingRefusal(client: pg.ClientBase): Promise<TuneportError | null> {
  const { rows } = await client.query<{ enc: string; db: string }>("SELECT current_setting('server_encoding') AS enc, current_database() AS db");
  const { enc, db } = rows[0] as { enc: string; db: string };
  if (WRITABLE_ENCODINGS.includes(enc)) return null;
  return new TuneportError(
    "FAILED_PRECONDITION",
    `database ${JSON.stringify(db)} is encoded ${enc}, which cannot hold every character a client may send (a study name or user attribute with "😀"): ` +
      `PostgreSQL would refuse that commit, and a failed commit stops the server. Serve from a UTF8 database ` +
      `(CREATE DATABASE name ENCODING 'UTF8' TEMPLATE template0); 'tuneport export' still reads this one`,
    { encoding: enc },
  );
}
