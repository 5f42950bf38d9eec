-- Linkage exports, which write the disclosure ledger (53_ledger.sql).
--
-- outreachd writes the files; the SQL decides everything else:
--   export_begin(recipient, as_of)   opens an export and stages the eligible participants
--   export_lines(export_id)          the header and one RFC 4180 record per staged row
--   export_finish(export_id, sha256, row_count)
--                                    writes the ledger, marks the export finished, returns the manifest
--   export_abandon(export_id, reason)
-- Staged rows live in an unlogged table for the minutes between begin and finish and are
-- removed by finish or abandon; a crash loses them, which export_finish detects (the daemon
-- then begins again, which abandons the old export). See docs/linkage.md.

CREATE TABLE outreach.export (
  export_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recipient text COLLATE "C" NOT NULL,
  layout_version int NOT NULL,
  as_of date NOT NULL,
  entry_year_from int NOT NULL,                    -- the cohorts in scope (Expected HE Entry Years)
  entry_year_to int NOT NULL,
  status text NOT NULL DEFAULT 'building' CHECK (status IN ('building', 'finished', 'abandoned')),
  file_name text NOT NULL,
  row_count bigint NOT NULL DEFAULT 0,             -- rows staged (and, once finished, sent)
  sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  manifest jsonb,
  followups int NOT NULL DEFAULT 0,                -- follow-ups queued by finish (changed during the export)
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  started_by name NOT NULL,
  finished_at timestamptz,                         -- finished or abandoned
  error text,                                      -- why it was abandoned
  action_rows int NOT NULL DEFAULT 0,              -- of row_count: erasure, withdrawal and restriction records
  CHECK ((status = 'finished') = (sha256 IS NOT NULL AND manifest IS NOT NULL)),
  -- The file's life after finish (57_export_files.sql): where outreachd wrote it, the
  -- recipient's confirmed receipt, and outreachd's removal of the file and its manifest.
  directory text,                                  -- NULL: outreachd's configured export directory
  recreates bigint,                                -- the earlier export this one sent again
  delivered_at timestamptz,
  delivery_reference text,                         -- the recipient's acknowledgement, as the service recorded it
  delivery_confirmed_by name,
  removed_at timestamptz,
  removal text CONSTRAINT export_removal_kind CHECK (removal IN ('overwritten', 'unlinked', 'not_found')),
  CONSTRAINT export_removal_after_delivery
    CHECK ((removed_at IS NULL) = (removal IS NULL) AND (removed_at IS NULL OR delivered_at IS NOT NULL))
);
CREATE INDEX export_recipient_idx ON outreach.export (recipient, export_id);
CREATE INDEX export_building_idx ON outreach.export (recipient) WHERE status = 'building';
COMMENT ON TABLE outreach.export IS
  'linkage exports: recipient, layout, status (building, finished, abandoned), file name, rows, checksum, manifest';
