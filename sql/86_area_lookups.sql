-- Area look-ups: loading the ONSPD, POLAR4, TUNDRA and IMD files as published (header names,
-- not positions; bad lines reported with their numbers, the rest kept; a wrong header refused
-- whole with 22P04), a re-load replacing the edition, and profiles as at dates either side of a
-- postcode's introduction and termination. The samples are docs/samples/area_lookups/.
SET search_path = regress, outreach, public;
SET datestyle = ISO;
\set VERBOSITY terse

SET client_min_messages = warning;
CREATE FUNCTION pg_temp.al_cleanup() RETURNS void LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  DELETE FROM outreach.audit_log WHERE controller_id IN (SELECT controller_id FROM outreach.controller WHERE code = 'regress_al');
  DELETE FROM outreach.controller WHERE code = 'regress_al';
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles
           WHERE rolname LIKE 'regress\_al\_%' OR rolname LIKE 'outreach\_regress\_al\_%' ORDER BY 1 LOOP
    EXECUTE pg_catalog.format('DROP ROLE %I', r.rolname);
  END LOOP;
END $$;
SELECT pg_temp.al_cleanup();
RESET client_min_messages;
CREATE ROLE regress_al_staff;
GRANT outreach_processor TO regress_al_staff;
CREATE ROLE regress_al_daemon;
GRANT outreach_daemon TO regress_al_daemon;

-- psql's backquotes drop the file's last line end: put it back.
\set onspd `cat docs/samples/area_lookups/onspd_sample.csv`
\set polar4 `cat docs/samples/area_lookups/polar4_msoa_sample.csv`
\set tundra_msoa `cat docs/samples/area_lookups/tundra_msoa_sample.csv`
\set tundra_lsoa `cat docs/samples/area_lookups/tundra_lsoa_sample.csv`
\set imd2019 `cat docs/samples/area_lookups/imd2019_sample.csv`
\set imd2025 `cat docs/samples/area_lookups/imd2025_sample.csv`
CREATE TEMP TABLE al_file (name text PRIMARY KEY, content bytea);
INSERT INTO al_file VALUES
  ('onspd', convert_to(:'onspd' || E'\n', 'UTF8')), ('polar4', convert_to(:'polar4' || E'\n', 'UTF8')),
  ('tundra_msoa', convert_to(:'tundra_msoa' || E'\n', 'UTF8')), ('tundra_lsoa', convert_to(:'tundra_lsoa' || E'\n', 'UTF8')),
  ('imd2019', convert_to(:'imd2019' || E'\n', 'UTF8')), ('imd2025', convert_to(:'imd2025' || E'\n', 'UTF8'));
GRANT SELECT ON al_file TO regress_al_staff, regress_al_daemon;

-----------------------------------------------------------------------------------------------
-- Loading the samples (the service); the ONSPD sample's last line is ZZ99 9ZZ, not a postcode
-----------------------------------------------------------------------------------------------
SET ROLE regress_al_staff;
SELECT r.* FROM al_file f, outreach.load_area_lookup('onspd', f.content, 'onspd_sample.csv') r WHERE f.name = 'onspd';
SELECT r.* FROM al_file f, outreach.load_area_lookup('polar4', f.content, 'polar4_msoa_sample.csv') r WHERE f.name = 'polar4';
SELECT r.* FROM al_file f, outreach.load_area_lookup('tundra', f.content, 'tundra_msoa_sample.csv') r WHERE f.name = 'tundra_msoa';
SELECT r.* FROM al_file f, outreach.load_area_lookup('tundra', f.content, 'tundra_lsoa_sample.csv') r WHERE f.name = 'tundra_lsoa';
SELECT r.* FROM al_file f, outreach.load_area_lookup('imd', f.content, 'imd2019_sample.csv') r WHERE f.name = 'imd2019';
RESET ROLE;
-- The daemon loads in chunks: stage, append (the first chunk holds the header), load.
SET ROLE regress_al_daemon;
SELECT outreach.area_lookup_stage('imd', 'imd2025_sample.csv') AS stage \gset
SELECT outreach.area_lookup_append(:stage, 1, substring(content FROM 1 FOR position('\x0a'::bytea IN substring(content FROM 400)) + 399))
FROM al_file WHERE name = 'imd2025';
SELECT regress.try($$SELECT outreach.area_lookup_append($$ || :stage || $$, 1, '\x0a')$$) AS header_twice;
SELECT outreach.area_lookup_append(:stage, 1 + (SELECT count(*)::int FROM regexp_matches(encode(substring(content FROM 1 FOR position('\x0a'::bytea IN substring(content FROM 400)) + 399), 'escape'), E'\n', 'g')),
                                   substring(content FROM position('\x0a'::bytea IN substring(content FROM 400)) + 400))
