\echo Use "ALTER EXTENSION outreach UPDATE TO '0.7.0'" to load this file. \quit

-- 0.7.0: the member boundary hardened. No member, and no role without access, can stop the
-- service for everyone (impossible dates, held locks), poison a backup, learn what it may not
-- read (audit side effects, plans, NOTIFY payloads) or exhaust a backend.
-- From 0.7.0 the library must be loaded by shared_preload_libraries: its utility hook keeps
-- members from locking the service's tables (see extension/src/pg/lock_guard.cpp), and
-- outreach.key_file is then a superuser-only setting from the server's start instead of a
-- placeholder any role can SHOW.
CREATE FUNCTION outreach.preloaded() RETURNS boolean
  AS 'MODULE_PATHNAME', 'outreach_preloaded' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.preloaded() IS
  'whether this server loaded the outreach library through shared_preload_libraries (required)';

DO $preload$
BEGIN
  IF NOT outreach.preloaded() THEN
    RAISE EXCEPTION 'the outreach library must be loaded through shared_preload_libraries'
      USING ERRCODE = '55000',
            HINT = 'Add outreach to shared_preload_libraries in postgresql.conf, restart the server, then run this again.';
  END IF;
END
$preload$;
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
-- Locks the service needs are on rows no other role may lock, one per member, so that a
-- member's open transaction can hold up only that member's work. Until 0.6.0 outcome imports
-- and participant deletions met at one advisory lock, whose key any login could take itself and
-- hold for as long as it liked, stalling every member's deletions and every import.
-- outreach.outcome_lock has a row per member and no privileges for anyone; only the extension's
-- own SECURITY DEFINER functions lock its rows:
--   * a deletion of participants takes its member's row FOR SHARE (deletions run side by side);
--   * an import takes FOR UPDATE SKIP LOCKED on every member's row: a member with a deletion in
--     progress is skipped, its lines reported as 'deferred' (import the file again), and every
--     other member's lines are imported. A deletion that starts while an import runs waits for
--     it (seconds), then removes whatever the import stored for the deleted participants.
-- Imports still run one at a time: each takes SHARE ROW EXCLUSIVE on the table, which conflicts
-- with itself but not with the row locks of deletions.
CREATE TABLE outreach.outcome_lock (
  controller_id int PRIMARY KEY REFERENCES outreach.controller ON DELETE CASCADE
);
REVOKE ALL ON outreach.outcome_lock FROM PUBLIC;
COMMENT ON TABLE outreach.outcome_lock IS
  'a row per member, locked by outcome imports (FOR UPDATE SKIP LOCKED) and participant deletions (FOR SHARE)';
INSERT INTO outreach.outcome_lock (controller_id) SELECT c.controller_id FROM outreach.controller c;
-- Dumped with the members: a restore (triggers off) would otherwise leave every member rowless.
SELECT pg_catalog.pg_extension_config_dump('outreach.outcome_lock', '');

CREATE FUNCTION outreach.controller_outcome_lock() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO outreach.outcome_lock (controller_id) VALUES (NEW.controller_id);
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.controller_outcome_lock() FROM PUBLIC;
COMMENT ON FUNCTION outreach.controller_outcome_lock() IS 'trigger: gives a new member its row in outreach.outcome_lock';
CREATE TRIGGER controller_outcome_lock AFTER INSERT ON outreach.controller
  FOR EACH ROW EXECUTE FUNCTION outreach.controller_outcome_lock();

-- An import's lines for members that were deleting participants at the time.
ALTER TABLE outreach.outcome_import_error DROP CONSTRAINT outcome_import_error_status_check,
  ADD CONSTRAINT outcome_import_error_status_check
    CHECK (status IN ('rejected', 'duplicate', 'unknown_reference', 'deferred'));
ALTER TABLE outreach.outcome_import ADD COLUMN deferred int NOT NULL DEFAULT 0;
COMMENT ON COLUMN outreach.outcome_import.deferred IS
  'lines not imported because their member was deleting participants at the time (import the file again)';

-- As in 0.6.0, but waiting only for an import of the same member (its row of outreach.outcome_lock).
CREATE OR REPLACE FUNCTION outreach.participant_followup_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  -- (recorded for each building export, whose row this locks in share mode)
  INSERT INTO outreach.export_touch (export_id, controller_id, participant_id)
  SELECT e.export_id, o.controller_id, o.participant_id FROM outreach.export e, old_rows o WHERE e.status = 'building'
  FOR SHARE OF e
  ON CONFLICT DO NOTHING;
  -- An outcome import in progress finishes first (it may be storing outcomes of these people).
  PERFORM 1 FROM outreach.outcome_lock l WHERE l.controller_id IN (SELECT DISTINCT o.controller_id FROM old_rows o)
  ORDER BY l.controller_id FOR SHARE;
  WITH gone AS (
    SELECT r.controller_id, (r.participant_id >> 16)::int AS block, array_agg(r.participant_id) AS ids
    FROM old_rows r GROUP BY r.controller_id, (r.participant_id >> 16)::int
  ), emptied AS (
    DELETE FROM outreach.outcome_block b USING gone g
    WHERE b.controller_id = g.controller_id AND b.block = g.block AND b.participant_ids <@ g.ids
    RETURNING b.controller_id, b.recipient, b.block
  )
  UPDATE outreach.outcome_block b
  SET (participant_ids, outcomes, academic_years, measures, provider_ukprns, provider_names, outcome_values,
       import_ids, line_nos, updated_ats) =
      (SELECT array_agg(u.participant_id ORDER BY u.k), array_agg(u.outcome ORDER BY u.k),
              array_agg(u.academic_year ORDER BY u.k), array_agg(u.measure ORDER BY u.k),
              array_agg(u.provider_ukprn ORDER BY u.k), array_agg(u.provider_name ORDER BY u.k),
              array_agg(u.value ORDER BY u.k), array_agg(u.import_id ORDER BY u.k),
              array_agg(u.line_no ORDER BY u.k), array_agg(u.updated_at ORDER BY u.k)
       FROM unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.provider_ukprns, b.provider_names,
                   b.outcome_values, b.import_ids, b.line_nos, b.updated_ats) WITH ORDINALITY
         AS u(participant_id, outcome, academic_year, measure, provider_ukprn, provider_name, value, import_id,
              line_no, updated_at, k)
       WHERE u.participant_id <> ALL (g.ids))
  FROM gone g
  WHERE b.controller_id = g.controller_id AND b.block = g.block AND b.participant_ids && g.ids
    AND NOT b.participant_ids <@ g.ids;
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id)
  SELECT DISTINCT ON (o.controller_id, o.participant_id, b.recipient)
         o.controller_id, o.participant_id, b.recipient, 'erasure', u.reference, b.export_id
  FROM (SELECT DISTINCT r.controller_id, (r.participant_id >> 12)::int AS block FROM old_rows r) AS t
  JOIN outreach.disclosure_block b ON b.controller_id = t.controller_id AND b.block = t.block
  CROSS JOIN LATERAL unnest(b.participant_ids, b.participant_references) AS u(participant_id, reference)
  JOIN old_rows o ON o.controller_id = b.controller_id AND o.participant_id = u.participant_id
  ORDER BY o.controller_id, o.participant_id, b.recipient, b.export_id DESC;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION outreach.import_outcomes(recipient text, file_name text, content bytea)
