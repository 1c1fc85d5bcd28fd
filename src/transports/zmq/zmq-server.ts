/**
 * The ZeroMQ transport: a ROUTER socket; clients connect DEALER sockets and send one
 * MessagePack map per message. This adapter decodes, validates the envelope, calls the
 * service and encodes the reply — it decides nothing.
 *
 * Envelope: request `{v, id, op, ...args}`; reply `{v, id, ok: true, result}` or
 * `{v, id, ok: false, error: {code, message, data?}}` (protocol/PROTOCOL.md).
 */
import type { Logger } from "pino";
import { Context, Router } from "zeromq";
import { TuneportError } from "../../domain/errors.js";
import { MAX_NESTING } from "../../domain/input-limits.js";
import type { StudyService } from "../../service/study-service.js";
import { buffersBeforeGrowth, decode, encode, encodeAlone, encodeOkReply, encodeWithin, okReplySize } from "./codec.js";
import { UNMEASURED, packedSize } from "../../domain/packed-size.js";
import { packedResult } from "../../service/idempotency.js";
import { ZapAuthenticator } from "./curve.js";
import { formatZodError } from "../../domain/distributions.js";
import { MUTATING_OPS, OPS, OP_NAMES, type OpName, PROTOCOL_VERSIONS } from "../../service/ops/ops.js";
import { peekOp, peekRequestId, scanFrame } from "./msgpack-scan.js";
import { Requesters } from "./requesters.js";
import { FairDispatch } from "../fair-dispatch.js";
import { type Session, Sessions } from "./sessions.js";
import { MAX_PREFIX_FRAMES, MAX_PREFIX_FRAME_BYTES, isHello, prefixProblem, scanError, wireKind } from "./frames.js";
import { maxOf } from "../../math/extremes.js";
import { bufferBytes, fullGc } from "./heap.js";

export interface CurveServerKeys {
  readonly publicKey: string;
  readonly secretKey: string;
}

