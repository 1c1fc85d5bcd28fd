/**
 * The dashboard's reads through the op table: `query_trials` (filter, sort, page),
 * `studies_overview` and `plot_spec`, on a real in-memory SQLite service. Expected pages are
 * computed independently from `trials` (every trial), so a wrong filter or order fails.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../logger.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { StudyService } from "./study-service.js";
import { jsonPrefix } from "./trial-query.js";

const SPACE = {
  lr: { type: "float", low: 1e-4, high: 1, log: true },
  act: { type: "categorical", choices: ["relu", "gelu", "tanh"] },
};

describe("dashboard reads", () => {
  let now = 1_000_000;
  let storage: SqliteStorage;
  let svc: StudyService;

  beforeEach(async () => {
    now = 1_000_000;
    storage = new SqliteStorage({ path: ":memory:" });
    svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
    await svc.execute("create_study", { name: "q", space: SPACE, strategy: "random", seed: 3, lease_ttl_s: 600 });
    // 40 trials: most complete, every 5th failed, every 7th left running.
    for (let i = 0; i < 40; i++) {
      const a = await svc.execute("ask", { study: "q" });
      now += 1000 + (i % 3) * 500;
      const n = a.trial.number;
      if (i % 7 === 6) continue;
      if (i % 5 === 4) await svc.execute("tell", { study: "q", trial: n, token: a.lease.token, state: "FAIL" });
      else await svc.execute("tell", { study: "q", trial: n, token: a.lease.token, state: "COMPLETE", value: ((n * 37) % 40) / 10 });
    }
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  // Whole views (no projection asked): the typed overload of listTrials.
  const all = async () => (await svc.listTrials({ study: "q" })).trials;

  it("filters by state and parameter range, sorts by a parameter and pages", async () => {
    const want = (await all())
      .filter((t) => t.state === "COMPLETE" && (t.params.lr as number) >= 0.001 && (t.params.lr as number) <= 0.1)
      .sort((a, b) => (b.params.lr as number) - (a.params.lr as number));
    expect(want.length).toBeGreaterThan(8);
    const args = { study: "q", states: ["COMPLETE"], ranges: { lr: { min: 0.001, max: 0.1 } }, sort: "params.lr", descending: true, limit: 5 };
    const p1 = await svc.execute("query_trials", args);
    const p2 = await svc.execute("query_trials", { ...args, offset: 5 });
    expect(p1.total).toBe(40);
    expect(p1.matched).toBe(want.length);
    expect([...p1.rows, ...p2.rows].map((r) => r.number)).toEqual(want.slice(0, 10).map((t) => t.number));
    expect(p1.params).toEqual(["lr", "act"]);
  });

  it("sorts by value with trials without one last in both directions, and filters categorical choices", async () => {
    const everything = await all();
    const valued = everything.filter((t) => t.value !== null).length;
    for (const descending of [false, true]) {
      const page = await svc.execute("query_trials", { study: "q", sort: "value", descending, limit: 1000 });
      const values = page.rows.map((r) => r.value);
      expect(values.slice(valued).every((v) => v === null)).toBe(true);
      const head = values.slice(0, valued) as number[];
      expect(head).toEqual([...head].sort((a, b) => (descending ? b - a : a - b)));
    }
    const gelu = await svc.execute("query_trials", { study: "q", choices: { act: ["gelu"] }, limit: 1000 });
    expect(gelu.rows.map((r) => r.number)).toEqual(everything.filter((t) => t.params.act === "gelu").map((t) => t.number));
  });

  it("reads each filter's allowed choices once per query, not once per trial", async () => {
    // Scanning 1,000 allowed values per parameter per trial held the event loop 0.9 s at 5,000 trials of 200 parameters.
    const everything = await all();
    const allowed = [...Array.from({ length: 998 }, (_, i) => `other${i}`), "relu", "gelu"];
    const some = vi.spyOn(Array.prototype, "some");
    const includes = vi.spyOn(Array.prototype, "includes");
    try {
      const page = await svc.execute("query_trials", { study: "q", choices: { act: allowed }, limit: 1000 });
      expect(page.rows.map((r) => r.number)).toEqual(everything.filter((t) => t.params.act !== "tanh").map((t) => t.number));
      expect(some.mock.calls.length + includes.mock.calls.length).toBeLessThan(everything.length / 2);
    } finally {
      some.mockRestore();
      includes.mockRestore();
    }
  });

  it("gives multi-objective rows their values vector and sorts by one objective", async () => {
    await svc.execute("create_study", { name: "mo", space: SPACE, strategy: "random", seed: 5, directions: ["minimize", "maximize"] });
    const told: { number: number; values: number[] | null }[] = [];
    for (let i = 0; i < 12; i++) {
      const a = await svc.execute("ask", { study: "mo" });
      if (i === 11) {
        told.push({ number: a.trial.number, values: null });
        continue;
      }
      const values = [((i * 7) % 12) / 4, ((i * 5) % 12) / 3];
      await svc.execute("tell", { study: "mo", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values });
      told.push({ number: a.trial.number, values });
    }
    const byObj1 = await svc.execute("query_trials", { study: "mo", sort: "values.1", descending: true, limit: 100 });
    const want = told.filter((t) => t.values !== null).sort((a, b) => (b.values as number[])[1]! - (a.values as number[])[1]! || a.number - b.number);
    expect(byObj1.rows.map((r) => r.number)).toEqual([...want.map((t) => t.number), told[11]!.number]);
    expect(byObj1.rows.map((r) => r.values)).toEqual([...want.map((t) => t.values), null]);
    expect(byObj1.rows[0]!.value).toBeNull();
  });

  it("says each row's feasibility and whether the study has constraints; the overview lists every direction", async () => {
    expect((await svc.execute("query_trials", { study: "q" })).constrained).toBe(false);
    await svc.execute("create_study", { name: "c", space: SPACE, directions: ["minimize", "maximize"], strategy: "random", seed: 1 });
    for (const c of [-1, 0.5]) await svc.execute("add_trial", { study: "c", params: { lr: 0.1, act: "relu" }, values: [1, 2], constraints: [c] });
    await svc.execute("add_trial", { study: "c", params: { lr: 0.1, act: "relu" }, state: "FAIL" });
    const page = await svc.execute("query_trials", { study: "c", sort: "number" });
    expect(page.constrained).toBe(true);
    expect(page.rows.map((r) => [r.number, r.feasible])).toEqual([[0, true], [1, false], [2, null]]);
    const lines = (await svc.execute("studies_overview", {})).studies;
    expect(lines.map((o) => [o.name, o.direction, o.directions])).toEqual([["q", "minimize", ["minimize"]], ["c", "minimize", ["minimize", "maximize"]]]);
  });

  it("refuses an unknown sort key", async () => {
    await expect(svc.execute("query_trials", { study: "q", sort: "colour" })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    // Keys of the right form that name nothing in the study: rows came back in no stated order.
    await expect(svc.execute("query_trials", { study: "q", sort: "params.__proto__" })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/no parameter "__proto__"; its parameters are lr, act/) });
    await expect(svc.execute("query_trials", { study: "q", sort: "values.1" })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/has 1 objective\(s\), values.0 to values.0/) });
    expect((await svc.execute("query_trials", { study: "q", sort: "values.0" })).rows.length).toBeGreaterThan(0);
    expect((await svc.execute("query_trials", { study: "q", sort: "user_attrs.later" })).rows.length).toBeGreaterThan(0);
  });

  it("sums the study up in one overview line", async () => {
    const trials = await all();
    const [o] = (await svc.execute("studies_overview", {})).studies;
    const complete = trials.filter((t) => t.state === "COMPLETE");
    expect(o).toMatchObject({ name: "q", n_trials: 40, strategy: "random", stopped: false });
    expect(o?.counts.COMPLETE).toBe(complete.length);
    expect(o?.counts.RUNNING).toBe(trials.filter((t) => t.state === "RUNNING").length);
    expect(o?.best?.value).toBe(Math.min(...complete.map((t) => t.value as number)));
    expect(o?.live_workers).toBe(o?.counts.RUNNING);
    now += 601 * 1000; // every lease has expired: nobody at work
    expect((await svc.execute("studies_overview", {})).studies[0]?.live_workers).toBe(0);
  });

  it("gives the Vega-Lite spec that plot renders, optionally for chosen trials", async () => {
    const full = await svc.execute("plot_spec", { study: "q", kind: "history" });
    expect(full.kind).toBe("history");
    expect(JSON.stringify(full.spec)).toContain("vega-lite");
    const one = await svc.execute("plot_spec", { study: "q", kind: "edf", trials: [0, 1, 2] });
    expect(one.caption).toMatch(/over [1-3] complete trials?:/);
    // A trial number the study does not have: it said "no finished trial to plot yet" of a study with 30.
    await expect(svc.execute("plot_spec", { study: "q", kind: "history", trials: [2, 1_000_000_000] })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: "study 'q' has no trial 1000000000 (its trials are numbered 0 to 39)",
    });
  });

  it("jsonPrefix is JSON.stringify's text cut at max characters, written only that far", () => {
    const values: unknown[] = [
      { a: 1, b: [1, "x", null, undefined, () => 1], c: { d: true, e: undefined } },
      [1, 2, { x: 'y"z' }],
      { s: "é😀\n\u0000" },
      { big: "q".repeat(5000), after: 1 },
      [[[[]]]],
      {},
      [],
      { n: -0, i: 1e21, f: 1.5, nan: Number.NaN, inf: Number.POSITIVE_INFINITY },
      { date: new Date(0) },
    ];
    for (const v of values) for (const max of [1, 5, 20, 1000, 100_000]) expect(jsonPrefix(v, max), `${JSON.stringify(v).slice(0, 40)} at ${max}`).toBe(JSON.stringify(v).slice(0, max));
  });

  it("jsonPrefix reads no value of a wide object past its prefix", () => {
    // A 60 KB user attribute of 5,000 keys: Object.entries read every value, and sorting 5,000
    // trials by it took twice as long as writing each one's JSON whole (what the prefix replaced).
    const wide: Record<string, number> = {};
    for (let i = 0; i < 5000; i++) wide[`k${i}`] = i;
    const read = new Set<string | symbol>();
    const watched = new Proxy(wide, { get: (o, k) => (read.add(k), Reflect.get(o, k)) });
    expect(jsonPrefix(watched, 1000)).toBe(JSON.stringify(wide).slice(0, 1000));
    // The keys written (about 1,000 characters of `"kN":N`), not the 5,000.
    expect(read.size).toBeLessThan(200);
  });
});
