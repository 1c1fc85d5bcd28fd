/**
 * A map key `__proto__` is refused by every door, never rewritten: msgpackr decoded it as
 * `__proto_` (so two keys became one), and the schemas of MCP and of the dashboard's ops dropped
 * it. Real processes and sockets: ZeroMQ, MCP over HTTP and stdio, the dashboard, and import.
 * A value "__proto__" and a key "__proto_" stay accepted. (domain/input-limits.ts FORBIDDEN_KEY)
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encode } from "../src/transports/zmq/codec.js";
import { CLI, type ServerProcess, TestClient, startHttpDoors, stopServers, tempDir } from "./helpers.js";

const TOKEN = "proto-key-token-0123456789";
const dir = tempDir();
let server: ServerProcess;
let client: TestClient;
let mcpUrl = "";
let dashUrl = "";

/** create_study arguments whose space holds a key `__proto__` (JSON.parse keeps it as an own key). */
const withProtoSpace = (name: string) => JSON.parse(`{"name":"${name}","space":{"__proto__":{"type":"float","low":0,"high":1},"x":{"type":"float","low":0,"high":1}}}`) as Record<string, unknown>;
const harmless = (name: string) => ({ name, space: { __proto_: { type: "categorical", choices: ["__proto__", "b"] } } });

beforeAll(async () => {
  ({ server, mcpUrl, dashUrl } = await startHttpDoors(join(dir, "p.db"), TOKEN));
  client = new TestClient(server.endpoint);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await stopServers();
});

