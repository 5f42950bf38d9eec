-- Retention: policies, status, forecast, sweeps (with time travel through as_of), notices,
-- confirmation, un-marking, deletion with tombstones, erasure and escalation.
SET search_path = regress, outreach, public;
SET datestyle = ISO;
SET timezone = 'UTC';
-- Ids depend on what ran before: errors are shown with them masked.
CREATE FUNCTION regress.try_masked(query text) RETURNS text LANGUAGE sql AS $$
  SELECT regexp_replace(regress.try(query), '(participants? |controller |notice )\{?[0-9,]+\}?', '\1<id>', 'g')
$$;

SELECT outreach.create_controller('regress_ret_a', 'Retention A') AS ret_a,
       outreach.create_controller('regress_ret_b', 'Retention B') AS ret_b \gset
CREATE ROLE regress_ret_dpo_a;
CREATE ROLE regress_ret_dpo_b;
CREATE ROLE regress_ret_writer_a;
CREATE ROLE regress_ret_daemon;
SELECT outreach.grant_controller_access('regress_ret_dpo_a', 'regress_ret_a', 'dpo'),
       outreach.grant_controller_access('regress_ret_dpo_b', 'regress_ret_b', 'dpo'),
       outreach.grant_controller_access('regress_ret_writer_a', 'regress_ret_a', 'writer');
GRANT outreach_daemon TO regress_ret_daemon;

-- Every controller gets the default policy.
SELECT c.code, p.long_track_years, p.short_track_years, p.attendance_window_years, p.nation, p.cycle_month,
       p.cycle_day, p.confirm_by_month, p.confirm_by_time, p.time_zone, p.grace_days
FROM outreach.retention_policy p JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress_ret_%' ORDER BY 1;

-- Bad policies: clear errors, nothing changed.
SELECT regress.try($$SELECT outreach.set_retention_policy('regress_ret_a', long_track_years => -1)::text$$);
SELECT regress.try($$SELECT outreach.set_retention_policy('regress_ret_a', long_track_years => 500)::text$$);
SELECT regress.try($$SELECT outreach.set_retention_policy('regress_ret_a', short_track_years => -7)::text$$);
SELECT regress.try($$SELECT outreach.set_retention_policy('regress_ret_a', attendance_window_years => 0)::text$$);
SELECT regress.try($$SELECT outreach.set_retention_policy('regress_ret_a', nation => 'france')::text$$);
SELECT regress.try($$SELECT outreach.set_retention_policy('regress_ret_a', confirm_by_month => 13)::text$$);
SELECT regress.try($$SELECT outreach.set_retention_policy('regress_no_such', long_track_years => 10)::text$$);
SELECT regress.try($$UPDATE outreach.retention_policy SET short_track_years = -1 WHERE controller_id = $$ || :ret_a);
SET ROLE regress_ret_dpo_a;
SELECT regress.try($$SELECT outreach.set_retention_policy('regress_ret_a', long_track_years => 10)::text$$);
RESET ROLE;
SELECT long_track_years, short_track_years FROM outreach.retention_policy WHERE controller_id = :ret_a;

-- The rules, evaluated at fixed dates.
SELECT label, d.track, d.expected_he_entry_year, d.entry_year_overridden, d.due_on, d.reasons
FROM (VALUES
  ('complete, recent attendance', true, true, true, date '2007-03-01', date '2020-01-10', date '2024-03-01', NULL::date, NULL::int),
  ('adult override', true, true, true, date '1990-05-05', date '2020-01-10', date '2024-03-01', NULL, 2026),
  ('no postcode', true, true, false, date '2007-03-01', date '2020-01-10', date '2024-03-01', NULL, NULL),
  ('never attended', true, true, true, date '2007-03-01', date '2020-01-10', NULL, NULL, NULL),
  ('no date of birth', true, true, true, NULL, date '2020-01-10', date '2024-03-01', NULL, NULL),
  ('withdrawn', true, true, true, date '2007-03-01', date '2020-01-10', date '2024-03-01', date '2025-06-30', NULL),
  ('created after attending', true, false, true, date '2007-03-01', date '2025-01-10', date '2024-03-01', NULL, NULL)
) AS t(label, f, l, pc, dob, created, attended, withdrawn, override)
CROSS JOIN LATERAL outreach.retention_decide(f, l, pc, dob, created, attended, withdrawn, override,
                                             15, 7, 15, 'england', date '2026-01-01') d
ORDER BY label;

