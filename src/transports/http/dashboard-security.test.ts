/**
 * The dashboard's door against a hostile browser or peer: a real DashboardServer on a loopback
 * port, raw HTTP requests over real sockets (a browser cannot forge Host or Origin; these can).
 * The browser-level checks (stored XSS, pages of another origin) are in test/dashboard-browser.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_NESTING } from "../../domain/input-limits.js";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { DashboardServer } from "./dashboard.js";
import { PolledSource } from "./polled-source.js";

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

describe("the dashboard's ops apply the input limits of every door", () => {
  it("refuses a lone surrogate and nesting past the limit, as ZeroMQ and MCP do, and stores nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tuneport-dash-sec-db-"));
    const storage = new SqliteStorage({ path: join(dir, "t.db") });
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    const dash = new DashboardServer({ source: svc, logger: silentLogger(), port: 0, assetsDir: dir });
    const port = await dash.start();
    const op = (name: string, body: string) => raw(port, "POST", `/api/op/${name}`, { "content-type": "application/json" }, body);
    try {
      await svc.execute("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } }, user_attrs: { notes: "kept" } });
      // A JSON \uD800 escape: SQLite would store U+FFFD, another string than the one answered.
      const lone = await op("set_user_attrs", '{"study":"s","attrs":{"notes":"a\\uD800b"}}');
      expect(lone.status, lone.body).toBe(400);
      expect(JSON.parse(lone.body).error).toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("lone surrogate") });
      const loneKey = await op("set_user_attrs", '{"study":"s","attrs":{"\\uDC00":1}}');
      expect(loneKey.status, loneKey.body).toBe(400);
      // The body's object is level 1, attrs level 2: MAX_NESTING - 2 more maps fit, one more does not.
      const nested = (levels: number) => `{"study":"s","attrs":{"deep":${"{\"a\":".repeat(levels)}1${"}".repeat(levels)}}}`;
      const deep = await op("set_user_attrs", nested(MAX_NESTING - 1));
      expect(deep.status, deep.body).toBe(400);
      expect(JSON.parse(deep.body).error).toMatchObject({ code: "INVALID_ARGUMENT", data: { max_nesting: MAX_NESTING } });
      expect((await svc.execute("get_study", { study: "s" })).study.user_attrs).toEqual({ notes: "kept" });
      const fits = await op("set_user_attrs", nested(MAX_NESTING - 2));
      expect(fits.status, fits.body).toBe(200);
    } finally {
      await dash.close();
      await svc.close();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a fault of the server's own in a dashboard op", () => {
  it("is answered 500 INTERNAL, not by dropping the connection (a read-only dashboard whose storage source is closed)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tuneport-dash-fault-"));
    const path = join(dir, "t.db");
    const storage = new SqliteStorage({ path });
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await svc.execute("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
    await svc.close();
    await storage.close();
    const source = await PolledSource.open({ path, logger: silentLogger() });
    const dash = new DashboardServer({ source, logger: silentLogger(), port: 0, assetsDir: dir, readOnly: true });
    const port = await dash.start();
    try {
      await source.close(); // its execute now throws a plain Error ("the polled source is closed")
      // Node destroys a request once its body is read: the door took the failure for a client gone and reset the connection.
      const r = await raw(port, "POST", "/api/op/get_study", { "content-type": "application/json" }, '{"study":"s"}');
      expect(r.status, r.body).toBe(500);
      expect(JSON.parse(r.body)).toEqual({ error: { code: "INTERNAL", message: "internal server error" } });
    } finally {
      await dash.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("answers 500 INTERNAL for a result that cannot be written as JSON, not 200 with an empty body", async () => {
    assets = mkdtempSync(join(tmpdir(), "tuneport-dash-sec-"));
    const source = { execute: async () => ({ n: 1n }), onChange: () => () => undefined };
    server = new DashboardServer({ source: source as never, logger: silentLogger(), port: 0, assetsDir: assets });
    const port = await server.start();
    const r = await raw(port, "POST", "/api/op/get_study", { "content-type": "application/json" }, '{"study":"s"}');
    expect(r.status, r.body).toBe(500);
    expect(JSON.parse(r.body).error).toMatchObject({ code: "INTERNAL" });
  });
});

describe("refusals of a foreign Host or Origin", () => {
  it("are logged once per Host/Origin pair, not once per request", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    assets = mkdtempSync(join(tmpdir(), "tuneport-dash-sec-"));
    server = new DashboardServer({ source: { execute: async () => ({}), onChange: () => () => undefined }, logger, port: 0, assetsDir: assets });
    const port = await server.start();
    for (let i = 0; i < 200; i++) expect((await raw(port, "GET", "/", { host: "evil.example" })).status).toBe(403);
    for (let i = 0; i < 5; i++) expect((await raw(port, "GET", "/", { origin: `http://evil${i}.example` })).status).toBe(403);
    const refusals = lines.map((l) => JSON.parse(l) as { msg: string; request: { host: string; origin: string | null } }).filter((r) => r.msg.includes("foreign Host/Origin"));
    expect(refusals.map((r) => r.request.host === "evil.example" ? "host" : r.request.origin)).toEqual(["host", ...[0, 1, 2, 3, 4].map((i) => `http://evil${i}.example`)]);
  });
});

/** Bytes sent as they are over a fresh connection; resolves to what came back when it closed. */
function rawBytes(port: number, text: string, end = true): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1", () => (end ? sock.end(text) : sock.write(text, () => setTimeout(() => sock.destroy(), 100))));
    let got = "";
    sock.on("data", (d: Buffer) => (got += d.toString()));
    sock.on("close", () => resolve(got));
    sock.on("error", () => undefined);
  });
}

