/**
 * The `lineage` and `trajectories` plots through the `plot_spec` op, on a real in-memory SQLite
 * service: a simulated PBT population (exploits, and a refill after a killed worker) and a
 * hypergradient study. Expected edges, generations and points are recomputed here from the
 * trials' own bookkeeping, independently of lineage.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { runPopulation } from "../testing/pbt-population.js";
import { scheduleProblem } from "../testing/pbt-problems.js";
import { StudyService } from "./study-service.js";

type Row = Record<string, unknown>;
const layerData = (spec: Record<string, unknown>, i: number): Row[] => ((spec.layer as { data: { values: Row[] } }[])[i] as { data: { values: Row[] } }).data.values;

describe("read-model plots", () => {
  let now = 1_000_000;
  let storage: SqliteStorage;
  let svc: StudyService;
  const advance = (s: number) => (now += s * 1000);

  beforeEach(async () => {
    now = 1_000_000;
    storage = new SqliteStorage({ path: ":memory:" });
    svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  it("draws a PBT population as a tree: one edge per checkpoint load, generations one more than the donor's", async () => {
    await svc.execute("create_study", { name: "pbt", space: scheduleProblem.space, direction: scheduleProblem.direction, strategy: { name: "pbt", options: { population_size: 4, perturbation_interval: 4 } }, seed: 9, lease_ttl_s: 5 });
    const run = await runPopulation(svc, scheduleProblem, { study: "pbt", workers: 5, stepsPerMember: 40, seed: 9, advance, kill: [{ worker: 0, atTick: 15 }] });
    expect(run.violations).toEqual([]);
    expect(run.exploits).toBeGreaterThan(2);
    expect(run.refills).toBeGreaterThanOrEqual(1);

    const trials = (await svc.listTrials({ study: "pbt" })).trials;
    type Entry = { step: number; donor: number | null; donor_step: number | null };
    const lineage = new Map(trials.map((t) => [t.number, (t.system_attrs.pbt_lineage ?? []) as Entry[]]));
    const loads = [...lineage.values()].flat().filter((e) => e.donor !== null).length;
    expect(loads).toBe(run.exploits + run.refills);

    const { spec, caption } = await svc.execute("plot_spec", { study: "pbt", kind: "lineage" });
    const edges = layerData(spec, 0) as { from: string; to: string; kind: string; x: number; x2: number }[];
    const nodes = layerData(spec, 1) as { id: string; trial: number; generation: number; member: number }[];
    expect(nodes).toHaveLength([...lineage.values()].reduce((n, l) => n + l.length, 0));
    expect(edges).toHaveLength(loads);
    expect(edges.every((e) => e.kind === "exploit")).toBe(true);
    expect(caption).toContain(`${loads} checkpoint loads`);
    const gen = new Map(nodes.map((n) => [n.id, n.generation]));
    for (const [trial, entries] of lineage) {
      entries.forEach((e, i) => {
        const id = `${trial}:${i}`;
        if (e.donor === null) {
          // A fresh start is generation 0; an explore-only change (none here) keeps the previous one.
          if (i === 0) expect(gen.get(id), id).toBe(0);
          return;
        }
        // The donor's stretch in force when it saved the checkpoint at donor_step (a change at
        // that very step comes after the checkpoint).
        const donorEntries = lineage.get(e.donor) as Entry[];
        let k = 0;
        donorEntries.forEach((d, j) => {
          if (j > 0 && d.step < (e.donor_step as number)) k = j;
        });
        const from = `${e.donor}:${k}`;
        expect(edges.some((x) => x.from === from && x.to === id), `${from} -> ${id}`).toBe(true);
        expect(gen.get(id), id).toBe((gen.get(from) as number) + 1);
      });
    }
    // Edges run forward in generations: it is a tree laid out left to right.
    expect(edges.every((e) => e.x2 === e.x + 1)).toBe(true);
    const members = new Set(trials.map((t) => t.system_attrs.pbt_member));
    expect(new Set(nodes.map((n) => n.member))).toEqual(members);
    // The PNG (`plot`: MCP, ZeroMQ, `tuneport plot`) is drawn from the same read model.
    const png = await svc.execute("plot", { study: "pbt", kind: "lineage" });
    expect(png.caption).toBe(caption);
    expect(png.png.byteLength).toBeGreaterThan(1000);
  });

  it("draws explore-only changes (PBT without exploit) as dashed edges within a member, generations unchanged", async () => {
    await svc.execute("create_study", { name: "ex", space: scheduleProblem.space, direction: scheduleProblem.direction, strategy: { name: "pbt", options: { population_size: 4, perturbation_interval: 4, exploit: false } }, seed: 4 });
    const run = await runPopulation(svc, scheduleProblem, { study: "ex", workers: 4, stepsPerMember: 24, seed: 4, advance });
    expect(run.violations).toEqual([]);
    const trials = (await svc.listTrials({ study: "ex" })).trials;
    const changes = trials.reduce((n, t) => n + Math.max(0, ((t.system_attrs.pbt_lineage ?? []) as unknown[]).length - 1), 0);
    expect(changes).toBeGreaterThan(0);
    const { spec, caption } = await svc.execute("plot_spec", { study: "ex", kind: "lineage" });
    const edges = layerData(spec, 0) as { from: string; to: string; kind: string }[];
    const nodes = layerData(spec, 1) as { generation: number }[];
    expect(edges).toHaveLength(changes);
    for (const e of edges) {
      expect(e.kind).toBe("explore");
      const [ft, fi] = e.from.split(":").map(Number);
      const [tt, ti] = e.to.split(":").map(Number);
      expect([tt, ti]).toEqual([ft, (fi as number) + 1]); // the member's own previous stretch
    }
    expect(nodes.every((n) => n.generation === 0)).toBe(true);
    expect(caption).toContain(`${changes} explore-only changes (dashed)`);
  });

  it("draws hypergradient trajectories: one point per numeric hyperparameter per recorded step", async () => {
    const space = { lr: { type: "float", low: 1e-4, high: 1, log: true }, wd: { type: "float", low: 1e-6, high: 0.1, log: true }, act: { type: "categorical", choices: ["relu", "gelu"] } };
    await svc.execute("create_study", { name: "hg", space, seed: 3, strategy: { name: "hypergradient", options: { base: "random", lr: 0.1 } } });
    const told: number[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await svc.execute("ask", { study: "hg" });
      for (let step = 1; step <= 4 + i; step++)
        await svc.execute("report", { study: "hg", trial: a.trial.number, token: a.lease.token, step, value: 1 / step, data: { hypergradients: { lr: 0.5 - i, wd: -1 } } });
      await svc.execute("tell", { study: "hg", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.2 });
      told.push(a.trial.number);
    }
    const idle = await svc.execute("ask", { study: "hg" }); // asked, no update yet: left out
    const { spec, caption } = await svc.execute("plot_spec", { study: "hg", kind: "trajectories" });
    const rows = (spec.data as { values: { trial: number; param: string; step: number; value: number; y: number }[] }).values;
    for (const n of told) {
      const { trajectory } = await svc.execute("trajectory", { study: "hg", trial: n });
      // y is the drawn value: the value itself, except for a parameter over a subnormal span (drawn flat).
      const want = trajectory.flatMap((e) => ["lr", "wd"].map((p) => ({ trial: n, param: p, step: e.step ?? 0, value: e.params[p], y: e.params[p] })));
      expect(rows.filter((r) => r.trial === n)).toEqual(want);
    }
    expect(rows.some((r) => r.trial === idle.trial.number)).toBe(false);
    expect(new Set(rows.map((r) => r.param))).toEqual(new Set(["lr", "wd"]));
    expect(caption).toMatch(/for 3 trials/);
    expect(caption).toMatch(/log scale/);
    // One trial's chart, as the trial page asks for it.
    const one = await svc.execute("plot_spec", { study: "hg", kind: "trajectories", trials: [told[1] as number] });
    expect(new Set((one.spec.data as { values: { trial: number }[] }).values.map((r) => r.trial))).toEqual(new Set([told[1]]));
  });

  it("says why a strategy without the read model has no lineage or trajectories to draw", async () => {
    await svc.execute("create_study", { name: "r", space: scheduleProblem.space, strategy: "random", seed: 1 });
    await expect(svc.execute("plot_spec", { study: "r", kind: "lineage" })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/records no population lineage/) });
    await expect(svc.execute("plot_spec", { study: "r", kind: "trajectories" })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/records no hyperparameter trajectories/) });
  });

  it("refuses log_y on a kind with no objective axis to scale (it was dropped without a word), through plot and plot_spec alike", async () => {
    await svc.execute("create_study", { name: "mo", directions: ["minimize", "minimize"], space: { x: { type: "float", low: 0, high: 1 } } });
    await svc.execute("create_study", { name: "one", direction: "minimize", space: { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } } });
    for (const x of [0.1, 0.5, 0.9]) {
      await svc.execute("add_trial", { study: "mo", params: { x }, values: [x, 1 - x] });
      await svc.execute("add_trial", { study: "one", params: { x, y: 1 - x }, value: x });
    }
    const refused = { code: "INVALID_ARGUMENT", message: expect.stringContaining("has no objective axis that log_y could put on a log scale") };
    for (const [study, kind] of [["mo", "pareto_front"], ["mo", "hypervolume_history"], ["one", "importances"], ["one", "lineage"], ["one", "trajectories"]]) {
      await expect(svc.execute("plot_spec", { study, kind, log_y: true }), kind).rejects.toMatchObject(refused);
      await expect(svc.execute("plot", { study, kind, log_y: true }), kind).rejects.toMatchObject(refused);
    }
    // log_y: false asks for nothing, and the kinds with an objective axis take log_y.
    expect((await svc.execute("plot_spec", { study: "mo", kind: "pareto_front", log_y: false })).caption).toBeTruthy();
    for (const kind of ["history", "edf", "slice", "parallel_coordinates", "contour"])
      expect((await svc.execute("plot_spec", { study: "one", kind, log_y: true })).caption, kind).toBeTruthy();
  });
});
