-- Reports: each participant profiled as at their first activity, reach by neighbourhood band
-- and outcomes by activity under the disclosure policy, withdrawn and restricted participants
-- never counted, and who may read what (readers: rows; analysts and BI: aggregates only).
SET search_path = regress, outreach, public;
SET datestyle = ISO;
\set VERBOSITY terse

SET client_min_messages = warning;
CREATE FUNCTION pg_temp.rp_cleanup() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  r record;
  ids int[] := ARRAY(SELECT controller_id FROM outreach.controller WHERE code LIKE 'regress\_rp\_%');
BEGIN
  DELETE FROM outreach.outcome_block WHERE controller_id = ANY (ids);
  DELETE FROM outreach.attendance WHERE controller_id = ANY (ids);
  DELETE FROM outreach.activity WHERE controller_id = ANY (ids);
  DELETE FROM outreach.participant WHERE controller_id = ANY (ids);
  DELETE FROM outreach.deletion_notice WHERE controller_id = ANY (ids);
  DELETE FROM outreach.tombstone WHERE controller_id = ANY (ids);
  DELETE FROM outreach.audit_log WHERE controller_id = ANY (ids);
  DELETE FROM outreach.controller WHERE controller_id = ANY (ids);
  TRUNCATE outreach.postcode_geography, outreach.polar4_area, outreach.deprivation_area, outreach.area_lookup_load;
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles
           WHERE rolname LIKE 'regress\_rp\_%' OR rolname LIKE 'outreach\_regress\_rp\_%' ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP ROLE %I', r.rolname);
  END LOOP;
END $$;
SELECT pg_temp.rp_cleanup();
RESET client_min_messages;

SELECT outreach.create_controller('regress_rp_a', 'Regress reports A') AS rp_a \gset
SELECT outreach.create_controller('regress_rp_b', 'Regress reports B') AS rp_b \gset
CREATE ROLE regress_rp_reader;
CREATE ROLE regress_rp_analyst;
CREATE ROLE regress_rp_bi IN ROLE outreach_bi;
SELECT outreach.grant_controller_access('regress_rp_reader', 'regress_rp_a', 'reader') IS NULL AS granted;
SELECT outreach.grant_controller_access('regress_rp_analyst', 'regress_rp_a', 'analyst') IS NULL AS granted;

-- A small postcode directory: AB1 0AA since 1980 (ward quintile 1, IMD 2019 decile 2),
-- AB1 0AB from January 2023 (quintile 5), AB1 0AD terminated in June 2020.
INSERT INTO outreach.area_lookup_load (kind, loaded_by, staged_at) VALUES ('onspd', 'regress', now());
INSERT INTO outreach.postcode_geography (postcode, introduced, terminated, country, local_authority, ward, lsoa11, msoa11, load_id)
SELECT v.pc::outreach.uk_postcode, v.intr::date, v.term::date, 'E92000001', 'E06000001', v.ward, v.lsoa, 'E02000001', l.load_id
FROM (VALUES ('AB1 0AA', '1980-01-01', NULL, 'E05000001', 'E01000001'),
             ('AB1 0AB', '2023-01-01', NULL, 'E05000002', 'E01000002'),
             ('AB1 0AD', '1980-01-01', '2020-06-01', 'E05000001', 'E01000001')) AS v(pc, intr, term, ward, lsoa),
     (SELECT max(load_id) AS load_id FROM outreach.area_lookup_load) AS l;
INSERT INTO outreach.polar4_area (geography, area_code, quintile, load_id)
SELECT 'ward', v.code, v.q, (SELECT max(load_id) FROM outreach.area_lookup_load)
FROM (VALUES ('E05000001', 1::smallint), ('E05000002', 5::smallint)) AS v(code, q);
INSERT INTO outreach.deprivation_area (deprivation_index, vintage, geography, area_code, decile, load_id)
VALUES ('imd', '2019', 'lsoa11', 'E01000001', 2, (SELECT max(load_id) FROM outreach.area_lookup_load));

-- Member A: 30 people at AB1 0AA on a summer school in October 2024; two at AB1 0AB in October
-- 2023 (after its introduction) and one in October 2022 (before it); one at AB1 0AD, whose
-- postcode ended before their first activity; one with no postcode; and one withdrawn and one
-- restricted at AB1 0AA (never counted). Member B: 25 people at AB1 0AA.
CREATE TEMP TABLE rp_people (controller_id int, ref text, postcode text, first_on date, participant_id bigint);
INSERT INTO rp_people (controller_id, ref, postcode, first_on)
SELECT :rp_a, 'a' || i, 'AB1 0AA', date '2024-10-01' FROM generate_series(1, 30) AS i
UNION ALL VALUES (:rp_a, 'new1', 'AB1 0AB', date '2023-10-02'), (:rp_a, 'new2', 'AB1 0AB', date '2023-10-03'),
                 (:rp_a, 'early', 'AB1 0AB', date '2022-10-01'), (:rp_a, 'ended', 'AB1 0AD', date '2024-10-01'),
                 (:rp_a, 'nopc', NULL, date '2024-10-01'), (:rp_a, 'withdrawn', 'AB1 0AA', date '2024-10-01'),
                 (:rp_a, 'restricted', 'AB1 0AA', date '2024-10-01')
