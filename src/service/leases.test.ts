import { describe, expect, it } from "vitest";
import { STALL_PROBE_MS } from "./lease-ops.js";
import { expiryAfterStall, leaseToken } from "./leases.js";

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

describe("expiryAfterStall", () => {
  const ttl = 2000;
  it("gives a stall back to a lease, up to a full TTL from the resume, and never shortens one", () => {
    // Renewed at 0, the server stopped from 500 to 3500: the 3 s it did not run are added.
    expect(expiryAfterStall(2000, 3000, 3500, ttl)).toBe(5000);
    // No more than a heartbeat at the resume would give.
    expect(expiryAfterStall(2000, 9000, 3500, ttl)).toBe(5500);
    // A lease renewed later than the stall's length ago keeps its expiry.
    expect(expiryAfterStall(9000, 3000, 3500, ttl)).toBe(9000);
  });

  it("still lets a dead worker's lease expire when every tick of an overloaded server comes late", () => {
    // Each tick late by 150 ms (above the 100 ms the reaper forgives): the lease gains the lateness
    // only, not the tick's whole period, so it runs out after about TTL * (period + late) / period.
    let now = 0;
    let expiry = ttl;
    let ticks = 0;
    while (expiry > now && ticks < 1000) {
      now += STALL_PROBE_MS + 150;
      expiry = expiryAfterStall(expiry, 150, now, ttl);
      ticks++;
    }
    expect(ticks).toBeLessThan(20);
  });
});
