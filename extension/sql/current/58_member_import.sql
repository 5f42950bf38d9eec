-- Members' own files: a spreadsheet or CRM extract of participants, checked as a whole and line
-- by line, good lines written in one transaction, every other line reported with its number,
-- column and reason (docs/import.md). The reading and checking is C
-- (extension/src/pg/member_import.cpp); this file decides who may import, writes the lines and
-- keeps the record of each import.

-- The coding frames of the coded fields: a file may give the code, the label or an alias (any
-- case); the participant holds `stored` (NULL: the code says the value is not available). The
-- shipped rows are HESA's current frames (Data Futures, 2022/23 onwards; docs/import.md says
-- which rows were verified against HESA's manual); a DBA may add rows (shipped = false), which
-- pg_dump keeps.
CREATE TABLE outreach.coding_frame (
  field text NOT NULL CHECK (field IN ('sex', 'gender_identity', 'ethnicity', 'disability', 'religion')),
  code text NOT NULL CHECK (code ~ '^[0-9A-Za-z]{1,10}$'),
  label text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
  stored text CHECK (length(stored) <= 100),
  aliases text[] NOT NULL DEFAULT '{}',
  shipped boolean NOT NULL DEFAULT false,
  PRIMARY KEY (field, code)
);
COMMENT ON TABLE outreach.coding_frame IS
  'the codes an import accepts for sex, gender identity, ethnicity, disability and religion: code, label, aliases and the value stored';
SELECT pg_catalog.pg_extension_config_dump('outreach.coding_frame', 'WHERE NOT shipped');
REVOKE ALL ON outreach.coding_frame FROM PUBLIC;
GRANT SELECT ON outreach.coding_frame TO outreach_reader, outreach_writer, outreach_dpo, outreach_analyst,
  outreach_processor, outreach_bi;

CREATE SEQUENCE outreach.member_import_id_seq;
SELECT pg_catalog.pg_extension_config_dump('outreach.member_import_id_seq', '');
CREATE TABLE outreach.member_import (
  controller_id int NOT NULL REFERENCES outreach.controller,
  import_id bigint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('participants', 'activities', 'attendance')),
  file_name text NOT NULL,
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  bytes bigint NOT NULL,
  encoding text NOT NULL,
  date_format text NOT NULL,
  lines int NOT NULL,                 -- lines after the header
  inserted int NOT NULL,
  updated int NOT NULL,
  unchanged int NOT NULL,
  matched int NOT NULL,               -- the same person as a participant held (linkage pseudonym): not added
  bad int NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  imported_by name NOT NULL,
  PRIMARY KEY (controller_id, import_id)
);
COMMENT ON TABLE outreach.member_import IS
  'members'' imports: file, checksum, encoding, date format, and how many lines were inserted, updated, unchanged, matched or bad';
SELECT pg_catalog.pg_extension_config_dump('outreach.member_import', '');
ALTER TABLE outreach.member_import ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.member_import FORCE ROW LEVEL SECURITY;
CREATE POLICY member_import_read ON outreach.member_import FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
REVOKE ALL ON outreach.member_import FROM PUBLIC;
GRANT SELECT ON outreach.member_import TO outreach_reader, outreach_writer, outreach_dpo, outreach_processor;

CREATE OR REPLACE FUNCTION outreach.participant_import_lines(content bytea, date_format text, today date,
                                                            frame_fields text[], frame_keys text[], frame_values text[])
RETURNS TABLE (line_no int, status text, reason text, external_ref text, first_name text, last_name text,
               date_of_birth date, postcode text, sex text, gender_identity text, ethnicity text, disability text,
               religion text, school_urn int, school_ukprn int, upn text, uln text, override_year int,
               override_reason text)
  AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION outreach.participant_import_lines(bytea, text, date, text[], text[], text[]) IS
  'reads and checks a participant file: a row per line (ok with its values, or error with the reason) and notes';
CREATE OR REPLACE FUNCTION outreach.import_progress_begin(import_id bigint, controller_id int, relation regclass, bytes bigint)
RETURNS void AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
CREATE OR REPLACE FUNCTION outreach.import_progress_phase(phase int, lines_written bigint) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION outreach.import_progress_begin(bigint, int, regclass, bigint) IS
  'reports this backend''s import in pg_stat_progress_copy and outreach.import_progress';
COMMENT ON FUNCTION outreach.import_progress_phase(int, bigint) IS
  'the import''s phase (2 writing, with the lines written; 3 done)';
REVOKE EXECUTE ON FUNCTION outreach.participant_import_lines(bytea, text, date, text[], text[], text[]),
  outreach.import_progress_begin(bigint, int, regclass, bigint), outreach.import_progress_phase(int, bigint) FROM PUBLIC;

-- Imports running now, for the member's roles (PostgreSQL shows a backend's progress only to
-- its own role and to roles with pg_read_all_stats; the member's test narrows it to its own).
CREATE OR REPLACE VIEW outreach.import_progress WITH (security_barrier = true) AS
SELECT p.pid, p.param11::bigint AS import_id, p.param12::int AS controller_id,
       CASE p.param13 WHEN 1 THEN 'reading' WHEN 2 THEN 'writing' END AS phase,
       nullif(p.param14, 0) AS lines_total,
       p.param3 AS lines_done,
       p.param4 AS lines_bad,
       p.param1 AS bytes_read, p.param2 AS bytes_total
