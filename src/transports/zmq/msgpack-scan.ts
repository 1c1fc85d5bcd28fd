/**
 * A byte-level pass over a MessagePack frame before it is decoded
 * ([MessagePack spec](https://github.com/msgpack/msgpack/blob/master/spec.md), "Formats").
 *
 * msgpackr decodes invalid UTF-8 in a `str` to U+FFFD without complaint, so two different
 * byte strings can arrive as one value; it also recurses on nesting. `scanFrame` walks the
 * frame once, iteratively, and reports the first of:
 *  - `malformed`: a reserved byte (0xc1), a length that runs past the end, trailing bytes;
 *  - `too-deep`: maps/arrays nested deeper than the limit (the top-level value is level 1);
 *  - `invalid-utf8`: a `str` (map keys included) whose bytes are not UTF-8;
 *  - `forbidden-key`: a map key `__proto__`, which msgpackr would decode as `__proto_`;
 *  - `non-string-key`: a map key that is not a `str` (msgpackr would turn 1 and "1" into one key);
 *  - `duplicate-key`: a map holding one key twice (same bytes), which msgpackr would decode as
 *    the last of them, so a request `{value: 1, value: 2}` told 2 and dropped 1 without a word
 *    (`lastDuplicateKey` then gives the key);
 *  - `extension`: an ext value (timestamps included), which the protocol has no use for and
 *    msgpackr would decode to objects such as a Date that no reply may carry;
 *  - `unsafe-integer`: an int 64 or uint 64 beyond ±(2^53 − 1), which msgpackr would round to the
 *    nearest double;
 *  - `too-many-containers`: more maps and arrays (empty ones included) than
 *    `maxContainers(frame.byteLength)` (domain/input-limits.ts): a byte `[]` decodes to 40 bytes of heap.
 * ASCII strings are checked in the loop; others by `buffer.isUtf8` (native, no copy).
 *
 * `integralDoublesAsInts` is the one pass on the way out: it rewrites integral doubles as ints.
 *
 * `peekRequestId` reads the `id` of a request map without decoding the rest, for replies to
 * frames that are refused before decoding (too large, too many in flight, bad UTF-8).
 */
import { isUtf8 } from "node:buffer";
import { maxContainers } from "../../domain/input-limits.js";

export type ScanProblem = "malformed" | "too-deep" | "invalid-utf8" | "forbidden-key" | "non-string-key" | "duplicate-key" | "extension" | "unsafe-integer" | "too-many-containers";

/** The map key `__proto__` (domain/input-limits.ts FORBIDDEN_KEY), which msgpackr decodes as `__proto_`. */
const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f];

function isProto(buf: Uint8Array, start: number, length: number): boolean {
  if (length !== 9) return false;
  for (let i = 0; i < 9; i++) if (buf[start + i] !== PROTO[i]) return false;
  return true;
}

/** Bytes of the length (or value) that follows a first byte, for the fixed-size formats. */
function fixedSize(b: number): number {
  switch (b) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return 0;
    case 0xcc:
    case 0xd0:
      return 1;
    case 0xcd:
    case 0xd1:
      return 2;
    case 0xca:
    case 0xce:
    case 0xd2:
      return 4;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return 8;
    case 0xd4:
      return 2;
    case 0xd5:
      return 3;
    case 0xd6:
      return 5;
    case 0xd7:
      return 9;
    case 0xd8:
      return 17;
    default:
      return -1;
  }
}

// The head of the value last read by `readHead`, in module state so that the walk allocates
// nothing per value (it runs on every request).
// (typed number, not literals: the compiler cannot see readHead change hKind between tests)
const SCALAR: number = 0;
const STR: number = 1;
const BIN: number = 2;
const ARRAY: number = 3;
const MAP: number = 4;
const EXT: number = 5;
/** What the value is (SCALAR … MAP). */
let hKind = SCALAR;
/** str/bin/ext: payload start. */
let hStart = 0;
/** str/bin/ext: payload length; array: element count; map: entry count. */
let hLength = 0;
/** Offset just after the head (for scalars, str, bin and ext: after the whole value). */
let hNext = 0;

function readUint(buf: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + (buf[at + i] as number);
  return v;
}

