/**
 * What one ZeroMQ connection can make the server hold mid-frame: libzmq keeps what a peer sent of a
 * frame until it ends or the peer leaves, up to the socket's largest frame. That was 64 MiB whatever
 * `--max-message-bytes` (100 peers that each sent 20 MiB of a 63 MiB frame: 131 → 2,124 MiB RSS); it
 * is now twice `--max-message-bytes` (HARD_LIMIT_FACTOR): a peer declaring a larger frame is
 * disconnected at its header, and one within it still gets MESSAGE_TOO_LARGE with its request's id.
 * Raw ZMTP 3.0 peers against a real server (bench/zmq-partial-frames.mjs measures the memory).
 */
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encode } from "../src/transports/zmq/codec.js";
import { ZmqClient } from "../src/transports/zmq/zmq-client.js";
import { TuneportError } from "../src/domain/errors.js";
import { type ServerProcess, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

const MAX = 256 * 1024;
let server: ServerProcess;
let client: TestClient;

beforeAll(async () => {
  server = await startServer(join(tempDir(), "p.db"), ["--max-message-bytes", String(MAX)]);
  client = new TestClient(server.endpoint);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await stopServers();
});

/** A raw ZMTP 3.0 DEALER (NULL mechanism) that declares one frame of `declared` bytes and sends `sent` of it. */
function partialFrame(declared: number, sent: number): net.Socket {
  const port = Number(new URL(server.endpoint.replace("tcp://", "http://")).port);
  const greeting = Buffer.alloc(64);
  greeting[0] = 0xff;
  greeting[9] = 0x7f;
  greeting[10] = 3;
  greeting.write("NULL", 12);
  const prop = (n: string, v: string) => Buffer.concat([Buffer.from([n.length]), Buffer.from(n), Buffer.from([0, 0, 0, v.length]), Buffer.from(v)]);
  const body = Buffer.concat([Buffer.from([5]), Buffer.from("READY"), prop("Socket-Type", "DEALER")]);
  const head = Buffer.alloc(9);
  head[0] = 0x02; // a long frame, the last of its message
  head.writeBigUInt64BE(BigInt(declared), 1);
  const s = net.connect(port, "127.0.0.1", () => s.write(Buffer.concat([greeting, Buffer.from([0x04, body.length]), body, head, Buffer.alloc(sent, 0x61)])));
  s.on("error", () => undefined);
  s.on("data", () => undefined);
  return s;
}

/** Whether the server closed `s` within `ms` (a generous bound: it only tells a close from none). */
const closedWithin = (s: net.Socket, ms: number) =>
  new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    s.once("close", () => (clearTimeout(timer), resolve(true)));
  });

describe("a ZeroMQ peer's partial frame", () => {
  it("is dropped, and the peer disconnected, when it declares more than twice --max-message-bytes", async () => {
    const over = partialFrame(2 * MAX + 1, 64 * 1024);
    const within = partialFrame(2 * MAX, 64 * 1024);
    try {
      expect(await closedWithin(over, 20_000)).toBe(true);
      expect(within.destroyed).toBe(false); // a frame the server may still answer: kept until it ends
    } finally {
      over.destroy();
      within.destroy();
    }
    await expect(client.call("list_studies")).resolves.toMatchObject({ studies: [] });
  }, 60_000);

  it("within that bound is received and answered MESSAGE_TOO_LARGE with the request's id", async () => {
    const frame = encode({ v: 1, id: "big", op: "list_studies", pad: "x".repeat(MAX + 1000) });
    expect(frame.length).toBeLessThan(2 * MAX);
    expect(await client.raw(frame, "big")).toMatchObject({ id: "big", ok: false, error: { code: "MESSAGE_TOO_LARGE", data: { max_message_bytes: MAX } } });
  });

  it("is never sent by the Node client (tuneport mcp --connect): a request over the limit is refused MESSAGE_TOO_LARGE, not left without a reply", async () => {
    // Over twice the limit, this frame would disconnect the client: it waited out its timeout and
    // said "is the server running?".
    const node = new ZmqClient(server.endpoint, { timeoutMs: 20_000 });
    try {
      await node.connect();
      const refused = await node.request("list_studies", { pad: "x".repeat(3 * MAX) }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(TuneportError);
      expect(refused).toMatchObject({ code: "MESSAGE_TOO_LARGE", data: { max_message_bytes: MAX } });
      await expect(node.call("list_studies", {})).resolves.toMatchObject({ studies: [] });
    } finally {
      await node.close();
    }
  }, 60_000);
});
