// One trial's reports, in process (issue 19; the audit of 2026-12-02): a service on an in-memory
// SQLite database, one trial, N reports one after another; prints how long each fifth of them took.
// Each report used to copy the trial's list of intermediate values (O(n) a report, O(n²) in all).
//   npx tsc -p tsconfig.build.json && node bench/report-append.mjs [--scheduler median] [--reports 100000] [--dist DIR]
import "./help.mjs";
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const { values: args } = parseArgs({ options: { scheduler: { type: "string" }, reports: { type: "string", default: "100000" }, dist: { type: "string", default: "dist" } } });
const dist = pathToFileURL(resolve(args.dist)).href;
const { StudyService } = await import(`${dist}/service/study-service.js`);
const { SqliteStorage } = await import(`${dist}/storage/sqlite/sqlite-storage.js`);
const { silentLogger } = await import(`${dist}/logger.js`);
const storage = new SqliteStorage({ path: ":memory:" });
const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
await svc.execute("create_study", { name: "a", space: { x: { type: "float", low: 0, high: 1 } }, scheduler: args.scheduler ?? null, lease_ttl_s: 6000 });
const q = await svc.execute("ask", { study: "a" });
const n = Number(args.reports);
const fifth = Math.max(1, Math.floor(n / 5));
let t0 = performance.now();
for (let i = 0; i < n; i++) {
  await svc.execute("report", { study: "a", trial: q.trial.number, token: q.lease.token, step: i, value: Math.random() });
  if ((i + 1) % fifth === 0) {
    console.log(`${args.dist}: reports ${i + 2 - fifth}-${i + 1} took ${(performance.now() - t0).toFixed(0)} ms`);
    t0 = performance.now();
  }
}
await svc.close();
await storage.close();
