/**
 * A cursor continues only what it was made for: a `next_cursor` of study A's trials (or Pareto
 * front) passed for study B, or with another order or filter, or to another op, is refused with
 * INVALID_ARGUMENT naming what it was made for; so is a garbled one and one in the format of earlier
 * versions, which named no study. Through the op table (as ZeroMQ and the Python client reach it)
 * and through the MCP tools, which word it with their own argument names.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TuneportError } from "../../domain/errors.js";
import type { StudyService } from "../../service/study-service.js";
import { type McpSession, openMcpSession, structuredOf, textOf } from "../../testing/mcp-session.js";
import { exportCursorLine } from "../../service/paging.js";
import { resultChars } from "./budget.js";

let session: McpSession;
let service: StudyService;

beforeEach(async () => {
  session = await openMcpSession("cursors");
  ({ service } = session);
});

afterEach(() => session.close());

const call = (name: string, args: Record<string, unknown>) => session.call(name, args);
const SPACE = { x: { type: "float", low: 0, high: 1 } };

/** A single-objective study with `n` complete trials (x = value = i / 10). */
async function studyOf(name: string, n: number): Promise<void> {
  expect((await call("create_study", { name, space: SPACE, strategy: "random" })).isError).toBeFalsy();
  for (let i = 0; i < n; i++) expect((await call("add_trial", { study: name, params: { x: i / 100 }, value: i / 10 })).isError).toBeFalsy();
}

/** A two-objective study whose `n` trials are all on the front. */
async function frontOf(name: string, n: number): Promise<void> {
  expect((await call("create_study", { name, directions: ["minimize", "minimize"], space: SPACE, strategy: "random" })).isError).toBeFalsy();
  for (let i = 0; i < n; i++) expect((await call("add_trial", { study: name, params: { x: i / 100 }, values: [i, n - i] })).isError).toBeFalsy();
}

/** The error an op call is refused with. */
async function refusal(op: string, args: Record<string, unknown>): Promise<TuneportError> {
  const err = await service.execute(op as "trials", args as never).then(
    () => null,
    (e: unknown) => e as TuneportError,
  );
  expect(err, `${op} ${JSON.stringify(args)} was answered`).not.toBeNull();
  return err as TuneportError;
}

type Page = { trials: { number: number }[]; next_cursor: string | null };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v), "utf8").toString("base64url");

