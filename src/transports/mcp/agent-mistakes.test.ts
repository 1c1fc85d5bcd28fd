/**
 * What an agent gets back for the mistakes it makes and the states it cannot see otherwise
 * (an agent session probe, mcp4): arguments a tool does not take (Optuna's names, another
 * tool's names) are refused with the name to use instead of being dropped; a stopped study or a
 * spent max_trials budget is said in the summary, the listing and the idle wait, with the step
 * that lifts it; a multi-objective study's value listings say why they are empty, and its importances what they rank.
 * Driven through the SDK's real Client over the in-memory transport.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TuneportError } from "../../domain/errors.js";
import { errorResult } from "./format.js";
import { StudyService } from "../../service/study-service.js";
import { fmt } from "../../service/summary.js";
import { silentLogger } from "../../logger.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { type MemoryMcp, memoryMcp } from "../../testing/mcp-memory.js";
import { textOf } from "../../testing/mcp-session.js";

let rig: MemoryMcp;
let service: StudyService;
let client: Client;

beforeEach(async () => {
  rig = await memoryMcp();
  ({ service, client } = rig);
});

afterEach(() => rig.close());

const SPACE = { x: { type: "float", low: 0, high: 1 } };
const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;

/** Asks one trial of `study` and completes it with `value`. */
async function evaluate(study: string, value: number): Promise<void> {
  const asked = await call("ask_trial", { study });
  const { trial: { number: trial }, token } = asked.structuredContent as { trial: { number: number }; token: string };
  expect((await call("tell_trial", { study, trial, token, value })).isError).toBeFalsy();
}

describe("arguments a tool does not take", () => {
  it("are refused, not dropped: create_study with Optuna's n_trials and study_name names max_trials and name, and creates nothing", async () => {
    const r = await call("create_study", { name: "s", n_trials: 30, study_name: "s", space: SPACE });
    expect(r.isError).toBe(true);
    const t = textOf(r);
    expect(t).toMatch(/^Error INVALID_ARGUMENT: create_study takes no argument 'n_trials' \(did you mean max_trials\?\), 'study_name' \(did you mean name\?\)/);
    expect(t).toContain("its arguments are name, direction,");
    expect(t).toMatch(/\nNext step: .*tools\/list/);
    expect((await call("list_studies", {})).structuredContent).toMatchObject({ shown: 0 });
  });

  it("name the argument of this tool: list_trials' state is states, wait_for_progress' timeout is timeout_s, describe_study's name is study", async () => {
    await call("create_study", { name: "s", space: SPACE });
    expect(textOf(await call("list_trials", { study: "s", state: ["COMPLETE"] }))).toContain("'state' (did you mean states?)");
    expect(textOf(await call("wait_for_progress", { study: "s", timeout: 1 }))).toContain("'timeout' (did you mean timeout_s?)");
    expect(textOf(await call("describe_study", { study: "s", name: "s" }))).toContain("'name' (did you mean study?)");
    // An argument no alias explains is still named, with the tool's arguments.
    expect(textOf(await call("update_study", { study: "s", direction: "maximize" }))).toMatch(
      /update_study takes no argument 'direction'; its arguments are study, scheduler, strategy, space, max_trials, notes/,
    );
  });
});

describe("create_study's direction", () => {
  it("is left to the stored study by load_if_exists without one, and refused when it disagrees with directions", async () => {
    await call("create_study", { name: "max", direction: "maximize", space: SPACE });
    const loaded = await call("create_study", { name: "max", load_if_exists: true });
    expect(loaded.isError, textOf(loaded)).toBeFalsy();
    expect(loaded.structuredContent).toMatchObject({ created: false, study: { direction: "maximize" } });
    const clash = await call("create_study", { name: "clash", direction: "maximize", directions: ["minimize"], space: SPACE });
    expect(clash.isError).toBe(true);
    expect(textOf(clash)).toContain(`direction 'maximize' disagrees with directions ["minimize"]`);
    expect((await call("create_study", { name: "min", space: SPACE })).structuredContent).toMatchObject({ study: { direction: "minimize" } });
  });
});

