-- Withdrawal and restriction take effect at once (UK GDPR Arts. 7(3), 18 and 21).
--
-- Recording a withdrawal (through withdraw_participant() or a writer's own UPDATE or INSERT of
-- withdrawn_at) marks the record ready for deletion with reason 'withdrawn' in the same
-- statement, on the member's withdrawal notice of that day, to be confirmed within the policy's
-- withdrawal_confirm_days: not at the next yearly sweep, months later. Exports, sharing and every
-- aggregate leave withdrawn people out already (their conditions read withdrawn_at); the
-- recipients that received the person get a follow-up (56_followup.sql). A restricted record is
-- withdrawn but not marked: the restriction holds it until the DPO lifts it.

-- Per row, the record is marked on its member's notice of the day (created on the first
-- withdrawal, with no records yet); per statement, each notice's count grows by the rows the
-- statement put on it (from the statement's transition tables, which the audit triggers
-- collect anyway), so a bulk load of withdrawn records updates each notice once, not once a
-- row (which made 20,000 rows take 20 s instead of 0.5), and nothing a caller can set decides
-- which notices are counted.
CREATE OR REPLACE FUNCTION outreach.participant_withdrawal_mark() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  today date;
  nid bigint;
BEGIN
  -- Restricted: kept. Marked already (by a sweep, or a restore's copy of a marked row): its
  -- notice stands.
  IF NEW.restricted_at IS NOT NULL OR NEW.retention_status <> 'retained' THEN
    RETURN NEW;
  END IF;
  SELECT (now() AT TIME ZONE pol.time_zone)::date INTO today
  FROM outreach.retention_policy pol WHERE pol.controller_id = NEW.controller_id;
  IF NOT FOUND THEN
    RETURN NEW;  -- no such controller: the foreign key refuses the row
  END IF;
  -- A row inserted withdrawn and held by the DPO (un-marked with a reason, as a restore copies
  -- it) stays held until the hold ends; a withdrawal recorded now overrides a hold.
  IF TG_OP = 'INSERT' AND NEW.retention_hold_until > today THEN
    RETURN NEW;
  END IF;
  SELECT n.notice_id INTO nid FROM outreach.deletion_notice n
  WHERE n.controller_id = NEW.controller_id AND n.kind = 'withdrawal' AND n.opened_on = today;
  IF nid IS NULL THEN
    INSERT INTO outreach.deletion_notice AS n (controller_id, kind, opened_on, cycle_year, confirm_by, records_marked)
    SELECT NEW.controller_id, 'withdrawal', today,
           extract(year FROM today)::int
             - CASE WHEN (extract(month FROM today), extract(day FROM today)) >= (pol.cycle_month, pol.cycle_day)
                    THEN 0 ELSE 1 END,
           outreach.withdrawal_confirm_by(today, NEW.controller_id), 0
    FROM outreach.retention_policy pol WHERE pol.controller_id = NEW.controller_id
    ON CONFLICT (controller_id, opened_on) WHERE kind = 'withdrawal' DO NOTHING
    RETURNING n.notice_id INTO nid;
    IF nid IS NULL THEN  -- another transaction opened it meanwhile
      SELECT n.notice_id INTO nid FROM outreach.deletion_notice n
      WHERE n.controller_id = NEW.controller_id AND n.kind = 'withdrawal' AND n.opened_on = today;
    END IF;
  END IF;
  NEW.retention_status := 'ready_for_deletion';
  NEW.retention_reasons := ARRAY['withdrawn'];
  NEW.retention_due_on := today;
  NEW.retention_marked_on := today;
  NEW.retention_notice_id := nid;
  NEW.deletion_confirmed_at := NULL;
  NEW.deletion_confirmed_by := NULL;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.participant_withdrawal_mark() FROM PUBLIC;
COMMENT ON FUNCTION outreach.participant_withdrawal_mark() IS
  'trigger: a withdrawal recorded marks the record ready for deletion at once, on the member''s withdrawal notice of the day';

-- The rows a statement put on a withdrawal notice (inserted marked, or moved onto it) are added
-- to its count; a notice whose count grew is delivered (deletion_notice_deliver).
CREATE OR REPLACE FUNCTION outreach.participant_withdrawal_count() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  -- Cheap first: most statements mark nobody.
  IF NOT EXISTS (SELECT 1 FROM new_rows r WHERE r.retention_status = 'ready_for_deletion'
                   AND r.retention_reasons = ARRAY['withdrawn'] AND r.retention_notice_id IS NOT NULL) THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    UPDATE outreach.deletion_notice d SET records_marked = d.records_marked + a.marked, updated_at = now()
    FROM (SELECT r.controller_id, r.retention_notice_id, count(*) AS marked FROM new_rows r
          WHERE r.retention_status = 'ready_for_deletion' AND r.retention_reasons = ARRAY['withdrawn']
          GROUP BY 1, 2) AS a
    WHERE d.controller_id = a.controller_id AND d.notice_id = a.retention_notice_id AND d.kind = 'withdrawal';
  ELSE
    UPDATE outreach.deletion_notice d SET records_marked = d.records_marked + a.marked, updated_at = now()
    FROM (SELECT r.controller_id, r.retention_notice_id, count(*) AS marked
          FROM new_rows r JOIN old_rows o ON o.controller_id = r.controller_id AND o.participant_id = r.participant_id
          WHERE r.retention_status = 'ready_for_deletion' AND r.retention_reasons = ARRAY['withdrawn']
            AND r.retention_notice_id IS DISTINCT FROM o.retention_notice_id
          GROUP BY 1, 2) AS a
    WHERE d.controller_id = a.controller_id AND d.notice_id = a.retention_notice_id AND d.kind = 'withdrawal';
  END IF;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM outreach.notify_service('records_marked');
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.participant_withdrawal_count() FROM PUBLIC;
COMMENT ON FUNCTION outreach.participant_withdrawal_count() IS
  'trigger: adds the records a statement put on withdrawal notices to their counts';
-- (Named to fire after participant_keep_withdrawal, which refuses changing a recorded value.)
CREATE OR REPLACE TRIGGER participant_withdrawal_mark BEFORE UPDATE OF withdrawn_at ON outreach.participant
  FOR EACH ROW WHEN (OLD.withdrawn_at IS NULL AND NEW.withdrawn_at IS NOT NULL)
  EXECUTE FUNCTION outreach.participant_withdrawal_mark();
CREATE OR REPLACE TRIGGER participant_withdrawal_mark_insert BEFORE INSERT ON outreach.participant
  FOR EACH ROW WHEN (NEW.withdrawn_at IS NOT NULL)
  EXECUTE FUNCTION outreach.participant_withdrawal_mark();
CREATE OR REPLACE TRIGGER participant_withdrawal_count_insert AFTER INSERT ON outreach.participant
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.participant_withdrawal_count();
CREATE OR REPLACE TRIGGER participant_withdrawal_count_update AFTER UPDATE ON outreach.participant
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.participant_withdrawal_count();

-- The participants named, all of the caller's member (writer or DPO), locked; an unknown
-- participant and another member's give the same 42704, so the call is no probe.
CREATE OR REPLACE FUNCTION outreach.require_own_participants(controller_id int, participant_ids bigint[], what text)
RETURNS bigint[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ids bigint[];
  unknown bigint;
BEGIN
  IF controller_id IS NULL OR NOT (controller_id = ANY (outreach.caller_controller_ids('writer'))
                                   OR controller_id = ANY (outreach.caller_controller_ids('dpo'))) THEN
    RAISE EXCEPTION 'permission denied: role "%" cannot % participants of controller %',
                    outreach.invoking_role(), what, coalesce(controller_id::text, 'NULL')
      USING ERRCODE = '42501';
  END IF;
  IF participant_ids IS NULL OR cardinality(participant_ids) = 0 OR cardinality(participant_ids) > 10000
     OR array_ndims(participant_ids) > 1 THEN
    RAISE EXCEPTION 'name 1 to 10000 participants in a one-dimensional array' USING ERRCODE = '22023';
  END IF;
  SELECT array_agg(DISTINCT id ORDER BY id) INTO ids FROM unnest(participant_ids) AS id;
  SELECT min(coalesce(id, -1)) INTO unknown FROM unnest(participant_ids) AS id
  WHERE id IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.participant p
                                  WHERE p.controller_id = require_own_participants.controller_id AND p.participant_id = id);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'participant % of controller % not found', unknown, controller_id USING ERRCODE = '42704';
  END IF;
  PERFORM 1 FROM outreach.participant p
  WHERE p.controller_id = require_own_participants.controller_id AND p.participant_id = ANY (ids)
  ORDER BY p.participant_id FOR UPDATE;
  RETURN ids;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.require_own_participants(int, bigint[], text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.require_own_participants(int, bigint[], text) IS
  'the named participants of the caller''s member, locked, sorted and distinct; 42501 for a non-member, 42704 for any other';

-- The request an action answers, when one is named: open, of the member, of a fitting kind.
CREATE OR REPLACE FUNCTION outreach.rights_request_for_kinds(controller_id int, request_id bigint, kinds text[])
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r outreach.rights_request;
BEGIN
  IF request_id IS NULL THEN
    RETURN;
  END IF;
  SELECT * INTO r FROM outreach.rights_request q
  WHERE q.controller_id = rights_request_for_kinds.controller_id AND q.request_id = rights_request_for_kinds.request_id;
  -- A writer may name a request but not read the register: for it, every request that does
  -- not fit is the same 42704, so the call tells nothing of the register.
  IF NOT FOUND OR ((r.status <> 'open' OR NOT r.kind = ANY (kinds))
                   AND NOT controller_id = ANY (outreach.caller_controller_ids('dpo'))) THEN
    RAISE EXCEPTION 'no open % request % of controller %', array_to_string(kinds, ', ', ''), request_id, controller_id
      USING ERRCODE = '42704';
  END IF;
  IF r.status <> 'open' OR NOT r.kind = ANY (kinds) THEN
    RAISE EXCEPTION 'rights request % is % and of kind %, not an open % request', request_id, r.status, r.kind,
                    array_to_string(kinds, ', ', '') USING ERRCODE = '55000';
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.rights_request_for_kinds(int, bigint, text[]) FROM PUBLIC;
COMMENT ON FUNCTION outreach.rights_request_for_kinds(int, bigint, text[]) IS
  'checks that a named request is the member''s, open and of one of the kinds (42704, 55000)';

-- What withdraw_participant and restrict_participant return for each person.
CREATE OR REPLACE FUNCTION outreach.participant_rights_state(controller_id int, ids bigint[])
RETURNS TABLE (participant_id bigint, withdrawn_at timestamptz, restricted_at timestamptz, retention_status text,
               notice_id bigint, confirm_by timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT p.participant_id, p.withdrawn_at, p.restricted_at, p.retention_status, p.retention_notice_id, d.confirm_by
  FROM outreach.participant p
  LEFT JOIN outreach.deletion_notice d ON d.controller_id = p.controller_id AND d.notice_id = p.retention_notice_id
  WHERE p.controller_id = participant_rights_state.controller_id AND p.participant_id = ANY (ids)
  ORDER BY p.participant_id
$$;
REVOKE EXECUTE ON FUNCTION outreach.participant_rights_state(int, bigint[]) FROM PUBLIC;
COMMENT ON FUNCTION outreach.participant_rights_state(int, bigint[]) IS
  'what withdraw_participant and restrict_participant return: each person''s withdrawal, restriction and retention state';

-- Withdrawal and restriction, recorded now (one recorded before stays as it was), for
-- withdraw_participant and restrict_participant. A withdrawal marks each record
-- (participant_withdrawal_mark); both queue the recipients' follow-ups. request_id ties the
-- change to the register (a request of a fitting kind) and is audited with it.
CREATE OR REPLACE FUNCTION outreach.set_participant_flag(controller_id int, participant_ids bigint[], request_id bigint,
                                                         flag text)
RETURNS TABLE (participant_id bigint, withdrawn_at timestamptz, restricted_at timestamptz, retention_status text,
               notice_id bigint, confirm_by timestamptz)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  ids bigint[];
  withdrawing boolean := flag = 'withdrawn';
BEGIN
  ids := outreach.require_own_participants(set_participant_flag.controller_id, set_participant_flag.participant_ids,
                                           CASE WHEN withdrawing THEN 'withdraw' ELSE 'restrict' END);
  PERFORM outreach.rights_request_for_kinds(set_participant_flag.controller_id, set_participant_flag.request_id,
                                            CASE WHEN withdrawing THEN ARRAY['withdrawal', 'objection', 'erasure']
                                                 ELSE ARRAY['restriction', 'objection', 'rectification'] END);
  IF withdrawing THEN
    UPDATE outreach.participant p SET withdrawn_at = now()
    WHERE p.controller_id = set_participant_flag.controller_id AND p.participant_id = ANY (ids) AND p.withdrawn_at IS NULL;
  ELSE
    UPDATE outreach.participant p SET restricted_at = now()
    WHERE p.controller_id = set_participant_flag.controller_id AND p.participant_id = ANY (ids) AND p.restricted_at IS NULL;
  END IF;
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  SELECT set_participant_flag.controller_id, session_user, outreach.invoking_role()::text, 'update', 'participant',
         jsonb_build_object('participant_id', id, 'request_id', set_participant_flag.request_id),
         ARRAY[CASE WHEN withdrawing THEN 'withdrawn_at' ELSE 'restricted_at' END]
  FROM unnest(ids) AS id
  WHERE set_participant_flag.request_id IS NOT NULL;
  RETURN QUERY SELECT * FROM outreach.participant_rights_state(set_participant_flag.controller_id, ids);
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal(CASE WHEN flag = 'withdrawn' THEN 'withdraw_participant' ELSE 'restrict_participant' END,
                               set_participant_flag.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.set_participant_flag(int, bigint[], bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.set_participant_flag(int, bigint[], bigint, text) IS
  'withdraw_participant() and restrict_participant(): records withdrawn_at or restricted_at now, audited with the request';

CREATE OR REPLACE FUNCTION outreach.withdraw_participant(controller_id int, participant_ids bigint[],
                                                         request_id bigint DEFAULT NULL)
RETURNS TABLE (participant_id bigint, withdrawn_at timestamptz, restricted_at timestamptz, retention_status text,
               notice_id bigint, confirm_by timestamptz)
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM outreach.set_participant_flag(controller_id, participant_ids, request_id, 'withdrawn') $$;
REVOKE EXECUTE ON FUNCTION outreach.withdraw_participant(int, bigint[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.withdraw_participant(int, bigint[], bigint) TO outreach_writer, outreach_dpo;
COMMENT ON FUNCTION outreach.withdraw_participant(int, bigint[], bigint) IS
  'records a withdrawal now: out of exports, sharing and aggregates at once, marked for deletion on the day''s withdrawal notice, recipients followed up';

-- Restriction: the record is kept (no sweep, confirmation or erasure deletes it) and left out
-- of exports, sharing and aggregates until the DPO lifts it (lift_restriction).
CREATE OR REPLACE FUNCTION outreach.restrict_participant(controller_id int, participant_ids bigint[],
                                                         request_id bigint DEFAULT NULL)
RETURNS TABLE (participant_id bigint, withdrawn_at timestamptz, restricted_at timestamptz, retention_status text,
               notice_id bigint, confirm_by timestamptz)
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM outreach.set_participant_flag(controller_id, participant_ids, request_id, 'restricted') $$;
REVOKE EXECUTE ON FUNCTION outreach.restrict_participant(int, bigint[], bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.restrict_participant(int, bigint[], bigint) TO outreach_writer, outreach_dpo;
COMMENT ON FUNCTION outreach.restrict_participant(int, bigint[], bigint) IS
  'restricts processing now: kept from deletion, left out of exports, sharing and aggregates until the DPO lifts it; recipients followed up';
