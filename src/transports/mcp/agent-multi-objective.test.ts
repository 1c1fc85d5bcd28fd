/**
 * An agent on a multi-objective study with constraints, through the real SDK client (review of
 * 2026-12-04): the trials that pareto_front and wait_for_progress list show their params whole
 * (a small space), in the text and in structuredContent alike.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StudyService } from "../../service/study-service.js";
import { type McpSession, openMcpSession, structuredOf, textOf } from "../../testing/mcp-session.js";
import { overBudgetResult } from "./budget.js";

let session: McpSession;
let service: StudyService;

beforeEach(async () => {
  session = await openMcpSession("multi-objective");
  ({ service } = session);
});

afterEach(() => session.close());

const call = (name: string, args: Record<string, unknown>) => session.call(name, args);
const sc = structuredOf;

/** A two-objective study with one constraint and three trials on its front (numbers 0, 1, 2). */
async function frontOfThree(): Promise<void> {
  const space = { x: { type: "float", low: 0, high: 2 }, y: { type: "float", low: 0, high: 2 }, z: { type: "int", low: 1, high: 9 } };
  expect((await call("create_study", { name: "mo", directions: ["minimize", "minimize"], space, strategy: "random" })).isError).toBeFalsy();
  const points: [number, number, number, number[]][] = [[0.5, 0.5, 3, [0.5, 0.5]], [0.1, 0.9, 4, [0.2, 1.6]], [0.9, 0.1, 5, [1.6, 0.2]]];
  for (const [x, y, z, values] of points) {
    const r = await call("add_trial", { study: "mo", params: { x, y, z }, values, constraints: [x + y - 1.5] });
    expect(r.isError, textOf(r)).toBeFalsy();
  }
}

describe("trials listed by pareto_front and wait_for_progress", () => {
  it("pareto_front shows every trial's params whole, the first and the third alike", async () => {
    await frontOfThree();
    const r = await call("pareto_front", { study: "mo" });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(sc(r).front.map((t: any) => t.number)).toEqual([0, 1, 2]);
    for (const t of sc(r).front) {
      expect(Object.keys(t.params)).toEqual(["x", "y", "z"]);
      expect(t.params_left_out).toBeUndefined();
    }
    expect(textOf(r)).toContain("#0 COMPLETE  values=[0.5, 0.5]  constraints=[-0.5] (feasible)  {x=0.5, y=0.5, z=3}");
    expect(textOf(r)).toContain("{x=0.9, y=0.1, z=5}");
    expect(textOf(r)).not.toContain("more parameters");
  });

  it("wait_for_progress shows the new trials' params whole", async () => {
    await frontOfThree();
    // min_finished counts trials evaluated since the call (an add_trial result is not one); three
    // were recorded before it, so evaluate one more and tell it while the call waits.
    expect((await call("enqueue_trial", { study: "mo", params: { x: 0.3, y: 0.3, z: 7 }, rationale: "between the two ends" })).isError).toBeFalsy();
    const asked = sc(await call("ask_trial", { study: "mo" }));
    // Told once the wait waits (a tell sent beside the call could land before the wait read its
    // baseline, on a busy machine, and the wait then waited for one more that never came).
    const wait = service.waitForChange.bind(service);
    let told: Promise<CallToolResult> | null = null;
    service.waitForChange = ((...args: Parameters<typeof wait>) => {
      const waiting = wait(...args);
      told ??= call("tell_trial", { study: "mo", trial: asked.trial.number, token: asked.token, values: [0.3, 0.3], constraints: [-0.9] });
      return waiting;
    }) as typeof service.waitForChange;
    const r = await call("wait_for_progress", { study: "mo", min_finished: 1, timeout_s: 30 });
    expect(told).not.toBeNull();
    const t = await (told as unknown as Promise<CallToolResult>);
    expect(t.isError, textOf(t)).toBeFalsy();
    expect(r.isError, textOf(r)).toBeFalsy();
    const shown = sc(r).new_trials as any[];
    expect(shown.length).toBeGreaterThan(0);
    for (const t of shown) expect(Object.keys(t.params)).toEqual(["x", "y", "z"]);
    expect(textOf(r)).toContain("{x=0.3, y=0.3, z=7}");
    expect(textOf(r)).not.toContain("more parameters");
  });
});

describe("a single-value read of a multi-objective study", () => {
  it("best_trials names pareto_front as the next step, not an argument to fix", async () => {
    await frontOfThree();
    const r = await call("best_trials", { study: "mo" });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^Error INVALID_ARGUMENT: /);
    expect(textOf(r)).toContain("Next step: Nothing to fix in the arguments: call pareto_front");
  });
});

