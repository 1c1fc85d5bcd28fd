/**
 * A float a strategy computes in a transformed space may land a hair past a bound (exp(log(0.1)) is
 * 0.10000000000000006): since `contains` turned exact the service drew a random value in its place
 * (a quality loss, and for a grid point another configuration); it now takes the bound meant.
 * A value farther out is still drawn anew and logged (test/stored-in-space.test.ts).
 */
import pino from "pino";
import { z } from "zod";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StrategyFactory } from "../domain/plugin.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { BUILTIN_PLUGINS } from "./plugins.js";
import { StudyService } from "./study-service.js";

const LOG = { type: "float", low: 1e-5, high: 0.1, log: true } as const;
/** exp(log(low)) and exp(log(high)) of LOG: each just past its bound. */
const ENDS = [Math.exp(Math.log(LOG.low)), Math.exp(Math.log(LOG.high))];

/** Proposes the ends of every range as exp(log(·)) computes them, alternating by trial number. */
const expLog: StrategyFactory<Record<string, never>> = {
  name: "exp-log",
  description: "Ends of each log range through exp(log(x)) (a test plug-in).",
  options: z.object({}).strict(),
  create: () => ({
    suggest: (req) => ({ params: { x: ENDS[req.trialNumber % 2] as number } }),
    suggestParam: (req) => (req.distribution.type === "float" ? Math.exp(Math.log(req.distribution.high)) : 0),
  }),
};

describe("a proposal a float's rounding put past a bound", () => {
  let storage: SqliteStorage;
  let svc: StudyService;
  let errors: string[];
  beforeEach(async () => {
    errors = [];
    const logger = pino({ level: "error" }, { write: (line: string) => void errors.push(line) });
    storage = new SqliteStorage({ path: ":memory:" });
    svc = await StudyService.open({ storage, logger, reapIntervalMs: 0, plugins: BUILTIN_PLUGINS.with({ strategies: [expLog] }) });
  });
  afterEach(async () => {
    await svc.close();
    await storage.close();
  });

  it("is stored as the bound, declared or define-by-run, without an error", async () => {
    expect(ENDS[0]).toBeLessThan(LOG.low);
    expect(ENDS[1]).toBeGreaterThan(LOG.high);
    await svc.createStudy({ name: "s", space: { x: LOG }, strategy: "exp-log" });
    const a = await svc.ask({ study: "s" });
    const b = await svc.ask({ study: "s" });
    expect([a.trial.params.x, b.trial.params.x]).toEqual([LOG.low, LOG.high]);
    const { value } = await svc.suggest({ study: "s", trial: a.trial.number, token: a.lease.token, name: "y", distribution: { type: "float", low: 1e-3, high: 0.1, log: true } });
    expect(value).toBe(0.1); // exp(log(0.1)) is 0.10000000000000006
    expect(errors).toEqual([]);
  });
});
