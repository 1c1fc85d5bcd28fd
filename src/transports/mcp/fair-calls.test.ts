/**
 * FairCalls with a stub backend that records which ops ran: what a call cancelled while it waited
 * for its client's turn does (order only, no timing).
 */
import { describe, expect, it } from "vitest";
import { TuneportError } from "../../domain/errors.js";
import type { McpBackend } from "./backend.js";
import { FairCalls } from "./fair-calls.js";

/** A backend whose every call records its op and study, and answers at once. */
function recording(): { backend: McpBackend; ran: string[] } {
  const ran: string[] = [];
  const backend = {
    call: async (op: string, args: { study?: string }) => {
      ran.push(`${op}:${args.study ?? ""}`);
      return {} as never;
    },
    version: async () => 0,
    waitForChange: async () => 0,
    onChange: () => () => undefined,
    close: async () => undefined,
  } as unknown as McpBackend;
  return { backend, ran };
}

describe("FairCalls", () => {
  it("does not run a call cancelled while it waited for its turn, and answers it", async () => {
    const { backend, ran } = recording();
    const fair = new FairCalls();
    const flood = fair.backendFor(backend, "flood");
    const cancelled = new AbortController();
    // A client with calls queued that goes away (its POSTs' connections close: the SDK aborts them).
    const calls = Array.from({ length: 5 }, (_, i) => flood.call("study_summary", { study: `s${i}` }, cancelled.signal));
    const kept = flood.call("get_study", { study: "kept" });
    cancelled.abort();
    const settled = await Promise.allSettled(calls);
    await kept;
    expect(ran).toEqual(["get_study:kept"]);
    for (const s of settled) {
      expect(s.status).toBe("rejected");
      const err = (s as PromiseRejectedResult).reason as TuneportError;
      expect(err).toBeInstanceOf(TuneportError);
      expect(err.code).toBe("UNAVAILABLE");
      expect(err.data).toMatchObject({ not_run: true, op: "study_summary" });
    }
    expect(fair.queued).toBe(0);
  });

  it("runs a call whose signal aborts only after it started", async () => {
    const { backend, ran } = recording();
    const fair = new FairCalls();
    const late = new AbortController();
    const p = fair.backendFor(backend, "a").call("ask", { study: "s" }, late.signal);
    await new Promise((r) => setImmediate(r));
    late.abort();
    await p;
    expect(ran).toEqual(["ask:s"]);
  });
});
