/** `tuneport serve --mcp-http`: the same tools over Streamable HTTP, behind a bearer token. */
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionTag } from "../src/transports/mcp/http.js";
import { CLI, Procs, call, exited, readyMcpPort, requireBuild, sc, tempDir, textOf, waitForOutput } from "./mcp-helpers.js";

const TOKEN = "test-token-0123456789abcdef";
const procs = new Procs();
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(requireBuild);
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await procs.killAll();
});

async function startServer(): Promise<string> {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  // Ports bound by the server itself (0, *): no window for another socket to take them.
  const p = procs.spawn([CLI, "serve", "--storage", join(tmp.dir, "h.db"), "--bind", "tcp://127.0.0.1:*", "--mcp-http", "0"], {
    TUNEPORT_MCP_TOKEN: TOKEN,
  });
  return `http://127.0.0.1:${readyMcpPort(await waitForOutput(p.out, (s) => s.includes("tuneport ready")))}/mcp`;
}

function httpClient(url: string, token?: string) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: token ? { headers: { Authorization: `Bearer ${token}` } } : {},
  });
  return { client: new Client({ name: "http-test", version: "1" }), transport };
}

describe("MCP over Streamable HTTP", () => {
  it("serves the tools to a client with the token", async () => {
    const url = await startServer();
    const { client, transport } = httpClient(url, TOKEN);
    await client.connect(transport);
    cleanups.push(() => client.close());
    expect(transport.sessionId).toBeTruthy();
    await call(client, "create_study", { name: "h", space: { x: { type: "float", low: 0, high: 1 } } });
    const a = sc(await call(client, "ask_trial", { study: "h" }));
    // The trial's holder is this agent: its session and clientInfo name (issue 16, worker identity).
    const held = sc(await call(client, "get_trial", { study: "h", trial: a.trial.number }));
    expect(held.trial.system_attrs.worker).toEqual({ transport: "mcp", name: "http-test", version: "1", session: sessionTag(transport.sessionId as string) });
    await call(client, "tell_trial", { study: "h", trial: a.trial.number, token: a.token, value: 0.5 });
    expect(sc(await call(client, "list_studies")).studies[0].n_trials).toBe(1);
  });

  it("refuses a list_trials cursor of a study deleted and created again under its name between pages (a tuneport serve, over HTTP)", async () => {
    const url = await startServer();
    const { client, transport } = httpClient(url, TOKEN);
    await client.connect(transport);
    cleanups.push(() => client.close());
    const fill = async () => {
      expect((await call(client, "create_study", { name: "r", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" })).isError).toBeFalsy();
      for (let i = 0; i < 8; i++) expect((await call(client, "add_trial", { study: "r", params: { x: i / 10 }, value: i })).isError).toBeFalsy();
    };
    await fill();
    const cursor = sc(await call(client, "list_trials", { study: "r", limit: 3 })).next_cursor as string;
    expect(sc(await call(client, "list_trials", { study: "r", limit: 3, cursor })).trials.map((t: { number: number }) => t.number)).toEqual([3, 4, 5]);
    expect((await call(client, "delete_study", { study: "r", confirm: true })).isError).toBeFalsy();
    await fill();
    const stale = await call(client, "list_trials", { study: "r", limit: 3, cursor });
    expect(stale.isError, textOf(stale)).toBe(true);
    expect(textOf(stale)).toMatch(/^Error INVALID_ARGUMENT: cursor was made for study 'r' created at .*, which was deleted; .*start again without a cursor/);
    expect((stale._meta as Record<string, { data?: Record<string, unknown> }>)["tuneport/error"]?.data).toMatchObject({ reason: "study_recreated" });
  });

  it("answers 401 without the token or with a wrong one", async () => {
    const url = await startServer();
    for (const token of [undefined, "wrong-token-0123456789abcdef", `${TOKEN}x`]) {
      const { client, transport } = httpClient(url, token);
      await expect(client.connect(transport)).rejects.toThrow(/401|nauthorized/);
    }
    const raw = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(raw.status).toBe(401);
    expect(raw.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("refuses to start without a token", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const p = procs.spawn([CLI, "serve", "--storage", join(tmp.dir, "n.db"), "--mcp-http", "0"], { TUNEPORT_MCP_TOKEN: "" });
    expect(await exited(p)).toBe(2);
    expect(p.out()).toContain("TUNEPORT_MCP_TOKEN");
  });
});
