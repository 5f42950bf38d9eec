-- Linkage recipients and their file layouts, as data.
--
-- A recipient (DfE, ESFA, JISC/HESA, UCAS, or any other) is a row; its export file and the
-- outcome file it sends back are layouts: numbered versions of an ordered list of columns, each
-- with a header and the field it holds, plus the date format, how coded values (sex, outcome)
-- are written and how an unknown postcode is written. Adding a recipient or changing a layout
-- is an INSERT (through define_recipient and define_layout), never a rebuild; a new field
-- *kind* is code.
--
-- Dump and restore: the extension's script ships definitions; pg_dump copies only what the
-- service added. A shipped recipient is never changed in place: define_recipient() writes the
-- service's own row of the same name beside it (shipped = false), which takes precedence in the
-- view outreach.recipient. Layout versions 1-100 are reserved for the extension's script, the
-- service's own start at 101, so neither ever collides with the other in a restore.

CREATE TABLE outreach.recipient_definition (
  name text COLLATE "C" NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{1,39}$'),
  shipped boolean NOT NULL DEFAULT false,          -- part of the extension's script (not dumped)
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  enabled boolean NOT NULL DEFAULT true,
  export_layout int,                               -- current export layout version (NULL: none yet)
  outcome_layout int,                              -- current outcome layout version (NULL: none yet)
  -- which cohorts (Expected HE Entry Year, or the adult override) are in scope, relative to the
  -- academic year of the export's as_of date: entry year between that year + cohort_from and
  -- that year + cohort_to
  cohort_from int NOT NULL CHECK (cohort_from BETWEEN -30 AND 30),
  cohort_to int NOT NULL CHECK (cohort_to BETWEEN -30 AND 30),
  -- file name of an export: {recipient}, {year} (of as_of), {academic_year}, {date} (YYYYMMDD
  -- of as_of) and {export_id} (6 digits or more; required, so that names never collide)
  file_pattern text NOT NULL DEFAULT '{recipient}_outreach_{year}_{export_id}.csv'
    CHECK (file_pattern ~ '^[A-Za-z0-9_.{}-]{1,200}$' AND strpos(file_pattern, '{export_id}') > 0
           AND file_pattern !~ '^[.]'),
  pgp_public_key text CHECK (pgp_public_key IS NULL OR pgp_public_key ~ '^-----BEGIN PGP PUBLIC KEY BLOCK-----'),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, shipped),
  CHECK (cohort_from <= cohort_to)
);
COMMENT ON TABLE outreach.recipient_definition IS
  'linkage recipients: shipped definitions and the service''s own (which take precedence); read outreach.recipient';

-- What the service uses: the service's own row of a name if there is one, else the shipped one.
CREATE OR REPLACE VIEW outreach.recipient AS
SELECT DISTINCT ON (d.name)
       d.name, d.title, d.enabled, d.export_layout, d.outcome_layout, d.cohort_from, d.cohort_to,
       d.file_pattern, d.pgp_public_key, d.shipped, d.updated_at
FROM outreach.recipient_definition d
ORDER BY d.name, d.shipped;
COMMENT ON VIEW outreach.recipient IS
  'the linkage recipients in force: name, title, enabled, current layouts, cohort window, file pattern, OpenPGP key';

