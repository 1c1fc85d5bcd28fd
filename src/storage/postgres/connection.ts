/**
 * Connection failures of PostgreSQL as tuneport reports them: a database that cannot be reached
 * (restarting) as a retryable UNAVAILABLE, and pg's Client closing what it leaves open.
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
