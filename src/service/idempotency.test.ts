import { randomBytes } from "node:crypto";
import { pack } from "msgpackr";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { bufferAllocations } from "../testing/allocations.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import type { Storage } from "../storage/storage.js";
import { Idempotency } from "./idempotency.js";

// The bound of the ids remembered in memory (idempotency.ts RECENT_IDS).
const RECENT = 100_000;

describe("Idempotency.claim: request ids remembered in memory", () => {
  let storage: SqliteStorage;
  afterEach(() => storage?.close());

  const fresh = () => {
    storage = new SqliteStorage({ path: ":memory:" });
    return new Idempotency(storage, () => 0);
  };
  const ids = (n: number) => Array.from({ length: n }, () => randomBytes(16).toString("hex"));
  const at = (a: readonly string[], i: number): string => {
    const v = a[i];
    if (v === undefined) throw new RangeError(`no id at ${i}`);
    return v;
  };

  it("refuses an id reused for another op, and takes the same op again as a retry", () => {
    const idem = fresh();
    idem.claim("a", "ask");
    expect(() => idem.claim("a", "ask")).not.toThrow();
    expect(() => idem.claim("a", "tell")).toThrow(/already used for a 'ask' request/);
  });

  it("forgets exactly the oldest ids past the bound, in the order they came, over several laps", () => {
    const idem = fresh();
    const all = ids(RECENT * 2 + 123);
    for (const id of all) idem.claim(id, "ask");
    // The last RECENT are remembered (another op is refused) ...
    for (const id of [at(all, all.length - RECENT), at(all, all.length - 1), at(all, all.length - RECENT + 7)])
      expect(() => idem.claim(id, "tell"), id).toThrow(/already used/);
    // ... and the one before them, and older ones, are forgotten (a retry of them is still safe:
    // the stored reply decides, not this memory).
    for (const id of [at(all, all.length - RECENT - 1), at(all, 0), at(all, RECENT)]) expect(() => idem.claim(id, "tell"), id).not.toThrow();
  });

  it("a retry inside the window does not take a second place in it", () => {
    const idem = fresh();
    const first = at(ids(1), 0);
    idem.claim(first, "ask");
    const rest = ids(RECENT - 1);
    for (const id of rest) {
      idem.claim(id, "ask");
      idem.claim(first, "ask"); // retries of `first`: it stays the oldest
    }
    expect(() => idem.claim(first, "tell")).toThrow(/already used/);
    idem.claim(at(ids(1), 0), "ask"); // one more id: `first` is the one forgotten, not rest[0]
    expect(() => idem.claim(at(rest, 0), "tell")).toThrow(/already used/);
    expect(() => idem.claim(first, "tell")).not.toThrow();
  });

  it("an id whose stored reply names another op, learnt after it was forgotten, still leaves the memory in time", async () => {
    // The stored reply is read after claim; meanwhile a full window of other ids evicts the id.
    let answer: (reply: Buffer) => void = () => undefined;
    const stub = { getReply: () => new Promise<Buffer>((r) => (answer = r)) } as unknown as Storage;
    const idem = new Idempotency(stub, () => 0);
    const reused = at(ids(1), 0);
    const refused = idem.once(reused, "tell", async () => "ran");
    for (const id of ids(RECENT)) idem.claim(id, "ask");
    answer(pack({ op: "ask", result: null }));
    await expect(refused).rejects.toThrow(/already used for a 'ask' request/);
    expect(() => idem.claim(reused, "tell")).toThrow(/already used/); // remembered from the stored reply
    // ... inside the ring, so a full window later it is forgotten like any other (the memory stays bounded).
    for (const id of ids(RECENT)) idem.claim(id, "ask");
    expect(() => idem.claim(reused, "tell")).not.toThrow();
  });
});

describe("Idempotency.replyChange: the stored reply and the result's packed bytes", () => {
  it("stores {op, result} that reads back as the result, and hands the transport the result's bytes", async () => {
    const { unpack } = await import("msgpackr");
    const { packedResult } = await import("./idempotency.js");
    const storage = new SqliteStorage({ path: ":memory:" });
    try {
      const idem = new Idempotency(storage, () => 0);
      const result = { trial: { number: 2, params: { x: 0.5, n: 2 ** 40 }, value: null, attrs: {} }, lease: { token: "t", ttl_s: 30 } };
      const change = idem.replyChange({ requestId: "r1", op: "ask" }, result);
      if (change.kind !== "put-reply") throw new Error(change.kind);
      expect(unpack(change.reply)).toEqual({ op: "ask", result });
      const bytes = packedResult(result);
      expect(bytes).toBeDefined();
      expect(unpack(bytes as Uint8Array)).toEqual(result);
      // Only results whose reply was stored have bytes.
      expect(packedResult({ ...result })).toBeUndefined();
      expect(packedResult(null)).toBeUndefined();
    } finally {
      await storage.close();
    }
  });

  it("reads a reply stored in the profile before (msgpackr's defaults) as it did", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    try {
      const idem = new Idempotency(storage, () => 0);
      const result = { trial: { number: 1, params: { x: 0.25 } } };
      await storage.commit([{ kind: "put-reply", requestId: "old", op: "tell", reply: pack({ op: "tell", result }), at: 0 }]);
      expect(await idem.once("old", "tell", async () => ({ ran: true }))).toEqual(result);
    } finally {
      await storage.close();
    }
  });

  it("refuses a reply over the limit from msgpackr's buffer: nothing copied out of it, no part packed again", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    try {
      const idem = new Idempotency(storage, () => 0, () => Promise.resolve(), 1024 * 1024);
      const big = "c".repeat(1_000_000);
      const result = { trial: { number: 0, params: { c: big }, distributions: { c: { type: "categorical", choices: [big] } } } };
      const { sizes, error } = await bufferAllocations(() => idem.replyChange({ requestId: "r", op: "add_trial" }, result));
      expect(error).toMatchObject({ code: "MESSAGE_TOO_LARGE", data: { largest_parts: { "trial.params": expect.any(Number), "trial.distributions": expect.any(Number) } } });
      // One buffer the reply's size or more: msgpackr's, grown to pack it once. Before: the reply's
      // copy too, and the buffer grown again for each of its largest parts (~117 MB for a 23 MB reply).
      expect(sizes.filter((n) => n >= 2_000_000)).toHaveLength(1);
    } finally {
      await storage.close();
    }
  });

  it("does not keep msgpackr's buffer grown by a result that failed to pack", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const held = () => (gc(), gc(), process.memoryUsage().arrayBuffers);
    const storage = new SqliteStorage({ path: ":memory:" });
    try {
      const idem = new Idempotency(storage, () => 0);
      idem.replyChange({ requestId: "warm", op: "tell" }, { ok: 1 });
      const before = held();
      // Packed in order: the string grows msgpackr's buffer (to ~12 MB), then the bigint throws.
      expect(() => idem.replyChange({ requestId: "r", op: "tell" }, { blob: "q".repeat(1_000_000), bad: 2n ** 70n })).toThrow();
      idem.replyChange({ requestId: "r2", op: "tell" }, { ok: 2 });
      // Before: the grown buffer stayed msgpackr's, for good (small replies never replace it).
      expect(held() - before).toBeLessThan(4 * 1024 * 1024);
    } finally {
      await storage.close();
    }
  });
});
