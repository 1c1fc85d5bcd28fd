/**
 * Renders plots off the event loop. Vega and resvg take from a few hundred milliseconds to
 * seconds for a large study; in the server's thread that would delay every heartbeat, report
 * and tell behind a plot. `PlotRenderer` starts one worker process on first use
 * (`plot-worker.ts`), sends it the study and its trials, and stops it after `idleMs` without
 * a request so that an idle server holds no Vega heap. A process rather than a thread: resvg is
 * native (Rust) code, and a panic there aborts the whole process it runs in — with a thread,
 * the server (a chart of a subnormal range did that, docs/SECURITY.md). A worker that dies fails
 * the charts it was drawing (INTERNAL, "the chart renderer stopped") and the next chart starts
 * another. A worker that cannot be started (no descriptor left in a connection flood: `spawn
 * EMFILE`; no process or memory to fork) fails the charts sent to it with UNAVAILABLE (`data.reason:
 * "renderer_unavailable"`, retry), and the next chart tries a new one. When the compiled worker is
 * absent (running from TypeScript sources, as the unit tests do) it renders in process.
 */
import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { type ErrorCode, TuneportError } from "../domain/errors.js";
import type { PlotOptions } from "./plot-scales.js";
import { type PlotKind, type RenderedPlot, renderPlot } from "./plots.js";
import type { StudyView, TrialView } from "./views.js";

/**
 * How long the plot worker outlives its last request. Its start (Vega's loading, cold code) adds
 * ~0.3–0.4 s to the first chart, so an agent that checks a running study every few minutes would
 * pay it at each look with a one-minute idle stop; ten minutes hold ~55 MiB of Vega heap that long.
 */
export const PLOT_WORKER_IDLE_MS = 10 * 60_000;

/** What the worker is sent. */
export interface PlotJob {
  id: number;
  kind: PlotKind;
  study: StudyView;
  trials: TrialView[];
  opts: PlotOptions;
}

/** Asks the worker to load and run the rendering code once (`PlotRenderer.warm`). */
export interface WarmJob {
  id: number;
  warm: true;
}

/** What the worker answers. */
export type PlotJobResult =
  | { id: number; ok: true; png: Uint8Array; caption: string; width: number; height: number }
  | { id: number; ok: true; warmed: true }
  | { id: number; ok: false; error: { name: string; code?: string; message: string; data?: Record<string, unknown> } };

const WORKER_FILE = fileURLToPath(new URL("./plot-worker.js", import.meta.url));

/** Why a worker could not be started, in words, by the error code of the failed `fork`. */
const SPAWN_REASONS: Record<string, string> = {
  EMFILE: "too many open files in the server process",
  ENFILE: "too many open files on the machine",
  EAGAIN: "too many processes, or no memory to start one",
  ENOMEM: "not enough memory",
  EACCES: "the Node executable cannot be executed",
  ENOENT: "the Node executable was not found",
};

/**
 * How long a chart may take before it is abandoned and its renderer killed. A chart of 100,000
 * trials draws in ~0.3 s (docs/BENCHMARKS.md, "Reads on big studies"); one that runs for minutes
 * is stuck in Vega or resvg, and without a bound its caller (an agent's plot call, a dashboard
 * page) waited forever, with every later chart queued behind it.
 */
export const PLOT_RENDER_TIMEOUT_MS = 120_000;

interface Pending {
  message: PlotJob | WarmJob;
  resolve: (p: RenderedPlot | null) => void;
  reject: (e: Error) => void;
  worker: ChildProcess | null;
  resent: boolean;
  /** A chart's deadline (`renderTimeoutMs` from its first dispatch; a resend after a crash keeps it, one after `abandon` starts anew). */
  deadline: NodeJS.Timeout | null;
}

export class PlotRenderer {
  private worker: ChildProcess | null = null;
  /** Jobs sent and not answered: the worker each went to, and whether it was sent again after one died. */
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly threaded: boolean;
  private closed = false;
  private warmTimer: NodeJS.Timeout | null = null;

  /**
   * `threaded: false` renders in process (the CLI, which has nothing else to serve); `workerFile`
   * replaces the worker's script (tests: one that never answers), `execPath` the Node executable
   * that runs it (tests: one that cannot be executed).
   */
  constructor(
    private readonly log: Logger,
    opts: { threaded?: boolean; idleMs?: number; renderTimeoutMs?: number; workerFile?: string; execPath?: string } = {},
  ) {
    this.workerFile = opts.workerFile ?? WORKER_FILE;
    this.execPath = opts.execPath ?? process.execPath;
    this.threaded = (opts.threaded ?? true) && existsSync(this.workerFile);
    this.idleMs = opts.idleMs ?? PLOT_WORKER_IDLE_MS;
    this.renderTimeoutMs = opts.renderTimeoutMs ?? PLOT_RENDER_TIMEOUT_MS;
  }

  private readonly idleMs: number;
  private readonly renderTimeoutMs: number;
  private readonly workerFile: string;
  private readonly execPath: string;

