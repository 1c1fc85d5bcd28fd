/**
 * MessagePack in the standard profile (string keys, no msgpackr records or extensions),
 * so Python's `msgpack` reads every byte we write and vice versa.
 */
import { Packr, Unpackr } from "msgpackr";

const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });

export function encode(value: unknown): Buffer {
  return packr.pack(value);
}

/** @throws on malformed input (the caller maps it to MALFORMED_MESSAGE). */
export function decode(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}