/** A value whose length (of `lenBytes`) follows the first byte, then `extra` bytes, then its payload. */
function sized(buf: Uint8Array, at: number, kind: number, lenBytes: number, extra: number): boolean {
  if (at + lenBytes > buf.byteLength) return false;
  hKind = kind;
  hLength = readUint(buf, at, lenBytes);
  hStart = at + lenBytes + extra;
  if (kind === ARRAY || kind === MAP) {
    hNext = hStart;
    return true;
  }
  hNext = hStart + hLength;
  return hNext <= buf.byteLength;
}

/** Reads the head of the value at `pos` into the h* variables; false when the frame ends inside it or the byte is reserved. */
function readHead(buf: Uint8Array, pos: number): boolean {
  if (pos >= buf.byteLength) return false;
  const b = buf[pos] as number;
  const at = pos + 1;
  if (b <= 0x7f || b >= 0xe0) {
    hKind = SCALAR;
    hNext = at;
    return true;
  }
  if (b <= 0x9f) {
    hKind = b <= 0x8f ? MAP : ARRAY;
    hLength = b & 0x0f;
    hStart = hNext = at;
    return true;
  }
  if (b <= 0xbf) {
    hKind = STR;
    hLength = b & 0x1f;
    hStart = at;
    hNext = at + hLength;
    return hNext <= buf.byteLength;
  }
  switch (b) {
    case 0xc4:
      return sized(buf, at, BIN, 1, 0);
    case 0xc5:
      return sized(buf, at, BIN, 2, 0);
    case 0xc6:
      return sized(buf, at, BIN, 4, 0);
    case 0xc7:
      return sized(buf, at, EXT, 1, 1); // ext 8: length, type, data
    case 0xc8:
      return sized(buf, at, EXT, 2, 1);
    case 0xc9:
      return sized(buf, at, EXT, 4, 1);
    case 0xd9:
      return sized(buf, at, STR, 1, 0);
    case 0xda:
      return sized(buf, at, STR, 2, 0);
    case 0xdb:
      return sized(buf, at, STR, 4, 0);
    case 0xdc:
      return sized(buf, at, ARRAY, 2, 0);
    case 0xdd:
      return sized(buf, at, ARRAY, 4, 0);
    case 0xde:
      return sized(buf, at, MAP, 2, 0);
    case 0xdf:
      return sized(buf, at, MAP, 4, 0);
  }
  const n = fixedSize(b);
  if (n < 0 || at + n > buf.byteLength) return false; // 0xc1 is never used
  hKind = b >= 0xd4 && b <= 0xd8 ? EXT : SCALAR; // fixext 1..16
  hNext = at + n;
  return true;
}

/** Whether the 8-byte integer at `at` (uint 64, or int 64 when `signed`) is a safe JavaScript integer. */
function safeInt64(buf: Uint8Array, at: number, signed: boolean): boolean {
  const high = readUint(buf, at, 4);
  if (!signed || high < 0x80000000) return high <= 0x1fffff; // 2^53 − 1 = 0x1fffff_ffffffff
  // Negative: raw = 2^64 + v, and v ≥ −(2^53 − 1) when raw ≥ 0xffe00000_00000001.
  return high > 0xffe00000 || (high === 0xffe00000 && readUint(buf, at + 4, 4) >= 1);
}

function utf8Ok(buf: Uint8Array, start: number, length: number): boolean {
  const stop = start + length;
  for (let i = start; i < stop; i++) if ((buf[i] as number) >= 0x80) return isUtf8(buf.subarray(i, stop));
  return true;
}

/** Element counts still to read per open container, reused across calls (grown on demand). */
let remaining = new Float64Array(64);
/** 1 where the open container is a map: its values at an even count still to read are keys. */
let isMap = new Uint8Array(64);

/**
 * The keys read so far of each open map, to find one read twice. A map of up to SMALL_MAP entries
 * (every request envelope, most params and attrs) keeps its keys' offsets and lengths on a stack
 * shared by the open maps (an inner map's keys sit above its outer map's and are dropped when it
 * closes) and compares bytes with each of them. A larger one keeps a table from a hash of each key
 * (FNV-1a, 32 bits) to the first key with that hash, so that a map of 100,000 keys costs 100,000
 * look-ups, not 5·10^9 comparisons; keys that share a hash but differ go to a Set of strings.
 */
