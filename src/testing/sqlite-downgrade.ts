/**
 * Turns a current SQLite file's schema back for migration tests: what schema 5 added (the read-side
 * counts, distribution lists, their triggers and the value index) goes, so that an older
 * user_version can be set and the migrations from there run again.
 */
import type Database from "better-sqlite3";

export function dropSchema5(db: Database.Database): void {
  db.exec(`
    DROP TRIGGER trials_count_insert; DROP TRIGGER trials_count_update; DROP TRIGGER trials_count_delete;
    DROP TRIGGER trials_distributions_insert; DROP TRIGGER trials_distributions_update;
    DROP TABLE study_state_counts; DROP TABLE study_distributions; DROP INDEX trials_by_value;`);
}
