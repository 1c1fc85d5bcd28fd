/**
 * MCP over Streamable HTTP: the GET stream (server notifications) of a client that never reads
 * it. A real McpHttpServer on a loopback port, raw sockets, a change feed the test drives.
 */
import { type Socket, connect } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../logger.js";
import type { StudyChange } from "../../service/change-feed.js";
import type { McpBackend } from "./backend.js";
import { BIG_ANSWER_BYTES, McpHttpServer } from "./http.js";
import { studyUri } from "./uris.js";

const TOKEN = "stream-token-0123456789abcdef";
/** A study name of 64 KiB: each notification about it is that big. */
const BIG = "x".repeat(64 * 1024);
const listeners = new Set<(c: StudyChange) => void>();
const sockets: Socket[] = [];
let server: McpHttpServer;
let port: number;

/** Every study exists (subscriptions need one); changes come from `announce`. */
/** A study resource of about 1 MB (`get_study` of HUGE), and a gate its summaries wait at (`summaries`). */
const HUGE = "huge";
const summaries = { entered: 0, left: 0, gate: Promise.resolve() };
const backend = {
  call: async (op: string, args: { study?: string }) => {
    if (op === "get_study") return { study: args.study === HUGE ? { name: HUGE, blob: "x".repeat(1_000_000) } : {} };
    if (op === "study_summary") {
      summaries.entered++;
      await summaries.gate;
      summaries.left++;
      return { strategy: { name: "random", options: {} }, scheduler: null };
    }
    // 5,000 attribute names: a tool result over BIG_ANSWER_BYTES that reports a change.
    if (op === "set_user_attrs") return { study: { user_attrs: Object.fromEntries(Array.from({ length: 5000 }, (_, k) => [`attribute-name-${k}-${"k".repeat(8)}`, 1])) } };
    throw new Error(`op ${op} is not used here`);
  },
  version: async () => 0,
  waitForChange: async () => 0,
  onChange: (l: (c: StudyChange) => void) => {
    listeners.add(l);
    return () => listeners.delete(l);
  },
  close: async () => undefined,
} as unknown as McpBackend;

const announce = (c: StudyChange) => {
  for (const l of [...listeners]) l(c);
};

beforeEach(async () => {
  server = new McpHttpServer({ backend, logger: silentLogger(), version: "test", token: TOKEN, port: 0, updateThrottleMs: 0 });
  port = await server.start();
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server.close();
  listeners.clear();
});

const headers = (sid?: string) => ({
  authorization: `Bearer ${TOKEN}`,
  accept: "application/json, text/event-stream",
  "content-type": "application/json",
  "mcp-protocol-version": "2025-06-18",
  ...(sid ? { "mcp-session-id": sid } : {}),
});

async function post(sid: string | undefined, body: unknown): Promise<Response> {
  const res = await fetch(`http://127.0.0.1:${port}/mcp`, { method: "POST", headers: headers(sid), body: JSON.stringify(body) });
  await res.text();
  return res;
}

/** A session subscribed to the big study; resolves with its id. */
async function subscribedSession(): Promise<string> {
  const init = await post(undefined, {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  });
  const sid = init.headers.get("mcp-session-id") as string;
  expect(sid).toBeTruthy();
  await post(sid, { jsonrpc: "2.0", method: "notifications/initialized" });
  expect((await post(sid, { jsonrpc: "2.0", id: 2, method: "resources/subscribe", params: { uri: studyUri(BIG) } })).status).toBe(200);
  return sid;
}

/** Opens the session's GET stream on a raw socket; resolves once its headers came. */
function openStream(sid: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    socket.once("error", reject);
    socket.once("data", (d) => {
      expect(d.toString("latin1")).toMatch(/^HTTP\/1\.1 200/);
      resolve(socket);
    });
    const h = { ...headers(sid), accept: "text/event-stream", host: `127.0.0.1:${port}` };
    socket.write(`GET /mcp HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`);
  });
}

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("MCP over HTTP: a GET stream its client does not read", () => {
  it("is ended once its backlog passes the limit, and the stream of a client that reads goes on", async () => {
    const stalled = await openStream(await subscribedSession());
    stalled.pause();
    let stalledClosed = false;
    stalled.once("close", () => void (stalledClosed = true));
    const reader = await openStream(await subscribedSession());
    let received = 0;
    let tail = "";
    reader.on("data", (d: Buffer) => {
      received += d.length;
      tail = (tail + d.toString("latin1")).slice(-256);
    });
    await vi.waitFor(() => expect(server.liveStreams).toBe(2));

    // Up to 96 MiB of notifications, far past what the kernel holds for a paused socket.
    let rounds = 0;
    for (; rounds < 1536 && server.liveStreams === 2; rounds++) {
      announce({ study: BIG, kind: "updated", version: rounds });
      await tick();
    }
    // The SDK queued every notification for the stalled stream, for as long as the session lived.
    await vi.waitFor(() => expect(server.liveStreams).toBe(1));
    stalled.resume();
    await vi.waitFor(() => expect(stalledClosed).toBe(true), { timeout: 30_000 });
    expect(reader.destroyed).toBe(false);

    // The reading client got the notifications and still gets them.
    await vi.waitFor(() => expect(received).toBeGreaterThan(rounds * 0.9 * BIG.length));
    const before = received;
    tail = "";
    announce({ study: BIG, kind: "updated", version: rounds + 1 });
    await vi.waitFor(() => expect(received).toBeGreaterThan(before + BIG.length));
    expect(tail).toContain(`x"},"jsonrpc":"2.0"}\n\n`);
  }, 60_000);
});

