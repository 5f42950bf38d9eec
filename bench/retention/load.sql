-- Synthetic data for bench/retention.sh: :controllers controllers (default retention policy),
-- :participants participants with complete records and one attendance each. The first tenth of
-- the ids (the longest-registered people, the lowest ids of every controller) were born in 1990:
-- Expected HE Entry Year 2008, long track due on 1 September 2023, so due at the sweep's as_of
-- (2025-09-01) and still retained. The rest were born in 2005 (entry 2023, long-track date
-- 2038 after their attendance window closes in 2036): not due. Loaded by the superuser with
-- triggers off (session_replication_role), so linkage_id and last_attended_on are set here.
\set ON_ERROR_STOP on
SET session_replication_role = replica;
SET synchronous_commit = off;

SELECT outreach.create_controller(format('bench%s', lpad(c::text, 3, '0')), format('Bench member %s', c))
FROM generate_series(1, :controllers) AS c;
-- (the trigger that gives a new controller its default policy is off too)
INSERT INTO outreach.retention_policy (controller_id) SELECT controller_id FROM outreach.controller
ON CONFLICT DO NOTHING;

INSERT INTO outreach.activity (controller_id, activity_id, activity_type, name, starts_on)
OVERRIDING SYSTEM VALUE
SELECT c, (c - 1) * 20 + k, t.code, format('Activity %s', k), date '2020-01-01' + k
FROM generate_series(1, :controllers) AS c, generate_series(1, 20) AS k,
     LATERAL (SELECT code FROM outreach.activity_type ORDER BY code OFFSET k % 15 LIMIT 1) AS t;

INSERT INTO outreach.participant (controller_id, participant_id, first_name, last_name, date_of_birth, postcode,
                                  ethnicity, linkage_id, created_at, updated_at, last_attended_on)
OVERRIDING SYSTEM VALUE
SELECT controller_id, i, first_name, last_name, dob, postcode::outreach.uk_postcode, 'not stated',
       outreach.pseudonymise(first_name, last_name, dob, postcode), created, created, attended
FROM (
  SELECT i, 1 + i % :controllers AS controller_id,
         'F' || i AS first_name, 'L' || (i % 50000) AS last_name,
         CASE WHEN i <= :participants / 10 THEN date '1990-01-01' ELSE date '2005-01-01' END + (i % 200) AS dob,
         'B' || (i % 99 + 1) || ' ' || (i % 10) || 'A' || chr(65 + i % 2) AS postcode,
         timestamptz '2019-06-01 12:00+00' + (i % 500) * interval '1 day' AS created,
         date '2021-01-01' + (i % 365) AS attended
  FROM generate_series(1, :participants) AS i
  ORDER BY 2, 1
) AS p;

INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on, created_at)
SELECT p.controller_id, p.participant_id, (p.controller_id - 1) * 20 + 1 + p.participant_id % 20,
       p.last_attended_on, p.last_attended_on
FROM outreach.participant p
ORDER BY p.controller_id, p.participant_id;

RESET session_replication_role;
SELECT setval(pg_get_serial_sequence('outreach.participant', 'participant_id'), :participants);
VACUUM (ANALYZE) outreach.participant, outreach.activity, outreach.attendance, outreach.controller_role,
  outreach.retention_policy;
