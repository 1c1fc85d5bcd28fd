/**
 * What the agent's-eye audit of 2026-12-06 left open, driven through the SDK's real Client: the
 * shape of ask_trial's answer beside the other tools'.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type McpSession, openMcpSession, structuredOf, textOf } from "../../testing/mcp-session.js";

let session: McpSession;

beforeEach(async () => {
  session = await openMcpSession("audit-followups");
});

afterEach(() => session.close());

const call = async (name: string, args: Record<string, unknown>) => {
  const r = await session.call(name, args);
  expect(r.isError, textOf(r)).toBeFalsy();
  return r;
};

describe("ask_trial's answer", () => {
  it("gives the trial as an object under trial (number, state, params), as get_trial and enqueue_trial do, and tell_trial takes it", async () => {
    await call("create_study", { name: "s", direction: "minimize", space: { x: { type: "float", low: 0, high: 1 } } });
    const asked = structuredOf(await call("ask_trial", { study: "s" }));
    const got = structuredOf(await call("get_trial", { study: "s", trial: asked.trial.number })).trial;
    expect(asked.trial).toEqual({ number: got.number, state: "RUNNING", params: got.params });
    expect(structuredOf(await call("enqueue_trial", { study: "s", params: { x: 0.5 }, rationale: "r" })).trial).toMatchObject({ number: 1, state: "WAITING" });
    // An agent passing the answer's trial on, as it gets it, has it recorded.
    const told = structuredOf(await call("tell_trial", { study: "s", trial: asked.trial, token: asked.token, value: 0.25 }));
    expect(told.trial).toMatchObject({ number: asked.trial.number, state: "COMPLETE", value: 0.25 });
  });

  it("refuses a trial object without an integer number, saying what trial takes (not 'expected number, received object' alone)", async () => {
    await call("create_study", { name: "s", direction: "minimize", space: { x: { type: "float", low: 0, high: 1 } } });
    await call("ask_trial", { study: "s" });
    for (const trial of [{ number: "0" }, { number: 0.5 }, { state: "RUNNING" }]) {
      const r = await session.call("get_trial", { study: "s", trial });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toContain("INVALID_ARGUMENT");
      expect(textOf(r)).toContain("'number' must be an integer");
    }
    expect(textOf(await session.call("get_trial", { study: "s", trial: [0] }))).toContain("trial takes one trial");
    expect(textOf(await session.call("get_trial", { study: "s", trial: { number: -1 } }))).toContain("expected number to be >=0");
  });
});

describe("enqueue_trial on a define-by-run study", () => {
  it("queues a name never suggested with a warning naming it; a first proposal on an empty study has none", async () => {
    await call("create_study", { name: "dbr", direction: "minimize" });
    const first = await call("enqueue_trial", { study: "dbr", params: { lr: 0.01 }, rationale: "a first guess" });
    expect(textOf(first)).not.toContain("Warning");
    expect(structuredOf(first)).not.toHaveProperty("unseen_params");
    const t = structuredOf(await call("ask_trial", { study: "dbr" }));
    await call("suggest", { study: "dbr", trial: t.trial.number, token: t.token, name: "lr", distribution: { type: "float", low: 1e-5, high: 1, log: true } });
    await call("tell_trial", { study: "dbr", trial: t.trial.number, token: t.token, value: 1 });

    const typo = await call("enqueue_trial", { study: "dbr", params: { lrr: 0.02, lr: 0.03 }, rationale: "a typo" });
    expect(structuredOf(typo)).toMatchObject({ created: true, unseen_params: ["lrr"] });
    expect(textOf(typo)).toContain("Warning: 'lrr' never suggested in this study (a typo?; the names so far: lr)");
    const known = await call("enqueue_trial", { study: "dbr", params: { lr: 0.04 }, rationale: "known" });
    expect(textOf(known)).not.toContain("Warning");
  });
});

describe("plot's params on a kind that draws no parameter", () => {
  it("is refused with the kinds that take it (pareto_front dropped it without a word), and taken by those kinds", async () => {
    await call("create_study", { name: "mo", directions: ["minimize", "minimize"], space: { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } } });
    for (const [x, y] of [[0.1, 0.9], [0.5, 0.5], [0.9, 0.2]]) await call("add_trial", { study: "mo", params: { x, y }, values: [x, y] });
    for (const kind of ["pareto_front", "hypervolume_history", "intermediate_values"]) {
      const r = await session.call("plot", { study: "mo", kind, params: ["x"] });
      expect(r.isError, kind).toBe(true);
      expect(textOf(r)).toContain("Next step: Call plot again without params");
      expect(textOf(r)).toContain(`INVALID_ARGUMENT: ${kind === "intermediate_values" ? "an" : "a"} ${kind} plot draws no parameter axes, so it takes no params (they pick the parameters of parallel_coordinates, slice, contour)`);
    }
    const front = await call("plot", { study: "mo", kind: "pareto_front" });
    expect(front.content.some((c) => c.type === "image")).toBe(true);
    await call("create_study", { name: "one", direction: "minimize", space: { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } } });
    for (const x of [0.1, 0.5, 0.9]) await call("add_trial", { study: "one", params: { x, y: 1 - x }, value: x });
    expect(textOf(await session.call("plot", { study: "one", kind: "history", params: ["x"] }))).toContain("takes no params");
    expect(textOf(await call("plot", { study: "one", kind: "slice", params: ["y"] }))).toContain("y");
    const logY = textOf(await session.call("plot", { study: "mo", kind: "pareto_front", log_y: true }));
    expect(logY).toContain("INVALID_ARGUMENT: a pareto_front plot has no objective axis that log_y could put on a log scale");
    expect(logY).toContain("Next step: Call plot again without log_y");
  });
});

describe("counts in answers", () => {
  it("say 1 trial, not 1 trials (and keep the plural for 0 and more)", async () => {
    await call("create_study", { name: "s", direction: "minimize", space: { x: { type: "float", low: 0, high: 1 } }, max_trials: 1 });
    const t = structuredOf(await call("ask_trial", { study: "s" }));
    await call("report_intermediate", { study: "s", trial: t.trial.number, token: t.token, step: 1, value: 0.5 });
    await call("tell_trial", { study: "s", trial: t.trial.number, token: t.token, value: 0.5 });
    const texts = [
      textOf(await call("list_studies", {})),
      textOf(await call("list_trials", { study: "s" })),
      textOf(await call("study_summary", { study: "s" })),
      textOf(await call("describe_study", { study: "s" })),
      textOf(await call("wait_for_progress", { study: "s", timeout_s: 0 })),
    ].join("\n");
    for (const wrong of [/\b1 trials\b/, /\b1 reports\b/, /\b1 completed trials\b/, /trial\(s\)/]) expect(texts).not.toMatch(wrong);
    expect(texts).toContain("s: minimize, strategy auto, 1 trial (1 complete");
    expect(texts).toContain("1 of 1 trial, oldest first:");
    expect(texts).toContain("Study 's' (minimize): 1 trial — 1 complete");
    expect(texts).toContain("Budget spent: 1 of max_trials 1 trial asked");
    expect(texts).toContain("1 report, last step 1=0.5");
    expect(texts).toContain("0 trials finished");
    expect(textOf(await session.call("ask_trial", { study: "s" }))).toContain("has used its budget of 1 trial");
    // A plot's caption counts the same way (the history of one trial was of "1 complete trials").
    expect(textOf(await call("plot", { study: "s", kind: "history" }))).toContain("Optimization history of 's': 1 complete trial (dots;");
    expect(textOf(await call("plot", { study: "s", kind: "slice" }))).toContain("the objective of 1 complete trial against its 1 parameter");
    expect(textOf(await session.call("delete_study", { study: "s" }))).toContain("permanently removes its 1 trial (");
  });
});
