/**
 * PBT's `revise` (the look at a suggestion under the write lock, with the history as it is at
 * commit time) and checkpoint retention: tests a mutation probe showed missing. Replacing
 * `revise` with `return suggestion`, or releasing a pinned checkpoint, fails them.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { SearchSpace } from "../../domain/distributions.js";
import { TuneportError } from "../../domain/errors.js";
import type { Suggestion, SuggestRequest } from "../../domain/plugin.js";
import type { Trial } from "../../domain/trial.js";
import { silentLogger } from "../../logger.js";
import { Rng } from "../../math/rng.js";
import { type SuggestRunner, StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { clockedService } from "../../testing/clocked-service.js";
import { runPopulation } from "../../testing/pbt-population.js";
import { scheduleProblem } from "../../testing/pbt-problems.js";
import { type PbtOptions, pbtStrategyFactory } from "./pbt-strategy.js";

const SPACE: SearchSpace = { lr: { type: "float", low: 1e-4, high: 1, log: true } };
const options = (o: Record<string, unknown> = {}): PbtOptions => pbtStrategyFactory.options.parse(o) as PbtOptions;
const study = makeStudy(SPACE, { strategy: { name: "pbt", options: options() } });

/** A member trial that reported steps 1…steps (value = step · scale) and holds `checkpoints`. */
function member(number: number, slot: number, state: Trial["state"], steps: number, checkpoints: number[], scale = 1): Trial {
  const params = { lr: 0.01 * (number + 1) };
  return makeTrial(number, params, SPACE, {
    state,
    value: state === "COMPLETE" ? steps * scale : null,
    intermediate: Array.from({ length: steps }, (_, i) => ({ step: i + 1, value: (i + 1) * scale })),
    systemAttrs: {
      pbt_member: slot,
      pbt_generation: 0,
      pbt_lineage: [{ step: 0, donor: null, donor_step: null, age: 0, params, checkpoint: null }],
      pbt_checkpoints: checkpoints.map((s) => ({ path: `ck/${number}/${s}`, step: s })),
    },
  });
}

const restoreOf = (s: Suggestion) => s.systemAttrs?.pbt_restore as { trial: number; checkpoint: string; step: number } | undefined;

describe("pbt revise", () => {
  const strategy = pbtStrategyFactory.create(options({ population_size: 2 }));
  const req = (trials: Trial[]): SuggestRequest => suggestRequest(study, trials);

  it("keeps a suggestion that is still valid at commit time (the same object)", () => {
    const trials = [member(0, 0, "RUNNING", 5, [5]), member(1, 1, "FAIL", 2, [])];
    const s = strategy.suggest(req(trials));
    expect(restoreOf(s)).toEqual({ trial: 0, checkpoint: "ck/0/5", step: 5 });
    expect(s.systemAttrs?.pbt_member).toBe(1);
    expect(strategy.revise!(req(trials), s)).toBe(s);
  });

  it("re-points a refill whose donor checkpoint was released between suggest and commit", () => {
    const atSuggest = [member(0, 0, "RUNNING", 5, [5]), member(1, 1, "FAIL", 2, [])];
    const s = strategy.suggest(req(atSuggest));
    expect(restoreOf(s)?.checkpoint).toBe("ck/0/5");
    // Meanwhile the donor reported step 6 with a new checkpoint and released ck/0/5.
    const atCommit = [member(0, 0, "RUNNING", 6, [6]), atSuggest[1]!];
    const revised = strategy.revise!(req(atCommit), s);
    expect(restoreOf(revised)).toEqual({ trial: 0, checkpoint: "ck/0/6", step: 6 });
    expect(revised.systemAttrs?.pbt_member).toBe(1);
  });

  it("moves a suggestion whose slot was taken to another lost slot, or refuses when none is left", () => {
    const three = pbtStrategyFactory.create(options({ population_size: 3 }));
    const lost = [member(0, 0, "RUNNING", 5, [5]), member(1, 1, "FAIL", 1, []), member(2, 2, "PRUNED", 1, [])];
    const s = three.suggest(suggestRequest(study, lost));
    expect(s.systemAttrs?.pbt_member).toBe(1);
    // Another ask committed the refill of slot 1 first.
    const taken = [...lost, { ...member(3, 1, "RUNNING", 0, []), systemAttrs: { ...s.systemAttrs } }];
    const moved = three.revise!(suggestRequest(study, taken), s);
    expect(moved.systemAttrs?.pbt_member).toBe(2);
    expect(moved.systemAttrs?.pbt_refill_of).toBe(2);
    // With population 2 the only lost slot is gone: every member runs, so the ask is refused.
    const two = [member(0, 0, "RUNNING", 5, [5]), member(1, 1, "FAIL", 2, [])];
    const s2 = strategy.suggest(req(two));
    const full = [...two, { ...member(2, 1, "RUNNING", 0, []), systemAttrs: { ...s2.systemAttrs } }];
    expect(() => strategy.revise!(req(full), s2)).toThrowError(TuneportError);
  });
});

