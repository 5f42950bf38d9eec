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
