/**
 * One MCP-over-HTTP client cannot starve another by keeping many costly calls in flight (a real
 * `tuneport serve --mcp-http`, the SDK's real client): each op waits for its client's turn
 * (src/transports/mcp/fair-calls.ts). Before, every call's op started the moment its POST was read,
 * so another agent's call waited behind all of the flood's calls then in flight.
 *
 * The check counts, not times: how many of the flood's answers reach it between another agent's
 * call and that call's answer. A load on the machine slows both alike.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { CLI, startHttpDoors, stopServers, tempDir } from "./helpers.js";

const TOKEN = "fair-token-0123456789abcdef";
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await stopServers();
});

/** Imports study "big": `n` COMPLETE trials over three parameters. */
function importStudy(dir: string, n: number): string {
  const now = Date.now();
  const dist = { a: { type: "float", low: 0, high: 1 }, b: { type: "float", low: 0, high: 1 }, c: { type: "int", low: 1, high: 8 } };
  const config = { direction: "minimize", space: dist, strategy: { name: "random", options: {} }, scheduler: null, seed: 1, lease_ttl_s: 30, retry: { max_retries: 0, retry_on_fail: false, keep_intermediate: false } };
  const lines = [JSON.stringify({ format: "tuneport-study", version: 1, name: "big", config, user_attrs: {}, created_at_ms: now, trials: n })];
  for (let i = 0; i < n; i++) {
    const p = { a: (i * 0.618) % 1, b: (i * 0.414) % 1, c: 1 + (i % 8) };
    lines.push(JSON.stringify({ number: i, state: "COMPLETE", params: p, distributions: dist, value: (p.a - 0.3) ** 2 + 0.1 * p.b, intermediate: [], user_attrs: {}, system_attrs: {}, created_at_ms: now, started_at_ms: now, finished_at_ms: now, lease: null }));
  }
  writeFileSync(join(dir, "big.jsonl"), `${lines.join("\n")}\n`);
  const db = join(dir, "big.db");
  const r = spawnSync(process.execPath, [CLI, "import", join(dir, "big.jsonl"), "--storage", db], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return db;
}

async function open(url: string, name: string): Promise<Client> {
  const client = new Client({ name, version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
  clients.push(client);
  return client;
}

describe("MCP over HTTP: calls take turns by client", () => {
  it("another agent's call waits behind a few of a flood's costly calls, not all those in flight", async () => {
    const { mcpUrl, server } = await startHttpDoors(importStudy(tempDir(), 10_000), TOKEN);
    const other = await open(mcpUrl, "other-agent");
    // The flood: 6 sessions of one client, each keeping 40 summaries of the 10,000-trial study in
    // flight (each one reads every trial: tens of ms).
    const flood = await Promise.all(Array.from({ length: 6 }, () => open(mcpUrl, "flood")));
    let answers = 0;
    const failures: string[] = [];
    let stop = false;
    const loops = flood.flatMap((c) =>
      Array.from({ length: 40 }, async () => {
        while (!stop && failures.length === 0) {
          try {
            await c.callTool({ name: "study_summary", arguments: { study: "big" } }, undefined, { timeout: 300_000 });
            answers++;
          } catch (err) {
            failures.push(String(err));
          }
        }
      }),
    );
    const behind: number[] = [];
    try {
      while (answers < 300 && failures.length === 0) await new Promise((r) => setTimeout(r, 20));
      for (let i = 0; i < 5 && failures.length === 0; i++) {
        const before = answers;
        const r = await other.callTool({ name: "list_studies", arguments: {} }, undefined, { timeout: 300_000 });
        expect(r.isError).toBeFalsy();
        behind.push(answers - before);
      }
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(failures, server.lines.filter((l) => l.includes('"level":40') || l.includes('"level":50')).join("\n")).toEqual([]);
    behind.sort((x, y) => x - y);
    // Before, the median call waited behind 20 to 40 of the flood's (those read before it); now
    // behind about one per turn of the event loop it takes to be read, run and answered.
    expect(behind[2], `flood answers during the other agent's calls: ${behind.join(", ")}`).toBeLessThan(12);
  }, 300_000);
});
