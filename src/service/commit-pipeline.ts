/**
 * The commit pipeline: group commit, visibility and fail-stop.
 *
 * - Group commit: change sets queued in the same turn of the event loop form one batch, and
 *   batches are committed in one storage transaction each, strictly in order, on the next turn.
 *   Lazy change sets (intermediate values whose reply carries no decision to keep, see
 *   docs/DURABILITY.md "Intermediate values") may wait up to `lazyCommitMs` for company.
 * - Visibility: `visible(value)` resolves only once every change queued so far is committed, so a
 *   reply never acknowledges (and a read never shows) an uncommitted state. A caller that queued
 *   changes awaits `visible` before answering: commit before reply.
 * - Kept and dropped: a batch that failed leaving nothing written is committed again, without the
 *   change sets of studies this server lost (several servers): see `commitKeeping`.
 * - Fail-stop: a failed commit leaves memory ahead of storage. The pipeline then refuses everything
 *   with UNAVAILABLE, rejects the batch (none of its requests is acknowledged) and calls `onFatal`
 *   once, so the process can exit and a restart reload the committed state.
 * - Storage full: a commit refused for want of space (storage.ts `storageFull`: nothing written) is
 *   held and tried again every `FULL_RETRY_MS` until it commits. Meanwhile memory is ahead of storage
 *   by the held batches only: every new change and every read is refused before it is applied or
 *   shown (UNAVAILABLE, `data.reason: "storage_full"`), the held batches' requests too (unacknowledged;
 *   a resend with the same id gets the stored reply once they committed). Once every held batch has
 *   committed the server goes on as before. A stop (`drain`) gives the held batches up: fail-stop
 *   (the lazy change sets among them were answered before: `answer`, lost as in a crash).
 */
import type { Logger } from "pino";
import { TuneportError } from "../domain/errors.js";
import { type Change, type Storage, committed, storageFull } from "../storage/storage.js";

/** Change sets waiting for the next group commit. */
interface Batch {
  readonly changes: Change[];
  /** Each queued change set and the result it answers, in order (to drop those of a study lost). */
  readonly sets: { readonly changes: readonly Change[]; readonly result: unknown; readonly losses: number }[];
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
  /** Lets the commit start (the previous one permitting). */
  go(): void;
  /**
   * Resolves once the batch is finished (committed or failed) or commits start being held for want
   * of space, whichever comes first: what `visible` waits for. Never rejects.
   */
  readonly answerable: Promise<void>;
  /** Resolves `answerable`. */
  release(): void;
  /** True once `go` is scheduled for the next turn of the event loop. */
  expedited: boolean;
  /** The lazy batch's deadline (see `queue(..., lazy)`); null once expedited. */
  timer: NodeJS.Timeout | null;
  /** How many lazily queued change sets it holds. */
  lazy: number;
}

/** Lazy change sets held at most this long before their commit (ms); see `queue`. */
export const DEFAULT_LAZY_COMMIT_MS = 20;
/** How many times a batch that failed leaving nothing written is tried in all (`commitKeeping`). */
export const COMMIT_TRIES = 4;
/** A lazy batch is committed on the next turn once it holds this many change sets. */
export const LAZY_COMMIT_MAX = 1000;
/** How often a commit held for want of space is tried again (ms); the retry hint of `storage_full`. */
export const FULL_RETRY_MS = 1000;

/**
 * Claim refusals further apart than this (ms) are two outages (`ClaimRefusals`): a client waiting one
 * out resends well within it (the Python client's back-off stops at 2 s; the retry hint is 1 s).
 */
export const CLAIM_OUTAGE_GAP_MS = 5000;

/**
 * Claims of study names (ownership.ts `acquire`) that the storage refused for want of space (storage.ts
 * `storageFull`: PostgreSQL's 53100, no room for a new name's row): UNAVAILABLE storage_full, which
 * clients wait out, not INTERNAL, though nothing is held and the server serves on. `full_since` is the
 * first such refusal since a claim last succeeded or since a gap of more than `CLAIM_OUTAGE_GAP_MS`
 * between refusals (one value per outage, as the pipeline's). Nothing else tells this server that the
 * space came back (commits may find room where a new name's row does not): without the gap, a later
 * outage's refusals carried the earlier outage's value when no claim succeeded between (a probe of
 * 2026-12-07 on PostgreSQL: both 1796615864.332), and a client that had given up on the first took the
 * next for it and gave up at its first refusal.
 */
