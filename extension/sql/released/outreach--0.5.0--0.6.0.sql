\echo Use "ALTER EXTENSION outreach UPDATE TO '0.6.0'" to load this file. \quit

-- 0.6.0: faster outcome imports. Outcome facts are kept in blocks of participants
-- (outreach.outcome_block; outreach.outcome is now a view of it), and an outcome file is
-- parsed, matched through the ledger, judged and merged with the facts held by one C++ pass
-- (outcome_import_rows).
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
-- A participant's deletion (erasure, retention) deletes their outcomes: each block of the
-- deleted participants is rewritten once per statement without their facts, or deleted when
-- nothing else is left in it. Otherwise as in 0.5.0.
CREATE OR REPLACE FUNCTION outreach.participant_followup_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n int;
BEGIN
  -- (recorded for each building export, whose row this locks in share mode)
  INSERT INTO outreach.export_touch (export_id, controller_id, participant_id)
  SELECT e.export_id, o.controller_id, o.participant_id FROM outreach.export e, old_rows o WHERE e.status = 'building'
  FOR SHARE OF e
  ON CONFLICT DO NOTHING;
  -- An outcome import in progress finishes first (it may be storing outcomes of these people).
  PERFORM pg_advisory_xact_lock_shared(outreach.outcome_lock_key(), 1);
  WITH gone AS (
    SELECT r.controller_id, (r.participant_id >> 16)::int AS block, array_agg(r.participant_id) AS ids
    FROM old_rows r GROUP BY r.controller_id, (r.participant_id >> 16)::int
  ), emptied AS (
    DELETE FROM outreach.outcome_block b USING gone g
    WHERE b.controller_id = g.controller_id AND b.block = g.block AND b.participant_ids <@ g.ids
    RETURNING b.controller_id, b.recipient, b.block
  )
  UPDATE outreach.outcome_block b
  SET (participant_ids, outcomes, academic_years, measures, provider_ukprns, provider_names, outcome_values,
       import_ids, line_nos, updated_ats) =
      (SELECT array_agg(u.participant_id ORDER BY u.k), array_agg(u.outcome ORDER BY u.k),
              array_agg(u.academic_year ORDER BY u.k), array_agg(u.measure ORDER BY u.k),
              array_agg(u.provider_ukprn ORDER BY u.k), array_agg(u.provider_name ORDER BY u.k),
              array_agg(u.value ORDER BY u.k), array_agg(u.import_id ORDER BY u.k),
              array_agg(u.line_no ORDER BY u.k), array_agg(u.updated_at ORDER BY u.k)
       FROM unnest(b.participant_ids, b.outcomes, b.academic_years, b.measures, b.provider_ukprns, b.provider_names,
                   b.outcome_values, b.import_ids, b.line_nos, b.updated_ats) WITH ORDINALITY
         AS u(participant_id, outcome, academic_year, measure, provider_ukprn, provider_name, value, import_id,
              line_no, updated_at, k)
       WHERE u.participant_id <> ALL (g.ids))
  FROM gone g
  WHERE b.controller_id = g.controller_id AND b.block = g.block AND b.participant_ids && g.ids
    AND NOT b.participant_ids <@ g.ids;
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id)
  SELECT DISTINCT ON (o.controller_id, o.participant_id, b.recipient)
         o.controller_id, o.participant_id, b.recipient, 'erasure', u.reference, b.export_id
  FROM (SELECT DISTINCT r.controller_id, (r.participant_id >> 12)::int AS block FROM old_rows r) AS t
  JOIN outreach.disclosure_block b ON b.controller_id = t.controller_id AND b.block = t.block
  CROSS JOIN LATERAL unnest(b.participant_ids, b.participant_references) AS u(participant_id, reference)
  JOIN old_rows o ON o.controller_id = b.controller_id AND o.participant_id = u.participant_id
  ORDER BY o.controller_id, o.participant_id, b.recipient, b.export_id DESC;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN NULL;
END
$$;
-- Outcome imports in one C++ pass: outcome_import_rows() parses and checks each line
-- (core/outcome_lines), matches its reference through the recipient's ledger, judges it against
-- the participants as held now and merges the good lines with the facts held in each block
-- they fall in (core/outcome_import). import_outcomes() checks the header, records the import,
-- writes the blocks and the lines not imported. Statuses, messages and counts are 0.4.0's.

CREATE FUNCTION outreach.outcome_import_rows(recipient text, import_id bigint, content bytea, header_line int,
                                             n_fields int, positions int[], fixed_kind text, code_keys text[],
                                             code_values text[])
RETURNS TABLE (controller_id int, block int, participant_ids bigint[], outcomes text[], academic_years int[],
               measures text[], provider_ukprns int[], provider_names text[], outcome_values text[],
               import_ids bigint[], line_nos int[], updated_ats timestamptz[], inserted int, updated int,
               unchanged int, line_no int, status text, reason text)
