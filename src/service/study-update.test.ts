/**
 * update_study (study-update.ts), export pages, notes, multi-objective add_trial and the lineage
 * flag, on SQLite and (with `make postgres`) PostgreSQL: what an agent steering a study relies on,
 * including that each change survives a restart of the service on the same storage.
 */
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { wideningProblem } from "../domain/widen.js";
import { silentLogger } from "../logger.js";
import type { Storage } from "../storage/storage.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { StudyService } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 }, c: { type: "categorical", choices: ["a", "b"] } };

async function refused(p: Promise<unknown>, code: string, msg: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(TuneportError);
  expect([(err as TuneportError).code, (err as TuneportError).message]).toEqual([code, expect.stringMatching(msg)]);
}

describe("wideningProblem", () => {
  const f = { type: "float", low: 0, high: 1 } as const;
  it.each([
    [f, { type: "float", low: -1, high: 2 }, null],
    [f, f, null],
    [f, { type: "float", low: 0.1, high: 2 }, /does not contain \[0, 1\]/],
    [f, { type: "float", low: 0, high: 1, log: true }, /scale/],
    [f, { type: "int", low: 0, high: 1 }, /keeps its type/],
    [{ type: "int", low: 0, high: 8, step: 2 }, { type: "int", low: 0, high: 10, step: 2 }, null],
    [{ type: "int", low: 0, high: 8, step: 2 }, { type: "int", low: 0, high: 10, step: 1 }, /step cannot change/],
    [{ type: "categorical", choices: ["a", "b"] }, { type: "categorical", choices: ["a", "b", "c"] }, null],
    [{ type: "categorical", choices: ["a", "b"] }, { type: "categorical", choices: ["b", "a", "c"] }, /after the old ones/],
    [{ type: "categorical", choices: ["a", "b"] }, { type: "categorical", choices: ["a"] }, /after the old ones/],
  ] as const)("%j → %j", (old, next, want) => {
    const got = wideningProblem("p", old, next, []);
    if (want === null) expect(got).toBeNull();
    else expect(got).toMatch(want);
  });
  it("keeps every existing trial's value on a stepped grid", () => {
    const old = { type: "float", low: 0, high: 1, step: 0.25 } as const;
    expect(wideningProblem("p", old, { type: "float", low: -0.5, high: 1, step: 0.25 }, [0.25, 0.75])).toBeNull();
    expect(wideningProblem("p", old, { type: "float", low: -0.1, high: 1, step: 0.25 }, [0.25])).toMatch(/value 0.25 of an existing trial/);
  });
});

