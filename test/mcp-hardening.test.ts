/**
 * MCP over HTTP and stdio as real processes (issue 11 §3, §6): DNS rebinding protection
 * (the `dns-rebinding-protection` scenario of @modelcontextprotocol/conformance, plus an
 * allow-list), bytes that are not UTF-8 refused, SIGTERM answering a pending
 * `wait_for_progress` before the process exits, and a stdio client that closes stdout.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type CallToolResult, McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLI, Procs, call, connectStdio, exited, readyMcpPort, requireBuild, tempDir, waitForOutput } from "./mcp-helpers.js";
import { startServer as startZmqServer, stopServers } from "./helpers.js";

const TOKEN = "test-token-0123456789abcdef";
const procs = new Procs();
const cleanups: (() => Promise<void> | void)[] = [];
/** Generous: the process must exit long before a 50 s wait would have timed out on its own. */
const EXIT_GUARD_MS = 30_000;

beforeAll(requireBuild);
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await procs.killAll();
  await stopServers();
});

async function startServer(extra: string[] = []): Promise<{ port: number; proc: ReturnType<Procs["spawn"]> }> {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  // Ports bound by the server itself (0, *): no window for another socket to take them.
  const proc = procs.spawn([CLI, "serve", "--storage", join(tmp.dir, "h.db"), "--bind", "tcp://127.0.0.1:*", "--mcp-http", "0", ...extra], {
    TUNEPORT_MCP_TOKEN: TOKEN,
  });
  return { port: readyMcpPort(await waitForOutput(proc.out, (s) => s.includes("tuneport ready"))), proc };
}

const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "dns-rebinding-test", version: "1" } },
});

/** A raw POST to 127.0.0.1:port/mcp with the given Host (and Origin) headers. */
function post(port: number, headers: Record<string, string>, body: string | Buffer = INITIALIZE): Promise<{ status: number; body: string; session?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/mcp",
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${TOKEN}`, ...headers },
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        const session = res.headers["mcp-session-id"];
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, ...(typeof session === "string" ? { session } : {}) }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("MCP over HTTP: Host and Origin (DNS rebinding)", () => {
  it("refuses a foreign Host/Origin with 4xx and serves loopback names (the conformance scenario)", async () => {
    const { port } = await startServer();
    const evil = await post(port, { host: "evil.example.com", origin: "http://evil.example.com" });
    expect(evil.status).toBeGreaterThanOrEqual(400);
    expect(evil.status).toBeLessThan(500);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      const ok = await post(port, { host, origin: `http://${host}` });
      expect(ok.status, host).toBeGreaterThanOrEqual(200);
      expect(ok.status, host).toBeLessThan(300);
    }
    // Either header alone is enough to refuse.
    expect((await post(port, { host: `127.0.0.1:${port}`, origin: "http://evil.example.com" })).status).toBe(403);
    expect((await post(port, { host: `evil.example.com:${port}` })).status).toBe(403);
    expect((await post(port, { host: `127.0.0.1:${port}`, origin: "null" })).status).toBe(403);
    // A non-browser client sends no Origin: the Host check alone applies.
    expect((await post(port, { host: `127.0.0.1:${port}` })).status).toBe(200);
  });

  it("accepts names on the --mcp-allow-host list, and still no others", async () => {
    const { port } = await startServer(["--mcp-allow-host", "tuneport.internal", "--mcp-allow-host", "10.1.2.3"]);
    expect((await post(port, { host: `tuneport.internal:${port}`, origin: `https://tuneport.internal` })).status).toBe(200);
    expect((await post(port, { host: `10.1.2.3:${port}` })).status).toBe(200);
    expect((await post(port, { host: `evil.example.com:${port}`, origin: "http://evil.example.com" })).status).toBe(403);
  });

  it("refuses a body that is not UTF-8 with a JSON-RPC parse error naming INVALID_ARGUMENT and the request id", async () => {
    const { port } = await startServer();
    const head = Buffer.from('{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"');
    const body = Buffer.concat([head, Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","version":"1"}}}')]);
    const r = await post(port, { host: `127.0.0.1:${port}` }, body);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ jsonrpc: "2.0", id: 7, error: { code: -32700, data: { code: "INVALID_ARGUMENT" } } });
  });

  it("answers a tool call whose arguments are not an object with invalid params (-32602) and its id", async () => {
    const { port } = await startServer();
    const body = Buffer.from('{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"list_studies","arguments":null}}');
    const r = await post(port, { host: `127.0.0.1:${port}` }, body);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ jsonrpc: "2.0", id: "a", error: { code: -32602, data: { code: "INVALID_ARGUMENT" } } });
  });
});

