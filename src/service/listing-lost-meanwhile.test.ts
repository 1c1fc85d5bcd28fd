/**
 * A listing across servers (list_studies, studies_overview) while this server loses one of its studies
 * to another: ownership.ts `foreignStudies` reads the other studies' summaries (views.ts `storedViews`), and
 * a study it skipped as served here (listed from memory by the caller) may be given up during those
 * reads. Before, such a study was in neither list: skipped from storage, gone from memory by the time
 * the caller read it. On the shared test PostgreSQL; the listing is held inside a summary read (the
 * real store, gated) while the other server takes the study over.
 */
import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { closers, ownedServer } from "../testing/shared-ownership-server.js";
import { postgresBackend } from "../testing/storage-backends.js";
import type { SummarySource } from "./views.js";

const SPACE = { x: { type: "float", low: -5, high: 5 } };
/** Long: no timer renews or scans during a test; expiry is written by the test. */
const TTL_MS = 60_000;

const cleanup = closers();

/** A server on the real store whose summary reads can be held: `hold()` resolves once a read is waiting, `let go` ends it. */
async function server(url: string, id: string) {
  let gate: { entered: () => void; open: Promise<void> } | null = null;
  const held = async () => {
    const g = gate;
    if (g) (gate = null), g.entered(), await g.open;
  };
  const gated = (base: SummarySource): SummarySource => ({
    studySummary: async (studyId, direction) => (await held(), base.studySummary(studyId, direction)),
    distinctDistributions: (studyId) => base.distinctDistributions(studyId),
    studySummaries: async (studies) => (await held(), base.studySummaries(studies)),
  });
  const hold = () => {
    let letGo: () => void = () => undefined;
    const open = new Promise<void>((r) => (letGo = r));
    const entered = new Promise<void>((r) => (gate = { entered: r, open }));
    return { entered, letGo };
  };
  const { svc, ownership, fatal } = await ownedServer(cleanup, url, id, { ttlMs: TTL_MS, summaries: gated });
  return { svc, ownership, hold, fatal };
}

/** Expires `name`'s ownership row now (its owner stalled), from a session of the test's own. */
async function expire(url: string, name: string): Promise<void> {
  const table = `${/schema=([^&]*)/.exec(url)?.[1]}.study_owners`;
  const db = new pg.Client({ connectionString: url.replace(/[?&]schema=[^&]*/, "") });
  await db.connect();
  try {
    await db.query(`UPDATE ${table} SET expires_at = now() - interval '1 hour' WHERE name = $1`, [name]);
  } finally {
    await db.end();
  }
}

describe("a listing across servers while a study of this server is taken over", () => {
  const backend = postgresBackend(inject("pgUrl"));

  for (const op of ["studies_overview", "list_studies"] as const)
    it(`${op} lists the study given up during the listing (from storage), not neither`, async () => {
      const url = backend.location();
      const a = await server(url, "a");
      await a.svc.execute("create_study", { name: "mine", space: SPACE, seed: 1 });
      const b = await server(url, "b");
      await b.svc.execute("create_study", { name: "theirs", space: SPACE, seed: 1 });

      // a's listing skips 'mine' (served here), then waits in the summary read of 'theirs'.
      const { entered, letGo } = a.hold();
      const listing = a.svc.execute(op, {});
      await entered;
      // Meanwhile 'mine' is taken over by b, and a's renewal finds it lost (gone from a's memory).
      await expire(url, "mine");
      await b.svc.execute("get_study", { study: "mine" });
      await a.ownership.recheck();
      expect(a.ownership.heldNames()).not.toContain("mine");
      letGo();

      const { studies } = await listing;
      // Before: ["theirs"] ('mine' was neither read from storage nor in memory any more).
      expect(studies.map((s) => s.name)).toEqual(["mine", "theirs"]);
      if (op === "studies_overview") expect(studies.map((s) => (s as { from_storage: boolean }).from_storage)).toEqual([true, true]);
      expect([...a.fatal, ...b.fatal]).toEqual([]);
    });
});
