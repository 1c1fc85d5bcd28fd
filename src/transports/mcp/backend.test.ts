/**
 * RemoteBackend (`tuneport mcp --connect`): its change feed is derived from polling list_studies,
 * so what it fingerprints decides what wakes wait_for_progress and what subscribed clients hear.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import type { ZmqClient } from "../zmq/zmq-client.js";
import { TuneportError } from "../../domain/errors.js";
import { RemoteBackend } from "./backend.js";

/** A server with one study whose view the test edits between polls. */
function fakeServer(view: Record<string, unknown>): ZmqClient {
  return {
    call: async (op: string) => (op === "list_studies" ? { studies: [structuredClone(view)], next_cursor: null } : { study: structuredClone(view) }),
    close: async () => undefined,
  } as unknown as ZmqClient;
}

describe("RemoteBackend", () => {
  it.each([
    ["stop_study", { stopped: true }],
    ["update_study max_trials", { max_trials: 1 }],
    ["update_study strategy", { strategy: { name: "random", options: {} } }],
    ["update_study scheduler", { scheduler: null }],
    ["update_study space", { space: { x: { type: "float", low: -1, high: 1 } } }],
    ["update_study notes", { notes: "widened x" }],
  ])("sees %s as a change of the study: a pending wait_for_progress wakes to find it stuck", async (_what, change) => {
    const view: Record<string, unknown> = {
      name: "s", created_at: 1, counts: { WAITING: 0, RUNNING: 0, COMPLETE: 1, PRUNED: 0, FAIL: 0 }, best_trial: null, user_attrs: {},
      stopped: false, max_trials: 10, strategy: { name: "tpe", options: {} }, scheduler: { name: "median", options: {} },
      space: { x: { type: "float", low: 0, high: 1 } }, notes: null,
    };
    const backend = new RemoteBackend(fakeServer(view), silentLogger(), 5);
    await backend.start();
    try {
      const before = await backend.version("s");
      Object.assign(view, change);
      // Before: only counts, best trial and user attributes were fingerprinted, so this waited out its timeout (the hang guard).
      expect(await backend.waitForChange("s", before, 20_000)).toBeGreaterThan(before);
    } finally {
      await backend.close();
    }
  });

  it("ends a pending wait with UNAVAILABLE when the server stops answering, instead of at the wait's timeout", async () => {
    const view: Record<string, unknown> = { name: "s", counts: { COMPLETE: 0 }, best_trial: null };
    let gone = false;
    const client = {
      call: async (op: string) => {
        if (gone) throw new TuneportError("UNAVAILABLE", `no reply to '${op}' within 10000 ms; is the server running?`, { timed_out: true });
        return op === "list_studies" ? { studies: [structuredClone(view)], next_cursor: null } : { study: structuredClone(view) };
      },
      close: async () => undefined,
    } as unknown as ZmqClient;
    const backend = new RemoteBackend(client, silentLogger(), 5);
    await backend.start();
    try {
      const before = await backend.version("s");
      const wait = backend.waitForChange("s", before, 5_000);
      gone = true;
      // Before: the wait resolved at its timeout (then get_study waited out its own 10 s): with
      // timeout_s 50 the SDK client's 60 s request timeout fired first, and the agent got no answer.
      await expect(wait).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringContaining("the server stopped answering while waiting") });
    } finally {
      await backend.close();
    }
  });
});
