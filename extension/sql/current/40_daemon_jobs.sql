-- The daemon's contract. So that several outreachd daemons can run jobs safely: a lease per job
-- (exactly one daemon acts on a job at a time; another takes over when a lease runs out) and a
-- job history. So that the extension can wake them: a private notification channel.

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
CREATE OR REPLACE FUNCTION outreach.daemon_hold(job text, holder text, ttl_seconds int) RETURNS boolean
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

CREATE OR REPLACE FUNCTION outreach.daemon_release(job text, holder text) RETURNS boolean
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
CREATE OR REPLACE FUNCTION outreach.job_run_start(job text, holder text) RETURNS bigint
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

CREATE OR REPLACE FUNCTION outreach.job_run_progress(run_id bigint, rows_done bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE outreach.job_run r SET rows_done = r.rows_done + job_run_progress.rows_done
  WHERE r.run_id = job_run_progress.run_id
$$;
COMMENT ON FUNCTION outreach.job_run_progress(bigint, bigint) IS 'adds to the rows a job run has done';

CREATE OR REPLACE FUNCTION outreach.job_run_finish(run_id bigint, status text, detail text DEFAULT NULL) RETURNS void
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
CREATE OR REPLACE VIEW outreach.job_status AS
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
CREATE OR REPLACE FUNCTION outreach.close_interrupted_retention_runs(kind text) RETURNS int
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

-- How many confirmed records wait for deletion (the delete job skips a run when none do).
CREATE OR REPLACE FUNCTION outreach.deletions_pending() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT count(*) FROM outreach.participant p WHERE p.retention_status = 'deletion_confirmed' $$;
COMMENT ON FUNCTION outreach.deletions_pending() IS 'how many participants are confirmed for deletion and not yet deleted';
REVOKE EXECUTE ON FUNCTION outreach.deletions_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.deletions_pending() TO outreach_daemon;
-- The daemon is woken on a channel only it knows, with payloads that say nothing about members.
-- On a fixed channel any login could LISTEN, learning other members' notice ids, controller ids
-- and counts, and send NOTIFY, waking or steering the daemon. So the channel's name holds 122
-- random bits, is made anew by every CREATE EXTENSION (the table is not dumped) and is readable
-- by outreach_daemon only; the payload is the event's name alone, and the daemon re-reads what
-- it needs under its own role.
CREATE TABLE outreach.service_channel (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  name text NOT NULL CHECK (name ~ '^outreach_[0-9a-f]{32}$')
);
INSERT INTO outreach.service_channel (name) VALUES ('outreach_' || replace(gen_random_uuid()::text, '-', ''));
REVOKE ALL ON outreach.service_channel FROM PUBLIC;
COMMENT ON TABLE outreach.service_channel IS
  'the LISTEN/NOTIFY channel between the extension and outreachd (random name, not dumped, readable by outreach_daemon only)';

CREATE OR REPLACE FUNCTION outreach.service_channel() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT c.name FROM outreach.service_channel c $$;
REVOKE EXECUTE ON FUNCTION outreach.service_channel() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.service_channel() TO outreach_daemon;
COMMENT ON FUNCTION outreach.service_channel() IS 'the channel outreachd LISTENs on (for outreach_daemon only)';

-- event: deletion_confirmed, records_marked or delivery_queued; nothing else goes in the payload.
CREATE OR REPLACE FUNCTION outreach.notify_service(event text) RETURNS void
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
