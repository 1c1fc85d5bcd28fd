/**
 * The PostgreSQL schema of tuneport, as ordered migrations: index i upgrades version i → i+1
 * (`tuneport_schema.version`; from the ninth on in postgres-schema-later.ts). Never edit a released one.
 * Each runs in its own transaction under a transaction-scoped advisory lock, so servers starting together migrate once.
 *
 * Tables mirror the SQLite ones (storage/sqlite/sqlite-storage.ts) column for column, JSON kept as
 * text so both backends round-trip the same strings; epoch-millisecond times are DOUBLE PRECISION,
 * as SQLite keeps whatever number it is given (a fractional one included). What only several servers need:
 *  - `study_owners`: one row per study *name* (a name is claimed before its study is created, so two
 *    servers cannot create one name twice); `owner` is a server's random id, `epoch` counts
 *    takeovers, `expires_at` is the database clock's, so server clocks never compare.
 *  - `tuneport_trial_ids` / `tuneport_study_ids`: sequences that hand out blocks of ids (INCREMENT BY the block size), since ids are storage-wide and every server allocates them.
 *  - `tuneport_commit(owner, names, epochs, changes)`: applies one group commit in one statement
 *    (one round trip), after checking — with row locks held to the end of the transaction, so a
 *    takeover waits for it — that this server still owns every study the batch touches.
 */
import { LATER_PG_MIGRATIONS } from "./postgres-schema-later.js";

/** Ids per block taken from the id sequences. */
export const ID_BLOCK = 1000;

/** The advisory lock key that serialises migrations ("tuneport" in ASCII, truncated). */
export const MIGRATION_LOCK = 0x74756e65706f7274n;

/**
 * A study's (parameter, distribution) pairs from its trials, with the first trial number that held
 * each (migration 4's backfill and the pending repair's recount): one row per pair, keyed by a digest
 * of the pair (`tuneport_param_digest`). Part of migration 4's text, like FENCE_CHECK: once released,
 * it changes only through a new migration.
 */
export const PARAM_PAIRS_FROM_TRIALS = `SELECT t.study_id, tuneport_param_digest(j.key, j.value::TEXT), j.key, j.value::TEXT, MIN(t.number)
      FROM trials t, json_each(t.distributions::JSON) j GROUP BY t.study_id, j.key, j.value::TEXT`;

/**
 * The fencing check every version of `tuneport_commit` opens with (text shared so that the versions
 * cannot drift apart; released migrations keep their exact text): with an owner, every study named
 * by the batch must still be this server's at the epoch it took, else the batch fails as a whole.
 */
const FENCE_CHECK = `    IF p_owner IS NOT NULL AND cardinality(p_names) > 0 THEN
      -- FOR SHARE: a takeover (UPDATE of these rows) waits until this transaction ends, and sees
      -- the new owner's load only after our writes are committed.
      PERFORM 1 FROM study_owners o JOIN unnest(p_names, p_epochs) AS h(name, epoch) ON h.name = o.name
        WHERE o.owner = p_owner AND o.epoch = h.epoch FOR SHARE OF o;
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n <> cardinality(p_names) THEN
        RAISE EXCEPTION 'tuneport: this server no longer owns every study of the batch' USING ERRCODE = 'TP001';
      END IF;
    END IF;`;

export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE studies (
    id          BIGINT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    config      TEXT NOT NULL,
    user_attrs  TEXT NOT NULL DEFAULT '{}',
    created_at  DOUBLE PRECISION NOT NULL,
    stopped     BOOLEAN NOT NULL DEFAULT FALSE
  );
  CREATE TABLE trials (
    id            BIGINT PRIMARY KEY,
    study_id      BIGINT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('WAITING','RUNNING','COMPLETE','PRUNED','FAIL')),
    params        TEXT NOT NULL,
    distributions TEXT NOT NULL,
    value         DOUBLE PRECISION,
    user_attrs    TEXT NOT NULL DEFAULT '{}',
    system_attrs  TEXT NOT NULL DEFAULT '{}',
    created_at    DOUBLE PRECISION NOT NULL,
    started_at    DOUBLE PRECISION,
    finished_at   DOUBLE PRECISION,
    lease_token   TEXT,
    lease_expires DOUBLE PRECISION,
    UNIQUE (study_id, number)
  );
  CREATE TABLE intermediate_values (
    trial_id BIGINT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    step     DOUBLE PRECISION NOT NULL,
    value    DOUBLE PRECISION,
    PRIMARY KEY (trial_id, step)
  );
  CREATE TABLE request_log (
    request_id TEXT PRIMARY KEY,
    op         TEXT NOT NULL,
    reply      BYTEA NOT NULL,
    at         DOUBLE PRECISION NOT NULL
  );
  CREATE TABLE study_owners (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    endpoint   TEXT NOT NULL,
    epoch      BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
  );
  -- The largest study id ever stored: a deleted study's id is never handed out again (one writer).
  CREATE TABLE study_id_high_water (id BIGINT NOT NULL);
  INSERT INTO study_id_high_water VALUES (0);
  CREATE SEQUENCE tuneport_trial_ids INCREMENT BY ${ID_BLOCK} START WITH 1;
  CREATE SEQUENCE tuneport_study_ids INCREMENT BY ${ID_BLOCK} START WITH 1;

  CREATE FUNCTION tuneport_commit(p_owner TEXT, p_names TEXT[], p_epochs BIGINT[], p_changes JSON) RETURNS VOID
  LANGUAGE plpgsql AS $fn$
  DECLARE
    c JSON;
    iv JSON;
    n INTEGER;
  BEGIN
