-- Functional tests of the schema, part 3: what each level reads. Cross-member engagement
-- (outreach.shared_engagement) over three members with overlapping people; readers, DPOs,
-- analysts and the processor; special-category data through read_special_category().
SET search_path = regress, outreach, public;

CREATE FUNCTION regress.codes(ids int[]) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(string_agg(code, ',' ORDER BY code), '-')
  FROM outreach.controller WHERE controller_id = ANY (ids)
$$;
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

SELECT outreach.create_controller('regress_north', 'North University') AS north_id \gset
SELECT outreach.create_controller('regress_south', 'South College') AS south_id \gset
SELECT outreach.create_controller('regress_east', 'East Outreach Trust') AS east_id \gset
CREATE ROLE regress_north_writer;
CREATE ROLE regress_south_writer;
CREATE ROLE regress_east_writer;
CREATE ROLE regress_north_reader;
CREATE ROLE regress_south_reader;
CREATE ROLE regress_east_reader;
CREATE ROLE regress_north_dpo;
CREATE ROLE regress_north_analyst;
CREATE ROLE regress_processor;
SELECT outreach.grant_controller_access('regress_north_writer', 'regress_north', 'writer'),
       outreach.grant_controller_access('regress_south_writer', 'regress_south', 'writer'),
       outreach.grant_controller_access('regress_east_writer', 'regress_east', 'writer'),
       outreach.grant_controller_access('regress_north_reader', 'regress_north', 'reader'),
       outreach.grant_controller_access('regress_south_reader', 'regress_south', 'reader'),
       outreach.grant_controller_access('regress_east_reader', 'regress_east', 'reader'),
       outreach.grant_controller_access('regress_north_dpo', 'regress_north', 'dpo'),
       outreach.grant_controller_access('regress_north_analyst', 'regress_north', 'analyst');
GRANT outreach_processor TO regress_processor;

------------------------------------------------------------------------------------------------
-- Three members register overlapping people, each typing them its own way.
--   Ann  north, south, east          Ben  north, south          Cara north only
--   Dev  south, east (withdrawn at east)                          Eve  north (restricted), south
--   Finn north, south, no date of birth (no linkage id)          Gus  north, east (no attendance at east)
------------------------------------------------------------------------------------------------
SET ROLE regress_north_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, sex, ethnicity, religion)
VALUES ('N-ANN', 'Ann', 'Smith', '2007-01-10', 'M1 1AE', 'F', 'White British', NULL),
       ('N-BEN', 'Ben', 'Jones', '2006-05-05', 'LS1 1UR', 'M', 'Black Caribbean', 'Christian'),
       ('N-CARA', 'Cara', 'Patel', '2007-09-09', 'B1 1AA', 'F', 'Indian', 'Hindu'),
       ('N-EVE', 'Eve', 'Brown', '2007-07-07', 'EH1 1YZ', NULL, NULL, NULL),
       ('N-FINN', 'Finn', 'Kelly', NULL, 'BT1 1AA', 'M', NULL, NULL),
       ('N-GUS', 'Gus', 'Lee', '2006-06-06', 'BT1 1AA', NULL, NULL, NULL);
UPDATE outreach.participant SET restricted_at = now() WHERE external_ref = 'N-EVE';
INSERT INTO outreach.activity (activity_type, name, starts_on)
VALUES ('campus_visit', 'N campus', '2024-03-01'), ('summer_school', 'N summer', '2024-07-20');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, a.starts_on
FROM outreach.participant_core p JOIN outreach.activity a ON (p.external_ref, a.name) IN
  (('N-ANN', 'N campus'), ('N-ANN', 'N summer'), ('N-BEN', 'N campus'), ('N-CARA', 'N summer'),
   ('N-EVE', 'N campus'), ('N-FINN', 'N campus'), ('N-GUS', 'N summer'));