const SMALL_MAP = 16;
let keyStart = new Int32Array(64 * SMALL_MAP);
let keyLength = new Int32Array(64 * SMALL_MAP);
/** Keys on the stack (the top). */
let keyTop = 0;
/** Per open map: where its keys start on the stack, or -1 for a map over SMALL_MAP entries. */
let keyBase = new Int32Array(64);
/** Per open map over SMALL_MAP entries: key hash → the first such key's str head offset. */
let keyTables: (Map<number, number> | undefined)[] = [];
/** Per open map over SMALL_MAP entries: keys whose hash an other key had first. */
let keyCollisions: (Set<string> | undefined)[] = [];
/** Whether this scan made a table (dropped after it: a large map's keys may be megabytes). */
let keyTablesMade = false;
/** The key of the last `duplicate-key`. */
let duplicate = "";
const utf8 = new TextDecoder();

/** The key a `duplicate-key` problem found twice (of the last scan that found one). */
export function lastDuplicateKey(): string {
  return duplicate;
}

function sameBytes(buf: Uint8Array, a: number, b: number, length: number): boolean {
  let i = 0;
  while (i < length && buf[a + i] === buf[b + i]) i++;
  return i === length;
}

/**
 * Whether the key whose str head is at `head` (payload at `start`, valid UTF-8) was already read in
 * the map open at `level`; records it otherwise, and sets `duplicate` when it was.
 */
function seenKey(buf: Uint8Array, head: number, start: number, length: number, level: number): boolean {
  const base = keyBase[level] as number;
  if (base < 0) return seenKeyHashed(buf, head, start, length, level);
  for (let k = base; k < keyTop; k++) {
    if (keyLength[k] === length && sameBytes(buf, keyStart[k] as number, start, length)) {
      duplicate = utf8.decode(buf.subarray(start, start + length));
      return true;
    }
  }
  keyStart[keyTop] = start;
  keyLength[keyTop++] = length;
  return false;
}

/** `seenKey` for a map over SMALL_MAP entries. */
function seenKeyHashed(buf: Uint8Array, head: number, start: number, length: number, level: number): boolean {
  let hash = 0x811c9dc5;
  for (let i = start; i < start + length; i++) hash = Math.imul(hash ^ (buf[i] as number), 0x01000193);
  const table = keyTables[level] as Map<number, number>;
  const first = table.get(hash);
  if (first === undefined) return void table.set(hash, head), false;
  if (strLength(buf, first) === length && sameBytes(buf, strPayload(buf, first), start, length)) {
    duplicate = utf8.decode(buf.subarray(start, start + length));
    return true;
  }
  const key = utf8.decode(buf.subarray(start, start + length)); // UTF-8 is checked: one string per byte sequence
  let others = keyCollisions[level];
  if (others === undefined) keyCollisions[level] = others = new Set();
  if (!others.has(key)) return void others.add(key), false;
  duplicate = key;
  return true;
}

/** The offset of the payload of the str whose head is at `at`, in a frame already checked. */
function strPayload(buf: Uint8Array, at: number): number {
  const b = buf[at] as number;
  return b <= 0xbf ? at + 1 : b === 0xd9 ? at + 2 : b === 0xda ? at + 3 : at + 5;
}

/** The length of the str whose head is at `at`, in a frame already checked. */
function strLength(buf: Uint8Array, at: number): number {
  const b = buf[at] as number;
  return b <= 0xbf ? b & 0x1f : readUint(buf, at + 1, b === 0xd9 ? 1 : b === 0xda ? 2 : 4);
}

/** The first problem of `frame` (see the file comment), or null when it is one well-formed value. */
export function scanFrame(frame: Uint8Array, maxNesting: number): ScanProblem | null {
  const problem = scan(frame, maxNesting);
  if (keyTablesMade) {
    keyTables = [];
    keyCollisions = [];
    keyTablesMade = false;
  }
  return problem;
}

