-- Every date and time a member can write is finite and within the years the domain allows
-- (1900 to 2100), and one member's impossible row never breaks a statement that serves every
-- member. Until 0.6.0 a writer could store 'infinity' in attendance.attended_on or
-- participant.withdrawn_at, after which retention_sweep_prepare failed for every member on
-- every run (22008).

-- The columns members write. A fresh install validates at once (the tables are empty); an
-- upgrade validates what it can and, where rows already hold impossible values, leaves the
-- constraint NOT VALID (still enforced on every new write) and says so: the sweep skips and
-- reports those rows (outreach.retention_skipped) until the member corrects them.
ALTER TABLE outreach.participant
  ADD CONSTRAINT participant_withdrawn_at_range
    CHECK (withdrawn_at >= '1900-01-01 00:00:00+00' AND withdrawn_at < '2101-01-01 00:00:00+00') NOT VALID,
  ADD CONSTRAINT participant_restricted_at_range
    CHECK (restricted_at >= '1900-01-01 00:00:00+00' AND restricted_at < '2101-01-01 00:00:00+00') NOT VALID;
ALTER TABLE outreach.activity
  ADD CONSTRAINT activity_starts_on_range CHECK (starts_on BETWEEN '1900-01-01' AND '2100-12-31') NOT VALID,
  ADD CONSTRAINT activity_ends_on_range CHECK (ends_on BETWEEN '1900-01-01' AND '2100-12-31') NOT VALID;
ALTER TABLE outreach.attendance
  ADD CONSTRAINT attendance_attended_on_range CHECK (attended_on BETWEEN '1900-01-01' AND '2100-12-31') NOT VALID;
COMMENT ON CONSTRAINT participant_withdrawn_at_range ON outreach.participant IS 'finite, in 1900-2100';
COMMENT ON CONSTRAINT participant_restricted_at_range ON outreach.participant IS 'finite, in 1900-2100';
COMMENT ON CONSTRAINT activity_starts_on_range ON outreach.activity IS 'finite, in 1900-2100';
COMMENT ON CONSTRAINT activity_ends_on_range ON outreach.activity IS 'finite, in 1900-2100';
COMMENT ON CONSTRAINT attendance_attended_on_range ON outreach.attendance IS 'finite, in 1900-2100';

DO $validate$
DECLARE
  c record;
BEGIN
  FOR c IN SELECT * FROM (VALUES ('participant', 'participant_withdrawn_at_range'),
                                 ('participant', 'participant_restricted_at_range'),
                                 ('activity', 'activity_starts_on_range'), ('activity', 'activity_ends_on_range'),
                                 ('attendance', 'attendance_attended_on_range')) AS v(rel, con) LOOP
    BEGIN
      EXECUTE pg_catalog.format('ALTER TABLE outreach.%I VALIDATE CONSTRAINT %I', c.rel, c.con);
    EXCEPTION WHEN check_violation THEN
      RAISE WARNING 'outreach.% holds rows outside 1900-2100 or infinite: % stays NOT VALID', c.rel, c.con
        USING HINT = 'New writes are checked. Correct those rows, then ALTER TABLE ... VALIDATE CONSTRAINT; '
                     'until then retention sweeps skip the participants concerned (outreach.retention_skipped).';
    END;
  END LOOP;
END
$validate$;

