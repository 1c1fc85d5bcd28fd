import { afterEach, describe, expect, it, vi } from "vitest";
import { Dealer, context } from "zeromq";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { decode, encode } from "./codec.js";
import { BIG_REPLY_BYTES, REPLY_QUEUE, ZmqServer } from "./zmq-server.js";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { bufferBytes } from "./heap.js";

context.blocky = false;

/**
 * A service with a study "wide" of `params` parameters (its get_study reply grows by ~40 bytes
 * each) and "narrow" of one, and a count of the get_study requests it has answered (get_study runs
 * `readStudy`: a count kept on `getStudy`, which no op calls, stayed at 0).
 */
async function wideStudies(params: number, cleanup: (() => Promise<void> | void)[]) {
  const storage = new SqliteStorage({ path: ":memory:" });
  const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  cleanup.push(() => storage.close(), () => service.close());
  const space = Object.fromEntries(Array.from({ length: params }, (_, i) => [`parameter_${i}`, { type: "float", low: 0, high: 1 }]));
  await service.createStudy({ name: "wide", space });
  await service.createStudy({ name: "narrow", space: { x: { type: "float", low: 0, high: 1 } } });
  const counter = { answered: 0 };
  const readStudy = service.readStudy.bind(service);
  vi.spyOn(service, "readStudy").mockImplementation(async (...a) => {
    const r = await readStudy(...a);
    counter.answered++;
    return r;
  });
  return { service, counter };
}

/**
 * The bytes ArrayBuffers hold once collected, waiting (10 s at most) until they are under `bound`:
 * ZeroMQ hands a sent reply back to the main thread on a later turn (zeromq.js's trash), so on a
 * busy machine replies already gone were still referenced at the first collection.
 */
async function heldAfterGc(gc: () => void, bound: number): Promise<number> {
  let held = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 50; i++) {
    gc();
    held = bufferBytes();
    if (held < bound) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return held;
}

/**
 * Sends `n` get_study requests for "wide" from `flood`, then waits until the server has read the
 * study for each one and so answered it (its reply sent, dropped, or refused for memory): none is
 * refused before it runs, since the callers allow `n` in flight. Waiting for a silence instead (no answer for 2 s) read the count
 * on getStudy, which get_study does not call, so it waited 2 s whatever the server had done: on a
 * busy machine the client began to read while the server was still answering, took the replies as
 * they came, and none was dropped ("expected 3000 < 3000"). The 60 s are a hang guard only.
 */
async function floodWide(flood: Dealer, n: number, counter: { answered: number }): Promise<void> {
  counter.answered = 0;
  for (let i = 0; i < n; i++) await flood.send(encode({ v: 1, id: `f${i}`, op: "get_study", study: "wide" }));
  for (let i = 0; i < 600 && counter.answered < n; i++) await new Promise((r) => setTimeout(r, 100));
  expect(counter.answered).toBe(n);
  // A reply leaves in the turn its study was read (the rest of the request's path is promise callbacks).
  await new Promise((r) => setTimeout(r, 0));
}

