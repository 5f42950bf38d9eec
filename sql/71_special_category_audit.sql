-- Security suite, part 2: special-category data (UK GDPR Art. 9), read_special_category(), the
-- audit trail, cross-member sharing (shared_engagement) and who may be granted what. Same
-- conventions as 70_rls_attacks: two controllers, attackers in their own sessions (SET SESSION
-- AUTHORIZATION), no ids printed, every case named "-- attack NN: ...".
\i sql/security_setup.psql

-- regress_sec.try_as(role, query) and run_as(role, statement): the same, in a session of that role.
CREATE FUNCTION regress_sec.try_as(who text, query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', who);
  RETURN regress_sec.try(query);
END $$;
CREATE FUNCTION regress_sec.run_as(who text, statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', who);
  RETURN regress_sec.run(statement);
END $$;

-- Two members and the people who act for them.
SELECT outreach.create_controller('regress_sec_a', 'Controller A') IS NOT NULL AS created_a,
       outreach.create_controller('regress_sec_b', 'Controller B') IS NOT NULL AS created_b;
SELECT controller_id AS a_id FROM outreach.controller WHERE code = 'regress_sec_a' \gset
SELECT controller_id AS b_id FROM outreach.controller WHERE code = 'regress_sec_b' \gset
CREATE ROLE regress_sec_alice;    -- writer for A
CREATE ROLE regress_sec_evil;     -- writer for A with a schema of its own
CREATE ROLE regress_sec_rita;     -- reader for A
CREATE ROLE regress_sec_dora;     -- DPO for A
CREATE ROLE regress_sec_ana;      -- analyst for A
CREATE ROLE regress_sec_proc;     -- the processor (the service itself)
CREATE ROLE regress_sec_nobody;   -- no access at all
CREATE ROLE regress_sec_bob;      -- writer for B
CREATE ROLE regress_sec_dan;      -- DPO for B
CREATE SCHEMA regress_sec_evil AUTHORIZATION regress_sec_evil;
GRANT outreach_processor TO regress_sec_proc;
SELECT outreach.grant_controller_access(r::regrole, c, l)
FROM (VALUES ('regress_sec_alice', 'regress_sec_a', 'writer'), ('regress_sec_evil', 'regress_sec_a', 'writer'),
             ('regress_sec_rita', 'regress_sec_a', 'reader'), ('regress_sec_dora', 'regress_sec_a', 'dpo'),
             ('regress_sec_ana', 'regress_sec_a', 'analyst'), ('regress_sec_bob', 'regress_sec_b', 'writer'),
             ('regress_sec_dan', 'regress_sec_b', 'dpo')) AS g(r, c, l);

-- B's people: B-001 is A-001 (same person), B-004 is A-003 (restricted at A), B-005 is A-004
-- (withdrawn at B). Everyone of B attended B's summer school.
SET SESSION AUTHORIZATION regress_sec_bob;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode,
                                  sex, gender_identity, ethnicity, disability, religion)
VALUES ('B-001', 'Zoe', 'Brown', '2008-01-02', 'SW1A 1AA', 'b-sex-1', 'b-gender-1', 'b-ethnicity-1', 'b-disability-1', 'b-religion-1'),
       ('B-002', 'Bertram', 'Bsecret', '2008-03-04', 'M1 1AE', 'b-sex-2', 'b-gender-2', 'b-ethnicity-2', 'b-disability-2', 'b-religion-2'),
       ('B-004', 'Una', 'Unterberg', '2007-09-10', 'CF10 1AA', 'b-sex-4', NULL, 'b-ethnicity-4', NULL, NULL),
       ('B-005', 'Victor', 'Vane', '2009-11-12', 'EH1 1YZ', 'b-sex-5', NULL, 'b-ethnicity-5', NULL, NULL);
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('summer_school', 'B secret school', '2024-07-01');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-07-01' FROM outreach.participant p, outreach.activity a;
UPDATE outreach.participant SET withdrawn_at = '2024-08-01' WHERE external_ref = 'B-005';
RESET SESSION AUTHORIZATION;
-- A's people.
SET SESSION AUTHORIZATION regress_sec_alice;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode,
                                  sex, gender_identity, ethnicity, disability, religion)
