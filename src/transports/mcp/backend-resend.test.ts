/**
 * `tuneport mcp --connect` (RemoteBackend) against an in-process server over real ZeroMQ sockets,
 * when the server handled a change but could not send its reply (UNAVAILABLE: over its memory
 * ceiling, or a fault of its own): the change is sent again with the same request id, so it is
 * applied once and answered, or reported with an unknown outcome; never passed on as "retry", which
 * an agent did with a new call (a new id), applying the change twice.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { context } from "zeromq";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { ZmqClient } from "../zmq/zmq-client.js";
import { ZmqServer } from "../zmq/zmq-server.js";
import { REMOTE_REFUSED_SENDS } from "../change-resend.js";
import { RemoteBackend } from "./backend.js";
import { errorResult } from "./format.js";

context.blocky = false;

describe("mcp --connect (RemoteBackend) when the server refuses to send a change's reply for now", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function connected(maxReplyBytes?: number) {
    const storage = new SqliteStorage({ path: ":memory:" });
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, ...(maxReplyBytes ? { maxReplyBytes } : {}) });
    cleanup.push(() => storage.close(), () => svc.close());
    // 300 declared parameters: every trial's reply is over 64 KiB (BIG_REPLY_BYTES), the replies the memory ceiling refuses.
    const space = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`parameter_${i}`.padEnd(200, "_"), { type: "float", low: 0, high: 1 }]));
    await svc.createStudy({ name: "s", space, strategy: "random" });
    const server = new ZmqServer(svc, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    const client = new ZmqClient(endpoint as string, { timeoutMs: 20_000 });
    await client.connect();
    const backend = new RemoteBackend(client, silentLogger());
    cleanup.push(() => backend.close());
    const params = Object.fromEntries(Object.keys(space).map((k) => [k, 0.5]));
    return { svc, backend, params };
  }

  const held = ZmqServer.prototype as unknown as { heldNow: (maxAgeMs: number) => number; withinMemory: () => Buffer };

  it("sends the change again with the same id on UNAVAILABLE (memory): applied once, answered", async () => {
    const { svc, backend, params } = await connected();
    // The door's buffers are over its ceiling when the enqueue's reply is ready, and not after.
    vi.spyOn(held, "heldNow").mockImplementationOnce(() => Number.MAX_SAFE_INTEGER);
    // Before: the agent got "UNAVAILABLE … retry in a few seconds", and its retry (a new request id) queued the trial twice.
    const { trial } = await backend.call("enqueue", { study: "s", params });
    expect(trial.number).toBe(0);
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(1);
  }, 60_000);

  it("sends the change again with the same id on UNAVAILABLE (reply_failed): applied once, answered", async () => {
    const { svc, backend, params } = await connected();
    vi.spyOn(held, "withinMemory").mockImplementationOnce(() => {
      throw new Error("EMFILE: too many open files");
    });
    const { trial } = await backend.call("enqueue", { study: "s", params });
    expect(trial.number).toBe(0);
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(1);
  }, 60_000);

  it("reports an unknown outcome, not 'retry', when every send is refused for memory", async () => {
    const { svc, backend, params } = await connected();
    vi.spyOn(held, "heldNow").mockImplementation(() => Number.MAX_SAFE_INTEGER);
    const err = await backend.call("enqueue", { study: "s", params }).catch((e: unknown) => e);
    expect((err as { data?: Record<string, unknown> }).data).toMatchObject({ outcome_unknown: true });
    expect(String((err as Error).message)).toContain(`after ${REMOTE_REFUSED_SENDS} sends`);
    const text = (errorResult(err as never).content[0] as { text: string }).text;
    expect(text).toContain("may have been applied: check first");
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(1);
  }, 60_000);

  it("passes a refusal of a change too big to send on at once, and the agent reads that nothing was applied", async () => {
    const { svc, backend, params } = await connected(32 * 1024);
    const err = await backend.call("enqueue", { study: "s", params }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("MESSAGE_TOO_LARGE");
    const text = (errorResult(err as never).content[0] as { text: string }).text;
    expect(text).toMatch(/nothing was applied/);
    expect(text).toContain("Next step: Nothing was applied: make the change smaller");
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(0);
  }, 60_000);
});
