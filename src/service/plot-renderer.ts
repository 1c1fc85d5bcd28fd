/**
 * Renders plots off the event loop. Vega and resvg take from a few hundred milliseconds to
 * seconds for a large study; in the server's thread that would delay every heartbeat, report
 * and tell behind a plot. `PlotRenderer` starts one worker thread on first use
 * (`plot-worker.ts`), sends it the study and its trials, and stops it after `idleMs` without
 * a request so that an idle server holds no Vega heap. When the compiled worker is absent
 * (running from TypeScript sources, as the unit tests do) it renders in process.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
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

export class PlotRenderer {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, { resolve: (p: RenderedPlot | null) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly threaded: boolean;
  private closed = false;
  private warmTimer: NodeJS.Timeout | null = null;

  /** `threaded: false` renders in process (the CLI, which has nothing else to serve). */
  constructor(
    private readonly log: Logger,
    opts: { threaded?: boolean; idleMs?: number } = {},
  ) {
    this.threaded = (opts.threaded ?? true) && existsSync(WORKER_FILE);
    this.idleMs = opts.idleMs ?? PLOT_WORKER_IDLE_MS;
  }

  private readonly idleMs: number;

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
    const worker = this.worker ?? this.spawn();
    const id = this.nextId++;
    try {
      return await new Promise<RenderedPlot | null>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        worker.postMessage(job(id));
      });
    } finally {
      if (this.pending.size === 0 && this.worker) {
        this.idleTimer = setTimeout(() => void this.stopWorker(), this.idleMs);
        this.idleTimer.unref();
      }
    }
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_FILE);
    w.on("message", (m: PlotJobResult) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok && "warmed" in m) p.resolve(null);
      else if (m.ok) p.resolve({ png: Buffer.from(m.png.buffer, m.png.byteOffset, m.png.byteLength), caption: m.caption, width: m.width, height: m.height });
      else if (m.error.name === "TuneportError" && m.error.code) p.reject(new TuneportError(m.error.code as ErrorCode, m.error.message, m.error.data));
      else p.reject(new Error(m.error.message));
    });
    w.on("error", (err) => {
      this.log.error({ err }, "plot worker crashed");
      this.failAll(err);
      if (this.worker === w) this.worker = null;
    });
    w.on("exit", () => {
      if (this.worker === w) this.worker = null;
      this.failAll(new TuneportError("INTERNAL", "the plot worker stopped"));
    });
    w.unref();
    this.worker = w;
    return w;
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(err);
    }
  }

  private async stopWorker(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }

  /** Stops the worker; requests in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.warmTimer) clearTimeout(this.warmTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.stopWorker();
  }
}
