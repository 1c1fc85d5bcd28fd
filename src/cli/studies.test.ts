import { describe, expect, inject, it, vi } from "vitest";
import { silentLogger } from "../logger.js";
import { StudyService } from "../service/study-service.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { openStorage } from "./embedded.js";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { runCommand } from "./command.js";
import type { LineageView } from "../service/views.js";
import { runPopulation } from "../testing/pbt-population.js";
import { scheduleProblem } from "../testing/pbt-problems.js";
import { formatStudy, formatStudyTable, lineageFromSql, paretoFrontOf, studiesCommand, studyNamed, studySummaries, trialsPageOf } from "./studies.js";
import { summaryView } from "../service/views.js";

/**
 * Opens the file (or schema) read-only as the CLI does, runs `read` with `Date.now()` at `now` when
 * given, and checks that no study was loaded whole.
 */
async function readingSql(path: string, now: number | undefined, read: (reader: Awaited<ReturnType<typeof openStorage>>) => Promise<void>): Promise<void> {
  const reader = await openStorage(path, { readonly: true });
  const load = vi.spyOn(reader, "loadTrials");
  const clock = now === undefined ? null : vi.spyOn(Date, "now").mockReturnValue(now);
  try {
    await read(reader);
    expect(load).not.toHaveBeenCalled();
  } finally {
    clock?.mockRestore();
    await reader.close();
  }
}