VALUES ('A-001', 'Zoë', 'brown', '2008-01-02', 'sw1a1aa', 'a-sex-1', 'a-gender-1', 'a-ethnicity-1', 'a-disability-1', 'a-religion-1'),
       ('A-002', 'Ada', 'Aown', '2007-05-06', 'EC1A 1BB', 'a-sex-2', NULL, 'a-ethnicity-2', NULL, NULL),
       ('A-003', 'Una', 'Unterberg', '2007-09-10', 'CF10 1AA', 'a-sex-3', NULL, NULL, NULL, NULL),
       ('A-004', 'Victor', 'Vane', '2009-11-12', 'EH1 1YZ', NULL, NULL, NULL, NULL, NULL);
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('campus_visit', 'A visit', '2024-03-01');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-03-01' FROM outreach.participant p, outreach.activity a
WHERE p.external_ref IN ('A-001', 'A-003');
UPDATE outreach.participant SET restricted_at = '2024-08-01' WHERE external_ref = 'A-003';
RESET SESSION AUTHORIZATION;
SELECT participant_id AS b1 FROM outreach.participant WHERE controller_id = :b_id AND external_ref = 'B-001' \gset
SELECT participant_id AS b2 FROM outreach.participant WHERE controller_id = :b_id AND external_ref = 'B-002' \gset
-- Every personal value the suite stored, for the checks that none of them escapes.
CREATE TABLE regress_sec.personal_values AS
SELECT DISTINCT v FROM outreach.participant p
  JOIN outreach.controller c USING (controller_id),
  LATERAL unnest(ARRAY[p.external_ref, p.first_name, p.last_name, p.date_of_birth::text, p.postcode::text,
                       p.sex, p.gender_identity, p.ethnicity, p.disability, p.religion, p.linkage_id::text]) AS v
WHERE c.code LIKE 'regress\_sec\_%' AND v IS NOT NULL;
SELECT count(*) > 40 AS personal_values_collected FROM regress_sec.personal_values;

