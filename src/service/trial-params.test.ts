/**
 * Define-by-run parameters under strategies that model only the declared space (trial-params.ts):
 * they are offered the intersection search space, as Optuna's samplers are, instead of drawing
 * every undeclared parameter uniformly.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Distribution } from "../domain/distributions.js";
import { silentLogger } from "../logger.js";
import { CMAES_MAX_DIMS } from "../strategies/cmaes/cmaes-strategy.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { StudyService } from "./study-service.js";
import { PROPOSED_PARAMS } from "./trial-params.js";

const X: Distribution = { type: "float", low: -5, high: 5 };
const Y: Distribution = { type: "float", low: -5, high: 5 };
const C: Distribution = { type: "categorical", choices: ["a", "b"] };

let svc: StudyService | null = null;
afterEach(async () => {
  await svc?.close();
  svc = null;
});

async function open(): Promise<StudyService> {
  svc = await StudyService.open({ storage: new SqliteStorage({ path: ":memory:" }), logger: silentLogger(), reapIntervalMs: 0 });
  return svc;
}

/** One define-by-run trial: x and y always, c on even trials only (so it is never in every trial). */
async function runTrial(s: StudyService, study: string, objective: (p: Record<string, number>) => number[]) {
  const a = await s.ask({ study });
  const suggest = async (name: string, distribution: Distribution) =>
    (await s.suggest({ study, trial: a.trial.number, token: a.lease.token, name, distribution: distribution as never })).value;
  const x = (await suggest("x", X)) as number;
  const y = (await suggest("y", Y)) as number;
  if (a.trial.number % 2 === 0) await suggest("c", C);
  await s.tell({ study, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values: objective({ x, y }) });
  return { asked: a.trial, x, y };
}

const sphere = ({ x, y }: Record<string, number>) => [(x! - 1.3) ** 2 + (y! + 0.7) ** 2];

describe("define-by-run parameters under strategies without a define-by-run model", () => {
  it.each([
    ["gp", 1],
    ["cmaes", 1],
    ["nsga2", 2],
    ["parego", 2],
    ["ehvi", 2],
  ] as const)("%s proposes values for the parameters every complete trial has, and a suggest takes them", async (strategy, objectives) => {
    const s = await open();
    const directions = Array.from({ length: objectives }, () => "minimize" as const);
    await s.createStudy({ name: "dbr", strategy, directions, seed: 7 });
    const objective = objectives === 1 ? sphere : ({ x, y }: Record<string, number>) => [x! ** 2 + y! ** 2, (x! - 2) ** 2 + (y! - 2) ** 2];
    const first = await runTrial(s, "dbr", objective);
    expect(first.asked.system_attrs[PROPOSED_PARAMS]).toBeUndefined(); // nothing complete yet: nothing to infer
    for (let i = 0; i < 4; i++) {
      const { asked, x, y } = await runTrial(s, "dbr", objective);
      const proposed = asked.system_attrs[PROPOSED_PARAMS] as Record<string, number>;
      // c is in the intersection while trial 0 is the only complete trial, then never again (trial 1 has none).
      expect(Object.keys(proposed).sort()).toEqual(asked.number === 1 ? ["c", "x", "y"] : ["x", "y"]);
      expect([x, y]).toEqual([proposed.x, proposed.y]);
    }
    const stored = (await s.listTrials({ study: "dbr" })).trials;
    // A trial's params are what its objective suggested (c on even trials), not what was proposed.
    for (const t of stored) expect(Object.keys(t.params).sort()).toEqual(t.number % 2 === 0 ? ["c", "x", "y"] : ["x", "y"]);
  });

  it("draws a suggested parameter whose distribution does not hold the proposal, and proposes nothing to tpe", async () => {
    const s = await open();
    await s.createStudy({ name: "gp", strategy: "gp", seed: 3 });
    for (let i = 0; i < 3; i++) await runTrial(s, "gp", sphere);
    const a = await s.ask({ study: "gp" });
    const proposal = (a.trial.system_attrs[PROPOSED_PARAMS] as Record<string, number>).x as number;
    const other: Distribution = proposal > 0 ? { type: "float", low: -5, high: -1 } : { type: "float", low: 1, high: 5 };
    const got = (await s.suggest({ study: "gp", trial: a.trial.number, token: a.lease.token, name: "x", distribution: other as never })).value as number;
    expect(got).not.toBe(proposal);
    expect(got >= (other as { low: number }).low && got <= (other as { high: number }).high).toBe(true);
    // TPE models define-by-run parameters itself (Optuna's independent TPE): no proposals.
    await s.createStudy({ name: "tpe", strategy: "tpe", seed: 3 });
    for (let i = 0; i < 3; i++) expect((await runTrial(s, "tpe", sphere)).asked.system_attrs[PROPOSED_PARAMS]).toBeUndefined();
  });

  it("leaves a widened space the strategy would refuse unwidened (CMA-ES past its dimensions)", async () => {
    const s = await open();
    await s.createStudy({ name: "wide", strategy: "cmaes", seed: 2 });
    const names = Array.from({ length: CMAES_MAX_DIMS + 1 }, (_, i) => `p${i}`);
    for (let i = 0; i < 2; i++) {
      const a = await s.ask({ study: "wide" });
      expect(a.trial.system_attrs[PROPOSED_PARAMS]).toBeUndefined();
      for (const name of names) await s.suggest({ study: "wide", trial: a.trial.number, token: a.lease.token, name, distribution: X as never });
      await s.tell({ study: "wide", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values: [1] });
    }
  });

  it("lets the GP search a define-by-run objective: better than random search in at least 4 of 5 seeds", { timeout: 300_000 }, async () => {
    // Before, every define-by-run parameter was drawn uniformly under gp: the same search as random's.
    const s = await open();
    const best = async (strategy: string, seed: number) => {
      const study = `${strategy}-${seed}`;
      await s.createStudy({ name: study, strategy, seed });
      let min = Infinity;
      for (let i = 0; i < 25; i++) {
        const { x, y } = await runTrial(s, study, sphere);
        min = Math.min(min, sphere({ x, y })[0]!);
      }
      return min;
    };
    let wins = 0;
    for (let seed = 0; seed < 5; seed++) if ((await best("gp", seed)) < (await best("random", seed))) wins++;
    expect(wins).toBeGreaterThanOrEqual(4);
  });
});
