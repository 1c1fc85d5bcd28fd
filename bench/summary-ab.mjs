// The SQLite summary read behind `tuneport studies list` (SqliteStorage.studySummary), two builds
// against one database file, alternating, in one process: CPU and wall time per read (medians).
//
//   node bench/summary-ab.mjs --db FILE --before DIST --after DIST [--study-id 1] [--reps 12]
//
// A study file to read: bench/reads.mjs fills one (6 params, 2 reports per trial) in a temporary
// directory; for a file that stays, fill one the same way through the service.
import "./help.mjs";
import { join, resolve } from "node:path";
import { abArgs, median } from "./ab-args.mjs";

const args = abArgs("node bench/summary-ab.mjs --db FILE --before DIST --after DIST [--study-id 1] [--reps 12]", ["db", "before", "after"]);
const reps = Number(args.reps ?? 12);
const studyId = Number(args["study-id"] ?? 1);
const open = async (dist) => {
  const { SqliteStorage } = await import(join(resolve(dist), "storage", "sqlite", "sqlite-storage.js"));
  return new SqliteStorage({ path: args.db, readonly: true });
};
const builds = [["before", await open(args.before)], ["after", await open(args.after)]];
const res = { before: { cpu: [], wall: [] }, after: { cpu: [], wall: [] } };
for (let r = 0; r < reps; r++) {
  for (const [k, storage] of builds) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await storage.studySummary(studyId, "minimize");
    const c = process.cpuUsage(c0);
    res[k].wall.push(performance.now() - t0);
    res[k].cpu.push((c.user + c.system) / 1000);
  }
}
for (const [k, v] of Object.entries(res)) console.log(`${k}\tCPU ${median(v.cpu).toFixed(1)} ms\twall ${median(v.wall).toFixed(1)} ms\t(${reps} reads)`);
for (const [, storage] of builds) await storage.close();
