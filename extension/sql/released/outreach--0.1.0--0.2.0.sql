\echo Use "ALTER EXTENSION outreach UPDATE TO '0.2.0'" to load this file. \quit

-- 0.2.0: members as data controllers, their roles, personal-data tables under row-level
-- security, cross-member sharing by linkage pseudonym, and the audit trail.

CREATE FUNCTION outreach.invoking_role() RETURNS regrole
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION outreach.invoking_role() IS
  'the role the session acts as (after SET ROLE), also inside SECURITY DEFINER functions';
-- Global roles. Roles belong to the cluster, not the database, so a second database with the
-- extension finds them already there; an existing role is adopted only when it cannot log in
-- and holds no superuser, CREATEROLE, CREATEDB, replication or BYPASSRLS attribute.
DO $roles$
DECLARE
  r record;
  wanted text[] := ARRAY[
    'outreach_processor',  -- the service itself: sees every controller's non-special data
    'outreach_bi',         -- BI tools: aggregate views only
    'outreach_daemon',     -- outreachd: only the functions it calls
    'outreach_reader',     -- privileges shared by every controller's reader role
    'outreach_writer',     -- ... writer role
    'outreach_dpo',        -- ... data-protection officer role
    'outreach_analyst'];   -- ... analyst role (aggregates of its own controller)
  name text;
BEGIN
  FOREACH name IN ARRAY wanted LOOP
    SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
      INTO r FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) name;
    IF NOT FOUND THEN
      EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', name);
    ELSIF r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls THEN
      RAISE EXCEPTION 'role "%" already exists with attributes the extension will not adopt', name
        USING ERRCODE = '42710', HINT = 'Drop it or make it NOLOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS.';
    END IF;
  END LOOP;
END
$roles$;
-- Reference data every member reads: the activity typology and schools and colleges.

CREATE TABLE outreach.activity_type (
  code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
  label text NOT NULL,
  category text NOT NULL,
  shipped boolean NOT NULL DEFAULT false  -- part of the extension's script (not dumped)
);
COMMENT ON TABLE outreach.activity_type IS 'typology of outreach activities; activity.activity_type takes these codes';

-- The shipped typology (after the categories widening-participation practitioners use).
INSERT INTO outreach.activity_type (code, label, category, shipped) SELECT code, label, category, true FROM (VALUES
  ('campus_visit',        'Campus visit or open day',                 'information_advice_guidance'),
  ('taster_session',      'Subject taster session or lecture',        'skills_and_attainment'),
  ('summer_school',       'Summer school (residential or day)',       'summer_school'),
  ('mentoring',           'Mentoring (in person or online)',          'mentoring'),
  ('tutoring',            'Academic tutoring',                        'skills_and_attainment'),
  ('workshop',            'Workshop in school or college',            'skills_and_attainment'),
  ('information_session', 'Information, advice and guidance session', 'information_advice_guidance'),
  ('ucas_support',        'Application and personal statement support','information_advice_guidance'),
  ('parent_carer_event',  'Event for parents and carers',             'information_advice_guidance'),
  ('teacher_cpd',         'Training for teachers and advisers',       'information_advice_guidance'),
  ('multi_intervention',  'Sustained multi-activity programme',       'multi_intervention'),
  ('competition',         'Competition or challenge',                 'skills_and_attainment'),
  ('online_course',       'Online course or resource',                'skills_and_attainment'),
  ('careers_fair',        'Careers or higher-education fair',         'information_advice_guidance'),
  ('other',               'Other activity',                           'other')
) AS shipped_types(code, label, category);

CREATE TABLE outreach.institution (
  institution_id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  urn int UNIQUE CHECK (urn BETWEEN 100000 AND 999999),           -- schools (DfE URN)
  ukprn int UNIQUE CHECK (ukprn BETWEEN 10000000 AND 19999999),   -- colleges and providers (UKPRN)
  name text NOT NULL,
  postcode outreach.uk_postcode,
  CHECK (urn IS NOT NULL OR ukprn IS NOT NULL)
);
COMMENT ON TABLE outreach.institution IS 'schools (URN) and colleges or providers (UKPRN) participants attend';

