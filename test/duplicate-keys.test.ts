/**
 * An object holding one key twice is refused by every JSON door, as ZeroMQ refuses a map holding
 * one key twice: `JSON.parse` kept the last of the two without a word (`{"name":"a","name":"b"}`
 * created 'b'), where another parser on the way (a proxy, a log, an audit) may read the first.
 * Real processes and sockets: MCP over HTTP and stdio, the dashboard's ops, and import; a request
 * without a duplicate still goes through. (domain/input-limits.ts `jsonTextDuplicateKey`)
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encode } from "../src/transports/zmq/codec.js";
import { CLI, type ServerProcess, TestClient, startHttpDoors, stopServers, tempDir } from "./helpers.js";

const TOKEN = "duplicate-key-token-0123456789";
const dir = tempDir();
let server: ServerProcess;
let client: TestClient;
let mcpUrl = "";
let dashUrl = "";

const SPACE = '{"x":{"type":"float","low":0,"high":1}}';
/** create_study arguments naming the study twice, `first` then `second`. */
const twice = (first: string, second: string) => `{"name":"${first}","space":${SPACE},"name":"${second}"}`;

beforeAll(async () => {
  ({ server, mcpUrl, dashUrl } = await startHttpDoors(join(dir, "d.db"), TOKEN));
  client = new TestClient(server.endpoint);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await stopServers();
});

const names = async () => ((await client.call("list_studies")) as { studies: { name: string }[] }).studies.map((s) => s.name).sort();

describe("a key twice in one object", () => {
  it("is refused by MCP over HTTP (-32600 with the request's id), in the arguments and in the envelope; nothing is created", async () => {
    const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
    const init = await fetch(mcpUrl, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }) });
    const session = init.headers.get("mcp-session-id") as string;
    await init.text();
    const post = (body: string) => fetch(mcpUrl, { method: "POST", headers: { ...headers, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" }, body });
    const call = (id: number, args: string) => post(`{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"create_study","arguments":${args}}}`);
    const refused = await call(2, twice("http-a", "http-b"));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ id: 2, error: { code: -32600, data: { code: "INVALID_ARGUMENT" }, message: 'INVALID_ARGUMENT: the message holds an object with the key "name" twice: the keys of an object must be unique (neither value is picked)' } });
    // Spelt differently, decoded the same; and in the JSON-RPC envelope itself.
    expect((await call(3, `{"name":"http-a","space":${SPACE},"n\\u0061me":"http-b"}`)).status).toBe(400);
    const envelope = await post(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"create_study","arguments":{"name":"http-a","space":${SPACE}}},"id":5}`);
    expect(envelope.status).toBe(400);
    expect(await envelope.text()).toContain('the key \\"id\\" twice');
    expect(await names()).toEqual([]);
    const ok = await call(6, `{"name":"http-ok","space":${SPACE},"user_attrs":{"a":{"name":1},"b":{"name":2}}}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('"created":true');
  });

  it("is refused by MCP over stdio", async () => {
    const p = spawn(process.execPath, [CLI, "mcp", "--storage", join(dir, "stdio.db")], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, TUNEPORT_LOG_LEVEL: "warn" } });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const reply = async (id: number) => {
      for (let i = 0; i < 600; i++) {
        const line = out.split("\n").find((l) => l.includes(`"id":${id}`));
        if (line) return JSON.parse(line) as Record<string, any>;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no reply ${id}: ${out}`);
    };
    try {
      p.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } })}\n`);
      await reply(1);
      p.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
      const tool = (id: number, name: string, args: string) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${name}","arguments":${args}}}\n`;
      p.stdin.write(tool(2, "create_study", twice("s-a", "s-b")));
      p.stdin.write(tool(3, "list_studies", "{}"));
      p.stdin.write(tool(4, "create_study", `{"name":"s-ok","space":${SPACE}}`));
      expect(await reply(2)).toMatchObject({ error: { code: -32600, data: { code: "INVALID_ARGUMENT" }, message: expect.stringContaining('the key "name" twice') } });
      expect(JSON.stringify(await reply(3))).not.toMatch(/s-a|s-b/);
      expect(JSON.stringify(await reply(4))).toContain('"created":true');
    } finally {
      p.kill("SIGKILL");
    }
  });

  it("is refused by the dashboard's ops (400 INVALID_ARGUMENT, data.duplicate_key) and by import, naming the line", async () => {
    await expect(client.call("create_study", { name: "dash", space: { x: { type: "float", low: 0, high: 1 } } })).resolves.toMatchObject({ created: true });
    const post = (body: string) => fetch(`${dashUrl}/api/op/set_user_attrs`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const refused = await post('{"study":"dash","attrs":{"owner":"a"},"attrs":{"owner":"b"}}');
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: "INVALID_ARGUMENT", message: expect.stringContaining('set_user_attrs: the body holds an object with the key "attrs" twice'), data: { duplicate_key: "attrs" } } });
    expect(((await client.call("get_study", { study: "dash" })) as { study: { user_attrs: object } }).study.user_attrs).toEqual({});
    expect((await post('{"study":"dash","attrs":{"owner":"a"}}')).status).toBe(200);

    const file = join(dir, "dash.jsonl");
    const exported = spawnSync(process.execPath, [CLI, "export", "dash", "--storage", join(dir, "d.db"), "--out", file], { encoding: "utf8" });
    expect(exported.status, exported.stderr).toBe(0);
    writeFileSync(file, readFileSync(file, "utf8").replace('"user_attrs":{"owner":"a"}', '"user_attrs":{"owner":"a","owner":"b"}'));
    const db = join(dir, "import.db");
    const imported = spawnSync(process.execPath, [CLI, "import", file, "--storage", db, "--name", "copy"], { encoding: "utf8" });
    expect(imported.status).not.toBe(0);
    expect(imported.stderr).toMatch(/line 1: the line holds an object with the key "owner" twice/);
  });

  it("was refused by ZeroMQ already (msgpack-scan.ts): the doors agree", async () => {
    const frame = Buffer.concat([encode({ v: 1, id: "z1", op: "list_studies", zz: 1 })]);
    // Rename the key "zz" to "op": the request then holds "op" twice.
    const i = frame.indexOf(Buffer.from([0xa2, 0x7a, 0x7a]));
    frame.set(Buffer.from("op"), i + 1);
    expect(await client.raw(frame, "z1")).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", data: { duplicate_key: "op" } } });
  });
});
