/**
 * An agent's review of the MCP surface (2026-12-04, second pass), each through the real SDK client:
 * - param_importances of a wide study fits its budget (a prefix, the rest counted) and takes
 *   max_chars (it answered RESULT_TOO_LARGE and pointed at list_trials, which has no importances);
 * - update_study of a wide study answers within the budget (it echoed the whole space for a notes
 *   change: 14,000 characters) and says "trials asked from now on use it" only of what shapes them;
 * - get_trial of a wide study of categoricals leaves out the distributions (describe_study has them)
 *   rather than answering RESULT_TOO_LARGE;
 * - tell_trial with the token of another trial the agent holds names that trial, instead of telling
 *   it to give up and ask a new one (which stranded the live one);
 * - tell_trial refuses a reason on COMPLETE/PRUNED (the op drops it) instead of dropping it;
 * - the next step of a refusal about the study's state points at waiting, not at the arguments or
 *   at list_studies (plot without results, get_lineage without results, an unknown plug-in name);
 * - a refusal that is not about parameters does not send the agent to the search space (one value
 *   told to a two-objective study, best_trials of one).
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StudyService } from "../../service/study-service.js";
import { type MemoryMcp, memoryMcp } from "../../testing/mcp-memory.js";
import { DEFAULT_MAX_CHARS, resultChars } from "./budget.js";
import { textOf } from "../../testing/mcp-session.js";

let rig: MemoryMcp;
let service: StudyService;

beforeEach(async () => {
  rig = await memoryMcp();
  service = rig.service;
});

afterEach(async () => {
  await rig.close();
});

const call = async (name: string, args: Record<string, unknown>) => (await rig.client.callTool({ name, arguments: args })) as CallToolResult;
const sc = (r: CallToolResult) => r.structuredContent as Record<string, any>;

/** A space of `n` parameters with long dotted names, as a transformer's per-block scales. */
const wideSpace = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`block${String(i).padStart(3, "0")}.attention.lr_scale`, { type: "float", low: 0.001, high: 10, log: true }]));

describe("wide studies within the budget", () => {
  it("param_importances lists the most important parameters that fit, counts the rest, and takes max_chars", async () => {
    const n = 150;
    await service.execute("create_study", { name: "wide", space: wideSpace(n), strategy: "random", seed: 3 });
    for (let i = 0; i < 12; i++) {
      const { trial, lease } = await service.execute("ask", { study: "wide" });
      const p = trial.params as Record<string, number>;
      await service.execute("tell", { study: "wide", trial: trial.number, token: lease.token, state: "COMPLETE", value: p["block000.attention.lr_scale"] ?? 0 });
    }
    const r = await call("param_importances", { study: "wide" });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(resultChars(r)).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
    expect(sc(r).params_total).toBe(n);
    expect(sc(r).importances.length).toBeGreaterThan(0);
    expect(sc(r).importances.length).toBeLessThan(n);
    expect(textOf(r)).toMatch(new RegExp(`${n - sc(r).importances.length} less important parameters not shown .*larger max_chars`));

    const all = await call("param_importances", { study: "wide", max_chars: 60_000 });
    expect(all.isError, textOf(all)).toBeFalsy();
    expect(sc(all).importances).toHaveLength(n);
    expect(textOf(all)).not.toMatch(/not shown/);
  });

  it("update_study of a wide study answers within the budget and echoes the space only when it changed", async () => {
    await service.execute("create_study", { name: "wide", space: wideSpace(300), strategy: "random" });
    const notes = await call("update_study", { study: "wide", notes: "relaxed the pruner", max_trials: 50 });
    expect(notes.isError, textOf(notes)).toBeFalsy();
    expect(resultChars(notes)).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
    expect(sc(notes).study.space).toBeUndefined();
    expect(sc(notes).changed).toEqual(expect.arrayContaining(["notes", "max_trials"]));
    expect(textOf(notes)).not.toContain("trials asked from now on");

    const sched = await call("update_study", { study: "wide", scheduler: "median" });
    expect(textOf(sched)).toContain("trials asked from now on use it");
    const wider = await call("update_study", { study: "wide", space: { "block000.attention.lr_scale": { type: "float", low: 0.0001, high: 10, log: true } } });
    expect(wider.isError, textOf(wider)).toBeFalsy();
    expect(sc(wider).study.space["block000.attention.lr_scale"].low).toBe(0.0001);
  });
});

