/**
 * The exact size of a value packed in the wire's profile (wire-pack.ts), read without packing it:
 * a big read's reply over the ZeroMQ door's ceiling is refused before a buffer of its size is
 * allocated for it (transports/zmq/zmq-server.ts `reply`), and a refused change's largest parts are
 * named without packing each (service/idempotency.ts). Packing costs ~5x a reply's size in buffers
 * that are dead once it is refused (msgpackr grows its buffer 4x at a time and reserves 3 bytes a
 * character of a string), counted against the door's ceiling until the collector runs; a small
 * request can ask for a big read. A walk costs half what a pack does, so it is done only where
 * packing would grow msgpackr's buffer past a bound (codec.ts `encodeWithin`), and the replies of
 * changes (every ask and tell) are sized from their stored bytes.
 *
 * Mirrors msgpackr 2 (pack.js) with WIRE_PACK_OPTIONS for the values replies are made of: plain
 * objects (`Object.keys` order, every key a str, map heads sized to the count; one whose own key
 * "constructor" hides Object as well: the profile never calls a `toJSON`), arrays, strings
 * (UTF-8, a lone surrogate as U+FFFD: 3 bytes, heads sized to the bytes), numbers (ints of 32 bits
 * or less in their smallest form, fixints up to 127; every other number a float 64), booleans,
 * null and undefined (nil), and Buffers and Uint8Arrays (bin). Any other value (a Date, a Map, a
 * class instance, a bigint) is not measured: the caller packs it instead.
 * packed-size.test.ts checks every case against msgpackr's own bytes.
 */

/** What `packedSize` answers for a value it does not measure. */
export const UNMEASURED = -1;

/** The bytes of a MessagePack head (str, bin, array or map) for `n`, given its fix form's limit. */
function head(n: number, fixBelow: number): number {
  return n < fixBelow ? 1 : n < 0x10000 ? 3 : 5;
}

/** The UTF-8 bytes of `s` (a lone surrogate as U+FFFD's 3); short strings counted here, not by a call into C++. */
function utf8Bytes(s: string): number {
  const n = s.length;
  if (n > 64) return Buffer.byteLength(s, "utf8");
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if ((c & 0xfc00) === 0xd800 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a pair: 4 bytes for its 2 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

function numberSize(x: number): number {
  if (x >>> 0 === x) return x < 0x80 ? 1 : x < 0x100 ? 2 : x < 0x10000 ? 3 : 5;
  if (x >> 0 === x) return x >= -0x20 ? 1 : x >= -0x80 ? 2 : x >= -0x8000 ? 3 : 5;
  return 9;
}

/**
 * The bytes `value` packs to in the wire's profile, or UNMEASURED when it holds a value this does
 * not mirror (see above). Walks the whole value; allocates nothing beyond its stack. Never throws
 * for a value that has no cycles; recursion is as deep as the value's nesting (packing's is too).
 */
export function packedSize(value: unknown): number {
  switch (typeof value) {
    case "string": {
      const n = utf8Bytes(value);
      // str 8 exists (unlike bin, array and map 8): 2 bytes of head from 32 to 255.
      return n + (n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
    }
    case "number":
      return numberSize(value);
    case "boolean":
    case "undefined":
      return 1;
    case "object": {
      if (value === null) return 1;
      const ctor = (value as object).constructor;
      if (ctor === Array) {
        const a = value as unknown[];
        let total = head(a.length, 0x10);
        for (let i = 0; i < a.length; i++) {
          const n = packedSize(a[i]);
          if (n === UNMEASURED) return UNMEASURED;
          total += n;
        }
        return total;
      }
      // A plain object whose own key "constructor" (a client's user attribute, say) hides Object is
      // packed as a map too, by msgpackr's fallback (WIRE_PACK_OPTIONS' useToJSON: false: a key "toJSON" is data).
      if (ctor === Object || (ctor !== Map && Object.getPrototypeOf(value) === Object.prototype)) {
        const o = value as Record<string, unknown>;
        const keys = Object.keys(o);
        let total = head(keys.length, 0x10);
        for (const k of keys) {
          const n = packedSize(o[k]);
          if (n === UNMEASURED) return UNMEASURED;
          total += packedSize(k) + n;
        }
        return total;
      }
      if (ctor === Buffer || ctor === Uint8Array) {
        const n = (value as Uint8Array).byteLength;
        return n + (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
      }
      return UNMEASURED;
    }
    default:
      return UNMEASURED;
  }
}
