\echo Use "ALTER EXTENSION outreach UPDATE TO '0.3.0'" to load this file. \quit

-- 0.3.0: retention. Per-controller policies, the retention status of every participant, a
-- forecast, batched sweeps that mark due records ready for deletion and open a deletion notice
-- per controller and cycle, confirmation by the DPO, and deletion that leaves a tombstone.

CREATE TYPE outreach.retention_decision AS (
  track text,                    -- '15y', '7y' or 'withdrawn'
  expected_he_entry_year int,
  entry_year_overridden boolean,
  due_on date,
  reasons text[]
);

-- The rules live in C (extension/src/core/retention.cpp); the policy comes in as arguments.
CREATE FUNCTION outreach.retention_decide(
    has_first_name boolean, has_last_name boolean, has_postcode boolean, date_of_birth date,
    created_on date, last_attended_on date, withdrawn_on date, entry_year_override int,
    long_track_years int, short_track_years int, attendance_window_years int, nation text, as_of date)
  RETURNS outreach.retention_decision
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.retention_decide(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date) IS
  'retention track, Expected HE Entry Year, due date and reasons for a participant''s facts under a policy';

CREATE FUNCTION outreach.retention_due_on(
    has_first_name boolean, has_last_name boolean, has_postcode boolean, date_of_birth date,
    created_on date, last_attended_on date, withdrawn_on date, entry_year_override int,
    long_track_years int, short_track_years int, attendance_window_years int, nation text, as_of date)
  RETURNS date
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.retention_due_on(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date) IS
  'the date a participant falls due for deletion under a policy (retention_decide''s due_on, computed faster)';
