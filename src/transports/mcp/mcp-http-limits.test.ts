/**
 * MCP over Streamable HTTP against requests that must not cost the server memory for good:
 * a real McpHttpServer on a loopback port, real sockets, the SDK's own client.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { request } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { type McpBackend, serviceBackend } from "./backend.js";
import { McpHttpServer } from "./http.js";

const TOKEN = "limits-token-0123456789abcdef";
let storage: SqliteStorage;
let service: StudyService;
let server: McpHttpServer;
let url: string;
/** Change-feed listeners the MCP sessions hold: one per live session. */
let listeners = 0;

/** The service's backend, counting the change-feed listeners its sessions hold. */
function countingBackend(inner: McpBackend): McpBackend {
  return {
    ...inner,
    as: (who) => countingBackend(inner.as?.(who) ?? inner),
    onChange: (l) => {
      listeners++;
      const off = inner.onChange(l);
      let done = false;
      return () => {
        if (!done) listeners--;
        done = true;
        off();
      };
    },
  };
}

beforeEach(async () => {
  listeners = 0;
  storage = new SqliteStorage({ path: ":memory:" });
  service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  server = new McpHttpServer({ backend: countingBackend(serviceBackend(service)), logger: silentLogger(), version: "test", token: TOKEN, port: 0, maxSessions: 4 });
  url = `http://127.0.0.1:${await server.start()}/mcp`;
});

afterEach(async () => {
  await server.close();
  await service.close();
  await storage.close();
});

const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

describe("MCP over HTTP: refused initializations", () => {
  it("keeps nothing of an initialize the SDK refuses (Accept, Content-Type)", async () => {
    const refusals: { accept: string; type: string; status: number }[] = [
      { accept: "application/json", type: "application/json", status: 406 },
      { accept: "text/event-stream", type: "application/json", status: 406 },
      { accept: "application/json, text/event-stream", type: "text/plain", status: 415 },
    ];
    for (let i = 0; i < 20; i++)
      for (const r of refusals) {
        const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, accept: r.accept, "content-type": r.type }, body: INITIALIZE });
        expect(res.status).toBe(r.status);
        expect(res.headers.get("mcp-session-id")).toBeNull();
        await res.text();
      }
    // Each refused initialize used to leave its McpServer subscribed to the change feed for good.
    expect(listeners).toBe(0);

    // Real sessions still open up to the cap, and hold one listener each until they close.
    const clients: Client[] = [];
    for (let i = 0; i < 4; i++) {
      const client = new Client({ name: `c${i}`, version: "1" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
      clients.push(client);
    }
    expect(listeners).toBe(4);
    const listed = await clients[0]?.listTools();
    expect(listed?.tools.length).toBeGreaterThan(0);
    for (const c of clients) await c.close();
  });
});

