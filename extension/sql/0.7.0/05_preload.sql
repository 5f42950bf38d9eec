-- From 0.7.0 the library must be loaded by shared_preload_libraries: its utility hook keeps
-- members from locking the service's tables (see extension/src/pg/lock_guard.cpp), and
-- outreach.key_file is then a superuser-only setting from the server's start instead of a
-- placeholder any role can SHOW.
CREATE FUNCTION outreach.preloaded() RETURNS boolean
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
