-- Outcome imports in one C++ pass: outcome_import_rows() parses and checks each line
-- (core/outcome_lines), matches its reference through the recipient's ledger, judges it against
-- the participants as held now and merges the good lines with the facts held in each block
-- they fall in (core/outcome_import). import_outcomes() checks the header, records the import,
-- writes the blocks and the lines not imported.

CREATE OR REPLACE FUNCTION outreach.outcome_import_rows(recipient text, import_id bigint, content bytea, header_line int,
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
  free int[];  -- the members locked for this import (the others were deleting participants)
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

  -- Imports run one at a time; each member's deletions wait for them, and a member deleting now
  -- is skipped (see outreach.outcome_lock).
  LOCK TABLE outreach.outcome_lock IN SHARE ROW EXCLUSIVE MODE;
  -- (a member without its row, restored by hand without it, gets one)
  INSERT INTO outreach.outcome_lock (controller_id) SELECT c.controller_id FROM outreach.controller c
  ON CONFLICT DO NOTHING;
  SELECT coalesce(array_agg(l.controller_id), '{}') INTO free
  FROM (SELECT k.controller_id FROM outreach.outcome_lock k ORDER BY k.controller_id FOR UPDATE SKIP LOCKED) l;

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
    -- Imports run one at a time and only they add outcomes (deletions of the members locked here
    -- wait: see outreach.outcome_lock), so the blocks read by the C++ pass are still the ones held.
    -- A member that was busy keeps its blocks as they are.
    INSERT INTO outreach.outcome_block AS b (controller_id, recipient, block, participant_ids, outcomes, academic_years,
                                             measures, provider_ukprns, provider_names, outcome_values, import_ids,
                                             line_nos, updated_ats)
    SELECT x.controller_id, r.name, x.block, x.participant_ids, x.outcomes, x.academic_years, x.measures,
           x.provider_ukprns, x.provider_names, x.outcome_values, x.import_ids, x.line_nos, x.updated_ats
    FROM res x WHERE x.participant_ids IS NOT NULL AND x.controller_id = ANY (free)
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
    UNION ALL
    -- the lines this import would have stored for a member that was busy
    SELECT new_id, u.line_no, 'deferred',
           'not imported: the participant''s member was deleting participants at the time; import the file again'
    FROM res x CROSS JOIN LATERAL unnest(x.line_nos, x.import_ids) AS u(line_no, import_id)
    WHERE x.participant_ids IS NOT NULL AND x.controller_id <> ALL (free) AND u.import_id = new_id
    RETURNING outcome_import_error.status
  )
  SELECT (SELECT count(*) FROM errs) + coalesce(sum(x.unchanged + CASE WHEN x.controller_id = ANY (free)
                                                                      THEN x.inserted + x.updated ELSE 0 END), 0) AS lines,
         coalesce(sum(x.unchanged + CASE WHEN x.controller_id = ANY (free) THEN x.inserted + x.updated ELSE 0 END), 0) AS good,
         coalesce(sum(x.inserted) FILTER (WHERE x.controller_id = ANY (free)), 0) AS inserted,
         coalesce(sum(x.updated) FILTER (WHERE x.controller_id = ANY (free)), 0) AS updated,
         (SELECT count(*) FROM blocks) AS blocks,
         (SELECT count(*) FILTER (WHERE e.status = 'rejected') FROM errs e) AS rejected,
         (SELECT count(*) FILTER (WHERE e.status = 'duplicate') FROM errs e) AS duplicates,
         (SELECT count(*) FILTER (WHERE e.status = 'unknown_reference') FROM errs e) AS unknown_references,
         (SELECT count(*) FILTER (WHERE e.status = 'deferred') FROM errs e) AS deferred
  INTO stats
  FROM res x WHERE x.block IS NOT NULL;

  UPDATE outreach.outcome_import i
  SET lines = stats.lines, inserted = stats.inserted, updated = stats.updated,
      unchanged = stats.good - stats.inserted - stats.updated, rejected = stats.rejected,
      duplicates = stats.duplicates, unknown_references = stats.unknown_references, deferred = stats.deferred
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

