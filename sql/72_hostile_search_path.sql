-- Security suite, part 3: hostile search_path. A member with a schema of its own (and, where a
-- database still lets everyone create in public, public too) plants functions, aggregates and
-- operators under the names the extension's code uses, puts them first in search_path, then
-- calls every function it may execute and changes data so that every trigger fires; the
-- superuser does its part (controllers, grants, ALTER EXTENSION UPDATE) under the same paths.
-- Each planted object writes to a table its owner owns when it runs: that table must stay
-- empty. Then the golden list of SECURITY DEFINER functions, and the attributes of the roles
-- members use. Same conventions as 70_rls_attacks.
\i sql/security_setup.psql

-- regress_sec.try_in(path, query) and run_in(path, statement): try and run with search_path set
-- to path for the query only (the helpers' own expressions never see that path).
CREATE FUNCTION regress_sec.try_in(path text, query text) RETURNS text LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  result text;
  detail text;
BEGIN
  BEGIN
    PERFORM pg_catalog.set_config('search_path', path, true);
    EXECUTE query INTO result;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN regress_sec.failure(SQLSTATE, SQLERRM, detail);
  END;
  RETURN 'ok: ' || coalesce(result, 'NULL');
END $$;
CREATE FUNCTION regress_sec.run_in(path text, statement text) RETURNS text LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n bigint;
  detail text;
BEGIN
  BEGIN
    PERFORM pg_catalog.set_config('search_path', path, true);
    EXECUTE statement;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN regress_sec.failure(SQLSTATE, SQLERRM, detail);
  END;
  RETURN 'ok: ' || n || ' rows';
END $$;
ALTER FUNCTION regress_sec.failure(text, text, text) SET search_path = pg_catalog, pg_temp;

-- Two members, their people, and the attacker.
SELECT outreach.create_controller('regress_sec_a', 'Controller A') IS NOT NULL AS created_a,
       outreach.create_controller('regress_sec_b', 'Controller B') IS NOT NULL AS created_b;
SELECT controller_id AS a_id FROM outreach.controller WHERE code = 'regress_sec_a' \gset
SELECT controller_id AS b_id FROM outreach.controller WHERE code = 'regress_sec_b' \gset
CREATE ROLE regress_sec_alice;    -- writer for A
CREATE ROLE regress_sec_dora;     -- DPO for A
CREATE ROLE regress_sec_bob;      -- writer for B
CREATE ROLE regress_sec_evil;     -- writer for A and reader for B (a partnership), with a schema
CREATE SCHEMA regress_sec_evil AUTHORIZATION regress_sec_evil;
SELECT outreach.grant_controller_access(r::regrole, c, l)
FROM (VALUES ('regress_sec_alice', 'regress_sec_a', 'writer'), ('regress_sec_dora', 'regress_sec_a', 'dpo'),
             ('regress_sec_bob', 'regress_sec_b', 'writer'), ('regress_sec_evil', 'regress_sec_a', 'writer'),
             ('regress_sec_evil', 'regress_sec_b', 'reader')) AS g(r, c, l);
SET SESSION AUTHORIZATION regress_sec_bob;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, sex)
VALUES ('B-001', 'Zoe', 'Brown', '2008-01-02', 'SW1A 1AA', 'b-sex-1'),
       ('B-002', 'Bertram', 'Bsecret', '2008-03-04', 'M1 1AE', 'b-sex-2'),
       ('B-003', 'Beatrix', 'Bhidden', '2007-09-10', 'CF10 1AA', 'b-sex-3');
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('summer_school', 'B secret school', '2024-07-01');
INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
SELECT p.participant_id, a.activity_id, '2024-07-01' FROM outreach.participant p, outreach.activity a;
SET SESSION AUTHORIZATION regress_sec_alice;
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, sex)
VALUES ('A-001', 'Zoë', 'brown', '2008-01-02', 'sw1a1aa', 'a-sex-1'), ('A-002', 'Ada', 'Aown', '2007-05-06', 'EC1A 1BB', 'a-sex-2');
INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('campus_visit', 'A visit', '2024-03-01');
RESET SESSION AUTHORIZATION;
SELECT activity_id AS a_act FROM outreach.activity WHERE controller_id = :a_id \gset

