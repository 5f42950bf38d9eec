#!/usr/bin/env bash
# Reads on the record through pgaudit (Debian: postgresql-15-pgaudit, installed by
# scripts/install-deps), with the settings docs/pgaudit.md gives: a member's reader reading
# participants, a DPO reading special categories and a writer's insert each appear in the
# server log with the role, and no key of the key file, nor any 64-hex-digit string, ever
# does. Its own throwaway cluster (port 55468, or PGAUDIT_TEST_PORT), so the suites' cluster
# keeps its settings. Prints one "ok"/"FAILED" line per check; exits non-zero when one fails.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/lib/common.sh"
source "$HERE/../../scripts/lib/cluster.sh"
OUTREACH_RUN_ROOT="$OUTREACH_RUN_ROOT/pgaudit"
mkdir -p "$OUTREACH_RUN_ROOT"
failed=0
ok() { echo "ok pgaudit: $*"; }
fail() { echo "FAILED pgaudit: $*"; failed=1; }

if [ ! -f "$($PG_CONFIG --pkglibdir)/pgaudit.so" ]; then
  fail "pgaudit is not installed ($($PG_CONFIG --pkglibdir)/pgaudit.so): scripts/install-deps installs postgresql-15-pgaudit"
  exit 1
fi
cluster_start pgaudit "${PGAUDIT_TEST_PORT:-55468}" || { fail "starting the cluster"; exit 1; }
trap cluster_stop EXIT
# The settings of docs/pgaudit.md.
cat >>"$CLUSTER_DIR/data/postgresql.conf" <<'CONF'
shared_preload_libraries = 'outreach,pgaudit'
pgaudit.log = 'read, write, role, ddl'
pgaudit.log_relation = on
pgaudit.log_parameter = off
pgaudit.log_catalog = off
CONF
as_owner "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/log/postgresql.log" -w -t 60 restart >/dev/null ||
  { fail "restart with pgaudit"; exit 1; }
log="$CLUSTER_DIR/log/postgresql.log"

psql -X -q -v ON_ERROR_STOP=1 -d postgres >"$CLUSTER_DIR/work/setup.out" 2>&1 <<'SQL' || { fail "set-up: $(tail -3 "$CLUSTER_DIR/work/setup.out")"; exit 1; }
CREATE EXTENSION pgaudit;
CREATE EXTENSION outreach;
SELECT outreach.create_controller('pga_a', 'Audit A');
CREATE ROLE pga_writer LOGIN;
CREATE ROLE pga_reader LOGIN;
CREATE ROLE pga_dpo LOGIN;
SELECT outreach.grant_controller_access('pga_writer', 'pga_a', 'writer'),
       outreach.grant_controller_access('pga_reader', 'pga_a', 'reader'),
       outreach.grant_controller_access('pga_dpo', 'pga_a', 'dpo');
SQL
mark=$(($(wc -c <"$log") + 1))
psql -X -q -v ON_ERROR_STOP=1 -U pga_writer -d postgres -c \
  "INSERT INTO outreach.participant (external_ref, first_name, last_name, date_of_birth, postcode, religion)
   VALUES ('PGA-1', 'Ada', 'Lovelace', '2008-12-10', 'SW1A 1AA', 'a-religion')" >/dev/null 2>&1 || fail "the writer's insert"
psql -X -q -v ON_ERROR_STOP=1 -U pga_reader -d postgres -c "SELECT first_name, date_of_birth FROM outreach.participant" \
  >/dev/null 2>&1 || fail "the reader's select"
psql -X -q -v ON_ERROR_STOP=1 -U pga_dpo -d postgres -c "SELECT religion FROM outreach.participant" >/dev/null 2>&1 ||
  fail "the DPO's special-category read"
psql -X -q -d postgres -c "SELECT 1" >/dev/null   # flushes nothing, but gives the log a moment
new=$(tail -c +"$mark" "$log")

grep -qE 'pga_writer@postgres .*AUDIT: SESSION,[0-9]+,[0-9]+,WRITE,INSERT,TABLE,outreach\.participant,' <<<"$new" &&
  ok "a writer's insert of a participant is logged with the role" || fail "no WRITE line for pga_writer's insert"
grep -qE 'pga_reader@postgres .*AUDIT: SESSION,[0-9]+,[0-9]+,READ,SELECT,TABLE,outreach\.participant,' <<<"$new" &&
  ok "a member's reader's read of participants is logged with the role" || fail "no READ line for pga_reader"
grep -qE 'pga_dpo@postgres .*AUDIT: SESSION,[0-9]+,[0-9]+,READ,SELECT,TABLE,outreach\.participant,.*religion' <<<"$new" &&
  ok "the DPO's read of a special-category column is logged with the statement" || fail "no READ line for pga_dpo"
leaked=0
while read -r _ _ key; do
  [ -n "$key" ] && grep -qi -- "$key" "$log" && leaked=1
done < <(grep -v '^#' "$CLUSTER_DIR/keys/outreach.keys")
[ "$leaked" = 0 ] && ok "no pseudonym key of the key file in the log (the insert computed a keyed pseudonym)" ||
  fail "a key of the key file is in the log"
! grep -Eqi '[0-9a-f]{64}' "$log" && ok "no 64-hex-digit string in the log" || fail "a 64-hex-digit string is in the log"
exit $failed
