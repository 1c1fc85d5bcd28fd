/**
 * The statements PostgreSQL answers the CLI's reads with (storage.ts `SummaryReader`), each one
 * statement and so one snapshot.
 */

/** A feasible trial (as SQLite's FEASIBLE and domain/objectives.ts): no constraint value above 0. */
const PG_FEASIBLE =
  "(t.constraint_values IS NULL OR NOT EXISTS (SELECT 1 FROM json_array_elements_text(t.constraint_values::json) e WHERE e::DOUBLE PRECISION > 0))";

/** A COMPLETE trial of study `sid` with a value, not NaN, feasible (`guard`: a test on the outer row, or ""). */
const valued = (sid: string, guard: string) =>
  `${guard}t.study_id = ${sid} AND t.state = 'COMPLETE' AND t.value IS NOT NULL AND t.value <> 'NaN'::DOUBLE PRECISION AND ${PG_FEASIBLE}`;

/**
 * The best trial of study `sid` (ties: the lower number) as a subquery, walking the `trials_by_value`
 * index (study_id, state, value, number). Minimizing, its order is the index's. Maximizing, ORDER BY
 * value DESC, number ASC is not (walked backwards it gives number DESC): PostgreSQL walked it
 * backwards and sorted each value's trials by number, all of them when many share the best value (a
 * maximized accuracy stuck at 1.0: 100,000 such trials took 24-38 ms per study, four of them 150 ms
 * in one listing: docs/BENCHMARKS.md "A maximized study's best trial among many ties"). So the best
 * value is found first (one step backwards), then the lowest number among its trials (one step
 * forwards within that value). BETWEEN, not `=`: an equality makes value a constant of the ORDER BY,
 * and the planner is then free to walk the (study_id, number) index instead, past every trial below
 * the best value's first one (it chose that index in a scalar-subquery form of this query).
 */
const bestSql = (direction: "minimize" | "maximize", sid: string, guard: string) =>
  direction === "minimize"
    ? `SELECT t.* FROM trials t WHERE ${valued(sid, guard)} ORDER BY t.value ASC, t.number ASC LIMIT 1`
    : `SELECT w.* FROM (SELECT t.value AS v FROM trials t WHERE ${valued(sid, guard)} ORDER BY t.value DESC LIMIT 1) best
        CROSS JOIN LATERAL (SELECT t.* FROM trials t WHERE ${valued(sid, "")} AND t.value BETWEEN best.v AND best.v
                             ORDER BY t.value ASC, t.number ASC LIMIT 1) w`;

/**
 * Counts by state (kept by tuneport_commit) and the best feasible COMPLETE trial (ties: the lower number,
 * walking the `trials_by_value` index) in one statement, one snapshot.
 */
const summarySql = (order: "ASC" | "DESC") => `
  SELECT (SELECT json_object_agg(c.state, c.n) FROM study_state_counts c WHERE c.study_id = $1) AS counts,
         b.*,
         (SELECT json_agg(json_build_array(i.step, i.value) ORDER BY i.step) FROM intermediate_values i WHERE i.trial_id = b.id) AS iv
    FROM (SELECT 1) one
    LEFT JOIN LATERAL (${bestSql(order === "ASC" ? "minimize" : "maximize", "$1", "")}) b ON TRUE`;
export const SUMMARY_SQL = { minimize: summarySql("ASC"), maximize: summarySql("DESC") };

/**
 * `SUMMARY_SQL` and the define-by-run pairs (`distinctDistributions`' rows, as [name, distribution]
 * pairs in the same order) of several studies in one statement, one row per study: $1 the study ids,
 * $2 their directions. The best trial is found by index steps per study (`bestSql`), in its direction's
 * order (the other branch's `s.dir` test is a one-time filter: never walked).
 */
