/**
 * What the MCP adapter needs from tuneport, with two implementations:
 * - `serviceBackend`: the in-process StudyService (`tuneport mcp --storage`, `serve --mcp-http`);
 * - `RemoteBackend`: a running server reached over ZeroMQ (`tuneport mcp --connect`).
 *
 * Both return the service's views. Derived read models (summary, importances, plots) are
 * computed from `allTrials` by the pure functions in `src/service/`, so both modes agree.
 */
import type { Logger } from "pino";
import { TuneportError } from "../../domain/errors.js";
import type { PlotRenderer } from "../../service/plot-renderer.js";
import { type PlotKind, type PlotOptions, type RenderedPlot, renderPlot } from "../../service/plots.js";
import { type PluginDescription, describePlugins } from "../../service/plugins.js";
import type { CreateStudyArgs, StudyChange, StudyService, TellState, TrialsQuery } from "../../service/study-service.js";
import type { AskResult, LineageView, StudyView, TrialView } from "../../service/views.js";
import type { ZmqClient } from "../zmq/zmq-client.js";

/** Largest number of trials read for summaries, importances and plots. */
export const MAX_TRIALS_READ = 100_000;

export interface McpBackend {
  createStudy(args: CreateStudyArgs): Promise<{ study: StudyView; created: boolean }>;
  getStudy(name: string): Promise<StudyView>;
  listStudies(): Promise<StudyView[]>;
  deleteStudy(name: string): Promise<{ deleted: boolean }>;
  catalogue(): Promise<PluginDescription[]>;
  ask(study: string): Promise<AskResult>;
  report(study: string, trial: number, token: string, step: number, value: number): Promise<{ decision: { action: string } }>;
  tell(study: string, trial: number, token: string, state: TellState, value: number | null | undefined, opts: { reason?: string }): Promise<{ trial: TrialView }>;
  enqueue(study: string, params: Record<string, unknown>, opts: { skipIfExists?: boolean; rationale?: string; userAttrs?: Record<string, unknown> }): Promise<{ trial: TrialView; created: boolean }>;
  listTrials(study: string, q: TrialsQuery): Promise<{ trials: TrialView[]; total: number }>;
  getTrial(study: string, trial: number): Promise<TrialView>;
  /** The hyperparameter schedule behind a trial (PBT); the best trial's when none is named. */
  lineage(study: string, trial?: number): Promise<LineageView>;
  /** Every trial of the study (up to MAX_TRIALS_READ), for derived read models. */
  allTrials(study: string): Promise<TrialView[]>;
  /** A chart of the study (see service/plots.ts). @throws NOT_FOUND, INVALID_ARGUMENT. */
  plot(study: string, kind: PlotKind, opts: PlotOptions): Promise<RenderedPlot>;
  /** A number that changes whenever the study changes. @throws NOT_FOUND. */
  version(study: string): Promise<number>;
  /** Resolves with the new version once the study changed since `since`, or at the timeout with the current one. */
  waitForChange(study: string, since: number, timeoutMs: number): Promise<number>;
  /** Subscribes to changes of every study; returns the unsubscribe function. */
  onChange(listener: (change: StudyChange) => void): () => void;
  close(): Promise<void>;
}

/**
 * The in-process service; plots render on `plots` (a worker thread) when given, else in
 * process. `close` leaves the service and the renderer open: their owner closes them.
 */
export function serviceBackend(service: StudyService, plots?: PlotRenderer): McpBackend {
  const allTrials = async (s: string) => (await service.listTrials(s, { limit: MAX_TRIALS_READ })).trials;
  return {
    createStudy: (a) => service.createStudy(a),
    getStudy: (n) => service.getStudy(n),
    listStudies: () => service.listStudies(),
    deleteStudy: (n) => service.deleteStudy(n),
    catalogue: async () => describePlugins(),
    ask: (s) => service.ask(s),
    report: (s, t, tok, step, v) => service.report(s, t, tok, step, v),
    tell: (s, t, tok, st, v, o) => service.tell(s, t, tok, st, v, o),
    enqueue: (s, p, o) => service.enqueue(s, p, o),
    listTrials: (s, q) => service.listTrials(s, q),
    getTrial: (s, t) => service.getTrial(s, t),
    lineage: (s, t) => service.lineage(s, t),
    allTrials,
    plot: async (s, kind, opts) => {
      const [study, trials] = await Promise.all([service.getStudy(s), allTrials(s)]);
      return plots ? plots.render(kind, study, trials, opts) : renderPlot(kind, study, trials, opts);
    },
    version: async (s) => service.versionOf(s),
    waitForChange: (s, since, ms) => service.waitForChange(s, since, ms),
    onChange: (l) => service.onChange(l),
    close: async () => undefined,
  };
}

