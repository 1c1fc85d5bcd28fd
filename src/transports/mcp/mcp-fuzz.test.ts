/**
 * MCP tool inputs under fuzzing (issue 7): random and type-confused arguments to every tool
 * never crash the server, always come back as a protocol error or an `isError` result, and
 * never change stored data.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { type CallToolResult, McpError } from "@modelcontextprotocol/sdk/types.js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { serviceBackend } from "./backend.js";
import { type TuneportMcp, createTuneportMcp } from "./mcp-server.js";

let storage: SqliteStorage;
let service: StudyService;
let mcp: TuneportMcp;
let client: Client;
let tools: string[] = [];

/** Tools that legitimately change data when handed valid arguments by chance. */
const MUTATING = new Set(["create_study", "delete_study", "ask_trial", "tell_trial", "report_intermediate", "enqueue_trial"]);

beforeAll(async () => {
  storage = new SqliteStorage({ path: ":memory:" });
  service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  mcp = createTuneportMcp(serviceBackend(service), { logger: silentLogger(), version: "fuzz" });
  const [a, b] = InMemoryTransport.createLinkedPair();
  client = new Client({ name: "fuzz", version: "1" });
  await mcp.server.connect(a);
  await client.connect(b);
  await service.createStudy({ name: "keep", space: { x: { type: "float", low: 0, high: 1 } } });
  for (let i = 0; i < 3; i++) {
    const t = await service.ask({ study: "keep" });
    await service.tell({ study: "keep", trial: t.trial.number, token: t.lease.token, state: "COMPLETE", value: i });
  }
  tools = (await client.listTools()).tools.map((t) => t.name);
});

afterAll(async () => {
  await client.close();
  mcp.dispose();
  await service.close();
  await storage.close();
});

const junk = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxKeys: 3 }),
);
const fieldNames = fc.constantFrom("study", "name", "trial", "token", "value", "params", "space", "states", "limit", "offset", "confirm", "kind", "timeout_s", "direction", "rationale", "step");

describe("MCP tools under fuzzed inputs", () => {
  it("answer every malformed call with a protocol error or isError, and leave the data alone", async () => {
    const before = JSON.stringify(await service.listTrials({ study: "keep" }));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...tools), fc.dictionary(fieldNames, junk, { maxKeys: 5 }), async (tool, args) => {
        // The property targets malformed input: pin the study name for mutating tools to one that doesn't exist.
        const a: Record<string, unknown> = MUTATING.has(tool) ? { ...args, study: "no-such-study", name: 42 } : args;
        try {
          const r = (await client.callTool({ name: tool, arguments: a })) as CallToolResult;
          if (r.isError) expect(r.content.length).toBeGreaterThan(0);
        } catch (e) {
          expect(e).toBeInstanceOf(McpError);
        }
      }),
      { numRuns: 400, seed: 7 },
    );
    expect(JSON.stringify(await service.listTrials({ study: "keep" }))).toBe(before);
    expect((await service.listStudies()).map((s) => s.name)).toEqual(["keep"]);
  });
});
