/**
 * wait_for_progress counts trials finished by an evaluation (helper 47's agent + workers audit):
 * another agent's cancel_trial (a queued trial becomes FAIL) and add_trial raise the study's
 * finished count too, and ended a wait for one trial at once with "1 trial finished" listing the
 * cancelled FAIL. Through the SDK's real client; each step runs while the tool waits (its
 * backend's waitForChange is in flight), as in mcp-spec.test.ts.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult, Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { StudyService } from "../../service/study-service.js";
import { type MemoryMcp, memoryMcp } from "../../testing/mcp-memory.js";
import type { McpBackend } from "./backend.js";
import { textOf } from "../../testing/mcp-session.js";

let rig: MemoryMcp;
let service: StudyService;
let backend: McpBackend;
let client: Client;

beforeEach(async () => {
  rig = await memoryMcp();
  ({ service, backend, client } = rig);
});

afterEach(() => rig.close());

const SPACE = { x: { type: "float", low: 0, high: 1 } };

/** Runs `steps` one at a time, each as the tool starts waiting for the study's next change. */
function duringTheWait(steps: (() => Promise<unknown>)[]): void {
  const wait = backend.waitForChange.bind(backend);
  backend.waitForChange = (...args) => {
    const waiting = wait(...args);
    void steps.shift()?.();
    return waiting;
  };
}

it("a cancelled queued trial and an add_trial result do not end a wait for one finished trial", async () => {
  await service.execute("create_study", { name: "w", space: SPACE, strategy: "random", seed: 1 });
  const running = await service.execute("ask", { study: "w" });
  const queued = await service.execute("enqueue", { study: "w", params: { x: 0.5 }, rationale: "a guess" });
  const steps = [
    () => service.execute("cancel_trial", { study: "w", trial: queued.trial.number, reason: "changed my mind" }),
    () => service.execute("add_trial", { study: "w", params: { x: 0.25 }, value: 0.7, rationale: "last week's run" }),
    () => service.execute("tell", { study: "w", trial: running.trial.number, token: running.lease.token, state: "COMPLETE", value: 0.4 }),
  ];
  duringTheWait(steps);
  const seen: Progress[] = [];
  const r = (await client.callTool({ name: "wait_for_progress", arguments: { study: "w", timeout_s: 50, min_finished: 1 } }, undefined, {
    onprogress: (p) => void seen.push(p),
  })) as CallToolResult;
  expect(r.isError, textOf(r)).toBeFalsy();
  expect(steps).toEqual([]); // the wait went on past the cancel and the add
  const out = r.structuredContent as Record<string, any>;
  expect(out).toMatchObject({ finished: 1, cancelled: 1, added: 1, timed_out: false });
  expect(out.new_trials.map((t: { number: number }) => t.number)).toEqual([running.trial.number]);
  expect(textOf(r)).toMatch(/^1 trial finished in [\d.]+s\. Not counted as finished: 1 queued trial cancelled \(cancel_trial\), 1 result recorded with add_trial\.\n/);
  expect(seen.map((p) => p.progress)).toEqual([1]);
});

it("a cancellation already made when the wait began, or during a timed-out one, is not an evaluation", async () => {
  await service.execute("create_study", { name: "c", space: SPACE, strategy: "random", seed: 1 });
  const before = await service.execute("enqueue", { study: "c", params: { x: 0.1 }, rationale: "first" });
  await service.execute("cancel_trial", { study: "c", trial: before.trial.number });
  const later = await service.execute("enqueue", { study: "c", params: { x: 0.9 }, rationale: "second" });
  duringTheWait([() => service.execute("cancel_trial", { study: "c", trial: later.trial.number })]);
  const r = (await client.callTool({ name: "wait_for_progress", arguments: { study: "c", timeout_s: 1, min_finished: 1 } })) as CallToolResult;
  const out = r.structuredContent as Record<string, any>;
  expect(out).toMatchObject({ finished: 0, cancelled: 1, new_trials: [] });
  expect(textOf(r)).toMatch(/^No progress within [\d.]+s: 0 trials finished \(wanted 1\)\. 0 running, 0 queued\. Not counted as finished: 1 queued trial cancelled \(cancel_trial\)\.\n/);
});

it("a study deleted while the wait reads its trials ends the wait as deleted, not with an error", async () => {
  await service.execute("create_study", { name: "d", space: SPACE, strategy: "random", seed: 1 });
  const running = await service.execute("ask", { study: "d" });
  const inner = backend.call.bind(backend);
  let deleteOnRead = false;
  backend.call = (async (op: string, args: unknown) => {
    if (op === "trials" && deleteOnRead) {
      deleteOnRead = false;
      await service.execute("delete_study", { study: "d" });
    }
    return inner(op as never, args as never);
  }) as McpBackend["call"];
  duringTheWait([
    async () => {
      deleteOnRead = true; // the tell's finish makes the wait read the trials: the study goes first
      await service.execute("tell", { study: "d", trial: running.trial.number, token: running.lease.token, state: "COMPLETE", value: 0.4 });
    },
  ]);
  const r = (await client.callTool({ name: "wait_for_progress", arguments: { study: "d", timeout_s: 50, min_finished: 1 } })) as CallToolResult;
  expect(r.isError, textOf(r)).toBeFalsy();
  expect(r.structuredContent).toMatchObject({ deleted: true });
});

