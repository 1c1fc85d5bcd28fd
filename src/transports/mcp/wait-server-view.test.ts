/**
 * What wait_for_progress and enqueue_trial answer comes from the server's own reads, not from a
 * later read by name or this process's clock (the MCP defects carried since stop 66): the wait's
 * listing is of the study it watched, its "new" trials are judged on the server's clock (mcp
 * --connect to a server whose clock differs), a listing cut to its budget goes on with a
 * list_trials cursor, and enqueue's "study stopped" note is the state the enqueue itself saw.
 * Through the SDK's real client, on a real service (and for --connect, a real ZeroMQ server).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, expect, it } from "vitest";
import { context } from "zeromq";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { type MemoryMcp, memoryMcp } from "../../testing/mcp-memory.js";
import { structuredOf, textOf } from "../../testing/mcp-session.js";
import { ZmqClient } from "../zmq/zmq-client.js";
import { ZmqServer } from "../zmq/zmq-server.js";
import { type McpBackend, RemoteBackend } from "./backend.js";
import { createTuneportMcp } from "./mcp-server.js";

context.blocky = false;

const SPACE = { x: { type: "float", low: 0, high: 1 } };
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function rig(opts: Parameters<typeof memoryMcp>[0] = {}): Promise<MemoryMcp> {
  const r = await memoryMcp(opts);
  cleanup.push(() => r.close());
  return r;
}

const call = async (client: Client, name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;

/** Runs `step` once, as the tool starts waiting for the study's next change. */
function duringTheWait(backend: McpBackend, step: () => Promise<unknown>): void {
  const wait = backend.waitForChange.bind(backend);
  let once: (() => Promise<unknown>) | null = step;
  backend.waitForChange = (...args) => {
    const waiting = wait(...args);
    const s = once;
    once = null;
    void s?.();
    return waiting;
  };
}

it("a study deleted and created again under its name just before the wait lists its trials answers deleted, not the new study's trials", async () => {
  let recreate = false;
  const { service, backend, client } = await rig({
    prepare: (b) => {
      const inner = b.call.bind(b);
      b.call = (async (op: string, args: unknown) => {
        // After the loop's last look, before the listing: the gap the answer's reads by name fell in.
        if (op === "trials" && recreate) {
          recreate = false;
          await service.execute("delete_study", { study: "r" });
          await service.execute("create_study", { name: "r", space: SPACE, strategy: "random", seed: 2 });
          const q = await service.execute("ask", { study: "r" });
          await service.execute("tell", { study: "r", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 99 });
        }
        return inner(op as never, args as never);
      }) as McpBackend["call"];
    },
  });
  await service.execute("create_study", { name: "r", space: SPACE, strategy: "random", seed: 1 });
  const running = await service.execute("ask", { study: "r" });
  duringTheWait(backend, async () => {
    recreate = true;
    await service.execute("tell", { study: "r", trial: running.trial.number, token: running.lease.token, state: "COMPLETE", value: 0.5 });
  });
  const r = await call(client, "wait_for_progress", { study: "r", timeout_s: 50, min_finished: 1 });
  expect(r.isError, textOf(r)).toBeFalsy();
  // Before: "1 trial finished" listing the new study's trial (value 99) as the watched study's.
  expect(textOf(r)).not.toContain("99");
  expect(structuredOf(r)).toEqual({ deleted: true, recreated: true });
  expect(textOf(r)).toMatch(/^Study 'r' was deleted while waiting, and another study was created under its name/);
});

