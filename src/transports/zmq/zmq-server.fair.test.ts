import { afterEach, describe, expect, it, vi } from "vitest";
import { Dealer, context } from "zeromq";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { decode, encode } from "./codec.js";
import { ZmqServer } from "./zmq-server.js";

context.blocky = false;

/** Holds the server's one thread for `ms`, as a costly read does (a deep sorted page of a big study). */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe("fair dispatch between clients", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it("answers another client's requests behind a few of a client's pipelined slow reads, not all of them", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => service.close());
    await service.createStudy({ name: "big", space: { x: { type: "float", low: 0, high: 1 } } });
    await service.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
    // get_study of "big" costs 10 ms of the thread; the count is of those answered so far.
    const slow = { answered: 0 };
    const readStudy = service.readStudy.bind(service);
    vi.spyOn(service, "readStudy").mockImplementation(async (a) => {
      const r = await readStudy(a);
      if (a.study === "big") {
        busy(10);
        slow.answered++;
      }
      return r;
    });
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const a = new Dealer({ linger: 0 });
    const b = new Dealer({ linger: 0 });
    cleanup.push(() => a.close(), () => b.close());
    a.connect(endpoint as string);
    b.connect(endpoint as string);
    // B is connected and known to the server before A's flood.
    await b.send(encode({ v: 1, id: "b-hello", op: "hello" }));
    expect(decode((await b.receive())[0] as Buffer)).toMatchObject({ id: "b-hello", ok: true });

    const N = 200;
    for (let i = 0; i < N; i++) await a.send(encode({ v: 1, id: `a${i}`, op: "get_study", study: "big" }));
    const aReplies: string[] = [];
    const aDone = (async () => {
      while (aReplies.length < N) aReplies.push((decode((await a.receive())[0] as Buffer) as { id: string }).id);
    })();
    // The server is busy with A's reads when B's requests come: a hello, an ask and its tell.
    while (slow.answered === 0) await new Promise((r) => setTimeout(r, 5));
    const seen: number[] = [];
    await b.send(encode({ v: 1, id: "b1", op: "hello" }));
    expect(decode((await b.receive())[0] as Buffer)).toMatchObject({ id: "b1", ok: true });
    seen.push(slow.answered);
    await b.send(encode({ v: 1, id: "b2", op: "ask", study: "s" }));
    const asked = decode((await b.receive())[0] as Buffer) as { ok: boolean; result: { trial: { number: number }; lease: { token: string } } };
    expect(asked).toMatchObject({ ok: true });
    await b.send(encode({ v: 1, id: "b3", op: "tell", study: "s", trial: asked.result.trial.number, token: asked.result.lease.token, state: "COMPLETE", value: 1 }));
    expect(decode((await b.receive())[0] as Buffer)).toMatchObject({ id: "b3", ok: true });
    seen.push(slow.answered);
    // Three requests of B, one at a time: each waited behind a few of A's reads, not the 200.
    expect(seen[1] as number).toBeLessThan(40);
    await aDone;
    // A's own requests started (and here, being alike, finished) in the order it sent them.
    expect(aReplies).toEqual(Array.from({ length: N }, (_, i) => `a${i}`));
  });

  it("answers at a stop the requests still waiting for their turn (they count as in flight)", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => service.close());
    await service.createStudy({ name: "big", space: { x: { type: "float", low: 0, high: 1 } } });
    const readStudy = service.readStudy.bind(service);
    vi.spyOn(service, "readStudy").mockImplementation(async (a) => {
      const r = await readStudy(a);
      busy(10);
      return r;
    });
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    const a = new Dealer({ linger: 0, receiveTimeout: 30_000 }); // a hang guard only
    cleanup.push(() => a.close());
    a.connect(endpoint as string);
    const N = 40;
    for (let i = 0; i < N; i++) await a.send(encode({ v: 1, id: `a${i}`, op: "get_study", study: "big" }));
    const ids: string[] = [(decode((await a.receive())[0] as Buffer) as { id: string }).id];
    const closed = server.close(); // most of A's requests are still queued
    try {
      while (ids.length < N) ids.push((decode((await a.receive())[0] as Buffer) as { id: string; ok: boolean }).id);
    } catch {
      // timed out: the replies missing are counted below
    }
    await closed;
    expect(ids).toEqual(Array.from({ length: N }, (_, i) => `a${i}`));
  }, 60_000);

  it("drains each client's count and queue, also of clients that left with requests queued", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => service.close());
    await service.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const inside = server as unknown as { perClient: Map<string, number>; fair: { queued: number } };
    // Three clients pipeline 40 requests each (all but the first queued) and close at once.
    for (let c = 0; c < 3; c++) {
      const d = new Dealer({ linger: 0 });
      d.connect(endpoint as string);
      for (let i = 0; i < 40; i++) await d.send(encode({ v: 1, id: `gone${c}-${i}`, op: i % 2 ? "ask" : "trials", study: "s" }));
      d.close();
    }
    // Four stay, each pipelining rounds of asks, reads and hellos: every one is answered.
    const stay = Array.from({ length: 4 }, () => new Dealer({ linger: 0, receiveTimeout: 30_000 })); // a hang guard only
    cleanup.push(() => stay.forEach((d) => d.close()));
    await Promise.all(
      stay.map(async (d, c) => {
        d.connect(endpoint as string);
        for (let round = 0; round < 3; round++) {
          const ids = Array.from({ length: 30 }, (_, i) => `c${c}-${round}-${i}`);
          for (const [i, id] of ids.entries()) await d.send(encode({ v: 1, id, op: ["ask", "trials", "hello"][i % 3], study: "s" }));
          const got: string[] = [];
          while (got.length < ids.length) got.push((decode((await d.receive())[0] as Buffer) as { id: string }).id);
          expect(got.sort()).toEqual(ids.sort());
        }
      }),
    );
    // The departed clients' requests run too (their replies go nowhere); then nothing is left counted.
    for (let t = 0; t < 1500 && (inside.perClient.size > 0 || inside.fair.queued > 0); t++) await new Promise((r) => setTimeout(r, 20));
    expect([...inside.perClient]).toEqual([]);
    expect(inside.fair.queued).toBe(0);
  }, 60_000);
});
