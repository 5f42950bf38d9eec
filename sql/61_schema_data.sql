-- Functional tests of the schema, part 2: what a member's writer does with participants,
-- activities and attendance: defaults, the linkage pseudonym, postcodes, the entry-year
-- override, withdrawal and restriction, deletion. Identity values are never printed (they depend
-- on what ran before); rows are named by external_ref and activity name.
SET search_path = regress, outreach, public;

CREATE FUNCTION regress.codes(ids int[]) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(string_agg(code, ',' ORDER BY code), '-')
  FROM outreach.controller WHERE controller_id = ANY (ids)
$$;
-- Removes controllers with all their rows and roles (run as a superuser).
CREATE FUNCTION regress.drop_controllers(codes text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  ids int[] := ARRAY(SELECT controller_id FROM outreach.controller WHERE code = ANY (codes));
  roles text[] := ARRAY(SELECT role::text FROM outreach.controller_role WHERE controller_id = ANY (ids));
  r text;
BEGIN
  DELETE FROM outreach.attendance WHERE controller_id = ANY (ids);
  DELETE FROM outreach.activity WHERE controller_id = ANY (ids);
  DELETE FROM outreach.participant WHERE controller_id = ANY (ids);
  DELETE FROM outreach.deletion_notice WHERE controller_id = ANY (ids);
  DELETE FROM outreach.audit_log WHERE controller_id = ANY (ids);
  DELETE FROM outreach.controller WHERE controller_id = ANY (ids);
  FOREACH r IN ARRAY roles LOOP
    EXECUTE format('DROP ROLE %I', r);
  END LOOP;
END $$;
-- For each participant of the regress controllers: is linkage_id what pseudonymise() makes of
-- the row's own identifiers right now? (Needs a superuser: members cannot compute pseudonyms.)
CREATE VIEW regress.linkage AS
SELECT c.code, p.external_ref, p.linkage_id IS NOT NULL AS linked,
       p.linkage_id IS NOT DISTINCT FROM
         outreach.pseudonymise(p.first_name, p.last_name, p.date_of_birth, p.postcode::text) AS current
FROM outreach.participant p JOIN outreach.controller c USING (controller_id)
WHERE c.code IN ('regress_north', 'regress_south');

SELECT outreach.create_controller('regress_north', 'North University') AS north_id \gset
SELECT outreach.create_controller('regress_south', 'South College') AS south_id \gset
CREATE ROLE regress_north_writer;
CREATE ROLE regress_south_writer;
CREATE ROLE regress_north_reader;
CREATE ROLE regress_partner;      -- writes for both (a partnership)
CREATE ROLE regress_mixed;        -- writes for north, reads south
CREATE ROLE regress_nobody;       -- no controller, no privileges
CREATE ROLE regress_level_only;   -- the global reader and writer roles, but no controller
SELECT outreach.grant_controller_access('regress_north_writer', 'regress_north', 'writer'),
       outreach.grant_controller_access('regress_south_writer', 'regress_south', 'writer'),
       outreach.grant_controller_access('regress_north_reader', 'regress_north', 'reader'),
       outreach.grant_controller_access('regress_partner', 'regress_north', 'writer'),
       outreach.grant_controller_access('regress_partner', 'regress_south', 'writer'),
       outreach.grant_controller_access('regress_mixed', 'regress_north', 'writer'),
       outreach.grant_controller_access('regress_mixed', 'regress_south', 'reader');
GRANT outreach_reader, outreach_writer TO regress_level_only;

------------------------------------------------------------------------------------------------
-- A writer registers participants; controller_id defaults to its controller.
------------------------------------------------------------------------------------------------
SET ROLE regress_north_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
VALUES ('N1', 'Zoë', 'O''Brien', '2007-03-01', 'sw1a1aa'),
       ('N2', 'Amir', 'Khan', '2006-11-20', ' m1  1ae '),
       ('N3', 'Bea', 'Smith', NULL, 'LS1 1UR')
RETURNING external_ref, regress.codes(ARRAY[controller_id]) AS controller, first_name, postcode,
          linkage_id IS NOT NULL AS linked, created_at = updated_at AS fresh;
SELECT external_ref, first_name, last_name, date_of_birth, postcode, institution_id, he_entry_year_override,
       withdrawn_at, restricted_at
FROM outreach.participant_core ORDER BY external_ref;
SELECT external_ref, first_name FROM outreach.participant WHERE external_ref = 'N2';
-- Special-category data can be written (not read back) by a writer.
UPDATE outreach.participant SET ethnicity = 'Asian or Asian British', disability = 'None' WHERE external_ref = 'N2';
SELECT regress.try($$SELECT ethnicity FROM outreach.participant WHERE external_ref = 'N2'$$) AS read_back;
-- Corrections.
UPDATE outreach.participant SET first_name = 'Zoe', external_ref = 'N1a' WHERE external_ref = 'N1'
RETURNING external_ref, first_name, updated_at >= created_at AS updated;
UPDATE outreach.participant SET external_ref = 'N1' WHERE external_ref = 'N1a';
-- external_ref is unique per controller.
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, first_name) VALUES ('N2', 'Dup')$$) AS duplicate_ref;

