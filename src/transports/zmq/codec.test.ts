import { describe, expect, it } from "vitest";
import { bufferAllocations } from "../../testing/allocations.js";
import { buffersBeforeGrowth, decode, encode, encodeAlone, encodeOkReply, encodeWithin, okReplySize } from "./codec.js";
import { bufferBytes, fullGc } from "./heap.js";

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

describe("encodeWithin (a reply under a ceiling)", () => {
  const big = { v: 1, id: "r", ok: true, result: { trial: { params: { c: "c".repeat(3_000_000) }, choices: ["c".repeat(3_000_000)] } } };

  it("reads the size of a reply over the ceiling in msgpackr's buffer: nothing copied out, and the buffer not kept", async () => {
    const size = encode(big).byteLength;
    const { sizes, value } = await bufferAllocations(() => encodeWithin(big, 1024 * 1024));
    expect(value).toBe(size);
    // msgpackr's buffer grown, then a small one in its place; never a buffer the reply's size (the copy, before).
    expect(sizes.length).toBeGreaterThan(0);
    expect(sizes).not.toContain(size);
    expect(sizes.at(-1)).toBeLessThanOrEqual(64 * 1024);
    expect(encode({ id: "next" }).buffer.byteLength).toBeLessThanOrEqual(256 * 1024);
    expect((encodeWithin(big, size) as Buffer).equals(encode(big))).toBe(true);
  });
});