-- What keeps a participant's retention from being computed: NULL when nothing does, else the
-- column and why. Columns one by one (not the row): readers may not read every column.
CREATE FUNCTION outreach.retention_facts_problem(date_of_birth date, created_at timestamptz,
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

-- As in 0.3.0, but NULL (never an error) for a participant whose facts are impossible.
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

-- retention_status's decision, from the columns a reader may read; NULL for impossible facts.
CREATE FUNCTION outreach.participant_decision(
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

-- As in 0.3.0; a participant whose facts are impossible shows why in reasons instead of
-- failing the whole view for its member.
CREATE OR REPLACE VIEW outreach.retention_status WITH (security_invoker = true) AS
SELECT p.controller_id,
       p.participant_id,
       d.track,
       d.expected_he_entry_year,
       d.entry_year_overridden,
       CASE WHEN p.retention_status = 'retained' THEN d.due_on ELSE p.retention_due_on END AS due_on,
       p.retention_status AS status,
       CASE WHEN p.retention_status = 'retained'
            THEN coalesce(d.reasons, ARRAY['not computed: ' || outreach.retention_facts_problem(
                   p.date_of_birth, p.created_at, p.last_attended_on, p.withdrawn_at)])
            ELSE p.retention_reasons END AS reasons,
       p.last_attended_on,
       p.withdrawn_at,
       p.retention_marked_on AS marked_on,
       p.retention_notice_id AS notice_id,
       p.deletion_confirmed_at AS confirmed_at,
       p.retention_hold_until AS hold_until
FROM outreach.participant p
JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
CROSS JOIN LATERAL outreach.participant_decision(
  p.first_name, p.last_name, p.postcode IS NOT NULL, p.date_of_birth, p.created_at, p.last_attended_on,
  p.withdrawn_at, p.he_entry_year_override, pol, current_date) d;

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
CREATE FUNCTION outreach.check_service_date(value timestamptz, what text) RETURNS void
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

-- As in 0.3.0, with the service's clock checked, impossible rows reported, and no NOTIFY
-- (nothing listened to it; its payload counted every member's records).
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
  WHERE p.retention_status = 'retained'
    AND (p.retention_hold_until IS NULL OR p.retention_hold_until <= retention_sweep_prepare.as_of)
    AND outreach.participant_due_on(p, pol, retention_sweep_prepare.as_of) <= retention_sweep_prepare.as_of
  ON CONFLICT (controller_id, participant_id) DO UPDATE SET as_of = EXCLUDED.as_of;
  SELECT count(*) INTO queued FROM outreach.retention_queue;
  UPDATE outreach.retention_run SET candidates = queued WHERE run_id = run;
  RETURN run;
END
$$;

-- As in 0.3.0, with the service's clock checked and locked records skipped.
CREATE OR REPLACE FUNCTION outreach.escalate_overdue_notices(at timestamptz DEFAULT now())
RETURNS TABLE (controller_id int, notice_id bigint, confirm_by timestamptz, records_waiting bigint, legal_contact text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  PERFORM outreach.check_service_date(at, 'at');
  -- A record a member's open transaction holds locked is skipped (the next run confirms it), so
  -- no member can stall the grace period of every other.
  WITH due AS (
    SELECT p.controller_id, p.participant_id
    FROM outreach.participant p
    JOIN outreach.deletion_notice d ON p.controller_id = d.controller_id AND p.retention_notice_id = d.notice_id
    JOIN outreach.retention_policy pol ON pol.controller_id = d.controller_id
    WHERE p.retention_status = 'ready_for_deletion'
      AND pol.grace_days IS NOT NULL AND d.confirm_by + make_interval(days => pol.grace_days) < at
    FOR UPDATE OF p SKIP LOCKED
  ), graced AS (
    UPDATE outreach.participant p
    SET retention_status = 'deletion_confirmed', deletion_confirmed_at = at, deletion_confirmed_by = 'grace period'
    FROM due
    WHERE p.controller_id = due.controller_id AND p.participant_id = due.participant_id
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

-- As in 0.3.0, with the hold bounded.
CREATE OR REPLACE FUNCTION outreach.unmark_deletion(controller_id int, participant_ids bigint[], reason text,
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
  -- A hold keeps records past their policy: at most five years at a time, never for ever.
  IF hold_until IS NOT NULL AND (NOT isfinite(hold_until) OR hold_until > current_date + interval '5 years') THEN
    RAISE EXCEPTION 'hold_until must be at most five years from today, not %', hold_until USING ERRCODE = '22023';
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

-- A run's counts are every member's together (candidates, rows marked or deleted): DPOs read
-- their own member's figures in deletion_notice and tombstone, not the service's.
REVOKE SELECT ON outreach.retention_run FROM outreach_dpo;
