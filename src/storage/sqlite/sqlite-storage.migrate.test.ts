/**
 * Schema 4: stored replies move from a WITHOUT ROWID table keyed by the (random) request id to a
 * table in arrival order without an index. A file written before keeps answering retries of the
 * requests it stored; the writer finds replies through its in-memory map (a later row for an id
 * wins), read-only connections by a scan.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { paretoFront } from "../../domain/objectives.js";
import type { Direction } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { dropSchema5, dropSchema6 } from "../../testing/sqlite-downgrade.js";
import { MIGRATIONS } from "./sqlite-schema.js";
import { SqliteStorage } from "./sqlite-storage.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } } as const;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Turns a current file back into schema 3: request_log as schema 1 made it, same rows. */
function downgradeToSchema3(path: string): void {
  const db = new Database(path);
  dropSchema5(db);
  db.exec(`
    CREATE TABLE request_log_v3 (request_id TEXT PRIMARY KEY, op TEXT NOT NULL, reply BLOB NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO request_log_v3 SELECT request_id, op, reply, at FROM request_log;
    DROP TABLE request_log;
    ALTER TABLE request_log_v3 RENAME TO request_log;
  `);
  db.pragma("user_version = 3");
  db.close();
}

describe("schema 4 migration (stored replies in arrival order)", () => {
  it("keeps every stored reply of a schema-3 file: retries after the upgrade get the first answers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tp-mig4-"));
    dirs.push(dir);
    const path = join(dir, "old.db");
    let storage = new SqliteStorage({ path });
    let svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await svc.execute("create_study", { name: "s", space: SPACE, strategy: "random", seed: 3 }, { requestId: randomBytes(16).toString("hex") });
    const asks: { id: string; reply: unknown }[] = [];
    const tells: { id: string; args: Record<string, unknown>; reply: unknown }[] = [];
    for (let i = 0; i < 5; i++) {
      const id = randomBytes(16).toString("hex");
      const a = await svc.execute("ask", { study: "s" }, { requestId: id });
      asks.push({ id, reply: a });
      const tid = randomBytes(16).toString("hex");
      const args = { study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i / 10 };
      tells.push({ id: tid, args, reply: await svc.execute("tell", args, { requestId: tid }) });
    }
    await svc.close();
    await storage.close();
    downgradeToSchema3(path);

    storage = new SqliteStorage({ path });
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    try {
      // A retried ask gets its first trial back rather than a new one; a retried tell its reply.
      for (const a of asks) expect(await svc.execute("ask", { study: "s" }, { requestId: a.id })).toEqual(a.reply);
      for (const t of tells) expect(await svc.execute("tell", t.args, { requestId: t.id })).toEqual(t.reply);
      expect((await svc.getStudy({ study: "s" })).n_trials).toBe(5);
      // New requests are stored in the new table and answered once.
      const id = randomBytes(16).toString("hex");
      const fresh = await svc.execute("ask", { study: "s" }, { requestId: id });
      expect(fresh.trial.number).toBe(5);
      expect(await svc.execute("ask", { study: "s" }, { requestId: id })).toEqual(fresh);
    } finally {
      await svc.close();
      await storage.close();
    }

    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
      const cols = (db.prepare("PRAGMA table_info(request_log)").all() as { name: string; pk: number }[]).map((c) => [c.name, c.pk]);
      expect(cols).toEqual([["seq", 1], ["request_id", 0], ["op", 0], ["reply", 0], ["at", 0]]);
      // 1 create + 5 asks + 5 tells before, 1 ask after; in the order they were stored.
      expect(db.prepare("SELECT COUNT(*) FROM request_log").pluck().get()).toBe(12);
      const ids = db.prepare("SELECT request_id FROM request_log WHERE op != 'create_study' ORDER BY seq").pluck().all();
      expect(ids.slice(0, 10).sort()).toEqual([...asks.map((a) => a.id), ...tells.map((t) => t.id)].sort());
    } finally {
      db.close();
    }
    // No index on request_id (every insert would land on a random page again): the writer finds
    // replies through its in-memory map, rebuilt from the table on open, where a later row wins.
    const w = new Database(path);
    try {
      expect(w.prepare("PRAGMA index_list(request_log)").all()).toEqual([]);
      w.prepare("INSERT INTO request_log (request_id, op, reply, at) VALUES (?, 'ask', x'0102', 1)").run(asks[0]?.id);
    } finally {
      w.close();
    }
    const reopened = new SqliteStorage({ path });
    try {
      expect(await reopened.getReply(asks[0]?.id as string)).toEqual(new Uint8Array([1, 2]));
      const ro = new SqliteStorage({ path, readonly: true });
      try {
        expect(await ro.getReply(asks[0]?.id as string)).toEqual(new Uint8Array([1, 2]));
        expect(await ro.getReply(tells[0]?.id as string)).not.toBeNull();
        expect(await ro.getReply("never-sent")).toBeNull();
      } finally {
        await ro.close();
      }
    } finally {
      await reopened.close();
    }
  });
});

