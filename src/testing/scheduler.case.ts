/**
 * The conformance suite every scheduler runs (the analogue of `strategy.case.ts`). Call
 * `schedulerConformance(factory, conf)` from the scheduler's own test file; list any exempt
 * check by name with its reason in `skip` (it runs as an expected failure, see skips.ts).
 *
 * The checks drive a simulated study in-process the way the service will: three workers
 * take turns; `beforeSuggest` runs before each new trial, every report appends the value to
 * the trial and then asks `onReport`, returned `systemAttrs` are merged into the trial, a
 * `prune` ends the trial as PRUNED and reaching the trial's `budget` (or `maxStep`) ends it
 * as COMPLETE.
 */
import { describe, expect } from "vitest";
import { type SearchSpace, contains } from "../domain/distributions.js";
import type { Decision } from "../domain/decision.js";
import type { Direction, Trial } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import { sampleUniform } from "../domain/sampling.js";
import type { DecisionResult, ReportRequest, Scheduler, SchedulerFactory } from "../domain/plugin.js";
import { makeStudy, makeTrial } from "./fixtures.js";
import { conformanceChecks } from "./skips.js";

export const CASE_SPACE: SearchSpace = {
  x: { type: "float", low: 0, high: 1 },
  y: { type: "float", low: 0, high: 1 },
  c: { type: "categorical", choices: ["a", "b"] },
};

export type SchedulerCheck = "warm-up" | "acts" | "deterministic" | "restart" | "directions" | "nan-inf";

export interface SchedulerConformance<O> {
  /** Raw options (parsed through the factory's schema, so defaults apply). */
  options: unknown;
  /** Options for maximised studies when the scheduler's options are not direction-free (threshold bounds). */
  maximizeOptions?: unknown;
  /** Reports at steps below this are never pruned (0: no step warm-up; Infinity: never prunes finite values). */
  warmupSteps: number;
  /** Nothing is pruned while fewer than this many trials are COMPLETE. */
  startupTrials?: number;
  /** Steps a trial without a `budget` attribute trains to (default 27). */
  maxStep?: number;
  skip?: Partial<Record<SchedulerCheck, string>>;
  /** Only for the type of `options`. */
  _o?: O;
}

export interface SimOptions {
  direction?: Direction;
  seed?: number;
  nTrials?: number;
  maxStep?: number;
  workers?: number;
  /** Create a new scheduler instance for every call (a server restarting all the time). */
  fresh?: boolean;
  /** Make some trials report NaN, +Infinity or −Infinity. */
  badValues?: boolean;
  space?: SearchSpace;
}

/** One call the simulated service made, and the answer. */
export interface LogEntry {
  readonly kind: "suggest" | "report";
  readonly trial: number;
  readonly step?: number;
  readonly action?: Decision["action"] | "none";
  readonly budget?: number;
  readonly reason?: string;
  readonly params?: Record<string, unknown>;
  readonly attrs?: string;
  /** COMPLETE trials at the time of the call. */
  readonly completeBefore: number;
}

/**
 * The toy learning curve: loss decreasing in t towards a quadratic bowl, with a little noise;
 * configurations with c = "b" overfit (their loss rises again after step 8).
 */
export function caseCurve(p: Record<string, unknown>, t: number, seed: number, trial: number): number {
  const x = p.x as number;
  const y = p.y as number;
  const f = (x - 0.3) ** 2 + (y - 0.6) ** 2 + (p.c === "b" ? 0.2 : 0);
  const noise = new Rng(seed, trial, t, "noise").normal() * 0.02;
  return f + (0.5 + noise) / (1 + t) + (p.c === "b" && t > 8 ? 0.02 * (t - 8) : 0);
}

function badValue(trial: number, step: number): number | null {
  // Trial 1 runs in the first wave: a NaN before any trial completed (auto resources unknown).
  if (trial === 1 && step === 2) return NaN;
  if (trial % 5 === 3 && step >= 2) return NaN;
  if (trial % 7 === 4 && step === 1) return Infinity;
  if (trial % 11 === 6 && step === 3) return -Infinity;
  return null;
}

