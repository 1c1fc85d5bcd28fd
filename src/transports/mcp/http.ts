/**
 * MCP over Streamable HTTP on node:http, behind a bearer token.
 *
 * - Endpoint: `POST|GET|DELETE /mcp`. Every request must carry `Authorization: Bearer <token>`;
 *   anything else gets 401 with `WWW-Authenticate: Bearer` before the body is read. Tokens are
 *   compared in constant time (SHA-256 digests, `timingSafeEqual`).
 * - Stateful sessions: an `initialize` request without a session id creates a session (its
 *   own McpServer and transport, so notifications reach the right client over its GET
 *   stream); later requests carry `Mcp-Session-Id`. A session ends on DELETE, on transport
 *   close, or after `idleTimeoutMs` without requests. At most `maxSessions` live at once.
 * - Binds 127.0.0.1 unless told otherwise; the caller warns about other interfaces.
 * - DNS rebinding: the `Host` header, and the `Origin` header when a browser sends one, must
 *   name a loopback host (`localhost`, 127.0.0.0/8, `[::1]`), the bound address, or a name on
 *   `allowedHosts`; anything else gets 403 before the token is looked at. (MCP transports
 *   spec, "Security Warning": servers MUST validate Origin.)
 * - Bodies: at most 4 MiB of UTF-8; bytes that are not UTF-8 get a JSON-RPC parse error
 *   (`data.code` INVALID_ARGUMENT) instead of being rewritten to U+FFFD.
 * - Shutdown (`close`): new requests get 503 "server stopping"; calls in flight (a pending
 *   `wait_for_progress` included) are answered first, then sessions and the listener close.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { isUtf8 } from "node:buffer";
import { type AddressInfo, isIP } from "node:net";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import type { McpBackend } from "./backend.js";
import { type TuneportMcp, createTuneportMcp } from "./mcp-server.js";
import { invalidUtf8Reply } from "./strict-json.js";

export interface McpHttpOptions {
  readonly backend: McpBackend;
  readonly logger: Logger;
  readonly version: string;
  readonly token: string;
  readonly host?: string;
  /** 0 picks a free port (see `port` after `start`). */
  readonly port: number;
  readonly maxSessions?: number;
  readonly idleTimeoutMs?: number;
  /** Host names accepted in `Host`/`Origin` besides loopback ones and the bound address (case-insensitive). */
  readonly allowedHosts?: readonly string[];
  /** Longest wait for calls in flight to be answered on `close` [5000]. */
  readonly drainTimeoutMs?: number;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  mcp: TuneportMcp;
  lastSeen: number;
}

export const MCP_PATH = "/mcp";
const MAX_BODY_BYTES = 4 * 1024 * 1024;

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

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

export class McpHttpServer {
  private readonly http: Server;
  private readonly sessions = new Map<string, Session>();
  private readonly log: Logger;
  private readonly tokenDigest: Buffer;
  private sweeper: NodeJS.Timeout | null = null;
  /** Host names (lower-case, IPv6 in brackets) accepted besides loopback ones. */
  private readonly allowedHosts: ReadonlySet<string>;
  private stopping = false;
  /** POST responses not yet finished: what `close` waits for. */
  private readonly pendingPosts = new Set<ServerResponse>();
  /** The bound port, after `start`. */
  port = 0;

