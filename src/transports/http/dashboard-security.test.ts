/**
 * The dashboard's door against a hostile browser or peer: a real DashboardServer on a loopback
 * port, raw HTTP requests over real sockets (a browser cannot forge Host or Origin; these can).
 * The browser-level checks (stored XSS, pages of another origin) are in test/dashboard-browser.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import { DashboardServer } from "./dashboard.js";

const TOKEN = "dashboard-token-0123456789";
let server: DashboardServer | null = null;
let assets = "";
const calls: { op: string; args: unknown }[] = [];

async function start(token?: string): Promise<number> {
  assets = mkdtempSync(join(tmpdir(), "tuneport-dash-sec-"));
  const source = {
    execute: async (op: string, args: unknown) => {
      calls.push({ op, args });
      return {};
    },
    onChange: () => () => undefined,
  };
  server = new DashboardServer({ source: source as never, logger: silentLogger(), port: 0, assetsDir: assets, token });
  return server.start();
}

afterEach(async () => {
  await server?.close();
  server = null;
  calls.length = 0;
  rmSync(assets, { recursive: true, force: true });
});

/** A raw request: the path is sent as written (no normalisation), headers as given. */
function raw(port: number, method: string, path: string, headers: Record<string, string>, body = ""): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("the dashboard's token link", () => {
  it("redirects to a path on the dashboard itself, never to another host", async () => {
    const port = await start(TOKEN);
    for (const path of [`/.//evil.example/?token=${TOKEN}`, `//evil.example/?token=${TOKEN}`, `/./../..//evil.example?token=${TOKEN}&x=1`, `/?token=${TOKEN}`]) {
      const r = await raw(port, "GET", path, {});
      expect(r.status, path).toBe(303);
      const location = String(r.headers.location);
      expect(location, path).toMatch(/^\/(?![/\\])/);
      expect(new URL(location, `http://127.0.0.1:${port}/`).host, path).toBe(`127.0.0.1:${port}`);
      expect(location, path).not.toContain(TOKEN);
    }
  });
});