describe("per-client in-flight limit", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it("answers UNAVAILABLE over the limit, per client, and serves other clients meanwhile", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => service.close());
    await service.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
    // Asks wait at a gate until the refusals are in: the first ten stay in flight however
    // slowly the frames arrive (a fixed delay would depend on the machine's speed).
    let open: () => void = () => undefined;
    const gate = new Promise<void>((r) => (open = r));
    const slowAsk = service.ask.bind(service);
    vi.spyOn(service, "ask").mockImplementation(async (...a) => {
      await gate;
      return slowAsk(...a);
    });
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger(), maxInflightPerClient: 10 });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());

    const greedy = new Dealer({ linger: 0 });
    const polite = new Dealer({ linger: 0 });
    cleanup.push(() => greedy.close(), () => polite.close());
    greedy.connect(endpoint as string);
    polite.connect(endpoint as string);

    for (let i = 0; i < 30; i++) await greedy.send(encode({ v: 1, id: `g${i}`, op: "ask", study: "s" }));
    await polite.send(encode({ v: 1, id: "p0", op: "list_studies" }));
    const [p] = await polite.receive();
    expect(decode(p as Buffer)).toMatchObject({ id: "p0", ok: true });

    const replies: { id: string; ok: boolean; error?: { code: string; message: string } }[] = [];
    while (replies.length < 20) replies.push(decode((await greedy.receive())[0] as Buffer) as (typeof replies)[number]);
    expect(replies.every((r) => !r.ok)).toBe(true); // nothing got through while ten were in flight
    open();
    while (replies.length < 30) replies.push(decode((await greedy.receive())[0] as Buffer) as (typeof replies)[number]);
    const refused = replies.filter((r) => !r.ok);
    expect(replies.filter((r) => r.ok)).toHaveLength(10);
    expect(refused).toHaveLength(20);
    for (const r of refused) {
      expect(r.error?.code).toBe("UNAVAILABLE");
      expect(r.error?.message).toMatch(/too many requests in flight/);
      expect(r.id).toMatch(/^g\d+$/);
    }
    // the slots free up: the same client is served again
    await greedy.send(encode({ v: 1, id: "again", op: "ask", study: "s" }));
    expect(decode((await greedy.receive())[0] as Buffer)).toMatchObject({ id: "again", ok: true });
  });

  it("says in data how many frames a client may send before its payload, as its message does (16 counted the routing id)", async () => {
    const { service } = await wideStudies(1, cleanup);
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const sock = new Dealer({ linger: 0, receiveTimeout: 10_000 });
    cleanup.push(() => sock.close());
    sock.connect(endpoint as string);
    const send = async (prefix: number) => {
      await sock.send([...Array.from({ length: prefix }, () => Buffer.alloc(0)), encode({ v: 1, id: `p${prefix}`, op: "list_studies" })]);
      const frames = await sock.receive();
      return decode(frames[frames.length - 1] as Buffer) as { ok: boolean; error?: { message: string; data: { max_prefix_frames: number } } };
    };
    const refused = await send(16);
    expect(refused.ok).toBe(false);
    const allowed = refused.error?.data.max_prefix_frames as number;
    expect(refused.error?.message).toMatch(new RegExp(`at most ${allowed} frames before its payload`));
    expect((await send(allowed)).ok).toBe(true);
    expect((await send(allowed + 1)).ok).toBe(false);
  });

  it("keeps a bounded queue of replies for a client that never reads them, and serves others", async () => {
    // ~23 KB replies: a get_study of a study that declares 500 parameters.
    const { service, counter } = await wideStudies(500, cleanup);
    // All N taken: requests waiting for their turn count as in flight (fair-dispatch.ts), and the
    // flood comes faster than its turns, so with the default 1,000 most would be refusals (small ones).
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger(), maxInflightPerClient: 3000 });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const flood = new Dealer({ linger: 0, receiveHighWaterMark: 1 });
    const polite = new Dealer({ linger: 0 });
    cleanup.push(() => flood.close(), () => polite.close());
    flood.connect(endpoint as string);
    polite.connect(endpoint as string);

    const N = 3000; // three times REPLY_QUEUE
    await floodWide(flood, N, counter);
    await polite.send(encode({ v: 1, id: "p0", op: "list_studies" }));
    expect(decode((await polite.receive())[0] as Buffer)).toMatchObject({ id: "p0", ok: true });

    // Every reply was sent before this read: what arrives is what the server kept (at most
    // REPLY_QUEUE), what the socket buffers hold, and the client's own one-message queue. The
    // first REPLY_QUEUE are owed, so they are read with a hang guard only (a busy machine's stall
    // must not cut the lower bound short); how many more come is not known, so a 2 s silence ends
    // the read after them (stopping early can only lower the count, which the upper bound allows).
    flood.receiveTimeout = 60_000;
    let got = 0;
    try {
      for (;;) {
        expect(decode((await flood.receive())[0] as Buffer)).toMatchObject({ ok: true });
        if (++got === REPLY_QUEUE) flood.receiveTimeout = 2000;
      }
    } catch {
      // timed out: nothing more is coming
    }
    expect(got).toBeGreaterThanOrEqual(REPLY_QUEUE);
    expect(got).toBeLessThan(N); // with ZeroMQ's default queue (100,000) all of them waited in the server's memory
  }, 120_000);

  it("refuses big replies while unsent replies hold more than max_reply_bytes, small ones still go, and recovers", async () => {
    // ~0.75 MB replies: a get_study of a study that declares 20,000 parameters.
    const { service, counter } = await wideStudies(20_000, cleanup);
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    // One such reply encoded first: the codec's buffer grows to its size once, and that growth
    // (megabytes of ArrayBuffers) landed between the baseline below and the server's first reply,
    // which a loaded clean-clone run then refused for memory (first.ok false).
    encode({ v: 1, id: "warm", ok: true, result: await service.execute("get_study", { study: "wide" }) });
    // The baseline once what earlier tests' sockets held stops going down (ZeroMQ's thread frees it).
    for (let i = 0, before = Number.POSITIVE_INFINITY; i < 20; i++) {
      gc();
      const held = bufferBytes();
      if (held > before - 64 * 1024) break;
      before = held;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ceiling = bufferBytes() + 4 * 1024 * 1024;
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger(), maxReplyBytes: ceiling });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const flood = new Dealer({ linger: 0, receiveHighWaterMark: 1, receiveBufferSize: 4096 });
    const polite = new Dealer({ linger: 0 });
    cleanup.push(() => flood.close(), () => polite.close());
    flood.connect(endpoint as string);
    polite.connect(endpoint as string);
    const ask = async (id: string, op: string, args: Record<string, unknown> = {}) => {
      await polite.send(encode({ v: 1, id, op, ...args }));
      return decode((await polite.receive())[0] as Buffer) as { ok: boolean; error?: { code: string; message: string; data?: Record<string, unknown> } };
    };
    const first = await ask("size", "get_study", { study: "wide" });
    expect(first.ok).toBe(true);
    const replyBytes = encode(first).byteLength;
    expect(replyBytes).toBeGreaterThan(BIG_REPLY_BYTES);

    // 110 MB of replies against a ceiling 4 MiB above what the process held; the kernel's socket
    // buffers on loopback take up to a few tens of MB of them off the server whatever it does.
    const N = 150;
    await floodWide(flood, N, counter);
    // A reply goes out only while what is held (itself included) is under the ceiling.
    expect(await heldAfterGc(gc, ceiling + replyBytes)).toBeLessThan(ceiling + replyBytes);
    expect(await ask("small", "get_study", { study: "narrow" })).toMatchObject({ ok: true });

    // Every request gets a reply or a refusal, so read until all N are in. The timeout is a hang
    // guard only: on a busy machine a 0.75 MB reply can take seconds to come.
    flood.receiveTimeout = 60_000;
    const refusals: { code: string; message: string; data?: Record<string, unknown> }[] = [];
    let sent = 0;
    try {
      while (sent + refusals.length < N) {
        const r = decode((await flood.receive())[0] as Buffer) as { ok: boolean; error?: (typeof refusals)[number] };
        if (r.ok) sent++;
        else refusals.push(r.error as (typeof refusals)[number]);
      }
    } catch {
      // timed out: a reply was lost (the assertion below says how many)
    }
    expect(sent + refusals.length).toBe(N);
    expect(sent * replyBytes).toBeLessThan(60 * 1024 * 1024); // with no ceiling, all 150 (110 MB) went
    expect(refusals.length).toBeGreaterThan(0);
    for (const e of refusals) {
      expect(e.code).toBe("UNAVAILABLE");
      expect(e.data).toMatchObject({ reason: "memory", max_reply_bytes: ceiling });
      expect(e.message).toMatch(/retry with the same id later/);
    }

    // Once the client has read them (or left), the memory is free and big replies go out again.
    await heldAfterGc(gc, ceiling);
    expect(await ask("again", "get_study", { study: "wide" })).toMatchObject({ ok: true });
  }, 120_000);

  it("bounds what clients that never read can hold with small replies too: past the headroom they are refused, and recover", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => service.close());
    await service.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
    // A trial whose reply is just under BIG_REPLY_BYTES (a 63,000-character user attribute).
    const { trial } = await service.execute("add_trial", { study: "s", params: { x: 0.5 }, value: 1, user_attrs: { blob: "u".repeat(63_000) } });
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    gc();
    const ceiling = bufferBytes() + 4 * 1024 * 1024;
    const headroom = 4 * 1024 * 1024;
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger(), maxReplyBytes: ceiling, smallReplyHeadroomBytes: headroom });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const polite = new Dealer({ linger: 0, receiveTimeout: 60_000 }); // a hang guard
    cleanup.push(() => polite.close());
    polite.connect(endpoint as string);
    const ask = async (id: string, op = "get_study", args: Record<string, unknown> = { study: "s" }) => {
      await polite.send(encode({ v: 1, id, op, ...args }));
      return decode((await polite.receive())[0] as Buffer) as { ok: boolean; error?: { code: string; data?: Record<string, unknown> } };
    };
    const probe = encode(await ask("size", "trial", { study: "s", trial: trial.number })).byteLength;
    expect(probe).toBeLessThan(BIG_REPLY_BYTES);
    expect(probe).toBeGreaterThan(60_000);

    // Ten clients that never read, each asking for REPLY_QUEUE such replies: ~630 MB without a bound.
    const floods = Array.from({ length: 10 }, () => new Dealer({ linger: 0, receiveHighWaterMark: 1, receiveBufferSize: 4096 }));
    for (const f of floods) {
      f.connect(endpoint as string);
      cleanup.push(() => f.close());
    }
    for (let i = 0; i < REPLY_QUEUE; i++)
      for (const [k, f] of floods.entries()) await f.send(encode({ v: 1, id: `f${k}-${i}`, op: "trial", study: "s", trial: trial.number }));
    // The server holds no more than the ceiling, the headroom and what passes between two looks;
    // the first reply to a client that reads once it does is a refusal it can retry.
    let refused: Awaited<ReturnType<typeof ask>> | undefined;
    for (let i = 0; i < 600 && refused?.ok !== false; i++) {
      refused = await ask(`while-full-${i}`);
      if (refused.ok) await new Promise((r) => setTimeout(r, 100));
    }
    expect(refused).toMatchObject({ ok: false, error: { code: "UNAVAILABLE", data: { reason: "memory" } } });
    expect(await heldAfterGc(gc, ceiling + headroom + 16 * 1024 * 1024)).toBeLessThan(ceiling + headroom + 16 * 1024 * 1024);

    // Once they leave, the memory is freed and small replies go out again.
    for (const f of floods) f.close();
    let again = refused as Awaited<ReturnType<typeof ask>>;
    for (let i = 0; i < 600 && !again.ok; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await ask(`again-${i}`);
    }
    expect(again.ok).toBe(true);
  }, 180_000);

  it("reads how much its buffers hold without process.memoryUsage(), which opens /proc/self/statm per look", async () => {
    const { service } = await wideStudies(2_000, cleanup);
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const worker = new Dealer({ linger: 0, receiveTimeout: 60_000 }); // a hang guard
    cleanup.push(() => worker.close());
    worker.connect(endpoint as string);
    // Observed, not replaced: a small reply looks at the buffers at most once per HELD_CHECK_MS, a big
    // one ("wide"'s get_study, 2,000 parameters) every time.
    const looks = vi.spyOn(process, "memoryUsage");
    cleanup.push(() => looks.mockRestore());
    for (let i = 0; i < 5; i++) {
      await worker.send(encode({ v: 1, id: `a${i}`, op: "ask", study: "narrow" }));
      const asked = decode((await worker.receive())[0] as Buffer) as { ok: boolean; result: { trial: number } };
      expect(asked.ok).toBe(true);
      await worker.send(encode({ v: 1, id: `t${i}`, op: "get_study", study: "wide" }));
      const got = (await worker.receive())[0] as Buffer;
      expect(got.byteLength).toBeGreaterThan(BIG_REPLY_BYTES);
      expect(decode(got)).toMatchObject({ id: `t${i}`, ok: true });
      await new Promise((r) => setTimeout(r, 10)); // past HELD_CHECK_MS: the next small reply looks again
    }
    expect(looks).not.toHaveBeenCalled();
  });
});
