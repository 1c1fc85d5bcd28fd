/**
 * Summary rows on PostgreSQL (postgres-storage.ts `studySummary`, `studySummaries`): a study's counts
 * by state and best trial decoded from one row, and the batch read behind a listing of many studies.
 */
import type pg from "pg";
import type { Distribution } from "../../domain/distributions.js";
import { TRIAL_STATES, type TrialState } from "../../domain/trial.js";
import { type StudySummaryRow, type StudySummaryWithParams, type SummaryKey, type TrialRow, storedTrialOfRow } from "../storage.js";
import { SUMMARIES_SQL } from "./postgres-read-sql.js";

export interface PgTrialRow extends TrialRow {
  /** [step, value] pairs from json_agg (numbers may come back as text, NaN as null). */
  iv: [number | string | null, number | string | null][] | null;
}

/** A row's intermediates from its json_agg pairs (numbers may come back as text, NaN as null). */
export function intermediatesOf(iv: PgTrialRow["iv"]): { step: number; value: number }[] {
  return (iv ?? []).map(([step, value]) => ({ step: Number(step), value: value === null ? Number.NaN : Number(value) }));
}

/** The best trial's row (all null when there is none), the counts by state and the best trial's intermediates. */
export interface PgSummaryRow extends Omit<PgTrialRow, "id"> {
  id: number | null;
  counts: Record<string, number> | null;
}

/** `studySummary`'s answer from its row (`SUMMARY_SQL`, or one row of `SUMMARIES_SQL`). */
export function summaryOfRow(r: PgSummaryRow): StudySummaryRow {
  const counts = Object.fromEntries(TRIAL_STATES.map((st) => [st, Number(r.counts?.[st] ?? 0)])) as Record<TrialState, number>;
  if (r.id === null) return { counts, best: null };
  return { counts, best: storedTrialOfRow(r as PgTrialRow, intermediatesOf(r.iv)) };
}

/**
 * Several studies' summaries and define-by-run pairs in one statement (`SUMMARIES_SQL`), so one
 * snapshot, by study id. Read one study after another (two statements each), a listing of 1,000
 * studies of another server took 2,000 round trips.
 */
export async function readSummaries(pool: pg.Pool, studies: readonly SummaryKey[]): Promise<Map<number, StudySummaryWithParams>> {
  const out = new Map<number, StudySummaryWithParams>();
  if (studies.length === 0) return out;
  const { rows } = await pool.query<PgSummaryRow & { sid: number | string; dists: [string, string][] | null }>(SUMMARIES_SQL, [
    studies.map((s) => s.id),
    studies.map((s) => s.direction),
  ]);
  for (const r of rows) {
    const distributions = (r.dists ?? []).map(([name, d]) => ({ [name]: JSON.parse(d) as Distribution }));
    out.set(Number(r.sid), { ...summaryOfRow(r), distributions });
  }
  return out;
}