describe("a strategy or scheduler given as an object", () => {
  it("with its options beside the name instead of under options is refused, naming options, and creates nothing", async () => {
    const r = await call("create_study", { name: "p", space: SPACE, strategy: { name: "tpe", n_startup_trials: 5 } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain("a strategy is a name or {name, options}: put 'n_startup_trials' under options");
    expect(textOf(r)).toMatch(/\nNext step: Call list_strategies/);
    const s = await call("create_study", { name: "p", space: SPACE, scheduler: { name: "median", n_warmup_steps: 3 } });
    expect(textOf(s)).toContain("a scheduler is a name or {name, options}: put 'n_warmup_steps' under options");
    expect(textOf(await call("create_study", { name: "p", space: SPACE, strategy: 42 }))).toContain("a strategy is a name or {name, options}");
    expect((await call("list_studies", {})).structuredContent).toMatchObject({ shown: 0 });
    // Under options they are used.
    const ok = await call("create_study", { name: "p", space: SPACE, strategy: { name: "tpe", options: { n_startup_trials: 5 } } });
    expect((ok.structuredContent as { study: { strategy: { options: { n_startup_trials: number } } } }).study.strategy.options.n_startup_trials).toBe(5);
  });
});

describe("a server at its --max-studies", () => {
  it("create_study says so and how to make room, not that a trial is finished", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const capped = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, maxStudies: 1 });
    const small = await memoryMcp({ service: capped });
    try {
      const create = async (name: string) => (await small.client.callTool({ name: "create_study", arguments: { name, space: SPACE } })) as CallToolResult;
      expect((await create("one")).isError).toBeFalsy();
      const refused = await create("two");
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toMatch(/^Error FAILED_PRECONDITION: this server already holds 1 study, its limit.*\nNext step: .*delete_study.*--max-studies/s);
      expect(textOf(refused)).not.toContain("already finished");
    } finally {
      await small.close();
      await capped.close();
      storage.close();
    }
  });
});

describe("a trial at the server's --max-intermediate", () => {
  it("report_intermediate says so and what to do, not which argument to fix", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const capped = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, maxIntermediate: 2 });
    const small = await memoryMcp({ service: capped });
    try {
      const call = async (name: string, args: Record<string, unknown>) => (await small.client.callTool({ name, arguments: args })) as CallToolResult;
      await call("create_study", { name: "iv", space: SPACE });
      const { trial, token } = (await call("ask_trial", { study: "iv" })).structuredContent as { trial: number; token: string };
      for (const step of [1, 2]) expect((await call("report_intermediate", { study: "iv", trial, token, step, value: 0.5 })).isError).toBeFalsy();
      const refused = await call("report_intermediate", { study: "iv", trial, token, step: 3, value: 0.5 });
      expect(refused.isError).toBe(true);
      expect(textOf(refused)).toMatch(/^Error INVALID_ARGUMENT: trial 0 of 'iv' holds at most 2 intermediate values.*\nNext step: .*tell_trial.*every k-th step.*--max-intermediate/s);
    } finally {
      await small.close();
      await capped.close();
      storage.close();
    }
  });
});

