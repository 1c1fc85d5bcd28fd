/**
 * A page of trials by value on a study with many tied values, both directions, on both backends: the
 * first page from SQL (`tuneport studies trials --sort value`: storage `trialPage`) is the `trials`
 * op's first page, and paging on from its cursor with the `trials` op gives every trial with a value
 * exactly once, in the documented order (best value first; ties by number). PostgreSQL's maximized
 * page is built in index steps (postgres-read-sql.ts `maximizedPageSql`): the page's lowest value,
 * the trials above it and those of it by number; a tie cut by the page's end is the case it must get right.
 */
import { describe, expect, inject, it } from "vitest";
import { silentLogger } from "../logger.js";
import { StudyService } from "../service/study-service.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { openStorage } from "./embedded.js";
import { trialsPageOf } from "./studies.js";

/** Values in the order the trials are told (numbers 0..): ties interleaved, so number order is not tie order; RUNNING/FAIL have none. */
const VALUES: (number | "RUNNING" | "FAIL" | "PRUNED")[] = [];
for (let i = 0; i < 60; i++) VALUES.push(i % 7 === 3 ? 2 : i % 11 === 5 ? 0.5 : i % 13 === 4 ? "FAIL" : i % 17 === 2 ? "RUNNING" : i % 19 === 6 ? "PRUNED" : 1);
VALUES.push(-1e300, 1e300, 1e-300);

describe.each(storageBackends(inject("pgUrl")))("a page of trials by value among many ties on %s", (backend: StorageBackend) => {
  it.each(["maximize", "minimize"] as const)("%s: the SQL first page is the trials op's, and paging on gives every trial once, in order", async (direction) => {
    const path = backend.location();
    const storage = await backend.open(path);
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await svc.execute("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } }, direction, scheduler: "median" });
    const told: { number: number; value: number }[] = [];
    for (const v of VALUES) {
      const a = await svc.execute("ask", { study: "s" });
      const trial = a.trial.number as number;
      const token = a.lease.token;
      if (v === "RUNNING") continue;
      if (v === "PRUNED") {
        // A pruned trial takes its last intermediate value: tied with the COMPLETE ones.
        await svc.execute("report", { study: "s", trial, token, step: 1, value: 1 });
        await svc.execute("tell", { study: "s", trial, token, state: "PRUNED" });
      } else await svc.execute("tell", { study: "s", trial, token, state: v === "FAIL" ? "FAIL" : "COMPLETE", value: v === "FAIL" ? undefined : v });
    }
    const all = (await svc.execute("trials", { study: "s", limit: 1000 })).trials as { number: number; value: number | null }[];
    for (const t of all) if (t.value !== null && t.value !== undefined) told.push({ number: t.number, value: t.value });
    expect(told.filter((t) => t.value === 1).length).toBeGreaterThan(30); // many ties, PRUNED among them
    const sign = direction === "maximize" ? -1 : 1;
    const order = [...told].sort((a, b) => sign * (a.value - b.value) || a.number - b.number).map((t) => t.number);
    const limits = [1, 2, 3, 5, 6, 7, 20, 33, 40, told.length - 1, told.length, 100];
    const expected = new Map<number, unknown>();
    for (const limit of limits) expected.set(limit, await svc.execute("trials", { study: "s", order_by: "value", limit }));
    await svc.close();
    await storage.close();

    const firsts = new Map<number, { trials: { number: number }[]; next_cursor: string | null }>();
    const reader = await openStorage(path, { readonly: true });
    try {
      for (const limit of limits) {
        const page = await trialsPageOf(reader, "s", { order_by: "value", limit });
        expect(page, `limit ${limit}`).toEqual(expected.get(limit));
        firsts.set(limit, page as never);
      }
    } finally {
      await reader.close();
    }

    // From each SQL first page's cursor, on through the trials op: every trial once, in order.
    const again = await backend.open(path);
    const svc2 = await StudyService.open({ storage: again, logger: silentLogger(), reapIntervalMs: 0 });
    try {
      for (const limit of limits) {
        const first = firsts.get(limit);
        const seen = first?.trials.map((t) => t.number) ?? [];
        let cursor = first?.next_cursor ?? null;
        while (cursor !== null) {
          const page = await svc2.execute("trials", { study: "s", order_by: "value", limit, cursor });
          seen.push(...(page.trials as { number: number }[]).map((t) => t.number));
          cursor = page.next_cursor as string | null;
        }
        expect(seen, `limit ${limit}`).toEqual(order);
      }
    } finally {
      await svc2.close();
      await again.close();
    }
  });
});
