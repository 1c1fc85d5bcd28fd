import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Distribution, contains } from "../../domain/distributions.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { donorParams } from "./lineage.js";

// A define-by-run parameter whose range depends on an earlier choice (Optuna's dynamic spaces)
// differs between members: an exploit must not hand the recipient the donor's value outside its own
// range (hostile sweep seed 27: the service refused it and logged "plug-in proposed an invalid update").
describe("pbt exploit across members whose define-by-run ranges differ", () => {
  let storage: SqliteStorage;
  let svc: StudyService;
  let errors: string[];
  beforeEach(async () => {
    errors = [];
    const logger = pino({ level: "error" }, { write: (line: string) => void errors.push(line) });
    storage = new SqliteStorage({ path: ":memory:" });
    svc = await StudyService.open({ storage, logger, reapIntervalMs: 0 });
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  for (const explore of [false, true])
    it(`moves the donor's value into the recipient's range (explore: ${explore})`, async () => {
      const options = { population_size: 2, perturbation_interval: 1, explore, resample_probability: 0, perturbation_factors: [1, 1] };
      await svc.createStudy({ name: "dyn", space: { x: { type: "float", low: 0, high: 1 } }, direction: "maximize", seed: 3, strategy: { name: "pbt", options }, lease_ttl_s: 600 });
      const a = await svc.ask({ study: "dyn" });
      const b = await svc.ask({ study: "dyn" });
      const at = (t: typeof a) => ({ study: "dyn", trial: t.trial.number, token: t.lease.token });
      const wide = await svc.suggest({ ...at(a), name: "dyn", distribution: { type: "int", low: 500, high: 1000 } });
      await svc.suggest({ ...at(b), name: "dyn", distribution: { type: "int", low: 0, high: 10 } });
      await svc.suggest({ ...at(a), name: "kind", distribution: { type: "categorical", choices: ["p", "q"] } });
      await svc.suggest({ ...at(b), name: "kind", distribution: { type: "categorical", choices: ["r"] } });
      expect(wide.value).toBeGreaterThanOrEqual(500);
      const report = (t: typeof a, value: number) => svc.report({ ...at(t), step: 1, value, data: { checkpoint: `ck/${t.trial.number}` } });
      await report(a, 9);
      const { decision } = await report(b, 0.1); // b, the worse, exploits a
      expect(decision).toMatchObject({ action: "update", restore: { trial: a.trial.number } });
      if (decision.action !== "update") throw new Error("no update");
      expect(decision.params.dyn).toBe(10); // a's value (≥ 500) moved to the nearest of b's 0..10
      expect(decision.params.kind ?? "r").toBe("r"); // a choice b lacks: b keeps its own (or explores its own)
      expect(errors).toEqual([]);
    });

  it("keeps the donor's value inside a recipient's log range far below 1e-9 (contains' tolerance let 0 through)", async () => {
    const options = { population_size: 2, perturbation_interval: 1, explore: false };
    await svc.createStudy({ name: "tiny", space: { x: { type: "float", low: 0, high: 1 } }, direction: "maximize", seed: 3, strategy: { name: "pbt", options }, lease_ttl_s: 600 });
    const a = await svc.ask({ study: "tiny" });
    const b = await svc.ask({ study: "tiny" });
    const at = (t: typeof a) => ({ study: "tiny", trial: t.trial.number, token: t.lease.token });
    // a turned weight decay off (a range of one value, 0); b searches it on a log scale.
    await svc.suggest({ ...at(a), name: "wd", distribution: { type: "float", low: 0, high: 0 } });
    await svc.suggest({ ...at(b), name: "wd", distribution: { type: "float", low: 1e-12, high: 1e-10, log: true } });
    await svc.report({ ...at(a), step: 1, value: 9, data: { checkpoint: "ck/a" } });
    const { decision } = await svc.report({ ...at(b), step: 1, value: 0.1, data: { checkpoint: "ck/b" } });
    if (decision.action !== "update") throw new Error("no update");
    expect(decision.params.wd).toBe(1e-12); // was 0: not a value of a log range
    const stored = await svc.getTrial({ study: "tiny", trial: b.trial.number });
    expect(stored.params.wd).toBe(1e-12);
    expect(errors).toEqual([]);
  });

  // A member's value that another member's range cannot hold was put in the bandit's unit cube as
  // NaN (the log of a negative): every GP fit then failed, and PB2 explored with PBT's random
  // perturbation for as long as that member ran, without a word.
  it("pb2 still explores with its bandit beside a member whose value its range cannot hold (a negative where it is log-scaled)", async () => {
    // Factors of 1 and no resampling: PBT's perturbation keeps the donor's x, so an x the donor did not have is the bandit's.
    const options = { population_size: 3, perturbation_interval: 1, quantile_fraction: 0.34, perturbation_factors: [1, 1], resample_probability: 0 };
    await svc.createStudy({ name: "p", space: { x: { type: "float", low: 0, high: 1 } }, direction: "maximize", seed: 5, strategy: { name: "pb2", options }, lease_ttl_s: 600 });
    const a = await svc.ask({ study: "p" });
    const b = await svc.ask({ study: "p" });
    const c = await svc.ask({ study: "p" });
    const at = (t: typeof a) => ({ study: "p", trial: t.trial.number, token: t.lease.token });
    const logRange: Distribution = { type: "float", low: 1e-6, high: 1e-2, log: true };
    await svc.suggest({ ...at(a), name: "wd", distribution: logRange });
    await svc.suggest({ ...at(b), name: "wd", distribution: logRange });
    await svc.suggest({ ...at(c), name: "wd", distribution: { type: "float", low: -1, high: -0.5 } });
    // c reports once and leads: b exploits it, and c is a pending configuration of b's explore without bandit data of its own.
    await svc.report({ ...at(c), step: 1, value: 1000, data: { checkpoint: "ck/c/1" } });
    const cx = (await svc.getTrial({ study: "p", trial: c.trial.number })).params.x;
    let updates = 0;
    let explored = 0;
    for (let step = 1; step <= 12; step++) {
      await svc.report({ ...at(a), step, value: 10 * step + (step % 3), data: { checkpoint: `ck/a/${step}` } });
      const { decision } = await svc.report({ ...at(b), step, value: step * (step % 4), data: { checkpoint: `ck/b/${step}` } });
      if (decision.action !== "update") continue;
      updates++;
      expect(decision.restore?.trial).toBe(c.trial.number);
      expect(contains(logRange, decision.params.wd as number), `wd=${String(decision.params.wd)}`).toBe(true);
      if (decision.params.x !== cx) explored++;
    }
    expect(updates).toBeGreaterThan(3);
    expect(explored).toBeGreaterThan(0); // was 0: every explore fell back to the perturbation
    for (const t of [a, b, c]) {
      const stored = await svc.getTrial({ study: "p", trial: t.trial.number });
      const d = stored.distributions.wd as Distribution;
      expect(contains(d, stored.params.wd as number), `trial ${t.trial.number} wd=${String(stored.params.wd)}`).toBe(true);
      const lineage = stored.system_attrs.pbt_lineage as { params: Record<string, number> }[];
      for (const e of lineage) for (const [k, v] of Object.entries(e.params)) expect(contains(stored.distributions[k] as Distribution, v), JSON.stringify(e)).toBe(true);
    }
    expect(errors).toEqual([]);
  });
});

describe("donorParams", () => {
  it("keeps the recipient's parameters only, each inside its own distribution", () => {
    const donor = { number: 0, params: { f: 7.5, s: 0.95, i: -3, c: "z", n: "a string", gone: 1 }, systemAttrs: {} } as never;
    const out = donorParams(donor, 1, {
      f: { type: "float", low: 0, high: 5 },
      s: { type: "float", low: 0, high: 1, step: 0.3 },
      i: { type: "int", low: 0, high: 9, step: 3 },
      c: { type: "categorical", choices: ["x", "y"] },
      n: { type: "float", low: 0, high: 1 },
    });
    expect(out).toEqual({ f: 5, s: 0.9, i: 0 });
  });

  it("clips exactly, not within contains' tolerance (1e-9 of the range, at least 1e-9)", () => {
    const donor = { number: 0, params: { lg: -5e-10, tiny: 1e-9, big: 2 ** 40 + 1000, c: 1, z: -0 }, systemAttrs: {} } as never;
    const out = donorParams(donor, 1, {
      lg: { type: "float", low: 1e-12, high: 1e-10, log: true },
      tiny: { type: "float", low: 0, high: 1e-10 },
      big: { type: "int", low: 0, high: 2 ** 40, step: 1 },
      c: { type: "categorical", choices: [true, 1] },
      z: { type: "categorical", choices: [0] },
    });
    expect(out).toEqual({ lg: 1e-12, tiny: 1e-10, big: 2 ** 40, c: 1, z: 0 });
    expect(Object.is(out.z, 0)).toBe(true); // the recipient's own choice, not the donor's -0
  });
});