FROM al_file WHERE name = 'imd2025';
SELECT * FROM outreach.load_area_lookup(:stage);
RESET ROLE;
-- What was loaded, and how it is recorded.
SELECT kind, deprivation_index, vintage, geography, file_name, loaded_by, lines_read, lines_loaded, lines_rejected, rows_replaced
FROM outreach.area_lookup_load ORDER BY load_id;
SELECT postcode, introduced, terminated, country, local_authority, ward, lsoa11, msoa11, lsoa21, grid_quality, user_type
FROM outreach.postcode_geography ORDER BY postcode LIMIT 6;
SELECT geography, count(*), count(quintile) AS with_quintile FROM outreach.tundra_area GROUP BY 1 ORDER BY 1;
SELECT deprivation_index, vintage, geography, count(*), min(decile), max(decile) FROM outreach.deprivation_area GROUP BY 1, 2, 3 ORDER BY 1, 2;
SELECT count(*) AS stages_left FROM outreach.area_lookup_stage;

-----------------------------------------------------------------------------------------------
-- Header mapping: columns found by name, in any order, under the names of other editions
-----------------------------------------------------------------------------------------------
-- A 2025-style extract: year-suffixed names, reordered, lower and upper case, extra columns.
SET ROLE regress_al_staff;
SELECT * FROM outreach.load_area_lookup('onspd', convert_to(
  E'LSOA21CD,ctry25cd,Pcds,lad25cd,wd25cd,doterm,dointr,spare\n'
  'E01090001,E92000001,AB1 0AA,E06000901,E05090001,,198001,x\n'
  'E01090004,E92000001,ab1 0ae,E06000901,E05090002,,202301,x\n'
  'E01090005,E92000001,AB1 0AF,E06000901,E05090003,201906,198001,x\n', 'UTF8'), 'onspd_2025_style.csv');
SELECT postcode, introduced, terminated, ward, lsoa11, lsoa21 FROM outreach.postcode_geography ORDER BY postcode;
-- osward is preferred to ward (preference: both found, osward taken); two columns of the same
-- preference are ambiguous.
SELECT regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup('onspd',
  convert_to(E'pcds,dointr,doterm,ctry,oslaua,osward,ward\nAB1 0AA,198001,,E92000001,E06000901,E05090001,E05090001\n', 'UTF8'), 'two_wards.csv')$$) AS same_preference;
SELECT regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup('onspd',
  convert_to(E'pcds,dointr,doterm,ctry,oslaua,wd24cd,wd25cd\nAB1 0AA,198001,,E92000001,E06000901,E05090001,E05090001\n', 'UTF8'), 'two_ward_years.csv')$$) AS two_years;
-- A wrong header is refused whole (22P04) naming the expected and found names; nothing changes.
SELECT regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup('onspd',
  convert_to(E'postcode_x,dointr,ctry,oslaua,osward\nAB1 0AA,198001,E92000001,E06000901,E05090001\n', 'UTF8'), 'wrong.csv')$$) AS wrong_header;
SELECT regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup('polar4',
  convert_to(E'MSOA11CD,POLAR3 quintile\nE02090001,1\n', 'UTF8'), 'polar3.csv')$$) AS polar3_file;
SELECT regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup('imd', convert_to(E'\n', 'UTF8'), 'empty.csv')$$) AS empty_first_line;
SELECT regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup('imd',
  convert_to(E'LSOA code (2021),IMD Decile\nE01090001,3\n', 'UTF8'), 'imd.csv', '2019')$$) AS imd2019_on_2021_lsoas;
