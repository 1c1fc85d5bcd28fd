/**
 * The writer's index of stored replies: the row (seq) of each request id in request_log, so that
 * the common case (a new request id) costs no query and a stored reply is read by its rowid
 * (migration 4 keeps the table without an index on request_id).
 *
 * It holds every stored reply's id in memory, and replies are kept 24 hours (the service's
 * `replyRetentionMs`) whatever their number: a client sending ~4,000 mutations a second (pipelined
 * `report`s with 110-character ids) grew it ~290 bytes a request (4 GB an hour), and at 2^24 ids a
 * JavaScript Map throws "Map maximum size exceeded", after the commit that stored them: a fatal
 * commit error (commit-pipeline.ts), the server stopped. So it holds at most `max` ids: past that the oldest rows are
 * dropped (`excess`), down to 15/16 of it so that the DELETE does not run on every commit, at most
 * `DROP_CHUNK` rows a commit beyond those over `max`: dropping 62,500 rows (the default's 1/16) in
 * one DELETE held the event loop 0.65 to 1.4 s on a loaded machine (r175), every request waiting.
 * A resend of a dropped id runs again, as one past 24 hours does.
 */

/** `--max-stored-replies` by default: ~120 MB of ids of 32 hex digits, ~300 MB of 110-character ones. */
export const DEFAULT_MAX_STORED_REPLIES = 1_000_000;
/** The most a bound may be: a JavaScript Map holds at most 2^24 (16,777,216) entries. */
export const MAX_STORED_REPLIES_LIMIT = 16_000_000;
/** The most rows one commit's trimming deletes beyond those over the bound (`excess`). */
export const DROP_CHUNK = 4096;

/** The statements of request_log that the index needs. */
export interface ReplyTable {
  /** Rows in the table. */
  count(): number;
  /** Every row's (request id, seq), oldest first. */
  rows(): [string, number][];
  /** Deletes the `n` oldest rows, returning their (request id, seq). */
  dropOldest(n: number): [string, number][];
}

export class ReplyIndex {
  private seqs: Map<string, number> | null = null;
  /** Over `max` since the last time at 15/16 of it: commits drop rows until it is reached again. */
  private trimming = false;

  /** @throws RangeError unless 1 ≤ max ≤ MAX_STORED_REPLIES_LIMIT. */
  constructor(
    private readonly table: ReplyTable,
    readonly max: number = DEFAULT_MAX_STORED_REPLIES,
    /** Told after the oldest rows were dropped for the bound: how many, and how many are kept. */
    private readonly onDropped?: (dropped: number, kept: number) => void,
  ) {
    if (!Number.isInteger(max) || max < 1 || max > MAX_STORED_REPLIES_LIMIT) throw new RangeError(`max stored replies ${max} not in [1, ${MAX_STORED_REPLIES_LIMIT}]`);
  }

  /** The map, built from the table on the first use; a table over the bound is cut to it first (told). */
  private built(): Map<string, number> {
    if (this.seqs) return this.seqs;
    const count = this.table.count();
    const cut = count > this.max ? this.table.dropOldest(count - this.target()).length : 0;
    this.seqs = new Map(this.table.rows());
    if (cut > 0) this.onDropped?.(cut, this.seqs.size);
    return this.seqs;
  }

  get size(): number {
    return this.built().size;
  }

  has(requestId: string): boolean {
    return this.built().has(requestId);
  }

  get(requestId: string): number | undefined {
    return this.built().get(requestId);
  }

  /**
   * Records rows a commit wrote, in their order (a later row for an id wins), then drops the oldest
   * past the bound. The DELETE runs outside the commit's transaction, as the age pruning does: a
   * failure (a full disk) leaves them for the next commit to try again.
   */
  committed(rows: Iterable<readonly [string, number]>): void {
    const seqs = this.built();
    for (const [id, seq] of rows) seqs.set(id, seq);
    const excess = this.excess(seqs.size);
    if (excess === 0) return;
    let gone: [string, number][];
    try {
      gone = this.table.dropOldest(excess);
    } catch {
      return;
    }
    this.forget(gone);
    this.onDropped?.(gone.length, seqs.size);
  }

  /** Forgets rows deleted from the table (an id whose row was replaced since keeps its newer row). */
  forget(rows: Iterable<readonly [string, number]>): void {
    if (this.seqs) for (const [id, seq] of rows) if (this.seqs.get(id) === seq) this.seqs.delete(id);
  }

  /** 15/16 of `max`: where a trimming stops. */
  private target(): number {
    return Math.floor((this.max * 15) / 16);
  }

  /**
   * How many of the oldest rows to delete: none until over `max`, then, commit after commit, those
   * over `max` and up to `DROP_CHUNK` more, until down to 15/16 of it.
   */
  private excess(count: number): number {
    if (count > this.max) this.trimming = true;
    if (!this.trimming) return 0;
    const toTarget = count - this.target();
    const n = Math.max(count - this.max, Math.min(toTarget, DROP_CHUNK));
    if (n >= toTarget) this.trimming = false; // down to 15/16: none again until over `max`
    return Math.max(n, 0);
  }
}