describe("a trials cursor", () => {
  it("continues its own study's listing and is refused on another study, naming the study it was made for", async () => {
    await studyOf("alpha", 4);
    await studyOf("beta", 4);
    const first = (await service.execute("trials", { study: "alpha", limit: 2 })) as Page;
    const cursor = first.next_cursor as string;
    expect(((await service.execute("trials", { study: "alpha", limit: 2, cursor })) as Page).trials.map((t) => t.number)).toEqual([2, 3]);
    const err = await refusal("trials", { study: "beta", limit: 2, cursor });
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(/^cursor was made for study 'alpha', not 'beta': a next_cursor continues only the listing of the call that returned it/);
    expect(err.data).toEqual({ cursor_study: "alpha" });
  });

  it("is refused with another order_by, descending, states or feasible, naming both listings", async () => {
    await studyOf("alpha", 4);
    const byValue = ((await service.execute("trials", { study: "alpha", order_by: "value", descending: true, states: ["COMPLETE"], limit: 1 })) as Page).next_cursor as string;
    expect((await refusal("trials", { study: "alpha", cursor: byValue })).message).toMatch(
      /^cursor was made for order_by value, descending, states COMPLETE, and this call asks for order_by number, ascending, any state: /,
    );
    expect((await refusal("trials", { study: "alpha", order_by: "value", states: ["COMPLETE"], cursor: byValue })).message).toContain("this call asks for order_by value, ascending, states COMPLETE:");
    expect((await refusal("trials", { study: "alpha", order_by: "value", descending: true, cursor: byValue })).message).toContain("this call asks for order_by value, descending, any state:");
    expect((await refusal("trials", { study: "alpha", order_by: "value", descending: true, states: ["COMPLETE"], feasible: true, cursor: byValue })).message).toContain(
      "this call asks for order_by value, descending, states COMPLETE, feasible true:",
    );
    // The same arguments continue it.
    const next = (await service.execute("trials", { study: "alpha", order_by: "value", descending: true, states: ["COMPLETE"], limit: 1, cursor: byValue })) as Page;
    expect(next.trials.map((t) => t.number)).toEqual([2]);
  });

  it("of a study with a 200-character name fits the ops' cursor bounds, and a refusal quotes the name's start", async () => {
    const long = "𝒳".repeat(200); // 4 bytes a character in UTF-8
    await studyOf(long, 3);
    await studyOf("short", 3);
    const first = (await service.execute("trials", { study: long, order_by: "value", states: ["COMPLETE"], feasible: true, limit: 1 })) as Page;
    const cursor = first.next_cursor as string;
    const next = (await service.execute("trials", { study: long, order_by: "value", states: ["COMPLETE"], feasible: true, limit: 1, cursor })) as Page;
    expect(next.trials.map((t) => t.number)).toEqual([1]);
    expect((await refusal("trials", { study: "short", order_by: "value", states: ["COMPLETE"], feasible: true, cursor })).message).toMatch(
      new RegExp(`^cursor was made for study '${"𝒳".repeat(39)}…', not 'short'`, "u"),
    );
  });

  it("is refused when garbled, of another op, or in the format of earlier versions (which named no study)", async () => {
    await studyOf("alpha", 4);
    await studyOf("beta", 1);
    const studiesCursor = ((await service.execute("list_studies", { limit: 1 })) as { next_cursor: string }).next_cursor;
    const before = b64({ o: "number", d: false, s: "", n: 1, v: null }); // the format before cursors named their study
    for (const cursor of ["%%%", "bm90IGpzb24", b64([1, 2]), b64(null), studiesCursor, before, b64({ k: "trials", o: "number", d: false, s: "", n: 1, v: null })]) {
      const err = await refusal("trials", { study: "alpha", cursor });
      expect(err.code, cursor).toBe("INVALID_ARGUMENT");
      expect(err.message, cursor).toMatch(/^cursor is not a trials cursor: pass the next_cursor of the previous page unchanged/);
    }
    expect((await refusal("trials", { study: "alpha", cursor: before })).message).toMatch(/^cursor is not a trials cursor: .*cursors of earlier versions are not read/);
  });
});

describe("a Pareto front cursor", () => {
  it("continues its own study's front and is refused on another study's, and an earlier version's is refused", async () => {
    await frontOf("mo-a", 3);
    await frontOf("mo-b", 3);
    const first = (await service.execute("best_trials", { study: "mo-a", limit: 1 })) as Page;
    const cursor = first.next_cursor as string;
    expect(((await service.execute("best_trials", { study: "mo-a", limit: 5, cursor })) as Page).trials.map((t) => t.number)).toEqual([1, 2]);
    expect((await refusal("best_trials", { study: "mo-b", cursor })).message).toMatch(/^cursor was made for study 'mo-a', not 'mo-b'/);
    expect((await refusal("best_trials", { study: "mo-a", cursor: b64({ f: "front", n: 0 }) })).message).toMatch(/^cursor is not a best_trials cursor/);
    // A trials cursor of the same study is not a front cursor.
    const trialsCursor = ((await service.execute("trials", { study: "mo-a", limit: 1 })) as Page).next_cursor as string;
    expect((await refusal("best_trials", { study: "mo-a", cursor: trialsCursor })).message).toMatch(/^cursor is not a best_trials cursor/);
    expect((await refusal("trials", { study: "mo-a", cursor })).message).toMatch(/^cursor is not a trials cursor/);
  });
});

describe("a list_studies cursor", () => {
  it("walks the studies, and one of another op or an earlier version is refused", async () => {
    await studyOf("alpha", 1);
    await studyOf("beta", 1);
    const first = (await service.execute("list_studies", { limit: 1 })) as { studies: { name: string }[]; next_cursor: string };
    const rest = (await service.execute("list_studies", { cursor: first.next_cursor })) as { studies: { name: string }[]; next_cursor: string | null };
    expect([...first.studies, ...rest.studies].map((s) => s.name)).toEqual(["alpha", "beta"]);
    await call("add_trial", { study: "alpha", params: { x: 0.5 }, value: 0.5 });
    const cursor = ((await service.execute("trials", { study: "alpha", limit: 1 })) as Page).next_cursor as string;
    for (const c of [cursor, b64({ c: 0, n: "alpha" })]) expect((await refusal("list_studies", { cursor: c })).message).toMatch(/^cursor is not a list_studies cursor/);
  });
});