-- Attendance more than 15 years before the evaluation date: off the long track.
SELECT as_of, d.track, d.due_on, d.reasons
FROM (VALUES (date '2039-03-01'), (date '2039-03-02')) AS t(as_of)
CROSS JOIN LATERAL outreach.retention_decide(true, true, true, '2007-03-01', '2020-01-10', '2024-03-01', NULL, NULL,
                                             15, 7, 15, 'england', as_of) d;

-- Participants of controller A across the tracks (inserted by the superuser with fixed dates).
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode,
                                  he_entry_year_override, he_entry_year_override_reason, withdrawn_at, created_at,
                                  restricted_at)
VALUES
  (:ret_a, 'long',       'Ann',  'Long',  '2007-03-01', 'M1 1AE', NULL, NULL, NULL, '2020-01-10', NULL),
  (:ret_a, 'adult',      'Ada',  'Adult', '1990-05-05', 'M1 1AE', 2026, 'Access course, enters HE in 2026', NULL, '2020-01-10', NULL),
  (:ret_a, 'nopostcode', 'Ned',  'None',  '2007-03-01', NULL,     NULL, NULL, NULL, '2020-01-10', NULL),
  (:ret_a, 'never',      'Nev',  'Never', '2008-03-01', 'B1 1AA', NULL, NULL, NULL, '2020-01-10', NULL),
  (:ret_a, 'withdrawn',  'Wil',  'Drawn', '2007-03-01', 'B1 1AA', NULL, NULL, '2025-06-30 12:00+00', '2020-01-10',
   '2025-06-30 12:00+00');
-- (Since 0.11.0 recording a withdrawal marks the record at once, on the member's withdrawal
-- notice of the day: 89_rights_requests.sql tests that. Here the sweep's withdrawn track is
-- tested on a record whose withdrawal was recorded while it was restricted, so not marked, and
-- whose restriction was lifted since.)
UPDATE outreach.participant SET restricted_at = NULL WHERE external_ref = 'withdrawn';
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode, created_at)
VALUES (:ret_b, 'b-never', 'Bea', 'Other', '2008-03-01', 'B1 1AA', '2020-01-10');
INSERT INTO outreach.activity (controller_id, activity_type, starts_on) VALUES (:ret_a, 'summer_school', '2024-03-01');
INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on)
SELECT p.controller_id, p.participant_id, a.activity_id, '2024-03-01'
FROM outreach.participant p JOIN outreach.activity a USING (controller_id)
WHERE p.external_ref IN ('long', 'adult', 'nopostcode', 'withdrawn');
SELECT external_ref, last_attended_on FROM outreach.participant WHERE controller_id = :ret_a ORDER BY 1;

-- The DPO's view of its participants.
SET ROLE regress_ret_dpo_a;
SELECT p.external_ref, s.track, s.expected_he_entry_year, s.entry_year_overridden, s.due_on, s.status, s.reasons
FROM outreach.retention_status s JOIN outreach.participant_core p USING (controller_id, participant_id)
ORDER BY 1;
SELECT count(*) AS rows_of_other_controllers FROM outreach.retention_status WHERE controller_id <> :ret_a;
SELECT status, due_year, participants FROM outreach.retention_summary ORDER BY 1, 2;
SELECT count(*) AS forecast_years, sum(participants) AS participants,
       min(due_year) = extract(year FROM current_date)::int AS starts_this_year
FROM outreach.retention_forecast;
SELECT due_year, participants FROM outreach.retention_forecast WHERE due_year IN (2031, 2039) ORDER BY 1;
RESET ROLE;

