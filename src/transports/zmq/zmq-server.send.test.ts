/**
 * The reply path sends each reply inside the call that produced it (`sendTimeout: 0`, no promise
 * chain): replies produced together (a group commit answers many requests in one turn) must all
 * leave, each once, to the client that asked, and a reply to a client that is gone is dropped
 * without disturbing the others.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Dealer, context } from "zeromq";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { decode, encode } from "./codec.js";
import { ZmqServer } from "./zmq-server.js";

context.blocky = false;

type Reply = { id: string; ok: boolean; result?: { trial: { number: number } } };

describe("reply path", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  /** A server on an in-memory database with one random-strategy study "s" over `space`: its endpoint. */
  async function serve(space: Record<string, unknown>): Promise<string> {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => service.close());
    await service.createStudy({ name: "s", space, strategy: "random" });
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    return endpoint as string;
  }

  it("delivers every reply of pipelined requests from several clients once, to the client that asked", async () => {
    const endpoint = await serve({ x: { type: "float", low: 0, high: 1 } });

    const N = 400;
    const clients = [0, 1, 2].map(() => {
      const d = new Dealer({ linger: 0 });
      d.connect(endpoint as string);
      cleanup.push(() => d.close());
      return d;
    });
    // A client that asks and leaves at once: its replies have nowhere to go.
    const gone = new Dealer({ linger: 0 });
    gone.connect(endpoint as string);
    for (let i = 0; i < 20; i++) await gone.send(encode({ v: 1, id: `gone${i}`, op: "ask", study: "s" }));
    gone.close();
    // Every request is sent before any reply is read, so replies are produced many to a turn.
    await Promise.all(clients.map(async (d, c) => {
      for (let i = 0; i < N; i++) await d.send(encode({ v: 1, id: `c${c}-${i}`, op: "ask", study: "s" }));
    }));
    const got = await Promise.all(
      clients.map(async (d) => {
        const replies: Reply[] = [];
        while (replies.length < N) replies.push(decode((await d.receive())[0] as Buffer) as Reply);
        return replies;
      }),
    );
    const numbers = new Set<number>();
    got.forEach((replies, c) => {
      expect(replies.every((r) => r.ok)).toBe(true);
      // each of this client's ids once, none of another client's
      expect(replies.map((r) => r.id).sort()).toEqual(Array.from({ length: N }, (_, i) => `c${c}-${i}`).sort());
      for (const r of replies) numbers.add(r.result?.trial.number as number);
    });
    expect(numbers.size).toBe(3 * N); // distinct trials: no reply was sent twice
    // The server still answers after the replies it could not deliver.
    const [d] = clients as [Dealer];
    await d.send(encode({ v: 1, id: "after", op: "list_studies" }));
    expect(decode((await d.receive())[0] as Buffer)).toMatchObject({ id: "after", ok: true });
  });

  it("answers UNAVAILABLE (retry) when handling a request throws after the op ran, and the retry with the same id gets the op's reply", async () => {
    const endpoint = await serve({ x: { type: "float", low: 0, high: 1 } });
    const d = new Dealer({ linger: 0 });
    d.connect(endpoint as string);
    cleanup.push(() => d.close());
    // A fault of the server's own between the op and its reply (a system call failing in the
    // memory check, as EMFILE did during a connection flood).
    const spy = vi.spyOn(ZmqServer.prototype as unknown as { withinMemory: () => Buffer }, "withinMemory").mockImplementationOnce(() => {
      throw new Error("EMFILE: too many open files");
    });
    cleanup.push(() => spy.mockRestore());
    await d.send(encode({ v: 1, id: "a1", op: "ask", study: "s" }));
    expect(decode((await d.receive())[0] as Buffer)).toMatchObject({ id: "a1", ok: false, error: { code: "UNAVAILABLE", data: { reason: "reply_failed" } } });
    await d.send(encode({ v: 1, id: "a1", op: "ask", study: "s", attempt: 1 }));
    const retry = decode((await d.receive())[0] as Buffer) as Reply;
    expect(retry).toMatchObject({ id: "a1", ok: true, result: { trial: { number: 0 } } });
    await d.send(encode({ v: 1, id: "a2", op: "ask", study: "s" }));
    expect(decode((await d.receive())[0] as Buffer)).toMatchObject({ id: "a2", ok: true, result: { trial: { number: 1 } } });
  });

  it("sends a mutation's result in the bytes packed for its stored reply: what encode gives, and what a retry gets", async () => {
    // A huge integer step makes params the integer pass rewrites (2^40 and beyond go as int 64).
    const endpoint = await serve({ x: { type: "float", low: 0, high: 1 }, n: { type: "int", low: 2 ** 40, high: 2 ** 41 } });
    const d = new Dealer({ linger: 0 });
    d.connect(endpoint as string);
    cleanup.push(() => d.close());
    const call = async (msg: Record<string, unknown>): Promise<Buffer> => {
      await d.send(encode(msg));
      return (await d.receive())[0] as Buffer;
    };
    const asked = await call({ v: 1, id: "p1", op: "ask", study: "s" });
    const reply = decode(asked) as { ok: boolean; result: { trial: { number: number; params: { n: number } }; lease: { token: string } } };
    expect(reply.ok).toBe(true);
    expect(reply.result.trial.params.n).toBeGreaterThanOrEqual(2 ** 40);
    expect(asked.toString("hex")).toBe(encode(reply).toString("hex"));
    expect((await call({ v: 1, id: "p1", op: "ask", study: "s", attempt: 1 })).toString("hex")).toBe(asked.toString("hex"));
    const tell = { v: 1, id: "p2", op: "tell", study: "s", trial: reply.result.trial.number, token: reply.result.lease.token, state: "COMPLETE", value: 2 ** 42 };
    const told = await call(tell);
    expect(decode(told)).toMatchObject({ ok: true, result: { trial: { value: 2 ** 42 } } });
    expect(told.toString("hex")).toBe(encode(decode(told)).toString("hex"));
    expect((await call({ ...tell, attempt: 1 })).toString("hex")).toBe(told.toString("hex"));
  });
});
