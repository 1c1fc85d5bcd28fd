// The studies `bench/reads.mjs` and `bench/reads-cpu.mjs` read: one study of 6 float params (random
// strategy, median scheduler, 2 reports per trial) and beside it a two-objective study of as many
// trials (random search on a trade-off), filled in process through the service (ask, reports, tell).
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
export const STUDY = "big";
/** A two-objective study of the same size beside it (random search on a trade-off). */
export const MO = "mo";

/** Fills a new SQLite file at `path` with the two studies of `n` trials each (see the file comment); returns the seconds it took. */
export async function fill(path, n, dist = join(ROOT, "dist")) {
  const { StudyService, SqliteStorage } = await import(join(dist, "index.js"));
  const { silentLogger } = await import(join(dist, "logger.js"));
  const storage = new SqliteStorage({ path, durability: "process" });
  const service = await StudyService.open({ storage, logger: silentLogger() });
  const space = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, { type: "float", low: 0, high: 1 }]));
  await service.execute("create_study", { name: STUDY, space, strategy: "random", scheduler: "median", seed: 1 });
  const t0 = performance.now();
  const batch = 256;
  for (let done = 0; done < n; done += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - done) }, async () => {
        const a = await service.execute("ask", { study: STUDY });
        const x = Object.values(a.trial.params).reduce((s, v) => s + (v - 0.3) ** 2, 0);
        for (let step = 0; step < 2; step++)
          await service.execute("report", { study: STUDY, trial: a.trial.number, token: a.lease.token, step, value: x * (1 + 1 / (step + 1)) });
        await service.execute("tell", { study: STUDY, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: x });
      }),
    );
  }
  await service.execute("create_study", { name: MO, space, strategy: "random", directions: ["minimize", "minimize"], seed: 1 });
  for (let done = 0; done < n; done += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - done) }, async () => {
        const a = await service.execute("ask", { study: MO });
        const p = a.trial.params;
        const values = [p.x0, (1 - p.x0) * (1 + p.x1 + p.x2)];
        await service.execute("tell", { study: MO, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values });
      }),
    );
  }
  await service.close();
  await storage.close();
  return (performance.now() - t0) / 1000;
}

