import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { UNMEASURED, packedSize } from "./packed-size.js";
import { WIRE_PACK_OPTIONS } from "./wire-pack.js";

const packr = new Packr(WIRE_PACK_OPTIONS);
const packed = (x: unknown) => packr.pack(x).byteLength;

describe("packedSize", () => {
  it("is msgpackr's size at every head's bound (strings, numbers, arrays, maps, bins)", () => {
    const values: unknown[] = [null, undefined, true, false, 0, -0, NaN, Infinity, -Infinity, 0.5, -1.5, 2 ** 53, -(2 ** 53), 2 ** 40];
    for (const b of [0x20, 0x80, 0x100, 0x8000, 0x10000, 2 ** 31, 2 ** 32]) values.push(b - 1, b, b + 1, -b - 1, -b, -b + 1);
    for (const n of [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536, 70_000]) {
      values.push("a".repeat(n), "é".repeat(n), Array.from({ length: n }, (_, i) => i), Buffer.alloc(n), new Uint8Array(n));
      values.push(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
    }
    // Three UTF-8 bytes for a character that msgpackr reserves as one; a pair as four; a lone surrogate as U+FFFD.
    values.push("€".repeat(11), "€".repeat(85), "😀".repeat(8), "😀".repeat(64), "\ud800", `a\udc00b${"x".repeat(80)}`, "\u0000");
    values.push({ a: undefined, b: [null, { c: "d" }], "1": 2, "": "" }, { trial: { params: { x: 0.25 }, intermediate: [[1, 0.5]] } });
    // Keys a client may choose that name the properties msgpackr looks up (see the toJSON case below).
    values.push({ constructor: "resnet", x: 1 }, { constructor: { constructor: [] }, toJSON: 0 }, { toJSON: "x" }, { constructor: null, __proto: 1 });
    // Both: msgpackr called the toJSON (not a function: it threw) until the profile turned toJSON off.
    values.push({ constructor: 1, toJSON: 1 }, { constructor: "resnet", toJSON: "yes", inner: { constructor: 1, toJSON: [2] } });
    for (const v of values) expect([v, packedSize(v)]).toEqual([v, packed(v)]);
  });

  it("is msgpackr's size for any JSON-like value", () => {
    const scalar = fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), fc.double(), fc.integer(), fc.maxSafeInteger(), fc.boolean(), fc.constant(null), fc.constant(undefined));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: "small" }, scalar, fc.uint8Array().map((u) => Buffer.from(u)), fc.array(tie("v")), fc.dictionary(fc.string({ unit: "binary" }), tie("v"), { noNullPrototype: true })),
    })).v;
    fc.assert(fc.property(value, (v) => packedSize(v) === packed(v)), { numRuns: 2000 });
  });

  it("measures nothing it does not mirror: the caller packs those", () => {
    for (const v of [new Date(0), new Map([[1, 2]]), new Set([1]), 1n, new Float64Array(2), { when: new Date(0) }, [new Map()], new (class X {})(), Object.create(null)])
      expect(packedSize(v)).toBe(UNMEASURED);
  });
});
