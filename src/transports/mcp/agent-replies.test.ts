/**
 * Replies an agent reads, driven through the SDK's real Client over the in-memory transport.
 *
 * best_trials' `k` is how many best trials the agent wants, not a page size: once the k are shown
 * no cursor is offered (it offered "More trials follow" for the (k+1)-th best onward, which the
 * agent had not asked for); a page the character budget cut short still goes on with a cursor to
 * the rest of the k.
 *
 * describe_study shows the strategy and scheduler options the user set, with a count of those left
 * at their defaults and what the plug-in does, not every resolved option (an `auto` study printed
 * its 23 options, all defaults, in the text and again in the structured content);
 * `full_options: true` lists them all.
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

const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;
type Listing = { total: number; shown: number; next_cursor: string | null; trials: { number: number }[] };

/** A study "s" of `n` COMPLETE trials over `dims` float parameters, trial i with value i. */
async function study(n: number, dims: number): Promise<void> {
  const space = Object.fromEntries(Array.from({ length: dims }, (_, d) => [`parameter_${d}`, { type: "float", low: 0, high: 1 }]));
  expect((await call("create_study", { name: "s", space })).isError).toBeFalsy();
  for (let i = 0; i < n; i++) {
    const params = Object.fromEntries(Object.keys(space).map((p) => [p, 0.123456789 + i / 1000]));
    expect((await call("add_trial", { study: "s", params, value: i })).isError).toBeFalsy();
  }
}

describe("best_trials", () => {
  it("offers no cursor when it shows all k asked for, though more trials exist", async () => {
    await study(12, 1);
    const r = await call("best_trials", { study: "s", k: 3 });
    const page = r.structuredContent as Listing;
    expect(page.trials.map((t) => t.number)).toEqual([0, 1, 2]);
    expect(page.total).toBe(12);
    expect(page.next_cursor).toBeNull();
    expect(textOf(r)).not.toContain("More trials follow");
    // k past the number of trials: all of them, no cursor either.
    expect((await call("best_trials", { study: "s", k: 50 })).structuredContent).toMatchObject({ shown: 12, next_cursor: null });
  });

  it("still goes on with a cursor when the budget cut the k short", async () => {
    await study(40, 8);
    const r = await call("best_trials", { study: "s", k: 40, max_chars: 3000 });
    expect(r.isError, textOf(r)).toBeFalsy();
    const first = r.structuredContent as Listing;
    expect(first.shown).toBeLessThan(40);
    expect(first.next_cursor).not.toBeNull();
    const next = (await call("best_trials", { study: "s", k: 40, max_chars: 3000, cursor: first.next_cursor })).structuredContent as Listing;
    expect(next.trials[0]?.number).toBe(first.shown);
  });

  it("stops the pages after a cut one at the k-th best, though more trials exist", async () => {
    // Each page after a cut one asked for k again from its cursor, so the chain walked on past the
    // k best (k = 12 of 30 trials listed 0..29); the cursor now carries how many of the k are left.
    await study(30, 8);
    const seen: number[] = [];
    let cursor: string | null | undefined;
    for (let pages = 0; pages < 30; pages++) {
      const r = await call("best_trials", { study: "s", k: 12, max_chars: 2000, ...(cursor ? { cursor } : {}) });
      expect(r.isError, textOf(r)).toBeFalsy();
      const page = r.structuredContent as Listing;
      seen.push(...page.trials.map((t) => t.number));
      cursor = page.next_cursor;
      if (cursor === null) break;
    }
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i));
    // That cursor passed to list_trials is refused as another listing's, as an op cursor is.
    const first = (await call("best_trials", { study: "s", k: 12, max_chars: 2000 })).structuredContent as Listing;
    expect(textOf(await call("list_trials", { study: "s", cursor: first.next_cursor }))).toContain("continues only the listing of the call that returned it");
  });
});

const SPACE = { x: { type: "float", low: 0, high: 1 } };
type Described = { study: { strategy: { name: string; options: Record<string, unknown>; options_at_default?: number }; scheduler: unknown } };

