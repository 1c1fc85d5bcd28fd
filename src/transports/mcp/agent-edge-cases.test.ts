/**
 * Edge cases an agent author's review found (2026-12-04), each through the real SDK client:
 * - a write tool whose result is over the budget still answers (its change is committed: an
 *   error made agents retry into ALREADY_EXISTS, or strand the trial they were handed);
 * - describe_study of a wide space fits its budget and takes max_chars;
 * - wait_for_progress returns at once on a stopped or budget-spent study with queued trials;
 * - a cancelled wait_for_progress frees its place at once;
 * - list_trials sorted by value counts the trials without a value instead of hiding them;
 * - a value on a FAIL trial is refused by tell_trial and add_trial, not dropped or ranked;
 * - importances of an objective that no parameter affects say so.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { type McpSession, openMcpSession, structuredOf, textOf } from "../../testing/mcp-session.js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../logger.js";
import type { StudyService } from "../../service/study-service.js";
import { type McpBackend, serviceBackend } from "./backend.js";
import { TuneportError } from "../../domain/errors.js";
import { DEFAULT_MAX_CHARS, resultChars } from "./budget.js";
import { createTuneportMcp } from "./mcp-server.js";
import { MAX_CONCURRENT_WAITS } from "./tools/insights.js";

let session: McpSession;
let service: StudyService;
let client: Client;

beforeEach(async () => {
  session = await openMcpSession("edge");
  ({ service, client } = session);
});

afterEach(() => session.close());

const call = (name: string, args: Record<string, unknown>) => session.call(name, args);
const sc = structuredOf;

/** A space of `n` parameters with long dotted names, as a transformer's per-block scales. */
const wideSpace = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`block${String(i).padStart(3, "0")}.attention.lr_scale`, { type: "float", low: 0.001, high: 10, log: true }]));

