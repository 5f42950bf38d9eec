-- Outcome files returned by recipients: parsed, checked against the recipient's outcome
-- layout, matched back to participants through the per-recipient reference in the ledger, and
-- stored as outcome facts (KS4/KS5 attainment, HE applications, HE entry, continuation).
-- Members see the outcomes of their own participants only.
--
-- import_outcomes() is idempotent: an outcome fact is keyed by (participant, recipient, kind,
-- academic year, measure, provider); importing a fact already held with the same values
-- changes nothing and counts as "unchanged" (it is not reported line by line), a fact with new
-- values replaces the old ones ("updated"), a new fact is inserted ("inserted"). Every line not imported is reported with its line
-- number and reason: rejected (malformed, incomplete, invalid UTF-8, truncated last line,
-- withdrawn or restricted participant, conflicting duplicate), duplicate (the same fact as an
-- earlier line of the file) or unknown_reference (never sent to this recipient, or the
-- participant has been deleted since).

CREATE TABLE outreach.outcome (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  recipient text COLLATE "C" NOT NULL,
  outcome text COLLATE "C" NOT NULL CHECK (outcome IN ('ks4', 'ks5', 'he_application', 'he_entry', 'continuation')),
  academic_year int NOT NULL CHECK (academic_year BETWEEN 1950 AND 2200),   -- e.g. 2023 for 2023/24
  measure text COLLATE "C" NOT NULL DEFAULT '' CHECK (length(measure) <= 100), -- e.g. attainment8; '' where none
  provider_ukprn int NOT NULL DEFAULT 0 CHECK (provider_ukprn = 0 OR provider_ukprn BETWEEN 10000000 AND 19999999),
  provider_name text CHECK (length(provider_name) <= 200),
  value text CHECK (length(value) <= 200),       -- score, grade, status or detail as returned
  import_id bigint NOT NULL,                     -- the import that last set it
  line_no int NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (controller_id, participant_id, recipient, outcome, academic_year, measure, provider_ukprn)
);
COMMENT ON TABLE outreach.outcome IS
  'outcomes of participants returned by linkage recipients: KS4/KS5 attainment, HE applications, HE entry, continuation';
COMMENT ON COLUMN outreach.outcome.provider_ukprn IS 'the provider (UKPRN) where the outcome has one; 0 where none';
SELECT pg_catalog.pg_extension_config_dump('outreach.outcome', '');

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
  unknown_references bigint NOT NULL DEFAULT 0
);
CREATE INDEX outcome_import_file_idx ON outreach.outcome_import (recipient, sha256);
COMMENT ON TABLE outreach.outcome_import IS 'every outcome file imported: recipient, file, checksum and what became of its lines';

CREATE TABLE outreach.outcome_import_error (
  import_id bigint NOT NULL REFERENCES outreach.outcome_import ON DELETE CASCADE,
  line_no int NOT NULL,
  status text NOT NULL CHECK (status IN ('rejected', 'duplicate', 'unknown_reference')),
  reason text NOT NULL,
  PRIMARY KEY (import_id, line_no)
);
COMMENT ON TABLE outreach.outcome_import_error IS 'the lines of an outcome file that were not imported, with the reason';

SELECT pg_catalog.pg_extension_config_dump('outreach.outcome_import', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.outcome_import_error', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.outcome_import', 'import_id')::pg_catalog.regclass, '');

ALTER TABLE outreach.outcome ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.outcome FORCE ROW LEVEL SECURITY;
CREATE POLICY outcome_read ON outreach.outcome FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
REVOKE ALL ON outreach.outcome, outreach.outcome_import, outreach.outcome_import_error FROM PUBLIC;
GRANT SELECT ON outreach.outcome TO outreach_reader, outreach_processor;
-- The files' bookkeeping spans members (one file, many members) and holds no personal data.
GRANT SELECT ON outreach.outcome_import, outreach.outcome_import_error TO outreach_daemon, outreach_processor;

-- The outcome tables by kind, for members and BI tools (the caller's row security applies).
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

-- The records of an outcome file: outreach.csv_records() itself (the same C function), declared
-- with the row estimate of a large file for import_outcomes' plan. (Not a SQL wrapper around
-- csv_records: that copied every row from one tuplestore into a second, 0.5-0.9 s a million.)
CREATE FUNCTION outreach.outcome_file_records(content bytea)
RETURNS TABLE (line_no int, fields text[], error text, terminated boolean)
AS 'MODULE_PATHNAME', 'csv_records' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000000;
COMMENT ON FUNCTION outreach.outcome_file_records(bytea) IS
  'csv_records() of an outcome file, with the row estimate of a large file (for import_outcomes'' plan)';
