/**
 * One HTTP door: a node:http listener that applies the rules of http-rules.ts before any surface
 * (MCP over Streamable HTTP, the dashboard) sees a request. In order:
 *
 * 1. Host/Origin must be loopback names, the bound address or allowed names: else 403
 *    (DNS rebinding), before anything else is looked at.
 * 2. While stopping: 503 with `connection: close`.
 * 3. The surface's handler, which routes, and asks the door whether the request carries the
 *    token (`authorized`) where the surface needs it: MCP always, the dashboard off loopback.
 *
 * Node's parser is given what a connection sends PARSE_SLICE_BYTES at a time, and nothing once the
 * connection is closed (`pace`), so a burst of pipelined requests costs the requests it holds up
 * to the one that closed it, not all it sent.
 *
 * A door keeps at most MAX_CONNECTIONS connections (MAX_CONNECTIONS_PER_ADDRESS from one remote
 * address) and closes one that has not sent its headers
 * within HEADERS_TIMEOUT_MS, or its whole request (the body) within REQUEST_TIMEOUT_MS (slow or
 * idle peers would otherwise hold sockets and memory). A connection beyond either limit takes the
 * place of the oldest one that is owed nothing (`evictIdle`: no request received whole and not yet
 * answered), and is closed itself only when every connection is being answered. An address here
 * is its `addressKey` (an IPv6 address's /64, accept-budget.ts). The addresses of trusted reverse
 * proxies (`trustedProxies`, `--trusted-proxy`) have no share of their own, and no accept budget:
 * each stands for all its users, and the surfaces' own shares (the dashboard's ops and live
 * streams, MCP's sessions) count a request of theirs under the client it forwards (`clientKey`).
 *
 * The first refusal of each Host/Origin pair is logged (at most MAX_REFUSALS_LOGGED pairs), so
 * repeated requests do not grow the log. Refusals are written by the surface's `refuse` (JSON-RPC errors for MCP, JSON for the
 * dashboard), so each client reads errors in the format it expects. A handler that throws gets
 * 500. `close` stops taking requests, waits for the surface to drain, and closes the listener.
 */
import { type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Logger } from "pino";
import { HostGuard, Token, isLoopbackHost, tokenRequired } from "./http-rules.js";
import { AcceptBudget, addressKey, everyPeerTrusted, forwardedClient, isLoopbackAddress, trustedAddresses } from "./accept-budget.js";

/** Distinct Host/Origin pairs whose refusal is logged; later ones are only counted (`refused`). */
export const MAX_REFUSALS_LOGGED = 1000;
/**
 * Open connections a door keeps; a connection beyond them is closed at once. Browsers hold a few
 * per page and MCP clients one or two per session (at most `maxSessions`, 100), so only a peer opening
 * connections it does not use reaches it (2,000 that never sent their headers were all held).
 */
export const MAX_CONNECTIONS = 1000;
/**
 * Of them, what one remote address may hold: a single peer opening connections it does not use
 * filled all 1,000 (before any token is looked at), and the door answered nobody else until its
 * headers timeout freed them, again and again. Above the dashboard's 256 live streams and MCP's two
 * connections per session (100 sessions), so one browser or one proxy in front of many agents fits.
 * On loopback every local client shares 127.0.0.1: refusing the newcomer there let one local
 * process's 384 half-sent requests lock every other page and agent out (helper 35's audit), so a
 * connection beyond the share takes the place of the address's oldest idle one instead.
 */
export const MAX_CONNECTIONS_PER_ADDRESS = 384;
/**
 * Requests one connection may have waiting behind the one being answered (HTTP/1.1 pipelining,
 * which no browser and no MCP client uses); one more closes the connection.
 */
export const MAX_PIPELINED = 16;
/**
 * Bytes of what a connection sent that Node's parser is given at a time (the next piece once the
 * last is parsed, doubling while a piece holds no new request: a big body goes in a few pieces).
 * Node parses all it has read (up to 64 KiB) at once and makes a request of each: a closed
 * connection's 1,800 pipelined `GET /` were still all made, and 380 such connections kept every
 * other client waiting ~17 s (1.2 GB RSS). A piece this small holds at most ~40 tiny requests, and
 * once the connection is closed (`MAX_PIPELINED`) the rest is never parsed.
 */
export const PARSE_SLICE_BYTES = 1024;
/**
 * A connection whose answer has waited this many ms for its client to take any of it is closed
 * (Node has no such limit): a client that asks for big answers and reads nothing held its
 * connections, and the memory of their answers, for good, and 384 of them kept every other local
 * client out (connections owed an answer are never evicted). Answers that are merely slow to
 * come (a pending wait_for_progress, a quiet live stream) are not concerned: nothing waits to be sent.
 */
