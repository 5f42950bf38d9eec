#!/usr/bin/env bash
# Real client drivers against the extension's member isolation. In a fresh database
# outreach_clients it makes two controllers (clients_a, clients_b), a LOGIN writer for each
# (clients_alice, clients_bob) and a few participants per controller, inserted by each member
# itself through psql so row-level security applies. Then each member connects through
#   psql                 psql_checks.sql           (Unix socket)
#   psycopg2 (libpq)     psycopg2_checks.py        (TCP 127.0.0.1, Debian's /usr/bin/python3)
#   node-postgres        node/checks.js            (TCP 127.0.0.1, pg from node/package-lock.json)
#   JDBC (PgJDBC)        jdbc/ClientChecks.java    (TCP 127.0.0.1, /usr/share/java/postgresql.jar)
# and checks, in its own session: it is that member; it sees exactly its own controller's
# participants (count and names); it may insert for its own controller (rolled back); inserting
# with the other controller's controller_id fails with SQLSTATE 42501; selecting the
# special-category column ethnicity fails with 42501. Then two BI logins (one in outreach_bi, one
# analyst of clients_a) run bi_checks.py through psycopg2: from the catalog, everything they can
# read or call is a disclosure-controlled aggregate or reference data, every per-person path is
# refused with 42501, and the counts they see are rounded.
# Prints one "ok clients: ..." or "FAILED clients: ..." line per check and exits non-zero when
# any failed. Finally drops the database and every role it created (also the controllers'
# outreach_clients_*_reader/_writer/_dpo/_analyst and, when this run created them, the
# extension's global outreach_* roles).
# Needs a running cluster with trust authentication on its socket and on 127.0.0.1: PGHOST,
# PGPORT and PGUSER (a superuser) as scripts/lib/cluster.sh exports them.
set -uo pipefail
: "${PGPORT:?run against the test cluster (source scripts/lib/cluster.sh; cluster_start NAME PORT)}"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DB=outreach_clients
PYTHON=${CLIENTS_PYTHON:-/usr/bin/python3}   # the interpreter Debian's python3-psycopg2 serves
JDBC_JAR=${JDBC_JAR:-/usr/share/java/postgresql.jar}
CHECKS_PER_CLIENT=5
# member, its controller, the other controller
MEMBERS=("clients_alice clients_a clients_b" "clients_bob clients_b clients_a")
LEFTOVER_ROLES="clients_alice, clients_bob, clients_bi, clients_analyst,
  outreach_clients_a_reader, outreach_clients_a_writer, outreach_clients_a_dpo, outreach_clients_a_analyst,
  outreach_clients_b_reader, outreach_clients_b_writer, outreach_clients_b_dpo, outreach_clients_b_analyst"

# Participants each member registers: external_ref|first_name|last_name|date_of_birth|postcode|ethnicity.
# Different counts per controller, and non-ASCII names, which every driver must bring back intact.
participants_of() {
  case $1 in
    clients_alice) cat <<'ROWS' ;;
A-001|Ada|Lovelace|2008-12-10|SW1A 1AA|White - English
A-002|Grace|Hopper|2007-12-09|EC1A 1BB|Any other White background
A-003|Zoë|Ng|2008-03-14|M1 1AE|Chinese
ROWS
    clients_bob) cat <<'ROWS' ;;
B-001|Edsger|Dijkstra|2007-05-11|B33 8TH|Any other White background
B-002|Siân|Jones|2008-01-20|CR2 6XH|White - Welsh
ROWS
  esac
}

admin() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }   # as PGUSER, the superuser
work=$(mktemp -d "${TMPDIR:-/tmp}/outreach-clients.XXXXXX")
failed=0
say_failed() { echo "FAILED clients: $*"; failed=1; }
show_log() { [ -s "$1" ] && tail -n 20 "$1" | sed 's/^/  | /'; return 0; }

