-- 0.8.0 to 0.9.0: what an update must do besides re-creating every function, view, trigger,
-- comment and grant from extension/sql/current/ (which follows this file in the update script).

-- Area look-ups (60_area_lookups.sql): the tables, their shipped rows and pg_dump registration.
-- The fields a loader takes from each kind of file, in the order of a staged row's values.
CREATE TABLE outreach.area_lookup_field (
  kind text NOT NULL CHECK (kind IN ('onspd', 'polar4', 'tundra', 'imd')),
  field text NOT NULL CHECK (field ~ '^[a-z][a-z0-9_]{0,39}$'),
  position int NOT NULL CHECK (position BETWEEN 1 AND 20),
  required boolean NOT NULL,
  PRIMARY KEY (kind, field),
  UNIQUE (kind, position)
);
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

CREATE TABLE outreach.polar4_area (
  geography text NOT NULL CHECK (geography IN ('msoa11', 'ward')),
  area_code text NOT NULL,
  quintile smallint CHECK (quintile BETWEEN 1 AND 5),
  load_id bigint NOT NULL,
  PRIMARY KEY (geography, area_code)
);

CREATE TABLE outreach.tundra_area (
  geography text NOT NULL CHECK (geography IN ('msoa11', 'lsoa11')),
  area_code text NOT NULL,
  quintile smallint CHECK (quintile BETWEEN 1 AND 5),
  load_id bigint NOT NULL,
  PRIMARY KEY (geography, area_code)
);

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

-- progression_summary is now read from report_progression() (rounded and suppressed; withdrawn
-- and restricted participants left out); its text columns no longer carry the "C" collation of
-- the blocks, which CREATE OR REPLACE VIEW cannot change.
DROP VIEW outreach.progression_summary;