describe("get_trial of a wide study", () => {
  it("leaves out the distributions when they do not fit, and shows them with a larger max_chars", async () => {
    const choices = Array.from({ length: 25 }, (_, j) => `activation_variant_${j}`);
    const space = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`layer${i}.act`, { type: "categorical", choices }]));
    await service.execute("create_study", { name: "cats", space, strategy: "random" });
    const { trial, lease } = await service.execute("ask", { study: "cats" });
    for (let step = 0; step < 50; step++) await service.execute("report", { study: "cats", trial: trial.number, token: lease.token, step, value: 1 / (step + 1) });
    await service.execute("tell", { study: "cats", trial: trial.number, token: lease.token, state: "COMPLETE", value: 0.02 });

    const r = await call("get_trial", { study: "cats", trial: trial.number });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(resultChars(r)).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
    expect(sc(r).trial.distributions).toBeUndefined();
    expect(sc(r).distributions_left_out).toBe(30);
    expect(sc(r).intermediate_shown).toBe(50);
    expect(textOf(r)).toContain("distributions: left out to fit this call's budget");

    const whole = await call("get_trial", { study: "cats", trial: trial.number, max_chars: 60_000 });
    expect(Object.keys(sc(whole).trial.distributions)).toHaveLength(30);
    expect(textOf(whole)).not.toContain("left out");
  });
});

