-- What the install needs: a UTF8 database, a schema of the extension's own and the library
-- preloaded. Throughout the schema, no member, and no role without access, can stop the service
-- for everyone (impossible dates, held locks), poison a backup, learn what it may not read
-- (audit side effects, plans, NOTIFY payloads) or exhaust a backend.
\echo Use "CREATE EXTENSION outreach" to load this file. \quit

-- Names and values in UK personal data are Unicode; normalisation and pseudonyms assume UTF-8.
DO $$
BEGIN
  IF pg_catalog.getdatabaseencoding() OPERATOR(pg_catalog.<>) 'UTF8' THEN
    RAISE EXCEPTION 'the outreach extension needs a UTF8 database, this one is %',
      pg_catalog.getdatabaseencoding()
      USING ERRCODE = '0A000', HINT = 'CREATE DATABASE ... ENCODING ''UTF8'' TEMPLATE template0';
  END IF;
END
$$;

-- Created here, not by the control file: if a schema named outreach already exists (perhaps
-- planted by someone hoping the extension would adopt it), CREATE EXTENSION fails.
CREATE SCHEMA outreach;
COMMENT ON SCHEMA outreach IS 'pg_outreach: outreach participation data under UK GDPR';
GRANT USAGE ON SCHEMA outreach TO PUBLIC;

-- The library must be loaded through shared_preload_libraries: its utility hook keeps members
-- from locking the service's tables (see extension/src/pg/lock_guard.cpp), and
-- outreach.key_file is then a superuser-only setting from the server's start, not a placeholder
-- any role could SHOW.
CREATE OR REPLACE FUNCTION outreach.preloaded() RETURNS boolean
  AS 'MODULE_PATHNAME', 'outreach_preloaded' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION outreach.preloaded() IS
  'whether this server loaded the outreach library through shared_preload_libraries (required)';

DO $preload$
BEGIN
  IF NOT outreach.preloaded() THEN
    RAISE EXCEPTION 'the outreach library must be loaded through shared_preload_libraries'
      USING ERRCODE = '55000',
            HINT = 'Add outreach to shared_preload_libraries in postgresql.conf, restart the server, then run this again.';
  END IF;
END
$preload$;
