-- Demo, part 1: the extension's core types on a small synthetic data set. Nothing here is
-- real personal data; the names are invented.
\pset footer off
\set ON_ERROR_STOP on
SET search_path = public, outreach;

CREATE SCHEMA demo;
-- Registrations as two members' systems typed them: the same pupils, spelled differently.
CREATE TABLE demo.registration (member text, first_name text, last_name text, date_of_birth date,
                                postcode text, nation text);
INSERT INTO demo.registration VALUES
  ('University of Northbridge', 'Zoë',      'O''Brien',  '2007-03-01', 'sw1a1aa',    'england'),
  ('Riverside College',         'ZOE',      'OBrien',    '2007-03-01', ' SW1A 1AA ', 'england'),
  ('University of Northbridge', 'Siân',     'Llewellyn', '2006-09-01', 'cf10 1aa',   'wales'),
  ('Riverside College',         'Sian',     'Llewellyn', '2006-09-01', 'CF101AA',    'wales'),
  ('University of Northbridge', 'Mary-Jane','Smith',     '2008-08-31', 'm1 1ae',     'england'),
  ('Highland Trust',            'Eilidh',   'MacLeod',   '2008-01-15', 'IV1 1AA',    'scotland'),
  ('Highland Trust',            'Ciarán',   'Ó Briain',  '2007-07-02', 'BT1 1AA',    'northern_ireland'),
  ('Riverside College',         '王',        '芳',         '2009-11-30', 'E1 6AN',     'england'),
  ('Riverside College',         'Tom',      'Jones',     '2007-05-05', 'QX1 1AA',    'england');

\echo
\echo '== 1. Postcodes: parsed, validated and put in canonical form =='
SELECT postcode AS as_typed,
       is_valid_postcode(postcode) AS valid,
       CASE WHEN is_valid_postcode(postcode) THEN postcode::uk_postcode::text END AS canonical,
       CASE WHEN is_valid_postcode(postcode) THEN postcode_area(postcode::uk_postcode) END AS area,
       CASE WHEN is_valid_postcode(postcode) THEN postcode_sector(postcode::uk_postcode) END AS sector
FROM demo.registration;

\echo '-- and an invalid one is refused with a reason (SQLSTATE 22P02):'
\set ON_ERROR_STOP off
SELECT 'QX1 1AA'::uk_postcode;
\set ON_ERROR_STOP on

\echo
\echo '== 2. Pseudonymised linkage IDs: the same pupil gets the same ID from every member =='
SELECT member, first_name, last_name, normalise_name(first_name) || ' ' || normalise_name(last_name) AS normalised,
       pseudonymise(first_name, last_name, date_of_birth, postcode) AS linkage_id
FROM demo.registration
WHERE is_valid_postcode(postcode)
ORDER BY linkage_id, member;

\echo '-- pupils registered by more than one member, found by linkage ID alone:'
SELECT pseudonymise(first_name, last_name, date_of_birth, postcode) AS linkage_id,
       string_agg(member, ' + ' ORDER BY member) AS registered_by
FROM demo.registration
WHERE is_valid_postcode(postcode)
GROUP BY 1 HAVING count(DISTINCT member) > 1;

\echo
\echo '== 3. Expected HE Entry Year from date of birth, by the nation''s school-year rules =='
SELECT DISTINCT first_name, date_of_birth, nation,
       expected_he_entry_year(date_of_birth, nation) AS entry_year,
       academic_year_label(expected_he_entry_year(date_of_birth, nation)) AS starts_in
FROM demo.registration
ORDER BY date_of_birth;
