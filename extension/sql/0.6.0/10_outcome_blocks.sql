-- Outcome facts in blocks. 0.4.0 kept one row per fact with a seven-column primary key:
-- inserting a million facts was 3.5 s, more than twice what the whole import may take. Now
-- one row holds, for one member, one recipient and one block of 65536 participant ids
-- (participant_id >> 16), the facts about those participants in key order (participant,
-- outcome, academic year, measure, provider UKPRN; byte order) as parallel arrays. An import
-- rewrites the blocks it touches; a participant's facts are found through the primary key and
-- a search of the block. (The ledger's blocks are of 4096 ids: an export adds rows, an import
-- rewrites them, and the fewer rows an import writes the better: 1,600 rows of a million facts
-- were written in 0.03 s, 24,500 in 0.13 s.)
-- outreach.outcome keeps 0.4.0's columns as a view, for members, BI tools and scripts.

CREATE TABLE outreach.outcome_block (
  controller_id int NOT NULL,
  recipient text COLLATE "C" NOT NULL,
  block int NOT NULL,                                -- participant_id >> 16 of every fact in it
  participant_ids bigint[] NOT NULL,                 -- in key order; the rest: the same positions
  outcomes text[] COLLATE "C" NOT NULL,
  academic_years int[] NOT NULL,
  measures text[] COLLATE "C" NOT NULL,
  provider_ukprns int[] NOT NULL,
  provider_names text[] NOT NULL,
  outcome_values text[] NOT NULL,
  import_ids bigint[] NOT NULL,                      -- the import that last set each fact
  line_nos int[] NOT NULL,
  updated_ats timestamptz[] NOT NULL,
  PRIMARY KEY (controller_id, recipient, block)
  -- No CHECK that the arrays are as long as each other: it was 0.12 s of a million-fact
  -- import. Only import_outcomes() and the deletion trigger write the blocks (each array from
  -- the same list of facts), and the import checks every block it reads.
);
-- The arrays are compressed with LZ4 where the server has it (ids, kinds, years and codes
-- repeat: a million facts take 13 MB instead of 96 MB), else with PostgreSQL's own: writing
-- a million facts' blocks uncompressed was 0.2 s of TOAST chunks, compressed with LZ4 0.1 s.
DO $$
DECLARE
  method text := CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_settings
                                   WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))
                      THEN 'lz4' ELSE 'pglz' END;
  col text;
BEGIN
  FOREACH col IN ARRAY ARRAY['participant_ids', 'outcomes', 'academic_years', 'measures', 'provider_ukprns',
                             'provider_names', 'outcome_values', 'import_ids', 'line_nos', 'updated_ats'] LOOP
    EXECUTE format('ALTER TABLE outreach.outcome_block ALTER %I SET COMPRESSION %s', col, method);
  END LOOP;
END $$;
COMMENT ON TABLE outreach.outcome_block IS
  'outcomes returned by linkage recipients, per member, recipient and block of participant ids: KS4/KS5 attainment, HE applications, HE entry, continuation';
SELECT pg_catalog.pg_extension_config_dump('outreach.outcome_block', '');

INSERT INTO outreach.outcome_block (controller_id, recipient, block, participant_ids, outcomes, academic_years, measures,
                                    provider_ukprns, provider_names, outcome_values, import_ids, line_nos, updated_ats)
SELECT o.controller_id, o.recipient, (o.participant_id >> 16)::int,
       array_agg(o.participant_id ORDER BY k), array_agg(o.outcome ORDER BY k), array_agg(o.academic_year ORDER BY k),
       array_agg(o.measure ORDER BY k), array_agg(o.provider_ukprn ORDER BY k), array_agg(o.provider_name ORDER BY k),
       array_agg(o.value ORDER BY k), array_agg(o.import_id ORDER BY k), array_agg(o.line_no ORDER BY k),
       array_agg(o.updated_at ORDER BY k)
FROM (SELECT x.*, row_number() OVER (ORDER BY x.participant_id, x.outcome COLLATE "C", x.academic_year,
                                            x.measure COLLATE "C", x.provider_ukprn) AS k
      FROM outreach.outcome x) AS o