it("a listing cut to its budget goes on with list_trials from a cursor: every trial that finished during the wait is reachable", async () => {
  const { service, backend, client } = await rig();
  await service.execute("create_study", { name: "p", space: SPACE, strategy: "random", seed: 1 });
  // Finished before the wait: not new, though list_trials' continuation shows them.
  for (let i = 0; i < 3; i++) {
    const q = await service.execute("ask", { study: "p" });
    await service.execute("tell", { study: "p", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: i });
  }
  const asked: { trial: { number: number }; lease: { token: string } }[] = [];
  for (let i = 0; i < 30; i++) asked.push(await service.execute("ask", { study: "p" }));
  duringTheWait(backend, async () => {
    for (const [i, q] of asked.entries()) await service.execute("tell", { study: "p", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 10 + i });
  });
  const r = await call(client, "wait_for_progress", { study: "p", timeout_s: 50, min_finished: 30 });
  const out = structuredOf(r);
  expect(out).toMatchObject({ finished: 30, timed_out: false });
  const shown: number[] = out.new_trials.map((t: { number: number }) => t.number);
  expect(shown.length).toBeLessThan(30);
  // Before: "(10 earlier ones not shown, use list_trials with sort "number" and descending true)", no cursor.
  expect(out.next_cursor).toEqual(expect.any(String));
  expect(textOf(r)).toContain(`cursor "${out.next_cursor}" goes on from the last one shown; those with finished_at ≥ ${out.finished_since.toFixed(3)} (`);
  const rest: { number: number; finished_at?: number }[] = [];
  let cursor: string | null = out.next_cursor;
  while (cursor !== null) {
    const page = await call(client, "list_trials", { study: "p", states: ["COMPLETE", "PRUNED", "FAIL"], sort: "number", descending: true, cursor });
    expect(page.isError, textOf(page)).toBeFalsy();
    rest.push(...structuredOf(page).trials);
    cursor = structuredOf(page).next_cursor;
  }
  // The continuation starts right below the listing: nothing skipped, nothing shown twice.
  expect(rest.map((t) => t.number)).toEqual(Array.from({ length: 33 - shown.length }, (_, i) => 32 - shown.length - i));
  const all = new Set([...shown, ...rest.map((t) => t.number)]);
  for (const q of asked) expect(all.has(q.trial.number)).toBe(true);
  // A cursor made for that query only: validated as list_trials' own are.
  const wrong = await call(client, "list_trials", { study: "p", sort: "value", cursor: out.next_cursor });
  expect(wrong.isError).toBe(true);
  expect(textOf(wrong)).toMatch(/cursor was made for/);
});

/** `tuneport mcp --connect` (RemoteBackend) to a real ZeroMQ server whose service's clock is an hour behind this process's. */
async function connectedBehind(): Promise<{ service: StudyService; backend: RemoteBackend; client: Client }> {
  const storage = new SqliteStorage({ path: ":memory:" });
  const behind = () => Date.now() - 3_600_000;
  const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, clock: behind });
  cleanup.push(() => storage.close(), () => service.close());
  const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
  const [endpoint] = await server.start();
  cleanup.push(() => server.close());
  const zmq = new ZmqClient(endpoint as string, { timeoutMs: 20_000 });
  await zmq.connect();
  const backend = new RemoteBackend(zmq, silentLogger(), 20);
  await backend.start();
  cleanup.push(() => backend.close());
  const mcp = createTuneportMcp(backend, { logger: silentLogger(), version: "test" });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "connect", version: "1" });
  await mcp.server.connect(a);
  await client.connect(b);
  cleanup.push(() => client.close(), () => mcp.dispose());
  return { service, backend, client };
}

it("mcp --connect to a server whose clock is an hour behind lists the trials that finished during the wait, and only those", async () => {
  const { service, backend, client } = await connectedBehind();
  await service.execute("create_study", { name: "c", space: SPACE, strategy: "random", seed: 1 });
  const before = await service.execute("ask", { study: "c" });
  await service.execute("tell", { study: "c", trial: before.trial.number, token: before.lease.token, state: "COMPLETE", value: 1 });
  const running = await service.execute("ask", { study: "c" });
  duringTheWait(backend, () => service.execute("tell", { study: "c", trial: running.trial.number, token: running.lease.token, state: "COMPLETE", value: 0.25 }));
  const r = await call(client, "wait_for_progress", { study: "c", timeout_s: 50, min_finished: 1 });
  expect(r.isError, textOf(r)).toBeFalsy();
  expect(structuredOf(r)).toMatchObject({ finished: 1, timed_out: false });
  // Before: finished_at (the server's clock, an hour behind) was compared with this process's, so no trial was listed.
  expect(structuredOf(r).new_trials.map((t: { number: number }) => t.number)).toEqual([running.trial.number]);
}, 60_000);