-----------------------------------------------------------------------------------------------
-- The planted objects.
-----------------------------------------------------------------------------------------------
-- regress_sec_evil.tripwire records every planted object that runs, and as whom.
SET SESSION AUTHORIZATION regress_sec_evil;
GRANT USAGE ON SCHEMA regress_sec_evil TO PUBLIC;
CREATE TABLE regress_sec_evil.tripwire (planted text, run_as name);
CREATE FUNCTION regress_sec_evil.trip(planted text) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO regress_sec_evil.tripwire VALUES (planted, session_user);
  RETURN true;
END $$;
GRANT EXECUTE ON FUNCTION regress_sec_evil.trip(text) TO PUBLIC;
RESET SESSION AUTHORIZATION;
-- regress_sec.plant(schema, twist): creates, as its caller, look-alikes of what the extension's
-- SQL and C code call. Each records itself, then answers like the original would, except:
-- pg_has_role, has_column_privilege and the comparison operators answer "true", and with twist
-- "=" on text answers so that a reader's level would read as writer.
CREATE FUNCTION regress_sec.plant(s text, twist boolean DEFAULT false) RETURNS void LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $plant$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT * FROM (VALUES
    ('lower(text)', 'text', 'pg_catalog.lower($1)'),
    ('upper(text)', 'text', 'pg_catalog.upper($1)'),
    ('btrim(text)', 'text', 'pg_catalog.btrim($1)'),
    ('length(text)', 'int', 'pg_catalog.length($1)'),
    ('format(text)', 'text', 'pg_catalog.format($1)'),
    ('format(text, text)', 'text', 'pg_catalog.format($1, $2)'),
    ('format(text, text, text)', 'text', 'pg_catalog.format($1, $2, $3)'),
    ('format(text, regrole, text)', 'text', 'pg_catalog.format($1, $2, $3)'),
    ('now()', 'timestamptz', 'pg_catalog.now()'),
    ('statement_timestamp()', 'timestamptz', 'pg_catalog.statement_timestamp()'),
    ('pg_has_role(name, oid, text)', 'boolean', 'true'),
    ('pg_has_role(oid, oid, text)', 'boolean', 'true'),
    ('pg_has_role(name, text, text)', 'boolean', 'true'),
    ('pg_has_role(oid, text, text)', 'boolean', 'true'),
    ('has_column_privilege(oid, regclass, text, text)', 'boolean', 'true'),
    ('cardinality(anyarray)', 'int', 'pg_catalog.cardinality($1)'),
    ('array_remove(anyarray, anyelement)', 'anyarray', 'pg_catalog.array_remove($1, $2)'),
    ('jsonb_build_object(text, bigint)', 'jsonb', 'pg_catalog.jsonb_build_object($1, $2)'),
    ('jsonb_build_object(text, bigint, text, bigint)', 'jsonb', 'pg_catalog.jsonb_build_object($1, $2, $3, $4)'),
    ('"coalesce"(anyelement, anyelement)', 'anyelement', 'pg_catalog.num_nulls($1) + 0 = 0 AND false'),
    ('set_config(text, text, boolean)', 'text', 'pg_catalog.set_config($1, $2, $3)'),
    ('current_setting(text)', 'text', 'pg_catalog.current_setting($1)'),
    ('string_to_array(text, text)', 'text[]', 'pg_catalog.string_to_array($1, $2)'),
    ('quote_ident(text)', 'text', 'pg_catalog.quote_ident($1)'),
    ('my_controller_ids(text)', 'int[]', 'ARRAY(SELECT controller_id FROM outreach.controller)'),
    ('default_controller_id()', 'int', '(SELECT min(controller_id) FROM outreach.controller)'),
    ('invoking_role()', 'regrole', '''postgres''::pg_catalog.regrole'),
    ('pseudonymise(text, text, date, text, text)', 'text', 'NULL'),
    ('int4eq(int, int)', 'boolean', 'true'),
    ('texteq(text, text)', 'boolean', 'true'),
    ('int4ne(int, int)', 'boolean', 'false'),
    ('int8eq(bigint, bigint)', 'boolean', 'true'),
    ('oideq(oid, oid)', 'boolean', 'true'),
    ('textregexeq(text, text)', 'boolean', 'true'),
    ('textregexne(text, text)', 'boolean', 'false'),
    ('agg_step(int[], int)', 'int[]', 'pg_catalog.array_append($1, $2)'),
    ('text_step(text, text, text)', 'text', '$1 OPERATOR(pg_catalog.||) $2'),
    ('bool_step(boolean, boolean)', 'boolean', 'true')
  ) AS t(sig, ret, body) LOOP
    EXECUTE format($f$CREATE FUNCTION %I.%s RETURNS %s LANGUAGE plpgsql AS $b$
                      BEGIN PERFORM regress_sec_evil.trip(%L); RETURN %s; END $b$$f$,
                   s, f.sig, f.ret, s || '.' || f.sig,
                   CASE WHEN f.sig LIKE '"coalesce"%' THEN '$1' ELSE f.body END);
  END LOOP;
  IF twist THEN  -- "=" on text: a reader's level reads as writer (see attack on my_controller_ids)
    EXECUTE format($f$CREATE OR REPLACE FUNCTION %I.texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS $b$
                      BEGIN
                        PERFORM regress_sec_evil.trip(%L);
                        IF $2 OPERATOR(pg_catalog.=) 'reader' THEN RETURN false; END IF;
                        IF $2 OPERATOR(pg_catalog.=) 'writer' THEN RETURN $1 OPERATOR(pg_catalog.=) ANY (ARRAY['reader', 'writer']); END IF;
                        RETURN $1 OPERATOR(pg_catalog.=) $2;
                      END $b$$f$, s, s || '.texteq(text, text)');
  END IF;
  EXECUTE format('CREATE OPERATOR %I.= (LEFTARG = int, RIGHTARG = int, FUNCTION = %I.int4eq)', s, s);
  EXECUTE format('CREATE OPERATOR %I.= (LEFTARG = text, RIGHTARG = text, FUNCTION = %I.texteq)', s, s);
  EXECUTE format('CREATE OPERATOR %I.<> (LEFTARG = int, RIGHTARG = int, FUNCTION = %I.int4ne)', s, s);
  EXECUTE format('CREATE OPERATOR %I.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = %I.int8eq)', s, s);
  EXECUTE format('CREATE OPERATOR %I.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = %I.oideq)', s, s);
  EXECUTE format('CREATE OPERATOR %I.~ (LEFTARG = text, RIGHTARG = text, FUNCTION = %I.textregexeq)', s, s);
  EXECUTE format('CREATE OPERATOR %I.!~ (LEFTARG = text, RIGHTARG = text, FUNCTION = %I.textregexne)', s, s);
  EXECUTE format('CREATE AGGREGATE %I.array_agg(int) (SFUNC = %I.agg_step, STYPE = int[])', s, s);
  EXECUTE format('CREATE AGGREGATE %I.string_agg(text, text) (SFUNC = %I.text_step, STYPE = text)', s, s);
  EXECUTE format('CREATE AGGREGATE %I.bool_or(boolean) (SFUNC = %I.bool_step, STYPE = boolean)', s, s);
  -- Relations under the names of catalogues and of the extension's tables.
  EXECUTE format('CREATE VIEW %I.pg_roles AS SELECT r.*, regress_sec_evil.trip(%L) AS tripped FROM pg_catalog.pg_roles r', s, s || '.pg_roles');
  EXECUTE format('CREATE VIEW %I.controller_role AS SELECT 1 AS controller_id, ''dpo''::text AS level, 10::oid AS role, regress_sec_evil.trip(%L) AS tripped', s, s || '.controller_role');
  EXECUTE format('CREATE VIEW %I.audit_log AS SELECT regress_sec_evil.trip(%L) AS tripped', s, s || '.audit_log');
  EXECUTE format('CREATE VIEW %I.participant AS SELECT regress_sec_evil.trip(%L) AS tripped', s, s || '.participant');
END $plant$;

SET SESSION AUTHORIZATION regress_sec_evil;
SELECT regress_sec.plant('regress_sec_evil', twist => true);
RESET SESSION AUTHORIZATION;
-- Public is not writable by default since PostgreSQL 15; a database upgraded from an older
-- release may still let everyone create there. Grant it here to plant there too.
SET SESSION AUTHORIZATION regress_sec_evil;
SELECT regress_sec.run('CREATE FUNCTION public.regress_sec_probe() RETURNS int LANGUAGE sql AS ''SELECT 1''') AS create_in_public_by_default;
RESET SESSION AUTHORIZATION;
GRANT CREATE ON SCHEMA public TO regress_sec_evil;
SET SESSION AUTHORIZATION regress_sec_evil;
SELECT regress_sec.plant('public');
-- ... and in its session's temporary schema (searched first for relations and types, never for
-- functions or operators)
CREATE TEMP TABLE pg_roles (rolname name, oid oid);
CREATE TEMP TABLE controller_role (controller_id int, level text, role regrole);
CREATE TEMP TABLE new_rows (controller_id int, participant_id bigint);
CREATE FUNCTION pg_temp.lower(text) RETURNS text LANGUAGE sql AS $$ SELECT regress_sec_evil.trip('pg_temp.lower(text)')::text $$;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS planted_functions FROM pg_proc WHERE proowner = 'regress_sec_evil'::regrole AND proname <> 'trip';
SELECT count(*) AS planted_operators FROM pg_operator WHERE oprowner = 'regress_sec_evil'::regrole;

