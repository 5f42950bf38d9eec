\echo Use "ALTER EXTENSION outreach UPDATE TO '0.4.0'" to load this file. \quit

-- 0.4.0: the daemon's contract (job leases, job history, notification channels and deliveries)
-- and linkage (recipients and layouts as data, exports, the ledger, outcome imports).
-- What outreachd needs to run jobs safely with several daemons: a lease per job (exactly one
-- daemon acts on a job at a time; another takes over when a lease runs out) and a job history.
-- Leases are rows, not session-level advisory locks, so they work through a transaction-pooling
-- pooler: every call is one short transaction and nothing depends on session affinity.

CREATE TABLE outreach.daemon_lease (
  job text PRIMARY KEY CHECK (job ~ '^[a-z][a-z0-9_:.-]{0,99}$'),
  holder text NOT NULL CHECK (length(holder) BETWEEN 1 AND 200),
  acquired_at timestamptz NOT NULL,
  renewed_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
COMMENT ON TABLE outreach.daemon_lease IS 'which daemon acts on which job, until when (renewed with every batch)';

-- Takes or renews the lease on a job for ttl_seconds. The row stays locked until the caller's
-- transaction ends, so a daemon that renews the lease in the same transaction as a batch fences
-- out a second daemon for that batch: the other waits for the commit and then sees the renewal.
CREATE FUNCTION outreach.daemon_hold(job text, holder text, ttl_seconds int) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  held text;
BEGIN
  IF ttl_seconds IS NULL OR ttl_seconds < 1 OR ttl_seconds > 86400 THEN
    RAISE EXCEPTION 'ttl_seconds must be between 1 and 86400' USING ERRCODE = '22023';
  END IF;
  IF job IS NULL OR job !~ '^[a-z][a-z0-9_:.-]{0,99}$' THEN
    RAISE EXCEPTION 'job must be a lower-case name (letters, digits, _ : . -)' USING ERRCODE = '22023';
  END IF;
  IF holder IS NULL OR length(holder) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'holder must be 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.daemon_lease AS l (job, holder, acquired_at, renewed_at, expires_at)
  VALUES (daemon_hold.job, daemon_hold.holder, clock_timestamp(), clock_timestamp(),
          clock_timestamp() + make_interval(secs => ttl_seconds))
  ON CONFLICT ON CONSTRAINT daemon_lease_pkey DO UPDATE
    SET holder = EXCLUDED.holder,
        acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE EXCLUDED.acquired_at END,
        renewed_at = EXCLUDED.renewed_at, expires_at = EXCLUDED.expires_at
    WHERE l.holder = EXCLUDED.holder OR l.expires_at < clock_timestamp()
  RETURNING l.holder INTO held;
  RETURN held IS NOT NULL;
END
$$;
COMMENT ON FUNCTION outreach.daemon_hold(text, text, int) IS
  'takes or renews a daemon''s lease on a job; false while another daemon holds it';

CREATE FUNCTION outreach.daemon_release(job text, holder text) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  WITH gone AS (
    DELETE FROM outreach.daemon_lease l WHERE l.job = daemon_release.job AND l.holder = daemon_release.holder
    RETURNING 1)
  SELECT count(*) > 0 FROM gone
$$;
COMMENT ON FUNCTION outreach.daemon_release(text, text) IS 'gives a job''s lease up (at shutdown), so another daemon need not wait for it to run out';

-- Job history: one row per run of a job by a daemon; what the daemon's /metrics and a DBA read.
CREATE TABLE outreach.job_run (
  run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job text NOT NULL,
  holder text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
  rows_done bigint NOT NULL DEFAULT 0,
  detail text
);
CREATE INDEX job_run_job_idx ON outreach.job_run (job, started_at DESC);
COMMENT ON TABLE outreach.job_run IS 'history of the daemon''s job runs: who ran what, when, with what result';
SELECT pg_catalog.pg_extension_config_dump('outreach.job_run', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.job_run', 'run_id')::pg_catalog.regclass, '');

-- Opens a run. Runs of the same job left 'running' by a daemon whose lease has run out (it
-- died) are closed as 'interrupted', so the history never shows two live runs of a job.
CREATE FUNCTION outreach.job_run_start(job text, holder text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  run bigint;
BEGIN
  UPDATE outreach.job_run r SET status = 'interrupted', finished_at = clock_timestamp(),
         detail = coalesce(r.detail || '; ', '') || 'daemon ' || r.holder || ' stopped before finishing'
  WHERE r.job = job_run_start.job AND r.status = 'running'
    AND NOT EXISTS (SELECT 1 FROM outreach.daemon_lease l
                    WHERE l.job = r.job AND l.holder = r.holder AND l.expires_at >= clock_timestamp()
                      AND l.holder <> job_run_start.holder);
  INSERT INTO outreach.job_run (job, holder) VALUES (job_run_start.job, job_run_start.holder)
  RETURNING run_id INTO run;
  RETURN run;
END
$$;
COMMENT ON FUNCTION outreach.job_run_start(text, text) IS 'opens a job run in the history (closing runs of dead daemons as interrupted)';

CREATE FUNCTION outreach.job_run_progress(run_id bigint, rows_done bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE outreach.job_run r SET rows_done = r.rows_done + job_run_progress.rows_done
  WHERE r.run_id = job_run_progress.run_id
$$;
COMMENT ON FUNCTION outreach.job_run_progress(bigint, bigint) IS 'adds to the rows a job run has done';

CREATE FUNCTION outreach.job_run_finish(run_id bigint, status text, detail text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF status IS NULL OR status NOT IN ('succeeded', 'failed', 'interrupted') THEN
    RAISE EXCEPTION 'status must be succeeded, failed or interrupted' USING ERRCODE = '22023';
  END IF;
  UPDATE outreach.job_run r SET status = job_run_finish.status, finished_at = clock_timestamp(),
         detail = left(job_run_finish.detail, 2000)
  WHERE r.run_id = job_run_finish.run_id AND r.status = 'running';
END
$$;
COMMENT ON FUNCTION outreach.job_run_finish(bigint, text, text) IS 'closes a job run with its result';

-- Last run and last success per job, for monitoring.
CREATE VIEW outreach.job_status AS
SELECT j.job,
       (SELECT max(r.started_at) FROM outreach.job_run r WHERE r.job = j.job) AS last_started_at,
       (SELECT max(r.finished_at) FROM outreach.job_run r WHERE r.job = j.job AND r.status = 'succeeded') AS last_success_at,
       (SELECT count(*) FROM outreach.job_run r WHERE r.job = j.job AND r.status = 'failed') AS failures,
       l.holder AS lease_holder, l.expires_at AS lease_expires_at
FROM (SELECT DISTINCT r.job FROM outreach.job_run r UNION SELECT l.job FROM outreach.daemon_lease l) j
LEFT JOIN outreach.daemon_lease l ON l.job = j.job;
COMMENT ON VIEW outreach.job_status IS 'per job: last run, last success, failures and the lease holder';

REVOKE ALL ON outreach.daemon_lease, outreach.job_run, outreach.job_status FROM PUBLIC;
GRANT SELECT ON outreach.daemon_lease, outreach.job_run, outreach.job_status TO outreach_daemon, outreach_processor;
REVOKE EXECUTE ON FUNCTION outreach.daemon_hold(text, text, int), outreach.daemon_release(text, text),
  outreach.job_run_start(text, text), outreach.job_run_progress(bigint, bigint),
  outreach.job_run_finish(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.daemon_hold(text, text, int), outreach.daemon_release(text, text),
  outreach.job_run_start(text, text), outreach.job_run_progress(bigint, bigint),
  outreach.job_run_finish(bigint, text, text) TO outreach_daemon;

-- A retention run left 'running' by a daemon that was killed is closed when the lease holder
-- starts the next run of that kind (only the lease holder runs them, so none is live).
CREATE FUNCTION outreach.close_interrupted_retention_runs(kind text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  UPDATE outreach.retention_run r SET status = 'failed', finished_at = clock_timestamp(),
         error = 'interrupted: the daemon running it stopped'
  WHERE r.kind = close_interrupted_retention_runs.kind AND r.status = 'running';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.close_interrupted_retention_runs(text) IS
  'closes sweep or deletion runs a stopped daemon left running';
REVOKE EXECUTE ON FUNCTION outreach.close_interrupted_retention_runs(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.close_interrupted_retention_runs(text) TO outreach_daemon;
GRANT SELECT ON outreach.retention_run TO outreach_daemon;

-- How many confirmed records wait for deletion (the delete job skips a run when none do).
CREATE FUNCTION outreach.deletions_pending() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT count(*) FROM outreach.participant p WHERE p.retention_status = 'deletion_confirmed' $$;
COMMENT ON FUNCTION outreach.deletions_pending() IS 'how many participants are confirmed for deletion and not yet deleted';
REVOKE EXECUTE ON FUNCTION outreach.deletions_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.deletions_pending() TO outreach_daemon;

-- 0.3.0's retention_run_finish() read "error" in its CASE as the table's column (NULL while a
-- run is running), not as its parameter: a run finished with an error (a sweep stopped by
-- SIGTERM, a deletion run that failed) was recorded as 'finished'. Qualified here.
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
-- Notifications to members: deletion notices, escalations of missed deadlines and (linkage)
-- follow-ups to recipients. A notice is always a row the member can query (deletion_notice);
-- each configured channel of the member (a webhook, an email address) gets a delivery, which
-- outreachd claims, sends and records. Delivery is at least once: a delivery keeps one
-- idempotency key for all its attempts, so a receiver can drop duplicates.

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
  purpose text NOT NULL CHECK (purpose IN ('deletion_notice', 'escalation', 'recipient_followup')),
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

-- Queues a message for every enabled channel of a member (or, with to_kind/to_target, for one
-- given address). Idempotent: the same key to the same channel is queued once. Returns how many
-- deliveries were created. Called by the extension's own functions and triggers only.
CREATE FUNCTION outreach.enqueue_delivery(controller_id int, purpose text, idempotency_key text, payload jsonb,
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
    PERFORM pg_notify('outreach_delivery', json_build_object('event', 'queued', 'purpose', purpose, 'count', n)::text);
  END IF;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.enqueue_delivery(int, text, text, jsonb, text, text, bigint, text, text, timestamptz) IS
  'queues a message to every enabled channel of a member (or to one address); idempotent per key and channel';

-- What a deletion notice says. No personal data: counts, dates and how to act.
CREATE FUNCTION outreach.deletion_notice_payload(n outreach.deletion_notice) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object(
    'type', 'deletion_notice', 'notice_id', n.notice_id, 'controller', c.code, 'cycle_year', n.cycle_year,
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
CREATE FUNCTION outreach.deletion_notice_deliver() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  body jsonb := outreach.deletion_notice_payload(NEW);
  revision int;
  subj text := format('Records ready for deletion: %s records, confirm by %s', NEW.records_marked,
                      to_char(NEW.confirm_by AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'));
  msg text := format(E'%s participant records of your organisation are ready for deletion under the retention policy (cycle %s).\n'
                     'Please review and confirm the deletion by %s:\n  %s\n'
                     'The list is in outreach.retention_status for your data-protection officer.\n',
                     NEW.records_marked, NEW.cycle_year,
                     to_char(NEW.confirm_by AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), body ->> 'confirm_with');
BEGIN
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
CREATE TRIGGER deletion_notice_deliver AFTER INSERT OR UPDATE OF records_marked ON outreach.deletion_notice
  FOR EACH ROW EXECUTE FUNCTION outreach.deletion_notice_deliver();

-- Missed deadlines: escalate_overdue_notices() decides which; each goes by email to the
-- legal contact of the member's policy (else of the member). Returns how many were escalated.
CREATE FUNCTION outreach.enqueue_escalations(at timestamptz DEFAULT now()) RETURNS int
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
CREATE FUNCTION outreach.claim_deliveries(daemon text, max_count int DEFAULT 100, lease_seconds int DEFAULT 60)
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
CREATE FUNCTION outreach.record_delivery(controller_id int, delivery_id bigint, daemon text, ok boolean,
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
CREATE FUNCTION outreach.delivery_counts() RETURNS TABLE (purpose text, status text, deliveries bigint)
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
CREATE FUNCTION outreach.next_delivery_in() RETURNS double precision
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
-- RFC 4180 CSV for linkage files: the exports to DfE, ESFA, HESA and UCAS and the outcome files
-- they return (extension/src/core/csv.hpp has the rules). Pure utilities: EXECUTE stays with
-- PUBLIC.

CREATE FUNCTION outreach.csv_record(fields text[]) RETURNS text
  AS 'MODULE_PATHNAME', 'csv_record' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.csv_record(text[]) IS
  'one RFC 4180 CSV record (no line terminator) of a one-dimensional array: a field is quoted only '
  'when it contains a comma, double quote, CR or LF, begins or ends with a space or begins with '
  'U+FEFF; quotes are doubled; NULL and empty elements are written empty (a record of one empty '
  'field as "")';

CREATE FUNCTION outreach.csv_records(content bytea)
  RETURNS TABLE (line_no integer, fields text[], error text, terminated boolean)
  AS 'MODULE_PATHNAME', 'csv_records' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION outreach.csv_records(bytea) IS
  'the records of an RFC 4180 CSV file (UTF-8, LF or CRLF, optional byte order mark), one row per '
  'record with the physical line it starts on; a bad record has fields NULL and error set and '
  'reading resumes at the next line; terminated is false for a last line without a line '
  'terminator (a possible truncation); empty fields are empty strings, never NULL';
-- Linkage recipients and their file layouts, as data. A recipient (DfE, ESFA, JISC/HESA,
-- UCAS, or any other) is a row; its export file and the outcome file it sends back are layouts:
-- numbered versions of an ordered list of columns, each with a header and the field it holds,
-- plus the date format, how coded values (sex, outcome) are written and how an unknown
-- postcode is written. Adding a recipient or changing a layout is an INSERT (through
-- define_recipient and define_layout), never a rebuild; a new field *kind* is code.
--
-- Dump and restore: the extension's script ships definitions; pg_dump copies only what the
-- service added. A shipped recipient is never changed in place: define_recipient() writes the
-- service's own row of the same name beside it (shipped = false), which takes precedence in the
-- view outreach.recipient. Layout versions 1-100 are reserved for the extension's script, the
-- service's own start at 101, so neither ever collides with the other in a restore.

CREATE TABLE outreach.recipient_definition (
  name text COLLATE "C" NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{1,39}$'),
  shipped boolean NOT NULL DEFAULT false,          -- part of the extension's script (not dumped)
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  enabled boolean NOT NULL DEFAULT true,
  export_layout int,                               -- current export layout version (NULL: none yet)
  outcome_layout int,                              -- current outcome layout version (NULL: none yet)
  -- which cohorts (Expected HE Entry Year, or the adult override) are in scope, relative to the
  -- academic year of the export's as_of date: entry year between that year + cohort_from and
  -- that year + cohort_to
  cohort_from int NOT NULL CHECK (cohort_from BETWEEN -30 AND 30),
  cohort_to int NOT NULL CHECK (cohort_to BETWEEN -30 AND 30),
  -- file name of an export: {recipient}, {year} (of as_of), {academic_year}, {date} (YYYYMMDD
  -- of as_of) and {export_id} (6 digits or more; required, so that names never collide)
  file_pattern text NOT NULL DEFAULT '{recipient}_outreach_{year}_{export_id}.csv'
    CHECK (file_pattern ~ '^[A-Za-z0-9_.{}-]{1,200}$' AND strpos(file_pattern, '{export_id}') > 0
           AND file_pattern !~ '^[.]'),
  pgp_public_key text CHECK (pgp_public_key IS NULL OR pgp_public_key ~ '^-----BEGIN PGP PUBLIC KEY BLOCK-----'),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, shipped),
  CHECK (cohort_from <= cohort_to)
);
COMMENT ON TABLE outreach.recipient_definition IS
  'linkage recipients: shipped definitions and the service''s own (which take precedence); read outreach.recipient';

-- What the service uses: the service's own row of a name if there is one, else the shipped one.
CREATE VIEW outreach.recipient AS
SELECT DISTINCT ON (d.name)
       d.name, d.title, d.enabled, d.export_layout, d.outcome_layout, d.cohort_from, d.cohort_to,
       d.file_pattern, d.pgp_public_key, d.shipped, d.updated_at
FROM outreach.recipient_definition d
ORDER BY d.name, d.shipped;
COMMENT ON VIEW outreach.recipient IS
  'the linkage recipients in force: name, title, enabled, current layouts, cohort window, file pattern, OpenPGP key';

CREATE TABLE outreach.recipient_layout (
  recipient text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL CHECK (kind IN ('export', 'outcome')),
  version int NOT NULL CHECK (version BETWEEN 1 AND 1000000),
  date_format text NOT NULL DEFAULT 'YYYY-MM-DD'
    CHECK (date_format IN ('YYYY-MM-DD', 'DD/MM/YYYY', 'YYYYMMDD', 'DD-MM-YYYY')),
  -- coded values per field, e.g. {"sex": {"female": "F", "male": "M", "*": "U"}} for an export
  -- ("*": anything else; keys are matched in lower case, trimmed) or {"outcome": {"ks4": "ks4"}}
  -- for an outcome file (recipient's code -> outcome kind)
  value_codes jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(value_codes) = 'object'),
  unknown_postcode text CHECK (length(unknown_postcode) <= 20),  -- written for a missing postcode
  outcome_kind text COLLATE "C" CHECK (outcome_kind IN ('ks4', 'ks5', 'he_application', 'he_entry', 'continuation')),
  note text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (recipient, kind, version),
  CHECK (kind = 'outcome' OR outcome_kind IS NULL)
);
COMMENT ON TABLE outreach.recipient_layout IS
  'versions of each recipient''s export and outcome file layouts (1-100 shipped, from 101 the service''s own)';
COMMENT ON COLUMN outreach.recipient_layout.outcome_kind IS
  'outcome layouts without an outcome column: the kind of outcome every row is';

CREATE TABLE outreach.recipient_layout_column (
  recipient text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL,
  version int NOT NULL,
  position int NOT NULL CHECK (position BETWEEN 1 AND 100),
  header text NOT NULL CHECK (length(header) BETWEEN 1 AND 100 AND header !~ '[\r\n]'),
  field text COLLATE "C" NOT NULL,
  required boolean NOT NULL DEFAULT false,
  PRIMARY KEY (recipient, kind, version, position),
  UNIQUE (recipient, kind, version, header),
  FOREIGN KEY (recipient, kind, version) REFERENCES outreach.recipient_layout ON DELETE CASCADE,
  CHECK ((kind = 'export' AND field IN ('reference', 'forename', 'surname', 'date_of_birth', 'postcode', 'sex',
                                        'school_urn', 'school_ukprn', 'upn', 'uln', 'entry_year', 'extend_link_by',
                                        'member', 'blank'))
      OR (kind = 'outcome' AND field IN ('reference', 'outcome', 'academic_year', 'measure', 'value',
                                         'provider_ukprn', 'provider_name', 'ignore')))
);
COMMENT ON TABLE outreach.recipient_layout_column IS
  'the columns of a layout in order: header, the field it holds, and whether a participant without it is left out';

SELECT pg_catalog.pg_extension_config_dump('outreach.recipient_definition', 'WHERE NOT shipped');
SELECT pg_catalog.pg_extension_config_dump('outreach.recipient_layout', 'WHERE version > 100');
SELECT pg_catalog.pg_extension_config_dump('outreach.recipient_layout_column', 'WHERE version > 100');

-- Checks a layout's columns (jsonb array of {"header", "field", "required"}) for its kind.
-- Raises 22023 with the reason; used by define_layout and by the shipped definitions below.
CREATE FUNCTION outreach.check_layout_columns(kind text, columns jsonb, outcome_kind text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  c jsonb;
  fields text[] := '{}';
  headers text[] := '{}';
  allowed text[] := CASE kind
    WHEN 'export' THEN ARRAY['reference', 'forename', 'surname', 'date_of_birth', 'postcode', 'sex', 'school_urn',
                             'school_ukprn', 'upn', 'uln', 'entry_year', 'extend_link_by', 'member', 'blank']
    WHEN 'outcome' THEN ARRAY['reference', 'outcome', 'academic_year', 'measure', 'value', 'provider_ukprn',
                              'provider_name', 'ignore'] END;
  f text;
BEGIN
  IF allowed IS NULL THEN
    RAISE EXCEPTION 'layout kind must be export or outcome, not "%"', kind USING ERRCODE = '22023';
  END IF;
  IF columns IS NULL OR jsonb_typeof(columns) <> 'array' OR jsonb_array_length(columns) = 0 THEN
    RAISE EXCEPTION 'a layout needs a non-empty JSON array of columns' USING ERRCODE = '22023',
      HINT = 'e.g. [{"header": "Reference", "field": "reference", "required": true}, ...]';
  END IF;
  IF jsonb_array_length(columns) > 100 THEN
    RAISE EXCEPTION 'a layout has at most 100 columns' USING ERRCODE = '22023';
  END IF;
  FOR c IN SELECT * FROM jsonb_array_elements(columns) LOOP
    IF jsonb_typeof(c) <> 'object' OR jsonb_typeof(c -> 'header') <> 'string' OR jsonb_typeof(c -> 'field') <> 'string'
       OR (c ? 'required' AND jsonb_typeof(c -> 'required') <> 'boolean')
       OR EXISTS (SELECT 1 FROM jsonb_object_keys(c) k WHERE k NOT IN ('header', 'field', 'required')) THEN
      RAISE EXCEPTION 'layout column % is not {"header": text, "field": text, "required": boolean}', c
        USING ERRCODE = '22023';
    END IF;
    f := c ->> 'field';
    IF NOT f = ANY (allowed) THEN
      RAISE EXCEPTION 'unknown % field "%"', kind, f USING ERRCODE = '22023',
        HINT = 'Fields: ' || array_to_string(allowed, ', ') || '.';
    END IF;
    IF length(c ->> 'header') NOT BETWEEN 1 AND 100 OR (c ->> 'header') ~ '[\r\n]' THEN
      RAISE EXCEPTION 'header "%" must be 1 to 100 characters on one line', c ->> 'header' USING ERRCODE = '22023';
    END IF;
    IF lower(c ->> 'header') = ANY (headers) THEN
      RAISE EXCEPTION 'header "%" appears twice', c ->> 'header' USING ERRCODE = '22023';
    END IF;
    IF f = ANY (fields) AND f NOT IN ('blank', 'ignore') THEN
      RAISE EXCEPTION 'field "%" appears twice', f USING ERRCODE = '22023';
    END IF;
    headers := headers || lower(c ->> 'header');
    fields := fields || f;
  END LOOP;
  IF NOT 'reference' = ANY (fields) THEN
    RAISE EXCEPTION 'a layout needs a reference column' USING ERRCODE = '22023',
      HINT = 'The per-recipient pseudonymous reference is how returned rows are matched back.';
  END IF;
  IF kind = 'outcome' THEN
    IF NOT 'academic_year' = ANY (fields) THEN
      RAISE EXCEPTION 'an outcome layout needs an academic_year column' USING ERRCODE = '22023';
    END IF;
    IF NOT 'outcome' = ANY (fields) AND outcome_kind IS NULL THEN
      RAISE EXCEPTION 'an outcome layout needs an outcome column or a fixed outcome_kind' USING ERRCODE = '22023';
    END IF;
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.check_layout_columns(text, jsonb, text) IS
  'raises 22023 unless the columns are a valid layout of the kind (fields known, headers unique, a reference column)';

-- Creates or changes a recipient (the service's DBA). Only the values given change; '' clears
-- the OpenPGP key. A shipped recipient is changed by writing the service's own row beside it.
CREATE FUNCTION outreach.define_recipient(name text, title text DEFAULT NULL, enabled boolean DEFAULT NULL,
                                          cohort_from int DEFAULT NULL, cohort_to int DEFAULT NULL,
                                          file_pattern text DEFAULT NULL, pgp_public_key text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur outreach.recipient_definition;
BEGIN
  IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{1,39}$' THEN
    RAISE EXCEPTION 'invalid recipient name "%"', name USING ERRCODE = '22023',
      HINT = 'Use 2 to 40 characters: a lower-case letter, then letters, digits or underscores.';
  END IF;
  IF file_pattern IS NOT NULL AND (file_pattern !~ '^[A-Za-z0-9_.{}-]{1,200}$' OR strpos(file_pattern, '{export_id}') = 0
                                   OR file_pattern ~ '^[.]') THEN
    RAISE EXCEPTION 'invalid file pattern "%"', file_pattern USING ERRCODE = '22023',
      HINT = 'Letters, digits, _ . - and the tokens {recipient} {year} {academic_year} {date} {export_id}; {export_id} is required.';
  END IF;
  IF pgp_public_key IS NOT NULL AND pgp_public_key <> '' AND pgp_public_key !~ '^-----BEGIN PGP PUBLIC KEY BLOCK-----' THEN
    RAISE EXCEPTION 'pgp_public_key must be an ASCII-armoured OpenPGP public key' USING ERRCODE = '22023';
  END IF;
  SELECT d.* INTO cur FROM outreach.recipient_definition d
  WHERE d.name = define_recipient.name ORDER BY d.shipped LIMIT 1;
  IF NOT FOUND AND (title IS NULL OR cohort_from IS NULL OR cohort_to IS NULL) THEN
    RAISE EXCEPTION 'a new recipient needs a title, cohort_from and cohort_to' USING ERRCODE = '22023';
  END IF;
  IF coalesce(cohort_from, cur.cohort_from) > coalesce(cohort_to, cur.cohort_to)
     OR coalesce(cohort_from, cur.cohort_from) NOT BETWEEN -30 AND 30 OR coalesce(cohort_to, cur.cohort_to) NOT BETWEEN -30 AND 30 THEN
    RAISE EXCEPTION 'the cohort window must satisfy -30 <= cohort_from <= cohort_to <= 30' USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.recipient_definition AS d (name, shipped, title, enabled, export_layout, outcome_layout,
                                                  cohort_from, cohort_to, file_pattern, pgp_public_key)
  VALUES (define_recipient.name, false, coalesce(define_recipient.title, cur.title),
          coalesce(define_recipient.enabled, cur.enabled, true), cur.export_layout, cur.outcome_layout,
          coalesce(define_recipient.cohort_from, cur.cohort_from), coalesce(define_recipient.cohort_to, cur.cohort_to),
          coalesce(define_recipient.file_pattern, cur.file_pattern, '{recipient}_outreach_{year}_{export_id}.csv'),
          CASE WHEN define_recipient.pgp_public_key = '' THEN NULL
               ELSE coalesce(define_recipient.pgp_public_key, cur.pgp_public_key) END)
  ON CONFLICT ON CONSTRAINT recipient_definition_pkey DO UPDATE
    SET title = EXCLUDED.title, enabled = EXCLUDED.enabled, cohort_from = EXCLUDED.cohort_from,
        cohort_to = EXCLUDED.cohort_to, file_pattern = EXCLUDED.file_pattern,
        pgp_public_key = EXCLUDED.pgp_public_key, updated_at = now();
END
$$;
COMMENT ON FUNCTION outreach.define_recipient(text, text, boolean, int, int, text, text) IS
  'creates or changes a linkage recipient (only the values given; '''' clears the OpenPGP key)';

-- Adds a layout version for a recipient and (by default) makes it the current one. Layouts are
-- never changed in place: an export records the version it used.
CREATE FUNCTION outreach.define_layout(recipient text, kind text, columns jsonb,
                                       date_format text DEFAULT 'YYYY-MM-DD', value_codes jsonb DEFAULT '{}',
                                       unknown_postcode text DEFAULT NULL, outcome_kind text DEFAULT NULL,
                                       note text DEFAULT NULL, activate boolean DEFAULT true)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v int;
  codes jsonb;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM outreach.recipient_definition d WHERE d.name = define_layout.recipient) THEN
    RAISE EXCEPTION 'unknown recipient "%"', recipient USING ERRCODE = '42704';
  END IF;
  PERFORM outreach.check_layout_columns(kind, columns, outcome_kind);
  IF date_format IS NULL OR date_format NOT IN ('YYYY-MM-DD', 'DD/MM/YYYY', 'YYYYMMDD', 'DD-MM-YYYY') THEN
    RAISE EXCEPTION 'date_format must be one of YYYY-MM-DD, DD/MM/YYYY, YYYYMMDD, DD-MM-YYYY' USING ERRCODE = '22023';
  END IF;
  IF value_codes IS NULL OR jsonb_typeof(value_codes) <> 'object'
     OR EXISTS (SELECT 1 FROM jsonb_each(value_codes) e
                WHERE e.key NOT IN ('sex', 'outcome') OR jsonb_typeof(e.value) <> 'object'
                   OR EXISTS (SELECT 1 FROM jsonb_each(e.value) c WHERE jsonb_typeof(c.value) <> 'string')) THEN
    RAISE EXCEPTION 'value_codes must be {"sex": {code: text, ...}} or {"outcome": {code: kind, ...}}' USING ERRCODE = '22023';
  END IF;
  IF value_codes ? 'outcome' AND EXISTS (
       SELECT 1 FROM jsonb_each_text(value_codes -> 'outcome') c
       WHERE c.value NOT IN ('ks4', 'ks5', 'he_application', 'he_entry', 'continuation')) THEN
    RAISE EXCEPTION 'outcome codes must map to ks4, ks5, he_application, he_entry or continuation' USING ERRCODE = '22023';
  END IF;
  -- Codes are matched trimmed and in lower case: store the keys that way.
  SELECT coalesce(jsonb_object_agg(f.key, (SELECT coalesce(jsonb_object_agg(lower(btrim(c.key)), c.value), '{}')
                                            FROM jsonb_each(f.value) c)), '{}')
    INTO codes FROM jsonb_each(value_codes) f;
  IF outcome_kind IS NOT NULL AND (kind <> 'outcome' OR outcome_kind NOT IN ('ks4', 'ks5', 'he_application', 'he_entry', 'continuation')) THEN
    RAISE EXCEPTION 'outcome_kind applies to outcome layouts and is one of ks4, ks5, he_application, he_entry, continuation'
      USING ERRCODE = '22023';
  END IF;
  -- Serialise definitions of the same recipient, then take the next free version (from 101).
  PERFORM 1 FROM outreach.recipient_definition d WHERE d.name = define_layout.recipient FOR UPDATE;
  SELECT greatest(coalesce(max(l.version), 0), 100) + 1 INTO v
  FROM outreach.recipient_layout l WHERE l.recipient = define_layout.recipient AND l.kind = define_layout.kind;
  INSERT INTO outreach.recipient_layout (recipient, kind, version, date_format, value_codes, unknown_postcode, outcome_kind, note)
  VALUES (define_layout.recipient, define_layout.kind, v, date_format, codes, nullif(btrim(unknown_postcode), ''),
          outcome_kind, note);
  INSERT INTO outreach.recipient_layout_column (recipient, kind, version, position, header, field, required)
  SELECT define_layout.recipient, define_layout.kind, v, c.ord, btrim(c.col ->> 'header'), c.col ->> 'field',
         coalesce((c.col ->> 'required')::boolean, c.col ->> 'field' = 'reference')
  FROM jsonb_array_elements(columns) WITH ORDINALITY AS c(col, ord);
  IF activate THEN
    PERFORM outreach.define_recipient(define_layout.recipient);  -- the service's own row, if not yet there
    UPDATE outreach.recipient_definition d
    SET export_layout = CASE WHEN define_layout.kind = 'export' THEN v ELSE d.export_layout END,
        outcome_layout = CASE WHEN define_layout.kind = 'outcome' THEN v ELSE d.outcome_layout END,
        updated_at = now()
    WHERE d.name = define_layout.recipient AND NOT d.shipped;
  END IF;
  RETURN v;
END
$$;
COMMENT ON FUNCTION outreach.define_layout(text, text, jsonb, text, jsonb, text, text, text, boolean) IS
  'adds a version of a recipient''s export or outcome layout (and makes it current unless activate is false); returns the version';

-- A layout that an export or import has used must stay as it was: rows are never changed.
CREATE FUNCTION outreach.layout_immutable() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'layouts are not changed in place' USING ERRCODE = '55000',
    HINT = 'Add a new version with outreach.define_layout().';
END
$$;
COMMENT ON FUNCTION outreach.layout_immutable() IS 'trigger: refuses updates of layouts (add a version instead)';
CREATE TRIGGER layout_immutable BEFORE UPDATE ON outreach.recipient_layout
  FOR EACH ROW EXECUTE FUNCTION outreach.layout_immutable();
CREATE TRIGGER layout_immutable BEFORE UPDATE ON outreach.recipient_layout_column
  FOR EACH ROW EXECUTE FUNCTION outreach.layout_immutable();

-- The shipped definitions. Sources: see docs/linkage.md (TASO technical guide for NPD and UCAS
-- Outreach Evaluator, HESA coding manual, ILR specification). The cohort windows are policy:
-- entry years relative to the academic year of the export.
INSERT INTO outreach.recipient_definition (name, shipped, title, enabled, export_layout, outcome_layout,
                                           cohort_from, cohort_to, file_pattern)
VALUES
  -- pupils whose KS4 year is over (entry year <= year + 2), back to eight cohorts earlier
  ('dfe', true, 'Department for Education: National Pupil Database', true, 1, 1, -8, 2,
   'dfe_npd_outreach_{year}_{export_id}.csv'),
  -- learners of 16-19 further education age
  ('esfa', true, 'Education and Skills Funding Agency: Individualised Learner Record', true, 1, 1, -8, 2,
   'esfa_ilr_outreach_{year}_{export_id}.csv'),
  -- people expected to have entered higher education (this year or in the ten before)
  ('hesa', true, 'Jisc (HESA): Student record', true, 1, 1, -10, 0,
   'hesa_outreach_{year}_{export_id}.csv'),
  -- UCAS Outreach Evaluator: cycles from three years back to next year's
  ('ucas', true, 'UCAS: Outreach Evaluator', true, 1, 1, -3, 1,
   'ucas_outreach_evaluator_{year}_{export_id}.csv');

INSERT INTO outreach.recipient_layout (recipient, kind, version, date_format, value_codes, unknown_postcode, outcome_kind, note)
VALUES
  ('dfe', 'export', 1, 'DD/MM/YYYY', '{"sex": {"female": "F", "f": "F", "male": "M", "m": "M"}}', NULL, NULL,
   'NPD matching: forename, surname, date of birth, postcode, sex; school URN, UPN and ULN where held'),
  ('dfe', 'outcome', 1, 'DD/MM/YYYY', '{"outcome": {"ks4": "ks4", "ks5": "ks5"}}', NULL, NULL,
   'KS4 and KS5 attainment, one measure per row'),
  ('esfa', 'export', 1, 'YYYY-MM-DD', '{"sex": {"female": "F", "f": "F", "male": "M", "m": "M"}}', NULL, NULL,
   'ILR learner fields: GivenNames, FamilyName, DateOfBirth, Sex, Postcode, ULN; school or college where held'),
  ('esfa', 'outcome', 1, 'YYYY-MM-DD', '{"outcome": {"ks5": "ks5", "l3": "ks5", "level3": "ks5"}}', NULL, NULL,
   'level 3 (KS5 and equivalent) achievement in further education, one measure per row'),
  ('hesa', 'export', 1, 'YYYY-MM-DD',
   '{"sex": {"female": "10", "f": "10", "male": "11", "m": "11", "other": "12", "*": "99"}}', 'ZZ99 9ZZ', NULL,
   'HESA student record identity fields (BIRTHDTE ISO 8601, SEXID codes, POSTCODE ZZ99 9ZZ when unknown, ULN)'),
  ('hesa', 'outcome', 1, 'YYYY-MM-DD',
   '{"outcome": {"he_entry": "he_entry", "entry": "he_entry", "continuation": "continuation"}}', NULL, NULL,
   'HE entry (year, provider) and continuation'),
  ('ucas', 'export', 1, 'DD/MM/YYYY', '{}', NULL, NULL,
   'Outreach Evaluator request file: Forename, Last name, Date_of_Birth, Postcode, Link_to_UCAS_cycle, Extend_link_by; Reference as a user column'),
  ('ucas', 'outcome', 1, 'DD/MM/YYYY', '{}', NULL, 'he_application',
   'application outcomes per cycle (where UCAS returns record-level data)');

INSERT INTO outreach.recipient_layout_column (recipient, kind, version, position, header, field, required)
VALUES
  ('dfe', 'export', 1, 1, 'PupilReference', 'reference', true),
  ('dfe', 'export', 1, 2, 'Forename', 'forename', true),
  ('dfe', 'export', 1, 3, 'Surname', 'surname', true),
  ('dfe', 'export', 1, 4, 'DateOfBirth', 'date_of_birth', true),
  ('dfe', 'export', 1, 5, 'Postcode', 'postcode', true),
  ('dfe', 'export', 1, 6, 'Sex', 'sex', false),
  ('dfe', 'export', 1, 7, 'SchoolURN', 'school_urn', false),
  ('dfe', 'export', 1, 8, 'UPN', 'upn', false),
  ('dfe', 'export', 1, 9, 'ULN', 'uln', false),
  ('dfe', 'outcome', 1, 1, 'PupilReference', 'reference', true),
  ('dfe', 'outcome', 1, 2, 'KeyStage', 'outcome', true),
  ('dfe', 'outcome', 1, 3, 'AcademicYear', 'academic_year', true),
  ('dfe', 'outcome', 1, 4, 'Measure', 'measure', true),
  ('dfe', 'outcome', 1, 5, 'Value', 'value', true),
  ('esfa', 'export', 1, 1, 'LearnerReference', 'reference', true),
  ('esfa', 'export', 1, 2, 'GivenNames', 'forename', true),
  ('esfa', 'export', 1, 3, 'FamilyName', 'surname', true),
  ('esfa', 'export', 1, 4, 'DateOfBirth', 'date_of_birth', true),
  ('esfa', 'export', 1, 5, 'Sex', 'sex', false),
  ('esfa', 'export', 1, 6, 'Postcode', 'postcode', true),
  ('esfa', 'export', 1, 7, 'ULN', 'uln', false),
  ('esfa', 'export', 1, 8, 'UKPRN', 'school_ukprn', false),
  ('esfa', 'outcome', 1, 1, 'LearnerReference', 'reference', true),
  ('esfa', 'outcome', 1, 2, 'Outcome', 'outcome', true),
  ('esfa', 'outcome', 1, 3, 'AcademicYear', 'academic_year', true),
  ('esfa', 'outcome', 1, 4, 'UKPRN', 'provider_ukprn', false),
  ('esfa', 'outcome', 1, 5, 'Measure', 'measure', true),
  ('esfa', 'outcome', 1, 6, 'Value', 'value', true),
  ('hesa', 'export', 1, 1, 'REFERENCE', 'reference', true),
  ('hesa', 'export', 1, 2, 'FNAMES', 'forename', true),
  ('hesa', 'export', 1, 3, 'SURNAME', 'surname', true),
  ('hesa', 'export', 1, 4, 'BIRTHDTE', 'date_of_birth', true),
  ('hesa', 'export', 1, 5, 'SEXID', 'sex', false),
  ('hesa', 'export', 1, 6, 'POSTCODE', 'postcode', false),
  ('hesa', 'export', 1, 7, 'ULN', 'uln', false),
  ('hesa', 'export', 1, 8, 'EXPECTEDENTRY', 'entry_year', true),
  ('hesa', 'outcome', 1, 1, 'REFERENCE', 'reference', true),
  ('hesa', 'outcome', 1, 2, 'OUTCOME', 'outcome', true),
  ('hesa', 'outcome', 1, 3, 'ACADEMICYEAR', 'academic_year', true),
  ('hesa', 'outcome', 1, 4, 'UKPRN', 'provider_ukprn', false),
  ('hesa', 'outcome', 1, 5, 'PROVIDER', 'provider_name', false),
  ('hesa', 'outcome', 1, 6, 'VALUE', 'value', false),
  ('ucas', 'export', 1, 1, 'Forename', 'forename', true),
  ('ucas', 'export', 1, 2, 'Last name', 'surname', true),
  ('ucas', 'export', 1, 3, 'Date_of_Birth', 'date_of_birth', true),
  ('ucas', 'export', 1, 4, 'Postcode', 'postcode', true),
  ('ucas', 'export', 1, 5, 'Link_to_UCAS_cycle', 'entry_year', true),
  ('ucas', 'export', 1, 6, 'Extend_link_by', 'extend_link_by', false),
  ('ucas', 'export', 1, 7, 'Reference', 'reference', true),
  ('ucas', 'outcome', 1, 1, 'Reference', 'reference', true),
  ('ucas', 'outcome', 1, 2, 'Cycle', 'academic_year', true),
  ('ucas', 'outcome', 1, 3, 'Status', 'value', true),
  ('ucas', 'outcome', 1, 4, 'UKPRN', 'provider_ukprn', false),
  ('ucas', 'outcome', 1, 5, 'Provider', 'provider_name', false);

-- The shipped layouts pass the same checks as the service's own.
SELECT outreach.check_layout_columns(l.kind,
         (SELECT jsonb_agg(jsonb_build_object('header', c.header, 'field', c.field, 'required', c.required) ORDER BY c.position)
          FROM outreach.recipient_layout_column c
          WHERE c.recipient = l.recipient AND c.kind = l.kind AND c.version = l.version), l.outcome_kind)
FROM outreach.recipient_layout l;

-- Recipients and layouts are not personal data: the daemon and the service read them, members
-- may see which recipients exist and how their files look.
REVOKE ALL ON outreach.recipient_definition, outreach.recipient, outreach.recipient_layout,
              outreach.recipient_layout_column FROM PUBLIC;
GRANT SELECT ON outreach.recipient, outreach.recipient_definition, outreach.recipient_layout,
                outreach.recipient_layout_column
  TO outreach_daemon, outreach_processor, outreach_reader, outreach_analyst;
REVOKE EXECUTE ON FUNCTION outreach.define_recipient(text, text, boolean, int, int, text, text),
  outreach.define_layout(text, text, jsonb, text, jsonb, text, text, text, boolean),
  outreach.layout_immutable() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.check_layout_columns(text, jsonb, text) FROM PUBLIC;
-- School and learner identifiers on participants: the UPN (Unique Pupil Number, DfE) and the
-- ULN (Unique Learner Number, Learning Records Service), which recipients match on where held.
-- The check algorithms are in C (extension/src/core/school_ids.cpp). The school's URN comes
-- from the participant's institution.

CREATE FUNCTION outreach.is_valid_upn(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.is_valid_upn(text) IS
  'whether the text is a UPN: check letter and 12 digits (the last a letter for a temporary UPN), capitals; never raises';
CREATE FUNCTION outreach.is_valid_uln(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.is_valid_uln(text) IS
  'whether the text is a ULN: 10 digits, not beginning with 0, modulus-11 check digit; never raises';
-- For CHECK constraints: true, or 22P02 naming what is wrong (a CHECK returning false would only
-- name the constraint).
CREATE FUNCTION outreach.validate_upn(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.validate_upn(text) IS 'true for a valid UPN; otherwise raises 22P02 with the reason';
CREATE FUNCTION outreach.validate_uln(text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.validate_uln(text) IS 'true for a valid ULN; otherwise raises 22P02 with the reason';
CREATE FUNCTION outreach.upn_check_letter(text) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.upn_check_letter(text) IS 'the check letter of a UPN for the 12 characters after it';
CREATE FUNCTION outreach.uln_check_digit(text) RETURNS text
  AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.uln_check_digit(text) IS 'the check digit of a ULN for its first nine digits';
GRANT EXECUTE ON FUNCTION outreach.is_valid_upn(text), outreach.is_valid_uln(text), outreach.validate_upn(text),
  outreach.validate_uln(text), outreach.upn_check_letter(text), outreach.uln_check_digit(text) TO PUBLIC;

ALTER TABLE outreach.participant
  ADD COLUMN upn text COLLATE "C" CONSTRAINT participant_upn_valid CHECK (outreach.validate_upn(upn)),
  ADD COLUMN uln text COLLATE "C" CONSTRAINT participant_uln_valid CHECK (outreach.validate_uln(uln));
COMMENT ON COLUMN outreach.participant.upn IS 'Unique Pupil Number (DfE), where the member holds it';
COMMENT ON COLUMN outreach.participant.uln IS 'Unique Learner Number (Learning Records Service), where the member holds it';

-- The same roles as the other identifying columns (names, date of birth, postcode).
GRANT SELECT (upn, uln) ON outreach.participant TO outreach_reader, outreach_processor;
GRANT INSERT (upn, uln), UPDATE (upn, uln) ON outreach.participant TO outreach_writer;

-- Readers' view of participants gains the two columns (appended, so existing queries keep working).
CREATE OR REPLACE VIEW outreach.participant_core WITH (security_invoker = true) AS
SELECT controller_id, participant_id, external_ref, first_name, last_name, date_of_birth, postcode,
       institution_id, linkage_id, he_entry_year_override, he_entry_year_override_reason,
       withdrawn_at, restricted_at, created_at, updated_at, upn, uln
FROM outreach.participant;

-- The audit trail names upn and uln among the changed columns (without them an update of only
-- a UPN would not be recorded at all).
CREATE OR REPLACE FUNCTION outreach.audit_participant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor name := outreach.invoking_role()::text;
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
    -- Only rows whose personal data changed: status columns maintained by the extension itself
    -- (retention, last attendance) are not personal data.
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
             CASE WHEN n.sex IS DISTINCT FROM o.sex THEN 'sex' END,
             CASE WHEN n.gender_identity IS DISTINCT FROM o.gender_identity THEN 'gender_identity' END,
             CASE WHEN n.ethnicity IS DISTINCT FROM o.ethnicity THEN 'ethnicity' END,
             CASE WHEN n.disability IS DISTINCT FROM o.disability THEN 'disability' END,
             CASE WHEN n.religion IS DISTINCT FROM o.religion THEN 'religion' END,
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
-- Linkage exports and the disclosure ledger.
--
-- outreachd writes the files; the SQL decides everything else:
--   export_begin(recipient, as_of)   opens an export and stages the eligible participants
--   export_lines(export_id)          the header and one RFC 4180 record per staged row
--   export_finish(export_id, sha256, row_count)
--                                    writes the ledger, marks the export finished, returns the manifest
--   export_abandon(export_id, reason)
-- Staged rows live in an unlogged table for the minutes between begin and finish and are
-- removed by finish or abandon; a crash loses them, which export_finish detects (the daemon
-- then begins again, which abandons the old export). See docs/linkage.md.

CREATE TABLE outreach.export (
  export_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recipient text COLLATE "C" NOT NULL,
  layout_version int NOT NULL,
  as_of date NOT NULL,
  entry_year_from int NOT NULL,                    -- the cohorts in scope (Expected HE Entry Years)
  entry_year_to int NOT NULL,
  status text NOT NULL DEFAULT 'building' CHECK (status IN ('building', 'finished', 'abandoned')),
  file_name text NOT NULL,
  row_count bigint NOT NULL DEFAULT 0,             -- rows staged (and, once finished, sent)
  sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  manifest jsonb,
  followups int NOT NULL DEFAULT 0,                -- follow-ups queued by finish (changed during the export)
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  started_by name NOT NULL,
  finished_at timestamptz,                         -- finished or abandoned
  error text,                                      -- why it was abandoned
  CHECK ((status = 'finished') = (sha256 IS NOT NULL AND manifest IS NOT NULL))
);
CREATE INDEX export_recipient_idx ON outreach.export (recipient, export_id);
CREATE INDEX export_building_idx ON outreach.export (recipient) WHERE status = 'building';
COMMENT ON TABLE outreach.export IS
  'linkage exports: recipient, layout, status (building, finished, abandoned), file name, rows, checksum, manifest';
SELECT pg_catalog.pg_extension_config_dump('outreach.export', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.export', 'export_id')::pg_catalog.regclass, '');

-- Staged rows of exports being built: each record exactly as it will be written. Unlogged (no
-- WAL for data that lives minutes and can be staged again) and not dumped. The file's order is
-- the primary key's, so export_lines reads it in order without sorting.
CREATE UNLOGGED TABLE outreach.export_row (
  export_id bigint NOT NULL,
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  cohort_year int NOT NULL,
  src_xmin xid NOT NULL,                           -- the participant row version that was staged
  reference text COLLATE "C" NOT NULL,
  content_hash bigint NOT NULL,                    -- hashtextextended(line, 0)
  line text NOT NULL,                              -- the RFC 4180 record, without line terminator
  PRIMARY KEY (export_id, controller_id, participant_id)
);
COMMENT ON TABLE outreach.export_row IS 'records of exports being built (unlogged; removed when the export finishes or is abandoned)';

-- The ledger: for every participant in every finished export, what went to whom. Rows are
-- written by export_finish in the transaction that marks the export finished, and are kept
-- when the participant is deleted (they are what Art. 19 follow-ups and the DPO's record of
-- recipients rest on; they hold no personal data beyond the pseudonymous reference).
CREATE TABLE outreach.disclosure (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  recipient text COLLATE "C" NOT NULL,
  export_id bigint NOT NULL,
  cohort_year int NOT NULL,
  reference text COLLATE "C" NOT NULL,             -- the per-recipient reference in the file
  content_hash bigint NOT NULL,                    -- of the record sent: unchanged rows are not sent again
  PRIMARY KEY (controller_id, participant_id, recipient, export_id)
);
COMMENT ON TABLE outreach.disclosure IS
  'the disclosure ledger: which participant was sent to which recipient in which export, under which reference';
SELECT pg_catalog.pg_extension_config_dump('outreach.disclosure', '');

ALTER TABLE outreach.export_row ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.export_row FORCE ROW LEVEL SECURITY;
CREATE POLICY export_row_dpo_read ON outreach.export_row FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
ALTER TABLE outreach.disclosure ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.disclosure FORCE ROW LEVEL SECURITY;
CREATE POLICY disclosure_dpo_read ON outreach.disclosure FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.export, outreach.export_row, outreach.disclosure FROM PUBLIC;
GRANT SELECT ON outreach.export TO outreach_daemon, outreach_processor;
GRANT SELECT ON outreach.disclosure TO outreach_dpo;

-- The SELECT that renders a recipient's export rows under a layout: per participant its keys,
-- cohort (entry year), row version, reference (the one it was sent under before, else a new
-- one) and the fields in layout order. Built from the layout (data) with every value quoted as
-- a literal; the field kinds are the only code. eligible_only adds the eligibility rule; keys
-- (two arrays, $1 controller ids and $2 participant ids) restricts it to given participants.
CREATE FUNCTION outreach.export_render_sql(recipient text, layout_version int, as_of date,
                                           eligible_only boolean, keyed boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
  lay outreach.recipient_layout;
  c record;
  ay int := outreach.academic_year(as_of);
  exprs text[] := '{}';
  conds text[] := '{}';
  e text;
  sex_case text;
  sex_codes jsonb;
  needs_institution boolean := false;
  needs_controller boolean := false;
BEGIN
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = export_render_sql.recipient;
  SELECT * INTO lay FROM outreach.recipient_layout l
  WHERE l.recipient = export_render_sql.recipient AND l.kind = 'export' AND l.version = layout_version;
  IF NOT FOUND OR r.name IS NULL THEN
    RAISE EXCEPTION 'recipient "%" has no export layout version %', recipient, layout_version USING ERRCODE = '22023';
  END IF;
  -- sex: CASE over the codes (keys trimmed, lower case); "*" is everything else
  sex_codes := coalesce(lay.value_codes -> 'sex', '{}');
  SELECT 'CASE lower(btrim(p.sex))' || coalesce(string_agg(format(' WHEN %L THEN %L', k.key, k.value), '' ORDER BY k.key), '')
    INTO sex_case FROM jsonb_each_text(sex_codes) k WHERE k.key <> '*';
  FOR c IN SELECT * FROM outreach.recipient_layout_column lc
           WHERE lc.recipient = export_render_sql.recipient AND lc.kind = 'export' AND lc.version = layout_version
           ORDER BY lc.position LOOP
    e := CASE c.field
      WHEN 'reference' THEN 'ref.reference'
      WHEN 'forename' THEN 'btrim(p.first_name)'
      WHEN 'surname' THEN 'btrim(p.last_name)'
      WHEN 'date_of_birth' THEN CASE lay.date_format WHEN 'YYYY-MM-DD' THEN 'p.date_of_birth::text'  -- DateStyle ISO
                                      ELSE format('to_char(p.date_of_birth, %L)', lay.date_format) END
      WHEN 'postcode' THEN CASE WHEN lay.unknown_postcode IS NULL THEN 'p.postcode::text'
                                ELSE format('coalesce(p.postcode::text, %L)', lay.unknown_postcode) END
      WHEN 'sex' THEN sex_case || CASE WHEN sex_codes ? '*' THEN format(' ELSE %L END', sex_codes ->> '*') ELSE ' END' END
      WHEN 'school_urn' THEN 'i.urn::text'
      WHEN 'school_ukprn' THEN 'i.ukprn::text'
      WHEN 'upn' THEN 'p.upn'
      WHEN 'uln' THEN 'p.uln'
      WHEN 'entry_year' THEN 'e.cohort_year::text'
      WHEN 'extend_link_by' THEN format('CASE WHEN e.cohort_year < %s THEN (%s - e.cohort_year)::text END', ay, ay)
      WHEN 'member' THEN 'ctl.code'
      WHEN 'blank' THEN 'NULL::text'
    END;
    IF e IS NULL THEN
      RAISE EXCEPTION 'unknown export field "%"', c.field USING ERRCODE = '22023';
    END IF;
    exprs := exprs || e;
    needs_institution := needs_institution OR c.field IN ('school_urn', 'school_ukprn');
    needs_controller := needs_controller OR c.field = 'member';
    IF c.required THEN
      conds := conds || CASE c.field
        WHEN 'forename' THEN 'outreach.normalise_name(p.first_name) <> '''''
        WHEN 'surname' THEN 'outreach.normalise_name(p.last_name) <> '''''
        WHEN 'date_of_birth' THEN 'p.date_of_birth IS NOT NULL'
        WHEN 'postcode' THEN 'p.postcode IS NOT NULL'
        WHEN 'sex' THEN '(' || sex_case || ' END) IS NOT NULL'
        WHEN 'school_urn' THEN 'i.urn IS NOT NULL'
        WHEN 'school_ukprn' THEN 'i.ukprn IS NOT NULL'
        WHEN 'upn' THEN 'p.upn IS NOT NULL'
        WHEN 'uln' THEN 'p.uln IS NOT NULL'
        ELSE 'true' END;
    END IF;
  END LOOP;
  IF eligible_only THEN
    conds := ARRAY['p.withdrawn_at IS NULL', 'p.restricted_at IS NULL', 'p.retention_status = ''retained''',
                   format('e.cohort_year BETWEEN %s AND %s', ay + r.cohort_from, ay + r.cohort_to)] || conds;
  ELSE
    conds := '{}';
  END IF;
  IF keyed THEN
    conds := conds || '(p.controller_id, p.participant_id) IN (SELECT k.c, k.p FROM unnest($1::int[], $2::bigint[]) AS k(c, p))'::text;
  END IF;
  -- OFFSET 0 keeps the reference and the fields from being pulled up and computed twice.
  RETURN format($sql$
    SELECT p.controller_id, p.participant_id, e.cohort_year, p.xmin AS src_xmin, p.restricted_at IS NOT NULL AS restricted,
           ref.reference, prev.content_hash AS prev_hash, ARRAY[%s]::text[] AS fields
    FROM outreach.participant p
    JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
    %s %s
    CROSS JOIN LATERAL (SELECT coalesce(p.he_entry_year_override,
                                        outreach.expected_he_entry_year(p.date_of_birth, pol.nation)) AS cohort_year) AS e
    LEFT JOIN (SELECT DISTINCT ON (d.controller_id, d.participant_id) d.controller_id, d.participant_id, d.reference, d.content_hash
               FROM outreach.disclosure d WHERE d.recipient = %L
               ORDER BY d.controller_id, d.participant_id, d.export_id DESC) AS prev
      ON prev.controller_id = p.controller_id AND prev.participant_id = p.participant_id
    CROSS JOIN LATERAL (SELECT coalesce(prev.reference,
                                        outreach.pseudonymise('c' || p.controller_id, 'p' || p.participant_id,
                                                              DATE '1900-01-01', 'GIR 0AA', %L)::text) AS reference
                        OFFSET 0) AS ref
    WHERE %s
    OFFSET 0$sql$,
    array_to_string(exprs, ', '),
    CASE WHEN needs_institution THEN 'LEFT JOIN outreach.institution i ON i.institution_id = p.institution_id' ELSE '' END,
    CASE WHEN needs_controller THEN 'JOIN outreach.controller ctl ON ctl.controller_id = p.controller_id' ELSE '' END,
    recipient, 'recipient:' || recipient,
    CASE WHEN cardinality(conds) = 0 THEN 'true' ELSE array_to_string(conds, ' AND ') END);
END
$$;
COMMENT ON FUNCTION outreach.export_render_sql(text, int, date, boolean, boolean) IS
  'the query rendering a recipient''s export rows from its layout (with the eligibility rule when eligible_only)';

-- File name from the recipient's pattern.
CREATE FUNCTION outreach.export_file_name(pattern text, recipient text, as_of date, export_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT replace(replace(replace(replace(replace(pattern,
           '{recipient}', recipient),
           '{year}', extract(year FROM as_of)::int::text),
           '{academic_year}', outreach.academic_year(as_of)::text),
           '{date}', to_char(as_of, 'YYYYMMDD')),
           '{export_id}', lpad(export_id::text, greatest(6, length(export_id::text)), '0'))
$$;
COMMENT ON FUNCTION outreach.export_file_name(text, text, date, bigint) IS
  'an export''s file name from the recipient''s pattern ({recipient} {year} {academic_year} {date} {export_id})';

-- Removes an export's staged rows: the whole (unlogged) table at once when no other export is
-- being built, which is the usual case, else just its rows.
CREATE FUNCTION outreach.export_clear_staging(export_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM outreach.export e
                 WHERE e.status = 'building' AND e.export_id <> export_clear_staging.export_id) THEN
    -- Waits for a begin in progress (it holds a lock on the table while it stages); then looks again.
    LOCK TABLE outreach.export_row IN ACCESS EXCLUSIVE MODE;
    IF NOT EXISTS (SELECT 1 FROM outreach.export e
                   WHERE e.status = 'building' AND e.export_id <> export_clear_staging.export_id) THEN
      TRUNCATE outreach.export_row;
      RETURN;
    END IF;
  END IF;
  DELETE FROM outreach.export_row r WHERE r.export_id = export_clear_staging.export_id;
END
$$;
COMMENT ON FUNCTION outreach.export_clear_staging(bigint) IS 'removes the staged rows of an export';

CREATE FUNCTION outreach.export_begin(recipient text, as_of date DEFAULT current_date)
RETURNS TABLE (export_id bigint, file_name text, layout_version int, row_count bigint, pgp_public_key text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET jit = off   -- (the staging statement's estimate is far above jit_above_cost; compiling does not pay)
-- Staging is one set-based statement over every participant. With stale statistics (a bulk
-- update not yet analysed) the planner took the previous-disclosure subquery for one row and
-- rescanned it per participant until the statement timeout; hash and merge joins only.
SET enable_nestloop = off
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
  -- An export still building is a run that crashed or was given up: abandon it.
  UPDATE outreach.export e SET status = 'abandoned', finished_at = clock_timestamp(),
         error = 'abandoned: a new export of the recipient began'
  WHERE e.recipient = r.name AND e.status = 'building';
  IF FOUND THEN
    DELETE FROM outreach.export_row s USING outreach.export e
    WHERE s.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
  END IF;

  ay := outreach.academic_year(as_of);
  INSERT INTO outreach.export (recipient, layout_version, as_of, entry_year_from, entry_year_to, file_name, started_by)
  VALUES (r.name, r.export_layout, as_of, ay + r.cohort_from, ay + r.cohort_to, '', outreach.invoking_role()::text)
  RETURNING export.export_id INTO new_id;
  fname := outreach.export_file_name(r.file_pattern, r.name, as_of, new_id);
  IF r.pgp_public_key IS NOT NULL THEN
    fname := fname || '.gpg';  -- the daemon encrypts it to the recipient's OpenPGP key
  END IF;

  -- Stage, in one statement: the eligible participants whose record differs from what the
  -- recipient last received (or who never were sent).
  EXECUTE format($sql$
    INSERT INTO outreach.export_row (export_id, controller_id, participant_id, cohort_year, src_xmin, reference,
                                     content_hash, line)
    SELECT %s, s.controller_id, s.participant_id, s.cohort_year, s.src_xmin, s.reference, s.content_hash, s.line
    FROM (SELECT r.*, hashtextextended(r.line, 0) AS content_hash
          FROM (SELECT x.*, outreach.csv_record(x.fields) AS line FROM (%s) AS x OFFSET 0) AS r OFFSET 0) AS s
    WHERE s.prev_hash IS DISTINCT FROM s.content_hash$sql$,
    new_id, outreach.export_render_sql(r.name, r.export_layout, as_of, true));
  GET DIAGNOSTICS n = ROW_COUNT;

  UPDATE outreach.export e SET file_name = fname, row_count = n WHERE e.export_id = new_id;
  RETURN QUERY SELECT new_id, fname, r.export_layout, n, r.pgp_public_key;
END
$$;
COMMENT ON FUNCTION outreach.export_begin(text, date) IS
  'opens an export of a recipient and stages its eligible participants; returns id, file name, layout, rows and OpenPGP key';

CREATE FUNCTION outreach.export_lines(export_id bigint) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The staged rows are read in primary-key order from the index: the unlogged table has no
-- statistics (autovacuum skips it for minutes), so without these the planner guesses a few
-- thousand rows and sorts a million on disk.
SET enable_sort = off
SET enable_bitmapscan = off
AS $$
DECLARE
  e outreach.export;
BEGIN
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_lines.export_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
  END IF;
  IF e.status <> 'building' THEN
    RAISE EXCEPTION 'export % is %: its rows are no longer staged', export_id, e.status USING ERRCODE = '55000',
      HINT = 'Begin a new export.';
  END IF;
  RETURN QUERY
  SELECT outreach.csv_record(array_agg(c.header ORDER BY c.position))
  FROM outreach.recipient_layout_column c
  WHERE c.recipient = e.recipient AND c.kind = 'export' AND c.version = e.layout_version;
  RETURN QUERY
  SELECT s.line FROM outreach.export_row s
  WHERE s.export_id = export_lines.export_id ORDER BY s.controller_id, s.participant_id;
END
$$;
COMMENT ON FUNCTION outreach.export_lines(bigint) IS
  'the records of an export''s file, header first, one RFC 4180 record per staged row, without line terminators';

-- Follow-ups for participants staged in an export who changed or were deleted after staging
-- (their trigger ran before the ledger rows existed): compared with what was staged.
CREATE FUNCTION outreach.export_changed_since_staging(export_id bigint) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
-- The staged rows and the participants are both read in key order and merged (a hash of every
-- participant costs twice as much); the few candidates are then looked up. (Not a nested loop:
-- the staged table has no statistics, and a million index probes cost three times the merge.)
SET enable_hashjoin = off
SET enable_nestloop = on
SET enable_bitmapscan = on
AS $$
DECLARE
  e outreach.export;
  cids int[];
  pids bigint[];
  n int;
BEGIN
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_changed_since_staging.export_id;
  -- Candidates: the participant row is gone or is another version than the one staged (any
  -- update, and freezing, changes xmin: the fields are compared below).
  PERFORM set_config('enable_nestloop', 'off', true), set_config('enable_bitmapscan', 'off', true);
  SELECT array_agg(s.controller_id), array_agg(s.participant_id) INTO cids, pids
  FROM outreach.export_row s
  LEFT JOIN outreach.participant p ON p.controller_id = s.controller_id AND p.participant_id = s.participant_id
  WHERE s.export_id = e.export_id AND (p.participant_id IS NULL OR p.xmin <> s.src_xmin);
  PERFORM set_config('enable_nestloop', 'on', true), set_config('enable_bitmapscan', 'on', true);
  IF cids IS NULL THEN
    RETURN 0;
  END IF;
  EXECUTE format($sql$
    INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id, fields)
    SELECT s.controller_id, s.participant_id, %L, k.kind, s.reference, %s, k.fields
    FROM outreach.export_row s
    JOIN unnest($1::int[], $2::bigint[]) AS c(controller_id, participant_id)
      ON c.controller_id = s.controller_id AND c.participant_id = s.participant_id
    LEFT JOIN (%s) AS now ON now.controller_id = s.controller_id AND now.participant_id = s.participant_id
    CROSS JOIN LATERAL (
      SELECT 'erasure' AS kind, NULL::text[] AS fields WHERE now.participant_id IS NULL
      UNION ALL
      SELECT 'restriction', NULL WHERE now.restricted
      UNION ALL
      SELECT 'rectification', changed.headers
      FROM (SELECT array_agg(col.header ORDER BY col.i) AS headers
            FROM (SELECT lc.header, lc.field, row_number() OVER (ORDER BY lc.position) AS i
                  FROM outreach.recipient_layout_column lc
                  WHERE lc.recipient = %L AND lc.kind = 'export' AND lc.version = %s) AS col,
                 -- the staged record's fields, read back (NULLs were written as empty fields)
                 (SELECT sf.fields FROM outreach.csv_records(convert_to(s.line, 'UTF8')) AS sf LIMIT 1) AS staged
            WHERE col.field <> 'reference'
              AND staged.fields[col.i] IS DISTINCT FROM coalesce(now.fields[col.i], '')) AS changed
      WHERE now.participant_id IS NOT NULL AND changed.headers IS NOT NULL) AS k
    WHERE s.export_id = %s
      -- not when the participant's trigger has queued the same already (an earlier export sent them)
      AND NOT EXISTS (SELECT 1 FROM outreach.recipient_followup f
                      WHERE f.controller_id = s.controller_id AND f.participant_id = s.participant_id
                        AND f.recipient = %L AND f.kind = k.kind AND f.queued_at >= %L::timestamptz)$sql$,
    e.recipient, e.export_id, outreach.export_render_sql(e.recipient, e.layout_version, e.as_of, false, true),
    e.recipient, e.layout_version, e.export_id, e.recipient, e.started_at)
  USING cids, pids;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.export_changed_since_staging(bigint) IS
  'queues Art. 19 follow-ups for staged participants rectified, restricted or deleted before their export finished';

CREATE FUNCTION outreach.export_finish(export_id bigint, sha256 text, row_count bigint) RETURNS jsonb
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

  INSERT INTO outreach.disclosure (controller_id, participant_id, recipient, export_id, cohort_year, reference, content_hash)
  SELECT s.controller_id, s.participant_id, e.recipient, s.export_id, s.cohort_year, s.reference, s.content_hash
  FROM outreach.export_row s WHERE s.export_id = e.export_id;
  GET DIAGNOSTICS n = ROW_COUNT;
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
COMMENT ON FUNCTION outreach.export_finish(bigint, text, bigint) IS
  'finishes an export: checks the row count, writes the ledger, marks it finished and returns the manifest, in one transaction';

CREATE FUNCTION outreach.export_abandon(export_id bigint, reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  e outreach.export;
BEGIN
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_abandon.export_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
  END IF;
  IF e.status = 'finished' THEN
    RAISE EXCEPTION 'export % is finished and cannot be abandoned', export_id USING ERRCODE = '55000';
  END IF;
  IF e.status = 'building' THEN
    UPDATE outreach.export x SET status = 'abandoned', finished_at = clock_timestamp(),
           error = left(coalesce(nullif(btrim(reason), ''), 'abandoned'), 2000)
    WHERE x.export_id = e.export_id;
    PERFORM outreach.export_clear_staging(e.export_id);
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.export_abandon(bigint, text) IS
  'abandons an export being built (its staged rows are dropped; nothing reaches the ledger)';

REVOKE EXECUTE ON FUNCTION outreach.export_render_sql(text, int, date, boolean, boolean),
  outreach.export_clear_staging(bigint), outreach.export_begin(text, date), outreach.export_lines(bigint),
  outreach.export_changed_since_staging(bigint), outreach.export_finish(bigint, text, bigint),
  outreach.export_abandon(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.export_begin(text, date), outreach.export_lines(bigint),
  outreach.export_finish(bigint, text, bigint), outreach.export_abandon(bigint, text) TO outreach_daemon;
REVOKE EXECUTE ON FUNCTION outreach.export_file_name(text, text, date, bigint) FROM PUBLIC;
-- Outcome files returned by recipients: parsed, checked against the recipient's outcome
-- layout, matched back to participants through the per-recipient reference in the ledger, and
-- stored as outcome facts (KS4/KS5 attainment, HE applications, HE entry, continuation).
-- Members see the outcomes of their own participants only.
--
-- import_outcomes() is idempotent: an outcome fact is keyed by (participant, recipient, kind,
-- academic year, measure, provider); importing a fact already held with the same values
-- changes nothing and counts as "unchanged" (it is not reported line by line), a fact with new
-- values replaces the old ones ("updated"), a new fact is inserted ("inserted"). Every line not imported is reported with its line
-- number and reason: rejected (malformed, incomplete, invalid UTF-8, truncated last line,
-- withdrawn or restricted participant, conflicting duplicate), duplicate (the same fact as an
-- earlier line of the file) or unknown_reference (never sent to this recipient, or the
-- participant has been deleted since).

CREATE TABLE outreach.outcome (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  recipient text COLLATE "C" NOT NULL,
  outcome text COLLATE "C" NOT NULL CHECK (outcome IN ('ks4', 'ks5', 'he_application', 'he_entry', 'continuation')),
  academic_year int NOT NULL CHECK (academic_year BETWEEN 1950 AND 2200),   -- e.g. 2023 for 2023/24
  measure text COLLATE "C" NOT NULL DEFAULT '' CHECK (length(measure) <= 100), -- e.g. attainment8; '' where none
  provider_ukprn int NOT NULL DEFAULT 0 CHECK (provider_ukprn = 0 OR provider_ukprn BETWEEN 10000000 AND 19999999),
  provider_name text CHECK (length(provider_name) <= 200),
  value text CHECK (length(value) <= 200),       -- score, grade, status or detail as returned
  import_id bigint NOT NULL,                     -- the import that last set it
  line_no int NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (controller_id, participant_id, recipient, outcome, academic_year, measure, provider_ukprn)
);
COMMENT ON TABLE outreach.outcome IS
  'outcomes of participants returned by linkage recipients: KS4/KS5 attainment, HE applications, HE entry, continuation';
COMMENT ON COLUMN outreach.outcome.provider_ukprn IS 'the provider (UKPRN) where the outcome has one; 0 where none';
SELECT pg_catalog.pg_extension_config_dump('outreach.outcome', '');

CREATE TABLE outreach.outcome_import (
  import_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recipient text COLLATE "C" NOT NULL,
  layout_version int NOT NULL,
  file_name text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  same_as bigint,                                -- an earlier import of the same file
  imported_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  imported_by name NOT NULL,
  lines bigint NOT NULL DEFAULT 0,               -- records after the header
  inserted bigint NOT NULL DEFAULT 0,
  updated bigint NOT NULL DEFAULT 0,
  unchanged bigint NOT NULL DEFAULT 0,
  rejected bigint NOT NULL DEFAULT 0,
  duplicates bigint NOT NULL DEFAULT 0,
  unknown_references bigint NOT NULL DEFAULT 0
);
CREATE INDEX outcome_import_file_idx ON outreach.outcome_import (recipient, sha256);
COMMENT ON TABLE outreach.outcome_import IS 'every outcome file imported: recipient, file, checksum and what became of its lines';

CREATE TABLE outreach.outcome_import_error (
  import_id bigint NOT NULL REFERENCES outreach.outcome_import ON DELETE CASCADE,
  line_no int NOT NULL,
  status text NOT NULL CHECK (status IN ('rejected', 'duplicate', 'unknown_reference')),
  reason text NOT NULL,
  PRIMARY KEY (import_id, line_no)
);
COMMENT ON TABLE outreach.outcome_import_error IS 'the lines of an outcome file that were not imported, with the reason';

SELECT pg_catalog.pg_extension_config_dump('outreach.outcome_import', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.outcome_import_error', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.outcome_import', 'import_id')::pg_catalog.regclass, '');

ALTER TABLE outreach.outcome ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.outcome FORCE ROW LEVEL SECURITY;
CREATE POLICY outcome_read ON outreach.outcome FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
REVOKE ALL ON outreach.outcome, outreach.outcome_import, outreach.outcome_import_error FROM PUBLIC;
GRANT SELECT ON outreach.outcome TO outreach_reader, outreach_processor;
-- The files' bookkeeping spans members (one file, many members) and holds no personal data.
GRANT SELECT ON outreach.outcome_import, outreach.outcome_import_error TO outreach_daemon, outreach_processor;

-- The outcome tables by kind, for members and BI tools (the caller's row security applies).
CREATE VIEW outreach.outcome_attainment WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.outcome AS key_stage, o.academic_year, o.measure, o.value,
       CASE WHEN o.value ~ '^\s*-?[0-9]{1,9}(\.[0-9]{1,6})?\s*$' THEN o.value::numeric END AS numeric_value,
       o.provider_ukprn, o.updated_at
FROM outreach.outcome o WHERE o.outcome IN ('ks4', 'ks5');
COMMENT ON VIEW outreach.outcome_attainment IS 'KS4 and KS5 attainment of own participants: one measure per row';

CREATE VIEW outreach.outcome_he_application WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.academic_year AS cycle, o.value AS status,
       nullif(o.provider_ukprn, 0) AS provider_ukprn, o.provider_name, o.updated_at
FROM outreach.outcome o WHERE o.outcome = 'he_application';
COMMENT ON VIEW outreach.outcome_he_application IS 'HE applications of own participants: cycle, status and provider';

CREATE VIEW outreach.outcome_he_entry WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.academic_year AS entry_year,
       nullif(o.provider_ukprn, 0) AS provider_ukprn, o.provider_name, o.value AS detail, o.updated_at
FROM outreach.outcome o WHERE o.outcome = 'he_entry';
COMMENT ON VIEW outreach.outcome_he_entry IS 'entry of own participants to higher education: year and provider';

CREATE VIEW outreach.outcome_continuation WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.academic_year, nullif(o.provider_ukprn, 0) AS provider_ukprn,
       o.provider_name, o.value AS status, o.updated_at
FROM outreach.outcome o WHERE o.outcome = 'continuation';
COMMENT ON VIEW outreach.outcome_continuation IS 'continuation of own participants in higher education, per academic year';
GRANT SELECT ON outreach.outcome_attainment, outreach.outcome_he_application, outreach.outcome_he_entry,
                outreach.outcome_continuation TO outreach_reader, outreach_processor;

-- The records of an outcome file: outreach.csv_records() itself (the same C function), declared
-- with the row estimate of a large file for import_outcomes' plan. (Not a SQL wrapper around
-- csv_records: that copied every row from one tuplestore into a second, 0.5-0.9 s a million.)
CREATE FUNCTION outreach.outcome_file_records(content bytea)
RETURNS TABLE (line_no int, fields text[], error text, terminated boolean)
AS 'MODULE_PATHNAME', 'csv_records' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000000;
COMMENT ON FUNCTION outreach.outcome_file_records(bytea) IS
  'csv_records() of an outcome file, with the row estimate of a large file (for import_outcomes'' plan)';
REVOKE EXECUTE ON FUNCTION outreach.outcome_file_records(bytea) FROM PUBLIC;

-- Imports and participant deletions take this lock (imports exclusively, deletions shared), so
-- an outcome is never stored for a participant being deleted at the same moment.
CREATE FUNCTION outreach.outcome_lock_key() RETURNS int
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 1869968498 $$;  -- 'outr'
COMMENT ON FUNCTION outreach.outcome_lock_key() IS
  'first key of the advisory lock between outcome imports (exclusive) and participant deletions (shared)';

CREATE FUNCTION outreach.import_outcomes(recipient text, file_name text, content bytea)
RETURNS TABLE (import_id bigint, line_no int, status text, reason text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- A file is a batch of up to millions of lines: joins by hash or merge, sorts and hashes in
-- memory (imports run one at a time, so this much memory is taken once).
SET enable_nestloop = off
SET work_mem = '256MB'
-- The one big statement is costed far above jit_above_cost; compiling its ~140 expressions
-- costs more than it saves on a million lines.
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
  kind_expr text;
  stats record;
  fld text;
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

  -- Imports run one at a time, and participant deletions wait for them (see outcome_lock_key).
  PERFORM pg_advisory_xact_lock(outreach.outcome_lock_key(), 1);

  checksum := encode(sha256(content), 'hex');
  INSERT INTO outreach.outcome_import (recipient, layout_version, file_name, sha256, same_as, imported_by)
  VALUES (r.name, lay.version, file_name, checksum,
          (SELECT min(i.import_id) FROM outreach.outcome_import i WHERE i.recipient = r.name AND i.sha256 = checksum),
          outreach.invoking_role()::text)
  RETURNING outcome_import.import_id INTO new_id;

  -- The outcome kind of a row: the layout's fixed kind, or its outcome column through the codes.
  codes := coalesce(lay.value_codes -> 'outcome', '{}');
  IF lay.outcome_kind IS NOT NULL AND NOT pos ? 'outcome' THEN
    kind_expr := format('%L::text', lay.outcome_kind);
  ELSE
    SELECT 'CASE lower(btrim(x.fields[' || (pos ->> 'outcome') || ']) COLLATE "C")'
           || coalesce(string_agg(format(' WHEN %L THEN %L', k.key, k.value), '' ORDER BY k.key), '')
           || ' END'
      INTO kind_expr FROM jsonb_each_text(codes) k;
  END IF;

  -- One statement: parse, check, match, find duplicates within the file, then write the good
  -- rows and record the others. The checks are ordered: the first problem of a line is reported.
  -- Codes, digits and references are compared byte-wise (COLLATE "C").
  EXECUTE format($sql$
    WITH checked AS MATERIALIZED (
      -- (materialized: each line is checked once, not again wherever a later step refers to it)
      SELECT x.line_no, x.reference, x.kind, x.measure, x.value, x.provider_name,
             CASE WHEN x.year_ok THEN left(x.year_text, 4)::int END AS academic_year,
             CASE WHEN x.ukprn_ok THEN x.ukprn_text::int ELSE 0 END AS provider_ukprn,
             CASE
               WHEN x.error LIKE 'unterminated quoted field%%'
                 THEN x.error || ': everything from this line to the end of the file is inside it'
               WHEN x.error IS NOT NULL THEN x.error
               WHEN NOT x.terminated THEN 'the last line has no line terminator: the file may be truncated'
               WHEN x.n_fields <> %10$s THEN format('expected %10$s fields, found %%s', x.n_fields)
               WHEN x.reference = '' THEN 'no reference'
               WHEN x.kind IS NULL THEN format('unknown outcome code "%%s"', left(x.kind_text, 50))
               WHEN NOT x.year_ok OR left(x.year_text, 4)::int NOT BETWEEN 1950 AND 2200
                 THEN format('academic year "%%s" is not a year such as 2023 or 2023/24', left(x.year_text, 50))
               WHEN x.ukprn_text <> '' AND NOT x.ukprn_ok
                 THEN format('UKPRN "%%s" is not 8 digits beginning with 1', left(x.ukprn_text, 50))
               WHEN length(x.measure) > 100 THEN 'measure longer than 100 characters'
               WHEN length(x.value) > 200 THEN 'value longer than 200 characters'
               WHEN length(x.provider_name) > 200 THEN 'provider name longer than 200 characters'
               WHEN x.kind IN ('ks4', 'ks5') AND (x.measure = '' OR x.value IS NULL)
                 THEN format('a %%s outcome needs a measure and a value', x.kind)
               WHEN x.kind IN ('he_application', 'continuation') AND x.value IS NULL
                 THEN format('a %%s outcome needs a value', x.kind)
               WHEN x.kind = 'he_entry' AND x.ukprn_text = '' AND x.provider_name IS NULL
                 THEN 'an he_entry outcome needs a provider (UKPRN or name)'
             END AS problem
      FROM (SELECT r.*,
                   -- YYYY, YYYY/YY, YYYY-YY, YYYY/YYYY or YYYY-YYYY
                   length(r.year_text) IN (4, 7, 9) AND translate(left(r.year_text, 4), '0123456789', '') = ''
                     AND (length(r.year_text) = 4 OR (substr(r.year_text, 5, 1) IN ('/', '-')
                                                      AND translate(substr(r.year_text, 6), '0123456789', '') = ''))
                     AS year_ok,
                   length(r.ukprn_text) = 8 AND left(r.ukprn_text, 1) = '1' AND translate(r.ukprn_text, '0123456789', '') = ''
                     AS ukprn_ok
            FROM (SELECT x.line_no, x.error, x.terminated, cardinality(x.fields) AS n_fields,
                         %1$s AS kind,
                         upper(btrim(x.fields[%2$s]) COLLATE "C") AS reference,
                         coalesce(btrim(x.fields[%3$s]) COLLATE "C", '') AS year_text,
                         %4$s AS measure,
                         %5$s AS value,
                         %6$s AS ukprn_text,
                         %7$s AS provider_name,
                         x.fields[%8$s] AS kind_text
                  FROM outreach.outcome_file_records($1) AS x
                  WHERE x.line_no > %9$s
                  OFFSET 0) AS r   -- (OFFSET 0: each value computed once, not wherever it is used)
            OFFSET 0) AS x
    ), judged AS (
      SELECT c.line_no, m.controller_id, m.participant_id, c.kind, c.academic_year, c.measure, c.provider_ukprn,
             c.provider_name, c.value,
             CASE
               WHEN c.problem IS NOT NULL THEN 'rejected'
               WHEN m.controller_id IS NULL AND c.reference !~ '^[0-9]{1,10}-[0-9A-Z]{26}[0-9A-Z*~$=]$' THEN 'rejected'
               WHEN m.controller_id IS NULL OR p.participant_id IS NULL THEN 'unknown_reference'
               WHEN p.withdrawn_at IS NOT NULL OR p.restricted_at IS NOT NULL THEN 'rejected'
             END AS status,
             CASE
               WHEN c.problem IS NOT NULL THEN c.problem
               WHEN m.controller_id IS NULL AND c.reference !~ '^[0-9]{1,10}-[0-9A-Z]{26}[0-9A-Z*~$=]$'
                 THEN format('malformed reference "%%s"', left(c.reference, 50))
               WHEN m.controller_id IS NULL THEN format('reference %%s was never sent to %11$s', c.reference)
               WHEN p.participant_id IS NULL THEN format('reference %%s: the participant''s record has been deleted', c.reference)
               WHEN p.withdrawn_at IS NOT NULL THEN format('reference %%s: the participant has withdrawn; outcome not stored', c.reference)
               WHEN p.restricted_at IS NOT NULL THEN format('reference %%s: processing is restricted; outcome not stored', c.reference)
             END AS reason
      FROM checked c
      -- reference -> participant, from this recipient's ledger (a reference is one participant's)
      LEFT JOIN (SELECT d.reference, min(d.controller_id) AS controller_id, min(d.participant_id) AS participant_id
                 FROM outreach.disclosure d WHERE d.recipient = %11$L GROUP BY d.reference) AS m
        ON c.problem IS NULL AND m.reference = c.reference
      LEFT JOIN outreach.participant p ON p.controller_id = m.controller_id AND p.participant_id = m.participant_id
    ), final AS (
      SELECT j.line_no, j.controller_id, j.participant_id, j.kind, j.academic_year, j.measure, j.provider_ukprn,
             j.provider_name, j.value, j.status, j.reason
      FROM judged j WHERE j.status IS NOT NULL
      UNION ALL
      -- Duplicates within the file: the first line of a fact is imported, a later one with the
      -- same values is a duplicate, with other values a conflict.
      SELECT w.line_no, w.controller_id, w.participant_id, w.kind, w.academic_year, w.measure, w.provider_ukprn,
             w.provider_name, w.value,
             CASE WHEN w.first_line = w.line_no THEN NULL
                  WHEN (w.first_value, w.first_provider) IS NOT DISTINCT FROM (w.value, w.provider_name) THEN 'duplicate'
                  ELSE 'rejected' END,
             CASE WHEN w.first_line = w.line_no THEN NULL
                  WHEN (w.first_value, w.first_provider) IS NOT DISTINCT FROM (w.value, w.provider_name)
                    THEN format('the same outcome as line %%s', w.first_line)
                  ELSE format('conflicts with line %%s: the same outcome with another value', w.first_line) END
      FROM (SELECT j.*, first_value(j.line_no) OVER k AS first_line, first_value(j.value) OVER k AS first_value,
                   first_value(j.provider_name) OVER k AS first_provider
            FROM judged j WHERE j.status IS NULL
            WINDOW k AS (PARTITION BY j.controller_id, j.participant_id, j.kind, j.academic_year, j.measure, j.provider_ukprn
                         ORDER BY j.line_no)) AS w
    ), fresh AS (
      -- each fact of the file against what is held: new, changed or the same
      SELECT f.*, o.controller_id IS NOT NULL AS held,
             (o.value, o.provider_name) IS DISTINCT FROM (f.value, f.provider_name) AS differs
      FROM final f
      LEFT JOIN outreach.outcome o
        ON o.controller_id = f.controller_id AND o.participant_id = f.participant_id AND o.recipient = %11$L
       AND o.outcome = f.kind AND o.academic_year = f.academic_year AND o.measure = f.measure
       AND o.provider_ukprn = f.provider_ukprn
      WHERE f.status IS NULL
    ), ins AS (
      -- Imports run one at a time and only they add outcomes, so a fact not held now is not
      -- added by anyone else before this commits (the primary key would refuse it).
      INSERT INTO outreach.outcome (controller_id, participant_id, recipient, outcome, academic_year, measure,
                                    provider_ukprn, provider_name, value, import_id, line_no, updated_at)
      SELECT f.controller_id, f.participant_id, %11$L, f.kind, f.academic_year, f.measure, f.provider_ukprn,
             f.provider_name, f.value, %12$s, f.line_no, clock_timestamp()
      FROM fresh f WHERE NOT f.held
      ORDER BY f.controller_id, f.participant_id, f.kind, f.academic_year, f.measure, f.provider_ukprn
      RETURNING 1
    ), upd AS (
      UPDATE outreach.outcome o
      SET provider_name = f.provider_name, value = f.value, import_id = %12$s, line_no = f.line_no,
          updated_at = clock_timestamp()
      FROM fresh f
      WHERE f.held AND f.differs
        AND o.controller_id = f.controller_id AND o.participant_id = f.participant_id AND o.recipient = %11$L
        AND o.outcome = f.kind AND o.academic_year = f.academic_year AND o.measure = f.measure
        AND o.provider_ukprn = f.provider_ukprn
      RETURNING 1
    ), errs AS (
      INSERT INTO outreach.outcome_import_error (import_id, line_no, status, reason)
      SELECT %12$s, f.line_no, f.status, f.reason FROM final f WHERE f.status IS NOT NULL
      RETURNING status
    )
    SELECT (SELECT count(*) FROM final) AS lines,
           (SELECT count(*) FROM fresh) AS good,
           (SELECT count(*) FROM ins) AS inserted,
           (SELECT count(*) FROM upd) AS updated,
           (SELECT count(*) FILTER (WHERE status = 'rejected') FROM errs) AS rejected,
           (SELECT count(*) FILTER (WHERE status = 'duplicate') FROM errs) AS duplicates,
           (SELECT count(*) FILTER (WHERE status = 'unknown_reference') FROM errs) AS unknown_references$sql$,
    kind_expr,                                                                   -- 1
    pos ->> 'reference',                                                         -- 2
    pos ->> 'academic_year',                                                     -- 3
    CASE WHEN pos ? 'measure' THEN format('coalesce(btrim(x.fields[%s]) COLLATE "C", '''')', pos ->> 'measure')
         ELSE '''''::text' END,                                                  -- 4
    CASE WHEN pos ? 'value' THEN format('nullif(btrim(x.fields[%s]), '''')', pos ->> 'value') ELSE 'NULL::text' END,  -- 5
    CASE WHEN pos ? 'provider_ukprn' THEN format('coalesce(btrim(x.fields[%s]) COLLATE "C", '''')', pos ->> 'provider_ukprn')
         ELSE '''''::text' END,                                                  -- 6
    CASE WHEN pos ? 'provider_name' THEN format('nullif(btrim(x.fields[%s]), '''')', pos ->> 'provider_name')
         ELSE 'NULL::text' END,                                                  -- 7
    coalesce(pos ->> 'outcome', '0'),                                            -- 8
    head.line_no,                                                                -- 9
    n_fields,                                                                    -- 10
    r.name,                                                                      -- 11
    new_id)                                                                      -- 12
  INTO stats USING content;

  UPDATE outreach.outcome_import i
  SET lines = stats.lines, inserted = stats.inserted, updated = stats.updated,
      unchanged = stats.good - stats.inserted - stats.updated, rejected = stats.rejected,
      duplicates = stats.duplicates, unknown_references = stats.unknown_references
  WHERE i.import_id = new_id;

  RETURN QUERY
  SELECT e.import_id, e.line_no, e.status, e.reason FROM outreach.outcome_import_error e
  WHERE e.import_id = new_id ORDER BY e.line_no;
END
$$;
COMMENT ON FUNCTION outreach.import_outcomes(text, text, bytea) IS
  'imports a recipient''s outcome file: header checked (22P04 if wrong), good rows inserted or updated, every other line returned with its reason';

REVOKE EXECUTE ON FUNCTION outreach.import_outcomes(text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.import_outcomes(text, text, bytea) TO outreach_daemon, outreach_processor;
REVOKE EXECUTE ON FUNCTION outreach.outcome_lock_key() FROM PUBLIC;
-- Who received whose data, follow-ups to recipients (UK GDPR Art. 19) and a progression summary.
--
-- Art. 19: when a participant sent to a recipient is later rectified (a field the recipient
-- received changes), restricted, or erased (deleted, by erasure request or retention), a
-- follow-up is queued for every recipient that received them: one row per participant and
-- recipient in outreach.recipient_followup. Follow-ups are batched per member and recipient,
-- per statement (a sweep's deletion batch, a bulk correction, one CRM update), in batches of at
-- most 1000; each batch is one notice delivered to the member's channels through
-- outreach.enqueue_delivery(purpose 'recipient_followup'), with the references the recipient
-- knows the records by. Corrected data itself goes out with the next export (changed rows are
-- sent again). See docs/linkage.md.

-- The DPO's record of recipients: for each of its participants, who received their data when.
CREATE VIEW outreach.participant_disclosures WITH (security_barrier = true) AS
SELECT d.controller_id, d.participant_id, d.recipient, r.title AS recipient_title, d.export_id,
       e.finished_at AS exported_at, e.file_name, d.reference, d.cohort_year AS entry_year
FROM outreach.disclosure d
JOIN outreach.export e ON e.export_id = d.export_id
LEFT JOIN outreach.recipient r ON r.name = d.recipient
WHERE outreach.controller_visible(d.controller_id, 'dpo');
COMMENT ON VIEW outreach.participant_disclosures IS
  'for the DPO''s participants: every export that sent them, to whom, when, and under which reference';
REVOKE ALL ON outreach.participant_disclosures FROM PUBLIC;
GRANT SELECT ON outreach.participant_disclosures TO outreach_dpo;

CREATE TABLE outreach.recipient_followup (
  controller_id int NOT NULL,
  followup_id bigint GENERATED ALWAYS AS IDENTITY,
  participant_id bigint NOT NULL,
  recipient text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL CHECK (kind IN ('rectification', 'erasure', 'restriction')),
  reference text COLLATE "C" NOT NULL,             -- what the recipient knows the record by
  export_id bigint NOT NULL,                       -- the latest export that sent it
  fields text[],                                   -- rectification: the recipient's headers of the changed fields
  queued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  batch_id bigint,                                 -- the notice it went out in
  PRIMARY KEY (controller_id, followup_id)
);
CREATE INDEX recipient_followup_pending_idx ON outreach.recipient_followup (controller_id, recipient, followup_id)
  WHERE batch_id IS NULL;
CREATE INDEX recipient_followup_participant_idx ON outreach.recipient_followup (controller_id, participant_id);
COMMENT ON TABLE outreach.recipient_followup IS
  'Art. 19 follow-ups: a participant sent to a recipient was rectified, restricted or erased; the recipient must be told';

CREATE TABLE outreach.recipient_followup_batch (
  controller_id int NOT NULL,
  batch_id bigint GENERATED ALWAYS AS IDENTITY,
  recipient text COLLATE "C" NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  items int NOT NULL,
  rectifications int NOT NULL,
  erasures int NOT NULL,
  restrictions int NOT NULL,
  deliveries int NOT NULL DEFAULT 0,               -- messages queued (one per channel of the member)
  PRIMARY KEY (controller_id, batch_id)
);
COMMENT ON TABLE outreach.recipient_followup_batch IS
  'notices of follow-ups: one per member, recipient and statement (at most 1000 follow-ups each)';

SELECT pg_catalog.pg_extension_config_dump('outreach.recipient_followup', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.recipient_followup_batch', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.recipient_followup', 'followup_id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.recipient_followup_batch', 'batch_id')::pg_catalog.regclass, '');

ALTER TABLE outreach.recipient_followup ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.recipient_followup FORCE ROW LEVEL SECURITY;
CREATE POLICY recipient_followup_dpo_read ON outreach.recipient_followup FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
ALTER TABLE outreach.recipient_followup_batch ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.recipient_followup_batch FORCE ROW LEVEL SECURITY;
CREATE POLICY recipient_followup_batch_dpo_read ON outreach.recipient_followup_batch FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.recipient_followup, outreach.recipient_followup_batch FROM PUBLIC;
GRANT SELECT ON outreach.recipient_followup, outreach.recipient_followup_batch TO outreach_dpo;

-- Groups the pending follow-ups (those this transaction queued, and any left behind) per
-- member and recipient into batches of at most max_items, and queues one notice per batch to
-- the member's channels. Returns the number of batches.
CREATE FUNCTION outreach.recipient_followup_dispatch(max_items int DEFAULT 1000) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  g record;
  b bigint;
  body jsonb;
  n int := 0;
  sent int;
BEGIN
  IF max_items IS NULL OR max_items NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'max_items must be between 1 and 100000' USING ERRCODE = '22023';
  END IF;
  FOR g IN
    WITH pending AS (
      SELECT f.controller_id, f.followup_id, f.recipient FROM outreach.recipient_followup f
      WHERE f.batch_id IS NULL
      ORDER BY f.controller_id, f.recipient, f.followup_id
      FOR UPDATE SKIP LOCKED
    )
    SELECT p.controller_id, p.recipient, array_agg(p.followup_id ORDER BY p.followup_id) AS ids
    FROM (SELECT pending.*, (row_number() OVER (PARTITION BY controller_id, recipient ORDER BY followup_id) - 1)
                              / max_items AS chunk
          FROM pending) AS p
    GROUP BY p.controller_id, p.recipient, p.chunk
    ORDER BY p.controller_id, p.recipient, p.chunk
  LOOP
    INSERT INTO outreach.recipient_followup_batch (controller_id, recipient, items, rectifications, erasures, restrictions)
    SELECT g.controller_id, g.recipient, count(*), count(*) FILTER (WHERE f.kind = 'rectification'),
           count(*) FILTER (WHERE f.kind = 'erasure'), count(*) FILTER (WHERE f.kind = 'restriction')
    FROM outreach.recipient_followup f
    WHERE f.controller_id = g.controller_id AND f.followup_id = ANY (g.ids)
    RETURNING batch_id INTO b;
    UPDATE outreach.recipient_followup f SET batch_id = b
    WHERE f.controller_id = g.controller_id AND f.followup_id = ANY (g.ids);

    SELECT jsonb_build_object(
             'type', 'recipient_followup', 'batch_id', b, 'controller', c.code,
             'recipient', g.recipient, 'recipient_title', (SELECT r.title FROM outreach.recipient r WHERE r.name = g.recipient),
             'counts', jsonb_build_object('rectification', fb.rectifications, 'erasure', fb.erasures,
                                          'restriction', fb.restrictions),
             'items', (SELECT jsonb_agg(jsonb_build_object('reference', f.reference, 'participant_id', f.participant_id,
                                                           'kind', f.kind, 'fields', f.fields, 'export_id', f.export_id,
                                                           'exported_at', e.finished_at)
                                        ORDER BY f.followup_id)
                       FROM outreach.recipient_followup f LEFT JOIN outreach.export e ON e.export_id = f.export_id
                       WHERE f.controller_id = g.controller_id AND f.batch_id = b))
      INTO body
    FROM outreach.controller c, outreach.recipient_followup_batch fb
    WHERE c.controller_id = g.controller_id AND fb.controller_id = g.controller_id AND fb.batch_id = b;

    sent := outreach.enqueue_delivery(
      g.controller_id, 'recipient_followup', format('outreach-followup-%s', b), body,
      format('Linkage follow-up: %s records sent to %s changed', cardinality(g.ids), body ->> 'recipient_title'),
      format(E'%s participant records of your organisation that were sent to %s (%s) have since been '
             'rectified (%s), erased (%s) or restricted (%s).\n'
             'UK GDPR Art. 19: the recipient must be told. Rectified records go to it again with the next export;\n'
             'erasures and restrictions must be passed on with the references listed.\n'
             'The list is in outreach.recipient_followup (batch %s) for your data-protection officer.\n',
             cardinality(g.ids), body ->> 'recipient_title', g.recipient, body #>> '{counts,rectification}',
             body #>> '{counts,erasure}', body #>> '{counts,restriction}', b));
    UPDATE outreach.recipient_followup_batch fb SET deliveries = coalesce(sent, 0)
    WHERE fb.controller_id = g.controller_id AND fb.batch_id = b;
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.recipient_followup_dispatch(int) IS
  'batches pending Art. 19 follow-ups per member and recipient and queues a notice for each batch; returns the number of batches';

-- Rectification and restriction: a field a recipient received changed, or processing was
-- restricted. A row trigger that runs only for updates that set one of these columns and
-- change one (its WHEN clause), so sweeps and other updates never call it; a statement
-- trigger then sends what the statement queued as one batch per member and recipient.
CREATE FUNCTION outreach.participant_followup_update() RETURNS trigger
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
    CASE WHEN lower(btrim(NEW.sex)) IS DISTINCT FROM lower(btrim(OLD.sex)) THEN 'sex' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_urn' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_ukprn' END,
    CASE WHEN NEW.upn IS DISTINCT FROM OLD.upn THEN 'upn' END,
    CASE WHEN NEW.uln IS DISTINCT FROM OLD.uln THEN 'uln' END], NULL);
  restricted boolean := NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL;
BEGIN
  -- A change to a participant staged in an export being finished: export_finish waits for this
  -- transaction (and then compares what it staged), or this statement waits for it (and then
  -- sees the ledger rows).
  PERFORM 1 FROM outreach.export e WHERE e.status = 'building' FOR SHARE;
  WITH sent AS (
    -- the latest export to each recipient that sent them
    SELECT DISTINCT ON (d.recipient) d.recipient, d.export_id, d.reference
    FROM outreach.disclosure d
    WHERE d.controller_id = NEW.controller_id AND d.participant_id = NEW.participant_id
    ORDER BY d.recipient, d.export_id DESC
  )
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id, fields)
  SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'rectification', s.reference, s.export_id, h.headers
  FROM sent s
  JOIN outreach.export e ON e.export_id = s.export_id
  CROSS JOIN LATERAL (SELECT array_agg(lc.header ORDER BY lc.position) AS headers
                      FROM outreach.recipient_layout_column lc
                      WHERE lc.recipient = s.recipient AND lc.kind = 'export' AND lc.version = e.layout_version
                        AND lc.field = ANY (changed)) AS h
  WHERE h.headers IS NOT NULL
  UNION ALL
  SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'restriction', s.reference, s.export_id, NULL
  FROM sent s WHERE restricted;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.participant_followup_update() IS
  'trigger: queues Art. 19 follow-ups when fields a recipient received change or processing is restricted';

CREATE FUNCTION outreach.participant_followup_flush() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM outreach.recipient_followup f WHERE f.batch_id IS NULL) THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.participant_followup_flush() IS
  'trigger: sends the follow-ups a statement queued, batched per member and recipient';

-- Erasure: a participant is deleted (erasure request, retention, a member's DELETE). Their
-- outcomes go with them; every recipient that received them gets a follow-up.
CREATE FUNCTION outreach.participant_followup_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  PERFORM 1 FROM outreach.export e WHERE e.status = 'building' FOR SHARE;
  -- An outcome import in progress finishes first (it may be storing outcomes of these people).
  PERFORM pg_advisory_xact_lock_shared(outreach.outcome_lock_key(), 1);
  DELETE FROM outreach.outcome o USING old_rows d
  WHERE o.controller_id = d.controller_id AND o.participant_id = d.participant_id;
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id)
  SELECT DISTINCT ON (d.controller_id, d.participant_id, d.recipient)
         d.controller_id, d.participant_id, d.recipient, 'erasure', d.reference, d.export_id
  FROM old_rows o
  JOIN outreach.disclosure d ON d.controller_id = o.controller_id AND d.participant_id = o.participant_id
  ORDER BY d.controller_id, d.participant_id, d.recipient, d.export_id DESC;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION outreach.participant_followup_delete() IS
  'trigger: deletes a deleted participant''s outcomes and queues an Art. 19 follow-up for every recipient that received them';

CREATE TRIGGER recipient_followup_update
  AFTER UPDATE OF first_name, last_name, date_of_birth, postcode, sex, institution_id, upn, uln,
                  he_entry_year_override, restricted_at ON outreach.participant
  FOR EACH ROW
  WHEN (btrim(NEW.first_name) IS DISTINCT FROM btrim(OLD.first_name)
        OR btrim(NEW.last_name) IS DISTINCT FROM btrim(OLD.last_name)
        OR NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
        OR NEW.postcode::text IS DISTINCT FROM OLD.postcode::text
        OR lower(btrim(NEW.sex)) IS DISTINCT FROM lower(btrim(OLD.sex))
        OR NEW.institution_id IS DISTINCT FROM OLD.institution_id
        OR NEW.upn IS DISTINCT FROM OLD.upn OR NEW.uln IS DISTINCT FROM OLD.uln
        OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override
        OR (NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL))
  EXECUTE FUNCTION outreach.participant_followup_update();
CREATE TRIGGER recipient_followup_update_flush
  AFTER UPDATE OF first_name, last_name, date_of_birth, postcode, sex, institution_id, upn, uln,
                  he_entry_year_override, restricted_at ON outreach.participant
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.participant_followup_flush();
CREATE TRIGGER recipient_followup_delete AFTER DELETE ON outreach.participant
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.participant_followup_delete();

-- Progression of a member's participants: outcomes per recipient, kind, year and measure, with
-- how many of its participants were sent to that recipient. Aggregates of the caller's own
-- members (analyst level and up).
CREATE VIEW outreach.progression_summary WITH (security_barrier = true) AS
WITH sent AS (
  SELECT d.controller_id, d.recipient, count(DISTINCT d.participant_id) AS participants_sent
  FROM outreach.disclosure d
  WHERE outreach.controller_visible(d.controller_id, 'analyst')
  GROUP BY d.controller_id, d.recipient
)
SELECT o.controller_id, c.code AS controller_code, o.recipient, o.outcome, o.academic_year, o.measure,
       count(DISTINCT o.participant_id) AS participants,
       s.participants_sent,
       round(avg(CASE WHEN o.value ~ '^\s*-?[0-9]{1,9}(\.[0-9]{1,6})?\s*$' THEN o.value::numeric END), 2) AS mean_value
FROM outreach.outcome o
JOIN outreach.controller c ON c.controller_id = o.controller_id
LEFT JOIN sent s ON s.controller_id = o.controller_id AND s.recipient = o.recipient
WHERE outreach.controller_visible(o.controller_id, 'analyst')
GROUP BY o.controller_id, c.code, o.recipient, o.outcome, o.academic_year, o.measure, s.participants_sent;
COMMENT ON VIEW outreach.progression_summary IS
  'per member: participants with each outcome (recipient, kind, year, measure), the numeric mean, and how many were sent';
REVOKE ALL ON outreach.progression_summary FROM PUBLIC;
GRANT SELECT ON outreach.progression_summary TO outreach_reader, outreach_analyst, outreach_processor;

REVOKE EXECUTE ON FUNCTION outreach.recipient_followup_dispatch(int), outreach.participant_followup_update(),
  outreach.participant_followup_flush(), outreach.participant_followup_delete() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.recipient_followup_dispatch(int) TO outreach_daemon;
