/**
 * A trial's holder names its MCP session by a tag, never by the session's id (a real `tuneport serve
 * --mcp-http`, the SDK's real clients, a raw DELETE). With the token, an id is the session itself:
 * before, any agent that read a trial another agent asked (get_trial, list_trials, the dashboard)
 * learnt that agent's session id, and could end its session with a DELETE or call in its name.
 */
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { startHttpDoors, stopServers, tempDir } from "./helpers.js";

const TOKEN = "session-token-0123456789abcdef";
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await stopServers();
});

async function open(url: string, name: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name, version: "1" });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

const structured = async (c: Client, name: string, args: Record<string, unknown>) => {
  const r = (await c.callTool({ name, arguments: args })) as CallToolResult;
  expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
  return r.structuredContent as Record<string, any>;
};

describe("MCP over HTTP: session ids stay with their client", () => {
  it("another agent cannot end a session whose trial it reads", async () => {
    const { mcpUrl } = await startHttpDoors(join(tempDir(), "s.db"), TOKEN);
    const a = await open(mcpUrl, "agent-a");
    await structured(a.client, "create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
    const asked = await structured(a.client, "ask_trial", { study: "s" });
    const b = await open(mcpUrl, "agent-b");
    const seen = (await structured(b.client, "get_trial", { study: "s", trial: asked.trial.number })).trial.system_attrs.worker as { session?: string };
    expect(seen.session).toBeTruthy();
    const del = await fetch(mcpUrl, { method: "DELETE", headers: { authorization: `Bearer ${TOKEN}`, "mcp-session-id": seen.session as string } });
    expect(del.status).toBe(404);
    // A's session goes on.
    await structured(a.client, "tell_trial", { study: "s", trial: asked.trial.number, token: asked.token, value: 0.5 });
    expect(seen.session).not.toBe(a.transport.sessionId);
  }, 120_000);
});