\set evil_path 'regress_sec_evil, pg_catalog, outreach, public'
\set public_path 'public, pg_catalog, outreach'

-- The tripwire works: the attacker's own unqualified calls do reach the planted objects.
SET SESSION AUTHORIZATION regress_sec_alice;
SELECT regress_sec.try_in(:'evil_path', $$SELECT lower('X')$$) AS evil_lower,
       regress_sec.try_in(:'public_path', $$SELECT (1 = 2)::pg_catalog.text$$) AS public_int_eq;
RESET SESSION AUTHORIZATION;
SELECT planted, run_as FROM regress_sec_evil.tripwire ORDER BY 1;
TRUNCATE regress_sec_evil.tripwire;

-----------------------------------------------------------------------------------------------
-- A member under the hostile search_path.
-----------------------------------------------------------------------------------------------
-- attack 69: the functions a member may execute: the list (a change here must be reviewed)
SELECT p.oid::regprocedure AS executable_by_a_writer
FROM pg_proc p
WHERE p.pronamespace = 'outreach'::regnamespace
  AND has_function_privilege('regress_sec_alice', p.oid, 'EXECUTE')
  AND p.proname !~ '_(in|out|recv|send|eq|ne|lt|le|gt|ge|cmp|hash|hash_extended|sortsupport)$'
