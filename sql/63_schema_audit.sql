-- Functional tests of the schema, part 4: the audit trail. Every insert, update and delete of a
-- participant, activity or attendance leaves one row per record, naming the session's role, the
-- role acting (after SET ROLE), the action, the relation, the record's key and, for updates,
-- the columns changed, and never a personal value. Each DPO reads its own member's part.
SET search_path = regress, outreach, public;

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

SELECT outreach.create_controller('regress_audit_a', 'Audit A University') AS a_id \gset
SELECT outreach.create_controller('regress_audit_b', 'Audit B College') AS b_id \gset
-- A login (regress_audit_clerk) acting through a team role (regress_audit_team, A's writer), so
-- the session role and the acting role differ; B's writer, and each member's DPO.
CREATE ROLE regress_audit_team;
CREATE ROLE regress_audit_clerk;
GRANT regress_audit_team TO regress_audit_clerk;
CREATE ROLE regress_audit_b_writer;
CREATE ROLE regress_audit_dpo;
CREATE ROLE regress_audit_b_dpo;
SELECT outreach.grant_controller_access('regress_audit_team', 'regress_audit_a', 'writer'),
       outreach.grant_controller_access('regress_audit_b_writer', 'regress_audit_b', 'writer'),
       outreach.grant_controller_access('regress_audit_dpo', 'regress_audit_a', 'dpo'),
       outreach.grant_controller_access('regress_audit_b_dpo', 'regress_audit_b', 'dpo');

-- Names for the keys the log records (ids depend on what ran before, so they are not printed):
-- participants by external_ref, activities by name. remember() is called before rows go away.
CREATE TABLE regress.audit_names (kind text, id bigint, label text, PRIMARY KEY (kind, id));
CREATE FUNCTION regress.remember() RETURNS void LANGUAGE sql AS $$
  INSERT INTO regress.audit_names
  SELECT 'participant_id', participant_id, external_ref FROM outreach.participant
  WHERE controller_id IN (SELECT controller_id FROM outreach.controller WHERE code LIKE 'regress\_audit\_%')
  UNION ALL
  SELECT 'activity_id', activity_id, name FROM outreach.activity
  WHERE controller_id IN (SELECT controller_id FROM outreach.controller WHERE code LIKE 'regress\_audit\_%')
  ON CONFLICT DO NOTHING
$$;
CREATE VIEW regress.audit AS
SELECT a.audit_id, c.code AS member, a.action, a.relation,
       (SELECT string_agg(k || '=' || coalesce(n.label, '?' || v), ' ' ORDER BY k)
        FROM jsonb_each_text(a.record) AS r(k, v) LEFT JOIN regress.audit_names n ON n.kind = r.k AND n.id = r.v::bigint) AS record,
       a.session_role, a.acting_role, a.columns
FROM outreach.audit_log a JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress\_audit\_%';
-- The log rows written since a mark.
CREATE FUNCTION regress.audit_since(mark bigint)
RETURNS TABLE (member text, action text, relation text, record text, session_role name, acting_role name, columns text[])
LANGUAGE sql AS $$
  SELECT member, action, relation, record, session_role, acting_role, columns FROM regress.audit
  WHERE audit_id > mark ORDER BY relation, action, record, audit_id
$$;
CREATE VIEW regress.mark AS SELECT coalesce(max(audit_id), 0) AS mark FROM outreach.audit_log;

------------------------------------------------------------------------------------------------
-- Participants.
------------------------------------------------------------------------------------------------
SELECT mark FROM regress.mark \gset
SET SESSION AUTHORIZATION regress_audit_clerk;
SET ROLE regress_audit_team;
SELECT session_user, current_user;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, ethnicity)
VALUES ('A1', 'Quentin', 'Xylophone-Jones', '2007-04-04', 'SW1A 1AA', 'Distinctive ethnicity one'),
       ('A2', 'Zebedee', 'Quartermaine', '2006-08-08', 'EC1A 1BB', NULL);
RESET SESSION AUTHORIZATION;
SELECT regress.remember();
SELECT * FROM regress.audit_since(:mark);