describe("a key __proto__", () => {
  it("is refused over ZeroMQ, in a nested map and at the top, whatever the string's encoding", async () => {
    const frame = encode({ v: 1, id: "z1", op: "create_study", ...withProtoSpace("zmq") });
    expect(frame.includes(Buffer.from("__proto__"))).toBe(true); // sent as written
    const r = await client.raw(frame, "z1");
    expect(r).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", message: expect.stringContaining("__proto__") } });
    // str8 (0xd9) instead of fixstr for the key, at the top level of the request.
    const top = encode({ v: 1, id: "z2", op: "list_studies", zz: 1 });
    const str8 = Buffer.concat([Buffer.from([0xd9, 9]), Buffer.from("__proto__")]);
    const i = top.indexOf(Buffer.from([0xa2, 0x7a, 0x7a])); // fixstr "zz"
    const forged = Buffer.concat([top.subarray(0, i), str8, top.subarray(i + 3)]);
    expect(await client.raw(forged, "z2")).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT" } });
    await expect(client.call("list_studies")).resolves.toMatchObject({ studies: [] });
    await expect(client.call("create_study", harmless("zmq-ok"))).resolves.toMatchObject({ created: true });
  });

  it("is refused by MCP over HTTP before the SDK drops it", async () => {
    const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
    const init = await fetch(mcpUrl, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }) });
    const session = init.headers.get("mcp-session-id") as string;
    await init.text();
    const call = (id: number, args: string) =>
      fetch(mcpUrl, { method: "POST", headers: { ...headers, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" }, body: `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"create_study","arguments":${args}}}` });
    const refused = await call(2, JSON.stringify({ name: "http", space: { x: { type: "float", low: 0, high: 1 } } }).replace('"space":{', '"space":{"__proto__":{"type":"float","low":0,"high":1},'));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ id: 2, error: { code: -32600, data: { code: "INVALID_ARGUMENT" }, message: expect.stringContaining("message.params.arguments.space") } });
    const ok = await call(3, JSON.stringify(harmless("http-ok")));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('"created":true');
  });

  it("is refused by MCP over stdio, written plainly or with escapes", async () => {
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
      const tool = (id: number, args: string) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"create_study","arguments":${args}}}\n`;
      p.stdin.write(tool(2, '{"name":"s1","space":{"__proto__":{"type":"float","low":0,"high":1}}}'));
      p.stdin.write(tool(3, '{"name":"s2","space":{"x":{"type":"float","low":0,"high":1}},"user_attrs":{"\\u005f_proto\\u005f_":1}}'));
      p.stdin.write(tool(4, JSON.stringify(harmless("stdio-ok"))));
      expect(await reply(2)).toMatchObject({ error: { code: -32600, data: { code: "INVALID_ARGUMENT" } } });
      expect(await reply(3)).toMatchObject({ error: { code: -32600, message: expect.stringContaining("user_attrs") } });
      expect(JSON.stringify(await reply(4))).toContain('"created":true');
    } finally {
      p.kill("SIGKILL");
    }
  });

  it("is refused by the dashboard's ops and by import", async () => {
    const post = (body: string) => fetch(`${dashUrl}/api/op/set_user_attrs`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const refused = await post('{"study":"zmq-ok","attrs":{"__proto__":{"notes":"hidden"}}}');
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: "INVALID_ARGUMENT", message: expect.stringContaining("__proto__") } });
    expect((await post('{"study":"zmq-ok","attrs":{"__proto_":"__proto__"}}')).status).toBe(200);

    const db = join(dir, "import.db");
    const file = join(dir, "zmq-ok.jsonl");
    const exported = spawnSync(process.execPath, [CLI, "export", "zmq-ok", "--storage", join(dir, "p.db"), "--out", file], { encoding: "utf8" });
    expect(exported.status, exported.stderr).toBe(0);
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.replace('"user_attrs":{', '"user_attrs":{"__proto__":{"a":1},'));
    const imported = spawnSync(process.execPath, [CLI, "import", file, "--storage", db, "--name", "copy"], { encoding: "utf8" });
    expect(imported.status).not.toBe(0);
    expect(imported.stderr).toContain("__proto__");
  });
});

describe("parameter names every JavaScript object has (toString, constructor, ...)", () => {
  // Lookups of a space or a trial's params by name found the member: an undeclared `toString`
  // was stored with a null distribution, and a declared `constructor` refused its own value.
  const refused = async (id: string, op: string, args: Record<string, unknown>) => {
    const r = await client.raw(encode({ v: 1, id, op, ...args }), id);
    expect(r, `${op} ${JSON.stringify(args)}`).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", message: expect.stringMatching(/may not be named after a member every JavaScript object has.*rename it/) } });
  };
  const F = { type: "float", low: 0, high: 1 };

  it("are refused wherever a client names a parameter, and nothing is stored", async () => {
    for (const name of ["constructor", "toString", "hasOwnProperty", "valueOf"]) await refused(`c-${name}`, "create_study", { name: `p-${name}`, space: { [name]: F, x: F } });
    await expect(client.call("create_study", { name: "plain", space: { x: F } })).resolves.toMatchObject({ created: true });
    await refused("a1", "add_trial", { study: "plain", params: { x: 0.5, toString: 0.5 }, value: 1 });
    await refused("a2", "add_trial", { study: "plain", params: { x: 0.5 }, distributions: { constructor: F }, value: 1 });
    await refused("e1", "enqueue", { study: "plain", params: { x: 0.5, valueOf: 0.5 } });
    const asked = (await client.call("ask", { study: "plain" })) as { trial: { number: number }; lease: { token: string } };
    await refused("s1", "suggest", { study: "plain", trial: asked.trial.number, token: asked.lease.token, name: "isPrototypeOf", distribution: F });
    const study = (await client.call("get_study", { study: "plain" })) as { study: { n_trials: number; define_by_run: Record<string, unknown> } };
    expect(study.study.n_trials).toBe(1); // the ask's own trial only
    expect(study.study.define_by_run).toEqual({});
    for (const name of ["p-constructor", "p-toString"]) await expect(client.call("get_study", { study: name })).rejects.toThrow(/NOT_FOUND|not found/i);
    // Ordinary names that merely look alike stay accepted.
    await expect(client.call("create_study", { name: "alike", space: { to_string: F, Constructor: F } })).resolves.toMatchObject({ created: true });
  });
});
