import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { Rng } from "../math/rng.js";
import { FRONT_IMPORTANCE_METHOD, paramImportances } from "./importance.js";
import { FRONT_IMPORTANCE_SAMPLE, IMPORTANCE_SAMPLE, evenlySpaced, frontImportancesOf, importanceQueryError, importancesOf, studyImportances } from "./reads-summary.js";
import type { StudyState, TrialRecord } from "./study-state.js";
import { StudyService } from "./study-service.js";
import { summarizeStudy } from "./summary.js";
import type { TrialView } from "./views.js";

let dir: string;
let storage: SqliteStorage;
let svc: StudyService;
let now = 1_000_000;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "tuneport-reads-summary-"));
  storage = new SqliteStorage({ path: join(dir, "s.db") });
  now = 1_000_000;
  svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
});
afterEach(async () => {
  await svc.close();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

const space = { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 }, k: { type: "categorical", choices: ["a", "b", "c"] } };

async function allViews(study: string): Promise<TrialView[]> {
  return (await svc.execute("trials", { study, limit: 100_000 })).trials as TrialView[];
}

describe("study_summary and param_importances, computed by the server", () => {
  it("study_summary gives what summarizeStudy gives from every trial view (every state, queue, constraints, out-of-order finishes)", async () => {
    await svc.execute("create_study", { name: "s", space, scheduler: "median", seed: 4 });
    const r = new Rng(11);
    const rng = () => r.random();
    const running: { trial: number; token: string }[] = [];
    for (let i = 0; i < 60; i++) {
      now += 1000;
      const a = await svc.execute("ask", { study: "s" });
      const kind = i % 10;
      if (kind === 3) await svc.execute("tell", { study: "s", trial: a.trial.number, token: a.lease.token, state: "FAIL" });
      else if (kind === 5) await svc.execute("tell", { study: "s", trial: a.trial.number, token: a.lease.token, state: "PRUNED" });
      else if (kind === 7) running.push({ trial: a.trial.number, token: a.lease.token });
      else await svc.execute("tell", { study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: rng(), constraints: [rng() - 0.3] });
    }
    // A trial that started early and finishes last: finish order differs from number order.
    now += 1000;
    const late = running.shift() as { trial: number; token: string };
    await svc.execute("tell", { study: "s", trial: late.trial, token: late.token, state: "COMPLETE", value: -1, constraints: [-1] });
    for (let i = 0; i < 7; i++) await svc.execute("enqueue", { study: "s", params: { x: i / 10, y: 0.5, k: "b" }, rationale: "r".repeat(150 + 20 * i) });

    const got = await svc.execute("study_summary", { study: "s" });
    const { study } = await svc.execute("get_study", { study: "s" });
    const expected = summarizeStudy(study, await allViews("s"), svc.plugins.descriptions());
    expect(got).toEqual({ ...expected, importances_sampled: false });
    expect(got.best?.trial).toBe(late.trial);
    expect(got.trend.best_so_far.length).toBeGreaterThan(1);
    expect(got.queued_total).toBe(7);
    expect(got.running_total).toBe(running.length);
    expect(got.counts.FAIL).toBe(6);
    // The rate comes with the time of the latest finish (the late trial's), which a rate alone hides.
    expect(got.last_finished_at).toBe(now / 1000);
    expect(got.text).toContain(`per minute over the last finishes; the latest at ${new Date(now).toISOString().replace(".000Z", "Z")}.`);
  });

  it("a multi-objective study's summary carries the same front facts as from every view", async () => {
    await svc.execute("create_study", { name: "mo", space, directions: ["minimize", "maximize"], seed: 2 });
    const r = new Rng(5);
    const rng = () => r.random();
    for (let i = 0; i < 40; i++) {
      now += 500;
      const a = await svc.execute("ask", { study: "mo" });
      if (i % 6 === 1) await svc.execute("tell", { study: "mo", trial: a.trial.number, token: a.lease.token, state: "FAIL" });
      else await svc.execute("tell", { study: "mo", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values: [rng(), rng()] });
    }
    await svc.execute("ask", { study: "mo" }); // one left RUNNING
    const got = await svc.execute("study_summary", { study: "mo" });
    const { study } = await svc.execute("get_study", { study: "mo" });
    expect(got).toEqual({ ...summarizeStudy(study, await allViews("mo"), svc.plugins.descriptions()), importances_sampled: false });
    expect(got.front?.size).toBeGreaterThan(0);
  });

  it("param_importances: every COMPLETE trial up to the sample size, the same figures as from the views", async () => {
    await svc.execute("create_study", { name: "i", space, seed: 1 });
    const r = new Rng(3);
    const rng = () => r.random();
    for (let i = 0; i < 120; i++) {
      const x = rng();
      const y = rng();
      await svc.execute("add_trial", { study: "i", params: { x, y, k: "abc"[i % 3] as string }, value: 10 * x + y + 0.1 * rng() });
    }
    await svc.execute("add_trial", { study: "i", params: { x: 0.5, y: 0.5, k: "a" }, state: "FAIL" });
    const got = await svc.execute("param_importances", { study: "i" });
    expect(got.sampled).toBe(false);
    expect(got.n_trials).toBe(120);
    expect(got.n_complete).toBe(120);
    expect({ ...got, n_complete: undefined, sampled: undefined }).toEqual({ ...paramImportances(await allViews("i")), n_complete: undefined, sampled: undefined });
    expect(got.importances[0]?.param).toBe("x");
    expect(IMPORTANCE_SAMPLE).toBe(5000);
  });

  it("on a sample, importances stay close to those from every trial (3 seeds) and say they were sampled", async () => {
    for (const seed of [1, 2, 3]) {
      const name = `seed${seed}`;
      await svc.execute("create_study", { name, space, seed });
      const r = new Rng(100 + seed);
    const rng = () => r.random();
      for (let i = 0; i < 900; i++) {
        const x = rng();
        const y = rng();
        const k = "abc"[Math.floor(rng() * 3)] as string;
        // x matters most, then k, then y; plus noise.
        await svc.execute("add_trial", { study: name, params: { x, y, k }, value: 6 * x + (k === "a" ? 2 : 0) + 0.8 * y + rng() });
      }
      const records = svc.trialsOf(name);
      const full = paramImportances(records);
      const part = importancesOf(records, 300);
      expect(part.sampled).toBe(true);
      expect(part.n_trials).toBe(300);
      expect(part.n_complete).toBe(900);
      expect(part.caveats.some((c) => c.includes("300 of 900"))).toBe(true);
      expect(part.importances.map((i) => i.param)).toEqual(full.importances.map((i) => i.param));
      for (const p of full.importances) {
        const q = part.importances.find((i) => i.param === p.param);
        expect(Math.abs((q?.importance ?? -1) - p.importance)).toBeLessThan(0.1);
      }
    }
  });

  it("a result is reused while no trial completes, and a sampled one until the COMPLETE count grows by 1%", () => {
    const r = new Rng(9);
    const rec = (number: number): TrialRecord => {
      const x = r.random();
      return { number, state: "COMPLETE", params: { x, y: r.random() }, value: x + 0.1 * r.random() } as unknown as TrialRecord;
    };
    const oneObjective = { config: { directions: ["minimize"] } };
    const grow = (s: { trials: TrialRecord[]; agg: { counts: Record<string, number> } }, n: number) => {
      for (let i = 0; i < n; i++) s.trials.push(rec(s.trials.length));
      s.agg.counts.COMPLETE = s.trials.length;
    };
    const small = { study: oneObjective, trials: [] as TrialRecord[], agg: { counts: { WAITING: 0, RUNNING: 0, COMPLETE: 0, PRUNED: 0, FAIL: 0 } } };
    grow(small, 50);
    const a = studyImportances(small as unknown as StudyState);
    expect(studyImportances(small as unknown as StudyState)).toBe(a); // nothing completed: the same trials
    grow(small, 1);
    expect(studyImportances(small as unknown as StudyState)).not.toBe(a); // unsampled: always current
    const big = { study: oneObjective, trials: [] as TrialRecord[], agg: { counts: { WAITING: 0, RUNNING: 0, COMPLETE: 0, PRUNED: 0, FAIL: 0 } } };
    grow(big, IMPORTANCE_SAMPLE + 1000);
    const b = studyImportances(big as unknown as StudyState);
    expect(b.sampled).toBe(true);
    grow(big, 59); // < 1% of 6,000
    expect(studyImportances(big as unknown as StudyState)).toBe(b);
    grow(big, 1); // 6,060: 1% more
    const c = studyImportances(big as unknown as StudyState);
    expect(c).not.toBe(b);
    expect(c.n_complete).toBe(IMPORTANCE_SAMPLE + 1060);
  });

  it("a multi-objective study's front importances rank at most FRONT_IMPORTANCE_SAMPLE trials (the sort is quadratic)", () => {
    const r = new Rng(3);
    const trials = Array.from({ length: FRONT_IMPORTANCE_SAMPLE + 500 }, (_, number) => {
      const x = r.random();
      const y = r.random();
      return { number, state: "COMPLETE", params: { x, y }, value: null, values: [x + y, x - y], constraints: null } as unknown as TrialRecord;
    });
    const s = { study: { config: { directions: ["minimize", "minimize"] } }, trials, agg: { counts: { WAITING: 0, RUNNING: 0, COMPLETE: trials.length, PRUNED: 0, FAIL: 0 } } };
    const got = studyImportances(s as unknown as StudyState);
    expect(got).toMatchObject({ n_trials: FRONT_IMPORTANCE_SAMPLE, n_complete: FRONT_IMPORTANCE_SAMPLE + 500, sampled: true });
    expect(FRONT_IMPORTANCE_SAMPLE).toBeLessThan(IMPORTANCE_SAMPLE);
  });

  it("evenlySpaced keeps the ends and at most max items", () => {
    const xs = Array.from({ length: 1001 }, (_, i) => i);
    const s = evenlySpaced(xs, 11);
    expect(s).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(evenlySpaced(xs.slice(0, 5), 11)).toEqual([0, 1, 2, 3, 4]);
    expect(evenlySpaced(xs, 1)).toEqual([0]);
  });
});

describe("param_importances' params, objective and target_values", () => {
  /** `message` of what `p` rejects with, with its code. */
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => "resolved",
      (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
    );
  const sum = (imp: { importances: { importance: number }[] }) => imp.importances.reduce((a, i) => a + i.importance, 0);

  /** A two-objective study where x drives objective 0 and y objective 1 (k matters to neither). */
  async function twoObjectives(name: string) {
    await svc.execute("create_study", { name, space, directions: ["minimize", "minimize"], seed: 1 });
    const r = new Rng(21);
    for (let i = 0; i < 80; i++) {
      const x = r.random();
      const y = r.random();
      await svc.execute("add_trial", { study: name, params: { x, y, k: "abc"[i % 3] as string }, values: [x + 0.05 * r.random(), y + 0.05 * r.random()] });
    }
    await svc.execute("ask", { study: name }); // trial 80, RUNNING
  }

  it("objective ranks that objective of a multi-objective study", async () => {
    await twoObjectives("mo");
    const first = await svc.execute("param_importances", { study: "mo", objective: 0 });
    const second = await svc.execute("param_importances", { study: "mo", objective: 1 });
    expect(first.importances[0]?.param).toBe("x");
    expect(second.importances[0]?.param).toBe("y");
    expect(first.n_trials).toBe(80);
    expect(sum(first)).toBeCloseTo(1, 12);
    const records = svc.trialsOf("mo");
    expect(second).toEqual(importancesOf(records.map((t) => ({ state: t.state, value: t.values?.[1] ?? null, params: t.params }))));
  });

  it("without objective, a multi-objective study's importances are those of reaching its front: in the op, on a sample, and in the summary", async () => {
    // x decides whether a trial reaches the front, y moves it along the front (and drives each objective alone).
    const directions = ["minimize", "maximize"] as const;
    await svc.execute("create_study", { name: "front", space, directions: [...directions], seed: 1 });
    const r = new Rng(22);
    for (let i = 0; i < 80; i++) {
      const x = r.random();
      const y = r.random();
      await svc.execute("add_trial", { study: "front", params: { x, y, k: "abc"[i % 3] as string }, values: [x + 10 * y, -(x + 10 * (1 - y))] });
    }
    await svc.execute("ask", { study: "front" }); // trial 80, RUNNING
    const got = await svc.execute("param_importances", { study: "front" });
    expect(got.importances[0]?.param).toBe("x");
    expect(got.method).toBe(FRONT_IMPORTANCE_METHOD);
    expect(got.caveats[0]).toMatch(/^importances of reaching the Pareto front of the 2 objectives \(minimize, maximize\)/);
    expect(got).toMatchObject({ n_trials: 80, n_complete: 80, sampled: false });
    expect(got).toEqual(frontImportancesOf([...directions], svc.trialsOf("front")));
    expect(sum(got)).toBeCloseTo(1, 12);
    expect((await svc.execute("param_importances", { study: "front", objective: 0 })).importances[0]?.param).toBe("y");
    const some = await svc.execute("param_importances", { study: "front", params: ["k", "y"] });
    expect(some.importances.map((i) => i.param).sort()).toEqual(["k", "y"]);
    expect(some.method).toBe(FRONT_IMPORTANCE_METHOD);
    // The summary's top parameters are these importances.
    const summary = await svc.execute("study_summary", { study: "front" });
    expect(summary.top_params[0]?.param).toBe("x");
    expect(summary.text).toMatch(/\nMost influential parameters for reaching the Pareto front: x \(\d+%\)/);
    // Past the sample's size, the ranks are those within an evenly spaced sample, and a caveat says so.
    const part = frontImportancesOf([...directions], svc.trialsOf("front"), 40);
    expect(part).toMatchObject({ n_trials: 40, n_complete: 80, sampled: true });
    expect(part.caveats.at(-1)).toMatch(/^computed on 40 of 80 COMPLETE trials, evenly spaced by trial number/);
    expect(part.importances[0]?.param).toBe("x");
  });

  it("target_values rank the given values of COMPLETE trials, as if they were the objective", async () => {
    await twoObjectives("t");
    const records = svc.trialsOf("t").filter((t) => t.state === "COMPLETE");
    // The second objective given as target values, in any order: the same as objective 1.
    const target = records.map((t) => [t.number, (t.values as number[])[1] as number] as [number, number]).reverse();
    const got = await svc.execute("param_importances", { study: "t", target_values: target });
    expect(got).toEqual(await svc.execute("param_importances", { study: "t", objective: 1 }));
    expect(got.importances[0]?.param).toBe("y");
    // A subset of the trials: only those are used.
    const some = await svc.execute("param_importances", { study: "t", target_values: target.slice(0, 30) });
    expect(some.n_trials).toBe(30);
    expect(some.n_complete).toBe(30);
    // A one-objective study (y its objective) takes them too.
    await svc.execute("create_study", { name: "one", space, seed: 1 });
    for (const t of records) await svc.execute("add_trial", { study: "one", params: t.params, value: (t.values as number[])[1] as number });
    const firstValues = records.map((t) => [t.number, (t.values as number[])[0] as number] as [number, number]);
    const one = await svc.execute("param_importances", { study: "one", target_values: firstValues });
    expect(one.importances[0]?.param).toBe("x");
  });

  it("params assesses those parameters only, with shares of 1 among them and their own caveats", async () => {
    await twoObjectives("p");
    const all = await svc.execute("param_importances", { study: "p", objective: 0 });
    const some = await svc.execute("param_importances", { study: "p", objective: 0, params: ["y", "k", "y"] });
    expect(some.importances.map((i) => i.param).sort()).toEqual(["k", "y"]);
    expect(sum(some)).toBeCloseTo(1, 12);
    // Each parameter's score is its own (first-order): the subset's scores are the full ones.
    for (const i of some.importances) expect(i.score).toBe(all.importances.find((j) => j.param === i.param)?.score);
    expect((await svc.execute("param_importances", { study: "p", objective: 0, params: [] })).importances).toEqual([]);
  });

  it("refuses what it cannot answer with INVALID_ARGUMENT, the same message on every call", async () => {
    await twoObjectives("bad");
    await svc.execute("create_study", { name: "single", space, seed: 1 });
    const go = (args: Record<string, unknown>) => refusal(svc.execute("param_importances", { study: "bad", ...args }));
    expect(await go({ objective: 2 })).toBe("INVALID_ARGUMENT: objective 2 is out of range: study 'bad' has 2 objectives (0 to 1)");
    expect(await refusal(svc.execute("param_importances", { study: "single", objective: 1 }))).toBe(
      "INVALID_ARGUMENT: objective 1 is out of range: study 'single' has 1 objective (0 to 0)",
    );
    expect(await go({ objective: 0, target_values: [[0, 1.5]] })).toMatch(/^INVALID_ARGUMENT: pass objective or target_values, not both/);
    expect(await go({ target_values: [[80, 1.5]] })).toBe("INVALID_ARGUMENT: target_values[0] names trial 80, which is RUNNING: only COMPLETE trials have target values");
    expect(await go({ target_values: [[0, 1], [81, 2]] })).toBe("INVALID_ARGUMENT: target_values[1] names trial 81, and study 'bad' has 81 trials (0 to 80)");
    expect(await go({ target_values: [[3, 1], [4, 2], [3, 2]] })).toBe("INVALID_ARGUMENT: target_values names trial 3 twice");
    expect(await go({ objective: 0, params: ["x", "nope", "lr"] })).toBe(
      `INVALID_ARGUMENT: Study must contain at least one completed trial for each specified parameter. Missing parameters: ["nope","lr"] (study 'bad')`,
    );
    // The wire shape: finite values, at most IMPORTANCE_SAMPLE pairs, no unknown field.
    expect(await go({ target_values: [[0, Number.NaN]] })).toMatch(/^INVALID_ARGUMENT: param_importances: .*target_values/);
    expect(await go({ target_values: [[0, Number.POSITIVE_INFINITY]] })).toMatch(/^INVALID_ARGUMENT: param_importances: .*target_values/);
    expect(await go({ target_values: [[-1, 0.5]] })).toMatch(/^INVALID_ARGUMENT: param_importances: .*target_values/);
    const many = Array.from({ length: IMPORTANCE_SAMPLE + 1 }, (_, i) => [i, 0.5]);
    expect(await go({ target_values: many })).toMatch(/^INVALID_ARGUMENT: param_importances: .*target_values/);
    expect(await go({ objective: -1 })).toMatch(/^INVALID_ARGUMENT: param_importances: .*objective/);
    expect(await go({ params: "x" })).toMatch(/^INVALID_ARGUMENT: param_importances: .*params/);
    expect(await go({ objective: 0, weights: [1] })).toMatch(/^INVALID_ARGUMENT: param_importances: .*weights/);
    // A parameter only a FAIL trial has is missing too.
    await svc.execute("add_trial", { study: "single", params: { x: 0.5, y: 0.5, k: "a" }, state: "FAIL" });
    expect(await refusal(svc.execute("param_importances", { study: "single", params: ["x"] }))).toMatch(/Missing parameters: \["x"\]/);
  });

  it("a name every JavaScript object answers to (toString, constructor, __proto__) is no parameter: refused as missing, not ranked", async () => {
    // `name in params` found Object.prototype's members: {param: "toString", importance: 0, n: 80} came back.
    await twoObjectives("proto");
    for (const name of ["toString", "constructor", "hasOwnProperty", "__proto__"])
      expect(await refusal(svc.execute("param_importances", { study: "proto", objective: 0, params: ["x", name] }))).toBe(
        `INVALID_ARGUMENT: Study must contain at least one completed trial for each specified parameter. Missing parameters: ${JSON.stringify([name])} (study 'proto')`,
      );
  });

  it("checking params looks at each COMPLETE trial's own parameters, not every requested name in every trial", () => {
    // 1,000 names no trial has, over a 100,000-trial study, were 10^8 lookups: 1.8 s with the event loop held.
    let lookups = 0;
    const counted = (params: Record<string, unknown>) =>
      new Proxy(params, {
        has: (o, k) => (lookups++, k in o),
        getOwnPropertyDescriptor: (o, k) => (lookups++, Reflect.getOwnPropertyDescriptor(o, k)),
        ownKeys: (o) => ((lookups += Object.keys(o).length), Reflect.ownKeys(o)),
      });
    const trials = Array.from({ length: 200 }, (_, number) => ({ number, state: "COMPLETE", params: counted({ x: 0.5, y: 0.5 }), values: [1], value: 1 }));
    const s = { study: { name: "n", config: { directions: ["minimize"] } }, trials } as unknown as StudyState;
    const names = Array.from({ length: 1000 }, (_, i) => `nope${i}`);
    expect(importanceQueryError(s, { params: names })).toMatch(/^Study must contain at least one completed trial for each specified parameter/);
    expect(lookups).toBeLessThanOrEqual(200 * 2 * 2);
  });
});

describe("the summary's strategy and scheduler lines", () => {
  it("name only the options that differ from the plug-in's defaults, and the first sentence of its description", async () => {
    await svc.execute("create_study", { name: "d", space });
    await svc.execute("create_study", { name: "t", space, strategy: { name: "tpe", options: { n_startup_trials: 5 } }, scheduler: { name: "asha", options: { reduction_factor: 4 } } });
    const line = async (study: string, kind: string) =>
      ((await svc.execute("study_summary", { study })).text as string).split("\n").find((l) => l.startsWith(`${kind}: `)) as string;
    const auto = await line("d", "Strategy");
    const { plugins } = (await svc.execute("catalogue", {})) as { plugins: { name: string; description: string }[] };
    const full = (name: string) => plugins.find((p) => p.name === name)?.description as string;
    expect(auto).toMatch(/^Strategy: auto — The default: /);
    expect(auto).not.toContain("{");
    expect(full("auto").startsWith(auto.slice("Strategy: auto — ".length))).toBe(true);
    expect(auto.length).toBeLessThan(`Strategy: auto — ${full("auto")}`.length);
    expect(await line("t", "Strategy")).toMatch(/^Strategy: tpe \{"n_startup_trials":5\} — \S/);
    expect(await line("t", "Scheduler")).toMatch(/^Scheduler: asha \{"reduction_factor":4\} — Asynchronous successive halving/);
  });
});
