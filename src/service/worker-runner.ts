/**
 * Runs strategies whose factory sets `offload: true` (GP and other model fitting), or whose
 * `offloadFor(options)` says so for the study, in a
 * worker thread, so the event loop keeps answering heartbeats, reports and tells while a
 * model is fitted. Other strategies run in process: a round trip to a worker costs more
 * than a random or grid suggestion.
 *
 * The worker rebuilds the request's RNG from (seed, trial number, "suggest") exactly as the
 * service does, so a suggestion is the same whichever thread computes it.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { TuneportError, type ErrorCode } from "../domain/errors.js";
import type { Strategy, StrategyFactory, Suggestion, SuggestRequest } from "../strategies/strategy.js";
import type { SuggestRunner } from "./study-service.js";

export interface WorkerRequest {
  id: number;
  req: Omit<SuggestRequest, "rng">;
}

export type WorkerResponse =
  | { id: number; ok: true; suggestion: Suggestion }
  | { id: number; ok: false; error: { name: string; code?: string; message: string; data?: Record<string, unknown> } };

const WORKER_FILE = fileURLToPath(new URL("./suggest-worker.js", import.meta.url));

export class WorkerRunner implements SuggestRunner {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (s: Suggestion) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private rr = 0;
  private readonly log: Logger;

  /** True when the compiled worker script exists (it does under dist/, not when running from sources). */
  static available(): boolean {
    return existsSync(WORKER_FILE);
  }

  constructor(logger: Logger, threads = 1) {
    this.log = logger.child({ component: "suggest-workers" });
    for (let i = 0; i < threads; i++) this.workers.push(this.spawn());
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_FILE);
    w.on("message", (m: WorkerResponse) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.suggestion);
      else if (m.error.name === "TuneportError" && m.error.code)
        p.reject(new TuneportError(m.error.code as ErrorCode, m.error.message, m.error.data));
      else p.reject(new Error(m.error.message));
    });
    w.on("error", (err) => {
      this.log.error({ err }, "suggest worker crashed; restarting it");
      for (const [id, p] of this.pending) {
        p.reject(err);
        this.pending.delete(id);
      }
      const i = this.workers.indexOf(w);
      if (i >= 0) this.workers[i] = this.spawn();
    });
    w.unref();
    return w;
  }

  async suggest(factory: StrategyFactory<unknown>, strategy: Strategy, req: SuggestRequest): Promise<Suggestion> {
    const offload = factory.offloadFor ? factory.offloadFor(req.study.strategy.options) : factory.offload;
    if (!offload || this.workers.length === 0) return strategy.suggest(req);
    const id = this.nextId++;
    const { rng: _rng, ...plain } = req;
    const worker = this.workers[this.rr++ % this.workers.length] as Worker;
    return new Promise<Suggestion>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, req: plain } satisfies WorkerRequest);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
