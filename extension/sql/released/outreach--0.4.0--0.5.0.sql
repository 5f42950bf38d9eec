\echo Use "ALTER EXTENSION outreach UPDATE TO '0.5.0'" to load this file. \quit

-- 0.5.0: faster linkage exports. Records are written by one C function per row
-- (export_line), staged in blocks of participants, and the disclosure ledger is kept in the
-- same blocks (outreach.disclosure_block; outreach.disclosure is now a view of it).
-- One export record per call (extension/src/core/export_format.hpp has the column specs), and
-- the per-recipient reference without SQL string building. Both serve export_render_sql().
CREATE FUNCTION outreach.export_line(spec text[], VARIADIC "any") RETURNS text
  AS 'MODULE_PATHNAME', 'export_line' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.export_line(text[], "any") IS
  'one RFC 4180 record of an export: each value written by its column spec (text, trim, date:FORMAT, '
  'code:K=V;...;*=V), as csv_record() of the formatted fields';

CREATE FUNCTION outreach.recipient_reference(controller_id int, participant_id bigint, scope text) RETURNS text
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
CREATE FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text) RETURNS internal
  AS 'MODULE_PATHNAME', 'export_block_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION outreach.export_block_final(internal) RETURNS outreach.export_block_data
  AS 'MODULE_PATHNAME', 'export_block_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE outreach.export_block(bigint, int, xid, text, bigint, text) (
  SFUNC = outreach.export_block_add, STYPE = internal, FINALFUNC = outreach.export_block_final,
  PARALLEL = SAFE   -- (no combine function: it runs above the workers, which compute its input)
);
COMMENT ON AGGREGATE outreach.export_block(bigint, int, xid, text, bigint, text) IS
  'the records of a block of an export being staged (participant id, cohort, row version, reference, hash last sent, line) that changed since sent, as arrays sorted by participant id';
