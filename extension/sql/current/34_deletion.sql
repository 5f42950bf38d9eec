-- Confirmation by the controller's DPO, un-marking, deletion with tombstones, erasure.
-- These run with the extension owner's rights so they can change retention columns members
-- cannot write; each checks its caller with caller_controller_ids() (role membership only).

CREATE OR REPLACE FUNCTION outreach.require_dpo(controller_id int) RETURNS void
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

-- Confirmation: of a whole notice, or of listed participants. Each record confirmed is audited,
-- and the daemon is woken through notify_service() to delete them.
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
COMMENT ON FUNCTION outreach.confirm_deletion(bigint) IS
  'the DPO confirms deletion of every record of a notice still waiting; returns how many';

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
COMMENT ON FUNCTION outreach.confirm_deletion(int, bigint[]) IS
  'the DPO confirms deletion of listed participants (all must be ready for deletion); returns how many';

-- Un-marked records are held from sweeps until hold_until, a year when it is not given.
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
COMMENT ON FUNCTION outreach.unmark_deletion(int, bigint[], text, date) IS
  'the DPO returns marked records to retained, with a reason, held from sweeps until hold_until';

-- Deletes one batch of confirmed participants: their rows, their attendance (by cascade) and
-- every other personal row, and writes a tombstone for each, in one statement and so in one
-- transaction. Returns how many were deleted (0: nothing left).
CREATE OR REPLACE FUNCTION outreach.execute_deletions(batch_size int DEFAULT 10000, run_id bigint DEFAULT NULL) RETURNS int
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
      AND p.restricted_at IS NULL   -- restricted since its confirmation: kept until the DPO lifts it
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

CREATE OR REPLACE FUNCTION outreach.start_deletion_run() RETURNS bigint
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ INSERT INTO outreach.retention_run (kind) VALUES ('delete') RETURNING run_id $$;
COMMENT ON FUNCTION outreach.start_deletion_run() IS 'opens a deletion run in the history; returns its id';

CREATE OR REPLACE PROCEDURE outreach.delete_confirmed(batch_size int DEFAULT 10000)
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
CREATE OR REPLACE FUNCTION outreach.erase_participant(controller_id int, participant_id bigint,
                                           reason text DEFAULT 'erasure_request') RETURNS outreach.tombstone
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
  t outreach.tombstone;
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  -- A restricted record is kept (Art. 18: e.g. the person needs it for a legal claim) until the
  -- DPO lifts the restriction, with a reason, which makes the decision explicit.
  IF EXISTS (SELECT 1 FROM outreach.participant p
             WHERE p.controller_id = erase_participant.controller_id AND p.participant_id = erase_participant.participant_id
               AND p.restricted_at IS NOT NULL) THEN
    RAISE EXCEPTION 'participant % of controller % is restricted: it is kept until the restriction is lifted',
                    participant_id, controller_id
      USING ERRCODE = '55000', HINT = 'outreach.lift_restriction(controller_id, participant_ids, reason), then erase';
  END IF;
  UPDATE outreach.participant p
  SET retention_status = 'deletion_confirmed', retention_reasons = ARRAY[coalesce(reason, 'erasure_request')],
      retention_marked_on = current_date, deletion_confirmed_at = now(),
      deletion_confirmed_by = outreach.invoking_role()::text
  WHERE p.controller_id = erase_participant.controller_id AND p.participant_id = erase_participant.participant_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    -- Erased already (a repeated request, a retry): say so and change nothing.
    SELECT * INTO t FROM outreach.tombstone x
    WHERE x.controller_id = erase_participant.controller_id AND x.participant_id = erase_participant.participant_id;
    IF FOUND THEN
      RAISE NOTICE 'participant % of controller % was erased already, on %', participant_id, controller_id, t.deleted_at;
      RETURN t;
    END IF;
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
  FROM gone g
  RETURNING * INTO t;
  RETURN t;
END
$$;
COMMENT ON FUNCTION outreach.erase_participant(int, bigint, text) IS
  'the DPO erases a participant at once (erasure request): same deletion path; returns the tombstone (the same one when erased already)';

-- at is checked against the service's clock: a date far ahead would confirm records through
-- their grace period early.
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
GRANT EXECUTE ON FUNCTION outreach.require_dpo(int) TO outreach_dpo;
