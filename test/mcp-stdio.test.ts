/** `tuneport mcp` as a spawned process, driven by the SDK Client over stdio. */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CLI, Procs, call, connectStdio, exited, freePort, sc, tempDir, textOf, waitForOutput } from "./mcp-helpers.js";

const SPACE = { x: { type: "float", low: -5, high: 5 }, k: { type: "int", low: 1, high: 3 } };
const cleanups: (() => Promise<void> | void)[] = [];
const procs = new Procs();

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await procs.killAll();
});

describe("tuneport mcp over stdio", () => {
  it("serves the tools on an embedded SQLite file, keeps logs off stdout, and persists", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const db = join(tmp.dir, "t.db");
    const { client, stderr } = await connectStdio(["--storage", db, "--log-level", "info"]);
    cleanups.push(() => client.close());
    expect(client.getServerVersion()?.name).toBe("tuneport");
    expect((await client.listTools()).tools.length).toBeGreaterThanOrEqual(15);
    expect(sc(await call(client, "create_study", { name: "s", space: SPACE, seed: 1 })).created).toBe(true);
    const e = await call(client, "enqueue_trial", { study: "s", params: { x: 1, k: 2 }, rationale: "near the optimum" });
    expect(e.isError).toBeFalsy();
    for (let i = 0; i < 3; i++) {
      const a = sc(await call(client, "ask_trial", { study: "s" }));
      await call(client, "tell_trial", { study: "s", trial: a.trial.number, token: a.token, value: a.trial.params.x ** 2 });
    }
    const best = sc(await call(client, "best_trials", { study: "s" }));
    expect(best.trials[0].params).toEqual({ x: 1, k: 2 });
    expect(best.trials[0].rationale).toBe("near the optimum");
    const missing = await call(client, "list_trials", { study: "S" });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toContain("list_studies");
    // pino JSON lines went to stderr (stdout carries only the protocol, or the client would have failed).
    await waitForOutput(stderr, (s) => s.includes("tuneport mcp ready on stdio"));
    await client.close();
    cleanups.pop();

    // A second process sees the same study after a restart.
    const again = await connectStdio(["--storage", db]);
    cleanups.push(() => again.client.close());
    expect(textOf(await call(again.client, "list_studies"))).toMatch(/s: minimize.*3 trials \(3 complete/);
  });

  it("refuses a second writer on the same SQLite file", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const db = join(tmp.dir, "t.db");
    const first = await connectStdio(["--storage", db]);
    cleanups.push(() => first.client.close());
    const second = procs.spawn([CLI, "mcp", "--storage", db]);
    expect(await exited(second)).toBe(1);
    expect(second.out()).toContain("in use by another tuneport process");
    // With the ways on: an agent configured with --storage beside a running server on that file
    // (the README's configuration) read only "one server per database file".
    const wayOn = "stop that process first, or reach its studies through it: 'tuneport mcp --connect ENDPOINT' (its --bind, e.g. tcp://127.0.0.1:5555) gives an agent MCP in front of it";
    expect(second.out()).toContain(wayOn);
    const server = procs.spawn([CLI, "serve", "--storage", db, "--bind", "tcp://127.0.0.1:0"]);
    expect(await exited(server)).toBe(1);
    expect(server.out()).toContain(wayOn);
    // The first one is unaffected.
    expect((await call(first.client, "list_studies")).isError).toBeFalsy();
  });

  it("--connect proxies to a running server over ZeroMQ", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const port = await freePort();
    const ep = `tcp://127.0.0.1:${port}`;
    const server = procs.spawn([CLI, "serve", "--storage", join(tmp.dir, "s.db"), "--bind", ep]);
    await waitForOutput(server.out, (s) => s.includes("tuneport ready"));
    const { client } = await connectStdio(["--connect", ep]);
    cleanups.push(() => client.close());
    await call(client, "create_study", { name: "remote", space: SPACE });
    const a = sc(await call(client, "ask_trial", { study: "remote" }));
    await call(client, "tell_trial", { study: "remote", trial: a.trial.number, token: a.token, value: 2 });
    const twice = await call(client, "tell_trial", { study: "remote", trial: a.trial.number, token: a.token, value: 2 });
    expect(textOf(twice)).toMatch(/^Error FAILED_PRECONDITION: /);
    expect(textOf(await call(client, "study_summary", { study: "remote" }))).toContain("1 complete");
    const plot = await call(client, "plot", { study: "remote" });
    expect(plot.content[0]?.type).toBe("image");
    const res = await client.listResources();
    expect(res.resources.map((r) => r.name)).toEqual(["remote"]);
    // A trial this agent asked over the proxy is known as its own, as in the embedded mode: waiting
    // does not finish it, telling does.
    const held = sc(await call(client, "ask_trial", { study: "remote" }));
    const waited = await call(client, "wait_for_progress", { study: "remote", timeout_s: 0.5 });
    expect(textOf(waited)).toContain(`Running trial ${held.trial.number} was asked with ask_trial: it finishes only when tell_trial reports it`);
  });
});
