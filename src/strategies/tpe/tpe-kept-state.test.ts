import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { StrategyFactory } from "../../domain/plugin.js";
import { silentLogger } from "../../logger.js";
import { Rng } from "../../math/rng.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { exitTempDir } from "../../testing/temp-dirs.js";
import { STRATEGIES } from "../index.js";
import { type TpeOptions, tpeStrategyFactory } from "./tpe-strategy.js";

/**
 * TPE keeps state between asks (finished trials' encodings, its mixtures' sorted centres, bandwidths
 * and pairs). A fresh strategy per ask must propose exactly the same, so this drives one study on
 * two services over real SQLite files: one with the built-in TPE (one instance per study, kept
 * between asks), one whose "tpe" builds a new instance for every call.
 */
const freshTpe: StrategyFactory<TpeOptions> = {
  ...tpeStrategyFactory,
  create: (o) => ({
    suggest: (req) => tpeStrategyFactory.create(o).suggest(req),
    suggestParam: (req) => tpeStrategyFactory.create(o).suggestParam!(req),
  }),
};

const SPACE = {
  lr: { type: "float", low: 1e-5, high: 1e-1, log: true },
  dropout: { type: "float", low: 0, high: 0.5 },
  layers: { type: "int", low: 1, high: 8 },
  act: { type: "categorical", choices: ["relu", "gelu", "tanh"] },
  width: { type: "float", low: 0, high: 1, step: 0.125 },
};

const objective = (p: Record<string, unknown>): number =>
  (Math.log10(p.lr as number) + 3) ** 2 + 4 * ((p.dropout as number) - 0.2) ** 2 + 0.1 * Math.abs((p.layers as number) - 3) + (p.act === "gelu" ? 0 : 0.3);

const open: StudyService[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function service(path: string, fresh: boolean): Promise<StudyService> {
  const strategies = fresh ? new Map([...STRATEGIES, ["tpe", freshTpe]]) : undefined;
  const s = await StudyService.open({ storage: new SqliteStorage({ path }), logger: silentLogger(), reapIntervalMs: 0, ...(strategies ? { strategies } : {}) });
  open.push(s);
  return s;
}

describe("tpe's kept state between asks", () => {
  it("proposes what a fresh strategy proposes over a growing study with tells, fails, prunes, pending trials and a restart", { timeout: 300_000 }, async () => {
    const dir = exitTempDir("tuneport-tpe-kept-");
    let kept = await service(join(dir, "kept.db"), false);
    const fresh = await service(join(dir, "fresh.db"), true);
    const study = "kept";
    for (const s of [kept, fresh]) await s.createStudy({ name: study, strategy: "tpe", seed: 7, space: SPACE as never });
    const pending: { number: number; token: string; freshToken: string; params: Record<string, unknown> }[] = [];
    const rng = new Rng(19);
    let asked = 0;
    // 180 trials, up to 12 pending at once (constant liar), told out of order: most COMPLETE, some
    // FAIL (failed evaluations join the bad set), some PRUNED after a report; the kept service is
    // restarted at trial 90 (its strategy then starts from the stored trials).
    while (asked < 180) {
      if (asked === 90) {
        await kept.close();
        open.splice(open.indexOf(kept), 1);
        kept = await service(join(dir, "kept.db"), false);
      }
      const burst = 1 + Math.floor(rng.random() * 4);
      for (let b = 0; b < burst && pending.length < 12 && asked < 180; b++, asked++) {
        const a = await kept.ask({ study });
        const f = await fresh.ask({ study });
        expect(a.trial.number).toBe(f.trial.number);
        expect(a.trial.params).toEqual(f.trial.params);
        pending.push({ number: a.trial.number, token: a.lease.token, freshToken: f.lease.token, params: a.trial.params as Record<string, unknown> });
      }
      const told = 1 + Math.floor(rng.random() * 3);
      for (let t = 0; t < told && pending.length > 0; t++) {
        const [p] = pending.splice(Math.floor(rng.random() * pending.length), 1);
        if (p === undefined) break;
        const roll = rng.random();
        for (const [s, token] of [[kept, p.token], [fresh, p.freshToken]] as const) {
          if (roll < 0.1) await s.tell({ study, trial: p.number, token, state: "FAIL" });
          else if (roll < 0.25) {
            await s.report({ study, trial: p.number, token, step: 1, value: objective(p.params) + 1 });
            await s.tell({ study, trial: p.number, token, state: "PRUNED" });
          } else await s.tell({ study, trial: p.number, token, state: "COMPLETE", values: [objective(p.params)] });
        }
      }
    }
    const listed = (await kept.listTrials({ study })).trials;
    expect(new Set(listed.map((t) => t.state))).toEqual(new Set(["COMPLETE", "FAIL", "PRUNED", "RUNNING"]));
  });
});
