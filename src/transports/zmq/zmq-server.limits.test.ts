import { afterEach, describe, expect, it, vi } from "vitest";
import { Dealer, context } from "zeromq";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { decode, encode } from "./codec.js";
import { REPLY_QUEUE, ZmqServer } from "./zmq-server.js";

context.blocky = false;

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

  it("keeps a bounded queue of replies for a client that never reads them, and serves others", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => service.close());
    // ~23 KB replies: a get_study of a study that declares 500 parameters.
    const space = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`parameter_${i}`, { type: "float", low: 0, high: 1 }]));
    await service.createStudy({ name: "wide", space });
    let answered = 0;
    const getStudy = service.getStudy.bind(service);
    vi.spyOn(service, "getStudy").mockImplementation(async (...a) => {
      const r = await getStudy(...a);
      answered++;
      return r;
    });
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const flood = new Dealer({ linger: 0, receiveHighWaterMark: 1 });
    const polite = new Dealer({ linger: 0 });
    cleanup.push(() => flood.close(), () => polite.close());
    flood.connect(endpoint as string);
    polite.connect(endpoint as string);

    const N = 3000; // three times REPLY_QUEUE
    for (let i = 0; i < N; i++) await flood.send(encode({ v: 1, id: `f${i}`, op: "get_study", study: "wide" }));
    // Until the server is done with them: each one is answered, or refused when max_inflight
    // requests were in flight at once (on a busy machine); either way it has a reply.
    let last = -1;
    let still = 0;
    while (answered < N && still < 10) {
      await new Promise((r) => setTimeout(r, 200));
      still = answered === last ? still + 1 : 0;
      last = answered;
    }
    await polite.send(encode({ v: 1, id: "p0", op: "list_studies" }));
    expect(decode((await polite.receive())[0] as Buffer)).toMatchObject({ id: "p0", ok: true });

    // Every reply was sent before this read: what arrives is what the server kept (at most
    // REPLY_QUEUE), what the socket buffers hold, and the client's own one-message queue.
    flood.receiveTimeout = 2000;
    let got = 0;
    try {
      for (;;) {
        expect(decode((await flood.receive())[0] as Buffer)).toMatchObject({ ok: true });
        got++;
      }
    } catch {
      // timed out: nothing more is coming
    }
    expect(got).toBeGreaterThanOrEqual(REPLY_QUEUE);
    expect(got).toBeLessThan(N); // with ZeroMQ's default queue (100,000) all of them waited in the server's memory
  }, 120_000);
});