CREATE TABLE outreach.recipient_layout (
  recipient text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL CHECK (kind IN ('export', 'outcome')),
  version int NOT NULL CHECK (version BETWEEN 1 AND 1000000),
  date_format text NOT NULL DEFAULT 'YYYY-MM-DD'
    CHECK (date_format IN ('YYYY-MM-DD', 'DD/MM/YYYY', 'YYYYMMDD', 'DD-MM-YYYY')),
  -- coded values per field, e.g. {"sex": {"female": "F", "male": "M", "*": "U"}} for an export
  -- ("*": anything else; keys are matched in lower case, trimmed) or {"outcome": {"ks4": "ks4"}}
  -- for an outcome file (recipient's code -> outcome kind)
  value_codes jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(value_codes) = 'object'),
  unknown_postcode text CHECK (length(unknown_postcode) <= 20),  -- written for a missing postcode
  outcome_kind text COLLATE "C" CHECK (outcome_kind IN ('ks4', 'ks5', 'he_application', 'he_entry', 'continuation')),
  note text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (recipient, kind, version),
  CHECK (kind = 'outcome' OR outcome_kind IS NULL)
);
COMMENT ON TABLE outreach.recipient_layout IS
  'versions of each recipient''s export and outcome file layouts (1-100 shipped, from 101 the service''s own)';
COMMENT ON COLUMN outreach.recipient_layout.outcome_kind IS
  'outcome layouts without an outcome column: the kind of outcome every row is';

CREATE TABLE outreach.recipient_layout_column (
  recipient text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL,
  version int NOT NULL,
  position int NOT NULL CHECK (position BETWEEN 1 AND 100),
  header text NOT NULL CHECK (length(header) BETWEEN 1 AND 100 AND header !~ '[\r\n]'),
  field text COLLATE "C" NOT NULL,
  required boolean NOT NULL DEFAULT false,
  PRIMARY KEY (recipient, kind, version, position),
  UNIQUE (recipient, kind, version, header),
  FOREIGN KEY (recipient, kind, version) REFERENCES outreach.recipient_layout ON DELETE CASCADE,
  CONSTRAINT recipient_layout_column_check
  CHECK ((kind = 'export' AND field IN ('reference', 'forename', 'surname', 'date_of_birth', 'postcode', 'sex',
                                        'school_urn', 'school_ukprn', 'upn', 'uln', 'entry_year', 'extend_link_by',
                                        'member', 'blank', 'record_action'))
      OR (kind = 'outcome' AND field IN ('reference', 'outcome', 'academic_year', 'measure', 'value',
                                         'provider_ukprn', 'provider_name', 'ignore')))
);
COMMENT ON TABLE outreach.recipient_layout_column IS
  'the columns of a layout in order: header, the field it holds, and whether a participant without it is left out';

SELECT pg_catalog.pg_extension_config_dump('outreach.recipient_definition', 'WHERE NOT shipped');
SELECT pg_catalog.pg_extension_config_dump('outreach.recipient_layout', 'WHERE version > 100');
SELECT pg_catalog.pg_extension_config_dump('outreach.recipient_layout_column', 'WHERE version > 100');

