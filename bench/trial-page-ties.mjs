// The first page of a study's trials by value (`tuneport studies trials NAME --sort value`, storage
// `trialPage`) on a maximized study whose --trials COMPLETE trials share one value (--value same: an
// accuracy stuck at 1.0; --value random: one decimal in 0-1000), on PostgreSQL and on SQLite: the
// page's time, and (PostgreSQL) the page statement's execution time from EXPLAIN ANALYZE. The trials
// are written by SQL, not through the service. With --before DIST, that build's trialPage is timed too
// on the same data, alternating (the first round left out): the same PostgreSQL database, and on SQLite
// a copy of the first build's file each (which a build of a newer schema migrates). Starts a throw-away PostgreSQL
// (dist-bench: `npx tsc -p tsconfig.bench.json`).
//
//   node bench/trial-page-ties.mjs [--dist dist-bench/src] [--before DIST] [--trials 100000] [--value same|random] [--direction maximize] [--limit 20] [--reps 9]
//
// docs/BENCHMARKS.md "A page of trials by value among many ties" has the figures.
import "./help.mjs";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median } from "./ab-args.mjs";

const argv = process.argv.slice(2);
const opt = (k, d) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const dist = resolve(opt("dist", "dist-bench/src"));
const trials = Number(opt("trials", 100_000));
const direction = opt("direction", "maximize");
const limit = Number(opt("limit", 20));
const reps = Number(opt("reps", 9));
const same = opt("value", "same") === "same";
const m = (d, p) => import(join(d, p));
const { startPostgres } = await m(dist, "testing/postgres-server.js");
const { silentLogger } = await m(dist, "logger.js");
const { StudyService } = await m(dist, "service/study-service.js");
const builds = [["after", dist]];
if (opt("before", undefined)) builds.unshift(["before", resolve(opt("before"))]);
const query = { orderBy: "value", direction, limit };
const space = { x: { type: "float", low: 0, high: 1 } };

/** Storages of each build on one database (`open(build dist, first)`), the study created and filled by the first. */
async function setUp(open, fill) {
  const storages = [[builds[0][0], await open(builds[0][1], true)]];
  const svc = await StudyService.open({ storage: storages[0][1], logger: silentLogger(), reapIntervalMs: 0 });
  await svc.execute("create_study", { name: "s", space, direction, seed: 1 });
  await svc.close();
  const [study] = await storages[0][1].listStudies();
  await fill(storages[0][1], study.id);
  for (const [k, d] of builds.slice(1)) storages.push([k, await open(d, false)]);
  return { storages, id: study.id };
}

/** Times each build's trialPage, alternating; checks they answer the same page. */
async function time(label, storages, id) {
  const times = {};
  for (let r = 0; r < reps + 1; r++) {
    const pages = [];
    for (const [k, storage] of storages) {
      const t = performance.now();
      const page = await storage.trialPage(id, query);
      if (r > 0) (times[k] ??= []).push(performance.now() - t);
      pages.push(page.trials.map((x) => x.number).join(","));
    }
    if (new Set(pages).size !== 1) throw new Error(`${label}: the builds answer different pages: ${pages.join(" | ")}`);
    if (pages[0].split(",").length !== Math.min(limit, trials)) throw new Error(`${label}: ${pages[0].split(",").length} trials`);
  }
  for (const [k, v] of Object.entries(times))
    console.log(`${label.padEnd(10)} ${k.padEnd(6)} trialPage median ${median(v).toFixed(2)} ms  (min ${Math.min(...v).toFixed(2)}, max ${Math.max(...v).toFixed(2)}, ${v.length} runs)`);
}

console.log(`one ${direction} study, ${trials} COMPLETE trials (value ${same ? "same" : "random"}), the first page of ${limit} by value`);
const pgServer = startPostgres({ maxConnections: 50 });
const dir = mkdtempSync(join(tmpdir(), "tuneport-bench-"));
try {
  const url = `${pgServer.url}&schema=bench_page_ties`;
  const value = same ? "1.0" : "round((random() * 1000)::numeric, 1)::float8";
  const pg = await setUp(
    async (d) => (await m(d, "storage/postgres/postgres-storage.js")).PostgresStorage.open({ url, poolSize: 2 }),
    async (storage, id) => {
      await storage.pool.query(`INSERT INTO trials (id, study_id, number, state, params, distributions, value, created_at)
        SELECT 1000000 + g, $1, g, 'COMPLETE', '{"x":0.5}', '{}', ${value}, 0 FROM generate_series(0, $2::int - 1) g`, [id, trials]);
      await storage.pool.query("ANALYZE");
    },
  );
  for (const [k, storage] of pg.storages) {
    // The page statement's own execution time (EXPLAIN ANALYZE of the statement trialPage sends).
    const pool = storage.pool;
    const query0 = pool.query.bind(pool);
    const exec = [];
    pool.query = async (text, args) => {
      if (typeof text === "string" && text.includes("json_agg")) {
        const plan = (await query0(`EXPLAIN (ANALYZE) ${text}`, args)).rows.map((x) => x["QUERY PLAN"]).join("\n");
        exec.push(Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1]));
      }
      return query0(text, args);
    };
    for (let r = 0; r < reps + 1; r++) await storage.trialPage(pg.id, query);
    pool.query = query0;
    const v = exec.slice(1);
    console.log(`${"postgres".padEnd(10)} ${k.padEnd(6)} EXPLAIN ANALYZE execution median ${median(v).toFixed(2)} ms  (min ${Math.min(...v).toFixed(2)}, max ${Math.max(...v).toFixed(2)}, ${v.length} runs)`);
  }
  await time("postgres", pg.storages, pg.id);
  for (const [, s] of pg.storages) await s.close();

  const file = join(dir, "bench.db");
  const sqliteValue = same ? "1.0" : "round(abs(random() % 10000) / 10.0, 1)";
  let copies = 0;
  const lite = await setUp(
    // The other build opens a copy of the file the first one wrote (a second writer would wait for its
    // lock, and a build of another schema version could not read it): a newer one migrates its copy.
    async (d, first) => {
      const { SqliteStorage } = await m(d, "storage/sqlite/sqlite-storage.js");
      if (first) return new SqliteStorage({ path: file });
      const copy = join(dir, `copy-${copies++}.db`);
      copyFileSync(file, copy);
      return new SqliteStorage({ path: copy });
    },
    async (storage, id) => {
      storage.db.prepare(`WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < ? - 1)
        INSERT INTO trials (id, study_id, number, state, params, distributions, value, created_at)
        SELECT 1000000 + x, ?, x, 'COMPLETE', '{"x":0.5}', '{}', ${sqliteValue}, 0 FROM g`).run(trials, id);
      storage.db.exec("ANALYZE");
      storage.db.pragma("wal_checkpoint(TRUNCATE)");
    },
  );
  await time("sqlite", lite.storages, lite.id);
  for (const [, s] of lite.storages) await s.close();
} finally {
  pgServer.stop();
  rmSync(dir, { recursive: true, force: true });
}
