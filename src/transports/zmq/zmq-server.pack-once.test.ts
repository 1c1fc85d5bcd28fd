/**
 * A read's reply is packed once when it is small next to the ceiling: msgpackr's buffer may grow
 * to a quarter of the ceiling (and half the room the buffers have left) before it is known to fit;
 * a reply that needs more is measured first (domain/packed-size.ts), as every read's was, so one far
 * over the ceiling costs no buffer of its size (zmq-server.reply-size.test.ts). Real ZeroMQ sockets
 * against an in-process server; the walk is watched, not replaced.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Dealer, context } from "zeromq";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { decode, encode, encodeWithin } from "./codec.js";
import { bufferBytes, fullGc } from "./heap.js";
import { ZmqServer } from "./zmq-server.js";

const walked = vi.hoisted(() => ({ replies: 0 }));
vi.mock("../../domain/packed-size.js", async (original) => {
  const real = await original<typeof import("../../domain/packed-size.js")>();
  return {
    ...real,
    packedSize: (value: unknown) => {
      // The walk of a whole reply, not of a change reply's v and id (codec.ts okReplySize).
      if (typeof value === "object" && value !== null && "ok" in value) walked.replies++;
      return real.packedSize(value);
    },
  };
});

context.blocky = false;

const MiB = 1024 * 1024;

describe("a read's reply packed once", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
    vi.restoreAllMocks();
  });

  /** A server whose get_study answers `result`, behind a door of reply ceiling `ceiling`; returns the reply to one get_study. */
  async function read(result: Record<string, unknown>, ceiling?: (held: number) => number) {
    const storage = new SqliteStorage({ path: ":memory:" });
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => svc.close());
    await svc.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
    vi.spyOn(svc, "readStudy").mockResolvedValue(result as never);
    // msgpackr starts each page in a fresh small buffer (a message over the ceiling replaces it), so
    // it grows its buffer through the same sizes each time; the garbage collected next.
    encodeWithin({ blob: "f".repeat(300_000) }, 0);
    (fullGc() as () => void)(); // its sweeping finished: garbage of the tests before is not counted (heap.ts)
    const server = new ZmqServer(svc, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger(), ...(ceiling ? { maxReplyBytes: ceiling(bufferBytes()) } : {}) });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const d = new Dealer({ linger: 0, receiveTimeout: 60_000 }); // a hang guard
    cleanup.push(() => d.close());
    d.connect(endpoint as string);
    walked.replies = 0;
    await d.send(encode({ v: 1, id: "read", op: "get_study", study: "s" }));
    const reply = decode((await d.receive())[0] as Buffer) as { ok: boolean; result?: unknown; error?: unknown };
    return { reply, walked: walked.replies };
  }

  const page = { trials: Array.from({ length: 20_000 }, (_, i) => ({ number: i, value: i / 3, params: { x: i / 7 } })) };

  it("packs a big page without walking it first when its buffer stays within a quarter of the ceiling", async () => {
    const { reply, walked } = await read(page);
    expect(reply).toEqual({ v: 1, id: "read", ok: true, result: page });
    // Before: walked (about half a pack's CPU), then packed.
    expect(walked).toBe(0);
  }, 60_000);

  it("measures first, then sends, a reply whose packing would grow msgpackr's buffer past a quarter of the ceiling", async () => {
    // A 6 MiB string: msgpackr reserves 18 MiB for it and grows its buffer to ~36 MiB, past a quarter
    // of a 128 MiB ceiling (32 MiB) and within half the room left under it (over 44 MiB).
    const result = { blob: "b".repeat(6 * MiB) };
    let held = 0;
    const { reply, walked } = await read(result, (h) => ((held = h), 128 * MiB));
    expect(held).toBeLessThan(40 * MiB);
    expect(reply).toEqual({ v: 1, id: "read", ok: true, result });
    // Before (half the room alone): packed first, a refused reply's buffers up to 44 MiB.
    expect(walked).toBe(1);
  }, 60_000);

  it("measures first, then sends, a reply whose packing would grow msgpackr's buffer past a small ceiling's quarter", async () => {
    // The page is ~0.8 MB: msgpackr grows its buffer past 1 MiB for it.
    const { reply, walked } = await read(page, () => 4 * MiB);
    expect(reply).toEqual({ v: 1, id: "read", ok: true, result: page });
    expect(walked).toBe(1);
  }, 60_000);

  it("measures first a reply whose packing would take more than half the room the buffers have left", async () => {
    // 48 MiB held: a quarter of the ceiling is over 12 MiB, and the room left under it 6 MiB. A
    // string of 0.5 MiB has msgpackr reserve 1.5 MiB and grow its buffer to ~6 MiB: more than half
    // the room, well within the quarter.
    const ballast = Buffer.alloc(48 * MiB, 1);
    const result = { blob: "b".repeat(MiB / 2) };
    const { reply, walked } = await read(result, (held) => held + 6 * MiB);
    expect(ballast[0]).toBe(1);
    expect(reply).toEqual({ v: 1, id: "read", ok: true, result });
    // Before (the quarter alone): packed first, its dead ~6 MiB buffer and its copy pushing the buffers toward the ceiling.
    expect(walked).toBe(1);
  }, 60_000);

  it("lets out a page it packed first while the buffers, with the page, hold no more than the ceiling: the buffers msgpackr grew for it and dropped are not charged to it", async () => {
    // 190,000 trials pack to ~7.9 MiB in a buffer msgpackr grew to ~8.0 MiB through 2.0, 0.5 and
    // smaller ones (read's fresh start), all dead once the page is copied out: ~18.5 MiB with the
    // copy. The room, 17.3 MiB, holds the page twice, and half of it lets msgpackr grow that far (the
    // ballast lifts the quarter of the ceiling over it). Each buffer is kept alive here: the dead
    // ones count as they do until a collection (at most one a second, zmq-server.ts heldNow) frees them.
    const ballast = Buffer.alloc(48 * MiB, 1);
    const big = { trials: Array.from({ length: 190_000 }, (_, i) => ({ number: i, value: i / 3, params: { x: i / 7 } })) };
    const kept: Buffer[] = [];
    const alloc = Buffer.allocUnsafeSlow;
    Buffer.allocUnsafeSlow = (n: number) => {
      const b = alloc.call(Buffer, n);
      kept.push(b);
      return b;
    };
    cleanup.push(() => {
      Buffer.allocUnsafeSlow = alloc;
    });
    const { reply, walked } = await read(big, (held) => held + 17.3 * MiB);
    Buffer.allocUnsafeSlow = alloc;
    expect([ballast[0], kept.some((b) => b.byteLength > 8 * MiB)]).toEqual([1, true]);
    expect(walked).toBe(0); // packed first: msgpackr's buffer grew within the bound
    // Before: refused for memory (UNAVAILABLE, "retry later") while msgpackr's dead buffers were
    // uncollected; measured first, as before this change, it went (its garbage made after).
    expect(reply.error).toBeUndefined();
    expect((reply.result as typeof big).trials).toHaveLength(190_000);
  }, 60_000);
});
