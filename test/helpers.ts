/** Real processes and real sockets for cross-process tests. */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Dealer, context } from "zeromq";
import { exitTempDir } from "../src/testing/temp-dirs.js";
import { decode, encode } from "../src/transports/zmq/codec.js";

// A failing test must not hang the run on lingering sockets.
context.blocky = false;

/** The built CLI the tests start; TUNEPORT_CLI points them at another build (as python-client/tests/conftest.py does). */
export const CLI = process.env.TUNEPORT_CLI ?? join(import.meta.dirname, "..", "dist", "cli", "main.js");

/** A fresh temporary directory, removed when the test file's process exits. */
export function tempDir(prefix = "tuneport-test-"): string {
  return exitTempDir(prefix);
}

export interface ServerProcess {
  readonly proc: ChildProcess;
  readonly endpoint: string;
  /** stdout lines so far (pino JSON). */
  readonly lines: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Every server process `startServer` spawned that has not exited yet (see `stopServers`). */
const live = new Set<ChildProcess>();

/**
 * SIGKILLs every server `startServer` started that is still running, and waits for each to exit.
 * Test files that start servers call it in `afterEach`/`afterAll`, so a failed assertion
 * cannot leave a server behind.
 */
export async function stopServers(): Promise<void> {
  await Promise.all(
    [...live].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once("exit", () => resolve());
          p.kill("SIGKILL");
        }),
    ),
  );
  live.clear();
}

/**
 * Starts `tuneport serve` (on a free loopback port unless `bind` names one) and waits until it is
 * ready. A server that does not get ready is killed before the error is thrown; one that does is
 * tracked until it exits (`stopServers`). `node`: Node options before the CLI (a preload), and an
 * IPC channel to the server (test/fixtures/heap-probe.mjs answers on it).
 */
export async function startServer(dbPath: string, extra: string[] = [], bind = "tcp://127.0.0.1:0", node: { execArgv?: string[]; ipc?: boolean } = {}): Promise<ServerProcess> {
  const proc = spawn(process.execPath, [...(node.execArgv ?? []), CLI, "serve", "--storage", dbPath, "--bind", bind, ...extra], {
    stdio: node.ipc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
  });
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  const lines: string[] = [];
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const endpoint = await new Promise<string>((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`server did not start: ${stderr}`));
    }, 90_000); // a hang guard
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        try {
          const rec = JSON.parse(line) as { msg?: string; endpoints?: string[] };
          if (rec.msg === "zmq listening" && rec.endpoints?.[0]) {
            clearTimeout(timer);
            resolve(rec.endpoints[0]);
          }
        } catch {
          /* not JSON */
        }
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${stderr}`));
    });
  });
  return {
    proc,
    endpoint,
    lines,
    stop: (signal = "SIGTERM") =>
      new Promise<number | null>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
        proc.once("exit", (code) => resolve(code));
        proc.kill(signal);
      }).then(async (code) => {
        await stdoutRead(proc);
        return code;
      }),
  };
}

/**
 * Starts `tuneport serve` with MCP over HTTP (bearer `token`) and the dashboard, both on ports it
 * binds itself, and waits for its ready line: the server, the MCP endpoint's URL and the dashboard's
 * URL without its trailing slash.
 */
export async function startHttpDoors(dbPath: string, token: string): Promise<{ server: ServerProcess; mcpUrl: string; dashUrl: string }> {
  process.env.TUNEPORT_MCP_TOKEN = token;
  const server = await startServer(dbPath, ["--mcp-http", "0", "--dashboard", "0"]);
  for (let i = 0; i < 900 && !server.lines.some((l) => l.includes("tuneport ready")); i++) await new Promise((r) => setTimeout(r, 100));
  const ready = JSON.parse(server.lines.find((l) => l.includes("tuneport ready")) as string) as { mcp_http: string; dashboard: string };
  return { server, mcpUrl: ready.mcp_http, dashUrl: ready.dashboard.replace(/\/$/, "") };
}

/**
 * Resolves once `proc`'s stdout has been read to its end. A child's 'exit' can come before its last
 * stdout lines are read (on a busy machine, often), so a test that reads the lines of a stopped
 * process waits for this first. Only stdout: the plot worker the server forks inherits its stderr
 * and may outlive it.
 */
export function stdoutRead(proc: ChildProcess): Promise<void> {
  const out = proc.stdout;
  if (!out || out.closed) return Promise.resolve();
  return new Promise((resolve) => out.once("close", () => resolve()));
}

/** A minimal protocol client over a real DEALER socket. */
export class TestClient {
  readonly sock = new Dealer({ linger: 0 });
  private pending = new Map<string, (r: Reply) => void>();
  private loop: Promise<void>;

  constructor(endpoint: string) {
    this.sock.connect(endpoint);
    this.loop = (async () => {
      try {
        for await (const [frame] of this.sock) {
          const r = decode(frame as Buffer) as Reply;
          const key = r.id === null ? "null" : String(r.id);
          const cb = this.pending.get(key);
          if (cb) {
            this.pending.delete(key);
            cb(r);
          }
        }
      } catch {
        /* socket closed */
      }
    })();
  }

  /** Sends a raw frame; resolves with the reply whose id is `expectId` ("null" for id-less error replies). */
  raw(frame: Buffer, expectId: string, timeoutMs = 30_000): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply for ${expectId}`)), timeoutMs);
      this.pending.set(expectId, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      void this.sock.send(frame);
    });
  }

  /** `timeoutMs` catches a hang (30 s); a request made slow on purpose gives a longer one. */
  request(op: string, args: Record<string, unknown> = {}, id: string = randomUUID(), timeoutMs?: number): Promise<Reply> {
    return this.raw(encode({ v: 1, id, op, ...args }), id, timeoutMs);
  }

  /** Like request, but throws unless ok, returning the result. */
  async call<T = any>(op: string, args: Record<string, unknown> = {}, id?: string): Promise<T> {
    const r = await this.request(op, args, id);
    if (!r.ok) throw new Error(`${op} failed: ${r.error?.code} ${r.error?.message}`);
    return r.result as T;
  }

  async close(): Promise<void> {
    this.sock.close();
    await this.loop;
  }
}

