import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findForbiddenKey, maxContainers, nestingExceeds } from "../../domain/input-limits.js";
import { decode, encode } from "./codec.js";
import { lastDuplicateKey, peekOp, peekRequestId, scanFrame } from "./msgpack-scan.js";

/** A str8 value holding exactly these bytes. */
const str8 = (bytes: number[]) => Buffer.from([0xd9, bytes.length, ...bytes]);
/** A one-entry map {key: value} from raw encoded parts. */
const map1 = (k: Buffer, v: Buffer) => Buffer.concat([Buffer.from([0x81]), k, v]);

describe("scanFrame", () => {
  it("passes every value the codec writes, and agrees with the decoded value on nesting", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 1, max: 8 }), (value, limit) => {
        const frame = encode(value);
        const problem = scanFrame(frame, limit);
        // fast-check generates `__proto__` keys, which msgpackr would decode as `__proto_`.
        if (problem === "forbidden-key") return void expect(findForbiddenKey(value)).not.toBeNull();
        expect(problem === "too-deep").toBe(nestingExceeds(decode(frame), limit));
        if (problem !== "too-deep") {
          expect(problem).toBeNull();
          expect(findForbiddenKey(value)).toBeNull();
        }
      }),
      { numRuns: 500, seed: 11 },
    );
  });

  it("refuses a map key __proto__ (fixstr or str8, at any depth) and nothing else spelled so", () => {
    const proto = [...Buffer.from("__proto__")];
    const fix = Buffer.from([0xa9, ...proto]);
    expect(scanFrame(map1(fix, Buffer.from([0x01])), 32)).toBe("forbidden-key");
    expect(scanFrame(map1(str8(proto), Buffer.from([0x01])), 32)).toBe("forbidden-key");
    expect(scanFrame(map1(str8([0x61]), map1(fix, Buffer.from([0x01]))), 32)).toBe("forbidden-key");
    // A map whose first value is a map: the outer map's second key is still a key.
    expect(scanFrame(Buffer.concat([Buffer.from([0x82]), str8([0x61]), map1(str8([0x62]), Buffer.from([0x01])), fix, Buffer.from([0x01])]), 32)).toBe("forbidden-key");
    // As a value, an array element, or a longer or shorter key: accepted.
    expect(scanFrame(map1(str8([0x61]), fix), 32)).toBeNull();
    expect(scanFrame(Buffer.concat([Buffer.from([0x91]), fix]), 32)).toBeNull();
    expect(scanFrame(map1(str8(proto.slice(0, 8)), Buffer.from([0x01])), 32)).toBeNull();
    expect(scanFrame(map1(str8([...proto, 0x5f]), Buffer.from([0x01])), 32)).toBeNull();
    expect(scanFrame(encode({ a: { b: "__proto__" }, c: ["__proto__"] }), 32)).toBeNull();
  });

  it("refuses a map holding a key twice, in small and large maps, and keeps each map's keys apart", () => {
    const fix = (k: string) => encode(k);
    const map = (entries: [Buffer, Buffer][]) => Buffer.concat([Buffer.from([0xde, entries.length >> 8, entries.length & 0xff]), ...entries.flat()]);
    const one = Buffer.from([0x01]);
    expect(scanFrame(map([[fix("a"), one], [fix("a"), one]]), 32)).toBe("duplicate-key");
    expect(lastDuplicateKey()).toBe("a");
    expect(scanFrame(map([[fix("value"), one], [str8([...Buffer.from("value")]), one]]), 32)).toBe("duplicate-key");
    // Large maps keep their keys in a Set: the 40th key repeats the 3rd.
    const many = Array.from({ length: 40 }, (_, i): [Buffer, Buffer] => [fix(`k${i === 39 ? 2 : i}`), one]);
    expect(scanFrame(map(many), 32)).toBe("duplicate-key");
    expect(lastDuplicateKey()).toBe("k2");
    expect(scanFrame(map(many.slice(0, 39)), 32)).toBeNull();
    // The outer map's key again after an inner map (small and large) that used it too.
    for (const inner of [map([[fix("a"), one]]), map(many.slice(0, 39).concat([[fix("a"), one]]))]) {
      expect(scanFrame(map([[fix("a"), inner], [fix("b"), inner]]), 32)).toBeNull();
      expect(scanFrame(map([[fix("a"), inner], [fix("b"), one], [fix("a"), one]]), 32)).toBe("duplicate-key");
      expect(scanFrame(Buffer.concat([Buffer.from([0x92]), map([[fix("a"), inner]]), map([[fix("a"), inner]])]), 32)).toBeNull();
    }
    // "k32728" and "k261234" share their 32-bit hash: told apart, and each found again.
    const twins = many.slice(0, 30).concat([[fix("k32728"), one], [fix("k261234"), one]]);
    expect(scanFrame(map(twins), 32)).toBeNull();
    expect(scanFrame(map(twins.concat([[fix("k261234"), one]])), 32)).toBe("duplicate-key");
    expect(lastDuplicateKey()).toBe("k261234");
    expect(scanFrame(map(twins.concat([[str8([...Buffer.from("k32728")]), one]])), 32)).toBe("duplicate-key");
    expect(lastDuplicateKey()).toBe("k32728");
    // Keys of the same length that differ, a prefix, the empty key once.
    expect(scanFrame(map([[fix("ab"), one], [fix("ba"), one], [fix("a"), one], [fix(""), one]]), 32)).toBeNull();
    expect(scanFrame(map([[fix(""), one], [fix(""), one]]), 32)).toBe("duplicate-key");
  });

  it("calls every strict prefix of a frame malformed", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const frame = encode(value);
        for (let n = 0; n < frame.length; n++) expect(scanFrame(frame.subarray(0, n), 32)).toBe("malformed");
      }),
      { numRuns: 200, seed: 12 },
    );
  });

  it("refuses bytes that are not UTF-8 in values and keys, and accepts every well-formed string", () => {
    for (const bad of [[0xed, 0xa0, 0x80], [0xff, 0xfe], [0xc0, 0xaf], [0x61, 0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]]) {
      expect(scanFrame(str8(bad), 32)).toBe("invalid-utf8");
      expect(scanFrame(map1(str8(bad), Buffer.from([0x01])), 32)).toBe("invalid-utf8");
      expect(scanFrame(Buffer.concat([Buffer.from([0x92, 0x01]), map1(str8([0x61]), str8(bad))]), 32)).toBe("invalid-utf8");
    }
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (s) => {
        expect(scanFrame(encode({ s }), 32)).toBeNull();
      }),
      { numRuns: 300, seed: 13 },
    );
    // bin payloads are bytes, not text: anything goes
    expect(scanFrame(Buffer.from([0xc4, 0x02, 0xff, 0xfe]), 32)).toBeNull();
  });

  it("counts nesting like the decoded value does, empty containers included", () => {
    const nested = (depth: number) => Buffer.concat([Buffer.alloc(depth - 1, 0x91), Buffer.from([0x90])]);
    expect(scanFrame(nested(32), 32)).toBeNull();
    expect(scanFrame(nested(33), 32)).toBe("too-deep");
    expect(scanFrame(Buffer.concat([Buffer.alloc(20_000, 0x91), Buffer.from([0x01])]), 32)).toBe("too-deep");
  });

  it("refuses the reserved byte, trailing bytes and element counts larger than the frame", () => {
    expect(scanFrame(Buffer.from([0xc1]), 32)).toBe("malformed");
    expect(scanFrame(Buffer.from([0x01, 0x01]), 32)).toBe("malformed");
    expect(scanFrame(Buffer.from([0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01]), 32)).toBe("malformed");
    expect(scanFrame(Buffer.from([0xdb, 0x7f, 0xff, 0xff, 0xff]), 32)).toBe("malformed");
  });

  it("refuses more maps and arrays than maxContainers(frame bytes), empty ones included, and no fewer", () => {
    // An array 32 of `k` empty arrays (or maps): k + 1 containers in k + 5 bytes.
    const frame = (k: number, empty: number) => Buffer.concat([Buffer.from([0xdd, 0, 0, k >> 8, k & 0xff]), Buffer.alloc(k, empty)]);
    for (const empty of [0x90, 0x80])
      for (let k = 330; k <= 350; k++) expect(scanFrame(frame(k, empty), 32)).toBe(k + 1 > maxContainers(k + 5) ? "too-many-containers" : null);
    expect(scanFrame(frame(341, 0x90), 32)).toBeNull();
    expect(scanFrame(frame(342, 0x90), 32)).toBe("too-many-containers");
    // A megabyte of small integers holds one container: scalars are not counted.
    expect(scanFrame(encode(new Array(1 << 20).fill(1)), 32)).toBeNull();
  });

  it("refuses 64-bit integers beyond ±(2^53 − 1), and passes those within", () => {
    const u64 = (v: bigint) => Buffer.concat([Buffer.from([0xcf]), Buffer.from(BigInt.asUintN(64, v).toString(16).padStart(16, "0"), "hex")]);
    const i64 = (v: bigint) => Buffer.concat([Buffer.from([0xd3]), Buffer.from(BigInt.asUintN(64, v).toString(16).padStart(16, "0"), "hex")]);
    const safe = 2n ** 53n - 1n;
    for (const ok of [u64(safe), u64(0n), i64(safe), i64(-safe), i64(-1n), i64(0n)]) expect(scanFrame(map1(str8([0x61]), ok), 32)).toBeNull();
    for (const bad of [u64(safe + 1n), u64(2n ** 64n - 1n), i64(safe + 1n), i64(-safe - 1n), i64(-(2n ** 63n))])
      expect(scanFrame(map1(str8([0x61]), bad), 32)).toBe("unsafe-integer");
    expect(decode(encode({ a: Number(safe) }))).toEqual({ a: Number(safe) });
  });

  it("refuses extension values (fixext, ext 8/16/32, the timestamp) and map keys that are not strings", () => {
    for (const ext of [[0xd4, 0x01, 0x00], [0xd6, 0xff, 1, 2, 3, 4], [0xd8, 0x05, ...new Array(16).fill(0)], [0xc7, 1, 0x05, 0x00], [0xc8, 0, 1, 0x05, 0x00], [0xc9, 0, 0, 0, 1, 0x05, 0x00]])
      expect(scanFrame(map1(str8([0x61]), Buffer.from(ext)), 32), String(ext[0])).toBe("extension");
    for (const key of [[0x01], [0x7f], [0xff], [0xc0], [0xc2], [0xcc, 200], [0xca, 0, 0, 0, 0], [0xc4, 1, 0x61], [0x90], [0x80]])
      expect(scanFrame(map1(Buffer.from(key), Buffer.from([0x01])), 32), String(key)).toBe("non-string-key");
    // Deeper, and as the second key of a map; strings and numbers as values and array elements pass.
    expect(scanFrame(map1(str8([0x61]), Buffer.concat([Buffer.from([0x82, 0xa1, 0x62, 0x01, 0x05, 0x01])])), 32)).toBe("non-string-key");
    expect(scanFrame(Buffer.from([0x82, 0xa1, 0x61, 0x01, 0xa1, 0x62, 0x92, 0x01, 0x80]), 32)).toBeNull();
  });
});