describe.each(storageBackends(inject("pgUrl")))("update_study and friends on %s", (backend: StorageBackend) => {
  let location: string;
  let storage: Storage;
  let svc: StudyService;
  const open = async () => {
    storage = await backend.open(location);
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  };
  const restart = async () => {
    await svc.close();
    await storage.close();
    await open();
  };
  /** Asks and completes `n` trials with value x (x is low-is-good). */
  const run = async (study: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const a = await svc.ask({ study });
      await svc.tell({ study, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: Number(a.trial.params.x) });
    }
  };

  beforeEach(async () => {
    location = backend.location();
    await open();
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  it("relaxes a median pruner by merging options, and the relaxed pruner decides from then on, also after a restart", async () => {
    await svc.createStudy({ name: "p", space: SPACE, strategy: "random", seed: 1, scheduler: { name: "median", options: { n_startup_trials: 2 } } });
    // Two complete trials with good reports at step 1, then a bad one: pruned at step 1.
    for (const v of [0.1, 0.2]) {
      const a = await svc.ask({ study: "p" });
      await svc.report({ study: "p", trial: a.trial.number, token: a.lease.token, step: 1, value: v });
      await svc.tell({ study: "p", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: v });
    }
    const bad = async () => {
      const a = await svc.ask({ study: "p" });
      const r = await svc.report({ study: "p", trial: a.trial.number, token: a.lease.token, step: 1, value: 9 });
      await svc.tell({ study: "p", trial: a.trial.number, token: a.lease.token, state: r.decision.action === "prune" ? "PRUNED" : "COMPLETE", value: 9 });
      return r.decision.action;
    };
    expect(await bad()).toBe("prune");
    const r = await svc.updateStudy({ study: "p", scheduler: { name: "median", options: { n_warmup_steps: 5 } } });
    expect(r.changed).toEqual(["scheduler"]);
    expect(r.study.scheduler?.options).toMatchObject({ n_startup_trials: 2, n_warmup_steps: 5 });
    expect(await bad()).toBe("continue");
    await restart();
    expect((await svc.getStudy({ study: "p" })).scheduler?.options).toMatchObject({ n_startup_trials: 2, n_warmup_steps: 5 });
    expect(await bad()).toBe("continue");
    // Removing the scheduler; the same request again changes nothing.
    expect((await svc.updateStudy({ study: "p", scheduler: null })).changed).toEqual(["scheduler"]);
    expect((await svc.updateStudy({ study: "p", scheduler: null })).changed).toEqual([]);
  });

  it("switches strategy keeping the history: the new one learns from the trials the old one ran (5 seeds)", async () => {
    // TPE starts modelling at once (20 trials ≥ its 10 startup ones) and concentrates near the
    // optimum x = 0; random search would put about 30% of 15 draws below 0.3 (P(≥ 10 of 15) < 0.001).
    for (const seed of [5, 6, 7, 8, 9]) {
      const name = `s${seed}`;
      await svc.createStudy({ name, space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed });
      await run(name, 20);
      const r = await svc.updateStudy({ study: name, strategy: { name: "tpe", options: { n_startup_trials: 10 } }, notes: "random start done" });
      expect([r.changed, r.study.strategy.name, r.study.n_trials, r.study.notes]).toEqual([["strategy", "notes"], "tpe", 20, "random start done"]);
      await run(name, 15);
      const after = (await svc.listTrials({ study: name })).trials.slice(20).map((t) => Number(t.params.x));
      expect(after.filter((x) => x < 0.3).length, `seed ${seed}: ${after.map((x) => x.toFixed(2)).join(" ")}`).toBeGreaterThanOrEqual(10);
    }
    await restart();
    const s = await svc.getStudy({ study: "s5" });
    expect([s.strategy.name, s.notes, s.n_trials]).toEqual(["tpe", "random start done", 35]);
  });

  it("refuses a switch to or from PBT while trials run, and allows it once they finished", async () => {
    await svc.createStudy({ name: "b", space: { x: { type: "float", low: 0, high: 1 } }, strategy: { name: "pbt", options: { population_size: 2 } }, seed: 1 });
    const a = await svc.ask({ study: "b" });
    await refused(svc.updateStudy({ study: "b", strategy: "tpe" }), "FAILED_PRECONDITION", /cannot switch from strategy 'pbt' while 1 trial\(s\) run.*stop_study/);
    // A larger population is no switch: the refusal says what was asked.
    await refused(svc.updateStudy({ study: "b", strategy: { name: "pbt", options: { population_size: 4 } } }), "FAILED_PRECONDITION",
      /^cannot change the options of strategy 'pbt' while 1 trial\(s\) run: .*by the options they started with.*stop_study/);
    await svc.tell({ study: "b", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    expect((await svc.updateStudy({ study: "b", strategy: "tpe" })).study.strategy.name).toBe("tpe");
    const b = await svc.ask({ study: "b" });
    await refused(svc.updateStudy({ study: "b", strategy: "pbt" }), "FAILED_PRECONDITION", /cannot switch to strategy 'pbt' while 1 trial/);
    await svc.tell({ study: "b", trial: b.trial.number, token: b.lease.token, state: "COMPLETE", value: 0.4 });
    // A combination refused at creation is refused here too.
    await refused(svc.updateStudy({ study: "b", strategy: "pbt", scheduler: "median" }), "INVALID_ARGUMENT", /cannot be combined/);
  });

  it("widens the space (bounds, appended choices) and refuses narrowing, new names, grid and cmaes", async () => {
    await svc.createStudy({ name: "w", space: SPACE, strategy: "random", seed: 2 });
    await run("w", 5);
    const r = await svc.updateStudy({ study: "w", space: { x: { type: "float", low: 0, high: 3 }, c: { type: "categorical", choices: ["a", "b", "z"] } } });
    expect(r.changed).toEqual(["space"]);
    await run("w", 40);
    const xs = (await svc.listTrials({ study: "w" })).trials.slice(5);
    expect(xs.some((t) => Number(t.params.x) > 1)).toBe(true);
    expect(xs.some((t) => t.params.c === "z")).toBe(true);
    await refused(svc.updateStudy({ study: "w", space: { x: { type: "float", low: 0, high: 2 } } }), "INVALID_ARGUMENT", /only be widened, never narrowed/);
    await refused(svc.updateStudy({ study: "w", space: { y: { type: "float", low: 0, high: 2 } } }), "INVALID_ARGUMENT", /'y' is not declared.*suggest/);
    // Appending choices past the limit of one categorical (MAX_CHOICES) is refused like creating it.
    const many = ["a", "b", ...Array.from({ length: 9_999 }, (_, i) => `n${i}`)];
    await refused(svc.updateStudy({ study: "w", space: { c: { type: "categorical", choices: many } } }), "INVALID_ARGUMENT", /at most 10,000 choices \(this one has 10,001\)/);
    await restart();
    expect((await svc.getStudy({ study: "w" })).space.x).toEqual({ type: "float", low: 0, high: 3 });

    for (const strategy of ["grid", "cmaes"]) {
      const name = `fixed-${strategy}`;
      await svc.createStudy({ name, space: { x: { type: "float", low: 0, high: 1, step: 0.25 } }, strategy, seed: 1 });
      await run(name, 2);
      await refused(svc.updateStudy({ study: name, space: { x: { type: "float", low: 0, high: 2, step: 0.25 } } }), "FAILED_PRECONDITION", new RegExp(`strategy '${strategy}' cannot take a wider space`));
    }
  });

  it("sets and clears notes on a study and a trial, beside the user attributes", async () => {
    await svc.createStudy({ name: "n", space: SPACE, strategy: "random", seed: 1 });
    await run("n", 1);
    const t = await svc.execute("set_user_attrs", { study: "n", trial: 0, notes: "looked odd: check the data loader" });
    expect("trial" in t && t.trial.system_attrs.notes).toBe("looked odd: check the data loader");
    await svc.execute("set_user_attrs", { study: "n", attrs: { owner: "me" }, notes: "baseline sweep" });
    await restart();
    expect((await svc.getTrial({ study: "n", trial: 0 })).system_attrs.notes).toBe("looked odd: check the data loader");
    expect(await svc.getStudy({ study: "n" })).toMatchObject({ notes: "baseline sweep", user_attrs: { owner: "me" } });
    await svc.execute("set_user_attrs", { study: "n", trial: 0, notes: "" });
    expect((await svc.getTrial({ study: "n", trial: 0 })).system_attrs).not.toHaveProperty("notes");
    await refused(svc.execute("set_user_attrs", { study: "n" }), "INVALID_ARGUMENT", /attrs, notes or both/);
  });

  it("pages the export within max_chars, and the pages are the CLI's export", async () => {
    await svc.createStudy({ name: "e", space: SPACE, strategy: "random", seed: 1 });
    for (let i = 0; i < 40; i++) await svc.addTrial({ study: "e", params: { x: i / 40, c: "a" }, value: i, rationale: "r".repeat(300) });
    const lines: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const p = await svc.exportPage({ study: "e", cursor, max_chars: 2000 });
      expect(p.lines.join("").length).toBeLessThanOrEqual(2000);
      lines.push(...p.lines);
      cursor = p.next_cursor ?? undefined;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBeGreaterThan(5);
    expect(lines).toEqual([...svc.exportStudy("e")]);
    await refused(svc.exportPage({ study: "e", cursor: "999" }), "INVALID_ARGUMENT", /not a study export cursor: pass the next_cursor of the previous page unchanged, or start again without a cursor/);
  });

  it("withholds a running trial's lease token from export_study pages, which agents read; their import gives a token nobody holds", async () => {
    // The token lets whoever holds it tell the trial: an agent read it from the page and recorded a worker's trial as its own.
    await svc.createStudy({ name: "held", space: SPACE, strategy: "random", seed: 1 });
    const a = await svc.ask({ study: "held" });
    const page = (await svc.exportPage({ study: "held" })).lines;
    expect(page.join("\n")).not.toContain(a.lease.token);
    expect(JSON.parse(page[1] as string).lease).toEqual({ withheld: true });
    // The CLI's export keeps it: an operator moving a study keeps its workers going.
    expect([...svc.exportStudy("held")].join("\n")).toContain(a.lease.token);
    await svc.importStudy(page.join("\n"), "held-copy");
    expect((await svc.getTrial({ study: "held-copy", trial: a.trial.number })).state).toBe("RUNNING");
    await refused(svc.tell({ study: "held-copy", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 }), "LEASE_LOST", /./);
  });

  it("keeps a copied trial's start and finish times given to add_trial (Optuna's copy_study keeps them)", async () => {
    await svc.createStudy({ name: "copy", space: SPACE, strategy: "random", seed: 1 });
    const { trial } = await svc.addTrial({ study: "copy", params: { x: 0.5, c: "a" }, value: 1, started_at: 1_700_000_000.25, finished_at: 1_700_000_012.5 });
    expect([trial.started_at, trial.finished_at]).toEqual([1_700_000_000.25, 1_700_000_012.5]);
    await restart();
    const again = await svc.getTrial({ study: "copy", trial: trial.number });
    expect([again.started_at, again.finished_at]).toEqual([1_700_000_000.25, 1_700_000_012.5]);
    await refused(svc.addTrial({ study: "copy", params: { x: 0.5, c: "a" }, value: 1, started_at: 20, finished_at: 10 }), "INVALID_ARGUMENT", /started_at \(20\) is after finished_at \(10\)/);
  });

  it("records multi-objective results with add_trial, and counts them", async () => {
    await svc.createStudy({ name: "m", directions: ["minimize", "maximize"], space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
    const { trial } = await svc.addTrial({ study: "m", params: { x: 0.5 }, values: [1, 2], constraints: [-1] });
    expect([trial.value, trial.values, trial.constraints, trial.feasible]).toEqual([null, [1, 2], [-1], true]);
    await refused(svc.addTrial({ study: "m", params: { x: 0.5 }, value: 1 }), "INVALID_ARGUMENT", /2 objective/);
    await refused(svc.addTrial({ study: "m", params: { x: 0.5 }, state: "FAIL", constraints: [1] }), "INVALID_ARGUMENT", /COMPLETE result only/);
    // The constraint vector's length is the first COMPLETE trial's, as for tell (add_trial took any, and [] as feasible).
    for (const constraints of [[1, 2], [], undefined])
      await refused(svc.addTrial({ study: "m", params: { x: 0.5 }, values: [1, 2], constraints }), "INVALID_ARGUMENT", /carry 1 constraint value; got [02]/);
    expect((await svc.getStudy({ study: "m" })).counts.COMPLETE).toBe(1);
    expect((await svc.bestTrials({ study: "m" })).trials.map((t) => t.number)).toEqual([trial.number]);
  });

  it("counts cancelled and added trials, and shows define-by-run parameters with the study", async () => {
    await svc.createStudy({ name: "c", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1 });
    const q = await svc.enqueue({ study: "c", params: { x: 0.5 } });
    await svc.cancelTrial({ study: "c", trial: q.trial.number });
    await svc.addTrial({ study: "c", params: { x: 0.1 }, value: 0.1 });
    const a = await svc.ask({ study: "c" });
    await svc.suggest({ study: "c", trial: a.trial.number, token: a.lease.token, name: "momentum", distribution: { type: "float", low: 0.5, high: 0.99 } });
    const s = await svc.getStudy({ study: "c" });
    expect(s.counts).toMatchObject({ WAITING: 0, FAIL: 1, COMPLETE: 1, RUNNING: 1 });
    expect(s.best_trial?.number).toBe(1);
    expect(s.define_by_run).toEqual({ momentum: { type: "float", low: 0.5, high: 0.99 } });
    expect(Object.keys(s.space)).toEqual(["x"]);
    expect((await svc.lineage({ study: "c", trial: 1 })).tracked).toBe(false);
  });
});

describe.each(storageBackends(inject("pgUrl")))("load_if_exists after update_study on %s", (backend: StorageBackend) => {
  it("loads a steered study for the script that created it, and still refuses settings it never had", async () => {
    const storage = await backend.open(backend.location());
    let svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    // Every worker starts with the same line; an agent steers the study between their starts.
    const script = { name: "s", space: SPACE, strategy: "tpe", scheduler: "median", max_trials: 20, load_if_exists: true };
    expect((await svc.createStudy(script)).created).toBe(true);
    const update = {
      study: "s",
      space: { x: { type: "float", low: -1, high: 2 }, c: { type: "categorical", choices: ["a", "b", "c"] } },
      strategy: "random",
      scheduler: { name: "median", options: { n_warmup_steps: 3 } },
      max_trials: 50,
    };
    await svc.updateStudy(update);
    await svc.updateStudy({ study: "s", space: { x: { type: "float", low: -2, high: 2 } } });
    // Before: "exists with other settings" for every worker started after the agent's change.
    const loaded = await svc.createStudy(script);
    expect(loaded.created).toBe(false);
    expect([loaded.study.space.x, loaded.study.strategy.name, loaded.study.max_trials]).toEqual([{ type: "float", low: -2, high: 2 }, "random", 50]);
    // A space the study neither was created with nor has now (an earlier step of the steering) is refused.
    await refused(svc.createStudy({ ...script, space: update.space }), "INVALID_ARGUMENT", /exists with other settings.*space\.x/);
    await refused(svc.createStudy({ ...script, strategy: "gp" }), "INVALID_ARGUMENT", /exists with other settings.*strategy/);
    await refused(svc.createStudy({ ...script, max_trials: 30 }), "INVALID_ARGUMENT", /exists with other settings.*max_trials/);
    await svc.close();
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    expect((await svc.createStudy(script)).created).toBe(false); // durable
    await svc.close();
    await storage.close();
  });
});

describe.each(storageBackends(inject("pgUrl")))("suggest after update_study widened the space on %s", (backend: StorageBackend) => {
  it("a worker's suggest names the declared parameter as its script does: before and after the widen, and while its trial runs across it", async () => {
    const storage = await backend.open(backend.location());
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await svc.createStudy({ name: "w", space: SPACE, strategy: "random", seed: 3 });
    const asScript = { name: "x", distribution: { type: "float", low: 0, high: 1 } };
    const before = await svc.ask({ study: "w" });
    await svc.updateStudy({ study: "w", space: { x: { type: "float", low: -5, high: 5 } } });
    // Its trial was asked from [0, 1]; the widen landed between its ask and its suggest.
    const first = await svc.suggest({ study: "w", trial: 0, token: before.lease.token, ...asScript });
    expect(first.value).toBe(before.trial.params.x);
    // A trial asked after the widen: the script still names [0, 1] and gets the trial's value.
    const after = await svc.ask({ study: "w" });
    expect((await svc.suggest({ study: "w", trial: 1, token: after.lease.token, ...asScript })).value).toBe(after.trial.params.x);
    expect((await svc.suggest({ study: "w", trial: 1, token: after.lease.token, name: "x", distribution: { type: "float", low: -5, high: 5 } })).value).toBe(after.trial.params.x);
    await refused(
      svc.suggest({ study: "w", trial: 1, token: after.lease.token, name: "x", distribution: { type: "float", low: 0, high: 2 } }),
      "INVALID_ARGUMENT",
      /declared in study 'w' as .*cannot be suggested/,
    );
    await svc.close();
    await storage.close();
  });
});
