-- Synthetic data for bench/subject_access.sh: :controllers members (codes :prefix001...), each
-- with 200 activities; :participants participants spread over them (ids interleaved, as members
-- register in turn), 2 attendances each, one KS4 outcome fact each (blocks of the outcome store),
-- and every one sent in one finished DfE export (the disclosure ledger). Loaded by the superuser
-- with triggers off (session_replication_role), so linkage ids, last attendance and the
-- shareable list are computed here. Then :sample people of member 42, each with an open access
-- request naming them (bench_sample).
\set ON_ERROR_STOP on
-- The members first, with their triggers (retention policy, locks), then the bulk without.
SELECT outreach.create_controller(format('%s%s', :'prefix', lpad(c::text, 3, '0')), format('Member %s', c))
FROM generate_series(1, :controllers) AS c;
SET session_replication_role = replica;
SET synchronous_commit = off;

INSERT INTO outreach.activity (controller_id, activity_id, activity_type, name, starts_on)
OVERRIDING SYSTEM VALUE
SELECT c, (c - 1) * 200 + k, t.code, format('Activity %s', k), date '2020-01-01' + k
FROM generate_series(1, :controllers) AS c, generate_series(1, 200) AS k,
     LATERAL (SELECT code FROM outreach.activity_type ORDER BY code OFFSET k % 15 LIMIT 1) AS t;

INSERT INTO outreach.participant (controller_id, participant_id, first_name, last_name, date_of_birth, postcode,
                                  sex, linkage_id, last_attended_on)
OVERRIDING SYSTEM VALUE
SELECT 1 + i % :controllers, i, 'F' || i, 'L' || (i % 50000), dob, pc::outreach.uk_postcode, 'F',
       outreach.pseudonymise('F' || i, 'L' || (i % 50000), dob, pc), date '2021-01-03'
FROM (SELECT i, date '2005-09-01' + (i % 1800) AS dob, 'B' || (i % 99 + 1) || ' ' || (i % 10) || 'AA' AS pc
      FROM generate_series(1, :participants) AS i) AS g;

INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on)
SELECT p.controller_id, p.participant_id, (p.controller_id - 1) * 200 + 1 + (p.participant_id * j * 31) % 200,
       date '2021-01-01' + j
FROM outreach.participant p, generate_series(1, 2) AS j;

INSERT INTO outreach.shareable_participant (controller_id, participant_id, linkage_id)
SELECT controller_id, participant_id, linkage_id FROM outreach.participant;

-- One KS4 fact per participant, in the outcome store's blocks (participant_id >> 16).
INSERT INTO outreach.outcome_block (controller_id, recipient, block, participant_ids, outcomes, academic_years, measures,
                                    provider_ukprns, provider_names, outcome_values, import_ids, line_nos, updated_ats)
SELECT controller_id, 'dfe', (participant_id >> 16)::int, array_agg(participant_id ORDER BY participant_id),
       array_agg('ks4'::text), array_agg(2023), array_agg('attainment8'::text), array_agg(0), array_agg(''::text),
       array_agg((participant_id % 90)::text), array_agg(0::bigint), array_agg(2), array_agg(timestamptz '2024-01-05 10:00+00')
FROM outreach.participant GROUP BY controller_id, participant_id >> 16;

-- Everyone sent once to DfE, in the ledger's blocks (participant_id >> 12).
INSERT INTO outreach.export (recipient, layout_version, as_of, entry_year_from, entry_year_to, status, file_name, started_by,
                             finished_at, sha256, manifest, row_count)
VALUES ('dfe', 1, '2024-11-28', 2023, 2025, 'finished', 'dfe_2024.csv', 'bench', '2024-11-28 18:00+00', repeat('0', 64), '{}',
        :participants);
INSERT INTO outreach.disclosure_block (controller_id, block, export_id, recipient, participant_ids, cohort_years,
                                       participant_references, content_hashes)
SELECT p.controller_id, (p.participant_id >> 12)::int, e.export_id, 'dfe', array_agg(p.participant_id ORDER BY p.participant_id),
       array_agg(2025), array_agg('R' || p.participant_id), array_agg(p.participant_id)
FROM outreach.participant p, (SELECT export_id FROM outreach.export WHERE file_name = 'dfe_2024.csv') e
GROUP BY p.controller_id, p.participant_id >> 12, e.export_id;

RESET session_replication_role;
SELECT setval(pg_get_serial_sequence('outreach.participant', 'participant_id'), :participants);

-- The people asked about: :sample of member 42, each with an open access request naming them.
CREATE TABLE bench_sample AS
SELECT row_number() OVER (ORDER BY participant_id) AS k, controller_id, participant_id, NULL::bigint AS request_id
FROM (SELECT controller_id, participant_id FROM outreach.participant WHERE controller_id = 42
      ORDER BY hashint8(participant_id) LIMIT :sample) s;
WITH r AS (
  INSERT INTO outreach.rights_request (controller_id, kind, received_on, requester, participant_ids, due_on, opened_by)
  SELECT controller_id, 'access', current_date, 'subject', ARRAY[participant_id], (current_date + interval '1 month')::date, 'bench'
  FROM bench_sample RETURNING controller_id, request_id, participant_ids[1] AS participant_id)
UPDATE bench_sample b SET request_id = r.request_id FROM r WHERE r.participant_id = b.participant_id;
GRANT SELECT ON bench_sample TO PUBLIC;
VACUUM (FREEZE, ANALYZE);
