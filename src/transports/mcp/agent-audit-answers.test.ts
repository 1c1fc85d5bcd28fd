/**
 * Answers an agent acts on, found by an agent's-eye audit through the SDK client (2026-12-06):
 * ask_trial on a define-by-run study says to draw the parameters with suggest (it said "evaluate
 * these parameters" of an empty {}), add_trial says whether a constrained result is feasible
 * (tell_trial did, add_trial dropped the constraints), and pareto_front with no feasible trial says
 * how many are infeasible and what to do next.
 */
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type McpSession, openMcpSession, structuredOf, textOf } from "../../testing/mcp-session.js";

let session: McpSession;

beforeEach(async () => {
  session = await openMcpSession("audit-answers");
});

afterEach(() => session.close());

const call = async (name: string, args: Record<string, unknown>) => {
  const r = await session.call(name, args);
  expect(r.isError, textOf(r)).toBeFalsy();
  return r;
};

describe("ask_trial on a define-by-run study", () => {
  it("points at suggest when the study declares no parameters, before and after the first trial", async () => {
    await call("create_study", { name: "dbr", direction: "minimize" });
    const first = await call("ask_trial", { study: "dbr" });
    expect(textOf(first)).toContain("draw each parameter with suggest");
    const t = structuredOf(first);
    await call("suggest", { study: "dbr", trial: t.trial.number, token: t.token, name: "lr", distribution: { type: "float", low: 1e-5, high: 1, log: true } });
    await call("tell_trial", { study: "dbr", trial: t.trial.number, token: t.token, value: 1 });
    // The study now knows 'lr' (define-by-run), but the next trial's params are still empty.
    const second = await call("ask_trial", { study: "dbr" });
    expect(structuredOf(second).trial.params).toEqual({});
    expect(textOf(second)).toContain("draw each parameter with suggest");
    expect(textOf(second)).toContain("lr");
  });

  it("keeps the plain instruction on a study with a declared space", async () => {
    await call("create_study", { name: "declared", direction: "minimize", space: { x: { type: "float", low: 0, high: 1 } } });
    const r = await call("ask_trial", { study: "declared" });
    expect(textOf(r)).toContain("Evaluate these parameters, then call tell_trial");
    expect(textOf(r)).not.toContain("suggest");
  });
});

describe("add_trial with constraints", () => {
  it("says the trial is infeasible, as tell_trial does", async () => {
    await call("create_study", { name: "mo", directions: ["maximize", "minimize"], space: { x: { type: "float", low: 0, high: 1 } } });
    const bad = await call("add_trial", { study: "mo", params: { x: 0.5 }, values: [0.9, 2], constraints: [3] });
    expect(textOf(bad)).toContain("constraints=[3] (infeasible)");
    const good = await call("add_trial", { study: "mo", params: { x: 0.4 }, values: [0.8, 2], constraints: [-1] });
    expect(textOf(good)).toContain("constraints=[-1] (feasible)");
  });
});

describe("pareto_front with no feasible trial", () => {
  it("says how many complete trials are infeasible and what to do next", async () => {
    await call("create_study", { name: "mo", directions: ["maximize", "minimize"], space: { x: { type: "float", low: 0, high: 1 } } });
    for (const x of [0.1, 0.2]) await call("add_trial", { study: "mo", params: { x }, values: [x, 1], constraints: [1] });
    const r = await call("pareto_front", { study: "mo" });
    expect(textOf(r)).toContain("2 complete, all 2 infeasible");
    expect(textOf(r)).toContain("list_trials");
  });
});

describe("list_trials sorted by value with constraints", () => {
  it("says an infeasible trial listed first by value is not the best, and best_trials ranks feasible ones", async () => {
    await call("create_study", { name: "c1", direction: "minimize", space: { x: { type: "float", low: 0, high: 1 } } });
    await call("add_trial", { study: "c1", params: { x: 0.1 }, value: 0.01, constraints: [2] });
    await call("add_trial", { study: "c1", params: { x: 0.2 }, value: 0.5, constraints: [-2] });
    const r = await call("list_trials", { study: "c1", sort: "value" });
    expect(structuredOf(r).trials.map((t: { number: number }) => t.number)).toEqual([0, 1]);
    expect(textOf(r)).toContain("infeasible trials too (a constraint c > 0): best_trials ranks the feasible ones");
    // Without an infeasible trial on the page, the listing says nothing of it.
    const plain = await call("list_trials", { study: "c1", sort: "value", states: ["COMPLETE"], cursor: undefined, limit: 1, descending: true });
    expect(textOf(plain)).not.toContain("infeasible trials too");
  });
});

