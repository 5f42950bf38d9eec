#!/usr/bin/env bash
# What pg_regress cannot do in its one database: a database of our own in the running cluster
# (scripts/test's: PGHOST/PGPORT/PGUSER point at it, as a superuser; logins need no password).
#   1. Global roles squatted with attributes the extension must not adopt (outreach_bi WITH
#      LOGIN, or BYPASSRLS) make CREATE EXTENSION fail (42710).
#   2. A non-superuser plants functions, aggregates, operators and views in public (as a
#      database upgraded from before PostgreSQL 15 may still allow) under the names the
#      extension's SQL and C code use; each records itself in a tripwire table when run. The
#      superuser then runs CREATE EXTENSION outreach VERSION '0.1.0' and, with
#      search_path = public, pg_catalog, ALTER EXTENSION outreach UPDATE: the tripwire stays
#      empty and the extension is at the newest version.
#   3. Members connect afresh with that search_path (so their first query fills the backend's
#      cache of my_controller_ids): a partner writing for A and reading B must not write B; a
#      real login cannot SET ROLE or SET SESSION AUTHORIZATION to another member.
# Prints one "ok security: ..." / "FAILED security: ..." line per check, exits non-zero when
# any fails, and drops its database and roles (also after a failure; KEEP_WORK=1 keeps the
# psql outputs it checked, in the temporary directory it names with bash -x).
set -uo pipefail

db=regress_hostile_upgrade
failed=0
work=$(mktemp -d)
bi_restore=""   # ALTER ROLE statement that puts outreach_bi back as it was

check() {  # check NAME COMMAND...: the command succeeds when the property holds
  local name=$1; shift
  if "$@"; then echo "ok security: $name"; else echo "FAILED security: $name"; failed=1; fi
}

# sql [psql options...]: runs stdin with psql in our database, output and errors to stdout
sql() { psql -X -q -At -v VERBOSITY=verbose -d "$db" "$@" 2>&1; }