function scan(frame: Uint8Array, maxNesting: number): ScanProblem | null {
  if (remaining.length < maxNesting + 1) {
    remaining = new Float64Array(maxNesting + 1);
    isMap = new Uint8Array(maxNesting + 1);
    keyBase = new Int32Array(maxNesting + 1);
    keyStart = new Int32Array((maxNesting + 1) * SMALL_MAP);
    keyLength = new Int32Array((maxNesting + 1) * SMALL_MAP);
  }
  keyTop = 0;
  const end = frame.byteLength;
  let containers = maxContainers(end); // still allowed
  let open = 0; // containers open; remaining[open - 1] is the innermost one's count
  let pos = 0;
  for (;;) {
    const b = frame[pos] as number;
    if (pos < end && b <= 0x7f) {
      if (open > 0 && isMap[open - 1] === 1 && (remaining[open - 1] as number) % 2 === 0) return "non-string-key";
      pos++; // positive fixint, the commonest value: no head to read
    } else if (pos < end && b >= 0xa0 && b <= 0xbf) {
      const len = b & 0x1f; // fixstr
      if (pos + 1 + len > end || !utf8Ok(frame, pos + 1, len)) return pos + 1 + len > end ? "malformed" : "invalid-utf8";
      if (open > 0 && isMap[open - 1] === 1 && (remaining[open - 1] as number) % 2 === 0) {
        if (len === 9 && isProto(frame, pos + 1, len)) return "forbidden-key";
        if (seenKey(frame, pos, pos + 1, len, open - 1)) return "duplicate-key";
      }
      pos += 1 + len;
    } else {
      const head = pos;
      if (!readHead(frame, pos)) return "malformed";
      if (hKind === EXT) return "extension";
      if ((b === 0xcf || b === 0xd3) && !safeInt64(frame, pos + 1, b === 0xd3)) return "unsafe-integer";
      if (hKind !== STR && open > 0 && isMap[open - 1] === 1 && (remaining[open - 1] as number) % 2 === 0) return "non-string-key";
      pos = hNext;
      if (hKind === STR && !utf8Ok(frame, hStart, hLength)) return "invalid-utf8";
      if (hKind === STR && open > 0 && isMap[open - 1] === 1 && (remaining[open - 1] as number) % 2 === 0) {
        if (isProto(frame, hStart, hLength)) return "forbidden-key";
        if (seenKey(frame, head, hStart, hLength, open - 1)) return "duplicate-key";
      }
      if (hKind === ARRAY || hKind === MAP) {
        if (open >= maxNesting) return "too-deep";
        if (--containers < 0) return "too-many-containers";
        if (hLength > 0) {
          // Every element takes at least one byte: a count beyond the bytes left is a lie.
          const values = hKind === MAP ? hLength * 2 : hLength;
          if (values > end - pos) return "malformed";
          isMap[open] = hKind === MAP ? 1 : 0;
          if (hKind === MAP) {
            if (hLength <= SMALL_MAP) keyBase[open] = keyTop;
            else {
              keyBase[open] = -1;
              keyTables[open] = new Map();
              keyCollisions[open] = undefined;
              keyTablesMade = true;
            }
          }
          remaining[open++] = values;
          continue;
        }
      }
    }
    // One value finished: close every container it completes (a map drops its keys).
    while (open > 0 && remaining[open - 1] === 1) {
      open--;
      if (isMap[open] === 1 && (keyBase[open] as number) >= 0) keyTop = keyBase[open] as number;
    }
    if (open === 0) break;
    remaining[open - 1] = (remaining[open - 1] as number) - 1;
  }
  return pos === end ? null : "malformed";
}

/** 2^32, to split a safe integer into the two 32-bit halves of an int 64. */
const TWO_32 = 0x1_0000_0000;

/**
 * Rewrites, in place, every float 64 of a well-formed frame that holds a safe integer as an int 64
 * (uint 64 when positive), and returns the frame. msgpackr writes a JavaScript number as an int
 * only up to 32 bits and as a float 64 beyond, so Python read a user attribute `2**40` back as
 * `1099511627776.0` while `2**31` stayed an int; JavaScript keeps no difference between 2 and
 * 2.0, and every smaller integral number already left as an int. Both formats take 9 bytes, so
 * nothing moves.
 *
 * The frame is walked head by head in byte order (a container's elements follow its head). A
 * small one, most replies, is first searched natively for a byte 0xcb followed by the bytes of
 * such an integer and walked only on a hit (a double, or by chance bytes inside a string). A
 * large one, a page of trials with thousands of doubles, is walked at once: a native call per
 * double cost more than the walk (about 0.3 ms for a 400 KiB page, an eighth of its packing).
 */
export function integralDoublesAsInts(frame: Buffer): Buffer {
  if (frame.byteLength > SEARCHED_BYTES) rewriteIntegralDoubles(frame, 0);
  else {
    const first = firstIntegralDouble(frame);
    if (first >= 0) rewriteIntegralDoubles(frame, first);
  }
  return frame;
}

