/**
 * The SQLite schema: the ordered migrations (`PRAGMA user_version` counts them), the work a
 * migration does in JavaScript after its SQL, and the SQL pieces the storage shares with them.
 */
import type Database from "better-sqlite3";
import { type StudyConfig, upgradeStudyConfig } from "../../domain/trial.js";
import { FrontKeeper, type FrontRows } from "../front-keeper.js";
import { OBJECTIVE_COLUMNS, type TrialRow, objectiveRowOf } from "../storage.js";

/** Ordered migrations; index i upgrades user_version i → i+1. Never edit a released one. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE studies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    config      TEXT NOT NULL,
    user_attrs  TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
  );
  CREATE TABLE trials (
    id            INTEGER PRIMARY KEY,
    study_id      INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('WAITING','RUNNING','COMPLETE','PRUNED','FAIL')),
    params        TEXT NOT NULL,
    distributions TEXT NOT NULL,
    value         REAL,
    user_attrs    TEXT NOT NULL DEFAULT '{}',
    system_attrs  TEXT NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    lease_token   TEXT,
    lease_expires INTEGER,
    UNIQUE (study_id, number)
  );
  CREATE TABLE intermediate_values (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    step     REAL NOT NULL,
    value    REAL,
    PRIMARY KEY (trial_id, step)
  ) WITHOUT ROWID;
  -- One b-tree, no secondary index: every mutating request writes here, and pages written per
  -- commit are what a commit costs. Pruning by age scans the table, rarely.
  CREATE TABLE request_log (
    request_id TEXT PRIMARY KEY,
    op         TEXT NOT NULL,
    reply      BLOB NOT NULL,
    at         INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 2: studies can be stopped (stop_study / resume_study).
  `ALTER TABLE studies ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0;`,
  // 3: values are vectors (one per objective) and trials may carry constraint values. Both are
  // JSON arrays of numbers (JavaScript's shortest round-trip form), NULL when absent; `value`
  // stays values[0] of a one-objective study (NULL in a multi-objective one). Rows written before
  // have objective_values NULL: they read as [value] (`valuesOfRow`), not rewritten here, because
  // SQLite's JSON functions print REALs with 15 digits and the values must stay exact. Study
  // directions live in the config JSON (`upgradeStudyConfig`).
  `ALTER TABLE trials ADD COLUMN objective_values TEXT;
   ALTER TABLE trials ADD COLUMN constraint_values TEXT;`,
  // 4: the stored replies in arrival order, without an index. Request ids are random (128 bits
  // from the clients), so in the WITHOUT ROWID table of schema 1 each reply (300-700 bytes, six to a
  // page) landed on a random leaf and split one every few inserts: an ask+tell pair wrote 4.9 WAL
  // pages per request where its own rows fill 2-3 (docs/BENCHMARKS.md, "Server CPU per request").
  // Now a reply appends to the table's last page. The writer finds a stored reply through the
  // request id → seq map it keeps in memory anyway (`replyIds`, built from this table on the first
  // lookup), which also keeps one row per id; an index on request_id would put every request back
  // on a random page. Read-only connections, which never store replies, scan. PostgreSQL needs no
  // counterpart: its request_log is a heap in arrival order already.
  `CREATE TABLE request_log_v4 (
    seq        INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    op         TEXT NOT NULL,
    reply      BLOB NOT NULL,
    at         INTEGER NOT NULL
  );
  INSERT INTO request_log_v4 (request_id, op, reply, at) SELECT request_id, op, reply, at FROM request_log ORDER BY at, request_id;
  DROP TABLE request_log;
  ALTER TABLE request_log_v4 RENAME TO request_log;`,
  // 5: what `tuneport studies list|show|trials` read, kept on write so that they read a few rows
  // instead of every trial (issue 19: a 100,000-trial study's summary scanned 58 MB of rows):
  // - each study's trial count per state, by triggers in the writer's transaction;
  // - each distinct list of distributions a study's trials hold, with the first trial number that
  //   held it (the define-by-run parameters; a trial's list only ever grows, so a list no trial
  //   holds any more still names its parameters with the same distributions);
  // - an index by (study, state, value, number) of the trials with a value (an ask writes no entry):
  //   the best COMPLETE trial and pages by value walk it.
  `CREATE TABLE study_state_counts (
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    state    TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (study_id, state)
  ) WITHOUT ROWID;
  INSERT INTO study_state_counts (study_id, state, n) SELECT study_id, state, COUNT(*) FROM trials GROUP BY study_id, state;
  CREATE TRIGGER trials_count_insert AFTER INSERT ON trials BEGIN
    INSERT INTO study_state_counts (study_id, state, n) VALUES (new.study_id, new.state, 1)
      ON CONFLICT (study_id, state) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER trials_count_update AFTER UPDATE OF state ON trials WHEN old.state IS NOT new.state BEGIN
    UPDATE study_state_counts SET n = n - 1 WHERE study_id = old.study_id AND state = old.state;
    INSERT INTO study_state_counts (study_id, state, n) VALUES (new.study_id, new.state, 1)
      ON CONFLICT (study_id, state) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER trials_count_delete AFTER DELETE ON trials BEGIN
    UPDATE study_state_counts SET n = n - 1 WHERE study_id = old.study_id AND state = old.state;
  END;
  CREATE TABLE study_distributions (
    study_id      INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    distributions TEXT NOT NULL,
    first_number  INTEGER NOT NULL,
    PRIMARY KEY (study_id, distributions)
  ) WITHOUT ROWID;
  INSERT INTO study_distributions (study_id, distributions, first_number)
    SELECT study_id, distributions, MIN(number) FROM trials GROUP BY study_id, distributions;
  CREATE TRIGGER trials_distributions_insert AFTER INSERT ON trials BEGIN
    INSERT INTO study_distributions (study_id, distributions, first_number) VALUES (new.study_id, new.distributions, new.number)
      ON CONFLICT (study_id, distributions) DO UPDATE SET first_number = min(first_number, excluded.first_number);
  END;
  CREATE TRIGGER trials_distributions_update AFTER UPDATE OF distributions ON trials WHEN old.distributions IS NOT new.distributions BEGIN
    INSERT INTO study_distributions (study_id, distributions, first_number) VALUES (new.study_id, new.distributions, new.number)
      ON CONFLICT (study_id, distributions) DO UPDATE SET first_number = min(first_number, excluded.first_number);
  END;
  CREATE INDEX trials_by_value ON trials (study_id, state, value, number) WHERE value IS NOT NULL;`,
  // 6: what a multi-objective `tuneport studies show` reads, kept on write (issue 19: it read and
  // parsed every COMPLETE trial's objectives, 1.1 s at 100,000 trials):
  // - the Pareto front's members, written by the storage's `FrontKeeper` (front-keeper.ts) in the
  //   writer's transaction, and filled for existing studies by this migration's backfill
  //   (`BACKFILLS`): dominance over JSON vectors is not something a trigger does well; a study
  //   whose front outgrew `FRONT_MAX` members is listed in pareto_front_dropped instead, and its
  //   readers compute its front;
  // - each study's count of infeasible COMPLETE trials (some constraint > 0), by triggers.
  `CREATE TABLE pareto_front (
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    number   INTEGER NOT NULL,
    PRIMARY KEY (study_id, number)
  ) WITHOUT ROWID;
  CREATE TABLE pareto_front_dropped (
    study_id INTEGER PRIMARY KEY REFERENCES studies(id) ON DELETE CASCADE
  );
  CREATE TABLE study_infeasible (
    study_id INTEGER PRIMARY KEY REFERENCES studies(id) ON DELETE CASCADE,
    n        INTEGER NOT NULL
  );
  INSERT INTO study_infeasible (study_id, n)
    SELECT study_id, COUNT(*) FROM trials WHERE state = 'COMPLETE' AND ${infeasible("trials")} GROUP BY study_id;
  CREATE TRIGGER trials_infeasible_insert AFTER INSERT ON trials WHEN new.state = 'COMPLETE' AND ${infeasible("new")} BEGIN
    INSERT INTO study_infeasible (study_id, n) VALUES (new.study_id, 1) ON CONFLICT (study_id) DO UPDATE SET n = n + 1;
  END;
  CREATE TRIGGER trials_infeasible_update AFTER UPDATE OF state, constraint_values ON trials
    WHEN (old.state = 'COMPLETE' AND ${infeasible("old")}) IS NOT (new.state = 'COMPLETE' AND ${infeasible("new")}) BEGIN
    INSERT INTO study_infeasible (study_id, n) VALUES (new.study_id, CASE WHEN new.state = 'COMPLETE' AND ${infeasible("new")} THEN 1 ELSE -1 END)
      ON CONFLICT (study_id) DO UPDATE SET n = n + excluded.n;
  END;
  CREATE TRIGGER trials_infeasible_delete AFTER DELETE ON trials WHEN old.state = 'COMPLETE' AND ${infeasible("old")} BEGIN
    UPDATE study_infeasible SET n = n - 1 WHERE study_id = old.study_id;
  END;`,
  // 7: define-by-run distributions kept as (parameter, distribution) pairs, not whole maps. Each
  // `suggest` rewrites its trial's map, and schema 5 kept every distinct map a trial passed
  // through: a trial of k suggests stored maps of 1…k entries (10,000 names on one trial: 2.4 GB;
  // 30 trials × 300 names: 231 MB). Readers merge the pairs in order of first use, as they did maps.
  `CREATE TABLE study_param_distributions (
    study_id     INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    distribution TEXT NOT NULL,
    first_number INTEGER NOT NULL,
    PRIMARY KEY (study_id, name, distribution)
  ) WITHOUT ROWID;
  INSERT INTO study_param_distributions (study_id, name, distribution, first_number)
    SELECT t.study_id, j.key, j.value, MIN(t.number) FROM trials t, json_each(t.distributions) j GROUP BY t.study_id, j.key, j.value;
  DROP TRIGGER IF EXISTS trials_distributions_insert;
  DROP TRIGGER IF EXISTS trials_distributions_update;
  DROP TABLE IF EXISTS study_distributions;
  CREATE TRIGGER trials_param_distributions_insert AFTER INSERT ON trials BEGIN
    INSERT INTO study_param_distributions (study_id, name, distribution, first_number)
      SELECT new.study_id, key, value, new.number FROM json_each(new.distributions) WHERE true
      ON CONFLICT (study_id, name, distribution) DO UPDATE SET first_number = excluded.first_number WHERE excluded.first_number < first_number;
  END;
  CREATE TRIGGER trials_param_distributions_update AFTER UPDATE OF distributions ON trials WHEN old.distributions IS NOT new.distributions BEGIN
    INSERT INTO study_param_distributions (study_id, name, distribution, first_number)
      SELECT new.study_id, key, value, new.number FROM json_each(new.distributions) WHERE true
      ON CONFLICT (study_id, name, distribution) DO UPDATE SET first_number = excluded.first_number WHERE excluded.first_number < first_number;
  END;`,
  // 8: the writer holding the database, inside it (sqlite-storage.ts \`claimWriter\`). The \`.lock\`
  // file beside a path cannot see a second writer that opens the same file through a hard link
  // (another name, or another folder): that server ran until a UNIQUE constraint stopped it, its
  // memory and the database apart meanwhile. A row in the file itself is seen by every path to it.
  `CREATE TABLE writer (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    pid        INTEGER NOT NULL,
    started_at REAL NOT NULL
  );`,
  // 9: each study's count per state of the trials with a value, beside the count of all (as
  // PostgreSQL's study_state_counts.valued): the total of a page by value (sqlite-storage.ts
  // `trialPage`) was a COUNT(*) of the study's value index, every entry (about 5 ms at 100,000
  // trials; docs/BENCHMARKS.md "A page of trials by value among many ties"). A trial's value can
  // come or go without its state changing (a stored row rewritten whole), so the update trigger
  // watches both. SQLite holds no NaN (stored as NULL): "with a value" is `value IS NOT NULL`.
  `ALTER TABLE study_state_counts ADD COLUMN valued INTEGER NOT NULL DEFAULT 0;
  UPDATE study_state_counts SET valued = (SELECT COUNT(*) FROM trials t
    WHERE t.study_id = study_state_counts.study_id AND t.state = study_state_counts.state AND t.value IS NOT NULL);
  DROP TRIGGER trials_count_insert; DROP TRIGGER trials_count_update; DROP TRIGGER trials_count_delete;
  CREATE TRIGGER trials_count_insert AFTER INSERT ON trials BEGIN
    INSERT INTO study_state_counts (study_id, state, n, valued) VALUES (new.study_id, new.state, 1, new.value IS NOT NULL)
      ON CONFLICT (study_id, state) DO UPDATE SET n = n + 1, valued = valued + excluded.valued;
  END;
  CREATE TRIGGER trials_count_update AFTER UPDATE OF state, value ON trials
    WHEN old.state IS NOT new.state OR (old.value IS NULL) IS NOT (new.value IS NULL) BEGIN
    UPDATE study_state_counts SET n = n - 1, valued = valued - (old.value IS NOT NULL) WHERE study_id = old.study_id AND state = old.state;
    INSERT INTO study_state_counts (study_id, state, n, valued) VALUES (new.study_id, new.state, 1, new.value IS NOT NULL)
      ON CONFLICT (study_id, state) DO UPDATE SET n = n + 1, valued = valued + excluded.valued;
  END;
  CREATE TRIGGER trials_count_delete AFTER DELETE ON trials BEGIN
    UPDATE study_state_counts SET n = n - 1, valued = valued - (old.value IS NOT NULL) WHERE study_id = old.study_id AND state = old.state;
  END;`,
];

/**
 * Work a migration does in JavaScript after its SQL, in the same transaction, by the version it
 * upgrades to.
 */
