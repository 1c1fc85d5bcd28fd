/**
 * The change feed: one stream of committed changes per service. It drives MCP resource
 * notifications, `wait_for_progress` and live dashboards alike. A change is announced only once it
 * is committed (group commit applies in memory first), so nobody hears of a state the database does
 * not have.
 */
import type { Logger } from "pino";

/** A change to one study, as listeners see it (after the change was committed). */
export interface StudyChange {
  readonly study: string;
  readonly kind: "created" | "updated" | "deleted";
  /** The study's version after the change (see `StudyService.versionOf`). */
  readonly version: number;
}

export class ChangeFeed {
  private readonly waiters = new Set<() => void>();
  private readonly listeners = new Set<(change: StudyChange) => void>();

  constructor(
    private readonly log: Logger,
    /** Resolves once everything applied so far is committed (rejects after a failed commit). */
    private readonly committed: () => Promise<unknown>,
  ) {}

  /** Announces `change` once it is committed; nothing is announced after a failed commit (the server stops). */
  announce(change: StudyChange): void {
    void this.committed().then(
      () => {
        for (const w of [...this.waiters]) w();
        for (const l of [...this.listeners]) {
          try {
            l(change);
          } catch (err) {
            this.log.error({ err }, "change listener failed");
          }
        }
      },
      () => undefined,
    );
  }

  /** Re-checks every pending `waitUntil` now, announcing nothing (a study this server gave up to another). */
  wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Calls `listener` after every committed change. Keep it cheap; it must not throw. Returns the unsubscribe function. */
  subscribe(listener: (change: StudyChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when `changed()` turns true after a committed change, after `timeoutMs`, or when `signal` aborts. */
  async waitUntil(changed: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (changed() || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const check = () => {
        if (changed()) done();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref(); // a pending wait must not keep a stopping process alive
      this.waiters.add(check);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}