describe("write tools over the budget", () => {
  it("create_study, ask_trial and enqueue_trial of a 300-parameter space answer their result, once", async () => {
    const created = await call("create_study", { name: "wide", space: wideSpace(300), strategy: "random" });
    expect(created.isError, textOf(created)).toBeFalsy();
    expect(sc(created).created).toBe(true);
    // create_study echoes as much of the space as fits, and says where the rest is.
    expect(resultChars(created)).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
    const listed = Number(/Search space \((\d+) of 300 parameters listed; describe_study/.exec(textOf(created))?.[1]);
    expect(listed).toBeGreaterThan(0);
    expect(Object.keys(sc(created).study.space).length + sc(created).space_left_out).toBe(300);

    // ask_trial hands out every param, over the budget or not: the agent evaluates them all.
    const asked = await call("ask_trial", { study: "wide" });
    expect(asked.isError, textOf(asked)).toBeFalsy();
    expect(resultChars(asked)).toBeGreaterThan(DEFAULT_MAX_CHARS);
    expect(Object.keys(sc(asked).trial.params)).toHaveLength(300);
    // The agent can finish the trial it was handed: the token came back.
    const told = await call("tell_trial", { study: "wide", trial: sc(asked).trial.number, token: sc(asked).token, value: 1 });
    expect(told.isError, textOf(told)).toBeFalsy();

    const params = Object.fromEntries(Object.keys(wideSpace(300)).map((k) => [k, 1]));
    const queued = await call("enqueue_trial", { study: "wide", params, rationale: "all scales at 1" });
    expect(queued.isError, textOf(queued)).toBeFalsy();
    const { study } = await service.execute("get_study", { study: "wide" });
    expect(study.counts.WAITING).toBe(1);
    expect(study.n_trials).toBe(2);
  });

  it("describe_study lists a wide space as far as its budget allows, and whole with a larger max_chars", async () => {
    await service.execute("create_study", { name: "wide", space: wideSpace(60), strategy: "random" });
    const short = await call("describe_study", { study: "wide" });
    expect(short.isError, textOf(short)).toBeFalsy();
    expect(resultChars(short)).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
    const listed = Number(/search space \((\d+) of 60 parameters listed/.exec(textOf(short))?.[1]);
    expect(listed).toBeGreaterThan(0);
    // The structured content holds the same parameters as the text, and counts the rest.
    expect(Object.keys(sc(short).study.space)).toHaveLength(listed);
    expect(sc(short).space_left_out).toBe(60 - listed);

    const whole = await call("describe_study", { study: "wide", max_chars: 60_000 });
    expect(whole.isError, textOf(whole)).toBeFalsy();
    expect(textOf(whole)).not.toMatch(/parameters listed/);
    expect(textOf(whole)).toContain("block059.attention.lr_scale");
  });

  it("a read tool over its budget is refused with a next step that names only its own arguments", async () => {
    await service.execute("create_study", { name: "wide", space: wideSpace(3), strategy: "random" });
    const added = await service.execute("add_trial", { study: "wide", params: { "block000.attention.lr_scale": 1, "block001.attention.lr_scale": 1, "block002.attention.lr_scale": 1 }, value: 1, user_attrs: { log: "x".repeat(5000) } });
    const r = await call("get_trial", { study: "wide", trial: added.trial.number, max_chars: 2000 });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain("RESULT_TOO_LARGE");
    expect(textOf(r)).toContain("max_chars");
    expect(textOf(r)).not.toMatch(/fields|smaller limit/);
  });
});

describe("wait_for_progress", () => {
  it("returns at once, as stuck, when the study is stopped or its budget spent with trials still queued", async () => {
    await service.execute("create_study", { name: "q", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", max_trials: 1 });
    const a = await service.execute("ask", { study: "q" });
    await service.execute("tell", { study: "q", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 });
    for (const x of [0.1, 0.2]) await service.execute("enqueue", { study: "q", params: { x } });
    const spent = await call("wait_for_progress", { study: "q", timeout_s: 50 });
    expect(sc(spent).stuck).toBe(true);
    expect(sc(spent).timed_out).toBe(false);
    expect(textOf(spent)).toMatch(/2 queued trials are not handed out because the study's budget is spent/);

    await service.execute("update_study", { study: "q", max_trials: null });
    await service.execute("stop_study", { study: "q" });
    const stopped = await call("wait_for_progress", { study: "q", timeout_s: 50 });
    expect(sc(stopped).stuck).toBe(true);
    expect(textOf(stopped)).toMatch(/not handed out because the study is stopped/);
  });

  it("a cancelled wait frees its place among the concurrent waits at once", async () => {
    await service.execute("create_study", { name: "w", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const controllers = Array.from({ length: MAX_CONCURRENT_WAITS }, () => new AbortController());
    const waits = controllers.map((c) =>
      client.callTool({ name: "wait_for_progress", arguments: { study: "w", timeout_s: 50 } }, undefined, { signal: c.signal }).catch(() => "cancelled"),
    );
    // Every place is taken: a further wait is refused.
    let full: CallToolResult | undefined;
    for (let i = 0; i < 200 && !full?.isError; i++) full = await call("wait_for_progress", { study: "w", timeout_s: 0 });
    expect(textOf(full as CallToolResult)).toContain("already waiting");
    for (const c of controllers) c.abort();
    expect(await Promise.all(waits)).toEqual(controllers.map(() => "cancelled"));
    // The server ends the cancelled waits on its side; a new wait then gets a place, well before their 50 s.
    let next: CallToolResult | undefined;
    for (let i = 0; i < 200; i++) {
      next = await call("wait_for_progress", { study: "w", timeout_s: 0 });
      if (!next.isError) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(next?.isError, textOf(next as CallToolResult)).toBeFalsy();
  });
});

describe("trials without a value", () => {
  it("list_trials sorted by value counts the trials it cannot rank", async () => {
    await service.execute("create_study", { name: "v", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    for (let i = 0; i < 5; i++) {
      const a = await service.execute("ask", { study: "v" });
      if (i < 3) await service.execute("tell", { study: "v", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i });
      else await service.execute("tell", { study: "v", trial: a.trial.number, token: a.lease.token, state: "FAIL", reason: "oom" });
    }
    // The trials op counts them in its page, by value only (its states filter and cursor kept)...
    expect((await service.execute("trials", { study: "v", order_by: "value" })).without_value).toBe(2);
    const second = await service.execute("trials", { study: "v", order_by: "value", limit: 1 });
    expect((await service.execute("trials", { study: "v", order_by: "value", cursor: second.next_cursor as string })).without_value).toBe(2);
    expect((await service.execute("trials", { study: "v", order_by: "value", states: ["COMPLETE"] })).without_value).toBe(0);
    expect((await service.execute("trials", { study: "v", order_by: "number" })).without_value).toBeUndefined();
    // ... and the listing reads that count: one trials call per page, not a second query to count.
    const ops = vi.spyOn(service, "execute");
    const all = await call("list_trials", { study: "v", sort: "value" });
    expect(ops.mock.calls.filter(([op]) => op === "trials")).toHaveLength(1);
    ops.mockRestore();
    expect(sc(all).total).toBe(3);
    expect(sc(all).without_value).toBe(2);
    expect(textOf(all)).toMatch(/2 trials without a value are not ranked by value: sort "number" lists them/);

    const failed = await call("list_trials", { study: "v", sort: "value", states: ["FAIL"] });
    expect(failed.isError).toBeFalsy();
    expect(textOf(failed)).not.toMatch(/^No trials in FAIL/);
    expect(textOf(failed)).toMatch(/2 trials in FAIL without a value/);

    const byNumber = await call("list_trials", { study: "v" });
    expect(sc(byNumber).without_value).toBeUndefined();
  });

  it("tell_trial and add_trial refuse a value with state FAIL and store nothing", async () => {
    await service.execute("create_study", { name: "f", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const asked = await call("ask_trial", { study: "f" });
    const told = await call("tell_trial", { study: "f", trial: sc(asked).trial.number, token: sc(asked).token, state: "FAIL", value: -50 });
    expect(told.isError).toBe(true);
    expect(textOf(told)).toContain("a FAIL trial has no value");
    const added = await call("add_trial", { study: "f", params: { x: 0.5 }, state: "FAIL", value: -100 });
    expect(added.isError).toBe(true);
    expect(textOf(added)).toContain("a FAIL trial has no value: leave value out");
    // Named as the agent gave it (it said "leave value out" to an agent that passed values).
    expect(textOf(await call("add_trial", { study: "f", params: { x: 0.5 }, state: "FAIL", values: [-100] }))).toContain("a FAIL trial has no value: leave values out");
    const { study } = await service.execute("get_study", { study: "f" });
    expect(study.n_trials).toBe(1);
    expect(study.counts.RUNNING).toBe(1);
    // Without the value both are accepted.
    expect((await call("tell_trial", { study: "f", trial: sc(asked).trial.number, token: sc(asked).token, state: "FAIL", reason: "oom" })).isError).toBeFalsy();
    expect((await call("add_trial", { study: "f", params: { x: 0.5 }, state: "FAIL" })).isError).toBeFalsy();
  });
});

describe("importances of noise", () => {
  it("say that no parameter stands out, and the summary names none as influential", async () => {
    await service.execute("create_study", {
      name: "n",
      space: { a: { type: "float", low: 0, high: 1 }, b: { type: "float", low: 0, high: 1 } },
      strategy: "random",
      seed: 3,
    });
    // The objective is a fixed pseudo-random sequence, independent of the parameters.
    let s = 12345;
    for (let i = 0; i < 400; i++) {
      const a = await service.execute("ask", { study: "n" });
      s = (s * 1103515245 + 12345) % 2 ** 31;
      await service.execute("tell", { study: "n", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: s / 2 ** 31 });
    }
    const imp = await call("param_importances", { study: "n" });
    expect(textOf(imp)).toContain("no parameter's effect stands out from noise");
    const summary = await call("study_summary", { study: "n" });
    expect(textOf(summary)).not.toContain("Most influential parameters");
  }, 60_000);
});

describe("add_trial", () => {
  it("records a parameter the study has not seen when given its distribution, as the error says", async () => {
    await service.execute("create_study", { name: "d", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const without = await call("add_trial", { study: "d", params: { x: 0.5, dropout: 0.1 }, value: 1 });
    expect(without.isError).toBe(true);
    expect(textOf(without)).toContain("pass its distribution in distributions");
    const added = await call("add_trial", { study: "d", params: { x: 0.5, dropout: 0.1 }, value: 1, distributions: { dropout: { type: "float", low: 0, high: 0.5 } } });
    expect(added.isError, textOf(added)).toBeFalsy();
    expect(textOf(await call("describe_study", { study: "d" }))).toMatch(/dropout: float in \[0, 0\.5\] \(define-by-run\)/);
  });
});

describe("enqueue_trial", () => {
  it("enqueue_trial names the declared parameters a proposal leaves to the strategy", async () => {
    const space = { lr: { type: "float", low: 1e-4, high: 1, log: true }, layers: { type: "int", low: 1, high: 4 }, act: { type: "categorical", choices: ["relu", "tanh"] } };
    await service.execute("create_study", { name: "q", space, strategy: "random" });
    const partial = await call("enqueue_trial", { study: "q", params: { lr: 0.01 }, rationale: "only the rate matters here" });
    expect(textOf(partial)).toContain("layers, act are not given: the strategy draws them when a worker asks for the trial.");
    const whole = await call("enqueue_trial", { study: "q", params: { lr: 0.02, layers: 2, act: "relu" }, rationale: "a full configuration" });
    expect(whole.isError, textOf(whole)).toBeFalsy();
    expect(textOf(whole)).not.toContain("not given");
    const asked = await service.execute("ask", { study: "q" });
    expect(asked.trial.params.lr).toBe(0.01);
    expect(Object.keys(asked.trial.params).sort()).toEqual(["act", "layers", "lr"]);
  });

  it("answers a committed proposal even when the reads for its notes fail (an error made agents queue it again)", async () => {
    await service.execute("create_study", { name: "g", space: { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const inner = serviceBackend(service);
    // After the enqueue, every read fails, as on a --connect link that drops right then.
    const flaky: McpBackend = { ...inner, as: undefined, call: (async (op: string, args: unknown) => {
      if (op !== "enqueue") throw new TuneportError("UNAVAILABLE", "the link dropped", { outcome_unknown: false });
      return (inner.call as (o: string, a: unknown) => Promise<unknown>)(op, args);
    }) as McpBackend["call"] };
    const m = createTuneportMcp(flaky, { logger: silentLogger(), version: "test" });
    const [a, b] = InMemoryTransport.createLinkedPair();
    const c = new Client({ name: "flaky", version: "1" });
    await m.server.connect(a);
    await c.connect(b);
    try {
      const r = (await c.callTool({ name: "enqueue_trial", arguments: { study: "g", params: { x: 0.5 }, rationale: "the middle" } })) as CallToolResult;
      expect(r.isError, textOf(r)).toBeFalsy();
      expect(textOf(r)).toMatch(/^Queued trial 0 of 'g'/);
      expect((await service.execute("get_study", { study: "g" })).study.counts.WAITING).toBe(1);
    } finally {
      await c.close();
      m.dispose();
    }
  });
});

describe("listings", () => {
  it("refuse parameter names the study does not have, naming the ones it has", async () => {
    await service.execute("create_study", { name: "p", space: { lr: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    await service.execute("add_trial", { study: "p", params: { lr: 0.5 }, value: 1 });
    for (const tool of ["list_trials", "best_trials"]) {
      const r = await call(tool, { study: "p", params: ["learning_rate"] });
      expect(r.isError, tool).toBe(true);
      expect(textOf(r)).toContain("unknown parameter 'learning_rate' in params; the study's parameters are lr");
      expect((await call(tool, { study: "p", params: ["lr"] })).isError, tool).toBeFalsy();
    }
  });
});


describe("a wide study (70 parameters with a transformer's dotted names)", () => {
  const longSpace = (n: number) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`model.encoder.layer_${String(i).padStart(3, "0")}.attention.dropout_rate`, { type: "float", low: 1e-4, high: 0.5, log: true }]));

  it("every read tool answers within the default budget, saying which params it left out and where they are whole", async () => {
    await service.execute("create_study", { name: "t", space: longSpace(70), strategy: "random", seed: 3 });
    for (let i = 0; i < 30; i++) {
      const r = await service.execute("ask", { study: "t" });
      await service.execute("tell", { study: "t", trial: r.trial.number, token: r.lease.token, state: "COMPLETE", value: (i * 7919) % 31 });
    }
    await service.execute("enqueue", { study: "t", params: Object.fromEntries(Object.keys(longSpace(70)).map((k) => [k, 0.01])) });
    const reads: [string, Record<string, unknown>][] = [
      ["describe_study", {}], ["study_summary", {}], ["list_trials", {}], ["best_trials", {}], ["get_trial", { trial: 4 }], ["wait_for_progress", { timeout_s: 0.05 }],
    ];
    for (const [tool, args] of reads) {
      const r = await call(tool, { study: "t", ...args });
      expect(r.isError, `${tool}: ${textOf(r).slice(0, 200)}`).toBeFalsy();
      expect(resultChars(r), tool).toBeLessThanOrEqual(DEFAULT_MAX_CHARS);
    }
    const listed = await call("list_trials", { study: "t" });
    expect(sc(listed).shown).toBeGreaterThan(1);
    expect(sc(listed).trials[0].params_left_out).toBeGreaterThan(0);
    expect(Object.keys(sc(listed).trials[0].params).length + sc(listed).trials[0].params_left_out).toBe(70);
    expect(textOf(listed)).toContain("more parameters: get_trial");
    // Named params are shown whole.
    const named = await call("list_trials", { study: "t", params: ["model.encoder.layer_069.attention.dropout_rate"], limit: 3 });
    expect(Object.keys(sc(named).trials[0].params)).toEqual(["model.encoder.layer_069.attention.dropout_rate"]);
    expect(sc(named).trials[0].params_left_out).toBeUndefined();

    const summary = await call("study_summary", { study: "t" });
    expect(textOf(summary)).toMatch(/more parameters: get_trial \d+ shows them all/);
    expect(Object.keys(sc(summary).best.params).length + sc(summary).best.params_left_out).toBe(70);
    expect(Object.keys(sc(summary).queued[0].params).length + sc(summary).queued[0].params_left_out).toBe(70);

    const one = await call("get_trial", { study: "t", trial: 4 });
    expect(textOf(one)).toMatch(/params: the first \d+ of 70, to fit this call's budget/);
    expect(Object.keys(sc(one).trial.params).length + sc(one).params_left_out).toBe(70);
    const whole = await call("get_trial", { study: "t", trial: 4, max_chars: 60_000 });
    expect(Object.keys(sc(whole).trial.params)).toHaveLength(70);
    expect(sc(whole).params_left_out).toBeUndefined();
  }, 60_000);
});

describe("study_summary says when the latest trial finished", () => {
  it("as a time and as 'N s ago': a rate of finishes reads the same long after the workers stopped", async () => {
    await call("create_study", { name: "when", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const before = await call("study_summary", { study: "when" });
    expect(sc(before).last_finished_at).toBeNull();
    expect(textOf(before)).not.toContain("latest trial finished");
    for (let i = 0; i < 2; i++) {
      const a = sc(await call("ask_trial", { study: "when" }));
      await call("tell_trial", { study: "when", trial: a.trial.number, token: a.token, value: i });
    }
    const after = await call("study_summary", { study: "when" });
    expect(typeof sc(after).last_finished_at).toBe("number");
    expect(textOf(after)).toMatch(/\nThe latest trial finished \d+ s ago\.$/);
  });

  it("agoText rounds to seconds, minutes or hours, and never says a negative time", async () => {
    const { agoText } = await import("./tools/insights.js");
    expect([agoText(-3), agoText(45.4), agoText(119), agoText(600), agoText(3 * 3600)]).toEqual(["0 s", "45 s", "119 s", "10 min", "3 h"]);
  });
});
