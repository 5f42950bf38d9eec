-- Notifications to members: deletion notices, escalations of missed deadlines and (linkage)
-- follow-ups to recipients, and the limit on each member's channels.

-- A notice is always a row the member can query (deletion_notice); each configured channel of
-- the member (a webhook, an email address) gets a delivery, which outreachd claims, sends and
-- records. Delivery is at least once: a delivery keeps one idempotency key for all its
-- attempts, so a receiver can drop duplicates.

CREATE TABLE outreach.notification_channel (
  controller_id int NOT NULL REFERENCES outreach.controller,
  channel_id bigint GENERATED ALWAYS AS IDENTITY,
  kind text NOT NULL CHECK (kind IN ('webhook', 'email')),
  -- a URL or an address; outreachd validates it when it delivers, so a malformed one fails that
  -- member's deliveries (recorded, visible to the member) and nobody else's
  target text NOT NULL CHECK (length(target) BETWEEN 1 AND 2000),
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (controller_id, channel_id),
  UNIQUE (controller_id, kind, target)
);
COMMENT ON TABLE outreach.notification_channel IS
  'where a member wants its notices: webhook URLs (signed with the member''s secret) and email addresses';

CREATE TABLE outreach.notice_delivery (
  controller_id int NOT NULL REFERENCES outreach.controller,
  delivery_id bigint GENERATED ALWAYS AS IDENTITY,
  purpose text NOT NULL CONSTRAINT notice_delivery_purpose_check
    CHECK (purpose IN ('deletion_notice', 'escalation', 'recipient_followup', 'rights_reminder', 'rights_escalation',
                       'breach')),
  notice_id bigint,                                  -- the deletion notice, for those
  channel_id bigint,                                 -- NULL: an escalation to the legal contact
  kind text NOT NULL CHECK (kind IN ('webhook', 'email')),
  target text,
  idempotency_key text NOT NULL,
  subject text NOT NULL,
  message text NOT NULL,                             -- plain text, for email
  payload jsonb NOT NULL,                            -- the webhook's JSON body
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  claimed_by text,
  claim_expires_at timestamptz,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  delivered_at timestamptz,
  PRIMARY KEY (controller_id, delivery_id),
  CONSTRAINT notice_delivery_once UNIQUE NULLS NOT DISTINCT (controller_id, idempotency_key, kind, target)
);
CREATE INDEX notice_delivery_due_idx ON outreach.notice_delivery (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notice_delivery_notice_idx ON outreach.notice_delivery (controller_id, notice_id, channel_id)
  WHERE notice_id IS NOT NULL;
COMMENT ON TABLE outreach.notice_delivery IS 'one message to one channel of a member, with its state and retries';

CREATE TABLE outreach.delivery_attempt (
  controller_id int NOT NULL,
  delivery_id bigint NOT NULL,
  attempt int NOT NULL,
  attempted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  daemon text NOT NULL,
  ok boolean NOT NULL,
  detail text,                                       -- e.g. 'HTTP 500', 'timeout after 10 s'
  PRIMARY KEY (controller_id, delivery_id, attempt),
  FOREIGN KEY (controller_id, delivery_id) REFERENCES outreach.notice_delivery ON DELETE CASCADE
);
COMMENT ON TABLE outreach.delivery_attempt IS 'every attempt to deliver a message, successful or not';

SELECT pg_catalog.pg_extension_config_dump('outreach.notification_channel', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.notice_delivery', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.delivery_attempt', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.notification_channel', 'channel_id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.notice_delivery', 'delivery_id')::pg_catalog.regclass, '');

-- Members manage their own channels (DPO level) and read their own deliveries.
ALTER TABLE outreach.notification_channel ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.notification_channel FORCE ROW LEVEL SECURITY;
ALTER TABLE outreach.notice_delivery ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.notice_delivery FORCE ROW LEVEL SECURITY;
ALTER TABLE outreach.delivery_attempt ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.delivery_attempt FORCE ROW LEVEL SECURITY;
CREATE POLICY notification_channel_dpo ON outreach.notification_channel FOR ALL
  USING (outreach.controller_visible(controller_id, 'dpo'))
  WITH CHECK (outreach.controller_visible(controller_id, 'dpo'));
CREATE POLICY notice_delivery_read ON outreach.notice_delivery FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
CREATE POLICY delivery_attempt_read ON outreach.delivery_attempt FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.notification_channel, outreach.notice_delivery, outreach.delivery_attempt FROM PUBLIC;
GRANT SELECT, DELETE ON outreach.notification_channel TO outreach_dpo;
GRANT INSERT (controller_id, kind, target, enabled), UPDATE (target, enabled) ON outreach.notification_channel TO outreach_dpo;
GRANT SELECT ON outreach.notice_delivery, outreach.delivery_attempt TO outreach_dpo;

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
COMMENT ON FUNCTION outreach.enqueue_delivery(int, text, text, jsonb, text, text, bigint, text, text, timestamptz) IS
  'queues a message to every enabled channel of a member (or to one address); idempotent per key and channel';

-- What a deletion notice says. No personal data: counts, dates and how to act.
CREATE OR REPLACE FUNCTION outreach.deletion_notice_payload(n outreach.deletion_notice) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
    'type', 'deletion_notice', 'notice_id', n.notice_id, 'controller', c.code, 'kind', n.kind,
    'cycle_year', n.cycle_year, 'withdrawn_on', n.opened_on,
    'records_marked', n.records_marked, 'confirm_by', n.confirm_by, 'created_at', n.created_at,
    'updated_at', n.updated_at,
    'confirm_with', format('SELECT outreach.confirm_deletion(%s)', n.notice_id))
  FROM outreach.controller c WHERE c.controller_id = n.controller_id
$$;
COMMENT ON FUNCTION outreach.deletion_notice_payload(outreach.deletion_notice) IS 'the JSON a member receives for a deletion notice';

-- A new notice is delivered to the member's channels at once. When more records join a notice
-- whose message is out (or being sent: claimed by a daemon), a revised message follows with its
-- own key, held back a minute so that the batches of one sweep make one revision, not one each;
-- a message not yet claimed is just brought up to date.
CREATE OR REPLACE FUNCTION outreach.deletion_notice_deliver() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  body jsonb := outreach.deletion_notice_payload(NEW);
  revision int;
  subj text := format('Records ready for deletion: %s records, confirm by %s', NEW.records_marked,
                      to_char(NEW.confirm_by AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'));
  msg text := format(CASE NEW.kind
                       WHEN 'withdrawal' THEN E'%s participants of your organisation withdrew on %s and are ready for deletion.\n'
                       ELSE E'%s participant records of your organisation are ready for deletion under the retention policy (cycle %s).\n' END
                     || E'Please review and confirm the deletion by %s:\n  %s\n'
                        'The list is in outreach.retention_status for your data-protection officer.\n',
                     NEW.records_marked, CASE NEW.kind WHEN 'withdrawal' THEN NEW.opened_on::text ELSE NEW.cycle_year::text END,
                     to_char(NEW.confirm_by AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), body ->> 'confirm_with');
BEGIN
  -- A withdrawal notice is opened empty and counted after the statement: its first message
  -- goes out when it has records.
  IF TG_OP = 'INSERT' AND NEW.records_marked = 0 THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' AND NOT EXISTS (SELECT 1 FROM outreach.notice_delivery d
                                      WHERE d.controller_id = NEW.controller_id AND d.notice_id = NEW.notice_id
                                        AND d.purpose = 'deletion_notice') THEN
    IF NEW.records_marked > OLD.records_marked THEN
      PERFORM outreach.enqueue_delivery(NEW.controller_id, 'deletion_notice', format('outreach-notice-%s', NEW.notice_id),
                                        body || jsonb_build_object('revision', 1), subj, msg, NEW.notice_id);
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF NEW.records_marked <= OLD.records_marked THEN
      RETURN NULL;
    END IF;
    UPDATE outreach.notice_delivery d SET payload = body || jsonb_build_object('idempotency_key', d.idempotency_key,
                                                                               'purpose', d.purpose),
           subject = subj, message = msg
    WHERE d.controller_id = NEW.controller_id AND d.notice_id = NEW.notice_id AND d.status = 'pending'
      AND d.attempts = 0 AND (d.claim_expires_at IS NULL OR d.claim_expires_at < clock_timestamp());
    SELECT count(DISTINCT d.idempotency_key) + 1 INTO revision FROM outreach.notice_delivery d
    WHERE d.controller_id = NEW.controller_id AND d.notice_id = NEW.notice_id AND d.purpose = 'deletion_notice';
    IF NOT EXISTS (SELECT 1 FROM outreach.notice_delivery d
                   WHERE d.controller_id = NEW.controller_id AND d.notice_id = NEW.notice_id
                     AND d.status = 'pending' AND d.attempts = 0
                     AND (d.claim_expires_at IS NULL OR d.claim_expires_at < clock_timestamp())) THEN
      PERFORM outreach.enqueue_delivery(NEW.controller_id, 'deletion_notice',
                                        format('outreach-notice-%s-r%s', NEW.notice_id, revision),
                                        body || jsonb_build_object('revision', revision), subj, msg, NEW.notice_id,
                                        not_before => clock_timestamp() + interval '1 minute');
    END IF;
  ELSE
    PERFORM outreach.enqueue_delivery(NEW.controller_id, 'deletion_notice', format('outreach-notice-%s', NEW.notice_id),
                                      body || jsonb_build_object('revision', 1), subj, msg, NEW.notice_id);
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.deletion_notice_deliver() IS 'trigger: queues the deliveries of a new or grown deletion notice';
CREATE OR REPLACE TRIGGER deletion_notice_deliver AFTER INSERT OR UPDATE OF records_marked ON outreach.deletion_notice
  FOR EACH ROW EXECUTE FUNCTION outreach.deletion_notice_deliver();

-- Missed deadlines: escalate_overdue_notices() decides which; each goes by email to the
-- legal contact of the member's policy (else of the member). Returns how many were escalated.
CREATE OR REPLACE FUNCTION outreach.enqueue_escalations(at timestamptz DEFAULT now()) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  e record;
  n int := 0;
BEGIN
  FOR e IN SELECT o.*, c.code, coalesce(o.legal_contact, c.legal_contact) AS contact
           FROM outreach.escalate_overdue_notices(at) o JOIN outreach.controller c USING (controller_id) LOOP
    PERFORM outreach.enqueue_delivery(e.controller_id, 'escalation', format('outreach-escalation-%s', e.notice_id),
      jsonb_build_object('type', 'escalation', 'notice_id', e.notice_id, 'controller', e.code,
                         'confirm_by', e.confirm_by, 'records_waiting', e.records_waiting),
      format('Deletion deadline missed: %s records of %s still waiting', e.records_waiting, e.code),
      format(E'The confirmation deadline %s of deletion notice %s has passed with %s records still waiting.\n'
             'Under the processing agreement the records must be confirmed for deletion or held with a reason.\n',
             to_char(e.confirm_by AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), e.notice_id, e.records_waiting),
      e.notice_id, 'email', e.contact);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.enqueue_escalations(timestamptz) IS
  'escalates overdue deletion notices and queues an email to each member''s legal contact';

-- The daemon's side: claim due deliveries (a claim is a committed lease, so it works through a
-- transaction pooler and a dead daemon's claims run out), then record each attempt.
CREATE OR REPLACE FUNCTION outreach.claim_deliveries(daemon text, max_count int DEFAULT 100, lease_seconds int DEFAULT 60)
RETURNS TABLE (controller_id int, delivery_id bigint, controller_code text, kind text, target text,
               idempotency_key text, attempts int, subject text, message text, payload text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  IF max_count IS NULL OR max_count NOT BETWEEN 1 AND 10000 THEN
    RAISE EXCEPTION 'max_count must be between 1 and 10000' USING ERRCODE = '22023';
  END IF;
  IF lease_seconds IS NULL OR lease_seconds NOT BETWEEN 1 AND 3600 THEN
    RAISE EXCEPTION 'lease_seconds must be between 1 and 3600' USING ERRCODE = '22023';
  END IF;
  RETURN QUERY
  WITH due AS (
    SELECT d.controller_id, d.delivery_id FROM outreach.notice_delivery d
    WHERE d.status = 'pending' AND d.next_attempt_at <= clock_timestamp()
      AND (d.claim_expires_at IS NULL OR d.claim_expires_at < clock_timestamp())
    ORDER BY d.next_attempt_at, d.delivery_id LIMIT max_count FOR UPDATE SKIP LOCKED
  )
  UPDATE outreach.notice_delivery d
  SET claimed_by = daemon, claim_expires_at = clock_timestamp() + make_interval(secs => lease_seconds)
  FROM due JOIN outreach.controller c ON c.controller_id = due.controller_id
  WHERE d.controller_id = due.controller_id AND d.delivery_id = due.delivery_id
  RETURNING d.controller_id, d.delivery_id, c.code, d.kind, d.target, d.idempotency_key, d.attempts, d.subject,
            d.message, d.payload::text;
END
$$;
COMMENT ON FUNCTION outreach.claim_deliveries(text, int, int) IS
  'claims up to max_count due deliveries for a daemon for lease_seconds';

-- Records one attempt. ok: delivered. Not ok: retry after retry_after_seconds, or, when that is
-- NULL, give up (status failed: a permanently failing channel, visible to the member).
CREATE OR REPLACE FUNCTION outreach.record_delivery(controller_id int, delivery_id bigint, daemon text, ok boolean,
                                         detail text DEFAULT NULL, retry_after_seconds double precision DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  n int;
  result text;
BEGIN
  UPDATE outreach.notice_delivery d
  SET attempts = d.attempts + 1,
      status = CASE WHEN d.status = 'delivered' OR ok THEN 'delivered'
                    WHEN retry_after_seconds IS NULL THEN 'failed' ELSE 'pending' END,
      delivered_at = CASE WHEN d.status = 'delivered' THEN d.delivered_at WHEN ok THEN clock_timestamp() END,
      next_attempt_at = CASE WHEN NOT ok AND retry_after_seconds IS NOT NULL
                             THEN clock_timestamp() + make_interval(secs => greatest(retry_after_seconds, 0))
                             ELSE d.next_attempt_at END,
      last_error = CASE WHEN ok THEN d.last_error ELSE left(detail, 2000) END,
      claimed_by = NULL, claim_expires_at = NULL
  WHERE d.controller_id = record_delivery.controller_id AND d.delivery_id = record_delivery.delivery_id
  RETURNING d.attempts, d.status INTO n, result;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'delivery % of controller % not found', delivery_id, controller_id USING ERRCODE = '42704';
  END IF;
  INSERT INTO outreach.delivery_attempt (controller_id, delivery_id, attempt, daemon, ok, detail)
  VALUES (record_delivery.controller_id, record_delivery.delivery_id, n, daemon, ok, left(detail, 2000));
  RETURN result;
END
$$;
COMMENT ON FUNCTION outreach.record_delivery(int, bigint, text, boolean, text, double precision) IS
  'records a delivery attempt: delivered, retry later, or failed for good; returns the new status';

-- Counts for the daemon's /metrics.
CREATE OR REPLACE FUNCTION outreach.delivery_counts() RETURNS TABLE (purpose text, status text, deliveries bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT d.purpose, d.status, count(*) FROM outreach.notice_delivery d GROUP BY 1, 2 ORDER BY 1, 2
$$;
COMMENT ON FUNCTION outreach.delivery_counts() IS 'deliveries per purpose and status, for monitoring';

REVOKE EXECUTE ON FUNCTION outreach.enqueue_delivery(int, text, text, jsonb, text, text, bigint, text, text, timestamptz),
  outreach.deletion_notice_payload(outreach.deletion_notice), outreach.deletion_notice_deliver(),
  outreach.enqueue_escalations(timestamptz), outreach.claim_deliveries(text, int, int),
  outreach.record_delivery(int, bigint, text, boolean, text, double precision), outreach.delivery_counts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.enqueue_escalations(timestamptz), outreach.claim_deliveries(text, int, int),
  outreach.record_delivery(int, bigint, text, boolean, text, double precision), outreach.delivery_counts()
  TO outreach_daemon;
GRANT EXECUTE ON FUNCTION outreach.delivery_counts() TO outreach_processor;

-- Seconds until the next pending delivery is due (0 if one is due now, NULL if none), so the
-- daemon can sleep on its steady clock until then.
CREATE OR REPLACE FUNCTION outreach.next_delivery_in() RETURNS double precision
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  -- (The CASE matters: greatest() ignores a NULL argument, so greatest(0, NULL) is 0, "due now",
  -- and an idle daemon would run its notify job again every 50 ms.)
  SELECT CASE WHEN s.due_at IS NOT NULL
              THEN greatest(0, extract(epoch FROM s.due_at - clock_timestamp()))::double precision END
  FROM (SELECT min(greatest(d.next_attempt_at, coalesce(d.claim_expires_at, d.next_attempt_at))) AS due_at
        FROM outreach.notice_delivery d WHERE d.status = 'pending') AS s
$$;
COMMENT ON FUNCTION outreach.next_delivery_in() IS 'seconds until the next pending delivery is due; NULL when none is pending';
REVOKE EXECUTE ON FUNCTION outreach.next_delivery_in() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.next_delivery_in() TO outreach_daemon;
-- A member has at most 10 notification channels: each one is a delivery the daemon makes for
-- every notice, so an unbounded number would let one member slow every member's notices.
-- The count takes no lock: a lock on a row every member's statements touch (the controller's,
-- which foreign-key checks share) would let a DPO holding a transaction open stall the daemon.
-- Concurrent inserts of one member can pass the count together, so the bound is 10 plus that
-- member's own concurrent transactions: limited, and only that member's.
CREATE OR REPLACE FUNCTION outreach.notification_channel_limit() RETURNS trigger
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
CREATE OR REPLACE TRIGGER notification_channel_limit BEFORE INSERT ON outreach.notification_channel
  FOR EACH ROW EXECUTE FUNCTION outreach.notification_channel_limit();