describe("schema 5 migration (counts by state, distribution lists, the value index)", () => {
  it("backfills what the triggers keep, and the triggers keep it through asks, tells, define-by-run and deletes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tp-mig5-"));
    dirs.push(dir);
    const path = join(dir, "old.db");
    const dump = (file: string) => {
      const db = new Database(file, { readonly: true });
      try {
        return {
          counts: db.prepare("SELECT study_id, state, n FROM study_state_counts WHERE n > 0 ORDER BY study_id, state").all(),
          lists: db.prepare("SELECT study_id, name, distribution, first_number FROM study_param_distributions ORDER BY study_id, first_number, name").all(),
          truth: db.prepare("SELECT study_id, state, COUNT(*) AS n FROM trials GROUP BY study_id, state ORDER BY study_id, state").all(),
        };
      } finally {
        db.close();
      }
    };
    const play = async (svc: StudyService, study: string, plan: string[]) => {
      for (const step of plan) {
        const a = await svc.execute("ask", { study });
        const token = a.lease.token;
        if (step === "dbr") await svc.execute("suggest", { study, trial: a.trial.number, token, name: "n", distribution: { type: "int", low: 1, high: 3 } });
        if (step !== "RUNNING")
          await svc.execute("tell", { study, trial: a.trial.number, token, state: step === "PRUNED" || step === "FAIL" ? step : "COMPLETE", value: step === "PRUNED" || step === "FAIL" ? undefined : 0.5 });
      }
    };
    let storage = new SqliteStorage({ path });
    let svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    for (const name of ["a", "b", "gone"]) await svc.execute("create_study", { name, space: SPACE, strategy: "random", seed: 3 });
    await play(svc, "a", ["COMPLETE", "PRUNED", "dbr", "RUNNING", "FAIL", "dbr"]);
    await play(svc, "b", ["RUNNING", "COMPLETE"]);
    await play(svc, "gone", ["COMPLETE", "dbr"]);
    await svc.execute("delete_study", { study: "gone" });
    await svc.close();
    await storage.close();
    const kept = dump(path);
    expect(kept.counts).toEqual(kept.truth);
    const firsts = (d: typeof kept, study: number) => [...new Set(d.lists.filter((r) => (r as { study_id: number }).study_id === study).map((r) => (r as { first_number: number }).first_number))];
    expect(firsts(kept, 1)).toEqual([0, 2]); // the declared parameters at 0, the define-by-run "n" at 2
    expect(kept.lists.some((r) => (r as { study_id: number }).study_id === 3)).toBe(false);

    // The same file at schema 4, migrated again: the backfill gives what the triggers kept.
    const db = new Database(path);
    dropSchema5(db);
    db.pragma("user_version = 4");
    db.close();
    storage = new SqliteStorage({ path });
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    expect(dump(path)).toEqual(kept);
    await play(svc, "b", ["dbr", "PRUNED", "RUNNING"]);
    await svc.close();
    await storage.close();
    const after = dump(path);
    expect(after.counts).toEqual(after.truth);
    expect(firsts(after, 2)).toEqual([0, 2]);
  });
});