SELECT pg_catalog.pg_extension_config_dump('outreach.export', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.export', 'export_id')::pg_catalog.regclass, '');
REVOKE ALL ON outreach.export FROM PUBLIC;
GRANT SELECT ON outreach.export TO outreach_daemon, outreach_processor;

-- The column specs of an export layout for export_line (core/export_format.hpp): how each
-- column's value is written. Coded fields (sex, record_action) map values through the layout's
-- value_codes, matched trimmed and in lower case, "*" for anything else.
CREATE OR REPLACE FUNCTION outreach.export_column_specs(recipient text, layout_version int) RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT array_agg(CASE c.field
           WHEN 'forename' THEN 'trim' WHEN 'surname' THEN 'trim'
           WHEN 'date_of_birth' THEN 'date:' || l.date_format
           WHEN 'sex' THEN 'code:' || coalesce(codes.spec, '')
           WHEN 'record_action' THEN CASE WHEN codes.spec IS NULL THEN 'text' ELSE 'code:' || codes.spec END
           ELSE 'text' END ORDER BY c.position)
  FROM outreach.recipient_layout l
  JOIN outreach.recipient_layout_column c ON c.recipient = l.recipient AND c.kind = l.kind AND c.version = l.version
  LEFT JOIN LATERAL (
    SELECT string_agg(replace(replace(replace(k.key, '\', '\\'), ';', '\;'), '=', '\=') || '='
                      || replace(replace(replace(k.value, '\', '\\'), ';', '\;'), '=', '\='), ';' ORDER BY k.key) AS spec
    FROM jsonb_each_text(l.value_codes -> c.field) k WHERE c.field IN ('sex', 'record_action')) AS codes ON true
  WHERE l.recipient = export_column_specs.recipient AND l.kind = 'export' AND l.version = layout_version
$$;
COMMENT ON FUNCTION outreach.export_column_specs(text, int) IS
  'export_line''s column specs for an export layout, in column order';
REVOKE EXECUTE ON FUNCTION outreach.export_column_specs(text, int) FROM PUBLIC;

-- The SELECT that renders a recipient's export rows under a layout: per participant its keys,
-- cohort (entry year), row version, reference (the one it was sent under before, else a new
-- one), the hash of what it was last sent, and its record. Built from the layout (data) with
-- every value quoted as a literal; the field kinds are the only code. eligible_only adds the
-- eligibility rule; keyed ($1 controller ids, $2 participant ids) restricts it to those.
CREATE OR REPLACE FUNCTION outreach.export_render_sql(recipient text, layout_version int, as_of date,
                                                      eligible_only boolean, keyed boolean DEFAULT false,
                                                      before_export bigint DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
  lay outreach.recipient_layout;
  c record;
  ay int := outreach.academic_year(as_of);
  specs text[] := outreach.export_column_specs(recipient, layout_version);
  exprs text[] := '{}';
  hashed_exprs text[] := '{}';
  conds text[] := '{}';
  e text;
  sex_case text;
  sex_codes jsonb;
  has_action boolean := false;
  needs_institution boolean := false;
  needs_controller boolean := false;
BEGIN
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = export_render_sql.recipient;
  SELECT * INTO lay FROM outreach.recipient_layout l
  WHERE l.recipient = export_render_sql.recipient AND l.kind = 'export' AND l.version = layout_version;
  IF NOT FOUND OR r.name IS NULL THEN
    RAISE EXCEPTION 'recipient "%" has no export layout version %', recipient, layout_version USING ERRCODE = '22023';
  END IF;
  -- sex: codes matched on the trimmed, lower-cased value; "*" is everything else
  sex_codes := coalesce(lay.value_codes -> 'sex', '{}');
  SELECT 'CASE lower(btrim(p.sex))' || coalesce(string_agg(format(' WHEN %L THEN %L', k.key, k.value), '' ORDER BY k.key), '')
    INTO sex_case FROM jsonb_each_text(sex_codes) k WHERE k.key <> '*';
  FOR c IN SELECT * FROM outreach.recipient_layout_column lc
           WHERE lc.recipient = export_render_sql.recipient AND lc.kind = 'export' AND lc.version = layout_version
           ORDER BY lc.position LOOP
    -- the value; export_line writes it by the column's spec (export_column_specs)
    e := CASE c.field
      WHEN 'reference' THEN 'x.reference'
      WHEN 'forename' THEN 'x.first_name'
      WHEN 'surname' THEN 'x.last_name'
      WHEN 'date_of_birth' THEN 'x.date_of_birth'
      WHEN 'postcode' THEN CASE WHEN lay.unknown_postcode IS NULL THEN 'x.postcode'
                                ELSE format('coalesce(x.postcode, %L)', lay.unknown_postcode) END
      WHEN 'sex' THEN 'x.sex'
      WHEN 'school_urn' THEN 'x.urn'
      WHEN 'school_ukprn' THEN 'x.ukprn'
      WHEN 'upn' THEN 'x.upn'
      WHEN 'uln' THEN 'x.uln'
      WHEN 'entry_year' THEN 'x.cohort_year'
      WHEN 'extend_link_by' THEN format('CASE WHEN x.cohort_year < %s THEN %s - x.cohort_year END', ay, ay)
      WHEN 'member' THEN 'x.member'
      WHEN 'blank' THEN 'NULL::text'
      -- first sent, or sent before and changed since (Art. 19: a correction)
      WHEN 'record_action' THEN 'CASE WHEN x.prev_hash IS NULL THEN ''new'' ELSE ''correction'' END'
    END;
    IF e IS NULL THEN
      RAISE EXCEPTION 'unknown export field "%"', c.field USING ERRCODE = '22023';
    END IF;
    exprs := exprs || e;
    -- the content hash leaves the action out: "new" then "correction" is no change of content
    hashed_exprs := hashed_exprs || CASE WHEN c.field = 'record_action' THEN 'NULL::text' ELSE e END;
    has_action := has_action OR c.field = 'record_action';
    needs_institution := needs_institution OR c.field IN ('school_urn', 'school_ukprn');
    needs_controller := needs_controller OR c.field = 'member';
    IF c.required THEN
      conds := conds || CASE c.field
        WHEN 'forename' THEN 'outreach.normalise_name(p.first_name) <> '''''
        WHEN 'surname' THEN 'outreach.normalise_name(p.last_name) <> '''''
        WHEN 'date_of_birth' THEN 'p.date_of_birth IS NOT NULL'
        WHEN 'postcode' THEN 'p.postcode IS NOT NULL'
        WHEN 'sex' THEN '(' || sex_case || ' END) IS NOT NULL'
        WHEN 'school_urn' THEN 'i.urn IS NOT NULL'
        WHEN 'school_ukprn' THEN 'i.ukprn IS NOT NULL'
        WHEN 'upn' THEN 'p.upn IS NOT NULL'
        WHEN 'uln' THEN 'p.uln IS NOT NULL'
        ELSE 'true' END;
    END IF;
  END LOOP;
  IF eligible_only THEN
    conds := ARRAY['p.withdrawn_at IS NULL', 'p.restricted_at IS NULL', 'p.retention_status = ''retained''',
                   format('e.cohort_year BETWEEN %s AND %s', ay + r.cohort_from, ay + r.cohort_to)] || conds;
  ELSE
    conds := '{}';
  END IF;
  IF keyed THEN
    conds := conds || '(p.controller_id, p.participant_id) IN (SELECT k.c, k.p FROM unnest($1::int[], $2::bigint[]) AS k(c, p))'::text;
  END IF;
  -- The inner query picks the participants and their values, the outer one writes each record
  -- in one call. No OFFSET 0 fences: flattened into one level, the records can be computed in
  -- parallel workers (export_stage_blocks); the price is that the reference's expression is
  -- evaluated twice per record (for the record and as a column), which costs less.
  -- The previous disclosure: hash-grouped rather than DISTINCT ON (a sort), the latest export's
  -- hash taken with max(ARRAY[export_id, hash]); a participant's reference never changes for a
  -- recipient (it is reused from the ledger), so min() of it is that reference.
  RETURN format($sql$
    SELECT x.controller_id, x.participant_id, x.cohort_year, x.src_xmin, x.restricted, x.reference, x.prev_hash,
           outreach.export_line(%L::text[], %s) AS line, %s AS hashed
    FROM (SELECT p.controller_id, p.participant_id, e.cohort_year, p.xmin AS src_xmin,
                 p.restricted_at IS NOT NULL AS restricted, prev.content_hash AS prev_hash,
                 coalesce(prev.reference, outreach.recipient_reference(p.controller_id, p.participant_id, %L)) AS reference,
                 p.first_name, p.last_name, p.date_of_birth, p.postcode::text AS postcode, p.sex, p.upn, p.uln,
                 %s AS urn, %s AS ukprn, %s AS member
          FROM outreach.participant p
          JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
          %s %s
          CROSS JOIN LATERAL (SELECT coalesce(p.he_entry_year_override,
                                              outreach.expected_he_entry_year(p.date_of_birth, pol.nation)) AS cohort_year) AS e
          LEFT JOIN (SELECT d.controller_id, d.participant_id, min(d.reference) AS reference,
                            (max(ARRAY[d.export_id, d.content_hash]))[2] AS content_hash
                     FROM (SELECT b.controller_id, b.export_id, unnest(b.participant_ids) AS participant_id,
                                  unnest(b.participant_references) AS reference, unnest(b.content_hashes) AS content_hash
                           FROM outreach.disclosure_block b
                           WHERE b.recipient = %L %s %s) AS d
                     GROUP BY d.controller_id, d.participant_id) AS prev
            ON prev.controller_id = p.controller_id AND prev.participant_id = p.participant_id
          WHERE %s) AS x$sql$,
    specs, array_to_string(exprs, ', '),
    CASE WHEN has_action THEN format('outreach.export_line(%L::text[], %s)', specs, array_to_string(hashed_exprs, ', '))
         ELSE 'NULL::text' END,
    'recipient:' || recipient,
    CASE WHEN needs_institution THEN 'i.urn' ELSE 'NULL::int' END,
    CASE WHEN needs_institution THEN 'i.ukprn' ELSE 'NULL::int' END,
    CASE WHEN needs_controller THEN 'ctl.code' ELSE 'NULL::text' END,
    CASE WHEN needs_institution THEN 'LEFT JOIN outreach.institution i ON i.institution_id = p.institution_id' ELSE '' END,
    CASE WHEN needs_controller THEN 'JOIN outreach.controller ctl ON ctl.controller_id = p.controller_id' ELSE '' END,
    recipient,
    CASE WHEN keyed THEN 'AND (b.controller_id, b.block) IN (SELECT k.c, (k.p >> 12)::int FROM unnest($1::int[], $2::bigint[]) AS k(c, p))'
         ELSE '' END,
    -- (a re-created export: what was sent before it, so its records say "new" or "correction" as they did)
    CASE WHEN before_export IS NOT NULL THEN format('AND b.export_id < %s', before_export) ELSE '' END,
    CASE WHEN cardinality(conds) = 0 THEN 'true' ELSE array_to_string(conds, ' AND ') END);
END
$$;
COMMENT ON FUNCTION outreach.export_render_sql(text, int, date, boolean, boolean, bigint) IS
  'the query rendering a recipient''s export rows from its layout (with the eligibility rule when eligible_only)';

-- File name from the recipient's pattern.
CREATE OR REPLACE FUNCTION outreach.export_file_name(pattern text, recipient text, as_of date, export_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT replace(replace(replace(replace(replace(pattern,
           '{recipient}', recipient),
           '{year}', extract(year FROM as_of)::int::text),
           '{academic_year}', outreach.academic_year(as_of)::text),
           '{date}', to_char(as_of, 'YYYYMMDD')),
           '{export_id}', lpad(export_id::text, greatest(6, length(export_id::text)), '0'))
$$;
COMMENT ON FUNCTION outreach.export_file_name(text, text, date, bigint) IS
  'an export''s file name from the recipient''s pattern ({recipient} {year} {academic_year} {date} {export_id})';

-- Removes an export's staged blocks: the whole (unlogged) table at once when no other export is
-- being built, which is the usual case, else just its rows.
CREATE OR REPLACE FUNCTION outreach.export_clear_staging(export_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM outreach.export_touch t WHERE t.export_id = export_clear_staging.export_id;
  DELETE FROM outreach.export_action_line a WHERE a.export_id = export_clear_staging.export_id;
  IF NOT EXISTS (SELECT 1 FROM outreach.export e
                 WHERE e.status = 'building' AND e.export_id <> export_clear_staging.export_id) THEN
    -- Waits for a begin in progress (it holds a lock on the table while it stages); then looks again.
    LOCK TABLE outreach.export_chunk IN ACCESS EXCLUSIVE MODE;
    IF NOT EXISTS (SELECT 1 FROM outreach.export e
                   WHERE e.status = 'building' AND e.export_id <> export_clear_staging.export_id) THEN
      TRUNCATE outreach.export_chunk;
      RETURN;
    END IF;
  END IF;
  DELETE FROM outreach.export_chunk s WHERE s.export_id = export_clear_staging.export_id;
END
$$;
COMMENT ON FUNCTION outreach.export_clear_staging(bigint) IS 'removes the staged rows of an export';

-- export_begin takes its locks (a still-building export's row, then SHARE on
-- outreach.participant) through lock_ahead_of_members, so that waiting for members'
-- transactions never stalls every other member.
--
-- export_open does the work, for export_begin and (recreates: an earlier export's id) for
-- export_begin_recreation (57_export_files.sql), which sends an earlier export's records again
-- under its layout and date.
CREATE OR REPLACE FUNCTION outreach.export_open(recipient text, as_of date, recreates bigint)
RETURNS TABLE (export_id bigint, file_name text, layout_version int, row_count bigint, pgp_public_key text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
-- (other locks: the SHARE lock below is taken by lock_ahead_of_members)
SET lock_timeout = '60s'
AS $$
#variable_conflict use_column
DECLARE
  r record;
  ay int;
  layout int;
  new_id bigint;
  fname text;
  n bigint;
  actions int := 0;
BEGIN
  IF as_of IS NULL OR as_of NOT BETWEEN DATE '1950-01-01' AND DATE '2200-01-01' THEN
    RAISE EXCEPTION 'as_of must be a date between 1950 and 2200' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = export_open.recipient;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown recipient "%"', recipient USING ERRCODE = '42704',
      HINT = 'Recipients are listed in outreach.recipient.';
  END IF;
  -- A re-created export is written under the layout its records were first sent in.
  layout := coalesce((SELECT x.layout_version FROM outreach.export x WHERE x.export_id = export_open.recreates), r.export_layout);
  IF layout IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.recipient_layout l
                                   WHERE l.recipient = r.name AND l.kind = 'export' AND l.version = layout) THEN
    RAISE EXCEPTION 'recipient "%" has no export layout', recipient USING ERRCODE = '22023',
      HINT = 'Define one with outreach.define_layout(recipient, ''export'', columns).';
  END IF;
  IF NOT r.enabled THEN
    RAISE EXCEPTION 'recipient "%" is disabled', recipient USING ERRCODE = '55000';
  END IF;
  -- A sharing agreement in force today, or nothing is written or recorded.
  PERFORM outreach.require_agreement(r.name);
  -- The recipient's key must be in the key file (42704 naming the scope, before any work).
  PERFORM outreach.pseudonymise('c0', 'p0', DATE '1900-01-01', 'GIR 0AA', 'recipient:' || r.name);
  -- One export of a recipient is built at a time: begins of the same recipient queue here.
  PERFORM 1 FROM outreach.recipient_definition d WHERE d.name = r.name FOR UPDATE;
  -- An export still building is a run that crashed or was given up: abandon it. (Members'
  -- transactions changing participants hold its row in share mode: lock it without queueing.)
  PERFORM outreach.lock_ahead_of_members(pg_catalog.format(
    'SELECT 1 FROM outreach.export e WHERE e.recipient = %L AND e.status = ''building'' FOR UPDATE NOWAIT', r.name));
  UPDATE outreach.export e SET status = 'abandoned', finished_at = clock_timestamp(),
         error = 'abandoned: a new export of the recipient began'
  WHERE e.recipient = r.name AND e.status = 'building';
  IF FOUND THEN
    DELETE FROM outreach.export_chunk s USING outreach.export e
    WHERE s.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
    DELETE FROM outreach.export_touch t USING outreach.export e
    WHERE t.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
    DELETE FROM outreach.export_action_line t USING outreach.export e
    WHERE t.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
  END IF;

  ay := outreach.academic_year(as_of);
  INSERT INTO outreach.export (recipient, layout_version, as_of, entry_year_from, entry_year_to, file_name, started_by,
                               recreates)
  VALUES (r.name, layout, as_of, ay + r.cohort_from, ay + r.cohort_to, '', outreach.invoking_role()::text, export_open.recreates)
  RETURNING export.export_id INTO new_id;
  fname := outreach.export_file_name(r.file_pattern, r.name, as_of, new_id);
  IF r.pgp_public_key IS NOT NULL THEN
    fname := fname || '.gpg';  -- the daemon encrypts it to the recipient's OpenPGP key
  END IF;

  -- No participant changes between the staging snapshot and this transaction's commit: the
  -- lock waits for members' transactions in progress (their changes are then staged) and holds
  -- new ones until the export is visible to their triggers (which record them in export_touch).
  PERFORM outreach.lock_ahead_of_members('LOCK TABLE outreach.participant IN SHARE MODE NOWAIT');

  IF export_open.recreates IS NOT NULL THEN
    -- The earlier export's records as they were sent, or an error (export_stage_copy).
    PERFORM outreach.export_stage_copy(new_id, export_open.recreates);
  ELSE
    -- Stage the blocks (the eligible participants whose record changed or was never sent).
    INSERT INTO outreach.export_chunk
    SELECT * FROM outreach.export_stage_blocks(new_id, r.name, layout, as_of);
  END IF;
  SELECT coalesce(sum(cardinality(s.participant_ids)), 0) INTO n FROM outreach.export_chunk s WHERE s.export_id = new_id;
  IF EXISTS (SELECT 1 FROM outreach.recipient_layout_column c
             WHERE c.recipient = r.name AND c.kind = 'export' AND c.version = layout AND c.field = 'record_action') THEN
    -- the pending erasure, withdrawal and restriction records, or those the re-created export carried
    actions := outreach.export_stage_actions(new_id, r.name, layout, export_open.recreates);
  END IF;

  UPDATE outreach.export e SET file_name = fname, row_count = n + actions, action_rows = actions
  WHERE e.export_id = new_id;
  n := n + actions;
  RETURN QUERY SELECT new_id, fname, layout, n, r.pgp_public_key;
END
$$;
COMMENT ON FUNCTION outreach.export_open(text, date, bigint) IS
  'opens an export of a recipient and stages its records (export_begin, export_begin_recreation)';
REVOKE EXECUTE ON FUNCTION outreach.export_open(text, date, bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION outreach.export_begin(recipient text, as_of date DEFAULT current_date)
RETURNS TABLE (export_id bigint, file_name text, layout_version int, row_count bigint, pgp_public_key text)
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM outreach.export_open(recipient, as_of, NULL)
$$;
COMMENT ON FUNCTION outreach.export_begin(text, date) IS
  'opens an export of a recipient and stages its eligible participants; returns id, file name, layout, rows and OpenPGP key';

CREATE OR REPLACE FUNCTION outreach.export_lines(export_id bigint) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- RETURN QUERY collects the lines before the caller reads them: in memory, not in a file.
SET work_mem = '256MB'
AS $$
DECLARE
  e outreach.export;
BEGIN
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_lines.export_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
  END IF;
  IF e.status <> 'building' THEN
    RAISE EXCEPTION 'export % is %: its rows are no longer staged', export_id, e.status USING ERRCODE = '55000',
      HINT = 'Begin a new export.';
  END IF;
  RETURN QUERY
  SELECT outreach.csv_record(array_agg(c.header ORDER BY c.position))
  FROM outreach.recipient_layout_column c
  WHERE c.recipient = e.recipient AND c.kind = 'export' AND c.version = e.layout_version;
  -- Block by block in key order, each block's records in participant order.
  RETURN QUERY
  SELECT u.line
  FROM (SELECT s.lines FROM outreach.export_chunk s WHERE s.export_id = export_lines.export_id
        ORDER BY s.controller_id, s.block) AS s
  CROSS JOIN LATERAL unnest(s.lines) AS u(line);
  -- Then the erasure, withdrawal and restriction records.
  RETURN QUERY
  SELECT a.line FROM outreach.export_action_line a WHERE a.export_id = export_lines.export_id
  ORDER BY a.controller_id, a.participant_id;
END
$$;
COMMENT ON FUNCTION outreach.export_lines(bigint) IS
  'the records of an export''s file, header first, one RFC 4180 record per staged row, without line terminators';

-- Follow-ups for participants staged in an export who changed or were deleted after staging
-- (their trigger ran before the ledger rows existed): what was staged compared with now.
CREATE OR REPLACE FUNCTION outreach.export_changed_since_staging(export_id bigint) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
AS $$
DECLARE
  e outreach.export;
  cids int[];
  pids bigint[];
  n int;
BEGIN
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_changed_since_staging.export_id;
  -- Candidates: participants changed or deleted since they were staged (their triggers
  -- recorded them; this export's row lock made their transactions finish first).
  SELECT array_agg(t.controller_id), array_agg(t.participant_id) INTO cids, pids
  FROM outreach.export_touch t WHERE t.export_id = e.export_id;
  IF cids IS NULL THEN
    RETURN 0;
  END IF;
  EXECUTE format($sql$
    INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id, fields)
    SELECT s.controller_id, s.participant_id, %L, k.kind, s.reference, %s, k.fields
    FROM (SELECT c.controller_id, u.participant_id, u.reference, u.line
          FROM outreach.export_chunk c
          CROSS JOIN LATERAL unnest(c.participant_ids, c.participant_references, c.lines) AS u(participant_id, reference, line)
          WHERE c.export_id = %s
            AND (c.controller_id, c.block) IN (SELECT k.c, (k.p >> 12)::int FROM unnest($1::int[], $2::bigint[]) AS k(c, p))) AS s
    JOIN unnest($1::int[], $2::bigint[]) AS c(controller_id, participant_id)
      ON c.controller_id = s.controller_id AND c.participant_id = s.participant_id
    LEFT JOIN (%s) AS now ON now.controller_id = s.controller_id AND now.participant_id = s.participant_id
    CROSS JOIN LATERAL (
      SELECT 'erasure' AS kind, NULL::text[] AS fields WHERE now.participant_id IS NULL
      UNION ALL
      SELECT 'restriction', NULL WHERE now.restricted
      UNION ALL
      SELECT 'rectification', changed.headers
      FROM (SELECT array_agg(col.header ORDER BY col.i) AS headers
            FROM (SELECT lc.header, lc.field, row_number() OVER (ORDER BY lc.position) AS i
                  FROM outreach.recipient_layout_column lc
                  WHERE lc.recipient = %L AND lc.kind = 'export' AND lc.version = %s) AS col,
                 -- the staged record's fields and the current one's, read back
                 (SELECT sf.fields FROM outreach.csv_records(convert_to(s.line, 'UTF8')) AS sf LIMIT 1) AS staged,
                 (SELECT nf.fields FROM outreach.csv_records(convert_to(now.line, 'UTF8')) AS nf LIMIT 1) AS cur
            WHERE col.field NOT IN ('reference', 'record_action')
              AND staged.fields[col.i] IS DISTINCT FROM cur.fields[col.i]) AS changed
      WHERE now.participant_id IS NOT NULL AND changed.headers IS NOT NULL) AS k
    -- not when the participant's trigger has queued the same already (an earlier export sent them)
    WHERE NOT EXISTS (SELECT 1 FROM outreach.recipient_followup f
                      WHERE f.controller_id = s.controller_id AND f.participant_id = s.participant_id
                        AND f.recipient = %L AND f.kind = k.kind AND f.queued_at >= %L::timestamptz)$sql$,
    e.recipient, e.export_id, e.export_id,
    outreach.export_render_sql(e.recipient, e.layout_version, e.as_of, false, true),
    e.recipient, e.layout_version, e.recipient, e.started_at)
  USING cids, pids;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.export_changed_since_staging(bigint) IS
  'queues Art. 19 follow-ups for staged participants rectified, restricted or deleted before their export finished';

CREATE OR REPLACE FUNCTION outreach.export_finish(export_id bigint, sha256 text, row_count bigint,
                                                  directory text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
  e outreach.export;
  n bigint;
  f int;
  m jsonb;
BEGIN
  -- Waits for members' transactions that are changing staged participants (they lock the
  -- building exports in share mode), so every change is either seen below or sees the ledger.
  PERFORM outreach.lock_ahead_of_members(
    pg_catalog.format('SELECT 1 FROM outreach.export x WHERE x.export_id = %s FOR UPDATE NOWAIT', export_id));
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_finish.export_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
  END IF;
  IF e.status = 'finished' AND e.sha256 = export_finish.sha256 AND e.row_count = export_finish.row_count THEN
    RETURN e.manifest;  -- a repeated call (the first one's reply was lost): same answer
  END IF;
  IF e.status = 'finished' THEN
    RAISE EXCEPTION 'export % is finished already, with another checksum or row count', export_id USING ERRCODE = '55000';
  ELSIF e.status <> 'building' THEN
    RAISE EXCEPTION 'export % was abandoned and cannot be finished', export_id USING ERRCODE = '55000',
      HINT = 'Begin a new export.';
  END IF;
  IF sha256 IS NULL OR sha256 !~ '^[0-9a-f]{64}$' THEN
    RAISE EXCEPTION 'sha256 must be 64 lower-case hexadecimal digits' USING ERRCODE = '22023';
  END IF;
  -- Where the file is, for its removal after delivery (an absolute path of printable characters).
  IF directory IS NOT NULL AND (directory !~ '^/' OR length(directory) > 4096 OR directory ~ '[[:cntrl:]]') THEN
    RAISE EXCEPTION 'directory must be an absolute path of printable characters' USING ERRCODE = '22023';
  END IF;
  -- The agreement must still be in force when the file is handed over (it may have ended
  -- since the export began): else nothing is recorded and the daemon removes the file.
  PERFORM outreach.require_agreement(e.recipient);
  IF row_count IS DISTINCT FROM e.row_count THEN
    RAISE EXCEPTION 'export % staged % rows, not %', export_id, e.row_count, coalesce(row_count::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'The file must hold every staged row (the header not counted).';
  END IF;

  -- The ledger: the staged blocks as they are, without the records themselves.
  WITH ledger AS (
    INSERT INTO outreach.disclosure_block (controller_id, block, export_id, recipient, participant_ids, cohort_years,
                                           participant_references, content_hashes)
    SELECT s.controller_id, s.block, s.export_id, e.recipient, s.participant_ids, s.cohort_years,
           s.participant_references, s.content_hashes
    FROM outreach.export_chunk s WHERE s.export_id = e.export_id
    RETURNING cardinality(participant_ids) AS n
  )
  SELECT coalesce(sum(ledger.n), 0) INTO n FROM ledger;
  -- The records of the follow-ups the file carried: those follow-ups are answered. (Counted
  -- with the blocks: a restart loses both, unlogged.)
  UPDATE outreach.recipient_followup f SET carried_by = e.export_id
  FROM (SELECT a.controller_id, unnest(a.followup_ids) AS followup_id
        FROM outreach.export_action_line a WHERE a.export_id = e.export_id) AS c
  WHERE f.controller_id = c.controller_id AND f.followup_id = c.followup_id AND f.carried_by IS NULL;
  n := n + (SELECT count(*) FROM outreach.export_action_line a WHERE a.export_id = e.export_id);
  IF e.action_rows > 0 THEN
    -- A corrected record sent again answers its rectification follow-ups too.
    UPDATE outreach.recipient_followup f SET carried_by = e.export_id
    WHERE f.recipient = e.recipient AND f.kind = 'rectification' AND f.carried_by IS NULL
      AND EXISTS (SELECT 1 FROM outreach.export_chunk s
                  WHERE s.export_id = e.export_id AND s.controller_id = f.controller_id
                    AND s.block = (f.participant_id >> 12)::int AND f.participant_id = ANY (s.participant_ids));
  END IF;
  IF n <> e.row_count THEN
    RAISE EXCEPTION 'export % lost its staged rows (% of %): the server restarted while it was built', export_id, n, e.row_count
      USING ERRCODE = '55000', HINT = 'Begin the export again (that abandons this one).';
  END IF;

  f := outreach.export_changed_since_staging(e.export_id);
  m := jsonb_build_object('recipient', e.recipient, 'layout_version', e.layout_version, 'created_at', e.started_at,
                          'row_count', e.row_count, 'sha256', sha256, 'file', e.file_name);
  IF e.action_rows > 0 THEN
    m := m || jsonb_build_object('action_rows', e.action_rows);
  END IF;
  IF e.recreates IS NOT NULL THEN
    m := m || jsonb_build_object('recreates', e.recreates);
  END IF;
  UPDATE outreach.export x SET status = 'finished', finished_at = clock_timestamp(), sha256 = export_finish.sha256,
         manifest = m, followups = f, directory = export_finish.directory
  WHERE x.export_id = e.export_id;
  PERFORM outreach.export_clear_staging(e.export_id);
  IF f > 0 THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN m;
END
$$;
COMMENT ON FUNCTION outreach.export_finish(bigint, text, bigint, text) IS
  'finishes an export: checks the row count, writes the ledger, marks it finished and returns the manifest, in one transaction';

CREATE OR REPLACE FUNCTION outreach.export_abandon(export_id bigint, reason text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  e outreach.export;
BEGIN
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_abandon.export_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown export %', export_id USING ERRCODE = '42704';
  END IF;
  IF e.status = 'finished' THEN
    RAISE EXCEPTION 'export % is finished and cannot be abandoned', export_id USING ERRCODE = '55000';
  END IF;
  IF e.status = 'building' THEN
    UPDATE outreach.export x SET status = 'abandoned', finished_at = clock_timestamp(),
           error = left(coalesce(nullif(btrim(reason), ''), 'abandoned'), 2000)
    WHERE x.export_id = e.export_id;
    PERFORM outreach.export_clear_staging(e.export_id);
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.export_abandon(bigint, text) IS
  'abandons an export being built (its staged rows are dropped; nothing reaches the ledger)';

REVOKE EXECUTE ON FUNCTION outreach.export_render_sql(text, int, date, boolean, boolean, bigint),
  outreach.export_clear_staging(bigint), outreach.export_begin(text, date), outreach.export_lines(bigint),
  outreach.export_changed_since_staging(bigint), outreach.export_finish(bigint, text, bigint, text),
  outreach.export_abandon(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.export_begin(text, date), outreach.export_lines(bigint),
  outreach.export_finish(bigint, text, bigint, text), outreach.export_abandon(bigint, text) TO outreach_daemon;
REVOKE EXECUTE ON FUNCTION outreach.export_file_name(text, text, date, bigint) FROM PUBLIC;

-- Records in C, for speed: export_line writes one export record per call
-- (extension/src/core/export_format.hpp has the column specs), and recipient_reference makes the
-- per-recipient reference without SQL string building. Both serve export_render_sql(). Records
-- are staged in blocks of participants, the blocks the disclosure ledger keeps.
CREATE OR REPLACE FUNCTION outreach.export_line(spec text[], VARIADIC "any") RETURNS text
  AS 'MODULE_PATHNAME', 'export_line' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.export_line(text[], "any") IS
  'one RFC 4180 record of an export: each value written by its column spec (text, trim, date:FORMAT, '
  'code:K=V;...;*=V), as csv_record() of the formatted fields';

CREATE OR REPLACE FUNCTION outreach.recipient_reference(controller_id int, participant_id bigint, scope text) RETURNS text
  AS 'MODULE_PATHNAME', 'recipient_reference' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.recipient_reference(int, bigint, text) IS
  'a participant''s reference in a recipient''s files: pseudonymise(''c'' || controller_id, ''p'' || participant_id, '
  '''1900-01-01'', ''GIR 0AA'', scope)::text';

-- The reference is a keyed pseudonym (the same privilege as pseudonymise); export_line is only
-- used by the export functions.
REVOKE EXECUTE ON FUNCTION outreach.export_line(text[], "any"), outreach.recipient_reference(int, bigint, text) FROM PUBLIC;

-- The aggregate export_begin stages with: one member's block of records, those whose content
-- hash differs from what was sent before, as parallel arrays sorted by participant id
-- (extension/src/pg/export_block.cpp).
CREATE TYPE outreach.export_block_data AS (
  participant_ids bigint[], cohort_years int[], src_xmins xid[], participant_references text[],
  content_hashes bigint[], lines text[]
);
CREATE OR REPLACE FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text, text) RETURNS internal
  AS 'MODULE_PATHNAME', 'export_block_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION outreach.export_block_final(internal) RETURNS outreach.export_block_data
  AS 'MODULE_PATHNAME', 'export_block_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE AGGREGATE outreach.export_block(bigint, int, xid, text, bigint, text, text) (
  SFUNC = outreach.export_block_add, STYPE = internal, FINALFUNC = outreach.export_block_final,
  PARALLEL = SAFE   -- (no combine function: it runs above the workers, which compute its input)
);
COMMENT ON AGGREGATE outreach.export_block(bigint, int, xid, text, bigint, text, text) IS
  'the records of a block of an export being staged (participant id, cohort, row version, reference, hash last sent, line, what is hashed when not the line) that changed since sent, as arrays sorted by participant id';
REVOKE EXECUTE ON FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text, text),
  outreach.export_block_final(internal), outreach.export_block(bigint, int, xid, text, bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text, text) IS
  'transition function of outreach.export_block: adds one record to the block';
COMMENT ON FUNCTION outreach.export_block_final(internal) IS
  'final function of outreach.export_block: the block''s records as arrays sorted by participant id';

CREATE UNLOGGED TABLE outreach.export_chunk (
  export_id bigint NOT NULL,
  controller_id int NOT NULL,
  block int NOT NULL,                                -- participant_id >> 12
  participant_ids bigint[] NOT NULL,                 -- ascending; the rest in the same positions
  cohort_years int[] NOT NULL,
  src_xmins xid[] NOT NULL,                          -- the participant row versions that were staged
  participant_references text[] COLLATE "C" NOT NULL,
  content_hashes bigint[] NOT NULL,                  -- hashtextextended(line, 0)
  lines text[] NOT NULL,                             -- the RFC 4180 records, without line terminators
  PRIMARY KEY (export_id, controller_id, block)
);
ALTER TABLE outreach.export_chunk ALTER participant_ids SET STORAGE EXTERNAL, ALTER cohort_years SET STORAGE EXTERNAL,
  ALTER src_xmins SET STORAGE EXTERNAL, ALTER participant_references SET STORAGE EXTERNAL,
  ALTER content_hashes SET STORAGE EXTERNAL, ALTER lines SET STORAGE EXTERNAL;
COMMENT ON TABLE outreach.export_chunk IS
  'records of exports being built, per member and block of participants (unlogged; removed when the export finishes or is abandoned)';
ALTER TABLE outreach.export_chunk ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.export_chunk FORCE ROW LEVEL SECURITY;
CREATE POLICY export_chunk_dpo_read ON outreach.export_chunk FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.export_chunk FROM PUBLIC;

-- The staged records a row each (for DBAs looking at an export in progress).
CREATE OR REPLACE VIEW outreach.export_row WITH (security_invoker = true) AS
SELECT c.export_id, c.controller_id, u.participant_id, u.cohort_year, u.src_xmin, u.reference, u.content_hash, u.line
FROM outreach.export_chunk c
CROSS JOIN LATERAL unnest(c.participant_ids, c.cohort_years, c.src_xmins, c.participant_references, c.content_hashes, c.lines)
  AS u(participant_id, cohort_year, src_xmin, reference, content_hash, line);
COMMENT ON VIEW outreach.export_row IS 'records of exports being built, a row each (from outreach.export_chunk)';
REVOKE ALL ON outreach.export_row FROM PUBLIC;

-- Participants changed or deleted while an export is being built: the participant triggers
-- record them here for every building export (export_begin makes sure no change can slip in
-- before its export is visible to them: it stages under a SHARE lock on outreach.participant),
-- and export_finish compares only these with what was staged. (Comparing every staged row's
-- version with the participant table at finish took 0.9 s a million.)
CREATE TABLE outreach.export_touch (
  export_id bigint NOT NULL,
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  PRIMARY KEY (export_id, controller_id, participant_id)
);
COMMENT ON TABLE outreach.export_touch IS
  'participants changed or deleted while an export was being built (compared with what it staged when it finishes)';
ALTER TABLE outreach.export_touch ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.export_touch FORCE ROW LEVEL SECURITY;
CREATE POLICY export_touch_dpo_read ON outreach.export_touch FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.export_touch FROM PUBLIC;

-- Art. 19 in the file itself: when a recipient's layout has a record_action column, its next
-- export carries a record for each person it received who was erased, withdrew or was restricted
-- since (the reference it knows them by, the action, nothing else), and marks those follow-ups
-- carried. Staged at begin, unlogged like the blocks.
CREATE UNLOGGED TABLE outreach.export_action_line (
  export_id bigint NOT NULL,
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  followup_ids bigint[] NOT NULL,                    -- the follow-ups the record answers
  line text NOT NULL,
  PRIMARY KEY (export_id, controller_id, participant_id)
);
COMMENT ON TABLE outreach.export_action_line IS
  'erasure, withdrawal and restriction records of exports being built (unlogged; removed when the export finishes or is abandoned)';
ALTER TABLE outreach.export_action_line ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.export_action_line FORCE ROW LEVEL SECURITY;
CREATE POLICY export_action_line_dpo_read ON outreach.export_action_line FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.export_action_line FROM PUBLIC;

-- The records of the pending follow-ups of a recipient (one per person: erasure before
-- withdrawal before restriction, of what still holds; the person's pending rectifications are
-- answered by it too), written under the layout with only the reference and the action.
--
-- Re-creating an export (carried_by: the export re-created), the records that export carried:
-- per person, the first of erasure, withdrawal, restriction among the follow-ups it answered.
CREATE OR REPLACE FUNCTION outreach.export_stage_actions(export_id bigint, recipient text, layout_version int,
                                                        carried_by bigint DEFAULT NULL) RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  exprs text;
  n int;
BEGIN
  SELECT string_agg(CASE c.field WHEN 'reference' THEN 'a.reference' WHEN 'record_action' THEN 'a.kind'
                                 WHEN 'date_of_birth' THEN 'NULL::date'
                                 WHEN 'school_urn' THEN 'NULL::int' WHEN 'school_ukprn' THEN 'NULL::int'
                                 WHEN 'entry_year' THEN 'NULL::int' WHEN 'extend_link_by' THEN 'NULL::int'
                                 ELSE 'NULL::text' END, ', ' ORDER BY c.position)
    INTO exprs
  FROM outreach.recipient_layout_column c
  WHERE c.recipient = export_stage_actions.recipient AND c.kind = 'export' AND c.version = layout_version;
  EXECUTE format($sql$
    INSERT INTO outreach.export_action_line (export_id, controller_id, participant_id, followup_ids, line)
    SELECT %s, a.controller_id, a.participant_id, a.followup_ids, outreach.export_line(%L::text[], %s)
    FROM (SELECT f.controller_id, f.participant_id,
                 -- what still holds now: erased (gone), withdrawn, restricted
                 (array_agg(f.kind ORDER BY array_position(ARRAY['erasure', 'withdrawal', 'restriction'], f.kind::text))
                    FILTER (WHERE %s))[1] AS kind,
                 min(f.reference) AS reference, array_agg(f.followup_id ORDER BY f.followup_id) AS followup_ids
          FROM outreach.recipient_followup f
          LEFT JOIN outreach.participant p ON p.controller_id = f.controller_id AND p.participant_id = f.participant_id
          WHERE f.recipient = %L AND %s
          GROUP BY f.controller_id, f.participant_id) AS a
    WHERE a.kind IS NOT NULL$sql$,
    export_id, outreach.export_column_specs(recipient, layout_version), exprs,
    CASE WHEN carried_by IS NULL THEN '(f.kind = ''erasure'' AND p.participant_id IS NULL)
                                   OR (f.kind = ''withdrawal'' AND p.withdrawn_at IS NOT NULL)
                                   OR (f.kind = ''restriction'' AND p.restricted_at IS NOT NULL)'
         ELSE 'f.kind IN (''erasure'', ''withdrawal'', ''restriction'')' END,
    recipient,
    CASE WHEN carried_by IS NULL THEN 'f.carried_by IS NULL AND f.cancelled_at IS NULL'
         ELSE format('f.carried_by = %s', carried_by) END);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.export_stage_actions(bigint, text, int, bigint) IS
  'stages an export''s erasure, withdrawal and restriction records (layouts with a record_action column); returns how many';
REVOKE EXECUTE ON FUNCTION outreach.export_stage_actions(bigint, text, int, bigint) FROM PUBLIC;

-- The staged blocks of an export, by one query: the eligible participants' records, collected
-- per member and block by export_block (which keeps those changed since last sent). A function
-- of its own because INSERT ... SELECT never uses parallel workers, while a query run by RETURN
-- QUERY may: the records are then computed by two workers and the caller, and the blocks
-- gathered and collected in one hash table.
CREATE OR REPLACE FUNCTION outreach.export_stage_blocks(export_id bigint, recipient text, layout_version int, as_of date)
RETURNS SETOF outreach.export_chunk
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET jit = off   -- (the statement's estimate is far above jit_above_cost; compiling does not pay)
-- With stale statistics (a bulk update not yet analysed) the planner took the previous
-- disclosures for one row and rescanned them per participant until the statement timeout;
-- hash and merge joins only.
SET enable_nestloop = off
-- The blocks are collected in one hash table (export_block sorts each block's records by
-- participant), not after sorting every record; a million records fit in memory.
SET work_mem = '512MB'
SET enable_sort = off
AS $$
BEGIN
  RETURN QUERY EXECUTE format($sql$
    SELECT %s::bigint, g.controller_id, g.block, (g.b).participant_ids, (g.b).cohort_years, (g.b).src_xmins,
           (g.b).participant_references, (g.b).content_hashes, (g.b).lines
    FROM (SELECT r.controller_id, (r.participant_id >> 12)::int AS block,
                 outreach.export_block(r.participant_id, r.cohort_year, r.src_xmin, r.reference, r.prev_hash, r.line,
                                       r.hashed) AS b
          FROM (%s) AS r
          GROUP BY r.controller_id, (r.participant_id >> 12)::int
          OFFSET 0) AS g
    WHERE g.b IS NOT NULL$sql$,
    export_id, outreach.export_render_sql(recipient, layout_version, as_of, true));
END
$$;
COMMENT ON FUNCTION outreach.export_stage_blocks(bigint, text, int, date) IS
  'the staged blocks of an export: its eligible participants'' records that changed since last sent (used by export_begin)';
REVOKE EXECUTE ON FUNCTION outreach.export_stage_blocks(bigint, text, int, date) FROM PUBLIC;
-- Exports wait for members' transactions without stalling every other member. An export takes
-- a SHARE lock on outreach.participant at staging and, at finish, its own row, which members'
-- changes to participants lock in share mode while their transactions run (docs/linkage.md).
-- Queueing for those locks would be worse: while the export waited, every member's write to
-- participant would queue behind it, and a member that kept a transaction open would make every
-- export fail. So it never waits in the queue (NOWAIT, retried every 100 ms); after
-- outreach.member_lock_seconds (30 s) it ends the sessions of members' roles that hold locks on
-- outreach.participant (the only locks that can be in its way), and after twice that it gives up
-- with 55P03. The service's own roles and superusers are never ended.
CREATE OR REPLACE FUNCTION outreach.lock_ahead_of_members(attempt text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  started timestamptz := clock_timestamp();
  grace interval := pg_catalog.current_setting('outreach.member_lock_seconds')::interval;  -- ('30s')
  holder record;
BEGIN
  LOOP
    BEGIN
      EXECUTE attempt;
      RETURN;
    EXCEPTION WHEN lock_not_available THEN
      IF clock_timestamp() > started + 2 * grace THEN
        RAISE EXCEPTION 'members'' transactions held outreach.participant for % seconds',
          extract(epoch FROM 2 * grace) USING ERRCODE = '55P03',
          HINT = 'The export is retried at its next run.';
      END IF;
    END;
    IF clock_timestamp() > started + grace THEN
      FOR holder IN
        SELECT DISTINCT l.pid, a.usename
        FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid
        JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.usesysid
        WHERE l.locktype OPERATOR(pg_catalog.=) 'relation' AND l.granted
          AND l.relation OPERATOR(pg_catalog.=) 'outreach.participant'::pg_catalog.regclass
          AND l.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d
                                                 WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
          AND l.mode OPERATOR(pg_catalog.<>) 'AccessShareLock'
          AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
          AND NOT r.rolsuper
          AND NOT pg_catalog.pg_has_role(r.oid, 'outreach_daemon', 'MEMBER')
          AND NOT pg_catalog.pg_has_role(r.oid, 'outreach_processor', 'MEMBER')
      LOOP
        RAISE WARNING 'outreach: ending session % of role "%": its transaction held up an export for % seconds',
          holder.pid, holder.usename, extract(epoch FROM grace);
        PERFORM pg_catalog.pg_terminate_backend(holder.pid);
      END LOOP;
    END IF;
    PERFORM pg_catalog.pg_sleep(0.1);
  END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.lock_ahead_of_members(text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.lock_ahead_of_members(text) IS
  'runs a NOWAIT lock statement until it succeeds, never queueing; after outreach.member_lock_seconds ends members'' '
  'sessions holding outreach.participant, after twice that gives up (55P03)';
