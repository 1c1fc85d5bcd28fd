import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { CUSTOM_PLAN_ROWS, commitChunks, runChunks } from "./commit-chunks.js";
import { parseUrl } from "./url.js";

describe("commitChunks", () => {
  const rows = Array.from({ length: 40 }, (_, i) => ({ k: "it", id: i, p: "x".repeat(i * 7) }));

  it("keeps a batch under the limit as one JSON array, as JSON.stringify writes it", () => {
    expect(commitChunks(rows)).toEqual([JSON.stringify(rows)]);
    expect(commitChunks([])).toEqual(["[]"]);
  });

  it("cuts a longer batch into arrays of at most max characters, in order, a row longer than max alone", () => {
    for (const max of [1, 50, 300, 1000, 5000]) {
      const chunks = commitChunks(rows, max);
      expect(chunks.flatMap((c) => JSON.parse(c) as unknown[]), `max ${max}`).toEqual(rows);
      for (const c of chunks) if ((JSON.parse(c) as unknown[]).length > 1) expect(c.length, `max ${max}`).toBeLessThanOrEqual(max);
      // Cut only where the next row would not fit: two neighbours always exceed max together.
      for (let i = 1; i < chunks.length; i++) expect((chunks[i - 1] as string).length + (chunks[i] as string).length - 1, `max ${max}`).toBeGreaterThan(max);
    }
    expect(commitChunks(rows, 1)).toHaveLength(rows.length);
    expect(commitChunks(rows, 1000).length).toBeGreaterThan(3);
  });
});

describe("runChunks on a real PostgreSQL", () => {
  it("plans each statement of a batch over CUSTOM_PLAN_ROWS rows for the rows it sees, in its own transaction only", async () => {
    // An import's plans, made while its tables were small, stayed for the whole batch: each intermediate
    // value's foreign-key check scanned the trials table (10,000 trials: 27 s, against 4.5 s planned per statement).
    const pool = new pg.Pool({ connectionString: parseUrl(inject("pgUrl")).connectionString, max: 1 });
    try {
      const seen: string[] = [];
      const call = async (q: pg.Pool | pg.PoolClient) => seen.push(((await q.query("SHOW plan_cache_mode")).rows[0] as { plan_cache_mode: string }).plan_cache_mode);
      await runChunks(pool, ["[]"], call, CUSTOM_PLAN_ROWS);
      await runChunks(pool, ["[]"], call, CUSTOM_PLAN_ROWS + 1);
      await runChunks(pool, ["[]", "[]"], call, 10);
      // One pooled connection: the setting did not outlive its batch.
      await runChunks(pool, ["[]"], call, 10);
      expect(seen).toEqual(["auto", "force_custom_plan", "auto", "auto", "auto"]);
    } finally {
      await pool.end();
    }
  });
});
