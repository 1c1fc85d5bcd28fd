/**
 * Worker identity (issue 16): the holder of a trial, recorded by `ask` from what the transport
 * knows — a ZeroMQ client's `hello` (real sockets, a real server), an MCP agent's session — and
 * read back in the trial, the table row and the studies overview.
 */
import { hostname } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { Dealer, context } from "zeromq";
import { workerIdentity, workerLabel } from "../../domain/worker.js";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { serviceBackend } from "../mcp/backend.js";
import { decode, encode } from "./codec.js";
import { ZmqClient } from "./zmq-client.js";
import { ZmqServer } from "./zmq-server.js";

context.blocky = false;

describe("worker identity", () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function setup() {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(() => storage.close(), () => service.close());
    await service.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } }, lease_ttl_s: 600 });
    const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    cleanup.push(() => server.close());
    return { service, endpoint: endpoint as string };
  }

  it("records the hello identity of the client that asked, per client, and shows it as the live workers", async () => {
    const { service, endpoint } = await setup();
    const ts = new ZmqClient(endpoint);
    await ts.connect();
    cleanup.push(() => ts.close());
    // A client that says who it is (as the Python client does), and one that sends no hello.
    const named = new Dealer({ linger: 0 });
    const anonymous = new Dealer({ linger: 0 });
    cleanup.push(() => named.close(), () => anonymous.close());
    named.connect(endpoint);
    anonymous.connect(endpoint);
    const call = async (d: Dealer, msg: Record<string, unknown>) => {
      await d.send(encode({ v: 1, ...msg }));
      const r = decode((await d.receive())[0] as Buffer) as { ok: boolean; result: any };
      expect(r.ok, JSON.stringify(r)).toBe(true);
      return r.result;
    };
    const long = "h".repeat(5000);
    await call(named, { id: "h1", op: "hello", client: { name: "tuneport-python", version: "0.1.0", host: "gpu-7", pid: 4242, extra: { big: long } } });
    const byNamed = (await call(named, { id: "a1", op: "ask", study: "s" })).trial.number as number;
    const byAnon = (await call(anonymous, { id: "a2", op: "ask", study: "s" })).trial.number as number;
    const byTs = ((await ts.call("ask", { study: "s" })) as { trial: { number: number } }).trial.number;

    const attr = async (n: number) => (await service.getTrial({ study: "s", trial: n })).system_attrs.worker;
    expect(await attr(byNamed)).toEqual({ transport: "zmq", name: "tuneport-python", version: "0.1.0", host: "gpu-7", pid: 4242 });
    expect(await attr(byAnon)).toEqual({ transport: "zmq" });
    expect(await attr(byTs)).toEqual({ transport: "zmq", name: "tuneport-ts", host: hostname(), pid: process.pid });

    const rows = (await service.execute("query_trials", { study: "s", sort: "worker", limit: 10 })).rows;
    const label = new Map(rows.map((r) => [r.number, r.worker]));
    expect(label.get(byNamed)).toBe("gpu-7:4242 (tuneport-python)");
    expect(label.get(byAnon)).toBe("zmq");
    expect(label.get(byTs)).toBe(`${hostname()}:${process.pid} (tuneport-ts)`);
    expect(rows.map((r) => r.worker)).toEqual([...rows.map((r) => r.worker)].sort());

    const [o] = (await service.execute("studies_overview", {})).studies;
    expect(o?.live_workers).toBe(3);
    expect(o?.workers).toEqual(["gpu-7:4242 (tuneport-python)", `${hostname()}:${process.pid} (tuneport-ts)`, "zmq"].sort());
  });

  it("attributes an MCP agent's asks to its session, and bounds what a client says about itself", async () => {
    const { service } = await setup();
    const backend = serviceBackend(service).as?.(() => workerIdentity("mcp", { session: "3f1c-session", name: "claude-code", version: "2.0" }));
    expect(backend).toBeDefined();
    const asked = await backend?.call("ask", { study: "s" });
    const w = (await service.getTrial({ study: "s", trial: asked?.trial.number as number })).system_attrs.worker;
    expect(w).toEqual({ transport: "mcp", session: "3f1c-session", name: "claude-code", version: "2.0" });
    expect(workerLabel(w)).toBe("mcp session 3f1c-ses (claude-code)");
    // Plain MCP (stdio) without a session: the transport alone.
    const plain = await serviceBackend(service).call("ask", { study: "s" });
    expect((await service.getTrial({ study: "s", trial: plain.trial.number })).system_attrs.worker).toEqual({ transport: "mcp" });

    const odd = workerIdentity("zmq", { name: "n".repeat(1000), host: 7, pid: -3, session: "", version: "v" });
    expect(odd).toEqual({ transport: "zmq", name: "n".repeat(200), version: "v" });
    expect(workerLabel(null)).toBeNull();
    expect(workerLabel({ transport: "zmq", pid: 5 })).toBe("zmq");
  });
});
