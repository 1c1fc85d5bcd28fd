/**
 * A change (mutating op) is applied, its reply stored under the request id, and then sent; a resend
 * of the id gets the stored reply. These tests run real ZeroMQ sockets against an in-process
 * server and check that a change whose reply is too big to send is refused before it is applied
 * (the service's limit) or, where the transport alone finds it too big, answered with a typed error
 * that every resend gets again: never "retry later" forever, never a second application.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { bufferAllocations } from "../../testing/allocations.js";
import { Dealer, context } from "zeromq";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { decode, encode } from "./codec.js";
import { bufferBytes } from "./heap.js";
import { ZmqServer } from "./zmq-server.js";

context.blocky = false;

const MiB = 1024 * 1024;

type Reply = { id: string; ok: boolean; result?: Record<string, any>; error?: { code: string; message: string; data?: Record<string, unknown> } };

describe("replies too big to send", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  /**
   * A server on an in-memory database with a study "s" (random strategy, one float x), behind a
   * ZeroMQ door whose reply ceiling is `ceiling` and whose requests may be up to 64 MiB.
   */
  async function serve(ceiling: number, service?: { maxReplyBytes?: number }) {
    const storage = new SqliteStorage({ path: ":memory:" });
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, ...service });
    cleanup.push(() => storage.close(), () => svc.close());
    await svc.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const server = new ZmqServer(svc, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger(), maxReplyBytes: ceiling, maxMessageBytes: 64 * MiB });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const d = new Dealer({ linger: 0 });
    d.connect(endpoint as string);
    cleanup.push(() => d.close());
    const call = async (id: string, op: string, args: Record<string, unknown>, attempt?: number): Promise<Reply> => {
      await d.send(encode({ v: 1, id, op, ...args, ...(attempt === undefined ? {} : { attempt }) }));
      return decode((await d.receive())[0] as Buffer) as Reply;
    };
    return { svc, call, endpoint: endpoint as string };
  }

  /** An add_trial whose reply echoes a string of `bytes` twice (its param value and its distribution's one choice). */
  const echoing = (bytes: number) => {
    const big = "c".repeat(bytes);
    return { study: "s", params: { x: 0.5, c: big }, distributions: { c: { type: "categorical", choices: [big] } }, state: "COMPLETE", value: 1 };
  };

  it("refuses, before applying it, a change whose reply would be over the service's limit; every resend gets the same refusal", async () => {
    // The limit is the test's (serve passes a quarter of the ceiling): a small one keeps the
    // garbage of packing a big reply (msgpackr reserves 3 bytes a character) well under the ceiling.
    const { svc, call } = await serve(64 * MiB, { maxReplyBytes: 2 * MiB });
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await call("big", "add_trial", echoing(1.5 * MiB), attempt);
      // Before: applied (the limit did not exist), and over the ceiling answered UNAVAILABLE for ever (next test).
      expect(r.ok).toBe(false);
      expect(r.error?.code).toBe("MESSAGE_TOO_LARGE");
      expect(r.error?.data).toMatchObject({ op: "add_trial", max_reply_bytes: 2 * MiB });
      expect(r.error?.data?.reply_bytes as number).toBeGreaterThan(3 * MiB);
      expect(r.error?.message).toMatch(/nothing was applied/);
      // What was too big, and nothing else.
      expect(r.error?.message).toMatch(/its largest parts: trial\.(params|distributions) \(1\.6 MB\), trial\.(params|distributions) \(1\.6 MB\)\. /);
      expect(r.error?.data?.largest_parts).toEqual({ "trial.params": expect.any(Number), "trial.distributions": expect.any(Number) });
    }
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(0);
    // The study goes on: a change of ordinary size is applied and answered.
    expect(await call("small", "add_trial", { study: "s", params: { x: 0.5 }, value: 1 })).toMatchObject({ ok: true, result: { trial: { number: 0 } } });
  }, 60_000);

  it("answers a typed error, the same on every resend, when a change's reply alone is over the door's ceiling: applied once", async () => {
    // The service's default limit is far above this door's ceiling (an embedding that did not wire them).
    const { svc, call } = await serve(4 * MiB);
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await call("big", "add_trial", echoing(2.5 * MiB), attempt);
      expect(r.ok).toBe(false);
      // Before: UNAVAILABLE (reason memory, "retry with the same id later") for ever.
      expect(r.error?.code).toBe("MESSAGE_TOO_LARGE");
      expect(r.error?.data).toMatchObject({ max_reply_bytes: 4 * MiB });
      expect(r.error?.data?.reply_bytes as number).toBeGreaterThan(5 * MiB);
      expect(r.error?.message).toMatch(/the change was applied once, and a resend of this id gets this answer again/);
    }
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(1);
  }, 60_000);

  // A user attribute named "constructor" (the client's choice) hid the object's constructor from
  // packed-size.ts, which then measured no reply that held it: each was packed before it was refused.
  it.each<Record<string, unknown>>([{}, { constructor: "resnet" }])(
    "refuses a read's reply over the door's ceiling before packing it whole: no buffer of its size is allocated (user_attrs %j)",
    async (userAttrs) => {
      const { call } = await serve(4 * MiB);
      // Applied, and answered MESSAGE_TOO_LARGE (the previous test): now every read of the trial is over the ceiling.
      expect((await call("big", "add_trial", { ...echoing(2.5 * MiB), user_attrs: userAttrs })).error?.code).toBe("MESSAGE_TOO_LARGE");
      // The server runs in this process: every Buffer it allocates (msgpackr's among them) is counted.
      const { sizes, value } = await bufferAllocations(() => call("read", "trial", { study: "s", trial: 0 }));
      const r = value as Reply;
      expect(r.error?.code).toBe("MESSAGE_TOO_LARGE");
      expect(r.error?.data?.reply_bytes as number).toBeGreaterThan(5 * MiB);
      // Before: packed (msgpackr's buffer grown to ~30 MiB) and copied out (5 MiB), then refused.
      // Packing may start (zmq-server.pack-once.test.ts), up to a quarter of the ceiling at most.
      expect(sizes.filter((n) => n >= MiB)).toEqual([]);
    },
    60_000,
  );

  it("keeps no buffer the size of a change's big reply once it went out", async () => {
    // msgpackr grows its buffer to ~4x a value that does not fit and keeps it: the buffer that packs
    // stored replies held 225 MB for good after one 60 MB reply, and the door counts it against its
    // reply ceiling, so every big reply after it was refused (UNAVAILABLE) until a restart.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const { call } = await serve(1024 * MiB);
    const settled = async () => {
      let held = Number.POSITIVE_INFINITY;
      for (let i = 0, before = held; i < 20; i++, before = held) {
        gc();
        held = process.memoryUsage().arrayBuffers;
        if (held > before - 64 * 1024) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      return held;
    };
    const baseline = await settled();
    const r = await call("big", "add_trial", echoing(2 * MiB));
    expect(r.ok).toBe(true);
    // Before: ~16 MB more (the 4 MB reply's buffer, kept). The reply's own ~4 MB may still be held
    // when this reads (make test once measured 4,194,621 bytes more: a copy not collected yet), so
    // the bound sits between the two: under 8 MiB, not under 2.
    expect((await settled()) - baseline).toBeLessThan(8 * MiB);
  }, 60_000);

  it("lets out a reply it packed before measuring while the buffers hold, with it, no more than the ceiling: it is not counted twice", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const storage = new SqliteStorage({ path: ":memory:" });
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => svc.close());
    await svc.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
    // A read whose result packed-size.ts does not mirror (a Map): it is packed to learn its size.
    const size = 8 * MiB;
    vi.spyOn(svc, "readStudy").mockResolvedValue({ blob: new Map([["b", "b".repeat(size)]]) } as never);
    gc();
    // Room for the reply and half as much again. Before: the packed reply was counted among the
    // buffers and added to them, so a reply over half the room was refused (UNAVAILABLE) every time.
    const ceiling = bufferBytes() + 1.5 * size;
    const server = new ZmqServer(svc, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger(), maxReplyBytes: ceiling });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const d = new Dealer({ linger: 0, receiveTimeout: 60_000 }); // a hang guard
    cleanup.push(() => d.close());
    d.connect(endpoint as string);
    await d.send(encode({ v: 1, id: "read", op: "get_study", study: "s" }));
    const r = decode((await d.receive())[0] as Buffer) as Reply;
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ id: "read", ok: true, result: { blob: { b: expect.any(String) } } });
  }, 60_000);

  it("refuses up front to widen a declared space past its bound: each update_study stored and sent the whole space", async () => {
    const { call } = await serve(1024 * MiB);
    const choice = (i: number) => `${i}-${"w".repeat(100_000)}`;
    let choices = [choice(0)];
    expect(await call("create", "create_study", { name: "w", space: { c: { type: "categorical", choices } }, strategy: "random" })).toMatchObject({ ok: true });
    const codes: string[] = [];
    for (let k = 1; k <= 12; k++) {
      const wider = [...choices, ...Array.from({ length: 10 }, (_, j) => choice(k * 10 + j))];
      const r = await call(`widen${k}`, "update_study", { study: "w", space: { c: { type: "categorical", choices: wider } } });
      codes.push(r.ok ? "ok" : (r.error?.code as string));
      if (!r.ok) {
        // Before: accepted, each reply (and every ask's) ~1 MB larger, until one could not be sent (UNAVAILABLE for ever).
        expect(r.error?.code).toBe("INVALID_ARGUMENT");
        expect(r.error?.message).toMatch(/space/);
        expect(r.error?.data).toMatchObject({ max_chars: expect.any(Number) });
        break;
      }
      choices = wider;
    }
    expect(codes.at(-1)).toBe("INVALID_ARGUMENT");
    // Nothing of the refused widening was applied.
    const study = await call("get", "get_study", { study: "w" });
    expect(study.result?.study.space.c.choices).toHaveLength(choices.length);
  }, 60_000);

  it("refuses up front a define-by-run parameter past the study's bound: every view of the study carried them all", async () => {
    const { call } = await serve(1024 * MiB);
    expect(await call("create", "create_study", { name: "d", space: {}, strategy: "random" })).toMatchObject({ ok: true });
    let refused: Reply | null = null;
    for (let i = 0; i < 8 && refused === null; i++) {
      const asked = await call(`ask${i}`, "ask", { study: "d" });
      // ~1 MB of JSON: 10,000 choices of ~100 characters, a name of its own per trial.
      const choices = Array.from({ length: 10_000 }, (_, j) => `${i}:${j}:${"z".repeat(90)}`);
      const args = { study: "d", trial: asked.result?.trial.number, token: asked.result?.lease.token, name: `p${i}`, distribution: { type: "categorical", choices } };
      const r = await call(`suggest${i}`, "suggest", args);
      if (!r.ok) {
        refused = r;
        // Nothing applied: a resend is refused the same way.
        expect(await call(`suggest${i}`, "suggest", args, 1)).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT" } });
      }
    }
    // Before: every suggest taken, and get_study, stop_study (stored) ... 1 MB larger each time.
    expect(refused?.error?.code).toBe("INVALID_ARGUMENT");
    expect(refused?.error?.message).toMatch(/define-by-run parameters of study 'd' take at most/);
    const stopped = await call("stop", "stop_study", { study: "d" });
    expect(stopped.ok).toBe(true);
    expect(Object.keys(stopped.result?.study.define_by_run)).toEqual(["p0", "p1", "p2", "p3"]);
  }, 120_000);
});
