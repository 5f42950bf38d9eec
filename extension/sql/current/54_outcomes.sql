-- Outcomes that linkage recipients return: the bookkeeping of every imported file, the outcome
-- facts in blocks (with views of a row per fact and per kind), and the per-member rows that
-- outcome imports and participant deletions lock.

CREATE TABLE outreach.outcome_import (
  import_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recipient text COLLATE "C" NOT NULL,
  layout_version int NOT NULL,
  file_name text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  same_as bigint,                                -- an earlier import of the same file
  imported_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  imported_by name NOT NULL,
  lines bigint NOT NULL DEFAULT 0,               -- records after the header
  inserted bigint NOT NULL DEFAULT 0,
  updated bigint NOT NULL DEFAULT 0,
  unchanged bigint NOT NULL DEFAULT 0,
  rejected bigint NOT NULL DEFAULT 0,
  duplicates bigint NOT NULL DEFAULT 0,
  unknown_references bigint NOT NULL DEFAULT 0,
  deferred int NOT NULL DEFAULT 0
);
COMMENT ON COLUMN outreach.outcome_import.deferred IS
  'lines not imported because their member was deleting participants at the time (import the file again)';
CREATE INDEX outcome_import_file_idx ON outreach.outcome_import (recipient, sha256);
COMMENT ON TABLE outreach.outcome_import IS 'every outcome file imported: recipient, file, checksum and what became of its lines';

CREATE TABLE outreach.outcome_import_error (
  import_id bigint NOT NULL REFERENCES outreach.outcome_import ON DELETE CASCADE,
  line_no int NOT NULL,
  status text NOT NULL CHECK (status IN ('rejected', 'duplicate', 'unknown_reference', 'deferred')),
  reason text NOT NULL,
  PRIMARY KEY (import_id, line_no)
);
COMMENT ON TABLE outreach.outcome_import_error IS 'the lines of an outcome file that were not imported, with the reason';

SELECT pg_catalog.pg_extension_config_dump('outreach.outcome_import', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.outcome_import_error', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.outcome_import', 'import_id')::pg_catalog.regclass, '');
-- The files' bookkeeping spans members (one file, many members) and holds no personal data.
REVOKE ALL ON outreach.outcome_import, outreach.outcome_import_error FROM PUBLIC;
GRANT SELECT ON outreach.outcome_import, outreach.outcome_import_error TO outreach_daemon, outreach_processor;

-- Outcome facts in blocks. One row holds, for one member, one recipient and one block of 65536
-- participant ids (participant_id >> 16), the facts about those participants in key order
-- (participant, outcome, academic year, measure, provider UKPRN; byte order) as parallel
-- arrays: one row per fact with a seven-column primary key took 3.5 s to insert a million
-- facts, more than twice what the whole import may take. An import rewrites the blocks it
-- touches; a participant's facts are found through the primary key and a search of the block.
-- (The ledger's blocks are of 4096 ids: an export adds rows, an import rewrites them, and the
-- fewer rows an import writes the better: 1,600 rows of a million facts were written in
-- 0.03 s, 24,500 in 0.13 s.)
-- The view outreach.outcome shows a row per fact, for members, BI tools and scripts.

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

ALTER TABLE outreach.outcome_block ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.outcome_block FORCE ROW LEVEL SECURITY;
CREATE POLICY outcome_block_read ON outreach.outcome_block FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
REVOKE ALL ON outreach.outcome_block FROM PUBLIC;
GRANT SELECT ON outreach.outcome_block TO outreach_reader, outreach_processor;

