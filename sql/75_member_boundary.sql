-- Security suite, part 5 (0.7.0): no member, and no role without access, can stop the service
-- for everyone. Impossible dates, the service's clock, locks on the service's tables, the
-- daemon's wake-up channel, the key file's setting and delivered_by. Same conventions as
-- 70_rls_attacks: attackers in their own sessions, no ids printed, each case "-- attack NN".
\i sql/security_setup.psql

CREATE FUNCTION regress_sec.run_as(who text, statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', who);
  RETURN regress_sec.run(statement);
END $$;
CREATE FUNCTION regress_sec.try_as(who text, query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', who);
  RETURN regress_sec.try(query);
END $$;

SELECT outreach.preloaded() AS library_preloaded;
SELECT outreach.create_controller('regress_sec_a', 'Controller A') IS NOT NULL AS created_a,
       outreach.create_controller('regress_sec_b', 'Controller B') IS NOT NULL AS created_b;
SELECT controller_id AS a_id FROM outreach.controller WHERE code = 'regress_sec_a' \gset
SELECT controller_id AS b_id FROM outreach.controller WHERE code = 'regress_sec_b' \gset
CREATE ROLE regress_sec_alice;    -- writer for A
CREATE ROLE regress_sec_evil;     -- writer for A with a schema of its own
CREATE ROLE regress_sec_dora;     -- DPO for A
CREATE ROLE regress_sec_bob;      -- writer for B
CREATE ROLE regress_sec_dan;      -- DPO for B
CREATE ROLE regress_sec_nobody;   -- no access at all
CREATE ROLE regress_sec_daemon;   -- the daemon's credential
GRANT outreach_daemon TO regress_sec_daemon;
CREATE SCHEMA regress_sec_evil AUTHORIZATION regress_sec_evil;
SELECT outreach.grant_controller_access(r::regrole, c, l)
FROM (VALUES ('regress_sec_alice', 'regress_sec_a', 'writer'), ('regress_sec_evil', 'regress_sec_a', 'writer'),
             ('regress_sec_dora', 'regress_sec_a', 'dpo'), ('regress_sec_bob', 'regress_sec_b', 'writer'),
             ('regress_sec_dan', 'regress_sec_b', 'dpo')) AS g(r, c, l);

SET SESSION AUTHORIZATION regress_sec_alice;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
VALUES ('A-001', 'Ada', 'Aown', '2007-05-06', 'EC1A 1BB');
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('summer_school', 'A school', '2024-07-01');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-07-01' FROM outreach.participant p, outreach.activity a;
RESET SESSION AUTHORIZATION;

-- Class 1: every date and time a member writes is finite and in 1900-2100 (23514, the
-- constraint naming the column); nothing is stored.
-- attack 01: infinity and year 9999 as an attendance date
SELECT regress_sec.run_as('regress_sec_alice', $$UPDATE outreach.attendance SET attended_on = 'infinity'$$);
SELECT regress_sec.run_as('regress_sec_alice', $$UPDATE outreach.attendance SET attended_on = '9999-12-31'$$);
SELECT regress_sec.run_as('regress_sec_alice', $$INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
  SELECT participant_id, activity_id, '-infinity' FROM outreach.attendance$$);
-- attack 02: withdrawal and restriction at the ends of time
SELECT regress_sec.run_as('regress_sec_alice', $$UPDATE outreach.participant SET withdrawn_at = 'infinity'$$);
SELECT regress_sec.run_as('regress_sec_alice', $$UPDATE outreach.participant SET withdrawn_at = '294276-12-31 23:59:59+00'$$);
SELECT regress_sec.run_as('regress_sec_alice', $$UPDATE outreach.participant SET restricted_at = '4714-11-24 00:00:00+00 BC'$$);
-- attack 03: activities from and to infinity
SELECT regress_sec.run_as('regress_sec_alice', $$UPDATE outreach.activity SET ends_on = 'infinity'$$);
SELECT regress_sec.run_as('regress_sec_alice', $$INSERT INTO outreach.activity (activity_type, name, starts_on)
  VALUES ('summer_school', 'from the dawn of time', '-infinity')$$);
SELECT regress_sec.run_as('regress_sec_alice', $$UPDATE outreach.activity SET starts_on = '3000-01-01', ends_on = NULL$$);
-- Ordinary values stay accepted, at the edges too.
SELECT regress_sec.run_as('regress_sec_alice', $$UPDATE outreach.participant SET withdrawn_at = '2100-12-31 23:59:59+00'$$);
-- A recorded withdrawal is not the writer's to clear (42501); the DPO reinstates.
SELECT regress_sec.run_as('regress_sec_alice', $$UPDATE outreach.participant SET withdrawn_at = NULL, restricted_at = NULL$$);
SELECT regress_sec.run_as('regress_sec_dora', format($$SELECT outreach.reinstate_participant(%s,
  ARRAY(SELECT participant_id FROM outreach.participant_core WHERE withdrawn_at IS NOT NULL), 'recorded by mistake')$$, :a_id));
SELECT regress_sec.run_as('regress_sec_alice', $$UPDATE outreach.attendance SET attended_on = '2024-07-02'$$);
SELECT count(*) AS impossible_rows FROM outreach.attendance WHERE NOT isfinite(attended_on) OR attended_on > '2100-12-31';

-- attack 04: the daemon's credential runs the service's clock years ahead (22023); today and
-- the past stay allowed, and a superuser (the DBA) may rehearse.
SELECT regress_sec.run_as('regress_sec_daemon', $$SELECT outreach.retention_sweep_prepare(current_date + 3650)$$);
SELECT regress_sec.run_as('regress_sec_daemon', $$SELECT outreach.retention_sweep_prepare('infinity')$$);
SELECT regress_sec.run_as('regress_sec_daemon', $$SELECT * FROM outreach.escalate_overdue_notices(now() + interval '10 years')$$);
SELECT regress_sec.run_as('regress_sec_daemon', $$SELECT * FROM outreach.enqueue_escalations('infinity')$$);
SELECT regress_sec.try_as('regress_sec_daemon', $$SELECT outreach.retention_sweep_prepare(current_date)$$);
SELECT regress_sec.run_as('regress_sec_daemon', $$SELECT * FROM outreach.escalate_overdue_notices(now())$$);
SELECT regress_sec.run($$SELECT outreach.retention_sweep_prepare(current_date + 3650)$$);
TRUNCATE outreach.retention_queue;
-- attack 05: a DPO holds records for ever
SELECT regress_sec.run_as('regress_sec_dora', format($$SELECT outreach.unmark_deletion(%s, '{1}', 'in use', 'infinity')$$, :a_id));
SELECT regress_sec.run_as('regress_sec_dora', format($$SELECT outreach.unmark_deletion(%s, '{1}', 'in use', '9999-12-31')$$, :a_id));
SELECT regress_sec.run_as('regress_sec_dora', format($$SELECT outreach.unmark_deletion(%s, '{1}', 'in use', current_date + 6 * 365)$$, :a_id));
-- attack 06: policy arguments at the int limits (retention_decide is callable by everyone)
SELECT regress_sec.try_as('regress_sec_nobody', $$SELECT (outreach.retention_decide(true, true, true, '2008-01-01', '2020-01-01',
  NULL, NULL, NULL, 2147483647, 7, 15, 'england', '2026-01-01')).due_on$$);
SELECT regress_sec.try_as('regress_sec_nobody', $$SELECT outreach.retention_due_on(true, true, true, '2008-01-01', '2020-01-01',
  NULL, NULL, -2147483648, 15, 7, 15, 'england', '2026-01-01')$$);
SELECT regress_sec.try_as('regress_sec_nobody', $$SELECT outreach.retention_due_on(true, true, true, '5874897-12-31', '2020-01-01',
  NULL, NULL, NULL, 15, 7, 15, 'england', '2026-01-01')$$);
SELECT regress_sec.try_as('regress_sec_nobody', $$SELECT outreach.retention_due_on(true, true, true, '2008-01-01', '2020-01-01',
  'infinity', NULL, NULL, 15, 7, 15, 'england', '2026-01-01')$$);

-- Class 4: no member can lock the service's tables in a mode that stalls others (42501), by
-- name or through a view of its own; ROW EXCLUSIVE (what its writes take anyway) is allowed.
-- attack 07: a writer locks the personal-data tables
SELECT regress_sec.run_as('regress_sec_alice', $$LOCK TABLE outreach.participant IN ACCESS EXCLUSIVE MODE$$);
SELECT regress_sec.run_as('regress_sec_alice', $$LOCK TABLE outreach.attendance IN SHARE MODE$$);
SELECT regress_sec.run_as('regress_sec_alice', $$LOCK TABLE outreach.activity IN SHARE UPDATE EXCLUSIVE MODE NOWAIT$$);
SELECT regress_sec.run_as('regress_sec_alice', $$LOCK TABLE outreach.participant, outreach.attendance IN ROW EXCLUSIVE MODE$$);
-- attack 08: a DPO locks the notification channels the daemon reads for every member
SELECT regress_sec.run_as('regress_sec_dora', $$LOCK TABLE outreach.notification_channel IN ACCESS EXCLUSIVE MODE$$);
-- attack 09: through a view of its own (LOCK recurses into a view's tables)
SELECT regress_sec.run_as('regress_sec_evil', $$CREATE VIEW regress_sec_evil.mine AS SELECT * FROM outreach.attendance$$);
SELECT regress_sec.run_as('regress_sec_evil', $$LOCK TABLE regress_sec_evil.mine IN ACCESS EXCLUSIVE MODE$$);
-- attack 10: a role with no access, on the lock the service's imports and deletions share
SELECT regress_sec.run_as('regress_sec_nobody', $$LOCK TABLE outreach.outcome_lock IN ACCESS EXCLUSIVE MODE$$);
SELECT regress_sec.run_as('regress_sec_nobody', $$LOCK TABLE outreach.participant IN ACCESS SHARE MODE$$);
SELECT count(*) AS functions_using_advisory_locks FROM pg_catalog.pg_proc p
WHERE p.pronamespace = 'outreach'::regnamespace AND p.prosrc LIKE '%pg\_advisory%';

-- Class 3 (NOTIFY): nothing on the channels anyone can LISTEN to; the daemon's channel is
-- readable by the daemon only. (A notification would print below as "Asynchronous notification".)
LISTEN outreach_retention;
LISTEN outreach_delivery;
-- attack 11: a member reads the daemon's channel name
SELECT regress_sec.run_as('regress_sec_dora', $$SELECT name FROM outreach.service_channel$$);
SELECT regress_sec.run_as('regress_sec_nobody', $$SELECT outreach.service_channel()$$);
SELECT regress_sec.run_as('regress_sec_dora', $$SELECT outreach.notify_service('deletion_confirmed')$$);
SELECT regress_sec.try_as('regress_sec_daemon', $$SELECT outreach.service_channel() ~ '^outreach_[0-9a-f]{32}$'$$);
SET SESSION AUTHORIZATION regress_sec_dora;
INSERT INTO outreach.notification_channel (controller_id, kind, target) VALUES (:a_id, 'email', 'dpo@a.example');
RESET SESSION AUTHORIZATION;
SELECT outreach.enqueue_delivery(:a_id, 'escalation', 'regress-sec-notify', '{}', 'subject', 'message') AS queued;
UNLISTEN *;
-- attack 11b: trace_notify, which any session may set, would print the channel's name.
SET trace_notify = on;
SET client_min_messages = debug1;
SELECT outreach.enqueue_delivery(:a_id, 'escalation', 'regress-sec-trace', '{}', 'subject', 'message') AS queued;
RESET client_min_messages;
RESET trace_notify;

-- Class 8: the key file's path is hidden from every role but superusers.
-- attack 12
SELECT regress_sec.run_as('regress_sec_nobody', $$SHOW outreach.key_file$$);
SELECT regress_sec.try_as('regress_sec_alice', $$SELECT current_setting('outreach.key_file')$$);
SELECT regress_sec.try_as('regress_sec_nobody', $$SELECT count(*) FROM pg_catalog.pg_settings WHERE name = 'outreach.key_file'$$);

-- Class 8: delivered_by names another member only with its agreement.
-- attack 13: A names B without B's agreement
SELECT regress_sec.run_as('regress_sec_alice', format($$INSERT INTO outreach.activity (activity_type, name, starts_on, delivered_by)
  VALUES ('summer_school', 'by B?', '2024-07-01', %s)$$, :b_id));
SELECT regress_sec.run_as('regress_sec_alice', format($$UPDATE outreach.activity SET delivered_by = %s$$, :b_id));
-- Only B's DPO can agree for B.
SELECT regress_sec.run_as('regress_sec_dora', format($$SELECT outreach.agree_delivery_partner(%s, 'regress_sec_a')$$, :b_id));
SELECT regress_sec.run_as('regress_sec_dan', format($$SELECT outreach.agree_delivery_partner(%s, 'regress_sec_a')$$, :b_id));
SELECT regress_sec.run_as('regress_sec_alice', format($$UPDATE outreach.activity SET delivered_by = %s$$, :b_id));
SELECT regress_sec.run_as('regress_sec_alice', format($$UPDATE outreach.activity SET delivered_by = %s$$, :a_id));
SELECT regress_sec.run_as('regress_sec_dan', format($$SELECT outreach.agree_delivery_partner(%s, 'regress_sec_a', false)$$, :b_id));
SELECT regress_sec.run_as('regress_sec_alice', format($$UPDATE outreach.activity SET delivered_by = %s$$, :b_id));
SELECT regress_sec.run_as('regress_sec_alice', $$UPDATE outreach.activity SET delivered_by = NULL$$);

-- Class 5: a member's notification channels are limited in number (54000), nothing stored past 10.
-- attack 14
SELECT regress_sec.run_as('regress_sec_dora', format($$INSERT INTO outreach.notification_channel (controller_id, kind, target)
  SELECT %s, 'email', 'dpo' || i || '@a.example' FROM generate_series(1, 9) i$$, :a_id));
SELECT regress_sec.run_as('regress_sec_dora', format($$INSERT INTO outreach.notification_channel (controller_id, kind, target)
  VALUES (%s, 'email', 'one-too-many@a.example')$$, :a_id));
SELECT regress_sec.try_as('regress_sec_dora', $$SELECT count(*) FROM outreach.notification_channel$$);

-- Triggers that check a member's own rows leave other members' rows to row security, with its
-- error: which error comes back tells nothing of the other member (attack pass, 0.7.0).
-- attack 15: B's DPO adds an eleventh channel for A (A has 10): row security, not the count
SELECT regress_sec.run_as('regress_sec_dan', format($$INSERT INTO outreach.notification_channel (controller_id, kind, target)
  VALUES (%s, 'email', 'b-was-here@b.example')$$, :a_id));
-- attack 16: B's writer names B as delivered_by of an activity of A's (B agreed nothing for A)
SELECT regress_sec.run_as('regress_sec_bob', format($$INSERT INTO outreach.activity (controller_id, activity_type, name, starts_on, delivered_by)
  VALUES (%s, 'summer_school', 'planted', '2024-07-01', %s)$$, :a_id, :b_id));
-- attack 17: a DPO reads the service's run counts (every member's together)
SELECT regress_sec.try_as('regress_sec_dora', $$SELECT count(*) FROM outreach.retention_run$$);

-- Clean up (roles are cluster-wide; the later suites count every member's rows).
DELETE FROM outreach.delivery_attempt WHERE controller_id IN (:a_id, :b_id);
DELETE FROM outreach.notice_delivery WHERE controller_id IN (:a_id, :b_id);
DELETE FROM outreach.notification_channel WHERE controller_id IN (:a_id, :b_id);
TRUNCATE outreach.retention_queue;
SELECT pg_temp.sec_cleanup();
