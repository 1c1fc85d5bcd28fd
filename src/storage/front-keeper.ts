/**
 * The Pareto front of each multi-objective study, kept on write by a storage so that a reader
 * (`tuneport studies show`) reads the front's few rows instead of every COMPLETE trial's
 * objectives (issue 19: 1.1 s at 100,000 trials, a third of it parsing rows, a quarter the front).
 *
 * The storage calls `prepare` before it writes a trial row and `onTrial` after, inside the write's
 * transaction, and `forget` when a study is deleted; the keeper writes the
 * membership changes through `FrontRows`. The rules are domain/objectives.ts's (`paretoFront`):
 * the front is the set of COMPLETE feasible trials no other one dominates, equal points all on it.
 *
 * A trial entering the front needs only the current front (a point dominated by any trial is
 * dominated by one on the front, dominance being transitive): O(|front|) per COMPLETE trial. A
 * member leaving it (its state or values changed, which the service does not do today) lets trials
 * it dominated back, so the study's front is then computed again from its rows.
 *
 * The keeper caches each study's front in memory, loaded on first use. When a transaction rolls
 * back, the storage calls `reset` and the caches are loaded again from the rolled-back rows.
 *
 * A front of more than `FRONT_MAX` members (a study whose trials nearly all trade off exactly, or
 * with many objectives) is dropped for good: its rows go, the study is marked (`FrontRows.drop`),
 * and its readers compute its front from the trials as before. Each COMPLETE trial then costs at
 * most `FRONT_MAX` dominance checks, an import at most `FRONT_MAX`² / 2 in all, and a recomputation
 * (a backfill, a member that left) O(n · FRONT_MAX) at worst (`paretoFrontWithin` stops past it).
 */
import { type Direction } from "../domain/trial.js";
import { dominates, isFeasibleVector, minimisationForm, paretoFrontWithin, sameValues } from "../domain/objectives.js";
import type { ObjectiveRow, StoredTrial } from "./storage.js";

/** What the keeper reads and writes (the storage's statements, in its open transaction). */
export interface FrontRows {
  /** The study's directions (from its config), or null when the study does not exist. */
  directions(studyId: number): readonly Direction[] | null;
  /** The objectives of the study's kept front members. */
  members(studyId: number): ObjectiveRow[];
  /** The objectives of every COMPLETE trial of the study (for a recomputation). */
  complete(studyId: number): ObjectiveRow[];
  add(studyId: number, number: number): void;
  remove(studyId: number, number: number): void;
  clear(studyId: number): void;
  /** Whether the study's front was dropped (see the file comment). */
  dropped(studyId: number): boolean;
  /** Drops the study's front: its rows go and it is marked as not kept. */
  drop(studyId: number): void;
}

/** Most members a kept front has; a bigger one is dropped (see the file comment). */
export const FRONT_MAX = 5000;

/** A dropped front's cache entry. */
const DROPPED: Member[] = [];

interface Member {
  readonly number: number;
  readonly values: readonly number[];
  /** In minimisation form. */
  readonly point: readonly number[];
}

export class FrontKeeper {
  /** Directions by study id (a one-objective study's too, so that its trials cost one lookup). */
  private readonly directions = new Map<number, readonly Direction[] | null>();
  private readonly fronts = new Map<number, Member[]>();

  constructor(private readonly rows: FrontRows) {}

  /** A trial row was written (inserted or updated) in the current transaction. */
  onTrial(t: Pick<StoredTrial, "studyId" | "number" | "state" | "values" | "constraints">): void {
    const directions = this.directionsOf(t.studyId);
    if (directions === null || directions.length < 2) return;
    const front = this.frontOf(t.studyId, directions);
    if (front === DROPPED) return;
    const candidate = t.state === "COMPLETE" && t.values !== null && t.values.length === directions.length && isFeasibleVector(t.constraints);
    const at = front.findIndex((m) => m.number === t.number);
    if (at >= 0) {
      if (candidate && sameValues((front[at] as Member).values, t.values as number[])) return;
      this.recompute(t.studyId, directions);
      return;
    }
    if (!candidate) return;
    const point = minimisationForm(directions, t.values as number[]);
    for (const m of front) if (dominates(m.point, point)) return;
    let kept = 0;
    for (const m of front) {
      if (dominates(point, m.point)) this.rows.remove(t.studyId, m.number);
      else front[kept++] = m;
    }
    front.length = kept;
    front.push({ number: t.number, values: [...(t.values as number[])], point });
    this.rows.add(t.studyId, t.number);
    if (front.length > FRONT_MAX) this.drop(t.studyId);
  }

  /**
   * Loads the study's front before a row of it is written, so that `onTrial` compares the row
   * with the front as it was (loaded after the write, the front would hold the new row's values).
   */
  prepare(studyId: number): void {
    const directions = this.directionsOf(studyId);
    if (directions !== null && directions.length >= 2) this.frontOf(studyId, directions);
  }

  /** A study was created (its directions are known before any trial row). */
  onStudy(studyId: number, directions: readonly Direction[]): void {
    this.directions.set(studyId, [...directions]);
  }

  /** A study was deleted (its rows go with it). */
  forget(studyId: number): void {
    this.directions.delete(studyId);
    this.fronts.delete(studyId);
  }

  /** Drops every cache (after a rolled-back transaction). */
  reset(): void {
    this.directions.clear();
    this.fronts.clear();
  }

  /** Writes the study's front from its COMPLETE rows (a migration's backfill, or a member that left). */
  recompute(studyId: number, directions: readonly Direction[]): void {
    this.rows.clear(studyId);
    const members = paretoFrontWithin(directions, this.rows.complete(studyId), FRONT_MAX);
    if (members === null) return this.drop(studyId);
    for (const m of members) this.rows.add(studyId, m.number);
    this.fronts.set(studyId, members.map((m) => memberOf(directions, m)));
  }

  private drop(studyId: number): void {
    this.rows.drop(studyId);
    this.fronts.set(studyId, DROPPED);
  }

  private directionsOf(studyId: number): readonly Direction[] | null {
    let d = this.directions.get(studyId);
    if (d === undefined) this.directions.set(studyId, (d = this.rows.directions(studyId)));
    return d;
  }

  private frontOf(studyId: number, directions: readonly Direction[]): Member[] {
    let front = this.fronts.get(studyId);
    if (front === undefined)
      this.fronts.set(studyId, (front = this.rows.dropped(studyId) ? DROPPED : this.rows.members(studyId).map((m) => memberOf(directions, m))));
    return front;
  }
}

function memberOf(directions: readonly Direction[], r: ObjectiveRow): Member {
  const values = r.values as number[];
  return { number: r.number, values, point: minimisationForm(directions, values) };
}
