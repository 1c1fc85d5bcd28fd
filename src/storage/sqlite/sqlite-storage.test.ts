import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { paretoFront } from "../../domain/objectives.js";
import { checkSummaryReader, storageConformance, storedTrialOf, studyOf } from "../../testing/storage.case.js";
import { FRONT_MAX } from "../front-keeper.js";
import type { StoredTrial } from "../storage.js";
import { SqliteStorage } from "./sqlite-storage.js";

storageConformance("sqlite :memory:", {
  open: () => ({ storage: new SqliteStorage({ path: ":memory:" }) }),
  skip: { durable: "an in-memory database ends with its connection (the file variant below checks durability)" },
});

storageConformance("sqlite file", {
  open: () => {
    const dir = mkdtempSync(join(tmpdir(), "tuneport-storage-"));
    const path = join(dir, "studies.db");
    let current = new SqliteStorage({ path });
    return {
      storage: current,
      reopen: async () => {
        await current.close();
        current = new SqliteStorage({ path });
        return current;
      },
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});

describe("sqlite summaries (tuneport studies list)", () => {
  it("counts by state and finds the best feasible trial in one pass, the lowest number on ties", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    try {
      await checkSummaryReader(storage);
    } finally {
      await storage.close();
    }
  });
});

describe("sqlite keeps multi-objective fronts on write (front-keeper.ts)", () => {
  const DIRS = ["minimize", "maximize"] as const;
  const done = (id: number, number: number, values: number[] | null, over: Partial<StoredTrial> = {}): StoredTrial =>
    storedTrialOf(id, 1, number, { state: values === null ? "FAIL" : "COMPLETE", values, lease: null, finishedAt: 1, ...over });
  /** The kept front's numbers, after checking them against the front of every stored trial. */
  const keptNumbers = async (storage: SqliteStorage): Promise<number[]> => {
    const kept = await storage.quickFront(1, [...DIRS]);
    const truth = paretoFront([...DIRS], await storage.loadTrials(1)).map((t) => t.number);
    expect(kept?.trials.map((t) => t.number)).toEqual(truth);
    return truth;
  };

  it("follows members that leave the front or change, equal points, and batches that roll back", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    try {
      await storage.commit([{ kind: "insert-study", study: studyOf(1, "mo", { config: { ...studyOf(1, "mo").config, directions: [...DIRS] } }) }]);
      await storage.commit([
        { kind: "insert-trial", trial: done(1, 0, [1, 1]) },
        { kind: "insert-trial", trial: done(2, 1, [2, 3]) },
        { kind: "insert-trial", trial: done(3, 2, [1, 1]) }, // equal to trial 0: both on the front
        { kind: "insert-trial", trial: done(4, 3, [3, 2]) }, // dominated by trial 1
        { kind: "insert-trial", trial: done(5, 4, [0.5, 0.5], { constraints: [1] }) }, // infeasible
      ]);
      expect(await keptNumbers(storage)).toEqual([0, 1, 2]);
      // An attribute changes on a member: nothing moves.
      await storage.commit([{ kind: "update-trial", trial: done(2, 1, [2, 3], { userAttrs: { seen: true } }) }]);
      expect(await keptNumbers(storage)).toEqual([0, 1, 2]);
      // A member leaves COMPLETE: what it dominated comes back.
      await storage.commit([{ kind: "update-trial", trial: done(2, 1, null) }]);
      expect(await keptNumbers(storage)).toEqual([0, 2, 3]);
      // A member's values change, or it turns infeasible.
      await storage.commit([{ kind: "update-trial", trial: done(4, 3, [0, 0]) }]);
      expect(await keptNumbers(storage)).toEqual([0, 2, 3]);
      await storage.commit([{ kind: "update-trial", trial: done(4, 3, [0, 0], { constraints: [2] }) }]);
      expect(await keptNumbers(storage)).toEqual([0, 2]);
      expect((await storage.quickFront(1, [...DIRS]))?.infeasible).toBe(2);
      await storage.commit([{ kind: "update-trial", trial: done(5, 4, [0.5, 0.5], { constraints: [-1] }) }]); // feasible now
      expect(await keptNumbers(storage)).toEqual([0, 2, 4]);
      expect((await storage.quickFront(1, [...DIRS]))?.infeasible).toBe(1);
      // A batch that dominates the whole front and then fails rolls back with its front rows; the
      // next batch starts from the stored front, not from the rolled-back one kept in memory.
      await expect(
        storage.commit([{ kind: "insert-trial", trial: done(6, 6, [0, 9]) }, { kind: "insert-trial", trial: done(6, 7, [5, 5]) }]),
      ).rejects.toThrow();
      expect(await keptNumbers(storage)).toEqual([0, 2, 4]);
      await storage.commit([{ kind: "insert-trial", trial: done(7, 5, [1, 1]) }]);
      expect(await keptNumbers(storage)).toEqual([0, 2, 4, 5]);
      expect((await storage.quickFront(1, [...DIRS]))?.infeasible).toBe(1);
      // The first write after a rollback (the caches dropped) changes a member: the front is
      // compared with the row as it was, not loaded with the new values.
      await expect(storage.commit([{ kind: "insert-trial", trial: done(7, 9, [0, 0]) }])).rejects.toThrow();
      await storage.commit([{ kind: "update-trial", trial: done(5, 4, [5, -5], { constraints: [-1] }) }]);
      expect(await keptNumbers(storage)).toEqual([0, 2, 5]);
    } finally {
      await storage.close();
    }
  });

  it("drops a front of more than FRONT_MAX members for good; its readers compute it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tuneport-front-"));
    const path = join(dir, "studies.db");
    let storage = new SqliteStorage({ path });
    try {
      await storage.commit([{ kind: "insert-study", study: studyOf(1, "mo", { config: { ...studyOf(1, "mo").config, directions: [...DIRS] } }) }]);
      // Every trial on one exact trade-off (minimise x, maximise x): all on the front.
      const line = (from: number, n: number) =>
        Array.from({ length: n }, (_, i) => ({ kind: "insert-trial" as const, trial: done(from + i + 1, from + i, [from + i, from + i]) }));
      await storage.commit(line(0, FRONT_MAX));
      expect((await keptNumbers(storage)).length).toBe(FRONT_MAX);
      await storage.commit(line(FRONT_MAX, 1));
      expect(await storage.quickFront(1, [...DIRS])).toBeNull();
      // Later trials leave no rows, even one that dominates the whole line, also after a reopen.
      await storage.close();
      storage = new SqliteStorage({ path });
      await storage.commit([{ kind: "insert-trial", trial: done(FRONT_MAX + 2, FRONT_MAX + 1, [-1, 1e9]) }]);
      expect(await storage.quickFront(1, [...DIRS])).toBeNull();
      await storage.close();
      const raw = new Database(path, { readonly: true });
      expect(raw.prepare("SELECT COUNT(*) FROM pareto_front").pluck().get()).toBe(0);
      raw.close();
      storage = new SqliteStorage({ path });
    } finally {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
