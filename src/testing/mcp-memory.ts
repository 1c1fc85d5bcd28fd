/**
 * The MCP tools' unit-test rig: a service on an in-memory SQLite database, tuneport's MCP server
 * on it, and the SDK's real `Client` linked to that server over the SDK's in-memory transport
 * (which passes JS values as they are, lone surrogates included).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { silentLogger } from "../logger.js";
import { StudyService } from "../service/study-service.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { type McpBackend, serviceBackend } from "../transports/mcp/backend.js";
import { type TuneportMcp, type TuneportMcpOptions, createTuneportMcp } from "../transports/mcp/mcp-server.js";

export interface MemoryMcp {
  readonly storage: SqliteStorage | null;
  readonly service: StudyService;
  readonly backend: McpBackend;
  readonly mcp: TuneportMcp;
  readonly client: Client;
  /** Closes the client and the server, then the service and storage it opened (not a given `service`). */
  close(): Promise<void>;
}

export interface MemoryMcpOptions {
  /** Serve this service instead of opening one (it is left open by `close`). */
  readonly service?: StudyService;
  /** Runs on the backend before the MCP server is made (e.g. to wrap one of its calls). */
  readonly prepare?: (backend: McpBackend) => void;
  /** Runs on the client before it connects (e.g. to set notification handlers). */
  readonly beforeConnect?: (client: Client) => void;
  readonly mcp?: Partial<TuneportMcpOptions>;
}

export async function memoryMcp(opts: MemoryMcpOptions = {}): Promise<MemoryMcp> {
  const storage = opts.service ? null : new SqliteStorage({ path: ":memory:" });
  const service = opts.service ?? (await StudyService.open({ storage: storage as SqliteStorage, logger: silentLogger(), reapIntervalMs: 0 }));
  const backend = serviceBackend(service);
  opts.prepare?.(backend);
  const mcp = createTuneportMcp(backend, { logger: silentLogger(), version: "test", ...opts.mcp });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "unit", version: "1" });
  opts.beforeConnect?.(client);
  await mcp.server.connect(a);
  await client.connect(b);
  return {
    storage,
    service,
    backend,
    mcp,
    client,
    async close() {
      await client.close();
      mcp.dispose();
      if (storage) {
        await service.close();
        await storage.close();
      }
    },
  };
}
