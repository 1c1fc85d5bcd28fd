/**
 * The wire's MessagePack profile (string keys, no msgpackr records or extensions, maps sized to
 * their keys, undefined as nil), shared by the ZeroMQ codec and the stored replies
 * (service/idempotency.ts): a mutation's result is packed once, for its stored reply, and the
 * transport sends those bytes, so both must pack alike.
 */
import type { Options } from "msgpackr";

export const WIRE_PACK_OPTIONS: Options = { useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true };

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