------------------------------------------------------------------------------------------------
-- Activities: activity_type is a code of outreach.activity_type.
------------------------------------------------------------------------------------------------
SELECT count(*) > 10 AS many_types, bool_or(code = 'other') AS has_other,
       (SELECT label FROM outreach.activity_type WHERE code = 'other') AS other_label
FROM outreach.activity_type;
INSERT INTO outreach.activity (activity_type, name, starts_on, ends_on)
VALUES ('campus_visit', 'North open day', '2024-06-01', NULL),
       ('summer_school', 'North summer school', '2024-07-22', '2024-07-26'),
       ('other', 'North robotics club', '2024-09-01', NULL)
RETURNING regress.codes(ARRAY[controller_id]) AS controller, activity_type, name;
SELECT regress.try($$INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('juggling', 'x', '2024-01-01')$$) AS unknown_type,
       regress.try($$INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES (NULL, 'x', '2024-01-01')$$) AS no_type,
       regress.try($$INSERT INTO outreach.activity (activity_type, name, starts_on, ends_on) VALUES ('other', 'x', '2024-01-02', '2024-01-01')$$) AS ends_before_start;
UPDATE outreach.activity SET activity_type = 'mentoring', name = 'North robotics mentoring' WHERE name = 'North robotics club';
SELECT activity_type, name, starts_on, ends_on FROM outreach.activity ORDER BY name;

------------------------------------------------------------------------------------------------
-- Attendance.
------------------------------------------------------------------------------------------------
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, d
FROM outreach.participant_core p, outreach.activity a, LATERAL (VALUES (a.starts_on), (a.starts_on + 1)) AS days(d)
WHERE p.external_ref IN ('N1', 'N2') AND a.name IN ('North open day', 'North summer school');
UPDATE outreach.attendance SET attended_on = '2024-06-05'
WHERE attended_on = '2024-06-02'
  AND participant_id = (SELECT participant_id FROM outreach.participant_core WHERE external_ref = 'N2');
DELETE FROM outreach.attendance
WHERE attended_on = '2024-07-23'
  AND participant_id = (SELECT participant_id FROM outreach.participant_core WHERE external_ref = 'N1');
SELECT p.external_ref, a.name, att.attended_on, regress.codes(ARRAY[att.controller_id]) AS controller
FROM outreach.attendance att
JOIN outreach.participant_core p USING (controller_id, participant_id)
JOIN outreach.activity a USING (controller_id, activity_id)
ORDER BY 1, 2, 3;
-- The same attendance twice is a duplicate; an unknown participant or activity is 23503.
SELECT regress.try($$INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
                     SELECT participant_id, activity_id, attended_on FROM outreach.attendance LIMIT 1$$) AS duplicate,
       regress.try($$INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
                     SELECT -1, activity_id, '2024-06-01' FROM outreach.activity LIMIT 1$$) AS no_such_participant,
       regress.try($$INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
                     SELECT participant_id, -1, '2024-06-01' FROM outreach.participant_core LIMIT 1$$) AS no_such_activity;
