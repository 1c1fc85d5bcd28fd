/**
 * `tuneport mcp` over stdio, driven by the SDK's real Client as an agent drives it: a tool call
 * that the stdio guard refuses before the SDK parses it (nesting past the message limit, a message
 * over 4 MiB) is answered with the call's own id, so the client's request ends at once with the
 * reason instead of waiting for its timeout (it used to be answered with id null, which no client
 * can match to its request: the agent's call hung for the SDK's 60 s).
 */
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { call, connectStdio, sc, tempDir } from "./mcp-helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `{a: {a: ... {}}}` with `levels` objects. */
function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

/** Generous: only a call that is never answered gets near it. */
const HANG_GUARD_MS = 30_000;

/** The error a tool call was rejected with (never a timeout), or a failure when it got a result. */
async function rejection(p: Promise<unknown>): Promise<McpError> {
  const outcome = await p.then(
    (r) => ({ result: r }),
    (e: unknown) => ({ error: e }),
  );
  if (!("error" in outcome)) throw new Error(`expected a JSON-RPC error, got ${JSON.stringify(outcome.result).slice(0, 300)}`);
  expect(outcome.error).toBeInstanceOf(McpError);
  return outcome.error as McpError;
}

describe("tuneport mcp over stdio: tool calls refused before parsing", () => {
  it("answers a call nesting past the message limit, or over 4 MiB, with its id at once, and goes on serving", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const { client } = await connectStdio(["--storage", join(tmp.dir, "t.db")]);
    cleanups.push(() => client.close());
    expect(sc(await call(client, "create_study", { name: "s" })).created).toBe(true);
    const opts = { timeout: HANG_GUARD_MS };

    const deep = await rejection(client.callTool({ name: "set_user_attrs", arguments: { study: "s", attrs: nested(100) } }, undefined, opts));
    expect(deep.code, deep.message).toBe(-32602);
    expect(deep.message).toMatch(/INVALID_ARGUMENT: the message nests deeper than 40 levels \(a tool's arguments take at most 32\)/);
    expect(deep.data).toMatchObject({ code: "INVALID_ARGUMENT" });

    const big = await rejection(client.callTool({ name: "set_user_attrs", arguments: { study: "s", attrs: { blob: "x".repeat(5_000_000) } } }, undefined, opts));
    expect(big.code, big.message).toBe(-32700);
    expect(big.message).toMatch(/MESSAGE_TOO_LARGE: a message has at most 4194304 bytes/);

    // Nothing was applied, and the session goes on.
    const study = sc(await call(client, "describe_study", { study: "s" })).study;
    expect(study.user_attrs).toEqual({});
    expect(sc(await call(client, "list_studies")).studies.map((s: { name: string }) => s.name)).toEqual(["s"]);
  }, 120_000);
});