export const SUMMARIES_SQL = `
  SELECT s.sid,
         (SELECT json_object_agg(c.state, c.n) FROM study_state_counts c WHERE c.study_id = s.sid) AS counts,
         (SELECT json_agg(json_build_array(d.name, d.distribution) ORDER BY d.first_number, d.name)
            FROM study_param_distributions d WHERE d.study_id = s.sid) AS dists,
         b.*,
         (SELECT json_agg(json_build_array(i.step, i.value) ORDER BY i.step) FROM intermediate_values i WHERE i.trial_id = b.id) AS iv
    FROM unnest($1::bigint[], $2::text[]) AS s(sid, dir)
    LEFT JOIN LATERAL (
      (${bestSql("minimize", "s.sid", "s.dir = 'minimize' AND ")})
      UNION ALL
      (${bestSql("maximize", "s.sid", "s.dir = 'maximize' AND ")})) b ON TRUE`;

/** Finite: NaN sorts above 'Infinity' in PostgreSQL, so the upper bound excludes it too. */
const finite = (c: string) => `${c} > '-Infinity'::float8 AND ${c} < 'Infinity'::float8`;

/**
 * The best report (rows `k = 'r'`; ties: the lower trial number, then the earlier step) and the best
 * COMPLETE value of a trial that reported nothing finite among those at least as good (`k = 'c'`,
 * the value index walked that far): `SummaryReader.bestReported` picks between them. $1: study id.
 */
const bestReportSql = (direction: "minimize" | "maximize") => {
  const [ord, cmp, worst] = direction === "minimize" ? ["ASC", "<=", "Infinity"] : ["DESC", ">=", "-Infinity"];
  return `WITH r AS (SELECT t.number, i.step, i.value FROM trials t JOIN intermediate_values i ON i.trial_id = t.id
                      WHERE t.study_id = $1 AND ${finite("i.value")} ORDER BY i.value ${ord}, t.number, i.step LIMIT 1)
          SELECT number, step, value, 'r' AS k FROM r
          UNION ALL
          (SELECT number, NULL::float8, value, 'c' FROM trials t WHERE study_id = $1 AND state = 'COMPLETE' AND ${finite("value")}
             AND value ${cmp} COALESCE((SELECT value FROM r), '${worst}'::float8)
             AND NOT EXISTS (SELECT 1 FROM intermediate_values i WHERE i.trial_id = t.id AND ${finite("i.value")})
             ORDER BY value ${ord}, number LIMIT 1)`;
};
export const BEST_REPORT_SQL = { minimize: bestReportSql("minimize"), maximize: bestReportSql("maximize") };

/**
 * A two-objective Pareto front (postgres-storage.ts `quickFront`): in minimisation form ($2, $3: the
 * signs) and lexicographic order, a point is dominated exactly when a distinct point before it has a
 * second value at most its own (domain/objectives.ts `paretoFront`'s rule; equal points share their
 * fate). The running minimum is taken over the distinct points with a frame that only grows (`ROWS …
 * 1 PRECEDING`), which PostgreSQL aggregates incrementally — a frame with `EXCLUDE GROUP` is
 * aggregated afresh for every row, O(n²): minutes at 100,000 trials. Rows: the front's trials with
 * their intermediates (one row of NULLs when none), each with the counts of COMPLETE and infeasible
 * COMPLETE trials. $1: study id.
 */
export const QUICK_FRONT_SQL = `
  WITH c AS MATERIALIZED (
    SELECT t.number, t.objective_values::json AS ov, ${PG_FEASIBLE} AS feasible
      FROM trials t WHERE t.study_id = $1 AND t.state = 'COMPLETE'),
  f AS MATERIALIZED (SELECT number, (ov->>0)::float8 * $2 AS a, (ov->>1)::float8 * $3 AS b FROM c WHERE feasible AND json_array_length(ov) = 2),
  g AS (SELECT a, b, min(b) OVER (ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS m FROM (SELECT DISTINCT a, b FROM f) d),
  front AS (SELECT f.number FROM f JOIN g USING (a, b) WHERE g.m IS NULL OR g.b < g.m)
  SELECT (SELECT count(*) FROM c WHERE NOT feasible) AS infeasible, (SELECT count(*) FROM c) AS complete, t.*,
         (SELECT json_agg(json_build_array(i.step, i.value) ORDER BY i.step) FROM intermediate_values i WHERE i.trial_id = t.id) AS iv
    FROM (SELECT 1) one LEFT JOIN trials t ON t.study_id = $1 AND t.number IN (SELECT number FROM front)
   ORDER BY t.number`;

