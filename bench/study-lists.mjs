// The two study lists among --studies studies, each with --trials COMPLETE trials: `list_studies`
// (--op list_studies, the default: one page of --limit, the first and the one after the middle study
// by its cursor) and `studies_overview` (--op studies_overview, the dashboard's list: the whole
// overview, `{}`, its only read before it paged, and with --limit N also those two pages). On SQLite
// (one server, every study in its memory), and on PostgreSQL read by the server that owns them (from
// memory) and by another server (from the database: ownership.ts `foreignStudies`). Each call's time,
// its reply's size (lines, JSON bytes) and how much the heap grew over the call (heapUsed after less
// before, a gc() first: a lower bound of what it allocated, as a collection during the call shrinks
// it). Studies are created through the service, --concurrency at a time. Starts a throw-away
// PostgreSQL (dist-bench: `npx tsc -p tsconfig.bench.json`); run with node --expose-gc.
//
//   node --expose-gc bench/study-lists.mjs [--op list_studies|studies_overview] [--dist dist-bench/src] [--studies 10000]
//        [--trials 0 (list_studies) | 3] [--limit 20 (list_studies) | N] [--reps 9 (list_studies) | 5] [--concurrency 32] [--backend both|sqlite|postgres]
//
// docs/BENCHMARKS.md "A page of list_studies among 10,000 studies" and "studies_overview among
// 10,000 studies" have the figures.
import "./help.mjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median } from "./ab-args.mjs";

const argv = process.argv.slice(2);
const opt = (k, d) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const op = opt("op", "list_studies");
if (op !== "list_studies" && op !== "studies_overview") throw new Error(`--op ${op}: list_studies or studies_overview`);
const listing = op === "list_studies";
const dist = resolve(opt("dist", "dist-bench/src"));
const studies = Number(opt("studies", 10_000));
const trials = Number(opt("trials", listing ? 0 : 3));
const limitArg = opt("limit", listing ? 20 : undefined);
const limit = limitArg === undefined ? undefined : Number(limitArg);
const reps = Number(opt("reps", listing ? 9 : 5));
const concurrency = Number(opt("concurrency", 32));
const which = opt("backend", "both");
if (typeof globalThis.gc !== "function") throw new Error("run with node --expose-gc");
const m = (p) => import(join(dist, p));
const { startPostgres } = await m("testing/postgres-server.js");
const { StudyService } = await m("service/study-service.js");
const { silentLogger } = await m("logger.js");

async function fill(svc) {
  const names = Array.from({ length: studies }, (_, i) => `s${String(i).padStart(6, "0")}`);
  for (let i = 0; i < names.length; i += concurrency)
    await Promise.all(
      names.slice(i, i + concurrency).map(async (name) => {
        await svc.execute("create_study", { name, space: { x: { type: "float", low: 0, high: 1 } }, direction: "maximize", seed: 1 });
        for (let t = 0; t < trials; t++) {
          const a = await svc.execute("ask", { study: name });
          await svc.execute("tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: t });
        }
      }),
    );
}

async function time(label, svc) {
  const calls = listing ? [] : [["whole", {}]];
  if (limit !== undefined) {
    const mid = (await svc.execute(op, { limit: Math.floor(studies / 2) })).next_cursor;
    calls.push(["first page", { limit }], ["middle page", { limit, cursor: mid }]);
  }
  for (const [page, args] of calls) {
    const ms = [];
    const heap = [];
    let lines = 0;
    let bytes = 0;
    for (let r = 0; r < reps + 1; r++) {
      globalThis.gc();
      const before = process.memoryUsage().heapUsed;
      const t = performance.now();
      const res = await svc.execute(op, args);
      const took = performance.now() - t;
      const grew = process.memoryUsage().heapUsed - before;
      if (listing && res.studies.length !== limit) throw new Error(`${label}: ${res.studies.length} studies`);
      lines = res.studies.length;
      bytes = JSON.stringify(res).length;
      if (r > 0) (ms.push(took), heap.push(grew / 2 ** 20));
    }
    console.log(
      `${label.padEnd(28)} ${page.padEnd(11)} ${lines} lines, ${(bytes / 1024).toFixed(0)} KiB, median ${median(ms).toFixed(1)} ms (min ${Math.min(...ms).toFixed(1)}, max ${Math.max(...ms).toFixed(1)}), heap +${median(heap).toFixed(1)} MiB (min ${Math.min(...heap).toFixed(1)}, max ${Math.max(...heap).toFixed(1)}), ${ms.length} runs`,
    );
  }
}

console.log(`${studies} studies, ${trials} COMPLETE trials each, ${op} ${limit === undefined ? "whole" : `pages of ${limit}`}`);
const dir = mkdtempSync(join(tmpdir(), "tuneport-bench-"));
try {
  if (which !== "postgres") {
    const { SqliteStorage } = await m("storage/sqlite/sqlite-storage.js");
    const storage = new SqliteStorage({ path: join(dir, "bench.db") });
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    const t = performance.now();
    await fill(svc);
    console.log(`sqlite: created in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await time("sqlite", svc);
    await svc.close();
    await storage.close();
  }
  if (which !== "sqlite") {
    const pgServer = startPostgres({ maxConnections: 50 });
    try {
      const url = `${pgServer.url}&schema=bench_lists`;
      const { PostgresStorage } = await m("storage/postgres/postgres-storage.js");
      const { PgOwnershipStore } = await m("storage/postgres/pg-ownership.js");
      const { SharedOwnership } = await m("service/ownership.js");
      const server = async (id) => {
        const storage = await PostgresStorage.open({ url, poolSize: 4 });
        const ownership = new SharedOwnership({ store: new PgOwnershipStore(storage), logger: silentLogger(), serverId: id, endpoint: `tcp://${id}:1`, ttlMs: 60_000 });
        const svc = await StudyService.open({ storage, logger: silentLogger(), ownership, reapIntervalMs: 0 });
        return { svc, close: async () => (await svc.close(), await storage.close()) };
      };
      const b = await server("b");
      const t = performance.now();
      await fill(b.svc);
      console.log(`postgres: created in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      await time("postgres, owner (memory)", b.svc);
      const a = await server("a");
      await time("postgres, other (database)", a.svc);
      await a.close();
      await b.close();
    } finally {
      pgServer.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