it("renew_lease under mcp --connect to a server whose clock is an hour behind says how long the lease runs from the server's answer", async () => {
  const { service, client } = await connectedBehind();
  await service.execute("create_study", { name: "l", space: SPACE, strategy: "random", seed: 1, lease_ttl_s: 600 });
  const asked = structuredOf(await call(client, "ask_trial", { study: "l" }));
  const r = await call(client, "renew_lease", { study: "l", trial: asked.trial.number, token: asked.token });
  expect(r.isError, textOf(r)).toBeFalsy();
  // Before: expires_at (the server's clock) less this process's clock: "it expires in 0s" for a 600 s lease just renewed.
  expect(structuredOf(r).expires_in_s).toBe(600);
  expect(textOf(r)).toBe(`Lease of trial ${asked.trial.number} renewed: it expires in 600s.`);
}, 60_000);

it("enqueue_trial's 'study stopped' note is the state the enqueue saw, not a later read's", async () => {
  let resumeAfterEnqueue = false;
  const { service, client } = await rig({
    prepare: (b) => {
      const inner = b.call.bind(b);
      b.call = (async (op: string, args: unknown) => {
        const r = await inner(op as never, args as never);
        // Another agent resumes the study between the enqueue and the tool's next read.
        if (op === "enqueue" && resumeAfterEnqueue) await service.execute("resume_study", { study: "s" });
        return r;
      }) as McpBackend["call"];
    },
  });
  await service.execute("create_study", { name: "s", space: SPACE, strategy: "random", seed: 1 });
  await service.execute("stop_study", { study: "s" });
  // The op's reply says it, read under the study's lock with the queue and the budget.
  expect(await service.execute("enqueue", { study: "s", params: { x: 0.1 }, rationale: "direct" })).toMatchObject({ stopped: true });
  resumeAfterEnqueue = true;
  const r = await call(client, "enqueue_trial", { study: "s", params: { x: 0.5 }, rationale: "while stopped" });
  expect(r.isError, textOf(r)).toBeFalsy();
  // Before: the note came from a get_study after the enqueue, which read the study resumed, and said nothing.
  expect(textOf(r)).toContain("The study is stopped: no worker gets it until resume_study.");
  resumeAfterEnqueue = false;
  const later = await call(client, "enqueue_trial", { study: "s", params: { x: 0.7 }, rationale: "after the resume" });
  expect(textOf(later)).not.toContain("stopped");
});

it("a trial re-queued after the budget was spent (a lease expired) is named at the wait's timeout, with who can run it", async () => {
  const storage = new SqliteStorage({ path: ":memory:" });
  let shift = 0;
  const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, clock: () => Date.now() + shift });
  cleanup.push(() => storage.close(), () => service.close());
  const { client } = await rig({ service });
  await service.execute("create_study", { name: "b", space: SPACE, strategy: "random", seed: 1, max_trials: 2, lease_ttl_s: 5, retry: { max_retries: 1 } });
  const done = await service.execute("ask", { study: "b" });
  await service.execute("tell", { study: "b", trial: done.trial.number, token: done.lease.token, state: "COMPLETE", value: 1 });
  const lost = await service.execute("ask", { study: "b" });
  // The budget is spent: a worker's next ask is refused and its loop ends.
  await expect(service.execute("ask", { study: "b" })).rejects.toMatchObject({ code: "STUDY_STOPPED", data: { reason: "max_trials" } });
  // The other worker died: its lease expires and the reaper re-queues the trial, giving its place in the budget back.
  shift = 10_000;
  expect(await service.reap()).toBe(1);
  const r = await call(client, "wait_for_progress", { study: "b", timeout_s: 0.2, min_finished: 1 });
  expect(r.isError, textOf(r)).toBeFalsy();
  const retry = lost.trial.number + 1;
  expect(structuredOf(r)).toMatchObject({ timed_out: true, finished: 0, requeued: [retry] });
  // Before: "no worker asked for the 1 queued trial: are workers connected?", nothing of the retry or the ended loops.
  expect(textOf(r)).toContain(
    `Nothing is running, and queued trial ${retry} re-runs trial ${lost.trial.number}, whose lease expired (its worker stopped answering). The re-queue gave its place in the max_trials budget back (1 of 2 asked), but a worker whose ask was refused while the budget was spent has ended its loop and does not come back: start a worker, evaluate it yourself with ask_trial/tell_trial, or cancel_trial it to end the study as it is.`,
  );
  // What it says is so: the agent can run it.
  const asked = structuredOf(await call(client, "ask_trial", { study: "b" }));
  expect(asked.trial.number).toBe(retry);
});