/** Frames up to this size are searched before they are walked. */
const SEARCHED_BYTES = 1024;

/**
 * Whether the 0xcb at `at` is followed by a safe integer of 17 to 53 bits, a range that holds
 * every integral double msgpackr writes (2^31 and beyond): the first byte of such a double is its
 * sign and the high bits of its exponent, 0x41 to 0x43 (0xc1 to 0xc3), so most fractions are
 * passed over unread.
 */
function integralDoubleAt(frame: Buffer, at: number): boolean {
  const top = (frame[at + 1] as number) & 0x7f;
  return top >= 0x41 && top <= 0x43 && Number.isSafeInteger(frame.readDoubleBE(at + 1));
}

/** The first byte 0xcb followed by the bytes of such an integer, or -1. */
function firstIntegralDouble(frame: Buffer): number {
  const last = frame.byteLength - 9;
  for (let at = frame.indexOf(0xcb); at >= 0 && at <= last; at = frame.indexOf(0xcb, at + 1)) if (integralDoubleAt(frame, at)) return at;
  return -1;
}

/** The walk of `integralDoublesAsInts`, over every head of `frame`; none before `first` needs a change. */
function rewriteIntegralDoubles(frame: Buffer, first: number): void {
  const end = frame.byteLength;
  let pos = 0;
  while (pos < end) {
    const b = frame[pos] as number;
    // The commonest heads inline (a call to readHead per value made the walk cost more than the
    // packing): fixint, fixmap and fixarray heads, nil and booleans; fixstr; float 64.
    if (b <= 0x9f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) pos++;
    else if (b <= 0xbf) pos += 1 + (b & 0x1f);
    else if (b === 0xcb) {
      if (pos >= first && pos + 9 <= end && integralDoubleAt(frame, pos)) {
        const value = frame.readDoubleBE(pos + 1);
        const high = Math.floor(value / TWO_32);
        frame[pos] = value < 0 ? 0xd3 : 0xcf;
        frame.writeInt32BE(high, pos + 1);
        frame.writeUInt32BE(value - high * TWO_32, pos + 5);
      }
      pos += 9;
    } else if (readHead(frame, pos)) pos = hNext; // a str, bin or ext whole (its payload may hold 0xcb); of a container, its head
    else return;
  }
}

const ID_KEY = [0x69, 0x64]; // "id"
const OP_KEY = [0x6f, 0x70]; // "op"
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The `id` of a request frame when it can be read cheaply: the frame starts with a map whose
 * `id` key holds a UTF-8 string of 1 to 128 characters, found within `budget` values of the
 * start. Otherwise null. Never throws, never decodes more than it skips over.
 */
export function peekRequestId(frame: Uint8Array, budget = 10_000): string | null {
  const id = peekString(frame, ID_KEY, budget);
  return id !== null && id.length <= 128 && !id.includes("\u0000") ? id : null;
}

/** The `op` of a request frame when it can be read cheaply (as `peekRequestId`'s id), else null. */
export function peekOp(frame: Uint8Array, budget = 10_000): string | null {
  return peekString(frame, OP_KEY, budget);
}

/** The non-empty UTF-8 string under the first two-byte `key` of the map `frame` starts with, within `budget` values; else null. */
function peekString(frame: Uint8Array, key: readonly number[], budget: number): string | null {
  if (!readHead(frame, 0) || hKind !== MAP) return null;
  const entries = hLength;
  let pos = hNext;
  let steps = 0;
  for (let entry = 0; entry < entries; entry++) {
    if (!readHead(frame, pos)) return null;
    if (hKind === ARRAY || hKind === MAP) return null; // container keys: not a request envelope
    const isKey = hKind === STR && hLength === 2 && frame[hStart] === key[0] && frame[hStart + 1] === key[1];
    pos = hNext;
    if (isKey) {
      if (!readHead(frame, pos) || hKind !== STR || hLength === 0) return null;
      try {
        return fatalUtf8.decode(frame.subarray(hStart, hStart + hLength));
      } catch {
        return null;
      }
    }
    // Skip the value, containers included, within the budget.
    let pending = 1;
    while (pending > 0) {
      if (++steps > budget || !readHead(frame, pos)) return null;
      pos = hNext;
      pending--;
      if (hKind === ARRAY) pending += hLength;
      else if (hKind === MAP) pending += hLength * 2;
    }
  }
  return null;
}
