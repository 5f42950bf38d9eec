-- Linkage exports and the disclosure ledger.
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
  CHECK ((status = 'finished') = (sha256 IS NOT NULL AND manifest IS NOT NULL))
);
CREATE INDEX export_recipient_idx ON outreach.export (recipient, export_id);
CREATE INDEX export_building_idx ON outreach.export (recipient) WHERE status = 'building';
COMMENT ON TABLE outreach.export IS
  'linkage exports: recipient, layout, status (building, finished, abandoned), file name, rows, checksum, manifest';
SELECT pg_catalog.pg_extension_config_dump('outreach.export', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.export', 'export_id')::pg_catalog.regclass, '');

-- Staged rows of exports being built: each record exactly as it will be written. Unlogged (no
-- WAL for data that lives minutes and can be staged again) and not dumped. The file's order is
-- the primary key's, so export_lines reads it in order without sorting.
CREATE UNLOGGED TABLE outreach.export_row (
  export_id bigint NOT NULL,
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  cohort_year int NOT NULL,
  src_xmin xid NOT NULL,                           -- the participant row version that was staged
  reference text COLLATE "C" NOT NULL,
  content_hash bigint NOT NULL,                    -- hashtextextended(line, 0)
  line text NOT NULL,                              -- the RFC 4180 record, without line terminator
  PRIMARY KEY (export_id, controller_id, participant_id)
);
COMMENT ON TABLE outreach.export_row IS 'records of exports being built (unlogged; removed when the export finishes or is abandoned)';

-- The ledger: for every participant in every finished export, what went to whom. Rows are
-- written by export_finish in the transaction that marks the export finished, and are kept
-- when the participant is deleted (they are what Art. 19 follow-ups and the DPO's record of
-- recipients rest on; they hold no personal data beyond the pseudonymous reference).
CREATE TABLE outreach.disclosure (
  controller_id int NOT NULL,
  participant_id bigint NOT NULL,
  recipient text COLLATE "C" NOT NULL,
  export_id bigint NOT NULL,
  cohort_year int NOT NULL,
  reference text COLLATE "C" NOT NULL,             -- the per-recipient reference in the file
  content_hash bigint NOT NULL,                    -- of the record sent: unchanged rows are not sent again
  PRIMARY KEY (controller_id, participant_id, recipient, export_id)
);
COMMENT ON TABLE outreach.disclosure IS
  'the disclosure ledger: which participant was sent to which recipient in which export, under which reference';
SELECT pg_catalog.pg_extension_config_dump('outreach.disclosure', '');

ALTER TABLE outreach.export_row ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.export_row FORCE ROW LEVEL SECURITY;
CREATE POLICY export_row_dpo_read ON outreach.export_row FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
ALTER TABLE outreach.disclosure ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.disclosure FORCE ROW LEVEL SECURITY;
CREATE POLICY disclosure_dpo_read ON outreach.disclosure FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.export, outreach.export_row, outreach.disclosure FROM PUBLIC;
GRANT SELECT ON outreach.export TO outreach_daemon, outreach_processor;
GRANT SELECT ON outreach.disclosure TO outreach_dpo;

-- The SELECT that renders a recipient's export rows under a layout: per participant its keys,
-- cohort (entry year), row version, reference (the one it was sent under before, else a new
-- one) and the fields in layout order. Built from the layout (data) with every value quoted as
-- a literal; the field kinds are the only code. eligible_only adds the eligibility rule; keys
-- (two arrays, $1 controller ids and $2 participant ids) restricts it to given participants.
CREATE FUNCTION outreach.export_render_sql(recipient text, layout_version int, as_of date,
                                           eligible_only boolean, keyed boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  r record;
  lay outreach.recipient_layout;
  c record;
  ay int := outreach.academic_year(as_of);
  exprs text[] := '{}';
  conds text[] := '{}';
  e text;
  sex_case text;
  sex_codes jsonb;
  needs_institution boolean := false;
  needs_controller boolean := false;
BEGIN
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = export_render_sql.recipient;
  SELECT * INTO lay FROM outreach.recipient_layout l
  WHERE l.recipient = export_render_sql.recipient AND l.kind = 'export' AND l.version = layout_version;
  IF NOT FOUND OR r.name IS NULL THEN
    RAISE EXCEPTION 'recipient "%" has no export layout version %', recipient, layout_version USING ERRCODE = '22023';
  END IF;
  -- sex: CASE over the codes (keys trimmed, lower case); "*" is everything else
  sex_codes := coalesce(lay.value_codes -> 'sex', '{}');
  SELECT 'CASE lower(btrim(p.sex))' || coalesce(string_agg(format(' WHEN %L THEN %L', k.key, k.value), '' ORDER BY k.key), '')
    INTO sex_case FROM jsonb_each_text(sex_codes) k WHERE k.key <> '*';
  FOR c IN SELECT * FROM outreach.recipient_layout_column lc
           WHERE lc.recipient = export_render_sql.recipient AND lc.kind = 'export' AND lc.version = layout_version
           ORDER BY lc.position LOOP
    e := CASE c.field
      WHEN 'reference' THEN 'ref.reference'
      WHEN 'forename' THEN 'btrim(p.first_name)'
      WHEN 'surname' THEN 'btrim(p.last_name)'
      WHEN 'date_of_birth' THEN CASE lay.date_format WHEN 'YYYY-MM-DD' THEN 'p.date_of_birth::text'  -- DateStyle ISO
                                      ELSE format('to_char(p.date_of_birth, %L)', lay.date_format) END
      WHEN 'postcode' THEN CASE WHEN lay.unknown_postcode IS NULL THEN 'p.postcode::text'
                                ELSE format('coalesce(p.postcode::text, %L)', lay.unknown_postcode) END
      WHEN 'sex' THEN sex_case || CASE WHEN sex_codes ? '*' THEN format(' ELSE %L END', sex_codes ->> '*') ELSE ' END' END
      WHEN 'school_urn' THEN 'i.urn::text'
      WHEN 'school_ukprn' THEN 'i.ukprn::text'
      WHEN 'upn' THEN 'p.upn'
      WHEN 'uln' THEN 'p.uln'
      WHEN 'entry_year' THEN 'e.cohort_year::text'
      WHEN 'extend_link_by' THEN format('CASE WHEN e.cohort_year < %s THEN (%s - e.cohort_year)::text END', ay, ay)
      WHEN 'member' THEN 'ctl.code'
      WHEN 'blank' THEN 'NULL::text'
    END;
    IF e IS NULL THEN
      RAISE EXCEPTION 'unknown export field "%"', c.field USING ERRCODE = '22023';
    END IF;
    exprs := exprs || e;
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
  -- OFFSET 0 keeps the reference and the fields from being pulled up and computed twice.
  RETURN format($sql$
    SELECT p.controller_id, p.participant_id, e.cohort_year, p.xmin AS src_xmin, p.restricted_at IS NOT NULL AS restricted,
           ref.reference, prev.content_hash AS prev_hash, ARRAY[%s]::text[] AS fields
    FROM outreach.participant p
    JOIN outreach.retention_policy pol ON pol.controller_id = p.controller_id
    %s %s
    CROSS JOIN LATERAL (SELECT coalesce(p.he_entry_year_override,
                                        outreach.expected_he_entry_year(p.date_of_birth, pol.nation)) AS cohort_year) AS e
    LEFT JOIN (SELECT DISTINCT ON (d.controller_id, d.participant_id) d.controller_id, d.participant_id, d.reference, d.content_hash
               FROM outreach.disclosure d WHERE d.recipient = %L
               ORDER BY d.controller_id, d.participant_id, d.export_id DESC) AS prev
      ON prev.controller_id = p.controller_id AND prev.participant_id = p.participant_id
    CROSS JOIN LATERAL (SELECT coalesce(prev.reference,
                                        outreach.pseudonymise('c' || p.controller_id, 'p' || p.participant_id,
                                                              DATE '1900-01-01', 'GIR 0AA', %L)::text) AS reference
                        OFFSET 0) AS ref
    WHERE %s
    OFFSET 0$sql$,
    array_to_string(exprs, ', '),
    CASE WHEN needs_institution THEN 'LEFT JOIN outreach.institution i ON i.institution_id = p.institution_id' ELSE '' END,
    CASE WHEN needs_controller THEN 'JOIN outreach.controller ctl ON ctl.controller_id = p.controller_id' ELSE '' END,
    recipient, 'recipient:' || recipient,
    CASE WHEN cardinality(conds) = 0 THEN 'true' ELSE array_to_string(conds, ' AND ') END);
END
$$;
COMMENT ON FUNCTION outreach.export_render_sql(text, int, date, boolean, boolean) IS
  'the query rendering a recipient''s export rows from its layout (with the eligibility rule when eligible_only)';

-- File name from the recipient's pattern.
CREATE FUNCTION outreach.export_file_name(pattern text, recipient text, as_of date, export_id bigint) RETURNS text
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

-- Removes an export's staged rows: the whole (unlogged) table at once when no other export is
-- being built, which is the usual case, else just its rows.
CREATE FUNCTION outreach.export_clear_staging(export_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM outreach.export e
                 WHERE e.status = 'building' AND e.export_id <> export_clear_staging.export_id) THEN
    -- Waits for a begin in progress (it holds a lock on the table while it stages); then looks again.
    LOCK TABLE outreach.export_row IN ACCESS EXCLUSIVE MODE;
    IF NOT EXISTS (SELECT 1 FROM outreach.export e
                   WHERE e.status = 'building' AND e.export_id <> export_clear_staging.export_id) THEN
      TRUNCATE outreach.export_row;
      RETURN;
    END IF;
  END IF;
  DELETE FROM outreach.export_row r WHERE r.export_id = export_clear_staging.export_id;
END
$$;
COMMENT ON FUNCTION outreach.export_clear_staging(bigint) IS 'removes the staged rows of an export';

CREATE FUNCTION outreach.export_begin(recipient text, as_of date DEFAULT current_date)
RETURNS TABLE (export_id bigint, file_name text, layout_version int, row_count bigint, pgp_public_key text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET jit = off   -- (the staging statement's estimate is far above jit_above_cost; compiling does not pay)
-- Staging is one set-based statement over every participant. With stale statistics (a bulk
-- update not yet analysed) the planner took the previous-disclosure subquery for one row and
-- rescanned it per participant until the statement timeout; hash and merge joins only.
SET enable_nestloop = off
AS $$
#variable_conflict use_column
DECLARE
  r record;
  ay int;
  new_id bigint;
  fname text;
  n bigint;
BEGIN
  IF as_of IS NULL OR as_of NOT BETWEEN DATE '1950-01-01' AND DATE '2200-01-01' THEN
    RAISE EXCEPTION 'as_of must be a date between 1950 and 2200' USING ERRCODE = '22023';
  END IF;
  SELECT * INTO r FROM outreach.recipient v WHERE v.name = export_begin.recipient;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown recipient "%"', recipient USING ERRCODE = '42704',
      HINT = 'Recipients are listed in outreach.recipient.';
  END IF;
  IF r.export_layout IS NULL OR NOT EXISTS (SELECT 1 FROM outreach.recipient_layout l
                                            WHERE l.recipient = r.name AND l.kind = 'export' AND l.version = r.export_layout) THEN
    RAISE EXCEPTION 'recipient "%" has no export layout', recipient USING ERRCODE = '22023',
      HINT = 'Define one with outreach.define_layout(recipient, ''export'', columns).';
  END IF;
  IF NOT r.enabled THEN
    RAISE EXCEPTION 'recipient "%" is disabled', recipient USING ERRCODE = '55000';
  END IF;
  -- The recipient's key must be in the key file (42704 naming the scope, before any work).
  PERFORM outreach.pseudonymise('c0', 'p0', DATE '1900-01-01', 'GIR 0AA', 'recipient:' || r.name);
  -- One export of a recipient is built at a time: begins of the same recipient queue here.
  PERFORM 1 FROM outreach.recipient_definition d WHERE d.name = r.name FOR UPDATE;
  -- An export still building is a run that crashed or was given up: abandon it.
  UPDATE outreach.export e SET status = 'abandoned', finished_at = clock_timestamp(),
         error = 'abandoned: a new export of the recipient began'
  WHERE e.recipient = r.name AND e.status = 'building';
  IF FOUND THEN
    DELETE FROM outreach.export_row s USING outreach.export e
    WHERE s.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
  END IF;

  ay := outreach.academic_year(as_of);
  INSERT INTO outreach.export (recipient, layout_version, as_of, entry_year_from, entry_year_to, file_name, started_by)
  VALUES (r.name, r.export_layout, as_of, ay + r.cohort_from, ay + r.cohort_to, '', outreach.invoking_role()::text)
  RETURNING export.export_id INTO new_id;
  fname := outreach.export_file_name(r.file_pattern, r.name, as_of, new_id);
  IF r.pgp_public_key IS NOT NULL THEN
    fname := fname || '.gpg';  -- the daemon encrypts it to the recipient's OpenPGP key
  END IF;

  -- Stage, in one statement: the eligible participants whose record differs from what the
  -- recipient last received (or who never were sent).
  EXECUTE format($sql$
    INSERT INTO outreach.export_row (export_id, controller_id, participant_id, cohort_year, src_xmin, reference,
                                     content_hash, line)
    SELECT %s, s.controller_id, s.participant_id, s.cohort_year, s.src_xmin, s.reference, s.content_hash, s.line
    FROM (SELECT r.*, hashtextextended(r.line, 0) AS content_hash
          FROM (SELECT x.*, outreach.csv_record(x.fields) AS line FROM (%s) AS x OFFSET 0) AS r OFFSET 0) AS s
    WHERE s.prev_hash IS DISTINCT FROM s.content_hash$sql$,
    new_id, outreach.export_render_sql(r.name, r.export_layout, as_of, true));
  GET DIAGNOSTICS n = ROW_COUNT;

  UPDATE outreach.export e SET file_name = fname, row_count = n WHERE e.export_id = new_id;
  RETURN QUERY SELECT new_id, fname, r.export_layout, n, r.pgp_public_key;
END
$$;
COMMENT ON FUNCTION outreach.export_begin(text, date) IS
  'opens an export of a recipient and stages its eligible participants; returns id, file name, layout, rows and OpenPGP key';

CREATE FUNCTION outreach.export_lines(export_id bigint) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- The staged rows are read in primary-key order from the index: the unlogged table has no
-- statistics (autovacuum skips it for minutes), so without these the planner guesses a few
-- thousand rows and sorts a million on disk.
SET enable_sort = off
SET enable_bitmapscan = off
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
  RETURN QUERY
  SELECT s.line FROM outreach.export_row s
  WHERE s.export_id = export_lines.export_id ORDER BY s.controller_id, s.participant_id;
END
$$;
COMMENT ON FUNCTION outreach.export_lines(bigint) IS
  'the records of an export''s file, header first, one RFC 4180 record per staged row, without line terminators';

-- Follow-ups for participants staged in an export who changed or were deleted after staging
-- (their trigger ran before the ledger rows existed): compared with what was staged.
CREATE FUNCTION outreach.export_changed_since_staging(export_id bigint) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
-- The staged rows and the participants are both read in key order and merged (a hash of every
-- participant costs twice as much); the few candidates are then looked up. (Not a nested loop:
-- the staged table has no statistics, and a million index probes cost three times the merge.)
SET enable_hashjoin = off
SET enable_nestloop = on
SET enable_bitmapscan = on
AS $$
DECLARE
  e outreach.export;
  cids int[];
  pids bigint[];
  n int;
BEGIN
  SELECT * INTO e FROM outreach.export x WHERE x.export_id = export_changed_since_staging.export_id;
  -- Candidates: the participant row is gone or is another version than the one staged (any
  -- update, and freezing, changes xmin: the fields are compared below).
  PERFORM set_config('enable_nestloop', 'off', true), set_config('enable_bitmapscan', 'off', true);
  SELECT array_agg(s.controller_id), array_agg(s.participant_id) INTO cids, pids
  FROM outreach.export_row s
  LEFT JOIN outreach.participant p ON p.controller_id = s.controller_id AND p.participant_id = s.participant_id
  WHERE s.export_id = e.export_id AND (p.participant_id IS NULL OR p.xmin <> s.src_xmin);
  PERFORM set_config('enable_nestloop', 'on', true), set_config('enable_bitmapscan', 'on', true);
  IF cids IS NULL THEN
    RETURN 0;
  END IF;
  EXECUTE format($sql$
    INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id, fields)
    SELECT s.controller_id, s.participant_id, %L, k.kind, s.reference, %s, k.fields
    FROM outreach.export_row s
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
                 -- the staged record's fields, read back (NULLs were written as empty fields)
                 (SELECT sf.fields FROM outreach.csv_records(convert_to(s.line, 'UTF8')) AS sf LIMIT 1) AS staged
            WHERE col.field <> 'reference'
              AND staged.fields[col.i] IS DISTINCT FROM coalesce(now.fields[col.i], '')) AS changed
      WHERE now.participant_id IS NOT NULL AND changed.headers IS NOT NULL) AS k
    WHERE s.export_id = %s
      -- not when the participant's trigger has queued the same already (an earlier export sent them)
      AND NOT EXISTS (SELECT 1 FROM outreach.recipient_followup f
                      WHERE f.controller_id = s.controller_id AND f.participant_id = s.participant_id
                        AND f.recipient = %L AND f.kind = k.kind AND f.queued_at >= %L::timestamptz)$sql$,
    e.recipient, e.export_id, outreach.export_render_sql(e.recipient, e.layout_version, e.as_of, false, true),
    e.recipient, e.layout_version, e.export_id, e.recipient, e.started_at)
  USING cids, pids;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.export_changed_since_staging(bigint) IS
  'queues Art. 19 follow-ups for staged participants rectified, restricted or deleted before their export finished';

CREATE FUNCTION outreach.export_finish(export_id bigint, sha256 text, row_count bigint) RETURNS jsonb
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
  IF row_count IS DISTINCT FROM e.row_count THEN
    RAISE EXCEPTION 'export % staged % rows, not %', export_id, e.row_count, coalesce(row_count::text, 'NULL')
      USING ERRCODE = '22023', HINT = 'The file must hold every staged row (the header not counted).';
  END IF;

  INSERT INTO outreach.disclosure (controller_id, participant_id, recipient, export_id, cohort_year, reference, content_hash)
  SELECT s.controller_id, s.participant_id, e.recipient, s.export_id, s.cohort_year, s.reference, s.content_hash
  FROM outreach.export_row s WHERE s.export_id = e.export_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n <> e.row_count THEN
    RAISE EXCEPTION 'export % lost its staged rows (% of %): the server restarted while it was built', export_id, n, e.row_count
      USING ERRCODE = '55000', HINT = 'Begin the export again (that abandons this one).';
  END IF;

  f := outreach.export_changed_since_staging(e.export_id);
  m := jsonb_build_object('recipient', e.recipient, 'layout_version', e.layout_version, 'created_at', e.started_at,
                          'row_count', e.row_count, 'sha256', sha256, 'file', e.file_name);
  UPDATE outreach.export x SET status = 'finished', finished_at = clock_timestamp(), sha256 = export_finish.sha256,
         manifest = m, followups = f
  WHERE x.export_id = e.export_id;
  PERFORM outreach.export_clear_staging(e.export_id);
  IF f > 0 THEN
    PERFORM outreach.recipient_followup_dispatch();
  END IF;
  RETURN m;
END
$$;
COMMENT ON FUNCTION outreach.export_finish(bigint, text, bigint) IS
  'finishes an export: checks the row count, writes the ledger, marks it finished and returns the manifest, in one transaction';

CREATE FUNCTION outreach.export_abandon(export_id bigint, reason text) RETURNS void
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

REVOKE EXECUTE ON FUNCTION outreach.export_render_sql(text, int, date, boolean, boolean),
  outreach.export_clear_staging(bigint), outreach.export_begin(text, date), outreach.export_lines(bigint),
  outreach.export_changed_since_staging(bigint), outreach.export_finish(bigint, text, bigint),
  outreach.export_abandon(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.export_begin(text, date), outreach.export_lines(bigint),
  outreach.export_finish(bigint, text, bigint), outreach.export_abandon(bigint, text) TO outreach_daemon;
REVOKE EXECUTE ON FUNCTION outreach.export_file_name(text, text, date, bigint) FROM PUBLIC;