-- Both tables hold data added after installation: pg_dump must copy it.
SELECT pg_catalog.pg_extension_config_dump('outreach.activity_type', 'WHERE NOT shipped');
SELECT pg_catalog.pg_extension_config_dump('outreach.institution', '');
-- An identity column's sequence is dumped only when registered itself: without its position a
-- restored database would hand out ids that are already taken.
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.institution', 'institution_id')::pg_catalog.regclass, '');
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
COMMENT ON TABLE outreach.controller IS 'member organisations: each is the data controller of its participants';

CREATE TABLE outreach.controller_role (
  controller_id int NOT NULL REFERENCES outreach.controller ON DELETE CASCADE,
  level text NOT NULL CHECK (level IN ('reader', 'writer', 'dpo', 'analyst')),
  role regrole NOT NULL UNIQUE,
  PRIMARY KEY (controller_id, level)
);
COMMENT ON TABLE outreach.controller_role IS 'the group role of each controller and access level';

SELECT pg_catalog.pg_extension_config_dump('outreach.controller', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.controller_role', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.controller', 'controller_id')::pg_catalog.regclass, '');

-- The controllers the current role may act for at a level: reader (also writer and DPO),
-- writer (also DPO), dpo, or analyst (aggregates: analysts and everyone who may read rows).
-- The processor role reads every controller. Written in C with a per-backend cache that is
-- dropped whenever controller_role or any role membership changes (extension/src/pg/
-- controller_access.cpp); within one query the array is built once.
CREATE FUNCTION outreach.my_controller_ids(level text DEFAULT 'reader') RETURNS int[]
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION outreach.my_controller_ids(text) IS
  'ids of the controllers the current role may act for at a level (reader, writer, dpo, analyst)';

-- The row-security test itself: controller_visible(controller_id, level). While a query is
-- planned, its support function replaces the call by the planning role's answer as a plain
-- condition (controller_id = 42, or = ANY('{...}'), or false) and marks the plan as depending
-- on the role; the planner then estimates with the real controllers and carries
-- controller_id = 42 across joins on controller_id, as for a query that named its controller.
-- Every cached plan is invalidated when an answer may change (extension/src/pg/controller_access.cpp).
CREATE FUNCTION outreach.controller_visible_support(internal) RETURNS internal
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION outreach.controller_visible(controller_id int, level text) RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
  SUPPORT outreach.controller_visible_support;
COMMENT ON FUNCTION outreach.controller_visible(int, text) IS
  'whether the current role may act for the controller at the level (the row-security test)';
REVOKE EXECUTE ON FUNCTION outreach.controller_visible_support(internal) FROM PUBLIC;

CREATE FUNCTION outreach.controller_role_changed() RETURNS trigger
  AS 'MODULE_PATHNAME' LANGUAGE C;
REVOKE EXECUTE ON FUNCTION outreach.controller_role_changed() FROM PUBLIC;
COMMENT ON FUNCTION outreach.controller_role_changed() IS
  'trigger: makes every backend drop its cached answers of my_controller_ids()';
CREATE TRIGGER controller_role_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON outreach.controller_role
  FOR EACH STATEMENT EXECUTE FUNCTION outreach.controller_role_changed();

-- controller_id's default: the caller's controller when it writes for exactly one.
CREATE FUNCTION outreach.default_controller_id() RETURNS int
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
COMMENT ON FUNCTION outreach.default_controller_id() IS
  'the controller the current role writes for, when it is exactly one (default of controller_id)';

CREATE FUNCTION outreach.create_controller(code text, name text) RETURNS int
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
CREATE FUNCTION outreach.grant_controller_access(member regrole, controller_code text, level text) RETURNS void
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

