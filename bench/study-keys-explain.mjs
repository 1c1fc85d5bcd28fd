// The statement a page of list_studies / studies_overview reads its stored studies' keys with on
// PostgreSQL (postgres-read-sql.ts `STUDY_KEYS_SQL`: a window from the cursor on, by the
// `studies_by_creation` index) against what it read before (every study's name and creation time),
// among --studies studies written by SQL: EXPLAIN (ANALYZE) execution times, the median of --reps
// after one left out, and the window's plan. Starts a throw-away PostgreSQL (dist-bench:
// `npx tsc -p tsconfig.bench.json`).
//
//   node bench/study-keys-explain.mjs [--dist dist-bench/src] [--studies 10000] [--limit 20] [--reps 7]
//
// docs/BENCHMARKS.md "A page of list_studies among 10,000 studies" has the figures.
import "./help.mjs";
import { join, resolve } from "node:path";
import { median } from "./ab-args.mjs";

const argv = process.argv.slice(2);
const opt = (k, d) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const dist = resolve(opt("dist", "dist-bench/src"));
const studies = Number(opt("studies", 10_000));
const limit = Number(opt("limit", 20));
const reps = Number(opt("reps", 7));
for (const [k, v] of [["studies", studies], ["limit", limit], ["reps", reps]])
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${k} ${opt(k)}: a whole number of at least 1`);
const m = (p) => import(join(dist, p));
const { startPostgres } = await m("testing/postgres-server.js");
const { PostgresStorage } = await m("storage/postgres/postgres-storage.js");
const { STUDY_KEYS_SQL, studyKeysParams } = await m("storage/postgres/postgres-read-sql.js");
const T0 = 1_765_000_000_000;
const pg = startPostgres({ maxConnections: 10 });
try {
  const st = await PostgresStorage.open({ url: `${pg.url}&schema=bench_keys`, poolSize: 2 });
  await st.pool.query(`INSERT INTO studies (id, name, config, created_at) SELECT g, 's' || lpad(g::text, 6, '0'), '{}', $1::FLOAT8 + g FROM generate_series(1, $2::INT) g`, [T0, studies]);
  await st.pool.query("ANALYZE");
  // A page's window: the page, one more, and the cursor's own study (reads.ts `pickStudies`).
  const reads = [
    ["window, first page", STUDY_KEYS_SQL, studyKeysParams(null, limit + 2)],
    ["window, middle page", STUDY_KEYS_SQL, studyKeysParams((T0 + Math.floor(studies / 2)) / 1000, limit + 2)],
    ["every key (before)", "SELECT name, created_at FROM studies", []],
  ];
  for (const [label, sql, args] of reads) {
    const times = [];
    let plan = "";
    for (let r = 0; r < reps + 1; r++) {
      plan = (await st.pool.query(`EXPLAIN (ANALYZE) ${sql}`, args)).rows.map((x) => x["QUERY PLAN"]).join("\n");
      if (r > 0) times.push(Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1]));
    }
    const rows = (await st.pool.query(sql, args)).rows.length;
    console.log(`${label.padEnd(20)} ${rows} rows, execution median ${median(times).toFixed(3)} ms (min ${Math.min(...times).toFixed(3)}, max ${Math.max(...times).toFixed(3)}, ${times.length} runs)`);
    if (label === "window, middle page") console.log(plan.replace(/^/gm, "    "));
  }
  await st.close();
} finally {
  pg.stop();
}