export interface Reply {
  v: number;
  id: string | null;
  ok: boolean;
  result?: any;
  error?: { code: string; message: string; data?: Record<string, unknown> };
}

/**
 * A loopback TCP port that was free a moment ago, below the kernel's ephemeral range. It is released
 * before the caller's process binds it: a port of the ephemeral range could meanwhile be handed to
 * any outgoing connection (a clean-clone run once failed so, EADDRINUSE), one below it only to
 * another explicit bind of that number. `TUNEPORT_TEST_PORTS=LO-HI` keeps it to that band, so that
 * test runs sharing a machine can each keep to their own (python-client/tests/conftest.py reads the
 * same variable; `make test` sets none, and vitest's workers share the band: they are not given parts
 * of it as pytest-xdist's are). Without it, [20000, ephemeral low), falling back to a port the kernel
 * picks when that leaves no room.
 * @throws when the band has no free port
 */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const probe = (port: number) =>
    new Promise<number | null>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(null));
      srv.listen(port, "127.0.0.1", () => {
        const bound = (srv.address() as { port: number }).port;
        srv.close(() => resolve(bound));
      });
    });
  const [first, end] = portBand();
  const explicit = Boolean(process.env.TUNEPORT_TEST_PORTS);
  // As conftest.py's free_port: 100 random draws from a wide band, every port of a narrow one.
  const candidates = end - first >= 1000 ? Array.from({ length: 100 }, () => first + Math.floor(Math.random() * (end - first))) : shuffled(first, end);
  for (const candidate of explicit ? candidates : [...candidates, 0]) {
    const port = await probe(candidate);
    if (port !== null) return port;
  }
  throw new Error(`no free loopback port${explicit ? ` in TUNEPORT_TEST_PORTS=${process.env.TUNEPORT_TEST_PORTS}` : ""}`);
}

/** [first, end) of the ports `freePort` draws from: TUNEPORT_TEST_PORTS ("LO-HI") or [20000, ephemeral low). */
function portBand(): [number, number] {
  const band = process.env.TUNEPORT_TEST_PORTS;
  if (!band) return [20_000, ephemeralLow()];
  const [lo, hi] = band.split("-").map(Number);
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo! < 1 || hi! < lo! || hi! > 65_535) throw new Error(`TUNEPORT_TEST_PORTS=${band}: expected LO-HI`);
  return [lo!, hi! + 1];
}

/** The ports of [first, end) in a random order. */
function shuffled(first: number, end: number): number[] {
  const ports = Array.from({ length: Math.max(0, end - first) }, (_, i) => first + i);
  for (let i = ports.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [ports[i], ports[j]] = [ports[j]!, ports[i]!];
  }
  return ports;
}

/** The first port of the kernel's ephemeral range (Linux; 32768 where it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}