${FENCE_CHECK}
    FOR c IN SELECT * FROM json_array_elements(p_changes) LOOP
      CASE c->>'k'
      WHEN 'it' THEN
        INSERT INTO trials (id, study_id, number, state, params, distributions, value, user_attrs, system_attrs,
            created_at, started_at, finished_at, lease_token, lease_expires)
          VALUES ((c->>'id')::BIGINT, (c->>'sid')::BIGINT, (c->>'n')::INTEGER, c->>'st', c->>'p', c->>'d',
            (c->>'v')::DOUBLE PRECISION, c->>'ua', c->>'sa', (c->>'ca')::DOUBLE PRECISION, (c->>'sta')::DOUBLE PRECISION,
            (c->>'fa')::DOUBLE PRECISION, c->>'lt', (c->>'le')::DOUBLE PRECISION);
        FOR iv IN SELECT * FROM json_array_elements(c->'iv') LOOP
          INSERT INTO intermediate_values (trial_id, step, value)
            VALUES ((c->>'id')::BIGINT, (iv->>0)::DOUBLE PRECISION, (iv->>1)::DOUBLE PRECISION);
        END LOOP;
      WHEN 'ut' THEN
        UPDATE trials SET state = c->>'st', params = c->>'p', distributions = c->>'d', value = (c->>'v')::DOUBLE PRECISION,
            user_attrs = c->>'ua', system_attrs = c->>'sa', started_at = (c->>'sta')::DOUBLE PRECISION,
            finished_at = (c->>'fa')::DOUBLE PRECISION, lease_token = c->>'lt', lease_expires = (c->>'le')::DOUBLE PRECISION
          WHERE id = (c->>'id')::BIGINT;
      WHEN 'ai' THEN
        INSERT INTO intermediate_values (trial_id, step, value)
          VALUES ((c->>'t')::BIGINT, (c->>'s')::DOUBLE PRECISION, (c->>'v')::DOUBLE PRECISION)
          ON CONFLICT (trial_id, step) DO UPDATE SET value = EXCLUDED.value;
      WHEN 'sl' THEN
        UPDATE trials SET lease_token = c->>'lt', lease_expires = (c->>'le')::DOUBLE PRECISION WHERE id = (c->>'t')::BIGINT;
      WHEN 'is' THEN
        INSERT INTO studies (id, name, config, user_attrs, created_at, stopped)
          VALUES ((c->>'id')::BIGINT, c->>'name', c->>'cfg', c->>'ua', (c->>'ca')::DOUBLE PRECISION, (c->>'stp')::BOOLEAN);
        UPDATE study_id_high_water SET id = (c->>'id')::BIGINT WHERE id < (c->>'id')::BIGINT;
      WHEN 'us' THEN
        UPDATE studies SET config = c->>'cfg', user_attrs = c->>'ua', stopped = (c->>'stp')::BOOLEAN WHERE id = (c->>'id')::BIGINT;
      WHEN 'sa' THEN
        UPDATE studies SET user_attrs = c->>'ua' WHERE id = (c->>'id')::BIGINT;
      WHEN 'ds' THEN
        DELETE FROM studies WHERE id = (c->>'id')::BIGINT;
      WHEN 'pr' THEN
        INSERT INTO request_log (request_id, op, reply, at) VALUES (c->>'id', c->>'op', decode(c->>'r', 'base64'), (c->>'at')::DOUBLE PRECISION)
          ON CONFLICT (request_id) DO UPDATE SET op = EXCLUDED.op, reply = EXCLUDED.reply, at = EXCLUDED.at;
      ELSE
        RAISE EXCEPTION 'tuneport: unknown change kind %', c->>'k';
      END CASE;
    END LOOP;
  END
  $fn$;
  `,
  // 2: values are vectors (one per objective) and trials may carry constraint values, as SQLite's
  // migration 3: JSON arrays of numbers as text (JavaScript's shortest round-trip form), NULL when
  // absent; rows written before read as [value]. tuneport_commit writes them ('ov', 'cv').
  `
  ALTER TABLE trials ADD COLUMN objective_values TEXT;
  ALTER TABLE trials ADD COLUMN constraint_values TEXT;
  CREATE OR REPLACE FUNCTION tuneport_commit(p_owner TEXT, p_names TEXT[], p_epochs BIGINT[], p_changes JSON) RETURNS VOID
  LANGUAGE plpgsql AS $fn$
  DECLARE
    c JSON;
    iv JSON;
    n INTEGER;
  BEGIN