cleanup() {
  [ -n "$bi_restore" ] && psql -X -q -d postgres -c "$bi_restore" >/dev/null 2>&1
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  psql -X -q -At -d postgres >/dev/null 2>&1 <<'SQL'
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT rolname FROM pg_catalog.pg_roles
           WHERE rolname LIKE 'regress\_hsp\_%' OR rolname LIKE 'outreach\_regress\_hsp\_%' LOOP
    EXECUTE pg_catalog.format('DROP ROLE %I', r.rolname);
  END LOOP;
END $$;
SQL
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

if [ "$(psql -X -At -d postgres -c 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user' 2>/dev/null)" != t ]; then
  echo "FAILED security: upgrade under a hostile search_path (needs a superuser connection to a running cluster)"
  exit 1
fi
cleanup; work=$(mktemp -d)
psql -X -q -d postgres -c "CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8'" || { echo "FAILED security: create database $db"; exit 1; }
psql -X -q -d postgres <<'SQL'
CREATE ROLE regress_hsp_evil LOGIN;      -- plants objects
CREATE ROLE regress_hsp_partner LOGIN;   -- writes for A, reads B
CREATE ROLE regress_hsp_bob LOGIN;       -- writes for B
SQL

# 1. Squatted global roles. The role is changed for a moment and put back as it was.
squat_refused() {  # squat_refused ATTRIBUTES: CREATE EXTENSION fails with 42710 while outreach_bi has them
  local existed attrs out
  existed=$(psql -X -At -d postgres -c "SELECT CASE WHEN rolcanlogin THEN 'LOGIN' ELSE 'NOLOGIN' END || ' ' ||
                                               CASE WHEN rolbypassrls THEN 'BYPASSRLS' ELSE 'NOBYPASSRLS' END
                                        FROM pg_roles WHERE rolname = 'outreach_bi'")
  if [ -n "$existed" ]; then
    bi_restore="ALTER ROLE outreach_bi $existed"
    psql -X -q -d postgres -c "ALTER ROLE outreach_bi $1" || return 1
  else
    bi_restore="DROP ROLE IF EXISTS outreach_bi"
    psql -X -q -d postgres -c "CREATE ROLE outreach_bi $1" || return 1
  fi
  out=$(echo "CREATE EXTENSION outreach;" | sql)
  psql -X -q -d postgres -c "$bi_restore" && bi_restore=""
  echo "$out" > "$work/squat.txt"
  grep -q '42710: role "outreach_bi" already exists with attributes the extension will not adopt' <<<"$out" &&
    [ "$(sql -c "SELECT count(*) FROM pg_extension WHERE extname = 'outreach'")" = 0 ]
}
check "a pre-existing role outreach_bi WITH LOGIN makes CREATE EXTENSION fail (42710)" squat_refused "LOGIN NOBYPASSRLS"
check "a pre-existing role outreach_bi WITH BYPASSRLS makes CREATE EXTENSION fail (42710)" squat_refused "NOLOGIN BYPASSRLS"

# 2. Planting in public, then install 0.1.0 and update under search_path = public, pg_catalog.
sql <<'SQL' > "$work/plant.txt"
GRANT CREATE ON SCHEMA public TO regress_hsp_evil;
SQL
sql -U regress_hsp_evil <<'SQL' >> "$work/plant.txt"
CREATE TABLE public.tripwire (planted text, run_as name);
CREATE FUNCTION public.trip(planted text) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  INSERT INTO public.tripwire VALUES (planted, session_user);
  RETURN true;
END $$;
DO $plant$
DECLARE
  f record;
BEGIN
  FOR f IN SELECT * FROM (VALUES
    ('lower(text)', 'text', 'pg_catalog.lower($1)'),
    ('upper(text)', 'text', 'pg_catalog.upper($1)'),
    ('btrim(text)', 'text', 'pg_catalog.btrim($1)'),
    ('length(text)', 'int', 'pg_catalog.length($1)'),
    ('format(text)', 'text', 'pg_catalog.format($1)'),
    ('format(text, text)', 'text', 'pg_catalog.format($1, $2)'),
    ('format(text, text, text)', 'text', 'pg_catalog.format($1, $2, $3)'),
    ('format(text, regrole, text)', 'text', 'pg_catalog.format($1, $2, $3)'),
    ('now()', 'timestamptz', 'pg_catalog.now()'),
    ('statement_timestamp()', 'timestamptz', 'pg_catalog.statement_timestamp()'),
    ('pg_has_role(name, oid, text)', 'boolean', 'true'),
    ('pg_has_role(oid, oid, text)', 'boolean', 'true'),
    ('pg_has_role(name, text, text)', 'boolean', 'true'),
    ('pg_has_role(oid, text, text)', 'boolean', 'true'),
    ('has_column_privilege(oid, regclass, text, text)', 'boolean', 'true'),
    ('cardinality(anyarray)', 'int', 'pg_catalog.cardinality($1)'),
    ('array_remove(anyarray, anyelement)', 'anyarray', 'pg_catalog.array_remove($1, $2)'),
    ('jsonb_build_object(text, bigint)', 'jsonb', 'pg_catalog.jsonb_build_object($1, $2)'),
    ('jsonb_build_object(text, bigint, text, bigint)', 'jsonb', 'pg_catalog.jsonb_build_object($1, $2, $3, $4)'),
    ('"coalesce"(anyelement, anyelement)', 'anyelement', '$1'),
    ('set_config(text, text, boolean)', 'text', 'pg_catalog.set_config($1, $2, $3)'),
    ('current_setting(text)', 'text', 'pg_catalog.current_setting($1)'),
    ('getdatabaseencoding()', 'name', '''UTF8'''),
    ('pg_extension_config_dump(regclass, text)', 'boolean', 'true'),
    ('pg_get_serial_sequence(text, text)', 'text', 'pg_catalog.pg_get_serial_sequence($1, $2)'),
    ('my_controller_ids(text)', 'int[]', 'ARRAY(SELECT controller_id FROM outreach.controller)'),
    ('default_controller_id()', 'int', '(SELECT min(controller_id) FROM outreach.controller)'),
    ('invoking_role()', 'regrole', '''postgres''::pg_catalog.regrole'),
    ('pseudonymise(text, text, date, text, text)', 'text', 'NULL'),
    ('int4eq(int, int)', 'boolean', 'true'),
    ('int4ne(int, int)', 'boolean', 'false'),
    ('int8eq(bigint, bigint)', 'boolean', 'true'),
    ('oideq(oid, oid)', 'boolean', 'true'),
    ('textregexeq(text, text)', 'boolean', 'true'),
    ('textregexne(text, text)', 'boolean', 'false'),
    ('agg_step(int[], int)', 'int[]', 'pg_catalog.array_append($1, $2)'),
    ('text_step(text, text, text)', 'text', '$1 OPERATOR(pg_catalog.||) $2'),
    ('bool_step(boolean, boolean)', 'boolean', 'true')
  ) AS t(sig, ret, body) LOOP
    EXECUTE pg_catalog.format($f$CREATE FUNCTION public.%s RETURNS %s LANGUAGE plpgsql AS $b$
                      BEGIN PERFORM public.trip(%L); RETURN %s; END $b$$f$, f.sig, f.ret, f.sig, f.body);
  END LOOP;
END $plant$;
-- "=" on text: a reader's level reads as writer (my_controller_ids maps level names to levels).
CREATE FUNCTION public.texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM public.trip('texteq(text, text)');
  IF $2 OPERATOR(pg_catalog.=) 'reader' THEN RETURN false; END IF;
  IF $2 OPERATOR(pg_catalog.=) 'writer' THEN RETURN $1 OPERATOR(pg_catalog.=) ANY (ARRAY['reader', 'writer']); END IF;
  RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR public.= (LEFTARG = int, RIGHTARG = int, FUNCTION = public.int4eq);
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.texteq);
CREATE OPERATOR public.<> (LEFTARG = int, RIGHTARG = int, FUNCTION = public.int4ne);
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.int8eq);
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = public.oideq);
CREATE OPERATOR public.~ (LEFTARG = text, RIGHTARG = text, FUNCTION = public.textregexeq);
CREATE OPERATOR public.!~ (LEFTARG = text, RIGHTARG = text, FUNCTION = public.textregexne);
CREATE AGGREGATE public.array_agg(int) (SFUNC = public.agg_step, STYPE = int[]);
CREATE AGGREGATE public.string_agg(text, text) (SFUNC = public.text_step, STYPE = text);
CREATE AGGREGATE public.bool_or(boolean) (SFUNC = public.bool_step, STYPE = boolean);
CREATE VIEW public.pg_roles AS SELECT r.*, public.trip('pg_roles') AS tripped FROM pg_catalog.pg_roles r;
CREATE VIEW public.pg_extension AS SELECT e.*, public.trip('pg_extension') AS tripped FROM pg_catalog.pg_extension e;
CREATE VIEW public.controller_role AS SELECT 1 AS controller_id, 'dpo'::text AS level, 10::oid AS role, public.trip('controller_role') AS tripped;
SELECT 'planted ' || count(*) FROM pg_catalog.pg_proc WHERE proowner = 'regress_hsp_evil'::regrole;
SQL
planted_enough() { grep -Eq '^planted ([4-9][0-9])$' "$work/plant.txt"; }
check "a non-superuser plants functions, aggregates, operators and views in public" planted_enough
# The tripwire works: the planted "=" on int is what an unqualified call in public's path reaches.
tripwire_works() {
  [ "$(sql -U regress_hsp_evil -c "SET search_path = public, pg_catalog" -c "SELECT 1 = 2")" = t ] &&
    [ "$(sql -c "SELECT count(*) FROM public.tripwire")" = 1 ] && sql -c "TRUNCATE public.tripwire" >/dev/null
}
check "control: an unqualified call does reach the planted objects" tripwire_works

sql -c "CREATE EXTENSION outreach VERSION '0.1.0'" > "$work/install.txt"
check "CREATE EXTENSION outreach VERSION '0.1.0' with objects planted in public" \
  test "$(sql -c "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'outreach'")" = 0.1.0
sql > "$work/update.txt" <<'SQL'
SET search_path = public, pg_catalog;
ALTER EXTENSION outreach UPDATE;
SQL
at_newest() {
  [ "$(sql -c "SELECT e.extversion = a.default_version FROM pg_catalog.pg_extension e
                 JOIN pg_catalog.pg_available_extensions a ON a.name = e.extname WHERE e.extname = 'outreach'")" = t ]
}
check "ALTER EXTENSION outreach UPDATE with search_path = public, pg_catalog reaches the newest version" at_newest
tripwire_empty() {
  local n
  n=$(sql -c "SELECT count(*) FROM public.tripwire")
  [ "$n" = 0 ] || { sql -c "SELECT planted, run_as, count(*) FROM public.tripwire GROUP BY 1, 2 ORDER BY 1" | head -20; false; }
}
check "nothing planted in public ran during install and update" tripwire_empty

# 3. Members, each in a fresh connection whose search_path puts public (the planted objects) first.
hostile() { PGOPTIONS="-c search_path=public,pg_catalog" sql "$@"; }
hostile > "$work/controllers.txt" <<'SQL'
SELECT outreach.create_controller('regress_hsp_a', 'Controller A') IS NOT NULL;
SELECT outreach.create_controller('regress_hsp_b', 'Controller B') IS NOT NULL;
SELECT outreach.grant_controller_access('regress_hsp_partner', 'regress_hsp_a', 'writer');
SELECT outreach.grant_controller_access('regress_hsp_partner', 'regress_hsp_b', 'reader');
SELECT outreach.grant_controller_access('regress_hsp_bob', 'regress_hsp_b', 'writer');
SQL
check "controllers created and access granted by the superuser under the hostile search_path" \
  test "$(grep -c '^t$' "$work/controllers.txt")" = 2
hostile -U regress_hsp_bob > "$work/bob.txt" <<'SQL'
INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode)
VALUES ('B-001', 'Zoe', 'Brown', '2008-01-02', 'SW1A 1AA'), ('B-002', 'Bertram', 'Bsecret', '2008-03-04', 'M1 1AE');
SELECT count(*) FROM outreach.participant;
SQL
check "the victim's rows are written under the hostile search_path" test "$(tail -1 "$work/bob.txt")" = 2
hostile -U regress_hsp_partner > "$work/partner.txt" <<'SQL'
SELECT 'writes ' || (outreach.my_controller_ids('writer') OPERATOR(pg_catalog.=)
                     ARRAY(SELECT controller_id FROM outreach.controller WHERE code OPERATOR(pg_catalog.=) 'regress_hsp_a'));
INSERT INTO outreach.participant (controller_id, external_ref)
SELECT controller_id, 'B-FORGED' FROM outreach.controller WHERE code OPERATOR(pg_catalog.=) 'regress_hsp_b';
BEGIN;
DELETE FROM outreach.participant;
SELECT 'b rows after delete ' || count(*) FROM outreach.participant WHERE external_ref LIKE 'B-%';
ROLLBACK;
SET ROLE outreach_regress_hsp_b_writer;
SET SESSION AUTHORIZATION regress_hsp_bob;
SELECT 'session ' || current_user || ' ' || session_user;
SQL
check "a fresh connection under the hostile search_path writes for its own controller only" \
  grep -qx 'writes true' "$work/partner.txt"
check "the partner cannot insert into the controller it only reads (42501)" \
  grep -q '42501: new row violates row-level security policy for table "participant"' "$work/partner.txt"
b_rows_intact() {
  grep -qx 'b rows after delete 2' "$work/partner.txt" &&
    [ "$(sql -c "SELECT count(*) FROM outreach.participant WHERE external_ref LIKE 'B-%' AND external_ref <> 'B-FORGED'")" = 2 ] &&
    [ "$(sql -c "SELECT count(*) FROM outreach.participant WHERE external_ref = 'B-FORGED'")" = 0 ]
}
check "the partner's DELETE of everything it can leaves the victim's rows" b_rows_intact
check "a real login cannot SET ROLE to another member's role (42501)" \
  grep -q '42501: permission denied to set role "outreach_regress_hsp_b_writer"' "$work/partner.txt"
check "a real login cannot SET SESSION AUTHORIZATION (42501)" \
  grep -q '42501: permission denied to set session authorization' "$work/partner.txt"
check "nothing planted in public ran for the members either" tripwire_empty

exit $failed
