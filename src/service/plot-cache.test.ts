/**
 * The plot cache (reads.ts): an unchanged study's repeated plot is served without rendering; any
 * change to the study, other arguments, or a recreated study of the same name renders afresh.
 * Real in-memory SQLite service; the renderer is the real one, counted.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { type PlotRendering, renderPlot } from "./plots.js";
import { MAX_PLOTS_DRAWING } from "./reads.js";
import { StudyService } from "./study-service.js";

describe("plot cache", () => {
  let storage: SqliteStorage;
  let svc: StudyService;
  let renders = 0;
  const counting: PlotRendering = { render: (...a) => (renders++, renderPlot(...a)) };
  const space = { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } } as const;

  const addTrials = async (study: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const q = await svc.execute("ask", { study });
      const p = q.trial.params as { x: number; y: number };
      await svc.execute("tell", { study, trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: (p.x - 0.3) ** 2 + p.y });
    }
  };

  beforeEach(async () => {
    renders = 0;
    storage = new SqliteStorage({ path: ":memory:" });
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, plots: counting });
    await svc.execute("create_study", { name: "s", space, strategy: "random", seed: 3 });
    await addTrials("s", 12);
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  it("serves a repeated plot of an unchanged study without rendering, and renders again after any change", async () => {
    const first = await svc.execute("plot", { study: "s", kind: "history" });
    const again = await svc.execute("plot", { study: "s", kind: "history" });
    expect(renders).toBe(1);
    expect(Buffer.from(again.png).equals(Buffer.from(first.png))).toBe(true);
    expect(again.caption).toBe(first.caption);
    await svc.execute("plot", { study: "s", kind: "history", log_y: true });
    await svc.execute("plot", { study: "s", kind: "slice", params: ["x"] });
    await svc.execute("plot", { study: "s", kind: "slice", params: ["y"] });
    expect(renders).toBe(4);
    await addTrials("s", 1);
    const after = await svc.execute("plot", { study: "s", kind: "history" });
    expect(renders).toBe(5);
    expect(after.caption).not.toBe(first.caption);
  });

  it("does not serve a deleted study's plot to a new study of the same name", async () => {
    const before = await svc.execute("plot", { study: "s", kind: "history" });
    const version = await svc.versionOf("s");
    await svc.execute("delete_study", { study: "s" });
    await svc.execute("create_study", { name: "s", space, strategy: "random", seed: 4 });
    await addTrials("s", 12);
    // The same version number as the deleted study's: only the study's identity tells them apart.
    expect(await svc.versionOf("s")).toBe(version);
    const recreated = await svc.execute("plot", { study: "s", kind: "history" });
    expect(renders).toBe(2);
    expect(Buffer.from(recreated.png).equals(Buffer.from(before.png))).toBe(false);
  });

  it(`draws at most ${MAX_PLOTS_DRAWING} plots at once; more are refused UNAVAILABLE, cached ones are still served`, async () => {
    // A renderer held until the test lets it go: every plot asked meanwhile is being drawn.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let gated = 0;
    const held: PlotRendering = { render: async (...a) => (gated++, await gate, renderPlot(...a)) };
    const cached = await svc.execute("plot", { study: "s", kind: "history" });
    const storage2 = new SqliteStorage({ path: ":memory:" });
    const svc2 = await StudyService.open({ storage: storage2, logger: silentLogger(), reapIntervalMs: 0, plots: held });
    try {
      await svc2.execute("create_study", { name: "t", space, strategy: "random", seed: 5 });
      for (let i = 0; i < 4; i++) {
        const q = await svc2.execute("ask", { study: "t" });
        await svc2.execute("tell", { study: "t", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: i });
      }
      // 40 plot calls at once (one MCP batch holds up to 100): each used to queue its own copy of the trials.
      const asked = Array.from({ length: 40 }, () =>
        svc2.execute("plot", { study: "t", kind: "history" }).then(
          () => "drawn",
          (err: { code?: string }) => err.code ?? "other",
        ),
      );
      await new Promise((r) => setTimeout(r, 0));
      expect(gated).toBe(MAX_PLOTS_DRAWING);
      // The other service's cached plot needs no drawing: served while the renderer is full.
      expect((await svc.execute("plot", { study: "s", kind: "history" })).caption).toBe(cached.caption);
      release();
      const outcomes = await Promise.all(asked);
      expect(outcomes.filter((o) => o === "drawn")).toHaveLength(MAX_PLOTS_DRAWING);
      expect(outcomes.filter((o) => o === "UNAVAILABLE")).toHaveLength(40 - MAX_PLOTS_DRAWING);
      // Once they are drawn, plots are drawn again.
      expect((await svc2.execute("plot", { study: "t", kind: "slice" })).kind).toBe("slice");
    } finally {
      release();
      await svc2.close();
      await storage2.close();
    }
  });
});
