-- Security suite, part 1: one member attacking another member's rows. Two controllers,
-- regress_sec_a and regress_sec_b; the attackers act for A, the victims' data belongs to B.
-- Every case is named "-- attack NN: ..." and shows by its output that it failed (SQLSTATE) or
-- returned only the caller's own rows. Attackers are separate sessions (SET SESSION
-- AUTHORIZATION), so SET ROLE is checked against the attacker's own memberships. Ids are
-- never printed (they depend on the suites before this one): rows are named by external_ref,
-- and numbers in error messages are shown as N.
\i sql/security_setup.psql

-- Two members and the people who act for them.
SELECT outreach.create_controller('regress_sec_a', 'Controller A') IS NOT NULL AS created_a,
       outreach.create_controller('regress_sec_b', 'Controller B') IS NOT NULL AS created_b;
SELECT controller_id AS a_id FROM outreach.controller WHERE code = 'regress_sec_a' \gset
SELECT controller_id AS b_id FROM outreach.controller WHERE code = 'regress_sec_b' \gset
CREATE ROLE regress_sec_alice;    -- writer for A: the attacker
CREATE ROLE regress_sec_evil;     -- writer for A with a schema of its own
CREATE ROLE regress_sec_rita;     -- reader for A
CREATE ROLE regress_sec_ana;      -- analyst for A
CREATE ROLE regress_sec_nobody;   -- no access at all
CREATE ROLE regress_sec_bob;      -- writer for B: the victim
CREATE SCHEMA regress_sec_evil AUTHORIZATION regress_sec_evil;
SELECT outreach.grant_controller_access(r::regrole, c, l)
FROM (VALUES ('regress_sec_alice', 'regress_sec_a', 'writer'), ('regress_sec_evil', 'regress_sec_a', 'writer'),
             ('regress_sec_rita', 'regress_sec_a', 'reader'), ('regress_sec_ana', 'regress_sec_a', 'analyst'),
             ('regress_sec_bob', 'regress_sec_b', 'writer')) AS g(r, c, l);

-- B's data, entered by bob. B-001 is the same person as A-001 (same linkage pseudonym).
SET SESSION AUTHORIZATION regress_sec_bob;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, sex, ethnicity)
VALUES ('B-001', 'Zoe', 'Brown', '2008-01-02', 'SW1A 1AA', 'b-sex-1', 'b-ethnicity-1'),
       ('B-002', 'Bertram', 'Bsecret', '2008-03-04', 'M1 1AE', 'b-sex-2', 'b-ethnicity-2'),
       ('B-003', 'Beatrix', 'Bhidden', '2007-09-10', 'CF10 1AA', 'b-sex-3', 'b-ethnicity-3');
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('summer_school', 'B secret school', '2024-07-01');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-07-01' FROM outreach.participant p, outreach.activity a;
RESET SESSION AUTHORIZATION;
SELECT participant_id AS b1 FROM outreach.participant WHERE controller_id = :b_id AND external_ref = 'B-001' \gset
SELECT participant_id AS b2 FROM outreach.participant WHERE controller_id = :b_id AND external_ref = 'B-002' \gset
SELECT activity_id AS b_act FROM outreach.activity WHERE controller_id = :b_id \gset
SELECT max(participant_id) + 1000000 AS no_such_participant, max(participant_id) + 1000001 AS no_such_activity
FROM outreach.participant \gset

-- A's data, entered by alice.
SET SESSION AUTHORIZATION regress_sec_alice;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, sex, ethnicity)
VALUES ('A-001', 'Zoë', 'brown', '2008-01-02', 'sw1a1aa', 'a-sex-1', 'a-ethnicity-1'),
       ('A-002', 'Ada', 'Aown', '2007-05-06', 'EC1A 1BB', 'a-sex-2', 'a-ethnicity-2');
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('campus_visit', 'A visit', '2024-03-01');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-03-01' FROM outreach.participant p, outreach.activity a WHERE p.external_ref = 'A-001';
RESET SESSION AUTHORIZATION;
SELECT participant_id AS a1 FROM outreach.participant WHERE controller_id = :a_id AND external_ref = 'A-001' \gset
SELECT activity_id AS a_act FROM outreach.activity WHERE controller_id = :a_id \gset
-- What B holds, as seen by the superuser, to compare with after the attacks.
CREATE TABLE regress_sec.b_before AS
SELECT external_ref, first_name, last_name, withdrawn_at FROM outreach.participant WHERE controller_id = :b_id;

-----------------------------------------------------------------------------------------------
-- Leaky functions and operators.
-----------------------------------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_sec_evil;
CREATE TABLE regress_sec_evil.leaked (value text);
CREATE FUNCTION regress_sec_evil.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
  RAISE NOTICE 'leak: %', $1;
  INSERT INTO regress_sec_evil.leaked VALUES ($1);
  RETURN true;
