/**
 * Idempotency by request id.
 *
 * - A mutating request's first reply is stored (a `put-reply` change) in the same batch as its
 *   effect, so a retry with the same id gets that reply back and changes nothing, also after a
 *   restart; a retry that arrives while the first is still in flight (or answered but not yet
 *   committed, see docs/DURABILITY.md "Intermediate values") joins it.
 * - A request id names one request: reusing it for another op is refused, whether the first use
 *   was a mutation (checked against the stored reply, durable) or a read (remembered in memory for
 *   the last RECENT_IDS ids).
 * - NO_OP_REPLY: a mutation that changes nothing (stop_study on a stopped study, resume_study on
 *   a running one, update_study to the same config, create_study that loads an existing study)
 *   stores no reply: nothing was applied, so a retry cannot apply anything twice; it runs again
 *   and answers from the study as it is then. Storing them let a client turn 200-byte requests
 *   into a study view each (649 KiB for a wide study): 1.9 GB of stored replies in 41 s, until the
 *   disk was full and the server stopped.
 * - A client may say that a request is the first send of its id (the envelope's `attempt: 0`): then
 *   no reply can be stored for it, and the lookup in storage is skipped (on PostgreSQL a database
 *   round trip per mutation, since another server may have stored the reply). An id already seen
 *   by this process is looked up all the same: the claim was wrong.
 */
import { Packr, unpack } from "msgpackr";
import { TuneportError, invalidArgument } from "../domain/errors.js";
import { WIRE_PACK_OPTIONS, withLastValue } from "../domain/wire-pack.js";
import { UNMEASURED, packedSize } from "../domain/packed-size.js";
import type { Change, Storage } from "../storage/storage.js";

/** The request a commit answers, so its reply is stored in the same transaction. */
export interface ReplyCtx {
  readonly requestId: string;
  readonly op: string;
}

/**
 * Packs stored replies in the wire's profile (domain/wire-pack.ts), so that the ZeroMQ transport can
 * send a mutation's result in the bytes packed here instead of packing it a second time
 * (`packedResult`). Replies stored before read back the same: `unpack` reads both profiles.
 */
const packr = new Packr(WIRE_PACK_OPTIONS);
/** Per op, `{op, result: null}` packed. */
const replyHeads = new Map<string, Buffer>();
/** The packed bytes of each result whose reply was stored (`replyChange`), for `packedResult`. */
const packedResults = new WeakMap<object, Uint8Array>();

/**
 * The MessagePack bytes of `result` as its stored reply holds them, when `result` is a mutation's
 * result whose reply this process stored; else undefined. A transport may send them in place of
 * packing the result again (one pack of a ~600-byte ask or tell reply fewer per request). Results are
 * fresh objects, never changed once answered: a retry gets the stored bytes, so the first reply must
 * be those bytes too.
 */
export function packedResult(result: unknown): Uint8Array | undefined {
  return typeof result === "object" && result !== null ? packedResults.get(result) : undefined;
}

/**
 * The largest reply a change answered under a request id may have by default (its packed bytes):
 * `tuneport serve` passes a quarter of its ZeroMQ reply ceiling (--max-reply-mib) instead, which
 * leaves that door room for the stored copy, the copy being sent and the rest of its buffers.
 */
export const DEFAULT_MAX_REPLY_BYTES = 256 * 1024 * 1024;

/**
 * A packed result above this size is copied out of msgpackr's buffer and the buffer replaced by a
 * small one (as the codec does, transports/zmq/codec.ts): msgpackr grows its buffer to ~4x a value
 * that does not fit and keeps it, so one 60 MB reply left 225 MB of ArrayBuffers held for good,
 * which the ZeroMQ door counts against its reply ceiling: every big reply after it was refused.
 */
const KEPT_BUFFER_BYTES = 64 * 1024;

/**
 * `{op, result}` packed, and the result's bytes within it; or the result's packed size alone when
 * that is over `max` (read in msgpackr's buffer: nothing is copied out of it).
 */
function packReply(op: string, result: unknown, max: number): { reply: Buffer; body: Uint8Array } | number {
  let withNil = replyHeads.get(op);
  if (withNil === undefined) {
    withNil = Buffer.from(packr.pack({ op, result: null }));
    if (replyHeads.size < 256) replyHeads.set(op, withNil);
  }
  let packed: Uint8Array;
  try {
    packed = packr.pack(result);
  } catch (err) {
    packr.useBuffer(Buffer.allocUnsafeSlow(8 * 1024)); // it may have grown before it threw
    throw err;
  }
  const reply = packed.byteLength > max ? null : withLastValue(withNil, packed); // a copy: `packed` lies in msgpackr's buffer
  if (packed.byteLength > KEPT_BUFFER_BYTES) packr.useBuffer(Buffer.allocUnsafeSlow(8 * 1024));
  return reply === null ? packed.byteLength : { reply, body: reply.subarray(withNil.byteLength - 1) };
}