/** Runs a study against the scheduler; returns the final trials and the call log. */
export function simulateStudy(factory: SchedulerFactory<any>, rawOptions: unknown, sim: SimOptions = {}) {
  const direction = sim.direction ?? "minimize";
  const seed = sim.seed ?? 42;
  const nTrials = sim.nTrials ?? 40;
  const maxStep = sim.maxStep ?? 27;
  const nWorkers = sim.workers ?? 3;
  const space = sim.space ?? CASE_SPACE;
  const options = factory.options.parse(rawOptions);
  const study = makeStudy(space, {
    direction,
    seed,
    scheduler: { name: factory.name, options: options as Record<string, unknown> },
  });
  let kept: Scheduler | null = null;
  const scheduler = (): Scheduler => (sim.fresh ? factory.create(options) : (kept ??= factory.create(options)));
  const trials: Trial[] = [];
  const log: LogEntry[] = [];
  const complete = () => trials.filter((t) => t.state === "COMPLETE").length;
  const workers: (number | null)[] = Array.from({ length: nWorkers }, () => null);
  let clock = 0;
  const sign = direction === "minimize" ? 1 : -1;

  const ask = (): number => {
    const number = trials.length;
    const s = scheduler();
    const sug = s.beforeSuggest?.({ study, trials: [...trials], trialNumber: number, rng: Rng.derive(seed, number, "scheduler") }) ?? null;
    const params = { ...(sug?.params ?? {}) };
    const rng = Rng.derive(seed, number, "suggest");
    for (const [name, d] of Object.entries(space)) if (!(name in params)) params[name] = sampleUniform(d, rng);
    const attrs = { ...(sug?.systemAttrs ?? {}) };
    log.push({ kind: "suggest", trial: number, params: sug?.params ?? {}, attrs: JSON.stringify(attrs), completeBefore: complete() });
    trials.push(makeTrial(number, params, space, { state: "RUNNING", value: null, systemAttrs: attrs }));
    return number;
  };

  const stepOnce = (number: number): boolean => {
    const t = trials[number] as Trial;
    const budget = typeof t.systemAttrs.budget === "number" ? t.systemAttrs.budget : maxStep;
    const last = t.intermediate[t.intermediate.length - 1];
    const resume = typeof t.systemAttrs.resume_budget === "number" ? Math.floor(t.systemAttrs.resume_budget) + 1 : 0;
    const step = last ? last.step + 1 : resume;
    const raw = caseCurve(t.params, step, seed, number);
    const value = (sim.badValues ? (badValue(number, step) ?? raw) : raw) * sign;
    const updated: Trial = { ...t, intermediate: [...t.intermediate, { step, value }] };
    trials[number] = updated;
    const req: ReportRequest = {
      study, trials: [...trials], trial: updated, step, value, data: {}, rng: Rng.derive(seed, number, "report", step),
    };
    const completeBefore = complete();
    const res: DecisionResult | null = scheduler().onReport(req);
    const d = res?.decision;
    log.push({
      kind: "report", trial: number, step, action: d?.action ?? "none",
      ...(d && d.action !== "prune" && d.budget !== undefined ? { budget: d.budget } : {}),
      ...(d?.action === "prune" ? { reason: d.reason } : {}),
      attrs: JSON.stringify(res?.systemAttrs ?? {}),
      completeBefore,
    });
    const systemAttrs = { ...updated.systemAttrs, ...(res?.systemAttrs ?? {}) };
    clock++;
    if (d?.action === "prune") {
      trials[number] = { ...updated, systemAttrs, state: "PRUNED", value, finishedAt: 1000 + clock };
      return true;
    }
    if (step + 1 > budget) {
      trials[number] = { ...updated, systemAttrs, state: "COMPLETE", value, finishedAt: 1000 + clock };
      return true;
    }
    trials[number] = { ...updated, systemAttrs };
    return false;
  };

  let started = 0;
  for (let guard = 0; guard < 1_000_000; guard++) {
    let busy = false;
    for (let w = 0; w < nWorkers; w++) {
      if (workers[w] === null && started < nTrials) {
        workers[w] = ask();
        started++;
      }
      const n = workers[w];
      if (n === null || n === undefined) continue;
      busy = true;
      if (stepOnce(n)) workers[w] = null;
    }
    if (!busy && started >= nTrials) break;
  }
  return { trials, log };
}

