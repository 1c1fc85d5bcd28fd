/**
 * A `hello` that waited for its turn behind its connection's other requests, and whose connection
 * closed meanwhile, still records the client's identity on that connection's session: the changes
 * it queued behind the hello keep it. A client that chose its routing id (ZMQ_ROUTING_ID) and
 * connects again has those asks run there (requesters.ts); dropped as a read, the hello left them
 * recorded as anonymous ("zmq"). In process: the test holds the thread while the requests and the
 * connection's end reach the server's libzmq, so that the server reads them in one go.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Dealer, context } from "zeromq";
import { silentLogger } from "../../logger.js";
import type { OpContext } from "../../service/ops/ops.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { waitFor } from "../../testing/waits.js";
import { decode, encode } from "./codec.js";
import { ZmqServer } from "./zmq-server.js";

context.blocky = false;

/** Holds this (the server's) thread for `ms`: libzmq's I/O threads go on sending and receiving. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe("a hello queued by a connection that closed", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it("still gives its identity to the asks queued behind it, which run on the routing id's next connection", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => service.close());
    for (const name of ["s", "t"]) await service.createStudy({ name, space: { x: { type: "float", low: 0, high: 1 } } });
    // Asks wait here until released (the study's turn comes after the client is back), then run.
    let release = (): void => undefined;
    const released = new Promise<void>((r) => (release = r));
    const asks: { study: string; worker: string | undefined }[] = [];
    const execute = service.execute.bind(service);
    vi.spyOn(service, "execute").mockImplementation(async (op: any, args: any, ctx?: OpContext) => {
      if (op === "ask") {
        asks.push({ study: args.study, worker: ctx?.worker?.name });
        await released;
      }
      return execute(op, args, ctx);
    });
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());

    const first = new Dealer({ linger: 5000, routingId: "worker-7" });
    cleanup.push(() => first.close());
    first.connect(endpoint as string);
    await first.send(encode({ v: 1, id: "g", op: "get_study", study: "s" }));
    expect(decode((await first.receive())[0] as Buffer)).toMatchObject({ id: "g", ok: true });
    // One ask in flight, then a hello and asks behind it; the connection closes before any has its turn.
    await first.send(encode({ v: 1, id: "t0", op: "ask", study: "t" }));
    await first.send(encode({ v: 1, id: "h", op: "hello", client: { name: "first" } }));
    for (let i = 0; i < 5; i++) await first.send(encode({ v: 1, id: `a${i}`, op: "ask", study: "s" }));
    busy(300);
    first.close();
    busy(300);
    await waitFor(async () => asks.length === 6, 30_000);
    // The client connects again under its routing id (a new socket), and is known to the server.
    const again = new Dealer({ linger: 0, routingId: "worker-7" });
    cleanup.push(() => again.close());
    again.connect(endpoint as string);
    await again.send(encode({ v: 1, id: "g2", op: "get_study", study: "s" }));
    await waitFor(async () => {
      const [f] = await again.receive();
      return (decode(f as Buffer) as { id: string }).id === "g2";
    }, 30_000);
    release();
    await waitFor(async () => (await service.execute("trials", { study: "s" })).trials.length === 5, 30_000);
    const { trials } = await service.execute("trials", { study: "s" });
    expect(asks.filter((a) => a.study === "s").map((a) => a.worker)).toEqual(Array(5).fill("first"));
    expect(trials.map((t: any) => t.system_attrs?.worker?.name)).toEqual(Array(5).fill("first"));
  }, 60_000);
});
