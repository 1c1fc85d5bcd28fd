/**
 * The rules of tuneport's HTTP doors (MCP over Streamable HTTP, the dashboard), defined once:
 *
 * - **Where:** a door binds 127.0.0.1 unless told otherwise. Off loopback a token is required
 *   (`tokenRequired`); the dashboard asks for one on loopback only when it is given one, MCP always.
 * - **Host/Origin (DNS rebinding):** the `Host` header, and the `Origin` header when a browser sends
 *   one, must name a loopback host (`localhost`, 127.0.0.0/8, `[::1]`), the bound address, or a name
 *   on the allow-list; anything else is refused (403) before the token is looked at. (MCP transports
 *   spec, "Security Warning": servers MUST validate Origin.)
 * - **Tokens** are at least `MIN_TOKEN_LENGTH` characters and compared in constant time (SHA-256
 *   digests, `timingSafeEqual`), so neither their content nor their length leaks through timing.
 * - **Bodies** are read up to a limit and must be UTF-8; bytes that are not are refused, never
 *   rewritten to U+FFFD (domain/input-limits.ts: input is refused, never repaired).
 */
import { isUtf8 } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

/** Shortest token a door accepts. */
export const MIN_TOKEN_LENGTH = 16;

/** True for `localhost`, IPv4 127.0.0.0/8 and IPv6 `::1` (brackets optional). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

/** The host name of a `Host` header value (`name`, `name:port`, `[v6]:port`), lower-case; null when malformed. */
export function hostOfHeader(value: string): string | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/@]+)(?::(\d{1,5}))?$/.exec(value.trim());
  return m ? (m[1] as string).toLowerCase() : null;
}

/** True when `name` is a host name or address a user may put on an allow-list (no port, no scheme). */
export function isHostName(name: string): boolean {
  return /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/.test(name);
}

/**
 * Whether a door bound to `host` must check a token: always off loopback (a wildcard address
 * included), and on loopback when `tokenGiven` (the operator asked for one).
 */
export function tokenRequired(host: string, tokenGiven: boolean): boolean {
  return tokenGiven || !isLoopbackHost(host);
}

/** Checks the `Host` and `Origin` headers of requests to a door bound to one address. */
export class HostGuard {
  /** Host names (lower-case, IPv6 in brackets) accepted besides loopback ones. */
  readonly allowed: ReadonlySet<string>;

  /** `bound` is the address listened on; a wildcard (0.0.0.0, ::) adds nothing to the allow-list. */
  constructor(bound: string, allowedHosts: readonly string[] = []) {
    const wildcard = bound === "0.0.0.0" || bound === "::";
    this.allowed = new Set([...allowedHosts, ...(wildcard ? [] : [bound])].map((h) => (isIP(h) === 6 ? `[${h}]` : h).toLowerCase()));
  }

  private ok(host: string): boolean {
    return isLoopbackHost(host) || this.allowed.has(host);
  }

  /** Why the request's Host or Origin is refused, or null when both are acceptable. */
  refusal(req: Pick<IncomingMessage, "headers">): string | null {
    const host = typeof req.headers.host === "string" ? hostOfHeader(req.headers.host) : null;
    if (host === null || !this.ok(host)) return `Host ${JSON.stringify(req.headers.host ?? null)} is not allowed`;
    const origin = req.headers.origin;
    if (origin === undefined) return null; // not a browser: nothing to rebind
    let originHost: string | null = null;
    try {
      const u = new URL(origin);
      if (u.protocol === "http:" || u.protocol === "https:") originHost = u.hostname.toLowerCase();
    } catch {
      originHost = null;
    }
    return originHost !== null && this.ok(originHost) ? null : `Origin ${JSON.stringify(origin)} is not allowed`;
  }
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** A secret compared in constant time. */
export class Token {
  private readonly digest: Buffer;

  /** @throws Error when `token` is shorter than `MIN_TOKEN_LENGTH`. */
  constructor(token: string, what = "token") {
    if (token.length < MIN_TOKEN_LENGTH) throw new Error(`the ${what} must be at least ${MIN_TOKEN_LENGTH} characters`);
    this.digest = digest(token);
  }

  /** True when `candidate` is the token. */
  matches(candidate: string): boolean {
    return timingSafeEqual(digest(candidate), this.digest);
  }

  /** True when the request carries `Authorization: Bearer <token>`. */
  bearerIn(req: Pick<IncomingMessage, "headers">): boolean {
    const h = req.headers.authorization;
    if (typeof h !== "string") return false;
    const m = /^Bearer\s+(.+)$/i.exec(h.trim());
    return m !== null && this.matches(m[1] as string);
  }

  /**
   * A value derived from the token for a browser cookie: the cookie then never holds the token
   * itself, and only someone who knows the token can make it.
   */
  cookieValue(purpose: string): string {
    return createHash("sha256").update(`tuneport-cookie:${purpose}:`).update(this.digest).digest("base64url");
  }
}

/** The value of cookie `name` in the request's `Cookie` header, or null. */
export function cookieOf(req: Pick<IncomingMessage, "headers">, name: string): string | null {
  const header = req.headers.cookie;
  if (typeof header !== "string") return null;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

/** `a === b` in constant time for strings of any length. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export type BodyRead = { kind: "ok"; text: string } | { kind: "too-large" } | { kind: "not-utf8"; bytes: Buffer };

/**
 * The request body as text when it is UTF-8 of at most `maxBytes`; its bytes when it is not UTF-8.
 * Stops keeping bytes once the limit is passed; the caller then answers 413 with
 * `connection: close`, so the rest of an oversized body is never read into memory.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyRead> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve({ kind: "too-large" });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off("data", onData);
      req.off("end", onEnd);
      resolve({ kind: "too-large" });
    };
    const onEnd = () => {
      const bytes = Buffer.concat(chunks);
      resolve(isUtf8(bytes) ? { kind: "ok", text: bytes.toString("utf8") } : { kind: "not-utf8", bytes });
    };
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", reject);
  });
}