export class ClaimRefusals {
  private since = 0;
  /** When the last claim was refused (ms). */
  private last = 0;

  async claim<T>(p: Promise<T>, name: string): Promise<T> {
    try {
      const out = await p;
      this.since = 0;
      return out;
    } catch (err) {
      if (!storageFull(err)) throw err;
      throw this.refused(`the ownership of study '${name}' could not be written`);
    }
  }

  /** An ownership row written since (a renewal): the storage has room again. */
  wrote(): void {
    this.since = 0;
  }

  /** The UNAVAILABLE storage_full answer to a request whose ownership row could not be written (`what`), counted as a refusal of this outage. */
  refused(what: string): TuneportError {
    const now = Date.now();
    if (this.since === 0 || now - this.last > CLAIM_OUTAGE_GAP_MS) this.since = now / 1000;
    this.last = now;
    return new TuneportError("UNAVAILABLE", `the server's storage is full: ${what}; retry once space is freed`, {
      reason: "storage_full",
      retry_after_ms: FULL_RETRY_MS,
      full_since: this.since,
    });
  }
}

export class CommitPipeline {
  /** The batch that new change sets join; null when none is open. */
  private openBatch: Batch | null = null;
  /** Resolves when every change set handed to storage so far is committed. */
  private durable: Promise<void> = Promise.resolve();
  private fatal: unknown = null;
  /** The storage-full error while commits are held (see the file comment); null otherwise. */
  private full: unknown = null;
  /**
   * When the storage became full (epoch seconds), sent with every `storage_full` refusal as
   * `full_since`: the same value names the same outage, so a client can tell a new outage from the
   * one it gave up on (python-client `_unavailable.py`), however close together they come.
   */
  private fullSince = 0;
  /** Batches opened and not finished (committed or failed): a hold ends once none is left, and its start releases their waiters (`holdFull`). */
  private readonly unfinished = new Set<Batch>();
  /**
   * The `answerable` of the batch opened last: once it settles, every change set queued so far is
   * committed (`visible`). The promise, not the batch: a finished batch's changes are not kept alive.
   */
  private newest: Promise<void> = Promise.resolve();
  /** Set by `abandon`: a held commit is given up. */
  private abandoned = false;
  /** Wakes a held commit's wait early (`abandon`). */
  private wake: (() => void) | null = null;
  /** Results of mutations whose changes were queued lazily: answered before their commit. */
  private readonly earlyAck = new WeakSet<object>();

  constructor(
    private readonly storage: Storage,
    private readonly log: Logger,
    private readonly onFatal: (err: unknown) => void,
    /** How long a lazy change set may wait for its commit (ms); 0 commits it like any other. */
    private readonly lazyCommitMs: number = DEFAULT_LAZY_COMMIT_MS,
    /**
     * After the fence refused a batch: makes sure the studies this server lost are known as lost
     * (a renewal), so `Storage.fencedOut` names them.
     */
    private readonly recheck: () => Promise<void> = async () => undefined,
  ) {}

  /** Results whose change sets were dropped uncommitted (their study was lost): never acknowledged. */
  private readonly dropped = new WeakMap<object, string>();
  /** The studies this server lost, in order (`lose`); a change set notes how many were lost before it. */
  private readonly losses: string[] = [];

  /**
   * Records that this server lost `name`: the change sets queued before, not yet committed, are
   * never written, even once this server holds the name again (they were made from the memory it
   * lost, under the epoch it lost; committed under the new one, a report queued lazily before the
   * loss overwrote the value the other server had recorded since).
   */
  lose(name: string): void {
    this.losses.push(name);
  }

  /** True once a commit failed: the service must refuse every further call. */
  get failed(): boolean {
    return this.fatal !== null;
  }

  /** True while commits are held for want of space (see the file comment). */
  get holding(): boolean {
    return this.full !== null;
  }