CREATE FUNCTION outreach.revoke_controller_access(member regrole, controller_code text, level text) RETURNS void
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
-- Personal data. controller_id leads the primary key of every table and every foreign key
-- between them, so the tables can be hash-distributed by controller (Citus) or partitioned by
-- controller without redesign, and every member query has controller_id as an index condition.

CREATE TABLE outreach.participant (
  controller_id int NOT NULL DEFAULT outreach.default_controller_id() REFERENCES outreach.controller,
  participant_id bigint GENERATED ALWAYS AS IDENTITY,
  external_ref text CHECK (length(external_ref) <= 100),       -- the member's own reference
  first_name text CHECK (length(first_name) <= 200),
  last_name text CHECK (length(last_name) <= 200),
  date_of_birth date CHECK (date_of_birth BETWEEN DATE '1900-01-01' AND DATE '2100-01-01'),
  postcode outreach.uk_postcode,
  institution_id int REFERENCES outreach.institution,
  -- special category data (UK GDPR Art. 9): readable at the dpo level only
  sex text CHECK (length(sex) <= 50),
  gender_identity text CHECK (length(gender_identity) <= 100),
  ethnicity text CHECK (length(ethnicity) <= 100),
  disability text CHECK (length(disability) <= 200),
  religion text CHECK (length(religion) <= 100),
  -- derived and status columns
  linkage_id outreach.pseudo_id,                                -- kept current by a trigger
  he_entry_year_override int CHECK (he_entry_year_override BETWEEN 1950 AND 2100),
  he_entry_year_override_reason text,
  withdrawn_at timestamptz,
  restricted_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (controller_id, participant_id),
  UNIQUE (controller_id, external_ref),
  CONSTRAINT override_needs_reason CHECK (
    he_entry_year_override IS NULL OR coalesce(length(btrim(he_entry_year_override_reason)), 0) > 0)
);
CREATE INDEX participant_linkage_idx ON outreach.participant (linkage_id) WHERE linkage_id IS NOT NULL;
COMMENT ON TABLE outreach.participant IS 'people who take part in outreach, one row per controller that registered them';
COMMENT ON COLUMN outreach.participant.linkage_id IS 'outreach.pseudonymise() of name, date of birth and postcode; NULL while any is missing';