describe("encodeWithin with a bound on msgpackr's buffer (a reply packed before it is measured)", () => {
  const MiB = 1024 * 1024;
  const page = (n: number) => ({ v: 1, id: "p", ok: true, result: { trials: Array.from({ length: n }, (_, i) => ({ number: i, params: { x: i / 7, c: "é".repeat(i % 40) }, value: i * 2 ** 33 })) } });
  /** msgpackr's buffer replaced by a fresh small one (a big message does it), so each pack starts alike. */
  const fresh = () => encodeWithin({ blob: "f".repeat(300_000) }, 0);

  it("packs a value whose buffers stay within the bound, the same bytes as encode; null at one byte less, nothing over the bound allocated", async () => {
    const value = page(2_000);
    fresh();
    const unbounded = await bufferAllocations(() => encodeWithin(value, Number.POSITIVE_INFINITY));
    const largest = Math.max(...unbounded.sizes);
    expect(largest).toBeGreaterThan(64 * 1024); // msgpackr grew its buffer for it
    fresh();
    const within = await bufferAllocations(() => encodeWithin(value, Number.POSITIVE_INFINITY, largest));
    expect((within.value as Buffer).equals(encode(value))).toBe(true);
    fresh();
    const over = await bufferAllocations(() => encodeWithin(value, Number.POSITIVE_INFINITY, largest - 1));
    expect(over.value).toBeNull();
    expect(Math.max(...over.sizes)).toBeLessThan(largest); // the buffer past the bound was never made
    // msgpackr goes on in a small buffer, and the messages packed before stay intact.
    const before = encode({ id: "kept" });
    expect(encodeWithin(value, Number.POSITIVE_INFINITY, 64 * 1024)).toBeNull();
    expect(encode({ id: "next" }).buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
    expect(decode(before)).toEqual({ id: "kept" });
  });

  it("drops the buffer msgpackr grew up to the bound before it tripped: it is not kept for the next messages", async () => {
    const gc = fullGc() as () => void; // a full collection, its sweeping finished (heap.ts)
    const value = page(60_000);
    fresh();
    gc();
    const before = bufferBytes();
    const { sizes, value: got } = await bufferAllocations(() => encodeWithin(value, Number.POSITIVE_INFINITY, 4 * MiB));
    expect(got).toBeNull();
    expect(Math.max(...sizes)).toBeGreaterThan(MiB); // grown past 1 MiB, then tripped
    gc();
    // Before: msgpackr went on in that buffer (kept until a later big message replaced it).
    expect(bufferBytes() - before).toBeLessThan(MiB);
  });

  it("refuses a value far over the bound at the first buffer past it: none of its size", async () => {
    const big = { v: 1, id: "r", ok: true, result: { blob: "c".repeat(5 * MiB) } };
    const { sizes, value } = await bufferAllocations(() => encodeWithin(big, 4 * MiB, MiB));
    expect(value).toBeNull();
    // Before (packed whole, then measured): msgpackr's buffer grown to 4x the reply, ~20 MiB.
    expect(sizes.filter((n) => n > MiB)).toEqual([]);
  });

  it("gives a reply that just fits the ceiling its bytes, and one byte over its size", () => {
    const value = page(300);
    const size = encode(value).byteLength;
    expect((encodeWithin(value, size, 64 * MiB) as Buffer).equals(encode(value))).toBe(true);
    expect(encodeWithin(value, size - 1, 64 * MiB)).toBe(size);
  });

  it("tells the buffers' bytes before msgpackr grew its buffer for a value it copied out, and nothing after any other pack", () => {
    const value = page(2_000);
    fresh();
    const before = bufferBytes();
    expect((encodeWithin(value, Number.POSITIVE_INFINITY, 64 * MiB) as Buffer).byteLength).toBeGreaterThan(64 * 1024);
    // Those bytes and msgpackr's fresh 8 KiB buffer: the copy comes on top, the buffers it grew are dead.
    expect(buffersBeforeGrowth()).toBeGreaterThan(before - MiB);
    expect(buffersBeforeGrowth()).toBeLessThanOrEqual(before + 8 * 1024);
    const nulls = [
      () => encodeWithin(value, Number.POSITIVE_INFINITY), // no bound
      () => encodeWithin({ blob: "k".repeat(3_000) }, Number.POSITIVE_INFINITY, MiB), // grown, and kept in msgpackr's buffer
      () => encodeWithin(value, Number.POSITIVE_INFINITY, 16 * 1024), // past the bound
      () => encodeWithin(value, 1000, 64 * MiB), // over the ceiling, its size alone
    ];
    for (const [i, f] of nulls.entries()) {
      fresh();
      encodeWithin(value, Number.POSITIVE_INFINITY, 64 * MiB);
      f();
      expect([i, buffersBeforeGrowth()]).toEqual([i, null]);
    }
  });

  it("leaves Buffer.allocUnsafeSlow as it found it, whether the value packs, trips the bound or cannot be packed", () => {
    const alloc = Buffer.allocUnsafeSlow;
    encodeWithin(page(10), Number.POSITIVE_INFINITY, MiB);
    expect(encodeWithin(page(5_000), Number.POSITIVE_INFINITY, 64 * 1024)).toBeNull();
    expect(() => encodeWithin({ n: Symbol("s") }, Number.POSITIVE_INFINITY, MiB)).toThrow(/symbol/);
    expect(Buffer.allocUnsafeSlow).toBe(alloc);
    expect(decode(encode(page(3)))).toEqual(page(3));
  });
});

describe("integers", () => {
  const hex = (value: unknown): string => encode(value).toString("hex");

  it("sends a safe integer beyond 32 bits as an int 64, not a float 64 (Python read 2**40 back as a float)", () => {
    expect(hex(2 ** 40)).toBe("cf0000010000000000");
    expect(hex(-(2 ** 40))).toBe("d3ffffff0000000000");
    expect(hex(2 ** 32)).toBe("cf0000000100000000");
    expect(hex(-(2 ** 31) - 1)).toBe("d3ffffffff7fffffff");
    expect(hex(Number.MAX_SAFE_INTEGER)).toBe("cf001fffffffffffff");
    expect(hex(Number.MIN_SAFE_INTEGER)).toBe("d3ffe0000000000001");
    expect(encodeAlone(2 ** 40).toString("hex")).toBe("cf0000010000000000");
  });

  it("keeps fractions and unsafe integers as float 64, leaves -0 as msgpackr writes it (the int 0), and skips the payload of a str or bin", () => {
    expect(hex(1.5)).toBe("cb3ff8000000000000");
    expect(hex(2 ** 53)).toBe("cb4340000000000000");
    expect(hex(-0)).toBe("00");
    const bin = Buffer.from([0xcb, 0x42, 0x70, 0, 0, 0, 0, 0, 0]); // the bytes of the double 2^40
    const message = { id: "a", bin, nested: [{ n: 2 ** 45, f: 0.25 }, -(2 ** 50), "ˋ"], big: 1e300 };
    const bytes = encode(message);
    expect(bytes.includes(bin)).toBe(true);
    expect(decode(bytes)).toEqual(message);
  });

  it("does the same in a large frame, which it walks without searching it first", () => {
    const decoy = Buffer.from([0xcb, 0x43, 0x30, 0, 0, 0, 0, 0, 0]); // the double 2^52 + 2^48
    const message = { pad: "p".repeat(2000), decoy, text: "ˋC0", values: [0.5, 2 ** 40, 1795768615.705, -(2 ** 52)] };
    const bytes = encode(message);
    expect(bytes.byteLength).toBeGreaterThan(2000);
    expect(bytes.includes(decoy)).toBe(true);
    expect(bytes.includes(Buffer.from("cf0000010000000000", "hex"))).toBe(true);
    expect(bytes.includes(Buffer.from("d3fff0000000000000", "hex"))).toBe(true);
    expect(decode(bytes)).toEqual(message);
  });
});

describe("encodeOkReply (a result packed once, for its stored reply and the wire)", () => {
  const results: unknown[] = [
    { trial: { number: 3, params: { x: 0.25, n: 2 ** 40, big: 2 ** 31, neg: -(2 ** 35) }, values: [0.5, 1e300], user_attrs: {}, gone: undefined } },
    { lease: { token: "t", expires_at: 1796494486.157, ttl_s: 30 }, budget: null, start: { rung: null, restore: null } },
    { wide: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i * 2 ** 33])) },
    { blob: "x".repeat(100_000), n: 2 ** 45 },
    [1, 2 ** 50, "s", null, true, { a: [] }],
  ];

  it("gives the bytes encode gives for {v, id, ok: true, result}", async () => {
    const { Packr } = await import("msgpackr");
    // The stored reply's profile (service/idempotency.ts): this codec's, without the integer pass.
    const stored = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
    for (const [i, result] of results.entries()) {
      const id = `req-${i}-${"z".repeat(i * 20)}`;
      const want = encode({ v: 1, id, ok: true, result });
      const got = encodeOkReply(1, id, Buffer.from(stored.pack(result)));
      expect(got.toString("hex"), String(i)).toBe(want.toString("hex"));
      expect(okReplySize(1, id, Buffer.from(stored.pack(result))), String(i)).toBe(got.byteLength);
    }
  });

  it("counts the reply's bytes for ids and versions of every kind, those it does not measure included", async () => {
    const { Packr } = await import("msgpackr");
    const stored = Buffer.from(new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true }).pack({ n: 2 ** 40, s: "x" }));
    const ids: unknown[] = [null, 0, 127, 128, -33, 2 ** 40, 0.5, "", "a".repeat(31), "a".repeat(32), "é".repeat(200), "€".repeat(30_000), ["a", 1], { k: "v" }, Buffer.from("ab"), new Map([["k", 1]])];
    for (const [i, id] of ids.entries()) for (const v of [1, 2 ** 31, "1"]) expect([i, v, okReplySize(v, id, stored)]).toEqual([i, v, encodeOkReply(v, id, stored).byteLength]);
  });

  it("never rewrites the packed result it was given (the stored reply)", async () => {
    const { Packr } = await import("msgpackr");
    const stored = Buffer.from(new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true }).pack({ n: 2 ** 40 }));
    const copy = Buffer.from(stored);
    encodeOkReply(1, "a", stored);
    expect(stored.equals(copy)).toBe(true);
  });
});
