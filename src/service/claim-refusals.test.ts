/**
 * `ClaimRefusals` (commit-pipeline.ts): the `full_since` of storage_full claim refusals names one outage.
 * Refusals close together share it; a later outage gets a later one though no claim succeeded between
 * (it carried the earlier outage's value, and a client that had given up on that one gave up at once).
 * The clock is vitest's fake one: no test waits.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { CLAIM_OUTAGE_GAP_MS, ClaimRefusals } from "./commit-pipeline.js";

// As pg-ownership.ts marks a claim PostgreSQL refused for want of space.
const full = () => Promise.reject(Object.assign(new Error("could not extend file: No space left on device"), { code: "53100", storageFull: true, notCommitted: true }));

async function refusedSince(claims: ClaimRefusals): Promise<unknown> {
  try {
    await claims.claim(full(), "t");
  } catch (err) {
    expect(err).toBeInstanceOf(TuneportError);
    expect((err as TuneportError).data).toMatchObject({ reason: "storage_full" });
    return ((err as TuneportError).data as { full_since?: unknown }).full_since;
  }
  throw new Error("the claim was not refused");
}

afterEach(() => {
  vi.useRealTimers();
});

describe("ClaimRefusals full_since", () => {
  it("is one value while refusals keep coming, and a later one for an outage after a gap, with no claim succeeding between", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
    const claims = new ClaimRefusals();
    const first = await refusedSince(claims);
    vi.setSystemTime(1_000_000 + 2000); // a client's resend
    expect(await refusedSince(claims)).toBe(first);
    vi.setSystemTime(1_000_000 + 2000 + CLAIM_OUTAGE_GAP_MS + 1000); // space freed and full again meanwhile
    const next = await refusedSince(claims);
    expect(next).toBeGreaterThan(first as number);
    vi.setSystemTime(1_000_000 + 2000 + CLAIM_OUTAGE_GAP_MS + 2000);
    expect(await refusedSince(claims)).toBe(next);
  });

  it("starts again after a claim succeeded", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(2_000_000);
    const claims = new ClaimRefusals();
    const first = await refusedSince(claims);
    vi.setSystemTime(2_000_000 + 500);
    await claims.claim(Promise.resolve("ok"), "t");
    vi.setSystemTime(2_000_000 + 1000);
    expect(await refusedSince(claims)).toBeGreaterThan(first as number);
  });
});
