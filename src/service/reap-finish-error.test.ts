/**
 * The reaper calls the strategy's `onFinish` (a plug-in's too) for a trial whose lease expired. A
 * plug-in whose `onFinish` throws must not stop the reaper: the trial's lease is gone whatever the
 * plug-in says, and the other studies' expired leases are reaped as before. Nor may a plug-in's
 * `neededFiles` that throws fail a heartbeat batch: its other leases would then expire.
 */
import { afterEach, expect, it } from "vitest";
import type { StrategyFactory } from "../domain/plugin.js";
import { silentLogger } from "../logger.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { STRATEGIES } from "../strategies/index.js";
import { randomStrategyFactory } from "../strategies/random/random-strategy.js";
import { StudyService } from "./study-service.js";

let svc: StudyService;
afterEach(async () => svc.close());

let now = 1_000_000;

/** A service whose plug-in `name` is random search with `hook` throwing a plug-in's bug. */
async function openWithThrowing(name: string, hook: "onFinish" | "neededFiles"): Promise<StudyService> {
  const throwing: StrategyFactory<never> = {
    ...(randomStrategyFactory as unknown as StrategyFactory<never>),
    name,
    create: (o) => ({
      ...randomStrategyFactory.create(o as never),
      [hook]: () => {
        throw new Error("a plug-in's bug");
      },
    }),
  };
  now = 1_000_000;
  return StudyService.open({
    storage: new SqliteStorage({ path: ":memory:" }), logger: silentLogger(), clock: () => now, reapIntervalMs: 0,
    strategies: [...STRATEGIES.values(), throwing],
  });
}

it("reaps a trial whose strategy's onFinish throws, and the other studies' trials after it", async () => {
  svc = await openWithThrowing("finish-throws", "onFinish");
  const space = { x: { type: "float", low: 0, high: 1 } } as const;
  // The plug-in's study first: the reaper goes through the studies in that order.
  await svc.createStudy({ name: "bad", space, strategy: { name: "finish-throws" }, lease_ttl_s: 5 });
  await svc.createStudy({ name: "good", space, strategy: { name: "random" }, lease_ttl_s: 5 });
  const bad = await svc.ask({ study: "bad" });
  const good = await svc.ask({ study: "good" });
  now += 10_000;
  expect(await svc.reap()).toBe(2);
  for (const [study, t] of [["bad", bad], ["good", good]] as const) {
    const stored = await svc.getTrial({ study, trial: t.trial.number });
    expect([study, stored.state, stored.system_attrs.fail_reason]).toEqual([study, "FAIL", "lease_expired"]);
  }
});

it("answers a heartbeat batch whose reaped trial's strategy throws in neededFiles: the live lease is renewed", async () => {
  svc = await openWithThrowing("needed-throws", "neededFiles");
  const space = { x: { type: "float", low: 0, high: 1 } } as const;
  await svc.createStudy({ name: "bad", space, strategy: { name: "needed-throws" }, lease_ttl_s: 5 });
  await svc.createStudy({ name: "good", space, strategy: { name: "random" }, lease_ttl_s: 60 });
  const bad = await svc.ask({ study: "bad" });
  const good = await svc.ask({ study: "good" });
  now += 10_000;
  expect(await svc.reap()).toBe(1);
  const out = await svc.heartbeat({
    leases: [
      { study: "bad", trial: bad.trial.number, token: bad.lease.token },
      { study: "good", trial: good.trial.number, token: good.lease.token },
    ],
  });
  expect(out.map((e) => [e.study, e.ok, e.code ?? null])).toEqual([["bad", false, "LEASE_LOST"], ["good", true, null]]);
  expect(out[0]?.data?.checkpoints_needed).toBeUndefined();
});