describe("the MCP tools", () => {
  it("refuse another study's cursor as the op does, and name list_trials' sort rather than the op's order_by", async () => {
    await studyOf("alpha", 30);
    await studyOf("beta", 3);
    const first = await call("list_trials", { study: "alpha", limit: 5 });
    const cursor = structuredOf(first).next_cursor as string;
    const other = await call("list_trials", { study: "beta", limit: 5, cursor });
    expect(other.isError).toBe(true);
    expect(textOf(other)).toMatch(/^Error INVALID_ARGUMENT: cursor was made for study 'alpha', not 'beta': /);
    const sorted = await call("list_trials", { study: "alpha", sort: "value", cursor });
    expect(textOf(sorted)).toMatch(/^Error INVALID_ARGUMENT: cursor was made for sort number, ascending, any state, and this call asks for sort value, ascending, any state: /);
    expect(textOf(sorted)).not.toContain("order_by");
  });

  it("list_trials' 'more trials follow' line names every argument its cursor needs repeated: a call with just those continues", async () => {
    await studyOf("alpha", 6);
    const first: Record<string, unknown> = { study: "alpha", states: ["COMPLETE"], sort: "value", descending: true, limit: 2 };
    const r = await call("list_trials", first);
    const cursor = structuredOf(r).next_cursor as string;
    const hint = /call list_trials with the same (.+) with cursor "/.exec(textOf(r))?.[1];
    expect(hint, textOf(r)).toBeDefined();
    const named = (hint as string).split(/, | and /);
    const next = await call("list_trials", { ...Object.fromEntries(named.map((k) => [k, first[k]])), limit: 2, cursor });
    expect(next.isError, `${hint}: ${textOf(next)}`).toBeFalsy();
    expect((structuredOf(next).trials as { number: number }[]).map((t) => t.number)).toEqual([3, 2]);
  });

  it("pareto_front refuses another study's cursor", async () => {
    await frontOf("mo-a", 40);
    await frontOf("mo-b", 3);
    const first = await call("pareto_front", { study: "mo-a", max_chars: 2000 });
    const cursor = structuredOf(first).next_cursor as string;
    expect(cursor).toEqual(expect.any(String));
    const r = await call("pareto_front", { study: "mo-b", cursor });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^Error INVALID_ARGUMENT: cursor was made for study 'mo-a', not 'mo-b'/);
  });

  it("page a long-named study's trials and front within the budget, though its cursors are longer than the room first left for them", async () => {
    const long = "𝒳".repeat(200);
    await studyOf(long, 60);
    await frontOf(`${long.slice(0, -2)}F`, 60);
    for (const [tool, study, key] of [["list_trials", long, "trials"], ["pareto_front", `${long.slice(0, -2)}F`, "front"]] as const) {
      const seen: number[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 100; page++) {
        const r = await call(tool, { study, max_chars: 2500, ...(tool === "list_trials" ? { limit: 200 } : {}), ...(cursor ? { cursor } : {}) });
        expect(r.isError, textOf(r)).toBeFalsy();
        expect(resultChars(r), `${tool} page ${page}`).toBeLessThanOrEqual(2500);
        seen.push(...(structuredOf(r)[key] as { number: number }[]).map((t) => t.number));
        cursor = structuredOf(r).next_cursor ?? undefined;
        if (cursor === undefined) break;
        expect(cursor.length).toBeGreaterThan(120);
      }
      expect(seen, tool).toEqual(Array.from({ length: 60 }, (_, i) => i));
    }
  });

  it("list_studies pages long-named studies within the budget: its cursor names the last study shown, so it may be longer than the room first left for it", async () => {
    // A list_studies cursor holds the whole name (here about 1,100 characters); the first page
    // asks for all 12, so no cursor sizes the room, and the page cut to fit then gets one.
    const names = Array.from({ length: 12 }, (_, i) => `${String.fromCharCode(65 + i)}${"𝒳".repeat(199)}`);
    for (const name of names) expect((await call("create_study", { name, space: SPACE, strategy: "random" })).isError).toBeFalsy();
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const r = await call("list_studies", cursor ? { cursor } : {});
      expect(r.isError, textOf(r).slice(0, 300)).toBeFalsy();
      expect(resultChars(r), `page ${page}`).toBeLessThanOrEqual(8000);
      seen.push(...(structuredOf(r).studies as { name: string }[]).map((s) => s.name));
      cursor = (structuredOf(r).next_cursor as string | null) ?? undefined;
      if (cursor === undefined) break;
      expect(cursor.length).toBeGreaterThan(1000);
    }
    expect(seen).toEqual(names);
  });
});

