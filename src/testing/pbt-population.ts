/**
 * A simulated PBT population driven through a real StudyService (in-process, any storage):
 * workers ask, train one surrogate step per tick, save a checkpoint into an in-memory
 * "filesystem", report, and obey decisions (load the donor's checkpoint, delete released
 * checkpoints). Used by the PBT tests (exploit loads the donor's checkpoint, never a deleted
 * one; a killed worker does not stall the population) and by bench/pbt.ts.
 *
 * Time: one tick = one second of the service's clock; every live worker does one step per
 * tick, in a seeded random order. Lost workers stop reporting and the reaper fails their trial
 * once the lease (study `lease_ttl_s`) expired; a spare worker then asks for the refill.
 */
import type { Params, SearchSpace } from "../domain/distributions.js";
import { TuneportError } from "../domain/errors.js";
import type { Direction } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import type { StudyService } from "../service/study-service.js";

export interface PbtProblem<S> {
  readonly name: string;
  readonly direction: Direction;
  readonly space: SearchSpace;
  /** The model at step 0. */
  init(rng: Rng): S;
  /** One training step with hyperparameters `params`; must not mutate `state`. */
  step(state: S, params: Params, rng: Rng): S;
  /** What the worker reports (its validation metric). */
  report(state: S): number;
  /** The quality the benchmark tracks (default: `report`). */
  score?(state: S): number;
}

export interface PopulationRun {
  /** After each tick: total steps trained so far and the best score seen. */
  curve: { steps: number; best: number }[];
  best: number;
  /** Violations the driver saw; empty when the server behaved. */
  violations: string[];
  exploits: number;
  refills: number;
  deleted: number;
  /** Checkpoints still on the simulated disk at the end. */
  remaining: number;
}

export interface PopulationOptions {
  study: string;
  workers: number;
  stepsPerMember: number;
  seed: number;
  /** Ticks at which the given worker dies (stops reporting, never tells). */
  kill?: { worker: number; atTick: number }[];
  /** Advance the service clock by one tick (seconds). */
  advance: (seconds: number) => void;
  maxTicks?: number;
  /**
   * Load a checkpoint the server points at only when the worker next trains (its next turn),
   * as a real worker that restores after the reply may; other workers act in between, so a
   * checkpoint released too early (a pinned one) is caught as "told to load … which was deleted".
   * Default false: load at once (what bench/pbt.mjs measures).
   */
  deferLoads?: boolean;
}

interface Worker {
  trial: number | null;
  /** A restore to do before the next step (`deferLoads`). */
  pendingLoad: { path: string; from: number } | null;
  token: string;
  step: number;
  params: Params;
  state: unknown;
  dead: boolean;
}