describe("MCP over HTTP: SIGTERM", () => {
  it("answers a pending wait_for_progress with 'server stopping' and exits", async () => {
    const { port, proc } = await startServer(["--log-level", "debug"]);
    const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
    });
    const client = new Client({ name: "sigterm-test", version: "1" });
    await client.connect(transport);
    cleanups.push(() => client.close());
    await call(client, "create_study", { name: "w", space: { x: { type: "float", low: 0, high: 1 } } });
    const pending = call(client, "wait_for_progress", { study: "w", timeout_s: 50 });
    await waitForOutput(proc.out, (s) => s.includes("wait_for_progress waiting"));
    proc.kill("SIGTERM");
    const reply: CallToolResult = await pending;
    expect(reply.isError).toBe(true);
    expect(JSON.stringify(reply.content)).toContain("server stopping");
    expect(await exitedWithin(proc, EXIT_GUARD_MS)).toBe(0);
  });
});

/** A raw request to 127.0.0.1:port/mcp (the session's id, when given); resolves with the whole response. */
function mcpRequest(port: number, method: string, body?: unknown, session?: string): Promise<{ status: number; session?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/mcp",
        method,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          authorization: `Bearer ${TOKEN}`,
          ...(session ? { "mcp-session-id": session } : {}),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, session: res.headers["mcp-session-id"] as string | undefined, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The JSON-RPC messages of an SSE response body. */
const sseMessages = (body: string): { id?: unknown; result?: any; error?: { code: number; message: string; data?: any } }[] =>
  body
    .split("\n")
    .filter((l) => l.startsWith("data: ") && l.length > "data: ".length)
    .map((l) => JSON.parse(l.slice("data: ".length)));

describe("MCP over HTTP: a session deleted while a call is in flight", () => {
  it("answers the pending wait_for_progress with a JSON-RPC error, not a stream that ends empty", async () => {
    const { port, proc } = await startServer(["--log-level", "debug"]);
    const init = await mcpRequest(port, "POST", JSON.parse(INITIALIZE));
    const session = init.session as string;
    expect(init.status).toBe(200);
    expect((await mcpRequest(port, "POST", { jsonrpc: "2.0", method: "notifications/initialized" }, session)).status).toBe(202);
    const create = { name: "create_study", arguments: { name: "d", space: { x: { type: "float", low: 0, high: 1 } } } };
    expect(sseMessages((await mcpRequest(port, "POST", { jsonrpc: "2.0", id: 2, method: "tools/call", params: create }, session)).body)[0]?.result?.isError).toBeFalsy();
    const wait = mcpRequest(port, "POST", { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "wait_for_progress", arguments: { study: "d", timeout_s: 50 } } }, session);
    await waitForOutput(proc.out, (s) => s.includes("wait_for_progress waiting"));
    expect((await mcpRequest(port, "DELETE", undefined, session)).status).toBe(200);
    const answered = await wait;
    expect(answered.status).toBe(200);
    const messages = sseMessages(answered.body);
    expect(messages, answered.body).toHaveLength(1);
    expect(messages[0]).toMatchObject({ id: 3, error: { code: -32000, data: { code: "UNAVAILABLE", retry: "retry", data: { reason: "session_ended" } } } });
    expect(messages[0]?.error?.message).toMatch(/^UNAVAILABLE: the MCP session ended before this request was answered/);
    // The session is gone, and the server serves new ones.
    expect((await mcpRequest(port, "POST", { jsonrpc: "2.0", id: 4, method: "ping" }, session)).status).toBe(404);
    expect((await mcpRequest(port, "POST", JSON.parse(INITIALIZE))).status).toBe(200);
    // The wait ended with its session: nothing of it holds the process up at SIGTERM.
    proc.kill("SIGTERM");
    expect(await exitedWithin(proc, EXIT_GUARD_MS)).toBe(0);
  }, 120_000);
});