-----------------------------------------------------------------------------------------------
-- Special-category columns: sex, gender_identity, ethnicity, disability, religion.
-----------------------------------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_sec_rita;
-- attack 44: a reader selects each special-category column
SELECT col, regress_sec.try(format('SELECT %I FROM outreach.participant LIMIT 1', col)) AS result
FROM unnest(ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']) AS col ORDER BY col;

-- attack 45: a reader takes whole rows: SELECT *, the row value, row_to_json, to_jsonb, ::text
SELECT q, regress_sec.try(q) AS result FROM (VALUES
  ('SELECT count(*) FROM (SELECT * FROM outreach.participant) s'),
  ('SELECT p::text FROM outreach.participant p LIMIT 1'),
  ('SELECT row_to_json(p.*)::text FROM outreach.participant p LIMIT 1'),
  ('SELECT to_jsonb(p)::text FROM outreach.participant AS p LIMIT 1'),
  ('SELECT count(participant) FROM outreach.participant'),
  ('SELECT (p).sex FROM outreach.participant p LIMIT 1'),
  ('SELECT json_agg(p)::text FROM outreach.participant_core c JOIN outreach.participant p USING (controller_id, participant_id)')
) AS t(q) ORDER BY q;

-- attack 46: special-category columns used without being selected: WHERE, ORDER BY, GROUP BY,
-- DISTINCT, aggregates, EXISTS, CASE
SELECT q, regress_sec.try(q) AS result FROM (VALUES
  ($$SELECT count(*) FROM outreach.participant WHERE sex = 'b-sex-1'$$),
  ('SELECT external_ref FROM outreach.participant ORDER BY ethnicity LIMIT 1'),
  ('SELECT count(*) FROM outreach.participant GROUP BY religion LIMIT 1'),
  ('SELECT count(DISTINCT disability) FROM outreach.participant'),
  ('SELECT count(gender_identity) FROM outreach.participant'),
  ($$SELECT EXISTS (SELECT 1 FROM outreach.participant WHERE ethnicity LIKE 'a%')$$),
  ($$SELECT sum(CASE WHEN sex IS NULL THEN 1 ELSE 0 END) FROM outreach.participant$$)
) AS t(q) ORDER BY q;

-- attack 47: a writer reads special-category data back through RETURNING (writing it blind is
-- what writers are for, and works)
SET SESSION AUTHORIZATION regress_sec_alice;
SELECT q, regress_sec.try(q) AS result FROM (VALUES
  ($$INSERT INTO outreach.participant (external_ref, sex) VALUES ('A-090', 'x') RETURNING sex$$),
  ($$INSERT INTO outreach.participant (external_ref) VALUES ('A-090') RETURNING *$$),
  ($$UPDATE outreach.participant SET first_name = first_name WHERE external_ref = 'A-001' RETURNING ethnicity$$),
  ($$UPDATE outreach.participant SET first_name = first_name RETURNING participant$$),
  ($$DELETE FROM outreach.participant WHERE external_ref = 'A-002' RETURNING religion$$),
  ($$DELETE FROM outreach.participant WHERE external_ref = 'A-002' RETURNING row_to_json(participant.*)$$)
) AS t(q) ORDER BY q;
SELECT regress_sec.run($$UPDATE outreach.participant SET disability = 'a-disability-2' WHERE external_ref = 'A-002'$$) AS blind_write;

-- attack 48: a writer reads special-category data through SET expressions, conflict clauses and
-- MERGE conditions
SELECT q, regress_sec.run(q) AS result FROM (VALUES
  ($$UPDATE outreach.participant SET sex = sex || '' WHERE external_ref = 'A-001'$$),
  ($$UPDATE outreach.participant SET first_name = religion WHERE external_ref = 'A-001'$$),
  ($$UPDATE outreach.participant SET first_name = first_name WHERE sex = 'a-sex-1'$$),
  ($$DELETE FROM outreach.participant WHERE ethnicity IS NULL AND external_ref = 'A-004'$$),
  ($$INSERT INTO outreach.participant (external_ref) VALUES ('A-001') ON CONFLICT (controller_id, external_ref) DO UPDATE SET last_name = participant.sex$$),
  ($$INSERT INTO outreach.participant (external_ref) VALUES ('A-001') ON CONFLICT (controller_id, external_ref) DO UPDATE SET last_name = 'x' WHERE participant.ethnicity IS NOT NULL$$),
  ($$MERGE INTO outreach.participant t USING (VALUES ('A-001')) s(ref) ON t.external_ref = s.ref WHEN MATCHED AND t.gender_identity IS NOT NULL THEN UPDATE SET last_name = 'x'$$),
  ($$MERGE INTO outreach.participant t USING (VALUES ('A-001')) s(ref) ON t.external_ref = s.ref AND t.disability IS NOT NULL WHEN MATCHED THEN DELETE$$)
) AS t(q) ORDER BY q;

-- attack 49: views the attacker creates over the special-category columns (definer and invoker),
-- and the extension's own views, which have none
SET SESSION AUTHORIZATION regress_sec_evil;
GRANT USAGE ON SCHEMA regress_sec_evil TO PUBLIC;
CREATE VIEW regress_sec_evil.special AS SELECT external_ref, sex, ethnicity FROM outreach.participant;
CREATE VIEW regress_sec_evil.special_inv WITH (security_invoker = true) AS SELECT external_ref, religion FROM outreach.participant;
CREATE VIEW regress_sec_evil.whole AS SELECT p FROM outreach.participant p;
GRANT SELECT ON regress_sec_evil.special, regress_sec_evil.special_inv, regress_sec_evil.whole TO PUBLIC;
SELECT regress_sec.try('SELECT count(*) FROM regress_sec_evil.special') AS definer_view,
       regress_sec.try('SELECT count(*) FROM regress_sec_evil.special_inv') AS invoker_view,
       regress_sec.try('SELECT count(*) FROM regress_sec_evil.whole') AS whole_row_view;
-- The DPO querying evil's definer view: the view's owner (evil) is checked, not the DPO.
SET SESSION AUTHORIZATION regress_sec_dora;
SELECT regress_sec.try('SELECT count(*) FROM regress_sec_evil.special') AS dpo_through_definer_view;
SET SESSION AUTHORIZATION regress_sec_evil;
SELECT regress_sec.try('SELECT sex FROM outreach.participant_core LIMIT 1') AS participant_core,
       regress_sec.try('SELECT sex FROM outreach.shared_engagement LIMIT 1') AS shared_engagement;

-- attack 50: COPY of special-category columns, and a SECURITY DEFINER function of the attacker
\set VERBOSITY sqlstate
COPY outreach.participant (external_ref, sex) TO STDOUT;
COPY (SELECT external_ref, ethnicity FROM outreach.participant) TO STDOUT;
\set VERBOSITY default
CREATE FUNCTION regress_sec_evil.read_sex() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER
  AS 'SELECT sex FROM outreach.participant';
GRANT EXECUTE ON FUNCTION regress_sec_evil.read_sex() TO PUBLIC;
SELECT regress_sec.try('SELECT string_agg(s, '','') FROM regress_sec_evil.read_sex() s') AS definer_function;
SET SESSION AUTHORIZATION regress_sec_dora;
SELECT regress_sec.try('SELECT string_agg(s, '','') FROM regress_sec_evil.read_sex() s') AS dpo_calls_definer_function;

-- attack 51: error messages do not echo rows: a CHECK violation on a special-category column
SET SESSION AUTHORIZATION regress_sec_alice;
SELECT regress_sec.run($$UPDATE outreach.participant SET sex = repeat('x', 51) WHERE external_ref = 'A-001'$$) AS check_violation;
SELECT regress_sec.run($$INSERT INTO outreach.participant (external_ref, ethnicity) VALUES ('A-001', 'e')$$) AS unique_violation;

-- attack 52: the DPO reads the statistics of the special-category columns (pg_stats would show
-- B's most common values)
RESET SESSION AUTHORIZATION;
ANALYZE outreach.participant;
SET SESSION AUTHORIZATION regress_sec_dora;
SELECT has_column_privilege('outreach.participant', 'sex', 'SELECT') AS dora_may_select_sex,
       count(*) AS pg_stats_rows
FROM pg_stats WHERE schemaname = 'outreach' AND tablename = 'participant';

-- attack 53: a DPO reads special-category data: its own controller's only
SELECT external_ref, sex, gender_identity, ethnicity, disability, religion FROM outreach.participant ORDER BY 1;
SELECT count(*) AS b_rows FROM outreach.participant WHERE controller_id = :b_id;
SET SESSION AUTHORIZATION regress_sec_dan;
SELECT external_ref, sex, ethnicity FROM outreach.participant ORDER BY 1;
SELECT count(*) AS a_rows FROM outreach.participant WHERE controller_id = :a_id;

-----------------------------------------------------------------------------------------------
-- read_special_category(): the audited read.
-----------------------------------------------------------------------------------------------
RESET SESSION AUTHORIZATION;
SELECT count(*) AS read_logs_before FROM outreach.audit_log WHERE action = 'read_special' AND controller_id IN (:a_id, :b_id);
SET SESSION AUTHORIZATION regress_sec_dora;
-- attack 54: A's DPO asks for B's special-category data, or for B's people under A's id
SELECT regress_sec.try(format('SELECT count(*) FROM outreach.read_special_category(%s)', :b_id)) AS other_controller,
       regress_sec.try(format('SELECT count(*) FROM outreach.read_special_category(%s, ARRAY[%s, %s]::bigint[])', :a_id, :b1, :b2)) AS b_ids_under_a,
       regress_sec.try(format('SELECT count(*) FROM outreach.read_special_category(%s)', :b_id + 1000000)) AS unknown_controller,
       regress_sec.try('SELECT count(*) FROM outreach.read_special_category(NULL)') AS null_controller;
SELECT p.external_ref, r.sex, r.ethnicity, r.religion
FROM outreach.read_special_category(:a_id) r JOIN outreach.participant_core p USING (participant_id) ORDER BY 1;

-- attack 55: callers who are not the controller's DPO: reader, writer, analyst, processor, nobody
SELECT who, regress_sec.try_as(who, format('SELECT count(*) FROM outreach.read_special_category(%s)', :a_id)) AS result
FROM unnest(ARRAY['regress_sec_rita', 'regress_sec_alice', 'regress_sec_ana', 'regress_sec_proc', 'regress_sec_nobody', 'regress_sec_dan']) AS who
ORDER BY who;
RESET SESSION AUTHORIZATION;
SELECT current_user, session_user;

-- attack 56: read_special_category() reads are logged, one row per person, without values; the
-- DPO sees them (and cannot remove them: see below)
SELECT action, relation, columns, session_role, acting_role, count(*)
FROM outreach.audit_log WHERE action = 'read_special' AND controller_id IN (:a_id, :b_id)
GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5;
SET SESSION AUTHORIZATION regress_sec_dora;
SELECT count(*) AS dora_sees_read_logs FROM outreach.audit_log WHERE action = 'read_special';
RESET SESSION AUTHORIZATION;

-----------------------------------------------------------------------------------------------
-- The audit log.
-----------------------------------------------------------------------------------------------
-- attack 57: members write, change, remove or truncate audit rows (a writer, the DPO, the processor)
SELECT who, stmt, regress_sec.run_as(who, stmt) AS result
FROM unnest(ARRAY['regress_sec_alice', 'regress_sec_dora', 'regress_sec_proc']) AS who,
     unnest(ARRAY[$$INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
                    SELECT controller_id, 'x', 'x', 'delete', 'participant', '{}' FROM outreach.controller WHERE code = 'regress_sec_a'$$,
                  $$UPDATE outreach.audit_log SET acting_role = 'someone_else'$$,
                  $$DELETE FROM outreach.audit_log$$,
                  $$TRUNCATE outreach.audit_log$$,
                  $$MERGE INTO outreach.audit_log t USING (VALUES (1)) s(x) ON true WHEN MATCHED THEN DELETE$$,
                  $$ALTER TABLE outreach.audit_log DISABLE ROW LEVEL SECURITY$$]) AS stmt
ORDER BY who, stmt;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_sec_dora;
\copy outreach.audit_log (controller_id, session_role, acting_role, action, relation, record) FROM '/dev/null'
RESET SESSION AUTHORIZATION;

-- attack 58: a DPO reads the audit rows of the other controller; non-DPOs read any
SELECT count(*) AS superuser_sees FROM outreach.audit_log WHERE controller_id = :a_id \gset
SET SESSION AUTHORIZATION regress_sec_dora;
SELECT count(*) FILTER (WHERE controller_id <> :a_id) AS other_rows, count(*) = :superuser_sees AS sees_all_of_a
FROM outreach.audit_log;
SET SESSION AUTHORIZATION regress_sec_dan;
SELECT count(*) FILTER (WHERE controller_id <> :b_id) AS other_rows, count(*) > 0 AS sees_b
FROM outreach.audit_log;
SELECT who, regress_sec.try_as(who, 'SELECT count(*) FROM outreach.audit_log') AS result
FROM unnest(ARRAY['regress_sec_alice', 'regress_sec_rita', 'regress_sec_ana', 'regress_sec_proc']) AS who
ORDER BY who;
RESET SESSION AUTHORIZATION;

-- attack 59: a writer's changes through every statement form are logged, by column name only
SELECT max(audit_id) AS audit_mark FROM outreach.audit_log \gset
SET SESSION AUTHORIZATION regress_sec_alice;
INSERT INTO outreach.participant (external_ref, first_name) VALUES ('A-010', 'Ten');
UPDATE outreach.participant SET sex = 'a-sex-10', religion = 'a-religion-10' WHERE external_ref = 'A-010';
INSERT INTO outreach.participant (external_ref, first_name) VALUES ('A-010', 'Tenth'), ('A-011', 'Eleven')
  ON CONFLICT (controller_id, external_ref) DO UPDATE SET first_name = EXCLUDED.first_name;
MERGE INTO outreach.participant t USING (VALUES ('A-011', 'Elf'), ('A-012', 'Twelve')) s(ref, fn) ON t.external_ref = s.ref
  WHEN MATCHED THEN UPDATE SET first_name = s.fn, ethnicity = 'a-ethnicity-11'
  WHEN NOT MATCHED THEN INSERT (external_ref, first_name) VALUES (s.ref, s.fn);
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-03-01' FROM outreach.participant p, outreach.activity a
WHERE p.external_ref IN ('A-010', 'A-011');
UPDATE outreach.attendance SET attended_on = '2024-03-02'
WHERE participant_id = (SELECT participant_id FROM outreach.participant WHERE external_ref = 'A-011');
BEGIN;
DECLARE c CURSOR FOR SELECT external_ref FROM outreach.participant WHERE external_ref = 'A-012';
FETCH 1 FROM c;
UPDATE outreach.participant SET gender_identity = 'a-gender-12' WHERE CURRENT OF c;
COMMIT;
DELETE FROM outreach.participant WHERE external_ref IN ('A-010', 'A-011', 'A-012');  -- cascades to attendance
RESET SESSION AUTHORIZATION;
SELECT action, relation, array_to_string(ARRAY(SELECT jsonb_object_keys(record) ORDER BY 1), ',') AS record_keys,
       columns, session_role, acting_role, count(*)
FROM outreach.audit_log WHERE audit_id > :audit_mark
GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY min(audit_id), 1, 2, 3, 4;

-- attack 60: hiding behind a group role: the acting role is recorded, and so is the person
SELECT max(audit_id) AS audit_mark FROM outreach.audit_log \gset
SET SESSION AUTHORIZATION regress_sec_alice;
SET ROLE outreach_regress_sec_a_writer;
UPDATE outreach.participant SET first_name = 'Adah' WHERE external_ref = 'A-002';
RESET ROLE;
RESET SESSION AUTHORIZATION;
SELECT action, columns, session_role, acting_role FROM outreach.audit_log WHERE audit_id > :audit_mark ORDER BY audit_id;

-- attack 61: the audit rows hold keys and column names, never personal values
SELECT count(*) > 30 AS audit_rows,
       bool_and(NOT EXISTS (SELECT 1 FROM jsonb_each(a.record) e
                            WHERE e.key NOT IN ('participant_id', 'activity_id') OR jsonb_typeof(e.value) <> 'number')) AS record_only_numeric_keys,
       bool_and(a.columns IS NULL OR a.columns <@ ARRAY(SELECT attname::text FROM pg_attribute
                                                          WHERE attrelid IN ('outreach.participant'::regclass, 'outreach.activity'::regclass,
                                                                             'outreach.attendance'::regclass) AND attnum > 0)) AS columns_only_names,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM regress_sec.personal_values v WHERE strpos(a::text, v.v) > 0)) AS rows_with_personal_values