describe("peekRequestId", () => {
  it("reads the id wherever it sits in the request map, past large and nested values", () => {
    expect(peekRequestId(encode({ v: 1, id: "r1", op: "ask" }))).toBe("r1");
    expect(peekRequestId(encode({ pad: "x".repeat(5_000_000), attrs: { a: [1, [2, { b: 3 }]] }, id: "late" }))).toBe("late");
    const truncated = encode({ v: 1, id: "cut", op: "ask", study: "s" });
    expect(peekRequestId(truncated.subarray(0, truncated.length - 3))).toBe("cut");
  });

  it("returns null when there is no readable id", () => {
    expect(peekRequestId(encode({ v: 1, op: "ask" }))).toBeNull();
    expect(peekRequestId(encode([1, "id", "x"]))).toBeNull();
    expect(peekRequestId(encode({ id: 7 }))).toBeNull();
    expect(peekRequestId(encode({ id: "" }))).toBeNull();
    expect(peekRequestId(encode({ id: "x".repeat(129) }))).toBeNull();
    expect(peekRequestId(map1(str8([0x69, 0x64]), str8([0xff, 0xfe])))).toBeNull(); // not UTF-8
    expect(peekRequestId(Buffer.from([0xde, 0xff, 0xff]))).toBeNull();
    // a value that is too large to skip within the budget
    expect(peekRequestId(encode({ many: Array.from({ length: 20_000 }, () => 0), id: "far" }))).toBeNull();
  });
});

describe("peekOp", () => {
  it("reads a request's op without decoding it, or null", () => {
    expect(peekOp(encode({ v: 1, id: "r1", op: "trials", study: "s" }))).toBe("trials");
    expect(peekOp(encode({ v: 1, study: { op: "x" }, op: "tell" }))).toBe("tell");
    expect(peekOp(encode({ v: 1, id: "r1" }))).toBeNull();
    expect(peekOp(encode({ v: 1, op: 3 }))).toBeNull();
    expect(peekOp(encode([1, "op", "ask"]))).toBeNull();
  });
});