# --- cleanup: the database, then the roles that were not there before this run --------------
cleaned=0
# shellcheck disable=SC2317  # cleanup and on_exit run from the EXIT trap
cleanup() {
  [ "$cleaned" = 1 ] && return 0
  cleaned=1
  local ok=1 new
  admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >>"$work/cleanup.log" 2>&1 || ok=0
  if [ -f "$work/roles.before" ]; then
    admin -At -c "SELECT rolname FROM pg_roles WHERE rolname ~ '^(outreach|clients)_' ORDER BY 1" >"$work/roles.after" 2>>"$work/cleanup.log"
    new=$(comm -13 "$work/roles.before" "$work/roles.after" | sed 's/.*/"&"/' | paste -sd, -)
    [ -n "$new" ] && { admin -c "DROP ROLE $new" >>"$work/cleanup.log" 2>&1 || ok=0; }
    admin -At -c "SELECT rolname FROM pg_roles WHERE rolname ~ '^(outreach|clients)_' ORDER BY 1" >"$work/roles.final" 2>>"$work/cleanup.log"
    cmp -s "$work/roles.before" "$work/roles.final" || ok=0
  fi
  [ "$(admin -At -c "SELECT count(*) FROM pg_database WHERE datname = '$DB'")" = 0 ] || ok=0
  if [ "$ok" = 1 ]; then echo "ok clients: cleanup drops $DB and the roles this run created"
  else say_failed "cleanup drops $DB and the roles this run created"; show_log "$work/cleanup.log"; fi
}
# shellcheck disable=SC2317
on_exit() {
  local rc=$?
  cleanup
  rm -rf "$work"
  [ "$failed" = 0 ] || rc=1
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# --- 1. database, extension, controllers, members, participants ------------------------------
setup() {
  # what an interrupted earlier run may have left
  admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP ROLE IF EXISTS $LEFTOVER_ROLES" || return 1
  admin -At -c "SELECT rolname FROM pg_roles WHERE rolname ~ '^(outreach|clients)_' ORDER BY 1" >"$work/roles.before" || return 1
  admin -c "CREATE DATABASE $DB" || return 1
  psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL' || return 1
CREATE EXTENSION outreach;
SELECT outreach.create_controller('clients_a', 'Clients test controller A');
SELECT outreach.create_controller('clients_b', 'Clients test controller B');
CREATE ROLE clients_alice LOGIN;
CREATE ROLE clients_bob LOGIN;
SELECT outreach.grant_controller_access('clients_alice', 'clients_a', 'writer');
SELECT outreach.grant_controller_access('clients_bob', 'clients_b', 'writer');
SQL
  local m member
  for m in "${MEMBERS[@]}"; do
    read -r member _ _ <<<"$m"
    participants_of "$member" | cut -d'|' -f2,3 | tr '|' ' ' >"$work/$member.names"
    # as the member itself: controller_id comes from the column default, RLS checks the rows
    participants_of "$member" | awk -F'|' '
      BEGIN { print "INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, ethnicity) VALUES" }
      { printf "%s  (\x27%s\x27, \x27%s\x27, \x27%s\x27, \x27%s\x27, \x27%s\x27, \x27%s\x27)", (NR > 1 ? ",\n" : ""), $1, $2, $3, $4, $5, $6 }
      END { print ";" }' |
      psql -X -q -v ON_ERROR_STOP=1 -U "$member" -d "$DB" || return 1
  done
  # An activity each member's participants attended, and the BI tools: the service's (a login
  # in outreach_bi) and member A's analyst.
  psql -X -q -v ON_ERROR_STOP=1 -d "$DB" <<'SQL' || return 1
INSERT INTO outreach.activity (controller_id, activity_type, name, starts_on)
SELECT controller_id, 'campus_visit', 'Open day', date '2025-10-01' FROM outreach.controller;
INSERT INTO outreach.attendance (controller_id, participant_id, activity_id, attended_on)
SELECT p.controller_id, p.participant_id, a.activity_id, date '2025-10-01'
FROM outreach.participant p JOIN outreach.activity a USING (controller_id);
CREATE ROLE clients_bi LOGIN IN ROLE outreach_bi;
CREATE ROLE clients_analyst LOGIN;
SELECT outreach.grant_controller_access('clients_analyst', 'clients_a', 'analyst');
SQL
}
if setup >"$work/setup.log" 2>&1; then
  echo "ok clients: setup (database, extension, 2 controllers, 2 members, participants inserted by each member)"
else
  say_failed "setup (database, extension, 2 controllers, 2 members, participants inserted by each member)"
  show_log "$work/setup.log"
  exit 1
fi

# --- 2. each driver, each member ---------------------------------------------------------------
run_client() {  # run_client DRIVER MEMBER OWN_CODE OTHER_CODE COMMAND...
  local driver=$1 member=$2 own=$3 other=$4 rc n
  shift 4
  local out="$work/$driver-$member.out" log="$work/$driver-$member.log"
  CLIENT_MEMBER=$member CLIENT_OWN_CODE=$own CLIENT_OTHER_CODE=$other CLIENT_DB=$DB \
    CLIENT_NAMES_FILE="$work/$member.names" timeout 60 "$@" >"$out" 2>"$log"
  rc=$?
  cat "$out"
  grep -q '^FAILED' "$out" && failed=1
  n=$(grep -cE '^(ok|FAILED) clients: ' "$out")
  if [ "$n" != "$CHECKS_PER_CLIENT" ] || { [ "$rc" != 0 ] && ! grep -q '^FAILED' "$out"; }; then
    say_failed "$driver $member: runs all $CHECKS_PER_CLIENT checks -- printed $n, exit code $rc"
    show_log "$log"
  elif grep -q '^FAILED' "$out"; then
    show_log "$log"
  fi
}

for_each_member() {  # for_each_member DRIVER COMMAND... (the command reads CLIENT_* from the environment)
  local m member own other
  for m in "${MEMBERS[@]}"; do
    read -r member own other <<<"$m"
    run_client "$1" "$member" "$own" "$other" "${@:2}"
  done
}

# psql, as the member, over the cluster's socket (the other drivers use TCP)
transport="unix socket"; case ${PGHOST:-} in /*|'') ;; *) transport=tcp ;; esac
for m in "${MEMBERS[@]}"; do
  read -r member own other <<<"$m"
  run_client psql "$member" "$own" "$other" \
    psql -X -q -U "$member" -d "$DB" -v driver=psql -v member="$member" -v own_code="$own" \
      -v other_code="$other" -v names_file="$work/$member.names" -v transport="$transport" \
      -f "$HERE/psql_checks.sql"
done

# psycopg2
if "$PYTHON" -c 'import psycopg2' >"$work/psycopg2-import.log" 2>&1; then
  for_each_member psycopg2 "$PYTHON" "$HERE/psycopg2_checks.py"
else
  say_failed "psycopg2: $PYTHON imports psycopg2 (Debian package python3-psycopg2)"; show_log "$work/psycopg2-import.log"
fi

# psycopg2 as BI tools: the service's (every member's aggregates) and member A's analyst
if "$PYTHON" -c 'import psycopg2' 2>/dev/null; then
  BI_LOGIN=clients_bi BI_KIND=bi BI_CODES="clients_a clients_b" CLIENT_DB=$DB \
    timeout 60 "$PYTHON" "$HERE/bi_checks.py" 2>"$work/bi.log" || { failed=1; show_log "$work/bi.log"; }
  BI_LOGIN=clients_analyst BI_KIND=analyst BI_OWN_CODE=clients_a BI_CODES="clients_a clients_b" CLIENT_DB=$DB \
    timeout 60 "$PYTHON" "$HERE/bi_checks.py" 2>"$work/analyst.log" || { failed=1; show_log "$work/analyst.log"; }
fi

# node-postgres, installed exactly as the committed lock file says
if (cd "$HERE/node" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error
                       else npm install --no-audit --no-fund --loglevel=error; fi) >"$work/npm.log" 2>&1; then
  for_each_member node-postgres node "$HERE/node/checks.js"
else
  say_failed "node-postgres: npm ci in tests/clients/node"; show_log "$work/npm.log"
fi

# JDBC, compiled into the scratch directory
if [ ! -f "$JDBC_JAR" ]; then
  say_failed "jdbc: $JDBC_JAR exists (Debian package libpostgresql-jdbc-java)"
elif javac -d "$work/jdbc" -cp "$JDBC_JAR" "$HERE/jdbc/ClientChecks.java" >"$work/javac.log" 2>&1; then
  for_each_member jdbc java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$work/jdbc:$JDBC_JAR" ClientChecks
else
  say_failed "jdbc: javac compiles ClientChecks.java against $JDBC_JAR"; show_log "$work/javac.log"
fi

exit "$failed"
