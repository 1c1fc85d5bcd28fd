/**
 * Runs strategies whose factory sets `offload: true` (GP and other model fitting), or whose
 * `offloadFor(options)` says so for the study, in a
 * worker thread, so the event loop keeps answering heartbeats, reports and tells while a
 * model is fitted. Other strategies run in process: a round trip to a worker costs more
 * than a random or grid suggestion.
 *
 * The worker rebuilds the request's RNG from (seed, trial number, "suggest") exactly as the
 * service does, so a suggestion is the same whichever thread computes it
 * (`src/testing/strategy.case.ts` checks it for every strategy).
 *
 * The worker builds strategies by name from its own catalogue (the built-ins unless
 * `catalogue` names a module), so a factory the worker would not build the same way (a custom
 * strategy, or one that replaces a built-in's name) runs in process.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { TuneportError, type ErrorCode } from "../domain/errors.js";
import type { SearchSpace } from "../domain/distributions.js";
import type { Strategy, StrategyFactory, Suggestion, SuggestRequest } from "../domain/plugin.js";
import { BUILTIN_PLUGINS } from "./plugins.js";
import type { SuggestRunner } from "./study-service.js";

export interface WorkerRequest {
  id: number;
  /**
   * Which main-thread strategy instance this is (one per study state: a study deleted and created
   * again, or given another strategy, has a new one), so the worker's copy and its caches are
   * never another study's.
   */
  strategy: number;
  req: Omit<SuggestRequest, "rng">;
}

export type WorkerResponse =
  | { id: number; ok: true; suggestion: Suggestion }
  | { id: number; ok: false; error: { name: string; code?: string; message: string; data?: Record<string, unknown> } };

/** How a `WorkerRunner` starts its threads. */
export interface WorkerRunnerOptions {
  /** Worker threads (default 1). */
  readonly threads?: number;
  /**
   * A module URL whose `plugins` export (a `PluginCatalogue`) the workers build strategies from.
   * Default: the built-ins, and then only built-in factories are offloaded.
   */
  readonly catalogue?: string;
  /** The worker script (default: the compiled `suggest-worker.js` beside this module). */
  readonly entry?: URL;
  /** Node options of the worker threads (the testing kit passes a TypeScript loader). */
  readonly execArgv?: readonly string[];
  /** Offload every strategy the workers can build, whatever its factory says (tests). */
  readonly offloadAll?: boolean;
  /** How long one suggestion may hold a thread (ms) [`SUGGEST_DEADLINE_MS`]. */
  readonly deadlineMs?: number;
  /** How many studies' strategy instances each thread keeps, least recently asked dropped first [`KEPT_STRATEGIES`]. */
  readonly keptStrategies?: number;
}

const WORKER_FILE = new URL("./suggest-worker.js", import.meta.url);

/**
 * How long one suggestion may hold its thread. Every offloaded study shares the threads, so a
 * suggestion that runs longer (legal options at their maxima, a custom strategy that never returns)
 * is abandoned: its thread is terminated and replaced, the requests queued behind it go to the new
 * one, and the ask falls back to random parameters (trial-ops.ts, logged). The slowest built-in
 * suggestion measured, GP at every option maximum on 3,000 trials, took 13 s.
 */
export const SUGGEST_DEADLINE_MS = 120_000;

/**
 * Strategy instances a thread keeps (its copies of studies' strategies, with their caches: a GP's
 * warm-start hyperparameters). Beyond it the least recently asked is dropped and rebuilt from the
 * trials when asked again, which costs the warm start only. Unbounded, a client that created, asked
 * and deleted uniquely named GP studies grew the server's memory for as long as it ran.
 */
export const KEPT_STRATEGIES = 256;

interface Pending {
  readonly resolve: (s: Suggestion) => void;
  readonly reject: (e: Error) => void;
  readonly msg: WorkerRequest;
}

export class WorkerRunner implements SuggestRunner {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  /** Each thread's requests in the order posted: it answers them in that order, so the first is the one it works on. */
  private readonly queues = new Map<Worker, number[]>();
  /** The deadline of each thread's first request. */
  private readonly watchdogs = new Map<Worker, NodeJS.Timeout>();
  private nextId = 1;
  private rr = 0;
  /** The number each main-thread strategy instance goes by in the threads (`WorkerRequest.strategy`). */
  private readonly instanceIds = new WeakMap<Strategy, number>();
  private nextInstance = 1;
  private readonly log: Logger;
  private readonly opts: WorkerRunnerOptions;

