/**
 * Surrogate problems for PBT (tests and bench/pbt.ts).
 *
 * - `toyProblem`: Jaderberg et al. 2017, §4 / Fig. 2: maximise Q(θ) = 1.2 − θ0² − θ1², while each
 *   member takes gradient-ascent steps on the surrogate Q̂(θ|h) = 1.2 − h0·θ0² − h1·θ1²
 *   (θ ← θ + η∇Q̂ = θ ⊙ (1 − 2ηh)), starting from θ = (0.9, 0.9). h ∈ [0, 1]²; η = 0.05, so a
 *   fixed h needs both coordinates ≳ 0.62 to reach Q ≥ 1.19 in 40 steps.
 * - `scheduleProblem`: SGD on a noisy quadratic (expected dynamics, no sampling): for curvatures
 *   a_i ∈ {1, 0.3, 0.1, 0.03, 0.01}, E[w_i²] evolves as m ← (1 − lr·a_i)²·m + lr²·σ² (σ² = 0.01,
 *   m₀ = 1); the validation loss is Σ ½·a_i·m_i (minimise). A large learning rate makes fast
 *   progress on the flat directions but sits on a high noise floor, so the best schedule decays:
 *   the optimal learning rate changes during training and no fixed value matches a schedule.
 */
import type { Params } from "../domain/distributions.js";
import type { StudyService } from "../service/study-service.js";
import { type PbtProblem, type PopulationRun, runPopulation } from "./pbt-population.js";

const ETA = 0.05;

export const toyProblem: PbtProblem<readonly [number, number]> = {
  name: "pbt-toy",
  direction: "maximize",
  space: { h0: { type: "float", low: 0, high: 1 }, h1: { type: "float", low: 0, high: 1 } },
  init: () => [0.9, 0.9],
  step: ([t0, t1], p: Params) => [t0 * (1 - 2 * ETA * (p.h0 as number)), t1 * (1 - 2 * ETA * (p.h1 as number))],
  report: ([t0, t1]) => 1.2 - t0 * t0 - t1 * t1,
};

/** The toy's Q after `steps` steps with a fixed h (grid search evaluates this). */
export function toyFixed(h0: number, h1: number, steps: number): number[] {
  let s: readonly [number, number] = [0.9, 0.9];
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    s = toyProblem.step(s, { h0, h1 }, undefined as never);
    out.push(toyProblem.report(s));
  }
  return out;
}

const CURV = [1, 0.3, 0.1, 0.03, 0.01];
const SIGMA2 = 0.01;

export const scheduleProblem: PbtProblem<readonly number[]> = {
  name: "noisy-quadratic-schedule",
  direction: "minimize",
  space: { lr: { type: "float", low: 1e-3, high: 1.5, log: true } },
  init: () => CURV.map(() => 1),
  step: (m, p: Params) => {
    const lr = p.lr as number;
    return m.map((mi, i) => {
      const a = CURV[i] as number;
      return (1 - lr * a) ** 2 * mi + lr * lr * SIGMA2;
    });
  },
  report: (m) => m.reduce((acc, mi, i) => acc + 0.5 * (CURV[i] as number) * mi, 0),
};

/** Validation loss after each of `steps` steps with a fixed learning rate. */
export function scheduleFixed(lr: number, steps: number): number[] {
  let m = scheduleProblem.init(undefined as never);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    m = scheduleProblem.step(m, { lr }, undefined as never);
    out.push(scheduleProblem.report(m));
  }
  return out;
}

/**
 * The paper's toy (`toyProblem`) as the PBT and PB2 tests run it: for seeds 1 to 5, a study
 * `toy-<seed>` of `strategy` (a population of 4, perturbation interval 2) run by 4 workers for 40
 * steps each; the runs, in seed order.
 */
export async function toyRuns(svc: StudyService, strategy: "pbt" | "pb2", advance: (s: number) => unknown): Promise<PopulationRun[]> {
  const runs: PopulationRun[] = [];
  for (const seed of [1, 2, 3, 4, 5]) {
    const name = `toy-${seed}`;
    await svc.createStudy({ name, space: toyProblem.space, direction: "maximize", seed, strategy: { name: strategy, options: { population_size: 4, perturbation_interval: 2 } } });
    runs.push(await runPopulation(svc, toyProblem, { study: name, workers: 4, stepsPerMember: 40, seed, advance }));
  }
  return runs;
}