  /** Renders a plot (see `renderPlot`). @throws INVALID_ARGUMENT when there is nothing to draw. */
  async render(kind: PlotKind, study: StudyView, trials: TrialView[], opts: PlotOptions = {}): Promise<RenderedPlot> {
    if (!this.threaded) return renderPlot(kind, study, trials, opts);
    return (await this.post((id) => ({ id, kind, study, trials, opts }))) as RenderedPlot;
  }

  /**
   * Starts the worker, if it is not running, and has it load Vega and resvg and render a chart of
   * a history plot's size (plots.ts \`warmUpRendering\`), so that the first chart a reader asks for
   * does not wait for that: ~0.4 s on 2 cores, and 0.8–1.2 s through \`tuneport mcp --connect\` on
   * a study of 100,000 trials (issue 19). The worker then stops after \`idleMs\` without a request,
   * as after any. Resolves once done (true) or when there is nothing to warm (false); never rejects.
   */
  async warm(): Promise<boolean> {
    if (!this.threaded || this.worker) return false;
    try {
      await this.post((id) => ({ id, warm: true }));
      return true;
    } catch (err) {
      if (!this.closed) this.log.warn({ err }, "the plot worker's warm-up failed; charts render when asked");
      return false;
    }
  }

  /**
   * `warm` in `ms` (unless closed first), logging at debug how long it took; then, if this warmed
   * the worker up, `andThen` (embedded.ts `warmStudyPlots`: a real study's charts) unless closed.
   */
  warmAfter(ms: number, andThen?: () => Promise<void>): void {
    if (this.warmTimer) clearTimeout(this.warmTimer);
    this.warmTimer = setTimeout(() => {
      this.warmTimer = null;
      const t0 = performance.now();
      void this.warm().then(async (warmed) => {
        if (warmed) this.log.debug({ ms: Math.round(performance.now() - t0) }, "plot worker ready");
        if (warmed && andThen && !this.closed) await andThen().catch((err: unknown) => this.log.debug({ err }, "warming the charts up failed"));
      });
    }, ms).unref();
  }

