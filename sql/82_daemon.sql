-- The daemon's contract: job leases (one daemon acts per job; another takes over when a lease
-- runs out), job history, members' notification channels (RLS), deliveries (claim, retry,
-- give up, idempotency keys) and escalations.
SET search_path = regress, outreach, public;
SET datestyle = ISO;
SET timezone = 'UTC';

SELECT outreach.create_controller('regress_dmn_a', 'Daemon A') AS dmn_a,
       outreach.create_controller('regress_dmn_b', 'Daemon B') AS dmn_b \gset
CREATE ROLE regress_dmn_daemon;
GRANT outreach_daemon TO regress_dmn_daemon;
CREATE ROLE regress_dmn_dpo_a;
CREATE ROLE regress_dmn_dpo_b;
CREATE ROLE regress_dmn_writer_a;
SELECT outreach.grant_controller_access('regress_dmn_dpo_a', 'regress_dmn_a', 'dpo'),
       outreach.grant_controller_access('regress_dmn_dpo_b', 'regress_dmn_b', 'dpo'),
       outreach.grant_controller_access('regress_dmn_writer_a', 'regress_dmn_a', 'writer');

-- Leases: the first daemon takes the job, a second cannot while it lasts, the holder renews.
SET ROLE regress_dmn_daemon;
SELECT outreach.daemon_hold('regress_sweep', 'daemon-1', 60) AS first_takes,
       outreach.daemon_hold('regress_sweep', 'daemon-2', 60) AS second_refused,
       outreach.daemon_hold('regress_sweep', 'daemon-1', 60) AS holder_renews;
SELECT holder FROM outreach.daemon_lease WHERE job = 'regress_sweep';
RESET ROLE;
-- A lease that ran out (its daemon died) is taken over.
UPDATE outreach.daemon_lease SET expires_at = clock_timestamp() - interval '1 second' WHERE job = 'regress_sweep';
SET ROLE regress_dmn_daemon;
SELECT outreach.daemon_hold('regress_sweep', 'daemon-2', 60) AS takeover;
SELECT holder FROM outreach.daemon_lease WHERE job = 'regress_sweep';
SELECT outreach.daemon_release('regress_sweep', 'daemon-1') AS not_the_holder,
       outreach.daemon_release('regress_sweep', 'daemon-2') AS released;
SELECT regress.try($$SELECT outreach.daemon_hold('regress_sweep', 'daemon-1', 0)::text$$);
SELECT regress.try($$SELECT outreach.daemon_hold('regress_sweep', '', 10)::text$$);
SELECT regress.try($$SELECT outreach.daemon_hold('Bad Job!', 'daemon-1', 10)::text$$);

-- Job history: a run left 'running' by a daemon whose lease is gone is closed as interrupted.
SELECT outreach.daemon_hold('regress_delete', 'daemon-1', 60);
SELECT outreach.job_run_start('regress_delete', 'daemon-1') AS run1 \gset
RESET ROLE;
UPDATE outreach.daemon_lease SET expires_at = clock_timestamp() - interval '1 second' WHERE job = 'regress_delete';
SET ROLE regress_dmn_daemon;
SELECT outreach.daemon_hold('regress_delete', 'daemon-2', 60);
SELECT outreach.job_run_start('regress_delete', 'daemon-2') AS run2 \gset
SELECT outreach.job_run_progress(:run2, 41), outreach.job_run_progress(:run2, 1);
SELECT outreach.job_run_finish(:run2, 'succeeded', '42 deleted');
SELECT run_id = :run1 AS first_run, holder, status, rows_done, detail
FROM outreach.job_run WHERE job = 'regress_delete' ORDER BY run_id;
SELECT regress.try(format('SELECT outreach.job_run_finish(%s, %L)', :run2, 'done'));
SELECT job, last_success_at IS NOT NULL AS succeeded_once, failures, lease_holder
FROM outreach.job_status WHERE job LIKE 'regress_%' ORDER BY job;
RESET ROLE;

-- Members manage their own channels, and only their own.
SET ROLE regress_dmn_dpo_a;
INSERT INTO outreach.notification_channel (controller_id, kind, target)
VALUES (:dmn_a, 'webhook', 'https://hooks.a.example/outreach'), (:dmn_a, 'email', 'dpo@a.example');
SELECT regress.try(format($$INSERT INTO outreach.notification_channel (controller_id, kind, target)
                            VALUES (%s, 'webhook', 'https://attacker.example/') RETURNING 'inserted'$$, :dmn_b));
