/**
 * An agent's MCP session for tests: the real SDK client over an in-memory transport to tuneport's
 * MCP server, on a fresh service over an in-memory SQLite database.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { silentLogger } from "../logger.js";
import { StudyService } from "../service/study-service.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { serviceBackend } from "../transports/mcp/backend.js";
import { type TuneportMcp, createTuneportMcp } from "../transports/mcp/mcp-server.js";

export interface McpSession {
  readonly service: StudyService;
  readonly mcp: TuneportMcp;
  readonly client: Client;
  /** Calls a tool as an agent does. */
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
  /** Closes the client, the MCP server, the service and its storage. */
  close(): Promise<void>;
}

/** Opens a session whose client introduces itself as `clientName`. */
export async function openMcpSession(clientName: string): Promise<McpSession> {
  const storage = new SqliteStorage({ path: ":memory:" });
  const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  const mcp = createTuneportMcp(serviceBackend(service), { logger: silentLogger(), version: "test" });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: clientName, version: "1" });
  await mcp.server.connect(a);
  await client.connect(b);
  return {
    service,
    mcp,
    client,
    call: async (name, args) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    close: async () => {
      await client.close();
      mcp.dispose();
      await service.close();
      await storage.close();
    },
  };
}

/** A tool result's text, its parts joined by newlines. */
export const textOf = (r: CallToolResult): string => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");

/** A tool result's structured content. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read its fields freely
export const structuredOf = (r: CallToolResult): Record<string, any> => r.structuredContent as Record<string, any>;