${FENCE_CHECK}
    FOR c IN SELECT * FROM json_array_elements(p_changes) LOOP
      CASE c->>'k'
      WHEN 'it' THEN
        INSERT INTO trials (id, study_id, number, state, params, distributions, value, objective_values, constraint_values,
            user_attrs, system_attrs, created_at, started_at, finished_at, lease_token, lease_expires)
          VALUES ((c->>'id')::BIGINT, (c->>'sid')::BIGINT, (c->>'n')::INTEGER, c->>'st', c->>'p', c->>'d',
            (c->>'v')::DOUBLE PRECISION, c->>'ov', c->>'cv', c->>'ua', c->>'sa', (c->>'ca')::DOUBLE PRECISION, (c->>'sta')::DOUBLE PRECISION,
            (c->>'fa')::DOUBLE PRECISION, c->>'lt', (c->>'le')::DOUBLE PRECISION);
        FOR iv IN SELECT * FROM json_array_elements(c->'iv') LOOP
          INSERT INTO intermediate_values (trial_id, step, value)
            VALUES ((c->>'id')::BIGINT, (iv->>0)::DOUBLE PRECISION, (iv->>1)::DOUBLE PRECISION);
        END LOOP;
      WHEN 'ut' THEN
        UPDATE trials SET state = c->>'st', params = c->>'p', distributions = c->>'d', value = (c->>'v')::DOUBLE PRECISION,
            objective_values = c->>'ov', constraint_values = c->>'cv', user_attrs = c->>'ua', system_attrs = c->>'sa', started_at = (c->>'sta')::DOUBLE PRECISION,
            finished_at = (c->>'fa')::DOUBLE PRECISION, lease_token = c->>'lt', lease_expires = (c->>'le')::DOUBLE PRECISION
          WHERE id = (c->>'id')::BIGINT;
      WHEN 'ai' THEN
        INSERT INTO intermediate_values (trial_id, step, value)
          VALUES ((c->>'t')::BIGINT, (c->>'s')::DOUBLE PRECISION, (c->>'v')::DOUBLE PRECISION)
          ON CONFLICT (trial_id, step) DO UPDATE SET value = EXCLUDED.value;
      WHEN 'sl' THEN
        UPDATE trials SET lease_token = c->>'lt', lease_expires = (c->>'le')::DOUBLE PRECISION WHERE id = (c->>'t')::BIGINT;
      WHEN 'is' THEN
        INSERT INTO studies (id, name, config, user_attrs, created_at, stopped)
          VALUES ((c->>'id')::BIGINT, c->>'name', c->>'cfg', c->>'ua', (c->>'ca')::DOUBLE PRECISION, (c->>'stp')::BOOLEAN);
        UPDATE study_id_high_water SET id = (c->>'id')::BIGINT WHERE id < (c->>'id')::BIGINT;
      WHEN 'us' THEN
        UPDATE studies SET config = c->>'cfg', user_attrs = c->>'ua', stopped = (c->>'stp')::BOOLEAN WHERE id = (c->>'id')::BIGINT;
      WHEN 'sa' THEN
        UPDATE studies SET user_attrs = c->>'ua' WHERE id = (c->>'id')::BIGINT;
      WHEN 'ds' THEN
        DELETE FROM studies WHERE id = (c->>'id')::BIGINT;
      WHEN 'pr' THEN
        INSERT INTO request_log (request_id, op, reply, at) VALUES (c->>'id', c->>'op', decode(c->>'r', 'base64'), (c->>'at')::DOUBLE PRECISION)
          ON CONFLICT (request_id) DO UPDATE SET op = EXCLUDED.op, reply = EXCLUDED.reply, at = EXCLUDED.at;
      ELSE
        RAISE EXCEPTION 'tuneport: unknown change kind %', c->>'k';
      END CASE;
    END LOOP;
  END
  $fn$;
  `,
  // 3: what `tuneport studies list|show|trials` read, kept on write, as SQLite's migration 5 (issue 19:
  // at 100,000 trials each of those reads scanned the study's rows, 0.43-0.48 s a command):
  // - each study's trial count per state (and how many of them have a value), kept by tuneport_commit (every write goes through it), in
  //   the committing transaction, summed over the batch (one server writes a study, so its counts
  //   rows see no contention between servers); a study's rows go with it (ON DELETE CASCADE);
  // - each distinct list of distributions a study's trials hold, with the first trial number that
  //   held it, keyed by the list's SHA-256 (a b-tree entry is limited to ~2.7 kB; a list is not);
  //   the upsert runs only when no earlier number holds the list (a probe first), so asks write nothing;
  // - an index by (study, state, value, number) of the trials with a value: the best COMPLETE trial
  //   and pages by value walk it (an ask, with no value, adds no entry).
  // Servers of the previous version may still be writing: the lock makes the backfill see their
  // finished batches, but a batch already inside the old tuneport_commit when this commits runs
  // the old body to its end and counts nothing. So the migration leaves a pending repair that the
  // migrating server (or the next to open the database) runs once those transactions are over:
  // the counts and lists recomputed from the trials under a lock (postgres-storage.ts `repair`).
  // The lock wait is short, below PostgreSQL's deadlock check (1 s): an older batch that holds one
  // table and wants the other makes this migration give up and start again (migrate() retries),
  // never that batch fail.
  `
  SET LOCAL lock_timeout = '500ms';
  LOCK TABLE studies, trials IN SHARE ROW EXCLUSIVE MODE;
  CREATE TABLE tuneport_pending_repair (what TEXT PRIMARY KEY);
  INSERT INTO tuneport_pending_repair VALUES ('counts');
  CREATE TABLE study_state_counts (
    study_id BIGINT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    state    TEXT NOT NULL,
    n        BIGINT NOT NULL,
    -- of them, those with a value (what a page by value counts)
    valued   BIGINT NOT NULL,
    PRIMARY KEY (study_id, state)
  );
  INSERT INTO study_state_counts (study_id, state, n, valued)
    SELECT study_id, state, COUNT(*), COUNT(value) FROM trials GROUP BY study_id, state;
  CREATE OR REPLACE FUNCTION tuneport_commit(p_owner TEXT, p_names TEXT[], p_epochs BIGINT[], p_changes JSON) RETURNS VOID
  LANGUAGE plpgsql AS $fn$
  DECLARE
    -- Every change as one typed row, the batch's JSON parsed once (c->>'f' on a JSON value parses
    -- its text again for each field). 'id' is a trial or study id, or a request id ('pr').
    c RECORD;
    n INTEGER;
    -- Trial count changes by "study_id state", applied once at the end: one new row version per
    -- (study, state) and batch, where a row trigger would chain one per trial (an import of 100,000
    -- trials in one transaction went quadratic that way).
    counts JSONB := '{}';
    valued JSONB := '{}';
    k TEXT;
    old_state TEXT;
    old_valued BOOLEAN;
    sid BIGINT;
  BEGIN
