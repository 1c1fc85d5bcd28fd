// Listing another server's studies on PostgreSQL (list_studies, studies_overview: ownership.ts
// `foreignStudies` reads them as last committed): server b serves --studies studies (3 trials each),
// server a, which serves none, lists them; the median wall time of --reps listings of each op. With
// --before DIST, a server a of that build lists too, alternating with this one's, in one process on
// one database. Starts a throw-away PostgreSQL (dist-bench: `npx tsc -p tsconfig.bench.json`) unless
// --url names one (a `?schema=` of its own).
//
//   node bench/foreign-listing.mjs [--dist dist] [--before DIST] [--studies 1000] [--reps 9] [--url URL]
//
// docs/BENCHMARKS.md "Listing another server's studies" has the figures.
import "./help.mjs";
import { join, resolve } from "node:path";
import { median } from "./ab-args.mjs";

const argv = process.argv.slice(2);
const opt = (k, d) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const studies = Number(opt("studies", 1000));
const reps = Number(opt("reps", 9));
let url = opt("url", undefined);
let pgServer = null;
if (!url) {
  const { startPostgres } = await import("../dist-bench/src/testing/postgres-server.js");
  pgServer = startPostgres({ maxConnections: 100 });
  url = `${pgServer.url}${pgServer.url.includes("?") ? "&" : "?"}schema=bench_foreign`;
}

/** A server of the build in `dist` on the database, serving what it creates. */
async function server(dist, id) {
  const m = (p) => import(join(resolve(dist), p));
  const [{ PostgresStorage }, { PgOwnershipStore }, { SharedOwnership }, { StudyService }, { silentLogger }] = await Promise.all([
    m("storage/postgres/postgres-storage.js"), m("storage/postgres/pg-ownership.js"), m("service/ownership.js"), m("service/study-service.js"), m("logger.js"),
  ]);
  const storage = await PostgresStorage.open({ url, poolSize: 4 });
  const ownership = new SharedOwnership({ store: new PgOwnershipStore(storage), logger: silentLogger(), serverId: id, endpoint: `tcp://${id}:1`, ttlMs: 60_000 });
  const svc = await StudyService.open({ storage, logger: silentLogger(), ownership, reapIntervalMs: 0 });
  return { svc, close: async () => (await svc.close(), await storage.close()) };
}

const b = await server(opt("dist", "dist"), "b");
const space = { x: { type: "float", low: 0, high: 1 } };
const t0 = performance.now();
for (let i = 0; i < studies; i += 20) {
  await Promise.all(Array.from({ length: Math.min(20, studies - i) }, async (_, j) => {
    const name = `s-${String(i + j).padStart(5, "0")}`;
    await b.svc.execute("create_study", { name, space, seed: i + j });
    for (let k = 0; k < 3; k++) {
      const a = await b.svc.execute("ask", { study: name });
      await b.svc.execute("tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: Math.random() });
    }
  }));
}
console.log(`filled ${studies} studies of server b (3 trials each) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const listers = [["after", await server(opt("dist", "dist"), "a-after")]];
if (opt("before", undefined)) listers.unshift(["before", await server(opt("before"), "a-before")]);
const times = {};
for (let r = 0; r < reps + 1; r++) {
  for (const [k, s] of listers)
    for (const op of ["list_studies", "studies_overview"]) {
      const t = performance.now();
      const res = await s.svc.execute(op, {});
      const ms = performance.now() - t;
      if (res.studies.length !== studies) throw new Error(`${k} ${op}: ${res.studies.length} studies, not ${studies}`);
      if (r > 0) (times[`${k} ${op}`] ??= []).push(ms); // the first round warms up
    }
}
for (const [k, v] of Object.entries(times)) console.log(`${k.padEnd(24)} median ${median(v).toFixed(1)} ms  (min ${Math.min(...v).toFixed(1)}, max ${Math.max(...v).toFixed(1)}, ${v.length} listings of ${studies} foreign studies)`);
for (const [, s] of listers) await s.close();
await b.close();
pgServer?.stop();