export const SEND_STALL_MS = 30_000;
/** A connection that has not sent its request's headers within this many ms is closed (Node: 60 s). */
export const HEADERS_TIMEOUT_MS = 10_000;

/**
 * A connection that has not sent its whole request (headers and body) within this many ms is closed
 * (Node: 300 s, for which a body trickled a byte at a time held its connection). Answers take as
 * long as they take: the SSE streams and a pending `wait_for_progress` are not bounded by it.
 */
export const REQUEST_TIMEOUT_MS = 60_000;

/** Writes a refusal in the surface's own format. */
export type Refuse = (res: ServerResponse, status: number, message: string, headers?: OutgoingHttpHeaders) => void;

export interface HttpDoorOptions {
  readonly logger: Logger;
  /** The surface, for logs (`mcp-http`, `dashboard`). */
  readonly component: string;
  /** Interface to listen on [127.0.0.1]. */
  readonly host?: string;
  /** 0 picks a free port (see `port` after `start`). */
  readonly port: number;
  /** Host names accepted in `Host`/`Origin` besides loopback ones and the bound address (case-insensitive). */
  readonly allowedHosts?: readonly string[];
  /** The option that extends the allow-list, named in 403 messages (e.g. `--mcp-allow-host`). */
  readonly allowHostOption: string;
  /** The token. Required when the door is bound off loopback (`tokenRequired`). */
  readonly token?: string;
  /** Asks for the token even on loopback (MCP over HTTP does). */
  readonly alwaysRequireToken?: boolean;
  readonly refuse: Refuse;
  /** Answers a request that passed the Host/Origin check. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** [MAX_CONNECTIONS] */
  readonly maxConnections?: number;
  /** [MAX_CONNECTIONS_PER_ADDRESS] */
  readonly maxConnectionsPerAddress?: number;
  /** [HEADERS_TIMEOUT_MS] */
  readonly headersTimeoutMs?: number;
  /** [REQUEST_TIMEOUT_MS]; never below the headers timeout (Node refuses that). */
  readonly requestTimeoutMs?: number;
  /** [SEND_STALL_MS] */
  readonly sendStallMs?: number;
  /** New connections one address may open: per second and at once, and the addresses left out [accept-budget.ts: 50, 100, loopback]. */
  readonly acceptBudget?: { readonly rate?: number; readonly burst?: number; readonly exempt?: (address: string) => boolean };
  /**
   * IPv4/IPv6 addresses or CIDR networks of reverse proxies in front of the door (`--trusted-proxy`,
   * `trustedAddresses`): each is left out of the accept budget and the per-address share, as every
   * user of the proxy arrives from it (the door's MAX_CONNECTIONS still holds). @throws Error for
   * one that is neither.
   */
  readonly trustedProxies?: readonly string[];
}

/** `{ trusted_proxies }` for a door's start-up log line, or nothing when it trusts none. */
export function trustedLog(door: HttpDoor): { trusted_proxies?: string[] } {
  const trusted = door.trustedProxies;
  return trusted.length === 0 ? {} : { trusted_proxies: trusted };
}

export class HttpDoor {
  private readonly http: Server;
  private readonly log: Logger;
  private readonly guard: HostGuard;
  /** The token to check, or null when this door asks for none (loopback without one). */
  readonly token: Token | null;
  private stoppingFlag = false;
  /** Host/Origin pairs whose refusal was logged (the first of each, at most MAX_REFUSALS_LOGGED). */
  private readonly refusedLogged = new Set<string>();
  /** Requests refused for a foreign Host/Origin since start. */
  refused = 0;
  /** Open connections by remote address (`keyOf`), oldest first. */
  private readonly perAddress = new Map<string, Set<Socket>>();
  /** Open connections. */
  private open = 0;
  /** Of each connection, the requests it sent whose answers are not finished (`owed`). */
  private readonly requests = new WeakMap<Socket, Set<IncomingMessage>>();
  /** Connections closed at once since start: the door, or their address, was full of connections being answered. */
  refusedConnections = 0;
  /** How fast one address may open connections (accept-budget.ts). */
  private readonly budget: AcceptBudget;
  /** Connections closed at once since start: their address opened them faster than its budget. */
  throttledConnections = 0;
  /** Whether a remote address is a trusted proxy's (`trustedProxies`). */
  private readonly trusted: (address: string) => boolean;
  /** Connections closed since start to make room for a newer one (`evictIdle`). */
  evictedConnections = 0;
  /** Of each connection, whether a request is being answered and the requests waiting for their turn (`inTurn`). */
  private readonly turns = new WeakMap<Socket, { busy: boolean; waiting: (() => void)[] }>();
  /** Connections closed since start for pipelining more than MAX_PIPELINED requests. */
  pipelineClosed = 0;
  /** Requests Node's parser has handed the door since start (those of closed connections included). */
  requestsParsed = 0;
  /** The bound port, after `start`. */
  port = 0;

