/**
 * The Node ZeroMQ client (`tuneport mcp --connect`) refuses a request over the server's
 * `max_message_bytes` unsent. It learnt that limit once, at connect: after the server restarted
 * with a larger --max-message-bytes, a request the server takes was refused here for ever. A
 * request over the known limit now asks `hello` again first, and a refusal naming a smaller limit
 * is learnt (the next request over it is refused unsent). Real server processes, one database,
 * the same endpoint (a port picked once) across the restart.
 */
import { type Socket, createServer } from "node:net";
import { join } from "node:path";
import { Dealer } from "zeromq";
import { afterAll, describe, expect, it } from "vitest";
import { TuneportError } from "../src/domain/errors.js";
import { encode } from "../src/transports/zmq/codec.js";
import { ZmqClient } from "../src/transports/zmq/zmq-client.js";
import { errorResult } from "../src/transports/mcp/format.js";
import { waitFor } from "../src/testing/waits.js";
import { TestClient, freePort, startServer, stopServers, tempDir } from "./helpers.js";

afterAll(stopServers);

const SMALL = 16 * 1024;
const LARGE = 256 * 1024;
// 40 KB of user_attrs: over SMALL, within LARGE.
const big = (name: string) => ({ name, space: { x: { type: "float", low: 0, high: 1 } }, user_attrs: { note: "x".repeat(40_000) } });