export async function runPopulation<S>(svc: StudyService, problem: PbtProblem<S>, o: PopulationOptions): Promise<PopulationRun> {
  const disk = new Map<string, { owner: number; state: S }>();
  const everDeleted = new Set<string>();
  const violations: string[] = [];
  const rng = new Rng(o.seed, "population", problem.name);
  const sign = problem.direction === "minimize" ? 1 : -1;
  let best = sign * Infinity;
  const better = (a: number, b: number) => (sign > 0 ? a < b : a > b);
  const score = (s: S) => (problem.score ? problem.score(s) : problem.report(s));
  const workers: Worker[] = Array.from({ length: o.workers }, () => ({ trial: null, pendingLoad: null, token: "", step: 0, params: {}, state: null, dead: false }));
  const curve: { steps: number; best: number }[] = [];
  let steps = 0;
  let exploits = 0;
  let refills = 0;
  let deleted = 0;
  const reaped = new Set<number>();
  const finished = new Set<number>();
  const load = (path: string, who: number, from: number): S | null => {
    const f = disk.get(path);
    if (!f) {
      violations.push(`trial ${who} was told to load ${path} which ${everDeleted.has(path) ? "was deleted" : "does not exist"}`);
      return null;
    }
    if (f.owner === who) violations.push(`trial ${who} was told to load its own checkpoint ${path}`);
    if (f.owner !== from) violations.push(`trial ${who} was told ${path} belongs to ${from}, but ${f.owner} saved it`);
    return f.state;
  };

  for (let tick = 0; tick < (o.maxTicks ?? 100_000); tick++) {
    for (const k of o.kill ?? []) if (k.atTick === tick && workers[k.worker]) (workers[k.worker] as Worker).dead = true;
    const order = workers.map((_, i) => i).sort(() => rng.random() - 0.5);
    let active = 0;
    let refused = 0;
    for (const wi of order) {
      const w = workers[wi] as Worker;
      if (w.dead) continue;
      if (w.trial === null) {
        try {
          const a = await svc.ask({ study: o.study });
          w.trial = a.trial.number;
          w.token = a.lease.token;
          w.params = { ...a.trial.params };
          const restore = a.trial.system_attrs.pbt_restore as { trial: number; checkpoint: string; step: number } | undefined;
          w.state = problem.init(new Rng(o.seed, "init", w.trial));
          w.step = 0;
          if (restore) {
            refills++;
            w.step = restore.step;
            if (o.deferLoads) {
              // Start training on the next turn, so that others report in between.
              w.pendingLoad = { path: restore.checkpoint, from: restore.trial };
              active++;
              continue;
            }
            const s = load(restore.checkpoint, w.trial, restore.trial);
            if (s !== null) w.state = s;
          }
        } catch (err) {
          if (err instanceof TuneportError && err.code === "SEARCH_SPACE_EXHAUSTED") {
            // Every member is running or done: wait and ask again next tick (a lost member's
            // slot opens once the reaper fails it).
            refused++;
            continue;
          }
          throw err;
        }
      }
      active++;
      const n = w.trial as number;
      if (w.pendingLoad) {
        const s = load(w.pendingLoad.path, n, w.pendingLoad.from);
        if (s !== null) w.state = s;
        w.pendingLoad = null;
      }
      w.state = problem.step(w.state as S, w.params, new Rng(o.seed, "step", n, w.step));
      w.step++;
      steps++;
      const sc = score(w.state as S);
      if (better(sc, best)) best = sc;
      const path = `ck/${n}/step-${w.step}`;
      disk.set(path, { owner: n, state: w.state as S });
      const value = problem.report(w.state as S);
      const { decision } = await svc.report({ study: o.study, trial: n, token: w.token, step: w.step, value, data: { checkpoint: path } });
      if (decision.action !== "prune" && decision.delete_checkpoints) {
        for (const p of decision.delete_checkpoints) {
          const f = disk.get(p);
          if (!f) violations.push(`trial ${n} was told to delete ${p}, which is not on disk`);
          else if (f.owner !== n && !finished.has(f.owner)) violations.push(`trial ${n} was told to delete ${p}, which running trial ${f.owner} saved`);
          if (p === path) violations.push(`trial ${n} was told to delete the checkpoint it just saved`);
          disk.delete(p);
          everDeleted.add(p);
          deleted++;
        }
      }
      if (decision.action === "update") {
        w.params = { ...w.params, ...decision.params };
        if (decision.restore) {
          exploits++;
          if (decision.restore.trial === n) violations.push(`trial ${n} was told to restore from itself`);
          if (o.deferLoads) w.pendingLoad = { path: decision.restore.checkpoint, from: decision.restore.trial };
          else {
            const s = load(decision.restore.checkpoint, n, decision.restore.trial);
            if (s !== null) w.state = s;
          }
        }
      }
      if (w.step >= o.stepsPerMember) {
        const told = await svc.tell({ study: o.study, trial: n, token: w.token, state: "COMPLETE", value });
        finished.add(n);
        const released = told.trial.system_attrs.pbt_released;
        for (const p of Array.isArray(released) ? (released as string[]) : []) {
          const f = disk.get(p);
          if (f && f.owner !== n && !finished.has(f.owner)) violations.push(`trial ${n} released ${p} of running trial ${f.owner}`);
          if (f) deleted++;
          disk.delete(p);
          everDeleted.add(p);
        }
        w.trial = null;
      }
    }
    curve.push({ steps, best });
    o.advance(1);
    if ((await svc.reap()) > 0)
      for (const w of workers)
        if (w.dead && w.trial !== null) {
          reaped.add(w.trial);
          finished.add(w.trial);
        }
    // Done when nobody trains and no lost member is waiting to be reaped.
    const pendingLoss = workers.some((w) => w.dead && w.trial !== null && !reaped.has(w.trial));
    if (active === 0 && !pendingLoss) break;
  }
  return { curve, best, violations, exploits, refills, deleted, remaining: disk.size };
}
