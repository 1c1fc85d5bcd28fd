/**
 * What an agent gets back in a whole tuning session (an agent session probe, mcp5; round 1 is
 * agent-mistakes.test.ts): an option name a plug-in does not take is refused with the names it
 * does take, at every level (a strategy's, one `auto` or `parego` passes on, a wrapped
 * scheduler's); a refusal to cancel a running trial says what ends it instead of calling it
 * finished. Driven through the SDK's real Client over the in-memory transport.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type MemoryMcp, memoryMcp } from "../../testing/mcp-memory.js";
import { textOf } from "../../testing/mcp-session.js";

let rig: MemoryMcp;
let client: Client;

beforeEach(async () => {
  rig = await memoryMcp();
  ({ client } = rig);
});

afterEach(() => rig.close());

const SPACE = { x: { type: "float", low: 0, high: 1 } };
const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;

describe("an option name a plug-in does not take", () => {
  it("is refused with the options it takes: parego's start-up count is under its gp", async () => {
    const r = await call("create_study", { name: "p", directions: ["minimize", "maximize"], space: SPACE, strategy: { name: "parego", options: { n_startup_trials: 4 } } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain(`Unrecognized key: "n_startup_trials"; its options are rho, weights, scalarization, gp`);
  });

  it("names the inner strategy's options for one auto passes on, the wrapped scheduler's, and none for random", async () => {
    const auto = await call("create_study", { name: "a", space: SPACE, strategy: { name: "auto", options: { gp: { startup: 3 } } } });
    expect(textOf(auto)).toMatch(/gp: Unrecognized key: "startup"; its options are nStartupTrials, nCandidates, /);
    const patient = await call("create_study", {
      name: "b",
      space: SPACE,
      scheduler: { name: "patient", options: { patience: 2, wrapped: { name: "median", options: { warmup: 1 } } } },
    });
    expect(textOf(patient)).toContain(`wrapped.options: Unrecognized key: "warmup"; its options are n_startup_trials, n_warmup_steps, interval_steps, n_min_trials`);
    expect(textOf(await call("create_study", { name: "c", space: SPACE, strategy: { name: "random", options: { seed: 1 } } }))).toContain(
      `Unrecognized key: "seed"; it takes no options`,
    );
    expect((await call("list_studies", {})).structuredContent).toMatchObject({ shown: 0 });
  });
});

describe("cancel_trial on a trial that is not queued", () => {
  it("says a running trial is being evaluated and how it ends, and a finished one is finished", async () => {
    await call("create_study", { name: "s", space: SPACE, strategy: "random" });
    const { trial: { number: trial }, token } = (await call("ask_trial", { study: "s" })).structuredContent as { trial: { number: number }; token: string };
    const running = textOf(await call("cancel_trial", { study: "s", trial }));
    expect(running).toContain("is RUNNING: only a queued (WAITING) trial can be cancelled");
    expect(running).not.toContain("already finished");
    expect(running).toMatch(/Next step: That trial is being evaluated: whoever holds its token ends it with tell_trial/);
    await call("tell_trial", { study: "s", trial, token, value: 1 });
    expect(textOf(await call("cancel_trial", { study: "s", trial }))).toContain("Next step: That trial is already finished");
  });
});

describe("list_trials' fields on a multi-objective, constrained study", () => {
  it("value brings the trial's values and constraints (its value is null), values is taken for value, and number is no error", async () => {
    await call("create_study", { name: "mo", directions: ["minimize", "maximize"], space: SPACE, strategy: "random" });
    const { trial: { number: trial }, token } = (await call("ask_trial", { study: "mo" })).structuredContent as { trial: { number: number }; token: string };
    await call("tell_trial", { study: "mo", trial, token, values: [1, 2], constraints: [0.5] });
    for (const fields of [["value"], ["values"], ["number", "value"]]) {
      const r = await call("list_trials", { study: "mo", fields });
      expect(r.isError).toBeFalsy();
      expect((r.structuredContent as { trials: unknown[] }).trials).toEqual([{ number: 0, value: null, values: [1, 2], constraints: [0.5], feasible: false }]);
      expect(textOf(r)).toContain("#0  values=[1, 2]  constraints=[0.5] (infeasible)");
    }
    expect((await call("list_trials", { study: "mo", fields: ["number"] })).structuredContent).toMatchObject({ trials: [{ number: 0 }] });
    expect(textOf(await call("list_trials", { study: "mo", fields: ["numbr"] }))).toContain("(number is always shown; value brings values and constraints)");
  });
});

describe("ask_trial under a multi-fidelity scheduler", () => {
  it("says what the budget means and, for a promotion, which trial's run it continues", async () => {
    await call("create_study", { name: "p", space: SPACE, strategy: "random", seed: 1, scheduler: { name: "asha", options: { mode: "promotion" } }, max_resource: 9 });
    const first: { trial: number; x: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call("ask_trial", { study: "p" });
      const a = r.structuredContent as { trial: { number: number; params: { x: number } }; token: string; budget: number };
      expect(a.budget).toBe(1);
      expect(textOf(r)).toContain("budget: 1 (train up to step 1 in your step units, with report_intermediate along the way)");
      expect(r.structuredContent).not.toHaveProperty("resume_from");
      await call("report_intermediate", { study: "p", trial: a.trial.number, token: a.token, step: 1, value: a.trial.params.x });
      await call("tell_trial", { study: "p", trial: a.trial.number, token: a.token, value: a.trial.params.x });
      first.push({ trial: a.trial.number, x: a.trial.params.x });
    }
    const best = first.reduce((a, b) => (b.x < a.x ? b : a));
    const promoted = await call("ask_trial", { study: "p" });
    expect(promoted.structuredContent).toMatchObject({ budget: 3, trial: { params: { x: best.x } }, resume_from: { trial: best.trial, budget: 1 } });
    expect(textOf(promoted)).toContain(`resume_from: trial ${best.trial} (trained to step 1): this promotes its configuration; continue that run`);
  });
});

describe("a scheduler that needs a max_resource", () => {
  it("is refused with what max_resource is and the two places to give it, at create_study and update_study", async () => {
    const r = await call("create_study", { name: "h", space: SPACE, scheduler: "hyperband" });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain("scheduler 'hyperband' needs a max_resource: how far one trial trains at most, in your step units");
    expect(textOf(r)).toContain("create_study max_resource: 27, say) or the scheduler's (options: {max_resource: 27})");
    await call("create_study", { name: "s", space: SPACE });
    expect(textOf(await call("update_study", { study: "s", scheduler: "bohb" }))).toContain("scheduler 'bohb' needs a max_resource");
    // Given either way, it is taken.
    expect((await call("create_study", { name: "a", space: SPACE, scheduler: "hyperband", max_resource: 27 })).isError).toBeFalsy();
    expect((await call("update_study", { study: "s", scheduler: { name: "hyperband", options: { max_resource: 9 } } })).isError).toBeFalsy();
  });
});

describe("tell_trial on a multi-objective study given one value", () => {
  it("says to pass values, one per objective in the directions' order", async () => {
    await call("create_study", { name: "mo", directions: ["minimize", "maximize"], space: SPACE, strategy: "random" });
    const { trial: { number: trial }, token } = (await call("ask_trial", { study: "mo" })).structuredContent as { trial: { number: number }; token: string };
    const r = await call("tell_trial", { study: "mo", trial, token, value: 0.5 });
    expect(textOf(r)).toContain(
      "the study has 2 objectives (minimize, maximize); got 1 value: pass values, one number per objective in that order (values: [value to minimize, value to maximize])",
    );
    expect((await call("tell_trial", { study: "mo", trial, token, values: [0.5, 0.7] })).isError).toBeFalsy();
  });
});

describe("list_trials' order", () => {
  it("is said in the first line: descending on values is worst first, also when maximising", async () => {
    await call("create_study", { name: "mx", direction: "maximize", space: SPACE, strategy: "random" });
    for (const value of [0.2, 0.9, -0.5]) {
      const { trial: { number: trial }, token } = (await call("ask_trial", { study: "mx" })).structuredContent as { trial: { number: number }; token: string };
      await call("tell_trial", { study: "mx", trial, token, value });
    }
    const best = await call("list_trials", { study: "mx", sort: "value", fields: ["value"] });
    expect(textOf(best)).toMatch(/^3 of 3 trials, best first:\n#1 {2}value=0.9\n/);
    const worst = await call("list_trials", { study: "mx", sort: "value", descending: true, fields: ["value"] });
    expect(textOf(worst)).toMatch(/^3 of 3 trials, worst first \(descending reverses best-first\):\n#2 {2}value=-0.5\n/);
    expect(textOf(await call("list_trials", { study: "mx", descending: true }))).toMatch(/^3 of 3 trials, newest first:\n#2 /);
    const { tools } = await client.listTools();
    expect(tools.find((t) => t.name === "list_trials")?.inputSchema.properties?.descending).toMatchObject({ description: "newest first; with sort value, worst first" });
  });
});

describe("wait_for_progress while the agent holds a trial", () => {
  it("at the timeout names the running trials asked with ask_trial, which only tell_trial finishes; not a worker's", async () => {
    await call("create_study", { name: "w", space: SPACE, strategy: "random" });
    await rig.service.execute("ask", { study: "w" }); // a worker's (no MCP identity)
    const quiet = await call("wait_for_progress", { study: "w", timeout_s: 0.2 });
    expect(quiet.structuredContent).toMatchObject({ timed_out: true, counts: { RUNNING: 1 } });
    expect(textOf(quiet)).not.toContain("were asked with ask_trial");
    const { trial: { number: trial } } = (await call("ask_trial", { study: "w", lease_ttl_s: 600 })).structuredContent as { trial: { number: number } };
    const r = await call("wait_for_progress", { study: "w", timeout_s: 0.2 });
    expect(r.structuredContent).toMatchObject({ timed_out: true, counts: { RUNNING: 2 } });
    expect(textOf(r)).toContain(`Running trial ${trial} was asked with ask_trial: it finishes only when tell_trial reports it (waiting does not renew its lease).`);
  });
});