SET ROLE regress_south_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, sex)
VALUES ('S-ANN', 'ANN', 'SMITH', '2007-01-10', 'm1 1ae', 'F'),
       ('S-BEN', 'Benjamin', 'Jones', '2006-05-05', 'LS1 1UR', 'M'),   -- not the same spelling: not Ben
       ('S-BEN2', 'ben', 'jones', '2006-05-05', 'ls11ur', 'M'),
       ('S-DEV', 'Dev', 'Shah', '2008-02-02', 'CF10 1AA', 'M'),
       ('S-EVE', 'Eve', 'Brown', '2007-07-07', 'EH1 1YZ', 'F'),
       ('S-FINN', 'Finn', 'Kelly', NULL, 'BT1 1AA', 'M');
INSERT INTO outreach.activity (activity_type, name, starts_on)
VALUES ('taster_session', 'S taster', '2024-04-15'), ('mentoring', 'S mentoring', '2024-05-01');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, a.starts_on
FROM outreach.participant_core p JOIN outreach.activity a ON (p.external_ref, a.name) IN
  (('S-ANN', 'S taster'), ('S-ANN', 'S mentoring'), ('S-BEN', 'S taster'), ('S-BEN2', 'S taster'),
   ('S-DEV', 'S mentoring'), ('S-EVE', 'S taster'), ('S-FINN', 'S taster'));
SET ROLE regress_east_writer;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
VALUES ('E-ANN', 'ann', 'smith', '2007-01-10', 'M11AE'),
       ('E-DEV', 'DEV', 'SHAH', '2008-02-02', 'cf101aa'),
       ('E-GUS', 'Gus', 'Lee', '2006-06-06', 'BT1 1AA');
UPDATE outreach.participant SET withdrawn_at = now() WHERE external_ref = 'E-DEV';
INSERT INTO outreach.activity (activity_type, name, starts_on)
VALUES ('workshop', 'E workshop', '2024-06-10'), ('other', 'E other', '2024-06-20');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, a.starts_on
FROM outreach.participant_core p JOIN outreach.activity a ON (p.external_ref, a.name) IN
  (('E-ANN', 'E workshop'), ('E-DEV', 'E other'));
RESET ROLE;

------------------------------------------------------------------------------------------------
-- shared_engagement: for the caller's own participants, the other members' activities the same
-- person attended: the member, the activity type and the date, and nothing more.
------------------------------------------------------------------------------------------------
SELECT attname, format_type(atttypid, atttypmod) AS type
FROM pg_attribute WHERE attrelid = 'outreach.shared_engagement'::regclass AND attnum > 0 ORDER BY attnum;

CREATE VIEW regress.engagement AS
SELECT regress.codes(ARRAY[s.controller_id]) AS mine, p.external_ref, s.other_controller_code, s.other_controller_name,
       regress.codes(ARRAY[s.other_controller_id]) = s.other_controller_code AS id_matches_code,
       s.activity_type, s.attended_on
FROM outreach.shared_engagement s
JOIN outreach.participant_core p ON p.controller_id = s.controller_id AND p.participant_id = s.participant_id;
GRANT SELECT ON regress.engagement TO PUBLIC;
ALTER VIEW regress.engagement SET (security_invoker = true);