describe("MCP over HTTP: a client that goes away with calls in flight", () => {
  it("has its waits cancelled, so they do not hold the server's 32 places until their timeout", async () => {
    const { port, proc } = await startServer(["--log-level", "debug"]);
    const session = (await mcpRequest(port, "POST", JSON.parse(INITIALIZE))).session as string;
    await mcpRequest(port, "POST", { jsonrpc: "2.0", method: "notifications/initialized" }, session);
    const create = { name: "create_study", arguments: { name: "c", space: { x: { type: "float", low: 0, high: 1 } } } };
    await mcpRequest(port, "POST", { jsonrpc: "2.0", id: 1, method: "tools/call", params: create }, session);
    const count = (needle: string) => proc.out().split(needle).length - 1;
    // Every place the server has for waits (MAX_CONCURRENT_WAITS), taken by requests whose client then leaves.
    const left = Array.from({ length: 32 }, (_, k) => {
      const req = request({
        host: "127.0.0.1",
        port,
        path: "/mcp",
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${TOKEN}`, "mcp-session-id": session },
      });
      req.on("error", () => undefined);
      req.end(JSON.stringify({ jsonrpc: "2.0", id: 100 + k, method: "tools/call", params: { name: "wait_for_progress", arguments: { study: "c", timeout_s: 50 } } }));
      return req;
    });
    await waitForOutput(proc.out, () => count("wait_for_progress waiting") === 32);
    for (const req of left) req.destroy();
    // Well before the waits' own 50 s: they end because their client left, not by timing out.
    await waitForOutput(proc.out, () => count("wait_for_progress cancelled") === 32, 40_000);
    const again = sseMessages((await mcpRequest(port, "POST", { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "wait_for_progress", arguments: { study: "c", timeout_s: 1 } } }, session)).body);
    expect(again[0]?.result?.isError, JSON.stringify(again)).toBeFalsy();
    expect(again[0]?.result?.structuredContent).toMatchObject({ timed_out: true, finished: 0 });
  }, 120_000);
});

describe("MCP resources/read and subscribe: typed errors", () => {
  const isRpcError = (e: unknown, code: number) => e instanceof McpError && e.code === code && e.message.split(`${code}`).length === 2;

  it("answers a URI that names no study -32002, whatever its form, and one prefix in the message", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const { client, transport } = await connectStdio(["--storage", join(tmp.dir, "r.db"), "--log-level", "warn"]);
    cleanups.push(() => transport.close());
    const uris = [
      "file:///etc/passwd", // another scheme: the SDK answered "MCP error -32602: MCP error -32602: Resource … not found"
      "tuneport://studies/a/b", // a slash: not the template's, so the same
      "tuneport://studies/", // no name
      `tuneport://studies/${"n".repeat(5000)}`, // a name no study can have: INVALID_ARGUMENT as -32603
      "tuneport://studies/%00", // a control character
      "tuneport://studies/%E0%A4%A", // not percent-encoded UTF-8
      "tuneport://studies/\ud800", // a lone surrogate
      "tuneport://studies/missing",
    ];
    for (const uri of uris) {
      const read = await client.readResource({ uri }).catch((e: unknown) => e);
      expect(isRpcError(read, -32002), `${uri.slice(0, 40)}: ${String(read)}`).toBe(true);
      const sub = await client.subscribeResource({ uri }).catch((e: unknown) => e);
      expect(isRpcError(sub, -32002), `${uri.slice(0, 40)}: ${String(sub)}`).toBe(true);
    }
    // A bad cursor is input to fix: -32602 with the code, not the backend's bare text as -32603.
    const listed = await client.listResources({ cursor: "not-a-cursor" }).catch((e: unknown) => e);
    expect(isRpcError(listed, -32602), String(listed)).toBe(true);
    expect((listed as McpError).data).toMatchObject({ code: "INVALID_ARGUMENT", retry: "fix-input" });
  }, 60_000);

  it("answers UNAVAILABLE with its code and retry meaning when the server behind mcp --connect went away", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const server = await startZmqServer(join(tmp.dir, "gone.db"));
    const { client, transport } = await connectStdio(["--connect", server.endpoint, "--log-level", "warn"]);
    cleanups.push(() => transport.close());
    await call(client, "create_study", { name: "g", space: { x: { type: "float", low: 0, high: 1 } } });
    expect((await client.readResource({ uri: "tuneport://studies/g" })).contents).toHaveLength(1);
    await server.stop("SIGKILL");
    // One client timeout (10 s) for the three: they wait together.
    const [read, listed, sub] = await Promise.all([
      client.readResource({ uri: "tuneport://studies/g" }).catch((e: unknown) => e),
      client.listResources().catch((e: unknown) => e),
      client.subscribeResource({ uri: "tuneport://studies/g" }).catch((e: unknown) => e),
    ]);
    for (const e of [read, listed, sub]) {
      expect(isRpcError(e, -32000), String(e)).toBe(true);
      expect((e as McpError).data).toMatchObject({ code: "UNAVAILABLE", retry: "retry" });
      expect((e as McpError).message).toMatch(/UNAVAILABLE: .*Next step: /);
    }
  }, 90_000);
});

describe("MCP over stdio: bytes that are not UTF-8", () => {
  it("answers such a line with a parse error carrying its id, and goes on serving", async () => {
    const proc = stdioServer();
    const replies = lines(proc);
    const send = (b: Buffer | string) => proc.stdin?.write(Buffer.concat([Buffer.from(b), Buffer.from("\n")]));
    send(INITIALIZE);
    expect(await replies.next(1)).toMatchObject({ id: 1, result: { serverInfo: { name: "tuneport" } } });
    send('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    const bad = Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","id":"b1","method":"tools/call","params":{"name":"create_study","arguments":{"name":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('","space":{}}}}'),
    ]);
    send(bad);
    expect(await replies.next("b1")).toMatchObject({ error: { code: -32700, data: { code: "INVALID_ARGUMENT" } } });
    send(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "list_studies", arguments: {} } }));
    const listed = (await replies.next(2)) as { result: CallToolResult };
    expect(listed.result.isError).toBeFalsy();
    expect(listed.result.structuredContent).toEqual({ shown: 0, next_cursor: null, studies: [] });
    proc.stdin?.end();
    expect(await exitedWithin(proc, EXIT_GUARD_MS)).toBe(0);
  });
});