describe("an agent holding two trials", () => {
  it("tell_trial with the other trial's token names the trial the token leases, and that trial lives on", async () => {
    await service.execute("create_study", { name: "two", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const a = sc(await call("ask_trial", { study: "two" }));
    const b = sc(await call("ask_trial", { study: "two" }));
    const wrong = await call("tell_trial", { study: "two", trial: a.trial.number, token: b.token, value: 1 });
    expect(wrong.isError).toBe(true);
    expect(textOf(wrong)).toContain("LEASE_LOST");
    expect(textOf(wrong)).toContain(`the lease of trial ${b.trial.number}`);
    expect(textOf(wrong)).toMatch(new RegExp(`Next step: .*call again with trial ${b.trial.number}`));
    expect(textOf(wrong)).not.toContain("call ask_trial for a new trial");

    // A token that leases nothing: still LEASE_LOST, and the next step does not tell the agent to drop its trials.
    const typo = await call("tell_trial", { study: "two", trial: a.trial.number, token: "not-a-token", value: 1 });
    expect(textOf(typo)).toContain("LEASE_LOST");
    expect(textOf(typo)).toMatch(/Next step: Nothing was recorded: .*Pass the trial number and token that ask_trial returned together/);

    for (const t of [a, b]) {
      const told = await call("tell_trial", { study: "two", trial: t.trial.number, token: t.token, value: 1 });
      expect(told.isError, textOf(told)).toBeFalsy();
    }
  });

  it("tell_trial refuses a reason with COMPLETE or PRUNED instead of dropping it", async () => {
    await service.execute("create_study", { name: "r", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const t = sc(await call("ask_trial", { study: "r" }));
    for (const state of ["COMPLETE", "PRUNED"]) {
      const r = await call("tell_trial", { study: "r", trial: t.trial.number, token: t.token, state, value: 1, reason: "converged" });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(new RegExp(`INVALID_ARGUMENT: tell_trial: reason is kept only with state FAIL .*not ${state}`));
    }
    const { trial } = await service.execute("trial", { study: "r", trial: t.trial.number });
    expect(trial.state).toBe("RUNNING");
  });
});

describe("next steps of refusals about the study's state", () => {
  it("plot and get_lineage without results say to wait; an unknown plug-in name points at list_strategies", async () => {
    await service.execute("create_study", { name: "empty", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "pbt" });
    const plot = textOf(await call("plot", { study: "empty" }));
    expect(plot).toMatch(/Next step: .*wait_for_progress/);
    expect(plot).not.toContain("search space");
    const lineage = textOf(await call("get_lineage", { study: "empty" }));
    expect(lineage).toContain("NOT_FOUND");
    expect(lineage).toMatch(/Next step: .*wait_for_progress/);
    expect(lineage).not.toContain("list_studies");
    expect(lineage).not.toContain("keeps no lineage");
    // A strategy that keeps none says so at once, not after the agent has waited for results.
    await service.execute("create_study", { name: "plain", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const plain = textOf(await call("get_lineage", { study: "plain" }));
    expect(plain).toMatch(/NOT_FOUND.*keeps no lineage \(only pbt and pb2/);
    expect(plain).toMatch(/Next step: No lineage will come of this study's strategy: get_trial/);
    const plugin = textOf(await call("list_strategies", { name: "tpee" }));
    expect(plugin).toMatch(/Next step: Call list_strategies/);
    expect(plugin).not.toContain("search space");
  });
});

describe("next steps of refused arguments", () => {
  it("point at the search space only when the refusal is about parameters", async () => {
    await service.execute("create_study", { name: "mo", space: { x: { type: "float", low: 0, high: 1 } }, directions: ["minimize", "maximize"], strategy: "random" });
    const t = sc(await call("ask_trial", { study: "mo" }));
    const one = textOf(await call("tell_trial", { study: "mo", trial: t.trial.number, token: t.token, value: 1 }));
    expect(one).toContain("INVALID_ARGUMENT");
    expect(one).not.toContain("search space");
    const best = textOf(await call("best_trials", { study: "mo" }));
    expect(best).toContain("pareto_front");
    expect(best).not.toContain("search space");
    const outside = textOf(await call("enqueue_trial", { study: "mo", params: { x: 2 }, rationale: "r" }));
    expect(outside).toMatch(/Next step: .*describe_study shows the study's search space/);
  });
});

describe("update_study's max_trials beside workers", () => {
  it("says when the new budget is already spent (workers' loops end) and that raising it does not restart ended loops", async () => {
    await call("create_study", { name: "b", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", max_trials: 5 });
    for (let i = 0; i < 3; i++) {
      const a = await service.ask({ study: "b" });
      await service.tell({ study: "b", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i });
    }
    // Before: "max_trials: 2", with nothing to say that no trial will be handed out any more.
    const lowered = await call("update_study", { study: "b", max_trials: 2 });
    expect(textOf(lowered)).toMatch(/max_trials: 2 \(already spent: 3 trials asked\)\. No trial is handed out; workers' loops end at their next ask/);
    const raised = await call("update_study", { study: "b", max_trials: 10 });
    expect(textOf(raised)).toMatch(/max_trials: 10 \(3 used\)\. Workers whose loops ended on a spent budget must be started again\./);
    expect(textOf(await call("update_study", { study: "b", max_trials: null }))).toMatch(/max_trials: none\. Workers whose loops ended/);
  });
});

describe("enqueue_trial on a study that hands out no trials", () => {
  it("says the proposal waits for resume_study on a stopped study, and for a raised budget on a spent one", async () => {
    await call("create_study", { name: "q", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", max_trials: 1 });
    await call("stop_study", { study: "q" });
    // Before: "It will be evaluated before the strategy's own suggestions." and nothing else.
    expect(textOf(await call("enqueue_trial", { study: "q", params: { x: 0.1 }, rationale: "r" }))).toMatch(/The study is stopped: no worker gets it until resume_study\./);
    await call("resume_study", { study: "q" });
    const a = await service.ask({ study: "q" });
    await service.tell({ study: "q", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 });
    const spent = textOf(await call("enqueue_trial", { study: "q", params: { x: 0.2 }, rationale: "r" }));
    expect(spent).toMatch(/max_trials budget is spent \(1 of 1\): no worker gets it until update_study raises max_trials\./);
    await call("update_study", { study: "q", max_trials: 5 });
    expect(textOf(await call("enqueue_trial", { study: "q", params: { x: 0.3 }, rationale: "r" }))).not.toMatch(/no worker gets it/);
  });
});