FROM outreach.audit_log a WHERE controller_id IN (:a_id, :b_id);

-----------------------------------------------------------------------------------------------
-- shared_engagement: what one member learns of another's work with the same person.
-----------------------------------------------------------------------------------------------
-- attack 62: the view's columns: the member, the activity type and the date, and one's own ids
SELECT column_name, data_type FROM information_schema.columns
WHERE table_schema = 'outreach' AND table_name = 'shared_engagement' ORDER BY ordinal_position;

-- attack 63: what A sees of B (and B of A): never B's participant id, names or identifiers
SET SESSION AUTHORIZATION regress_sec_alice;
CREATE TEMP TABLE alice_shared AS SELECT * FROM outreach.shared_engagement;
SELECT p.external_ref AS own_person, s.other_controller_code, s.other_controller_name, s.activity_type, s.attended_on
FROM alice_shared s JOIN outreach.participant_core p USING (controller_id, participant_id) ORDER BY 1, 2, 5;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS shared_rows,
       count(*) FILTER (WHERE s.participant_id IN (SELECT participant_id FROM outreach.participant WHERE controller_id = :b_id)
                          AND s.controller_id <> :a_id) AS b_ids_shown,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM regress_sec.personal_values v WHERE strpos(s::text, v.v) > 0)) AS rows_with_personal_values,
       bool_and(s.controller_id = :a_id) AS only_own_people