ORDER BY p.oid::regprocedure::text;

-- attack 70: every one of them called under both hostile paths (and the ones it may not call)
SET SESSION AUTHORIZATION regress_sec_alice;
SELECT q, regress_sec.try_in(:'evil_path', q) AS evil_path, regress_sec.try_in(:'public_path', q) AS public_path
FROM (VALUES
  ($$SELECT pg_catalog.cardinality(outreach.my_controller_ids())$$),
  ($$SELECT pg_catalog.cardinality(outreach.my_controller_ids('writer'))$$),
  ($$SELECT pg_catalog.cardinality(outreach.my_controller_ids('dpo'))$$),
  ($$SELECT pg_catalog.cardinality(outreach.my_controller_ids('analyst'))$$),
  ($$SELECT outreach.default_controller_id() IS NOT NULL$$),
  ($$SELECT outreach.controller_visible(outreach.default_controller_id(), 'writer')$$),
  ($$SELECT outreach.controller_visible((SELECT controller_id FROM outreach.controller WHERE code OPERATOR(pg_catalog.=) 'regress_sec_b'), 'reader')$$),
  ($$SELECT outreach.invoking_role()$$),
  ($$SELECT outreach.normalise_name('Zoë O''Brien')$$),
  ($$SELECT outreach.is_valid_postcode('sw1a1aa')$$),
  ($$SELECT outreach.uk_postcode('sw1a1aa')$$),
  ($$SELECT outreach.postcode_area('EC1A 1BB') OPERATOR(pg_catalog.||) outreach.postcode_district('EC1A 1BB') OPERATOR(pg_catalog.||)
            outreach.postcode_sector('EC1A 1BB') OPERATOR(pg_catalog.||) outreach.postcode_outward('EC1A 1BB') OPERATOR(pg_catalog.||)
            outreach.postcode_inward('EC1A 1BB')$$),
  ($$SELECT outreach.expected_he_entry_year('2008-01-02')$$),
  ($$SELECT outreach.academic_year('2024-03-01') OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) outreach.academic_year_label(2024)
            OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) outreach.academic_year_label(pg_catalog.date '2024-03-01')$$),
  ($$SELECT outreach.pseudo_id_key_version(linkage_id) OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) pg_catalog.length(outreach.pseudo_id_digest(linkage_id))
     FROM outreach.participant WHERE external_ref OPERATOR(pg_catalog.=) 'A-001'$$),
  ($$SELECT count(*) FROM outreach.participant a JOIN outreach.participant b ON a.linkage_id OPERATOR(outreach.=) b.linkage_id$$),
  ($$SELECT outreach.keep_keys()$$),
  ($$SELECT count(*) FROM outreach.read_special_category(outreach.default_controller_id())$$),
  ($$SELECT outreach.pseudonymise('Zoe', 'Brown', '2008-01-02', 'SW1A 1AA')$$),
  ($$SELECT outreach.create_controller('regress_sec_x', 'X')$$),
  ($$SELECT outreach.grant_controller_access('regress_sec_alice', 'regress_sec_b', 'dpo')$$),
  ($$SELECT outreach.revoke_controller_access('regress_sec_bob', 'regress_sec_b', 'writer')$$),
  ($$SELECT count(*) FROM outreach.participant_core$$),
  ($$SELECT count(*) FROM outreach.shared_engagement$$),
  ($$SELECT outreach.retention_confirm_by(2024, outreach.default_controller_id()) IS NOT NULL$$),
  ($$SELECT outreach.retention_cycle(pg_catalog.date '2024-10-30', outreach.default_controller_id())$$),
  ($$SELECT (outreach.retention_decide(true, true, true, pg_catalog.date '2008-01-02', pg_catalog.date '2024-01-01', NULL, NULL, NULL,
                                       15, 7, 15, 'england', pg_catalog.date '2024-06-01')).track$$),
  ($$SELECT outreach.retention_due_on(true, true, true, pg_catalog.date '2008-01-02', pg_catalog.date '2024-01-01', NULL, NULL, NULL,
                                      15, 7, 15, 'england', pg_catalog.date '2024-06-01')$$),
  ($$SELECT count(*) FROM outreach.participant p JOIN outreach.retention_policy pol USING (controller_id)
     WHERE outreach.participant_due_on(p, pol, pg_catalog.date '2024-06-01') IS NOT NULL$$),
  ($$SELECT outreach.sdc_count(7) OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) outreach.sdc_percent(3, 30, 'ofs')
            OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) outreach.sdc_marker(1, 22)$$)
) AS t(q);

