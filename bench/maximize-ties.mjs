// A listing (list_studies) of studies another server serves on PostgreSQL, each with --trials COMPLETE
// trials that share one value (--value same: an accuracy stuck at 1.0; --value random: one decimal in
// 0-1000), maximized or minimized (--direction): what the best-trial part of postgres-read-sql.ts
// `SUMMARIES_SQL` costs. The trials are written by SQL (generate_series), not through the service. With
// --before DIST, that build's SUMMARIES_SQL is timed too on the same database, alternating (the first
// round left out). Starts a throw-away PostgreSQL (dist-bench: `npx tsc -p tsconfig.bench.json`).
//
//   node bench/maximize-ties.mjs [--dist dist-bench/src] [--before DIST] [--studies 4] [--trials 100000] [--value same|random] [--direction maximize] [--reps 9]
//
// docs/BENCHMARKS.md "A maximized study's best trial among many ties" has the figures.
import "./help.mjs";
import { join, resolve } from "node:path";
import { median } from "./ab-args.mjs";

const argv = process.argv.slice(2);
const opt = (k, d) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const dist = resolve(opt("dist", "dist-bench/src"));
const studies = Number(opt("studies", 4));
const trials = Number(opt("trials", 100_000));
const direction = opt("direction", "maximize");
const reps = Number(opt("reps", 9));
const value = opt("value", "same") === "same" ? "1.0" : "round((random() * 1000)::numeric, 1)::float8";
const m = (d, p) => import(join(d, p));
const { startPostgres } = await m(dist, "testing/postgres-server.js");
const { PostgresStorage } = await m(dist, "storage/postgres/postgres-storage.js");
const { PgOwnershipStore } = await m(dist, "storage/postgres/pg-ownership.js");
const { SharedOwnership } = await m(dist, "service/ownership.js");
const { StudyService } = await m(dist, "service/study-service.js");
const { silentLogger } = await m(dist, "logger.js");
const pgServer = startPostgres({ maxConnections: 50 });
try {
  const url = `${pgServer.url}&schema=bench_ties`;
  const server = async (id) => {
    const storage = await PostgresStorage.open({ url, poolSize: 2 });
    const ownership = new SharedOwnership({ store: new PgOwnershipStore(storage), logger: silentLogger(), serverId: id, endpoint: `tcp://${id}:1`, ttlMs: 60_000 });
    const svc = await StudyService.open({ storage, logger: silentLogger(), ownership, reapIntervalMs: 0 });
    return { svc, storage, close: async () => (await svc.close(), await storage.close()) };
  };
  const b = await server("b");
  for (let i = 0; i < studies; i++) await b.svc.execute("create_study", { name: `s${i}`, space: { x: { type: "float", low: 0, high: 1 } }, direction, seed: i });
  for (const s of await b.storage.listStudies())
    await b.storage.pool.query(`INSERT INTO trials (id, study_id, number, state, params, distributions, value, created_at)
      SELECT $1::bigint * 1000000 + g, $1, g, 'COMPLETE', '{"x":0.5}', '{}', ${value}, 0 FROM generate_series(0, $2::int - 1) g`, [s.id, trials]);
  await b.storage.pool.query("ANALYZE");
  const a = await server("a");
  const keys = (await a.storage.listStudies()).map((s) => s.id);
  const dirs = keys.map(() => direction);
  const sqls = [["after", (await m(dist, "storage/postgres/postgres-read-sql.js")).SUMMARIES_SQL]];
  if (opt("before", undefined)) sqls.unshift(["before", (await m(resolve(opt("before")), "storage/postgres/postgres-read-sql.js")).SUMMARIES_SQL]);
  const times = {};
  for (let r = 0; r < reps + 1; r++) {
    for (const [k, sql] of sqls) {
      const t = performance.now();
      const { rows } = await a.storage.pool.query(sql, [keys, dirs]);
      if (rows.length !== studies) throw new Error(`${k}: ${rows.length} rows`);
      if (r > 0) (times[`${k} SUMMARIES_SQL`] ??= []).push(performance.now() - t);
    }
    const t = performance.now();
    const res = await a.svc.execute("list_studies", {});
    if (res.studies.length !== studies) throw new Error(`list_studies: ${res.studies.length} studies`);
    if (r > 0) (times["this build list_studies"] ??= []).push(performance.now() - t);
  }
  console.log(`${studies} ${direction} studies of server b, ${trials} COMPLETE trials each (value ${opt("value", "same")}), listed by server a`);
  for (const [k, v] of Object.entries(times)) console.log(`${k.padEnd(26)} median ${median(v).toFixed(1)} ms  (min ${Math.min(...v).toFixed(1)}, max ${Math.max(...v).toFixed(1)}, ${v.length} runs)`);
  await a.close();
  await b.close();
} finally {
  pgServer.stop();
}
