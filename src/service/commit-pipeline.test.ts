/**
 * `CommitPipeline.visible` (commit-pipeline.ts): commit before reply, the release of its waiters when
 * commits start being held for want of space, and what one call costs in promises (it runs for every
 * reply and every read). A real SQLite file; its commits are refused as a full disk refuses them
 * (nothing written, `storageFull`) while the test says so.
 */
import { createHook } from "node:async_hooks";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import { TuneportError } from "../domain/errors.js";
import type { Change } from "../storage/storage.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { CommitPipeline } from "./commit-pipeline.js";

const dirs: string[] = [];
const stores: SqliteStorage[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A SQLite storage whose commits are refused as a full disk refuses them while `full.on`. */
function storage(): { storage: SqliteStorage; full: { on: boolean; refused: number } } {
  const dir = mkdtempSync(join(tmpdir(), "tuneport-pipeline-"));
  dirs.push(dir);
  const s = new SqliteStorage({ path: join(dir, "p.db"), durability: "process" });
  stores.push(s);
  const full = { on: false, refused: 0 };
  const commit = s.commit.bind(s);
  s.commit = async (changes: readonly Change[]) => {
    if (full.on) {
      full.refused++;
      throw Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL", storageFull: true, notCommitted: true });
    }
    return commit(changes);
  };
  return { storage: s, full };
}

/** A change that stores a reply under `id` (the smallest change there is). */
const reply = (id: string): Change => ({ kind: "put-reply", requestId: id, op: "tell", reply: Buffer.from([0x80]), at: 1 });

describe("CommitPipeline.visible", () => {
  it("answers once the batch committed, and at once with UNAVAILABLE storage_full when its commit is held, then goes on once space is back", async () => {
    const { storage: s, full } = storage();
    const pipeline = new CommitPipeline(s, silentLogger(), () => undefined);
    const result = { answer: 1 };
    pipeline.queue([reply("a")], false, result);
    await expect(pipeline.visible(result)).resolves.toBe(result);
    expect(s.knowsReply("a")).toBe(true);

    full.on = true;
    pipeline.queue([reply("b")], false, {});
    // Waiting on the held batch: answered when the hold starts (a second later it is tried again).
    const err = await pipeline.visible(null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TuneportError);
    expect((err as TuneportError).code).toBe("UNAVAILABLE");
    expect((err as TuneportError).data).toMatchObject({ reason: "storage_full" });
    expect(full.refused).toBeGreaterThan(0);
    expect(s.knowsReply("b")).toBe(false);

    full.on = false;
    for (let i = 0; i < 100 && pipeline.holding; i++) await new Promise((r) => setTimeout(r, 50));
    expect(pipeline.holding).toBe(false);
    expect(s.knowsReply("b")).toBe(true);
    pipeline.queue([reply("c")], false, {});
    await expect(pipeline.visible("c")).resolves.toBe("c");
    expect(s.knowsReply("c")).toBe(true);
    await pipeline.drain();
  }, 30_000);

  it("costs a waiter two promises at most (it runs for every reply and every read)", async () => {
    const { storage: s } = storage();
    const pipeline = new CommitPipeline(s, silentLogger(), () => undefined);
    let promises = 0;
    let counting = false;
    const hook = createHook({
      init(_id, type) {
        if (counting && type === "PROMISE") promises++;
      },
    }).enable();
    try {
      // The batch is opened before counting: what is counted is the waiters' own.
      pipeline.queue([reply("x")], false, {});
      counting = true;
      const waiters = Array.from({ length: 10 }, (_, i) => pipeline.visible(i));
      counting = false;
      expect(await Promise.all(waiters)).toEqual([...Array(10).keys()]);
    } finally {
      hook.disable();
    }
    // One `then` per waiter now; a race with a held-commit signal of its own made nine.
    expect(promises).toBeLessThanOrEqual(20);
    await pipeline.drain();
  });
});
