/**
 * `tuneport mcp --connect`'s backend (RemoteBackend) in front of a real server process that
 * stalls (SIGSTOP): a change that gets no reply in time is sent again with the same request id, so
 * it is applied once when the server resumes; when it never answers, the error says the outcome
 * is unknown instead of advising a retry that would apply it twice.
 */
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { silentLogger } from "../src/logger.js";
import { REMOTE_SENDS } from "../src/transports/change-resend.js";
import { RemoteBackend } from "../src/transports/mcp/backend.js";
import { errorResult } from "../src/transports/mcp/format.js";
import { ZmqClient } from "../src/transports/zmq/zmq-client.js";
import { type ServerProcess, startServer, stopServers, tempDir } from "./helpers.js";

// Long enough that a server resumed after the first send, on a busy machine, answers before the last send times out.
const TIMEOUT_MS = 5000;
const clients: ZmqClient[] = [];

// The tests run concurrently (most of their time is spent waiting out timeouts), each on its own
// server: the servers are stopped once both are done.
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await stopServers();
});

async function connected(server: ServerProcess): Promise<RemoteBackend> {
  const client = new ZmqClient(server.endpoint, { timeoutMs: TIMEOUT_MS });
  clients.push(client);
  await client.connect();
  return new RemoteBackend(client, silentLogger());
}

describe.concurrent("mcp --connect when the server stalls", () => {
  it("a change sent while the server is stopped is applied once when it resumes", async ({ expect }) => {
    const server = await startServer(join(tempDir(), "s.db"));
    const backend = await connected(server);
    await backend.call("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    server.proc.kill("SIGSTOP");
    const added = backend.call("add_trial", { study: "s", params: { x: 0.5 }, value: 1 });
    // Resume after the first send has timed out, long before the last one does.
    await new Promise((r) => setTimeout(r, TIMEOUT_MS * 1.25));
    server.proc.kill("SIGCONT");
    const { trial } = await added;
    expect(trial.number).toBe(0);
    const { study } = await backend.call("get_study", { study: "s" });
    expect(study.n_trials).toBe(1);
  }, 60_000);

  it("a change that never gets a reply reports an unknown outcome, and says to check before calling again", async ({ expect }) => {
    const server = await startServer(join(tempDir(), "s.db"));
    const backend = await connected(server);
    await backend.call("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    server.proc.kill("SIGSTOP");
    const err = await backend.call("add_trial", { study: "s", params: { x: 0.5 }, value: 1 }).catch((e: unknown) => e);
    server.proc.kill("SIGCONT");
    expect((err as { data?: Record<string, unknown> }).data?.outcome_unknown).toBe(true);
    expect(String((err as Error).message)).toContain(`after ${REMOTE_SENDS} sends`);
    const text = (errorResult(err as never).content[0] as { text: string }).text;
    expect(text).toContain("may have been applied: check first");
    expect(text).not.toContain("retry in a few seconds");
    // The server, resumed, applied the change once, whatever number of sends it received.
    let n = 0;
    for (let i = 0; i < 100 && n === 0; i++) {
      n = (await backend.call("get_study", { study: "s" })).study.n_trials;
      if (n === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(n).toBe(1);
  }, 60_000);
});