SELECT mark FROM regress.mark \gset
SET SESSION AUTHORIZATION regress_audit_clerk;
SET ROLE regress_audit_team;
UPDATE outreach.participant SET first_name = 'Quintus', postcode = 'SW1A 2AA' WHERE external_ref = 'A1';
UPDATE outreach.participant SET ethnicity = 'Distinctive ethnicity two', sex = 'M' WHERE external_ref = 'A2';
UPDATE outreach.participant SET he_entry_year_override = 2026, he_entry_year_override_reason = 'Distinctive reason',
                                withdrawn_at = now()
WHERE external_ref = 'A2';
UPDATE outreach.participant SET first_name = first_name WHERE external_ref = 'A1';   -- changes nothing
UPDATE outreach.participant SET restricted_at = now();                             -- two rows at once
RESET SESSION AUTHORIZATION;
SELECT * FROM regress.audit_since(:mark);

-- Without SET ROLE the login is both session role and acting role.
SELECT mark FROM regress.mark \gset
SET SESSION AUTHORIZATION regress_audit_clerk;
UPDATE outreach.participant SET institution_id = NULL, last_name = 'Xylophone' WHERE external_ref = 'A1';
RESET SESSION AUTHORIZATION;
SELECT * FROM regress.audit_since(:mark);

------------------------------------------------------------------------------------------------
-- Activities and attendance.
------------------------------------------------------------------------------------------------
SELECT mark FROM regress.mark \gset
SET SESSION AUTHORIZATION regress_audit_clerk;
SET ROLE regress_audit_team;
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('campus_visit', 'Open day', '2024-06-01'),
                                                                       ('other', 'Chess club', '2024-09-01');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, a.starts_on FROM outreach.participant_core p, outreach.activity a;
RESET SESSION AUTHORIZATION;
SELECT regress.remember();
SELECT * FROM regress.audit_since(:mark);

SELECT mark FROM regress.mark \gset
SET SESSION AUTHORIZATION regress_audit_clerk;
SET ROLE regress_audit_team;
UPDATE outreach.activity SET name = 'Chess and go club', ends_on = '2025-06-30' WHERE name = 'Chess club';
UPDATE outreach.attendance SET attended_on = '2024-09-02'
WHERE activity_id = (SELECT activity_id FROM outreach.activity WHERE name = 'Chess and go club')
  AND participant_id = (SELECT participant_id FROM outreach.participant_core WHERE external_ref = 'A1');
DELETE FROM outreach.attendance
WHERE activity_id = (SELECT activity_id FROM outreach.activity WHERE name = 'Open day');
DELETE FROM outreach.activity WHERE name = 'Open day';
RESET SESSION AUTHORIZATION;
SELECT * FROM regress.audit_since(:mark);

-- Deleting a participant logs the participant and the attendance deleted with it.
SELECT mark FROM regress.mark \gset
SET SESSION AUTHORIZATION regress_audit_clerk;
SET ROLE regress_audit_team;
DELETE FROM outreach.participant WHERE external_ref = 'A2';
RESET SESSION AUTHORIZATION;
SELECT * FROM regress.audit_since(:mark);

------------------------------------------------------------------------------------------------
-- Bulk loads: one log row per row, written by one statement-level trigger; a failed statement
-- leaves no log rows.
------------------------------------------------------------------------------------------------
SELECT mark FROM regress.mark \gset
SET ROLE regress_audit_team;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
SELECT 'BULK' || n, 'First' || n, 'Last' || n, date '2007-01-01' + n, 'M1 1AE' FROM generate_series(1, 250) AS n;
SELECT regress.try($$INSERT INTO outreach.participant (external_ref, first_name, postcode)
                     SELECT 'FAIL' || n, 'F', CASE WHEN n = 40 THEN 'QQ1 1QQ' ELSE 'M1 1AE' END FROM generate_series(1, 50) AS n$$) AS failed_bulk;
RESET ROLE;
SELECT regress.remember();
SELECT action, relation, acting_role, count(*) AS rows, count(DISTINCT record) AS records,
       count(*) FILTER (WHERE record LIKE 'participant_id=BULK%') AS named_bulk_rows
FROM regress.audit WHERE audit_id > :mark GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT mark FROM regress.mark \gset
SET ROLE regress_audit_team;
UPDATE outreach.participant SET postcode = 'M1 2AB' WHERE external_ref LIKE 'BULK%';
DELETE FROM outreach.participant WHERE external_ref LIKE 'BULK%' AND right(external_ref, 1) = '0';
RESET ROLE;
SELECT action, relation, columns, count(*) AS rows, count(DISTINCT record) AS records
FROM regress.audit WHERE audit_id > :mark GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

