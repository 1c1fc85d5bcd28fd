/**
 * On PostgreSQL a page of list_studies or studies_overview reads a window of the studies' keys from
 * its cursor on (postgres-read-sql.ts `STUDY_KEYS_SQL`, reads.ts `pickStudies`), no longer every
 * study's name and creation time. Its pages stay those SQLite's server gives (every study in its
 * memory): the same names page by page, with studies created and deleted between the pages, served
 * by one server or another; and where studies share a creation time (two servers create at the same
 * millisecond) in JavaScript's name order, which no SQL collation gives ("x😀" before "x！": UTF-16
 * code units, not code points or bytes).
 */
import { describe, expect, inject, it, vi } from "vitest";
import { silentLogger } from "../logger.js";
import { Rng } from "../math/rng.js";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { closers, ownedServer } from "../testing/shared-ownership-server.js";
import { postgresBackend, sqliteBackend } from "../testing/storage-backends.js";
import { StudyService } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };
const TTL_MS = 60_000;
const OPS = ["list_studies", "studies_overview"] as const;
/**
 * Names whose orders differ: UTF-16 against code points and bytes (the emoji and "𝒜" before the
 * fullwidth "！", "＃" and "～" in JavaScript, after them in PostgreSQL's "C" collation), bytes against
 * a locale ("Z", "a", "é").
 */
const STEMS = ["x😀", "x𝒜", "x！", "x＃", "x～", "xZ", "xa", "xé", "y"];
const cleanup = closers();

type Lister = Pick<StudyService, "execute">;

/** One page of `op` (names, cursor). */
async function page(svc: Lister, op: (typeof OPS)[number], limit: number, cursor: string | null): Promise<{ names: string[]; cursor: string | null }> {
  const p = await svc.execute(op, { limit, ...(cursor ? { cursor } : {}) });
  return { names: (p.studies as { name: string }[]).map((s) => s.name), cursor: p.next_cursor as string | null };
}

/** Counts the rows each read of the studies' keys returned (`PostgresStorage.studyKeys`). */
function keyReads(): number[] {
  const rows: number[] = [];
  const real = PostgresStorage.prototype.studyKeys;
  const spy = vi.spyOn(PostgresStorage.prototype, "studyKeys").mockImplementation(async function (this: PostgresStorage, ...args) {
    const out = await real.apply(this, args);
    rows.push(out.length);
    return out;
  });
  cleanup.push(async () => spy.mockRestore());
  return rows;
}

