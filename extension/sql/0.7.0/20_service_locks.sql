-- Locks the service needs are on rows no other role may lock, one per member, so that a
-- member's open transaction can hold up only that member's work. Until 0.6.0 outcome imports
-- and participant deletions met at one advisory lock, whose key any login could take itself and
-- hold for as long as it liked, stalling every member's deletions and every import.
-- outreach.outcome_lock has a row per member and no privileges for anyone; only the extension's
-- own SECURITY DEFINER functions lock its rows:
--   * a deletion of participants takes its member's row FOR SHARE (deletions run side by side);
--   * an import takes FOR UPDATE SKIP LOCKED on every member's row: a member with a deletion in
--     progress is skipped, its lines reported as 'deferred' (import the file again), and every
--     other member's lines are imported. A deletion that starts while an import runs waits for
--     it (seconds), then removes whatever the import stored for the deleted participants.
-- Imports still run one at a time: each takes SHARE ROW EXCLUSIVE on the table, which conflicts
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

CREATE FUNCTION outreach.controller_outcome_lock() RETURNS trigger
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
CREATE TRIGGER controller_outcome_lock AFTER INSERT ON outreach.controller
  FOR EACH ROW EXECUTE FUNCTION outreach.controller_outcome_lock();

-- An import's lines for members that were deleting participants at the time.
ALTER TABLE outreach.outcome_import_error DROP CONSTRAINT outcome_import_error_status_check,
  ADD CONSTRAINT outcome_import_error_status_check
    CHECK (status IN ('rejected', 'duplicate', 'unknown_reference', 'deferred'));
ALTER TABLE outreach.outcome_import ADD COLUMN deferred int NOT NULL DEFAULT 0;
COMMENT ON COLUMN outreach.outcome_import.deferred IS
  'lines not imported because their member was deleting participants at the time (import the file again)';

-- As in 0.6.0, but waiting only for an import of the same member (its row of outreach.outcome_lock).
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
  PERFORM 1 FROM outreach.outcome_lock l WHERE l.controller_id IN (SELECT DISTINCT o.controller_id FROM old_rows o)
  ORDER BY l.controller_id FOR SHARE;
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

DROP FUNCTION outreach.outcome_lock_key();