const ACTIONS = new Set(["none", "continue", "prune", "update"]);

export function schedulerConformance<O>(factory: SchedulerFactory<O>, conf: SchedulerConformance<O>, title = ""): void {
  const check = conformanceChecks<SchedulerCheck>(conf.skip ?? {});
  const optionsFor = (d: Direction) => (d === "maximize" && conf.maximizeOptions !== undefined ? conf.maximizeOptions : conf.options);
  const run = (sim: SimOptions) =>
    simulateStudy(factory as SchedulerFactory<any>, optionsFor(sim.direction ?? "minimize"), { maxStep: conf.maxStep, ...sim });
  const decisions = (log: readonly LogEntry[]) =>
    log.map((e) => [e.kind, e.trial, e.step ?? null, e.action ?? null, e.budget ?? null, e.params ?? null]);

  describe(`scheduler conformance: ${factory.name}${title ? ` (${title})` : ""}`, () => {
    check("warm-up", "never prunes before the warm-up step or with too few complete trials", () => {
      for (const direction of ["minimize", "maximize"] as const) {
        for (const seed of [1, 2, 3]) {
          for (const e of run({ direction, seed }).log) {
            if (e.action !== "prune") continue;
            expect(e.step as number, `trial ${e.trial}: ${e.reason}`).toBeGreaterThanOrEqual(conf.warmupSteps);
            expect(e.completeBefore, `trial ${e.trial}: ${e.reason}`).toBeGreaterThanOrEqual(conf.startupTrials ?? 0);
          }
        }
      }
    });

    check("acts", "stops or promotes some trials on a long run", () => {
      const { log } = run({ nTrials: 60 });
      const acted = log.some((e) => e.action === "prune" || (e.kind === "suggest" && e.attrs?.includes('"resume_from"')));
      expect(acted).toBe(true);
    });

    check("deterministic", "makes the same decisions for the same history", () => {
      const a = run({ seed: 5 });
      const b = run({ seed: 5 });
      expect(b.log).toEqual(a.log);
      expect(b.trials).toEqual(a.trials);
    });

    check("restart", "a fresh instance for every call decides the same (state is rebuilt from history)", () => {
      const a = run({ seed: 6 });
      const b = run({ seed: 6, fresh: true });
      expect(b.log).toEqual(a.log);
    });

    check("directions", "maximising −f decides exactly as minimising f", () => {
      for (const seed of [7, 8]) {
        const min = run({ seed, direction: "minimize" });
        const max = run({ seed, direction: "maximize" });
        expect(decisions(max.log)).toEqual(decisions(min.log));
      }
    });

    check("nan-inf", "never throws on NaN or ±Infinity values and answers valid decisions", () => {
      for (const direction of ["minimize", "maximize"] as const) {
        for (const fresh of [false, true]) {
          const { log, trials } = run({ direction, badValues: true, seed: 9, fresh });
          expect(trials.filter((t) => t.intermediate.some((iv) => !Number.isFinite(iv.value))).length).toBeGreaterThan(0);
          for (const e of log) {
            if (e.kind === "report") {
              expect(ACTIONS.has(e.action as string)).toBe(true);
              if (e.action === "prune") expect(e.reason).toBeTruthy();
              if (e.budget !== undefined) expect(Number.isFinite(e.budget)).toBe(true);
              // Attributes must survive a JSON round trip unchanged (no NaN/Infinity numbers).
              expect(JSON.stringify(JSON.parse(e.attrs as string))).toBe(e.attrs);
              expect(e.attrs).not.toContain("null");
            }
          }
          for (const t of trials)
            for (const [name, d] of Object.entries(CASE_SPACE)) expect(contains(d, t.params[name] ?? null)).toBe(true);
          // A NaN report stops the trial at once, under every scheduler (common.ts): it is the last report.
          for (const t of trials) {
            const first = t.intermediate.findIndex((iv) => Number.isNaN(iv.value));
            if (first < 0) continue;
            expect(first, `trial ${t.number} went on after its NaN report at step ${t.intermediate[first]?.step}`).toBe(t.intermediate.length - 1);
            expect(t.state).toBe("PRUNED");
          }
        }
      }
    });
  });
}
