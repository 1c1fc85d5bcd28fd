/**
 * A command whose run fails after it started something (here `serve`, its ZeroMQ socket up, when
 * building the dashboard's HTTP server throws) prints the error and exits 1. It printed the error
 * and stayed alive, its socket serving and SIGTERM answered "shutting down" without an end.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, freePort, tempDir } from "./helpers.js";

const dir = tempDir();

describe("an error escaping a command", () => {
  it("ends serve (exit 1, the error printed) when the dashboard cannot be built after the ZeroMQ socket started", async () => {
    // A preload that makes node:http's createServer throw, as any fault in building a door would.
    const preload = join(dir, "no-http.mjs");
    writeFileSync(
      preload,
      'import http from "node:http";\nimport { syncBuiltinESMExports } from "node:module";\n' +
        'http.createServer = () => { throw new Error("no HTTP server here"); };\nsyncBuiltinESMExports();\n',
    );
    const port = await freePort();
    // The timeout only catches the hang this test is about (it killed the process, status null).
    const r = spawnSync(process.execPath, ["--import", preload, CLI, "serve", "--storage", join(dir, "s.db"), "--bind", `tcp://127.0.0.1:${port}`, "--dashboard", "0"], {
      encoding: "utf8",
      timeout: 90_000,
      killSignal: "SIGKILL", // the stuck process answered SIGTERM "shutting down" and stayed
    });
    expect(r.stdout).toContain("zmq listening");
    expect(r.stderr).toContain("no HTTP server here");
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
  }, 120_000);
});