FROM alice_shared s;
SET SESSION AUTHORIZATION regress_sec_bob;
SELECT p.external_ref AS own_person, s.other_controller_code, s.activity_type, s.attended_on
FROM outreach.shared_engagement s JOIN outreach.participant_core p USING (controller_id, participant_id) ORDER BY 1, 2, 4;

-- attack 64: withdrawn or restricted people, on either side, are never shared (above: A-003 is
-- restricted at A, B-005 withdrawn at B); restricting B-001 at B hides A-001's row as well
UPDATE outreach.participant SET restricted_at = '2024-09-01' WHERE external_ref = 'B-001';
SELECT count(*) AS bob_shared_rows FROM outreach.shared_engagement;
SET SESSION AUTHORIZATION regress_sec_alice;
SELECT count(*) AS alice_shared_rows FROM outreach.shared_engagement;
UPDATE outreach.participant SET withdrawn_at = '2024-09-01' WHERE external_ref = 'A-001';
SET SESSION AUTHORIZATION regress_sec_dan;
SELECT outreach.lift_restriction(:b_id, ARRAY(SELECT participant_id FROM outreach.participant_core WHERE external_ref = 'B-001'),
                                 'processing may resume') AS lifted;
SET SESSION AUTHORIZATION regress_sec_bob;
SELECT count(*) AS bob_shared_rows_a_withdrawn FROM outreach.shared_engagement;
SET SESSION AUTHORIZATION regress_sec_alice;
SELECT count(*) AS alice_shared_rows_a_withdrawn FROM outreach.shared_engagement;
SET SESSION AUTHORIZATION regress_sec_dora;
SELECT outreach.reinstate_participant(:a_id, ARRAY(SELECT participant_id FROM outreach.participant_core WHERE external_ref = 'A-001'),
                                      'permission given again') AS reinstated;
