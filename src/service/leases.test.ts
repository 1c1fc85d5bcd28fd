import { describe, expect, it } from "vitest";
import { leaseToken } from "./leases.js";

describe("leaseToken", () => {
  it("gives 16 base64url characters, never the same twice, across refills of its pool", () => {
    const tokens = Array.from({ length: 2000 }, () => leaseToken()); // the pool holds 256
    for (const t of tokens) expect(t).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
    // 96 random bits each: every one of the 64 characters shows up at each position in 2,000 draws
    // (a missing one has probability about 64 * (63/64)^2000, below 1e-12).
    for (let pos = 0; pos < 16; pos++) expect(new Set(tokens.map((t) => t[pos])).size).toBe(64);
  });
});