UNION ALL SELECT :rp_b, 'b' || i, 'AB1 0AA', date '2024-10-01' FROM generate_series(1, 25) AS i;
WITH ins AS (
  INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode)
  SELECT controller_id, ref, 'First' || ref, 'Last', date '2007-03-01', postcode::outreach.uk_postcode FROM rp_people
  RETURNING controller_id, external_ref, participant_id)
UPDATE rp_people p SET participant_id = ins.participant_id FROM ins
WHERE ins.controller_id = p.controller_id AND ins.external_ref = p.ref;
UPDATE outreach.participant SET withdrawn_at = now() WHERE controller_id = :rp_a AND external_ref = 'withdrawn';
UPDATE outreach.participant SET restricted_at = now() WHERE controller_id = :rp_a AND external_ref = 'restricted';
INSERT INTO outreach.activity (controller_id, activity_type, name, starts_on)
VALUES (:rp_a, 'summer_school', 'Summer school', '2022-10-01'), (:rp_b, 'summer_school', 'Summer school', '2024-10-01');
INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on)
SELECT p.controller_id, p.participant_id, a.activity_id, p.first_on
FROM rp_people p JOIN outreach.activity a USING (controller_id);
-- Outcomes of A's people (and of the withdrawn and restricted ones, never counted):
--   HESA: HE entry in 2025 for a1-a12; continuation for a1-a25 (a1-a20 continuing, a21-a25
--   left; a1 also left in an earlier year, which the latest year overrides).
--   DfE: KS4 Attainment 8 for a1-a20 (40 for a1-a10, 50 for a11-a20; a20 also has a second
--   result of 60 from another year, so its own mean 55 counts once), "basics" for only three.
CREATE TEMP TABLE rp_facts (ref text, recipient text, outcome text, academic_year int, measure text, value text);
INSERT INTO rp_facts
SELECT 'a' || i, 'hesa', 'he_entry', 2025, '', '' FROM generate_series(1, 12) AS i
UNION ALL SELECT 'withdrawn', 'hesa', 'he_entry', 2025, '', ''
UNION ALL SELECT 'a' || i, 'hesa', 'continuation', 2026, '', CASE WHEN i <= 20 THEN 'continuing' ELSE 'left' END
          FROM generate_series(1, 25) AS i
UNION ALL SELECT 'a1', 'hesa', 'continuation', 2025, '', 'left'
UNION ALL SELECT r, 'hesa', 'continuation', 2026, '', 'left' FROM unnest(ARRAY['withdrawn', 'restricted']) AS r
UNION ALL SELECT 'a' || i, 'dfe', 'ks4', 2023, 'attainment8', CASE WHEN i <= 10 THEN '40' ELSE '50' END
          FROM generate_series(1, 20) AS i
UNION ALL SELECT 'a20', 'dfe', 'ks4', 2024, 'attainment8', '60'
UNION ALL SELECT r, 'dfe', 'ks4', 2023, 'attainment8', '90' FROM unnest(ARRAY['withdrawn', 'restricted']) AS r
UNION ALL SELECT 'a' || i, 'dfe', 'ks4', 2023, 'basics', '1' FROM generate_series(1, 3) AS i;
INSERT INTO outreach.outcome_block (controller_id, recipient, block, participant_ids, outcomes, academic_years, measures,
                                    provider_ukprns, provider_names, outcome_values, import_ids, line_nos, updated_ats)
SELECT :rp_a, f.recipient, (min(p.participant_id) >> 16)::int,
       array_agg(p.participant_id ORDER BY p.participant_id, f.outcome, f.academic_year, f.measure),
       array_agg(f.outcome ORDER BY p.participant_id, f.outcome, f.academic_year, f.measure),
       array_agg(f.academic_year ORDER BY p.participant_id, f.outcome, f.academic_year, f.measure),
       array_agg(f.measure ORDER BY p.participant_id, f.outcome, f.academic_year, f.measure),
       array_fill(10007792, ARRAY[count(*)::int]), array_fill('A university'::text, ARRAY[count(*)::int]),
       array_agg(f.value ORDER BY p.participant_id, f.outcome, f.academic_year, f.measure),
       array_fill(0::bigint, ARRAY[count(*)::int]), array_fill(1, ARRAY[count(*)::int]),
       array_fill(now(), ARRAY[count(*)::int])
FROM rp_facts f JOIN rp_people p ON p.controller_id = :rp_a AND p.ref = f.ref
GROUP BY f.recipient;

-----------------------------------------------------------------------------------------------
-- A reader: each own participant's neighbourhood as at their first activity, and why not
-----------------------------------------------------------------------------------------------
SET ROLE regress_rp_reader;
SELECT pa.postcode::text, pa.first_activity_on, pa.area_status, pa.polar4_quintile, pa.imd2019_decile, count(*)
FROM outreach.participant_area pa
GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2;
SELECT DISTINCT area_status, area_reason FROM outreach.participant_area WHERE area_status <> 'resolved' ORDER BY 1;
RESET ROLE;