SET SESSION AUTHORIZATION regress_sec_alice;
SELECT count(*) AS alice_shared_rows_again FROM outreach.shared_engagement;

-- attack 65: roles without row access read shared_engagement
RESET SESSION AUTHORIZATION;
SELECT who, regress_sec.try_as(who, 'SELECT count(*) FROM outreach.shared_engagement') AS result
FROM unnest(ARRAY['regress_sec_ana', 'regress_sec_nobody']) AS who ORDER BY who;
-- attack 65b: what shared_engagement reads of other members (outreach.shareable_participant)
-- is read by nobody but the extension: not members at any level, not the processor
SELECT who, regress_sec.try_as(who, 'SELECT count(*) FROM outreach.shareable_participant') AS result
FROM unnest(ARRAY['regress_sec_alice', 'regress_sec_rita', 'regress_sec_dora', 'regress_sec_ana', 'regress_sec_proc',
                  'regress_sec_nobody']) AS who ORDER BY who;

-- attack 66: the processor: every controller's ordinary columns (its job), but no special-category
-- data, no audit log, no audited reads and no writes
SELECT what, regress_sec.try_as('regress_sec_proc', q) AS result FROM (VALUES
  ('reads A and B', format('SELECT count(DISTINCT controller_id) FROM outreach.participant WHERE controller_id IN (%s, %s)', :a_id, :b_id)),
  ('reads sex', 'SELECT count(sex) FROM outreach.participant'),
  ('reads the audit log', 'SELECT count(*) FROM outreach.audit_log'),
  ('read_special_category', format('SELECT count(*) FROM outreach.read_special_category(%s)', :a_id)),
  ('inserts', format($$WITH i AS (INSERT INTO outreach.participant (controller_id, external_ref) VALUES (%s, 'P-1') RETURNING 1) SELECT count(*) FROM i$$, :a_id)),
  ('updates', $$WITH u AS (UPDATE outreach.participant SET first_name = 'x' RETURNING 1) SELECT count(*) FROM u$$)
) AS t(what, q) ORDER BY what;

