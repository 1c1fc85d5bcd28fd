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
});
