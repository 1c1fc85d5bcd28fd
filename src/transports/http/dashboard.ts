/**
 * The dashboard's HTTP surface, behind the shared door (http-door.ts: Host/Origin, token,
 * loopback by default). It translates and decides nothing:
 *
 * - `GET /` (and any page path): the page shell; `GET /assets/*`: the bundle built from web/
 *   by `make` (dist/web/), served from disk, never from a CDN.
 * - `POST /api/op/NAME` with a JSON body: op NAME of the op table through `execute`, for the
 *   ops in `DASHBOARD_OPS` only (reads; in read-only mode the writes answer 403). The answer is
 *   the op's result as JSON, or `{error: {code, message}}` with an HTTP status for the code.
 *   Ops pass a gate (op-gate.ts: a bounded number at once, in two lanes, fair by client; 503 with
 *   `Retry-After` beyond it, which the page retries). A client is the door's `clientKey`: the
 *   remote address (an IPv6 one's /64), or behind a trusted proxy the client it forwards.
 * - `GET /api/events`: Server-Sent Events, one `change` event per committed change of the
 *   service's change feed (`{study, kind, version}`), the feed that drives MCP notifications.
 *   At most `MAX_LIVE_STREAMS` at once (one more ends the oldest of the address holding the
 *   most, by `clientKey` as the ops are, whose browser reconnects); a stream whose client leaves `MAX_STREAM_BACKLOG` bytes
 *   unread is ended (the browser reconnects), so a client that never reads costs bounded memory.
 *
 * Auth: when the door asks for a token (off loopback, or given one), a request carries it as
 * `Authorization: Bearer`, or as the cookie set when the page is opened once with
 * `?token=TOKEN` (the cookie holds a value derived from the token, HttpOnly, SameSite=Strict).
 * Writes must be `application/json`, which a foreign page cannot send without a CORS preflight
 * this server never grants; the door has already refused foreign Origins.
 */
import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { type ErrorCode, TuneportError } from "../../domain/errors.js";
import {
  MAX_NESTING,
  checkArgumentLimits,
  duplicateKeyMessage,
  jsonContainersData,
  jsonTextDuplicateKey,
  jsonTextShapeProblem,
  tooManyContainersMessage,
} from "../../domain/input-limits.js";
import type { StudyChange } from "../../service/change-feed.js";
import type { OpName } from "../../service/ops/ops.js";
import { sendChange } from "../change-resend.js";
import { HttpDoor, trustedLog } from "./http-door.js";
import { HEAVY_LANE, LIGHT_LANE, OpGate, RETRY_AFTER_S } from "./op-gate.js";
import { cookieOf, readBody, sameSecret } from "./http-rules.js";

/** What the dashboard needs of a service: the op table and the change feed. */
export interface DashboardSource {
  /** `requestId`: a write's, sent again with it while the disk is full (change-resend.ts). */
  execute(op: OpName, args: unknown, ctx?: { requestId?: string }): Promise<unknown>;
  onChange(listener: (change: StudyChange) => void): () => void;
}

/** The ops the page calls; the writes are the same ops workers and agents use. */
export const DASHBOARD_READS: readonly OpName[] = ["studies_overview", "get_study", "query_trials", "plot_spec", "trial", "trajectory", "lineage", "best"];
export const DASHBOARD_WRITES: readonly OpName[] = ["enqueue", "stop_study", "resume_study", "set_user_attrs"];

export interface DashboardOptions {
  readonly source: DashboardSource;
  readonly logger: Logger;
  readonly port: number;
  /** [127.0.0.1] */
  readonly host?: string;
  /** Required off loopback; on loopback, when given, it is asked for too. */
  readonly token?: string;
  readonly allowedHosts?: readonly string[];
  /** Addresses of reverse proxies left out of the per-address limits (HttpDoorOptions.trustedProxies). */
  readonly trustedProxies?: readonly string[];
  /** Refuse the write ops (`tuneport dashboard --storage`). */
  readonly readOnly?: boolean;
  /** Where dashboard.js, its chunks and dashboard.css are [dist/web beside this module]. */
  readonly assetsDir?: string;
}