describe.each(storageBackends(inject("pgUrl")))("tuneport studies list reads summaries on %s", (backend: StorageBackend) => {
  it("gives the views list_studies gives, without loading the trials (ties, every state, both directions, constraints)", async () => {
    const path = backend.location();
    const storage = await backend.open(path);
    const svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => 1_000_000, reapIntervalMs: 0 });
    const space = { x: { type: "float", low: 0, high: 1 } };
    const values: Record<string, (number | string)[]> = {
      lo: [0.5, 0.25, "FAIL", 0.25, "PRUNED", 0.75, "RUNNING"], // a tie for the best: the lower number wins
      hi: [0.5, 0.25, 0.75, "FAIL", 0.75, "RUNNING"],
      empty: [],
      failed: ["FAIL", "PRUNED"],
    };
    for (const [name, vs] of Object.entries(values)) {
      await svc.execute("create_study", { name, space, direction: name === "hi" ? "maximize" : "minimize", scheduler: "median" });
      for (const v of vs) {
        const a = await svc.execute("ask", { study: name });
        await svc.execute("report", { study: name, trial: a.trial.number, token: a.lease.token, step: 0, value: 1 });
        if (v === "RUNNING") continue;
        await svc.execute("tell", {
          study: name, trial: a.trial.number, token: a.lease.token,
          state: typeof v === "number" ? "COMPLETE" : (v as "FAIL" | "PRUNED"), value: typeof v === "number" ? v : undefined,
        });
      }
    }
    // Constraints: the lowest value is infeasible (c > 0), c = 0 is satisfied.
    await svc.execute("create_study", { name: "con", space });
    for (const [value, c] of [[0.1, 1], [0.3, -1], [0.2, 0]] as const) {
      const a = await svc.execute("ask", { study: "con" });
      await svc.execute("tell", { study: "con", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value, constraints: [c] });
    }
    await svc.execute("enqueue", { study: "lo", params: { x: 0.5 } });
    const expected = await svc.listStudies();
    await svc.close();
    await storage.close();

    await readingSql(path, undefined, async (reader) => {
      const got = await studySummaries(reader);
      expect(got).toEqual(expected);
      const byName = Object.fromEntries(got.map((s) => [s.name, s]));
      expect(byName.lo?.best_trial?.number).toBe(1); // 0.25 at trials 1 and 3
      expect(byName.hi?.best_trial?.number).toBe(2); // 0.75 at trials 2 and 4
      expect(byName.lo?.best_trial?.intermediate).toEqual([[0, 1]]);
      expect(byName.lo?.counts).toEqual({ WAITING: 1, RUNNING: 1, COMPLETE: 4, PRUNED: 1, FAIL: 1 });
      expect(byName.empty?.best_trial).toBeNull();
      expect(byName.failed?.best_trial).toBeNull();
      expect(byName.con?.best_trial?.number).toBe(2);
    });
  });

  it("shows a study and pages its trials as get_study and the trials op do, from SQL (define-by-run, filters, both orders)", async () => {
    const path = backend.location();
    const storage = await backend.open(path);
    let now = 5_000_000;
    const svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
    const space = { x: { type: "float", low: 0, high: 1 } };
    const extra = { type: "int", low: 1, high: 4 };
    const other = { type: "categorical", choices: ["a", "b"] };
    for (const direction of ["minimize", "maximize"] as const) {
      const name = `s-${direction}`;
      await svc.execute("create_study", { name, space, direction });
      // Values with ties, every state, and define-by-run parameters first used at trials 2 and 5.
      const plan: (number | "FAIL" | "PRUNED" | "RUNNING")[] = [0.5, 0.25, "PRUNED", 0.25, "FAIL", 0.75, 0.5, "RUNNING", 0.1];
      for (const [i, v] of plan.entries()) {
        const a = await svc.execute("ask", { study: name });
        const token = a.lease.token;
        if (i === 2 || i === 6) await svc.execute("suggest", { study: name, trial: a.trial.number, token, name: "layers", distribution: extra });
        if (i === 5) await svc.execute("suggest", { study: name, trial: a.trial.number, token, name: "act", distribution: other });
        now += 1000;
        if (v === "RUNNING") continue;
        await svc.execute("report", { study: name, trial: a.trial.number, token, step: 1, value: 2 });
        await svc.execute("tell", {
          study: name, trial: a.trial.number, token,
          state: typeof v === "number" ? "COMPLETE" : v, value: typeof v === "number" ? v : undefined,
        });
      }
    }
    const expected: Record<string, unknown> = {};
    const queries = [
      { order_by: "number", limit: 100 },
      { order_by: "number", limit: 3 },
      { order_by: "value", limit: 100 },
      { order_by: "value", limit: 2 },
      { order_by: "number", limit: 2, states: ["COMPLETE", "PRUNED"] },
      { order_by: "value", limit: 4, states: ["COMPLETE", "COMPLETE"] },
      { order_by: "number", limit: 5, states: ["WAITING"] },
    ] as const;
    // A budget and a stop, which `studies show` prints.
    await svc.execute("update_study", { study: "s-maximize", max_trials: 20 });
    await svc.execute("stop_study", { study: "s-maximize" });
    for (const name of ["s-minimize", "s-maximize"]) {
      expected[name] = (await svc.execute("get_study", { study: name })).study;
      for (const [i, q] of queries.entries()) expected[`${name}/${i}`] = await svc.execute("trials", { study: name, ...q, states: "states" in q ? [...q.states] : undefined });
    }
    await svc.close();
    await storage.close();

    await readingSql(path, now, async (reader) => {
      for (const name of ["s-minimize", "s-maximize"]) {
        const shown = await summaryView(reader, await studyNamed(reader, name));
        expect(shown).toEqual(expected[name]);
        expect(Object.keys(shown.define_by_run)).toEqual(["layers", "act"]);
        for (const [i, q] of queries.entries()) expect(await trialsPageOf(reader, name, q)).toEqual(expected[`${name}/${i}`]);
        const text = formatStudy(shown);
        expect(text).toMatch(/^ {2}layers: \{"type":"int".*\} \(define-by-run\)\n {2}act: \{"type":"categorical".*\} \(define-by-run\)$/m);
        if (name === "s-maximize") expect(text).toMatch(/^max_trials 20\nstatus     stopped: hands out no trials until resumed$/m);
        else expect(text).not.toMatch(/max_trials|stopped/);
      }
      await expect(studyNamed(reader, "nope")).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(trialsPageOf(reader, "nope", { order_by: "number", limit: 1 })).rejects.toMatchObject({ code: "NOT_FOUND" });
    });
  });

  it("shows a multi-objective study's front as best_trials does, reading only the front's trials whole", async () => {
    const path = backend.location();
    const storage = await backend.open(path);
    let now = 7_000_000;
    const svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
    const space = { x: { type: "float", low: 0, high: 1 } };
    // A trade-off front with a duplicate, dominated points, an infeasible point that would dominate,
    // and trials that are not COMPLETE; with two objectives and with three (the third constant:
    // the same front), whose front PostgreSQL computes from every COMPLETE trial's objectives.
    const plan: ([number, number, number] | "PRUNED" | "FAIL" | "RUNNING")[] = [
      [1, 1, -1], [2, 3, -1], [1, 2, 0], [0, 9, 1], [3, 3, -1], [1, 2, -1], "PRUNED", [5, 5, -2], "FAIL", "RUNNING", [0.5, 0.5, -1],
    ];
    const expected: Record<string, unknown> = {};
    for (const [name, directions] of [["mo", ["minimize", "maximize"]], ["mo3", ["minimize", "maximize", "minimize"]]] as const) {
      await svc.execute("create_study", { name, space, directions: [...directions] });
      for (const p of plan) {
        const a = await svc.execute("ask", { study: name });
        now += 1000;
        if (p === "RUNNING") continue;
        await svc.execute("tell", {
          study: name, trial: a.trial.number, token: a.lease.token,
          ...(typeof p === "string" ? { state: p } : { state: "COMPLETE", values: [p[0], p[1], 7].slice(0, directions.length), constraints: [p[2]] }),
        });
      }
      expected[name] = (await svc.execute("get_study", { study: name })).study;
      expected[`${name}/front`] = await svc.execute("best_trials", { study: name });
    }
    await svc.close();
    await storage.close();

    await readingSql(path, now, async (reader) => {
      for (const name of ["mo", "mo3"]) {
        const whole = vi.spyOn(reader, "trialsByNumber");
        const objectives = vi.spyOn(reader, "completeObjectives");
        const shown = await summaryView(reader, await studyNamed(reader, name));
        expect(shown).toEqual(expected[name]);
        const got = await paretoFrontOf(reader, await studyNamed(reader, name), shown);
        expect(got).toEqual(expected[`${name}/front`]);
        expect(got.trials.map((t) => t.number)).toEqual([1, 2, 5, 7, 10]);
        if (backend.name === "sqlite" || name === "mo") {
          // SQLite keeps the front on write, PostgreSQL computes a two-objective one in SQL: no
          // COMPLETE trial's objectives reach the reader.
          expect(objectives).not.toHaveBeenCalled();
          expect(whole).not.toHaveBeenCalled();
        } else expect(whole).toHaveBeenCalledWith(expect.any(Number), [1, 2, 5, 7, 10]);
        whole.mockRestore();
        objectives.mockRestore();
      }
      // No single value to sort a multi-objective study's trials by: refused, naming the front.
      await expect(trialsPageOf(reader, "mo", { order_by: "value", limit: 10 })).rejects.toThrow(/has 2 objectives \(minimize, maximize\), so no trial has one value to sort by: 'tuneport studies show mo'/);
      expect((await trialsPageOf(reader, "mo", { order_by: "number", limit: 100 })).total).toBe(11);
      // The list names every direction of a multi-objective study (and no single best).
      const listed = formatStudyTable(await studySummaries(reader));
      expect(listed).toMatch(/^mo +minimize,maximize +auto +- +11 +8 +1 +-$/m);
      expect(listed).toMatch(/^mo3 +minimize,maximize,minimize /m);
    });
  });

  it("shows lineages as the lineage op does, reading only the trials each follows (PBT donors, reports and completions)", async () => {
    const path = backend.location();
    const storage = await backend.open(path);
    let now = 9_000_000;
    const svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
    const space = { x: { type: "float", low: 0, high: 1 } };
    await svc.execute("create_study", { name: "pbt", space: scheduleProblem.space, direction: scheduleProblem.direction, strategy: { name: "pbt", options: { population_size: 8, perturbation_interval: 4 } }, seed: 3 });
    const run = await runPopulation(svc, scheduleProblem, { study: "pbt", workers: 8, stepsPerMember: 24, seed: 3, advance: (sec) => (now += sec * 1000) });
    expect(run.exploits).toBeGreaterThan(2);
    // Without a lineage: reports with NaN and infinities (never the best), a tie (the lower trial
    // wins), and a trial that never reported whose COMPLETE value is best (step null).
    for (const dir of ["minimize", "maximize"] as const) {
      const name = `plain-${dir}`;
      await svc.execute("create_study", { name, space, direction: dir, scheduler: "median" });
      const sign = dir === "minimize" ? 1 : -1;
      const plan: [number[], number | null][] = [
        [[3, 2, Number.NaN, -Infinity * sign, 2], 2],
        [[5, 2, 2], 2],
        [[], 4],
        [[Number.NaN], dir === "minimize" ? 2 : 1.5],
        [[Infinity * sign], null],
        [[5, 3], 1], // its COMPLETE value does not count: it reported
      ];
      for (const [reports, value] of plan) {
        const a = await svc.execute("ask", { study: name });
        for (const [step, v] of reports.entries())
          await svc.execute("report", { study: name, trial: a.trial.number, token: a.lease.token, step, value: sign * v });
        if (value !== null) await svc.execute("tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: sign * value });
      }
    }
    await svc.execute("create_study", { name: "empty", space });
    // Two objectives: no single best to follow without a trial; with one, its lineage.
    await svc.execute("create_study", { name: "two", space, directions: ["minimize", "maximize"] });
    const two = await svc.execute("ask", { study: "two" });
    await svc.execute("tell", { study: "two", trial: two.trial.number, token: two.lease.token, state: "COMPLETE", values: [1, 2] });
    await expect(svc.execute("lineage", { study: "two" })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/has 2 objectives \(minimize, maximize\).*name the trial/) });
    expect((await svc.execute("lineage", { study: "two", trial: 0 })).lineage.trial).toBe(0);
    const asks: [string, number | undefined][] = [["pbt", undefined], ["plain-minimize", undefined], ["plain-maximize", undefined], ["plain-minimize", 1], ["plain-maximize", 4]];
    const nPbt = (await svc.execute("get_study", { study: "pbt" })).study.n_trials;
    for (let n = 0; n < nPbt; n++) asks.push(["pbt", n]);
    const expected: LineageView[] = [];
    for (const [study, trial] of asks) expected.push((await svc.execute("lineage", { study, trial })).lineage);
    await svc.close();
    await storage.close();

    await readingSql(path, now, async (reader) => {
      const read = vi.spyOn(reader, "trialsByNumber");
      const pbtLoads: number[] = [];
      for (const [i, [name, trial]] of asks.entries()) {
        read.mockClear();
        const got = await lineageFromSql(reader, await studyNamed(reader, name), trial);
        expect(got, `${name} ${trial}`).toEqual(expected[i]);
        // Only the trial and the donors its lineage names are read, each once.
        const loaded = read.mock.calls.flatMap((c) => c[1]);
        expect(new Set(loaded).size).toBe(loaded.length);
        expect(loaded[0]).toBe(got.trial);
        if (name === "pbt") {
          pbtLoads.push(loaded.length);
          // Only the chain the schedule follows: every trial read trained a segment of it.
          const inSchedule = new Set(got.schedule.map((s) => s.trial));
          expect(loaded.filter((n) => !inSchedule.has(n) && n !== got.trial), `${trial}`).toEqual([]);
        } else expect(loaded).toEqual([got.trial]);
      }
      expect(Math.min(...pbtLoads)).toBeLessThan(nPbt);
      expect(Math.max(...pbtLoads)).toBeGreaterThan(1);
      // Minimising, trials 0 and 1 reported 2 (trial 0 twice) and trial 3 (which reported only NaN)
      // completed at 2: the lowest trial wins, at its first step with that value. Maximising, trial 3's COMPLETE
      // value (-1.5) is better than every report, and counts at step null.
      expect(expected.slice(1, 3).map((l) => [l.trial, l.step, l.value])).toEqual([[0, 1, 2], [3, null, -1.5]]);
      expect(expected.some((l) => l.tracked && l.schedule.length > 1)).toBe(true);
      await expect(lineageFromSql(reader, await studyNamed(reader, "empty"), undefined)).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(lineageFromSql(reader, await studyNamed(reader, "two"), undefined)).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/has 2 objectives/) });
      expect((await lineageFromSql(reader, await studyNamed(reader, "two"), 0)).trial).toBe(0);
      // The study deleted between the best report and the trial's read: NOT_FOUND, not a TypeError.
      read.mockResolvedValueOnce([]);
      await expect(lineageFromSql(reader, await studyNamed(reader, "plain-minimize"), undefined)).rejects.toMatchObject({ code: "NOT_FOUND" });
      await expect(lineageFromSql(reader, await studyNamed(reader, "pbt"), nPbt)).rejects.toMatchObject({ code: "NOT_FOUND" });
    });
  });

  it("keeps define-by-run distributions as pairs: k suggests on a trial store k, not k maps of 1…k entries", async () => {
    const path = backend.location();
    const storage = await backend.open(path);
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await svc.execute("create_study", { name: "dbr", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    const k = 300;
    for (const trial of [0, 1]) {
      const a = await svc.execute("ask", { study: "dbr" });
      for (let i = 0; i < k; i++)
        await svc.execute("suggest", { study: "dbr", trial: a.trial.number, token: a.lease.token, name: `p${i}`, distribution: { type: "int", low: 0, high: trial === 0 ? 3 : 5 } });
      await svc.execute("tell", { study: "dbr", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 });
    }
    await svc.close();
    await storage.close();
    await readingSql(path, undefined, async (reader) => {
      const kept = await reader.distinctDistributions((await studyNamed(reader, "dbr")).id);
      // x once, each p_i once per distribution (two trials drew them from two ranges): 1 + 2k entries.
      expect(kept.reduce((n: number, m) => n + Object.keys(m).length, 0)).toBe(1 + 2 * k);
      // First use wins, as the service's paramDists: the first trial's range.
      const first = new Map<string, unknown>();
      for (const m of kept) for (const [name, d] of Object.entries(m)) if (!first.has(name)) first.set(name, d);
      expect(first.get("p7")).toMatchObject({ type: "int", low: 0, high: 3 });
    });
  });

  it("prints every objective and feasibility in the trials table, says what a page leaves out, and refuses trials' options elsewhere", async () => {
    const path = backend.location();
    const storage = await backend.open(path);
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await svc.execute("create_study", { name: "mo", directions: ["maximize", "minimize"], space: { c: { type: "categorical", choices: [null, "a"] } } });
    await svc.execute("create_study", { name: "so", space: { x: { type: "float", low: 0, high: 1 } } });
    // The Python client's set_metric_names keeps the objectives' names in this user attribute.
    await svc.execute("create_study", { name: "named", directions: ["maximize", "minimize"], space: {}, user_attrs: { "tuneport:metric_names": ["acc", "size"] } });
    await svc.execute("add_trial", { study: "named", params: {}, values: [0.9, 3] });
    for (const [i, c] of [-1, 2].entries()) await svc.execute("add_trial", { study: "mo", params: { c: i === 0 ? null : "a" }, values: [i + 0.5, 7 - i], constraints: [c] });
    for (const state of ["COMPLETE", "COMPLETE", "FAIL"] as const)
      await svc.execute("add_trial", { study: "so", params: { x: 0.5 }, state, ...(state === "COMPLETE" ? { value: 1 } : {}) });
    await svc.close();
    await storage.close();
    const written = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const printed = async (...argv: string[]) => {
      written.mockClear();
      expect(await runCommand(studiesCommand, [...argv, "--storage", path])).toBe(0);
      return written.mock.calls.map(([c]) => String(c)).join("");
    };
    try {
      const mo = (await printed("trials", "mo")).split("\n");
      // values_I, as `studies show` and Optuna's trials_dataframe name them (it said value_I).
      expect(mo[0]).toMatch(/^#\s+state\s+values_0\s+values_1\s+feasible\s+c\s+duration_s$/);
      expect(mo[2]).toMatch(/^0\s+COMPLETE\s+0\.5\s+7\s+yes\s+null\s/);
      expect(mo[3]).toMatch(/^1\s+COMPLETE\s+1\.5\s+6\s+no\s+a\s/);
      expect(await printed("show", "mo")).toMatch(/^#\s+values_0 \(max\)\s+values_1 \(min\)\s+c$/m);
      // With metric names (set_metric_names), both tables name the objectives: values_<name>.
      expect((await printed("trials", "named")).split("\n")[0]).toMatch(/^#\s+state\s+values_acc\s+values_size\s+duration_s$/);
      expect(await printed("show", "named")).toMatch(/^#\s+values_acc \(max\)\s+values_size \(min\)$/m);
      // A study that declares no space and drew no parameter says so (it printed a bare "space:").
      expect(await printed("show", "named")).toMatch(/^space: {5}none declared, no define-by-run parameter drawn yet$/m);
      // The count comes with the page, as the trials op's without_value: one page query, not a second to count.
      const pages = vi.spyOn(backend.name === "sqlite" ? SqliteStorage.prototype : PostgresStorage.prototype, "trialPage");
      expect(await printed("trials", "so", "--sort", "value")).toMatch(/\(1 trial\(s\) without a value are not listed when sorted by value; --sort number lists them\)/);
      expect(JSON.parse(await printed("trials", "so", "--sort", "value", "--json"))).toMatchObject({ total: 2, without_value: 1 });
      expect(JSON.parse(await printed("trials", "so", "--sort", "value", "--state", "fail", "--json"))).toMatchObject({ total: 0, trials: [], without_value: 1 });
      expect(JSON.parse(await printed("trials", "so", "--json")).without_value).toBeUndefined();
      expect(pages).toHaveBeenCalledTimes(4);
      pages.mockRestore();
      expect(await printed("trials", "so", "--limit", "1")).toMatch(/\(1 of 3 trials shown; --limit N shows more/);
      expect(await printed("trials", "so")).not.toMatch(/shown|without a value/);
      for (const argv of [["list", "--limit", "2"], ["show", "so", "--sort", "value"], ["show", "so", "--state", "complete"]])
        await expect(runCommand(studiesCommand, [...argv, "--storage", path])).rejects.toThrow(/applies to 'studies trials' only/);
    } finally {
      written.mockRestore();
    }
  });

  it("closes the storage after every command, so that an open PostgreSQL pool does not keep the process alive", async () => {
    const path = backend.location();
    const storage = await backend.open(path);
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await svc.execute("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
    await svc.execute("create_study", { name: "pbt", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "pbt" });
    for (const name of ["s", "pbt"]) {
      const a = await svc.execute("ask", { study: name });
      await svc.execute("report", { study: name, trial: a.trial.number, token: a.lease.token, step: 1, value: 0.5 });
      await svc.execute("tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    }
    await svc.close();
    await storage.close();
    const closes = [vi.spyOn(SqliteStorage.prototype, "close"), vi.spyOn(PostgresStorage.prototype, "close")];
    const written = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      const runs = [
        ["list"], ["show", "s"], ["trials", "s", "--limit", "1"], ["trials", "s", "--sort", "value"], ["trials", "s", "--state", "complete"],
        ["lineage", "pbt"], ["show", "nope"], ["trials", "s", "--state", "finished"], ["lineage", "pbt", "--broken-open"],
      ];
      for (const [i, argv] of runs.entries()) {
        const broken = argv.includes("--broken-open");
        // A read that fails (a lineage's) still closes the storage.
        const open = broken ? vi.spyOn(backend.name === "sqlite" ? SqliteStorage.prototype : PostgresStorage.prototype, "bestReported").mockRejectedValueOnce(new Error("cannot open")) : null;
        const run = runCommand(studiesCommand, [...argv.filter((a) => a !== "--broken-open"), "--storage", path]);
        if (argv[1] === "nope") await expect(run).rejects.toMatchObject({ code: "NOT_FOUND" });
        else if (argv.includes("finished")) await expect(run).rejects.toThrow(/--state "finished": expected one of WAITING, RUNNING, COMPLETE, PRUNED, FAIL/);
        else if (broken) await expect(run).rejects.toThrow("cannot open");
        else expect(await run).toBe(0);
        open?.mockRestore();
        expect(closes.reduce((n, c) => n + c.mock.calls.length, 0)).toBe(i + 1);
      }
      // `--state complete` is COMPLETE: the one trial, not an empty page.
      written.mockClear();
      expect(await runCommand(studiesCommand, ["trials", "s", "--state", "complete", "--json", "--storage", path])).toBe(0);
      expect(JSON.parse(String(written.mock.calls[0]?.[0])).total).toBe(1);
      expect(written).toHaveBeenCalled();
    } finally {
      for (const c of closes) c.mockRestore();
      written.mockRestore();
    }
  });
});