  constructor(private readonly opts: McpHttpOptions) {
    if (opts.token.length < 16) throw new Error("the MCP bearer token must be at least 16 characters");
    this.log = opts.logger.child({ component: "mcp-http" });
    this.tokenDigest = digest(opts.token);
    const bound = opts.host ?? "127.0.0.1";
    const wildcard = bound === "0.0.0.0" || bound === "::";
    this.allowedHosts = new Set(
      [...(opts.allowedHosts ?? []), ...(wildcard ? [] : [bound])].map((h) => (isIP(h) === 6 ? `[${h}]` : h).toLowerCase()),
    );
    this.http = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, "mcp http request failed");
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" }).end(jsonRpcError(-32603, "internal server error"));
        else res.end();
      });
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.opts.port, this.opts.host ?? "127.0.0.1", () => {
        this.http.off("error", reject);
        resolve();
      });
    });
    this.port = (this.http.address() as AddressInfo).port;
    const idle = this.opts.idleTimeoutMs ?? 30 * 60 * 1000;
    this.sweeper = setInterval(() => {
      const cutoff = Date.now() - idle;
      for (const [id, s] of this.sessions) if (s.lastSeen < cutoff) void this.endSession(id);
    }, Math.min(idle, 60_000));
    this.sweeper.unref();
    this.log.info(
      { host: this.opts.host ?? "127.0.0.1", port: this.port, path: MCP_PATH, allowed_hosts: ["loopback", ...this.allowedHosts] },
      "mcp http listening",
    );
    return this.port;
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization;
    if (typeof h !== "string") return false;
    const m = /^Bearer\s+(.+)$/i.exec(h.trim());
    if (!m) return false;
    return timingSafeEqual(digest(m[1] as string), this.tokenDigest);
  }

  /** Why the request's Host or Origin is refused (DNS rebinding protection), or null. */
  private foreignOrigin(req: IncomingMessage): string | null {
    const ok = (host: string) => isLoopbackHost(host) || this.allowedHosts.has(host);
    const host = typeof req.headers.host === "string" ? hostOfHeader(req.headers.host) : null;
    if (host === null || !ok(host)) return `Host ${JSON.stringify(req.headers.host ?? null)} is not allowed`;
    const origin = req.headers.origin;
    if (origin === undefined) return null; // not a browser: nothing to rebind
    let originHost: string | null = null;
    try {
      const u = new URL(origin);
      if (u.protocol === "http:" || u.protocol === "https:") originHost = u.hostname.toLowerCase();
    } catch {
      originHost = null;
    }
    return originHost !== null && ok(originHost) ? null : `Origin ${JSON.stringify(origin)} is not allowed`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const foreign = this.foreignOrigin(req);
    if (foreign !== null) {
      req.resume();
      this.log.warn({ request: { host: req.headers.host ?? null, origin: req.headers.origin ?? null } }, "mcp http request refused: foreign Host/Origin");
      res
        .writeHead(403, { "content-type": "application/json" })
        .end(jsonRpcError(-32000, `forbidden: ${foreign} (DNS rebinding protection); allow the name with --mcp-allow-host`));
      return;
    }
    if (this.stopping) {
      req.resume();
      res.writeHead(503, { "content-type": "application/json", connection: "close" }).end(jsonRpcError(-32000, "server stopping; retry once it is back"));
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== MCP_PATH) {
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found; the MCP endpoint is ${MCP_PATH}\n`);
      return;
    }
    if (!this.authorized(req)) {
      req.resume();
      res
        .writeHead(401, { "www-authenticate": 'Bearer realm="tuneport"', "content-type": "application/json" })
        .end(jsonRpcError(-32001, "unauthorized: send 'Authorization: Bearer <token>' (see TUNEPORT_MCP_TOKEN)"));
      return;
    }
    const sid = req.headers["mcp-session-id"];
    const sessionId = typeof sid === "string" ? sid : undefined;
    if (req.method === "POST") {
      this.pendingPosts.add(res);
      res.once("close", () => this.pendingPosts.delete(res));
      const read = await readBody(req);
      if (read.kind === "not-utf8") {
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify(invalidUtf8Reply(read.bytes)));
        return;
      }
      const body = read.kind === "ok" ? parseJson(read.text) : undefined;
      if (body === undefined) {
        res.writeHead(400, { "content-type": "application/json" }).end(jsonRpcError(-32700, "parse error: the body must be JSON (at most 4 MiB)"));
        return;
      }
      const existing = sessionId ? this.sessions.get(sessionId) : undefined;
      if (existing) {
        existing.lastSeen = Date.now();
        await existing.transport.handleRequest(req, res, body);
        return;
      }
      if (!sessionId && isInitializeRequest(body)) {
        if (this.sessions.size >= (this.opts.maxSessions ?? 100)) {
          res.writeHead(503, { "content-type": "application/json" }).end(jsonRpcError(-32000, "too many MCP sessions; close one and retry"));
          return;
        }
        const session = this.newSession();
        await session.mcp.server.connect(session.transport);
        await session.transport.handleRequest(req, res, body);
        return;
      }
      res
        .writeHead(sessionId ? 404 : 400, { "content-type": "application/json" })
        .end(jsonRpcError(-32000, sessionId ? "unknown or expired session; initialize a new one" : "no session: send an initialize request first"));
      return;
    }
    if (req.method === "GET" || req.method === "DELETE") {
      const s = sessionId ? this.sessions.get(sessionId) : undefined;
      if (!s) {
        res.writeHead(sessionId ? 404 : 400, { "content-type": "application/json" }).end(jsonRpcError(-32000, "unknown or missing session id"));
        return;
      }
      s.lastSeen = Date.now();
      await s.transport.handleRequest(req, res);
      return;
    }
    res.writeHead(405, { allow: "GET, POST, DELETE" }).end();
  }

  private newSession(): Session {
    const mcp = createTuneportMcp(this.opts.backend, { logger: this.opts.logger, version: this.opts.version });
    const session: Session = {
      mcp,
      lastSeen: Date.now(),
      transport: new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          this.sessions.set(id, session);
          this.log.info({ session: id }, "mcp session opened");
        },
      }),
    };
    session.transport.onclose = () => {
      const id = session.transport.sessionId;
      mcp.dispose();
      if (id && this.sessions.delete(id)) this.log.info({ session: id }, "mcp session closed");
    };
    return session;
  }

  private async endSession(id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    s.mcp.dispose();
    await s.mcp.server.close().catch(() => undefined);
  }

  /**
   * Stops taking requests (503), ends pending waits so every call in flight is answered, waits
   * up to `drainTimeoutMs` for those answers to be sent, then closes every session and the listener.
   */
  async close(): Promise<void> {
    this.stopping = true;
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((s) => s.mcp.stop()));
    await waitUntil(() => this.pendingPosts.size === 0, this.opts.drainTimeoutMs ?? 5000);
    if (this.pendingPosts.size > 0) this.log.warn({ requests: this.pendingPosts.size }, "mcp http: calls still unanswered at shutdown");
    await Promise.all([...this.sessions.keys()].map((id) => this.endSession(id)));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

function jsonRpcError(code: number, message: string): string {
  return JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null });
}

/** The body as text when it is UTF-8 of at most 4 MiB; its bytes when it is not UTF-8. */
async function readBody(req: IncomingMessage): Promise<{ kind: "ok"; text: string } | { kind: "too-large" } | { kind: "not-utf8"; bytes: Buffer }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return { kind: "too-large" };
    chunks.push(chunk as Buffer);
  }
  const bytes = Buffer.concat(chunks);
  return isUtf8(bytes) ? { kind: "ok", text: bytes.toString("utf8") } : { kind: "not-utf8", bytes };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}