${FENCE_CHECK}
    FOR c IN SELECT * FROM json_to_recordset(p_changes) AS x(
        k TEXT, id TEXT, sid BIGINT, n INTEGER, st TEXT, p TEXT, d TEXT, v DOUBLE PRECISION, ov TEXT, cv TEXT, ua TEXT, sa TEXT,
        ca DOUBLE PRECISION, sta DOUBLE PRECISION, fa DOUBLE PRECISION, lt TEXT, le DOUBLE PRECISION, iv JSON, t BIGINT,
        s DOUBLE PRECISION, name TEXT, cfg TEXT, stp BOOLEAN, op TEXT, r TEXT, at DOUBLE PRECISION) LOOP
      CASE c.k
      WHEN 'it' THEN
        INSERT INTO trials (id, study_id, number, state, params, distributions, value, objective_values, constraint_values,
            user_attrs, system_attrs, created_at, started_at, finished_at, lease_token, lease_expires)
          VALUES (c.id::BIGINT, c.sid, c.n, c.st, c.p, c.d, c.v, c.ov, c.cv, c.ua, c.sa, c.ca, c.sta, c.fa, c.lt, c.le);
        k := c.sid || ' ' || c.st;
        counts := jsonb_set(counts, ARRAY[k], to_jsonb(COALESCE((counts->>k)::BIGINT, 0) + 1));
        IF c.v IS NOT NULL THEN
          valued := jsonb_set(valued, ARRAY[k], to_jsonb(COALESCE((valued->>k)::BIGINT, 0) + 1));
        END IF;
        IF json_array_length(c.iv) > 0 THEN
          INSERT INTO intermediate_values (trial_id, step, value)
            SELECT c.id::BIGINT, (e->>0)::DOUBLE PRECISION, (e->>1)::DOUBLE PRECISION FROM json_array_elements(c.iv) e;
        END IF;
      WHEN 'ut' THEN
        -- The FROM row is read before the update: it gives the state being left.
        UPDATE trials t SET state = c.st, params = c.p, distributions = c.d, value = c.v, objective_values = c.ov,
            constraint_values = c.cv, user_attrs = c.ua, system_attrs = c.sa, started_at = c.sta, finished_at = c.fa,
            lease_token = c.lt, lease_expires = c.le
          FROM (SELECT id, state, value IS NOT NULL AS valued FROM trials WHERE id = c.id::BIGINT) o
          WHERE t.id = o.id
          RETURNING o.state, o.valued, t.study_id INTO old_state, old_valued, sid;
        IF old_state IS NOT NULL THEN
          IF old_state IS DISTINCT FROM c.st THEN
            k := sid || ' ' || old_state;
            counts := jsonb_set(counts, ARRAY[k], to_jsonb(COALESCE((counts->>k)::BIGINT, 0) - 1));
            k := sid || ' ' || c.st;
            counts := jsonb_set(counts, ARRAY[k], to_jsonb(COALESCE((counts->>k)::BIGINT, 0) + 1));
          END IF;
          IF old_state IS DISTINCT FROM c.st OR old_valued IS DISTINCT FROM (c.v IS NOT NULL) THEN
            IF old_valued THEN
              k := sid || ' ' || old_state;
              valued := jsonb_set(valued, ARRAY[k], to_jsonb(COALESCE((valued->>k)::BIGINT, 0) - 1));
            END IF;
            IF c.v IS NOT NULL THEN
              k := sid || ' ' || c.st;
              valued := jsonb_set(valued, ARRAY[k], to_jsonb(COALESCE((valued->>k)::BIGINT, 0) + 1));
            END IF;
          END IF;
        END IF;
      WHEN 'ai' THEN
        INSERT INTO intermediate_values (trial_id, step, value) VALUES (c.t, c.s, c.v)
          ON CONFLICT (trial_id, step) DO UPDATE SET value = EXCLUDED.value;
      WHEN 'sl' THEN
        UPDATE trials SET lease_token = c.lt, lease_expires = c.le WHERE id = c.t;
      WHEN 'is' THEN
        INSERT INTO studies (id, name, config, user_attrs, created_at, stopped) VALUES (c.id::BIGINT, c.name, c.cfg, c.ua, c.ca, c.stp);
        UPDATE study_id_high_water SET id = c.id::BIGINT WHERE id < c.id::BIGINT;
      WHEN 'us' THEN
        UPDATE studies SET config = c.cfg, user_attrs = c.ua, stopped = c.stp WHERE id = c.id::BIGINT;
      WHEN 'sa' THEN
        UPDATE studies SET user_attrs = c.ua WHERE id = c.id::BIGINT;
      WHEN 'ds' THEN
        DELETE FROM studies WHERE id = c.id::BIGINT;
      WHEN 'pr' THEN
        INSERT INTO request_log (request_id, op, reply, at) VALUES (c.id, c.op, decode(c.r, 'base64'), c.at)
          ON CONFLICT (request_id) DO UPDATE SET op = EXCLUDED.op, reply = EXCLUDED.reply, at = EXCLUDED.at;
      ELSE
        RAISE EXCEPTION 'tuneport: unknown change kind %', c.k;
      END CASE;
    END LOOP;
    -- A study deleted later in the batch has no counts left to keep (its rows went with it).
    INSERT INTO study_state_counts AS s (study_id, state, n, valued)
      SELECT split_part(e.key, ' ', 1)::BIGINT, split_part(e.key, ' ', 2), COALESCE((counts->>e.key)::BIGINT, 0), COALESCE((valued->>e.key)::BIGINT, 0)
        FROM (SELECT jsonb_object_keys(counts || valued) AS key) e
       WHERE EXISTS (SELECT 1 FROM studies WHERE id = split_part(e.key, ' ', 1)::BIGINT)
      ON CONFLICT (study_id, state) DO UPDATE SET n = s.n + EXCLUDED.n, valued = s.valued + EXCLUDED.valued;
  END
  $fn$;

  CREATE TABLE study_distributions (
    study_id      BIGINT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    digest        BYTEA NOT NULL,
    distributions TEXT NOT NULL,
    first_number  INTEGER NOT NULL,
    PRIMARY KEY (study_id, digest)
  );
  INSERT INTO study_distributions (study_id, digest, distributions, first_number)
    SELECT study_id, sha256(convert_to(distributions, 'UTF8')), distributions, MIN(number) FROM trials GROUP BY study_id, distributions;
  CREATE FUNCTION tuneport_trial_distributions() RETURNS TRIGGER LANGUAGE plpgsql AS $fn$
  DECLARE
    h BYTEA := sha256(convert_to(NEW.distributions, 'UTF8'));
  BEGIN
    -- Almost every ask holds a list already kept with an earlier number: a plain index probe then,
    -- since the upsert would lock (and so write) the row even when it changes nothing.
    IF NOT EXISTS (SELECT 1 FROM study_distributions WHERE study_id = NEW.study_id AND digest = h AND first_number <= NEW.number) THEN
      INSERT INTO study_distributions AS s (study_id, digest, distributions, first_number)
        VALUES (NEW.study_id, h, NEW.distributions, NEW.number)
        ON CONFLICT (study_id, digest) DO UPDATE SET first_number = EXCLUDED.first_number
        WHERE EXCLUDED.first_number < s.first_number;
    END IF;
    RETURN NULL;
  END
  $fn$;
  CREATE TRIGGER trials_distributions_insert AFTER INSERT ON trials FOR EACH ROW EXECUTE FUNCTION tuneport_trial_distributions();
  CREATE TRIGGER trials_distributions_update AFTER UPDATE OF distributions ON trials FOR EACH ROW
    WHEN (OLD.distributions IS DISTINCT FROM NEW.distributions) EXECUTE FUNCTION tuneport_trial_distributions();

  CREATE INDEX trials_by_value ON trials (study_id, state, value, number) WHERE value IS NOT NULL;
  `,
  // 4: define-by-run distributions kept as (parameter, distribution) pairs, as SQLite's migration 7:
  // each `suggest` rewrites its trial's list, and migration 3 kept every distinct list a trial passed
  // through (a trial of k suggests: lists of 1…k entries, quadratic in k). Keyed by a digest of the
  // pair (a b-tree entry is limited to ~2.7 kB); the probe first, so that an ask whose pairs are all
  // known writes nothing. study_distributions stays, no longer written, for servers of the previous
  // version that still read it (their define-by-run lists then miss parameters first seen after this
  // migration, which only affects what they list); a later migration drops it.
  `
  SET LOCAL lock_timeout = '500ms';
  LOCK TABLE studies, trials IN SHARE ROW EXCLUSIVE MODE;
  CREATE TABLE study_param_distributions (
    study_id     BIGINT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    digest       BYTEA NOT NULL,
    name         TEXT NOT NULL,
    distribution TEXT NOT NULL,
    first_number INTEGER NOT NULL,
    PRIMARY KEY (study_id, digest)
  );
  CREATE FUNCTION tuneport_param_digest(k TEXT, v TEXT) RETURNS BYTEA IMMUTABLE LANGUAGE sql
    AS $$ SELECT sha256(convert_to(length(k) || ':' || k || v, 'UTF8')) $$;
  INSERT INTO study_param_distributions (study_id, digest, name, distribution, first_number)
    ${PARAM_PAIRS_FROM_TRIALS};
  DROP TRIGGER IF EXISTS trials_distributions_insert ON trials;
  DROP TRIGGER IF EXISTS trials_distributions_update ON trials;
  DROP FUNCTION IF EXISTS tuneport_trial_distributions();
  CREATE FUNCTION tuneport_trial_param_distributions() RETURNS TRIGGER LANGUAGE plpgsql AS $fn$
  BEGIN
    INSERT INTO study_param_distributions AS s (study_id, digest, name, distribution, first_number)
      SELECT NEW.study_id, p.digest, p.key, p.dist, NEW.number
        FROM (SELECT j.key, j.value::TEXT AS dist, tuneport_param_digest(j.key, j.value::TEXT) AS digest
                FROM json_each(NEW.distributions::JSON) j) p
       WHERE NOT EXISTS (SELECT 1 FROM study_param_distributions k WHERE k.study_id = NEW.study_id AND k.digest = p.digest AND k.first_number <= NEW.number)
      ON CONFLICT (study_id, digest) DO UPDATE SET first_number = EXCLUDED.first_number
      WHERE EXCLUDED.first_number < s.first_number;
    RETURN NULL;
  END
  $fn$;
  CREATE TRIGGER trials_param_distributions_insert AFTER INSERT ON trials FOR EACH ROW EXECUTE FUNCTION tuneport_trial_param_distributions();
  CREATE TRIGGER trials_param_distributions_update AFTER UPDATE OF distributions ON trials FOR EACH ROW
    WHEN (OLD.distributions IS DISTINCT FROM NEW.distributions) EXECUTE FUNCTION tuneport_trial_param_distributions();
  `,
  // 5: the same trigger, cheaper (issue 18: a CPU profile of PostgreSQL at 32 workers put 27% of its
  // time in it). Migration 4's body ran one query per trial that called the SQL function
  // tuneport_param_digest per parameter — a function PostgreSQL parses and plans on every call there —
  // and anti-joined the study's pairs by hashing them. Now one index probe per parameter, the digest
  // computed in line (the same bytes as tuneport_param_digest, which stays for the backfill and the
  // repair), and the upsert only for a pair not yet held with an earlier number. Same semantics.
  `
  CREATE OR REPLACE FUNCTION tuneport_trial_param_distributions() RETURNS TRIGGER LANGUAGE plpgsql AS $fn$
  DECLARE
    j RECORD;
    h BYTEA;
  BEGIN
    FOR j IN SELECT key, value::TEXT AS dist FROM json_each(NEW.distributions::JSON) LOOP
      h := sha256(convert_to(length(j.key) || ':' || j.key || j.dist, 'UTF8'));
      IF NOT EXISTS (SELECT 1 FROM study_param_distributions
                      WHERE study_id = NEW.study_id AND digest = h AND first_number <= NEW.number) THEN
        INSERT INTO study_param_distributions AS s (study_id, digest, name, distribution, first_number)
          VALUES (NEW.study_id, h, j.key, j.dist, NEW.number)
          ON CONFLICT (study_id, digest) DO UPDATE SET first_number = EXCLUDED.first_number
          WHERE EXCLUDED.first_number < s.first_number;
      END IF;
    END LOOP;
    RETURN NULL;
  END
  $fn$;
  `,
  // 6: the first reply stored for a request id stays (storage.ts, "put-reply"). tuneport_apply's
  // upsert of a reply (migration 3) replaced it, so a client that reused an id replaced the reply
  // that a retry of the first request gets. A row trigger that skips every update of request_log
  // keeps the released function's text: the upsert then changes nothing, and nothing else updates
  // the table (pruning deletes).
  `
  CREATE OR REPLACE FUNCTION tuneport_keep_first_reply() RETURNS TRIGGER LANGUAGE plpgsql AS $fn$
  BEGIN
    RETURN NULL;
  END
  $fn$;
  DROP TRIGGER IF EXISTS request_log_keep_first_reply ON request_log;
  CREATE TRIGGER request_log_keep_first_reply BEFORE UPDATE ON request_log FOR EACH ROW EXECUTE FUNCTION tuneport_keep_first_reply();
  `,
  // 7: a group commit's stored replies and intermediate values as arrays, each written by one
  // statement (issue 18: at 32 workers a trial's batch rows were an ask, a report and a tell, each
  // with its reply, and tuneport_commit ran one statement per row: three of the six per trial were
  // replies, whose base64 text was also most of the JSON it parsed). The rest of the batch still
  // goes through tuneport_commit, first (its fencing check included), in order; the replies touch
  // nothing else and keep their first version (ON CONFLICT DO NOTHING: the trigger of migration 6
  // already made the upsert a no-op), and the server sends intermediate values here only for a
  // chunk that deletes no study, with one value per (trial, step), the last (postgres-storage.ts).
  `
  CREATE OR REPLACE FUNCTION tuneport_commit_rows(p_owner TEXT, p_names TEXT[], p_epochs BIGINT[], p_changes JSON,
      p_reply_ids TEXT[], p_reply_ops TEXT[], p_replies TEXT[], p_reply_at DOUBLE PRECISION[],
      p_iv_trials BIGINT[], p_iv_steps DOUBLE PRECISION[], p_iv_values DOUBLE PRECISION[]) RETURNS VOID
  LANGUAGE plpgsql AS $fn$
  BEGIN
    PERFORM tuneport_commit(p_owner, p_names, p_epochs, p_changes);
    IF cardinality(p_iv_trials) > 0 THEN
      INSERT INTO intermediate_values (trial_id, step, value)
        SELECT u.t, u.s, u.v FROM unnest(p_iv_trials, p_iv_steps, p_iv_values) AS u(t, s, v)
        ON CONFLICT (trial_id, step) DO UPDATE SET value = EXCLUDED.value;
    END IF;
    IF cardinality(p_reply_ids) > 0 THEN
      INSERT INTO request_log (request_id, op, reply, at)
        SELECT u.i, u.o, decode(u.r, 'base64'), u.a FROM unnest(p_reply_ids, p_reply_ops, p_replies, p_reply_at) AS u(i, o, r, a)
        ON CONFLICT (request_id) DO NOTHING;
    END IF;
  END
  $fn$;
  `,
  // 8: a batch of trial inserts and updates only (the 32-worker load's every batch: asks and tells,
  // its replies and intermediate values already arrays) written set-based (issue 18: measured with
  // pg_stat_statements and bench/pg-commit-cpu.mjs, PostgreSQL spent about 0.5 ms of CPU per trial
  // in tuneport_commit, most of it per-change overhead: one INSERT or UPDATE statement per change,
  // and migration 5's row trigger on each insert — a plpgsql call per trial, 134 µs of it, that
  // hashed and probed each parameter again although every trial of the batch held the same list).
  //  - tuneport_commit_trials: when the batch holds only 'it', 'ut' and 'sl' rows, each naming a
  //    different trial, one statement inserts every new trial (with its intermediate values: an
  //    add_trial, a retry that keeps them), updates every told one, moves every lease written (a
  //    heartbeat's or a report's) and adds the count changes up (the same net counts as
  //    tuneport_commit's loop, rows whose change nets to zero not written); else it returns false,
  //    writes nothing, and tuneport_commit_rows runs tuneport_commit (migration 3's loop, in order)
  //    as before. The fencing check is the same text, in the same transaction. (The loop's one-row
  //    inserts each fire the statement trigger below, which costs more than migration 5's row
  //    trigger did: bench/pg-commit-cpu.mjs --mix leases/add-trial measured such batches 4-9% dearer
  //    (docs/BENCHMARKS.md), hence the 'sl' and intermediate-value rows taken here; what still
  //    takes the loop is a batch with a study row — an import, a create — or one trial twice.)
  //  - the insert trigger is statement-level with a transition table: one query per statement
  //    hashes each distinct (study, distributions) list of the statement's trials once, with its
  //    lowest number, and probes the pairs as before. tuneport_commit's loop (and an older server's)
  //    still inserts one trial per statement, which the trigger then handles as one. The update
  //    trigger stays a row trigger: its WHEN skips the function unless distributions changed.
  // Replacing the trigger takes trials' lock: the short lock_timeout makes the migration give up and
  // retry (migrate()) rather than queue behind a batch and block the others.
  `
  SET LOCAL lock_timeout = '500ms';
  CREATE FUNCTION tuneport_trial_param_distributions_stmt() RETURNS TRIGGER LANGUAGE plpgsql AS $fn$
  BEGIN
    INSERT INTO study_param_distributions AS s (study_id, digest, name, distribution, first_number)
      SELECT p.study_id, p.digest, p.key, p.dist, p.number
        FROM (SELECT DISTINCT ON (l.study_id, h.digest) l.study_id, h.digest, j.key, j.value::TEXT AS dist, l.number
                FROM (SELECT study_id, distributions, MIN(number) AS number FROM new_trials GROUP BY study_id, distributions) l,
                     json_each(l.distributions::JSON) j,
                     LATERAL (SELECT sha256(convert_to(length(j.key) || ':' || j.key || j.value::TEXT, 'UTF8')) AS digest) h
               ORDER BY l.study_id, h.digest, l.number) p
        -- One index probe per pair (LIMIT keeps it a nested loop): as NOT EXISTS the planner took
        -- json_each for 100 rows and hashed the whole table for an anti-join, every statement.
        LEFT JOIN LATERAL (SELECT TRUE AS held FROM study_param_distributions k
                            WHERE k.study_id = p.study_id AND k.digest = p.digest AND k.first_number <= p.number LIMIT 1) e ON TRUE
       WHERE e.held IS NULL
      ON CONFLICT (study_id, digest) DO UPDATE SET first_number = EXCLUDED.first_number
      WHERE EXCLUDED.first_number < s.first_number;
    RETURN NULL;
  END
  $fn$;
  DROP TRIGGER trials_param_distributions_insert ON trials;
  CREATE TRIGGER trials_param_distributions_insert AFTER INSERT ON trials REFERENCING NEW TABLE AS new_trials
    FOR EACH STATEMENT EXECUTE FUNCTION tuneport_trial_param_distributions_stmt();

  CREATE TYPE tuneport_trial_change AS (
    k TEXT, id TEXT, sid BIGINT, n INTEGER, st TEXT, p TEXT, d TEXT, v DOUBLE PRECISION, ov TEXT, cv TEXT, ua TEXT, sa TEXT,
    ca DOUBLE PRECISION, sta DOUBLE PRECISION, fa DOUBLE PRECISION, lt TEXT, le DOUBLE PRECISION, iv JSON, t BIGINT);
  CREATE FUNCTION tuneport_commit_trials(p_owner TEXT, p_names TEXT[], p_epochs BIGINT[], p_changes JSON) RETURNS BOOLEAN
  LANGUAGE plpgsql AS $fn$
  DECLARE
    n INTEGER;
    -- The batch's JSON parsed once (lexing it is most of the cost of reading it), then read as rows.
    cs tuneport_trial_change[];
    ok BOOLEAN;
  BEGIN
    -- A trial is 'id' in an 'it'/'ut' row, 't' in an 'sl' row (both written in decimal).
    SELECT array_agg(x), COALESCE(bool_and(x.k IN ('it', 'ut', 'sl')), TRUE)
           AND COUNT(DISTINCT COALESCE(x.id, x.t::TEXT)) = COUNT(*)
      INTO cs, ok FROM json_populate_recordset(NULL::tuneport_trial_change, p_changes) x;
    IF NOT ok THEN
      RETURN FALSE;
    END IF;