const MAX_BODY_BYTES = 256 * 1024;
/** Live streams (SSE) open at once; one more ends the oldest of the address holding the most (`evictStream`). One per open page. */
export const MAX_LIVE_STREAMS = 256;
/**
 * Bytes a live stream may have waiting for its client (beyond what the kernel holds) before the
 * server ends it: a client that does not read would otherwise make the server buffer every
 * change for it. EventSource reconnects on its own (`retry: 1000`).
 */
export const MAX_STREAM_BACKLOG = 1024 * 1024;
const COOKIE = "tuneport_dashboard";
const ASSET_TYPES: Record<string, string> = { "dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8" };
/** esbuild's chunk names (web/dashboard/build.mjs `chunkNames`): no path, no dots but the extension. */
const CHUNK = /^chunk-[A-Z0-9]{6,16}\.js$/;
const STATUS: Partial<Record<ErrorCode, number>> = { NOT_FOUND: 404, INVALID_ARGUMENT: 400, ALREADY_EXISTS: 409, FAILED_PRECONDITION: 409, UNAVAILABLE: 503 };
/** Vega compiles its expressions with `Function`: hence 'unsafe-eval'; nothing else runs but our bundle. */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** The default assets folder: dist/web, found from dist/transports/http or from src/transports/http. */
function defaultAssets(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = resolve(here, "../../web");
  return existsSync(join(beside, "dashboard.js")) ? beside : resolve(here, "../../../dist/web");
}

