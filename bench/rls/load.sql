-- Synthetic data for bench/rls.sh: :controllers controllers, :participants participants
-- (a fifth of them the same people registered again by another controller), 200 activities
-- per controller and :per_participant attendance rows per participant. Loaded by the
-- superuser with triggers off (session_replication_role), so linkage_id is computed here.
\set ON_ERROR_STOP on
SET session_replication_role = replica;
SET synchronous_commit = off;

SELECT outreach.create_controller(format('bench%s', lpad(c::text, 3, '0')), format('Bench member %s', c))
FROM generate_series(1, :controllers) AS c;

INSERT INTO outreach.activity (controller_id, activity_id, activity_type, name, starts_on)
OVERRIDING SYSTEM VALUE
SELECT c, (c - 1) * 200 + k, t.code, format('Activity %s', k), date '2020-01-01' + k
FROM generate_series(1, :controllers) AS c, generate_series(1, 200) AS k,
     LATERAL (SELECT code FROM outreach.activity_type ORDER BY code OFFSET k % 15 LIMIT 1) AS t;

-- person: the first 80% are distinct people; the rest re-register earlier people elsewhere.
INSERT INTO outreach.participant (controller_id, participant_id, first_name, last_name, date_of_birth, postcode,
                                  ethnicity, linkage_id)
OVERRIDING SYSTEM VALUE
SELECT controller_id, i, first_name, last_name, dob, postcode::outreach.uk_postcode, 'not stated',
       outreach.pseudonymise(first_name, last_name, dob, postcode)
FROM (
  SELECT i, 1 + i % :controllers AS controller_id,
         'F' || person AS first_name, 'L' || (person % 50000) AS last_name,
         date '2000-01-01' + person % 5000 AS dob,
         'B' || (person % 99 + 1) || ' ' || (person % 10) || 'A' || chr(65 + person % 2) AS postcode
  FROM (SELECT i, CASE WHEN i <= :participants * 4 / 5 THEN i ELSE (i * 7) % (:participants * 4 / 5) + 1 END AS person
        FROM generate_series(1, :participants) AS i) AS g
  ORDER BY 2, 1
) AS p;

INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on)
SELECT p.controller_id, p.participant_id, (p.controller_id - 1) * 200 + 1 + (p.participant_id * j * 31) % 200,
       date '2021-01-01' + j
FROM outreach.participant p, generate_series(1, :per_participant) AS j
ORDER BY p.controller_id, p.participant_id;

-- What the triggers would have kept: who other members may see (shared_engagement).
INSERT INTO outreach.shareable_participant (controller_id, participant_id, linkage_id)
SELECT p.controller_id, p.participant_id, p.linkage_id FROM outreach.participant p
WHERE p.linkage_id IS NOT NULL AND p.withdrawn_at IS NULL AND p.restricted_at IS NULL
  AND EXISTS (SELECT FROM outreach.attendance a WHERE a.controller_id = p.controller_id AND a.participant_id = p.participant_id);

RESET session_replication_role;
SELECT setval(pg_get_serial_sequence('outreach.participant', 'participant_id'), :participants);
VACUUM (FREEZE, ANALYZE) outreach.participant, outreach.activity, outreach.attendance, outreach.controller_role,
  outreach.shareable_participant;
