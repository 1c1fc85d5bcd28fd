/**
 * A small ZeroMQ client for protocol v1: one DEALER socket, MessagePack envelopes, replies
 * matched to requests by id, so many requests may be in flight at once. `call(op, args)` is typed
 * by the op table (service/ops/ops.ts): the same arguments and results as the service's ops; a
 * failure reply is thrown as a `TuneportError` with the server's code.
 *
 * It is what `tuneport mcp --connect` uses to reach a running server, and what the Node
 * test workers use. It does not retry: a request that times out rejects with UNAVAILABLE
 * (callers that retry should reuse the request id, which `request` accepts). One exception: when
 * the server closes the connection (`recover`), the requests in flight on it are resent at once.
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { Dealer } from "zeromq";
import { type ErrorCode, ERROR_CODES, TuneportError } from "../../domain/errors.js";
import { MUTATING_OPS, type OpArgs, type OpName, type OpResult } from "../../service/ops/ops.js";
import { decode, encode } from "./codec.js";

export interface ZmqClientOptions {
  /** Per-request timeout in milliseconds [30000]. */
  readonly timeoutMs?: number;
  /** CURVE keys (Z85) for a server started with --curve-secret: its public key and this client's pair. */
  readonly curve?: { readonly serverPublicKey: string; readonly publicKey: string; readonly secretKey: string };
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  /** The request as sent, for a resend after the connection closed (`recover`). */
  readonly op: string;
  readonly frame: Buffer;
}

export class ZmqClient {
  private readonly dealer: Dealer;
  private readonly pending = new Map<string, Pending>();
  private readonly timeoutMs: number;
  private sendChain: Promise<void> = Promise.resolve();
  private loop: Promise<void> | null = null;
  private closed = false;
  private readonly curve: boolean;
  /**
   * The server's `limits.max_message_bytes` (from `hello`): a larger request is refused here,
   * unsent, as the server would refuse it. The server disconnects a peer whose frame is over twice
   * it, without a reply, so `tuneport mcp --connect` answered an agent's 3 MB `create_study`
   * "no reply ... is the server running?" after its timeout, not MESSAGE_TOO_LARGE. Asked again
   * before a request over it is refused (`request`): a restarted server may have another; and
   * taken from a MESSAGE_TOO_LARGE that names a smaller one. A request over twice a smaller limit
   * of a restarted server is dropped unanswered, with the connection: `recover` refuses it then.
   */
  private maxMessageBytes: number | null = null;
  /** A `recover` under way, and whether the connection closed again meanwhile. */
  private recovering: { again: boolean } | null = null;

  constructor(
    readonly endpoint: string,
    opts: ZmqClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const c = opts.curve;
    this.curve = c !== undefined;
    this.dealer = new Dealer({ linger: 0, ...(c ? { curveServerKey: c.serverPublicKey, curvePublicKey: c.publicKey, curveSecretKey: c.secretKey } : {}) });
  }

  /** Who this client says it is in `hello`: the server records it as the holder of the trials it asks (domain/worker.ts). */
  readonly identity = { name: "tuneport-ts", host: hostname(), pid: process.pid } as const;

  /** Connects and performs the `hello` handshake. @throws UNAVAILABLE when the server does not answer. */
  async connect(): Promise<{ version: number; server: { name: string; version: string } }> {
    this.dealer.events.on("disconnect", () => void this.recover());
    this.dealer.connect(this.endpoint);
    this.loop = this.receiveLoop();
    try {
      return await this.hello();
    } catch (err) {
      // A server started with --curve-secret drops a handshake without keys (or with keys it does
      // not allow) silently: the client only sees no reply.
      if (err instanceof TuneportError && err.data?.timed_out === true)
        throw new TuneportError(
          "UNAVAILABLE",
          `${err.message}${this.curve ? " (or does it not allow this client's key? it must be in the server's --curve-allow)" : " (or does it require CURVE keys? pass --curve-server and --curve-secret)"}`,
          err.data,
        );
      throw err;
    }
  }

