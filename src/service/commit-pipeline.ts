/**
 * The commit pipeline: group commit, visibility and fail-stop.
 *
 * - Group commit: change sets queued in the same turn of the event loop form one batch, and
 *   batches are committed in one storage transaction each, strictly in order, on the next turn.
 * - Visibility: `visible(value)` resolves only once every change queued so far is committed, so a
 *   reply never acknowledges (and a read never shows) an uncommitted state. A caller that queued
 *   changes awaits `visible` before answering: commit before reply.
 * - Fail-stop: a failed commit leaves memory ahead of storage. The pipeline then refuses everything
 *   with UNAVAILABLE, rejects the batch (none of its requests is acknowledged) and calls `onFatal`
 *   once, so the process can exit and a restart reload the committed state.
 */
import type { Logger } from "pino";
import { TuneportError } from "../domain/errors.js";
import type { Change, Storage } from "../storage/storage.js";

/** Change sets waiting for the next group commit. */
interface Batch {
  readonly changes: Change[];
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

export class CommitPipeline {
  /** The batch that new change sets join; null when none is open. */
  private openBatch: Batch | null = null;
  /** Resolves when every change set handed to storage so far is committed. */
  private durable: Promise<void> = Promise.resolve();
  private fatal: unknown = null;

  constructor(
    private readonly storage: Storage,
    private readonly log: Logger,
    private readonly onFatal: (err: unknown) => void,
  ) {}

  /** True once a commit failed: the service must refuse every further call. */
  get failed(): boolean {
    return this.fatal !== null;
  }

  /** @throws UNAVAILABLE after a failed commit. */
  assertHealthy(): void {
    if (this.fatal) throw new TuneportError("UNAVAILABLE", "the server is stopping after a storage failure; retry against the next one");
  }

  /** Appends changes to the open batch (opening one that commits on the next turn of the event loop). */
  queue(changes: readonly Change[]): void {
    if (changes.length === 0) return;
    let b = this.openBatch;
    if (!b) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      done.catch(() => undefined); // observed by waiters; never an unhandled rejection
      const batch: Batch = { changes: [], done, resolve, reject };
      b = this.openBatch = batch;
      // Commit on the next turn of the event loop: requests that arrive meanwhile join the batch.
      this.durable = this.durable.then(
        () => new Promise<void>((r) => setImmediate(r)).then(() => this.flush(batch)),
        () => this.flush(batch),
      );
      this.durable.catch(() => undefined);
    }
    for (const c of changes) b.changes.push(c);
  }

  private async flush(b: Batch): Promise<void> {
    if (this.openBatch === b) this.openBatch = null;
    try {
      if (this.fatal) throw this.fatal;
      await this.storage.commit(b.changes);
      b.resolve();
    } catch (err) {
      if (!this.fatal) {
        this.fatal = err;
        this.log.fatal({ err, changes: b.changes.length }, "storage commit failed; memory is ahead of storage, stopping");
        this.onFatal(err);
      }
      b.reject(err);
      throw err;
    }
  }

  /**
   * Resolves with `value` once every change queued so far is committed.
   * @throws UNAVAILABLE after a failed commit.
   */
  async visible<T>(value: T): Promise<T> {
    const b = this.openBatch;
    await (b ? b.done : this.durable).catch(() => undefined);
    this.assertHealthy();
    return value;
  }

  /** Waits for every queued batch, successful or not (shutdown). */
  async drain(): Promise<void> {
    await this.durable.catch(() => undefined);
  }
}
