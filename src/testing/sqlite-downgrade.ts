/**
 * Turns a current SQLite file's schema back for migration tests, so that an older user_version can
 * be set and the migrations from there run again:
 * - `dropSchema8`: the writer row's table (sqlite-storage.ts `claimWriter`);
 * - `dropSchema7`: that, and the (parameter, distribution) pairs and their triggers go (migration 7 builds them
 *   again from the trials, and drops schema 5's distribution lists if they are there);
 * - `dropSchema6`: that, and the kept Pareto fronts and the infeasible counts with their triggers;
 * - `dropSchema5`: that, and the read-side counts, their triggers and the value index.
 */
import type Database from "better-sqlite3";

export function dropSchema8(db: Database.Database): void {
  db.exec("DROP TABLE writer;");
}

export function dropSchema7(db: Database.Database): void {
  dropSchema8(db);
  db.exec(`DROP TRIGGER trials_param_distributions_insert; DROP TRIGGER trials_param_distributions_update; DROP TABLE study_param_distributions;`);
}

export function dropSchema6(db: Database.Database): void {
  dropSchema7(db);
  db.exec(`
    DROP TRIGGER trials_infeasible_insert; DROP TRIGGER trials_infeasible_update; DROP TRIGGER trials_infeasible_delete;
    DROP TABLE pareto_front; DROP TABLE pareto_front_dropped; DROP TABLE study_infeasible;`);
}

export function dropSchema5(db: Database.Database): void {
  dropSchema6(db);
  db.exec(`
    DROP TRIGGER trials_count_insert; DROP TRIGGER trials_count_update; DROP TRIGGER trials_count_delete;
    DROP TABLE study_state_counts; DROP INDEX trials_by_value;`);
}