  /** Sends `hello` and keeps the server's `limits.max_message_bytes` (left as it was when the reply has none). */
  private async hello(): Promise<{ version: number; server: { name: string; version: string } }> {
    const hello = (await this.send("hello", { versions: [1], client: { ...this.identity } })) as {
      version: number;
      server: { name: string; version: string };
      limits?: { max_message_bytes?: unknown };
    };
    const max = hello.limits?.max_message_bytes;
    if (typeof max === "number" && Number.isSafeInteger(max) && max > 0) this.maxMessageBytes = max;
    return hello;
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.dealer) {
        const payload = frames[frames.length - 1];
        if (!payload) continue;
        let msg: Record<string, unknown>;
        try {
          msg = decode(payload) as Record<string, unknown>;
        } catch {
          continue;
        }
        const id = typeof msg.id === "string" ? msg.id : null;
        const p = id ? this.pending.get(id) : undefined;
        if (!p || !id) continue;
        this.pending.delete(id);
        clearTimeout(p.timer);
        if (msg.ok === true) p.resolve(msg.result);
        else {
          const e = (msg.error ?? {}) as { code?: string; message?: string; data?: Record<string, unknown> };
          const code = (e.code && e.code in ERROR_CODES ? e.code : "INTERNAL") as ErrorCode;
          // A refusal naming another limit (the server restarted with a smaller one): learnt here.
          const limit = e.data?.max_message_bytes;
          if (code === "MESSAGE_TOO_LARGE" && typeof limit === "number" && Number.isSafeInteger(limit) && limit > 0) this.maxMessageBytes = limit;
          p.reject(new TuneportError(code, e.message ?? "request failed", e.data));
        }
      }
    } catch (err) {
      if (!this.closed) for (const p of this.pending.values()) p.reject(err as Error);
    }
  }

  /**
   * The connection closed (the server stopped, or dropped it: a frame over twice its
   * --max-message-bytes, sent with a limit learnt from a server since restarted with a smaller one,
   * is dropped unread and its sender disconnected). The requests in flight on it were lost, and each
   * waited out its whole timeout (30 s for `tuneport mcp --connect`). Now, once ZeroMQ has connected
   * again: `hello` (the server's limit now), then each request in flight over that limit is refused
   * MESSAGE_TOO_LARGE (a change `outcome_unknown`: this server never read it, but one before it, with
   * a larger limit, may have applied it and stopped before replying), and every other one is resent with
   * its id (a change is applied once whatever the number of sends). Never throws: a server that does
   * not answer the hello leaves the requests to their timeouts, as before.
   */
  private async recover(): Promise<void> {
    if (this.closed || this.pending.size === 0) return;
    if (this.recovering !== null) return void (this.recovering.again = true);
    const state = { again: true };
    this.recovering = state;
    try {
      while (state.again && !this.closed) {
        state.again = false;
        const lost = [...this.pending.entries()];
        try {
          await this.hello();
        } catch {
          return;
        }
        const max = this.maxMessageBytes;
        for (const [id, p] of lost) {
          if (this.pending.get(id) !== p) continue; // answered or timed out meanwhile
          if (max !== null && p.frame.length > max) {
            this.pending.delete(id);
            clearTimeout(p.timer);
            // Sent before the connection closed: the server there now drops it unread, but it may have
            // reached the one before (with a larger limit), which applied it and stopped before replying.
            const change = MUTATING_OPS.has(p.op as OpName);
            const message =
              `the server closed this client's connection: this ${p.op} request of ${p.frame.length} bytes is over its limit of ${max} ` +
              `(--max-message-bytes; it drops a frame over twice that unread, with its sender's connection)` +
              (change ? "; it may or may not have been applied: a server with a larger limit may have taken it and stopped before replying" : "");
            p.reject(new TuneportError("MESSAGE_TOO_LARGE", message, { max_message_bytes: max, disconnected: true, ...(change ? { outcome_unknown: true } : {}) }));
          } else this.enqueueSend(id, p.frame);
        }
      }
    } finally {
      this.recovering = null;
    }
  }

  /**
   * Sends one request and resolves with its `result`. One over the server's known limit asks
   * `hello` again first (once per request): a server restarted with a larger --max-message-bytes
   * takes it, and one still too small refuses it here, unsent, with the limit it has now.
   * @throws TuneportError (server code, or UNAVAILABLE on timeout).
   */
  async request(op: string, args: Record<string, unknown> = {}, requestId: string = randomUUID()): Promise<unknown> {
    if (this.closed) throw new TuneportError("UNAVAILABLE", "client is closed");
    const frame = encode({ v: 1, id: requestId, op, ...args });
    // A server that does not answer it leaves the known limit (the request is refused by it).
    if (this.maxMessageBytes !== null && frame.length > this.maxMessageBytes) await this.hello().catch(() => undefined);
    const max = this.maxMessageBytes;
    if (max !== null && frame.length > max)
      throw new TuneportError("MESSAGE_TOO_LARGE", `${op} request of ${frame.length} bytes exceeds the server's limit of ${max} (nothing was sent)`, { max_message_bytes: max });
    return this.sendFrame(op, frame, requestId);
  }

  /** One request sent as it is, without the size check (`hello` itself). */
  private send(op: string, args: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(new TuneportError("UNAVAILABLE", "client is closed"));
    const id = randomUUID();
    return this.sendFrame(op, encode({ v: 1, id, op, ...args }), id);
  }

  private sendFrame(op: string, frame: Buffer, requestId: string): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new TuneportError("UNAVAILABLE", `no reply to '${op}' from ${this.endpoint} within ${this.timeoutMs} ms; is the server running?`, { timed_out: true }));
      }, this.timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer, op, frame });
      this.enqueueSend(requestId, frame);
    });
  }

  /** Sends `frame` after the sends before it (zeromq.js allows one in progress per socket); a failed send rejects request `requestId`. */
  private enqueueSend(requestId: string, frame: Buffer): void {
    this.sendChain = this.sendChain
      .then(() => this.dealer.send(frame))
      .catch((err: unknown) => {
        const p = this.pending.get(requestId);
        if (p) {
          clearTimeout(p.timer);
          this.pending.delete(requestId);
          p.reject(err as Error);
        }
      });
  }

  /**
   * Sends one op of the table, typed by it: `call("tell", {study, trial, token, state, value})`
   * resolves with the op's result. Optional arguments left `undefined` are not sent.
   * @throws TuneportError (the server's code, or UNAVAILABLE on timeout).
   */
  async call<K extends OpName>(op: K, args: OpArgs<K>, requestId?: string): Promise<OpResult<K>> {
    const clean: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(args as Record<string, unknown>)) if (v !== undefined) clean[k] = v;
    return (await this.request(op, clean, requestId)) as OpResult<K>;
  }

  /** A plot rendered by the server (the `plot` op). */
  async plot(study: string, kind: string, opts: { params?: readonly string[]; logY?: boolean } = {}): Promise<{ png: Uint8Array; caption: string; width: number; height: number }> {
    return (await this.request("plot", {
      study,
      kind,
      ...(opts.params !== undefined ? { params: [...opts.params] } : {}),
      ...(opts.logY !== undefined ? { log_y: opts.logY } : {}),
    })) as { png: Uint8Array; caption: string; width: number; height: number };
  }

  /** Rejects everything in flight and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new TuneportError("UNAVAILABLE", "client closed"));
    }
    this.pending.clear();
    this.dealer.close();
    await this.loop;
  }
}
