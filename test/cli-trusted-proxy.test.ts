/**
 * `--trusted-proxy ADDR[,ADDR...]` (addresses or CIDR networks) on the commands that start HTTP doors (`serve --dashboard` and
 * `--mcp-http`, `dashboard`): a reverse proxy on another machine is one remote address for all its
 * users, and three dashboard pages through one that opens a connection per request went past the
 * per-address accept budget (502s), with no way to say so. What the doors do with the addresses is
 * src/transports/http/http-door.test.ts; here, that a bad one is refused with a usage error naming
 * it, and that good ones reach both doors of a real server.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, startServer, stopServers, tempDir } from "./helpers.js";

afterAll(stopServers);

const dir = tempDir();
const TOKEN = "t".repeat(24);

/** The CLI run to its end; the timeout only catches a hang. */
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });

/** Resolves with the first JSON log line of `proc` whose msg is `msg` (the test's timeout catches none coming). */
function logLine(proc: ChildProcess, lines: string[], msg: string): Promise<Record<string, unknown>> {
  const find = () => lines.map((l) => (l.startsWith("{") ? (JSON.parse(l) as Record<string, unknown>) : {})).find((r) => r.msg === msg);
  return new Promise((resolve) => {
    const seen = find();
    if (seen !== undefined) return resolve(seen);
    const look = () => {
      const rec = find();
      if (rec === undefined) return;
      proc.stdout?.off("data", look);
      resolve(rec);
    };
    proc.stdout?.on("data", look);
  });
}

describe("--trusted-proxy", () => {
  it("refuses what is not an IPv4/IPv6 address or network with a usage error naming it, and nothing starts", () => {
    const db = join(dir, "refused.db");
    const cases: [string[], string][] = [
      [["serve", "--storage", db, "--dashboard", "0", "--trusted-proxy", "192.0.2.7,proxy.internal"], "proxy.internal"],
      [["serve", "--storage", db, "--mcp-http", "0", "--mcp-token", TOKEN, "--trusted-proxy", "192.0.2.0/33"], "192.0.2.0/33"],
      [["serve", "--storage", db, "--dashboard", "0", "--trusted-proxy", "192.0.2.7", "--trusted-proxy", "192.0.2.7:8080"], "192.0.2.7:8080"],
      [["serve", "--storage", db, "--dashboard", "0", "--trusted-proxy", "192.0.2.7,"], ""],
      [["dashboard", "--storage", db, "--port", "0", "--trusted-proxy", "300.1.2.3"], "300.1.2.3"],
    ];
    for (const [args, bad] of cases) {
      const r = run(...args);
      expect(r.stderr.trim(), args.join(" ")).toBe(`tuneport: --trusted-proxy takes IPv4 or IPv6 addresses or CIDR networks (10.0.0.0/8), comma-separated (no names, ports or zone ids), got ${JSON.stringify(bad)}`);
      expect(r.status).toBe(2);
      expect(existsSync(db)).toBe(false);
    }
    // An IPv4 prefix on the IPv4-mapped spelling (a dual-stack listener's log) would mean ::/8: refused.
    for (const bad of ["::ffff:10.0.0.0/8", "10.1.2.3/8"]) {
      const r = run("serve", "--storage", db, "--dashboard", "0", "--trusted-proxy", `192.0.2.7,${bad}`);
      expect(r.stderr.trim(), bad).toBe(`tuneport: --trusted-proxy ${JSON.stringify(bad)} has address bits set past its prefix: write a network by its first address (10.0.0.0/8; an IPv4 one not in its IPv4-mapped form, whose /8 would be ::/8, every IPv4 address)`);
      expect(r.status).toBe(2);
      expect(existsSync(db)).toBe(false);
    }
    // Without a door to apply to, it would do nothing: refused as the other door options are.
    const idle = run("serve", "--storage", db, "--trusted-proxy", "192.0.2.7");
    expect(idle.stderr.trim()).toBe("tuneport: --trusted-proxy has no effect without --dashboard PORT or --mcp-http PORT; add it or drop --trusted-proxy");
    expect(idle.status).toBe(2);
  });

  it("hands good addresses and networks (comma-separated, repeated, IPv4 and IPv6) to the dashboard's and MCP's doors of serve, and to dashboard's", async () => {
    const db = join(dir, "served.db");
    const given = ["192.0.2.7", "2001:DB8::1", "10.0.0.0/8", "::ffff:198.51.100.4"];
    const server = await startServer(db, ["--dashboard", "0", "--mcp-http", "0", "--mcp-token", TOKEN, "--trusted-proxy", given.slice(0, 3).join(","), "--trusted-proxy", given[3] as string, "--log-format", "json"]);
    expect((await logLine(server.proc, server.lines, "dashboard listening")).trusted_proxies).toEqual(given);
    expect((await logLine(server.proc, server.lines, "mcp http listening")).trusted_proxies).toEqual(given);
    expect((await logLine(server.proc, server.lines, "tuneport ready")).dashboard).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(await server.stop()).toBe(0);

    // The read-only dashboard beside a server takes it too.
    const dash = spawn(process.execPath, [CLI, "dashboard", "--storage", db, "--port", "0", "--trusted-proxy", "192.0.2.7", "--log-format", "json"], { stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    let partial = "";
    dash.stdout.on("data", (d: Buffer) => {
      const parts = (partial + d.toString()).split("\n");
      partial = parts.pop() as string;
      lines.push(...parts);
    });
    const exited = new Promise<number | null>((resolve) => dash.once("exit", (code) => resolve(code)));
    try {
      expect((await logLine(dash, lines, "dashboard listening")).trusted_proxies).toEqual(["192.0.2.7"]);
    } finally {
      dash.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 120_000);

  it("warns at start, on each door, of a network that holds every IPv4 or IPv6 peer (it was taken without a word); a narrower one is not warned of", async () => {
    const db = join(dir, "everyone.db");
    const server = await startServer(db, ["--dashboard", "0", "--mcp-http", "0", "--mcp-token", TOKEN, "--trusted-proxy", "0.0.0.0/0,10.0.0.0/8", "--trusted-proxy", "::/0", "--log-format", "json"]);
    await logLine(server.proc, server.lines, "tuneport ready");
    const warned = server.lines
      .map((l) => (l.startsWith("{") ? (JSON.parse(l) as Record<string, unknown>) : {}))
      .filter((r) => r.trusted_proxy !== undefined)
      .map((r) => [r.component, r.trusted_proxy, r.level, String(r.msg).replace(/: any client.*/, "")]);
    expect(warned.sort()).toEqual(
      [
        ["dashboard", "0.0.0.0/0", 40, "trusted proxy 0.0.0.0/0 holds every IPv4 peer"],
        ["dashboard", "::/0", 40, "trusted proxy ::/0 holds every peer"],
        ["mcp-http", "0.0.0.0/0", 40, "trusted proxy 0.0.0.0/0 holds every IPv4 peer"],
        ["mcp-http", "::/0", 40, "trusted proxy ::/0 holds every peer"],
      ].sort(),
    );
    expect(await server.stop()).toBe(0);
  }, 120_000);
});