export interface ZmqServerOptions {
  /** Endpoints to bind, e.g. `tcp://127.0.0.1:5555`; port 0 picks a free port. */
  readonly bind: string[];
  readonly logger: Logger;
  /** Frames larger than this get MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes?: number;
  readonly heartbeatIntervalS?: number;
  /** Requests one client (ROUTER identity) may have in flight; more get UNAVAILABLE. */
  readonly maxInflightPerClient?: number;
  /** Bytes the process's buffers may hold before replies over `BIG_REPLY_BYTES` are refused. */
  readonly maxReplyBytes?: number;
  /**
   * Bytes over `maxReplyBytes` the buffers may hold before small replies are refused too
   * [maxReplyBytes / 4]: the hard bound on what clients that do not read can make the server hold.
   */
  readonly smallReplyHeadroomBytes?: number;
  readonly serverVersion?: string;
  /**
   * CURVE keys; with them the socket only accepts encrypted connections from clients whose
   * public key (Z85) is in `curveAllow` — every other handshake is refused (see curve.ts).
   */
  readonly curve?: CurveServerKeys;
  /** Client public keys (Z85) allowed to connect; required with `curve`. */
  readonly curveAllow?: ReadonlySet<string>;
  /** Connections whose `hello` is remembered at most [MAX_SESSIONS] (sessions.ts). */
  readonly maxSessions?: number;
  /** Called for each client before any request (e.g. CURVE allow-list via ZAP). */
  readonly onSocket?: (router: Router) => void;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
export const DEFAULT_MAX_INFLIGHT_PER_CLIENT = 1000;
/**
 * Replies kept for one client that does not read them (ZeroMQ's send high-water mark per peer);
 * newer ones are dropped (PROTOCOL.md). `max_inflight` bounds the requests being processed, not
 * the replies waiting to go out: with ZeroMQ's 100,000 a client that sent small requests for big
 * replies and never read them held the server's memory (870 KB replies: 1 GB in 30 s). As many as
 * a client may have requests in flight: a group commit answers a pipelining client's requests in
 * one burst, faster than ZeroMQ's I/O thread moves them out, and a smaller queue dropped replies
 * of a client that reads them (src/transports/zmq/zmq-server.send.test.ts).
 */
export const REPLY_QUEUE = DEFAULT_MAX_INFLIGHT_PER_CLIENT;
/**
 * Replies above this size are sent only while the process's buffers (replies ZeroMQ has not sent
 * yet among them) hold less than `maxReplyBytes`. The reply queue counts replies, not bytes, and
 * a reply may be ~8 MiB (a page of trials), so one client that asked for 400 pages without reading
 * them grew the server by 3.9 GB in 5 s, and a few such clients would have had it killed for
 * memory. Over the ceiling such a reply is answered UNAVAILABLE (retry later, same id) instead;
 * small replies (ask, tell, report) always go out, so workers carry on.
 */
export const BIG_REPLY_BYTES = 64 * 1024;
/**
 * Small replies go out beyond that ceiling, up to `maxReplyBytes + smallReplyHeadroomBytes`; past
 * that they are refused as well (UNAVAILABLE, retry with the same id). Without this bound each
 * client that never reads kept up to REPLY_QUEUE small replies (1,000 of up to 64 KiB: 63 MB), so
 * 30 such connections held 2 GB against a 64 MiB ceiling, and more would have had the server
 * killed for memory, stopping every study. The buffers' size is read at most once per
 * `HELD_CHECK_MS` for small replies (a read costs microseconds, a small reply's whole path ~100).
 */
export const HELD_CHECK_MS = 5;
/** How long a closing server's socket keeps sending replies already answered. */
const CLOSE_LINGER_MS = 2000;
export const DEFAULT_MAX_REPLY_BYTES = 1024 ** 3;
/**
 * The largest frame libzmq takes, as a multiple of `maxMessageBytes`: a larger one is dropped by
 * libzmq as soon as its header declares it, and the peer disconnected. Frames between the two are
 * received whole and answered MESSAGE_TOO_LARGE with the request's id. libzmq holds what a peer
 * sent of a frame until the frame ends or the peer leaves, so this is what one connection can make
 * the server hold; it was 64 MiB whatever `maxMessageBytes`: 100 raw ZMTP peers that each sent
 * 20 MiB of a 63 MiB frame and idled grew the server from 131 to 2,124 MiB RSS (a probe of
 * 2026-12-06, `bench/zmq-partial-frames.mjs`), and a few hundred more would have had it killed.
 */
export const HARD_LIMIT_FACTOR = 2;

/** The envelope fields this server reads (hello's `envelope`): a client sends `attempt` only to a server that lists it. */
const ENVELOPE_FIELDS = ["v", "id", "op", "attempt"];
/**
 * Optional op arguments added after protocol 1 (hello's `optional_args`): an older server refuses an
 * argument it does not know (strict schemas), so a client sends one only to a server that lists it.
 */
const OPTIONAL_ARGS = ["ask.study_created_at", "add_trial.started_at", "add_trial.finished_at", "tell.interrupted"];

/** A request received: its frames, its client (routing id, hex) and that client's connection then. */
interface Received {
  readonly frames: Buffer[];
  readonly client: string;
  readonly session: Session;
}

export class ZmqServer {
  private readonly router: Router;
  private readonly log: Logger;
  private readonly maxBytes: number;
  private readonly inflight = new Set<Promise<void>>();
  /** Replies handed to the socket whose send has not completed yet. */
  private readonly sending = new Set<Promise<void>>();
  /** Requests in flight per client identity (hex); entries leave at zero. */
  private readonly perClient = new Map<string, number>();
  /** Each client's (routing id, hex) connection and what it said about itself in `hello`: who holds the trials it asks for. */
  private readonly sessions: Sessions;
  /** The connections waiting for each ask in flight: an ask whose senders all closed is dropped at its turn. */
  private readonly requesters = new Requesters();
  /** Requests received and not started yet, per client, started in fair rounds. */
  private readonly fair = new FairDispatch<Received>((r) => this.startQueued(r));
  /** Queued requests dropped at their turn because their client had left, since that was last logged. */
  private droppedGone = { count: 0, loggedAt: -Infinity };
  private readonly maxPerClient: number;
  private readonly maxReplyBytes: number;
  private readonly smallReplyLimit: number;
  /** The buffers' size at the last look (`heldNow`), and when. */
  private held = { bytes: 0, at: -Infinity };
  /** When `heldNow` last ran a full collection. */
  private collectedAt = -Infinity;
  /** Replies refused for memory since the last warning, and when that was logged. */
  private refused = { count: 0, loggedAt: -Infinity };
  private loop: Promise<void> | null = null;
  private closing = false;
  private readonly zap: ZapAuthenticator | null = null;
  /** Endpoints actually bound (ports resolved). */
  readonly endpoints: string[] = [];