describe("ZmqClient's known max_message_bytes", () => {
  it("is asked again before a request over it is refused: a server restarted with a larger limit takes it", async () => {
    const db = join(tempDir(), "relearn.db");
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    let server = await startServer(db, ["--max-message-bytes", String(SMALL)], endpoint);
    const client = new ZmqClient(endpoint, { timeoutMs: 60_000 });
    try {
      await client.connect();
      const refused = await client.call("create_study", big("a")).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TuneportError);
      expect(refused).toMatchObject({ code: "MESSAGE_TOO_LARGE", data: { max_message_bytes: SMALL } });
      expect(await server.stop()).toBe(0);
      server = await startServer(db, ["--max-message-bytes", String(LARGE)], endpoint);
      // The same client, its socket reconnected by ZeroMQ: the request reaches the new server.
      await expect(client.call("create_study", big("a"))).resolves.toMatchObject({ created: true, study: { name: "a" } });
      // Over the new limit too: refused here, with the limit the server has now.
      const still = await client.request("list_studies", { pad: "x".repeat(LARGE + 1) }).catch((e: unknown) => e);
      expect(still).toMatchObject({ code: "MESSAGE_TOO_LARGE", data: { max_message_bytes: LARGE } });
    } finally {
      await client.close();
      await server.stop();
    }
  }, 180_000);

  it("is learnt from a refusal naming a smaller limit: the server restarted with one refuses once, then this client refuses unsent", async () => {
    const db = join(tempDir(), "shrink.db");
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    let server = await startServer(db, ["--max-message-bytes", String(LARGE)], endpoint);
    const client = new ZmqClient(endpoint, { timeoutMs: 60_000 });
    // 20 KB: over SMALL, within twice SMALL (a frame over twice the limit is dropped unanswered).
    const mid = (name: string) => ({ ...big(name), user_attrs: { note: "x".repeat(20_000) } });
    try {
      await client.connect();
      await expect(client.call("create_study", mid("a"))).resolves.toMatchObject({ created: true });
      expect(await server.stop()).toBe(0);
      server = await startServer(db, ["--max-message-bytes", String(SMALL)], endpoint);
      const first = await client.call("create_study", mid("b")).catch((e: unknown) => e);
      expect(first).toMatchObject({ code: "MESSAGE_TOO_LARGE", data: { max_message_bytes: SMALL } });
      expect((first as Error).message).not.toContain("nothing was sent"); // the server's refusal
      const second = await client.call("create_study", mid("b")).catch((e: unknown) => e);
      expect(second).toMatchObject({ code: "MESSAGE_TOO_LARGE", data: { max_message_bytes: SMALL } });
      expect((second as Error).message).toContain("nothing was sent");
    } finally {
      await client.close();
      await server.stop();
    }
  }, 180_000);

  it("notices that the server dropped its connection for a frame over twice the limit: refuses that request at once, resends the others", async () => {
    // Before, the request over twice a restarted server's smaller limit, and every request sent after it
    // on the same connection, waited out the client's whole timeout (here 10 minutes, a hang guard).
    const db = join(tempDir(), "dropped.db");
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    let server = await startServer(db, ["--max-message-bytes", String(LARGE)], endpoint);
    const client = new ZmqClient(endpoint, { timeoutMs: 600_000 });
    try {
      await client.connect();
      expect(await server.stop()).toBe(0);
      server = await startServer(db, ["--max-message-bytes", String(SMALL)], endpoint);
      // Another client's oversized frame: that connection is dropped, nobody else's.
      const other = new Dealer({ linger: 0 });
      other.connect(endpoint);
      await other.send(encode({ v: 1, id: "huge", op: "list_studies", pad: "x".repeat(3 * SMALL) }));
      // 40 KB, over twice SMALL: the server drops it unread, with this client's connection, and the request after it.
      const [dropped, after] = await Promise.all([
        client.call("create_study", big("a")).catch((e: unknown) => e),
        client.call("create_study", { name: "small", space: { x: { type: "float", low: 0, high: 1 } } }),
      ]);
      expect(dropped).toBeInstanceOf(TuneportError);
      expect(dropped).toMatchObject({ code: "MESSAGE_TOO_LARGE", data: { max_message_bytes: SMALL, disconnected: true, outcome_unknown: true } });
      expect((dropped as Error).message).toMatch(/closed this client's connection: this create_study request of \d+ bytes is over its limit of 16384.*may or may not have been applied/);
      expect(after).toMatchObject({ created: true, study: { name: "small" } });
      const check = new TestClient(endpoint);
      expect((await check.call("list_studies")).studies.map((x: { name: string }) => x.name)).toEqual(["small"]);
      await check.close();
      other.close();
    } finally {
      await client.close();
      await server.stop();
    }
  }, 180_000);

  it("resends at once the requests in flight on a connection that closed (a server killed and started again)", async () => {
    // Before, a request the server had not read when it went waited out the client's whole timeout.
    const db = join(tempDir(), "killed.db");
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    let server = await startServer(db, [], endpoint);
    const client = new ZmqClient(endpoint, { timeoutMs: 600_000 });
    try {
      await client.connect();
      await client.call("create_study", { name: "kept", space: { x: { type: "float", low: 0, high: 1 } } });
      server.proc.kill("SIGSTOP"); // the request below reaches the server's socket, unread
      const listed = client.call("list_studies", {});
      await new Promise((r) => setTimeout(r, 200));
      expect(await server.stop("SIGKILL")).toBe(null);
      server = await startServer(db, [], endpoint);
      expect((await listed).studies.map((x) => x.name)).toEqual(["kept"]);
    } finally {
      await client.close();
      await server.stop();
    }
  }, 180_000);
  it("does not say nothing was applied of a change over a restarted server's smaller limit: the server before may have applied it", async () => {
    // The change reached a server with the larger limit, which applied it; its reply was lost (here a
    // proxy swallows it; a crash, a network fault); that server stopped and one with a smaller limit
    // took its place. The client cannot tell this from a frame the new server dropped unread.
    const db = join(tempDir(), "applied.db");
    const serverPort = await freePort();
    let proxyPort = await freePort();
    while (proxyPort === serverPort) proxyPort = await freePort();
    const endpoint = `tcp://127.0.0.1:${serverPort}`;
    let server = await startServer(db, ["--max-message-bytes", String(LARGE)], endpoint);
    let swallowed = 0;
    let swallow = false;
    const sockets = new Set<Socket>();
    const proxy = createServer((down) => {
      const up = new (down.constructor as typeof Socket)();
      up.connect(serverPort, "127.0.0.1");
      for (const s of [down, up]) {
        sockets.add(s);
        s.on("error", () => undefined);
        s.on("close", () => {
          sockets.delete(s);
          down.destroy();
          up.destroy();
        });
      }
      down.on("data", (d: Buffer) => up.write(d));
      up.on("data", (d: Buffer) => (swallow ? (swallowed += d.byteLength) : down.write(d)));
    });
    await new Promise<void>((r) => proxy.listen(proxyPort, "127.0.0.1", r));
    const client = new ZmqClient(`tcp://127.0.0.1:${proxyPort}`, { timeoutMs: 600_000 });
    try {
      await client.connect();
      swallow = true;
      const change = client.call("create_study", big("a")).catch((e: unknown) => e);
      await waitFor(async () => swallowed >= 40_000, 60_000); // its reply, lost
      swallow = false;
      expect(await server.stop()).toBe(0);
      server = await startServer(db, ["--max-message-bytes", String(SMALL)], endpoint);
      const refused = await change;
      const check = new TestClient(endpoint);
      expect((await check.call("list_studies")).studies.map((x: { name: string }) => x.name)).toEqual(["a"]); // it was applied
      await check.close();
      expect(refused).toMatchObject({ code: "MESSAGE_TOO_LARGE", data: { max_message_bytes: SMALL, disconnected: true, outcome_unknown: true } });
      expect((refused as Error).message).not.toMatch(/nothing was applied/);
      expect((refused as Error).message).toMatch(/may or may not have been applied/);
      // What `tuneport mcp --connect` tells the agent: check before calling again (not "Nothing was applied").
      expect(JSON.stringify(errorResult(refused as TuneportError).content)).toMatch(/The change may have been applied: check first/);
    } finally {
      await client.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => proxy.close(r));
      await server.stop();
    }
  }, 180_000);
});
