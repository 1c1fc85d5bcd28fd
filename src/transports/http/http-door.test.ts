/**
 * The door's own limits on connections, over real sockets: at most `maxConnections` open, and a
 * connection that never finishes its headers is closed (a peer holding sockets it does not use,
 * "slowloris", kept 2,000 of them open for Node's 60 s before).
 */
import { request } from "node:http";
import { type Socket, connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import { HttpDoor } from "./http-door.js";

let door: HttpDoor | null = null;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await door?.close();
  door = null;
});

async function open(maxConnections: number, headersTimeoutMs: number, requestTimeoutMs?: number, maxConnectionsPerAddress?: number): Promise<number> {
  door = new HttpDoor({
    logger: silentLogger(),
    component: "test",
    port: 0,
    allowHostOption: "--test-allow-host",
    refuse: (res, status, message) => res.writeHead(status).end(message),
    handle: async (req, res) => {
      for await (const _ of req); // the body, as the surfaces read it
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    },
    maxConnections,
    headersTimeoutMs,
    requestTimeoutMs,
    maxConnectionsPerAddress,
  });
  return door.start();
}

/** A socket that sends the start of a request and never its end. */
function partial(port: number, localAddress = "127.0.0.1"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: "127.0.0.1", localAddress }, () => {
      s.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      s.resume(); // read what the server sends (a 408), so its close is seen
      resolve(s);
    });
    s.on("error", reject);
    sockets.push(s);
  });
}

/** Resolves when the server closes `s` (the test's timeout only catches it never doing so). */
const closed = (s: Socket) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once("close", () => resolve())));

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve(`${res.statusCode} ${body}`));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("an HTTP door's connection limits", () => {
  it("closes a connection beyond maxConnections at once, and serves again once one is gone", async () => {
    const port = await open(3, 60_000);
    const held = [await partial(port), await partial(port), await partial(port)];
    const extra = await partial(port);
    await closed(extra);
    expect(held.every((s) => !s.destroyed)).toBe(true);
    held[0]!.destroy();
    await closed(held[0]!);
    // The server sees the close asynchronously: retry the request until a slot is free.
    let answer = "";
    for (let i = 0; i < 200 && answer === ""; i++) answer = await get(port).catch(() => "");
    expect(answer).toBe("200 ok");
  }, 20_000);

  it("closes a connection beyond one address's share, and keeps serving other addresses", async () => {
    // One peer's idle connections filled every slot: nobody else was answered until they timed out.
    const port = await open(10, 60_000, undefined, 2);
    const held = [await partial(port), await partial(port)];
    const extra = await partial(port);
    await closed(extra);
    expect(held.every((s) => !s.destroyed)).toBe(true);
    expect(door?.refusedConnections).toBe(1);
    const other = await partial(port, "127.0.0.2");
    other.write("\r\n");
    const answer = await new Promise<string>((resolve) => other.once("data", (d: Buffer) => resolve(d.toString())));
    expect(answer).toMatch(/^HTTP\/1.1 200/);
  }, 20_000);

  it("closes a connection that never finishes its headers", async () => {
    const port = await open(10, 500);
    const slow = await partial(port);
    await closed(slow);
    expect(await get(port)).toBe("200 ok");
  }, 20_000);

  it("closes a connection whose body never ends (it was held for Node's 300 s)", async () => {
    const port = await open(10, 500, 500);
    const slow = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => {
        s.write("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n0123456789");
        s.resume();
        resolve(s);
      });
      s.on("error", reject);
      sockets.push(s);
    });
    // A byte now and then does not keep it open: the whole request has its time.
    const drip = setInterval(() => !slow.destroyed && slow.write("x"), 100);
    await closed(slow);
    clearInterval(drip);
    expect(await get(port)).toBe("200 ok");
  }, 20_000);

  it("answers 500 when its handler throws after reading the body (Node has destroyed the request by then: it was taken for a client gone)", async () => {
    door = new HttpDoor({
      logger: silentLogger(),
      component: "test",
      port: 0,
      allowHostOption: "--test-allow-host",
      refuse: (res, status, message) => res.writeHead(status).end(message),
      handle: async (req) => {
        for await (const _ of req); // MCP and the dashboard read the body, then call what may fail
        throw new Error("EMFILE: too many open files");
      },
    });
    const port = await door.start();
    const answer = await new Promise<string>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/", method: "POST", agent: false }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve(`${res.statusCode} ${body}`));
      });
      req.on("error", reject); // before the fix: socket hang up
      req.end("{}");
    });
    expect(answer).toBe("500 internal server error");
  });
});