REVOKE EXECUTE ON FUNCTION outreach.outcome_file_records(bytea) FROM PUBLIC;

-- Imports and participant deletions take this lock (imports exclusively, deletions shared), so
-- an outcome is never stored for a participant being deleted at the same moment.
CREATE FUNCTION outreach.outcome_lock_key() RETURNS int
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 1869968498 $$;  -- 'outr'
COMMENT ON FUNCTION outreach.outcome_lock_key() IS
  'first key of the advisory lock between outcome imports (exclusive) and participant deletions (shared)';

CREATE FUNCTION outreach.import_outcomes(recipient text, file_name text, content bytea)
RETURNS TABLE (import_id bigint, line_no int, status text, reason text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- A file is a batch of up to millions of lines: joins by hash or merge, sorts and hashes in
-- memory (imports run one at a time, so this much memory is taken once).
SET enable_nestloop = off
SET work_mem = '256MB'
-- The one big statement is costed far above jit_above_cost; compiling its ~140 expressions
-- costs more than it saves on a million lines.
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
  kind_expr text;
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
  IF lay.outcome_kind IS NOT NULL AND NOT pos ? 'outcome' THEN
    kind_expr := format('%L::text', lay.outcome_kind);
  ELSE
    SELECT 'CASE lower(btrim(x.fields[' || (pos ->> 'outcome') || ']) COLLATE "C")'
           || coalesce(string_agg(format(' WHEN %L THEN %L', k.key, k.value), '' ORDER BY k.key), '')
           || ' END'
      INTO kind_expr FROM jsonb_each_text(codes) k;
  END IF;

  -- One statement: parse, check, match, find duplicates within the file, then write the good
  -- rows and record the others. The checks are ordered: the first problem of a line is reported.
  -- Codes, digits and references are compared byte-wise (COLLATE "C").
  EXECUTE format($sql$
    WITH checked AS MATERIALIZED (
      -- (materialized: each line is checked once, not again wherever a later step refers to it)
      SELECT x.line_no, x.reference, x.kind, x.measure, x.value, x.provider_name,
             CASE WHEN x.year_ok THEN left(x.year_text, 4)::int END AS academic_year,
             CASE WHEN x.ukprn_ok THEN x.ukprn_text::int ELSE 0 END AS provider_ukprn,
             CASE
               WHEN x.error LIKE 'unterminated quoted field%%'
                 THEN x.error || ': everything from this line to the end of the file is inside it'
               WHEN x.error IS NOT NULL THEN x.error
               WHEN NOT x.terminated THEN 'the last line has no line terminator: the file may be truncated'
               WHEN x.n_fields <> %10$s THEN format('expected %10$s fields, found %%s', x.n_fields)
               WHEN x.reference = '' THEN 'no reference'
               WHEN x.kind IS NULL THEN format('unknown outcome code "%%s"', left(x.kind_text, 50))
               WHEN NOT x.year_ok OR left(x.year_text, 4)::int NOT BETWEEN 1950 AND 2200
                 THEN format('academic year "%%s" is not a year such as 2023 or 2023/24', left(x.year_text, 50))
               WHEN x.ukprn_text <> '' AND NOT x.ukprn_ok
                 THEN format('UKPRN "%%s" is not 8 digits beginning with 1', left(x.ukprn_text, 50))
               WHEN length(x.measure) > 100 THEN 'measure longer than 100 characters'
               WHEN length(x.value) > 200 THEN 'value longer than 200 characters'
               WHEN length(x.provider_name) > 200 THEN 'provider name longer than 200 characters'
               WHEN x.kind IN ('ks4', 'ks5') AND (x.measure = '' OR x.value IS NULL)
                 THEN format('a %%s outcome needs a measure and a value', x.kind)
               WHEN x.kind IN ('he_application', 'continuation') AND x.value IS NULL
                 THEN format('a %%s outcome needs a value', x.kind)
               WHEN x.kind = 'he_entry' AND x.ukprn_text = '' AND x.provider_name IS NULL
                 THEN 'an he_entry outcome needs a provider (UKPRN or name)'
             END AS problem
      FROM (SELECT r.*,
                   -- YYYY, YYYY/YY, YYYY-YY, YYYY/YYYY or YYYY-YYYY
                   length(r.year_text) IN (4, 7, 9) AND translate(left(r.year_text, 4), '0123456789', '') = ''
                     AND (length(r.year_text) = 4 OR (substr(r.year_text, 5, 1) IN ('/', '-')
                                                      AND translate(substr(r.year_text, 6), '0123456789', '') = ''))
                     AS year_ok,
                   length(r.ukprn_text) = 8 AND left(r.ukprn_text, 1) = '1' AND translate(r.ukprn_text, '0123456789', '') = ''
                     AS ukprn_ok
            FROM (SELECT x.line_no, x.error, x.terminated, cardinality(x.fields) AS n_fields,
                         %1$s AS kind,
                         upper(btrim(x.fields[%2$s]) COLLATE "C") AS reference,
                         coalesce(btrim(x.fields[%3$s]) COLLATE "C", '') AS year_text,
                         %4$s AS measure,
                         %5$s AS value,
                         %6$s AS ukprn_text,
                         %7$s AS provider_name,
                         x.fields[%8$s] AS kind_text
                  FROM outreach.outcome_file_records($1) AS x
                  WHERE x.line_no > %9$s
                  OFFSET 0) AS r   -- (OFFSET 0: each value computed once, not wherever it is used)
            OFFSET 0) AS x
    ), judged AS (
      SELECT c.line_no, m.controller_id, m.participant_id, c.kind, c.academic_year, c.measure, c.provider_ukprn,
             c.provider_name, c.value,
             CASE
               WHEN c.problem IS NOT NULL THEN 'rejected'
               WHEN m.controller_id IS NULL AND c.reference !~ '^[0-9]{1,10}-[0-9A-Z]{26}[0-9A-Z*~$=]$' THEN 'rejected'
               WHEN m.controller_id IS NULL OR p.participant_id IS NULL THEN 'unknown_reference'
               WHEN p.withdrawn_at IS NOT NULL OR p.restricted_at IS NOT NULL THEN 'rejected'
             END AS status,
             CASE
               WHEN c.problem IS NOT NULL THEN c.problem
               WHEN m.controller_id IS NULL AND c.reference !~ '^[0-9]{1,10}-[0-9A-Z]{26}[0-9A-Z*~$=]$'
                 THEN format('malformed reference "%%s"', left(c.reference, 50))
               WHEN m.controller_id IS NULL THEN format('reference %%s was never sent to %11$s', c.reference)
               WHEN p.participant_id IS NULL THEN format('reference %%s: the participant''s record has been deleted', c.reference)
               WHEN p.withdrawn_at IS NOT NULL THEN format('reference %%s: the participant has withdrawn; outcome not stored', c.reference)
               WHEN p.restricted_at IS NOT NULL THEN format('reference %%s: processing is restricted; outcome not stored', c.reference)
             END AS reason
      FROM checked c
      -- reference -> participant, from this recipient's ledger (a reference is one participant's)
      LEFT JOIN (SELECT d.reference, min(d.controller_id) AS controller_id, min(d.participant_id) AS participant_id
                 FROM outreach.disclosure d WHERE d.recipient = %11$L GROUP BY d.reference) AS m
        ON c.problem IS NULL AND m.reference = c.reference
      LEFT JOIN outreach.participant p ON p.controller_id = m.controller_id AND p.participant_id = m.participant_id
    ), final AS (
      SELECT j.line_no, j.controller_id, j.participant_id, j.kind, j.academic_year, j.measure, j.provider_ukprn,
             j.provider_name, j.value, j.status, j.reason
      FROM judged j WHERE j.status IS NOT NULL
      UNION ALL
      -- Duplicates within the file: the first line of a fact is imported, a later one with the
      -- same values is a duplicate, with other values a conflict.
      SELECT w.line_no, w.controller_id, w.participant_id, w.kind, w.academic_year, w.measure, w.provider_ukprn,
             w.provider_name, w.value,
             CASE WHEN w.first_line = w.line_no THEN NULL
                  WHEN (w.first_value, w.first_provider) IS NOT DISTINCT FROM (w.value, w.provider_name) THEN 'duplicate'
                  ELSE 'rejected' END,
             CASE WHEN w.first_line = w.line_no THEN NULL
                  WHEN (w.first_value, w.first_provider) IS NOT DISTINCT FROM (w.value, w.provider_name)
                    THEN format('the same outcome as line %%s', w.first_line)
                  ELSE format('conflicts with line %%s: the same outcome with another value', w.first_line) END
      FROM (SELECT j.*, first_value(j.line_no) OVER k AS first_line, first_value(j.value) OVER k AS first_value,
                   first_value(j.provider_name) OVER k AS first_provider
            FROM judged j WHERE j.status IS NULL
            WINDOW k AS (PARTITION BY j.controller_id, j.participant_id, j.kind, j.academic_year, j.measure, j.provider_ukprn
                         ORDER BY j.line_no)) AS w
    ), fresh AS (
      -- each fact of the file against what is held: new, changed or the same
      SELECT f.*, o.controller_id IS NOT NULL AS held,
             (o.value, o.provider_name) IS DISTINCT FROM (f.value, f.provider_name) AS differs
      FROM final f
      LEFT JOIN outreach.outcome o
        ON o.controller_id = f.controller_id AND o.participant_id = f.participant_id AND o.recipient = %11$L
       AND o.outcome = f.kind AND o.academic_year = f.academic_year AND o.measure = f.measure
       AND o.provider_ukprn = f.provider_ukprn
      WHERE f.status IS NULL
    ), ins AS (
      -- Imports run one at a time and only they add outcomes, so a fact not held now is not
      -- added by anyone else before this commits (the primary key would refuse it).
      INSERT INTO outreach.outcome (controller_id, participant_id, recipient, outcome, academic_year, measure,
                                    provider_ukprn, provider_name, value, import_id, line_no, updated_at)
      SELECT f.controller_id, f.participant_id, %11$L, f.kind, f.academic_year, f.measure, f.provider_ukprn,
             f.provider_name, f.value, %12$s, f.line_no, clock_timestamp()
      FROM fresh f WHERE NOT f.held
      ORDER BY f.controller_id, f.participant_id, f.kind, f.academic_year, f.measure, f.provider_ukprn
      RETURNING 1
    ), upd AS (
      UPDATE outreach.outcome o
      SET provider_name = f.provider_name, value = f.value, import_id = %12$s, line_no = f.line_no,
          updated_at = clock_timestamp()
      FROM fresh f
      WHERE f.held AND f.differs
        AND o.controller_id = f.controller_id AND o.participant_id = f.participant_id AND o.recipient = %11$L
        AND o.outcome = f.kind AND o.academic_year = f.academic_year AND o.measure = f.measure
        AND o.provider_ukprn = f.provider_ukprn
      RETURNING 1
    ), errs AS (
      INSERT INTO outreach.outcome_import_error (import_id, line_no, status, reason)
      SELECT %12$s, f.line_no, f.status, f.reason FROM final f WHERE f.status IS NOT NULL
      RETURNING status
    )
    SELECT (SELECT count(*) FROM final) AS lines,
           (SELECT count(*) FROM fresh) AS good,
           (SELECT count(*) FROM ins) AS inserted,
           (SELECT count(*) FROM upd) AS updated,
           (SELECT count(*) FILTER (WHERE status = 'rejected') FROM errs) AS rejected,
           (SELECT count(*) FILTER (WHERE status = 'duplicate') FROM errs) AS duplicates,
           (SELECT count(*) FILTER (WHERE status = 'unknown_reference') FROM errs) AS unknown_references$sql$,
    kind_expr,                                                                   -- 1
    pos ->> 'reference',                                                         -- 2
    pos ->> 'academic_year',                                                     -- 3
    CASE WHEN pos ? 'measure' THEN format('coalesce(btrim(x.fields[%s]) COLLATE "C", '''')', pos ->> 'measure')
         ELSE '''''::text' END,                                                  -- 4
    CASE WHEN pos ? 'value' THEN format('nullif(btrim(x.fields[%s]), '''')', pos ->> 'value') ELSE 'NULL::text' END,  -- 5
    CASE WHEN pos ? 'provider_ukprn' THEN format('coalesce(btrim(x.fields[%s]) COLLATE "C", '''')', pos ->> 'provider_ukprn')
         ELSE '''''::text' END,                                                  -- 6
    CASE WHEN pos ? 'provider_name' THEN format('nullif(btrim(x.fields[%s]), '''')', pos ->> 'provider_name')
         ELSE 'NULL::text' END,                                                  -- 7
    coalesce(pos ->> 'outcome', '0'),                                            -- 8
    head.line_no,                                                                -- 9
    n_fields,                                                                    -- 10
    r.name,                                                                      -- 11
    new_id)                                                                      -- 12
  INTO stats USING content;

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
COMMENT ON FUNCTION outreach.import_outcomes(text, text, bytea) IS
  'imports a recipient''s outcome file: header checked (22P04 if wrong), good rows inserted or updated, every other line returned with its reason';

REVOKE EXECUTE ON FUNCTION outreach.import_outcomes(text, text, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.import_outcomes(text, text, bytea) TO outreach_daemon, outreach_processor;
REVOKE EXECUTE ON FUNCTION outreach.outcome_lock_key() FROM PUBLIC;