SELECT regress.try(format($$INSERT INTO outreach.notification_channel (controller_id, kind, target)
                            VALUES (%s, 'sms', '+44 7700 900000') RETURNING 'inserted'$$, :dmn_a));
RESET ROLE;
SET ROLE regress_dmn_dpo_b;
INSERT INTO outreach.notification_channel (controller_id, kind, target)
VALUES (:dmn_b, 'webhook', 'not a url at all');
SELECT kind, target FROM outreach.notification_channel ORDER BY channel_id;
RESET ROLE;
SET ROLE regress_dmn_writer_a;
SELECT regress.try('SELECT count(*)::text FROM outreach.notification_channel');
RESET ROLE;

-- A new deletion notice is queued to every channel of its member, with a stable key.
INSERT INTO outreach.deletion_notice (controller_id, cycle_year, confirm_by, records_marked)
VALUES (:dmn_a, 2040, '2040-10-31 17:00+00', 3), (:dmn_b, 2040, '2040-10-31 17:00+00', 5);
SELECT c.code, d.kind, d.target, d.idempotency_key ~ '^outreach-notice-[0-9]+$' AS key_ok, d.status, d.attempts,
       d.payload->>'records_marked' AS records, d.payload->>'revision' AS revision
FROM outreach.notice_delivery d JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress_dmn_%' ORDER BY c.code, d.kind;
SELECT subject FROM outreach.notice_delivery WHERE controller_id = :dmn_a AND kind = 'email';

-- Each member's DPO sees its own deliveries only.
SET ROLE regress_dmn_dpo_b;
SELECT count(*) AS visible_to_b, bool_and(controller_id = :dmn_b) AS all_own FROM outreach.notice_delivery;
RESET ROLE;

-- More records join a pending, never-attempted notice: its message is brought up to date.
UPDATE outreach.deletion_notice SET records_marked = 4 WHERE controller_id = :dmn_a;
SELECT kind, payload->>'records_marked' AS records, count(*) OVER () AS deliveries
FROM outreach.notice_delivery WHERE controller_id = :dmn_a ORDER BY kind;

-- The daemon claims due deliveries; a claim hides them from a second daemon until it runs out.
SET ROLE regress_dmn_daemon;
SELECT controller_code, kind, attempts FROM outreach.claim_deliveries('daemon-1', 10, 60)
WHERE controller_code LIKE 'regress_dmn_%' ORDER BY 1, 2;
SELECT count(*) AS claimed_again FROM outreach.claim_deliveries('daemon-2', 10, 60) WHERE controller_code LIKE 'regress_dmn_%';
SELECT regress.try($$SELECT count(*)::text FROM outreach.claim_deliveries('daemon-1', 0, 60)$$);
RESET ROLE;

-- Record outcomes: delivered; retried later; failed for good (no retry_after).
SELECT delivery_id AS a_email FROM outreach.notice_delivery WHERE controller_id = :dmn_a AND kind = 'email' \gset
SELECT delivery_id AS a_hook FROM outreach.notice_delivery WHERE controller_id = :dmn_a AND kind = 'webhook' \gset
SELECT delivery_id AS b_hook FROM outreach.notice_delivery WHERE controller_id = :dmn_b AND kind = 'webhook' \gset
SET ROLE regress_dmn_daemon;
SELECT outreach.record_delivery(:dmn_a, :a_email, 'daemon-1', true, 'SMTP 250') AS a_email,
       outreach.record_delivery(:dmn_a, :a_hook, 'daemon-1', false, 'HTTP 500', 3600) AS a_hook,
       outreach.record_delivery(:dmn_b, :b_hook, 'daemon-1', false, 'malformed webhook URL: URL must start with http:// or https://') AS b_hook;
SELECT regexp_replace(regress.try(format('SELECT outreach.record_delivery(%s, 999999, %L, true)', :dmn_a, 'daemon-1')),
                      'controller [0-9]+', 'controller <id>') AS try;
RESET ROLE;
SELECT c.code, d.kind, d.status, d.attempts, d.last_error, d.next_attempt_at > now() + interval '59 minutes' AS retry_later,
       d.delivered_at IS NOT NULL AS delivered
