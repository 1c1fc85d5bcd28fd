/**
 * `tuneport plot` as a user runs it: from the database file beside a live server, and through
 * the server's `plot` op (rendered in its plot worker thread) with --connect.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_PNG_HEIGHT, MAX_PNG_WIDTH, PLOT_KINDS, PLOT_KIND_ALIASES } from "../src/service/plots.js";
import { plotCommand } from "../src/cli/plot.js";
import { decodePng, inkShare } from "../src/testing/png.js";
import { ZmqClient } from "../src/transports/zmq/zmq-client.js";
import { CLI, type ServerProcess, TestClient, startServer, tempDir } from "./helpers.js";
import { connectStdio } from "./mcp-helpers.js";

/** Runs the CLI without blocking the test process. */
function run(...args: string[]): Promise<{ status: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => out.push(d));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), 240_000);
    p.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout: Buffer.concat(out), stderr });
    });
  });
}

function checkPng(bytes: Buffer, what: string): void {
  const img = decodePng(bytes);
  expect(img.width, what).toBeLessThanOrEqual(MAX_PNG_WIDTH);
  expect(img.height, what).toBeLessThanOrEqual(MAX_PNG_HEIGHT);
  expect(inkShare(img), what).toBeGreaterThan(0.01);
}

// Generous limits: they only catch hangs, and CLI start-up and first renders are slow on a busy machine.
describe("tuneport plot", { timeout: 300_000 }, () => {
  let server: ServerProcess;
  let db: string;
  let dir: string;

  beforeAll(async () => {
    dir = tempDir();
    db = join(dir, "plots.sqlite");
    server = await startServer(db, ["--dashboard", "0"]);
    const c = new TestClient(server.endpoint);
    const space = { x: { type: "float", low: -5, high: 5 }, n: { type: "int", low: 1, high: 8 }, act: { type: "categorical", choices: ["relu", "gelu"] } };
    await c.call("create_study", { name: "p", strategy: "random", space, seed: 4 });
    for (let i = 0; i < 14; i++) {
      const a = await c.call("ask", { study: "p" });
      const { number } = a.trial;
      const x = a.trial.params.x as number;
      for (let step = 0; step < 3; step++)
        await c.call("report", { study: "p", trial: number, token: a.lease.token, step, value: x * x + 3 - step });
      const state = i % 5 === 2 ? "PRUNED" : i % 7 === 4 ? "FAIL" : "COMPLETE";
      await c.call("tell", { study: "p", trial: number, token: a.lease.token, state, ...(state === "COMPLETE" ? { value: x * x + 1 } : {}) });
    }
    await c.call("create_study", { name: "flat", strategy: "random", space, seed: 1 });
    const a = await c.call("ask", { study: "flat" });
    await c.call("tell", { study: "flat", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 });
    await c.close();
  });
  afterAll(async () => {
    await server.stop();
  });

  it("writes a history PNG from the database beside the live server, pruned and failed trials included", async () => {
    const out = join(dir, "history.png");
    const r = await run("plot", "p", "--storage", db, "--out", out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/wrote .*history\.png \(\d+ x \d+ px\): Optimization history of 'p': \d+ complete trials .* \d+ pruned .* \d+ failed/);
    checkPng(readFileSync(out), "history");
  });

  it("renders every kind in the server's plot op (its worker thread), and the CLI asks for one with --connect", async () => {
    const client = new ZmqClient(server.endpoint);
    try {
      await client.connect();
      for (const kind of ["history", "parallel", "importances", "intermediate", "slice", "contour"]) {
        const p = await client.plot("p", kind, kind === "contour" ? { params: ["x", "act"] } : {});
        checkPng(Buffer.from(p.png), kind);
        expect(p.caption.length).toBeGreaterThan(40);
      }
      await expect(client.plot("p", "parallel", { params: ["x", "zz"] })).rejects.toThrow(/unknown parameter\(s\) zz; the study has x, n, act/);
      await expect(client.plot("flat", "intermediate")).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/no intermediate values/) });
    } finally {
      await client.close();
    }
    const out = join(dir, "parallel.png");
    const r = await run("plot", "p", "--kind", "parallel", "--connect", server.endpoint, "--out", out);
    expect(r.status, r.stderr).toBe(0);
    checkPng(readFileSync(out), "parallel via --connect");
  });

  it("writes to stdout with --out - and takes --log-y and --params", async () => {
    const r = await run("plot", "p", "--kind", "slice", "--storage", db, "--out", "-", "--params", "x,n", "--log-y");
    expect(r.status, r.stderr).toBe(0);
    checkPng(r.stdout, "slice to stdout");
    expect(r.stderr).toMatch(/against each of 2 parameters/);
  });

  it("refuses a one-objective study's hypervolume history on every surface, pointing to the optimization history", async () => {
    const why = /study 'p' has one objective \(minimize\): a hypervolume history needs two or more objectives \(as Optuna's plot_hypervolume_history\); with one, the hypervolume is only the best value so far: plot history \(the optimization history\) instead/;
    // tuneport plot, from the file and through the server's plot op.
    for (const from of [["--storage", db], ["--connect", server.endpoint]]) {
      const out = join(dir, "hv.png");
      const r = await run("plot", "p", "--kind", "hypervolume_history", ...from, "--out", out);
      expect(r.status, from[0]).toBe(1);
      expect(r.stderr, from[0]).toMatch(why);
      expect(existsSync(out), from[0]).toBe(false);
    }
    // MCP's plot tool, a tuneport mcp process on the server.
    const mcp = await connectStdio(["--connect", server.endpoint]);
    try {
      const r = (await mcp.client.callTool({ name: "plot", arguments: { study: "p", kind: "hypervolume_history" } })) as CallToolResult;
      expect(r.isError).toBe(true);
      expect(r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n")).toMatch(why);
    } finally {
      await mcp.client.close();
    }
    // The dashboard's chart spec (plot_spec), over its HTTP API.
    let ready: { dashboard?: string } | undefined;
    for (let i = 0; i < 600 && !ready; i++) {
      ready = server.lines.map((l) => (l.includes("tuneport ready") ? (JSON.parse(l) as { dashboard?: string }) : undefined)).find((r) => r);
      if (!ready) await new Promise((r) => setTimeout(r, 50));
    }
    const res = await fetch(new URL("api/op/plot_spec", ready?.dashboard), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ study: "p", kind: "hypervolume_history" }) });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toMatch(why);
  });

  it("lists every kind in its help", () => {
    const listed = new Set([...plotCommand.help.matchAll(/^ {2}([a-z_]+) /gm)].map((m) => m[1] as string));
    const short = Object.fromEntries(Object.entries(PLOT_KIND_ALIASES).map(([alias, kind]) => [kind, alias]));
    for (const kind of PLOT_KINDS) expect(listed.has(short[kind] ?? kind), kind).toBe(true);
  });

  it("says what is wrong: an unknown kind or study", async () => {
    const kind = await run("plot", "p", "--kind", "pie", "--storage", db);
    expect(kind.status).toBe(2);
    expect(kind.stderr).toMatch(/--kind must be one of history, .*slice, contour/);
    const study = await run("plot", "nope", "--connect", server.endpoint);
    expect(study.status).toBe(1);
    expect(study.stderr).toMatch(/NOT_FOUND/);
  });
});

describe("the build's Vega bundle (scripts/bundle-vega.mjs)", () => {
  it("exists beside the built plots.js and exports what plots.ts uses from vega and vega-lite", async () => {
    const bundle = join(CLI, "..", "..", "service", "vega-bundle.js");
    const b = (await import(bundle)) as { vega: { View: unknown; parse: unknown; logger: unknown }; vl: { compile: unknown } };
    expect([typeof b.vega.View, typeof b.vega.parse, typeof b.vega.logger, typeof b.vl.compile]).toEqual(["function", "function", "function", "function"]);
  });
});