${FENCE_CHECK}
    WITH x AS MATERIALIZED (
      SELECT u.k, u.id::BIGINT AS id, u.sid, u.n, u.st, u.p, u.d, u.v, u.ov, u.cv, u.ua, u.sa, u.ca, u.sta, u.fa, u.lt, u.le, u.iv, u.t FROM unnest(cs) u
    ), ivs AS (
      -- A new trial's intermediate values, as the loop writes them (the trial's foreign key is
      -- checked at the end of the statement, once ins wrote it).
      INSERT INTO intermediate_values (trial_id, step, value)
        SELECT x.id, (e->>0)::DOUBLE PRECISION, (e->>1)::DOUBLE PRECISION FROM x, json_array_elements(x.iv) e WHERE x.k = 'it'
    ), sl AS (
      UPDATE trials t SET lease_token = x.lt, lease_expires = x.le FROM x WHERE x.k = 'sl' AND t.id = x.t
    ), ins AS (
      INSERT INTO trials (id, study_id, number, state, params, distributions, value, objective_values, constraint_values,
          user_attrs, system_attrs, created_at, started_at, finished_at, lease_token, lease_expires)
        SELECT x.id, x.sid, x.n, x.st, x.p, x.d, x.v, x.ov, x.cv, x.ua, x.sa, x.ca, x.sta, x.fa, x.lt, x.le FROM x WHERE x.k = 'it'
        RETURNING study_id, state, (value IS NOT NULL)::INTEGER AS valued
    ), upd AS (
      -- o is the row as it was (the statement's snapshot): the state and value being left.
      UPDATE trials t SET state = x.st, params = x.p, distributions = x.d, value = x.v, objective_values = x.ov,
          constraint_values = x.cv, user_attrs = x.ua, system_attrs = x.sa, started_at = x.sta, finished_at = x.fa,
          lease_token = x.lt, lease_expires = x.le
        FROM x JOIN trials o ON o.id = x.id
       WHERE x.k = 'ut' AND t.id = o.id
      RETURNING t.study_id, o.state AS old_state, (o.value IS NOT NULL)::INTEGER AS old_valued, t.state, (t.value IS NOT NULL)::INTEGER AS valued
    ), d AS (
      SELECT study_id, state, 1 AS dn, valued AS dv FROM ins
      UNION ALL SELECT study_id, old_state, -1, -old_valued FROM upd
      UNION ALL SELECT study_id, state, 1, valued FROM upd
    )
    INSERT INTO study_state_counts AS s (study_id, state, n, valued)
      SELECT study_id, state, SUM(dn), SUM(dv) FROM d GROUP BY study_id, state HAVING SUM(dn) <> 0 OR SUM(dv) <> 0
      ON CONFLICT (study_id, state) DO UPDATE SET n = s.n + EXCLUDED.n, valued = s.valued + EXCLUDED.valued;
    RETURN TRUE;
  END
  $fn$;

  CREATE OR REPLACE FUNCTION tuneport_commit_rows(p_owner TEXT, p_names TEXT[], p_epochs BIGINT[], p_changes JSON,
      p_reply_ids TEXT[], p_reply_ops TEXT[], p_replies TEXT[], p_reply_at DOUBLE PRECISION[],
      p_iv_trials BIGINT[], p_iv_steps DOUBLE PRECISION[], p_iv_values DOUBLE PRECISION[]) RETURNS VOID
  LANGUAGE plpgsql AS $fn$
  BEGIN
    IF NOT tuneport_commit_trials(p_owner, p_names, p_epochs, p_changes) THEN
      PERFORM tuneport_commit(p_owner, p_names, p_epochs, p_changes);
    END IF;
    IF cardinality(p_iv_trials) > 0 THEN
      INSERT INTO intermediate_values (trial_id, step, value)
        SELECT u.t, u.s, u.v FROM unnest(p_iv_trials, p_iv_steps, p_iv_values) AS u(t, s, v)
        ON CONFLICT (trial_id, step) DO UPDATE SET value = EXCLUDED.value;
    END IF;
    IF cardinality(p_reply_ids) > 0 THEN
      INSERT INTO request_log (request_id, op, reply, at)
        SELECT u.i, u.o, decode(u.r, 'base64'), u.a FROM unnest(p_reply_ids, p_reply_ops, p_replies, p_reply_at) AS u(i, o, r, a)
        ON CONFLICT (request_id) DO NOTHING;
    END IF;
  END
  $fn$;
  `,
  ...LATER_PG_MIGRATIONS,
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;
