-- Outcome imports: each line parsed, checked against the layout and compared with earlier lines
-- of the file by one C function (outreach.outcome_file_lines, extension/src/core/outcome_lines),
-- instead of SQL expressions over csv_records() and a sort with a window for the repeats. The
-- messages, statuses and what is stored are those of 0.4.0.

CREATE FUNCTION outreach.outcome_file_lines(content bytea, header_line int, n_fields int, positions int[],
                                            fixed_kind text, code_keys text[], code_values text[])
RETURNS TABLE (line_no int, reference text, kind text, academic_year int, measure text, value text,
               provider_ukprn int, provider_name text, problem text, first_line int, same_as_first boolean)
AS 'MODULE_PATHNAME', 'outcome_file_lines' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 1000000;
COMMENT ON FUNCTION outreach.outcome_file_lines(bytea, int, int, int[], text, text[], text[]) IS
  'the data lines of an outcome file (after header_line), checked against a layout (field count; positions of reference, '
  'academic_year, measure, value, provider_ukprn, provider_name, outcome; fixed kind or codes): the first problem of each, '
  'and for a repeated fact the first line and whether its values are the same';
REVOKE EXECUTE ON FUNCTION outreach.outcome_file_lines(bytea, int, int, int[], text, text[], text[]) FROM PUBLIC;
-- (0.4.0's declaration of csv_records for the import, now unused)
DROP FUNCTION outreach.outcome_file_records(bytea);

CREATE OR REPLACE FUNCTION outreach.import_outcomes(recipient text, file_name text, content bytea)
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

  -- One statement: parse, check, match, find duplicates within the file, then write the good
  -- rows and record the others. The checks are ordered: the first problem of a line is reported.
  -- Codes, digits and references are compared byte-wise (COLLATE "C").
  EXECUTE format($sql$
    WITH checked AS MATERIALIZED (
      -- parsed, checked (the first problem of each line) and repeats marked, by one C function
      -- (codes, digits and references compared byte-wise, as in the ledger: COLLATE "C")
      SELECT l.line_no, l.reference COLLATE "C" AS reference, l.kind COLLATE "C" AS kind, l.academic_year,
             l.measure COLLATE "C" AS measure, l.value, l.provider_ukprn, l.provider_name, l.problem,
             l.first_line, l.same_as_first
      FROM outreach.outcome_file_lines($1, %1$s, %2$s, $2, $3, $4, $5) AS l
    ), judged AS (
      SELECT c.line_no, m.controller_id, m.participant_id, c.kind, c.academic_year, c.measure, c.provider_ukprn,
             c.provider_name, c.value, c.first_line, c.same_as_first,
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
               WHEN m.controller_id IS NULL THEN format('reference %%s was never sent to %3$s', c.reference)
               WHEN p.participant_id IS NULL THEN format('reference %%s: the participant''s record has been deleted', c.reference)
               WHEN p.withdrawn_at IS NOT NULL THEN format('reference %%s: the participant has withdrawn; outcome not stored', c.reference)
               WHEN p.restricted_at IS NOT NULL THEN format('reference %%s: processing is restricted; outcome not stored', c.reference)
             END AS reason
      FROM checked c
      -- reference -> participant, from this recipient's ledger (a reference is one participant's)
      LEFT JOIN (SELECT d.reference, min(d.controller_id) AS controller_id, min(d.participant_id) AS participant_id
                 FROM outreach.disclosure d WHERE d.recipient = %3$L GROUP BY d.reference) AS m
        ON c.problem IS NULL AND m.reference = c.reference
      LEFT JOIN outreach.participant p ON p.controller_id = m.controller_id AND p.participant_id = m.participant_id
    ), final AS (
      SELECT j.line_no, j.controller_id, j.participant_id, j.kind, j.academic_year, j.measure, j.provider_ukprn,
             j.provider_name, j.value, j.status, j.reason
      FROM judged j WHERE j.status IS NOT NULL
      UNION ALL
      -- Repeats within the file: the first line of a fact is imported, a later one with the
      -- same values is a duplicate, with other values a conflict (outcome_file_lines found them).
      SELECT j.line_no, j.controller_id, j.participant_id, j.kind, j.academic_year, j.measure, j.provider_ukprn,
             j.provider_name, j.value,
             CASE WHEN j.first_line IS NULL THEN NULL WHEN j.same_as_first THEN 'duplicate' ELSE 'rejected' END,
             CASE WHEN j.first_line IS NULL THEN NULL
                  WHEN j.same_as_first THEN format('the same outcome as line %%s', j.first_line)
                  ELSE format('conflicts with line %%s: the same outcome with another value', j.first_line) END
      FROM judged j WHERE j.status IS NULL
    ), fresh AS (
      -- each fact of the file against what is held: new, changed or the same
      SELECT f.*, o.controller_id IS NOT NULL AS held,
             (o.value, o.provider_name) IS DISTINCT FROM (f.value, f.provider_name) AS differs
      FROM final f
      LEFT JOIN outreach.outcome o
        ON o.controller_id = f.controller_id AND o.participant_id = f.participant_id AND o.recipient = %3$L
       AND o.outcome = f.kind AND o.academic_year = f.academic_year AND o.measure = f.measure
       AND o.provider_ukprn = f.provider_ukprn
      WHERE f.status IS NULL
    ), ins AS (
      -- Imports run one at a time and only they add outcomes, so a fact not held now is not
      -- added by anyone else before this commits (the primary key would refuse it).
      INSERT INTO outreach.outcome (controller_id, participant_id, recipient, outcome, academic_year, measure,
                                    provider_ukprn, provider_name, value, import_id, line_no, updated_at)
      SELECT f.controller_id, f.participant_id, %3$L, f.kind, f.academic_year, f.measure, f.provider_ukprn,
             f.provider_name, f.value, %4$s, f.line_no, clock_timestamp()
      FROM fresh f WHERE NOT f.held
      ORDER BY f.controller_id, f.participant_id, f.kind, f.academic_year, f.measure, f.provider_ukprn
      RETURNING 1
    ), upd AS (
      UPDATE outreach.outcome o
      SET provider_name = f.provider_name, value = f.value, import_id = %4$s, line_no = f.line_no,
          updated_at = clock_timestamp()
      FROM fresh f
      WHERE f.held AND f.differs
        AND o.controller_id = f.controller_id AND o.participant_id = f.participant_id AND o.recipient = %3$L
        AND o.outcome = f.kind AND o.academic_year = f.academic_year AND o.measure = f.measure
        AND o.provider_ukprn = f.provider_ukprn
      RETURNING 1
    ), errs AS (
      INSERT INTO outreach.outcome_import_error (import_id, line_no, status, reason)
      SELECT %4$s, f.line_no, f.status, f.reason FROM final f WHERE f.status IS NOT NULL
      RETURNING status
    )
    SELECT (SELECT count(*) FROM final) AS lines,
           (SELECT count(*) FROM fresh) AS good,
           (SELECT count(*) FROM ins) AS inserted,
           (SELECT count(*) FROM upd) AS updated,
           (SELECT count(*) FILTER (WHERE status = 'rejected') FROM errs) AS rejected,
           (SELECT count(*) FILTER (WHERE status = 'duplicate') FROM errs) AS duplicates,
           (SELECT count(*) FILTER (WHERE status = 'unknown_reference') FROM errs) AS unknown_references$sql$,
    head.line_no,                                                                -- 1
    n_fields,                                                                    -- 2
    r.name,                                                                      -- 3
    new_id)                                                                      -- 4
  INTO stats USING content,
    ARRAY[coalesce((pos ->> 'reference')::int, 0), coalesce((pos ->> 'academic_year')::int, 0),
          coalesce((pos ->> 'measure')::int, 0), coalesce((pos ->> 'value')::int, 0),
          coalesce((pos ->> 'provider_ukprn')::int, 0), coalesce((pos ->> 'provider_name')::int, 0),
          coalesce((pos ->> 'outcome')::int, 0)],
    CASE WHEN lay.outcome_kind IS NOT NULL AND NOT pos ? 'outcome' THEN lay.outcome_kind END,
    code_keys, code_values;

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
