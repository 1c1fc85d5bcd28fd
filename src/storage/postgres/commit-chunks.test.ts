import { describe, expect, it } from "vitest";
import { commitChunks } from "./commit-chunks.js";

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
