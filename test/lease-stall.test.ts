/**
 * Leases across a stall of the server itself (SIGSTOP here; a long GC pause or a paused VM alike): a
 * real `tuneport serve` process with a short lease TTL and a real client heartbeating as `hello`
 * advises. While the server is stopped its reaper timer and the workers' heartbeats both wait; on
 * resume the overdue reaper tick ran before the queued heartbeats were read and failed trials whose
 * workers were alive all along. The server's own pause must not count against its clients.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ZmqClient } from "../src/transports/zmq/zmq-client.js";
import { startServer, stopServers, tempDir } from "./helpers.js";

// Long enough that a heartbeat loop slowed by a busy machine still renews in time; the stall is 1.5 TTL.
const TTL_S = 4;
let client: ZmqClient | null = null;

afterEach(async () => {
  await client?.close();
  client = null;
  await stopServers();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("leases when the server stalls", () => {
  it("a worker that heartbeats through a stop longer than the lease TTL keeps its trial", async () => {
    const server = await startServer(join(tempDir(), "s.db"), ["--lease-ttl", String(TTL_S)]);
    // A timeout longer than the stall: the heartbeat sent while the server is stopped waits for it.
    client = new ZmqClient(server.endpoint, { timeoutMs: 60_000 });
    const c = client;
    const hello = (await c.connect()) as { limits?: { heartbeat_interval_s?: number } };
    const everyMs = (hello.limits?.heartbeat_interval_s ?? TTL_S / 3) * 1000;
    await c.call("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const a = await c.call("ask", { study: "s" });
    const lease = { study: "s", trial: a.trial.number, token: a.lease.token };

    // The worker's heartbeat loop: one heartbeat, its reply, the advised interval, again.
    const answers: { ok: boolean; code?: string }[] = [];
    let beating = true;
    const beats = (async () => {
      while (beating) {
        const { leases } = await c.call("heartbeat", { leases: [lease] });
        answers.push(...leases);
        await sleep(everyMs);
      }
    })();
    await sleep(everyMs * 2);
    server.proc.kill("SIGSTOP");
    await sleep(TTL_S * 1000 * 1.5);
    server.proc.kill("SIGCONT");
    // The heartbeats after the resume answer (a hang guard, not a timing assertion).
    const before = answers.length;
    for (let i = 0; i < 600 && answers.length < before + 2; i++) await sleep(50);
    beating = false;
    await beats;

    expect(answers.filter((x) => !x.ok).map((x) => x.code)).toEqual([]);
    const told = await c.call("tell", { study: "s", trial: lease.trial, token: lease.token, state: "COMPLETE", value: 0.5 });
    expect(told.trial.state).toBe("COMPLETE");
    const { study } = await c.call("get_study", { study: "s" });
    expect(study.n_trials).toBe(1);
    expect(server.lines.filter((l) => l.includes("trial reaped"))).toEqual([]);
    // The server noticed that it had not run, and said so.
    // (Its stdout is read apart from the replies: poll for the line.)
    await expect.poll(() => server.lines.some((l) => l.includes('"leases_extended":1')), { timeout: 90_000 }).toBe(true);
  }, 120_000);
});