SELECT regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup('imd',
  convert_to(E'Data_Zone,SIMD2020v2_Rank\nS01090001,5\n', 'UTF8'), 'simd.csv', NULL, 'simd')$$) AS simd_without_vintage;
SELECT regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup('census', '\x0a', 'x.csv')$$) AS unknown_kind;
RESET ROLE;
SELECT count(*) AS postcodes_still FROM outreach.postcode_geography;
-- A DBA teaches the loader a renamed column with one INSERT.
INSERT INTO outreach.area_lookup_header (kind, field, header) VALUES ('polar4', 'quintile', 'POLAR4 Quintile (2018)');
SET ROLE regress_al_staff;
SELECT * FROM outreach.load_area_lookup('polar4', convert_to(E'POLAR4 Quintile (2018),MSOA11CD\n2,E02090001\n', 'UTF8'), 'polar4_renamed.csv');
RESET ROLE;
SELECT * FROM outreach.polar4_area ORDER BY geography, area_code;
SELECT regress.try($$INSERT INTO outreach.area_lookup_header (kind, field, header, is_pattern) VALUES ('imd', 'rank', 'rank(', true)$$) AS bad_pattern;

-----------------------------------------------------------------------------------------------
-- Bad lines: every one reported with its number, the others kept
-----------------------------------------------------------------------------------------------
SET ROLE regress_al_staff;
SELECT * FROM outreach.load_area_lookup('onspd', convert_to(
  E'pcds,dointr,doterm,ctry,oslaua,osward,osgrdind,usertype,lsoa11\n'
  'AB1 0AA,198001,,E92000001,E06000901,E05090001,1,0,E01090001\n'       -- 2 good
  'QA1 1AA,198001,,E92000001,E06000901,E05090001,1,0,E01090001\n'       -- 3 not a postcode
  'ZZ99 9ZZ,198001,,E92000001,E06000901,E05090001,1,0,E01090001\n'      -- 4 the HESA pseudo-postcode
  'AB1 0AB,198013,,E92000001,E06000901,E05090001,1,0,E01090002\n'       -- 5 month 13
  'AB1 0AD,199506,199505,E92000001,E06000901,E05090002,1,0,E01090003\n' -- 6 terminated before introduced
  'AB1 0AE,202301,,E92000001,E06000901,E05090002,1,0\n'                 -- 7 a field short
  'AB1 0AF,198001,201906,E92000001,E06000901,"E0509"0003",1,0,E01090005\n' -- 8 broken quoting
  'AB1 0AG,198001,,E92000001,E06 000901,E05090003,1,0,E01090006\n'      -- 9 a code with a space
  'AB1 0AH,200001,,E92000001,E06000901,E05090004,X,0,E01090007\n'       -- 10 grid quality not a digit
  '\n'                                                                  -- 11 empty line
  'AB1 0AA,199001,,E92000001,E06000901,E05090009,1,0,E01090001\n'       -- 12 the same postcode again
  'AB2 1BA,201003,,E92000001,E07000901,E05090006,1,0,E01090011\n', 'UTF8'), 'bad_lines.csv');  -- 13 good
SELECT * FROM outreach.load_area_lookup('tundra', convert_to(
  E'LSOA11CD,TUNDRA LSOA quintile\nE01090001,1\nE01090002,6\nE01090003,\nE01 090004,2\nE01090005,0\n', 'UTF8'), 'tundra_bad.csv');
SELECT * FROM outreach.load_area_lookup('imd', convert_to(
  E'LSOA code (2011),Index of Multiple Deprivation (IMD) Rank,Index of Multiple Deprivation (IMD) Decile\n'
  'E01090001,10,1\nE01090002,0,2\nE01090003,30,11\nE01090004,,\nE01090005,50,\n', 'UTF8'), 'imd_bad.csv');
-- A file with no good line leaves the edition as it was.
SELECT regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup('polar4', convert_to(E'MSOA11CD,POLAR4 quintile\nE02090001,9\n', 'UTF8'), 'none.csv')$$) AS no_good_line;
RESET ROLE;
SELECT postcode, introduced, ward FROM outreach.postcode_geography ORDER BY postcode;
SELECT count(*) AS polar4_rows_kept FROM outreach.polar4_area;

