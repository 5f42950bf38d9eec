-- Everything the extension defines, and the data a fresh install holds, in a form that can be
-- compared between databases: an upgraded database must print exactly what a fresh install
-- prints. Privileges are compared as sets (the order of a grant list is not meaningful), as
-- are the tables registered for pg_dump.
\pset format unaligned
\pset tuples_only on
CREATE TEMP VIEW ext_object AS
SELECT classid, objid, objsubid FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'outreach');
CREATE FUNCTION pg_temp.acl(aclitem[]) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest($1) AS a $$;

SELECT 'version', extversion FROM pg_extension WHERE extname = 'outreach';
SELECT 'object', pg_describe_object(classid, objid, 0) FROM ext_object ORDER BY 2;
SELECT 'function', p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid)), pg_temp.acl(p.proacl),
       pg_get_userbyid(p.proowner)
FROM pg_proc p WHERE p.pronamespace = 'outreach'::regnamespace AND p.prokind IN ('f', 'p')
ORDER BY 2;
SELECT 'aggregate', p.oid::regprocedure::text, a.aggtransfn, a.aggfinalfn, a.aggtranstype::regtype, pg_temp.acl(p.proacl)
FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid WHERE p.pronamespace = 'outreach'::regnamespace
ORDER BY 2;
-- Columns by their position among the live columns: a dropped column leaves a gap in attnum
-- without changing what SELECT * or COPY sees.
SELECT 'column', c.relname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
       format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity,
       a.attgenerated, a.attstorage, a.attstattarget, a.attcompression, coll.collname, pg_temp.acl(a.attacl)
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
LEFT JOIN pg_collation coll ON coll.oid = a.attcollation AND a.attcollation <> 100
WHERE c.relnamespace = 'outreach'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 2, 3;
SELECT 'relation', c.relname, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
       pg_temp.acl(c.relacl), c.reloptions, pg_get_userbyid(c.relowner)
FROM pg_class c WHERE c.relnamespace = 'outreach'::regnamespace ORDER BY 2;
SELECT 'sequence', s.seqrelid::regclass::text, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcache, s.seqcycle
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid WHERE c.relnamespace = 'outreach'::regnamespace ORDER BY 2;
SELECT 'constraint', conrelid::regclass::text, contypid::regtype::text, conname, pg_get_constraintdef(oid), convalidated
FROM pg_constraint WHERE connamespace = 'outreach'::regnamespace ORDER BY 2, 3, 4;
SELECT 'index', indexrelid::regclass::text, pg_get_indexdef(indexrelid)
FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'outreach'::regnamespace)
ORDER BY 2;
SELECT 'view', c.relname, md5(pg_get_viewdef(c.oid))
FROM pg_class c WHERE c.relnamespace = 'outreach'::regnamespace AND c.relkind IN ('v', 'm') ORDER BY 2;
SELECT 'policy', tablename, policyname, permissive, cmd, roles, qual, with_check FROM pg_policies
WHERE schemaname = 'outreach' ORDER BY 2, 3;
SELECT 'trigger', tgrelid::regclass::text, tgname, pg_get_triggerdef(oid), tgenabled
FROM pg_trigger WHERE NOT tgisinternal
  AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'outreach'::regnamespace)
ORDER BY 2, 3;
SELECT 'type', t.typname, t.typtype, t.typlen, t.typbyval, t.typalign, t.typstorage, t.typinput::regproc, t.typoutput::regproc,
       t.typreceive::regproc, t.typsend::regproc, t.typanalyze::regproc, pg_temp.acl(t.typacl)
FROM pg_type t WHERE t.typnamespace = 'outreach'::regnamespace AND t.typtype <> 'c' AND t.typelem = 0 ORDER BY 2;
SELECT 'operator', o.oid::regoperator::text, o.oprcode::regproc, o.oprcom::regoperator, o.oprnegate::regoperator,
       o.oprrest::regproc, o.oprjoin::regproc, o.oprcanmerge, o.oprcanhash
FROM pg_operator o WHERE o.oprnamespace = 'outreach'::regnamespace ORDER BY 2;
SELECT 'opclass', am.amname, oc.opcname, oc.opcintype::regtype, oc.opcdefault,
       (SELECT string_agg(format('%s:%s', ap.amopstrategy, ap.amopopr::regoperator), ' ' ORDER BY ap.amopstrategy)
        FROM pg_amop ap WHERE ap.amopfamily = oc.opcfamily),
       (SELECT string_agg(format('%s:%s', pp.amprocnum, pp.amproc::regprocedure), ' ' ORDER BY pp.amprocnum)
        FROM pg_amproc pp WHERE pp.amprocfamily = oc.opcfamily)
FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod WHERE oc.opcnamespace = 'outreach'::regnamespace ORDER BY 2, 3;
SELECT 'cast', c.castsource::regtype, c.casttarget::regtype, c.castfunc::regprocedure, c.castcontext, c.castmethod
FROM pg_cast c JOIN ext_object e ON e.classid = 'pg_cast'::regclass AND e.objid = c.oid ORDER BY 2, 3;
-- Comments on every object the extension owns, its columns and its constraints.
SELECT 'comment', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description
FROM pg_description d
WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM ext_object)
   OR (d.classoid = 'pg_constraint'::regclass
       AND d.objoid IN (SELECT oid FROM pg_constraint WHERE connamespace = 'outreach'::regnamespace))
   OR (d.classoid = 'pg_namespace'::regclass AND d.objoid = 'outreach'::regnamespace)
ORDER BY 2;
SELECT 'schema', n.nspname, pg_temp.acl(n.nspacl) FROM pg_namespace n WHERE n.nspname = 'outreach';
SELECT 'config', c.relname, x.cond
FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(rel, cond) JOIN pg_class c ON c.oid = x.rel
WHERE e.extname = 'outreach' ORDER BY 2;
-- The data a fresh install holds (shipped reference data, recipients and their layouts).
SELECT 'rows', 'activity_type', code, label, category, shipped FROM outreach.activity_type ORDER BY code;
SELECT 'rows', 'recipient_definition', to_jsonb(r) - 'updated_at' FROM outreach.recipient_definition r ORDER BY name;
SELECT 'rows', 'recipient_layout', to_jsonb(l) - 'created_at' FROM outreach.recipient_layout l ORDER BY recipient, kind, version;
SELECT 'rows', 'recipient_layout_column', to_jsonb(l) FROM outreach.recipient_layout_column l
ORDER BY recipient, kind, version, position;
SELECT 'rows', 'service_channel', count(*), bool_and(name ~ '^outreach_[0-9a-f]{32}$') FROM outreach.service_channel;
SELECT 'rows', c.relname, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', c.oid::regclass), false, false, '')))[1]::text
FROM pg_class c WHERE c.relnamespace = 'outreach'::regnamespace AND c.relkind = 'r' ORDER BY 2;