REVOKE EXECUTE ON FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text),
  outreach.export_block_final(internal), outreach.export_block(bigint, int, xid, text, bigint, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.export_block_add(internal, bigint, int, xid, text, bigint, text) IS
  'transition function of outreach.export_block: adds one record to the block';
COMMENT ON FUNCTION outreach.export_block_final(internal) IS
  'final function of outreach.export_block: the block''s records as arrays sorted by participant id';
-- The disclosure ledger in blocks. 0.4.0 kept one row per participant per export (with a
-- primary-key index): writing a million of them was 1.7 s, most of an export's cost beyond
-- computing the records. Now one row holds, for one member, one export and one block of 4096
-- participant ids (participant_id >> 12), the participants sent in ascending order with their
-- cohort, reference and content hash, as parallel arrays. An export writes a few hundred rows
-- (copied from its staging blocks), and a participant's disclosures are found through the
-- primary key (controller, block) and a search of that block's ids.
-- outreach.disclosure keeps 0.4.0's columns as a view, for DPOs, BI tools and scripts.

CREATE TABLE outreach.disclosure_block (
  controller_id int NOT NULL,
  block int NOT NULL,                                -- participant_id >> 12 of every participant in it
  export_id bigint NOT NULL,
  recipient text COLLATE "C" NOT NULL,
  participant_ids bigint[] NOT NULL,                 -- ascending
  cohort_years int[] NOT NULL,                       -- the rest: the same positions as participant_ids
  participant_references text[] COLLATE "C" NOT NULL,
  content_hashes bigint[] NOT NULL,
  PRIMARY KEY (controller_id, block, export_id),
  CHECK (cardinality(participant_ids) BETWEEN 1 AND 4096
         AND cardinality(cohort_years) = cardinality(participant_ids)
         AND cardinality(participant_references) = cardinality(participant_ids)
         AND cardinality(content_hashes) = cardinality(participant_ids))
);
-- References are random and ids dense: compression would cost time and save little.
ALTER TABLE outreach.disclosure_block ALTER participant_ids SET STORAGE EXTERNAL,
  ALTER cohort_years SET STORAGE EXTERNAL, ALTER participant_references SET STORAGE EXTERNAL,
  ALTER content_hashes SET STORAGE EXTERNAL;
CREATE INDEX disclosure_block_recipient_idx ON outreach.disclosure_block (recipient, export_id);
COMMENT ON TABLE outreach.disclosure_block IS
  'the disclosure ledger: per member, export and block of participant ids, who was sent (under which reference, with which content hash)';
SELECT pg_catalog.pg_extension_config_dump('outreach.disclosure_block', '');

INSERT INTO outreach.disclosure_block (controller_id, block, export_id, recipient, participant_ids, cohort_years,
                                       participant_references, content_hashes)
SELECT d.controller_id, (d.participant_id >> 12)::int, d.export_id, d.recipient,
       array_agg(d.participant_id ORDER BY d.participant_id), array_agg(d.cohort_year ORDER BY d.participant_id),
       array_agg(d.reference ORDER BY d.participant_id), array_agg(d.content_hash ORDER BY d.participant_id)
FROM outreach.disclosure d
GROUP BY d.controller_id, (d.participant_id >> 12)::int, d.export_id, d.recipient;

ALTER TABLE outreach.disclosure_block ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.disclosure_block FORCE ROW LEVEL SECURITY;
CREATE POLICY disclosure_block_dpo_read ON outreach.disclosure_block FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.disclosure_block FROM PUBLIC;
GRANT SELECT ON outreach.disclosure_block TO outreach_dpo;

DROP VIEW outreach.participant_disclosures;
DROP VIEW outreach.progression_summary;
-- (out of the extension first, which also removes it from the tables pg_dump copies)
ALTER EXTENSION outreach DROP TABLE outreach.disclosure;
DROP TABLE outreach.disclosure;

-- The ledger a row per participant per export, as 0.4.0 stored it (the caller's row security
-- applies: a DPO sees their members' rows).
CREATE VIEW outreach.disclosure WITH (security_invoker = true) AS
SELECT b.controller_id, u.participant_id, b.recipient, b.export_id, u.cohort_year, u.reference, u.content_hash
FROM outreach.disclosure_block b
CROSS JOIN LATERAL unnest(b.participant_ids, b.cohort_years, b.participant_references, b.content_hashes)
  AS u(participant_id, cohort_year, reference, content_hash);
COMMENT ON VIEW outreach.disclosure IS
  'the disclosure ledger a row per participant and export: which participant was sent to which recipient in which export, under which reference';
REVOKE ALL ON outreach.disclosure FROM PUBLIC;
GRANT SELECT ON outreach.disclosure TO outreach_dpo;

-- As in 0.4.0, reading the blocks (with the views' owner's rights, as they read the table
-- before; each filters by the caller's own access).
CREATE VIEW outreach.participant_disclosures WITH (security_barrier = true) AS
SELECT d.controller_id, d.participant_id, d.recipient, r.title AS recipient_title, d.export_id,
       e.finished_at AS exported_at, e.file_name, d.reference, d.cohort_year AS entry_year
FROM (SELECT b.controller_id, u.participant_id, b.recipient, b.export_id, u.cohort_year, u.reference
      FROM outreach.disclosure_block b
      CROSS JOIN LATERAL unnest(b.participant_ids, b.cohort_years, b.participant_references)
        AS u(participant_id, cohort_year, reference)) AS d
JOIN outreach.export e ON e.export_id = d.export_id
LEFT JOIN outreach.recipient r ON r.name = d.recipient
WHERE outreach.controller_visible(d.controller_id, 'dpo');
COMMENT ON VIEW outreach.participant_disclosures IS
  'for the DPO''s participants: every export that sent them, to whom, when, and under which reference';
REVOKE ALL ON outreach.participant_disclosures FROM PUBLIC;
GRANT SELECT ON outreach.participant_disclosures TO outreach_dpo;

CREATE VIEW outreach.progression_summary WITH (security_barrier = true) AS
WITH sent AS (
  SELECT d.controller_id, d.recipient, count(DISTINCT u.participant_id) AS participants_sent
  FROM outreach.disclosure_block d
  CROSS JOIN LATERAL unnest(d.participant_ids) AS u(participant_id)
  WHERE outreach.controller_visible(d.controller_id, 'analyst')
  GROUP BY d.controller_id, d.recipient
)
SELECT o.controller_id, c.code AS controller_code, o.recipient, o.outcome, o.academic_year, o.measure,
       count(DISTINCT o.participant_id) AS participants,
       s.participants_sent,
       round(avg(CASE WHEN o.value ~ '^\s*-?[0-9]{1,9}(\.[0-9]{1,6})?\s*$' THEN o.value::numeric END), 2) AS mean_value
FROM outreach.outcome o
JOIN outreach.controller c ON c.controller_id = o.controller_id
LEFT JOIN sent s ON s.controller_id = o.controller_id AND s.recipient = o.recipient
WHERE outreach.controller_visible(o.controller_id, 'analyst')
GROUP BY o.controller_id, c.code, o.recipient, o.outcome, o.academic_year, o.measure, s.participants_sent;
COMMENT ON VIEW outreach.progression_summary IS
  'per member: participants with each outcome (recipient, kind, year, measure), the numeric mean, and how many were sent';
REVOKE ALL ON outreach.progression_summary FROM PUBLIC;
GRANT SELECT ON outreach.progression_summary TO outreach_reader, outreach_analyst, outreach_processor;

-- Art. 19 triggers, reading the blocks: a row trigger looks in the participant's own block of
-- each export; the deletion trigger reads each block its statement touched once.
CREATE OR REPLACE FUNCTION outreach.participant_followup_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  changed text[] := array_remove(ARRAY[
    CASE WHEN btrim(NEW.first_name) IS DISTINCT FROM btrim(OLD.first_name) THEN 'forename' END,
    CASE WHEN btrim(NEW.last_name) IS DISTINCT FROM btrim(OLD.last_name) THEN 'surname' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth THEN 'date_of_birth' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
           OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override THEN 'entry_year' END,
    CASE WHEN NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth
           OR NEW.he_entry_year_override IS DISTINCT FROM OLD.he_entry_year_override THEN 'extend_link_by' END,
    CASE WHEN NEW.postcode::text IS DISTINCT FROM OLD.postcode::text THEN 'postcode' END,
    CASE WHEN lower(btrim(NEW.sex)) IS DISTINCT FROM lower(btrim(OLD.sex)) THEN 'sex' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_urn' END,
    CASE WHEN NEW.institution_id IS DISTINCT FROM OLD.institution_id THEN 'school_ukprn' END,
    CASE WHEN NEW.upn IS DISTINCT FROM OLD.upn THEN 'upn' END,
    CASE WHEN NEW.uln IS DISTINCT FROM OLD.uln THEN 'uln' END], NULL);
  restricted boolean := NEW.restricted_at IS NOT NULL AND OLD.restricted_at IS NULL;
BEGIN
  -- A change to a participant staged in an export being finished: export_finish waits for this
  -- transaction (and then compares what it staged), or this statement waits for it (and then
  -- sees the ledger rows).
  -- (recorded for each building export, whose row this locks in share mode)
  INSERT INTO outreach.export_touch (export_id, controller_id, participant_id)
  SELECT e.export_id, NEW.controller_id, NEW.participant_id FROM outreach.export e WHERE e.status = 'building'
  FOR SHARE OF e
  ON CONFLICT DO NOTHING;
  WITH sent AS (
    -- the latest export to each recipient that sent them
    SELECT DISTINCT ON (b.recipient) b.recipient, b.export_id, b.participant_references[k.i] AS reference
    FROM outreach.disclosure_block b
    CROSS JOIN LATERAL (SELECT array_position(b.participant_ids, NEW.participant_id) AS i) AS k
    WHERE b.controller_id = NEW.controller_id AND b.block = (NEW.participant_id >> 12)::int AND k.i IS NOT NULL
    ORDER BY b.recipient, b.export_id DESC
  )
  INSERT INTO outreach.recipient_followup (controller_id, participant_id, recipient, kind, reference, export_id, fields)
  SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'rectification', s.reference, s.export_id, h.headers
  FROM sent s
  JOIN outreach.export e ON e.export_id = s.export_id
  CROSS JOIN LATERAL (SELECT array_agg(lc.header ORDER BY lc.position) AS headers
                      FROM outreach.recipient_layout_column lc
                      WHERE lc.recipient = s.recipient AND lc.kind = 'export' AND lc.version = e.layout_version
                        AND lc.field = ANY (changed)) AS h
  WHERE h.headers IS NOT NULL
  UNION ALL
  SELECT NEW.controller_id, NEW.participant_id, s.recipient, 'restriction', s.reference, s.export_id, NULL
  FROM sent s WHERE restricted;
  RETURN NULL;
END
$$;

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
  DELETE FROM outreach.outcome o USING old_rows d
  WHERE o.controller_id = d.controller_id AND o.participant_id = d.participant_id;
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
-- Exports staged in blocks. 0.4.0 staged a row per participant in outreach.export_row, with a
-- primary-key index so that export_lines could read them in order (1.2 s a million, 0.7 s of it
-- the index). Now export_begin stages one row per member and block of participant ids
-- (participant_id >> 12, as the ledger's blocks) holding the block's records in order;
-- export_lines reads the blocks in key order and unnests them; export_finish copies the blocks
-- into the ledger (outreach.disclosure_block) as they are.

DROP TABLE outreach.export_row;

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

-- The staged records a row each, with 0.4.0's columns (for DBAs looking at an export in progress).
CREATE VIEW outreach.export_row WITH (security_invoker = true) AS
SELECT c.export_id, c.controller_id, u.participant_id, u.cohort_year, u.src_xmin, u.reference, u.content_hash, u.line
FROM outreach.export_chunk c
CROSS JOIN LATERAL unnest(c.participant_ids, c.cohort_years, c.src_xmins, c.participant_references, c.content_hashes, c.lines)
  AS u(participant_id, cohort_year, src_xmin, reference, content_hash, line);
COMMENT ON VIEW outreach.export_row IS 'records of exports being built, a row each (from outreach.export_chunk)';
REVOKE ALL ON outreach.export_row FROM PUBLIC;

-- Participants changed or deleted while an export is being built: the participant triggers
-- record them here for every building export (export_begin makes sure no change can slip in
-- before its export is visible to them: it stages under a SHARE lock on outreach.participant),
-- and export_finish compares only these with what was staged. (0.4.0 compared every staged
-- row's version with the participant table at finish: 0.9 s a million.)
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

-- The SELECT that renders a recipient's export rows under a layout: per participant its keys,
-- cohort (entry year), row version, reference (the one it was sent under before, else a new
-- one), the hash of what it was last sent, and its record. Built from the layout (data) with
-- every value quoted as a literal; the field kinds are the only code. eligible_only adds the
-- eligibility rule; keyed ($1 controller ids, $2 participant ids) restricts it to those.
CREATE OR REPLACE FUNCTION outreach.export_render_sql(recipient text, layout_version int, as_of date,
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
  specs text[] := '{}';
  exprs text[] := '{}';
  conds text[] := '{}';
  e text;
  sex_case text;
  sex_codes jsonb;
  sex_spec text;
  sp text;
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
  SELECT 'code:' || coalesce(string_agg(replace(replace(replace(k.key, '\', '\\'), ';', '\;'), '=', '\=') || '='
                                        || replace(replace(replace(k.value, '\', '\\'), ';', '\;'), '=', '\='), ';'
                                        ORDER BY k.key), '')
    INTO sex_spec FROM jsonb_each_text(sex_codes) k;
  FOR c IN SELECT * FROM outreach.recipient_layout_column lc
           WHERE lc.recipient = export_render_sql.recipient AND lc.kind = 'export' AND lc.version = layout_version
           ORDER BY lc.position LOOP
    -- (column spec, value): export_line writes the value by the spec (core/export_format.hpp)
    sp := CASE c.field
      WHEN 'reference' THEN 'text' WHEN 'forename' THEN 'trim' WHEN 'surname' THEN 'trim'
      WHEN 'date_of_birth' THEN 'date:' || lay.date_format
      WHEN 'sex' THEN sex_spec
      ELSE 'text' END;
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
    END;
    IF e IS NULL THEN
      RAISE EXCEPTION 'unknown export field "%"', c.field USING ERRCODE = '22023';
    END IF;
    specs := specs || sp;
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
  -- The inner query picks the participants and their values, the outer one writes each record
  -- in one call. No OFFSET 0 fences: flattened into one level, the records can be computed in
  -- parallel workers (export_stage_blocks); the price is that the reference's expression is
  -- evaluated twice per record (for the record and as a column), which costs less.
  -- The previous disclosure: hash-grouped rather than DISTINCT ON (a sort), the latest export's
  -- hash taken with max(ARRAY[export_id, hash]); a participant's reference never changes for a
  -- recipient (it is reused from the ledger), so min() of it is that reference.
  RETURN format($sql$
    SELECT x.controller_id, x.participant_id, x.cohort_year, x.src_xmin, x.restricted, x.reference, x.prev_hash,
           outreach.export_line(%L::text[], %s) AS line
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
                           WHERE b.recipient = %L %s) AS d
                     GROUP BY d.controller_id, d.participant_id) AS prev
            ON prev.controller_id = p.controller_id AND prev.participant_id = p.participant_id
          WHERE %s) AS x$sql$,
    specs, array_to_string(exprs, ', '),
    'recipient:' || recipient,
    CASE WHEN needs_institution THEN 'i.urn' ELSE 'NULL::int' END,
    CASE WHEN needs_institution THEN 'i.ukprn' ELSE 'NULL::int' END,
    CASE WHEN needs_controller THEN 'ctl.code' ELSE 'NULL::text' END,
    CASE WHEN needs_institution THEN 'LEFT JOIN outreach.institution i ON i.institution_id = p.institution_id' ELSE '' END,
    CASE WHEN needs_controller THEN 'JOIN outreach.controller ctl ON ctl.controller_id = p.controller_id' ELSE '' END,
    recipient,
    CASE WHEN keyed THEN 'AND (b.controller_id, b.block) IN (SELECT k.c, (k.p >> 12)::int FROM unnest($1::int[], $2::bigint[]) AS k(c, p))'
         ELSE '' END,
    CASE WHEN cardinality(conds) = 0 THEN 'true' ELSE array_to_string(conds, ' AND ') END);
END
$$;

-- Removes an export's staged blocks: the whole (unlogged) table at once when no other export is
-- being built, which is the usual case, else just its rows.
CREATE OR REPLACE FUNCTION outreach.export_clear_staging(export_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM outreach.export_touch t WHERE t.export_id = export_clear_staging.export_id;
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

-- The staged blocks of an export, by one query: the eligible participants' records, collected
-- per member and block by export_block (which keeps those changed since last sent). A function
-- of its own because INSERT ... SELECT never uses parallel workers, while a query run by RETURN
-- QUERY may: the records are then computed by two workers and the caller, and the blocks
-- gathered and collected in one hash table.
CREATE FUNCTION outreach.export_stage_blocks(export_id bigint, recipient text, layout_version int, as_of date)
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
                 outreach.export_block(r.participant_id, r.cohort_year, r.src_xmin, r.reference, r.prev_hash, r.line) AS b
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

CREATE OR REPLACE FUNCTION outreach.export_begin(recipient text, as_of date DEFAULT current_date)
RETURNS TABLE (export_id bigint, file_name text, layout_version int, row_count bigint, pgp_public_key text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
-- (see the SHARE lock below: a begin that cannot have it within this gives up with 55P03)
SET lock_timeout = '60s'
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
    DELETE FROM outreach.export_chunk s USING outreach.export e
    WHERE s.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
    DELETE FROM outreach.export_touch t USING outreach.export e
    WHERE t.export_id = e.export_id AND e.recipient = r.name AND e.status = 'abandoned';
  END IF;

  ay := outreach.academic_year(as_of);
  INSERT INTO outreach.export (recipient, layout_version, as_of, entry_year_from, entry_year_to, file_name, started_by)
  VALUES (r.name, r.export_layout, as_of, ay + r.cohort_from, ay + r.cohort_to, '', outreach.invoking_role()::text)
  RETURNING export.export_id INTO new_id;
  fname := outreach.export_file_name(r.file_pattern, r.name, as_of, new_id);
  IF r.pgp_public_key IS NOT NULL THEN
    fname := fname || '.gpg';  -- the daemon encrypts it to the recipient's OpenPGP key
  END IF;

  -- No participant changes between the staging snapshot and this transaction's commit: the
  -- lock waits for members' transactions in progress (their changes are then staged) and holds
  -- new ones until the export is visible to their triggers (which record them in export_touch).
  LOCK TABLE outreach.participant IN SHARE MODE;

  -- Stage the blocks (the eligible participants whose record changed or was never sent).
  INSERT INTO outreach.export_chunk
  SELECT * FROM outreach.export_stage_blocks(new_id, r.name, r.export_layout, as_of);
  SELECT coalesce(sum(cardinality(s.participant_ids)), 0) INTO n FROM outreach.export_chunk s WHERE s.export_id = new_id;

  UPDATE outreach.export e SET file_name = fname, row_count = n WHERE e.export_id = new_id;
  RETURN QUERY SELECT new_id, fname, r.export_layout, n, r.pgp_public_key;
END
$$;

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
END
$$;

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
            WHERE col.field <> 'reference'
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

CREATE OR REPLACE FUNCTION outreach.export_finish(export_id bigint, sha256 text, row_count bigint) RETURNS jsonb
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
