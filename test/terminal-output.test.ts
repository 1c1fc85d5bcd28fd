/**
 * Names and values a worker sends reach the operator's terminal through the CLI's human formats:
 * a real server takes hostile text over ZeroMQ (a parameter name, a categorical choice and a fail
 * reason holding ESC sequences, a bell, a carriage return, a newline, a C1 CSI and a bidi
 * override), then the real CLI prints the study. No control character may reach the terminal;
 * each shows as a `\uXXXX` escape (src/cli/terminal.ts, docs/SECURITY.md "Terminal output").
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

// Clear the screen, retitle the window, set the clipboard (OSC 52), forge a log line, 8-bit CSI, RTL override.
const HOSTILE = "\x1b[2J\x1b]0;owned\x07\x1b]52;c;ZWNobyBvd25lZA==\x07\rforged\nline\x9b31m\u202e";
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

afterAll(stopServers);

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("the CLI's human output", () => {
  it("never writes control characters a worker sent: names, choices and error messages are escaped", async () => {
    const db = join(tempDir(), "t.db");
    const server = await startServer(db);
    const client = new TestClient(server.endpoint);
    try {
      const param = `p${HOSTILE}`;
      const choice = `c${HOSTILE}`;
      await client.call("create_study", { name: "hostile", space: { [param]: { type: "categorical", choices: [choice] } }, strategy: "random" });
      for (const state of ["COMPLETE", "FAIL"]) {
        const a = await client.call("ask", { study: "hostile" });
        expect(a.trial.params[param]).toBe(choice); // stored as sent: the server refuses or keeps, never rewrites
        await client.call("tell", { study: "hostile", trial: a.trial.number, token: a.lease.token, state, ...(state === "COMPLETE" ? { value: 1 } : { reason: HOSTILE }) });
      }
    } finally {
      await client.close();
    }
    for (const args of [["studies", "show", "hostile"], ["studies", "trials", "hostile"], ["studies", "list"]]) {
      const r = cli([...args, "--storage", db]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout, args.join(" ")).not.toMatch(CONTROL);
      if (args[1] !== "list") expect(r.stdout).toContain("p\\u001b[2J\\u001b]0;owned\\u0007\\u001b]52;c;ZWNobyBvd25lZA==\\u0007\\u000dforged\\u000aline\\u009b31m\\u202e");
    }
    // An error message quoting a name: the study named on the command line does not exist.
    const missing = cli(["studies", "show", `nope${HOSTILE}`, "--storage", db]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain("nope\\u001b[2J");
    expect(missing.stderr.trimEnd()).not.toMatch(CONTROL);
    await server.stop();
  }, 120_000);
});