-- Retention policy: one row per controller, created with it; the numbers are the defaults of
-- the service's privacy notice and each member's agreement may change them. Dates are policy,
-- not code: the long track falls due on the cycle day (1 September), and confirmation is due
-- by a time on the last working day (Monday to Friday) of a month (17:00 on the last working
-- day of October, Europe/London).
CREATE TABLE outreach.retention_policy (
  controller_id int PRIMARY KEY REFERENCES outreach.controller ON DELETE CASCADE,
  long_track_years int NOT NULL DEFAULT 15 CHECK (long_track_years BETWEEN 1 AND 50),
  short_track_years int NOT NULL DEFAULT 7 CHECK (short_track_years BETWEEN 0 AND 50),
  attendance_window_years int NOT NULL DEFAULT 15 CHECK (attendance_window_years BETWEEN 1 AND 50),
  nation text NOT NULL DEFAULT 'england' CHECK (nation IN ('england', 'wales', 'scotland', 'northern_ireland')),
  cycle_month int NOT NULL DEFAULT 9 CHECK (cycle_month BETWEEN 1 AND 12),
  cycle_day int NOT NULL DEFAULT 1 CHECK (cycle_day BETWEEN 1 AND 28),
  confirm_by_month int NOT NULL DEFAULT 10 CHECK (confirm_by_month BETWEEN 1 AND 12),
  confirm_by_time time NOT NULL DEFAULT '17:00',
  time_zone text NOT NULL DEFAULT 'Europe/London',
  min_response_days int NOT NULL DEFAULT 14 CHECK (min_response_days BETWEEN 0 AND 366),
  grace_days int CHECK (grace_days BETWEEN 0 AND 3650),  -- NULL: never delete unconfirmed records
  legal_contact text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE outreach.retention_policy IS 'each controller''s retention periods and deletion cycle';
SELECT pg_catalog.pg_extension_config_dump('outreach.retention_policy', '');

-- Every controller has a policy from its creation on.
CREATE FUNCTION outreach.controller_default_policy() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO outreach.retention_policy (controller_id) VALUES (NEW.controller_id);
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.controller_default_policy() FROM PUBLIC;
COMMENT ON FUNCTION outreach.controller_default_policy() IS 'trigger: gives a new controller the default retention policy';
CREATE TRIGGER controller_default_policy AFTER INSERT ON outreach.controller
  FOR EACH ROW EXECUTE FUNCTION outreach.controller_default_policy();
INSERT INTO outreach.retention_policy (controller_id)
SELECT controller_id FROM outreach.controller ON CONFLICT DO NOTHING;

ALTER TABLE outreach.retention_policy ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.retention_policy FORCE ROW LEVEL SECURITY;
CREATE POLICY retention_policy_read ON outreach.retention_policy FOR SELECT
  USING (outreach.controller_visible(controller_id, 'analyst'));
REVOKE ALL ON outreach.retention_policy FROM PUBLIC;
GRANT SELECT ON outreach.retention_policy TO outreach_reader, outreach_analyst, outreach_processor;

-- Changing a policy: the service's DBA, per member agreement. Only the values given change.
CREATE FUNCTION outreach.set_retention_policy(
    controller_code text,
    long_track_years int DEFAULT NULL, short_track_years int DEFAULT NULL,
    attendance_window_years int DEFAULT NULL, nation text DEFAULT NULL,
    confirm_by_month int DEFAULT NULL, confirm_by_time time DEFAULT NULL,
    min_response_days int DEFAULT NULL, grace_days int DEFAULT NULL, legal_contact text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  cid int;
BEGIN
  SELECT c.controller_id INTO cid FROM outreach.controller c WHERE c.code = controller_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller "%"', controller_code USING ERRCODE = '42704';
  END IF;
  IF long_track_years NOT BETWEEN 1 AND 50 THEN
    RAISE EXCEPTION 'long_track_years must be between 1 and 50, not %', long_track_years USING ERRCODE = '22023';
  END IF;
  IF short_track_years NOT BETWEEN 0 AND 50 THEN
    RAISE EXCEPTION 'short_track_years must be between 0 and 50, not %', short_track_years USING ERRCODE = '22023';
  END IF;
  IF attendance_window_years NOT BETWEEN 1 AND 50 THEN
    RAISE EXCEPTION 'attendance_window_years must be between 1 and 50, not %', attendance_window_years USING ERRCODE = '22023';
  END IF;
  IF nation NOT IN ('england', 'wales', 'scotland', 'northern_ireland') THEN
    RAISE EXCEPTION 'unknown nation "%"', nation USING ERRCODE = '22023';
  END IF;
  IF confirm_by_month NOT BETWEEN 1 AND 12 THEN
    RAISE EXCEPTION 'confirm_by_month must be between 1 and 12, not %', confirm_by_month USING ERRCODE = '22023';
  END IF;
  IF min_response_days NOT BETWEEN 0 AND 366 THEN
    RAISE EXCEPTION 'min_response_days must be between 0 and 366, not %', min_response_days USING ERRCODE = '22023';
  END IF;
  IF grace_days NOT BETWEEN 0 AND 3650 THEN
    RAISE EXCEPTION 'grace_days must be between 0 and 3650, not %', grace_days USING ERRCODE = '22023';
  END IF;
  UPDATE outreach.retention_policy p SET
    long_track_years = coalesce(set_retention_policy.long_track_years, p.long_track_years),
    short_track_years = coalesce(set_retention_policy.short_track_years, p.short_track_years),
    attendance_window_years = coalesce(set_retention_policy.attendance_window_years, p.attendance_window_years),
    nation = coalesce(set_retention_policy.nation, p.nation),
    confirm_by_month = coalesce(set_retention_policy.confirm_by_month, p.confirm_by_month),
    confirm_by_time = coalesce(set_retention_policy.confirm_by_time, p.confirm_by_time),
    min_response_days = coalesce(set_retention_policy.min_response_days, p.min_response_days),
    grace_days = coalesce(set_retention_policy.grace_days, p.grace_days),
    legal_contact = coalesce(set_retention_policy.legal_contact, p.legal_contact),
    updated_at = now()
  WHERE p.controller_id = cid;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.set_retention_policy(text, int, int, int, text, int, time, int, int, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.set_retention_policy(text, int, int, int, text, int, time, int, int, text) IS
  'changes a controller''s retention policy (only the values given); rejects absurd values with 22023';

-- The deletion cycle: which cycle a record marked on a date belongs to, and by when its
-- controller must confirm. The deadline is the confirm-by time on the last working day of the
-- confirm-by month of the cycle; a record marked too close to that deadline (less than
-- min_response_days before it) joins the next cycle.
CREATE FUNCTION outreach.retention_confirm_by(cycle_year int, controller_id int) RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ((d - CASE extract(isodow FROM d)::int WHEN 6 THEN 1 WHEN 7 THEN 2 ELSE 0 END) + p.confirm_by_time)
           AT TIME ZONE p.time_zone
  FROM outreach.retention_policy p,
       LATERAL (SELECT (make_date(cycle_year + CASE WHEN p.confirm_by_month < p.cycle_month THEN 1 ELSE 0 END,
                                  p.confirm_by_month, 1) + interval '1 month' - interval '1 day')::date AS d) AS last_day
  WHERE p.controller_id = retention_confirm_by.controller_id
$$;
COMMENT ON FUNCTION outreach.retention_confirm_by(int, int) IS
  'deadline for confirming the deletions of a cycle: the confirm-by time on the last working day of the policy''s month';

CREATE FUNCTION outreach.retention_cycle(marked_on date, controller_id int) RETURNS int
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN outreach.retention_confirm_by(y, p.controller_id)
                   < (marked_on + p.min_response_days)::timestamp AT TIME ZONE p.time_zone
              THEN y + 1 ELSE y END
  FROM outreach.retention_policy p,
       LATERAL (SELECT CASE WHEN (extract(month FROM marked_on), extract(day FROM marked_on))
                                 >= (p.cycle_month, p.cycle_day)
                            THEN extract(year FROM marked_on)::int
                            ELSE extract(year FROM marked_on)::int - 1 END AS y) AS cycle
  WHERE p.controller_id = retention_cycle.controller_id
$$;
COMMENT ON FUNCTION outreach.retention_cycle(date, int) IS
  'the deletion cycle (year of its start) a record marked on a date joins';
GRANT EXECUTE ON FUNCTION outreach.retention_confirm_by(int, int), outreach.retention_cycle(date, int)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_daemon;
-- Retention state of each participant, the deletion notices, the run history and tombstones.

ALTER TABLE outreach.participant
  ADD COLUMN last_attended_on date,                  -- kept by triggers on attendance
  ADD COLUMN retention_status text NOT NULL DEFAULT 'retained'
    CHECK (retention_status IN ('retained', 'ready_for_deletion', 'deletion_confirmed')),
  ADD COLUMN retention_reasons text[],               -- why it was marked (retention_decide's reasons)
  ADD COLUMN retention_due_on date,                  -- the due date when it was marked
  ADD COLUMN retention_marked_on date,
  ADD COLUMN retention_notice_id bigint,
  ADD COLUMN deletion_confirmed_at timestamptz,
  ADD COLUMN deletion_confirmed_by name,
  ADD COLUMN retention_hold_until date,              -- set when a DPO un-marks a record
  ADD COLUMN retention_hold_reason text;
CREATE INDEX participant_retention_idx ON outreach.participant (retention_status, controller_id, participant_id)
  WHERE retention_status <> 'retained';
GRANT SELECT (last_attended_on, retention_status, retention_reasons, retention_due_on, retention_marked_on,
              retention_notice_id, deletion_confirmed_at, deletion_confirmed_by, retention_hold_until,
              retention_hold_reason)
  ON outreach.participant TO outreach_reader, outreach_processor;
UPDATE outreach.participant p SET last_attended_on = a.latest
FROM (SELECT controller_id, participant_id, max(attended_on) AS latest FROM outreach.attendance GROUP BY 1, 2) a
WHERE p.controller_id = a.controller_id AND p.participant_id = a.participant_id;

-- last_attended_on follows attendance. Statement-level, so a bulk load updates each person once.
CREATE FUNCTION outreach.attendance_latest() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE outreach.participant p SET last_attended_on = n.latest
    FROM (SELECT controller_id, participant_id, max(attended_on) AS latest FROM new_rows GROUP BY 1, 2) n
    WHERE p.controller_id = n.controller_id AND p.participant_id = n.participant_id
      AND (p.last_attended_on IS NULL OR p.last_attended_on < n.latest);
  ELSE  -- UPDATE or DELETE: recompute for the people concerned
    UPDATE outreach.participant p
    SET last_attended_on = (SELECT max(a.attended_on) FROM outreach.attendance a
                            WHERE a.controller_id = p.controller_id AND a.participant_id = p.participant_id)
    FROM (SELECT DISTINCT controller_id, participant_id FROM old_rows) o
    WHERE p.controller_id = o.controller_id AND p.participant_id = o.participant_id;
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.attendance_latest() FROM PUBLIC;
COMMENT ON FUNCTION outreach.attendance_latest() IS 'trigger: keeps participant.last_attended_on current';
CREATE TRIGGER attendance_latest_insert AFTER INSERT ON outreach.attendance
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.attendance_latest();
CREATE TRIGGER attendance_latest_update AFTER UPDATE ON outreach.attendance
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.attendance_latest();
CREATE TRIGGER attendance_latest_delete AFTER DELETE ON outreach.attendance
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.attendance_latest();

-- One deletion notice per controller and cycle, created or extended by sweeps.
CREATE TABLE outreach.deletion_notice (
  controller_id int NOT NULL REFERENCES outreach.controller,
  notice_id bigint GENERATED ALWAYS AS IDENTITY,
  cycle_year int NOT NULL,
  confirm_by timestamptz NOT NULL,
  records_marked int NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  escalated_at timestamptz,                          -- deadline missed, legal contact told
  PRIMARY KEY (controller_id, notice_id),
  UNIQUE (controller_id, cycle_year)
);
COMMENT ON TABLE outreach.deletion_notice IS 'per controller and cycle: records ready for deletion and the confirmation deadline';

-- Sweeps and deletion runs: what ran, when, how far it got.
CREATE TABLE outreach.retention_run (
  run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('sweep', 'delete')),
  as_of date,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'finished', 'failed')),
  candidates bigint,                 -- sweep: records found due when it started
  batches int NOT NULL DEFAULT 0,
  rows_marked bigint NOT NULL DEFAULT 0,
  rows_skipped bigint NOT NULL DEFAULT 0,  -- taken from the queue but not marked: no longer due,
                                           -- held, or locked by a member at that moment (the
                                           -- next sweep looks at them again)
  rows_deleted bigint NOT NULL DEFAULT 0,
  error text,
  started_by name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE outreach.retention_run IS 'history and progress of retention sweeps and deletion runs';

-- Work found by a sweep and not yet marked. Unlogged: after a crash it is empty and the next
-- sweep finds the same work again.
CREATE UNLOGGED TABLE outreach.retention_queue (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  as_of date NOT NULL,
  PRIMARY KEY (controller_id, participant_id)
);
COMMENT ON TABLE outreach.retention_queue IS 'participants a sweep found due and has not marked yet';

-- What is left of a deleted participant: no personal data.
CREATE TABLE outreach.tombstone (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  reasons text[] NOT NULL,
  due_on date,
  marked_on date,
  notice_id bigint,
  confirmed_at timestamptz,
  confirmed_by name,
  deleted_at timestamptz NOT NULL DEFAULT now(),
  run_id bigint,
  PRIMARY KEY (controller_id, participant_id)
);
COMMENT ON TABLE outreach.tombstone IS 'deleted participants: who confirmed, why and when; no personal data';

SELECT pg_catalog.pg_extension_config_dump('outreach.deletion_notice', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.retention_run', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.tombstone', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.deletion_notice', 'notice_id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.retention_run', 'run_id')::pg_catalog.regclass, '');

ALTER TABLE outreach.deletion_notice ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.deletion_notice FORCE ROW LEVEL SECURITY;
CREATE POLICY deletion_notice_read ON outreach.deletion_notice FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
ALTER TABLE outreach.tombstone ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.tombstone FORCE ROW LEVEL SECURITY;
CREATE POLICY tombstone_read ON outreach.tombstone FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.deletion_notice, outreach.retention_run, outreach.retention_queue, outreach.tombstone FROM PUBLIC;
GRANT SELECT ON outreach.deletion_notice, outreach.tombstone TO outreach_dpo;
GRANT SELECT ON outreach.retention_run TO outreach_processor, outreach_daemon, outreach_dpo;

-- Retention and status columns are not personal data: changes to them alone are not audited
-- as updates (marking, confirmation, un-marking and deletion are recorded as such).
ALTER TABLE outreach.audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE outreach.audit_log ADD CONSTRAINT audit_log_action_check
  CHECK (action IN ('insert', 'update', 'delete', 'read_special', 'unmark', 'confirm_deletion', 'erasure'));
-- Sweeps: find the participants that are due (prepare), then mark them in small batches, each
-- its own transaction, so a sweep interrupted at any point leaves every row swept or not and
-- the next sweep finishes the job. Concurrent sweeps claim different work (SKIP LOCKED) and
-- take notices in controller order, so they neither mark twice nor deadlock.

CREATE FUNCTION outreach.caller_controller_ids(level text) RETURNS int[]
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION outreach.caller_controller_ids(text) IS
  'my_controller_ids() for the role the session acts as, also inside SECURITY DEFINER functions';

-- Facts of a participant as retention_due_on/retention_decide take them (UTC dates). A name is
-- present when it has a letter or digit (what pseudonymise() needs): blanks or punctuation alone
-- are no name, so such a record cannot be linked and is not kept on the long track.
CREATE FUNCTION outreach.participant_due_on(p outreach.participant, pol outreach.retention_policy, as_of date)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- A standard SQL body: parsed once, when the extension is created (so no search_path applies
-- later), and inlined into the sweep's query instead of being called for every row.
RETURN outreach.retention_due_on(
    coalesce(outreach.normalise_name(p.first_name), '') <> '',
    coalesce(outreach.normalise_name(p.last_name), '') <> '',
    p.postcode IS NOT NULL, p.date_of_birth, (p.created_at AT TIME ZONE 'UTC')::date, p.last_attended_on,
    (p.withdrawn_at AT TIME ZONE 'UTC')::date, p.he_entry_year_override,
    pol.long_track_years, pol.short_track_years, pol.attendance_window_years, pol.nation, as_of);
COMMENT ON FUNCTION outreach.participant_due_on(outreach.participant, outreach.retention_policy, date) IS
  'the date a participant falls due under its controller''s policy';

CREATE FUNCTION outreach.participant_retention(p outreach.participant, pol outreach.retention_policy, as_of date)
RETURNS outreach.retention_decision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- A standard SQL body: parsed once, when the extension is created (so no search_path applies
-- later), and inlined into the sweep's query instead of being called for every row.
RETURN outreach.retention_decide(
    coalesce(outreach.normalise_name(p.first_name), '') <> '',
    coalesce(outreach.normalise_name(p.last_name), '') <> '',
    p.postcode IS NOT NULL, p.date_of_birth, (p.created_at AT TIME ZONE 'UTC')::date, p.last_attended_on,
    (p.withdrawn_at AT TIME ZONE 'UTC')::date, p.he_entry_year_override,
    pol.long_track_years, pol.short_track_years, pol.attendance_window_years, pol.nation, as_of);
COMMENT ON FUNCTION outreach.participant_retention(outreach.participant, outreach.retention_policy, date) IS
  'track, entry year, due date and reasons of a participant under its controller''s policy';

-- Step 1: queue every participant due at as_of. One statement over the table; it holds no
-- lock that blocks members' reads or writes.
CREATE FUNCTION outreach.retention_sweep_prepare(as_of date DEFAULT current_date) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  run bigint;
  queued bigint;
BEGIN
  IF as_of IS NULL OR NOT isfinite(as_of) THEN
    RAISE EXCEPTION 'as_of must be a finite date' USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.retention_run (kind, as_of) VALUES ('sweep', as_of) RETURNING run_id INTO run;
  INSERT INTO outreach.retention_queue (controller_id, participant_id, as_of)
  SELECT p.controller_id, p.participant_id, retention_sweep_prepare.as_of
  FROM outreach.participant p JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
  WHERE p.retention_status = 'retained'
    AND (p.retention_hold_until IS NULL OR p.retention_hold_until <= retention_sweep_prepare.as_of)
    AND outreach.participant_due_on(p, pol, retention_sweep_prepare.as_of) <= retention_sweep_prepare.as_of
  ON CONFLICT (controller_id, participant_id) DO UPDATE SET as_of = EXCLUDED.as_of;
  SELECT count(*) INTO queued FROM outreach.retention_queue;
  UPDATE outreach.retention_run SET candidates = queued WHERE run_id = run;
  PERFORM pg_notify('outreach_retention', json_build_object('event', 'sweep_prepared', 'run_id', run, 'queued', queued)::text);
  RETURN run;
END
$$;
COMMENT ON FUNCTION outreach.retention_sweep_prepare(date) IS
  'sweep step 1: queues every participant due at as_of; returns the run id';

-- Step 2, repeated until it returns 0: marks one batch from the queue. Each marked record gets
-- its reasons, due date and marking date, and joins its controller's notice for the cycle.
CREATE FUNCTION outreach.retention_sweep_batch(run_id bigint, batch_size int DEFAULT 10000) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  claimed int;
  marked int;
  cids int[];
  pids bigint[];
  as_ofs date[];
  run_as_of date;
BEGIN
  IF batch_size IS NULL OR batch_size < 1 OR batch_size > 1000000 THEN
    RAISE EXCEPTION 'batch_size must be between 1 and 1000000' USING ERRCODE = '22023';
  END IF;
  -- The queue may hold rows an interrupted sweep as of a later date left: this run marks
  -- nothing as of a date after its own.
  SELECT r.as_of INTO run_as_of FROM outreach.retention_run r WHERE r.run_id = retention_sweep_batch.run_id;
  WITH claim AS (
    SELECT q.controller_id, q.participant_id FROM outreach.retention_queue q
    ORDER BY q.controller_id, q.participant_id LIMIT batch_size FOR UPDATE SKIP LOCKED
  ), taken AS (
    DELETE FROM outreach.retention_queue q USING claim c
    WHERE q.controller_id = c.controller_id AND q.participant_id = c.participant_id
    RETURNING q.controller_id, q.participant_id, q.as_of
  )
  SELECT array_agg(controller_id), array_agg(participant_id), array_agg(least(as_of, run_as_of)), count(*)
    INTO cids, pids, as_ofs, claimed
  FROM taken;
  IF claimed = 0 THEN
    RETURN 0;
  END IF;

  -- Decide again from the current facts (they may have changed since the queue was built).
  -- The cycle depends only on the controller and the date: computed once per pair, not per row
  -- (MATERIALIZED: pulled up into the query, the call would run again for every row).
  WITH batch AS (
    SELECT * FROM unnest(cids, pids, as_ofs) AS b(controller_id, participant_id, as_of)
  ), cycles AS MATERIALIZED (
    SELECT k.controller_id, k.as_of, outreach.retention_cycle(k.as_of, k.controller_id) AS cycle_year
    FROM (SELECT DISTINCT controller_id, as_of FROM batch) AS k
  ), due AS (
    SELECT p.controller_id, p.participant_id, b.as_of, d.due_on, d.reasons, c.cycle_year
    FROM batch b
    JOIN cycles c ON c.controller_id = b.controller_id AND c.as_of = b.as_of
    JOIN outreach.participant p ON p.controller_id = b.controller_id AND p.participant_id = b.participant_id
    JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
    CROSS JOIN LATERAL outreach.participant_retention(p, pol, b.as_of) d
    WHERE p.retention_status = 'retained'
      AND (p.retention_hold_until IS NULL OR p.retention_hold_until <= b.as_of)
      AND d.due_on <= b.as_of
    FOR UPDATE OF p SKIP LOCKED
  ), notices AS (
    INSERT INTO outreach.deletion_notice AS n (controller_id, cycle_year, confirm_by, records_marked)
    SELECT controller_id, cycle_year, outreach.retention_confirm_by(cycle_year, controller_id), count(*)
    FROM due GROUP BY controller_id, cycle_year ORDER BY controller_id, cycle_year
    ON CONFLICT (controller_id, cycle_year)
      DO UPDATE SET records_marked = n.records_marked + EXCLUDED.records_marked, updated_at = now()
    RETURNING n.controller_id, n.cycle_year, n.notice_id
  )
  UPDATE outreach.participant p
  SET retention_status = 'ready_for_deletion', retention_reasons = due.reasons, retention_due_on = due.due_on,
      retention_marked_on = due.as_of, retention_notice_id = notices.notice_id
  FROM due JOIN notices ON notices.controller_id = due.controller_id AND notices.cycle_year = due.cycle_year
  WHERE p.controller_id = due.controller_id AND p.participant_id = due.participant_id;
  GET DIAGNOSTICS marked = ROW_COUNT;

  UPDATE outreach.retention_run r
  SET batches = r.batches + 1, rows_marked = r.rows_marked + marked, rows_skipped = r.rows_skipped + (claimed - marked)
  WHERE r.run_id = retention_sweep_batch.run_id;
  IF marked > 0 THEN
    PERFORM pg_notify('outreach_retention', json_build_object('event', 'records_marked', 'run_id', run_id,
                                                             'marked', marked)::text);
  END IF;
  RETURN claimed;
END
$$;
COMMENT ON FUNCTION outreach.retention_sweep_batch(bigint, int) IS
  'sweep step 2: marks one batch of queued participants ready for deletion; returns how many it took from the queue (0: done)';

CREATE FUNCTION outreach.retention_run_finish(run_id bigint, error text DEFAULT NULL) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE outreach.retention_run r
  SET finished_at = clock_timestamp(), status = CASE WHEN error IS NULL THEN 'finished' ELSE 'failed' END,
      error = retention_run_finish.error
  WHERE r.run_id = retention_run_finish.run_id AND r.status = 'running'
$$;
COMMENT ON FUNCTION outreach.retention_run_finish(bigint, text) IS 'records the end of a sweep or deletion run';

-- The whole sweep, committing after every batch: CALL outreach.retention_sweep();
-- (A procedure that commits cannot pin search_path; it calls only qualified names and
-- qualified operators.)
CREATE PROCEDURE outreach.retention_sweep(as_of date DEFAULT current_date, batch_size int DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE
  run bigint;
  taken int;
BEGIN
  run := outreach.retention_sweep_prepare(as_of);
  COMMIT;
  LOOP
    taken := outreach.retention_sweep_batch(run, batch_size);
    COMMIT;
    EXIT WHEN taken OPERATOR(pg_catalog.=) 0;
  END LOOP;
  PERFORM outreach.retention_run_finish(run);
  COMMIT;
END
$$;
COMMENT ON PROCEDURE outreach.retention_sweep(date, int) IS
  'marks every participant due at as_of ready for deletion, in batches of batch_size, committing after each';

REVOKE EXECUTE ON FUNCTION outreach.retention_sweep_prepare(date), outreach.retention_sweep_batch(bigint, int),
  outreach.retention_run_finish(bigint, text) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE outreach.retention_sweep(date, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.retention_sweep_prepare(date), outreach.retention_sweep_batch(bigint, int),
  outreach.retention_run_finish(bigint, text) TO outreach_daemon;
GRANT EXECUTE ON PROCEDURE outreach.retention_sweep(date, int) TO outreach_daemon;
REVOKE EXECUTE ON FUNCTION outreach.caller_controller_ids(text) FROM PUBLIC;
-- Confirmation by the controller's DPO, un-marking, deletion with tombstones, erasure.
-- These run with the extension owner's rights so they can change retention columns members
-- cannot write; each checks its caller with caller_controller_ids() (role membership only).

CREATE FUNCTION outreach.require_dpo(controller_id int) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF controller_id IS NULL OR NOT controller_id = ANY (outreach.caller_controller_ids('dpo')) THEN
    RAISE EXCEPTION 'permission denied: role "%" is not the data-protection officer of controller %',
                    outreach.invoking_role(), coalesce(controller_id::text, 'NULL')
      USING ERRCODE = '42501';
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.require_dpo(int) IS 'raises 42501 unless the calling role is DPO of the controller';

-- Confirm every record of a notice that is still waiting. Returns how many were confirmed.
CREATE FUNCTION outreach.confirm_deletion(notice_id bigint) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cid int;
  n int;
BEGIN
  SELECT d.controller_id INTO cid FROM outreach.deletion_notice d WHERE d.notice_id = confirm_deletion.notice_id;
  -- An unknown notice and another controller's notice give the same answer: no probing.
  IF NOT FOUND OR NOT cid = ANY (outreach.caller_controller_ids('dpo')) THEN
    RAISE EXCEPTION 'permission denied: no deletion notice % of a controller whose DPO you are', notice_id
      USING ERRCODE = '42501';
  END IF;
  WITH confirmed AS (
    UPDATE outreach.participant p
    SET retention_status = 'deletion_confirmed', deletion_confirmed_at = now(),
        deletion_confirmed_by = outreach.invoking_role()::text
    WHERE p.controller_id = cid AND p.retention_notice_id = confirm_deletion.notice_id
      AND p.retention_status = 'ready_for_deletion'
    RETURNING p.controller_id, p.participant_id
  )
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
  SELECT c.controller_id, session_user, outreach.invoking_role()::text, 'confirm_deletion', 'participant',
         jsonb_build_object('participant_id', c.participant_id, 'notice_id', confirm_deletion.notice_id)
  FROM confirmed c;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    RAISE EXCEPTION 'deletion notice % has no records waiting for confirmation', notice_id
      USING ERRCODE = '55000', HINT = 'It was confirmed already, or its records were un-marked or deleted.';
  END IF;
  PERFORM pg_notify('outreach_retention', json_build_object('event', 'deletion_confirmed', 'notice_id', notice_id,
                                                           'records', n)::text);
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.confirm_deletion(bigint) IS
  'the DPO confirms deletion of every record of a notice still waiting; returns how many';

-- Confirm a list of participants. All must be ready for deletion, or nothing changes.
CREATE FUNCTION outreach.confirm_deletion(controller_id int, participant_ids bigint[]) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
  bad bigint[];
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF participant_ids IS NULL OR cardinality(participant_ids) = 0 THEN
    RAISE EXCEPTION 'no participants given' USING ERRCODE = '22023';
  END IF;
  SELECT array_agg(id ORDER BY id) INTO bad
  FROM unnest(participant_ids) AS id
  WHERE NOT EXISTS (SELECT 1 FROM outreach.participant p
                    WHERE p.controller_id = confirm_deletion.controller_id AND p.participant_id = id
                      AND p.retention_status = 'ready_for_deletion');
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'participants % of controller % are not waiting for confirmation', bad, controller_id
      USING ERRCODE = '55000', HINT = 'Only records marked ready for deletion can be confirmed, once.';
  END IF;
  WITH confirmed AS (
    UPDATE outreach.participant p
    SET retention_status = 'deletion_confirmed', deletion_confirmed_at = now(),
        deletion_confirmed_by = outreach.invoking_role()::text
    WHERE p.controller_id = confirm_deletion.controller_id AND p.participant_id = ANY (participant_ids)
    RETURNING p.controller_id, p.participant_id, p.retention_notice_id
  )
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
  SELECT c.controller_id, session_user, outreach.invoking_role()::text, 'confirm_deletion', 'participant',
         jsonb_build_object('participant_id', c.participant_id, 'notice_id', c.retention_notice_id)
  FROM confirmed c;
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM pg_notify('outreach_retention', json_build_object('event', 'deletion_confirmed',
                                                           'controller_id', controller_id, 'records', n)::text);
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.confirm_deletion(int, bigint[]) IS
  'the DPO confirms deletion of listed participants (all must be ready for deletion); returns how many';

-- A record that turns out to be in use goes back to retained, with a reason; the next sweeps
-- leave it alone until hold_until (default: a year from today).
CREATE FUNCTION outreach.unmark_deletion(controller_id int, participant_ids bigint[], reason text,
                                         hold_until date DEFAULT NULL) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
  bad bigint[];
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF reason IS NULL OR length(btrim(reason)) = 0 THEN
    RAISE EXCEPTION 'un-marking needs a reason' USING ERRCODE = '22023';
  END IF;
  IF hold_until IS NOT NULL AND hold_until <= current_date THEN
    RAISE EXCEPTION 'hold_until must be in the future' USING ERRCODE = '22023';
  END IF;
  SELECT array_agg(id ORDER BY id) INTO bad
  FROM unnest(participant_ids) AS id
  WHERE NOT EXISTS (SELECT 1 FROM outreach.participant p
                    WHERE p.controller_id = unmark_deletion.controller_id AND p.participant_id = id
                      AND p.retention_status IN ('ready_for_deletion', 'deletion_confirmed'));
  IF bad IS NOT NULL OR participant_ids IS NULL THEN
    RAISE EXCEPTION 'participants % of controller % are not marked for deletion', coalesce(bad, '{}'), controller_id
      USING ERRCODE = '55000';
  END IF;
  WITH unmarked AS (
    UPDATE outreach.participant p
    SET retention_status = 'retained', retention_reasons = NULL, retention_due_on = NULL, retention_marked_on = NULL,
        retention_notice_id = NULL, deletion_confirmed_at = NULL, deletion_confirmed_by = NULL,
        retention_hold_until = coalesce(unmark_deletion.hold_until, current_date + 365),
        retention_hold_reason = reason
    WHERE p.controller_id = unmark_deletion.controller_id AND p.participant_id = ANY (participant_ids)
    RETURNING p.controller_id, p.participant_id
  )
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  SELECT u.controller_id, session_user, outreach.invoking_role()::text, 'unmark', 'participant',
         jsonb_build_object('participant_id', u.participant_id), ARRAY['retention_status']
  FROM unmarked u;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.unmark_deletion(int, bigint[], text, date) IS
  'the DPO returns marked records to retained, with a reason, held from sweeps until hold_until';

-- Deletes one batch of confirmed participants: their rows, their attendance (by cascade) and
-- every other personal row, and writes a tombstone for each, in one statement and so in one
-- transaction. Returns how many were deleted (0: nothing left).
CREATE FUNCTION outreach.execute_deletions(batch_size int DEFAULT 10000, run_id bigint DEFAULT NULL) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  IF batch_size IS NULL OR batch_size < 1 OR batch_size > 1000000 THEN
    RAISE EXCEPTION 'batch_size must be between 1 and 1000000' USING ERRCODE = '22023';
  END IF;
  WITH victims AS (
    SELECT p.controller_id, p.participant_id FROM outreach.participant p
    WHERE p.retention_status = 'deletion_confirmed'
    ORDER BY p.controller_id, p.participant_id LIMIT batch_size FOR UPDATE SKIP LOCKED
  ), gone AS (
    DELETE FROM outreach.participant p USING victims v
    WHERE p.controller_id = v.controller_id AND p.participant_id = v.participant_id
    RETURNING p.controller_id, p.participant_id, coalesce(p.retention_reasons, '{}') AS reasons, p.retention_due_on,
              p.retention_marked_on, p.retention_notice_id, p.deletion_confirmed_at, p.deletion_confirmed_by
  )
  INSERT INTO outreach.tombstone (controller_id, participant_id, reasons, due_on, marked_on, notice_id,
                                  confirmed_at, confirmed_by, run_id)
  SELECT g.controller_id, g.participant_id, g.reasons, g.retention_due_on, g.retention_marked_on, g.retention_notice_id,
         g.deletion_confirmed_at, g.deletion_confirmed_by, execute_deletions.run_id
  FROM gone g;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF run_id IS NOT NULL THEN
    UPDATE outreach.retention_run r SET batches = r.batches + 1, rows_deleted = r.rows_deleted + n
    WHERE r.run_id = execute_deletions.run_id;
  END IF;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.execute_deletions(int, bigint) IS
  'deletes one batch of confirmed participants with all their personal rows, leaving tombstones; returns how many';

CREATE FUNCTION outreach.start_deletion_run() RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ INSERT INTO outreach.retention_run (kind) VALUES ('delete') RETURNING run_id $$;
COMMENT ON FUNCTION outreach.start_deletion_run() IS 'opens a deletion run in the history; returns its id';

CREATE PROCEDURE outreach.delete_confirmed(batch_size int DEFAULT 10000)
LANGUAGE plpgsql
AS $$
DECLARE
  run bigint;
  n int;
BEGIN
  run := outreach.start_deletion_run();
  COMMIT;
  LOOP
    n := outreach.execute_deletions(batch_size, run);
    COMMIT;
    EXIT WHEN n OPERATOR(pg_catalog.=) 0;
  END LOOP;
  PERFORM outreach.retention_run_finish(run);
  COMMIT;
END
$$;
COMMENT ON PROCEDURE outreach.delete_confirmed(int) IS
  'deletes every confirmed participant, in batches, committing after each';

-- Erasure (UK GDPR Art. 17): the same path at once, for one participant.
CREATE FUNCTION outreach.erase_participant(controller_id int, participant_id bigint,
                                           reason text DEFAULT 'erasure_request') RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  UPDATE outreach.participant p
  SET retention_status = 'deletion_confirmed', retention_reasons = ARRAY[coalesce(reason, 'erasure_request')],
      retention_marked_on = current_date, deletion_confirmed_at = now(),
      deletion_confirmed_by = outreach.invoking_role()::text
  WHERE p.controller_id = erase_participant.controller_id AND p.participant_id = erase_participant.participant_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    RAISE EXCEPTION 'participant % of controller % not found', participant_id, controller_id USING ERRCODE = '42704';
  END IF;
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
  VALUES (controller_id, session_user, outreach.invoking_role()::text, 'erasure', 'participant',
          jsonb_build_object('participant_id', participant_id));
  WITH gone AS (
    DELETE FROM outreach.participant p
    WHERE p.controller_id = erase_participant.controller_id AND p.participant_id = erase_participant.participant_id
    RETURNING p.controller_id, p.participant_id, p.retention_reasons, p.retention_marked_on,
              p.deletion_confirmed_at, p.deletion_confirmed_by
  )
  INSERT INTO outreach.tombstone (controller_id, participant_id, reasons, marked_on, confirmed_at, confirmed_by)
  SELECT g.controller_id, g.participant_id, g.retention_reasons, g.retention_marked_on, g.deletion_confirmed_at,
         g.deletion_confirmed_by
  FROM gone g;
END
$$;
COMMENT ON FUNCTION outreach.erase_participant(int, bigint, text) IS
  'the DPO erases a participant at once (erasure request): same deletion path, tombstone left';

-- Deadlines: notices whose deadline passed with records still waiting are escalated (the
-- daemon tells the legal contact); where the policy has a grace period and it has passed too,
-- the waiting records are confirmed by the grace period. Returns the notices escalated now.
CREATE FUNCTION outreach.escalate_overdue_notices(at timestamptz DEFAULT now())
RETURNS TABLE (controller_id int, notice_id bigint, confirm_by timestamptz, records_waiting bigint, legal_contact text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  WITH graced AS (
    UPDATE outreach.participant p
    SET retention_status = 'deletion_confirmed', deletion_confirmed_at = at, deletion_confirmed_by = 'grace period'
    FROM outreach.deletion_notice d JOIN outreach.retention_policy pol ON pol.controller_id = d.controller_id
    WHERE p.controller_id = d.controller_id AND p.retention_notice_id = d.notice_id
      AND p.retention_status = 'ready_for_deletion'
      AND pol.grace_days IS NOT NULL AND d.confirm_by + make_interval(days => pol.grace_days) < at
    RETURNING p.controller_id, p.participant_id, p.retention_notice_id
  )
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
  SELECT g.controller_id, session_user, 'grace period', 'confirm_deletion', 'participant',
         jsonb_build_object('participant_id', g.participant_id, 'notice_id', g.retention_notice_id)
  FROM graced g;
  RETURN QUERY
  WITH overdue AS (
    SELECT d.controller_id, d.notice_id, d.confirm_by, count(*) AS waiting
    FROM outreach.deletion_notice d
    JOIN outreach.participant p ON p.controller_id = d.controller_id AND p.retention_notice_id = d.notice_id
    WHERE d.escalated_at IS NULL AND d.confirm_by < at AND p.retention_status = 'ready_for_deletion'
    GROUP BY d.controller_id, d.notice_id, d.confirm_by
  ), marked AS (
    UPDATE outreach.deletion_notice d SET escalated_at = at
    FROM overdue o WHERE d.controller_id = o.controller_id AND d.notice_id = o.notice_id
    RETURNING d.controller_id, d.notice_id
  )
  SELECT o.controller_id, o.notice_id, o.confirm_by, o.waiting, pol.legal_contact
  FROM overdue o JOIN marked m USING (controller_id, notice_id)
  JOIN outreach.retention_policy pol ON pol.controller_id = o.controller_id
  ORDER BY o.controller_id, o.notice_id;
END
$$;
COMMENT ON FUNCTION outreach.escalate_overdue_notices(timestamptz) IS
  'escalates notices whose confirmation deadline passed with records waiting; applies grace periods';

REVOKE EXECUTE ON FUNCTION outreach.require_dpo(int), outreach.execute_deletions(int, bigint),
  outreach.start_deletion_run(), outreach.escalate_overdue_notices(timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE outreach.delete_confirmed(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.execute_deletions(int, bigint), outreach.start_deletion_run(),
  outreach.escalate_overdue_notices(timestamptz) TO outreach_daemon;
GRANT EXECUTE ON PROCEDURE outreach.delete_confirmed(int) TO outreach_daemon;
REVOKE EXECUTE ON FUNCTION outreach.confirm_deletion(bigint), outreach.confirm_deletion(int, bigint[]),
  outreach.unmark_deletion(int, bigint[], text, date), outreach.erase_participant(int, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.confirm_deletion(bigint), outreach.confirm_deletion(int, bigint[]),
  outreach.unmark_deletion(int, bigint[], text, date), outreach.erase_participant(int, bigint, text) TO outreach_dpo;
GRANT EXECUTE ON FUNCTION outreach.caller_controller_ids(text), outreach.require_dpo(int) TO outreach_dpo;
-- What a DPO sees: each participant's retention status, counts, and a forecast.

-- Per own participant, evaluated today. security_invoker: the caller's own row security and
-- column privileges apply (reader level and up).
CREATE VIEW outreach.retention_status WITH (security_invoker = true) AS
SELECT p.controller_id,
       p.participant_id,
       d.track,
       d.expected_he_entry_year,
       d.entry_year_overridden,
       CASE WHEN p.retention_status = 'retained' THEN d.due_on ELSE p.retention_due_on END AS due_on,
       p.retention_status AS status,
       CASE WHEN p.retention_status = 'retained' THEN d.reasons ELSE p.retention_reasons END AS reasons,
       p.last_attended_on,
       p.withdrawn_at,
       p.retention_marked_on AS marked_on,
       p.retention_notice_id AS notice_id,
       p.deletion_confirmed_at AS confirmed_at,
       p.retention_hold_until AS hold_until
FROM outreach.participant p
JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
CROSS JOIN LATERAL outreach.retention_decide(
  coalesce(outreach.normalise_name(p.first_name), '') <> '',
  coalesce(outreach.normalise_name(p.last_name), '') <> '',
  p.postcode IS NOT NULL, p.date_of_birth, (p.created_at AT TIME ZONE 'UTC')::date, p.last_attended_on,
  (p.withdrawn_at AT TIME ZONE 'UTC')::date, p.he_entry_year_override,
  pol.long_track_years, pol.short_track_years, pol.attendance_window_years, pol.nation, current_date) d;
-- (Columns are passed one by one, not as the whole row: readers may not read every column.)
COMMENT ON VIEW outreach.retention_status IS
  'per participant: retention track, Expected HE Entry Year, due date, status and reasons';

-- Aggregates for DPOs and analysts: they run with the view owner's rights and filter to the
-- controllers the caller may see aggregates of.
CREATE VIEW outreach.retention_summary WITH (security_barrier = true) AS
SELECT p.controller_id, p.retention_status AS status,
       extract(year FROM outreach.participant_due_on(p, pol, current_date))::int AS due_year,
       count(*) AS participants
FROM outreach.participant p
JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
WHERE outreach.controller_visible(p.controller_id, 'analyst')
GROUP BY 1, 2, 3;
COMMENT ON VIEW outreach.retention_summary IS 'participants per controller, retention status and year they fall due';

CREATE VIEW outreach.retention_forecast WITH (security_barrier = true) AS
WITH due AS (
  SELECT p.controller_id, extract(year FROM outreach.participant_due_on(p, pol, current_date))::int AS due_year
  FROM outreach.participant p
  JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
  WHERE outreach.controller_visible(p.controller_id, 'analyst') AND p.retention_status = 'retained'
)
SELECT c.controller_id, y.year AS due_year,
       (SELECT count(*) FROM due WHERE due.controller_id = c.controller_id
          AND (due.due_year = y.year OR (y.year = extract(year FROM current_date)::int AND due.due_year < y.year)))
         AS participants
FROM outreach.controller c
CROSS JOIN LATERAL generate_series(extract(year FROM current_date)::int, extract(year FROM current_date)::int + 19) AS y(year)
WHERE outreach.controller_visible(c.controller_id, 'analyst');
COMMENT ON VIEW outreach.retention_forecast IS
  'for each controller, how many retained records fall due in each of the next 20 years (overdue counted in this year)';

GRANT SELECT ON outreach.retention_status TO outreach_reader, outreach_processor;
GRANT SELECT ON outreach.retention_summary, outreach.retention_forecast
  TO outreach_reader, outreach_analyst, outreach_processor;
GRANT EXECUTE ON FUNCTION
  outreach.retention_decide(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date),
  outreach.retention_due_on(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date),
  outreach.participant_due_on(outreach.participant, outreach.retention_policy, date),
  outreach.participant_retention(outreach.participant, outreach.retention_policy, date)
  TO PUBLIC;