  /** @throws UNAVAILABLE after a failed commit. */
  assertHealthy(): void {
    if (this.fatal) throw new TuneportError("UNAVAILABLE", "the server is stopping after a storage failure; retry against the next one");
    if (this.full)
      throw new TuneportError(
        "UNAVAILABLE",
        "the server's storage is full: nothing is written or read until space is freed (a change sent before may still be applied once it is: resend it with the same id); retry",
        { reason: "storage_full", retry_after_ms: FULL_RETRY_MS, full_since: this.fullSince },
      );
  }

  /** Gives up commits held for want of space (a stop): they fail as any failed commit does (fail-stop). */
  private abandon(): void {
    this.abandoned = true;
    this.wake?.();
  }

  /**
   * Appends changes to the open batch, opening one when none is. A batch commits on the next turn
   * of the event loop, except a batch that so far holds only `lazy` change sets: it waits up to
   * `lazyCommitMs` (or until it holds LAZY_COMMIT_MAX of them) so that many join one transaction.
   * Anything that needs the batch committed sooner (a change set that is not lazy, `visible`,
   * `drain`) brings its commit forward to the next turn; a lazy set's `result` is answered at once
   * (`answer`). Order is kept: batches commit one after
   * the other, each with every change set queued before it.
   */
  queue(changes: readonly Change[], lazy = false, result?: unknown): void {
    if (changes.length === 0) return;
    const deferrable = lazy && this.lazyCommitMs > 0;
    if (deferrable && typeof result === "object" && result !== null) this.earlyAck.add(result);
    let b = this.openBatch;
    if (!b) b = this.openBatch = this.open(deferrable);
    for (const c of changes) b.changes.push(c);
    b.sets.push({ changes, result, losses: this.losses.length });
    if (!deferrable || ++b.lazy >= LAZY_COMMIT_MAX) this.expedite(b);
  }

  /**
   * The reply to a mutation whose changes are queued: `result` itself when they were queued lazily
   * with it (answered before the commit), else `visible(result)` (commit before reply).
   */
  answer<T>(result: T): T | Promise<T> {
    return typeof result === "object" && result !== null && this.earlyAck.has(result) ? result : this.visible(result);
  }

