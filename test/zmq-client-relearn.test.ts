/**
 * The Node ZeroMQ client (`tuneport mcp --connect`) refuses a request over the server's
 * `max_message_bytes` unsent. It learnt that limit once, at connect: after the server restarted
 * with a larger --max-message-bytes, a request the server takes was refused here for ever. A
 * request over the known limit now asks `hello` again first, and a refusal naming a smaller limit
 * is learnt (the next request over it is refused unsent). Real server processes, one database,
 * the same endpoint (a fixed port) across the restart.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TuneportError } from "../src/domain/errors.js";
import { ZmqClient } from "../src/transports/zmq/zmq-client.js";
import { startServer, stopServers, tempDir } from "./helpers.js";

afterAll(stopServers);

const SMALL = 16 * 1024;
const LARGE = 256 * 1024;
// 40 KB of user_attrs: over SMALL, within LARGE.
const big = (name: string) => ({ name, space: { x: { type: "float", low: 0, high: 1 } }, user_attrs: { note: "x".repeat(40_000) } });

describe("ZmqClient's known max_message_bytes", () => {
  it("is asked again before a request over it is refused: a server restarted with a larger limit takes it", async () => {
    const db = join(tempDir(), "relearn.db");
    const endpoint = "tcp://127.0.0.1:61931";
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
    const endpoint = "tcp://127.0.0.1:61932";
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
});