  /** True when the compiled worker script exists (it does under dist/, not when running from sources). */
  static available(): boolean {
    return existsSync(fileURLToPath(WORKER_FILE));
  }

  /** Starts the threads at once; `threads` is a shorthand for `{ threads }`. */
  constructor(logger: Logger, threads: number | WorkerRunnerOptions = 1) {
    this.log = logger.child({ component: "suggest-workers" });
    this.opts = typeof threads === "number" ? { threads } : threads;
    for (let i = 0; i < (this.opts.threads ?? 1); i++) this.workers.push(this.spawn());
  }

  private spawn(): Worker {
    const w = new Worker(this.opts.entry ?? WORKER_FILE, {
      workerData: { catalogue: this.opts.catalogue, keep: this.opts.keptStrategies ?? KEPT_STRATEGIES },
      ...(this.opts.execArgv ? { execArgv: [...this.opts.execArgv] } : {}),
    });
    this.queues.set(w, []);
    w.on("message", (m: WorkerResponse) => {
      const queue = this.queues.get(w);
      if (queue) {
        const at = queue.indexOf(m.id);
        if (at >= 0) queue.splice(at, 1);
        if (queue.length === 0) w.unref();
        this.arm(w);
      }
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
      clearTimeout(this.watchdogs.get(w));
      this.queues.delete(w);
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

  /** Whether this study's suggestions go to a worker (see the file comment). */
  offloads(factory: StrategyFactory<unknown>, options: Record<string, unknown>, space?: SearchSpace, objectives = 1): boolean {
    if (this.workers.length === 0) return false;
    const wanted =
      this.opts.offloadAll === true || (factory.offloadFor ? factory.offloadFor(options, space, objectives) : factory.offload === true);
    return wanted && (this.opts.catalogue !== undefined || BUILTIN_PLUGINS.strategy(factory.name) === factory);
  }

  async suggest(factory: StrategyFactory<unknown>, strategy: Strategy, req: SuggestRequest): Promise<Suggestion> {
    if (!this.offloads(factory, req.study.strategy.options, req.study.space, req.study.directions.length)) return strategy.suggest(req);
    const id = this.nextId++;
    const { rng: _rng, ...plain } = req;
    let instance = this.instanceIds.get(strategy);
    if (instance === undefined) this.instanceIds.set(strategy, (instance = this.nextInstance++));
    const worker = this.workers[this.rr++ % this.workers.length] as Worker;
    return new Promise<Suggestion>((resolve, reject) => {
      const msg: WorkerRequest = { id, strategy: instance, req: plain };
      this.pending.set(id, { resolve, reject, msg });
      this.post(worker, msg);
    });
  }

  private post(w: Worker, msg: WorkerRequest): void {
    const queue = this.queues.get(w) as number[];
    queue.push(msg.id);
    // Held (ref'd) while it owes an answer: an idle thread must not keep the process alive, but one
    // working on a suggestion must, or a stopping server (SIGTERM waits for the requests in flight)
    // whose loop had nothing else left exited mid-suggestion, status 0, the ask unanswered.
    w.ref();
    w.postMessage(msg);
    if (queue.length === 1) this.arm(w);
  }

  /** Starts the deadline of the thread's first request (none when it is idle). */
  private arm(w: Worker): void {
    clearTimeout(this.watchdogs.get(w));
    this.watchdogs.delete(w);
    if ((this.queues.get(w)?.length ?? 0) === 0) return;
    const timer = setTimeout(() => this.expire(w), this.opts.deadlineMs ?? SUGGEST_DEADLINE_MS);
    timer.unref();
    this.watchdogs.set(w, timer);
  }

  /** The thread's first request ran past its deadline: abandon it and move the rest to a new thread. */
  private expire(w: Worker): void {
    const [late, ...rest] = this.queues.get(w) ?? [];
    this.queues.delete(w);
    this.watchdogs.delete(w);
    void w.terminate();
    const replacement = this.spawn();
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers[i] = replacement;
    const s = (this.opts.deadlineMs ?? SUGGEST_DEADLINE_MS) / 1000;
    this.log.warn({ deadline_s: s, waiting: rest.length }, "a suggestion ran past its deadline; its thread was replaced");
    if (late !== undefined) {
      const p = this.pending.get(late);
      this.pending.delete(late);
      p?.reject(new Error(`the suggestion took longer than ${s} s (its thread was stopped)`));
    }
    for (const id of rest) {
      const p = this.pending.get(id);
      if (p) this.post(replacement, p.msg);
    }
  }

  async close(): Promise<void> {
    for (const timer of this.watchdogs.values()) clearTimeout(timer);
    this.watchdogs.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
