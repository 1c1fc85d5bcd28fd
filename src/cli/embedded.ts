/**
 * Opening the server stack the same way for `serve` and `mcp`: storage (SQLite, with its
 * integrity check, or PostgreSQL shared by several servers), and a StudyService that fits heavy
 * models in a worker thread and stops the process if a commit ever fails.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { PluginModule } from "./plugin-module.js";
import { PG_CONNECT_TIMEOUT_MS } from "./open-storage.js";
import { terminalSafe } from "./terminal.js";
import { TuneportError } from "../domain/errors.js";
import { PlotRenderer } from "../service/plot-renderer.js";
import { SharedOwnership } from "../service/ownership.js";
import { StudyService } from "../service/study-service.js";
import { WorkerRunner } from "../service/worker-runner.js";
import { PgOwnershipStore } from "../storage/postgres/pg-ownership.js";
import { isPostgresUrl } from "../storage/postgres/url.js";
import { type Durability, SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { DEFAULT_MAX_STORED_REPLIES } from "../storage/sqlite/reply-index.js";
import type { Storage } from "../storage/storage.js";

export interface Embedded {
  readonly storage: Storage;
  readonly service: StudyService;
  /** Set on PostgreSQL: tell it where clients reach this server once the port is bound. */
  readonly ownership: SharedOwnership | null;
  close(): Promise<void>;
}

/** Exit status when a storage commit failed and memory ran ahead of the database. */
export const EXIT_STORAGE_FAILURE = 70;

export interface EmbeddedOptions {
  /** A SQLite file, or a `postgresql://` URL. */
  readonly path: string;
  /**
   * SQLite: its `synchronous` setting [process]. PostgreSQL: `synchronous_commit` of tuneport's
   * sessions, "process" → off, "power" → on [the database's own setting].
   */
  readonly durability?: Durability;
  readonly leaseTtlS?: number;
  /** Study ownership lease on PostgreSQL, seconds [10]. */
  readonly ownershipTtlS?: number;
  /** How long a `continue` report may wait for its commit after its reply (ms); see StudyServiceOptions.lazyCommitMs. */
  readonly reportCommitMs?: number;
  /** Seconds after the start at which the plot worker is warmed up (`PlotRenderer.warm`); 0: never [PLOT_WARMUP_S]. */
  readonly plotWarmupS?: number;
  /** Studies the server holds at most (StudyServiceOptions.maxStudies). */
  readonly maxStudies?: number;
  /** Intermediate values one trial holds at most (StudyServiceOptions.maxIntermediate). */
  readonly maxIntermediate?: number;
  /** The largest reply a change may have (StudyServiceOptions.maxReplyBytes). */
  readonly maxReplyBytes?: number;
  /** Stored replies a SQLite writer keeps at most (SqliteStorageOptions.maxStoredReplies). */
  readonly maxStoredReplies?: number;
  /** Strategies and schedulers beyond the built-ins (`--plugins`, plugin-module.ts). */
  readonly plugins?: PluginModule;
}

/**
 * When a server warms its plot worker up by default: soon enough that an agent's first chart finds it
 * ready, late enough that a short-lived server (a script's private one, a test's) never pays for it.
 */
export const PLOT_WARMUP_S = 5;

export { openStorage } from "./open-storage.js";

/** Opens storage and service, or logs why not and returns null (storage left closed). */
export async function openEmbedded(logger: Logger, opts: EmbeddedOptions): Promise<Embedded | null> {
  let storage: Storage;
  let ownership: SharedOwnership | null = null;
  if (isPostgresUrl(opts.path)) {
    try {
      const { PostgresStorage } = await import("../storage/postgres/postgres-storage.js");
      const synchronousCommit = opts.durability === undefined ? undefined : opts.durability === "power" ? "on" : "off";
      const ttlMs = (opts.ownershipTtlS ?? 10) * 1000;
      // A transaction left idle longer than the TTL (this server stalled inside a batch) would hold
      // off the takeover of its studies for as long as the stall: PostgreSQL ends it instead.
      const pg = await PostgresStorage.open({
        url: opts.path,
        poolSize: 6,
        connectTimeoutMs: PG_CONNECT_TIMEOUT_MS,
        idleInTransactionMs: Math.max(ttlMs, 1000),
        ...(synchronousCommit ? { synchronousCommit } : {}),
      });
      storage = pg;
      ownership = new SharedOwnership({ store: new PgOwnershipStore(pg), logger, serverId: randomUUID(), ttlMs });
    } catch (err) {
      // An expected refusal (server down, wrong password) is one line on the terminal too, where
      // the JSON log may be piped away; its stack says nothing. Anything else keeps its stack.
      if (err instanceof TuneportError) {
        logger.fatal({ reason: err.message }, "could not open the PostgreSQL storage");
        process.stderr.write(`tuneport: ${terminalSafe(err.message, true)}\n`);
      } else logger.fatal({ err }, "could not open the PostgreSQL storage");
      return null;
    }
  } else {
    const sqlite = openSqliteWriter(opts.path, opts.durability ?? "process", logger, opts.maxStoredReplies);
    if (sqlite.tightenedFiles.length > 0)
      logger.warn({ files: sqlite.tightenedFiles }, "storage files were readable by group or others; set to 0600 (they hold results and lease tokens)");
    storage = sqlite;
  }
  const problems = await storage.checkIntegrity();
  if (problems.length > 0) {
    logger.fatal({ problems }, "storage integrity check failed; refusing to start");
    await storage.close();
    return null;
  }
  const runner = WorkerRunner.available() ? new WorkerRunner(logger, { threads: 1, ...(opts.plugins ? { catalogue: opts.plugins.url } : {}) }) : undefined;
  // Plots render in a worker thread: Vega and resvg take seconds on large studies.
  const plots = new PlotRenderer(logger);
  const service = await StudyService.open({
    storage,
    logger,
    defaultLeaseTtlS: opts.leaseTtlS,
    ...(opts.reportCommitMs !== undefined ? { lazyCommitMs: opts.reportCommitMs } : {}),
    ...(opts.maxStudies !== undefined ? { maxStudies: opts.maxStudies } : {}),
    ...(opts.maxIntermediate !== undefined ? { maxIntermediate: opts.maxIntermediate } : {}),
    ...(opts.maxReplyBytes !== undefined ? { maxReplyBytes: opts.maxReplyBytes } : {}),
    runner,
    plots,
    ...(opts.plugins ? { plugins: opts.plugins.catalogue } : {}),
    ...(ownership ? { ownership } : {}),
    // Memory is ahead of storage after a failed commit (or a study was lost to another server):
    // stop now; a restart reloads the committed state, and no request of the failed batch was
    // acknowledged.
    onFatal: () => process.exit(EXIT_STORAGE_FAILURE),
  });
  const warmS = opts.plotWarmupS ?? PLOT_WARMUP_S;
  if (warmS > 0) plots.warmAfter(warmS * 1000, () => warmStudyPlots(service, logger));
  return {
    storage,
    service,
    ownership,
    close: async () => {
      await service.close();
      await plots.close();
      await storage.close();
    },
  };
}

