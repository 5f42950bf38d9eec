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
