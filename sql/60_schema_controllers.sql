-- Functional tests of the schema, part 1: members (data controllers), their group roles, and
-- granting and revoking access. The attack suite is sql/7*.sql; this file checks what an
-- administrator must be able to do. Everything created here is removed at the end, so the
-- suites can run twice on the same cluster.
SET search_path = regress, outreach, public;

-- The codes of the controllers behind an array of controller ids (as my_controller_ids() returns
-- them), so the output does not depend on identity values.
CREATE FUNCTION regress.codes(ids int[]) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(string_agg(code, ',' ORDER BY code), '-')
  FROM outreach.controller WHERE controller_id = ANY (ids)
$$;
-- Which controllers and levels a role is a member of (directly or through the chain).
CREATE FUNCTION regress.access_of(member name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(string_agg(c.code || ':' || cr.level, ',' ORDER BY c.code, cr.level), '-')
  FROM outreach.controller c JOIN outreach.controller_role cr USING (controller_id)
  WHERE pg_has_role(member, cr.role::oid, 'MEMBER')
$$;

------------------------------------------------------------------------------------------------
-- create_controller(code, name)
------------------------------------------------------------------------------------------------
SELECT outreach.create_controller('regress_ctl_a', 'Alpha University') AS a_id \gset
SELECT :a_id > 0 AS returns_id,
       (SELECT controller_id FROM outreach.controller WHERE code = 'regress_ctl_a') = :a_id AS id_is_the_row,
       (SELECT name FROM outreach.controller WHERE code = 'regress_ctl_a') AS name;
SELECT outreach.create_controller('regress_ctl_b', '  Beta College  ') <> :a_id AS new_id;
-- The name is trimmed.
SELECT code, name FROM outreach.controller WHERE code LIKE 'regress_ctl_%' ORDER BY code;

-- Four NOLOGIN group roles per controller, recorded in controller_role.
SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolbypassrls
FROM pg_roles r WHERE r.rolname LIKE 'outreach\_regress\_ctl\_a\_%' ORDER BY 1;
SELECT c.code, cr.level, cr.role::text AS role
FROM outreach.controller_role cr JOIN outreach.controller c USING (controller_id)
WHERE c.code LIKE 'regress_ctl_%' ORDER BY 1, 2;

-- Each role joins the global role of its level, and reader < writer < dpo are chained; the
-- analyst role stands apart (aggregates only, no rows).
SELECT m.rolname AS member, r.rolname AS member_of
FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
WHERE m.rolname LIKE 'outreach\_regress\_ctl\_a\_%' ORDER BY 1, 2;
SELECT lvl, pg_has_role('outreach_regress_ctl_a_' || lvl, 'outreach_regress_ctl_a_reader', 'MEMBER') AS reads,
       pg_has_role('outreach_regress_ctl_a_' || lvl, 'outreach_regress_ctl_a_writer', 'MEMBER') AS writes,
       pg_has_role('outreach_regress_ctl_a_' || lvl, 'outreach_regress_ctl_a_dpo', 'MEMBER') AS is_dpo,
       pg_has_role('outreach_regress_ctl_a_' || lvl, 'outreach_regress_ctl_a_analyst', 'MEMBER') AS is_analyst
FROM unnest(ARRAY['reader', 'writer', 'dpo', 'analyst']) AS lvl ORDER BY 1;

-- Bad codes and names: 22023. Nothing is created.
SELECT code, regress.try(format('SELECT outreach.create_controller(%L, %L)', code, 'Some Name')) AS result
FROM (VALUES ('Regress_upper'), ('r'), ('regress spaces'), ('regress-dash'), ('1regress'), (''),
             ('regress_' || repeat('x', 40))) AS t(code)
ORDER BY code COLLATE "C";
SELECT regress.try($$SELECT outreach.create_controller(NULL, 'Some Name')$$) AS null_code,
       regress.try($$SELECT outreach.create_controller('regress_ctl_c', '')$$) AS empty_name,
       regress.try($$SELECT outreach.create_controller('regress_ctl_c', '   ')$$) AS blank_name,
       regress.try($$SELECT outreach.create_controller('regress_ctl_c', NULL)$$) AS null_name;
-- Duplicate code: 23505.
SELECT regress.try($$SELECT outreach.create_controller('regress_ctl_a', 'Alpha again')$$) AS duplicate;
SELECT count(*) AS controllers FROM outreach.controller WHERE code LIKE 'regress_ctl_%';
SELECT count(*) AS controller_roles FROM pg_roles WHERE rolname LIKE 'outreach\_regress\_ctl\_%';

-- A role that already exists under a controller role's name: 42710, and the whole call is undone
-- (no controller row, no half set of roles).
CREATE ROLE outreach_regress_ctl_clash_dpo;
SELECT regress.try($$SELECT outreach.create_controller('regress_ctl_clash', 'Clash')$$) AS clash;
SELECT count(*) AS clash_controllers FROM outreach.controller WHERE code = 'regress_ctl_clash';
SELECT rolname FROM pg_roles WHERE rolname LIKE 'outreach\_regress\_ctl\_clash%' ORDER BY 1;
DROP ROLE outreach_regress_ctl_clash_dpo;

-- Only a superuser creates controllers: 42501 for anyone else, even with CREATEROLE.
CREATE ROLE regress_ctl_admin CREATEROLE;
CREATE ROLE regress_ctl_plain;
SET ROLE regress_ctl_admin;
SELECT regress.try($$SELECT outreach.create_controller('regress_ctl_c', 'Gamma')$$) AS by_createrole;
SET ROLE regress_ctl_plain;
SELECT regress.try($$SELECT outreach.create_controller('regress_ctl_c', 'Gamma')$$) AS by_plain_role,
       regress.try($$SELECT outreach.grant_controller_access('regress_ctl_plain', 'regress_ctl_a', 'dpo')$$) AS grant_self,
       regress.try($$SELECT outreach.revoke_controller_access('regress_ctl_plain', 'regress_ctl_a', 'dpo')$$) AS revoke;
RESET ROLE;
SELECT count(*) AS gamma FROM outreach.controller WHERE code = 'regress_ctl_c';

------------------------------------------------------------------------------------------------
-- grant_controller_access(member, code, level) and revoke_controller_access
------------------------------------------------------------------------------------------------
CREATE ROLE regress_ctl_reader;
CREATE ROLE regress_ctl_writer;
CREATE ROLE regress_ctl_dpo;
CREATE ROLE regress_ctl_analyst;
SELECT outreach.grant_controller_access('regress_ctl_reader', 'regress_ctl_a', 'reader');
SELECT outreach.grant_controller_access('regress_ctl_writer', 'regress_ctl_a', 'writer');
SELECT outreach.grant_controller_access('regress_ctl_dpo', 'regress_ctl_a', 'dpo');
SELECT outreach.grant_controller_access('regress_ctl_analyst', 'regress_ctl_a', 'analyst');
SELECT m AS member, regress.access_of(m) AS access
FROM unnest(ARRAY['regress_ctl_reader', 'regress_ctl_writer', 'regress_ctl_dpo', 'regress_ctl_analyst']::name[]) AS m
ORDER BY 1;

-- What each of them acts for, as seen by my_controller_ids() after SET ROLE.
SET ROLE regress_ctl_reader;
SELECT regress.codes(outreach.my_controller_ids('reader')) AS reader, regress.codes(outreach.my_controller_ids('writer')) AS writer,
       regress.codes(outreach.my_controller_ids('dpo')) AS dpo, regress.codes(outreach.my_controller_ids('analyst')) AS analyst;
SET ROLE regress_ctl_writer;
SELECT regress.codes(outreach.my_controller_ids('reader')) AS reader, regress.codes(outreach.my_controller_ids('writer')) AS writer,
       regress.codes(outreach.my_controller_ids('dpo')) AS dpo, regress.codes(outreach.my_controller_ids('analyst')) AS analyst;
SET ROLE regress_ctl_dpo;
SELECT regress.codes(outreach.my_controller_ids('reader')) AS reader, regress.codes(outreach.my_controller_ids('writer')) AS writer,
       regress.codes(outreach.my_controller_ids('dpo')) AS dpo, regress.codes(outreach.my_controller_ids('analyst')) AS analyst;
SET ROLE regress_ctl_analyst;
SELECT regress.codes(outreach.my_controller_ids('reader')) AS reader, regress.codes(outreach.my_controller_ids('writer')) AS writer,
       regress.codes(outreach.my_controller_ids('dpo')) AS dpo, regress.codes(outreach.my_controller_ids('analyst')) AS analyst;
-- Members read the list of controllers (code and name), not its contacts.
SELECT code, name FROM outreach.controller WHERE code LIKE 'regress_ctl_%' ORDER BY code;
SELECT regress.try($$SELECT count(dpo_contact)::text FROM outreach.controller$$) AS contacts;
RESET ROLE;

-- Unknown level 22023, unknown controller 42704, unknown role (regrole input) 42704.
SELECT regress.try($$SELECT outreach.grant_controller_access('regress_ctl_plain', 'regress_ctl_a', 'admin')$$) AS bad_level,
       regress.try($$SELECT outreach.grant_controller_access('regress_ctl_plain', 'regress_ctl_a', NULL)$$) AS null_level,
       regress.try($$SELECT outreach.grant_controller_access('regress_ctl_plain', 'regress_ctl_nowhere', 'reader')$$) AS bad_controller,
       regress.try($$SELECT outreach.grant_controller_access('regress_ctl_nobody_at_all', 'regress_ctl_a', 'reader')$$) AS bad_role;
SELECT regress.try($$SELECT outreach.revoke_controller_access('regress_ctl_plain', 'regress_ctl_nowhere', 'reader')$$) AS revoke_bad_controller,
       regress.try($$SELECT outreach.revoke_controller_access('regress_ctl_plain', 'regress_ctl_a', 'admin')$$) AS revoke_bad_level;

-- Superusers and BYPASSRLS roles would ignore row security: refused, 42501.
CREATE ROLE regress_ctl_super SUPERUSER;
CREATE ROLE regress_ctl_bypass BYPASSRLS;
SELECT regress.try($$SELECT outreach.grant_controller_access('regress_ctl_super', 'regress_ctl_a', 'reader')$$) AS superuser,
       regress.try($$SELECT outreach.grant_controller_access('regress_ctl_bypass', 'regress_ctl_a', 'writer')$$) AS bypassrls;
SELECT count(*) AS memberships_granted FROM pg_auth_members
WHERE member IN ('regress_ctl_super'::regrole, 'regress_ctl_bypass'::regrole);

-- DPO for one controller and reader or writer of another: refused, 42501, in either order.
CREATE ROLE regress_ctl_mixed;
SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_a', 'dpo');
SELECT regress.try($$SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_b', 'reader')$$) AS dpo_then_reader,
       regress.try($$SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_b', 'writer')$$) AS dpo_then_writer;
SELECT regress.access_of('regress_ctl_mixed') AS access;
SELECT outreach.revoke_controller_access('regress_ctl_mixed', 'regress_ctl_a', 'dpo');
SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_b', 'reader');
SELECT regress.try($$SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_a', 'dpo')$$) AS reader_then_dpo;
SELECT outreach.revoke_controller_access('regress_ctl_mixed', 'regress_ctl_b', 'reader');
SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_b', 'writer');
SELECT regress.try($$SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_a', 'dpo')$$) AS writer_then_dpo;
SELECT regress.access_of('regress_ctl_mixed') AS access;
SELECT outreach.revoke_controller_access('regress_ctl_mixed', 'regress_ctl_b', 'writer');
-- The processor reads every controller's rows, so it cannot be anyone's DPO either.
GRANT outreach_processor TO regress_ctl_mixed;
SELECT regress.try($$SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_a', 'dpo')$$) AS processor_then_dpo;
REVOKE outreach_processor FROM regress_ctl_mixed;
-- Allowed: DPO of two controllers; DPO of one and analyst of another (analysts read no rows);
-- a DPO's own controller at any level.
SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_a', 'dpo');
SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_b', 'dpo');
SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_a', 'writer');
SELECT regress.access_of('regress_ctl_mixed') AS access;
SELECT outreach.revoke_controller_access('regress_ctl_mixed', 'regress_ctl_b', 'dpo');
SELECT outreach.grant_controller_access('regress_ctl_mixed', 'regress_ctl_b', 'analyst');
SELECT regress.access_of('regress_ctl_mixed') AS access;
SET ROLE regress_ctl_mixed;
SELECT regress.codes(outreach.my_controller_ids('reader')) AS reader, regress.codes(outreach.my_controller_ids('dpo')) AS dpo,
       regress.codes(outreach.my_controller_ids('analyst')) AS analyst;
RESET ROLE;

-- A partnership: one login writing for several controllers.
CREATE ROLE regress_ctl_partner;
SELECT outreach.grant_controller_access('regress_ctl_partner', 'regress_ctl_a', 'writer');
SELECT outreach.grant_controller_access('regress_ctl_partner', 'regress_ctl_b', 'writer');
SET ROLE regress_ctl_partner;
SELECT regress.codes(outreach.my_controller_ids('writer')) AS writer, regress.codes(outreach.my_controller_ids('reader')) AS reader,
       regress.codes(outreach.my_controller_ids('dpo')) AS dpo;
RESET ROLE;

-- revoke_controller_access removes the access, and only that access.
SELECT outreach.revoke_controller_access('regress_ctl_partner', 'regress_ctl_b', 'writer');
SET ROLE regress_ctl_partner;
SELECT regress.codes(outreach.my_controller_ids('writer')) AS writer_after_revoke;
RESET ROLE;
SELECT outreach.revoke_controller_access('regress_ctl_partner', 'regress_ctl_a', 'writer');
SELECT regress.access_of('regress_ctl_partner') AS access_after_revoke;
SET ROLE regress_ctl_partner;
SELECT regress.try($$SELECT regress.codes(outreach.my_controller_ids('reader'))$$) AS no_access_left;
RESET ROLE;
-- Revoking a DPO's access takes the chained reader and writer access with it.
SELECT outreach.revoke_controller_access('regress_ctl_dpo', 'regress_ctl_a', 'dpo');
SELECT regress.access_of('regress_ctl_dpo') AS dpo_after_revoke;

------------------------------------------------------------------------------------------------
-- pg_dump: the tables that hold data added after installation are extension configuration
-- tables (their rows are dumped), and so are the sequences behind their identity columns (their
-- positions are dumped, so rows added after a restore do not reuse ids).
------------------------------------------------------------------------------------------------
SELECT c.relname AS config_relation, c.relkind, e.extcondition[array_position(e.extconfig, c.oid)] AS condition
FROM pg_extension e CROSS JOIN LATERAL unnest(e.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
WHERE e.extname = 'outreach'
ORDER BY c.relkind, c.relname;
SELECT t AS table_with_data_not_dumped
FROM unnest(ARRAY['outreach.participant', 'outreach.activity', 'outreach.attendance', 'outreach.controller',
                  'outreach.controller_role', 'outreach.audit_log', 'outreach.institution',
                  'outreach.activity_type']::regclass[]) AS t
WHERE t::oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'outreach')::oid[]);
-- Every sequence the extension owns is dumped with its position.
SELECT c.oid::regclass AS sequence_not_dumped
FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
WHERE c.relkind = 'S' AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'outreach')
  AND c.oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'outreach')::oid[]);
-- Shipped activity types come from the install script; only rows added later are dumped.
INSERT INTO outreach.activity_type (code, label, category) VALUES ('regress_ctl_type', 'Regress type', 'other');
SELECT shipped, count(*) AS types FROM outreach.activity_type GROUP BY 1 ORDER BY 1;
DELETE FROM outreach.activity_type WHERE code = 'regress_ctl_type';

------------------------------------------------------------------------------------------------
-- Clean up: the controllers, their roles and the test roles.
------------------------------------------------------------------------------------------------
DELETE FROM outreach.controller WHERE code LIKE 'regress\_ctl\_%';
SELECT count(*) AS controller_roles_left FROM outreach.controller_role cr
WHERE NOT EXISTS (SELECT 1 FROM outreach.controller c WHERE c.controller_id = cr.controller_id);
DROP ROLE outreach_regress_ctl_a_reader, outreach_regress_ctl_a_writer, outreach_regress_ctl_a_dpo, outreach_regress_ctl_a_analyst,
          outreach_regress_ctl_b_reader, outreach_regress_ctl_b_writer, outreach_regress_ctl_b_dpo, outreach_regress_ctl_b_analyst;
DROP ROLE regress_ctl_admin, regress_ctl_plain, regress_ctl_reader, regress_ctl_writer, regress_ctl_dpo, regress_ctl_analyst,
          regress_ctl_super, regress_ctl_bypass, regress_ctl_mixed, regress_ctl_partner;
DROP FUNCTION regress.codes(int[]), regress.access_of(name);
SELECT count(*) AS regress_ctl_roles_left FROM pg_roles WHERE rolname ~ '^(outreach_)?regress_ctl';
