/**
 * Turns a current SQLite file's schema back for migration tests, so that an older user_version can
 * be set and the migrations from there run again:
 * - `dropSchema9`: the counts of trials with a value (study_state_counts.valued), the count triggers
 *   back to schema 5's;
 * - `dropSchema8`: that, and the writer row's table (sqlite-storage.ts `claimWriter`);
 * - `dropSchema7`: that, and the (parameter, distribution) pairs and their triggers go (migration 7 builds them
 *   again from the trials, and drops schema 5's distribution lists if they are there);
 * - `dropSchema6`: that, and the kept Pareto fronts and the infeasible counts with their triggers;
 * - `dropSchema5`: that, and the read-side counts, their triggers and the value index.
 */
import type Database from "better-sqlite3";

export function dropSchema9(db: Database.Database): void {
  db.exec(`
    DROP TRIGGER trials_count_insert; DROP TRIGGER trials_count_update; DROP TRIGGER trials_count_delete;
    ALTER TABLE study_state_counts DROP COLUMN valued;
    CREATE TRIGGER trials_count_insert AFTER INSERT ON trials BEGIN
      INSERT INTO study_state_counts (study_id, state, n) VALUES (new.study_id, new.state, 1) ON CONFLICT (study_id, state) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER trials_count_update AFTER UPDATE OF state ON trials WHEN old.state IS NOT new.state BEGIN
      UPDATE study_state_counts SET n = n - 1 WHERE study_id = old.study_id AND state = old.state;
      INSERT INTO study_state_counts (study_id, state, n) VALUES (new.study_id, new.state, 1) ON CONFLICT (study_id, state) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER trials_count_delete AFTER DELETE ON trials BEGIN
      UPDATE study_state_counts SET n = n - 1 WHERE study_id = old.study_id AND state = old.state;
    END;`);
}

export function dropSchema8(db: Database.Database): void {
  dropSchema9(db);
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
