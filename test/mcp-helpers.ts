/** Shared plumbing for the MCP integration tests: the built CLI, free ports, temp dirs, clean-up. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CLI = join(ROOT, "dist/cli/main.js");

export function requireBuild(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' before the integration tests`);
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "tuneport-mcp-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** See helpers.ts: a loopback port below the ephemeral range. */
export { freePort } from "./helpers.js";

/**
 * The MCP-over-HTTP port a `serve --mcp-http 0` process bound, from its "tuneport ready" log line:
 * binding port 0 in the server itself leaves no window in which another socket can take the port
 * (`freePort` closes its probe before the child binds, and the kernel may hand the port out again).
 */
export function readyMcpPort(out: string): number {
  const line = out.split("\n").find((l) => l.includes("tuneport ready"));
  const url = line === undefined ? null : (JSON.parse(line) as { mcp_http?: string | null }).mcp_http;
  if (!url) throw new Error(`no MCP-over-HTTP URL in the ready line; got:\n${out}`);
  return Number(new URL(url).port);
}

/** Spawns `tuneport mcp ARGS` and connects the SDK client to it over stdio. */
export async function connectStdio(args: string[]): Promise<{ client: Client; transport: StdioClientTransport; stderr: () => string }> {
  requireBuild();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, "mcp", ...args],
    stderr: "pipe",
    env: { ...process.env, TUNEPORT_LOG_LEVEL: "warn" } as Record<string, string>,
  });
  let err = "";
  transport.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: "tuneport-test", version: "1" });
  try {
    await client.connect(transport);
  } catch (e) {
    await transport.close(); // ends the spawned process: nobody else holds it yet
    throw e;
  }
  return { client, transport, stderr: () => err };
}

/** Tracks child processes so afterEach can end exactly those it started. */
export class Procs {
  private readonly list: ChildProcess[] = [];
  spawn(args: string[], env: Record<string, string> = {}): ChildProcess & { out: () => string } {
    const p = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    this.list.push(p);
    return Object.assign(p, { out: () => out });
  }
  async killAll(): Promise<void> {
    await Promise.all(
      this.list.splice(0).map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once("exit", () => resolve());
            p.kill("SIGTERM");
            setTimeout(() => p.kill("SIGKILL"), 3000).unref();
          }),
      ),
    );
  }
}

export function exited(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (p.exitCode !== null) return resolve(p.exitCode);
    p.once("exit", (code) => resolve(code));
  });
}

/** Resolves once `pred(output)` holds, polling the process output. */
export async function waitForOutput(out: () => string, pred: (s: string) => boolean, timeoutMs = 90_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (pred(out())) return out();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for process output; got:\n${out()}`);
}

export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}
export const textOf = (r: CallToolResult): string => r.content.map((c) => (c.type === "text" ? c.text : `[${c.type}]`)).join("\n");
export const sc = (r: CallToolResult): Record<string, any> => r.structuredContent as Record<string, any>;
