/**
 * A page of list_studies views only its own studies (reads.ts `listingPage`): on PostgreSQL a server
 * listing another server's studies reads the rows and SQL summaries of the page's studies, not of all
 * of them (the whole list was summarised to cut one page: 10,000 studies, 0.7-2 s a page), and its own studies
 * mixed in by creation time come from its memory. Paging on with the cursors gives every study once,
 * in creation order, on both backends, for several page sizes, the local and foreign studies
 * interleaved (PostgreSQL), and a study created between two pages is listed in its place.
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

type Lister = { execute: StudyService["execute"] };

/** The names `made`, in list_studies' documented order: creation time, then name (several may share a millisecond). */
async function inOrder(svc: Lister, made: string[]): Promise<string[]> {
  const all = (await svc.execute("list_studies", {})).studies as { name: string; created_at: number }[];
  expect(all.map((s) => s.name).sort()).toEqual([...made].sort());
  return all.sort((x, y) => x.created_at - y.created_at || (x.name < y.name ? -1 : 1)).map((s) => s.name);
}

/** Every page of list_studies with `limit`, concatenated (names); `between` runs after the first page. */
async function pageThrough(svc: Lister, limit: number, between?: () => Promise<void>): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; ; pages++) {
    const page = await svc.execute("list_studies", { limit, ...(cursor ? { cursor } : {}) });
    expect(page.studies.length).toBeLessThanOrEqual(limit);
    names.push(...(page.studies as { name: string }[]).map((s) => s.name));
    if (page.next_cursor === null) return names;
    cursor = page.next_cursor as string;
    if (pages === 0) await between?.();
    expect(pages).toBeLessThan(1000);
  }
}

describe("list_studies pages", () => {
  it("on SQLite: every study once, in creation order, for any page size", async () => {
    const storage = await sqliteBackend.open(sqliteBackend.location());
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(async () => (await svc.close(), await storage.close()));
    const made: string[] = [];
    for (let i = 0; i < 23; i++) {
      const name = `s-${String((i * 7) % 23).padStart(2, "0")}`; // creation order is not name order
      await svc.execute("create_study", { name, space: SPACE });
      made.push(name);
    }
    const order = await inOrder(svc, made);
    for (const limit of [1, 4, 22, 23, 100]) expect(await pageThrough(svc, limit)).toEqual(order);
    // A study created after the first page is listed at the end (its creation time), once.
    const seen = await pageThrough(svc, 5, async () => void (await svc.execute("create_study", { name: "late", space: SPACE })));
    expect(seen).toEqual([...order, "late"]);
  });

  it("on PostgreSQL: a server summarises only the page's studies served elsewhere, and lists its own from memory", async () => {
    const url = postgresBackend(inject("pgUrl")).location();
    const asked: number[] = [];
    const counted = (real: SummarySource): SummarySource => ({
      studySummary: (id, direction) => real.studySummary(id, direction),
      distinctDistributions: (id) => real.distinctDistributions(id),
      studySummaries: (studies) => (asked.push(studies.length), real.studySummaries(studies)),
    });
    const a = await ownedServer(cleanup, url, "a", { ttlMs: TTL_MS, summaries: counted });
    const b = await ownedServer(cleanup, url, "b", { ttlMs: TTL_MS });
    const made: string[] = [];
    for (let i = 0; i < 30; i++) {
      const name = `s-${String((i * 11) % 30).padStart(2, "0")}`;
      await (i % 4 === 0 ? a : b).svc.execute("create_study", { name, space: SPACE }); // a's own among b's
      made.push(name);
    }
    const order = await inOrder(b.svc, made);
    const rows = vi.spyOn(PostgresStorage.prototype, "studiesNamed");
    cleanup.push(async () => rows.mockRestore());
    for (const limit of [1, 7, 30]) {
      asked.length = 0;
      rows.mockClear();
      expect(await pageThrough(a.svc, limit)).toEqual(order);
      // Before: every page summarised all 22 of b's studies, and read every study's row.
      expect(Math.max(...asked)).toBeLessThanOrEqual(limit);
      expect(rows).toHaveBeenCalled();
      for (const [names] of rows.mock.calls) expect(names.length).toBeLessThanOrEqual(limit);
    }
    // The owner lists the same pages from its memory.
    expect(await pageThrough(b.svc, 4)).toEqual(order);
    expect(a.fatal).toEqual([]);
    expect(b.fatal).toEqual([]);
  });
});