RESET ROLE;

-- South registers its people, some of them the same people typed differently.
SET ROLE regress_south_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
VALUES ('S1', ' ZOE ', 'obrien', '2007-03-01', 'SW1A 1AA'),
       ('S2', 'AMIR', 'KHAN', '2006-11-20', 'M11AE'),
       ('S3', 'Cai', 'Jones', '2007-12-24', 'CF10 1AA');
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('taster_session', 'South chemistry taster', '2024-10-10');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, a.starts_on FROM outreach.participant_core p, outreach.activity a;
-- Each writer sees its own rows only.
SELECT regress.codes(array_agg(DISTINCT controller_id)) AS controllers, count(*) AS participants FROM outreach.participant_core;
RESET ROLE;
SET ROLE regress_north_writer;
SELECT regress.codes(array_agg(DISTINCT controller_id)) AS controllers, count(*) AS participants FROM outreach.participant_core;
SELECT (SELECT count(*) FROM outreach.activity) AS activities, (SELECT count(*) FROM outreach.attendance) AS attendances;
RESET ROLE;

------------------------------------------------------------------------------------------------
-- A partnership login writes for two controllers: without controller_id it is told to give one
-- (23502), with it, it writes for both.
------------------------------------------------------------------------------------------------
SET ROLE regress_partner;
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, first_name) VALUES ('P1', 'Pat')$$) AS participant_without_controller,
       regress.try($$INSERT INTO outreach.activity (activity_type, starts_on) VALUES ('other', '2024-01-01')$$) AS activity_without_controller;
SELECT regress.try($$INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
                     SELECT participant_id, activity_id, '2024-01-01' FROM outreach.attendance LIMIT 1$$) AS attendance_without_controller;
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode)
VALUES (:north_id, 'NP1', 'Pat', 'Lee', '2008-02-02', 'B1 1AA'), (:south_id, 'SP1', 'Pat', 'Lee', '2008-02-02', 'B1 1AA');
INSERT INTO outreach.activity (controller_id, activity_type, name, starts_on)
VALUES (:north_id, 'workshop', 'North partner workshop', '2024-11-01'), (:south_id, 'workshop', 'South partner workshop', '2024-11-02');
INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on)
SELECT p.controller_id, p.participant_id, a.activity_id, a.starts_on
FROM outreach.participant_core p JOIN outreach.activity a USING (controller_id)
WHERE p.external_ref IN ('NP1', 'SP1') AND a.name LIKE '% partner workshop';
SELECT regress.codes(ARRAY[p.controller_id]) AS controller, p.external_ref, a.name, att.attended_on
FROM outreach.attendance att
JOIN outreach.participant_core p USING (controller_id, participant_id)
JOIN outreach.activity a USING (controller_id, activity_id)
WHERE p.external_ref IN ('NP1', 'SP1') ORDER BY 1, 2;
SELECT regress.codes(ARRAY[controller_id]) AS controller, count(*) AS participants
FROM outreach.participant_core GROUP BY controller_id ORDER BY 1;
RESET ROLE;

-- Access levels are per controller: writing for north and reading south does not make the
-- login a writer for south, and its default is north (the one controller it writes for).
SET ROLE regress_mixed;
SELECT regress.codes(outreach.my_controller_ids('writer')) AS writes_for, regress.codes(outreach.my_controller_ids('reader')) AS reads,
       regress.codes(outreach.my_controller_ids('dpo')) AS dpo_for;
INSERT INTO outreach.participant (external_ref, first_name) VALUES ('NM1', 'Mo')
RETURNING regress.codes(ARRAY[controller_id]) AS controller, external_ref;
SELECT regress.try(format('INSERT INTO outreach.participant (controller_id, external_ref, first_name) VALUES (%s, %L, %L)',
                          :south_id, 'SM1', 'Mo')) AS insert_for_south;