describe("a study that hands out no trials says why", () => {
  it("a PBT population whose script keeps failing: the ask names the error and the way back, not a wider space", async () => {
    await call("create_study", { name: "f", space: SPACE, strategy: { name: "pbt", options: { population_size: 2, max_failures: 0 } } });
    for (let i = 0; i < 2; i++) {
      const { trial: { number: trial }, token } = (await call("ask_trial", { study: "f" })).structuredContent as { trial: { number: number }; token: string };
      await call("tell_trial", { study: "f", trial, token, state: "FAIL", reason: "ImportError: no module named torchh" });
    }
    const refused = textOf(await call("ask_trial", { study: "f" }));
    expect(refused).toMatch(/^Error SEARCH_SPACE_EXHAUSTED: every one of the 2 PBT member slots was given up.*ImportError: no module named torchh/);
    expect(refused).toMatch(/\nNext step: .*fix the training script.*enqueue_trial/);
    expect(refused).not.toContain("wider space");
  });

  it("a PBT population whose workers die without reporting: the next step says so (no error reached the server)", () => {
    const text = (lost: number) => {
      const c = errorResult(new TuneportError("SEARCH_SPACE_EXHAUSTED", "given up", { reason: "max_failures", lost_without_progress: lost })).content[0];
      return c && c.type === "text" ? c.text : "";
    };
    expect(text(4)).toMatch(/\nNext step: .*died without reporting further \(a crash, CUDA OOM or SIGKILL.*workers' logs.*fix the training script/);
    expect(text(0)).toMatch(/\nNext step: The population's trials kept failing \(the message names the last error\)/);
  });

  it("a PBT population whose slots are all taken by running members: wait for them, not a wider space", async () => {
    await call("create_study", { name: "full", space: SPACE, strategy: { name: "pbt", options: { population_size: 2 } } });
    for (let i = 0; i < 2; i++) await service.execute("ask", { study: "full" });
    const refused = textOf(await call("ask_trial", { study: "full" }));
    expect(refused).toMatch(/^Error SEARCH_SPACE_EXHAUSTED: every one of the 2 PBT members is running/);
    expect(refused).toMatch(/\nNext step: Every PBT member slot is taken: .*handed out again by a later ask_trial.*population_size/);
    expect(refused).not.toContain("wider space");
  });

  it("a PBT exploit of the agent's trial: report_intermediate says the new params and the checkpoint to load", async () => {
    await call("create_study", { name: "ex", space: SPACE, strategy: { name: "pbt", options: { population_size: 2, perturbation_interval: 1 } } });
    const w = await service.execute("ask", { study: "ex" });
    await service.execute("report", { study: "ex", trial: w.trial.number, token: w.lease.token, step: 1, value: 1, data: { checkpoint: "/ck/w-1.pt" } });
    const { trial: { number: trial }, token } = (await call("ask_trial", { study: "ex" })).structuredContent as { trial: { number: number }; token: string };
    const r = await call("report_intermediate", { study: "ex", trial, token, step: 1, value: 5 });
    // As the answer prints it (toPrecision(5) kept trailing zeros, 0.71220 for 0.7122: one run in ten failed).
    const x = fmt((r.structuredContent as { decision: { params: { x: number } } }).decision.params.x);
    expect(textOf(r)).toMatch(new RegExp(`^Recorded step 1 = 5; decision: update\\. Go on with \\{x=${x.replace(".", "\\.")}\\} \\(pbt exploit of trial ${w.trial.number}\\)\\.`));
    expect(textOf(r)).toContain(`restore: load checkpoint "/ck/w-1.pt" of trial ${w.trial.number} (step 1)`);
  });

  it("a spent max_trials budget: the ask's next step, study_summary, resume_study and an idle wait name update_study", async () => {
    await call("create_study", { name: "b", space: SPACE, max_trials: 1, strategy: "random" });
    const before = await call("study_summary", { study: "b" });
    expect(before.structuredContent).toMatchObject({ stopped: false, budget: { max_trials: 1, used: 0 } });
    expect(textOf(before)).toContain("Budget: 0 of max_trials 1 trial asked.");
    await evaluate("b", 0.5);

    const refused = textOf(await call("ask_trial", { study: "b" }));
    expect(refused).toMatch(/^Error STUDY_STOPPED: .*budget of 1 trial\nNext step: .*update_study/);
    const summary = await call("study_summary", { study: "b" });
    expect(summary.structuredContent).toMatchObject({ stopped: false, budget: { max_trials: 1, used: 1 } });
    expect(textOf(summary)).toContain("Budget spent: 1 of max_trials 1 trial asked; no trial is handed out until update_study raises max_trials");
    // Stopped too: raising the budget alone hands nothing out, and the line said only that.
    await call("stop_study", { study: "b" });
    expect(textOf(await call("study_summary", { study: "b" }))).toContain(
      "Budget spent: 1 of max_trials 1 trial asked; no trial is handed out until update_study raises max_trials (or sets it to null) and resume_study resumes the study.",
    );
    expect(textOf(await call("resume_study", { study: "b" }))).toContain("Its budget of max_trials 1 still applies");
    const idle = await call("wait_for_progress", { study: "b", timeout_s: 0 });
    expect(textOf(idle)).toContain("because the study's budget is spent (1 of max_trials 1 trial asked): raise it with update_study");
    expect(textOf(idle)).not.toContain("are workers connected");
    expect(textOf(await call("describe_study", { study: "b" }))).toContain("max_trials 1");

    // Raised, the study hands out trials again, and the idle wait goes back to asking about workers.
    await call("update_study", { study: "b", max_trials: 3 });
    expect(textOf(await call("wait_for_progress", { study: "b", timeout_s: 0 }))).toContain("are workers connected");
    await evaluate("b", 0.4);
    expect((await call("study_summary", { study: "b" })).structuredContent).toMatchObject({ budget: { max_trials: 3, used: 2 } });
  });

  it("a stopped study: study_summary, list_studies, describe_study and an idle wait say so and name resume_study", async () => {
    await call("create_study", { name: "st", space: SPACE, strategy: "random" });
    await evaluate("st", 0.5);
    await call("stop_study", { study: "st" });
    const summary = await call("study_summary", { study: "st" });
    expect(summary.structuredContent).toMatchObject({ stopped: true, budget: null });
    expect(textOf(summary)).toContain("Stopped (stop_study): no trial is handed out until resume_study");
    expect(textOf(await call("list_studies", {}))).toContain("STOPPED (resume_study hands out trials again)");
    expect(textOf(await call("describe_study", { study: "st" }))).toContain("STOPPED");
    const idle = textOf(await call("wait_for_progress", { study: "st", timeout_s: 0 }));
    expect(idle).toContain("because the study is stopped (stop_study): call resume_study");
    await call("resume_study", { study: "st" });
    const after = await call("study_summary", { study: "st" });
    expect(after.structuredContent).toMatchObject({ stopped: false });
    expect(textOf(after)).not.toContain("Stopped");
  });
});

describe("wait_for_progress on a study that can finish no more trials", () => {
  /**
   * Runs `step` as the tool first waits for a change, after it has read the counts it starts from:
   * a tell sent beside the call could land before that read (then the wait counted from after it).
   */
  const onceWaiting = (step: () => Promise<unknown>): void => {
    const { backend } = rig;
    const wait = backend.waitForChange.bind(backend);
    let next: (() => Promise<unknown>) | undefined = step;
    backend.waitForChange = (...args) => {
      const waiting = wait(...args);
      const run = next;
      next = undefined;
      void run?.();
      return waiting;
    };
  };

  it("returns when the last trial finishes under a spent budget, not at the timeout, and says why", async () => {
    await call("create_study", { name: "w", space: SPACE, max_trials: 1, strategy: "random" });
    const asked = await call("ask_trial", { study: "w" });
    const { trial: { number: trial }, token } = asked.structuredContent as { trial: { number: number }; token: string };
    // Waits for 5 finishes over at most 50 s; only one trial can ever finish (told once the wait has read its start).
    onceWaiting(() => call("tell_trial", { study: "w", trial, token, value: 0.3 }));
    const r = await call("wait_for_progress", { study: "w", min_finished: 5, timeout_s: 50 });
    expect(r.structuredContent).toMatchObject({ timed_out: false, stuck: true, finished: 1 });
    expect(textOf(r)).toMatch(/^No further progress possible \(waited [0-9.]+s\): 1 trial finished \(wanted 5\)/);
    expect(textOf(r)).toContain("because the study's budget is spent (1 of max_trials 1 trial asked)");
  });

  it("returns at once on a stopped study with nothing running, and waits while a trial still runs", async () => {
    await call("create_study", { name: "s", space: SPACE, strategy: "random" });
    const asked = await call("ask_trial", { study: "s" });
    const { trial: { number: trial }, token } = asked.structuredContent as { trial: { number: number }; token: string };
    await call("stop_study", { study: "s" });
    // The running trial can still finish: the wait waits for it (told once the wait has read its start).
    onceWaiting(() => call("tell_trial", { study: "s", trial, token, value: 0.3 }));
    const r = await call("wait_for_progress", { study: "s", min_finished: 2, timeout_s: 50 });
    expect(r.structuredContent).toMatchObject({ timed_out: false, stuck: true, finished: 1 });
    expect(textOf(r)).toContain("because the study is stopped (stop_study): call resume_study");
    const again = await call("wait_for_progress", { study: "s", timeout_s: 50 });
    expect(again.structuredContent).toMatchObject({ timed_out: false, stuck: true, finished: 0 });
  });
});

describe("a multi-objective study read with one-objective tools", () => {
  it("best_trials and list_trials by value name pareto_front instead of saying nothing completed; importances and the summary name both directions", async () => {
    await call("create_study", { name: "mo", directions: ["minimize", "maximize"], space: SPACE, strategy: "random" });
    for (const [i, v] of [[0.1, 0.2], [0.2, 0.5], [0.3, 0.1], [0.4, 0.9]].entries()) {
      const asked = await call("ask_trial", { study: "mo" });
      const { trial: { number: trial }, token } = asked.structuredContent as { trial: { number: number }; token: string };
      expect(trial).toBe(i);
      expect(textOf(asked)).toContain("this token and values: a list of 2 numbers, one per objective in this order (minimize, maximize).");
      await call("tell_trial", { study: "mo", trial, token, values: v });
    }
    for (const [tool, args] of [["best_trials", {}], ["list_trials", { sort: "value" }]] as const) {
      const r = await call(tool, { study: "mo", ...args });
      expect(r.isError, tool).toBe(true);
      expect(textOf(r)).toContain("study 'mo' has 2 objectives (minimize, maximize), so no trial has one value to rank by: call pareto_front");
    }
    // Listing by number still works.
    expect((await call("list_trials", { study: "mo" })).structuredContent).toMatchObject({ total: 4 });
    // Without objective: the importances of reaching the front (Optuna 5's default there), said so.
    const imp = textOf(await call("param_importances", { study: "mo" }));
    expect(imp).toMatch(/^Importances from 4 complete trials \(first-order variance share of reaching the Pareto front: /);
    expect(imp).toContain("Caveat: importances of reaching the Pareto front of the 2 objectives (minimize, maximize)");
    expect(imp).toContain("pass objective (0 to 1)");
    // One objective's importances, and an objective the study does not have, refused as over ZeroMQ.
    expect(textOf(await call("param_importances", { study: "mo", objective: 1 }))).toMatch(/^Importances of objective 1 from 4 complete trials/);
    const beyond = await call("param_importances", { study: "mo", objective: 2 });
    expect(beyond.isError).toBe(true);
    expect(textOf(beyond)).toContain("INVALID_ARGUMENT: objective 2 is out of range: study 'mo' has 2 objectives (0 to 1)");
    const summary = await call("study_summary", { study: "mo" });
    expect(textOf(summary)).toMatch(/^Study 'mo' \(minimize\/maximize\): 4 trials/);
    expect(summary.structuredContent).toMatchObject({ directions: ["minimize", "maximize"] });
    // A one-objective study with no completed trial still gets the plain answer.
    await call("create_study", { name: "one", space: SPACE });
    const empty = await call("best_trials", { study: "one" });
    expect(empty.isError).toBeFalsy();
    expect(textOf(empty)).toContain("has completed yet");
  });
});

describe("list_strategies", () => {
  it("lists every strategy and scheduler within the default budget, one sentence each; a name gives the whole description and a schema without ±2^53 bounds", async () => {
    const all = await call("list_strategies", {});
    const t = textOf(all);
    const { plugins } = (await service.execute("catalogue", {})) as { plugins: { kind: string; name: string }[] };
    for (const p of plugins) expect(t).toContain(`- ${p.kind} ${p.name}: `);
    expect(t).not.toContain("more: call with a larger max_chars");
    expect((all.structuredContent as { plugins: unknown[] }).plugins).toHaveLength(plugins.length);
    const gp = await call("list_strategies", { name: "gp" });
    expect(textOf(gp)).toContain("nStartupTrials");
    expect(textOf(gp)).toContain("Sample-efficient"); // the second sentence: the whole description
    expect(JSON.stringify(gp)).not.toContain("9007199254740991");
  });
});

describe("a proposed value the space does not hold", () => {
  it("says what is wrong with it: a string for a number, a fraction for an int, a value past a bound, a missing choice", async () => {
    await call("create_study", {
      name: "v",
      space: {
        lr: { type: "float", low: 1e-4, high: 0.1, log: true },
        hidden: { type: "int", low: 8, high: 64 },
        act: { type: "categorical", choices: ["relu", "tanh"] },
      },
    });
    const ok = { lr: 0.001, hidden: 32, act: "relu" };
    const refused = async (params: Record<string, unknown>) => {
      const r = await call("enqueue_trial", { study: "v", params: { ...ok, ...params }, rationale: "probe" });
      expect(r.isError).toBe(true);
      return textOf(r);
    };
    expect(await refused({ lr: "0.001" })).toContain(`enqueued value "0.001" for 'lr' is a string, not a number (float parameter)`);
    expect(await refused({ hidden: 32.5 })).toContain("enqueued value 32.5 for 'hidden' is not an integer (int parameter)");
    expect(await refused({ lr: 5 })).toContain("enqueued value 5 for 'lr' is outside [0.0001, 0.1]");
    expect(await refused({ act: "gelu" })).toContain(`enqueued value "gelu" for 'act' is not one of the choices ["relu","tanh"]`);
    const added = await call("add_trial", { study: "v", params: { ...ok, hidden: "32" }, value: 0.1 });
    expect(textOf(added)).toContain(`value "32" of 'hidden' is a string, not a number (int parameter)`);
  });
});

describe("best_trials in a constrained study", () => {
  it("ranks only the trials that satisfy their constraints (as the study's best trial), and says so when none does", async () => {
    await call("create_study", { name: "c", space: SPACE, strategy: "random" });
    for (const [value, c] of [[0.1, 1], [0.5, -1], [0.3, -0.5], [0.05, 0.2]] as const) {
      const asked = await call("ask_trial", { study: "c" });
      const { trial: { number: trial }, token } = asked.structuredContent as { trial: { number: number }; token: string };
      expect((await call("tell_trial", { study: "c", trial, token, value, constraints: [c] })).isError).toBeFalsy();
    }
    const best = await call("best_trials", { study: "c", k: 5 });
    expect((best.structuredContent as { trials: { number: number }[] }).trials.map((t) => t.number)).toEqual([2, 1]);
    expect(textOf(best)).toMatch(/^The 2 best trials of 2 feasible complete:/);
    expect((await service.execute("best", { study: "c" })) as { trial: { number: number } }).toMatchObject({ trial: { number: 2 } });
    // list_trials by value still lists every trial, each marked.
    const all = await call("list_trials", { study: "c", sort: "value" });
    expect((all.structuredContent as { trials: { number: number }[] }).trials.map((t) => t.number)).toEqual([3, 0, 2, 1]);
    expect(textOf(all)).toContain("(infeasible)");
    // The op's filter, both ways; a cursor keeps its filter.
    const bad = (await service.execute("trials", { study: "c", feasible: false, order_by: "value", limit: 1 })) as { trials: { number: number }[]; total: number; next_cursor: string };
    expect([bad.trials.map((t) => t.number), bad.total]).toEqual([[3], 2]);
    await expect(service.execute("trials", { study: "c", order_by: "value", cursor: bad.next_cursor })).rejects.toThrow(/cursor was made for order_by value, ascending, any state, feasible false, and this call asks for order_by value, ascending, any state: /);
    const next = (await service.execute("trials", { study: "c", feasible: false, order_by: "value", cursor: bad.next_cursor })) as { trials: { number: number }[] };
    expect(next.trials.map((t) => t.number)).toEqual([0]);

    await call("create_study", { name: "none", space: SPACE, strategy: "random" });
    const asked = await call("ask_trial", { study: "none" });
    const { trial: { number: trial }, token } = asked.structuredContent as { trial: { number: number }; token: string };
    await call("tell_trial", { study: "none", trial, token, value: 0.2, constraints: [3] });
    const r = await call("best_trials", { study: "none" });
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toBe("No trial of 'none' is feasible yet: its COMPLETE trial violates a constraint (list_trials shows them).");
  });
});

describe("a refusal of the service", () => {
  it("names the tool the agent called, not the op behind it", async () => {
    await call("create_study", { name: "l", space: SPACE });
    const r = await call("ask_trial", { study: "l", lease_ttl_s: 0.5 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^Error INVALID_ARGUMENT: ask_trial: lease_ttl_s/);
    // Through the op directly, the op's name.
    await expect(service.execute("ask", { study: "l", lease_ttl_s: 0.5 })).rejects.toThrow(/^ask: lease_ttl_s/);
  });
});

describe("a plot kind by its short name", () => {
  it("draws as the CLI, the ZeroMQ op and study.plot draw it: plot kind 'parallel' and 'intermediate' (the README's names) were refused by the tool's enum", async () => {
    await call("create_study", { name: "p", space: SPACE });
    for (const value of [0.3, 0.1, 0.2]) {
      const asked = await call("ask_trial", { study: "p" });
      const { trial: { number: trial }, token } = asked.structuredContent as { trial: { number: number }; token: string };
      expect((await call("report_intermediate", { study: "p", trial, token, step: 1, value })).isError).toBeFalsy();
      expect((await call("tell_trial", { study: "p", trial, token, value })).isError).toBeFalsy();
    }
    for (const [kind, canonical] of [["parallel", "parallel_coordinates"], ["intermediate", "intermediate_values"], ["slice", "slice"]]) {
      const r = await call("plot", { study: "p", kind });
      expect(r.isError, textOf(r)).toBeFalsy();
      expect(r.content.some((c) => c.type === "image" && c.mimeType === "image/png")).toBe(true);
      expect(r.structuredContent).toMatchObject({ study: "p", kind: canonical });
    }
  });
});