  constructor(
    private readonly service: StudyService,
    private readonly opts: ZmqServerOptions,
  ) {
    this.log = opts.logger.child({ component: "zmq" });
    this.maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxPerClient = opts.maxInflightPerClient ?? DEFAULT_MAX_INFLIGHT_PER_CLIENT;
    this.sessions = new Sessions(opts.maxSessions, (client) => this.perClient.has(client));
    this.maxReplyBytes = opts.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    this.smallReplyLimit = this.maxReplyBytes + (opts.smallReplyHeadroomBytes ?? Math.floor(this.maxReplyBytes / 4));
    let context: Context | undefined;
    if (opts.curve) {
      if (!opts.curveAllow || opts.curveAllow.size === 0) throw new Error("CURVE needs an allow-list of client public keys");
      // A context of its own: its ZAP endpoint (inproc) then serves this socket only.
      context = new Context({ blocky: false });
      this.zap = new ZapAuthenticator(context, opts.curveAllow, opts.logger); // its own component, not a child of zmq's
    }
    this.router = new Router({
      ...(context ? { context, zapDomain: "tuneport" } : {}),
      linger: 0,
      maxMessageSize: this.maxBytes * HARD_LIMIT_FACTOR,
      sendHighWaterMark: REPLY_QUEUE,
      // A ROUTER never blocks a send (a peer over its high-water mark loses the message, as
      // before): with a zero timeout zeromq.js sends at once and settles the promise before
      // returning, skipping its writability check (a getsockopt(ZMQ_EVENTS) and a poll(2) per
      // reply) and its deferral of every 32nd send to a later turn. `send` relies on this.
      sendTimeout: 0,
      receiveHighWaterMark: 100_000,
      ...(opts.curve ? { curveServer: true, curvePublicKey: opts.curve.publicKey, curveSecretKey: opts.curve.secretKey } : {}),
    });
    // Told of each connection that closes, the service drops the asks it left waiting their turn.
    if (!this.requesters.listen(this.router)) this.log.warn("libzmq lacks ZMQ_DISCONNECT_MSG: asks of clients that left still run");
    opts.onSocket?.(this.router);
  }

