/**
 * A byte-level pass over a MessagePack frame before it is decoded
 * ([MessagePack spec](https://github.com/msgpack/msgpack/blob/master/spec.md), "Formats").
 *
 * msgpackr decodes invalid UTF-8 in a `str` to U+FFFD without complaint, so two different
 * byte strings can arrive as one value; it also recurses on nesting. `scanFrame` walks the
 * frame once, iteratively, and reports the first of:
 *  - `malformed`: a reserved byte (0xc1), a length that runs past the end, trailing bytes;
 *  - `too-deep`: maps/arrays nested deeper than the limit (the top-level value is level 1);
 *  - `invalid-utf8`: a `str` (map keys included) whose bytes are not UTF-8.
 * ASCII strings are checked in the loop; others by `buffer.isUtf8` (native, no copy).
 *
 * `peekRequestId` reads the `id` of a request map without decoding the rest, for replies to
 * frames that are refused before decoding (too large, too many in flight, bad UTF-8).
 */
import { isUtf8 } from "node:buffer";

export type ScanProblem = "malformed" | "too-deep" | "invalid-utf8";

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

/** The head of one value: what it is and where its payload lies. */
interface Head {
  kind: "scalar" | "str" | "bin" | "array" | "map";
  /** For str/bin/ext: payload start; for array/map: element count; scalars: unused. */
  start: number;
  /** For str/bin/ext: payload length; for array/map: element count (entries for maps). */
  length: number;
  /** Offset just after the head (for scalars, str, bin and ext: after the whole value). */
  next: number;
}

function readUint(buf: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + (buf[at + i] as number);
  return v;
}

/** Parses the head of the value at `pos`, or returns null when the frame ends inside it or the byte is reserved. */
function readHead(buf: Uint8Array, pos: number): Head | null {
  const end = buf.byteLength;
  if (pos >= end) return null;
  const b = buf[pos] as number;
  const at = pos + 1;
  const sized = (kind: Head["kind"], lenBytes: number, extra = 0): Head | null => {
    if (at + lenBytes > end) return null;
    const length = readUint(buf, at, lenBytes);
    const start = at + lenBytes + extra;
    if (kind === "array" || kind === "map") return { kind, start, length, next: start };
    if (start + length > end) return null;
    return { kind, start, length, next: start + length };
  };
  if (b <= 0x7f || b >= 0xe0) return { kind: "scalar", start: at, length: 0, next: at };
  if (b <= 0x8f) return { kind: "map", start: at, length: b & 0x0f, next: at };
  if (b <= 0x9f) return { kind: "array", start: at, length: b & 0x0f, next: at };
  if (b <= 0xbf) {
    const length = b & 0x1f;
    return at + length > end ? null : { kind: "str", start: at, length, next: at + length };
  }
  switch (b) {
    case 0xc4:
      return sized("bin", 1);
    case 0xc5:
      return sized("bin", 2);
    case 0xc6:
      return sized("bin", 4);
    case 0xc7:
      return sized("scalar", 1, 1); // ext 8: length, type, data
    case 0xc8:
      return sized("scalar", 2, 1);
    case 0xc9:
      return sized("scalar", 4, 1);
    case 0xd9:
      return sized("str", 1);
    case 0xda:
      return sized("str", 2);
    case 0xdb:
      return sized("str", 4);
    case 0xdc:
      return sized("array", 2);
    case 0xdd:
      return sized("array", 4);
    case 0xde:
      return sized("map", 2);
    case 0xdf:
      return sized("map", 4);
  }
  const n = fixedSize(b);
  if (n < 0 || at + n > end) return null; // 0xc1 is never used
  return { kind: "scalar", start: at, length: 0, next: at + n };
}

function utf8Ok(buf: Uint8Array, start: number, length: number): boolean {
  const stop = start + length;
  for (let i = start; i < stop; i++) if ((buf[i] as number) >= 0x80) return isUtf8(buf.subarray(i, stop));
  return true;
}

/** The first problem of `frame` (see the file comment), or null when it is one well-formed value. */
export function scanFrame(frame: Uint8Array, maxNesting: number): ScanProblem | null {
  // remaining[i]: values still to read in the container at level i + 1
  const remaining: number[] = [];
  let pos = 0;
  let rootDone = false;
  while (!rootDone) {
    const h = readHead(frame, pos);
    if (h === null) return "malformed";
    pos = h.next;
    if (h.kind === "str" && !utf8Ok(frame, h.start, h.length)) return "invalid-utf8";
    if ((h.kind === "array" || h.kind === "map") && h.length > 0) {
      if (remaining.length + 1 > maxNesting) return "too-deep";
      // Every element takes at least one byte: a count beyond the bytes left is a lie.
      const values = h.kind === "map" ? h.length * 2 : h.length;
      if (values > frame.byteLength - pos) return "malformed";
      remaining.push(values);
      continue;
    }
    if ((h.kind === "array" || h.kind === "map") && remaining.length + 1 > maxNesting) return "too-deep";
    // One value finished: close every container it completes.
    for (;;) {
      const top = remaining.length - 1;
      if (top < 0) {
        rootDone = true;
        break;
      }
      const left = (remaining[top] as number) - 1;
      if (left > 0) {
        remaining[top] = left;
        break;
      }
      remaining.pop();
    }
  }
  return pos === frame.byteLength ? null : "malformed";
}

const ID_KEY = [0x69, 0x64]; // "id"
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The `id` of a request frame when it can be read cheaply: the frame starts with a map whose
 * `id` key holds a UTF-8 string of 1 to 128 characters, found within `budget` values of the
 * start. Otherwise null. Never throws, never decodes more than it skips over.
 */
export function peekRequestId(frame: Uint8Array, budget = 10_000): string | null {
  const top = readHead(frame, 0);
  if (top === null || top.kind !== "map") return null;
  let pos = top.next;
  let steps = 0;
  for (let entry = 0; entry < top.length; entry++) {
    const key = readHead(frame, pos);
    if (key === null) return null;
    const isId = key.kind === "str" && key.length === 2 && frame[key.start] === ID_KEY[0] && frame[key.start + 1] === ID_KEY[1];
    pos = key.kind === "array" || key.kind === "map" ? -1 : key.next;
    if (pos < 0) return null; // container keys: not a request envelope
    if (isId) {
      const v = readHead(frame, pos);
      if (v === null || v.kind !== "str" || v.length === 0) return null;
      try {
        const id = fatalUtf8.decode(frame.subarray(v.start, v.start + v.length));
        return id.length <= 128 ? id : null;
      } catch {
        return null;
      }
    }
    // Skip the value, containers included, within the budget.
    let pending = 1;
    while (pending > 0) {
      if (++steps > budget) return null;
      const h = readHead(frame, pos);
      if (h === null) return null;
      pos = h.next;
      pending--;
      if (h.kind === "array") pending += h.length;
      else if (h.kind === "map") pending += h.length * 2;
    }
  }
  return null;
}