export const BACKFILLS: Readonly<Record<number, (db: Database.Database) => void>> = {
  6: (db) => {
    const keeper = new FrontKeeper(frontRows(db));
    for (const r of db.prepare("SELECT id, config FROM studies").all() as { id: number; config: string }[]) {
      const { directions } = upgradeStudyConfig(JSON.parse(r.config) as StudyConfig);
      if (directions.length > 1) keeper.recompute(r.id, directions);
    }
  },
};

/** SQL: the row's constraints all hold (c <= 0), or it has none (domain/objectives.ts's feasibility). */
export const FEASIBLE = "(constraint_values IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(constraint_values) WHERE value > 0))";

/** The front keeper's statements on `db` (they run in the caller's transaction). */
export function frontRows(db: Database.Database): FrontRows {
  const config = db.prepare("SELECT config FROM studies WHERE id = ?").pluck();
  const members = db.prepare(
    `SELECT t.${OBJECTIVE_COLUMNS.split(", ").join(", t.")} FROM pareto_front f CROSS JOIN trials t ON t.study_id = f.study_id AND t.number = f.number
      WHERE f.study_id = ? ORDER BY f.number`,
  );
  const complete = db.prepare(`SELECT ${OBJECTIVE_COLUMNS} FROM trials WHERE study_id = ? AND state = 'COMPLETE' ORDER BY number`);
  const add = db.prepare("INSERT INTO pareto_front (study_id, number) VALUES (?, ?)");
  const remove = db.prepare("DELETE FROM pareto_front WHERE study_id = ? AND number = ?");
  const clear = db.prepare("DELETE FROM pareto_front WHERE study_id = ?");
  const isDropped = db.prepare("SELECT 1 FROM pareto_front_dropped WHERE study_id = ?").pluck();
  const drop = db.prepare("INSERT OR IGNORE INTO pareto_front_dropped (study_id) VALUES (?)");
  return {
    directions: (id) => {
      const c = config.get(id) as string | undefined;
      return c === undefined ? null : upgradeStudyConfig(JSON.parse(c) as StudyConfig).directions;
    },
    members: (id) => (members.all(id) as TrialRow[]).map(objectiveRowOf),
    complete: (id) => (complete.all(id) as TrialRow[]).map(objectiveRowOf),
    add: (id, n) => void add.run(id, n),
    remove: (id, n) => void remove.run(id, n),
    clear: (id) => void clear.run(id),
    dropped: (id) => isDropped.get(id) !== undefined,
    drop: (id) => {
      clear.run(id);
      drop.run(id);
    },
  };
}

/** SQL: `row`'s constraints do not all hold (the negation of `FEASIBLE`, for a trigger's old/new row). */
function infeasible(row: string): string {
  return `(${row}.constraint_values IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(${row}.constraint_values) WHERE value > 0))`;
}
