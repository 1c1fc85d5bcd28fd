/**
 * MCP over Streamable HTTP on node:http, behind a bearer token.
 *
 * - Endpoint: `POST|GET|DELETE /mcp`. Every request must carry `Authorization: Bearer <token>`;
 *   anything else gets 401 with `WWW-Authenticate: Bearer` before the body is read. Tokens are
 *   compared in constant time (SHA-256 digests, `timingSafeEqual`).
 * - Stateful sessions: an `initialize` request without a session id creates a session (its
 *   own McpServer and transport, so notifications reach the right client over its GET
 *   stream); later requests carry `Mcp-Session-Id`. A session ends on DELETE, on transport
 *   close, or after `idleTimeoutMs` without requests. At most `maxSessions` live at once; when
 *   full, an initialize ends the longest-unused session that has no stream open and no request
 *   being answered (`evictIdlest`), else one of the client holding the most (`evictFromHoarder`).
 * - The door (transports/http/http-door.ts, shared with the dashboard) binds 127.0.0.1 unless
 *   told otherwise (the caller warns about other interfaces) and refuses a foreign Host/Origin
 *   (403, DNS rebinding) before the token is looked at; MCP asks for the token even on loopback.
 * - The GET stream (server notifications): the SDK queues every notification for it in memory at
 *   whatever pace the client reads, so a stream whose client leaves more than `MAX_STREAM_BACKLOG`
 *   bytes unread is ended (the client opens it again with GET), as the dashboard's live stream is;
 *   so is a POST's response stream when a further answer comes (`watchPost`).
 * - Fairness: every session's ops (what its tool calls and resource requests ask of the backend)
 *   take turns by client (fair-calls.ts), so one client's many costly calls in flight do not hold
 *   another client's behind them all.
 * - Bodies: at most 4 MiB of UTF-8; bytes that are not UTF-8 get a JSON-RPC parse error
 *   (`data.code` INVALID_ARGUMENT) instead of being rewritten to U+FFFD.
 * - Shutdown (`close`): new requests get 503 "server stopping"; calls in flight (a pending
 *   `wait_for_progress` included) are answered first, then sessions and the listener close.
 */