/**
 * The charts `warmStudyPlots` draws: the two an agent or the dashboard asks for first, by the
 * study's number of objectives (a one-value chart of a multi-objective study is refused).
 */
const WARM_KINDS = { one: ["history", "parallel_coordinates"], several: ["pareto_front", "hypervolume_history"] } as const;

/**
 * Draws the two first charts (`WARM_KINDS`) of the study with the most trials (of those with a
 * COMPLETE one), through the `plot` op, once the plot worker is warm: the first chart after a
 * start otherwise runs cold code on both threads over real data (sampling, views, Vega's scales
 * and marks at full size), which at 100,000 trials cost ~150 ms more than the same chart drawn
 * later (docs/BENCHMARKS.md, reads). The charts stay in the plot cache until the study changes.
 * Refusals and failures are only logged at debug: this is an optimisation.
 */
export async function warmStudyPlots(service: StudyService, logger: Logger): Promise<void> {
  const studies = (await service.studiesOverview()).studies.filter((s) => s.counts.COMPLETE > 0);
  const biggest = studies.reduce<(typeof studies)[number] | null>((b, s) => (b === null || s.n_trials > b.n_trials ? s : b), null);
  if (biggest === null) return;
  const study = biggest.name;
  try {
    const { directions } = await service.getStudy({ study });
    for (const kind of directions.length > 1 ? WARM_KINDS.several : WARM_KINDS.one) {
      const t0 = performance.now();
      await service.plot({ study, kind });
      logger.debug({ study, kind, ms: Math.round(performance.now() - t0) }, "chart warmed up");
    }
  } catch (err) {
    logger.debug({ study, reason: (err as Error).message }, "charts not warmed up");
  }
}

/**
 * The SQLite file as its writer. A file another live tuneport process holds is refused as the
 * storage refuses it, with the ways on: `tuneport mcp --storage FILE` beside a `tuneport serve` on
 * the same file (an agent's configuration written from the README) said only "in use by another
 * tuneport process (pid N); one server per database file". @throws TuneportError UNAVAILABLE
 */
function openSqliteWriter(path: string, durability: Durability, logger: Logger, maxStoredReplies = DEFAULT_MAX_STORED_REPLIES): SqliteStorage {
  // Each drop is logged: with the default bound, ~16 drops of up to 4,096 per 62,500 mutations past a million in 24 h.
  const onRepliesDropped = (dropped: number, kept: number) =>
    logger.warn(
      { dropped, stored_replies: kept, max_stored_replies: maxStoredReplies },
      "stored replies over --max-stored-replies: the oldest dropped before their 24 h (a resend of one of them runs again)",
    );
  try {
    return new SqliteStorage({ path, durability, maxStoredReplies, onRepliesDropped });
  } catch (err) {
    if (!(err instanceof TuneportError) || err.code !== "UNAVAILABLE" || typeof err.data?.pid !== "number") throw err;
    throw new TuneportError(
      "UNAVAILABLE",
      `${err.message}: stop that process first, or reach its studies through it: 'tuneport mcp --connect ENDPOINT' (its --bind, e.g. tcp://127.0.0.1:5555) gives an agent MCP in front of it, and 'tuneport studies', 'plot', 'export' and 'dashboard' read the file beside it`,
      err.data,
    );
  }
}
