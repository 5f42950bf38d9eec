-- The register of data subjects' requests (UK GDPR Arts. 12-22): what was asked, by whom, when
-- it was received and when it must be answered, and how it ended. Each member's DPO keeps its
-- own, under row security; rows change only through the functions below, each audited.
--
-- The statutory clock: one calendar month from the day of receipt, by the corresponding-day
-- rule (the same day of the next month, or that month's last day when it has none: 31 January
-- gives 28 or 29 February), which is PostgreSQL's own month arithmetic (date + interval
-- '1 month'); extendable once, by up to two further months, with a reason, notified to the
-- person within the first month.
-- Children: a parent or guardian may ask for a child under 12; from 12 the child's own agreement
-- is recorded, or an override with its reason (the age on the day received, from the date of
-- birth held; a 29 February birthday counts from 1 March in other years).
-- "Today" is the date in the UK (Europe/London), whatever the session's TimeZone: a session set
-- to UTC+14 must not date a request tomorrow.

-- A refused call rolls back whatever it wrote, its audit row too, so refusals are recorded in the
-- server log instead (as pgaudit does), which no rollback undoes: the function, the controller,
-- the acting role and the SQLSTATE, never the arguments (they may name a person).
CREATE OR REPLACE FUNCTION outreach.log_refusal(what text, controller_id int, state text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor text;
BEGIN
  BEGIN
    actor := outreach.invoking_role()::text;   -- the acting role, not this function's owner
  EXCEPTION WHEN OTHERS THEN
    actor := '(unknown)';                      -- never hide the refusal being logged
  END;
  RAISE LOG 'outreach audit: refused %(controller %) for role "%" (session "%"): SQLSTATE %',
            what, coalesce(controller_id::text, 'NULL'), actor, session_user, state;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.log_refusal(text, int, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.log_refusal(text, int, text) IS
  'writes a refused rights call to the server log (no rollback undoes it); never the arguments';

CREATE TABLE outreach.rights_request (
  controller_id int NOT NULL REFERENCES outreach.controller,
  request_id bigint GENERATED ALWAYS AS IDENTITY,
  kind text NOT NULL
    CHECK (kind IN ('access', 'rectification', 'erasure', 'restriction', 'objection', 'portability', 'withdrawal')),
  received_on date NOT NULL
    CONSTRAINT rights_request_received_on_range CHECK (received_on BETWEEN '1900-01-01' AND '2100-12-31'),
  requester text NOT NULL CHECK (requester IN ('subject', 'parent_or_guardian', 'representative')),
  participant_ids bigint[] NOT NULL,                -- the member's records it concerns (may grow)
  details text CHECK (length(details) <= 4000),     -- what was asked; for an objection, its grounds
  identity_verified_on date
    CONSTRAINT rights_request_verified_on_range CHECK (identity_verified_on BETWEEN '1900-01-01' AND '2100-12-31'),
  identity_verified_how text CHECK (length(identity_verified_how) <= 500),
  child_age int,                                    -- a parent's request: the oldest child's age when received
  child_agreement boolean,
  child_override_reason text CHECK (length(child_override_reason) <= 1000),
  due_on date NOT NULL,
  extended_due_on date,
  extension_reason text CHECK (length(extension_reason) <= 1000),
  extension_notified_on date,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed', 'refused')),
  closed_on date,
  outcome text CHECK (length(outcome) <= 2000),
  refusal_reason text CHECK (length(refusal_reason) <= 2000),
  opened_by name NOT NULL,
  opened_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (controller_id, request_id),
  CONSTRAINT rights_request_due CHECK (due_on = (received_on + interval '1 month')::date),
  CONSTRAINT rights_request_extension CHECK (
    (extended_due_on IS NULL AND extension_reason IS NULL AND extension_notified_on IS NULL)
    OR (extended_due_on > due_on AND extended_due_on <= (received_on + interval '3 months')::date
        AND length(btrim(extension_reason)) > 0 AND extension_notified_on BETWEEN received_on AND due_on)),
  CONSTRAINT rights_request_closed CHECK (
    (status = 'open' AND closed_on IS NULL AND outcome IS NULL AND refusal_reason IS NULL)
    OR (status <> 'open' AND closed_on >= received_on AND length(btrim(outcome)) > 0)),
  CONSTRAINT rights_request_refusal CHECK (status <> 'refused' OR length(btrim(refusal_reason)) > 0),
  CONSTRAINT rights_request_objection CHECK (kind <> 'objection' OR length(btrim(details)) > 0),
  CONSTRAINT rights_request_child CHECK (
    requester <> 'parent_or_guardian' OR coalesce(child_age, 12) < 12 OR child_agreement
    OR length(btrim(child_override_reason)) > 0)
);
ALTER TABLE outreach.rights_request ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.rights_request FORCE ROW LEVEL SECURITY;
CREATE POLICY rights_request_dpo_read ON outreach.rights_request FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.rights_request FROM PUBLIC;
GRANT SELECT ON outreach.rights_request TO outreach_dpo;
SELECT pg_catalog.pg_extension_config_dump('outreach.rights_request', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.rights_request', 'request_id')::pg_catalog.regclass, '');
COMMENT ON TABLE outreach.rights_request IS
  'data subjects'' requests (access, rectification, erasure, restriction, objection, portability, withdrawal) with their statutory due dates; each member''s DPO sees its own';
COMMENT ON COLUMN outreach.rights_request.details IS 'what was asked; for an objection, its grounds (required); the DPO''s decision is the outcome';
COMMENT ON COLUMN outreach.rights_request.due_on IS 'one calendar month from receipt (corresponding day, or the month''s last day)';
COMMENT ON COLUMN outreach.rights_request.extended_due_on IS 'after the one extension allowed: at most three months from receipt';
COMMENT ON COLUMN outreach.rights_request.child_age IS 'for a parent''s or guardian''s request: the oldest named child''s age on the day received (NULL: a date of birth not held)';

-- The request as the audit log records it: its key and kind, never the people or the reasons.
CREATE OR REPLACE FUNCTION outreach.audit_rights_request(r outreach.rights_request, action text, columns text[])
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  VALUES (r.controller_id, session_user, outreach.invoking_role()::text, action, 'rights_request',
          jsonb_build_object('request_id', r.request_id, 'kind', r.kind), columns);
$$;
REVOKE EXECUTE ON FUNCTION outreach.audit_rights_request(outreach.rights_request, text, text[]) FROM PUBLIC;
COMMENT ON FUNCTION outreach.audit_rights_request(outreach.rights_request, text, text[]) IS
  'records a change of a rights request in the audit log (its key and kind only)';

-- A request of the caller's own member, locked for a change; another member's or an unknown
-- one is the same 42704, so the call is no probe.
CREATE OR REPLACE FUNCTION outreach.rights_request_for_update(controller_id int, request_id bigint)
RETURNS outreach.rights_request
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r outreach.rights_request;
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  SELECT * INTO r FROM outreach.rights_request q
  WHERE q.controller_id = rights_request_for_update.controller_id AND q.request_id = rights_request_for_update.request_id
  FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'rights request % of controller % not found', request_id, controller_id USING ERRCODE = '42704';
  END IF;
  RETURN r;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.rights_request_for_update(int, bigint) FROM PUBLIC;
COMMENT ON FUNCTION outreach.rights_request_for_update(int, bigint) IS
  'the DPO''s own request, locked (42704 for an unknown or another member''s one)';

CREATE OR REPLACE FUNCTION outreach.open_rights_request(
  controller_id int, kind text, received_on date,
  requester text DEFAULT 'subject',
  participant_ids bigint[] DEFAULT '{}',
  identity_verified_on date DEFAULT NULL,
  identity_verified_how text DEFAULT NULL,
  child_agreement boolean DEFAULT NULL,
  child_override_reason text DEFAULT NULL,
  details text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r outreach.rights_request;
  unknown bigint;
  oldest int;
  undated bigint;
  today date := (now() AT TIME ZONE 'Europe/London')::date;
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF kind IS NULL OR kind NOT IN ('access', 'rectification', 'erasure', 'restriction', 'objection', 'portability', 'withdrawal') THEN
    RAISE EXCEPTION 'unknown kind of request "%"', kind
      USING ERRCODE = '22023',
            HINT = 'access, rectification, erasure, restriction, objection, portability or withdrawal';
  END IF;
  IF kind = 'objection' AND coalesce(btrim(details), '') = '' THEN
    RAISE EXCEPTION 'an objection is recorded with its grounds' USING ERRCODE = '22023',
      HINT = 'details => the person''s grounds, in their words; the DPO''s decision is the outcome given when closing it';
  END IF;
  IF requester IS NULL OR requester NOT IN ('subject', 'parent_or_guardian', 'representative') THEN
    RAISE EXCEPTION 'unknown requester "%"', requester
      USING ERRCODE = '22023', HINT = 'subject, parent_or_guardian or representative';
  END IF;
  IF received_on IS NULL OR NOT isfinite(received_on) OR received_on > today OR received_on < DATE '1900-01-01' THEN
    RAISE EXCEPTION 'a request is received on a day between 1900 and today, not %', coalesce(received_on::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF identity_verified_on IS NOT NULL AND (NOT isfinite(identity_verified_on) OR identity_verified_on > today
                                           OR identity_verified_on < DATE '1900-01-01') THEN
    RAISE EXCEPTION 'identity is verified on a day between 1900 and today, not %', identity_verified_on USING ERRCODE = '22023';
  END IF;
  participant_ids := coalesce(participant_ids, '{}');
  IF array_ndims(participant_ids) > 1 THEN
    RAISE EXCEPTION 'participant_ids is a list of ids, not a % dimensional array', array_ndims(participant_ids)
      USING ERRCODE = '22023';
  END IF;
  IF cardinality(participant_ids) > 1000 THEN
    RAISE EXCEPTION 'a request concerns at most 1000 records, not %', cardinality(participant_ids) USING ERRCODE = '22023';
  END IF;
  SELECT min(id) INTO unknown FROM unnest(participant_ids) AS id
  WHERE id IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.participant p
                                  WHERE p.controller_id = open_rights_request.controller_id AND p.participant_id = id);
  IF unknown IS NOT NULL OR array_position(participant_ids, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'participant % of controller % not found', coalesce(unknown::text, 'NULL'), controller_id
      USING ERRCODE = '42704';
  END IF;
  -- Stored sorted, once each, numbered from 1 (whatever bounds or repeats the caller sent).
  participant_ids := ARRAY(SELECT DISTINCT id FROM unnest(participant_ids) AS id ORDER BY id);
  IF requester = 'parent_or_guardian' THEN
    IF cardinality(participant_ids) = 0 THEN
      RAISE EXCEPTION 'a parent''s or guardian''s request names the child''s records (participant_ids)'
        USING ERRCODE = '22023', HINT = 'the child''s age on the day received decides whether their agreement is needed';
    END IF;
    -- Every child named must be under 12, or have agreed, or be overridden with a reason.
    SELECT max(date_part('year', age(received_on, p.date_of_birth)))::int,
           count(*) FILTER (WHERE p.date_of_birth IS NULL)
      INTO oldest, undated
    FROM outreach.participant p
    WHERE p.controller_id = open_rights_request.controller_id AND p.participant_id = ANY (participant_ids);
    IF (undated > 0 OR oldest >= 12) AND NOT coalesce(child_agreement, false)
       AND coalesce(length(btrim(child_override_reason)), 0) = 0 THEN
      RAISE EXCEPTION 'a parent''s or guardian''s request for a child of 12 or more needs the child''s agreement'
        USING ERRCODE = '22023',
              DETAIL = CASE WHEN undated > 0 THEN 'a date of birth is not held, so the child''s age is not known'
                            ELSE format('the child was %s on %s', oldest, received_on) END,
              HINT = 'pass child_agreement => true once the child has agreed, or child_override_reason';
    END IF;
  END IF;
  INSERT INTO outreach.rights_request (controller_id, kind, received_on, requester, participant_ids, details,
                                       identity_verified_on, identity_verified_how, child_age, child_agreement,
                                       child_override_reason, due_on, opened_by)
  VALUES (controller_id, kind, received_on, requester, participant_ids, nullif(btrim(details), ''), identity_verified_on,
          nullif(btrim(identity_verified_how), ''), CASE WHEN requester = 'parent_or_guardian' AND undated = 0 THEN oldest END,
          child_agreement, nullif(btrim(child_override_reason), ''), (received_on + interval '1 month')::date,
          outreach.invoking_role())
  RETURNING * INTO r;
  PERFORM outreach.audit_rights_request(r, 'insert', NULL);
  RETURN r.request_id;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('open_rights_request', open_rights_request.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.open_rights_request(int, text, date, text, bigint[], date, text, boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.open_rights_request(int, text, date, text, bigint[], date, text, boolean, text, text) TO outreach_dpo;
COMMENT ON FUNCTION outreach.open_rights_request(int, text, date, text, bigint[], date, text, boolean, text, text) IS
  'the DPO opens a request: kind, day received, who asked, the records concerned; returns its id (due one month after receipt)';

-- One extension, by up to two further months (to three months from receipt), with a reason, the
-- person told within the first month. Returns the new due date.
CREATE OR REPLACE FUNCTION outreach.extend_rights_request(controller_id int, request_id bigint, reason text,
                                                          months int DEFAULT 2, notified_on date DEFAULT NULL)
RETURNS date
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r outreach.rights_request;
  today date := (now() AT TIME ZONE 'Europe/London')::date;
BEGIN
  r := outreach.rights_request_for_update(controller_id, request_id);   -- (in the body: its refusal is logged)
  notified_on := coalesce(notified_on, today);   -- NULL: told today
  IF reason IS NULL OR length(btrim(reason)) = 0 THEN
    RAISE EXCEPTION 'an extension needs a reason' USING ERRCODE = '22023';
  END IF;
  IF months IS NULL OR months NOT IN (1, 2) THEN
    RAISE EXCEPTION 'a request is extended by one or two further months (three at most from receipt), not %',
                    coalesce(months::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  IF r.status <> 'open' THEN
    RAISE EXCEPTION 'rights request % is closed (%)', request_id, r.status USING ERRCODE = '55000';
  END IF;
  IF r.extended_due_on IS NOT NULL THEN
    RAISE EXCEPTION 'rights request % was already extended to %', request_id, r.extended_due_on USING ERRCODE = '55000';
  END IF;
  IF notified_on < r.received_on OR notified_on > least(r.due_on, today) THEN
    RAISE EXCEPTION 'the person must be told of an extension within the first month (by %), not on %',
                    r.due_on, coalesce(notified_on::text, 'NULL')
      USING ERRCODE = '55000';
  END IF;
  UPDATE outreach.rights_request q
  SET extended_due_on = (r.received_on + make_interval(months => 1 + months))::date,
      extension_reason = btrim(reason), extension_notified_on = notified_on
  WHERE q.controller_id = r.controller_id AND q.request_id = r.request_id
  RETURNING * INTO r;
  PERFORM outreach.audit_rights_request(r, 'update', ARRAY['extended_due_on', 'extension_reason', 'extension_notified_on']);
  RETURN r.extended_due_on;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('extend_rights_request', extend_rights_request.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.extend_rights_request(int, bigint, text, int, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.extend_rights_request(int, bigint, text, int, date) TO outreach_dpo;
COMMENT ON FUNCTION outreach.extend_rights_request(int, bigint, text, int, date) IS
  'the DPO extends a request once, by one or two further months, with a reason told to the person within the first month';

-- Closing: completed with what was done, or refused with the reason given to the person.
CREATE OR REPLACE FUNCTION outreach.close_rights_request(controller_id int, request_id bigint, outcome text,
                                                         refusal_reason text DEFAULT NULL,
                                                         closed_on date DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r outreach.rights_request;
  today date := (now() AT TIME ZONE 'Europe/London')::date;
BEGIN
  r := outreach.rights_request_for_update(controller_id, request_id);   -- (in the body: its refusal is logged)
  closed_on := coalesce(closed_on, today);   -- NULL: closed today
  IF outcome IS NULL OR length(btrim(outcome)) = 0 THEN
    RAISE EXCEPTION 'closing a request needs its outcome' USING ERRCODE = '22023';
  END IF;
  IF refusal_reason IS NOT NULL AND length(btrim(refusal_reason)) = 0 THEN
    RAISE EXCEPTION 'a refusal needs its reason' USING ERRCODE = '22023';
  END IF;
  IF r.status <> 'open' THEN
    RAISE EXCEPTION 'rights request % is already closed (%)', request_id, r.status USING ERRCODE = '55000';
  END IF;
  IF closed_on < r.received_on OR closed_on > today THEN
    RAISE EXCEPTION 'a request is closed between its receipt (%) and today, not %', r.received_on,
                    coalesce(closed_on::text, 'NULL') USING ERRCODE = '22023';
  END IF;
  UPDATE outreach.rights_request q
  SET status = CASE WHEN close_rights_request.refusal_reason IS NULL THEN 'completed' ELSE 'refused' END,
      outcome = btrim(close_rights_request.outcome), refusal_reason = btrim(close_rights_request.refusal_reason),
      closed_on = close_rights_request.closed_on
  WHERE q.controller_id = r.controller_id AND q.request_id = r.request_id
  RETURNING * INTO r;
  PERFORM outreach.audit_rights_request(r, 'update', ARRAY['status', 'outcome', 'refusal_reason', 'closed_on']);
  RETURN r.status;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('close_rights_request', close_rights_request.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.close_rights_request(int, bigint, text, text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.close_rights_request(int, bigint, text, text, date) TO outreach_dpo;
COMMENT ON FUNCTION outreach.close_rights_request(int, bigint, text, text, date) IS
  'the DPO closes a request: completed with its outcome, or refused with the reason (returns the status)';

-- What needs answering: open requests due within 7 days, and overdue ones.
CREATE OR REPLACE VIEW outreach.rights_requests_due WITH (security_invoker = true) AS
SELECT q.controller_id, q.request_id, q.kind, q.received_on, q.requester,
       coalesce(q.extended_due_on, q.due_on) AS due_on, q.extended_due_on IS NOT NULL AS extended,
       coalesce(q.extended_due_on, q.due_on) - t.today AS days_left,
       CASE WHEN coalesce(q.extended_due_on, q.due_on) < t.today THEN 'overdue' ELSE 'due_soon' END AS state
FROM outreach.rights_request q
CROSS JOIN (SELECT (now() AT TIME ZONE 'Europe/London')::date AS today) t
WHERE q.status = 'open' AND coalesce(q.extended_due_on, q.due_on) <= t.today + 7;
COMMENT ON VIEW outreach.rights_requests_due IS 'open rights requests due within 7 days or overdue (the DPO''s own)';
COMMENT ON COLUMN outreach.rights_requests_due.due_on IS 'the date the answer is due, after any extension';
COMMENT ON COLUMN outreach.rights_requests_due.days_left IS 'days until due; negative when overdue';
REVOKE ALL ON outreach.rights_requests_due FROM PUBLIC;
GRANT SELECT ON outreach.rights_requests_due TO outreach_dpo;

-- Reinstating a withdrawn participant, lifting a restriction: the member's DPO only, with a
-- reason, audited (the reason in the DPO's own audit log). A writer cannot (keep_withdrawal).
-- A record already marked for deletion because of the withdrawal stays marked: the DPO
-- un-marks it with outreach.unmark_deletion() if it is to be kept.
CREATE OR REPLACE FUNCTION outreach.clear_participant_flag(controller_id int, participant_ids bigint[], reason text,
                                                           flag text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  unknown bigint;
  unset bigint;
  n int;
BEGIN
  PERFORM outreach.require_dpo(controller_id);
  IF reason IS NULL OR length(btrim(reason)) = 0 OR length(reason) > 1000 THEN
    RAISE EXCEPTION 'a reason of 1 to 1000 characters is needed' USING ERRCODE = '22023';
  END IF;
  IF participant_ids IS NULL OR cardinality(participant_ids) = 0 OR cardinality(participant_ids) > 10000 THEN
    RAISE EXCEPTION 'name 1 to 10000 participants' USING ERRCODE = '22023';
  END IF;
  SELECT min(coalesce(id, -1)) INTO unknown FROM unnest(participant_ids) AS id
  WHERE id IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.participant p
                                  WHERE p.controller_id = clear_participant_flag.controller_id AND p.participant_id = id);
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'participant % of controller % not found', unknown, controller_id USING ERRCODE = '42704';
  END IF;
  SELECT min(p.participant_id) INTO unset FROM outreach.participant p
  WHERE p.controller_id = clear_participant_flag.controller_id AND p.participant_id = ANY (participant_ids)
    AND CASE flag WHEN 'withdrawn' THEN p.withdrawn_at IS NULL ELSE p.restricted_at IS NULL END;
  IF unset IS NOT NULL THEN
    RAISE EXCEPTION 'participant % of controller % is not %', unset, controller_id, flag USING ERRCODE = '55000';
  END IF;
  WITH cleared AS (
    UPDATE outreach.participant p
    SET withdrawn_at = CASE WHEN flag = 'withdrawn' THEN NULL ELSE p.withdrawn_at END,
        restricted_at = CASE WHEN flag = 'restricted' THEN NULL ELSE p.restricted_at END
    WHERE p.controller_id = clear_participant_flag.controller_id AND p.participant_id = ANY (participant_ids)
    RETURNING p.controller_id, p.participant_id
  )
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
  SELECT c.controller_id, session_user, outreach.invoking_role()::text,
         CASE WHEN flag = 'withdrawn' THEN 'reinstate' ELSE 'lift_restriction' END, 'participant',
         jsonb_build_object('participant_id', c.participant_id, 'reason', btrim(reason)),
         ARRAY[CASE WHEN flag = 'withdrawn' THEN 'withdrawn_at' ELSE 'restricted_at' END]
  FROM cleared c;
  GET DIAGNOSTICS n = ROW_COUNT;
  -- Recipients not yet told of the restriction or withdrawal in a file are not told of it now.
  UPDATE outreach.recipient_followup f SET cancelled_at = now()
  WHERE f.controller_id = clear_participant_flag.controller_id AND f.participant_id = ANY (participant_ids)
    AND f.kind = CASE WHEN flag = 'withdrawn' THEN 'withdrawal' ELSE 'restriction' END
    AND f.carried_by IS NULL AND f.cancelled_at IS NULL;
  RETURN n;
EXCEPTION WHEN OTHERS THEN
  PERFORM outreach.log_refusal('clear_participant_flag', clear_participant_flag.controller_id, SQLSTATE);
  RAISE;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.clear_participant_flag(int, bigint[], text, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.clear_participant_flag(int, bigint[], text, text) IS
  'reinstate_participant() and lift_restriction(): clears withdrawn_at or restricted_at for the DPO, audited with the reason';

CREATE OR REPLACE FUNCTION outreach.reinstate_participant(controller_id int, participant_ids bigint[], reason text)
RETURNS int
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT outreach.clear_participant_flag(controller_id, participant_ids, reason, 'withdrawn') $$;
REVOKE EXECUTE ON FUNCTION outreach.reinstate_participant(int, bigint[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.reinstate_participant(int, bigint[], text) TO outreach_dpo;
COMMENT ON FUNCTION outreach.reinstate_participant(int, bigint[], text) IS
  'the DPO reinstates withdrawn participants (the person gave permission again), with a reason; audited';

CREATE OR REPLACE FUNCTION outreach.lift_restriction(controller_id int, participant_ids bigint[], reason text)
RETURNS int
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT outreach.clear_participant_flag(controller_id, participant_ids, reason, 'restricted') $$;
REVOKE EXECUTE ON FUNCTION outreach.lift_restriction(int, bigint[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.lift_restriction(int, bigint[], text) TO outreach_dpo;
COMMENT ON FUNCTION outreach.lift_restriction(int, bigint[], text) IS
  'the DPO lifts the restriction of processing of participants, with a reason; audited';