describe("pbt checkpoint retention", () => {
  const strategy = pbtStrategyFactory.create(options({ population_size: 2 }));

  it("never releases a checkpoint a refill is still to load, and releases it once the refill reported", () => {
    const donor = member(0, 0, "RUNNING", 6, [5, 6]);
    const refill = (steps: number): Trial => {
      const t = member(2, 1, "RUNNING", steps, []);
      const origin = { step: 5, donor: 0, donor_step: 5, age: 5, params: t.params, checkpoint: "ck/0/5" };
      return { ...t, systemAttrs: { ...t.systemAttrs, pbt_lineage: [origin], pbt_restore: { trial: 0, checkpoint: "ck/0/5", step: 5 } } };
    };
    const report = (others: Trial[]) => {
      const withNew = { ...donor, intermediate: [...donor.intermediate, { step: 7, value: 7 }] };
      return strategy.onReport!({
        study, trials: [withNew, ...others].sort((a, b) => a.number - b.number), trial: withNew, step: 7, value: 7,
        data: { checkpoint: "ck/0/7" }, rng: new Rng(1, "report"),
      });
    };
    // The refill has not reported yet: ck/0/5 is pinned; only ck/0/6 goes.
    const pinned = report([member(1, 1, "FAIL", 2, []), refill(0)]);
    expect(pinned?.decision.action === "continue" && pinned.decision.delete_checkpoints).toEqual(["ck/0/6"]);
    expect((pinned?.systemAttrs?.pbt_checkpoints as { path: string }[]).map((c) => c.path)).toEqual(["ck/0/5", "ck/0/7"]);
    // Once it reported a step it has loaded the weights: both older checkpoints go.
    const loaded = report([member(1, 1, "FAIL", 2, []), refill(6)]);
    expect(loaded?.decision.action === "continue" && loaded.decision.delete_checkpoints).toEqual(["ck/0/5", "ck/0/6"]);
  });
});

describe("pbt revise through the service", () => {
  let svc: StudyService | null = null;
  let storage: SqliteStorage | null = null;
  afterEach(async () => {
    await svc?.close();
    await storage?.close();
  });

  it("a refill computed before the donor released its checkpoint points at the donor's current one", async () => {
    let now = 1_000_000;
    // Holds the first suggestion after it was computed until the test lets it go.
    let hold: (() => void) | null = null;
    const held = new Promise<void>((r) => (hold = r));
    let computed: (() => void) | null = null;
    const wasComputed = new Promise<void>((r) => (computed = r));
    let holdNext = false;
    const runner: SuggestRunner = {
      suggest: async (_f, strategy, req) => {
        const s = strategy.suggest(req);
        if (holdNext) {
          holdNext = false;
          computed!();
          await held;
        }
        return s;
      },
      close: async () => undefined,
    };
    storage = new SqliteStorage({ path: ":memory:" });
    svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0, runner });
    await svc.createStudy({ name: "p", space: { lr: { type: "float", low: 1e-4, high: 1, log: true } }, strategy: { name: "pbt", options: { population_size: 2, perturbation_interval: 100 } }, lease_ttl_s: 5 });
    const a = await svc.ask({ study: "p" });
    const b = await svc.ask({ study: "p" });
    for (const step of [1, 2]) await svc.report({ study: "p", trial: a.trial.number, token: a.lease.token, step, value: 1 / step, data: { checkpoint: `ck/a/${step}` } });
    await svc.report({ study: "p", trial: b.trial.number, token: b.lease.token, step: 1, value: 5, data: { checkpoint: "ck/b/1" } });
    // b is lost; its slot is refilled from the best member with a checkpoint: a, at ck/a/2.
    now += 60_000;
    await svc.heartbeat({ leases: [{ study: "p", trial: a.trial.number, token: a.lease.token }] });
    expect(await svc.reap()).toBe(1);
    holdNext = true;
    const refill = svc.ask({ study: "p" });
    await wasComputed;
    // While the refill waits, a reports step 3 and releases ck/a/2 (nobody has pinned it yet), and
    // with it the lost member b's checkpoint (a finished member's checkpoints go at the next report).
    const r3 = await svc.report({ study: "p", trial: a.trial.number, token: a.lease.token, step: 3, value: 0.2, data: { checkpoint: "ck/a/3" } });
    expect(r3.decision.action === "continue" && r3.decision.delete_checkpoints).toEqual(["ck/a/2", "ck/b/1"]);
    hold!();
    const got = await refill;
    expect(got.trial.system_attrs.pbt_restore).toEqual({ trial: a.trial.number, checkpoint: "ck/a/3", step: 3 });
  });
});

describe("pbt population with deferred loads", () => {
  let svc: StudyService;
  const clock = clockedService((s) => (svc = s));

  it("never points a worker at a checkpoint released before it loaded it (workers load on their next turn; 3 seeds)", async () => {
    let exploits = 0;
    let refills = 0;
    for (const seed of [1, 2, 3]) {
      const name = `deferred-${seed}`;
      await svc.createStudy({
        name, direction: scheduleProblem.direction, space: scheduleProblem.space, seed, lease_ttl_s: 5,
        strategy: { name: "pbt", options: { population_size: 4, perturbation_interval: 3 } },
      });
      const run = await runPopulation(svc, scheduleProblem, {
        // Six workers for four members: two die mid-run, the spares pick up the refills.
        study: name, workers: 6, stepsPerMember: 40, seed, deferLoads: true, advance: clock.advance,
        kill: [{ worker: 0, atTick: 10 }, { worker: 1, atTick: 10 }],
      });
      expect(run.violations).toEqual([]);
      exploits += run.exploits;
      refills += run.refills;
    }
    // The scenario happened: exploits and refills whose loads waited a turn.
    expect(exploits).toBeGreaterThan(10);
    expect(refills).toBeGreaterThanOrEqual(3);
  });
});