CREATE TABLE outreach.activity (
  controller_id int NOT NULL DEFAULT outreach.default_controller_id() REFERENCES outreach.controller,
  activity_id bigint GENERATED ALWAYS AS IDENTITY,
  activity_type text NOT NULL REFERENCES outreach.activity_type,
  name text CHECK (length(name) <= 300),
  starts_on date NOT NULL,
  ends_on date,
  delivered_by int REFERENCES outreach.controller,            -- a partner delivering it; NULL: the controller
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (controller_id, activity_id),
  CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
COMMENT ON TABLE outreach.activity IS 'outreach activities a controller runs';

CREATE TABLE outreach.attendance (
  controller_id int NOT NULL DEFAULT outreach.default_controller_id(),
  participant_id bigint NOT NULL,
  activity_id bigint NOT NULL,
  attended_on date NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (controller_id, participant_id, activity_id, attended_on),
  FOREIGN KEY (controller_id, participant_id) REFERENCES outreach.participant ON DELETE CASCADE,
  FOREIGN KEY (controller_id, activity_id) REFERENCES outreach.activity
);
CREATE INDEX attendance_activity_idx ON outreach.attendance (controller_id, activity_id);
COMMENT ON TABLE outreach.attendance IS 'who attended which activity when';

SELECT pg_catalog.pg_extension_config_dump('outreach.participant', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.activity', '');
SELECT pg_catalog.pg_extension_config_dump('outreach.attendance', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.participant', 'participant_id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.activity', 'activity_id')::pg_catalog.regclass, '');

-- Rows never move between controllers and keys never change: a member cannot launder a row
-- into another controller, and audit records keep pointing at the same record.
CREATE FUNCTION outreach.keep_keys() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NEW.controller_id IS DISTINCT FROM OLD.controller_id THEN
    RAISE EXCEPTION 'a row cannot move to another controller' USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END
$$;
COMMENT ON FUNCTION outreach.keep_keys() IS 'trigger: refuses UPDATEs that change controller_id';

-- linkage_id follows the identifiers; updated_at follows any change. SECURITY DEFINER because
-- members may not compute pseudonyms themselves (see outreach.pseudonymise).
CREATE FUNCTION outreach.participant_derive() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, outreach, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT'
     OR NEW.first_name IS DISTINCT FROM OLD.first_name OR NEW.last_name IS DISTINCT FROM OLD.last_name
     OR NEW.date_of_birth IS DISTINCT FROM OLD.date_of_birth OR NEW.postcode IS DISTINCT FROM OLD.postcode
     OR NEW.linkage_id IS DISTINCT FROM OLD.linkage_id THEN
    NEW.linkage_id := outreach.pseudonymise(NEW.first_name, NEW.last_name, NEW.date_of_birth,
                                            NEW.postcode::text, 'linkage');
  END IF;
  IF TG_OP = 'UPDATE' THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.participant_derive() FROM PUBLIC;
COMMENT ON FUNCTION outreach.participant_derive() IS 'trigger: keeps linkage_id and updated_at current';

CREATE TRIGGER participant_derive BEFORE INSERT OR UPDATE ON outreach.participant
  FOR EACH ROW EXECUTE FUNCTION outreach.participant_derive();
CREATE TRIGGER participant_keep_keys BEFORE UPDATE OF controller_id ON outreach.participant
  FOR EACH ROW EXECUTE FUNCTION outreach.keep_keys();
CREATE TRIGGER activity_keep_keys BEFORE UPDATE OF controller_id ON outreach.activity
  FOR EACH ROW EXECUTE FUNCTION outreach.keep_keys();
CREATE TRIGGER attendance_keep_keys BEFORE UPDATE OF controller_id ON outreach.attendance
  FOR EACH ROW EXECUTE FUNCTION outreach.keep_keys();
-- Row-level security: every personal-data table answers only for the controllers the current
-- role acts for. ENABLE and FORCE, so not even the tables' owner is exempt (superusers are,
-- as always in PostgreSQL: no application role may be one). The helper sits in a sub-select,
-- so it runs once per query and controller_id = ANY(...) is an index condition.

ALTER TABLE outreach.participant ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.participant FORCE ROW LEVEL SECURITY;
ALTER TABLE outreach.activity ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.activity FORCE ROW LEVEL SECURITY;
ALTER TABLE outreach.attendance ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.attendance FORCE ROW LEVEL SECURITY;

CREATE POLICY participant_read ON outreach.participant FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
CREATE POLICY participant_insert ON outreach.participant FOR INSERT
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY participant_update ON outreach.participant FOR UPDATE
  USING (outreach.controller_visible(controller_id, 'writer'))
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY participant_delete ON outreach.participant FOR DELETE
  USING (outreach.controller_visible(controller_id, 'writer'));

CREATE POLICY activity_read ON outreach.activity FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
CREATE POLICY activity_insert ON outreach.activity FOR INSERT
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY activity_update ON outreach.activity FOR UPDATE
  USING (outreach.controller_visible(controller_id, 'writer'))
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY activity_delete ON outreach.activity FOR DELETE
  USING (outreach.controller_visible(controller_id, 'writer'));

CREATE POLICY attendance_read ON outreach.attendance FOR SELECT
  USING (outreach.controller_visible(controller_id, 'reader'));
CREATE POLICY attendance_insert ON outreach.attendance FOR INSERT
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY attendance_update ON outreach.attendance FOR UPDATE
  USING (outreach.controller_visible(controller_id, 'writer'))
  WITH CHECK (outreach.controller_visible(controller_id, 'writer'));
CREATE POLICY attendance_delete ON outreach.attendance FOR DELETE
  USING (outreach.controller_visible(controller_id, 'writer'));

-- Table and column privileges, held by the global level roles each controller's roles join.
REVOKE ALL ON outreach.participant, outreach.activity, outreach.attendance,
              outreach.controller, outreach.controller_role, outreach.activity_type, outreach.institution
  FROM PUBLIC;

GRANT SELECT (controller_id, code, name) ON outreach.controller
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
GRANT SELECT ON outreach.controller_role
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
GRANT SELECT ON outreach.activity_type, outreach.institution
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi;
GRANT EXECUTE ON FUNCTION outreach.my_controller_ids(text), outreach.default_controller_id()
  TO outreach_reader, outreach_analyst, outreach_processor, outreach_bi, outreach_daemon;
REVOKE EXECUTE ON FUNCTION outreach.my_controller_ids(text), outreach.default_controller_id() FROM PUBLIC;

-- Readers (and the processor) see everything but the special-category columns.
GRANT SELECT (controller_id, participant_id, external_ref, first_name, last_name, date_of_birth, postcode,
              institution_id, linkage_id, he_entry_year_override, he_entry_year_override_reason,
              withdrawn_at, restricted_at, created_at, updated_at)
  ON outreach.participant TO outreach_reader, outreach_processor;
GRANT SELECT ON outreach.activity, outreach.attendance TO outreach_reader, outreach_processor;

-- Writers register and correct people; writing special-category data does not reveal it.
GRANT INSERT (controller_id, external_ref, first_name, last_name, date_of_birth, postcode, institution_id,
              sex, gender_identity, ethnicity, disability, religion,
              he_entry_year_override, he_entry_year_override_reason, withdrawn_at, restricted_at)
  ON outreach.participant TO outreach_writer;
GRANT UPDATE (external_ref, first_name, last_name, date_of_birth, postcode, institution_id,
              sex, gender_identity, ethnicity, disability, religion,
              he_entry_year_override, he_entry_year_override_reason, withdrawn_at, restricted_at)
  ON outreach.participant TO outreach_writer;
GRANT DELETE ON outreach.participant TO outreach_writer;
GRANT INSERT (controller_id, activity_type, name, starts_on, ends_on, delivered_by),
      UPDATE (activity_type, name, starts_on, ends_on, delivered_by), DELETE
  ON outreach.activity TO outreach_writer;
GRANT INSERT (controller_id, participant_id, activity_id, attended_on), UPDATE (attended_on), DELETE
  ON outreach.attendance TO outreach_writer;

-- DPOs also read the special-category columns.
GRANT SELECT (sex, gender_identity, ethnicity, disability, religion) ON outreach.participant TO outreach_dpo;
-- Views for members.

-- Everything a reader may see of its participants (no special-category columns), with the
-- caller's own privileges and row security.
CREATE VIEW outreach.participant_core WITH (security_invoker = true) AS
SELECT controller_id, participant_id, external_ref, first_name, last_name, date_of_birth, postcode,
       institution_id, linkage_id, he_entry_year_override, he_entry_year_override_reason,
       withdrawn_at, restricted_at, created_at, updated_at
FROM outreach.participant;
COMMENT ON VIEW outreach.participant_core IS 'participants without special-category columns (for readers)';
GRANT SELECT ON outreach.participant_core TO outreach_reader, outreach_processor;

-- Cross-member engagement: for the caller's own participants, which other members' activities
-- the same person (same linkage pseudonym) attended: the member, the activity type and the
-- date, nothing else. It reads other members' rows, so it runs with its owner's rights and
-- filters to the caller's controllers itself; security_barrier keeps a caller's functions
-- from seeing rows before that filter. Withdrawn or restricted people are never shared.
CREATE VIEW outreach.shared_engagement WITH (security_barrier = true) AS
SELECT mine.controller_id,
       mine.participant_id,
       other.controller_id AS other_controller_id,
       other_c.code AS other_controller_code,
       other_c.name AS other_controller_name,
       a.activity_type,
       att.attended_on
FROM outreach.participant mine
JOIN outreach.participant other
  ON other.linkage_id OPERATOR(outreach.=) mine.linkage_id
 AND other.controller_id OPERATOR(pg_catalog.<>) mine.controller_id
JOIN outreach.attendance att
  ON att.controller_id OPERATOR(pg_catalog.=) other.controller_id
 AND att.participant_id OPERATOR(pg_catalog.=) other.participant_id
JOIN outreach.activity a
  ON a.controller_id OPERATOR(pg_catalog.=) att.controller_id
 AND a.activity_id OPERATOR(pg_catalog.=) att.activity_id
JOIN outreach.controller other_c ON other_c.controller_id OPERATOR(pg_catalog.=) other.controller_id
WHERE outreach.controller_visible(mine.controller_id, 'reader')
  AND mine.linkage_id IS NOT NULL
  AND mine.withdrawn_at IS NULL AND mine.restricted_at IS NULL
  AND other.withdrawn_at IS NULL AND other.restricted_at IS NULL;
COMMENT ON VIEW outreach.shared_engagement IS
  'for own participants: other members'' activities the same person attended (member, activity type, date)';
GRANT SELECT ON outreach.shared_engagement TO outreach_reader, outreach_processor;
-- The audit trail: every change to personal data, and every read of special-category data
-- through outreach.read_special_category(). It records who (session role and acting role),
-- when, which record and which columns, never the personal values. Members cannot write it;
-- each controller's DPO reads its own part.

CREATE TABLE outreach.audit_log (
  controller_id int NOT NULL,
  audit_id bigint GENERATED ALWAYS AS IDENTITY,
  logged_at timestamptz NOT NULL DEFAULT statement_timestamp(),
  session_role name NOT NULL,
  acting_role name NOT NULL,
  action text NOT NULL CHECK (action IN ('insert', 'update', 'delete', 'read_special')),
  relation text NOT NULL,
  record jsonb NOT NULL,      -- the record's key, e.g. {"participant_id": 42}
  columns text[],             -- for updates and reads: which columns
  PRIMARY KEY (controller_id, audit_id)
);
COMMENT ON TABLE outreach.audit_log IS 'who changed personal data or read special-category data, when, which record and columns';
SELECT pg_catalog.pg_extension_config_dump('outreach.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('outreach.audit_log', 'audit_id')::pg_catalog.regclass, '');

ALTER TABLE outreach.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE outreach.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_dpo_read ON outreach.audit_log FOR SELECT
  USING (outreach.controller_visible(controller_id, 'dpo'));
REVOKE ALL ON outreach.audit_log FROM PUBLIC;
GRANT SELECT ON outreach.audit_log TO outreach_dpo;

-- Statement-level triggers with transition tables: one INSERT into the log per statement, so
-- bulk loads pay little. Keys never change (keep_keys), so old and new rows join on them.
CREATE FUNCTION outreach.audit_participant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor name := outreach.invoking_role()::text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT n.controller_id, session_user, actor, 'insert', 'participant', jsonb_build_object('participant_id', n.participant_id)
    FROM new_rows n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT o.controller_id, session_user, actor, 'delete', 'participant', jsonb_build_object('participant_id', o.participant_id)
    FROM old_rows o;
  ELSE
    -- Only rows whose personal data changed: status columns maintained by the extension itself
    -- (retention, last attendance) are not personal data.
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    SELECT controller_id, session_user, actor, 'update', 'participant', jsonb_build_object('participant_id', participant_id), changed
    FROM (
    SELECT n.controller_id, n.participant_id,
           array_remove(ARRAY[
             CASE WHEN n.external_ref IS DISTINCT FROM o.external_ref THEN 'external_ref' END,
             CASE WHEN n.first_name IS DISTINCT FROM o.first_name THEN 'first_name' END,
             CASE WHEN n.last_name IS DISTINCT FROM o.last_name THEN 'last_name' END,
             CASE WHEN n.date_of_birth IS DISTINCT FROM o.date_of_birth THEN 'date_of_birth' END,
             CASE WHEN n.postcode::text IS DISTINCT FROM o.postcode::text THEN 'postcode' END,
             CASE WHEN n.institution_id IS DISTINCT FROM o.institution_id THEN 'institution_id' END,
             CASE WHEN n.sex IS DISTINCT FROM o.sex THEN 'sex' END,
             CASE WHEN n.gender_identity IS DISTINCT FROM o.gender_identity THEN 'gender_identity' END,
             CASE WHEN n.ethnicity IS DISTINCT FROM o.ethnicity THEN 'ethnicity' END,
             CASE WHEN n.disability IS DISTINCT FROM o.disability THEN 'disability' END,
             CASE WHEN n.religion IS DISTINCT FROM o.religion THEN 'religion' END,
             CASE WHEN n.he_entry_year_override IS DISTINCT FROM o.he_entry_year_override THEN 'he_entry_year_override' END,
             CASE WHEN n.he_entry_year_override_reason IS DISTINCT FROM o.he_entry_year_override_reason THEN 'he_entry_year_override_reason' END,
             CASE WHEN n.withdrawn_at IS DISTINCT FROM o.withdrawn_at THEN 'withdrawn_at' END,
             CASE WHEN n.restricted_at IS DISTINCT FROM o.restricted_at THEN 'restricted_at' END
           ], NULL) AS changed
    FROM new_rows n JOIN old_rows o USING (controller_id, participant_id)
    ) AS c
    WHERE cardinality(changed) > 0;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION outreach.audit_activity() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor name := outreach.invoking_role()::text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT o.controller_id, session_user, actor, 'delete', 'activity', jsonb_build_object('activity_id', o.activity_id)
    FROM old_rows o;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    SELECT n.controller_id, session_user, actor, 'update', 'activity', jsonb_build_object('activity_id', n.activity_id),
           array_remove(ARRAY[
             CASE WHEN n.activity_type IS DISTINCT FROM o.activity_type THEN 'activity_type' END,
             CASE WHEN n.name IS DISTINCT FROM o.name THEN 'name' END,
             CASE WHEN n.starts_on IS DISTINCT FROM o.starts_on THEN 'starts_on' END,
             CASE WHEN n.ends_on IS DISTINCT FROM o.ends_on THEN 'ends_on' END,
             CASE WHEN n.delivered_by IS DISTINCT FROM o.delivered_by THEN 'delivered_by' END
           ], NULL)
    FROM new_rows n JOIN old_rows o USING (controller_id, activity_id);
  ELSE
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT n.controller_id, session_user, actor, 'insert', 'activity', jsonb_build_object('activity_id', n.activity_id)
    FROM new_rows n;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION outreach.audit_attendance() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  actor name := outreach.invoking_role()::text;
BEGIN
  IF TG_LEVEL = 'ROW' THEN
    -- Updates, row by row: attended_on is part of the key, so a statement's old and new rows
    -- could not be paired to tell which columns changed.
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    VALUES (NEW.controller_id, session_user, actor, 'update', 'attendance',
            jsonb_build_object('participant_id', NEW.participant_id, 'activity_id', NEW.activity_id),
            array_remove(ARRAY[
              CASE WHEN NEW.participant_id IS DISTINCT FROM OLD.participant_id THEN 'participant_id' END,
              CASE WHEN NEW.activity_id IS DISTINCT FROM OLD.activity_id THEN 'activity_id' END,
              CASE WHEN NEW.attended_on IS DISTINCT FROM OLD.attended_on THEN 'attended_on' END
            ], NULL));
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT o.controller_id, session_user, actor, 'delete', 'attendance',
           jsonb_build_object('participant_id', o.participant_id, 'activity_id', o.activity_id)
    FROM old_rows o;
  ELSE
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record)
    SELECT n.controller_id, session_user, actor, 'insert', 'attendance',
           jsonb_build_object('participant_id', n.participant_id, 'activity_id', n.activity_id)
    FROM new_rows n;
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.audit_participant(), outreach.audit_activity(), outreach.audit_attendance() FROM PUBLIC;
COMMENT ON FUNCTION outreach.audit_participant() IS 'trigger: writes participant changes to the audit log';
COMMENT ON FUNCTION outreach.audit_activity() IS 'trigger: writes activity changes to the audit log';
COMMENT ON FUNCTION outreach.audit_attendance() IS 'trigger: writes attendance changes to the audit log';

-- Transition tables need one trigger per event. Attendance updates are the exception, logged
-- per row (see audit_attendance); members rarely change an attendance date.
CREATE TRIGGER audit_insert AFTER INSERT ON outreach.participant
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_participant();
CREATE TRIGGER audit_update AFTER UPDATE ON outreach.participant
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_participant();
CREATE TRIGGER audit_delete AFTER DELETE ON outreach.participant
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_participant();
CREATE TRIGGER audit_insert AFTER INSERT ON outreach.activity
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_activity();
CREATE TRIGGER audit_update AFTER UPDATE ON outreach.activity
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_activity();
CREATE TRIGGER audit_delete AFTER DELETE ON outreach.activity
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_activity();
CREATE TRIGGER audit_insert AFTER INSERT ON outreach.attendance
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_attendance();
CREATE TRIGGER audit_update AFTER UPDATE ON outreach.attendance
  FOR EACH ROW EXECUTE FUNCTION outreach.audit_attendance();
CREATE TRIGGER audit_delete AFTER DELETE ON outreach.attendance
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach.audit_attendance();

-- Reading special-category data, audited. The caller must be the controller's DPO or hold an
-- explicit SELECT grant on the column (checked for the invoking role: this function runs as
-- its owner so that it can write the log).
CREATE FUNCTION outreach.read_special_category(controller_id int, participant_ids bigint[] DEFAULT NULL)
RETURNS TABLE (participant_id bigint, sex text, gender_identity text, ethnicity text, disability text, religion text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  caller regrole := outreach.invoking_role();
  allowed boolean;
BEGIN
  SELECT pg_has_role(caller::oid, cr.role::oid, 'USAGE') INTO allowed
  FROM outreach.controller_role cr
  WHERE cr.controller_id = read_special_category.controller_id AND cr.level = 'dpo';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown controller %', read_special_category.controller_id USING ERRCODE = '42704';
  END IF;
  IF NOT allowed AND NOT (
       pg_has_role(caller::oid, (SELECT r.role FROM outreach.controller_role r
                                 WHERE r.controller_id = read_special_category.controller_id AND r.level = 'reader')::oid, 'USAGE')
       AND has_column_privilege(caller::oid, 'outreach.participant'::regclass, 'ethnicity', 'SELECT')) THEN
    RAISE EXCEPTION 'permission denied to read special-category data of controller %', read_special_category.controller_id
      USING ERRCODE = '42501';
  END IF;
  RETURN QUERY
  WITH picked AS (
    SELECT p.participant_id, p.sex, p.gender_identity, p.ethnicity, p.disability, p.religion
    FROM outreach.participant p
    WHERE p.controller_id = read_special_category.controller_id
      AND (participant_ids IS NULL OR p.participant_id = ANY (participant_ids))
  ), logged AS (
    INSERT INTO outreach.audit_log (controller_id, session_role, acting_role, action, relation, record, columns)
    SELECT read_special_category.controller_id, session_user, caller::text, 'read_special', 'participant',
           jsonb_build_object('participant_id', picked.participant_id),
           ARRAY['sex', 'gender_identity', 'ethnicity', 'disability', 'religion']
    FROM picked
  )
  SELECT * FROM picked;
END
$$;
REVOKE EXECUTE ON FUNCTION outreach.read_special_category(int, bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outreach.read_special_category(int, bigint[]) TO outreach_reader;
COMMENT ON FUNCTION outreach.read_special_category(int, bigint[]) IS
  'special-category data of a controller''s participants for its DPO (or an explicit grantee), recorded in the audit log';