describe("requests a client breaks", () => {
  it("answers a target that is not a URL with 400 INVALID_ARGUMENT, and logs neither it nor an aborted body as an error", async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    assets = mkdtempSync(join(tmpdir(), "tuneport-dash-sec-"));
    const source = { execute: async () => ({ studies: [] }), onChange: () => () => undefined };
    server = new DashboardServer({ source: source as never, logger, port: 0, assetsDir: assets });
    const port = await server.start();
    const host = `Host: 127.0.0.1:${port}`;
    const bad = await rawBytes(port, `GET http://[::1/ HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`);
    expect(bad).toMatch(/^HTTP\/1\.1 400 /);
    expect(bad).toContain('"code":"INVALID_ARGUMENT"');
    // A body shorter than its Content-Length, then the client hangs up.
    await rawBytes(port, `POST /api/op/set_user_attrs HTTP/1.1\r\n${host}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"study":`, false);
    expect((await raw(port, "GET", "/api/studies", {})).status).toBeLessThan(500); // still serving
    expect(lines.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
  });
});

describe("an op called with another method than POST", () => {
  it("answers 405 with Allow: POST, not that there is no such page, and calls nothing", async () => {
    const port = await start();
    for (const method of ["GET", "HEAD", "PUT", "DELETE"]) {
      const r = await raw(port, method, "/api/op/studies_overview", {});
      expect(r.status, method).toBe(405);
      expect(r.headers.allow, method).toBe("POST");
      if (method !== "HEAD") expect(JSON.parse(r.body).error.message, method).toContain("POST");
    }
    expect(calls).toEqual([]);
  });

  it("answers 405 with the methods a page or the live stream takes (RFC 9110: a 405 names them)", async () => {
    const port = await start();
    for (const [path, allow] of [
      ["/", "GET, HEAD"],
      ["/assets/dashboard.js", "GET, HEAD"],
      ["/api/events", "GET"],
    ] as const) {
      const r = await raw(port, "PUT", path, { "content-type": "application/json" }, "{}");
      expect(r.status, path).toBe(405);
      expect(r.headers.allow, path).toBe(allow);
      expect(JSON.parse(r.body).error.message, path).toBe(`PUT is not allowed here: ${allow}`);
    }
  });
});