-----------------------------------------------------------------------------------------------
-- Who may be made what: grant_controller_access().
-----------------------------------------------------------------------------------------------
-- attack 67: a login that is DPO for A and reads B's rows would see B's special-category data
-- (column privileges are per role): refused in either order, also as the processor, also for
-- superusers and BYPASSRLS roles
CREATE ROLE regress_sec_mixed;
CREATE ROLE regress_sec_bypass BYPASSRLS;
CREATE ROLE regress_sec_super SUPERUSER;
SELECT outreach.grant_controller_access('regress_sec_mixed', 'regress_sec_b', 'reader');
SELECT regress_sec.try($$SELECT outreach.grant_controller_access('regress_sec_mixed', 'regress_sec_a', 'dpo')$$) AS reader_then_dpo;
SELECT outreach.revoke_controller_access('regress_sec_mixed', 'regress_sec_b', 'reader');
SELECT outreach.grant_controller_access('regress_sec_mixed', 'regress_sec_a', 'dpo');
SELECT regress_sec.try($$SELECT outreach.grant_controller_access('regress_sec_mixed', 'regress_sec_b', 'writer')$$) AS dpo_then_writer;
SELECT regress_sec.try($$SELECT outreach.grant_controller_access('regress_sec_proc', 'regress_sec_a', 'dpo')$$) AS processor_dpo,
       regress_sec.try($$SELECT outreach.grant_controller_access('regress_sec_bypass', 'regress_sec_a', 'reader')$$) AS bypassrls,
       regress_sec.try($$SELECT outreach.grant_controller_access('regress_sec_super', 'regress_sec_a', 'reader')$$) AS superuser;

