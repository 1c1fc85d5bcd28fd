/**
 * `report` appends a trial's intermediate value in place (a copy per report made a trial's
 * reports O(n²)); a report refused after that (a scheduler that throws) takes its value back, so
 * memory never holds a value storage does not. Real in-memory SQLite service.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { SchedulerFactory } from "../domain/plugin.js";
import { silentLogger } from "../logger.js";
import { SCHEDULERS } from "../schedulers/index.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { StudyService } from "./study-service.js";

const brokenFrom3: SchedulerFactory<Record<string, never>> = {
  name: "broken-from-3",
  description: "Throws on a report at step 3 or later (a plug-in bug).",
  options: z.object({}).strict(),
  create: () => ({
    onReport: (req) => {
      if (req.step >= 3) throw new Error("scheduler bug");
      return null;
    },
  }),
};

/** Answers every report with an update whose `x` is NaN (a plug-in's overflowed step) and whose `y` is valid. */
const nanUpdate: SchedulerFactory<Record<string, never>> = {
  name: "nan-update",
  description: "Proposes an invalid value for x (a plug-in bug).",
  options: z.object({}).strict(),
  create: () => ({ onReport: () => ({ decision: { action: "update", params: { x: Number.NaN, y: 0.25 } } }) }),
};

describe("report", () => {
  it("keeps a refused report's value out of memory, as out of storage, and appends the others in order", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, schedulers: [...SCHEDULERS.values(), brokenFrom3] });
    try {
      await svc.execute("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } }, scheduler: "broken-from-3" });
      const q = await svc.execute("ask", { study: "s" });
      const report = (step: number) => svc.execute("report", { study: "s", trial: q.trial.number, token: q.lease.token, step, value: step / 10 });
      for (const step of [0, 1, 2]) await report(step);
      await report(2); // the same step and value again: answered, nothing stored
      await expect(report(3)).rejects.toThrow();
      await expect(report(4)).rejects.toThrow();
      const { trial } = await svc.execute("trial", { study: "s", trial: q.trial.number });
      expect(trial.intermediate).toEqual([[0, 0], [1, 0.1], [2, 0.2]]);
      const stored = await storage.loadTrials((await storage.listStudies())[0]!.id);
      expect(stored[0]?.intermediate).toEqual([{ step: 0, value: 0 }, { step: 1, value: 0.1 }, { step: 2, value: 0.2 }]);
    } finally {
      await svc.close();
      await storage.close();
    }
  });

  it("answers an update with what it stored: a value the plug-in got wrong is the trial's current one, not sent as proposed", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, schedulers: [...SCHEDULERS.values(), nanUpdate] });
    try {
      const space = { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } };
      await svc.execute("create_study", { name: "s", space, scheduler: "nan-update" });
      const q = await svc.execute("ask", { study: "s" });
      const r = await svc.execute("report", { study: "s", trial: q.trial.number, token: q.lease.token, step: 1, value: 0.5 });
      expect(r.decision).toEqual({ action: "update", params: { x: q.trial.params.x, y: 0.25 } });
      const { trial } = await svc.execute("trial", { study: "s", trial: q.trial.number });
      expect(trial.params).toEqual({ x: q.trial.params.x, y: 0.25 });
    } finally {
      await svc.close();
      await storage.close();
    }
  });
});