WITH u AS (UPDATE outreach.participant SET first_name = 'Changed' WHERE controller_id = :south_id RETURNING 1)
SELECT count(*) AS south_rows_updated FROM u;
WITH d AS (DELETE FROM outreach.participant WHERE controller_id = :south_id RETURNING 1)
SELECT count(*) AS south_rows_deleted FROM d;
SELECT regress.codes(ARRAY[controller_id]) AS controller, count(*) AS participants
FROM outreach.participant_core GROUP BY controller_id ORDER BY 1;
RESET ROLE;

-- A reader reads and does not write.
SET ROLE regress_north_reader;
SELECT count(*) AS north_participants FROM outreach.participant_core;
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, first_name) VALUES ('NR1', 'Rey')$$) AS reader_insert,
       regress.try($$UPDATE outreach.participant SET first_name = 'Rey'$$) AS reader_update,
       regress.try($$DELETE FROM outreach.activity$$) AS reader_delete;
RESET ROLE;

-- Roles with no controller: 42501 whatever they try.
SET ROLE regress_nobody;
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, first_name) VALUES ('X1', 'Nob')$$) AS no_privilege_insert,
       regress.try($$SELECT count(*)::text FROM outreach.participant_core$$) AS no_privilege_select;
SET ROLE regress_level_only;
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, first_name) VALUES ('X1', 'Nob')$$) AS no_controller_insert,
       regress.try($$INSERT INTO outreach.activity (activity_type, starts_on) VALUES ('other', '2024-01-01')$$) AS no_controller_activity;
SELECT regress.try(format('INSERT INTO outreach.participant (controller_id, external_ref, first_name) VALUES (%s, %L, %L)',
                          :north_id, 'X1', 'Nob')) AS no_controller_explicit,
       regress.try($$SELECT count(*)::text FROM outreach.participant_core$$) AS no_controller_sees;
RESET ROLE;

------------------------------------------------------------------------------------------------
-- linkage_id: computed on insert, the same for the same person however typed, NULL while an
-- identifier is missing, recomputed when one changes.
------------------------------------------------------------------------------------------------
SELECT * FROM regress.linkage ORDER BY code, external_ref;
SELECT n.linkage_id = s.linkage_id AS n1_is_s1,
       n.linkage_id = outreach.pseudonymise('Zoë', 'O''Brien', '2007-03-01', 'SW1A 1AA') AS is_the_pseudonym
FROM outreach.participant n, outreach.participant s
WHERE n.controller_id = :north_id AND n.external_ref = 'N1' AND s.controller_id = :south_id AND s.external_ref = 'S1';
SELECT (SELECT linkage_id FROM outreach.participant WHERE controller_id = :north_id AND external_ref = 'N2')
     = (SELECT linkage_id FROM outreach.participant WHERE controller_id = :south_id AND external_ref = 'S2') AS n2_is_s2,
       (SELECT linkage_id FROM outreach.participant WHERE controller_id = :north_id AND external_ref = 'N2')
     = (SELECT linkage_id FROM outreach.participant WHERE controller_id = :north_id AND external_ref = 'N1') AS n2_is_n1;

-- The current linkage ids of N1 and N2, remembered (never printed) to compare after changes.
CREATE TABLE regress.linkage_before AS
SELECT external_ref, linkage_id FROM outreach.participant WHERE controller_id = :north_id;
CREATE VIEW regress.linkage_changed AS
SELECT p.external_ref, p.linkage_id IS DISTINCT FROM b.linkage_id AS changed
FROM outreach.participant p JOIN regress.linkage_before b USING (external_ref)
WHERE p.controller_id = (SELECT controller_id FROM outreach.controller WHERE code = 'regress_north')
  AND p.external_ref IN ('N1', 'N2', 'N3');