/** The packed size of `value`: measured, or (a value packed-size.ts does not mirror) packed, the chunk then replaced. */
function sizeOf(value: unknown): number {
  const measured = packedSize(value);
  if (measured !== UNMEASURED) return measured;
  const n = packr.pack(value).byteLength;
  packr.useBuffer(Buffer.allocUnsafeSlow(8 * 1024));
  return n;
}

/** `n` bytes in words ("12.6 MB", "40 kB"). */
const megabytes = (n: number) => (n >= 1e5 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.ceil(n / 1e3)} kB`);

/**
 * The largest parts of a result (up to three, a tenth of the largest at least), as paths with their
 * packed sizes: the fields of the result and of the trial or study it holds. Only for a refusal.
 */
function largestParts(result: unknown): { path: string; bytes: number }[] {
  const parts: { path: string; bytes: number }[] = [];
  const walk = (x: unknown, path: string, depth: number) => {
    if (typeof x !== "object" || x === null || Array.isArray(x) || x instanceof Uint8Array) return;
    for (const [k, v] of Object.entries(x)) {
      const at = path === "" ? k : `${path}.${k}`;
      if (depth < 2 && typeof v === "object" && v !== null && !Array.isArray(v) && (k === "trial" || k === "study" || k === "best_trial")) walk(v, at, depth + 1);
      else parts.push({ path: at, bytes: sizeOf(v) });
    }
  };
  walk(result, "", 0);
  parts.sort((a, b) => b.bytes - a.bytes);
  return parts.filter((p, i) => i === 0 || (i < 3 && p.bytes >= (parts[0] as { bytes: number }).bytes / 10));
}

/**
 * The refusal of a change whose reply would be `bytes` long, over `max`: nothing of it is applied,
 * so a resend of its id is refused the same way (the state it would change is as it was).
 */
function replyTooLarge(op: string, result: unknown, bytes: number, max: number): TuneportError {
  const parts = largestParts(result);
  const intermediate = parts.some((p) => p.path.endsWith("intermediate"));
  return new TuneportError(
    "MESSAGE_TOO_LARGE",
    `the reply to this ${op} would be ${bytes.toLocaleString("en-US")} bytes, over the server's limit of ${max.toLocaleString("en-US")} ` +
      `for the reply of a change (it is stored for resends and sent whole), so nothing was applied; its largest parts: ` +
      `${parts.map((p) => `${p.path} (${megabytes(p.bytes)})`).join(", ")}. ` +
      (intermediate
        ? "A trial's reply carries all its intermediate values: report fewer of them (every k-th step); "
        : "Send a smaller change (fewer or shorter values); ") +
      "or raise the limit (tuneport serve: a quarter of --max-reply-mib)",
    { op, reply_bytes: bytes, max_reply_bytes: max, largest_parts: Object.fromEntries(parts.map((p) => [p.path, p.bytes])) },
  );
}

/** How many request ids `claim` remembers. */
const RECENT_IDS = 100_000;

export class Idempotency {
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** The op each recent request id named, reads included (bounded, memory only). */
  private readonly recentIds = new Map<string, string>();
  /**
   * recentIds' keys in the order they came, as a ring (`recentHead`: the oldest once full). Evicting
   * the oldest with `recentIds.keys().next()` cost 40 µs per request once the map was full: V8's
   * ordered map keeps deleted slots until it rehashes, and every new iterator skips them all
   * (bench/recent-ids.mjs).
   */
  private readonly recentOrder: string[] = [];
  private recentHead = 0;
  /** Ids whose request says it is their first send (`sending`), until `once` takes them. */
  private readonly fresh = new Set<string>();

  constructor(
    private readonly storage: Storage,
    private readonly now: () => number,
    /** Resolves once everything queued so far is committed (without hastening it). */
    private readonly committed: () => Promise<unknown> = async () => undefined,
    /** The largest reply a change may have (packed bytes); see `replyChange`. */
    private readonly maxReplyBytes = DEFAULT_MAX_REPLY_BYTES,
  ) {}

