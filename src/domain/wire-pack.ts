/**
 * The wire's MessagePack profile (string keys, no msgpackr records or extensions, maps sized to
 * their keys, undefined as nil), shared by the ZeroMQ codec and the stored replies
 * (service/idempotency.ts): a mutation's result is packed once, for its stored reply, and the
 * transport sends those bytes, so both must pack alike.
 */
import type { Options } from "msgpackr";

/**
 * `useToJSON: false`: msgpackr calls a value's `toJSON` when its `constructor` is not Object, so a
 * client's user attributes `{constructor: "resnet", toJSON: "yes"}` (keys of its data, which Python
 * sends as any others) made every reply holding them throw "toJSON is not a function": the change
 * was answered INTERNAL. Replies are plain data; nothing in them has a toJSON to call.
 */
export const WIRE_PACK_OPTIONS: Options = { useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true, useToJSON: false };

/**
 * A map whose last value is already packed: `withNil` is the map packed with nil as its last value,
 * `value` that value's bytes. The nil is dropped and `value` put in its place, in a new buffer
 * (`alloc`, default `Buffer.allocUnsafe`).
 */
export function withLastValue(withNil: Uint8Array, value: Uint8Array, alloc: (n: number) => Buffer = Buffer.allocUnsafe): Buffer {
  const head = withNil.byteLength - 1;
  const out = alloc(head + value.byteLength);
  out.set(withNil.subarray(0, head), 0);
  out.set(value, head);
  return out;
}