import { ERROR_CODES } from "../../domain/errors.js";
import { workerIdentity } from "../../domain/worker.js";
import { createHash, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { type JSONRPCMessage, isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import type { McpBackend } from "./backend.js";
import { type TuneportMcp, createTuneportMcp } from "./mcp-server.js";
import { ERROR_META_KEY, errorMeta } from "./uris.js";
import { findForbiddenKey } from "../../domain/input-limits.js";
import { bodyProblem, duplicateKeyReply, forbiddenKeyReply, invalidUtf8Reply, mayHoldForbiddenKey, textShapeReply, toolArgumentsProblem } from "./strict-json.js";
import { requestProblem, reusedIdProblem } from "./request-shape.js";
import { HttpDoor, trustedLog } from "../http/http-door.js";
import { FairCalls } from "./fair-calls.js";
import { ClientCalls } from "./client-calls.js";
import { readBody } from "../http/http-rules.js";

export { hostOfHeader, isLoopbackHost } from "../http/http-rules.js";

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
  /** A full house ends only a session unused this long [60 s]: a live agent's client may send no GET stream and think between calls. */
  readonly evictAfterMs?: number;
  /** Host names accepted in `Host`/`Origin` besides loopback ones and the bound address (case-insensitive). */
  readonly allowedHosts?: readonly string[];
  /** Addresses of reverse proxies left out of the per-address limits (HttpDoorOptions.trustedProxies). */
  readonly trustedProxies?: readonly string[];
  /** Longest wait for calls in flight to be answered on `close` [5000]. */
  readonly drainTimeoutMs?: number;
  /** Minimum interval between `resources/updated` notifications for one study [1000]. */
  readonly updateThrottleMs?: number;
  /** Unsent bytes past which answers over BIG_ANSWER_BYTES are refused [MAX_UNSENT_BYTES]. */
  readonly maxUnsentBytes?: number;
  /** Calls and resource requests one client may have in flight over all its sessions [DEFAULT_MAX_CLIENT_CALLS] (client-calls.ts). */
  readonly maxClientCalls?: number;
}

/** A response stream (a session's GET stream, or a POST's) and the messages queued for it that it has not yet taken. */
interface GetStream {
  readonly res: ServerResponse;
  /** Sizes of the queued notifications, oldest first. */
  readonly queued: number[];
  /** Their sum. */
  bytes: number;
}

interface Session {
  /** Who opened it, as far as the server can tell (`clientOf`): one token is shared by every agent. */
  readonly client: string;
  transport: StreamableHTTPServerTransport;
  mcp: TuneportMcp;
  lastSeen: number;
  stream: GetStream | null;
  /** Its POSTs being answered. */
  inFlight: number;
  /**
   * Its JSON-RPC requests not answered yet, id → method: a `resources/read` answer is the only one
   * the memory ceiling may replace (nothing was changed for it).
   */
  readonly unanswered: Map<string | number, string>;
  /** The POST response each of its requests in flight is answered on. */
  readonly posts: Map<string | number, GetStream>;
}

export const MCP_PATH = "/mcp";
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/**
 * Bytes of notifications a GET stream may hold for its client (beyond what the kernel holds)
 * before the server ends it: a client that does not read would otherwise make the server queue
 * every notification for it, without bound.
 */
export const MAX_STREAM_BACKLOG = 1024 * 1024;
/**
 * Bytes that answers not yet read by their clients may hold (`unsentBytes`) before an answer over
 * BIG_ANSWER_BYTES is refused UNAVAILABLE (`data.reason` "memory"), as ZeroMQ's --max-reply-mib
 * does, for `resources/read` answers only (a tool call's answer may report a committed change, and
 * a retry would make it twice; tool results are budgeted to about 60,000 characters), since a study resource carries the
 * study whole: one POST of 100 `resources/read` of a study whose space held 10,000 choices was an
 * 85 MB answer, and ten such left unread grew the server by 750 MB and kept it.
 */
export const MAX_UNSENT_BYTES = 256 * 1024 * 1024;
/** Answers at most this big go out whatever the unsent bytes: errors, tool results, small studies. */
export const BIG_ANSWER_BYTES = 64 * 1024;
/** The SDK's keep-alive comment on SSE streams: written to the response, never queued by `send`. */
const KEEP_ALIVE = ": keepalive\n\n";
/** What a request still unanswered when its session ends gets (`answerUnanswered`). */
const SESSION_ENDED =
  "the MCP session ended before this request was answered (the client's DELETE, or the server ended the session); a change it asked for may have been applied: check before sending it again in a new session";

export class McpHttpServer {
  private readonly door: HttpDoor;
  private readonly sessions = new Map<string, Session>();
  private readonly log: Logger;
  private sweeper: NodeJS.Timeout | null = null;
  /** POST responses not yet finished: what `close` waits for. */
  private readonly pendingPosts = new Set<ServerResponse>();
  /** Every open response whose queued messages are counted (`watched`). */
  private readonly streams = new Set<GetStream>();
  private readonly maxUnsentBytes: number;
  /** Every session's ops take turns by client (fair-calls.ts). */
  private readonly fair = new FairCalls();
  /** Calls in flight by client, over all its sessions (client-calls.ts). */
  readonly clientCalls: ClientCalls;
  private refusedLoggedAt = 0;
  /** Sessions ended since start to let another client in (`evictFromHoarder`). */
  evictedFromHoarder = 0;

  /** @throws Error when the token is shorter than 16 characters; RangeError for a `maxClientCalls` not an integer from 1 to MAX_CLIENT_CALLS_LIMIT. */
  constructor(private readonly opts: McpHttpOptions) {
    this.log = opts.logger.child({ component: "mcp-http" });
    this.maxUnsentBytes = opts.maxUnsentBytes ?? MAX_UNSENT_BYTES;
    this.clientCalls = new ClientCalls(opts.maxClientCalls);
    this.door = new HttpDoor({
      logger: opts.logger,
      component: "mcp-http",
      host: opts.host,
      port: opts.port,
      allowedHosts: opts.allowedHosts,
      allowHostOption: "--mcp-allow-host",
      trustedProxies: opts.trustedProxies,
      token: opts.token,
      alwaysRequireToken: true,
      refuse: (res, status, message, headers) =>
        res.writeHead(status, { "content-type": "application/json", ...headers }).end(jsonRpcError(status === 500 ? -32603 : -32000, message)),
      handle: (req, res) => this.handle(req, res),
    });
  }

  /** Sessions whose client holds its GET stream open. */
  get openStreams(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.stream !== null) n++;
    return n;
  }

  /** POSTs of every session being answered (a pending `wait_for_progress` among them), for tests. */
  get pendingCalls(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.inFlight;
    return n;
  }

  /** The bound port, after `start`. */
  get port(): number {
    return this.door.port;
  }

  async start(): Promise<number> {
    const port = await this.door.start();
    const idle = this.opts.idleTimeoutMs ?? 30 * 60 * 1000;
    this.sweeper = setInterval(() => {
      const cutoff = Date.now() - idle;
      for (const [id, s] of this.sessions) if (s.lastSeen < cutoff) void this.endSession(id);
    }, Math.min(idle, 60_000));
    this.sweeper.unref();
    this.log.info(
      { host: this.door.host, port, path: MCP_PATH, allowed_hosts: ["loopback", ...this.door.allowedHosts], ...trustedLog(this.door) },
      "mcp http listening",
    );
    return port;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== MCP_PATH) {
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found; the MCP endpoint is ${MCP_PATH}\n`);
      return;
    }
    if (!this.door.authorized(req)) {
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
      const read = await readBody(req, MAX_BODY_BYTES);
      if (read.kind === "too-large") {
        res.writeHead(413, { "content-type": "application/json", connection: "close" }).end(jsonRpcError(-32700, "the body is larger than 4 MiB"));
        return;
      }
      if (read.kind === "not-utf8") {
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify(invalidUtf8Reply(read.bytes)));
        return;
      }
      const shape = textShapeReply(read.text);
      if (shape !== null) {
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify(shape));
        return;
      }
      const body = parseJson(read.text);
      if (body === undefined) {
        res.writeHead(400, { "content-type": "application/json" }).end(jsonRpcError(-32700, "parse error: the body must be JSON (at most 4 MiB)"));
        return;
      }
      // A key `__proto__` would be dropped by the SDK's schemas before any tool saw it.
      const forbidden = mayHoldForbiddenKey(read.text) ? findForbiddenKey(body, "message") : null;
      if (forbidden !== null) {
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify(forbiddenKeyReply(body, forbidden)));
        return;
      }
      const badArguments = duplicateKeyReply(read.text, body) ?? bodyProblem(body) ?? toolArgumentsProblem(body) ?? requestProblem(body);
      if (badArguments !== null) {
        res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify(badArguments));
        return;
      }
      const existing = sessionId ? this.sessions.get(sessionId) : undefined;
      if (existing) {
        // Checked and then taken (watchPost) in the same turn, so two POSTs cannot both pass.
        const reused = reusedIdProblem(body, (id) => existing.posts.has(id));
        if (reused !== null) {
          res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify(reused));
          return;
        }
        existing.lastSeen = Date.now();
        existing.inFlight++;
        res.once("close", () => this.cancelUnanswered(existing, body));
        this.watchPost(existing, res, body);
        try {
          await existing.transport.handleRequest(req, res, body);
        } finally {
          existing.inFlight--;
        }
        return;
      }
      if (!sessionId && isInitializeRequest(body)) {
        const client = clientOf(this.door.clientKey(req), body);
        if (this.sessions.size >= (this.opts.maxSessions ?? 100)) await this.evictIdlest();
        if (this.sessions.size >= (this.opts.maxSessions ?? 100)) await this.evictFromHoarder(client);
        if (this.sessions.size >= (this.opts.maxSessions ?? 100)) {
          res.writeHead(503, { "content-type": "application/json" }).end(jsonRpcError(-32000, "too many MCP sessions; close one and retry"));
          return;
        }
        const session = this.newSession(client);
        await session.mcp.server.connect(session.transport);
        await session.transport.handleRequest(req, res, body);
        // The SDK refused the initialize (wrong Accept or Content-Type, an invalid message):
        // no session began, so nothing would ever close this one and its change-feed listener.
        if (session.transport.sessionId === undefined) await this.discard(session);
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
      if (req.method === "GET") this.watchStream(s, res);
      await s.transport.handleRequest(req, res);
      return;
    }
    req.resume();
    res
      .writeHead(405, { allow: "GET, POST, DELETE", "content-type": "application/json" })
      .end(jsonRpcError(-32000, `method ${req.method} is not allowed: MCP over HTTP is POST (messages), GET (the session's stream) and DELETE (end the session) on ${MCP_PATH}`));
  }

  /**
   * Makes room for a new session when every slot is taken: ends the session unused longest among
   * those with no GET stream open and no request being answered, once unused for `evictAfterMs`. A client that dies or restarts
   * without DELETE leaves its session behind (its stream closes with it): 100 of them locked every
   * agent out until the idle timeout (30 min). Its client, if it comes back, gets 404 and starts anew.
   */
  private async evictIdlest(): Promise<void> {
    let idlest: [string, Session] | null = null;
    for (const entry of this.sessions) if (entry[1].stream === null && entry[1].inFlight === 0 && (idlest === null || entry[1].lastSeen < idlest[1].lastSeen)) idlest = entry;
    if (idlest === null || Date.now() - idlest[1].lastSeen < (this.opts.evictAfterMs ?? 60_000)) return;
    this.log.info({ session: idlest[0], idle_s: Math.round((Date.now() - idlest[1].lastSeen) / 1000) }, "mcp session ended to make room for a new one (no stream open, longest unused)");
    await this.endSession(idlest[0]);
  }

  /**
   * When every session is taken and none is idle: ends the longest-unused session of the client
   * holding the most, when it holds at least two more than `client` (so it keeps at least as many
   * as the newcomer will), preferring one with no request being answered. One client keeping all
   * its sessions busy (streams open, calls pending) otherwise had every other agent refused 503.
   * A call of the ended session still unanswered gets `session_ended` (`answerUnanswered`).
   */
  private async evictFromHoarder(client: string): Promise<void> {
    const held = new Map<string, number>();
    for (const s of this.sessions.values()) held.set(s.client, (held.get(s.client) ?? 0) + 1);
    let hoarder: string | null = null;
    for (const [c, n] of held) if (hoarder === null || n > (held.get(hoarder) as number)) hoarder = c;
    if (hoarder === null || hoarder === client || (held.get(hoarder) as number) < (held.get(client) ?? 0) + 2) return;
    let pick: [string, Session] | null = null;
    const rank = (s: Session) => (s.inFlight > 0 ? 1 : 0);
    for (const entry of this.sessions) {
      const s = entry[1];
      if (s.client !== hoarder) continue;
      if (pick === null || rank(s) < rank(pick[1]) || (rank(s) === rank(pick[1]) && s.lastSeen < pick[1].lastSeen)) pick = entry;
    }
    if (pick === null) return;
    this.evictedFromHoarder++;
    this.log.info({ session: pick[0], held: held.get(hoarder), in_flight: pick[1].inFlight }, "mcp session ended to make room for another client's (its client holds the most sessions)");
    await this.endSession(pick[0]);
  }

  private newSession(client: string): Session {
    const sessionId = randomUUID();
    // Trials this session's agent asks record it as their holder (domain/worker.ts), by its tag.
    const tag = sessionTag(sessionId);
    const who = () => workerIdentity("mcp", { session: tag, ...(mcp.server.server.getClientVersion() ?? {}) });
    const backend = this.fair.backendFor(this.opts.backend.as?.(who) ?? this.opts.backend, client);
    const mcp = createTuneportMcp(backend, { logger: this.opts.logger, version: this.opts.version, updateThrottleMs: this.opts.updateThrottleMs, clientShare: this.clientCalls.share(client) });
    const session: Session = {
      client,
      mcp,
      lastSeen: Date.now(),
      stream: null,
      inFlight: 0,
      unanswered: new Map(),
      posts: new Map(),
      transport: new StreamableHTTPServerTransport({
        sessionIdGenerator: () => sessionId,
        onsessioninitialized: (id) => {
          this.sessions.set(id, session);
          this.log.info({ session: id }, "mcp session opened");
        },
        // A DELETE, once the SDK has checked it and before it closes the transport: the SDK's close
        // ends every response stream as it is, so a call in flight would end with no answer at all.
        onsessionclosed: () => this.answerUnanswered(session, SESSION_ENDED),
      }),
    };
    // Called before the SDK's own handler (Protocol.connect wraps it): every request, by id. A request
    // the client cancels gets no answer (the SDK drops it), so it leaves the set then.
    session.transport.onmessage = (message) => {
      if (!("method" in message)) return;
      if ("id" in message) session.unanswered.set(message.id, message.method);
      else if (message.method === "notifications/cancelled") {
        const id = (message.params as { requestId?: unknown } | undefined)?.requestId;
        if (typeof id === "string" || typeof id === "number") session.unanswered.delete(id);
      }
    };
    const send = session.transport.send.bind(session.transport);
    session.transport.send = async (message, options) => {
      const answer = !("method" in message) && "id" in message && message.id !== undefined ? message.id : undefined;
      const read = answer !== undefined && session.unanswered.get(answer) === "resources/read";
      if (answer !== undefined) session.unanswered.delete(answer);
      // An answer, or a notification about a request (progress), goes to that request's POST
      // response; any other request or notification to the GET stream (the SDK's rule).
      const related = answer ?? options?.relatedRequestId;
      const stream = related !== undefined ? session.posts.get(related) : session.stream;
      if (stream === undefined || stream === null) return send(message, options);
      const size = Buffer.byteLength(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
      if (related === undefined && stream.bytes + size + stream.res.writableLength > MAX_STREAM_BACKLOG) {
        this.log.warn({ session: sessionId, backlog: stream.bytes + stream.res.writableLength }, "mcp GET stream not read by its client: ended");
        session.stream = null;
        // Destroyed, not ended: an end would still hold the queue until the client read it.
        stream.res.destroy();
        return;
      }
      // Only a read's answer is replaced: a tool call's result may report a change already
      // committed, and a client that retried it would make the change twice.
      if (read && answer !== undefined && size > BIG_ANSWER_BYTES) {
        const held = this.unsentBytes;
        if (held > this.maxUnsentBytes) return send(this.memoryRefusal(answer, held, size), options);
      }
      stream.queued.push(size);
      stream.bytes += size;
      return send(message, options);
    };
    session.transport.onclose = () => {
      const id = session.transport.sessionId;
      mcp.dispose();
      if (id && this.sessions.delete(id)) this.log.info({ session: id }, "mcp session closed");
    };
    return session;
  }

  /** Open GET streams (server notifications), one at most per session. */
  get liveStreams(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.stream !== null) n++;
    return n;
  }

  /**
   * Counts what the SDK's queue hands to `res` (one write per queued notification, besides its
   * keep-alive comments), so that `send` knows how much the stream holds for a slow client.
   * A second GET of the session is the SDK's to refuse (409): the first stays watched.
   */
  private watchStream(s: Session, res: ServerResponse): void {
    if (s.stream !== null) return;
    const stream = this.watched(res);
    s.stream = stream;
    res.once("close", () => {
      if (s.stream === stream) s.stream = null;
    });
  }

  /**
   * Watches a POST's response as the GET stream is, so that `unsentBytes` counts the answers queued
   * for it that its client has not taken yet.
   */
  private watchPost(s: Session, res: ServerResponse, body: unknown): void {
    const stream = this.watched(res);
    const ids: (string | number)[] = [];
    for (const m of Array.isArray(body) ? body : [body]) {
      const id = (m as { id?: unknown } | null)?.id;
      if ((typeof id === "string" || typeof id === "number") && (m as { method?: unknown }).method !== undefined) {
        ids.push(id);
        s.posts.set(id, stream);
      }
    }
    res.once("close", () => {
      for (const id of ids) if (s.posts.get(id) === stream) s.posts.delete(id);
    });
  }

  /** A response whose unsent SSE messages are counted (see `GetStream`), in `unsentBytes` while it is open. */
  private watched(res: ServerResponse): GetStream {
    const stream: GetStream = { res, queued: [], bytes: 0 };
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      const keepAlive = chunk instanceof Uint8Array && chunk.length === KEEP_ALIVE.length && Buffer.from(chunk).toString("latin1") === KEEP_ALIVE;
      if (!keepAlive && stream.queued.length > 0) stream.bytes -= stream.queued.shift() as number;
      return write(chunk, ...rest);
    }) as ServerResponse["write"];
    this.streams.add(stream);
    res.once("close", () => this.streams.delete(stream));
    return stream;
  }

  /**
   * Bytes of answers and notifications queued for every open response, and written to them but not
   * yet taken by the kernel: what clients that do not read make the server hold.
   */
  get unsentBytes(): number {
    let n = 0;
    for (const s of this.streams) n += s.bytes + s.res.writableLength;
    return n;
  }

  /** The small answer sent instead of a big one while `unsentBytes` is over `maxUnsentBytes`. */
  private memoryRefusal(id: string | number, held: number, size: number): JSONRPCMessage {
    const now = Date.now();
    if (now - this.refusedLoggedAt >= 10_000) {
      this.refusedLoggedAt = now;
      this.log.warn({ unsent_bytes: held, max_unsent_bytes: this.maxUnsentBytes, answer_bytes: size }, "mcp http: answers not read by their clients hold more than the ceiling; big answers refused UNAVAILABLE (logged at most every 10 s)");
    }
    const data = errorMeta("UNAVAILABLE", ERROR_CODES.UNAVAILABLE, { reason: "memory", unsent_bytes: held, max_unsent_bytes: this.maxUnsentBytes, answer_bytes: size })[ERROR_META_KEY];
    const message = `UNAVAILABLE: answers not yet read by their clients hold ${held} bytes of the server's memory, more than its ceiling of ${this.maxUnsentBytes}; read the answers of the requests you sent, or retry in a few seconds`;
    return { jsonrpc: "2.0", id, error: { code: -32000, message, data } };
  }

  private async discard(s: Session): Promise<void> {
    s.mcp.dispose();
    await s.mcp.server.close().catch(() => undefined);
  }

  /**
   * Cancels the requests of a POST whose response closed before they were answered (the client went
   * away), as a client's `notifications/cancelled` would: the SDK aborts their handlers, so a
   * `wait_for_progress` ends at once instead of holding its timer, its change listener and one of
   * the server's MAX_CONCURRENT_WAITS places until its timeout (a client that sent 32 and left
   * refused every other agent's wait for up to 50 s, again and again).
   */
  private cancelUnanswered(s: Session, body: unknown): void {
    for (const m of Array.isArray(body) ? body : [body]) {
      // Requests only: a client's response to a request of the server's may carry the same id.
      if (typeof (m as { method?: unknown } | null)?.method !== "string") continue;
      const id = (m as { id?: unknown }).id;
      if ((typeof id !== "string" && typeof id !== "number") || !s.unanswered.delete(id)) continue;
      s.transport.onmessage?.({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: "the client closed the connection" } });
    }
  }

  /**
   * Answers each request of `s` that has no answer yet with a JSON-RPC error (-32000, `data.code`
   * UNAVAILABLE, `data.data.reason` "session_ended") before its session closes. The SDK aborts the
   * handlers at close (a `wait_for_progress` returns at once, its timer and change listener gone)
   * and drops what they answer after.
   */
  private async answerUnanswered(s: Session, message: string): Promise<void> {
    const ids = [...s.unanswered.keys()];
    s.unanswered.clear();
    const data = errorMeta("UNAVAILABLE", ERROR_CODES.UNAVAILABLE, { reason: "session_ended" })[ERROR_META_KEY];
    // A request whose client went away has no stream left: the SDK's send throws, nothing to answer.
    await Promise.all(ids.map((id) => s.transport.send({ jsonrpc: "2.0", id, error: { code: -32000, message: `UNAVAILABLE: ${message}`, data } }).catch(() => undefined)));
  }

  private async endSession(id: string, message = SESSION_ENDED): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    await this.answerUnanswered(s, message);
    s.mcp.dispose();
    await s.mcp.server.close().catch(() => undefined);
  }

  /**
   * Stops taking requests (503), ends pending waits so every call in flight is answered, waits
   * up to `drainTimeoutMs` for those answers to be sent, then closes every session and the listener.
   */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.door.close(async () => {
      await Promise.all([...this.sessions.values()].map((s) => s.mcp.stop()));
      await waitUntil(() => this.pendingPosts.size === 0, this.opts.drainTimeoutMs ?? 5000);
      if (this.pendingPosts.size > 0) this.log.warn({ requests: this.pendingPosts.size }, "mcp http: calls still unanswered at shutdown");
      await Promise.all([...this.sessions.keys()].map((id) => this.endSession(id, "server stopping: the request was not answered before the server stopped; call it again once the server is back")));
    });
  }
}

/**
 * Who sends an initialize, for the session share: where it comes from (the door's `clientKey`: the
 * remote address, an IPv6 one's /64, or the client a trusted proxy forwards) and the name the
 * client gives in `clientInfo` (at most 200 characters). Both are the client's to choose; see docs/MCP.md.
 */
function clientOf(from: string, body: unknown): string {
  const name = (body as { params?: { clientInfo?: { name?: unknown } } }).params?.clientInfo?.name;
  return JSON.stringify([from, typeof name === "string" ? name.slice(0, 200) : ""]);
}

/**
 * What a trial's holder records of an MCP session: the first 32 hex digits of the SHA-256 of its id,
 * never the id. Every reader of a study (agents, workers, the dashboard) sees a trial's holder, and
 * with the token an id is the session itself: one agent that read another's id from a trial could
 * DELETE that session or send calls in its name. The agent that holds the id can compute its tag.
 */
export function sessionTag(sessionId: string): string {
  return createHash("sha256").update(sessionId).digest("hex").slice(0, 32);
}

function jsonRpcError(code: number, message: string): string {
  return JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null });
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