-- attack 68: the same mix through a group role: a reader of B joins a team, the team is made
-- A's DPO (or the DPO joins a team made B's reader); refused for the member that would get both
CREATE ROLE regress_sec_team;
CREATE ROLE regress_sec_subteam;
GRANT regress_sec_team TO regress_sec_subteam;
GRANT regress_sec_subteam TO regress_sec_bob;       -- bob writes for B
SELECT regress_sec.try($$SELECT outreach.grant_controller_access('regress_sec_team', 'regress_sec_a', 'dpo')$$) AS team_made_dpo;
GRANT regress_sec_team TO regress_sec_mixed;         -- mixed is A's DPO
REVOKE regress_sec_subteam FROM regress_sec_bob;
SELECT regress_sec.try($$SELECT outreach.grant_controller_access('regress_sec_team', 'regress_sec_b', 'reader')$$) AS team_made_reader;
SELECT outreach.grant_controller_access('regress_sec_team', 'regress_sec_a', 'reader') AS team_made_reader_of_a;
SELECT r AS role, pg_has_role(r, 'outreach_regress_sec_a_dpo', 'USAGE') AS a_dpo,
       pg_has_role(r, 'outreach_regress_sec_b_reader', 'USAGE') AS b_reader
FROM unnest(ARRAY['regress_sec_bob', 'regress_sec_mixed', 'regress_sec_team']) AS r ORDER BY r;
SET SESSION AUTHORIZATION regress_sec_bob;
SELECT regress_sec.try('SELECT count(sex) FROM outreach.participant') AS bob_reads_sex;
RESET SESSION AUTHORIZATION;

-- Clean up: the suite's controllers, their data and audit rows, every role it created.
SET client_min_messages = warning;
SELECT pg_temp.sec_cleanup();
RESET client_min_messages;
SELECT count(*) AS roles_left FROM pg_roles WHERE rolname LIKE 'regress\_sec\_%' OR rolname LIKE 'outreach\_regress\_sec\_%';