describe("MCP over HTTP: big answers their clients do not read", () => {
  it("are refused UNAVAILABLE (reason memory) while unread answers hold more than the ceiling", async () => {
    const ceiling = 1024 * 1024;
    await server.close();
    server = new McpHttpServer({ backend, logger: silentLogger(), version: "test", token: TOKEN, port: 0, maxUnsentBytes: ceiling });
    port = await server.start();
    const init = await post(undefined, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
    const sid = init.headers.get("mcp-session-id") as string;
    await post(sid, { jsonrpc: "2.0", method: "notifications/initialized" });
    // One POST of 40 reads of a 1 MB resource, on a socket that reads nothing until all are answered.
    const n = 40;
    let release!: () => void;
    summaries.gate = new Promise((r) => (release = r));
    summaries.entered = summaries.left = 0;
    const body = JSON.stringify(Array.from({ length: n }, (_, k) => ({ jsonrpc: "2.0", id: 10 + k, method: "resources/read", params: { uri: studyUri(HUGE) } })));
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    socket.pause();
    const h = { ...headers(sid), host: `127.0.0.1:${port}`, "content-length": String(Buffer.byteLength(body)) };
    socket.write(`POST /mcp HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n${body}`);
    await vi.waitFor(() => expect(summaries.entered).toBe(n));
    release(); // every answer becomes ready at once
    await vi.waitFor(() => expect(summaries.left).toBe(n));
    for (let k = 0; k < 50; k++) await new Promise((r) => setImmediate(r));
    const held = server.unsentBytes;
    let text = "";
    socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
    socket.resume();
    await vi.waitFor(() => expect(text).toContain("\r\n0\r\n\r\n"), { timeout: 30_000 });
    const events = text.split("\n").filter((l) => l.startsWith("data: "));
    const refused = events.filter((l) => l.includes('"reason":"memory"'));
    const read = events.filter((l) => l.includes('"contents":['));
    expect(refused.length + read.length).toBe(n);
    expect(refused.length).toBeGreaterThan(0);
    expect(read.length).toBeGreaterThan(0);
    // Before, all 40 MB were queued for the client (one POST of 100 such reads: 85 MB; ten of them unread: +750 MB RSS).
    expect(held).toBeLessThan(ceiling + 2 * 1_100_000);
    expect(JSON.parse(refused[0]?.slice("data: ".length) as string)).toMatchObject({ error: { code: -32000, data: { code: "UNAVAILABLE", retry: "retry", data: { reason: "memory" } } } });
    // Answers of at most BIG_ANSWER_BYTES still go out (errors, tool results, small studies).
    const small = await post(sid, { jsonrpc: "2.0", id: 99, method: "resources/read", params: { uri: studyUri("small") } });
    expect(small.status).toBe(200);
    expect(BIG_ANSWER_BYTES).toBeLessThan(1_000_000);
  }, 60_000);

  it("never replace a tool call's answer, which may report a change already made", async () => {
    await server.close();
    // A ceiling below zero: every big answer that may be replaced is.
    server = new McpHttpServer({ backend, logger: silentLogger(), version: "test", token: TOKEN, port: 0, maxUnsentBytes: -1 });
    port = await server.start();
    const init = await post(undefined, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
    const sid = init.headers.get("mcp-session-id") as string;
    await post(sid, { jsonrpc: "2.0", method: "notifications/initialized" });
    const answer = async (body: unknown) =>
      (await fetch(`http://127.0.0.1:${port}/mcp`, { method: "POST", headers: headers(sid), body: JSON.stringify(body) })).text();
    expect(await answer({ jsonrpc: "2.0", id: 2, method: "resources/read", params: { uri: studyUri(HUGE) } })).toContain('"reason":"memory"');
    const change = await answer({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "set_user_attrs", arguments: { study: "s", attrs: { a: 1 } } } });
    const line = change.split("\n").find((l) => l.startsWith("data: ")) as string;
    expect(Buffer.byteLength(line)).toBeGreaterThan(BIG_ANSWER_BYTES);
    expect(JSON.parse(line.slice("data: ".length))).toMatchObject({ id: 3, result: { structuredContent: { set: ["a"] } } });
  }, 60_000);
});