FROM pg_catalog.pg_stat_get_progress_info('COPY') p
WHERE p.param11 > 0 AND outreach.controller_visible(p.param12::int, 'reader');
COMMENT ON VIEW outreach.import_progress IS
  'imports in progress of the caller''s members: lines read (phase reading) or written (writing) of the total';
REVOKE ALL ON outreach.import_progress FROM PUBLIC;
GRANT SELECT ON outreach.import_progress TO outreach_reader, outreach_writer, outreach_dpo;

CREATE OR REPLACE FUNCTION outreach.record_import_lines(kind text, content bytea, date_format text)
RETURNS TABLE (line_no int, status text, reason text, fields text[])
  AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION outreach.record_import_lines(text, bytea, text) IS
  'reads and checks an activities or attendance file: a row per line (ok with its fields, or error with the reason) and notes';
REVOKE EXECUTE ON FUNCTION outreach.record_import_lines(text, bytea, text) FROM PUBLIC;

-- What every import does first (who may import, the arguments) and last (its record, its entry
-- on the audit trail, the end of its progress report). Called by the import functions only.
CREATE OR REPLACE FUNCTION outreach.import_begin(controller_id int, kind text, file_name text, content bytea)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  new_id bigint;
BEGIN
  IF controller_id IS NULL OR NOT (controller_id = ANY (outreach.caller_controller_ids('writer'))
                                   OR controller_id = ANY (outreach.caller_controller_ids('dpo'))) THEN
    RAISE EXCEPTION 'permission denied: role "%" cannot import % of controller %',
                    outreach.invoking_role(), kind, coalesce(controller_id::text, 'NULL') USING ERRCODE = '42501';
  END IF;
  IF file_name IS NULL OR length(file_name) NOT BETWEEN 1 AND 255 OR file_name ~ '[[:cntrl:]]' THEN
    RAISE EXCEPTION 'file_name must be 1 to 255 printable characters' USING ERRCODE = '22023';
  END IF;
  IF content IS NULL THEN
    RAISE EXCEPTION 'content must not be NULL' USING ERRCODE = '22004';
  END IF;
  new_id := nextval('outreach.member_import_id_seq');
  PERFORM outreach.import_progress_begin(new_id, controller_id,
                                         CASE kind WHEN 'participants' THEN 'outreach.participant'::regclass
                                                   WHEN 'activities' THEN 'outreach.activity'::regclass
                                                   ELSE 'outreach.attendance'::regclass END,
                                         octet_length(content));
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION outreach.import_begin(int, text, text, bytea) IS
  'an import''s first steps: the caller may import for the member (42501), the arguments, its id and progress report';

CREATE OR REPLACE FUNCTION outreach.import_end(controller_id int, import_id bigint, kind text, file_name text, content bytea,
                                              note text, started timestamptz, lines int, inserted int, updated int,
                                              unchanged int, matched int, bad int)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO outreach.member_import (controller_id, import_id, kind, file_name, sha256, bytes, encoding, date_format,
                                      lines, inserted, updated, unchanged, matched, bad, started_at, finished_at, imported_by)
  VALUES (controller_id, import_id, kind, file_name, encode(sha256(content), 'hex'), octet_length(content),
          substring(note FROM '^read as (.*); dates as'), substring(note FROM '; dates as (.*)$'),
          lines, inserted, updated, unchanged, matched, bad, started, clock_timestamp(), outreach.invoking_role());
  INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
  VALUES (controller_id, session_user, outreach.invoking_role(), 'import',
          CASE kind WHEN 'participants' THEN 'participant' WHEN 'activities' THEN 'activity' ELSE 'attendance' END,
          jsonb_build_object('import_id', import_id, 'lines', lines, 'inserted', inserted, 'updated', updated, 'bad', bad));
  PERFORM outreach.import_progress_phase(3, 0);
END
$$;
COMMENT ON FUNCTION outreach.import_end(int, bigint, text, text, bytea, text, timestamptz, int, int, int, int, int, int) IS
  'an import''s last steps: its record in outreach.member_import, its audit entry, the end of its progress report';
REVOKE EXECUTE ON FUNCTION outreach.import_begin(int, text, text, bytea),
  outreach.import_end(int, bigint, text, text, bytea, text, timestamptz, int, int, int, int, int, int) FROM PUBLIC;

-- import_participants: the member's writer (or DPO) imports a participant file. Lines are
-- matched to the member's participants by external_ref: a new reference is inserted (unless
-- its linkage pseudonym is that of a participant already held: "matched", not added), a known
-- one updated with the values the line gives (an empty value keeps what is held). Good lines are
-- written in one transaction; the result has a row per line: inserted, updated, unchanged,
-- matched or error (with the reason), and notes (line 0: encoding and date format; line 1:
-- ignored columns). Special-category values a line gives are written whatever is held, never
-- compared: writers may write those columns, not read them, so nothing (a status, updated_at,
-- the rows a statement updated, the table statistics) may tell them whether a value they gave
-- was held already. "updated" means a column the member's readers see changed.
CREATE OR REPLACE FUNCTION outreach.import_participants(controller_id int, file_name text, content bytea,
                                                       date_format text DEFAULT NULL)
