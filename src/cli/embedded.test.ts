/**
 * `warmStudyPlots`: after a start, the charts a reader asks for first are drawn from the biggest
 * study, through the plot op, so that its first chart is served from the plot cache (or, once the
 * study changed, from warm code). Real in-memory SQLite service; the real renderer, counted.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import { type PlotKind, type PlotRendering, renderPlot } from "../service/plots.js";
import { StudyService } from "../service/study-service.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { warmStudyPlots } from "./embedded.js";

describe("warmStudyPlots", () => {
  let storage: SqliteStorage;
  let svc: StudyService;
  let drawn: Array<[string, PlotKind]> = [];
  const counting: PlotRendering = { render: (kind, study, ...rest) => (drawn.push([study.name, kind]), renderPlot(kind, study, ...rest)) };
  const space = { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } } as const;

  const addTrials = async (study: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const q = await svc.execute("ask", { study });
      const p = q.trial.params as { x: number; y: number };
      await svc.execute("tell", { study, trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: p.x + p.y });
    }
  };

  beforeEach(async () => {
    drawn = [];
    storage = new SqliteStorage({ path: ":memory:" });
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, plots: counting });
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  it("draws the biggest study's history and parallel-coordinates charts, which its first reads then find drawn", async () => {
    for (const [name, n] of [["small", 4], ["big", 9], ["middle", 6]] as const) {
      await svc.execute("create_study", { name, space, strategy: "random", seed: 1 });
      await addTrials(name, n);
    }
    await warmStudyPlots(svc, silentLogger());
    expect(drawn).toEqual([["big", "history"], ["big", "parallel_coordinates"]]);
    await svc.execute("plot", { study: "big", kind: "history" });
    await svc.execute("plot", { study: "big", kind: "parallel" });
    expect(drawn).toHaveLength(2);
    await svc.execute("plot", { study: "small", kind: "history" });
    expect(drawn).toHaveLength(3);
  });

  it("does nothing before a trial completes, and draws a multi-objective study's front", async () => {
    await warmStudyPlots(svc, silentLogger());
    await svc.execute("create_study", { name: "empty", space, strategy: "random", seed: 1 });
    await warmStudyPlots(svc, silentLogger());
    expect(drawn).toEqual([]);
    await svc.execute("ask", { study: "empty" }); // RUNNING only: nothing worth drawing yet
    await warmStudyPlots(svc, silentLogger());
    expect(drawn).toEqual([]);
    // Two objectives: the front and the hypervolume history, not the one-value charts.
    await svc.execute("create_study", { name: "two", space, strategy: "random", seed: 1, directions: ["minimize", "minimize"] });
    const q = await svc.execute("ask", { study: "two" });
    await svc.execute("tell", { study: "two", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", values: [1, 2] });
    await warmStudyPlots(svc, silentLogger());
    expect(drawn).toEqual([["two", "pareto_front"], ["two", "hypervolume_history"]]);
  });
});
