/**
 * MCP over HTTP with request ids a client reuses, over real sockets: a request whose id is held by
 * a request of the same session still being answered (or by another request of its batch) is
 * refused, and the request in flight keeps its answer. Before, the SDK gave the id's answer stream
 * to the later request: the earlier POST (a pending wait_for_progress) never got its answer and
 * stayed open until the session's idle timeout (30 minutes).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { serviceBackend } from "./backend.js";
import { McpHttpServer } from "./http.js";

const TOKEN = "request-ids-token-0123456789";
let storage: SqliteStorage;
let service: StudyService;
let server: McpHttpServer;
let url: string;

beforeEach(async () => {
  storage = new SqliteStorage({ path: ":memory:" });
  service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  server = new McpHttpServer({ backend: serviceBackend(service), logger: silentLogger(), version: "test", token: TOKEN, port: 0 });
  url = `http://127.0.0.1:${await server.start()}/mcp`;
});

afterEach(async () => {
  await server.close();
  await service.close();
  await storage.close();
});

const headers = (sid?: string): Record<string, string> => ({
  authorization: `Bearer ${TOKEN}`,
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  ...(sid === undefined ? {} : { "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" }),
});

const post = (body: unknown, sid?: string) => fetch(url, { method: "POST", headers: headers(sid), body: JSON.stringify(body) });

async function session(): Promise<string> {
  const init = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
  const sid = init.headers.get("mcp-session-id") as string;
  await init.text();
  await (await post({ jsonrpc: "2.0", method: "notifications/initialized" }, sid)).text();
  return sid;
}

/** The JSON-RPC messages of an SSE answer. */
const messages = (text: string) => [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1] as string) as { id?: unknown; result?: unknown; error?: { message: string } });

describe("MCP over HTTP: request ids", () => {
  it("refuses a request whose id a request in flight holds, and answers the one in flight", async () => {
    await service.execute("create_study", { name: "ids", space: { x: { type: "float", low: 0, high: 1 } } });
    const sid = await session();
    // The SDK hands out the answer stream once the request is dispatched: the wait is in flight.
    const waiting = await post({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "wait_for_progress", arguments: { study: "ids", timeout_s: 1 } } }, sid);
    expect(waiting.status).toBe(200);

    const again = await post({ jsonrpc: "2.0", id: 7, method: "ping" }, sid);
    expect(again.status).toBe(400);
    const refusal = (await again.json()) as { id: unknown; error: { code: number; message: string } };
    expect(refusal.id).toBeNull();
    expect(refusal.error.code).toBe(-32600);
    expect(refusal.error.message).toMatch(/^INVALID_ARGUMENT: request id 7 is already taken by a request of this session not answered yet/);

    // Before the fix the ping took id 7's stream and this answer never came (the test timed out).
    const answers = messages(await waiting.text());
    expect(answers.map((m) => m.id)).toEqual([7]);
    expect(answers[0]?.result).toBeDefined();

    // Answered, the id is free again.
    const later = await post({ jsonrpc: "2.0", id: 7, method: "ping" }, sid);
    expect(messages(await later.text())).toEqual([{ jsonrpc: "2.0", id: 7, result: {} }]);
  });

  it("refuses a batch in which two requests share an id (one of them got no answer)", async () => {
    const sid = await session();
    const res = await post(
      [
        { jsonrpc: "2.0", id: "a", method: "ping" },
        { jsonrpc: "2.0", id: "a", method: "tools/list" },
      ],
      sid,
    );
    expect(res.status).toBe(400);
    const refusal = (await res.json()) as { error: { message: string } };
    expect(refusal.error.message).toMatch(/request id "a" is already taken by another request of this batch/);
    // An id 1 and an id "1" are two ids.
    const both = await post(
      [
        { jsonrpc: "2.0", id: 1, method: "ping" },
        { jsonrpc: "2.0", id: "1", method: "ping" },
      ],
      sid,
    );
    expect(messages(await both.text()).map((m) => m.id)).toEqual([1, "1"]);
  });
});

describe("MCP over HTTP: bodies that parse but are no JSON-RPC message", () => {
  it("answers -32600 saying what is wrong, not -32700 'Parse error' (the JSON parsed), and refuses an empty batch (it was 202)", async () => {
    const sid = await session();
    const cases: [unknown, string][] = [
      [[], "an empty batch: send one JSON-RPC message, or an array of at least one"],
      [{}, '"jsonrpc" must be "2.0"'],
      [null, "a JSON-RPC message is an object"],
      [1, "a JSON-RPC message is an object"],
      [[1, 2], "a JSON-RPC message is an object"],
      [[[]], "a batch holds JSON-RPC messages, not arrays"],
      [{ jsonrpc: "2.0", id: 1, method: 7 }, '"method" must be a string'],
      [[{ jsonrpc: "2.0", id: 2, method: "ping" }, { jsonrpc: "2.0", id: 3 }], 'a response holds "result" or "error"'],
    ];
    for (const [body, message] of cases) {
      const res = await post(body, sid);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const answer = (await res.json()) as { id: unknown; error: { code: number; message: string } };
      expect(answer.error, JSON.stringify(body)).toMatchObject({ code: -32600, message: `INVALID_ARGUMENT: ${message}` });
      expect(answer.id).toBeNull();
    }
    // The session still answers.
    expect(messages(await (await post({ jsonrpc: "2.0", id: 9, method: "ping" }, sid)).text())).toEqual([{ jsonrpc: "2.0", id: 9, result: {} }]);
  });
});