AS 'MODULE_PATHNAME', 'outcome_import_rows' LANGUAGE C VOLATILE ROWS 10000;
COMMENT ON FUNCTION outreach.outcome_import_rows(text, bigint, bytea, int, int, int[], text, text[], text[]) IS
  'the work of import_outcomes on one file: per block of outcome_block it touches, the new arrays (NULL when unchanged) '
  'and the facts inserted, updated and unchanged; per line not imported, its number, status and reason';
-- Only import_outcomes() (as the extension's owner) calls it: it reads the ledger and the
-- participants of every member.
REVOKE EXECUTE ON FUNCTION outreach.outcome_import_rows(text, bigint, bytea, int, int, int[], text, text[], text[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION outreach.import_outcomes(recipient text, file_name text, content bytea)
RETURNS TABLE (import_id bigint, line_no int, status text, reason text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The blocks outcome_import_rows returns (tens of MB for a million facts) are kept in memory
-- (imports run one at a time, so this much memory is taken once).
SET work_mem = '256MB'
-- Its scan of the participants of a large service is costed above jit_above_cost; compiling
-- the scan's few expressions costs more than it saves.
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
  r record;
  lay outreach.recipient_layout;
  expected text[];
  got text[];
  head record;
  nl int;
  new_id bigint;
  checksum text;
  pos jsonb := '{}';
  n_fields int;
  codes jsonb;
  code_keys text[];
  code_values text[];
  stats record;
  fld text;
BEGIN
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = import_outcomes.recipient;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown recipient "%"', recipient USING ERRCODE = '42704';
  END IF;
  SELECT * INTO lay FROM outreach.recipient_layout l
  WHERE l.recipient = r.name AND l.kind = 'outcome' AND l.version = r.outcome_layout;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'recipient "%" has no outcome layout', recipient USING ERRCODE = '22023';
  END IF;
  IF file_name IS NULL OR length(file_name) NOT BETWEEN 1 AND 255 THEN
    RAISE EXCEPTION 'file_name must be 1 to 255 characters' USING ERRCODE = '22023';
  END IF;
  IF content IS NULL THEN
    RAISE EXCEPTION 'no content given for file "%"', file_name USING ERRCODE = '22023';
  END IF;

  SELECT array_agg(c.header ORDER BY c.position), count(*)::int INTO expected, n_fields
  FROM outreach.recipient_layout_column c
  WHERE c.recipient = r.name AND c.kind = 'outcome' AND c.version = lay.version;
  -- Field name -> index in the record (1-based, in position order).
  SELECT jsonb_object_agg(c.field, c.i) INTO pos
  FROM (SELECT lc.field, row_number() OVER (ORDER BY lc.position) AS i FROM outreach.recipient_layout_column lc
        WHERE lc.recipient = r.name AND lc.kind = 'outcome' AND lc.version = lay.version AND lc.field <> 'ignore') AS c;

  -- The header: the first record, parsed from the first physical line alone.
  nl := position('\x0a'::bytea IN content);
  SELECT h.line_no, h.fields, h.error INTO head
  FROM outreach.csv_records(CASE WHEN nl = 0 THEN content ELSE substring(content FROM 1 FOR nl) END) h
  ORDER BY h.line_no LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'file "%" is empty: expected the header %', file_name, outreach.csv_record(expected)
      USING ERRCODE = '22P04';
  END IF;
  IF head.error IS NOT NULL THEN
    RAISE EXCEPTION 'file "%" does not begin with a valid header record: %', file_name, head.error
      USING ERRCODE = '22P04', DETAIL = format('Expected the header %s.', outreach.csv_record(expected));
  END IF;
  got := head.fields;
  IF cardinality(got) <> n_fields
     OR EXISTS (SELECT 1 FROM unnest(expected, got) AS h(e, f) WHERE lower(btrim(h.e)) IS DISTINCT FROM lower(btrim(h.f))) THEN
    RAISE EXCEPTION 'file "%" does not have the header of the % outcome layout (version %): expected "%", found "%"',
                    file_name, r.name, lay.version, outreach.csv_record(expected), left(outreach.csv_record(got), 500)
      USING ERRCODE = '22P04', HINT = 'Nothing was imported. Ask the recipient for a file in the agreed layout.';
  END IF;

  -- Imports run one at a time, and participant deletions wait for them (see outcome_lock_key).
  PERFORM pg_advisory_xact_lock(outreach.outcome_lock_key(), 1);

  checksum := encode(sha256(content), 'hex');
  INSERT INTO outreach.outcome_import (recipient, layout_version, file_name, sha256, same_as, imported_by)
  VALUES (r.name, lay.version, file_name, checksum,
          (SELECT min(i.import_id) FROM outreach.outcome_import i WHERE i.recipient = r.name AND i.sha256 = checksum),
          outreach.invoking_role()::text)
  RETURNING outcome_import.import_id INTO new_id;

  -- The outcome kind of a row: the layout's fixed kind, or its outcome column through the codes.
  codes := coalesce(lay.value_codes -> 'outcome', '{}');
  SELECT coalesce(array_agg(k.key ORDER BY k.key), '{}'), coalesce(array_agg(k.value ORDER BY k.key), '{}')
    INTO code_keys, code_values FROM jsonb_each_text(codes) k;

  -- One statement: the C++ pass (outcome_import_rows: parse, check, match through the ledger,
  -- judge against the participants, merge with the facts held) returns the blocks to write and
  -- the lines not imported; both are written here.
  WITH res AS MATERIALIZED (
    SELECT x.* FROM outreach.outcome_import_rows(
      r.name, new_id, content, head.line_no, n_fields,
      ARRAY[coalesce((pos ->> 'reference')::int, 0), coalesce((pos ->> 'academic_year')::int, 0),
            coalesce((pos ->> 'measure')::int, 0), coalesce((pos ->> 'value')::int, 0),
            coalesce((pos ->> 'provider_ukprn')::int, 0), coalesce((pos ->> 'provider_name')::int, 0),
            coalesce((pos ->> 'outcome')::int, 0)],
      CASE WHEN lay.outcome_kind IS NOT NULL AND NOT pos ? 'outcome' THEN lay.outcome_kind END,
      code_keys, code_values) AS x
  ), blocks AS (
    -- Imports run one at a time and only they add outcomes (deletions wait for them: see
    -- outcome_lock_key), so the blocks read by the C++ pass are still the ones held.
    INSERT INTO outreach.outcome_block AS b (controller_id, recipient, block, participant_ids, outcomes, academic_years,
                                             measures, provider_ukprns, provider_names, outcome_values, import_ids,
                                             line_nos, updated_ats)
    SELECT x.controller_id, r.name, x.block, x.participant_ids, x.outcomes, x.academic_years, x.measures,
           x.provider_ukprns, x.provider_names, x.outcome_values, x.import_ids, x.line_nos, x.updated_ats
    FROM res x WHERE x.participant_ids IS NOT NULL
    ON CONFLICT (controller_id, recipient, block) DO UPDATE
    SET participant_ids = excluded.participant_ids, outcomes = excluded.outcomes,
        academic_years = excluded.academic_years, measures = excluded.measures,
        provider_ukprns = excluded.provider_ukprns, provider_names = excluded.provider_names,
        outcome_values = excluded.outcome_values, import_ids = excluded.import_ids, line_nos = excluded.line_nos,
        updated_ats = excluded.updated_ats
    RETURNING 1
  ), errs AS (
    INSERT INTO outreach.outcome_import_error (import_id, line_no, status, reason)
    SELECT new_id, x.line_no, x.status, x.reason FROM res x WHERE x.line_no IS NOT NULL
    RETURNING outcome_import_error.status
  )
  SELECT (SELECT count(*) FROM errs) + coalesce(sum(x.inserted + x.updated + x.unchanged), 0) AS lines,
         coalesce(sum(x.inserted + x.updated + x.unchanged), 0) AS good,
         coalesce(sum(x.inserted), 0) AS inserted,
         coalesce(sum(x.updated), 0) AS updated,
         (SELECT count(*) FROM blocks) AS blocks,
         (SELECT count(*) FILTER (WHERE e.status = 'rejected') FROM errs e) AS rejected,
         (SELECT count(*) FILTER (WHERE e.status = 'duplicate') FROM errs e) AS duplicates,
         (SELECT count(*) FILTER (WHERE e.status = 'unknown_reference') FROM errs e) AS unknown_references
  INTO stats
  FROM res x WHERE x.block IS NOT NULL;

  UPDATE outreach.outcome_import i
  SET lines = stats.lines, inserted = stats.inserted, updated = stats.updated,
      unchanged = stats.good - stats.inserted - stats.updated, rejected = stats.rejected,
      duplicates = stats.duplicates, unknown_references = stats.unknown_references
  WHERE i.import_id = new_id;

  RETURN QUERY
  SELECT e.import_id, e.line_no, e.status, e.reason FROM outreach.outcome_import_error e
  WHERE e.import_id = new_id ORDER BY e.line_no;
END
$$;
-- The ledger's blocks stay in their row up to 8160 bytes (a block of a few dozen participants):
-- out of line, reading a recipient's references back for an import was a TOAST fetch per block.
-- (Rows written before keep their place until rewritten.)
ALTER TABLE outreach.disclosure_block SET (toast_tuple_target = 8160);