it("a study deleted just before the wait goes back to waiting ends it as deleted, not 'no study named'", async () => {
  await service.execute("create_study", { name: "e", space: SPACE, strategy: "random", seed: 1 });
  await service.execute("ask", { study: "e" });
  // The delete lands between the wait's last read and its next wait for a change.
  const wait = backend.waitForChange.bind(backend);
  backend.waitForChange = async (...args) => {
    await service.execute("delete_study", { study: "e" });
    return wait(...args);
  };
  const r = (await client.callTool({ name: "wait_for_progress", arguments: { study: "e", timeout_s: 50, min_finished: 1 } })) as CallToolResult;
  expect(r.isError, textOf(r)).toBeFalsy();
  expect(r.structuredContent).toMatchObject({ deleted: true });
});

it("counts from the study's own finishes: no trial is read while waiting, however many are queued", async () => {
  await service.execute("create_study", { name: "q", space: SPACE, strategy: "random", seed: 1 });
  // An old queued trial before the running ones: the count once read every trial from it on at each finish.
  await service.execute("enqueue", { study: "q", params: { x: 0.5 }, rationale: "old" });
  const running = [];
  for (let i = 0; i < 3; i++) running.push(await service.execute("ask", { study: "q" }));
  for (let i = 0; i < 5; i++) await service.execute("enqueue", { study: "q", params: { x: i / 10 }, rationale: "later" });
  const inner = backend.call.bind(backend);
  const reads: string[] = [];
  backend.call = (async (op: string, args: unknown) => {
    reads.push(op);
    return inner(op as never, args as never);
  }) as McpBackend["call"];
  duringTheWait(running.map((r, i) => () => service.execute("tell", { study: "q", trial: r.trial.number, token: r.lease.token, state: "COMPLETE", value: i })));
  const r = (await client.callTool({ name: "wait_for_progress", arguments: { study: "q", timeout_s: 50, min_finished: 3 } })) as CallToolResult;
  expect(r.structuredContent).toMatchObject({ finished: 3, timed_out: false });
  // get_study at the start and after each change; the trials once, for the answer's listing, then
  // get_study to check that the listing was of the study the wait watched.
  expect(reads.filter((op) => op === "trials")).toHaveLength(1);
  expect(reads.slice(-2)).toEqual(["trials", "get_study"]);
});

it("says to upgrade a server whose get_study has no finishes (mcp --connect to an older server)", async () => {
  await service.execute("create_study", { name: "o", space: SPACE, strategy: "random", seed: 1 });
  const inner = backend.call.bind(backend);
  backend.call = (async (op: string, args: unknown) => {
    const r = (await inner(op as never, args as never)) as Record<string, unknown>;
    return op === "get_study" ? { study: r.study } : r;
  }) as McpBackend["call"];
  const r = (await client.callTool({ name: "wait_for_progress", arguments: { study: "o", timeout_s: 1, min_finished: 1 } })) as CallToolResult;
  expect(r.isError).toBe(true);
  expect(textOf(r)).toMatch(/FAILED_PRECONDITION: wait_for_progress needs a tuneport server whose get_study answers finishes: upgrade the server/);
});

it("a study deleted and created again under its name while waiting ends the wait as deleted, not with the new study's counts less the old's", async () => {
  await service.execute("create_study", { name: "d", space: SPACE, strategy: "random", seed: 1 });
  for (let i = 0; i < 3; i++) {
    const q = await service.execute("ask", { study: "d" });
    await service.execute("tell", { study: "d", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: i });
  }
  await service.execute("ask", { study: "d" });
  // The wait wakes only once the study is gone and a new one of its name has a finished trial (a
  // --connect poll sees them together, as one change of the listing).
  let steps: Promise<void> | null = null;
  const wait = backend.waitForChange.bind(backend);
  backend.waitForChange = async (...args) => {
    const waiting = wait(...args);
    steps ??= (async () => {
      await service.execute("delete_study", { study: "d" });
      await service.execute("create_study", { name: "d", space: SPACE, strategy: "random", seed: 2 });
      const q = await service.execute("ask", { study: "d" });
      await service.execute("tell", { study: "d", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 9 });
    })();
    await steps;
    return waiting;
  };
  const r = (await client.callTool({ name: "wait_for_progress", arguments: { study: "d", timeout_s: 2, min_finished: 1 } })) as CallToolResult;
  expect(r.isError, textOf(r)).toBeFalsy();
  expect(r.structuredContent).toMatchObject({ deleted: true });
  expect(r.structuredContent).toMatchObject({ recreated: true });
  expect(textOf(r)).toMatch(/^Study 'd' was deleted while waiting, and another study was created under its name/);
});

it("a wait on an empty study is not ended by a trial of another study created under its name meanwhile", async () => {
  await service.execute("create_study", { name: "n", space: SPACE, strategy: "random", seed: 1 });
  let steps: Promise<void> | null = null;
  const wait = backend.waitForChange.bind(backend);
  backend.waitForChange = async (...args) => {
    const waiting = wait(...args);
    steps ??= (async () => {
      await service.execute("delete_study", { study: "n" });
      await new Promise((r) => setTimeout(r, 5)); // created in another millisecond than the first
      await service.execute("create_study", { name: "n", space: SPACE, strategy: "random", seed: 2 });
      const q = await service.execute("ask", { study: "n" });
      await service.execute("tell", { study: "n", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 9 });
    })();
    await steps;
    return waiting;
  };
  const r = (await client.callTool({ name: "wait_for_progress", arguments: { study: "n", timeout_s: 2, min_finished: 1 } })) as CallToolResult;
  expect(r.structuredContent).toMatchObject({ deleted: true });
});
