import { describe, expect, it } from "vitest";
import { decode, encode, encodeAlone } from "./codec.js";

describe("encode", () => {
  it("gives a big message a buffer of its own, and the messages after it a small chunk", () => {
    const small = { v: 1, id: "a", ok: true, result: { number: 3 } };
    expect(encode(small).buffer.byteLength).toBeLessThanOrEqual(256 * 1024);
    const big = { v: 1, id: "b", ok: true, result: { blob: "x".repeat(3 * 1024 * 1024) } };
    const bigBytes = encode(big);
    // ZeroMQ sends without copying: a reply waiting for its client holds its whole ArrayBuffer.
    expect(bigBytes.buffer.byteLength).toBe(bigBytes.byteLength);
    for (let i = 0; i < 3; i++) expect(encode(small).buffer.byteLength).toBeLessThanOrEqual(256 * 1024);
    expect(decode(bigBytes)).toEqual(big);
    expect(decode(encode(small))).toEqual(small);
  });

  it("keeps earlier messages intact when it starts a new chunk", () => {
    const before = encode({ id: "kept", n: [1, 2, 3] });
    encode({ blob: "y".repeat(2 * 1024 * 1024) });
    const after = encode({ id: "next" });
    expect(decode(before)).toEqual({ id: "kept", n: [1, 2, 3] });
    expect(decode(after)).toEqual({ id: "next" });
  });

  it("encodeAlone gives even a small message a buffer of its own", () => {
    encode({ blob: "z".repeat(100_000) }); // msgpackr's chunk is fresh now, with room for more
    const alone = encodeAlone({ v: 1, id: "r", ok: false, error: { code: "UNAVAILABLE", message: "later" } });
    expect(alone.buffer.byteLength).toBe(alone.byteLength);
    expect(decode(alone)).toMatchObject({ id: "r", ok: false });
    expect(encode({ id: "s" }).buffer.byteLength).toBeGreaterThan(alone.byteLength); // a shared chunk, for contrast
  });
});
