-- Sweeps: find the participants that are due (prepare), then mark them in small batches, each
-- its own transaction, so a sweep interrupted at any point leaves every row swept or not and
-- the next sweep finishes the job. Concurrent sweeps claim different work (SKIP LOCKED) and
-- take notices in controller order, so they neither mark twice nor deadlock.


-- A member's impossible row never breaks a statement that serves every member: dates members
-- write are bounded (the *_range constraints of outreach.participant, activity and attendance),
-- and rows outside those bounds (an upgraded database may hold some) are skipped and reported.

-- What keeps a participant's retention from being computed: NULL when nothing does, else the
-- column and why. Columns one by one (not the row): readers may not read every column.
CREATE OR REPLACE FUNCTION outreach.retention_facts_problem(date_of_birth date, created_at timestamptz,
                                                 last_attended_on date, withdrawn_at timestamptz)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
  WHEN NOT (date_of_birth BETWEEN '1900-01-01' AND '2100-12-31') THEN 'date_of_birth is outside 1900-2100'
  WHEN created_at IS NULL OR NOT (created_at >= '1900-01-01 00:00:00+00' AND created_at < '2101-01-01 00:00:00+00')
    THEN 'created_at is outside 1900-2100'
  WHEN NOT (last_attended_on BETWEEN '1900-01-01' AND '2100-12-31') THEN 'an attendance date is outside 1900-2100'
  WHEN NOT (withdrawn_at >= '1900-01-01 00:00:00+00' AND withdrawn_at < '2101-01-01 00:00:00+00')
    THEN 'withdrawn_at is outside 1900-2100'
END;
COMMENT ON FUNCTION outreach.retention_facts_problem(date, timestamptz, date, timestamptz) IS
  'why a participant''s retention cannot be computed (a date outside 1900-2100), or NULL';

-- retention_status's decision, from the columns a reader may read; NULL for impossible facts.
CREATE OR REPLACE FUNCTION outreach.participant_decision(
    first_name text, last_name text, has_postcode boolean, date_of_birth date, created_at timestamptz,
    last_attended_on date, withdrawn_at timestamptz, entry_year_override int, pol outreach.retention_policy,
    as_of date)
RETURNS outreach.retention_decision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN outreach.retention_facts_problem(date_of_birth, created_at, last_attended_on, withdrawn_at) IS NULL
  THEN outreach.retention_decide(
    coalesce(outreach.normalise_name(first_name), '') <> '', coalesce(outreach.normalise_name(last_name), '') <> '',
    has_postcode, date_of_birth, (created_at AT TIME ZONE 'UTC')::date, last_attended_on,
    (withdrawn_at AT TIME ZONE 'UTC')::date, entry_year_override,
    pol.long_track_years, pol.short_track_years, pol.attendance_window_years, pol.nation, as_of) END;
COMMENT ON FUNCTION outreach.participant_decision(text, text, boolean, date, timestamptz, date, timestamptz, int,
                                                  outreach.retention_policy, date) IS
  'retention_decide for a participant''s columns under a policy; NULL when a date is impossible';
GRANT EXECUTE ON FUNCTION outreach.participant_decision(text, text, boolean, date, timestamptz, date, timestamptz, int,
                                                         outreach.retention_policy, date) TO PUBLIC;

-- Participants the last sweep could not judge, with the reason: the member's to correct.
CREATE TABLE outreach.retention_skipped (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  problem text NOT NULL,
  run_id bigint NOT NULL,
  -- No foreign key to participant: its check would lock the participant's row, and a member's
  -- open transaction holding that row would stall the sweep of every member. Rows of deleted
  -- participants are gone at the next sweep, which rewrites the table.
  PRIMARY KEY (controller_id, participant_id)
);
COMMENT ON TABLE outreach.retention_skipped IS
  'participants the last sweep skipped because a date is impossible, and why (each member sees its own)';
