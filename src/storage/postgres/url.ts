import { TuneportError } from "../../domain/errors.js";

/** True for the storage URLs the PostgreSQL backend takes. Apart from it (as is all of this file) so that choosing a backend does not load `pg`. */
export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//.test(s);
}

/**
 * A storage location for logs: a PostgreSQL URL's password replaced by `***`, wherever the URL
 * holds one: in the user part (up to the last `@` before the host, since a password may hold a
 * raw `@` that the URL parser, and so `pg`, reads as part of it) and in `password=` and
 * `sslpassword=` query parameters (which `pg` takes too). Other locations are returned as given.
 */
export function redactStorageLocation(location: string): string {
  if (!isPostgresUrl(location)) return location;
  return location
    .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*:)[^/?#]*@/, "$1***@")
    .replace(/([?&](?:ssl)?password=)[^&#]*/gi, "$1***");
}

/** Splits `schema=` and `connect_timeout` off a URL (pg does not know the one and ignores the other). */
export function parseUrl(url: string): { connectionString: string; schema: string | null; connectTimeoutMs: number | null } {
  // Not `new URL`: a socket URL has no host (`postgresql://user@/db?host=/run/postgresql`).
  const q = url.indexOf("?");
  const params = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
  const schema = params.get("schema");
  params.delete("schema");
  if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new TuneportError("INVALID_ARGUMENT", `schema name ${JSON.stringify(schema)} must be lower-case letters, digits and _`);
  // libpq's parameter, which pg reads and then ignores: taken here, so a URL that works with psql bounds the wait here too.
  const timeout = params.get("connect_timeout");
  params.delete("connect_timeout");
  const connectTimeoutMs = timeout === null ? secondsFromEnv() : connectTimeoutMsOf(timeout, "the URL's connect_timeout");
  refuseMultiHost(url, params.get("host"));
  checkPort(url, params.get("port"));
  const rest = params.toString();
  return { connectionString: (q < 0 ? url : url.slice(0, q)) + (rest ? `?${rest}` : ""), schema, connectTimeoutMs };
}

/**
 * Refuses libpq's multi-host form (`postgresql://h1:5432,h2:5432/db?target_session_attrs=read-write`,
 * or `?host=h1,h2`), which the driver (node-postgres) does not support: it was refused as "the
 * URL's port must be a number from 1 to 65535, not "5432,h2:5432"", which sent operators after a
 * typo. Says what to use instead (docs/SCALING.md "High availability").
 */
function refuseMultiHost(url: string, hostParam: string | null): void {
  const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(url)?.[1] ?? "";
  const hosts = authority.slice(authority.lastIndexOf("@") + 1);
  if (!hosts.includes(",") && !(hostParam ?? "").includes(",")) return;
  throw new TuneportError(
    "INVALID_ARGUMENT",
    `the URL names several hosts (${JSON.stringify(hostParam?.includes(",") ? hostParam : hosts)}), libpq's multi-host form, which tuneport's PostgreSQL driver does not support; ` +
      "name one host that always reaches the primary (a virtual IP or DNS name your failover moves, or a proxy such as PgBouncer, HAProxy or pgpool in front of the servers): see docs/SCALING.md, 'High availability'",
  );
}

/**
 * Refuses a port that is not 1-65535, in the authority (`host:port`) or as `?port=`. The driver
 * read `?port=abc` as NaN and threw inside its pool, whose connection then never ended: `serve`
 * waited out the connect timeout and exited 0 without a word.
 */
function checkPort(url: string, fromParams: string | null): void {
  const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(url)?.[1] ?? "";
  const hostPort = authority.slice(authority.lastIndexOf("@") + 1);
  if (hostPort.startsWith("[") && !hostPort.includes("]"))
    throw new TuneportError("INVALID_ARGUMENT", `the URL's IPv6 host ${JSON.stringify(hostPort)} has no closing ']': postgresql://user@[::1]:5432/database`);
  const inAuthority = (hostPort.startsWith("[") ? /^\[[^\]]*\](?::(.*)|(.+))?$/ : /^[^:]*(?::(.*))?$/).exec(hostPort)?.slice(1).find((x) => x !== undefined);
  for (const [port, where] of [[inAuthority, "the URL's port"], [fromParams ?? undefined, "the URL's port= parameter"]] as const) {
    if (port === undefined || port === "") continue;
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
      throw new TuneportError("INVALID_ARGUMENT", `${where} must be a number from 1 to 65535, not ${JSON.stringify(port)}: postgresql://user@host:5432/database`);
  }
}

/** `PGCONNECT_TIMEOUT` (libpq's variable for the same setting), or null when unset or empty. */
function secondsFromEnv(): number | null {
  const v = process.env.PGCONNECT_TIMEOUT;
  return v === undefined || v === "" ? null : connectTimeoutMsOf(v, "PGCONNECT_TIMEOUT");
}

/**
 * Whole seconds, as libpq takes them, 1 included (libpq waits 2 s at least), in ms; null for 0.
 * libpq reads 0 as "wait forever", which tuneport never does (a database that accepts and never
 * answers would hang the command or the server's requests): 0 keeps the default bound, so a
 * set-up that has it (often an environment's PGCONNECT_TIMEOUT=0) keeps working.
 */
function connectTimeoutMsOf(v: string, where: string): number | null {
  if (!/^[0-9]{1,6}$/.test(v))
    throw new TuneportError(
      "INVALID_ARGUMENT",
      `${where} must be a whole number of seconds from 0 (the default wait) to 999999, not ${JSON.stringify(v)}`,
    );
  return Number(v) === 0 ? null : Number(v) * 1000;
}

/**
 * A failure to connect or migrate as one line naming the server (never the password) and the fix;
 * TuneportErrors pass through. UNAVAILABLE: the server could not be reached or answered nothing.
 */
export function openFailure(err: unknown, url: string, connectTimeoutMs: number | undefined): TuneportError {
  if (err instanceof TuneportError) return err;
  let where = "the PostgreSQL server";
  try {
    const u = new URL(url);
    where = `the PostgreSQL server at ${u.host || "localhost"}${u.pathname.length > 1 ? ` (database ${u.pathname.slice(1)})` : ""}`;
  } catch {
    // keep the plain words
  }
  let message = (err as Error)?.message ?? String(err);
  if ((err as { code?: unknown })?.code === "ERR_INVALID_URL")
    return new TuneportError("INVALID_ARGUMENT", `${where} cannot be opened: the URL is not one the driver can read (${message}); write postgresql://user[:password]@host[:port]/database`);
  if (/client password must be a string/.test(message))
    message = "the server asks for a password and none was given (put it in ~/.pgpass or PGPASSWORD)";
  if (connectTimeoutMs && /timeout/i.test(message))
    message += ` (no answer within ${connectTimeoutMs / 1000} s; the URL's connect_timeout=SECONDS or PGCONNECT_TIMEOUT sets the wait)`;
  return new TuneportError("UNAVAILABLE", `cannot open ${where}: ${message}; check that it runs and the URL's host, port, user, password and database`);
}