describe("a cursor of a study deleted and created again under its name", () => {
  /** Deletes `name` through the tool and creates a study of that name again. */
  async function recreate(name: string, make: () => Promise<void>): Promise<void> {
    expect((await call("delete_study", { study: name, confirm: true })).isError).toBeFalsy();
    await make();
  }

  /** A refused tool call's `_meta["tuneport/error"]` (format.ts errorMeta). */
  const errorOf = (r: Awaited<ReturnType<typeof call>>) => (r._meta as Record<string, { code: string; data?: Record<string, unknown> }>)["tuneport/error"];

  it("is refused by list_trials with reason study_recreated, telling the agent to start again without a cursor; a first page then lists the new study", async () => {
    await studyOf("alpha", 30);
    const cursor = structuredOf(await call("list_trials", { study: "alpha", limit: 5 })).next_cursor as string;
    expect(cursor).toEqual(expect.any(String));
    await recreate("alpha", () => studyOf("alpha", 12));
    const r = await call("list_trials", { study: "alpha", limit: 5, cursor });
    expect(r.isError, textOf(r)).toBe(true);
    expect(textOf(r)).toMatch(/^Error INVALID_ARGUMENT: cursor was made for study 'alpha' created at \S+Z, which was deleted; the study now named 'alpha' was created at \S+Z, so the cursor does not continue it: start again without a cursor/);
    expect(errorOf(r)).toMatchObject({ code: "INVALID_ARGUMENT", data: { cursor_study: "alpha", reason: "study_recreated" } });
    const fresh = await call("list_trials", { study: "alpha", limit: 5 });
    expect((structuredOf(fresh).trials as { number: number }[]).map((t) => t.number)).toEqual([0, 1, 2, 3, 4]);
    // Through the op (ZeroMQ, the Python client) alike, for every order.
    const byValue = ((await service.execute("trials", { study: "alpha", order_by: "value", limit: 2 })) as Page).next_cursor as string;
    await recreate("alpha", () => studyOf("alpha", 6));
    const err = await refusal("trials", { study: "alpha", order_by: "value", limit: 2, cursor: byValue });
    expect(err.data).toMatchObject({ reason: "study_recreated" });
  });

  it("is refused by pareto_front with reason study_recreated", async () => {
    await frontOf("mo", 40);
    const cursor = structuredOf(await call("pareto_front", { study: "mo", max_chars: 2000 })).next_cursor as string;
    expect(cursor).toEqual(expect.any(String));
    await recreate("mo", () => frontOf("mo", 40));
    const r = await call("pareto_front", { study: "mo", cursor });
    expect(r.isError, textOf(r)).toBe(true);
    expect(textOf(r)).toMatch(/^Error INVALID_ARGUMENT: cursor was made for study 'mo' created at .*start again without a cursor/);
    expect(errorOf(r)).toMatchObject({ data: { reason: "study_recreated" } });
  });

  it("of the version that bound cursors to the name only is refused as of an earlier version", async () => {
    await studyOf("alpha", 4);
    const cursor = ((await service.execute("trials", { study: "alpha", limit: 1 })) as Page).next_cursor as string;
    const { ca: _ca, ...nameOnly } = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as Record<string, unknown>;
    expect((await refusal("trials", { study: "alpha", cursor: b64(nameOnly) })).message).toMatch(/^cursor is not a trials cursor: .*cursors of earlier versions are not read/);
  });
});

