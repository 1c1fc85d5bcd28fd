/**
 * A chart's trials reach the renderer with equal distributions as one object (plot-job.ts), so
 * that the child process's IPC serialiser (V8's, which writes a repeated object as a reference)
 * sends them once. Sizes of serialised jobs, never times.
 */
import { serialize } from "node:v8";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { shareDistributions } from "./plot-job.js";
import { type PlotRendering, renderPlot } from "./plots.js";
import { StudyService } from "./study-service.js";
import type { TrialView } from "./views.js";

const view = (number: number, distributions: TrialView["distributions"]): TrialView =>
  ({ number, state: "COMPLETE", params: {}, distributions, value: number, values: [number] }) as unknown as TrialView;

describe("shareDistributions", () => {
  it("gives equal distributions one object and leaves distinct ones, the views and their order alone", () => {
    const a = () => ({ x: { type: "float", low: 0, high: 1 }, c: { type: "categorical", choices: ["a", 1, null] } }) as const;
    const trials = [
      view(0, a()),
      view(1, a()),
      view(2, { x: { type: "float", low: -0, high: 1 } }), // -0 is not 0
      view(3, { x: { type: "float", low: 0, high: 1 } }),
      view(4, { x: { type: "float", low: 0, high: 1, log: true } }),
      view(5, { c: { type: "categorical", choices: ["a", 1] } }),
      view(6, a()),
    ];
    const before = structuredClone(trials);
    const out = shareDistributions(trials);
    expect(out.map((t) => t.number)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(out).toEqual(before); // same values throughout
    expect(trials).toEqual(before); // the input views unchanged
    expect(out[0]).toBe(trials[0]);
    expect(out[1]?.distributions).toBe(trials[0]?.distributions);
    expect(out[6]?.distributions).toBe(trials[0]?.distributions);
    expect(trials[1]?.distributions).not.toBe(trials[0]?.distributions);
    expect(new Set(out.map((t) => t.distributions)).size).toBe(5);
    expect(Object.is(out[2]?.distributions.x?.type === "float" ? out[2].distributions.x.low : 0, -0)).toBe(true);
    expect(out[3]?.distributions).not.toBe(out[2]?.distributions);
  });
});

describe("a chart's trials as the renderer gets them", () => {
  let storage: SqliteStorage;
  let svc: StudyService;
  let given: TrialView[] = [];
  const capture: PlotRendering = { render: (kind, study, trials, opts) => ((given = trials), renderPlot(kind, study, trials, opts)) };

  beforeEach(async () => {
    storage = new SqliteStorage({ path: ":memory:" });
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, plots: capture });
    const space = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, { type: "float", low: 0, high: 1 }]));
    await svc.execute("create_study", { name: "s", space, strategy: "random", seed: 5 });
    for (let i = 0; i < 40; i++) {
      const q = await svc.execute("ask", { study: "s" });
      await svc.execute("tell", { study: "s", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: i % 7 });
    }
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  it("share one distributions object, so that the serialised job holds it once", async () => {
    for (const kind of ["history", "parallel_coordinates"] as const) {
      await svc.execute("plot", { study: "s", kind });
      expect(given.length).toBeGreaterThan(1);
      expect(new Set(given.map((t) => t.distributions)).size).toBe(1);
      // Against the same views each with its own copy (as trialView makes them): well under the size.
      const unshared = given.map((t) => ({ ...t, distributions: structuredClone(t.distributions) }));
      expect(serialize(given).length).toBeLessThan(0.8 * serialize(unshared).length);
    }
  });
});