-- A re-load of the samples replaces these editions.
SET ROLE regress_al_staff;
SELECT r.* FROM al_file f, outreach.load_area_lookup('onspd', f.content, 'onspd_sample.csv') r WHERE f.name = 'onspd' AND r.line_no IS NULL;
SELECT r.* FROM al_file f, outreach.load_area_lookup('tundra', f.content, 'tundra_lsoa_sample.csv') r WHERE f.name = 'tundra_lsoa' AND r.line_no IS NULL;
SELECT r.* FROM al_file f, outreach.load_area_lookup('polar4', f.content, 'polar4_msoa_sample.csv') r WHERE f.name = 'polar4' AND r.line_no IS NULL;
SELECT r.* FROM al_file f, outreach.load_area_lookup('imd', f.content, 'imd2019_sample.csv') r WHERE f.name = 'imd2019' AND r.line_no IS NULL;
RESET ROLE;
SELECT count(*) AS postcodes, count(DISTINCT load_id) AS loads FROM outreach.postcode_geography;

-----------------------------------------------------------------------------------------------
-- Profiles as at dates
-----------------------------------------------------------------------------------------------
-- AB1 0AE was introduced 202301 (whole month counts); AB1 0AF terminated 201906 (whole month
-- still counts).
SELECT v.pc, v.as_of, p.status, p.reason, p.ward, p.lsoa11, p.lsoa21, p.polar4_quintile, p.tundra_msoa_quintile,
       p.tundra_lsoa_quintile, p.imd2019_decile, p.imd2025_decile
FROM (VALUES ('AB1 0AE', date '2022-12-31'), ('ab10ae', date '2023-01-01'), ('AB1 0AE', date '2025-06-01'),
             ('AB1 0AF', date '2019-06-30'), ('AB1 0AF', date '2019-07-01'), ('AB1 0AF', date '2010-01-01'),
             ('AB1 0AL', date '2024-01-01'), ('AB2 1BB', date '2024-01-01'),
             ('ZZ99 9ZZ', date '2024-01-01'), ('zz99 9zz', date '2024-01-01'), ('BX9 9ZA', date '2024-01-01'),
             ('BX1 1LT', date '2024-01-01'), ('AB9 9ZZ', date '2024-01-01'), ('QA1 1AA', date '2024-01-01'),
             ('', date '2024-01-01'), (NULL, date '2024-01-01'), ('AB1 0AA', NULL)) AS v(pc, as_of)
CROSS JOIN LATERAL outreach.area_profile(v.pc, v.as_of) AS p;
-- The devolved indices, where loaded (the newest vintage).
SELECT * FROM outreach.load_area_lookup('imd', convert_to(E'LSOA code,WIMD 2019\nW01090001,7\nW01090002,70\n', 'UTF8'), 'wimd.csv', '2019', 'wimd');
SELECT * FROM outreach.load_area_lookup('imd', convert_to(E'Data_Zone,SIMD2020v2_Rank,SIMD2020v2_Decile\nS01090001,5,1\n', 'UTF8'), 'simd.csv', '2020', 'simd');
SELECT * FROM outreach.load_area_lookup('imd', convert_to(E'SOA2001,MDM_rank\n95ZZ99S1,800\n', 'UTF8'), 'nimdm.csv', '2017', 'nimdm');
SELECT v.pc, p.status, p.country, p.wimd_decile, p.wimd_vintage, p.simd_decile, p.simd_vintage, p.nimdm_decile, p.nimdm_vintage
FROM (VALUES ('CF9 1AA'), ('KY9 1AA'), ('BT99 1AA'), ('AB1 0AA')) AS v(pc)
CROSS JOIN LATERAL outreach.area_profile(v.pc, date '2024-01-01') AS p;

