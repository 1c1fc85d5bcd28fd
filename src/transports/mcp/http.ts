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
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import type { McpBackend } from "./backend.js";
import { type TuneportMcp, createTuneportMcp } from "./mcp-server.js";

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
}

interface Session {
  transport: StreamableHTTPServerTransport;
  mcp: TuneportMcp;
  lastSeen: number;
}

export const MCP_PATH = "/mcp";
const MAX_BODY_BYTES = 4 * 1024 * 1024;

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

export class McpHttpServer {
  private readonly http: Server;
  private readonly sessions = new Map<string, Session>();
  private readonly log: Logger;
  private readonly tokenDigest: Buffer;
  private sweeper: NodeJS.Timeout | null = null;
  /** The bound port, after `start`. */
  port = 0;

  constructor(private readonly opts: McpHttpOptions) {
    if (opts.token.length < 16) throw new Error("the MCP bearer token must be at least 16 characters");
    this.log = opts.logger.child({ component: "mcp-http" });
    this.tokenDigest = digest(opts.token);
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
    this.log.info({ host: this.opts.host ?? "127.0.0.1", port: this.port, path: MCP_PATH }, "mcp http listening");
    return this.port;
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization;
    if (typeof h !== "string") return false;
    const m = /^Bearer\s+(.+)$/i.exec(h.trim());
    if (!m) return false;
    return timingSafeEqual(digest(m[1] as string), this.tokenDigest);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
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
      const body = await readJson(req);
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

  /** Closes every session and the listener. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.all([...this.sessions.keys()].map((id) => this.endSession(id)));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

function jsonRpcError(code: number, message: string): string {
  return JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null });
}

/** The parsed JSON body, or undefined when it is not JSON or too large. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return undefined;
  }
}