  async start(): Promise<string[]> {
    // The ZAP handler must be listening before the first client can handshake.
    await this.zap?.start();
    for (const ep of this.opts.bind) {
      await this.router.bind(ep);
      this.endpoints.push(this.router.lastEndpoint ?? ep);
    }
    this.loop = this.receiveLoop();
    this.log.info({ endpoints: this.endpoints, curve: !!this.opts.curve, allowed_keys: this.opts.curveAllow?.size ?? 0 }, "zmq listening");
    return this.endpoints;
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.router) {
        if (this.closing) {
          // Stopping (waiting out the requests in flight): new requests are dropped unanswered (resent, same id,
          // after the restart), but a hello is answered: clients take a server that answers neither a resend
          // nor the hello beside it within a second for hung, and would fail their requests ("is it hung?").
          if (isHello(frames)) {
            const client = (frames[0] as Buffer).toString("hex");
            this.startOne({ frames, client, session: this.sessions.of(client) }, false);
          }
          continue;
        }
        try {
          this.accept(frames);
        } catch (err) {
          this.handlingFailed(frames, err);
        }
      }
    } catch (err) {
      if (!this.closing) this.log.error({ err }, "zmq receive loop ended");
    }
  }

  /**
   * The last resort when `handle` throws (a fault of the server's own, such as a system call that
   * failed while checking memory), which happens after the op ran: the client gets UNAVAILABLE
   * (`data.reason: "reply_failed"`) for its id instead of waiting out its timeout. Clients resend
   * UNAVAILABLE with the same id, and the resend gets the op's stored reply; INTERNAL is not resent,
   * so a worker would have given up on an ask or tell that had been applied. Logged. Never throws.
   */
  private handlingFailed(frames: Buffer[], err: unknown): void {
    this.log.error({ err }, "request handling failed");
    try {
      if (frames.length < 2) return;
      const payload = frames[frames.length - 1] as Buffer;
      const prefix = frames.slice(0, -1);
      const to = prefixProblem(prefix) === null ? prefix : [frames[0] as Buffer];
      const error = {
        code: "UNAVAILABLE",
        message: "the server failed to send this reply (logged on the server); retry with the same id, which answers what the request did",
        data: { reason: "reply_failed" },
      };
      this.send([...to, encodeAlone({ v: 1, id: peekRequestId(payload), ok: false, error })]);
    } catch (again) {
      this.log.error({ err: again }, "request handling failed: no reply could be sent");
    }
  }

  /**
   * Takes one received message: a connection's notice, a refusal sent at once (bad prefix, too many
   * in flight), or a request queued for its client's turn (fair-dispatch.ts), counted in flight.
   */
  private accept(frames: Buffer[]): void {
    // [identity, (empty delimiter from REQ sockets)..., payload]: answer with the same prefix.
    if (frames.length < 2) return;
    const prefix = frames.slice(0, -1);
    const payload = frames[frames.length - 1] as Buffer;
    const client = (frames[0] as Buffer).toString("hex");
    const notice = this.requesters.arrived(frames, client);
    if (notice !== null) {
      // A connection opened, or closed: its routing id never comes back unless the client chose it (requesters.ts).
      if (notice === "closed") this.sessions.closed(client);
      this.log.debug({ client }, `connection ${notice}`);
      return;
    }
    const tooLong = prefixProblem(prefix);
    if (tooLong !== null) {
      // Not echoed: the reply goes to the sender's own routing id, and the frames are dropped now.
      // `data` counts the frames the client sends, as the message does (the routing id is not one).
      const error = { code: "MALFORMED_MESSAGE", message: tooLong, data: { max_prefix_frames: MAX_PREFIX_FRAMES - 1, max_prefix_frame_bytes: MAX_PREFIX_FRAME_BYTES } };
      this.send([frames[0] as Buffer, encode({ v: 1, id: peekRequestId(payload), ok: false, error })]);
      return;
    }
    // A client that floods the server without reading replies must not starve the others.
    const n = this.perClient.get(client) ?? 0;
    if (n < this.maxPerClient) {
      this.perClient.set(client, n + 1);
      // A client's only request starts now (nothing of its own to wait for): a worker's common case
      // skips the turns, which cost 32 workers 23% of their trials/s (bench/load.mjs, 2026-12-07).
      const received = { frames, client, session: this.sessions.of(client) };
      if (n === 0) this.startOne(received, true);
      else this.fair.submit(client, received);
      return;
    }
    const error = { code: "UNAVAILABLE", message: `too many requests in flight (limit ${this.maxPerClient} per client); retry with the same id`, data: { max_inflight: this.maxPerClient } };
    this.reply(prefix, payload, { v: 1, id: peekRequestId(payload), ok: false, error });
  }

  /**
   * Starts a queued request at its turn, or drops it: a read (any op that changes nothing) whose
   * client left while it waited (no connection of its routing id is open now: requesters.ts) is not
   * run, since its reply could reach nobody. A change still runs (an ask is dropped by the service
   * at its study's turn, `OpContext.gone`): see protocol/PROTOCOL.md, Transport. So does a `hello`:
   * it records its connection's identity on the session of the requests queued behind it (dropped,
   * the asks it was queued before started anonymous on the routing id's next connection:
   * zmq-server.departed-hello.test.ts).
   */
  private startQueued(r: Received): void {
    if (!this.requesters.left(r.client)) return this.startOne(r, true);
    const op = peekOp(r.frames[r.frames.length - 1] as Buffer);
    if (op === null || op === "hello" || MUTATING_OPS.has(op as OpName)) return this.startOne(r, true);
    this.done(r.client);
    this.droppedGone.count++;
    const now = performance.now();
    if (now - this.droppedGone.loggedAt >= 1000) {
      this.log.debug({ dropped: this.droppedGone.count }, "reads of clients that left dropped before they started");
      this.droppedGone = { count: 0, loggedAt: now };
    }
  }

  /** Starts a request now (`counted`: in `perClient`; a hello while stopping is not), tracked until answered. */
  private startOne(r: Received, counted: boolean): void {
    const p = this.answer(r, counted).catch((err: unknown) => this.handlingFailed(r.frames, err));
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** One request of `client` is no longer in flight. */
  private done(client: string): void {
    const left = (this.perClient.get(client) ?? 1) - 1;
    if (left <= 0) this.perClient.delete(client);
    else this.perClient.set(client, left);
  }

  private async answer({ frames, client, session }: Received, counted: boolean): Promise<void> {
    const payload = frames[frames.length - 1] as Buffer;
    let reply: Record<string, unknown>;
    try {
      reply = await this.process(payload, client, session);
    } finally {
      if (counted) this.done(client);
      if (!this.perClient.has(client)) this.sessions.idle(client);
    }
    this.reply(frames.slice(0, -1), payload, reply);
  }

  /**
   * Encodes `reply` (refused in its place when too big, or when memory is short) and sends it behind
   * `prefix`: a change's sized from its stored bytes first; a read's packed once within a bound, else
   * measured (domain/packed-size.ts) and packed only when it may go. Packed whole first, a 5 MB
   * read over the ceiling cost 37 MB of buffers; measured first, a read cost half a pack's CPU more.
   */
  private reply(prefix: Buffer[], payload: Buffer, reply: Record<string, unknown>): void {
    let bytes = this.encodeReply(reply, "first") ?? this.encodeReply(reply, "measure");
    // A reply packed already is among the buffers heldNow counts: it is not added to them again.
    let refused = typeof bytes === "number" ? this.refusal(bytes, bytes, reply.id, payload) : this.refusal((bytes as Buffer).byteLength, 0, reply.id, payload, buffersBeforeGrowth());
    if (refused === null && typeof bytes === "number") {
      bytes = this.encodeReply(reply, "pack");
      if (typeof bytes === "number") refused = this.overCeiling(bytes, reply.id, payload); // packed-size.ts measured it short
    }
    this.send([...prefix, refused ?? (bytes as Buffer)]);
  }

  /**
   * `reply` at `stage`: "first", a change's size or a read's bytes (null if msgpackr's buffer would
   * grow past the bound); "measure", its size (its bytes where packed-size.ts does not mirror it);
   * "pack", its bytes. A size stands for bytes over the ceiling. INTERNAL's bytes if it cannot be encoded.
   */
  private encodeReply(reply: Record<string, unknown>, stage: "first" | "measure" | "pack"): Buffer | number | null {
    try {
      // A mutation's result was packed once already, for its stored reply: its bytes are sent.
      const packed = reply.ok === true ? packedResult(reply.result) : undefined;
      if (packed) return stage === "pack" ? encodeOkReply(reply.v, reply.id, packed) : okReplySize(reply.v, reply.id, packed);
      const measured = stage === "measure" ? packedSize(reply) : UNMEASURED;
      if (measured !== UNMEASURED) return measured;
      // A bound of a quarter of the ceiling and half the room left under it: what a refusal costs, and
      // the dead buffers (up to ~5x a page, counted until collected) the next replies are charged.
      const bound = stage === "first" ? Math.min(this.maxReplyBytes / 4, (this.maxReplyBytes - this.heldNow(HELD_CHECK_MS, 0)) / 2) : Number.POSITIVE_INFINITY;
      return encodeWithin(reply, this.maxReplyBytes, bound);
    } catch (err) {
      this.log.error({ err }, "reply could not be encoded");
      return encode({ v: 1, id: reply.id ?? null, ok: false, error: { code: "INTERNAL", message: "reply could not be encoded" } });
    }
  }

  /**
   * The answer in place of a reply of `size` bytes, or null when it may go: over the ceiling on its
   * own, or while the buffers would hold, with it (`adding`: its bytes when not packed yet), more
   * than their limit (`maxReplyBytes` for a big reply, with the headroom for a small one); a big one
   * packed first, `grownFrom` and it at most (codec.ts `buffersBeforeGrowth`): not msgpackr's dead buffers.
   */
  private refusal(size: number, adding: number, id: unknown, payload: Buffer, grownFrom: number | null = null): Buffer | null {
    if (size > this.maxReplyBytes) return this.overCeiling(size, id, payload);
    if (size > BIG_REPLY_BYTES) return this.withinMemory(size, id, Math.min(this.heldNow(0, adding) + adding, (grownFrom ?? Infinity) + size), this.maxReplyBytes);
    return this.withinMemory(size, id, this.heldNow(HELD_CHECK_MS, adding) + adding, this.smallReplyLimit);
  }

  /**
   * The answer to a request whose reply alone is over the reply ceiling: it can never be sent (the
   * buffers hold at least the reply itself), so UNAVAILABLE's "retry later" was a promise never
   * kept, resent for ever. MESSAGE_TOO_LARGE says so. A change's reply is refused by the service
   * before it is applied when over its own limit (a quarter of this ceiling under `tuneport
   * serve`); one that passed it (an embedding that set a higher limit) was applied, and its stored
   * reply gets this answer again on every resend: it is never applied twice.
   */
  private overCeiling(replyBytes: number, id: unknown, payload: Buffer): Buffer {
    let op: unknown;
    try {
      op = (decode(payload) as { op?: unknown }).op;
    } catch {
      op = undefined;
    }
    const change = typeof op === "string" && MUTATING_OPS.has(op as OpName);
    this.log.warn({ op, reply_bytes: replyBytes, max_reply_bytes: this.maxReplyBytes }, "a reply over the reply ceiling on its own: answered MESSAGE_TOO_LARGE");
    const message =
      `the reply to this ${typeof op === "string" ? op : "request"} is ${replyBytes.toLocaleString("en-US")} bytes, over the server's reply ceiling of ` +
      `${this.maxReplyBytes.toLocaleString("en-US")} (--max-reply-mib) on its own, so it can never be sent; ` +
      (change
        ? "the change was applied once, and a resend of this id gets this answer again (nothing is applied twice): read what it changed with a read op"
        : "ask for less (a smaller limit; fields or params to project trials), or have the server's operator raise --max-reply-mib");
    return encodeAlone({ v: 1, id: id ?? null, ok: false, error: { code: "MESSAGE_TOO_LARGE", message, data: { reply_bytes: replyBytes, max_reply_bytes: this.maxReplyBytes } } });
  }

  /**
   * The bytes the process's buffers hold, read again when the last look is older than `maxAgeMs`.
   * Replies are Buffers, and ZeroMQ holds them (it sends without copying) until they leave. V8's
   * count of ArrayBuffer bytes falls as soon as they are freed; the RSS stayed at 3.9 GB after the
   * client left (the allocator keeps the pages), which would refuse replies for good.
   */
  private heldNow(maxAgeMs: number, adding: number): number {
    const now = performance.now();
    if (now - this.held.at < maxAgeMs) return this.held.bytes;
    let bytes = bufferBytes();
    // Buffers ZeroMQ has sent (or dropped with a client that left) count until V8 collects them,
    // and an idle server may not collect for minutes: replies stayed refused after the clients
    // that held them had gone. Over the ceiling (with the reply `adding`), a full collection first,
    // once a second at most.
    if (bytes + adding > this.maxReplyBytes && now - this.collectedAt >= 1000) {
      this.collectedAt = now;
      fullGc()?.();
      bytes = bufferBytes();
    }
    this.held = { bytes, at: performance.now() };
    return bytes;
  }

  /** null (a reply of `size` bytes may go), or UNAVAILABLE in its place while the buffers, with it (`held`), would hold more than `limit`. */
  private withinMemory(size: number, id: unknown, held: number, limit: number): Buffer | null {
    if (held <= limit) return null;
    const mib = (n: number) => Math.round(n / 1024 ** 2);
    // One line a second at most: a flood of refusals must not become a flood of log lines.
    this.refused.count++;
    const now = performance.now();
    if (now - this.refused.loggedAt >= 1000) {
      this.log.warn(
        { held_mib: mib(held), limit_mib: mib(limit), max_reply_mib: mib(this.maxReplyBytes), reply_bytes: size, refused: this.refused.count },
        "replies refused: replies not yet sent hold too much memory",
      );
      this.refused = { count: 0, loggedAt: now };
    }
    // Alone: in msgpackr's chunk, each refusal waiting for a client that does not read held the chunk.
    return encodeAlone({
      v: 1,
      id: id ?? null,
      ok: false,
      error: {
        code: "UNAVAILABLE",
        message:
          `the server's buffers hold ${mib(held)} MiB, over its ceiling of ${mib(limit)} MiB (from --max-reply-mib), mostly replies ` +
          `that clients asked for and have not read; this reply of ${size} bytes was not sent: retry with the same id later`,
        data: { reason: "memory", held_bytes: held, max_reply_bytes: this.maxReplyBytes, reply_bytes: size },
      },
    });
  }

  /**
   * Turns one request frame into one reply map. Never throws. `client` (the routing id, hex) and
   * `session` (its connection's, taken at the request's arrival) tie a `hello`'s identity to the
   * connection's later asks.
   */
  async process(payload: Uint8Array, client?: string, session: Session | undefined = client === undefined ? undefined : this.sessions.of(client)): Promise<Record<string, unknown>> {
    let id: unknown = null;
    try {
      if (payload.byteLength > this.maxBytes) {
        id = peekRequestId(payload);
        throw new TuneportError("MESSAGE_TOO_LARGE", `message of ${payload.byteLength} bytes exceeds the limit of ${this.maxBytes}`, {
          max_message_bytes: this.maxBytes,
        });
      }
      // Before decoding: msgpackr would rewrite bad UTF-8 to U+FFFD, a key `__proto__` to `__proto_`, and recurse on nesting.
      const problem = scanFrame(payload, MAX_NESTING);
      if (problem === "malformed") throw new TuneportError("MALFORMED_MESSAGE", "frame is not valid MessagePack");
      if (problem !== null) {
        id = peekRequestId(payload);
        if (id === null) throw new TuneportError("MALFORMED_MESSAGE", "a request must be a MessagePack map {v, id, op, ...} with a UTF-8 string id of 1..128 characters");
        throw scanError(problem, payload.byteLength);
      }
      let msg: unknown;
      try {
        msg = decode(payload);
      } catch {
        throw new TuneportError("MALFORMED_MESSAGE", "frame is not valid MessagePack");
      }
      if (typeof msg !== "object" || msg === null || Array.isArray(msg) || msg instanceof Uint8Array)
        throw new TuneportError("MALFORMED_MESSAGE", "a request must be a MessagePack map {v, id, op, ...}");
      const { v, id: rid, op, attempt, ...args } = msg as Record<string, unknown>;
      if (typeof rid === "string" && rid.length > 0 && rid.length <= 128 && !rid.includes("\u0000")) id = rid;
      else throw new TuneportError("MALFORMED_MESSAGE", "request id must be a string of 1..128 characters without U+0000 (NUL)");
      if (typeof v !== "number" || !(PROTOCOL_VERSIONS as readonly number[]).includes(v))
        throw new TuneportError("UNSUPPORTED_VERSION", v === undefined ? `request has no protocol version \`v\` (send v: ${PROTOCOL_VERSIONS[0]})` : `protocol version ${typeof v === "number" ? String(v) : wireKind(v)} is not supported (send v: ${PROTOCOL_VERSIONS[0]})`, {
          supported: [...PROTOCOL_VERSIONS],
        });
      if (typeof op !== "string" || !(OP_NAMES as string[]).includes(op))
        throw new TuneportError(
          "UNKNOWN_OP",
          typeof op === "string" ? `unknown op ${JSON.stringify(op)}` : op === undefined ? "request has no `op` (the operation's name)" : `op must be a MessagePack str naming an operation, not ${wireKind(op)}`,
          { ops: OP_NAMES },
        );
      if (attempt !== undefined && !(Number.isSafeInteger(attempt) && (attempt as number) >= 0))
        throw new TuneportError("INVALID_ARGUMENT", `attempt must be a non-negative integer (0 on an id's first send), not ${typeof attempt === "number" ? attempt : wireKind(attempt)}`);
      // An ask waits its turn behind the study's others: dropped there once its senders have all left.
      const watch = op === "ask" && client !== undefined ? this.requesters.watch(id as string, client) : null;
      try {
        const result =
          op === "hello"
            ? this.hello(args, client, session)
            : await this.service.execute(op as OpName, args, {
                requestId: id as string,
                worker: Sessions.worker(session),
                ...(attempt === undefined ? {} : { attempt: attempt as number }),
                ...(watch === null ? {} : { gone: watch.gone }),
              });
        return { v: 1, id, ok: true, result };
      } finally {
        watch?.release();
      }
    } catch (err) {
      if (err instanceof TuneportError) return { v: 1, id, ok: false, error: err.toWire() };
      this.log.error({ err, request: { id } }, "internal error");
      return { v: 1, id, ok: false, error: { code: "INTERNAL", message: "internal server error (logged on the server)" } };
    }
  }

  private hello(args: Record<string, unknown>, client?: string, session?: Session) {
    const parsed = OPS.hello.args.safeParse(args);
    if (!parsed.success) throw new TuneportError("INVALID_ARGUMENT", `hello: ${formatZodError(parsed.error)}`);
    const a = parsed.data;
    if (client !== undefined && session !== undefined) this.sessions.hello(client, session, a.client ?? {});
    const wanted = a.versions ?? [1];
    const common = wanted.filter((x) => (PROTOCOL_VERSIONS as readonly number[]).includes(x));
    if (common.length === 0)
      throw new TuneportError("UNSUPPORTED_VERSION", `none of versions ${JSON.stringify(wanted)} is supported`, {
        supported: [...PROTOCOL_VERSIONS],
      });
    return {
      version: maxOf(common),
      server: { name: "tuneport", version: this.opts.serverVersion ?? "0.0.0" },
      limits: {
        max_message_bytes: this.maxBytes,
        heartbeat_interval_s: this.opts.heartbeatIntervalS ?? 10,
        max_inflight: this.maxPerClient,
        max_intermediate: this.service.maxIntermediate,
      },
      ops: OP_NAMES,
      idempotent_ops: [...MUTATING_OPS],
      envelope: ENVELOPE_FIELDS,
      optional_args: OPTIONAL_ARGS,
    };
  }

  /**
   * Sends one reply now. With `sendTimeout: 0` zeromq.js completes the send inside the call (the
   * promise it returns is already settled), so there is never a send in progress to wait for:
   * no promise chain per reply. A refused send (the socket closed) is logged, never thrown.
   */
  private send(frames: Buffer[]): void {
    try {
      const p = this.router.send(frames).catch((err: unknown) => this.sendFailed(err));
      this.sending.add(p);
      void p.finally(() => this.sending.delete(p));
    } catch (err) {
      this.sendFailed(err);
    }
  }

  private sendFailed(err: unknown): void {
    if (!this.closing) this.log.warn({ err }, "reply could not be sent");
  }

  /**
   * Stops taking requests, answers those in flight, and closes the socket. The socket lingers (at
   * most CLOSE_LINGER_MS) so that the last replies leave: with linger 0, a reply ZeroMQ's I/O thread
   * had not written yet was dropped at close, and a client whose request was answered during a
   * SIGTERM's stop waited out its timeout (seen once in CI, at load, in test/serve-signals.test.ts).
   */
  async close(): Promise<void> {
    this.closing = true;
    // Requests queued before the stop count as in flight: they start at their turns and are answered.
    await this.fair.drained();
    await Promise.allSettled([...this.inflight]);
    let bounded: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.allSettled([...this.sending]), new Promise<void>((r) => (bounded = setTimeout(r, CLOSE_LINGER_MS)))]);
    clearTimeout(bounded);
    this.router.linger = CLOSE_LINGER_MS;
    this.router.close();
    await this.loop;
    await this.zap?.close();
  }
}