FROM outreach.notice_delivery d JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress_dmn_%' ORDER BY c.code, d.kind;
SELECT c.code, a.attempt, a.daemon, a.ok, a.detail
FROM outreach.delivery_attempt a JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress_dmn_%' ORDER BY c.code, a.delivery_id, a.attempt;
-- A delivered message stays delivered even if a late duplicate attempt fails.
SELECT outreach.record_delivery(:dmn_a, :a_email, 'daemon-2', false, 'timeout after 10 s', 5) AS after_late_failure;
SET ROLE regress_dmn_daemon;
SELECT purpose, status, deliveries FROM outreach.delivery_counts() ORDER BY 1, 2;
RESET ROLE;

-- Records added after a notice went out: a revised message follows with its own key.
UPDATE outreach.deletion_notice SET records_marked = 6 WHERE controller_id = :dmn_a;
SELECT kind, idempotency_key ~ '-r2$' AS revision_key, payload->>'records_marked' AS records, status
FROM outreach.notice_delivery WHERE controller_id = :dmn_a ORDER BY delivery_id;

-- Escalation: an overdue notice with records still waiting goes to the legal contact by email;
-- without any legal contact the delivery is recorded as failed, not lost.
SELECT outreach.set_retention_policy('regress_dmn_a', legal_contact => 'legal@a.example') IS NOT NULL AS policy_set;
INSERT INTO outreach.participant (controller_id, first_name, last_name, date_of_birth, postcode)
VALUES (:dmn_a, 'Esme', 'Late', '2001-02-03', 'SW1A 1AA'), (:dmn_b, 'Ola', 'Late', '2001-02-03', 'SW1A 1AA');
UPDATE outreach.participant p SET retention_status = 'ready_for_deletion', retention_notice_id = d.notice_id
FROM outreach.deletion_notice d WHERE d.controller_id = p.controller_id AND p.first_name IN ('Esme', 'Ola');
SET ROLE regress_dmn_daemon;
SELECT outreach.enqueue_escalations('2040-11-05 09:00+00') AS escalated,
       outreach.enqueue_escalations('2040-11-06 09:00+00') AS escalated_again;
RESET ROLE;
SELECT c.code, d.purpose, d.kind, d.target, d.status, d.last_error, d.payload->>'records_waiting' AS waiting
FROM outreach.notice_delivery d JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress_dmn_%' AND d.purpose = 'escalation' ORDER BY c.code;

-- Nobody but the daemon runs the daemon's functions.
SET ROLE regress_dmn_dpo_a;
SELECT regress.try($$SELECT outreach.daemon_hold('regress_sweep', 'intruder', 60)::text$$);
SELECT regress.try($$SELECT count(*)::text FROM outreach.claim_deliveries('intruder', 10, 60)$$);
SELECT regress.try(format('SELECT outreach.record_delivery(%s, %s, %L, true)', :dmn_a, :a_hook, 'intruder'));
SELECT regress.try($$SELECT outreach.enqueue_delivery(1, 'deletion_notice', 'k', '{}')::text$$);
SELECT regress.try('SELECT count(*)::text FROM outreach.daemon_lease');
RESET ROLE;
SET ROLE regress_dmn_writer_a;
SELECT regress.try($$SELECT outreach.job_run_start('sweep', 'intruder')::text$$);
RESET ROLE;

-- Clean up what is cluster-wide (so the suite can run again on the same cluster).
DELETE FROM outreach.delivery_attempt WHERE controller_id IN (:dmn_a, :dmn_b);
DELETE FROM outreach.notice_delivery WHERE controller_id IN (:dmn_a, :dmn_b);
DELETE FROM outreach.notification_channel WHERE controller_id IN (:dmn_a, :dmn_b);
DELETE FROM outreach.participant WHERE controller_id IN (:dmn_a, :dmn_b);
DELETE FROM outreach.deletion_notice WHERE controller_id IN (:dmn_a, :dmn_b);
DELETE FROM outreach.controller WHERE controller_id IN (:dmn_a, :dmn_b);
DELETE FROM outreach.job_run WHERE job LIKE 'regress\_%';
DELETE FROM outreach.daemon_lease WHERE job LIKE 'regress\_%';
DROP ROLE regress_dmn_daemon, regress_dmn_dpo_a, regress_dmn_dpo_b, regress_dmn_writer_a;
DROP ROLE outreach_regress_dmn_a_reader, outreach_regress_dmn_a_writer, outreach_regress_dmn_a_dpo, outreach_regress_dmn_a_analyst,
          outreach_regress_dmn_b_reader, outreach_regress_dmn_b_writer, outreach_regress_dmn_b_dpo, outreach_regress_dmn_b_analyst;
SELECT count(*) AS roles_left FROM pg_roles WHERE rolname LIKE '%regress\_dmn\_%';