-- attack 71: changes under both hostile paths fire every trigger: default controller,
-- linkage pseudonym, audit (statement and row level), cascades
RESET SESSION AUTHORIZATION;
SELECT max(audit_id) AS audit_mark FROM outreach.audit_log \gset
SET SESSION AUTHORIZATION regress_sec_alice;
SELECT path, stmt, regress_sec.run_in(path, stmt) AS result
FROM unnest(ARRAY[:'evil_path', :'public_path']) WITH ORDINALITY AS p(path, pn),
     unnest(ARRAY[
       $$INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, sex)
         VALUES ('E-001', 'Eve', 'Evans', '2008-05-05', 'SW1A 2AA', 'e-sex')$$,
       $$UPDATE outreach.participant SET first_name = 'Eva', ethnicity = 'e-eth' WHERE external_ref OPERATOR(pg_catalog.=) 'E-001'$$,
       $$INSERT INTO outreach.participant (external_ref, first_name) VALUES ('E-001', 'Evie'), ('E-002', 'Ed')
         ON CONFLICT (controller_id, external_ref) DO UPDATE SET first_name = EXCLUDED.first_name$$,
       $$MERGE INTO outreach.participant t USING (VALUES ('E-002', 'Eddie')) s(ref, fn) ON t.external_ref OPERATOR(pg_catalog.=) s.ref
         WHEN MATCHED THEN UPDATE SET first_name = s.fn WHEN NOT MATCHED THEN INSERT (external_ref) VALUES (s.ref)$$,
       $$INSERT INTO outreach.activity (activity_type, name, starts_on) VALUES ('workshop', 'E workshop', '2024-04-01')$$,
       $$UPDATE outreach.activity SET name = 'E workshop 2' WHERE name OPERATOR(pg_catalog.=) 'E workshop'$$,
       $$INSERT INTO outreach.attendance (participant_id, activity_id, attended_on)
         SELECT p.participant_id, a.activity_id, '2024-04-01' FROM outreach.participant p, outreach.activity a
         WHERE p.external_ref OPERATOR(pg_catalog.=) ANY (ARRAY['E-001', 'E-002']) AND a.name OPERATOR(pg_catalog.=) 'E workshop 2'$$,
       $$UPDATE outreach.attendance SET attended_on = '2024-04-02' WHERE attended_on OPERATOR(pg_catalog.=) pg_catalog.date '2024-04-01'$$,
       $$DELETE FROM outreach.participant WHERE external_ref OPERATOR(pg_catalog.=) ANY (ARRAY['E-001', 'E-002'])$$,
       $$DELETE FROM outreach.activity WHERE name OPERATOR(pg_catalog.=) 'E workshop 2'$$
     ]) WITH ORDINALITY AS s(stmt, sn)
