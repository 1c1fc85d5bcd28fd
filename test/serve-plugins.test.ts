/**
 * `tuneport serve --plugins FILE` (docs/PLUGINS.md): a custom strategy and scheduler loaded into the
 * real server process, named by studies over ZeroMQ, offloaded to the suggestion thread by the same
 * module; a database holding a study made with a plug-in still starts a server without it (that
 * study's asks refused by name, every other study served); a bad module is a usage error.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { CLI, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

const DIST = pathToFileURL(join(import.meta.dirname, "..", "dist", "index.js")).href;
const ZOD = pathToFileURL(join(import.meta.dirname, "..", "node_modules", "zod", "index.js")).href;
const SPACE = { x: { type: "float", low: 0.25, high: 1 }, k: { type: "categorical", choices: ["b", "a"] } };

/**
 * A module as a user writes one: "corner" always proposes every parameter's lower end (offloaded to
 * the suggestion thread, with the thread's id in its attributes), and "every-second" prunes odd steps.
 */
function pluginModule(dir: string): string {
  const path = join(dir, "my plugins.mjs"); // a space in the name, as user paths have
  writeFileSync(
    path,
    `import { isMainThread } from "node:worker_threads";
import { z } from ${JSON.stringify(ZOD)};
import { BUILTIN_PLUGINS } from ${JSON.stringify(DIST)};
const none = z.object({}).strict();
class Corner {
  suggest(req) {
    const params = {};
    for (const [k, d] of Object.entries(req.study.space)) params[k] = d.type === "categorical" ? d.choices[0] : d.low;
    return { params, systemAttrs: { corner_main_thread: isMainThread } };
  }
}
export const corner = { name: "corner", description: "Every parameter's lower end (a test plug-in).", options: none, offload: true, multiObjective: true, create: () => new Corner() };
export const everySecond = { name: "every-second", description: "Prunes at odd steps (a test plug-in).", options: none, create: () => ({ onReport: (req) => (req.step % 2 === 1 ? { decision: { action: "prune" } } : null) }) };
export const plugins = BUILTIN_PLUGINS.with({ strategies: [corner], schedulers: [everySecond] });
`,
  );
  return path;
}

afterEach(stopServers);

