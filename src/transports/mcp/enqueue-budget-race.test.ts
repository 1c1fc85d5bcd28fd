/**
 * enqueue_trial's note on a proposal queued past the max_trials budget's room, when another agent
 * queues proposals in the moment between this one's enqueue and its answer (review of b82c5d4):
 * it counted every queued trial as ahead of this one ("this one last: no worker gets it") and so
 * told the agent that a proposal the budget has room for would never run. Through the SDK's real
 * client; the other agent's proposals go in as the tool reads the study for its notes.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
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

const enqueue = async (x: number): Promise<CallToolResult> =>
  (await client.callTool({ name: "enqueue_trial", arguments: { study: "b", params: { x }, rationale: `x = ${x}` } })) as CallToolResult;

it("a proposal within the budget's room is not said to be held when others queue behind it meanwhile", async () => {
  await service.execute("create_study", { name: "b", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", max_trials: 2 });
  const inner = backend.call.bind(backend);
  let others = [0.8, 0.9];
  backend.call = (async (op: string, args: unknown) => {
    if (op === "get_study" && others.length > 0) {
      for (const x of others) await service.execute("enqueue", { study: "b", params: { x }, rationale: "another agent's" });
      others = [];
    }
    return inner(op as never, args as never);
  }) as McpBackend["call"];
  const mine = await enqueue(0.1);
  expect(mine.isError, textOf(mine)).toBeFalsy();
  expect(textOf(mine)).toMatch(/^Queued trial 0 of 'b'/);
  expect(textOf(mine)).not.toContain("no worker gets it");
  // Past the room: the queued trials handed out before it, as the service counted them with the enqueue.
  const last = await enqueue(0.2);
  expect(textOf(last)).toContain("room for 2 more trials (0 of 2 asked) and 3 queued trials go before this one: no worker gets it");
  await service.execute("cancel_trial", { study: "b", trial: 2 });
  const behind = await enqueue(0.3);
  expect(textOf(behind)).toContain("room for 2 more trials (0 of 2 asked) and 3 queued trials go before this one");
  // Asked from the queue meanwhile: trial 0 runs, and the budget has room for one more.
  await service.execute("ask", { study: "b" });
  expect(textOf(await enqueue(0.4))).toContain("room for 1 more trial (1 of 2 asked) and 3 queued trials go before this one");
  // Past the room, with another agent's proposal queued behind it meanwhile: counted as ahead no more.
  others = [0.95];
  expect(textOf(await enqueue(0.5))).toContain("room for 1 more trial (1 of 2 asked) and 4 queued trials go before this one: no worker gets it");
});

it("an older server's enqueue reply, without queue and trial_budget, still answers, without the budget's note (mcp --connect)", async () => {
  await service.execute("create_study", { name: "b", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", max_trials: 1 });
  await service.execute("ask", { study: "b" });
  const inner = backend.call.bind(backend);
  let old = false;
  backend.call = (async (op: string, args: unknown) => {
    const r = (await inner(op as never, args as never)) as Record<string, unknown>;
    if (op !== "enqueue" || !old) return r;
    const { queue: _q, trial_budget: _b, ...before } = r;
    return before;
  }) as McpBackend["call"];
  expect(textOf(await enqueue(0.1))).toContain("The study's max_trials budget is spent (1 of 1): no worker gets it until update_study raises max_trials.");
  old = true;
  const r = await enqueue(0.2);
  expect(r.isError, textOf(r)).toBeFalsy();
  expect(textOf(r)).toMatch(/^Queued trial 2 of 'b': \{x=0\.2\}\. It will be evaluated before the strategy's own suggestions\.$/);
});