describe("MCP over stdio: lines that are not JSON-RPC messages", () => {
  it("answers each with a JSON-RPC error (id null) instead of dropping it, and goes on serving", async () => {
    const proc = stdioServer();
    const all: { id?: unknown; error?: { code: number; data?: { code: string } }; result?: unknown }[] = [];
    const replies = lines(proc, (m) => all.push(m as (typeof all)[number]));
    const send = (b: string) => proc.stdin?.write(`${b}\n`);
    send(INITIALIZE);
    expect(await replies.next(1)).toMatchObject({ id: 1, result: { serverInfo: { name: "tuneport" } } });
    send('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    const bad: [string, number][] = [
      ["not json", -32700],
      ['{"jsonrpc":"2.0","id":3,"method":"ping"', -32700],
      ["NaN", -32700],
      ["null", -32600],
      ['{"jsonrpc":"2.0","id":4}', -32600],
      ['{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', -32600],
      ['{"jsonrpc":"2.0","id":1.5,"method":"ping"}', -32600],
      ['{"jsonrpc":"1.0","id":5,"method":"ping"}', -32600],
      ['{"jsonrpc":"2.0","id":6,"method":7}', -32600],
      ['[{"jsonrpc":"2.0","id":8,"method":"ping"}]', -32600],
    ];
    for (const [line] of bad) send(line);
    // A tool call whose arguments are not an object: invalid params, with its id.
    send('{"jsonrpc":"2.0","id":"args","method":"tools/call","params":{"name":"list_studies","arguments":[1]}}');
    send('{"jsonrpc":"2.0","id":"params","method":"tools/call","params":null}');
    send('{"jsonrpc":"2.0","id":99,"method":"ping"}');
    expect(await replies.next(99)).toMatchObject({ id: 99, result: {} });
    for (const id of ["args", "params"]) expect(await replies.next(id)).toMatchObject({ error: { code: -32602, data: { code: "INVALID_ARGUMENT" } } });
    // Refusals are written as each line is read, before the ping after them is answered.
    const refusals = all.filter((m) => m.id === null);
    expect(refusals.map((m) => m.error?.code)).toEqual(bad.map(([, code]) => code));
    for (const r of refusals) expect(r.error?.data?.code).toBe("INVALID_ARGUMENT");
    proc.stdin?.end();
    expect(await exitedWithin(proc, EXIT_GUARD_MS)).toBe(0);
  });
});

