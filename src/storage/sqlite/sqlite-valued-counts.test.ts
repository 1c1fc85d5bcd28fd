/**
 * Schema 9: SQLite keeps, per study and state, the count of trials with a value beside the count of
 * all (study_state_counts.valued, by triggers, as PostgreSQL's migration 3 does), and a page of
 * trials by value (`trialPage`, what `tuneport studies trials --sort value` reads) takes its `total`
 * and `without_value` from them: its COUNT(*) read every entry of the study's value index (about
 * 5 ms at 100,000 trials). The kept counts equal a count of the rows after every kind of write (asks,
 * tells with values, a NaN value (stored as NULL), failures, prunes, queued trials, a value removed or given without a change
 * of state, a study imported, a study deleted) and after the migration from schema 8, and so do the pages' totals.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { TrialState } from "../../domain/trial.js";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { dropSchema9 } from "../../testing/sqlite-downgrade.js";
import { SqliteStorage } from "./sqlite-storage.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } } as const;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

type Counts = { study_id: number; state: string; n: number; valued: number }[];

/** The kept counts and the same counted from the rows (states with no trial left out). */
function counts(path: string): { kept: Counts; truth: Counts } {
  const db = new Database(path, { readonly: true });
  try {
    const kept = db.prepare("SELECT study_id, state, n, valued FROM study_state_counts WHERE n <> 0 OR valued <> 0 ORDER BY study_id, state").all() as Counts;
    const truth = db
      .prepare("SELECT study_id, state, COUNT(*) AS n, COUNT(value) AS valued FROM trials GROUP BY study_id, state ORDER BY study_id, state")
      .all() as Counts;
    return { kept, truth };
  } finally {
    db.close();
  }
}

/** Every by-value page's total and without_value against the rows, for each study, direction-free filters of one, two and all states. */
async function checkPages(storage: SqliteStorage, path: string): Promise<void> {
  const { truth } = counts(path);
  const filters: (readonly TrialState[] | undefined)[] = [undefined, ["COMPLETE"], ["COMPLETE", "PRUNED"], ["FAIL", "RUNNING", "WAITING"]];
  for (const s of await storage.listStudies())
    for (const states of filters) {
      const rows = truth.filter((r) => r.study_id === s.id && (states === undefined || states.includes(r.state as TrialState)));
      const page = await storage.trialPage(s.id, { states, orderBy: "value", direction: "minimize", limit: 3 });
      expect([page.total, page.withoutValue]).toEqual([rows.reduce((a, r) => a + r.valued, 0), rows.reduce((a, r) => a + r.n - r.valued, 0)]);
      const byNumber = await storage.trialPage(s.id, { states, orderBy: "number", direction: "minimize", limit: 3 });
      expect(byNumber.total).toBe(rows.reduce((a, r) => a + r.n, 0));
    }
}

describe("counts of trials with a value (schema 9)", () => {
  it("are kept on every write and filled by the migration from schema 8; pages by value total from them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tp-valued-"));
    dirs.push(dir);
    const path = join(dir, "s.db");
    let storage = new SqliteStorage({ path });
    let svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    for (const name of ["a", "b", "gone"]) {
      await svc.execute("create_study", { name, space: SPACE, strategy: "random", seed: 1 });
      for (let i = 0; i < 12; i++) {
        const t = await svc.execute("ask", { study: name });
        const end = i % 6;
        if (end === 0) await svc.execute("tell", { study: name, trial: t.trial.number, token: t.lease.token, state: "COMPLETE", value: i });
        if (end === 1) await svc.execute("tell", { study: name, trial: t.trial.number, token: t.lease.token, state: "COMPLETE", value: -i });
        if (end === 2) await svc.execute("tell", { study: name, trial: t.trial.number, token: t.lease.token, state: "FAIL" });
        if (end === 3) await svc.execute("tell", { study: name, trial: t.trial.number, token: t.lease.token, state: "PRUNED", value: i });
        if (end === 4) await svc.execute("tell", { study: name, trial: t.trial.number, token: t.lease.token, state: "PRUNED" });
        // end 5: left RUNNING
      }
      await svc.execute("enqueue", { study: name, params: { x: 0.5 } });
    }
    await svc.execute("delete_study", { study: "gone" });
    // An import inserts its trials with their values (the insert trigger counts them, no update follows).
    await svc.importStudy([...svc.exportStudy("b")].join("\n"), "b-imported");
    await svc.close();
    // A value taken away and one given without a change of state (a stored row rewritten whole; storage allows it).
    const [a] = (await storage.listStudies()).filter((s) => s.name === "a");
    const trials = await storage.loadTrials(a!.id);
    const [complete, nan] = trials.filter((t) => t.state === "COMPLETE" && t.value !== null);
    const failed = trials.find((t) => t.state === "FAIL")!;
    await storage.commit([
      { kind: "update-trial", trial: { ...complete!, value: null, values: null } },
      { kind: "update-trial", trial: { ...nan!, value: Number.NaN, values: [Number.NaN] } }, // stored as NULL: no value
      { kind: "update-trial", trial: { ...failed, value: 7, values: [7] } },
    ]);
    let c = counts(path);
    expect(c.kept).toEqual(c.truth);
    expect(c.truth.some((r) => r.valued > 0 && r.valued < r.n)).toBe(true);
    await checkPages(storage, path);
    await storage.close();

    // Back to schema 8 (no valued column), then opened: the migration counts them.
    const db = new Database(path);
    dropSchema9(db);
    db.pragma("user_version = 8");
    db.close();
    storage = new SqliteStorage({ path });
    c = counts(path);
    expect(c.kept).toEqual(c.truth);
    await checkPages(storage, path);
    // And its triggers keep them: more trials after the migration.
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    for (let i = 0; i < 3; i++) {
      const t = await svc.execute("ask", { study: "b" });
      await svc.execute("tell", { study: "b", trial: t.trial.number, token: t.lease.token, state: i === 0 ? "FAIL" : "COMPLETE", ...(i === 0 ? {} : { value: i }) });
    }
    await svc.close();
    c = counts(path);
    expect(c.kept).toEqual(c.truth);
    await checkPages(storage, path);
    await storage.close();
  });
});
