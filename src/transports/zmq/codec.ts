/**
 * MessagePack in the standard profile (string keys, no msgpackr records or extensions),
 * so Python's `msgpack` reads every byte we write and vice versa.
 */
import { Packr, Unpackr } from "msgpackr";
import { UNMEASURED, packedSize } from "../../domain/packed-size.js";
import { WIRE_PACK_OPTIONS, withLastValue } from "../../domain/wire-pack.js";
import { bufferBytes } from "./heap.js";
import { integralDoublesAsInts } from "./msgpack-scan.js";

const packr = new Packr(WIRE_PACK_OPTIONS);
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });

/**
 * msgpackr writes each message after the previous one in a shared chunk, grows the chunk to four
 * times a message that does not fit, and keeps it (up to 1 GiB). ZeroMQ sends without copying, so
 * a reply waiting for its client holds the whole chunk it sits in: after one 8 MiB page every
 * small reply pinned a 32 MiB chunk, and 400 pages a client did not read held 3.8 GB. A message
 * over this size (or in a chunk grown past four times it) is copied out to a buffer of its own, and
 * msgpackr starts a fresh small chunk, so a small message never holds a big chunk (nor a big
 * message refused and dropped, zmq-server.ts `withinMemory`).
 */
const CHUNK = 64 * 1024;
/** The chunk msgpackr starts after a big message (its own first chunk's size). */
const FRESH_CHUNK = 8 * 1024;

/**
 * Packs `value`; a number that is a safe integer goes as a MessagePack int whatever its size (see
 * `integralDoublesAsInts`), so `2**40` comes back to Python as an int, as `2**31` does.
 */
export function encode(value: unknown): Buffer {
  return encodeWithin(value, Number.POSITIVE_INFINITY) as Buffer;
}

/**
 * `encode(value)`, or the number of bytes it would take when that is over `maxBytes`, read in
 * msgpackr's buffer before anything is copied out of it (the buffer then replaced by a small one),
 * or null when packing it would have grown msgpackr's buffer past `growBytes` (nothing kept, the
 * buffer replaced by a small one): the caller measures it then (domain/packed-size.ts) before it
 * packs it. A reply is packed once, not walked and then packed (a walk costs half a pack), and a
 * reply far over the ceiling costs a buffer of `growBytes` at most, never one of its own size.
 */
export function encodeWithin(value: unknown, maxBytes: number, growBytes = Number.POSITIVE_INFINITY): Buffer | number | null {
  let out: Buffer | null;
  if (growBytes === Number.POSITIVE_INFINITY) {
    grownFrom = null;
    out = packr.pack(value);
  } else out = packGrowingTo(value, growBytes); // sets grownFrom
  if (out === null) return null;
  if (out.byteLength > maxBytes) {
    grownFrom = null;
    packr.useBuffer(Buffer.allocUnsafeSlow(FRESH_CHUNK));
    return out.byteLength;
  }
  integralDoublesAsInts(out);
  if (out.byteLength <= CHUNK && out.buffer.byteLength <= 4 * CHUNK) {
    grownFrom = null; // msgpackr goes on in the buffer it grew: not dead
    return out;
  }
  packr.useBuffer(Buffer.allocUnsafeSlow(FRESH_CHUNK));
  if (grownFrom !== null) grownFrom += FRESH_CHUNK;
  return own(out);
}

/** What `buffersBeforeGrowth` answers. */
let grownFrom: number | null = null;

/**
 * The process's buffers (heap.ts `bufferBytes`) just before msgpackr first grew its buffer for the
 * last `encodeWithin` call, and the small buffer it goes on in, where that call had a bound and gave
 * the value's bytes in a buffer of their own: every buffer msgpackr grew for it is dead then (garbage
 * until the collector runs), and these bytes and the copy's are what the buffers hold once it is
 * packed. Null for any other last call.
 */
export function buffersBeforeGrowth(): number | null {
  return grownFrom;
}

/** Thrown in place of msgpackr's allocation of a buffer past `packGrowingTo`'s bound; never leaves this module. */
const GROWN_PAST = new Error("msgpackr's buffer would grow past its bound");

/**
 * `packr.pack(value)`, or null where msgpackr would allocate a buffer over `growBytes` on the way
 * (its buffers come from `Buffer.allocUnsafeSlow`, looked up at each allocation; msgpackr has no
 * bound of its own below 4 GiB): the allocation is refused before it is made, and msgpackr starts
 * a small buffer of its own. `Buffer.allocUnsafeSlow` is itself again when this returns or throws;
 * packing is synchronous and runs no code of the value's (plain data, WIRE_PACK_OPTIONS).
 */
function packGrowingTo(value: unknown, growBytes: number): Buffer | null {
  const alloc = Buffer.allocUnsafeSlow;
  let before: number | null = null;
  Buffer.allocUnsafeSlow = (n: number) => {
    if (n > growBytes) throw GROWN_PAST;
    before ??= bufferBytes(); // reads V8's statistics; allocates no Buffer
    return alloc.call(Buffer, n);
  };
  grownFrom = null;
  try {
    const out = packr.pack(value);
    grownFrom = before;
    return out;
  } catch (err) {
    if (err !== GROWN_PAST) throw err;
    packr.useBuffer(alloc.call(Buffer, FRESH_CHUNK));
    return null;
  } finally {
    Buffer.allocUnsafeSlow = alloc;
  }
}

/** The bytes of `{v, id, ok: true, result: null}` but for those of its v, its id and its nil (one each here). */
const OK_HEAD_BYTES = packr.pack({ v: 0, id: 0, ok: true, result: null }).byteLength - 3;

/**
 * The bytes of `encodeOkReply(v, id, resultBytes)`, without making it: counted from the head's
 * fixed bytes and the sizes of `v` and `id` (packing the head to learn them cost a pack a change).
 */
export function okReplySize(v: unknown, id: unknown, resultBytes: Uint8Array): number {
  const vBytes = packedSize(v);
  const idBytes = packedSize(id);
  if (vBytes === UNMEASURED || idBytes === UNMEASURED) return packr.pack({ v, id, ok: true, result: null }).byteLength - 1 + resultBytes.byteLength;
  return OK_HEAD_BYTES + vBytes + idBytes + resultBytes.byteLength;
}

/**
 * The reply `{v, id, ok: true, result}` whose result is already packed (`resultBytes`, in this
 * codec's profile without the integer pass): the same bytes `encode` gives for it, without packing
 * the result again. The envelope is packed with a nil result, the nil dropped and the result's
 * bytes put in its place, in a buffer of its own; then the integer pass runs over the whole.
 */
export function encodeOkReply(v: unknown, id: unknown, resultBytes: Uint8Array): Buffer {
  const out = withLastValue(packr.pack({ v, id, ok: true, result: null }), resultBytes, (n) => (n > CHUNK ? Buffer.allocUnsafeSlow(n) : Buffer.allocUnsafe(n)));
  return integralDoublesAsInts(out);
}

/** A message in a buffer of its own, for one that may wait long in a queue whatever its size. */
export function encodeAlone(value: unknown): Buffer {
  return own(integralDoublesAsInts(packr.pack(value)));
}

function own(bytes: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength);
  bytes.copy(copy);
  return copy;
}

/** @throws on malformed input (the caller maps it to MALFORMED_MESSAGE). */
export function decode(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}
