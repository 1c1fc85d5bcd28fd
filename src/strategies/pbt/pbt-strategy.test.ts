import { describe, expect, it } from "vitest";
import { type Distribution, type ParamValue, contains } from "../../domain/distributions.js";
import { TuneportError } from "../../domain/errors.js";
import { Rng } from "../../math/rng.js";
import { StudyService } from "../../service/study-service.js";
import { runPopulation } from "../../testing/pbt-population.js";
import { scheduleProblem, toyProblem, toyRuns } from "../../testing/pbt-problems.js";
import { MIXED_SPACE, strategyConformance } from "../../testing/strategy.case.js";
import { clockedService } from "../../testing/clocked-service.js";
import { type PbtOptions, exploreValue, pbtStrategyFactory, quantileCount } from "./pbt-strategy.js";

const defaults = (o: Record<string, unknown> = {}): PbtOptions => pbtStrategyFactory.options.parse(o) as PbtOptions;

strategyConformance(pbtStrategyFactory, {
  options: defaults(),
  n: 30,
  skip: { "suggest-param": "members take the declared space only; the service draws define-by-run params uniformly" },
});

describe("pbt explore", () => {
  it("stays inside every distribution, also with extreme factors", () => {
    const rng = new Rng(5);
    const extra: Record<string, Distribution> = {
      neg: { type: "float", low: -3, high: 2 },
      ilog: { type: "int", low: 1, high: 1000, log: true },
      istep: { type: "int", low: 0, high: 20, step: 5 },
      one: { type: "categorical", choices: ["x"] },
    };
    for (const factors of [[0.8, 1.2], [0.01, 100], [1, 1]] as [number, number][]) {
      const opts = defaults({ perturbation_factors: factors, resample_probability: 0.1 });
      for (const [name, d] of Object.entries({ ...MIXED_SPACE, ...extra })) {
        let v: ParamValue = d.type === "categorical" ? (d.choices[0] as ParamValue) : d.low;
        for (let i = 0; i < 300; i++) {
          v = exploreValue(d, v, opts, rng);
          expect(contains(d, v), `${name}=${String(v)} factors ${factors}`).toBe(true);
        }
      }
    }
  });

  it("moves ints and categoricals to a neighbour", () => {
    const opts = defaults({ resample_probability: 0 });
    const rng = new Rng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) seen.add(exploreValue({ type: "int", low: 1, high: 10 }, 2, opts, rng) as number);
    expect([...seen].sort()).toEqual([1, 3]);
    const cat = { type: "categorical" as const, choices: ["a", "b", "c", "d"] };
    const next = new Set<unknown>();
    for (let i = 0; i < 50; i++) next.add(exploreValue(cat, "b", opts, rng));
    expect([...next].sort()).toEqual(["a", "c"]);
    expect(exploreValue(cat, "a", opts, rng)).toBe("b");
  });

  it("sizes quantiles as Ray does (at most half the population)", () => {
    expect(quantileCount(1, 0.25)).toBe(0);
    expect(quantileCount(2, 0.25)).toBe(1);
    expect(quantileCount(4, 0.25)).toBe(1);
    expect(quantileCount(5, 0.25)).toBe(2);
    expect(quantileCount(8, 0.5)).toBe(4);
  });
});