/**
 * The first `limit` trials of study $1 in state `state` (placeholders) with a value, by value DESC,
 * number ASC (postgres-storage.ts `trialPage`, maximizing), in index steps whatever the ties. That
 * order is not the `trials_by_value` index's (walked backwards it gives number DESC), and PostgreSQL
 * read and sorted every trial with the page's values: a maximized accuracy stuck at 1.0, 100,000
 * such trials, 58 ms for a page of 20 (docs/BENCHMARKS.md "A page of trials by value among many ties").
 * So the page's lowest value (`edge`) is found first, `limit` steps backwards (the lowest value when
 * fewer); then the trials above it, fewer than `limit`, from the same walk (filtered, not an index
 * condition `value > edge`: estimated at a third of the study, that was a scan of all of it), sorted,
 * and those of it by number (forwards within it, BETWEEN as in `bestSql`), merged. `OFFSET 0` keeps
 * `edge` one row computed once (pulled up, its two walks were repeated for each use).
 */
export const maximizedPageSql = (state: string, limit: string): string => {
  const valued = `t.study_id = $1 AND t.state = ${state} AND t.value IS NOT NULL`;
  return `(SELECT w.* FROM
     (SELECT COALESCE(
        (SELECT t.value FROM trials t WHERE ${valued} ORDER BY t.value DESC OFFSET GREATEST((${limit})::BIGINT - 1, 0) LIMIT 1),
        (SELECT t.value FROM trials t WHERE ${valued} ORDER BY t.value ASC LIMIT 1)) AS v OFFSET 0) edge
     CROSS JOIN LATERAL (
       (SELECT top.* FROM (SELECT t.* FROM trials t WHERE ${valued} ORDER BY t.value DESC LIMIT ${limit}) top WHERE top.value > edge.v)
       UNION ALL
       (SELECT t.* FROM trials t WHERE ${valued} AND t.value BETWEEN edge.v AND edge.v ORDER BY t.value ASC, t.number ASC LIMIT ${limit})) w
     ORDER BY w.value DESC, w.number ASC LIMIT ${limit})`;
};

/**
 * A window of the studies' keys (`OwnershipStore.studyKeys`): `$1` the first creation time in seconds
 * (-Infinity: from the first), `$2` how many (NULL: all), `$3` the first creation time's bound in ms
 * (`studyKeysParams`). By the `studies_by_creation` index, the
 * first `$2` from `$1` on, then every study up to the last one's creation time (its ties, whose order
 * by name the service decides: PostgreSQL's collation is not JavaScript's UTF-16 order). `created_at /
 * 1000 >= $1` is the service's own comparison (IEEE division, as JavaScript's), the bound in ms beside
 * it only lets the index serve it. A page of list_studies read every study's key and sorted them all
 * (docs/BENCHMARKS.md "A page of list_studies among 10,000 studies").
 */
export const STUDY_KEYS_SQL = `
  SELECT name, created_at FROM studies WHERE created_at >= $3::FLOAT8 AND created_at / 1000 >= $1::FLOAT8
    AND ($2::BIGINT IS NULL OR created_at <= COALESCE((SELECT created_at FROM studies WHERE created_at >= $3::FLOAT8
      AND created_at / 1000 >= $1::FLOAT8 ORDER BY created_at OFFSET $2::BIGINT - 1 LIMIT 1), 'Infinity'::FLOAT8))`;

/** `STUDY_KEYS_SQL`'s parameters: from `fromS` (seconds; null: from the first), `count` keys (undefined: all). */
export function studyKeysParams(fromS: number | null, count: number | undefined): [string | number, number | null, string] {
  // The bound in ms computed here: a cursor's time is the client's to send, and past a double
  // (1e306 s) it is Infinity in JavaScript but an overflow error in PostgreSQL (INTERNAL for a bad cursor).
  return [fromS ?? "-Infinity", count ?? null, fromS === null ? "-Infinity" : String(fromS * 1000 - 1)];
}