ORDER BY pn, sn;
RESET SESSION AUTHORIZATION;
-- What those changes logged: two rounds, the same each time.
SELECT action, relation, columns, acting_role, count(*) FROM outreach.audit_log
WHERE audit_id > :audit_mark GROUP BY 1, 2, 3, 4 ORDER BY 2, 1, 3;

-- attack 72: the DPO's audited read under both hostile paths
SET SESSION AUTHORIZATION regress_sec_dora;
SELECT regress_sec.try_in(:'evil_path', format('SELECT count(*) FROM outreach.read_special_category(%s)', :a_id)) AS evil_path,
       regress_sec.try_in(:'public_path', format('SELECT count(*) FROM outreach.read_special_category(%s)', :a_id)) AS public_path,
       regress_sec.try_in(:'evil_path', format('SELECT count(*) FROM outreach.read_special_category(%s)', :b_id)) AS other_controller;
RESET SESSION AUTHORIZATION;

-- attack 73: poisoning my_controller_ids()'s per-backend cache. evil writes for A and reads B.
-- Its "=" on text would make a reader's level read as writer if the cache were filled while
-- evil's search_path is in force. A new controller empties the cache of this backend; evil's
-- call is the first to fill it again (it reads controller_role once: counted below).
BEGIN;
SELECT outreach.create_controller('regress_sec_c', 'Controller C') IS NOT NULL AS cache_emptied;
SELECT seq_scan + coalesce(idx_scan, 0) AS reads_before FROM pg_stat_xact_user_tables
WHERE relid = 'outreach.controller_role'::regclass \gset
SET LOCAL SESSION AUTHORIZATION regress_sec_evil;
SELECT regress_sec.try_in(:'evil_path', format($$SELECT (outreach.my_controller_ids('writer') OPERATOR(pg_catalog.=) ARRAY[%s]::pg_catalog.int4[])::pg_catalog.text$$, :a_id)) AS writes_for_a_only,
       regress_sec.try_in(:'evil_path', format($$SELECT (outreach.my_controller_ids('reader') OPERATOR(pg_catalog.=) ARRAY[%s, %s]::pg_catalog.int4[])::pg_catalog.text$$, :a_id, :b_id)) AS reads_a_and_b;
RESET SESSION AUTHORIZATION;
SELECT seq_scan + coalesce(idx_scan, 0) - :reads_before AS cache_filled_by_evils_call FROM pg_stat_xact_user_tables
WHERE relid = 'outreach.controller_role'::regclass;
COMMIT;
SET SESSION AUTHORIZATION regress_sec_evil;
SELECT regress_sec.run_in(:'evil_path', format($$INSERT INTO outreach.participant (controller_id, external_ref) VALUES (%s, 'B-FORGED')$$, :b_id)) AS insert_into_b,
       regress_sec.run_in(:'evil_path', format($$UPDATE outreach.participant SET first_name = 'pwned' WHERE controller_id OPERATOR(pg_catalog.=) %s$$, :b_id)) AS update_b;
RESET SESSION AUTHORIZATION;
BEGIN;
SET LOCAL SESSION AUTHORIZATION regress_sec_evil;
SELECT regress_sec.run_in(:'evil_path', 'DELETE FROM outreach.participant') AS delete_all_it_can;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS b_rows_left FROM outreach.participant WHERE controller_id = :b_id;
ROLLBACK;
-- Nor is another role acting in the same backend afterwards affected.
SET SESSION AUTHORIZATION regress_sec_bob;
SELECT outreach.my_controller_ids('writer') = ARRAY[:b_id] AS bob_writes_for_b,
       outreach.my_controller_ids('reader') = ARRAY[:b_id] AS bob_reads_b;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS b_rows, count(*) FILTER (WHERE first_name = 'pwned' OR external_ref = 'B-FORGED') AS b_rows_touched
FROM outreach.participant WHERE controller_id = :b_id;

