/**
 * Pages of trials by value of a big study, over a real server's ZeroMQ socket: what one client's
 * pages cost every other client. A page is built on the server's one thread, so a page that holds
 * it holds every ask and tell of every worker. paging.ts `firstK` inserted each candidate into a
 * sorted array: on a study whose every trial is a new best (values improving trial by trial, the
 * usual shape of a minimisation) each one went first and moved all the others, and a deep `offset`
 * made the array the whole study. One such page of 100,000 trials held the thread a median
 * 0.45-0.7 s (up to 3 s), so a client pipelining 150 of them (within its 1,000 requests in flight)
 * held every other client out for minutes; they take 11-99 ms now (docs/BENCHMARKS.md "A page of
 * trials by value deep in a big study"). The study is written by `tuneport import` (a real SQLite
 * file).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

afterAll(stopServers);

const N = 100_000;

/** An export of one minimised study of `n` COMPLETE trials, trial i of value n - i: each a new best. */
function improvingStudy(n: number): string {
  const now = Date.now();
  const dist = { x: { type: "float", low: 0, high: 1 } };
  const header = {
    format: "tuneport-study",
    version: 1,
    name: "big",
    config: { direction: "minimize", space: dist, strategy: { name: "random", options: {} }, scheduler: null, seed: 1, lease_ttl_s: 30, retry: { max_retries: 0, retry_on_fail: false, keep_intermediate: false } },
    user_attrs: {},
    created_at_ms: now,
    trials: n,
  };
  const lines = [JSON.stringify(header)];
  for (let i = 0; i < n; i++)
    lines.push(
      JSON.stringify({ number: i, state: "COMPLETE", params: { x: 0.5 }, distributions: dist, value: n - i, intermediate: [], user_attrs: {}, system_attrs: {}, created_at_ms: now, started_at_ms: now, finished_at_ms: now, lease: null }),
    );
  return `${lines.join("\n")}\n`;
}

describe("trials by value in a study of 100,000 trials", () => {
  it("answers a burst of deep pages and the other clients behind it without holding the server for minutes", async () => {
    const dir = tempDir();
    const db = join(dir, "big.sqlite");
    writeFileSync(join(dir, "big.jsonl"), improvingStudy(N));
    const imp = spawnSync(process.execPath, [CLI, "import", join(dir, "big.jsonl"), "--storage", db], { encoding: "utf8", timeout: 120_000, killSignal: "SIGKILL" });
    expect(imp.status, imp.stderr).toBe(0);
    const server = await startServer(db);
    const greedy = new TestClient(server.endpoint);
    const other = new TestClient(server.endpoint);
    try {
      // Best first: trial N-1 (value 1) ... trial 0 (value N). The last ten by offset:
      const deep = { study: "big", order_by: "value", offset: N - 10, limit: 10, fields: ["value"] };
      const last = await greedy.call<{ trials: { number: number; value: number }[]; total: number; next_cursor: string | null }>("trials", deep);
      expect(last.trials.map((t) => t.number)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      expect(last.total).toBe(N);
      expect(last.next_cursor).toBeNull();
      // The whole study by cursor, 5,000 a page: every trial once, best first.
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const page: { trials: { number: number }[]; next_cursor: string | null } = await greedy.call("trials", { study: "big", order_by: "value", limit: 5000, fields: ["value"], ...(cursor ? { cursor } : {}) });
        for (const t of page.trials) seen.push(t.number);
        cursor = page.next_cursor;
      } while (cursor !== null);
      expect(seen.length).toBe(N);
      expect(seen.every((n, i) => n === N - 1 - i)).toBe(true);
      // One client pipelines 150 deep pages (the last past the end); another asks behind them. The
      // replies' timeout is a hang guard: before, they were not all answered within it.
      const burst = Array.from({ length: 150 }, (_, i) => greedy.request("trials", i === 149 ? { ...deep, offset: 2 ** 52 } : deep, undefined, 45_000));
      const behind = other.request("hello", {}, undefined, 45_000);
      const replies = await Promise.all(burst);
      expect(replies.every((r) => r.ok)).toBe(true);
      expect(replies[0]?.result.trials.map((t: { number: number }) => t.number)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      expect(replies[149]?.result.trials).toEqual([]);
      expect((await behind).ok).toBe(true);
    } finally {
      await greedy.close();
      await other.close();
    }
  }, 300_000);
});