GROUP BY o.controller_id, o.recipient, (o.participant_id >> 16)::int;

ALTER TABLE outreach.outcome_block ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.outcome_block FORCE ROW LEVEL SECURITY;
CREATE POLICY outcome_block_read ON outreach.outcome_block FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
REVOKE ALL ON outreach.outcome_block FROM PUBLIC;
GRANT SELECT ON outreach.outcome_block TO outreach_reader, outreach_processor;

DROP VIEW outreach.outcome_attainment, outreach.outcome_he_application, outreach.outcome_he_entry,
          outreach.outcome_continuation, outreach.progression_summary;
-- (out of the extension first, which also removes it from the tables pg_dump copies)
ALTER EXTENSION outreach DROP TABLE outreach.outcome;
DROP TABLE outreach.outcome;

-- The facts a row each, as 0.4.0 stored them (the caller's row security applies: a member
-- sees their own participants' outcomes).
CREATE VIEW outreach.outcome WITH (security_invoker = true) AS
SELECT b.controller_id, u.participant_id, b.recipient, u.outcome, u.academic_year, u.measure, u.provider_ukprn,
       u.provider_name, u.value, u.import_id, u.line_no, u.updated_at
FROM outreach.outcome_block b
CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.provider_ukprns,
                          b.provider_names, b.outcome_values, b.import_ids, b.line_nos, b.updated_ats)
  AS u(participant_id, outcome, academic_year, measure, provider_ukprn, provider_name, value, import_id, line_no, updated_at);
COMMENT ON VIEW outreach.outcome IS
  'outcomes of participants returned by linkage recipients, a row per fact: KS4/KS5 attainment, HE applications, HE entry, continuation';
REVOKE ALL ON outreach.outcome FROM PUBLIC;
GRANT SELECT ON outreach.outcome TO outreach_reader, outreach_processor;

-- The outcome tables by kind, as in 0.4.0 (the caller's row security applies).
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

-- As in 0.5.0, reading the blocks (with the view's owner's rights, filtered by the caller's
-- own access).
CREATE VIEW outreach.progression_summary WITH (security_barrier = true) AS
WITH sent AS (
  SELECT d.controller_id, d.recipient, count(DISTINCT u.participant_id) AS participants_sent
  FROM outreach.disclosure_block d
  CROSS JOIN LATERAL unnest(d.participant_ids) AS u(participant_id)
  WHERE outreach.controller_visible(d.controller_id, 'analyst')
  GROUP BY d.controller_id, d.recipient
), facts AS (
  SELECT b.controller_id, b.recipient, u.participant_id, u.outcome, u.academic_year, u.measure, u.value
  FROM outreach.outcome_block b
  CROSS JOIN LATERAL unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.outcome_values)
    AS u(participant_id, outcome, academic_year, measure, value)
  WHERE outreach.controller_visible(b.controller_id, 'analyst')
)
SELECT o.controller_id, c.code AS controller_code, o.recipient, o.outcome, o.academic_year, o.measure,
       count(DISTINCT o.participant_id) AS participants,
       s.participants_sent,
       round(avg(CASE WHEN o.value ~ '^\s*-?[0-9]{1,9}(\.[0-9]{1,6})?\s*$' THEN o.value::numeric END), 2) AS mean_value
FROM facts o
JOIN outreach.controller c ON c.controller_id = o.controller_id
LEFT JOIN sent s ON s.controller_id = o.controller_id AND s.recipient = o.recipient
GROUP BY o.controller_id, c.code, o.recipient, o.outcome, o.academic_year, o.measure, s.participants_sent;
COMMENT ON VIEW outreach.progression_summary IS
  'per member: participants with each outcome (recipient, kind, year, measure), the numeric mean, and how many were sent';
REVOKE ALL ON outreach.progression_summary FROM PUBLIC;
GRANT SELECT ON outreach.progression_summary TO outreach_reader, outreach_analyst, outreach_processor;
