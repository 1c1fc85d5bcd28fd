/**
 * What wait_for_progress counts as finished: trials finished by an evaluation (a worker's or an
 * agent's tell, a prune, a lost lease). A queued trial another agent cancelled (cancel_trial, a
 * FAIL) and a result recorded with add_trial also raise the study's COMPLETE/PRUNED/FAIL counts,
 * and ended a wait early with "1 trial finished" listing the cancelled FAIL; they are counted
 * apart.
 *
 * Both are known by their system attributes (`cancelled`, `added`). A trial cancelled during the
 * wait was queued at its start or created since, and an added one was created since, so only the
 * trials from the oldest queued one (or the first new one) on are read: at the start, and again
 * each time the study's finished count grows.
 */
import type { StudyView } from "../../../service/views.js";
import type { McpBackend } from "../backend.js";

/** The trials finished since the wait began, by how. */
export interface FinishTally {
  /** Finished by an evaluation: what the wait waits for. */
  evaluated: number;
  /** Queued trials cancelled with cancel_trial. */
  cancelled: number;
  /** Results recorded with add_trial. */
  added: number;
}

/** Trials per page read (as wait_for_progress's listing, never a whole big study in one reply) and the pages read at most: trials past 100,000 from the oldest queued one are not read. */
const SCAN_PAGE = 1000;
const MAX_SCAN_PAGES = 100;

/** Counts a study's finishes from the state it had when a wait began (see the file comment). */
export class FinishCounter {
  /**
   * The trials below `settled.upTo` are finished and were read: their counts cannot change (a
   * finished trial stays as it is), so each later read starts there, not at the oldest queued
   * trial: a wait beside fast workers re-read every trial since its start at each finish.
   */
  private settled: Scan;

  private constructor(
    private readonly backend: McpBackend,
    private readonly study: string,
    /** The study's trial count at the start: added trials are numbered from here. */
    private readonly startTrials: number,
    private readonly startFinished: number,
    private readonly startCancelled: number,
    settled: Scan,
  ) {
    this.settled = settled;
  }

  /**
   * The counter of a wait that begins with the study as `first` shows it (read first, so a trial
   * finishing just after the wait was called is counted). A queued trial cancelled between that
   * read and this one's is taken as cancelled before the wait (so its FAIL counts as finished):
   * a window of two reads.
   */
  static async begin(backend: McpBackend, study: string, first: StudyView): Promise<FinishCounter> {
    let from = first.n_trials;
    if ((first.counts.WAITING ?? 0) > 0) {
      const oldest = await backend.call("trials", { study, states: ["WAITING"], order_by: "number", limit: 1, fields: ["state"] });
      from = Math.min(from, oldest.trials[0]?.number ?? from);
    }
    const start = await scan(backend, study, { upTo: from, cancelled: 0, added: 0 }, first.n_trials);
    return new FinishCounter(backend, study, first.n_trials, finishedCount(first), start.cancelled, start.settled);
  }

  /** The finishes since the start, with the study as `now` shows it. */
  async tally(now: StudyView): Promise<FinishTally> {
    const all = finishedCount(now) - this.startFinished;
    if (all <= 0) return { evaluated: 0, cancelled: 0, added: 0 };
    const seen = await scan(this.backend, this.study, this.settled, this.startTrials);
    this.settled = seen.settled;
    const cancelled = Math.max(0, seen.cancelled - this.startCancelled);
    return { evaluated: Math.max(0, all - cancelled - seen.added), cancelled, added: seen.added };
  }
}

/** The counts of the trials read, from the first one read on. */
interface Scan {
  /** The first trial not counted in `cancelled` and `added`. */
  upTo: number;
  cancelled: number;
  added: number;
}

/** COMPLETE, PRUNED and FAIL trials: the study's finished count. */
export function finishedCount(s: { counts: Record<string, number> }): number {
  return (s.counts.COMPLETE ?? 0) + (s.counts.PRUNED ?? 0) + (s.counts.FAIL ?? 0);
}

/** Whether a trial view is a cancelled queued trial or an add_trial result (not an evaluation). */
export function notEvaluated(t: { system_attrs?: Record<string, unknown> }): boolean {
  return t.system_attrs?.cancelled === true || t.system_attrs?.added === true;
}

/**
 * The cancelled trials from `settled.upTo` on, and the added ones numbered `addedFrom` on, with
 * `settled`'s counts added; and the new settled prefix (up to the first unfinished trial).
 */
async function scan(backend: McpBackend, study: string, settled: Scan, addedFrom: number): Promise<Scan & { settled: Scan }> {
  const total = { ...settled };
  const next = { ...settled };
  let open = false;
  let cursor: string | null = null;
  for (let page = 0; page < MAX_SCAN_PAGES; page++) {
    const args = { study, order_by: "number" as const, fields: ["state" as const, "system_attrs" as const], limit: SCAN_PAGE };
    const got: { trials: { number: number; state?: string; system_attrs?: Record<string, unknown> }[]; next_cursor: string | null } = await backend.call(
      "trials",
      cursor === null ? { ...args, offset: settled.upTo } : { ...args, cursor },
    );
    for (const t of got.trials) {
      const cancelled = t.state === "FAIL" && t.system_attrs?.cancelled === true ? 1 : 0;
      const added = t.number >= addedFrom && t.system_attrs?.added === true ? 1 : 0;
      total.cancelled += cancelled;
      total.added += added;
      open ||= t.state === "WAITING" || t.state === "RUNNING";
      if (!open) Object.assign(next, { upTo: t.number + 1, cancelled: next.cancelled + cancelled, added: next.added + added });
    }
    cursor = got.next_cursor;
    if (cursor === null) break;
  }
  return { ...total, settled: next };
}