-- Checks a layout's columns (jsonb array of {"header", "field", "required"}) for its kind.
-- Raises 22023 with the reason; used by define_layout and by the shipped definitions below.
CREATE OR REPLACE FUNCTION outreach.check_layout_columns(kind text, columns jsonb, outcome_kind text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  c jsonb;
  fields text[] := '{}';
  headers text[] := '{}';
  allowed text[] := CASE kind
    WHEN 'export' THEN ARRAY['reference', 'forename', 'surname', 'date_of_birth', 'postcode', 'sex', 'school_urn',
                             'school_ukprn', 'upn', 'uln', 'entry_year', 'extend_link_by', 'member', 'blank',
                             'record_action']
    WHEN 'outcome' THEN ARRAY['reference', 'outcome', 'academic_year', 'measure', 'value', 'provider_ukprn',
                              'provider_name', 'ignore'] END;
  f text;
BEGIN
  IF allowed IS NULL THEN
    RAISE EXCEPTION 'layout kind must be export or outcome, not "%"', kind USING ERRCODE = '22023';
  END IF;
  IF columns IS NULL OR jsonb_typeof(columns) <> 'array' OR jsonb_array_length(columns) = 0 THEN
    RAISE EXCEPTION 'a layout needs a non-empty JSON array of columns' USING ERRCODE = '22023',
      HINT = 'e.g. [{"header": "Reference", "field": "reference", "required": true}, ...]';
  END IF;
  IF jsonb_array_length(columns) > 100 THEN
    RAISE EXCEPTION 'a layout has at most 100 columns' USING ERRCODE = '22023';
  END IF;
  FOR c IN SELECT * FROM jsonb_array_elements(columns) LOOP
    IF jsonb_typeof(c) <> 'object' OR jsonb_typeof(c -> 'header') <> 'string' OR jsonb_typeof(c -> 'field') <> 'string'
       OR (c ? 'required' AND jsonb_typeof(c -> 'required') <> 'boolean')
       OR EXISTS (SELECT 1 FROM jsonb_object_keys(c) k WHERE k NOT IN ('header', 'field', 'required')) THEN
      RAISE EXCEPTION 'layout column % is not {"header": text, "field": text, "required": boolean}', c
        USING ERRCODE = '22023';
    END IF;
    f := c ->> 'field';
    IF NOT f = ANY (allowed) THEN
      RAISE EXCEPTION 'unknown % field "%"', kind, f USING ERRCODE = '22023',
        HINT = 'Fields: ' || array_to_string(allowed, ', ') || '.';
    END IF;
    IF length(c ->> 'header') NOT BETWEEN 1 AND 100 OR (c ->> 'header') ~ '[\r\n]' THEN
      RAISE EXCEPTION 'header "%" must be 1 to 100 characters on one line', c ->> 'header' USING ERRCODE = '22023';
    END IF;
    IF lower(c ->> 'header') = ANY (headers) THEN
      RAISE EXCEPTION 'header "%" appears twice', c ->> 'header' USING ERRCODE = '22023';
    END IF;
    IF f = ANY (fields) AND f NOT IN ('blank', 'ignore') THEN
      RAISE EXCEPTION 'field "%" appears twice', f USING ERRCODE = '22023';
    END IF;
    headers := headers || lower(c ->> 'header');
    fields := fields || f;
  END LOOP;
  IF NOT 'reference' = ANY (fields) THEN
    RAISE EXCEPTION 'a layout needs a reference column' USING ERRCODE = '22023',
      HINT = 'The per-recipient pseudonymous reference is how returned rows are matched back.';
  END IF;
  IF kind = 'outcome' THEN
    IF NOT 'academic_year' = ANY (fields) THEN
      RAISE EXCEPTION 'an outcome layout needs an academic_year column' USING ERRCODE = '22023';
    END IF;
    IF NOT 'outcome' = ANY (fields) AND outcome_kind IS NULL THEN
      RAISE EXCEPTION 'an outcome layout needs an outcome column or a fixed outcome_kind' USING ERRCODE = '22023';
    END IF;
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.check_layout_columns(text, jsonb, text) IS
  'raises 22023 unless the columns are a valid layout of the kind (fields known, headers unique, a reference column)';

-- Creates or changes a recipient (the service's DBA). Only the values given change; '' clears
-- the OpenPGP key. A shipped recipient is changed by writing the service's own row beside it.
CREATE OR REPLACE FUNCTION outreach.define_recipient(name text, title text DEFAULT NULL, enabled boolean DEFAULT NULL,
                                          cohort_from int DEFAULT NULL, cohort_to int DEFAULT NULL,
                                          file_pattern text DEFAULT NULL, pgp_public_key text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur outreach.recipient_definition;
BEGIN
  IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{1,39}$' THEN
    RAISE EXCEPTION 'invalid recipient name "%"', name USING ERRCODE = '22023',
      HINT = 'Use 2 to 40 characters: a lower-case letter, then letters, digits or underscores.';
  END IF;
  IF file_pattern IS NOT NULL AND (file_pattern !~ '^[A-Za-z0-9_.{}-]{1,200}$' OR strpos(file_pattern, '{export_id}') = 0
                                   OR file_pattern ~ '^[.]') THEN
    RAISE EXCEPTION 'invalid file pattern "%"', file_pattern USING ERRCODE = '22023',
      HINT = 'Letters, digits, _ . - and the tokens {recipient} {year} {academic_year} {date} {export_id}; {export_id} is required.';
  END IF;
  IF pgp_public_key IS NOT NULL AND pgp_public_key <> '' AND pgp_public_key !~ '^-----BEGIN PGP PUBLIC KEY BLOCK-----' THEN
    RAISE EXCEPTION 'pgp_public_key must be an ASCII-armoured OpenPGP public key' USING ERRCODE = '22023';
  END IF;
  SELECT d.* INTO cur FROM outreach.recipient_definition d
  WHERE d.name = define_recipient.name ORDER BY d.shipped LIMIT 1;
  IF NOT FOUND AND (title IS NULL OR cohort_from IS NULL OR cohort_to IS NULL) THEN
    RAISE EXCEPTION 'a new recipient needs a title, cohort_from and cohort_to' USING ERRCODE = '22023';
  END IF;
  IF coalesce(cohort_from, cur.cohort_from) > coalesce(cohort_to, cur.cohort_to)
     OR coalesce(cohort_from, cur.cohort_from) NOT BETWEEN -30 AND 30 OR coalesce(cohort_to, cur.cohort_to) NOT BETWEEN -30 AND 30 THEN
    RAISE EXCEPTION 'the cohort window must satisfy -30 <= cohort_from <= cohort_to <= 30' USING ERRCODE = '22023';
  END IF;
  INSERT INTO outreach.recipient_definition AS d (name, shipped, title, enabled, export_layout, outcome_layout,
                                                  cohort_from, cohort_to, file_pattern, pgp_public_key)
  VALUES (define_recipient.name, false, coalesce(define_recipient.title, cur.title),
          coalesce(define_recipient.enabled, cur.enabled, true), cur.export_layout, cur.outcome_layout,
          coalesce(define_recipient.cohort_from, cur.cohort_from), coalesce(define_recipient.cohort_to, cur.cohort_to),
          coalesce(define_recipient.file_pattern, cur.file_pattern, '{recipient}_outreach_{year}_{export_id}.csv'),
          CASE WHEN define_recipient.pgp_public_key = '' THEN NULL
               ELSE coalesce(define_recipient.pgp_public_key, cur.pgp_public_key) END)
  ON CONFLICT ON CONSTRAINT recipient_definition_pkey DO UPDATE
    SET title = EXCLUDED.title, enabled = EXCLUDED.enabled, cohort_from = EXCLUDED.cohort_from,
        cohort_to = EXCLUDED.cohort_to, file_pattern = EXCLUDED.file_pattern,
        pgp_public_key = EXCLUDED.pgp_public_key, updated_at = now();
END
$$;
COMMENT ON FUNCTION outreach.define_recipient(text, text, boolean, int, int, text, text) IS
  'creates or changes a linkage recipient (only the values given; '''' clears the OpenPGP key)';

-- Adds a layout version for a recipient and (by default) makes it the current one. Layouts are
-- never changed in place: an export records the version it used.
CREATE OR REPLACE FUNCTION outreach.define_layout(recipient text, kind text, columns jsonb,
                                       date_format text DEFAULT 'YYYY-MM-DD', value_codes jsonb DEFAULT '{}',
                                       unknown_postcode text DEFAULT NULL, outcome_kind text DEFAULT NULL,
                                       note text DEFAULT NULL, activate boolean DEFAULT true)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v int;
  codes jsonb;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM outreach.recipient_definition d WHERE d.name = define_layout.recipient) THEN
    RAISE EXCEPTION 'unknown recipient "%"', recipient USING ERRCODE = '42704';
  END IF;
  PERFORM outreach.check_layout_columns(kind, columns, outcome_kind);
  IF date_format IS NULL OR date_format NOT IN ('YYYY-MM-DD', 'DD/MM/YYYY', 'YYYYMMDD', 'DD-MM-YYYY') THEN
    RAISE EXCEPTION 'date_format must be one of YYYY-MM-DD, DD/MM/YYYY, YYYYMMDD, DD-MM-YYYY' USING ERRCODE = '22023';
  END IF;
  IF value_codes IS NULL OR jsonb_typeof(value_codes) <> 'object'
     OR EXISTS (SELECT 1 FROM jsonb_each(value_codes) e
                WHERE e.key NOT IN ('sex', 'outcome', 'record_action') OR jsonb_typeof(e.value) <> 'object'
                   OR EXISTS (SELECT 1 FROM jsonb_each(e.value) c WHERE jsonb_typeof(c.value) <> 'string')) THEN
    RAISE EXCEPTION 'value_codes must be {"sex": {code: text, ...}}, {"record_action": {action: text, ...}} or {"outcome": {code: kind, ...}}'
      USING ERRCODE = '22023';
  END IF;
  -- record_action: what the file writes for each action (new, correction, erasure, withdrawal,
  -- restriction); an action not listed is written as an empty field.
  IF value_codes ? 'record_action' AND EXISTS (
       SELECT 1 FROM jsonb_object_keys(value_codes -> 'record_action') k
       WHERE lower(btrim(k)) NOT IN ('new', 'correction', 'erasure', 'withdrawal', 'restriction')) THEN
    RAISE EXCEPTION 'record_action codes are given for new, correction, erasure, withdrawal and restriction'
      USING ERRCODE = '22023', HINT = 'e.g. {"record_action": {"new": "N", "correction": "C", "erasure": "D", "withdrawal": "D", "restriction": "R"}}';
  END IF;
  IF value_codes ? 'outcome' AND EXISTS (
       SELECT 1 FROM jsonb_each_text(value_codes -> 'outcome') c
       WHERE c.value NOT IN ('ks4', 'ks5', 'he_application', 'he_entry', 'continuation')) THEN
    RAISE EXCEPTION 'outcome codes must map to ks4, ks5, he_application, he_entry or continuation' USING ERRCODE = '22023';
  END IF;
  -- Codes are matched trimmed and in lower case: store the keys that way.
  SELECT coalesce(jsonb_object_agg(f.key, (SELECT coalesce(jsonb_object_agg(lower(btrim(c.key)), c.value), '{}')
                                            FROM jsonb_each(f.value) c)), '{}')
    INTO codes FROM jsonb_each(value_codes) f;
  IF outcome_kind IS NOT NULL AND (kind <> 'outcome' OR outcome_kind NOT IN ('ks4', 'ks5', 'he_application', 'he_entry', 'continuation')) THEN
    RAISE EXCEPTION 'outcome_kind applies to outcome layouts and is one of ks4, ks5, he_application, he_entry, continuation'
      USING ERRCODE = '22023';
  END IF;
  -- Serialise definitions of the same recipient, then take the next free version (from 101).
  PERFORM 1 FROM outreach.recipient_definition d WHERE d.name = define_layout.recipient FOR UPDATE;
  SELECT greatest(coalesce(max(l.version), 0), 100) + 1 INTO v
  FROM outreach.recipient_layout l WHERE l.recipient = define_layout.recipient AND l.kind = define_layout.kind;
  INSERT INTO outreach.recipient_layout (recipient, kind, version, date_format, value_codes, unknown_postcode, outcome_kind, note)
  VALUES (define_layout.recipient, define_layout.kind, v, date_format, codes, nullif(btrim(unknown_postcode), ''),
          outcome_kind, note);
  INSERT INTO outreach.recipient_layout_column (recipient, kind, version, position, header, field, required)
  SELECT define_layout.recipient, define_layout.kind, v, c.ord, btrim(c.col ->> 'header'), c.col ->> 'field',
         coalesce((c.col ->> 'required')::boolean, c.col ->> 'field' = 'reference')
  FROM jsonb_array_elements(columns) WITH ORDINALITY AS c(col, ord);
  IF activate THEN
    PERFORM outreach.define_recipient(define_layout.recipient);  -- the service's own row, if not yet there
    UPDATE outreach.recipient_definition d
    SET export_layout = CASE WHEN define_layout.kind = 'export' THEN v ELSE d.export_layout END,
        outcome_layout = CASE WHEN define_layout.kind = 'outcome' THEN v ELSE d.outcome_layout END,
        updated_at = now()
    WHERE d.name = define_layout.recipient AND NOT d.shipped;
  END IF;
  RETURN v;
END
$$;
COMMENT ON FUNCTION outreach.define_layout(text, text, jsonb, text, jsonb, text, text, text, boolean) IS
  'adds a version of a recipient''s export or outcome layout (and makes it current unless activate is false); returns the version';

-- A layout that an export or import has used must stay as it was: rows are never changed.
CREATE OR REPLACE FUNCTION outreach.layout_immutable() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'layouts are not changed in place' USING ERRCODE = '55000',
    HINT = 'Add a new version with outreach.define_layout().';
END
$$;
COMMENT ON FUNCTION outreach.layout_immutable() IS 'trigger: refuses updates of layouts (add a version instead)';
CREATE OR REPLACE TRIGGER layout_immutable BEFORE UPDATE ON outreach.recipient_layout
  FOR EACH ROW EXECUTE FUNCTION outreach.layout_immutable();
CREATE OR REPLACE TRIGGER layout_immutable BEFORE UPDATE ON outreach.recipient_layout_column
  FOR EACH ROW EXECUTE FUNCTION outreach.layout_immutable();

-- The shipped definitions. Sources: see docs/linkage.md (TASO technical guide for NPD and UCAS
-- Outreach Evaluator, HESA coding manual, ILR specification). The cohort windows are policy:
-- entry years relative to the academic year of the export.
INSERT INTO outreach.recipient_definition (name, shipped, title, enabled, export_layout, outcome_layout,
                                           cohort_from, cohort_to, file_pattern)
VALUES
  -- pupils whose KS4 year is over (entry year <= year + 2), back to eight cohorts earlier
  ('dfe', true, 'Department for Education: National Pupil Database', true, 1, 1, -8, 2,
   'dfe_npd_outreach_{year}_{export_id}.csv'),
  -- learners of 16-19 further education age
  ('esfa', true, 'Education and Skills Funding Agency: Individualised Learner Record', true, 1, 1, -8, 2,
   'esfa_ilr_outreach_{year}_{export_id}.csv'),
  -- people expected to have entered higher education (this year or in the ten before)
  ('hesa', true, 'Jisc (HESA): Student record', true, 1, 1, -10, 0,
   'hesa_outreach_{year}_{export_id}.csv'),
  -- UCAS Outreach Evaluator: cycles from three years back to next year's
  ('ucas', true, 'UCAS: Outreach Evaluator', true, 1, 1, -3, 1,
   'ucas_outreach_evaluator_{year}_{export_id}.csv');

INSERT INTO outreach.recipient_layout (recipient, kind, version, date_format, value_codes, unknown_postcode, outcome_kind, note)
VALUES
  ('dfe', 'export', 1, 'DD/MM/YYYY', '{"sex": {"female": "F", "f": "F", "male": "M", "m": "M"}}', NULL, NULL,
   'NPD matching: forename, surname, date of birth, postcode, sex; school URN, UPN and ULN where held'),
  ('dfe', 'outcome', 1, 'DD/MM/YYYY', '{"outcome": {"ks4": "ks4", "ks5": "ks5"}}', NULL, NULL,
   'KS4 and KS5 attainment, one measure per row'),
  ('esfa', 'export', 1, 'YYYY-MM-DD', '{"sex": {"female": "F", "f": "F", "male": "M", "m": "M"}}', NULL, NULL,
   'ILR learner fields: GivenNames, FamilyName, DateOfBirth, Sex, Postcode, ULN; school or college where held'),
  ('esfa', 'outcome', 1, 'YYYY-MM-DD', '{"outcome": {"ks5": "ks5", "l3": "ks5", "level3": "ks5"}}', NULL, NULL,
   'level 3 (KS5 and equivalent) achievement in further education, one measure per row'),
  ('hesa', 'export', 1, 'YYYY-MM-DD',
   '{"sex": {"female": "10", "f": "10", "male": "11", "m": "11", "other": "12", "*": "99"}}', 'ZZ99 9ZZ', NULL,
   'HESA student record identity fields (BIRTHDTE ISO 8601, SEXID codes, POSTCODE ZZ99 9ZZ when unknown, ULN)'),
  ('hesa', 'outcome', 1, 'YYYY-MM-DD',
   '{"outcome": {"he_entry": "he_entry", "entry": "he_entry", "continuation": "continuation"}}', NULL, NULL,
   'HE entry (year, provider) and continuation'),
  ('ucas', 'export', 1, 'DD/MM/YYYY', '{}', NULL, NULL,
   'Outreach Evaluator request file: Forename, Last name, Date_of_Birth, Postcode, Link_to_UCAS_cycle, Extend_link_by; Reference as a user column'),
  ('ucas', 'outcome', 1, 'DD/MM/YYYY', '{}', NULL, 'he_application',
   'application outcomes per cycle (where UCAS returns record-level data)');

INSERT INTO outreach.recipient_layout_column (recipient, kind, version, position, header, field, required)
VALUES
  ('dfe', 'export', 1, 1, 'PupilReference', 'reference', true),
  ('dfe', 'export', 1, 2, 'Forename', 'forename', true),
  ('dfe', 'export', 1, 3, 'Surname', 'surname', true),
  ('dfe', 'export', 1, 4, 'DateOfBirth', 'date_of_birth', true),
  ('dfe', 'export', 1, 5, 'Postcode', 'postcode', true),
  ('dfe', 'export', 1, 6, 'Sex', 'sex', false),
  ('dfe', 'export', 1, 7, 'SchoolURN', 'school_urn', false),
  ('dfe', 'export', 1, 8, 'UPN', 'upn', false),
  ('dfe', 'export', 1, 9, 'ULN', 'uln', false),
  ('dfe', 'outcome', 1, 1, 'PupilReference', 'reference', true),
  ('dfe', 'outcome', 1, 2, 'KeyStage', 'outcome', true),
  ('dfe', 'outcome', 1, 3, 'AcademicYear', 'academic_year', true),
  ('dfe', 'outcome', 1, 4, 'Measure', 'measure', true),
  ('dfe', 'outcome', 1, 5, 'Value', 'value', true),
  ('esfa', 'export', 1, 1, 'LearnerReference', 'reference', true),
  ('esfa', 'export', 1, 2, 'GivenNames', 'forename', true),
  ('esfa', 'export', 1, 3, 'FamilyName', 'surname', true),
  ('esfa', 'export', 1, 4, 'DateOfBirth', 'date_of_birth', true),
  ('esfa', 'export', 1, 5, 'Sex', 'sex', false),
  ('esfa', 'export', 1, 6, 'Postcode', 'postcode', true),
  ('esfa', 'export', 1, 7, 'ULN', 'uln', false),
  ('esfa', 'export', 1, 8, 'UKPRN', 'school_ukprn', false),
  ('esfa', 'outcome', 1, 1, 'LearnerReference', 'reference', true),
  ('esfa', 'outcome', 1, 2, 'Outcome', 'outcome', true),
  ('esfa', 'outcome', 1, 3, 'AcademicYear', 'academic_year', true),
  ('esfa', 'outcome', 1, 4, 'UKPRN', 'provider_ukprn', false),
  ('esfa', 'outcome', 1, 5, 'Measure', 'measure', true),
  ('esfa', 'outcome', 1, 6, 'Value', 'value', true),
  ('hesa', 'export', 1, 1, 'REFERENCE', 'reference', true),
  ('hesa', 'export', 1, 2, 'FNAMES', 'forename', true),
  ('hesa', 'export', 1, 3, 'SURNAME', 'surname', true),
  ('hesa', 'export', 1, 4, 'BIRTHDTE', 'date_of_birth', true),
  ('hesa', 'export', 1, 5, 'SEXID', 'sex', false),
  ('hesa', 'export', 1, 6, 'POSTCODE', 'postcode', false),
  ('hesa', 'export', 1, 7, 'ULN', 'uln', false),
  ('hesa', 'export', 1, 8, 'EXPECTEDENTRY', 'entry_year', true),
  ('hesa', 'outcome', 1, 1, 'REFERENCE', 'reference', true),
  ('hesa', 'outcome', 1, 2, 'OUTCOME', 'outcome', true),
  ('hesa', 'outcome', 1, 3, 'ACADEMICYEAR', 'academic_year', true),
  ('hesa', 'outcome', 1, 4, 'UKPRN', 'provider_ukprn', false),
  ('hesa', 'outcome', 1, 5, 'PROVIDER', 'provider_name', false),
  ('hesa', 'outcome', 1, 6, 'VALUE', 'value', false),
  ('ucas', 'export', 1, 1, 'Forename', 'forename', true),
  ('ucas', 'export', 1, 2, 'Last name', 'surname', true),
  ('ucas', 'export', 1, 3, 'Date_of_Birth', 'date_of_birth', true),
  ('ucas', 'export', 1, 4, 'Postcode', 'postcode', true),
  ('ucas', 'export', 1, 5, 'Link_to_UCAS_cycle', 'entry_year', true),
  ('ucas', 'export', 1, 6, 'Extend_link_by', 'extend_link_by', false),
  ('ucas', 'export', 1, 7, 'Reference', 'reference', true),
  ('ucas', 'outcome', 1, 1, 'Reference', 'reference', true),
  ('ucas', 'outcome', 1, 2, 'Cycle', 'academic_year', true),
  ('ucas', 'outcome', 1, 3, 'Status', 'value', true),
  ('ucas', 'outcome', 1, 4, 'UKPRN', 'provider_ukprn', false),
  ('ucas', 'outcome', 1, 5, 'Provider', 'provider_name', false);

-- The shipped layouts pass the same checks as the service's own.
SELECT outreach.check_layout_columns(l.kind,
         (SELECT jsonb_agg(jsonb_build_object('header', c.header, 'field', c.field, 'required', c.required) ORDER BY c.position)
          FROM outreach.recipient_layout_column c
          WHERE c.recipient = l.recipient AND c.kind = l.kind AND c.version = l.version), l.outcome_kind)
FROM outreach.recipient_layout l;

-- Recipients and layouts are not personal data: the daemon and the service read them, members
-- may see which recipients exist and how their files look.
REVOKE ALL ON outreach.recipient_definition, outreach.recipient, outreach.recipient_layout,
              outreach.recipient_layout_column FROM PUBLIC;
GRANT SELECT ON outreach.recipient, outreach.recipient_definition, outreach.recipient_layout,
                outreach.recipient_layout_column
  TO outreach_daemon, outreach_processor, outreach_reader, outreach_analyst;
REVOKE EXECUTE ON FUNCTION outreach.define_recipient(text, text, boolean, int, int, text, text),
  outreach.define_layout(text, text, jsonb, text, jsonb, text, text, text, boolean),
  outreach.layout_immutable() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.check_layout_columns(text, jsonb, text) FROM PUBLIC;
