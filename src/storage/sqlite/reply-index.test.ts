import Database from "better-sqlite3";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DROP_CHUNK } from "./reply-index.js";
import { SqliteStorage } from "./sqlite-storage.js";

const reply = (i: number) => ({ kind: "put-reply" as const, requestId: `id${i}`, op: "tell", reply: new Uint8Array([0x90 + (i % 16)]), at: 1_000 + i });
const rows = (path: string) => (new Database(path, { readonly: true }).prepare("SELECT count(*) AS n FROM request_log").get() as { n: number }).n;

describe("stored replies bound (reply-index.ts) on a real SQLite file", () => {
  it("drops the oldest past the bound, down to 15/16 of it, and tells how many", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "reply-index-")), "db.sqlite");
    const drops: [number, number][] = [];
    const s = new SqliteStorage({ path, maxStoredReplies: 160, onRepliesDropped: (d, k) => drops.push([d, k]) });
    for (let i = 0; i < 400; i++) await s.commit([reply(i)]);
    expect(s.knowsReply("id399")).toBe(true);
    expect(s.knowsReply("id0")).toBe(false);
    expect(await s.getReply("id0")).toBeNull();
    expect(await s.getReply("id399")).toEqual(new Uint8Array([0x90 + (399 % 16)]));
    await s.close();
    expect(rows(path)).toBeLessThanOrEqual(160);
    expect(drops.every(([, kept]) => kept === 150)).toBe(true); // floor(160 * 15 / 16)
    expect(drops.reduce((n, [d]) => n + d, 0)).toBe(400 - rows(path));
  });

  it("cuts a table already over the bound (a smaller bound than the last run's) before indexing it", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "reply-index-")), "db.sqlite");
    const big = new SqliteStorage({ path });
    await big.commit(Array.from({ length: 500 }, (_, i) => reply(i)));
    expect(big.knowsReply("id0")).toBe(true);
    await big.close();
    const drops: [number, number][] = [];
    const small = new SqliteStorage({ path, maxStoredReplies: 100, onRepliesDropped: (d, k) => drops.push([d, k]) });
    expect(small.knowsReply("id499")).toBe(true);
    expect(drops).toEqual([[500 - 93, 93]]); // the cut is logged as any drop
    expect(small.knowsReply("id0")).toBe(false);
    await small.close();
    expect(rows(path)).toBe(93); // floor(100 * 15 / 16)
  });

  it("drops at most DROP_CHUNK rows a commit beyond those over the bound, until down to 15/16 of it", async () => {
    // A bound whose 1/16 (6,250) is over DROP_CHUNK plus a commit: one DELETE of it all held the
    // event loop up to 1.4 s at the default bound's 62,500 rows.
    const max = 100_000;
    const batch = 500;
    const path = join(mkdtempSync(join(tmpdir(), "reply-index-")), "db.sqlite");
    const drops: [number, number][] = [];
    const s = new SqliteStorage({ path, maxStoredReplies: max, onRepliesDropped: (d, k) => drops.push([d, k]) });
    for (let i = 0; i < max + 10 * batch; i += batch) await s.commit(Array.from({ length: batch }, (_, j) => reply(i + j)));
    await s.close();
    expect(drops.length).toBeGreaterThan(1);
    for (const [dropped, kept] of drops) {
      expect(dropped).toBeLessThanOrEqual(DROP_CHUNK + batch);
      expect(kept).toBeLessThanOrEqual(max);
    }
    // Over the bound after 201 commits: 4,096 dropped; 3,154 more at the next commit reach 15/16 of
    // it, and the 9 commits after drop nothing (not their 500 each: the DELETE is not on every commit).
    const target = Math.floor((max * 15) / 16);
    expect(drops).toEqual([
      [DROP_CHUNK, max + batch - DROP_CHUNK],
      [max + 2 * batch - DROP_CHUNK - target, target],
    ]);
    expect(drops.reduce((n, [d]) => n + d, 0)).toBe(max + 10 * batch - rows(path));
  }, 120_000);
});
