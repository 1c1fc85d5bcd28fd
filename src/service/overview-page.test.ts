/**
 * A page of studies_overview sums up only its own studies (reads.ts `overviewPage`), as list_studies
 * pages (listing-page.test.ts): on PostgreSQL a server reads the rows and SQL summaries of the page's
 * studies served elsewhere, not of all of them (the whole overview, which the dashboard read on every
 * change and every 5 s, took 1.1 s and +53 MiB at 10,000 such studies), and its own come from memory.
 * Paging on with the cursors gives every study's line once, the same line as the whole overview's, in
 * list_studies' order (creation, then name), on both backends; one op's cursor is refused by the other.
 */
import { describe, expect, inject, it, vi } from "vitest";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { silentLogger } from "../logger.js";
import { closers, ownedServer } from "../testing/shared-ownership-server.js";
import { postgresBackend, sqliteBackend } from "../testing/storage-backends.js";
import { StudyService } from "./study-service.js";
import type { SummarySource } from "./views.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };
const TTL_MS = 60_000;
const cleanup = closers();

type Reader = { execute: StudyService["execute"] };
type Line = { name: string; n_trials: number; from_storage: boolean };

/** The studies' names in list_studies' documented order: creation time, then name (several may share a millisecond). */
async function listOrder(svc: Reader): Promise<string[]> {
  const all = (await svc.execute("list_studies", {})).studies as { name: string; created_at: number }[];
  return all.sort((x, y) => x.created_at - y.created_at || (x.name < y.name ? -1 : 1)).map((s) => s.name);
}

/** Every page of studies_overview with `limit`, concatenated; `between` runs after the first page. */
async function pageThrough(svc: Reader, limit: number, between?: () => Promise<void>): Promise<Line[]> {
  const lines: Line[] = [];
  let cursor: string | undefined;
  for (let pages = 0; ; pages++) {
    const page = await svc.execute("studies_overview", { limit, ...(cursor ? { cursor } : {}) });
    expect(page.studies.length).toBeLessThanOrEqual(limit);
    lines.push(...(page.studies as Line[]));
    if (page.next_cursor === null) return lines;
    cursor = page.next_cursor as string;
    if (pages === 0) await between?.();
    expect(pages).toBeLessThan(1000);
  }
}

/** A study with `n` COMPLETE trials. */
async function study(svc: Reader, name: string, n: number): Promise<void> {
  await svc.execute("create_study", { name, space: SPACE });
  for (let t = 0; t < n; t++) {
    const a = await svc.execute("ask", { study: name });
    await svc.execute("tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: t });
  }
}

describe("studies_overview pages", () => {
  it("on SQLite: every study's line once, in list_studies' order, for any page size; cursors are the op's own", async () => {
    const storage = await sqliteBackend.open(sqliteBackend.location());
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(async () => (await svc.close(), await storage.close()));
    for (let i = 0; i < 23; i++) await study(svc, `s-${String((i * 7) % 23).padStart(2, "0")}`, i % 3); // creation order is not name order
    const order = await listOrder(svc);
    const whole = (await svc.execute("studies_overview", {})) as { studies: Line[]; next_cursor: string | null };
    expect(whole.next_cursor).toBeNull();
    const byName = new Map(whole.studies.map((l) => [l.name, l]));
    for (const limit of [1, 4, 22, 23, 100]) {
      const lines = await pageThrough(svc, limit);
      expect(lines.map((l) => l.name)).toEqual(order);
      for (const l of lines) expect(l).toEqual(byName.get(l.name));
    }
    // A study created after the first page is listed at the end (its creation time), once.
    const seen = await pageThrough(svc, 5, () => study(svc, "late", 1));
    expect(seen.map((l) => l.name)).toEqual([...order, "late"]);
    // Each op reads its own cursors only.
    const overviewCursor = (await svc.execute("studies_overview", { limit: 2 })).next_cursor as string;
    const listCursor = (await svc.execute("list_studies", { limit: 2 })).next_cursor as string;
    await expect(svc.execute("studies_overview", { limit: 2, cursor: listCursor })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(svc.execute("list_studies", { limit: 2, cursor: overviewCursor })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("on PostgreSQL: a server sums up only the page's studies served elsewhere, and its own from memory", async () => {
    const url = postgresBackend(inject("pgUrl")).location();
    const asked: number[] = [];
    const counted = (real: SummarySource): SummarySource => ({
      studySummary: (id, direction) => real.studySummary(id, direction),
      distinctDistributions: (id) => real.distinctDistributions(id),
      studySummaries: (studies) => (asked.push(studies.length), real.studySummaries(studies)),
    });
    const a = await ownedServer(cleanup, url, "a", { ttlMs: TTL_MS, summaries: counted });
    const b = await ownedServer(cleanup, url, "b", { ttlMs: TTL_MS });
    const mine = new Set<string>();
    const trials = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const name = `s-${String((i * 11) % 30).padStart(2, "0")}`;
      if (i % 4 === 0) mine.add(name);
      trials.set(name, i % 3);
      await study(i % 4 === 0 ? a.svc : b.svc, name, i % 3); // a's own among b's
    }
    const order = await listOrder(b.svc);
    const rows = vi.spyOn(PostgresStorage.prototype, "studiesNamed");
    cleanup.push(async () => rows.mockRestore());
    for (const limit of [1, 7, 30]) {
      asked.length = 0;
      rows.mockClear();
      const lines = await pageThrough(a.svc, limit);
      expect(lines.map((l) => l.name)).toEqual(order);
      for (const l of lines) expect([l.name, l.from_storage, l.n_trials]).toEqual([l.name, !mine.has(l.name), trials.get(l.name)]);
      // Before: every read summed up all 22 of b's studies, and read every study's row.
      expect(Math.max(...asked)).toBeLessThanOrEqual(limit);
      expect(rows).toHaveBeenCalled();
      for (const [names] of rows.mock.calls) expect(names.length).toBeLessThanOrEqual(limit);
    }
    // The owner pages the same studies from its memory, with the same counts.
    const fromB = await pageThrough(b.svc, 4);
    expect(fromB.map((l) => l.name)).toEqual(order);
    for (const l of fromB) expect([l.name, l.from_storage, l.n_trials]).toEqual([l.name, mine.has(l.name), trials.get(l.name)]);
    expect(a.fatal).toEqual([]);
    expect(b.fatal).toEqual([]);
  });
});