-- Inlined: over a table it plans as joins, with no Function Scan (a view over millions of
-- participants LEFT JOIN LATERALs it).
CREATE TEMP TABLE al_people (pc text, d date);
INSERT INTO al_people VALUES ('AB1 0AA', '2024-01-01'), ('AB1 0AE', '2022-01-01');
CREATE FUNCTION pg_temp.al_plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP RETURN NEXT l; END LOOP;
END $$;
SELECT count(*) FILTER (WHERE l ~ 'Function Scan') AS function_scans, count(*) FILTER (WHERE l ~ 'postcode_geography') AS postcode_scans
FROM pg_temp.al_plan('SELECT * FROM al_people t, LATERAL outreach.area_profile(t.pc, t.d)') AS l;
SELECT count(*) FILTER (WHERE l ~ 'Function Scan') AS function_scans
FROM pg_temp.al_plan('SELECT t.pc, p.status FROM al_people t LEFT JOIN LATERAL outreach.area_profile(t.pc, t.d) p ON true') AS l;
SELECT t.pc, p.status FROM al_people t LEFT JOIN LATERAL outreach.area_profile(t.pc, t.d) p ON true ORDER BY 1;
-- Under a hostile search_path it means the same.
CREATE SCHEMA al_hostile;
CREATE FUNCTION al_hostile.upper(text) RETURNS text LANGUAGE sql AS $$ SELECT 'AB1 0AA' $$;
SET search_path = al_hostile, pg_catalog;
SELECT status FROM outreach.area_profile('ZZ99 9ZZ', '2024-01-01');
RESET search_path;
SET search_path = regress, outreach, public;
DROP SCHEMA al_hostile CASCADE;

-----------------------------------------------------------------------------------------------
-- Who may load: not a member, not the BI role, not PUBLIC; every reader may read
-----------------------------------------------------------------------------------------------
SELECT outreach.create_controller('regress_al', 'Area lookups') IS NOT NULL AS member;
CREATE ROLE regress_al_writer;
CREATE ROLE regress_al_bi;
SELECT outreach.grant_controller_access('regress_al_writer', 'regress_al', 'writer');
GRANT outreach_bi TO regress_al_bi;
SET ROLE regress_al_writer;
SELECT regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup('polar4', convert_to(E'MSOA11CD,POLAR4 quintile\nE02090001,1\n', 'UTF8'))$$) AS writer_load,
       regress.try($$SELECT outreach.area_lookup_stage('polar4')::text$$) AS writer_stage,
       regress.try($$UPDATE outreach.polar4_area SET quintile = 5$$) AS writer_update,
       regress.try($$DELETE FROM outreach.postcode_geography$$) AS writer_delete,
       regress.try($$INSERT INTO outreach.area_lookup_header (kind, field, header) VALUES ('onspd', 'ward', 'x')$$) AS writer_alias;
RESET ROLE;
SET ROLE regress_al_bi;
SELECT regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup('polar4', convert_to(E'MSOA11CD,POLAR4 quintile\nE02090001,1\n', 'UTF8'))$$) AS bi_load,
       regress.try($$SELECT status FROM outreach.area_profile('AB1 0AA', '2024-01-01')$$) AS bi_profile,
       regress.try($$SELECT count(*)::text FROM outreach.deprivation_area$$) AS bi_read;
RESET ROLE;
-- One loader cannot finish or feed another's load.
SET ROLE regress_al_staff;
SELECT outreach.area_lookup_stage('polar4', 'mine.csv') AS staff_stage \gset
RESET ROLE;
SET ROLE regress_al_daemon;
SELECT regress.try($$SELECT outreach.area_lookup_append($$ || :staff_stage || $$, 1, convert_to(E'MSOA11CD,POLAR4 quintile\n', 'UTF8'))::text$$) AS other_append,
       regress.try($$SELECT count(*)::text FROM outreach.load_area_lookup($$ || :staff_stage || $$::bigint)$$) AS other_load;
RESET ROLE;
-- A chunk is at most 64 MB.
SET ROLE regress_al_staff;
SELECT regress.try($$SELECT outreach.area_lookup_append($$ || :staff_stage || $$, 1, convert_to(repeat('x', 64 * 1024 * 1024 + 1), 'UTF8'))::text$$) AS huge_chunk;
RESET ROLE;

SET client_min_messages = warning;
DELETE FROM outreach.area_lookup_stage;
DELETE FROM outreach.area_lookup_header WHERE NOT shipped;
DROP TABLE al_file, al_people;
TRUNCATE outreach.postcode_geography, outreach.polar4_area, outreach.tundra_area, outreach.deprivation_area,
  outreach.area_lookup_load;
SELECT pg_temp.al_cleanup();
RESET client_min_messages;
