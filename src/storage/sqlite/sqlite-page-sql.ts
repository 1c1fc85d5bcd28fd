/** SQLite's statement for a page of trials by value (sqlite-storage.ts `trialPage`). */
import type Database from "better-sqlite3";

/**
 * The first `limit` trials of the study in the states with a value, by value (DESC maximizing), then
 * number, in index steps whatever the ties: one walk of the `trials_by_value` index (study_id, state,
 * value, number) per state, merged. One statement over every state (`state IN (…)`) could not walk
 * the index in order, and SQLite read and sorted every trial with a value (100,000 tied trials: 23 ms
 * for a page of 20; docs/BENCHMARKS.md "A page of trials by value among many ties"). Maximizing, a
 * state's order (value DESC, number ASC) is not its index's either way: as on PostgreSQL
 * (postgres-read-sql.ts `maximizedPageSql`), the page's lowest value (`edge`) first, `limit` steps
 * backwards (the lowest value when fewer), then the trials above it, from the same walk, and those of
 * it by number. SQLite holds no NaN (stored as NULL), so every value compares.
 */
export function valuePageSql(states: number, direction: "minimize" | "maximize"): string {
  const lim = "@lim";
  const byState = (i: number) => {
    const of = `study_id = @sid AND state = @s${i} AND value IS NOT NULL`;
    if (direction === "minimize") return `SELECT * FROM (SELECT * FROM trials WHERE ${of} ORDER BY value ASC, number ASC LIMIT ${lim})`;
    const edge = `COALESCE((SELECT value FROM trials WHERE ${of} ORDER BY value DESC LIMIT 1 OFFSET max(${lim} - 1, 0)),
      (SELECT value FROM trials WHERE ${of} ORDER BY value ASC LIMIT 1))`;
    return `SELECT * FROM (SELECT * FROM trials WHERE ${of} ORDER BY value DESC LIMIT ${lim}) WHERE value > ${edge}
      UNION ALL SELECT * FROM (SELECT * FROM trials WHERE ${of} AND value = ${edge} ORDER BY value ASC, number ASC LIMIT ${lim})`;
  };
  const order = `value ${direction === "minimize" ? "ASC" : "DESC"}, number ASC`;
  return `SELECT * FROM (${Array.from({ length: states }, (_, i) => byState(i)).join(" UNION ALL ")}) ORDER BY ${order} LIMIT ${lim}`;
}

/** The rows of `valuePageSql` for study `studyId` (named parameters: better-sqlite3 binds no numbered ones from a list). */
export function valuePage(db: Database.Database, studyId: number, states: readonly string[], direction: "minimize" | "maximize", limit: number): unknown[] {
  return db.prepare(valuePageSql(states.length, direction)).all({ sid: studyId, lim: limit, ...Object.fromEntries(states.map((s, i) => [`s${i}`, s])) });
}