-- North: Ann (south twice, east once) and Ben (south's "ben jones", not "Benjamin Jones").
-- Cara has no one to match; Eve is restricted here; Finn has no linkage id; east's Gus attended nothing.
SET ROLE regress_north_reader;
SELECT * FROM regress.engagement ORDER BY 1, 2, 7, 3;
-- South: Ann (north twice, east once) and Ben2 (north once). Dev's east row is withdrawn and
-- Eve's north row restricted, so neither is shared; Finn has no linkage id.
SET ROLE regress_south_reader;
SELECT * FROM regress.engagement ORDER BY 1, 2, 7, 3;
-- East: Ann (north twice, south twice), Gus (north once); Dev is withdrawn here.
SET ROLE regress_east_reader;
SELECT * FROM regress.engagement ORDER BY 1, 2, 7, 3;
RESET ROLE;
-- The processor reads every member's view at once; writers and DPOs read their member's.
SET ROLE regress_processor;
SELECT mine, count(*) AS shared_rows, count(DISTINCT external_ref) AS people FROM regress.engagement
WHERE mine IN ('regress_north', 'regress_south', 'regress_east') GROUP BY 1 ORDER BY 1;
SET ROLE regress_north_writer;
SELECT mine, count(*) AS shared_rows FROM regress.engagement GROUP BY 1 ORDER BY 1;
SET ROLE regress_north_dpo;
SELECT mine, count(*) AS shared_rows FROM regress.engagement GROUP BY 1 ORDER BY 1;
RESET ROLE;
-- Participants without a linkage id are never matched, not even with each other.
SELECT p.external_ref, p.linkage_id IS NULL AS no_linkage_id,
       (SELECT count(*) FROM outreach.shared_engagement s
        WHERE s.controller_id = p.controller_id AND s.participant_id = p.participant_id) AS as_superuser_shared
FROM outreach.participant p WHERE p.external_ref IN ('N-FINN', 'S-FINN') ORDER BY 1;

-- Withdrawal takes effect at once, both ways, and the DPO's reinstatement brings the rows back
-- (a writer cannot reinstate).
SET ROLE regress_north_writer;
UPDATE outreach.participant SET withdrawn_at = now() WHERE external_ref = 'N-BEN';
SET ROLE regress_north_reader;
SELECT external_ref, count(*) AS shared_rows FROM regress.engagement GROUP BY 1 ORDER BY 1;
SET ROLE regress_south_reader;
SELECT external_ref, count(*) AS shared_rows FROM regress.engagement GROUP BY 1 ORDER BY 1;
SET ROLE regress_north_writer;
SELECT regress.try($$UPDATE outreach.participant SET withdrawn_at = NULL WHERE external_ref = 'N-BEN'$$) AS writer_reinstates;
SET ROLE regress_north_dpo;
SELECT outreach.reinstate_participant(:north_id, ARRAY(SELECT participant_id FROM outreach.participant_core
                                                       WHERE external_ref = 'N-BEN'), 'permission given again') AS reinstated;
SET ROLE regress_south_reader;
SELECT external_ref, count(*) AS shared_rows FROM regress.engagement GROUP BY 1 ORDER BY 1;
-- A correction that makes two rows the same person shares them from then on.
SET ROLE regress_south_writer;
UPDATE outreach.participant SET first_name = 'Ben' WHERE external_ref = 'S-BEN';
SET ROLE regress_north_reader;
SELECT external_ref, other_controller_code, activity_type, count(*) AS shared_rows
FROM regress.engagement WHERE external_ref = 'N-BEN' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
RESET ROLE;
-- A first attendance shares a person from then on, and removing the last one stops it: east's
-- Gus attended nothing, so north saw nothing of east for its Gus.
SET ROLE regress_east_writer;
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-06-11' FROM outreach.participant_core p, outreach.activity a
WHERE p.external_ref = 'E-GUS' AND a.name = 'E workshop';
SET ROLE regress_north_reader;
SELECT external_ref, other_controller_code, activity_type, attended_on FROM regress.engagement WHERE external_ref = 'N-GUS';
SET ROLE regress_east_writer;
DELETE FROM outreach.attendance WHERE participant_id = (SELECT participant_id FROM outreach.participant_core WHERE external_ref = 'E-GUS');
SET ROLE regress_north_reader;
SELECT count(*) AS n_gus_shared_rows FROM regress.engagement WHERE external_ref = 'N-GUS';
RESET ROLE;
-- outreach.shareable_participant (what shared_engagement reads of other members) holds exactly
-- the participants with a linkage id, not withdrawn, not restricted, with an attendance, after
-- all of the above (insertions, corrections, withdrawal and its lifting, an attendance removed)
-- and the deletion of a shared person.
DELETE FROM outreach.participant WHERE external_ref = 'S-BEN2';
CREATE TEMP VIEW shareable_rule AS
SELECT p.controller_id, p.participant_id, p.linkage_id::text AS linkage_id FROM outreach.participant p
WHERE p.linkage_id IS NOT NULL AND p.withdrawn_at IS NULL AND p.restricted_at IS NULL
  AND EXISTS (SELECT FROM outreach.attendance a WHERE a.controller_id = p.controller_id AND a.participant_id = p.participant_id);
SELECT (SELECT count(*) FROM shareable_rule WHERE controller_id IN (:north_id, :south_id, :east_id)) AS shareable,
       (SELECT count(*) FROM (SELECT controller_id, participant_id, linkage_id::text FROM outreach.shareable_participant
                              EXCEPT SELECT * FROM shareable_rule) extra) AS extra_rows,
       (SELECT count(*) FROM (SELECT * FROM shareable_rule
                              EXCEPT SELECT controller_id, participant_id, linkage_id::text FROM outreach.shareable_participant) missing) AS missing_rows;
DROP VIEW shareable_rule;

------------------------------------------------------------------------------------------------
-- Readers: everything but special-category data.
------------------------------------------------------------------------------------------------
SET ROLE regress_north_reader;
SELECT external_ref, first_name, last_name, date_of_birth, postcode, linkage_id IS NOT NULL AS linked,
       restricted_at IS NOT NULL AS restricted
FROM outreach.participant_core ORDER BY external_ref;
SELECT count(*) AS plain_columns FROM outreach.participant WHERE first_name IS NOT NULL;
SELECT regress.try($$SELECT sex FROM outreach.participant LIMIT 1$$) AS sex,
       regress.try($$SELECT count(ethnicity)::text FROM outreach.participant$$) AS ethnicity,
       regress.try($$SELECT count(*)::text FROM outreach.participant WHERE religion IS NOT NULL$$) AS in_where,
       regress.try($$SELECT count(*)::text FROM outreach.participant p$$) AS count_star;
SELECT regress.try($$SELECT external_ref FROM outreach.participant p ORDER BY p$$) AS whole_row,
       regress.try($$SELECT 'x' FROM (SELECT * FROM outreach.participant) s LIMIT 1$$) AS select_star;
SELECT regexp_replace(regress.try(format('SELECT count(*)::text FROM outreach.read_special_category(%s)', :north_id)),
                      'controller \d+', 'controller <north>') AS read_special;
SELECT (SELECT count(*) FROM outreach.activity) AS activities, (SELECT count(*) FROM outreach.attendance) AS attendances;
RESET ROLE;

------------------------------------------------------------------------------------------------
-- The DPO reads special-category data of its own member, directly and through
-- read_special_category(), which records every read in the audit log.
------------------------------------------------------------------------------------------------
SET ROLE regress_north_dpo;
SELECT external_ref, sex, gender_identity, ethnicity, disability, religion FROM outreach.participant ORDER BY external_ref;
SELECT p.external_ref, r.sex, r.ethnicity, r.religion
FROM outreach.read_special_category(:north_id, ARRAY(SELECT participant_id FROM outreach.participant_core
                                                     WHERE external_ref IN ('N-ANN', 'N-BEN'))) AS r
JOIN outreach.participant_core p ON p.controller_id = :north_id AND p.participant_id = r.participant_id
ORDER BY 1;
SELECT count(*) AS all_rows, count(sex) AS with_sex FROM outreach.read_special_category(:north_id);
SELECT count(*) AS none_asked FROM outreach.read_special_category(:north_id, '{}');
SELECT regexp_replace(regress.try(format('SELECT count(*)::text FROM outreach.read_special_category(%s)', :south_id)),
                      'controller \d+', 'controller <south>') AS other_member,
       regress.try('SELECT count(*)::text FROM outreach.read_special_category(-1)') AS unknown_member;
-- The audit log: one read_special row per participant returned, for this member, by this role.
SELECT action, relation, acting_role, session_role = session_user AS session_role_ok, columns, count(*) AS rows
FROM outreach.audit_log WHERE action = 'read_special' GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3;
SELECT p.external_ref, count(*) AS reads
FROM outreach.audit_log a
JOIN outreach.participant_core p ON p.controller_id = a.controller_id AND p.participant_id = (a.record->>'participant_id')::bigint
WHERE a.action = 'read_special' GROUP BY 1 ORDER BY 1;
RESET ROLE;
SELECT regress.codes(array_agg(DISTINCT controller_id)) AS audited_member FROM outreach.audit_log WHERE action = 'read_special';

------------------------------------------------------------------------------------------------
-- Analysts read no participant rows at all (aggregates only, through views still to come).
------------------------------------------------------------------------------------------------
SET ROLE regress_north_analyst;
SELECT regress.try($$SELECT count(*)::text FROM outreach.participant$$) AS participant,
       regress.try($$SELECT count(*)::text FROM outreach.participant_core$$) AS participant_core,
       regress.try($$SELECT count(*)::text FROM outreach.shared_engagement$$) AS shared_engagement;
SELECT regress.try($$SELECT count(*)::text FROM outreach.activity$$) AS activity,
       regress.try($$SELECT count(*)::text FROM outreach.attendance$$) AS attendance,
       regress.try($$SELECT count(*)::text FROM outreach.audit_log$$) AS audit_log;
SELECT regress.try(format('SELECT count(*)::text FROM outreach.read_special_category(%s)', :north_id)) AS read_special;
SELECT regress.try($$INSERT INTO outreach.participant (external_ref) VALUES ('A1')$$) AS insert;
-- What analysts do read: the list of members and the activity typology.
SELECT count(*) AS members FROM outreach.controller WHERE code IN ('regress_north', 'regress_south', 'regress_east');
SELECT count(*) > 0 AS types FROM outreach.activity_type;
RESET ROLE;

------------------------------------------------------------------------------------------------
-- The processor reads every member's rows, but no special-category data, and writes nothing.
------------------------------------------------------------------------------------------------
SET ROLE regress_processor;
SELECT regress.codes(ARRAY[controller_id]) AS member, count(*) AS participants
FROM outreach.participant_core WHERE controller_id IN (:north_id, :south_id, :east_id) GROUP BY 1 ORDER BY 1;
SELECT regress.codes(ARRAY[controller_id]) AS member, count(*) AS attendances
FROM outreach.attendance WHERE controller_id IN (:north_id, :south_id, :east_id) GROUP BY 1 ORDER BY 1;
SELECT regress.try($$SELECT count(sex)::text FROM outreach.participant$$) AS special_category,
       regress.try(format('SELECT count(*)::text FROM outreach.read_special_category(%s)', :north_id)) AS read_special,
       regress.try(format('INSERT INTO outreach.participant (controller_id, external_ref) VALUES (%s, %L)', :north_id, 'X')) AS insert;
RESET ROLE;

------------------------------------------------------------------------------------------------
-- Clean up.
------------------------------------------------------------------------------------------------
DROP VIEW regress.engagement;
SELECT regress.drop_controllers(ARRAY['regress_north', 'regress_south', 'regress_east']);
DROP ROLE regress_north_writer, regress_south_writer, regress_east_writer, regress_north_reader, regress_south_reader,
          regress_east_reader, regress_north_dpo, regress_north_analyst, regress_processor;
DROP FUNCTION regress.codes(int[]), regress.drop_controllers(text[]);
SELECT count(*) AS roles_left FROM pg_roles WHERE rolname ~ '^(outreach_)?regress_(north|south|east|processor)';