END $$;
CREATE FUNCTION regress_sec_evil.leak2(text, text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
  RAISE NOTICE 'leak: %', $1;
  INSERT INTO regress_sec_evil.leaked VALUES ($1);
  RETURN true;
END $$;
CREATE OPERATOR regress_sec_evil.=== (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_sec_evil.leak2,
                                      RESTRICT = eqsel, JOIN = eqjoinsel);

-- The notices come in scan order: index scans in key order keep that order fixed (a sequential
-- scan would follow the rows' physical order, which every update changes).
SET enable_seqscan = off;
SET enable_bitmapscan = off;
-- attack 01: a cheap leaky function in WHERE sees only own participants' values
SELECT external_ref FROM outreach.participant WHERE regress_sec_evil.leak(first_name) ORDER BY 1;
SELECT count(*) FROM outreach.participant WHERE regress_sec_evil.leak(last_name) AND controller_id = :b_id;
SELECT count(*) FROM outreach.participant_core WHERE regress_sec_evil.leak(external_ref || ' ' || postcode::text);
SELECT count(*) FROM outreach.activity WHERE regress_sec_evil.leak(name);

-- attack 02: a leaky operator in WHERE and in a join condition
SELECT external_ref FROM outreach.participant WHERE last_name OPERATOR(regress_sec_evil.===) 'x' ORDER BY 1;
SELECT count(*) FROM outreach.participant p JOIN outreach.attendance t
  ON t.participant_id = p.participant_id AND (p.external_ref || '/' || t.attended_on) OPERATOR(regress_sec_evil.===) 'x';

-- attack 03: leaky predicates in UPDATE, DELETE and MERGE conditions
SELECT regress_sec.try($$WITH u AS (UPDATE outreach.participant SET last_name = last_name WHERE regress_sec_evil.leak(first_name) RETURNING 1) SELECT count(*) FROM u$$);
SELECT regress_sec.try($$WITH d AS (DELETE FROM outreach.attendance WHERE regress_sec_evil.leak(attended_on::text) AND false RETURNING 1) SELECT count(*) FROM d$$);
SELECT regress_sec.run($$MERGE INTO outreach.participant t USING (VALUES (1)) s(x) ON regress_sec_evil.leak(t.first_name)
                         WHEN MATCHED THEN UPDATE SET last_name = t.last_name$$);

-- attack 04: a leaky function over the shared_engagement view (owner's rights, security barrier)
SELECT other_controller_code, activity_type, attended_on FROM outreach.shared_engagement
WHERE regress_sec_evil.leak(other_controller_code || ' ' || other_controller_name || ' ' || activity_type || ' ' || attended_on);
SELECT count(*) FROM outreach.shared_engagement WHERE regress_sec_evil.leak(participant_id::text) AND controller_id = :b_id;
-- Nothing of B's identifiers or names reached the function:
SELECT count(*) AS leaked_values,
       count(*) FILTER (WHERE value ~ '(B-00|Bertram|Bsecret|Beatrix|Bhidden|M1 1AE|CF10|B secret|b-)') AS leaked_from_b
FROM regress_sec_evil.leaked;

-- attack 05: declaring the leaky function LEAKPROOF (so it would be pushed below the policy)
SELECT regress_sec.run($$ALTER FUNCTION regress_sec_evil.leak(text) LEAKPROOF$$);
SELECT regress_sec.run($$CREATE FUNCTION regress_sec_evil.leak3(text) RETURNS boolean LANGUAGE sql LEAKPROOF AS 'SELECT true'$$);
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET SESSION AUTHORIZATION;

-----------------------------------------------------------------------------------------------
-- Reading and writing the other controller's rows.
-----------------------------------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_sec_alice;

-- attack 06: SELECT the other controller's rows by its controller_id
SELECT external_ref FROM outreach.participant WHERE controller_id = :b_id;
SELECT external_ref FROM outreach.participant ORDER BY 1;
SELECT count(*) AS activities, string_agg(name, ', ') AS names FROM outreach.activity;
SELECT count(*) AS attendances FROM outreach.attendance WHERE controller_id = :b_id;

-- attack 07: INSERT a participant, activity and attendance with the other controller's id
SELECT regress_sec.run(format($$INSERT INTO outreach.participant (controller_id, external_ref) VALUES (%s, 'B-100')$$, :b_id));
SELECT regress_sec.run(format($$INSERT INTO outreach.activity (controller_id, activity_type, starts_on) VALUES (%s, 'other', '2024-01-01')$$, :b_id));
SELECT regress_sec.run(format($$INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on) VALUES (%s, %s, %s, '2024-07-02')$$, :b_id, :b1, :b_act));

-- attack 08: UPDATE the other controller's rows (by key and wholesale)
SELECT regress_sec.try(format($$WITH u AS (UPDATE outreach.participant SET first_name = 'pwned' WHERE controller_id = %s AND participant_id = %s RETURNING 1) SELECT count(*) FROM u$$, :b_id, :b1));
SELECT regress_sec.try($$WITH u AS (UPDATE outreach.participant SET withdrawn_at = now() WHERE external_ref LIKE 'B-%' RETURNING 1) SELECT count(*) FROM u$$);
SELECT regress_sec.try($$WITH u AS (UPDATE outreach.activity SET name = name || '' RETURNING controller_id) SELECT count(*) FILTER (WHERE controller_id <> $$ || :a_id || $$) FROM u$$);

-- attack 09: move an own row to the other controller (42501), also through the trigger
SELECT regress_sec.run(format($$UPDATE outreach.participant SET controller_id = %s WHERE external_ref = 'A-002'$$, :b_id));
SELECT regress_sec.run(format($$UPDATE outreach.activity SET controller_id = %s$$, :b_id));
SELECT regress_sec.run(format($$UPDATE outreach.attendance SET controller_id = %s$$, :b_id));
RESET SESSION AUTHORIZATION;
-- Not even the tables' owner can move a row: the keep_keys trigger refuses (42501).
SELECT regress_sec.run(format($$UPDATE outreach.participant SET controller_id = %s WHERE controller_id = %s AND external_ref = 'A-002'$$, :b_id, :a_id));
SELECT regress_sec.run(format($$UPDATE outreach.activity SET controller_id = %s WHERE controller_id = %s$$, :b_id, :a_id));
SET SESSION AUTHORIZATION regress_sec_alice;

-- attack 10: DELETE the other controller's rows
SELECT regress_sec.try(format($$WITH d AS (DELETE FROM outreach.attendance WHERE controller_id = %s RETURNING 1) SELECT count(*) FROM d$$, :b_id));
SELECT regress_sec.try(format($$WITH d AS (DELETE FROM outreach.participant WHERE participant_id = %s RETURNING 1) SELECT count(*) FROM d$$, :b2));
SELECT regress_sec.try($$WITH d AS (DELETE FROM outreach.activity WHERE name LIKE 'B%' RETURNING 1) SELECT count(*) FROM d$$);

-- attack 11: MERGE into the other controller: matched rows are invisible, inserts are refused
SELECT regress_sec.run($$MERGE INTO outreach.participant t USING (VALUES ('B-001'), ('B-002')) s(ref) ON t.external_ref = s.ref
                         WHEN MATCHED THEN UPDATE SET first_name = 'pwned'$$) AS merge_update;
SELECT regress_sec.run($$MERGE INTO outreach.participant t USING (VALUES ('B-002')) s(ref) ON t.external_ref = s.ref
                         WHEN MATCHED THEN DELETE$$) AS merge_delete;
SELECT regress_sec.run(format($$MERGE INTO outreach.participant t USING (VALUES ('B-001')) s(ref) ON t.external_ref = s.ref
                         WHEN MATCHED THEN UPDATE SET first_name = 'pwned'
                         WHEN NOT MATCHED THEN INSERT (controller_id, external_ref) VALUES (%s, s.ref)$$, :b_id)) AS merge_insert;
SELECT regress_sec.run(format($$MERGE INTO outreach.attendance t USING (VALUES (%s::bigint)) s(pid) ON t.participant_id = s.pid
                         WHEN MATCHED THEN DELETE$$, :b1)) AS merge_attendance;

-- attack 12: INSERT ... ON CONFLICT DO NOTHING at the other controller's key: the same refusal
-- whether (controller_id, external_ref) exists there (B-001) or not (B-999)
SELECT ref, regress_sec.run(format($$INSERT INTO outreach.participant (controller_id, external_ref) VALUES (%s, %L)
                                     ON CONFLICT DO NOTHING$$, :b_id, ref)) AS result
FROM (VALUES ('B-001'), ('B-999')) AS t(ref) ORDER BY ref;
SELECT ref, regress_sec.run(format($$INSERT INTO outreach.participant (controller_id, external_ref) VALUES (%s, %L)
                                     ON CONFLICT (controller_id, external_ref) DO NOTHING$$, :b_id, ref)) AS result
FROM (VALUES ('B-001'), ('B-999')) AS t(ref) ORDER BY ref;

-- attack 13: INSERT ... ON CONFLICT DO UPDATE at the other controller's key, existing or not
SELECT ref, regress_sec.try(format($$INSERT INTO outreach.participant (controller_id, external_ref) VALUES (%s, %L)
                                     ON CONFLICT (controller_id, external_ref) DO UPDATE SET first_name = 'pwned'
                                     RETURNING external_ref$$, :b_id, ref)) AS result
FROM (VALUES ('B-001'), ('B-999')) AS t(ref) ORDER BY ref;

-- attack 14: the other controller's external_ref in one's own controller neither conflicts nor
-- reveals anything: it is just a new row of A (then removed again)
SELECT regress_sec.try($$INSERT INTO outreach.participant (external_ref) VALUES ('B-001')
                         ON CONFLICT (controller_id, external_ref) DO UPDATE SET first_name = 'pwned' RETURNING external_ref$$);
SELECT regress_sec.try($$WITH d AS (DELETE FROM outreach.participant WHERE external_ref = 'B-001' RETURNING controller_id) SELECT count(*) FROM d$$);

-- attack 15: COPY TO: only own rows appear, with a column list and with a query
SET enable_seqscan = off;  -- (rows in key order)
SET enable_bitmapscan = off;
COPY outreach.participant (external_ref, first_name, last_name) TO STDOUT;
RESET enable_seqscan;
RESET enable_bitmapscan;
COPY (SELECT external_ref, first_name FROM outreach.participant_core ORDER BY 1) TO STDOUT;
COPY outreach.attendance (attended_on) TO STDOUT;
-- (all columns would include the special-category ones: refused)
COPY outreach.participant TO STDOUT;

-- attack 16: COPY TO with row_security = off is refused rather than filtered (42501)
SET row_security = off;
SELECT regress_sec.try('SELECT count(*) FROM outreach.participant') AS row_security_off;
\set VERBOSITY sqlstate
COPY outreach.participant (external_ref) TO STDOUT;
\set VERBOSITY default
RESET row_security;

-- attack 17: COPY FROM into a table under row-level security fails (0A000), also for B's ids
\copy outreach.participant (external_ref) FROM '/dev/null'
\copy outreach.attendance (controller_id, participant_id, activity_id, attended_on) FROM '/dev/null'
\set VERBOSITY sqlstate
\copy outreach.activity (activity_type, starts_on) FROM '/dev/null'
\set VERBOSITY default

-- attack 18: RETURNING from statements that name the other controller's rows returns nothing
SELECT regress_sec.try(format($$WITH u AS (UPDATE outreach.participant SET last_name = last_name WHERE controller_id = %s
                                  RETURNING external_ref, first_name) SELECT coalesce(string_agg(external_ref, ','), '(none)') FROM u$$, :b_id));
SELECT regress_sec.try(format($$WITH d AS (DELETE FROM outreach.attendance WHERE participant_id = %s RETURNING controller_id)
                                SELECT count(*) FROM d$$, :b1));
SELECT regress_sec.try($$WITH u AS (UPDATE outreach.activity SET name = name RETURNING name) SELECT string_agg(name, ',') FROM u$$);

-- attack 19: WHERE CURRENT OF a cursor positioned on the other controller's row
RESET SESSION AUTHORIZATION;
BEGIN;
DECLARE victim CURSOR FOR SELECT external_ref FROM outreach.participant WHERE external_ref = 'B-001';
FETCH 1 FROM victim;
SET LOCAL SESSION AUTHORIZATION regress_sec_alice;
SELECT regress_sec.try($$WITH u AS (UPDATE outreach.participant SET first_name = 'pwned' WHERE CURRENT OF victim RETURNING 1) SELECT count(*) FROM u$$) AS update_current_of;
SELECT regress_sec.try($$WITH d AS (DELETE FROM outreach.participant WHERE CURRENT OF victim RETURNING 1) SELECT count(*) FROM d$$) AS delete_current_of;
-- alice's own cursor sees only A's rows; WHERE CURRENT OF then works on those. (Index-only
-- scans off: in one run of twenty the UPDATE found no row; the suspect is a plan that depends on
-- whether autovacuum had set the visibility map yet.)
SET LOCAL enable_indexonlyscan = off;
DECLARE own CURSOR FOR SELECT external_ref FROM outreach.participant WHERE external_ref IN ('A-001', 'B-001');
FETCH ALL FROM own;
CLOSE own;
DECLARE own CURSOR FOR SELECT external_ref FROM outreach.participant WHERE external_ref IN ('A-001', 'B-001');
FETCH 1 FROM own;
SELECT regress_sec.try($$WITH u AS (UPDATE outreach.participant SET last_name = last_name WHERE CURRENT OF own RETURNING external_ref) SELECT string_agg(external_ref, ',') FROM u$$) AS own_current_of;
COMMIT;
SELECT * FROM regress_sec.b_before EXCEPT
SELECT external_ref, first_name, last_name, withdrawn_at FROM outreach.participant WHERE controller_id = :b_id;
SELECT count(*) AS b_rows_now FROM outreach.participant WHERE controller_id = :b_id;

-----------------------------------------------------------------------------------------------
-- Settings and roles.
-----------------------------------------------------------------------------------------------
-- Every setting PostgreSQL knows (listed as the superuser, so superuser-only ones are included)
-- with its boot, reset and enumerated values, tried by alice with set_config(..., true) and
-- followed by the same queries: which participants, activities and shared rows she sees.
-- exit_on_error is left out (it would end the session when the probe rolls back by raising),
-- and client_min_messages is kept at notice or above (debug output is not deterministic).
CREATE TABLE regress_sec.setting_values AS
SELECT s.name, v.value
FROM pg_settings s,
     LATERAL (SELECT DISTINCT x FROM unnest(
               ARRAY[s.boot_val, s.reset_val, ''] || coalesce(s.enumvals, '{}')
               || CASE WHEN s.vartype = 'bool' THEN ARRAY['on', 'off'] ELSE '{}' END) AS x
              WHERE x IS NOT NULL) AS v(value)
WHERE s.name NOT IN ('exit_on_error', 'outreach.key_file')
  AND NOT (s.name = 'client_min_messages' AND v.value ~ '^(debug|log)')
UNION ALL
SELECT 'outreach.key_file', x FROM unnest(ARRAY['', '/tmp/regress_sec_fake.keys']) AS x
UNION ALL
SELECT 'role', x FROM unnest(ARRAY['regress_sec_bob', 'outreach_regress_sec_b_writer', 'outreach_regress_sec_a_dpo', 'outreach_processor', 'postgres']) AS x;
GRANT SELECT ON regress_sec.setting_values TO PUBLIC;
CREATE FUNCTION regress_sec.visible() RETURNS text LANGUAGE sql AS $$
  SELECT (SELECT coalesce(string_agg(external_ref, ',' ORDER BY external_ref), '') FROM outreach.participant) || ' | ' ||
         (SELECT count(*) FROM outreach.activity) || ' | ' ||
         (SELECT count(*) FROM outreach.shared_engagement)
$$;
CREATE FUNCTION regress_sec.sweep_settings()
RETURNS TABLE (name text, value text, outcome text) LANGUAGE plpgsql AS $$
DECLARE
  s record;
BEGIN
  FOR s IN SELECT v.name, v.value FROM regress_sec.setting_values v ORDER BY 1, 2 LOOP
    name := s.name;
    value := s.value;
    BEGIN
      PERFORM set_config(s.name, s.value, true);
      outcome := 'saw ' || regress_sec.visible();
      RAISE EXCEPTION 'roll back' USING ERRCODE = 'ZZ001';
    EXCEPTION WHEN SQLSTATE 'ZZ001' THEN
      NULL;  -- the setting is undone with the sub-transaction
    WHEN OTHERS THEN
      outcome := 'refused ' || SQLSTATE;
    END;
    RETURN NEXT;
  END LOOP;
END $$;

SET SESSION AUTHORIZATION regress_sec_alice;
SELECT regress_sec.visible() AS alice_sees;
-- attack 20: SET of any setting (set_config of every setting and value) never widens what is seen
CREATE TEMP TABLE sweep AS SELECT * FROM regress_sec.sweep_settings();
SELECT count(DISTINCT name) > 250 AS many_settings_tried, count(*) > 600 AS many_values_tried,
       count(*) FILTER (WHERE outcome LIKE 'saw %' AND outcome <> 'saw ' || regress_sec.visible()) AS saw_something_else
FROM sweep;
SELECT name, value, outcome FROM sweep
WHERE name IN ('row_security', 'session_replication_role', 'outreach.key_file', 'role', 'search_path', 'plan_cache_mode', 'default_transaction_read_only')
ORDER BY name, value;

-- attack 21: SET row_security = off, SET session_replication_role = replica (would skip the
-- audit and keep_keys triggers)
SELECT regress_sec.run('SET row_security = off') AS set_row_security,
       regress_sec.try('SELECT count(*) FROM outreach.participant') AS query_after;
RESET row_security;
SELECT regress_sec.run('SET session_replication_role = replica') AS session_replication_role,
       regress_sec.try($$SELECT set_config('session_replication_role', 'replica', false)$$) AS via_set_config;

-- attack 22: the outreach.key_file setting: cannot be read, set, or stored for a role or database
SELECT regress_sec.try('SHOW outreach.key_file') AS show,
       regress_sec.try($$SELECT current_setting('outreach.key_file')$$) AS current_setting;
SELECT regress_sec.try($$SELECT current_setting('outreach.key_file', true)$$) AS missing_ok;
SELECT regress_sec.run($$SET outreach.key_file = '/tmp/regress_sec_fake.keys'$$) AS set,
       regress_sec.try($$SELECT set_config('outreach.key_file', '/tmp/regress_sec_fake.keys', true)$$) AS set_config;
SELECT regress_sec.run($$ALTER ROLE regress_sec_alice SET outreach.key_file = '/tmp/regress_sec_fake.keys'$$) AS alter_role,
       regress_sec.run(format($$ALTER DATABASE %I SET outreach.key_file = '/tmp/regress_sec_fake.keys'$$, current_database())) AS alter_database;
SELECT count(*) AS listed_in_pg_settings FROM pg_settings WHERE name = 'outreach.key_file';
SELECT regress_sec.try($$SELECT count(*) FROM pg_file_settings$$) AS pg_file_settings;

-- attack 23: SET ROLE to the other member's roles, the processor, the global level roles
SELECT r AS target, regress_sec.run(format('SET ROLE %I', r)) AS result
FROM (VALUES ('regress_sec_bob'), ('outreach_regress_sec_b_reader'), ('outreach_regress_sec_b_writer'),
             ('outreach_regress_sec_b_dpo'), ('outreach_regress_sec_a_dpo'), ('outreach_processor'),
             ('outreach_dpo'), ('postgres')) AS t(r)
ORDER BY r;
SELECT regress_sec.try($$SELECT set_config('role', 'outreach_regress_sec_b_writer', false)$$) AS set_config_role;
SELECT current_user, session_user;

-- attack 24: SET ROLE to a global level role alice is a member of (outreach_writer) acts for no
-- controller: no rows, no default controller
SET ROLE outreach_writer;
SELECT regress_sec.state('SELECT regress_sec.visible()') AS as_outreach_writer;
-- (only the SQLSTATE: whether the default's EXECUTE check or the read of controller_role refuses
-- first depends on whether this backend's cache of controller_role is warm)
SELECT left(regress_sec.run($$INSERT INTO outreach.participant (external_ref) VALUES ('A-900')$$), 5) AS insert_default;
RESET ROLE;
SET ROLE outreach_regress_sec_a_reader;
SELECT regress_sec.visible() AS as_a_reader;
SELECT regress_sec.run($$INSERT INTO outreach.participant (external_ref) VALUES ('A-900')$$) AS insert_as_reader;
RESET ROLE;
RESET SESSION AUTHORIZATION;

-----------------------------------------------------------------------------------------------
-- Cached plans across roles.
-----------------------------------------------------------------------------------------------
-- attack 25: PREPARE as alice, EXECUTE as bob, plan_cache_mode = force_generic_plan
SET plan_cache_mode = force_generic_plan;
SET ROLE regress_sec_alice;
PREPARE refs AS SELECT string_agg(external_ref, ',' ORDER BY external_ref) AS refs, count(*) FROM outreach.participant;
PREPARE touch AS WITH u AS (UPDATE outreach.participant SET last_name = last_name RETURNING external_ref)
  SELECT string_agg(external_ref, ',' ORDER BY external_ref) AS touched FROM u;
EXECUTE refs;
SET ROLE regress_sec_bob;
EXECUTE refs;
EXECUTE touch;
SET ROLE regress_sec_alice;
EXECUTE refs;

-- attack 26: the same with plan_cache_mode = force_custom_plan, and auto after many executions
SET plan_cache_mode = force_custom_plan;
SET ROLE regress_sec_bob;
EXECUTE refs;
SET ROLE regress_sec_alice;
EXECUTE touch;
RESET plan_cache_mode;
EXECUTE refs; EXECUTE refs; EXECUTE refs; EXECUTE refs; EXECUTE refs; EXECUTE refs;
SET ROLE regress_sec_bob;
EXECUTE refs;
RESET ROLE;
DEALLOCATE refs;
DEALLOCATE touch;

-- attack 27: a cached plan outlives a revoked membership: carol writes for A and for B; her
-- access to A is revoked while her generic plans are cached (plans may hold the caller's
-- controllers as constants): they must then see and change B's rows only
CREATE ROLE regress_sec_carol;
SELECT outreach.grant_controller_access('regress_sec_carol', 'regress_sec_a', 'writer'),
       outreach.grant_controller_access('regress_sec_carol', 'regress_sec_b', 'writer');
SET plan_cache_mode = force_generic_plan;
SET ROLE regress_sec_carol;
PREPARE refs AS SELECT coalesce(string_agg(external_ref, ',' ORDER BY external_ref), '(none)') AS refs FROM outreach.participant;
PREPARE touch AS WITH u AS (UPDATE outreach.participant SET last_name = last_name RETURNING external_ref)
  SELECT coalesce(string_agg(external_ref, ',' ORDER BY external_ref), '(none)') AS touched FROM u;
EXECUTE refs;
EXECUTE touch;
RESET ROLE;
SELECT outreach.revoke_controller_access('regress_sec_carol', 'regress_sec_a', 'writer');
SET ROLE regress_sec_carol;
EXECUTE refs;
EXECUTE touch;
SELECT regress_sec.run($$INSERT INTO outreach.participant (controller_id, external_ref) VALUES ($$ || :a_id || $$, 'A-903')$$) AS insert_into_a,
       regress_sec.run($$DELETE FROM outreach.participant WHERE external_ref = 'A-001'$$) AS delete_from_a;
RESET ROLE;
DEALLOCATE refs;
DEALLOCATE touch;
RESET plan_cache_mode;

-- attack 28: a plpgsql function's cached plan, first run by alice, then by bob
SET SESSION AUTHORIZATION regress_sec_evil;
GRANT USAGE ON SCHEMA regress_sec_evil TO PUBLIC;
CREATE FUNCTION regress_sec_evil.refs() RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  SELECT string_agg(external_ref, ',' ORDER BY external_ref) INTO r FROM outreach.participant;
  RETURN r;
END $$;
RESET SESSION AUTHORIZATION;
SET ROLE regress_sec_alice;
SELECT regress_sec_evil.refs() AS first_alice;
SET ROLE regress_sec_bob;
SELECT regress_sec_evil.refs() AS then_bob;
SET ROLE regress_sec_alice;
SELECT regress_sec_evil.refs() AS alice_again;
RESET ROLE;

-----------------------------------------------------------------------------------------------
-- Views, CTEs, sub-selects, joins and aggregates.
-----------------------------------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_sec_evil;
-- attack 29: views created by the attacker, with and without security_invoker
CREATE VIEW regress_sec_evil.inv WITH (security_invoker = true) AS
  SELECT controller_id, external_ref, first_name FROM outreach.participant;
CREATE VIEW regress_sec_evil.own AS
  SELECT controller_id, external_ref, first_name FROM outreach.participant;
CREATE VIEW regress_sec_evil.barrier WITH (security_barrier = true) AS
  SELECT p.external_ref, a.name FROM outreach.participant p CROSS JOIN outreach.activity a;
SELECT external_ref FROM regress_sec_evil.inv ORDER BY 1;
SELECT external_ref FROM regress_sec_evil.own WHERE controller_id = :b_id;
SELECT count(*) FROM regress_sec_evil.barrier WHERE name LIKE 'B%';
-- The definer view queried by bob: policies still filter for the querying role.
GRANT SELECT ON regress_sec_evil.own TO regress_sec_bob;
SET SESSION AUTHORIZATION regress_sec_bob;
SELECT string_agg(external_ref, ',' ORDER BY external_ref) AS bob_through_evils_view FROM regress_sec_evil.own;
SET SESSION AUTHORIZATION regress_sec_alice;

-- attack 30: CTEs (also recursive), sub-selects, LATERAL and set operations
WITH all_people AS (SELECT * FROM outreach.participant_core) SELECT string_agg(external_ref, ',' ORDER BY external_ref) FROM all_people;
WITH RECURSIVE ids(n) AS (SELECT min(participant_id) FROM outreach.participant_core
                          UNION ALL
                          SELECT (SELECT min(participant_id) FROM outreach.participant_core WHERE participant_id > n)
                          FROM ids WHERE n IS NOT NULL)
SELECT count(n) AS reachable FROM ids;
SELECT (SELECT count(*) FROM outreach.participant WHERE controller_id = :b_id) AS scalar_subselect,
       EXISTS (SELECT 1 FROM outreach.participant WHERE external_ref = 'B-001') AS exists_b001,
       (SELECT count(*) FROM outreach.controller c
        WHERE c.code = 'regress_sec_b' AND EXISTS (SELECT 1 FROM outreach.activity a WHERE a.controller_id = c.controller_id)) AS b_has_activities;
SELECT c.code, x.n FROM outreach.controller c,
  LATERAL (SELECT count(*) AS n FROM outreach.participant p WHERE p.controller_id = c.controller_id) x
WHERE c.code LIKE 'regress\_sec\_%' ORDER BY 1;
SELECT external_ref FROM outreach.participant UNION SELECT name FROM outreach.activity ORDER BY 1;

-- attack 31: joining participant to itself on linkage_id to find the person at other controllers
SELECT count(*) AS linked_elsewhere FROM outreach.participant a JOIN outreach.participant b
  ON a.linkage_id OPERATOR(outreach.=) b.linkage_id AND a.controller_id <> b.controller_id;
SELECT count(*) AS linked_elsewhere_via_core FROM outreach.participant_core a, outreach.participant_core b
WHERE a.linkage_id::text = b.linkage_id::text AND a.participant_id <> b.participant_id;
-- ... or by recomputing pseudonyms of guessed identifiers (no EXECUTE)
SELECT regress_sec.try($$SELECT outreach.pseudonymise('Zoe', 'Brown', '2008-01-02', 'SW1A 1AA')::text$$) AS pseudonymise;
SELECT regress_sec.try(format($$SELECT outreach.pseudo_id_matches(linkage_id, 'Zoe', 'Brown', '2008-01-02', 'SW1A 1AA')::text
                                FROM outreach.participant WHERE external_ref = 'A-001'$$)) AS pseudo_id_matches;

-- attack 32: aggregates count only own rows
SELECT count(*) AS participants, count(DISTINCT controller_id) AS controllers, count(linkage_id) AS with_linkage,
       min(external_ref), max(external_ref) FROM outreach.participant;
SELECT controller_id = :a_id AS is_a, count(*) FROM outreach.participant GROUP BY 1 ORDER BY 1;
SELECT (SELECT count(*) FROM outreach.attendance) AS attendances, (SELECT count(*) FROM outreach.activity) AS activities;
SELECT count(*) AS rows_in_window FROM (SELECT count(*) OVER () FROM outreach.participant) w;

-----------------------------------------------------------------------------------------------
-- Existence probing through keys.
-----------------------------------------------------------------------------------------------
-- attack 33: attendance of an own activity by the other controller's participant: the same
-- SQLSTATE and message for an existing (B's) and a non-existing participant id
SELECT which, regress_sec.run(format($$INSERT INTO outreach.attendance (participant_id, activity_id, attended_on) VALUES (%s, %s, '2024-03-01')$$, pid, :a_act)) AS result
FROM (VALUES ('existing at B', :b1), ('no such id', :no_such_participant)) AS t(which, pid) ORDER BY which;
SELECT count(DISTINCT regress_sec.run(format($$INSERT INTO outreach.attendance (participant_id, activity_id, attended_on) VALUES (%s, %s, '2024-03-01')$$, pid, :a_act))) AS distinct_outcomes
FROM (VALUES (:b1), (:b2), (:no_such_participant)) AS t(pid);

-- attack 34: attendance of an own participant at the other controller's activity, existing or not
SELECT which, regress_sec.run(format($$INSERT INTO outreach.attendance (participant_id, activity_id, attended_on) VALUES (%s, %s, '2024-03-01')$$, :a1, aid)) AS result
FROM (VALUES ('existing at B', :b_act), ('no such id', :no_such_activity)) AS t(which, aid) ORDER BY which;

-- attack 35: attendance naming the other controller (existing pair or not): the policy refuses
SELECT which, regress_sec.run(format($$INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on) VALUES (%s, %s, %s, '2024-07-01')$$, :b_id, pid, aid)) AS result
FROM (VALUES ('existing at B', :b1, :b_act), ('no such ids', :no_such_participant, :no_such_activity)) AS t(which, pid, aid) ORDER BY which;

-- attack 36: a table of one's own with a foreign key onto participant (existence oracle) or
-- inheriting from it
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_sec_evil;
SELECT regress_sec.run($$CREATE TABLE regress_sec_evil.probe (c int, p bigint,
                           FOREIGN KEY (c, p) REFERENCES outreach.participant (controller_id, participant_id))$$) AS fk_onto_participant;
SELECT regress_sec.run($$CREATE TABLE regress_sec_evil.probe2 (c int REFERENCES outreach.controller, a bigint,
                           FOREIGN KEY (c, a) REFERENCES outreach.activity (controller_id, activity_id))$$) AS fk_onto_activity;
SELECT regress_sec.run($$CREATE TABLE regress_sec_evil.child () INHERITS (outreach.participant)$$) AS inherit;
CREATE TABLE regress_sec_evil.part (controller_id int);
SELECT regress_sec.run($$ALTER TABLE regress_sec_evil.part INHERIT outreach.participant$$) AS alter_inherit;

-- attack 37: duplicate-key errors never show another controller's values (or any values, under
-- row security), and B's external_ref is free in A
SET SESSION AUTHORIZATION regress_sec_alice;
SELECT regress_sec.run($$INSERT INTO outreach.participant (external_ref) VALUES ('A-001')$$) AS own_duplicate;
SELECT regress_sec.run($$UPDATE outreach.participant SET external_ref = 'A-001' WHERE external_ref = 'A-002'$$) AS own_duplicate_update;
SELECT regress_sec.run($$INSERT INTO outreach.participant (external_ref, first_name) VALUES ('B-002', repeat('x', 201))$$) AS check_violation;
SELECT regress_sec.try($$WITH i AS (INSERT INTO outreach.participant (external_ref) VALUES ('B-002'), ('B-003') RETURNING external_ref)
                         SELECT string_agg(external_ref, ',') FROM i$$) AS b_refs_free_in_a;
SELECT regress_sec.try($$WITH d AS (DELETE FROM outreach.participant WHERE external_ref IN ('B-002', 'B-003') RETURNING 1) SELECT count(*) FROM d$$);

-- attack 38: forging keys and derived columns: participant_id, linkage_id, timestamps
SELECT regress_sec.run(format($$INSERT INTO outreach.participant (participant_id, external_ref) OVERRIDING SYSTEM VALUE VALUES (%s, 'A-901')$$, :b1)) AS forge_participant_id;
SELECT regress_sec.run($$INSERT INTO outreach.participant (external_ref, linkage_id) SELECT 'A-901', linkage_id FROM outreach.participant WHERE external_ref = 'A-001'$$) AS forge_linkage_id;
SELECT regress_sec.run($$UPDATE outreach.participant SET linkage_id = NULL$$) AS update_linkage_id;
SELECT regress_sec.run($$UPDATE outreach.participant SET created_at = now(), updated_at = now()$$) AS update_timestamps;
SELECT regress_sec.run(format($$UPDATE outreach.attendance SET participant_id = %s$$, :b1)) AS repoint_attendance;

-- attack 39: counting the other controller's rows through sequences and statistics
SELECT regress_sec.try($$SELECT last_value::text FROM outreach.participant_participant_id_seq$$) AS sequence_last_value,
       regress_sec.try($$SELECT currval('outreach.participant_participant_id_seq')::text$$) AS currval,
       regress_sec.try($$SELECT nextval('outreach.activity_activity_id_seq')::text$$) AS nextval;
RESET SESSION AUTHORIZATION;
ANALYZE outreach.participant, outreach.activity, outreach.attendance;
SET SESSION AUTHORIZATION regress_sec_alice;
SELECT count(*) AS pg_stats_rows FROM pg_stats WHERE schemaname = 'outreach' AND tablename IN ('participant', 'activity', 'attendance');
SELECT count(*) AS pg_stats_ext_rows FROM pg_stats_ext WHERE schemaname = 'outreach';
SELECT regress_sec.try($$SELECT count(*) FROM pg_statistic$$) AS pg_statistic;

-----------------------------------------------------------------------------------------------
-- Changing the tables, policies and functions themselves.
-----------------------------------------------------------------------------------------------
-- attack 40: DDL that would switch row security off or capture rows (42501: not the owner)
SELECT stmt, regress_sec.run(stmt) AS result FROM (VALUES
  ('ALTER TABLE outreach.participant DISABLE ROW LEVEL SECURITY'),
  ('ALTER TABLE outreach.participant NO FORCE ROW LEVEL SECURITY'),
  ('DROP POLICY participant_read ON outreach.participant'),
  ('ALTER POLICY participant_read ON outreach.participant USING (true)'),
  ('CREATE POLICY regress_sec_all ON outreach.participant USING (true)'),
  ('ALTER TABLE outreach.participant DISABLE TRIGGER audit_insert'),
  ('ALTER TABLE outreach.participant DISABLE TRIGGER USER'),
  ('CREATE TRIGGER regress_sec_t BEFORE INSERT ON outreach.participant FOR EACH ROW EXECUTE FUNCTION outreach.keep_keys()'),
  ('CREATE RULE regress_sec_r AS ON INSERT TO outreach.participant DO ALSO NOTIFY regress_sec'),
  ('CREATE INDEX regress_sec_i ON outreach.participant (regress_sec_evil.leak(first_name))'),
  ('CREATE STATISTICS regress_sec_s ON controller_id, external_ref FROM outreach.participant'),
  ('ALTER TABLE outreach.participant OWNER TO regress_sec_alice'),
  ('TRUNCATE outreach.attendance'),
  ('TRUNCATE outreach.participant CASCADE'),
  ('ALTER VIEW outreach.shared_engagement SET (security_barrier = false)'),
  ('CREATE OR REPLACE VIEW outreach.participant_core AS SELECT 1 AS x'),
  ('CREATE OR REPLACE FUNCTION outreach.my_controller_ids(level text DEFAULT ''reader'') RETURNS int[] LANGUAGE sql AS ''SELECT ARRAY(SELECT controller_id FROM outreach.controller)'''),
  ('ALTER FUNCTION outreach.my_controller_ids(text) SET search_path = public'),
  ('ALTER FUNCTION outreach.read_special_category(int, bigint[]) OWNER TO regress_sec_alice'),
  ('CREATE FUNCTION outreach.regress_sec_planted() RETURNS int LANGUAGE sql AS ''SELECT 1'''),
  ('CREATE TABLE outreach.regress_sec_planted (x int)'),
  ('ALTER EXTENSION outreach UPDATE'),
  ('DROP EXTENSION outreach'),
  ('ALTER SCHEMA outreach OWNER TO regress_sec_alice'),
  ('COMMENT ON TABLE outreach.participant IS ''pwned''')
) AS t(stmt) ORDER BY stmt;

-- attack 41: row locks on the other controller's rows (FOR UPDATE, FOR KEY SHARE, NOWAIT) lock nothing
SELECT count(*) AS locked FROM (SELECT 1 FROM outreach.participant WHERE controller_id = :b_id FOR UPDATE) l;
SELECT count(*) AS locked FROM (SELECT 1 FROM outreach.participant WHERE external_ref LIKE 'B-%' FOR KEY SHARE NOWAIT) l;
SELECT count(*) AS locked FROM (SELECT 1 FROM outreach.attendance WHERE controller_id = :b_id FOR SHARE SKIP LOCKED) l;
-- and granting oneself privileges is a no-op
SET client_min_messages = error;
GRANT SELECT, UPDATE, TRUNCATE ON outreach.participant TO regress_sec_alice;
RESET client_min_messages;
SELECT has_table_privilege('outreach.participant', 'SELECT') AS table_select,
       has_table_privilege('outreach.participant', 'TRUNCATE') AS table_truncate,
       has_column_privilege('outreach.participant', 'sex', 'SELECT') AS sex_select;

-----------------------------------------------------------------------------------------------
-- Roles without rows: reader writing, analyst, nobody.
-----------------------------------------------------------------------------------------------
-- attack 42: a reader of A writes, a reader of A reads B
SET SESSION AUTHORIZATION regress_sec_rita;
SELECT regress_sec.visible() AS rita_sees;
SELECT regress_sec.run($$INSERT INTO outreach.participant (external_ref) VALUES ('A-902')$$) AS reader_insert,
       regress_sec.run($$UPDATE outreach.participant SET first_name = 'x'$$) AS reader_update,
       regress_sec.run($$DELETE FROM outreach.participant$$) AS reader_delete;
SELECT regress_sec.try($$SELECT count(*) FROM (SELECT 1 FROM outreach.participant FOR UPDATE) l$$) AS reader_lock;

-- attack 43: the analyst and a role with no access read personal data
SET SESSION AUTHORIZATION regress_sec_ana;
SELECT regress_sec.try('SELECT count(*) FROM outreach.participant') AS analyst_participant,
       regress_sec.try('SELECT count(*) FROM outreach.participant_core') AS analyst_core,
       regress_sec.try('SELECT count(*) FROM outreach.shared_engagement') AS analyst_shared,
       regress_sec.try('SELECT count(*) FROM outreach.attendance') AS analyst_attendance;
SET SESSION AUTHORIZATION regress_sec_nobody;
SELECT regress_sec.state('SELECT count(*) FROM outreach.participant') AS nobody_participant,
       regress_sec.state('SELECT count(*) FROM outreach.shared_engagement') AS nobody_shared,
       regress_sec.state($$SELECT outreach.my_controller_ids()::text$$) AS nobody_ids,
       regress_sec.state($$SELECT count(*) FROM outreach.controller$$) AS nobody_controllers,
       regress_sec.state($$SELECT count(*) FROM outreach.audit_log$$) AS nobody_audit;
RESET SESSION AUTHORIZATION;

-- Nothing of B's changed during all of the above.
SELECT * FROM regress_sec.b_before EXCEPT
SELECT external_ref, first_name, last_name, withdrawn_at FROM outreach.participant WHERE controller_id = :b_id;
SELECT count(*) AS b_participants, (SELECT count(*) FROM outreach.attendance WHERE controller_id = :b_id) AS b_attendances,
       (SELECT string_agg(name, ',') FROM outreach.activity WHERE controller_id = :b_id) AS b_activities
FROM outreach.participant WHERE controller_id = :b_id;

-- Clean up: the suite's controllers, their data and audit rows, every role it created.
SET client_min_messages = warning;
SELECT pg_temp.sec_cleanup();
RESET client_min_messages;
SELECT count(*) AS roles_left FROM pg_roles WHERE rolname LIKE 'regress\_sec\_%' OR rolname LIKE 'outreach\_regress\_sec\_%';
