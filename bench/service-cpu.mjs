// Service + SQLite CPU per request, without a transport (issue 19 item 3): random-strategy ask →
// tell loops called in-process on a StudyService over a SQLite file, as the ZeroMQ server calls
// them (a random 32-hex request id each, as the Python client sends). Prints the process CPU
// (all threads) per request and the WAL frames (pages) the commits wrote per request; the frame
// count does not depend on the machine's load, so it A/Bs cleanly on a busy machine.
//
//   node bench/service-cpu.mjs [--dist dist] [--trials 3000] [--log info|silent]
//
// --dist: another build's dist/ (an A/B against an earlier build). The WAL is checkpointed before
// the measured loop and not during it (wal_autocheckpoint 0), so its size is the frames written.
import "./help.mjs";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const DIST = resolve(args.dist ?? join(import.meta.dirname, "..", "dist"));
const TRIALS = Number(args.trials ?? 3000);
const load = (p) => import(pathToFileURL(join(DIST, p)).href);
const { SqliteStorage } = await load("storage/sqlite/sqlite-storage.js");
const { StudyService } = await load("service/study-service.js");
const { createLogger } = await load("logger.js");

const dir = mkdtempSync(join(tmpdir(), "tuneport-svc-cpu-"));
// The log goes where serve's would (JSON on fd 1); run with >/dev/null to drop it.
const logger = createLogger({ level: args.log === "silent" ? "silent" : "info", format: "json" });
const storage = new SqliteStorage({ path: join(dir, "svc.db"), durability: "process" });
const service = await StudyService.open({ storage, logger, reapIntervalMs: 0 });
const SPACE = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, { type: "float", low: 0, high: 1 }]));
const rid = () => ({ requestId: randomBytes(16).toString("hex") });
await service.execute("create_study", { name: "cpu", space: SPACE, strategy: "random", seed: 1 }, rid());
const loop = async (n) => {
  for (let i = 0; i < n; i++) {
    const a = await service.execute("ask", { study: "cpu" }, rid());
    await service.execute("tell", { study: "cpu", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 }, rid());
  }
};
await loop(1000); // warm-up (JIT), and a request log that is not empty
storage.db.pragma("wal_checkpoint(TRUNCATE)");
storage.db.pragma("wal_autocheckpoint = 0");
const c0 = process.cpuUsage();
const t0 = performance.now();
await loop(TRIALS);
const cpu = process.cpuUsage(c0);
const wall = performance.now() - t0;
const frames = storage.db.pragma("wal_checkpoint(PASSIVE)")[0].log;
const requests = 2 * TRIALS;
process.stderr.write(
  `${JSON.stringify({
    dist: DIST,
    trials: TRIALS,
    cpu_us_per_request: Math.round((cpu.user + cpu.system) / requests),
    user_us: Math.round(cpu.user / requests),
    sys_us: Math.round(cpu.system / requests),
    wall_us_per_request: Math.round((wall * 1000) / requests),
    wal_frames_per_request: Math.round((frames / requests) * 100) / 100,
  })}\n`,
);
await service.close();
await storage.close();
rmSync(dir, { recursive: true, force: true });