------------------------------------------------------------------------------------------------
-- Member B's writer; superuser changes are logged too.
------------------------------------------------------------------------------------------------
SELECT mark FROM regress.mark \gset
SET ROLE regress_audit_b_writer;
INSERT INTO outreach.participant (external_ref, first_name) VALUES ('B1', 'Bee');
UPDATE outreach.participant SET last_name = 'Distinctive surname' WHERE external_ref = 'B1';
RESET ROLE;
SELECT regress.remember();
UPDATE outreach.participant SET external_ref = 'B1x' WHERE controller_id = :b_id AND external_ref = 'B1';
SELECT member, action, relation, record, session_role = session_user AS session_role_ok,
       CASE WHEN acting_role = current_user THEN '(superuser)' ELSE acting_role END AS acting_role, columns
FROM regress.audit_since(:mark);

------------------------------------------------------------------------------------------------
-- Who reads the log: each member's DPO, its own part only. Writers neither read nor write it.
------------------------------------------------------------------------------------------------
SELECT c.code, count(*) AS rows FROM outreach.audit_log a JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress\_audit\_%' GROUP BY 1 ORDER BY 1;
SET ROLE regress_audit_dpo;
SELECT array_agg(DISTINCT controller_id) = ARRAY[:a_id] AS only_a, count(*) AS rows FROM outreach.audit_log;
SELECT relation, action, count(*) AS rows FROM outreach.audit_log GROUP BY 1, 2 ORDER BY 1, 2;
SET ROLE regress_audit_b_dpo;
SELECT array_agg(DISTINCT controller_id) = ARRAY[:b_id] AS only_b, count(*) AS rows FROM outreach.audit_log;
SET ROLE regress_audit_team;
SELECT regress.try($$SELECT count(*)::text FROM outreach.audit_log$$) AS writer_reads;
SELECT regress.try(format($f$INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
                             VALUES (%s, 'x', 'x', 'insert', 'participant', '{}')$f$, :a_id)) AS writer_writes;
SET ROLE regress_audit_dpo;
SELECT regress.try($$DELETE FROM outreach.audit_log$$) AS dpo_deletes,
       regress.try($$UPDATE outreach.audit_log SET acting_role = 'someone else'$$) AS dpo_updates;
RESET ROLE;

------------------------------------------------------------------------------------------------
-- The log holds keys and column names, never personal values.
------------------------------------------------------------------------------------------------
SELECT count(*) AS rows,
       bool_and((SELECT bool_and(k IN ('participant_id', 'activity_id') AND jsonb_typeof(v) = 'number')
                 FROM jsonb_each(a.record) AS r(k, v))) AS record_is_keys_only,
       bool_and(a.columns IS NULL OR a.columns <@ ARRAY(SELECT attname::text FROM pg_attribute
                                                       WHERE attrelid = ('outreach.' || a.relation)::regclass AND attnum > 0))
         AS columns_are_column_names
FROM outreach.audit_log a JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress\_audit\_%';
SELECT count(*) AS rows_quoting_a_value
FROM outreach.audit_log a JOIN outreach.controller c USING (controller_id),
     unnest(ARRAY['Quentin', 'Quintus', 'Xylophone', 'Zebedee', 'Quartermaine', 'SW1A', 'EC1A', '2007-04-04',
                  'Distinctive', 'Chess', 'Open day', 'Bee']) AS v
WHERE c.code LIKE 'regress\_audit\_%' AND (a.record::text || coalesce(a.columns::text, '')) ILIKE '%' || v || '%';

------------------------------------------------------------------------------------------------
-- Clean up.
------------------------------------------------------------------------------------------------
DROP FUNCTION regress.audit_since(bigint), regress.remember();
DROP VIEW regress.audit, regress.mark;
DROP TABLE regress.audit_names;
SELECT regress.drop_controllers(ARRAY['regress_audit_a', 'regress_audit_b']);
DROP ROLE regress_audit_team, regress_audit_clerk, regress_audit_b_writer, regress_audit_dpo, regress_audit_b_dpo;
DROP FUNCTION regress.drop_controllers(text[]);
SELECT count(*) AS roles_left FROM pg_roles WHERE rolname ~ '^(outreach_)?regress_audit';
