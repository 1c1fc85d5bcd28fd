/**
 * Opening the embedded server stack the same way for `serve` and `mcp`: SQLite storage with
 * its integrity check, and a StudyService that fits heavy models in a worker thread and
 * stops the process if a commit ever fails.
 */
import type { Logger } from "pino";
import { PlotRenderer } from "../service/plot-renderer.js";
import { StudyService } from "../service/study-service.js";
import { WorkerRunner } from "../service/worker-runner.js";
import { type Durability, SqliteStorage } from "../storage/sqlite/sqlite-storage.js";

export interface Embedded {
  readonly storage: SqliteStorage;
  readonly service: StudyService;
  close(): Promise<void>;
}

/** Exit status when a storage commit failed and memory ran ahead of the database. */
export const EXIT_STORAGE_FAILURE = 70;

/** Opens storage and service, or logs why not and returns null (storage left closed). */
export async function openEmbedded(
  logger: Logger,
  opts: { path: string; durability: Durability; leaseTtlS?: number },
): Promise<Embedded | null> {
  const storage = new SqliteStorage({ path: opts.path, durability: opts.durability });
  if (storage.tightenedFiles.length > 0)
    logger.warn({ files: storage.tightenedFiles }, "storage files were readable by group or others; set to 0600 (they hold results and lease tokens)");
  const problems = await storage.checkIntegrity();
  if (problems.length > 0) {
    logger.fatal({ problems }, "storage integrity check failed; refusing to start");
    await storage.close();
    return null;
  }
  const runner = WorkerRunner.available() ? new WorkerRunner(logger, 1) : undefined;
  // Plots render in a worker thread: Vega and resvg take seconds on large studies.
  const plots = new PlotRenderer(logger);
  const service = await StudyService.open({
    storage,
    logger,
    defaultLeaseTtlS: opts.leaseTtlS,
    runner,
    plots,
    // Memory is ahead of storage after a failed commit: stop now; a restart reloads the
    // committed state, and no request of the failed batch was acknowledged.
    onFatal: () => process.exit(EXIT_STORAGE_FAILURE),
  });
  return {
    storage,
    service,
    close: async () => {
      await service.close();
      await plots.close();
      await storage.close();
    },
  };
}
