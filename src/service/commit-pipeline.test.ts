/**
 * `CommitPipeline.visible` (commit-pipeline.ts): commit before reply, the release of its waiters when
 * commits start being held for want of space (those of a batch behind the held one too), the lost-study
 * answer, every waiter answered after a failed commit, and what one call costs in promises (it runs for
 * every reply and every read). A real SQLite file; its commits are refused as a full disk refuses them
 * (nothing written, `storageFull`) while the test says so.
 */
import { createHook } from "node:async_hooks";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import { TuneportError } from "../domain/errors.js";
import type { Change, Storage } from "../storage/storage.js";
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
  });

  it("answers the waiters of a batch opened behind a held one at once too, and commits both, in order, once space is back", async () => {
    const { storage: s, full } = storage();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const refusing = s.commit;
    const committedIds: string[] = [];
    s.commit = async (changes: readonly Change[]) => {
      await gate;
      await refusing(changes);
      for (const c of changes) if (c.kind === "put-reply") committedIds.push(c.requestId);
    };
    const pipeline = new CommitPipeline(s, silentLogger(), () => undefined);
    full.on = true;
    pipeline.queue([reply("a")], false, {});
    await new Promise((r) => setImmediate(r)); // the first batch's commit is under way (held at the gate)
    pipeline.queue([reply("b")], false, {}); // a second batch, behind it
    const settled: string[] = [];
    const second = pipeline.visible("b").then(
      () => settled.push("ok"),
      (e: unknown) => settled.push(e instanceof TuneportError ? `${e.code} ${String(e.data?.reason)}` : String(e)),
    );
    open(); // the first commit is refused for want of space: the hold starts
    await new Promise((r) => setImmediate(r));
    expect(pipeline.holding).toBe(true);
    // Not when space is back (the second batch's own commit): when the hold starts.
    expect(settled).toEqual(["UNAVAILABLE storage_full"]);
    await second;
    expect(s.knowsReply("b")).toBe(false);
    full.on = false;
    await pipeline.committed(); // the held batch, then the one behind it (the retry is a second away)
    expect(pipeline.holding).toBe(false);
    expect(committedIds).toEqual(["a", "b"]);
    expect([s.knowsReply("a"), s.knowsReply("b")]).toEqual([true, true]);
    await pipeline.drain();
  });

  it("answers a change set of a study lost before its commit UNAVAILABLE, unwritten, and commits the rest of its batch", async () => {
    const { storage: s } = storage();
    // The fence of several servers (PostgreSQL): a change set of study "s" is refused once "s" was lost.
    (s as Storage).fencedOut = (changes, gone) => (gone?.has("s") && changes.some((c) => c.kind === "put-reply" && c.requestId.startsWith("s-")) ? "s" : null);
    const pipeline = new CommitPipeline(s, silentLogger(), () => undefined);
    const onS = { study: "s" };
    const onT = { study: "t" };
    pipeline.queue([reply("s-1")], false, onS);
    pipeline.queue([reply("t-1")], false, onT);
    pipeline.lose("s"); // before the batch's commit (the next turn)
    const err = await pipeline.visible(onS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TuneportError);
    expect((err as TuneportError).code).toBe("UNAVAILABLE");
    expect((err as TuneportError).message).toContain("lost study 's'");
    await expect(pipeline.visible(onT)).resolves.toBe(onT);
    expect(s.knowsReply("s-1")).toBe(false);
    expect(s.knowsReply("t-1")).toBe(true);
    await pipeline.drain();
  });

  it("answers every waiter UNAVAILABLE once a commit failed, of its batch and of a batch opened meanwhile: none is left waiting", async () => {
    const { storage: s } = storage();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    s.commit = async () => {
      await gate;
      throw new Error("disk I/O error"); // written in part, maybe: fatal
    };
    const fatal: unknown[] = [];
    const pipeline = new CommitPipeline(s, silentLogger(), (e) => fatal.push(e));
    const settled: string[] = [];
    const watch = (p: Promise<unknown>, name: string) =>
      p.then(
        () => settled.push(`${name}: ok`),
        (e: unknown) => settled.push(`${name}: ${e instanceof TuneportError ? e.code : String(e)}`),
      );
    pipeline.queue([reply("a")], false, {});
    const first = watch(pipeline.visible("a"), "a");
    await new Promise((r) => setImmediate(r)); // the first batch's commit is under way (held at the gate)
    pipeline.queue([reply("b")], false, {}); // a second batch, behind it
    const second = watch(pipeline.visible("b"), "b");
    open();
    // Once every batch is finished, every waiter is answered: the turn after, not on a timer.
    await pipeline.drain();
    await new Promise((r) => setImmediate(r));
    expect(settled.sort()).toEqual(["a: UNAVAILABLE", "b: UNAVAILABLE"]);
    await Promise.all([first, second]);
    expect(fatal).toHaveLength(1);
    expect(s.knowsReply("b")).toBe(false);
  });

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