it("the listing's cursor goes on right below the last trial shown when another trial finishes while the answer is built", async () => {
  let finishLate: (() => Promise<unknown>) | null = null;
  const { service, backend, client } = await rig({
    prepare: (b) => {
      const inner = b.call.bind(b);
      b.call = (async (op: string, args: unknown) => {
        // After the listing was read, before the cursor's read: a worker tells its trial.
        const f = finishLate;
        if (op === "trials" && f && (args as { fields?: unknown }).fields !== undefined) {
          finishLate = null;
          await f();
        }
        return inner(op as never, args as never);
      }) as McpBackend["call"];
    },
  });
  await service.execute("create_study", { name: "q", space: SPACE, strategy: "random", seed: 1 });
  const asked: { trial: { number: number }; lease: { token: string } }[] = [];
  for (let i = 0; i < 31; i++) asked.push(await service.execute("ask", { study: "q" }));
  const late = asked.pop() as (typeof asked)[number];
  duringTheWait(backend, async () => {
    for (const [i, q] of asked.entries()) await service.execute("tell", { study: "q", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: i });
  });
  finishLate = () => service.execute("tell", { study: "q", trial: late.trial.number, token: late.lease.token, state: "COMPLETE", value: 99 });
  const out = structuredOf(await call(client, "wait_for_progress", { study: "q", timeout_s: 50, min_finished: 30 }));
  expect(finishLate).toBeNull();
  const shown: number[] = out.new_trials.map((t: { number: number }) => t.number);
  expect(shown.length).toBeLessThan(30);
  const page = structuredOf(await call(client, "list_trials", { study: "q", states: ["COMPLETE", "PRUNED", "FAIL"], sort: "number", descending: true, cursor: out.next_cursor }));
  // Before: the cursor was made from a page as long as the listing's, now one trial longer at its top, so it went on from the last one shown, listing it again.
  expect(page.trials[0].number).toBe(Math.min(...shown) - 1);
});

it("a trial re-queued after a lost lease on a study whose budget was never spent is not blamed on the budget", async () => {
  const storage = new SqliteStorage({ path: ":memory:" });
  let shift = 0;
  const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, clock: () => Date.now() + shift });
  cleanup.push(() => storage.close(), () => service.close());
  const { client } = await rig({ service });
  await service.execute("create_study", { name: "w", space: SPACE, strategy: "random", seed: 1, max_trials: 10, lease_ttl_s: 5, retry: { max_retries: 1 } });
  // The only worker dies holding 1 of 10: no ask was ever refused, the budget is far from spent.
  const lost = await service.execute("ask", { study: "w" });
  shift = 10_000;
  expect(await service.reap()).toBe(1);
  const r = await call(client, "wait_for_progress", { study: "w", timeout_s: 0.2, min_finished: 1 });
  expect(r.isError, textOf(r)).toBeFalsy();
  expect(structuredOf(r)).toMatchObject({ timed_out: true, finished: 0 });
  // Before: "... (0 of 10 asked), but a worker whose ask was refused while the budget was spent has ended its loop", which never happened.
  expect(textOf(r)).not.toContain("while the budget was spent");
  expect(textOf(r)).toContain("are workers connected?");
  expect(textOf(r)).toContain(`re-runs trial ${lost.trial.number}`);
});
