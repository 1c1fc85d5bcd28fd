/**
 * describe_study shows the strategy and scheduler options the user set, with a count of those left
 * at their defaults and what the plug-in does, not every resolved option (an `auto` study printed
 * its 23 options, all defaults, in the text and again in the structured content);
 * `full_options: true` lists them all. Driven through the SDK's real Client (in-memory transport).
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
});