describe("a trial object passed where a trial number goes", () => {
  it("is advertised in tools/list: every trial argument's schema takes an integer and an object", async () => {
    const { tools } = await session.client.listTools();
    const withTrial = tools.filter((t) => t.inputSchema.properties?.trial !== undefined);
    expect(withTrial.length).toBeGreaterThanOrEqual(9);
    // A client that validates arguments against the advertised schema, with the SDK's own validator.
    const validator = new AjvJsonSchemaValidator();
    const trial = { number: 0, state: "WAITING", params: { x: 0.5 } };
    for (const t of withTrial) {
      const validate = validator.getValidator(t.inputSchema.properties?.trial as object);
      const check = (v: unknown) => validate(v).valid;
      // Before: {"type": "integer"}, which refused the object every tool answers and the server takes.
      expect(check(trial), `${t.name}: ${JSON.stringify(t.inputSchema.properties?.trial)}`).toBe(true);
      expect(check(0), t.name).toBe(true);
      expect(check("0"), t.name).toBe(false);
    }
  });

  it("is taken as its number: every tool answers the trial as an object under trial", async () => {
    await call("create_study", { name: "s", direction: "minimize", space: { x: { type: "float", low: 0, high: 1 } } });
    const queued = structuredOf(await call("enqueue_trial", { study: "s", params: { x: 0.5 }, rationale: "a guess" }));
    expect(queued.trial.number).toBe(0);
    const cancelled = await call("cancel_trial", { study: "s", trial: queued.trial });
    expect(structuredOf(cancelled).trial).toMatchObject({ number: 0, state: "FAIL" });
    // An object without a whole number, or any other wrong type, is still refused.
    for (const trial of [{ number: 0.5 }, { id: 0 }, "0"]) {
      const r = await session.call("get_trial", { study: "s", trial });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toContain("INVALID_ARGUMENT");
    }
  });
});

describe("a NaN or infinite value, which JSON sends as null", () => {
  it("tell_trial says to tell the diverged run FAIL, and the FAIL is then accepted", async () => {
    await call("create_study", { name: "s", directions: ["minimize", "minimize"], space: { x: { type: "float", low: 0, high: 1 } } });
    const t = structuredOf(await call("ask_trial", { study: "s" }));
    // JSON.stringify turns NaN into null, as every JSON client sends it.
    const sent = JSON.parse(JSON.stringify({ study: "s", trial: t.trial.number, token: t.token, values: [Number.NaN, 1] }));
    const r = await session.call("tell_trial", sent);
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain("a diverged run's value arrives as null: give state FAIL");
    const failed = await call("tell_trial", { study: "s", trial: t.trial.number, token: t.token, state: "FAIL", reason: "loss diverged" });
    expect(textOf(failed)).toContain("FAIL");
    // Another wrong type keeps the plain message.
    const other = await session.call("tell_trial", { study: "s", trial: t.trial.number, token: t.token, values: ["1", 1] });
    expect(textOf(other)).not.toContain("arrives as null");
  });
});

describe("pareto_front of a wide space, a few trials a page", () => {
  it("names the front's size and a larger max_chars, which reads it in fewer pages", async () => {
    const names = Array.from({ length: 30 }, (_, i) => `a_rather_long_parameter_name_${i}`);
    await call("create_study", { name: "wide", directions: ["minimize", "minimize"], space: Object.fromEntries(names.map((n) => [n, { type: "float", low: 0, high: 1 }])) });
    for (let i = 0; i < 30; i++)
      await call("add_trial", { study: "wide", params: Object.fromEntries(names.map((n, j) => [n, ((i * 31 + j * 7) % 97) / 97])), values: [i, 30 - i] });
    const first = await call("pareto_front", { study: "wide" });
    expect(structuredOf(first).next_cursor).not.toBeNull();
    expect(textOf(first)).toContain("More front trials follow (30 on the front)");
    expect(textOf(first)).toContain("a larger max_chars (up to 60000) for more a page");
    // At the largest budget the whole front fits one page, and the hint is not given.
    const all = await call("pareto_front", { study: "wide", max_chars: 60_000 });
    expect(structuredOf(all).front).toHaveLength(30);
    expect(textOf(all)).not.toContain("More front trials follow");
  });
});
