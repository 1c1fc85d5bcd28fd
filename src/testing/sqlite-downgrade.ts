/**
 * Turns a current SQLite file's schema back for migration tests, so that an older user_version can
 * be set and the migrations from there run again:
 * - `dropSchema6`: the kept Pareto fronts and the infeasible counts with their triggers go;
 * - `dropSchema5`: that, and the read-side counts, distribution lists, their triggers and the value index.
 */
import type Database from "better-sqlite3";

export function dropSchema6(db: Database.Database): void {
  db.exec(`
    DROP TRIGGER trials_infeasible_insert; DROP TRIGGER trials_infeasible_update; DROP TRIGGER trials_infeasible_delete;
    DROP TABLE pareto_front; DROP TABLE pareto_front_dropped; DROP TABLE study_infeasible;`);
}

export function dropSchema5(db: Database.Database): void {
  dropSchema6(db);
  db.exec(`
    DROP TRIGGER trials_count_insert; DROP TRIGGER trials_count_update; DROP TRIGGER trials_count_delete;
    DROP TRIGGER trials_distributions_insert; DROP TRIGGER trials_distributions_update;
    DROP TABLE study_state_counts; DROP TABLE study_distributions; DROP INDEX trials_by_value;`);
}
