/**
 * Multi-objective and constrained studies through the service, on SQLite files and PostgreSQL: directions,
 * values and constraints on tell, typed errors that store nothing, the Pareto front with its
 * hypervolume, a restart, the schema-3 migration of a file written before it, export/import.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import { MIGRATIONS } from "../storage/sqlite/sqlite-schema.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import type { Storage } from "../storage/storage.js";
import { dropSchema5 } from "../testing/sqlite-downgrade.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { StudyService } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } };

async function expectCode(p: Promise<unknown>, code: string, msg?: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TuneportError);
    expect((e as TuneportError).code).toBe(code);
    if (msg) expect((e as TuneportError).message).toMatch(msg);
    return;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

describe.each(storageBackends(inject("pgUrl")))("multi-objective studies on %s", (backend: StorageBackend) => {
  let location: string;
  let storage: Storage;
  let svc: StudyService;
  const open = async () => {
    storage = await backend.open(location);
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  };
  const close = async () => {
    await svc.close();
    await storage.close();
  };

  beforeEach(async () => {
    location = backend.location();
    await open();
  });
  afterEach(async () => {
    await close();
  });

  /** Asks a trial and tells `values` (and `constraints`). */
  async function run(study: string, values: number[], constraints?: number[]) {
    const a = await svc.ask({ study });
    return svc.tell({ study, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values, ...(constraints ? { constraints } : {}) });
  }

  it("keeps values and constraints, derives feasibility and the front, and survives a restart", async () => {
    const { study } = await svc.createStudy({ name: "mo", directions: ["minimize", "maximize"], space: SPACE, seed: 1 });
    expect(study.directions).toEqual(["minimize", "maximize"]);
    expect(study.direction).toBe("minimize");
    expect(study.strategy.name).toBe("auto"); // the default: MOTPE, then NSGA-II (auto-strategy.ts)
    const t0 = (await run("mo", [1, 1], [-1])).trial;
    expect(t0).toMatchObject({ values: [1, 1], value: null, constraints: [-1], feasible: true });
    await run("mo", [2, 3], [0]); // on the front
    await run("mo", [0, 9], [0.5]); // infeasible: not on the front, though it would dominate
    await run("mo", [3, 2], [-0.1]); // dominated by 1
    const check = async () => {
      const front = await svc.bestTrials({ study: "mo", history: true });
      expect(front.trials.map((t) => t.number)).toEqual([0, 1]);
      expect(front.n_complete).toBe(4);
      expect(front.n_feasible).toBe(3);
      expect(front.reference_point_source).toBe("derived");
      // min x in [1,2] (range 1 → ref 2.1), max y in [1,3] (range 2 → ref 0.8).
      expect(front.reference_point?.[0]).toBeCloseTo(2.1, 12);
      expect(front.reference_point?.[1]).toBeCloseTo(0.8, 12);
      // Two boxes (1.1 x 0.2 and 0.1 x 2.2) overlapping in 0.1 x 0.2.
      expect(front.hypervolume).toBeCloseTo(1.1 * 0.2 + 0.1 * 2.2 - 0.1 * 0.2, 12);
      expect(front.history?.map(([n]) => n)).toEqual([0, 1]);
      const infeasible = await svc.getTrial({ study: "mo", trial: 2 });
      expect(infeasible.feasible).toBe(false);
      expect((await svc.getStudy({ study: "mo" })).best_trial).toBeNull();
    };
    await check();
    await close();
    await open();
    await check();
    // Given reference point (request) wins over the derived one.
    const given = await svc.bestTrials({ study: "mo", reference_point: [4, 0] });
    expect(given.reference_point_source).toBe("given");
    expect(given.hypervolume).toBeCloseTo(3 * 1 + 2 * 2, 12);
    await expectCode(svc.bestTrials({ study: "mo", reference_point: [4] }), "INVALID_ARGUMENT", /2 objectives/);
  });

  it.each([
    ["random", {}],
    ["qmc", {}],
    ["grid", { values: { x: [0, 0.25, 0.5, 0.75, 1], y: [0, 0.5, 1] } }],
  ] as const)("runs the %s strategy unchanged on a constrained two-objective study", async (name, options) => {
    const study = `mo-${name}`;
    await svc.createStudy({ name: study, directions: ["minimize", "minimize"], space: SPACE, strategy: { name, options }, seed: 5 });
    const seen = new Set<string>();
    const told: { n: number; f: number[]; feasible: boolean }[] = [];
    for (let i = 0; i < 15; i++) {
      const a = await svc.ask({ study: study });
      const { x, y } = a.trial.params as { x: number; y: number };
      expect(x).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThanOrEqual(1);
      seen.add(`${x},${y}`);
      const f = [x, 1 - x + y];
      const c = [0.25 - x]; // feasible when x >= 0.25
      await svc.tell({ study, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values: f, constraints: c });
      told.push({ n: a.trial.number, f, feasible: (c[0] as number) <= 0 });
    }
    expect(seen.size).toBe(15); // no point twice (the grid's 15 all handed out)
    // best_trials: exactly the non-dominated feasible trials.
    const feasible = told.filter((t) => t.feasible);
    const expected = feasible
      .filter((t) => !feasible.some((u) => u !== t && u.f.every((v, k) => v <= (t.f[k] as number)) && u.f.some((v, k) => v < (t.f[k] as number))))
      .map((t) => t.n)
      .sort((a, b) => a - b);
    expect(expected.length).toBeGreaterThan(0);
    const front = await svc.bestTrials({ study });
    expect(front.trials.map((t) => t.number).sort((a, b) => a - b)).toEqual(expected);
    expect(front.n_feasible).toBe(feasible.length);
    if (name === "grid") await expectCode(svc.ask({ study }), "SEARCH_SPACE_EXHAUSTED");
  });

  it("refuses bad tells with a typed error and stores nothing", async () => {
    await svc.createStudy({ name: "mo", directions: ["minimize", "minimize"], space: SPACE, seed: 1 });
    await run("mo", [1, 1], [0.5, -1]);
    const a = await svc.ask({ study: "mo" });
    const tell = (over: Record<string, unknown>) =>
      svc.tell({ study: "mo", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", ...over } as never);
    await expectCode(tell({ values: [1] }), "INVALID_ARGUMENT", /2 objectives.*got 1 value/);
    await expectCode(tell({ values: [1, 2, 3], constraints: [0, 0] }), "INVALID_ARGUMENT", /got 3/);
    await expectCode(tell({ value: 1 }), "INVALID_ARGUMENT");
    await expectCode(tell({ values: [1, Number.NaN], constraints: [0, 0] }), "INVALID_ARGUMENT", /objective 1/);
    await expectCode(tell({ values: [1, 2] }), "INVALID_ARGUMENT", /carry 2 constraint values; got 0/);
    await expectCode(tell({ values: [1, 2], constraints: [0] }), "INVALID_ARGUMENT", /got 1/);
    await expectCode(tell({ values: [1, 2], constraints: [0, Number.NaN] }), "INVALID_ARGUMENT", /constraint 1/);
    await expectCode(svc.tell({ study: "mo", trial: a.trial.number, token: a.lease.token, state: "FAIL", constraints: [0, 0] }), "INVALID_ARGUMENT");
    // Through the op table (what ZeroMQ runs), ±infinity reaches the service's precise message
    // (the schema refused it first with "tell: constraints.0: Invalid input").
    const viaOps = (over: Record<string, unknown>) =>
      svc.execute("tell", { study: "mo", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", ...over });
    await expectCode(viaOps({ values: [1, 2], constraints: [0, Number.POSITIVE_INFINITY] }), "INVALID_ARGUMENT", /constraint 1 is not finite/);
    await expectCode(viaOps({ values: [1, 2], constraints: [Number.NEGATIVE_INFINITY, 0] }), "INVALID_ARGUMENT", /constraint 0 is not finite/);
    await expectCode(viaOps({ values: [1, Number.POSITIVE_INFINITY], constraints: [0, 0] }), "INVALID_ARGUMENT", /finite values.*objective 1/);
    const added = (constraints: number[]) => svc.execute("add_trial", { study: "mo", params: { x: 0.5, y: 0.5 }, values: [1, 2], constraints });
    await expectCode(added([0, Number.NaN]), "INVALID_ARGUMENT", /constraint 1 is NaN/);
    await expectCode(added([Number.POSITIVE_INFINITY, 0]), "INVALID_ARGUMENT", /constraint 0 is not finite/);
    const still = async () => {
      const t = await svc.getTrial({ study: "mo", trial: a.trial.number });
      expect(t).toMatchObject({ state: "RUNNING", values: null, constraints: null, feasible: null });
    };
    await still();
    await close();
    await open(); // nothing reached the file either
    await still();
    // The same lease still finishes the trial properly.
    const ok = await tell({ values: [0.5, 2], constraints: [-1, -1] });
    expect(ok.trial).toMatchObject({ state: "COMPLETE", values: [0.5, 2], feasible: true });
  });

  it("refuses directions that disagree on load_if_exists, one-objective strategies and schedulers", async () => {
    await svc.createStudy({ name: "mo", directions: ["minimize", "maximize"], space: SPACE });
    await expectCode(svc.createStudy({ name: "mo", load_if_exists: true, directions: ["minimize", "minimize"] }), "INVALID_ARGUMENT", /directions/);
    await expectCode(svc.createStudy({ name: "mo", load_if_exists: true, direction: "minimize" }), "INVALID_ARGUMENT", /directions/);
    await expectCode(svc.createStudy({ name: "mo", load_if_exists: true, directions: ["minimize"] }), "INVALID_ARGUMENT");
    expect((await svc.createStudy({ name: "mo", load_if_exists: true, directions: ["minimize", "maximize"] })).created).toBe(false);
    expect((await svc.createStudy({ name: "mo", load_if_exists: true })).created).toBe(false);
    await expectCode(svc.createStudy({ name: "one", load_if_exists: true, direction: "minimize", directions: ["maximize"] }), "INVALID_ARGUMENT", /disagrees/);
    await expectCode(svc.createStudy({ name: "t", directions: ["minimize", "minimize"], strategy: "cmaes" }), "INVALID_ARGUMENT", /optimises one objective.*random.*tpe/);
    await expectCode(
      svc.createStudy({ name: "s", directions: ["minimize", "minimize"], strategy: "random", scheduler: "median" }),
      "INVALID_ARGUMENT",
      /no single value to rank/,
    );
    await expectCode(svc.createStudy({ name: "r", directions: ["minimize", "minimize"], reference_point: [1] }), "INVALID_ARGUMENT", /reference_point/);
    expect((await svc.listStudies()).map((s) => s.name)).toEqual(["mo"]);
  });

  it("gives one-objective studies constraints: the best trial is the best feasible one", async () => {
    await svc.createStudy({ name: "c", direction: "maximize", space: SPACE, strategy: "random" });
    await run("c", [5], [1]);
    await run("c", [3], [-1]);
    const a = await svc.ask({ study: "c" });
    // protocol v1's value works with constraints too.
    await svc.tell({ study: "c", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 4, constraints: [0] });
    const best = await svc.best({ study: "c" });
    expect(best).toMatchObject({ number: 2, value: 4, values: [4], feasible: true });
    expect((await svc.bestTrials({ study: "c" })).trials.map((t) => t.number)).toEqual([2]);
  });

  it("answers a many-objective front's hypervolume at once, as an estimate that says so", async () => {
    // 40 points on a ten-objective front: exact WFG is exponential in the objectives (60 such points
    // held the server 6 s in best_trials and over 40 s in study_summary and the hypervolume plot).
    const d = 10;
    await svc.createStudy({ name: "many", space: SPACE, directions: new Array(d).fill("minimize") });
    for (let i = 0; i < 40; i++) {
      const v = Array.from({ length: d }, (_, k) => 1 + Math.sin(i * 1.7 + k * 2.3));
      const n = Math.hypot(...v);
      await run("many", v.map((x) => x / n));
    }
    const front = await svc.execute("best_trials", { study: "many", history: true });
    expect(front.trials.length).toBe(40);
    expect(front.hypervolume_exact).toBe(false);
    expect(front.hypervolume).toBeGreaterThan(0);
    expect(front.history?.at(-1)?.[1]).toBeGreaterThan(0);
    const summary = await svc.execute("study_summary", { study: "many" });
    expect(summary.front?.hypervolume_exact).toBe(false);
    expect(summary.text).toMatch(/hypervolume [^;]* \(estimate\)/);
    // Two objectives stay exact.
    await svc.createStudy({ name: "two", space: SPACE, directions: ["minimize", "minimize"] });
    await run("two", [1, 2]);
    expect((await svc.execute("best_trials", { study: "two" })).hypervolume_exact).toBe(true);
  });

  it("exports and imports a multi-objective study byte for byte", async () => {
    await svc.createStudy({ name: "mo", directions: ["maximize", "minimize", "minimize"], reference_point: [0, 10, 10], space: SPACE, seed: 3 });
    await run("mo", [0.5, 1, 2], [0.25]);
    await run("mo", [0.75, 3, 1], [-0.5]);
    const a = await svc.ask({ study: "mo" });
    await svc.tell({ study: "mo", trial: a.trial.number, token: a.lease.token, state: "FAIL", reason: "oom" });
    const text = [...svc.exportStudy("mo")].join("\n");
    await svc.importStudy(text, "copy");
    const again = [...svc.exportStudy("copy")].join("\n");
    expect(again.split("\n").slice(1)).toEqual(text.split("\n").slice(1));
    const front = await svc.bestTrials({ study: "copy" });
    expect(front.reference_point_source).toBe("given");
    expect(front.trials.map((t) => t.values)).toEqual([[0.75, 3, 1]]);
    expect(front.hypervolume).toBeCloseTo(0.75 * 7 * 9, 12);
    // A line whose values do not match the directions is refused.
    await expectCode(svc.importStudy(text.replace('"values":[0.5,1,2]', '"values":[0.5,1]'), "bad"), "INVALID_ARGUMENT");
  });
});

describe("schema 3 migration", () => {
  it("reads a file written before studies had several objectives as one-objective studies", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tp-mig-"));
    const path = join(dir, "old.db");
    try {
      // Write a study with today's code, then turn the file back into schema 2 as an older
      // tuneport left it: no vector columns, configs without `directions`, user_version 2.
      let storage = new SqliteStorage({ path });
      let svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
      await svc.createStudy({ name: "old", direction: "maximize", space: SPACE, strategy: "random" });
      for (const v of [0.25, 0.75]) {
        const a = await svc.ask({ study: "old" });
        await svc.tell({ study: "old", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: v });
      }
      await svc.close();
      await storage.close();
      const db = new Database(path);
      dropSchema5(db);
      db.exec("ALTER TABLE trials DROP COLUMN objective_values; ALTER TABLE trials DROP COLUMN constraint_values;");
      const row = db.prepare("SELECT id, config FROM studies").get() as { id: number; config: string };
      const cfg = JSON.parse(row.config) as Record<string, unknown>;
      delete cfg.directions;
      db.prepare("UPDATE studies SET config = ? WHERE id = ?").run(JSON.stringify(cfg), row.id);
      db.pragma("user_version = 2");
      db.close();

      storage = new SqliteStorage({ path });
      svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
      try {
        const s = await svc.getStudy({ study: "old" });
        expect(s.directions).toEqual(["maximize"]);
        expect(s.best_trial).toMatchObject({ number: 1, value: 0.75, values: [0.75], constraints: null, feasible: true });
        const a = await svc.ask({ study: "old" });
        // Old trials told no constraints, which fixes the count at 0.
        await expectCode(
          svc.tell({ study: "old", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5, constraints: [-1] }),
          "INVALID_ARGUMENT",
        );
        await svc.tell({ study: "old", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
        expect((await svc.getTrial({ study: "old", trial: 2 })).values).toEqual([0.5]);
      } finally {
        await svc.close();
        await storage.close();
      }
      const after = new Database(path, { readonly: true });
      expect(after.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
      const cols = (after.prepare("PRAGMA table_info(trials)").all() as { name: string }[]).map((c) => c.name);
      expect(cols).toEqual(expect.arrayContaining(["objective_values", "constraint_values"]));
      after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