  /** @throws Error when a token is required but missing or shorter than 16 characters. */
  constructor(private readonly opts: HttpDoorOptions) {
    this.log = opts.logger.child({ component: opts.component });
    const host = opts.host ?? "127.0.0.1";
    const needed = opts.alwaysRequireToken === true || tokenRequired(host, opts.token !== undefined);
    if (needed && opts.token === undefined) throw new Error(`${opts.component} on ${host} (not loopback) needs a token`);
    this.token = needed ? new Token(opts.token as string, `${opts.component} token`) : null;
    this.guard = new HostGuard(host, opts.allowedHosts);
    const headersTimeout = opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
    // Node checks the headers timeout every `connectionsCheckingInterval` (30 s by default).
    const requestTimeout = Math.max(headersTimeout, opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
    const timeouts = { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.max(100, Math.min(5_000, headersTimeout / 2)) };
    this.http = createServer(timeouts, (req, res) => {
      this.requestsParsed++;
      this.track(req, res);
      this.inTurn(req, res, () => this.run(req, res));
    });
    const trusted = (this.trusted = trustedAddresses(opts.trustedProxies ?? []));
    // Accepted (nginx's set_real_ip_from 0.0.0.0/0 is a common setting where only the proxy can
    // reach the server), but said at start: reachable by others, every peer names its own address.
    for (const entry of opts.trustedProxies ?? []) {
      const every = everyPeerTrusted(entry);
      if (every !== null)
        this.log.warn(
          { trusted_proxy: entry },
          `trusted proxy ${entry} holds ${every}: any client that reaches this door directly picks the address its per-address limits count by sending X-Forwarded-For; name the proxies' own addresses or network (10.0.0.0/8), or make sure only the proxy can reach the door`,
        );
    }
    const exempt = opts.acceptBudget?.exempt ?? isLoopbackAddress;
    this.budget = new AcceptBudget(opts.acceptBudget?.rate, opts.acceptBudget?.burst, (address) => exempt(address) || trusted(address));
    const max = opts.maxConnections ?? MAX_CONNECTIONS;
    const share = opts.maxConnectionsPerAddress ?? MAX_CONNECTIONS_PER_ADDRESS;
    this.http.on("connection", (socket: Socket) => this.admit(socket, max, share));
    // Node calls this when a connection has had no activity (no byte read or written) for
    // `timeout` ms, and closes it only when nothing listens: idle between requests (Node's
    // keep-alive timeout comes the same way) or with an answer its client does not take.
    this.http.timeout = opts.sendStallMs ?? SEND_STALL_MS;
    this.http.on("timeout", (socket: Socket) => {
      if (!this.owed(socket) || socket.writableLength > 0) socket.destroy();
    });
  }

  /** Answers a request: `dispatch`, and what a failed one gets. */
  private run(req: IncomingMessage, res: ServerResponse): void {
    const opts = this.opts;
    this.dispatch(req, res).catch((err: unknown) => {
        const code = (err as { code?: unknown } | null)?.code;
        if (code === "ERR_INVALID_URL") {
          // A request target `new URL` cannot read (`GET http://[::1/`): the client's mistake.
          if (!res.headersSent) opts.refuse(res, 400, "the request target is not a valid URL");
          else res.end();
          return;
        }
        // Not `req.destroyed` alone: Node destroys a request once its body has been read whole, and
        // a handler that failed after reading it (a storage error) then left its client unanswered.
        const gone = res.destroyed || req.socket?.destroyed === true || (req.destroyed && !req.complete);
        if (gone || code === "ECONNRESET" || code === "ECONNABORTED" || code === "ERR_STREAM_PREMATURE_CLOSE") {
          // The client went away mid-request (a short body, an abort): nothing to answer, and at
          // error level any client could fill the log.
          this.log.debug({ err }, "http client went away mid-request");
          res.destroy();
          return;
        }
        this.log.error({ err }, "http request failed");
        if (!res.headersSent) opts.refuse(res, 500, "internal server error");
        else res.end();
      });
  }

  /**
   * Runs `run` once every earlier request of the connection has its answer handed to the kernel
   * (HTTP/1.1 answers pipelined requests in order anyway), and closes a connection with more than
   * MAX_PIPELINED requests waiting. Node parses every request of what it reads and calls the
   * handler for each at once: 100 connections that pipelined 10 dashboard charts (772 KB each) and
   * read nothing made the server build all 1,000 (13 s during which no other client was answered)
   * and hold them (1.27 GB).
   */
  private inTurn(req: IncomingMessage, res: ServerResponse, run: () => void): void {
    const socket = req.socket;
    // The rest of what a closed connection sent, parsed after it was closed.
    if (socket.destroyed) return;
    let turn = this.turns.get(socket);
    if (turn === undefined) this.turns.set(socket, (turn = { busy: false, waiting: [] }));
    const t = turn;
    const start = () => {
      t.busy = true;
      let done = false;
      const next = () => {
        if (done) return;
        done = true;
        t.busy = false;
        const go = t.waiting.shift();
        if (go !== undefined && !socket.destroyed) go();
      };
      res.once("finish", next);
      res.once("close", next);
      run();
    };
    if (!t.busy) return start();
    if (t.waiting.length >= MAX_PIPELINED) {
      if (this.pipelineClosed++ === 0) this.log.warn({ address: socket.remoteAddress, max_pipelined: MAX_PIPELINED }, "a connection pipelined more requests than are answered while it does not read: closed (logged once)");
      socket.destroy();
      return;
    }
    t.waiting.push(start);
  }

  /**
   * Takes a new connection, or closes it when its address holds `share` connections (a trusted
   * proxy's has no share), or the door `max`, and none of them can give its place up (`evictIdle`).
   */
  private admit(socket: Socket, max: number, share: number): void {
    const remote = socket.remoteAddress ?? "";
    if (!this.budget.take(remote)) {
      if (this.throttledConnections++ === 0) this.log.warn({ address: remote, key: addressKey(remote) }, "an address opened connections faster than its budget: the extra ones are closed at once (logged once)");
      socket.destroy();
      return;
    }
    const address = this.keyOf(remote);
    let mine = this.perAddress.get(address);
    if ((mine !== undefined && mine.size >= share && !this.trusted(remote) && !this.evictIdle(address, "address")) || (this.open >= max && !this.busiestFirst().some((a) => this.evictIdle(a, "door")))) {
      if (this.refusedConnections++ === 0) this.log.warn({ address: remote, key: address, max_per_address: share, max_connections: max }, "connections full and every one being answered: more are closed (logged once)");
      socket.destroy();
      return;
    }
    if (mine === undefined) this.perAddress.set(address, (mine = new Set()));
    mine.add(socket);
    this.open++;
    socket.once("close", () => this.forget(socket, address));
    this.pace(socket);
  }

  /**
   * What a connection from `remote` is counted under: a trusted proxy's own address exactly (a peer
   * in its /64 must not take its idle connections or share its count), any other its `addressKey`.
   */
  private keyOf(remote: string): string {
    return addressKey(remote, !this.trusted(remote));
  }

  /**
   * Who a request comes from, for a surface's per-client shares: the `keyOf` the address that
   * `forwardedClient` reads (the client a trusted proxy names in `X-Forwarded-For`, else the remote
   * address).
   */
  clientKey(req: IncomingMessage): string {
    const remote = req.socket.remoteAddress ?? "";
    return this.keyOf(forwardedClient(remote, req.headers["x-forwarded-for"], this.trusted));
  }

  /**
   * Gives Node's parser what `socket` sends a piece at a time (`PARSE_SLICE_BYTES`), stopping once
   * the connection is closed or Node pauses it (its answers not taken). Node's server listens to
   * `data` itself once another listener is added (it stops reading the socket natively then, as it
   * does for any 'data' listener); its own listener is taken off and called with the pieces.
   */
  private pace(socket: Socket): void {
    const nodes = socket.listeners("data") as ((chunk: Buffer) => void)[];
    // Not the server Node's http module sets up (one listener): left as it is.
    if (nodes.length !== 1) return;
    const parse = nodes[0] as (chunk: Buffer) => void;
    socket.removeListener("data", parse);
    const pending: Buffer[] = [];
    let slice = PARSE_SLICE_BYTES;
    // Node asserts that a connection it paused (`_paused`) is given nothing until it resumes it.
    const paused = () => socket.isPaused() || (socket as Socket & { _paused?: boolean })._paused === true;
    const pump = () => {
      while (pending.length > 0 && !socket.destroyed && !paused()) {
        const chunk = pending[0] as Buffer;
        const piece = chunk.subarray(0, slice);
        if (piece.length === chunk.length) pending.shift();
        else pending[0] = chunk.subarray(piece.length);
        const before = this.requestsParsed;
        parse.call(socket, piece);
        slice = this.requestsParsed === before ? Math.min(slice * 2, 1 << 20) : PARSE_SLICE_BYTES;
      }
      if (socket.destroyed) pending.length = 0;
    };
    socket.on("data", (chunk: Buffer) => {
      pending.push(chunk);
      pump();
    });
    socket.on("resume", pump);
  }

  private forget(socket: Socket, address: string): void {
    const mine = this.perAddress.get(address);
    if (mine === undefined || !mine.delete(socket)) return;
    this.open--;
    if (mine.size === 0) this.perAddress.delete(address);
  }

  /** The addresses holding connections, those holding the most first: a full door takes an idle place from them first. */
  private busiestFirst(): string[] {
    return [...this.perAddress.entries()].sort((a, b) => b[1].size - a[1].size).map(([address]) => address);
  }

  /** Counts the request against its connection until its answer is finished (`owed`). */
  private track(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    let reqs = this.requests.get(socket);
    if (reqs === undefined) this.requests.set(socket, (reqs = new Set()));
    reqs.add(req);
    res.once("close", () => reqs.delete(req));
  }

  /**
   * True when `socket` has a request received whole whose answer is not finished: a page or an
   * agent waiting for it, a live stream. One still sending its headers or its body, or idle between
   * requests, is owed nothing (a client sends its request at once and reconnects an idle one).
   */
  private owed(socket: Socket): boolean {
    for (const req of this.requests.get(socket) ?? []) if (req.complete) return true;
    return false;
  }

  /** Closes the oldest connection of `address` that is owed nothing; false when there is none. */
  private evictIdle(address: string, full: "address" | "door"): boolean {
    for (const socket of this.perAddress.get(address) ?? []) {
      if (this.owed(socket)) continue;
      this.forget(socket, address);
      socket.destroy();
      if (this.evictedConnections++ === 0) this.log.warn({ address, full }, "connections full: the oldest idle or half-sent one closed for a new one (logged once)");
      return true;
    }
    return false;
  }

  /** The address listened on. */
  get host(): string {
    return this.opts.host ?? "127.0.0.1";
  }

  /** True when bound to a loopback address. */
  get loopback(): boolean {
    return isLoopbackHost(this.host);
  }

  /** True once `close` began: the surface should end long-lived responses (SSE, GET streams). */
  get stopping(): boolean {
    return this.stoppingFlag;
  }

  /** The trusted proxies' addresses as given (for start-up logs). */
  get trustedProxies(): string[] {
    return [...(this.opts.trustedProxies ?? [])];
  }

  /** The host names accepted besides loopback ones (for start-up logs). */
  get allowedHosts(): string[] {
    return [...this.guard.allowed];
  }

  /** Listens; resolves with the bound port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.opts.port, this.host, () => {
        this.http.off("error", reject);
        resolve();
      });
    });
    this.port = (this.http.address() as AddressInfo).port;
    return this.port;
  }

  /** True when the request carries the token as a bearer header, or when this door asks for none. */
  authorized(req: IncomingMessage): boolean {
    return this.token === null || this.token.bearerIn(req);
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const foreign = this.guard.refusal(req);
    if (foreign !== null) {
      req.resume();
      this.refused++;
      // The first refusal of each Host/Origin pair, as CURVE logs each refused key once: a peer
      // repeating a request would otherwise write a log line per request.
      const pair = JSON.stringify([req.headers.host ?? null, req.headers.origin ?? null]);
      if (this.refusedLogged.size < MAX_REFUSALS_LOGGED && !this.refusedLogged.has(pair)) {
        this.refusedLogged.add(pair);
        this.log.warn({ request: { host: req.headers.host ?? null, origin: req.headers.origin ?? null }, refused: this.refused }, "http request refused: foreign Host/Origin");
      }
      this.opts.refuse(res, 403, `forbidden: ${foreign} (DNS rebinding protection); allow the name with ${this.opts.allowHostOption}`);
      return;
    }
    if (this.stoppingFlag) {
      req.resume();
      this.opts.refuse(res, 503, "server stopping; retry once it is back", { connection: "close" });
      return;
    }
    await this.opts.handle(req, res);
  }

  /**
   * Stops taking requests (503 from now on), runs `drain` (the surface answers what is in flight
   * and ends its streams), then closes every connection and the listener.
   */
  async close(drain: () => Promise<void> = async () => undefined): Promise<void> {
    this.stoppingFlag = true;
    await drain();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}