RETURNS TABLE (import_id bigint, line_no int, status text, reason text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The blocks outcome_import_rows returns (tens of MB for a million facts) are kept in memory
-- (imports run one at a time, so this much memory is taken once).
SET work_mem = '256MB'
-- Its scan of the participants of a large service is costed above jit_above_cost; compiling
-- the scan's few expressions costs more than it saves.
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
  r record;
  lay outreach.recipient_layout;
  expected text[];
  got text[];
  head record;
  nl int;
  new_id bigint;
  checksum text;
  pos jsonb := '{}';
  n_fields int;
  codes jsonb;
  code_keys text[];
  code_values text[];
  stats record;
  fld text;
  free int[];  -- the members locked for this import (the others were deleting participants)
BEGIN
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = import_outcomes.recipient;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown recipient "%"', recipient USING ERRCODE = '42704';
  END IF;
  SELECT * INTO lay FROM outreach.recipient_layout l
  WHERE l.recipient = r.name AND l.kind = 'outcome' AND l.version = r.outcome_layout;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'recipient "%" has no outcome layout', recipient USING ERRCODE = '22023';
  END IF;
  IF file_name IS NULL OR length(file_name) NOT BETWEEN 1 AND 255 THEN
    RAISE EXCEPTION 'file_name must be 1 to 255 characters' USING ERRCODE = '22023';
  END IF;
  IF content IS NULL THEN
    RAISE EXCEPTION 'no content given for file "%"', file_name USING ERRCODE = '22023';
  END IF;

  SELECT array_agg(c.header ORDER BY c.position), count(*)::int INTO expected, n_fields
  FROM outreach.recipient_layout_column c
  WHERE c.recipient = r.name AND c.kind = 'outcome' AND c.version = lay.version;
  -- Field name -> index in the record (1-based, in position order).
  SELECT jsonb_object_agg(c.field, c.i) INTO pos
  FROM (SELECT lc.field, row_number() OVER (ORDER BY lc.position) AS i FROM outreach.recipient_layout_column lc
        WHERE lc.recipient = r.name AND lc.kind = 'outcome' AND lc.version = lay.version AND lc.field <> 'ignore') AS c;

  -- The header: the first record, parsed from the first physical line alone.
  nl := position('\x0a'::bytea IN content);
  SELECT h.line_no, h.fields, h.error INTO head
  FROM outreach.csv_records(CASE WHEN nl = 0 THEN content ELSE substring(content FROM 1 FOR nl) END) h
  ORDER BY h.line_no LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'file "%" is empty: expected the header %', file_name, outreach.csv_record(expected)
      USING ERRCODE = '22P04';
  END IF;
  IF head.error IS NOT NULL THEN
    RAISE EXCEPTION 'file "%" does not begin with a valid header record: %', file_name, head.error
      USING ERRCODE = '22P04', DETAIL = format('Expected the header %s.', outreach.csv_record(expected));
  END IF;
  got := head.fields;
  IF cardinality(got) <> n_fields
     OR EXISTS (SELECT 1 FROM unnest(expected, got) AS h(e, f) WHERE lower(btrim(h.e)) IS DISTINCT FROM lower(btrim(h.f))) THEN
    RAISE EXCEPTION 'file "%" does not have the header of the % outcome layout (version %): expected "%", found "%"',
                    file_name, r.name, lay.version, outreach.csv_record(expected), left(outreach.csv_record(got), 500)
      USING ERRCODE = '22P04', HINT = 'Nothing was imported. Ask the recipient for a file in the agreed layout.';
  END IF;

  -- Imports run one at a time; each member's deletions wait for them, and a member deleting now
  -- is skipped (see outreach.outcome_lock).
  LOCK TABLE outreach.outcome_lock IN SHARE ROW EXCLUSIVE MODE;
  -- (a member without its row, restored by hand without it, gets one)
  INSERT INTO outreach.outcome_lock (controller_id) SELECT c.controller_id FROM outreach.controller c
  ON CONFLICT DO NOTHING;
  SELECT coalesce(array_agg(l.controller_id), '{}') INTO free
  FROM (SELECT k.controller_id FROM outreach.outcome_lock k ORDER BY k.controller_id FOR UPDATE SKIP LOCKED) l;

  checksum := encode(sha256(content), 'hex');
  INSERT INTO outreach.outcome_import (recipient, layout_version, file_name, sha256, same_as, imported_by)
  VALUES (r.name, lay.version, file_name, checksum,
          (SELECT min(i.import_id) FROM outreach.outcome_import i WHERE i.recipient = r.name AND i.sha256 = checksum),
          outreach.invoking_role()::text)
  RETURNING outcome_import.import_id INTO new_id;

  -- The outcome kind of a row: the layout's fixed kind, or its outcome column through the codes.
  codes := coalesce(lay.value_codes -> 'outcome', '{}');
  SELECT coalesce(array_agg(k.key ORDER BY k.key), '{}'), coalesce(array_agg(k.value ORDER BY k.key), '{}')
    INTO code_keys, code_values FROM jsonb_each_text(codes) k;

  -- One statement: the C++ pass (outcome_import_rows: parse, check, match through the ledger,
  -- judge against the participants, merge with the facts held) returns the blocks to write and
  -- the lines not imported; both are written here.
  WITH res AS MATERIALIZED (
    SELECT x.* FROM outreach.outcome_import_rows(
      r.name, new_id, content, head.line_no, n_fields,
      ARRAY[coalesce((pos ->> 'reference')::int, 0), coalesce((pos ->> 'academic_year')::int, 0),
            coalesce((pos ->> 'measure')::int, 0), coalesce((pos ->> 'value')::int, 0),
            coalesce((pos ->> 'provider_ukprn')::int, 0), coalesce((pos ->> 'provider_name')::int, 0),
            coalesce((pos ->> 'outcome')::int, 0)],
      CASE WHEN lay.outcome_kind IS NOT NULL AND NOT pos ? 'outcome' THEN lay.outcome_kind END,
      code_keys, code_values) AS x
  ), blocks AS (
    -- Imports run one at a time and only they add outcomes (deletions of the members locked here
    -- wait: see outreach.outcome_lock), so the blocks read by the C++ pass are still the ones held.
    -- A member that was busy keeps its blocks as they are.
    INSERT INTO outreach.outcome_block AS b (controller_id, recipient, block, participant_ids, outcomes, academic_years,
                                             measures, provider_ukprns, provider_names, outcome_values, import_ids,
                                             line_nos, updated_ats)
    SELECT x.controller_id, r.name, x.block, x.participant_ids, x.outcomes, x.academic_years, x.measures,
           x.provider_ukprns, x.provider_names, x.outcome_values, x.import_ids, x.line_nos, x.updated_ats
    FROM res x WHERE x.participant_ids IS NOT NULL AND x.controller_id = ANY (free)
    ON CONFLICT (controller_id, recipient, block) DO UPDATE
    SET participant_ids = excluded.participant_ids, outcomes = excluded.outcomes,
        academic_years = excluded.academic_years, measures = excluded.measures,
        provider_ukprns = excluded.provider_ukprns, provider_names = excluded.provider_names,
        outcome_values = excluded.outcome_values, import_ids = excluded.import_ids, line_nos = excluded.line_nos,
        updated_ats = excluded.updated_ats
    RETURNING 1
  ), errs AS (
    INSERT INTO outreach.outcome_import_error (import_id, line_no, status, reason)
    SELECT new_id, x.line_no, x.status, x.reason FROM res x WHERE x.line_no IS NOT NULL
    UNION ALL
    -- the lines this import would have stored for a member that was busy
    SELECT new_id, u.line_no, 'deferred',
           'not imported: the participant''s member was deleting participants at the time; import the file again'
    FROM res x CROSS JOIN LATERAL unnest(x.line_nos, x.import_ids) AS u(line_no, import_id)
    WHERE x.participant_ids IS NOT NULL AND x.controller_id <> ALL (free) AND u.import_id = new_id
    RETURNING outcome_import_error.status
  )
  SELECT (SELECT count(*) FROM errs) + coalesce(sum(x.unchanged + CASE WHEN x.controller_id = ANY (free)
                                                                      THEN x.inserted + x.updated ELSE 0 END), 0) AS lines,
         coalesce(sum(x.unchanged + CASE WHEN x.controller_id = ANY (free) THEN x.inserted + x.updated ELSE 0 END), 0) AS good,
         coalesce(sum(x.inserted) FILTER (WHERE x.controller_id = ANY (free)), 0) AS inserted,
         coalesce(sum(x.updated) FILTER (WHERE x.controller_id = ANY (free)), 0) AS updated,
         (SELECT count(*) FROM blocks) AS blocks,
         (SELECT count(*) FILTER (WHERE e.status = 'rejected') FROM errs e) AS rejected,
         (SELECT count(*) FILTER (WHERE e.status = 'duplicate') FROM errs e) AS duplicates,
         (SELECT count(*) FILTER (WHERE e.status = 'unknown_reference') FROM errs e) AS unknown_references,
         (SELECT count(*) FILTER (WHERE e.status = 'deferred') FROM errs e) AS deferred
  INTO stats
  FROM res x WHERE x.block IS NOT NULL;

  UPDATE outreach.outcome_import i
  SET lines = stats.lines, inserted = stats.inserted, updated = stats.updated,
      unchanged = stats.good - stats.inserted - stats.updated, rejected = stats.rejected,
      duplicates = stats.duplicates, unknown_references = stats.unknown_references, deferred = stats.deferred
  WHERE i.import_id = new_id;

  RETURN QUERY
  SELECT e.import_id, e.line_no, e.status, e.reason FROM outreach.outcome_import_error e
  WHERE e.import_id = new_id ORDER BY e.line_no;
END
$$;

DROP FUNCTION outreach.outcome_lock_key();

-- Special-category data (UK GDPR Art. 9) and inference: nothing a role observes of its own
-- statements may depend on a value it may not read (issue 12, class 3).
--
-- Writers may UPDATE sex, gender_identity, ethnicity, disability and religion but not SELECT
-- them. Until 0.6.0 the audit trigger logged a special-category column only when its value
-- changed, and the Art. 19 follow-up trigger queued a rectification only when sex changed: a
-- writer could write a guess, read pg_stat_get_xact_tuples_inserted() (or EXPLAIN ANALYZE's
-- trigger calls) and roll back, learning whether the guess was the stored value with nothing
-- persisted. From 0.7.0 every trigger decides on special-category columns by whether the
-- statement *wrote* them (its SET list, as UPDATE OF does), never by whether they changed:
--   * audit_log records, for every row an UPDATE touched, the special-category columns in its
--     SET list (written), next to the other columns that changed (which the writer may read);
--   * the Art. 19 follow-up is queued whenever sex is written to a participant already sent to
--     a recipient whose layout has sex (the recipient is told "sex may have changed").
-- Row counts, errors (CHECKs test only the new value) and RETURNING (refused) never depended
-- on the stored value; WAL volume did, through PostgreSQL's prefix compression of same-page
-- updates, which only wal_level = logical turns off (docs/decisions.md).

-----------------------------------------------------------------------------------------------
-- Which special-category columns a statement wrote. A statement trigger with a column list
-- (AFTER UPDATE OF religion) fires when the column is in the statement's SET list, whether or
-- not any value changed; it cannot have transition tables, so each one notes its column in a
-- transaction-local setting which audit_update (fired after them: statement triggers fire in
-- name order, and no code of the caller's runs between them) reads and clears. The first one
-- (audit_spec_0) clears whatever the caller may have put there.
-----------------------------------------------------------------------------------------------
CREATE FUNCTION outreach.audit_note_written() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_NARGS OPERATOR(pg_catalog.=) 0 THEN
    PERFORM pg_catalog.set_config('outreach_audit.written', '', true);
  ELSE
    PERFORM pg_catalog.set_config('outreach_audit.written',
      pg_catalog.concat_ws(',', NULLIF(pg_catalog.current_setting('outreach_audit.written', true), ''), TG_ARGV[0]),
      true);
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.audit_note_written() FROM PUBLIC;
COMMENT ON FUNCTION outreach.audit_note_written() IS
  'trigger: notes a special-category column the UPDATE statement wrote (no argument: clears the note), for audit_update';

CREATE TRIGGER audit_spec_0 AFTER UPDATE ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written();
CREATE TRIGGER audit_spec_disability AFTER UPDATE OF disability ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('disability');
CREATE TRIGGER audit_spec_ethnicity AFTER UPDATE OF ethnicity ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('ethnicity');
CREATE TRIGGER audit_spec_gender_identity AFTER UPDATE OF gender_identity ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('gender_identity');
CREATE TRIGGER audit_spec_religion AFTER UPDATE OF religion ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('religion');
CREATE TRIGGER audit_spec_sex AFTER UPDATE OF sex ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_note_written('sex');

-- The audit of participant updates: per row, the ordinary columns that changed (the writer can
-- read them, so whether they changed tells it nothing) and the special-category columns the
-- statement wrote (never whether they changed). A row is logged when either list is non-empty:
-- so an UPDATE that writes a special-category column logs every row it touched, whatever was
-- stored. The values themselves are never logged, old or new.
CREATE OR REPLACE FUNCTION outreach.audit_participant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor name := outreach.invoking_role()::text;
  written text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT n.controller_id, session_user, actor, 'insert', 'participant', jsonb_build_object('participant_id', n.participant_id)
    FROM new_rows n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT o.controller_id, session_user, actor, 'delete', 'participant', jsonb_build_object('participant_id', o.participant_id)
    FROM old_rows o;
  ELSE
    -- noted by the audit_spec_* triggers of this statement; only the five names count
    written := ARRAY(SELECT c FROM unnest(ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']) AS c
                     WHERE c OPERATOR(pg_catalog.=) ANY (string_to_array(current_setting('outreach_audit.written', true), ',')));
    PERFORM set_config('outreach_audit.written', '', true);
    -- Status columns maintained by the extension itself (retention, last attendance) are not
    -- personal data.
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    SELECT controller_id, session_user, actor, 'update', 'participant', jsonb_build_object('participant_id', participant_id), changed
    FROM (
    SELECT n.controller_id, n.participant_id,
           array_remove(ARRAY[
             CASE WHEN n.external_ref IS DISTINCT FROM o.external_ref THEN 'external_ref' END,
             CASE WHEN n.first_name IS DISTINCT FROM o.first_name THEN 'first_name' END,
             CASE WHEN n.last_name IS DISTINCT FROM o.last_name THEN 'last_name' END,
             CASE WHEN n.date_of_birth IS DISTINCT FROM o.date_of_birth THEN 'date_of_birth' END,
             CASE WHEN n.postcode::text IS DISTINCT FROM o.postcode::text THEN 'postcode' END,
             CASE WHEN n.institution_id IS DISTINCT FROM o.institution_id THEN 'institution_id' END,
             CASE WHEN 'sex' OPERATOR(pg_catalog.=) ANY (written) THEN 'sex' END,
             CASE WHEN 'gender_identity' OPERATOR(pg_catalog.=) ANY (written) THEN 'gender_identity' END,
             CASE WHEN 'ethnicity' OPERATOR(pg_catalog.=) ANY (written) THEN 'ethnicity' END,
             CASE WHEN 'disability' OPERATOR(pg_catalog.=) ANY (written) THEN 'disability' END,
             CASE WHEN 'religion' OPERATOR(pg_catalog.=) ANY (written) THEN 'religion' END,
             CASE WHEN n.he_entry_year_override IS DISTINCT FROM o.he_entry_year_override THEN 'he_entry_year_override' END,
             CASE WHEN n.he_entry_year_override_reason IS DISTINCT FROM o.he_entry_year_override_reason THEN 'he_entry_year_override_reason' END,
             CASE WHEN n.withdrawn_at IS DISTINCT FROM o.withdrawn_at THEN 'withdrawn_at' END,
             CASE WHEN n.restricted_at IS DISTINCT FROM o.restricted_at THEN 'restricted_at' END,
             CASE WHEN n.upn IS DISTINCT FROM o.upn THEN 'upn' END,
             CASE WHEN n.uln IS DISTINCT FROM o.uln THEN 'uln' END
           ], NULL) AS changed
    FROM new_rows n JOIN old_rows o USING (controller_id, participant_id)
    ) AS c
    WHERE cardinality(changed) > 0;
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.audit_participant() IS
  'trigger: writes participant changes to the audit log (special-category columns: when written, never whether they changed)';

-----------------------------------------------------------------------------------------------
-- Art. 19 follow-ups and sex. recipient_followup_update no longer looks at sex (its WHEN clause
-- and its EXPLAIN ANALYZE "calls" told a writer whether sex changed); recipient_followup_sex
-- fires for every row of an UPDATE whose SET list has sex, before it (row triggers fire in name
-- order), and queues the follow-up with sex among the fields. When both fire for a row, the
-- second queues nothing already pending from this statement, so a recipient is told once.
-----------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION outreach.participant_followup_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  changed text[] := array_remove(ARRAY[
    CASE WHEN btrim(NEW.first_name) IS DISTINCT FROM btrim(OLD.first_name) THEN 'forename' END,
    CASE WHEN btrim(NEW.last_name) IS DISTINCT FROM btrim(OLD.last_name) THEN 'surname' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth THEN 'date_of_birth' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
           OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override THEN 'entry_year' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
           OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override THEN 'extend_link_by' END,
    CASE WHEN NEW.postcode::text IS DISTINCT FROM OLD.postcode::text THEN 'postcode' END,
    -- sex: written by this statement (the recipient_followup_sex trigger), never compared
    CASE WHEN TG_NARGS > 0 AND TG_ARGV[0] = 'sex' THEN 'sex' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_urn' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_ukprn' END,
    CASE WHEN NEW.upn IS DISTINCT FROM OLD.upn THEN 'upn' END,
    CASE WHEN NEW.uln IS DISTINCT FROM OLD.uln THEN 'uln' END], NULL);
  restricted boolean := NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL;
BEGIN
  -- A change to a participant staged in an export being finished: export_finish waits for this
  -- transaction (and then compares what it staged), or this statement waits for it (and then
  -- sees the ledger rows).
  -- (recorded for each building export, whose row this locks in share mode)
  INSERT INTO outreach.export_touch (export_id, controller_id, participant_id)
  SELECT e.export_id, NEW.controller_id, NEW.participant_id FROM outreach.export e WHERE e.status = 'building'
  FOR SHARE OF e
  ON CONFLICT DO NOTHING;
  WITH sent AS (
    -- the latest export to each recipient that sent them
    SELECT DISTINCT ON (b.recipient) b.recipient, b.export_id, b.participant_references[k.i] AS reference
    FROM outreach.disclosure_block b
    CROSS JOIN LATERAL (SELECT array_position(b.participant_ids, NEW.participant_id) AS i) AS k
    WHERE b.controller_id = NEW.controller_id AND b.block = (NEW.participant_id >> 12)::int AND k.i IS NOT NULL
    ORDER BY b.recipient, b.export_id DESC
  ), queued AS (
    SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'rectification' AS kind, s.reference, s.export_id, h.headers
    FROM sent s
    JOIN outreach.export e ON e.export_id = s.export_id
    CROSS JOIN LATERAL (SELECT array_agg(lc.header ORDER BY lc.position) AS headers
                        FROM outreach.recipient_layout_column lc
                        WHERE lc.recipient = s.recipient AND lc.kind = 'export' AND lc.version = e.layout_version
                          AND lc.field = ANY (changed)) AS h
    WHERE h.headers IS NOT NULL
    UNION ALL
    SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'restriction', s.reference, s.export_id, NULL
    FROM sent s WHERE restricted
  )
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id, fields)
  SELECT q.* FROM queued q
  WHERE NOT EXISTS (SELECT 1 FROM outreach.recipient_followup f
                    WHERE f.controller_id = NEW.controller_id AND f.participant_id = NEW.participant_id
                      AND f.recipient = q.recipient AND f.kind = q.kind AND f.batch_id IS NULL
                      AND f.queued_at >= statement_timestamp());
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.participant_followup_update() IS
  'trigger: queues Art. 19 follow-ups when fields a recipient received change (sex: is written) or processing is restricted';

DROP TRIGGER recipient_followup_update ON outreach.participant;
CREATE TRIGGER recipient_followup_update
  AFTER UPDATE OF first_name, last_name, date_of_birth, postcode, institution_id, upn, uln,
                  he_entry_year_override, restricted_at ON outreach.participant
  FOR EACH ROW
  WHEN (btrim(NEW.first_name) IS DISTINCT FROM btrim(OLD.first_name)
        OR btrim(NEW.last_name) IS DISTINCT FROM btrim(OLD.last_name)
        OR NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
        OR NEW.postcode::text IS DISTINCT FROM OLD.postcode::text
        OR NEW.institution_id IS DISTINCT FROM OLD.institution_id
        OR NEW.upn IS DISTINCT FROM OLD.upn OR NEW.uln IS DISTINCT FROM OLD.uln
        OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override
        OR (NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL))
  EXECUTE FUNCTION outreach.participant_followup_update();
CREATE TRIGGER recipient_followup_sex AFTER UPDATE OF sex ON outreach.participant
  FOR EACH ROW EXECUTE FUNCTION outreach.participant_followup_update('sex');

-----------------------------------------------------------------------------------------------
-- read_special_category(): only the columns the caller may read. A column the calling role
-- holds no SELECT privilege on comes back NULL (the function's columns stay the same for its
-- callers); the audit row names only the columns returned. A caller who may read none of the
-- five is refused as before. DPOs hold all five through outreach_dpo.
-----------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION outreach.read_special_category(controller_id int, participant_ids bigint[] DEFAULT NULL)
RETURNS TABLE (participant_id bigint, sex text, gender_identity text, ethnicity text, disability text, religion text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller regrole := outreach.invoking_role();
  allowed boolean;
  readable text[];
BEGIN
  SELECT pg_has_role(caller::oid, cr.role::oid, 'USAGE') INTO allowed
  FROM outreach.controller_role cr
  WHERE cr.controller_id OPERATOR(pg_catalog.=) read_special_category.controller_id AND cr.level OPERATOR(pg_catalog.=) 'dpo';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller %', read_special_category.controller_id USING ERRCODE = '42704';
  END IF;
  -- the columns the calling role may read (its own grants, its groups', table-wide SELECT)
  readable := ARRAY(SELECT c FROM unnest(ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']) WITH ORDINALITY AS u(c, i)
                    WHERE has_column_privilege(caller::oid, 'outreach.participant'::regclass, c, 'SELECT')
                    ORDER BY i);
  IF cardinality(readable) OPERATOR(pg_catalog.=) 0
     OR NOT (allowed OR pg_has_role(caller::oid, (SELECT r.role FROM outreach.controller_role r
                                                   WHERE r.controller_id OPERATOR(pg_catalog.=) read_special_category.controller_id
                                                     AND r.level OPERATOR(pg_catalog.=) 'reader')::oid, 'USAGE')) THEN
    RAISE EXCEPTION 'permission denied to read special-category data of controller %', read_special_category.controller_id
      USING ERRCODE = '42501';
  END IF;
  RETURN QUERY
  WITH picked AS (
    SELECT p.participant_id,
           CASE WHEN 'sex' OPERATOR(pg_catalog.=) ANY (readable) THEN p.sex END AS sex,
           CASE WHEN 'gender_identity' OPERATOR(pg_catalog.=) ANY (readable) THEN p.gender_identity END AS gender_identity,
           CASE WHEN 'ethnicity' OPERATOR(pg_catalog.=) ANY (readable) THEN p.ethnicity END AS ethnicity,
           CASE WHEN 'disability' OPERATOR(pg_catalog.=) ANY (readable) THEN p.disability END AS disability,
           CASE WHEN 'religion' OPERATOR(pg_catalog.=) ANY (readable) THEN p.religion END AS religion
    FROM outreach.participant p
    WHERE p.controller_id OPERATOR(pg_catalog.=) read_special_category.controller_id
      AND (participant_ids IS NULL OR p.participant_id OPERATOR(pg_catalog.=) ANY (participant_ids))
  ), logged AS (
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    SELECT read_special_category.controller_id, session_user, caller::text, 'read_special', 'participant',
           jsonb_build_object('participant_id', picked.participant_id), readable
    FROM picked
  )
  SELECT * FROM picked;
END
$$;
COMMENT ON FUNCTION outreach.read_special_category(int, bigint[]) IS
  'special-category data of a controller''s participants for its DPO (or a reader granted some of the columns: the others are NULL), recorded in the audit log with the columns returned';

-----------------------------------------------------------------------------------------------
-- shared_engagement behind a function boundary. As a view over other members' rows, EXPLAIN
-- ANALYZE of it showed their row counts ("actual rows", "Rows Removed by Filter") for any date
-- or activity type the caller filtered on. The rows are now computed by a SECURITY DEFINER
-- set-returning function (never inlined, its plan not shown) for the calling role's own
-- controllers only, always in full: the caller's filters apply to its result, so neither what
-- EXPLAIN shows nor the work done depends on the filter. The view keeps its name and columns;
-- it also keeps only the controllers the current role reads for (the same as the calling role
-- except inside another role's SECURITY DEFINER function, where the smaller set applies).
-----------------------------------------------------------------------------------------------
CREATE FUNCTION outreach.shared_engagement_rows()
RETURNS TABLE (controller_id int, participant_id bigint, other_controller_id int, other_controller_code text,
               other_controller_name text, activity_type text, attended_on date)
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, outreach, pg_temp
AS $$
SELECT mine.controller_id,
       mine.participant_id,
       other.controller_id AS other_controller_id,
       other_c.code AS other_controller_code,
       other_c.name AS other_controller_name,
       a.activity_type,
       att.attended_on
FROM outreach.participant mine
JOIN outreach.participant other
  ON other.linkage_id OPERATOR(outreach.=) mine.linkage_id
 AND other.controller_id OPERATOR(pg_catalog.<>) mine.controller_id
JOIN outreach.attendance att
  ON att.controller_id OPERATOR(pg_catalog.=) other.controller_id
 AND att.participant_id OPERATOR(pg_catalog.=) other.participant_id
JOIN outreach.activity a
  ON a.controller_id OPERATOR(pg_catalog.=) att.controller_id
 AND a.activity_id OPERATOR(pg_catalog.=) att.activity_id
JOIN outreach.controller other_c ON other_c.controller_id OPERATOR(pg_catalog.=) other.controller_id
WHERE mine.controller_id OPERATOR(pg_catalog.=) ANY (outreach.caller_controller_ids('reader'))
  AND mine.linkage_id IS NOT NULL
  AND mine.withdrawn_at IS NULL AND mine.restricted_at IS NULL
  AND other.withdrawn_at IS NULL AND other.restricted_at IS NULL
$$;
REVOKE EXECUTE ON FUNCTION outreach.shared_engagement_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.shared_engagement_rows() TO outreach_reader, outreach_processor;
COMMENT ON FUNCTION outreach.shared_engagement_rows() IS
  'rows of outreach.shared_engagement for the calling role''s controllers, computed behind a function boundary (EXPLAIN shows none of other members'' rows)';

CREATE OR REPLACE VIEW outreach.shared_engagement WITH (security_barrier = true) AS
SELECT s.controller_id, s.participant_id, s.other_controller_id, s.other_controller_code, s.other_controller_name,
       s.activity_type, s.attended_on
FROM outreach.shared_engagement_rows() s
WHERE outreach.controller_visible(s.controller_id, 'reader');
COMMENT ON VIEW outreach.shared_engagement IS
  'for own participants: other members'' activities the same person attended (member, activity type, date); computed by shared_engagement_rows()';

-----------------------------------------------------------------------------------------------
-- Planner statistics. EXPLAIN's row estimates come from pg_statistic of the whole table, so a
-- DPO filtering on religion would see an estimate shaped by every member's religions. No
-- statistics are gathered for the special-category columns (nothing is indexed on them and
-- only DPOs can filter on them), and those an earlier ANALYZE gathered are removed. Other
-- columns keep theirs: see docs/decisions.md, "Planner estimates".
-----------------------------------------------------------------------------------------------
ALTER TABLE outreach.participant
  ALTER COLUMN sex SET STATISTICS 0,
  ALTER COLUMN gender_identity SET STATISTICS 0,
  ALTER COLUMN ethnicity SET STATISTICS 0,
  ALTER COLUMN disability SET STATISTICS 0,
  ALTER COLUMN religion SET STATISTICS 0;
DELETE FROM pg_catalog.pg_statistic s
USING pg_catalog.pg_attribute a
WHERE s.starelid OPERATOR(pg_catalog.=) 'outreach.participant'::pg_catalog.regclass
  AND a.attrelid OPERATOR(pg_catalog.=) s.starelid AND a.attnum OPERATOR(pg_catalog.=) s.staattnum
  AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']::pg_catalog.name[]);
-- The daemon is woken on a channel only it knows, with payloads that say nothing about members.
-- Until 0.6.0 the extension notified on fixed channels (outreach_retention, outreach_delivery)
-- that any login could LISTEN to, learning other members' notice ids, controller ids and counts,
-- and send NOTIFY on, waking or steering the daemon. Now the channel's name holds 122 random
-- bits, is made anew by every CREATE EXTENSION (the table is not dumped) and is readable by
-- outreach_daemon only; the payload is the event's name alone, and the daemon re-reads what it
-- needs under its own role.
CREATE TABLE outreach.service_channel (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  name text NOT NULL CHECK (name ~ '^outreach_[0-9a-f]{32}$')
);
INSERT INTO outreach.service_channel (name) VALUES ('outreach_' || replace(gen_random_uuid()::text, '-', ''));
REVOKE ALL ON outreach.service_channel FROM PUBLIC;
COMMENT ON TABLE outreach.service_channel IS
  'the LISTEN/NOTIFY channel between the extension and outreachd (random name, not dumped, readable by outreach_daemon only)';

CREATE FUNCTION outreach.service_channel() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT c.name FROM outreach.service_channel c $$;
REVOKE EXECUTE ON FUNCTION outreach.service_channel() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.service_channel() TO outreach_daemon;
COMMENT ON FUNCTION outreach.service_channel() IS 'the channel outreachd LISTENs on (for outreach_daemon only)';

-- event: deletion_confirmed, records_marked or delivery_queued; nothing else goes in the payload.
CREATE FUNCTION outreach.notify_service(event text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- trace_notify is a setting any session may turn on: it would print the channel's name to the
-- member whose statement sends the notification.
SET trace_notify = off
AS $$
BEGIN
  IF event IS NULL OR event NOT IN ('deletion_confirmed', 'records_marked', 'delivery_queued') THEN
    RAISE EXCEPTION 'unknown service event "%"', event USING ERRCODE = '22023';
  END IF;
  PERFORM pg_notify((SELECT c.name FROM outreach.service_channel c), event);
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.notify_service(text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.notify_service(text) IS
  'wakes outreachd on its private channel; the payload is the event name alone';

-- The functions that notified, as before but through notify_service().
CREATE OR REPLACE FUNCTION outreach.confirm_deletion(notice_id bigint) RETURNS int
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
  PERFORM outreach.notify_service('deletion_confirmed');
  RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION outreach.confirm_deletion(controller_id int, participant_ids bigint[]) RETURNS int
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
  PERFORM outreach.notify_service('deletion_confirmed');
  RETURN n;
END
$$;

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
    PERFORM outreach.notify_service('records_marked');
  END IF;
  RETURN claimed;
END
$$;

CREATE OR REPLACE FUNCTION outreach.enqueue_delivery(controller_id int, purpose text, idempotency_key text, payload jsonb,
                                          subject text DEFAULT NULL, message text DEFAULT NULL,
                                          notice_id bigint DEFAULT NULL,
                                          to_kind text DEFAULT NULL, to_target text DEFAULT NULL,
                                          not_before timestamptz DEFAULT NULL) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
  body jsonb;
  subj text;
  msg text;
BEGIN
  IF idempotency_key IS NULL OR length(idempotency_key) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'idempotency_key must be 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  body := coalesce(payload, '{}') || jsonb_build_object('idempotency_key', idempotency_key, 'purpose', purpose);
  subj := coalesce(subject, 'pg_outreach: ' || replace(purpose, '_', ' '));
  msg := coalesce(message, jsonb_pretty(body));
  IF to_kind IS NOT NULL THEN
    INSERT INTO outreach.notice_delivery AS d (controller_id, purpose, notice_id, channel_id, kind, target,
                                               idempotency_key, subject, message, payload, status, last_error)
    VALUES (enqueue_delivery.controller_id, purpose, notice_id, NULL, to_kind, to_target, idempotency_key, subj, msg,
            body, CASE WHEN to_target IS NULL THEN 'failed' ELSE 'pending' END,
            CASE WHEN to_target IS NULL THEN 'no address to deliver to' END)
    ON CONFLICT ON CONSTRAINT notice_delivery_once DO NOTHING;
  ELSE
    INSERT INTO outreach.notice_delivery AS d (controller_id, purpose, notice_id, channel_id, kind, target,
                                               idempotency_key, subject, message, payload, next_attempt_at)
    SELECT c.controller_id, purpose, notice_id, c.channel_id, c.kind, c.target, idempotency_key, subj, msg, body,
           greatest(clock_timestamp(), not_before)
    FROM outreach.notification_channel c
    WHERE c.controller_id = enqueue_delivery.controller_id AND c.enabled
    ON CONFLICT ON CONSTRAINT notice_delivery_once DO NOTHING;
  END IF;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM outreach.notify_service('delivery_queued');
  END IF;
  RETURN n;
END
$$;
-- A member names another as delivered_by of its activity only with that member's agreement.
-- Until 0.6.0 any writer could attribute its activities to any member. The delivering member's
-- DPO records the agreement; it can be withdrawn (activities already naming it keep the name:
-- they were agreed when written). Naming oneself, or nobody, needs no agreement.
CREATE TABLE outreach.delivery_partner (
  partner_id int NOT NULL REFERENCES outreach.controller ON DELETE CASCADE,     -- who delivers
  controller_id int NOT NULL REFERENCES outreach.controller ON DELETE CASCADE,  -- who may name it
  agreed_at timestamptz NOT NULL DEFAULT now(),
  agreed_by name NOT NULL,
  PRIMARY KEY (partner_id, controller_id),
  CHECK (partner_id <> controller_id)
);
COMMENT ON TABLE outreach.delivery_partner IS
  'members that agreed to be named as delivered_by of another member''s activities';
SELECT pg_catalog.pg_extension_config_dump('outreach.delivery_partner', '');
ALTER TABLE outreach.delivery_partner ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.delivery_partner FORCE ROW LEVEL SECURITY;
-- Both sides see their agreements.
CREATE POLICY delivery_partner_read ON outreach.delivery_partner FOR SELECT
  USING (outreach.controller_visible(partner_id, 'reader') OR outreach.controller_visible(controller_id, 'reader'));
REVOKE ALL ON outreach.delivery_partner FROM PUBLIC;
GRANT SELECT ON outreach.delivery_partner TO outreach_reader, outreach_processor;

CREATE FUNCTION outreach.agree_delivery_partner(partner_id int, controller_code text, agreed boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cid int;
BEGIN
  PERFORM outreach.require_dpo(partner_id);
  SELECT c.controller_id INTO cid FROM outreach.controller c WHERE c.code OPERATOR(pg_catalog.=) controller_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller "%"', controller_code USING ERRCODE = '42704';
  END IF;
  IF cid OPERATOR(pg_catalog.=) partner_id THEN
    RAISE EXCEPTION 'a member needs no agreement to name itself' USING ERRCODE = '22023';
  END IF;
  IF agreed THEN
    INSERT INTO outreach.delivery_partner (partner_id, controller_id, agreed_by)
    VALUES (partner_id, cid, outreach.invoking_role()::text)
    ON CONFLICT ON CONSTRAINT delivery_partner_pkey DO NOTHING;
  ELSE
    DELETE FROM outreach.delivery_partner d
    WHERE d.partner_id OPERATOR(pg_catalog.=) agree_delivery_partner.partner_id
      AND d.controller_id OPERATOR(pg_catalog.=) cid;
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.agree_delivery_partner(int, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.agree_delivery_partner(int, text, boolean) TO outreach_dpo;
COMMENT ON FUNCTION outreach.agree_delivery_partner(int, text, boolean) IS
  'the DPO of partner_id agrees (or, with false, no longer agrees) to be named delivered_by by another member';

CREATE FUNCTION outreach.activity_check_partner() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- (Runs as the caller: it sees only agreements its member is part of.) Another member's row is
  -- row security's to refuse, with its own error: whether that member has an agreement must not
  -- show in which error comes back.
  IF NOT outreach.controller_visible(NEW.controller_id, 'writer') THEN
    RETURN NEW;
  END IF;
  IF NEW.delivered_by IS NOT NULL AND NEW.delivered_by OPERATOR(pg_catalog.<>) NEW.controller_id
     AND NOT EXISTS (SELECT 1 FROM outreach.delivery_partner d
                     WHERE d.partner_id OPERATOR(pg_catalog.=) NEW.delivered_by
                       AND d.controller_id OPERATOR(pg_catalog.=) NEW.controller_id) THEN
    RAISE EXCEPTION 'member % has not agreed to be named as delivered_by of this member''s activities', NEW.delivered_by
      USING ERRCODE = '42501', HINT = 'Its DPO agrees with outreach.agree_delivery_partner().';
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.activity_check_partner() FROM PUBLIC;
COMMENT ON FUNCTION outreach.activity_check_partner() IS
  'trigger: delivered_by names only the member itself or a member that agreed (delivery_partner)';
CREATE TRIGGER activity_check_partner BEFORE INSERT OR UPDATE OF delivered_by ON outreach.activity
  FOR EACH ROW EXECUTE FUNCTION outreach.activity_check_partner();
-- A member has at most 10 notification channels: each one is a delivery the daemon makes for
-- every notice, so an unbounded number would let one member slow every member's notices.
-- The count takes no lock: a lock on a row every member's statements touch (the controller's,
-- which foreign-key checks share) would let a DPO holding a transaction open stall the daemon.
-- Concurrent inserts of one member can pass the count together, so the bound is 10 plus that
-- member's own concurrent transactions: limited, and only that member's.
CREATE FUNCTION outreach.notification_channel_limit() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- (Runs as the caller, under row security.) Another member's row is row security's to refuse,
  -- with its own error: the count below must not tell the caller how many channels it has.
  IF NOT outreach.controller_visible(NEW.controller_id, 'dpo') THEN
    RETURN NEW;
  END IF;
  IF (SELECT count(*) FROM outreach.notification_channel c
      WHERE c.controller_id OPERATOR(pg_catalog.=) NEW.controller_id) >= 10 THEN
    RAISE EXCEPTION 'a member has at most 10 notification channels' USING ERRCODE = '54000',
      HINT = 'Delete or reuse a channel (UPDATE its target) instead.';
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.notification_channel_limit() FROM PUBLIC;
COMMENT ON FUNCTION outreach.notification_channel_limit() IS 'trigger: at most 10 notification channels per member';
CREATE TRIGGER notification_channel_limit BEFORE INSERT ON outreach.notification_channel
  FOR EACH ROW EXECUTE FUNCTION outreach.notification_channel_limit();
-- Exports wait for members' transactions without stalling every other member. An export takes
-- a SHARE lock on outreach.participant at staging and, at finish, its own row, which members'
-- changes to participants lock in share mode while their transactions run (docs/linkage.md).
-- Until 0.6.0 it queued for them with lock_timeout 60 s: while it waited, every member's write
-- to participant queued behind it, and a member that kept a transaction open made every export
-- fail. Now it never waits in the queue (NOWAIT, retried every 100 ms); after
-- outreach.member_lock_seconds (30 s) it ends the sessions of members' roles that hold locks on
-- outreach.participant (the only locks that can be in its way), and after twice that it gives up
-- with 55P03. The service's own roles and superusers are never ended.
CREATE FUNCTION outreach.lock_ahead_of_members(attempt text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  started timestamptz := clock_timestamp();
  grace interval := pg_catalog.current_setting('outreach.member_lock_seconds')::interval;  -- ('30s')
  holder record;
BEGIN
  LOOP
    BEGIN
      EXECUTE attempt;
      RETURN;
    EXCEPTION WHEN lock_not_available THEN
      IF clock_timestamp() > started + 2 * grace THEN
        RAISE EXCEPTION 'members'' transactions held outreach.participant for % seconds',
          extract(epoch FROM 2 * grace) USING ERRCODE = '55P03',
          HINT = 'The export is retried at its next run.';
      END IF;
    END;
    IF clock_timestamp() > started + grace THEN
      FOR holder IN
        SELECT DISTINCT l.pid, a.usename
        FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid
        JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.usesysid
        WHERE l.locktype OPERATOR(pg_catalog.=) 'relation' AND l.granted
          AND l.relation OPERATOR(pg_catalog.=) 'outreach.participant'::pg_catalog.regclass
          AND l.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d
                                                 WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
          AND l.mode OPERATOR(pg_catalog.<>) 'AccessShareLock'
          AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
          AND NOT r.rolsuper
          AND NOT pg_catalog.pg_has_role(r.oid, 'outreach_daemon', 'MEMBER')
          AND NOT pg_catalog.pg_has_role(r.oid, 'outreach_processor', 'MEMBER')
      LOOP
        RAISE WARNING 'outreach: ending session % of role "%": its transaction held up an export for % seconds',
          holder.pid, holder.usename, extract(epoch FROM grace);
        PERFORM pg_catalog.pg_terminate_backend(holder.pid);
      END LOOP;
    END IF;
    PERFORM pg_catalog.pg_sleep(0.1);
  END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.lock_ahead_of_members(text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.lock_ahead_of_members(text) IS
  'runs a NOWAIT lock statement until it succeeds, never queueing; after outreach.member_lock_seconds ends members'' '
  'sessions holding outreach.participant, after twice that gives up (55P03)';

-- As in 0.5.0, with the SHARE lock and an abandoned export's row taken by lock_ahead_of_members.
CREATE OR REPLACE FUNCTION outreach.export_begin(recipient text, as_of date DEFAULT current_date)
RETURNS TABLE (export_id bigint, file_name text, layout_version int, row_count bigint, pgp_public_key text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
-- (other locks: the SHARE lock below is taken by lock_ahead_of_members)
SET lock_timeout = '60s'
AS $$
#variable_conflict use_column
DECLARE
  r record;
  ay int;
  new_id bigint;
  fname text;
  n bigint;
BEGIN
  IF as_of IS NULL OR as_of NOT BETWEEN DATE '1950-01-01' AND DATE '2200-01-01' THEN
    RAISE EXCEPTION 'as_of must be a date between 1950 and 2200' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = export_begin.recipient;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown recipient "%"', recipient USING ERRCODE = '42704',
      HINT = 'Recipients are listed in outreach.recipient.';
  END IF;
  IF r.export_layout IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.recipient_layout l
                                            WHERE l.recipient = r.name AND l.kind = 'export' AND l.version = r.export_layout) THEN
    RAISE EXCEPTION 'recipient "%" has no export layout', recipient USING ERRCODE = '22023',
      HINT = 'Define one with outreach.define_layout(recipient, ''export'', columns).';
  END IF;
  IF NOT r.enabled THEN
    RAISE EXCEPTION 'recipient "%" is disabled', recipient USING ERRCODE = '55000';
  END IF;
  -- The recipient's key must be in the key file (42704 naming the scope, before any work).
  PERFORM outreach.pseudonymise('c0', 'p0', DATE '1900-01-01', 'GIR 0AA', 'recipient:' || r.name);
  -- One export of a recipient is built at a time: begins of the same recipient queue here.
  PERFORM 1 FROM outreach.recipient_definition d WHERE d.name = r.name FOR UPDATE;
  -- An export still building is a run that crashed or was given up: abandon it. (Members'
  -- transactions changing participants hold its row in share mode: lock it without queueing.)
  PERFORM outreach.lock_ahead_of_members(pg_catalog.format(
    'SELECT 1 FROM outreach.export e WHERE e.recipient = %L AND e.status = ''building'' FOR UPDATE NOWAIT', r.name));
  UPDATE outreach.export e SET status = 'abandoned', finished_at = clock_timestamp(),
         error = 'abandoned: a new export of the recipient began'
  WHERE e.recipient = r.name AND e.status = 'building';
  IF FOUND THEN
    DELETE FROM outreach.export_chunk s USING outreach.export e
    WHERE s.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
    DELETE FROM outreach.export_touch t USING outreach.export e
    WHERE t.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
  END IF;

  ay := outreach.academic_year(as_of);
  INSERT INTO outreach.export (recipient, layout_version, as_of, entry_year_from, entry_year_to, file_name, started_by)
  VALUES (r.name, r.export_layout, as_of, ay + r.cohort_from, ay + r.cohort_to, '', outreach.invoking_role()::text)
  RETURNING export.export_id INTO new_id;
  fname := outreach.export_file_name(r.file_pattern, r.name, as_of, new_id);
  IF r.pgp_public_key IS NOT NULL THEN
    fname := fname || '.gpg';  -- the daemon encrypts it to the recipient's OpenPGP key
  END IF;

  -- No participant changes between the staging snapshot and this transaction's commit: the
  -- lock waits for members' transactions in progress (their changes are then staged) and holds
  -- new ones until the export is visible to their triggers (which record them in export_touch).
  PERFORM outreach.lock_ahead_of_members('LOCK TABLE outreach.participant IN SHARE MODE NOWAIT');

  -- Stage the blocks (the eligible participants whose record changed or was never sent).
  INSERT INTO outreach.export_chunk
  SELECT * FROM outreach.export_stage_blocks(new_id, r.name, r.export_layout, as_of);
  SELECT coalesce(sum(cardinality(s.participant_ids)), 0) INTO n FROM outreach.export_chunk s WHERE s.export_id = new_id;

  UPDATE outreach.export e SET file_name = fname, row_count = n WHERE e.export_id = new_id;
  RETURN QUERY SELECT new_id, fname, r.export_layout, n, r.pgp_public_key;
END
$$;

-- As in 0.5.0, with the export's row locked by lock_ahead_of_members.
CREATE OR REPLACE FUNCTION outreach.export_finish(export_id bigint, sha256 text, row_count bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  e outreach.export;
  n bigint;
  f int;
  m jsonb;
BEGIN
  -- Waits for members' transactions that are changing staged participants (they lock the
  -- building exports in share mode), so every change is either seen below or sees the ledger.
  PERFORM outreach.lock_ahead_of_members(
    pg_catalog.format('SELECT 1 FROM outreach.export x WHERE x.export_id = %s FOR UPDATE NOWAIT', export_id));
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_finish.export_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
  END IF;
  IF e.status = 'finished' AND e.sha256 = export_finish.sha256 AND e.row_count = export_finish.row_count THEN
    RETURN e.manifest;  -- a repeated call (the first one's reply was lost): same answer
  END IF;
  IF e.status = 'finished' THEN
    RAISE EXCEPTION 'export % is finished already, with another checksum or row count', export_id USING ERRCODE = '55000';
  ELSIF e.status <> 'building' THEN
    RAISE EXCEPTION 'export % was abandoned and cannot be finished', export_id USING ERRCODE = '55000',
      HINT = 'Begin a new export.';
  END IF;
  IF sha256 IS NULL OR sha256 !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'sha256 must be 64 lower-case hexadecimal digits' USING ERRCODE = '22023';
  END IF;
  IF row_count IS DISTINCT FROM e.row_count THEN
    RAISE EXCEPTION 'export % staged % rows, not %', export_id, e.row_count, coalesce(row_count::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'The file must hold every staged row (the header not counted).';
  END IF;

  -- The ledger: the staged blocks as they are, without the records themselves.
  WITH ledger AS (
    INSERT INTO outreach.disclosure_block (controller_id, block, export_id, recipient, participant_ids, cohort_years,
                                           participant_references, content_hashes)
    SELECT s.controller_id, s.block, s.export_id, e.recipient, s.participant_ids, s.cohort_years,
           s.participant_references, s.content_hashes
    FROM outreach.export_chunk s WHERE s.export_id = e.export_id
    RETURNING cardinality(participant_ids) AS n
  )
  SELECT coalesce(sum(ledger.n), 0) INTO n FROM ledger;
  IF n <> e.row_count THEN
    RAISE EXCEPTION 'export % lost its staged rows (% of %): the server restarted while it was built', export_id, n, e.row_count
      USING ERRCODE = '55000', HINT = 'Begin the export again (that abandons this one).';
  END IF;

  f := outreach.export_changed_since_staging(e.export_id);
  m := jsonb_build_object('recipient', e.recipient, 'layout_version', e.layout_version, 'created_at', e.started_at,
                          'row_count', e.row_count, 'sha256', sha256, 'file', e.file_name);
  UPDATE outreach.export x SET status = 'finished', finished_at = clock_timestamp(), sha256 = export_finish.sha256,
         manifest = m, followups = f
  WHERE x.export_id = e.export_id;
  PERFORM outreach.export_clear_staging(e.export_id);
  IF f > 0 THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN m;
END
$$;