describe("schema 6 migration (the Pareto fronts and infeasible counts kept on write)", () => {
  /** What the file keeps against what its trials say: front members and infeasible counts per study. */
  const kept = (file: string) => {
    const db = new Database(file, { readonly: true });
    try {
      const studies = db.prepare("SELECT id, config FROM studies ORDER BY id").all() as { id: number; config: string }[];
      return studies.map(({ id, config }) => {
        const directions = (JSON.parse(config) as { directions: Direction[] }).directions;
        const rows = db.prepare("SELECT number, state, objective_values, constraint_values FROM trials WHERE study_id = ? ORDER BY number").all(id) as
          { number: number; state: string; objective_values: string | null; constraint_values: string | null }[];
        const trials = rows.map((r) => ({
          number: r.number,
          state: r.state as "COMPLETE",
          values: r.objective_values === null ? null : (JSON.parse(r.objective_values) as number[]),
          constraints: r.constraint_values === null ? null : (JSON.parse(r.constraint_values) as number[]),
        }));
        return {
          id,
          front: db.prepare("SELECT number FROM pareto_front WHERE study_id = ? ORDER BY number").pluck().all(id),
          truthFront: directions.length > 1 ? paretoFront(directions, trials).map((t) => t.number) : [],
          infeasible: (db.prepare("SELECT n FROM study_infeasible WHERE study_id = ?").pluck().get(id) as number | undefined) ?? 0,
          truthInfeasible: trials.filter((t) => t.state === "COMPLETE" && (t.constraints ?? []).some((c) => c > 0)).length,
        };
      });
    } finally {
      db.close();
    }
  };
  /** `n` trials on a random trade-off (values on a coarse grid, so that equal points occur), some infeasible, pruned or left running. */
  const play = async (svc: StudyService, study: string, directions: Direction[], n: number, rng: Rng) => {
    const m = directions.length;
    for (let i = 0; i < n; i++) {
      const a = await svc.execute("ask", { study });
      const token = a.lease.token;
      const u = rng.random();
      if (u < 0.1) continue;
      if (u < 0.2) {
        await svc.execute("tell", { study, trial: a.trial.number, token, state: "PRUNED" });
        continue;
      }
      const x = Array.from({ length: m }, () => Math.round(rng.random() * 8) / 8);
      // In minimisation form the last objective trades off against the mean of the others.
      const mf = x.map((v, k) => (k === m - 1 ? 1 - x.slice(0, -1).reduce((s, y) => s + y, 0) / (m - 1) + v / 4 : v));
      const values = mf.map((v, k) => (directions[k] === "maximize" ? -v : v));
      await svc.execute("tell", { study, trial: a.trial.number, token, state: "COMPLETE", values, constraints: [rng.random() < 0.2 ? 1 : -1] });
    }
  };

  it("keeps each multi-objective study's front and infeasible count as its trials say, and backfills the same", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tp-mig6-"));
    dirs.push(dir);
    const path = join(dir, "old.db");
    const rng = new Rng(6);
    let storage = new SqliteStorage({ path });
    let svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    const TWO: Direction[] = ["minimize", "maximize"];
    const THREE: Direction[] = ["maximize", "minimize", "minimize"];
    await svc.execute("create_study", { name: "two", space: SPACE, strategy: "random", directions: TWO });
    await svc.execute("create_study", { name: "three", space: SPACE, strategy: "random", directions: THREE });
    await svc.execute("create_study", { name: "gone", space: SPACE, strategy: "random", directions: ["minimize", "minimize"] });
    await svc.execute("create_study", { name: "one", space: SPACE, strategy: "random" });
    await play(svc, "two", TWO, 120, rng);
    await play(svc, "three", THREE, 120, rng);
    await play(svc, "gone", ["minimize", "minimize"], 20, rng);
    for (let i = 0; i < 5; i++) {
      const a = await svc.execute("ask", { study: "one" });
      await svc.execute("tell", { study: "one", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i, constraints: [i % 2 ? 1 : 0] });
    }
    await svc.execute("delete_study", { study: "gone" });
    await svc.close();
    await storage.close();
    const before = kept(path);
    for (const k of before) {
      expect(k.front).toEqual(k.truthFront);
      expect(k.infeasible).toBe(k.truthInfeasible);
    }
    // Not vacuous: fronts of several trials, in both studies, and infeasible trials in each.
    expect(before.map((k) => k.front.length)).toEqual([expect.any(Number), expect.any(Number), 0]);
    expect(Math.min(before[0]?.front.length ?? 0, before[1]?.front.length ?? 0)).toBeGreaterThan(3);
    expect(before.every((k) => k.infeasible > 0)).toBe(true);
    expect(before.map((k) => k.id)).not.toContain(3);

    // The same file at schema 5, migrated again: the backfill gives what was kept on write, and
    // writing goes on from there.
    const db = new Database(path);
    dropSchema6(db);
    db.pragma("user_version = 5");
    db.close();
    storage = new SqliteStorage({ path });
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    expect(kept(path)).toEqual(before);
    await play(svc, "two", TWO, 60, rng);
    await play(svc, "three", THREE, 60, rng);
    await svc.close();
    await storage.close();
    const after = kept(path);
    for (const k of after) {
      expect(k.front).toEqual(k.truthFront);
      expect(k.infeasible).toBe(k.truthInfeasible);
    }
    expect(after).not.toEqual(before);
  });
});
