-- Data controllers (members) and the roles through which their people act.
--
-- create_controller() makes four NOLOGIN group roles per member, outreach_<code>_reader,
-- _writer, _dpo and _analyst, chained reader < writer < dpo, each also a member of the global
-- role of its level that holds the table privileges. Which controllers a session may see or
-- change is computed from role membership alone (pg_has_role on current_user); no setting a
-- user can SET takes part.

CREATE TABLE outreach.controller (
  controller_id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  dpo_contact text,
  legal_contact text,
  created_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT (controller_id, code, name) ON outreach.controller
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
COMMENT ON TABLE outreach.controller IS 'member organisations: each is the data controller of its participants';

CREATE TABLE outreach.controller_role (
  controller_id int NOT NULL REFERENCES outreach.controller ON DELETE CASCADE,
  level text NOT NULL CHECK (level IN ('reader', 'writer', 'dpo', 'analyst')),
  role regrole NOT NULL UNIQUE,
  PRIMARY KEY (controller_id, level)
);
GRANT SELECT ON outreach.controller_role
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
COMMENT ON TABLE outreach.controller_role IS 'the group role of each controller and access level';

SELECT pg_catalog.pg_extension_config_dump('outreach.controller', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.controller_role', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.controller', 'controller_id')::pg_catalog.regclass, '');

-- The controllers the current role may act for at a level: reader (also writer and DPO),
-- writer (also DPO), dpo, or analyst (aggregates: analysts and everyone who may read rows).
-- The processor role reads every controller. Written in C with a per-backend cache that is
-- dropped whenever controller_role or any role membership changes (extension/src/pg/
-- controller_access.cpp); within one query the array is built once.
CREATE OR REPLACE FUNCTION outreach.my_controller_ids(level text DEFAULT 'reader') RETURNS int[]
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION outreach.my_controller_ids(text) IS
  'ids of the controllers the current role may act for at a level (reader, writer, dpo, analyst)';
CREATE OR REPLACE FUNCTION outreach.caller_controller_ids(level text) RETURNS int[]
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION outreach.caller_controller_ids(text) IS
  'my_controller_ids() for the role the session acts as, also inside SECURITY DEFINER functions';