/**
 * A running server over ZeroMQ. The protocol has no change feed, so this polls
 * `list_studies` (every `pollMs`) and derives created/updated/deleted events and per-study
 * versions from a fingerprint of each study's counts and best value. Intermediate reports
 * that change neither are not seen as changes in this mode.
 */
export class RemoteBackend implements McpBackend {
  private readonly fingerprints = new Map<string, string>();
  private readonly versions = new Map<string, number>();
  private readonly listeners = new Set<(c: StudyChange) => void>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;

  constructor(
    private readonly client: ZmqClient,
    private readonly log: Logger,
    private readonly pollMs = 500,
  ) {}

  /** Takes the first snapshot and starts polling. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => {
      if (!this.polling) this.polling = this.poll().finally(() => (this.polling = null));
    }, this.pollMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    let studies: StudyView[];
    try {
      studies = await this.client.listStudies();
    } catch (err) {
      this.log.warn({ err: err as TuneportError }, "polling the server failed");
      return;
    }
    const seen = new Set<string>();
    for (const s of studies) {
      seen.add(s.name);
      const fp = JSON.stringify([s.created_at, s.counts, s.best_trial?.number ?? null, s.user_attrs]);
      const old = this.fingerprints.get(s.name);
      if (old === fp) continue;
      this.fingerprints.set(s.name, fp);
      const v = (this.versions.get(s.name) ?? 0) + 1;
      this.versions.set(s.name, v);
      this.emit({ study: s.name, kind: old === undefined ? "created" : "updated", version: v });
    }
    for (const name of [...this.fingerprints.keys()]) {
      if (seen.has(name)) continue;
      this.fingerprints.delete(name);
      const v = (this.versions.get(name) ?? 0) + 1;
      this.versions.delete(name);
      this.emit({ study: name, kind: "deleted", version: v });
    }
  }

  private emit(c: StudyChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(c);
      } catch (err) {
        this.log.error({ err }, "change listener failed");
      }
    }
  }

  createStudy(a: CreateStudyArgs) {
    return this.client.createStudy(a);
  }
  getStudy(n: string) {
    return this.client.getStudy(n);
  }
  listStudies() {
    return this.client.listStudies();
  }
  deleteStudy(n: string) {
    return this.client.deleteStudy(n);
  }
  catalogue() {
    return this.client.catalogue();
  }
  ask(s: string) {
    return this.client.ask(s);
  }
  report(s: string, t: number, tok: string, step: number, v: number) {
    return this.client.report(s, t, tok, step, v);
  }
  tell(s: string, t: number, tok: string, st: TellState, v: number | null | undefined, o: { reason?: string }) {
    return this.client.tell(s, t, tok, st, v, o);
  }
  enqueue(s: string, p: Record<string, unknown>, o: { skipIfExists?: boolean; rationale?: string; userAttrs?: Record<string, unknown> }) {
    return this.client.enqueue(s, p, o);
  }
  listTrials(s: string, q: TrialsQuery) {
    return this.client.listTrials(s, q);
  }
  lineage(s: string, t?: number) {
    return this.client.lineage(s, t);
  }

  getTrial(s: string, t: number) {
    return this.client.getTrial(s, t);
  }
  async allTrials(s: string) {
    return (await this.client.listTrials(s, { limit: MAX_TRIALS_READ })).trials;
  }
  /** Rendered by the server (the `plot` op); in this process for a server that predates the op. */
  async plot(s: string, kind: PlotKind, opts: PlotOptions): Promise<RenderedPlot> {
    try {
      const p = await this.client.plot(s, kind, opts);
      return { png: Buffer.from(p.png), caption: p.caption, width: p.width, height: p.height };
    } catch (err) {
      if (!(err instanceof TuneportError && err.code === "UNKNOWN_OP")) throw err;
      const [study, trials] = await Promise.all([this.client.getStudy(s), this.allTrials(s)]);
      return renderPlot(kind, study, trials, opts);
    }
  }
  async version(s: string): Promise<number> {
    await this.client.getStudy(s); // NOT_FOUND for an unknown study
    return this.versions.get(s) ?? 0;
  }

  async waitForChange(s: string, since: number, timeoutMs: number): Promise<number> {
    const now = this.versions.get(s) ?? 0;
    if (now !== since) return now;
    await new Promise<void>((resolve) => {
      const off = this.onChange((c) => {
        if (c.study !== s) return;
        clearTimeout(timer);
        off();
        resolve();
      });
      const timer = setTimeout(() => {
        off();
        resolve();
      }, timeoutMs);
    });
    return this.versions.get(s) ?? 0;
  }

  onChange(l: (c: StudyChange) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.polling;
    await this.client.close();
  }
}
