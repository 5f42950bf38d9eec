-- Reminders of rights requests' statutory clocks, through the members' notification channels:
-- one digest per member and day while it has open requests due within 7 days (a reminder) or
-- overdue (an escalation, also emailed to its legal contact), listing them. The daemon's
-- escalate job calls enqueue_rights_reminders(); a second call on the same day queues nothing.
-- One message per member, however many requests it opens, so no member can fill the shared
-- delivery queue ahead of the others. No personal data: the requests' numbers, kinds and
-- dates, never who asked or about whom.
CREATE OR REPLACE FUNCTION outreach.enqueue_rights_reminders(at timestamptz DEFAULT now()) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  today date;
  m record;
  body jsonb;
  key text;
  n int := 0;
  sent int;
BEGIN
  PERFORM outreach.check_service_date(at, 'at');
  today := (at AT TIME ZONE 'Europe/London')::date;
  FOR m IN
    SELECT r.controller_id, c.code, coalesce(pol.legal_contact, c.legal_contact) AS contact,
           count(*) FILTER (WHERE coalesce(r.extended_due_on, r.due_on) < today) AS overdue,
           count(*) FILTER (WHERE coalesce(r.extended_due_on, r.due_on) >= today) AS due_soon,
           jsonb_agg(jsonb_build_object('request_id', r.request_id, 'kind', r.kind, 'received_on', r.received_on,
                                         'due_on', coalesce(r.extended_due_on, r.due_on),
                                         'extended', r.extended_due_on IS NOT NULL,
                                         'days_left', coalesce(r.extended_due_on, r.due_on) - today)
                      ORDER BY coalesce(r.extended_due_on, r.due_on), r.request_id) AS requests
    FROM outreach.rights_request r
    JOIN outreach.controller c ON c.controller_id = r.controller_id
    LEFT JOIN outreach.retention_policy pol ON pol.controller_id = r.controller_id
    WHERE r.status = 'open' AND coalesce(r.extended_due_on, r.due_on) <= today + 7
    GROUP BY r.controller_id, c.code, coalesce(pol.legal_contact, c.legal_contact)
    ORDER BY r.controller_id
  LOOP
    body := jsonb_build_object('type', CASE WHEN m.overdue > 0 THEN 'rights_escalation' ELSE 'rights_reminder' END,
                               'controller', m.code, 'on', today, 'overdue', m.overdue, 'due_within_7_days', m.due_soon,
                               -- at most 100 listed (the soonest due); the counts are complete
                               'requests', (SELECT jsonb_agg(e) FROM (SELECT e FROM jsonb_array_elements(m.requests) e LIMIT 100) x),
                               'see', 'SELECT * FROM outreach.rights_requests_due');
    key := format('outreach-rights-%s-%s', m.controller_id, today);
    IF m.overdue = 0 THEN
      sent := outreach.enqueue_delivery(m.controller_id, 'rights_reminder', key, body,
        format('Rights requests due: %s within 7 days', m.due_soon),
        format(E'%s data subjects'' requests of your organisation must be answered within 7 days.\n'
               'They are listed in outreach.rights_requests_due for your data-protection officer.\n', m.due_soon));
    ELSE
      sent := outreach.enqueue_delivery(m.controller_id, 'rights_escalation', key, body,
        format('Rights requests overdue: %s (and %s due within 7 days)', m.overdue, m.due_soon),
        format(E'%s data subjects'' requests of your organisation are past their statutory due date, and %s more\n'
               'are due within 7 days. UK GDPR Art. 12(3): answer them, extend them (within the first month)\n'
               'or refuse them with a reason. They are listed in outreach.rights_requests_due.\n', m.overdue, m.due_soon))
        + outreach.enqueue_delivery(m.controller_id, 'rights_escalation', key, body,
        format('Rights requests of %s overdue: %s', m.code, m.overdue),
        format(E'%s data subjects'' requests of %s are past their statutory due date.\n', m.overdue, m.code),
        NULL, 'email', m.contact);
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
  'queues one digest a day per member with open rights requests due within 7 days (a reminder) or overdue (an escalation, also to its legal contact); returns how many members got one';