REVOKE EXECUTE ON FUNCTION outreach.caller_controller_ids(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.caller_controller_ids(text) TO outreach_dpo;

-- The row-security test itself: controller_visible(controller_id, level). While a query is
-- planned, its support function replaces the call by the planning role's answer as a plain
-- condition (controller_id = 42, or = ANY('{...}'), or false) and marks the plan as depending
-- on the role; the planner then estimates with the real controllers and carries
-- controller_id = 42 across joins on controller_id, as for a query that named its controller.
-- Every cached plan is invalidated when an answer may change (extension/src/pg/controller_access.cpp).
CREATE OR REPLACE FUNCTION outreach.controller_visible_support(internal) RETURNS internal
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE OR REPLACE FUNCTION outreach.controller_visible(controller_id int, level text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
  SUPPORT outreach.controller_visible_support;
COMMENT ON FUNCTION outreach.controller_visible(int, text) IS
  'whether the current role may act for the controller at the level (the row-security test)';
REVOKE EXECUTE ON FUNCTION outreach.controller_visible_support(internal) FROM PUBLIC;

CREATE OR REPLACE FUNCTION outreach.controller_role_changed() RETURNS trigger
  AS 'MODULE_PATHNAME' LANGUAGE C;
REVOKE EXECUTE ON FUNCTION outreach.controller_role_changed() FROM PUBLIC;
COMMENT ON FUNCTION outreach.controller_role_changed() IS
  'trigger: makes every backend drop its cached answers of my_controller_ids()';
CREATE OR REPLACE TRIGGER controller_role_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON outreach.controller_role
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.controller_role_changed();

-- controller_id's default: the caller's controller when it writes for exactly one.
CREATE OR REPLACE FUNCTION outreach.default_controller_id() RETURNS int
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ids int[] := outreach.my_controller_ids('writer');
BEGIN
  IF cardinality(ids) OPERATOR(pg_catalog.=) 1 THEN
    RETURN ids[1];
  END IF;
  RAISE EXCEPTION '%', CASE WHEN cardinality(ids) OPERATOR(pg_catalog.=) 0
                            THEN 'role "' || current_user || '" may not write for any controller'
                            ELSE 'role "' || current_user || '" writes for several controllers; give controller_id' END
    USING ERRCODE = CASE WHEN cardinality(ids) OPERATOR(pg_catalog.=) 0 THEN '42501' ELSE '23502' END;
END
$$;
GRANT EXECUTE ON FUNCTION outreach.my_controller_ids(text), outreach.default_controller_id()
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
REVOKE EXECUTE ON FUNCTION outreach.my_controller_ids(text), outreach.default_controller_id() FROM PUBLIC;
COMMENT ON FUNCTION outreach.default_controller_id() IS
  'the controller the current role writes for, when it is exactly one (default of controller_id)';

CREATE OR REPLACE FUNCTION outreach.create_controller(code text, name text) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  new_id int;
  lvl text;
  role_name text;
BEGIN
  IF code IS NULL OR code !~ '^[a-z][a-z0-9_]{1,39}$' THEN
    RAISE EXCEPTION 'invalid controller code "%"', code
      USING ERRCODE = '22023', HINT = 'Use 2 to 40 characters: a lower-case letter, then letters, digits or underscores.';
  END IF;
  IF name IS NULL OR length(btrim(name)) = 0 THEN
    RAISE EXCEPTION 'a controller needs a name' USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM outreach.controller c WHERE c.code = create_controller.code) THEN
    RAISE EXCEPTION 'controller "%" already exists', code USING ERRCODE = '23505';
  END IF;
  INSERT INTO outreach.controller (code, name) VALUES (code, btrim(name)) RETURNING controller_id INTO new_id;
  FOREACH lvl IN ARRAY ARRAY['reader', 'writer', 'dpo', 'analyst'] LOOP
    role_name := format('outreach_%s_%s', code, lvl);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
      RAISE EXCEPTION 'role "%" already exists', role_name
        USING ERRCODE = '42710', HINT = 'Controller roles are created by create_controller and must not exist beforehand.';
    END IF;
    EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
    EXECUTE format('GRANT %I TO %I', 'outreach_' || lvl, role_name);
    INSERT INTO outreach.controller_role (controller_id, level, role) VALUES (new_id, lvl, role_name::regrole);
  END LOOP;
  EXECUTE format('GRANT %I TO %I', format('outreach_%s_reader', code), format('outreach_%s_writer', code));
  EXECUTE format('GRANT %I TO %I', format('outreach_%s_writer', code), format('outreach_%s_dpo', code));
  RETURN new_id;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.create_controller(text, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.create_controller(text, text) IS
  'creates a member (data controller) and its reader, writer, dpo and analyst group roles; returns its id';

-- Special-category columns are protected by column privileges, which belong to a role, not to
-- a row. A login that is DPO for one controller and reader or writer for another would read the
-- second controller's special-category data too, so such a mix is refused: use two logins.
CREATE OR REPLACE FUNCTION outreach.grant_controller_access(member regrole, controller_code text, level text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  target_role regrole;
  m record;
  conflict text;
  conflict_role regrole;
BEGIN
  IF level IS NULL OR level NOT IN ('reader', 'writer', 'dpo', 'analyst') THEN
    RAISE EXCEPTION 'unknown access level "%"', level
      USING ERRCODE = '22023', HINT = 'Levels are reader, writer, dpo and analyst.';
  END IF;
  SELECT cr.role INTO target_role
  FROM outreach.controller c JOIN outreach.controller_role cr USING (controller_id)
  WHERE c.code = controller_code AND cr.level = grant_controller_access.level;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller "%"', controller_code USING ERRCODE = '42704';
  END IF;
  SELECT rolsuper, rolbypassrls INTO m FROM pg_roles WHERE oid = member::oid;
  IF m.rolsuper OR m.rolbypassrls THEN
    RAISE EXCEPTION 'role "%" is a superuser or bypasses row-level security; member access needs an ordinary role', member
      USING ERRCODE = '42501';
  END IF;
  -- Row access and DPO status per controller, as they would be after this grant, for the member
  -- and for every role that is a member of it (directly or through others): they gain the
  -- grant too, so granting DPO to a group must not make a reader of another controller a DPO.
  -- (Superusers are left out: they bypass row security and privileges anyway.)
  WITH RECURSIVE heirs(heir) AS (
    SELECT member::oid
    UNION
    SELECT am.member FROM pg_auth_members am JOIN heirs h ON am.roleid = h.heir
  ), access AS (
    SELECT h.heir, c.code,
           coalesce(bool_or(pg_has_role(h.heir, cr.role::oid, 'MEMBER')) FILTER (WHERE cr.level <> 'analyst'), false)
             OR (c.code = controller_code AND grant_controller_access.level <> 'analyst') AS reads_rows,
           coalesce(bool_or(pg_has_role(h.heir, cr.role::oid, 'MEMBER')) FILTER (WHERE cr.level = 'dpo'), false)
             OR (c.code = controller_code AND grant_controller_access.level = 'dpo') AS is_dpo
    FROM heirs h JOIN pg_roles r ON r.oid = h.heir AND NOT r.rolsuper
    CROSS JOIN outreach.controller c JOIN outreach.controller_role cr USING (controller_id)
    GROUP BY h.heir, c.code
  )
  SELECT heir::regrole, string_agg(code, ', ' ORDER BY code) FILTER (WHERE reads_rows AND NOT is_dpo)
    INTO conflict_role, conflict
  FROM access
  GROUP BY heir
  HAVING bool_or(is_dpo) AND (bool_or(reads_rows AND NOT is_dpo) OR pg_has_role(heir, 'outreach_processor', 'MEMBER'))
  ORDER BY heir = member::oid DESC, heir::regrole::text
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'role "%"% would be DPO for one controller and read others'' rows without being their DPO (%)',
                    conflict_role,
                    CASE WHEN conflict_role = member THEN '' ELSE format(' (a member of "%s")', member) END,
                    coalesce(conflict, 'as the processor')
      USING ERRCODE = '42501',
            HINT = 'Column privileges on special-category data are per role: use a separate login for DPO work.';
  END IF;
  EXECUTE format('GRANT %s TO %s', target_role, member);  -- regrole's text is already quoted
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.grant_controller_access(regrole, text, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.grant_controller_access(regrole, text, text) IS
  'lets a role act for a controller at a level: reader, writer, dpo or analyst';

CREATE OR REPLACE FUNCTION outreach.revoke_controller_access(member regrole, controller_code text, level text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
DECLARE
  target_role regrole;
BEGIN
  SELECT cr.role INTO target_role
  FROM outreach.controller c JOIN outreach.controller_role cr USING (controller_id)
  WHERE c.code = controller_code AND cr.level = revoke_controller_access.level;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller "%" or level "%"', controller_code, level USING ERRCODE = '42704';
  END IF;
  EXECUTE format('REVOKE %s FROM %s', target_role, member);
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.revoke_controller_access(regrole, text, text) FROM PUBLIC;
COMMENT ON FUNCTION outreach.revoke_controller_access(regrole, text, text) IS 'undoes grant_controller_access';
