/** `tuneport serve` as an operator sees it: a hint for a malformed --bind, readable logs, one line per finished trial. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { CLI, TestClient, startServer, tempDir } from "./helpers.js";

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 30_000 });

/** Runs two trials (one COMPLETE, one PRUNED) against `endpoint`. */
async function twoTrials(endpoint: string): Promise<void> {
  const c = new TestClient(endpoint);
  try {
    await c.call("create_study", { name: "logs", strategy: "random", space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
    const a = await c.call("ask", { study: "logs" });
    await c.call("tell", { study: "logs", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    const b = await c.call("ask", { study: "logs" });
    await c.call("report", { study: "logs", trial: b.trial.number, token: b.lease.token, step: 1, value: 0.75 });
    await c.call("tell", { study: "logs", trial: b.trial.number, token: b.lease.token, state: "PRUNED" });
  } finally {
    await c.close();
  }
}

describe("tuneport serve: bind hints and logs", () => {
  const procs: ChildProcess[] = [];
  afterEach(() => {
    for (const p of procs.splice(0)) if (p.exitCode === null) p.kill("SIGKILL");
  });

  it("refuses a --bind without a scheme with a hint (exit 2) instead of a bare 'Invalid argument'", () => {
    // The other malformed endpoints are bindProblem's unit tests (src/cli/serve.test.ts).
    const r = run("serve", "--storage", join(tempDir(), "x.db"), "--bind", "127.0.0.1:5555");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--bind 127\.0\.0\.1:5555: add the scheme: --bind tcp:\/\/127\.0\.0\.1:5555/);
  });

  it("refuses a --max-reply-mib below 64 MiB or not a number", () => {
    for (const bad of ["1", "lots"]) {
      const r = run("serve", "--storage", join(tempDir(), "x.db"), "--max-reply-mib", bad);
      expect(r.status, bad).toBe(2);
      expect(r.stderr, bad).toMatch(/--max-reply-mib must be an integer in \[64, /);
    }
  });

  it("refuses a --max-studies that is not a positive integer, and holds a server to the one given", async () => {
    for (const bad of ["0", "many"]) {
      const r = run("serve", "--storage", join(tempDir(), "x.db"), "--max-studies", bad);
      expect(r.status, bad).toBe(2);
      expect(r.stderr, bad).toMatch(/--max-studies must be an integer in \[1, /);
    }
    const server = await startServer(join(tempDir(), "cap.db"), ["--max-studies", "2"]);
    const c = new TestClient(server.endpoint);
    try {
      const space = { x: { type: "float", low: 0, high: 1 } };
      for (const name of ["one", "two"]) await c.call("create_study", { name, space });
      const r = await c.request("create_study", { name: "three", space });
      expect(r.error?.code).toBe("FAILED_PRECONDITION");
      expect(r.error?.data).toMatchObject({ reason: "max_studies", max_studies: 2 });
      expect((await c.call("list_studies")).studies.map((s: { name: string }) => s.name).sort()).toEqual(["one", "two"]);
    } finally {
      await c.close();
      server.proc.kill("SIGTERM");
    }
  }, 120_000);

  it("refuses a --plot-warmup that is not a whole number of seconds", () => {
    const r = run("serve", "--storage", join(tempDir(), "x.db"), "--plot-warmup", "soon");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--plot-warmup must be an integer in \[0, 86400\]/);
  });

  it("warms the plot worker up --plot-warmup seconds after the start, and charts render after it", async () => {
    const server = await startServer(join(tempDir(), "warm.db"), ["--plot-warmup", "1", "--log-level", "debug"]);
    try {
      for (let waited = 0; !server.lines.some((l) => l.includes('"plot worker ready"')); waited += 100) {
        if (waited > 120_000) throw new Error(`no 'plot worker ready' line:\n${server.lines.join("\n")}`); // a hang guard
        await new Promise((r) => setTimeout(r, 100));
      }
      await twoTrials(server.endpoint);
      const c = new TestClient(server.endpoint);
      try {
        const plot = (await c.call("plot", { study: "logs", kind: "history" })) as { png: Uint8Array };
        expect(Buffer.from(plot.png).subarray(1, 4).toString()).toBe("PNG");
      } finally {
        await c.close();
      }
    } finally {
      await server.stop();
    }
    const ready = server.lines.filter((l) => l.includes('"plot worker ready"'));
    expect(ready).toHaveLength(1);
    expect(server.lines.some((l) => l.includes("warm-up failed"))).toBe(false);
  });

  it("refuses an unknown --log-format", () => {
    const r = run("serve", "--storage", join(tempDir(), "x.db"), "--log-format", "xml");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--log-format must be 'pretty' or 'json'/);
  });

  it("logs JSON lines when stdout is not a terminal, with one line per finished trial", async () => {
    const server = await startServer(join(tempDir(), "json.db"));
    try {
      await twoTrials(server.endpoint);
    } finally {
      await server.stop();
    }
    const finished = server.lines
      .filter((l) => l.includes('"trial finished"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(finished).toEqual([
      expect.objectContaining({ component: "service", study: "logs", trial: 0, state: "COMPLETE", value: 0.5 }),
      expect.objectContaining({ component: "service", study: "logs", trial: 1, state: "PRUNED", value: 0.75 }),
    ]);
    expect(server.lines.some((l) => l.includes("trial started"))).toBe(false); // debug, below the default level
  });

  it("--log-format pretty prints readable lines, and --log-level debug adds the started trials with their params", async () => {
    const proc = spawn(
      process.execPath,
      [CLI, "serve", "--storage", join(tempDir(), "pretty.db"), "--bind", "tcp://127.0.0.1:0", "--log-format", "pretty", "--log-level", "debug"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    procs.push(proc);
    let out = "";
    const endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no 'zmq listening' line:\n${out}`)), 20_000);
      proc.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /zmq: zmq listening .*endpoints=\["(tcp:\/\/[^"]+)"\]/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
    });
    await twoTrials(endpoint);
    await new Promise<void>((resolve) => {
      proc.once("exit", () => resolve());
      proc.kill("SIGTERM");
    });
    const lines = out.split("\n").filter(Boolean);
    expect(lines.every((l) => !l.startsWith("{"))).toBe(true);
    expect(lines).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} INFO  service: trial finished {2}study=logs trial=0 state=COMPLETE value=0\.5$/));
    expect(lines).toContainEqual(expect.stringMatching(/ INFO  service: trial finished {2}study=logs trial=1 state=PRUNED value=0\.75$/));
    expect(lines).toContainEqual(expect.stringMatching(/ DEBUG service: trial started {2}study=logs trial=0 params=\{"x":0\.\d+\}$/));
  });
});

describe("the PostgreSQL password never reaches the logs", () => {
  const procs: ChildProcess[] = [];
  afterEach(() => {
    for (const p of procs.splice(0)) if (p.exitCode === null) p.kill("SIGKILL");
  });

  /** Starts `tuneport ARGS` and resolves with its output once a line matches `ready`. */
  function untilReady(args: string[], ready: RegExp): Promise<string> {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, TUNEPORT_LOG_FORMAT: "json" } });
    procs.push(p);
    let out = "";
    return new Promise((resolve, reject) => {
      const seen = (d: Buffer) => {
        out += d.toString();
        if (ready.test(out)) resolve(out);
      };
      p.stdout?.on("data", seen);
      p.stderr?.on("data", seen);
      p.once("exit", (code) => reject(new Error(`exited ${code} before ready:\n${out}`)));
    });
  }

  it("redacts it in the ready lines of serve and mcp: in the user part (an '@' in it too) and as a query parameter", async () => {
    // The test server trusts local connections, so any password connects; what matters is where it shows.
    const pg = inject("pgUrl");
    const query = pg.slice(pg.indexOf("?")); // ?host=SOCKET_DIR&port=PORT
    const base = `postgresql://postgres:PW1p@ss-word@/postgres${query}`;
    const withQuery = `postgresql://postgres@/postgres${query}&password=PW2-secret&sslpassword=PW3-secret`;
    const outs = [
      await untilReady(["serve", "--storage", base, "--bind", "tcp://127.0.0.1:0"], /tuneport ready/),
      await untilReady(["serve", "--storage", withQuery, "--bind", "tcp://127.0.0.1:0"], /tuneport ready/),
      await untilReady(["mcp", "--storage", base, "--bind", "tcp://127.0.0.1:0"], /embedded service ready/), // on PostgreSQL mcp serves workers too
    ];
    for (const out of outs) {
      expect(out).not.toMatch(/PW[123]|ss-word/);
      expect(out).toMatch(/postgresql:\/\/postgres(:\*\*\*)?@\/postgres/);
    }
    expect(outs[1]).toMatch(/&password=\*\*\*&sslpassword=\*\*\*/);
  }, 120_000);
});
