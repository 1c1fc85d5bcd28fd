/**
 * The *record* trials of a multi-objective study, kept on write so that reads of a big study (the
 * Pareto front, its hypervolume history, the summary's front facts) need not visit every trial
 * (issue 19: `best_trials` took 450 ms and `study_summary` 650 ms at 100,000 trials).
 *
 * A record is a COMPLETE, feasible trial with a value per objective that no such trial with a
 * lower number dominates. Both reads are functions of the records alone:
 * - the front is the records no other record dominates: a front member is a record, and a record
 *   dominated by any trial is dominated by a front member;
 * - `hypervolumeHistory` (domain/objectives.ts) changes only at records: a trial that a lower-numbered
 *   one dominates adds nothing to the hypervolume of the trials up to it, whatever the reference point.
 *
 * A trial entering is checked against the records with lower numbers only (if one of those
 * dominated it, a chain of lower-numbered dominators ends at a record), and removes the records with
 * higher numbers it dominates: O(|records|). A record that leaves (its state or values change, which
 * the service does not do today) lets others back, so the records are built again. A study's records
 * are few next to its trials (random search on bench/reads.mjs's two-objective trade-off: 100, 283
 * and 641 records at 1,000, 10,000 and 100,000 trials; built from scratch in ~40 ms at 100,000); a
 * study where most trials trade off exactly can have as many as trials, so past `MAX_RECORDS` the set
 * is dropped (`overflow`) and the reads visit every trial, as before.
 */
import { dominates, isFeasibleVector, minimisationForm, sameValues } from "../domain/objectives.js";
import type { Direction } from "../domain/trial.js";
import type { TrialRecord } from "./study-state.js";

/** Records kept at most; more and the reads go back to every trial (see the file comment). */
export const MAX_RECORDS = 2000;

export interface FrontRecords {
  readonly directions: readonly Direction[];
  /** Ascending trial numbers. */
  readonly records: TrialRecord[];
  /** Each record's values in minimisation form. */
  readonly points: number[][];
  /** More than `MAX_RECORDS`: the set is not kept. */
  overflow: boolean;
}

/** The records of `trials` (in number order), from scratch. */
export function buildRecords(directions: readonly Direction[], trials: readonly TrialRecord[]): FrontRecords {
  const fr: FrontRecords = { directions, records: [], points: [], overflow: false };
  fill(fr, trials);
  return fr;
}

/** Keeps `fr` up to date after `next` replaced `prev` (undefined: appended) in `trials`. */
export function updateRecords(fr: FrontRecords, trials: readonly TrialRecord[], prev: TrialRecord | undefined, next: TrialRecord): void {
  if (fr.overflow) return;
  const at = prev !== undefined && isRecordCandidate(fr.directions, prev) ? indexOf(fr.records, next.number) : -1;
  const candidate = isRecordCandidate(fr.directions, next);
  if (at >= 0) {
    if (candidate && sameValues((prev as TrialRecord).values as number[], next.values as number[])) {
      fr.records[at] = next;
      return;
    }
    fr.records.length = 0;
    fr.points.length = 0;
    fill(fr, trials);
    return;
  }
  if (!candidate) return;
  const p = minimisationForm(fr.directions, next.values as number[]);
  const pos = lowerBound(fr.records, next.number);
  for (let i = 0; i < pos; i++) if (dominates(fr.points[i] as number[], p)) return;
  let kept = pos;
  for (let i = pos; i < fr.records.length; i++)
    if (!dominates(p, fr.points[i] as number[])) {
      fr.records[kept] = fr.records[i] as TrialRecord;
      fr.points[kept++] = fr.points[i] as number[];
    }
  fr.records.length = kept;
  fr.points.length = kept;
  fr.records.splice(pos, 0, next);
  fr.points.splice(pos, 0, p);
  if (fr.records.length > MAX_RECORDS) drop(fr);
}

/** What a record may be: COMPLETE, feasible, a value per objective. */
function isRecordCandidate(directions: readonly Direction[], t: TrialRecord): boolean {
  return t.state === "COMPLETE" && t.values !== null && t.values.length === directions.length && isFeasibleVector(t.constraints);
}

/** Appends the records of `trials` in number order (every earlier record has a lower number). */
function fill(fr: FrontRecords, trials: readonly TrialRecord[]): void {
  for (const t of trials) {
    if (!isRecordCandidate(fr.directions, t)) continue;
    const p = minimisationForm(fr.directions, t.values as number[]);
    if (fr.points.some((q) => dominates(q, p))) continue;
    fr.records.push(t);
    fr.points.push(p);
    if (fr.records.length > MAX_RECORDS) return drop(fr);
  }
}

function drop(fr: FrontRecords): void {
  fr.overflow = true;
  fr.records.length = 0;
  fr.points.length = 0;
}

/** The first index whose record's number is ≥ `number`. */
function lowerBound(records: readonly TrialRecord[], number: number): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((records[mid] as TrialRecord).number < number) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function indexOf(records: readonly TrialRecord[], number: number): number {
  const i = lowerBound(records, number);
  return i < records.length && (records[i] as TrialRecord).number === number ? i : -1;
}