describe("pbt through the service", () => {
  let svc: StudyService;
  const clock = clockedService((s) => (svc = s));
  const { advance } = clock;

  /**
   * Two members of a new maximising study `name` on the toy space (population 2, perturbation
   * interval 2, no resampling), and `rep`, which reports a member's step with checkpoint `ck/<trial>/<step>`.
   */
  async function pair(name: string) {
    await study(name, { population_size: 2, perturbation_interval: 2, resample_probability: 0 }, toyProblem.space, "maximize");
    const a = await svc.ask({ study: name });
    const b = await svc.ask({ study: name });
    const rep = (t: typeof a, step: number, value: number) =>
      svc.report({ study: name, trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `ck/${t.trial.number}/${step}` } });
    return { a, b, rep };
  }

  async function study(name: string, options: Record<string, unknown>, space = scheduleProblem.space, direction: "minimize" | "maximize" = "minimize") {
    await svc.createStudy({ name, space, direction, seed: 3, strategy: { name: "pbt", options }, lease_ttl_s: 5 });
  }

  it("refuses schedulers and lists its options", async () => {
    await expect(svc.createStudy({ name: "x", space: scheduleProblem.space, strategy: "pbt", scheduler: "asha" })).rejects.toThrow(/fight/);
    await expect(svc.createStudy({ name: "y", strategy: { name: "pbt", options: { quantile_fraction: 0.9 } } })).rejects.toThrow(
      /quantile_fraction/,
    );
  });

  it("says where Ray Tune's PBT option names went (a Ray user's mode 'min' meant the direction)", async () => {
    const refusal = (options: Record<string, unknown>, strategy = "pbt") =>
      svc.createStudy({ name: "ray", space: scheduleProblem.space, strategy: { name: strategy, options } }).then(
        () => "accepted",
        (e: Error) => e.message,
      );
    expect(await refusal({ hyperparam_mutations: { lr: [0.1, 0.01] } })).toMatch(/its options are .*; hyperparam_mutations: .*declared space/);
    expect(await refusal({ hyperparam_bounds: { lr: [0.1, 0.01] } }, "pb2")).toMatch(/hyperparam_bounds: .*declared space/);
    expect(await refusal({ synch: true })).toMatch(/synch: .*mode: 'synchronous'/);
    expect(await refusal({ mode: "min" })).toMatch(/mode: .*Ray Tune's mode 'min'\/'max' is the study's direction/);
    expect(await refusal({ mode: "sync" })).toMatch(/expected one of "asynchronous"\|"synchronous"/);
    expect(await refusal({ perturbation_interval: 2, quantile_fraction: 0.25, resample_probability: 0.5 })).toBe("accepted");
  });

  it("refuses a study without a declared space (define-by-run trials would never become members)", async () => {
    for (const name of ["pbt", "pb2"])
      await expect(svc.createStudy({ name: `dbr-${name}`, strategy: { name, options: { population_size: 3 } } })).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        message: expect.stringMatching(/declared space/),
      });
    await svc.createStudy({ name: "later", space: scheduleProblem.space, strategy: "tpe" });
    await expect(svc.updateStudy({ study: "later", strategy: "pbt" })).resolves.toBeDefined();
    await svc.createStudy({ name: "dbr", strategy: "tpe" });
    await expect(svc.updateStudy({ study: "dbr", strategy: "pbt" })).rejects.toThrow(/pbt needs a declared space/);
    // A study stored so before the rule (an import) keeps its other updates.
    const legacy = { format: "tuneport-study", version: 1, name: "legacy", config: { direction: "minimize", space: {}, strategy: { name: "pbt", options: {} }, scheduler: null, seed: 1, retry: { max_retries: 0, retry_on_fail: false, keep_intermediate: false }, lease_ttl_s: 30 }, user_attrs: {}, created_at_ms: 1 };
    await svc.importStudy(`${JSON.stringify(legacy)}\n`);
    await expect(svc.updateStudy({ study: "legacy", notes: "kept" })).resolves.toMatchObject({ changed: ["notes"] });
  });

  it("makes an enqueued trial a member with its own params while a slot is free", async () => {
    // It ran outside the population before: never exploited or explored, and one trial more.
    await study("enq", { population_size: 2, perturbation_interval: 1 });
    const space = Object.keys(scheduleProblem.space);
    const given = Object.fromEntries(space.map((k) => [k, (scheduleProblem.space[k] as { low: number }).low]));
    await svc.enqueue({ study: "enq", params: given });
    const a = await svc.ask({ study: "enq" });
    expect(a.trial.params).toEqual(given);
    expect(a.trial.system_attrs).toMatchObject({ pbt_member: 0, pbt_generation: 0 });
    expect((a.trial.system_attrs.pbt_lineage as { params: unknown }[])[0]?.params).toEqual(given);
    const b = await svc.ask({ study: "enq" });
    expect(b.trial.system_attrs.pbt_member).toBe(1);
    await expect(svc.ask({ study: "enq" })).rejects.toMatchObject({ code: "SEARCH_SPACE_EXHAUSTED" });
    // The worse member (the enqueued one) exploits the other.
    const report = (x: typeof a, value: number) =>
      svc.report({ study: "enq", trial: x.trial.number, token: x.lease.token, step: 1, value, data: { checkpoint: `/c/${x.trial.number}` } });
    await report(b, 0.1);
    expect((await report(a, 9)).decision).toMatchObject({ action: "update", restore: { trial: b.trial.number } });
    // With every slot taken an enqueued trial runs outside the population, as before.
    await svc.enqueue({ study: "enq", params: given });
    expect((await svc.ask({ study: "enq" })).trial.system_attrs.pbt_member).toBeUndefined();
  });

  it("creates population_size members, then refuses to over-fill", async () => {
    await study("p", { population_size: 3 });
    const asked = [await svc.ask({ study: "p" }), await svc.ask({ study: "p" }), await svc.ask({ study: "p" })];
    expect(asked.map((a) => a.trial.system_attrs.pbt_member)).toEqual([0, 1, 2]);
    expect(asked.every((a) => a.trial.system_attrs.pbt_generation === 0)).toBe(true);
    await expect(svc.ask({ study: "p" })).rejects.toMatchObject({ code: "SEARCH_SPACE_EXHAUSTED" });
  });

  for (const mode of ["asynchronous", "synchronous"] as const) {
    it(`${mode}: exploit always loads a donor's existing checkpoint, never its own or a deleted one (5 seeds)`, async () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const name = `${mode}-${seed}`;
        await study(name, { population_size: 4, perturbation_interval: 4, mode });
        const run = await runPopulation(svc, scheduleProblem, { study: name, workers: 4, stepsPerMember: 60, seed, advance });
        expect(run.violations).toEqual([]);
        expect(run.exploits).toBeGreaterThan(0);
        expect(run.deleted).toBeGreaterThan(0);
        // Retention: once every member has finished, every checkpoint has been released.
        expect(run.remaining).toBe(0);
        const trials = (await svc.listTrials({ study: name })).trials;
        expect(trials.filter((t) => t.state === "COMPLETE")).toHaveLength(4);
      }
    });
  }

  it("asynchronous: a killed worker does not stall the population; its slot is refilled from a donor", async () => {
    await study("kill", { population_size: 4, perturbation_interval: 4 });
    // Five workers for four members: the spare picks up the refill once the reaper fails the lost trial.
    const run = await runPopulation(svc, scheduleProblem, {
      study: "kill", workers: 5, stepsPerMember: 60, seed: 9, advance, kill: [{ worker: 0, atTick: 20 }],
    });
    expect(run.violations).toEqual([]);
    expect(run.refills).toBeGreaterThanOrEqual(1);
    const trials = (await svc.listTrials({ study: "kill" })).trials;
    const lost = trials.find((t) => t.state === "FAIL");
    expect(lost?.system_attrs.fail_reason).toBe("lease_expired");
    expect(lost?.system_attrs.retried_as).toBeUndefined();
    const refill = trials.find((t) => t.system_attrs.pbt_refill_of === lost?.number);
    expect(refill?.system_attrs.pbt_member).toBe(lost?.system_attrs.pbt_member);
    const restore = refill?.system_attrs.pbt_restore as { trial: number; checkpoint: string; step: number };
    expect(restore.trial).not.toBe(lost?.number);
    expect(restore.checkpoint).toBe(`ck/${restore.trial}/step-${restore.step}`);
    expect(trials.filter((t) => t.state === "COMPLETE")).toHaveLength(4);
    // The other members kept being exploited while the lost one waited for the reaper.
    expect(run.exploits).toBeGreaterThan(3);
    // The lost member's checkpoints were released by the others once nobody needed them.
    expect(run.violations).toEqual([]);
    expect(run.remaining).toBe(0);
  });

  it("synchronous: a member past the boundary continues until every live member reached it", async () => {
    await study("sync", { population_size: 2, perturbation_interval: 2, mode: "synchronous" }, toyProblem.space, "maximize");
    const a = await svc.ask({ study: "sync" });
    const b = await svc.ask({ study: "sync" });
    const rep = (t: typeof a, step: number, value: number) =>
      svc.report({ study: "sync", trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `ck/${t.trial.number}/${step}` } });
    await rep(a, 1, 0.5);
    expect((await rep(a, 2, 0.5)).decision.action).toBe("continue"); // b is behind
    expect((await rep(a, 3, 0.5)).decision.action).toBe("continue");
    await rep(b, 1, 0.9);
    const db = await rep(b, 2, 0.9); // round 2 complete; b is the better one
    expect(db.decision.action).toBe("continue");
    const da = await rep(a, 4, 0.5); // a resolves round 2 (ranked by step-2 values): exploit b
    expect(da.decision).toMatchObject({ action: "update", restore: { trial: b.trial.number, checkpoint: `ck/${b.trial.number}/2`, step: 2 } });
    // b's step-1 checkpoint is released; step 2 is pinned until a reports a later step.
    expect(db.decision).toMatchObject({ delete_checkpoints: [`ck/${b.trial.number}/1`] });
    const b3 = await rep(b, 3, 0.95);
    expect(b3.decision.action === "continue" && b3.decision.delete_checkpoints).toBeFalsy();
    await rep(a, 5, 0.96); // a has loaded ck/1/2 and trained past it: the pin is gone
    const b4 = await rep(b, 4, 0.97);
    expect(b4.decision.action !== "prune" && b4.decision.delete_checkpoints).toEqual([`ck/${b.trial.number}/2`, `ck/${b.trial.number}/3`]);
  });

  it("lineage follows donors back to generation 0 and replays as a schedule", async () => {
    const { a, b, rep } = await pair("lin");
    await rep(a, 1, 0.1);
    await rep(b, 1, 0.9);
    await rep(b, 2, 0.9);
    const d = await rep(a, 2, 0.1);
    expect(d.decision).toMatchObject({ action: "update", restore: { trial: b.trial.number, step: 2 } });
    const newParams = d.decision.action === "update" ? d.decision.params : {};
    await rep(a, 3, 1.0);
    await rep(a, 4, 1.1);
    await svc.tell({ study: "lin", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1.1 });
    const l = await svc.lineage({ study: "lin" });
    expect(l.trial).toBe(a.trial.number);
    expect(l.until_step).toBe(4);
    expect(l.schedule).toEqual([
      { from_step: 0, params: b.trial.params, trial: b.trial.number, trial_step: 0 },
      { from_step: 2, params: newParams, trial: a.trial.number, trial_step: 2 },
    ]);
    // Non-members and unknown trials.
    await expect(svc.lineage({ study: "lin", trial: 99 })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("lineage without a trial picks the best reported value, not the completed one, and stops at that report", async () => {
    await study("best", { population_size: 2, perturbation_interval: 100 }, toyProblem.space, "maximize");
    const a = await svc.ask({ study: "best" });
    const b = await svc.ask({ study: "best" });
    const rep = (t: typeof a, step: number, value: number) =>
      svc.report({ study: "best", trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `ck/${t.trial.number}/${step}` } });
    await rep(a, 1, 0.5);
    await rep(a, 2, 1.15); // a's best model
    await rep(a, 3, 0.2); // then it got worse
    await rep(b, 1, 0.6);
    await rep(b, 2, 0.9);
    await svc.tell({ study: "best", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.2 });
    await svc.tell({ study: "best", trial: b.trial.number, token: b.lease.token, state: "COMPLETE", value: 0.9 });
    expect((await svc.best({ study: "best" }))?.number).toBe(b.trial.number); // by completed value
    const l = await svc.lineage({ study: "best" });
    expect(l).toMatchObject({ trial: a.trial.number, value: 1.15, step: 2, until_step: 2 });
    const lb = await svc.lineage({ study: "best", trial: b.trial.number });
    expect(lb).toMatchObject({ trial: b.trial.number, value: 0.9, step: 2 });
  });

  it("a diverged member is completed with NaN or infinity, ranks worst, and other strategies still refuse it", async () => {
    await study("div", { population_size: 3, perturbation_interval: 100 });
    const [a, b, c] = [await svc.ask({ study: "div" }), await svc.ask({ study: "div" }), await svc.ask({ study: "div" })];
    await svc.report({ study: "div", trial: a.trial.number, token: a.lease.token, step: 1, value: Number.NaN, data: { checkpoint: "a1" } });
    await svc.report({ study: "div", trial: b.trial.number, token: b.lease.token, step: 1, value: 0.5, data: { checkpoint: "b1" } });
    await svc.report({ study: "div", trial: c.trial.number, token: c.lease.token, step: 1, value: Infinity, data: { checkpoint: "c1" } });
    const ta = await svc.tell({ study: "div", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: Number.NaN });
    expect(ta.trial).toMatchObject({ state: "COMPLETE", value: null, system_attrs: { diverged: "NaN" } });
    const tc = await svc.tell({ study: "div", trial: c.trial.number, token: c.lease.token, state: "COMPLETE", value: Infinity });
    expect(tc.trial).toMatchObject({ state: "COMPLETE", value: null, system_attrs: { diverged: "Infinity" } });
    await svc.tell({ study: "div", trial: b.trial.number, token: b.lease.token, state: "COMPLETE", value: 0.5 });
    expect((await svc.best({ study: "div" }))?.number).toBe(b.trial.number);
    expect((await svc.lineage({ study: "div" })).trial).toBe(b.trial.number);
    await svc.createStudy({ name: "tpe-div", space: scheduleProblem.space, strategy: "tpe" });
    const t = await svc.ask({ study: "tpe-div" });
    await expect(svc.tell({ study: "tpe-div", trial: t.trial.number, token: t.lease.token, state: "COMPLETE", value: Number.NaN })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("finishing members release their checkpoints; a pinned one waits until its recipient loaded it", async () => {
    const { a, b, rep } = await pair("rel");
    await rep(b, 1, 0.9);
    await rep(b, 2, 0.9);
    await rep(a, 1, 0.1);
    const d = await rep(a, 2, 0.1); // exploit: a is told to load b's step-2 checkpoint
    expect(d.decision).toMatchObject({ action: "update", restore: { trial: b.trial.number, checkpoint: `ck/${b.trial.number}/2` } });
    // b finishes before a has loaded it: b's only checkpoint (step 2; step 1 went at its step-2 report) stays pinned.
    const tb = await svc.tell({ study: "rel", trial: b.trial.number, token: b.lease.token, state: "COMPLETE", value: 0.9 });
    expect(tb.trial.system_attrs.pbt_released).toBeUndefined();
    // a reports a later step (it has loaded the checkpoint): now b's step-2 checkpoint is released to a.
    const d3 = await rep(a, 3, 0.95);
    expect(d3.decision.action !== "prune" && d3.decision.delete_checkpoints).toEqual(
      [`ck/${a.trial.number}/2`, `ck/${b.trial.number}/2`],
    );
    // a finishes last: everything left (its own latest checkpoint) is released; pbt_released is
    // a's cumulative record (b's checkpoint, released by a's report, once only).
    const ta = await svc.tell({ study: "rel", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.95 });
    expect(ta.trial.system_attrs.pbt_released).toEqual([`ck/${b.trial.number}/2`, `ck/${a.trial.number}/3`]);
  });

  it("the paper's toy: a population of 4 reaches Q >= 1.19 in at least 4 of 5 seeds", async () => {
    let hits = 0;
    for (const run of await toyRuns(svc, "pbt", advance)) {
      expect(run.violations).toEqual([]);
      if (run.best >= 1.19) hits++;
    }
    expect(hits).toBeGreaterThanOrEqual(4);
  });

  it("a repeated report of an exploit step answers the same update", async () => {
    await study("rep", { population_size: 2, perturbation_interval: 1 }, toyProblem.space, "maximize");
    const a = await svc.ask({ study: "rep" });
    const b = await svc.ask({ study: "rep" });
    await svc.report({ study: "rep", trial: b.trial.number, token: b.lease.token, step: 1, value: 0.9, data: { checkpoint: "b1" } });
    const first = await svc.report({ study: "rep", trial: a.trial.number, token: a.lease.token, step: 1, value: 0.1, data: { checkpoint: "a1" } });
    const again = await svc.report({ study: "rep", trial: a.trial.number, token: a.lease.token, step: 1, value: 0.1, data: { checkpoint: "a1" } });
    expect(first.decision.action).toBe("update");
    expect(again.decision).toEqual(first.decision);
    await expect(svc.report({ study: "rep", trial: a.trial.number, token: a.lease.token, step: 2, value: 0.1, data: { checkpoint: 7 } })).rejects.toBeInstanceOf(TuneportError);
  });
});
