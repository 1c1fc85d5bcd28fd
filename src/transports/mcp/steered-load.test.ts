/**
 * create_study with load_if_exists, given the settings a study was created with after update_study
 * changed them (a worker's script run again, or an agent re-running its own first call): the
 * answer names the changed settings instead of loading the steered study without a word.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, expect, it } from "vitest";
import { type MemoryMcp, memoryMcp } from "../../testing/mcp-memory.js";
import { textOf } from "../../testing/mcp-session.js";

let rig: MemoryMcp;
let client: Client;

beforeEach(async () => {
  rig = await memoryMcp();
  ({ client } = rig);
});

afterEach(() => rig.close());

const call = async (name: string, args: Record<string, unknown>): Promise<CallToolResult> => (await client.callTool({ name, arguments: args })) as CallToolResult;

it("a load given the space as created names the parameters update_study has changed since", async () => {
  const space = { x: { type: "float", low: 0, high: 1 }, opt: { type: "categorical", choices: ["adam", "sgd"] } };
  await call("create_study", { name: "s", space, strategy: "random" });
  const same = await call("create_study", { name: "s", space, load_if_exists: true });
  expect(textOf(same)).not.toContain("Changed by update_study");
  const up = await call("update_study", { study: "s", space: { ...space, opt: { type: "categorical", choices: ["adam", "sgd", "rmsprop"] } } });
  expect(up.isError, textOf(up)).toBeFalsy();
  const r = await call("create_study", { name: "s", space, load_if_exists: true });
  expect(r.isError, textOf(r)).toBeFalsy();
  expect(textOf(r)).toMatch(/^Loaded existing study 's' .*\. Changed by update_study since it was created \(it runs the stored settings listed here, not those given\): space\.opt\.\n/);
  expect(textOf(r)).toContain("rmsprop");
  expect(r.structuredContent).toMatchObject({ created: false, changed_since_created: ["space.opt"] });
});