RETURNS TABLE (import_id bigint, line_no int, status text, reason text, participant_id bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET jit = off
SET work_mem = '256MB'
AS $$
#variable_conflict use_column
DECLARE
  cid int := import_participants.controller_id;
  new_id bigint;
  started timestamptz := clock_timestamp();
  fields text[];
  keys text[];
  vals text[];
  note text;
  last_line int;
  from_line int := 0;
  batch constant int := 50000;
  counts record;
BEGIN
  new_id := outreach.import_begin(cid, 'participants', file_name, content);

  SELECT array_agg(f.field), array_agg(k.key), array_agg(f.stored)
    INTO fields, keys, vals
  FROM outreach.coding_frame f
  CROSS JOIN LATERAL (SELECT DISTINCT lower(x) AS key FROM unnest(ARRAY[f.code, f.label, f.stored] || f.aliases) AS x
                      WHERE x IS NOT NULL) AS k;

  IF to_regclass('pg_temp.outreach_import_line') IS NOT NULL THEN
    DROP TABLE pg_temp.outreach_import_line;  -- (an earlier import in this transaction)
  END IF;
  CREATE TEMP TABLE outreach_import_line ON COMMIT DROP AS
  SELECT l.*, NULL::int AS institution_id, NULL::bigint AS participant_id, NULL::int AS same_as_line
  FROM outreach.participant_import_lines(content, date_format, current_date, fields, keys, vals) AS l;
  ANALYZE pg_temp.outreach_import_line;  -- (the statements below join it with the member's participants)
  SELECT max(l.line_no) INTO last_line FROM pg_temp.outreach_import_line l;

  -- Schools by URN or UKPRN: unknown ones are the line's problem.
  UPDATE pg_temp.outreach_import_line l SET institution_id = i.institution_id
  FROM outreach.institution i WHERE l.status = 'ok' AND l.school_urn IS NOT NULL AND i.urn = l.school_urn;
  UPDATE pg_temp.outreach_import_line l SET institution_id = i.institution_id
  FROM outreach.institution i
  WHERE l.status = 'ok' AND l.school_urn IS NULL AND l.school_ukprn IS NOT NULL AND i.ukprn = l.school_ukprn;
  UPDATE pg_temp.outreach_import_line l
  SET status = 'error',
      reason = CASE WHEN l.school_urn IS NOT NULL THEN format('no school with URN %s (outreach.institution)', l.school_urn)
                    ELSE format('no institution with UKPRN %s (outreach.institution)', l.school_ukprn) END
  WHERE l.status = 'ok' AND l.institution_id IS NULL AND (l.school_urn IS NOT NULL OR l.school_ukprn IS NOT NULL);

  -- The same person under a new reference: a new line whose linkage pseudonym is that of a
  -- participant the member holds (and the file does not change), or of another line of the
  -- file (a line of a reference held first, else the first new line), is matched to it and not
  -- added. The file's own lines count as they will be once written: a held participant the
  -- file renames is matched by its line, not by what it was.
  IF to_regclass('pg_temp.outreach_import_key') IS NOT NULL THEN
    DROP TABLE pg_temp.outreach_import_key;  -- (an earlier import in this transaction)
  END IF;
  CREATE TEMP TABLE outreach_import_key ON COMMIT DROP AS
  SELECT l.line_no,
         EXISTS (SELECT 1 FROM outreach.participant p WHERE p.controller_id = cid AND p.external_ref = l.external_ref) AS held,
         outreach.pseudonymise(l.first_name, l.last_name, l.date_of_birth, l.postcode, 'linkage') AS linkage_id
  FROM pg_temp.outreach_import_line l
  WHERE l.status = 'ok' AND l.postcode IS NOT NULL;
  UPDATE pg_temp.outreach_import_line l
  SET status = 'matched', participant_id = m.participant_id,
      reason = format('the same person as participant %s (reference %s) by name, date of birth and postcode: not added',
                      m.participant_id, coalesce(m.external_ref, 'none'))
  FROM (SELECT DISTINCT ON (k.line_no) k.line_no, p.participant_id, p.external_ref
        FROM pg_temp.outreach_import_key k
        JOIN outreach.participant p ON p.controller_id = cid AND p.linkage_id OPERATOR(outreach.=) k.linkage_id
        WHERE NOT k.held
          AND NOT EXISTS (SELECT 1 FROM pg_temp.outreach_import_line o WHERE o.status = 'ok' AND o.external_ref = p.external_ref)
        ORDER BY k.line_no, p.participant_id) AS m
  WHERE l.line_no = m.line_no;
  -- (the pseudonyms given by more than one line first, by hashing: few lines are repeats)
  UPDATE pg_temp.outreach_import_line l
  SET status = 'matched', same_as_line = f.anchor,
      reason = format('the same person as line %s by name, date of birth and postcode: not added', f.anchor)
  FROM (SELECT k.line_no, k.held,
               coalesce(min(k.line_no) FILTER (WHERE k.held) OVER w, min(k.line_no) OVER w) AS anchor
        FROM pg_temp.outreach_import_key k
        WHERE k.linkage_id::text IN (SELECT r.linkage_id::text FROM pg_temp.outreach_import_key r
                                     GROUP BY r.linkage_id::text HAVING count(*) > 1)
        WINDOW w AS (PARTITION BY k.linkage_id::text)) AS f
  WHERE l.line_no = f.line_no AND NOT f.held AND f.anchor <> f.line_no AND l.status = 'ok';

  -- Which lines change a column the member's readers see (the status "updated"), decided
  -- before the write and from those columns only: whether a special-category value the line
  -- gives was held already must show nowhere, so such a value is written whatever is held.
  IF to_regclass('pg_temp.outreach_import_visible') IS NOT NULL THEN
    DROP TABLE pg_temp.outreach_import_visible;
  END IF;
  CREATE TEMP TABLE outreach_import_visible ON COMMIT DROP AS
  SELECT l.line_no
  FROM pg_temp.outreach_import_line l
  JOIN outreach.participant p ON p.controller_id = cid AND p.external_ref = l.external_ref
  WHERE l.status = 'ok'
    AND (p.first_name IS DISTINCT FROM l.first_name OR p.last_name IS DISTINCT FROM l.last_name
         OR p.date_of_birth IS DISTINCT FROM l.date_of_birth
         OR (l.postcode IS NOT NULL AND p.postcode::text IS DISTINCT FROM l.postcode)
         OR (l.institution_id IS NOT NULL AND p.institution_id IS DISTINCT FROM l.institution_id)
         OR (l.upn IS NOT NULL AND p.upn IS DISTINCT FROM l.upn)
         OR (l.uln IS NOT NULL AND p.uln IS DISTINCT FROM l.uln)
         OR (l.override_year IS NOT NULL AND (p.he_entry_year_override IS DISTINCT FROM l.override_year
                                              OR p.he_entry_year_override_reason IS DISTINCT FROM l.override_reason)));

  -- Written in batches (the progress shows the lines written).
  PERFORM outreach.import_progress_phase(2, 0);
  IF to_regclass('pg_temp.outreach_import_written') IS NOT NULL THEN
    DROP TABLE pg_temp.outreach_import_written;  -- (an earlier import in this transaction)
  END IF;
  CREATE TEMP TABLE outreach_import_written (participant_id bigint, external_ref text, inserted boolean) ON COMMIT DROP;
  WHILE from_line <= coalesce(last_line, 0) LOOP
    WITH w AS (
      INSERT INTO outreach.participant AS p (controller_id, external_ref, first_name, last_name, date_of_birth, postcode,
                                             institution_id, sex, gender_identity, ethnicity, disability, religion, upn, uln,
                                             he_entry_year_override, he_entry_year_override_reason)
      SELECT cid, l.external_ref, l.first_name, l.last_name, l.date_of_birth, l.postcode::outreach.uk_postcode,
             l.institution_id, l.sex, l.gender_identity, l.ethnicity, l.disability, l.religion, l.upn, l.uln,
             l.override_year, l.override_reason
      FROM pg_temp.outreach_import_line l
      WHERE l.status = 'ok' AND l.line_no >= from_line AND l.line_no < from_line + batch
      ORDER BY l.line_no
      ON CONFLICT (controller_id, external_ref) DO UPDATE
      SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, date_of_birth = EXCLUDED.date_of_birth,
          postcode = coalesce(EXCLUDED.postcode, p.postcode), institution_id = coalesce(EXCLUDED.institution_id, p.institution_id),
          sex = coalesce(EXCLUDED.sex, p.sex), gender_identity = coalesce(EXCLUDED.gender_identity, p.gender_identity),
          ethnicity = coalesce(EXCLUDED.ethnicity, p.ethnicity), disability = coalesce(EXCLUDED.disability, p.disability),
          religion = coalesce(EXCLUDED.religion, p.religion), upn = coalesce(EXCLUDED.upn, p.upn),
          uln = coalesce(EXCLUDED.uln, p.uln),
          he_entry_year_override = coalesce(EXCLUDED.he_entry_year_override, p.he_entry_year_override),
          he_entry_year_override_reason = coalesce(EXCLUDED.he_entry_year_override_reason, p.he_entry_year_override_reason)
      WHERE p.first_name IS DISTINCT FROM EXCLUDED.first_name OR p.last_name IS DISTINCT FROM EXCLUDED.last_name
         OR p.date_of_birth IS DISTINCT FROM EXCLUDED.date_of_birth
         OR (EXCLUDED.postcode IS NOT NULL AND p.postcode::text IS DISTINCT FROM EXCLUDED.postcode::text)
         OR (EXCLUDED.institution_id IS NOT NULL AND p.institution_id IS DISTINCT FROM EXCLUDED.institution_id)
         OR (EXCLUDED.upn IS NOT NULL AND p.upn IS DISTINCT FROM EXCLUDED.upn)
         OR (EXCLUDED.uln IS NOT NULL AND p.uln IS DISTINCT FROM EXCLUDED.uln)
         OR (EXCLUDED.he_entry_year_override IS NOT NULL
             AND (p.he_entry_year_override IS DISTINCT FROM EXCLUDED.he_entry_year_override
                  OR p.he_entry_year_override_reason IS DISTINCT FROM EXCLUDED.he_entry_year_override_reason))
         -- given special-category values are written whatever is held (never compared)
         OR EXCLUDED.sex IS NOT NULL OR EXCLUDED.gender_identity IS NOT NULL OR EXCLUDED.ethnicity IS NOT NULL
         OR EXCLUDED.disability IS NOT NULL OR EXCLUDED.religion IS NOT NULL
      RETURNING p.participant_id, p.external_ref, (p.xmax = 0) AS inserted
    )
    INSERT INTO pg_temp.outreach_import_written SELECT * FROM w;
    from_line := from_line + batch;
    PERFORM outreach.import_progress_phase(2, least(from_line, last_line + 1) - 1);  -- (line numbers: about the lines)
  END LOOP;

  SELECT count(*) FILTER (WHERE l.status <> 'note') AS lines,
         count(*) FILTER (WHERE w.inserted) AS inserted,
         count(*) FILTER (WHERE l.status = 'ok' AND NOT coalesce(w.inserted, false) AND v.line_no IS NOT NULL) AS updated,
         count(*) FILTER (WHERE l.status = 'ok' AND NOT coalesce(w.inserted, false) AND v.line_no IS NULL) AS unchanged,
         count(*) FILTER (WHERE l.status = 'matched') AS matched,
         count(*) FILTER (WHERE l.status = 'error') AS bad
    INTO counts
  FROM pg_temp.outreach_import_line l
  LEFT JOIN pg_temp.outreach_import_written w ON l.status = 'ok' AND w.external_ref = l.external_ref
  LEFT JOIN pg_temp.outreach_import_visible v ON v.line_no = l.line_no;
  SELECT l.reason INTO note FROM pg_temp.outreach_import_line l WHERE l.line_no = 0 AND l.status = 'note';
  PERFORM outreach.import_end(cid, new_id, 'participants', file_name, content, note, started, counts.lines::int,
                              counts.inserted::int, counts.updated::int, counts.unchanged::int, counts.matched::int,
                              counts.bad::int);

  -- Lines matched to an earlier line of the file: that line's participant.
  UPDATE pg_temp.outreach_import_line l SET participant_id = p.participant_id
  FROM pg_temp.outreach_import_line f
  JOIN outreach.participant p ON p.controller_id = cid AND p.external_ref = f.external_ref
  WHERE l.same_as_line IS NOT NULL AND f.line_no = l.same_as_line AND f.status = 'ok';

  RETURN QUERY
  SELECT new_id, l.line_no,
         CASE WHEN l.status <> 'ok' THEN l.status WHEN w.inserted THEN 'inserted' WHEN v.line_no IS NOT NULL THEN 'updated'
              ELSE 'unchanged' END,
         l.reason,
         coalesce(w.participant_id, l.participant_id, p.participant_id)
  FROM pg_temp.outreach_import_line l
  LEFT JOIN pg_temp.outreach_import_written w ON l.status = 'ok' AND w.external_ref = l.external_ref
  LEFT JOIN pg_temp.outreach_import_visible v ON v.line_no = l.line_no
  LEFT JOIN outreach.participant p
    ON l.status = 'ok' AND w.external_ref IS NULL AND p.controller_id = cid AND p.external_ref = l.external_ref
  ORDER BY l.line_no, l.status DESC;
END
$$;
COMMENT ON FUNCTION outreach.import_participants(int, text, bytea, text) IS
  'imports a member''s participant file: a row per line (inserted, updated, unchanged, matched, error) and notes; 22P04 for an unusable header';
REVOKE EXECUTE ON FUNCTION outreach.import_participants(int, text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.import_participants(int, text, bytea, text) TO outreach_writer, outreach_dpo;

-- import_activities: the member's activities by its own reference (external_ref): a new
-- reference inserted, a known one updated with the values given (an empty value keeps what is
-- held). The activity type must be one of outreach.activity_type's codes. Result: a row per
-- line (inserted, updated, unchanged, error) with the activity's id, and notes.
CREATE OR REPLACE FUNCTION outreach.import_activities(controller_id int, file_name text, content bytea,
                                                     date_format text DEFAULT NULL)
RETURNS TABLE (import_id bigint, line_no int, status text, reason text, activity_id bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET jit = off
SET work_mem = '256MB'
AS $$
#variable_conflict use_column
DECLARE
  cid int := import_activities.controller_id;
  new_id bigint;
  started timestamptz := clock_timestamp();
  note text;
  counts record;
BEGIN
  new_id := outreach.import_begin(cid, 'activities', file_name, content);
  IF to_regclass('pg_temp.outreach_import_activity') IS NOT NULL THEN
    DROP TABLE pg_temp.outreach_import_activity;  -- (an earlier import in this transaction)
  END IF;
  CREATE TEMP TABLE outreach_import_activity ON COMMIT DROP AS
  SELECT l.line_no, l.status, l.reason, l.fields[1] AS external_ref, l.fields[2] AS activity_type, l.fields[3] AS name,
         l.fields[4]::date AS starts_on, l.fields[5]::date AS ends_on
  FROM outreach.record_import_lines('activities', content, date_format) AS l;
  UPDATE pg_temp.outreach_import_activity l
  SET status = 'error', reason = format('no activity type "%s" (outreach.activity_type)', left(l.activity_type, 40))
  WHERE l.status = 'ok' AND NOT EXISTS (SELECT 1 FROM outreach.activity_type t WHERE t.code = l.activity_type);
  PERFORM outreach.import_progress_phase(2, 0);
  IF to_regclass('pg_temp.outreach_import_written') IS NOT NULL THEN
    DROP TABLE pg_temp.outreach_import_written;
  END IF;
  CREATE TEMP TABLE outreach_import_written ON COMMIT DROP AS
  WITH w AS (
    INSERT INTO outreach.activity AS a (controller_id, external_ref, activity_type, name, starts_on, ends_on)
    SELECT cid, l.external_ref, l.activity_type, l.name, l.starts_on, l.ends_on
    FROM pg_temp.outreach_import_activity l WHERE l.status = 'ok' ORDER BY l.line_no
    ON CONFLICT (controller_id, external_ref) DO UPDATE
    SET activity_type = EXCLUDED.activity_type, name = coalesce(EXCLUDED.name, a.name), starts_on = EXCLUDED.starts_on,
        ends_on = coalesce(EXCLUDED.ends_on, a.ends_on)
    WHERE a.activity_type IS DISTINCT FROM EXCLUDED.activity_type OR a.starts_on IS DISTINCT FROM EXCLUDED.starts_on
       OR (EXCLUDED.name IS NOT NULL AND a.name IS DISTINCT FROM EXCLUDED.name)
       OR (EXCLUDED.ends_on IS NOT NULL AND a.ends_on IS DISTINCT FROM EXCLUDED.ends_on)
    RETURNING a.activity_id, a.external_ref, (a.xmax = 0) AS inserted
  )
  SELECT * FROM w;
  SELECT count(*) FILTER (WHERE l.status <> 'note') AS lines, count(*) FILTER (WHERE w.inserted) AS inserted,
         count(*) FILTER (WHERE NOT w.inserted) AS updated,
         count(*) FILTER (WHERE l.status = 'ok' AND w.external_ref IS NULL) AS unchanged,
         count(*) FILTER (WHERE l.status = 'error') AS bad
    INTO counts
  FROM pg_temp.outreach_import_activity l
  LEFT JOIN pg_temp.outreach_import_written w ON l.status = 'ok' AND w.external_ref = l.external_ref;
  SELECT l.reason INTO note FROM pg_temp.outreach_import_activity l WHERE l.line_no = 0 AND l.status = 'note';
  PERFORM outreach.import_end(cid, new_id, 'activities', file_name, content, note, started, counts.lines::int,
                              counts.inserted::int, counts.updated::int, counts.unchanged::int, 0, counts.bad::int);
  RETURN QUERY
  SELECT new_id, l.line_no,
         CASE WHEN l.status <> 'ok' THEN l.status WHEN w.inserted THEN 'inserted' WHEN w.external_ref IS NOT NULL THEN 'updated'
              ELSE 'unchanged' END,
         l.reason, coalesce(w.activity_id, a.activity_id)
  FROM pg_temp.outreach_import_activity l
  LEFT JOIN pg_temp.outreach_import_written w ON l.status = 'ok' AND w.external_ref = l.external_ref
  LEFT JOIN outreach.activity a ON l.status = 'ok' AND w.external_ref IS NULL AND a.controller_id = cid
                               AND a.external_ref = l.external_ref
  ORDER BY l.line_no, l.status DESC;
END
$$;
COMMENT ON FUNCTION outreach.import_activities(int, text, bytea, text) IS
  'imports a member''s activities file: a row per line (inserted, updated, unchanged, error) and notes; 22P04 for an unusable header';

-- import_attendance: who attended which activity when, by the member's references of the
-- participant and the activity (both must be held). Result: a row per line (inserted,
-- unchanged, error) with the participant's and activity's ids, and notes.
CREATE OR REPLACE FUNCTION outreach.import_attendance(controller_id int, file_name text, content bytea,
                                                     date_format text DEFAULT NULL)
RETURNS TABLE (import_id bigint, line_no int, status text, reason text, participant_id bigint, activity_id bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO, YMD'
SET jit = off
SET work_mem = '256MB'
AS $$
#variable_conflict use_column
DECLARE
  cid int := import_attendance.controller_id;
  new_id bigint;
  started timestamptz := clock_timestamp();
  note text;
  counts record;
BEGIN
  new_id := outreach.import_begin(cid, 'attendance', file_name, content);
  IF to_regclass('pg_temp.outreach_import_attendance') IS NOT NULL THEN
    DROP TABLE pg_temp.outreach_import_attendance;  -- (an earlier import in this transaction)
  END IF;
  CREATE TEMP TABLE outreach_import_attendance ON COMMIT DROP AS
  SELECT l.line_no, l.status, l.reason, l.fields[1] AS participant_ref, l.fields[2] AS activity_ref,
         l.fields[3]::date AS attended_on, p.participant_id, a.activity_id, false AS inserted
  FROM outreach.record_import_lines('attendance', content, date_format) AS l
  LEFT JOIN outreach.participant p ON p.controller_id = cid AND p.external_ref = l.fields[1]
  LEFT JOIN outreach.activity a ON a.controller_id = cid AND a.external_ref = l.fields[2];
  UPDATE pg_temp.outreach_import_attendance l
  SET status = 'error',
      reason = CASE WHEN l.participant_id IS NULL THEN format('no participant with reference "%s"', left(l.participant_ref, 40))
                    ELSE format('no activity with reference "%s"', left(l.activity_ref, 40)) END
  WHERE l.status = 'ok' AND (l.participant_id IS NULL OR l.activity_id IS NULL);
  PERFORM outreach.import_progress_phase(2, 0);
  WITH w AS (
    INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on)
    SELECT cid, l.participant_id, l.activity_id, l.attended_on
    FROM pg_temp.outreach_import_attendance l WHERE l.status = 'ok' ORDER BY l.line_no
    ON CONFLICT DO NOTHING
    RETURNING participant_id, activity_id, attended_on
  )
  UPDATE pg_temp.outreach_import_attendance l SET inserted = true
  FROM w WHERE l.status = 'ok' AND w.participant_id = l.participant_id AND w.activity_id = l.activity_id
    AND w.attended_on = l.attended_on;
  SELECT count(*) FILTER (WHERE l.status <> 'note') AS lines, count(*) FILTER (WHERE l.inserted) AS inserted,
         count(*) FILTER (WHERE l.status = 'ok' AND NOT l.inserted) AS unchanged,
         count(*) FILTER (WHERE l.status = 'error') AS bad
    INTO counts
  FROM pg_temp.outreach_import_attendance l;
  SELECT l.reason INTO note FROM pg_temp.outreach_import_attendance l WHERE l.line_no = 0 AND l.status = 'note';
  PERFORM outreach.import_end(cid, new_id, 'attendance', file_name, content, note, started, counts.lines::int,
                              counts.inserted::int, 0, counts.unchanged::int, 0, counts.bad::int);
  RETURN QUERY
  SELECT new_id, l.line_no,
         CASE WHEN l.status <> 'ok' THEN l.status WHEN l.inserted THEN 'inserted' ELSE 'unchanged' END,
         l.reason, CASE WHEN l.status = 'ok' THEN l.participant_id END, CASE WHEN l.status = 'ok' THEN l.activity_id END
  FROM pg_temp.outreach_import_attendance l
  ORDER BY l.line_no, l.status DESC;
END
$$;
COMMENT ON FUNCTION outreach.import_attendance(int, text, bytea, text) IS
  'imports a member''s attendance file (participant and activity by reference): a row per line (inserted, unchanged, error) and notes';
REVOKE EXECUTE ON FUNCTION outreach.import_activities(int, text, bytea, text),
  outreach.import_attendance(int, text, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.import_activities(int, text, bytea, text),
  outreach.import_attendance(int, text, bytea, text) TO outreach_writer, outreach_dpo;

-- HESA's current coding frames (Data Futures). Rows marked in docs/import.md as not verified
-- against the manual's own table came from HESA's staff record or DfE's copy of the lists.
INSERT INTO outreach.coding_frame (field, code, label, stored, aliases, shipped)
VALUES
  ('sex', '10', 'Female', 'female', '{f}', true),
  ('sex', '11', 'Male', 'male', '{m}', true),
  ('sex', '12', 'Other', 'other', '{}', true),
  ('sex', '96', 'Information refused', 'information refused', '{"prefer not to say"}', true),
  ('sex', '99', 'Not available', NULL, '{"not known"}', true),
  ('gender_identity', '01', 'Yes: the same as the gender assigned at birth', 'same as assigned at birth', '{yes,y}', true),
  ('gender_identity', '02', 'No: not the same as the gender assigned at birth', 'not the same as assigned at birth', '{no,n}', true),
  ('gender_identity', '98', 'Prefer not to say', 'prefer not to say', '{"information refused"}', true),
  ('gender_identity', '99', 'Not available', NULL, '{"not known"}', true),
  ('ethnicity', '100', 'Asian - Bangladeshi or Bangladeshi British', 'Asian - Bangladeshi or Bangladeshi British', '{}', true),
  ('ethnicity', '101', 'Asian - Chinese or Chinese British', 'Asian - Chinese or Chinese British', '{}', true),
  ('ethnicity', '103', 'Asian - Indian or Indian British', 'Asian - Indian or Indian British', '{}', true),
  ('ethnicity', '104', 'Asian - Pakistani or Pakistani British', 'Asian - Pakistani or Pakistani British', '{}', true),
  ('ethnicity', '119', 'Any other Asian background', 'Any other Asian background', '{}', true),
  ('ethnicity', '120', 'Black - African or African British', 'Black - African or African British', '{}', true),
  ('ethnicity', '121', 'Black - Caribbean or Caribbean British', 'Black - Caribbean or Caribbean British', '{}', true),
  ('ethnicity', '139', 'Any other Black background', 'Any other Black background', '{}', true),
  ('ethnicity', '140', 'Mixed - White and Asian', 'Mixed - White and Asian', '{}', true),
  ('ethnicity', '141', 'Mixed - White and Black African', 'Mixed - White and Black African', '{}', true),
  ('ethnicity', '142', 'Mixed - White and Black Caribbean', 'Mixed - White and Black Caribbean', '{}', true),
  ('ethnicity', '159', 'Any other Mixed or multiple ethnic background', 'Any other Mixed or multiple ethnic background', '{}', true),
  ('ethnicity', '160', 'White - English, Scottish, Welsh, Northern Irish or British', 'White - British', '{"white british"}', true),
  ('ethnicity', '163', 'White - Gypsy or Irish Traveller', 'White - Gypsy or Irish Traveller', '{}', true),
  ('ethnicity', '166', 'White - Irish', 'White - Irish', '{}', true),
  ('ethnicity', '168', 'White - Roma', 'White - Roma', '{}', true),
  ('ethnicity', '179', 'Any other White background', 'Any other White background', '{}', true),
  ('ethnicity', '180', 'Arab', 'Arab', '{}', true),
  ('ethnicity', '899', 'Any other ethnic background', 'Any other ethnic background', '{}', true),
  ('ethnicity', '997', 'Not known', 'not known', '{}', true),
  ('ethnicity', '998', 'Prefer not to say', 'prefer not to say', '{"information refused"}', true),
  ('ethnicity', '999', 'Not available', NULL, '{}', true),
  ('disability', '51', 'Learning difference such as dyslexia, dyspraxia or AD(H)D', 'learning difference', '{}', true),
  ('disability', '53', 'Social or communication condition such as a speech and language impairment or an autistic spectrum condition', 'social or communication condition', '{}', true),
  ('disability', '54', 'Long-term illness or health condition', 'long-term illness or health condition', '{}', true),
  ('disability', '55', 'Mental health condition, challenge or disorder', 'mental health condition', '{}', true),
  ('disability', '56', 'Physical impairment', 'physical impairment', '{}', true),
  ('disability', '57', 'D/deaf or a hearing impairment', 'deaf or hearing impairment', '{}', true),
  ('disability', '58', 'Blind or a visual impairment uncorrected by glasses', 'blind or visual impairment', '{}', true),
  ('disability', '59', 'Development condition since childhood', 'development condition', '{}', true),
  ('disability', '95', 'No known impairment, health condition or learning difference', 'no known impairment', '{none,"no disability"}', true),
  ('disability', '96', 'An impairment, health condition or learning difference not listed', 'other impairment', '{}', true),
  ('disability', '98', 'Prefer not to say', 'prefer not to say', '{"information refused"}', true),
  ('disability', '99', 'Not available', NULL, '{}', true),
  ('religion', '20', 'No religion', 'No religion', '{none}', true),
  ('religion', '21', 'Buddhist', 'Buddhist', '{}', true),
  ('religion', '22', 'Christian', 'Christian', '{}', true),
  ('religion', '23', 'Christian - Church of Scotland', 'Christian - Church of Scotland', '{}', true),
  ('religion', '24', 'Christian - Roman Catholic', 'Christian - Roman Catholic', '{}', true),
  ('religion', '25', 'Christian - Presbyterian Church in Ireland', 'Christian - Presbyterian Church in Ireland', '{}', true),
  ('religion', '26', 'Christian - Church of Ireland', 'Christian - Church of Ireland', '{}', true),
  ('religion', '27', 'Christian - Methodist Church in Ireland', 'Christian - Methodist Church in Ireland', '{}', true),
  ('religion', '28', 'Christian - Other denomination', 'Christian - Other denomination', '{}', true),
  ('religion', '29', 'Hindu', 'Hindu', '{}', true),
  ('religion', '30', 'Jewish', 'Jewish', '{}', true),
  ('religion', '31', 'Muslim', 'Muslim', '{}', true),
  ('religion', '32', 'Pagan', 'Pagan', '{}', true),
  ('religion', '33', 'Sikh', 'Sikh', '{}', true),
  ('religion', '80', 'Any other religion or belief', 'Any other religion or belief', '{}', true),
  ('religion', '98', 'Prefer not to say', 'prefer not to say', '{"information refused"}', true),
  ('religion', '99', 'Not available', NULL, '{}', true)
ON CONFLICT (field, code) DO UPDATE
  SET label = EXCLUDED.label, stored = EXCLUDED.stored, aliases = EXCLUDED.aliases, shipped = true;
