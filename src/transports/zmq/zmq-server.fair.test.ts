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
  }, 20_000);

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
});
