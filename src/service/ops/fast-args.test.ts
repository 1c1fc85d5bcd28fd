import { describe, expect, it } from "vitest";
import { OPS } from "./ops.js";
import { fastArgs } from "./fast-args.js";

/** Values of every kind, bounds and near-bounds included, that an argument may carry on the wire. */
const VALUES: readonly unknown[] = [
  undefined,
  null,
  true,
  0,
  -0,
  1,
  -1,
  0.5,
  7,
  2 ** 53 - 1,
  2 ** 53,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  "",
  "s",
  "COMPLETE",
  "FAIL",
  "PRUNED",
  "RUNNING",
  "complete",
  "a\u0000b",
  "x".repeat(200),
  "x".repeat(201),
  "x".repeat(400),
  "x".repeat(401),
  [],
  ["s"],
  {},
  new Uint8Array([1]),
];

const FIELDS: Readonly<Record<string, readonly string[]>> = {
  ask: ["study", "lease_ttl_s", "max_retries", "study_created_at", "bogus"],
  tell: ["study", "trial", "token", "state", "value", "values", "reason", "user_attrs", "bogus"],
  report: ["study", "trial", "token", "step", "value", "data", "bogus"],
};

const GOOD: Readonly<Record<string, Record<string, unknown>>> = {
  ask: { study: "s" },
  tell: { study: "s", trial: 3, token: "t", state: "COMPLETE", value: 0.5 },
  report: { study: "s", trial: 3, token: "t", step: 1, value: 0.5 },
};

/** A small deterministic generator (tests must not depend on Math.random's sequence). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The good arguments with some fields replaced by other values, dropped, or added. */
function variants(op: string, n: number, seed: number): unknown[] {
  const r = rng(seed);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const a: Record<string, unknown> = { ...GOOD[op] };
    const changes = 1 + Math.floor(r() * 2);
    for (let c = 0; c < changes; c++) {
      const field = FIELDS[op]?.[Math.floor(r() * (FIELDS[op]?.length ?? 1))] as string;
      if (r() < 0.15) delete a[field];
      else a[field] = VALUES[Math.floor(r() * VALUES.length)];
    }
    out.push(a);
  }
  return out;
}

describe("fastArgs (the precompiled check of ask, tell and report)", () => {
  for (const op of ["ask", "tell", "report"] as const) {
    it(`${op}: accepts only what zod accepts, and returns what zod returns`, () => {
      const schema = OPS[op].args;
      let fast = 0;
      for (const raw of [GOOD[op], ...variants(op, 4000, op.length)]) {
        const got = fastArgs(op, raw);
        const zod = schema.safeParse(raw);
        if (got === null) continue;
        fast++;
        expect({ raw, success: zod.success }).toEqual({ raw, success: true });
        expect(got.data).toStrictEqual(zod.data);
      }
      // It is a fast path: the common shape takes it, and so do many of the variants.
      expect(fastArgs(op, GOOD[op])).not.toBeNull();
      expect(fast).toBeGreaterThan(100);
    });
  }

  it("takes the common shapes only: other ops, optional arguments and other objects go to zod", () => {
    expect(fastArgs("get_study", { study: "s" })).toBeNull();
    expect(fastArgs("constructor", { study: "s" })).toBeNull();
    expect(fastArgs("ask", { study: "s", lease_ttl_s: 60 })).toBeNull();
    expect(fastArgs("tell", { ...GOOD.tell, values: [1] })).toBeNull();
    expect(fastArgs("ask", Object.assign(Object.create({ polluted: 1 }) as object, { study: "s" }))).toBeNull();
    expect(fastArgs("ask", ["s"])).toBeNull();
    expect(fastArgs("ask", null)).toBeNull();
  });

  it("returns a fresh object (the caller's arguments are never handed on)", () => {
    const raw = { study: "s" };
    expect(fastArgs("ask", raw)?.data).not.toBe(raw);
  });
});
