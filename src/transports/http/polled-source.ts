/**
 * The read-only dashboard's source (`tuneport dashboard --storage FILE`): a read-only
 * StudyService over a SQLite file that another process (a running server) writes.
 *
 * Live updates come from polling, not from a change feed (the writer is another process): every
 * `intervalMs` the file and its `-wal` are `stat`ed; when size or mtime moved, the service is
 * reopened read-only (the file is read again, as `tuneport studies list` does) and each study
 * whose one-line overview changed is announced as a change. A study page therefore lags the
 * writer by at most one interval plus one reload. Reopening reads every trial: at 100,000
 * trials it costs about what opening the server does, and only when something changed. What a
 * study's signature covers (`overviewMap`) is what a page shows.
 */
import { statSync } from "node:fs";
import type { Logger } from "pino";
import type { StudyChange } from "../../service/change-feed.js";
import type { OpName } from "../../service/ops/ops.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import type { DashboardSource } from "./dashboard.js";

export interface PolledSourceOptions {
  readonly path: string;
  readonly logger: Logger;
  /** How often the file is looked at [500 ms]. */
  readonly intervalMs?: number;
}

/** How long a replaced read-only copy stays open for the requests that were using it. */
const RETIRE_AFTER_MS = 5000;

interface Opened {
  storage: SqliteStorage;
  service: StudyService;
}

/** A DashboardSource that re-reads a SQLite file when it changes on disk. */
export class PolledSource implements DashboardSource {
  private current: Opened | null = null;
  private readonly listeners = new Set<(c: StudyChange) => void>();
  private stamp = "";
  private overview = new Map<string, string>();
  private version = 0;
  private timer: NodeJS.Timeout | null = null;
  private reloading: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private readonly retiring = new Set<Opened>();

  private constructor(private readonly opts: PolledSourceOptions) {
    this.log = opts.logger.child({ component: "dashboard-poll" });
  }

  /** Opens the file read-only and starts polling. @throws when the file cannot be opened. */
  static async open(opts: PolledSourceOptions): Promise<PolledSource> {
    const src = new PolledSource(opts);
    src.stamp = src.fileStamp();
    src.current = await src.openService();
    src.overview = await src.overviewMap(src.current.service);
    src.timer = setInterval(() => {
      src.reloading = src.reloading.then(() => src.poll()).catch((err: unknown) => src.log.warn({ err }, "could not re-read the storage"));
    }, opts.intervalMs ?? 500);
    return src;
  }

  private fileStamp(): string {
    const parts = [this.opts.path, `${this.opts.path}-wal`].map((p) => {
      try {
        const s = statSync(p);
        return `${s.size}:${s.mtimeMs}`;
      } catch {
        return "-";
      }
    });
    return parts.join("|");
  }

  private async openService(): Promise<Opened> {
    const storage = new SqliteStorage({ path: this.opts.path, readonly: true });
    try {
      const service = await StudyService.open({ storage, logger: this.opts.logger, readOnly: true });
      return { storage, service };
    } catch (err) {
      await storage.close();
      throw err;
    }
  }

  /**
   * Each study's signature: its overview line, its own view (config, notes and user attributes),
   * and what its trials hold that the overview does not count (their reports and user
   * attributes). The overview alone missed the changes a page shows but the line does not: a
   * running trial's reports (the intermediate-values chart), notes, update_study's options, a
   * trial's attributes and notes.
   */
  private async overviewMap(service: StudyService): Promise<Map<string, string>> {
    const { studies } = await service.execute("studies_overview", {});
    const out = new Map<string, string>();
    for (const s of studies) {
      const view = await service.execute("get_study", { study: s.name }).catch(() => null);
      let reports = 0;
      let more = "";
      for (const t of service.trialsOf(s.name)) {
        reports += t.intermediate.length;
        // A running trial's latest report, in case one replaced another at the same step.
        const last = t.state === "RUNNING" ? t.intermediate[t.intermediate.length - 1] : undefined;
        if (last) more += `${t.number}:${last.step}:${last.value};`;
        if (Object.keys(t.userAttrs).length > 0) more += JSON.stringify([t.number, t.userAttrs]);
        if (typeof t.systemAttrs.notes === "string") more += JSON.stringify([t.number, t.systemAttrs.notes]);
      }
      out.set(s.name, JSON.stringify([s, view, reports, more]));
    }
    return out;
  }

  private async poll(): Promise<void> {
    const stamp = this.fileStamp();
    if (stamp === this.stamp || this.current === null) return;
    this.stamp = stamp;
    const next = await this.openService();
    const old = this.current;
    this.current = next;
    // Requests already running on the old copy finish on it; it closes a little later.
    this.retiring.add(old);
    const t = setTimeout(() => void this.retire(old), RETIRE_AFTER_MS);
    t.unref();
    const now = await this.overviewMap(next.service);
    const changes: StudyChange[] = [];
    for (const [name, line] of now) {
      const before = this.overview.get(name);
      if (before !== line) changes.push({ study: name, kind: before === undefined ? "created" : "updated", version: ++this.version });
    }
    for (const name of this.overview.keys()) if (!now.has(name)) changes.push({ study: name, kind: "deleted", version: ++this.version });
    this.overview = now;
    for (const c of changes) for (const l of [...this.listeners]) l(c);
  }

  private async retire(o: Opened): Promise<void> {
    if (!this.retiring.delete(o)) return;
    await o.service.close();
    await o.storage.close();
  }

  async execute(op: OpName, args: unknown): Promise<unknown> {
    if (this.current === null) throw new Error("the polled source is closed");
    return this.current.service.execute(op, args);
  }

  onChange(listener: (change: StudyChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops polling and closes the storage. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.reloading;
    await Promise.all([...this.retiring].map((o) => this.retire(o)));
    const cur = this.current;
    this.current = null;
    if (cur) {
      await cur.service.close();
      await cur.storage.close();
    }
  }
}
