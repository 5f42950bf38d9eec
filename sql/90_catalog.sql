-- Golden catalogue: every object the extension owns, and the properties a security review
-- checks. A change here is a change to the public surface and must be deliberate.
SELECT pg_describe_object(classid, objid, 0) AS object
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'outreach')
  AND deptype = 'e'
ORDER BY 1;

-- Functions: volatility, strictness, parallel safety, security definer, search_path, and
-- whether PUBLIC may execute them.
SELECT p.oid::regprocedure AS function,
       p.provolatile AS vol, p.proisstrict AS strict, p.proparallel AS par, p.prosecdef AS secdef,
       p.proleakproof AS leakproof, p.proconfig AS config,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
FROM pg_proc p
WHERE p.pronamespace = 'outreach'::regnamespace
ORDER BY p.oid::regprocedure::text;

-- Every function is documented.
SELECT p.oid::regprocedure AS undocumented
FROM pg_proc p
WHERE p.pronamespace = 'outreach'::regnamespace
  AND obj_description(p.oid, 'pg_proc') IS NULL
  AND p.proname !~ '_(in|out|recv|send|eq|ne|lt|le|gt|ge|cmp|hash|hash_extended|sortsupport)$'
ORDER BY p.oid::regprocedure::text;

-- Every SECURITY DEFINER function pins a search_path that ends in pg_temp.
SELECT p.oid::regprocedure AS definer_without_safe_search_path
FROM pg_proc p
WHERE p.pronamespace = 'outreach'::regnamespace AND p.prosecdef
  AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c ~ '^search_path=.*pg_temp$');

-- Tables: row-level security enabled and forced on every table that holds personal data.
SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
FROM pg_class c
WHERE c.relnamespace = 'outreach'::regnamespace AND c.relkind = 'r'
ORDER BY 1;

-- Every policy, its command and expressions.
SELECT tablename, policyname, cmd, roles, qual, with_check
FROM pg_policies WHERE schemaname = 'outreach' ORDER BY 1, 2;

-- Who holds which privilege on which relation (table-level and column-level).
SELECT table_name, grantee, string_agg(privilege_type, ', ' ORDER BY privilege_type) AS privileges
FROM information_schema.role_table_grants
WHERE table_schema = 'outreach' AND grantee NOT IN (SELECT rolname FROM pg_roles WHERE rolsuper)
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT table_name, grantee, privilege_type, string_agg(column_name, ', ' ORDER BY column_name) AS columns
FROM information_schema.role_column_grants
WHERE table_schema = 'outreach' AND grantee NOT IN (SELECT rolname FROM pg_roles WHERE rolsuper)
  AND NOT EXISTS (SELECT 1 FROM information_schema.role_table_grants t
                  WHERE t.table_schema = 'outreach' AND t.table_name = role_column_grants.table_name
                    AND t.grantee = role_column_grants.grantee AND t.privilege_type = role_column_grants.privilege_type)
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- No application role may bypass row security: the extension's roles cannot log in and hold
-- no attribute that would.
SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreaterole
FROM pg_roles WHERE rolname IN ('outreach_processor', 'outreach_security', 'outreach_support', 'outreach_bi', 'outreach_daemon', 'outreach_reader',
                                'outreach_writer', 'outreach_dpo', 'outreach_analyst')
ORDER BY 1;

-- The data catalogue (80_data_catalogue.sql) covers the schema: every table has either a row
-- saying it holds no personal data ('*') or a row for each of its columns, and no row names a
-- column that does not exist.
CREATE FUNCTION pg_temp.catalogue_gaps() RETURNS TABLE (gap text, table_name text, column_name text)
LANGUAGE sql AS $$
  SELECT 'no catalogue row', k.relname::text, a.attname::text
  FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = 'outreach'
  JOIN pg_attribute a ON a.attrelid = k.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE k.relkind = 'r'
    AND NOT EXISTS (SELECT 1 FROM outreach.data_catalogue d WHERE d.table_name = k.relname AND d.column_name IN (a.attname, '*'))
  UNION ALL
  SELECT 'no such column', d.table_name, d.column_name FROM outreach.data_catalogue d
  WHERE NOT EXISTS (SELECT 1 FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace AND n.nspname = 'outreach'
                    JOIN pg_attribute a ON a.attrelid = k.oid AND a.attnum > 0 AND NOT a.attisdropped
                    WHERE k.relkind = 'r' AND k.relname = d.table_name AND (a.attname = d.column_name OR d.column_name = '*'))
  ORDER BY 1, 2, 3
$$;
SELECT * FROM pg_temp.catalogue_gaps();
-- ... and a column added without its row is found (in a transaction rolled back).
BEGIN;
ALTER TABLE outreach.participant ADD COLUMN nickname text;
CREATE TABLE outreach.contact_note (controller_id int, note text);
SELECT * FROM pg_temp.catalogue_gaps();
ROLLBACK;
-- Special category data without an Art. 9 condition is refused (23514); the catalogue's summary.
SELECT regress.try($$INSERT INTO outreach.data_catalogue (table_name, column_name, category, special_category, purposes,
                                                          lawful_basis, retention, description)
                     VALUES ('participant', 'x', 'special_category', true, '{equality}', 'member', 'participant_policy', 'x')$$) AS special_without_art9;
SELECT category, special_category, count(*) AS columns, count(DISTINCT table_name) AS tables
FROM outreach.data_catalogue GROUP BY 1, 2 ORDER BY 1, 2;

-- No key material is stored anywhere the extension put a table or setting.
SELECT count(*) AS settings_in_catalogue FROM pg_db_role_setting s, unnest(s.setconfig) c
WHERE c ~* '[0-9a-f]{64}';

-- Clean up the test key directory.
SELECT current_setting('regress.keydir') AS keydir \gset
SELECT format('rm -rf %s', :'keydir') AS cmd \gset
COPY (SELECT 1 WHERE false) TO PROGRAM :'cmd';  -- no rows: the program reads nothing, so no broken pipe
