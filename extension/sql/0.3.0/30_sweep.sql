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