-- Sweeps travel in time. Before anything is due, nothing is marked.
CALL outreach.retention_sweep('2025-06-29');
SELECT external_ref, retention_status FROM outreach.participant WHERE controller_id IN (:ret_a, :ret_b) ORDER BY 1;
-- The withdrawn one falls due on the day of withdrawal; the batch size of 1 makes several batches.
CALL outreach.retention_sweep('2025-06-30', 1);
SELECT external_ref, retention_status, retention_reasons, retention_due_on, retention_marked_on
FROM outreach.participant WHERE controller_id IN (:ret_a, :ret_b) AND retention_status <> 'retained' ORDER BY 1;
-- Seven years after creation: the 7-year records (both controllers). Run twice: the second is a no-op.
CALL outreach.retention_sweep('2027-01-10', 1);
CALL outreach.retention_sweep('2027-01-10', 1);
SELECT external_ref, retention_status, retention_reasons, retention_due_on, retention_marked_on
FROM outreach.participant WHERE controller_id IN (:ret_a, :ret_b) AND retention_status <> 'retained' ORDER BY 1;
SELECT kind, as_of, status, candidates, batches, rows_marked, finished_at IS NOT NULL AS finished
FROM outreach.retention_run WHERE as_of IN ('2025-06-29', '2025-06-30', '2027-01-10') ORDER BY run_id;
-- One notice per controller and cycle. A record marked less than 14 days before its cycle's
-- deadline (or after it) joins the next cycle. The deadline is 17:00 London time on the last working
-- day of October (2025-10-31 is a Friday; in 2027 the 31st is a Sunday, so Friday the 29th, still BST).
SELECT c.code, n.cycle_year, n.confirm_by, n.records_marked
FROM outreach.deletion_notice n JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress_ret_%' ORDER BY 1, 2;
SELECT notice_id AS notice_a_2025 FROM outreach.deletion_notice WHERE controller_id = :ret_a AND cycle_year = 2025 \gset
SELECT notice_id AS notice_a_2027 FROM outreach.deletion_notice WHERE controller_id = :ret_a AND cycle_year = 2027 \gset
SELECT notice_id AS notice_b FROM outreach.deletion_notice WHERE controller_id = :ret_b \gset

-- Confirmation: only the controller's DPO, only its notices, only once.
SET ROLE regress_ret_writer_a;
SELECT regress.try_masked(format('SELECT outreach.confirm_deletion(%s)::text', :notice_a_2025));
RESET ROLE;
SET ROLE regress_ret_dpo_b;
SELECT regress.try_masked(format('SELECT outreach.confirm_deletion(%s)::text', :notice_a_2025));
SELECT regress.try_masked('SELECT outreach.confirm_deletion(999999)::text');
RESET ROLE;
SET ROLE regress_ret_dpo_a;
SELECT regress.try_masked(format('SELECT outreach.confirm_deletion(%s)::text', :notice_b));
SELECT regress.try_masked(format('SELECT outreach.confirm_deletion(%s)::text', :notice_a_2025));
SELECT regress.try_masked(format('SELECT outreach.confirm_deletion(%s)::text', :notice_a_2025));
-- A list with one record that is not waiting: refused whole.
SELECT regress.try_masked(format('SELECT outreach.confirm_deletion(%s, ARRAY(SELECT participant_id FROM outreach.participant_core WHERE controller_id = %s AND external_ref IN (%L, %L)))::text',
                          :ret_a, :ret_a, 'nopostcode', 'long'));
-- Un-marking needs a reason; the record returns to retained and sweeps leave it alone until the hold ends.
SELECT regress.try_masked(format('SELECT outreach.unmark_deletion(%s, ARRAY(SELECT participant_id FROM outreach.participant_core WHERE external_ref = %L), %L)::text',
                          :ret_a, 'never', ''));
SELECT regress.try_masked(format('SELECT outreach.unmark_deletion(%s, ARRAY(SELECT participant_id FROM outreach.participant_core WHERE external_ref = %L), %L, %L)::text',
                          :ret_a, 'never', 'attends our 2027 summer school', (current_date + 1000)::text));
-- (0.7.0: a hold is at most five years from today, so the hold is given and shown in days from today.)
SELECT external_ref, status, hold_until - current_date AS hold_days FROM outreach.retention_status s JOIN outreach.participant_core p USING (controller_id, participant_id)
WHERE external_ref IN ('never', 'nopostcode') ORDER BY 1;
SELECT regress.try_masked(format('SELECT outreach.confirm_deletion(%s, ARRAY(SELECT participant_id FROM outreach.participant_core WHERE external_ref = %L))::text',
                          :ret_a, 'nopostcode'));
RESET ROLE;
CALL outreach.retention_sweep('2027-02-01');
SELECT external_ref, retention_status, retention_hold_until - current_date AS hold_days FROM outreach.participant
WHERE controller_id = :ret_a ORDER BY 1;

-- Members cannot run sweeps or deletions; the daemon role can.
SET ROLE regress_ret_dpo_a;
SELECT regress.try($$SELECT outreach.retention_sweep_prepare('2027-02-01')::text$$);
SELECT regress.try($$SELECT outreach.execute_deletions(10)::text$$);
RESET ROLE;
SET ROLE regress_ret_daemon;
SELECT outreach.execute_deletions(1) AS deleted_first_batch;
SELECT outreach.execute_deletions(100) AS deleted_second_batch;
SELECT outreach.execute_deletions(100) AS nothing_left;
RESET ROLE;