-- The facts a row each (the caller's row security applies: a member sees their own
-- participants' outcomes).
CREATE OR REPLACE VIEW outreach.outcome WITH (security_invoker = true) AS
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
-- The outcomes by kind (the caller's row security applies).
CREATE OR REPLACE VIEW outreach.outcome_attainment WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.outcome AS key_stage, o.academic_year, o.measure, o.value,
       CASE WHEN o.value ~ '^\s*-?[0-9]{1,9}(\.[0-9]{1,6})?\s*$' THEN o.value::numeric END AS numeric_value,
       o.provider_ukprn, o.updated_at
FROM outreach.outcome o WHERE o.outcome IN ('ks4', 'ks5');
COMMENT ON VIEW outreach.outcome_attainment IS 'KS4 and KS5 attainment of own participants: one measure per row';

CREATE OR REPLACE VIEW outreach.outcome_he_application WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.academic_year AS cycle, o.value AS status,
       nullif(o.provider_ukprn, 0) AS provider_ukprn, o.provider_name, o.updated_at
FROM outreach.outcome o WHERE o.outcome = 'he_application';
COMMENT ON VIEW outreach.outcome_he_application IS 'HE applications of own participants: cycle, status and provider';

CREATE OR REPLACE VIEW outreach.outcome_he_entry WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.academic_year AS entry_year,
       nullif(o.provider_ukprn, 0) AS provider_ukprn, o.provider_name, o.value AS detail, o.updated_at
FROM outreach.outcome o WHERE o.outcome = 'he_entry';
COMMENT ON VIEW outreach.outcome_he_entry IS 'entry of own participants to higher education: year and provider';

CREATE OR REPLACE VIEW outreach.outcome_continuation WITH (security_invoker = true) AS
SELECT o.controller_id, o.participant_id, o.recipient, o.academic_year, nullif(o.provider_ukprn, 0) AS provider_ukprn,
       o.provider_name, o.value AS status, o.updated_at
FROM outreach.outcome o WHERE o.outcome = 'continuation';
COMMENT ON VIEW outreach.outcome_continuation IS 'continuation of own participants in higher education, per academic year';
GRANT SELECT ON outreach.outcome_attainment, outreach.outcome_he_application, outreach.outcome_he_entry,
                outreach.outcome_continuation TO outreach_reader, outreach_processor;


-- Locks the service needs are on rows no other role may lock, one per member, so that a
-- member's open transaction can hold up only that member's work. An advisory lock would not
-- do: any login could take its key itself and hold it for as long as it liked, stalling every
-- member's deletions and every import.
-- outreach.outcome_lock has a row per member and no privileges for anyone; only the extension's
-- own SECURITY DEFINER functions lock its rows:
--   * a deletion of participants takes its member's row FOR SHARE (deletions run side by side);
--   * an import takes FOR UPDATE SKIP LOCKED on every member's row: a member with a deletion in
--     progress is skipped, its lines reported as 'deferred' (import the file again), and every
--     other member's lines are imported. A deletion that starts while an import runs waits for
--     it (seconds), then removes whatever the import stored for the deleted participants.
-- Imports run one at a time: each takes SHARE ROW EXCLUSIVE on the table, which conflicts
-- with itself but not with the row locks of deletions.
CREATE TABLE outreach.outcome_lock (
  controller_id int PRIMARY KEY REFERENCES outreach.controller ON DELETE CASCADE
);
REVOKE ALL ON outreach.outcome_lock FROM PUBLIC;
COMMENT ON TABLE outreach.outcome_lock IS
  'a row per member, locked by outcome imports (FOR UPDATE SKIP LOCKED) and participant deletions (FOR SHARE)';
INSERT INTO outreach.outcome_lock (controller_id) SELECT c.controller_id FROM outreach.controller c;
-- Dumped with the members: a restore (triggers off) would otherwise leave every member rowless.
SELECT pg_catalog.pg_extension_config_dump('outreach.outcome_lock', '');

CREATE OR REPLACE FUNCTION outreach.controller_outcome_lock() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO outreach.outcome_lock (controller_id) VALUES (NEW.controller_id);
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.controller_outcome_lock() FROM PUBLIC;
COMMENT ON FUNCTION outreach.controller_outcome_lock() IS 'trigger: gives a new member its row in outreach.outcome_lock';
CREATE OR REPLACE TRIGGER controller_outcome_lock AFTER INSERT ON outreach.controller
  FOR EACH ROW EXECUTE FUNCTION outreach.controller_outcome_lock();