/** The page shell; the bundle draws everything from the ops. An empty icon: browsers ask /favicon.ico (a 404) otherwise. */
function shell(readOnly: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tuneport dashboard</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/dashboard.css"></head>
<body data-read-only="${readOnly}"><a class="skip" href="#main">Skip to content</a>
<header><a href="#/" class="brand">tuneport</a><span id="conn" role="status" aria-live="polite">connecting…</span></header>
<main id="main" tabindex="-1"><p>Loading…</p></main>
<script type="module" src="/assets/dashboard.js"></script></body></html>
`;
}

/** `tuneport serve --dashboard` and `tuneport dashboard`: the page, its ops and its live feed. */
export class DashboardServer {
  private readonly door: HttpDoor;
  private readonly log: Logger;
  private readonly streams = new Set<ServerResponse>();
  /** The live streams of each remote address, oldest first, with what ends each one's bookkeeping. */
  private readonly streamsBy = new Map<string, Map<ServerResponse, () => void>>();
  /** Live streams ended since start to make room for a newer one (`evictStream`). */
  evictedStreams = 0;
  private readonly assets: string;
  private readonly cookie: string | null;
  /** How many ops run at once, and who waits (op-gate.ts). */
  private readonly gate = new OpGate();
  /** Ops answered 503 since start (the gate full). */
  private refusedOps = 0;

  /** @throws Error off loopback without a token, or with a token shorter than 16 characters. */
  constructor(private readonly opts: DashboardOptions) {
    this.log = opts.logger.child({ component: "dashboard" });
    this.assets = opts.assetsDir ?? defaultAssets();
    this.door = new HttpDoor({
      logger: opts.logger,
      component: "dashboard",
      host: opts.host,
      port: opts.port,
      allowedHosts: opts.allowedHosts,
      allowHostOption: "--dashboard-allow-host",
      trustedProxies: opts.trustedProxies,
      token: opts.token,
      refuse: (res, status, message, headers) =>
        res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify({ error: { code: status === 403 ? "FORBIDDEN" : status === 400 ? "INVALID_ARGUMENT" : status === 500 ? "INTERNAL" : "UNAVAILABLE", message } })),
      handle: (req, res) => this.handle(req, res),
    });
    this.cookie = this.door.token ? this.door.token.cookieValue("dashboard") : null;
  }

  /** The bound port, after `start`. */
  get port(): number {
    return this.door.port;
  }

  /** Connected live streams (SSE), for logs and the benchmark. */
  get liveStreams(): number {
    return this.streams.size;
  }

  /** Ops running and waiting in each lane of the gate (op-gate.ts), for tests and the benchmark. */
  get ops(): { heavy: { running: number; queued: number }; light: { running: number; queued: number } } {
    const { heavy, light } = this.gate;
    return { heavy: { running: heavy.running, queued: heavy.queued }, light: { running: light.running, queued: light.queued } };
  }

  /** Listens; resolves with the bound port. */
  async start(): Promise<number> {
    if (!existsSync(join(this.assets, "dashboard.js"))) this.log.warn({ assets: this.assets }, "dashboard assets not built (run make build): the page will not load");
    const port = await this.door.start();
    this.log.info({ host: this.door.host, port, read_only: this.opts.readOnly === true, token: this.door.token !== null, ...trustedLog(this.door) }, "dashboard listening");
    return port;
  }

  /** Ends the live streams and closes the listener. */
  async close(): Promise<void> {
    await this.door.close(async () => {
      for (const s of this.streams) s.end();
      this.streams.clear();
    });
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.door.authorized(req)) return true;
    const c = cookieOf(req, COOKIE);
    return c !== null && this.cookie !== null && sameSecret(c, this.cookie);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const given = url.searchParams.get("token");
    if (req.method === "GET" && given !== null && this.door.token !== null) {
      if (!this.door.token.matches(given)) return this.json(res, 401, { error: { code: "UNAUTHENTICATED", message: "wrong token" } });
      url.searchParams.delete("token");
      const cookie = `${COOKIE}=${this.cookie}; Path=/; HttpOnly; SameSite=Strict`;
      // One leading slash: a path such as `/.//evil.example/` (pathname `//evil.example/`) would
      // otherwise send the browser to another host, the cookie just set in hand.
      const location = `/${url.pathname.replace(/^\/+/, "")}${url.search}`;
      res.writeHead(303, { location, "set-cookie": cookie, ...SECURITY_HEADERS }).end();
      return;
    }
    if (!this.authorized(req)) {
      req.resume();
      const message = "this dashboard needs its token: open it once as /?token=TOKEN (or send Authorization: Bearer TOKEN)";
      return this.json(res, 401, { error: { code: "UNAUTHENTICATED", message } }, { "www-authenticate": 'Bearer realm="tuneport"' });
    }
    if (url.pathname.startsWith("/api/op/")) {
      if (req.method === "POST") return this.op(req, res, url.pathname.slice(8));
      // Not "no page /api/op/NAME": the op is there, the method is wrong.
      req.resume();
      return this.json(res, 405, { error: { code: "INVALID_ARGUMENT", message: `ops are called with POST and their arguments as application/json, not ${req.method}` } }, { allow: "POST" });
    }
    if (url.pathname === "/api/events" && req.method === "GET") return this.events(req, res);
    if (req.method !== "GET" && req.method !== "HEAD") {
      req.resume();
      const allow = url.pathname === "/api/events" ? "GET" : "GET, HEAD";
      return this.json(res, 405, { error: { code: "INVALID_ARGUMENT", message: `${req.method} is not allowed here: ${allow}` } }, { allow });
    }
    if (url.pathname.startsWith("/assets/")) return this.asset(res, url.pathname.slice(8));
    if (url.pathname === "/" || url.pathname === "/index.html") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...SECURITY_HEADERS }).end(shell(this.opts.readOnly === true));
      return;
    }
    this.json(res, 404, { error: { code: "NOT_FOUND", message: `no page ${url.pathname}; the dashboard is at /` } });
  }

  private asset(res: ServerResponse, name: string): void {
    // Chunks (vega, loaded on the first chart) are named by their content's hash: cached for good.
    const chunk = CHUNK.test(name);
    const type = chunk ? ASSET_TYPES["dashboard.js"] : ASSET_TYPES[name];
    if (type === undefined) return this.json(res, 404, { error: { code: "NOT_FOUND", message: `no asset ${name}` } });
    let body: Buffer;
    try {
      body = readFileSync(join(this.assets, name));
    } catch {
      return this.json(res, 404, { error: { code: "NOT_FOUND", message: `asset ${name} is not built; run make build` } });
    }
    res.writeHead(200, { "content-type": type, "cache-control": chunk ? "public, max-age=31536000, immutable" : "no-cache", ...SECURITY_HEADERS }).end(body);
  }

  private async op(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const op = name as OpName;
    const write = DASHBOARD_WRITES.includes(op);
    if (!write && !DASHBOARD_READS.includes(op)) {
      req.resume();
      return this.json(res, 404, { error: { code: "NOT_FOUND", message: `the dashboard does not call op ${JSON.stringify(name)}` } });
    }
    if (write && this.opts.readOnly) {
      req.resume();
      return this.json(res, 403, { error: { code: "FAILED_PRECONDITION", message: "this dashboard is read-only (tuneport dashboard --storage); use the one of tuneport serve --dashboard" } });
    }
    if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
      req.resume();
      return this.json(res, 415, { error: { code: "INVALID_ARGUMENT", message: "send the op's arguments as application/json" } });
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body.kind === "too-large") return this.json(res, 413, { error: { code: "INVALID_ARGUMENT", message: "the body is larger than 256 KiB" } }, { connection: "close" });
    if (body.kind === "not-utf8") return this.json(res, 400, { error: { code: "INVALID_ARGUMENT", message: "the body is not UTF-8" } });
    // Before parsing: JSON.parse of 256 KiB of `[[[[…` costs the event loop far more than reading
    // it, and of `[{},{},…]` 21 times its size in memory (`maxJsonContainers`).
    const shape = jsonTextShapeProblem(body.text, MAX_NESTING);
    if (shape === "too-deep") {
      const message = `${name}: the arguments nest deeper than ${MAX_NESTING} levels`;
      return this.json(res, 400, { error: { code: "INVALID_ARGUMENT", message, data: { max_nesting: MAX_NESTING } } });
    }
    if (shape === "too-many-containers") {
      const message = tooManyContainersMessage(`${name}: the body`, body.text.length, true);
      return this.json(res, 400, { error: { code: "INVALID_ARGUMENT", message, data: jsonContainersData(body.text.length) } });
    }
    let args: unknown;
    try {
      args = body.text === "" ? {} : JSON.parse(body.text);
    } catch {
      return this.json(res, 400, { error: { code: "INVALID_ARGUMENT", message: "the body is not JSON" } });
    }
    const duplicate = jsonTextDuplicateKey(body.text);
    if (duplicate !== null) {
      const { message, shown } = duplicateKeyMessage(`${op}: the body`, duplicate);
      return this.json(res, 400, { error: { code: "INVALID_ARGUMENT", message, data: { duplicate_key: shown } } });
    }
    try {
      checkArgumentLimits(op, args);
    } catch (err) {
      return this.opError(res, err);
    }
    const client = this.door.clientKey(req);
    await new Promise<void>((resolve, reject) => {
      this.gate.enter(op, {
        address: client,
        run: (release) => {
          // Its client left while it waited: nothing to answer.
          if (res.destroyed) return resolve(release());
          // A write refused for a full disk may be committed once space is freed: it is waited out
          // under its request id, or a person's second click recorded it twice (change-resend.ts).
          const source = this.opts.source;
          (DASHBOARD_WRITES.includes(op) ? sendChange(op, (requestId) => source.execute(op, args, { requestId })) : source.execute(op, args))
            .then(
              (result) => this.json(res, 200, result),
              (err: unknown) => this.opError(res, err),
            )
            .then(resolve, reject)
            .finally(release);
        },
        refuse: () => {
          if (this.refusedOps++ === 0) this.log.warn({ client, heavy: HEAVY_LANE, light: LIGHT_LANE }, "dashboard ops full: more are answered 503 with Retry-After (logged once)");
          this.json(res, 503, { error: { code: "UNAVAILABLE", message: `the dashboard is answering as many ops as it takes at once; retry in ${RETRY_AFTER_S} s` } }, { "retry-after": String(RETRY_AFTER_S) });
          resolve();
        },
      });
    });
  }

  /** Answers an op's TuneportError with its status; anything else is the door's (500). */
  private opError(res: ServerResponse, err: unknown): void {
    if (!(err instanceof TuneportError)) throw err;
    this.json(res, STATUS[err.code] ?? 400, { error: { code: err.code, message: err.message, ...(err.data ? { data: err.data } : {}) } });
  }

  private events(req: IncomingMessage, res: ServerResponse): void {
    const address = this.door.clientKey(req);
    if (this.streams.size >= MAX_LIVE_STREAMS) this.evictStream();
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", ...SECURITY_HEADERS });
    res.write("retry: 1000\n\n");
    this.streams.add(res);
    let mine = this.streamsBy.get(address);
    if (mine === undefined) this.streamsBy.set(address, (mine = new Map()));
    const streamsOfAddress = mine;
    const send = (text: string) => {
      // Ended by `close` (a change can come before the stream's close event): a write now would be
      // an 'error' event without a listener, an uncaught exception that ended the server mid-shutdown.
      if (res.writableEnded || res.destroyed) return;
      if (res.writableLength <= MAX_STREAM_BACKLOG) res.write(text);
      else if (!res.destroyed) {
        this.log.warn({ backlog: res.writableLength }, "dashboard live stream not read by its client: ended");
        res.destroy();
      }
    };
    const off = this.opts.source.onChange((c) => send(`event: change\ndata: ${JSON.stringify(c)}\n\n`));
    // A comment now and then keeps proxies from closing an idle stream.
    const keepAlive = setInterval(() => send(": keep-alive\n\n"), 15_000);
    keepAlive.unref();
    const done = () => {
      off();
      clearInterval(keepAlive);
      this.streams.delete(res);
      if (streamsOfAddress.delete(res) && streamsOfAddress.size === 0 && this.streamsBy.get(address) === streamsOfAddress) this.streamsBy.delete(address);
    };
    streamsOfAddress.set(res, done);
    req.once("close", done);
    res.once("close", done);
  }

  /**
   * Makes room for one more live stream: ends the oldest stream of the address holding the most
   * (its browser reconnects after `retry`, and reads again what it shows). A newcomer from
   * another address always gets in; on loopback, where every local client is 127.0.0.1, the
   * streams take turns: one client holding 256 had every other page refused (503) for as long as
   * it held them.
   */
  private evictStream(): void {
    let busiest: Map<ServerResponse, () => void> | undefined;
    for (const mine of this.streamsBy.values()) if (busiest === undefined || mine.size > busiest.size) busiest = mine;
    const oldest = busiest?.entries().next().value;
    if (oldest === undefined) return;
    if (this.evictedStreams++ === 0) this.log.warn({ max_live_streams: MAX_LIVE_STREAMS }, "dashboard live streams full: the oldest stream of the address holding the most ended for a new one (logged once)");
    const [res, done] = oldest;
    // One with changes still unread by its client goes at once (nothing more is sent it anyway).
    if (res.writableLength > 0) res.destroy();
    else res.end();
    // Its close event comes later: counted out now, so the newcomer's place is free.
    done();
  }

  /** Writes `body` as JSON; one that cannot be written throws before the status is sent (the door answers 500). */
  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...SECURITY_HEADERS, ...headers }).end(text);
  }
}
