import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dealer } from "zeromq";
import { decode, encode } from "../src/transports/zmq/codec.js";
import { type Reply, type ServerProcess, TestClient, startServer, tempDir, stopServers } from "./helpers.js";

// A failed assertion or hook must not leave a server running.
afterAll(stopServers);

const SPACE = { x: { type: "float", low: -5, high: 5 }, n: { type: "int", low: 1, high: 8 } };

describe("ZeroMQ protocol v1 against a real server process", () => {
  let server: ServerProcess;
  let client: TestClient;

  beforeAll(async () => {
    server = await startServer(join(tempDir(), "db.sqlite"), ["--max-message-bytes", "65536", "--max-intermediate", "5000"]);
    client = new TestClient(server.endpoint);
    await client.call("create_study", { name: "s", space: SPACE, seed: 3 });
    const a = await client.call("ask", { study: "s" });
    await client.call("tell", { study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1.5 });
  });
  afterAll(async () => {
    await client.close();
    expect(await server.stop()).toBe(0);
  });

  it("negotiates the version in hello", async () => {
    const ok = await client.call("hello", { versions: [1, 2] });
    expect(ok.version).toBe(1);
    expect(ok.limits.max_message_bytes).toBe(65536);
    expect(ok.limits.max_intermediate).toBe(5000); // serve --max-intermediate
    expect(ok.envelope).toContain("attempt");
    const bad = await client.request("hello", { versions: [7] });
    expect(bad.error?.code).toBe("UNSUPPORTED_VERSION");
    const badEnvelope = await client.raw(encode({ v: 9, id: "v9", op: "hello" }), "v9");
    expect(badEnvelope.error).toMatchObject({ code: "UNSUPPORTED_VERSION", data: { supported: [1] } });
  });

  const garbage: [string, Buffer, string, string][] = [
    ["invalid msgpack", Buffer.from([0xc1, 0x00]), "null", "MALFORMED_MESSAGE"],
    ["truncated map", encode({ v: 1, id: "t", op: "ask", study: "s" }).subarray(0, 9), "null", "MALFORMED_MESSAGE"],
    ["a non-map", encode([1, 2, 3]), "null", "MALFORMED_MESSAGE"],
    ["a map without id", encode({ v: 1, op: "ask" }), "null", "MALFORMED_MESSAGE"],
    ["an unknown op", encode({ v: 1, id: "u1", op: "steal" }), "u1", "UNKNOWN_OP"],
    ["a missing field", encode({ v: 1, id: "m1", op: "ask" }), "m1", "INVALID_ARGUMENT"],
    ["a wrongly typed field", encode({ v: 1, id: "w1", op: "ask", study: 7 }), "w1", "INVALID_ARGUMENT"],
    ["an extra field", encode({ v: 1, id: "e1", op: "ask", study: "s", bogus: true }), "e1", "INVALID_ARGUMENT"],
    ["a negative attempt", encode({ v: 1, id: "a1", op: "ask", study: "s", attempt: -1 }), "a1", "INVALID_ARGUMENT"],
    ["a fractional attempt", encode({ v: 1, id: "a2", op: "ask", study: "s", attempt: 0.5 }), "a2", "INVALID_ARGUMENT"],
    ["a text attempt", encode({ v: 1, id: "a3", op: "ask", study: "s", attempt: "0" }), "a3", "INVALID_ARGUMENT"],
    ["an oversized message", encode({ v: 1, id: "big", op: "ask", study: "s", pad: "x".repeat(70_000) }), "big", "MESSAGE_TOO_LARGE"],
    ["an unknown study", encode({ v: 1, id: "n1", op: "ask", study: "nope" }), "n1", "NOT_FOUND"],
    ["a NaN result", encode({ v: 1, id: "nan", op: "tell", study: "s", trial: 0, token: "x", state: "COMPLETE", value: Number.NaN }), "nan", "INVALID_ARGUMENT"],
    ["a tell on a finished trial", encode({ v: 1, id: "fin", op: "tell", study: "s", trial: 0, token: "x", state: "COMPLETE", value: 1 }), "fin", "FAILED_PRECONDITION"],
    ["a bad distribution", encode({ v: 1, id: "bd", op: "create_study", name: "q", space: { a: { type: "float", low: 1, high: 0 } } }), "bd", "INVALID_ARGUMENT"],
    ["deep nesting", deeplyNested(100), "deep", "INVALID_ARGUMENT"],
    ["absurdly deep nesting", deeplyNested(20_000), "deep", "INVALID_ARGUMENT"], // refused before decoding, so its id is known
  ];

  it.each(garbage)("answers %s with a typed error and keeps serving", async (_name, frame, id, code) => {
    // The study as stored, without get_study's `now` (the server's clock at each read).
    const state = async () => {
      const { now, ...rest } = (await client.call("get_study", { study: "s" })) as { now?: number };
      expect(typeof now).toBe("number");
      return rest;
    };
    const before = await state();
    const r = await client.raw(frame, id);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe(code);
    expect(typeof r.error?.message).toBe("string");
    expect(await state()).toEqual(before);
  });

  it("echoes a routing prefix (REQ's delimiter, a proxy's id) but refuses junk frames before the payload without echoing them", async () => {
    const sock = new Dealer({ linger: 0 });
    sock.connect(server.endpoint);
    try {
      const ask = async (prefix: Buffer[], id: string) => {
        await sock.send([...prefix, encode({ v: 1, id, op: "get_study", study: "s" })]);
        const frames = await sock.receive();
        return { prefix: frames.slice(0, -1).map((f) => f.toString("hex")), reply: decode(frames[frames.length - 1] as Buffer) as Reply };
      };
      const routed = await ask([Buffer.alloc(0), Buffer.from("proxy-7")], "routed");
      expect(routed.prefix).toEqual(["", Buffer.from("proxy-7").toString("hex")]);
      expect(routed.reply.ok).toBe(true);
      // A 4 KiB frame before the payload (it used to be echoed, and held with every unread reply).
      const big = await ask([Buffer.alloc(4096, 1)], "big");
      expect(big.prefix).toEqual([]);
      expect(big.reply).toMatchObject({ id: "big", ok: false, error: { code: "MALFORMED_MESSAGE" } });
      expect(big.reply.error?.message).toMatch(/at most 256 bytes; frame 1 had 4096/);
      const many = await ask(Array.from({ length: 20 }, () => Buffer.alloc(0)), "many");
      expect(many.prefix).toEqual([]);
      expect(many.reply.error?.message).toMatch(/at most 15 frames before its payload.*it had 20/);
      // The socket is still served as before.
      expect((await ask([], "after")).reply.ok).toBe(true);
    } finally {
      sock.close();
    }
  });

  it("answers a retried ask with the same trial", async () => {
    const a = await client.call("ask", { study: "s" }, "same-id");
    const b = await client.call("ask", { study: "s" }, "same-id");
    expect(b).toEqual(a);
    // With the envelope's attempt: a first send (0), then its resend (1).
    const first = await client.raw(encode({ v: 1, id: "att-id", op: "ask", study: "s", attempt: 0 }), "att-id");
    expect(first.ok).toBe(true);
    expect(await client.raw(encode({ v: 1, id: "att-id", op: "ask", study: "s", attempt: 1 }), "att-id")).toEqual(first);
    await client.call("tell", { study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0 }, "tell-id");
    const again = await client.call("tell", { study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0 }, "tell-id");
    expect(again.trial.state).toBe("COMPLETE");
  });

  it("serves many concurrent requests on one socket", async () => {
    const replies = await Promise.all(Array.from({ length: 200 }, () => client.call("ask", { study: "s" })));
    expect(new Set(replies.map((r) => r.trial.number)).size).toBe(200);
  });
});

/** A set_user_attrs request whose attrs nest `depth` maps deep, built byte by byte (encoders recurse). */
function deeplyNested(depth: number): Buffer {
  const head = [encode("v"), encode(1), encode("id"), encode("deep"), encode("op"), encode("set_user_attrs"), encode("study"), encode("s"), encode("attrs")];
  const level = Buffer.from([0x81, 0xa1, 0x61]); // {"a": ...}
  return Buffer.concat([Buffer.from([0x85]), ...head, Buffer.alloc(level.length * depth).fill(level), Buffer.from([0x01])]);
}