SET ROLE regress_north_writer;
UPDATE outreach.participant SET first_name = 'Zoey' WHERE external_ref = 'N1';
UPDATE outreach.participant SET external_ref = 'N2', institution_id = NULL, disability = 'Dyslexia' WHERE external_ref = 'N2';
RESET ROLE;
SELECT * FROM regress.linkage_changed ORDER BY 1;
SELECT linked, current FROM regress.linkage WHERE code = 'regress_north' AND external_ref = 'N1';
SET ROLE regress_north_writer;
UPDATE outreach.participant SET first_name = 'ZOË' WHERE external_ref = 'N1';   -- back to the same person
RESET ROLE;
SELECT * FROM regress.linkage_changed ORDER BY 1;
SET ROLE regress_north_writer;
UPDATE outreach.participant SET date_of_birth = '2007-03-02' WHERE external_ref = 'N1';
RESET ROLE;
SELECT * FROM regress.linkage_changed WHERE external_ref = 'N1';
SET ROLE regress_north_writer;
UPDATE outreach.participant SET date_of_birth = '2007-03-01', postcode = 'SW1A 2AA' WHERE external_ref = 'N1';
RESET ROLE;
SELECT * FROM regress.linkage_changed WHERE external_ref = 'N1';
SET ROLE regress_north_writer;
UPDATE outreach.participant SET postcode = 'SW1A 1AA', last_name = 'OBrien' WHERE external_ref = 'N1';
RESET ROLE;
SELECT * FROM regress.linkage_changed WHERE external_ref = 'N1';
-- N3 has no date of birth: no linkage id until it has one; it goes again with the postcode.
SET ROLE regress_north_writer;
UPDATE outreach.participant SET date_of_birth = '2008-05-05' WHERE external_ref = 'N3';
RESET ROLE;
SELECT linked, current FROM regress.linkage WHERE code = 'regress_north' AND external_ref = 'N3';
SET ROLE regress_north_writer;
UPDATE outreach.participant SET postcode = NULL WHERE external_ref = 'N3';
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
VALUES ('N4', '--', 'Smith', '2008-01-01', 'M1 1AE'),      -- a name that normalises to nothing
       ('N5', 'Kim', NULL, '2008-01-01', 'M1 1AE');
RESET ROLE;
SELECT external_ref, linked, current FROM regress.linkage WHERE code = 'regress_north' AND external_ref IN ('N3', 'N4', 'N5') ORDER BY 1;

-- linkage_id cannot be forged. Members have no privilege on the column (42501)...
SET ROLE regress_north_writer;
SELECT regress.try($$UPDATE outreach.participant SET linkage_id = (SELECT linkage_id FROM outreach.participant_core WHERE external_ref = 'N2')
                     WHERE external_ref = 'N1'$$) AS member_update,
       regress.try($$INSERT INTO outreach.participant (external_ref, first_name, linkage_id)
                     SELECT 'N6', 'Forger', linkage_id FROM outreach.participant_core WHERE external_ref = 'N2'$$) AS member_insert;
RESET ROLE;
-- ... and a value given by the tables' owner is replaced by the recomputed one.
UPDATE outreach.participant SET linkage_id = (SELECT linkage_id FROM outreach.participant WHERE controller_id = :north_id AND external_ref = 'N2')
WHERE controller_id = :north_id AND external_ref = 'N1';
INSERT INTO outreach.participant (controller_id, external_ref, first_name, last_name, date_of_birth, postcode, linkage_id)
SELECT :north_id, 'N6', 'Forged', 'Row', '2008-01-01', 'M1 1AE', linkage_id
FROM outreach.participant WHERE controller_id = :north_id AND external_ref = 'N2';
INSERT INTO outreach.participant (controller_id, external_ref, first_name, linkage_id)
SELECT :north_id, 'N7', 'Nameonly', linkage_id FROM outreach.participant WHERE controller_id = :north_id AND external_ref = 'N2';
SELECT external_ref, linked, current FROM regress.linkage WHERE code = 'regress_north' AND external_ref IN ('N1', 'N6', 'N7') ORDER BY 1;
-- Only N2 and S2 (the same person) carry N2's linkage id.
SELECT count(*) AS rows_with_n2_linkage FROM outreach.participant
WHERE linkage_id = (SELECT linkage_id FROM outreach.participant WHERE controller_id = :north_id AND external_ref = 'N2');
DELETE FROM outreach.participant WHERE controller_id = :north_id AND external_ref IN ('N6', 'N7');