describe("the code of an error, for programs", () => {
  it("every isError result carries _meta['tuneport/error'] with its code and retry meaning, and no structuredContent", async () => {
    await frontOfThree();
    const cases: [string, Record<string, unknown>, string, string][] = [
      ["add_trial", { study: "mo", params: { x: 0.2, y: 0.2, z: 2 }, values: [1, 2, 3] }, "INVALID_ARGUMENT", "fix-input"],
      ["create_study", { name: "bad", direction: "min" }, "INVALID_ARGUMENT", "fix-input"],
      ["get_trial", { study: "mo", trial: 9999 }, "NOT_FOUND", "fix-input"],
      ["pareto_front", { study: "deleted" }, "NOT_FOUND", "fix-input"],
    ];
    for (const [tool, args, code, retry] of cases) {
      const r = await call(tool, args);
      expect(r.isError, tool).toBe(true);
      expect(textOf(r)).toMatch(new RegExp(`^Error ${code}: `));
      expect(r._meta?.["tuneport/error"], tool).toMatchObject({ code, retry });
      expect(r.structuredContent, tool).toBeUndefined();
    }
    expect((await call("stop_study", { study: "mo" })).isError).toBeFalsy();
    const stopped = await call("ask_trial", { study: "mo" });
    expect(stopped._meta?.["tuneport/error"]).toMatchObject({ code: "STUDY_STOPPED", retry: "give-up", data: { reason: "stopped" } });
    // delete_study without confirm (a refusal of the tool's own, with its structured answer).
    const unconfirmed = await call("delete_study", { study: "mo" });
    expect([unconfirmed.isError, unconfirmed._meta?.["tuneport/error"]]).toMatchObject([true, { code: "INVALID_ARGUMENT", retry: "fix-input" }]);
    // The over-budget answer of a read (its code is the adapter's own, not a wire code).
    expect(overBudgetResult("list_trials", 5000, 2000, ["limit", "max_chars"])._meta?.["tuneport/error"]).toMatchObject({ code: "RESULT_TOO_LARGE", retry: "fix-input" });
  });
});

describe("the hypervolume that wait_for_progress reports", () => {
  it("names its reference point, and says a derived one moves with the front", async () => {
    await frontOfThree();
    const first = await call("wait_for_progress", { study: "mo", timeout_s: 0 });
    // Front values span [0.2, 1.6] on both objectives: the derived point is 1.6 + 0.14 each.
    expect(textOf(first)).toContain("Pareto front: 3 trials, hypervolume ");
    expect(textOf(first)).toContain(" at [1.74, 1.74] (derived from the current front, so not comparable with earlier calls' values; pareto_front with history: true compares them)");
    expect(sc(first).reference_point).toEqual([1.74, 1.74].map((v) => expect.closeTo(v, 9)));
    expect(sc(first).reference_point_source).toBe("derived");
    // A trial that widens the front moves the derived point: the number alone would mislead.
    expect((await call("add_trial", { study: "mo", params: { x: 0, y: 0, z: 1 }, values: [0, 3], constraints: [-1.5] })).isError).toBeFalsy();
    const second = await call("wait_for_progress", { study: "mo", timeout_s: 0 });
    expect(textOf(second)).toContain(" at [1.76, 3.28] (derived from the current front");
    // study_summary says the same of its hypervolume (it wrote only "(derived)").
    expect(textOf(await call("study_summary", { study: "mo" }))).toMatch(/hypervolume \S+ at \[1\.76, 3\.28\] \(derived from the current front, which moves it: compare values over time with pareto_front's history\)/);
  });
});

describe("pareto_front's refusals and overflow, as an agent reads them", () => {
  it("names pareto_front (the tool called), not the best_trials op, when the cursor is not its own", async () => {
    await frontOfThree();
    const r = await call("pareto_front", { study: "mo", cursor: "not-a-cursor" });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain("cursor is not a pareto_front cursor");
    const listed = await call("list_trials", { study: "mo", cursor: "not-a-cursor" });
    expect(textOf(listed)).toContain("cursor is not a list_trials cursor");
  });

  it("says an overflowing hypervolume overflowed, in the text and the structured content alike", async () => {
    await frontOfThree();
    const r = await call("pareto_front", { study: "mo", reference_point: [1e200, 1e200], history: true });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(textOf(r)).toContain("hypervolume overflowed (too large for a 64-bit float");
    expect(textOf(r)).not.toContain("Infinity");
    expect(sc(r).hypervolume).toBeNull();
    expect(sc(r).hypervolume_overflowed).toBe(true);
    expect((sc(r).history as [number, number | null][]).every(([, hv]) => hv === null)).toBe(true);
  });
});

describe("a hypervolume that is not a number", () => {
  it("study_summary flags one that overflowed in its structured content, as pareto_front does", async () => {
    const space = { x: { type: "float", low: 0, high: 2 } };
    expect((await call("create_study", { name: "far", directions: ["minimize", "minimize"], space, strategy: "random", reference_point: [1e200, 1e200] })).isError).toBeFalsy();
    expect((await call("add_trial", { study: "far", params: { x: 1 }, values: [1, 1] })).isError).toBeFalsy();
    const r = await call("study_summary", { study: "far" });
    expect(textOf(r)).toContain("hypervolume overflowed (too large for a 64-bit float");
    const front = sc(r).front as Record<string, unknown>;
    expect(front.hypervolume).toBeNull();
    expect(front.hypervolume_overflowed).toBe(true);
  });

  it("wait_for_progress says there is no front yet rather than a hypervolume of 0", async () => {
    const space = { x: { type: "float", low: 0, high: 2 } };
    expect((await call("create_study", { name: "none", directions: ["minimize", "maximize"], space, strategy: "random" })).isError).toBeFalsy();
    // Complete but infeasible: no front.
    expect((await call("add_trial", { study: "none", params: { x: 1 }, values: [1, 1], constraints: [1] })).isError).toBeFalsy();
    const r = await call("wait_for_progress", { study: "none", timeout_s: 0 });
    expect(textOf(r)).toContain("No feasible trial has completed yet, so there is no Pareto front (1 complete).");
    expect(textOf(r)).not.toMatch(/hypervolume 0\b/);
    expect(sc(r).front_size).toBe(0);
    expect(sc(r).hypervolume).toBeNull();
  });
});