describe("MCP over stdio and HTTP: requests whose params do not fit their method", () => {
  // Each was dropped by the SDK without a reply (a client waited for ever) or answered -32603, the
  // server's own failure, with a dump of the SDK's schema complaint.
  const REQUESTS: [string, unknown, number][] = [
    ["ping", 5, -32600],
    ["tools/list", "x", -32600],
    ["ping", { _meta: 5 }, -32600],
    ["tools/list", { _meta: { progressToken: { a: 1 } } }, -32600],
    ["tools/list", { cursor: 5 }, -32602],
    ["tools/call", { name: ["list_studies"], arguments: {} }, -32602],
    ["resources/read", { uri: 5 }, -32602],
    ["resources/subscribe", {}, -32602],
    ["prompts/get", { name: "tune", arguments: { a: 5 } }, -32602],
    ["tools/call", { name: "list_studies", arguments: {}, task: { ttl: 1000 } }, -32602],
  ];

  it("answers each over stdio with its id and a typed error, and goes on serving", async () => {
    const proc = stdioServer();
    const replies = lines(proc);
    const send = (b: string) => proc.stdin?.write(`${b}\n`);
    send(INITIALIZE);
    expect(await replies.next(1)).toMatchObject({ id: 1, result: { serverInfo: { name: "tuneport" } } });
    send('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    REQUESTS.forEach(([method, params], i) => send(JSON.stringify({ jsonrpc: "2.0", id: `r${i}`, method, params })));
    for (const [i, [method, , code]] of REQUESTS.entries())
      expect(await replies.next(`r${i}`), method).toMatchObject({ error: { code, data: { code: "INVALID_ARGUMENT" } } });
    send('{"jsonrpc":"2.0","id":99,"method":"ping"}');
    expect(await replies.next(99)).toMatchObject({ id: 99, result: {} });
    proc.stdin?.end();
    expect(await exitedWithin(proc, EXIT_GUARD_MS)).toBe(0);
  });

  it("answers each over HTTP with its id and a typed error", async () => {
    const { port } = await startServer();
    const host = `127.0.0.1:${port}`;
    const init = await post(port, { host });
    expect(init.status).toBe(200);
    const session = { host, "mcp-session-id": init.session ?? "", "mcp-protocol-version": "2025-06-18" };
    expect((await post(port, session, '{"jsonrpc":"2.0","method":"notifications/initialized"}')).status).toBe(202);
    for (const [i, [method, params, code]] of REQUESTS.entries()) {
      const r = await post(port, session, JSON.stringify({ jsonrpc: "2.0", id: i, method, params }));
      expect(r.status, method).toBe(400);
      expect(JSON.parse(r.body), method).toMatchObject({ id: i, error: { code, data: { code: "INVALID_ARGUMENT" } } });
    }
  });
});

describe("MCP over stdio: a client that stops reading", () => {
  it("ends the session and exits 0 when its stdout is closed, instead of dying of an uncaught EPIPE", async () => {
    const proc = stdioServer();
    const replies = lines(proc);
    const send = (b: string) => proc.stdin?.write(`${b}\n`);
    send(INITIALIZE);
    expect(await replies.next(1)).toMatchObject({ id: 1, result: { serverInfo: { name: "tuneport" } } });
    send('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    proc.stdout?.destroy(); // the client's end of the pipe closes: the next answer meets EPIPE
    send('{"jsonrpc":"2.0","id":2,"method":"ping"}');
    send(JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "list_studies", arguments: {} } }));
    expect(await exitedWithin(proc, EXIT_GUARD_MS)).toBe(0);
  });
});