describe("MCP over HTTP: bodies that cost more to look at than to send", () => {
  async function session(): Promise<Record<string, string>> {
    const headers = { authorization: `Bearer ${TOKEN}`, accept: "application/json, text/event-stream", "content-type": "application/json" };
    const init = await fetch(url, { method: "POST", headers, body: INITIALIZE });
    await init.text();
    const withSession = { ...headers, "mcp-session-id": init.headers.get("mcp-session-id") as string, "mcp-protocol-version": "2025-06-18" };
    await (await fetch(url, { method: "POST", headers: withSession, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).text();
    return withSession;
  }
  const toolCall = (args: string) => `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_studies","arguments":{"a":${args}}}}`;

  it("refuses a message nesting deeper than 40 levels from its text, before parsing it", async () => {
    const headers = await session();
    const res = await fetch(url, { method: "POST", headers, body: toolCall("[".repeat(1_000_000) + "]".repeat(1_000_000)) });
    expect(res.status).toBe(400);
    // With the call's id, read from the text: a client matches the refusal to its request.
    expect(await res.json()).toMatchObject({ id: 7, error: { code: -32602, message: expect.stringMatching(/nests deeper than 40 levels/), data: { code: "INVALID_ARGUMENT" } } });
    // Within the limit, the tool itself refuses arguments past its 32 levels, with its own message.
    const tool = await fetch(url, { method: "POST", headers, body: toolCall("[".repeat(35) + "]".repeat(35)) });
    expect(await tool.text()).toMatch(/the arguments nest deeper than 32 levels/);
  });
});

describe("MCP over HTTP: every session slot taken", () => {
  const headers = { authorization: `Bearer ${TOKEN}`, accept: "application/json, text/event-stream", "content-type": "application/json" };
  /** The test server again, ending an unused session at once when full (not after 60 s). */
  async function evictingAtOnce(): Promise<void> {
    await server.close();
    server = new McpHttpServer({ backend: serviceBackend(service), logger: silentLogger(), version: "test", token: TOKEN, port: 0, maxSessions: 4, evictAfterMs: 0 });
    url = `http://127.0.0.1:${await server.start()}/mcp`;
  }
  const listTools = (id: string) =>
    fetch(url, { method: "POST", headers: { ...headers, "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" }, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) });

  it("ends the longest-unused session without a stream to let a new client in, once unused a while; its client gets 404", async () => {
    // Clients that died without DELETE left these behind: a fifth client got 503 for 30 minutes.
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await fetch(url, { method: "POST", headers, body: INITIALIZE });
      await r.text();
      ids.push(r.headers.get("mcp-session-id") as string);
    }
    await (await listTools(ids[0] as string)).text(); // used since: the second is now the longest unused
    // A live agent may think between calls without a stream: a session unused under evictAfterMs stays.
    const early = await fetch(url, { method: "POST", headers, body: INITIALIZE });
    await early.text();
    expect(early.status).toBe(503);
    await evictingAtOnce();
    ids.length = 0;
    for (let i = 0; i < 4; i++) {
      const r = await fetch(url, { method: "POST", headers, body: INITIALIZE });
      await r.text();
      ids.push(r.headers.get("mcp-session-id") as string);
    }
    await (await listTools(ids[0] as string)).text();
    const fifth = await fetch(url, { method: "POST", headers, body: INITIALIZE });
    await fifth.text();
    expect(fifth.status).toBe(200);
    const statuses = [];
    for (const id of ids) {
      const r = await listTools(id);
      await r.text();
      statuses.push(r.status);
    }
    expect(statuses).toEqual([200, 404, 200, 200]);
  });

  it("ends no session whose client keeps its stream open: a new client waits (503)", async () => {
    await evictingAtOnce();
    const clients: Client[] = [];
    for (let i = 0; i < 4; i++) {
      const client = new Client({ name: `s${i}`, version: "1" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
      clients.push(client);
    }
    // The SDK's clients open their GET streams just after connecting: wait for all four.
    for (let i = 0; i < 400 && server.openStreams < 4; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(server.openStreams).toBe(4);
    const fifth = await fetch(url, { method: "POST", headers, body: INITIALIZE });
    await fifth.text();
    expect(fifth.status).toBe(503);
    for (const c of clients) expect((await c.listTools()).tools.length).toBeGreaterThan(0);
    for (const c of clients) await c.close();
  });
});

describe("MCP over HTTP: one client holding every session", () => {
  const connectAs = async (name: string) => {
    const client = new Client({ name, version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
    return client;
  };
  const initializeAs = async (name: string) => {
    const headers = { authorization: `Bearer ${TOKEN}`, accept: "application/json, text/event-stream", "content-type": "application/json" };
    const res = await fetch(url, { method: "POST", headers, body: INITIALIZE.replace('"name":"raw"', JSON.stringify("name") + ":" + JSON.stringify(name)) });
    await res.text();
    return res.status;
  };
  /** How many of `clients` still have their session (a call answered, not 404). */
  const alive = async (clients: Client[]) => (await Promise.all(clients.map((c) => c.listTools().then(() => 1, () => 0)))).reduce<number>((a, b) => a + b, 0);

  it("ends a session of the client holding the most for another client's, down to an even share; never another's for it", async () => {
    // One client kept all 100 sessions busy (streams open): every other agent got 503.
    const hoarder: Client[] = [];
    for (let i = 0; i < 4; i++) hoarder.push(await connectAs("hoarder"));
    for (let i = 0; i < 400 && server.openStreams < 4; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(server.openStreams).toBe(4);
    // The hoarder itself gets no more, and none of its own is ended for it.
    expect(await initializeAs("hoarder")).toBe(503);
    expect(await alive(hoarder)).toBe(4);

    const agents: Client[] = [];
    agents.push(await connectAs("agent-a"));
    expect(await alive(hoarder)).toBe(3);
    expect(await initializeAs("agent-b")).toBe(200);
    expect(await initializeAs("agent-c")).toBe(200);
    expect(await alive(hoarder)).toBe(1);
    expect(server.evictedFromHoarder).toBe(3);
    // Every client holds one: a fourth newcomer waits (503), nobody's session is ended for it.
    expect(await initializeAs("agent-d")).toBe(503);
    expect(await alive(hoarder)).toBe(1);
    expect(await alive(agents)).toBe(1);
    for (const c of [...hoarder, ...agents]) await c.close().catch(() => undefined);
  });
  it("ends the hoarder's longest-unused session with no call in flight before one whose call is pending", async () => {
    const hoarder: Client[] = [];
    for (let i = 0; i < 4; i++) hoarder.push(await connectAs("hoarder"));
    await hoarder[0]!.callTool({ name: "create_study", arguments: { name: "w", space: { x: { type: "float", low: 0, high: 1 } } } });
    // The longest unused is hoarder 0, its wait pending; then hoarder 1.
    let settled = false;
    const wait = hoarder[0]!.callTool({ name: "wait_for_progress", arguments: { study: "w", timeout_s: 50 } }).finally(() => (settled = true));
    wait.catch(() => undefined);
    for (let i = 0; i < 400 && server.pendingCalls === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    for (const c of hoarder.slice(1)) await c.listTools();
    expect(await initializeAs("agent")).toBe(200);
    expect(settled).toBe(false);
    expect(await alive([hoarder[1]!])).toBe(0);
    expect(await alive(hoarder.slice(2))).toBe(2);
    expect(settled).toBe(false);
    for (const c of hoarder) await c.close().catch(() => undefined);
  });
});
describe("MCP over HTTP: a method the endpoint does not take", () => {
  it("answers 405 with Allow and a JSON-RPC error that names the methods (the body was empty)", async () => {
    for (const method of ["PUT", "PATCH", "OPTIONS"]) {
      const res = await fetch(url, { method, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: method === "OPTIONS" ? undefined : "{}" });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("allow"), method).toBe("GET, POST, DELETE");
      const answer = (await res.json()) as { error: { code: number; message: string } };
      expect(answer.error.code, method).toBe(-32000);
      expect(answer.error.message, method).toBe(`method ${method} is not allowed: MCP over HTTP is POST (messages), GET (the session's stream) and DELETE (end the session) on /mcp`);
    }
  });
});

describe("MCP over HTTP: agents behind a trusted proxy (--trusted-proxy: X-Forwarded-For)", () => {
  // Every agent behind a reverse proxy arrives from its address: with the same clientInfo name they
  // were one client, and one of them holding every session kept the others out (503).
  const initialize = async (via: string, forwardedFor: string) =>
    new Promise<number>((resolve, reject) => {
      const body = INITIALIZE.replace('"name":"raw"', '"name":"agent"');
      const headers = { authorization: `Bearer ${TOKEN}`, accept: "application/json, text/event-stream", "content-type": "application/json", "x-forwarded-for": forwardedFor, "content-length": String(Buffer.byteLength(body)) };
      const req = request(url, { method: "POST", localAddress: via, agent: false, headers }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
      req.end(body);
    });
  it.each([
    { via: "127.0.0.1", trusted: ["127.0.0.1"], newcomerGetsIn: true },
    { via: "127.0.0.1", trusted: [], newcomerGetsIn: false },
    // Anyone may send the header: read from a trusted proxy only.
    { via: "127.0.0.2", trusted: ["127.0.0.1"], newcomerGetsIn: false },
  ])("from $via, trusting $trusted: another forwarded agent ends a session of the one holding every slot: $newcomerGetsIn", async ({ via, trusted, newcomerGetsIn }) => {
    await server.close();
    server = new McpHttpServer({ backend: serviceBackend(service), logger: silentLogger(), version: "test", token: TOKEN, port: 0, maxSessions: 4, trustedProxies: trusted });
    url = `http://127.0.0.1:${await server.start()}/mcp`;
    for (let i = 0; i < 4; i++) expect(await initialize(via, "198.51.100.7, 192.0.2.1")).toBe(200);
    expect(await initialize(via, "192.0.2.2")).toBe(newcomerGetsIn ? 200 : 503);
    expect(server.evictedFromHoarder).toBe(newcomerGetsIn ? 1 : 0);
    // The hoarder itself gets no more, either way.
    expect(await initialize(via, "192.0.2.1")).toBe(503);
  });
});
