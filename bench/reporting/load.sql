-- Synthetic data for bench/reporting.sh: :controllers members, :participants participants with
-- :per_participant attendances each, and neighbourhood look-ups of :postcodes postcodes (one in
-- fifty terminated in June 2022, one in a hundred introduced only in 2024) in 4,000 wards, 7,000 MSOAs and
-- 33,000 LSOAs with POLAR4, TUNDRA and IMD 2019/2025 values. One participant in fifty has a
-- postcode the directory does not know; postcodes are drawn by a hash of the participant id. Loaded by the superuser with triggers off.
\set ON_ERROR_STOP on
SET session_replication_role = replica;
SET synchronous_commit = off;

SELECT outreach.create_controller(format('bench%s', lpad(c::text, 3, '0')), format('Bench member %s', c))
FROM generate_series(1, :controllers) AS c;

-- Postcode i: area B, district 1-99, sector 0-9, unit two of 20 letters (396,000 distinct).
CREATE TEMP TABLE pc AS
SELECT i, format('B%s %s%s%s', i % 99 + 1, (i / 99) % 10,
                 substr('ABDEFGHJLNPQRSTUWXYZ', (i / 990) % 20 + 1, 1),
                 substr('ABDEFGHJLNPQRSTUWXYZ', (i / 19800) % 20 + 1, 1)) AS postcode
FROM generate_series(0, :postcodes - 1) AS i;

INSERT INTO outreach.area_lookup_load (kind, loaded_by, staged_at) VALUES ('onspd', 'bench', now());
INSERT INTO outreach.postcode_geography (postcode, introduced, terminated, country, region, local_authority, ward,
                                         lsoa11, msoa11, lsoa21, msoa21, grid_quality, user_type, load_id)
SELECT postcode::outreach.uk_postcode,
       CASE WHEN i % 100 = 7 THEN date '2024-01-01' ELSE date '1980-01-01' END,
       CASE WHEN i % 50 = 3 THEN date '2022-06-01' END,
       'E92000001', 'E12000005', format('E0800%s', lpad((i % 300)::text, 4, '0')), format('E0500%s', lpad((i % 4000)::text, 4, '0')),
       format('E010%s', lpad((i % 33000)::text, 5, '0')), format('E0200%s', lpad((i % 7000)::text, 4, '0')),
       format('E011%s', lpad((i % 33500)::text, 5, '0')), format('E0201%s', lpad((i % 7200)::text, 4, '0')),
       1, 0, 1
FROM pc;
INSERT INTO outreach.polar4_area (geography, area_code, quintile, load_id)
SELECT 'ward', format('E0500%s', lpad(w::text, 4, '0')), 1 + w % 5, 1 FROM generate_series(0, 3999) AS w;
INSERT INTO outreach.tundra_area (geography, area_code, quintile, load_id)
SELECT 'msoa11', format('E0200%s', lpad(m::text, 4, '0')), 1 + (m * 7) % 5, 1 FROM generate_series(0, 6999) AS m
UNION ALL
SELECT 'lsoa11', format('E010%s', lpad(l::text, 5, '0')), 1 + (l * 3) % 5, 1 FROM generate_series(0, 32999) AS l;
INSERT INTO outreach.deprivation_area (deprivation_index, vintage, geography, area_code, decile, rank, load_id)
SELECT 'imd', '2019', 'lsoa11', format('E010%s', lpad(l::text, 5, '0')), 1 + l % 10, l + 1, 1 FROM generate_series(0, 32999) AS l
UNION ALL
SELECT 'imd', '2025', 'lsoa21', format('E011%s', lpad(l::text, 5, '0')), 1 + (l * 7) % 10, l + 1, 1 FROM generate_series(0, 33499) AS l;

INSERT INTO outreach.activity (controller_id, activity_id, activity_type, name, starts_on)
OVERRIDING SYSTEM VALUE
SELECT c, (c - 1) * 200 + k, t.code, format('Activity %s', k), date '2020-01-01' + k
FROM generate_series(1, :controllers) AS c, generate_series(1, 200) AS k,
     LATERAL (SELECT code FROM outreach.activity_type ORDER BY code OFFSET k % 15 LIMIT 1) AS t;

INSERT INTO outreach.participant (controller_id, participant_id, first_name, last_name, date_of_birth, postcode)
OVERRIDING SYSTEM VALUE
SELECT 1 + i % :controllers, i, 'F' || i, 'L' || (i % 50000), date '2004-01-01' + i % 2500,
       CASE WHEN h % 50 = 11 THEN 'CR2 6XH'
            ELSE format('B%s %s%s%s', j % 99 + 1, (j / 99) % 10,
                        substr('ABDEFGHJLNPQRSTUWXYZ', (j / 990) % 20 + 1, 1),
                        substr('ABDEFGHJLNPQRSTUWXYZ', (j / 19800) % 20 + 1, 1)) END::outreach.uk_postcode
FROM (SELECT i, h, (h % :postcodes)::int AS j
      FROM generate_series(1, :participants) AS i, LATERAL (SELECT abs(hashint8(i::bigint)::bigint) AS h) AS x) AS g
ORDER BY 1 + i % :controllers, i;

INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on)
SELECT p.controller_id, p.participant_id, (p.controller_id - 1) * 200 + 1 + (p.participant_id * j * 31) % 200,
       date '2021-09-01' + ((p.participant_id * 13 + j * 170) % 1400)::int
FROM outreach.participant p, generate_series(1, :per_participant) AS j
ORDER BY p.controller_id, p.participant_id;

RESET session_replication_role;
SELECT setval(pg_get_serial_sequence('outreach.participant', 'participant_id'), :participants);
VACUUM (FREEZE, ANALYZE) outreach.participant, outreach.activity, outreach.attendance, outreach.controller_role,
  outreach.postcode_geography, outreach.polar4_area, outreach.tundra_area, outreach.deprivation_area;
