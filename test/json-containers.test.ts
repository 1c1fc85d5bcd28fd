/**
 * JSON text holding more maps and arrays than its length allows (`maxJsonContainers`,
 * domain/input-limits.ts: 256 plus one per 8 characters) is refused by every JSON door before it is
 * parsed, as ZeroMQ refuses such a frame: `JSON.parse` of `[{},{},…]` holds 21 times the text, so one
 * 4 MiB MCP body took ~85 MB of the server's heap, several at once as many. Real processes, sockets
 * and SDK clients: MCP over HTTP and stdio, the dashboard's ops, and the ZeroMQ door beside them;
 * the same data in fewer containers passes, and the server goes on answering everyone.
 */
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxJsonContainers } from "../src/domain/input-limits.js";
import { encode } from "../src/transports/zmq/codec.js";
import { connectStdio } from "./mcp-helpers.js";
import { type ServerProcess, TestClient, startHttpDoors, stopServers, tempDir } from "./helpers.js";

const TOKEN = "json-containers-token-0123456789";
const dir = tempDir();
let server: ServerProcess;
let zmq: TestClient;
let mcpUrl = "";
let dashUrl = "";
const clients: Client[] = [];

const F = { type: "float", low: 0, high: 1 };
/** 20,000 empty maps: ~60 KB of JSON (at most ~7,800 containers), 20 KB of MessagePack (at most ~5,300), far under the 64 KiB of user_attrs. */
const emptyMaps = () => Array.from({ length: 20_000 }, () => ({}));
/** The same count of values as pairs of floats: one container per ~10 characters, which every door takes. */
const pairs = () => Array.from({ length: 2_000 }, (_, i) => [i + 0.5, 0.25]);

async function httpClient(): Promise<Client> {
  const client = new Client({ name: "json-containers", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }));
  clients.push(client);
  return client;
}

const studies = async () => ((await zmq.call("list_studies")) as { studies: { name: string }[] }).studies.map((s) => s.name).sort();

beforeAll(async () => {
  ({ server, mcpUrl, dashUrl } = await startHttpDoors(join(dir, "c.db"), TOKEN));
  zmq = new TestClient(server.endpoint);
}, 120_000);

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await zmq?.close();
  await stopServers();
});

describe("a JSON message of too many maps and arrays", () => {
  it("is refused by MCP over HTTP (-32602 with the call's id, data.reason max_containers) before it is parsed; the client goes on", async () => {
    const client = await httpClient();
    const refused = await client.callTool({ name: "create_study", arguments: { name: "http-crowded", space: { x: F }, user_attrs: { many: emptyMaps() } } }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(refused?.message).toMatch(/HTTP 400|Error POSTing/);
    const reply = JSON.parse((refused as Error).message.slice((refused as Error).message.indexOf("{"))) as { id: unknown; error: { code: number; message: string; data: Record<string, unknown> } };
    expect(reply.id).not.toBeNull();
    expect(reply.error).toMatchObject({ code: -32602, data: { code: "INVALID_ARGUMENT", reason: "max_containers" }, message: expect.stringMatching(/^INVALID_ARGUMENT: the message holds more maps and arrays than its \d+ characters allow \(at most \d+: 256 plus one per 8 characters/) });
    const chars = reply.error.data.message_chars as number;
    expect(reply.error.data.max_containers).toBe(maxJsonContainers(chars));
    // The same values as pairs of floats, and the client's next call, go through.
    const ok = await client.callTool({ name: "create_study", arguments: { name: "http-pairs", space: { x: F }, user_attrs: { pairs: pairs() } } });
    expect(ok.isError).toBeFalsy();
    expect(await studies()).toEqual(["http-pairs"]);
  }, 60_000);

  it("refused at the 4 MiB body limit, several at once, leaves the server answering another client", async () => {
    const body = `[${new Array(Math.floor((4 * 1024 * 1024 - 2) / 3)).fill("{}").join(",")}]`;
    const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
    const floods = Array.from({ length: 4 }, () => fetch(mcpUrl, { method: "POST", headers, body }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> })));
    const other = await httpClient();
    const listed = await other.callTool({ name: "list_studies", arguments: {} });
    for (const r of await Promise.all(floods)) {
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ id: null, error: { code: -32600, data: { reason: "max_containers", message_chars: body.length } } });
    }
    expect(listed.isError).toBeFalsy();
    expect(JSON.stringify(listed.content)).toContain("http-pairs");
    await expect(zmq.call("list_studies")).resolves.toMatchObject({ studies: [{ name: "http-pairs" }] });
  }, 120_000);

  it("is refused by MCP over stdio (McpError -32602 to the SDK's call) before the SDK parses it; the session goes on", async () => {
    const { client, transport } = await connectStdio(["--storage", join(dir, "stdio.db")]);
    try {
      const refused = await client.callTool({ name: "create_study", arguments: { name: "stdio-crowded", space: { x: F }, user_attrs: { many: emptyMaps() } } }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(McpError);
      expect(refused).toMatchObject({ code: -32602, data: { code: "INVALID_ARGUMENT", reason: "max_containers" } });
      const ok = await client.callTool({ name: "create_study", arguments: { name: "stdio-pairs", space: { x: F }, user_attrs: { pairs: pairs() } } });
      expect(ok.isError).toBeFalsy();
      const listed = await client.callTool({ name: "list_studies", arguments: {} });
      expect(JSON.stringify(listed.content)).toContain("stdio-pairs");
      expect(JSON.stringify(listed.content)).not.toContain("stdio-crowded");
    } finally {
      await transport.close();
    }
  }, 60_000);

  it("is refused by the dashboard's ops (400 INVALID_ARGUMENT, data.reason max_containers) and by ZeroMQ, and nothing is stored", async () => {
    await zmq.call("create_study", { name: "dash", space: { x: F } });
    const post = (attrs: unknown) => fetch(`${dashUrl}/api/op/set_user_attrs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ study: "dash", attrs }) });
    const refused = await post({ many: emptyMaps() });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: { code: string; message: string; data: Record<string, number> } };
    expect(body.error).toMatchObject({ code: "INVALID_ARGUMENT", data: { reason: "max_containers" }, message: expect.stringContaining("set_user_attrs: the body holds more maps and arrays") });
    expect(body.error.data.max_containers).toBe(maxJsonContainers(body.error.data.message_chars as number));
    // ZeroMQ refuses the same data (its own bound, in bytes), and the server answers on.
    const frame = encode({ v: 1, id: "z1", op: "set_user_attrs", study: "dash", attrs: { many: emptyMaps() } });
    expect(await zmq.raw(frame, "z1")).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", data: { reason: "max_containers" } } });
    expect((await post({ pairs: pairs() })).status).toBe(200);
    const study = (await zmq.call("get_study", { study: "dash" })) as { study: { user_attrs: Record<string, unknown> } };
    expect(Object.keys(study.study.user_attrs)).toEqual(["pairs"]);
  }, 60_000);
});