  /**
   * Records that `requestId` names an `op` request; the same op again is a retry.
   * @throws INVALID_ARGUMENT when the id was used for another op.
   */
  claim(requestId: string, op: string): void {
    const prev = this.recentIds.get(requestId);
    if (prev !== undefined) {
      if (prev !== op) throw invalidArgument(`request id ${requestId} was already used for a '${prev}' request`);
      return;
    }
    this.recentIds.set(requestId, op);
    if (this.recentOrder.length < RECENT_IDS) {
      this.recentOrder.push(requestId);
      return;
    }
    this.recentIds.delete(this.recentOrder[this.recentHead] as string);
    this.recentOrder[this.recentHead] = requestId;
    this.recentHead = (this.recentHead + 1) % RECENT_IDS;
  }

  /**
   * Runs a mutating request's op (`run` reaches `once`) knowing which send of its id it is: with
   * `attempt` 0 the id is marked fresh until `once` takes the mark. The mark is ignored for an id
   * this process has seen or the storage knows from memory (a client that reused an id after a
   * restart says attempt 0 for an id that has a reply), and two requests with one id that both say
   * so, or one that says so beside a resend, leave it unmarked: then both are looked up.
   */
  async sending<T>(requestId: string | undefined, attempt: number | undefined, run: () => Promise<T>): Promise<T> {
    if (requestId === undefined) return run();
    if (attempt !== 0 || this.recentIds.has(requestId) || this.fresh.has(requestId) || this.storage.knowsReply?.(requestId) === true) {
      this.fresh.delete(requestId);
      return run();
    }
    this.fresh.add(requestId);
    try {
      return await run();
    } finally {
      this.fresh.delete(requestId); // none took it: the op failed before it ran
    }
  }

  /**
   * Runs a mutating operation at most once per request id: returns the stored reply of an earlier
   * run, joins a run in flight, or runs `body`, which must queue its effect together with
   * `replyChange(rc, result)` and resolve only once that batch committed.
   */
  async once<T>(requestId: string | undefined, op: string, body: (rc: ReplyCtx | null) => Promise<T>): Promise<T> {
    if (requestId === undefined) return body(null);
    const fresh = this.fresh.delete(requestId);
    this.claim(requestId, op);
    const pending = this.inflight.get(requestId);
    if (pending) return pending as Promise<T>;
    const p = (async () => {
      const stored = fresh ? null : await this.storage.getReply(requestId);
      if (stored) {
        const r = unpack(stored) as { op: string; result: T };
        if (r.op !== op) {
          // The stored op is the id's, not this request's. The id may have left the ring while the
          // reply was read: then claim it again, so that it takes a slot and leaves in its turn.
          if (this.recentIds.has(requestId)) this.recentIds.set(requestId, r.op);
          else this.claim(requestId, r.op);
          throw invalidArgument(`request id ${requestId} was already used for a '${r.op}' request`);
        }
        return r.result;
      }
      return body({ requestId, op });
    })();
    this.inflight.set(requestId, p);
    // A reply may be sent before its commit (lazy reports): until then a retry must join this run,
    // since storage does not have the reply yet.
    const forget = () => {
      if (this.inflight.get(requestId) === p) this.inflight.delete(requestId);
    };
    p.then(
      () => this.committed().then(forget, forget),
      forget,
    );
    return p;
  }

  /**
   * The change that stores `result` as the reply to `rc`'s request. Called before the change's
   * effect is applied: a reply that cannot be packed, or is over `maxReplyBytes`, throws (the latter
   * MESSAGE_TOO_LARGE), and then nothing is applied or stored. A reply over the limit could never
   * be sent whole, and its resends would get it again: a client was told "retry later" for ever.
   */
  replyChange(rc: ReplyCtx, result: unknown): Change {
    // Its size is read before it is copied out of msgpackr's buffer, and its parts' sizes measured
    // without packing them (`largestParts`): a refused 23 MB reply left ~117 MB of dead buffers (the
    // buffer grown to 4x, the copy, the parts packed again), which the ZeroMQ door counted against its
    // ceiling until the collector ran. Not measured before packing: a walk costs most of a pack, on
    // every ask and tell.
    const packed = packReply(rc.op, result, this.maxReplyBytes);
    if (typeof packed === "number") throw replyTooLarge(rc.op, result, packed, this.maxReplyBytes);
    const { reply, body } = packed;
    if (typeof result === "object" && result !== null) packedResults.set(result, body);
    return { kind: "put-reply", requestId: rc.requestId, op: rc.op, reply, at: this.now() };
  }

  /** Every request in flight (shutdown waits for them). */
  pending(): Promise<unknown>[] {
    return [...this.inflight.values()];
  }
}