  private open(deferrable: boolean): Batch {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => undefined); // observed by waiters; never an unhandled rejection
    let go!: () => void;
    const started = new Promise<void>((r) => (go = r));
    let release!: () => void;
    const answerable = new Promise<void>((r) => (release = r));
    const batch: Batch = { changes: [], sets: [], done, resolve, reject, go, answerable, release, expedited: false, timer: null, lazy: 0 };
    this.unfinished.add(batch);
    this.newest = answerable;
    if (deferrable) batch.timer = setTimeout(() => this.expedite(batch), this.lazyCommitMs);
    // Requests that arrive before the batch starts join it.
    this.durable = this.durable.then(
      () => started.then(() => this.flush(batch)),
      () => this.flush(batch),
    );
    this.durable.catch(() => undefined);
    return batch;
  }

  /** Schedules `b`'s commit for the next turn of the event loop (at once if it is lazy). */
  private expedite(b: Batch): void {
    if (b.expedited) return;
    b.expedited = true;
    if (b.timer) clearTimeout(b.timer);
    b.timer = null;
    setImmediate(b.go);
  }

  private async flush(b: Batch): Promise<void> {
    if (this.openBatch === b) this.openBatch = null;
    try {
      if (this.fatal) throw this.fatal;
      await this.commitKeeping(b);
      // Not before every batch opened meanwhile (its requests were answered storage_full, applied in
      // memory) has committed too: a resend of one then finds its reply stored, not applied again.
      this.unfinished.delete(b);
      if (this.unfinished.size === 0 && this.full) {
        this.full = null;
        this.log.warn("storage has room again: commits resumed");
      }
      b.resolve();
      b.release();
    } catch (err) {
      this.unfinished.delete(b);
      if (!this.fatal) {
        this.fatal = err;
        this.log.fatal({ err, changes: b.changes.length, ...(storageFull(err) ? { reason: "storage_full" } : {}) }, "storage commit failed; memory is ahead of storage, stopping");
        this.onFatal(err);
      }
      b.reject(err);
      b.release();
      throw err;
    }
  }

  /**
   * Commits `b`. With several servers a batch may hold changes of a study this server lost (taken
   * over after it stalled past its ownership TTL): those change sets are dropped, uncommitted, and
   * their results are answered UNAVAILABLE (`visible`), while the rest of the batch commits. A batch
   * that failed leaving nothing written (storage.ts `committed`: the fence refused it, or its session
   * ended between two of its statements, as after a stall) is committed again, up to
   * `COMMIT_TRIES` times; before, either stopped the whole server and every study it served.
   */
  private async commitKeeping(b: Batch): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let changes: readonly Change[] = b.changes;
      if (this.storage.fencedOut) {
        const kept = b.sets.filter((set) => {
          const gone = set.losses < this.losses.length ? new Set(this.losses.slice(set.losses)) : undefined;
          const lost = this.storage.fencedOut?.(set.changes, gone) ?? null;
          if (lost !== null && typeof set.result === "object" && set.result !== null) this.dropped.set(set.result, lost);
          return lost === null;
        });
        if (kept.length < b.sets.length) {
          this.log.warn({ dropped: b.sets.length - kept.length, kept: kept.length }, "dropped the uncommitted changes of studies this server no longer owns");
          changes = kept.flatMap((set) => set.changes);
        }
      }
      if (changes.length === 0) return;
      try {
        await this.storage.commit(changes);
        // One line per transaction at debug level: the number of commits, and what each grouped (bench/zmq-group-commit.mjs).
        this.log.debug({ sets: b.sets.length, changes: changes.length }, "batch committed");
        return;
      } catch (err) {
        if (storageFull(err)) {
          if (this.abandoned) throw err; // a stop while the storage is full: fail-stop, none of it acknowledged
          await this.holdFull(err, changes.length);
          attempt = 0;
          continue;
        }
        if (committed(err) || attempt >= COMMIT_TRIES) throw err;
        this.log.warn({ err, attempt }, "a commit failed before anything was written; committing it again");
        await this.recheck().catch(() => undefined);
      }
    }
  }

  /** Refuses everything while the storage is full (`assertHealthy`) and waits `FULL_RETRY_MS` before the next try. */
  private async holdFull(err: unknown, changes: number): Promise<void> {
    if (!this.full) {
      this.fullSince = Date.now() / 1000;
      this.log.error({ err, reason: "storage_full", changes }, "storage full: the commit is held and tried again every second; changes and reads are refused (UNAVAILABLE storage_full) until space is freed");
    }
    this.full = err;
    for (const b of this.unfinished) b.release();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, FULL_RETRY_MS);
      this.wake = () => (clearTimeout(t), resolve());
    });
    this.wake = null;
  }

  /**
   * Resolves with `value` once every change queued so far is committed.
   * @throws UNAVAILABLE after a failed commit.
   */
  visible<T>(value: T): Promise<T> {
    try {
      this.assertHealthy();
    } catch (err) {
      return Promise.reject(err);
    }
    const b = this.openBatch;
    if (b) this.expedite(b);
    // The newest batch (the open one, if any) finishes after every one before it: they commit in order.
    // One `then` on it per waiter: this runs for every reply and every read, and a race with a
    // held-commit signal of its own (a promise, a race, a catch and a finally per call) cost each
    // several promises. A commit held for want of space releases the waiters at once (UNAVAILABLE
    // storage_full) rather than when space returns.
    return this.newest.then(() => this.answered(value));
  }

  /** `value` for a waiter whose batch is finished or held. @throws UNAVAILABLE (a failed or held commit, a study lost). */
  private answered<T>(value: T): T {
    this.assertHealthy();
    const lost = typeof value === "object" && value !== null ? this.dropped.get(value) : undefined;
    if (lost !== undefined)
      throw new TuneportError("UNAVAILABLE", `this server lost study '${lost}' to another server before this request's changes were written; resend it (same id)`);
    return value;
  }

  /**
   * Resolves once everything queued so far is committed, without bringing a lazy batch's commit
   * forward (change announcements); rejects after a failed commit.
   */
  committed(): Promise<void> {
    return this.openBatch ? this.openBatch.done : this.durable;
  }

  /** Waits for every queued batch, successful or not (shutdown); gives up commits held for want of space (`abandon`). */
  async drain(): Promise<void> {
    this.abandon();
    if (this.openBatch) this.expedite(this.openBatch);
    await this.durable.catch(() => undefined);
  }
}