------------------------------------------------------------------------------------------------
-- postcode is a uk_postcode: an invalid one is 22P02 and nothing is inserted, also when only one
-- row of many is bad (checked while parsing VALUES, and while casting rows at execution).
------------------------------------------------------------------------------------------------
SET ROLE regress_north_writer;
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, first_name, postcode) VALUES ('N8', 'Bad', 'QQ1 1QQ')$$) AS bad_postcode;
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, first_name, postcode)
                     VALUES ('N8', 'Good', 'M1 1AE'), ('N9', 'Bad', 'not a postcode'), ('N10', 'Good', 'LS1 1UR')$$) AS multi_row_values;
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, first_name, postcode)
                     SELECT ref, 'Row', pc FROM (VALUES ('N8', 'M1 1AE'), ('N9', 'LS1 1UR'), ('N10', 'GX11 1AA')) AS v(ref, pc)$$) AS multi_row_select;
SELECT regress.try($$UPDATE outreach.participant SET postcode = 'ZZ99 9ZZ' WHERE external_ref = 'N2'$$) AS bad_update;
SELECT count(*) FILTER (WHERE external_ref IN ('N8', 'N9', 'N10')) AS inserted, max(postcode::text) FILTER (WHERE external_ref = 'N2') AS n2_postcode
FROM outreach.participant_core;
-- Valid postcodes in any spelling are stored in canonical form.
SELECT external_ref, postcode FROM outreach.participant_core WHERE postcode IS NOT NULL ORDER BY 1;

------------------------------------------------------------------------------------------------
-- The Expected HE Entry Year override needs a reason (23514) and lies in 1950..2100.
------------------------------------------------------------------------------------------------
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, first_name, he_entry_year_override) VALUES ('N8', 'Ola', 2026)$$) AS no_reason,
       regress.try($$INSERT INTO outreach.participant (external_ref, first_name, he_entry_year_override, he_entry_year_override_reason)
                     VALUES ('N8', 'Ola', 2026, '   ')$$) AS blank_reason;
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, first_name, he_entry_year_override, he_entry_year_override_reason)
                     VALUES ('N8', 'Ola', 1949, 'mature student')$$) AS too_early,
       regress.try($$INSERT INTO outreach.participant (external_ref, first_name, he_entry_year_override, he_entry_year_override_reason)
                     VALUES ('N8', 'Ola', 2101, 'mature student')$$) AS too_late;
INSERT INTO outreach.participant (external_ref, first_name, he_entry_year_override, he_entry_year_override_reason)
VALUES ('N8', 'Ola', 1950, 'mature student'), ('N9', 'Uma', 2100, 'deferred entry');
UPDATE outreach.participant SET he_entry_year_override = 2027, he_entry_year_override_reason = 'returning to education'
WHERE external_ref = 'N2';
SELECT regress.try($$UPDATE outreach.participant SET he_entry_year_override_reason = NULL WHERE external_ref = 'N2'$$) AS drop_reason,
       regress.try($$UPDATE outreach.participant SET he_entry_year_override_reason = '' WHERE external_ref = 'N2'$$) AS empty_reason;
SELECT external_ref, he_entry_year_override, he_entry_year_override_reason
FROM outreach.participant_core WHERE he_entry_year_override IS NOT NULL ORDER BY 1;
-- Removing the override removes the need for a reason.
UPDATE outreach.participant SET he_entry_year_override = NULL, he_entry_year_override_reason = NULL WHERE external_ref = 'N9';
SELECT external_ref, he_entry_year_override, he_entry_year_override_reason FROM outreach.participant_core WHERE external_ref = 'N9';