describe("tuneport serve --plugins", () => {
  it("serves studies that name the module's strategy and scheduler, and a restart without it keeps every other study", async () => {
    const dir = tempDir();
    const db = join(dir, "p.db");
    const server = await startServer(db, ["--plugins", pluginModule(dir)]);
    const c = new TestClient(server.endpoint);
    try {
      const listed = (await c.call("catalogue")).plugins.map((p: { kind: string; name: string }) => `${p.kind}:${p.name}`);
      expect(listed).toEqual(expect.arrayContaining(["strategy:corner", "scheduler:every-second", "strategy:tpe"]));
      await c.call("create_study", { name: "mine", space: SPACE, strategy: "corner", scheduler: "every-second", seed: 1 });
      await c.call("create_study", { name: "plain", space: SPACE, strategy: "random", seed: 1 });
      const a = await c.call("ask", { study: "mine" });
      expect(a.trial.params).toEqual({ x: 0.25, k: "b" });
      expect(a.trial.system_attrs.corner_main_thread).toBe(false); // built in the suggestion thread from the same module
      const kept = await c.call("report", { study: "mine", trial: a.trial.number, token: a.lease.token, step: 0, value: 1 });
      const pruned = await c.call("report", { study: "mine", trial: a.trial.number, token: a.lease.token, step: 1, value: 1 });
      expect([kept.decision.action, pruned.decision.action]).toEqual(["continue", "prune"]);
    } finally {
      await c.close();
    }
    expect(await server.stop()).toBe(0);

    // The same database, a server started without the module.
    const bare = await startServer(db);
    const d = new TestClient(bare.endpoint);
    try {
      const refused = await d.request("ask", { study: "mine" });
      expect(refused.ok).toBe(false);
      expect(refused.error?.code).toBe("FAILED_PRECONDITION");
      expect(refused.error?.message).toContain("strategy 'corner'");
      expect(refused.error?.message).toContain("--plugins");
      const b = await d.call("ask", { study: "plain" });
      await d.call("tell", { study: "plain", trial: b.trial.number, token: b.lease.token, state: "COMPLETE", value: 0.5 });
      expect((await d.call("get_study", { study: "mine" })).study.strategy.name).toBe("corner"); // readable
      const created = await d.request("create_study", { name: "again", space: SPACE, strategy: "corner" });
      expect(created.error?.code).toBe("INVALID_ARGUMENT"); // creating still needs the module
    } finally {
      await d.close();
    }
    expect(bare.lines.some((l) => l.includes("strategy 'corner'") && l.includes("--plugins"))).toBe(true);
  });

  it("update_study works on a study whose plug-ins this server lacks: notes and budget kept, switched away while a trial runs", async () => {
    const dir = tempDir();
    const db = join(dir, "p.db");
    const server = await startServer(db, ["--plugins", pluginModule(dir)]);
    const c = new TestClient(server.endpoint);
    const held: Record<string, { trial: { number: number }; lease: { token: string } }> = {};
    try {
      await c.call("create_study", { name: "both", space: SPACE, strategy: "corner", scheduler: "every-second", seed: 1 });
      await c.call("create_study", { name: "median", space: SPACE, strategy: "corner", scheduler: "median", seed: 1 });
      await c.call("create_study", { name: "two", space: SPACE, strategy: "corner", directions: ["minimize", "maximize"], seed: 1 });
      for (const name of ["both", "median"]) held[name] = await c.call("ask", { study: name });
    } finally {
      await c.close();
    }
    expect(await server.stop()).toBe(0);

    const bare = await startServer(db);
    const d = new TestClient(bare.endpoint);
    try {
      // Budget and notes: nothing about the plug-ins changes (refused as "unknown strategy 'corner'" before).
      const kept = await d.call("update_study", { study: "median", max_trials: 50, notes: "kept" });
      expect(kept.changed).toEqual(["max_trials", "notes"]);
      expect((await d.call("update_study", { study: "both", notes: "kept" })).changed).toEqual(["notes"]);
      expect((await d.call("update_study", { study: "two", max_trials: 5 })).changed).toEqual(["max_trials"]);
      expect((await d.request("ask", { study: "median" })).error?.message).toContain("strategy 'corner'"); // still the stand-in
      // The way out the refusals name: switch both, with a trial running (the stand-in steers nothing).
      const switched = await d.call("update_study", { study: "both", strategy: "random", scheduler: null });
      expect(switched.changed).toEqual(["strategy", "scheduler"]);
      const running = held.both as { trial: { number: number }; lease: { token: string } };
      const r = await d.call("report", { study: "both", trial: running.trial.number, token: running.lease.token, step: 1, value: 1 });
      expect(r.decision.action).toBe("continue");
      expect((await d.call("ask", { study: "both" })).trial.state).toBe("RUNNING");
      // Widening the space of a strategy this server cannot ask (fixedSpace unknown) is refused by name.
      const wider = await d.request("update_study", { study: "median", space: { x: { type: "float", low: 0.25, high: 2 } } });
      expect(wider.error?.code).toBe("FAILED_PRECONDITION");
      expect(wider.error?.message).toContain("strategy 'corner'");
    } finally {
      await d.close();
    }
  });

  it("export --format optuna and import --plugins carry a study made with a plug-in; import without the module names --plugins", async () => {
    const dir = tempDir();
    const db = join(dir, "p.db");
    const module = pluginModule(dir);
    const server = await startServer(db, ["--plugins", module]);
    const c = new TestClient(server.endpoint);
    try {
      await c.call("create_study", { name: "mine", space: SPACE, strategy: "corner", scheduler: "every-second", seed: 1 });
      const a = await c.call("ask", { study: "mine" });
      await c.call("tell", { study: "mine", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    } finally {
      await c.close();
    }
    expect(await server.stop()).toBe(0);
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });
    // The Optuna journal needs no plug-in (refused as "line 1: unknown strategy 'corner'" before).
    const journal = cli("export", "mine", "--storage", db, "--format", "optuna", "--out", join(dir, "mine.optuna"));
    expect(journal.status, journal.stderr).toBe(0);
    expect(cli("export", "mine", "--storage", db, "--out", join(dir, "mine.jsonl")).status).toBe(0);
    const bare = cli("import", join(dir, "mine.jsonl"), "--storage", join(dir, "bare.db"));
    expect(bare.status).toBe(1);
    expect(bare.stderr).toMatch(/unknown strategy 'corner'.*imports with --plugins/);
    const imported = cli("import", join(dir, "mine.jsonl"), "--storage", join(dir, "with.db"), "--plugins", module);
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stderr).toContain("imported study 'mine' with 1 trial");
  });

  it("refuses a module that is missing, fails to load or exports no catalogue, with exit 2 and the reason", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "throws.mjs"), `throw new Error("boom in the module");\n`);
    writeFileSync(join(dir, "empty.mjs"), "export const strategies = [];\n");
    // Options that are not a zod schema: the catalogue op could not describe them (INTERNAL for every client).
    const bad = `import { BUILTIN_PLUGINS } from ${JSON.stringify(DIST)};\nexport const plugins = BUILTIN_PLUGINS.with({ strategies: [{ name: "odd", description: "d", options: {}, create: () => ({}) }] });\n`;
    writeFileSync(join(dir, "bad-options.mjs"), bad);
    const cases: [string, RegExp][] = [
      [join(dir, "nope.mjs"), /--plugins .*nope\.mjs: no such file/],
      [dir, /not a file/],
      [join(dir, "throws.mjs"), /the module failed to load: boom in the module/],
      [join(dir, "empty.mjs"), /no 'plugins' export holding a catalogue/],
      [join(dir, "bad-options.mjs"), /strategy 'odd'.*options/],
    ];
    for (const [file, message] of cases) {
      const r = spawnSync(process.execPath, [CLI, "serve", "--storage", join(dir, "x.db"), "--bind", "tcp://127.0.0.1:0", "--plugins", file], { encoding: "utf8", timeout: 60_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