-- Deleted means gone: rows and attendance. What is left is a tombstone without personal data.
SELECT external_ref FROM outreach.participant WHERE controller_id = :ret_a ORDER BY 1;
SELECT count(*) AS attendance_left FROM outreach.attendance a
WHERE a.controller_id = :ret_a AND NOT EXISTS (SELECT 1 FROM outreach.participant p
  WHERE p.controller_id = a.controller_id AND p.participant_id = a.participant_id);
SET ROLE regress_ret_dpo_a;
SELECT reasons, due_on, marked_on, notice_id = :notice_a_2025 OR notice_id = :notice_a_2027 AS from_a_notice,
       confirmed_by, confirmed_at IS NOT NULL AS confirmed, deleted_at IS NOT NULL AS deleted
FROM outreach.tombstone ORDER BY due_on, reasons;
SELECT column_name FROM information_schema.columns WHERE table_schema = 'outreach' AND table_name = 'tombstone' ORDER BY ordinal_position;
SELECT action, relation, count(*) FROM outreach.audit_log
WHERE action IN ('confirm_deletion', 'unmark', 'delete', 'erasure') GROUP BY 1, 2 ORDER BY 1, 2;

-- Erasure: at once, by the same path.
SELECT participant_id AS ann FROM outreach.participant_core WHERE external_ref = 'long' \gset
-- (returns the tombstone)
SELECT t.participant_id = :ann AS tombstone_of_ann, t.reasons, t.confirmed_by FROM outreach.erase_participant(:ret_a, :ann) t;
-- Erasing again (a repeated request) changes nothing: no error, a NOTICE with the date (hidden
-- here: it varies), the one tombstone unchanged.
SET client_min_messages = warning;
SELECT regress.try_masked(format('SELECT (outreach.erase_participant(%s, %s)).reasons::text', :ret_a, :ann));
RESET client_min_messages;
SELECT reasons, confirmed_by FROM outreach.tombstone WHERE participant_id = :ann;
RESET ROLE;
SET ROLE regress_ret_dpo_b;
SELECT regress.try_masked(format('SELECT (outreach.erase_participant(%s, %s)).reasons::text', :ret_a, :ann));
RESET ROLE;

-- Escalation: B never confirmed its notice. After the deadline it is escalated, once.
SELECT outreach.set_retention_policy('regress_ret_b', legal_contact => 'legal@b.example');
SELECT c.code, e.records_waiting, e.legal_contact
FROM outreach.escalate_overdue_notices('2027-11-01 12:00+00') e JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress_ret_%';
SELECT count(*) AS escalated_again FROM outreach.escalate_overdue_notices('2027-11-02 12:00+00') e
WHERE e.controller_id = :ret_b;
-- With a grace period, waiting records are confirmed once it has passed too.
SELECT outreach.set_retention_policy('regress_ret_b', grace_days => 30);
SELECT count(*) FROM outreach.escalate_overdue_notices('2027-11-15 12:00+00');
SELECT external_ref, retention_status, deletion_confirmed_by FROM outreach.participant WHERE controller_id = :ret_b;
SELECT count(*) FROM outreach.escalate_overdue_notices('2028-01-15 12:00+00');
SELECT external_ref, retention_status, deletion_confirmed_by FROM outreach.participant WHERE controller_id = :ret_b;

-- Clean up what is cluster-wide.
DELETE FROM outreach.tombstone WHERE controller_id IN (:ret_a, :ret_b);
DELETE FROM outreach.attendance WHERE controller_id IN (:ret_a, :ret_b);
DELETE FROM outreach.participant WHERE controller_id IN (:ret_a, :ret_b);
DELETE FROM outreach.activity WHERE controller_id IN (:ret_a, :ret_b);
DELETE FROM outreach.deletion_notice WHERE controller_id IN (:ret_a, :ret_b);
DELETE FROM outreach.controller WHERE controller_id IN (:ret_a, :ret_b);
DROP FUNCTION regress.try_masked(text);
DROP ROLE regress_ret_dpo_a, regress_ret_dpo_b, regress_ret_writer_a, regress_ret_daemon;
DROP ROLE outreach_regress_ret_a_reader, outreach_regress_ret_a_writer, outreach_regress_ret_a_dpo, outreach_regress_ret_a_analyst,
          outreach_regress_ret_b_reader, outreach_regress_ret_b_writer, outreach_regress_ret_b_dpo, outreach_regress_ret_b_analyst;
