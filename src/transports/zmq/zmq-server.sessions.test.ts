/**
 * What a flood of connections costs the clients that said hello: the identity a `hello` gives a
 * connection (the holder recorded on the trials it asks for) is kept for it while it is active.
 * Real ZeroMQ sockets against an in-process server whose table of sessions is small (`maxSessions`).
 */
import { afterEach, describe, expect, it } from "vitest";
import { Dealer, context } from "zeromq";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { decode, encode } from "./codec.js";
import { ZmqServer } from "./zmq-server.js";

context.blocky = false;

type Reply = { id: string; ok: boolean; result?: any; error?: { code: string } };

describe("sessions under a flood of connections", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  const MAX = 8;

  async function serve() {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => service.close());
    await service.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger(), maxSessions: MAX });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    let n = 0;
    /** A connected client; `call` sends one request and waits for its reply (a hang guard only). */
    const client = () => {
      const d = new Dealer({ linger: 0, receiveTimeout: 30_000 });
      d.connect(endpoint as string);
      cleanup.push(() => d.close());
      return async (op: string, args: Record<string, unknown> = {}): Promise<Reply> => {
        const id = `r${n++}`;
        await d.send(encode({ v: 1, id, op, ...args }));
        const reply = decode((await d.receive())[0] as Buffer) as Reply;
        expect(reply).toMatchObject({ id, ok: true });
        return reply;
      };
    };
    /** The name of the holder recorded on the trial an `ask` of `call`'s connection gets ("anonymous" without one). */
    const holder = async (call: ReturnType<typeof client>): Promise<string> => {
      const { result } = await call("ask", { study: "s" });
      const { trials } = (await service.execute("trials", { study: "s" })) as { trials: any[] };
      const worker = trials.find((t) => t.number === result.trial.number)?.system_attrs?.worker;
      expect(worker).toMatchObject({ transport: "zmq" });
      return worker.name ?? "anonymous";
    };
    return { client, holder };
  }

  it("keeps a real client's identity however many connections come without a hello", async () => {
    const { client, holder } = await serve();
    const real = client();
    await real("hello", { client: { name: "real-worker" } });
    expect(await holder(real)).toBe("real-worker");
    // Each connects, sends one request, and idles: ten times the table's size.
    for (let i = 0; i < 10 * MAX; i++) await client()("get_study", { study: "s" });
    // Before: each took a place in the table until it closed, and pushed the real client's out: its
    // asks (and the leases on them) were recorded as anonymous.
    expect(await holder(real)).toBe("real-worker");
  }, 120_000);

  it("bounds the connections remembered with a hello, forgetting first the one whose last request is oldest", async () => {
    const { client, holder } = await serve();
    const real = client();
    await real("hello", { client: { name: "real-worker" } });
    const quiet = client();
    await quiet("hello", { client: { name: "quiet-worker" } });
    const others = [];
    for (let i = 0; i < 3 * MAX; i++) {
      const other = client();
      others.push(other);
      await other("hello", { client: { name: `other-${i}` } });
      // The real client keeps working meanwhile (a heartbeat's worth of requests).
      if (i % (MAX / 2) === 0) await real("get_study", { study: "s" });
    }
    // Before: the oldest hello went first, so the working client lost its identity as the quiet one did.
    expect(await holder(real)).toBe("real-worker");
    // The bound holds: the quiet connection and the first of the others were forgotten; a hello names them again.
    expect(await holder(quiet)).toBe("anonymous");
    expect(await holder(others[0] as ReturnType<typeof client>)).toBe("anonymous");
    expect(await holder(others.at(-1) as ReturnType<typeof client>)).toBe(`other-${3 * MAX - 1}`);
    await quiet("hello", { client: { name: "quiet-worker" } });
    expect(await holder(quiet)).toBe("quiet-worker");
  }, 120_000);
});