------------------------------------------------------------------------------------------------
-- Withdrawal and restriction are recorded by the writer; only the DPO lifts them (42501 for
-- the writer, whether clearing or moving the time).
------------------------------------------------------------------------------------------------
UPDATE outreach.participant SET withdrawn_at = now() WHERE external_ref = 'N8';
UPDATE outreach.participant SET restricted_at = now() WHERE external_ref = 'N9';
SELECT external_ref, withdrawn_at IS NOT NULL AS withdrawn, restricted_at IS NOT NULL AS restricted
FROM outreach.participant_core WHERE external_ref IN ('N2', 'N8', 'N9') ORDER BY 1;
UPDATE outreach.participant SET restricted_at = NULL WHERE external_ref = 'N9';
UPDATE outreach.participant SET withdrawn_at = now() - interval '1 day' WHERE external_ref = 'N8';
UPDATE outreach.participant SET first_name = first_name, withdrawn_at = withdrawn_at WHERE external_ref = 'N8';  -- unchanged: allowed
RESET ROLE;
CREATE ROLE regress_north_dpo;
SELECT outreach.grant_controller_access('regress_north_dpo', 'regress_north', 'dpo') IS NOT NULL AS dpo_granted;
SET ROLE regress_north_dpo;
SELECT outreach.lift_restriction(:north_id, ARRAY(SELECT participant_id FROM outreach.participant WHERE external_ref = 'N9'),
                                 'the accuracy dispute is settled') AS lifted;
RESET ROLE;
SET ROLE regress_north_writer;
SELECT external_ref, withdrawn_at IS NOT NULL AS withdrawn, restricted_at IS NOT NULL AS restricted
FROM outreach.participant_core WHERE external_ref IN ('N8', 'N9') ORDER BY 1;

------------------------------------------------------------------------------------------------
-- Deleting a participant deletes its attendance; an activity with attendance cannot be deleted
-- (23503) until its attendance is.
------------------------------------------------------------------------------------------------
SELECT p.external_ref, count(*) AS attendances
FROM outreach.attendance JOIN outreach.participant_core p USING (controller_id, participant_id)
GROUP BY 1 ORDER BY 1;
DELETE FROM outreach.participant WHERE external_ref = 'N1';
SELECT p.external_ref, count(*) AS attendances
FROM outreach.attendance JOIN outreach.participant_core p USING (controller_id, participant_id)
GROUP BY 1 ORDER BY 1;
SELECT count(*) AS orphans FROM outreach.attendance a
WHERE NOT EXISTS (SELECT 1 FROM outreach.participant_core p WHERE p.participant_id = a.participant_id);
SELECT regress.try($$DELETE FROM outreach.activity WHERE name = 'North open day'$$) AS activity_in_use;
DELETE FROM outreach.attendance WHERE activity_id = (SELECT activity_id FROM outreach.activity WHERE name = 'North open day');
DELETE FROM outreach.activity WHERE name = 'North open day';
SELECT name FROM outreach.activity ORDER BY 1;
RESET ROLE;
-- South's rows were not touched.
SELECT c.code, (SELECT count(*) FROM outreach.participant p WHERE p.controller_id = c.controller_id) AS participants,
       (SELECT count(*) FROM outreach.attendance a WHERE a.controller_id = c.controller_id) AS attendances
FROM outreach.controller c WHERE c.code IN ('regress_north', 'regress_south') ORDER BY 1;

------------------------------------------------------------------------------------------------
-- Clean up.
------------------------------------------------------------------------------------------------
DROP VIEW regress.linkage_changed, regress.linkage;
DROP TABLE regress.linkage_before;
SELECT regress.drop_controllers(ARRAY['regress_north', 'regress_south']);
DROP ROLE regress_north_writer, regress_south_writer, regress_north_reader, regress_north_dpo, regress_partner, regress_mixed,
          regress_nobody, regress_level_only;
DROP FUNCTION regress.codes(int[]), regress.drop_controllers(text[]);
SELECT count(*) AS roles_left FROM pg_roles WHERE rolname ~ '^(outreach_)?regress_(north|south|partner|mixed|nobody|level_only)';