-----------------------------------------------------------------------------------------------
-- The superuser under the hostile search_path.
-----------------------------------------------------------------------------------------------
-- attack 74: controllers, grants and revokes, the keep_keys trigger and cascades, run by the
-- superuser while the attacker's objects come first
SELECT stmt, regress_sec.try_in(:'evil_path', stmt) AS evil_path FROM (VALUES
  ($$SELECT outreach.create_controller('regress_sec_d', 'Controller D') IS NOT NULL$$),
  ($$SELECT outreach.grant_controller_access('regress_sec_alice', 'regress_sec_d', 'reader')$$),
  ($$SELECT outreach.grant_controller_access('regress_sec_alice', 'regress_sec_d', 'dpo')$$),
  ($$SELECT outreach.revoke_controller_access('regress_sec_alice', 'regress_sec_d', 'reader')$$),
  ($$SELECT count(*) FROM outreach.read_special_category((SELECT controller_id FROM outreach.controller WHERE code OPERATOR(pg_catalog.=) 'regress_sec_b'))$$)
) AS t(stmt);
SELECT stmt, regress_sec.try_in(:'public_path', stmt) AS public_path FROM (VALUES
  ($$SELECT outreach.create_controller('regress_sec_e', 'Controller E') IS NOT NULL$$),
  ($$SELECT outreach.grant_controller_access('regress_sec_alice', 'regress_sec_e', 'writer')$$),
  ($$SELECT outreach.grant_controller_access('regress_sec_dora', 'regress_sec_e', 'reader')$$),
  ($$SELECT outreach.revoke_controller_access('regress_sec_alice', 'regress_sec_e', 'writer')$$)
) AS t(stmt);
SELECT regress_sec.run_in(:'evil_path', format($$UPDATE outreach.participant SET controller_id = %s WHERE controller_id OPERATOR(pg_catalog.=) %s$$, :b_id, :a_id)) AS move_rows,
       regress_sec.run_in(:'public_path', $$DELETE FROM outreach.controller WHERE code OPERATOR(pg_catalog.=) ANY (ARRAY['regress_sec_d', 'regress_sec_e'])$$) AS delete_controllers;
SELECT code FROM outreach.controller WHERE code LIKE 'regress\_sec\_%' ORDER BY 1;
-- (pg_catalog's pg_has_role takes the role as name: called with text, the planted
-- public.pg_has_role(name, text, text) would be the better match, so qualify it here)
SELECT r AS role, pg_catalog.pg_has_role('regress_sec_alice', r::name, 'MEMBER') AS alice_is_member
FROM unnest(ARRAY['outreach_regress_sec_d_reader', 'outreach_regress_sec_d_dpo']) AS r ORDER BY 1;

-- attack 75: ALTER EXTENSION outreach UPDATE (a no-op at the newest version) under a schema of
-- planted objects first in search_path, with and without pg_catalog listed after it
CREATE SCHEMA regress_planted AUTHORIZATION regress_sec_evil;
SET SESSION AUTHORIZATION regress_sec_evil;
SELECT regress_sec.plant('regress_planted');
RESET SESSION AUTHORIZATION;
SET client_min_messages = warning;  -- (the notice names the version, which changes)
SET search_path = regress_planted, public;
ALTER EXTENSION outreach UPDATE;
SET search_path = regress_planted, pg_catalog, public;
ALTER EXTENSION outreach UPDATE;
SET search_path = regress, outreach, public;
RESET client_min_messages;
SELECT e.extversion = a.default_version AS at_newest_version
FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname WHERE e.extname = 'outreach';

-- Nothing planted ran, anywhere, for anyone.
SELECT planted, run_as FROM regress_sec_evil.tripwire ORDER BY 1, 2;
DROP TABLE pg_temp.pg_roles, pg_temp.controller_role, pg_temp.new_rows;
DROP FUNCTION pg_temp.lower(text);

-----------------------------------------------------------------------------------------------
-- Reviewed golden lists.
-----------------------------------------------------------------------------------------------
-- attack 76: SECURITY DEFINER functions: search_path pinned (pg_catalog first, pg_temp last),
-- owned by a superuser, and who may execute them (PUBLIC none)
SELECT p.oid::regprocedure AS security_definer_function,
       sp.path AS search_path,
       sp.path[1] = 'pg_catalog' AS pg_catalog_first,
       sp.path[cardinality(sp.path)] = 'pg_temp' AS pg_temp_last,
       (SELECT rolsuper FROM pg_roles WHERE oid = p.proowner) AS owner_is_superuser,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute,
       (SELECT coalesce(string_agg(a.grantee::regrole::text, ', ' ORDER BY a.grantee::regrole::text), '')
        FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
        WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner AND a.grantee <> 0) AS execute_granted_to
