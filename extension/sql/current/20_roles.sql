-- Roles: the cluster-wide group roles that hold the extension's privileges (each controller's
-- own roles join them: see 22_controllers.sql), and invoking_role(), the role a session acts as.

CREATE OR REPLACE FUNCTION outreach.invoking_role() RETURNS regrole
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
    'outreach_security',   -- the service's security role: the breach register
    'outreach_support',    -- the service's support staff: purpose-bound look-ups, each on the record
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
