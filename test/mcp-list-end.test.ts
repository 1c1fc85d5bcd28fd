/**
 * MCP's list_studies followed to a cursor after which no study is left (those after the page were
 * deleted meanwhile), over stdio with the SDK's real Client and a real `tuneport mcp` process on
 * SQLite: the answer says so. It was an empty text: an agent read it as no answer at all.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { call, connectStdio, tempDir, textOf } from "./mcp-helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("list_studies past the last study", () => {
  it("says that no study follows the cursor, and how to list them again", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const { client } = await connectStdio(["--storage", join(tmp.dir, "t.db")]);
    cleanups.push(() => client.close());
    for (const name of ["a", "b", "c"]) expect((await call(client, "create_study", { name, space: { x: { type: "float", low: 0, high: 1 } } })).isError).toBeFalsy();
    const first = await call(client, "list_studies", { limit: 2 });
    const cursor = (first.structuredContent as { next_cursor: string | null }).next_cursor;
    expect(cursor).toEqual(expect.any(String));
    expect(textOf(first)).toContain(`call list_studies with cursor "${cursor}"`);
    expect((await call(client, "delete_study", { study: "c", confirm: true })).isError).toBeFalsy();
    const rest = await call(client, "list_studies", { limit: 2, cursor: cursor as string });
    expect(rest.isError).toBeFalsy();
    expect(rest.structuredContent).toEqual({ shown: 0, next_cursor: null, studies: [] });
    expect(textOf(rest)).toMatch(/^No more studies: none follows the cursor's page .* Call list_studies without a cursor/);
  }, 120_000);
});