describe("an export_study cursor", () => {
  it("continues its own study's export, and is refused with reason study_recreated once the study was deleted and created again under its name", async () => {
    await studyOf("alpha", 40);
    const first = await call("export_study", { study: "alpha", max_chars: 2000 });
    const cursor = structuredOf(first).next_cursor as string;
    expect(cursor).toEqual(expect.any(String));
    const next = await call("export_study", { study: "alpha", max_chars: 2000, cursor });
    expect(next.isError, textOf(next)).toBeFalsy();
    expect(structuredOf(next).from_line).toBe(structuredOf(first).n_lines);
    expect((await call("delete_study", { study: "alpha", confirm: true })).isError).toBeFalsy();
    await studyOf("alpha", 40);
    const r = await call("export_study", { study: "alpha", max_chars: 2000, cursor });
    expect(r.isError, textOf(r)).toBe(true);
    expect(textOf(r)).toMatch(/^Error INVALID_ARGUMENT: cursor was made for study 'alpha' created at .*start again without a cursor/);
    expect((r._meta as Record<string, { data?: Record<string, unknown> }>)["tuneport/error"]?.data).toMatchObject({ reason: "study_recreated" });
    // The op's cursor (ZeroMQ, the Python client) alike; and a bare line index, or the line and creation time alone, as earlier versions made, is refused.
    const opCursor = ((await service.execute("export_study", { study: "alpha", max_chars: 1000 })) as { next_cursor: string }).next_cursor;
    expect((await service.execute("export_study", { study: "alpha", cursor: opCursor })) as { lines: string[] }).toMatchObject({ lines: expect.any(Array) });
    for (const old of ["3", `3:${Math.round((await service.getStudy({ study: "alpha" })).created_at * 1000)}`])
      expect((await refusal("export_study", { study: "alpha", cursor: old })).message).toMatch(/^cursor is not a study export cursor: .*start again without a cursor \(cursors of earlier versions are not read\)/);
  });
});

describe("an export_study cursor past the end of the re-created study", () => {
  it("is refused with reason study_recreated, not as a cursor that is not of this export", async () => {
    await studyOf("alpha", 40);
    let cursor = ((await service.execute("export_study", { study: "alpha", max_chars: 1000 })) as { next_cursor: string }).next_cursor;
    // A later page's cursor: a line the re-created study (header and 2 trials) does not have.
    for (let i = 0; i < 3; i++) cursor = ((await service.execute("export_study", { study: "alpha", max_chars: 1000, cursor })) as { next_cursor: string }).next_cursor;
    expect(exportCursorLine(cursor)).toBeGreaterThan(3);
    expect((await call("delete_study", { study: "alpha", confirm: true })).isError).toBeFalsy();
    await studyOf("alpha", 2);
    const err = await refusal("export_study", { study: "alpha", cursor });
    expect(err.message).toMatch(/^cursor was made for study 'alpha' created at .*start again without a cursor/);
    expect(err.data).toMatchObject({ reason: "study_recreated" });
  });
});

describe("an export_study cursor of another study", () => {
  it("is refused naming the study it was made for, not as a re-created study, and never continues the other study's export", async () => {
    await studyOf("alpha", 40);
    await studyOf("beta", 40);
    const cursor = ((await service.execute("export_study", { study: "alpha", max_chars: 1000 })) as { next_cursor: string }).next_cursor;
    const err = await refusal("export_study", { study: "beta", cursor });
    expect(err.message).toMatch(/^cursor was made for study 'alpha', not 'beta': a next_cursor continues only the listing of the call that returned it/);
    expect(err.data).toEqual({ cursor_study: "alpha" });
  });
});

describe("the export_study tool on a study with a long name", () => {
  it("pages the whole export within the smallest budget, its cursor (which quotes the name) included", async () => {
    const name = "😀".repeat(200);
    await studyOf(name, 0);
    // Lines of some 450 characters: a page of the op holds three, of which two fit beside the cursor.
    for (let i = 0; i < 30; i++)
      await service.addTrial({ study: name, params: { x: i / 100 }, value: i, user_attrs: { pad: "p".repeat(300) } });
    const lines: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const r = await call("export_study", { study: name, max_chars: 2000, ...(cursor ? { cursor } : {}) });
      expect(r.isError ? textOf(r) : "", `page ${pages}`).toBe("");
      expect(resultChars(r)).toBeLessThanOrEqual(2000);
      const sc = structuredOf(r) as { n_lines: number; next_cursor: string | null };
      expect(sc.n_lines).toBeGreaterThan(0);
      lines.push(...textOf(r).split("\n").slice(0, sc.n_lines));
      if (sc.next_cursor === null) break;
      cursor = sc.next_cursor;
    }
    expect(lines).toEqual([...(await session.service.exportStudy(name))]);
  });
});
