/**
 * query_trials sorted by a user attribute that holds long texts, over a real server's ZeroMQ socket
 * on SQLite: a text key is compared by its first TEXT_KEY_CHARS (1,000) characters, then by trial
 * number. A user attribute may be 64 KiB: sorting by one wrote every trial's JSON whole and compared
 * the texts whole, so 5,000 trials with a 60 KB object each held the server's one thread 1.4-7 s a
 * query (strings alike but for their last characters 0.56-0.61 s); 10-52 ms now (docs/BENCHMARKS.md
 * "query_trials sorted by a long user attribute"). The order beyond the first 1,000 characters is
 * what tells the two apart here: past them, ties go by number.
 */
import { afterAll, describe, expect, it } from "vitest";
import { TestClient, startServer, stopServers, tempDir } from "./helpers.js";
import { join } from "node:path";

afterAll(stopServers);

describe("query_trials by a long text key", () => {
  it("compares the first 1,000 characters of a string or of an object's JSON, then the trial number", async () => {
    const server = await startServer(join(tempDir(), "q.sqlite"));
    const client = new TestClient(server.endpoint);
    try {
      await client.call("create_study", { name: "q", space: { x: { type: "float", low: 0, high: 1 } } });
      const long = "x".repeat(1500);
      // Trial numbers 0..5; without the bound, 1 sorted before 0 and 4 before 3 (their last characters).
      const blobs: unknown[] = [`${long}b`, `${long}a`, "a", { k: `${long}b` }, { k: `${long}a` }, ["short"]];
      for (const blob of blobs) {
        const a = await client.call("ask", { study: "q" });
        await client.call("tell", { study: "q", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1, user_attrs: { blob } });
      }
      const order = async (descending: boolean) =>
        ((await client.call("query_trials", { study: "q", sort: "user_attrs.blob", descending })).rows as { number: number }[]).map((r) => r.number);
      // Text order: '["short"]' < "a" < "xxx…" < '{"k":"xxx…' ('[' < 'a' < 'x' < '{').
      expect(await order(false)).toEqual([5, 2, 0, 1, 3, 4]);
      // Ties stay by number, ascending, in either direction.
      expect(await order(true)).toEqual([3, 4, 0, 1, 2, 5]);
    } finally {
      await client.close();
    }
  }, 120_000);
});