ALTER TABLE outreach.retention_skipped ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.retention_skipped FORCE ROW LEVEL SECURITY;
CREATE POLICY retention_skipped_read ON outreach.retention_skipped FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
REVOKE ALL ON outreach.retention_skipped FROM PUBLIC;
GRANT SELECT ON outreach.retention_skipped TO outreach_reader, outreach_processor;

-- The service's clock: a role that is not a superuser may name a date at most
-- outreach.future_as_of_days ahead of today (default 1), so the daemon's credential alone cannot
-- mark or confirm years of records early.
CREATE OR REPLACE FUNCTION outreach.check_service_date(value timestamptz, what text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  horizon int := pg_catalog.current_setting('outreach.future_as_of_days')::int;
BEGIN
  IF value IS NULL OR NOT isfinite(value) THEN
    RAISE EXCEPTION '% must be a finite date', what USING ERRCODE = '22023';
  END IF;
  IF value > now() + make_interval(days => horizon + 1)
     AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user) THEN
    RAISE EXCEPTION '% % is more than % days ahead of today', what, value::date, horizon
      USING ERRCODE = '22023',
            HINT = 'Only a superuser, or a role a superuser gave a larger outreach.future_as_of_days, may run the service ahead of time.';
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.check_service_date(timestamptz, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.check_service_date(timestamptz, text) IS
  'refuses infinite dates, and dates beyond outreach.future_as_of_days from a role that is not a superuser';

-- A participant's due date under its controller's policy; NULL (never an error) when its facts are impossible.
CREATE OR REPLACE FUNCTION outreach.participant_due_on(p outreach.participant, pol outreach.retention_policy, as_of date)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN outreach.retention_facts_problem(p.date_of_birth, p.created_at, p.last_attended_on, p.withdrawn_at) IS NULL
  THEN outreach.retention_due_on(
    coalesce(outreach.normalise_name(p.first_name), '') <> '',
    coalesce(outreach.normalise_name(p.last_name), '') <> '',
    p.postcode IS NOT NULL, p.date_of_birth, (p.created_at AT TIME ZONE 'UTC')::date, p.last_attended_on,
    (p.withdrawn_at AT TIME ZONE 'UTC')::date, p.he_entry_year_override,
    pol.long_track_years, pol.short_track_years, pol.attendance_window_years, pol.nation, as_of) END;
COMMENT ON FUNCTION outreach.participant_due_on(outreach.participant, outreach.retention_policy, date) IS
  'the date a participant falls due under its controller''s policy';

CREATE OR REPLACE FUNCTION outreach.participant_retention(p outreach.participant, pol outreach.retention_policy, as_of date)
RETURNS outreach.retention_decision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN outreach.retention_facts_problem(p.date_of_birth, p.created_at, p.last_attended_on, p.withdrawn_at) IS NULL
  THEN outreach.retention_decide(
    coalesce(outreach.normalise_name(p.first_name), '') <> '',
    coalesce(outreach.normalise_name(p.last_name), '') <> '',
    p.postcode IS NOT NULL, p.date_of_birth, (p.created_at AT TIME ZONE 'UTC')::date, p.last_attended_on,
    (p.withdrawn_at AT TIME ZONE 'UTC')::date, p.he_entry_year_override,
    pol.long_track_years, pol.short_track_years, pol.attendance_window_years, pol.nation, as_of) END;
GRANT EXECUTE ON FUNCTION
  outreach.retention_decide(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date),
  outreach.retention_due_on(boolean, boolean, boolean, date, date, date, date, int, int, int, int, text, date),
  outreach.participant_due_on(outreach.participant, outreach.retention_policy, date),
  outreach.participant_retention(outreach.participant, outreach.retention_policy, date)
  TO PUBLIC;
COMMENT ON FUNCTION outreach.participant_retention(outreach.participant, outreach.retention_policy, date) IS
  'track, entry year, due date and reasons of a participant under its controller''s policy';

-- Queues every participant due at as_of and reports those whose facts are impossible. No NOTIFY:
-- a payload would count every member's records.
CREATE OR REPLACE FUNCTION outreach.retention_sweep_prepare(as_of date DEFAULT current_date) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  run bigint;
  queued bigint;
BEGIN
  PERFORM outreach.check_service_date(as_of, 'as_of');  -- (also refuses NULL and infinity)
  INSERT INTO outreach.retention_run (kind, as_of) VALUES ('sweep', as_of) RETURNING run_id INTO run;
  -- Participants with an impossible date are the member's to correct: reported, not judged.
  DELETE FROM outreach.retention_skipped;
  INSERT INTO outreach.retention_skipped (controller_id, participant_id, problem, run_id)
  SELECT p.controller_id, p.participant_id, x.problem, run
  FROM outreach.participant p,
       LATERAL (SELECT outreach.retention_facts_problem(p.date_of_birth, p.created_at, p.last_attended_on,
                                                        p.withdrawn_at) AS problem) x
  WHERE p.retention_status = 'retained' AND x.problem IS NOT NULL;
  INSERT INTO outreach.retention_queue (controller_id, participant_id, as_of)
  SELECT p.controller_id, p.participant_id, retention_sweep_prepare.as_of
  FROM outreach.participant p JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
  WHERE p.retention_status = 'retained' AND p.restricted_at IS NULL   -- a restricted record is only stored
    AND (p.retention_hold_until IS NULL OR p.retention_hold_until <= retention_sweep_prepare.as_of)
    AND outreach.participant_due_on(p, pol, retention_sweep_prepare.as_of) <= retention_sweep_prepare.as_of
  ON CONFLICT (controller_id, participant_id) DO UPDATE SET as_of = EXCLUDED.as_of;
  SELECT count(*) INTO queued FROM outreach.retention_queue;
  UPDATE outreach.retention_run SET candidates = queued WHERE run_id = run;
  RETURN run;
END
$$;
COMMENT ON FUNCTION outreach.retention_sweep_prepare(date) IS
  'sweep step 1: queues every participant due at as_of; returns the run id';

CREATE OR REPLACE FUNCTION outreach.retention_sweep_batch(run_id bigint, batch_size int DEFAULT 10000) RETURNS int
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
    WHERE p.retention_status = 'retained' AND p.restricted_at IS NULL
      AND (p.retention_hold_until IS NULL OR p.retention_hold_until <= b.as_of)
      AND d.due_on <= b.as_of
    FOR UPDATE OF p SKIP LOCKED
  ), notices AS (
    INSERT INTO outreach.deletion_notice AS n (controller_id, cycle_year, confirm_by, records_marked)
    SELECT controller_id, cycle_year, outreach.retention_confirm_by(cycle_year, controller_id), count(*)
    FROM due GROUP BY controller_id, cycle_year ORDER BY controller_id, cycle_year
    ON CONFLICT (controller_id, cycle_year) WHERE kind = 'cycle'
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
    PERFORM outreach.notify_service('records_marked');
  END IF;
  RETURN claimed;
END
$$;
COMMENT ON FUNCTION outreach.retention_sweep_batch(bigint, int) IS
  'sweep step 2: marks one batch of queued participants ready for deletion; returns how many it took from the queue (0: done)';

-- "error" is qualified as the parameter: unqualified, the CASE would read the table's column.
CREATE OR REPLACE FUNCTION outreach.retention_run_finish(run_id bigint, error text DEFAULT NULL) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE outreach.retention_run r
  SET finished_at = clock_timestamp(),
      status = CASE WHEN retention_run_finish.error IS NULL THEN 'finished' ELSE 'failed' END,
      error = retention_run_finish.error
  WHERE r.run_id = retention_run_finish.run_id AND r.status = 'running'
$$;
COMMENT ON FUNCTION outreach.retention_run_finish(bigint, text) IS 'records the end of a sweep or deletion run';

-- The whole sweep, committing after every batch: CALL outreach.retention_sweep();
-- (A procedure that commits cannot pin search_path; it calls only qualified names and
-- qualified operators.)
CREATE OR REPLACE PROCEDURE outreach.retention_sweep(as_of date DEFAULT current_date, batch_size int DEFAULT 10000)
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
