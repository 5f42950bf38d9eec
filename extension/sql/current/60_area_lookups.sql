-- Neighbourhood look-ups as published: the ONS Postcode Directory (postcode -> statistical
-- geographies, with each postcode's introduction and termination month), POLAR4 and TUNDRA
-- quintiles, and the indices of deprivation (England's IMD 2019 and 2025 side by side, WIMD,
-- SIMD, NIMDM). Reference data, not personal data: every member reads the same rows. Only the
-- service and the daemon load them, through area_lookup_stage/_append and load_area_lookup;
-- columns are found by header name (outreach.area_lookup_header), never by position.
-- docs/area_lookups.md describes the files, the header names and the profile statuses.

-- The fields a loader takes from each kind of file, in the order of a staged row's values.
CREATE TABLE outreach.area_lookup_field (
  kind text NOT NULL CHECK (kind IN ('onspd', 'polar4', 'tundra', 'imd')),
  field text NOT NULL CHECK (field ~ '^[a-z][a-z0-9_]{0,39}$'),
  position int NOT NULL CHECK (position BETWEEN 1 AND 20),
  required boolean NOT NULL,
  PRIMARY KEY (kind, field),
  UNIQUE (kind, position)
);
COMMENT ON TABLE outreach.area_lookup_field IS
  'the fields the area look-up loader takes from each kind of file (position: the order of a staged row''s values)';
INSERT INTO outreach.area_lookup_field (kind, field, position, required) VALUES
  ('onspd', 'postcode', 1, true), ('onspd', 'introduced', 2, true), ('onspd', 'terminated', 3, true),
  ('onspd', 'country', 4, true), ('onspd', 'region', 5, false), ('onspd', 'local_authority', 6, true),
  ('onspd', 'ward', 7, true), ('onspd', 'lsoa01', 8, false), ('onspd', 'lsoa11', 9, false),
  ('onspd', 'msoa11', 10, false), ('onspd', 'lsoa21', 11, false), ('onspd', 'msoa21', 12, false),
  ('onspd', 'grid_quality', 13, false), ('onspd', 'user_type', 14, false),
  ('polar4', 'area_code', 1, true), ('polar4', 'quintile', 2, true),
  ('tundra', 'area_code', 1, true), ('tundra', 'quintile', 2, true),
  ('imd', 'area_code', 1, true), ('imd', 'decile', 2, false), ('imd', 'rank', 3, false);

-- The header names each field is found under: an exact name (case and surrounding spaces
-- ignored) or a regular expression matched against the whole name, case-insensitively. When
-- several names of a field are present, the lowest preference wins; two columns at the same
-- preference make the header ambiguous. An area code's name says which geography it holds
-- (the ONSPD column it is matched against: Scottish data zones are in lsoa11, Northern Irish
-- 2001 SOAs in lsoa01). A renamed column in a new edition is one INSERT here.
CREATE TABLE outreach.area_lookup_header (
  kind text NOT NULL,
  field text NOT NULL,
  header text NOT NULL CHECK (length(header) BETWEEN 1 AND 200),
  is_pattern boolean NOT NULL DEFAULT false,
  preference int NOT NULL DEFAULT 100 CHECK (preference BETWEEN 0 AND 1000),
  geography text CHECK (geography IN ('lsoa01', 'lsoa11', 'msoa11', 'lsoa21', 'msoa21', 'ward')),
  shipped boolean NOT NULL DEFAULT false,  -- part of the extension's script (not dumped)
  PRIMARY KEY (kind, field, header),
  FOREIGN KEY (kind, field) REFERENCES outreach.area_lookup_field,
  CHECK ((field = 'area_code') = (geography IS NOT NULL)),
  CHECK (NOT is_pattern OR ('' ~* header) IS NOT NULL)  -- a pattern must compile
);
COMMENT ON TABLE outreach.area_lookup_header IS
  'header names (or regular expressions, is_pattern) under which the loader finds each field of an area look-up file; '
  'lowest preference wins; add a row when an edition renames a column';
INSERT INTO outreach.area_lookup_header (kind, field, header, is_pattern, preference, geography, shipped)
SELECT kind, field, header, is_pattern, preference, geography, true FROM (VALUES
  -- ONSPD and NSPL (2023-24 names, and the year-suffixed names of 2025 and later)
  ('onspd', 'postcode', 'pcds', false, 10, NULL), ('onspd', 'postcode', 'pcd', false, 20, NULL),
  ('onspd', 'postcode', 'pcd2', false, 30, NULL), ('onspd', 'postcode', 'pcd7', false, 40, NULL),
  ('onspd', 'postcode', 'pcd8', false, 40, NULL), ('onspd', 'postcode', 'postcode', false, 50, NULL),
  ('onspd', 'introduced', 'dointr', false, 10, NULL), ('onspd', 'terminated', 'doterm', false, 10, NULL),
  ('onspd', 'country', 'ctry', false, 10, NULL), ('onspd', 'country', 'ctry[0-9]{2}cd', true, 20, NULL),
  ('onspd', 'region', 'rgn', false, 10, NULL), ('onspd', 'region', 'rgn[0-9]{2}cd', true, 20, NULL),
  ('onspd', 'region', 'gor', false, 30, NULL),
  ('onspd', 'local_authority', 'oslaua', false, 10, NULL), ('onspd', 'local_authority', 'laua', false, 20, NULL),
  ('onspd', 'local_authority', 'lad[0-9]{2}cd', true, 30, NULL),
  ('onspd', 'ward', 'osward', false, 10, NULL), ('onspd', 'ward', 'ward', false, 20, NULL),
  ('onspd', 'ward', 'wd[0-9]{2}cd', true, 30, NULL),
  ('onspd', 'lsoa01', 'lsoa01', false, 10, NULL), ('onspd', 'lsoa01', 'lsoa01cd', false, 20, NULL),
  ('onspd', 'lsoa11', 'lsoa11', false, 10, NULL), ('onspd', 'lsoa11', 'lsoa11cd', false, 20, NULL),
  ('onspd', 'msoa11', 'msoa11', false, 10, NULL), ('onspd', 'msoa11', 'msoa11cd', false, 20, NULL),
  ('onspd', 'lsoa21', 'lsoa21', false, 10, NULL), ('onspd', 'lsoa21', 'lsoa21cd', false, 20, NULL),
  ('onspd', 'msoa21', 'msoa21', false, 10, NULL), ('onspd', 'msoa21', 'msoa21cd', false, 20, NULL),
  ('onspd', 'grid_quality', 'osgrdind', false, 10, NULL), ('onspd', 'user_type', 'usertype', false, 10, NULL),
  -- POLAR4 (OfS): 2011 MSOAs (E&W), or wards in the ward-level file
  ('polar4', 'area_code', 'MSOA11CD', false, 10, 'msoa11'), ('polar4', 'area_code', 'MSOA code', false, 20, 'msoa11'),
  ('polar4', 'area_code', 'MSOA 2011 code', false, 20, 'msoa11'), ('polar4', 'area_code', 'msoa11', false, 30, 'msoa11'),
  ('polar4', 'area_code', 'WD[0-9]{2}CD', true, 40, 'ward'), ('polar4', 'area_code', 'Ward code', false, 40, 'ward'),
  ('polar4', 'quintile', 'POLAR4 quintile', false, 10, NULL), ('polar4', 'quintile', 'POLAR4_quintile', false, 10, NULL),
  ('polar4', 'quintile', 'POLAR4 young participation quintile', false, 20, NULL),
  ('polar4', 'quintile', 'Quintile', false, 30, NULL),
  -- TUNDRA (OfS): 2011 MSOAs and 2011 LSOAs, England
  ('tundra', 'area_code', 'MSOA11CD', false, 10, 'msoa11'), ('tundra', 'area_code', 'MSOA code', false, 20, 'msoa11'),
  ('tundra', 'area_code', 'LSOA11CD', false, 10, 'lsoa11'), ('tundra', 'area_code', 'LSOA code', false, 20, 'lsoa11'),
  ('tundra', 'quintile', 'TUNDRA MSOA quintile', false, 10, NULL), ('tundra', 'quintile', 'TUNDRA LSOA quintile', false, 10, NULL),
  ('tundra', 'quintile', 'TUNDRA_MSOA_quintile', false, 10, NULL), ('tundra', 'quintile', 'TUNDRA_LSOA_quintile', false, 10, NULL),
  ('tundra', 'quintile', 'Quintile', false, 30, NULL),
  -- Indices of deprivation: England (IoD 2019 file 1 and file 7, IoD 2025), Wales, Scotland, NI
  ('imd', 'area_code', 'LSOA code (2011)', false, 10, 'lsoa11'), ('imd', 'area_code', 'LSOA code (2021)', false, 10, 'lsoa21'),
  ('imd', 'area_code', 'lsoa11cd', false, 20, 'lsoa11'), ('imd', 'area_code', 'lsoa21cd', false, 20, 'lsoa21'),
  ('imd', 'area_code', 'LSOA code', false, 30, 'lsoa11'), ('imd', 'area_code', 'Data_Zone', false, 30, 'lsoa11'),
  ('imd', 'area_code', 'Data Zone', false, 30, 'lsoa11'), ('imd', 'area_code', 'DZ', false, 40, 'lsoa11'),
  ('imd', 'area_code', 'SOA2001', false, 30, 'lsoa01'), ('imd', 'area_code', 'SOA Code', false, 40, 'lsoa01'),
  ('imd', 'decile', 'Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)', false, 10, NULL),
  ('imd', 'decile', 'Index of Multiple Deprivation (IMD) Decile', false, 20, NULL),
  ('imd', 'decile', 'IMD Decile', false, 30, NULL), ('imd', 'decile', 'IMD_Decile', false, 30, NULL),
  ('imd', 'decile', 'SIMD[0-9]{4}(v[0-9]+)?_Decile', true, 30, NULL), ('imd', 'decile', 'WIMD [0-9]{4} Decile', true, 30, NULL),
  ('imd', 'decile', 'MDM Decile', false, 30, NULL),
  ('imd', 'rank', 'Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)', false, 10, NULL),
  ('imd', 'rank', 'Index of Multiple Deprivation (IMD) Rank', false, 20, NULL),
  ('imd', 'rank', 'IMD Rank', false, 30, NULL), ('imd', 'rank', 'IMD_Rank', false, 30, NULL),
  ('imd', 'rank', 'SIMD[0-9]{4}(v[0-9]+)?_Rank', true, 30, NULL), ('imd', 'rank', 'WIMD [0-9]{4}', true, 30, NULL),
  ('imd', 'rank', 'WIMD [0-9]{4} overall rank', true, 30, NULL),
  ('imd', 'rank', 'MDM_rank', false, 30, NULL), ('imd', 'rank', 'Multiple Deprivation Measure Rank', false, 30, NULL)
) AS shipped_headers(kind, field, header, is_pattern, preference, geography);

-- One row per completed load: the edition each look-up row came from.
CREATE TABLE outreach.area_lookup_load (
  load_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL,
  deprivation_index text,
  vintage text,
  geography text,
  file_name text,
  loaded_by text NOT NULL,
  staged_at timestamptz NOT NULL,
  loaded_at timestamptz NOT NULL DEFAULT now(),
  lines_read int NOT NULL DEFAULT 0,
  lines_loaded int NOT NULL DEFAULT 0,
  lines_rejected int NOT NULL DEFAULT 0,
  rows_replaced bigint NOT NULL DEFAULT 0
);
COMMENT ON TABLE outreach.area_lookup_load IS
  'the loads of area look-ups: file, who, when, lines read, loaded and rejected, rows of the previous edition replaced';

-- ONSPD: months are stored as their first day (introduced 202301 -> 2023-01-01).
CREATE TABLE outreach.postcode_geography (
  postcode outreach.uk_postcode PRIMARY KEY,
  introduced date NOT NULL,
  terminated date,
  country text,
  region text,
  local_authority text,
  ward text,
  lsoa01 text,
  lsoa11 text,
  msoa11 text,
  lsoa21 text,
  msoa21 text,
  grid_quality smallint,
  user_type smallint,
  load_id bigint NOT NULL
);
COMMENT ON TABLE outreach.postcode_geography IS
  'the ONS Postcode Directory as loaded: each postcode (current and terminated) with its introduction and termination '
  'month (first day), its grid-reference quality (9: none) and its GSS geography codes';

CREATE TABLE outreach.polar4_area (
  geography text NOT NULL CHECK (geography IN ('msoa11', 'ward')),
  area_code text NOT NULL,
  quintile smallint CHECK (quintile BETWEEN 1 AND 5),
  load_id bigint NOT NULL,
  PRIMARY KEY (geography, area_code)
);
COMMENT ON TABLE outreach.polar4_area IS 'POLAR4 quintiles (1 lowest young participation) by 2011 MSOA or ward; NULL: withheld';

CREATE TABLE outreach.tundra_area (
  geography text NOT NULL CHECK (geography IN ('msoa11', 'lsoa11')),
  area_code text NOT NULL,
  quintile smallint CHECK (quintile BETWEEN 1 AND 5),
  load_id bigint NOT NULL,
  PRIMARY KEY (geography, area_code)
);
COMMENT ON TABLE outreach.tundra_area IS 'TUNDRA quintiles (1 lowest participation) by 2011 MSOA and 2011 LSOA; NULL: withheld';

CREATE TABLE outreach.deprivation_area (
  deprivation_index text NOT NULL CHECK (deprivation_index IN ('imd', 'wimd', 'simd', 'nimdm')),
  vintage text NOT NULL CHECK (vintage ~ '^[0-9]{4}$'),
  geography text NOT NULL CHECK (geography IN ('lsoa01', 'lsoa11', 'lsoa21')),
  area_code text NOT NULL,
  decile smallint NOT NULL CHECK (decile BETWEEN 1 AND 10),
  rank int CHECK (rank > 0),
  load_id bigint NOT NULL,
  PRIMARY KEY (deprivation_index, vintage, area_code)
);
CREATE INDEX deprivation_area_code ON outreach.deprivation_area (deprivation_index, area_code);
COMMENT ON TABLE outreach.deprivation_area IS
  'area deprivation deciles (1 most deprived 10%) and ranks by index (imd: England, wimd, simd, nimdm) and vintage; '
  'geography: the ONSPD column the area code matches (data zones in lsoa11, NI 2001 SOAs in lsoa01)';

-- Loads in progress: the header as mapped, the good lines as staged values, the bad lines.
CREATE TABLE outreach.area_lookup_stage (
  stage_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL,
  deprivation_index text,
  vintage text,
  file_name text,
  staged_by text NOT NULL,
  staged_at timestamptz NOT NULL DEFAULT now(),
  header text[],
  positions int[],
  geography text,
  last_line int NOT NULL DEFAULT 0,
  lines_read int NOT NULL DEFAULT 0
);
CREATE TABLE outreach.area_lookup_staged_row (
  stage_id bigint NOT NULL REFERENCES outreach.area_lookup_stage ON DELETE CASCADE,
  line_no int NOT NULL,
  key text NOT NULL,
  v text[] NOT NULL
);
CREATE INDEX area_lookup_staged_row_key ON outreach.area_lookup_staged_row (stage_id, key, line_no);
CREATE TABLE outreach.area_lookup_stage_error (
  stage_id bigint NOT NULL REFERENCES outreach.area_lookup_stage ON DELETE CASCADE,
  line_no int NOT NULL,
  status text NOT NULL,
  reason text NOT NULL
);
CREATE INDEX area_lookup_stage_error_line ON outreach.area_lookup_stage_error (stage_id, line_no);
COMMENT ON TABLE outreach.area_lookup_stage IS 'area look-up loads in progress (area_lookup_stage until load_area_lookup)';
COMMENT ON TABLE outreach.area_lookup_staged_row IS 'the good lines of a load in progress, as the values of the kind''s fields';
COMMENT ON TABLE outreach.area_lookup_stage_error IS 'the lines of a load in progress that were not taken, with their reasons';

GRANT SELECT ON outreach.postcode_geography, outreach.polar4_area, outreach.tundra_area, outreach.deprivation_area,
  outreach.area_lookup_load, outreach.area_lookup_field, outreach.area_lookup_header
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-- Loaded data must be dumped; the staged loads are transient (not dumped).
SELECT pg_catalog.pg_extension_config_dump('outreach.area_lookup_header', 'WHERE NOT shipped');
SELECT pg_catalog.pg_extension_config_dump('outreach.area_lookup_load', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.area_lookup_load', 'load_id')::pg_catalog.regclass, '');
-- (the stage ids' sequence too, so that a restored database does not hand out ids again)
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.area_lookup_stage', 'stage_id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump('outreach.postcode_geography', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.polar4_area', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.tundra_area', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.deprivation_area', '');

-----------------------------------------------------------------------------------------------
-- Checking lines
-----------------------------------------------------------------------------------------------

-- The values of a record in the order of the kind's fields (positions: the record's column of
-- each field, 0 when the file has none), trimmed, empty as NULL.
CREATE OR REPLACE FUNCTION outreach.area_lookup_values(fields text[], positions int[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT ARRAY(SELECT NULLIF(pg_catalog.btrim(fields[u.p]), '')
               FROM pg_catalog.unnest(positions) WITH ORDINALITY AS u(p, o) ORDER BY u.o)
$$;
COMMENT ON FUNCTION outreach.area_lookup_values(text[], int[]) IS
  'the values of a look-up record in the order of its kind''s fields (trimmed, empty as NULL)';

-- A month YYYYMM of an ONSPD date, or NULL when it is not one.
CREATE OR REPLACE FUNCTION outreach.onspd_month(yyyymm text) RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT CASE WHEN yyyymm OPERATOR(pg_catalog.~) '^(19|20)[0-9]{2}(0[1-9]|1[0-2])$'
              THEN pg_catalog.make_date(pg_catalog.substr(yyyymm, 1, 4)::int, pg_catalog.substr(yyyymm, 5, 2)::int, 1) END
$$;
COMMENT ON FUNCTION outreach.onspd_month(text) IS
  'the first day of an ONSPD month YYYYMM (dointr, doterm), NULL when the text is not such a month';

-- Why a line of a look-up file cannot be loaded, as {status, reason}; NULL when it can.
CREATE OR REPLACE FUNCTION outreach.area_lookup_problem(kind text, v text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT CASE kind
    WHEN 'onspd' THEN CASE
      WHEN v[1] IS NULL THEN ARRAY['invalid_postcode', 'no postcode']
      WHEN NOT outreach.is_valid_postcode(v[1])
        THEN ARRAY['invalid_postcode', pg_catalog.format('"%s" is not a valid UK postcode', pg_catalog.left(v[1], 20))]
      WHEN v[2] IS NULL OR outreach.onspd_month(v[2]) IS NULL
        THEN ARRAY['bad_date', pg_catalog.format('introduced (dointr) "%s" is not a month YYYYMM', pg_catalog.left(v[2], 20))]
      WHEN v[3] IS NOT NULL AND outreach.onspd_month(v[3]) IS NULL
        THEN ARRAY['bad_date', pg_catalog.format('terminated (doterm) "%s" is not a month YYYYMM', pg_catalog.left(v[3], 20))]
      WHEN v[3] IS NOT NULL AND v[3] OPERATOR(pg_catalog.<) v[2]
        THEN ARRAY['bad_date', pg_catalog.format('terminated %s before it was introduced %s', v[3], v[2])]
      WHEN c.bad IS NOT NULL THEN ARRAY['bad_value', c.bad]
      WHEN v[13] OPERATOR(pg_catalog.!~) '^[0-9]$'
        THEN ARRAY['bad_value', pg_catalog.format('grid reference quality (osgrdind) "%s" is not a digit', pg_catalog.left(v[13], 20))]
      WHEN v[14] OPERATOR(pg_catalog.!~) '^[01]$'
        THEN ARRAY['bad_value', pg_catalog.format('user type (usertype) "%s" is not 0 or 1', pg_catalog.left(v[14], 20))]
      END
    WHEN 'imd' THEN CASE
      WHEN v[1] IS NULL OR v[1] OPERATOR(pg_catalog.!~) '^[A-Za-z0-9]{1,12}$'
        THEN ARRAY['bad_value', pg_catalog.format('area code "%s" is not a code', pg_catalog.left(v[1], 20))]
      WHEN v[2] OPERATOR(pg_catalog.!~) '^([1-9]|10)$'
        THEN ARRAY['bad_value', pg_catalog.format('decile "%s" is not 1 to 10', pg_catalog.left(v[2], 20))]
      WHEN v[3] OPERATOR(pg_catalog.!~) '^[1-9][0-9]{0,6}$'
        THEN ARRAY['bad_value', pg_catalog.format('rank "%s" is not a whole number from 1', pg_catalog.left(v[3], 20))]
      WHEN v[2] IS NULL AND v[3] IS NULL THEN ARRAY['bad_value', 'neither a decile nor a rank']
      END
    ELSE CASE  -- polar4, tundra
      WHEN v[1] IS NULL OR v[1] OPERATOR(pg_catalog.!~) '^[A-Za-z0-9]{1,12}$'
        THEN ARRAY['bad_value', pg_catalog.format('area code "%s" is not a code', pg_catalog.left(v[1], 20))]
      WHEN v[2] OPERATOR(pg_catalog.!~) '^[1-5]$'
        THEN ARRAY['bad_value', pg_catalog.format('quintile "%s" is not 1 to 5', pg_catalog.left(v[2], 20))]
      END
    END
  FROM (SELECT (SELECT pg_catalog.format('%s "%s" is not a code', n.name, pg_catalog.left(v[(n.o OPERATOR(pg_catalog.+) 3)::int], 20))
                FROM pg_catalog.unnest(ARRAY['country', 'region', 'local authority', 'ward', 'lsoa01', 'lsoa11',
                                             'msoa11', 'lsoa21', 'msoa21']) WITH ORDINALITY AS n(name, o)
                WHERE kind OPERATOR(pg_catalog.=) 'onspd'
                  AND v[(n.o OPERATOR(pg_catalog.+) 3)::int] OPERATOR(pg_catalog.!~) '^[A-Za-z0-9]{1,12}$'
                ORDER BY n.o LIMIT 1) AS bad) AS c
$$;
COMMENT ON FUNCTION outreach.area_lookup_problem(text, text[]) IS
  'why the values of a line of an area look-up file of the kind cannot be loaded, as {status, reason}; NULL when they can';

-- The columns of a header that hold each field of the kind, or 22P04 naming the expected and
-- found names when a required field has no column or a field has two.
CREATE OR REPLACE FUNCTION outreach.area_lookup_map_header(kind text, header text[], file_name text,
                                                           OUT positions int[], OUT geography text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  problems text;
BEGIN
  WITH cols AS (
    SELECT c.i::int AS i, btrim(c.h) AS h FROM unnest(header) WITH ORDINALITY AS c(h, i)
  ), hits AS (
    SELECT a.field, a.preference, a.geography, c.i, c.h
    FROM outreach.area_lookup_header a
    JOIN cols c ON CASE WHEN a.is_pattern THEN c.h ~* ('^(?:' || a.header || ')$') ELSE lower(c.h) = lower(a.header) END
    WHERE a.kind = area_lookup_map_header.kind
  ), best AS (
    SELECT h.field, array_agg(DISTINCT h.i ORDER BY h.i) AS cols, array_agg(DISTINCT h.h ORDER BY h.h) AS names,
           min(h.geography) AS geo
    FROM hits h
    WHERE h.preference = (SELECT min(x.preference) FROM hits x WHERE x.field = h.field)
    GROUP BY h.field
  ), fields AS (
    SELECT f.field, f.position, f.required, b.cols, b.names, b.geo,
           (SELECT string_agg(CASE WHEN a.is_pattern THEN '/' || a.header || '/' ELSE '"' || a.header || '"' END, ' or '
                              ORDER BY a.preference, a.header)
            FROM outreach.area_lookup_header a WHERE a.kind = f.kind AND a.field = f.field) AS expected
    FROM outreach.area_lookup_field f LEFT JOIN best b ON b.field = f.field
    WHERE f.kind = area_lookup_map_header.kind
  )
  SELECT array_agg(CASE WHEN cardinality(x.cols) = 1 THEN x.cols[1] ELSE 0 END ORDER BY x.position),
         max(x.geo),
         string_agg(CASE WHEN x.cols IS NULL AND x.required
                           THEN format('no column for %s (expected %s)', x.field, x.expected)
                         WHEN cardinality(x.cols) > 1
                           THEN format('%s columns for %s (%s)', cardinality(x.cols), x.field,
                                       array_to_string(x.names, ', ')) END, '; ' ORDER BY x.position)
    INTO positions, geography, problems
  FROM fields x;
  IF problems IS NOT NULL THEN
    RAISE EXCEPTION 'file "%" does not have the header of an area look-up of kind %: %; found "%"',
                    coalesce(file_name, '(unnamed)'), kind, problems, left(outreach.csv_record(header), 2000)
      USING ERRCODE = '22P04', HINT = 'Nothing was loaded. outreach.area_lookup_header lists the accepted names; '
                                      'a renamed column of a new edition is one INSERT there.';
  END IF;
END
$$;
COMMENT ON FUNCTION outreach.area_lookup_map_header(text, text[], text) IS
  'the column of each field of the kind in a look-up file''s header (0: absent) and the geography its area code names; '
  '22P04 naming the expected and found names when a required field is missing or a field is found twice';
REVOKE EXECUTE ON FUNCTION outreach.area_lookup_map_header(text, text[], text) FROM PUBLIC;

-----------------------------------------------------------------------------------------------
-- Loading: stage, append chunks, load (replacing the edition in one transaction)
-----------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION outreach.area_lookup_stage(kind text, file_name text DEFAULT NULL, vintage text DEFAULT NULL,
                                                      deprivation_index text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  new_id bigint;
BEGIN
  IF kind IS NULL OR kind NOT IN ('onspd', 'polar4', 'tundra', 'imd') THEN
    RAISE EXCEPTION 'unknown look-up kind "%"', kind USING ERRCODE = '22023', HINT = 'Kinds: onspd, polar4, tundra, imd.';
  END IF;
  IF deprivation_index IS NOT NULL AND kind <> 'imd' THEN
    RAISE EXCEPTION 'a deprivation index applies to kind imd only' USING ERRCODE = '22023';
  END IF;
  IF kind = 'imd' AND coalesce(deprivation_index, 'imd') NOT IN ('imd', 'wimd', 'simd', 'nimdm') THEN
    RAISE EXCEPTION 'unknown deprivation index "%"', deprivation_index
      USING ERRCODE = '22023', HINT = 'Indices: imd (England), wimd, simd, nimdm.';
  END IF;
  -- A year in range: the newest vintage of a devolved index is the one every profile uses, so
  -- a vintage of 9999 would take the place of the real one for every member.
  IF vintage IS NOT NULL AND (kind <> 'imd' OR vintage !~ '^[0-9]{4}$'
                              OR vintage::int NOT BETWEEN 2000 AND extract(year FROM current_date)::int + 1) THEN
    RAISE EXCEPTION 'vintage "%" applies to kind imd only, as a year from 2000 to next year', vintage USING ERRCODE = '22023';
  END IF;
  IF file_name IS NOT NULL AND length(file_name) NOT BETWEEN 1 AND 255 THEN
    RAISE EXCEPTION 'file_name must be 1 to 255 characters' USING ERRCODE = '22023';
  END IF;
  -- Loads abandoned more than a day ago are forgotten.
  DELETE FROM outreach.area_lookup_stage s WHERE s.staged_at < now() - interval '1 day';
  INSERT INTO outreach.area_lookup_stage (kind, deprivation_index, vintage, file_name, staged_by)
  VALUES (kind, CASE WHEN kind = 'imd' THEN coalesce(deprivation_index, 'imd') END, vintage, file_name,
          outreach.invoking_role()::text)
  RETURNING stage_id INTO new_id;
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION outreach.area_lookup_stage(text, text, text, text) IS
  'begins loading an area look-up file (kind onspd, polar4, tundra or imd; for imd the index and vintage); returns the '
  'stage id for area_lookup_append and load_area_lookup';

-- The lines of one chunk: checked, the good ones staged, the bad ones recorded. Called by the
-- loading functions only (as the extension's owner).
CREATE OR REPLACE FUNCTION outreach.area_lookup_take(stage_id bigint, first_line int, chunk bytea) RETURNS int
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  s outreach.area_lookup_stage;
  head record;
  map record;
  header_line int := 0;
  n int;
  last int;
BEGIN
  SELECT * INTO s FROM outreach.area_lookup_stage t WHERE t.stage_id = area_lookup_take.stage_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no area look-up load % in progress', stage_id USING ERRCODE = '42704';
  END IF;
  IF s.staged_by <> outreach.invoking_role()::text THEN
    RAISE EXCEPTION 'area look-up load % belongs to %', stage_id, s.staged_by USING ERRCODE = '42501';
  END IF;
  IF first_line IS NULL OR first_line < 1 OR (first_line = 1) <> (s.header IS NULL) OR first_line <= s.last_line THEN
    RAISE EXCEPTION 'a chunk of load % must begin at line 1 (the header) first, then after line %', stage_id, s.last_line
      USING ERRCODE = '22023';
  END IF;

  IF s.header IS NULL THEN
    SELECT h.line_no, h.fields, h.error INTO head
    FROM outreach.csv_records(substring(chunk FROM 1 FOR coalesce(nullif(position('\x0a'::bytea IN chunk), 0), length(chunk)))) h
    ORDER BY h.line_no LIMIT 1;
    IF NOT FOUND OR head.error IS NOT NULL THEN
      RAISE EXCEPTION 'file "%" does not begin with a header record: %', coalesce(s.file_name, '(unnamed)'),
                      coalesce(head.error, 'the file is empty')
        USING ERRCODE = '22P04', HINT = 'Nothing was loaded.';
    END IF;
    header_line := head.line_no;
    SELECT * INTO map FROM outreach.area_lookup_map_header(s.kind, head.fields, s.file_name);
    IF s.kind = 'imd' AND s.vintage IS NULL THEN
      s.vintage := CASE WHEN s.deprivation_index = 'imd' THEN
                     CASE map.geography WHEN 'lsoa11' THEN '2019' WHEN 'lsoa21' THEN '2025' END END;
      IF s.vintage IS NULL THEN
        RAISE EXCEPTION 'the vintage of % file "%" must be given', s.deprivation_index, coalesce(s.file_name, '(unnamed)')
          USING ERRCODE = '22023', HINT = 'Nothing was loaded.';
      END IF;
    END IF;
    IF s.kind = 'imd' AND s.deprivation_index = 'imd' AND (s.vintage, map.geography) IN (('2019', 'lsoa21'), ('2025', 'lsoa11')) THEN
      RAISE EXCEPTION 'IMD % is published for % LSOAs, file "%" has % codes', s.vintage,
                      CASE s.vintage WHEN '2019' THEN '2011' ELSE '2021' END, coalesce(s.file_name, '(unnamed)'), map.geography
        USING ERRCODE = '22P04', HINT = 'Nothing was loaded.';
    END IF;
    UPDATE outreach.area_lookup_stage t
    SET header = head.fields, positions = map.positions, geography = map.geography, vintage = s.vintage
    WHERE t.stage_id = s.stage_id;
    s.header := head.fields;
    s.positions := map.positions;
  END IF;

  WITH recs AS MATERIALIZED (
    SELECT first_line - 1 + r.line_no AS line_no, r.fields, r.error
    FROM outreach.csv_records(chunk) r
    WHERE r.line_no <> header_line
  ), judged AS (
    SELECT r.line_no,
           CASE WHEN r.error IS NOT NULL THEN ARRAY['malformed', r.error]
                WHEN cardinality(r.fields) <> cardinality(s.header)
                  THEN ARRAY['malformed', format('%s fields where the header has %s', cardinality(r.fields), cardinality(s.header))]
                ELSE outreach.area_lookup_problem(s.kind, x.v) END AS problem,
           x.v
    FROM recs r
    CROSS JOIN LATERAL (SELECT CASE WHEN r.error IS NULL AND cardinality(r.fields) = cardinality(s.header)
                                    THEN outreach.area_lookup_values(r.fields, s.positions) END AS v) x
  ), good AS (
    INSERT INTO outreach.area_lookup_staged_row (stage_id, line_no, key, v)
    SELECT s.stage_id, j.line_no,
           CASE WHEN s.kind = 'onspd' THEN outreach.uk_postcode(j.v[1])::text ELSE upper(j.v[1]) END, j.v
    FROM judged j WHERE j.problem IS NULL
    RETURNING 1
  ), bad AS (
    INSERT INTO outreach.area_lookup_stage_error (stage_id, line_no, status, reason)
    SELECT s.stage_id, j.line_no, j.problem[1], j.problem[2] FROM judged j WHERE j.problem IS NOT NULL
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM good) + (SELECT count(*) FROM bad), coalesce((SELECT max(r.line_no) FROM recs r), first_line)
    INTO n, last;
  UPDATE outreach.area_lookup_stage t
  SET lines_read = t.lines_read + n, last_line = greatest(last, first_line)
  WHERE t.stage_id = s.stage_id;
  RETURN n;
END
$$;
COMMENT ON FUNCTION outreach.area_lookup_take(bigint, int, bytea) IS
  'checks the lines of one chunk of a staged look-up file (the first chunk begins with the header), stages the good ones '
  'and records the bad ones; returns the number of lines read';
REVOKE EXECUTE ON FUNCTION outreach.area_lookup_take(bigint, int, bytea) FROM PUBLIC;

CREATE OR REPLACE FUNCTION outreach.area_lookup_append(stage_id bigint, first_line int, chunk bytea) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
BEGIN
  IF chunk IS NULL OR length(chunk) > 64 * 1024 * 1024 THEN
    RAISE EXCEPTION 'a chunk must be given and hold at most 64 MB (this one: % bytes)', length(chunk)
      USING ERRCODE = '54000', HINT = 'Cut the file into chunks at line ends.';
  END IF;
  RETURN outreach.area_lookup_take(stage_id, first_line, chunk);
END
$$;
COMMENT ON FUNCTION outreach.area_lookup_append(bigint, int, bytea) IS
  'adds a chunk (at most 64 MB, cut at a line end; first_line: the file''s line it begins on, 1 for the chunk with the '
  'header) to a staged area look-up load; 22P04 when the header is wrong; returns the lines read';

CREATE OR REPLACE FUNCTION outreach.load_area_lookup(stage_id bigint)
RETURNS TABLE (line_no int, status text, reason text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  s outreach.area_lookup_stage;
  new_id bigint;
  good int;
  bad int;
  replaced bigint;
  n_ranked bigint;
  edition text;
BEGIN
  SELECT * INTO s FROM outreach.area_lookup_stage t WHERE t.stage_id = load_area_lookup.stage_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no area look-up load % in progress', stage_id USING ERRCODE = '42704';
  END IF;
  IF s.staged_by <> outreach.invoking_role()::text THEN
    RAISE EXCEPTION 'area look-up load % belongs to %', stage_id, s.staged_by USING ERRCODE = '42501';
  END IF;
  IF s.header IS NULL THEN
    RAISE EXCEPTION 'file "%" was not sent: no header', coalesce(s.file_name, '(unnamed)') USING ERRCODE = '22P04';
  END IF;

  -- Loads of one kind take turns; readers go on reading the edition they began with.
  CASE s.kind
    WHEN 'onspd' THEN LOCK TABLE outreach.postcode_geography IN SHARE ROW EXCLUSIVE MODE;
    WHEN 'polar4' THEN LOCK TABLE outreach.polar4_area IN SHARE ROW EXCLUSIVE MODE;
    WHEN 'tundra' THEN LOCK TABLE outreach.tundra_area IN SHARE ROW EXCLUSIVE MODE;
    ELSE LOCK TABLE outreach.deprivation_area IN SHARE ROW EXCLUSIVE MODE;
  END CASE;

  -- A key given twice: the first line is kept, the others reported.
  INSERT INTO outreach.area_lookup_stage_error (stage_id, line_no, status, reason)
  SELECT s.stage_id, d.line_no, 'duplicate', format('%s is also on line %s, which is kept', d.key, d.first_line)
  FROM (SELECT r.line_no, r.key, min(r.line_no) OVER (PARTITION BY r.key) AS first_line
        FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id) d
  WHERE d.line_no <> d.first_line;
  SELECT count(DISTINCT r.key) INTO good FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id;
  SELECT count(*) INTO bad FROM outreach.area_lookup_stage_error e WHERE e.stage_id = s.stage_id;
  IF good = 0 THEN
    RAISE EXCEPTION 'file "%" has no line that can be loaded (% lines read, % rejected): the edition loaded before is kept',
                    coalesce(s.file_name, '(unnamed)'), s.lines_read, bad
      USING ERRCODE = '22P04';
  END IF;

  INSERT INTO outreach.area_lookup_load (kind, deprivation_index, vintage, geography, file_name, loaded_by, staged_at,
                                         lines_read, lines_loaded, lines_rejected)
  VALUES (s.kind, s.deprivation_index, s.vintage, s.geography, s.file_name, s.staged_by, s.staged_at,
          s.lines_read, good, bad)
  RETURNING load_id INTO new_id;

  IF s.kind = 'onspd' THEN
    edition := 'the ONS Postcode Directory';
    DELETE FROM outreach.postcode_geography;
    GET DIAGNOSTICS replaced = ROW_COUNT;
    INSERT INTO outreach.postcode_geography (postcode, introduced, terminated, country, region, local_authority, ward,
                                             lsoa01, lsoa11, msoa11, lsoa21, msoa21, grid_quality, user_type, load_id)
    SELECT DISTINCT ON (r.key) r.key::outreach.uk_postcode, outreach.onspd_month(r.v[2]), outreach.onspd_month(r.v[3]),
           upper(r.v[4]), upper(r.v[5]), upper(r.v[6]), upper(r.v[7]), upper(r.v[8]), upper(r.v[9]), upper(r.v[10]),
           upper(r.v[11]), upper(r.v[12]), r.v[13]::smallint, r.v[14]::smallint, new_id
    FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id ORDER BY r.key, r.line_no;
  ELSIF s.kind = 'polar4' THEN
    edition := format('POLAR4 by %s', s.geography);
    DELETE FROM outreach.polar4_area a WHERE a.geography = s.geography;
    GET DIAGNOSTICS replaced = ROW_COUNT;
    INSERT INTO outreach.polar4_area (geography, area_code, quintile, load_id)
    SELECT DISTINCT ON (r.key) s.geography, r.key, r.v[2]::smallint, new_id
    FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id ORDER BY r.key, r.line_no;
  ELSIF s.kind = 'tundra' THEN
    edition := format('TUNDRA by %s', s.geography);
    DELETE FROM outreach.tundra_area a WHERE a.geography = s.geography;
    GET DIAGNOSTICS replaced = ROW_COUNT;
    INSERT INTO outreach.tundra_area (geography, area_code, quintile, load_id)
    SELECT DISTINCT ON (r.key) s.geography, r.key, r.v[2]::smallint, new_id
    FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id ORDER BY r.key, r.line_no;
  ELSE
    edition := format('%s %s', upper(s.deprivation_index), s.vintage);
    DELETE FROM outreach.deprivation_area a WHERE a.deprivation_index = s.deprivation_index AND a.vintage = s.vintage;
    GET DIAGNOSTICS replaced = ROW_COUNT;
    -- A file with ranks and no deciles: deciles from the ranks (1: the most deprived tenth).
    SELECT count(DISTINCT r.key) INTO n_ranked FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id;
    INSERT INTO outreach.deprivation_area (deprivation_index, vintage, geography, area_code, decile, rank, load_id)
    SELECT DISTINCT ON (r.key) s.deprivation_index, s.vintage, s.geography, r.key,
           coalesce(r.v[2]::smallint, least(10, ((r.v[3]::bigint - 1) * 10 / n_ranked) + 1)::smallint), r.v[3]::int, new_id
    FROM outreach.area_lookup_staged_row r WHERE r.stage_id = s.stage_id ORDER BY r.key, r.line_no;
  END IF;
  UPDATE outreach.area_lookup_load l SET rows_replaced = replaced WHERE l.load_id = new_id;

  RETURN QUERY
  SELECT e.line_no, e.status, e.reason FROM outreach.area_lookup_stage_error e
  WHERE e.stage_id = s.stage_id ORDER BY e.line_no;
  RETURN QUERY
  SELECT NULL::int, 'loaded'::text,
         format('load %s of "%s": %s lines read, %s loaded, %s rejected; %s rows of %s replaced', new_id,
                coalesce(s.file_name, '(unnamed)'), s.lines_read, good, bad, replaced, edition);
  DELETE FROM outreach.area_lookup_stage t WHERE t.stage_id = s.stage_id;
END
$$;
COMMENT ON FUNCTION outreach.load_area_lookup(bigint) IS
  'loads a staged area look-up file: in one transaction its good lines replace the edition of its kind (and index, '
  'vintage or geography); returns each line not loaded (number, status, reason) and a summary row (line_no NULL)';

CREATE OR REPLACE FUNCTION outreach.load_area_lookup(kind text, content bytea, file_name text DEFAULT NULL,
                                                     vintage text DEFAULT NULL, deprivation_index text DEFAULT NULL)
RETURNS TABLE (line_no int, status text, reason text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  sid bigint;
BEGIN
  IF content IS NULL THEN
    RAISE EXCEPTION 'no content given' USING ERRCODE = '22023';
  END IF;
  sid := outreach.area_lookup_stage(kind, file_name, vintage, deprivation_index);
  PERFORM outreach.area_lookup_take(sid, 1, content);
  RETURN QUERY SELECT * FROM outreach.load_area_lookup(sid);
END
$$;
COMMENT ON FUNCTION outreach.load_area_lookup(text, bytea, text, text, text) IS
  'loads a whole area look-up file in one call (area_lookup_stage, area_lookup_append, load_area_lookup(stage_id))';

REVOKE EXECUTE ON FUNCTION outreach.area_lookup_stage(text, text, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.area_lookup_append(bigint, int, bytea) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.load_area_lookup(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION outreach.load_area_lookup(text, bytea, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.area_lookup_stage(text, text, text, text), outreach.area_lookup_append(bigint, int, bytea),
  outreach.load_area_lookup(bigint), outreach.load_area_lookup(text, bytea, text, text, text)
  TO outreach_processor, outreach_daemon;

-----------------------------------------------------------------------------------------------
-- Profiles
-----------------------------------------------------------------------------------------------

-- Inlined into the query that calls it (LANGUAGE sql, STABLE, one SELECT, no SET, not SECURITY
-- DEFINER): a view over millions of participants LEFT JOIN LATERALs it and plans plain joins.
-- Everything is schema-qualified, operators too, since the caller's search_path is in force.
-- Months: a postcode counts as live during the whole month it was introduced and the whole
-- month it was terminated (ONSPD gives months, not days).
-- The typed form: a participant's postcode is already a valid uk_postcode, so a view over
-- millions of them neither re-parses nor re-validates it (that was most of the view's time).
CREATE OR REPLACE FUNCTION outreach.area_profile(postcode outreach.uk_postcode, as_of date)
RETURNS TABLE (status text, reason text, introduced date, terminated date, country text, region text,
               local_authority text, ward text, lsoa11 text, msoa11 text, lsoa21 text, msoa21 text,
               polar4_quintile smallint, tundra_msoa_quintile smallint, tundra_lsoa_quintile smallint,
               imd2019_decile smallint, imd2025_decile smallint, wimd_decile smallint, wimd_vintage text,
               simd_decile smallint, simd_vintage text, nimdm_decile smallint, nimdm_vintage text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT s0.status, st.reason, g.introduced, g.terminated,
         CASE WHEN st.ok THEN g.country END, CASE WHEN st.ok THEN g.region END,
         CASE WHEN st.ok THEN g.local_authority END, CASE WHEN st.ok THEN g.ward END,
         CASE WHEN st.ok THEN g.lsoa11 END, CASE WHEN st.ok THEN g.msoa11 END,
         CASE WHEN st.ok THEN g.lsoa21 END, CASE WHEN st.ok THEN g.msoa21 END,
         CASE WHEN st.ok THEN COALESCE(pm.quintile, pw.quintile) END,
         CASE WHEN st.ok THEN tm.quintile END, CASE WHEN st.ok THEN tl.quintile END,
         CASE WHEN st.ok THEN d19.decile END, CASE WHEN st.ok THEN d25.decile END,
         CASE WHEN st.ok THEN coalesce(dw_lsoa11.decile, dw_lsoa21.decile) END, CASE WHEN st.ok THEN coalesce(dw_lsoa11.vintage, dw_lsoa21.vintage) END,
         CASE WHEN st.ok THEN coalesce(ds_lsoa11.decile, ds_lsoa21.decile) END, CASE WHEN st.ok THEN coalesce(ds_lsoa11.vintage, ds_lsoa21.vintage) END,
         CASE WHEN st.ok THEN coalesce(dn_lsoa01.decile, dn_lsoa11.decile, dn_lsoa21.decile) END, CASE WHEN st.ok THEN coalesce(dn_lsoa01.vintage, dn_lsoa11.vintage, dn_lsoa21.vintage) END
  FROM (SELECT area_profile.postcode AS pc) AS p
  LEFT JOIN outreach.postcode_geography g ON g.postcode OPERATOR(outreach.=) p.pc
  LEFT JOIN outreach.polar4_area pm
    ON pm.geography OPERATOR(pg_catalog.=) 'msoa11' AND pm.area_code OPERATOR(pg_catalog.=) g.msoa11
  LEFT JOIN outreach.polar4_area pw
    ON pw.geography OPERATOR(pg_catalog.=) 'ward' AND pw.area_code OPERATOR(pg_catalog.=) g.ward
  LEFT JOIN outreach.tundra_area tm
    ON tm.geography OPERATOR(pg_catalog.=) 'msoa11' AND tm.area_code OPERATOR(pg_catalog.=) g.msoa11
  LEFT JOIN outreach.tundra_area tl
    ON tl.geography OPERATOR(pg_catalog.=) 'lsoa11' AND tl.area_code OPERATOR(pg_catalog.=) g.lsoa11
  LEFT JOIN outreach.deprivation_area d19
    ON d19.deprivation_index OPERATOR(pg_catalog.=) 'imd' AND d19.vintage OPERATOR(pg_catalog.=) '2019'
   AND d19.area_code OPERATOR(pg_catalog.=) g.lsoa11
  LEFT JOIN outreach.deprivation_area d25
    ON d25.deprivation_index OPERATOR(pg_catalog.=) 'imd' AND d25.vintage OPERATOR(pg_catalog.=) '2025'
   AND d25.area_code OPERATOR(pg_catalog.=) g.lsoa21
  -- The devolved indices: the newest vintage loaded, through the geography of its codes. One
  -- plain join per geography, each unique on the table's key, so that a query which does not
  -- read a measure does not pay for its join (PostgreSQL removes it).
  LEFT JOIN outreach.deprivation_area dw_lsoa11
    ON dw_lsoa11.deprivation_index OPERATOR(pg_catalog.=) 'wimd' AND dw_lsoa11.geography OPERATOR(pg_catalog.=) 'lsoa11'
   AND dw_lsoa11.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'wimd')
   AND dw_lsoa11.area_code OPERATOR(pg_catalog.=) g.lsoa11 AND g.country OPERATOR(pg_catalog.=) 'W92000004'
  LEFT JOIN outreach.deprivation_area dw_lsoa21
    ON dw_lsoa21.deprivation_index OPERATOR(pg_catalog.=) 'wimd' AND dw_lsoa21.geography OPERATOR(pg_catalog.=) 'lsoa21'
   AND dw_lsoa21.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'wimd')
   AND dw_lsoa21.area_code OPERATOR(pg_catalog.=) g.lsoa21 AND g.country OPERATOR(pg_catalog.=) 'W92000004'
  LEFT JOIN outreach.deprivation_area ds_lsoa11
    ON ds_lsoa11.deprivation_index OPERATOR(pg_catalog.=) 'simd' AND ds_lsoa11.geography OPERATOR(pg_catalog.=) 'lsoa11'
   AND ds_lsoa11.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'simd')
   AND ds_lsoa11.area_code OPERATOR(pg_catalog.=) g.lsoa11 AND g.country OPERATOR(pg_catalog.=) 'S92000003'
  LEFT JOIN outreach.deprivation_area ds_lsoa21
    ON ds_lsoa21.deprivation_index OPERATOR(pg_catalog.=) 'simd' AND ds_lsoa21.geography OPERATOR(pg_catalog.=) 'lsoa21'
   AND ds_lsoa21.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'simd')
   AND ds_lsoa21.area_code OPERATOR(pg_catalog.=) g.lsoa21 AND g.country OPERATOR(pg_catalog.=) 'S92000003'
  LEFT JOIN outreach.deprivation_area dn_lsoa01
    ON dn_lsoa01.deprivation_index OPERATOR(pg_catalog.=) 'nimdm' AND dn_lsoa01.geography OPERATOR(pg_catalog.=) 'lsoa01'
   AND dn_lsoa01.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'nimdm')
   AND dn_lsoa01.area_code OPERATOR(pg_catalog.=) g.lsoa01 AND g.country OPERATOR(pg_catalog.=) 'N92000002'
  LEFT JOIN outreach.deprivation_area dn_lsoa11
    ON dn_lsoa11.deprivation_index OPERATOR(pg_catalog.=) 'nimdm' AND dn_lsoa11.geography OPERATOR(pg_catalog.=) 'lsoa11'
   AND dn_lsoa11.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'nimdm')
   AND dn_lsoa11.area_code OPERATOR(pg_catalog.=) g.lsoa11 AND g.country OPERATOR(pg_catalog.=) 'N92000002'
  LEFT JOIN outreach.deprivation_area dn_lsoa21
    ON dn_lsoa21.deprivation_index OPERATOR(pg_catalog.=) 'nimdm' AND dn_lsoa21.geography OPERATOR(pg_catalog.=) 'lsoa21'
   AND dn_lsoa21.vintage OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(d.vintage) FROM outreach.deprivation_area d
                                           WHERE d.deprivation_index OPERATOR(pg_catalog.=) 'nimdm')
   AND dn_lsoa21.area_code OPERATOR(pg_catalog.=) g.lsoa21 AND g.country OPERATOR(pg_catalog.=) 'N92000002'
  CROSS JOIN LATERAL (SELECT CASE
      WHEN p.pc IS NULL THEN 'no_postcode'
      WHEN g.postcode IS NULL AND outreach.postcode_area(p.pc) OPERATOR(pg_catalog.=) ANY (ARRAY['BX', 'BF'])
        THEN 'non_geographic'
      WHEN g.postcode IS NULL THEN 'unknown_postcode'
      WHEN g.grid_quality OPERATOR(pg_catalog.=) 9 OR pg_catalog.substr(g.ward, 2) OPERATOR(pg_catalog.=) '99999999'
        THEN 'non_geographic'
      WHEN area_profile.as_of IS NULL THEN 'no_date'
      WHEN area_profile.as_of OPERATOR(pg_catalog.<) g.introduced THEN 'not_yet_introduced'
      WHEN pg_catalog.date_trunc('month', area_profile.as_of::pg_catalog.timestamp)
           OPERATOR(pg_catalog.>) g.terminated::pg_catalog.timestamp THEN 'terminated_before'
      ELSE 'resolved' END AS status) AS s0
  CROSS JOIN LATERAL (SELECT s0.status OPERATOR(pg_catalog.=) 'resolved' AS ok, CASE
      WHEN s0.status OPERATOR(pg_catalog.=) 'no_postcode' THEN 'no postcode was given'
      WHEN s0.status OPERATOR(pg_catalog.=) 'non_geographic'
        THEN 'a non-geographic postcode (PO box, large user, BFPO): no area'
      WHEN s0.status OPERATOR(pg_catalog.=) 'unknown_postcode' THEN 'the postcode is not in the ONS Postcode Directory loaded'
      WHEN s0.status OPERATOR(pg_catalog.=) 'no_date' THEN 'no date to profile at'
      WHEN s0.status OPERATOR(pg_catalog.=) 'not_yet_introduced'
        THEN pg_catalog.format('the postcode was introduced in %s, after %s',
                               pg_catalog.to_char(g.introduced, 'YYYY-MM'), area_profile.as_of)
      WHEN s0.status OPERATOR(pg_catalog.=) 'terminated_before'
        THEN pg_catalog.format('the postcode was terminated in %s, before %s',
                               pg_catalog.to_char(g.terminated, 'YYYY-MM'), area_profile.as_of)
      ELSE 'the postcode''s areas as they stood at the date' END AS reason) AS st
$$;
COMMENT ON FUNCTION outreach.area_profile(outreach.uk_postcode, date) IS
  'the areas and measures of a postcode as it stood at a date (status resolved, or not_yet_introduced, '
  'terminated_before, unknown_postcode, non_geographic, no_postcode, no_date with a reason); one row; inlined into the calling query';
REVOKE EXECUTE ON FUNCTION outreach.area_profile(outreach.uk_postcode, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.area_profile(outreach.uk_postcode, date)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;

-- The text form takes what a person typed: it says so for HESA's ZZ99 pseudo-postcodes and for
-- text that is no postcode, and profiles the rest through the typed form below.
CREATE OR REPLACE FUNCTION outreach.area_profile(postcode text, as_of date)
RETURNS TABLE (status text, reason text, introduced date, terminated date, country text, region text,
               local_authority text, ward text, lsoa11 text, msoa11 text, lsoa21 text, msoa21 text,
               polar4_quintile smallint, tundra_msoa_quintile smallint, tundra_lsoa_quintile smallint,
               imd2019_decile smallint, imd2025_decile smallint, wimd_decile smallint, wimd_vintage text,
               simd_decile smallint, simd_vintage text, nimdm_decile smallint, nimdm_vintage text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT coalesce(c.status, a.status), coalesce(c.reason, a.reason), a.introduced, a.terminated, a.country,
         a.region, a.local_authority, a.ward, a.lsoa11, a.msoa11, a.lsoa21, a.msoa21, a.polar4_quintile,
         a.tundra_msoa_quintile, a.tundra_lsoa_quintile, a.imd2019_decile, a.imd2025_decile, a.wimd_decile,
         a.wimd_vintage, a.simd_decile, a.simd_vintage, a.nimdm_decile, a.nimdm_vintage
  FROM (SELECT pg_catalog.upper(pg_catalog.regexp_replace(area_profile.postcode, '\s', '', 'g')) AS squeezed) AS t
  CROSS JOIN LATERAL (SELECT CASE
      WHEN t.squeezed IS NULL OR t.squeezed OPERATOR(pg_catalog.=) '' THEN NULL
      WHEN t.squeezed OPERATOR(pg_catalog.~~) 'ZZ99%' THEN 'hesa_unknown'
      WHEN NOT outreach.is_valid_postcode(area_profile.postcode) THEN 'invalid_postcode' END AS status) AS c0
  CROSS JOIN LATERAL (SELECT c0.status, CASE
      WHEN c0.status OPERATOR(pg_catalog.=) 'hesa_unknown'
        THEN 'ZZ99 is the pseudo-postcode of an unknown or overseas address (HESA): no area'
      WHEN c0.status OPERATOR(pg_catalog.=) 'invalid_postcode' THEN 'not a valid UK postcode' END AS reason) AS c
  LEFT JOIN LATERAL outreach.area_profile(
      -- (a guard the planner folds when the postcode is a constant: ZZ99 9ZZ never reaches the cast)
      CASE WHEN outreach.is_valid_postcode(area_profile.postcode) THEN outreach.uk_postcode(area_profile.postcode) END,
      area_profile.as_of) AS a ON true
$$;
COMMENT ON FUNCTION outreach.area_profile(text, date) IS
  'the areas and measures of a postcode as it stood at a date (status resolved, or not_yet_introduced, '
  'terminated_before, unknown_postcode, invalid_postcode, hesa_unknown, non_geographic, no_postcode, no_date with a '
  'reason); one row; inlined into the calling query';
REVOKE EXECUTE ON FUNCTION outreach.area_profile(text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.area_profile(text, date)
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;