describe("MCP over stdio: a client that sends requests and reads no answer", () => {
  it("stops taking its requests once 16 MiB of answers wait, instead of holding every answer; all are answered once it reads", async () => {
    const proc = stdioServer();
    const replies = lines(proc);
    let stderr = "";
    proc.stderr?.on("data", (d: Buffer) => void (stderr += d.toString()));
    const send = (m: unknown) => proc.stdin?.write(`${JSON.stringify(m)}\n`);
    send(JSON.parse(INITIALIZE));
    expect(await replies.next(1)).toMatchObject({ id: 1, result: { serverInfo: { name: "tuneport" } } });
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    // A study resource of about 850 KB.
    const choices = Array.from({ length: 10_000 }, (_, i) => `choice-${String(i).padStart(6, "0")}-${"y".repeat(66)}`);
    send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "create_study", arguments: { name: "wide", space: { c: { type: "categorical", choices } } } } });
    expect(((await replies.next(2)) as { result: CallToolResult }).result.isError).toBeFalsy();
    proc.stdout?.pause();
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))?.[1]) * 1024;
    const before = rss();
    // Rounds of 32 reads (half the calls a session runs at once), a pause after each for the server to
    // answer them: until it has done all it can (it was a fixed 1.5 s, 13.5 s in all, mostly idle).
    const rounds = 8;
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < 32; k++) send({ jsonrpc: "2.0", id: 1000 + r * 32 + k, method: "resources/read", params: { uri: "tuneport://studies/wide" } });
      await untilIdle(proc.pid as number);
    }
    // Small answers, many of them, while nothing is read: the SDK waits for 'drain' once per message.
    for (let k = 0; k < 2000; k++) send({ jsonrpc: "2.0", id: 5000 + k, method: "ping" });
    await untilIdle(proc.pid as number);
    // Before, every answer was kept for the client: 640 such reads grew the process from 133 MB to 2.5 GB.
    expect(rss() - before).toBeLessThan(400 * 1024 * 1024);
    proc.stdout?.resume();
    for (let id = 1000; id < 1000 + rounds * 32; id++) {
      const m = (await replies.next(id)) as { result?: { contents: unknown[] }; error?: { data?: { code?: string } } };
      // Read whole, or refused as one call too many in flight: never dropped.
      expect(m.result?.contents.length === 1 || m.error?.data?.code === "UNAVAILABLE", JSON.stringify(m).slice(0, 200)).toBe(true);
    }
    for (let k = 0; k < 2000; k++) expect(await replies.next(5000 + k)).toMatchObject({ id: 5000 + k, result: {} });
    proc.stdin?.end();
    expect(await exitedWithin(proc, EXIT_GUARD_MS)).toBe(0);
    // The SDK waits for 'drain' once per answer written to a full stdout: a bounded number, not a leak.
    expect(stderr).not.toContain("MaxListenersExceededWarning");
    // A hang guard only: 256 reads of 850 KB and 2,000 pings, each answer written and read once, ran
    // past a 120 s guard at load 27 on 2 cores.
  }, 600_000);
});

/** `tuneport mcp` on stdio over a temporary SQLite file, killed and removed after the test. */
function stdioServer(): ChildProcess {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const proc = spawn(process.execPath, [CLI, "mcp", "--storage", join(tmp.dir, "s.db"), "--log-level", "warn"], { stdio: ["pipe", "pipe", "pipe"] });
  cleanups.push(() => void proc.kill("SIGKILL"));
  return proc;
}

/**
 * Resolves once process `pid` has used no CPU for 300 ms (three 100 ms looks at its user and system
 * time in /proc, counted in 10 ms ticks): it has done all it can with what it was sent, and waits
 * (here on a stdout nobody reads). A runnable process is not kept off both cores that long. The
 * 30 s bound only catches a process that never settles.
 */
async function untilIdle(pid: number): Promise<void> {
  const cpu = () => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // after the command name: state, ppid, ...
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  };
  const end = Date.now() + 30_000;
  let last = cpu();
  for (let still = 0; still < 3 && Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 100));
    const now = cpu();
    still = now === last ? still + 1 : 0;
    last = now;
  }
}

/** JSON-RPC messages from a process's stdout, by id (`each` sees every one, in order). */
function lines(proc: ChildProcess, each?: (m: unknown) => void) {
  const got = new Map<unknown, unknown>();
  const waiters = new Map<unknown, (m: unknown) => void>();
  let buf = "";
  proc.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const m = JSON.parse(buf.slice(0, nl)) as { id?: unknown };
      buf = buf.slice(nl + 1);
      each?.(m);
      const w = waiters.get(m.id);
      if (w) w(m);
      else got.set(m.id, m);
    }
  });
  return {
    next: (id: unknown) =>
      new Promise<unknown>((resolve) => {
        // Taken once: a test that reads hundreds of big answers does not keep them all.
        if (got.has(id)) {
          resolve(got.get(id));
          got.delete(id);
        } else waiters.set(id, resolve);
      }),
  };
}

async function exitedWithin(proc: ChildProcess, ms: number): Promise<number | null | "still running"> {
  return Promise.race([exited(proc), new Promise<"still running">((r) => setTimeout(() => r("still running"), ms).unref())]);
}
