-- Reminders of rights requests' statutory clocks, through the members' notification channels:
-- a reminder when an open request falls due within 7 days, an escalation when it is overdue
-- (to the channels and, by email, the member's legal contact). The daemon's escalate job calls
-- enqueue_rights_reminders(); each message is sent once per request and due date (an extension
-- gives a new due date, and so new messages). No personal data: the request's number, kind and
-- dates, never who asked or about whom.
CREATE OR REPLACE FUNCTION outreach.enqueue_rights_reminders(at timestamptz DEFAULT now()) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  today date;
  q record;
  body jsonb;
  n int := 0;
  sent int;
BEGIN
  PERFORM outreach.check_service_date(at, 'at');
  today := (at AT TIME ZONE 'Europe/London')::date;
  FOR q IN
    SELECT r.controller_id, r.request_id, r.kind, r.received_on, coalesce(r.extended_due_on, r.due_on) AS due_on,
           r.extended_due_on IS NOT NULL AS extended, c.code, coalesce(pol.legal_contact, c.legal_contact) AS contact
    FROM outreach.rights_request r
    JOIN outreach.controller c ON c.controller_id = r.controller_id
    LEFT JOIN outreach.retention_policy pol ON pol.controller_id = r.controller_id
    WHERE r.status = 'open' AND coalesce(r.extended_due_on, r.due_on) <= today + 7
    ORDER BY r.controller_id, r.request_id
  LOOP
    body := jsonb_build_object('type', CASE WHEN q.due_on < today THEN 'rights_escalation' ELSE 'rights_reminder' END,
                               'controller', q.code, 'request_id', q.request_id, 'kind', q.kind,
                               'received_on', q.received_on, 'due_on', q.due_on, 'extended', q.extended,
                               'days_left', q.due_on - today,
                               'see', 'SELECT * FROM outreach.rights_requests_due');
    IF q.due_on >= today THEN
      sent := outreach.enqueue_delivery(q.controller_id, 'rights_reminder',
        format('outreach-rights-reminder-%s-%s', q.request_id, q.due_on), body,
        format('Rights request %s (%s) is due on %s', q.request_id, q.kind, q.due_on),
        format(E'The %s request %s received on %s must be answered by %s (%s days).\n'
               'It is listed in outreach.rights_requests_due for your data-protection officer.\n',
               q.kind, q.request_id, q.received_on, q.due_on, q.due_on - today));
    ELSE
      sent := outreach.enqueue_delivery(q.controller_id, 'rights_escalation',
        format('outreach-rights-overdue-%s-%s', q.request_id, q.due_on), body,
        format('Rights request %s (%s) is overdue since %s', q.request_id, q.kind, q.due_on),
        format(E'The %s request %s received on %s was due on %s and is still open.\n'
               'UK GDPR Art. 12(3): answer it, or extend it (within the first month) or refuse it with a reason.\n',
               q.kind, q.request_id, q.received_on, q.due_on))
        + outreach.enqueue_delivery(q.controller_id, 'rights_escalation',
        format('outreach-rights-overdue-%s-%s', q.request_id, q.due_on), body,
        format('Rights request %s of %s is overdue since %s', q.request_id, q.code, q.due_on),
        format(E'The %s request %s of %s, received on %s, was due on %s and is still open.\n',
               q.kind, q.request_id, q.code, q.received_on, q.due_on),
        NULL, 'email', q.contact);
    END IF;
    IF sent > 0 THEN
      n := n + 1;
    END IF;
  END LOOP;
  RETURN n;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.enqueue_rights_reminders(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.enqueue_rights_reminders(timestamptz) TO outreach_daemon;
COMMENT ON FUNCTION outreach.enqueue_rights_reminders(timestamptz) IS
  'queues reminders of open rights requests due within 7 days and escalations of overdue ones; returns how many requests got a new message';
