/**
 * `WorkerRunner` threads that run the TypeScript sources, so the worker-thread path of a
 * suggestion runs under vitest (where no compiled `suggest-worker.js` exists) against the same
 * code as the in-process path. The threads load `ts-loader.mjs`.
 */
import type { Logger } from "pino";
import { WorkerRunner, type WorkerRunnerOptions } from "../service/worker-runner.js";

/** `node --import` target that runs `.ts` sources (see ts-loader.mjs). */
export const TS_LOADER = new URL("./ts-loader.mjs", import.meta.url);
/** The worker script, as source. */
export const SOURCE_WORKER = new URL("../service/suggest-worker.ts", import.meta.url);

/** A runner whose threads run `src/service/suggest-worker.ts` through the TypeScript loader. Close it. */
export function sourceWorkerRunner(logger: Logger, opts: Omit<WorkerRunnerOptions, "entry" | "execArgv"> = {}): WorkerRunner {
  return new WorkerRunner(logger, { ...opts, entry: SOURCE_WORKER, execArgv: ["--import", TS_LOADER.href] });
}