describe("describe_study", () => {
  it("shows an auto study's options as 'with its defaults' and what auto does, in the text and the structured content", async () => {
    expect((await call("create_study", { name: "a", space: SPACE })).isError).toBeFalsy();
    const r = await call("describe_study", { study: "a" });
    const strategyLine = textOf(r).split("\n").find((l) => l.startsWith("strategy:")) ?? "";
    expect(strategyLine).toMatch(/^strategy: auto with its defaults \(\d+ options at their defaults: describe_study with full_options true lists them\)\. The default: /);
    expect(textOf(r)).not.toContain("portfolio_temperature");
    const { strategy } = (r.structuredContent as Described).study;
    expect(strategy.options).toEqual({});
    expect(strategy.options_at_default).toBeGreaterThan(10);
  });

  it("names the options the user set, and full_options lists every one", async () => {
    const created = await call("create_study", { name: "b", space: SPACE, strategy: { name: "auto", options: { gp_until: 50 } }, scheduler: { name: "median" } });
    expect(created.isError, textOf(created)).toBeFalsy();
    const r = await call("describe_study", { study: "b" });
    expect(textOf(r)).toMatch(/strategy: auto set: \{"gp_until":50\} \(\d+ options at their defaults/);
    expect(textOf(r)).toMatch(/scheduler: median/);
    expect((r.structuredContent as Described).study.strategy.options).toEqual({ gp_until: 50 });
    const full = await call("describe_study", { study: "b", full_options: true });
    expect(textOf(full)).toContain('"portfolio_temperature":0.1');
    expect((full.structuredContent as Described).study.strategy.options).toMatchObject({ gp_until: 50, portfolio_temperature: 0.1 });
  });

  it("calls set what was given (an explicit default too), marks what the budget derived, and keeps both through update_study and an export", async () => {
    // n_startup_trials 10 is TPE's default, given on purpose; ASHA's max_resource comes from the
    // study's budget and its min_resource from max_resource/η²: neither was given.
    const created = await call("create_study", {
      name: "g",
      space: SPACE,
      strategy: { name: "tpe", options: { nStartupTrials: 10, n_ei_candidates: 30 } },
      scheduler: "asha",
      max_resource: 27,
    });
    expect(created.isError, textOf(created)).toBeFalsy();
    type Brief = { name: string; options: Record<string, unknown>; derived?: Record<string, unknown>; options_at_default?: number };
    const described = async (name: string) => {
      const r = await call("describe_study", { study: name });
      const line = (p: string) => textOf(r).split("\n").find((l) => l.startsWith(p)) ?? "";
      const { strategy, scheduler } = (r.structuredContent as { study: { strategy: Brief; scheduler: Brief } }).study;
      return { strategyLine: line("strategy:"), schedulerLine: line("scheduler:"), strategy, scheduler };
    };
    let d = await described("g");
    expect(d.strategyLine).toMatch(/^strategy: tpe set: \{"n_startup_trials":10,"n_ei_candidates":30\} \(\d+ options at their defaults/);
    expect(d.strategy).toMatchObject({ options: { n_startup_trials: 10, n_ei_candidates: 30 } });
    expect(d.strategy.derived).toBeUndefined();
    expect(d.schedulerLine).toMatch(/^scheduler: asha derived: \{"max_resource":27,"min_resource":3\} \(not given: from other options or the study's budget\) \(\d+ options at their defaults/);
    expect(d.scheduler).toMatchObject({ options: {}, derived: { max_resource: 27, min_resource: 3 } });

    // update_study naming the scheduler again merges the names it gives; a new strategy keeps only its own.
    expect((await call("update_study", { study: "g", scheduler: { name: "asha", options: { reduction_factor: 2 } }, strategy: "random" })).isError).toBeFalsy();
    d = await described("g");
    expect(d.strategyLine).toMatch(/^strategy: random\b/);
    expect(d.strategyLine).not.toContain("set:");
    expect(d.scheduler).toMatchObject({ options: { reduction_factor: 2 }, derived: { max_resource: 27 } });

    // An export carries the names, so the imported study reads the same.
    await rig.service.importStudy([...rig.service.exportStudy("g")].join("\n"), "g2");
    expect((await described("g2")).scheduler).toEqual(d.scheduler);
  });

  it("an option given at its derived value that update_study derives again is derived, not set", async () => {
    // min_resource 3 is ASHA's max_resource/η² for 27 and η 3: given, yet indistinguishable from the
    // derived default, so update_study's merge drops it and derives it again from the new η (6.75).
    const created = await call("create_study", { name: "m", space: SPACE, scheduler: { name: "asha", options: { min_resource: 3 } }, max_resource: 27 });
    expect(created.isError, textOf(created)).toBeFalsy();
    type Brief = { options: Record<string, unknown>; derived?: Record<string, unknown> };
    const scheduler = async () => ((await call("describe_study", { study: "m" })).structuredContent as { study: { scheduler: Brief } }).study.scheduler;
    expect(await scheduler()).toMatchObject({ options: { min_resource: 3 } });
    expect((await call("update_study", { study: "m", scheduler: { name: "asha", options: { reduction_factor: 2 } } })).isError).toBeFalsy();
    const after = await scheduler();
    expect(after.options).toEqual({ reduction_factor: 2 });
    expect(after.derived).toEqual({ max_resource: 27, min_resource: 6.75 });
  });
});