describe("a page of studies on PostgreSQL reads a window of keys", () => {
  it("gives SQLite's pages, page by page, over studies created and deleted between them", async () => {
    let now = 1_765_000_000_000;
    const clock = () => now;
    const storage = await sqliteBackend.open(sqliteBackend.location());
    const lite = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, clock });
    cleanup.push(async () => (await lite.close(), await storage.close()));
    const url = postgresBackend(inject("pgUrl")).location();
    const servers = [await ownedServer(cleanup, url, "a", { ttlMs: TTL_MS, clock }), await ownedServer(cleanup, url, "b", { ttlMs: TTL_MS, clock })];
    const rng = new Rng(19);
    const random = () => rng.random();
    const owner = new Map<string, Lister>(); // live studies, by the PostgreSQL server that serves each
    let made = 0;
    const create = async () => {
      const name = `${STEMS[Math.floor(random() * STEMS.length)]}-${made++ % 6}`;
      if (owner.has(name)) return;
      now += random() < 0.3 ? 1.25 : 1; // fractional milliseconds too: created_at is a DOUBLE PRECISION
      const svc = (servers[Math.floor(random() * 2)] as (typeof servers)[number]).svc;
      await lite.execute("create_study", { name, space: SPACE });
      await svc.execute("create_study", { name, space: SPACE });
      owner.set(name, svc);
    };
    const remove = async () => {
      const names = [...owner.keys()];
      const name = names[Math.floor(random() * names.length)];
      if (name === undefined) return;
      await lite.execute("delete_study", { study: name });
      await (owner.get(name) as Lister).execute("delete_study", { study: name });
      owner.delete(name);
    };
    for (let i = 0; i < 25; i++) await create();
    const reads = keyReads();
    for (let round = 0; round < 8; round++) {
      const op = OPS[round % 2] as (typeof OPS)[number];
      const limit = [1, 2, 3, 7][round % 4] as number;
      reads.length = 0;
      // SQLite's server and both PostgreSQL servers page on, each with its own cursors.
      const cursors: (string | null)[] = [null, null, null];
      const listers: Lister[] = [lite, ...servers.map((s) => s.svc)];
      for (let pages = 0; ; pages++) {
        const got = await Promise.all(listers.map((svc, i) => page(svc, op, limit, cursors[i] ?? null)));
        for (const g of got.slice(1)) expect(g.names).toEqual(got[0]?.names);
        for (let i = 0; i < got.length; i++) cursors[i] = got[i]?.cursor ?? null;
        if (cursors.every((c) => c === null)) break;
        expect(cursors.every((c) => c !== null)).toBe(true);
        for (let k = Math.floor(random() * 4); k > 0; k--) await (random() < 0.6 ? create() : remove());
        expect(pages).toBeLessThan(200);
      }
      // Before: every page read every study's key (25 and more).
      expect(reads.length).toBeGreaterThan(0);
      for (const n of reads) expect(n).toBeLessThanOrEqual(limit + 2);
    }
    for (const s of servers) expect(s.fatal).toEqual([]);
  });

  it("orders studies created at the same time by name as JavaScript compares them, whichever server lists", async () => {
    let now = 1_765_000_000_000;
    const clock = () => now;
    const url = postgresBackend(inject("pgUrl")).location();
    const servers = [];
    for (const id of ["a", "b", "c", "d", "e"]) servers.push(await ownedServer(cleanup, url, id, { ttlMs: TTL_MS, clock }));
    // Groups of five studies created at one millisecond, one by each server.
    for (let g = 0; g < 6; g++) {
      now += 1;
      for (let i = 0; i < servers.length; i++)
        await (servers[i] as (typeof servers)[number]).svc.execute("create_study", { name: `${STEMS[(g + i) % STEMS.length]}-${g}`, space: SPACE });
    }
    const all = (await servers[0]?.svc.execute("list_studies", {}))?.studies as { name: string; created_at: number }[];
    expect(all).toHaveLength(30);
    const order = all.sort((x, y) => x.created_at - y.created_at || (x.name < y.name ? -1 : 1)).map((s) => s.name);
    expect(order.slice(0, 5)).toEqual(["x𝒜-0", "x😀-0", "x！-0", "x＃-0", "x～-0"]); // UTF-16: D835, D83D before FF01
    const reads = keyReads();
    for (const op of OPS)
      for (const s of servers)
        for (const limit of [1, 2, 3, 4, 6, 100]) {
          reads.length = 0;
          const names: string[] = [];
          for (let p = await page(s.svc, op, limit, null); ; p = await page(s.svc, op, limit, p.cursor)) {
            names.push(...p.names);
            if (p.cursor === null) break;
            expect(names.length).toBeLessThan(100);
          }
          expect(names).toEqual(order);
          // A window: the page, one more, the cursor's study and the ties of both ends (five at most each).
          for (const n of reads) expect(n).toBeLessThanOrEqual(Math.min(30, limit + 2 + 2 * 4));
        }
    for (const s of servers) expect(s.fatal).toEqual([]);
  });

  it("reads a page's keys at most twice among many studies created at one time (imported from one file)", async () => {
    const url = postgresBackend(inject("pgUrl")).location();
    const servers = [await ownedServer(cleanup, url, "a", { ttlMs: TTL_MS }), await ownedServer(cleanup, url, "b", { ttlMs: TTL_MS })];
    const [a] = servers as [(typeof servers)[number]];
    await a.svc.execute("create_study", { name: "template", space: SPACE });
    const text = [...a.svc.exportStudy("template")].join("\n");
    await a.svc.execute("delete_study", { study: "template" });
    const names = Array.from({ length: 40 }, (_, i) => `copy-${String(i).padStart(2, "0")}`);
    for (const name of names) await a.svc.importStudy(text, name); // every one created at the file's time
    const reads = keyReads();
    for (const op of OPS)
      for (const s of servers)
        for (const limit of [1, 3, 20]) {
          const got: string[] = [];
          for (let p = await page(s.svc, op, limit, null); ; p = await page(s.svc, op, limit, p.cursor)) {
            got.push(...p.names);
            // The window past the cursor's ties, read once more: it read the tie group again for each
            // study short (the last page of limit 1 read it 20 times, of limit 20, 20 times).
            expect(reads.length).toBeLessThanOrEqual(2);
            reads.length = 0;
            if (p.cursor === null) break;
            expect(got.length).toBeLessThan(100);
          }
          expect(got).toEqual(names);
        }
    for (const s of servers) expect(s.fatal).toEqual([]);
  });

  it("answers a cursor whose time is past any double in ms as SQLite's server does, not with PostgreSQL's overflow", async () => {
    const storage = await sqliteBackend.open(sqliteBackend.location());
    const lite = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    cleanup.push(async () => (await lite.close(), await storage.close()));
    const url = postgresBackend(inject("pgUrl")).location();
    const servers = [await ownedServer(cleanup, url, "a", { ttlMs: TTL_MS }), await ownedServer(cleanup, url, "b", { ttlMs: TTL_MS })];
    for (const [i, name] of ["p", "q", "r"].entries()) {
      await lite.execute("create_study", { name, space: SPACE });
      await (servers[i % 2] as (typeof servers)[number]).svc.execute("create_study", { name, space: SPACE });
    }
    // A client's cursor is base64url JSON (paging.ts `decode`): its time is any number JSON holds.
    for (const c of [1e306, -1e306, 1.7e308, -1.7e308])
      for (const [op, k] of [["list_studies", "studies"], ["studies_overview", "overview"]] as const) {
        const cursor = Buffer.from(JSON.stringify({ k, c, n: "q" })).toString("base64url");
        const want = await page(lite, op, 2, cursor);
        expect(want.names).toEqual(c < 0 ? ["p", "q"] : []);
        for (const s of servers) {
          const got = await page(s.svc, op, 2, cursor);
          expect([got.names, got.cursor === null]).toEqual([want.names, want.cursor === null]); // cursors: each storage's times
        }
      }
    for (const s of servers) expect(s.fatal).toEqual([]);
  });
});
