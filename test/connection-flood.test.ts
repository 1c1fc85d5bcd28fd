import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { type Socket, connect } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Dealer } from "zeromq";
import { CLI, TestClient, tempDir } from "./helpers.js";

/**
 * A flood of TCP connections past the server's file-descriptor limit (docs/SECURITY.md, limits):
 * libzmq cannot accept the excess, and the server must keep answering the clients it already has,
 * then accept new ones once the flood ends. `process.memoryUsage()` (the reply-memory check of
 * every request) opens /proc/self/statm: with no descriptor left it threw EMFILE, and every request
 * of every connected client went unanswered until the flood ended. A chart asked for during the
 * flood could not fork its renderer (`spawn EMFILE`) and failed INTERNAL; now UNAVAILABLE, and
 * drawn after the flood.
 */

const FD_LIMIT = 256;
let server: ChildProcess | undefined;
/** The server's log lines above info (pino JSON), shown when a step fails. */
const problems: string[] = [];

afterAll(() => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
});

/** `tuneport serve` under `ulimit -n FD_LIMIT`; resolves with its endpoint once it listens. */
function startLimited(dbPath: string): Promise<{ proc: ChildProcess; endpoint: string }> {
  const args = ["serve", "--storage", dbPath, "--bind", "tcp://127.0.0.1:0", "--log-format", "json", "--plot-warmup", "0"];
  const proc = spawn("bash", ["-c", `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`, process.execPath, CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  server = proc;
  let out = "";
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 90_000); // a hang guard
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      for (const line of d.toString().split("\n")) if (/"level":[456]0/.test(line)) problems.push(line.slice(0, 400));
      const m = /"msg":"zmq listening"/.test(out) && /"endpoints":\["(tcp:\/\/[^"]+)"\]/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, endpoint: m[1]! });
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${err}`));
    });
  });
}

/** One ask and its tell through `c` on study "s"; a failure carries the server's problems. */
async function askTell(c: TestClient): Promise<void> {
  try {
    await askTellOnce(c);
  } catch (e) {
    throw new Error(`${(e as Error).message}; server log: ${problems.join("\n")}`);
  }
}

async function askTellOnce(c: TestClient): Promise<void> {
  const a = await c.call<{ trial: { number: number }; lease: { token: string } }>("ask", { study: "s" });
  await c.call("tell", { study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
}

/** Resolves once `pid` holds `n` descriptors or more (polled; the test's timeout catches a hang). */
async function untilFds(pid: number, n: number): Promise<number> {
  for (;;) {
    const held = readdirSync(`/proc/${pid}/fd`).length;
    if (held >= n) return held;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(process.platform !== "linux")("a connection flood past the server's descriptor limit", () => {
  it("keeps serving a connected client, and accepts new ones after the flood", async () => {
    const { proc, endpoint } = await startLimited(join(tempDir(), "flood.db"));
    const port = Number(new URL(endpoint).port);
    const honest = new TestClient(endpoint);
    await honest.call("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
    await askTell(honest);

    // Raw TCP connections that never speak, and ZMTP peers that greet and then idle.
    const raws: Socket[] = [];
    for (let i = 0; i < 2 * FD_LIMIT; i++) raws.push(connect(port, "127.0.0.1").on("error", () => {}));
    const dealers: Dealer[] = [];
    for (let i = 0; i < FD_LIMIT; i++) {
      const d = new Dealer({ linger: 0 });
      d.connect(endpoint);
      dealers.push(d);
    }
    // Every descriptor the server may hold is taken (a few spare ones aside: the limit counts
    // descriptors open at once, and libzmq closes a connection it could not finish).
    expect(await untilFds(proc.pid!, FD_LIMIT - 2)).toBeLessThanOrEqual(FD_LIMIT);

    // The client already connected is still answered while the flood holds every descriptor.
    await askTell(honest);
    await askTell(honest);
    expect(readdirSync(`/proc/${proc.pid}/fd`).length).toBeGreaterThanOrEqual(FD_LIMIT - 2);
    // A chart's renderer (a child process) cannot be forked without descriptors: UNAVAILABLE (retry),
    // never INTERNAL (a TypeError after `spawn EMFILE`, before 2026-12-05); drawn if a few were free.
    const r = await honest.request("plot", { study: "s", kind: "history" });
    const during = r.ok ? "drawn" : `${r.error?.code} ${(r.error?.data as { reason?: string } | undefined)?.reason}`;
    expect(["drawn", "UNAVAILABLE renderer_unavailable"]).toContain(during);

    for (const s of raws) s.destroy();
    for (const d of dealers) d.close();

    // After the flood, a new client connects and works (its requests wait for the descriptors
    // to be released; the 30 s request timeout catches a server that never recovers).
    const late = new TestClient(endpoint);
    await late.call("hello", { versions: [1] });
    await askTell(late);
    await askTell(honest);
    await expect(late.call("plot", { study: "s", kind: "history" })).resolves.toMatchObject({ kind: "history" });
    expect(proc.exitCode).toBeNull();
    await late.close();
    await honest.close();
    proc.kill("SIGTERM");
  }, 120_000);
});