  /** Sends the worker a job and waits for its answer, holding the idle stop off meanwhile. */
  private async post(job: (id: number) => PlotJob | WarmJob): Promise<RenderedPlot | null> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const id = this.nextId++;
    const message = job(id);
    try {
      return await new Promise<RenderedPlot | null>((resolve, reject) => {
        this.dispatch(id, { message, resolve, reject, worker: null, resent: false, deadline: null });
      });
    } finally {
      if (this.pending.size === 0 && this.worker) {
        this.idleTimer = setTimeout(() => void this.stopWorker(), this.idleMs);
        this.idleTimer.unref();
      }
    }
  }

  /**
   * Sends a job to the running worker, or a new one when there is none or it has gone. Never throws
   * (it runs in the workers' event handlers too): a job that cannot be sent is rejected.
   */
  private dispatch(id: number, p: Pending): void {
    let worker: ChildProcess;
    try {
      worker = this.worker?.connected ? this.worker : this.spawn();
    } catch (err) {
      if (p.deadline) clearTimeout(p.deadline);
      p.reject(err as Error); // a worker that could not be started: UNAVAILABLE (`spawn`)
      return;
    }
    p.worker = worker;
    this.pending.set(id, p);
    // A chart's deadline; a warm-up has none (it loads the code, which a busy machine may take long to).
    if (p.deadline === null && !("warm" in p.message)) {
      p.deadline = setTimeout(() => this.abandon(id), this.renderTimeoutMs);
      p.deadline.unref();
    }
    // A worker that failed to start has no channel to write to: its 'error' event, on the next tick, fails the job (`notStarted`).
    if (worker.pid === undefined) return;
    // A worker found dead only at the write (it died between two charts) fails nothing: the exit handler resends.
    try {
      worker.send(p.message, () => undefined);
    } catch (err) {
      this.take(id); // a job that cannot be serialised: the caller's promise rejects with it
      p.reject(err as Error);
    }
  }

  /** Removes a job from those pending, its deadline cleared. */
  private take(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (p.deadline) clearTimeout(p.deadline);
    return p;
  }

  /**
   * A job past its deadline: it fails, and its worker, busy with it, is killed. The worker's other
   * jobs were waiting behind it: they go to a new worker at once, each with a new deadline and its
   * resend kept (their deadlines, set when they were queued, would otherwise fail them too, before
   * the new worker had a chance to draw them).
   */
  private abandon(id: number): void {
    const p = this.take(id);
    if (!p) return;
    const s = Math.round(this.renderTimeoutMs / 1000);
    this.log.error({ chart: id, timeout_s: s }, "a chart took too long to draw; its renderer is killed and the next chart starts another");
    p.reject(new TuneportError("INTERNAL", `the chart was not drawn within ${s} s and was abandoned (logged on the server); other charts are drawn by a new renderer`));
    const w = p.worker;
    if (!w) return;
    if (this.worker === w) this.worker = null; // the next chart starts a new one at once
    if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL");
    const queued = [...this.pending].filter(([, q]) => q.worker === w);
    for (const [other, q] of queued) {
      this.take(other);
      this.dispatch(other, { ...q, deadline: null });
    }
  }

  /**
   * Starts a worker. A fork that fails throws (ENOMEM, ENOTDIR: UNAVAILABLE) or, for EMFILE, ENFILE,
   * EAGAIN, EACCES and ENOENT, returns a process without a pid (and, for EMFILE, without `send`)
   * whose 'error' event follows on the next tick: its jobs then fail UNAVAILABLE (`notStarted`),
   * and it is not kept, so the next chart tries again.
   */
  private spawn(): ChildProcess {
    let w: ChildProcess;
    try {
      // No flags of the server's (--cpu-prof, --inspect) in the child; stdout stays the server's log alone.
      // Its own process group: a Ctrl-C at the terminal is the server's to handle (the child goes when the server does).
      w = fork(this.workerFile, [], { serialization: "advanced", execArgv: [], execPath: this.execPath, stdio: ["ignore", "ignore", "inherit", "ipc"], detached: true });
    } catch (err) {
      throw this.startFailed(err);
    }
    if (w.pid === undefined) {
      w.once("error", (err) => this.notStarted(w, err));
      return w;
    }
    w.on("message", (m: PlotJobResult) => {
      const p = this.take(m.id);
      if (!p) return;
      if (m.ok && "warmed" in m) p.resolve(null);
      else if (m.ok) p.resolve({ png: Buffer.from(m.png.buffer, m.png.byteOffset, m.png.byteLength), caption: m.caption, width: m.width, height: m.height });
      else if (m.error.name === "TuneportError" && m.error.code) p.reject(new TuneportError(m.error.code as ErrorCode, m.error.message, m.error.data));
      else p.reject(new Error(m.error.message));
    });
    w.on("error", (err) => {
      this.log.error({ err }, "the chart renderer could not be started or reached");
      this.workerGone(w, `the chart renderer stopped: ${(err as Error).message}`);
    });
    w.on("exit", (code, signal) => {
      const lost = [...this.pending.values()].filter((p) => p.worker === w).length;
      if (!this.closed && (lost > 0 || (code !== 0 && signal !== "SIGTERM")))
        this.log.error({ code, signal, charts_in_flight: lost }, "the chart renderer stopped; its charts go to another");
      this.workerGone(w, "the chart renderer stopped twice while drawing this chart (logged on the server)");
    });
    // Neither the process nor its channel keeps the server's event loop alive.
    w.unref();
    w.channel?.unref();
    this.worker = w;
    return w;
  }

  /** The error a chart gets when its renderer could not be started (logged here): UNAVAILABLE, retry. */
  private startFailed(err: unknown): TuneportError {
    this.log.error({ err }, "the chart renderer could not be started; charts are refused (UNAVAILABLE) until one can");
    const code = (err as NodeJS.ErrnoException | null)?.code;
    const why = typeof code === "string" ? `${code}: ${SPAWN_REASONS[code] ?? "a system error"}` : String((err as Error | null)?.message ?? err);
    return new TuneportError("UNAVAILABLE", `the chart renderer could not be started (${why}); retry later (logged on the server)`, {
      reason: "renderer_unavailable",
      ...(typeof code === "string" ? { errno: code } : {}),
    });
  }

  /** A worker that failed to start (its 'error' event): the jobs sent to it fail UNAVAILABLE, none is resent. */
  private notStarted(w: ChildProcess, err: Error): void {
    if (this.worker === w) this.worker = null;
    const refusal = this.startFailed(err);
    for (const [id, p] of this.pending) {
      if (p.worker !== w) continue;
      this.take(id);
      p.reject(this.closed ? new TuneportError("INTERNAL", "the server is stopping") : refusal);
    }
  }

  /**
   * The jobs a worker that has gone took with it: each is sent once more, to a new worker (the job
   * may only have been written to a worker that was already dying); one that a second worker also
   * died on fails with `message`. Once closed, they fail.
   */
  private workerGone(w: ChildProcess, message: string): void {
    if (this.worker === w) this.worker = null;
    for (const [id, p] of this.pending) {
      if (p.worker !== w) continue;
      this.pending.delete(id);
      if (p.resent || this.closed) {
        if (p.deadline) clearTimeout(p.deadline);
        p.reject(new TuneportError("INTERNAL", this.closed ? "the server is stopping" : message));
      } else this.dispatch(id, { ...p, resent: true });
    }
  }

  private async stopWorker(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (!w || w.exitCode !== null || w.signalCode !== null) return;
    // Held until it has gone: unreferenced, the wait alone would let the event loop end mid-shutdown.
    w.ref();
    await new Promise<void>((resolve) => {
      w.once("exit", () => resolve());
      w.kill("SIGTERM");
    });
  }

  /** Stops the worker; requests in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.warmTimer) clearTimeout(this.warmTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.stopWorker();
  }
}