-----------------------------------------------------------------------------------------------
-- An analyst: aggregates of its own member, rounded (HESA) and without the withdrawn or
-- restricted; no row per person
-----------------------------------------------------------------------------------------------
SET ROLE regress_rp_analyst;
SELECT controller_code, academic_year, activity_type, band, participants, percent, marker
FROM outreach.reach_by_area WHERE measure = 'polar4' ORDER BY 2, 3, 4;
SELECT DISTINCT measure FROM outreach.reach_by_area ORDER BY 1;
SELECT cohort, activity_type, intensity, participants, with_outcome, percent, marker
FROM outreach.outcomes_by_activity WHERE outcome = 'he_entry' ORDER BY 1, 2, 3;
SELECT controller_code, recipient, outcome, academic_year, participants, participants_sent, mean_value
FROM outreach.progression_summary ORDER BY 1, 2, 3;
-- KS4 attainment against the whole population: 20 people with a mean of 45.25 (a20 counts
-- once, with its own mean 55); "basics" has three people, so no mean; every intensity shown.
SELECT cohort, activity_type, intensity, key_stage, measure, participants, mean_value
FROM outreach.attainment_by_activity ORDER BY 1, 2, 3, 4, 5;
-- Continuation: of 25 people with a record, 20 continuing and 5 left (a1's earlier year does
-- not count); the withdrawn and restricted ones' records are not counted.
SELECT cohort, activity_type, intensity, status, participants, with_status, percent, marker
FROM outreach.continuation_by_activity ORDER BY 1, 2, 3, 4;
-- Every column of every view a BI login reads has a description for BI tools.
SELECT c.relname AS view_without_description, a.attname AS column_without_description
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
WHERE c.relnamespace = 'outreach'::regnamespace AND c.relkind = 'v'
  AND has_table_privilege('outreach_bi', c.oid, 'SELECT')
  AND (col_description(c.oid, a.attnum) IS NULL OR obj_description(c.oid, 'pg_class') IS NULL)
ORDER BY 1, 2;
SELECT regress.try($$SELECT count(*)::text FROM outreach.report_attainment('nope')$$) AS attainment_unknown_policy,
       regress.try($$SELECT count(*)::text FROM outreach.report_continuation('nope')$$) AS continuation_unknown_policy;
SELECT regress.try('SELECT count(*)::text FROM outreach.participant_area') AS analyst_reads_rows,
       regress.try('SELECT count(*)::text FROM outreach.participant') AS analyst_reads_participants;
-- EXPLAIN ANALYZE shows the report function's output, never the rows behind it.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM outreach.reach_by_area WHERE measure = 'polar4' AND band = '5';
-- The OfS convention: nearest 10, markers for what is withheld.
SELECT academic_year, activity_type, band, participants, percent, marker
FROM outreach.report_reach_by_area('ofs') WHERE measure = 'polar4' ORDER BY 1, 2, 3;
SELECT regress.try($$SELECT count(*)::text FROM outreach.report_reach_by_area('unesco')$$) AS unknown_policy;
RESET ROLE;

-----------------------------------------------------------------------------------------------
-- The service's BI: every member's aggregates, nothing per person
-----------------------------------------------------------------------------------------------
SET ROLE regress_rp_bi;
SELECT controller_code, academic_year, band, participants, percent
FROM outreach.reach_by_area WHERE measure = 'polar4' AND activity_type = '(all)' ORDER BY 1, 2, 3;
SELECT regress.try('SELECT count(*)::text FROM outreach.participant_area') AS bi_profile_rows,
       regress.try('SELECT count(*)::text FROM outreach.attendance') AS bi_attendance,
       regress.try('SELECT count(*)::text FROM outreach.outcome') AS bi_outcomes,
       regress.try('SELECT count(*)::text FROM outreach.shareable_participant') AS bi_shared;
RESET ROLE;

-----------------------------------------------------------------------------------------------
-- A table owner's code run while a superuser indexes the table (as autovacuum's ANALYZE would)
-- does not act with the superuser's rights: naming the invoking role is refused
-----------------------------------------------------------------------------------------------
CREATE TABLE regress.rp_owned (x int);
INSERT INTO regress.rp_owned VALUES (1);
CREATE FUNCTION regress.rp_peek(int) RETURNS int LANGUAGE plpgsql IMMUTABLE
AS $$ BEGIN RETURN cardinality(outreach.report_controller_ids()); END $$;
ALTER TABLE regress.rp_owned OWNER TO regress_rp_analyst;
ALTER FUNCTION regress.rp_peek(int) OWNER TO regress_rp_analyst;
DO $$
BEGIN
  CREATE INDEX rp_owned_peek ON regress.rp_owned (regress.rp_peek(x));
  RAISE NOTICE 'indexed: the owner''s code read the reports as the superuser';
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;
SELECT regress.rp_peek(1) >= 2 AS superuser_directly_reads_both_members;
DROP TABLE regress.rp_owned;
DROP FUNCTION regress.rp_peek(int);

SET client_min_messages = warning;
DROP TABLE rp_people;
SELECT pg_temp.rp_cleanup();
RESET client_min_messages;