FROM pg_proc p
LEFT JOIN LATERAL (SELECT regexp_split_to_array(substr(c, length('search_path=') + 1), '\s*,\s*') AS path
                   FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%') sp ON true
WHERE p.pronamespace = 'outreach'::regnamespace AND p.prosecdef
ORDER BY p.oid::regprocedure::text;
-- Every function whose search_path is pinned, SECURITY DEFINER or not, ends in pg_temp.
SELECT p.oid::regprocedure AS pinned_path_not_ending_in_pg_temp
FROM pg_proc p, unnest(p.proconfig) c
WHERE p.pronamespace = 'outreach'::regnamespace AND c LIKE 'search_path=%' AND c !~ ', pg_temp$'
ORDER BY p.oid::regprocedure::text;
-- Functions written in SQL or PL/pgSQL without a pinned search_path (their body is resolved
-- with the caller's path): the two procedures that commit, which cannot pin one and call
-- only qualified names (granted to outreach_daemon alone), and SQL functions that are inlined
-- into their callers (a SET clause would stop that), whose operators are all qualified
-- (area_profile, report_groups: the latter executable only by the extension's own SECURITY
-- DEFINER reports), and the loader's helpers they call. Functions with a standard SQL body
-- (RETURN ...) are parsed when created, so no later search_path reaches them: listed apart.
SELECT p.oid::regprocedure AS unpinned_sql_function
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'outreach'::regnamespace AND l.lanname IN ('sql', 'plpgsql')
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
  AND p.prosqlbody IS NULL
ORDER BY p.oid::regprocedure::text;
SELECT p.oid::regprocedure AS parsed_at_creation
FROM pg_proc p
WHERE p.pronamespace = 'outreach'::regnamespace AND p.prosqlbody IS NOT NULL
ORDER BY p.oid::regprocedure::text;

-- attack 77: the roles members act through are not superusers, cannot bypass row security or
-- log in, and own nothing of the extension; the people are ordinary roles too
SELECT r.rolname, r.rolsuper, r.rolbypassrls, r.rolcanlogin, r.rolcreaterole, r.rolcreatedb,
       (SELECT count(*) FROM pg_class WHERE relowner = r.oid AND relnamespace = 'outreach'::regnamespace)
     + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid AND pronamespace = 'outreach'::regnamespace)
     + (SELECT count(*) FROM pg_type WHERE typowner = r.oid AND typnamespace = 'outreach'::regnamespace)
     + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid AND nspname = 'outreach') AS owns_extension_objects,
       pg_has_role(r.oid, (SELECT extowner FROM pg_extension WHERE extname = 'outreach'), 'MEMBER') AS member_of_extension_owner
FROM pg_roles r
WHERE r.rolname IN ('outreach_processor', 'outreach_bi', 'outreach_daemon', 'outreach_reader', 'outreach_writer',
                    'outreach_dpo', 'outreach_analyst')
   OR r.rolname LIKE 'outreach\_regress\_sec\_%'
   OR r.rolname IN ('regress_sec_alice', 'regress_sec_dora', 'regress_sec_bob', 'regress_sec_evil')
ORDER BY 1;
-- Every role that can act for any controller, whoever created it: none bypasses row security.
SELECT count(*) AS controller_members_bypassing_rls
FROM pg_roles r
WHERE (r.rolsuper OR r.rolbypassrls) AND NOT r.rolsuper
  AND EXISTS (SELECT 1 FROM outreach.controller_role cr WHERE pg_has_role(r.oid, cr.role::oid, 'MEMBER'));

-- Clean up: the suite's controllers, their data and audit rows, every role it created (with the
-- objects they planted, in public too, and their privileges).
SET client_min_messages = warning;
SELECT pg_temp.sec_cleanup();
RESET client_min_messages;
SELECT count(*) AS roles_left FROM pg_roles WHERE rolname LIKE 'regress\_sec\_%' OR rolname LIKE 'outreach\_regress\_sec\_%';
SELECT (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
          AND (proname IN (SELECT proname FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace)
               OR proname IN ('my_controller_ids', 'default_controller_id', 'invoking_role', 'pseudonymise',
                              'agg_step', 'text_step', 'bool_step', 'regress_sec_probe')))
     + (SELECT count(*) FROM pg_operator WHERE oprnamespace = 'public'::regnamespace) AS planted_left_in_public;
SELECT has_schema_privilege('public', 'public', 'CREATE') AS public_may_create_in_public;
