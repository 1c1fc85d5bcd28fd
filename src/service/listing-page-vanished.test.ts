/**
 * A page of list_studies or studies_overview is cut from the studies' names and creation times,
 * then its studies are viewed (reads.ts `pickStudies`; on PostgreSQL `studyKeys`, then
 * `studiesNamed` for the page's rows, two statements). A study of the page deleted between the cut
 * and the view is left out, and paging goes on from where the page was cut: an empty page (limit 1,
 * its one study deleted) ended with next_cursor null, as if no study followed. A study deleted and
 * created again under its name meanwhile has a later creation time and belongs to a later page:
 * viewed in its old place, list_studies' cursor (its new creation time) skipped every study created
 * between the two, and studies_overview (cursor at the cut) listed it twice.
 */
import { describe, expect, inject, it, vi } from "vitest";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { closers, ownedServer } from "../testing/shared-ownership-server.js";
import { postgresBackend } from "../testing/storage-backends.js";
import type { StudyService } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };
const TTL_MS = 60_000;
const cleanup = closers();

describe.each(["list_studies", "studies_overview"] as const)("%s: a page's study gone between the cut and the view", (op) => {
  /** Every page of `op` with `limit` (names, page by page). */
  async function pages(svc: StudyService, limit: number): Promise<string[][]> {
    const out: string[][] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await svc.execute(op, { limit, ...(cursor ? { cursor } : {}) });
      out.push((page.studies as { name: string }[]).map((s) => s.name));
      if (page.next_cursor === null) return out;
      cursor = page.next_cursor as string;
      expect(out.length).toBeLessThan(100);
    }
  }

  /** Servers a and b on one database, b serving s0..s3 (`mine`: those a serves instead). */
  async function servers(mine: string[] = []) {
    const url = postgresBackend(inject("pgUrl")).location();
    const a = await ownedServer(cleanup, url, "a", { ttlMs: TTL_MS });
    const b = await ownedServer(cleanup, url, "b", { ttlMs: TTL_MS });
    for (const name of ["s0", "s1", "s2", "s3"]) {
      await (mine.includes(name) ? a : b).svc.execute("create_study", { name, space: SPACE });
      await new Promise((r) => setTimeout(r, 5)); // distinct creation times
    }
    const real = PostgresStorage.prototype.studiesNamed;
    const rows = vi.spyOn(PostgresStorage.prototype, "studiesNamed");
    cleanup.push(async () => rows.mockRestore());
    /** Runs `meanwhile` once, when a's page (its first) reads its studies' rows, after the cut. */
    const once = (meanwhile: () => Promise<unknown>) => {
      rows.mockImplementationOnce(async function (this: PostgresStorage, names) {
        await meanwhile();
        return real.call(this, names);
      });
    };
    return { a, b, once };
  }

  it("deleted: left out, and the pages after it are still listed (limit 1: the empty page has a cursor)", async () => {
    const { a, b, once } = await servers();
    once(() => b.svc.execute("delete_study", { study: "s0" }));
    expect((await pages(a.svc, 1)).flat()).toEqual(["s1", "s2", "s3"]);
    expect(a.fatal).toEqual([]);
  });

  it("deleted and created again: listed once, in its new place, and the studies created between are not skipped", async () => {
    const { a, b, once } = await servers();
    once(async () => {
      await b.svc.execute("delete_study", { study: "s1" });
      await b.svc.execute("create_study", { name: "s1", space: SPACE });
    });
    expect((await pages(a.svc, 2)).flat()).toEqual(["s0", "s2", "s3", "s1"]); // creation order: s1 is the newest now
    expect(a.fatal).toEqual([]);
  });

  it("one of its own deleted and created again (from memory): listed once, in its new place", async () => {
    const { a, once } = await servers(["s1"]);
    once(async () => {
      await a.svc.execute("delete_study", { study: "s1" });
      await a.svc.execute("create_study", { name: "s1", space: SPACE });
    });
    expect((await pages(a.svc, 2)).flat()).toEqual(["s0", "s2", "s3", "s1"]);
    expect(a.fatal).toEqual([]);
  });
});
