/** The tuneport command as a user runs it: help everywhere, studies readable beside a live server. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, type ServerProcess, TestClient, startServer, tempDir, stopServers } from "./helpers.js";

// A failed assertion or hook must not leave a server running.
afterAll(stopServers);

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000, // a hang guard
   killSignal: "SIGKILL" });

describe("tuneport CLI", () => {
  let server: ServerProcess;
  let db: string;

  beforeAll(async () => {
    db = join(tempDir(), "cli.sqlite");
    server = await startServer(db);
    const c = new TestClient(server.endpoint);
    await c.call("create_study", { name: "cli", strategy: "random", space: { lr: { type: "float", low: 1e-4, high: 1, log: true } }, seed: 1 });
    for (const v of [0.5, 0.25, 0.75]) {
      const a = await c.call("ask", { study: "cli" });
      await c.call("tell", { study: "cli", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: v });
    }
    await c.call("create_study", { name: "mo", directions: ["maximize", "minimize"], space: { w: { type: "int", low: 1, high: 64 } }, seed: 1 });
    for (const [values, constraints] of [[[0.9, 40], [-1]], [[0.8, 10], [0]], [[0.99, 5], [2]], [[0.7, 20], [-1]]] as const) {
      const a = await c.call("ask", { study: "mo" });
      await c.call("tell", { study: "mo", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values, constraints });
    }
    await c.close();
  });
  afterAll(async () => {
    await server.stop();
  });

  it.each(["serve", "mcp", "studies", "plot", "dashboard", "export", "import", "keygen"])("'%s --help' prints usage and exits 0", (cmd) => {
    const r = run(cmd, "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Usage: tuneport ${cmd}`));
    expect(r.stdout).toMatch(/^ {2}-h, --help +show this help$/m);
    expect(r.stderr).toBe("");
  });

  it("without a command prints the usage on stderr and exits 2, as for an unknown one (stdout stays empty)", () => {
    const none = run();
    expect(none.status).toBe(2);
    expect(none.stdout).toBe("");
    expect(none.stderr).toMatch(/^Usage: tuneport <command>[\s\S]*Commands:/);
  });

  it.each(["mcp", "plot"])("'%s --help' aligns the shared CURVE options with its own", (cmd) => {
    const lines = run(cmd, "--help").stdout.split("\n");
    const column = (option: string) => {
      const line = lines.find((l) => l.startsWith(`  ${option} `)) as string;
      return line.length - line.slice(line.indexOf(" ", option.length + 3)).trimStart().length;
    };
    expect(column("--curve-server")).toBe(column("--connect"));
    expect(column("--curve-secret")).toBe(column("--connect"));
  });

  it("'help COMMAND' prints that command's usage, as 'COMMAND --help' does; 'help' of an unknown one exits 2", () => {
    const r = run("help", "export");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(run("export", "--help").stdout);
    expect(r.stdout).toMatch(/^Usage: tuneport export NAME/);
    const bad = run("help", "frobnicate");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it("lists commands with --help and refuses an unknown one with exit 2", () => {
    expect(run("--help").stdout).toMatch(/Commands:[\s\S]*serve[\s\S]*studies/);
    const bad = run("frobnicate");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown command 'frobnicate'/);
    // Control characters are shown escaped, as in every other message (an unknown option's too).
    const hostile = run("bad\u001b[31m");
    expect(hostile.stderr).toMatch(/unknown command 'bad\\u001b\[31m'/);
    expect(hostile.stderr).not.toContain("\u001b");
  });

  it("reads studies and trials while the server runs (text and --json)", () => {
    const list = run("studies", "list", "--storage", db);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/cli\s+minimize\s+random/);
    const show = JSON.parse(run("studies", "show", "cli", "--storage", db, "--json").stdout) as { n_trials: number; best_trial: { value: number } };
    expect(show.n_trials).toBe(3);
    expect(show.best_trial.value).toBe(0.25);
    const trials = JSON.parse(run("studies", "trials", "cli", "--storage", db, "--json", "--sort", "value", "--limit", "2").stdout) as {
      trials: { value: number }[];
      total: number;
    };
    expect(trials.trials.map((t) => t.value)).toEqual([0.25, 0.5]);
    const lineage = JSON.parse(run("studies", "lineage", "cli", "--storage", db, "--json").stdout) as { schedule: unknown[] };
    expect(lineage.schedule).toHaveLength(1);
  });

  it("shows a multi-objective study's Pareto front with its hypervolume", () => {
    const show = run("studies", "show", "mo", "--storage", db);
    expect(show.status).toBe(0);
    expect(show.stdout).toMatch(/directions maximize, minimize/);
    // Trials 0 and 1 are the front: 2 is infeasible, 3 is dominated by 1.
    expect(show.stdout).toMatch(/pareto front: 2 trials \(3 feasible of 4 complete\), hypervolume/);
    const rows = show.stdout.split("\n").filter((l) => /^[0-9]+\s/.test(l));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(["0", "1"]);
    const json = JSON.parse(run("studies", "show", "mo", "--storage", db, "--json").stdout) as { pareto_front: { trials: { number: number }[]; hypervolume: number } };
    expect(json.pareto_front.trials.map((t) => t.number)).toEqual([0, 1]);
    expect(json.pareto_front.hypervolume).toBeGreaterThan(0);
  });

  it("says clearly what is wrong with bad input", () => {
    const missing = run("studies", "show", "nope", "--storage", db);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no study named 'nope'.*NOT_FOUND/);
    const noDb = run("studies", "list", "--storage", join(tempDir(), "absent.sqlite"));
    expect(noDb.status).toBe(1);
    expect(noDb.stderr).toMatch(/no tuneport database/);
    const badFlag = run("studies", "list", "--bogus");
    expect(badFlag.status).toBe(2);
  });
});
