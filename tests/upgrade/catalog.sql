-- Everything the extension defines, in a form that can be compared between databases.
\pset format unaligned
\pset tuples_only on
SELECT 'version', extversion FROM pg_extension WHERE extname = 'outreach';
SELECT 'object', pg_describe_object(classid, objid, 0)
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'outreach')
ORDER BY 2;
SELECT 'function', p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid)), p.proacl
FROM pg_proc p WHERE p.pronamespace = 'outreach'::regnamespace AND p.prokind IN ('f', 'p')
ORDER BY 2;
SELECT 'column', c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attacl
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE c.relnamespace = 'outreach'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 2, 3;
SELECT 'relation', c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relacl, c.reloptions
FROM pg_class c WHERE c.relnamespace = 'outreach'::regnamespace ORDER BY 2;
SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'outreach'::regnamespace ORDER BY 2, 3;
SELECT 'index', indexrelid::regclass::text, pg_get_indexdef(indexrelid)
FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'outreach'::regnamespace)
ORDER BY 2;
SELECT 'view', c.relname, md5(pg_get_viewdef(c.oid))
FROM pg_class c WHERE c.relnamespace = 'outreach'::regnamespace AND c.relkind = 'v' ORDER BY 2;
SELECT 'policy', tablename, policyname, cmd, roles, qual, with_check FROM pg_policies
WHERE schemaname = 'outreach' ORDER BY 2, 3;
SELECT 'trigger', tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
FROM pg_trigger WHERE NOT tgisinternal
  AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'outreach'::regnamespace)
ORDER BY 2, 3;
SELECT 'config', extconfig::regclass[], extcondition FROM pg_extension WHERE extname = 'outreach';
SELECT 'rows', 'activity_type', count(*) FROM outreach.activity_type;
